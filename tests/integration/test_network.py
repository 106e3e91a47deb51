#!/usr/bin/python3
"""The network of an instance (docs/architecture.md "Network"): lxc-net's
bridge lxcbr0 in the test host's own network namespace (never any other
address), busybox instances that get addresses by DHCP (their rcS runs
udhcpc) and reach each other, a TCP service reached from the test host,
network.mode=none, the hwaddr kept across restarts and made anew on Copy,
the network.* keys refused with the key named, an idmapped instance on the
bridge, and GetState's addresses and counters as lxcbusctl shows them."""

import socket
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
SAVED = {}


def state(name):
    return instance_call(name, 'GetState')


def running(prefix, config=None):
    name = T.add(unique_name(prefix))
    create_instance(name, config=config)
    t0 = time.monotonic()
    start_instance(name)
    print('# Start of %s: %.3f s' % (name, time.monotonic() - t0))
    return name


def hwaddr(name):
    return sh(name, 'cat /sys/class/net/eth0/address').strip()


@test
def bridge_is_up_in_the_test_host():
    assert 'network' in get_prop(MANAGER_PATH, MANAGER_IFACE, 'Features')
    wait_for(lambda: run('systemctl', 'is-active', 'lxc-net.service')[1].strip() == 'active', 30, 'lxc-net up')
    rc, out, err = run('ip', '-4', '-o', 'addr', 'show', 'dev', 'lxcbr0')
    assert rc == 0 and '10.0.3.1/24' in out, (rc, out, err)


@test
def two_instances_get_addresses_and_ping_each_other():
    a, b = running('neta'), running('netb')
    ia, ib = instance_ipv4(a), instance_ipv4(b)
    assert ia != ib
    st = state(a)
    assert ('lo', 'inet', '127.0.0.1/8') in st['addresses'], st
    assert set(st['network']) >= {'lo', 'eth0'}, st
    assert st['network']['eth0'][0] > 0, st   # the DHCP answer came in
    sh(a, 'ping -c 1 -W 5 %s' % ib)
    sh(b, 'ping -c 1 -W 5 %s' % ia)
    # The counters move with traffic.
    rx, tx = state(a)['network']['eth0']
    sh(a, 'ping -c 3 -i 0.2 -s 1000 -W 5 %s' % ib)
    rx2, tx2 = state(a)['network']['eth0']
    assert rx2 >= rx + 3000 and tx2 >= tx + 3000, (rx, tx, rx2, tx2)

    # lxcbusctl: list shows the first IPv4 address, info all of them.
    rc, out, err = run(CTL, 'list')
    assert rc == 0, err
    row = [l.split() for l in out.splitlines() if l.split()[:1] == [a]]
    assert row and ia in row[0], out
    rc, out, err = run(CTL, 'info', a)
    assert rc == 0 and ('eth0 inet ' + ia) in out and 'lo inet 127.0.0.1/8' in out, out
    assert 'eth0: rx ' in out, out


@test
def test_host_reaches_a_tcp_service():
    name = running('nethttp')
    ip = instance_ipv4(name)
    sh(name, 'mkdir -p /tmp/www && echo hello-from-instance > /tmp/www/index.html && httpd -p 8080 -h /tmp/www')

    def fetch():
        try:
            with socket.create_connection((ip, 8080), timeout=5) as s:
                s.sendall(b'GET /index.html HTTP/1.0\r\n\r\n')
                data = b''
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return data
                    data += chunk
        except OSError:
            return None
    data = wait_for(fetch, 10, 'httpd in %s answers' % name, interval=0.2)
    assert b'hello-from-instance' in data, data


@test
def mode_none_has_only_loopback():
    name = running('netnone', {'network.mode': 'none'})
    st = state(name)
    assert set(st['network']) == {'lo'}, st
    assert {a[0] for a in st['addresses']} <= {'lo'}, st   # busybox leaves lo down: no address
    out = sh(name, 'ls /sys/class/net')
    assert out.split() == ['lo'], out


