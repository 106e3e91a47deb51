#!/usr/bin/python3
"""Idmapped (user namespace) instances: security.privileged at create, the
subordinate ids of user lxcbus in /etc/subuid and /etc/subgid (the test
host's own /etc, an overlay), one block of 65536 per instance, the lifecycle
of an idmapped instance (its processes run as the block's base on the host,
as 0 inside), restart adoption, the errors, and a non-root owner."""

import json
import os

import stat

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
BLOCK = 65536
BASE0 = 1000000
SUBID = 'lxcbus:%d:%d\n' % (BASE0, 10 * BLOCK)
USER = 'lxtest'
RULES = '50-t.rules'
SAVED = {}
st = {}


# ---- helpers ------------------------------------------------------------------------------

def write_subids(text_uid, text_gid=None):
    """Replace the lxcbus lines of /etc/subuid and /etc/subgid (others stay)."""
    for path, text in (('/etc/subuid', text_uid), ('/etc/subgid', text_uid if text_gid is None else text_gid)):
        keep = [l for l in (save_file(SAVED, path) or '').splitlines(True) if not l.startswith('lxcbus:')]
        with open(path, 'w') as f:
            f.write(''.join(keep) + text)


def src(kind):
    if kind == 'none':
        return {'type': V('s', 'none')}
    return {'type': V('s', 'template'), 'template': V('s', kind)}


def create(name, kind='busybox', config=None, options=None):
    T.add(name)
    return call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                V('(sa{sv}a{ss}a{sv})', (name, src(kind), config or {}, options or {})), timeout=300)


def unpriv(kind='busybox', prefix='idm'):
    name = unique_name(prefix)
    create(name, kind, {'security.privileged': 'false'})
    return name


def state_dir():
    return get_prop(MANAGER_PATH, MANAGER_IFACE, 'StateDirectory')


def inst_dir(name):
    return os.path.join(state_dir(), 'instances', name)


def metadata(name):
    with open(os.path.join(inst_dir(name), 'lxcbus.json')) as f:
        return json.load(f)


def idmap_base(name):
    im = metadata(name).get('idmap')
    if im is None:
        return None
    assert im['uid'] == im['gid'] and im['count'] == BLOCK, im
    return im['uid']


def status_ids(pid, field):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError('no %s in /proc/%d/status' % (field, pid))


def ctl_exec(name, *argv, user=None):
    cmd = ('lxcbusctl', 'exec', name, '--') + argv
    return run_as_user(user, *cmd) if user else run(*cmd)


def delete(name):
    call(instance_path(name), INSTANCE_IFACE, 'Delete', opts(force=V('b', True)), timeout=120)
    assert not instance_exists(name)


def rejected(errname, fn, mentions=()):
    before, listed = fs_snapshot(), sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'))
    err = expect_error(errname, fn, None, mentions)
    assert fs_snapshot() == before, 'files changed by a rejected call'
    assert sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')) == listed
    return err


# ---- security.privileged and the subordinate ids -----------------------------------------

@test
def setup_subids():
    write_subids(SUBID)
    # Instances other test files left behind may hold blocks: this file counts from what is free.
    st['preexisting'] = sorted(idmap_base(n) for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
                               if idmap_base(n) is not None)


