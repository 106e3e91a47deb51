#!/usr/bin/python3
"""State changes the daemon learns from events, not polling:

- an instance that stops behind the daemon's back (poweroff inside,
  lxc-stop -k, kill -9 of its init) shows State stopped within 1 s of its
  init being gone, and its scope goes away;
- an idle daemon with running instances does not wake up;
- a hung instance (its monitor stopped with SIGSTOP) does not stall calls on
  other instances.

Every test makes its own instances and removes them, even when it fails."""

import contextlib
import os
import signal
import subprocess
import time

from lxcbustest import *
from lxcbushelp import *

LXCPATH = '/var/lib/lxcbus/instances'


# ---- helpers (local to this file) -------------------------------------------

@contextlib.contextmanager
def running_instances(prefix, n=1):
    """n fresh running busybox instances; force-deleted on the way out.
    Yields a list of (name, path)."""
    names = [unique_name(prefix) for _ in range(n)]
    try:
        out = []
        for name in names:
            path, op = create_instance(name)
            instance_call(path, 'Start', opts())
            assert instance_prop(path, 'State') == 'running'
            out.append((name, path))
        yield out
    finally:
        for name in names:
            cleanup_instance(name)


def measure_exit_to_stopped(path, pid, what, init_deadline=30):
    """Wait for init `pid` to be gone (exited: missing or zombie), then for
    State to read 'stopped'; return the seconds between the two."""
    deadline = time.monotonic() + init_deadline * SLOW
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError('%s: init %d still alive after %ds' % (what, pid, init_deadline))
        time.sleep(0.002)
    t_gone = time.monotonic()
    last = [None]

    def stopped():
        last[0] = instance_prop(path, 'State')
        return last[0] == 'stopped'
    try:
        wait_for(stopped, 10, 'State stopped', interval=0.01)
    except TimeoutError:
        raise AssertionError('%s: State still %r 10s after init %d exited' % (what, last[0], pid)) from None
    return time.monotonic() - t_gone


def check_noticed(name, path, pid, what):
    dt = measure_exit_to_stopped(path, pid, what)
    print('# %s: State stopped %.3fs after init exited' % (what, dt))
    assert dt < 1.0 * SLOW, '%s: State became stopped %.2fs after init exited (limit 1s)' % (what, dt)
    assert instance_prop(path, 'Pid') == 0, instance_prop(path, 'Pid')
    assert_scope_gone(name)
    assert instance_prop(path, 'Unit') == '', instance_prop(path, 'Unit')
    # the daemon still manages it: it starts again
    instance_call(path, 'Start', opts())
    assert instance_prop(path, 'State') == 'running'


# ---- stops behind the daemon's back --------------------------------------------------

