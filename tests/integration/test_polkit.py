#!/usr/bin/python3
"""Authorization with a real polkitd and real users (made inside the test
host), decided by JS rules in /etc/polkit-1/rules.d:

- every method that is not open (the list comes from dbus-interfaces/*.xml):
  a user a rule allows succeeds, a user without a rule gets AccessDenied and
  nothing changes;
- the details reach the rule: instance, command_line (with its quoting),
  verb, owner/owner_uid; the example rules of docs/polkit-rules/ installed
  verbatim;
- a rule answering AUTH_ADMIN and a call without the interactive flag:
  InteractiveAuthorizationRequired;
- an unprivileged owner creates, starts, execs into and deletes an idmapped
  instance;
- root bypasses a rule that denies everything;
- the latency an authorized non-root call pays for the polkit round trip
  (printed, not asserted).

A spy rule (decides nothing) records every check with its details in the
journal, so each case also asserts exactly which details the daemon sent.
polkitd stopped or hanging and callers that leave during a check:
test_polkit_race.py."""

import os

from lxcbustest import *
from lxcbushelp import *

T = Tracker()

RUN = unique_name('pkrun')      # busybox, kept running
STOPPED = unique_name('pkstop')  # busybox, kept stopped
CONF = unique_name('pkconf')    # source none, for SetConfig
st = {}


def ADMIN():
    return agent('pkadmin')


def NOBODY():
    return agent('pknobody')


def denied(res, member, action, instance=None):
    """res (an Agent answer) is AccessDenied naming the method, the action
    and the instance; the daemon is still the same process."""
    assert not res['ok'], '%s by a user no rule allows succeeded: %r' % (member, res)
    assert res['error'] == ACCESS_DENIED, '%s: expected AccessDenied, got %s: %s' % (
        member, res['error'], res['message'])
    msg = res['message']
    assert member in msg and action in msg, 'AccessDenied for %s does not name %s and %s: %r' % (
        member, member, action, msg)
    if instance is not None:
        assert "'%s'" % instance in msg, 'AccessDenied for %s does not name %r: %r' % (member, instance, msg)
    check_daemon_alive()


def allowed(res, member):
    """res succeeded; returns the reply as lxcbustest.call does (None, the
    one value, or a list of them)."""
    assert res['ok'], '%s by a user a rule allows failed: %s: %s' % (
        member, res.get('error'), res.get('message'))
    v = res['value']
    return None if len(v) == 0 else v[0] if len(v) == 1 else v


def ensure_running(name):
    s = instance_prop(name, 'State')
    if s == 'frozen':
        call(instance_path(name), INSTANCE_IFACE, 'Unfreeze')
        wait_prop(instance_path(name), INSTANCE_IFACE, 'State', 'running')
    elif s != 'running':
        start_instance(name)


def ensure_stopped(name):
    if instance_prop(name, 'State') == 'frozen':
        call(instance_path(name), INSTANCE_IFACE, 'Unfreeze')
    if instance_prop(name, 'State') != 'stopped':
        call(instance_path(name), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 0)), timeout=90)
    wait_prop(instance_path(name), INSTANCE_IFACE, 'State', 'stopped')


def file_in(name, path):
    """Does `path` exist inside instance `name` (asked as root)?"""
    status, sig, out = root_exec(name, ['test', '-e', path])
    assert sig == 0 and status in (0, 1), (status, sig, out)
    return status == 0


def make_etc_hostname(name):
    """The busybox template writes no /etc/hostname; the command rules cat it."""
    assert root_exec(name, ['sh', '-c', 'test -s /etc/hostname || hostname > /etc/hostname'])[:2] == (0, 0)


def root_exec_start(name, argv):
    """Exec argv as root (stdio /dev/null) without waiting; the process path."""
    return exec_start(name, argv, timeout=120)


# ---- what the daemon told polkit ---------------------------------------------------------

SPY = Spy()


# What each verb adds to verb, instance, owner (docs/polkit.md), for the
# calls the cases make.
EXEC_DEFAULTS = {'uid': '0', 'gid': '0', 'cwd': '/root', 'env': '', 'env_names': '', 'env_clear': 'false'}
PTY_DEFAULTS = dict(EXEC_DEFAULTS, term='xterm')
NO_CONFIG_KEYS = {'keys': ''}
DESCRIPTION_ONLY = {'keys': 'description', 'set_keys': 'description', 'unset_keys': ''}


def expect_details(user, action, verb, instance, owner_uid=0, owner='root', command_line=None, exact=True,
                   extra=None):
    """The spy saw a check of `action` for `user` with exactly these details
    (keys polkit itself reserves, polkit.*, aside), `extra` those beyond
    verb, instance, owner and command_line."""
    want = dict(extra or {}, verb=verb, instance=instance)
    if owner_uid is not None:
        want['owner_uid'] = str(owner_uid)
        want['owner'] = owner
    if command_line is not None:
        want['command_line'] = command_line
    rec = SPY.wait(lambda r: r['user'] == user and r['action'] == action
                   and r['details'].get('verb') == verb and r['details'].get('instance') == instance
                   and (command_line is None or r['details'].get('command_line') == command_line),
                   '%s %s verb=%s instance=%s command_line=%s'
                   % (user, action, verb, instance, command_line))
    got = {k: v for k, v in rec['details'].items() if not k.startswith('polkit.')}
    if exact:
        assert got == want, 'details of %s for %s: got %s, expected %s' % (action, user, got, want)
    else:
        for k, v in want.items():
            assert got.get(k) == v, 'detail %s of %s for %s: got %r, expected %r (all: %s)' % (
                k, action, user, got.get(k), v, got)
    return got


# ---- setup -------------------------------------------------------------------------------

@test
def setup_users_rules_and_instances():
    ensure_subids()
    for f in sorted(os.listdir(RULES_DIR)):
        assert not f.startswith('00-lxcbus') and not f.startswith('50-lxcbus'), \
            'leftover rule %s/%s' % (RULES_DIR, f)
    add_user('pkadmin', ['lxcbus-admins'])
    add_user('pknobody')
    install_rule('00-lxcbus-spy.rules', SPY_RULE)
    install_doc_rule('50-lxcbus-admins.rules')
    for n in (RUN, STOPPED):
        T.add(n)
        create_instance(n)
    T.add(CONF)
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(CONF, NONE_SOURCE))
    start_instance(RUN)
    wait_rule(ADMIN().name, 'org.lxcbus1.manage', {'verb': 'start', 'instance': RUN}, True)
    wait_rule(NOBODY().name, 'org.lxcbus1.manage', {'verb': 'start', 'instance': RUN}, False)


