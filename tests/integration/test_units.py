#!/usr/bin/python3
"""lxcbus@.service (docs/systemd.md "A unit per instance"): an instance as a
systemd unit, driven with systemctl in the test host's real systemd. Start and
stop, a unit that requires the instance and is ordered after it, the status
text, each rule of the unit against the bus (Stop, Start, Restart through the
bus), an instance that dies (failed unit, OnFailure=, Restart=on-failure), a
frozen instance, and the added latency of systemctl start over the bus call.

Units and drop-ins of the tests go to /run/systemd/system and are removed at
exit."""

import os
import shutil
import statistics
import time

from lxcbustest import *
from lxcbushelp import *
from lxcbushelp import _daemon_answers

RUN_UNITS = '/run/systemd/system'
tracker = Tracker()
files = []              # unit files and drop-in directories written here, removed at exit
units = []              # units to stop and reset at exit


def unit_of(name):
    return 'lxcbus@%s.service' % name


def systemctl(*args, check=True, timeout=120):
    rc, out, err = run('systemctl', '--no-pager', *args, timeout=timeout)
    if check:
        assert rc == 0, 'systemctl %s: rc %d: %s%s' % (' '.join(args), rc, out, err)
    return rc, out, err


def is_active(unit):
    return run('systemctl', 'is-active', unit)[1].strip()


def show(unit, prop):
    return run('systemctl', 'show', '-P', prop, unit)[1].strip()


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.rename(path + '.tmp', path)


def dropin(name, text):
    """A drop-in for lxcbus@NAME.service only."""
    d = os.path.join(RUN_UNITS, unit_of(name) + '.d')
    files.append(d)
    write_file(os.path.join(d, '50-test.conf'), text)
    systemctl('daemon-reload')


def new_unit_instance(prefix):
    """A new instance whose unit lxcbus@NAME.service is stopped and reset at exit; returns its name."""
    name = tracker.add(new_instance(prefix))
    units.append(unit_of(name))
    return name


def unit_instance(prefix, conf=None, start=False):
    """new_unit_instance(), with the drop-in conf if given, started through systemctl if start; returns
    (name, unit)."""
    name = new_unit_instance(prefix)
    u = unit_of(name)
    if conf:
        dropin(name, conf)
    if start:
        systemctl('start', u)
    return name, u


def state(name):
    return instance_prop(name, 'State')


def stop_unit(name, u):
    """systemctl stop of the unit, which returns once its instance is stopped."""
    systemctl('stop', u)
    assert state(name) == 'stopped', state(name)


def wait_unit(unit, want, timeout=60):
    return wait_for(lambda: is_active(unit) == want, timeout, '%s %s (is %s)' % (unit, want, is_active(unit)),
                    interval=0.1)


@on_exit
def cleanup():
    for u in units:
        run('systemctl', 'stop', u, timeout=120)
        run('systemctl', 'reset-failed', u)
    for f in files:
        shutil.rmtree(f, ignore_errors=True) if os.path.isdir(f) else os.unlink(f) if os.path.exists(f) else None
    run('systemctl', 'daemon-reload')
    tracker.cleanup()


@test
def unit_is_installed():
    rc, out, _ = systemctl('cat', 'lxcbus@x.service')
    assert 'lxcbusctl run-unit %i' in out, out
    assert show('lxcbus@x.service', 'Type') == 'notify'


@test
def start_and_stop_through_systemctl():
    name, u = unit_instance('unit')
    assert is_active(u) == 'inactive'
    systemctl('start', u)
    # systemctl start returns once the instance runs: no waiting here
    assert state(name) == 'running', state(name)
    assert instance_prop(name, 'Pid') > 0
    assert is_active(u) == 'active'
    stop_unit(name, u)
    assert is_active(u) == 'inactive'
    assert show(u, 'Result') == 'success'


