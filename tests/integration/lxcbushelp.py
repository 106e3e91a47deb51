"""lxcbushelp: every helper of the integration tests, each once, on top of
the lxcbustest framework (the runner, D-Bus calls and properties, waiting,
signals, run(), opts()). Not a test file itself (run.sh only runs
test_*.py). What lives where, in this order:

  instances          names and paths, properties, create/start/stop/delete, Tracker
  the daemon         daemon_pid(), running_daemon_pid(), check_daemon_alive()
  error replies      check_error(), expect_error(), call_many()
  processes          /proc: processes(), pid_alive(), proc_fds(), zombies(); stop_process()
  scopes, cgroups    scope_of(), scope_state(), assert_scope_gone()
  exec               exec_start() (Instance.Exec with fds), root_exec()
  files              file_text(), save_file(), restore_files()
  tarballs           call_with_fds(), export_tarball(), import_tarball(), import_tarball_file(),
                     debian_image(), tar_of(), tar_member(), tree_of(), idmap_base()
  fds and terminals  read_until(), call_fds(), consoles, exec_pty(), Terminal
  users, polkit      add_user(), run_as_user(), rules, allow_user(), pk_check(), Spy, Agent

Vocabulary: a function about an instance takes the instance first, as its
name or its object path (instance_prop(NAME, 'State'), instance_call(path,
'Start')). The daemon is lxcbusd and its pid is its MainPID (daemon_pid());
an instance's init is the instance's Pid property.

Everything here writes only inside the test host: its /etc is an overlay on
tmpfs and /home a tmpfs (tests/testhost/README.md, "Users and polkit
inside")."""

import fcntl
import hashlib
import ipaddress
import inspect
import io
import json
import os
import pwd
import re
import select
import signal
import stat
import statistics
import struct
import subprocess
import tarfile
import termios
import threading
import time
import uuid
import xml.etree.ElementTree as ET

from lxcbustest import (GLib, Gio, V, SLOW, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, INSTANCE_IFACE,
                        OPERATION_IFACE, PROCESS_IFACE, BusError, bus, bus_error_of, call, get_prop, wait_for,
                        run, opts)

__all__ = [
    # instances
    'STATE_DIR', 'INSTANCES_DIR', 'STAGING_DIR', 'BUSYBOX_SOURCE', 'NONE_SOURCE', 'instance_path',
    'unique_name', 'instance_prop', 'instance_call', 'instance_exists', 'create_params', 'create_instance',
    'new_instance', 'create_running_instance', 'start_instance', 'stop_instance', 'set_config',
    'BRIDGE_NET', 'instance_ipv4',
    'cleanup_instance', 'Tracker', 'op_wait', 'operations_of_kind', 'fs_snapshot', 'staging_entries',
    'wait_staging_empty', 'tree',
    # the daemon
    'CTL', 'daemon_pid', 'running_daemon_pid', 'expected_daemon_pid', 'expect_new_daemon',
    'check_daemon_alive', 'daemon_linger_sec', 'restart_daemon', 'kill_and_restart_daemon', 'daemon_workers',
    # error replies
    'check_error', 'expect_error', 'call_many', 'gdbus_error_name',
    # processes, scopes, cgroups
    'processes', 'cmdline', 'proc_stat', 'pid_alive', 'proc_fds', 'zombies', 'assert_no_zombies',
    'stop_process',
    'scope_of', 'scope_state', 'cgroup_dirs_named', 'assert_scope_gone',
    # exec
    'exec_start', 'root_exec',
    # files, an instance's directory and data
    'file_text', 'save_file', 'restore_files', 'tree_under', 'inst_dir', 'rootfs', 'metadata', 'dashed',
    'unit_props',
    'snap_call', 'copy_instance', 'sh',
    # tarballs
    'export_tarball', 'export_error', 'close_fd_list', 'call_with_fds', 'import_from_pipe', 'import_tarball_fd', 'import_tarball',
    'import_tarball_file', 'debian_image', 'tar_of', 'tar_member', 'tree_of', 'idmap_base',
    # fds, consoles, terminals
    'read_until', 'call_fds', 'open_console', 'console_log', 'console_shell', 'exec_pty', 'set_size',
    'Terminal',
    # users, polkit, agents
    'SRC_DIR', 'RULES_DIR', 'DOC_RULES_DIR', 'INTERACTIVE', 'OPEN_METHODS', 'xml_methods',
    'checked_methods', 'add_group', 'add_user', 'uid_of', 'remove_users', 'run_as_user', 'install_rule',
    'install_doc_rule', 'remove_rule', 'remove_all_rules', 'allow_user', 'retry_while_denied',
    'ensure_subids', 'restore_subids', 'pk_check',
    'wait_rule', 'SPY_RULE', 'Spy', 'exec_params', 'NULL_FDS', 'OUT_PIPE', 'variant_text', 'Agent', 'agent',
    'close_agents', 'agent_with_rule', 'private_root_conn', 'stats_ms', 'median_ms',
    # the daemon's resources, its system calls
    'fd_count', 'rss_kib', 'strace_attach', 'strace_detach', 'syscalls_of',
]

STATE_DIR = '/var/lib/lxcbus'
INSTANCES_DIR = STATE_DIR + '/instances'
STAGING_DIR = STATE_DIR + '/staging'
CTL = 'lxcbusctl'
BUSYBOX_SOURCE = {'type': V('s', 'template'), 'template': V('s', 'busybox')}
NONE_SOURCE = {'type': V('s', 'none')}


# ---- instances -----------------------------------------------------------------------------

def instance_path(name):
    """Object path of an instance, escaped as sd_bus_path_encode does."""
    label = ''
    for i, c in enumerate(name):
        if (c.isascii() and c.isalpha()) or (c.isascii() and c.isdigit() and i > 0):
            label += c
        else:
            label += '_%02x' % ord(c)
    return MANAGER_PATH + '/instance/' + (label or '_')


def unique_name(prefix='t'):
    """A fresh instance name: prefix + '-' + 8 hex digits (valid, <= 63 chars)."""
    return '%s-%s' % (prefix[:50], uuid.uuid4().hex[:8])


def _path(instance):
    """The object path of `instance`, given as its name or its path (a name never starts with '/')."""
    return instance if instance.startswith('/') else instance_path(instance)


def instance_prop(instance, prop):
    """Property `prop` of the instance (its name or path)."""
    return get_prop(_path(instance), INSTANCE_IFACE, prop)


def instance_call(instance, method, params=None, timeout=120):
    """Instance.METHOD on the instance (its name or path)."""
    return call(_path(instance), INSTANCE_IFACE, method, params, timeout=timeout)


def instance_exists(name):
    try:
        call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)), timeout=30)
        return True
    except BusError as e:
        if e.dbus_name == 'org.lxcbus1.Error.NoSuchInstance':
            return False
        raise


def create_params(name, source=None, config=None, options=None):
    """The arguments of CreateInstance; source is an a{sv} (default BUSYBOX_SOURCE)."""
    return V('(sa{sv}a{ss}a{sv})',
             (name, BUSYBOX_SOURCE if source is None else source, config or {}, options or {}))


def create_instance(name, template='busybox', config=None, options=None, timeout=300):
    """CreateInstance from a template, or from nothing with template 'none';
    returns (instance_path, operation_path)."""
    src = NONE_SOURCE if template == 'none' else {'type': V('s', 'template'), 'template': V('s', template)}
    return call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(name, src, config, options),
                timeout=timeout)


def new_instance(prefix, source='busybox', config=None, options=None):
    """Create a fresh instance (synchronously) from template `source` (or
    'none'); returns its name."""
    name = '%s-%s' % (prefix, uuid.uuid4().hex[:6])
    create_instance(name, source, config, options)
    return name