@test
def doc_rules_are_installed_as_in_the_tree():
    """docs/polkit.md points at /usr/share/doc/lxcbus/polkit-rules/: what
    meson installed there is what these tests install verbatim."""
    installed = '/usr/share/doc/lxcbus/polkit-rules'
    tree = sorted(f for f in os.listdir(DOC_RULES_DIR) if f.endswith('.rules'))
    assert tree == ['50-lxcbus-admins.rules', '50-lxcbus-exec-command.rules', '50-lxcbus-exec-web.rules',
                    '50-lxcbus-owners.rules'], tree
    assert sorted(os.listdir(installed)) == tree, sorted(os.listdir(installed))
    for f in tree:
        with open(os.path.join(DOC_RULES_DIR, f)) as a, open(os.path.join(installed, f)) as b:
            assert a.read() == b.read(), '%s/%s differs from the tree' % (installed, f)


@test
def every_checked_method_has_a_case():
    """A method added to the XML without a polkit case here fails this test."""
    methods = checked_methods()
    missing = sorted(methods - set(CASES))
    extra = sorted(set(CASES) - methods)
    assert not missing, 'methods without a polkit test case: %s' % missing
    assert not extra, 'polkit test cases for methods the XML lacks: %s' % extra
    spec = {'org.lxcbus1.Manager.CreateInstance', 'org.lxcbus1.Instance.Start', 'org.lxcbus1.Instance.Stop',
            'org.lxcbus1.Instance.Restart', 'org.lxcbus1.Instance.Freeze', 'org.lxcbus1.Instance.Unfreeze',
            'org.lxcbus1.Instance.Kill', 'org.lxcbus1.Instance.Delete', 'org.lxcbus1.Instance.SetConfig',
            'org.lxcbus1.Instance.Exec', 'org.lxcbus1.Instance.ExecPty', 'org.lxcbus1.Instance.OpenConsole',
            'org.lxcbus1.Instance.ConsoleLog', 'org.lxcbus1.Operation.Cancel', 'org.lxcbus1.Process.Signal'}
    assert spec <= methods, 'the XML lost methods of the spec table: %s' % sorted(spec - methods)


@test
def open_methods_need_no_rule():
    a = NOBODY()
    assert allowed(a.call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'), 'ListInstances')
    res = a.call(MANAGER_PATH, MANAGER_IFACE, 'GetInstance', V('(s)', (RUN,)))
    assert allowed(res, 'GetInstance') == instance_path(RUN)
    allowed(a.call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations'), 'ListOperations')
    allowed(a.call(instance_path(RUN), INSTANCE_IFACE, 'GetState'), 'GetState')
    assert 'lxcbus_instance_state' in allowed(a.call(MANAGER_PATH, MANAGER_IFACE, 'GetMetrics'), 'GetMetrics')
    allowed(a.call(instance_path(RUN), PROPS_IFACE, 'GetAll', V('(s)', (INSTANCE_IFACE,))), 'GetAll')


# ---- one case per checked method: denied without a rule, allowed with one -------------

CASES = {}


def case(key):
    def reg(fn):
        CASES['org.lxcbus1.' + key] = fn
        return fn
    return reg


@case('Manager.CreateInstance')
def case_create():
    n1 = T.add(unique_name('pkc'))
    before, listed = fs_snapshot(), sorted(x[0] for x in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances'))
    denied(NOBODY().call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n1), timeout=300),
           'CreateInstance', 'org.lxcbus1.create', n1)
    assert not instance_exists(n1)
    assert fs_snapshot() == before
    assert sorted(x[0] for x in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')) == listed
    expect_details('pknobody', 'org.lxcbus1.create', 'create', n1, uid_of('pknobody'), 'pknobody',
                   extra=dict(NO_CONFIG_KEYS, template='busybox'))

    n2 = T.add(unique_name('pkc'))
    path, op = allowed(ADMIN().call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                                    create_params(n2, NONE_SOURCE), timeout=300), 'CreateInstance')
    assert path == instance_path(n2) and instance_exists(n2)
    assert instance_prop(n2, 'Owner') == uid_of('pkadmin'), instance_prop(n2, 'Owner')
    assert get_prop(op, OPERATION_IFACE, 'StartedByUID') == uid_of('pkadmin')
    expect_details('pkadmin', 'org.lxcbus1.create', 'create', n2, uid_of('pkadmin'), 'pkadmin',
                   extra=dict(NO_CONFIG_KEYS, template='none'))
    cleanup_instance(n2)


def manage_case(name, method, params, verb, unchanged, done, timeout=60, extra=None):
    """METHOD (action org.lxcbus1.manage) on instance `name`: pknobody is
    refused and unchanged() holds; pkadmin succeeds and done() holds. The spy
    saw both checks with their details."""
    denied(NOBODY().call(instance_path(name), INSTANCE_IFACE, method, params), method, 'org.lxcbus1.manage', name)
    unchanged()
    expect_details('pknobody', 'org.lxcbus1.manage', verb, name, extra=extra)

    allowed(ADMIN().call(instance_path(name), INSTANCE_IFACE, method, params, timeout=timeout), method)
    done()
    expect_details('pkadmin', 'org.lxcbus1.manage', verb, name, extra=extra)


def assert_state(name, state):
    assert instance_prop(name, 'State') == state, (name, instance_prop(name, 'State'), state)


def assert_init_lives(pid):
    """RUN still runs, with the same init `pid`."""
    assert instance_prop(RUN, 'State') == 'running' and instance_prop(RUN, 'Pid') == pid and pid_alive(pid)


@case('Instance.Start')
def case_start():
    ensure_stopped(STOPPED)

    def not_started():
        assert instance_prop(STOPPED, 'State') == 'stopped' and instance_prop(STOPPED, 'Pid') == 0
        assert scope_state(scope_of(STOPPED))[1] != 'active', scope_state(scope_of(STOPPED))

    def started():
        assert instance_prop(STOPPED, 'State') == 'running' and instance_prop(STOPPED, 'Pid') > 0
    manage_case(STOPPED, 'Start', opts(), 'start', not_started, started, timeout=120)
    ensure_stopped(STOPPED)


@case('Instance.Stop')
def case_stop():
    ensure_running(RUN)
    pid = instance_prop(RUN, 'Pid')
    manage_case(RUN, 'Stop', opts(timeout_sec=V('u', 0)), 'stop', lambda: assert_init_lives(pid),
                lambda: assert_state(RUN, 'stopped'), timeout=90, extra={'force': 'true', 'timeout_sec': '0'})
    ensure_running(RUN)


@case('Instance.Restart')
def case_restart():
    ensure_running(RUN)
    pid = instance_prop(RUN, 'Pid')

    def restarted():
        assert instance_prop(RUN, 'State') == 'running' and instance_prop(RUN, 'Pid') not in (0, pid)
    manage_case(RUN, 'Restart', opts(timeout_sec=V('u', 0)), 'restart', lambda: assert_init_lives(pid),
                restarted, timeout=120, extra={'force': 'true', 'timeout_sec': '0'})


@case('Instance.Freeze')
def case_freeze():
    ensure_running(RUN)
    manage_case(RUN, 'Freeze', None, 'freeze', lambda: assert_state(RUN, 'running'),
                lambda: wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'frozen'))
    ensure_running(RUN)


