#!/usr/bin/python3
"""SetConfig and the Config-derived properties, resource limits on the
instance's scope (live and at start), and operations as the Manager lists
them."""

import os

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
st = {}


def path_of(name):
    return instance_path(name)


def wait_unit_prop(unit, prop, value, timeout=10):
    last = [None]

    def check():
        last[0] = unit_props(unit, prop).get(prop)
        return last[0] == value
    try:
        wait_for(check, timeout, '%s %s=%s' % (unit, prop, value))
    except TimeoutError as e:
        raise AssertionError('%s (last %s=%r)' % (e, prop, last[0])) from None


def v1_cgroup_file(controller, unit, fname):
    """The v1 cgroup file of the scope, if that hierarchy exists."""
    p = '/sys/fs/cgroup/%s/machine.slice/%s/%s' % (controller, unit, fname)
    return p if os.path.exists(p) else None


def read_file(p):
    with open(p) as f:
        return f.read().strip()


# ---- SetConfig ----------------------------------------------------------------------------

@test
def new_instance_has_empty_config():
    name = T.add(new_instance('cfg'))
    st['name'] = name
    p = get_all_props(path_of(name), INSTANCE_IFACE)
    assert p['Config'] == {}, p['Config']
    assert p['Description'] == '' and p['Autostart'] is False and p['AutostartPriority'] == 0, p
    assert p['Generation'] >= 1, p['Generation']


@test
def set_keys_and_read_them_back():
    name = st['name']
    path = path_of(name)
    gen = instance_prop(name, 'Generation')
    cfg = {
        'description': 'web server (test) \u00e4 "quoted"',
        'boot.autostart': 'true',
        'boot.autostart.priority': '-42',
        'limits.memory': '64MiB',
        'environment.FOO_1': 'bar baz',
        'user.note': 'free = form',
    }
    with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
        set_config(name, cfg)
        s = sig.wait(lambda s: 'Config' in s.args[1], 10, 'PropertiesChanged with Config')
    changed = s.args[1]
    assert changed['Config'] == cfg, changed['Config']
    assert changed.get('Generation') == gen + 1, changed
    assert changed.get('Description') == cfg['description'], changed
    assert changed.get('Autostart') is True and changed.get('AutostartPriority') == -42, changed
    assert s.args[2] == [], 'properties invalidated instead of sent with values: %s' % (s.args[2],)

    p = get_all_props(path, INSTANCE_IFACE)
    assert p['Config'] == cfg, p['Config']
    assert p['Description'] == cfg['description']
    assert p['Autostart'] is True
    assert p['AutostartPriority'] == -42
    assert p['Generation'] == gen + 1
    # persisted
    md = metadata(name)
    assert md.get('config') == cfg and md.get('generation') == gen + 1, md


@test
def set_and_unset_in_one_call():
    name = st['name']
    path = path_of(name)
    gen = instance_prop(name, 'Generation')
    want = dict(instance_prop(name, 'Config'))
    with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
        set_config(name, {'boot.autostart': 'false', 'limits.tasks': '50'}, ['description', 'user.note'])
        s = sig.wait(lambda s: 'Config' in s.args[1], 10, 'PropertiesChanged with Config')
    del want['description'], want['user.note']
    want.update({'boot.autostart': 'false', 'limits.tasks': '50'})
    assert s.args[1]['Config'] == want, s.args[1]['Config']
    assert s.args[1]['Generation'] == gen + 1
    assert s.args[1]['Description'] == '' and s.args[1]['Autostart'] is False
    assert instance_prop(name, 'Config') == want
    assert instance_prop(name, 'Description') == ''
    assert instance_prop(name, 'Autostart') is False
    assert instance_prop(name, 'AutostartPriority') == -42
    assert instance_prop(name, 'Generation') == gen + 1
    assert metadata(name).get('config') == want


@test
def unset_everything():
    name = st['name']
    keys = list(instance_prop(name, 'Config'))
    set_config(name, unset=keys)
    assert instance_prop(name, 'Config') == {}
    assert instance_prop(name, 'Description') == '' and instance_prop(name, 'Autostart') is False
    assert instance_prop(name, 'AutostartPriority') == 0
    assert metadata(name).get('config', {}) == {}


@test
def key_both_set_and_unset_is_invalid_args():
    name = st['name']
    set_config(name, {'description': 'keep me'})
    gen = instance_prop(name, 'Generation')
    md = metadata(name)
    with Signals.properties_changed(path_of(name), INSTANCE_IFACE) as sig:
        expect_error(INVALID_ARGS, lambda: set_config(name, {'description': 'new', 'user.x': '1'}, ['description']),
                     mentions=('description',))
        # let a stray signal arrive, if any
        call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
        wait_for(lambda: True, 1)
        assert not sig.matching(), 'PropertiesChanged after a rejected SetConfig: %s' % sig.events
    assert instance_prop(name, 'Generation') == gen
    assert instance_prop(name, 'Config') == {'description': 'keep me'}
    assert metadata(name) == md


