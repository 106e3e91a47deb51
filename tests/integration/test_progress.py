#!/usr/bin/python3
"""Bytes, Rate and the coalescing of an operation's PropertiesChanged (docs/api.md, Operation): an
export of 256 MiB of incompressible data into a slow reader, its import from a slow writer, a snapshot
and a copy of it. Each time: Bytes monotonic, the final Bytes what really moved (the bytes the reader got,
the tarball's size, the tree's), Rate above 0 while it ran and 0 at the end, never more than about 10
signals a second for the operation, and the signal with Status=success (or one before it) carries
Progress 1 and the final Bytes."""

import os
import stat
import threading
import time

from lxcbustest import *
from lxcbushelp import *

T = Tracker()
BIG = 256 << 20
CHUNK = 1 << 16
SPEED = 64 << 20      # bytes per second of the slow reader and writer: about four seconds
st = {}



class OperationSignals(Signals):
    """Every operation's PropertiesChanged, with the time it came: (time, path, {name: value})."""

    def __init__(self):
        super().__init__(iface=PROPS_IFACE, member='PropertiesChanged', arg0=OPERATION_IFACE)

    def _on(self, conn, sender, path, iface, member, params, *user):
        self.events.append((time.monotonic(), path, params.unpack()[1]))

    def of(self, op):
        return [(t, props) for t, path, props in self.events if path == op]


def slowly(n, started):
    """Sleep so that n bytes since started went at SPEED."""
    ahead = started + n / SPEED - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)


def call_giving_fd(path, iface, method, params, fd):
    """A call that passes fd (handle 0), which is closed after: the daemon's worker holds the only copy."""
    try:
        return call_with_fds(path, iface, method, params, [fd])
    finally:
        os.close(fd)


def wait_finished(op, sig, timeout=300):
    """op_wait(), then until the signal with the Status came too."""
    status = op_wait(op, timeout)
    sig.wait(lambda e: e[1] == op and 'Status' in e[2], 10, 'Status of %s' % op)
    return status


def check_signals(sig, op, want_bytes, running_rate=True, exact=True):
    sigs = sig.of(op)
    assert sigs, 'no PropertiesChanged of %s' % op
    # Bytes monotonic, and Rate > 0 somewhere while it ran.
    seen = [p['Bytes'] for t, p in sigs if 'Bytes' in p]
    assert seen == sorted(seen), 'Bytes not monotonic: %s' % seen
    running = [p for t, p in sigs if 'Status' not in p]
    if running_rate:
        rates = [p['Rate'] for p in running if 'Rate' in p]
        assert any(r > 0 for r in rates), 'no Rate > 0 while it ran: %s' % rates
    # Coalesced: at most ~10 a second (12 for the immediate ones on top: Cancelable, Status).
    times = [t for t, p in sigs]
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert worst <= 12, '%d PropertiesChanged of %s within a second: %s' % (worst, op, times)
    # What a client knows once it sees Status=success: Progress 1 and the final Bytes, Rate 0.
    known = {}
    for t, p in sigs:
        known.update(p)
        if 'Status' in p:
            break
    assert known.get('Status') == 'success', known
    assert known.get('Progress') == 1.0, known
    assert known.get('Rate') == 0, known
    if exact:
        assert known.get('Bytes') == want_bytes, 'Bytes %s, want %d' % (known.get('Bytes'), want_bytes)
    else:
        assert want_bytes * 0.98 <= known.get('Bytes', 0) <= want_bytes + (1 << 20), \
            'Bytes %s, want about %d' % (known.get('Bytes'), want_bytes)
    assert get_prop(op, OPERATION_IFACE, 'Bytes') == known['Bytes']
    assert get_prop(op, OPERATION_IFACE, 'Rate') == 0
    print('# %s: %d signals, worst second %d, Bytes %d' % (op, len(sigs), worst, known['Bytes']))


def tree_bytes(top):
    """The bytes of the regular files below top, as the copy counts them."""
    total = 0
    for d, dirs, files in os.walk(top):
        for n in files:
            s = os.lstat(os.path.join(d, n))
            if stat.S_ISREG(s.st_mode):
                total += s.st_size
    return total


@test
def export_reports_bytes_rate_coalesced():
    name = T.add(unique_name('prog'))
    create_instance(name, 'none')
    with open(os.path.join(rootfs(name), 'big'), 'wb') as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
    r, w = os.pipe2(os.O_CLOEXEC)
    chunks = []

    def reader():
        started, n = time.monotonic(), 0
        while True:
            b = os.read(r, CHUNK)
            if not b:
                break
            chunks.append(b)
            n += len(b)
            slowly(n, started)

    t = threading.Thread(target=reader, daemon=True)
    with OperationSignals() as sig:
        t.start()
        op = call_giving_fd(instance_path(name), INSTANCE_IFACE, 'Export',
                            V('(ha{sv})', (0, {'async': V('b', True)})), w)
        assert wait_finished(op, sig) == 'success'
        t.join(60)
        os.close(r)
    data = b''.join(chunks)
    assert len(data) > BIG
    check_signals(sig, op, len(data))
    st['name'], st['tar'] = name, data


@test
def import_reports_bytes_rate_coalesced():
    data = st['tar']
    name = T.add(unique_name('progimp'))
    r, w = os.pipe2(os.O_CLOEXEC)

    def writer():
        started = time.monotonic()
        try:
            for k in range(0, len(data), CHUNK):
                os.write(w, data[k:k + CHUNK])
                slowly(k + CHUNK, started)
        except OSError:
            pass
        finally:
            os.close(w)

    t = threading.Thread(target=writer, daemon=True)
    with OperationSignals() as sig:
        t.start()
        path, op = call_giving_fd(MANAGER_PATH, MANAGER_IFACE, 'ImportInstance',
                                  V('(sha{ss}a{sv})', (name, 0, {}, {'async': V('b', True)})), r)
        assert wait_finished(op, sig) == 'success'
        t.join(30)
    check_signals(sig, op, len(data))
    with open(os.path.join(rootfs(name), 'big'), 'rb') as f, \
            open(os.path.join(rootfs(st['name']), 'big'), 'rb') as g:
        assert f.read(1 << 20) == g.read(1 << 20)
    st['tar'] = None
    cleanup_instance(name)


@test
def snapshot_and_copy_report_bytes_coalesced():
    name = st['name']
    want = tree_bytes(rootfs(name))
    assert want >= BIG
    with OperationSignals() as sig:
        op = call(instance_path(name), INSTANCE_IFACE, 'Snapshot',
                  V('(sa{sv})', ('s1', {'async': V('b', True)})))
        assert wait_finished(op, sig) == 'success'
        check_signals(sig, op, want, running_rate=False, exact=False)

        new = T.add(unique_name('progcopy'))
        path, op = call(instance_path(name), INSTANCE_IFACE, 'Copy',
                        V('(sa{sv})', (new, {'async': V('b', True)})))
        assert wait_finished(op, sig) == 'success'
        check_signals(sig, op, want, running_rate=False, exact=False)
    cleanup_instance(new)

    with OperationSignals() as sig:
        op = call(instance_path(name), INSTANCE_IFACE, 'RestoreSnapshot',
                  V('(sa{sv})', ('s1', {'async': V('b', True)})))
        assert wait_finished(op, sig) == 'success'
        check_signals(sig, op, want, running_rate=False, exact=False)


@on_exit
def cleanup():
    T.cleanup()


if __name__ == '__main__':
    main()
