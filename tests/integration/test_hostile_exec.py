#!/usr/bin/python3
"""Exec as an attacker does it (issue 9, item 1): a caller allowed to run
commands in a privileged instance hands over, as stdin, stdout or stderr, a
file of the host it can only read, a directory, an O_PATH fd, a terminal, a
named pipe, a socket that is not a connected AF_UNIX stream, an eventfd, a
memfd. Before, liblxc's attach fchown()ed and fchmod()ed whatever it got, as
root (a 0644 root file ended 65534:0 0700), and the process in the instance
held the handle. Now each is InvalidArgs naming the argument (before polkit
is asked: a user no rule allows gets InvalidArgs too), and nothing about the
file changes; a pipe, a connected AF_UNIX socket and /dev/null work and are
left as they were (owner, group, mode, file status flags), whatever uid the
command runs as. The calls come from root and from a user that a polkit rule
lets exec, each in a process of its own (CLIENT)."""

import json
import os
import shutil
import stat
import subprocess
import sys

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('hx')
PATH = instance_path(NAME)
USER = 'hxexec'          # a rule lets them exec
NOBODY_USER = 'hxnobody'  # no rule
DIR = '/var/tmp/lxcbus-hostile-exec'     # root's, 0755
SECRET = DIR + '/secret'                 # root's, 0644
FIFO = DIR + '/fifo'                     # root's, 0666
CONTENT = b'root:x:0:0:root:/root:/bin/sh\n'
SLOTS = ('stdin', 'stdout', 'stderr')
REFUSED = ('file', 'dir', 'opath', 'tty', 'fifo', 'unconnected', 'listening', 'dgram', 'udp', 'tcp',
           'eventfd', 'memfd')
ACCEPTED = ('pipe', 'socketpair', 'seqpacket', 'devnull')

RULE = '''// test_hostile_exec.py: %s may run commands in any instance
polkit.addRule(function(action, subject) {
    if (action.id == "org.lxcbus1.exec" && subject.user == "%s")
        return polkit.Result.YES;
});
''' % (USER, USER)

