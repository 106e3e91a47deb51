#!/usr/bin/python3
"""The Cockpit page's terminal tab (cockpit/terminal.js) in a real browser, inside the test host, as
test_cockpit.py runs the page (cockpithelp.py: cockpit-ws on the test host's loopback, Debian's chromium
driven by playwright-core; tests/browser/terminal.mjs reads the xterm screen's rows as a user sees them).
A shell in a running busybox instance runs a typed command and shows its output; a resize of the window
reaches the shell's terminal (stty size); the console variant works; closing a tab leaves no lxcbusctl and
no running process in the instance; without xterm.js the page loads and the tab says so; a user whom polkit
refuses sees "not authorized", not a crash.
With LXCBUS_SCREENSHOTS=1 a screenshot of the terminal goes to docs/cockpit-terminal.png."""

import os

from lxcbustest import *
from lxcbushelp import *
from cockpithelp import *

SHOT = os.path.join(SRC_DIR, 'docs', 'cockpit-terminal.png') if os.environ.get('LXCBUS_SCREENSHOTS') == '1' \
    else '/tmp/cockpit-terminal.png'
USER = 'cktuser'
XTERM_DIR = '/usr/share/cockpit/lxcbus/xterm'
NAME = unique_name('ckterm')

ST = {}         # processes shared by the steps below


@on_exit
def cleanup():
    stop_all(ST)
    cleanup_instance(NAME)
    remove_users()


def lxcbusctl_running(verb):
    """pids of the lxcbusctl processes (not zombies) running `verb` on our instance."""
    found = []
    for pid, comm, state, ppid in processes():
        if comm != 'lxcbusctl' or state == 'Z':
            continue
        try:
            argv = cmdline(pid)
        except OSError:
            continue
        if verb in argv and NAME in argv:
            found.append(pid)
    return found


def sleeping():
    """pids of "sleep 977" (in the instance: its processes are ours to see from the test host)."""
    found = []
    for pid, comm, state, ppid in processes():
        try:
            if comm == 'sleep' and state != 'Z' and cmdline(pid) == ['sleep', '977']:
                found.append(pid)
        except OSError:
            continue
    return found


def running_execs():
    """The exec operations (Process objects) on our instance that still run."""
    path = instance_path(NAME)
    found = []
    for op in call(MANAGER_PATH, MANAGER_IFACE, 'ListOperations', timeout=30):
        try:
            p = get_all_props(op, OPERATION_IFACE)
        except BusError:
            continue        # gone meanwhile
        if p['Kind'] == 'exec' and p['Instance'] == path and p['Status'] == 'running':
            found.append(op)
    return found


@test
def page_xterm_and_playwright_are_installed():
    for f in ('terminal.js', 'terminal.css', 'xterm/xterm.js', 'xterm/xterm.css', 'xterm/addon-fit.js'):
        assert os.path.isfile('/usr/share/cockpit/lxcbus/' + f), \
            '%s not installed: run "npm ci" in cockpit/ before meson install (.ci/run does)' % f
    assert os.path.isdir(os.path.join(BROWSER_DIR, 'node_modules', 'playwright-core')), \
        'no playwright-core: run "npm ci" in tests/browser (.ci/run does)'


@test
def shell_runs_a_command_and_shows_its_output():
    create_running_instance(NAME)
    ST['ws'] = start_ws(PORT)
    ST['browser'] = b = Browser()
    b.do('open', 90, url=url())
    b.row(NAME, 'running')
    s = b.do('term_open', name=NAME)
    assert s['state'] == 'open' and s['status'] == '', s
    assert s['rows'] >= 10 and s['cols'] >= 40, s
    b.do('term_type', name=NAME, text='echo hi-$((6*7)); hostname')
    # the output, then the hostname on the next line (the typed line shows "hi-$((6*7))", not "hi-42")
    s = b.do('term_wait', name=NAME, text='\nhi-42\n%s\n' % NAME)
    # one lxcbusctl exec (on the bridge's pty) and one running process in the instance behind it
    assert len(lxcbusctl_running('exec')) == 1, lxcbusctl_running('exec')
    assert len(running_execs()) == 1, running_execs()
    if os.environ.get('LXCBUS_SCREENSHOTS') == '1':
        b.row(NAME, 'running', address=True)    # the docs' picture, with the address that DHCP gives
    b.do('screenshot', path=SHOT)


