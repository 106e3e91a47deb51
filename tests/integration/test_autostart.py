#!/usr/bin/python3
"""Manager.StartAutostart and Manager.StopAll (docs/systemd.md, "Autostart and
shutdown"), with busybox instances:

- StartAutostart starts the instances with boot.autostart by priority,
  highest first, and waits boot.autostart.delay after a priority before the
  next (seen in LastUsedAt and in the CreatedAt of each child start); one
  operation (kind start-autostart, Instance "/") with progress signals;
  instances without autostart, or running already, are left alone; one that
  cannot start fails the operation, named, and the others start anyway;
  Cancel() during a delay starts nothing more; boot.autostart.delay is
  validated;
- StopAll stops every running (and frozen) instance at once within its
  timeout, each in its own stop operation; an instance busy with another
  operation (a start under way) is stopped once that ends;
- a user no rule allows gets AccessDenied for both, and nothing changes;
- lxcbusctl autostart and lxcbusctl stop --all;
- the units: lxcbus-autostart.service's ordering, every instance scope
  Wants= and is ordered Before= lxcbus-shutdown.service;
- StopAll of 20 running instances against stopping them one by one
  (printed, not asserted).

The host shutdown itself (poweroff of a test host with instances running)
is tests/integration/shutdown_host.sh, run from the host side."""

import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
USER = 'asnobody'


@on_exit
def cleanup():
    T.cleanup()
    remove_users()


def autostart_config(priority=None, delay=None, on=True):
    c = {'boot.autostart': 'true' if on else 'false'}
    if priority is not None:
        c['boot.autostart.priority'] = str(priority)
    if delay is not None:
        c['boot.autostart.delay'] = str(delay)
    return c


def new(prefix, config=None, template='busybox'):
    """An instance without a network: busybox init acts on its halt signal only once its sysinit (rcS) is
    done, and rcS waits for a DHCP lease (udhcpc), which does not come in time for every instance when many
    start at once; without eth0 udhcpc gives up at once."""
    name = T.add(unique_name(prefix))
    create_instance(name, template, dict(config or {}, **{'network.mode': 'none'}))
    return name


def state(name):
    return instance_prop(name, 'State')


def manager_op(method, timeout=300, **kw):
    """Calls method with async, returns the operation's path."""
    return call(MANAGER_PATH, MANAGER_IFACE, method, opts(async_=V('b', True), **kw), timeout=timeout)


def child_ops(kind, names):
    """{name: (CreatedAt, FinishedAt, Status)} of the last operation of kind on each of names."""
    paths = {instance_path(n): n for n in names}
    res = {}
    for op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'):
        p = get_all_props(op, OPERATION_IFACE)
        n = paths.get(p['Instance'])
        if n and p['Kind'] == kind and (n not in res or res[n][0] < p['CreatedAt']):
            res[n] = (p['CreatedAt'], p['FinishedAt'], p['Status'])
    return res


def stop_quietly(names):
    for n in names:
        try:
            if state(n) == 'frozen':
                instance_call(n, 'Unfreeze')
            if state(n) != 'stopped':
                stop_instance(n)
        except Exception as e:
            print('# stopping %s: %s' % (n, e))


def reset_autostart():
    """No instance of an earlier test may be started by the next StartAutostart."""
    for n in T.names:
        if instance_exists(n) and instance_prop(n, 'Autostart'):
            set_config(n, unset=['boot.autostart'])


@test
def delay_key_is_validated():
    n = new('asval')
    for bad in ('3601', '-1', '5s', '', 'soon'):
        expect_error(ERR + 'InvalidConfig', lambda: set_config(n, {'boot.autostart.delay': bad}),
                     mentions=('boot.autostart.delay',))
    set_config(n, {'boot.autostart.delay': '3600'})
    assert instance_prop(n, 'Config')['boot.autostart.delay'] == '3600'
    set_config(n, {'boot.autostart.delay': '0'})
    feats = get_prop(MANAGER_PATH, MANAGER_IFACE, 'Features')
    assert 'autostart' in feats, feats


