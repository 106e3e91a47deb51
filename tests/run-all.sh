#!/bin/bash
# tests/run-all.sh: the whole test suite. Runs as root (the integration tests
# boot throw-away test hosts). Stages:
#   1. build (build/, -Dwerror=true when CI=true), meson test: unit, fuzz
#      corpora, contract (introspection = XML, gdbus-codegen client, docs)
#   2. integration tests in a test host (tests/integration/run.sh), after a
#      Debian 12 rootfs for test_debian.py and one with systemd for
#      test_debian_systemd.py (tests/debian/rootfs.sh, each cached)
#   3. the linger test, in a test host whose daemon keeps operations 3 s, and
#      the exec leak test (1000 execs, 200 from killed clients: fds, RSS,
#      zombies, objects), in one whose daemon keeps them 5 s; then a test host
#      powered off with instances running (tests/integration/shutdown_host.sh)
#   4. the same with ASan+UBSan (build-sanitize/): meson test before stage 2,
#      then the integration tests with halt_on_error, in a second test host
#      while stage 2 runs; any sanitizer report fails
#   5. libFuzzer (build-fuzz/: clang-14, -Dlibfuzzer=true, ASan+UBSan), beside stage 6: each
#      fuzzer of tests/fuzz/ runs ${LXCBUS_FUZZ_SECONDS:-10} s on a copy of its
#      corpus; one test per fuzzer, a crash, leak, timeout (10 s) or RSS over
#      2 GiB fails it and prints the reproducer
#   6. unit and fuzz tests under valgrind, then the integration tests that do
#      not measure time with lxcbusd under valgrind (errors and definite
#      leaks fail)
# An existing build directory is reused. LXCBUS_QUICK=1 runs stages 1-3 only.
#
# Last line of the output: "N passed, N failed" over all stages. Exit status
# non-zero on any failure (a failed build or stage counts as one failed).
set -uo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$ROOT" || exit 1
PASSED=0
FAILED=0
STAGES=()
T_START=$SECONDS
T_STAGE=$SECONDS

count() {   # count STAGE PASSED FAILED: with the seconds since the stage before
  # A stage run in the background (a subshell) writes its counts to COUNT_FILE for the main shell.
  if [ -n "${COUNT_FILE:-}" ]; then printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$COUNT_FILE"; return; fi
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
  STAGES+=("$(printf '%-28s %4d passed, %d failed  (%d s)' "$1" "$2" "$3" $((SECONDS - T_STAGE)))")
  T_STAGE=$SECONDS
}

finish() {
  echo "==== summary ($((SECONDS - T_START)) s; a stage's time includes its build)"
  printf '  %s\n' "${STAGES[@]}"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
  exit $?
}

build() {   # build DIR EXTRA_MESON_OPTS...
  local dir=$1; shift
  local opts=(-Dprefix=/usr "$@")
  if [ "${CI:-}" = true ]; then opts+=(-Dwerror=true); fi
  echo "==== build ($dir: ${opts[*]})"
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "${opts[@]}" || return 1
  else
    meson setup "$dir" "${opts[@]}" || return 1
  fi
  ninja -C "$dir"
}

mesontest() {   # mesontest STAGE DIR MESON_TEST_ARGS...
  local stage=$1 dir=$2; shift 2
  local log=$dir/run-all-$stage.log
  echo "==== $stage (meson test $*)"
  meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  num() { awk -v k="$1" -F: '$1 == k { gsub(/[^0-9]/, "", $2); n = $2 } END { print n + 0 }' "$log"; }
  local ok=$(num Ok) bad=$(( $(num Fail) + $(num "Unexpected Pass") + $(num Timeout) ))
  if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
  count "$stage" "$ok" "$bad"
}

integration() {   # integration STAGE DIR [TEST_FILE...]   (env passes through)
  local stage=$1 dir=$2; shift 2
  local log=$dir/run-all-$stage.log
  echo "==== $stage (tests/integration/run.sh $dir $*)"
  "$ROOT/tests/integration/run.sh" "$dir" "$@" 2>&1 | tee "$log"
  integration_count "$stage" "$log" "${PIPESTATUS[0]}"
}

