"""lxcbustest: a tiny framework for the lxcbus integration tests: the test
runner, D-Bus calls and properties, waiting, signals, running commands.
Everything a test needs beyond that (instances, the daemon, processes,
errors, users, polkit, consoles and terminals) is in lxcbushelp, once.

Test files run inside a test host (see run.sh) with /usr/bin/python3, on the
real system bus, as root. A test file looks like:

    from lxcbustest import *
    from lxcbushelp import *

    @test
    def version_is_readable():
        assert get_prop(MANAGER_PATH, MANAGER_IFACE, 'Version')

    if __name__ == '__main__':
        main()

main() runs the tests in file order and prints `ok - NAME` or
`not ok - NAME` (with the traceback), then `RESULT passed=N failed=M`,
which run.sh adds up. `python3 test_x.py NAME...` runs only those tests.
"""

import os
import re
import subprocess
import sys
import time
import traceback
from collections import namedtuple

import gi
gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402

__all__ = [
    'GLib', 'Gio', 'V', 'SLOW', 'BUS_NAME', 'MANAGER_PATH', 'MANAGER_IFACE', 'INSTANCE_IFACE',
    'OPERATION_IFACE', 'PROCESS_IFACE', 'PROPS_IFACE', 'ERR', 'ACCESS_DENIED', 'INVALID_ARGS',
    'UNKNOWN_OBJECT', 'INTERACTIVE_REQUIRED',
    'test', 'on_exit', 'main',
    'BusError', 'bus', 'bus_error_of', 'call', 'get_prop', 'get_all_props', 'raises_dbus',
    'iterate', 'wait_for', 'wait_prop', 'Signals', 'Signal', 'run', 'opts',
]

BUS_NAME = 'org.lxcbus1'
MANAGER_PATH = '/org/lxcbus1'
MANAGER_IFACE = 'org.lxcbus1.Manager'
INSTANCE_IFACE = 'org.lxcbus1.Instance'
OPERATION_IFACE = 'org.lxcbus1.Operation'
PROCESS_IFACE = 'org.lxcbus1.Process'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'

# Error names: ERR + 'NoSuchInstance' for the domain errors, and the standard ones the tests expect.
ERR = 'org.lxcbus1.Error.'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'
UNKNOWN_OBJECT = 'org.freedesktop.DBus.Error.UnknownObject'
INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'

# Sanitizer builds are slower: scale timeouts.
SLOW = 3 if '1' in (os.environ.get('LXCBUS_SANITIZE'), os.environ.get('LXCBUS_VALGRIND')) else 1

V = GLib.Variant  # V('(s)', ('name',)), V('s', 'busybox')


# ---- test registry -----------------------------------------------------------

_tests = []
_exit_hooks = []


def test(fn):
    """Decorator: register fn as a test; tests run in definition order."""
    _tests.append(fn)
    return fn


def on_exit(fn):
    """Register fn to run after all tests (cleanup); errors are reported, not
    counted. Usable as a decorator."""
    _exit_hooks.append(fn)
    return fn


def main():
    only = set(sys.argv[1:])
    tests = [t for t in _tests if not only or t.__name__ in only]
    passed = failed = 0
    print('# %s: %d tests' % (os.path.basename(sys.argv[0]), len(tests)))
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
        except Exception:
            failed += 1
            print('not ok - %s (%.1fs)' % (t.__name__, time.monotonic() - t0))
            for line in traceback.format_exc().rstrip().splitlines():
                print('#   ' + line)
        else:
            passed += 1
            print('ok - %s (%.1fs)' % (t.__name__, time.monotonic() - t0))
        sys.stdout.flush()
    for hook in _exit_hooks:
        try:
            hook()
        except Exception:
            print('# cleanup %s failed:' % getattr(hook, '__name__', hook))
            for line in traceback.format_exc().rstrip().splitlines():
                print('#   ' + line)
    print('RESULT passed=%d failed=%d' % (passed, failed))
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


# ---- D-Bus ---------------------------------------------------------------------------

class BusError(Exception):
    """A D-Bus error reply; .dbus_name is e.g. 'org.lxcbus1.Error.NoSuchInstance'."""

    def __init__(self, dbus_name, message, method=''):
        super().__init__('%s: %s%s' % (dbus_name, message,
                                       ' (in %s)' % method if method else ''))
        self.dbus_name = dbus_name
        self.message = message


_bus = None


def bus():
    """The system bus connection (shared)."""
    global _bus
    if _bus is None:
        _bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    return _bus


def bus_error_of(e, what=''):
    """The BusError of a GLib.Error from a D-Bus call (`what`: the call, for the message)."""
    name = Gio.DBusError.get_remote_error(e) or ('GLib.Error.%s.%d' % (e.domain, e.code))
    msg = re.sub(r'^GDBus\.Error:[^ ]+: ', '', e.message)
    return BusError(name, msg, what)


def call(path, iface, method, params=None, timeout=120, dest=BUS_NAME, fd_list=None):
    """Call a method; params is a GLib.Variant tuple or None.

    Returns the unpacked reply: None for '()', the value for one out
    argument, a tuple for several. Raises BusError (with .dbus_name)."""
    if params is not None and not isinstance(params, GLib.Variant):
        raise TypeError('params must be a GLib.Variant tuple, e.g. V("(s)", ("x",))')
    try:
        if fd_list is not None:
            res, _ = bus().call_with_unix_fd_list_sync(
                dest, path, iface, method, params, None, Gio.DBusCallFlags.NONE,
                int(timeout * 1000), fd_list, None)
        else:
            res = bus().call_sync(dest, path, iface, method, params, None,
                                  Gio.DBusCallFlags.NONE, int(timeout * 1000), None)
    except GLib.Error as e:
        raise bus_error_of(e, '%s.%s on %s' % (iface, method, path)) from None
    out = res.unpack()
    if len(out) == 0:
        return None
    if len(out) == 1:
        return out[0]
    return out


