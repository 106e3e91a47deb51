#!/usr/bin/python3
"""Overlay clones (Copy with "clone": "overlay"): made at once from a snapshot,
the read-only lower layer, whatever its size; the clone starts, its writes go to
its own upper layer and never reach the snapshot; while the clone exists, the
snapshot cannot be deleted nor its instance renamed or deleted; the clone's
files can be pushed and pulled, stopped or running; it exports, copies and
snapshots as its merged tree; bad requests are clear errors that leave
nothing behind."""

import json
import os
import tempfile
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
st = {}



def copy(src, new, **kw):
    return copy_instance(T, src, new, **kw)



def du_bytes(path):
    rc, out, err = run('du', '-s', '-B1', path)
    assert rc == 0, err
    return int(out.split()[0])


def ctl(*args, rc=0, timeout=120):
    code, out, err = run(CTL, *args, timeout=timeout)
    assert code == rc, 'lxcbusctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
        ' '.join(args), code, rc, out, err)
    return out, err


@test
def clone_is_instant_and_starts():
    src = T.add(unique_name('base'))
    create_instance(src)
    start_instance(src)
    # some weight in the lower layer, so that a full copy would show
    sh(src, 'echo golden > /etc/marker; echo %s > /etc/hostname; '
            'dd if=/dev/zero of=/ballast bs=1M count=32 2>/dev/null' % src)
    stop_instance(src)
    instance_call(src, 'Snapshot', V('(sa{sv})', ('golden', {})))
    lower = os.path.join(inst_dir(src), 'snapshots', 'golden', 'rootfs')
    before = tree_under(lower)

    clone = unique_name('ovl')
    t0 = time.monotonic()
    out, err = ctl('copy', src, clone, '--snapshot=golden', '--clone=overlay')
    took = time.monotonic() - t0
    T.add(clone)
    print('# overlay clone of a %d MiB snapshot: %.0f ms (lxcbusctl, end to end)' % (du_bytes(lower) >> 20, took * 1e3))
    assert instance_exists(clone)
    # nothing was copied: the clone's directory holds empty layers only
    assert du_bytes(inst_dir(clone)) < 1 << 20, du_bytes(inst_dir(clone))
    assert os.listdir(os.path.join(inst_dir(clone), 'rootfs')) == []
    with open(os.path.join(inst_dir(clone), 'config')) as f:
        cfg = f.read()
    assert 'lxc.rootfs.path = overlay:%s:%s/delta0\n' % (lower, inst_dir(clone)) in cfg, cfg
    md = json.load(open(os.path.join(inst_dir(clone), 'lxcbus.json')))
    assert md['overlay'] == {'instance': src, 'snapshot': 'golden'}, md

    # its /etc/hostname follows its name, in its upper layer; the snapshot's keeps the source's
    with open(os.path.join(inst_dir(clone), 'delta0', 'etc', 'hostname')) as f:
        assert f.read() == clone + '\n'
    with open(os.path.join(lower, 'etc', 'hostname')) as f:
        assert f.read() == src + '\n'
    start_instance(clone)
    assert sh(clone, 'cat /etc/marker; hostname; cat /etc/hostname') == 'golden\n%s\n%s\n' % (clone, clone)
    sh(clone, 'echo mine > /etc/marker; echo new > /etc/only-in-clone; rm /ballast')
    stop_instance(clone)
    start_instance(clone)
    assert sh(clone, 'cat /etc/marker /etc/only-in-clone; ls /ballast 2>&1 || true') == \
        'mine\nnew\nls: /ballast: No such file or directory\n'
    stop_instance(clone)
    # the writes are the clone's, in its upper layer; the snapshot is untouched
    with open(os.path.join(inst_dir(clone), 'delta0', 'etc', 'only-in-clone')) as f:
        assert f.read() == 'new\n'
    assert tree_under(lower) == before
    st.update(src=src, clone=clone, lower=lower, before=before)


@test
def the_lower_layer_is_kept_while_a_clone_uses_it():
    src, clone = st['src'], st['clone']
    snapshot = fs_snapshot()
    expect_error('org.lxcbus1.Error.Busy',
                 lambda: instance_call(src, 'DeleteSnapshot', V('(sa{sv})', ('golden', {}))),
                 mentions=(clone, 'golden'))
    expect_error('org.lxcbus1.Error.Busy', lambda: instance_call(src, 'Rename', V('(s)', (src + 'x',))),
                 mentions=(clone,))
    expect_error('org.lxcbus1.Error.Busy', lambda: instance_call(src, 'Delete', opts(force=V('b', True))),
                 mentions=(clone,))
    assert fs_snapshot() == snapshot
    assert tree_under(st['lower']) == st['before']
    # the source itself lives on: it starts, and other snapshots of it go as usual
    instance_call(src, 'Snapshot', V('(sa{sv})', ('other', {})))
    instance_call(src, 'DeleteSnapshot', V('(sa{sv})', ('other', {})))
    # the clone can be renamed: its upper layer moves with it
    renamed = T.add(unique_name('ovlr'))
    instance_call(st['clone'], 'Rename', V('(s)', (renamed,)))
    start_instance(renamed)
    assert sh(renamed, 'cat /etc/only-in-clone; hostname; cat /etc/hostname') == 'new\n%s\n%s\n' % (renamed, renamed)
    stop_instance(renamed)
    st['clone'] = renamed


