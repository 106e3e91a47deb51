#!/usr/bin/python3
"""The introspection of objects that only exist with a running instance (an
exec operation with org.lxcbus1.Process) equals dbus-interfaces/*.xml; the
contract test in tests/contract/ covers the others without systemd."""

import os

from lxcbustest import *
from lxcbushelp import *

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
NAME = unique_name('ce')
PATH = instance_path(NAME)


@test
def exec_operation_matches_the_xml():
    create_running_instance(NAME)
    op = exec_start(PATH, ['true'], timeout=120)
    assert call(op, PROCESS_IFACE, 'Wait') == (0, 0)
    rc, out, err = run('/usr/bin/python3', os.path.join(SRC, 'tests/contract/compare-introspection.py'),
                       '--system', '--xml-dir', os.path.join(SRC, 'dbus-interfaces'),
                       '--instance', PATH, '--operation', op)
    print('\n'.join('# ' + l for l in (out + err).splitlines()))
    assert rc == 0, 'introspection differs from the XML (exit %d)' % rc
    rc, out, err = run('busctl', 'introspect', '--xml-interface', 'org.lxcbus1', op)
    assert 'org.lxcbus1.Process' in out and 'org.lxcbus1.Operation' in out, out


@on_exit
def cleanup():
    cleanup_instance(NAME)


if __name__ == '__main__':
    main()