@case('Instance.Unfreeze')
def case_unfreeze():
    ensure_running(RUN)
    call(instance_path(RUN), INSTANCE_IFACE, 'Freeze')
    wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'frozen')
    manage_case(RUN, 'Unfreeze', None, 'unfreeze', lambda: assert_state(RUN, 'frozen'),
                lambda: wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'running'))


@case('Instance.Kill')
def case_kill():
    ensure_running(RUN)
    pid = instance_prop(RUN, 'Pid')

    def killed():
        wait_for(lambda: not pid_alive(pid), 30, 'init %d killed' % pid)
        wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'stopped')
    manage_case(RUN, 'Kill', V('(ib)', (9, False)), 'kill', lambda: assert_init_lives(pid), killed,
                extra={'signal': '9', 'signal_name': 'SIGKILL', 'all': 'false'})
    ensure_running(RUN)


@case('Instance.Delete')
def case_delete():
    d = T.add(unique_name('pkdel'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(d, NONE_SOURCE))
    before = fs_snapshot()
    denied(NOBODY().call(instance_path(d), INSTANCE_IFACE, 'Delete', opts(force=V('b', True))), 'Delete',
           'org.lxcbus1.delete', d)
    assert instance_exists(d) and fs_snapshot() == before
    expect_details('pknobody', 'org.lxcbus1.delete', 'delete', d, extra={'force': 'true'})

    allowed(ADMIN().call(instance_path(d), INSTANCE_IFACE, 'Delete', opts(force=V('b', True))), 'Delete')
    assert not instance_exists(d)
    expect_details('pkadmin', 'org.lxcbus1.delete', 'delete', d, extra={'force': 'true'})


@case('Instance.SetConfig')
def case_set_config():
    gen, cfg = instance_prop(CONF, 'Generation'), instance_prop(CONF, 'Config')
    params = V('(a{ss}asa{sv})', ({'description': 'by pknobody'}, [], {}))
    denied(NOBODY().call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig', params),
           'SetConfig', 'org.lxcbus1.config', CONF)
    assert instance_prop(CONF, 'Generation') == gen and instance_prop(CONF, 'Config') == cfg
    expect_details('pknobody', 'org.lxcbus1.config', 'set-config', CONF, extra=DESCRIPTION_ONLY)

    params = V('(a{ss}asa{sv})', ({'description': 'by pkadmin'}, [], {}))
    allowed(ADMIN().call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig', params), 'SetConfig')
    assert instance_prop(CONF, 'Generation') == gen + 1 and instance_prop(CONF, 'Description') == 'by pkadmin'
    expect_details('pkadmin', 'org.lxcbus1.config', 'set-config', CONF, extra=DESCRIPTION_ONLY)


@case('Instance.Exec')
def case_exec():
    ensure_running(RUN)
    ops = operations_of_kind('exec')
    denied(NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'Exec', exec_params(['touch', '/tmp/pk-exec-denied']),
                         in_fds=NULL_FDS), 'Exec', 'org.lxcbus1.exec', RUN)
    made = operations_of_kind('exec') - ops
    assert made == set(), 'a denied Exec made a process object: %s' % made
    assert not file_in(RUN, '/tmp/pk-exec-denied'), 'the denied Exec ran'
    expect_details('pknobody', 'org.lxcbus1.exec', 'exec', RUN, command_line='touch /tmp/pk-exec-denied',
                   extra=EXEC_DEFAULTS)

    proc = allowed(ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'Exec',
                                exec_params(['touch', '/tmp/pk-exec-ok']), in_fds=NULL_FDS), 'Exec')
    assert tuple(call(proc, PROCESS_IFACE, 'Wait')) == (0, 0)
    assert file_in(RUN, '/tmp/pk-exec-ok')
    expect_details('pkadmin', 'org.lxcbus1.exec', 'exec', RUN, command_line='touch /tmp/pk-exec-ok',
                   extra=EXEC_DEFAULTS)


@case('Instance.ExecPty')
def case_exec_pty():
    ensure_running(RUN)
    ops = operations_of_kind('exec')
    res = NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'ExecPty',
                        V('(asa{ss}a{sv})', (['touch', '/tmp/pk-pty-denied'], {}, {})))
    denied(res, 'ExecPty', 'org.lxcbus1.exec', RUN)
    assert res['nfds'] == 0
    assert operations_of_kind('exec') - ops == set()
    assert not file_in(RUN, '/tmp/pk-pty-denied'), 'the denied ExecPty ran'
    expect_details('pknobody', 'org.lxcbus1.exec', 'exec-pty', RUN, command_line='touch /tmp/pk-pty-denied',
                   extra=PTY_DEFAULTS)

    res = ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'ExecPty',
                       V('(asa{ss}a{sv})', (['sh', '-c', 'echo pty-$((6*7))'], {}, {})),
                       fd_script=[['read_until', 'pty-42', 15], ['read_all', 15]])   # to EIO: it has exited
    h, proc = allowed(res, 'ExecPty')
    assert res['nfds'] == 1 and res['isatty'] and 'pty-42' in res['fd_data'], res
    assert tuple(call(proc, PROCESS_IFACE, 'Wait')) == (0, 0)
    expect_details('pkadmin', 'org.lxcbus1.exec', 'exec-pty', RUN, command_line="sh -c 'echo pty-$((6*7))'",
                   extra=PTY_DEFAULTS)


@case('Instance.OpenConsole')
def case_open_console():
    ensure_running(RUN)
    res = NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'OpenConsole', V('(i)', (-1,)))
    denied(res, 'OpenConsole', 'org.lxcbus1.console', RUN)
    assert res['nfds'] == 0
    expect_details('pknobody', 'org.lxcbus1.console', 'open-console', RUN)
    # nobody holds the console: root gets it (on a connection of its own,
    # which then leaves and so releases it)
    conn = private_root_conn()
    try:
        os.close(open_console(RUN, conn=conn))
    finally:
        conn.close_sync(None)

    last = {}

    def open_it():
        last['r'] = r = ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'OpenConsole', V('(i)', (-1,)),
                                     fd_script=[['write', '\n'], ['read_until', '# ', 10],
                                                ['write', 'echo con-$((6*7))\n'],
                                                ['read_until', 'con-42', 10]])
        if not r['ok'] and r['error'] == ERR + 'Busy':
            return False    # root's terminal not released yet
        return True
    wait_for(open_it, 15, 'OpenConsole by pkadmin')
    res = last['r']
    allowed(res, 'OpenConsole')
    assert res['nfds'] == 1 and res['isatty'] and 'con-42' in res['fd_data'], res
    expect_details('pkadmin', 'org.lxcbus1.console', 'open-console', RUN)