def create_running_instance(name, timeout=120):
    """A fresh busybox instance called name (an old one of that name removed first), started."""
    cleanup_instance(name)
    create_instance(name)
    call(instance_path(name), INSTANCE_IFACE, 'Start', V('(a{sv})', ({},)), timeout=timeout)


def cleanup_instance(name, timeout=120):
    """Force-delete instance `name` if it exists; ignore every error. Waits
    (bounded) until it is gone; returns True if it is."""
    try:
        path = call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (name,)), timeout=30)
    except Exception:
        return True
    try:
        call(path, INSTANCE_IFACE, 'Delete', V('(a{sv})', ({'force': V('b', True)},)), timeout=timeout)
    except Exception as e:
        print('# cleanup_instance(%s): Delete failed: %s' % (name, e))
    try:
        wait_for(lambda: not instance_exists(name), 30, 'instance %s gone' % name)
        return True
    except Exception as e:
        print('# cleanup_instance(%s): %s' % (name, e))
        return False


def set_config(name, set_=None, unset=None, options=None):
    return call(instance_path(name), INSTANCE_IFACE, 'SetConfig',
                V('(a{ss}asa{sv})', (set_ or {}, unset or [], options or {})))


class Tracker:
    """Names to force-delete at exit."""

    def __init__(self):
        self.names = []

    def add(self, name):
        if name not in self.names:
            self.names.append(name)
        return name

    def cleanup(self):
        for n in self.names:
            cleanup_instance(n)


def op_wait(op, timeout=120):
    """Wait until an operation finished; return its Status."""
    return wait_for(lambda: (lambda s: s if s != 'running' else None)(
        get_prop(op, OPERATION_IFACE, 'Status')), timeout, 'operation %s finished' % op)


def operations_of_kind(kind):
    """The paths of the operations of `kind` (Operation.Kind: 'exec', 'start'...) the manager lists now."""
    ops = set()
    for o in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'):
        try:
            if get_prop(o, OPERATION_IFACE, 'Kind') == kind:
                ops.add(o)
        except BusError:
            pass    # gone meanwhile
    return ops


def start_instance(name, timeout=60):
    call(instance_path(name), INSTANCE_IFACE, 'Start', opts(), timeout=timeout + 30)
    assert instance_prop(name, 'State') == 'running', instance_prop(name, 'State')


BRIDGE_NET = ipaddress.ip_network('10.0.3.0/24')   # lxc-net's default (/etc/default/lxc-net)


def instance_ipv4(name, timeout=30):
    """eth0's address on the default bridge once GetState shows one (from DHCP: udhcpc in busybox's rcS,
    systemd-networkd in the Debian image)."""
    def find():
        for ifname, family, addr in instance_call(name, 'GetState').get('addresses', []):
            if ifname == 'eth0' and family == 'inet':
                return addr
        return None
    addr = wait_for(find, timeout * SLOW, 'an IPv4 address on eth0 of %s' % name, interval=0.2)
    assert ipaddress.ip_interface(addr).network == BRIDGE_NET, addr
    return str(ipaddress.ip_interface(addr).ip)


def unit_props(unit, *names):
    """`systemctl show -p NAME... UNIT` as a dict."""
    args = ['systemctl', 'show']
    for n in names:
        args += ['-p', n]
    rc, out, err = run(*(args + [unit]))
    assert rc == 0, (rc, out, err)
    return dict(l.split('=', 1) for l in out.splitlines() if '=' in l)


def stop_instance(name, timeout=0):
    """Stop as root, by default with timeout-sec 0: a kill, since busybox's init sleeps 3 s before it
    halts and most tests only need the instance stopped. Tests of the clean stop (test_lifecycle,
    test_smoke, test_debian_systemd, ...) give a timeout or call Stop themselves."""
    call(instance_path(name), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', timeout)), timeout=timeout + 60)
    assert instance_prop(name, 'State') == 'stopped', instance_prop(name, 'State')


def fs_snapshot():
    """What a rejected call must not change: entries and mtimes of the
    instances and staging directories."""
    snap = {}
    for d in (INSTANCES_DIR, STAGING_DIR):
        try:
            st = os.stat(d)
            snap[d] = (st.st_mtime_ns, sorted(os.listdir(d)))
        except FileNotFoundError:
            snap[d] = None
    return snap


def staging_entries():
    """The entries of staging/, sorted."""
    return sorted(os.listdir(STAGING_DIR))


def wait_staging_empty(before=()):
    """Wait until staging/ holds nothing but the entries `before` (a removal runs in a worker)."""
    wait_for(lambda: [e for e in staging_entries() if e not in before] == [], 60,
             'staging cleaned (%s)' % staging_entries())


def tree(top):
    """path -> (type, mode, uid, gid, size, content hash or link target) of every entry below top."""
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            s = os.lstat(p)
            if stat.S_ISLNK(s.st_mode):
                what = os.readlink(p)
            elif stat.S_ISREG(s.st_mode):
                with open(p, 'rb') as f:
                    what = hash(f.read())
            else:
                what = s.st_rdev
            out[os.path.relpath(p, top)] = (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid,
                                            s.st_size if not stat.S_ISDIR(s.st_mode) else 0, what)
    return out


# ---- the daemon: lxcbusd and its MainPID ----------------------------------------------------

def daemon_pid():
    """lxcbusd's MainPID, 0 when it does not run."""
    rc, out, err = run('systemctl', 'show', '-p', 'MainPID', '--value', 'lxcbusd')
    return int(out.strip() or 0)


def running_daemon_pid():
    """lxcbusd's MainPID; fails the test when it does not run."""
    pid = daemon_pid()
    assert pid > 0, 'lxcbusd has no MainPID'
    return pid


# The MainPID that check_daemon_alive() expects: lxcbusd's when the test file
# started, or the one a test that restarted lxcbusd on purpose gave to
# expect_new_daemon().
_expected_daemon = [daemon_pid()]


def expected_daemon_pid():
    return _expected_daemon[0]


def expect_new_daemon(pid=None):
    """A test restarted lxcbusd on purpose: check_daemon_alive() expects
    `pid` (default: the current MainPID) from now on; returns it."""
    _expected_daemon[0] = daemon_pid() if pid is None else pid
    return _expected_daemon[0]


def check_daemon_alive():
    """lxcbusd still runs as the same process and still owns its name."""
    pid, expected = daemon_pid(), expected_daemon_pid()
    assert pid != 0 and pid == expected, \
        'lxcbusd MainPID changed: %d at start, %d now (daemon crashed/restarted?)' % (expected, pid)
    assert os.path.exists('/proc/%d' % pid), 'lxcbusd pid %d is gone' % pid
    owner = bus().call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                            'org.freedesktop.DBus', 'NameHasOwner',
                            V('(s)', (BUS_NAME,)), None, Gio.DBusCallFlags.NONE,
                            10000, None).unpack()[0]
    assert owner, '%s has no owner any more' % BUS_NAME


def _daemon_answers(old):
    pid = daemon_pid()
    return pid not in (0, old) and call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances', timeout=10) is not None


def restart_daemon():
    """systemctl restart lxcbusd, wait until the new one answers on the bus."""
    old = daemon_pid()
    rc, out, err = run('systemctl', 'restart', 'lxcbusd', timeout=60)
    assert rc == 0, (out, err)
    wait_for(lambda: _daemon_answers(old), 30, 'a new lxcbusd')
    expect_new_daemon()


def kill_and_restart_daemon(old=None):
    """kill -9 lxcbusd (or, given `old`, its MainPID that was killed otherwise), start it again
    (reset-failed: many kills in a row would hit the start limit), wait until the new one answers."""
    if old is None:
        old = daemon_pid()
        os.kill(old, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old), 10, 'lxcbusd %d gone' % old)
    run('systemctl', 'reset-failed', 'lxcbusd')
    rc, out, err = run('systemctl', 'start', 'lxcbusd', timeout=60)
    assert rc == 0, (out, err)
    wait_for(lambda: _daemon_answers(old), 30, 'a new lxcbusd')
    expect_new_daemon()


