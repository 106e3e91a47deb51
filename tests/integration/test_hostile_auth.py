#!/usr/bin/python3
"""Authorization as an attacker tries it, with real users and a real
polkitd (issue 9, items 4, 5 and the ConsoleLog part of 10):

- the per-command example rule (docs/polkit-rules/50-lxcbus-exec-command.rules,
  verbatim) allows `/bin/true` as it is, and nothing that changes what runs:
  an LD_PRELOAD in env, another uid or gid, another cwd, env-clear, a HOME;
- rules keyed on the new details: Kill allowed for SIGTERM only, Stop and
  Delete without force only, SetConfig of `description` only;
- the spy rule sees every new detail with the values of the call;
- ConsoleLog: `clear` is verb console-log-clear, which a rule allowing
  console-log does not allow; a stopped instance's log is neither read nor
  cleared (InvalidState);
- an answer is bound to the object it was given for: while polkit decides
  (a rule that waits until the test says go), the instance is deleted and
  created again under the same name, by root (same owner, so the same
  details) or after a user owned it; the allowed call then fails with
  NoSuchInstance and the new instance is untouched. An exec whose instance
  was reconfigured meanwhile fails with Conflict."""

import json
import os
import threading

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
GO_FILE = '/run/lxcbus-test-auth-go'
HOLD_USERS = ('pkhold1', 'pkhold2', 'pkhold3')
SPY = Spy()


def denied(res, what):
    assert not res['ok'], '%s succeeded: %r' % (what, res)
    assert res['error'] == ACCESS_DENIED, '%s: expected AccessDenied, got %s: %s' % (
        what, res['error'], res['message'])
    check_daemon_alive()


def allowed(res, what):
    assert res['ok'], '%s failed: %s: %s' % (what, res.get('error'), res.get('message'))
    v = res['value']
    return None if len(v) == 0 else v[0] if len(v) == 1 else v


def spy_details(user, pred, what):
    rec = SPY.wait(lambda r: r['user'] == user and pred(r['details']), what)
    return {k: v for k, v in rec['details'].items() if not k.startswith('polkit.')}


@test
def setup():
    ensure_subids()
    for f in sorted(os.listdir(RULES_DIR)):
        assert not f.startswith('00-lxcbus') and not f.startswith('50-lxcbus') and \
            not f.startswith('60-lxcbus'), 'leftover rule %s/%s' % (RULES_DIR, f)
    install_rule('00-lxcbus-spy.rules', SPY_RULE)
    cleanup_instance('web')
    T.add('web')
    create_running_instance('web')


# ---- the per-command example rule ---------------------------------------------------------

