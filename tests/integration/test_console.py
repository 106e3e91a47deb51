#!/usr/bin/python3
"""OpenConsole and ConsoleLog: the console of busybox init, its log, terminals
held per caller and released when the caller leaves the bus."""

import os
import select
import subprocess
import sys
import textwrap
import time

from lxcbustest import *

NAME = unique_name('con')
PATH = instance_path(NAME)


def call_fd(method, params):
    try:
        res, fdl = bus().call_with_unix_fd_list_sync(BUS_NAME, PATH, INSTANCE_IFACE, method, params, None,
                                                     Gio.DBusCallFlags.NONE, 30000, None, None)
    except GLib.Error as e:
        raise BusError(Gio.DBusError.get_remote_error(e), e.message, method) from None
    return fdl.get(res.unpack()[0])


def read_until(fd, needle, timeout=10):
    out, end = b'', time.monotonic() + timeout
    while needle not in out:
        left = end - time.monotonic()
        assert left > 0, 'no %r, got %r' % (needle, out)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    return out


def console_log(**opts):
    fd = call_fd('ConsoleLog', V('(a{sv})', (dict(opts),)))
    try:
        data = b''
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return data
            data += chunk
    finally:
        os.close(fd)


@test
def setup():
    cleanup_instance(NAME)
    create_instance(NAME)
    call(PATH, INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)))


@test
def console_log_holds_the_boot_messages():
    # busybox init asks on its console to press Enter (inittab: console::askfirst)
    wait_for(lambda: b'Please press Enter' in console_log(), 15, 'the askfirst prompt in the console log')
    fd = call_fd('ConsoleLog', V('(a{sv})', ({},)))
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
    first = console_log()
    assert b'Please press Enter' in console_log(), 'a second read lost the log'
    assert b'Please press Enter' in console_log(clear=V('b', True))
    assert b'Please press Enter' not in console_log()


@test
def console_gives_a_shell_and_is_held_by_one_caller():
    fd = call_fd('OpenConsole', V('(i)', (-1,)))
    try:
        os.write(fd, b'\n')
        read_until(fd, b'# ')
        os.write(fd, b'echo con-$((6*7))\n')
        read_until(fd, b'con-42')
        with raises_dbus('org.lxcbus1.Error.Busy'):
            call_fd('OpenConsole', V('(i)', (-1,)))
        # another terminal at the same time
        fd2 = call_fd('OpenConsole', V('(i)', (2,)))
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
            os.close(call_fd('OpenConsole', V('(i)', (3,))))
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
            call_fd('OpenConsole', V('(i)', (tty,)))
    with raises_dbus('org.lxcbus1.Error.Busy'):
        call_fd('OpenConsole', V('(i)', (40,)))   # the busybox template makes 5
    with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
        call_fd('ConsoleLog', V('(a{sv})', ({'clear': V('s', 'yes')},)))
    call(PATH, INSTANCE_IFACE, 'Stop', V('(a{sv})', ({'timeout-sec': V('u', 0)},)))
    with raises_dbus('org.lxcbus1.Error.InvalidState'):
        call_fd('OpenConsole', V('(i)', (-1,)))
    # the log outlives the instance's run
    assert b'con-42' in console_log()


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
