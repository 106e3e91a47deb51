# shellcheck shell=bash
# bench/lib.sh - what every bench script that boots a test host begins with (run.sh, peers.sh, scale.sh):
# sourced after the script sets NAME (its test host's name). On top of tests/integration/lib.sh:
#
#   bench_init BUILD_DIR   lb_init (root, a -Dprefix=/usr meson build dir), and from here on the EXIT trap
#                          stops the test host (if booted), calls the script's bench_at_exit if it has
#                          one, and logs the run time and exit status (RC if the script set it to 1)
#   bench_boot             boot the test host NAME as the integration tests do (lb_boot), install the
#                          build, the lxcbusd drop-in (lb_dropin: LXCBUSD_EXTRA_ARGS...), start lxcbusd;
#                          logs the conditions
#   bench WHAT CMD...      run CMD inside: its SAMPLE and NOTE lines appended to $SAMPLES, the rest to
#                          stderr; a failure is fatal
#   bench_pair             the busybox pair that run.sh and peers.sh measure: instance benchb (through
#                          the bus) and the floor, container benchf in FLOOR_PATH (lxc-create, no daemon)
#   log MSG, die MSG, tx CMD...   a line on stderr; a fatal failure (with lxcbusd's journal once
#                          booted); CMD run inside the test host
#
# Sets SRC (the project), PY, T_START, BOOTED, RC; WARM (warm-up runs added to each measurement and
# dropped), FLOOR_PATH and FLOOR_CG (the floor's lxcpath and lxc.cgroup.dir).

# shellcheck source=../tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"
SRC=$LB_SRC
PY=/usr/bin/python3
T_START=$(date +%s)
BOOTED=0
RC=0
SAMPLES=""
WARM=2
FLOOR_PATH=/var/lib/lxcbench
FLOOR_CG=lxcbench
BENCH_PROG=$(basename "$0")

log() { echo "$BENCH_PROG: $(date +%T) $*" >&2; }
tx() { lb_exec "$NAME" "$@"; }

dump_journal() {
  echo "---- journalctl -u lxcbusd | tail -60 (inside the test host)" >&2
  tx sh -c 'journalctl -u lxcbusd --no-pager | tail -60' >&2 2>&1
}
die() { log "FAILURE: $*"; [ "$BOOTED" = 1 ] && dump_journal; exit 1; }

bench_finish() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [ "$rc" = 0 ] && rc=$RC
  declare -F bench_at_exit >/dev/null && bench_at_exit
  if [ "$BOOTED" = 1 ] || [ -d "${TH_BASE:-/run/lxcbus-testhost}/$NAME" ]; then
    "$LB_TH/th-stop" -n "$NAME" >&2 || { log "th-stop reported a problem (leftover processes or cgroups)"; rc=1; }
  fi
  log "done in $(( $(date +%s) - T_START ))s, exit status $rc"
  exit "$rc"
}

bench_init() {
  trap bench_finish EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP
  lb_init "$1" || die "cannot use the build directory $1"
}

bench_boot() {
  log "booting test host $NAME"
  BOOTED=1   # from here on bench_finish stops it (th-boot also tears down on failure)
  lb_boot "$NAME" >&2 || { BOOTED=0; die "th-boot failed"; }
  lb_install "$NAME" || die "installing into the test host failed"
  lb_dropin "$NAME" || die "lxcbusd drop-in failed"
  lb_start "$NAME" || die "lxcbusd did not start"
  log "lxcbusd is up (MainPID $(tx systemctl show -P MainPID lxcbusd.service)); conditions: $(nproc) CPUs," \
      "load $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_pair() {
  tx busctl --timeout=120 call org.lxcbus1 /org/lxcbus1 org.lxcbus1.Manager CreateInstance 'sa{sv}a{ss}a{sv}' \
    benchb 2 type s template template s busybox 0 0 >/dev/null || die "CreateInstance benchb failed"
  tx sh -euc 'mkdir -p "${2:?}" && lxc-create -t busybox -n "${1:?}" -P "$2" >/dev/null 2>&1' sh benchf "$FLOOR_PATH" \
    || die "lxc-create benchf failed"
  log "created instance benchb (bus) and container benchf in $FLOOR_PATH (floor)"
}

bench() {
  local what=$1; shift
  log "$what"
  tx "$@" > "$SAMPLES.part" || { cat "$SAMPLES.part" >&2; die "$what failed"; }
  grep -E '^(SAMPLE|NOTE) ' "$SAMPLES.part" >> "$SAMPLES"
  grep -vE '^(SAMPLE|NOTE) ' "$SAMPLES.part" >&2
  true
}
