#!/usr/bin/python3
"""lxcbusctl -H [USER@]HOST: the test host's own lxcbusd driven over SSH, as
systemctl -H does (ssh HOST systemd-stdio-bridge). An sshd of this file's own
listens on 127.0.0.1:22 of the test host's private network namespace, with a
host key and authorized keys made here; root's ~/.ssh is the test host's
private /root. What a user sees: list, info, create, start, stop, config,
snapshots and metrics work remotely (a privileged and an idmapped instance);
the verbs that pass file descriptors say that they need a local connection
before they touch anything; a host that cannot be reached says so; polkit
judges the remote user and never asks for a password."""

import json
import os
import shutil
import socket
import subprocess
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
NAME = unique_name('rem')
IDM = unique_name('remidm')
USER = 'remoteuser'
HOST = 'root@127.0.0.1'
SSHD_DIR = '/run/lxcbus-test-remote'      # the test host's private /run
SSH_DIR = '/root/.ssh'                    # the test host's private /root
st = {}


def ctl(*args, rc=0, timeout=120):
    """lxcbusctl -H HOST ARGS; assert its exit status; return (stdout, stderr)."""
    code, out, err = run(CTL, '-H', HOST, *args, timeout=timeout)
    if rc is not None:
        assert code == rc, 'lxcbusctl -H %s %s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
            HOST, ' '.join(args), code, rc, out, err)
    return out, err


def keygen(path):
    rc, out, err = run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lxcbus-test', '-f', path)
    assert rc == 0, 'ssh-keygen: %s' % err
    with open(path + '.pub') as f:
        return f.read().strip()


def sshd_listens():
    try:
        socket.create_connection(('127.0.0.1', 22), timeout=1).close()
        return True
    except OSError:
        return False


def write(path, text, mode=0o600):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def logins():
    """The connections our sshd has accepted so far (its log, at LogLevel INFO)."""
    return (file_text(SSHD_DIR + '/sshd.log') or '').count('Accepted publickey')


# ---- the SSH server and client -------------------------------------------------------------

@test
def sshd_on_loopback():
    assert os.path.exists('/usr/sbin/sshd'), 'openssh-server is missing (tests/install-deps.sh)'
    assert shutil.which('systemd-stdio-bridge') or os.path.exists('/usr/bin/systemd-stdio-bridge')
    assert not sshd_listens(), 'something listens on 127.0.0.1:22 of the test host already'
    shutil.rmtree(SSHD_DIR, ignore_errors=True)
    os.makedirs(SSHD_DIR, mode=0o755)      # sshd reads authorized_keys as the user logging in
    os.makedirs('/run/sshd', mode=0o755, exist_ok=True)   # sshd's privilege separation directory
    os.makedirs(SSH_DIR, mode=0o700, exist_ok=True)
    os.chmod(SSH_DIR, 0o700)

    host_pub = keygen(SSHD_DIR + '/host_key')
    client_pub = keygen(SSH_DIR + '/id_ed25519')
    write(SSHD_DIR + '/authorized_keys', client_pub + '\n', 0o644)
    write(SSH_DIR + '/known_hosts', '127.0.0.1 %s\n' % host_pub)
    # Never a prompt: a test has no terminal to answer one on.
    write(SSH_DIR + '/config', 'Host 127.0.0.1\n  BatchMode yes\n  StrictHostKeyChecking yes\n')

    # sshd without PAM (logind is masked here); the same authorized keys for every user, in a file of
    # ours, so that a test user needs no ~/.ssh.
    st['sshd'] = subprocess.Popen(
        ['/usr/sbin/sshd', '-D', '-e', '-f', '/dev/null', '-h', SSHD_DIR + '/host_key',
         '-o', 'ListenAddress=127.0.0.1', '-o', 'Port=22', '-o', 'UsePAM=no', '-o', 'StrictModes=no',
         '-o', 'PidFile=none', '-o', 'AuthorizedKeysFile=' + SSHD_DIR + '/authorized_keys',
         '-o', 'PermitRootLogin=prohibit-password', '-o', 'LogLevel=INFO'],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(SSHD_DIR + '/sshd.log', 'w'))
    wait_for(lambda: st['sshd'].poll() is None and sshd_listens(), 15 * SLOW, 'sshd on 127.0.0.1:22')

    # The bridge as sd-bus runs it: the remote side answers with the test host's system bus.
    rc, out, err = run('ssh', HOST, 'busctl', 'status', '--no-pager', 'org.lxcbus1', timeout=30)
    assert rc == 0, 'ssh %s busctl: %s\nsshd: %s' % (HOST, err, file_text(SSHD_DIR + '/sshd.log'))


