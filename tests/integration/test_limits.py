#!/usr/bin/python3
"""The limits.* keys beyond memory, cpu.weight and tasks (limits.memory.swap, limits.cpu.quota,
limits.cpu.allowed, limits.io.weight): refused values name the key; the scope's properties
(systemctl show) and the kernel's files at start and live through SetConfig; the kernel enforces them
(an allocation past memory + swap is killed, forks past limits.tasks fail, a busy loop stays on the
allowed CPU and gets its quota's CPU time); an io weight without a controller that has one is
NotSupported. Privileged and idmapped instances."""

import os
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
st = {}
SAVED = {}
HYBRID = not os.path.exists('/sys/fs/cgroup/cgroup.controllers')
BLOCK = 65536
SUBID = 'lxcbus:%d:%d\n' % (3000000, 4 * BLOCK)
MiB = 1 << 20


# ---- helpers ------------------------------------------------------------------------------

def wait_props(unit, want, timeout=10):
    last = {}

    def check():
        last.update(unit_props(unit, *want))
        return all(last.get(k) == v for k, v in want.items())
    try:
        wait_for(check, timeout, '%s %s' % (unit, want))
    except TimeoutError:
        raise AssertionError('%s: want %s, have %s' % (unit, want, last)) from None


def read_file(p):
    with open(p) as f:
        return f.read().strip()


def scope_file(controller, name, fname):
    return '/sys/fs/cgroup/%s/machine.slice/%s/%s' % (controller, scope_of(name), fname)


def payload_file(controller, name, fname):
    return '/sys/fs/cgroup/%s/machine.slice/%s/lxc.payload.%s/%s' % (controller, scope_of(name), name, fname)


def wait_file(path, value, timeout=10):
    try:
        wait_for(lambda: read_file(path) == value, timeout, '%s = %s' % (path, value))
    except TimeoutError:
        raise AssertionError('%s is %r, not %r' % (path, read_file(path), value)) from None


def payload_pids(name):
    top = payload_file('systemd', name, '')
    pids = []
    for root, dirs, files in os.walk(top):
        with open(os.path.join(root, 'cgroup.procs')) as f:
            pids += [int(l) for l in f.read().split()]
    return pids


def stat_fields(pid):
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()


def spinners(name, n):
    """Starts n busy loops in the instance (in the background of an exec that returns); their host pids."""
    before = set(payload_pids(name))
    sh(name, ' '.join(['(while :; do :; done) </dev/null >/dev/null 2>&1 &'] * n) + ' true')
    pids = wait_for(lambda: (lambda p: p if len(p) >= n else None)(
        [p for p in set(payload_pids(name)) - before if stat_fields(p)[0] == 'R']), 10, '%d spinners' % n)
    return pids


def kill_pids(pids):
    for p in pids:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass


def cpu_seconds(pids):
    hz = os.sysconf('SC_CLK_TCK')
    total = 0
    for p in pids:
        f = stat_fields(p)
        total += int(f[11]) + int(f[12])   # utime, stime (fields 14 and 15)
    return total / hz


def refused(name, errname, set_, mentions):
    before = instance_prop(name, 'Config')
    expect_error(errname, lambda: set_config(name, set_), mentions=mentions)
    assert instance_prop(name, 'Config') == before


def cpus_online():
    return read_file('/sys/devices/system/cpu/online')


def io_weight_supported():
    if not HYBRID:
        return 'io' in read_file('/sys/fs/cgroup/cgroup.controllers').split()
    return any(os.path.exists('/sys/fs/cgroup/blkio/' + f) for f in ('blkio.bfq.weight', 'blkio.weight'))


# ---- validation ---------------------------------------------------------------------------

@test
def setup():
    st['name'] = T.add(new_instance('lim', config={'network.mode': 'none'}))
    assert cpus_online() == '0-1', 'these tests expect a machine with 2 CPUs, not %s' % cpus_online()


@test
def bad_values_name_the_key():
    name = st['name']
    for k, v in (('limits.memory.swap', '-1'), ('limits.memory.swap', 'lots'),
                 ('limits.cpu.quota', '0'), ('limits.cpu.quota', '100001'), ('limits.cpu.quota', '1.5'),
                 ('limits.cpu.quota', '050'),
                 ('limits.cpu.allowed', ''), ('limits.cpu.allowed', '1-0'), ('limits.cpu.allowed', '0,,1'),
                 ('limits.cpu.allowed', '1024'), ('limits.cpu.allowed', 'all'),
                 ('limits.io.weight', '0'), ('limits.io.weight', '10001'), ('limits.io.weight', 'max')):
        refused(name, 'org.lxcbus1.Error.InvalidConfig', {k: v}, (k,))
    # A CPU this host does not have: the value is fine, the host lacks it.
    err = expect_error('org.lxcbus1.Error.InvalidConfig', lambda: set_config(name, {'limits.cpu.allowed': '0-2'}),
                       mentions=('limits.cpu.allowed',))
    assert 'CPU 2' in err.message, err.message
    # What is valid is stored as given.
    set_config(name, {'limits.cpu.quota': '250%', 'limits.cpu.allowed': '0-1', 'limits.memory.swap': '0',
                      'limits.memory': '64M'})
    set_config(name, unset=['limits.cpu.quota', 'limits.cpu.allowed', 'limits.memory.swap', 'limits.memory'])
    assert instance_prop(name, 'Config') == {'network.mode': 'none'}


