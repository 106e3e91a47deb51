#!/usr/bin/python3
"""Snapshots, Rename and Copy of instances: a snapshot keeps the rootfs, a
restore brings it back (Generation bumped, Snapshots sent), names are checked;
a rename moves the object (signals) and the instance still starts; a copy
starts, has the same files, leaves the source alone, can come from a
snapshot, is moved into its own idmap block for an idmapped source copied by
its user, can be ephemeral, and a cancelled copy leaves nothing."""

import json
import os
import struct
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
USER = 'lxsnap'
RULE = '50-lxcbus-test-snapshots.rules'
st = {}






def copy(src, new, **kw):
    return copy_instance(T, src, new, **kw)



# ---- snapshots ------------------------------------------------------------------------------

@test
def snapshot_and_restore():
    name = T.add(unique_name('snap'))
    create_instance(name)
    start_instance(name)
    sh(name, 'echo original > /etc/marker')
    stop_instance(name)
    gen = instance_prop(name, 'Generation')
    path = instance_path(name)
    with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
        op = snap_call(name, 'Snapshot', 'before')
        sig.wait(lambda s: 'Snapshots' in s.args[1], 10, 'PropertiesChanged Snapshots')
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    snaps = instance_prop(name, 'Snapshots')
    assert [n for n, t in snaps] == ['before'], snaps
    assert abs(snaps[0][1] / 1e6 - time.time()) < 600, snaps
    assert instance_prop(name, 'Generation') > gen
    assert [s['name'] for s in metadata(name)['snapshots']] == ['before']
    with open(os.path.join(inst_dir(name), 'snapshots', 'before', 'rootfs', 'etc', 'marker')) as f:
        assert f.read() == 'original\n'

    start_instance(name)
    sh(name, 'echo changed > /etc/marker; touch /etc/new-file')
    stop_instance(name)
    gen = instance_prop(name, 'Generation')
    with Signals.properties_changed(path, INSTANCE_IFACE) as sig:
        op = snap_call(name, 'RestoreSnapshot', 'before')
        sig.wait(lambda s: 'Generation' in s.args[1], 10, 'PropertiesChanged Generation')
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert instance_prop(name, 'Generation') > gen
    start_instance(name)
    assert sh(name, 'cat /etc/marker; ls /etc/new-file 2>/dev/null; true') == 'original\n'
    stop_instance(name)
    # The snapshot stays after a restore; the old rootfs went.
    assert [n for n, t in instance_prop(name, 'Snapshots')] == ['before']
    st['snap'] = name


@test
def snapshot_ctl_list_and_delete():
    name = st['snap']
    rc, out, err = run(CTL, 'snapshot', name, 'second')
    assert rc == 0, (rc, out, err)
    rc, out, err = run(CTL, 'snapshots', name)
    assert rc == 0, (rc, out, err)
    lines = out.splitlines()
    assert lines[0].split() == ['NAME', 'CREATED'], out
    assert [l.split()[0] for l in lines[1:]] == ['before', 'second'], out
    with Signals.properties_changed(instance_path(name), INSTANCE_IFACE) as sig:
        rc, out, err = run(CTL, 'snapshot-delete', name, 'second')
        assert rc == 0, (rc, out, err)
        sig.wait(lambda s: 'Snapshots' in s.args[1], 10, 'PropertiesChanged Snapshots')
    assert [n for n, t in instance_prop(name, 'Snapshots')] == ['before']
    wait_for(lambda: not os.path.exists(os.path.join(inst_dir(name), 'snapshots', 'second')), 30,
             'snapshot directory gone')


@test
def snapshot_names_checked():
    name = st['snap']
    wait_staging_empty([])   # the removal of the deleted snapshot must not count as a change
    before = fs_snapshot()
    for bad in ('', '-x', 'a/b', '..', 'x' * 64):
        expect_error('org.lxcbus1.Error.InvalidName', lambda: snap_call(name, 'Snapshot', bad))
    expect_error('org.lxcbus1.Error.Conflict', lambda: snap_call(name, 'Snapshot', 'before'), mentions=('before',))
    for method in ('RestoreSnapshot', 'DeleteSnapshot'):
        expect_error('org.freedesktop.DBus.Error.InvalidArgs', lambda: snap_call(name, method, 'missing'),
                     mentions=('missing',))
    expect_error('org.freedesktop.DBus.Error.InvalidArgs', lambda: snap_call(name, 'Snapshot', 'x', bogus=V('b', True)))
    assert fs_snapshot() == before


