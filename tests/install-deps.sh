#!/bin/bash
# tests/install-deps.sh: install every Debian 12 package that lxcbus needs to
# build, to run its unit and integration tests (test host with a real
# systemd, dbus, polkitd and busybox LXC containers) and demo.sh.
# The one place where dependencies are listed: .ci/run and demo.sh call it.
# Runs as root, non-interactive. Skips apt entirely when everything is
# already installed, unless CI=true or LXCBUS_DEPS_FORCE=1.
set -euo pipefail

PKGS=(
  # build
  meson ninja-build gcc pkg-config
  libsystemd-dev lxc-dev libglib2.0-dev libjson-glib-dev libpolkit-gobject-1-dev
  # runtime: the daemon and the containers it runs
  lxc busybox-static uidmap
  # the test host: real systemd, system bus, polkit, and the tools the
  # harness uses (unshare/nsenter/setpriv/findmnt, mount, perl, awk, ip)
  systemd systemd-container dbus polkitd libglib2.0-bin
  util-linux mount perl mawk procps iproute2 coreutils findutils
  # the integration tests (debootstrap: the Debian rootfs of test_debian.py)
  python3 python3-gi gir1.2-glib-2.0 debootstrap
  # leak checks; test_killpoints kills lxcbusd at chosen system calls with strace's fault injection
  valgrind strace
  # bench/: lxc-copy clones a dir-backed container with rsync (the floor of Copy); reflink.sh copies on
  # a loop-mounted XFS with reflinks
  rsync xfsprogs
  # the fuzz stage: libFuzzer with ASan and UBSan
  clang-14 libclang-rt-14-dev
  # import and export: libarchive in lxcbusd-worker (tar, gzip, xz, zstd)
  libarchive-dev
  # test_metrics.py: GetMetrics parsed by a real Prometheus text parser
  python3-prometheus-client
  # test_remote.py: lxcbusctl -H over SSH to the test host's own sshd (sd_bus_open_system_remote runs
  # "ssh HOST systemd-stdio-bridge")
  openssh-server openssh-client
  # the Cockpit page (cockpit/) and its browser test (test_cockpit.py): cockpit-ws serves the page,
  # Debian's chromium runs it headless, driven by playwright-core from tests/browser/ (npm ci in .ci/run)
  cockpit-ws cockpit-bridge chromium nodejs
  # liblxcbus (src/liblxcbus/): its GObject-Introspection data, API docs, and test_liblxcbus.py
  # (gi.repository.Lxcbus; test-liblxcbus.c compiled with pkg-config inside the test host)
  libgirepository1.0-dev gobject-introspection gir1.2-glib-2.0 gi-docgen python3-gi pkg-config
  # test_liblxcbus_gjs.py: liblxcbus from JavaScript (gi://Lxcbus)
  gjs
)
# npm: Debian's package, unless the nodejs installed brings its own (NodeSource's does, and conflicts)
command -v npm > /dev/null || PKGS+=(npm)

[ "$(id -u)" = 0 ] || { echo "install-deps.sh: must run as root (sudo $0)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PKGS[@]}"; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$s" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" = 0 ] && [ "${CI:-}" != true ] && [ "${LXCBUS_DEPS_FORCE:-0}" != 1 ]; then
  echo "install-deps.sh: all ${#PKGS[@]} packages installed"
  exit 0
fi
[ "${#missing[@]}" = 0 ] || echo "install-deps.sh: installing: ${missing[*]}"
apt-get update < /dev/null
apt-get install -y --no-install-recommends "${PKGS[@]}" < /dev/null
