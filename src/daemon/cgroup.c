/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lxcbusd reads and writes in an instance's cgroups directly, without systemd: the freezer, the
 * figures of GetState, the processes of a running instance found after a restart, the payload's
 * processes for Kill(all), and what liblxc leaves in the v1 hierarchies systemd does not manage. The
 * tree below lxc.payload.<name> belongs to the instance's root: it is walked with fds, bounded
 * (cgroup-walk.c). */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup-walk.h"
#include "log.h"
#include "util.h"


/* Calls fn with the fd of machine.slice in every hierarchy that has one (symlinked names such as cpu for
 * cpu,cpuacct are skipped: the same directory). */
static void foreach_machine_slice(void (*fn)(int slice_fd, const char *hierarchy, void *userdata), void *userdata) {
        _cleanup_close_ int root = -EBADF;
        DIR *d;
        struct dirent *de;

        root = cgroup_open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY);
        if (root < 0)
                return;
        d = fdopendir(root);
        if (!d)
                return;
        root = -EBADF;   /* d owns it */
        while ((de = readdir(d))) {
                _cleanup_close_ int hfd = -EBADF, sfd = -EBADF;

                if (de->d_name[0] == '.')
                        continue;
                hfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (hfd < 0)
                        continue;
                sfd = openat(hfd, "machine.slice", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0)
                        continue;
                fn(sfd, de->d_name, userdata);
        }
        closedir(d);
}

static void cleanup_in(int slice_fd, const char *hierarchy, void *userdata) {
        const char *unit = userdata;
        int r;

        r = cgroup_rmdir_tree(slice_fd, unit);
        if (r == -E2BIG)
                log_warning("Cgroup tree of %s in %s exceeds %u levels or %u cgroups, left behind below that.", unit,
                            hierarchy, CGROUP_WALK_DEPTH_MAX, CGROUP_WALK_ENTRIES_MAX);
        else if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove the cgroups of %s in %s, ignoring: %m", unit, hierarchy);
}

void scope_cleanup_cgroups(const char *unit) {
        assert(unit);

        /* systemd removes the scope where it manages the hierarchy; in freezer, cpuset and cpuacct
         * (v1) liblxc's mkdir -p leaves machine.slice/<scope> behind (tests/testhost/README.md,
         * "Containers in a delegated scope"). Every hierarchy is tried: below lxc.payload.<name> the
         * tree is the instance's, and systemd gives up on what it cannot remove by path (deeper than
         * PATH_MAX). */
        foreach_machine_slice(cleanup_in, (void *) unit);
}

