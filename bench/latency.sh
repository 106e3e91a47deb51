#!/bin/bash
# bench/latency.sh BUILD_DIR   (also: bench/run.sh --breakdown BUILD_DIR)
#
# Latency of Start, Stop (kill), Exec `true` and Freeze+Unfreeze through the bus, as ratios to the raw
# liblxc floor measured in the same test host and the same run (issue 15, item 1), and where the time
# of each goes: a table per operation of its phases (median ms, share of the call's median).
#
# The test host is booted as the integration tests boot it (bench/lib.sh, bench_boot), and lxcbusd.service
# restarted with LXCBUS_TRACE=/run/lxcbus-trace (src/lib/trace.h): the
# daemon and its workers then append a time-stamped line per phase (start-begin, scope-ready,
# worker-ready, hook-running, init-execed, op-finished, ...). bench-bus and bench-lxc (bench/run.sh
# describes both sides) run alternately in LXCBENCH_ROUNDS rounds, so that a change of the machine's
# load hits both sides alike; bench/latency.py pairs the trace with the samples and prints the tables.
# The test host is always stopped.
#
# Environment:
#   LXCBENCH_ITER      timed iterations per metric and side (default 24, at least 20 for the report)
#   LXCBENCH_ROUNDS    rounds the iterations are split into, alternating bus and floor (default 3)
#   LXCBENCH_PACED_MS  then start, stop and exec again with this pause before each call, outside the
#                      trace (default 40; 0: not): a table of their ratios (see "paced" in bench/README.md)
#   LXCBENCH_RAW=DIR   keep the samples and the trace in DIR
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
NAME=lat$$
. "$HERE/lib.sh"
ITER=${LXCBENCH_ITER:-24}
ROUNDS=${LXCBENCH_ROUNDS:-3}
PACED=${LXCBENCH_PACED_MS:-40}
TRACE=/run/lxcbus-trace
OUT=""
PACED_ARGS=""

