#!/usr/bin/python3
"""lxcbusctl as a user runs it (the installed /usr/bin/lxcbusctl), checked
against what the bus says."""

import json
import re

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
NAME = unique_name('ctl')
NAME2 = unique_name('ctl2')
PATH = instance_path(NAME)


def ctl(*args, rc=0, timeout=120):
    """Run lxcbusctl; assert its exit status; return (stdout, stderr)."""
    code, out, err = run(CTL, *args, timeout=timeout)
    if rc is not None:
        assert code == rc, 'lxcbusctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
            ' '.join(args), code, rc, out, err)
    return out, err


def ctl_fails(*args, rc=None):
    code, out, err = run(CTL, *args)
    assert code != 0, 'lxcbusctl %s succeeded:\n%s' % (' '.join(args), out)
    if rc is not None:
        assert code == rc, 'lxcbusctl %s: exit %d, expected %d; stderr: %s' % (' '.join(args), code, rc, err)
    assert err.strip(), 'lxcbusctl %s failed without a message on stderr' % ' '.join(args)
    assert not out.strip() or rc == 2, 'output on stdout for a failure: %r' % out
    return code, err


def table_row(out, name):
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == name:
            return cols
    raise AssertionError('%s not in table:\n%s' % (name, out))


# ---- usage -------------------------------------------------------------------------------

@test
def help_and_usage_errors():
    out, err = ctl('--help')
    for verb in ('list', 'info', 'create', 'start', 'stop', 'restart', 'freeze', 'unfreeze', 'delete', 'config'):
        assert re.search(r'^\s+%s\b' % verb, out, re.M), 'verb %s not in --help:\n%s' % (verb, out)
    out, err = ctl('--version')
    assert out.strip(), 'no --version output'
    out, err = ctl(rc=2)
    assert err.strip() and 'lxcbusctl' in err, err
    out, err = ctl('no-such-verb', rc=2)
    assert 'no-such-verb' in err, err
    out, err = ctl('list', '--no-such-option', rc=2)
    assert err.strip(), err
    out, err = ctl('start', rc=2)   # missing NAME
    assert err.strip(), err


# ---- a life cycle --------------------------------------------------------------------------

@test
def create_with_template():
    T.add(NAME)
    out, err = ctl('create', NAME, '--template', 'busybox', timeout=300)
    assert instance_exists(NAME)
    assert instance_prop(NAME, 'State') == 'stopped'


@test
def list_shows_it():
    out, err = ctl('list')
    assert table_row(out, NAME)[1] == 'stopped', out
    assert re.search(r'\bNAME\b.*\bSTATE\b', out.splitlines()[0]), 'no header: %s' % out