# The same, in the background, into its log only (run in parallel with another: each in a test host of
# its own); integration_wait prints the log and counts once it is done.
integration_start() {   # integration_start STAGE DIR [TEST_FILE...]
  local stage=$1 dir=$2; shift 2
  echo "==== $stage started (tests/integration/run.sh $dir $*; its output follows when it ends)"
  ( "$ROOT/tests/integration/run.sh" "$dir" "$@" > "$dir/run-all-$stage.log" 2>&1
    echo $? > "$dir/run-all-$stage.rc" ) &
  eval "PID_${stage//-/_}=$! T0_${stage//-/_}=$SECONDS"
}

integration_wait() {   # integration_wait STAGE DIR
  local stage=$1 dir=$2 pid_var="PID_${1//-/_}" t0_var="T0_${1//-/_}"
  wait "${!pid_var}"
  echo "==== $stage (output)"
  cat "$dir/run-all-$stage.log"
  T_STAGE=${!t0_var}   # its time is its own run's, from its start
  integration_count "$stage" "$dir/run-all-$stage.log" "$(cat "$dir/run-all-$stage.rc" 2>/dev/null || echo 1)"
}

integration_count() {   # integration_count STAGE LOG RC: the run's last line "N passed, N failed"
  local stage=$1 log=$2 rc=$3 ok=0 bad=0
  local last; last=$(tail -n 1 "$log")
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    ok=${BASH_REMATCH[1]}; bad=${BASH_REMATCH[2]}
  fi
  if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
  count "$stage" "$ok" "$bad"
}

if [ "$(id -u)" != 0 ]; then
  echo "run-all.sh: the integration tests need root (they boot test hosts): sudo $0" >&2
  count "root" 0 1; finish
fi

B=${LXCBUS_BUILD_DIR:-build}
S=${LXCBUS_SANITIZE_BUILD_DIR:-build-sanitize}
if build "$B"; then
  mesontest unit "$B"
  # The Debian 12 rootfs that test_debian.py imports, and the one with systemd that
  # test_debian_systemd.py boots: debootstrap once each (about 30 and 40 s), then cached.
  echo "==== debian-rootfs (tests/debian/rootfs.sh)"
  if "$ROOT/tests/debian/rootfs.sh" "$ROOT/tests/debian/cache/debian-12-minbase.tar" &&
     "$ROOT/tests/debian/rootfs.sh" "$ROOT/tests/debian/cache/debian-12-systemd.tar" systemd; then
    count debian-rootfs 1 0
  else
    count debian-rootfs 0 1
  fi
  # The integration tests, and with ASan+UBSan (stage 4) at the same time, each in its own test host:
  # most of their time is waiting (busybox's init takes 3 s to halt), and the suite is built to hold
  # under load (its waits scale with LXCBUS_SANITIZE). The sanitizer build comes first.
  san=0
  if [ "${LXCBUS_QUICK:-0}" != 1 ]; then
    if build "$S" -Db_sanitize=address,undefined -Db_lundef=false; then
      ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 mesontest unit-sanitize "$S"
      san=1
    else
      count "build $S" 0 1
    fi
  fi
  # The browser tests (test_cockpit*.py) drive the page, not new daemon paths: the sanitizer run leaves
  # them out (chromium would take a core from both runs for a minute).
  san_files=()
  for f in "$ROOT"/tests/integration/test_*.py; do
    case $f in */test_cockpit*) ;; *) san_files+=("$f") ;; esac
  done
  [ "$san" = 1 ] && LXCBUS_SANITIZE=1 integration_start integration-sanitize "$S" "${san_files[@]}"
  integration integration "$B"
  LXCBUSD_EXTRA_ARGS=--operation-linger-sec=3 integration linger "$B" tests/integration/linger_only.py
  LXCBUSD_EXTRA_ARGS=--operation-linger-sec=5 integration exec-leaks "$B" tests/integration/exec_leaks_only.py
  # Host shutdown stops instances cleanly: a test host of its own, powered off (docs/systemd.md).
  echo "==== shutdown (tests/integration/shutdown_host.sh $B)"
  if "$ROOT/tests/integration/shutdown_host.sh" "$B"; then count shutdown 1 0; else count shutdown 0 1; fi
  [ "$san" = 1 ] && integration_wait integration-sanitize "$S"
else
  count "build $B" 0 1
fi
[ "${LXCBUS_QUICK:-0}" = 1 ] && finish

