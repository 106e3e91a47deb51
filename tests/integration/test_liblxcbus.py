#!/usr/bin/python3
"""liblxcbus from Python (gi.repository.Lxcbus, the installed typelib) and from C (test-liblxcbus.c
compiled inside the test host with pkg-config against the installed library): list, a state change
seen by signal, start and stop waiting on the Operation, ExecPty's fd read and written, SetConfig with
a list, errors in LXCBUS_ERROR."""

import os
import shutil
import subprocess

from lxcbustest import *
from lxcbushelp import *

# The sanitizer build makes no typelib (g-ir-scanner's dumper does not load an ASan library): there only
# the C client runs, itself built with the sanitizers, which the installed library needs.
SANITIZE = os.environ.get('LXCBUS_SANITIZE') == '1'
SKIP = SANITIZE
if not SKIP:
    import gi
    gi.require_version('Lxcbus', '1')
    from gi.repository import Lxcbus

NAME = unique_name('gi')
C_NAME = unique_name('gic')
tracker = Tracker()
client = None


def finish_async(start):
    """Run start(callback) and dispatch until the callback came; returns (source, result)."""
    got = []
    start(lambda source, res, *user: got.append((source, res)))
    wait_for(lambda: got, 180 * SLOW, 'the async call finished')
    return got[0]


def assert_gerror(fn, code, what):
    """fn() fails with a GError of `code` in the LXCBUS_ERROR domain, which is returned; `what` says what
    it would have done wrongly by succeeding."""
    try:
        fn()
    except GLib.Error as e:
        assert e.matches(Lxcbus.error_quark(), code), (e.domain, e.code, e.message)
        return e
    raise AssertionError(what)


def state_watch(instance):
    """Record every value of the instance proxy's State property notified."""
    seen = []
    instance.connect('notify::state', lambda obj, pspec: seen.append(obj.props.state))
    return seen


@test
def setup():
    create_instance(tracker.add(NAME))
    create_instance(tracker.add(C_NAME))


@test
def client_lists_the_instances():
    if SKIP:
        return
    global client
    _, res = finish_async(lambda cb: Lxcbus.Client.new(None, cb))
    client = Lxcbus.Client.new_finish(res)
    names = [i.props.name for i in client.get_instances()]
    assert NAME in names and C_NAME in names, names
    assert client.get_manager().props.version == get_prop(MANAGER_PATH, MANAGER_IFACE, 'Version')
    instance = client.lookup_instance(NAME)
    assert instance.props.state == 'stopped', instance.props.state
    assert instance.get_object_path() == instance_path(NAME)
    assert client.lookup_instance('no-such-instance') is None


@test
def start_waits_for_the_operation_and_the_state_comes_by_signal():
    if SKIP:
        return
    instance = client.lookup_instance(NAME)
    seen = state_watch(instance)
    source, res = finish_async(lambda cb: client.start_instance(NAME, None, cb))
    assert client.start_instance_finish(res)
    wait_for(lambda: 'running' in seen, 30, 'State=running by PropertiesChanged (seen %s)' % seen)
    assert get_prop(instance_path(NAME), INSTANCE_IFACE, 'State') == 'running'


@test
def an_operation_started_elsewhere_is_waited_for():
    if SKIP:
        return
    # Restart with async=true over plain D-Bus; the library waits on the operation it names.
    op = call(instance_path(NAME), INSTANCE_IFACE, 'Restart', V('(a{sv})', ({'async': V('b', True)},)))
    _, res = finish_async(lambda cb: client.wait_operation(op, None, cb))
    assert client.wait_operation_finish(res)
    wait_for(lambda: client.lookup_operation(op), 30, 'operation in the object manager')
    operation = client.lookup_operation(op)
    wait_for(lambda: operation.props.status == 'success', 30, 'Status=success by signal')
    assert operation.props.kind == 'restart', operation.props.kind