@test
def snapshot_of_running_is_invalid_state():
    name = st['snap']
    start_instance(name)
    try:
        for method in ('Snapshot', 'RestoreSnapshot'):
            expect_error('org.lxcbus1.Error.InvalidState', lambda: snap_call(name, method, 'before'))
    finally:
        stop_instance(name)


# ---- rename ---------------------------------------------------------------------------------

@test
def rename_moves_the_object():
    old = st['snap']
    new = T.add(unique_name('renamed'))
    old_path, new_path = instance_path(old), instance_path(new)
    with Signals(path=MANAGER_PATH, iface=MANAGER_IFACE) as msig, \
            Signals(iface='org.freedesktop.DBus.ObjectManager') as osig:
        instance_call(old, 'Rename', V('(s)', (new,)))
        # Sent before the reply.
        msig.wait(lambda s: s.member == 'InstanceRemoved' and s.args == (old, old_path), 5, 'InstanceRemoved')
        msig.wait(lambda s: s.member == 'InstanceNew' and s.args == (new, new_path), 5, 'InstanceNew')
        osig.wait(lambda s: s.member == 'InterfacesRemoved' and s.args[0] == old_path, 5, 'InterfacesRemoved')
        osig.wait(lambda s: s.member == 'InterfacesAdded' and s.args[0] == new_path, 5, 'InterfacesAdded')
    assert not instance_exists(old)
    assert not os.path.exists(inst_dir(old))
    assert instance_prop(new, 'Name') == new
    assert metadata(new)['name'] == new
    with open(os.path.join(inst_dir(new), 'config')) as f:
        cfg = f.read()
    assert inst_dir(old) not in cfg and ('lxc.uts.name = %s' % new) in cfg, cfg
    assert [n for n, t in instance_prop(new, 'Snapshots')] == ['before']
    start_instance(new)
    assert sh(new, 'hostname').strip() == new
    st['snap'] = new


@test
def rename_refusals():
    name = st['snap']   # running
    other = T.add(unique_name('other'))
    create_instance(other, 'none')
    expect_error('org.lxcbus1.Error.InvalidState', lambda: instance_call(name, 'Rename', V('(s)', ('x' + other,))))
    stop_instance(name)
    expect_error('org.lxcbus1.Error.InstanceExists', lambda: instance_call(name, 'Rename', V('(s)', (other,))))
    expect_error('org.lxcbus1.Error.InvalidName', lambda: instance_call(name, 'Rename', V('(s)', ('-bad',))))
    assert instance_exists(name) and instance_exists(other)


@test
def interrupted_rename_is_finished_or_dropped():
    """The states a daemon killed inside Rename leaves: committed (the metadata names the new name, the
    new config waits beside the old one) is finished at the next start; not committed is dropped."""
    old, new = T.add(unique_name('ren')), T.add(unique_name('ren'))
    create_instance(old, 'none')
    rc, out, err = run('systemctl', 'stop', 'lxcbusd', timeout=60)
    assert rc == 0, err
    with open(os.path.join(inst_dir(old), 'config')) as f:
        cfg = f.read()
    pending = cfg.replace(inst_dir(old), inst_dir(new)).replace('lxc.uts.name = %s' % old, 'lxc.uts.name = %s' % new)
    with open(os.path.join(inst_dir(old), 'config.rename'), 'w') as f:
        f.write(pending)
    md = metadata(old)
    md['name'] = new
    with open(os.path.join(inst_dir(old), 'lxcbus.json'), 'w') as f:
        json.dump(md, f)
    restart_daemon()
    assert not instance_exists(old) and instance_exists(new)
    assert not os.path.exists(inst_dir(old))
    with open(os.path.join(inst_dir(new), 'config')) as f:
        assert f.read() == pending
    assert not os.path.exists(os.path.join(inst_dir(new), 'config.rename'))

    # Not committed: the pending config goes, the instance stays as it was.
    with open(os.path.join(inst_dir(new), 'config.rename'), 'w') as f:
        f.write('lxc.uts.name = other\n')
    restart_daemon()
    assert instance_exists(new) and not os.path.exists(os.path.join(inst_dir(new), 'config.rename'))
    with open(os.path.join(inst_dir(new), 'config')) as f:
        assert f.read() == pending


# ---- copy -----------------------------------------------------------------------------------