fuzz() {   # fuzz DIR: every fuzzer, LXCBUS_FUZZ_SECONDS each, on a scratch copy of its corpus
  local dir=$1 secs=${LXCBUS_FUZZ_SECONDS:-10} ok=0 bad=0 work
  work=$(mktemp -d /tmp/lxcbus-fuzz.XXXXXX) || { count fuzz 0 1; return; }
  for exe in "$dir"/tests/fuzz/fuzz-*; do
    [ -x "$exe" ] && [ -f "$exe" ] || continue
    local name; name=$(basename "$exe"); exe=$(readlink -f "$exe")
    mkdir -p "$work/$name/corpus" "$work/$name/crash"
    cp -r "$ROOT/tests/fuzz/corpus/$name/." "$work/$name/corpus/" 2>/dev/null
    echo "==== fuzz $name (${secs} s)"
    # Never the source tree: new inputs go to the copy, crashes to $work/$name/crash/.
    (cd "$work/$name" && "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/$name/crash/" corpus) > "$work/$name/log" 2>&1
    local rc=$? execs
    execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$work/$name/log")
    if [ "$rc" = 0 ] && [ -z "$(ls -A "$work/$name/crash")" ]; then
      ok=$((ok + 1)); echo "$name: ${execs:-?} executions, no crash"
    else
      bad=$((bad + 1))
      grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant failed|.*runtime error)' "$work/$name/log" | head -n 5
      echo "$name: FAILED (exit $rc) after ${execs:-?} executions; reproducer: $(ls "$work/$name/crash"/* 2>/dev/null || echo none)"
      echo "  log: $work/$name/log; replay: $exe <reproducer>"
    fi
  done
  [ "$bad" = 0 ] && rm -rf "$work"
  count fuzz "$ok" "$bad"
}

# Stage 5 in the background, beside stage 6 (each mostly one busy core): its output and counts follow
# stage 6's.
F=${LXCBUS_FUZZ_BUILD_DIR:-build-fuzz}
mkdir -p "$F"
FUZZ_LOG=$F/run-all-fuzz.log FUZZ_COUNTS=$F/run-all-fuzz.counts T0_FUZZ=$SECONDS
: > "$FUZZ_COUNTS"
echo "==== fuzz started (build $F, then each fuzzer; its output follows stage 6's)"
(
  export COUNT_FILE=$FUZZ_COUNTS
  if command -v clang-14 >/dev/null && CC=clang-14 build "$F" -Dlibfuzzer=true -Db_sanitize=address,undefined -Db_lundef=false; then
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 fuzz "$F"
  else
    count "build $F" 0 1
  fi
) > "$FUZZ_LOG" 2>&1 &
FUZZ_PID=$!

fuzz_wait() {
  local stage ok bad
  wait "$FUZZ_PID"
  echo "==== fuzz (output)"
  cat "$FUZZ_LOG"
  T_STAGE=$T0_FUZZ
  [ -s "$FUZZ_COUNTS" ] || printf 'fuzz\t0\t1\n' > "$FUZZ_COUNTS"   # the subshell died early
  while IFS=$'\t' read -r stage ok bad; do count "$stage" "$ok" "$bad"; done < "$FUZZ_COUNTS"
}

if [ -d "$B" ] && command -v valgrind >/dev/null; then
  mesontest unit-valgrind "$B" --suite unit --suite fuzz \
    --wrap='valgrind --quiet --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite'
  # test_events (idle wakeups, reaction times), test_persistence and test_exec_lifetime (kill -9 of
  # the daemon) measure or kill the daemon itself, test_polkit_race times polkit's timeout and
  # restarts the daemon, and test_idmap restarts it (adoption needs pidfd_open, which valgrind 3.19
  # lacks), as do test_hostile_bus, _bounds and _rootfs; test_hostile_pids and _container test the
  # signals through pidfds that valgrind does not have, as do test_overlay (a running clone's root is
  # checked through init's pidfd) and test_files (its cancel times a grace period): not under valgrind.
  LXCBUS_VALGRIND=1 integration integration-valgrind "$B" tests/integration/test_smoke.py \
    tests/integration/test_lifecycle.py tests/integration/test_errors.py tests/integration/test_config.py \
    tests/integration/test_ctl.py tests/integration/test_resources.py tests/integration/test_exec.py \
    tests/integration/test_exec_pty.py tests/integration/test_console.py tests/integration/test_contract_exec.py \
    tests/integration/test_polkit.py tests/integration/test_ctl_polkit.py \
    tests/integration/test_hostile_exec.py tests/integration/test_hostile_auth.py \
    tests/integration/test_archive.py tests/integration/test_export_snapshots.py tests/integration/test_progress.py
fi
fuzz_wait
finish