@test
def priority_order_delay_and_progress():
    reset_autostart()
    hi = new('ashi', autostart_config(10, delay=3))
    lo1 = new('aslo', autostart_config(5))
    lo2 = new('aslo', autostart_config(5))
    off = new('asoff', autostart_config(50, on=False))
    up = new('asup', autostart_config(0))
    start_instance(up)
    up_pid = instance_prop(up, 'Pid')

    with Signals.properties_changed(None, OPERATION_IFACE) as sig:
        t0 = time.monotonic()
        op = manager_op('StartAutostart')
        assert get_prop(op, OPERATION_IFACE, 'Kind') == 'start-autostart'
        assert get_prop(op, OPERATION_IFACE, 'Instance') == '/'
        assert op_wait(op, 120) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
        took = time.monotonic() - t0
        sig.wait(lambda s: s.path == op and 'Status' in s.args[1], 10, 'the final Status of %s' % op)
        ours = [s.args[1] for s in sig.matching(lambda s: s.path == op)]
    for n in (hi, lo1, lo2, up):
        assert state(n) == 'running', (n, state(n))
    assert state(off) == 'stopped'
    assert instance_prop(up, 'Pid') == up_pid, 'the running instance was restarted'

    # Order and delay: the low priority's starts began at least 3 s after the high one ran.
    ran = {n: instance_prop(n, 'LastUsedAt') for n in (hi, lo1, lo2)}
    starts = child_ops('start', [hi, lo1, lo2])
    assert set(starts) == {hi, lo1, lo2}, starts
    for n in (lo1, lo2):
        # (CreatedAt and LastUsedAt are wall-clock times, the delay a monotonic timer: allow for NTP's slew)
        assert starts[n][0] >= ran[hi] + 3_000_000 - 5_000, ('delay not honoured', n, starts[n][0] - ran[hi])
        assert ran[n] > ran[hi]
    # the instances of one priority start together
    assert abs(starts[lo1][0] - starts[lo2][0]) < 1_000_000, starts
    assert all(s[2] == 'success' for s in starts.values()), starts
    assert up not in child_ops('start', [up]) or child_ops('start', [up])[up][0] < starts[hi][0]

    progress = [c['Progress'] for c in ours if 'Progress' in c]
    stages = [c['Stage'] for c in ours if 'Stage' in c]
    assert any(0 < p < 1 for p in progress), progress
    assert progress == sorted(progress) and progress[-1] == 1.0, progress
    assert any(s.startswith('waiting 3 s') for s in stages), stages
    assert any('priority 10' in s for s in stages) and any('priority 5' in s for s in stages), stages
    print('# StartAutostart of 3 instances in 2 priorities (delay 3 s): %.1f s; stages %s' % (took, stages))
    reset_autostart()
    stop_quietly([hi, lo1, lo2, up])


@test
def failed_start_is_named_and_others_start():
    reset_autostart()
    bad = new('asbad', autostart_config(20), template='none')   # no /sbin/init
    good = new('asgood', autostart_config(0))
    op = manager_op('StartAutostart')
    assert op_wait(op, 120) == 'failure', get_prop(op, OPERATION_IFACE, 'Status')
    assert get_prop(op, OPERATION_IFACE, 'ErrorName') == ERR + 'Failed'
    msg = get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert "'%s'" % bad in msg and good not in msg and 'did not start' in msg, msg
    assert state(good) == 'running' and state(bad) == 'stopped'
    reset_autostart()
    stop_quietly([good])


@test
def cancel_during_delay():
    reset_autostart()
    first = new('ascan', autostart_config(10, delay=60))
    second = new('ascan', autostart_config(0))
    op = manager_op('StartAutostart')
    wait_for(lambda: get_prop(op, OPERATION_IFACE, 'Stage').startswith('waiting'), 60, 'the delay')
    assert get_prop(op, OPERATION_IFACE, 'Cancelable')
    t0 = time.monotonic()
    call(op, OPERATION_IFACE, 'Cancel')
    assert op_wait(op, 10) == 'cancelled'
    assert time.monotonic() - t0 < 5
    assert state(first) == 'running' and state(second) == 'stopped'
    reset_autostart()
    stop_quietly([first])


@test
def stop_all_in_parallel_within_timeout():
    names = [new('asall') for _ in range(4)]
    for n in names:
        start_instance(n)
    instance_call(names[0], 'Freeze')
    assert state(names[0]) == 'frozen'
    t0 = time.monotonic()
    op = call(MANAGER_PATH, MANAGER_IFACE, 'StopAll', opts(timeout_sec=V('u', 20)), timeout=120)
    took = time.monotonic() - t0
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert get_prop(op, OPERATION_IFACE, 'Kind') == 'stop-all'
    for n in names:
        assert state(n) == 'stopped', (n, state(n))
        assert scope_state(scope_of(n))[1] == 'inactive', scope_state(scope_of(n))
    stops = child_ops('stop', names)
    assert set(stops) == set(names) and all(s[2] == 'success' for s in stops.values()), stops
    # in parallel: every stop began before the first one ended
    assert max(s[0] for s in stops.values()) < min(s[1] for s in stops.values()), stops
    assert took < 20, took
    print('# StopAll of 4 instances (one frozen): %.2f s' % took)