# Runs as the caller: for each case (kind, slot, uid) makes an fd of that kind for that slot (pipes for
# the other two), calls Exec with it, waits for the process, and reports the error or the exit status
# and output, and the fd's owner, group, mode and file status flags before and after (and for the
# secret file its content and its stat by path). One JSON line.
CLIENT = r'''
import errno, fcntl, json, os, socket, stat, sys
from gi.repository import Gio, GLib
path, secret, secret_dir, fifo, cases = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)

def make(kind, slot, keep):
    """An fd of `kind`; `keep` gets what must stay open meanwhile (and our end of it, first)."""
    w = os.O_RDONLY if slot == 0 or os.getuid() != 0 else os.O_RDWR
    if kind == 'file':
        return os.open(secret, w | os.O_CLOEXEC)
    if kind == 'dir':
        return os.open(secret_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if kind == 'opath':
        return os.open(secret, os.O_PATH | os.O_CLOEXEC)
    if kind == 'tty':
        m, s = os.openpty()
        keep.append(m)
        return s
    if kind == 'fifo':
        return os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
    if kind == 'unconnected':
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach()
    if kind == 'listening':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(b'\0lxcbus-hostile-%d-%d' % (os.getpid(), len(results)))
        s.listen()
        return s.detach()
    if kind == 'dgram':
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        keep.append(a.detach())
        return b.detach()
    if kind == 'udp':
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()
    if kind == 'tcp':
        l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        l.bind(('127.0.0.1', 0))
        l.listen()
        c = socket.create_connection(l.getsockname())
        a, _ = l.accept()
        l.close()
        keep.append(a.detach())
        return c.detach()
    if kind == 'eventfd':
        return os.eventfd(0)
    if kind == 'memfd':
        fd = os.memfd_create('hostile')
        os.write(fd, b'x')
        return fd
    if kind == 'pipe':
        r, w_ = os.pipe2(os.O_CLOEXEC)
        keep.append(w_ if slot == 0 else r)
        return r if slot == 0 else w_
    if kind in ('socketpair', 'seqpacket'):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM if kind == 'socketpair' else
                                 socket.SOCK_SEQPACKET)
        keep.append(a.detach())
        return b.detach()
    if kind == 'devnull':
        return os.open('/dev/null', (os.O_RDONLY if slot == 0 else os.O_WRONLY) | os.O_CLOEXEC)
    raise ValueError(kind)

def facts(fd):
    st = os.fstat(fd)
    return [st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), fcntl.fcntl(fd, fcntl.F_GETFL)]

def read_all(fd):
    os.set_blocking(fd, True)
    out = b''
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
    return out

results = []
for kind, slot, uid in cases:
    keep, fds, others = [], [], []
    try:
        for k in range(3):
            if k == slot:
                fds.append(make(kind, k, keep))
            else:
                # a pipe: stdin at EOF; the read ends of stdout and stderr stay open (their output is
                # small: no need to read it)
                r, w_ = os.pipe2(os.O_CLOEXEC)
                fds.append(r if k == 0 else w_)
                if k == 0:
                    os.close(w_)
                else:
                    others.append(r)
        before = facts(fds[slot])
        fdl = Gio.UnixFDList.new()
        for fd in fds:
            fdl.append(fd)
        res = {'kind': kind, 'slot': slot, 'uid': uid, 'before': before}
        try:
            reply, _ = bus.call_with_unix_fd_list_sync(
                'org.lxcbus1', path, 'org.lxcbus1.Instance', 'Exec',
                GLib.Variant('(asa{ss}hhha{sv})', (['sh', '-c', 'echo hi; echo hi >&2'], {}, 0, 1, 2,
                                                   {'uid': GLib.Variant('u', uid)})),
                None, 0, 60000, fdl, None)
        except GLib.Error as e:
            res['error'] = Gio.DBusError.get_remote_error(e)
            res['message'] = e.message
        else:
            res['status'] = bus.call_sync('org.lxcbus1', reply.unpack()[0], 'org.lxcbus1.Process', 'Wait',
                                          None, None, 0, 60000, None).unpack()
        for f in fdl.steal_fds():
            os.close(f)
        res['after'] = facts(fds[slot])
        # What the command wrote, on our end of the pipe or socket (stdout and stderr only).
        if kind in ('pipe', 'socketpair', 'seqpacket') and slot != 0 and 'status' in res:
            os.close(fds[slot])
            fds[slot] = -1
            res['output'] = read_all(keep[0]).decode('latin1')
        results.append(res)
    finally:
        for fd in fds + keep + others:
            if fd >= 0:
                os.close(fd)
print(json.dumps(results), flush=True)
'''


def secret_facts():
    st = os.stat(SECRET)
    with open(SECRET, 'rb') as f:
        data = f.read()
    return st.st_uid, st.st_gid, st.st_mode & 0o7777, data


