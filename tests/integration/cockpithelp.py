#!/usr/bin/python3
"""The Cockpit page's browser and web server for test_cockpit*.py and cockpit_scale_only.py: cockpit-ws
--no-tls --local-session=cockpit-bridge on the test host's own loopback, and tests/browser/driver.mjs
(Debian's chromium, headless, driven by playwright-core)."""

import collections
import json
import os
import re
import select
import socket
import subprocess
import time

from lxcbustest import *
from lxcbushelp import *

BROWSER_DIR = os.path.join(SRC_DIR, 'tests', 'browser')
DRIVER = os.path.join(BROWSER_DIR, 'driver.mjs')
WS = '/usr/lib/cockpit/cockpit-ws'
BRIDGE = '/usr/bin/cockpit-bridge'
PORT = 9090                 # the test host's own loopback: never reachable from outside
PORT_USER = 9091            # a second cockpit-ws whose bridge runs as an unprivileged user
PAGE = '/cockpit/@localhost/lxcbus/index.html'


class Browser:
    """One driver.mjs process: a command a line, a JSON reply a line."""

    def __init__(self):
        cmd = ['node', DRIVER]
        env = dict(os.environ, HOME='/tmp/lxcbus-browser-home')
        os.makedirs(env['HOME'], exist_ok=True)
        self.p = subprocess.Popen(cmd, cwd=BROWSER_DIR, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

    def do(self, cmd, timeout=60, **kw):
        self.p.stdin.write(json.dumps(dict(cmd=cmd, **kw)) + '\n')
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout * SLOW)
        assert ready, 'browser: no reply to %s in %d s' % (cmd, timeout * SLOW)
        line = self.p.stdout.readline()
        assert line, 'browser: driver exited (rc %r) during %s' % (self.p.poll(), cmd)
        r = json.loads(line)
        assert r.pop('ok'), 'browser: %s %r: %s' % (cmd, kw, r.get('error'))
        return r

    def row(self, name, state=None, address=False, timeout=30):
        return self.do('row', timeout + 10, name=name, state=state, address=address,
                       timeout_ms=timeout * SLOW * 1000)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write('{"cmd": "quit"}\n')
                self.p.stdin.flush()
                self.p.stdin.close()    # node exits only once its stdin is closed too (else 20 s lost)
                self.p.wait(20)
            except Exception:
                self.p.kill()
                self.p.wait()


def start_ws(port, user=None):
    cmd = [WS, '--no-tls', '--local-session=' + BRIDGE, '-p', str(port), '-a', '127.0.0.1']
    if user:
        cmd = ['setpriv', '--reuid=' + user, '--regid=' + user, '--init-groups', '--'] + cmd
    env = dict(os.environ, HOME=os.path.expanduser('~' + user) if user else '/root')
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)

    def listening():
        assert p.poll() is None, 'cockpit-ws exited with %r' % p.returncode
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, 20 * SLOW, 'cockpit-ws on 127.0.0.1:%d' % port)
    return p


def url(port=PORT):
    return 'http://127.0.0.1:%d%s' % (port, PAGE)


def stop_all(st):
    """At exit: close every Browser and stop every cockpit-ws among the values of dict st."""
    for v in st.values():
        if isinstance(v, Browser):
            v.close()
    for v in st.values():
        if isinstance(v, subprocess.Popen):
            stop_process(v)


def open_as_user(st, user):
    """The page as `user` (made if need be), through a second cockpit-ws whose bridge runs as that user, in a
    second browser: st['ws_user'] and st['browser_user'], which is returned."""
    add_user(user)
    st['ws_user'] = start_ws(PORT_USER, user)
    st['browser_user'] = b = Browser()
    b.do('open', 90, url=url(PORT_USER))
    return b


class BusCalls:
    """The method calls to org.lxcbus1 while in the with block, by member (a Counter in .calls), seen by
    dbus-monitor (its own name and the daemon's unique name: a call may be addressed to either)."""

    def __enter__(self):
        owner = call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetNameOwner', V('(s)', (BUS_NAME,)),
                     dest='org.freedesktop.DBus')
        self.p = subprocess.Popen(
            ['dbus-monitor', '--system', "type='method_call',destination='%s'" % BUS_NAME,
             "type='method_call',destination='%s'" % owner],
            stdout=subprocess.PIPE, text=True)
        time.sleep(1)   # dbus-monitor is monitoring
        return self

    def __exit__(self, *exc):
        self.p.terminate()
        out = self.p.communicate(timeout=10)[0]
        self.calls = collections.Counter(re.findall(r'^method call .*member=(\S+)', out, re.M))
        return False