@test
def list_json_is_valid():
    out, err = ctl('list', '--json')
    data = json.loads(out)
    assert isinstance(data, list), data
    e = [x for x in data if x.get('name') == NAME]
    assert len(e) == 1, data
    e = e[0]
    assert e['state'] == 'stopped' and e['pid'] == 0 and e['unit'] == '', e
    assert {x['name'] for x in data} == {n for n, s, p in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')}


@test
def start_and_info():
    ctl('start', NAME)
    assert instance_prop(NAME, 'State') == 'running'
    pid = instance_prop(NAME, 'Pid')
    assert pid > 0
    out, err = ctl('info', NAME)
    fields = dict((m.group(1), m.group(2).strip()) for m in re.finditer(r'^(\w[\w ]*):\s*(.*)$', out, re.M))
    assert fields.get('State') == 'running', out
    assert fields.get('Pid') == str(pid), out
    assert fields.get('Unit') == 'lxcbus-%s.scope' % NAME, out
    assert fields.get('Name') == NAME, out

    out, err = ctl('info', NAME, '--json')
    d = json.loads(out)
    assert d['Name'] == NAME and d['State'] == 'running' and d['Pid'] == pid, d
    assert d['Unit'] == 'lxcbus-%s.scope' % NAME, d
    assert d['Generation'] == instance_prop(NAME, 'Generation'), d

    out, err = ctl('list', '--json')
    e = [x for x in json.loads(out) if x['name'] == NAME][0]
    assert e['state'] == 'running' and e['pid'] == pid and e['unit'] == 'lxcbus-%s.scope' % NAME, e
    out, err = ctl('list')
    row = table_row(out, NAME)
    assert row[1] == 'running' and str(pid) in row, row


@test
def config_set_show_unset():
    gen = instance_prop(NAME, 'Generation')
    ctl('config', NAME, 'set', 'limits.memory=128MiB', 'description=x')
    assert instance_prop(NAME, 'Config') == {'limits.memory': '128MiB', 'description': 'x'}
    assert instance_prop(NAME, 'Description') == 'x'
    assert instance_prop(NAME, 'Generation') == gen + 1
    out, err = ctl('config', NAME, 'show', '--json')
    assert json.loads(out) == {'limits.memory': '128MiB', 'description': 'x'}, out
    out, err = ctl('config', NAME, 'show')
    assert 'limits.memory=128MiB' in out.splitlines() and 'description=x' in out.splitlines(), out
    rc, o, e = run('systemctl', 'show', '-P', 'MemoryMax', 'lxcbus-%s.scope' % NAME)
    assert o.strip() == '134217728', o
    # a value with '=' and spaces in it
    ctl('config', NAME, 'set', 'user.cmd=a=b c')
    assert instance_prop(NAME, 'Config')['user.cmd'] == 'a=b c'
    ctl('config', NAME, 'unset', 'description', 'user.cmd')
    assert instance_prop(NAME, 'Config') == {'limits.memory': '128MiB'}
    assert instance_prop(NAME, 'Description') == ''
    # optimistic concurrency from the command line
    gen = instance_prop(NAME, 'Generation')
    code, err = ctl_fails('config', NAME, 'set', 'description=y', '--expected-generation=%d' % (gen - 1))
    assert "'%s'" % NAME in err, err
    ctl('config', NAME, 'set', 'description=y', '--expected-generation=%d' % gen)
    assert instance_prop(NAME, 'Description') == 'y'


@test
def freeze_unfreeze():
    ctl('freeze', NAME)
    assert instance_prop(NAME, 'State') == 'frozen'
    out, err = ctl('list', '--json')
    assert [x for x in json.loads(out) if x['name'] == NAME][0]['state'] == 'frozen'
    # stop without --force on a frozen instance is refused
    code, err = ctl_fails('stop', NAME)
    assert "'%s'" % NAME in err, err
    ctl('unfreeze', NAME)
    assert instance_prop(NAME, 'State') == 'running'


@test
def restart_gives_new_init():
    pid = instance_prop(NAME, 'Pid')
    ctl('restart', NAME, timeout=180)
    assert instance_prop(NAME, 'State') == 'running'
    new = instance_prop(NAME, 'Pid')
    assert new > 0 and new != pid, (pid, new)


@test
def stop_with_timeout():
    ctl('stop', NAME, '--timeout', '5', timeout=60)
    assert instance_prop(NAME, 'State') == 'stopped'
    assert instance_prop(NAME, 'Pid') == 0
    out, err = ctl('info', NAME, '--json')
    d = json.loads(out)
    assert d['State'] == 'stopped' and d['Pid'] == 0 and d['Unit'] == '', d
    # stop again: idempotent
    ctl('stop', NAME)


@test
def delete_stopped():
    ctl('delete', NAME)
    assert not instance_exists(NAME)
    out, err = ctl('list', '--json')
    assert NAME not in [x['name'] for x in json.loads(out)]


@test
def delete_force_running():
    T.add(NAME2)
    ctl('create', NAME2, timeout=300)   # default template: busybox
    ctl('start', NAME2)
    assert instance_prop(NAME2, 'State') == 'running'
    code, err = ctl_fails('delete', NAME2)
    assert "'%s'" % NAME2 in err, err
    assert instance_exists(NAME2)
    ctl('delete', '--force', NAME2, timeout=120)
    assert not instance_exists(NAME2)
    rc, o, e = run('systemctl', 'show', '-P', 'LoadState', 'lxcbus-%s.scope' % NAME2)
    wait_for(lambda: scope_state('lxcbus-%s.scope' % NAME2)[0] == 'not-found', 20, 'scope gone')


# ---- errors -----------------------------------------------------------------------------

@test
def start_nosuch_exits_4():
    code, err = ctl_fails('start', 'nosuch', rc=4)
    assert "'nosuch'" in err, err
    code, err = ctl_fails('info', 'nosuch', rc=4)
    assert "'nosuch'" in err, err
    code, err = ctl_fails('delete', 'nosuch', rc=4)
    assert "'nosuch'" in err, err


@test
def create_bad_name_fails():
    code, err = ctl_fails('create', 'bad name')
    assert code not in (0, 2), code
    assert 'Invalid instance name' in err, err
    assert not instance_exists('bad-name')


@test
def config_set_unknown_key_fails():
    name = T.add(new_instance('ctlc', source='none'))
    gen = instance_prop(name, 'Generation')
    code, err = ctl_fails('config', name, 'set', 'foo=bar')
    assert "'foo'" in err, err
    code, err = ctl_fails('config', name, 'set', 'limits.memory=lots')
    assert "'limits.memory'" in err, err
    code, err = ctl_fails('config', name, 'set', 'novalue', rc=2)
    assert instance_prop(name, 'Generation') == gen
    assert instance_prop(name, 'Config') == {}
    cleanup_instance(name)


@test
def daemon_survived():
    check_daemon_alive()


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
