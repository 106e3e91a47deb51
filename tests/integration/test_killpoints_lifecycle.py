#!/usr/bin/python3
"""Kill points of the lifecycle (issue 15, item 5): lxcbusd gets `kill -9` at points spread over
CreateInstance, Start, Stop, Delete and SetConfig, while 20 other instances run, and systemd starts it
again. Create, Start, Stop and Delete run an operation for a while (a worker, liblxc, the scope): the kill
comes after a graded random delay over the time the operation takes, measured first (as
test_killpoints.py does for copy and export). SetConfig runs in the daemon alone, in a moment: strace kills
the daemon at its Nth system call of the call (test_killpoints.py's rename and delete-snapshot). After
each restart:

- no half instance: every listed instance loads (none is "error"), instances/ holds exactly the listed
  ones, staging/ is emptied, a killed create left either a whole instance or nothing, a killed delete
  either the whole instance or nothing, a killed SetConfig the old config or the new one;
- every instance in its true state: an instance whose LXC monitor runs (found from its cgroup, with
  init as the monitor's child) is listed running with that init as its Pid, and any other is stopped;
- no stray scope: the active lxcbus-*.scope units and the lxcbus-*.scope cgroup directories in every
  hierarchy are exactly those of the running instances;
- no idmap block held: a killed idmapped create's block is free again (the next idmapped create gets it).

And a restart with the 20 running instances relists them all, with their init pids, in <= 2 s.

CI: 40 kill points (8 per kind, more while fewer than 6 of a kind landed inside); LXCBUS_SCALE_FULL=1
(bench/run.sh --scale): 200 (40 per kind)."""

import os
import random
import re
import signal
import time

from lxcbustest import *
from lxcbushelp import *

FULL = os.environ.get('LXCBUS_SCALE_FULL') == '1'
PER_KIND = 40 if FULL else 8
RUNNING = 20
POOL = 4            # instances the points start and stop, beside the 20
T = Tracker()
RNG = random.Random(15)
st = {}
counts = {}