static void list_in(int slice_fd, const char *hierarchy, void *userdata) {
        char ***units = userdata;
        struct dirent *de;
        DIR *d;

        d = fdopendir(fcntl(slice_fd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                bool seen = false;

                if (!startswith(de->d_name, "lxcbus-") || n < strlen(".scope") ||
                    !streq(de->d_name + n - strlen(".scope"), ".scope"))
                        continue;
                STRV_FOREACH(u, *units)
                        seen = seen || streq(*u, de->d_name);
                if (!seen && strv_extend(units, de->d_name) < 0)
                        break;
        }
        closedir(d);
}

char **scope_list_cgroups(void) {
        char **units = NULL;

        foreach_machine_slice(list_in, &units);
        return units;
}

static int read_u64_file(const char *path, const char *key, uint64_t *ret) {
        char buf[4096];
        _cleanup_close_ int fd = cgroup_open(path, O_RDONLY);
        ssize_t n;

        if (fd < 0)
                return fd;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (key) {
                char *p = strstr(buf, key);
                if (!p)
                        return -ENOENT;
                return sscanf(p + strlen(key), " %" SCNu64, ret) == 1 ? 0 : -EIO;
        }
        return sscanf(buf, "%" SCNu64, ret) == 1 ? 0 : -EIO;
}

/* A unit's file in the cgroup2 hierarchy with controllers (pure v2 hosts), else in the v1 hierarchy of
 * the controller (hybrid hosts); keys as for read_u64_file(). 2: read in v2, 1: in v1. */
static int read_unit_u64(const char *unit, const char *v2, const char *v2_key, const char *v1_dir, const char *v1,
                         const char *v1_key, uint64_t *ret) {
        char p[PATH_MAX];
        int r;

        snprintf(p, sizeof p, "/sys/fs/cgroup/machine.slice/%s/%s", unit, v2);
        if (read_u64_file(p, v2_key, ret) >= 0)
                return 2;
        snprintf(p, sizeof p, "/sys/fs/cgroup/%s/machine.slice/%s/%s", v1_dir, unit, v1);
        r = read_u64_file(p, v1_key, ret);
        return r < 0 ? r : 1;
}

/* Every read is one small file of /sys/fs/cgroup, in memory: none can block the loop, and GetState and
 * GetMetrics call this for each instance on it. */
int scope_read_all_figures(const char *unit, CgroupFigures *ret) {
        CgroupFigures f = CGROUP_FIGURES_NULL;
        uint64_t v, w;
        long hz;
        int r;

        assert(unit);
        assert(ret);

        (void) read_unit_u64(unit, "memory.current", NULL, "memory", "memory.usage_in_bytes", NULL, &f.memory);
        /* No limit reads as "max" (v2, not a number) or as the page counter's maximum (v1). */
        if (read_unit_u64(unit, "memory.max", NULL, "memory", "memory.limit_in_bytes", NULL, &v) > 0 &&
            v < CGROUP_LIMIT_NONE)
                f.memory_max = v;
        /* v1 counts swap only together with memory (memsw), and only with swap accounting on. */
        r = read_unit_u64(unit, "memory.swap.current", NULL, "memory", "memory.memsw.usage_in_bytes", NULL, &v);
        if (r == 2)
                f.swap = v;
        else if (r == 1 && f.memory != UINT64_MAX)
                f.swap = v > f.memory ? v - f.memory : 0;
        r = read_unit_u64(unit, "cpu.stat", "usage_usec", "cpuacct", "cpuacct.usage", NULL, &v);
        if (r > 0)
                f.cpu_ns = r == 2 ? v * 1000 : v;
        /* cpu.stat in µs, cpuacct.stat in clock ticks. */
        r = read_unit_u64(unit, "cpu.stat", "user_usec", "cpuacct", "cpuacct.stat", "user", &v);
        if (r > 0 && read_unit_u64(unit, "cpu.stat", "system_usec", "cpuacct", "cpuacct.stat", "system", &w) == r) {
                hz = sysconf(_SC_CLK_TCK);
                if (r == 2) {
                        f.cpu_user_ns = v * 1000;
                        f.cpu_system_ns = w * 1000;
                } else if (hz > 0) {
                        f.cpu_user_ns = v * (UINT64_C(1000000000) / (uint64_t) hz);
                        f.cpu_system_ns = w * (UINT64_C(1000000000) / (uint64_t) hz);
                }
        }
        (void) read_unit_u64(unit, "pids.current", NULL, "pids", "pids.current", NULL, &f.tasks);
        *ret = f;
        return 0;
}

int scope_read_figures(const char *unit, uint64_t *ret_memory, uint64_t *ret_cpu_ns, uint64_t *ret_tasks) {
        CgroupFigures f;

        assert(ret_memory);
        assert(ret_cpu_ns);
        assert(ret_tasks);

        (void) scope_read_all_figures(unit, &f);
        *ret_memory = f.memory;
        *ret_cpu_ns = f.cpu_ns;
        *ret_tasks = f.tasks;
        return 0;
}

static int first_pid_in(const char *path, pid_t *ret) {
        _cleanup_free_ char *data = NULL;
        long v;
        int r;

        /* The first line is all we need; the monitor's cgroup holds just the monitor. */
        r = cgroup_read_file(-EBADF, path, CGROUP_FILE_MAX, &data);
        if (r < 0)
                return r;
        v = strtol(data, NULL, 10);
        if (v <= 0)
                return -ESRCH;
        *ret = (pid_t) v;
        return 0;
}

/* Finds a running instance from its cgroups alone (after a daemon restart): the monitor is the
 * process in <scope>/lxc.monitor.<name>, init its child. No liblxc call: a hung monitor cannot hang
 * us. */
int scope_find_running(const char *unit, const char *name, pid_t *ret_monitor, pid_t *ret_init, bool *ret_frozen) {
        _cleanup_free_ char *children = NULL;
        char path[PATH_MAX];
        pid_t monitor = 0;
        long init;
        int r = -ESRCH;

        assert(unit);
        assert(name);
        assert(ret_monitor);
        assert(ret_init);
        assert(ret_frozen);

        FOREACH_STRING(h, "systemd/", "unified/", "") {
                snprintf(path, sizeof path, "/sys/fs/cgroup/%smachine.slice/%s/lxc.monitor.%s/cgroup.procs", h, unit, name);
                r = first_pid_in(path, &monitor);
                if (r >= 0)
                        break;
        }
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "/proc/%i/task/%i/children", (int) monitor, (int) monitor);
        r = read_full_file(path, 64 * 1024, &children, NULL);
        if (r < 0)
                return r;
        init = strtol(children, NULL, 10);
        if (init <= 0)
                return -ESRCH;

        *ret_frozen = false;
        snprintf(path, sizeof path, "/sys/fs/cgroup/freezer/machine.slice/%s/lxc.payload.%s/freezer.state", unit, name);
        _cleanup_free_ char *state = NULL;
        if (cgroup_read_file(-EBADF, path, 4096, &state) >= 0)
                *ret_frozen = startswith(state, "FROZEN") || startswith(state, "FREEZING");
        else {
                uint64_t v;
                snprintf(path, sizeof path, "/sys/fs/cgroup/machine.slice/%s/lxc.payload.%s/cgroup.freeze", unit, name);
                if (read_u64_file(path, NULL, &v) >= 0)
                        *ret_frozen = v == 1;
        }
        *ret_monitor = monitor;
        *ret_init = (pid_t) init;
        return 0;
}

