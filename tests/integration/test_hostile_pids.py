#!/usr/bin/python3
"""Signals go to the process they were meant for, never to a pid that was
reused. Kill(sig, false) signals the instance's init and Process.Signal an
exec'd process; each holds a pidfd of its process from the moment it runs.

The attack, made deterministic: lxcbusd is stopped (SIGSTOP) with a Kill or
Signal call already in its socket; the target process dies and is reaped;
its pid is handed to a bystander on the host (ns_last_pid); then lxcbusd
goes on and reads the call before it learns of the death. A daemon that
signals by pid hits the bystander."""

import ctypes
import os
import signal
import subprocess
import time

from gi.repository import Gio

from lxcbustest import *
from lxcbushelp import *



def bus_recv_queue(pid):
    """Bytes waiting in the receive queues of pid's unix sockets (ss -xp)."""
    rc, out, err = run('ss', '-xpH')
    total = 0
    for line in out.splitlines():
        if 'pid=%d,' % pid not in line:
            continue
        f = line.split()
        try:
            total += int(f[2])
        except (IndexError, ValueError):
            pass
    return total


def call_in_background(path, iface, method, signature, *args):
    """busctl call in a child process: the call is sent now, the answer read later."""
    return subprocess.Popen(['busctl', 'call', '--timeout=60', 'org.lxcbus1', path, iface, method, signature]
                            + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class _CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ('flags', 'pidfd', 'child_tid', 'parent_tid', 'exit_signal',
                                                'stack', 'stack_size', 'tls', 'set_tid', 'set_tid_size',
                                                'cgroup')]


class _Child:
    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        p, status = os.waitpid(self.pid, os.WNOHANG)
        return None if p == 0 else status

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self):
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def bystander_with_pid(pid):
    """A host process (sleep) with exactly this pid: clone3() with set_tid, as CRIU does."""
    libc = ctypes.CDLL(None, use_errno=True)
    tid = (ctypes.c_int * 1)(pid)
    args = _CloneArgs(exit_signal=signal.SIGCHLD, set_tid=ctypes.addressof(tid), set_tid_size=1)
    r = libc.syscall(435, ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args)))   # clone3
    if r == 0:
        try:
            os.execv('/bin/sleep', ['sleep', '300'])
        finally:
            os._exit(127)
    if r < 0:
        print('# clone3 with pid %d: %s' % (pid, os.strerror(ctypes.get_errno())))
        return None
    return _Child(r)


def wait_gone(pid, timeout=30):
    wait_for(lambda: not os.path.exists('/proc/%d' % pid), timeout, 'pid %d gone' % pid)


def signal_after_pid_reuse(target, path, iface, method, signature, *args):
    """Stop lxcbusd, queue the call, kill the target, give its pid to a
    bystander, let lxcbusd go on. Returns (whether the bystander is still
    alive, the call's exit status, its output)."""
    daemon = running_daemon_pid()
    victim = None
    os.kill(daemon, signal.SIGSTOP)
    try:
        before = bus_recv_queue(daemon)
        caller = call_in_background(path, iface, method, signature, *args)
        wait_for(lambda: bus_recv_queue(daemon) > before, 10, 'the call waiting in lxcbusd\'s socket')
        os.kill(target, signal.SIGKILL)
        wait_gone(target)
        victim = bystander_with_pid(target)
    finally:
        os.kill(daemon, signal.SIGCONT)
    try:
        assert victim is not None, 'could not give pid %d to a bystander' % target
        out, err = caller.communicate(timeout=60)
        time.sleep(0.5)   # a signal, if one was sent, has been delivered by now
        alive = victim.poll() is None
    finally:
        if victim:
            victim.kill()
            victim.wait()
    assert running_daemon_pid() == daemon
    print('# %s after pid %d died and was reused: rc %d %s' % (method, target, caller.returncode,
                                                               (out + err).strip()))
    return alive, caller.returncode, (out + err).strip()


@test
def kill_never_signals_a_reused_init_pid():
    name = unique_name('pid')
    create_running_instance(name)
    path = instance_path(name)
    try:
        init = instance_prop(path, 'Pid')
        alive, rc, out = signal_after_pid_reuse(init, path, INSTANCE_IFACE, 'Kill', 'ib', 15, 'false')
        assert alive, 'the bystander with init\'s old pid %d got the signal' % init
        assert rc != 0 and 'init has exited' in out, 'Kill after init had died: %d %s' % (rc, out)
        wait_prop(path, INSTANCE_IFACE, 'State', 'stopped', 60)
    finally:
        cleanup_instance(name)


@test
def process_signal_never_hits_a_reused_pid():
    name = unique_name('pid')
    create_running_instance(name)
    try:
        op = exec_start(name, ['sleep', '300'], timeout=120)
        pid = get_prop(op, PROCESS_IFACE, 'Pid')
        assert pid > 0
        alive, rc, out = signal_after_pid_reuse(pid, op, PROCESS_IFACE, 'Signal', 'i', 15)
        assert alive, 'the bystander with the process\'s old pid %d got the signal' % pid
        wait_for(lambda: get_prop(op, PROCESS_IFACE, 'ExitSignal') == 9, 30, 'Process ended by SIGKILL')
    finally:
        cleanup_instance(name)


if __name__ == '__main__':
    main()
