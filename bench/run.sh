#!/bin/bash
# bench/run.sh BUILD_DIR
#
# Measures lxcbusd through the bus against the floor on the same machine, in one run, and prints a
# table per metric (median, p10, p90 of each side; ratio of medians bus/floor). Nothing is written
# into the tree.
#
# Everything runs inside a test host (tests/testhost/, real systemd + dbus + polkitd, see
# tests/integration/run.sh, which this follows): boot with the project (and build) directory bound
# read-write at the same path, `meson install` the build into the test host's /usr overlay, start
# lxcbusd.service, then run build/bench/bench-bus (sd-bus client) and build/bench/bench-lxc
# (liblxc, and the lxc-* commands) inside with th-exec -r. The test host is always stopped.
#
#   bus side:   instance "benchb" (CreateInstance, template busybox) in /var/lib/lxcbus; every start
#               makes the transient scope lxcbus-benchb.scope and forks a monitor worker.
#   floor side: container "benchf" (lxc-create -t busybox) in /var/lib/lxcbench, started by liblxc
#               directly (daemonized, until RUNNING and init pid known), lxc.cgroup.dir=lxcbench
#               (same knob as lxcbusd, which points it at the scope): NO systemd scope, no worker.
#   Both rootfs are on the test host's /var, a tmpfs.
#
# Runs as root. Needs the bench binaries: BUILD_DIR/bench/bench-{bus,lxc} (meson, once the
# top-level meson.build has subdir('bench')), or a directory given in LXCBENCH_BIN_DIR.
#
# Environment:
#   LXCBENCH_ITER       timed iterations per metric (default 20; 2 warm-up runs are added and dropped)
#   LXCBENCH_LIST_ITER  timed ListInstances / liblxc list iterations (default 300)
#   LXCBENCH_LS_ITER    timed `lxc-ls -f` iterations (default 30)
#   LXCBENCH_NLIST      instances/containers for the listing (default 200)
#   LXCBENCH_SHUTDOWN=0 skip the clean-shutdown metric (each sample takes a busybox shutdown)
#   LXCBENCH_EXEC_ITER  timed exec round trips per side (default: LXCBENCH_ITER, at least 20)
#   LXCBENCH_TPUT_ITER  timed 1 GiB exec transfers per side (default 3; 1 warm-up run is added)
#   LXCBENCH_AUTH_ITER  timed SetConfig calls as root and as a user polkit allows (default 200)
#   LXCBENCH_BIN_DIR    where bench-bus and bench-lxc are (default BUILD_DIR/bench)
#   LXCBENCH_TRANSFER_ITER  timed import/export/copy runs of the Debian rootfs (default 3)
#   LXCBENCH_RAW=FILE   also keep the raw samples in FILE
set -uo pipefail
# bench/run.sh --peers BUILD_DIR | --peers --report: lxcbus against liblxc, the lxc-* tools, podman and LXD
# in one test host (bench/peers.sh says how).
if [ "${1:-}" = --peers ]; then shift; exec "$(dirname "$(readlink -f "$0")")/peers.sh" "$@"; fi

# --scale BUILD_DIR [options]: 1000 instances, 100 running (bench/scale.sh, its own test host and report).
if [ "${1:-}" = --scale ]; then
  shift
  exec "$(dirname "$(readlink -f "$0")")/scale.sh" "$@"
fi

# --breakdown BUILD_DIR: Start, Stop, Exec, Freeze against liblxc, with the phases of each (bench/latency.sh).
if [ "${1:-}" = --breakdown ]; then
  shift
  exec "$(dirname "$(readlink -f "$0")")/latency.sh" "$@"
fi

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
NAME=bench$$
. "$HERE/lib.sh"
ITER=${LXCBENCH_ITER:-20}
LIST_ITER=${LXCBENCH_LIST_ITER:-300}
LS_ITER=${LXCBENCH_LS_ITER:-30}
NLIST=${LXCBENCH_NLIST:-200}
EXEC_ITER=${LXCBENCH_EXEC_ITER:-$(( ITER < 20 ? 20 : ITER ))}
TPUT_ITER=${LXCBENCH_TPUT_ITER:-3}
AUTH_ITER=${LXCBENCH_AUTH_ITER:-200}

