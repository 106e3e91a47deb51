#!/bin/bash
# demo.sh: install the dependencies, build lxcbus, boot a throw-away test host
# (a real systemd, system bus and polkitd in private namespaces: this machine
# stays untouched, see tests/testhost/README.md), install and start lxcbusd
# there, and walk a busybox instance through its life with lxcbusctl.
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
step lxcbusctl list
step systemctl status lxcbus-demo.scope --no-pager
step lxcbusctl info demo
step lxcbusctl exec demo -- sh -c 'echo "hello from $(hostname), pid $$ in the instance"; uname -a'
step lxcbusctl stop demo
step lxcbusctl delete demo
step lxcbusctl list

banner "power the test host off"
trap - EXIT
"$LB_TH/th-stop" -n "$NAME"
banner "demo finished"