@test
def files_of_a_clone_are_its_merged_tree():
    clone = st['clone']
    with tempfile.TemporaryDirectory() as d:
        out_file = os.path.join(d, 'marker')
        # from the lower layer, through the clone's own change
        ctl('file', 'pull', clone + ':/etc/marker', out_file)
        assert open(out_file).read() == 'mine\n'
        ctl('file', 'pull', clone + ':/etc/passwd', out_file)
        assert open(out_file).read() == open(os.path.join(st['lower'], 'etc', 'passwd')).read()
        in_file = os.path.join(d, 'pushed')
        with open(in_file, 'w') as f:
            f.write('pushed while stopped\n')
        ctl('file', 'push', in_file, clone + ':/etc/passwd')
    # the push went to the upper layer, as a copy-up: the snapshot keeps its passwd
    with open(os.path.join(inst_dir(clone), 'delta0', 'etc', 'passwd')) as f:
        assert f.read() == 'pushed while stopped\n'
    assert tree_under(st['lower']) == st['before']
    # no overlay mount was left on the host by the worker
    with open('/proc/self/mountinfo') as f:
        assert inst_dir(clone) not in f.read()
    start_instance(clone)
    assert sh(clone, 'cat /etc/passwd') == 'pushed while stopped\n'
    # running: through the instance's own mount of its layers (its root, as its init sees it)
    with tempfile.TemporaryDirectory() as d:
        in_file = os.path.join(d, 'running')
        with open(in_file, 'w') as f:
            f.write('pushed while running\n')
        ctl('file', 'push', in_file, clone + ':/etc/pushed-running', '--mode=0600')
        assert sh(clone, 'cat /etc/pushed-running; stat -c %a /etc/pushed-running') == 'pushed while running\n600\n'
        sh(clone, 'echo written inside > /etc/inside')
        out_file = os.path.join(d, 'inside')
        ctl('file', 'pull', clone + ':/etc/inside', out_file)
        assert open(out_file).read() == 'written inside\n'
        # a symlink planted inside resolves inside: the clone's root, never the host's
        sh(clone, 'ln -sf /etc/hostname /etc/link-out')
        ctl('file', 'pull', clone + ':/etc/link-out', out_file)
        assert open(out_file).read() == clone + '\n'
    with open(os.path.join(inst_dir(clone), 'delta0', 'etc', 'pushed-running')) as f:
        assert f.read() == 'pushed while running\n'
    # but its tree is not read while it runs: a worker's second mount of its layers is undefined
    snapshot = fs_snapshot()
    for call_it in (lambda: snap_call(clone, 'Snapshot', 'live', allow_running=V('b', True)),
                    lambda: copy(clone, unique_name('live'), allow_running=V('b', True)),
                    lambda: export_tarball(clone, {'allow-running': V('b', True)})):
        expect_error('org.lxcbus1.Error.NotSupported', call_it, mentions=(clone,))
    assert fs_snapshot() == snapshot
    assert tree_under(st['lower']) == st['before']
    stop_instance(clone)


@test
def copy_export_and_snapshot_of_a_clone_are_whole():
    clone = st['clone']
    # a snapshot of the clone is its merged tree, whole
    instance_call(clone, 'Snapshot', V('(sa{sv})', ('mine', {})))
    merged = tree_under(os.path.join(inst_dir(clone), 'snapshots', 'mine', 'rootfs'))
    assert 'etc/only-in-clone' in merged and 'ballast' not in merged

    def same(top, but=()):
        got = {k: v for k, v in tree_under(top).items() if k not in but}
        want = {k: v for k, v in merged.items() if k not in but}
        assert got == want, sorted((k, got.get(k), want.get(k)) for k in set(got) | set(want)
                                   if got.get(k) != want.get(k))[:10]

    # so is a full copy, with a rootfs of its own
    full = unique_name('full')
    copy(clone, full)
    md = json.load(open(os.path.join(inst_dir(full), 'lxcbus.json')))
    assert 'overlay' not in md, md
    with open(os.path.join(inst_dir(full), 'config')) as f:
        assert 'lxc.rootfs.path = dir:%s/rootfs\n' % inst_dir(full) in f.read()
    same(os.path.join(inst_dir(full), 'rootfs'), but=('etc/hostname',))
    with open(os.path.join(inst_dir(full), 'rootfs', 'etc', 'hostname')) as f:
        assert f.read() == full + '\n'
    start_instance(full)
    assert sh(full, 'cat /etc/marker /etc/only-in-clone /etc/passwd; ls /ballast 2>&1 || true') == \
        'mine\nnew\npushed while stopped\nls: /ballast: No such file or directory\n'
    stop_instance(full)

    # and an export, which imports as an instance of its own
    with tempfile.TemporaryDirectory() as d:
        tarball = os.path.join(d, 'clone.tar')
        ctl('export', clone, tarball)
        imported = T.add(unique_name('imp'))
        ctl('import', imported, tarball)
    md = json.load(open(os.path.join(inst_dir(imported), 'lxcbus.json')))
    assert 'overlay' not in md, md
    same(os.path.join(inst_dir(imported), 'rootfs'))
    cleanup_instance(full)
    cleanup_instance(imported)


