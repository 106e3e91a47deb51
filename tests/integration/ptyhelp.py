"""A process on a terminal for the lxcbusctl tests (test_ctl_tty.py,
test_ctl_polkit.py): it runs on the slave of a new pty whose master the test
holds, as a session leader with the slave as its controlling terminal.
Not a test file itself (run.sh only runs test_*.py)."""

import fcntl
import os
import pwd
import re
import select
import struct
import subprocess
import termios
import time

from lxcbustest import SLOW, wait_for

__all__ = ['Terminal', 'set_size']


def set_size(fd, rows, cols):
    """The window size of a terminal (TIOCSWINSZ on either side of a pty)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))


class Terminal:
    """CMD on a new pty of rows x cols. stdin and stdout are the slave;
    stderr too, unless stderr_pipe. With `user`, CMD runs as that user
    through setpriv (which execs, so that the pid we hold is CMD's) and the
    slave belongs to the user, as after a login. The slave stays open here
    too, so that its modes can be read after the process exits.

    .out is what came on the terminal, .err what came on the stderr pipe."""

    def __init__(self, cmd, user=None, rows=24, cols=80, stderr_pipe=False, term='xterm'):
        env = dict(os.environ, TERM=term, LANG='C.UTF-8')
        self.master, self.slave = os.openpty()
        if user is not None:
            pw = pwd.getpwnam(user)
            os.chown(os.ttyname(self.slave), pw.pw_uid, -1)
            cmd = ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--init-groups', '--'] \
                + list(cmd)
            env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
        set_size(self.master, rows, cols)
        self.termios_before = termios.tcgetattr(self.slave)
        self.out = b''
        self.mark = 0
        self.err = b''
        self.proc = subprocess.Popen(
            list(cmd), stdin=self.slave, stdout=self.slave,
            stderr=subprocess.PIPE if stderr_pipe else self.slave,
            start_new_session=True,    # setsid() comes before preexec_fn
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            env=env)
        if self.proc.stderr:
            os.set_blocking(self.proc.stderr.fileno(), False)

    def _pump(self, left):
        fds = [self.master] + ([self.proc.stderr.fileno()] if self.proc.stderr else [])
        r, _, _ = select.select(fds, [], [], max(0, min(left, 0.5)))
        for fd in r:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                continue
            if fd == self.master:
                self.out += chunk
            else:
                self.err += chunk

    def _drain_stderr(self):
        """Read the stderr pipe up to its end (or up to what is there, while
        something else still holds it open)."""
        while self.proc.stderr:
            try:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            self.err += chunk

    def _finished(self):
        """The process has exited and all it wrote has been read."""
        if self.proc.poll() is None or select.select([self.master], [], [], 0)[0]:
            return False
        self._drain_stderr()
        return True

    def expect(self, pattern, timeout=30, stream='out'):
        """Wait for regex `pattern` (bytes) on the terminal after the last
        match there, or (stream='err') anywhere on the stderr pipe; returns
        the match. Fails at the timeout, or at once when the process has
        exited without it."""
        deadline = time.monotonic() + timeout * SLOW
        done = False
        while True:
            if stream == 'out':
                m = re.compile(pattern).search(self.out, self.mark)
            else:
                m = re.compile(pattern).search(self.err)
            if m:
                if stream == 'out':
                    self.mark = m.end()
                return m
            if done:
                raise AssertionError('no %r on %s within %ds (exit status %s); got %r, stderr %r' % (
                    pattern, stream, timeout, self.proc.poll(), self.out[self.mark:][-2000:], self.err))
            left = deadline - time.monotonic()
            done = left <= 0 or self._finished()
            if not done:
                self._pump(left)

    def send(self, data):
        os.write(self.master, data)

    def wait_echo_off(self):
        """Until echo is off, as a password prompt has it."""
        wait_for(lambda: not termios.tcgetattr(self.slave)[3] & termios.ECHO, 10,
                 'echo off for the password')

    def wait_modes_restored(self):
        """Until the terminal modes are as before the process started."""
        wait_for(lambda: termios.tcgetattr(self.slave) == self.termios_before, 10, 'terminal modes restored')

    def type_password(self, password):
        """Type password once the agent has switched echo off: it does so
        with TCSAFLUSH, which throws away what was typed before."""
        self.wait_echo_off()
        self.send(password.encode() + b'\n')

    def wait(self, timeout=60):
        """The exit status (draining the output meanwhile)."""
        deadline = time.monotonic() + timeout * SLOW
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            assert left > 0, '%s did not exit within %ds; output %r, stderr %r' % (
                self.proc.args, timeout, self.out[-2000:], self.err)
            self._pump(min(left, 0.1))
        self._pump(0)
        self._drain_stderr()
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()      # by pid: the one we started
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
