#!/usr/bin/python3
"""A hostile container root (issue 9, items 6, 7, 10): it nests its cgroups deeper than PATH_MAX, it
writes to every socket its init inherited, it points its /sbin at the host. The daemon stays up, its
operations are not forged, nothing of the instance holds a socket to the daemon, and nothing leaks."""

import os
import time

from lxcbustest import *
from lxcbushelp import *

DEEP = 200                 # levels below the payload cgroup: within the daemon's bound (256)
LONG = 'c' * 40            # 200 * 41 bytes: far past PATH_MAX (4096)


def exec_bg(path, argv):
    """Instance.Exec with /dev/null stdio; returns the host pid of the process."""
    return get_prop(exec_start(path, argv), PROCESS_IFACE, 'Pid')


def nest(top, depth, name=LONG):
    """mkdir a chain of `depth` directories below the directory `top`, each called `name`, relative to
    the previous one (as a container root would: no path gets near PATH_MAX). Returns the fd of the
    deepest (the caller closes it)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        try:
            os.mkdir(name, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def rm_tree_fd(top):
    """Remove a directory tree of any depth by fds (what the test made, if the daemon did not)."""
    try:
        root = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    stack = [(root, None)]
    while stack:
        fd, name = stack[-1]
        sub = [e.name for e in os.scandir(fd) if e.is_dir(follow_symlinks=False)]
        if sub:
            stack.append((os.open(sub[0], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), sub[0]))
            continue
        os.close(fd)
        stack.pop()
        if stack:
            os.rmdir(name, dir_fd=stack[-1][0])
    try:
        os.rmdir(top)
    except OSError:
        pass


def deep_exists(top, depth, name=LONG):
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        for _ in range(depth):
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def assert_daemon_answers(path, pid0):
    t0 = time.monotonic()
    state = instance_prop(path, 'State')
    assert time.monotonic() - t0 < 5, 'GetState took %.1f s' % (time.monotonic() - t0)
    assert daemon_pid() == pid0, 'lxcbusd restarted or died: MainPID %d, was %d' % (daemon_pid(), pid0)
    return state


@test
def deep_cgroups_kill_all_and_stop():
    """The container root nests its cgroups 200 deep, past PATH_MAX, in the hierarchy Kill(all) walks
    and in one only the daemon cleans (freezer), and puts a process at the bottom. Kill(all) reaches
    it; the daemon stays up; after Stop no cgroup of the instance is left anywhere."""
    name = unique_name('hc-deep')
    path = instance_path(name)
    unit = scope_of(name)
    tops = ['/sys/fs/cgroup/%s/machine.slice/%s/lxc.payload.%s' % (h, unit, name) for h in ('systemd', 'freezer')]
    try:
        create_running_instance(name)
        pid0 = running_daemon_pid()
        sleeper = exec_bg(path, ['sleep', '1000'])
        assert pid_alive(sleeper)
        for top in tops:
            assert os.path.isdir(top), top
            fd = nest(top, DEEP)
            if top == tops[0]:
                # The sleeper goes to the bottom of the named systemd hierarchy (Kill's walk).
                pfd = os.open('cgroup.procs', os.O_WRONLY, dir_fd=fd)
                os.write(pfd, b'%d' % sleeper)
                os.close(pfd)
                pfd = os.open('cgroup.procs', os.O_RDONLY, dir_fd=fd)
                listed = os.read(pfd, 65536).split()
                os.close(pfd)
                assert b'%d' % sleeper in listed, listed
            os.close(fd)

        # SIGHUP: busybox init reloads its inittab, sleep dies of it.
        try:
            instance_call(path, 'Kill', V('(ib)', (1, True)), timeout=60)
        except BusError as e:
            assert e.dbus_name == 'org.lxcbus1.Error.Failed', e
        assert_daemon_answers(path, pid0)
        wait_for(lambda: not pid_alive(sleeper), 10, 'the process %d cgroups deep signalled' % DEEP)
        assert assert_daemon_answers(path, pid0) == 'running'

        instance_call(path, 'Stop', opts(timeout_sec=V('u', 5)), timeout=60)
        assert assert_daemon_answers(path, pid0) == 'stopped'
        assert_scope_gone(name, 15)
        for top in tops:
            assert not os.path.exists(top), '%s left behind' % top
        assert_no_zombies()
    finally:
        cleanup_instance(name)
        for top in tops:
            rm_tree_fd(top)
            for d in (os.path.dirname(top),):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


INIT_SCRIPT = r'''#!/bin/sh
# A hostile init: list what it inherited, write forged messages and a flood to every socket.
ls -l /proc/self/fd/ > /fds.txt 2>&1
for f in /proc/self/fd/*; do
    n=${f##*/}
    case "$(readlink "$f")" in
    socket:*)
        echo "SOCKET fd $n" >> /fds.txt
        eval "echo 'running 1' >&$n; echo 'result 0 forged' >&$n" 2>/dev/null
        i=0
        while [ $i -lt 3000 ]; do
            eval "echo 'progress 0.99 forged' >&$n" 2>/dev/null || break
            i=$((i + 1))
        done
        ;;
    esac
done
echo done >> /fds.txt
exec /bin/busybox init
'''


def sockets_of(pid):
    return {fd: t for fd, t in proc_fds(pid).items() if t.startswith('socket:')}


@test
def init_and_exec_hold_no_socket_of_the_daemon():
    """The instance's init (a script that writes forged messages and a flood to every socket it
    holds) and an exec'd process hold no socket: the start completes as it should, no forged stage
    is ever published, the daemon keeps answering."""
    name = unique_name('hc-init')
    path = instance_path(name)
    try:
        create_instance(name)
        rootfs = os.path.join(INSTANCES_DIR, name, 'rootfs')
        init = os.path.join(rootfs, 'sbin/init')
        os.unlink(init)
        with open(init, 'w') as f:
            f.write(INIT_SCRIPT)
        os.chmod(init, 0o755)
        pid0 = running_daemon_pid()

        with Signals(member='PropertiesChanged') as sig:
            op = instance_call(path, 'Start', opts(async_=V('b', True)), timeout=60)
            wait_for(lambda: get_prop(op, OPERATION_IFACE, 'Status') != 'running', 60, 'start finished')
            assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
            wait_for(lambda: os.path.exists(os.path.join(rootfs, 'fds.txt')) and
                     'done' in open(os.path.join(rootfs, 'fds.txt')).read(), 30, 'the init script ran')
            assert assert_daemon_answers(path, pid0) == 'running'
            forged = [s.args for s in sig.matching() if 'forged' in str(s.args)]
            assert not forged, 'forged properties published: %s' % forged[:3]
        assert get_prop(op, OPERATION_IFACE, 'Stage') != 'forged'
        with open(os.path.join(rootfs, 'fds.txt')) as f:
            fds = f.read()
        assert 'socket:' not in fds and 'SOCKET' not in fds, 'init inherited a socket:\n' + fds

        init_pid = instance_prop(path, 'Pid')
        assert not sockets_of(init_pid), 'init holds %s' % sockets_of(init_pid)
        sleeper = exec_bg(path, ['sleep', '1000'])
        assert not sockets_of(sleeper), 'an exec\'d process holds %s' % sockets_of(sleeper)
        instance_call(path, 'Kill', V('(ib)', (1, True)), timeout=60)   # init reloads, sleep dies
        wait_for(lambda: not pid_alive(sleeper), 10, 'sleep killed')
        assert assert_daemon_answers(path, pid0) == 'running'
        instance_call(path, 'Stop', opts(force=V('b', True)), timeout=60)
    finally:
        cleanup_instance(name)


@test
def sbin_pointing_at_the_host_is_not_followed():
    """rootfs/sbin is a symlink to the host's /usr/sbin, which has an init: the daemon resolves it as
    the instance would (inside the rootfs), where there is none, and refuses the start at once."""
    name = unique_name('hc-sbin')
    path = instance_path(name)
    try:
        call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', V('(sa{sv}a{ss}a{sv})', (name, {'type': V('s', 'none')}, {}, {})))
        assert os.path.exists('/usr/sbin/init'), 'the test host has no /usr/sbin/init'
        os.symlink('/usr/sbin', os.path.join(INSTANCES_DIR, name, 'rootfs/sbin'))
        pid0 = running_daemon_pid()
        with raises_dbus('org.lxcbus1.Error.Failed') as e:
            instance_call(path, 'Start', opts(timeout_sec=V('u', 20)), timeout=60)
        assert e.error.message == "Instance '%s' cannot boot: its rootfs has no /sbin/init." % name, e.error.message
        assert assert_daemon_answers(path, pid0) == 'stopped'
        assert_scope_gone(name)
    finally:
        cleanup_instance(name)


if __name__ == '__main__':
    main()
