#!/usr/bin/python3
"""Instance.PushFile and PullFile: a file into and out of stopped and running
instances, resolved inside the instance's root (symlinks and '..' planted in
the rootfs stay inside), owned by the mapped ids in an idmapped instance; the
refusals (directories, devices, FIFOs, bad fds, polkit); cancel; and
`lxcbusctl file push/pull`, `operation`, `cancel`, Ctrl-C on a terminal."""

import json
import os
import re
import stat
import subprocess
import tempfile
import threading
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
NAME = T.add(unique_name('files'))
USER = 'lxfiles'
NOBODY = 'lxfiles2'
RULES = 'lxcbus-test-files.rules'
FAILED = 'org.lxcbus1.Error.Failed'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'
CANCELLED = 'org.lxcbus1.Error.Cancelled'
st = {}


# ---- helpers ------------------------------------------------------------------------------

def rootfs(name):
    state = get_prop(MANAGER_PATH, MANAGER_IFACE, 'StateDirectory')
    return os.path.join(state, 'instances', name, 'rootfs')


def file_call(name, method, path, fd, timeout=60, **o):
    """PushFile/PullFile with fd; returns the operation path."""
    params = V('(sha{sv})', (path, 0, {k.rstrip('_').replace('_', '-'): v for k, v in o.items()}))
    return call_with_fds(instance_path(name), INSTANCE_IFACE, method, params, [fd], timeout=timeout)


def push(name, path, data, **o):
    """PushFile of data through a pipe, written by a thread (any size)."""
    r, w = os.pipe2(os.O_CLOEXEC)

    def writer():
        try:
            os.write(w, data) if len(data) < 65536 else [os.write(w, data[k:k + 65536])
                                                          for k in range(0, len(data), 65536)]
        except BrokenPipeError:
            pass
        finally:
            os.close(w)
    t = threading.Thread(target=writer)
    t.start()
    try:
        return file_call(name, 'PushFile', path, r, **o)
    finally:
        os.close(r)
        t.join()


def pull(name, path, **o):
    """PullFile into a temporary regular file; returns the bytes."""
    with tempfile.TemporaryFile() as f:
        file_call(name, 'PullFile', path, f.fileno(), **o)
        f.seek(0)
        return f.read()


def host_stat(name, path):
    s = os.lstat(rootfs(name) + path)
    return s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)


def inside_stat(name, path):
    status, sig, out = root_exec(name, ['stat', '-c', '%u %g %a', path])
    assert status == 0, (status, sig, out)
    u, g, m = out.split()
    return int(u), int(g), int(m, 8)


def no_temporaries(name, d='/'):
    left = [e for e in os.listdir(rootfs(name) + d) if e.startswith('.lxcbus-push-')]
    assert not left, 'temporary files left in %s: %s' % (d, left)


def ctl(*args, rc=0, input=None, timeout=60):
    code, out, err = run(CTL, *args, input=input, timeout=timeout)
    assert code == rc, 'lxcbusctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
        ' '.join(args), code, rc, out, err)
    return out, err


def polkit_rule(text):
    install_rule(RULES, 'polkit.addRule(function(action, subject) {\n%s\n});\n' % text)


# ---- round trips --------------------------------------------------------------------------

@test
def setup_instance():
    ensure_subids()
    create_instance(NAME)
    assert instance_prop(NAME, 'State') == 'stopped'


@test
def push_pull_stopped():
    data = os.urandom(300000) + b'end'
    op = push(NAME, '/root/blob', data, mode=V('u', 0o640), uid=V('u', 12), gid=V('u', 34))
    assert get_prop(op, OPERATION_IFACE, 'Kind') == 'push-file'
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert get_prop(op, OPERATION_IFACE, 'Bytes') == len(data)
    assert host_stat(NAME, '/root/blob') == (12, 34, 0o640)
    assert pull(NAME, '/root/blob') == data
    no_temporaries(NAME, '/root')
    # Replaced atomically, with the default mode and owner.
    push(NAME, '/root/blob', b'second\n')
    assert host_stat(NAME, '/root/blob') == (0, 0, 0o644)
    assert pull(NAME, '/root/blob') == b'second\n'


@test
def pull_reports_progress():
    op = push(NAME, '/root/big', b'x' * 1000000)
    with tempfile.TemporaryFile() as f:
        op = file_call(NAME, 'PullFile', '/root/big', f.fileno())
    assert get_prop(op, OPERATION_IFACE, 'Kind') == 'pull-file'
    assert get_prop(op, OPERATION_IFACE, 'Bytes') == 1000000
    assert get_prop(op, OPERATION_IFACE, 'Progress') == 1.0


