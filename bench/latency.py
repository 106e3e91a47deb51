#!/usr/bin/python3
# bench/latency.py SAMPLES TRACE [PACED_SAMPLES PAUSE_MS]: the report of bench/latency.sh (bench/run.sh
# --breakdown); with PACED_SAMPLES also the ratios of the paced calls (LXCBENCH_PACED_MS there).
#
# SAMPLES: "SAMPLE <metric> <side> <us>" lines of bench-bus (side bus) and bench-lxc (side liblxc).
# TRACE: "<monotonic us> <pid> <event> <instance>" lines that lxcbusd and its workers append with
# LXCBUS_TRACE set (src/lib/trace.h). Prints the ratios bus/floor with the targets of issue 15, then
# per operation the phases of the daemon's side: median ms and share of the bus call's median. The
# phases of one call are cut from the trace between its first event (start-begin, ...) and its last
# (op-finished, exec-exited); "outside the daemon" is the call's median minus the daemon's span,
# the bus round trips and the client. A call that waited for the removal of the last stop's scope
# (call-deferred, settle-dbus.h) shows that wait as a phase of its own, outside the span.
import collections
import sys

from benchstats import quantile as q

INSTANCE = 'benchb'
TARGETS = {'start': 1.5, 'stop-kill': 1.5, 'exec(true)': 1.5, 'freeze+unfreeze': 1.2}
FLOOR_NOTE = {'exec(true)': 'attach_run_wait', 'freeze+unfreeze': 'freeze+unfreeze'}

# Per operation: the event that opens a call, the one that ends the daemon's part, and its phases
# (from, to, label). A phase "a|b" starts at the later of a and b. Phases marked parallel overlap the
# ones around them (the scope job runs while the worker prepares) and do not add up with the rest.
OPS = collections.OrderedDict([
    ('start', ('start-begin', 'op-finished', 'start', [
        ('call-deferred', 'start-begin', 'call waits for the last stop\'s scope removal', False),
        ('start-begin', 'worker-forked', 'checks, network and limits, start worker forked or taken', False),
        ('worker-forked', 'scope-requested', 'StartTransientUnit sent', False),
        ('scope-requested', 'scope-ready', 'systemd: scope job until JobRemoved', True),
        ('worker-forked', 'worker-main', 'worker: exec and linking (or waiting for the ready one)', True),
        ('worker-main', 'worker-ready', 'worker: liblxc container and config loaded', True),
        ('scope-ready|worker-ready', 'worker-go', '"go" reaches the worker', False),
        ('worker-go', 'hook-running', 'liblxc start until the start-host hook reported', False),
        ('hook-running', 'init-execed', 'wait until init is executed (exec check)', False),
        ('init-execed', 'op-finished', 'running: state, metadata saved, log', False),
    ])),
    ('stop-kill', ('stop-begin', 'op-finished', 'stop', [
        ('stop-begin', 'kill-sent', 'freezer check, SIGKILL to init', False),
        ('kill-sent', 'monitor-done', 'liblxc monitor: init reaped, teardown', False),
        ('monitor-done', 'monitor-exited', 'monitor\'s result (its exit, before) seen', False),
        ('monitor-exited', 'op-finished', 'stopped: scope removal requested (waited for, before)', False),
        ('monitor-exited', 'scope-gone', 'systemd: StopUnit job until JobRemoved', True),
    ])),
    ('exec(true)', ('exec-begin', 'exec-exited', 'exec', [
        ('exec-begin', 'worker-forked', 'environment, worker forked (or the ready one taken)', False),
        ('worker-forked', 'worker-main', 'worker: exec and linking (or waiting for the ready one)', False),
        ('worker-main', 'exec-attach', 'worker: liblxc container opened, stdio', False),
        ('exec-attach', 'exec-running', 'liblxc attach until the command is executed', False),
        ('exec-running', 'exec-exited', 'command runs, exits, exit reported', False),
    ])),
    ('freeze+unfreeze', ('freeze-begin', 'op-finished', 'freeze', [
        ('freeze-begin', 'freeze-done', 'freeze: write freezer, wait for FROZEN', False),
        ('freeze-done', 'op-finished', 'freeze: state, log', False),
        ('unfreeze-begin', 'freeze-done', 'unfreeze: write freezer, wait for THAWED', False),
        ('freeze-done', 'op-finished', 'unfreeze: state, log', False),
    ])),
])


def read_samples(path):
    data = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path):
        f = line.split()
        if len(f) == 4 and f[0] == 'SAMPLE':
            data[f[1]][f[2]].append(int(f[3]))
    return data


def read_trace(path):
    ev = []
    for line in open(path):
        f = line.split()
        if len(f) == 4 and f[3] == INSTANCE:
            ev.append((int(f[0]), f[2]))
    ev.sort()
    return ev


def segments(ev, begin, end):
    """Each call: a dict event -> first time, from a begin event to the first end event after it."""
    out, cur, deferred = [], None, None
    for t, e in ev:
        if e == 'call-deferred' and cur is None:
            deferred = t
        elif e == begin:
            cur = {e: t}
            if deferred is not None:
                cur['call-deferred'] = deferred
                deferred = None
        elif cur is not None and e not in cur:
            cur[e] = t
            if e == end:
                out.append(cur)
                cur = None
    return out


