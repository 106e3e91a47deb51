#!/usr/bin/python3
"""bench/metrics.py: the cost of Manager.GetMetrics with many running instances.

Run inside a test host by the integration harness (it boots one, installs the build, starts lxcbusd):

    tests/integration/run.sh BUILD_DIR bench/metrics.py

Creates LXCBENCH_METRICS_N (default 50) busybox instances, starts them, then times GetMetrics calls
(LXCBENCH_METRICS_ITER, default 100) on the bus and prints '# ...' lines: the median, p10 and p90 of
the round trip, the size of the text, and, for scale, the round trip of ListInstances. A figure, not an
assertion; the instances are force-deleted at the end. (The harness passes no environment into the
test host, so the defaults are what runs there.)
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'integration'))

from lxcbustest import *  # noqa: E402,F403
from lxcbushelp import *  # noqa: E402,F403

N = int(os.environ.get('LXCBENCH_METRICS_N', '50'))
ITER = int(os.environ.get('LXCBENCH_METRICS_ITER', '100'))
BATCH = 8   # calls in flight at once, well under the per-uid operation limit
T = Tracker()
on_exit(T.cleanup)
NAMES = ['bm%02d-%s' % (k, unique_name('m')[-6:]) for k in range(N)]


def in_batches(calls):
    for k in range(0, len(calls), BATCH):
        for res in call_many(calls[k:k + BATCH], timeout=300):
            assert not isinstance(res, Exception), res


def timed(method, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        reply = call(MANAGER_PATH, MANAGER_IFACE, method)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, reply


def quantiles(samples):
    q = statistics.quantiles(samples, n=10)
    return 'median %.2f ms, p10 %.2f, p90 %.2f' % (statistics.median(samples), q[0], q[-1])


@test
def get_metrics_with_many_instances():
    t0 = time.monotonic()
    for name in NAMES:
        T.add(name)
    in_batches([(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(name)) for name in NAMES])
    in_batches([(instance_path(name), INSTANCE_IFACE, 'Start', opts()) for name in NAMES])
    print('# %d instances created and started in %.1f s' % (N, time.monotonic() - t0))
    text = call(MANAGER_PATH, MANAGER_IFACE, 'GetMetrics')
    running = text.count('state="running"} 1\n')
    assert running >= N, running
    timed('GetMetrics', 5)   # warm-up
    samples, reply = timed('GetMetrics', ITER)
    print('# GetMetrics, %d running instances, %d calls: %s; %d bytes, %d lines'
          % (running, ITER, quantiles(samples), len(reply), reply.count('\n')))
    samples, _ = timed('ListInstances', ITER)
    print('# ListInstances for scale: %s' % quantiles(samples))


if __name__ == '__main__':
    main()
