#!/usr/bin/python3
"""bench/scale.py: lxcbusd with many instances, seen from a GLib client (issue 15, item 3).

Runs inside a test host (bench/scale.sh boots it), as root, with lxcbusd.service installed and started.

  1. CreateInstance (template busybox) through the bus, BUS instances (all N by default), CONC calls in
     flight; with --bus below N, the rest as copies on disk of those, made with the daemon stopped (it
     loads whatever is on disk at its start): a copy's rootfs hard-links its source's files (the
     copies are never started), for a tmpfs too small for N busybox rootfs.
  2. Starts RUNNING of them through the bus (Instance.Start).
  3. Restarts the daemon: from `systemctl start` to the first ListInstances that lists all N
     (adoption of the running ones included), and from the process's exec to READY=1.
  4. ListInstances and GetManagedObjects from Gio.DBusConnection.call_sync (median of ITER), with the
     daemon's own CPU time per call (utime+stime from /proc/PID/stat around the loop); then the same
     from a GDBus client in C (bench/gmo-client, --c-client), with dbus-daemon's CPU time per call,
     and once more reading every property of the reply; then GetManagedObjects from that client
     answered with the same bytes by a server that costs nothing (bench/gmo-floor.py, floor_*).
  5. The daemon's RSS (VmRSS), after the calls.
  6. Idle: no client of ours on the bus, IDLE seconds; the daemon's context switches (voluntary and
     involuntary, every thread) and its schedstat timeslices over that window: each is a wakeup.
  7. The monitors: PSS and private memory (smaps_rollup) of each running instance's LXC monitor (the
     parent of its init) against FLOOR containers started with `lxc-start -d` (the same busybox
     template, /var/lib/lxcbench).
With --monitors N: only 1, 2 and 7, for N instances, all N running, against N lxc-start monitors (a
quick measurement of the monitors, a few minutes).
Prints `FIGURE name value unit` lines and a table figure / target / measured / pass.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import gi
gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402

BUS_NAME = 'org.lxcbus1'
MGR = '/org/lxcbus1'
STATE = '/var/lib/lxcbus/instances'
FLOOR_PATH = '/var/lib/lxcbench'
TICK = os.sysconf('SC_CLK_TCK')


def log(*a):
    print('scale.py: %s' % time.strftime('%T'), *a, file=sys.stderr, flush=True)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout


def new_bus():
    addr = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
    return Gio.DBusConnection.new_for_address_sync(
        addr, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def call(bus, path, iface, method, params=None, reply='', timeout=300):
    return bus.call_sync(BUS_NAME, path, iface, method, params,
                         GLib.VariantType('(%s)' % reply) if reply else None,
                         Gio.DBusCallFlags.NONE, timeout * 1000, None)


def ipath(name):
    return MGR + '/instance/' + name    # names of [a-z0-9] need no escaping


def daemon_pid():
    return int(sh('systemctl', 'show', '-P', 'MainPID', 'lxcbusd.service').strip())


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])       # utime, stime


def status_fields(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            out[k] = v.strip()
    return out


def switches(pid):
    """Context switches and schedstat timeslices of every thread of pid."""
    ctx = slices = 0
    for t in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/status' % (pid, t)) as f:
            for line in f:
                if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                    ctx += int(line.split()[1])
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, t)) as f:
                slices += int(f.read().split()[2])
        except OSError:
            pass
    return ctx, slices, len(os.listdir('/proc/%d/task' % pid))


def rollup(pid):
    out = {}
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            m = re.match(r'(\w+):\s+(\d+) kB', line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def ppid(pid):
    return int(status_fields(pid)['PPid'])


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def p90_ms(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))] * 1000.0


FIGURES = []


def figure(name, value, unit, target=None, cmp='<=', note=''):
    FIGURES.append((name, value, unit, target, cmp, note))
    print('FIGURE %s %s %s' % (name, '%.3f' % value if isinstance(value, float) else value, unit), flush=True)


# ---- 1. instances ---------------------------------------------------------------------------------

def on_bus(names, conc, path_of, iface, method, params, reply):
    """method on each of names, conc calls in flight, each from a connection of its own: the wall time."""
    def one(name):
        bus = new_bus()
        try:
            call(bus, path_of(name), iface, method, params(name), reply)
        finally:
            bus.close_sync(None)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(one, names))
    return time.monotonic() - t0


def create_on_bus(names, conc):
    source = {'type': GLib.Variant('s', 'template'), 'template': GLib.Variant('s', 'busybox')}
    return on_bus(names, conc, lambda n: MGR, 'org.lxcbus1.Manager', 'CreateInstance',
                  lambda n: GLib.Variant('(sa{sv}a{ss}a{sv})', (n, source, {}, {})), 'oo')


def clone_on_disk(src, dst):
    """A copy of stopped instance src as dst: its files with the name replaced, its rootfs hard-linked
    to the source's (neither is ever started)."""
    s, d = os.path.join(STATE, src), os.path.join(STATE, dst)
    os.mkdir(d, 0o700)
    shutil.copystat(s, d)
    st = os.stat(s)
    os.chown(d, st.st_uid, st.st_gid)
    for e in os.listdir(s):
        sp, dp = os.path.join(s, e), os.path.join(d, e)
        if e == 'rootfs':
            continue
        if not os.path.isfile(sp) or os.path.islink(sp):
            raise SystemExit('%s: cannot clone %s (not a plain file)' % (src, sp))
        with open(sp) as f:
            text = f.read()
        with open(dp, 'w') as f:
            f.write(text.replace(src, dst))
        shutil.copystat(sp, dp)
        fst = os.stat(sp)
        os.chown(dp, fst.st_uid, fst.st_gid)
    sh('cp', '-al', os.path.join(s, 'rootfs'), os.path.join(d, 'rootfs'))


