#!/usr/bin/python3
"""liblxcbus from JavaScript: src/liblxcbus/tests/test-liblxcbus.js run by GJS (Debian's gjs) with
gi://Lxcbus, the installed typelib: LxcbusClient created asynchronously (a promise), the instances listed,
one started and stopped with start_instance/stop_instance as promises while its State comes by
notify::state, and an error in the LXCBUS_ERROR domain."""

import os
import subprocess

from lxcbustest import *
from lxcbushelp import *

# The sanitizer build makes no typelib (see test_liblxcbus.py): nothing to run there.
SKIP = os.environ.get('LXCBUS_SANITIZE') == '1'
SCRIPT = os.path.join(SRC_DIR, 'src', 'liblxcbus', 'tests', 'test-liblxcbus.js')
NAME = unique_name('gjs')
tracker = Tracker()


@test
def setup():
    create_instance(tracker.add(NAME))


@test
def gjs_lists_starts_and_stops_through_lxcbus_client():
    if SKIP:
        return
    out = subprocess.run(['gjs', '-m', SCRIPT, NAME], capture_output=True, text=True, timeout=300 * SLOW)
    print('\n'.join('# ' + l for l in (out.stdout + out.stderr).splitlines()))
    assert out.returncode == 0, out.returncode
    for step in ('list', 'start', 'stop', 'no such instance'):
        assert 'ok - %s' % step in out.stdout.splitlines(), step
    # what the script did, as the daemon saw it: the instance ran (LastUsedAt) and is stopped again
    assert instance_prop(NAME, 'State') == 'stopped'
    assert instance_prop(NAME, 'LastUsedAt') > 0


on_exit(tracker.cleanup)

if __name__ == '__main__':
    main()