def dir_facts():
    st = os.stat(DIR)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def run_client(user, cases):
    """CLIENT as `user` (None: root); returns its results."""
    cmd = [sys.executable, '-c', CLIENT, PATH, SECRET, DIR, FIFO, json.dumps(cases)]
    if user:
        cmd = ['setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups', '--'] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300 * SLOW, cwd='/',
                       env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'PYTHONDONTWRITEBYTECODE': '1'})
    assert p.returncode == 0, 'client as %s: exit %d: %s' % (user or 'root', p.returncode, p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def assert_refused(results, expected_error=INVALID_ARGS):
    bad = []
    for r in results:
        what = '%s as %s (uid option %d)' % (r['kind'], SLOTS[r['slot']], r['uid'])
        if r.get('error') != expected_error or not r.get('message', '').count(SLOTS[r['slot']]):
            bad.append('%s: %s' % (what, r.get('error') and '%s: %s' % (r['error'], r['message'])
                                   or 'accepted, exit %r' % (r.get('status'),)))
        elif r['before'] != r['after']:
            bad.append('%s: fd changed from %r to %r' % (what, r['before'], r['after']))
    assert not bad, 'not refused as they should be:\n  ' + '\n  '.join(bad)


def assert_accepted(results):
    bad = []
    for r in results:
        what = '%s as %s (uid option %d)' % (r['kind'], SLOTS[r['slot']], r['uid'])
        if 'error' in r:
            bad.append('%s: %s: %s' % (what, r['error'], r['message']))
        elif r['status'] != [0, 0]:
            bad.append('%s: exit %r' % (what, r['status']))
        elif r['before'] != r['after']:
            bad.append('%s: (uid, gid, mode, flags) changed from %r to %r' % (what, r['before'], r['after']))
        elif 'output' in r and r['output'] != 'hi\n':
            bad.append('%s: the command wrote %r' % (what, r['output']))
    assert not bad, 'accepted fds that went wrong:\n  ' + '\n  '.join(bad)


def all_cases(kinds, uids=(65534,)):
    return [[k, s, u] for k in kinds for s in range(3) for u in uids]


def make_files():
    """DIR, SECRET and FIFO as they should stay (again: a failed test may have changed them)."""
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(DIR)
    os.chmod(DIR, 0o755)
    with open(SECRET, 'wb') as f:
        f.write(CONTENT)
    os.chmod(SECRET, 0o644)
    os.mkfifo(FIFO)
    os.chmod(FIFO, 0o666)


@test
def setup():
    create_running_instance(NAME)
    add_user(USER)
    add_user(NOBODY_USER)
    install_rule('60-lxcbus-hostile-exec.rules', RULE)
    a = Agent(USER)
    try:
        wait_rule(a.name, 'org.lxcbus1.exec', {'instance': NAME}, True)
    finally:
        a.close()


@test
def root_cannot_hand_over_unsafe_fds():
    make_files()
    results = run_client(None, all_cases(REFUSED, (0, 65534)))
    assert secret_facts() == (0, 0, 0o644, CONTENT), secret_facts()
    assert dir_facts() == (0, 0, 0o755), dir_facts()
    assert_refused(results)
    # The message says what to pass instead.
    msg = next(r['message'] for r in results if r['kind'] == 'file' and r['slot'] == 1)
    assert 'stdout is a regular file' in msg and 'pipe' in msg and 'ExecPty' in msg, msg
    msg = next(r['message'] for r in results if r['kind'] == 'tty' and r['slot'] == 0)
    assert 'stdin is a terminal' in msg, msg


@test
def user_allowed_to_exec_cannot_hand_over_unsafe_fds():
    make_files()
    results = run_client(USER, all_cases(REFUSED))
    assert secret_facts() == (0, 0, 0o644, CONTENT), secret_facts()
    assert dir_facts() == (0, 0, 0o755), dir_facts()
    assert_refused(results)


@test
def unsafe_fds_are_refused_before_polkit_is_asked():
    make_files()
    # A user no rule allows: InvalidArgs for a bad fd (nothing was asked), AccessDenied for good ones.
    assert_refused(run_client(NOBODY_USER, [['file', 0, 0], ['dir', 1, 0], ['tty', 2, 0]]))
    results = run_client(NOBODY_USER, [['pipe', 0, 0]])
    assert results[0].get('error') == ACCESS_DENIED, results


@test
def root_safe_fds_are_used_and_left_unchanged():
    assert_accepted(run_client(None, all_cases(ACCEPTED, (0, 65534))))


@test
def user_safe_fds_are_used_and_left_unchanged():
    assert_accepted(run_client(USER, all_cases(ACCEPTED, (0, 65534))))


@test
def devnull_is_the_instances_own():
    # The caller's /dev/null is an inode of the host, which the root of a privileged instance could
    # chmod through the fd: the process gets the instance's /dev/null instead. The instance's root
    # removes its /dev/null first (a bind mount of the host's here) and gets a node of its own, so that
    # the two can be told apart.
    init = instance_prop(PATH, 'Pid')
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = exec_start(PATH, ['sh', '-c', 'exec </dev/zero; umount -l /dev/null 2>&1; rm -f /dev/null'],
                          r, w, w)
    finally:
        os.close(w)
    with os.fdopen(r, 'rb') as f:
        out = f.read().decode()
    assert call(proc, PROCESS_IFACE, 'Wait') == (0, 0), out
    # (CAP_MKNOD is not the instance's)
    os.mknod('/proc/%d/root/dev/null' % init, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod('/proc/%d/root/dev/null' % init, 0o666)
    inside = os.stat('/proc/%d/root/dev/null' % init)
    host = os.stat('/dev/null')
    assert (inside.st_dev, inside.st_ino) != (host.st_dev, host.st_ino)
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = exec_start(PATH, ['stat', '-L', '-c', '%d %i %t:%T', '/proc/self/fd/0', '/proc/self/fd/2'],
                          stdout=w)
    finally:
        os.close(w)
    with os.fdopen(r, 'rb') as f:
        out = f.read().decode()
    assert call(proc, PROCESS_IFACE, 'Wait') == (0, 0), out
    want = '%d %d 1:3\n' % (inside.st_dev, inside.st_ino)
    assert out == want * 2, (out, want)

# Runs as another user: sends a unicast Exited(0, 0) of PROCESS to the bus name NAME, as the daemon would.
FORGE_EXITED = r'''
import sys
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
for _ in range(20):
    bus.emit_signal(sys.argv[1], sys.argv[2], 'org.lxcbus1.Process', 'Exited', GLib.Variant('(ii)', (0, 0)))
bus.flush_sync(None)
'''


def bus_name_of_pid(pid):
    """The unique bus name of the connection that process pid holds."""
    rc, out, err = run('busctl', 'list', '--unique', '--no-legend', '--no-pager')
    for line in out.splitlines():
        f = line.split()
        if len(f) > 1 and f[1] == str(pid):
            return f[0]
    return None


@test
def lxcbusctl_exec_believes_only_the_daemons_exited():
    # Root waits for a command with lxcbusctl exec; another user forges the command's Exited(0, 0) to
    # lxcbusctl's connection. It must go on waiting, and exit with the command's real status, 7.
    p = subprocess.Popen(['lxcbusctl', 'exec', NAME, '--', 'sh', '-c', 'sleep 2; exit 7'],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: bus_name_of_pid(p.pid), 10, 'lxcbusctl on the bus')
        victim = bus_name_of_pid(p.pid)

        def process_path():
            for op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'):
                try:
                    if get_prop(op, PROCESS_IFACE, 'Command') == ['sh', '-c', 'sleep 2; exit 7'] and \
                            get_prop(op, PROCESS_IFACE, 'ExitStatus') == -1:
                        return op
                except BusError:
                    pass
            return None
        wait_for(process_path, 10, 'the exec\'s Process object')
        op = process_path()
        forged = subprocess.run(['setpriv', '--reuid=' + NOBODY_USER, '--regid=' + NOBODY_USER, '--init-groups',
                                 '--', sys.executable, '-c', FORGE_EXITED, victim, op],
                                capture_output=True, text=True, timeout=60, cwd='/')
        assert forged.returncode == 0, forged.stderr
        rc = p.wait(60)
        assert rc == 7, 'lxcbusctl exec ended with %d after a forged Exited (the command exits 7): %s' % (
            rc, p.stderr.read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@on_exit
def cleanup():
    cleanup_instance(NAME)
    remove_all_rules()
    remove_users()
    shutil.rmtree(DIR, ignore_errors=True)


if __name__ == '__main__':
    main()