# The samples and the trace: kept in LXCBENCH_RAW if asked, removed at exit.
bench_at_exit() {
  if [ -n "$OUT" ]; then
    [ -n "${LXCBENCH_RAW:-}" ] && mkdir -p "$LXCBENCH_RAW" && cp "$OUT"/* "$LXCBENCH_RAW"/
    rm -rf "$OUT"
  fi
  true
}

case ${1:-} in -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0;; esac
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
bench_init "$1"
BIN=$LB_BUILD/bench
for b in bench-bus bench-lxc; do [ -x "$BIN/$b" ] || die "$BIN/$b missing: build it first"; done
[ "$ITER" -ge "$ROUNDS" ] || die "LXCBENCH_ITER ($ITER) must be at least LXCBENCH_ROUNDS ($ROUNDS)"
PER=$(( (ITER + ROUNDS - 1) / ROUNDS ))
# Kept outside /tmp (tests/testhost/README.md: host snapshots) and inside the build dir, which the
# test host has bound at the same path.
OUT=$(mktemp -d "$LB_BUILD/.latency.XXXXXX") || die "cannot make a directory in $LB_BUILD"

bench_boot
printf '[Service]\nEnvironment=LXCBUS_TRACE=%s\n' "$TRACE" | tx sh -c \
  'cat > /etc/systemd/system/lxcbusd.service.d/60-lxcbus-trace.conf && systemctl daemon-reload &&
   systemctl restart lxcbusd.service' || die "trace drop-in failed"
lb_start "$NAME" || die "lxcbusd did not come back with the trace on"

# network.mode=none: loopback only, as the floor's container has (lxc-create -t busybox here): a veth on a
# bridge costs both sides alike, at the start and even more at the stop (its deletion).
tx busctl --timeout=120 call org.lxcbus1 /org/lxcbus1 org.lxcbus1.Manager CreateInstance 'sa{sv}a{ss}a{sv}' \
  benchb 2 type s template template s busybox 1 network.mode none 0 >/dev/null || die "CreateInstance benchb failed"
tx sh -euc 'mkdir -p "${2:?}" && lxc-create -t busybox -n "${1:?}" -P "$2" >/dev/null 2>&1' sh benchf "$FLOOR_PATH" \
  || die "lxc-create benchf failed"

SAMPLES=$OUT/samples
: > "$SAMPLES"
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r of $ROUNDS: $PER iterations per metric and side"
  bench "bus: start, stop" "$BIN/bench-bus" startstop benchb "$PER" 1
  bench "floor: start, stop" "$BIN/bench-lxc" startstop "$FLOOR_PATH" benchf "$PER" 1 "$FLOOR_CG"
  bench "bus: freeze, unfreeze" "$BIN/bench-bus" freeze benchb "$PER" 1
  # bench/run.sh: liblxc's v1 freezer wait has been seen to hang for good (a task caught in vfork).
  # Bound it, say so, thaw the floor and go on without that round's floor samples.
  if ! tx timeout 60 "$BIN/bench-lxc" freeze "$FLOOR_PATH" benchf "$PER" 1 "$FLOOR_CG" > "$SAMPLES.part"; then
    log "freeze/unfreeze: liblxc HUNG (no result within 60 s); thawing the floor container, round $r dropped"
    tx sh -c 'for f in /sys/fs/cgroup/freezer/"${1:?}"/lxc.payload.*/freezer.state; do
                [ -e "$f" ] && echo THAWED > "$f"; done' sh "$FLOOR_CG" || true
    tx lxc-stop -k -P "$FLOOR_PATH" -n benchf >/dev/null 2>&1 || true
  else
    grep '^SAMPLE ' "$SAMPLES.part" >> "$SAMPLES"
  fi
  bench "bus: exec" "$BIN/bench-bus" exec benchb "$PER" 1
  bench "floor: attach" "$BIN/bench-lxc" attach "$FLOOR_PATH" benchf "$PER" 1 "$FLOOR_CG"
done
tx cat "$TRACE" > "$OUT/trace" || die "no trace in $TRACE: is lxcbusd built with src/lib/trace.c?"

# Paced: the same start, stop and exec with LXCBENCH_PACED_MS between the calls (bench-util.h, bench_gap()).
# Back to back, the floor's loop moves a process into a v1 cgroup every 2 to 4 ms, and such a move
# within about 15 ms of the last one is cheap; after a longer pause it waits for an RCU grace period
# (7 to 15 ms here), as a call that comes alone does on either side (bench/README.md, Latency).
if [ "$PACED" -gt 0 ]; then
  PACED_ARGS=1
  SAMPLES=$OUT/paced
  : > "$SAMPLES"
  for ((r = 1; r <= ROUNDS; r++)); do
    log "paced round $r of $ROUNDS: $PACED ms before each call"
    bench "bus: start, stop (paced)" env LXCBENCH_GAP_MS="$PACED" "$BIN/bench-bus" startstop benchb "$PER" 1
    bench "floor: start, stop (paced)" env LXCBENCH_GAP_MS="$PACED" \
      "$BIN/bench-lxc" startstop "$FLOOR_PATH" benchf "$PER" 1 "$FLOOR_CG"
    bench "bus: exec (paced)" env LXCBENCH_GAP_MS="$PACED" "$BIN/bench-bus" exec benchb "$PER" 1
    bench "floor: attach (paced)" env LXCBENCH_GAP_MS="$PACED" \
      "$BIN/bench-lxc" attach "$FLOOR_PATH" benchf "$PER" 1 "$FLOOR_CG"
  done
fi

# The floor's cgroups stay behind in the v1 hierarchies (liblxc leaves lxc.pivot): remove them, as
# bench/run.sh does, so that th-stop finds nothing left. Values are arguments, never script text.
tx busctl --timeout=120 call org.lxcbus1 /org/lxcbus1/instance/benchb org.lxcbus1.Instance Delete 'a{sv}' \
  1 force b true >/dev/null || log "warning: Delete benchb failed"
tx sh -euc 'lxc-destroy -n "${1:?}" -P "${2:?}" >/dev/null 2>&1 || true
            for d in /sys/fs/cgroup/*/"${3:?}"; do
              case $d in /sys/fs/cgroup/?*/?*) ;; *) exit 1;; esac
              [ -d "$d" ] || continue
              find "$d" -xdev -depth -type d -exec rmdir -- {} +
            done' sh benchf "$FLOOR_PATH" "$FLOOR_CG" || log "warning: removing the floor failed"

"$PY" "$HERE/latency.py" "$OUT/samples" "$OUT/trace" ${PACED_ARGS:+"$OUT/paced" "$PACED"} \
  || die "latency.py failed"
echo
echo "conditions: $(nproc) CPUs shared with other work, load at the end $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$ROUNDS rounds of $PER iterations (1 warm-up each) per side"
exit 0
