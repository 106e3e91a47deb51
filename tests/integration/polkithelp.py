"""Helpers for the polkit tests (test_polkit*.py): users and groups made
inside the test host, JS rules in /etc/polkit-1/rules.d, a client that runs
as a user and makes calls for the test, a spy rule that records the details
of every lxcbus check, direct CheckAuthorization probes, and the checked
methods read from dbus-interfaces/*.xml. Not a test file itself.

Everything here writes only inside the test host: its /etc is an overlay on
tmpfs and /home a tmpfs (TESTHOST.md, section 8)."""

import inspect
import json
import os
import re
import select
import statistics
import subprocess
import xml.etree.ElementTree as ET

from lxcbustest import (GLib, Gio, V, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, INSTANCE_IFACE,
                        OPERATION_IFACE, BusError, bus, call, get_prop, wait_for, run, instance_path,
                        SLOW)
from lxcbushelp import read_until, file_text, save_file, restore_files

__all__ = [
    'SRC_DIR', 'RULES_DIR', 'DOC_RULES_DIR', 'ACCESS_DENIED', 'INTERACTIVE_REQUIRED',
    'PROCESS_IFACE', 'OPEN_METHODS', 'xml_methods', 'checked_methods',
    'add_group', 'add_user', 'remove_users', 'uid_of', 'install_rule', 'install_doc_rule',
    'remove_rule', 'remove_all_rules', 'Agent', 'agent', 'close_agents', 'pk_check', 'wait_rule', 'SPY_RULE', 'Spy',
    'ensure_subids', 'restore_subids', 'variant_text', 'median_ms', 'stats_ms',
    'private_root_conn',
    'root_exec', 'INTERACTIVE', 'exec_params', 'NULL_FDS', 'OUT_PIPE',
]

SRC_DIR = os.environ.get('LXCBUS_SRC_DIR') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
RULES_DIR = '/etc/polkit-1/rules.d'
DOC_RULES_DIR = os.path.join(SRC_DIR, 'docs', 'polkit-rules')
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'
PROCESS_IFACE = 'org.lxcbus1.Process'
INTERACTIVE = int(Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION)

# The calls that need no authorization (polkit-spec.md): everything else in
# the XML must have a polkit test.
OPEN_METHODS = {
    'org.lxcbus1.Manager.ListInstances', 'org.lxcbus1.Manager.GetInstance',
    'org.lxcbus1.Manager.ListOperations', 'org.lxcbus1.Instance.GetState',
    'org.lxcbus1.Operation.Wait', 'org.lxcbus1.Process.Wait',
}


# ---- the contract ------------------------------------------------------------------

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


# ---- users, groups, rules ----------------------------------------------------------

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
# private ones (race). It reads fds with lxcbushelp.read_until, whose source
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


def exec_params(argv):
    """Exec(argv) with no environment: stdin, stdout, stderr are handles 0,
    1, 2 of the fd list the agent sends (in_fds=NULL_FDS or OUT_PIPE)."""
    return V('(asa{ss}hhha{sv})', (argv, {}, 0, 1, 2, {}))


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


# ---- the daemon and root-side helpers ----------------------------------------------------

def private_root_conn():
    """A root connection of its own (closing it makes the bus tell the
    daemon that this caller left)."""
    addr = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
    return Gio.DBusConnection.new_for_address_sync(
        addr, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def root_exec(name, argv, timeout=30):
    """Exec argv in instance `name` as root with stdout on a pipe; returns
    (status, signal, stdout text)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    nul_r = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)
    nul_w = os.open('/dev/null', os.O_WRONLY | os.O_CLOEXEC)
    fdl = Gio.UnixFDList()
    try:
        idx = [fdl.append(fd) for fd in (nul_r, w, nul_w)]
        proc = call(instance_path(name), INSTANCE_IFACE, 'Exec',
                    V('(asa{ss}hhha{sv})', (argv, {}, idx[0], idx[1], idx[2], {})), fd_list=fdl,
                    timeout=timeout)
    finally:
        for fd in fdl.steal_fds():
            os.close(fd)
        for fd in (w, nul_r, nul_w):
            os.close(fd)
    try:
        out = read_until(r, None, timeout)
    finally:
        os.close(r)
    status, sig = call(proc, PROCESS_IFACE, 'Wait', timeout=timeout)
    return status, sig, out.decode('latin1')


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
