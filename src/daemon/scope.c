/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transient scope units for running instances (TESTHOST.md sequence B): StartTransientUnit with the
 * pid of the start worker, then wait for the job to be done before liblxc may make its cgroups. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-walk.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

struct ScopeJob {
        Manager *manager;
        ScopeJob *next;
        char *unit;
        char *job_path;
        bool stopping;
        sd_bus_slot *slot;
        scope_done_t done;
        void *userdata;
};

static void scope_job_unlink(ScopeJob *j) {
        for (ScopeJob **p = &j->manager->scope_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
}

static ScopeJob *scope_job_free(ScopeJob *j) {
        if (!j)
                return NULL;
        scope_job_unlink(j);
        sd_bus_slot_unref(j->slot);
        free(j->unit);
        free(j->job_path);
        free(j);
        return NULL;
}

void scope_job_cancel(ScopeJob *j) {
        /* The job itself runs on in systemd; we just stop waiting. */
        scope_job_free(j);
}

static void scope_job_complete(ScopeJob *j, int error, const char *message) {
        scope_done_t done = j->done;
        void *userdata = j->userdata;
        Manager *m = j->manager;

        scope_job_free(j);
        done(m, error, message, userdata);
}

/* The scope's resource limits from the instance config; with reset, unset keys go back to no limit. */
static int append_limits(sd_bus_message *msg, const ConfigMap *config, bool reset) {
        const char *v;
        uint64_t u;
        long l;
        int r;

        v = config_map_get(config, "limits.memory");
        if (v ? config_parse_bytes_or_max(v, &u) >= 0 : reset) {
                r = sd_bus_message_append(msg, "(sv)", "MemoryMax", "t", v ? u : UINT64_MAX);
                if (r < 0)
                        return r;
        }
        v = config_map_get(config, "limits.cpu.weight");
        if (v ? config_parse_int(v, 1, 10000, &l) >= 0 : reset) {
                r = sd_bus_message_append(msg, "(sv)", "CPUWeight", "t", v ? (uint64_t) l : UINT64_MAX);
                if (r < 0)
                        return r;
        }
        v = config_map_get(config, "limits.tasks");
        if (v ? config_parse_uint_or_max(v, &u) >= 0 : reset) {
                r = sd_bus_message_append(msg, "(sv)", "TasksMax", "t", v ? u : UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int on_job_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ScopeJob *j = userdata;
        const sd_bus_error *e;
        const char *path;
        int r;

        j->slot = sd_bus_slot_unref(j->slot);
        e = sd_bus_message_get_error(reply);
        if (e) {
                char msg[512];

                /* Stopping a unit that is gone already is success. */
                if (j->stopping && sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit")) {
                        scope_job_complete(j, 0, NULL);
                        return 0;
                }
                snprintf(msg, sizeof msg, "Failed to %s scope '%s': %s", j->stopping ? "stop" : "create", j->unit,
                         e->message ?: e->name);
                scope_job_complete(j, sd_bus_error_get_errno(e) ?: EIO, msg);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0 || !(j->job_path = strdup(path))) {
                scope_job_complete(j, EIO, "Bad reply from systemd.");
                return 0;
        }
        return 0;
}

/* Sends the call (which enqueues a job) and waits for the job's JobRemoved. */
static int scope_job_send(Manager *m, sd_bus_message *msg, const char *unit, bool stopping, scope_done_t done,
                          void *userdata, ScopeJob **ret) {
        ScopeJob *j;
        int r;

        j = calloc(1, sizeof(ScopeJob));
        if (!j)
                return -ENOMEM;
        j->manager = m;
        j->done = done;
        j->userdata = userdata;
        j->stopping = stopping;
        j->unit = strdup(unit);
        if (!j->unit) {
                free(j);
                return -ENOMEM;
        }
        r = sd_bus_call_async(m->bus, &j->slot, msg, on_job_reply, j, 30 * USEC_PER_SEC);
        if (r < 0) {
                free(j->unit);
                free(j);
                return r;
        }
        j->next = m->scope_jobs;
        m->scope_jobs = j;
        if (ret)
                *ret = j;
        return 0;
}

int scope_stop(Manager *m, const char *unit, scope_done_t done, void *userdata, ScopeJob **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StopUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ss", unit, "replace");
        if (r < 0)
                return r;
        return scope_job_send(m, msg, unit, true, done, userdata, ret);
}

int scope_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        /* Also checked by the bus filter (bus.c); a job's end is only systemd's to tell. */
        if (!m->systemd_owner || !streq_ptr(sd_bus_message_get_sender(message), m->systemd_owner))
                return 0;
        if (sd_bus_message_read(message, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        for (ScopeJob *j = m->scope_jobs; j; j = j->next) {
                if (!j->job_path || !streq(j->job_path, path))
                        continue;
                if (streq(result, "done"))
                        scope_job_complete(j, 0, NULL);
                else {
                        char msg[512];
                        snprintf(msg, sizeof msg, "Scope '%s' could not be started: job %s.", unit, result);
                        scope_job_complete(j, EIO, msg);
                }
                break;
        }
        return 0;
}

int scope_start(Manager *m, const char *unit, pid_t pid, const ConfigMap *config, scope_done_t done, void *userdata,
                ScopeJob **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        _cleanup_free_ char *description = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r < 0)
                return r;
        if (asprintf(&description, "lxcbus instance %s", unit) < 0)
                return -ENOMEM;
        r = sd_bus_message_append(msg, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "(sv)(sv)(sv)(sv)(sv)",
                                  "PIDs", "au", 1, (uint32_t) pid,
                                  "Delegate", "b", 1,
                                  "Slice", "s", "machine.slice",
                                  "Description", "s", description,
                                  "CollectMode", "s", "inactive-or-failed");
        if (r < 0)
                return r;
        r = append_limits(msg, config, false);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(msg);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        return scope_job_send(m, msg, unit, false, done, userdata, ret);
}

static int on_set_properties_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e)
                log_warning("Failed to apply limits to a scope: %s, ignoring.", e->message ?: e->name);
        return 0;
}

int scope_set_limits(Manager *m, const char *unit, const ConfigMap *config) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "sb", unit, 1);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        r = append_limits(msg, config, true);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(msg);
        if (r < 0)
                return r;
        return sd_bus_call_async(m->bus, NULL, msg, on_set_properties_reply, NULL, 30 * USEC_PER_SEC);
}