@test
def restore_into_a_clone_makes_it_an_instance_of_its_own():
    clone = st['clone']
    start_instance(clone)
    sh(clone, 'echo later > /etc/marker; echo x > /etc/after-snapshot')
    stop_instance(clone)
    instance_call(clone, 'RestoreSnapshot', V('(sa{sv})', ('mine', {})))
    start_instance(clone)
    assert sh(clone, 'cat /etc/marker; ls /etc/after-snapshot 2>&1 || true') == \
        'mine\nls: /etc/after-snapshot: No such file or directory\n'
    stop_instance(clone)
    assert tree_under(st['lower']) == st['before']
    # the clone has a rootfs of its own now; its layers went
    assert 'overlay' not in json.load(open(os.path.join(inst_dir(clone), 'lxcbus.json')))
    with open(os.path.join(inst_dir(clone), 'config')) as f:
        assert 'lxc.rootfs.path = dir:%s/rootfs\n' % inst_dir(clone) in f.read()
    assert not os.path.exists(os.path.join(inst_dir(clone), 'delta0'))


@test
def bad_clone_requests_are_clear_and_leave_nothing():
    src = st['src']
    snapshot = fs_snapshot()
    name = unique_name('bad')
    expect_error('org.freedesktop.DBus.Error.InvalidArgs', lambda: copy(src, name, clone=V('s', 'overlay')),
                 mentions=('snapshot',))
    expect_error('org.freedesktop.DBus.Error.InvalidArgs',
                 lambda: copy(src, name, snapshot=V('s', 'golden'), clone=V('s', 'reflink')), mentions=('clone',))
    expect_error('org.freedesktop.DBus.Error.InvalidArgs',
                 lambda: copy(src, name, snapshot=V('s', 'golden'), clone=V('b', True)), mentions=('clone',))
    expect_error('org.freedesktop.DBus.Error.InvalidArgs',
                 lambda: copy(src, name, snapshot=V('s', 'missing'), clone=V('s', 'overlay')), mentions=('missing',))
    assert not instance_exists(name)
    assert fs_snapshot() == snapshot


@test
def an_idmapped_clone_is_not_supported():
    ensure_subids()
    src = T.add(unique_name('idm'))
    create_instance(src, config={'security.privileged': 'false'})
    instance_call(src, 'Snapshot', V('(sa{sv})', ('s', {})))
    wait_for(lambda: os.listdir(STAGING_DIR) == [], 60, 'staging/ empty')
    snapshot = fs_snapshot()
    name = unique_name('idmc')
    expect_error('org.lxcbus1.Error.NotSupported',
                 lambda: copy(src, name, snapshot=V('s', 's'), clone=V('s', 'overlay')), mentions=(src,))
    assert not instance_exists(name)
    assert fs_snapshot() == snapshot


@test
def deleting_the_clone_frees_the_snapshot():
    src, clone = st['src'], st['clone']   # clone: no overlay clone since its restore
    ephemeral = T.add(unique_name('eph'))
    copy(src, ephemeral, snapshot=V('s', 'golden'), clone=V('s', 'overlay'), ephemeral=V('b', True))
    start_instance(ephemeral)
    sh(ephemeral, 'echo gone > /etc/marker')
    expect_error('org.lxcbus1.Error.Busy',
                 lambda: instance_call(src, 'DeleteSnapshot', V('(sa{sv})', ('golden', {}))), mentions=(ephemeral,))
    instance_call(ephemeral, 'Stop', opts(force=V('b', True)))
    wait_for(lambda: not instance_exists(ephemeral), 30, 'ephemeral clone deleted at stop')
    assert not os.path.exists(inst_dir(ephemeral))
    assert tree_under(st['lower']) == st['before']
    instance_call(src, 'DeleteSnapshot', V('(sa{sv})', ('golden', {})))
    wait_for(lambda: not os.path.exists(st['lower']), 30, 'snapshot removed')
    # the restored clone lives on without it
    start_instance(clone)
    assert sh(clone, 'cat /etc/marker') == 'mine\n'
    instance_call(clone, 'Delete', opts(force=V('b', True)), timeout=120)
    instance_call(src, 'Delete', opts(), timeout=120)


@on_exit
def cleanup():
    # clones before the instances whose snapshots they use
    for n in reversed(T.names):
        cleanup_instance(n)
    restore_subids()


if __name__ == '__main__':
    main()