def make_instances(args, names):
    nbus = min(args.bus, len(names))
    log('CreateInstance (busybox) of %d instances through the bus, %d in flight' % (nbus, args.conc))
    dt = create_on_bus(names[:nbus], args.conc)
    figure('create_bus_total', dt, 's', note='%d CreateInstance(busybox), %d in flight' % (nbus, args.conc))
    figure('create_bus_each', dt / nbus * 1000.0, 'ms', note='wall time / count')
    with open(os.path.join(STATE, names[0], 'lxcbus.json')) as f:
        if '"idmap"' in f.read():
            raise SystemExit('the instances are idmapped: copies on disk would share id blocks')
    if nbus < len(names):
        log('stopping lxcbusd; copying %d instances on disk' % (len(names) - nbus))
        sh('systemctl', 'stop', 'lxcbusd.service')
        t0 = time.monotonic()
        for k, n in enumerate(names[nbus:]):
            clone_on_disk(names[args.running + k % (nbus - args.running)] if nbus > args.running
                          else names[k % nbus], n)
        figure('clone_disk_total', time.monotonic() - t0, 's',
               note='%d copies on disk (rootfs hard-linked)' % (len(names) - nbus))
        sh('systemctl', 'start', 'lxcbusd.service')


def start_on_bus(names, conc):
    return on_bus(names, conc, ipath, 'org.lxcbus1.Instance', 'Start',
                  lambda n: GLib.Variant('(a{sv})', ({},)), 'o')


# ---- 3. restart -----------------------------------------------------------------------------------

def restart(args, n):
    sh('systemctl', 'stop', 'lxcbusd.service')
    time.sleep(1)
    bus = new_bus()
    t0 = time.monotonic()
    p = subprocess.Popen(['systemctl', 'start', 'lxcbusd.service'])
    answered = None
    while time.monotonic() - t0 < 60:
        try:
            r = call(bus, MGR, 'org.lxcbus1.Manager', 'ListInstances', None, 'a(sso)', timeout=10)
            if len(r.unpack()[0]) == n:
                answered = time.monotonic() - t0
                break
        except GLib.Error:
            pass
        time.sleep(0.002)
    p.wait()
    bus.close_sync(None)
    if answered is None:
        raise SystemExit('lxcbusd did not list %d instances within 60 s of its start' % n)
    # exec of the main process to READY=1 (systemd's own monotonic stamps)
    show = sh('systemctl', 'show', '-P', 'ExecMainStartTimestampMonotonic', 'lxcbusd.service').strip()
    active = sh('systemctl', 'show', '-P', 'ActiveEnterTimestampMonotonic', 'lxcbusd.service').strip()
    figure('start_to_answer', answered * 1000.0, 'ms', 1000.0,
           note='systemctl start -> ListInstances lists all %d (adoption included)' % n)
    if show.isdigit() and active.isdigit():
        figure('exec_to_ready', (int(active) - int(show)) / 1000.0, 'ms', 1000.0,
               note='exec of lxcbusd -> READY=1 (systemd timestamps)')


# ---- 4. calls -------------------------------------------------------------------------------------