@case('Instance.ConsoleLog')
def case_console_log():
    ensure_running(RUN)
    log0 = console_log(RUN)
    res = NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'ConsoleLog', V('(a{sv})', ({'clear': V('b', True)},)))
    denied(res, 'ConsoleLog', 'org.lxcbus1.console', RUN)
    assert res['nfds'] == 0
    log1 = console_log(RUN)
    assert log0 and log1.startswith(log0), \
        'the console log changed by a denied ConsoleLog(clear): %r -> %r' % (log0[-200:], log1[-200:])
    # clearing is a verb of its own (so a rule allowing console-log cannot be used to erase it)
    expect_details('pknobody', 'org.lxcbus1.console', 'console-log-clear', RUN)

    res = ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'ConsoleLog', V('(a{sv})', ({},)),
                       fd_script=[['read_all', 10]])
    allowed(res, 'ConsoleLog')
    assert res['nfds'] == 1 and len(res['fd_data']) >= len(log1) > 0, \
        (len(res.get('fd_data', '')), len(log1))
    expect_details('pkadmin', 'org.lxcbus1.console', 'console-log', RUN)


@case('Operation.Cancel')
def case_cancel():
    n1 = T.add(unique_name('pkcan'))
    path, op = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                    create_params(n1, options={'async': V('b', True)}))
    denied(NOBODY().call(op, OPERATION_IFACE, 'Cancel'), 'Cancel', 'org.lxcbus1.manage', n1)
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert instance_exists(n1)
    expect_details('pknobody', 'org.lxcbus1.manage', 'cancel', n1, exact=False, owner_uid=None)
    cleanup_instance(n1)

    n2 = T.add(unique_name('pkcan'))
    path, op = call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                    create_params(n2, options={'async': V('b', True)}))
    res = ADMIN().call(op, OPERATION_IFACE, 'Cancel')
    if res['ok']:
        assert op_wait(op) == 'cancelled', get_prop(op, OPERATION_IFACE, 'Status')
        assert not instance_exists(n2)
    else:
        # authorized, but the create was quicker: a state error, which comes after the check
        assert res['error'] == ERR + 'InvalidState', res
        print('# the create finished before the authorized Cancel: %s' % res['message'])
    got = expect_details('pkadmin', 'org.lxcbus1.manage', 'cancel', n2, exact=False, owner_uid=None)
    print('# details of a Cancel of a create: %s' % got)
    cleanup_instance(n2)


@case('Process.Signal')
def case_signal():
    ensure_running(RUN)
    proc = root_exec_start(RUN, ['sleep', '1000'])
    pid = get_prop(proc, PROCESS_IFACE, 'Pid')
    assert pid > 0 and pid_alive(pid)
    denied(NOBODY().call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,))), 'Signal', 'org.lxcbus1.exec', RUN)
    assert pid_alive(pid) and get_prop(proc, OPERATION_IFACE, 'Status') == 'running'
    expect_details('pknobody', 'org.lxcbus1.exec', 'signal', RUN, command_line='sleep 1000',
                   extra={'signal': '9', 'signal_name': 'SIGKILL'})

    allowed(ADMIN().call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,))), 'Signal')
    status, sig = call(proc, PROCESS_IFACE, 'Wait', timeout=30)
    assert sig == 9, (status, sig)
    expect_details('pkadmin', 'org.lxcbus1.exec', 'signal', RUN, command_line='sleep 1000',
                   extra={'signal': '9', 'signal_name': 'SIGKILL'})


@case('Instance.PushFile')
def case_push_file():
    ensure_running(RUN)
    params = V('(sha{sv})', ('/tmp/pk-push-denied', 0, {'mode': V('u', 0o600)}))
    denied(NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'PushFile', params, in_fds=['null-r']), 'PushFile',
           'org.lxcbus1.exec', RUN)
    assert not file_in(RUN, '/tmp/pk-push-denied'), 'the denied PushFile wrote the file'
    expect_details('pknobody', 'org.lxcbus1.exec', 'push-file', RUN,
                   extra={'path': '/tmp/pk-push-denied', 'mode': '0600', 'uid': '0', 'gid': '0'})

    params = V('(sha{sv})', ('/tmp/pk-push-ok', 0, {}))
    op = allowed(ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'PushFile', params, in_fds=['null-r']),
                 'PushFile')
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert file_in(RUN, '/tmp/pk-push-ok')
    expect_details('pkadmin', 'org.lxcbus1.exec', 'push-file', RUN,
                   extra={'path': '/tmp/pk-push-ok', 'mode': '0644', 'uid': '0', 'gid': '0'})


@case('Instance.PullFile')
def case_pull_file():
    ensure_running(RUN)
    params = V('(sha{sv})', ('/etc/passwd', 0, {}))
    res = NOBODY().call(instance_path(RUN), INSTANCE_IFACE, 'PullFile', params, in_fds=['null-w'])
    denied(res, 'PullFile', 'org.lxcbus1.exec', RUN)
    expect_details('pknobody', 'org.lxcbus1.exec', 'pull-file', RUN, extra={'path': '/etc/passwd'})

    op = allowed(ADMIN().call(instance_path(RUN), INSTANCE_IFACE, 'PullFile', params, in_fds=['null-w']),
                 'PullFile')
    assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert get_prop(op, OPERATION_IFACE, 'Bytes') > 0
    expect_details('pkadmin', 'org.lxcbus1.exec', 'pull-file', RUN, extra={'path': '/etc/passwd'})


def snapshot_case(method, verb, params, unchanged, done):
    """METHOD (action org.lxcbus1.snapshot) on STOPPED."""
    ensure_stopped(STOPPED)
    denied(NOBODY().call(instance_path(STOPPED), INSTANCE_IFACE, method, params), method, 'org.lxcbus1.snapshot',
           STOPPED)
    unchanged()
    expect_details('pknobody', 'org.lxcbus1.snapshot', verb, STOPPED)
    allowed(ADMIN().call(instance_path(STOPPED), INSTANCE_IFACE, method, params, timeout=120), method)
    done()
    expect_details('pkadmin', 'org.lxcbus1.snapshot', verb, STOPPED)


def snapshot_names(name):
    return [n for n, t in instance_prop(name, 'Snapshots')]


@case('Instance.Snapshot')
def case_snapshot():
    snapshot_case('Snapshot', 'snapshot', V('(sa{sv})', ('pk', {})), lambda: snapshot_names(STOPPED) == [],
                  lambda: snapshot_names(STOPPED) == ['pk'])