@test
def failed_setconfig_changes_nothing():
    name = st['name']
    gen = instance_prop(name, 'Generation')
    cfg = instance_prop(name, 'Config')
    md = metadata(name)
    for bad in ({'limits.memory': '1'}, {'limits.tasks': '0'}, {'limits.cpu.weight': '10001'},
                {'boot.autostart.priority': '-1001'}, {'description': 'x' * 1025},
                {'description': 'ok', 'nonsense.key': 'v'}, {'environment.A-B': 'x'}, {'user.': 'x'}):
        expect_error(ERR + 'InvalidConfig', lambda: set_config(name, bad))
    expect_error(INVALID_ARGS, lambda: set_config(name, {'description': 'x'}, options={'nope': V('b', True)}),
                 mentions=('nope',))
    assert instance_prop(name, 'Generation') == gen
    assert instance_prop(name, 'Config') == cfg
    assert metadata(name) == md


@test
def accepted_value_forms():
    name = st['name']
    for k, v in (('limits.memory', '512K'), ('limits.memory', '1G'), ('limits.memory', '2GiB'),
                 ('limits.memory', 'max'), ('limits.tasks', 'max'), ('limits.tasks', '1'),
                 ('limits.cpu.weight', '1'), ('limits.cpu.weight', '10000'),
                 ('boot.autostart.priority', '1000'), ('boot.autostart.priority', '-1000'),
                 ('description', 'x' * 1024), ('environment._X9', ''), ('user.a.b.c', 'v')):
        set_config(name, {k: v})
        assert instance_prop(name, 'Config').get(k) == v, (k, v, instance_prop(name, 'Config'))
    set_config(name, unset=list(instance_prop(name, 'Config')))
    assert instance_prop(name, 'Config') == {}


# ---- limits on the scope --------------------------------------------------------------------------

@test
def limits_set_before_start_apply_at_start():
    name = st['name']
    unit = 'lxcbus-%s.scope' % name
    set_config(name, {'limits.memory': '128MiB', 'limits.tasks': '77', 'limits.cpu.weight': '300'})
    start_instance(name)
    assert instance_prop(name, 'Unit') == unit
    p = unit_props(unit, 'MemoryMax', 'TasksMax', 'CPUWeight')
    assert p == {'MemoryMax': '134217728', 'TasksMax': '77', 'CPUWeight': '300'}, p
    f = v1_cgroup_file('memory', unit, 'memory.limit_in_bytes')
    if f:
        assert read_file(f) == '134217728', (f, read_file(f))
    f = v1_cgroup_file('pids', unit, 'pids.max')
    if f:
        assert read_file(f) == '77', (f, read_file(f))


@test
def limits_apply_live():
    name = st['name']
    unit = 'lxcbus-%s.scope' % name
    assert instance_prop(name, 'State') == 'running'
    set_config(name, {'limits.memory': '256MiB'})
    wait_unit_prop(unit, 'MemoryMax', '268435456')
    f = v1_cgroup_file('memory', unit, 'memory.limit_in_bytes')
    if f:
        wait_for(lambda: read_file(f) == '268435456', 10, '%s = 268435456' % f)
    set_config(name, {'limits.tasks': '100'})
    wait_unit_prop(unit, 'TasksMax', '100')
    f = v1_cgroup_file('pids', unit, 'pids.max')
    if f:
        wait_for(lambda: read_file(f) == '100', 10, '%s = 100' % f)
    set_config(name, {'limits.cpu.weight': '200'})
    wait_unit_prop(unit, 'CPUWeight', '200')
    # the instance kept running through all of it
    assert instance_prop(name, 'State') == 'running'


@test
def unset_limits_apply_live():
    name = st['name']
    unit = 'lxcbus-%s.scope' % name
    set_config(name, unset=['limits.memory'])
    wait_unit_prop(unit, 'MemoryMax', 'infinity')
    set_config(name, unset=['limits.tasks', 'limits.cpu.weight'])
    wait_unit_prop(unit, 'TasksMax', 'infinity')
    wait_unit_prop(unit, 'CPUWeight', '[not set]')
    set_config(name, {'limits.memory': 'max'})
    wait_unit_prop(unit, 'MemoryMax', 'infinity')
    set_config(name, unset=['limits.memory'])
    assert instance_prop(name, 'Config') == {}


