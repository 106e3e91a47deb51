#!/bin/bash
# bench/scale.sh BUILD_DIR [scale.py options]   (also: bench/run.sh --scale BUILD_DIR ...)
#
# lxcbusd at scale (issue 15, item 3): boots a test host as tests/integration/run.sh does (lib.sh),
# installs the build, and runs bench/scale.py inside: 1000 busybox instances, 100 of them running;
# ListInstances, GetManagedObjects, RSS, restart with adoption, idle wakeups, monitor memory, as a
# table figure / target / measured / pass. Then, if they exist, the full load and kill-point runs
# (LXCBUS_SCALE_FULL=1 tests/integration/test_load.py and test_killpoints_lifecycle.py) in the same
# test host. Runs as root; takes about 10 minutes. The test host is always stopped.
# With --monitors N: the monitors' memory only (scale.py --monitors), without the full runs.
#
# Environment: LXCSCALE_TEST_TIMEOUT  seconds for each full test file (default 1800).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
NAME=scale$$
. "$HERE/lib.sh"

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [scale.py options]" >&2; exit 2; }
bench_init "$1"
shift
bench_boot

tx "$PY" -u "$HERE/scale.py" --c-client "$LB_BUILD/bench/gmo-client" "$@" || RC=1

case " $* " in *" --monitors "*|*" --monitors="*) exit 0;; esac
for f in test_load.py test_killpoints_lifecycle.py; do
  p=$LB_SRC/tests/integration/$f
  [ -f "$p" ] || { log "no $p: skipped"; continue; }
  log "LXCBUS_SCALE_FULL=1 $f"
  tx timeout -k 5 "${LXCSCALE_TEST_TIMEOUT:-1800}" env LXCBUS_SCALE_FULL=1 PYTHONUNBUFFERED=1 "$PY" -u "$p" \
    < /dev/null 2>&1 | tail -40
  [ "${PIPESTATUS[0]}" = 0 ] || { log "$f failed"; RC=1; }
done
exit 0
