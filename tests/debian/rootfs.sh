#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/debian/rootfs.sh OUT.tar [minbase|systemd]
#
# A minimal Debian 12 rootfs (debootstrap --variant=minbase) as a tarball, for the tests that import a
# real OS. "minbase" (the default) has no init (tests/integration/test_debian.py pushes one);
# "systemd" adds systemd as /sbin/init and dbus (test_debian_systemd.py boots it). Each is built once
# into /var/cache/lxcbus-tests and copied to OUT.tar; rebuilt only when its cache is missing. The mirror is the one this machine's apt sources
# already name (read here, never written into the repository); without one, or without debootstrap,
# nothing is built and the test skips.
set -euo pipefail

out=${1:?usage: rootfs.sh OUT.tar [minbase|systemd]}
variant=${2:-minbase}
cache=/var/cache/lxcbus-tests
include=()
case $variant in
minbase) ;;
# systemd-sysv makes /sbin/init systemd; dbus is the system bus that systemctl's and journalctl's
# friends (hostnamectl, busctl, logind) talk to. Nothing else: systemd-journald, -tmpfiles, -sysusers
# and -networkd all come with the systemd package; networkd is enabled below, as the DHCP client of
# eth0 on the instance's bridge.
systemd) include=(--include=systemd-sysv,dbus) ;;
*) echo "rootfs.sh: unknown variant '$variant' (minbase, systemd)" >&2; exit 2 ;;
esac
# "nodev": an image carries no device nodes (liblxc makes /dev; the test host may not mknod). The
# systemd image's name says "networkd" since it has it enabled: a cache from before is not taken.
tarball=$cache/debian-12-$variant-nodev.tar
if [ "$variant" = systemd ]; then tarball=$cache/debian-12-systemd-networkd-nodev.tar; fi

mirror() {
        # deb822 sources first (Debian 12's default), then one-line sources.list entries.
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                awk 'BEGIN { RS = ""; FS = "\n" }
                     /(^|\n)Suites:[^\n]*bookworm([ \n]|$)/ && /(^|\n)Types:[^\n]*deb([ \n]|$)/ {
                             for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, a, " "); print a[2]; exit }
                     }' "$f"
        done | head -n1
        grep -hsE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                sed -E 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/' | head -n1 || true
}

if [ ! -s "$tarball" ]; then
        if ! command -v debootstrap >/dev/null; then
                echo "rootfs.sh: no debootstrap: no Debian rootfs" >&2
                exit 0
        fi
        m=$(mirror | head -n1 || true)
        if [ -z "$m" ]; then
                echo "rootfs.sh: no bookworm mirror in the apt sources: no Debian rootfs" >&2
                exit 0
        fi
        mkdir -p "$cache"
        work=$(mktemp -d "$cache/build.XXXXXX")
        trap 'rm -rf "$work"' EXIT
        echo "rootfs.sh: debootstrap --variant=minbase ${include[*]} bookworm from $m" >&2
        t0=$(date +%s)
        debootstrap --variant=minbase "${include[@]}" bookworm "$work/rootfs" "$m" > "$work/log" 2>&1 ||
                { tail -n 20 "$work/log" >&2; exit 1; }
        # The apt lists and caches are not part of an image.
        rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
        # Nor is an identity: every instance made from the image gets its own machine id at its first
        # boot (an empty /etc/machine-id is what systemd fills in), and debootstrap copied this
        # machine's host name and resolver into the tree. Without /etc/hostname, systemd keeps the
        # name liblxc gave the instance (lxc.uts.name).
        if [ "$variant" = systemd ]; then
                : > "$work/rootfs/etc/machine-id"
                rm -f "$work/rootfs/var/lib/dbus/machine-id"
                # eth0 (lxc.net.0 on the bridge) by DHCP, as an image made for containers has it.
                mkdir -p "$work/rootfs/etc/systemd/network"
                printf '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n' \
                        > "$work/rootfs/etc/systemd/network/80-container-eth0.network"
                systemctl --root="$work/rootfs" enable systemd-networkd.service >&2
        fi
        rm -f "$work/rootfs/etc/hostname" "$work/rootfs/etc/resolv.conf"
        tar --numeric-owner --xattrs --xattrs-include='*' --exclude='./dev/*' -C "$work/rootfs" \
                -cf "$work/rootfs.tar" .
        mv "$work/rootfs.tar" "$tarball"
        echo "rootfs.sh: built $tarball ($(du -m "$tarball" | cut -f1) MiB) in $(( $(date +%s) - t0 )) s" >&2
fi
mkdir -p "$(dirname "$out")"
cp --reflink=auto "$tarball" "$out.tmp"
mv "$out.tmp" "$out"
