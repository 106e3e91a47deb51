#!/usr/bin/python3
"""Manager.GetMetrics: the text parses as Prometheus text (prometheus_client's
parser), its figures move when an instance works (CPU seconds after a busy
loop, memory after writing a file into the instance's tmpfs-backed rootfs,
tasks with a sleeping process, lo's bytes after a ping), a stopped instance
has its state only, an unprivileged user reads it without polkit, an
idmapped instance has its figures, a hostile interface name comes out
escaped, and `lxcbusctl metrics` prints the same text."""

import os
import time

from prometheus_client.parser import text_string_to_metric_families

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
on_exit(T.cleanup)
USER = 'lxmetrics'
st = {}


def metrics_text():
    return call(MANAGER_PATH, MANAGER_IFACE, 'GetMetrics')


def parse(text):
    """{(sample name, frozenset of labels): value}, and the family types; the parser fails on bad text."""
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, 'duplicate sample %s' % (key,)
            samples[key] = s.value
    return samples, types


def figure(samples, metric, name, **labels):
    return samples.get((metric, frozenset(dict(labels, name=name).items())))


def of_instance(samples, name):
    return {k: v for k, v in samples.items() if ('name', name) in k[1]}


def start(name):
    call(instance_path(name), INSTANCE_IFACE, 'Start', opts(), timeout=120)


def new_running(prefix, config=None):
    name = unique_name(prefix)
    T.add(name)
    create_instance(name, config=config)
    start(name)
    return name


@test
def parses_and_names_every_family():
    st['a'] = new_running('met')
    st['b'] = unique_name('metst')
    T.add(st['b'])
    create_instance(st['b'])
    text = metrics_text()
    assert text.endswith('\n'), text[-200:]
    samples, types = parse(text)
    assert 'metrics' in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Features')
    for fam, typ in (('lxcbus_instance_state', 'gauge'), ('lxcbus_instances', 'gauge'),
                     ('lxcbus_operations', 'gauge'), ('lxcbus_memory_usage_bytes', 'gauge'),
                     ('lxcbus_memory_limit_bytes', 'gauge'), ('lxcbus_memory_swap_bytes', 'gauge'),
                     ('lxcbus_tasks', 'gauge'), ('lxcbus_cpu_usage_seconds', 'counter'),
                     ('lxcbus_cpu_seconds', 'counter'), ('lxcbus_network_receive_bytes', 'counter'),
                     ('lxcbus_network_transmit_bytes', 'counter')):
        assert types.get(fam) == typ, (fam, types.get(fam))
    a = st['a']
    assert figure(samples, 'lxcbus_instance_state', a, state='running') == 1
    assert figure(samples, 'lxcbus_memory_usage_bytes', a) > 0
    assert figure(samples, 'lxcbus_tasks', a) >= 1
    assert figure(samples, 'lxcbus_cpu_usage_seconds_total', a) > 0
    assert figure(samples, 'lxcbus_cpu_seconds_total', a, mode='user') is not None
    assert figure(samples, 'lxcbus_network_receive_bytes_total', a, device='lo') is not None
    # every state is counted, and the counts add up to the instances listed
    listed = call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
    counts = {dict(k[1])['state']: v for k, v in samples.items() if k[0] == 'lxcbus_instances'}
    assert set(counts) == {'stopped', 'starting', 'running', 'stopping', 'frozen', 'error'}, counts
    assert sum(counts.values()) == len(listed), (counts, len(listed))
    assert samples[('lxcbus_operations', frozenset({'status': 'running'}.items()))] >= 0


@test
def stopped_instance_has_its_state_only():
    samples, _ = parse(metrics_text())
    mine = of_instance(samples, st['b'])
    assert mine == {('lxcbus_instance_state', frozenset({'name': st['b'], 'state': 'stopped'}.items())): 1}, mine


