#!/usr/bin/python3
"""Hostile peers on the bus (issue 9, items 2 and 3), done as an attacker
does them:

- forged signals: another user (refused by the bus policy) and root (let
  through by a test policy, so that lxcbusd's own check is what is tested)
  send lxcbusd a unicast NameOwnerChanged saying that a caller left: its
  kill-on-disconnect process keeps running; a flood of forged JobRemoved
  "failed" for the next systemd jobs during a Start: the Start succeeds;
- oversized requests: the Exec of 130 arguments of 64 KiB of ' by a user
  with no rights (its polkit query used to get lxcbusd thrown off the bus),
  an Exec, a CreateInstance and a SetConfig over their bounds, a huge object
  path and property name: a clear error naming the limit, and lxcbusd is
  the same process, still on the bus;
- bus loss: the connection of lxcbusd to the bus is shut down under it:
  it exits non-zero at once, systemd restarts it, and the running instance
  is still running and listed (last: it changes the daemon's pid)."""

import ctypes
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

from lxcbustest import *
from lxcbushelp import *

ATTACKER = 'hbattacker'
RUN = unique_name('hbrun')       # running: kill-on-disconnect execs, the bus-loss test
START = unique_name('hbstart')   # stopped: started under a JobRemoved flood
CONF = unique_name('hbconf')     # source none: SetConfig
TEST_POLICY = '/etc/dbus-1/system.d/zz-lxcbus-test-hostile-bus.conf'
st = {}

# Runs as any user: sends forged signals to org.lxcbus1, unicast, through libsystemd (fast: a forged
# JobRemoved must land between systemd's reply to StartTransientUnit and its real JobRemoved).
#   owner VICTIM        NameOwnerChanged(VICTIM, VICTIM, "") as the bus driver would say it
#   job UNIT FIRST N    JobRemoved(id, job path, UNIT, "failed") for ids FIRST..FIRST+N-1, over and
#                       over until stdin closes
# then a round trip to lxcbusd on the same connection: once it answers, it has read every signal sent
# before. Prints {"sent": count}.
FORGER = textwrap.dedent('''
    import ctypes, json, select, sys
    sd = ctypes.CDLL('libsystemd.so.0')
    bus = ctypes.c_void_p()
    assert sd.sd_bus_open_system(ctypes.byref(bus)) >= 0
    sent = 0
    def signal(path, iface, member, sig, *args):
        global sent
        m = ctypes.c_void_p()
        assert sd.sd_bus_message_new_signal(bus, ctypes.byref(m), path, iface, member) >= 0
        assert sd.sd_bus_message_set_destination(m, b'org.lxcbus1') >= 0
        assert sd.sd_bus_message_append(m, sig, *args) >= 0
        r = sd.sd_bus_send(bus, m, None)
        sd.sd_bus_message_unref(m)
        assert r >= 0, r
        sent += 1
    if sys.argv[1] == 'owner':
        v = sys.argv[2].encode()
        signal(b'/org/freedesktop/DBus', b'org.freedesktop.DBus', b'NameOwnerChanged', b'sss', v, v, b'')
    else:
        unit, first, n = sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps({'ready': True}), flush=True)
        while not select.select([sys.stdin], [], [], 0)[0]:
            for k in range(first, first + n):
                signal(b'/org/freedesktop/systemd1', b'org.freedesktop.systemd1.Manager', b'JobRemoved',
                       b'uoss', ctypes.c_uint32(k), b'/org/freedesktop/systemd1/job/%d' % k, unit, b'failed')
            assert sd.sd_bus_flush(bus) >= 0
    reply = ctypes.c_void_p()
    assert sd.sd_bus_call_method(bus, b'org.lxcbus1', b'/org/lxcbus1', b'org.freedesktop.DBus.Peer', b'Ping',
                                 None, ctypes.byref(reply), b'') >= 0
    name = ctypes.c_char_p()
    assert sd.sd_bus_get_unique_name(bus, ctypes.byref(name)) >= 0
    print(json.dumps({'sent': sent, 'name': name.value.decode()}), flush=True)
''')