@test
def mkdir_parents():
    expect_error(FAILED, lambda: push(NAME, '/new/dir/file', b'x'), mentions=('/new/dir/',))
    assert not os.path.exists(rootfs(NAME) + '/new')
    push(NAME, '/new/dir/file', b'made\n', mkdir_parents=V('b', True))
    assert pull(NAME, '/new/dir/file') == b'made\n'
    assert host_stat(NAME, '/new/dir') == (0, 0, 0o755)


@test
def push_pull_running():
    start_instance(NAME)
    push(NAME, '/tmp/../root/live', b'live data\n', mode=V('u', 0o600), uid=V('u', 5), gid=V('u', 6))
    assert inside_stat(NAME, '/root/live') == (5, 6, 0o600)
    status, sig, out = root_exec(NAME, ['cat', '/root/live'])
    assert out == 'live data\n', out
    # And out again: a file the instance wrote.
    status, sig, out = root_exec(NAME, ['sh', '-c', 'echo from-inside > /root/made'])
    assert pull(NAME, '/root/made') == b'from-inside\n'


@test
def symlinks_stay_inside():
    root = rootfs(NAME)
    os.symlink('/etc', root + '/evil')
    try:
        push(NAME, '/evil/lxcbus-canary', b'canary\n')
        assert os.path.exists(root + '/etc/lxcbus-canary')
        assert not os.path.exists('/etc/lxcbus-canary'), 'the push went through a symlink onto the host'
        # A final symlink to /etc/shadow is the instance's file, never the host's.
        os.symlink('/etc/shadow', root + '/shadowlink')
        try:
            data = pull(NAME, '/shadowlink')
            with open(root + '/etc/shadow', 'rb') as f:
                assert data == f.read()
        except BusError as e:
            assert e.dbus_name == FAILED, e
        with open('/etc/shadow', 'rb') as f:
            host = f.read()
        # '..' stops at the root of the instance.
        push(NAME, '/../../../../lxcbus-dotdot-canary', b'dots\n')
        assert os.path.exists(root + '/lxcbus-dotdot-canary')
        assert not os.path.exists('/lxcbus-dotdot-canary')
        assert pull(NAME, '/../etc/../../lxcbus-dotdot-canary') == b'dots\n'
        assert host not in (pull(NAME, '/etc/../../../etc/passwd'),)
    finally:
        for p in ('/evil', '/shadowlink', '/etc/lxcbus-canary', '/lxcbus-dotdot-canary'):
            try:
                os.unlink(root + p)
            except FileNotFoundError:
                pass


