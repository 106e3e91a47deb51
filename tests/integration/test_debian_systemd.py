#!/usr/bin/python3
"""A full distribution: Debian 12 with systemd as its init (debootstrap --variant=minbase
--include=systemd-sysv,dbus, built by tests/debian/rootfs.sh from the mirror of the machine's apt sources,
cached), imported, booted in its delegated scope, privileged and idmapped. Inside, systemd reaches
`running` with no failed unit, journalctl works, systemd-networkd got eth0 an address on the bridge by
DHCP, and what the daemon set up for a systemd init is there
(docs/architecture.md, "systemd inside an instance"); a clean Stop reaches it as SIGRTMIN+3 and it halts
well before the timeout, never killed. Prints the boot time (Start call to is-system-running = running)."""
import os
import time

from lxcbustest import *
from lxcbushelp import *

PRIV = unique_name('sd')
IDM = unique_name('sdu')
T = Tracker()
BOOT_TIMEOUT = 60    # the Start call to running, generous: measured well under 2 s
STOP_TIMEOUT = 60    # the clean shutdown Stop waits for before it kills; measured under 1 s
st = {}


def import_systemd(name, config=None):
    T.add(name)
    path, op = import_tarball_file(name, debian_image('systemd'), config=config)
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success', get_prop(op, OPERATION_IFACE, 'ErrorMessage')
    assert instance_prop(name, 'State') == 'stopped'


def system_state(name):
    """systemctl is-system-running --wait, bounded; None while systemd's private socket is not there yet
    (Start answers once init has been executed, before systemd listens): systemctl then says nothing,
    or "offline" (it found no manager to ask; PID 1 is checked to be systemd afterwards)."""
    status, sig, out = root_exec(name, ['timeout', '10', 'systemctl', 'is-system-running', '--wait'],
                                 timeout=30)
    state = out.strip()
    return state if state not in ('', 'offline') else None


def boot(name):
    """Start, then wait for the system state: (state, seconds from the Start call)."""
    t0 = time.monotonic()
    call(instance_path(name), INSTANCE_IFACE, 'Start', opts(), timeout=BOOT_TIMEOUT + 30)
    assert instance_prop(name, 'State') == 'running', instance_prop(name, 'State')
    state = wait_for(lambda: system_state(name), BOOT_TIMEOUT, 'systemd in %s answers' % name, interval=0.1)
    secs = time.monotonic() - t0
    print('# %s: %s after %.2f s' % (name, state, secs))
    return state, secs


def out_of(name, argv):
    status, sig, out = root_exec(name, ['sh', '-c', 'exec "$@" 2>&1', 'sh'] + argv, timeout=60)
    assert (status, sig) == (0, 0), (argv, status, sig, out)
    return out


def check_booted(name):
    state, secs = boot(name)
    failed = out_of(name, ['systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager'])
    # No unit may fail (docs/architecture.md lists the units that are skipped in an instance, and why).
    assert (state, failed.strip()) == ('running', ''), (state, failed)
    # PID 1 is systemd, as the daemon sees it.
    with open('/proc/%d/comm' % instance_prop(name, 'Pid')) as f:
        assert f.read().strip() == 'systemd'
    # journald runs and has this boot, with systemd's own account of it.
    journal = out_of(name, ['journalctl', '-b', '--no-pager', '-q', '-o', 'cat'])
    assert len(journal.splitlines()) > 20 and 'Startup finished' in journal, journal[-2000:]
    assert out_of(name, ['journalctl', '--list-boots', '--no-pager', '-q']).strip()
    # eth0 on the default bridge got its address from lxc-net's dnsmasq by DHCP: the address GetState
    # reads from the instance's namespace is the one in systemd-networkd's lease.
    ip = instance_ipv4(name)
    leases = out_of(name, ['sh', '-c', 'cat /run/systemd/netif/leases/*'])
    assert 'ADDRESS=%s\n' % ip in leases, (ip, leases)
    print('# %s: eth0 %s by DHCP' % (name, ip))
    return secs


def check_setup(name):
    """What the start set up for a systemd init (src/worker/init-systemd.c)."""
    out = out_of(name, ['sh', '-c', 'tr "\\0" "\\n" < /proc/1/environ; echo ==; cat /proc/self/mountinfo; '
                                    'echo ==; grep CapBnd /proc/1/status; hostname; '
                                    'test -c /dev/ptmx && script -qc true /dev/null && echo pty-ok'])
    env, mounts, rest = out.split('==\n')
    assert 'container=lxc' in env.split(), env
    opts_of = {}
    for line in mounts.splitlines():
        f = line.split()
        opts_of[f[4]] = f[5].split(',')
    assert 'ro' in opts_of['/proc/sys'] and 'rw' in opts_of['/proc/sys/net'], mounts
    assert 'ro' in opts_of['/sys'], mounts
    assert '/sys/fs/cgroup' in opts_of and '/run' in opts_of, mounts
    assert 'rw' in opts_of['/dev/pts'], mounts
    cap_bnd = int(rest.split()[1], 16)
    for cap in (16, 25, 17):    # sys_module, sys_time, sys_rawio: dropped
        assert not cap_bnd & (1 << cap), hex(cap_bnd)
    assert rest.split()[2] == name, rest     # no /etc/hostname in the image: lxc.uts.name stays
    assert rest.split()[3] == 'pty-ok', rest