def listed():
    return {n: s for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')}


# ---- the truth, from the kernel, not from the daemon -----------------------------------------------

def monitor_of(name):
    """The LXC monitor of instance name (the process in its scope's lxc.monitor cgroup) and init, its child;
    (0, 0) when none runs."""
    for h in ('systemd', 'unified'):
        p = '/sys/fs/cgroup/%s/machine.slice/%s/lxc.monitor.%s/cgroup.procs' % (h, scope_of(name), name)
        try:
            with open(p) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for mon in pids:
            try:
                with open('/proc/%d/task/%d/children' % (mon, mon)) as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            if kids and pid_alive(kids[0]) and pid_alive(mon):
                return mon, kids[0]
    return 0, 0


def scope_units():
    """The lxcbus-*.scope units systemd has active (or activating, deactivating)."""
    rc, out, err = run('systemctl', 'list-units', '--all', '--plain', '--no-legend', 'lxcbus-*.scope')
    units = set()
    for line in out.splitlines():
        w = line.split()
        if len(w) >= 3 and w[0].endswith('.scope') and w[2] != 'inactive':
            units.add(w[0])
    return units


def scope_dirs():
    """Every lxcbus-*.scope cgroup directory, in any hierarchy: {unit: [paths]}."""
    found = {}
    for h in os.listdir('/sys/fs/cgroup'):
        d = os.path.join('/sys/fs/cgroup', h, 'machine.slice')
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for e in entries:
            if e.startswith('lxcbus-') and e.endswith('.scope'):
                found.setdefault(e, []).append(os.path.join(d, e))
    return found


def mismatch():
    """What differs between the daemon's view and the truth, or None."""
    names = listed()
    for n, s in names.items():
        if s == 'error' and n in T.names:      # another file's broken instance on purpose is not ours
            return '%s is listed as error' % n
    on_disk = sorted(e for e in os.listdir(INSTANCES_DIR) if not e.startswith('.'))
    if on_disk != sorted(names):
        return 'instances/ holds %s, listed %s' % (on_disk, sorted(names))
    running = set()
    for n, s in names.items():
        mon, init = monitor_of(n)
        if init:
            running.add(scope_of(n))
            pid = instance_prop(n, 'Pid')
            if s != 'running' or pid != init:
                return '%s runs with init %d (monitor %d), listed %s with Pid %d' % (n, init, mon, s, pid)
        elif s != 'stopped':
            return '%s has no monitor, listed %s' % (n, s)
    units = scope_units()
    if units != running:
        return 'scopes active %s, instances running %s' % (sorted(units), sorted(running))
    dirs = scope_dirs()
    stray = {u: p for u, p in dirs.items() if u not in running}
    if stray:
        return 'cgroup directories of no running instance: %s' % stray
    if staging_entries():
        return 'staging/ holds %s' % staging_entries()
    return None


def check_truth(what):
    last = [None]

    def agree():
        last[0] = mismatch()
        return last[0] is None
    try:
        wait_for(agree, 30, 'the daemon and the truth to agree', interval=0.1)
    except TimeoutError:
        raise AssertionError('%s: %s' % (what, last[0])) from None


def block_probe():
    """The idmap block the next idmapped create gets (that instance is removed again)."""
    name = T.add(unique_name('kplprobe'))
    create_instance(name, 'none', config={'security.privileged': 'false'})
    base = metadata(name)['idmap']['uid']
    cleanup_instance(name)
    return base


# ---- the campaign ------------------------------------------------------------------------------------

GRADE = {}


def graded(kind, k, duration):
    """A delay inside an operation that takes duration: ten grades over it, each with a random part;
    scaled down when a kill came after the operation had finished (the machine got faster)."""
    return 0.95 * duration * GRADE.get(kind, 1.0) * ((k % 10) + RNG.random()) / 10


def op_time(start):
    """How long the operation start() begins (async) runs."""
    t0 = time.monotonic()
    op = start()
    assert op_wait(op, 120) == 'success'
    return time.monotonic() - t0


def kill_during(kind, k, duration, start):
    """start() an async operation, kill lxcbusd after a graded delay, start it again; whether the kill
    came while the operation ran."""
    op = start()
    time.sleep(graded(kind, k, duration))
    try:
        inside = get_prop(op, OPERATION_IFACE, 'Status') == 'running'
    except BusError:
        inside = False
    kill_and_restart_daemon()
    if not inside:
        GRADE[kind] = GRADE.get(kind, 1.0) * 0.7
    return inside


def record(kind, inside, t0):
    n, i, secs = counts.get(kind, (0, 0, 0.0))
    counts[kind] = (n + 1, i + inside, secs + time.monotonic() - t0)


def pool_with(state):
    """A pool instance in state (running or stopped), made so if none is."""
    pool = st['pool']
    names = listed()
    have = [n for n in pool if names.get(n) == state]
    if have:
        return RNG.choice(have)
    n = RNG.choice(pool)
    if state == 'running':
        start_instance(n)
    else:
        stop_instance(n)
    return n


def whole(name):
    """A created instance is whole: its config, metadata and busybox rootfs."""
    md = metadata(name)
    assert md['name'] == name, md
    with open(os.path.join(inst_dir(name), 'config')) as f:
        cfg = f.read()
    assert re.search(r'^lxc\.uts\.name = "?%s"?$' % name, cfg, re.M) and inst_dir(name) + '/rootfs' in cfg, cfg
    assert os.path.exists(os.path.join(rootfs(name), 'bin', 'busybox')), 'no busybox in %s' % name


def point_create(k):
    idmapped = k % 2 == 1
    name = T.add(unique_name('kplc'))
    config = {'security.privileged': 'false'} if idmapped else {}
    inside = kill_during('create', k, st['t_create'], lambda: create_instance(
        name, options={'async': V('b', True)}, config=config)[1])
    check_truth('create %s killed' % name)
    if name in listed():
        whole(name)
        cleanup_instance(name)
    else:
        assert not os.path.exists(inst_dir(name)), 'half a create: %s' % os.listdir(inst_dir(name))
    if idmapped:
        assert block_probe() == st['free_base'], 'the idmap block of a killed create is held'
    return inside


def point_start(k):
    name = pool_with('stopped')
    inside = kill_during('start', k, st['t_start'], lambda: instance_call(name, 'Start', opts(async_=V('b', True))))
    check_truth('start of %s killed' % name)
    return inside


def point_stop(k):
    name = pool_with('running')
    inside = kill_during('stop', k, st['t_stop'], lambda: instance_call(
        name, 'Stop', opts(async_=V('b', True), timeout_sec=V('u', 0))))
    check_truth('stop of %s killed' % name)
    return inside


def point_delete(k):
    """A fresh busybox instance deleted; every other one running, deleted with force."""
    name = T.add(unique_name('kpld'))
    create_instance(name)
    if k % 2:
        start_instance(name)
    inside = kill_during('delete', k, st['t_delete'], lambda: instance_call(
        name, 'Delete', opts(async_=V('b', True), force=V('b', True))))
    check_truth('delete of %s killed' % name)
    if name in listed():
        whole(name)
        cleanup_instance(name)
    return inside


def set_value(name, v):
    set_config(name, {'user.kp': v})


def point_setconfig(k):
    name = st['cfg']
    old = instance_prop(name, 'Config').get('user.kp')
    new = 'v%d' % k
    sc, nth = st['cfg_points'][k % len(st['cfg_points'])]
    pid = daemon_pid()
    p = strace_attach(pid, ['-e', 'trace=%s' % sc, '-e', 'inject=%s:signal=SIGKILL:when=%d' % (sc, nth)])
    try:
        set_value(name, new)
        died = False
    except BusError:
        died = True
    if not died:
        time.sleep(0.05)
    if strace_detach(p, pid):
        kill_and_restart_daemon(pid)
    else:
        kill_and_restart_daemon()       # not reached this time: a kill after the call
    check_truth('set-config of %s killed at %s #%d' % (name, sc, nth))
    got = instance_prop(name, 'Config').get('user.kp')
    assert got in (old, new), 'config lost: %r, neither %r nor %r' % (got, old, new)
    assert metadata(name)['config'].get('user.kp') == got
    return died


KINDS = (('create', point_create), ('start', point_start), ('stop', point_stop), ('delete', point_delete),
         ('setconfig', point_setconfig))


# ---- the tests -------------------------------------------------------------------------------------

@test
def setup_running_instances():
    ensure_subids()
    t0 = time.monotonic()
    names = [T.add(unique_name('kplr%02d' % k)) for k in range(RUNNING)]
    for batch in (names[:10], names[10:]):
        res = call_many([(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n)) for n in batch], 300)
        assert not [r for r in res if isinstance(r, BusError)], res
        res = call_many([(instance_path(n), INSTANCE_IFACE, 'Start', opts()) for n in batch], 300)
        assert not [r for r in res if isinstance(r, BusError)], res
    st['running'] = names
    st['pool'] = [T.add(unique_name('kplp%d' % k)) for k in range(POOL)]
    res = call_many([(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n)) for n in st['pool']], 300)
    assert not [r for r in res if isinstance(r, BusError)], res
    st['cfg'] = T.add(unique_name('kplcfg'))
    create_instance(st['cfg'], 'none')
    st['free_base'] = block_probe()
    print('# %d running instances and %d more in %.1fs' % (RUNNING, POOL + 1, time.monotonic() - t0))
    check_truth('setup')