def daemon_workers(pid=None, verb=None):
    """The pids of lxcbusd-worker processes, and lxcbusd-monitor ones (the start workers), (of `verb` if given:
    its argv[1]) that are children of lxcbusd (pid, default its MainPID), found from the daemon's children,
    never by name alone."""
    pid = pid or daemon_pid()
    out = []
    try:
        tasks = os.listdir('/proc/%d/task' % pid)
    except FileNotFoundError:
        return out
    for t in tasks:
        try:
            with open('/proc/%d/task/%s/children' % (pid, t)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for k in kids:
            try:
                argv = cmdline(k)
            except OSError:
                continue
            if argv and os.path.basename(argv[0]) in ('lxcbusd-worker', 'lxcbusd-monitor') and \
                    (verb is None or argv[1:2] == [verb]):
                out.append(k)
    return out


def daemon_linger_sec(pid):
    """The --operation-linger-sec=N that lxcbusd (pid) runs with, or None."""
    argv = cmdline(pid)
    for k, a in enumerate(argv):
        if a.startswith('--operation-linger-sec='):
            return int(a.split('=', 1)[1])
        if a == '--operation-linger-sec' and k + 1 < len(argv):
            return int(argv[k + 1])
    return None


# ---- error replies ---------------------------------------------------------------------------

def check_error(err, instance=None, mentions=()):
    """What every error reply must look like (STYLE.md, Errors): a domain or
    standard D-Bus error name, never Failed/System.Error.*; a message; the
    instance (and other named things) in single quotes."""
    n = err.dbus_name
    assert n.startswith('org.lxcbus1.Error.') or n.startswith('org.freedesktop.DBus.Error.'), \
        'unexpected error name %s (%s)' % (n, err.message)
    assert n != 'org.freedesktop.DBus.Error.Failed', 'generic error %s: %s' % (n, err.message)
    assert 'System.Error.' not in n, 'errno leaked as error name %s: %s' % (n, err.message)
    assert err.message and err.message.strip(), 'empty message for %s' % n
    if instance is not None:
        assert "'%s'" % instance in err.message, \
            'message of %s does not name the instance in single quotes (%r): %r' % (n, instance, err.message)
    for m in mentions:
        assert "'%s'" % m in err.message, \
            'message of %s does not name %r in single quotes: %r' % (n, m, err.message)


def expect_error(names, fn, instance=None, mentions=()):
    """Run fn(); it must fail with one of `names` (a str or a tuple).
    Checks the shape of the error and that the daemon survived; returns the
    BusError."""
    if isinstance(names, str):
        names = (names,)
    try:
        res = fn()
    except BusError as e:
        err = e
    else:
        raise AssertionError('expected D-Bus error %s, call succeeded (%r)' % (' or '.join(names), res))
    assert err.dbus_name in names, 'expected %s, got %s' % (' or '.join(names), err)
    check_error(err, instance, mentions)
    check_daemon_alive()
    return err


def call_many(calls, timeout=120):
    """Send several method calls at once, in order, without waiting for the
    replies in between (they are pipelined on one connection), then wait for
    all. calls: [(path, iface, method, params)]. Returns a list with, for
    each call, the unpacked reply tuple or a BusError."""
    results = [None] * len(calls)
    done = [0]

    def mk(idx):
        def cb(conn, res):
            try:
                results[idx] = conn.call_finish(res).unpack()
            except GLib.Error as e:
                results[idx] = bus_error_of(e)
            done[0] += 1
        return cb
    for idx, (path, iface, method, params) in enumerate(calls):
        bus().call(BUS_NAME, path, iface, method, params, None, Gio.DBusCallFlags.NONE,
                   int(timeout * 1000), None, mk(idx))
    wait_for(lambda: done[0] == len(calls), timeout, 'replies to %d calls' % len(calls))
    return results


def gdbus_error_name(stderr):
    """'Error: GDBus.Error:NAME: message' -> (NAME, message)."""
    m = re.search(r'GDBus\.Error:([A-Za-z0-9_.]+): (.*)', stderr, re.S)
    if not m:
        return None, stderr
    return m.group(1), m.group(2).strip()


# ---- processes -------------------------------------------------------------------------------

def processes():
    """Every process in the test host, as (pid, comm, state, ppid) from
    /proc/PID/stat (those that end while being read are left out)."""
    found = []
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % p) as f:
                st = f.read()
        except OSError:
            continue
        comm, rest = st[st.index('(') + 1:st.rindex(')')], st[st.rindex(')') + 2:].split()
        found.append((int(p), comm, rest[0], int(rest[1])))
    return found


def cmdline(pid):
    """The argv of process pid, as strings."""
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        return [x.decode() for x in f.read().split(b'\0') if x]


def zombies():
    """Zombie processes anywhere in the test host, as "pid (comm)"."""
    return ['%d (%s)' % (pid, comm) for pid, comm, state, ppid in processes() if state == 'Z']


def assert_no_zombies(timeout=10):
    """No zombie process anywhere, waiting up to timeout seconds for a parent to reap (on a loaded
    machine a reap may take seconds; a leaked zombie stays); names them as they were seen."""
    seen = []
    try:
        wait_for(lambda: not seen.append(zombies()) and not seen[-1], timeout * SLOW, 'no zombies')
    except TimeoutError:
        pass
    assert not seen[-1], 'zombies: %s' % seen[-1]


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name (state is [0], ppid
    [1]), or None if the process is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def pid_alive(pid):
    """True while `pid` exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] != 'Z'


def proc_fds(pid):
    """The open fds of process `pid`: {fd: what /proc/PID/fd/FD links to}."""
    res = {}
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            res[int(fd)] = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            pass
    return res


def stop_process(p, timeout=10):
    """Stop a child of ours (a subprocess.Popen, or None) if it still runs: SIGTERM, then SIGKILL after
    timeout seconds, and reap it."""
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---- scopes and cgroups ----------------------------------------------------------------------

def scope_of(name):
    return 'lxcbus-%s.scope' % name


def scope_state(unit):
    """(LoadState, ActiveState) of a systemd unit, via systemctl show."""
    rc, out, err = run('systemctl', 'show', '-p', 'LoadState', '-p', 'ActiveState', unit)
    d = dict(l.split('=', 1) for l in out.splitlines() if '=' in l)
    return d.get('LoadState', ''), d.get('ActiveState', '')


def cgroup_dirs_named(dirname):
    """Every directory called `dirname` anywhere under /sys/fs/cgroup."""
    found = []
    for root, dirs, files in os.walk('/sys/fs/cgroup'):
        for d in dirs:
            if d == dirname:
                found.append(os.path.join(root, d))
        dirs[:] = [d for d in dirs if d != dirname]
    return found


def assert_scope_gone(name, timeout=5):
    """The scope unit is not active any more and no cgroup directory of it is
    left in any hierarchy (bounded wait: systemd and the daemon clean up
    asynchronously, but promptly)."""
    unit = scope_of(name)
    last = {}

    def gone():
        last['unit'] = scope_state(unit)
        last['dirs'] = cgroup_dirs_named(unit)
        return (last['unit'][0] == 'not-found' or last['unit'][1] in ('inactive', 'failed')) \
            and not last['dirs']
    try:
        wait_for(gone, timeout, '%s gone' % unit)
    except TimeoutError:
        rc, out, err = run('systemctl', 'status', '--no-pager', '-l', unit)
        raise AssertionError('%s not gone: (LoadState, ActiveState) = %s, cgroup dirs left: %s\n%s'
                             % (unit, last.get('unit'), last.get('dirs'), out)) from None


# ---- exec ------------------------------------------------------------------------------------

def exec_start(instance, argv, stdin=None, stdout=None, stderr=None, env=None, options=None, conn=None,
               timeout=60):
    """Instance.Exec of argv in the instance (its name or path), on `conn`
    or the shared connection; returns the process path at once. stdin,
    stdout, stderr are fds (None: /dev/null, read-only for stdin, write-only
    for the others), duplicated into the message: the caller keeps its own."""
    nulls, use = [], []
    for k, fd in enumerate((stdin, stdout, stderr)):
        if fd is None:
            fd = os.open('/dev/null', (os.O_RDONLY if k == 0 else os.O_WRONLY) | os.O_CLOEXEC)
            nulls.append(fd)
        use.append(fd)
    fdl = Gio.UnixFDList()
    try:
        idx = [fdl.append(fd) for fd in use]
        params = V('(asa{ss}hhha{sv})', (argv, env or {}, idx[0], idx[1], idx[2], options or {}))
        if conn is None:
            return call(_path(instance), INSTANCE_IFACE, 'Exec', params, fd_list=fdl, timeout=timeout)
        try:
            res, _ = conn.call_with_unix_fd_list_sync(BUS_NAME, _path(instance), INSTANCE_IFACE, 'Exec', params,
                                                      None, Gio.DBusCallFlags.NONE, int(timeout * 1000), fdl,
                                                      None)
        except GLib.Error as e:
            raise bus_error_of(e, 'Exec') from None
        return res.unpack()[0]
    finally:
        # Close the duplicates now (not at garbage collection), or a reader
        # of the pipes would never see EOF.
        for fd in fdl.steal_fds():
            os.close(fd)
        for fd in nulls:
            os.close(fd)


def root_exec(name, argv, timeout=30):
    """Exec argv in instance `name` as root with stdout on a pipe; returns
    (status, signal, stdout text)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        proc = exec_start(name, argv, stdout=w, timeout=timeout)
    finally:
        os.close(w)
    try:
        out = read_until(r, None, timeout)
    finally:
        os.close(r)
    status, sig = call(proc, PROCESS_IFACE, 'Wait', timeout=timeout)
    return status, sig, out.decode('latin1')