@test
def stop_all_waits_for_a_busy_instance():
    busy, idle = new('asbusy'), new('asidle')
    start_instance(idle)
    start_op = instance_call(busy, 'Start', opts(async_=V('b', True)))
    op = call(MANAGER_PATH, MANAGER_IFACE, 'StopAll', opts(timeout_sec=V('u', 30)), timeout=120)
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert op_wait(start_op) == 'success', get_prop(start_op, OPERATION_IFACE, 'ErrorMessage')
    assert state(busy) == 'stopped' and state(idle) == 'stopped'
    stop = child_ops('stop', [busy])[busy]
    start_finished = get_prop(start_op, OPERATION_IFACE, 'FinishedAt')
    assert stop[0] >= start_finished, 'the stop began before the start had finished'
    print('# the busy instance was stopped %.0f ms after its start finished'
          % ((stop[0] - start_finished) / 1000))


@test
def unauthorized_user_is_refused():
    add_user(USER)
    n = new('asauth', autostart_config(0))
    r = new('asrun')
    start_instance(r)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'StartAutostart',
                               'a{sv}', '0')
    assert rc != 0 and 'denied' in err.lower(), (rc, out, err)
    rc, out, err = run_as_user(USER, 'lxcbusctl', '--no-ask-password', 'stop', '--all')
    assert rc != 0 and 'denied' in err.lower(), (rc, out, err)
    assert state(n) == 'stopped' and state(r) == 'running'
    check_daemon_alive()
    reset_autostart()
    stop_quietly([r])


@test
def lxcbusctl_autostart_and_stop_all():
    reset_autostart()
    a = new('asctl', autostart_config(3))
    b = new('asctl')
    start_instance(b)
    rc, out, err = run('lxcbusctl', 'autostart', '--timeout=60', timeout=120)
    assert rc == 0, (rc, out, err)
    assert state(a) == 'running'
    rc, out, err = run('lxcbusctl', 'stop', '--all', '--timeout=20', timeout=120)
    assert rc == 0, (rc, out, err)
    assert state(a) == 'stopped' and state(b) == 'stopped'
    rc, out, err = run('lxcbusctl', 'start', '--all')
    assert rc != 0 and '--all' in err, (rc, err)
    reset_autostart()


@test
def units_and_scope_ordering():
    rc, out, err = run('systemctl', 'show', '-P', 'After', 'lxcbus-autostart.service')
    assert 'lxcbusd.service' in out and 'lxc-net.service' in out, out
    rc, out, err = run('systemctl', 'cat', 'lxcbus-autostart.service')
    assert 'WantedBy=multi-user.target' in out, out
    rc, out, err = run('systemctl', 'show', '-P', 'After', 'lxcbus-shutdown.service')
    assert 'lxcbusd.service' in out, out
    n = new('asunit')
    start_instance(n)
    unit = scope_of(n)
    for prop in ('Before', 'Wants'):
        rc, out, err = run('systemctl', 'show', '-P', prop, unit)
        assert 'lxcbus-shutdown.service' in out.split(), (prop, out)
    rc, out, err = run('systemctl', 'show', '-P', 'ActiveState', 'lxcbus-shutdown.service')
    assert out.strip() == 'active', out
    stop_quietly([n])


@test
def measure_stop_all_against_one_by_one():
    names = [new('as20') for _ in range(20)]
    for n in names:
        start_instance(n)
    t0 = time.monotonic()
    for n in names:
        stop_instance(n)
    one_by_one = time.monotonic() - t0
    for n in names:
        start_instance(n)
    t0 = time.monotonic()
    op = call(MANAGER_PATH, MANAGER_IFACE, 'StopAll', opts(), timeout=180)
    all_at_once = time.monotonic() - t0
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert all(state(n) == 'stopped' for n in names)
    print('# stopping 20 running busybox instances: one by one %.2f s, StopAll %.2f s (%.1fx)'
          % (one_by_one, all_at_once, one_by_one / all_at_once))
    for n in names:
        cleanup_instance(n)
        T.names.remove(n)


if __name__ == '__main__':
    main()
