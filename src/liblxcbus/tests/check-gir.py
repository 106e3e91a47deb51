#!/usr/bin/python3
"""Without a daemon: the typelib loads from the build directory, the hand-written calls take what
Python has (a list for argv and unset, a dict for set, an int fd back), and the org.lxcbus1.Error names
map to LXCBUS_ERROR."""

import gi

gi.require_version('Lxcbus', '1')
from gi.repository import Gio, Lxcbus  # noqa: E402

# Bindings must see lists and dicts, not the bare strings of the generated 'as' arguments.
assert 'argv:list' in Lxcbus.Client.exec_pty_sync.__doc__, Lxcbus.Client.exec_pty_sync.__doc__
assert '-> int' in Lxcbus.Client.exec_pty_sync.__doc__, Lxcbus.Client.exec_pty_sync.__doc__
assert 'unset:list' in Lxcbus.Client.set_config_sync.__doc__, Lxcbus.Client.set_config_sync.__doc__
assert 'set:dict' in Lxcbus.Client.set_config_sync.__doc__, Lxcbus.Client.set_config_sync.__doc__
assert 'list' in Lxcbus.Client.get_instances.__doc__

# The generated types are there, with their properties.
for cls, prop in ((Lxcbus.InstanceProxy, 'state'), (Lxcbus.OperationProxy, 'status'),
                  (Lxcbus.ManagerProxy, 'version'), (Lxcbus.ProcessProxy, 'exit-status')):
    assert prop in [p.name for p in cls.list_properties()], (cls, prop)
assert Lxcbus.ObjectManagerClient.__gtype__.name == 'LxcbusObjectManagerClient'

# A remote error name becomes a GError in the library's domain.
Lxcbus.error_quark()
for name, code in (('Conflict', Lxcbus.Error.CONFLICT), ('NoSuchInstance', Lxcbus.Error.NO_SUCH_INSTANCE),
                   ('LimitsExceeded', Lxcbus.Error.LIMITS_EXCEEDED), ('Timeout', Lxcbus.Error.TIMEOUT)):
    err = Gio.DBusError.new_for_dbus_error('org.lxcbus1.Error.' + name, 'm')
    assert err.matches(Lxcbus.error_quark(), code), (name, err.domain, err.code)
print('ok')