# The samples: kept in LXCBENCH_RAW if asked, removed at exit.
bench_at_exit() {
  [ -n "${LXCBENCH_RAW:-}" ] && [ -n "$SAMPLES" ] && cp "$SAMPLES" "$LXCBENCH_RAW"
  [ -n "$SAMPLES" ] && rm -f "$SAMPLES" "$SAMPLES.part"
  true
}

# ---- arguments -----------------------------------------------------------------
case ${1:-} in -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0;; esac
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
bench_init "$1"
BUILD=$LB_BUILD
BIN=$(readlink -f "${LXCBENCH_BIN_DIR:-$BUILD/bench}")
for b in bench-bus bench-lxc; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: add subdir('bench') to meson.build and rebuild, or set LXCBENCH_BIN_DIR"
done

# Samples (kept outside /tmp: see tests/testhost/README.md on host snapshots), removed at exit.
SAMPLES=$BUILD/.lxcbench-samples.$$
: > "$SAMPLES" || die "cannot write $SAMPLES"

# LXCBENCH_BIN_DIR may lie outside what lb_init binds (the project, the build dir and its source).
case $BIN in *[[:space:]:]*) die "path with whitespace or ':' is not supported: $BIN";; esac
covered=0
for spec in "$SRC" "$BUILD" "${LB_BINDS[@]}"; do
  case $BIN in "${spec%%:*}"|"${spec%%:*}"/*) covered=1;; esac
done
[ "$covered" = 1 ] || LB_BINDS+=(-b "$BIN:$BIN:rw")

# ---- boot, install, start the daemon -------------------------------------------------
# The test host of the integration tests (lb_boot's units): lxc-net too, which an instance's default
# network.bridge (lxcbr0) needs since lxcbusd.service wants it (without it no Start succeeds), and
# machined, which every Start registers with (asynchronously), as on a real host.
bench_boot

# ---- the two busybox containers --------------------------------------------------------
bench_pair

# ---- measurements ------------------------------------------------------------------
bench "start/stop-kill: bus"          "$BIN/bench-bus" startstop benchb "$ITER" "$WARM"
bench "start/stop-kill: liblxc"       "$BIN/bench-lxc" startstop "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG"
bench "start/stop-kill: lxc-* cmds"   "$BIN/bench-lxc" cli "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG"
bench "freeze/unfreeze: bus"          "$BIN/bench-bus" freeze benchb "$ITER" "$WARM"
# liblxc waits for a v1 freezer without a bound and without a retry: it has been seen to hang here
# for good (a task caught in vfork). Bound it, say so, thaw, and go on.
if ! tx timeout 120 "$BIN/bench-lxc" freeze "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG" > "$SAMPLES.part"; then
  log "freeze/unfreeze: liblxc HUNG (no result within 120 s); thawing the floor container"
  tx sh -c 'for f in /sys/fs/cgroup/freezer/"${1:?}"/lxc.payload.*/freezer.state; do [ -e "$f" ] && echo THAWED > "$f"; done' \
    sh "$FLOOR_CG" || true
  tx lxc-stop -k -P "$FLOOR_PATH" -n benchf >/dev/null 2>&1 || true
else
  grep '^SAMPLE ' "$SAMPLES.part" >> "$SAMPLES"
  grep -v '^SAMPLE ' "$SAMPLES.part" >&2
