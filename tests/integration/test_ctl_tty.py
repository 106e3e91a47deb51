#!/usr/bin/python3
"""`lxcbusctl exec -t`, `lxcbusctl console` and `lxcbusctl console-log`, driven
on a real terminal: lxcbusctl runs on the slave of a pty whose master the test
holds, as a session leader with the slave as its controlling terminal."""

import fcntl
import os
import re
import signal
import termios
import time

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('tty')
PATH = instance_path(NAME)
TERM = 'xterm-256color'


def terminal(args, **kw):
    """lxcbusctl ARGS on a terminal (Terminal)."""
    return Terminal([CTL] + list(args), term=TERM, **kw)


def ctl(*args, input=None, timeout=60):
    return run(CTL, *args, input=input, timeout=timeout)


# ---- setup ----------------------------------------------------------------------------------

@test
def setup_running_instance():
    create_running_instance(NAME)
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'


# ---- exec -t -------------------------------------------------------------------------------

def stty_size(t):
    t.send(b'stty size\n')
    m = t.expect(rb'\r\n(\d+) (\d+)\r\n')
    return int(m.group(1)), int(m.group(2))


@test
def exec_tty_shell_sizes_and_exit_status():
    with terminal(['exec', NAME, '-t', '--', 'sh'], rows=33, cols=111) as t:
        assert stty_size(t) == (33, 111)

        # The kernel sends SIGWINCH to lxcbusctl (the foreground process group of our pty), which
        # passes the new size on; the keys typed after it come behind it.
        set_size(t.master, 40, 132)
        deadline = time.monotonic() + 15 * SLOW
        while stty_size(t) != (40, 132):
            assert time.monotonic() < deadline, 'the new size never reached the terminal in the instance'

        t.send(b'tty\n')
        t.expect(rb'\r\n/dev/pts/\d+\r\n')
        t.send(b'echo "term=$TERM"\n')
        t.expect(rb'\r\nterm=' + TERM.encode() + rb'\r\n')
        # ^C goes to the shell's terminal, as a byte: it interrupts the command there, not lxcbusctl.
        t.send(b'sleep 100\n')
        time.sleep(0.3)
        t.send(b'\x03')
        t.send(b'echo after-$((40+2))\n')
        t.expect(rb'after-42')

        t.send(b'exit 3\n')
        assert t.wait() == 3, t.out[-2000:]

        after = termios.tcgetattr(t.slave)
        assert after == t.termios_before, (after, t.termios_before)
        assert after[3] & termios.ECHO and after[3] & termios.ICANON
        # and the file status flags: not left non-blocking
        assert not fcntl.fcntl(t.slave, fcntl.F_GETFL) & os.O_NONBLOCK


@test
def exec_tty_killed_by_a_signal_and_sigterm_forwarded():
    with terminal(['exec', NAME, '--', 'sh']) as t:
        t.send(b'echo ready-$((1+1))\n')
        t.expect(rb'ready-2')
        t.proc.send_signal(signal.SIGTERM)     # forwarded to the shell, which ignores it
        t.send(b'echo alive-$((2+2))\n')
        t.expect(rb'alive-4')
        t.send(b'kill -9 $$\n')
        assert t.wait() == 128 + 9
        assert termios.tcgetattr(t.slave) == t.termios_before


@test
def exec_default_tty_follows_stdin():
    script = 'test -t 0 && echo tty || echo notty'
    rc, out, err = ctl('exec', NAME, '--', 'sh', '-c', script, input='')
    assert (rc, out) == (0, 'notty\n'), (rc, out, err)
    with terminal(['exec', NAME, '--', 'sh', '-c', script]) as t:
        assert t.wait() == 0, t.out
        assert re.search(rb'(^|\n)tty\r\n', t.out), t.out
    rc, out, err = ctl('exec', '-T', NAME, '--', 'sh', '-c', script, input='')
    assert (rc, out) == (0, 'notty\n'), (rc, out, err)


@test
def exec_forced_tty_with_a_pipe():
    # -t with pipes: a terminal in the instance all the same
    rc, out, err = ctl('exec', '-t', NAME, '--', 'sh', '-c', 'test -t 0 && echo is-$((3*3))', input='')
    assert (rc, out) == (0, 'is-9\n'), (rc, out, err)    # (run() reads text: \r\n becomes \n)
    rc, out, err = ctl('exec', '-ti', NAME, '--', 'sh', '-c', 'exit 7', input='')
    assert rc == 7, (rc, out, err)
    # EOF on our stdin reaches the terminal as its EOF character, which ends cat (the terminal echoes
    # the line, and cat prints it)
    rc, out, err = ctl('exec', '-t', NAME, '--', 'cat', input='hello\n')
    assert rc == 0 and out.count('hello\n') == 2, (rc, out, err)


def not_nonblocking(t):
    return not fcntl.fcntl(t.slave, fcntl.F_GETFL) & os.O_NONBLOCK


@test
def exec_piped_to_cat_on_a_terminal():
    # stdin and stderr a terminal, stdout a pipe (as with "| less"): no terminal in the instance; the
    # command's stdin is /dev/null (the keys stay with the reader of the pipe), its stderr reaches our
    # terminal through lxcbusctl.
    script = ('set -o pipefail; %s exec %s -- sh -c \'test -t 0 || echo in-no-tty; cat; '
              'echo out-$((6*7)); echo err-$((6*6)) >&2; exit 5\' | cat' % (CTL, NAME))
    with Terminal(['bash', '-c', script], term=TERM) as t:
        assert t.wait() == 5, t.out
        t.expect(rb'in-no-tty\r\n')
        t.expect(rb'out-42\r\n')
        t.mark = 0
        t.expect(rb'err-36\r\n')
        assert not_nonblocking(t)
        assert termios.tcgetattr(t.slave) == t.termios_before


