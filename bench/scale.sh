#!/bin/bash
# bench/scale.sh BUILD_DIR [scale.py options]   (also: bench/run.sh --scale BUILD_DIR ...)
#
# lxcbusd at scale (issue 15, item 3): boots a test host as tests/integration/run.sh does (lib.sh),
# installs the build, and runs bench/scale.py inside: 1000 busybox instances, 100 of them running;
# ListInstances, GetManagedObjects, RSS, restart with adoption, idle wakeups, monitor memory, as a
# table figure / target / measured / pass. Then, if they exist, the full load and kill-point runs
# (LXCBUS_SCALE_FULL=1 tests/integration/test_load.py and test_killpoints_lifecycle.py) in the same
# test host. Runs as root; takes about 10 minutes. The test host is always stopped.
#
# Environment: LXCSCALE_TEST_TIMEOUT  seconds for each full test file (default 1800).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
. "$HERE/../tests/integration/lib.sh"
NAME=scale$$
PY=/usr/bin/python3
T_START=$(date +%s)
BOOTED=0
RC=0

log() { echo "scale.sh: $(date +%T) $*" >&2; }
tx() { lb_exec "$NAME" "$@"; }
finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [ "$rc" = 0 ] && rc=$RC
  if [ "$BOOTED" = 1 ] || [ -d "${TH_BASE:-/run/lxcbus-testhost}/$NAME" ]; then
    "$LB_TH/th-stop" -n "$NAME" >&2 || { log "th-stop reported a problem"; rc=1; }
  fi
  log "done in $(( $(date +%s) - T_START ))s, exit status $rc"
  exit "$rc"
}
trap finish EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP
die() { log "FAILURE: $*"; [ "$BOOTED" = 1 ] && tx sh -c 'journalctl -u lxcbusd --no-pager | tail -40' >&2; exit 1; }

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [scale.py options]" >&2; exit 2; }
lb_init "$1" || die "bad build directory $1"
shift

log "booting test host $NAME"
BOOTED=1
lb_boot "$NAME" || { BOOTED=0; die "th-boot failed"; }
lb_install "$NAME" || die "installing into the test host failed"
lb_dropin "$NAME" || die "lxcbusd drop-in failed"
lb_start "$NAME" || die "lxcbusd did not start"
log "lxcbusd is up; conditions: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

tx "$PY" -u "$HERE/scale.py" --c-client "$LB_BUILD/bench/gmo-client" "$@" || RC=1

for f in test_load.py test_killpoints_lifecycle.py; do
  p=$LB_SRC/tests/integration/$f
  [ -f "$p" ] || { log "no $p: skipped"; continue; }
  log "LXCBUS_SCALE_FULL=1 $f"
  tx timeout -k 5 "${LXCSCALE_TEST_TIMEOUT:-1800}" env LXCBUS_SCALE_FULL=1 PYTHONUNBUFFERED=1 "$PY" -u "$p" \
    < /dev/null 2>&1 | tail -40
  [ "${PIPESTATUS[0]}" = 0 ] || { log "$f failed"; RC=1; }
done
exit 0