@test
def hwaddr_stays_across_restarts_and_changes_on_copy():
    name = running('nethw')
    mac = hwaddr(name)
    assert mac.startswith('00:16:3e:'), mac
    assert 'network.hwaddr' not in instance_prop(name, 'Config')   # derived, Config is the user's
    stop_instance(name)
    start_instance(name)
    assert hwaddr(name) == mac
    stop_instance(name)

    new = unique_name('nethwcp')
    copy_instance(T, name, new)
    start_instance(new)
    mac2 = hwaddr(new)
    assert mac2.startswith('00:16:3e:') and mac2 != mac, (mac, mac2)
    # A set address is used as given, and an MTU; a copy drops the address (a volatile key).
    stop_instance(new)
    set_config(new, {'network.hwaddr': '00:16:3e:aa:bb:cc', 'network.mtu': '1400'})
    start_instance(new)
    assert hwaddr(new) == '00:16:3e:aa:bb:cc'
    assert sh(new, 'cat /sys/class/net/eth0/mtu').strip() == '1400'
    stop_instance(new)
    third = unique_name('nethwcp')
    copy_instance(T, new, third)
    assert instance_prop(third, 'Config') == {'network.mtu': '1400'}, instance_prop(third, 'Config')
    start_instance(third)
    assert hwaddr(third) not in ('00:16:3e:aa:bb:cc', mac, mac2)


@test
def bad_keys_are_refused_with_the_key_named():
    name = T.add(unique_name('netbad'))
    create_instance(name, template='none')
    for key, value in (('network.mode', 'bogus'), ('network.bridge', 'a/b'), ('network.bridge', 'x' * 16),
                       ('network.parent', 'eth0 '), ('network.parent', ''), ('network.hwaddr', '01:16:3e:00:00:01'),
                       ('network.hwaddr', 'nonsense'), ('network.mtu', '10'), ('network.mtu', '70000')):
        expect_error('org.lxcbus1.Error.InvalidConfig', lambda: set_config(name, {key: value}), mentions=(key,))
        e = expect_error('org.lxcbus1.Error.InvalidConfig',
                         lambda: create_instance(unique_name('netbadc'), template='none', config={key: value}),
                         mentions=(key,))
    # macvlan needs its parent: the start says so, before anything runs.
    rname = running('netmv')
    stop_instance(rname)
    set_config(rname, {'network.mode': 'macvlan'})
    e = expect_error('org.lxcbus1.Error.InvalidConfig', lambda: start_instance(rname), mentions=('network.parent',))
    assert instance_prop(rname, 'State') == 'stopped'
    # A bridge that does not exist fails the start with liblxc's word, and the instance stays stopped.
    set_config(rname, {'network.mode': 'bridge', 'network.bridge': 'nosuchbr0'})
    e = expect_error('org.lxcbus1.Error.InvalidConfig', lambda: start_instance(rname), mentions=('nosuchbr0',))
    assert "'network.bridge'" in e.message, e.message
    assert instance_prop(rname, 'State') == 'stopped'
    set_config(rname, {'network.bridge': 'lo'})
    e = expect_error('org.lxcbus1.Error.InvalidConfig', lambda: start_instance(rname), mentions=('lo',))
    assert 'not a bridge' in e.message, e.message

    def unset():   # Busy while the failed start's scope goes away
        try:
            return set_config(rname, unset=['network.bridge']) or True
        except BusError as e:
            if e.dbus_name != 'org.lxcbus1.Error.Busy':
                raise
            return None
    wait_for(unset, 10, 'SetConfig after the failed start', interval=0.1)
    start_instance(rname)
    instance_ipv4(rname)


@test
def idmapped_instance_has_a_network():
    for path in ('/etc/subuid', '/etc/subgid'):
        keep = [l for l in (save_file(SAVED, path) or '').splitlines(True) if not l.startswith('lxcbus:')]
        with open(path, 'w') as f:
            f.write(''.join(keep) + 'lxcbus:3000000:655360\n')
    name = T.add(unique_name('netidm'))
    create_instance(name, config={'security.privileged': 'false'})
    start_instance(name)
    ip = instance_ipv4(name)
    other = running('netidmb')
    ip2 = instance_ipv4(other)
    sh(other, 'ping -c 1 -W 5 %s' % ip)
    sh(name, 'ping -c 1 -W 5 %s' % ip2)


@test
def start_cost_of_the_bridge():
    """What a veth on the bridge adds to Start, against mode none (no interface: the old default)."""
    times = {}
    for mode in ('none', 'bridge', 'none', 'bridge'):
        name = T.add(unique_name('netcost'))
        create_instance(name, config={'network.mode': mode})
        t0 = time.monotonic()
        start_instance(name)
        times.setdefault(mode, []).append(time.monotonic() - t0)
        stop_instance(name, timeout=0)
    print('# Start: mode none %s s, bridge %s s' % (['%.3f' % t for t in times['none']],
                                                 ['%.3f' % t for t in times['bridge']]))


@on_exit
def cleanup():
    T.cleanup()
    restore_files(SAVED)


if __name__ == '__main__':
    main()
