#!/usr/bin/python3
"""Bounds an attacker with a polkit rule (or none) must not get past:

- users together never take root's reserve of operations: four users with
  16 long execs each leave root able to Stop, and the daemon able to delete
  an ephemeral instance;
- Wait()/Process.Wait() of callers that left the bus are dropped, and live
  waiters are bounded per uid;
- OpenConsole counts its worker before spawning it: a burst of 100 calls
  never has more than 16 console workers running;
- a non-root owner has a quota of instances (--max-instances-per-owner,
  default 16), checked before anything is allocated;
- a config whose metadata would not load back after a restart is refused;
- an instance whose lxcbus.json does not load is listed as error, refuses
  everything but root's Delete, and Delete frees its block of ids;
- a cancelled create never adopts a directory it did not make."""

import json
import os
import signal
import threading
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
USERS = ['hbu1', 'hbu2', 'hbu3', 'hbu4']   # may do anything (execs into root's instances)
OWNER = 'hbown'                            # may create, and act on what it owns
RULE = '60-lxcbus-test-hostile-bounds.rules'
st = {}


def create_args(name, source, config=None, **options):
    return V('(sa{sv}a{ss}a{sv})', (name, source, config or {},
                                     {k.rstrip('_'): v for k, v in options.items()}))


def restart_daemon_waiting(ready):
    old = daemon_pid()
    rc, out, err = run('systemctl', 'restart', 'lxcbusd', timeout=60)
    assert rc == 0, err
    wait_for(lambda: daemon_pid() not in (0, old) and ready(), 30, 'a new lxcbusd')
    expect_new_daemon()


def children(pid):
    """The pids of pid's children (every thread's)."""
    out = []
    try:
        for t in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def metadata_path(name):
    return os.path.join(INSTANCES_DIR, name, 'lxcbus.json')


def idmap_base(name):
    with open(metadata_path(name)) as f:
        return json.load(f)['idmap']['uid']


@test
def setup():
    for u in USERS + [OWNER]:
        st[u] = add_user(u)
    install_rule(RULE, '''// test_hostile_bounds.py
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") != 0)
        return polkit.Result.NOT_HANDLED;
    if (%s.indexOf(subject.user) >= 0)
        return polkit.Result.YES;
    if (subject.user == "%s" &&
        (action.lookup("verb") == "create" || action.lookup("owner_uid") == "%d"))
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
''' % (json.dumps(USERS), OWNER, st[OWNER]))
    ensure_subids()
    for u in USERS:
        wait_rule(agent(u).name, 'org.lxcbus1.exec', {'verb': 'exec'}, True)
    wait_rule(agent(OWNER).name, 'org.lxcbus1.create', {'verb': 'create'}, True)
    st['run'] = T.add(unique_name('hbrun'))
    create_running_instance(st['run'])


# ---- root's reserve ---------------------------------------------------------------------------

@test
def users_never_take_roots_reserve():
    run_name = st['run']
    eph = T.add(unique_name('hbeph'))
    create_instance(eph, options={'ephemeral': V('b', True)})
    start_instance(eph)
    counts = {}
    try:
        for u in USERS:
            a = agent(u)
            res = []
            for k in range(17):
                r = a.call(instance_path(run_name), INSTANCE_IFACE, 'Exec', exec_params(['sleep', '1000']),
                           in_fds=NULL_FDS, timeout=30)
                res.append('ok' if r['ok'] else r['error'])
                if not r['ok']:
                    assert r['error'] == ERR + 'LimitsExceeded', r
                    st.setdefault('msg', r['message'])
            counts[u] = res.count('ok')
        print('# execs accepted per user: %s; %s' % (counts, st.get('msg')))
        assert sum(counts.values()) <= 64 - 16, 'users hold %d of 64 operations: %s' % (sum(counts.values()),
                                                                                      counts)
        assert all(c <= 16 for c in counts.values()), counts
        # Root still stops the ephemeral instance, and the daemon deletes it by itself.
        op = instance_call(instance_path(eph), 'Stop', opts(force=V('b', True)))
        assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
        wait_for(lambda: not instance_exists(eph), 60, 'ephemeral %s deleted' % eph)
    finally:
        # Root's stop of the instance ends every exec.
        call(instance_path(run_name), INSTANCE_IFACE, 'Stop', opts(force=V('b', True)), timeout=120)
    start_instance(run_name)
    check_daemon_alive()


# ---- waiters ------------------------------------------------------------------------------------

