#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# lxcbusd-start-hook runs on every start, in the Start's critical path: it must need no shared library but
# libc (src/worker/meson.build). Prints what else it needs and exits 1 if anything.
set -eu
hook=${1:?usage: check-hook-libs.sh PATH-TO-lxcbusd-start-hook}
needed=$(objdump -p "$hook" | awk '$1 == "NEEDED" { print $2 }')
extra=$(printf '%s\n' "$needed" | grep -v -e '^libc\.so\.' -e '^$' -e '^libasan\.so\.' -e '^libubsan\.so\.' || true)
if [ -n "$extra" ]; then
        echo "check-hook-libs: $hook needs more than libc:" $extra >&2
        exit 1
fi
echo "check-hook-libs: $hook needs:" $needed
