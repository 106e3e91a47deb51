#!/usr/bin/python3
"""The journal answers who did what to an instance (issue 13 item 5, docs/api.md "Journal"): every
lifecycle change and every operation's result carries a MESSAGE_ID per kind of event, besides
LXCBUS_INSTANCE and LXCBUS_VERB, and LXCBUS_UID and LXCBUS_OPERATION when a call caused it; the journal
catalog installed with lxcbus explains each (journalctl -x). Read from the test host's own journald,
with journalctl, as an admin would."""
import json
import os
import re
import signal

from lxcbustest import *
from lxcbushelp import *

USER = 'lxjournal'
T = Tracker()
EVENTS_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'daemon', 'events.c')


def message_ids():
    """verb -> MESSAGE_ID of the instance events, and status -> MESSAGE_ID of operation results, as the
    daemon's source gives them (the catalog test holds the catalog to the same list)."""
    with open(EVENTS_C) as f:
        text = f.read()
    events = dict(re.findall(r'\{ "([a-z-]+)", +MID\("([0-9a-f]{32})"\) \}', text))
    results = dict(re.findall(r'\[OPERATION_([A-Z]+)\] += MID\("([0-9a-f]{32})"\)', text))
    return events, {k.lower(): v for k, v in results.items()}


EVENT, RESULT = message_ids()


def journal(*matches):
    rc, out, err = run('journalctl', '--no-pager', '-q', '-o', 'json', *matches)
    assert rc in (0, 1), (rc, err)
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def entries(mid, name, n=1, **fields):
    """The entries with MESSAGE_ID mid about instance name (and the given fields), once there are n."""
    matches = ['MESSAGE_ID=' + mid, 'LXCBUS_INSTANCE=' + name] + ['%s=%s' % kv for kv in fields.items()]
    return wait_for(lambda: (lambda e: e if len(e) >= n else None)(journal(*matches)), 10,
                    '%d journal entries %s' % (n, matches))


def as_user(*argv):
    rc, out, err = run_as_user(USER, 'lxcbusctl', '--no-ask-password', *argv, timeout=120)
    assert rc == 0, (argv, rc, out, err)
    return out


@test
def catalog_is_installed_and_indexed():
    rc, out, err = run('journalctl', '--list-catalog', '--no-pager')
    assert rc == 0, err
    for mid in list(EVENT.values()) + list(RESULT.values()):
        assert mid in out, mid


@test
def who_created_started_stopped_and_deleted():
    ensure_subids()
    uid = add_user(USER, groups=('lxowners',))
    install_doc_rule('50-lxcbus-owners.rules')
    name = T.add(unique_name('jr'))
    # polkitd re-reads its rules on change: until it has, the create is refused
    wait_for(lambda: run_as_user(USER, 'lxcbusctl', '--no-ask-password', 'create', name,
                                 '--template', 'busybox')[0] == 0, 15, 'the rule in effect')
    as_user('start', name)
    as_user('stop', name)
    start_instance(name)                 # root's turn
    stop_instance(name)
    as_user('delete', name)

    (created,) = entries(EVENT['create'], name)
    assert (created['LXCBUS_UID'], created['LXCBUS_VERB']) == (str(uid), 'create'), created
    assert created['_SYSTEMD_UNIT'] == 'lxcbusd.service' and created['PRIORITY'] == '6', created
    started = entries(EVENT['started'], name, 2)
    assert [e['LXCBUS_UID'] for e in started] == [str(uid), '0'], started
    stopped = entries(EVENT['stop'], name, 2)
    assert [e['LXCBUS_UID'] for e in stopped] == [str(uid), '0'], stopped
    (deleted,) = entries(EVENT['delete'], name)
    assert deleted['LXCBUS_UID'] == str(uid), deleted
    # Each names its operation, and that operation's result has an entry of its own.
    for e in [created, deleted] + started + stopped:
        ops = entries(RESULT['success'], name, LXCBUS_OPERATION=e['LXCBUS_OPERATION'])
        assert ops[0]['LXCBUS_UID'] == e['LXCBUS_UID'], (e, ops)
    verbs = [e['LXCBUS_VERB'] for e in entries(RESULT['success'], name, 6)]
    assert verbs == ['create', 'start', 'stop', 'start', 'stop', 'delete'], verbs
    # One query answers "who touched it": every entry about it, in order, each with a MESSAGE_ID.
    every = journal('LXCBUS_INSTANCE=' + name)
    assert all('MESSAGE_ID' in e for e in every), [e['MESSAGE'] for e in every if 'MESSAGE_ID' not in e]


@test
def an_instance_that_dies_says_so_without_a_caller():
    name = T.add(unique_name('jrd'))
    create_instance(name)
    start_instance(name)
    os.kill(instance_prop(name, 'Pid'), signal.SIGKILL)
    wait_for(lambda: instance_prop(name, 'State') == 'stopped', 30, 'stopped')
    (ended,) = entries(EVENT['stopped'], name)
    assert 'LXCBUS_UID' not in ended and 'LXCBUS_OPERATION' not in ended, ended
    assert not journal('MESSAGE_ID=' + EVENT['stop'], 'LXCBUS_INSTANCE=' + name)


@test
def a_failed_operation_has_its_own_message_id():
    name = T.add(unique_name('jrf'))
    create_instance(name, config={'network.bridge': 'nosuchbr0'})
    expect_error('org.lxcbus1.Error.InvalidConfig',
                 lambda: call(instance_path(name), INSTANCE_IFACE, 'Start', opts(), timeout=60))
    (failed,) = entries(RESULT['failure'], name)
    assert (failed['LXCBUS_VERB'], failed['PRIORITY']) == ('start', '4'), failed
    assert 'nosuchbr0' in failed['MESSAGE'], failed
    assert not journal('MESSAGE_ID=' + EVENT['started'], 'LXCBUS_INSTANCE=' + name)


@test
def journalctl_x_explains_each_entry():
    name = T.add(unique_name('jrx'))
    create_instance(name)
    start_instance(name)
    entries(EVENT['started'], name)
    rc, out, err = run('journalctl', '-x', '--no-pager', '-q', 'MESSAGE_ID=' + EVENT['started'],
                       'LXCBUS_INSTANCE=' + name)
    assert rc == 0, err
    # The catalog's text with the entry's own fields filled in.
    assert 'Subject: Instance %s is running' % name in out, out
    assert 'Defined-By: lxcbus' in out and '@LXCBUS_' not in out, out
    stop_instance(name, timeout=0)


@test
def a_copy_is_told_under_its_new_name_with_its_source():
    src = T.add(unique_name('jrs'))
    new = T.add(unique_name('jrc'))
    create_instance(src)
    copy_instance(T, src, new)
    (copied,) = entries(EVENT['copy'], new)
    assert copied['LXCBUS_UID'] == '0' and "from '%s'" % src in copied['MESSAGE'], copied
    assert entries(RESULT['success'], new, LXCBUS_OPERATION=copied['LXCBUS_OPERATION'])


@on_exit
def cleanup():
    T.cleanup()
    remove_all_rules()
    remove_users()
    restore_subids()


if __name__ == '__main__':
    main()