@test
def unknown_instance_fails_the_start():
    u = unit_of('no-such-instance-here')
    units.append(u)
    rc, _, _ = systemctl('start', u, check=False)
    assert rc != 0
    assert is_active(u) == 'failed'
    rc, out, _ = run('journalctl', '--no-pager', '-u', u, '-o', 'cat')
    assert "no-such-instance-here" in out, out


@test
def status_says_state_pid_and_scope():
    name, u = unit_instance('ustat', start=True)
    pid = instance_prop(name, 'Pid')
    text = show(u, 'StatusText')
    assert 'running' in text and 'init pid %d' % pid in text and 'lxcbus-%s.scope' % name in text, text
    _, out, _ = systemctl('status', u, check=False)
    assert 'Status: "%s"' % text in out, out
    instance_call(name, 'Freeze')
    wait_for(lambda: 'frozen' in show(u, 'StatusText'), 10, 'frozen in the status text')
    instance_call(name, 'Unfreeze')
    wait_for(lambda: 'running' in show(u, 'StatusText'), 10, 'running in the status text')
    systemctl('stop', u)


@test
def dependent_unit_starts_after_and_stops_before():
    name, u = unit_instance('udep')
    dep = 'lxcbus-test-dep-%s.service' % name
    log = '/run/lxcbus-test-dep-%s.log' % name
    get_state = ('busctl get-property org.lxcbus1 %s org.lxcbus1.Instance State' % instance_path(name))
    path = os.path.join(RUN_UNITS, dep)
    files.extend([path, log])
    units.append(dep)
    write_file(path, '[Unit]\nRequires=%s\nAfter=%s\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n'
               'ExecStart=/bin/sh -c "echo start $$(%s) >> %s"\n'
               'ExecStop=/bin/sh -c "echo stop $$(%s) >> %s"\n' % (u, u, get_state, log, get_state, log))
    systemctl('daemon-reload')
    systemctl('start', dep)
    assert is_active(u) == 'active'
    assert open(log).read() == 'start s "running"\n', open(log).read()
    # stopping the instance's unit stops the dependent one first, while the instance still runs
    systemctl('stop', u)
    assert is_active(dep) == 'inactive'
    assert open(log).read() == 'start s "running"\nstop s "running"\n', open(log).read()
    assert state(name) == 'stopped'


def dependent(name, dep_kind):
    """A unit that needs instance NAME through dep_kind (Requires or BindsTo), ordered after it."""
    dep = 'lxcbus-test-%s-%s.service' % (dep_kind.lower(), name)
    path = os.path.join(RUN_UNITS, dep)
    files.append(path)
    units.append(dep)
    write_file(path, '[Unit]\n%s=%s\nAfter=%s\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n'
               'ExecStart=/bin/true\n' % (dep_kind, unit_of(name), unit_of(name)))
    return dep


@test
def rule_bus_stop_while_active_deactivates_the_unit():
    name, u = unit_instance('ubstop')
    req, bind = dependent(name, 'Requires'), dependent(name, 'BindsTo')
    systemctl('daemon-reload')
    systemctl('start', req, bind)
    assert is_active(u) == 'active'
    stop_instance(name)
    wait_unit(u, 'inactive', 30)
    assert show(u, 'Result') == 'success'
    assert state(name) == 'stopped'
    # systemd's rules for a unit that went down by itself: BindsTo= follows it, Requires= does not
    wait_unit(bind, 'inactive', 30)
    assert is_active(req) == 'active'
    systemctl('stop', req)


@test
def rule_bus_start_while_inactive_leaves_the_unit_inactive():
    name, u = unit_instance('ubstart')
    start_instance(name)
    pid = instance_prop(name, 'Pid')
    assert is_active(u) == 'inactive'
    # stopping the inactive unit leaves the instance alone
    systemctl('stop', u)
    assert state(name) == 'running' and instance_prop(name, 'Pid') == pid
    # a later systemctl start adopts the running instance (same init)
    systemctl('start', u)
    assert is_active(u) == 'active'
    assert instance_prop(name, 'Pid') == pid
    stop_unit(name, u)


