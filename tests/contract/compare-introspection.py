#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compare lxcbusd's runtime introspection with dbus-interfaces/*.xml.

Usage:
  compare-introspection.py [--address=ADDR | --system] [--dest=NAME]
                           [--xml-dir=DIR] [--manager=PATH]
                           [--instance=PATH] [--operation=PATH]

Fetches the introspection of the manager object (default /org/lxcbus1) and,
when given, of an instance object and an operation object, and compares
every org.lxcbus1.* interface found there with the interface of the same
name in the XML files:

  - the same methods, each with the same arguments (name, type, direction)
    in the same order;
  - the same signals, each with the same arguments (name, type) in order;
  - the same properties, each with the same type, access and
    org.freedesktop.DBus.Property.EmitsChangedSignal value (a missing
    annotation counts as "true", the D-Bus default; an interface-level
    annotation is the default of its properties).

Doc comments, other annotations (org.freedesktop.systemd1.Privileged,
...Deprecated, ...) and standard org.freedesktop.DBus.* interfaces are
ignored. Each object must carry the interface expected of its kind
(org.lxcbus1.Manager, .Instance, .Operation), and an org.lxcbus1.*
interface that has no XML file is a difference too.

A path may be given as file:FILE to read saved introspection XML from FILE
instead of the bus (for testing this script).

Prints each difference on its own line and exits 1 if there is any, 2 on
a usage or bus error, 0 if everything matches.
"""

import argparse
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"
PREFIX = "org.lxcbus1."
FETCH_TIMEOUT = 15


class FetchError(Exception):
    pass


def fetch_introspection(args, path):
    """Returns the introspection XML of PATH as a string."""
    if path.startswith("file:"):
        with open(path[5:], encoding="utf-8") as f:
            return f.read()

    if shutil.which("gdbus"):
        cmd = ["gdbus", "introspect", "--xml", "--dest", args.dest, "--object-path", path]
        cmd += ["--address", args.address] if args.address else ["--system"]
    elif shutil.which("busctl"):
        cmd = ["busctl"]
        cmd += ["--address=" + args.address] if args.address else ["--system"]
        cmd += ["introspect", "--xml-interface", args.dest, path]
    else:
        raise FetchError("neither gdbus nor busctl found")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=FETCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(cmd)}: timed out after {FETCH_TIMEOUT}s")
    if p.returncode != 0:
        raise FetchError(f"{' '.join(cmd)}: exit status {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def parse_interfaces(text, origin):
    """Parses introspection XML into {interface name: model}.

    The model of an interface is a dict with "methods", "signals" and
    "properties", each a dict by member name:
      method:   [(arg name, type, direction), ...]
      signal:   [(arg name, type), ...]
      property: (type, access, emits-changed-signal value)
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise FetchError(f"{origin}: invalid XML: {e}")
    if root.tag != "node":
        raise FetchError(f"{origin}: root element is <{root.tag}>, not <node>")

    interfaces = {}
    for iface in root.findall("interface"):
        iname = iface.get("name")
        if iname in interfaces:
            raise FetchError(f"{origin}: interface {iname} defined twice")
        default_emits = "true"
        for a in iface.findall("annotation"):
            if a.get("name") == EMITS:
                default_emits = a.get("value")
        model = {"methods": {}, "signals": {}, "properties": {}, "duplicates": []}

        for m in iface.findall("method"):
            args = [(a.get("name"), a.get("type"), a.get("direction") or "in") for a in m.findall("arg")]
            if m.get("name") in model["methods"]:
                model["duplicates"].append(f"method {m.get('name')}")
            model["methods"][m.get("name")] = args

        for s in iface.findall("signal"):
            args = [(a.get("name"), a.get("type")) for a in s.findall("arg")]
            if s.get("name") in model["signals"]:
                model["duplicates"].append(f"signal {s.get('name')}")
            model["signals"][s.get("name")] = args

        for p in iface.findall("property"):
            emits = default_emits
            for a in p.findall("annotation"):
                if a.get("name") == EMITS:
                    emits = a.get("value")
            if p.get("name") in model["properties"]:
                model["duplicates"].append(f"property {p.get('name')}")
            model["properties"][p.get("name")] = (p.get("type"), p.get("access"), emits)

        interfaces[iname] = model
    return interfaces


def load_xml_dir(xml_dir):
    interfaces = {}
    files = sorted(f for f in os.listdir(xml_dir) if f.startswith(PREFIX) and f.endswith(".xml"))
    if not files:
        raise FetchError(f"{xml_dir}: no {PREFIX}*.xml files")
    for f in files:
        path = os.path.join(xml_dir, f)
        with open(path, encoding="utf-8") as fh:
            parsed = parse_interfaces(fh.read(), path)
        for name, model in parsed.items():
            if name in interfaces:
                raise FetchError(f"{path}: interface {name} defined in more than one file")
            interfaces[name] = model
    return interfaces