@test
def pull_refuses_what_is_not_a_regular_file():
    root = rootfs(NAME)
    os.mknod(root + '/tdev', stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mkfifo(root + '/tfifo')
    try:
        for path, what in (('/etc', 'a directory'), ('/tdev', 'a character device'), ('/tfifo', 'FIFO')):
            err = expect_error(FAILED, lambda: pull(NAME, path), mentions=(path,))
            assert what in err.message, err
        expect_error(FAILED, lambda: pull(NAME, '/no/such/file'), mentions=('/no/such/file',))
        # A directory at the path of a push: refused before anything is read.
        err = expect_error(FAILED, lambda: push(NAME, '/etc', b'x'), mentions=('/etc',))
        assert 'is a directory' in err.message, err
        no_temporaries(NAME)
    finally:
        os.unlink(root + '/tdev')
        os.unlink(root + '/tfifo')


@test
def bad_arguments():
    d = os.open('/', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    p = os.open('/etc/hostname', os.O_PATH | os.O_CLOEXEC)
    wo = os.open('/dev/null', os.O_WRONLY | os.O_CLOEXEC)
    ro = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)
    try:
        for fd, method, what in ((d, 'PushFile', 'a directory'), (p, 'PushFile', 'O_PATH'),
                                 (wo, 'PushFile', 'not open for reading'), (ro, 'PullFile', 'not open for writing')):
            err = expect_error(INVALID_ARGS, lambda: file_call(NAME, method, '/root/x', fd))
            assert what in err.message, err
        for bad in ('relative', '/', '/etc/', '/etc/.', '/etc/..', '', '/' + 'a' * 5000):
            expect_error(INVALID_ARGS, lambda: file_call(NAME, 'PushFile', bad, ro))
        expect_error(INVALID_ARGS, lambda: file_call(NAME, 'PushFile', '/root/x', ro, mode=V('u', 0o10000)))
        expect_error(INVALID_ARGS, lambda: file_call(NAME, 'PushFile', '/root/x', ro, uid=V('u', 2**32 - 1)))
        expect_error(INVALID_ARGS, lambda: file_call(NAME, 'PushFile', '/root/x', ro, bogus=V('b', True)))
        expect_error(INVALID_ARGS, lambda: file_call(NAME, 'PullFile', '/root/x', wo, mode=V('u', 0o644)))
        # /dev/null is an empty file.
        file_call(NAME, 'PushFile', '/root/empty', ro)
        assert pull(NAME, '/root/empty') == b''
    finally:
        for f in (d, p, wo, ro):
            os.close(f)


@test
def cancel_leaves_nothing():
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        os.write(w, b'partial')
        op = file_call(NAME, 'PushFile', '/root/cancelled', r, async_=V('b', True))
        deadline = time.monotonic() + 10 * SLOW
        while get_prop(op, OPERATION_IFACE, 'Bytes') < 7:
            assert time.monotonic() < deadline, 'no bytes reported'
            time.sleep(0.1)
        assert get_prop(op, OPERATION_IFACE, 'Cancelable')
        call(op, OPERATION_IFACE, 'Cancel')
        expect_error(CANCELLED, lambda: call(op, OPERATION_IFACE, 'Wait', timeout=30))
        assert get_prop(op, OPERATION_IFACE, 'Status') == 'cancelled'
    finally:
        os.close(r)
        os.close(w)
    assert not os.path.exists(rootfs(NAME) + '/root/cancelled')
    no_temporaries(NAME, '/root')


# ---- idmapped instances and polkit --------------------------------------------------------

@test
def idmapped_instance_as_its_user():
    add_user(USER)
    allow_user(RULES, USER)
    name = T.add(unique_name('fidm'))
    rc, out, err = retry_while_denied(
        lambda: run_as_user(USER, CTL, '--no-ask-password', 'create', name, timeout=300),
        lambda r: r[0] != 0 and 'access denied' in r[2])
    assert rc == 0, (rc, out, err)
    with open(os.path.join(rootfs(name), '..', 'lxcbus.json')) as f:
        base = json.load(f)['idmap']['uid']
    local = '/tmp/lxfiles-src'
    with open(local, 'w') as f:
        f.write('mapped\n')
    os.chmod(local, 0o644)
    rc, out, err = run_as_user(USER, CTL, '--no-ask-password', 'file', 'push', local, name + ':/home/f',
                               '--uid=1000', '--gid=1001', '--mode=0600', '-p')
    assert rc == 0, (rc, out, err)
    assert host_stat(name, '/home/f') == (base + 1000, base + 1001, 0o600)
    assert host_stat(name, '/home') == (base, base, 0o755)
    rc, out, err = run_as_user(USER, CTL, '--no-ask-password', 'start', name, timeout=120)
    assert rc == 0, (rc, out, err)
    assert inside_stat(name, '/home/f') == (1000, 1001, 0o600)
    rc, out, err = run_as_user(USER, CTL, '--no-ask-password', 'file', 'pull', name + ':/home/f', '-')
    assert rc == 0 and out == 'mapped\n', (rc, out, err)
    # An id beyond the idmap's block does not exist in the instance.
    rc, out, err = run_as_user(USER, CTL, '--no-ask-password', 'file', 'push', local, name + ':/home/g',
                               '--uid=65536')
    assert rc != 0 and 'uid 65536' in err, (rc, out, err)
    os.unlink(local)
    st['idmapped'] = name


@test
def polkit_refuses_user_without_rights():
    add_user(NOBODY)
    rc, out, err = run_as_user(NOBODY, CTL, '--no-ask-password', 'file', 'push', '/etc/hostname',
                               NAME + ':/root/denied')
    assert rc != 0 and 'access denied' in err, (rc, out, err)
    rc, out, err = run_as_user(NOBODY, CTL, '--no-ask-password', 'file', 'pull', NAME + ':/etc/hostname', '-')
    assert rc != 0 and 'access denied' in err, (rc, out, err)
    assert not os.path.exists(rootfs(NAME) + '/root/denied')
    # A rule sees the verb and the path.
    polkit_rule('    if (action.id == "org.lxcbus1.exec" && subject.user == "%s" &&\n'
                '        action.lookup("verb") == "pull-file" && action.lookup("path") == "/etc/passwd")\n'
                '        return polkit.Result.YES;' % NOBODY)
    rc, out, err = retry_while_denied(
        lambda: run_as_user(NOBODY, CTL, '--no-ask-password', 'file', 'pull', NAME + ':/etc/passwd', '-'),
        lambda r: r[0] != 0)
    assert rc == 0 and 'root:' in out, (rc, out, err)
    rc, out, err = run_as_user(NOBODY, CTL, '--no-ask-password', 'file', 'pull', NAME + ':/etc/group', '-')
    assert rc != 0 and 'access denied' in err, (rc, out, err)


# ---- lxcbusctl ------------------------------------------------------------------------------

@test
def ctl_file_push_pull():
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, 'src'), os.path.join(d, 'dst')
        with open(src, 'wb') as f:
            f.write(b'\x00binary\xff' * 1000)
        ctl('file', 'push', src, NAME + ':/root/ctl', '--mode=0755')
        assert inside_stat(NAME, '/root/ctl') == (0, 0, 0o755)
        ctl('file', 'pull', NAME + ':/root/ctl', dst)
        with open(src, 'rb') as a, open(dst, 'rb') as b:
            assert a.read() == b.read()
        # stdin and stdout
        ctl('file', 'push', '-', NAME + ':/root/stdin', input='through stdin\n')
        out, err = ctl('file', 'pull', NAME + ':/root/stdin', '-')
        assert out == 'through stdin\n', out
        # Errors: a clear message, and nothing left under a name lxcbusctl made.
        out, err = ctl('file', 'pull', NAME + ':/etc', os.path.join(d, 'x'), rc=1)
        assert 'directory' in err, err
        assert not os.path.exists(os.path.join(d, 'x'))
        out, err = ctl('file', 'push', src, 'no-colon', rc=2)
        out, err = ctl('file', 'push', src, NAME + ':relative', rc=2)
        out, err = ctl('file', 'push', src, NAME + ':/x', '--mode=9', rc=2)
        out, err = ctl('file', 'copy', rc=2)
        out, err = ctl('file', 'push', src, 'nosuch-instance:/x', rc=4)


