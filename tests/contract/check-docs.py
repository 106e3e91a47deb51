#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check that docs/api.md is in step with dbus-interfaces/*.xml.

Usage: check-docs.py [--xml-dir=DIR] [API_MD]

For every interface of the XML, docs/api.md must have a section whose
heading names the interface (e.g. "## Interface org.lxcbus1.Manager"), and
within that section (up to the next heading of the same or a higher level):

  - every method, as a code span with its signature:
      `Name(type arg, ...) -> (type arg, ...)`
    (an empty side is written "()"),
  - every signal, as a code span `Name(type arg, ...)`,
  - every property, as a table row naming it and its type:
      | `Name` | `type` | ...

and no method, signal or property of that form the XML does not have.
Prints each problem and exits 1 if there is any, 0 otherwise.
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

PREFIX = "org.lxcbus1."


def load_interfaces(xml_dir):
    interfaces = {}
    for f in sorted(os.listdir(xml_dir)):
        if not (f.startswith(PREFIX) and f.endswith(".xml")):
            continue
        root = ET.parse(os.path.join(xml_dir, f)).getroot()
        for iface in root.findall("interface"):
            methods, signals, properties = {}, {}, {}
            for m in iface.findall("method"):
                ins = [f"{a.get('type')} {a.get('name')}" for a in m.findall("arg")
                       if (a.get("direction") or "in") == "in"]
                outs = [f"{a.get('type')} {a.get('name')}" for a in m.findall("arg")
                        if a.get("direction") == "out"]
                methods[m.get("name")] = f"{m.get('name')}({', '.join(ins)}) -> ({', '.join(outs)})"
            for s in iface.findall("signal"):
                args = [f"{a.get('type')} {a.get('name')}" for a in s.findall("arg")]
                signals[s.get("name")] = f"{s.get('name')}({', '.join(args)})"
            for p in iface.findall("property"):
                properties[p.get("name")] = p.get("type")
            interfaces[iface.get("name")] = (methods, signals, properties)
    return interfaces


HEADING = re.compile(r"^(#+)\s+(.*)$")


def sections(text):
    """Returns {interface name: section text} for headings naming an interface."""
    lines = text.splitlines()
    result = {}
    in_code = False
    heads = []
    for n, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else HEADING.match(line)
        if m:
            heads.append((n, len(m.group(1)), m.group(2)))
    for k, (n, level, title) in enumerate(heads):
        names = re.findall(r"\b(org\.lxcbus1\.[A-Za-z0-9_]+)\b", title)
        if len(names) != 1:
            continue
        end = len(lines)
        for n2, level2, _ in heads[k + 1:]:
            if level2 <= level:
                end = n2
                break
        result.setdefault(names[0], "\n".join(lines[n + 1:end]))
    return result


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "..")
    ap = argparse.ArgumentParser(description="Check docs/api.md against the D-Bus XML.")
    ap.add_argument("--xml-dir", default=os.path.join(src, "dbus-interfaces"))
    ap.add_argument("api_md", nargs="?", default=os.path.join(src, "docs", "api.md"))
    args = ap.parse_args()

    try:
        interfaces = load_interfaces(args.xml_dir)
        with open(args.api_md, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ET.ParseError) as e:
        print(f"check-docs: {e}", file=sys.stderr)
        return 2
    if not interfaces:
        print(f"check-docs: no {PREFIX}*.xml in {args.xml_dir}", file=sys.stderr)
        return 2

    secs = sections(text)
    problems = []
    checked = 0
    for iname, (methods, signals, properties) in sorted(interfaces.items()):
        sec = secs.get(iname)
        if sec is None:
            problems.append(f"{iname}: no section whose heading names the interface")
            continue
        spans = set(re.findall(r"`([^`\n]+)`", sec))
        # Signatures in the section: `Name(...)` or `Name(...) -> (...)`.
        documented = {}
        for s in spans:
            m = re.match(r"^([A-Z][A-Za-z0-9_]*)\((.*)$", s)
            if m:
                documented.setdefault(m.group(1), set()).add(s)

        for name, sig in sorted(methods.items()):
            checked += 1
            if sig not in spans:
                got = ", ".join(sorted(documented.get(name, []))) or "nothing"
                problems.append(f"{iname}: method {name}: expected `{sig}`, found {got}")
        for name, sig in sorted(signals.items()):
            checked += 1
            if sig not in spans:
                got = ", ".join(sorted(documented.get(name, []))) or "nothing"
                problems.append(f"{iname}: signal {name}: expected `{sig}`, found {got}")
        for name in sorted(documented.keys() - methods.keys() - signals.keys()):
            # `Name(...)` forms that are neither: stale docs, unless it is a standard member.
            if any("->" in s or re.search(r"\(\S+ \S+", s) for s in documented[name]):
                problems.append(f"{iname}: documents {', '.join(sorted(documented[name]))}, "
                                f"which the XML does not have")

        rows = {}
        for line in sec.splitlines():
            m = re.match(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|\s*`([^`]+)`\s*\|", line)
            if m and m.group(1)[0].isupper():
                rows[m.group(1)] = m.group(2)
        for name, typ in sorted(properties.items()):
            checked += 1
            if name not in rows:
                problems.append(f"{iname}: property {name} ({typ}): no table row | `{name}` | `{typ}` |")
            elif rows[name] != typ:
                problems.append(f"{iname}: property {name}: XML type {typ}, docs say {rows[name]}")
        for name in sorted(rows.keys() - properties.keys()):
            problems.append(f"{iname}: docs list property {name} ({rows[name]}), which the XML does not have")

    for p in problems:
        print("DOCS " + p)
    if problems:
        print(f"check-docs: {len(problems)} problem(s) in {args.api_md}")
        return 1
    print(f"check-docs: {checked} members of {len(interfaces)} interfaces documented in {args.api_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