@test
def poweroff_inside_is_noticed():
    with running_instances('ev-poweroff') as [(name, path)]:
        pid = instance_prop(path, 'Pid')
        p = subprocess.Popen(['lxc-attach', '-P', LXCPATH, '-n', name, '--', 'poweroff'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            check_noticed(name, path, pid, 'poweroff inside')
        finally:
            try:
                p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()


@test
def lxc_stop_kill_is_noticed():
    with running_instances('ev-lxcstop') as [(name, path)]:
        pid = instance_prop(path, 'Pid')
        p = subprocess.Popen(['lxc-stop', '-P', LXCPATH, '-n', name, '-k'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            check_noticed(name, path, pid, 'lxc-stop -k')
        finally:
            try:
                out, _ = p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
        assert p.returncode == 0, 'lxc-stop -k failed (%s): %s' % (p.returncode, out)


@test
def kill_9_of_init_is_noticed():
    with running_instances('ev-kill9') as [(name, path)]:
        pid = instance_prop(path, 'Pid')
        os.kill(pid, signal.SIGKILL)
        check_noticed(name, path, pid, 'kill -9 init')


# ---- idle -------------------------------------------------------------------------------------

def ctxt_switches(pid):
    """Voluntary + involuntary context switches of every thread of pid."""
    total = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/status' % (pid, tid)) as f:
                for line in f:
                    if line.startswith(('voluntary_ctxt_switches:', 'nonvoluntary_ctxt_switches:')):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


@test
def idle_daemon_does_not_wake_up():
    with running_instances('ev-idle', 2) as insts:
        for name, path in insts:
            assert instance_prop(path, 'State') == 'running'
        pid = running_daemon_pid()
        # let the replies to our calls and any follow-up settle: wait (bounded)
        # for a quiet second
        last = [ctxt_switches(pid), time.monotonic()]

        def quiet():
            c = ctxt_switches(pid)
            if c != last[0]:
                last[:] = [c, time.monotonic()]
            return time.monotonic() - last[1] >= 1.0
        wait_for(quiet, 15, 'a quiet second of lxcbusd', interval=0.1)
        # measure: nobody talks to the daemon for 10 s
        before = ctxt_switches(pid)
        time.sleep(10)
        after = ctxt_switches(pid)
        print('# lxcbusd %d: %d context switches in 10 s while idle' % (pid, after - before))
        assert after - before <= 1, 'idle lxcbusd woke up %d times in 10 s' % (after - before)
        for name, path in insts:
            assert instance_prop(path, 'State') == 'running'


# ---- a hung instance does not stall the daemon --------------------------------------------

def timed(what, fn, limit=5.0):
    t0 = time.monotonic()
    r = fn()
    dt = time.monotonic() - t0
    print('# %s answered in %.3fs' % (what, dt))
    assert dt < limit * SLOW, '%s took %.1fs while another instance hangs' % (what, dt)
    return r


@test
def hung_instance_does_not_stall_others():
    with running_instances('ev-hung', 2) as [(a, pa), (b, pb)]:
        init_a = instance_prop(pa, 'Pid')
        monitor = int(proc_stat(init_a)[1])
        assert monitor > 1 and pid_alive(monitor), 'monitor of %s: %d' % (a, monitor)
        os.kill(monitor, signal.SIGSTOP)
        try:
            wait_for(lambda: proc_stat(monitor)[0] == 'T', 5, 'monitor %d stopped' % monitor)
            with Signals(iface=OPERATION_IFACE, member='Completed') as done:
                t0 = time.monotonic()
                op = timed('async Stop of the hung instance',
                           lambda: instance_call(pa, 'Stop', opts(timeout_sec=V('u', 1), **{'async': V('b', True)})))
                # the hung instance is locked, not the daemon
                with raises_dbus(ERR + 'Busy', ERR + 'InvalidState'):
                    timed('Start of the hung instance', lambda: instance_call(pa, 'Start', opts(), timeout=10))
                timed('GetState of the hung instance', lambda: instance_call(pa, 'GetState', timeout=10))
                # every call on the other instance answers promptly
                lst = timed('ListInstances', lambda: call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances', timeout=10))
                assert (b, 'running', pb) in lst, lst
                gs = timed('GetState', lambda: instance_call(pb, 'GetState', timeout=10))
                assert gs.get('state') == 'running' and gs.get('tasks', 0) > 0, gs
                timed('Freeze', lambda: instance_call(pb, 'Freeze', timeout=10))
                assert instance_prop(pb, 'State') == 'frozen'
                timed('Unfreeze', lambda: instance_call(pb, 'Unfreeze', timeout=10))
                assert instance_prop(pb, 'State') == 'running'
                timed('Stop', lambda: instance_call(pb, 'Stop', opts(force=V('b', True)), timeout=10))
                assert instance_prop(pb, 'State') == 'stopped'
                timed('Start', lambda: instance_call(pb, 'Start', opts(), timeout=10))
                assert instance_prop(pb, 'State') == 'running'
                # the stop of the hung instance ends within a bound, one way or
                # the other: killed (success) or a clear error
                s = done.wait(lambda s: s.path == op, 60, 'Completed of the Stop of %s' % a)
                dt = time.monotonic() - t0
            status, ename, msg = s.args
            print('# Stop(timeout-sec 1) of the hung instance: %s %s %r after %.1fs' % (status, ename, msg, dt))
            # and calls kept answering while it ran
            timed('ListInstances (after)', lambda: call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances', timeout=10))
            if status == 'success':
                assert instance_prop(pa, 'State') == 'stopped', instance_prop(pa, 'State')
                assert not pid_alive(init_a), 'init of %s alive after a successful Stop' % a
                assert_scope_gone(a, 15)
            else:
                assert status == 'failure' and ename.startswith(ERR), s.args
                assert msg, s.args
                assert instance_prop(pa, 'State') in ('running', 'error', 'stopped'), instance_prop(pa, 'State')
            assert instance_prop(pb, 'State') == 'running'
        finally:
            if pid_alive(monitor):
                os.kill(monitor, signal.SIGCONT)


if __name__ == '__main__':
    main()