@test
def exec_pty_fd_is_read_and_written():
    if SKIP:
        return
    fd, process = client.exec_pty_sync(NAME, ['sh', '-c', 'read x; echo got-$x'], None)
    try:
        assert process.startswith('/org/lxcbus1/'), process
        os.write(fd, b'hello\n')
        read_until(fd, b'got-hello', 30)
    finally:
        os.close(fd)


@test
def set_config_takes_a_list_and_checks_the_generation():
    if SKIP:
        return
    assert client.set_config_sync(NAME, {'description': 'from gi', 'user.note': 'x'}, None, 0, None)
    instance = client.lookup_instance(NAME)
    wait_for(lambda: instance.props.description == 'from gi', 30, 'Description by signal')
    assert client.set_config_sync(NAME, None, ['user.note'], instance.props.generation, None)
    wait_for(lambda: 'user.note' not in instance.props.config.unpack(), 30, 'user.note gone')
    stale = instance.props.generation + 1000
    assert_gerror(lambda: client.set_config_sync(NAME, {'description': 'stale'}, None, stale, None),
                  Lxcbus.Error.CONFLICT, 'a stale expected-generation was accepted')


@test
def stop_waits_for_the_operation():
    if SKIP:
        return
    instance = client.lookup_instance(NAME)
    seen = state_watch(instance)
    assert client.stop_instance_sync(NAME, False, None)
    assert get_prop(instance_path(NAME), INSTANCE_IFACE, 'State') == 'stopped'
    wait_for(lambda: 'stopped' in seen, 30, 'State=stopped by PropertiesChanged (seen %s)' % seen)


@test
def errors_come_in_the_lxcbus_domain():
    if SKIP:
        return
    assert_gerror(lambda: client.start_instance_sync('no-such-instance', None),
                  Lxcbus.Error.NO_SUCH_INSTANCE, 'started a missing instance')
    # A daemon error passes through the generated proxy into the same domain.
    instance = client.lookup_instance(NAME)
    assert_gerror(lambda: instance.call_freeze_sync(Gio.DBusCallFlags.NONE, -1, None),
                  Lxcbus.Error.INVALID_STATE, 'froze a stopped instance')


@test
def a_new_instance_appears_live_and_a_failed_start_is_a_gerror():
    if SKIP:
        return
    name = tracker.add(unique_name('gin'))
    added = []
    manager = client.get_object_manager()
    handler = manager.connect('object-added', lambda om, obj: added.append(obj))
    try:
        create_instance(name, 'none')       # an empty rootfs: no init, so Start is refused
        wait_for(lambda: [o for o in added if o.get_instance() and o.get_instance().props.name == name],
                 30, 'object-added for %s' % name)
    finally:
        manager.disconnect(handler)
    assert client.lookup_instance(name).props.state == 'stopped'
    e = assert_gerror(lambda: client.start_instance_sync(name, None),
                      Lxcbus.Error.FAILED, 'an instance without init started')
    assert 'init' in e.message, e.message


@test
def c_client_built_with_pkg_config():
    src = os.path.join(os.environ['LXCBUS_SRC_DIR'], 'src/liblxcbus/tests/test-liblxcbus.c')
    exe = '/tmp/test-liblxcbus'
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'lxcbus-1'], capture_output=True, text=True,
                           check=True).stdout.split()
    if SANITIZE:
        flags += ['-fsanitize=address,undefined']
    subprocess.run([shutil.which('cc') or 'gcc', '-o', exe, src] + flags, check=True, timeout=120)
    out = subprocess.run([exe, C_NAME], capture_output=True, text=True, timeout=300 * SLOW)
    print('\n'.join('# ' + l for l in (out.stdout + out.stderr).splitlines()))
    assert out.returncode == 0, out.returncode
    for step in ('list', 'start', 'exec-pty', 'stop', 'no such instance'):
        assert 'ok - %s' % step in out.stdout, step


on_exit(tracker.cleanup)

if __name__ == '__main__':
    main()