@case('Instance.RestoreSnapshot')
def case_restore_snapshot():
    if 'pk' not in snapshot_names(STOPPED):
        call(instance_path(STOPPED), INSTANCE_IFACE, 'Snapshot', V('(sa{sv})', ('pk', {})), timeout=120)
    gen = instance_prop(STOPPED, 'Generation')
    snapshot_case('RestoreSnapshot', 'restore-snapshot', V('(sa{sv})', ('pk', {})),
                  lambda: instance_prop(STOPPED, 'Generation') == gen,
                  lambda: instance_prop(STOPPED, 'Generation') > gen)


@case('Instance.DeleteSnapshot')
def case_delete_snapshot():
    if 'pk' not in snapshot_names(STOPPED):
        call(instance_path(STOPPED), INSTANCE_IFACE, 'Snapshot', V('(sa{sv})', ('pk', {})), timeout=120)
    snapshot_case('DeleteSnapshot', 'delete-snapshot', V('(sa{sv})', ('pk', {})),
                  lambda: snapshot_names(STOPPED) == ['pk'], lambda: snapshot_names(STOPPED) == [])


@case('Instance.Rename')
def case_rename():
    d = T.add(unique_name('pkren'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(d, NONE_SOURCE))
    new = T.add(unique_name('pkren'))
    manage_case(d, 'Rename', V('(s)', (new,)), 'rename',
                lambda: instance_exists(d) and not instance_exists(new),
                lambda: not instance_exists(d) and instance_exists(new))
    cleanup_instance(new)


@case('Instance.Copy')
def case_copy():
    n1, n2 = T.add(unique_name('pkcopy')), T.add(unique_name('pkcopy'))
    before = fs_snapshot()
    denied(NOBODY().call(instance_path(CONF), INSTANCE_IFACE, 'Copy', V('(sa{sv})', (n1, {})), timeout=300),
           'Copy', 'org.lxcbus1.create', CONF)
    assert not instance_exists(n1) and fs_snapshot() == before
    expect_details('pknobody', 'org.lxcbus1.create', 'copy', CONF)

    path, op = allowed(ADMIN().call(instance_path(CONF), INSTANCE_IFACE, 'Copy', V('(sa{sv})', (n2, {})),
                                    timeout=300), 'Copy')
    assert path == instance_path(n2) and instance_exists(n2)
    assert instance_prop(n2, 'Owner') == uid_of('pkadmin')
    expect_details('pkadmin', 'org.lxcbus1.create', 'copy', CONF)
    cleanup_instance(n2)


@case('Manager.ImportInstance')
def case_import():
    n1 = T.add(unique_name('pki'))
    denied(NOBODY().call(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance', V('(sha{ss}a{sv})', (n1, 0, {}, {})),
                         in_fds=['tar-r'], timeout=300), 'ImportInstance', 'org.lxcbus1.create', n1)
    assert not instance_exists(n1)
    expect_details('pknobody', 'org.lxcbus1.create', 'import', n1, uid_of('pknobody'), 'pknobody',
                   extra=NO_CONFIG_KEYS)

    n2 = T.add(unique_name('pki'))
    path, op = allowed(ADMIN().call(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance',
                                    V('(sha{ss}a{sv})', (n2, 0, {}, {})), in_fds=['tar-r'], timeout=300),
                       'ImportInstance')
    assert path == instance_path(n2) and instance_prop(n2, 'Owner') == uid_of('pkadmin')
    expect_details('pkadmin', 'org.lxcbus1.create', 'import', n2, uid_of('pkadmin'), 'pkadmin',
                   extra=NO_CONFIG_KEYS)
    cleanup_instance(n2)


@case('Instance.Export')
def case_export():
    params = V('(ha{sv})', (0, {}))
    denied(NOBODY().call(instance_path(CONF), INSTANCE_IFACE, 'Export', params, in_fds=['pipe']), 'Export',
           'org.lxcbus1.export', CONF)
    expect_details('pknobody', 'org.lxcbus1.export', 'export', CONF)
    # CONF has an empty rootfs: its tarball fits the pipe, read after the call.
    res = ADMIN().call(instance_path(CONF), INSTANCE_IFACE, 'Export', params, in_fds=['pipe'], timeout=120)
    allowed(res, 'Export')
    assert 'lxcbus.json' in res['pipe0'], res['pipe0'][:200]
    expect_details('pkadmin', 'org.lxcbus1.export', 'export', CONF)


def manager_manage_case(method, verb, params, done, unchanged=lambda: None):
    """METHOD of the manager (action org.lxcbus1.manage, no instance): pknobody is refused and unchanged()
    holds, pkadmin succeeds and done(reply) holds; the details are the verb alone (no instance, no owner)."""
    denied(NOBODY().call(MANAGER_PATH, MANAGER_IFACE, method, params), method, 'org.lxcbus1.manage')
    unchanged()
    got = expect_details('pknobody', 'org.lxcbus1.manage', verb, None, owner_uid=None, exact=False)
    assert got == {'verb': verb}, got
    done(allowed(ADMIN().call(MANAGER_PATH, MANAGER_IFACE, method, params, timeout=120), method))
    got = expect_details('pkadmin', 'org.lxcbus1.manage', verb, None, owner_uid=None, exact=False)
    assert got == {'verb': verb}, got


@case('Manager.StartAutostart')
def case_start_autostart():
    # No instance here has boot.autostart: the allowed call starts nothing.
    ensure_stopped(STOPPED)

    def done(op):
        assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
        assert_state(STOPPED, 'stopped')
    manager_manage_case('StartAutostart', 'start-autostart', V('(a{sv})', ({},)), done)


@case('Manager.StopAll')
def case_stop_all():
    ensure_running(RUN)

    def done(op):
        assert op_wait(op) == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
        assert_state(RUN, 'stopped')
    # refused: RUN still runs (checked before the allowed call stops it)
    manager_manage_case('StopAll', 'stop-all', V('(a{sv})', ({},)), done, lambda: assert_state(RUN, 'running'))
    ensure_running(RUN)

def _make_case_test(key):
    def t():
        SPY.mark()
        CASES[key]()
    t.__name__ = 'method_' + key[len('org.lxcbus1.'):].replace('.', '_')
    return t


for _key in list(CASES):
    test(_make_case_test(_key))


# ---- details reach the rules -------------------------------------------------------------

INSTANCE_RULE = '''// test: pkone may do everything, but only to the instance p-one
polkit.addRule(function(action, subject) {
    if (subject.user == "pkone" && action.id.indexOf("org.lxcbus1.") == 0 &&
        action.lookup("instance") == "p-one")
        return polkit.Result.YES;
});
'''


@test
def rule_allows_one_user_one_instance():
    a = agent_with_rule('pkone', '60-lxcbus-test-instance.rules', INSTANCE_RULE, 'org.lxcbus1.config',
                        {'instance': 'p-one'})
    for n in ('p-one', 'p-two'):
        cleanup_instance(n)
        T.add(n)
        call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n, NONE_SOURCE))
    cfg = V('(a{ss}asa{sv})', ({'description': 'pkone was here'}, [], {}))
    gen2 = instance_prop('p-two', 'Generation')
    allowed(a.call(instance_path('p-one'), INSTANCE_IFACE, 'SetConfig', cfg), 'SetConfig')
    assert instance_prop('p-one', 'Description') == 'pkone was here'
    denied(a.call(instance_path('p-two'), INSTANCE_IFACE, 'SetConfig', cfg),
           'SetConfig', 'org.lxcbus1.config', 'p-two')
    denied(a.call(instance_path('p-two'), INSTANCE_IFACE, 'Delete', opts()), 'Delete', 'org.lxcbus1.delete', 'p-two')
    assert instance_prop('p-two', 'Generation') == gen2 and instance_exists('p-two')
    denied(a.call(instance_path(RUN), INSTANCE_IFACE, 'Stop', opts()), 'Stop', 'org.lxcbus1.manage', RUN)
    allowed(a.call(instance_path('p-one'), INSTANCE_IFACE, 'Delete', opts()), 'Delete')
    assert not instance_exists('p-one')
    remove_rule('60-lxcbus-test-instance.rules')
    cleanup_instance('p-two')