@test
def rule_bus_restart_while_active_keeps_the_unit_active():
    name, u = unit_instance('ubrst', start=True)
    pid, main = instance_prop(name, 'Pid'), show(u, 'MainPID')
    instance_call(name, 'Restart', opts(), timeout=150)
    assert state(name) == 'running' and instance_prop(name, 'Pid') != pid
    wait_for(lambda: 'init pid %d' % instance_prop(name, 'Pid') in show(u, 'StatusText'), 10,
             'the new pid in the status text')
    assert is_active(u) == 'active'
    assert show(u, 'MainPID') == main
    stop_unit(name, u)


@test
def rule_systemctl_start_during_a_bus_stop_starts_it_again():
    name, u = unit_instance('ubss')
    start_instance(name)
    op = instance_call(name, 'Stop', opts(async_=V('b', True)))
    assert state(name) == 'stopping', state(name)
    # the unit waits for the stop to end, then starts the instance: systemctl start means "running"
    systemctl('start', u)
    assert op_wait(op) == 'success'
    assert state(name) == 'running' and is_active(u) == 'active'
    stop_unit(name, u)


@test
def rule_systemctl_start_while_another_operation_holds_it_waits_for_that():
    """run-unit's Start gets Busy while another caller's operation holds the stopped instance, and that
    operation ends without a change of State or Unit: the unit waits for it (Operation.Wait) and then
    starts the instance (it used to wait for a state change that never came, until its start timeout)."""
    name = new_unit_instance('uhold')
    u = unit_of(name)
    r, w = os.pipe2(os.O_CLOEXEC)
    fdl = Gio.UnixFDList.new()
    fdl.append(w)
    try:
        # the tarball of the rootfs does not fit in the pipe: the Export holds the instance until we read
        op = call(instance_path(name), INSTANCE_IFACE, 'Export', V('(ha{sv})', (0, {'async': V('b', True)})),
                  fd_list=fdl)
    finally:
        close_fd_list(fdl)
        os.close(w)
    try:
        systemctl('start', '--no-block', u)
        wait_unit(u, 'activating', 30)
        time.sleep(1)   # its Start is out and got Busy
        status = get_prop(op, OPERATION_IFACE, 'Status')
        assert state(name) == 'stopped' and status == 'running', (state(name), status)
    finally:
        while os.read(r, 1 << 16):
            pass
        os.close(r)
    assert op_wait(op) == 'success'
    wait_unit(u, 'active', 30)
    assert state(name) == 'running'
    systemctl('stop', u)
    assert state(name) == 'stopped'


@test
def rule_bus_delete_while_active_deactivates_the_unit():
    name, u = unit_instance('ubdel', start=True)
    instance_call(name, 'Delete', opts(force=V('b', True)))
    wait_unit(u, 'inactive', 30)
    assert show(u, 'Result') == 'success'
    assert not instance_exists(name)


@test
def rule_daemon_restart_keeps_the_unit():
    name, u = unit_instance('udmn', start=True)
    pid = instance_prop(name, 'Pid')
    restart_daemon()
    wait_for(lambda: 'running, init pid %d' % pid in show(u, 'StatusText'), 30, 'the state read again')
    assert is_active(u) == 'active'
    # the new daemon's signals are followed
    instance_call(name, 'Freeze')
    wait_for(lambda: 'frozen' in show(u, 'StatusText'), 10, 'frozen in the status text')
    instance_call(name, 'Unfreeze')
    # the instance dies while the daemon is away: a failure, seen once the daemon is back
    systemctl('stop', 'lxcbusd')
    wait_for(lambda: 'lxcbusd is away' in show(u, 'StatusText'), 30, 'the unit noticing the daemon gone')
    os.kill(pid, 9)
    wait_for(lambda: not pid_alive(pid), 10, 'init gone')
    systemctl('start', 'lxcbusd')
    wait_for(lambda: _daemon_answers(0), 30, 'lxcbusd back')
    expect_new_daemon()
    wait_unit(u, 'failed', 30)
    assert state(name) == 'stopped'


