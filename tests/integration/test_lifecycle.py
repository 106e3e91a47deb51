#!/usr/bin/python3
"""Lifecycle of busybox instances as a user of the bus sees it: create,
start (scope, pid, cgroups, signals), operations (sync and async), freeze,
kill, restart, stop (clean, forced, idempotent), delete, ephemeral instances.

Every test makes its own instance(s) with a unique name and removes them,
even when it fails."""

import contextlib
import json
import os
import subprocess
import time

from lxcbustest import *
from lxcbushelp import *

OM_IFACE = 'org.freedesktop.DBus.ObjectManager'


# ---- helpers (local to this file) -------------------------------------------

def oprop(op, name):
    return get_prop(op, OPERATION_IFACE, name)


def start(path, timeout=60, **kw):
    return instance_call(path, 'Start', opts(**kw), timeout=timeout)


def stop(path, timeout=90, **kw):
    return instance_call(path, 'Stop', opts(**kw), timeout=timeout)


def now_us():
    return int(time.time() * 1e6)


def assert_stopped(path, name):
    assert instance_prop(path, 'State') == 'stopped', instance_prop(path, 'State')
    assert instance_prop(path, 'Pid') == 0, instance_prop(path, 'Pid')
    assert instance_prop(path, 'Unit') == '', instance_prop(path, 'Unit')


def init_cgroup(pid, hierarchy=':name=systemd:'):
    with open('/proc/%d/cgroup' % pid) as f:
        for line in f:
            if hierarchy in line:
                return line.strip().split(':', 2)[2]
    return None


def state_values(sig):
    """The State values carried by recorded PropertiesChanged, in order."""
    return [e.args[1]['State'] for e in sig.events if 'State' in e.args[1]]


@contextlib.contextmanager
def instance(prefix, running=False, **create_kw):
    """A fresh busybox instance (started if running=True), force-deleted on
    the way out whatever happened. Yields (name, path)."""
    name = unique_name(prefix)
    try:
        path, op = create_instance(name, **create_kw)
        if running:
            start(path)
            assert instance_prop(path, 'State') == 'running'
        yield name, path
    finally:
        cleanup_instance(name)


def wait_stopped(path, timeout=30):
    """A stop nobody asked for (a kill, a poweroff inside): State turns stopped when the monitor
    exits, and Unit turns empty once systemd has removed the scope, a few ms later."""
    wait_prop(path, INSTANCE_IFACE, 'State', 'stopped', timeout)
    return wait_prop(path, INSTANCE_IFACE, 'Unit', '', timeout)


# ---- create -------------------------------------------------------------------------

@test
def create_busybox_gives_a_stopped_instance():
    name = unique_name('lc-create')
    try:
        t0 = now_us()
        with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE, member='InstanceNew') as new, \
                Signals(path=MANAGER_PATH, iface=OM_IFACE, member='InterfacesAdded') as added:
            path, op = create_instance(name)
            t1 = now_us()
            assert path == instance_path(name), (path, instance_path(name))
            new.wait(lambda s: s.args == (name, path), 10, 'InstanceNew(%s)' % name)
            s = added.wait(lambda s: s.args[0] == path, 10, 'InterfacesAdded(%s)' % path)
            assert INSTANCE_IFACE in s.args[1], s.args
            assert s.args[1][INSTANCE_IFACE].get('Name') == name, s.args[1][INSTANCE_IFACE]
        # the call replied when the create was done
        assert oprop(op, 'Status') == 'success', oprop(op, 'Status')
        assert oprop(op, 'Kind') == 'create', oprop(op, 'Kind')
        props = get_all_props(path, INSTANCE_IFACE)
        assert props['Name'] == name, props
        assert props['State'] == 'stopped', props
        assert props['Pid'] == 0, props
        assert props['Unit'] == '', props
        assert props['Owner'] == 0, props
        assert props['Ephemeral'] is False, props
        assert props['Generation'] == 1, props
        assert t0 - 2_000_000 <= props['CreatedAt'] <= t1 + 2_000_000, \
            'CreatedAt %d not within [%d, %d]' % (props['CreatedAt'], t0, t1)
        assert props['LastUsedAt'] == 0, 'never started, LastUsedAt = %d' % props['LastUsedAt']
        assert (name, 'stopped', path) in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
        assert path in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Instances')
        d = os.path.join(INSTANCES_DIR, name)
        for f in ('config', 'rootfs', 'lxcbus.json'):
            assert os.path.exists(os.path.join(d, f)), '%s/%s missing' % (d, f)
        assert os.path.exists(os.path.join(d, 'rootfs/bin/busybox')), 'no busybox in the rootfs'
        with open(os.path.join(d, 'lxcbus.json')) as f:
            json.load(f)
        # a second create with the same name is refused, the first is untouched
        with raises_dbus(ERR + 'InstanceExists'):
            create_instance(name)
        assert instance_prop(path, 'State') == 'stopped'
    finally:
        cleanup_instance(name)


