#!/usr/bin/python3
"""Export and ImportInstance: a busybox instance exported to a pipe and imported back under a new name
(every file's content, mode and owner equal, and it boots), a plain rootfs tarball, an import into an
idmapped instance by a user (owners shifted), hostile tarballs and fds (a clear error, nothing written
outside, nothing left in staging, the name free again), and a cancelled import."""

import io
import os
import tarfile

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
USER = 'lxarch'
RULES = '50-archive.rules'
SUBID = 'lxcbus:2000000:655360\n'
SAVED = {}
CANARY = '/tmp/lxcbus-archive-canary'
st = {}


# ---- helpers ------------------------------------------------------------------------------

def state_dir():
    return get_prop(MANAGER_PATH, MANAGER_IFACE, 'StateDirectory')


def inst_dir(name):
    return os.path.join(state_dir(), 'instances', name)


def staging_entries():
    return sorted(os.listdir(os.path.join(state_dir(), 'staging')))


def tree(name):
    """Every file of the rootfs (tree_of()), owners as the instance sees them."""
    return tree_of(os.path.join(inst_dir(name), 'rootfs'), idmap_base(name))


export_bytes = export_tarball
member = tar_member


def import_fd(name, fd, config=None, options=None):
    T.add(name)
    return import_tarball_fd(name, fd, config, options)


def import_bytes(name, data, config=None, options=None, delay=0.0):
    T.add(name)
    return import_tarball(name, data, config, options, delay)


def rootfs_tar(name, prefix=''):
    """A plain rootfs tarball of instance name's rootfs, made with tarfile (owners un-shifted)."""
    root = os.path.join(inst_dir(name), 'rootfs')
    base = idmap_base(name)
    buf = io.BytesIO()

    def shift(ti):
        ti.uid -= base
        ti.gid -= base
        ti.uname = ti.gname = ''
        return ti
    with tarfile.open(fileobj=buf, mode='w:gz', format=tarfile.PAX_FORMAT) as tf:
        for n in sorted(os.listdir(root)):
            tf.add(os.path.join(root, n), arcname=prefix + n, filter=shift)
    return buf.getvalue()


def assert_boots(name):
    start_instance(name)
    status, sig, out = root_exec(name, ['/bin/sh', '-c', 'echo imported-ok'])
    assert (status, out.strip()) == (0, 'imported-ok'), (status, sig, out)
    stop_instance(name)


def assert_nothing_left(name):
    assert not instance_exists(name), name
    wait_for(lambda: not [e for e in staging_entries() if name in e], 30, 'staging of %s empty' % name)
    assert not os.path.exists(CANARY), 'written outside the rootfs: %s' % CANARY
    assert not os.path.exists('/etc/lxcbus-archive-x'), 'written into the host /etc'


def hostile(data, mentions_any=(), config=None):
    name = unique_name('bad')
    err = expect_error(('org.lxcbus1.Error.Failed',), lambda: import_bytes(name, data, config))
    assert any(m in err.message for m in mentions_any) if mentions_any else True, err.message
    assert_nothing_left(name)
    # The name is free again: a good import of it works.
    wait_for(lambda: not [e for e in staging_entries() if name in e], 30)
    return err


# ---- round trip ---------------------------------------------------------------------------

@test
def export_and_reimport_round_trips():
    src = T.add(new_instance('arc', config={'description': 'exported', 'user.k': 'v'}))
    st['src'] = src
    data = export_bytes(src)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
    assert names[0] == 'lxcbus.json', names[:3]
    assert 'rootfs/bin/busybox' in names or any(n.startswith('rootfs/') for n in names), names[:10]
    dst = unique_name('arc')
    path, op = import_bytes(dst, data, config={'description': 'reimported'})
    assert get_prop(op, OPERATION_IFACE, 'Kind') == 'import'
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert tree(src) == tree(dst)
    cfg = instance_prop(dst, 'Config')
    assert cfg.get('description') == 'reimported' and cfg.get('user.k') == 'v', cfg
    assert_boots(dst)
    assert instance_prop(src, 'State') == 'stopped'


@test
def export_compressed_and_idmapped_unshifted():
    for comp in ('gzip', 'xz', 'zstd'):
        data = export_bytes(st['src'], {'compression': V('s', comp)})
        if comp == 'zstd':   # tarfile reads gz and xz; zstd by its magic
            assert data[:4] == b'\x28\xb5\x2f\xfd', data[:4]
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                assert tf.getnames()[0] == 'lxcbus.json'
        dst = unique_name('cmp')
        import_bytes(dst, data)
        assert tree(st['src']) == tree(dst)
        cleanup_instance(dst)


