#!/usr/bin/python3
"""Every error a caller can provoke: hostile names, bad sources, options and
config, duplicates, missing instances and objects, the state machine, the
instance lock, optimistic concurrency, signal and timeout ranges, a
non-root caller, and the per-uid operation limit.

Every error reply is checked by check_error(): a domain or standard D-Bus
name (never ...DBus.Error.Failed or System.Error.*), a non-empty message
naming the instance in single quotes where there is one, and lxcbusd still
running as the same process afterwards."""

import json

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
st = {}


def create(name, source=None, config=None, options=None, timeout=300):
    return call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(name, source, config, options),
                timeout=timeout)


def get_instance(name):
    return call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)))


def names_listed():
    return sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'))


def rejected_create(errname, name, source=None, config=None, options=None, instance=None, mentions=()):
    """CreateInstance must fail with errname and change nothing."""
    before, listed = fs_snapshot(), names_listed()
    err = expect_error(errname, lambda: create(name, source, config, options), instance, mentions)
    assert fs_snapshot() == before, 'files changed by a rejected create: %s -> %s' % (before, fs_snapshot())
    assert names_listed() == listed, 'instance list changed by a rejected create'
    return err


def imeth(name, method, params=None, timeout=120):
    return lambda: call(instance_path(name), INSTANCE_IFACE, method, params, timeout=timeout)


# ---- hostile names ------------------------------------------------------------------

HOSTILE = [
    ('empty', ''), ('dot', '.'), ('dotdot', '..'), ('dotdot_slash_x', '../x'),
    ('slash', 'a/b'), ('leading_dash', '-a'), ('trailing_dash', 'a-'),
    ('leading_digit', '1abc'), ('64_chars', 'a' * 64), ('umlaut', '\u00e4'),
    ('space_inside', 'a b'), ('leading_space', ' a'), ('trailing_newline', 'a\n'),
    ('underscore', 'a_b'), ('10000_chars', 'x' * 10000),
]


def _make_name_test(label, bad):
    def t():
        rejected_create(ERR + 'InvalidName', bad)
        # an async create is refused just the same, before any operation
        rejected_create(ERR + 'InvalidName', bad, options={'async': V('b', True)})
        # a source of type none too (it skips the template)
        rejected_create(ERR + 'InvalidName', bad, source={'type': V('s', 'none')})
        before = fs_snapshot()
        expect_error(ERR + 'InvalidName', lambda: get_instance(bad))
        assert fs_snapshot() == before
    t.__name__ = 'invalid_name_' + label
    return t


for _label, _bad in HOSTILE:
    test(_make_name_test(_label, _bad))


@test
def name_of_63_chars_is_accepted():
    name = 'a' + uuid_hex(8) + 'b' * 54
    assert len(name) == 63
    expect_error(ERR + 'NoSuchInstance', lambda: get_instance(name), instance=name)
    T.add(name)
    path, op = create(name, source={'type': V('s', 'none')})
    assert path == instance_path(name), (path, instance_path(name))
    assert get_instance(name) == path
    assert get_prop(path, INSTANCE_IFACE, 'Name') == name
    call(path, INSTANCE_IFACE, 'Delete', opts())
    assert not instance_exists(name)


def uuid_hex(n):
    import uuid
    return uuid.uuid4().hex[:n]


# ---- source and option errors ---------------------------------------------------------

@test
def source_without_type_is_invalid_args():
    rejected_create(INVALID_ARGS, unique_name('e'), source={'template': V('s', 'busybox')})
    rejected_create(INVALID_ARGS, unique_name('e'), source={})


@test
def source_unknown_key_is_invalid_args():
    src = dict(BUSYBOX_SOURCE)
    src['colour'] = V('s', 'blue')
    rejected_create(INVALID_ARGS, unique_name('e'), source=src, mentions=('colour',))


@test
def source_type_with_wrong_variant_is_invalid_args():
    rejected_create(INVALID_ARGS, unique_name('e'),
                    source={'type': V('i', 1), 'template': V('s', 'busybox')}, mentions=('type',))
    rejected_create(INVALID_ARGS, unique_name('e'),
                    source={'type': V('s', 'template'), 'template': V('as', ['busybox'])})


