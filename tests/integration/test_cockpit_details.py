#!/usr/bin/python3
"""The Cockpit page's create dialog, details view and operations (cockpit/create.js, details.js,
operations.js) in a real browser inside the test host, as test_cockpit.py runs it (cockpithelp.py).

The dialog creates an instance (the list shows it, the bus agrees on its config), imports one from a
tarball on the host, and shows the daemon's refusal of a bad or taken name. The details view shows the
config, changes it with SetConfig (set, unset, a new key), says "changed meanwhile" with the fresh values
when busctl changed it under the editor, shows GetState's figures of a running instance every few seconds
and stops reading them when it closes. An export stalled by its reader shows in the operations with its
bytes, and Cancel on the page cancels it. A user whose bridge runs unprivileged gets "not authorized" from
the dialog. With LXCBUS_SCREENSHOTS=1 a screenshot of the details view goes to docs/cockpit-details.png."""

import os
import threading
import time

from lxcbustest import *
from lxcbushelp import *
from cockpithelp import *

SHOT = os.path.join(SRC_DIR, 'docs', 'cockpit-details.png') if os.environ.get('LXCBUS_SCREENSHOTS') == '1' \
    else '/tmp/cockpit-details.png'
USER = 'ckdetuser'
TARBALL = '/var/tmp/ck-import.tar'

T = Tracker()
ST = {}


@on_exit
def cleanup():
    t0 = time.monotonic()
    if 'reader' in ST:
        ST['reader'].set()
    stop_all(ST)
    t1 = time.monotonic()
    if 'web' in ST and instance_exists(ST['web']) and instance_prop(ST['web'], 'State') == 'running':
        stop_instance(ST['web'])        # a kill: Delete's clean stop would wait for busybox's init
    T.cleanup()
    remove_users()
    print('# cleanup: browsers and servers %.1f s, instances and users %.1f s'
          % (t1 - t0, time.monotonic() - t1))
    if os.path.exists(TARBALL):
        os.unlink(TARBALL)


def fresh(name, source=None):
    """name, tracked, with no instance of that name left from before (created from source if given)."""
    T.add(name)
    cleanup_instance(name)
    if source:
        create_instance(name, source)
    return name


def sel_row(name):
    return 'tr[data-name="%s"]' % name


def cfg_input(key):
    return '#config-body tr[data-key="%s"] input' % key


def open_dialog(b):
    b.do('press', sel='#create-open')
    b.do('until', sel='#create-dialog[open]')


def submit_and_get_error(b):
    b.do('press', sel='#create-submit')
    return b.do('until', sel='#create-alert:not([hidden]) #create-alert-text', pattern='.')['text']


def open_details(b, name):
    b.do('press', sel=sel_row(name) + ' a.name-link')
    b.do('until', sel='#details[data-name="%s"]:not([hidden])' % name)


def usage(b, prop, pattern, timeout=30):
    return b.do('until', timeout + 10, sel='#details-usage dd[data-prop="%s"]' % prop, pattern=pattern,
                timeout_ms=timeout * SLOW * 1000)['text']


def usage_reads(b):
    return int(b.do('attr', sel='body', name='data-usage-reads')['value'] or 0)


@test
def create_from_the_dialog():
    wait_for(lambda: run('systemctl', 'is-active', 'lxc-net.service')[1].strip() == 'active', 30, 'lxc-net up')
    ST['ws'] = start_ws(PORT)
    with BusCalls() as mon:
        ST['browser'] = b = Browser()
        b.do('open', 90, url=url())
        time.sleep(1)
    # the list and the operations come from the same ObjectManager: nothing per instance or operation
    print('# method calls to org.lxcbus1 while the page opened: %s' % dict(mon.calls))
    assert sum(mon.calls.values()) < 20, mon.calls
    ST['web'] = name = fresh('ckd-web')
    open_dialog(b)
    b.do('fill', sel='#create-name', value=name)
    b.do('fill', sel='#create-description', value='made in the dialog')
    b.do('fill', sel='#create-memory', value='256M')
    b.do('choose', sel='#create-source', value='busybox')
    b.do('press', sel='#create-submit')
    b.row(name, 'stopped', timeout=120)
    b.do('until', sel='#create-dialog', state='hidden')
    config = instance_prop(name, 'Config')
    assert config.get('description') == 'made in the dialog' and config.get('limits.memory') == '256M', config
    # its create operation is in the operations, finished (for 10 s)
    b.do('until', sel='tr[data-kind="create"][data-instance="%s"][data-status="success"]' % name)