@test
def copy_is_equal_and_starts():
    src = st['snap']
    new = unique_name('copy')
    before = tree_under(rootfs(src))
    path, op = copy(src, new, config=V('a{ss}', {'description': 'a copy'}))
    assert path == instance_path(new), path
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert tree_under(rootfs(new)) == before
    assert tree_under(rootfs(src)) == before
    assert instance_prop(new, 'Description') == 'a copy'
    assert instance_prop(new, 'Snapshots') == []
    assert instance_prop(new, 'Generation') == 1
    start_instance(new)
    assert sh(new, 'cat /etc/marker; hostname') == 'original\n%s\n' % new
    assert instance_prop(src, 'State') == 'stopped'
    cleanup_instance(new)


@test
def copy_from_snapshot_and_ephemeral():
    src = st['snap']
    start_instance(src)
    sh(src, 'echo later > /etc/marker')
    stop_instance(src)
    new = unique_name('copysnap')
    rc, out, err = run(CTL, 'copy', src, new, '--snapshot', 'before', '--ephemeral')
    T.add(new)
    assert rc == 0, (rc, out, err)
    assert instance_prop(new, 'Ephemeral') is True
    with open(os.path.join(rootfs(new), 'etc', 'marker')) as f:
        assert f.read() == 'original\n'
    start_instance(new)
    stop_instance(new)
    wait_for(lambda: not instance_exists(new), 60, 'ephemeral copy deleted')
    expect_error('org.freedesktop.DBus.Error.InvalidArgs', lambda: copy(src, unique_name('c'), snapshot=V('s', 'nope')))
    expect_error('org.lxcbus1.Error.InstanceExists', lambda: copy(src, src))
    # allow-running itself: test_copy_running.py.
    expect_error('org.freedesktop.DBus.Error.InvalidArgs',
                 lambda: copy(src, unique_name('c'), allow_running=V('s', 'yes')))


@test
def copy_of_idmapped_by_its_user():
    ensure_subids()
    uid = add_user(USER)
    allow_user(RULE, USER)
    src = T.add(unique_name('idsrc'))
    rc, out, err = retry_while_denied(lambda: run_as_user(USER, CTL, 'create', src, timeout=300),
                                      lambda r: r[0] != 0)
    assert rc == 0, (rc, out, err)
    base = metadata(src)['idmap']['uid']
    # A file capability of revision 3 names its namespace root (a host uid): it moves with the owners.
    capfile = os.path.join(rootfs(src), 'capfile')
    with open(capfile, 'w') as f:
        f.write('x')
    os.chown(capfile, base, base)
    os.setxattr(capfile, 'security.capability', struct.pack('<6I', 0x03000001, 1 << 13, 0, 0, 0, base))
    new = T.add(unique_name('idcopy'))
    rc, out, err = run_as_user(USER, CTL, 'copy', src, new, timeout=300)
    assert rc == 0, (rc, out, err)
    nbase = metadata(new)['idmap']['uid']
    assert nbase != base, (base, nbase)
    assert instance_prop(new, 'Owner') == uid
    # the same tree, owners moved from the source's block into the copy's
    a, b = tree_of(rootfs(src), base), tree_of(rootfs(new), nbase)
    assert a == b, [(x, y) for x, y in zip(a, b) if x != y][:5]
    assert os.stat(rootfs(new)).st_uid == nbase
    cap = struct.unpack('<6I', os.getxattr(os.path.join(rootfs(new), 'capfile'), 'security.capability'))
    assert cap == (0x03000001, 1 << 13, 0, 0, 0, nbase), cap
    with open(os.path.join(inst_dir(new), 'config')) as f:
        cfg = f.read()
    assert 'lxc.idmap = u 0 %d 65536' % nbase in cfg and str(base) not in cfg, cfg
    rc, out, err = run_as_user(USER, CTL, 'start', new, timeout=120)
    assert rc == 0, (rc, out, err)
    pid = instance_prop(new, 'Pid')
    with open('/proc/%d/status' % pid) as f:
        uids = [l for l in f if l.startswith('Uid:')][0].split()[1:]
    assert uids == [str(nbase)] * 4, uids


