# shellcheck shell=bash
# tests/integration/lib.sh - boot a test host with lxcbusd installed and
# running (sourced by tests/integration/run.sh and demo.sh).
#
#   lb_init BUILD_DIR      check the build dir, set LB_SRC LB_BUILD LB_BINDS
#   lb_boot NAME           th-boot with the project (and build) dir bound rw
#                          at the same absolute path
#   lb_install NAME        meson install inside (into the overlay /usr),
#                          dbus ReloadConfig, systemctl daemon-reload
#   lb_dropin NAME         lxcbusd.service drop-in: no start rate limit, and
#                          LXCBUSD_EXTRA_ARGS and LXCBUS_SANITIZE (see run.sh)
#   lb_start NAME          systemctl start lxcbusd; wait (bounded) for
#                          org.lxcbus1 on the bus
#   lb_exec NAME CMD...    run CMD inside (raw, root cgroup of the test host)
#                          with LB_EXEC_ENV (-E VAR=VAL ...) in its environment
# Every function prints what went wrong to stderr and returns non-zero.

LB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LB_TH=$LB_SRC/tests/testhost
LB_EXEC_ENV=(-E PYTHONDONTWRITEBYTECODE=1 -E "LXCBUS_SRC_DIR=$LB_SRC")

lb_err() { echo "lxcbus-testhost: $*" >&2; return 1; }

lb_exec() { local n=$1; shift; "$LB_TH/th-exec" -n "$n" -r "${LB_EXEC_ENV[@]}" -- "$@"; }

