#!/usr/bin/python3
"""bench/gmo-floor.py: the floor under GetManagedObjects, a server that costs nothing (issue 15, item 3).

    gmo-floor.py [--address ADDRESS] [--name NAME] [--source org.lxcbus1] [--body FILE]

Takes the reply lxcbusd gives to GetManagedObjects (from SOURCE on the bus), then owns NAME on the same bus
and answers every GetManagedObjects on /org/lxcbus1 with those same bytes, written ready-made: only the
two serial numbers of the header are patched. A client timing calls to NAME (bench/gmo-client --dest NAME
--gmo-only) then measures dbus-daemon, the client and the scheduling between them: what no daemon can go
below with this reply. Speaks the wire protocol itself on a plain socket (SASL EXTERNAL, Hello,
RequestName); runs until killed. Runs as a user the bus lets own NAME.

With --body FILE: if FILE does not exist, saves the reply's body there and exits (lxcbusd still runs);
if it does, serves it, so that NAME may be org.lxcbus1 itself once lxcbusd is stopped (bench/scale.py
does that: the system bus lets root own only that name)."""

import argparse
import os
import socket
import struct
import sys

import gi
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402

OM = 'org.freedesktop.DBus.ObjectManager'


def connect(address):
    path = dict(kv.split('=', 1) for kv in address.split(':', 1)[1].split(','))['path']
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
    if not s.recv(4096).startswith(b'OK'):
        raise SystemExit('gmo-floor: authentication refused')
    s.sendall(b'BEGIN\r\n')
    return s


class Reader:
    def __init__(self, s):
        self.s, self.buf = s, b''

    def message(self):
        while True:
            if len(self.buf) >= 16:
                n = Gio.DBusMessage.bytes_needed(self.buf[:16])
                if len(self.buf) >= n:
                    blob, self.buf = self.buf[:n], self.buf[n:]
                    return blob
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit('gmo-floor: the bus went away')
            self.buf += chunk


def call(s, r, serial, dest, path, iface, member, body=None):
    m = Gio.DBusMessage.new_method_call(dest, path, iface, member)
    m.set_serial(serial)
    if body is not None:
        m.set_body(body)
    s.sendall(m.to_blob(Gio.DBusCapabilityFlags.NONE))
    while True:
        reply = Gio.DBusMessage.new_from_blob(r.message(), Gio.DBusCapabilityFlags.NONE)
        if reply.get_reply_serial() == serial:
            return reply


def template(call_msg, body):
    """The reply's bytes, and where its serial and reply serial are (found by making it twice)."""
    def make(serial, reply_serial):
        call_msg.set_serial(reply_serial)
        m = Gio.DBusMessage.new_method_reply(call_msg)
        m.set_body(body)
        m.set_serial(serial)
        return bytearray(m.to_blob(Gio.DBusCapabilityFlags.NONE))
    a, b = make(0x11111111, 0x22222222), make(0x33333333, 0x44444444)
    fmt = '<I' if a[0:1] == b'l' else '>I'
    where = [k for k in range(0, 256) if a[k:k + 4] != b[k:k + 4] and k % 4 == 0]
    serial_at = [k for k in where if struct.unpack(fmt, a[k:k + 4])[0] == 0x11111111]
    reply_at = [k for k in where if struct.unpack(fmt, a[k:k + 4])[0] == 0x22222222]
    assert len(serial_at) == 1 and len(reply_at) == 1, (serial_at, reply_at)
    return a, fmt, serial_at[0], reply_at[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--address', default=Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None))
    ap.add_argument('--name', default='org.lxcbus1.Floor')
    ap.add_argument('--source', default='org.lxcbus1')
    ap.add_argument('--body', default=None)
    args = ap.parse_args()
    body_type = GLib.VariantType('(a{oa{sa{sv}}})')

    s = connect(args.address)
    r = Reader(s)
    call(s, r, 1, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello')
    if args.body and os.path.exists(args.body):
        with open(args.body, 'rb') as f:
            body = GLib.Variant.new_from_bytes(body_type, GLib.Bytes.new(f.read()), False)
    else:
        body = call(s, r, 2, args.source, '/org/lxcbus1', OM, 'GetManagedObjects').get_body()
        assert body.get_type_string() == body_type.dup_string(), body.get_type_string()
        if args.body:
            with open(args.body, 'wb') as f:
                f.write(body.get_data_as_bytes().get_data())
            return
    got = call(s, r, 3, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
               'RequestName', GLib.Variant('(su)', (args.name, 4)))           # DO_NOT_QUEUE
    if got.get_message_type() != Gio.DBusMessageType.METHOD_RETURN or got.get_body().unpack()[0] != 1:
        raise SystemExit('gmo-floor: could not own %s' % args.name)
    print('gmo-floor: %s answers GetManagedObjects with %d objects'
          % (args.name, body.get_child_value(0).n_children()), file=sys.stderr, flush=True)
    cache = {}
    serial = 10
    while True:
        m = Gio.DBusMessage.new_from_blob(r.message(), Gio.DBusCapabilityFlags.NONE)
        if m.get_message_type() != Gio.DBusMessageType.METHOD_CALL:
            continue
        serial += 1
        if m.get_member() == 'GetManagedObjects' and m.get_interface() == OM:
            sender, call_serial = m.get_sender(), m.get_serial()     # template() changes m's serial
            if sender not in cache:
                cache[sender] = template(m, body)
            blob, fmt, at_s, at_r = cache[sender]
            blob[at_s:at_s + 4] = struct.pack(fmt, serial)
            blob[at_r:at_r + 4] = struct.pack(fmt, call_serial)
            s.sendall(blob)
        else:
            reply = Gio.DBusMessage.new_method_reply(m)
            reply.set_serial(serial)
            s.sendall(reply.to_blob(Gio.DBusCapabilityFlags.NONE))


if __name__ == '__main__':
    main()