@test
def unknown_template_is_not_supported():
    rejected_create(ERR + 'NotSupported', unique_name('e'),
                    source={'type': V('s', 'template'), 'template': V('s', 'ubuntu-nonexistent')},
                    mentions=('ubuntu-nonexistent',))


@test
def unknown_source_type_is_not_supported():
    rejected_create(ERR + 'NotSupported', unique_name('e'), source={'type': V('s', 'image')},
                    mentions=('image',))


@test
def unknown_option_is_invalid_args():
    rejected_create(INVALID_ARGS, unique_name('e'), options={'asynk': V('b', True)}, mentions=('asynk',))


@test
def option_with_wrong_type_is_invalid_args():
    rejected_create(INVALID_ARGS, unique_name('e'), options={'async': V('s', 'yes')}, mentions=('async',))


# ---- config errors --------------------------------------------------------------------

BAD_CONFIG = [
    ('foo', 'bar'),
    ('limits.memory', 'lots'),
    ('boot.autostart', 'maybe'),
    ('limits.cpu.weight', '0'),
    ('boot.autostart.priority', '5000'),
    ('environment.1BAD', 'x'),
]


@test
def create_with_bad_config_is_invalid_config():
    for k, v in BAD_CONFIG:
        err = rejected_create(ERR + 'InvalidConfig', unique_name('e'), config={k: v}, mentions=(k,))
        print('# %s=%s: %s' % (k, v, err.message))


@test
def setconfig_with_bad_config_is_invalid_config():
    name = T.add(new_instance('econf', source='none'))
    st['conf'] = name
    gen = instance_prop(name, 'Generation')
    for k, v in BAD_CONFIG:
        expect_error(ERR + 'InvalidConfig', lambda: set_config(name, {k: v}), mentions=(k,))
        # a good key next to the bad one is not applied either
        expect_error(ERR + 'InvalidConfig', lambda: set_config(name, {'description': 'half', k: v}), mentions=(k,))
    expect_error(ERR + 'InvalidConfig', lambda: set_config(name, unset=['foo']), mentions=('foo',))
    assert instance_prop(name, 'Generation') == gen, 'Generation moved on failed SetConfig'
    assert instance_prop(name, 'Config') == {}, instance_prop(name, 'Config')


# ---- duplicates, missing instances and objects -----------------------------------------------

@test
def duplicate_create_is_instance_exists():
    name = T.add(new_instance('edup', source='none'))
    before = fs_snapshot()
    expect_error(ERR + 'InstanceExists', lambda: create(name), instance=name)
    expect_error(ERR + 'InstanceExists', lambda: create(name, source={'type': V('s', 'none')},
                                                      options={'async': V('b', True)}), instance=name)
    assert fs_snapshot() == before