# ---- an instance's directory, and calls on its data --------------------------------------------

def inst_dir(name):
    return os.path.join(INSTANCES_DIR, name)


def rootfs(name):
    return os.path.join(inst_dir(name), 'rootfs')


def metadata(name):
    """lxcbus.json of instance `name`, parsed."""
    with open(os.path.join(inst_dir(name), 'lxcbus.json')) as f:
        return json.load(f)


def dashed(kw):
    """Keyword arguments as D-Bus option names: allow_running -> 'allow-running', async_ -> 'async'."""
    return {k.rstrip('_').replace('_', '-'): v for k, v in kw.items()}


def snap_call(name, method, snap, timeout=300, **kw):
    """Snapshot, RestoreSnapshot or DeleteSnapshot of `snap`, options as keywords."""
    return instance_call(name, method, V('(sa{sv})', (snap, dashed(kw))), timeout=timeout)


def copy_instance(tracker, src, new, timeout=300, **kw):
    """Copy of `src` to `new` (added to `tracker` first), options as keywords."""
    tracker.add(new)
    return instance_call(src, 'Copy', V('(sa{sv})', (new, dashed(kw))), timeout=timeout)


def sh(name, script):
    """`sh -c script` as root in instance `name`, which must succeed; its output."""
    status, sig, out = root_exec(name, ['sh', '-c', script])
    assert (status, sig) == (0, 0), (status, sig, out)
    return out


# ---- trees of files ----------------------------------------------------------------------------

def tree_under(top):
    """tree_of(top) as a dict: path -> (type and mode, uid, gid, sha256, link target or device number)."""
    return {e[0]: e[1:] for e in tree_of(top)}


# ---- files of the test host changed for a test ------------------------------------------------

def file_text(path):
    """The text of file `path`, or None when there is none."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def save_file(saved, path):
    """Remember the text of `path` in the dict `saved`, the first time only
    (for restore_files); returns the remembered text."""
    if path not in saved:
        saved[path] = file_text(path)
    return saved[path]


def restore_files(saved):
    """Put back the files remembered in `saved` (remove those that were not
    there) and forget them."""
    for path, text in saved.items():
        if text is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            with open(path, 'w') as f:
                f.write(text)
    saved.clear()


# ---- tarballs: Export, ImportInstance, trees compared -------------------------------------------

def close_fd_list(fdl):
    """Closes the copies of the fds a call was given. Dropping fdl is not enough: a failed call's
    traceback still holds it, and with it a pipe's end open."""
    for fd in fdl.steal_fds():
        os.close(fd)


def call_with_fds(path, iface, method, params, fds, timeout=120):
    """A call passing fds (handles 0, 1... in their order); the copies its fd list holds are closed after,
    the fds stay the caller's."""
    fdl = Gio.UnixFDList.new()
    for fd in fds:
        fdl.append(fd)
    try:
        return call(path, iface, method, params, timeout=timeout, fd_list=fdl)
    finally:
        close_fd_list(fdl)


def export_tarball(name, options=None, close_reader=False):
    """Instance.Export into a pipe read by a thread; returns the tarball. close_reader: the reader is
    closed at once (the export fails)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    chunks = []
    if close_reader:
        os.close(r)

    def reader():
        while True:
            b = os.read(r, 1 << 16)
            if not b:
                break
            chunks.append(b)

    t = threading.Thread(target=reader, daemon=True)
    if not close_reader:
        t.start()
    try:
        # (its copy of the write end closed: else the reader waits for an EOF that never comes)
        call_with_fds(instance_path(name), INSTANCE_IFACE, 'Export', V('(ha{sv})', (0, options or {})), [w],
                      timeout=300)
    finally:
        os.close(w)
        if not close_reader:
            t.join(60)
            os.close(r)
    return b''.join(chunks)


def export_error(name, names, options=None, instance=None):
    """Instance.Export of instance `name` into a pipe, with options, refused with one of `names`
    (expect_error(), which checks that the message names `instance` if given); returns the error."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        return expect_error(names, lambda: call_with_fds(instance_path(name), INSTANCE_IFACE, 'Export',
                                                         V('(ha{sv})', (0, options or {})), [w]), instance)
    finally:
        os.close(r)
        os.close(w)


def import_from_pipe(name):
    """An async ImportInstance reading from a pipe; returns (instance path, operation path, the pipe's
    write end, which the caller writes and closes)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        path, op = call_with_fds(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance',
                                 V('(sha{ss}a{sv})', (name, 0, {}, {'async': V('b', True)})), [r])
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    return path, op, w


def import_tarball_fd(name, fd, config=None, options=None, timeout=300):
    """ImportInstance from fd; returns (instance path, operation path)."""
    return call_with_fds(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance',
                         V('(sha{ss}a{sv})', (name, 0, config or {}, options or {})), [fd], timeout=timeout)


def import_tarball_file(name, path, config=None, options=None, timeout=300):
    """ImportInstance of the tarball file at path; returns (instance path, operation path)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return import_tarball_fd(name, fd, config, options, timeout)
    finally:
        os.close(fd)


def debian_image(variant):
    """The Debian 12 rootfs tarball tests/debian/rootfs.sh builds and caches where debootstrap and a mirror
    exist, variant 'minbase' or 'systemd'; None, said in a SKIP line, if it is not there."""
    path = os.path.join(SRC_DIR, 'tests', 'debian', 'cache', 'debian-12-%s.tar' % variant)
    if os.path.exists(path):
        return path
    print('# SKIP: no %s (tests/debian/rootfs.sh%s builds it where debootstrap and a mirror exist)'
          % (path, '' if variant == 'minbase' else ' OUT ' + variant))
    return None