@test
def doc_rule_exec_command_allows_only_the_bare_command():
    add_user('monitor')
    install_doc_rule('50-lxcbus-exec-command.rules')
    a = agent('monitor')
    bare = {'verb': 'exec', 'instance': 'web', 'command_line': '/bin/true', 'env': '', 'env_clear': 'false',
            'uid': '0', 'gid': '0', 'cwd': '/root'}
    wait_rule(a.name, 'org.lxcbus1.exec', bare, True)
    SPY.mark()
    proc = allowed(a.call(instance_path('web'), INSTANCE_IFACE, 'Exec', exec_params(['/bin/true']), in_fds=NULL_FDS),
                   'Exec /bin/true by monitor')
    assert tuple(call(proc, PROCESS_IFACE, 'Wait', timeout=30)) == (0, 0)
    got = spy_details('monitor', lambda d: d.get('verb') == 'exec', 'exec /bin/true')
    assert got == dict(bare, owner='root', owner_uid='0', env_names=''), got

    ops = operations_of_kind('exec')
    hostile = [
        ('LD_PRELOAD', exec_params(['/bin/true'], {'LD_PRELOAD': '/proc/self/fd/0'}),
         {'env': 'LD_PRELOAD=/proc/self/fd/0', 'env_names': 'LD_PRELOAD'}),
        ('HOME', exec_params(['/bin/true'], {'HOME': '/tmp'}),
         {'env': 'HOME=/tmp', 'env_names': 'HOME', 'cwd': '/tmp'}),
        ('uid', exec_params(['/bin/true'], uid=V('u', 65534)), {'uid': '65534', 'cwd': '/'}),
        ('gid', exec_params(['/bin/true'], gid=V('u', 65534)), {'gid': '65534'}),
        ('cwd', exec_params(['/bin/true'], cwd=V('s', '/tmp')), {'cwd': '/tmp'}),
        ('env-clear', exec_params(['/bin/true'], env_clear=V('b', True)), {'env_clear': 'true'}),
        ('a space in the value', exec_params(['/bin/true'], {'A': "x' B=y"}),
         {'env': "'A=x'\\'' B=y'", 'env_names': 'A'}),
    ]
    for what, params, changed in hostile:
        SPY.mark()
        res = a.call(instance_path('web'), INSTANCE_IFACE, 'Exec', params, in_fds=NULL_FDS)
        denied(res, 'Exec /bin/true with %s' % what)
        want = dict(bare, owner='root', owner_uid='0', env_names='')
        want.update(changed)
        got = spy_details('monitor', lambda d: d.get('verb') == 'exec', 'exec with %s' % what)
        assert got == want, 'details of the exec with %s: got %s, expected %s' % (what, got, want)
    res = a.call(instance_path('web'), INSTANCE_IFACE, 'ExecPty', V('(asa{ss}a{sv})', (['/bin/true'], {}, {})))
    denied(res, 'ExecPty /bin/true')
    assert res['nfds'] == 0
    now = operations_of_kind('exec')
    assert now == ops, 'a denied exec made a process: %s' % (now - ops)
    remove_rule('50-lxcbus-exec-command.rules')


# ---- rules on the other new details ------------------------------------------------------

DETAIL_RULE = r'''// test: pkhdet may send SIGTERM to init, stop and delete without force, set the description
polkit.addRule(function(action, subject) {
    if (subject.user != "pkhdet" || action.id.indexOf("org.lxcbus1.") != 0)
        return polkit.Result.NOT_HANDLED;
    var verb = action.lookup("verb");
    if (verb == "kill" && action.lookup("signal_name") == "SIGTERM" && action.lookup("all") == "false")
        return polkit.Result.YES;
    if ((verb == "stop" || verb == "delete") && action.lookup("force") == "false")
        return polkit.Result.YES;
    if (verb == "set-config" && action.lookup("keys") == "description")
        return polkit.Result.YES;
    if (verb == "console-log")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
'''


