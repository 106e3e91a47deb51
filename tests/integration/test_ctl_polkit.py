#!/usr/bin/python3
"""lxcbusctl and polkit: a non-root user whom polkit asks for the admin
password (a JS rule returning AUTH_ADMIN for org.lxcbus1.manage).

On a terminal lxcbusctl runs pkttyagent, which asks for root's password on
that terminal; without one, or with --no-ask-password, the call is refused
with "interactive authentication required". No agent and no zombie is left
behind in any case.

lxcbusctl runs as the user through setpriv (it execs, so the pid we hold is
lxcbusctl's), on the slave of a pty whose master the test holds, as a
session leader with the slave as its controlling terminal (pkttyagent talks
on /dev/tty)."""

import fcntl
import os
import re
import select
import subprocess
import termios
import time

from lxcbustest import *
from lxcbushelp import ensure_user, run_as_user

USER = 'lxctlpk'
PASSWORD = 'Pk-root-5ecret'
RULES = '/etc/polkit-1/rules.d/50-ctl.rules'
NAME = unique_name('ctlpk')
PATH = instance_path(NAME)
CTL = 'lxcbusctl'
INTERACTIVE_REQUIRED = 'access denied (interactive authentication required; ' \
                       'run on a terminal without --no-ask-password, or as root)'

# The admin is root (not the members of group sudo, as 50-default.rules has
# it), so that the agent asks for one password and no choice of identity.
RULE = '''
polkit.addAdminRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") == 0)
        return ["unix-user:0"];
});
polkit.addRule(function(action, subject) {
    if (action.id == "org.lxcbus1.manage" && subject.user == "%s")
        return polkit.Result.AUTH_ADMIN;
});
''' % USER

st = {}


def user_ids():
    uid = ensure_user(USER)
    return uid, int(run('id', '-g', USER)[1].strip())


