#!/bin/bash
# bench/peers.sh: `bench/run.sh --peers BUILD_DIR` and `bench/run.sh --peers --report`
#
# lxcbus against the peers a user would pick instead, on the same machine in the same run, inside one
# test host (tests/testhost/, booted as tests/integration/run.sh does, with the build installed and
# lxcbusd running): start, stop (kill), exec `true`, and listing NLIST instances, for
#
#   lxcbus       through the bus (build/bench/bench-bus, sd-bus client, as bench/run.sh)
#   liblxc       raw liblxc, no scope, no worker (build/bench/bench-lxc, the floor of bench/run.sh)
#   lxc-* tools  lxc-start + lxc-wait, lxc-stop -k, lxc-attach, lxc-ls -f (bench-lxc)
#   podman       its CLI, a container made with `--rootfs` from the same busybox rootfs (bench/peers.py)
#   LXD          its REST API through /var/lib/lxd/unix.socket, from Python in-process (bench/peers.py),
#                an instance from a local image made of that rootfs; storage pool `dir`, no network;
#                measured twice: without lxcfs, then with lxcfs running (LXD adds its hooks then)
#
# All containers are privileged (lxcbus's and liblxc's busybox are; LXD gets security.privileged=true,
# podman runs rootful without a user namespace) and have no network device (podman --network none,
# LXD no nic; lxcbus and liblxc: what the busybox template gives in the test host).
#
# Installs what is missing on this machine with apt (podman, lxd, python3-matplotlib; says so on
# stderr); never under CI. The raw samples go to bench/peers-samples.txt, then the report runs: the
# table on stdout, docs/bench-peers.svg, and the table in bench/README.md. `--report` redoes only the
# report from the samples file. LXCPEERS_SAMPLES=FILE keeps the samples in FILE instead, and the
# report then only prints the table (a trial run leaves the committed figures alone).
#
# Environment: LXCPEERS_ITER (timed runs per operation, default 20; exec at least 20; 2 warm-up runs
# are added and dropped), LXCPEERS_NLIST (instances listed, default 50).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
NAME=peers$$
. "$HERE/lib.sh"
ITER=${LXCPEERS_ITER:-20}
NLIST=${LXCPEERS_NLIST:-50}
OUT=${LXCPEERS_SAMPLES:-$HERE/peers-samples.txt}
SVG=$SRC/docs/bench-peers.svg
README=$HERE/README.md
WORK=/var/lib/lxcpeers

usage() { echo "usage: bench/run.sh --peers BUILD_DIR | bench/run.sh --peers --report" >&2; exit 2; }

report() {
  if [ -n "${LXCPEERS_SAMPLES:-}" ]; then
    "$PY" "$HERE/peers.py" report "$OUT"
  else
    "$PY" "$HERE/peers.py" report "$OUT" "$SVG" "$README"
  fi
}

# What the run needs on this machine; the test host sees the host's /usr, so it has them too.
need_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  [ -n "${CI:-}" ] && die "missing packages (${missing[*]}); not installed under CI"
  log "installing with apt-get: ${missing[*]} (apt-get update first; no service is started on this machine)"
  apt-get update >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}

case ${1:-} in
  --report) [ $# = 1 ] || usage; need_packages python3-matplotlib; report; exit;;
  ''|-*) usage;;