@test
def rules_see_signal_force_and_config_keys():
    a = agent_with_rule('pkhdet', '60-lxcbus-test-hostile-details.rules', DETAIL_RULE, 'org.lxcbus1.manage',
                        {'verb': 'kill', 'signal_name': 'SIGTERM', 'all': 'false'})
    wait_rule(a.name, 'org.lxcbus1.manage', {'verb': 'kill', 'signal_name': 'SIGKILL', 'all': 'false'}, False)
    pid = instance_prop('web', 'Pid')

    # Kill: SIGKILL, and SIGTERM to every process, are refused; init lives
    SPY.mark()
    denied(a.call(instance_path('web'), INSTANCE_IFACE, 'Kill', V('(ib)', (9, False))), 'Kill SIGKILL')
    denied(a.call(instance_path('web'), INSTANCE_IFACE, 'Kill', V('(ib)', (15, True))), 'Kill SIGTERM all')
    assert instance_prop('web', 'State') == 'running' and instance_prop('web', 'Pid') == pid and pid_alive(pid)
    got = spy_details('pkhdet', lambda d: d.get('verb') == 'kill' and d.get('signal') == '9', 'kill 9')
    assert (got['signal_name'], got['all']) == ('SIGKILL', 'false'), got
    got = spy_details('pkhdet', lambda d: d.get('verb') == 'kill' and d.get('all') == 'true', 'kill all')
    assert (got['signal'], got['signal_name']) == ('15', 'SIGTERM'), got

    # Stop: force, or a timeout of 0 (which kills at once), is refused
    SPY.mark()
    denied(a.call(instance_path('web'), INSTANCE_IFACE, 'Stop', opts(force=V('b', True))), 'Stop force')
    denied(a.call(instance_path('web'), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', 0))), 'Stop timeout 0')
    assert instance_prop('web', 'State') == 'running' and instance_prop('web', 'Pid') == pid
    got = spy_details('pkhdet', lambda d: d.get('verb') == 'stop' and d.get('timeout_sec') == '0', 'stop 0')
    assert got['force'] == 'true', got

    # Delete without force allowed, with force refused (a stopped instance: nothing to kill either way)
    d = T.add(unique_name('pkhdel'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(d, NONE_SOURCE))
    denied(a.call(instance_path(d), INSTANCE_IFACE, 'Delete', opts(force=V('b', True))), 'Delete force')
    assert instance_exists(d)
    # Stop of a stopped instance without force: allowed (and nothing to do)
    allowed(a.call(instance_path(d), INSTANCE_IFACE, 'Stop', opts()), 'Stop without force')

    # SetConfig: description only
    gen = instance_prop(d, 'Generation')
    for cfg, unset in (({'limits.memory': '100M'}, []), ({'description': 'x', 'limits.memory': '100M'}, []),
                       ({}, ['limits.memory']), ({'description': 'x'}, ['environment.FOO'])):
        SPY.mark()
        denied(a.call(instance_path(d), INSTANCE_IFACE, 'SetConfig', V('(a{ss}asa{sv})', (cfg, unset, {}))),
               'SetConfig %s unset %s' % (cfg, unset))
        want = ' '.join(sorted(set(cfg) | set(unset)))
        got = spy_details('pkhdet', lambda x: x.get('verb') == 'set-config', 'set-config %s' % want)
        assert (got['keys'], got['set_keys'], got['unset_keys']) == (
            want, ' '.join(sorted(cfg)), ' '.join(sorted(unset))), got
    assert instance_prop(d, 'Generation') == gen
    allowed(a.call(instance_path(d), INSTANCE_IFACE, 'SetConfig',
                   V('(a{ss}asa{sv})', ({'description': 'by pkhdet'}, [], {}))), 'SetConfig description')
    assert instance_prop(d, 'Description') == 'by pkhdet'

    allowed(a.call(instance_path(d), INSTANCE_IFACE, 'Delete', opts()), 'Delete without force')
    assert not instance_exists(d)
    remove_rule('60-lxcbus-test-hostile-details.rules')


# ---- ConsoleLog ---------------------------------------------------------------------------

@test
def console_log_clear_is_its_own_verb():
    a = agent_with_rule('pkhdet', '60-lxcbus-test-hostile-details.rules', DETAIL_RULE, 'org.lxcbus1.console',
                        {'verb': 'console-log'})
    wait_for(lambda: b'Please press Enter' in console_log('web'), 30, 'the boot messages in the log')
    log0 = console_log('web')
    res = a.call(instance_path('web'), INSTANCE_IFACE, 'ConsoleLog', V('(a{sv})', ({},)), fd_script=[['read_all', 10]])
    allowed(res, 'ConsoleLog')
    assert 'Please press Enter' in res['fd_data'], res['fd_data'][-200:]
    SPY.mark()
    res = a.call(instance_path('web'), INSTANCE_IFACE, 'ConsoleLog', V('(a{sv})', ({'clear': V('b', True)},)))
    denied(res, 'ConsoleLog clear under a rule that allows reading')
    assert res['nfds'] == 0
    log1 = console_log('web')
    assert log1.startswith(log0), 'a denied ConsoleLog(clear) emptied the log: %r' % log1[-200:]
    spy_details('pkhdet', lambda d: d.get('verb') == 'console-log-clear', 'console-log-clear')
    remove_rule('60-lxcbus-test-hostile-details.rules')


@test
def console_log_of_a_stopped_instance_is_invalid_state_and_kept():
    n = T.add(unique_name('pkhlog'))
    create_running_instance(n)
    wait_for(lambda: b'Please press Enter' in console_log(n), 30, 'the boot messages in the log')
    stop_instance(n)
    path = os.path.join(INSTANCES_DIR, n, 'console.log')
    size = os.path.getsize(path)
    assert size > 0
    for o in ({}, {'clear': V('b', True)}):
        try:
            call(instance_path(n), INSTANCE_IFACE, 'ConsoleLog', V('(a{sv})', (o,)))
            raise AssertionError('ConsoleLog(%s) of a stopped instance succeeded' % o)
        except BusError as e:
            assert e.dbus_name == ERR + 'InvalidState', (e.dbus_name, str(e))
            assert "'%s'" % n in str(e), str(e)
    assert os.path.getsize(path) == size, 'ConsoleLog(clear) of a stopped instance truncated the log'
    cleanup_instance(n)


# ---- an answer is for the object it was given for ---------------------------------------------

# Checks of HOLD_USERS wait (in polkitd) until GO_FILE exists, then allow;
# creates are allowed at once. Each wait is logged first (tag lxcbus-hold),
# so the test knows the check is pending. polkit.spawn gives up after 10 s,
# so the wait is a few spawns of 8 s at most.
HOLD_RULE = r'''// test: pkhold* may do everything, once the test lets polkit answer
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.lxcbus1.") != 0 ||
        ["pkhold1", "pkhold2", "pkhold3"].indexOf(subject.user) < 0)
        return polkit.Result.NOT_HANDLED;
    var verb = action.lookup("verb");
    if (action.lookup("probe") || verb == "create")
        return polkit.Result.YES;
    polkit.spawn(["/usr/bin/logger", "-t", "lxcbus-hold", "--", subject.user + " " + verb]);
    for (var k = 0; k < 3; k++) {
        try {
            polkit.spawn(["/bin/sh", "-c", "n=0; while [ ! -e GO ] && [ $n -lt 75 ]; do " +
                          "sleep 0.1; n=$((n+1)); done; [ -e GO ]"]);
            break;
        } catch (e) {
        }
    }
    return polkit.Result.YES;
});
'''.replace('GO', GO_FILE)


def holding(users):
    """Wait until polkitd is holding a check of one of `users` (logged
    since SPY.mark(); read without a journal match, see Spy.records)."""
    def seen():
        rc, out, err = run('journalctl', '--no-pager', '-o', 'json', '--after-cursor', SPY.cursor)
        lines = []
        for l in out.splitlines():
            try:
                e = json.loads(l)
            except ValueError:
                continue
            if e.get('SYSLOG_IDENTIFIER') == 'lxcbus-hold' and isinstance(e.get('MESSAGE'), str):
                lines.append(e['MESSAGE'])
        return any(l.startswith(u + ' ') for l in lines for u in users)
    wait_for(seen, 30, 'polkit holding the checks of %s' % ', '.join(users), interval=0.1)


def in_thread(fn):
    out = {}

    def run_it():
        try:
            out['res'] = fn()
        except Exception as e:
            out['res'] = {'ok': False, 'error': 'exception', 'message': repr(e)}
    t = threading.Thread(target=run_it)
    t.start()
    return t, out


def go():
    with open(GO_FILE, 'w'):
        pass


def no_go():
    try:
        os.unlink(GO_FILE)
    except FileNotFoundError:
        pass


def hold_agents():
    no_go()
    for u in HOLD_USERS:
        add_user(u)
    install_rule('60-lxcbus-test-hold.rules', HOLD_RULE)
    a = [agent(u) for u in HOLD_USERS]
    for x in a:
        wait_rule(x.name, 'org.lxcbus1.manage', {'verb': 'start'}, True)
    return a


@test
def answer_for_a_deleted_instance_is_not_applied_to_its_successor():
    """Same name, same owner (root), so the same details: only the object
    differs. Start, Exec and SetConfig are all held by polkit while root
    deletes the instance and creates a busybox one under its name."""
    a1, a2, a3 = hold_agents()
    x = T.add(unique_name('pkhx'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(x, NONE_SOURCE))
    SPY.mark()
    calls = [in_thread(lambda: a1.call(instance_path(x), INSTANCE_IFACE, 'Start', opts(), timeout=120)),
             in_thread(lambda: a2.call(instance_path(x), INSTANCE_IFACE, 'Exec', exec_params(['touch', '/pkhx-ran']),
                                       in_fds=NULL_FDS, timeout=120)),
             in_thread(lambda: a3.call(instance_path(x), INSTANCE_IFACE, 'SetConfig',
                                       V('(a{ss}asa{sv})', ({'description': 'pkhold3'}, [], {})), timeout=120))]
    try:
        # polkitd asks its rules one check at a time: the others queue behind the one held
        holding(HOLD_USERS)
        call(instance_path(x), INSTANCE_IFACE, 'Delete', opts(force=V('b', True)))
        create_instance(x)
        assert instance_prop(x, 'Owner') == 0 and instance_prop(x, 'State') == 'stopped'
        gen = instance_prop(x, 'Generation')
    finally:
        go()
        for t, out in calls:
            t.join(200)
        no_go()
    for (t, out), what in zip(calls, ('Start', 'Exec', 'SetConfig')):
        res = out['res']
        assert not res['ok'], '%s allowed for the old %s acted on the new one: %r' % (what, x, res)
        assert res['error'] == ERR + 'NoSuchInstance', '%s: %s: %s' % (what, res['error'], res['message'])
        assert "'%s'" % x in res['message'] and 'deleted' in res['message'], res['message']
    assert instance_prop(x, 'State') == 'stopped' and instance_prop(x, 'Pid') == 0, 'the new instance was started'
    assert instance_prop(x, 'Generation') == gen and instance_prop(x, 'Description') != 'pkhold3', 'the new one was configured'
    assert not os.path.exists(os.path.join(INSTANCES_DIR, x, 'rootfs', 'pkhx-ran'))
    check_daemon_alive()
    cleanup_instance(x)


@test
def answer_for_a_users_instance_is_not_applied_to_roots_successor():
    """x is pkhold1's own (idmapped) instance; root replaces it while
    pkhold1's SetConfig is held."""
    a1 = hold_agents()[0]
    x = T.add(unique_name('pkhy'))
    allowed(a1.call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(x, NONE_SOURCE), timeout=300),
            'CreateInstance by pkhold1')
    assert instance_prop(x, 'Owner') == a1.uid
    SPY.mark()
    t, out = in_thread(lambda: a1.call(instance_path(x), INSTANCE_IFACE, 'SetConfig',
                                       V('(a{ss}asa{sv})', ({'description': 'mine'}, [], {})), timeout=120))
    try:
        holding(['pkhold1'])
        call(instance_path(x), INSTANCE_IFACE, 'Delete', opts(force=V('b', True)))
        call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(x, NONE_SOURCE))
    finally:
        go()
        t.join(200)
        no_go()
    res = out['res']
    assert not res['ok'] and res['error'] == ERR + 'NoSuchInstance', res
    assert instance_prop(x, 'Owner') == 0 and instance_prop(x, 'Description') != 'mine' and instance_prop(x, 'Generation') == 1
    cleanup_instance(x)


@test
def exec_whose_instance_was_reconfigured_meanwhile_is_conflict():
    """The details of an exec (cwd, from $HOME) read the config: an answer
    given before a SetConfig does not hold after it."""
    a1 = hold_agents()[0]
    x = T.add(unique_name('pkhz'))
    call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(x, NONE_SOURCE))
    SPY.mark()
    t, out = in_thread(lambda: a1.call(instance_path(x), INSTANCE_IFACE, 'Exec', exec_params(['true']), in_fds=NULL_FDS,
                                       timeout=120))
    try:
        holding(['pkhold1'])
        set_config(x, {'environment.HOME': '/srv'})
    finally:
        go()
        t.join(200)
        no_go()
    res = out['res']
    assert not res['ok'] and res['error'] == ERR + 'Conflict', res
    assert "'%s'" % x in res['message'], res['message']
    cleanup_instance(x)
    remove_rule('60-lxcbus-test-hold.rules')


@on_exit
def cleanup():
    no_go()
    close_agents()
    T.cleanup()
    cleanup_instance('web')
    remove_all_rules()
    remove_users()
    restore_subids()


if __name__ == '__main__':
    main()
