#!/usr/bin/python3
"""Instance.Exec and org.lxcbus1.Process: stdio passed as fds, exit status and
signals, environment, uid, cgroup, errors, no leaks; and `lxcbusctl exec`."""

import fcntl
import hashlib
import os
import selectors
import threading
import time

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('exec')
PATH = instance_path(NAME)
INVALID_STATE = 'org.lxcbus1.Error.InvalidState'


def start():
    call(PATH, INSTANCE_IFACE, 'Start', opts(), timeout=120)
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'


def exec_call(argv, env=None, fds=(None, None, None), options=None, path=PATH):
    """Instance.Exec with the given three fds (None: /dev/null, read-only for
    stdin, write-only for the others); returns the process object path. The
    fds are duplicated into the message; the caller keeps its own."""
    return exec_start(path, argv, *fds, env=env, options=options)


def communicate(stdin_w, data, out_r, err_r, timeout=60):
    """Write data to stdin_w (then close it), read out_r and err_r to EOF, all
    at once; returns (out, err) bytes. Closes the fds."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for fd in (out_r, err_r):
        if fd is not None:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
            bufs[fd] = []
    view = memoryview(data or b'')
    if stdin_w is not None:
        if len(view) == 0:
            os.close(stdin_w)
            stdin_w = None
        else:
            os.set_blocking(stdin_w, False)
            sel.register(stdin_w, selectors.EVENT_WRITE)
    deadline = time.monotonic() + timeout * SLOW
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            assert left > 0, 'timed out reading the process output (got %d bytes so far)' % sum(
                sum(len(b) for b in v) for v in bufs.values())
            for key, ev in sel.select(min(left, 1)):
                fd = key.fd
                if fd == stdin_w:
                    try:
                        n = os.write(fd, view[:65536])
                    except BrokenPipeError:
                        n = len(view)
                    view = view[n:]
                    if len(view) == 0:
                        sel.unregister(fd)
                        os.close(fd)
                        stdin_w = None
                else:
                    b = os.read(fd, 65536)
                    if b:
                        bufs[fd].append(b)
                    else:
                        sel.unregister(fd)
                        os.close(fd)
    finally:
        for fd in list(sel.get_map()):
            sel.unregister(fd)
            os.close(fd)
        sel.close()
    return (b''.join(bufs.get(out_r, [])) if out_r is not None else b'',
            b''.join(bufs.get(err_r, [])) if err_r is not None else b'')


def run_exec(argv, input=b'', env=None, options=None, timeout=60):
    """Exec argv with pipes for all three fds; returns
    (status, signal, stdout, stderr, process_path)."""
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = exec_call(argv, env, (in_r, out_w, err_w), options)
    except BaseException:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    out, err = communicate(in_w, input, out_r, err_r, timeout)
    status, sig = call(proc, PROCESS_IFACE, 'Wait', timeout=timeout)
    return status, sig, out, err, proc


def sh(script, **kw):
    """stdout of sh -c script (asserting exit 0 and no stderr)."""
    status, sig, out, err, proc = run_exec(['sh', '-c', script], **kw)
    assert (status, sig) == (0, 0), 'sh -c %r: (%d, %d), stderr %r' % (script, status, sig, err)
    return out.decode()


def ctl(*args, input=None, timeout=60):
    return run(CTL, *args, input=input, timeout=timeout)


# ---- setup ----------------------------------------------------------------------------------

@test
def setup_running_instance():
    cleanup_instance(NAME)
    create_instance(NAME)
    start()


# ---- stdio, status, signals --------------------------------------------------------------

@test
def stdout_and_stderr_arrive_separately():
    with Signals(iface=PROCESS_IFACE, member='Exited') as exited, \
            Signals(iface=OPERATION_IFACE, member='Completed') as completed:
        status, sig, out, err, proc = run_exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])
        assert out == b'out\n', out
        assert err == b'err\n', err
        assert (status, sig) == (3, 0), (status, sig)
        exited.wait(lambda s: s.path == proc, what='Exited on %s' % proc)
        assert [s.args for s in exited.matching(lambda s: s.path == proc)] == [(3, 0)], exited.events
        completed.wait(lambda s: s.path == proc, what='Completed on %s' % proc)
    assert proc.startswith('/org/lxcbus1/operation/'), proc
    assert get_prop(proc, PROCESS_IFACE, 'ExitStatus') == 3
    assert get_prop(proc, PROCESS_IFACE, 'ExitSignal') == 0
    assert get_prop(proc, PROCESS_IFACE, 'Command') == ['sh', '-c', 'echo out; echo err >&2; exit 3']
    assert get_prop(proc, OPERATION_IFACE, 'Kind') == 'exec'
    assert get_prop(proc, OPERATION_IFACE, 'Status') == 'success'
    assert get_prop(proc, OPERATION_IFACE, 'Instance') == PATH
    # A late Wait still answers, at once.
    assert call(proc, PROCESS_IFACE, 'Wait', timeout=10) == (3, 0)


@test
def stdin_eof_reaches_the_process():
    status, sig, out, err, proc = run_exec(['cat'], input=b'hello\n')
    assert out == b'hello\n', out
    assert (status, sig) == (0, 0), (status, sig, err)


@test
def large_transfer_arrives_intact():
    data = os.urandom(8 << 20)
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = exec_call(['cat'], fds=(in_r, out_w, None))
    finally:
        os.close(in_r)
        os.close(out_w)

    def writer():
        try:
            with os.fdopen(in_w, 'wb') as f:
                f.write(data)
        except BrokenPipeError:
            pass
    t = threading.Thread(target=writer)
    t.start()
    h = hashlib.sha256()
    n = 0
    with os.fdopen(out_r, 'rb') as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    t.join(60)
    assert n == len(data), 'got %d bytes of %d' % (n, len(data))
    assert h.hexdigest() == hashlib.sha256(data).hexdigest(), 'data differs'
    assert call(proc, PROCESS_IFACE, 'Wait') == (0, 0)


@test
def environment():
    assert sh('echo $FOO', env={'FOO': 'bar'}) == 'bar\n'
    call(PATH, INSTANCE_IFACE, 'SetConfig', V('(a{ss}asa{sv})', ({'environment.GREETING': 'hi'}, [], {})))
    assert sh('echo "[$GREETING]"') == '[hi]\n'
    # The call's env wins over the instance's.
    assert sh('echo "[$GREETING]"', env={'GREETING': 'call'}) == '[call]\n'
    assert sh('echo "[$GREETING]"', options={'env-clear': V('b', True)}) == '[]\n'
    assert sh('echo "$PATH"') == '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
    assert sh('echo "$HOME"') == '/root\n'
    assert sh('pwd') == '/root\n'
    assert sh('pwd', options={'cwd': V('s', '/tmp')}) == '/tmp\n'
    call(PATH, INSTANCE_IFACE, 'SetConfig', V('(a{ss}asa{sv})', ({}, ['environment.GREETING'], {})))
    assert sh('echo "[$GREETING]"') == '[]\n'


@test
def uid_and_gid():
    assert sh('id -u', options={'uid': V('u', 1000)}) == '1000\n'
    assert sh('id -g', options={'uid': V('u', 1000), 'gid': V('u', 1001)}) == '1001\n'
    assert sh('id -u; id -g') == '0\n0\n'
    # HOME=/ for a uid other than 0, and so the default cwd.
    assert sh('echo "$HOME"; pwd', options={'uid': V('u', 1000)}) == '/\n/\n'


@test
def signal_kills_the_process():
    proc = exec_call(['sleep', '100'])
    assert get_prop(proc, PROCESS_IFACE, 'ExitStatus') == -1
    assert get_prop(proc, PROCESS_IFACE, 'ExitSignal') == 0
    assert get_prop(proc, OPERATION_IFACE, 'Status') == 'running'
    with Signals(path=proc, iface=PROCESS_IFACE, member='Exited') as exited:
        call(proc, PROCESS_IFACE, 'Signal', V('(i)', (15,)))
        assert call(proc, PROCESS_IFACE, 'Wait', timeout=30) == (-1, 15)
        exited.wait(what='Exited')
        assert exited.events[0].args == (-1, 15), exited.events
    assert get_prop(proc, PROCESS_IFACE, 'ExitSignal') == 15
    assert get_prop(proc, PROCESS_IFACE, 'ExitStatus') == -1
    assert get_prop(proc, OPERATION_IFACE, 'Status') == 'success'
    with raises_dbus(INVALID_STATE):
        call(proc, PROCESS_IFACE, 'Signal', V('(i)', (15,)))


@test
def signal_bad_number():
    proc = exec_call(['sleep', '100'])
    try:
        for sig in (0, -1, 65, 1000):
            with raises_dbus(INVALID_ARGS):
                call(proc, PROCESS_IFACE, 'Signal', V('(i)', (sig,)))
    finally:
        call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,)))
    assert call(proc, PROCESS_IFACE, 'Wait') == (-1, 9)


@test
def pid_is_in_the_payload_cgroup():
    proc = exec_call(['sleep', '100'])
    try:
        pid = get_prop(proc, PROCESS_IFACE, 'Pid')
        assert pid > 0
        assert os.path.exists('/proc/%d' % pid), 'pid %d does not exist' % pid
        def describe(p):
            try:
                with open('/proc/%d/stat' % p) as f:
                    st = f.read().split()
                with open('/proc/%d/cmdline' % p, 'rb') as f:
                    cl = f.read()
                return 'pid %d: stat %s ppid %s cmdline %r' % (p, ' '.join(st[1:3]), st[3], cl)
            except OSError as e:
                return 'pid %d: %s' % (p, e)
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            cmdline = f.read().split(b'\0')
        if not (b'sleep' in cmdline[0] and b'100' in cmdline):
            time.sleep(0.5)
            rc, ps, _ = run('sh', '-c', 'ps -eo pid,ppid,stat,comm,args | grep -E "sleep|lxcbus|PID" | grep -v grep')
            raise AssertionError('Pid %d is not "sleep 100": %s, after 0.5 s: %s; ps:\n%s' % (
                pid, cmdline, describe(pid), ps))
        with open('/proc/%d/cgroup' % pid) as f:
            lines = f.read().splitlines()
        cg = [l.split(':', 2)[2] for l in lines if l.split(':', 2)[1] == 'name=systemd'] or \
             [l.split(':', 2)[2] for l in lines if l.startswith('0::')]
        want = '/machine.slice/lxcbus-%s.scope/lxc.payload.%s' % (NAME, NAME)
        assert cg and want in cg[0], 'pid %d in %s, expected %s' % (pid, lines, want)
        # Same pid namespace as the instance's init.
        init = get_prop(PATH, INSTANCE_IFACE, 'Pid')
        assert os.readlink('/proc/%d/ns/pid' % pid) == os.readlink('/proc/%d/ns/pid' % init)
        assert os.readlink('/proc/%d/ns/mnt' % pid) == os.readlink('/proc/%d/ns/mnt' % init)
    finally:
        call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,)))
    assert call(proc, PROCESS_IFACE, 'Wait') == (-1, 9)


@test
def missing_program_exits_127():
    status, sig, out, err, proc = run_exec(['/no/such/program'])
    assert (status, sig) == (127, 0), (status, sig, err)
    status, sig, out, err, proc = run_exec(['no-such-program-in-path'])
    assert (status, sig) == (127, 0), (status, sig, err)


# ---- errors -----------------------------------------------------------------------------------

@test
def invalid_arguments():
    with raises_dbus(INVALID_ARGS):
        exec_call([])
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], options={'no-such-option': V('b', True)})
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], options={'uid': V('s', '1000')})   # wrong variant type
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], env={'A=B': 'x'})
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], env={'1X': 'x'})
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], env={'': 'x'})
    with raises_dbus(INVALID_ARGS):
        exec_call(['x'] * 1025)
    with raises_dbus(INVALID_ARGS):
        exec_call(['true'], env={'V%d' % i: 'x' for i in range(257)})
    # argv and env together over 32 KiB (bus-limits.h): a limit, named in the message.
    with raises_dbus('org.lxcbus1.Error.LimitsExceeded') as e:
        exec_call(['echo', 'x' * (32 * 1024)])
    assert '32768' in e.error.message, e.error.message


@test
def invalid_fds():
    wo = os.open('/dev/null', os.O_WRONLY)
    ro = os.open('/dev/null', os.O_RDONLY)
    try:
        with raises_dbus(INVALID_ARGS):
            exec_call(['true'], fds=(wo, None, None))      # stdin not readable
        with raises_dbus(INVALID_ARGS):
            exec_call(['true'], fds=(None, ro, None))      # stdout not writable
        with raises_dbus(INVALID_ARGS):
            exec_call(['true'], fds=(None, None, ro))      # stderr not writable
        # The read end of a pipe as stdout is not writable either.
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            with raises_dbus(INVALID_ARGS):
                exec_call(['true'], fds=(None, r, None))
        finally:
            os.close(r)
            os.close(w)
    finally:
        os.close(wo)
        os.close(ro)


@test
def exec_on_frozen_instance():
    call(PATH, INSTANCE_IFACE, 'Freeze')
    try:
        assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'frozen'
        with raises_dbus(INVALID_STATE):
            exec_call(['true'])
    finally:
        call(PATH, INSTANCE_IFACE, 'Unfreeze')
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'running'
    assert sh('echo thawed') == 'thawed\n'


# ---- resources --------------------------------------------------------------------------------

@test
def no_leaks_over_200_execs():
    pid = running_daemon_pid()

    def rounds(n):
        for _ in range(n):
            proc = exec_call(['true'])
            assert call(proc, PROCESS_IFACE, 'Wait') == (0, 0)
    rounds(20)
    before = proc_fds(pid)
    rounds(200)
    # Give the daemon a moment for cleanups it defers (finished operations linger, but hold no fd).
    try:
        wait_for(lambda: len(proc_fds(pid)) <= len(before), 10, 'fd count back to %d' % len(before))
    except TimeoutError:
        pass
    after = proc_fds(pid)
    # "before" may still hold the socket of the last warm-up exec's worker, so fewer is fine
    assert len(after) <= len(before), 'lxcbusd fds: %d before, %d after; new: %s' % (
        len(before), len(after), sorted(set(after.values()) - set(before.values()))[:20])
    assert_no_zombies()


# ---- lxcbusctl exec -------------------------------------------------------------------------------

@test
def ctl_exec_exit_status():
    rc, out, err = ctl('exec', NAME, '--', 'sh', '-c', 'exit 7')
    assert rc == 7, (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--', 'true')
    assert rc == 0, (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--', 'sh', '-c', 'kill -9 $$')
    assert rc == 137, (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--', '/no/such/program')
    assert rc == 127, (rc, out, err)


@test
def ctl_exec_stdio():
    rc, out, err = ctl('exec', NAME, '--', 'cat', input='hi\n')
    assert (rc, out) == (0, 'hi\n'), (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--', 'sh', '-c', 'echo out; echo err >&2')
    assert (rc, out, err) == (0, 'out\n', 'err\n'), (rc, out, err)
    # Options of the command are not lxcbusctl's, with or without "--".
    rc, out, err = ctl('exec', NAME, 'ls', '-d', '/')
    assert (rc, out) == (0, '/\n'), (rc, out, err)


def fd_facts(fd):
    """(owner, group, mode, file status flags) of an fd."""
    st = os.fstat(fd)
    return st.st_uid, st.st_gid, st.st_mode, fcntl.fcntl(fd, fcntl.F_GETFL)


@test
def ctl_exec_with_files_as_stdio():
    # < in > out 2> err: Exec takes no file, so the command gets pipes and lxcbusctl copies; more than a
    # pipe holds arrives intact, and the files (owner, mode, flags) are left as they were.
    import subprocess
    import tempfile
    data = os.urandom(1024 * 1024 + 4097)
    d = tempfile.mkdtemp(prefix='ctl-exec-')
    try:
        with open(os.path.join(d, 'in'), 'wb') as f:
            f.write(data)
        script = 'cat; for k in 0 1 2; do test -p /proc/self/fd/$k && echo pipe$k >&2; done; echo err-done >&2'
        with open(os.path.join(d, 'in'), 'rb') as fi, open(os.path.join(d, 'out'), 'wb') as fo, \
                open(os.path.join(d, 'err'), 'ab') as fe:
            before = [fd_facts(f.fileno()) for f in (fi, fo, fe)]
            p = subprocess.run([CTL, 'exec', NAME, '--', 'sh', '-c', script], stdin=fi, stdout=fo, stderr=fe,
                               timeout=120 * SLOW)
            after = [fd_facts(f.fileno()) for f in (fi, fo, fe)]
        with open(os.path.join(d, 'out'), 'rb') as f:
            out = f.read()
        with open(os.path.join(d, 'err'), 'rb') as f:
            err = f.read().decode()
        assert p.returncode == 0, (p.returncode, err)
        assert len(out) == len(data) and hashlib.sha256(out).digest() == hashlib.sha256(data).digest(), \
            'got %d bytes, sent %d' % (len(out), len(data))
        assert err == 'pipe0\npipe1\npipe2\nerr-done\n', err
        assert before == after, (before, after)
        # stdin /dev/null is passed as it is: EOF at once
        with open(os.path.join(d, 'out'), 'wb') as fo:
            p = subprocess.run([CTL, 'exec', NAME, '--', 'sh', '-c', 'cat; echo end'], stdin=subprocess.DEVNULL,
                               stdout=fo, stderr=subprocess.PIPE, timeout=60 * SLOW)
        with open(os.path.join(d, 'out'), 'rb') as f:
            assert (p.returncode, f.read()) == (0, b'end\n'), (p.returncode, p.stderr)
        # only stderr to a file, the others pipes
        with open(os.path.join(d, 'err'), 'wb') as fe:
            p = subprocess.run([CTL, 'exec', NAME, '--', 'sh', '-c', 'cat; echo oops >&2; exit 3'], input=b'in\n',
                               stdout=subprocess.PIPE, stderr=fe, timeout=60 * SLOW)
        with open(os.path.join(d, 'err'), 'rb') as f:
            assert (p.returncode, p.stdout, f.read()) == (3, b'in\n', b'oops\n'), p
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


@test
def ctl_exec_options():
    rc, out, err = ctl('exec', NAME, '--env', 'A=1', '--', 'sh', '-c', 'echo $A')
    assert (rc, out) == (0, '1\n'), (rc, out, err)
    rc, out, err = ctl('exec', '--env=A=1', '--env=B=2', NAME, '--', 'sh', '-c', 'echo $A$B')
    assert (rc, out) == (0, '12\n'), (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--cwd', '/tmp', '--', 'pwd')
    assert (rc, out) == (0, '/tmp\n'), (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--user', '1000:1001', '--', 'sh', '-c', 'id -u; id -g')
    assert (rc, out) == (0, '1000\n1001\n'), (rc, out, err)
    rc, out, err = ctl('exec', NAME, '--user=1000', '--', 'id', '-u')
    assert (rc, out) == (0, '1000\n'), (rc, out, err)


@test
def ctl_exec_errors():
    rc, out, err = ctl('exec', 'no-such-instance', '--', 'true')
    assert rc == 4 and err.strip(), (rc, out, err)
    for args in (['exec'], ['exec', NAME], ['exec', NAME, '--'], ['exec', '-x', NAME, '--', 'sh'],
                 ['exec', NAME, '--user', 'root', '--', 'true'], ['exec', NAME, '--env', '1X=2', '--', 'true'],
                 ['exec', NAME, '--env', 'NOEQUALS', '--', 'true']):
        rc, out, err = ctl(*args)
        assert rc == 2 and err.strip(), (args, rc, out, err)


@test
def ctl_exec_forwards_sigterm():
    import subprocess
    import signal
    p = subprocess.Popen([CTL, 'exec', NAME, '--', 'sleep', '100'], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Wait until the process runs in the instance (a running exec operation on it).
        def running_exec():
            for op in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations'):
                try:
                    if get_prop(op, OPERATION_IFACE, 'Kind') == 'exec' and \
                            get_prop(op, OPERATION_IFACE, 'Status') == 'running' and \
                            get_prop(op, PROCESS_IFACE, 'Command') == ['sleep', '100']:
                        return op
                except BusError:
                    pass
            return None
        wait_for(running_exec, 30, 'the exec of lxcbusctl running')
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30 * SLOW)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 128 + 15, (p.returncode, err)


# ---- the instance stops ---------------------------------------------------------------------------

@test
def stop_ends_running_exec():
    # A clean stop: the instance's init sends SIGTERM to everything, then SIGKILL; a process that
    # ignores SIGTERM ends with SIGKILL, one that does not with SIGTERM.
    ignores = exec_call(['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'])
    plain = exec_call(['sleep', '1000'])
    with Signals(iface=PROCESS_IFACE, member='Exited') as exited:
        call(PATH, INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 20)), timeout=120)
        assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'stopped'
        exited.wait(lambda s: s.path == ignores, what='Exited of the TERM-ignoring exec', timeout=30)
        exited.wait(lambda s: s.path == plain, what='Exited of sleep', timeout=30)
        assert exited.matching(lambda s: s.path == ignores)[0].args == (-1, 9), exited.events
        assert exited.matching(lambda s: s.path == plain)[0].args[0] == -1, exited.events
        assert exited.matching(lambda s: s.path == plain)[0].args[1] in (9, 15), exited.events
    assert call(ignores, PROCESS_IFACE, 'Wait', timeout=10) == (-1, 9)
    assert get_prop(ignores, PROCESS_IFACE, 'ExitSignal') == 9
    assert get_prop(ignores, OPERATION_IFACE, 'Status') == 'success'
    assert get_prop(plain, OPERATION_IFACE, 'Status') == 'success'


@test
def kill_stop_ends_running_exec_with_sigkill():
    start()
    proc = exec_call(['sleep', '1000'])
    with Signals(path=proc, iface=PROCESS_IFACE, member='Exited') as exited:
        call(PATH, INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 0)), timeout=120)
        assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'stopped'
        exited.wait(what='Exited after the kill-stop', timeout=30)
        assert exited.events[0].args == (-1, 9), exited.events
    assert call(proc, PROCESS_IFACE, 'Wait', timeout=10) == (-1, 9)
    assert get_prop(proc, PROCESS_IFACE, 'ExitSignal') == 9


@test
def exec_on_stopped_instance():
    assert get_prop(PATH, INSTANCE_IFACE, 'State') == 'stopped'
    with raises_dbus(INVALID_STATE):
        exec_call(['true'])
    rc, out, err = ctl('exec', NAME, '--', 'true')
    assert rc == 1 and err.strip(), (rc, out, err)


@test
def no_zombies_at_the_end():
    wait_for(lambda: not zombies(), 10, 'no zombies (%s)' % zombies())


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
