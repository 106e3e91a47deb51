#!/bin/bash
# tests/run-all.sh: build, run the unit tests, run the integration tests in a
# throw-away test host. Runs as root (the integration tests boot a test host).
# Idempotent: an existing build directory is reused (and reconfigured).
#
# Last line of the output: "N passed, N failed" (unit + integration).
# Exit status non-zero on any failure (a failed build counts as one failed).
#
# Environment:
#   LXCBUS_BUILD_DIR  build directory (default: build, or build-sanitize)
#   CI=true           build with -Dwerror=true
#   LXCBUS_SANITIZE=1 build with -Db_sanitize=address,undefined and run the
#                     integration tests in sanitizer mode (tests/integration/run.sh)
#   plus what tests/integration/run.sh honours (LXCBUSD_EXTRA_ARGS, ...)
set -uo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$ROOT" || exit 1
if [ "${LXCBUS_SANITIZE:-0}" = 1 ]; then
  BUILD=${LXCBUS_BUILD_DIR:-build-sanitize}
else
  BUILD=${LXCBUS_BUILD_DIR:-build}
fi
UP=0; UF=0; IP=0; IF=0
total() {
  echo "---- totals: unit $UP passed, $UF failed; integration $IP passed, $IF failed"
  echo "$((UP + IP)) passed, $((UF + IF)) failed"
  [ $((UF + IF)) = 0 ]
  exit $?
}

# ---- build --------------------------------------------------------------------------
opts=(-Dprefix=/usr)
if [ "${CI:-}" = true ]; then opts+=(-Dwerror=true); else opts+=(-Dwerror=false); fi
if [ "${LXCBUS_SANITIZE:-0}" = 1 ]; then
  opts+=("-Db_sanitize=address,undefined" -Db_lundef=false)
fi
echo "==== build ($BUILD: ${opts[*]})"
if [ -f "$BUILD/build.ninja" ]; then
  meson configure "$BUILD" "${opts[@]}" || { echo "meson configure failed"; UF=1; total; }
else
  meson setup "$BUILD" "${opts[@]}" || { echo "meson setup failed"; UF=1; total; }
fi
ninja -C "$BUILD" || { echo "build failed"; UF=1; total; }

# ---- unit tests ----------------------------------------------------------------------
echo "==== unit tests (meson test)"
ulog=$BUILD/run-all-unit.log
meson test -C "$BUILD" --print-errorlogs 2>&1 | tee "$ulog"
urc=${PIPESTATUS[0]}
# meson's summary: "Ok: N", "Expected Fail: N", "Fail: N", "Unexpected Pass: N",
# "Skipped: N", "Timeout: N"; "No tests defined." when there are none
num() { awk -v k="$1" -F: '$1 == k { gsub(/[^0-9]/, "", $2); n = $2 } END { print n + 0 }' "$ulog"; }
UP=$(num Ok)
UF=$(( $(num Fail) + $(num "Unexpected Pass") + $(num Timeout) ))
if [ "$urc" != 0 ] && [ "$UF" = 0 ]; then
  echo "meson test failed (exit status $urc)"; UF=1
fi
grep -q 'No tests defined' "$ulog" && echo "(no unit tests defined)"

# ---- integration tests -------------------------------------------------------------
echo "==== integration tests (tests/integration/run.sh $BUILD)"
if [ "$(id -u)" != 0 ]; then
  echo "integration tests need root (they boot a test host): sudo $0"; IF=1; total
fi
ilog=$BUILD/run-all-integration.log
"$ROOT/tests/integration/run.sh" "$BUILD" 2>&1 | tee "$ilog"
irc=${PIPESTATUS[0]}
last=$(tail -n 1 "$ilog")
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  IP=${BASH_REMATCH[1]}; IF=${BASH_REMATCH[2]}
fi
if [ "$irc" != 0 ] && [ "$IF" = 0 ]; then IF=1; fi
total