def timed_calls(bus, pid, n, warm, fn):
    for _ in range(warm):
        fn()
    c0 = cpu_ticks(pid)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    cpu = (cpu_ticks(pid) - c0) / TICK / n * 1000.0
    return samples, cpu


def parse_floor(bus, iface, method, n):
    """What GLib alone takes to parse the reply (GDBusMessage from its bytes): the client's floor."""
    msg = Gio.DBusMessage.new_method_call(BUS_NAME, MGR, iface, method)
    reply, _ = bus.send_message_with_reply_sync(msg, Gio.DBusSendMessageFlags.NONE, -1, None)
    blob = reply.to_blob(Gio.DBusCapabilityFlags.NONE)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        Gio.DBusMessage.new_from_blob(blob, Gio.DBusCapabilityFlags.NONE)
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


def measure_calls(args, n, pid):
    bus = new_bus()

    def li():
        r = call(bus, MGR, 'org.lxcbus1.Manager', 'ListInstances', None, 'a(sso)')
        assert r.get_child_value(0).n_children() == n

    def gmo():
        r = call(bus, MGR, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', None, 'a{oa{sa{sv}}}')
        assert r.get_child_value(0).n_children() >= n
        return r

    def ping():
        call(bus, MGR, 'org.freedesktop.DBus.Peer', 'Ping')

    s, cpu = timed_calls(bus, pid, args.list_iter, 10, ping)
    figure('ping', median_ms(s), 'ms', note='Peer.Ping to lxcbusd, median of %d: the round trip floor' % len(s))
    s, cpu = timed_calls(bus, pid, args.list_iter, 10, li)
    figure('list_instances', median_ms(s), 'ms', 2.0, note='median of %d, p90 %.2f ms; lxcbusd CPU %.2f ms/call'
           % (len(s), p90_ms(s), cpu))
    figure('list_instances_parse', parse_floor(bus, 'org.lxcbus1.Manager', 'ListInstances', args.list_iter), 'ms',
           note='the client alone: GDBusMessage from the reply\'s bytes, median')
    s, cpu = timed_calls(bus, pid, args.gmo_iter, 3, gmo)
    size = gmo().get_size()
    figure('get_managed_objects', median_ms(s), 'ms', 30.0,
           note='median of %d, p90 %.1f ms; lxcbusd CPU %.1f ms/call; reply %d KiB'
           % (len(s), p90_ms(s), cpu, size // 1024))
    figure('get_managed_objects_parse',
           parse_floor(bus, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', args.gmo_iter), 'ms',
           note='the client alone: GDBusMessage from the reply\'s bytes, median')
    bus.close_sync(None)


C_TARGETS = {'c_list': 2.0, 'c_gmo': 30.0}
HERE = os.path.dirname(os.path.abspath(__file__))


def c_client_calls(args, pid, *extra, prefix='', targets=C_TARGETS):
    """The same calls from bench/gmo-client (GDBus in C): its FIGURE lines, with the CPU per call of
    lxcbusd (or the server of pid) and dbus-daemon."""
    bus_pid = int(sh('systemctl', 'show', '-P', 'MainPID', 'dbus.service').strip() or 0)
    out = sh(args.c_client, '--pid', str(pid), '--bus-pid', str(bus_pid), '--iter', str(args.gmo_iter),
             '--list-iter', str(args.list_iter), *extra)
    for line in out.splitlines():
        m = re.match(r'FIGURE (\S+) (\S+) ms  \((.*)\)$', line)
        if m:
            figure(prefix + m.group(1), float(m.group(2)), 'ms', targets.get(m.group(1)),
                   note='C: ' + m.group(3))


def floor_server_calls(args, n):
    """GetManagedObjects from the C client once more, answered with the same bytes by a server that
    costs nothing (bench/gmo-floor.py as org.lxcbus1, lxcbusd stopped for that time): the floor of
    dbus-daemon, the client and the scheduling. lxcbusd is started again after, and lists all n."""
    body = '/run/lxcbus-gmo-floor.body'
    floor = os.path.join(HERE, 'gmo-floor.py')
    sh(sys.executable, floor, '--body', body)
    sh('systemctl', 'stop', 'lxcbusd.service')
    p = subprocess.Popen([sys.executable, floor, '--body', body, '--name', BUS_NAME], stderr=subprocess.PIPE,
                         universal_newlines=True)
    try:
        line = p.stderr.readline()
        if 'answers' not in line:
            raise SystemExit('gmo-floor.py did not come up: %s' % line)
        c_client_calls(args, p.pid, '--gmo-only', prefix='floor_', targets={})
    finally:
        p.kill()
        p.wait()
        os.unlink(body)
        sh('systemctl', 'start', 'lxcbusd.service')
    bus = new_bus()
    for _ in range(600):
        try:
            if call(bus, MGR, 'org.lxcbus1.Manager', 'ListInstances', None, 'a(sso)', timeout=10)\
                    .get_child_value(0).n_children() == n:
                break
        except GLib.Error:
            pass
        time.sleep(0.05)
    bus.close_sync(None)


# ---- 6. idle -------------------------------------------------------------------------------------

def idle(args, pid, name, what):
    log('idle for %d s (no client of ours on the bus; %s)' % (args.idle, what))
    time.sleep(2)
    c0, s0, nthreads = switches(pid)
    time.sleep(args.idle)
    c1, s1, _ = switches(pid)
    figure(name, c1 - c0, '', 0, note='context switches of lxcbusd (%d threads) in %d s idle, %s; '
           'schedstat timeslices %d' % (nthreads, args.idle, what, s1 - s0))


# ---- 7. monitors ----------------------------------------------------------------------------------

def monitor_memory(pids):
    r = [rollup(p) for p in pids]
    pss = statistics.mean(x['Pss'] for x in r)
    priv = statistics.mean(x['Private_Clean'] + x['Private_Dirty'] for x in r)
    rss = statistics.mean(x['Rss'] for x in r)
    return pss, priv, rss


def floor_monitors(nfloor):
    os.makedirs(FLOOR_PATH, exist_ok=True)
    pids = []
    for k in range(nfloor):
        name = 'f%03d' % k
        sh('lxc-create', '-t', 'busybox', '-n', name, '-P', FLOOR_PATH)
        sh('lxc-start', '-d', '-n', name, '-P', FLOOR_PATH)
    for k in range(nfloor):
        name = 'f%03d' % k
        for _ in range(200):
            out = sh('lxc-info', '-P', FLOOR_PATH, '-n', name, '-p', '-H', check=False).strip()
            if out.isdigit():
                break
            time.sleep(0.05)
        pids.append(ppid(int(out)))
    return pids


def floor_cleanup(nfloor):
    for k in range(nfloor):
        sh('lxc-stop', '-k', '-n', 'f%03d' % k, '-P', FLOOR_PATH, check=False)
        sh('lxc-destroy', '-n', 'f%03d' % k, '-P', FLOOR_PATH, check=False)
    shutil.rmtree(FLOOR_PATH, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------------------

def report():
    print()
    print('lxcbus scale: lxcbusd with many instances, from a GLib client (Gio.DBusConnection.call_sync)')
    print('%-22s %12s %10s %6s  %s' % ('figure', 'measured', 'target', 'pass', 'how'))
    failed = 0
    for name, value, unit, target, cmp, note in FIGURES:
        v = ('%.3f' % value if isinstance(value, float) else str(value)) + ' ' + unit
        if target is None:
            t, ok = '', ''
        else:
            t = '%s %g %s' % (cmp, target, unit)
            good = value <= target if cmp == '<=' else value >= target
            ok = 'yes' if good else 'NO'
            failed += not good
        print('%-22s %12s %10s %6s  %s' % (name, v, t, ok, note))
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--instances', type=int, default=1000)
    ap.add_argument('--running', type=int, default=100)
    ap.add_argument('--bus', type=int, default=None, help='how many are made by CreateInstance (all)')
    ap.add_argument('--c-client', default=None, help='bench/gmo-client of the build (scale.sh passes it)')
    ap.add_argument('--conc', type=int, default=4)
    ap.add_argument('--list-iter', type=int, default=300)
    ap.add_argument('--gmo-iter', type=int, default=40)
    ap.add_argument('--idle', type=int, default=60)
    ap.add_argument('--floor', type=int, default=10)
    ap.add_argument('--no-idle-spawned', dest='idle_spawned', action='store_false',
                    help='measure idle wakeups only after the restart (adopted monitors)')
    ap.add_argument('--monitors', type=int, metavar='N',
                    help='only the monitors: N instances, all running, against N lxc-start monitors')
    ap.add_argument('--keep', action='store_true', help='leave the instances behind')
    ap.add_argument('--reuse', action='store_true', help='the instances exist (a --keep run made them)')
    args = ap.parse_args()
    if args.monitors:
        args.instances = args.running = args.bus = args.floor = args.monitors
    if args.bus is None:
        args.bus = args.instances
    names = ['s%04d' % k for k in range(args.instances)]
    log('conditions: %d CPUs, load %s' % (os.cpu_count(), open('/proc/loadavg').read().strip()))
    running = names[:args.running]

    if not args.reuse:
        make_instances(args, names)
        log('starting %d instances through the bus' % len(running))
        dt = start_on_bus(running, args.conc)
        figure('start_bus_each', dt / max(1, len(running)) * 1000.0, 'ms',
               note='%d Instance.Start, %d in flight: wall time / count' % (len(running), args.conc))

    if not args.reuse:
        st = status_fields(daemon_pid())
        figure('rss_before_restart', int(st['VmRSS'].split()[0]) / 1024.0, 'MiB',
               note='VmRSS after the creates and starts (RssAnon %s)' % st['RssAnon'])
    if not args.reuse and args.idle_spawned and not args.monitors:
        idle(args, daemon_pid(), 'idle_wakeups_spawned', 'monitors it spawned')
    if not args.monitors:
        restart_and_measure(args, names)
    monitors(args, running)
    log('conditions: load %s' % open('/proc/loadavg').read().strip())
    failed = report()
    if not args.keep:
        cleanup(names, running)
    return 1 if failed else 0


def restart_and_measure(args, names):
    log('restarting lxcbusd with %d instances, %d running' % (len(names), args.running))
    restart(args, len(names))
    pid = daemon_pid()
    time.sleep(1)
    rss0 = int(status_fields(pid)['VmRSS'].split()[0])

    log('timing ListInstances and GetManagedObjects')
    measure_calls(args, len(names), pid)
    if args.c_client:
        c_client_calls(args, pid, '--walk')
    st = status_fields(pid)
    figure('rss_after_start', rss0 / 1024.0, 'MiB', note='VmRSS after the restart, before any call')
    figure('rss', int(st['VmRSS'].split()[0]) / 1024.0, 'MiB', 8.0,
           note='VmRSS after the calls (RssAnon %s, RssFile %s)' % (st['RssAnon'], st['RssFile']))

    if args.c_client:
        floor_server_calls(args, len(names))
        pid = daemon_pid()
    idle(args, pid, 'idle_wakeups', 'adopted monitors')


def monitors(args, running):
    log('monitor memory: %d instances against %d lxc-start monitors' % (len(running), args.floor))
    bus = new_bus()
    ours = []
    for n in running:
        r = bus.call_sync(BUS_NAME, ipath(n), 'org.freedesktop.DBus.Properties', 'Get',
                          GLib.Variant('(ss)', ('org.lxcbus1.Instance', 'Pid')), GLib.VariantType('(v)'),
                          Gio.DBusCallFlags.NONE, -1, None)
        ours.append(ppid(r.unpack()[0]))
    bus.close_sync(None)
    pss, priv, rss = monitor_memory(ours)
    try:
        fpids = floor_monitors(args.floor)
        fpss, fpriv, frss = monitor_memory(fpids)
        pss, priv, rss = monitor_memory(ours)      # again, now that the floor's share the pages too
    finally:
        floor_cleanup(args.floor)
    figure('monitor_pss', pss, 'KiB', note='mean PSS of %d lxcbus monitors; lxc-start -d: %.0f KiB (%d of them), '
           'ratio %.2f' % (len(ours), fpss, len(fpids), pss / fpss))
    figure('monitor_private', priv, 'KiB', note='mean private (USS); lxc-start -d: %.0f KiB, ratio %.2f; '
           'RSS %.0f / %.0f KiB' % (fpriv, priv / fpriv, rss, frss))


def cleanup(names, running):
    log('cleanup: stopping %d instances, removing %d' % (len(running), len(names)))
    bus = new_bus()
    for n in running:
        try:
            call(bus, ipath(n), 'org.lxcbus1.Instance', 'Stop',
                 GLib.Variant('(a{sv})', ({'timeout-sec': GLib.Variant('u', 0)},)), 'o')
        except GLib.Error as e:
            log('stop %s: %s' % (n, e.message))
    bus.close_sync(None)
    sh('systemctl', 'stop', 'lxcbusd.service')
    for n in names:
        shutil.rmtree(os.path.join(STATE, n), ignore_errors=True)
    sh('systemctl', 'start', 'lxcbusd.service')


if __name__ == '__main__':
    sys.exit(main())