@test
def exec_no_tty_on_a_terminal():
    # -T on a terminal: stdout to it through lxcbusctl (more than a pipe holds, intact); stdin /dev/null
    script = ('test -t 0 || echo in-no-tty; test -t 1 || echo out-no-tty; cat; '
              'head -c 1048576 /dev/zero | tr "\\0" x; echo; echo end-$((2*3))')
    with terminal(['exec', '-T', NAME, '--', 'sh', '-c', script]) as t:
        t.expect(rb'in-no-tty\r\nout-no-tty\r\n')
        t.expect(rb'end-6\r\n', timeout=120)
        assert t.wait() == 0
        assert t.out.count(b'x') == 1048576, t.out.count(b'x')
        assert not_nonblocking(t)
    # -Ti: what is typed reaches the command, and ^D is its end of file
    with terminal(['exec', '-Ti', NAME, '--', 'sh', '-c', 'cat; echo after-cat-$((3*3))']) as t:
        t.send(b'typed-line\n')
        t.expect(rb'typed-line\r\n')         # the echo of our terminal
        t.expect(rb'typed-line\r\n')         # cat's
        t.send(b'\x04')
        t.expect(rb'after-cat-9')
        assert t.wait() == 0
        assert not_nonblocking(t)


# ---- console ------------------------------------------------------------------------------------

@test
def console_log_has_the_askfirst_prompt():
    def has_prompt():
        rc, out, err = ctl('console-log', NAME)
        assert rc == 0, (rc, out, err)
        return 'Please press Enter' in out
    wait_for(has_prompt, 30, 'the askfirst prompt in lxcbusctl console-log')


@test
def console_shell_and_detach():
    with terminal(['console', NAME], stderr_pipe=True) as t:
        t.expect(rb'Connected to the console of ' + NAME.encode() + rb'; type Ctrl-a q to detach\.',
                 stream='err')
        t.send(b'\n')
        t.expect(rb'/ # ')
        t.send(b'echo c-$((6*7))\n')
        t.expect(rb'c-42')
        t.send(b'\x01q')
        assert t.wait() == 0, (t.out[-500:], t.err)
        after = termios.tcgetattr(t.slave)
        assert after == t.termios_before, (after, t.termios_before)
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'

    # The daemon gave the console back when the first lxcbusctl left the bus.
    with terminal(['console', NAME], stderr_pipe=True) as t:
        t.expect(rb'type Ctrl-a q to detach', stream='err')
        # Ctrl-a Ctrl-a is one Ctrl-a: busybox's line editing moves to the start of the line with it
        t.send(b'cho again-$((1+2))\x01\x01e\n')
        t.expect(rb'again-3')
        t.send(b'\x01q')
        assert t.wait() == 0, (t.out[-500:], t.err)
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'


@test
def console_without_a_terminal_detaches_at_eof():
    rc, out, err = ctl('console', NAME, input='')
    assert rc == 0, (rc, out, err)
    assert 'Ctrl-a q' in err, err
    # and it let go of the console again
    with terminal(['console', NAME], stderr_pipe=True) as t:
        t.expect(rb'type Ctrl-a q', stream='err')
        t.send(b'echo back-$((5+5))\n')
        t.expect(rb'back-10')
        t.send(b'\x01q')
        assert t.wait() == 0


@test
def console_errors():
    for args in (['console'], ['console', NAME, 'extra'], ['console', NAME, '--tty=x'],
                 ['console', NAME, '--tty=-2'], ['console-log'], ['console-log', NAME, '--clear=yes']):
        rc, out, err = ctl(*args, input='')
        assert rc == 2 and err.strip(), (args, rc, out, err)
    rc, out, err = ctl('console', 'no-such-instance', input='')
    assert rc == 4 and err.strip(), (rc, out, err)
    rc, out, err = ctl('console-log', 'no-such-instance')
    assert rc == 4 and err.strip(), (rc, out, err)
    # the busybox template makes 5 terminals: 40 is no terminal (Busy)
    rc, out, err = ctl('console', NAME, '--tty', '40', input='')
    assert rc == 1 and err.strip(), (rc, out, err)
    # while one holds the console, another gets Busy
    with terminal(['console', NAME], stderr_pipe=True) as t:
        t.expect(rb'type Ctrl-a q', stream='err')
        rc, out, err = ctl('console', NAME, input='')
        assert rc == 1 and err.strip(), (rc, out, err)
        t.send(b'\x01q')
        assert t.wait() == 0


@test
def console_tty_n():
    with terminal(['console', NAME, '--tty', '2'], stderr_pipe=True) as t:
        t.expect(rb'terminal 2 of ' + NAME.encode(), stream='err')
        t.send(b'\x01q')
        assert t.wait() == 0


@test
def console_log_clear():
    rc, out, err = ctl('console-log', NAME, '--clear')
    assert rc == 0 and 'Please press Enter' in out, (rc, out, err)
    rc, out, err = ctl('console-log', NAME)
    assert rc == 0 and 'Please press Enter' not in out, (rc, out, err)


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
