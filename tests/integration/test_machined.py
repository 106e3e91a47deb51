#!/usr/bin/python3
"""systemd-machined (docs/systemd.md, "machined"): every running instance is a machine of class container,
service lxcbus, leader its init, unit its scope, root directory its rootfs; `machinectl list` and `status`
show it, a stop unregisters it (no leak), `machinectl terminate` and `kill` are seen as a stop (State
stopped, the scope gone), a machined started later (or started afresh, its state lost) and a restarted
daemon register running instances again, an idmapped instance too, and `machinectl shell` runs a
command in an instance whose init is systemd (the Debian image of test_debian_systemd.py)."""
import os
import shutil
import time

from lxcbustest import *
from lxcbushelp import *

A = unique_name('mach')
B = unique_name('machb')
IDM = unique_name('machu')
SD = unique_name('machsd')
T = Tracker()
st = {}


# ---- helpers ----------------------------------------------------------------------------------

def machined_up():
    rc, out, err = run('systemctl', 'is-active', 'systemd-machined.service')
    return out.strip() == 'active'


def start_machined():
    rc, out, err = run('systemctl', 'start', 'systemd-machined.service', timeout=60)
    assert rc == 0, (out, err)


def stop_machined(forget=False):
    """Stop machined; with forget, also drop its saved state (/run/systemd/machines, the test host's
    own), so that what it knows next comes from lxcbusd alone."""
    rc, out, err = run('systemctl', 'stop', 'systemd-machined.service', timeout=60)
    assert rc == 0, (out, err)
    if forget:
        shutil.rmtree('/run/systemd/machines', ignore_errors=True)


def machine(name):
    """machinectl show NAME as a dict, or None when machined has no such machine. Never activates
    machined when it is not running (a machinectl call would)."""
    if not machined_up():
        return None
    rc, out, err = run('machinectl', 'show', name)
    if rc != 0:
        return None
    return dict(l.split('=', 1) for l in out.splitlines() if '=' in l)


def expected_machine(name):
    return {'Name': name, 'Class': 'container', 'Service': 'lxcbus', 'Unit': scope_of(name),
            'Leader': str(instance_prop(name, 'Pid')),
            'RootDirectory': os.path.join(get_prop(MANAGER_PATH, MANAGER_IFACE, 'StateDirectory'),
                                          'instances', name, 'rootfs')}


def machine_matches(name):
    m = machine(name)
    want = expected_machine(name)
    return m is not None and all(m.get(k) == v for k, v in want.items()) and m.get('State') == 'running'


def wait_registered(name, timeout=10):
    try:
        wait_for(lambda: machine_matches(name), timeout, 'machine %s registered' % name)
    except Exception:
        raise AssertionError('machine %s: %r, want %r' % (name, machine(name), expected_machine(name)))


def wait_unregistered(name, timeout=10):
    wait_for(lambda: machine(name) is None, timeout, 'machine %s gone from machined' % name)


def machines():
    rc, out, err = run('machinectl', 'list', '--no-legend', '--no-pager')
    assert rc == 0, (out, err)
    return {l.split()[0]: l.split()[1:] for l in out.splitlines() if l.strip()}


def wait_stopped_by_machined(name):
    """What a client sees after machinectl ended an instance: State stopped (a PropertiesChanged), the
    scope gone, the machine gone."""
    wait_prop(instance_path(name), INSTANCE_IFACE, 'State', 'stopped', 60 * SLOW)
    assert instance_prop(name, 'Pid') == 0
    assert_scope_gone(name, 30)
    wait_unregistered(name)


def journal_has(text):
    rc, out, err = run('journalctl', '-u', 'lxcbusd.service', '--no-pager', '-q', '-o', 'cat', '-g', text)
    return rc == 0 and text in out


def assert_no_machined_warnings():
    for text in ('Failed to register', 'another machine has that name', 'Failed to unregister'):
        assert not journal_has(text), text


# ---- the tests --------------------------------------------------------------------------------

@test
def registered_with_class_service_leader_unit_root():
    start_machined()
    T.add(A)
    create_running_instance(A)
    wait_registered(A)
    assert machines().get(A, [None])[0] == 'container', machines()
    rc, out, err = run('machinectl', 'status', '--no-pager', A)
    assert rc == 0, (out, err)
    assert 'Unit: %s' % scope_of(A) in out, out
    assert 'Leader: %d' % instance_prop(A, 'Pid') in out, out
    assert 'Service: lxcbus; class container' in out, out


@test
def stop_unregisters_and_start_registers_again():
    stop_instance(A)
    wait_unregistered(A)
    start_instance(A)
    wait_registered(A)