static int on_kill_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e && !sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                log_warning("Failed to kill a scope: %s, ignoring.", e->message ?: e->name);
        return 0;
}

/* Signals every process of the scope, the monitor included: the last resort against a hung monitor. */
int scope_kill(Manager *m, const char *unit, int sig) {
        return sd_bus_call_method_async(m->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "KillUnit", on_kill_reply, NULL, "ssi",
                                        unit, "all", sig);
}

void scope_cleanup_cgroups(const char *unit) {
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
        /* systemd removes the scope where it manages the hierarchy; in freezer, cpuset and cpuacct
         * (v1) liblxc's mkdir -p leaves machine.slice/<scope> behind (TESTHOST.md §7). Every hierarchy
         * is tried: below lxc.payload.<name> the tree is the instance's, and systemd gives up on what
         * it cannot remove by path (deeper than PATH_MAX). */
        while ((de = readdir(d))) {
                _cleanup_close_ int hfd = -EBADF, sfd = -EBADF;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                hfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (hfd < 0)
                        continue;
                sfd = openat(hfd, "machine.slice", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0)
                        continue;
                r = cgroup_rmdir_tree(sfd, unit);
                if (r == -E2BIG)
                        log_warning("Cgroup tree of %s in %s exceeds %u levels or %u cgroups, left behind below "
                                    "that.", unit, de->d_name, CGROUP_WALK_DEPTH_MAX, CGROUP_WALK_ENTRIES_MAX);
                else if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to remove the cgroups of %s in %s, ignoring: %m", unit,
                                          de->d_name);
        }
        closedir(d);
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

int scope_read_figures(const char *unit, uint64_t *ret_memory, uint64_t *ret_cpu_ns, uint64_t *ret_tasks) {
        char p[PATH_MAX];
        uint64_t v;

        *ret_memory = *ret_cpu_ns = *ret_tasks = UINT64_MAX;

        /* cgroup2 with controllers (pure v2 hosts) first, then the v1 hierarchies. */
        snprintf(p, sizeof p, "/sys/fs/cgroup/machine.slice/%s/memory.current", unit);
        if (read_u64_file(p, NULL, &v) >= 0)
                *ret_memory = v;
        else {
                snprintf(p, sizeof p, "/sys/fs/cgroup/memory/machine.slice/%s/memory.usage_in_bytes", unit);
                if (read_u64_file(p, NULL, &v) >= 0)
                        *ret_memory = v;
        }
        snprintf(p, sizeof p, "/sys/fs/cgroup/machine.slice/%s/cpu.stat", unit);
        if (read_u64_file(p, "usage_usec", &v) >= 0)
                *ret_cpu_ns = v * 1000;
        else {
                snprintf(p, sizeof p, "/sys/fs/cgroup/cpuacct/machine.slice/%s/cpuacct.usage", unit);
                if (read_u64_file(p, NULL, &v) >= 0)
                        *ret_cpu_ns = v;
        }
        snprintf(p, sizeof p, "/sys/fs/cgroup/machine.slice/%s/pids.current", unit);
        if (read_u64_file(p, NULL, &v) >= 0)
                *ret_tasks = v;
        else {
                snprintf(p, sizeof p, "/sys/fs/cgroup/pids/machine.slice/%s/pids.current", unit);
                if (read_u64_file(p, NULL, &v) >= 0)
                        *ret_tasks = v;
        }
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

static int write_string(const char *path, const char *s) {
        _cleanup_close_ int fd = cgroup_open(path, O_WRONLY);
        size_t n = strlen(s);

        if (fd < 0)
                return fd;
        if (write(fd, s, n) != (ssize_t) n)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* Freezes or thaws the payload cgroup: the v1 freezer (hybrid hosts) or cgroup.freeze (cgroup2).
 * Writing never blocks; the state is read back with cgroup_freezer_get(). */
int cgroup_freezer_set(const char *unit, const char *name, bool freeze) {
        char v1[PATH_MAX], v2[PATH_MAX];
        int r;

        freezer_paths(unit, name, v1, v2);
        r = write_string(v1, freeze ? "FROZEN" : "THAWED");
        if (r != -ENOENT)
                return r;
        return write_string(v2, freeze ? "1" : "0");
}

/* 1 frozen, 0 thawed, -EAGAIN while freezing. */
int cgroup_freezer_get(const char *unit, const char *name) {
        _cleanup_free_ char *s = NULL;
        char v1[PATH_MAX], v2[PATH_MAX];
        uint64_t frozen;
        int r;

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
