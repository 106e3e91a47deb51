#!/usr/bin/python3
"""How long the Cockpit page takes to show 200 instances, and how many bus calls it makes to do so.

Not a test_*.py that run.sh picks up by itself (creating and deleting 200 instances takes minutes): run
it by hand as

    tests/integration/run.sh BUILD tests/integration/cockpit_scale_only.py

It creates 200 stopped busybox instances over the bus, watches the method calls to org.lxcbus1 with
dbus-monitor while the page loads (from the browser's request to every row shown), and prints the time,
the calls by member, and fails if the page shows fewer rows or calls anything per instance (stopped
instances need no GetState)."""

import time

from lxcbustest import *
from lxcbushelp import *
from cockpithelp import *

N = 200
T = Tracker()
ST = {}


@on_exit
def cleanup():
    stop_all(ST)
    t0 = time.monotonic()
    T.cleanup()
    print('# deleting %d instances: %.1f s' % (len(T.names), time.monotonic() - t0))


@test
def page_shows_200_instances():
    t0 = time.monotonic()
    for i in range(N):
        name = T.add('sc-%03d' % i)
        cleanup_instance(name)
        create_instance(name)
    print('# creating %d instances: %.1f s' % (N, time.monotonic() - t0))
    ST['ws'] = start_ws(PORT)
    with BusCalls() as mon:
        ST['browser'] = b = Browser()
        r = b.do('open', 120, url=url())
        time.sleep(2)   # calls made after the list was shown (there should be none) still count
    calls = mon.calls
    print('# the page showed %d rows in %d ms (browser: page request to the last row rendered)'
          % (r['rows'], r['ms']))
    print('# method calls to org.lxcbus1 meanwhile: %d: %s' % (sum(calls.values()), dict(calls)))
    assert r['rows'] >= N, r
    assert sum(calls.values()) < 20, calls


if __name__ == '__main__':
    main()