def clean_stop(name):
    """Stop with a timeout: systemd halts (SIGRTMIN+3: "Halting system.", SIGRTMIN+4 would power off),
    long before the timeout, and the stop never reached its kill stage. Returns the seconds it took."""
    t0 = time.monotonic()
    op = call(instance_path(name), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', STOP_TIMEOUT)),
              timeout=STOP_TIMEOUT + 60)
    secs = time.monotonic() - t0
    assert instance_prop(name, 'State') == 'stopped'
    assert get_prop(op, OPERATION_IFACE, 'Status') == 'success'
    assert get_prop(op, OPERATION_IFACE, 'Stage') == 'shutting down', get_prop(op, OPERATION_IFACE, 'Stage')
    assert secs < STOP_TIMEOUT / 2, secs
    # systemd went through its shutdown transaction (on SIGPWR it would only start sigpwr.target): the
    # console log (ConsoleLog answers only while running: the file itself; the test runs as root). Its
    # last lines may be lost with the pty when the instance ends, so the halt itself is read from the
    # instance's persistent journal: halt.target (SIGRTMIN+3), not poweroff.target (SIGRTMIN+4).
    with open(os.path.join(inst_dir(name), 'console.log'), 'rb') as f:
        log = f.read().decode('utf-8', 'replace')
    tail = log[log.rfind('systemd 252'):]
    assert 'Stopped target' in tail, tail[-2000:]
    journal = run('journalctl', '-D', os.path.join(rootfs(name), 'var/log/journal'), '-o', 'cat',
                  '--no-pager', '-q')[1]
    last = journal[journal.rfind('Startup finished'):]
    assert 'System Halt' in last and 'Power-Off' not in last, last[-2000:]
    return secs


@test
def privileged_debian_boots_systemd_and_halts_cleanly():
    assert 'systemd-init' in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Features')
    if not debian_image('systemd'):
        return
    import_systemd(PRIV)
    boots, stops = [], []
    for k in range(3):
        boots.append(check_booted(PRIV))
        if k == 0:
            check_setup(PRIV)
        stops.append(clean_stop(PRIV))
    print('# privileged: boot (Start call to running) %s s; clean stop %s s' %
          (', '.join('%.2f' % s for s in boots), ', '.join('%.2f' % s for s in stops)))


@test
def idmapped_debian_boots_systemd_and_halts_cleanly():
    if not debian_image('systemd'):
        return
    ensure_subids()
    import_systemd(IDM, config={'security.privileged': 'false'})
    secs = check_booted(IDM)
    check_setup(IDM)
    # The instance's root is not the host's: PID 1 runs as the first id of its block.
    with open('/proc/%d/status' % instance_prop(IDM, 'Pid')) as f:
        uid = next(l.split()[1] for l in f if l.startswith('Uid:'))
    assert int(uid) > 0, uid
    stop = clean_stop(IDM)
    print('# idmapped: boot %.2f s; clean stop %.2f s' % (secs, stop))


@test
def restart_boots_systemd_again():
    if not debian_image('systemd') or not instance_exists(PRIV):
        return
    start_instance(PRIV, timeout=BOOT_TIMEOUT)
    assert wait_for(lambda: system_state(PRIV), BOOT_TIMEOUT, 'systemd answers', interval=0.1) == 'running'
    # Restart is a clean stop, then a start: the new systemd has a second boot in its journal.
    call(instance_path(PRIV), INSTANCE_IFACE, 'Restart', opts(timeout_sec=V('u', STOP_TIMEOUT)),
         timeout=STOP_TIMEOUT + BOOT_TIMEOUT + 60)
    assert wait_for(lambda: system_state(PRIV), BOOT_TIMEOUT, 'systemd answers', interval=0.1) == 'running'
    boots = out_of(PRIV, ['journalctl', '--list-boots', '--no-pager', '-q']).strip().splitlines()
    assert len(boots) >= 2, boots
    call(instance_path(PRIV), INSTANCE_IFACE, 'Stop', opts(timeout_sec=V('u', STOP_TIMEOUT)),
         timeout=STOP_TIMEOUT + 60)


@on_exit
def cleanup():
    T.cleanup()
    restore_subids()


if __name__ == '__main__':
    main()
