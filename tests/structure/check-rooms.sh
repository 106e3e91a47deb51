#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon's rooms (docs/architecture.md, "The map"): no model file builds a reply, an error or a
# signal, emits, or tracks a peer; a file that does is named *-dbus.c; no model file includes a bus
# face's header. Prints each offence and exits 1 if there is one.
set -eu
src=${1:?usage: check-rooms.sh SRCDIR}/src/daemon
bus_calls='sd_bus_reply_|sd_bus_emit_|sd_bus_track_|sd_bus_message_new_method_return|sd_bus_message_new_method_error|sd_bus_message_new_signal|sd_bus_send\('
fail=0
for f in "$src"/*.c; do
        name=$(basename "$f")
        case "$name" in
        *-dbus.c) continue ;;
        main.c) continue ;;    # wires the faces to the model, answers nothing
        esac
        if grep -nE "$bus_calls" "$f"; then
                echo "check-rooms: $name is a model file but answers the bus (name it *-dbus.c or move that out)" >&2
                fail=1
        fi
        if grep -nE '#include "[a-z-]+-dbus\.h"' "$f"; then
                echo "check-rooms: model file $name includes a bus face's header" >&2
                fail=1
        fi
done
n=$(ls "$src"/*.c | wc -l)
[ "$fail" = 0 ] && echo "check-rooms: $n files of src/daemon, the model bus-free"
exit $fail