@test
def restart_relists_20_running():
    want = {n: instance_prop(n, 'Pid') for n in st['running']}
    assert all(want.values()), want
    times = []
    for k in range(3):
        old = daemon_pid()
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        run('systemctl', 'reset-failed', 'lxcbusd')
        run('systemctl', 'start', 'lxcbusd', timeout=60)

        def relisted():
            if daemon_pid() in (0, old):
                return False
            names = listed()
            return all(names.get(n) == 'running' for n in want) and \
                all(instance_prop(n, 'Pid') == p for n, p in want.items())
        wait_for(relisted, 30, 'the 20 running instances relisted', interval=0.02)
        times.append(time.monotonic() - t0)
        expect_new_daemon()
    print('# kill -9 to all %d running instances relisted with their init pids: %s s (median %.2f s)' % (
        RUNNING, ' '.join('%.2f' % t for t in times), sorted(times)[1]))
    assert sorted(times)[1] <= 2.0 * SLOW, times
    check_truth('restart')


@test
def measure_operations():
    """How long each operation runs: the range the kill points are spread over."""
    n = T.add(unique_name('kplm'))
    st['t_create'] = op_time(lambda: create_instance(n, options={'async': V('b', True)})[1])
    st['t_start'] = op_time(lambda: instance_call(n, 'Start', opts(async_=V('b', True))))
    st['t_stop'] = op_time(lambda: instance_call(n, 'Stop', opts(async_=V('b', True), timeout_sec=V('u', 0))))
    st['t_delete'] = op_time(lambda: instance_call(n, 'Delete', opts(async_=V('b', True), force=V('b', True))))
    wait_staging_empty()
    set_value(st['cfg'], 'first')
    points = syscalls_of(lambda: set_value(st['cfg'], 'traced'))
    assert points, 'no system calls traced'
    step = max(1, len(points) // PER_KIND)
    st['cfg_points'] = points[::step][:PER_KIND] + points
    print('# create %.0f ms, start %.0f ms, stop %.0f ms, delete %.0f ms; SetConfig: %d system calls' % (
        st['t_create'] * 1e3, st['t_start'] * 1e3, st['t_stop'] * 1e3, st['t_delete'] * 1e3, len(points)))


@test
def kill_points():
    """PER_KIND points of each kind, interleaved; more of a kind (up to twice as many) while fewer than
    3/4 of them landed inside its operation (a loaded machine runs an operation faster or slower than
    measured: the grades follow)."""
    want = PER_KIND * 3 // 4
    t0 = time.monotonic()

    def more(kind):
        n, i, s = counts.get(kind, (0, 0, 0.0))
        return n < PER_KIND or (i < want and n < 2 * PER_KIND)
    while any(more(kind) for kind, fn in KINDS):
        for kind, fn in KINDS:
            if more(kind):
                t1 = time.monotonic()
                record(kind, fn(counts.get(kind, (0,))[0]), t1)
    check_daemon_alive()
    total = sum(n for n, i, s in counts.values())
    inside = sum(i for n, i, s in counts.values())
    print('# %d kill points, %d inside the operation, in %.1fs' % (total, inside, time.monotonic() - t0))
    for kind, (n, i, s) in counts.items():
        print('#   %-10s %3d killed, %3d inside (%.1fs)' % (kind, n, i, s))
    for kind, (n, i, s) in counts.items():
        assert i >= want, 'only %d of %d kill points inside %s' % (i, n, kind)


@on_exit
def cleanup():
    names = [n for n in T.names if instance_exists(n)]
    call_many([(instance_path(n), INSTANCE_IFACE, 'Delete', opts(force=V('b', True))) for n in names], timeout=300)
    T.cleanup()
    restore_subids()


if __name__ == '__main__':
    main()