@test
def cancelled_copy_leaves_nothing():
    src = T.add(unique_name('big'))
    create_instance(src, 'none')
    # Many files: slow enough to cancel on any file system (a big file would be one reflink).
    top = os.path.join(rootfs(src), 'many')
    for d in range(100):
        os.makedirs(os.path.join(top, str(d)))
        for f in range(300):
            with open(os.path.join(top, str(d), str(f)), 'w') as fh:
                fh.write('x' * 100)
    before_tree = len(tree_under(rootfs(src)))
    staging = staging_entries()
    new = unique_name('cancelled')
    path, op = copy(src, new, async_=V('b', True))
    assert get_prop(op, OPERATION_IFACE, 'Cancelable') is True
    call(op, OPERATION_IFACE, 'Cancel')
    assert op_wait(op) == 'cancelled'
    assert get_prop(op, OPERATION_IFACE, 'ErrorName') == 'org.lxcbus1.Error.Cancelled'
    assert not instance_exists(new)
    assert not os.path.exists(inst_dir(new))
    wait_staging_empty(staging)
    assert len(tree_under(rootfs(src))) == before_tree
    # The name is free again, and the source is not locked.
    wait_for(lambda: not any(e.startswith(new) or new in e for e in staging_entries()), 30, 'staging clean')
    snap_call(src, 'Snapshot', 's1', async_=V('b', True))
    wait_for(lambda: instance_prop(src, 'Snapshots'), 120, 'snapshot taken')
    st['big'] = src


@test
def cancelled_snapshot_and_restore_leave_nothing():
    src = st['big']
    staging = staging_entries()
    before, snaps = tree_under(rootfs(src)), instance_prop(src, 'Snapshots')
    for method, snap in (('Snapshot', 'cancelled'), ('RestoreSnapshot', 's1')):
        op = snap_call(src, method, snap, async_=V('b', True))
        call(op, OPERATION_IFACE, 'Cancel')
        assert op_wait(op) == 'cancelled', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
        wait_staging_empty(staging)
        assert instance_prop(src, 'Snapshots') == snaps
        assert not os.path.exists(os.path.join(inst_dir(src), 'snapshots', 'cancelled'))
        assert tree_under(rootfs(src)) == before


@test
def killed_daemon_leaves_no_partial_snapshot_copy_or_restore():
    """kill -9 of the daemon at a few points of each long job: afterwards each is whole or absent,
    staging/ is emptied, the source is as it was."""
    src = st['big']
    with open(os.path.join(rootfs(src), 'extra'), 'w') as f:
        f.write('only in the rootfs, not in s1')
    rootfs_tree, s1_tree = tree_under(rootfs(src)), tree_under(os.path.join(inst_dir(src), 'snapshots', 's1', 'rootfs'))
    assert rootfs_tree != s1_tree
    outcomes = []
    for kind in ('snapshot', 'copy', 'restore'):
        for k, delay in enumerate((0, 0.1, 0.4, 1.2, 3.0)):
            new = '%s-k%s%d' % (src, kind[0], k)
            if kind == 'copy':
                copy(src, new, async_=V('b', True))
            elif kind == 'snapshot':
                snap_call(src, 'Snapshot', 'k%d' % k, async_=V('b', True))
            else:
                snap_call(src, 'RestoreSnapshot', 's1', async_=V('b', True))
            time.sleep(delay)
            kill_and_restart_daemon()
            wait_for(lambda: staging_entries() == [], 60, 'staging emptied (%s)' % staging_entries())
            if kind == 'copy':
                done = instance_exists(new)
                assert done or not os.path.exists(inst_dir(new)), new
                if done:
                    assert len(tree_under(rootfs(new))) == len(rootfs_tree)
                    cleanup_instance(new)
            elif kind == 'snapshot':
                done = 'k%d' % k in [n for n, t in instance_prop(src, 'Snapshots')]
                d = os.path.join(inst_dir(src), 'snapshots', 'k%d' % k)
                if done:
                    assert len(tree_under(os.path.join(d, 'rootfs'))) == len(rootfs_tree)
                    snap_call(src, 'DeleteSnapshot', 'k%d' % k)
                else:
                    # A directory the metadata does not list goes when the name is taken again.
                    snap_call(src, 'Snapshot', 'k%d' % k)
                    snap_call(src, 'DeleteSnapshot', 'k%d' % k)
            else:
                now = tree_under(rootfs(src))
                done = now == s1_tree
                assert done or now == rootfs_tree, 'half a restore'
                if done:
                    with open(os.path.join(rootfs(src), 'extra'), 'w') as f:
                        f.write('only in the rootfs, not in s1')
                    assert tree_under(rootfs(src)) == rootfs_tree
            outcomes.append((kind, delay, done))
    assert instance_prop(src, 'State') == 'stopped'
    print('# kill points (kind, delay, finished): %s' % outcomes)


@on_exit
def cleanup():
    T.cleanup()
    remove_rule(RULE)
    run('userdel', '-r', USER)
    restore_subids()


if __name__ == '__main__':
    main()
