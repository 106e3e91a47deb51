#!/usr/bin/python3
"""A hostile instance root against the trees it controls: its rootfs is
removed by Delete (in a worker) and, after an interrupted delete or create,
by the daemon at startup. A tree deeper than the fd limit, the stack or
PATH_MAX, with symlinks pointing at the host, must go entirely, and nothing
outside it may be touched."""

import os
import time

from lxcbustest import *
from lxcbushelp import *

IN_DEPTH = 300          # made inside, with busybox: a fork per step, so not deeper
DEPTH = 50000           # beyond the stack of a recursive walk (8 MiB), 10 MB of path (PATH_MAX 4096)
SEG = 'd' * 200

# Run inside the instance as its root: a deep tree of long names, with a
# symlink to the host's root and a precious-looking link on the way.
DEEP_TREE_SH = '''
cd /deep || exit 1
mkdir t || exit 1
i=0
while [ $i -lt %d ]; do
  # grow at the top: no path ever gets long, however deep the tree is
  mkdir n && mv t n/%s && mv n t || exit 2
  if [ $((i %% 500)) = 0 ]; then ln -s / t/root-link; ln -s /etc/hostname t/host-file; fi
  i=$((i + 1))
done
echo depth $i
''' % (IN_DEPTH, SEG)


def make_deep_tree_on_host(top):
    """A deeper tree: what the instance's root makes with a faster loop than
    busybox's sh (or what a killed delete leaves in staging/)."""
    os.makedirs(top, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(DEPTH):
            os.mkdir(SEG, dir_fd=fd)
            if i % 500 == 0:
                os.symlink('/', 'root-link', dir_fd=fd)
            nfd = os.open(SEG, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)


@test
def delete_removes_a_tree_deeper_than_any_limit():
    name = unique_name('deep')
    create_running_instance(name)
    try:
        marker = '/root/lxcbus-precious'
        with open(marker, 'w') as f:
            f.write('keep me\n')
        rc, out, err = run('lxcbusctl', 'exec', name, '--', 'sh', '-c', 'mkdir /deep && ' + DEEP_TREE_SH,
                           timeout=300)
        assert rc == 0 and 'depth %d' % IN_DEPTH in out, (rc, out, err)
        make_deep_tree_on_host(os.path.join(INSTANCES_DIR, name, 'rootfs', 'deep', 'more'))
        instance_call(instance_path(name), 'Stop', opts(force=V('b', True)))
        pid = running_daemon_pid()
        instance_call(instance_path(name), 'Delete', opts(), timeout=300)
        assert not instance_exists(name)
        assert not os.path.exists(os.path.join(INSTANCES_DIR, name))
        left = os.listdir(STAGING_DIR) if os.path.isdir(STAGING_DIR) else []
        assert left == [], 'the delete left %s in %s' % (left, STAGING_DIR)
        assert running_daemon_pid() == pid, 'lxcbusd restarted'
        with open(marker) as f:
            assert f.read() == 'keep me\n', 'a file outside the tree was touched'
        assert os.path.exists('/etc/hostname')
        os.unlink(marker)
    finally:
        cleanup_instance(name)


@test
def startup_removes_a_deep_leftover_in_staging():
    # What a delete interrupted by a kill of the daemon leaves: the renamed
    # instance directory in staging/, emptied by the next daemon at startup
    # (in a worker: the daemon is ready without waiting for it). A leftover
    # of an interrupted create, under an instance's name, is moved aside at
    # once, so that the name can be created again straight away.
    leftover = os.path.join(STAGING_DIR, '.deleted-deep-1')
    make_deep_tree_on_host(leftover)
    name = unique_name('left')
    make_deep_tree_on_host(os.path.join(STAGING_DIR, name, 'rootfs'))
    old = running_daemon_pid()
    rc, out, err = run('systemctl', 'restart', 'lxcbusd', timeout=120)
    assert rc == 0, (out, err)
    wait_for(lambda: daemon_pid() not in (0, old), 60, 'lxcbusd restarted')
    # it answers at once (the leftover is moved aside and removed by a worker), and the leftover goes
    call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')
    # (removed by a worker, which may still be at it when the daemon answers: slowly under ASan)
    wait_for(lambda: not os.path.exists(leftover), 120, 'the leftover removed')
    # the name of the interrupted create is free at once
    try:
        create_instance(name)
        assert instance_exists(name)
    finally:
        cleanup_instance(name)
    wait_for(lambda: os.listdir(STAGING_DIR) == [], 120, 'staging/ emptied')
    assert os.path.exists('/etc/hostname')


if __name__ == '__main__':
    main()