def get_prop(path, iface, name, dest=BUS_NAME):
    """Read one property (unpacked), e.g. get_prop(p, INSTANCE_IFACE, 'State')."""
    return call(path, PROPS_IFACE, 'Get', V('(ss)', (iface, name)), timeout=30, dest=dest)


def get_all_props(path, iface, dest=BUS_NAME):
    return call(path, PROPS_IFACE, 'GetAll', V('(s)', (iface,)), timeout=30, dest=dest)


class raises_dbus:
    """with raises_dbus('org.lxcbus1.Error.NoSuchInstance'): call(...)"""

    def __init__(self, *names):
        self.names = names
        self.error = None

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        if typ is None:
            raise AssertionError('expected D-Bus error %s, call succeeded' % ' or '.join(self.names))
        if not issubclass(typ, BusError):
            return False
        if val.dbus_name not in self.names:
            raise AssertionError('expected D-Bus error %s, got %s' % (' or '.join(self.names), val))
        self.error = val
        return True


# ---- waiting ---------------------------------------------------------------------------

def iterate(seconds):
    """Dispatch GLib events for at most `seconds` (returns early on an event)."""
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)
    fired = [False]

    def cb():
        fired[0] = True
        return False
    sid = GLib.timeout_add(max(1, int(seconds * 1000)), cb)
    ctx.iteration(True)
    if not fired[0]:
        GLib.source_remove(sid)
    while ctx.pending():
        ctx.iteration(False)


def wait_for(pred, timeout=30, what=None, interval=0.05):
    """Poll pred() (dispatching D-Bus signals meanwhile) until it returns a
    true value, which is returned; raise TimeoutError after `timeout` s."""
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            r = pred()
            if r:
                return r
            last_exc = None
        except Exception as e:  # e.g. object not there yet: keep polling
            last_exc = e
        left = deadline - time.monotonic()
        if left <= 0:
            msg = 'timed out after %.0fs waiting for %s' % (timeout, what or getattr(pred, '__name__', 'condition'))
            if last_exc is not None:
                msg += ' (last error: %s)' % last_exc
            raise TimeoutError(msg)
        iterate(min(interval, left))


def wait_prop(path, iface, name, value, timeout=30):
    """Wait until property `name` equals `value`; returns it."""
    last = [None]

    def check():
        last[0] = get_prop(path, iface, name)
        return last[0] == value
    try:
        wait_for(check, timeout, '%s.%s == %r on %s' % (iface, name, value, path))
    except TimeoutError as e:
        raise TimeoutError('%s (last value %r)' % (e, last[0])) from None
    return value


Signal = namedtuple('Signal', 'sender path iface member args')


class Signals:
    """Record signals while in the with-block, and wait for matching ones.

        with Signals(path=p, iface=PROPS_IFACE, member='PropertiesChanged') as sig:
            call(p, INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)))
            sig.wait(lambda s: s.args[1].get('State') == 'running', what='State=running')

    Signal.args is the unpacked body (for PropertiesChanged:
    (iface, {name: value}, [invalidated]))."""

    def __init__(self, path=None, iface=None, member=None, sender=BUS_NAME, arg0=None):
        self.filter = (sender, iface, member, path, arg0)
        self.events = []
        self.sub = None

    @classmethod
    def properties_changed(cls, path, iface=None):
        """PropertiesChanged on `path` (optionally only for interface `iface`)."""
        return cls(path=path, iface=PROPS_IFACE, member='PropertiesChanged', arg0=iface)

    def _on(self, conn, sender, path, iface, member, params, *user):
        self.events.append(Signal(sender, path, iface, member, params.unpack()))

    def __enter__(self):
        sender, iface, member, path, arg0 = self.filter
        self.sub = bus().signal_subscribe(sender, iface, member, path, arg0,
                                          Gio.DBusSignalFlags.NONE, self._on)
        return self

    def __exit__(self, *exc):
        if self.sub is not None:
            bus().signal_unsubscribe(self.sub)
            self.sub = None
        return False

    def matching(self, pred=None):
        return [e for e in self.events if pred is None or pred(e)]

    def wait(self, pred=None, timeout=30, what=None):
        """Wait for a recorded signal matching pred (already received ones
        count); return it."""
        try:
            return wait_for(lambda: (self.matching(pred) or [None])[0], timeout,
                            what or 'signal %s' % (self.filter,))
        except TimeoutError as e:
            got = ['%s %s %r' % (s.path, s.member, s.args) for s in self.events[-10:]]
            raise TimeoutError('%s; recorded: %s' % (e, got or 'nothing')) from None


# ---- commands and options ------------------------------------------------------------

def run(*cmd, timeout=60, input=None, env=None):
    """Run a command; returns (rc, stdout, stderr) as text. Never raises for
    a non-zero exit; raises on timeout."""
    if len(cmd) == 1 and isinstance(cmd[0], (list, tuple)):
        cmd = tuple(cmd[0])
    e = dict(os.environ, SYSTEMD_PAGER='cat', SYSTEMD_COLORS='0', LANG='C.UTF-8')
    if env:
        e.update(env)
    p = subprocess.run(list(cmd), input=input, capture_output=True, text=True,
                       timeout=timeout * SLOW, env=e)
    return p.returncode, p.stdout, p.stderr


def opts(**kw):
    """a{sv} options tuple: opts(async_=V('b', True), timeout_sec=V('u', 5)); a trailing '_' is
    dropped and '_' becomes '-' in keys."""
    return V('(a{sv})', ({k.rstrip('_').replace('_', '-'): v for k, v in kw.items()},))
