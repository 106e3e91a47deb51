#!/bin/bash
# demo.sh: install the dependencies, build lxcbus, boot a throw-away test host
# (a real systemd, system bus and polkitd in private namespaces: this machine
# stays untouched, see tests/testhost/README.md), install and start lxcbusd
# there, and walk a busybox instance through its life with lxcbusctl; then a
# user whom a polkit rule lets in creates, starts, execs into and deletes an
# idmapped instance of their own.
# Run as root on Debian 12:  sudo ./demo.sh
#   LXCBUS_BUILD_DIR  build directory (default: build)
#   LXCBUS_SKIP_DEPS=1  do not run tests/install-deps.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root: sudo $0" >&2; exit 1; }

banner() { printf '\n==== %s\n' "$*"; }

if [ "${LXCBUS_SKIP_DEPS:-0}" != 1 ]; then
  banner "dependencies (tests/install-deps.sh)"
  tests/install-deps.sh
fi

BUILD=${LXCBUS_BUILD_DIR:-build}
banner "build ($BUILD)"
if [ -f "$BUILD/build.ninja" ]; then
  meson configure "$BUILD" -Dprefix=/usr
else
  meson setup "$BUILD" -Dprefix=/usr
fi
ninja -C "$BUILD"

. tests/integration/lib.sh
lb_init "$BUILD"
NAME=demo$$
trap '"$LB_TH/th-stop" -n "$NAME" || true' EXIT
trap 'exit 130' INT TERM HUP

banner "boot a test host ($NAME)"
lb_boot "$NAME"
banner "install lxcbus into the test host and start lxcbusd.service"
lb_install "$NAME"
lb_dropin "$NAME"
lb_start "$NAME"
lb_exec "$NAME" systemctl status lxcbusd.service --no-pager -n 0 || true

# Show and run one command inside the test host.
step() { printf '\n# %s\n' "$*"; lb_exec "$NAME" "$@"; }
step lxcbusctl create demo --template busybox
step lxcbusctl start demo
# Its rcS asks lxc-net's dnsmasq for an address on lxcbr0: list once it has one (a second or so).
lb_exec "$NAME" sh -c 'for i in $(seq 50); do lxcbusctl list | grep -q " 10\.0\.3\." && break; sleep 0.2; done'
step lxcbusctl list
step systemctl status lxcbus-demo.scope --no-pager
step lxcbusctl info demo
step lxcbusctl exec demo -- sh -c 'echo "hello from $(hostname), pid $$ in the instance"; uname -a'
step lxcbusctl stop demo
step lxcbusctl delete demo
step lxcbusctl list

banner "an unprivileged user, allowed by a polkit rule, gets an idmapped instance"
# Inside the test host only: its /etc is an overlay on tmpfs.
lb_exec "$NAME" sh -euc '
  useradd -m alice
  echo lxcbus:1000000:65536000 >> /etc/subuid
  echo lxcbus:1000000:65536000 >> /etc/subgid
  cp "$1/docs/polkit-rules/50-lxcbus-owners.rules" /etc/polkit-1/rules.d/
  groupadd lxowners && usermod -aG lxowners alice
  sleep 1   # polkitd reloads its rules' sh "$ROOT"
as_alice() { printf '\n# (alice) %s\n' "$*"; lb_exec "$NAME" setpriv --reuid=alice --regid=alice --init-groups -- "$@"; }
as_alice lxcbusctl create mine --template busybox
as_alice lxcbusctl start mine
as_alice lxcbusctl exec mine -- id
step sh -c 'ps -o uid,pid,args -p "$(busctl get-property org.lxcbus1 /org/lxcbus1/instance/mine org.lxcbus1.Instance Pid | cut -d" " -f2)"'
as_alice lxcbusctl delete --force mine

banner "power the test host off"
trap - EXIT
"$LB_TH/th-stop" -n "$NAME"
banner "demo finished"