@test
def root_default_is_privileged():
    name = unique_name('priv')
    create(name, 'none')
    cfg = instance_prop(name, 'Config')
    assert cfg == {}, cfg   # absent: the default, privileged
    assert 'idmap' not in metadata(name)
    s = os.stat(inst_dir(name))
    assert (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (0, 0, 0o700), s
    r = os.stat(os.path.join(inst_dir(name), 'rootfs'))
    assert r.st_uid == 0, r
    # explicitly privileged is the same
    name2 = unique_name('priv')
    create(name2, 'none', {'security.privileged': 'true'})
    assert instance_prop(name2, 'Config').get('security.privileged') == 'true'
    delete(name)
    delete(name2)


@test
def bad_privileged_value_is_invalid_config():
    for v in ('yes', '1', '', 'TRUE'):
        rejected(ERR + 'InvalidConfig', lambda: create(unique_name('bad'), 'none', {'security.privileged': v}),
                 mentions=('security.privileged',))


@test
def no_lxcbus_subids_is_not_supported():
    try:
        write_subids('')
        err = rejected(ERR + 'NotSupported', lambda: create(unique_name('nosub'), 'none',
                                                          {'security.privileged': 'false'}),
                       mentions=('/etc/subuid', '/etc/subgid'))
        assert "'lxcbus:" in err.message, err.message
        print('# %s' % err.message)
        # in subuid but not in subgid: the message names the file that lacks it
        write_subids(SUBID, '')
        err = rejected(ERR + 'NotSupported', lambda: create(unique_name('nosub'), 'none',
                                                          {'security.privileged': 'false'}),
                       mentions=('/etc/subgid',))
        # a line for another user does not count
        write_subids('root:%d:%d\n' % (BASE0, BLOCK))
        rejected(ERR + 'NotSupported', lambda: create(unique_name('nosub'), 'none', {'security.privileged': 'false'}))
        # privileged creates do not care
        name = unique_name('nosubpriv')
        create(name, 'none')
        delete(name)
    finally:
        write_subids(SUBID)


@test
def idmapped_none_source():
    name = unpriv('none')
    base = idmap_base(name)
    assert base is not None and base >= BASE0 and (base - BASE0) % BLOCK == 0, base
    assert instance_prop(name, 'Config').get('security.privileged') == 'false'
    assert instance_prop(name, 'Owner') == 0
    assert 'idmapped-instances' in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Features')
    s = os.stat(inst_dir(name))
    assert (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (0, base, 0o710), s
    r = os.stat(os.path.join(inst_dir(name), 'rootfs'))
    assert (r.st_uid, r.st_gid) == (base, base), r
    with open(os.path.join(inst_dir(name), 'config')) as f:
        conf = f.read()
    assert 'lxc.idmap = u 0 %d 65536' % base in conf and 'lxc.idmap = g 0 %d 65536' % base in conf, conf
    delete(name)


@test
def idmapped_busybox_lifecycle():
    name = unpriv('busybox')
    st['life'] = name
    base = idmap_base(name)
    st['life_base'] = base
    assert base is not None
    d = inst_dir(name)
    r = os.stat(os.path.join(d, 'rootfs'))
    assert (r.st_uid, r.st_gid) == (base, base), 'rootfs owned by %d:%d, not %d' % (r.st_uid, r.st_gid, base)
    b = os.lstat(os.path.join(d, 'rootfs', 'bin', 'busybox'))
    assert b.st_uid == base, b
    # the path to the rootfs is traversable, not readable, by others
    for p in (state_dir(), os.path.join(state_dir(), 'instances'), os.path.join(state_dir(), 'staging')):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o711, (p, oct(os.stat(p).st_mode))

    start_instance(name)
    pid = instance_prop(name, 'Pid')
    assert pid > 0
    assert status_ids(pid, 'Uid') == [base] * 4, status_ids(pid, 'Uid')
    assert status_ids(pid, 'Gid') == [base] * 4, status_ids(pid, 'Gid')
    with open('/proc/%d/uid_map' % pid) as f:
        assert f.read().split() == ['0', str(base), '65536']
    rc, out, err = ctl_exec(name, 'id', '-u')
    assert rc == 0 and out.strip() == '0', (rc, out, err)
    rc, out, err = ctl_exec(name, 'sh', '-c', 'echo hi > /root-owned && stat -c %u /root-owned')
    assert rc == 0 and out.strip() == '0', (rc, out, err)
    assert os.stat(os.path.join(d, 'rootfs', 'root-owned')).st_uid == base

    # the console, a terminal from ExecPty, the console log
    fd = open_console(name)
    try:
        console_shell(fd, b'echo con-$((6*7)) $(id -u)\n', b'con-42 0')
    finally:
        os.close(fd)
    master, op = exec_pty(name, ['sh', '-c', 'echo pty-$(id -u)-$(tty)'])
    try:
        out = read_until(master, b'pty-0-/dev/pts/')
    finally:
        os.close(master)
    assert b'con-42' in console_log(name)

    call(instance_path(name), INSTANCE_IFACE, 'Freeze', None)
    assert instance_prop(name, 'State') == 'frozen'
    call(instance_path(name), INSTANCE_IFACE, 'Unfreeze', None)
    assert instance_prop(name, 'State') == 'running'
    rc, out, err = ctl_exec(name, 'true')
    assert rc == 0, (rc, out, err)

    stop_instance(name)
    assert_scope_gone(name)
    start_instance(name)   # again, for the restart test


@test
def restart_adopts_running_idmapped_instance():
    name = st['life']
    pid = instance_prop(name, 'Pid')
    restart_daemon_waiting(lambda: instance_exists(name))
    assert instance_prop(name, 'State') == 'running'
    assert instance_prop(name, 'Pid') == pid
    assert idmap_base(name) == st['life_base']
    assert instance_prop(name, 'Config').get('security.privileged') == 'false'
    rc, out, err = ctl_exec(name, 'id', '-u')
    assert rc == 0 and out.strip() == '0', (rc, out, err)
    # the adopted instance still holds its block
    other = unpriv('none')
    assert idmap_base(other) != st['life_base']
    delete(other)
    stop_instance(name)
    assert_scope_gone(name)
    delete(name)
    assert not os.path.exists(inst_dir(name))


@test
def setconfig_privileged_is_invalid_config():
    name = unpriv('none')
    gen = instance_prop(name, 'Generation')
    for s, u in (({'security.privileged': 'true'}, []), ({'security.privileged': 'false'}, []),
                 ({}, ['security.privileged']), ({'description': 'x', 'security.privileged': 'true'}, [])):
        expect_error(ERR + 'InvalidConfig', lambda: set_config(name, s, u), name, ('security.privileged',))
    assert instance_prop(name, 'Generation') == gen
    assert instance_prop(name, 'Config').get('security.privileged') == 'false'
    assert instance_prop(name, 'Description') == ''
    delete(name)


@test
def blocks_are_distinct_and_reused():
    a = unpriv('none')
    b = unpriv('none')
    ba, bb = idmap_base(a), idmap_base(b)
    assert ba != bb and abs(ba - bb) >= BLOCK, (ba, bb)
    delete(a)
    c = unpriv('none')
    assert idmap_base(c) == ba, 'freed block %d not reused: got %d' % (ba, idmap_base(c))
    delete(b)
    delete(c)


@test
def block_of_a_broken_instance_stays_taken():
    # An idmapped instance whose lxcbus.json does not load is listed as error, owned by root, without
    # its idmap; its files still belong to its block, so a new instance must not get that block.
    a = unpriv('none')
    base = idmap_base(a)
    md = os.path.join(inst_dir(a), 'lxcbus.json')
    with open(md) as f:
        good = f.read()
    try:
        with open(md, 'w') as f:
            f.write('{not json')
        restart_daemon_waiting(lambda: instance_exists(a))
        assert get_prop(instance_path(a), INSTANCE_IFACE, 'State') == 'error'
        assert get_prop(instance_path(a), INSTANCE_IFACE, 'Owner') == 0
        b = unpriv('none')
        assert idmap_base(b) != base, 'block %d of the unlisted %s handed out again' % (base, a)
        delete(b)
    finally:
        with open(md, 'w') as f:
            f.write(good)
        restart_daemon_waiting(lambda: instance_exists(a))
    assert instance_exists(a) and idmap_base(a) == base
    delete(a)


def restart_daemon_waiting(ready):
    old = daemon_pid()
    rc, out, err = run('systemctl', 'restart', 'lxcbusd', timeout=60)
    assert rc == 0, err
    wait_for(lambda: daemon_pid() not in (0, old) and ready(), 30, 'a new lxcbusd')
    expect_new_daemon()   # what check_daemon_alive() compares with from now on


@test
def concurrent_creates_get_distinct_blocks():
    names = [T.add(unique_name('conc')) for _ in range(4)]
    reqs = [(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
             V('(sa{sv}a{ss}a{sv})', (n, src('busybox'), {'security.privileged': 'false'},
                                      {'async': V('b', True)}))) for n in names]
    res = call_many(reqs)
    for n, r in zip(names, res):
        assert not isinstance(r, BusError), (n, r)
    for n, (path, op) in zip(names, res):
        assert op_wait(op, 300) == 'success', (n, get_prop(op, OPERATION_IFACE, 'ErrorMessage'))
    bases = [idmap_base(n) for n in names]
    assert len(set(bases)) == 4, bases
    for n in names:
        delete(n)


@test
def exhausted_subids_is_limits_exceeded():
    held = st['preexisting']
    # two blocks, at an address nothing else uses
    lo = 50000000
    try:
        write_subids('lxcbus:%d:%d\n' % (lo, 2 * BLOCK + 100))
        a = unpriv('none')
        b = unpriv('none')
        assert sorted([idmap_base(a), idmap_base(b)]) == [lo, lo + BLOCK]
        err = rejected(ERR + 'LimitsExceeded', lambda: create(unique_name('full'), 'none',
                                                            {'security.privileged': 'false'}),
                       mentions=('/etc/subuid',))
        print('# %s' % err.message)
        # a concurrent create's reservation counts too
        delete(b)
        n1, n2 = T.add(unique_name('race')), T.add(unique_name('race'))
        res = call_many([(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                          V('(sa{sv}a{ss}a{sv})', (n, src('busybox'), {'security.privileged': 'false'},
                                                   {'async': V('b', True)}))) for n in (n1, n2)])
        ok = [(n, r) for n, r in zip((n1, n2), res) if not isinstance(r, BusError)]
        bad = [r for r in res if isinstance(r, BusError)]
        assert len(ok) == 1 and len(bad) == 1 and bad[0].dbus_name == ERR + 'LimitsExceeded', res
        assert op_wait(ok[0][1][1], 300) == 'success'
        assert idmap_base(ok[0][0]) == lo + BLOCK
        delete(ok[0][0])
        delete(a)
    finally:
        write_subids(SUBID)
    assert held == st['preexisting']


# ---- a non-root owner -----------------------------------------------------------------------

def user_create(name, config=None, args=None):
    s = "{'type': <'template'>, 'template': <'busybox'>%s}" % (
        ", 'args': <%s>" % repr(args) if args is not None else '')
    cfg = '@a{ss} {%s}' % ', '.join("'%s': '%s'" % kv for kv in (config or {}).items())
    return run_as_user(USER, 'gdbus', 'call', '--system', '--dest', BUS_NAME, '--object-path', MANAGER_PATH,
                       '--method', MANAGER_IFACE + '.CreateInstance', "'%s'" % name, s, cfg, '@a{sv} {}',
                       timeout=300)


@test
def non_root_owner_gets_idmapped_instance():
    uid = add_user(USER)
    allow_user(RULES, USER)
    name = T.add(unique_name('own'))
    rc, out, err = retry_while_denied(lambda: user_create(name),
                                      lambda r: r[0] != 0 and gdbus_error_name(r[2])[0] == ACCESS_DENIED)
    assert rc == 0, (rc, out, err)
    assert instance_prop(name, 'Owner') == uid
    assert instance_prop(name, 'Config').get('security.privileged') == 'false'
    base = idmap_base(name)
    assert base is not None
    assert os.stat(os.path.join(inst_dir(name), 'rootfs')).st_uid == base
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, instance_path(name), INSTANCE_IFACE, 'Start',
                               'a{sv}', '0', timeout=120)
    assert rc == 0, (rc, out, err)
    assert instance_prop(name, 'State') == 'running'
    pid = instance_prop(name, 'Pid')
    assert status_ids(pid, 'Uid') == [base] * 4
    rc, out, err = ctl_exec(name, 'id', '-u', user=USER)
    assert rc == 0 and out.strip() == '0', (rc, out, err)

    # privileged or with template arguments: refused, nothing created
    for cfg, args, what in (({'security.privileged': 'true'}, None, 'only root may create privileged'),
                            ({}, ['--help'], 'template arguments')):
        other = unique_name('own')
        rc, out, err = user_create(other, cfg, args)
        ename, msg = gdbus_error_name(err)
        assert rc != 0 and ename == ACCESS_DENIED and what in msg, (rc, out, err)
        assert not instance_exists(other)
    # security.privileged=false is what a non-root caller gets anyway
    other = T.add(unique_name('own'))
    rc, out, err = user_create(other, {'security.privileged': 'false'})
    assert rc == 0, (rc, out, err)
    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, instance_path(other), INSTANCE_IFACE, 'Delete',
                               'a{sv}', '0', timeout=120)
    assert rc == 0, (rc, out, err)

    rc, out, err = run_as_user(USER, 'busctl', 'call', BUS_NAME, instance_path(name), INSTANCE_IFACE, 'Delete',
                               'a{sv}', '1', 'force', 'b', 'true', timeout=120)
    assert rc == 0, (rc, out, err)
    assert not instance_exists(name)
    assert_scope_gone(name)


@on_exit
def cleanup():
    T.cleanup()
    remove_rule(RULES)
    restore_files(SAVED)
    run('userdel', '-r', USER)


if __name__ == '__main__':
    main()
