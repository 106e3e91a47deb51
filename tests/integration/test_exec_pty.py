#!/usr/bin/python3
"""ExecPty: a terminal in the instance's own devpts, a session with it as the
controlling terminal, resize through TIOCSWINSZ on the master, exit status."""

import os

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('pty')
PATH = instance_path(NAME)


@test
def setup():
    create_running_instance(NAME)


@test
def shell_on_a_terminal_of_the_instance():
    master, op = exec_pty(NAME, ['sh'], rows=V('u', 30), cols=V('u', 100), term=V('s', 'vt100'))
    try:
        os.write(master, b'stty size; tty; echo T=$TERM; ls -l /proc/self/fd/0\n')
        out = read_until(master, b'T=vt100')
        assert b'30 100' in out, out
        assert b'/dev/pts/' in out, out
        # a resize on the master reaches the process
        set_size(master, 50, 132)
        os.write(master, b'stty size; exit 5\n')
        out = read_until(master, b'50 132')
        assert call(op, PROCESS_IFACE, 'Wait') == (5, 0)
    finally:
        os.close(master)


@test
def the_terminal_is_the_controlling_terminal_of_a_new_session():
    master, op = exec_pty(NAME, ['sh', '-c', 'exec cat /proc/self/stat'])
    try:
        out = read_until(master, b'\n', 10).decode(errors='replace').strip()
        # /proc/self/stat as the shell sees it: "pid (comm) state ppid pgrp session tty_nr ..."
        pid = int(out.split(' (')[0].split()[-1])
        fields = out.rsplit(')', 1)[1].split()
        session, tty = int(fields[3]), int(fields[4])
        assert session == pid, 'the process does not lead its session: %r' % out
        assert tty != 0, 'no controlling terminal: %r' % out
        assert call(op, PROCESS_IFACE, 'Wait') == (0, 0)
    finally:
        os.close(master)


@test
def the_terminal_belongs_to_the_instance():
    master, op = exec_pty(NAME, ['sleep', '30'])
    try:
        pid = get_prop(op, PROCESS_IFACE, 'Pid')
        target = os.readlink('/proc/%d/fd/0' % pid)
        # a pts of the instance's devpts, not of the host's (the test host's /dev/pts)
        st_proc = os.stat('/proc/%d/fd/0' % pid)
        host_pts = os.stat('/dev/pts/ptmx').st_dev
        assert st_proc.st_dev != host_pts, 'the terminal %s is on the host devpts' % target
        call(op, PROCESS_IFACE, 'Signal', V('(i)', (9,)))
        assert call(op, PROCESS_IFACE, 'Wait') == (-1, 9)
    finally:
        os.close(master)


@test
def bad_sizes_and_options_are_invalid_args():
    for o in ({'rows': V('u', 0)}, {'cols': V('u', 100000)}, {'term': V('i', 1)}):
        with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
            exec_pty(NAME, ['true'], **o)
    # Exec (without a pty) has no terminal options
    with raises_dbus('org.freedesktop.DBus.Error.InvalidArgs'):
        exec_start(NAME, ['true'], options={'rows': V('u', 5)})


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
