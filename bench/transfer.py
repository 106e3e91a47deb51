#!/usr/bin/python3
"""bench/transfer.py TARBALL ITER FLOOR_PATH FLOOR_CONTAINER

Run by bench/run.sh inside the test host: an instance's data through lxcbusd against the floor on the
same tree, printing "SAMPLE <metric> <side> <microseconds>" lines (one warm-up run of each is dropped).

  import:  ImportInstance of TARBALL from a file fd, until the operation succeeded
           vs `tar -xf TARBALL` into an empty directory of the same file system (/var)
  export:  Export of that instance into a pipe this script drains
           vs `tar -cf - rootfs` of the same tree into a pipe drained the same way
  copy:    Copy of that instance, until the copy exists
           vs `cp -a --reflink=auto` of its rootfs
  clone:   Copy of the busybox instance benchb vs `lxc-copy` of the busybox container FLOOR_CONTAINER
  clone-overlay: Copy of benchb's snapshot with "clone": "overlay" vs `lxc-copy -s -B overlay` of
           FLOOR_CONTAINER (liblxc's own overlay snapshot clone)
"""
import os
import subprocess
import sys
import threading
import time

from gi.repository import Gio, GLib

BUS = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
MANAGER = '/org/lxcbus1'
STATE = '/var/lib/lxcbus/instances'


def call(path, iface, method, params, fds=None, timeout=600):
    fdl = None
    if fds:
        fdl = Gio.UnixFDList.new()
        for fd in fds:
            fdl.append(fd)
    reply, _ = BUS.call_with_unix_fd_list_sync('org.lxcbus1', path, iface, method, params, None,
                                              Gio.DBusCallFlags.NONE, timeout * 1000, fdl, None)
    return reply.unpack()


def sample(metric, side, t0):
    print('SAMPLE %s %s %d' % (metric, side, int((time.monotonic() - t0) * 1e6)), flush=True)


def delete(name):
    try:
        path = call(MANAGER, 'org.lxcbus1.Manager', 'GetInstance', GLib.Variant('(s)', (name,)))[0]
        call(path, 'org.lxcbus1.Instance', 'Delete', GLib.Variant('(a{sv})', ({'force': GLib.Variant('b', True)},)))
    except GLib.Error:
        pass


def drain(fd, out):
    n = 0
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        n += len(b)
    out.append(n)


def export_once(name):
    r, w = os.pipe2(os.O_CLOEXEC)
    got = []
    t = threading.Thread(target=drain, args=(r, got))
    t.start()
    path = '%s/instance/%s' % (MANAGER, name)
    try:
        call(path, 'org.lxcbus1.Instance', 'Export', GLib.Variant('(ha{sv})', (0, {})), fds=[w])
    finally:
        os.close(w)
    t.join()
    os.close(r)
    return got[0]


def tar_export_once(rootfs):
    p = subprocess.Popen(['tar', '--numeric-owner', '--xattrs', '-cf', '-', '-C', rootfs, '.'],
                         stdout=subprocess.PIPE)
    got = []
    drain(p.stdout.fileno(), got)
    assert p.wait() == 0
    return got[0]


def main():
    tarball, iters, floor_path, floor = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    size = os.path.getsize(tarball)
    print('transfer: %s, %.1f MiB; %d timed runs each' % (tarball, size / 2**20, iters), file=sys.stderr)
    scratch = '/var/tmp/lxcbench-transfer'
    benchb = '%s/instance/benchb' % MANAGER
    call(benchb, 'org.lxcbus1.Instance', 'Snapshot', GLib.Variant('(sa{sv})', ('golden', {})))
    for k in range(iters + 1):
        name = 'tdeb%d' % k
        fd = os.open(tarball, os.O_RDONLY | os.O_CLOEXEC)
        t0 = time.monotonic()
        call(MANAGER, 'org.lxcbus1.Manager', 'ImportInstance', GLib.Variant('(sha{ss}a{sv})', (name, 0, {}, {})),
             fds=[fd])
        if k:
            sample('import(%dMiB)' % (size >> 20), 'bus', t0)
        os.close(fd)
        subprocess.run(['rm', '-rf', scratch], check=True)
        os.makedirs(scratch)
        t0 = time.monotonic()
        subprocess.run(['tar', '--numeric-owner', '--xattrs', '-xf', tarball, '-C', scratch], check=True)
        if k:
            sample('import(%dMiB)' % (size >> 20), 'tar', t0)

        t0 = time.monotonic()
        n = export_once(name)
        if k:
            sample('export(%dMiB)' % (size >> 20), 'bus', t0)
        t0 = time.monotonic()
        n_tar = tar_export_once(os.path.join(STATE, name, 'rootfs'))
        if k:
            sample('export(%dMiB)' % (size >> 20), 'tar', t0)
        if k == 1:
            print('transfer: export wrote %.1f MiB, tar %.1f MiB' % (n / 2**20, n_tar / 2**20), file=sys.stderr)

        t0 = time.monotonic()
        call('%s/instance/%s' % (MANAGER, name), 'org.lxcbus1.Instance', 'Copy',
             GLib.Variant('(sa{sv})', (name + 'c', {})))
        if k:
            sample('copy(%dMiB)' % (size >> 20), 'bus', t0)
        subprocess.run(['rm', '-rf', scratch + '.copy'], check=True)
        t0 = time.monotonic()
        subprocess.run(['cp', '-a', '--reflink=auto', os.path.join(STATE, name, 'rootfs'), scratch + '.copy'],
                       check=True)
        if k:
            sample('copy(%dMiB)' % (size >> 20), 'cp-a', t0)
        delete(name + 'c')
        delete(name)

        t0 = time.monotonic()
        call('%s/instance/benchb' % MANAGER, 'org.lxcbus1.Instance', 'Copy', GLib.Variant('(sa{sv})', ('benchbc', {})))
        if k:
            sample('clone(busybox)', 'bus', t0)
        t0 = time.monotonic()
        subprocess.run(['lxc-copy', '-P', floor_path, '-n', floor, '-N', floor + 'c'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k:
            sample('clone(busybox)', 'lxc-copy', t0)
        delete('benchbc')
        subprocess.run(['lxc-destroy', '-P', floor_path, '-n', floor + 'c'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        t0 = time.monotonic()
        call(benchb, 'org.lxcbus1.Instance', 'Copy',
             GLib.Variant('(sa{sv})', ('benchbo', {'snapshot': GLib.Variant('s', 'golden'),
                                                   'clone': GLib.Variant('s', 'overlay')})))
        if k:
            sample('clone-overlay(busybox)', 'bus', t0)
        t0 = time.monotonic()
        subprocess.run(['lxc-copy', '-s', '-B', 'overlay', '-P', floor_path, '-n', floor, '-N', floor + 'o'],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k:
            sample('clone-overlay(busybox)', 'lxc-copy-s', t0)
        delete('benchbo')
        subprocess.run(['lxc-destroy', '-P', floor_path, '-n', floor + 'o'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    call(benchb, 'org.lxcbus1.Instance', 'DeleteSnapshot', GLib.Variant('(sa{sv})', ('golden', {})))
    subprocess.run(['rm', '-rf', scratch, scratch + '.copy'], check=True)


if __name__ == '__main__':
    main()