@test
def dialog_shows_the_daemons_refusals():
    b = ST['browser']
    open_dialog(b)
    b.do('fill', sel='#create-name', value='bad_name')
    text = submit_and_get_error(b)
    assert text.startswith('Create bad_name: invalid name (') and 'bad_name' in text[20:], text
    b.do('fill', sel='#create-name', value=ST['web'])
    text = submit_and_get_error(b)
    assert text.startswith('Create %s: an instance of that name exists (' % ST['web']), text
    b.do('fill', sel='#create-name', value='ck-bad-memory')
    b.do('fill', sel='#create-memory', value='lots')
    text = submit_and_get_error(b)
    assert text.startswith('Create ck-bad-memory: invalid configuration (') and 'limits.memory' in text, text
    assert not instance_exists('ck-bad-memory')
    b.do('press', sel='#create-cancel')
    b.do('until', sel='#create-dialog', state='hidden')


@test
def dialog_imports_a_tarball_on_the_host():
    b = ST['browser']
    src = fresh('ckd-src', 'none')
    rc, out, err = run(CTL, 'export', src, TARBALL)
    assert rc == 0, err
    new = fresh('ckd-import')
    open_dialog(b)
    b.do('fill', sel='#create-name', value=new)
    b.do('choose', sel='#create-source', value='import')
    b.do('fill', sel='#create-path', value='/var/tmp/no-such.tar')
    text = submit_and_get_error(b)
    assert text.startswith('Import %s: ' % new) and '/var/tmp/no-such.tar' in text, text
    b.do('fill', sel='#create-path', value=TARBALL)
    b.do('press', sel='#create-submit')
    b.row(new, 'stopped', timeout=60)
    b.do('until', sel='#create-dialog', state='hidden')
    assert instance_prop(new, 'State') == 'stopped'
    cleanup_instance(new)
    cleanup_instance(src)


@test
def details_show_config_and_snapshots():
    b = ST['browser']
    name = ST['web']
    snap_call(name, 'Snapshot', 'first')
    set_config(name, {'user.site': 'docs'})
    open_details(b, name)
    keys = b.do('texts', sel='#config-body tr[data-key] td.key')['texts']
    assert keys == sorted(instance_prop(name, 'Config')), keys
    assert b.do('text', sel='#config-body tr[data-key="limits.memory"] td.value')['text'] == '256M'
    assert b.do('text', sel='#details-props dd[data-prop="Description"]')['text'] == 'made in the dialog'
    assert b.do('texts', sel='#snapshots-body tr td:first-child')['texts'] == ['first']
    # a change made elsewhere shows live while not editing
    set_config(name, {'user.site': 'docs and more'})
    b.do('until', sel='#config-body tr[data-key="user.site"] td.value', pattern='^docs and more$')


@test
def set_config_from_the_page():
    b = ST['browser']
    name = ST['web']
    gen = instance_prop(name, 'Generation')
    b.do('press', sel='#config-edit')
    b.do('fill', sel=cfg_input('description'), value='changed on the page')
    b.do('press', sel='#config-body tr[data-key="user.site"] .config-remove')
    b.do('fill', sel='#config-body tr.new-key .config-new-key', value='limits.tasks')
    b.do('fill', sel='#config-body tr.new-key .config-new-value', value='64')
    b.do('press', sel='#config-save')
    b.do('until', sel='#config-save', state='hidden')
    config = instance_prop(name, 'Config')
    assert config.get('description') == 'changed on the page', config
    assert config.get('limits.tasks') == '64' and 'user.site' not in config, config
    assert instance_prop(name, 'Generation') == gen + 1
    b.do('until', sel='#config-body tr[data-key="limits.tasks"] td.value', pattern='^64$')


