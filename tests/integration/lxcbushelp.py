"""Extra helpers for the error, config, console, terminal and lxcbusctl
tests (on top of lxcbustest). Not a test file itself (run.sh only runs
test_*.py)."""

import os
import select
import time
import uuid

from lxcbustest import (GLib, Gio, V, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                        INSTANCE_IFACE, OPERATION_IFACE, BusError, bus, call,
                        get_prop, wait_for, run, instance_path,
                        cleanup_instance, opts)
from lxcbustest import _bus_error as _call_error

__all__ = [
    'STATE_DIR', 'INSTANCES_DIR', 'STAGING_DIR', 'main_pid', 'MAIN_PID',
    'check_daemon_alive', 'check_error', 'expect_error', 'call_many',
    'fs_snapshot', 'opts', 'iprop', 'set_config', 'new_instance', 'Tracker',
    'op_wait', 'start_instance', 'stop_instance', 'ensure_user',
    'run_as_user', 'gdbus_error_name', 'read_until', 'call_fds', 'open_console',
    'console_log', 'exec_pty', 'console_shell', 'file_text', 'save_file', 'restore_files',
]

STATE_DIR = '/var/lib/lxcbus'
INSTANCES_DIR = STATE_DIR + '/instances'
STAGING_DIR = STATE_DIR + '/staging'


def main_pid():
    rc, out, err = run('systemctl', 'show', '-P', 'MainPID', 'lxcbusd.service')
    return int(out.strip() or 0)


MAIN_PID = main_pid()


def check_daemon_alive():
    """lxcbusd still runs as the same process and still owns its name."""
    pid = main_pid()
    assert pid != 0 and pid == MAIN_PID, \
        'lxcbusd MainPID changed: %d at start, %d now (daemon crashed/restarted?)' % (MAIN_PID, pid)
    assert os.path.exists('/proc/%d' % pid), 'lxcbusd pid %d is gone' % pid
    owner = bus().call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                            'org.freedesktop.DBus', 'NameHasOwner',
                            V('(s)', (BUS_NAME,)), None, Gio.DBusCallFlags.NONE,
                            10000, None).unpack()[0]
    assert owner, '%s has no owner any more' % BUS_NAME


def check_error(err, instance=None, mentions=()):
    """What every error reply must look like (STYLE.md, Errors): a domain or
    standard D-Bus error name, never Failed/System.Error.*; a message; the
    instance (and other named things) in single quotes."""
    n = err.dbus_name
    assert n.startswith('org.lxcbus1.Error.') or n.startswith('org.freedesktop.DBus.Error.'), \
        'unexpected error name %s (%s)' % (n, err.message)
    assert n != 'org.freedesktop.DBus.Error.Failed', 'generic error %s: %s' % (n, err.message)
    assert 'System.Error.' not in n, 'errno leaked as error name %s: %s' % (n, err.message)
    assert err.message and err.message.strip(), 'empty message for %s' % n
    if instance is not None:
        assert "'%s'" % instance in err.message, \
            'message of %s does not name the instance in single quotes (%r): %r' % (n, instance, err.message)
    for m in mentions:
        assert "'%s'" % m in err.message, \
            'message of %s does not name %r in single quotes: %r' % (n, m, err.message)


def expect_error(names, fn, instance=None, mentions=()):
    """Run fn(); it must fail with one of `names` (a str or a tuple).
    Checks the shape of the error and that the daemon survived; returns the
    BusError."""
    if isinstance(names, str):
        names = (names,)
    try:
        res = fn()
    except BusError as e:
        err = e
    else:
        raise AssertionError('expected D-Bus error %s, call succeeded (%r)' % (' or '.join(names), res))
    assert err.dbus_name in names, 'expected %s, got %s' % (' or '.join(names), err)
    check_error(err, instance, mentions)
    check_daemon_alive()
    return err


def _bus_error(e):
    import re
    name = Gio.DBusError.get_remote_error(e) or ('GLib.Error.%s.%d' % (e.domain, e.code))
    msg = re.sub(r'^GDBus\.Error:[^ ]+: ', '', e.message)
    return BusError(name, msg)


def call_many(calls, timeout=120):
    """Send several method calls at once, in order, without waiting for the
    replies in between (they are pipelined on one connection), then wait for
    all. calls: [(path, iface, method, params)]. Returns a list with, for
    each call, the unpacked reply tuple or a BusError."""
    results = [None] * len(calls)
    done = [0]

    def mk(idx):
        def cb(conn, res):
            try:
                results[idx] = conn.call_finish(res).unpack()
            except GLib.Error as e:
                results[idx] = _bus_error(e)
            done[0] += 1
        return cb
    for idx, (path, iface, method, params) in enumerate(calls):
        bus().call(BUS_NAME, path, iface, method, params, None, Gio.DBusCallFlags.NONE,
                   int(timeout * 1000), None, mk(idx))
    wait_for(lambda: done[0] == len(calls), timeout, 'replies to %d calls' % len(calls))
    return results


def fs_snapshot():
    """What a rejected call must not change: entries and mtimes of the
    instances and staging directories."""
    snap = {}
    for d in (INSTANCES_DIR, STAGING_DIR):
        try:
            st = os.stat(d)
            snap[d] = (st.st_mtime_ns, sorted(os.listdir(d)))
        except FileNotFoundError:
            snap[d] = None
    return snap


def iprop(name, prop):
    return get_prop(instance_path(name), INSTANCE_IFACE, prop)


def set_config(name, set_=None, unset=None, options=None):
    return call(instance_path(name), INSTANCE_IFACE, 'SetConfig',
                V('(a{ss}asa{sv})', (set_ or {}, unset or [], options or {})))


