#!/usr/bin/python3
"""OpenConsole and ConsoleLog: the console of busybox init, its log, terminals
held per caller and released when the caller leaves the bus."""

import os
import subprocess
import sys
import textwrap

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('con')
PATH = instance_path(NAME)


@test
def setup():
    create_running_instance(NAME)


@test
def console_log_holds_the_boot_messages():
    # busybox init asks on its console to press Enter (inittab: console::askfirst)
    wait_for(lambda: b'Please press Enter' in console_log(NAME), 15,
             'the askfirst prompt in the console log')
    fd = call_fds(NAME, 'ConsoleLog', V('(a{sv})', ({},)))[0]
    try:
        with open('/proc/self/fdinfo/%d' % fd) as f:
            assert 'flags' in f.read()
        with raises_os_error():
            os.write(fd, b'x')   # sealed and read-only
    finally:
        os.close(fd)


class raises_os_error:
    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        assert typ is not None and issubclass(typ, OSError), 'writing the log fd did not fail'
        return True


@test
def reading_consumes_nothing_and_clear_empties_the_log():
    first = console_log(NAME)
    assert b'Please press Enter' in console_log(NAME), 'a second read lost the log'
    assert b'Please press Enter' in console_log(NAME, clear=V('b', True))
    assert b'Please press Enter' not in console_log(NAME)


@test
def console_gives_a_shell_and_is_held_by_one_caller():
    fd = open_console(NAME)
    try:
        console_shell(fd, b'echo con-$((6*7))\n', b'con-42')
        with raises_dbus('org.lxcbus1.Error.Busy'):
            open_console(NAME)
        # another terminal at the same time
        fd2 = open_console(NAME, 2)
        os.close(fd2)
    finally:
        os.close(fd)


CLIENT = textwrap.dedent('''
    import os, sys
    from gi.repository import Gio, GLib
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    res, fdl = bus.call_with_unix_fd_list_sync('org.lxcbus1', sys.argv[1], 'org.lxcbus1.Instance', 'OpenConsole',
        GLib.Variant('(i)', (3,)), None, 0, 30000, None, None)
    print('ok', flush=True)
    os._exit(0)
''')


@test
def a_terminal_is_released_when_its_caller_leaves():
    p = subprocess.run([sys.executable, '-c', CLIENT, PATH], capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == 'ok', p.stderr

    def free_again():
        try:
            os.close(open_console(NAME, 3))
            return True
        except BusError as e:
            assert e.dbus_name == 'org.lxcbus1.Error.Busy', e
            return False
    wait_for(free_again, 10, 'terminal 3 free again after its caller left')
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'


@test
def bad_terminals_and_states():
    for tty in (0, -2, 65, 1000):
        with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
            open_console(NAME, tty)
    with raises_dbus('org.lxcbus1.Error.Busy'):
        open_console(NAME, 40)   # the busybox template makes 5
    with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
        console_log(NAME, clear=V('s', 'yes'))
    call(PATH, INSTANCE_IFACE, 'Stop', V('(a{sv})', ({'timeout-sec': V('u', 0)},)))
    with raises_dbus('org.lxcbus1.Error.InvalidState'):
        open_console(NAME)
    # the buffer is the running monitor's (docs/api.md): none to read or clear once stopped
    with raises_dbus('org.lxcbus1.Error.InvalidState'):
        console_log(NAME)


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