# Runs as any user: one Exec with the argv of length ARGC of LEN bytes of ', on RUN. Prints
# {"ok": bool, "error": name, "message": text}.
BIG_EXEC = textwrap.dedent('''
    import json, os, re, sys
    from gi.repository import Gio, GLib
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    argv = ["'" * int(sys.argv[3])] * int(sys.argv[2])
    n = os.open('/dev/null', os.O_RDWR)
    fdl = Gio.UnixFDList.new()
    for k in range(3):
        fdl.append(n)
    try:
        bus.call_with_unix_fd_list_sync('org.lxcbus1', sys.argv[1], 'org.lxcbus1.Instance', 'Exec',
            GLib.Variant('(asa{ss}hhha{sv})', (argv, {}, 0, 1, 2, {})), None, 0, 60000, fdl, None)
        out = {'ok': True}
    except GLib.Error as e:
        out = {'ok': False, 'error': Gio.DBusError.get_remote_error(e) or str(e.code),
               'message': re.sub(r'^GDBus\\.Error:[^ ]+: ', '', e.message)}
    print(json.dumps(out), flush=True)
''')


def user_env(user):
    return {'HOME': '/', 'USER': user, 'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8',
            'PYTHONDONTWRITEBYTECODE': '1'}


def as_cmd(user, script, *args):
    cmd = [sys.executable, '-c', script] + [str(a) for a in args]
    if user == 'root':
        return cmd
    return ['setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups', '--'] + cmd


def run_script(user, script, *args, timeout=90):
    p = subprocess.run(as_cmd(user, script, *args), capture_output=True, text=True, timeout=timeout * SLOW,
                       cwd='/', env=user_env(user))
    assert p.returncode == 0, 'script as %s failed (%d): %s' % (user, p.returncode, p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def reload_bus_config():
    call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'ReloadConfig', dest='org.freedesktop.DBus')


def allow_root_unicast_signals(on):
    """A test policy, read after org.lxcbus1.conf, that lets root send lxcbusd unicast signals: what
    reaches the daemon is then up to its own check alone."""
    if on:
        with open(TEST_POLICY, 'w') as f:
            f.write('<busconfig><policy user="root">'
                    '<allow send_destination="org.lxcbus1" send_type="signal"/>'
                    '</policy></busconfig>\n')
    else:
        try:
            os.unlink(TEST_POLICY)
        except FileNotFoundError:
            return
    reload_bus_config()


def proc_prop(op, name):
    return get_prop(op, PROCESS_IFACE, name)


def exec_kill_on_disconnect(conn):
    """sleep 300 in RUN with kill-on-disconnect on conn (which stays open); returns (op, pid)."""
    op = exec_start(RUN, ['sleep', '300'], options={'kill-on-disconnect': V('b', True)}, conn=conn,
                    timeout=30 * SLOW)
    wait_for(lambda: proc_prop(op, 'Pid') > 0, 30, 'the pid of the exec')
    return op, proc_prop(op, 'Pid')


def assert_keeps_running(pid, op, seconds=1.0):
    # Nothing may happen; the forger's round trip already made the daemon read the signal, and a
    # kill would follow within milliseconds: watch for a while.
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert pid_alive(pid), 'the victim\'s process %d was killed by a forged signal' % pid
        time.sleep(0.05)
    assert proc_prop(op, 'ExitSignal') <= 0 and get_prop(op, OPERATION_IFACE, 'Status') == 'running', \
        'the victim\'s process is marked ended: %r' % get_all_props(op, OPERATION_IFACE)


def journal_cursor():
    rc, out, err = run('journalctl', '-n', '0', '--show-cursor', '--no-pager')
    return out.strip().splitlines()[-1].split('cursor: ', 1)[1]


def bus_rejected(cursor, sender):
    """dbus-daemon logged that it refused a NameOwnerChanged from sender (its policy)."""
    rc, out, err = run('journalctl', '--no-pager', '-o', 'cat', '--after-cursor', cursor)
    return any('Rejected send message' in line and 'NameOwnerChanged' in line and '"%s"' % sender in line
               for line in out.splitlines())


def forged_owner_changed(sender_user):
    victim = private_root_conn()
    try:
        op, pid = exec_kill_on_disconnect(victim)
        cursor = journal_cursor()
        out = run_script(sender_user, FORGER, 'owner', victim.get_unique_name())
        assert out['sent'] == 1, out
        assert_keeps_running(pid, op)
        if sender_user != 'root':
            # The bus policy refused it already (lxcbusd's own check is tested with root's).
            wait_for(lambda: bus_rejected(cursor, out['name']), 10, 'dbus-daemon to log the refused signal')
        check_daemon_alive()
    finally:
        victim.close_sync(None)
    # The real departure is still believed: the process ends.
    wait_for(lambda: not pid_alive(pid), 15, 'the kill-on-disconnect process to end when its caller left')