@test
def stopped_instance_refuses_running_only_calls():
    with instance('lc-refuse') as (name, path):
        for method, params in (('Freeze', None), ('Unfreeze', None),
                               ('Kill', V('(ib)', (9, False))), ('Kill', V('(ib)', (15, True)))):
            with raises_dbus(ERR + 'InvalidState'):
                instance_call(path, method, params)
        gs = instance_call(path, 'GetState')
        assert gs.get('state') == 'stopped', gs
        assert gs.get('pid', 0) == 0, gs
        assert_stopped(path, name)


# ---- start ----------------------------------------------------------------------

@test
def start_replies_once_running_in_its_scope():
    with instance('lc-start') as (name, path):
        unit = scope_of(name)
        t0 = now_us()
        with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
            op = start(path)
            t1 = now_us()
            # the reply came only once the instance runs: no waiting here
            assert instance_prop(path, 'State') == 'running', instance_prop(path, 'State')
            pid = instance_prop(path, 'Pid')
            sig.wait(lambda s: s.args[1].get('State') == 'running', 10, 'PropertiesChanged State=running')
            sig.wait(lambda s: s.args[1].get('Pid') == pid, 10, 'PropertiesChanged Pid=%d' % pid)
            sig.wait(lambda s: s.args[1].get('Unit') == unit, 10, 'PropertiesChanged Unit=%s' % unit)
        states = state_values(sig)
        assert 'starting' in states and states.index('starting') < states.index('running'), \
            'State values signalled: %s' % states
        for e in sig.events:   # values, not invalidation
            assert 'State' not in e.args[2] and 'Pid' not in e.args[2], e.args
        assert oprop(op, 'Status') == 'success'
        assert oprop(op, 'Kind') == 'start'

        assert pid > 0 and pid_alive(pid), 'Pid %r is not a live process' % pid
        assert instance_prop(path, 'Unit') == unit, instance_prop(path, 'Unit')
        cg = init_cgroup(pid)
        assert cg is not None and ('/machine.slice/%s/lxc.payload.%s' % (unit, name)) in cg, \
            'init %d is in %r (name=systemd)' % (pid, cg)
        last_used = instance_prop(path, 'LastUsedAt')
        assert t0 - 2_000_000 <= last_used <= t1 + 2_000_000, \
            'LastUsedAt %d not within [%d, %d]' % (last_used, t0, t1)
        assert (name, 'running', path) in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')

        rc, out, err = run('systemctl', 'show', '-p', 'ActiveState', '-p', 'Delegate', '-p', 'Slice', unit)
        props = dict(l.split('=', 1) for l in out.splitlines() if '=' in l)
        assert props.get('ActiveState') == 'active', (out, err)
        assert props.get('Delegate') == 'yes', out
        assert props.get('Slice') == 'machine.slice', out
        rc, out, err = run('systemctl', 'status', '--no-pager', '-l', unit)
        assert str(pid) in out, 'init pid %d not in systemctl status:\n%s' % (pid, out)

        gs = instance_call(path, 'GetState')
        assert gs.get('state') == 'running', gs
        assert gs.get('pid') == pid, gs
        assert gs.get('memory-bytes', 0) > 0, 'memory-bytes missing or 0: %s' % gs
        assert gs.get('tasks', 0) > 0, 'tasks missing or 0: %s' % gs
        assert 'cpu-ns' in gs, gs


