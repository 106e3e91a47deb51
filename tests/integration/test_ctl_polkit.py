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

import contextlib
import os
import re
import subprocess
import termios

from lxcbustest import *
from lxcbushelp import *

USER = 'lxctlpk'
PASSWORD = 'Pk-root-5ecret'
RULES = '/etc/polkit-1/rules.d/50-ctl.rules'
NAME = unique_name('ctlpk')
PATH = instance_path(NAME)
INTERACTIVE_REQUIRED_TEXT = 'access denied (interactive authentication required; ' \
                            'run on a terminal without --no-ask-password, or as root)'

# The admin is root (not the members of group sudo, as 50-default.rules has
# it), so that the agent asks for one password and no choice of identity.
RULE = '''
polkit.addAdminRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") == 0)
        return ["unix-user:0"];
});
polkit.addRule(function(action, subject) {
    if ((action.id == "org.lxcbus1.manage" || action.id == "org.lxcbus1.exec") && subject.user == "%s")
        return polkit.Result.AUTH_ADMIN;
});
''' % USER

st = {}


def terminal(cmd):
    """CMD as USER on a terminal (Terminal) whose slave the user
    owns, as after a login; stderr a pipe."""
    add_user(USER)
    return Terminal(cmd, user=USER, stderr_pipe=True)


# ---- processes ------------------------------------------------------------------------------

AGENT_COMMS = ('pkttyagent', 'polkit-agent-he')    # comm is cut at 15 characters


def children_of(pid, comm=None):
    """The child processes of pid (only those called comm)."""
    return [p for p, c, s, ppid in processes() if ppid == pid and comm in (None, c)]


def agents_of(pid):
    return children_of(pid, 'pkttyagent')


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
    found = children_of(t.proc.pid, 'lxcbusctl')
    assert len(found) == 1, children_of(t.proc.pid)
    return found[0]


@contextlib.contextmanager
def no_agent_left():
    """After the with-block: no pkttyagent or polkit-agent-helper-1
    anywhere (nothing else runs one in the test host), and no new zombie:
    bounded wait, as the helper may take a moment to see its agent gone."""
    zombies_before = zombies()
    yield
    last = {}

    def clean():
        last['agents'] = [(p, c, s) for p, c, s, ppid in processes() if c in AGENT_COMMS]
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
    add_user(USER)
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
    with terminal(['python3', '-c', PROBE]) as t:
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
    with terminal(['python3', '-c', PROBE, '--fallback']) as t:
        t.expect(rb'AGENT_REGISTERED')
        t.expect(rb'PKCHECK_RC=\d+')
        t.wait()
        print('# pkttyagent --fallback without a session: %s, %s' % (
            re.search(rb'PKCHECK_RC=\d+', t.out).group(0).decode(), t.err.decode().strip()))


# ---- (a) no terminal, or --no-ask-password ----------------------------------------------------

@test
def without_terminal_start_is_refused_and_nothing_runs():
    ensure_stopped()
    with no_agent_left():
        for args in (['--no-ask-password', 'start', NAME], ['start', NAME],
                     ['start', NAME, '--no-ask-password']):
            rc, out, err = run_as_user(USER, CTL, *args)
            assert rc == 1, (args, rc, out, err)
            assert state() == 'stopped'
            assert err == 'lxcbusctl: start %s: %s\n' % (NAME, INTERACTIVE_REQUIRED_TEXT), (args, err)


@test
def on_terminal_no_ask_password_starts_no_agent():
    ensure_stopped()
    with no_agent_left(), terminal([CTL, '--no-ask-password', 'start', NAME]) as t:
        assert t.wait() == 1
        assert t.out == b'', t.out
        err = t.err.decode()
        assert err == 'lxcbusctl: start %s: %s\n' % (NAME, INTERACTIVE_REQUIRED_TEXT), err
        assert not polkitd_agent_log(t.proc.pid), polkitd_agent_log(t.proc.pid)
    assert state() == 'stopped'