fi
bench "bare systemd scope start/stop" "$BIN/bench-bus" scope "$ITER" "$WARM"
bench "start/stop breakdown (async Start/Stop + signals)" "$BIN/bench-bus" breakdown benchb "$ITER" "$WARM"
JOURNAL_EXCERPT=$(tx sh -c 'journalctl -u lxcbusd -o short-precise --no-pager | grep -E "benchb" | tail -6' 2>&1)
if [ "${LXCBENCH_SHUTDOWN:-1}" = 1 ]; then
  bench "clean stop: bus"             "$BIN/bench-bus" shutdown benchb "$ITER" "$WARM"
  # Services in the test host (lxcbusd, so its containers) lack CAP_SYS_BOOT (tests/testhost/README.md,
  # "What the test host looks like"). Without it busybox init's reboot() fails and it sleeps one more
  # second before it exits: give the floor's containers the same bounding set, or the clean stops are
  # not comparable.
  bench "clean stop: liblxc"          setpriv --bounding-set -sys_boot -- \
                                      "$BIN/bench-lxc" shutdown "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG"
  bench "clean stop breakdown (5 runs)" "$BIN/bench-bus" breakdown-clean benchb 5 1
fi
# Exec: a command in the running container. bus: Instance.Exec (stdio fds passed over the bus, a
# worker attaches) + Process.Wait; floor: liblxc attach_run_wait in this process, and lxc-attach.
# Throughput: `dd if=/dev/zero bs=1M count=1024` (busybox head copies a byte at a time) in the container into a pipe read by the bench: the data never
# passes through lxcbusd, so only the setup should differ.
bench "exec true: bus"                "$BIN/bench-bus" exec benchb "$EXEC_ITER" "$WARM"
bench "exec true: liblxc attach"      "$BIN/bench-lxc" attach "$FLOOR_PATH" benchf "$EXEC_ITER" "$WARM" "$FLOOR_CG"
bench "exec true: lxc-attach"         "$BIN/bench-lxc" lxc-attach "$FLOOR_PATH" benchf "$EXEC_ITER" "$WARM" "$FLOOR_CG"
bench "exec throughput: bus"          "$BIN/bench-bus" exec-throughput benchb "$TPUT_ITER" 1
bench "exec throughput: liblxc attach" "$BIN/bench-lxc" attach-throughput "$FLOOR_PATH" benchf "$TPUT_ITER" 1 "$FLOOR_CG"
if tx sh -c 'command -v podman' >/dev/null 2>&1; then
  PODMAN="podman is installed in the test host but not measured (no podman image here)"
else
  PODMAN="podman is not installed (test host$(command -v podman >/dev/null 2>&1 || echo ' and this machine')): no podman exec figures"
fi

# Authorization: the same SetConfig as root (never asks polkit) and as a user a JS rule allows (one
# CheckAuthorization round trip through polkitd per call), and CheckAuthorization alone, straight
# to polkitd, as the floor of the polkit path. Side "bus" is the polkit one.
tx useradd -M lxbench || die "useradd lxbench failed"
tx sh -c 'cat > /etc/polkit-1/rules.d/50-lxbench.rules' <<'EOR' || die "cannot write the polkit rule"
polkit.addRule(function(action, subject) {
        if (action.id == "org.lxcbus1.config" && subject.user == "lxbench")
                return polkit.Result.YES;
});
EOR
sleep 1   # polkitd reloads rules on the directory change
bench "setconfig: root"               "$BIN/bench-bus" authcall benchb "$AUTH_ITER" "$WARM" root
bench "setconfig: user via polkit"    setpriv --reuid=lxbench --regid=lxbench --clear-groups -- \
                                      "$BIN/bench-bus" authcall benchb "$AUTH_ITER" "$WARM" bus
bench "setconfig: polkitd alone"     setpriv --reuid=lxbench --regid=lxbench --clear-groups -- \
                                      "$BIN/bench-bus" pkcheck "$AUTH_ITER" "$WARM"

log "defining $NLIST instances (bus, source none) and $NLIST containers (floor, config only)"
tx "$BIN/bench-bus" mklist lb "$NLIST" || die "bench-bus mklist failed"
tx "$BIN/bench-lxc" mklist "$FLOOR_PATH" lb "$NLIST" || die "bench-lxc mklist failed"
bench "list: bus ListInstances"       "$BIN/bench-bus" list "$LIST_ITER" "$WARM" "$NLIST"
bench "list: liblxc"                  "$BIN/bench-lxc" list "$FLOOR_PATH" "$LIST_ITER" "$WARM"
bench "list: lxc-ls -f"               "$BIN/bench-lxc" lxcls "$FLOOR_PATH" "$LS_ITER" "$WARM"

