#!/bin/bash
# tests/integration/run.sh BUILD_DIR [TEST_FILE...]
#
# Run the integration tests against a real systemd, system bus and polkitd:
# boot a test host (tests/testhost/), install the build there with
# `meson install` (the test host's /usr and /etc are overlays on tmpfs, so
# nothing lands on this machine), start lxcbusd.service, run every
# tests/integration/test_*.py (or the given files) inside with
# /usr/bin/python3, and always power the test host off again.
#
# Runs as root. The project directory (and the build directory, if it lies
# outside) is bind-mounted read-write at the same absolute path inside the
# test host. The build must be configured with --prefix=/usr.
#
# Output: each file's output streamed, a summary, and as the very last line
# "N passed, N failed" (totals over all files; a harness failure counts as
# one failed). Exit status 0 only if nothing failed.
#
# Environment:
#   LXCBUSD_EXTRA_ARGS   extra lxcbusd arguments, appended to the unit's
#                        ExecStart= through a drop-in inside the test host
#                        (e.g. "--operation-linger-sec=5 --log-level=debug")
#   LXCBUS_SANITIZE=1    sanitizer build: ASAN_OPTIONS/UBSAN_OPTIONS with
#                        halt_on_error=1 for the daemon (drop-in) and the
#                        tests; lxcbusd is stopped after the tests and any
#                        sanitizer report in the journal counts as a failure.
#                        Override the option strings with LXCBUS_ASAN_OPTIONS /
#                        LXCBUS_UBSAN_OPTIONS.
#   LXCBUS_TEST_TIMEOUT  seconds per test file (default 240)
#   LXCBUS_SCREENSHOTS=1 test_cockpit.py saves docs/cockpit-instances.png,
#                        test_cockpit_details.py docs/cockpit-details.png
#   LXCBUS_IT_BUDGET     seconds for the whole run (default 1800); files that
#                        would start after it are counted as failed
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
. "$HERE/lib.sh"
SRC=$LB_SRC
TH=$LB_TH
PY=/usr/bin/python3
T_START=$(date +%s)
PER_FILE=${LXCBUS_TEST_TIMEOUT:-240}
BUDGET=${LXCBUS_IT_BUDGET:-1800}
DEADLINE=$((T_START + BUDGET))
NAME=it$$
PASSED=0
FAILED=0
SUMMARY=()
BOOTED=0
LB_EXEC_ENV+=(-E PYTHONUNBUFFERED=1)
# test_cockpit.py writes its screenshot to docs/ only when asked (a CI run leaves the tree clean)
[ -z "${LXCBUS_SCREENSHOTS:-}" ] || LB_EXEC_ENV+=(-E "LXCBUS_SCREENSHOTS=$LXCBUS_SCREENSHOTS")

log() { echo "run.sh: $*" >&2; }
tx() { lb_exec "$NAME" "$@"; }