@test
def cpu_seconds_grow_after_a_busy_loop():
    a = st['a']
    before = figure(parse(metrics_text())[0], 'lxcbus_cpu_usage_seconds_total', a)
    user0 = figure(parse(metrics_text())[0], 'lxcbus_cpu_seconds_total', a, mode='user')
    sh(a, 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done')
    samples, _ = parse(metrics_text())
    after = figure(samples, 'lxcbus_cpu_usage_seconds_total', a)
    user1 = figure(samples, 'lxcbus_cpu_seconds_total', a, mode='user')
    print('# cpu seconds %.3f -> %.3f (user %.2f -> %.2f)' % (before, after, user0, user1))
    assert after - before > 0.1, (before, after)
    assert user1 > user0, (user0, user1)


@test
def memory_grows_after_writing_into_the_instance():
    a = st['a']
    before = figure(parse(metrics_text())[0], 'lxcbus_memory_usage_bytes', a)
    # The rootfs lies on the test host's tmpfs: the file's pages are charged to the instance's cgroup.
    sh(a, 'dd if=/dev/zero of=/metrics-big bs=1M count=48 2>/dev/null')
    try:
        after = figure(parse(metrics_text())[0], 'lxcbus_memory_usage_bytes', a)
        print('# memory %d -> %d bytes' % (before, after))
        assert after - before > 32 * 1024 * 1024, (before, after)
    finally:
        sh(a, 'rm -f /metrics-big')


@test
def tasks_count_a_sleeping_process():
    a = st['a']
    before = figure(parse(metrics_text())[0], 'lxcbus_tasks', a)
    proc = exec_start(a, ['sleep', '60'])
    try:
        wait_for(lambda: figure(parse(metrics_text())[0], 'lxcbus_tasks', a) >= before + 1, 10,
                 'tasks counting the sleep')
    finally:
        call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,)))
        call(proc, PROCESS_IFACE, 'Wait')
    wait_for(lambda: figure(parse(metrics_text())[0], 'lxcbus_tasks', a) == before, 10, 'the sleep gone')


@test
def network_bytes_of_the_instance_namespace():
    a = st['a']
    rx0 = figure(parse(metrics_text())[0], 'lxcbus_network_receive_bytes_total', a, device='lo')
    sh(a, 'ip link set lo up; ping -c 3 -i 0.2 -s 1000 127.0.0.1 >/dev/null')
    samples, _ = parse(metrics_text())
    rx1 = figure(samples, 'lxcbus_network_receive_bytes_total', a, device='lo')
    tx1 = figure(samples, 'lxcbus_network_transmit_bytes_total', a, device='lo')
    print('# lo rx %d -> %d bytes' % (rx0, rx1))
    assert rx1 - rx0 >= 3000, (rx0, rx1)
    assert tx1 == rx1, (rx1, tx1)
    # The interfaces are those the instance sees, not the host's.
    inside = {l.split(':')[0].strip() for l in sh(a, 'cat /proc/net/dev').splitlines()[2:]}
    mine = {dict(k[1])['device'] for k in of_instance(samples, a) if k[0] == 'lxcbus_network_receive_bytes_total'}
    assert mine == inside, (mine, inside)


# An interface name may hold any byte but '/', ':', '%', blanks, control characters and NUL, and the
# instance's root chooses it: '"' and '\' are escaped as the format says, a byte outside ASCII is written
# %XX (the text stays UTF-8).
HOSTILE = os.fsdecode(b'q"\\\xff')


def in_netns(name, *argv):
    pid = instance_prop(name, 'Pid')
    rc, out, err = run('nsenter', '--net=/proc/%d/ns/net' % pid, *argv)
    assert rc == 0, (argv, err)


@test
def a_hostile_interface_name_comes_out_escaped():
    a = st['a']
    in_netns(a, 'ip', 'link', 'add', 'name', HOSTILE, 'type', 'ifb')
    try:
        text = metrics_text()
        assert 'device="q\\"\\\\%FF"' in text, [l for l in text.splitlines() if 'device=' in l]
        samples, _ = parse(text)
        devs = {dict(k[1])['device'] for k in of_instance(samples, a) if k[0] == 'lxcbus_network_receive_bytes_total'}
        assert 'q"\\%FF' in devs, devs
        # The same name, encoded the same way, as GetState gives it: one reader for both (netinfo.c).
        assert 'q"\\%FF' in instance_call(a, 'GetState')['network'], instance_call(a, 'GetState')['network']
    finally:
        in_netns(a, 'ip', 'link', 'del', HOSTILE)