def new_instance(prefix, source='busybox', config=None, options=None):
    """Create a fresh instance (synchronously); returns its name."""
    name = '%s-%s' % (prefix, uuid.uuid4().hex[:6])
    if source == 'none':
        src = {'type': V('s', 'none')}
    else:
        src = {'type': V('s', 'template'), 'template': V('s', source)}
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
         V('(sa{sv}a{ss}a{sv})', (name, src, config or {}, options or {})), timeout=300)
    return name


class Tracker:
    """Names to force-delete at exit."""

    def __init__(self):
        self.names = []

    def add(self, name):
        if name not in self.names:
            self.names.append(name)
        return name

    def cleanup(self):
        for n in self.names:
            cleanup_instance(n)


def op_wait(op, timeout=120):
    """Wait until an operation finished; return its Status."""
    return wait_for(lambda: (lambda s: s if s != 'running' else None)(
        get_prop(op, OPERATION_IFACE, 'Status')), timeout, 'operation %s finished' % op)


def start_instance(name, timeout=60):
    call(instance_path(name), INSTANCE_IFACE, 'Start', opts(), timeout=timeout + 30)
    assert iprop(name, 'State') == 'running', iprop(name, 'State')


def stop_instance(name, timeout=30):
    call(instance_path(name), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', timeout)), timeout=timeout + 60)
    assert iprop(name, 'State') == 'stopped', iprop(name, 'State')


# ---- an unprivileged user inside the test host --------------------------------------

def ensure_user(user='lxtest'):
    """Create `user` (inside the test host: private /etc and tmpfs /home)."""
    rc, out, err = run('id', '-u', user)
    if rc != 0:
        rc, out, err = run('useradd', '-m', user)
        assert rc == 0, 'useradd failed: %s' % err
        rc, out, err = run('id', '-u', user)
    return int(out.strip())


def run_as_user(user, *cmd, timeout=60):
    """Run cmd as `user` (setpriv execs; TESTHOST.md section 8)."""
    return run('setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups',
               '--', *cmd, timeout=timeout, env={'HOME': '/home/' + user, 'USER': user})


# ---- files of the test host changed for a test ------------------------------------------

def file_text(path):
    """The text of file `path`, or None when there is none."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def save_file(saved, path):
    """Remember the text of `path` in the dict `saved`, the first time only
    (for restore_files); returns the remembered text."""
    if path not in saved:
        saved[path] = file_text(path)
    return saved[path]


def restore_files(saved):
    """Put back the files remembered in `saved` (remove those that were not
    there) and forget them."""
    for path, text in saved.items():
        if text is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            with open(path, 'w') as f:
                f.write(text)
    saved.clear()


def gdbus_error_name(stderr):
    """'Error: GDBus.Error:NAME: message' -> (NAME, message)."""
    import re
    m = re.search(r'GDBus\.Error:([A-Za-z0-9_.]+): (.*)', stderr, re.S)
    if not m:
        return None, stderr
    return m.group(1), m.group(2).strip()


# ---- terminals and the console log: calls that answer with an fd ------------------------

def read_until(fd, needle=None, timeout=10):
    """Read fd until `needle` (bytes) has come; returns all that was read.
    Without a needle: up to the end (EOF, or EIO from a pty whose other side
    has closed) or `timeout`. A needle that has not come by then fails.

    Needs only os, select and time: polkithelp's agent runs its source."""
    out, end = b'', time.monotonic() + timeout
    while needle is None or needle not in out:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:     # EIO: the other side of the pty has closed
            break
        if not chunk:
            break
        out += chunk
    assert needle is None or needle in out, 'no %r within %ss, got %r' % (needle, timeout, out)
    return out


def call_fds(name, method, params, conn=None, timeout=30):
    """Instance.METHOD of instance `name`, whose reply starts with a handle
    (OpenConsole, ConsoleLog, ExecPty), on `conn` or the shared connection:
    (fd, the rest of the reply...); the fd is the caller's to close."""
    try:
        res, fdl = (conn or bus()).call_with_unix_fd_list_sync(
            BUS_NAME, instance_path(name), INSTANCE_IFACE, method, params, None, Gio.DBusCallFlags.NONE,
            int(timeout * 1000), None, None)
    except GLib.Error as e:
        raise _call_error(e, method) from None
    reply = res.unpack()
    fds = fdl.steal_fds() if fdl is not None else []
    for k, fd in enumerate(fds):
        if k != reply[0]:
            os.close(fd)
    return (fds[reply[0]],) + tuple(reply[1:])


def console_shell(fd, line, needle):
    """On the console master `fd` of a busybox instance: Enter (askfirst),
    the shell's prompt, then `line` typed and `needle` awaited; returns what
    came after the prompt."""
    os.write(fd, b'\n')
    read_until(fd, b'# ')
    os.write(fd, line)
    return read_until(fd, needle)


def open_console(name, tty=-1, conn=None):
    """OpenConsole: the master of the console (-1) or of terminal `tty`."""
    return call_fds(name, 'OpenConsole', V('(i)', (tty,)), conn)[0]


def console_log(name, **opts):
    """ConsoleLog(opts): all of the log."""
    fd = call_fds(name, 'ConsoleLog', V('(a{sv})', (dict(opts),)))[0]
    try:
        return read_until(fd)
    finally:
        os.close(fd)


def exec_pty(name, argv, **opts):
    """ExecPty(argv, no environment, opts): (master fd, process path)."""
    return call_fds(name, 'ExecPty', V('(asa{ss}a{sv})', (argv, {}, dict(opts))))