def import_tarball(name, data, config=None, options=None, delay=0.0):
    """ImportInstance of data fed through a pipe by a thread (slowly with delay seconds between 64 KiB
    chunks)."""
    r, w = os.pipe2(os.O_CLOEXEC)

    def writer():
        try:
            for k in range(0, len(data), 1 << 16):
                os.write(w, data[k:k + (1 << 16)])
                if delay:
                    time.sleep(delay)
        except OSError:
            pass
        finally:
            os.close(w)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        return import_tarball_fd(name, r, config, options)
    finally:
        os.close(r)
        # A writer the worker stopped reading early gets EPIPE once every read end is closed; one of the
        # hostile cases (unexplained: the daemon holds no copy then) stays blocked, and is left behind.
        t.join(10)


def tar_of(members):
    """A tarball built by Python's tarfile: members is a list of (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def tar_member(name, kind=tarfile.REGTYPE, link='', mode=0o644, uid=0, gid=0):
    """A TarInfo for tar_of()."""
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    return ti


def idmap_base(name):
    """The first host uid of instance name's idmap block, 0 for a privileged instance."""
    with open(os.path.join(INSTANCES_DIR, name, 'lxcbus.json')) as f:
        im = json.load(f).get('idmap')
    return im['uid'] if im else 0


def tree_of(top, base=0):
    """Every entry below top, sorted: (path, type and mode, uid, gid, sha256 or link target), owners
    minus base (as an idmapped instance whose block starts at base sees them)."""
    out = []
    for d, dirs, files in os.walk(top):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            s = os.lstat(p)
            if stat.S_ISREG(s.st_mode):
                with open(p, 'rb') as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(s.st_mode):
                what = os.readlink(p)
            elif stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
                what = 'dev %d' % s.st_rdev
            else:
                what = ''
            out.append((os.path.relpath(p, top), oct(s.st_mode), s.st_uid - base, s.st_gid - base, what))
    return sorted(out)


# ---- fds that calls answer with: consoles, the console log, terminals --------------------------

def read_until(fd, needle=None, timeout=10):
    """Read fd until `needle` (bytes) has come; returns all that was read.
    Without a needle: up to the end (EOF, or EIO from a pty whose other side
    has closed) or `timeout`. A needle that has not come by then fails.

    Needs only os, select and time: the polkit Agent runs its source."""
    out, end = b'', time.monotonic() + timeout
    while needle is None or needle not in out:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:     # EIO: the other side of the pty has closed
            break
        if not chunk:
            break
        out += chunk
    assert needle is None or needle in out, 'no %r within %ss, got %r' % (needle, timeout, out)
    return out


def call_fds(name, method, params, conn=None, timeout=30):
    """Instance.METHOD of instance `name`, whose reply starts with a handle
    (OpenConsole, ConsoleLog, ExecPty), on `conn` or the shared connection:
    (fd, the rest of the reply...); the fd is the caller's to close."""
    try:
        res, fdl = (conn or bus()).call_with_unix_fd_list_sync(
            BUS_NAME, instance_path(name), INSTANCE_IFACE, method, params, None, Gio.DBusCallFlags.NONE,
            int(timeout * 1000), None, None)
    except GLib.Error as e:
        raise bus_error_of(e, method) from None
    reply = res.unpack()
    fds = fdl.steal_fds() if fdl is not None else []
    for k, fd in enumerate(fds):
        if k != reply[0]:
            os.close(fd)
    return (fds[reply[0]],) + tuple(reply[1:])


def console_shell(fd, line, needle):
    """On the console master `fd` of a busybox instance: Enter (askfirst),
    the shell's prompt, then `line` typed and `needle` awaited; returns what
    came after the prompt."""
    os.write(fd, b'\n')
    read_until(fd, b'# ')
    os.write(fd, line)
    return read_until(fd, needle)


def open_console(name, tty=-1, conn=None):
    """OpenConsole: the master of the console (-1) or of terminal `tty`."""
    return call_fds(name, 'OpenConsole', V('(i)', (tty,)), conn)[0]


def console_log(name, **opts):
    """ConsoleLog(opts): all of the log."""
    fd = call_fds(name, 'ConsoleLog', V('(a{sv})', (dict(opts),)))[0]
    try:
        return read_until(fd)
    finally:
        os.close(fd)


def exec_pty(name, argv, **opts):
    """ExecPty(argv, no environment, opts): (master fd, process path)."""
    return call_fds(name, 'ExecPty', V('(asa{ss}a{sv})', (argv, {}, dict(opts))))


# ---- a process on a terminal (the lxcbusctl tests) ---------------------------------------------