@on_exit
def stop_sshd():
    stop_process(st.get('sshd'))
    shutil.rmtree(SSHD_DIR, ignore_errors=True)
    shutil.rmtree(SSH_DIR, ignore_errors=True)


on_exit(T.cleanup)
on_exit(remove_users)
on_exit(restore_subids)


# ---- what works remotely -------------------------------------------------------------------

@test
def create_start_list_info_stop_remotely():
    T.add(NAME)
    out, err = ctl('create', NAME, '--config=description=made over ssh', timeout=300)
    assert instance_prop(NAME, 'State') == 'stopped'

    out, err = ctl('start', NAME)
    assert instance_prop(NAME, 'State') == 'running'
    pid = instance_prop(NAME, 'Pid')

    # Both spellings, before and after the verb.
    code, out, err = run(CTL, 'list', '--host=' + HOST)
    assert code == 0, err
    row = [l.split() for l in out.splitlines() if l.split()[:1] == [NAME]]
    assert row and row[0][1] == 'running' and row[0][2] == str(pid), out

    out, err = ctl('list', '--json')
    mine = [o for o in json.loads(out) if o['name'] == NAME]
    assert mine and mine[0]['state'] == 'running' and mine[0]['unit'] == 'lxcbus-%s.scope' % NAME, mine

    out, err = ctl('info', NAME)
    assert NAME in out and 'running' in out, out
    out, err = ctl('info', NAME, '--json')
    assert json.loads(out) and 'running' in out, out

    out, err = ctl('config', NAME, 'show')
    assert 'made over ssh' in out, out
    out, err = ctl('metrics')
    assert NAME in out, out[:2000]

    out, err = ctl('stop', NAME, '--timeout=10')
    assert instance_prop(NAME, 'State') == 'stopped'


@test
def snapshots_remotely():
    ctl('snapshot', NAME, 'before')
    out, err = ctl('snapshots', NAME)
    assert any(l.split()[:1] == ['before'] for l in out.splitlines()), out
    ctl('snapshot-delete', NAME, 'before')


@test
def idmapped_instance_remotely():
    ensure_subids()
    T.add(IDM)
    ctl('create', IDM, '--config=security.privileged=false', timeout=300)
    assert idmap_base(IDM) is not None, 'not idmapped: %r' % metadata(IDM)
    ctl('start', IDM)
    pid = instance_prop(IDM, 'Pid')
    # Its init runs as the block's base on this host.
    with open('/proc/%d/status' % pid) as f:
        uid = [l.split()[1] for l in f if l.startswith('Uid:')][0]
    assert int(uid) == idmap_base(IDM), (uid, idmap_base(IDM))
    out, err = ctl('info', IDM)
    assert 'running' in out, out
    ctl('stop', IDM, '--timeout=10')
    assert instance_prop(IDM, 'State') == 'stopped'
    ctl('delete', IDM)
    assert not instance_exists(IDM)


@test
def errors_of_the_daemon_come_through():
    out, err = ctl('start', 'no-such-instance-here', rc=4)
    assert 'no-such-instance-here' in err, err


# ---- what needs a local connection ---------------------------------------------------------