# An instance's data (bench/transfer.py): import, export and copy of the Debian rootfs that
# tests/debian/rootfs.sh builds, against tar and cp -a on the same tree, and a copy of the busybox
# instance against lxc-copy of the busybox container. Skipped without that tarball.
DEB_TARBALL=$SRC/tests/debian/cache/debian-12-minbase.tar
if [ -s "$DEB_TARBALL" ]; then
  tx busctl --timeout=120 call org.lxcbus1 /org/lxcbus1/instance/benchb org.lxcbus1.Instance Stop 'a{sv}' \
    1 timeout-sec u 0 >/dev/null || die "Stop benchb failed"
  tx lxc-stop -k -P "$FLOOR_PATH" -n benchf >/dev/null 2>&1 || true
  bench "import/export/copy: bus, tar, cp -a, lxc-copy" "$PY" "$SRC/bench/transfer.py" "$DEB_TARBALL" \
    "${LXCBENCH_TRANSFER_ITER:-3}" "$FLOOR_PATH" benchf
else
  log "no $DEB_TARBALL (tests/debian/rootfs.sh makes it): no import/export/copy figures"
fi

# ---- cleanup and checks inside -------------------------------------------------------------
log "cleanup"
tx "$BIN/bench-bus" rmlist lb "$NLIST" || die "bench-bus rmlist failed"
tx busctl --timeout=120 call org.lxcbus1 /org/lxcbus1/instance/benchb org.lxcbus1.Instance Delete 'a{sv}' \
  1 force b true >/dev/null || die "Delete benchb failed"
running=$(tx lxc-ls --running -P "$FLOOR_PATH" 2>&1)
[ -z "$running" ] || die "floor containers still running: $running"
# Scripts for inside are single-quoted with their values as arguments (never expanded into the
# script text), and refuse empty values: a path that expanded to nothing once made a cleanup
# `find` start from the test host's / (which holds the rw-bound project directory).
tx sh -euc 'lxc-destroy -n "${1:?}" -P "${2:?}" >/dev/null
            case $2 in /var/lib/?*) rm -rf --one-file-system -- "$2";; *) exit 1;; esac' \
  sh benchf "$FLOOR_PATH" || die "removing $FLOOR_PATH failed"
# The floor's cgroups: <hierarchy>/lxcbench/{lxc.pivot,...} (liblxc leaves lxc.pivot behind).
tx sh -euc 'cg=${1:?}
            for d in /sys/fs/cgroup/*/"$cg"; do
              case $d in /sys/fs/cgroup/?*/?*) ;; *) exit 1;; esac
              [ -d "$d" ] || continue
              find "$d" -xdev -depth -type d -exec rmdir -- {} +
            done' sh "$FLOOR_CG" || log "warning: removing the floor's cgroups failed"
left=$(tx sh -c 'ls -d /sys/fs/cgroup/*/"${1:?}" /sys/fs/cgroup/*/machine.slice/lxcbus-* 2>/dev/null' sh "$FLOOR_CG")
[ -z "$left" ] || log "warning: cgroups left inside the test host: $left"
n=$(tx busctl call org.lxcbus1 /org/lxcbus1 org.lxcbus1.Manager ListInstances | awk '{print $2}')
[ "$n" = 0 ] || log "warning: $n instances left in lxcbusd"
state=$(tx systemctl show -P ActiveState lxcbusd.service)
[ "$state" = active ] || log "warning: lxcbusd.service is $state"

# ---- report ----------------------------------------------------------------------------------
"$PY" - "$SAMPLES" "$ITER" "$WARM" "${PODMAN:-}" <<'EOF'
import sys, collections
path, it, warm, podman = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data = collections.OrderedDict()
for line in open(path):
    f = line.split()
    if len(f) != 4 or f[0] != 'SAMPLE':
        continue
    data.setdefault(f[1], collections.OrderedDict()).setdefault(f[2], []).append(int(f[3]))

