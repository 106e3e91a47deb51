#!/usr/bin/python3
"""Finished operation objects disappear after their linger time.

Needs a short linger time, which applies to the whole run, so this file is
not a test_*.py that run.sh picks up by itself; tests/run-all.sh runs it as

    LXCBUSD_EXTRA_ARGS=--operation-linger-sec=3 \\
        tests/integration/run.sh BUILD tests/integration/linger_only.py

Without a short --operation-linger-sec on lxcbusd's command line the tests
fail: they would prove nothing."""

import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
st = {}


DAEMON_PID = running_daemon_pid()
LINGER = daemon_linger_sec(DAEMON_PID)


def skip():
    assert LINGER is not None and LINGER <= 30, \
        ('lxcbusd runs without a short --operation-linger-sec (cmdline of pid %d): '
         'run with LXCBUSD_EXTRA_ARGS=--operation-linger-sec=3' % DAEMON_PID)
    return False


def listed(op):
    return op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')


def gone(op):
    try:
        get_all_props(op, OPERATION_IFACE)
    except BusError as e:
        assert e.dbus_name == 'org.freedesktop.DBus.Error.UnknownObject', e
        return True
    return False


@test
def finished_operation_vanishes_after_linger():
    if skip():
        return
    name = T.add(unique_name('linger'))
    with Signals(path=MANAGER_PATH, iface='org.freedesktop.DBus.ObjectManager',
                 member='InterfacesRemoved') as sig:
        path, op = create_instance(name)
        t_done = time.monotonic()
        # still there right after it finished
        assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
        assert listed(op)
        wait_for(lambda: gone(op), LINGER + 2, 'operation %s gone within %d+2 s' % (op, LINGER))
        dt = time.monotonic() - t_done
        print('# %s vanished %.1f s after it finished (linger %d s)' % (op, dt, LINGER))
        assert dt >= LINGER - 1, 'vanished too early: %.1f s < %d s' % (dt, LINGER)
        assert not listed(op)
        assert op not in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations')
        sig.wait(lambda s: s.args[0] == op, 5, 'InterfacesRemoved(%s)' % op)
    # the instance it made is of course still there
    assert instance_exists(name)
    st['name'] = name


@test
def cancelled_operation_vanishes_too():
    if skip():
        return
    # A busybox create takes a few hundred ms: a cancel may come too late, and then the create
    # succeeds (and the instance is there). Try until one is cancelled in time.
    for attempt in range(5):
        name = T.add(unique_name('lingerc'))
        path, op = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                        V('(sa{sv}a{ss}a{sv})', (name, {'type': V('s', 'template'), 'template': V('s', 'busybox')},
                                                {}, {'async': V('b', True)})))
        try:
            call(op, OPERATION_IFACE, 'Cancel')
        except BusError as e:
            assert e.dbus_name == 'org.lxcbus1.Error.InvalidState', e   # finished already
        status = op_wait(op, 60)
        if status == 'cancelled':
            assert not instance_exists(name)
            break
        assert status == 'success' and instance_exists(name), (status, name)
    else:
        raise AssertionError('no create was cancelled in time in 5 attempts')
    assert listed(op)
    wait_for(lambda: gone(op), LINGER + 2, 'operation %s gone' % op)
    assert not listed(op)
    # Wait on a vanished operation: UnknownObject, not a hang
    with raises_dbus('org.freedesktop.DBus.Error.UnknownObject'):
        call(op, OPERATION_IFACE, 'Wait', timeout=10)


@test
def many_operations_all_vanish():
    if skip():
        return
    name = st['name']
    path = instance_path(name)
    ops = [call(path, INSTANCE_IFACE, 'Stop', opts()) for _ in range(50)]
    assert len(set(ops)) == 50
    wait_for(lambda: not (set(ops) & set(call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'))),
             LINGER + 3, 'all 50 operations gone')
    check_daemon_alive()


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