def freeze_segments(ev):
    """Freeze and Unfreeze pairs: the events of the unfreeze get their own names."""
    out, cur, which = [], None, None
    for t, e in ev:
        if e == 'freeze-begin':
            cur, which = {e: t}, 'f'
        elif e == 'unfreeze-begin' and cur is not None:
            cur[e], which = t, 'u'
        elif cur is not None and e in ('freeze-done', 'op-finished'):
            key = e if which == 'f' else 'u:' + e
            cur.setdefault(key, t)
            if which == 'u' and e == 'op-finished':
                out.append(cur)
                cur = None
    return out


def at(seg, name):
    if '|' in name:
        ts = [seg.get(n) for n in name.split('|')]
        return None if None in ts else max(ts)
    return seg.get(name)


def ms(us):
    return '%8.2f' % (us / 1000.0)


def short(label):
    return label if len(label) <= 62 else label[:59] + '...'


def ratios(samples, title, metrics):
    print()
    print(title)
    print('  %-16s %5s %8s %8s %7s %7s   %8s %8s %7s' % ('metric', 'n', 'bus', 'liblxc', 'ratio', 'target', 'bus p10',
                                                        'lxc p10', 'ratio'))
    for m in metrics:
        target = TARGETS[m]
        bus, floor = samples[m].get('bus', []), samples[m].get('liblxc', [])
        if not bus or not floor:
            print('  %-16s (no samples)' % m)
            continue
        ratio = q(bus) / q(floor)
        print('  %-16s %5d %s %s %6.2fx %6.1fx   %s %s %6.2fx  %s' % (
            m, len(bus), ms(q(bus)), ms(q(floor)), ratio, target, ms(q(bus, 0.1)), ms(q(floor, 0.1)),
            q(bus, 0.1) / q(floor, 0.1), 'ok' if ratio <= target else 'OVER'))


def main():
    samples, ev = read_samples(sys.argv[1]), read_trace(sys.argv[2])

    ratios(samples, 'lxcbus latency: lxcbusd through the bus vs raw liblxc, same test host, same run (medians, ms)',
           TARGETS)
    print('  floor: liblxc in one process on /var/lib/lxcbench (start daemonized until RUNNING and init pid,')
    print('  stop until STOPPED, attach_run_wait of `true`, freeze+unfreeze), no scope, no worker, no bus.')
    print('  p10: the 10th percentile, less sensitive than the median to what else loads the machine')
    # SAMPLES_PACED PAUSE_MS: the same calls with a pause before each (latency.sh, LXCBENCH_PACED_MS).
    if len(sys.argv) == 5:
        ratios(read_samples(sys.argv[3]), 'paced: the same with %s ms before each call, as a call that comes alone '
               '(medians, ms)' % sys.argv[4], ['start', 'stop-kill', 'exec(true)'])
        print('  a v1 cgroup move (every start, stop and attach makes some) waits for an RCU grace period when')
        print('  the last one is more than about 15 ms ago: back to back, the floor never waits (bench/README.md)')

    for metric, (begin, end, what, phases) in OPS.items():
        segs = freeze_segments(ev) if metric == 'freeze+unfreeze' else segments(ev, begin, end)
        call = q(samples[metric].get('bus', [])) if samples[metric].get('bus') else float('nan')
        print()
        print('== %s: phases in the daemon and its workers (%d calls traced; bus call median %s ms)' %
              (metric, len(segs), ms(call).strip()))
        if not segs:
            print('  (no trace)')
            continue
        print('  %-62s %8s %8s %7s' % ('phase', 'median', 'p10', 'share'))
        unfreeze = False
        span = []
        for a, b, label, parallel in phases:
            if metric == 'freeze+unfreeze' and a == 'unfreeze-begin':
                unfreeze = True
            if unfreeze and a != 'unfreeze-begin':
                a = 'u:' + a
            if unfreeze:
                b = 'u:' + b
            d = [at(s, b) - at(s, a) for s in segs if at(s, a) is not None and at(s, b) is not None]
            if not d:
                if a != 'call-deferred':
                    print('  %-62s %8s' % (label, '-'))
                continue
            if len(d) < len(segs):
                label += ' (%d of %d calls)' % (len(d), len(segs))
            share = '%6.1f%%' % (100.0 * q(d) / call) if call == call and call > 0 else ''
            print('  %-62s %s %s %s' % (('  (parallel) ' if parallel else '') + label, ms(q(d)), ms(q(d, 0.1)), share))
        last = 'u:op-finished' if metric == 'freeze+unfreeze' else end
        span = [s[last] - s[begin] for s in segs if last in s]
        rest = call - q(span)
        print('  %-62s %s %s %6.1f%%' % ('daemon, first event to last', ms(q(span)), ms(q(span, 0.1)),
                                           100.0 * q(span) / call))
        print('  %-62s %s %8s %6.1f%%' % ('outside the daemon: bus, dispatch, client (call - span)', ms(rest), '',
                                          100.0 * rest / call))
    return 0


if __name__ == '__main__':
    sys.exit(main())
