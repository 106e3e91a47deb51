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

PROCESS_IFACE = 'org.lxcbus1.Process'


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


def attack(daemon, target, queue_call, finish):
    """Stop the daemon, queue the call, kill the target, give its pid to a
    bystander, let the daemon go on. Returns (bystander, call process)."""
    os.kill(daemon, signal.SIGSTOP)
    try:
        before = bus_recv_queue(daemon)
        caller = queue_call()
        wait_for(lambda: bus_recv_queue(daemon) > before, 10, 'the call waiting in lxcbusd\'s socket')
        os.kill(target, signal.SIGKILL)
        finish()
        wait_gone(target)
        victim = bystander_with_pid(target)
    finally:
        os.kill(daemon, signal.SIGCONT)
    return victim, caller


@test
def kill_never_signals_a_reused_init_pid():
    name = unique_name('pid')
    create_running_instance(name)
    path = instance_path(name)
    victim = None
    try:
        init = instance_prop(path, 'Pid')
        d = main_pid()
        victim, caller = attack(
            d, init,
            lambda: call_in_background(path, INSTANCE_IFACE, 'Kill', 'ib', 15, 'false'),
            lambda: None)
        if victim is None:
            print('# could not hand pid %d to a bystander; nothing to show' % init)
            caller.wait(60)
            return
        out, err = caller.communicate(timeout=60)
        print('# Kill after init %d died: rc %d %s' % (init, caller.returncode, (out + err).strip()))
        time.sleep(0.5)   # a signal, if one was sent, has been delivered by now
        assert victim.poll() is None, 'the bystander with init\'s old pid %d got the signal' % init
        assert caller.returncode != 0, 'Kill succeeded after init had died'
        wait_prop(path, INSTANCE_IFACE, 'State', 'stopped', 60)
        assert main_pid() == d
    finally:
        if victim:
            victim.kill()
            victim.wait()
        cleanup_instance(name)


@test
def process_signal_never_hits_a_reused_pid():
    name = unique_name('pid')
    create_running_instance(name)
    victim = None
    try:
        n = os.open('/dev/null', os.O_RDWR)
        fdl = Gio.UnixFDList.new()
        for k in range(3):
            fdl.append(n)
        os.close(n)
        op = call(instance_path(name), INSTANCE_IFACE, 'Exec',
                  V('(asa{ss}hhha{sv})', (['sleep', '300'], {}, 0, 1, 2, {})), fd_list=fdl)
        pid = get_prop(op, PROCESS_IFACE, 'Pid')
        assert pid > 0
        d = main_pid()
        victim, caller = attack(
            d, pid,
            lambda: call_in_background(op, PROCESS_IFACE, 'Signal', 'i', 15),
            lambda: None)
        if victim is None:
            print('# could not hand pid %d to a bystander; nothing to show' % pid)
            caller.wait(60)
            return
        out, err = caller.communicate(timeout=60)
        print('# Signal after process %d died: rc %d %s' % (pid, caller.returncode, (out + err).strip()))
        time.sleep(0.5)
        assert victim.poll() is None, 'the bystander with the process\'s old pid %d got the signal' % pid
        wait_for(lambda: get_prop(op, PROCESS_IFACE, 'ExitSignal') == 9, 30, 'Process ended by SIGKILL')
        assert main_pid() == d
    finally:
        if victim:
            victim.kill()
            victim.wait()
        cleanup_instance(name)


if __name__ == '__main__':
    main()
