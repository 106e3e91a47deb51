#!/usr/bin/python3
"""Exec processes and their callers: a caller that disconnects leaves its
process running unless it asked for kill-on-disconnect; the daemon reaps
everything; processes of a stopped instance end with SIGKILL."""

import os
import subprocess
import time
import sys
import textwrap

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('el')
PATH = instance_path(NAME)

# A client that starts `sleep` in the instance, prints the operation path, and dies.
CLIENT = textwrap.dedent('''
    import os, sys
    from gi.repository import Gio, GLib
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    n = os.open('/dev/null', os.O_RDWR)
    fdl = Gio.UnixFDList.new()
    for k in range(3):
        fdl.append(n)
    opts = {'kill-on-disconnect': GLib.Variant('b', True)} if sys.argv[2] == '1' else {}
    res, _ = bus.call_with_unix_fd_list_sync('org.lxcbus1', sys.argv[1], 'org.lxcbus1.Instance', 'Exec',
        GLib.Variant('(asa{ss}hhha{sv})', (['sleep', '300'], {}, 0, 1, 2, opts)), None, 0, 30000, fdl, None)
    print(res.unpack()[0], flush=True)
    os._exit(0)
''')


def exec_from_dying_client(kill_on_disconnect):
    p = subprocess.run([sys.executable, '-c', CLIENT, PATH, '1' if kill_on_disconnect else '0'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def pstate(op):
    return get_prop(op, PROCESS_IFACE, 'ExitStatus'), get_prop(op, PROCESS_IFACE, 'ExitSignal')


@test
def setup():
    create_running_instance(NAME)


@test
def disconnect_leaves_the_process_running():
    op = exec_from_dying_client(False)
    pid = get_prop(op, PROCESS_IFACE, 'Pid')
    assert pid > 0 and os.path.exists('/proc/%d' % pid)
    # The client is gone. Nothing may happen now, so there is no event to wait for: give the
    # daemon a second in which it would act if it did.
    time.sleep(1)
    assert os.path.exists('/proc/%d' % pid), 'process %d died with its caller' % pid
    assert pstate(op) == (-1, 0)
    call(op, PROCESS_IFACE, 'Signal', V('(i)', (15,)))
    assert call(op, PROCESS_IFACE, 'Wait') == (-1, 15)


@test
def kill_on_disconnect_hangs_up_the_process():
    op = exec_from_dying_client(True)
    pid = get_prop(op, PROCESS_IFACE, 'Pid')
    status = call(op, PROCESS_IFACE, 'Wait', timeout=30)
    assert status == (-1, 1), 'process of a vanished caller ended with %r, not SIGHUP' % (status,)
    assert not os.path.exists('/proc/%d' % pid)


@test
def stopping_the_instance_ends_its_processes_with_sigkill():
    op = exec_from_dying_client(False)
    with Signals(path=op, iface=PROCESS_IFACE, member='Exited') as sig:
        call(PATH, INSTANCE_IFACE, 'Stop', V('(a{sv})', ({'timeout-sec': V('u', 0)},)))
        s = sig.wait(lambda s: True, 30, 'Exited on %s' % op)
    assert tuple(s.args) == (-1, 9), s.args
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'


@test
def exec_sessions_after_a_daemon_restart():
    """The old daemon's exec sessions are gone from the bus; their processes are
    not left behind as zombies (the worker that was their parent dies with the
    service; init of the instance reaps them)."""
    if get_prop(PATH, INSTANCE_IFACE, 'State') != 'running':
        call(PATH, INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)))
    op = exec_from_dying_client(False)
    pid = get_prop(op, PROCESS_IFACE, 'Pid')
    old = daemon_pid()
    os.kill(old, 9)
    wait_for(lambda: not os.path.exists('/proc/%d' % old), 10, 'lxcbusd gone')
    run('systemctl', 'reset-failed', 'lxcbusd')
    rc, out, err = run('systemctl', 'start', 'lxcbusd', timeout=60)
    assert rc == 0, err
    wait_for(lambda: daemon_pid() not in (0, old) and run('busctl', 'status', BUS_NAME)[0] == 0, 30,
             'a new lxcbusd')
    with raises_dbus('org.freedesktop.DBus.Error.UnknownObject'):
        get_prop(op, PROCESS_IFACE, 'Pid')
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'
    # the process itself may run on (sleep 300) or have ended; it is never a zombie
    def not_zombie():
        try:
            with open('/proc/%d/stat' % pid) as f:
                st = f.read()
        except FileNotFoundError:
            return True
        return st[st.rindex(')') + 2] != 'Z'
    assert not_zombie(), 'process %d of an exec of the old daemon is a zombie' % pid
    os.kill(pid, 9)
    wait_for(lambda: not os.path.exists('/proc/%d' % pid), 10, 'process %d reaped' % pid)


@test
def no_zombies_left():
    assert not zombies(), 'zombies: %s' % zombies()


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