@test
def on_terminal_an_open_call_starts_no_agent():
    with no_agent_left(), terminal([CTL, 'info', NAME]) as t:
        assert t.wait() == 0, t.err
        assert not polkitd_agent_log(t.proc.pid)


# ---- (b) the password on the terminal -------------------------------------------------------

@test
def on_terminal_root_password_starts_instance():
    ensure_stopped()
    with no_agent_left(), terminal([CTL, 'start', NAME]) as t:
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
    ensure_stopped()


@test
def on_terminal_password_then_exec_gets_the_terminal():
    # exec on a terminal: the agent asks first (the message shows the command line), is gone when
    # ExecPty answers, and the command then has the terminal (-t is the default on a tty), our size.
    if state() != 'running':
        call(PATH, INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)), timeout=120)
    script = 'tty; stty size; echo done-$((6 * 7))'
    with no_agent_left(), terminal([CTL, 'exec', NAME, '--', 'sh', '-c', script]) as t:
        t.expect(rb'AUTHENTICATING FOR org\.lxcbus1\.exec')
        quoted = "sh -c '%s'" % script
        t.expect(re.escape(("run '%s' in the container instance '%s'" % (quoted, NAME)).encode()))
        t.expect(rb'Password: ')
        agents = agents_of(t.proc.pid)
        assert len(agents) == 1, children_of(t.proc.pid)
        t.type_password(PASSWORD)
        t.expect(rb'AUTHENTICATION COMPLETE')
        t.expect(rb'/dev/pts/\d+')
        t.expect(rb'24 80')
        t.expect(rb'done-42')
        assert t.wait(60) == 0, t.err
        assert not pid_alive(agents[0])
        t.wait_modes_restored()
    ensure_stopped()


# ---- (c) a wrong password ---------------------------------------------------------------------

@test
def on_terminal_wrong_password_is_denied():
    ensure_stopped()
    with no_agent_left(), terminal([CTL, 'start', NAME]) as t:
        t.expect(rb'Password: ')
        t.type_password('not-' + PASSWORD)
        t.expect(rb'AUTHENTICATION FAILED')
        assert t.wait(60) == 1
        # After polkit-agent-helper-1's "pam_authenticate failed: Authentication failure".
        assert t.err.decode().splitlines()[-1].startswith('lxcbusctl: start %s: access denied (' % NAME), t.err
        assert termios.tcgetattr(t.slave) == t.termios_before
    assert state() == 'stopped'


# ---- (d) lxcbusctl killed while the agent asks --------------------------------------------------

def interrupted_at_the_prompt(interrupt, rc):
    """lxcbusctl start under UNDER_SHELL, interrupt(t, lxcbusctl_pid) while its agent asks: the shell
    sees exit status rc; the agent is gone, the terminal modes are restored, the instance did not
    start, and no agent or zombie is left."""
    ensure_stopped()
    with no_agent_left(), terminal(UNDER_SHELL + ['start', NAME]) as t:
        t.expect(rb'Password: ')
        ctl = lxcbusctl_under(t)
        agents = agents_of(ctl)
        assert len(agents) == 1, children_of(ctl)
        t.wait_echo_off()
        wait_agent_armed(agents[0])
        interrupt(t, ctl)
        t.expect(rb'RC=%d' % rc)
        assert t.wait(30) == 0
        # The agent dies with its parent (PR_SET_PDEATHSIG) and gives the terminal its echo back.
        wait_for(lambda: not pid_alive(agents[0]), 10, 'pkttyagent %d gone' % agents[0])
        t.wait_modes_restored()
    assert state() == 'stopped'


@test
def killed_while_asking_leaves_no_agent():
    interrupted_at_the_prompt(lambda t, ctl: os.kill(ctl, 15), 143)    # by pid: lxcbusctl, which we started


@test
def ctrl_c_at_the_prompt_leaves_no_agent():
    # SIGINT to the foreground process group: lxcbusctl and its agent
    interrupted_at_the_prompt(lambda t, ctl: t.send(b'\x03'), 130)


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
