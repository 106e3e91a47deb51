#!/usr/bin/python3
"""A real OS, not only busybox: a minimal Debian 12 rootfs (debootstrap --variant=minbase, built by
tests/debian/rootfs.sh from the mirror of the machine's apt sources, cached) imported as a plain
rootfs tarball, started, a command run in it, stopped and deleted."""
import os

from lxcbustest import *
from lxcbushelp import *

NAME = unique_name('deb')
T = Tracker()


@test
def debian_rootfs_imports_starts_and_runs_a_command():
    tarball = debian_image('minbase')
    if not tarball:
        return
    T.add(NAME)
    path, op = import_tarball_file(NAME, tarball, timeout=600)
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert instance_prop(NAME, 'State') == 'stopped'

    # minbase has no init package: give it the smallest init there is, through PushFile.
    r, w = os.pipe2(os.O_CLOEXEC)
    os.write(w, b'#!/bin/sh\nexec sleep infinity\n')
    os.close(w)
    try:
        call_with_fds(instance_path(NAME), INSTANCE_IFACE, 'PushFile',
                      V('(sha{sv})', ('/sbin/init', 0, {'mode': V('u', 0o755)})), [r], timeout=60)
    finally:
        os.close(r)

    start_instance(NAME, timeout=120)
    status, sig, out = root_exec(NAME, ['cat', '/etc/debian_version'])
    assert (status, sig) == (0, 0) and out.startswith('12.'), (status, sig, out)
    status, sig, out = root_exec(NAME, ['dpkg-query', '-W', '-f=${Package}\\n', 'apt', 'dpkg', 'bash'])
    assert (status, sig) == (0, 0) and out.split() == ['apt', 'bash', 'dpkg'], (status, sig, out)
    # Its init is the one pushed: the instance's Pid runs sleep (seen from the daemon's pid namespace).
    with open('/proc/%d/cmdline' % instance_prop(NAME, 'Pid'), 'rb') as f:
        assert f.read().split(b'\0')[:2] == [b'sleep', b'infinity']

    call(instance_path(NAME), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 0)), timeout=120)
    assert instance_prop(NAME, 'State') == 'stopped'
    cleanup_instance(NAME)
    assert not instance_exists(NAME)


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
