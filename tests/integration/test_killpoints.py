#!/usr/bin/python3
"""Kill points (issue 11, Atomicity): import, export, copy, snapshot, restore-snapshot, rename and
delete-snapshot, each interrupted at 20 points or more, by kill -9 of lxcbusd, kill -9 of its worker (found
among the daemon's children) or Operation.Cancel(). A point is a moment inside the operation: its worker
is frozen with SIGSTOP where it is (after a graded delay in the time the operation takes, or after N
bytes of the stream) and then killed; rename and delete-snapshot run in the daemon itself, which strace
kills at its Nth system call of the call. After each point: the instances and snapshots listed are the
old ones or the complete new ones, the directories on disk are the listed ones, staging/ is emptied (by
the startup cleanup after a restart), no idmap block is held by a directory nobody lists or kept by
the daemon (the next idmapped create gets the same block), the source is unchanged, the daemon answers.
Then the disk-full case: a 10 GiB member streamed into an import, and a copy, on a 64 MiB state
directory: a clear org.lxcbus1.Error, nothing left."""

import json
import os
import random
import signal
import tarfile
import threading
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
RNG = random.Random(11)
MODES = ('daemon', 'worker', 'cancel')
POINTS = 20
st = {}
counts = {}






def listed():
    return sorted(n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'))


def snapshots(name):
    return [n for n, t in instance_prop(name, 'Snapshots')]


def fill(top, owner=0, files=2000, big=6):
    """A rootfs slow enough to interrupt: files small files in 40 directories and big files of 1 MiB."""
    rnd = random.Random(5)
    for d in range(40):
        os.makedirs(os.path.join(top, 'd%d' % d), exist_ok=True)
        os.chown(os.path.join(top, 'd%d' % d), owner, owner)
    for k in range(files):
        p = os.path.join(top, 'd%d' % (k % 40), 'f%d' % k)
        with open(p, 'wb') as f:
            f.write(bytes([k % 251]) * rnd.randrange(100, 2000))
        os.chown(p, owner + k % 3, owner)
    for k in range(big):
        p = os.path.join(top, 'big%d' % k)
        with open(p, 'wb') as f:
            f.write(rnd.randbytes(1 << 20))
        os.chown(p, owner, owner)
    os.symlink('d1/f1', os.path.join(top, 'link'))
    os.lchown(os.path.join(top, 'link'), owner, owner)


def new_idmapped(prefix):
    name = T.add(unique_name(prefix))
    create_instance(name, 'none', config={'security.privileged': 'false'})
    return name


def block_probe():
    """The block the next idmapped create gets (it is removed again)."""
    name = new_idmapped('probe')
    base = metadata(name)['idmap']['uid']
    cleanup_instance(name)
    return base


def check_disk_and_idmaps(probe):
    """instances/ holds a directory per listed instance and nothing else; a directory's group (an
    idmapped instance's block) is its own instance's; with probe, the daemon keeps no block either."""
    names = listed()
    wait_for(lambda: sorted(e for e in os.listdir(INSTANCES_DIR)) == names, 30,
             'instances/ == listed (%s vs %s)' % (os.listdir(INSTANCES_DIR), names))
    for n in names:
        gid = os.stat(inst_dir(n)).st_gid
        assert gid == 0 or metadata(n)['idmap']['gid'] == gid, (n, gid)
    if probe:
        # A failed import's or copy's block is free once the worker removing its staging entry has been
        # reaped, which is a moment after the entry is gone (wait_staging_empty): eventually, not at once.
        wait_for(lambda: block_probe() == st['free_base'], 10 * SLOW, 'an idmap block leaked', interval=0.2)


# ---- the driver --------------------------------------------------------------------------------

def freeze_worker(verb, before):
    """The kill point: the operation's worker (a new child of the daemon) stopped where it is. None when
    none runs (not started yet, or done)."""
    for w in daemon_workers(verb=verb):
        if w in before:
            continue
        try:
            os.kill(w, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        try:
            wait_for(lambda: (proc_stat(w) or ['Z'])[0] in 'TtZ', 2, 'worker %d stopped' % w, interval=0.005)
        except TimeoutError:
            continue
        if pid_alive(w):
            return w
    return None


def strike(mode, op, worker):
    """Kill at the point; returns the operation's Status (None when the daemon died with it)."""
    if mode == 'daemon':
        kill_and_restart_daemon()
        return None
    if mode == 'worker' and worker:
        os.kill(worker, signal.SIGKILL)
    elif mode == 'cancel':
        try:
            call(op, OPERATION_IFACE, 'Cancel')
        except BusError:
            pass        # finished already
    if worker:
        try:
            os.kill(worker, signal.SIGCONT)     # a cancelled one is killed; one not killed goes on
        except ProcessLookupError:
            pass
    return op_wait(op, 60)


def campaign(kind, verb, begin, moment, verify, after=lambda k, ctx: None, probe=False):
    """Interrupt kind at POINTS points or more that landed inside it, each checked by verify(k, done)."""
    inside = attempts = 0
    t0 = time.monotonic()
    GRADE_SCALE[0] = 1.0
    while inside < POINTS and attempts < 2 * POINTS:
        k, mode = attempts, MODES[attempts % len(MODES)]
        attempts += 1
        wait_staging_empty()
        before = daemon_workers()
        op, ctx = begin(k)
        moment(k, ctx)
        worker = freeze_worker(verb, before)
        status = strike(mode, op, worker)
        after(k, ctx)
        landed = worker is not None and status in (None, 'failure', 'cancelled')
        inside += landed
        if worker is None and status == 'success':
            GRADE_SCALE[0] *= 0.8        # the worker had ended: strike earlier
        wait_staging_empty()
        verify(k, status)
        check_disk_and_idmaps(probe and mode != 'daemon')
        check_daemon_alive()
    counts[kind] = (attempts, inside, time.monotonic() - t0)
    print('# %s: %d points killed, %d inside the operation (%.1fs)' % ((kind,) + counts[kind]))
    assert inside >= POINTS, counts[kind]


def worker_time(start, verb):
    """How long the worker of the operation start() begins (async) runs: the range of the kill points."""
    before = daemon_workers()
    t0 = time.monotonic()
    op = start()
    wait_for(lambda: not [w for w in daemon_workers(verb=verb) if w not in before], 120, 'worker done',
             interval=0.005)
    d = time.monotonic() - t0
    assert op_wait(op) == 'success'
    return d


GRADE_SCALE = [1.0]     # campaign() shrinks it when a strike comes after the worker ended


def graded(k, duration):
    """A delay inside a worker that runs for duration: ten grades, each with a random part. The
    duration was measured once; under load (the sanitizer run beside the normal one) the worker may
    run faster or slower later, so the campaign scales the grades down after each miss."""
    return 0.9 * duration * GRADE_SCALE[0] * ((k % 10) + RNG.random()) / 10


# ---- setup ---------------------------------------------------------------------------------------

@test
def setup_sources():
    ensure_subids()
    src = T.add(unique_name('kpsrc'))
    create_instance(src, 'none')
    fill(rootfs(src))
    snap_call(src, 'Snapshot', 's1')
    with open(os.path.join(rootfs(src), 'extra'), 'w') as f:
        f.write('only in the rootfs, not in s1')
    idsrc = new_idmapped('kpidsrc')
    fill(rootfs(idsrc), metadata(idsrc)['idmap']['uid'], files=1500)
    st.update(src=src, idsrc=idsrc, free_base=block_probe())
    assert block_probe() == st['free_base']


# ---- copy, snapshot, restore: the copy worker ------------------------------------------------------

@test
def copy_killpoints():
    src = st['idsrc']
    before = tree(rootfs(src))
    new = T.add(unique_name('kpcopy'))
    d = worker_time(lambda: instance_call(src, 'Copy', V('(sa{sv})', (new, {'async': V('b', True)})))[1], 'copy')
    cleanup_instance(new)
    names = [T.add(unique_name('kpc')) for k in range(2 * POINTS)]

    def begin(k):
        path, op = instance_call(src, 'Copy', V('(sa{sv})', (names[k], {'async': V('b', True)})))
        return op, None

    def verify(k, status):
        assert tree(rootfs(src)) == before, 'source changed'
        if names[k] in listed():
            assert status in (None, 'success'), status
            assert len(tree(rootfs(names[k]))) == len(before), 'half a copy'
            cleanup_instance(names[k])
        else:
            assert not os.path.exists(inst_dir(names[k]))

    campaign('copy', 'copy', begin, lambda k, c: time.sleep(graded(k, d)), verify, probe=True)


@test
def snapshot_killpoints():
    src = st['src']
    before = tree(rootfs(src))
    snaps = snapshots(src)
    d = worker_time(lambda: snap_call(src, 'Snapshot', 'kpt', async_=V('b', True)), 'copy')
    snap_call(src, 'DeleteSnapshot', 'kpt')

    def begin(k):
        return snap_call(src, 'Snapshot', 'kp%d' % k, async_=V('b', True)), None

    def verify(k, status):
        assert tree(rootfs(src)) == before, 'source changed'
        now = snapshots(src)
        sdir = os.path.join(inst_dir(src), 'snapshots')
        if now == snaps + ['kp%d' % k]:
            assert len(tree(os.path.join(sdir, 'kp%d' % k, 'rootfs'))) == len(before), 'half a snapshot'
            snap_call(src, 'DeleteSnapshot', 'kp%d' % k)
            wait_staging_empty()
        else:
            assert now == snaps, now
        wait_for(lambda: sorted(os.listdir(sdir)) == sorted(snaps), 30,
                 'snapshots/ == listed (%s)' % os.listdir(sdir))

    campaign('snapshot', 'copy', begin, lambda k, c: time.sleep(graded(k, d)), verify)


@test
def restore_killpoints():
    src = st['src']
    s1 = os.path.join(inst_dir(src), 'snapshots', 's1', 'rootfs')
    old, s1_tree = tree(rootfs(src)), tree(s1)
    assert old != s1_tree

    def back():
        with open(os.path.join(rootfs(src), 'extra'), 'w') as f:
            f.write('only in the rootfs, not in s1')
        assert tree(rootfs(src)) == old
    d = worker_time(lambda: snap_call(src, 'RestoreSnapshot', 's1', async_=V('b', True)), 'copy')
    back()

    def verify(k, status):
        assert tree(s1) == s1_tree, 'snapshot changed'
        now = tree(rootfs(src))
        if now == s1_tree:
            back()
        else:
            assert now == old, 'half a restore'

    campaign('restore-snapshot', 'copy', lambda k: (snap_call(src, 'RestoreSnapshot', 's1', async_=V('b', True)), None),
             lambda k, c: time.sleep(graded(k, d)), verify)


# ---- export and import: the stream is the clock ------------------------------------------------------

def export_start(name):
    r, w = os.pipe2(os.O_CLOEXEC)
    op = call_with_fds(instance_path(name), INSTANCE_IFACE, 'Export', V('(ha{sv})', (0, {'async': V('b', True)})),
                       [w])
    os.close(w)
    return op, r


def read_n(fd, n):
    got = 0
    chunks = []
    while n is None or got < n:
        b = os.read(fd, min(1 << 16, n - got) if n is not None else 1 << 16)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b''.join(chunks)


@test
def export_killpoints():
    src = st['src']
    before = tree(rootfs(src))
    op, r = export_start(src)
    st['tarball'] = data = read_n(r, None)
    os.close(r)
    assert op_wait(op) == 'success'
    total = len(data)
    assert total > (1 << 20), total

    def begin(k):
        return export_start(src)

    def moment(k, r):
        # Short of the pipe's buffer and the worker's own from the end: the worker is still writing.
        read_n(r, min(total * (k % 10) // 10 + RNG.randrange(total // 10), total - (256 << 10)))

    def verify(k, status):
        assert status != 'success', status
        assert tree(rootfs(src)) == before, 'source changed'

    campaign('export', 'export', begin, moment, verify, after=lambda k, r: os.close(r))


@test
def import_killpoints():
    data = st['tarball']
    total = len(data)
    names = [T.add(unique_name('kpi')) for k in range(2 * POINTS)]
    ctx = {}

    def begin(k):
        r, w = os.pipe2(os.O_CLOEXEC)
        path, op = call_with_fds(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance',
                                 V('(sha{ss}a{sv})', (names[k], 0, {'security.privileged': 'false'},
                                                      {'async': V('b', True)})), [r])
        os.close(r)
        n = total if k % 10 == 9 else total * (k % 10) // 10 + RNG.randrange(total // 10)

        def writer():
            try:
                for o in range(0, n, 1 << 16):
                    os.write(w, data[o:min(n, o + (1 << 16))])
            except OSError:
                pass
            if n == total:
                os.close(w)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        ctx[k] = (w, t, n == total)
        return op, k

    def moment(k, _):
        w, t, whole = ctx[k]
        t.join(30)
        if whole:
            time.sleep(RNG.random() * 0.05)

    def after(k, _):
        w, t, whole = ctx[k]
        if not whole:
            os.close(w)
        t.join(10)

    def verify(k, status):
        if names[k] in listed():
            assert status in (None, 'success'), status
            assert len(tree(rootfs(names[k]))) == len(tree(rootfs(st['src']))), 'half an import'
            cleanup_instance(names[k])
        else:
            assert not os.path.exists(inst_dir(names[k]))

    campaign('import', 'import', begin, moment, verify, after=after, probe=True)


# ---- rename and delete-snapshot: the daemon itself, killed at its Nth system call ------------------

def campaign_points(points):
    """POINTS + 4 of points evenly over the call, then the others in order: a run whose calls differ
    from the traced one (a wakeup more or less) can land a few of the first past the reply."""
    first = spread(points, POINTS + 4)
    return first + [p for p in points if p not in first]


def syscall_campaign(kind, call_fn, verify, points):
    """Kill lxcbusd at (system call, nth) points of call_fn(k) until POINTS of them landed inside the
    call: the spread first, then more while too few did (at most all of them)."""
    inside = tried = 0
    t0 = time.monotonic()
    for k, (sc, nth) in enumerate(campaign_points(points)):
        if tried >= POINTS + 4 and inside >= POINTS:
            break
        tried += 1
        pid = daemon_pid()
        p = strace_attach(pid, ['-e', 'trace=%s' % sc, '-e', 'inject=%s:signal=SIGKILL:when=%d' % (sc, nth)])
        try:
            call_fn(k)
            died = False    # it answered: the kill, if any, came after the call
        except BusError:
            died = True
        if not died:
            time.sleep(0.1)
        if strace_detach(p, pid):       # else not reached this time
            kill_and_restart_daemon(pid)
        inside += died
        wait_staging_empty()
        verify(k)
        check_disk_and_idmaps(False)
        check_daemon_alive()
    counts[kind] = (tried, inside, time.monotonic() - t0)
    print('# %s: %d points killed, %d inside the operation (%.1fs)' % ((kind,) + counts[kind]))
    assert inside >= POINTS, counts[kind]


def spread(points, n):
    """At least n points, evenly over the call (all of them when there are fewer)."""
    if len(points) <= n:
        return points
    step = len(points) / n
    return [points[int(k * step)] for k in range(n)]


@test
def rename_killpoints():
    a = T.add(unique_name('kpren'))
    b = T.add(unique_name('kpren'))
    create_instance(a, 'none')
    cur = [a]

    def other():
        return b if cur[0] == a else a

    def rename(k):
        instance_call(cur[0], 'Rename', V('(s)', (other(),)))

    points = syscalls_of(lambda: rename(0))
    cur[0] = b

    def verify(k):
        names = listed()
        have = [n for n in (a, b) if n in names]
        assert len(have) == 1, (have, names)
        n = cur[0] = have[0]
        assert not os.path.exists(inst_dir(a if n == b else b))
        assert not os.path.exists(os.path.join(inst_dir(n), 'config.rename'))
        assert metadata(n)['name'] == n
        with open(os.path.join(inst_dir(n), 'config')) as f:
            cfg = f.read()
        assert 'lxc.uts.name = %s\n' % n in cfg and inst_dir(n) + '/rootfs' in cfg, cfg

    syscall_campaign('rename', rename, verify, points)


@test
def delete_snapshot_killpoints():
    name = T.add(unique_name('kpdel'))
    create_instance(name, 'none')
    with open(os.path.join(rootfs(name), 'f'), 'w') as f:
        f.write('x')
    snap_call(name, 'Snapshot', 'd')
    sdir = os.path.join(inst_dir(name), 'snapshots')
    whole = tree(os.path.join(sdir, 'd'))

    points = syscalls_of(lambda: snap_call(name, 'DeleteSnapshot', 'd'))
    snap_call(name, 'Snapshot', 'd')

    def verify(k):
        if snapshots(name) == ['d']:
            assert tree(os.path.join(sdir, 'd')) == whole, 'half a snapshot'
        else:
            assert snapshots(name) == []
            wait_for(lambda: os.listdir(sdir) == [], 30, 'snapshots/ emptied (%s)' % os.listdir(sdir))
            snap_call(name, 'Snapshot', 'd')

    syscall_campaign('delete-snapshot', lambda k: snap_call(name, 'DeleteSnapshot', 'd'), verify, points)


# ---- a full disk ------------------------------------------------------------------------------------

GIB = 1 << 30


class Filler:
    """A file object of size bytes of byte fill, made as read (no file on disk)."""

    def __init__(self, size, fill):
        self.left, self.chunk = size, fill * (1 << 20)

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return self.chunk[:n] if n <= len(self.chunk) else self.chunk * (n // len(self.chunk)) + self.chunk[:n % len(self.chunk)]


def stream_tarball(w, size, fill):
    """An export-less plain rootfs tarball with one member of size bytes, written into fd w."""
    try:
        with os.fdopen(w, 'wb', buffering=1 << 20) as f:
            tf = tarfile.open(fileobj=f, mode='w|', format=tarfile.GNU_FORMAT)
            tf.copybufsize = 1 << 20
            ti = tarfile.TarInfo('big')
            ti.size = size
            tf.addfile(ti, Filler(size, fill))
            tf.close()
    except OSError:
        pass        # the worker stopped reading


def import_stream(name, size, fill):
    """ImportInstance of the streamed tarball; returns the operation's (Status, ErrorName, ErrorMessage)."""
    T.add(name)
    path, op, w = import_from_pipe(name)
    t = threading.Thread(target=stream_tarball, args=(w, size, fill), daemon=True)
    t.start()
    status = op_wait(op, 300)
    t.join(30)
    return status, get_prop(op, OPERATION_IFACE, 'ErrorName'), get_prop(op, OPERATION_IFACE, 'ErrorMessage')


def small_state_dir(size):
    """lxcbusd again, its state directory on a tmpfs of size."""
    rc, out, err = run('systemctl', 'stop', 'lxcbusd', timeout=60)
    assert rc == 0, err
    rc, out, err = run('mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0711' % size, 'kp-small', STATE_DIR)
    assert rc == 0, err
    restart_daemon()


def full_disk_error(status, name, message):
    assert status == 'failure', status
    assert name.startswith(ERR), (name, message)
    assert 'disk is full' in message or 'No space left' in message, (name, message)


@test
def disk_full():
    small_state_dir('64m')
    try:
        t0 = time.monotonic()
        # 10 GiB of zeros are extracted as a hole (ARCHIVE_EXTRACT_SPARSE) and fit: measured 37 s to stream,
        # so CI streams 1 GiB of them; a 10 GiB member of data fills the disk at once.
        for fill, size in ((b'\1', 10 * GIB), (b'\0', GIB)):
            name = unique_name('kpfull')
            status, err, msg = import_stream(name, size, fill)
            print('# import of a %d GiB member of %r into 64 MiB: %s %s: %s (%.1fs)' % (
                size // GIB, fill, status, err, msg, time.monotonic() - t0))
            wait_staging_empty()
            if status == 'success' and fill == b'\0':
                # Zeros: a hole, no blocks (libarchive's ARCHIVE_EXTRACT_SPARSE); the disk held it.
                assert os.stat(os.path.join(rootfs(name), 'big')).st_blocks < 1024
                cleanup_instance(name)
            else:
                full_disk_error(status, err, msg)
                assert name not in listed() and not os.path.exists(inst_dir(name))
        # A copy bigger than the space left.
        src = T.add(unique_name('kpfullsrc'))
        create_instance(src, 'none')
        with open(os.path.join(rootfs(src), 'data'), 'wb') as f:
            f.write(os.urandom(40 << 20))
        new = T.add(unique_name('kpfullcopy'))
        e = expect_error((ERR + 'Failed', ERR + 'LimitsExceeded'),
                         lambda: instance_call(src, 'Copy', V('(sa{sv})', (new, {}))))
        print('# copy of 40 MiB into the 24 MiB left: %s' % e)
        full_disk_error('failure', e.dbus_name, e.message)
        wait_staging_empty()
        assert new not in listed() and not os.path.exists(inst_dir(new))
        cleanup_instance(src)
        check_disk_and_idmaps(False)
    finally:
        run('systemctl', 'stop', 'lxcbusd', timeout=60)
        run('umount', STATE_DIR)
        restart_daemon()


@on_exit
def cleanup():
    T.cleanup()
    restore_subids()
    for kind, (n, inside, secs) in counts.items():
        print('# kill points %-16s %3d killed, %3d inside (%.1fs)' % (kind, n, inside, secs))


if __name__ == '__main__':
    main()