def q(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p
    lo = int(k); hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

def ms(us):
    return '%9.3f' % (us / 1000.0)

print()
print('lxcbus benchmark: lxcbusd through the bus vs the floor, same machine, inside one test host')
print('times in ms; median/p10/p90 over the timed runs (warm-up: %s runs dropped); ratio = median(bus) / median(floor)' % warm)
print('floor: liblxc (or lxc-* commands) on %s with lxc.cgroup.dir=lxcbench, WITHOUT a systemd scope or worker;' % '/var/lib/lxcbench')
print('bus: sd-bus client, synchronous calls; Start replies when running, scope included.')
order = ['start', 'stop-kill', 'stop-clean', 'freeze+unfreeze', 'freeze', 'unfreeze', 'list', 'setconfig']
EXEC, TPUT = 'exec(true)', 'exec-throughput(1GiB)'
metrics = [m for m in order if m in data] + [m for m in data if m not in order and m not in (EXEC, TPUT)]
for m in metrics:
    sides = data[m]
    print()
    print('== %s' % m)
    if m == 'setconfig':
        print('   Instance.SetConfig; bus: a non-root user a polkit rule allows (a CheckAuthorization per call);')
        print('   root: the same call as root, which never asks polkit;')
        print('   polkitd: CheckAuthorization alone, from that user straight to polkitd (the floor of side bus)')
    print('  %-16s %5s %9s %9s %9s   %s' % ('side', 'n', 'median', 'p10', 'p90', 'ratio'))
    bus = sides.get('bus')
    for s, v in sides.items():
        med = q(v, 0.5)
        ratio = ''
        if s != 'bus' and bus and med > 0:
            ratio = 'bus/%s = %.2fx' % (s, q(bus, 0.5) / med)
        print('  %-16s %5d %s %s %s   %s' % (s, len(v), ms(med), ms(q(v, 0.1)), ms(q(v, 0.9)), ratio))

# Exec: a section of its own (the floor has two sides, and throughput is in MiB/s).
print()
print('== exec: `true` in the running container, from the call to its exit status (ms)')
print('   bus: Instance.Exec (stdio /dev/null) + Process.Wait; liblxc: attach_run_wait in the bench;')
print('   lxc-attach: fork/exec `lxc-attach -P PATH -n NAME -- true`')
if EXEC in data:
    sides = data[EXEC]
    bus = sides.get('bus')
    print('  %-16s %5s %9s %9s %9s   %s' % ('side', 'n', 'median', 'p10', 'p90', 'ratio'))
    for s, v in sides.items():
        med = q(v, 0.5)
        ratio = 'bus/%s = %.2fx' % (s, q(bus, 0.5) / med) if s != 'bus' and bus and med > 0 else ''
        print('  %-16s %5d %s %s %s   %s' % (s, len(v), ms(med), ms(q(v, 0.1)), ms(q(v, 0.9)), ratio))
else:
    print('  (no samples)')
print()
print('== exec throughput: `dd if=/dev/zero bs=1048576 count=1024` in the container, stdout a pipe the bench reads (MiB/s)')
print('   1 GiB over the time from the call to the exit status with every byte read; higher is better')
if TPUT in data:
    sides = data[TPUT]
    bus = sides.get('bus')

    def mibs(us):
        return 1024.0 / (us / 1e6)
    print('  %-16s %5s %9s %9s %9s   %s' % ('side', 'n', 'median', 'min', 'max', 'ratio'))
    for s, v in sides.items():
        med = mibs(q(v, 0.5))
        ratio = 'bus/%s = %.2fx' % (s, mibs(q(bus, 0.5)) / med) if s != 'bus' and bus else ''
        print('  %-16s %5d %9.0f %9.0f %9.0f   %s' % (s, len(v), med, mibs(max(v)), mibs(min(v)), ratio))
else:
    print('  (no samples)')
if podman:
    print('  ' + podman)
EOF
echo
echo "journal excerpt (lxcbusd, last start/stop of the breakdown, short-precise):"
printf '%s\n' "$JOURNAL_EXCERPT" | sed 's/^/  /'
exit 0