@test
def waiters_that_leave_are_dropped():
    a = agent(USERS[0])
    pid = daemon_pid()
    op = exec_start(st['run'], ['sleep', '1000'], timeout=120)
    fds_before = len(proc_fds(pid))
    # 200 callers, one after the other, each waits and leaves.
    r = a.race(200, op, PROCESS_IFACE, 'Wait', delay=0.02)
    assert r['ok'] and r['sent'] == 200, r
    # The 201st (and more) still get a place: one user may hold 32 live waits.
    live = a.burst(40, op, PROCESS_IFACE, 'Wait', timeout=5)
    res = live['results']
    n_limit = res.count(ERR + 'LimitsExceeded')
    print('# 40 live waits of one user: %d refused (%s)' % (n_limit, live['messages'].get(ERR + 'LimitsExceeded')))
    assert n_limit == 40 - 32, res
    assert all(x in (ERR + 'LimitsExceeded', 'org.freedesktop.DBus.Error.NoReply',
                     'GLib.Error.g-io-error-quark.24') for x in res), res
    # and root's waiter is answered when the process ends
    done = []
    bus().call(BUS_NAME, op, PROCESS_IFACE, 'Wait', None, None, Gio.DBusCallFlags.NONE, 60000, None,
               lambda c, res: done.append(c.call_finish(res).unpack()))
    iterate(0.5)
    call(op, PROCESS_IFACE, 'Signal', V('(i)', (9,)))
    wait_for(lambda: done, 30, 'root\'s Process.Wait answered')
    assert done[0] == (-1, 9), done
    # the agent's connection holds no waiter now (the process ended); nothing grew
    wait_for(lambda: len(proc_fds(pid)) <= fds_before, 15, 'lxcbusd fds back to %d' % fds_before)
    check_daemon_alive()


# ---- OpenConsole ---------------------------------------------------------------------------------

@test
def open_console_burst_is_bounded():
    pid = daemon_pid()
    path = instance_path(st['run'])
    fds_before = len(proc_fds(pid))
    results, got = [], []
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            n = 0
            for c in children(pid):
                try:
                    if b'\0console\0' in open('/proc/%d/cmdline' % c, 'rb').read():
                        n += 1
                except OSError:
                    pass
            peak[0] = max(peak[0], n)
            time.sleep(0.002)

    def cb(conn, res):
        try:
            v, fdl = conn.call_with_unix_fd_list_finish(res)
            got.extend(fdl.steal_fds())
            results.append('ok')
        except GLib.Error as e:
            results.append(Gio.DBusError.get_remote_error(e) or str(e))

    # The instance's monitor stopped meanwhile, so that the console workers wait on it and the burst
    # really is 100 calls at once: the daemon answers the other calls and sees worker results at the
    # same priority, and on a quiet machine a console worker may finish before the next call comes.
    monitor = int(proc_stat(instance_prop(st['run'], 'Pid'))[1])
    th = threading.Thread(target=sample)
    th.start()
    os.kill(monitor, signal.SIGSTOP)
    try:
        for k in range(100):
            bus().call_with_unix_fd_list(BUS_NAME, path, INSTANCE_IFACE, 'OpenConsole',
                                         V('(i)', (1 + k % 4,)), None, Gio.DBusCallFlags.NONE, 60000, None,
                                         None, cb)
        wait_for(lambda: len(results) >= 100 - 16, 60, 'the calls beyond the 16 in flight refused')
        time.sleep(0.2)
    finally:
        os.kill(monitor, signal.SIGCONT)
    try:
        wait_for(lambda: len(results) == 100, 120, 'answers to 100 OpenConsole calls')
    finally:
        stop.set()
        th.join()
    counts = {x: results.count(x) for x in set(results)}
    print('# 100 OpenConsole calls: %s; at most %d console workers at once' % (counts, peak[0]))
    assert set(counts) <= {'ok', ERR + 'Busy', ERR + 'LimitsExceeded'}, counts
    assert peak[0] <= 16, '%d console workers ran at once' % peak[0]
    # 100 calls arrive in a few ms, a console worker takes tens: once 16 are in flight (or open), the
    # rest are refused before any worker is spawned. Without the count, every call spawned one.
    assert counts.get(ERR + 'LimitsExceeded', 0) > 0, 'every OpenConsole call spawned a worker: %s' % counts
    for fd in got:
        os.close(fd)
    assert_no_zombies()
    check_daemon_alive()
    # the terminals are the caller's until it leaves; nothing else stays
    assert len(proc_fds(pid)) <= fds_before + counts.get('ok', 0), (len(proc_fds(pid)), fds_before)


# ---- the per-owner quota -----------------------------------------------------------------------

@test
def owner_quota():
    a = agent(OWNER)
    names = []
    try:
        for k in range(16):
            n = T.add(unique_name('hbq'))
            r = a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(n, NONE_SOURCE), timeout=120)
            assert r['ok'], r
            names.append(n)
        before = fs_snapshot()
        extra = T.add(unique_name('hbq'))
        r = a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(extra, NONE_SOURCE), timeout=120)
        print('# 17th create: %s' % r)
        assert not r['ok'] and r['error'] == ERR + 'LimitsExceeded', r
        assert '--max-instances-per-owner=16' in r['message'] and extra in r['message'], r
        assert not instance_exists(extra)
        assert fs_snapshot() == before, 'a refused create changed files'
        # one deleted: room for one again
        r = a.call(instance_path(names[0]), INSTANCE_IFACE, 'Delete', opts(), timeout=120)
        assert r['ok'], r
        r = a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(extra, NONE_SOURCE), timeout=120)
        assert r['ok'], r
    finally:
        for n in names:
            cleanup_instance(n)


# ---- metadata that would not load back ----------------------------------------------------------