COMMAND_RULE = r'''// test: pkcmd may run exactly these commands, in any instance
polkit.addRule(function(action, subject) {
    var allowed = ["cat /etc/hostname", "sh -c 'echo hi'", "echo 'it'\\''s' ''"];
    if (subject.user == "pkcmd" && action.id == "org.lxcbus1.exec" &&
        allowed.indexOf(action.lookup("command_line")) >= 0)
        return polkit.Result.YES;
});
'''


@test
def rule_allows_one_user_some_command_lines():
    a = agent_with_rule('pkcmd', '60-lxcbus-test-command.rules', COMMAND_RULE, 'org.lxcbus1.exec',
                        {'command_line': 'cat /etc/hostname'})
    ensure_running(RUN)
    make_etc_hostname(RUN)
    status, sig, hostname = root_exec(RUN, ['cat', '/etc/hostname'])
    assert (status, sig) == (0, 0) and hostname, (status, sig, hostname)
    SPY.mark()
    for argv, out in ((['cat', '/etc/hostname'], hostname), (['sh', '-c', 'echo hi'], 'hi\n'),
                      (['echo', "it's", ''], "it's \n")):
        res = a.call(instance_path(RUN), INSTANCE_IFACE, 'Exec', exec_params(argv), in_fds=OUT_PIPE)
        proc = allowed(res, 'Exec of %r' % argv)
        assert res['pipe1'] == out, (argv, res['pipe1'], out)
        assert tuple(call(proc, PROCESS_IFACE, 'Wait')) == (0, 0)
    # the quoting is what the rule sees
    lines = sorted(r['details'].get('command_line') for r in SPY.records() if r['user'] == 'pkcmd')
    assert lines == sorted(["cat /etc/hostname", "sh -c 'echo hi'", "echo 'it'\\''s' ''"]), lines
    for argv in (['cat', '/etc/passwd'], ['cat /etc/hostname'], ['cat', '/etc/hostname', ''],
                 ['sh', '-c', 'echo  hi'], ['sh', '-c', 'echo hi', ''], ['sh', '-c', 'touch /tmp/pkcmd-x']):
        res = a.call(instance_path(RUN), INSTANCE_IFACE, 'Exec', exec_params(argv), in_fds=OUT_PIPE)
        denied(res, 'Exec', 'org.lxcbus1.exec', RUN)
        assert res.get('pipe1') == '', res
    assert not file_in(RUN, '/tmp/pkcmd-x')
    expect_details('pkcmd', 'org.lxcbus1.exec', 'exec', RUN, command_line="sh -c 'touch /tmp/pkcmd-x'",
                   extra=EXEC_DEFAULTS)
    # ExecPty with an allowed command line too; anything else on the same instance is refused
    res = a.call(instance_path(RUN), INSTANCE_IFACE, 'ExecPty',
                 V('(asa{ss}a{sv})', (['sh', '-c', 'echo hi'], {}, {})),
                 fd_script=[['read_until', 'hi', 10]])
    allowed(res, 'ExecPty')
    denied(a.call(instance_path(RUN), INSTANCE_IFACE, 'OpenConsole', V('(i)', (-1,))), 'OpenConsole',
           'org.lxcbus1.console', RUN)
    remove_rule('60-lxcbus-test-command.rules')


VERB_RULE = '''// test: pkverb may freeze and unfreeze, but not otherwise manage
polkit.addRule(function(action, subject) {
    var verb = action.lookup("verb");
    if (subject.user == "pkverb" && action.id == "org.lxcbus1.manage" &&
        (verb == "freeze" || verb == "unfreeze"))
        return polkit.Result.YES;
});
'''


@test
def rule_allows_some_verbs_of_an_action():
    a = agent_with_rule('pkverb', '60-lxcbus-test-verb.rules', VERB_RULE, 'org.lxcbus1.manage',
                        {'verb': 'freeze'})
    ensure_running(RUN)
    pid = instance_prop(RUN, 'Pid')
    for method, params in (('Stop', opts(timeout_sec=V('u', 0))), ('Restart', opts()), ('Start', opts()),
                           ('Kill', V('(ib)', (9, False)))):
        denied(a.call(instance_path(RUN), INSTANCE_IFACE, method, params), method, 'org.lxcbus1.manage', RUN)
    assert instance_prop(RUN, 'State') == 'running' and instance_prop(RUN, 'Pid') == pid
    allowed(a.call(instance_path(RUN), INSTANCE_IFACE, 'Freeze'), 'Freeze')
    wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'frozen')
    allowed(a.call(instance_path(RUN), INSTANCE_IFACE, 'Unfreeze'), 'Unfreeze')
    wait_prop(instance_path(RUN), INSTANCE_IFACE, 'State', 'running')
    assert instance_prop(RUN, 'Pid') == pid
    remove_rule('60-lxcbus-test-verb.rules')