@test
def plain_rootfs_tarball_imports():
    data = rootfs_tar(st['src'], prefix='./')
    dst = unique_name('plain')
    import_bytes(dst, data)
    assert tree(st['src']) == tree(dst)
    assert_boots(dst)


@test
def export_refusals():
    src = st['src']
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        err = expect_error(INVALID_ARGS, lambda: call_with_fds(instance_path(src), INSTANCE_IFACE, 'Export',
                                                               V('(ha{sv})', (0, {})), [r]))
        assert 'not open for writing' in err.message, err.message
    finally:
        os.close(r)
        os.close(w)
    export_error(src, INVALID_ARGS, {'compression': V('s', 'lz4')})
    # allow-running itself: test_copy_running.py.
    export_error(src, INVALID_ARGS, {'allow-running': V('s', 'yes')})


@test
def lxcbusctl_export_and_import():
    src = st['src']
    path = '/tmp/lxcbus-archive-ctl.tar.zst'
    rc, out, err = run(CTL, 'export', src, path, '--compression=zstd', timeout=300)
    assert rc == 0, err
    assert os.stat(path).st_mode & 0o777 == 0o600
    a = T.add(unique_name('ctl'))
    rc, out, err = run(CTL, 'import', a, path, '--config=description=from-ctl', timeout=300)
    assert rc == 0, err
    assert tree(a) == tree(src)
    assert instance_prop(a, 'Config').get('description') == 'from-ctl'
    os.unlink(path)
    # Through pipes: export to stdout, import from stdin.
    b = T.add(unique_name('ctl'))
    rc, out, err = run('sh', '-c', '%s export %s - | %s import %s -' % (CTL, src, CTL, b), timeout=300)
    assert rc == 0, err
    assert tree(b) == tree(src)
    rc, out, err = run(CTL, 'import', unique_name('ctl'), '/nonexistent.tar')
    assert rc != 0 and '/nonexistent.tar' in err, (rc, err)


# ---- bad fds --------------------------------------------------------------------------------

