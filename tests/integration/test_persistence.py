#!/usr/bin/python3
"""Restarts of lxcbusd: instances keep running and a new daemon picks them up
with their true state, the same init and scope; a create killed halfway
leaves no half instance; metadata survives.

Every test makes its own instances and removes them, even when it fails, and
leaves lxcbusd running."""

import contextlib
import json
import os
import signal
import time

from lxcbustest import *
from lxcbushelp import *



# ---- helpers (local to this file) -------------------------------------------

def start_time(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot)."""
    return int(proc_stat(pid)[19])


def bus_owner_pid():
    """PID of the owner of org.lxcbus1 per `busctl status`, 0 if unowned."""
    rc, out, err = run('busctl', 'status', BUS_NAME, timeout=10)
    if rc != 0:
        return 0
    for line in out.splitlines():
        if line.startswith('PID='):
            return int(line[4:])
    return 0


def wait_daemon_up(old_pid):
    """Wait (bounded) for a new lxcbusd, other than old_pid, to own the name
    and to be active; return its pid."""
    def up():
        p = bus_owner_pid()
        if p and p != old_pid and pid_alive(p):
            rc, out, err = run('systemctl', 'show', '-p', 'ActiveState', '--value', 'lxcbusd')
            return p if out.strip() == 'active' else 0
        return 0
    pid = wait_for(up, 30, 'a new lxcbusd on the bus', interval=0.05)
    assert daemon_pid() == pid, 'MainPID %d, bus owner %d' % (daemon_pid(), pid)
    return pid


def kill_daemon():
    """kill -9 lxcbusd's MainPID; return that pid (once it is gone)."""
    pid = daemon_pid()
    assert pid > 0, 'lxcbusd not running'
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, 'lxcbusd %d gone' % pid)
    return pid


def start_daemon_after(old_pid):
    # Restart=on-failure may have restarted it already; then this is a
    # no-op. reset-failed keeps repeated kills clear of the start limit.
    run('systemctl', 'reset-failed', 'lxcbusd')
    rc, out, err = run('systemctl', 'start', 'lxcbusd', timeout=60)
    assert rc == 0, 'systemctl start lxcbusd: %s %s' % (out, err)
    return wait_daemon_up(old_pid)


def kill_and_restart_daemon():
    return start_daemon_after(kill_daemon())


@contextlib.contextmanager
def instances(prefix, n):
    names = [unique_name(prefix) for _ in range(n)]
    try:
        yield names
    finally:
        # the daemon must be there for the cleanup
        if not bus_owner_pid():
            run('systemctl', 'reset-failed', 'lxcbusd')
            run('systemctl', 'start', 'lxcbusd', timeout=60)
        for name in names:
            cleanup_instance(name)