def set_size(fd, rows, cols):
    """The window size of a terminal (TIOCSWINSZ on either side of a pty)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))


class Terminal:
    """CMD on a new pty of rows x cols. stdin and stdout are the slave;
    stderr too, unless stderr_pipe. With `user`, CMD runs as that user
    through setpriv (which execs, so that the pid we hold is CMD's) and the
    slave belongs to the user, as after a login. The slave stays open here
    too, so that its modes can be read after the process exits.

    .out is what came on the terminal, .err what came on the stderr pipe."""

    def __init__(self, cmd, user=None, rows=24, cols=80, stderr_pipe=False, term='xterm'):
        env = dict(os.environ, TERM=term, LANG='C.UTF-8')
        self.master, self.slave = os.openpty()
        if user is not None:
            pw = pwd.getpwnam(user)
            os.chown(os.ttyname(self.slave), pw.pw_uid, -1)
            cmd = ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--init-groups', '--'] \
                + list(cmd)
            env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
        set_size(self.master, rows, cols)
        self.termios_before = termios.tcgetattr(self.slave)
        self.out = b''
        self.mark = 0
        self.err = b''
        self.proc = subprocess.Popen(
            list(cmd), stdin=self.slave, stdout=self.slave,
            stderr=subprocess.PIPE if stderr_pipe else self.slave,
            start_new_session=True,    # setsid() comes before preexec_fn
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            env=env)
        if self.proc.stderr:
            os.set_blocking(self.proc.stderr.fileno(), False)

    def _pump(self, left):
        fds = [self.master] + ([self.proc.stderr.fileno()] if self.proc.stderr else [])
        r, _, _ = select.select(fds, [], [], max(0, min(left, 0.5)))
        for fd in r:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                continue
            if fd == self.master:
                self.out += chunk
            else:
                self.err += chunk

    def _drain_stderr(self):
        """Read the stderr pipe up to its end (or up to what is there, while
        something else still holds it open)."""
        while self.proc.stderr:
            try:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            self.err += chunk

    def _finished(self):
        """The process has exited and all it wrote has been read."""
        if self.proc.poll() is None or select.select([self.master], [], [], 0)[0]:
            return False
        self._drain_stderr()
        return True

    def expect(self, pattern, timeout=30, stream='out'):
        """Wait for regex `pattern` (bytes) on the terminal after the last
        match there, or (stream='err') anywhere on the stderr pipe; returns
        the match. Fails at the timeout, or at once when the process has
        exited without it."""
        deadline = time.monotonic() + timeout * SLOW
        done = False
        while True:
            if stream == 'out':
                m = re.compile(pattern).search(self.out, self.mark)
            else:
                m = re.compile(pattern).search(self.err)
            if m:
                if stream == 'out':
                    self.mark = m.end()
                return m
            if done:
                raise AssertionError('no %r on %s within %ds (exit status %s); got %r, stderr %r' % (
                    pattern, stream, timeout, self.proc.poll(), self.out[self.mark:][-2000:], self.err))
            left = deadline - time.monotonic()
            done = left <= 0 or self._finished()
            if not done:
                self._pump(left)

    def send(self, data):
        os.write(self.master, data)

    def wait_echo_off(self):
        """Until echo is off, as a password prompt has it."""
        wait_for(lambda: not termios.tcgetattr(self.slave)[3] & termios.ECHO, 10,
                 'echo off for the password')

    def wait_modes_restored(self):
        """Until the terminal modes are as before the process started."""
        wait_for(lambda: termios.tcgetattr(self.slave) == self.termios_before, 10, 'terminal modes restored')

    def type_password(self, password):
        """Type password once the agent has switched echo off: it does so
        with TCSAFLUSH, which throws away what was typed before."""
        self.wait_echo_off()
        self.send(password.encode() + b'\n')

    def wait(self, timeout=60):
        """The exit status (draining the output meanwhile)."""
        deadline = time.monotonic() + timeout * SLOW
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            assert left > 0, '%s did not exit within %ds; output %r, stderr %r' % (
                self.proc.args, timeout, self.out[-2000:], self.err)
            self._pump(min(left, 0.1))
        self._pump(0)
        self._drain_stderr()
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()      # by pid: the one we started
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- polkit: the contract, users and groups, rules -------------------------------------------

SRC_DIR = os.environ.get('LXCBUS_SRC_DIR') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
RULES_DIR = '/etc/polkit-1/rules.d'
DOC_RULES_DIR = os.path.join(SRC_DIR, 'docs', 'polkit-rules')
INTERACTIVE = int(Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION)

# The calls that need no authorization (polkit-spec.md): everything else in
# the XML must have a polkit test.
OPEN_METHODS = {
    'org.lxcbus1.Manager.ListInstances', 'org.lxcbus1.Manager.GetInstance',
    'org.lxcbus1.Manager.ListOperations', 'org.lxcbus1.Instance.GetState',
    'org.lxcbus1.Operation.Wait', 'org.lxcbus1.Process.Wait', 'org.lxcbus1.Manager.GetMetrics',
}


def xml_methods():
    """Every method of every interface in dbus-interfaces/*.xml, as
    'interface.Member'."""
    d = os.path.join(SRC_DIR, 'dbus-interfaces')
    found = set()
    files = sorted(f for f in os.listdir(d) if f.endswith('.xml'))
    assert files, 'no XML files in %s' % d
    for f in files:
        root = ET.parse(os.path.join(d, f)).getroot()
        for iface in root.iter('interface'):
            for m in iface.iter('method'):
                found.add('%s.%s' % (iface.get('name'), m.get('name')))
    return found


def checked_methods():
    return xml_methods() - OPEN_METHODS
_made_users = []
_made_groups = []
_rules = set()


def add_group(group):
    rc, out, err = run('getent', 'group', group)
    if rc != 0:
        rc, out, err = run('groupadd', group)
        assert rc == 0, 'groupadd %s: %s' % (group, err)
        _made_groups.append(group)


def add_user(user, groups=()):
    """Create `user` (inside the test host) in `groups`; returns the uid."""
    for g in groups:
        add_group(g)
    rc, out, err = run('id', '-u', user)
    if rc != 0:
        cmd = ['useradd', '-m', user]
        if groups:
            cmd[2:2] = ['-G', ','.join(groups)]
        rc, out, err = run(*cmd)
        assert rc == 0, 'useradd %s: %s' % (user, err)
        _made_users.append(user)
    elif groups:
        rc, out, err = run('usermod', '-a', '-G', ','.join(groups), user)
        assert rc == 0, 'usermod %s: %s' % (user, err)
    return uid_of(user)


def uid_of(user):
    rc, out, err = run('id', '-u', user)
    assert rc == 0, 'no user %s: %s' % (user, err)
    return int(out.strip())


def remove_users():
    for u in reversed(_made_users):
        run('userdel', '-r', u)
    for g in reversed(_made_groups):
        run('groupdel', g)
    del _made_users[:], _made_groups[:]


def install_rule(filename, text):
    """Write a JS rule into /etc/polkit-1/rules.d (atomically: polkitd
    re-reads the directory on every change and must never see half a file)."""
    assert '/' not in filename and filename.endswith('.rules'), filename
    path = os.path.join(RULES_DIR, filename)
    tmp = os.path.join(RULES_DIR, '.%s.tmp' % filename)
    with open(tmp, 'w') as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    _rules.add(filename)
    return path


def install_doc_rule(filename):
    """Install docs/polkit-rules/FILENAME verbatim; returns its text."""
    with open(os.path.join(DOC_RULES_DIR, filename)) as f:
        text = f.read()
    install_rule(filename, text)
    return text


def remove_rule(filename):
    try:
        os.unlink(os.path.join(RULES_DIR, filename))
    except FileNotFoundError:
        pass
    _rules.discard(filename)


def remove_all_rules():
    for f in list(_rules):
        remove_rule(f)


def allow_user(filename, user):
    """install_rule() of a rule that lets `user` do every org.lxcbus1 action without asking."""
    return install_rule(filename, 'polkit.addRule(function(action, subject) {\n'
                        '    if (action.id.indexOf("org.lxcbus1.") == 0 && subject.user == "%s")\n'
                        '        return polkit.Result.YES;\n'
                        '});\n' % user)


def retry_while_denied(fn, denied, timeout=10):
    """fn() again every 0.5 s while denied(its result), for up to timeout seconds: polkitd reads a rule
    file some time after it changed. Returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        res = fn()
        if not denied(res) or time.monotonic() > deadline:
            return res
        time.sleep(0.5)


_subid_orig = {}


def ensure_subids():
    """Non-root callers get idmapped instances whose ids come from the
    ranges of `lxcbus` in /etc/subuid and /etc/subgid: make sure there is one
    (inside the test host); restore_subids() undoes it."""
    for f in ('/etc/subuid', '/etc/subgid'):
        text = file_text(f)
        if not any(l.split(':')[0] == 'lxcbus' for l in (text or '').splitlines()):
            save_file(_subid_orig, f)
            with open(f, 'a') as fh:
                if text and not text.endswith('\n'):
                    fh.write('\n')
                fh.write('lxcbus:1000000:6553600\n')


def restore_subids():
    restore_files(_subid_orig)


def run_as_user(user, *cmd, timeout=60):
    """Run cmd as `user` (setpriv execs, so that the pid is cmd's: tests/testhost/README.md, "Users
    and polkit inside")."""
    return run('setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups',
               '--', *cmd, timeout=timeout, env={'HOME': '/home/' + user, 'USER': user})


# ---- polkit itself ------------------------------------------------------------------

PK_NAME = 'org.freedesktop.PolicyKit1'
PK_PATH = '/org/freedesktop/PolicyKit1/Authority'
PK_IFACE = 'org.freedesktop.PolicyKit1.Authority'


def pk_check(bus_name, action, details=None, timeout=10):
    """CheckAuthorization for the subject system-bus-name `bus_name` (as the
    daemon asks it), no interaction; returns (is_authorized, is_challenge).
    The probe carries the detail probe=1 so that the spy can tell it from
    the daemon's checks."""
    d = dict(details or {})
    d['probe'] = '1'
    res = bus().call_sync(PK_NAME, PK_PATH, PK_IFACE, 'CheckAuthorization',
                          V('((sa{sv})sa{ss}us)', (('system-bus-name', {'name': V('s', bus_name)}),
                                                   action, d, 0, '')),
                          None, Gio.DBusCallFlags.NONE, int(timeout * 1000), None).unpack()
    return res[0][0], res[0][1]


def wait_rule(bus_name, action, details, allowed, timeout=15):
    """Wait until polkitd has (re)loaded rules so that `action` with
    `details` is allowed (or not) for the subject `bus_name`."""
    wait_for(lambda: pk_check(bus_name, action, details)[0] == allowed, timeout,
             'polkit to %s %s %s for %s' % ('allow' if allowed else 'deny', action, details, bus_name),
             interval=0.1)


# A rule that decides nothing and records every lxcbus check with all its
# details (polkit keeps them as action._detail_KEY) in the journal, tagged
# lxcbus-spy. polkit.log() output is dropped by polkitd --no-debug, so it
# runs logger(1).
SPY_RULE = r'''// test only: record the details of every org.lxcbus1 check; decides nothing
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") != 0)
        return polkit.Result.NOT_HANDLED;
    var d = { action: action.id, user: subject.user, pid: subject.pid, details: {} };
    for (var p in action)
        if (p.indexOf("_detail_") == 0)
            d.details[p.substr(8)] = action[p];
    try {
        polkit.spawn(["/usr/bin/logger", "-t", "lxcbus-spy", "--", JSON.stringify(d)]);
    } catch (e) {
    }
    return polkit.Result.NOT_HANDLED;
});
'''


class Spy:
    """Reads what SPY_RULE recorded since mark()."""

    def __init__(self):
        self.cursor = None

    def mark(self):
        rc, out, err = run('journalctl', '-n', '0', '--show-cursor', '--no-pager')
        m = re.search(r'-- cursor: (\S+)', out + err)
        assert m, 'no journal cursor: %r %r' % (out, err)
        self.cursor = m.group(1)

    def records(self):
        # No journal match (-t) here: with a match, journalctl --after-cursor
        # skips the first matching entry when the cursor's own entry does not
        # match (systemd 252).
        rc, out, err = run('journalctl', '--no-pager', '-o', 'json', '--after-cursor', self.cursor)
        recs = []
        for line in out.splitlines():
            try:
                e = json.loads(line)
                if e.get('SYSLOG_IDENTIFIER') != 'lxcbus-spy':
                    continue
                r = json.loads(e['MESSAGE'])
            except (ValueError, KeyError, TypeError):
                continue
            if r.get('details', {}).get('probe') != '1':
                recs.append(r)
        return recs

    def wait(self, pred, what, timeout=10):
        """Wait for a record matching pred; return it."""
        last = [[]]

        def find():
            last[0] = self.records()
            return next((r for r in last[0] if pred(r)), None)
        try:
            return wait_for(find, timeout, what, interval=0.1)
        except TimeoutError:
            raise AssertionError('no spy record for %s; recorded: %s' % (what, last[0])) from None


# ---- a client running as a user ----------------------------------------------------

# Runs as the user (python3 -c), one JSON request per line on stdin, one
# JSON answer per line on stdout. It owns one bus connection for its whole
# life (so one unique name, the polkit subject), and can open short-lived
# private ones (race). It reads fds with read_until, whose source
# it gets.
AGENT = r'''
import json, os, re, select, sys, time
import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib
''' + inspect.getsource(read_until) + r'''

bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
ADDR = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
FLAGS = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
held = []

def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)

def params_of(req, n=0):
    if not req.get('sig'):
        return None
    text = req['args'].replace('@N@', str(n))
    return GLib.Variant.parse(GLib.VariantType.new(req['sig']), text, None, None)

def in_fds(req):
    fds, pipes = [], {}
    for k, s in enumerate(req.get('in_fds') or []):
        if s == 'null-r':
            fd = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)
        elif s == 'null-w':
            fd = os.open('/dev/null', os.O_WRONLY | os.O_CLOEXEC)
        elif s == 'pipe':
            r, fd = os.pipe2(os.O_CLOEXEC)
            pipes[k] = r
        elif s == 'tar-r':      # a readable pipe holding a small rootfs tarball, written in full
            import io, tarfile
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode='w') as tf:
                ti = tarfile.TarInfo('etc/hostname')
                ti.size = 3
                tf.addfile(ti, io.BytesIO(b'pk\n'))
            fd, w = os.pipe2(os.O_CLOEXEC)
            os.write(w, buf.getvalue())
            os.close(w)
        else:
            raise ValueError(s)
        fds.append(fd)
    if not fds:
        return None, pipes
    fdl = Gio.UnixFDList()
    for fd in fds:
        fdl.append(fd)
        os.close(fd)
    return fdl, pipes

def error_of(e):
    name = Gio.DBusError.get_remote_error(e) or ('GLib.Error.%s.%d' % (e.domain, e.code))
    return name, re.sub(r'^GDBus\.Error:[^ ]+: ', '', e.message)

def do_call(req, conn=None, n=0):
    conn = conn or bus
    fdl, pipes = in_fds(req)
    t0 = time.monotonic()
    try:
        res, outfdl = conn.call_with_unix_fd_list_sync(
            req.get('dest', 'org.lxcbus1'), req['path'], req['iface'], req['method'], params_of(req, n),
            None, Gio.DBusCallFlags(req.get('flags', 0)), int(req.get('timeout', 60) * 1000), fdl, None)
    except GLib.Error as e:
        el = time.monotonic() - t0
        name, msg = error_of(e)
        out = {'ok': False, 'error': name, 'message': msg, 'elapsed': el}
        res = outfdl = None
    else:
        out = {'ok': True, 'elapsed': time.monotonic() - t0, 'reply': res.print_(True),
               'value': jsonable(res.unpack())}
    if fdl is not None:
        for fd in fdl.steal_fds():
            os.close(fd)
    got = outfdl.steal_fds() if outfdl is not None else []
    out['nfds'] = len(got)
    if got:
        fd = got[0]
        out['isatty'] = os.isatty(fd)
        data = b''
        for step in req.get('fd_script') or []:
            if step[0] == 'write':
                os.write(fd, step[1].encode())
            elif step[0] == 'read_until':
                data += read_until(fd, step[1].encode(), step[2])
            elif step[0] == 'read_all':
                data += read_until(fd, None, step[1])
        out['fd_data'] = data.decode('latin1')
        if req.get('keep_fd'):
            held.extend(got)
        else:
            for f in got:
                os.close(f)
    for k, r in pipes.items():
        out['pipe%d' % k] = read_until(r, None, req.get('pipe_timeout', 30)).decode('latin1')
        os.close(r)
    return out

def race(req, n, delay, gap):
    """n times: a fresh connection sends the call, waits `delay` s, leaves;
    then `gap` s before the next one."""
    sent = 0
    for k in range(n):
        c = Gio.DBusConnection.new_for_address_sync(ADDR, FLAGS, None, None)
        msg = Gio.DBusMessage.new_method_call(req.get('dest', 'org.lxcbus1'), req['path'], req['iface'],
                                              req['method'])
        p = params_of(req, k)
        if p is not None:
            msg.set_body(p)
        fdl, pipes = in_fds(req)
        if fdl is not None:
            msg.set_unix_fd_list(fdl)
        c.send_message(msg, Gio.DBusSendMessageFlags.NONE)
        c.flush_sync(None)
        if delay:
            time.sleep(delay)
        c.close_sync(None)
        if fdl is not None:
            for fd in fdl.steal_fds():
                os.close(fd)
        for r in pipes.values():
            os.close(r)
        sent += 1
        if gap:
            time.sleep(gap)
    return sent

def burst(req, n):
    """n calls at once on this connection; the error name (or 'ok') of each."""
    results, messages = [None] * n, {}

    def mk(k):
        def cb(conn, res):
            try:
                conn.call_finish(res)
                results[k] = 'ok'
            except GLib.Error as e:
                results[k], messages[results[k]] = error_of(e)
        return cb
    for k in range(n):
        bus.call(req.get('dest', 'org.lxcbus1'), req['path'], req['iface'], req['method'], params_of(req, k),
                 None, Gio.DBusCallFlags.NONE, int(req.get('timeout', 60) * 1000), None, mk(k))
    ctx = GLib.MainContext.default()
    while None in results:
        ctx.iteration(True)     # every call has a timeout: this ends
    return results, messages

print(json.dumps({'ready': True, 'name': bus.get_unique_name(), 'pid': os.getpid(), 'uid': os.getuid()}),
      flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        op = req.get('op')
        if op == 'call':
            out = do_call(req)
        elif op == 'bench':
            times, errors = [], []
            for k in range(req['n']):
                r = do_call(req['call'], n=k)
                if r['ok']:
                    times.append(r['elapsed'])
                else:
                    errors.append(r['error'] + ': ' + r['message'])
            out = {'ok': True, 'times': times, 'errors': errors[:5], 'nerrors': len(errors)}
        elif op == 'race':
            out = {'ok': True, 'sent': race(req['call'], req['n'], req.get('delay', 0), req.get('gap', 0))}
        elif op == 'burst':
            results, messages = burst(req['call'], req['n'])
            out = {'ok': True, 'results': results, 'messages': messages}
        elif op == 'close_held':
            for f in held:
                os.close(f)
            del held[:]
            out = {'ok': True}
        else:
            out = {'ok': False, 'error': 'agent', 'message': 'unknown op %r' % op}
    except Exception as e:
        out = {'ok': False, 'error': 'agent-exception', 'message': '%s: %s' % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
'''


def exec_params(argv, env=None, **options):
    """The arguments of Exec(argv, env, options as in opts()) for an Agent:
    stdin, stdout, stderr are handles 0, 1, 2 of the fd list the agent sends
    (in_fds=NULL_FDS or OUT_PIPE)."""
    o = {k.rstrip('_').replace('_', '-'): v for k, v in options.items()}
    return V('(asa{ss}hhha{sv})', (argv, env or {}, 0, 1, 2, o))


NULL_FDS = ['null-r', 'null-w', 'null-w']
OUT_PIPE = ['null-r', 'pipe', 'null-w']


def variant_text(params):
    """(signature, text) of a GLib.Variant tuple, for the agent."""
    if params is None:
        return None, None
    return params.get_type_string(), params.print_(True)


class Agent:
    """A user's client: `Agent('alice').call(path, iface, method, V(...))`
    returns a dict: ok, elapsed, value (the unpacked reply, JSON-ish) or
    error, message; with fds: nfds, isatty, fd_data, pipeN."""

    def __init__(self, user):
        self.user = user
        self.proc = subprocess.Popen(
            ['setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups', '--',
             '/usr/bin/python3', '-c', AGENT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd='/',
            env={'HOME': '/home/' + user, 'USER': user, 'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8',
                 'PYTHONDONTWRITEBYTECODE': '1'})
        hello = self._read(30)
        assert hello.get('ready'), hello
        self.name, self.pid, self.uid = hello['name'], hello['pid'], hello['uid']

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout * SLOW)
        if not r:
            raise TimeoutError('agent of %s did not answer in %ds' % (self.user, timeout))
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError('agent of %s died (exit status %s)' % (self.user, self.proc.poll()))
        return json.loads(line)

    def request(self, req, timeout=120):
        self.proc.stdin.write(json.dumps(req) + '\n')
        self.proc.stdin.flush()
        return self._read(timeout)

    @staticmethod
    def spec(path, iface, method, params=None, **kw):
        sig, text = variant_text(params)
        d = {'path': path, 'iface': iface, 'method': method, 'sig': sig, 'args': text}
        d.update(kw)
        return d

    def call(self, path, iface, method, params=None, timeout=60, **kw):
        """kw: flags, in_fds (['null-r', 'pipe', 'null-w']), fd_script, keep_fd."""
        req = dict(self.spec(path, iface, method, params, timeout=timeout, **kw), op='call')
        return self.request(req, timeout + 30)

    def bench(self, n, path, iface, method, params=None, **kw):
        return self.request({'op': 'bench', 'n': n, 'call': self.spec(path, iface, method, params, **kw)},
                            600)

    def race(self, n, path, iface, method, params=None, delay=0, gap=0, **kw):
        return self.request({'op': 'race', 'n': n, 'delay': delay, 'gap': gap,
                             'call': self.spec(path, iface, method, params, **kw)}, 600)

    def burst(self, n, path, iface, method, params=None, **kw):
        """n calls sent at once on the agent's connection; returns the
        answer: results (per call 'ok' or the error name), messages (one
        per error name)."""
        return self.request({'op': 'burst', 'n': n,
                             'call': self.spec(path, iface, method, params, **kw)}, 600)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()   # our own child
                self.proc.wait(10)


_agents = {}


def agent(user):
    """The test file's one Agent of user, started on first use."""
    if user not in _agents:
        _agents[user] = Agent(user)
    return _agents[user]


def close_agents():
    """Ends every agent that agent() started (for the file's cleanup)."""
    while _agents:
        _agents.popitem()[1].close()


def agent_with_rule(user, filename, rule, action, details):
    """`user` (made if need be) and their agent, once the rule `filename`
    is in force and lets them do `action` with `details`."""
    add_user(user)
    install_rule(filename, rule)
    a = agent(user)
    wait_rule(a.name, action, details, True)
    return a


# ---- root's own connection, timings ----------------------------------------------------

def private_root_conn():
    """A root connection of its own (closing it makes the bus tell the
    daemon that this caller left)."""
    addr = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
    return Gio.DBusConnection.new_for_address_sync(
        addr, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)




def stats_ms(times):
    """'median X ms (p10 Y, p90 Z, n N)' of a list of seconds."""
    if not times:
        return 'no samples'
    s = sorted(times)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))] * 1000
    return 'median %.2f ms (p10 %.2f, p90 %.2f, n %d)' % (
        statistics.median(s) * 1000, q(0.1), q(0.9), len(s))


def median_ms(times):
    return statistics.median(times) * 1000 if times else float('nan')


# ---- the daemon's resources, and its system calls (kill points) ------------------------------------

def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


def strace_attach(pid, args, out='/dev/null'):
    """strace attached to pid with args (e.g. a fault injection), once it says so."""
    p = subprocess.Popen(['strace', '-p', str(pid), '-o', out] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    assert 'attached' in line, line
    return p


def _being_killed(pid):
    """pid has a SIGKILL pending, or is exiting (PF_EXITING): it may still look alive for a moment."""
    try:
        with open('/proc/%d/status' % pid) as f:
            pending = [int(line.split()[1], 16) for line in f if line.startswith(('SigPnd:', 'ShdPnd:'))]
        with open('/proc/%d/stat' % pid) as f:
            flags = int(f.read().rsplit(')', 1)[1].split()[6])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return False
    return any(m & (1 << (signal.SIGKILL - 1)) for m in pending) or bool(flags & 0x4)


def strace_detach(p, pid):
    """Ends strace p (of strace_attach()) on pid; True if pid was killed. A kill strace injected just
    before it detached may still be on its way: that one is waited for, never mistaken for a survivor."""
    if pid_alive(pid):
        p.send_signal(signal.SIGINT)
    p.wait(10)
    if pid_alive(pid) and _being_killed(pid):
        wait_for(lambda: not pid_alive(pid), 10, 'the killed lxcbusd %d gone' % pid)
    return not pid_alive(pid)


def syscalls_of(fn):
    """The system calls lxcbusd makes while fn() runs: [(name, nth of that name)]."""
    out = '/run/kp-strace.out'
    p = strace_attach(daemon_pid(), [], out)
    fn()
    p.send_signal(signal.SIGINT)
    p.wait(10)
    seen, points = {}, []
    with open(out) as f:
        for line in f:
            name = line.split('(', 1)[0].strip()
            if name and name.isidentifier():
                seen[name] = seen.get(name, 0) + 1
                points.append((name, seen[name]))
    os.unlink(out)
    return points