@test
def config_that_would_not_load_back_is_refused():
    name = T.add(unique_name('hbcfg'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(name, NONE_SOURCE), timeout=120)
    # A control character takes 6 bytes in lxcbus.json ("\u0001"), a quote 2: the bound counts what is
    # stored (16 KiB), so 64 values of 256 of them (96 KiB stored, 17 KiB on the bus) are refused ...
    ctl = '\x01' * 256
    big = {'user.c%d' % k: ctl for k in range(64)}
    err = expect_error(ERR + 'InvalidConfig', lambda: set_config(name, big), name)
    print('# %s' % err.message)
    assert 'too large' in err.message and '16384' in err.message, err.message
    # ... and the largest that is accepted survives a restart unchanged
    fine = {'user.c%d' % k: ctl for k in range(9)}
    fine['user.quotes'] = '"\\' * 100
    set_config(name, fine)
    restart_daemon_waiting(lambda: instance_exists(name))
    cfg = get_prop(instance_path(name), INSTANCE_IFACE, 'Config')
    assert get_prop(instance_path(name), INSTANCE_IFACE, 'State') == 'stopped'
    assert all(cfg.get(k) == v for k, v in fine.items()), 'config changed by the restart'
    cleanup_instance(name)


# ---- broken metadata -----------------------------------------------------------------------------

@test
def broken_instance_is_listed_as_error_and_root_deletes_it():
    name = T.add(unique_name('hbbrk'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
         create_args(name, NONE_SOURCE, {'security.privileged': 'false'}), timeout=120)
    base = idmap_base(name)
    with open(metadata_path(name), 'w') as f:
        f.write('{"name": "%s", "owner": ' % name)
    restart_daemon_waiting(lambda: instance_exists(name))
    path = instance_path(name)
    listed = {n: s for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')}
    assert listed.get(name) == 'error', listed.get(name)
    objs = call('/org/lxcbus1', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')
    assert path in objs and objs[path][INSTANCE_IFACE]['State'] == 'error', objs.get(path)
    assert get_prop(path, INSTANCE_IFACE, 'Owner') == 0
    assert get_prop(path, INSTANCE_IFACE, 'Config') == {}
    err = expect_error(ERR + 'InvalidState', lambda: instance_call(path, 'Start', opts()), name, ['lxcbus.json'])
    print('# Start: %s' % err.message)
    expect_error(ERR + 'InvalidState', lambda: set_config(name, {'description': 'x'}), name)
    # the next create of that name is refused up front
    expect_error(ERR + 'InstanceExists', lambda: call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                                                    create_args(name, NONE_SOURCE)), name)
    # its former owner may not delete it (it is root's now)
    r = agent(OWNER).call(path, INSTANCE_IFACE, 'Delete', opts())
    assert not r['ok'] and r['error'] == ACCESS_DENIED, r
    instance_call(path, 'Delete', opts())
    assert not instance_exists(name) and not os.path.exists(os.path.join(INSTANCES_DIR, name))
    # its block is free again: the next idmapped instance gets it (the lowest free one)
    again = T.add(unique_name('hbbrk'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
         create_args(again, NONE_SOURCE, {'security.privileged': 'false'}), timeout=120)
    assert idmap_base(again) == base, (idmap_base(again), base)
    cleanup_instance(again)


@test
def cancelled_create_never_adopts_an_orphan():
    name = T.add(unique_name('hborph'))
    d = os.path.join(INSTANCES_DIR, name)
    os.makedirs(d, 0o700)
    with open(os.path.join(d, 'lxcbus.json'), 'w') as f:
        f.write('{"left": "by an older daemon"}')
    a = agent(OWNER)
    r = a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(name, BUSYBOX_SOURCE, async_=V('b', True)))
    assert r['ok'], r
    op = r['value'][1]
    wait_for(lambda: os.path.exists(os.path.join(STAGING_DIR, name)), 30, 'staging/%s made' % name,
             interval=0.005)
    r = a.call(op, OPERATION_IFACE, 'Cancel')
    assert r['ok'], r
    wait_for(lambda: get_prop(op, OPERATION_IFACE, 'Status') != 'running', 60, 'the create to end')
    status = get_prop(op, OPERATION_IFACE, 'Status')
    print('# cancelled create over an orphan: %s %s' % (status, get_prop(op, OPERATION_IFACE, 'ErrorName')))
    assert status in ('cancelled', 'failure'), status
    assert not instance_exists(name), 'the cancelled create adopted %s' % d
    # after a restart the orphan is listed as root's broken instance, and root removes it
    restart_daemon_waiting(lambda: instance_exists(name))
    assert get_prop(instance_path(name), INSTANCE_IFACE, 'State') == 'error'
    assert get_prop(instance_path(name), INSTANCE_IFACE, 'Owner') == 0
    r = a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_args(name, NONE_SOURCE))
    assert not r['ok'] and r['error'] == ERR + 'InstanceExists', r
    instance_call(instance_path(name), 'Delete', opts())
    assert not os.path.exists(d)


@on_exit
def cleanup():
    close_agents()
    T.cleanup()
    remove_rule(RULE)
    remove_users()
    restore_subids()


if __name__ == '__main__':
    main()