def listed():
    return {n: (s, p) for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')}


def snapshot_running(path):
    pid = instance_prop(path, 'Pid')
    assert pid > 0 and pid_alive(pid), pid
    return {'pid': pid, 'start': start_time(pid), 'unit': instance_prop(path, 'Unit'),
            'monitor': int(proc_stat(pid)[1])}


def check_same_running(name, path, before, state):
    assert instance_prop(path, 'State') == state, '%s: State %r, expected %r' % (name, instance_prop(path, 'State'), state)
    pid = instance_prop(path, 'Pid')
    assert pid == before['pid'], '%s: Pid %d, was %d' % (name, pid, before['pid'])
    assert pid_alive(pid) and start_time(pid) == before['start'], \
        '%s: init %d was restarted (start time %s, was %s)' % (name, pid, start_time(pid), before['start'])
    assert instance_prop(path, 'Unit') == before['unit'] == scope_of(name), (instance_prop(path, 'Unit'), before['unit'])
    assert scope_state(before['unit'])[1] == 'active', scope_state(before['unit'])


# ---- adoption after kill -9 ---------------------------------------------------------

@test
def killed_daemon_adopts_running_frozen_and_stopped_instances():
    with instances('ps-adopt', 3) as (ra, fb, sc):
        pa, _ = create_instance(ra)
        pb, _ = create_instance(fb)
        pc, _ = create_instance(sc)
        instance_call(pa, 'Start', opts())
        instance_call(pb, 'Start', opts())
        instance_call(pb, 'Freeze', timeout=30)
        assert instance_prop(pb, 'State') == 'frozen'
        a0, b0 = snapshot_running(pa), snapshot_running(pb)

        old = kill_daemon()
        # the instances do not depend on the daemon
        assert pid_alive(a0['pid']) and pid_alive(b0['pid'])
        new = start_daemon_after(old)
        print('# lxcbusd %d killed, %d took over' % (old, new))

        # the first answer of the new daemon is already the truth
        ls = listed()
        assert ls.get(ra) == ('running', pa), ls.get(ra)
        assert ls.get(fb) == ('frozen', pb), ls.get(fb)
        assert ls.get(sc) == ('stopped', pc), ls.get(sc)
        check_same_running(ra, pa, a0, 'running')
        check_same_running(fb, pb, b0, 'frozen')
        assert instance_prop(pc, 'Pid') == 0 and instance_prop(pc, 'Unit') == ''
        gs = instance_call(pa, 'GetState')
        assert gs.get('state') == 'running' and gs.get('pid') == a0['pid'] and gs.get('tasks', 0) > 0, gs

        # the adopted instances are fully managed
        instance_call(pb, 'Unfreeze', timeout=30)
        assert instance_prop(pb, 'State') == 'running'
        with open('/sys/fs/cgroup/freezer/machine.slice/%s/lxc.payload.%s/freezer.state'
                  % (scope_of(fb), fb)) as f:
            assert f.read().strip() == 'THAWED'
        instance_call(pa, 'Stop', opts(timeout_sec=V('u', 20)))
        assert instance_prop(pa, 'State') == 'stopped' and instance_prop(pa, 'Pid') == 0 and instance_prop(pa, 'Unit') == ''
        assert not pid_alive(a0['pid'])
        assert_scope_gone(ra)
        # an adopted instance that dies behind the daemon's back is noticed
        os.kill(b0['pid'], signal.SIGKILL)
        wait_prop(pb, INSTANCE_IFACE, 'State', 'stopped', 5)
        assert instance_prop(pb, 'Pid') == 0
        assert_scope_gone(fb)
        # and the stopped one starts
        instance_call(pc, 'Start', opts())
        assert instance_prop(pc, 'State') == 'running'


@test
def graceful_daemon_stop_leaves_instances_running():
    with instances('ps-graceful', 1) as (name,):
        path, _ = create_instance(name)
        instance_call(path, 'Start', opts())
        before = snapshot_running(path)
        old = daemon_pid()
        rc, out, err = run('systemctl', 'stop', 'lxcbusd', timeout=60)
        assert rc == 0, (out, err)
        try:
            assert not pid_alive(old), 'lxcbusd %d still alive after systemctl stop' % old
            # (no bus call to the daemon here: it would be activated)
            assert pid_alive(before['pid']), 'init died with the daemon'
            assert pid_alive(before['monitor']), 'the monitor died with the daemon'
            assert start_time(before['pid']) == before['start']
            assert scope_state(before['unit'])[1] == 'active', scope_state(before['unit'])
        finally:
            rc, out, err = run('systemctl', 'start', 'lxcbusd', timeout=60)
            assert rc == 0, (out, err)
        wait_daemon_up(old)
        check_same_running(name, path, before, 'running')
        instance_call(path, 'Stop', opts(timeout_sec=V('u', 20)))
        assert instance_prop(path, 'State') == 'stopped'
        assert not pid_alive(before['pid'])
        assert_scope_gone(name)


# ---- a killed create ---------------------------------------------------------------------

def worker_procs_for(name):
    """Pids of processes whose command line mentions `name` (a create worker
    or template that outlived its daemon)."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % d, 'rb') as f:
                cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue
        if name in cmd and pid_alive(int(d)):
            out.append(int(d))
    return out


@test
def killed_create_leaves_no_half_instance():
    delays = (0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 1.0)
    with instances('ps-kcreate', len(delays)) as names:
        outcomes = []
        started_one = False
        for name, delay in zip(names, delays):
            src = {'type': V('s', 'template'), 'template': V('s', 'busybox')}
            path, op = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                            V('(sa{sv}a{ss}a{sv})', (name, src, {}, {'async': V('b', True)})), timeout=30)
            status = get_prop(op, OPERATION_IFACE, 'Status')
            if delay:
                time.sleep(delay)   # the kill point is the parameter of this test
            old = kill_daemon()
            if delay == 0:
                assert status == 'running', 'create already %r before the kill' % status
            new = start_daemon_after(old)
            # nothing of the old daemon's create may still be at work
            wait_for(lambda: not worker_procs_for(name), 30, 'no process working on %s' % name)

            d = os.path.join(INSTANCES_DIR, name)
            is_listed = name in listed()
            outcomes.append((delay, status, 'listed' if is_listed else 'absent'))
            # leftovers are moved aside at startup and removed by workers meanwhile
            staging = lambda: os.listdir(STAGING_DIR) if os.path.isdir(STAGING_DIR) else []
            wait_for(lambda: staging() == [], 30, 'staging emptied after the restart (it holds %s)' % staging())
            if is_listed:
                p = call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)))
                assert instance_prop(p, 'State') == 'stopped', instance_prop(p, 'State')
                assert instance_prop(p, 'Generation') >= 1
                for f in ('config', 'lxcbus.json', 'rootfs/bin/busybox', 'rootfs/sbin/init'):
                    assert os.path.exists(os.path.join(d, f)), 'listed instance %s lacks %s' % (name, f)
                with open(os.path.join(d, 'lxcbus.json')) as f:
                    json.load(f)
                if not started_one:
                    instance_call(p, 'Start', opts())
                    assert instance_prop(p, 'State') == 'running'
                    instance_call(p, 'Stop', opts(force=V('b', True)))
                    assert instance_prop(p, 'State') == 'stopped'
                    started_one = True
            else:
                assert not os.path.exists(d), \
                    'instance %s not listed but %s exists: %s' % (name, d, os.listdir(d))
                with raises_dbus(ERR + 'NoSuchInstance'):
                    call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)))
                # the name is free
                create_instance(name)
                assert listed().get(name, ('?',))[0] == 'stopped'
        print('# (delay, status before kill, outcome): %s' % outcomes)


# ---- metadata -------------------------------------------------------------------------------

def find_in_json(obj, needle):
    if isinstance(obj, dict):
        return any(find_in_json(k, needle) or find_in_json(v, needle) for k, v in obj.items())
    if isinstance(obj, list):
        return any(find_in_json(v, needle) for v in obj)
    return isinstance(obj, str) and needle in obj


@test
def metadata_survives_restarts():
    with instances('ps-meta', 1) as (name,):
        path, _ = create_instance(name)
        desc = 'a description with ünïcode and "quotes" ' + name
        instance_call(path, 'SetConfig', V('(a{ss}asa{sv})', (
            {'description': desc, 'user.note': 'kept', 'boot.autostart.priority': '7'}, [], {})))
        instance_call(path, 'SetConfig', V('(a{ss}asa{sv})', ({'limits.memory': '64M'}, [], {})))
        before = get_all_props(path, INSTANCE_IFACE)
        assert before['Description'] == desc, before
        assert before['Generation'] == 3, before
        assert before['AutostartPriority'] == 7, before
        mdfile = os.path.join(INSTANCES_DIR, name, 'lxcbus.json')
        with open(mdfile) as f:
            md = json.load(f)
        assert find_in_json(md, desc), 'description not in %s: %s' % (mdfile, md)

        for how in ('kill -9', 'systemctl restart'):
            if how == 'kill -9':
                kill_and_restart_daemon()
            else:
                old = daemon_pid()
                rc, out, err = run('systemctl', 'restart', 'lxcbusd', timeout=60)
                assert rc == 0, (out, err)
                wait_daemon_up(old)
            after = get_all_props(path, INSTANCE_IFACE)
            for k in ('Name', 'State', 'Description', 'Config', 'Generation', 'CreatedAt', 'LastUsedAt',
                      'Owner', 'Ephemeral', 'Autostart', 'AutostartPriority'):
                assert after[k] == before[k], 'after %s: %s is %r, was %r' % (how, k, after[k], before[k])
            with open(mdfile) as f:
                json.load(f)
        # optimistic concurrency still works on the reloaded generation
        with raises_dbus(ERR + 'Conflict'):
            instance_call(path, 'SetConfig', V('(a{ss}asa{sv})', (
                {'description': 'x'}, [], {'expected-generation': V('t', 2)})))
        instance_call(path, 'SetConfig', V('(a{ss}asa{sv})', (
            {'description': 'y'}, [], {'expected-generation': V('t', 3)})))
        assert instance_prop(path, 'Generation') == 4 and instance_prop(path, 'Description') == 'y'


if __name__ == '__main__':
    main()