@test
def import_refuses_wrong_fds():
    name = unique_name('fd')
    r, w = os.pipe2(os.O_CLOEXEC)
    d = os.open('/', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    wf = os.open('/tmp/lxcbus-archive-wo', os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    null = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)
    try:
        for fd, why in ((w, 'not open for reading'), (d, 'a directory'), (wf, 'not open for reading'),
                        (null, 'a character device')):
            err = expect_error(INVALID_ARGS, lambda: import_fd(name, fd))
            assert why in err.message, err.message
            assert not instance_exists(name)
    finally:
        for fd in (r, w, d, wf, null):
            os.close(fd)
        os.unlink('/tmp/lxcbus-archive-wo')


# ---- hostile tarballs ---------------------------------------------------------------------------

@test
def hostile_tarballs_are_refused():
    body = b'pwned\n'
    hostile(tar_of([(member('bin', tarfile.DIRTYPE, mode=0o755), None),
                    (member('../lxcbus-archive-canary'), body)]), ("'../lxcbus-archive-canary'",))
    hostile(tar_of([(member('/etc/lxcbus-archive-x'), body)]), ("'/etc/lxcbus-archive-x'",))
    hostile(tar_of([(member('a/../../lxcbus-archive-canary'), body)]), ('..',))
    # An export whose member leaves rootfs/.
    hostile(tar_of([(member('lxcbus.json'), b'{}'), (member('rootfs/../../etc/lxcbus-archive-x'), body)]))
    # A symlink to the host's /tmp, then a file through it.
    hostile(tar_of([(member('evil', tarfile.SYMTYPE, link='/tmp'), None),
                    (member('evil/lxcbus-archive-canary'), body)]))
    hostile(tar_of([(member('lxcbus.json'), b'{}')]), ('lxcbus.json',))
    # Hard links to the host's files.
    hostile(tar_of([(member('passwd', tarfile.LNKTYPE, link='/etc/passwd'), None)]), ('passwd',))
    hostile(tar_of([(member('passwd', tarfile.LNKTYPE, link='../../../../etc/passwd'), None)]), ('passwd',))
    # Truncated and corrupt data, and no tar at all.
    good = rootfs_tar(st['src'])
    hostile(good[:len(good) // 2])
    hostile(good[:100] + b'\0garbage' * 1000 + good[8100:])
    hostile(b'this is not a tarball at all\n' * 100)
    hostile(b'')


# ---- idmapped, as a user ------------------------------------------------------------------------

def user_import(name, path):
    T.add(name)
    script = ('import sys, os\n'
              'from gi.repository import Gio, GLib\n'
              'b = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)\n'
              'fdl = Gio.UnixFDList.new(); fdl.append(os.open(sys.argv[2], os.O_RDONLY))\n'
              'try:\n'
              '    b.call_with_unix_fd_list_sync("%s", "%s", "%s", "ImportInstance",\n'
              '        GLib.Variant("(sha{ss}a{sv})", (sys.argv[1], 0, {}, {})), None, 0, 300000, fdl, None)\n'
              'except GLib.Error as e:\n'
              '    print(Gio.DBusError.get_remote_error(e), e.message); sys.exit(1)\n'
              % (BUS_NAME, MANAGER_PATH, MANAGER_IFACE))
    return run_as_user(USER, 'python3', '-c', script, name, path, timeout=300)


@on_exit
def user_cleanup():
    T.cleanup()
    remove_rule(RULES)
    restore_files(SAVED)
    for p in (CANARY, '/tmp/lxcbus-archive-user.tar', '/tmp/lxcbus-archive-dev.tar'):
        if os.path.exists(p):
            os.unlink(p)


@test
def user_import_is_idmapped_and_shifted():
    add_user(USER)
    for path in ('/etc/subuid', '/etc/subgid'):
        keep = [l for l in (save_file(SAVED, path) or '').splitlines(True) if not l.startswith('lxcbus:')]
        with open(path, 'w') as f:
            f.write(''.join(keep) + SUBID)
    allow_user(RULES, USER)
    data = export_bytes(st['src'])
    with open('/tmp/lxcbus-archive-user.tar', 'wb') as f:
        f.write(data)
    os.chmod('/tmp/lxcbus-archive-user.tar', 0o644)
    name = unique_name('uimp')
    rc, out, err = retry_while_denied(lambda: user_import(name, '/tmp/lxcbus-archive-user.tar'),
                                      lambda r: r[0] != 0 and 'AccessDenied' in r[1])
    assert rc == 0, (out, err)
    base = idmap_base(name)
    assert base >= 2000000, base
    root = os.path.join(inst_dir(name), 'rootfs')
    s = os.lstat(os.path.join(root, 'bin'))
    assert (s.st_uid, s.st_gid) == (base, base), (s.st_uid, s.st_gid, base)
    assert instance_prop(name, 'Config').get('security.privileged') == 'false'
    assert tree(st['src']) == tree(name)
    assert_boots(name)
    # Export of the idmapped instance (booted once: its tree changed): owners un-shifted, and it imports
    # as privileged again.
    expected = tree(name)
    again = unique_name('back')
    import_bytes(again, export_bytes(name))
    assert idmap_base(again) == 0
    assert tree(again) == expected

    # A device node into an idmapped instance.
    dev = member('dev/evil', tarfile.CHRTYPE, mode=0o666)
    dev.devmajor, dev.devminor = 1, 3
    with open('/tmp/lxcbus-archive-dev.tar', 'wb') as f:
        f.write(tar_of([(member('dev', tarfile.DIRTYPE, mode=0o755), None), (dev, None)]))
    os.chmod('/tmp/lxcbus-archive-dev.tar', 0o644)
    bad = unique_name('udev')
    rc, out, err = user_import(bad, '/tmp/lxcbus-archive-dev.tar')
    assert rc != 0 and 'org.lxcbus1.Error.Failed' in out and 'device node' in out, (out, err)
    assert_nothing_left(bad)
    # An owner beyond the instance's 65536 ids.
    with open('/tmp/lxcbus-archive-dev.tar', 'wb') as f:
        f.write(tar_of([(member('x', uid=70000), b'x')]))
    rc, out, err = user_import(bad, '/tmp/lxcbus-archive-dev.tar')
    assert rc != 0 and 'beyond' in out, (out, err)
    assert_nothing_left(bad)


# ---- cancel ----------------------------------------------------------------------------------

@test
def cancel_mid_import_leaves_nothing():
    data = export_bytes(st['src'])
    name = unique_name('cancel')
    path, op, w = import_from_pipe(name)
    os.write(w, data[:1 << 16])       # some of it, then nothing: the worker waits for more
    wait_for(lambda: [e for e in staging_entries() if name in e], 30, 'staging of %s' % name)
    call(op, OPERATION_IFACE, 'Cancel')
    assert op_wait(op) == 'cancelled'
    os.close(w)
    assert_nothing_left(name)
    # The name is free again.
    import_bytes(name, data)
    assert instance_exists(name)


if __name__ == '__main__':
    main()
