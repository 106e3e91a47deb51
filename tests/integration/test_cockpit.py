#!/usr/bin/python3
"""The Cockpit page (cockpit/) in a real browser, inside the test host: cockpit-ws --no-tls
--local-session=cockpit-bridge on the test host's own loopback (its private network namespace), Debian's
chromium headless, driven by playwright-core (tests/browser/driver.mjs; `npm ci` in tests/browser first).
The page lists instances created over the bus, shows a state change made with busctl without a reload,
starts and stops an instance and shows its address, shows and removes instances as they come and go,
deletes one, freezes and restarts one from the page, and shows a refusal by polkit as "not authorized".
With LXCBUS_SCREENSHOTS=1 a screenshot of the list goes to docs/cockpit-instances.png."""

import os

from lxcbustest import *
from lxcbushelp import *
from cockpithelp import *

# the README's screenshot, with LXCBUS_SCREENSHOTS=1 (tests/integration/run.sh passes it in); else a
# scratch copy in the test host's /tmp, so that a normal run leaves the tree clean
SHOT = os.path.join(SRC_DIR, 'docs', 'cockpit-instances.png') if os.environ.get('LXCBUS_SCREENSHOTS') == '1' \
    else '/tmp/cockpit-instances.png'
USER = 'ckuser'

T = Tracker()
ST = {}         # processes and names shared by the steps below


@on_exit
def cleanup():
    stop_all(ST)
    T.cleanup()
    remove_users()


@test
def page_is_installed_and_playwright_is_there():
    for f in ('manifest.json', 'index.html', 'lxcbus.js', 'lxcbus.css'):
        assert os.path.isfile('/usr/share/cockpit/lxcbus/' + f), f
    assert os.path.isdir(os.path.join(BROWSER_DIR, 'node_modules', 'playwright-core')), \
        'no playwright-core: run "npm ci" in tests/browser (.ci/run does)'
    assert os.access('/usr/bin/chromium', os.X_OK), 'no /usr/bin/chromium: run tests/install-deps.sh'


@test
def page_lists_instances_created_over_the_bus():
    # the addresses come from lxc-net's DHCP on lxcbr0
    wait_for(lambda: run('systemctl', 'is-active', 'lxc-net.service')[1].strip() == 'active', 30, 'lxc-net up')
    ST['web'] = T.add('ck-web')
    ST['db'] = T.add('ck-db')
    for n in (ST['web'], ST['db']):
        cleanup_instance(n)
        create_instance(n)
    set_config(ST['web'], {'description': 'web front end'})
    start_instance(ST['web'])
    ST['ws'] = start_ws(PORT)
    ST['browser'] = b = Browser()
    b.do('open', 90, url=url())
    r = b.row(ST['web'], 'running')
    assert r['badge'] == 'running' and r['description'] == 'web front end', r
    assert r['buttons'] == ['Stop', 'Restart', 'Freeze', 'Delete'], r
    r = b.row(ST['db'], 'stopped')
    assert r['buttons'] == ['Start', 'Delete'], r


@test
def running_instance_shows_its_ipv4_address():
    ip = instance_ipv4(ST['web'])
    r = ST['browser'].row(ST['web'], 'running', address=True)
    assert r['address'] == ip, (r, ip)


@test
def state_change_by_busctl_appears_without_reload():
    b = ST['browser']
    path = instance_path(ST['web'])
    rc, out, err = run('busctl', 'call', BUS_NAME, path, INSTANCE_IFACE, 'Freeze')
    assert rc == 0, err
    r = b.row(ST['web'], 'frozen')
    assert r['buttons'] == ['Unfreeze', 'Stop', 'Delete'], r
    rc, out, err = run('busctl', 'call', BUS_NAME, path, INSTANCE_IFACE, 'Unfreeze')
    assert rc == 0, err
    b.row(ST['web'], 'running')
    assert b.do('loads')['loads'] == 1, 'the page was reloaded'


@test
def start_from_the_page_starts_it():
    b = ST['browser']
    b.do('click', name=ST['db'], action='Start')
    b.row(ST['db'], 'running', timeout=90)
    assert instance_prop(ST['db'], 'State') == 'running'
    r = b.row(ST['db'], 'running', address=True)
    assert r['address'] == instance_ipv4(ST['db']), r
    b.do('screenshot', path=SHOT)


@test
def stop_from_the_page_stops_it():
    b = ST['browser']
    b.do('click', name=ST['db'], action='Stop')
    r = b.row(ST['db'], 'stopped', timeout=90)
    assert instance_prop(ST['db'], 'State') == 'stopped'
    assert r['address'] == '\u2014', r


@test
def freeze_and_restart_from_the_page():
    b = ST['browser']
    web = ST['web']
    b.do('click', name=web, action='Freeze')
    b.row(web, 'frozen')
    assert instance_prop(web, 'State') == 'frozen'
    b.do('click', name=web, action='Unfreeze')
    b.row(web, 'running')
    pid = instance_prop(web, 'Pid')
    b.do('click', name=web, action='Restart')
    # the new init's Pid and the running state come back by PropertiesChanged; the buttons are back too
    wait_for(lambda: instance_prop(web, 'State') == 'running' and instance_prop(web, 'Pid') not in (0, pid),
             90 * SLOW, 'a restarted %s' % web)
    r = b.row(web, 'running', address=True, timeout=60)
    assert r['buttons'] == ['Stop', 'Restart', 'Freeze', 'Delete'], r


@test
def instances_come_and_go_live():
    b = ST['browser']
    name = T.add('ck-new')
    cleanup_instance(name)
    create_instance(name)
    b.row(name, 'stopped')
    # Delete asks for a second click, then the row goes once the object is gone
    b.do('click', name=name, action='Delete')
    assert 'Confirm delete' in b.row(name)['buttons']
    b.do('click', name=name, action='Delete')
    b.do('gone', name=name, timeout_ms=60000 * SLOW)
    assert not instance_exists(name)
    assert b.do('loads')['loads'] == 1, 'the page was reloaded'


@test
def unauthorized_user_sees_not_authorized():
    b = open_as_user(ST, USER)
    # root's instances are listed (reads are open to everybody), but starting one is refused by polkit
    b.row(ST['db'], 'stopped')
    b.do('click', name=ST['db'], action='Start')
    text = b.do('alert')['text']
    assert text == 'Start %s: not authorized' % ST['db'], text
    assert instance_prop(ST['db'], 'State') == 'stopped'
    b.row(ST['db'], 'stopped')


if __name__ == '__main__':
    main()
