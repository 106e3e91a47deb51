#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# lxcbusd-monitor stays the monitor of each running instance: every shared library it loads costs each
# instance its own dirty pages (src/worker/monitor.c). It may need liblxc and libc, nothing else (no GLib,
# GIO, json-glib, libarchive, libsystemd: lxcbusd-worker's), and what it loads through liblxc must not
# bring those either. Prints what it needs and exits 1 if anything more.
set -eu
monitor=${1:?usage: check-monitor-libs.sh PATH-TO-lxcbusd-monitor}
needed=$(objdump -p "$monitor" | awk '$1 == "NEEDED" { print $2 }')
extra=$(printf '%s\n' "$needed" | grep -v -e '^libc\.so\.' -e '^liblxc\.so\.' -e '^$' -e '^libasan\.so\.' \
        -e '^libubsan\.so\.' || true)
if [ -n "$extra" ]; then
        echo "check-monitor-libs: $monitor needs more than liblxc and libc:" $extra >&2
        exit 1
fi
loaded=$(ldd "$monitor" | awk '{ print $1 }')
heavy=$(printf '%s\n' "$loaded" | grep -e '^libglib-' -e '^libgio-' -e '^libgobject-' -e '^libjson-glib-' \
        -e '^libarchive\.' -e '^libsystemd\.' || true)
if [ -n "$heavy" ]; then
        echo "check-monitor-libs: $monitor loads:" $heavy >&2
        exit 1
fi
echo "check-monitor-libs: $monitor needs:" $needed
