#!/usr/bin/python3
"""bench/peers.py: the peers' side of `bench/run.sh --peers` (bench/peers.sh), and its report.

Inside the test host (as root), it times podman and LXD on the same busybox rootfs as lxcbus and the
liblxc floor, and prints "SAMPLE <metric> <side> <microseconds>" lines as bench-bus and bench-lxc do
(warm-up iterations print nothing; diagnostics go to stderr):

    peers.py podman ROOTFS ITER WARM NLIST
        podman's own CLI (podman has no daemon: the CLI does the work, so its run is the cost a user
        pays): `podman start` (returns once the runtime started init), `podman stop -t 0` (SIGKILL at
        once, returns when stopped), `podman exec CTR true`, `podman ps -a` with NLIST containers.
        The container: `podman create --rootfs ROOTFS --network none` (no image, no registry) running
        busybox's /sbin/init, or `sleep` if init does not stay up (said on stderr and in the side's note).
    peers.py lxd SIDE ITER WARM NLIST
        LXD's REST API on /var/lib/lxd/unix.socket from this process (one keep-alive connection; the
        `lxc` CLI's own start-up is not counted): PUT .../state start and stop(force) and POST .../exec
        of `true`, each with GET /1.0/operations/ID/wait; GET /1.0/instances?recursion=1 with NLIST
        instances. The instance "peerl" (from the image "busybox") must exist; SIDE names the run
        ("lxd", or "lxd+lxcfs" when lxcfs is running).

On the host (needs python3-matplotlib for the plot):

    peers.py report SAMPLES [SVG [README]]
        the table per operation (median, p10, p90, n, ratio peer/lxcbus, and lxcbus/liblxc) on stdout;
        with SVG the plot; with README the table between the "peers-table" markers of that file.
"""
import collections
import http.client
import json
import os
import socket
import subprocess
import sys
import time

from benchstats import quantile as q

METRICS = ['start', 'stop-kill', 'exec(true)', 'list']
TITLES = {'start': 'start', 'stop-kill': 'stop (kill)', 'exec(true)': 'exec `true`', 'list': 'list 50'}


def log(msg):
    print('peers.py: ' + msg, file=sys.stderr, flush=True)


def sample(metric, side, k, warm, us):
    if k >= warm:
        print('SAMPLE %s %s %d' % (metric, side, us), flush=True)


def timed(fn):
    t0 = time.monotonic_ns()
    fn()
    return (time.monotonic_ns() - t0) // 1000


# ---- podman -------------------------------------------------------------------------------------
def podman(*args, out=subprocess.DEVNULL, check=True):
    r = subprocess.run(['podman'] + list(args), stdin=subprocess.DEVNULL, stdout=out,
                       stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise SystemExit('peers.py: podman %s failed (%d): %s' % (' '.join(args), r.returncode,
                                                                  r.stderr.strip()[-800:]))
    return r


def podman_running(name):
    r = podman('inspect', '-f', '{{.State.Running}}', name, out=subprocess.PIPE, check=False)
    return r.stdout.strip() == 'true'


def podman_create(name, rootfs, cmd):
    podman('rm', '-f', '-t', '0', name, check=False)
    podman('create', '--name', name, '--network', 'none', '--rootfs', rootfs, *cmd)


def podman_pick_init(rootfs):
    """busybox init as the container's pid 1 if it stays up, else sleep: returns (name, what)."""
    for what, cmd in (('/sbin/init', ['/sbin/init']), ('sleep', ['/bin/sleep', '100000000'])):
        podman_create('peerp', rootfs, cmd)
        podman('start', 'peerp')
        time.sleep(1.5)
        if podman_running('peerp'):
            podman('stop', '-t', '0', 'peerp')
            return what
        log('podman: a container running %s did not stay up: %s' % (
            what, podman('logs', 'peerp', out=subprocess.PIPE, check=False).stdout.strip()[-400:]))
    raise SystemExit('peers.py: podman: neither /sbin/init nor sleep stays up')


def run_podman(rootfs, it, warm, nlist):
    what = podman_pick_init(rootfs)
    log('podman: the container runs %s (%s)' % (what, podman('--version', out=subprocess.PIPE).stdout.strip()))
    print('NOTE podman init=%s' % what, flush=True)
    for k in range(it + warm):
        sample('start', 'podman', k, warm, timed(lambda: podman('start', 'peerp')))
        if not podman_running('peerp'):
            raise SystemExit('peers.py: podman: peerp is not running after start')
        sample('stop-kill', 'podman', k, warm, timed(lambda: podman('stop', '-t', '0', 'peerp')))
    podman('start', 'peerp')
    for k in range(max(it, 20) + warm):
        sample('exec(true)', 'podman', k, warm, timed(lambda: podman('exec', 'peerp', 'true')))
    podman('stop', '-t', '0', 'peerp')
    names = ['peerpl%03d' % i for i in range(nlist - 1)]
    for n in names:
        podman_create(n, rootfs, ['true'])
    seen = podman('ps', '-a', '--format', '{{.Names}}', out=subprocess.PIPE).stdout.split()
    if len(seen) < nlist:
        raise SystemExit('peers.py: podman ps -a lists %d containers, expected %d' % (len(seen), nlist))
    log('podman: list: %d containers' % len(seen))
    for k in range(it + warm):
        sample('list', 'podman', k, warm, timed(lambda: podman('ps', '-a')))
    podman('rm', '-f', '-t', '0', 'peerp', *names)


# ---- LXD ----------------------------------------------------------------------------------------
class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__('lxd', timeout=120)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.path)
        self.sock = s


