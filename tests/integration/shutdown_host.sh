#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/shutdown_host.sh BUILD_DIR: host shutdown stops instances cleanly (docs/systemd.md,
# "Autostart and shutdown"). Runs on the host side, as root: boots a test host of its own whose
# /var/lib/lxcbus and /var/log/journal are directories of the build tree (so they outlive it), starts
# busybox instances whose inittab ::shutdown action writes a marker into their rootfs after a pause, powers
# the test host off (th-stop: SIGRTMIN+4 to its systemd, which is poweroff.target) and checks, from the host:
#   - th-stop found no process left in any of the test host's cgroups;
#   - every instance's init ran its shutdown action (its marker is there): it got its halt signal and the
#     time to act on it;
#   - the journal: StopAll ran and succeeded, every instance was stopped by it, and all of that before
#     systemd removed machine.slice; systemd never had to stop (signal) an instance scope itself.
# Last line: "shutdown_host: ok" or "shutdown_host: FAIL ...", exit status 0 or 1.
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
. "$HERE/lib.sh"
NAME=sd$$
N_INSTANCES=${N_INSTANCES:-3}
PAUSE=2         # seconds the ::shutdown action takes before it writes its marker
FAILED=0
BOOTED=0

fail() { echo "shutdown_host: FAIL $*"; FAILED=1; }
tx() { lb_exec "$NAME" "$@"; }

[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
lb_init "$1" || exit 1
KEEP=$LB_BUILD/shutdown-host.$$
cleanup() {
  [ "$BOOTED" = 1 ] && [ -d "${TH_BASE:-/run/lxcbus-testhost}/$NAME" ] && "$LB_TH/th-stop" -n "$NAME" -k >/dev/null 2>&1
  rm -rf "$KEEP"
}
trap cleanup EXIT
mkdir -p "$KEEP/lib" "$KEEP/journal" || exit 1

BOOTED=1
lb_boot "$NAME" || { echo "shutdown_host: FAIL th-boot"; exit 1; }
# Before lxcbusd runs: its state and the journal on directories that outlive the test host.
# (th-boot makes the journal volatile: persistent here, into the bound directory.)
tx sh -c "mkdir -p /var/lib/lxcbus /var/log/journal /etc/systemd/journald.conf.d &&
          mount --bind '$KEEP/lib' /var/lib/lxcbus && mount --bind '$KEEP/journal' /var/log/journal &&
          printf '[Journal]\nStorage=persistent\n' > /etc/systemd/journald.conf.d/60-shutdown-host.conf &&
          systemctl restart systemd-journald.service && journalctl --flush" \
  || { echo "shutdown_host: FAIL binding the state directories"; exit 1; }
lb_install "$NAME" && lb_dropin "$NAME" && lb_start "$NAME" || { echo "shutdown_host: FAIL starting lxcbusd"; exit 1; }

names=()
for i in $(seq 1 "$N_INSTANCES"); do
  n=sdi$i
  names+=("$n")
  tx lxcbusctl create "$n" --config=network.mode=none >/dev/null || fail "create $n"
  r=$KEEP/lib/instances/$n/rootfs
  # busybox init acts on a halt signal only once its sysinit (rcS) is done: no network, so that udhcpc in
  # rcS gives up at once instead of waiting for a lease.
  echo 'touch /booted' >> "$r/etc/init.d/rcS"
  echo "::shutdown:/bin/sh -c 'sleep $PAUSE; echo halted > /halted'" >> "$r/etc/inittab"
  tx lxcbusctl start "$n" >/dev/null || fail "start $n"
done
for n in "${names[@]}"; do
  for _ in $(seq 1 300); do [ -e "$KEEP/lib/instances/$n/rootfs/booted" ] && break; sleep 0.1; done
  [ -e "$KEEP/lib/instances/$n/rootfs/booted" ] || fail "$n did not finish its rcS within 30 s"
done
tx systemctl is-active lxcbus-shutdown.service >/dev/null || fail "lxcbus-shutdown.service is not active"

t0=$(date +%s.%N)
"$LB_TH/th-stop" -n "$NAME" -t 60 || fail "th-stop: processes left, or systemd did not power off in time"
BOOTED=0
echo "# poweroff with $N_INSTANCES running instances took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

for n in "${names[@]}"; do
  [ "$(cat "$KEEP/lib/instances/$n/rootfs/halted" 2>/dev/null)" = halted ] \
    || fail "instance $n: its init did not run its shutdown action"
done

log=$KEEP/journal.txt
journalctl -D "$KEEP/journal" --no-pager -o short-monotonic > "$log" 2>/dev/null || fail "reading the journal"
stopall=$(grep -n 'Operation [0-9]* (stop-all) success' "$log" | head -1 | cut -d: -f1)
slice=$(grep -nE 'Removed slice .*machine\.slice|machine\.slice: Deactivated' "$log" | head -1 | cut -d: -f1)
[ -n "$stopall" ] || fail "no successful StopAll in the journal"
grep -E "Stopping lxcbus-shutdown.service|Operation [0-9]* \((stop-all|stop of '[^']*')\)|Removed slice .*machine\.slice|machine\.slice: Deactivated|Stopping lxcbus container manager" \
  "$log" | sed 's/^/# /'

[ -n "$slice" ] || echo "# note: no line about machine.slice's removal in the journal"
if [ -n "$stopall" ] && [ -n "$slice" ] && [ "$stopall" -gt "$slice" ]; then
  fail "StopAll finished after machine.slice was removed"
fi
for n in "${names[@]}"; do
  grep -q "Operation [0-9]* (stop of '$n') success" "$log" || fail "instance $n was not stopped by a stop operation"
done
if grep -E "lxcbus-sdi[0-9]+\.scope: (Killing process|Sending signal)|Stopping lxcbus instance" "$log"; then
  fail "systemd signalled an instance scope itself"
fi
if [ "$FAILED" != 0 ]; then
  ls -lR "$KEEP/journal" | head
  grep -E 'lxcbus|machine\.slice|Stopp|Deactivated' "$log" | tail -60
  echo "shutdown_host: FAIL"
  exit 1
fi
echo "shutdown_host: ok"