# Stop the test host (if we booted it), print the totals as the last line,
# exit. Runs once, from the EXIT trap.
finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ "$BOOTED" = 1 ] || [ -d "${TH_BASE:-/run/lxcbus-testhost}/$NAME" ]; then
    if ! "$TH/th-stop" -n "$NAME" >&2; then
      log "th-stop reported a problem (leftover processes or cgroups)"
      FAILED=$((FAILED + 1)); SUMMARY+=("FAIL harness: th-stop")
    fi
  fi
  if [ "$rc" != 0 ] && [ "$FAILED" = 0 ]; then
    FAILED=1; SUMMARY+=("FAIL harness: aborted (exit status $rc)")
  fi
  echo "---- summary ($(( $(date +%s) - T_START ))s)"
  local s; for s in "${SUMMARY[@]}"; do echo "$s"; done
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ] && exit 0 || exit 1
}
DUMPED=0
dump_journal() {
  [ "$BOOTED" = 1 ] && [ "$DUMPED" = 0 ] || return 0
  DUMPED=1
  echo "---- systemctl status lxcbusd (inside the test host)"
  tx systemctl status lxcbusd.service --no-pager -l 2>&1 | head -40
  echo "---- journal lines about lxcbus-*.scope units | tail -40 (inside the test host)"
  tx sh -c 'journalctl --no-pager | grep -E "lxcbus-[A-Za-z0-9_-]*\.scope" | tail -40' 2>&1
  echo "---- journalctl -u lxcbusd | tail -200 (inside the test host)"
  tx sh -c 'journalctl -u lxcbusd --no-pager | tail -200' 2>&1
}
harness_fail() {
  log "HARNESS FAILURE: $*"
  FAILED=$((FAILED + 1)); SUMMARY+=("FAIL harness: $*")
  dump_journal
  exit 1
}
trap finish EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---- arguments -------------------------------------------------------------
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [TEST_FILE...]" >&2; exit 2; }
lb_init "$1" || harness_fail "bad build directory $1"
shift
if [ $# -gt 0 ]; then
  FILES=()
  for f in "$@"; do
    f=$(readlink -f "$f") && [ -f "$f" ] || harness_fail "no such test file: $f"
    case $f in "$SRC"/*) ;; *) harness_fail "$f is outside $SRC (not visible in the test host)";; esac
    FILES+=("$f")
  done
else
  FILES=("$HERE"/test_*.py)
  [ -e "${FILES[0]}" ] || harness_fail "no test files in $HERE"
fi

# ---- boot, install, start -----------------------------------------------------------
log "booting test host $NAME"
BOOTED=1   # from here on finish() stops it (th-boot also tears down on failure)
lb_boot "$NAME" || { BOOTED=0; harness_fail "th-boot failed"; }
log "meson install -C $LB_BUILD --no-rebuild (into the test host's /usr overlay)"
lb_install "$NAME" || harness_fail "installing into the test host failed"
lb_dropin "$NAME" || harness_fail "lxcbusd drop-in failed"
log "systemctl start lxcbusd.service"
lb_start "$NAME" || harness_fail "lxcbusd did not start"
log "lxcbusd is up (MainPID $(tx systemctl show -P MainPID lxcbusd.service))"

# ---- run the tests ----------------------------------------------------------------
for f in "${FILES[@]}"; do
  rel=${f#"$SRC"/}
  now=$(date +%s); left=$((DEADLINE - now))
  if [ "$left" -lt 15 ]; then
    echo "==== $rel: SKIPPED, time budget (${BUDGET}s) used up"
    FAILED=$((FAILED + 1)); SUMMARY+=("FAIL $rel: not run (time budget)")
    continue
  fi
  t=$PER_FILE; [ "$t" -gt "$left" ] && t=$left
  echo "==== $rel"
  t0=$(date +%s.%N)
  res=""; frc=""
  while IFS= read -r line; do
    case $line in
      *__LXCBUS_RC=*)   # our marker (maybe after an unterminated last line)
        pre=${line%__LXCBUS_RC=*}; [ -n "$pre" ] && printf '%s\n' "$pre"
        frc=${line##*__LXCBUS_RC=}; continue;;
      "RESULT passed="*) res=$line;;
    esac
    printf '%s\n' "$line"
  done < <(tx timeout -k 5 "$t" "$PY" -u "$f" < /dev/null 2>&1; echo "__LXCBUS_RC=$?")
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  p=0; fl=0
  if [[ $res =~ ^RESULT\ passed=([0-9]+)\ failed=([0-9]+) ]]; then
    p=${BASH_REMATCH[1]}; fl=${BASH_REMATCH[2]}
  fi
  note=""
  if [ "$frc" = 124 ] || [ "$frc" = 137 ]; then
    note=" TIMEOUT after ${t}s"; fl=$((fl + 1))
  elif [ -z "$res" ]; then
    note=" no RESULT line (exit status ${frc:-?})"; fl=$((fl + 1))
  elif [ "${frc:-1}" != 0 ] && [ "$fl" = 0 ]; then
    note=" exit status $frc"; fl=1
  fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + fl))
  [ "$fl" = 0 ] && st=ok || st=FAIL
  SUMMARY+=("$st $rel: $p passed, $fl failed (${dt}s)$note")
  echo "==== $rel: $p passed, $fl failed (${dt}s)$note"
done

# ---- daemon health ----------------------------------------------------------------
state=$(tx systemctl show -P ActiveState lxcbusd.service)
nrestarts=$(tx systemctl show -P NRestarts lxcbusd.service)
crash=$(tx journalctl -u lxcbusd.service --no-pager -o cat \
          | grep -E 'Main process exited, code=(dumped|killed)' | grep -vE 'status=(9/KILL|15/TERM)$' || true)
if [ "$state" != active ] || [ -n "$crash" ]; then
  echo "==== lxcbusd health: ActiveState=$state NRestarts=$nrestarts"
  [ -n "$crash" ] && printf '%s\n' "$crash"
  FAILED=$((FAILED + 1)); SUMMARY+=("FAIL lxcbusd health: ActiveState=$state NRestarts=$nrestarts${crash:+, crashed}")
fi
if [ "${LXCBUS_VALGRIND:-0}" = 1 ]; then
  # stop it so that valgrind checks for leaks at exit; it exits 99 on any error or definite leak
  tx timeout 90 systemctl stop lxcbusd.service || log "stopping lxcbusd failed"
  vg=$(tx journalctl -u lxcbusd.service --no-pager -o cat | grep -E '^==[0-9]+==|status=99' || true)
  if [ -n "$vg" ]; then
    echo "==== valgrind reports in the journal:"
    printf '%s\n' "$vg" | head -80
    FAILED=$((FAILED + 1)); SUMMARY+=("FAIL valgrind: $(printf '%s\n' "$vg" | wc -l) report lines")
  else
    SUMMARY+=("ok valgrind: no errors, no definite leaks")
  fi
fi
if [ "${LXCBUS_SANITIZE:-0}" = 1 ]; then
  # stop it so that LeakSanitizer reports at exit
  tx timeout 60 systemctl stop lxcbusd.service || log "stopping lxcbusd failed"
  san=$(tx journalctl --no-pager -o cat \
        | grep -E 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' || true)
  if [ -n "$san" ]; then
    echo "==== sanitizer reports in the journal:"
    printf '%s\n' "$san" | head -50
    FAILED=$((FAILED + 1)); SUMMARY+=("FAIL sanitizer: $(printf '%s\n' "$san" | wc -l) report lines")
  else
    SUMMARY+=("ok sanitizer: no reports")
  fi
fi

[ "$FAILED" = 0 ] || dump_journal
exit 0   # finish() (EXIT trap) stops the test host and prints the totals