@test
def setup():
    add_user(ATTACKER)
    create_running_instance(RUN)
    cleanup_instance(START)
    create_instance(START)
    cleanup_instance(CONF)
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
         V('(sa{sv}a{ss}a{sv})', (CONF, {'type': V('s', 'none')}, {}, {})))
    st['run_pid'] = instance_prop(instance_path(RUN), 'Pid')


# ---- item 3: forged signals ------------------------------------------------------------------

@test
def forged_name_owner_changed_from_a_user_kills_nothing():
    forged_owner_changed(ATTACKER)


@test
def forged_name_owner_changed_past_the_policy_kills_nothing():
    allow_root_unicast_signals(True)
    try:
        forged_owner_changed('root')
    finally:
        allow_root_unicast_signals(False)


@test
def forged_job_removed_does_not_fail_a_start():
    # The next job ids systemd hands out: a no-op job on an active unit without dependencies tells
    # where the counter is.
    job = call('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'StartUnit',
               V('(ss)', ('-.slice', 'replace')), dest='org.freedesktop.systemd1')
    first = int(job.rsplit('/', 1)[1]) + 1
    unit = 'lxcbus-%s.scope' % START
    allow_root_unicast_signals(True)
    flood = subprocess.Popen(as_cmd('root', FORGER, 'job', unit, first, 4), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=user_env('root'))
    try:
        assert json.loads(flood.stdout.readline())['ready']
        op = call(instance_path(START), INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)), timeout=120)
        assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_all_props(op, OPERATION_IFACE)
        assert instance_prop(instance_path(START), 'State') == 'running'
        assert scope_state(unit)[1] == 'active', scope_state(unit)
    finally:
        out, _ = flood.communicate(timeout=60 * SLOW)     # closes its stdin: it stops
        allow_root_unicast_signals(False)
    sent = json.loads(out.strip().splitlines()[-1])['sent']
    print('# %d forged JobRemoved sent during the start' % sent)
    assert sent > 0
    check_daemon_alive()
    call(instance_path(START), INSTANCE_IFACE, 'Stop', V('(a{sv})', ({},)), timeout=60)


# ---- item 2: bounded requests ----------------------------------------------------------------

@test
def huge_exec_by_a_user_without_rights_is_refused():
    # 130 arguments of 64 KiB of ': the polkit command line would be 4 times that, over 32 MiB.
    out = run_script(ATTACKER, BIG_EXEC, instance_path(RUN), 130, 65536, timeout=120)
    assert not out['ok'], out
    assert out['error'] == ERR + 'LimitsExceeded', out
    assert '262144' in out['message'], out
    check_daemon_alive()
    assert instance_prop(instance_path(RUN), 'State') == 'running'


@test
def exec_over_the_bound_is_limits_exceeded():
    for argc, size in ((1, 40000), (1000, 40)):
        out = run_script('root', BIG_EXEC, instance_path(RUN), argc, size)
        assert not out['ok'] and out['error'] == ERR + 'LimitsExceeded', (argc, size, out)
        assert '32768' in out['message'], out
    # At the bound it is not refused for its size (the command, all quotes, may fail in the instance).
    out = run_script('root', BIG_EXEC, instance_path(RUN), 1, 32767)
    assert out['ok'] or out['error'] != ERR + 'LimitsExceeded', out
    check_daemon_alive()


@test
def create_with_a_config_over_the_bound_is_invalid_config():
    name = unique_name('hbbig')
    config = {'user.k%02d' % k: 'v' * 4000 for k in range(20)}   # 80 KB: more than one worker packet
    try:
        with raises_dbus(ERR + 'InvalidConfig') as e:
            create_instance(name, template='busybox', config=config)
        check_error(e.error, instance=name)
        assert '16384' in e.error.message, e.error.message
        assert not instance_exists(name)
        # Just over the bound, though one worker packet would hold it.
        config = {'user.k%02d' % k: 'v' * 4000 for k in range(5)}
        with raises_dbus(ERR + 'InvalidConfig'):
            create_instance(name, template='busybox', config=config)
        assert not instance_exists(name)
    finally:
        cleanup_instance(name)
    check_daemon_alive()