@test
def io_weight_where_the_hierarchy_has_one():
    name = st['name']
    if io_weight_supported():
        set_config(name, {'limits.io.weight': '300'})
        set_config(name, unset=['limits.io.weight'])
        return
    # This host (hybrid, no BFQ): NotSupported, naming the key; nothing stored, nothing created.
    refused(name, 'org.lxcbus1.Error.NotSupported', {'limits.io.weight': '300'}, ('limits.io.weight',))
    new = unique_name('lio')
    before = sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'))
    expect_error('org.lxcbus1.Error.NotSupported',
                 lambda: create_instance(T.add(new), 'none', {'limits.io.weight': '100'}),
                 mentions=('limits.io.weight',))
    assert sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')) == before


@test
def swap_needs_memory_on_v1():
    if not HYBRID:
        return
    name = st['name']
    refused(name, 'org.lxcbus1.Error.NotSupported', {'limits.memory.swap': '16M'}, ('limits.memory.swap',))
    refused(name, 'org.lxcbus1.Error.NotSupported', {'limits.memory.swap': '16M', 'limits.memory': 'max'},
            ('limits.memory.swap',))
    # max swap needs nothing
    set_config(name, {'limits.memory.swap': 'max'})
    set_config(name, unset=['limits.memory.swap'])


# ---- at start, and what the kernel does -------------------------------------------------

LIMITS = {'limits.memory': '32M', 'limits.memory.swap': '16M', 'limits.cpu.allowed': '1',
          'limits.cpu.quota': '20', 'limits.tasks': '40'}


def check_started(name):
    unit = scope_of(name)
    wait_props(unit, {'MemoryMax': str(32 * MiB), 'MemorySwapMax': str(16 * MiB), 'AllowedCPUs': '1',
                      'CPUQuotaPerSecUSec': '200ms', 'TasksMax': '40'})
    assert read_file(scope_file('cpu', name, 'cpu.cfs_quota_us')) == '20000'
    assert read_file(scope_file('cpu', name, 'cpu.cfs_period_us')) == '100000'
    if HYBRID:
        # systemd records AllowedCPUs and MemorySwapMax; the payload's own v1 cgroup enforces them.
        assert read_file(payload_file('cpuset', name, 'cpuset.cpus')) == '1'
        assert read_file(payload_file('memory', name, 'memory.limit_in_bytes')) == str(32 * MiB)
        assert read_file(payload_file('memory', name, 'memory.memsw.limit_in_bytes')) == str(48 * MiB)
    out = sh(name, 'grep Cpus_allowed_list /proc/self/status')
    assert out.split() == ['Cpus_allowed_list:', '1'], out


def check_cpu_enforced(name):
    """Two busy loops: every sample finds them on CPU 1, and together they get about 20% of one CPU."""
    pids = spinners(name, 2)
    try:
        t0, c0 = time.monotonic(), cpu_seconds(pids)
        cpus = set()
        while time.monotonic() - t0 < 2.0:
            cpus |= {int(stat_fields(p)[36]) for p in pids}   # field 39: the CPU it last ran on
            time.sleep(0.05)
        used, wall = cpu_seconds(pids) - c0, time.monotonic() - t0
        assert cpus == {1}, cpus
        # 20% of one CPU: 0.4 s in 2 s (a period of slack); unlimited they would take 2 s of CPU 1.
        assert used <= 0.2 * wall + 0.3, (used, wall)
        throttled = dict(l.split() for l in read_file(scope_file('cpu', name, 'cpu.stat')).splitlines())
        assert int(throttled['nr_throttled']) > 0, throttled
    finally:
        kill_pids(pids)