@test
def concurrent_async_creates_of_one_name():
    name = T.add(unique_name('edup2'))
    req = create_params(name, options={'async': V('b', True)})
    res = call_many([(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', req)] * 2)
    assert not isinstance(res[0], BusError), 'first async create failed: %s' % res[0]
    assert isinstance(res[1], BusError), 'second create of %s succeeded too: %r' % (name, res[1])
    assert res[1].dbus_name == ERR + 'InstanceExists', res[1]
    check_error(res[1], instance=name)
    check_daemon_alive()
    path, op = res[0]
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert get_instance(name) == path
    # and once it exists, a third one is refused as well
    expect_error(ERR + 'InstanceExists', lambda: create(name), instance=name)
    assert names_listed().count(name) == 1


@test
def get_missing_instance_is_no_such_instance():
    name = unique_name('nosuch')
    expect_error(ERR + 'NoSuchInstance', lambda: get_instance(name), instance=name)


@test
def method_on_missing_instance_path_is_unknown_object():
    path = instance_path(unique_name('nosuch'))
    for method, params in (('Start', opts()), ('Stop', opts()), ('Freeze', None),
                           ('Delete', opts()), ('GetState', None)):
        err = expect_error(UNKNOWN_OBJECT, lambda: call(path, INSTANCE_IFACE, method, params))
        assert path in err.message, err.message
    expect_error(UNKNOWN_OBJECT, lambda: get_prop(path, INSTANCE_IFACE, 'State'))
    expect_error(UNKNOWN_OBJECT, lambda: call(MANAGER_PATH + '/operation/999999', OPERATION_IFACE, 'Wait'))


# ---- the state machine ---------------------------------------------------------------------------

@test
def invalid_state_on_stopped_instance():
    name = T.add(new_instance('estate'))
    st['run'] = name
    expect_error(ERR + 'InvalidState', imeth(name, 'Freeze'), instance=name)
    expect_error(ERR + 'InvalidState', imeth(name, 'Unfreeze'), instance=name)
    expect_error(ERR + 'InvalidState', imeth(name, 'Kill', V('(ib)', (15, False))), instance=name)
    expect_error(ERR + 'InvalidState', imeth(name, 'Kill', V('(ib)', (9, True))), instance=name)
    assert instance_prop(name, 'State') == 'stopped'


@test
def invalid_state_on_running_instance():
    name = st['run']
    start_instance(name)
    pid = instance_prop(name, 'Pid')
    # Unfreeze on a running instance: no-op success (the spec: idempotent)
    assert call(instance_path(name), INSTANCE_IFACE, 'Unfreeze') is None
    assert instance_prop(name, 'State') == 'running'
    expect_error(ERR + 'InvalidState', imeth(name, 'Delete', opts()), instance=name)
    expect_error(ERR + 'InvalidState', imeth(name, 'Delete', opts(force=V('b', False))), instance=name)
    assert instance_prop(name, 'State') == 'running' and instance_prop(name, 'Pid') == pid


@test
def invalid_state_on_frozen_instance():
    name = st['run']
    path = instance_path(name)
    call(path, INSTANCE_IFACE, 'Freeze')
    wait_prop(path, INSTANCE_IFACE, 'State', 'frozen', 30)
    try:
        expect_error(ERR + 'InvalidState', imeth(name, 'Stop', opts()), instance=name)
        expect_error(ERR + 'InvalidState', imeth(name, 'Stop', opts(force=V('b', False))), instance=name)
        expect_error(ERR + 'InvalidState', imeth(name, 'Start', opts()), instance=name)
        expect_error(ERR + 'InvalidState', imeth(name, 'Restart', opts()), instance=name)
        expect_error(ERR + 'InvalidState', imeth(name, 'Delete', opts()), instance=name)
        expect_error(ERR + 'InvalidState', lambda: set_config(name, {'description': 'x'}), instance=name)
        assert instance_prop(name, 'State') == 'frozen'
    finally:
        call(path, INSTANCE_IFACE, 'Unfreeze')
    wait_prop(path, INSTANCE_IFACE, 'State', 'running', 30)


# ---- signal and timeout ranges --------------------------------------------------------------------

@test
def kill_with_invalid_signal_is_invalid_args():
    name = st['run']
    pid = instance_prop(name, 'Pid')
    for sig in (0, 65, -1, 1000, -2147483648):
        for all_ in (False, True):
            expect_error(INVALID_ARGS, imeth(name, 'Kill', V('(ib)', (sig, all_))))
    assert instance_prop(name, 'State') == 'running' and instance_prop(name, 'Pid') == pid


@test
def timeout_too_large_is_invalid_args():
    name = st['run']
    for method in ('Start', 'Stop', 'Restart'):
        for t in (86401, 0xffffffff):
            expect_error(INVALID_ARGS, imeth(name, method, opts(timeout_sec=V('u', t))), mentions=('timeout-sec',))
    expect_error(INVALID_ARGS, imeth(name, 'Stop', opts(timeout_sec=V('i', 5))), mentions=('timeout-sec',))
    assert instance_prop(name, 'State') == 'running'


# ---- the instance lock -------------------------------------------------------------------------

@test
def busy_while_async_start_runs():
    name = st['run']
    path = instance_path(name)
    stop_instance(name)
    res = call_many([
        (path, INSTANCE_IFACE, 'Start', opts(async_=V('b', True))),
        (path, INSTANCE_IFACE, 'Start', opts()),
        (path, INSTANCE_IFACE, 'Stop', opts()),
        (path, INSTANCE_IFACE, 'Delete', opts(force=V('b', True))),
        (path, INSTANCE_IFACE, 'Freeze', None),
    ])
    assert not isinstance(res[0], BusError), 'async Start failed: %s' % res[0]
    op = res[0][0]
    for what, r in zip(('Start', 'Stop', 'Delete', 'Freeze'), res[1:]):
        assert isinstance(r, BusError), '%s during an async Start succeeded: %r' % (what, r)
        assert r.dbus_name == ERR + 'Busy', '%s during an async Start: %s' % (what, r)
        check_error(r, instance=name)
    check_daemon_alive()
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    wait_prop(path, INSTANCE_IFACE, 'State', 'running', 30)


# ---- optimistic concurrency ---------------------------------------------------------------------

@test
def stale_expected_generation_is_conflict():
    name = st['conf']
    gen = instance_prop(name, 'Generation')
    cfg = instance_prop(name, 'Config')
    for stale in (gen - 1, gen + 1, 0):
        expect_error(ERR + 'Conflict', lambda: set_config(name, {'description': 'stale'},
                                                        options={'expected-generation': V('t', stale)}),
                     instance=name)
    assert instance_prop(name, 'Generation') == gen
    assert instance_prop(name, 'Config') == cfg
    expect_error(INVALID_ARGS, lambda: set_config(name, {'description': 'x'},
                                                  options={'expected-generation': V('u', gen)}))
    set_config(name, {'description': 'fresh'}, options={'expected-generation': V('t', gen)})
    assert instance_prop(name, 'Generation') == gen + 1, (instance_prop(name, 'Generation'), gen)
    assert instance_prop(name, 'Description') == 'fresh'
    # the generation we just used is stale now
    expect_error(ERR + 'Conflict', lambda: set_config(name, {'description': 'again'},
                                                    options={'expected-generation': V('t', gen)}),
                 instance=name)
    assert instance_prop(name, 'Description') == 'fresh'


# ---- a start that cannot work ----------------------------------------------------------------------

@test
def start_of_instance_without_rootfs_fails():
    """A source of type none has an empty rootfs ("cannot boot until given
    one", api-spec): Start must fail with an lxcbus error, not report
    success and a running state for an init that never ran."""
    name = T.add(new_instance('enone', source='none'))
    path = instance_path(name)
    with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
        err = expect_error(tuple(ERR + n for n in ('Failed', 'NotSupported', 'InvalidState', 'InvalidConfig')),
                           imeth(name, 'Start', opts(timeout_sec=V('u', 20))), instance=name)
        print('# %s: %s' % (err.dbus_name, err.message))
        assert instance_prop(name, 'State') in ('stopped', 'error')
        assert instance_prop(name, 'Pid') == 0
        wrong = sig.matching(lambda s: s.args[1].get('State') == 'running')
        assert not wrong, 'State went to running: %s' % wrong


# ---- a non-root caller ----------------------------------------------------------------------------

USER = 'lxtest'


def gdbus_as_user(path, method, *args):
    return run_as_user(USER, 'gdbus', 'call', '--system', '--dest', BUS_NAME, '--object-path', path,
                       '--method', method, *args)


@test
def non_root_caller_is_access_denied():
    add_user(USER)
    name = st['conf']
    path = instance_path(name)
    before = fs_snapshot()
    gen = instance_prop(name, 'Generation')
    newname = unique_name('euser')

    # busctl, as a user would type it (busctl prints "Access denied" for
    # this error name whatever the message)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                               'sa{sv}a{ss}a{sv}', newname, '2', 'type', 's', 'template', 'template', 's',
                               'busybox', '0', '0')
    assert rc != 0 and 'Access denied' in err, (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, path, INSTANCE_IFACE, 'Start', 'a{sv}', '0')
    assert rc != 0 and 'Access denied' in err, (rc, out, err)

    # the error name and message, through gdbus
    calls = [
        (MANAGER_PATH, MANAGER_IFACE + '.CreateInstance', "'%s'" % newname,
         "{'type': <'template'>, 'template': <'busybox'>}", '@a{ss} {}', '@a{sv} {}'),
        (path, INSTANCE_IFACE + '.Start', '@a{sv} {}'),
        (path, INSTANCE_IFACE + '.Stop', '@a{sv} {}'),
        (path, INSTANCE_IFACE + '.Delete', "{'force': <true>}"),
        (path, INSTANCE_IFACE + '.SetConfig', "{'description': 'user'}", '@as []', '@a{sv} {}'),
    ]
    for c in calls:
        rc, out, err = gdbus_as_user(*c)
        name_, msg = gdbus_error_name(err)
        assert rc != 0 and name_ == ACCESS_DENIED, (c[1], rc, out, err)
        be = BusError(name_, msg)
        check_error(be, instance=name if c[0] == path else None)
    check_daemon_alive()
    assert fs_snapshot() == before
    assert not instance_exists(newname)
    assert instance_prop(name, 'Generation') == gen and instance_prop(name, 'Description') != 'user'

    # reading is open to everybody
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
    assert rc == 0 and '"%s"' % name in out, (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'GetInstance',
                               's', name)
    assert rc == 0 and path in out, (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', 'get-property', BUS_NAME, path, INSTANCE_IFACE, 'State')
    assert rc == 0 and out.strip() == 's "stopped"', (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', '--json=short', 'call', BUS_NAME, path,
                               'org.freedesktop.DBus.Properties', 'GetAll', 's', INSTANCE_IFACE)
    assert rc == 0, (rc, out, err)
    props = json.loads(out)['data'][0]
    assert props['Name']['data'] == name and props['Generation']['data'] == gen, props
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'ListOperations')
    assert rc == 0 and out.startswith('ao '), (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, path, INSTANCE_IFACE, 'GetState')
    assert rc == 0 and '"state"' in out, (rc, out, err)


@test
def only_root_may_own_the_name():
    # org.lxcbus1.conf: anybody may call the service, only root may own its name. A user asking for
    # it (with queueing, so a refusal cannot be "in the queue") is refused by the bus itself.
    add_user(USER)
    script = ('from gi.repository import Gio, GLib\n'
              'b = Gio.bus_get_sync(Gio.BusType.SYSTEM)\n'
              'try:\n'
              '    r = b.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",\n'
              '                    "RequestName", GLib.Variant("(su)", ("org.lxcbus1", 0)), None, 0, 5000, None)\n'
              '    print("granted", r.unpack()[0])\n'
              'except GLib.Error as e:\n'
              '    print("refused", Gio.DBusError.get_remote_error(e))\n')
    rc, out, err = run_as_user(USER, '/usr/bin/python3', '-c', script)
    assert rc == 0 and out.strip() == 'refused org.freedesktop.DBus.Error.AccessDenied', (rc, out, err)
    check_daemon_alive()


# ---- the per-uid operation limit ----------------------------------------------------------------

@test
def seventeen_async_creates_hit_limits_exceeded():
    import uuid
    tag = uuid.uuid4().hex[:6]
    names = ['lim%s-%02d' % (tag, k) for k in range(17)]
    for n in names:
        T.add(n)
    reqs = [(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
             create_params(n, options={'async': V('b', True)})) for n in names]
    res = call_many(reqs)
    ok = [(n, r) for n, r in zip(names, res) if not isinstance(r, BusError)]
    bad = [(n, r) for n, r in zip(names, res) if isinstance(r, BusError)]
    for n, r in bad:
        assert r.dbus_name == ERR + 'LimitsExceeded', '%s: %s' % (n, r)
        check_error(r)
    check_daemon_alive()
    # every accepted create finishes and succeeds
    for n, (path, op) in ok:
        assert op_wait(op, 180) == 'success', (n, get_prop(op, OPERATION_IFACE, 'ErrorMessage'))
    for n, r in bad:
        assert not instance_exists(n), '%s was refused but exists' % n
    if not bad:
        print('# SKIP: all 17 async creates were accepted (they finished before the 17th arrived); '
              'LimitsExceeded not provoked')
    else:
        assert len(ok) >= 16, 'only %d creates accepted before LimitsExceeded (limit is 16 per uid)' % len(ok)
        print('# %d accepted, %d refused with LimitsExceeded: %s' % (len(ok), len(bad), bad[0][1].message))
    # clean up right away (these are many)
    for n in names:
        cleanup_instance(n)
    assert not [n for n in names if instance_exists(n)]


@on_exit
def cleanup():
    T.cleanup()
    run('userdel', '-r', USER)


if __name__ == '__main__':
    main()
