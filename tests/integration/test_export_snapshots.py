#!/usr/bin/python3
"""Export's option `snapshots` and its import: an instance with two snapshots of different content,
exported with its snapshots and imported under a new name, has the same Snapshots (names, creation
times), and restoring each gives back exactly that snapshot's tree (content, mode, owner of every file);
an export without the option carries none; the snapshot part of a tarball is as hostile as the rootfs
(names out of the tree, unlisted or invalid snapshot names, too many, malformed metadata, links across
trees: a clear error, nothing written outside, nothing left in staging); an idmapped import shifts the
snapshots' owners like the rootfs's and exports back un-shifted; a cancelled import with snapshots
leaves nothing."""

import io
import json
import os
import tarfile
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
CANARY = '/tmp/lxcbus-expsnap-canary'
st = {}



def snap_root(name, snap):
    return os.path.join(inst_dir(name), 'snapshots', snap, 'rootfs')


def rootfs_tree(name):
    return tree_of(os.path.join(inst_dir(name), 'rootfs'), idmap_base(name))


def snap_tree(name, snap):
    return tree_of(snap_root(name, snap), idmap_base(name))


def imp(name, data, config=None, options=None):
    T.add(name)
    return import_tarball(name, data, config, options)


def write(path, data, mode=0o644, uid=0, gid=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
        meta = json.load(tf.extractfile('lxcbus.json'))
    return names, meta


def staging_entries():
    return os.listdir(STAGING_DIR)


def assert_nothing_left(name):
    assert not instance_exists(name), name
    wait_for(lambda: not [e for e in staging_entries() if name in e], 30, 'staging of %s empty' % name)
    assert not os.path.exists(CANARY), 'written outside: %s' % CANARY
    assert not os.path.exists('/etc/lxcbus-expsnap-x'), 'written into the host /etc'


# ---- an instance with two snapshots -----------------------------------------------------------

@test
def export_with_snapshots_round_trips():
    src = T.add(new_instance('exs'))
    root = os.path.join(inst_dir(src), 'rootfs')
    write(os.path.join(root, 'etc/expsnap'), b'one\n', 0o640)
    write(os.path.join(root, 'srv/one-only/secret'), b'only in one\n', 0o600, 1000, 1000)
    os.symlink('/etc/expsnap', os.path.join(root, 'expsnap-link'))
    snap_call(src, 'Snapshot', 'one')
    time.sleep(0.01)
    write(os.path.join(root, 'etc/expsnap'), b'two two\n', 0o604, 33, 33)
    os.unlink(os.path.join(root, 'srv/one-only/secret'))
    os.rmdir(os.path.join(root, 'srv/one-only'))
    write(os.path.join(root, 'srv/two.bin'), os.urandom(300 * 1024), 0o755, 2, 3)
    os.link(os.path.join(root, 'srv/two.bin'), os.path.join(root, 'srv/two.hl'))
    snap_call(src, 'Snapshot', 'two')
    write(os.path.join(root, 'etc/expsnap'), b'live\n')
    st['src'] = src
    snaps = instance_prop(src, 'Snapshots')
    assert [n for n, t in snaps] == ['one', 'two'], snaps
    assert snap_tree(src, 'one') != snap_tree(src, 'two')

    data = export_tarball(src, {'snapshots': V('b', True), 'compression': V('s', 'gzip')})
    names, meta = members(data)
    assert names[0] == 'lxcbus.json', names[:3]
    assert [(s['name'], s['created-at']) for s in meta['snapshots']] == [tuple(s) for s in snaps], meta
    for snap in ('one', 'two'):
        assert 'snapshots/%s/rootfs/etc/expsnap' % snap in names, names
    assert 'snapshots/one/rootfs/srv/one-only/secret' in names
    assert not [n for n in names if not n.startswith(('lxcbus.json', 'rootfs', 'snapshots/one/rootfs',
                                                       'snapshots/two/rootfs'))], names
    st['data'] = data

    dst = unique_name('exs')
    path, op = imp(dst, data)
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert instance_prop(dst, 'Snapshots') == snaps
    assert rootfs_tree(dst) == rootfs_tree(src)
    for snap in ('one', 'two'):
        assert snap_tree(dst, snap) == snap_tree(src, snap), snap
        s = os.lstat(os.path.join(inst_dir(dst), 'snapshots', snap))
        assert (s.st_uid, s.st_mode & 0o777) == (0, 0o700), s
    # Each restore gives back exactly that snapshot's tree, and the imported instance still boots.
    for snap in ('one', 'two'):
        snap_call(dst, 'RestoreSnapshot', snap)
        assert rootfs_tree(dst) == snap_tree(src, snap), snap
    start_instance(dst)
    status, sig, out = root_exec(dst, ['cat', '/etc/expsnap'])
    assert (status, out) == (0, 'two two\n'), (status, sig, out)
    stop_instance(dst)
    # The imported snapshots are snapshots like any other: deleted as such.
    snap_call(dst, 'DeleteSnapshot', 'one')
    assert [n for n, t in instance_prop(dst, 'Snapshots')] == ['two']
    assert not os.path.exists(os.path.join(inst_dir(dst), 'snapshots', 'one'))


@test
def export_without_option_has_no_snapshots():
    src = st['src']
    data = export_tarball(src)
    names, meta = members(data)
    assert not [n for n in names if n.startswith('snapshots')], names
    assert not meta.get('snapshots'), meta
    dst = unique_name('nos')
    imp(dst, data)
    assert instance_prop(dst, 'Snapshots') == []
    assert not os.path.exists(os.path.join(inst_dir(dst), 'snapshots'))
    assert rootfs_tree(dst) == rootfs_tree(src)
    cleanup_instance(dst)
    # Explicitly false, the same.
    names, meta = members(export_tarball(src, {'snapshots': V('b', False)}))
    assert not [n for n in names if n.startswith('snapshots')] and not meta.get('snapshots'), names
    export_error(src, INVALID_ARGS, {'snapshots': V('s', 'yes')})


@test
def lxcbusctl_export_snapshots():
    src = st['src']
    path = '/tmp/lxcbus-expsnap.tar'
    try:
        rc, out, err = run(CTL, 'export', src, path, '--snapshots', timeout=300)
        assert rc == 0, err
        dst = T.add(unique_name('ctl'))
        rc, out, err = run(CTL, 'import', dst, path, timeout=300)
        assert rc == 0, err
        rc, out, err = run(CTL, 'snapshots', dst)
        assert rc == 0 and 'one' in out and 'two' in out, (out, err)
        assert instance_prop(dst, 'Snapshots') == instance_prop(src, 'Snapshots')
        cleanup_instance(dst)
    finally:
        if os.path.exists(path):
            os.unlink(path)


# ---- hostile snapshot parts ------------------------------------------------------------------------

def meta_with(snaps):
    """The source's export metadata with snapshots listed as given (a list of JSON values)."""
    meta = dict(members(st['data'])[1])
    meta['snapshots'] = snaps
    return json.dumps(meta).encode()


def hostile(data, mentions=()):
    name = unique_name('bad')
    T.add(name)
    err = expect_error(('org.lxcbus1.Error.Failed',), lambda: import_tarball(name, data))
    for m in mentions:
        assert m in err.message, (m, err.message)
    assert_nothing_left(name)
    return err


@test
def hostile_snapshot_parts_are_refused():
    ensure_subids()
    body = b'pwned\n'
    one = [{'name': 'a', 'created-at': 1}]
    rootfs = [(tar_member('rootfs', tarfile.DIRTYPE, mode=0o755), None),
              (tar_member('rootfs/etc', tarfile.DIRTYPE, mode=0o755), None)]

    def tarball(snaps, *extra):
        return tar_of([(tar_member('lxcbus.json'), meta_with(snaps))] + rootfs + list(extra))

    a_root = (tar_member('snapshots/a/rootfs', tarfile.DIRTYPE, mode=0o755), None)
    # Names that leave the tree.
    hostile(tarball(one, a_root, (tar_member('snapshots/../lxcbus-expsnap-canary'), body)), ('snapshots/..',))
    hostile(tarball(one, a_root, (tar_member('snapshots/a/../../etc/lxcbus-expsnap-x'), body)), ('..',))
    hostile(tarball(one, a_root, (tar_member('snapshots/a/rootfs/../../../../../../tmp/lxcbus-expsnap-canary'),
                                  body)))
    hostile(tarball(one, a_root, (tar_member('/snapshots/a/rootfs/x'), body)))
    # Something in a snapshot's directory but its rootfs (the config is root's, run as root).
    hostile(tarball(one, a_root, (tar_member('snapshots/a/config'), body)), ("'snapshots/a/config'",))
    hostile(tarball(one, (tar_member('snapshots/a'), body)), ('not a directory',))
    # A snapshot the metadata does not list, and a listed one without its tree.
    hostile(tarball(one, a_root, (tar_member('snapshots/b/rootfs/x'), body)), ('does not list',))
    hostile(tarball(one + [{'name': 'b', 'created-at': 2}], a_root), ("'b'", 'snapshots/b/rootfs'))
    # Names not valid as instance names, duplicates, too many, malformed entries.
    for snaps in ([{'name': 'bad_name', 'created-at': 1}], [{'name': '-x', 'created-at': 1}],
                  [{'name': 'a' * 64, 'created-at': 1}], one + one,
                  [{'name': 's%d' % k, 'created-at': k} for k in range(65)],
                  [{'name': 'a', 'created-at': 'yesterday'}], [{'name': 'a'}], [{'created-at': 1}], ['a'],
                  {'a': 1}, 'a', [{'name': 'a', 'created-at': -1}]):
        hostile(tarball(snaps, a_root), ('lxcbus.json',))
    # Links across trees: a hard link from a snapshot to the rootfs (they would share an inode) or out
    # of the tree; a symlink out of the tree and a file through it.
    hostile(tarball(one, a_root, (tar_member('rootfs/etc/f'), body),
                    (tar_member('snapshots/a/rootfs/f', tarfile.LNKTYPE, link='rootfs/etc/f'), None)),
            ('out of its tree',))
    hostile(tarball(one, a_root, (tar_member('snapshots/a/rootfs/p', tarfile.LNKTYPE, link='/etc/passwd'), None)))
    hostile(tarball(one, a_root, (tar_member('snapshots/a/rootfs/p', tarfile.LNKTYPE, link='../../../x'), None)))
    hostile(tarball(one, a_root, (tar_member('snapshots/a/rootfs/evil', tarfile.SYMTYPE, link='/tmp'), None),
                    (tar_member('snapshots/a/rootfs/evil/lxcbus-expsnap-canary'), body)))
    # A device node in a snapshot of an idmapped instance.
    dev = tar_member('snapshots/a/rootfs/null', tarfile.CHRTYPE, mode=0o666)
    dev.devmajor, dev.devminor = 1, 3
    name = unique_name('bad')
    T.add(name)
    err = expect_error(('org.lxcbus1.Error.Failed',),
                       lambda: import_tarball(name, tarball(one, a_root, (dev, None)),
                                              config={'security.privileged': 'false'}))
    assert 'device node' in err.message, err.message
    assert_nothing_left(name)
    # A good one of the same shape imports (the checks refuse only what they should).
    good = unique_name('good')
    imp(good, tarball(one, a_root, (tar_member('snapshots/a/rootfs/etc', tarfile.DIRTYPE, mode=0o755), None),
                      (tar_member('snapshots/a/rootfs/etc/f'), body),
                      (tar_member('snapshots/a/rootfs/etc/g', tarfile.LNKTYPE, link='snapshots/a/rootfs/etc/f'),
                       None)))
    assert instance_prop(good, 'Snapshots') == [('a', 1)]
    with open(os.path.join(snap_root(good, 'a'), 'etc/g'), 'rb') as f:
        assert f.read() == body
    cleanup_instance(good)


# ---- idmapped ----------------------------------------------------------------------------------

@test
def idmapped_round_trip_shifts_snapshots():
    ensure_subids()
    src = st['src']
    dst = unique_name('idm')
    imp(dst, st['data'], config={'security.privileged': 'false'})
    base = idmap_base(dst)
    assert base > 0, base
    assert instance_prop(dst, 'Snapshots') == instance_prop(src, 'Snapshots')
    for snap in ('one', 'two'):
        assert snap_tree(dst, snap) == snap_tree(src, snap), snap
        s = os.lstat(snap_root(dst, snap))
        assert (s.st_uid, s.st_gid) == (base, base), (s.st_uid, s.st_gid, base)
    s = os.lstat(os.path.join(snap_root(dst, 'two'), 'etc/expsnap'))
    assert (s.st_uid, s.st_gid) == (base + 33, base + 33), s
    snap_call(dst, 'RestoreSnapshot', 'one')
    assert rootfs_tree(dst) == snap_tree(src, 'one')
    start_instance(dst)
    status, sig, out = root_exec(dst, ['cat', '/etc/expsnap', '/srv/one-only/secret'])
    assert (status, out) == (0, 'one\nonly in one\n'), (status, sig, out)
    stop_instance(dst)
    # Exported back with its snapshots: owners un-shifted, and a privileged import has the same trees.
    back = unique_name('back')
    imp(back, export_tarball(dst, {'snapshots': V('b', True)}))
    assert idmap_base(back) == 0
    for snap in ('one', 'two'):
        assert snap_tree(back, snap) == snap_tree(src, snap), snap


# ---- cancel ------------------------------------------------------------------------------------

@test
def cancelled_import_with_snapshots_leaves_nothing():
    data = export_tarball(st['src'], {'snapshots': V('b', True)})
    name = unique_name('cancel')
    T.add(name)
    path, op, w = import_from_pipe(name)
    try:
        # All but the end: the worker is inside the last snapshot's tree, and waits for more.
        os.write(w, data[:len(data) - 4096])
        two = os.path.join(STAGING_DIR, name, 'snapshots', 'two', 'rootfs', 'etc')
        wait_for(lambda: os.path.exists(two), 60, 'snapshot two being imported')
        call(op, OPERATION_IFACE, 'Cancel')
        assert op_wait(op) == 'cancelled'
    finally:
        os.close(w)
    # The name is free as soon as the operation has ended, while the rest is still being removed.
    imp(name, data)
    assert [n for n, t in instance_prop(name, 'Snapshots')] == ['one', 'two']
    wait_for(lambda: not [e for e in staging_entries() if name in e], 30, 'staging of %s empty' % name)


@on_exit
def cleanup():
    T.cleanup()
    restore_subids()
    if os.path.exists(CANARY):
        os.unlink(CANARY)


if __name__ == '__main__':
    main()