class Terminal:
    """CMD as USER on a new pty: stdin and stdout are the slave (owned by
    the user, as after a login), stderr a pipe unless stderr_tty. The slave
    stays open here too, so that its modes can be read after the process
    exits."""

    def __init__(self, cmd, stderr_tty=False):
        uid, gid = user_ids()
        self.master, self.slave = os.openpty()
        os.chown(os.ttyname(self.slave), uid, -1)
        self.termios_before = termios.tcgetattr(self.slave)
        self.out = b''
        self.mark = 0
        self.err = b''
        self.proc = subprocess.Popen(
            ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--init-groups', '--'] + list(cmd),
            stdin=self.slave, stdout=self.slave,
            stderr=self.slave if stderr_tty else subprocess.PIPE,
            start_new_session=True,    # setsid() comes before preexec_fn
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            env=dict(os.environ, HOME='/home/' + USER, USER=USER, LOGNAME=USER, TERM='xterm', LANG='C.UTF-8'))
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

    def expect(self, pattern, timeout=30):
        """Wait for regex `pattern` (bytes) on the terminal after the last
        match; returns the match."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            m = re.compile(pattern).search(self.out, self.mark)
            if m:
                self.mark = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and not self._readable()):
                raise AssertionError('no %r on the terminal within %ds (exit status %s); got %r, stderr %r' % (
                    pattern, timeout, self.proc.poll(), self.out[self.mark:][-2000:], self.err))
            self._pump(left)

    def _readable(self):
        r, _, _ = select.select([self.master], [], [], 0)
        return bool(r)

    def send(self, data):
        os.write(self.master, data)

    def type_password(self, password):
        """Type password once the agent has switched echo off: it does so
        with TCSAFLUSH, which throws away what was typed before."""
        wait_for(lambda: not termios.tcgetattr(self.slave)[3] & termios.ECHO, 10, 'echo off for the password')
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
        while self.proc.stderr and self._pump_stderr():
            pass
        return self.proc.returncode

    def _pump_stderr(self):
        try:
            chunk = os.read(self.proc.stderr.fileno(), 65536)
        except (BlockingIOError, OSError):
            return False
        self.err += chunk
        return bool(chunk)

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


# ---- processes ------------------------------------------------------------------------------

def procs_named(*comms):
    """[(pid, comm, state)] of every process whose comm is one of comms."""
    found = []
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % p) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index('(') + 1:s.rindex(')')]
        if comm in comms:
            found.append((int(p), comm, s[s.rindex(')') + 2]))
    return found


AGENT_COMMS = ('pkttyagent', 'polkit-agent-he')    # comm is cut at 15 characters


def children_of(pid):
    kids = []
    for p in os.listdir('/proc'):
        if p.isdigit():
            s = proc_stat(int(p))
            if s is not None and int(s[1]) == pid:
                kids.append(int(p))
    return kids


def comm_of(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def agents_of(pid):
    return [p for p in children_of(pid) if comm_of(p) == 'pkttyagent']


# lxcbusctl under a shell that is the session leader, as on a real terminal: were lxcbusctl the leader
# itself, its death would hang up the terminal and SIGHUP the agent before it can restore the modes.
# The shell traps SIGINT (a trap is reset to the default in lxcbusctl), so that it outlives a Ctrl-C.
UNDER_SHELL = ['sh', '-c', 'trap : INT; lxcbusctl "$@"; echo "RC=$?"', 'sh']


def catches(pid, *sigs):
    """True once process pid has handlers for all of sigs (/proc/PID/status SigCgt)."""
    try:
        with open('/proc/%d/status' % pid) as f:
            mask = int(next(l for l in f if l.startswith('SigCgt:')).split()[1], 16)
    except (OSError, StopIteration):
        return False
    return all(mask & (1 << (s - 1)) for s in sigs)


def wait_agent_armed(agent):
    """pkttyagent closes its notify fd once registered, and only then saves the terminal modes and
    installs the SIGTERM/SIGINT handlers that restore them; its prompt can come first. A signal in
    between leaves echo off: wait for the handlers (a user does not type that fast)."""
    wait_for(lambda: catches(agent, 2, 15), 10, 'pkttyagent %d handling SIGINT and SIGTERM' % agent)


def lxcbusctl_under(t):
    found = [p for p in children_of(t.proc.pid) if comm_of(p) == 'lxcbusctl']
    assert len(found) == 1, children_of(t.proc.pid)
    return found[0]


def assert_no_agent_left(zombies_before):
    """No pkttyagent or polkit-agent-helper-1 anywhere (nothing else runs
    one in the test host), and no new zombie: bounded wait, as the helper
    may take a moment to see its agent gone."""
    last = {}

    def clean():
        last['agents'] = procs_named(*AGENT_COMMS)
        last['zombies'] = sorted(set(zombies()) - set(zombies_before))
        return not last['agents'] and not last['zombies']
    try:
        wait_for(clean, 10, 'no agent and no new zombie')
    except TimeoutError:
        raise AssertionError('left behind: agents %s, new zombies %s' % (last['agents'], last['zombies'])) \
            from None


def polkitd_agent_log(pid):
    """polkitd's journal lines about an authentication agent registered for
    process `pid` (unix-process:PID:START)."""
    rc, out, err = run('journalctl', '--no-pager', '-o', 'cat', '-u', 'polkit.service')
    return [l for l in out.splitlines() if 'Authentication Agent for unix-process:%d:' % pid in l]


# ---- the daemon ----------------------------------------------------------------------------

def state():
    return get_prop(PATH, INSTANCE_IFACE, 'State')


def ensure_stopped():
    if state() != 'stopped':
        call(PATH, INSTANCE_IFACE, 'Stop', V('(a{sv})', ({'timeout-sec': V('u', 0)},)), timeout=120)
    assert state() == 'stopped'


# ---- setup -----------------------------------------------------------------------------------

@test
def setup_user_password_rule_and_instance():
    ensure_user(USER)
    with open('/etc/shadow') as f:
        st['root_hash'] = next(l.split(':')[1] for l in f if l.startswith('root:'))
    rc, out, err = run('chpasswd', input='root:%s\n' % PASSWORD)
    assert rc == 0, err
    with open(RULES + '.tmp', 'w') as f:
        f.write(RULE)
    os.rename(RULES + '.tmp', RULES)

    cleanup_instance(NAME)
    create_instance(NAME)
    assert state() == 'stopped'

    # polkitd re-reads the rules on its own: wait until it says "authentication
    # required" (pkcheck: 2) instead of "no" (1) for a process of the user.
    holder = subprocess.Popen(['setpriv', '--reuid=' + USER, '--regid=' + USER, '--init-groups', '--',
                               'sleep', '600'])
    try:
        last = {}

        def rule_active():
            last['r'] = run('pkcheck', '--action-id', 'org.lxcbus1.manage', '--process', str(holder.pid))
            return last['r'][0] == 2
        try:
            wait_for(rule_active, 15, 'the rule to take effect', interval=0.3)
        except TimeoutError:
            raise AssertionError('pkcheck for %s: %s' % (USER, last.get('r'))) from None
    finally:
        holder.kill()   # by pid: the one we started
        holder.wait()


# pkttyagent, pkcheck and polkit-agent-helper-1 in the test host, without lxcbusd: the agent is
# registered for its parent (this python, as the user), which pkcheck checks with user interaction.
PROBE = r'''
import os, subprocess, sys
r, w = os.pipe()
agent = subprocess.Popen(['/usr/bin/pkttyagent', '--notify-fd', str(w)] + sys.argv[1:], pass_fds=[w])
os.close(w)
os.read(r, 1)
print('AGENT_REGISTERED', flush=True)
rc = subprocess.call(['pkcheck', '--action-id', 'org.lxcbus1.manage', '--process', str(os.getpid()),
                      '--allow-user-interaction'])
agent.terminate()
agent.wait()
print('PKCHECK_RC=%d' % rc, flush=True)
'''


@test
def pkttyagent_asks_for_root_password_in_the_test_host():
    with Terminal(['python3', '-c', PROBE]) as t:
        t.expect(rb'AGENT_REGISTERED')
        t.expect(rb'AUTHENTICATING FOR org\.lxcbus1\.manage')
        t.expect(rb'Authenticating as: root')
        t.expect(rb'Password: ')
        t.type_password(PASSWORD)
        t.expect(rb'AUTHENTICATION COMPLETE')
        t.expect(rb'PKCHECK_RC=0')
        assert t.wait() == 0, (t.out, t.err)


@test
def pkttyagent_fallback_is_ignored_without_a_session():
    """polkitd (122) takes an agent registered with "fallback" only as a
    fallback for the subject's logind session: with no session, as here,
    there is no agent at all. So lxcbusctl passes --fallback only in a
    session. Informational: a polkit that changes this is no failure."""
    with Terminal(['python3', '-c', PROBE, '--fallback']) as t:
        t.expect(rb'AGENT_REGISTERED')
        t.expect(rb'PKCHECK_RC=\d+')
        t.wait()
        print('# pkttyagent --fallback without a session: %s, %s' % (
            re.search(rb'PKCHECK_RC=\d+', t.out).group(0).decode(), t.err.decode().strip()))


# ---- (a) no terminal, or --no-ask-password ----------------------------------------------------

@test
def without_terminal_start_is_refused_and_nothing_runs():
    ensure_stopped()
    before = zombies()
    for args in (['--no-ask-password', 'start', NAME], ['start', NAME], ['start', NAME, '--no-ask-password']):
        rc, out, err = run_as_user(USER, CTL, *args)
        assert rc == 1, (args, rc, out, err)
        assert state() == 'stopped'
        assert err == 'lxcbusctl: start %s: %s\n' % (NAME, INTERACTIVE_REQUIRED), (args, err)
    assert_no_agent_left(before)


@test
def on_terminal_no_ask_password_starts_no_agent():
    ensure_stopped()
    before = zombies()
    with Terminal([CTL, '--no-ask-password', 'start', NAME]) as t:
        assert t.wait() == 1
        assert t.out == b'', t.out
        err = t.err.decode()
        assert err == 'lxcbusctl: start %s: %s\n' % (NAME, INTERACTIVE_REQUIRED), err
        assert not polkitd_agent_log(t.proc.pid), polkitd_agent_log(t.proc.pid)
    assert state() == 'stopped'
    assert_no_agent_left(before)


@test
def on_terminal_an_open_call_starts_no_agent():
    before = zombies()
    with Terminal([CTL, 'info', NAME]) as t:
        assert t.wait() == 0, t.err
        assert not polkitd_agent_log(t.proc.pid)
    assert_no_agent_left(before)


# ---- (b) the password on the terminal -------------------------------------------------------

@test
def on_terminal_root_password_starts_instance():
    ensure_stopped()
    before = zombies()
    with Terminal([CTL, 'start', NAME]) as t:
        t.expect(rb'AUTHENTICATING FOR org\.lxcbus1\.manage')
        t.expect(rb'Authenticating as: root')
        t.expect(rb'Password: ')
        # The agent is lxcbusctl's child while it asks.
        agents = agents_of(t.proc.pid)
        assert len(agents) == 1, children_of(t.proc.pid)
        t.type_password(PASSWORD)
        t.expect(rb'AUTHENTICATION COMPLETE')
        assert t.wait(180) == 0, t.err
        assert t.err == b'', t.err
        assert state() == 'running'
        assert not pid_alive(agents[0])
        assert termios.tcgetattr(t.slave) == t.termios_before
    assert_no_agent_left(before)
    ensure_stopped()


# ---- (c) a wrong password ---------------------------------------------------------------------

@test
def on_terminal_wrong_password_is_denied():
    ensure_stopped()
    before = zombies()
    with Terminal([CTL, 'start', NAME]) as t:
        t.expect(rb'Password: ')
        t.type_password('not-' + PASSWORD)
        t.expect(rb'AUTHENTICATION FAILED')
        assert t.wait(60) == 1
        # After polkit-agent-helper-1's "pam_authenticate failed: Authentication failure".
        assert t.err.decode().splitlines()[-1].startswith('lxcbusctl: start %s: access denied (' % NAME), t.err
        assert termios.tcgetattr(t.slave) == t.termios_before
    assert state() == 'stopped'
    assert_no_agent_left(before)


# ---- (d) lxcbusctl killed while the agent asks --------------------------------------------------

@test
def killed_while_asking_leaves_no_agent():
    ensure_stopped()
    before = zombies()
    with Terminal(UNDER_SHELL + ['start', NAME]) as t:
        t.expect(rb'Password: ')
        ctl = lxcbusctl_under(t)
        agents = agents_of(ctl)
        assert len(agents) == 1, children_of(ctl)
        wait_for(lambda: not termios.tcgetattr(t.slave)[3] & termios.ECHO, 10, 'echo off for the password')
        wait_agent_armed(agents[0])
        os.kill(ctl, 15)    # by pid: lxcbusctl, which we started
        t.expect(rb'RC=143')
        assert t.wait(30) == 0
        # The agent dies with its parent (PR_SET_PDEATHSIG) and gives the terminal its echo back.
        wait_for(lambda: not pid_alive(agents[0]), 10, 'pkttyagent %d gone' % agents[0])
        wait_for(lambda: termios.tcgetattr(t.slave) == t.termios_before, 10, 'terminal modes restored')
    assert state() == 'stopped'
    assert_no_agent_left(before)


@test
def ctrl_c_at_the_prompt_leaves_no_agent():
    ensure_stopped()
    before = zombies()
    with Terminal(UNDER_SHELL + ['start', NAME]) as t:
        t.expect(rb'Password: ')
        agents = agents_of(lxcbusctl_under(t))
        assert len(agents) == 1
        wait_for(lambda: not termios.tcgetattr(t.slave)[3] & termios.ECHO, 10, 'echo off for the password')
        wait_agent_armed(agents[0])
        t.send(b'\x03')    # SIGINT to the foreground process group: lxcbusctl and its agent
        t.expect(rb'RC=130')
        assert t.wait(30) == 0
        wait_for(lambda: termios.tcgetattr(t.slave) == t.termios_before, 10, 'terminal modes restored')
    assert state() == 'stopped'
    assert_no_agent_left(before)


@on_exit
def cleanup():
    cleanup_instance(NAME)
    try:
        os.unlink(RULES)
    except FileNotFoundError:
        pass
    if 'root_hash' in st:
        run('usermod', '-p', st['root_hash'], 'root')
    run('userdel', '-r', USER)


if __name__ == '__main__':
    main()