@test
def interfaces_are_bounded():
    a = st['a']
    names = ['m%02d' % k for k in range(40)]
    for n in names:
        in_netns(a, 'ip', 'link', 'add', 'name', n, 'type', 'ifb')
    try:
        samples, _ = parse(metrics_text())
        devs = [k for k in of_instance(samples, a) if k[0] == 'lxcbus_network_receive_bytes_total']
        assert len(devs) == 32, len(devs)
    finally:
        for n in names:
            in_netns(a, 'ip', 'link', 'del', n)


@test
def limit_is_given_where_set():
    a = st['a']
    assert figure(parse(metrics_text())[0], 'lxcbus_memory_limit_bytes', a) is None
    set_config(a, {'limits.memory': '256M'})
    # systemd applies the scope's MemoryMax= after SetConfig has answered.
    try:
        wait_for(lambda: figure(parse(metrics_text())[0], 'lxcbus_memory_limit_bytes', a) == 256 * 1024 * 1024,
                 10, 'the limit in the metrics')
    finally:
        set_config(a, unset=['limits.memory'])
    wait_for(lambda: figure(parse(metrics_text())[0], 'lxcbus_memory_limit_bytes', a) is None, 10,
             'no limit in the metrics')


@test
def idmapped_instance_has_its_figures():
    ensure_subids()
    on_exit(restore_subids)
    name = new_running('metidm', {'security.privileged': 'false'})
    samples, _ = parse(metrics_text())
    assert figure(samples, 'lxcbus_instance_state', name, state='running') == 1
    assert figure(samples, 'lxcbus_tasks', name) >= 1
    assert figure(samples, 'lxcbus_memory_usage_bytes', name) > 0
    assert figure(samples, 'lxcbus_network_receive_bytes_total', name, device='lo') is not None
    before = figure(samples, 'lxcbus_cpu_usage_seconds_total', name)
    sh(name, 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done')
    assert figure(parse(metrics_text())[0], 'lxcbus_cpu_usage_seconds_total', name) > before
    stop_instance(name)
    mine = of_instance(parse(metrics_text())[0], name)
    assert list(mine) == [('lxcbus_instance_state', frozenset({'name': name, 'state': 'stopped'}.items()))], mine


@test
def unprivileged_user_reads_without_polkit():
    add_user(USER)
    rc, out, err = run_as_user(USER, 'lxcbusctl', '--no-ask-password', 'metrics')
    assert rc == 0, err
    samples, _ = parse(out)
    assert figure(samples, 'lxcbus_instance_state', st['a'], state='running') == 1
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'GetMetrics')
    assert rc == 0 and out.startswith('s "'), (rc, out[:200], err)


@test
def lxcbusctl_metrics_prints_the_text():
    rc, out, err = run('lxcbusctl', 'metrics')
    assert rc == 0, err
    a, _ = parse(out)
    b, _ = parse(metrics_text())
    assert {k for k in a if k[0] == 'lxcbus_instance_state'} == {k for k in b if k[0] == 'lxcbus_instance_state'}
    rc, out, err = run('lxcbusctl', 'metrics', 'extra')
    assert rc == 2, (rc, out, err)


@test
def cost_of_a_call():
    # A figure, not an assertion: bench/metrics.py measures it with 50 running instances.
    n = 20
    t0 = time.monotonic()
    for _ in range(n):
        metrics_text()
    dt = (time.monotonic() - t0) / n
    running = sum(1 for k, v in parse(metrics_text())[0].items()
                  if k[0] == 'lxcbus_instance_state' and ('state', 'running') in k[1])
    print('# GetMetrics: %.2f ms per call with %d running instances' % (dt * 1000, running))


if __name__ == '__main__':
    main()