@test
def fd_passing_verbs_are_refused_before_anything():
    local = SSHD_DIR + '/pulled'
    write(local, 'keep me\n')
    cases = [
        ('exec', NAME, '--', 'true'),
        ('console', NAME),
        ('console-log', NAME),
        ('file', 'push', local, NAME + ':/tmp/x'),
        ('file', 'pull', NAME + ':/etc/hostname', local),
        ('import', unique_name('remimp'), local),
        ('export', NAME, local),
    ]
    before = logins()
    assert before > 0, 'the log counts no login: %s' % file_text(SSHD_DIR + '/sshd.log')
    for args in cases:
        t0 = time.monotonic()
        code, out, err = run(CTL, '-H', HOST, *args)
        assert code == 2, '%s: exit %d (expected 2, usage)\n%s' % (args, code, err)
        assert "'%s' needs a local connection" % args[0] in err and 'file descriptors' in err, err
        assert HOST in err, err
        assert not out, out
        took = time.monotonic() - t0
        assert took < 5 * SLOW, '%s took %.1fs: it went to the host' % (args, took)
    # -H after the verb is the same.
    code, out, err = run(CTL, 'export', '--host=' + HOST, NAME, local)
    assert code == 2 and 'needs a local connection' in err, (code, err)
    # Nothing was opened for writing, nothing was called.
    assert file_text(local) == 'keep me\n', file_text(local)
    assert logins() == before, file_text(SSHD_DIR + '/sshd.log')
    # The same verbs still work locally.
    code, out, err = run(CTL, 'export', NAME, SSHD_DIR + '/local.tar')
    assert code == 0 and os.path.getsize(SSHD_DIR + '/local.tar') > 0, err


# ---- what fails ----------------------------------------------------------------------------

@test
def unreachable_host_says_so():
    t0 = time.monotonic()
    code, out, err = run(CTL, '-H', 'root@127.0.0.1:1', 'list', timeout=60)
    assert code == 1, (code, err)
    assert 'Failed to reach the system bus of root@127.0.0.1:1 over SSH' in err, err
    assert 'Connection refused' in err, err     # ssh's own line, above ours
    assert not out, out
    assert time.monotonic() - t0 < 20 * SLOW

    # A host key that does not match: ssh refuses, and so do we.
    code, out, err = run(CTL, '-H', 'root@localhost', 'list', timeout=60)
    assert code == 1 and 'over SSH' in err, (code, err)


@test
def bad_host_arguments_are_usage_errors():
    for args, words in [(('-H', '', 'list'), 'Empty host'),
                        (('-H', 'a:b/c', 'list'), "Invalid host 'a:b/c'"),
                        (('--address=unix:path=/run/dbus/system_bus_socket', '-H', HOST, 'list'),
                         'cannot be used together'),
                        (('-H', HOST, 'list', '--address=unix:path=/x'), 'cannot be used together')]:
        code, out, err = run(CTL, *args)
        assert code == 2 and words in err, (args, code, err)


@test
def host_wins_over_the_environment_address():
    # $LXCBUS_BUS_ADDRESS is a default, which -H overrides.
    code, out, err = run(CTL, '-H', HOST, 'list', env={'LXCBUS_BUS_ADDRESS': 'unix:path=/nonexistent'})
    assert code == 0 and NAME in out, (code, err)


@test
def polkit_judges_the_remote_user_without_asking():
    add_user(USER)
    # useradd locks the password ('!'), and sshd without PAM refuses a locked account even with a key.
    rc, out, err = run('usermod', '-p', '*', USER)
    assert rc == 0, err
    # Reading is open to every user.
    code, out, err = run(CTL, '-H', USER + '@127.0.0.1', 'list', timeout=60)
    assert code == 0 and NAME in out, (code, out, err, file_text(SSHD_DIR + '/sshd.log')[-2000:])
    # Starting is not, and nobody is asked for a password: a prompt would hang until the timeout.
    t0 = time.monotonic()
    code, out, err = run(CTL, '-H', USER + '@127.0.0.1', 'start', NAME, timeout=60)
    assert code == 1 and 'access denied' in err, (code, err)
    assert time.monotonic() - t0 < 20 * SLOW
    assert instance_prop(NAME, 'State') == 'stopped'


@test
def completion_reads_names_over_the_same_host():
    """The bash completion lists instances over the -H on the line being completed."""
    before = logins()
    rc, out, err = run('bash', '--norc', '--noprofile', '-c',
                       'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
                       '_lxcbusctl; printf "%s\\n" "${COMPREPLY[@]}"',
                       'bash', '/usr/share/bash-completion/completions/lxcbusctl',
                       'lxcbusctl', '-H', HOST, 'start', NAME[:-2])
    assert rc == 0 and out.split() == [NAME], (rc, out, err)
    assert logins() == before + 1, 'the names did not come over SSH'


if __name__ == '__main__':
    main()