class Lxd:
    def __init__(self, path='/var/lib/lxd/unix.socket'):
        self.conn = UnixHTTPConnection(path)

    def call(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {'Content-Type': 'application/json'} if data is not None else {}
        self.conn.request(method, url, body=data, headers=headers)
        r = self.conn.getresponse()
        j = json.loads(r.read() or b'{}')
        if j.get('type') == 'error' or r.status >= 400:
            raise SystemExit('peers.py: LXD %s %s: %s %s' % (method, url, r.status, j.get('error', j)))
        return j

    def op(self, method, url, body=None):
        """An async call and the wait for its operation: the whole is what a client waits for."""
        j = self.call(method, url, body)
        if j.get('type') != 'async':
            return j.get('metadata')
        w = self.call('GET', j['operation'] + '/wait?timeout=120')
        md = w.get('metadata') or {}
        if md.get('status') != 'Success':
            raise SystemExit('peers.py: LXD %s %s: operation %s: %s' % (method, url, md.get('status'),
                                                                     md.get('err')))
        return md

    def status(self, name):
        return self.call('GET', '/1.0/instances/%s' % name)['metadata']['status']


def run_lxd(side, it, warm, nlist):
    x = Lxd()
    server = x.call('GET', '/1.0')['metadata']
    log('lxd (%s): server %s, lxcfs %s, driver %s' % (side, server['environment'].get('server_version'),
        'yes' if os.path.ismount('/var/lib/lxcfs') else 'no', server['environment'].get('driver')))
    st = '/1.0/instances/peerl/state'
    if x.status('peerl') != 'Stopped':
        x.op('PUT', st, {'action': 'stop', 'force': True, 'timeout': 30})
    for k in range(it + warm):
        sample('start', side, k, warm, timed(lambda: x.op('PUT', st, {'action': 'start', 'timeout': 30})))
        if x.status('peerl') != 'Running':
            raise SystemExit('peers.py: LXD: peerl is not running after start')
        sample('stop-kill', side, k, warm, timed(lambda: x.op('PUT', st, {'action': 'stop', 'force': True,
                                                                         'timeout': 30})))
    x.op('PUT', st, {'action': 'start', 'timeout': 30})
    body = {'command': ['true'], 'environment': {}, 'wait-for-websocket': False, 'interactive': False,
            'record-output': False}
    for k in range(max(it, 20) + warm):
        t0 = time.monotonic_ns()
        md = x.op('POST', '/1.0/instances/peerl/exec', body)
        us = (time.monotonic_ns() - t0) // 1000
        rc = (md.get('metadata') or {}).get('return')
        if rc != 0:
            raise SystemExit('peers.py: LXD: exec true returned %r' % rc)
        sample('exec(true)', side, k, warm, us)
    x.op('PUT', st, {'action': 'stop', 'force': True, 'timeout': 30})
    have = {os.path.basename(u) for u in x.call('GET', '/1.0/instances')['metadata']}
    for i in range(nlist - 1):
        if 'peerll%03d' % i not in have:
            x.op('POST', '/1.0/instances', {'name': 'peerll%03d' % i, 'source': {'type': 'none'}})
    n = len(x.call('GET', '/1.0/instances?recursion=1')['metadata'])
    if n < nlist:
        raise SystemExit('peers.py: LXD lists %d instances, expected %d' % (n, nlist))
    log('lxd (%s): list: %d instances' % (side, n))
    for k in range(it + warm):
        sample('list', side, k, warm, timed(lambda: x.call('GET', '/1.0/instances?recursion=1')))


# ---- report -------------------------------------------------------------------------------------
# The columns: each peer and which sides of the samples it is made of (bench-lxc names the lxc-*
# commands' side after the command).
PEERS = [('lxcbus', ['bus']), ('liblxc', ['liblxc']),
         ('lxc-* tools', ['lxc-start+wait', 'lxc-stop-k', 'lxc-attach', 'lxc-ls-f']),
         ('podman', ['podman']), ('LXD', ['lxd']), ('LXD+lxcfs', ['lxd+lxcfs'])]


def load(path):
    data = collections.defaultdict(lambda: collections.defaultdict(list))
    notes = []
    for line in open(path):
        f = line.split()
        if len(f) == 4 and f[0] == 'SAMPLE':
            data[f[1]][f[2]].append(int(f[3]) / 1000.0)
        elif line.startswith('NOTE '):
            notes.append(line[5:].strip())
    for n in notes:
        if n.startswith('iterations:') and 'listing: ' in n:
            TITLES['list'] = 'list %s' % n.split('listing: ')[1].split()[0]
    table = {}
    for peer, sides in PEERS:
        for m in METRICS:
            v = [x for s in sides for x in data.get(m, {}).get(s, [])]
            if v:
                table[peer, m] = v
    return table, notes


def fmt_ms(v):
    return '%.1f' % v if v >= 10 else '%.2f' % v


def fmt_ratio(r):
    return '%.2f' % r if r < 10 else '%.1f' % r if r < 100 else '%.0f' % r


def table_md(table):
    peers = [p for p, _ in PEERS if any((p, m) in table for m in METRICS)]
    rows = ['| operation | ' + ' | '.join(peers) + ' |', '|---|' + '---:|' * len(peers)]
    for m in METRICS:
        base = table.get(('lxcbus', m))
        cells = []
        for p in peers:
            v = table.get((p, m))
            if not v:
                cells.append('–')
                continue
            med = q(v, 0.5)
            cell = '%s ms' % fmt_ms(med)
            if p == 'lxcbus' and ('liblxc', m) in table:
                cell += ' (%s× liblxc)' % fmt_ratio(med / q(table['liblxc', m], 0.5))
            elif p != 'lxcbus' and base:
                cell += ' (%s×)' % fmt_ratio(med / q(base, 0.5))
            cells.append(cell + ' n=%d' % len(v) if len(v) < 20 else cell)
        rows.append('| %s | %s |' % (TITLES[m], ' | '.join(cells)))
    return '\n'.join(rows)


def table_text(table):
    out = ['%-12s %-12s %5s %9s %9s %9s   %s' % ('operation', 'peer', 'n', 'median', 'p10', 'p90', 'ratio')]
    for m in METRICS:
        base = table.get(('lxcbus', m))
        for p, _ in PEERS:
            v = table.get((p, m))
            if not v:
                continue
            med = q(v, 0.5)
            if p == 'lxcbus':
                ratio = ('lxcbus/liblxc = %.2fx' % (med / q(table['liblxc', m], 0.5))
                         if ('liblxc', m) in table else '')
            else:
                ratio = 'peer/lxcbus = %.2fx' % (med / q(base, 0.5)) if base else ''
            out.append('%-12s %-12s %5d %9.3f %9.3f %9.3f   %s' % (TITLES[m], p, len(v), med, q(v, 0.1),
                                                                  q(v, 0.9), ratio))
        out.append('')
    return '\n'.join(out)


def plot(table, svg, notes=()):
    import matplotlib
    matplotlib.use('svg' if svg.endswith('.svg') else 'agg')
    import matplotlib.pyplot as plt
    plt.rcParams['svg.hashsalt'] = 'lxcbus-peers'   # the same samples give the same file

    peers = [p for p, _ in PEERS if any((p, m) in table for m in METRICS)]
    colors = {'lxcbus': '#1f77b4', 'liblxc': '#7f7f7f', 'lxc-* tools': '#bcbd22', 'podman': '#9467bd',
              'LXD': '#d62728', 'LXD+lxcfs': '#ff9896'}
    fig, ax = plt.subplots(figsize=(10, 5.2))
    width = 0.8 / len(peers)
    for i, p in enumerate(peers):
        xs, meds, lo, hi = [], [], [], []
        for j, m in enumerate(METRICS):
            v = table.get((p, m))
            if not v:
                continue
            med = q(v, 0.5)
            xs.append(j - 0.4 + width * (i + 0.5))
            meds.append(med)
            lo.append(med - q(v, 0.1))
            hi.append(q(v, 0.9) - med)
        bars = ax.bar(xs, meds, width * 0.92, label=p, color=colors.get(p), yerr=[lo, hi],
                      error_kw={'elinewidth': 0.8, 'capsize': 2, 'ecolor': '#333333'})
        # The median's value just above the p90 whisker, so that neither hides the other.
        for b, med, h in zip(bars, meds, hi):
            ax.annotate(fmt_ms(med), (b.get_x() + b.get_width() / 2, med + h), xytext=(0, 2),
                        textcoords='offset points', ha='center', va='bottom', fontsize=7, rotation=90)
    ax.set_yscale('log')
    ax.set_xticks(range(len(METRICS)))
    ax.set_xticklabels([TITLES[m] for m in METRICS])
    ax.set_ylabel('latency, ms (median; whiskers p10–p90; log scale)')
    ax.set_title('lxcbus and its peers: same machine, same run, busybox rootfs (lower is better)')
    ax.grid(axis='y', which='major', alpha=0.4)
    ax.set_ylim(top=ax.get_ylim()[1] * 3)
    ax.legend(ncol=len(peers), fontsize=8, loc='upper center')
    when = [n for n in notes if n.startswith('date ')]
    if when:
        fig.text(0.01, 0.005, when[0][5:] + '; same run, figures noisy: compare ratios', fontsize=7,
                 color='#555555', ha='left', va='bottom')
    fig.tight_layout()
    fig.savefig(svg, metadata={'Date': None} if svg.endswith('.svg') else None)


def replace_block(path, text):
    begin, end = '<!-- peers-table begin -->', '<!-- peers-table end -->'
    doc = open(path).read()
    a, b = doc.find(begin), doc.find(end)
    if a < 0 or b < a:
        raise SystemExit('peers.py: %s has no %s ... %s markers' % (path, begin, end))
    doc = doc[:a + len(begin)] + '\n' + text + '\n' + doc[b:]
    with open(path + '.tmp', 'w') as f:
        f.write(doc)
    os.rename(path + '.tmp', path)


def report(samples, svg=None, readme=None):
    table, notes = load(samples)
    if not table:
        raise SystemExit('peers.py: no samples in %s' % samples)
    print('lxcbus against its peers (ms; median, p10, p90 of n timed runs; ratio = median(peer)/median(lxcbus),')
    print('and for lxcbus median(lxcbus)/median(liblxc))')
    print(table_text(table))
    for n in notes:
        print('note: ' + n)
    if svg:
        plot(table, svg, notes)
        log('wrote %s' % svg)
    if readme:
        replace_block(readme, table_md(table))
        log('updated the table in %s' % readme)


def main(argv):
    if len(argv) == 6 and argv[1] == 'podman':
        run_podman(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif len(argv) == 6 and argv[1] == 'lxd':
        run_lxd(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif 3 <= len(argv) <= 5 and argv[1] == 'report':
        report(*argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
