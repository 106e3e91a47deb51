#!/usr/bin/python3
"""Copy, Snapshot and Export of a running instance with allow-running: the instance is frozen while its
rootfs is read (State "frozen"), then thawed, and keeps running with the same processes; refused
without the option; thawed after a cancel, a failed copy or export, and by the next daemon after a
kill -9 while frozen (an instance frozen by Freeze stays frozen). /etc/hostname of a copy and of a
renamed instance becomes the new name when it held the old one, through the instance's root only:
hostile symlinks never reach the host. An idmapped copy keeps the mapped owner."""

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
HOLD_DIR = '/run/lxcbus/frozen'
CANARY = '/root/lxcbus-copy-running-canary'
st = {}


def copy(src, new, **kw):
    return copy_instance(T, src, new, **kw)


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def background_sleep(name):
    """A process in the instance that outlives the exec: its pid inside."""
    return int(sh(name, 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!').strip())


def assert_runs(name, pid):
    """Running, thawed (an exec answers), pid still there, no hold marker."""
    assert instance_prop(name, 'State') == 'running', instance_prop(name, 'State')
    assert sh(name, 'kill -0 %d && cat /proc/%d/cmdline' % (pid, pid)).startswith('sleep'), pid
    assert not os.path.exists(os.path.join(HOLD_DIR, name))


def many_files(name, dirs=200, files=300):
    """Slow enough to cancel or kill on any file system (a big file would be one reflink)."""
    top = os.path.join(rootfs(name), 'many')
    for d in range(dirs):
        os.makedirs(os.path.join(top, str(d)), exist_ok=True)
        for f in range(files):
            with open(os.path.join(top, str(d), str(f)), 'w') as fh:
                fh.write('x' * 100)


def frozen_states(sig):
    return [s.args[1]['State'] for s in sig.matching(lambda s: 'State' in s.args[1])]


# ---- copy, snapshot and export of a running instance ------------------------------------------

@test
def setup_running_source():
    name = T.add(unique_name('run'))
    create_instance(name)
    start_instance(name)
    sh(name, 'echo %s > /etc/hostname' % name)
    st['src'], st['pid'] = name, background_sleep(name)


@test
def refused_without_allow_running():
    src = st['src']
    expect_error('org.lxcbus1.Error.InvalidState', lambda: copy(src, unique_name('no')), src)
    expect_error('org.lxcbus1.Error.InvalidState', lambda: snap_call(src, 'Snapshot', 'no'), src)
    export_error(src, 'org.lxcbus1.Error.InvalidState', instance=src)
    # Only Snapshot reads the running rootfs: RestoreSnapshot and DeleteSnapshot do not know the option.
    expect_error(INVALID_ARGS, lambda: instance_call(src, 'RestoreSnapshot',
                                                     V('(sa{sv})', ('x', {'allow-running': V('b', True)}))))
    expect_error(INVALID_ARGS, lambda: copy(src, unique_name('no'), allow_running=V('s', 'yes')))
    assert_runs(src, st['pid'])


@test
def copy_of_running_instance():
    src = st['src']
    new = unique_name('runcopy')
    with Signals.properties_changed(instance_path(src), INSTANCE_IFACE) as sig:
        path, op = copy(src, new, allow_running=V('b', True))
        sig.wait(lambda s: s.args[1].get('State') == 'running', 10, 'State running again')
        states = frozen_states(sig)
    assert states[-2:] == ['frozen', 'running'], states
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert_runs(src, st['pid'])
    with open(os.path.join(rootfs(new), 'etc', 'hostname')) as f:
        assert f.read() == new + '\n'
    with open(os.path.join(inst_dir(new), 'config')) as f:
        assert ('lxc.uts.name = %s' % new) in f.read()
    start_instance(new)
    assert sh(new, 'hostname; cat /etc/hostname') == '%s\n%s\n' % (new, new)
    # The source's processes stay the source's: only files were copied.
    assert 'sleep' not in sh(new, 'ps')
    cleanup_instance(new)


@test
def snapshot_of_running_instance_by_ctl():
    src = st['src']
    rc, out, err = run(CTL, 'snapshot', src, 'live', '--allow-running', timeout=300)
    assert rc == 0, (out, err)
    assert [n for n, t in instance_prop(src, 'Snapshots')] == ['live']
    with open(os.path.join(inst_dir(src), 'snapshots', 'live', 'rootfs', 'etc', 'hostname')) as f:
        assert f.read() == src + '\n'     # a snapshot keeps the instance's own name
    assert_runs(src, st['pid'])
    rc, out, err = run(CTL, 'copy', src, unique_name('ctlcopy'), '--allow-running', '--async', timeout=300)
    assert rc == 0, (out, err)
    op = out.strip()
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    wait_for(lambda: instance_prop(src, 'State') == 'running', 10, 'thawed')
    assert_runs(src, st['pid'])


@test
def export_of_running_instance():
    src = st['src']
    data = export_tarball(src, {'allow-running': V('b', True)})
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
        assert 'rootfs/etc/hostname' in names, names[:20]
        assert tf.extractfile('rootfs/etc/hostname').read() == (src + '\n').encode()
    assert_runs(src, st['pid'])
    path = '/root/lxcbus-copy-running.tar'
    try:
        rc, out, err = run(CTL, 'export', src, path, '--allow-running', timeout=300)
        assert rc == 0, (out, err)
        assert os.path.getsize(path) > 0
    finally:
        if os.path.exists(path):
            os.unlink(path)
    assert_runs(src, st['pid'])


@test
def ephemeral_copy_of_running_instance_goes_when_it_stops():
    src = st['src']
    for how in ('Stop', 'poweroff inside'):
        new = unique_name('eph')
        copy(src, new, allow_running=V('b', True), ephemeral=V('b', True))
        assert instance_prop(new, 'Ephemeral') is True
        assert_runs(src, st['pid'])
        start_instance(new)
        if how == 'Stop':
            stop_instance(new)
        else:
            # busybox init: poweroff; the instance stops by itself (and may kill this shell before it exits)
            status, sig, out = root_exec(new, ['sh', '-c', 'kill -USR2 1'])
            assert (status, sig) in ((0, 0), (-1, signal.SIGTERM), (-1, signal.SIGKILL)), (status, sig, out)
        wait_for(lambda: not instance_exists(new), 60, 'ephemeral copy deleted (%s)' % how)
        assert not os.path.exists(inst_dir(new))


# ---- always thawed -------------------------------------------------------------------------

@test
def thawed_after_cancel():
    src = st['src']
    many_files(src)
    staging = sorted(os.listdir(STAGING_DIR))
    for kind in ('copy', 'snapshot'):
        if kind == 'copy':
            new = unique_name('cancelled')
            path, op = copy(src, new, allow_running=V('b', True), async_=V('b', True))
        else:
            op = snap_call(src, 'Snapshot', 'cancelled', allow_running=V('b', True), async_=V('b', True))
        wait_for(lambda: get_prop(op, OPERATION_IFACE, 'Cancelable'), 30, 'the worker runs')
        assert instance_prop(src, 'State') == 'frozen'
        assert os.path.exists(os.path.join(HOLD_DIR, src))
        call(op, OPERATION_IFACE, 'Cancel')
        assert op_wait(op) == 'cancelled', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
        assert_runs(src, st['pid'])
        wait_for(lambda: sorted(os.listdir(STAGING_DIR)) == staging, 60, 'staging cleaned')
    assert not instance_exists(new)
    assert 'cancelled' not in [n for n, t in instance_prop(src, 'Snapshots')]


@test
def thawed_after_failed_copy_and_export():
    src = st['src']
    # A mount point inside the rootfs: the copy refuses it (EXDEV) after the freeze.
    mnt = os.path.join(rootfs(src), 'mnt-point')
    os.makedirs(mnt, exist_ok=True)
    rc, out, err = run('mount', '-t', 'tmpfs', 'none', mnt)
    assert rc == 0, err
    try:
        new = unique_name('failed')
        try:
            copy(src, new, allow_running=V('b', True))
        except BusError as e:
            check_error(e)
            assert 'mount point' in e.message, e.message
        else:
            assert False, 'a copy across a mount point succeeded'
        assert not instance_exists(new)
        assert_runs(src, st['pid'])
    finally:
        run('umount', mnt)
        os.rmdir(mnt)
    # An export whose reader is gone fails.
    try:
        export_tarball(src, {'allow-running': V('b', True)}, close_reader=True)
    except BusError as e:
        check_error(e)
    else:
        assert False, 'export into a closed pipe succeeded'
    assert_runs(src, st['pid'])


@test
def startup_thaws_what_a_killed_daemon_froze():
    src = st['src']
    new = unique_name('killed')
    path, op = copy(src, new, allow_running=V('b', True), async_=V('b', True))
    wait_for(lambda: get_prop(op, OPERATION_IFACE, 'Cancelable'), 30, 'the worker runs')
    assert instance_prop(src, 'State') == 'frozen'
    kill_and_restart_daemon()
    assert_runs(src, st['pid'])
    wait_for(lambda: os.listdir(STAGING_DIR) == [], 60, 'staging emptied')
    assert not instance_exists(new)

    # A Freeze of the user stays: no marker.
    instance_call(src, 'Freeze')
    assert instance_prop(src, 'State') == 'frozen'
    kill_and_restart_daemon()
    assert instance_prop(src, 'State') == 'frozen'
    instance_call(src, 'Unfreeze')
    assert_runs(src, st['pid'])
    # The files only slow the copies down: gone, for the next tests.
    subprocess.run(['rm', '-rf', os.path.join(rootfs(src), 'many')], check=True)


# ---- /etc/hostname, hostile ----------------------------------------------------------------

def host_files():
    return {p: sha(p) for p in ('/etc/shadow', '/etc/hostname', CANARY) if os.path.exists(p)}


def plant(name, kind, old):
    """rootfs/etc/hostname of instance name as kind."""
    etc = os.path.join(rootfs(name), 'etc')
    os.makedirs(etc, exist_ok=True)
    p = os.path.join(etc, 'hostname')
    if os.path.lexists(p):
        os.unlink(p)
    if kind == 'file':
        with open(p, 'w') as f:
            f.write(old + '\n')
    elif kind == 'other':
        with open(p, 'w') as f:
            f.write('chosen-by-the-user\n')
    elif kind == 'shadow':
        os.symlink('/etc/shadow', p)
    elif kind == 'canary':
        os.symlink(CANARY, p)
    elif kind == 'dotdot':
        os.symlink('../' * 12 + CANARY.lstrip('/'), p)
    elif kind == 'fifo':
        os.mkfifo(p)


@test
def hostname_on_copy_and_rename_stays_inside():
    with open(CANARY, 'w') as f:
        f.write('placeholder\n')
    name = T.add(unique_name('host'))
    create_instance(name, 'none')
    # The canary holds the instance's name: a rewrite followed on the host would change it.
    for kind in ('file', 'other', 'shadow', 'canary', 'dotdot', 'fifo'):
        with open(CANARY, 'w') as f:
            f.write(name + '\n')
        plant(name, kind, name)
        before = host_files()
        inside_shadow = os.path.join(rootfs(name), 'etc', 'shadow')
        with open(inside_shadow, 'w') as f:
            f.write('root:x:inside\n')
        new = unique_name('hc')
        copy(name, new)
        p = os.path.join(rootfs(new), 'etc', 'hostname')
        if kind == 'file':
            with open(p) as f:
                assert f.read() == new + '\n'
        elif kind == 'other':
            with open(p) as f:
                assert f.read() == 'chosen-by-the-user\n'
        elif kind == 'fifo':
            assert stat_kind(p) == 'fifo'
        else:
            assert os.path.islink(p) and os.readlink(p) == os.readlink(os.path.join(rootfs(name), 'etc', 'hostname'))
        with open(os.path.join(rootfs(new), 'etc', 'shadow')) as f:
            assert f.read() == 'root:x:inside\n', kind
        assert host_files() == before, kind
        cleanup_instance(new)

        renamed = T.add(unique_name('hr'))
        instance_call(name, 'Rename', V('(s)', (renamed,)))
        p = os.path.join(rootfs(renamed), 'etc', 'hostname')
        if kind == 'file':
            with open(p) as f:
                assert f.read() == renamed + '\n'
        elif kind in ('shadow', 'canary', 'dotdot'):
            assert os.path.islink(p)
        with open(os.path.join(rootfs(renamed), 'etc', 'shadow')) as f:
            assert f.read() == 'root:x:inside\n', kind
        assert host_files() == before, kind
        name = renamed
    # /etc itself a link out of the root: resolved inside, never on the host.
    subprocess.run(['rm', '-rf', os.path.join(rootfs(name), 'etc')], check=True)
    os.symlink('../' * 12 + 'root', os.path.join(rootfs(name), 'etc'))
    with open(os.path.join('/root', 'hostname'), 'w') as f:
        f.write(name + '\n')
    try:
        before = sha('/root/hostname')
        renamed = T.add(unique_name('hr'))
        instance_call(name, 'Rename', V('(s)', (renamed,)))
        new = unique_name('hc')
        copy(renamed, new)
        assert sha('/root/hostname') == before
        cleanup_instance(new)
        cleanup_instance(renamed)
    finally:
        os.unlink('/root/hostname')
        os.unlink(CANARY)


def stat_kind(p):
    import stat as s
    m = os.lstat(p).st_mode
    return 'fifo' if s.S_ISFIFO(m) else 'link' if s.S_ISLNK(m) else 'file' if s.S_ISREG(m) else 'other'


# ---- idmapped -------------------------------------------------------------------------------

@test
def idmapped_running_copy_keeps_mapped_owner():
    ensure_subids()
    src = T.add(unique_name('idrun'))
    create_instance(src, config={'security.privileged': 'false'})
    base = metadata(src)['idmap']['uid']
    start_instance(src)
    sh(src, 'echo %s > /etc/hostname' % src)
    pid = background_sleep(src)
    s = os.lstat(os.path.join(rootfs(src), 'etc', 'hostname'))
    assert (s.st_uid, s.st_gid) == (base, metadata(src)['idmap']['gid']), (s, base)
    new = unique_name('idcopy')
    copy(src, new, allow_running=V('b', True))
    assert_runs(src, pid)
    nbase, ngid = metadata(new)['idmap']['uid'], metadata(new)['idmap']['gid']
    assert nbase != base
    p = os.path.join(rootfs(new), 'etc', 'hostname')
    s = os.lstat(p)
    assert (s.st_uid, s.st_gid) == (nbase, ngid), (s, nbase)
    with open(p) as f:
        assert f.read() == new + '\n'
    start_instance(new)
    assert sh(new, 'hostname; cat /etc/hostname') == '%s\n%s\n' % (new, new)
    assert sh(new, 'ls -ln /etc/hostname').split()[2:4] == ['0', '0']
    cleanup_instance(new)
    cleanup_instance(src)


@on_exit
def cleanup():
    T.cleanup()
    restore_subids()
    for p in (CANARY, '/root/hostname'):
        if os.path.exists(p):
            os.unlink(p)


if __name__ == '__main__':
    main()