@test
def start_on_running_is_idempotent():
    with instance('lc-idem', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        t0 = time.monotonic()
        op = start(path)
        assert time.monotonic() - t0 < 5, 'no-op Start took %.1fs' % (time.monotonic() - t0)
        assert oprop(op, 'Status') == 'success', oprop(op, 'Status')
        assert oprop(op, 'Kind') == 'start'
        assert oprop(op, 'ErrorName') == ''
        call(op, OPERATION_IFACE, 'Wait', timeout=10)
        assert instance_prop(path, 'State') == 'running'
        assert instance_prop(path, 'Pid') == pid, 'Start on a running instance changed its Pid'


@test
def async_start_operation_reports_progress_and_completion():
    with instance('lc-async') as (name, path):
        with Signals(iface=OPERATION_IFACE, member='Completed') as done:
            t0 = time.monotonic()
            op = start(path, **{'async': V('b', True)})
            dt = time.monotonic() - t0
            status = oprop(op, 'Status')
            finished = oprop(op, 'FinishedAt')
            assert dt < 2, 'async Start took %.2fs to reply' % dt
            assert status == 'running', 'Status right after an async Start: %r' % status
            assert finished == 0, 'FinishedAt %d while running' % finished
            assert op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')
            assert op in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations')
            call(op, OPERATION_IFACE, 'Wait', timeout=90)   # returns once finished
            s = done.wait(lambda s: s.path == op, 10, 'Completed on %s' % op)
            assert s.args == ('success', '', ''), s.args
        assert instance_prop(path, 'State') == 'running'
        p = get_all_props(op, OPERATION_IFACE)
        assert p['Kind'] == 'start', p
        assert p['Status'] == 'success', p
        assert p['Instance'] == path, p
        assert p['ErrorName'] == '' and p['ErrorMessage'] == '', p
        assert p['StartedByUID'] == 0, p
        assert p['CreatedAt'] > 0 and p['FinishedAt'] >= p['CreatedAt'], p
        assert 0.0 <= p['Progress'] <= 1.0, p
        # a finished operation lingers, and Wait returns at once
        t0 = time.monotonic()
        call(op, OPERATION_IFACE, 'Wait', timeout=10)
        assert time.monotonic() - t0 < 1
        assert op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')


@contextlib.contextmanager
def foreign_scope(unit):
    """A scope unit named `unit` made by someone else (systemd-run), holding
    a sleep; yields the Popen of systemd-run; killed on the way out."""
    squatter = subprocess.Popen(['systemd-run', '--quiet', '--scope', '--unit=' + unit,
                                 '--slice=machine.slice', 'sleep', '300'])
    try:
        wait_for(lambda: scope_state(unit)[1] == 'active', 10, 'foreign %s active' % unit)
        yield squatter
    finally:
        squatter.kill()
        squatter.wait(10)
        wait_for(lambda: scope_state(unit)[1] != 'active', 10, 'foreign %s gone' % unit)


@test
def failed_operation_carries_the_error():
    """A unit named like the instance's scope already exists (made by someone
    else): the start cannot get its scope, and the operation fails and says
    so."""
    with instance('lc-fail') as (name, path):
        with foreign_scope(scope_of(name)):
            with Signals(iface=OPERATION_IFACE, member='Completed') as done:
                op = start(path, **{'async': V('b', True)})
                s = done.wait(lambda s: s.path == op, 90, 'Completed on %s' % op)
            status, ename, msg = s.args
            assert status == 'failure', s.args
            assert ename.startswith(ERR), s.args
            assert msg, 'empty error message'
            p = get_all_props(op, OPERATION_IFACE)
            assert p['Status'] == 'failure' and p['ErrorName'] == ename and p['ErrorMessage'] == msg, p
            assert p['Kind'] == 'start' and p['Instance'] == path, p
            assert p['FinishedAt'] >= p['CreatedAt'] > 0, p
            with raises_dbus(ename):
                call(op, OPERATION_IFACE, 'Wait', timeout=10)
            assert_stopped(path, name)
        assert_scope_gone(name, 10)
        # once the name is free, it starts
        start(path)
        assert instance_prop(path, 'State') == 'running'


@test
def failed_start_leaves_a_foreign_unit_alone():
    """The daemon must not stop or clean up a unit it did not make, even if
    it carries the name of the instance's scope."""
    with instance('lc-foreign') as (name, path):
        unit = scope_of(name)
        with foreign_scope(unit) as squatter:
            with raises_dbus(*[ERR + e for e in ('Failed', 'Conflict', 'Busy', 'InstanceExists')]):
                start(path)
            assert_stopped(path, name)
            assert squatter.poll() is None, \
                'the process in the foreign %s died (status %s)' % (unit, squatter.poll())
            assert scope_state(unit) == ('loaded', 'active'), scope_state(unit)
            # and a second try fails the same way, without touching it
            with raises_dbus(*[ERR + e for e in ('Failed', 'Conflict', 'Busy', 'InstanceExists')]):
                start(path)
            assert squatter.poll() is None and scope_state(unit)[1] == 'active'
            assert_stopped(path, name)


@test
def start_without_init_fails():
    """An instance made from source "none" has an empty rootfs: there is no
    init to run, so Start must fail, not report success."""
    name = unique_name('lc-noinit')
    try:
        path, _ = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                       V('(sa{sv}a{ss}a{sv})', (name, {'type': V('s', 'none')}, {}, {})))
        # Refused up front (the daemon checks for /sbin/init), never a start that "succeeds".
        with raises_dbus(ERR + 'Failed') as e:
            start(path, **{'async': V('b', True)})
        assert "'%s'" % name in e.error.message and 'init' in e.error.message, e.error.message
        assert instance_prop(path, 'State') == 'stopped'
        wait_stopped(path, 10)
        assert_stopped(path, name)
        assert_scope_gone(name)
    finally:
        cleanup_instance(name)