@test
def ctl_operation_and_cancel():
    out, err = ctl('start', NAME)     # running: a finished no-op operation
    out, err = ctl('stop', NAME, '--async')
    op = out.strip()
    assert op.startswith('/org/lxcbus1/operation/'), out
    opid = op.rsplit('/', 1)[1]
    out, err = ctl('operation', '--wait', opid, timeout=120)
    assert 'Status: success' in out and 'Kind: stop' in out, out
    out, err = ctl('operation', op)
    assert 'Path: ' + op in out, out
    out, err = ctl('operation', 'nonsense', rc=2)
    out, err = ctl('cancel', op, rc=1)       # finished already
    assert 'finished' in err, err

    # cancel ID of a push that waits for its input
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        op = file_call(NAME, 'PushFile', '/root/waiting', r, async_=V('b', True))
        ctl('cancel', op.rsplit('/', 1)[1])
        out, err = ctl('operation', '--wait', op, rc=1)
        assert 'cancelled' in out + err, (out, err)
    finally:
        os.close(r)
        os.close(w)
    no_temporaries(NAME, '/root')


@test
def ctl_ctrl_c_cancels_and_progress_on_a_terminal():
    # stdin is the terminal: lxcbusctl relays it, the push waits for more; Ctrl-C cancels.
    with Terminal([CTL, 'file', 'push', '-', NAME + ':/root/tty']) as t:
        t.send(b'typed\n')
        t.expect(rb'pushing')
        t.send(b'\x03')
        t.expect(rb'cancelling operation \d+')
        rc = t.wait(timeout=30)
        assert rc == 1, rc
    assert not os.path.exists(rootfs(NAME) + '/root/tty')
    no_temporaries(NAME, '/root')
    # Not a terminal: quick work stays quiet, long work gets a plain line per stage.
    out, err = ctl('start', NAME, timeout=120)
    assert err == '', err
    p = subprocess.Popen([CTL, 'file', 'push', '-', NAME + ':/root/slow'], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b'slow\n')
    p.stdin.flush()
    time.sleep(6)
    p.stdin.close()
    err = p.stderr.read().decode()
    assert p.wait(30) == 0, err
    assert re.search(r'^operation \d+: pushing', err, re.M), err
    assert pull(NAME, '/root/slow') == b'slow\n'


@test
def daemon_survived():
    check_daemon_alive()


@on_exit
def cleanup():
    T.cleanup()
    remove_rule(RULES)
    remove_users()
    restore_subids()


if __name__ == '__main__':
    main()