@test
def set_config_over_the_bound_is_invalid_config():
    path = instance_path(CONF)
    gen = instance_prop(path, 'Generation')
    with raises_dbus(ERR + 'InvalidConfig'):
        call(path, INSTANCE_IFACE, 'SetConfig',
             V('(a{ss}asa{sv})', ({'user.k%02d' % k: 'v' * 4000 for k in range(5)}, [], {})))
    # Growing past it in steps is refused too, at the step that crosses it (4 of 4008 bytes fit).
    for k in range(4):
        call(path, INSTANCE_IFACE, 'SetConfig', V('(a{ss}asa{sv})', ({'user.s%02d' % k: 'v' * 4000}, [], {})))
    with raises_dbus(ERR + 'InvalidConfig'):
        call(path, INSTANCE_IFACE, 'SetConfig', V('(a{ss}asa{sv})', ({'user.s99': 'v' * 4000}, [], {})))
    assert instance_prop(path, 'Generation') == gen + 4
    assert len(instance_prop(path, 'Config')) == 4
    check_daemon_alive()


@test
def huge_path_and_property_name_are_refused():
    # (sd-bus drops a message whose path is over 64 KiB unread: no answer, but no harm either.)
    with raises_dbus('org.freedesktop.DBus.Error.UnknownObject') as e:
        call('/org/lxcbus1/instance/' + 'a' * 60000, INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)))
    assert '1024' in e.error.message and len(e.error.message) < 200, e.error.message[:300]
    with raises_dbus(ERR + 'LimitsExceeded') as e:
        call(MANAGER_PATH, PROPS_IFACE, 'Get', V('(ss)', (MANAGER_IFACE, 'x' * (8 << 20))))
    assert '262144' in e.error.message and len(e.error.message) < 200, e.error.message[:300]
    check_daemon_alive()


# ---- item 2: bus loss --------------------------------------------------------------------

def shutdown_bus_socket_of(pid):
    """Shut down the daemon's connection to the system bus under it: a dup of its socket taken with
    pidfd_getfd(2), and shutdown(2) on the socket they share."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_pidfd_getfd = 438
    pidfd = os.pidfd_open(pid)
    done = 0
    try:
        for fd in os.listdir('/proc/%d/fd' % pid):
            if not os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:'):
                continue
            dup = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
            assert dup >= 0, 'pidfd_getfd: %s' % os.strerror(ctypes.get_errno())
            s = socket.socket(fileno=dup)
            try:
                if s.family == socket.AF_UNIX and s.getpeername() == '/run/dbus/system_bus_socket':
                    s.shutdown(socket.SHUT_RDWR)
                    done += 1
                    break
            except OSError:
                pass
            finally:
                s.close()
    finally:
        os.close(pidfd)
    assert done == 1, 'found %d bus connections of pid %d' % (done, pid)


def nrestarts():
    rc, out, err = run('systemctl', 'show', '-P', 'NRestarts', 'lxcbusd.service')
    return int(out.strip())


@test
def bus_loss_exits_and_the_restarted_daemon_adopts():
    old = daemon_pid()
    assert old == expected_daemon_pid()
    restarts = nrestarts()
    shutdown_bus_socket_of(old)
    # Exits at once, non-zero: systemd restarts it (Restart=on-failure counts in NRestarts).
    wait_for(lambda: not pid_alive(old), 10, 'lxcbusd to exit after losing the bus')
    wait_for(lambda: daemon_pid() not in (0, old), 30, 'systemd to restart lxcbusd')
    assert nrestarts() == restarts + 1, (restarts, nrestarts())
    wait_for(lambda: bus().call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                     'NameHasOwner', V('(s)', (BUS_NAME,)), None, Gio.DBusCallFlags.NONE,
                                     10000, None).unpack()[0], 30, 'the new lxcbusd on the bus')
    # The running instance was picked up: still running, same init, listed.
    path = instance_path(RUN)
    assert instance_prop(path, 'State') == 'running'
    assert instance_prop(path, 'Pid') == st['run_pid']
    names = [n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')]
    assert RUN in names, names


@on_exit
def cleanup():
    try:
        allow_root_unicast_signals(False)
    except Exception:
        pass
    for n in (RUN, START, CONF):
        cleanup_instance(n)
    remove_users()


if __name__ == '__main__':
    main()