# ---- freeze -----------------------------------------------------------------------

@test
def freeze_and_unfreeze():
    with instance('lc-freeze', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        fs = '/sys/fs/cgroup/freezer/machine.slice/%s/lxc.payload.%s/freezer.state' % (scope_of(name), name)
        with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
            instance_call(path, 'Freeze', timeout=30)
            assert instance_prop(path, 'State') == 'frozen', instance_prop(path, 'State')
            sig.wait(lambda s: s.args[1].get('State') == 'frozen', 10, 'PropertiesChanged State=frozen')
        with open(fs) as f:
            assert f.read().strip() == 'FROZEN', fs
        assert pid_alive(pid) and instance_prop(path, 'Pid') == pid
        instance_call(path, 'Freeze', timeout=30)   # idempotent
        assert instance_prop(path, 'State') == 'frozen'
        # frozen: no clean stop, no start
        with raises_dbus(ERR + 'InvalidState'):
            stop(path, timeout_sec=V('u', 5))
        assert instance_prop(path, 'State') == 'frozen'
        with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
            instance_call(path, 'Unfreeze', timeout=30)
            assert instance_prop(path, 'State') == 'running', instance_prop(path, 'State')
            sig.wait(lambda s: s.args[1].get('State') == 'running', 10, 'PropertiesChanged State=running')
        with open(fs) as f:
            assert f.read().strip() == 'THAWED', fs
        instance_call(path, 'Unfreeze', timeout=30)   # idempotent
        assert instance_prop(path, 'State') == 'running'
        assert instance_prop(path, 'Pid') == pid


@test
def stop_force_on_frozen_instance():
    with instance('lc-frzstop', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        instance_call(path, 'Freeze', timeout=30)
        t0 = time.monotonic()
        stop(path, force=V('b', True))
        assert time.monotonic() - t0 < 15, 'forced stop of a frozen instance took %.1fs' % (time.monotonic() - t0)
        assert_stopped(path, name)
        assert not pid_alive(pid)
        assert_scope_gone(name)


# ---- kill ----------------------------------------------------------------------------

@test
def kill_init_with_sigkill_stops_it():
    with instance('lc-kill9', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        instance_call(path, 'Kill', V('(ib)', (9, False)))
        wait_stopped(path, 15)
        assert not pid_alive(pid)
        assert_stopped(path, name)
        assert_scope_gone(name, 10)


@test
def kill_sigusr1_halts_busybox():
    """SIGUSR1 asks busybox init to halt: a clean shutdown from inside."""
    with instance('lc-halt', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        # State is running once LXC runs init (as lxc-wait RUNNING). Init of a pid namespace drops
        # a signal it neither catches nor blocks yet, so early in its boot busybox init may miss
        # it: send it again every 2 s, as a person would.
        def halted():
            if instance_prop(path, 'State') == 'stopped':
                return True
            if pid_alive(pid):
                try:
                    instance_call(path, 'Kill', V('(ib)', (10, False)))
                except BusError as e:
                    if e.dbus_name != ERR + 'InvalidState':
                        raise
            return False
        wait_for(halted, 30, '%s halted by SIGUSR1' % name, interval=2)
        wait_stopped(path, 30)
        assert not pid_alive(pid)
        assert_stopped(path, name)
        assert_scope_gone(name, 10)


@test
def kill_all_signals_every_process():
    with instance('lc-killall', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        payload = '/sys/fs/cgroup/systemd/machine.slice/%s/lxc.payload.%s' % (scope_of(name), name)
        # a harmless signal to everybody leaves it running
        instance_call(path, 'Kill', V('(ib)', (18, True)))   # SIGCONT
        assert instance_prop(path, 'State') == 'running' and pid_alive(pid)
        def payload_procs():
            procs = []
            for root, dirs, files in os.walk(payload):
                with open(os.path.join(root, 'cgroup.procs')) as f:
                    procs += [int(x) for x in f.read().split()]
            return procs
        # init starts the rest of the instance (syslogd, getty) itself: wait for them
        procs = wait_for(lambda: len(payload_procs()) >= 2 and payload_procs(), 15, 'init started its children')
        assert pid in procs, 'payload processes: %s' % procs
        instance_call(path, 'Kill', V('(ib)', (9, True)))
        wait_stopped(path, 15)
        for p in procs:
            assert not pid_alive(p), 'process %d of the instance survived Kill(9, all)' % p
        assert_stopped(path, name)
        assert_scope_gone(name, 10)


@test
def kill_rejects_bad_signals():
    with instance('lc-killbad', running=True) as (name, path):
        for sig in (0, -1, 65, 1000):
            with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
                instance_call(path, 'Kill', V('(ib)', (sig, False)))
        assert instance_prop(path, 'State') == 'running'


# ---- restart ---------------------------------------------------------------------------

@test
def restart_gives_a_new_init():
    with instance('lc-restart', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
            op = instance_call(path, 'Restart', opts(timeout_sec=V('u', 20)), timeout=120)
            assert instance_prop(path, 'State') == 'running', instance_prop(path, 'State')
            sig.wait(lambda s: s.args[1].get('State') == 'running', 10, 'PropertiesChanged State=running')
        states = state_values(sig)
        assert 'stopping' in states or 'stopped' in states, 'State values signalled: %s' % states
        assert oprop(op, 'Kind') == 'restart' and oprop(op, 'Status') == 'success'
        new = instance_prop(path, 'Pid')
        assert new > 0 and new != pid and pid_alive(new), (pid, new)
        assert not pid_alive(pid), 'old init %d still alive' % pid
        assert instance_prop(path, 'Unit') == scope_of(name)
        assert scope_state(scope_of(name))[1] == 'active'
        assert '/machine.slice/%s/' % scope_of(name) in init_cgroup(new)


# ---- stop --------------------------------------------------------------------------------

@test
def stop_cleanly_removes_scope_and_cgroups():
    with instance('lc-stop', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
            op = stop(path, timeout_sec=V('u', 20))
            # replied once stopped
            assert_stopped(path, name)
            sig.wait(lambda s: s.args[1].get('State') == 'stopped', 10, 'PropertiesChanged State=stopped')
            sig.wait(lambda s: s.args[1].get('Pid') == 0, 10, 'PropertiesChanged Pid=0')
            sig.wait(lambda s: s.args[1].get('Unit') == '', 10, "PropertiesChanged Unit=''")
        states = state_values(sig)
        assert states[-1] == 'stopped' and 'stopping' in states, 'State values signalled: %s' % states
        assert oprop(op, 'Kind') == 'stop' and oprop(op, 'Status') == 'success'
        assert not pid_alive(pid), 'init %d still alive after Stop' % pid
        ls, as_ = scope_state(scope_of(name))
        assert ls == 'not-found' or as_ in ('inactive', 'failed'), \
            '%s is %s/%s right after Stop replied' % (scope_of(name), ls, as_)
        assert_scope_gone(name)
        gs = instance_call(path, 'GetState')
        assert gs.get('state') == 'stopped', gs
        # and it can run again
        start(path)
        assert instance_prop(path, 'State') == 'running'


@test
def stop_force_and_timeout_zero_kill_quickly():
    with instance('lc-stopfast', running=True) as (name, path):
        for how in ({'force': V('b', True)}, {'timeout-sec': V('u', 0)}):
            if instance_prop(path, 'State') != 'running':
                start(path)
            pid = instance_prop(path, 'Pid')
            t0 = time.monotonic()
            instance_call(path, 'Stop', V('(a{sv})', (how,)), timeout=60)
            dt = time.monotonic() - t0
            assert dt < 2.5, 'Stop %s took %.1fs (a clean busybox shutdown takes ~3s)' % (list(how), dt)
            assert_stopped(path, name)
            assert not pid_alive(pid)
            assert_scope_gone(name)


@test
def stop_on_stopped_is_idempotent():
    with instance('lc-stopidem') as (name, path):
        gen = instance_prop(path, 'Generation')
        t0 = time.monotonic()
        op = stop(path)
        assert time.monotonic() - t0 < 5
        assert oprop(op, 'Status') == 'success' and oprop(op, 'Kind') == 'stop'
        assert_stopped(path, name)
        assert instance_prop(path, 'Generation') == gen


# ---- delete -------------------------------------------------------------------------------

@test
def delete_removes_object_and_files():
    name = unique_name('lc-delete')
    try:
        path, _ = create_instance(name)
        d = os.path.join(INSTANCES_DIR, name)
        assert os.path.isdir(d)
        with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE, member='InstanceRemoved') as removed, \
                Signals(path=MANAGER_PATH, iface=OM_IFACE, member='InterfacesRemoved') as om:
            op = instance_call(path, 'Delete', opts())
            removed.wait(lambda s: s.args == (name, path), 10, 'InstanceRemoved(%s)' % name)
            s = om.wait(lambda s: s.args[0] == path, 10, 'InterfacesRemoved(%s)' % path)
            assert INSTANCE_IFACE in s.args[1], s.args
        assert oprop(op, 'Kind') == 'delete' and oprop(op, 'Status') == 'success'
        with raises_dbus(ERR + 'NoSuchInstance'):
            call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)))
        assert name not in [n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')]
        assert path not in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Instances')
        assert not os.path.exists(d), '%s still exists' % d
        with raises_dbus('org.freedesktop.DBus.Error.UnknownObject',
                         'org.freedesktop.DBus.Error.UnknownMethod',
                         'org.freedesktop.DBus.Error.UnknownInterface',
                         ERR + 'NoSuchInstance'):
            instance_prop(path, 'State')
        # the name is free again
        create_instance(name)
        assert instance_prop(path, 'State') == 'stopped'
    finally:
        cleanup_instance(name)


@test
def delete_running_needs_force():
    with instance('lc-delrun', running=True) as (name, path):
        pid = instance_prop(path, 'Pid')
        with raises_dbus(ERR + 'InvalidState'):
            instance_call(path, 'Delete', opts())
        assert instance_prop(path, 'State') == 'running' and pid_alive(pid)
        with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE, member='InstanceRemoved') as removed:
            instance_call(path, 'Delete', opts(force=V('b', True)))
            removed.wait(lambda s: s.args == (name, path), 10, 'InstanceRemoved(%s)' % name)
        assert not instance_exists(name)
        assert not pid_alive(pid)
        assert not os.path.exists(os.path.join(INSTANCES_DIR, name))
        assert_scope_gone(name)


# ---- ephemeral --------------------------------------------------------------------------------

@test
def ephemeral_instance_is_deleted_when_stopped():
    with instance('lc-eph', options={'ephemeral': V('b', True)}) as (name, path):
        assert instance_prop(path, 'Ephemeral') is True
        start(path)   # still there while stopped before its first start
        assert instance_prop(path, 'State') == 'running'
        with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE, member='InstanceRemoved') as removed:
            stop(path, timeout_sec=V('u', 20))
            removed.wait(lambda s: s.args == (name, path), 30, 'InstanceRemoved(%s)' % name)
        assert not instance_exists(name)
        wait_for(lambda: not os.path.exists(os.path.join(INSTANCES_DIR, name)), 10,
                 'directory of %s removed' % name)
        assert_scope_gone(name)


@test
def ephemeral_instance_is_deleted_when_its_init_dies():
    with instance('lc-ephkill', running=True, options={'ephemeral': V('b', True)}) as (name, path):
        with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE, member='InstanceRemoved') as removed:
            instance_call(path, 'Kill', V('(ib)', (9, False)))
            removed.wait(lambda s: s.args == (name, path), 30, 'InstanceRemoved(%s)' % name)
        assert not instance_exists(name)
        wait_for(lambda: not os.path.exists(os.path.join(INSTANCES_DIR, name)), 10,
                 'directory of %s removed' % name)
        assert_scope_gone(name)


if __name__ == '__main__':
    main()