def check_memory_enforced(name):
    """Below memory + swap an allocation lives; past it, the OOM killer ends it."""
    status, sig, out = root_exec(name, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=8M', 'count=1'])
    assert (status, sig) == (0, 0), (status, sig, out)
    status, sig, out = root_exec(name, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=96M', 'count=1'])
    assert sig == 9 or status == 137, (status, sig, out)
    assert instance_prop(name, 'State') == 'running'
    if HYBRID:
        # No swap device here: memory failed first, in the payload or in the scope above it.
        assert int(read_file(payload_file('memory', name, 'memory.failcnt'))) + \
            int(read_file(scope_file('memory', name, 'memory.failcnt'))) > 0


@test
def limits_apply_at_start():
    name = st['name']
    set_config(name, LIMITS)
    start_instance(name)
    check_started(name)


@test
def cpus_and_quota_enforced():
    check_cpu_enforced(st['name'])


@test
def memory_and_swap_enforced():
    check_memory_enforced(st['name'])


@test
def tasks_enforced():
    name = st['name']
    status, sig, out = root_exec(name, ['sh', '-c', 'exec 2>&1; for i in $(seq 80); do '
                                        'sleep 30 </dev/null >/dev/null 2>&1 & done'])
    assert "can't fork" in out, (status, sig, out)   # busybox sh
    assert int(read_file(scope_file('pids', name, 'pids.current'))) <= 40
    # An exec into the instance at its limit fails as an operation, and lxcbusd lives (it asserted a
    # positive errno here once).
    try:
        status, sig, out = root_exec(name, ['true'])
    except BusError as e:
        check_error(e)
    check_daemon_alive()
    sleeps = lambda: [p for p in payload_pids(name) if read_file('/proc/%d/comm' % p) == 'sleep']
    kill_pids(sleeps())
    wait_for(lambda: not sleeps(), 10, 'the sleeps gone')
    set_config(name, unset=['limits.tasks'])
    wait_props(scope_of(name), {'TasksMax': 'infinity'})


@test
def limits_apply_live():
    name = st['name']
    unit = scope_of(name)
    pids = spinners(name, 1)
    try:
        set_config(name, {'limits.cpu.allowed': '0', 'limits.cpu.quota': '150'})
        wait_props(unit, {'AllowedCPUs': '0', 'CPUQuotaPerSecUSec': '1.500000s'})
        wait_file(scope_file('cpu', name, 'cpu.cfs_quota_us'), '150000')
        if HYBRID:
            wait_file(payload_file('cpuset', name, 'cpuset.cpus'), '0')
        # the running process moved with its cgroup
        wait_for(lambda: 'Cpus_allowed_list:\t0\n' in read_file('/proc/%d/status' % pids[0]) + '\n', 10,
                 'spinner on CPU 0')
        set_config(name, unset=['limits.cpu.allowed', 'limits.cpu.quota'])
        wait_props(unit, {'AllowedCPUs': '', 'CPUQuotaPerSecUSec': 'infinity'})
        wait_file(scope_file('cpu', name, 'cpu.cfs_quota_us'), '-1')
        if HYBRID:
            wait_file(payload_file('cpuset', name, 'cpuset.cpus'), '0-1')
        assert 'Cpus_allowed_list:\t0-1' in read_file('/proc/%d/status' % pids[0])
    finally:
        kill_pids(pids)
    # memory and swap: raising, lowering, and lifting swap
    set_config(name, {'limits.memory.swap': '32M'})
    wait_props(unit, {'MemorySwapMax': str(32 * MiB)})
    if HYBRID:
        wait_file(payload_file('memory', name, 'memory.memsw.limit_in_bytes'), str(64 * MiB))
        wait_file(payload_file('memory', name, 'memory.limit_in_bytes'), str(32 * MiB))
    set_config(name, {'limits.memory': '24M', 'limits.memory.swap': '8M'})
    wait_props(unit, {'MemoryMax': str(24 * MiB), 'MemorySwapMax': str(8 * MiB)})
    if HYBRID:
        wait_file(payload_file('memory', name, 'memory.limit_in_bytes'), str(24 * MiB))
        wait_file(payload_file('memory', name, 'memory.memsw.limit_in_bytes'), str(32 * MiB))
        # v1 without limits.memory cannot take a swap limit: refused, nothing changed
        refused(name, 'org.lxcbus1.Error.NotSupported', {'limits.memory': 'max'}, ('limits.memory.swap',))
    set_config(name, unset=['limits.memory.swap'])
    wait_props(unit, {'MemorySwapMax': 'infinity'})
    if HYBRID:
        big = int(read_file(payload_file('memory', name, 'memory.memsw.limit_in_bytes')))
        assert big > 1 << 60, big
    assert instance_prop(name, 'State') == 'running'
    stop_instance(name)


# ---- an idmapped instance ----------------------------------------------------------------

def write_subids(text):
    for path in ('/etc/subuid', '/etc/subgid'):
        keep = [l for l in (save_file(SAVED, path) or '').splitlines(True) if not l.startswith('lxcbus:')]
        with open(path, 'w') as f:
            f.write(''.join(keep) + text)


@test
def idmapped_instance():
    write_subids(SUBID)
    name = T.add(new_instance('limu', config=dict(LIMITS, **{'security.privileged': 'false', 'network.mode': 'none'})))
    assert idmap_base(name) is not None
    start_instance(name)
    check_started(name)
    # the instance's root cannot lift its own limits
    status, sig, out = root_exec(name, ['sh', '-c', 'echo 0-1 > /sys/fs/cgroup/cpuset/cpuset.cpus; '
                                        'grep Cpus_allowed_list /proc/self/status'])
    assert out.split()[-1] == '1', out
    assert read_file(payload_file('cpuset', name, 'cpuset.cpus')) == '1'
    check_cpu_enforced(name)
    check_memory_enforced(name)
    set_config(name, {'limits.cpu.allowed': '0'})
    wait_props(scope_of(name), {'AllowedCPUs': '0'})
    if HYBRID:
        wait_file(payload_file('cpuset', name, 'cpuset.cpus'), '0')
    stop_instance(name)


@on_exit
def cleanup():
    T.cleanup()
    restore_files(SAVED)


if __name__ == '__main__':
    main()