def journal_of(unit):
    return run('journalctl', '--no-pager', '-u', unit, '-o', 'cat')[1]


@test
def killed_instance_fails_the_unit_and_runs_on_failure():
    name, u = unit_instance('ukill')
    mark = '/run/lxcbus-test-onfailure-%s' % name
    handler = 'lxcbus-test-onfailure-%s.service' % name
    files.extend([os.path.join(RUN_UNITS, handler), mark])
    write_file(os.path.join(RUN_UNITS, handler), '[Service]\nType=oneshot\nExecStart=/bin/touch %s\n' % mark)
    dropin(name, '[Unit]\nOnFailure=%s\n' % handler)
    systemctl('start', u)
    instance_call(name, 'Kill', V('(ib)', (9, False)))
    wait_unit(u, 'failed', 30)
    assert show(u, 'Result') == 'exit-code', show(u, 'Result')
    wait_for(lambda: os.path.exists(mark), 30, 'OnFailure= ran')
    assert 'stopped without a Stop call' in journal_of(u), journal_of(u)
    assert state(name) == 'stopped'


@test
def powered_off_from_inside_fails_the_unit():
    name, u = unit_instance('upoff', start=True)
    try:
        root_exec(name, ['/bin/poweroff'])
    except Exception as e:      # the instance goes down under the command
        print('# poweroff: %s' % e)
    wait_unit(u, 'failed', 60)
    assert state(name) == 'stopped'


@test
def restart_on_failure_brings_it_back():
    name, u = unit_instance('urest', '[Unit]\nStartLimitIntervalSec=0\n'
                            '[Service]\nRestart=on-failure\nRestartSec=200ms\n', start=True)
    pid = instance_prop(name, 'Pid')
    instance_call(name, 'Kill', V('(ib)', (9, False)))
    wait_for(lambda: state(name) == 'running' and instance_prop(name, 'Pid') not in (0, pid)
             and is_active(u) == 'active', 60, 'the instance back through Restart=')
    assert int(show(u, 'NRestarts')) >= 1
    # a clean stop is not a failure: no restart
    systemctl('stop', u)
    time.sleep(1)
    assert state(name) == 'stopped' and is_active(u) == 'inactive'


@test
def stop_of_a_frozen_instance():
    name, u = unit_instance('ufrz', start=True)
    instance_call(name, 'Freeze')
    stop_unit(name, u)
    assert is_active(u) == 'inactive'


def median_start(start, stop, n):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        start()
        times.append(time.monotonic() - t0)
        stop()
    return statistics.median(times), times


@test
def latency_of_systemctl_start_over_the_bus():
    n = 10
    name, u = unit_instance('ulat', '[Unit]\nStartLimitIntervalSec=0\n')

    def bus_start():
        instance_call(name, 'Start', opts(), timeout=90)

    def unit_start():
        systemctl('start', u)
        assert state(name) == 'running'

    def bus_stop():
        instance_call(name, 'Stop', opts(timeout_sec=V('u', 0)), timeout=90)

    def unit_stop():
        bus_stop()
        wait_unit(u, 'inactive', 30)

    bus_start()         # warm: a first start reads more from disk
    bus_stop()
    bus_med, bus_all = median_start(bus_start, bus_stop, n)
    unit_med, unit_all = median_start(unit_start, unit_stop, n)
    print('# latency: bus Start median %.0f ms, systemctl start lxcbus@ median %.0f ms, added %.0f ms (n=%d)'
          % (bus_med * 1e3, unit_med * 1e3, (unit_med - bus_med) * 1e3, n))
    print('# bus: %s' % ' '.join('%.0f' % (t * 1e3) for t in bus_all))
    print('# systemctl: %s' % ' '.join('%.0f' % (t * 1e3) for t in unit_all))


if __name__ == '__main__':
    main()
