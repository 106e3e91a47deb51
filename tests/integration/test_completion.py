#!/usr/bin/python3
"""The bash completion of lxcbusctl, as installed (bash-completion's
completionsdir), driven the way bash drives it: the file sourced, COMP_WORDS
and COMP_CWORD set, _lxcbusctl called, COMPREPLY read. Verbs and options are
checked against lxcbusctl --help, so that a verb or an option added to
lxcbusctl without its completion fails here; instance and snapshot names
come from the test host's bus."""

import os
import re

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
NAME = unique_name('compl')
OTHER = unique_name('other')
COMPLETION = '/usr/share/bash-completion/completions/lxcbusctl'

# Sources the file, sets COMP_WORDS to the arguments after the file (the last one is the word being
# completed), calls the function and prints COMPREPLY, one per line.
DRIVER = r'''
set -u
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
complete -p lxcbusctl >/dev/null || exit 3
_lxcbusctl
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(*words, env=None):
    """COMPREPLY for the command line 'lxcbusctl WORDS', the last word being completed (bash splits at
    '=' and ':', so "--opt=" is written "--opt", "=", "")."""
    rc, out, err = run('bash', '--norc', '--noprofile', '-c', DRIVER, 'bash', COMPLETION, 'lxcbusctl',
                       *words, env=env)
    assert rc == 0, 'completing %r: exit %d: %s' % (words, rc, err)
    assert not err.strip(), 'completing %r wrote to stderr: %s' % (words, err)
    return [w for w in out.splitlines() if w]


def help_blocks():
    """{verb: the text of its lines in lxcbusctl --help} for the lines under the command sections."""
    rc, out, err = run(CTL, '--help')
    assert rc == 0, err
    blocks, verb, in_commands = {}, None, False
    for line in out.splitlines():
        # Every section but Options lists commands.
        if re.match(r'^\S.*:$', line):
            in_commands, verb = line != 'Options:', None
            continue
        if not in_commands:
            continue
        m = re.match(r'^  ([a-z][a-z-]*)\b', line)
        if m:
            verb = m.group(1)
        if verb:
            blocks[verb] = blocks.get(verb, '') + line + '\n'
    assert len(blocks) > 20, 'no verbs found in --help:\n%s' % out
    return blocks


def options_in(text):
    """The options a help text names: "--timeout=" (with '=' if it takes a value), "--force", "-s"."""
    found = set(o if o.endswith('=') else o.rstrip('=') for o in re.findall(r'--[a-z][a-z-]*=?', text))
    found |= set(re.findall(r'(?<![\w-])-[a-zA-Z](?![\w-])', text))
    return found


@test
def installed_and_registered():
    assert os.path.isfile(COMPLETION), '%s is not installed' % COMPLETION
    # bash-completion loads a completion by the name of the command: the file must register itself.
    rc, out, err = run('bash', '--norc', '-c', 'source "$1"; complete -p lxcbusctl', 'bash', COMPLETION)
    assert rc == 0 and '_lxcbusctl' in out, (rc, out, err)


@test
def verbs_are_those_of_help():
    verbs = set(help_blocks())
    got = complete('')
    assert set(got) == verbs, 'completion %s, --help %s' % (sorted(got), sorted(verbs))
    assert sorted(complete('sn')) == ['snapshot', 'snapshot-delete', 'snapshots']
    assert complete('met') == ['metrics']
    # Behind the common options, too.
    assert 'start' in complete('--no-ask-password', '-H', 'root@example', ':', '22', 'st')


@test
def options_per_verb_are_those_of_help():
    for verb, text in help_blocks().items():
        got = set(complete(verb, '-'))
        missing = options_in(text) - got
        assert not missing, '%s: --help names %s, completion lacks them (it has %s)' % (
            verb, sorted(missing), sorted(got))
        # The common options everywhere.
        assert {'--help', '--host=', '-H', '--no-ask-password', '--address='} <= got, (verb, got)
    assert complete('stop', '--ti') == ['--timeout=']
    assert complete('--ver') == ['--version']


@test
def option_values():
    assert complete('export', 'x', 'f', '--compression', '=', 'z') == ['zstd']
    assert complete('export', 'x', 'f', '--compression', 'g') == ['gzip']
    assert 'busybox' in complete('create', 'x', '--template', '=', '')
    assert 'TERM' in complete('kill', 'x', '-s', '')
    assert complete('copy', 'x', 'y', '--clone', '=', '') == ['overlay']


@test
def instance_names_from_the_bus():
    T.add(NAME)
    T.add(OTHER)
    create_instance(NAME)
    create_instance(OTHER)
    got = complete('start', '')
    assert NAME in got and OTHER in got, got
    assert complete('info', NAME[:-2]) == [NAME]
    # After the name: no more names.
    assert complete('start', NAME, '') == []
    # Options in front of the verb and before the name.
    assert NAME in complete('--no-ask-password', 'stop', '--force', '--timeout', '5', '')
    assert NAME in complete('config', '')
    assert sorted(complete('config', NAME, '')) == ['set', 'show', 'unset']
    # file: NAME: with the colon.
    assert NAME + ':' in complete('file', 'pull', '')
    # A bus that is not there: nothing, quietly.
    assert complete('start', '', env={'LXCBUS_BUS_ADDRESS': 'unix:path=/nonexistent'}) == []
    assert complete('start', '--address', '=', 'unix', ':', 'path', '=', '/nonexistent', '') == []
    system_bus = ('--address', '=', 'unix', ':', 'path', '=', '/run/dbus/system_bus_socket')
    assert NAME in complete(*system_bus, 'start', '')


@test
def snapshot_names():
    call(instance_path(NAME), INSTANCE_IFACE, 'Snapshot', V('(sa{sv})', ('snap-one', {})), timeout=120)
    assert complete('restore', NAME, '') == ['snap-one']
    assert complete('snapshot-delete', NAME, 'sn') == ['snap-one']
    assert complete('copy', NAME, 'new', '--snapshot', '=', '') == ['snap-one']


on_exit(T.cleanup)


if __name__ == '__main__':
    main()