def machinectl_ends_it(verb):
    """machinectl VERB A ends the instance as a stop: State=stopped by PropertiesChanged, init gone, the
    scope and the machine gone; it starts again as ever, registered again."""
    pid = instance_prop(A, 'Pid')
    with Signals.properties_changed(instance_path(A), INSTANCE_IFACE) as sig:
        rc, out, err = run('machinectl', verb, A, timeout=60)
        assert rc == 0, (out, err)
        sig.wait(lambda s: s.args[1].get('State') == 'stopped', 60 * SLOW, 'PropertiesChanged State=stopped')
    wait_stopped_by_machined(A)
    assert not pid_alive(pid)
    start_instance(A)
    wait_registered(A)


@test
def terminate_is_a_stop():
    machinectl_ends_it('terminate')


@test
def kill_is_a_stop():
    machinectl_ends_it('kill')


@test
def machined_started_later_registers_running_instances():
    stop_machined(forget=True)
    T.add(B)
    create_running_instance(B)     # started while machined is away
    start_machined()               # it knows nothing: both come from lxcbusd
    wait_registered(A)
    wait_registered(B)


@test
def machined_restarted_keeps_them():
    rc, out, err = run('systemctl', 'restart', 'systemd-machined.service', timeout=60)
    assert rc == 0, (out, err)
    wait_registered(A)
    wait_registered(B)


@test
def daemon_restart_registers_again():
    # machined kept: the new daemon finds its machines there (MachineExists, then its own by init's pid)
    restart_daemon()
    wait_registered(A)
    # machined away while the daemon restarts, and started afresh: the adopted instances are registered
    stop_machined(forget=True)
    restart_daemon()
    start_machined()
    wait_registered(A)
    wait_registered(B)
    # the new daemon knows them as registered: a stop unregisters
    stop_instance(B)
    wait_unregistered(B)
    assert_no_machined_warnings()


@test
def no_registration_leaks():
    for n in (A, B):
        if instance_prop(n, 'State') != 'stopped':
            stop_instance(n)
    for n in (A, B):
        wait_unregistered(n)
    assert not [n for n in machines() if n in (A, B)], machines()


@test
def name_of_another_machine_is_left_alone():
    # Another machine called like the instance (registered here by hand, leader a sleep in a service):
    # the instance runs unregistered, the other machine stays as it was, through the instance's stop.
    name = T.add(unique_name('machx'))
    unit = 'foreign-%s.service' % name
    rc, out, err = run('systemd-run', '--unit', unit, '--collect', 'sleep', '600')
    assert rc == 0, (out, err)
    try:
        leader = int(run('systemctl', 'show', '-p', 'MainPID', '--value', unit)[1].strip())
        rc, out, err = run('busctl', 'call', 'org.freedesktop.machine1', '/org/freedesktop/machine1',
                           'org.freedesktop.machine1.Manager', 'RegisterMachine', 'sayssus', name, '0', 'other',
                           'container', str(leader), '/')
        assert rc == 0, (out, err)
        create_instance(name)
        start_instance(name)
        wait_for(lambda: journal_has('another machine has that name'), 10, 'the warning in the journal')
        m = machine(name)
        assert m and (m['Leader'], m['Service'], m['Unit']) == (str(leader), 'other', unit), m
        # An UnregisterMachine of ours would be sent before the scope's stop, so before Stop answers,
        # and machined reads its queue in order: by now it would have been done.
        stop_instance(name)
        m = machine(name)
        assert m and m['Leader'] == str(leader), m
    finally:
        run('systemctl', 'stop', unit)
    wait_unregistered(name)


@test
def idmapped_instance_registered():
    ensure_subids()
    T.add(IDM)
    create_instance(IDM, config={'security.privileged': 'false'})
    start_instance(IDM)
    wait_registered(IDM)
    stop_instance(IDM)
    wait_unregistered(IDM)


@test
def shell_into_systemd_instance():
    tarball = debian_image('systemd')
    if not tarball:
        return
    T.add(SD)
    import_tarball_file(SD, tarball)
    start_instance(SD)
    wait_registered(SD)

    def booted():
        status, sig, out = root_exec(SD, ['timeout', '10', 'systemctl', 'is-system-running', '--wait'], timeout=30)
        return out.strip() or None
    state = wait_for(booted, 60 * SLOW, 'systemd in %s answers' % SD, interval=0.1)
    assert state == 'running', state
    rc, out, err = run('machinectl', 'shell', '-q', SD, '/bin/sh', '-c', 'echo in-$(hostname)-as-$(id -u)',
                       timeout=60)
    assert rc == 0, (rc, out, err)
    assert 'in-%s-as-0' % SD in out, (out, err)
    # machinectl poweroff (SIGRTMIN+4 to the leader) is its clean shutdown: a stop like any other
    rc, out, err = run('machinectl', 'poweroff', SD, timeout=60)
    assert rc == 0, (out, err)
    wait_stopped_by_machined(SD)


@on_exit
def cleanup():
    T.cleanup()
    restore_subids()
    if not machined_up():
        start_machined()


if __name__ == '__main__':
    main()