static void freezer_paths(const char *unit, const char *name, char v1[static PATH_MAX], char v2[static PATH_MAX]) {
        snprintf(v1, PATH_MAX, "/sys/fs/cgroup/freezer/machine.slice/%s/lxc.payload.%s/freezer.state", unit, name);
        snprintf(v2, PATH_MAX, "/sys/fs/cgroup/machine.slice/%s/lxc.payload.%s/cgroup.freeze", unit, name);
}

/* Freezes or thaws the payload cgroup: the v1 freezer (hybrid hosts) or cgroup.freeze (cgroup2).
 * Writing never blocks; the state is read back with cgroup_freezer_get(). */
int cgroup_freezer_set(const char *unit, const char *name, bool freeze) {
        char v1[PATH_MAX], v2[PATH_MAX];
        int r;

        assert(unit);
        assert(name);

        freezer_paths(unit, name, v1, v2);
        r = cgroup_write_file(v1, freeze ? "FROZEN" : "THAWED");
        if (r != -ENOENT)
                return r;
        return cgroup_write_file(v2, freeze ? "1" : "0");
}

/* 1 frozen, 0 thawed, -EAGAIN while freezing. */
int cgroup_freezer_get(const char *unit, const char *name) {
        _cleanup_free_ char *s = NULL;
        char v1[PATH_MAX], v2[PATH_MAX];
        uint64_t frozen;
        int r;

        assert(unit);
        assert(name);

        freezer_paths(unit, name, v1, v2);
        r = cgroup_read_file(-EBADF, v1, 4096, &s);
        if (r >= 0)
                return startswith(s, "FROZEN") ? 1 : startswith(s, "THAWED") ? 0 : -EAGAIN;
        if (r != -ENOENT)
                return r;
        snprintf(v2 + strlen(v2) - strlen("cgroup.freeze"), strlen("cgroup.events") + 1, "cgroup.events");
        r = read_u64_file(v2, "frozen", &frozen);
        if (r < 0)
                return r;
        return frozen ? 1 : -EAGAIN;
}

/* Every process of the payload: the container's cgroup below the scope, in the named systemd hierarchy
 * (v1/hybrid) or the unified one (pure v2). Never the monitor. The instance's root owns that tree:
 * cgroup_kill_tree() walks it with fds, bounded, and signals by pidfd. -ENOENT: no payload cgroup. */
int cgroup_kill_payload(const char *unit, const char *name, int sig, unsigned *ret_n) {
        char path[PATH_MAX], payload[NAME_MAX + 1];
        int r = -ENOENT;

        assert(unit);
        assert(name);
        assert(ret_n);

        *ret_n = 0;
        snprintf(payload, sizeof payload, "lxc.payload.%s", name);
        FOREACH_STRING(h, "systemd/", "") {
                snprintf(path, sizeof path, "/sys/fs/cgroup/%smachine.slice/%s", h, unit);
                _cleanup_close_ int fd = cgroup_open(path, O_RDONLY | O_DIRECTORY);
                if (fd < 0)
                        continue;
                r = cgroup_kill_tree(fd, payload, sig, ret_n);
                if (r != -ENOENT)
                        break;
        }
        return r;
}