@test
def a_resize_reaches_the_shell():
    b = ST['browser']
    before = b.do('term_state', name=NAME, state='open')
    b.do('viewport', width=1400, height=720)
    # the screen fits its larger box: more columns (its height is fixed by the page's CSS)
    wait_for(lambda: b.do('term_state', name=NAME)['cols'] > before['cols'], 10 * SLOW, 'a wider terminal')
    s = b.do('term_state', name=NAME)
    b.do('term_type', name=NAME, text='stty size')
    b.do('term_wait', name=NAME, text='%d %d' % (s['rows'], s['cols']))


@test
def console_tab_shows_the_instance_console():
    b = ST['browser']
    s = b.do('term_kind', name=NAME, kind='console')
    b.do('term_state', name=NAME, kind='console', state='open')
    b.do('term_wait', name=NAME, kind='console', text='Connected to the console of %s' % NAME)
    # busybox init's askfirst: Enter, then a shell on the console
    b.do('term_type', name=NAME, kind='console', text='')
    b.do('term_type', name=NAME, kind='console', text='echo con-$((3*5))')
    b.do('term_wait', name=NAME, kind='console', text='con-15')
    assert len(lxcbusctl_running('console')) == 1, lxcbusctl_running('console')
    b.do('term_close', name=NAME, kind='console')
    wait_for(lambda: not lxcbusctl_running('console'), 10 * SLOW, 'lxcbusctl console gone')


@test
def closing_the_tab_ends_lxcbusctl_and_the_shell():
    b = ST['browser']
    assert lxcbusctl_running('exec') and running_execs(), 'the shell is not there to be closed'
    # a command in the foreground when the tab closes ends too
    b.do('term_type', name=NAME, text='sleep 977')
    wait_for(lambda: sleeping(), 10 * SLOW, 'sleep 977 in %s' % NAME)
    b.do('term_close', name=NAME)
    wait_for(lambda: not lxcbusctl_running('exec'), 10 * SLOW, 'lxcbusctl exec gone')
    # the shell in the instance ended too: its Process object finished (it lingers, as every operation)
    wait_for(lambda: not running_execs(), 10 * SLOW, 'no running process in %s' % NAME)
    wait_for(lambda: not sleeping(), 10 * SLOW, 'sleep 977 gone')
    assert b.do('loads')['loads'] == 1, 'the page was reloaded'


@test
def without_xterm_the_page_works_and_says_so():
    # a second cockpit-ws (its bridge as an unprivileged user), started while xterm.js is away: the bridge
    # lists a package's files once, when it starts
    add_user(USER)
    os.rename(XTERM_DIR, XTERM_DIR + '.away')
    try:
        ST['ws_user'] = start_ws(PORT_USER, USER)
        ST['browser_user'] = b = Browser()
        b.do('open', 90, url=url(PORT_USER))
        b.row(NAME, 'running')
        s = b.do('term_open', name=NAME)
        assert s['state'] == 'unavailable', s
        assert s['status'] == 'Shell of %s: terminal unavailable: xterm.js not installed' % NAME, s
        b.do('term_close', name=NAME)
    finally:
        os.rename(XTERM_DIR + '.away', XTERM_DIR)
        stop_all({'ws_user': ST.pop('ws_user')})


@test
def unauthorized_user_sees_not_authorized():
    # the same user's cockpit-ws again, now with xterm.js; a new page
    ST['ws_user'] = start_ws(PORT_USER, USER)
    b = ST['browser_user']
    b.do('open', 90, url=url(PORT_USER))
    b.row(NAME, 'running')
    # lxcbusctl runs as the user, polkit refuses ExecPty: its message in the terminal, the verdict below
    s = b.do('term_open', name=NAME)
    s = b.do('term_state', name=NAME, state='closed')
    assert s['status'] == 'Shell of %s: not authorized' % NAME, s
    assert 'access denied' in s['screen'] and '[not authorized]' in s['screen'], s['screen']
    assert not running_execs(), running_execs()
    wait_for(lambda: not lxcbusctl_running('exec'), 10 * SLOW, 'lxcbusctl exec gone')


if __name__ == '__main__':
    main()
