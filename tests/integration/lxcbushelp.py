"""Extra helpers for the error, config and lxcbusctl tests (on top of
lxcbustest). Not a test file itself (run.sh only runs test_*.py)."""

import os
import uuid

from lxcbustest import (GLib, Gio, V, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                        INSTANCE_IFACE, OPERATION_IFACE, BusError, bus, call,
                        get_prop, wait_for, run, instance_path,
                        cleanup_instance)

__all__ = [
    'STATE_DIR', 'INSTANCES_DIR', 'STAGING_DIR', 'main_pid', 'MAIN_PID',
    'check_daemon_alive', 'check_error', 'expect_error', 'call_many',
    'fs_snapshot', 'opts', 'iprop', 'set_config', 'new_instance', 'Tracker',
    'op_wait', 'start_instance', 'stop_instance', 'ensure_user',
    'run_as_user', 'gdbus_error_name',
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


def opts(**kw):
    """a{sv} options tuple: opts(async_=V('b', True), timeout_sec=V('u', 5))."""
    return V('(a{sv})', ({k.rstrip('_').replace('_', '-'): v for k, v in kw.items()},))


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


def gdbus_error_name(stderr):
    """'Error: GDBus.Error:NAME: message' -> (NAME, message)."""
    import re
    m = re.search(r'GDBus\.Error:([A-Za-z0-9_.]+): (.*)', stderr, re.S)
    if not m:
        return None, stderr
    return m.group(1), m.group(2).strip()