@test
def doc_rule_user_may_only_exec_into_one_instance():
    """docs/polkit-rules/50-lxcbus-exec-web.rules, verbatim."""
    add_user('alice')
    install_doc_rule('50-lxcbus-exec-web.rules')
    cleanup_instance('web')
    T.add('web')
    create_instance('web')
    start_instance('web')
    a = agent('alice')
    wait_rule(a.name, 'org.lxcbus1.exec', {'instance': 'web'}, True)
    make_etc_hostname('web')
    status, sig, hostname = root_exec('web', ['cat', '/etc/hostname'])
    res = a.call(instance_path('web'), INSTANCE_IFACE, 'Exec', exec_params(['cat', '/etc/hostname']),
                 in_fds=OUT_PIPE)
    proc = allowed(res, 'Exec')
    assert res['pipe1'] == hostname, (res['pipe1'], hostname)
    assert tuple(call(proc, PROCESS_IFACE, 'Wait')) == (0, 0)
    res = a.call(instance_path('web'), INSTANCE_IFACE, 'ExecPty',
                 V('(asa{ss}a{sv})', (['sh', '-c', 'echo a-$((1+1))'], {}, {})),
                 fd_script=[['read_until', 'a-2', 10]])
    allowed(res, 'ExecPty')
    assert 'a-2' in res['fd_data'], res
    # a process root started there: alice may signal it (exec action on web)
    proc = root_exec_start('web', ['sleep', '1000'])
    allowed(a.call(proc, PROCESS_IFACE, 'Signal', V('(i)', (15,))), 'Signal')
    assert call(proc, PROCESS_IFACE, 'Wait', timeout=30)[1] == 15
    # nothing else on web, and no exec elsewhere
    pid = instance_prop('web', 'Pid')
    denied(a.call(instance_path(RUN), INSTANCE_IFACE, 'Exec', exec_params(['true']), in_fds=NULL_FDS),
           'Exec', 'org.lxcbus1.exec', RUN)
    for method, params, action in (('Stop', opts(), 'org.lxcbus1.manage'),
                                   ('Restart', opts(), 'org.lxcbus1.manage'),
                                   ('Delete', opts(force=V('b', True)), 'org.lxcbus1.delete'),
                                   ('SetConfig', V('(a{ss}asa{sv})', ({'description': 'alice'}, [], {})),
                                    'org.lxcbus1.config'),
                                   ('OpenConsole', V('(i)', (-1,)), 'org.lxcbus1.console')):
        denied(a.call(instance_path('web'), INSTANCE_IFACE, method, params), method, action, 'web')
    assert instance_prop('web', 'State') == 'running' and instance_prop('web', 'Pid') == pid
    assert instance_prop('web', 'Description') != 'alice'
    denied(a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params('web2', NONE_SOURCE)),
           'CreateInstance', 'org.lxcbus1.create', 'web2')
    remove_rule('50-lxcbus-exec-web.rules')
    cleanup_instance('web')


@test
def doc_rule_owners_manage_only_their_own_instances():
    """docs/polkit-rules/50-lxcbus-owners.rules, verbatim."""
    u1 = add_user('pkown1', ['lxowners'])
    u2 = add_user('pkown2', ['lxowners'])
    install_doc_rule('50-lxcbus-owners.rules')
    a1, a2 = agent('pkown1'), agent('pkown2')
    wait_rule(a1.name, 'org.lxcbus1.create', {'owner': 'pkown1'}, True)
    SPY.mark()
    own1, own2 = T.add(unique_name('own1')), T.add(unique_name('own2'))
    for a, n in ((a1, own1), (a2, own2)):
        allowed(a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n, NONE_SOURCE),
                       timeout=300), 'CreateInstance')
    owners = (instance_prop(own1, 'Owner'), instance_prop(own2, 'Owner'))
    assert owners == (u1, u2), owners
    expect_details('pkown1', 'org.lxcbus1.create', 'create', own1, u1, 'pkown1',
                   extra=dict(NO_CONFIG_KEYS, template='none'))

    cfg = lambda d: V('(a{ss}asa{sv})', ({'description': d}, [], {}))
    allowed(a1.call(instance_path(own1), INSTANCE_IFACE, 'SetConfig', cfg('mine')), 'SetConfig')
    assert instance_prop(own1, 'Description') == 'mine'
    expect_details('pkown1', 'org.lxcbus1.config', 'set-config', own1, u1, 'pkown1', extra=DESCRIPTION_ONLY)
    gen2 = instance_prop(own2, 'Generation')
    denied(a1.call(instance_path(own2), INSTANCE_IFACE, 'SetConfig', cfg('not mine')),
           'SetConfig', 'org.lxcbus1.config', own2)
    denied(a1.call(instance_path(own2), INSTANCE_IFACE, 'Delete', opts()), 'Delete', 'org.lxcbus1.delete', own2)
    assert instance_prop(own2, 'Generation') == gen2 and instance_exists(own2)
    expect_details('pkown1', 'org.lxcbus1.delete', 'delete', own2, u2, 'pkown2', extra={'force': 'false'})
    # root's instances are nobody's in this group
    denied(a1.call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig', cfg('x')),
           'SetConfig', 'org.lxcbus1.config', CONF)
    denied(a2.call(instance_path(RUN), INSTANCE_IFACE, 'Stop', opts()), 'Stop', 'org.lxcbus1.manage', RUN)
    # a non-root caller may not ask for a privileged instance
    n = T.add(unique_name('ownp'))
    res = a1.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance',
                  create_params(n, NONE_SOURCE, config={'security.privileged': 'true'}))
    assert not res['ok'] and res['error'] == ACCESS_DENIED, res
    assert not instance_exists(n)

    allowed(a2.call(instance_path(own2), INSTANCE_IFACE, 'Delete', opts()), 'Delete')
    allowed(a1.call(instance_path(own1), INSTANCE_IFACE, 'Delete', opts()), 'Delete')
    assert not instance_exists(own1) and not instance_exists(own2)


def host_ids(pid):
    """(real uid, real gid) of a process as this pid namespace sees it."""
    ids = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('Uid', 'Gid'):
                ids[k] = int(v.split()[0])
    return ids['Uid'], ids['Gid']


@test
def owner_creates_starts_execs_into_and_deletes_an_idmapped_instance():
    u1 = add_user('pkown1', ['lxowners'])
    install_doc_rule('50-lxcbus-owners.rules')
    a = agent('pkown1')
    wait_rule(a.name, 'org.lxcbus1.create', {'owner': 'pkown1'}, True)
    n = T.add(unique_name('ownbb'))
    allowed(a.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n), timeout=300),
            'CreateInstance')
    assert instance_prop(n, 'Owner') == u1
    rootfs = os.path.join(INSTANCES_DIR, n, 'rootfs')
    base = os.stat(rootfs).st_uid
    assert base >= 1000000 and os.stat(rootfs).st_gid >= 1000000, \
        'rootfs of an idmapped instance owned by %d:%d' % (base, os.stat(rootfs).st_gid)
    allowed(a.call(instance_path(n), INSTANCE_IFACE, 'Start', opts(), timeout=120), 'Start')
    assert instance_prop(n, 'State') == 'running'
    init = instance_prop(n, 'Pid')
    assert host_ids(init) == (base, os.stat(rootfs).st_gid), (host_ids(init), base)
    res = a.call(instance_path(n), INSTANCE_IFACE, 'Exec', exec_params(['sh', '-c', 'id -u; sleep 100']),
                 in_fds=OUT_PIPE, pipe_timeout=2)
    proc = allowed(res, 'Exec')
    assert res['pipe1'].strip() == '0', res
    pid = get_prop(proc, PROCESS_IFACE, 'Pid')
    assert pid > 0 and host_ids(pid)[0] == base, (pid, host_ids(pid), base)
    allowed(a.call(proc, PROCESS_IFACE, 'Signal', V('(i)', (9,))), 'Signal')
    assert call(proc, PROCESS_IFACE, 'Wait', timeout=30)[1] == 9
    allowed(a.call(instance_path(n), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 0)), timeout=90), 'Stop')
    allowed(a.call(instance_path(n), INSTANCE_IFACE, 'Delete', opts()), 'Delete')
    assert not instance_exists(n) and not os.path.exists(os.path.join(INSTANCES_DIR, n))
    remove_rule('50-lxcbus-owners.rules')