lb_init() {
  [ "$(id -u)" = 0 ] || { lb_err "must run as root"; return 1; }
  LB_BUILD=$(readlink -f -- "$1") || { lb_err "no build dir $1"; return 1; }
  [ -f "$LB_BUILD/build.ninja" ] && [ -d "$LB_BUILD/meson-info" ] \
    || { lb_err "$LB_BUILD is not a meson build directory"; return 1; }
  [ -x /usr/bin/python3 ] || { lb_err "/usr/bin/python3 missing: run tests/install-deps.sh"; return 1; }
  local bsrc prefix
  read -r bsrc prefix < <(/usr/bin/python3 - "$LB_BUILD" <<'EOF'
import json, sys, os
b = sys.argv[1]
info = json.load(open(os.path.join(b, 'meson-info', 'meson-info.json')))
opts = json.load(open(os.path.join(b, 'meson-info', 'intro-buildoptions.json')))
prefix = next((o['value'] for o in opts if o['name'] == 'prefix'), '?')
print(os.path.realpath(info['directories']['source']), prefix)
EOF
  ) || { lb_err "cannot read $LB_BUILD/meson-info"; return 1; }
  [ "$prefix" = /usr ] || { lb_err "$LB_BUILD has prefix '$prefix'; configure it with -Dprefix=/usr"; return 1; }
  [ "$bsrc" = "$LB_SRC" ] || echo "lxcbus-testhost: note: $LB_BUILD was configured from $bsrc, not $LB_SRC" >&2
  # bind mounts (th-boot splits specs on whitespace and ':')
  LB_BINDS=()
  local d seen=" "
  for d in "$LB_SRC" "$bsrc" "$LB_BUILD"; do
    case $d in *[[:space:]:]*) lb_err "path with whitespace or ':' not supported: $d"; return 1;; esac
    case $seen in *" $d "*) continue;; esac
    seen="$seen$d "
    case $d in "$LB_SRC"/*) continue;; esac   # inside the project dir: bound with it
    LB_BINDS+=(-b "$d:$d:rw")
  done
}

lb_boot() {
  "$LB_TH/th-boot" -n "$1" -t 60 "${LB_BINDS[@]}" \
    -k lxcbusd.service -k lxcbus@.service -k lxcbus-autostart.service \
    -k dbus-org.lxcbus1.service -k lxc-net.service \
    -k systemd-machined.service -k dbus-org.freedesktop.machine1.service -k lxcbus-shutdown.service
}

lb_install() {
  local n=$1 out
  out=$(lb_exec "$n" meson install -C "$LB_BUILD" --no-rebuild 2>&1) || {
    printf '%s\n' "$out" | tail -40 >&2; lb_err "meson install failed inside the test host"; return 1; }
  lb_exec "$n" test -f /usr/share/dbus-1/system.d/org.lxcbus1.conf \
    || echo "lxcbus-testhost: warning: no /usr/share/dbus-1/system.d/org.lxcbus1.conf installed" >&2
  # dbus-daemon notices the new policy by inotify too; make it synchronous
  lb_exec "$n" busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig \
    || { lb_err "dbus ReloadConfig failed"; return 1; }
  lb_exec "$n" systemctl daemon-reload || { lb_err "systemctl daemon-reload failed"; return 1; }
  [ -n "$(lb_exec "$n" systemctl show -P FragmentPath lxcbusd.service)" ] \
    || { lb_err "lxcbusd.service was not installed"; return 1; }
}

lb_dropin() {
  local n=$1 dropin="" execstart frag asan ubsan
  if [ -n "${LXCBUSD_EXTRA_ARGS:-}" ] || [ "${LXCBUS_VALGRIND:-0}" = 1 ]; then
    frag=$(lb_exec "$n" systemctl show -P FragmentPath lxcbusd.service)
    execstart=$(lb_exec "$n" grep -m1 '^ExecStart=' "$frag") || { lb_err "no ExecStart= in $frag"; return 1; }
    if [ "${LXCBUS_VALGRIND:-0}" = 1 ]; then
      # the daemon under valgrind (its exec'd workers are not traced); errors or a definite
      # leak make it exit 99 when it is stopped after the tests
      execstart="ExecStart=/usr/bin/valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite ${execstart#ExecStart=}"
      dropin+=$'[Service]\nTimeoutStartSec=120\nTimeoutStopSec=60\n'
      LB_EXEC_ENV+=(-E LXCBUS_VALGRIND=1)
      echo "lxcbus-testhost: lxcbusd runs under valgrind" >&2
    fi
    [ -n "$dropin" ] || dropin=$'[Service]\n'
    dropin+=$'ExecStart=\n'"$execstart ${LXCBUSD_EXTRA_ARGS:-}"$'\n'
    [ -n "${LXCBUSD_EXTRA_ARGS:-}" ] && echo "lxcbus-testhost: lxcbusd extra arguments: $LXCBUSD_EXTRA_ARGS" >&2
  fi
  if [ "${LXCBUS_SANITIZE:-0}" = 1 ]; then
    asan=${LXCBUS_ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
    ubsan=${LXCBUS_UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    [ -n "$dropin" ] || dropin=$'[Service]\n'
    dropin+="Environment=\"ASAN_OPTIONS=$asan\" \"UBSAN_OPTIONS=$ubsan\""$'\nTimeoutStartSec=120\n'
    LB_EXEC_ENV+=(-E "ASAN_OPTIONS=$asan" -E "UBSAN_OPTIONS=$ubsan" -E LXCBUS_SANITIZE=1)
    echo "lxcbus-testhost: sanitizer mode: ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan" >&2
  fi
  # Test files restart lxcbusd on purpose, many times in one run: systemd's start rate limit
  # (5 starts in 10 s) is not what they test.
  dropin=$'[Unit]\nStartLimitIntervalSec=0\n'"$dropin"
  printf '%s' "$dropin" | lb_exec "$n" sh -c 'mkdir -p /etc/systemd/system/lxcbusd.service.d &&
      cat > /etc/systemd/system/lxcbusd.service.d/50-lxcbus-test.conf' \
    || { lb_err "writing the lxcbusd drop-in failed"; return 1; }
  lb_exec "$n" systemctl daemon-reload || { lb_err "systemctl daemon-reload failed"; return 1; }
}

lb_start() {
  local n=$1 i
  lb_exec "$n" timeout 150 systemctl start lxcbusd.service \
    || { lb_err "systemctl start lxcbusd.service failed"; return 1; }
  for ((i = 0; i < 300; i++)); do   # bounded: 30 s
    lb_exec "$n" busctl status org.lxcbus1 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  lb_err "org.lxcbus1 did not appear on the bus within 30s"
}