@test
def stale_generation_shows_the_conflict():
    b = ST['browser']
    name = ST['web']
    b.do('press', sel='#config-edit')
    rc, out, err = run('busctl', 'call', BUS_NAME, instance_path(name), INSTANCE_IFACE, 'SetConfig',
                       'a{ss}asa{sv}', '1', 'description', 'changed by busctl', '0', '0')
    assert rc == 0, err
    b.do('fill', sel=cfg_input('description'), value='lost on the page')
    b.do('press', sel='#config-save')
    text = b.do('until', sel='#config-alert-text', pattern='changed meanwhile')['text']
    assert 'changed meanwhile' in text, text
    assert b.do('value', sel=cfg_input('description'))['value'] == 'changed by busctl'
    assert instance_prop(name, 'Config')['description'] == 'changed by busctl'
    # the form starts again from the fresh generation: saving now works
    b.do('fill', sel=cfg_input('description'), value='a web server')
    b.do('press', sel='#config-save')
    b.do('until', sel='#config-save', state='hidden')
    assert instance_prop(name, 'Config')['description'] == 'a web server'


@test
def usage_figures_while_open_and_running():
    b = ST['browser']
    name = ST['web']
    assert b.do('attr', sel='#details', name='data-usage-timer')['value'] == 'off'     # stopped: no reads
    start_instance(name)
    b.do('until', sel='#details[data-state="running"]')
    usage(b, 'Memory', r'^\d+(\.\d)? [KMG]iB of 256M$')
    usage(b, 'CPU time', r'^\d+\.\d\d s$')
    usage(b, 'Tasks', r'^\d+$')
    usage(b, 'Addresses', r'10\.0\.3\.\d+/24 \(eth0\)', timeout=60)
    usage(b, 'Network eth0', r'received, .* sent$')
    n = usage_reads(b)
    wait_for(lambda: usage_reads(b) > n, 10 * SLOW, 'another GetState() from the page')
    # closed: the timer stops
    b.do('press', sel='#details-back')
    b.do('until', sel='#details', state='hidden')
    b.row(name, 'running')
    assert b.do('attr', sel='#details', name='data-usage-timer')['value'] == 'off'
    n = usage_reads(b)
    time.sleep(4)
    assert usage_reads(b) == n, 'GetState() after the view closed'


def stalled_export(name):
    """An async Export into a pipe whose reader takes 8 MiB in about a second (the worker reports Bytes at
    most every 100 ms, so a reader too quick would leave none reported), then stops reading until
    ST['reader'] is set; returns the operation."""
    r, w = os.pipe2(os.O_CLOEXEC)
    ST['reader'] = go_on = threading.Event()

    def reader():
        n, started = 0, time.monotonic()
        while n < 8 << 20:
            b = os.read(r, 1 << 16)
            if not b:
                break
            n += len(b)
            time.sleep(max(0, started + n / (8 << 20) - time.monotonic()))
        go_on.wait(120)
        os.close(r)

    threading.Thread(target=reader, daemon=True).start()
    try:
        return call_with_fds(instance_path(name), INSTANCE_IFACE, 'Export',
                             V('(ha{sv})', (0, {'async': V('b', True)})), [w])
    finally:
        os.close(w)


@test
def operation_progress_and_cancel_from_the_page():
    b = ST['browser']
    big = fresh('ckd-archive', 'none')
    with open(os.path.join(rootfs(big), 'big'), 'wb') as f:
        for _ in range(32):
            f.write(os.urandom(1 << 20))
    open_details(b, ST['web'])
    op = stalled_export(big)
    row = 'tr[data-op-path="%s"]' % op
    b.do('until', sel=row + '[data-kind="export"][data-status="running"][data-instance="%s"]' % big)
    # the reader took 8 MiB, so at least about that much was written
    b.do('until', sel=row + ' td.ops-col-bytes', pattern=r'^([4-9]|\d\d+)\.\d MiB')
    usage(b, 'Addresses', r'10\.0\.3\.\d+')
    b.do('screenshot', path=SHOT)
    b.do('press', sel=row + ' button[data-action="Cancel"]')
    assert op_wait(op, 30) == 'cancelled'
    b.do('until', sel=row + '[data-status="cancelled"]')
    assert b.do('texts', sel=row + ' button')['texts'] == []
    ST['reader'].set()
    cleanup_instance(big)


@test
def unauthorized_user_gets_not_authorized_from_the_dialog():
    b = open_as_user(ST, USER)
    open_dialog(b)
    b.do('fill', sel='#create-name', value='ck-denied')
    text = submit_and_get_error(b)
    assert text == 'Create ck-denied: not authorized', text
    assert not instance_exists('ck-denied')


if __name__ == '__main__':
    main()