esac
[ $# = 1 ] || usage
bench_init "$1"
need_packages podman lxd python3-matplotlib
BIN=$LB_BUILD/bench
for b in bench-bus bench-lxc; do [ -x "$BIN/$b" ] || die "$BIN/$b missing: build first"; done

# LXD's and lxcfs's units inside, and the samples (copied to OUT at the end).
bench_at_exit() {
  [ "$BOOTED" = 1 ] && tx sh -c 'systemctl stop peers-lxd.service peers-lxcfs.service' >/dev/null 2>&1
  [ -n "$SAMPLES" ] && rm -f "$SAMPLES" "$SAMPLES.part" "$SAMPLES.err"
  true
}
note() { echo "NOTE $*" >> "$SAMPLES"; }

SAMPLES=$LB_BUILD/.lxcpeers-samples.$$
: > "$SAMPLES" || die "cannot write $SAMPLES"

bench_boot

note "date $(date -u '+%F %H:%M UTC'); $(nproc) cpus; kernel $(uname -r); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
note "versions: lxc $(tx lxc-start --version 2>&1), $(tx podman --version 2>&1), crun $(tx crun --version 2>&1 | head -1 | awk '{print $3}'), lxd $(tx lxd --version 2>&1)"
note "iterations: $ITER timed (exec: at least 20) after $WARM warm-up runs; listing: $NLIST instances"
# lxcfs (a dependency of Debian's lxd) ships common.conf.d/00-lxcfs.conf: a mount hook, and a post-stop
# hook that sleeps 0.5 s, for every container that includes LXC's common.conf.d (LXD always does; the
# busybox template does not). The test host's /usr is an overlay: set it aside there (the host keeps
# it), so that everything runs as without lxcfs installed, and bring it back for "LXD+lxcfs" only.
CONFD=/usr/share/lxc/config/common.conf.d
tx sh -c 'cd "${1:?}" 2>/dev/null || exit 0; for f in *.conf; do [ -e "$f" ] && mv "$f" "$f.peers-off"; done; true' \
  sh "$CONFD" || die "setting aside $CONFD/*.conf failed"

# ---- lxcbus and liblxc (the busybox containers of bench/run.sh) -------------------------------
bench_pair
bench "lxcbus: start/stop"      "$BIN/bench-bus" startstop benchb "$ITER" "$WARM"
bench "lxcbus: exec true"       "$BIN/bench-bus" exec benchb "$(( ITER < 20 ? 20 : ITER ))" "$WARM"
bench "liblxc: start/stop"      "$BIN/bench-lxc" startstop "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG"
bench "lxc-*: start/stop"       "$BIN/bench-lxc" cli "$FLOOR_PATH" benchf "$ITER" "$WARM" "$FLOOR_CG"
bench "liblxc: exec true"       "$BIN/bench-lxc" attach "$FLOOR_PATH" benchf "$(( ITER < 20 ? 20 : ITER ))" "$WARM" "$FLOOR_CG"
bench "lxc-attach: exec true"   "$BIN/bench-lxc" lxc-attach "$FLOOR_PATH" benchf "$(( ITER < 20 ? 20 : ITER ))" "$WARM" "$FLOOR_CG"
# NLIST in all: the benchmark's own container and NLIST-1 more (config only, or an empty instance).
tx "$BIN/bench-bus" mklist lb "$(( NLIST - 1 ))" || die "bench-bus mklist failed"
tx "$BIN/bench-lxc" mklist "$FLOOR_PATH" lb "$(( NLIST - 1 ))" || die "bench-lxc mklist failed"
bench "lxcbus: ListInstances"   "$BIN/bench-bus" list "$ITER" "$WARM" "$NLIST"
bench "liblxc: list"            "$BIN/bench-lxc" list "$FLOOR_PATH" "$ITER" "$WARM"
bench "lxc-ls -f"               "$BIN/bench-lxc" lxcls "$FLOOR_PATH" "$ITER" "$WARM"
net=$(tx sh -c 'grep "^lxc.net.0.type" "${1:?}/benchf/config"' sh "$FLOOR_PATH" 2>/dev/null)
note "lxcbus and liblxc: busybox template, privileged; liblxc's network: ${net:-none configured}"

# ---- the peers' rootfs: the floor's busybox rootfs (static busybox), copied ------------------------
# Its inittab keeps only the sysinit line: podman and LXD give the container no tty1, and busybox init
# would respawn `getty tty1` (and the console's shell) without pause; lxc gives lxcbus and the floor
# their ttys (lxc.tty.max), so those gettys wait there.
tx sh -euc 'rm -rf "${1:?}" && mkdir -p "$1/image" && cp -a "${2:?}/benchf/rootfs" "$1/rootfs" &&
            echo "::sysinit:/etc/init.d/rcS" > "$1/rootfs/etc/inittab" &&
            cp -a "$1/rootfs" "$1/image/rootfs" &&
            printf "architecture: x86_64\ncreation_date: %s\nproperties:\n  os: busybox\n  description: busybox (lxc-create -t busybox)\n" \
              "$(date +%s)" > "$1/image/metadata.yaml" &&
            tar -C "$1/image" -czf "$1/busybox.tar.gz" metadata.yaml rootfs && rm -rf "$1/image"' \
  sh "$WORK" "$FLOOR_PATH" || die "making the peers' rootfs and image failed"

# ---- podman -----------------------------------------------------------------------------------
if tx podman info >/dev/null 2>"$SAMPLES.err"; then
  note "podman: $(tx podman info --format 'runtime {{.Host.OCIRuntime.Name}}, cgroup manager {{.Host.CgroupManager}}, cgroups {{.Host.CgroupsVersion}}, storage {{.Store.GraphDriverName}}, events {{.Host.EventLogger}}' 2>&1)"
  bench "podman: start/stop, exec true, ps -a" "$PY" "$HERE/peers.py" podman "$WORK/rootfs" "$ITER" "$WARM" "$NLIST"
else
  log "podman does not run in the test host: $(tail -3 "$SAMPLES.err")"
  note "podman did not run: $(tail -1 "$SAMPLES.err")"
fi

# ---- LXD, without lxcfs, then with it --------------------------------------------------------------
# lxd.service is masked in the test host (and Requires lxcfs.service): run the daemon as a transient
# unit of its own, as the packaged unit does (same arguments).
lxd_up() {
  tx systemd-run --quiet --unit=peers-lxd -p KillMode=process -p LimitNOFILE=1048576 \
    /usr/bin/lxd --group lxd --logfile=/var/log/lxd/lxd.log >/dev/null || return 1
  tx timeout 120 lxd waitready --timeout=100
}
lxd_down() {
  tx timeout 120 lxd shutdown --timeout=100 >/dev/null 2>&1
  tx systemctl stop peers-lxd.service >/dev/null 2>&1
  tx systemctl reset-failed peers-lxd.service >/dev/null 2>&1
  true
}
lxd_setup() {
  tx mkdir -p /var/log/lxd &&
  lxd_up &&
  printf '%s\n' 'config: {}' 'storage_pools:' '- name: default' '  driver: dir' 'profiles:' '- name: default' \
    '  config:' '    security.privileged: "true"' '  devices:' '    root:' '      path: /' '      pool: default' \
    '      type: disk' | tx lxd init --preseed &&
  tx lxc image import "$WORK/busybox.tar.gz" --alias busybox >/dev/null &&
  tx lxc init busybox peerl >/dev/null
}
if lxd_setup 2>"$SAMPLES.err"; then
  bench "LXD (no lxcfs): start/stop, exec true, list" "$PY" "$HERE/peers.py" lxd lxd "$ITER" "$WARM" "$NLIST"
  lxd_down
  # lxcfs is a FUSE file system: the test host's /dev has no fuse node (make it, as udev would).
  tx sh -c '[ -c /dev/fuse ] || mknod -m 666 /dev/fuse c 10 229' 2>"$SAMPLES.err"
  tx sh -c 'cd "${1:?}" 2>/dev/null || exit 0; for f in *.conf.peers-off; do [ -e "$f" ] && mv "$f" "${f%.peers-off}"; done; true' \
    sh "$CONFD" || die "restoring $CONFD failed"
  if tx mkdir -p /var/lib/lxcfs && tx systemd-run --quiet --unit=peers-lxcfs /usr/bin/lxcfs /var/lib/lxcfs \
     && tx sh -c 'for i in $(seq 50); do mountpoint -q /var/lib/lxcfs && exit 0; sleep 0.1; done; exit 1' 2>>"$SAMPLES.err"; then
    lxd_up 2>>"$SAMPLES.err" || die "LXD did not start again with lxcfs: $(tail -3 "$SAMPLES.err")"
    bench "LXD (with lxcfs): start/stop, exec true, list" "$PY" "$HERE/peers.py" lxd lxd+lxcfs "$ITER" "$WARM" "$NLIST"
    hooks=$(tx sh -c '{ grep -hE "^lxc\.(hook|include)|lxcfs" /var/log/lxd/peerl/lxc.conf; cat "${1:?}"/*.conf; } |
                       sed "s/ *= */=/" | tr "\n" " "' sh "$CONFD")
    note "LXD with lxcfs: the hooks and lxcfs lines of its lxc.conf: ${hooks:-none}"
    lxd_down
  else
    why=$(tx journalctl -u peers-lxcfs --no-pager -n 5 2>&1 | tail -3; tail -2 "$SAMPLES.err")
    log "lxcfs does not run in the test host: $why"
    note "LXD with lxcfs did not run: lxcfs did not mount: $(echo "$why" | tail -1)"
  fi
else
  log "LXD does not run in the test host: $(tail -5 "$SAMPLES.err")"
  tx sh -c 'tail -20 /var/log/lxd/lxd.log' >&2 2>&1
  note "LXD did not run: $(tail -1 "$SAMPLES.err")"
  lxd_down
fi

note "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$SAMPLES" "$OUT" || die "cannot write $OUT"
log "raw samples in $OUT"
report