# ---- operations ---------------------------------------------------------------------------------------

@test
def finished_operation_is_listed():
    name = st['name']
    path = path_of(name)
    with Signals(path=None, iface=OPERATION_IFACE, member='Completed') as sig:
        op = call(path, INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 10)), timeout=90)
        sig.wait(lambda s: s.path == op, 10, 'Completed on %s' % op)
    assert sig.matching(lambda s: s.path == op)[0].args == ('success', '', ''), sig.events
    assert op.startswith(MANAGER_PATH + '/operation/'), op
    assert op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')
    assert op in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations')
    p = get_all_props(op, OPERATION_IFACE)
    assert p['Kind'] == 'stop' and p['Instance'] == path and p['Status'] == 'success', p
    assert p['Progress'] == 1.0 and p['FinishedAt'] >= p['CreatedAt'] > 0, p
    assert p['StartedByUID'] == 0 and p['ErrorName'] == '' and p['ErrorMessage'] == '', p
    # Wait on a finished operation returns at once
    assert call(op, OPERATION_IFACE, 'Wait', timeout=10) is None
    st['op'] = op


@test
def operations_property_tracks_new_operations():
    name = st['name']
    path = path_of(name)
    before = set(get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations'))
    with Signals.properties_changed(MANAGER_PATH, MANAGER_IFACE) as sig:
        op = call(path, INSTANCE_IFACE, 'Start', opts(async_=V('b', True)))
        sig.wait(lambda s: op in s.args[1].get('Operations', []), 10, 'Operations with %s' % op)
    assert op not in before
    now = set(call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'))
    assert op in now
    # Nothing else goes, unless the daemon already kept its most finished operations (128, a slow run
    # under valgrind gets there): then the oldest one makes room.
    gone = before - now
    assert not gone or (len(gone) == 1 and len(before) >= 128), gone
    assert get_prop(op, OPERATION_IFACE, 'Kind') == 'start'
    assert op_wait(op) == 'success'
    assert op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')


@test
def cancelled_operation_is_listed_with_its_error():
    name = T.add(unique_name('cfgcancel'))
    before = sorted(os.listdir(STAGING_DIR))
    path, op = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                    V('(sa{sv}a{ss}a{sv})', (name, {'type': V('s', 'template'), 'template': V('s', 'busybox')},
                                            {}, {'async': V('b', True)})))
    with Signals(path=op, iface=OPERATION_IFACE, member='Completed') as sig:
        assert get_prop(op, OPERATION_IFACE, 'Cancelable') is True
        # cancel once the worker is busy in staging (the interesting case)
        wait_for(lambda: os.path.exists(os.path.join(STAGING_DIR, name)), 10, 'staging/%s made' % name,
                 interval=0.005)
        call(op, OPERATION_IFACE, 'Cancel')
        s = sig.wait(None, 60, 'Completed on %s' % op)
    assert s.args[0] == 'cancelled' and s.args[1] == 'org.lxcbus1.Error.Cancelled' and s.args[2], s.args
    p = get_all_props(op, OPERATION_IFACE)
    print('# cancelled create: %s: %s' % (p['ErrorName'], p['ErrorMessage']))
    assert p['Status'] == 'cancelled' and p['ErrorName'] == 'org.lxcbus1.Error.Cancelled', p
    assert p['Cancelable'] is False and p['FinishedAt'] > 0, p
    check_error(BusError(p['ErrorName'], p['ErrorMessage']))
    assert op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations')
    assert op in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Operations')
    err = expect_error(p['ErrorName'], lambda: call(op, OPERATION_IFACE, 'Wait', timeout=10))
    assert err.message == p['ErrorMessage'], (err.message, p['ErrorMessage'])
    # nothing half-made is left: no instance, no directory, staging as before
    assert not instance_exists(name)
    assert not os.path.exists(os.path.join(INSTANCES_DIR, name))
    try:
        wait_for(lambda: sorted(os.listdir(STAGING_DIR)) == before, 5, 'staging cleaned up')
    except TimeoutError:
        raise AssertionError('a cancelled create left %s behind: %s' % (
            STAGING_DIR, sorted(os.listdir(STAGING_DIR)))) from None
    # cancelling a finished operation is refused
    expect_error(('org.lxcbus1.Error.InvalidState', 'org.lxcbus1.Error.NotSupported'),
                 lambda: call(op, OPERATION_IFACE, 'Cancel'))
    # and the name is free again
    create_instance(name)
    assert get_prop(instance_path(name), INSTANCE_IFACE, 'State') == 'stopped'


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
