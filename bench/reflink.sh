#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/reflink.sh BUILD_DIR [ITER]: the copy of an instance's tree where the file system has reflinks.
#
# On a loop-mounted XFS (mkfs.xfs -m reflink=1; the test host's /var is tmpfs, which has none) holding
# the Debian rootfs that tests/debian/rootfs.sh caches, times, same tree, same file system, same run:
#   copy_tree()      the copy worker's tree copy (bench-copy: what Copy and Snapshot spend their time on;
#                    FICLONE per file, holes kept, owners, modes, xattrs), synced
#   cp-reflink       cp -a --reflink=always, synced
#   cp-full          cp -a --reflink=never (the bytes copied), synced
#   lxc-copy         lxc-copy of a dir container holding that tree (liblxc's clone: rsync), synced
# and prints the medians and the ratios against each. Runs on the host as root (no daemon, no
# container is started: only trees are copied); everything it makes is under one temporary directory,
# unmounted and removed at the end. Needs xfsprogs (tests/install-deps.sh installs it).
set -euo pipefail

BUILD=${1:?usage: bench/reflink.sh BUILD_DIR [ITER]}
ITER=${2:-5}
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
TARBALL=$SRC/tests/debian/cache/debian-12-minbase.tar
BENCH_COPY=$(readlink -f "$BUILD")/bench/bench-copy

[ "$(id -u)" = 0 ] || { echo "reflink.sh: run as root" >&2; exit 1; }
command -v mkfs.xfs >/dev/null || { echo "reflink.sh: no mkfs.xfs (apt-get install xfsprogs)" >&2; exit 1; }
[ -x "$BENCH_COPY" ] || { echo "reflink.sh: no $BENCH_COPY (ninja -C $BUILD)" >&2; exit 1; }
[ -s "$TARBALL" ] || { echo "reflink.sh: no $TARBALL (tests/debian/rootfs.sh makes it)" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/lxcbus-reflink.XXXXXX)
MNT=$WORK/mnt
cleanup() {
  if mountpoint -q "$MNT"; then umount "$MNT"; fi
  case $WORK in /var/tmp/lxcbus-reflink.?*) rm -rf --one-file-system -- "$WORK";; esac
}
trap cleanup EXIT
mkdir "$MNT"
truncate -s 4G "$WORK/xfs.img"
mkfs.xfs -q -m reflink=1 "$WORK/xfs.img"
mount -o loop "$WORK/xfs.img" "$MNT"

# The source: a dir container of liblxc's (for lxc-copy), whose rootfs every side copies.
mkdir -p "$MNT/lxc/src/rootfs"
tar --numeric-owner --xattrs -xpf "$TARBALL" -C "$MNT/lxc/src/rootfs"
printf 'lxc.rootfs.path = dir:%s\nlxc.uts.name = src\n' "$MNT/lxc/src/rootfs" > "$MNT/lxc/src/config"
sync
echo "reflink: $(du -sm "$MNT/lxc/src/rootfs" | cut -f1) MiB, $(find "$MNT/lxc/src/rootfs" | wc -l) entries," \
     "XFS with reflinks on a loop device; $ITER timed runs each (1 warm-up dropped)" >&2

us_now() { echo $(( $(date +%s%N) / 1000 )); }
declare -A SAMPLES
record() { [ "$2" -gt 0 ] && SAMPLES[$1]="${SAMPLES[$1]:-} $3"; true; }

for k in $(seq 0 "$ITER"); do
  t=$("$BENCH_COPY" "$MNT/lxc/src/rootfs" "$MNT" bc)
  record copy_tree "$k" "$t"
  rm -rf "$MNT/bc"

  t0=$(us_now); cp -a --reflink=always "$MNT/lxc/src/rootfs" "$MNT/cr"; sync -f "$MNT"; t1=$(us_now)
  record cp-reflink "$k" $(( t1 - t0 ))
  rm -rf "$MNT/cr"

  t0=$(us_now); cp -a --reflink=never "$MNT/lxc/src/rootfs" "$MNT/cf"; sync -f "$MNT"; t1=$(us_now)
  record cp-full "$k" $(( t1 - t0 ))
  rm -rf "$MNT/cf"

  t0=$(us_now); lxc-copy -P "$MNT/lxc" -n src -N dst >/dev/null 2>&1; sync -f "$MNT"; t1=$(us_now)
  record lxc-copy "$k" $(( t1 - t0 ))
  lxc-destroy -P "$MNT/lxc" -n dst >/dev/null 2>&1
  sync -f "$MNT"
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
base=$(echo "${SAMPLES[copy_tree]}" | median)
printf '%-12s %12s %10s\n' side 'median ms' 'ours/side'
for side in copy_tree cp-reflink cp-full lxc-copy; do
  m=$(echo "${SAMPLES[$side]}" | median)
  awk -v s="$side" -v m="$m" -v b="$base" 'BEGIN { printf "%-12s %12.1f %10.2f\n", s, m / 1000, b / m }'
done