# ---- interactive authorization ----------------------------------------------------------------

AUTH_RULE = '''// test: pkauth would have to authenticate as an administrator
polkit.addRule(function(action, subject) {
    if (subject.user == "pkauth" && action.id.indexOf("org.lxcbus1.") == 0)
        return polkit.Result.AUTH_ADMIN;
});
'''


@test
def auth_admin_without_the_interactive_flag_is_interactive_authorization_required():
    add_user('pkauth')
    install_rule('60-lxcbus-test-auth.rules', AUTH_RULE)
    a = agent('pkauth')
    wait_for(lambda: pk_check(a.name, 'org.lxcbus1.config') == (False, True), 15, 'the AUTH_ADMIN rule',
             interval=0.1)
    ensure_stopped(STOPPED)
    gen = instance_prop(CONF, 'Generation')
    cfg = V('(a{ss}asa{sv})', ({'description': 'pkauth'}, [], {}))
    for path, method, params, inst in ((instance_path(CONF), 'SetConfig', cfg, CONF),
                                       (instance_path(STOPPED), 'Start', opts(), STOPPED),
                                       (MANAGER_PATH, 'CreateInstance', create_params('pkauth-x', NONE_SOURCE),
                                        'pkauth-x')):
        iface = MANAGER_IFACE if path == MANAGER_PATH else INSTANCE_IFACE
        res = a.call(path, iface, method, params)
        assert not res['ok'] and res['error'] == INTERACTIVE_REQUIRED, (method, res)
        assert method in res['message'] and "'%s'" % inst in res['message'], res['message']
    assert instance_prop(CONF, 'Generation') == gen and instance_prop(STOPPED, 'State') == 'stopped'
    assert not instance_exists('pkauth-x')
    # with the flag polkit would ask an authentication agent; there is none: denied, promptly
    res = a.call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig', cfg, flags=INTERACTIVE, timeout=60)
    assert res.get('error') != 'agent-exception', res
    print('# AUTH_ADMIN with the interactive flag and no agent: %s in %.2fs: %s' % (
        res.get('error'), res['elapsed'], res.get('message')))
    assert not res['ok'] and res['error'] == ACCESS_DENIED, res
    assert res['elapsed'] < 10, res
    assert instance_prop(CONF, 'Generation') == gen
    # a user without any rule is not asked to authenticate (the policy says no): denied
    res = NOBODY().call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig', cfg)
    assert not res['ok'] and res['error'] == ACCESS_DENIED, res
    remove_rule('60-lxcbus-test-auth.rules')


# ---- root --------------------------------------------------------------------------------------

DENY_ALL_RULE = '''// test: nobody may do anything with lxcbus
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") == 0)
        return polkit.Result.NO;
});
'''


@test
def root_bypasses_a_rule_denying_everything():
    install_rule('00-lxcbus-test-deny-all.rules', DENY_ALL_RULE)
    try:
        wait_rule(ADMIN().name, 'org.lxcbus1.config', {}, False)
        SPY.mark()
        gen = instance_prop(CONF, 'Generation')
        set_config(CONF, {'description': 'root'})
        assert instance_prop(CONF, 'Generation') == gen + 1
        ensure_running(RUN)
        assert root_exec(RUN, ['true'])[:2] == (0, 0)
        call(instance_path(RUN), INSTANCE_IFACE, 'Freeze')
        call(instance_path(RUN), INSTANCE_IFACE, 'Unfreeze')
        n = T.add(unique_name('pkroot'))
        call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(n, NONE_SOURCE))
        call(instance_path(n), INSTANCE_IFACE, 'Delete', opts())
        assert not instance_exists(n)
        # the rule is in force: pkadmin (allowed by the group rule later in order) is refused
        denied(ADMIN().call(instance_path(CONF), INSTANCE_IFACE, 'SetConfig',
                            V('(a{ss}asa{sv})', ({'description': 'admin'}, [], {}))),
               'SetConfig', 'org.lxcbus1.config', CONF)
        # and root's calls never reached polkit
        SPY.wait(lambda r: r['user'] == 'pkadmin', 'the refused pkadmin call')
        root_recs = [r for r in SPY.records() if r['user'] == 'root']
        assert not root_recs, 'polkit was asked about root: %s' % root_recs
    finally:
        remove_rule('00-lxcbus-test-deny-all.rules')
    wait_rule(ADMIN().name, 'org.lxcbus1.config', {}, True)


# ---- the price of a polkit round trip -----------------------------------------------------------

@test
def latency_of_an_authorized_call_root_vs_user():
    """Not asserted: SetConfig(description) by root (never asks polkit) and
    by pkadmin (allowed by the group rule), 200 each, and GetState (open)
    by pkadmin as the bus floor."""
    remove_rule('00-lxcbus-spy.rules')   # its logger(1) would be timed too
    n = 200
    a = ADMIN()
    wait_rule(a.name, 'org.lxcbus1.config', {}, True)
    p = instance_path(CONF)
    spec_params = V('(a{ss}asa{sv})', ({'description': 'lat-@N@'}, [], {}))
    a.bench(20, p, INSTANCE_IFACE, 'SetConfig', spec_params)   # warm-up
    res = a.bench(n, p, INSTANCE_IFACE, 'SetConfig', spec_params)
    assert res['nerrors'] == 0, res
    user_times = res['times']
    import time as _t
    root_times = []
    for k in range(n + 20):
        t0 = _t.monotonic()
        set_config(CONF, {'description': 'root-%d' % k})
        if k >= 20:
            root_times.append(_t.monotonic() - t0)
    floor = a.bench(n, p, INSTANCE_IFACE, 'GetState')['times']
    print('# latency SetConfig as root:              %s' % stats_ms(root_times))
    print('# latency SetConfig as pkadmin (polkit):  %s' % stats_ms(user_times))
    print('# latency GetState as pkadmin (open):     %s' % stats_ms(floor))
    print('# added by the polkit round trip (median): %.2f ms'
          % (median_ms(user_times) - median_ms(root_times)))


@on_exit
def cleanup():
    close_agents()
    T.cleanup()
    for n in ('p-one', 'p-two', 'web'):
        cleanup_instance(n)
    remove_all_rules()
    remove_users()
    restore_subids()


if __name__ == '__main__':
    main()
