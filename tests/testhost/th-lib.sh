# shellcheck shell=bash
# th-lib.sh - shared helpers for the lxcbus test host scripts (sourced).
# Test host = a real systemd as PID 1 in private mount/pid/uts/ipc/net/cgroup
# namespaces on a private tmpfs root. See README.md in this directory.

TH_BASE=${TH_BASE:-/run/lxcbus-testhost}        # host-side state (tiny)
TH_NAME=${TH_NAME:-th}
TH_PATH_INSIDE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

th_die() { echo "th: $*" >&2; exit 1; }
th_log() { echo "th: $*" >&2; }

th_state() { echo "$TH_BASE/$TH_NAME"; }

# Print "controllers|host-mountpoint|current-cgroup-of-this-process|fstype" for
# every cgroup hierarchy mounted under /sys/fs/cgroup.
th_hierarchies() {
  awk '
    BEGIN {
      while ((getline l < "/proc/self/cgroup") > 0) {
        split(l, a, ":"); cur[a[2]] = substr(l, length(a[1]) + length(a[2]) + 3)
      }
    }
    {
      for (i = 1; $i != "-"; i++) ;
      fstype = $(i+1); sopts = $(i+3); mnt = $5
      if (mnt !~ "^/sys/fs/cgroup/") next
      if (fstype == "cgroup2") { print "|" mnt "|" cur[""] "|cgroup2"; next }
      if (fstype != "cgroup") next
      n = split(sopts, o, ","); key = ""
      for (j = 1; j <= n; j++) {
        if (o[j] ~ /^(rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|xattr|noprefix|cpuset_v2_mode|favordynmods|release_agent=.*)$/) continue
        key = key (key == "" ? "" : ",") o[j]
      }
      # /proc/self/cgroup lists controllers in kernel order; try exact key,
      # then any entry with the same set.
      c = cur[key]
      if (c == "") for (k in cur) { if (setsame(k, key)) c = cur[k] }
      print key "|" mnt "|" c "|cgroup"
    }
    function setsame(x, y,   xa, ya, nx, ny, m, s) {
      nx = split(x, xa, ","); ny = split(y, ya, ",")
      if (nx != ny) return 0
      for (m = 1; m <= nx; m++) { s = 0; for (q = 1; q <= ny; q++) if (xa[m] == ya[q]) s = 1; if (!s) return 0 }
      return 1
    }
  ' /proc/self/mountinfo
}

# Host PID of the namespace's PID 1 (systemd), after checking it is still the
# process we started (same start time).
th_pid() {
  local st; st=$(th_state)
  [ -r "$st/pid" ] || return 1
  local pid start
  read -r pid start < "$st/pid" || return 1
  [ -d "/proc/$pid" ] || return 1
  [ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" = "$start" ] || return 1
  echo "$pid"
}

th_starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# Run a command inside the test host (all namespaces + root of its PID 1).
# Stays in the caller's (host) cgroup; use th-exec for a proper scope.
th_nsenter() {
  local pid=$1; shift
  nsenter -t "$pid" -m -u -i -n -p -C -r -w -- \
    env -i PATH="$TH_PATH_INSIDE" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}
