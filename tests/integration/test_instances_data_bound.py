#!/usr/bin/python3
"""The bound on the configs and snapshots of all instances together (LXCBUS_INSTANCES_DATA_MAX, 4 MiB;
docs/security.md "Quotas and counts"), which keeps GetManagedObjects under the bus's message limit now
that 4096 instances may exist:

- creates are refused with LimitsExceeded, before anything is made, once there is no room left for one
  more full instance (24 KiB), and a delete makes room again;
- SetConfig that would grow the total past the bound is refused, one that shrinks a config is not;
- GetManagedObjects answers all the while, with every instance and its whole config."""

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
DATA_MAX = 4 * 1024 * 1024
# Four values of 4000 bytes under four keys: 16 KiB as stored, the most one instance may have.
FULL = {'user.k%d' % k: chr(ord('a') + k) * 4000 for k in range(4)}
st = {'names': []}


def create(name, config):
    return call(MANAGER_PATH, MANAGER_IFACE, 'CreateInstance', create_params(name, NONE_SOURCE, config),
                timeout=120)


def managed_objects():
    return call(MANAGER_PATH, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', timeout=120)


@test
def creates_stop_at_the_bound():
    # Stored size of one: 4 * (len('user.kN') + 4000) = 16028 bytes; the bound leaves room for 260 of them
    # and a 24 KiB reservation, so the 261st (or so) create is refused.
    err = None
    for k in range(DATA_MAX // 16028 + 2):
        name = T.add(unique_name('db%03d' % k))
        try:
            create(name, FULL)
        except BusError as e:
            err = e
            break
        st['names'].append(name)
    assert err is not None, 'no create was refused'
    print('# %d creates, then: %s' % (len(st['names']), err.message))
    assert err.dbus_name == ERR + 'LimitsExceeded' and 'no room' in err.message, err
    assert 250 <= len(st['names']) <= 262, len(st['names'])
    assert not instance_exists(name)
    st['refused'] = name
    objs = managed_objects()
    mine = [p for p in objs if objs[p].get('org.lxcbus1.Instance', {}).get('Name') in st['names']]
    assert len(mine) == len(st['names']), (len(mine), len(st['names']))
    assert all(objs[p]['org.lxcbus1.Instance']['Config'] == FULL for p in mine)


@test
def set_config_grows_only_within_the_bound():
    small = st['names'][0]
    set_config(small, unset=list(FULL))                          # shrinking always fits
    # 16 KiB freed: room for a create again (it needed 24 KiB and had less than 16 KiB less)
    create(st['refused'], FULL)
    st['names'].append(st['refused'])
    # less than 24 KiB left now: small grows by 4 KiB at a time until refused, within 7 steps
    grown = {}
    for k in range(8):
        key = 'user.g%d' % k
        try:
            set_config(small, {key: 'g' * 4000})
        except BusError as e:
            err = e
            break
        grown[key] = 'g' * 4000
    else:
        raise AssertionError('SetConfig never refused')
    print('# %d steps of 4 KiB, then: %s' % (len(grown), err.message))
    assert err.dbus_name == ERR + 'LimitsExceeded' and 'cannot grow' in err.message, err
    assert len(grown) < 7, grown.keys()
    cfg = get_prop(instance_path(small), INSTANCE_IFACE, 'Config')
    assert key not in cfg and all(cfg.get(k) == v for k, v in grown.items()), 'a refused SetConfig changed it'


@test
def a_delete_makes_room():
    extra = T.add(unique_name('dbx'))
    err = expect_error(ERR + 'LimitsExceeded', lambda: create(extra, {}), extra)
    assert 'no room' in err.message, err.message
    for victim in st['names'][-2:]:                              # 32 KiB freed: one more fits
        cleanup_instance(victim)
    st['names'] = st['names'][:-2]
    create(extra, {'description': 'fits again'})
    st['names'].append(extra)
    assert extra in [x[0] for x in call(MANAGER_PATH, MANAGER_IFACE, 'ListInstances')]


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