def fmt_args(args):
    if not args:
        return "()"
    return "(" + ", ".join(" ".join(x for x in a if x is not None) for a in args) + ")"


def compare_interface(where, iname, want, got):
    """Returns a list of difference strings for one interface."""
    diffs = []
    for d in want["duplicates"]:
        diffs.append(f"{where}: {iname}: XML declares {d} twice")
    for d in got["duplicates"]:
        diffs.append(f"{where}: {iname}: runtime declares {d} twice")

    for kind, label in (("methods", "method"), ("signals", "signal")):
        w, g = want[kind], got[kind]
        for name in sorted(w.keys() - g.keys()):
            diffs.append(f"{where}: {iname}: {label} {name}{fmt_args(w[name])} is in the XML but missing at runtime")
        for name in sorted(g.keys() - w.keys()):
            diffs.append(f"{where}: {iname}: {label} {name}{fmt_args(g[name])} exists at runtime but not in the XML")
        for name in sorted(w.keys() & g.keys()):
            if w[name] != g[name]:
                diffs.append(f"{where}: {iname}: {label} {name} arguments differ: "
                             f"XML {fmt_args(w[name])}, runtime {fmt_args(g[name])}")

    w, g = want["properties"], got["properties"]
    for name in sorted(w.keys() - g.keys()):
        diffs.append(f"{where}: {iname}: property {name} ({w[name][0]}) is in the XML but missing at runtime")
    for name in sorted(g.keys() - w.keys()):
        diffs.append(f"{where}: {iname}: property {name} ({g[name][0]}) exists at runtime but not in the XML")
    for name in sorted(w.keys() & g.keys()):
        for idx, what in ((0, "type"), (1, "access"), (2, EMITS)):
            if w[name][idx] != g[name][idx]:
                diffs.append(f"{where}: {iname}: property {name} {what} differs: "
                             f"XML {w[name][idx]!r}, runtime {g[name][idx]!r}")
    return diffs


def compare_object(path, expected_iface, xml_ifaces, args):
    """Returns (number of interfaces compared, differences) for one object."""
    text = fetch_introspection(args, path)
    runtime = parse_interfaces(text, path)
    diffs = []
    ours = sorted(n for n in runtime if n.startswith(PREFIX))
    if expected_iface not in runtime:
        diffs.append(f"{path}: interface {expected_iface} is missing at runtime "
                     f"(runtime has: {', '.join(sorted(runtime)) or 'nothing'})")
    for iname in ours:
        if iname not in xml_ifaces:
            diffs.append(f"{path}: interface {iname} exists at runtime but has no XML file")
            continue
        diffs += compare_interface(path, iname, xml_ifaces[iname], runtime[iname])
    return len(ours), diffs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Compare lxcbusd's runtime introspection with the XML.")
    bus = ap.add_mutually_exclusive_group()
    bus.add_argument("--address", help="D-Bus address of the bus lxcbusd is on")
    bus.add_argument("--system", action="store_true", help="use the system bus (the default)")
    ap.add_argument("--dest", default="org.lxcbus1", help="bus name (default org.lxcbus1)")
    ap.add_argument("--xml-dir", default=os.path.join(here, "..", "..", "dbus-interfaces"),
                    help="directory with org.lxcbus1.*.xml (default: the source tree's dbus-interfaces/)")
    ap.add_argument("--manager", default="/org/lxcbus1", help="manager object path (default /org/lxcbus1)")
    ap.add_argument("--instance", help="an instance object path to compare too")
    ap.add_argument("--operation", help="an operation object path to compare too")
    args = ap.parse_args()

    try:
        xml_ifaces = load_xml_dir(args.xml_dir)
    except (OSError, FetchError) as e:
        print(f"compare-introspection: {e}", file=sys.stderr)
        return 2

    objects = [(args.manager, PREFIX + "Manager")]
    if args.instance:
        objects.append((args.instance, PREFIX + "Instance"))
    if args.operation:
        objects.append((args.operation, PREFIX + "Operation"))

    all_diffs = []
    for path, iface in objects:
        try:
            n, diffs = compare_object(path, iface, xml_ifaces, args)
        except (OSError, FetchError) as e:
            print(f"compare-introspection: {e}", file=sys.stderr)
            return 2
        status = "OK" if not diffs else f"{len(diffs)} difference(s)"
        print(f"{path}: compared {n} org.lxcbus1 interface(s): {status}")
        all_diffs += diffs

    for d in all_diffs:
        print("DIFF " + d)
    if all_diffs:
        print(f"compare-introspection: {len(all_diffs)} difference(s) between runtime introspection and XML")
        return 1
    print("compare-introspection: runtime introspection matches the XML")
    return 0


if __name__ == "__main__":
    sys.exit(main())
