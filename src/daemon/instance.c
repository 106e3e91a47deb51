/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance model and its lifecycle (instance.h). */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bus-errors.h"
#include "bus-limits.h"
#include "cgroup.h"
#include "cgroup-walk.h"
#include "console.h"
#include "freeze.h"
#include "instance.h"
#include "log.h"
#include "machined.h"
#include "manager.h"
#include "names.h"
#include "network.h"
#include "operation.h"
#include "scope.h"
#include "scope-limits.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

#define STOP_GRACE_USEC (10 * USEC_PER_SEC)
#define STOP_KILL_WAIT_USEC (10 * USEC_PER_SEC)
#define STOP_AFTER_KILL_USEC (3 * USEC_PER_SEC)

static const char *const state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = "stopped",   [INSTANCE_STARTING] = "starting", [INSTANCE_RUNNING] = "running",
        [INSTANCE_STOPPING] = "stopping", [INSTANCE_FROZEN] = "frozen",     [INSTANCE_ERROR] = "error",
};

DEFINE_STRING_TABLE_LOOKUP(instance_state, InstanceState, state_table, _INSTANCE_STATE_MAX, _INSTANCE_STATE_INVALID);

int instance_new(Manager *m, InstanceMetadata *md, Instance **ret) {
        Instance *i;
        int r;

        assert(m);
        assert(md);
        assert(ret);

        i = calloc(1, sizeof(Instance));
        if (!i)
                return -ENOMEM;
        i->n_ref = 1;
        i->manager = m;
        i->monitor_pidfd = -EBADF;
        i->init_pidfd = -EBADF;
        i->incarnation = ++m->last_incarnation;
        i->state = INSTANCE_STOPPED;
        r = instance_path_from_name(md->name, &i->path);
        if (r < 0)
                goto fail;
        r = instance_unit_name(md->name, &i->unit_name);
        if (r < 0)
                goto fail;
        i->name = strdup(md->name);
        if (!i->name) {
                r = -ENOMEM;
                goto fail;
        }
        i->md = *md;
        *md = (InstanceMetadata) {};
        *ret = i;
        return 0;
fail:
        free(i->path);
        free(i->unit_name);
        free(i);
        return r;
}

int instance_new_broken(Manager *m, const char *name, const char *why, Instance **ret) {
        InstanceMetadata md = { .owner = 0 };
        char *e;
        int r;

        assert(m);
        assert(name);
        assert(why);
        assert(ret);

        e = strdup(why);
        md.name = strdup(name);
        if (!e || !md.name) {
                free(e);
                instance_metadata_done(&md);
                return -ENOMEM;
        }
        r = instance_new(m, &md, ret);
        if (r < 0) {
                free(e);
                instance_metadata_done(&md);
                return r;
        }
        (*ret)->load_error = e;
        (*ret)->state = INSTANCE_ERROR;
        return 0;
}

Instance *instance_ref(Instance *i) {
        if (i)
                i->n_ref++;
        return i;
}

static void instance_drop_monitor(Instance *i) {
        /* Closes our handles; the monitor process itself runs on (the daemon may be exiting). */
        i->monitor = worker_release(i->monitor);
        i->exec_wait = sd_event_source_disable_unref(i->exec_wait);
        i->pending_init = 0;
        i->monitor_source = sd_event_source_disable_unref(i->monitor_source);
        i->monitor_pidfd = safe_close(i->monitor_pidfd);
        i->monitor_pid = 0;
}

Instance *instance_unref(Instance *i) {
        if (!i || --i->n_ref > 0)
                return NULL;
        scope_job_cancel(i->scope_stop_job);
        machined_forget(i);
        instance_release_consoles(i);
        instance_drop_monitor(i);
        safe_close(i->init_pidfd);
        instance_metadata_done(&i->md);
        FREE_MANY(i->load_error, i->name, i->path, i->unit_name, i);
        return NULL;
}

void instance_mark_dirty(Instance *i, uint32_t props) {
        assert(i);
        i->dirty |= props;
        manager_mark_dirty(i->manager);
}

void instance_set_state(Instance *i, InstanceState s) {
        assert(i);

        if (i->state == s)
                return;
        log_debug("Instance '%s': %s -> %s", i->name, instance_state_to_string(i->state), instance_state_to_string(s));
        i->state = s;
        instance_mark_dirty(i, INSTANCE_PROP_STATE);
}

static void instance_set_pid(Instance *i, pid_t pid, bool has_unit) {
        if (i->pid != pid) {
                instance_mark_dirty(i, INSTANCE_PROP_PID);
                i->init_pidfd = safe_close(i->init_pidfd);
        }
        if (i->has_unit != has_unit)
                instance_mark_dirty(i, INSTANCE_PROP_UNIT);
        i->pid = pid;
        i->has_unit = has_unit;
}

/* Holds init by pidfd once it runs. It is init if, with the pidfd held, it is still the monitor's child:
 * from then on the pidfd is that process's, whatever happens to its pid. Without pidfds (valgrind),
 * Kill() falls back to the pid. */
static void instance_hold_init(Instance *i, pid_t monitor) {
        pid_t ppid;
        int fd;

        i->init_pidfd = safe_close(i->init_pidfd);
        if (i->pid <= 0)
                return;
        fd = pidfd_open(i->pid, 0);
        if (fd < 0) {
                if (errno != ENOSYS)
                        log_warning_errno(errno, "Failed to hold init %i of '%s', ignoring: %m", (int) i->pid, i->name);
                return;
        }
        if (pid_get_ppid(i->pid, &ppid) < 0 || ppid != monitor) {
                log_warning("Process %i is no longer init of '%s', not holding it.", (int) i->pid, i->name);
                safe_close(fd);
                return;
        }
        i->init_pidfd = fd;
}

int instance_save_metadata(Instance *i) {
        _cleanup_free_ char *path = NULL;

        assert(i);

        /* Its file is what is left of the real metadata: never overwrite it with the stand-in. */
        if (i->load_error)
                return -EBADMSG;
        if (asprintf(&path, "%s/%s/" METADATA_FILE, i->manager->instances_dir, i->name) < 0)
                return -ENOMEM;
        return instance_metadata_save(&i->md, path);
}

void instance_log_operation(Instance *i, const Operation *o, InstanceEvent e, const char *format, ...) {
        char f_inst[128], f_verb[64], f_op[64], f_uid[32], msg[512];
        va_list ap;

        assert(i);
        assert(format);

        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        snprintf(f_inst, sizeof f_inst, "LXCBUS_INSTANCE=%s", i->name);
        snprintf(f_verb, sizeof f_verb, "LXCBUS_VERB=%s", instance_event_verb(e));
        if (o) {
                snprintf(f_op, sizeof f_op, "LXCBUS_OPERATION=%" PRIu64, o->id);
                snprintf(f_uid, sizeof f_uid, "LXCBUS_UID=%u", (unsigned) o->uid);
                log_struct(LOG_INFO, FIELDS(instance_event_message_id(e), f_inst, f_verb, f_op, f_uid), "%s", msg);
        } else
                log_struct(LOG_INFO, FIELDS(instance_event_message_id(e), f_inst, f_verb), "%s", msg);
}

void instance_unlink(Instance *i) {
        Manager *m = ASSERT_PTR(i)->manager;

        if (!i->linked)
                return;
        MANAGER_HOOK(m, instance_removed, i);
        for (Instance **p = &m->instances; *p; p = &(*p)->next)
                if (*p == i) {
                        *p = i->next;
                        break;
                }
        i->linked = false;
        if (m->find_hint == i)
                m->find_hint = NULL;
        m->n_instances--;
        m->dirty_instances = true;
        manager_mark_dirty(m);
        instance_unref(i);
}

/* ---------------------------------------------------------------- the lock */

InstanceBusy instance_busy(const Instance *i) {
        assert(i);

        if (i->lock)
                return INSTANCE_BUSY_OPERATION;
        if (i->scope_stop_job)
                return INSTANCE_BUSY_SCOPE_STOP;
        if (IN_SET(i->state, INSTANCE_STARTING, INSTANCE_STOPPING))
                return INSTANCE_BUSY_TRANSITION;
        return INSTANCE_IDLE;
}

void instance_lock(Instance *i, Operation *o) {
        assert(i);
        assert(o);
        assert(!i->lock || i->lock == o);
        i->lock = o;
}

void instance_unlock(Instance *i, Operation *o) {
        if (i && i->lock == o)
                i->lock = NULL;
}

/* Whether init (an O_PATH fd) is systemd: the same file as the tree's /usr/lib/systemd/systemd or
 * /lib/systemd/systemd, resolved inside as init was. Debian's /sbin/init is a symlink to it
 * (systemd-sysv); comparing inodes, not link targets, also catches a relative link, a chain of links
 * or a hard link, and never reads a name the instance wrote. */
static bool init_is_systemd(int root, int init, const struct open_how *how) {
        struct stat st, sd;

        if (fstat(init, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        FOREACH_STRING(p, "usr/lib/systemd/systemd", "lib/systemd/systemd") {
                _cleanup_close_ int fd = (int) syscall(SYS_openat2, root, p, how, sizeof *how);

                if (fd >= 0 && fstat(fd, &sd) >= 0 && st.st_dev == sd.st_dev && st.st_ino == sd.st_ino)
                        return true;
        }
        return false;
}

/* An instance without an init (source type "none" gives an empty rootfs) would "start" and stop at
 * once: refuse it up front. The start-host hook reports running just before init is executed.
 *
 * The state directory is root's (and may be a symlink an admin made); below it, the instance directory
 * and rootfs/ are ours, never followed. The rootfs is the instance's: /sbin/init is resolved as the
 * instance would (RESOLVE_IN_ROOT: an absolute symlink or ".." stays inside), never across a mount
 * point (RESOLVE_NO_XDEV: nothing the instance links to can be a mount that hangs) and never through
 * /proc magic links. What is left is a lookup in the host filesystem that holds the rootfs, bounded by
 * the kernel's 40 symlinks. */
/* The tree rel (under dir) as the instance would boot it: INSTANCE_INIT_SYSTEMD if its /sbin/init is
 * systemd, INSTANCE_INIT_OTHER for any other init, -ENOEXEC if it has none; INSTANCE_INIT_OTHER too
 * when that cannot be told (a mount inside the rootfs, no openat2): liblxc is the judge. */
static int tree_has_init(int dir, const char *rel) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int root = -EBADF, init = -EBADF;
        struct stat st;

        if (dir >= 0)
                root = openat(dir, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root >= 0) {
                init = (int) syscall(SYS_openat2, root, "sbin/init", &how, sizeof how);
                if (init >= 0)
                        return init_is_systemd(root, init, &how) ? INSTANCE_INIT_SYSTEMD : INSTANCE_INIT_OTHER;
                /* Without openat2 (valgrind), as lstat() did: the last component is not followed. */
                if (errno == ENOSYS && fstatat(root, "sbin/init", &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return INSTANCE_INIT_OTHER;
        }
        if ((root < 0 || init < 0) && IN_SET(errno, ENOENT, ENOTDIR, ELOOP))
                return -ENOEXEC;
        return INSTANCE_INIT_OTHER;
}

int instance_check_bootable(Instance *i) {
        _cleanup_close_ int dir = -EBADF;
        _cleanup_free_ char *rel = NULL, *lower = NULL;
        int r;

        assert(i);

        dir = open(i->manager->instances_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        /* An overlay clone's rootfs is a mount point until it starts: its upper layer, then its lower one
         * (an init the upper layer deleted, a whiteout, is left to liblxc). */
        if (asprintf(&rel, "%s/%s", i->name, i->md.overlay_instance ? OVERLAY_UPPER_DIR : "rootfs") < 0)
                return -ENOMEM;
        r = tree_has_init(dir, rel);
        if (r != -ENOEXEC || !i->md.overlay_instance)
                return r;
        if (asprintf(&lower, "%s/snapshots/%s/rootfs", i->md.overlay_instance, i->md.overlay_snapshot) < 0)
                return -ENOMEM;
        return tree_has_init(dir, lower);
}

/* ---------------------------------------------------------------- the monitor (start worker) */

static void start_phase(Operation *o);
static void stop_phase(Operation *o, unsigned timeout_sec);
static void destroy_phase(Operation *o);
static void stop_phase_check(Operation *o);
static void ephemeral_delete(Instance *i);

static void instance_after_stop(Instance *i) {
        Operation *o = i->lock;
        bool told = i->stop_told;

        i->stop_told = false;
        if (o && o->step == OPERATION_STEP_STOP) {
                stop_phase_check(o);
                return;
        }
        if (!told)
                instance_log(i, INSTANCE_EVENT_ENDED, "Instance '%s' stopped.", i->name);
        if (i->md.ephemeral && !o && i->linked)
                ephemeral_delete(i);
}

static void on_scope_gone(Manager *m, int error, const char *message, void *userdata) {
        Instance *i = userdata;

        i->scope_stop_job = NULL;
        trace_event("scope-gone", i->name);
        if (error != 0)
                log_warning("Failed to stop %s, ignoring: %s", i->unit_name, message);
        /* systemd removed the scope where it manages the hierarchy; the rest is liblxc's leftovers in
         * freezer, cpuset, cpuacct (cgroup.c). */
        scope_cleanup_cgroups(i->unit_name);
        instance_set_pid(i, 0, false);
        instance_ref(i);
        instance_after_stop(i);
        instance_unref(i);
}

/* The monitor exited: the container is down. Stop the scope (it may still hold stray processes) and
 * wait until systemd has removed it, so a new start finds the name free and no cgroup is left. A Stop
 * is answered before that (stop_phase_check()); calls that come meanwhile wait (settle-dbus.h). */
static void instance_on_stopped(Instance *i, const char *why) {
        Operation *o = i->lock;
        int r;

        /* Normally the monitor reaped init before it exited. If it did not (it was killed: a Stop that
         * escalated to the scope's kill, or it crashed), or we do not know (no pidfd of init), init may
         * still run: then only the scope's removal tells that every process of it is gone. */
        i->init_gone = pidfd_exited(i->init_pidfd);
        machined_unregister(i);
        instance_drop_monitor(i);
        instance_release_consoles(i);
        /* The scope is the running instance's: going away now, it is no longer its Unit. */
        instance_set_pid(i, 0, false);
        instance_set_state(i, INSTANCE_STOPPED);

        if (o && (o->step == OPERATION_STEP_START_SCOPE || o->step == OPERATION_STEP_START_RUNNING)) {
                /* A start we gave up on (timeout, no scope) ends here, once the worker is gone and the
                 * state is true again: with the reason we gave up. */
                if (o->lifecycle.pending_message)
                        operation_fail(o, o->lifecycle.pending_error, "%s", o->lifecycle.pending_message);
                else
                        operation_fail(o, -EIO, "Instance '%s' stopped while starting%s%s", i->name, why ? ": " : ".",
                                strempty(why));
        }

        if (!i->scope_owned) {
                /* The start failed before the scope was ours (say the name is taken by a unit that is
                 * not ours): never stop or clean up someone else's unit. */
                instance_set_pid(i, 0, false);
                instance_ref(i);
                instance_after_stop(i);
                instance_unref(i);
                return;
        }
        i->scope_owned = false;
        r = scope_stop(i->manager, i->unit_name, on_scope_gone, i, &i->scope_stop_job);
        if (r < 0) {
                log_warning_errno(r, "Failed to ask systemd to stop %s, ignoring: %m", i->unit_name);
                on_scope_gone(i->manager, 0, NULL, i);
                return;
        }
        trace_event("scope-stop-requested", i->name);
        if (o && o->step == OPERATION_STEP_STOP)
                stop_phase_check(o);
}

static void instance_became_running(Instance *i, pid_t pid) {
        Operation *o = i->lock;

        trace_event("init-execed", i->name);
        instance_set_pid(i, pid, true);
        instance_hold_init(i, i->monitor_pid);
        instance_set_state(i, INSTANCE_RUNNING);
        i->md.last_used_at = now_usec(CLOCK_REALTIME);
        instance_mark_dirty(i, INSTANCE_PROP_LAST_USED);
        (void) instance_save_metadata(i);
        instance_log(i, INSTANCE_EVENT_STARTED, "Instance '%s' is running, init pid %i, unit %s.", i->name, pid,
                      i->unit_name);
        machined_register(i);
        if (o && o->step == OPERATION_STEP_START_RUNNING)
                operation_finish(o, NULL, NULL);
}

/* 1 once pid runs another program than the monitor: init has been executed. */
static int init_has_execed(pid_t init, pid_t monitor) {
        char a[64], b[64];
        struct stat sa, sb;

        snprintf(a, sizeof a, "/proc/%i/exe", (int) init);
        snprintf(b, sizeof b, "/proc/%i/exe", (int) monitor);
        if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
                return -errno;
        return sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino;
}

/* The start-host hook runs just before liblxc executes init. A SIGKILL to init in that window can
 * leave liblxc's monitor waiting forever, and a signal to init before it runs is lost: so "running"
 * means init has been executed. Checked at once, then on a short backoff timer (0.25 ms doubling to 2 ms:
 * liblxc executes init about a millisecond after the hook) that runs only during a start, for 5 s at most. */
static int on_exec_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;
        pid_t pid = i->pending_init;
        int r;

        r = init_has_execed(pid, i->monitor_pid);
        if (r != 0 || now_usec(CLOCK_MONOTONIC) >= i->exec_deadline) {
                if (r == 0)
                        log_warning("Init of '%s' (pid %i) was not executed within 5 s, calling it running.", i->name,
                                    (int) pid);
                i->exec_wait = sd_event_source_disable_unref(i->exec_wait);
                i->pending_init = 0;
                instance_became_running(i, pid);
                return 0;
        }
        i->exec_checks++;
        r = sd_event_source_set_time_relative(i->exec_wait,
                                              125 << (i->exec_checks < 5 ? i->exec_checks : 4));
        if (r >= 0)
                r = sd_event_source_set_enabled(i->exec_wait, SD_EVENT_ONESHOT);
        if (r < 0) {
                i->exec_wait = sd_event_source_disable_unref(i->exec_wait);
                instance_became_running(i, pid);
        }
        return 0;
}

static void on_monitor_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        Instance *i = userdata;
        Operation *o = i->lock;

        if (msg->kind == WORKER_MESSAGE_RUNNING) {
                pid_t pid = msg->pid;
                int r;

                if (pid <= 0 || i->pending_init > 0 || i->state == INSTANCE_RUNNING)
                        return;
                trace_event("hook-running", i->name);
                i->pending_init = pid;
                i->exec_checks = 0;
                i->exec_deadline = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
                r = sd_event_add_time_relative(i->manager->event, &i->exec_wait, CLOCK_MONOTONIC, 0, 1, on_exec_check, i);
                if (r < 0) {
                        i->pending_init = 0;
                        instance_became_running(i, pid);
                }
        } else if (msg->kind == WORKER_MESSAGE_PROGRESS && o)
                operation_set_progress(o, msg->progress, msg->text);
}

static void on_monitor_exited(Worker *w, int error, const char *message, void *userdata) {
        Instance *i = userdata;
        /* message belongs to the worker, which instance_on_stopped() frees first. */
        _cleanup_free_ char *why = error && message ? strdup(message) : NULL;

        trace_event("monitor-exited", i->name);

        instance_ref(i);
        instance_on_stopped(i, why);
        instance_unref(i);
}

static const WorkerHandlers monitor_handlers = {
        .message = on_monitor_message,
        .exited = on_monitor_exited,
};

static int on_adopted_monitor_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;

        instance_ref(i);
        instance_on_stopped(i, NULL);
        instance_unref(i);
        return 0;
}

/* After a daemon restart: if the instance runs, watch its monitor by pidfd. Returns 1 if running. */
int instance_adopt_running(Instance *i) {
        pid_t monitor, init;
        bool frozen;
        int r, fd;

        assert(i);

        r = scope_find_running(i->unit_name, i->name, &monitor, &init, &frozen);
        if (r < 0)
                return 0;
        fd = pidfd_open(monitor, 0);
        if (fd < 0)
                return errno == ESRCH ? 0 : -errno;
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        r = sd_event_add_io(i->manager->event, &i->monitor_source, fd, EPOLLIN, on_adopted_monitor_exit, i);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        i->monitor_pidfd = fd;
        i->monitor_pid = monitor;
        i->scope_owned = true;
        instance_set_pid(i, init, true);
        instance_hold_init(i, monitor);
        instance_set_state(i, freeze_recover(i, frozen) > 0 ? INSTANCE_FROZEN : INSTANCE_RUNNING);
        machined_register(i);   /* once machined_watch() knows machined's owner, if not now */
        return 1;
}

/* A daemon killed in the middle of a start or a stop leaves the scope to nobody: systemd's unit if it is
 * still there (a start whose init had not run yet is not picked up), and liblxc's leftovers in freezer,
 * cpuset and cpuacct (on_scope_gone() never ran). At startup, an instance not picked up as running whose
 * scope has cgroups gets them removed as after any stop: the unit stopped (a Start meanwhile is Busy),
 * then the cgroups. */
static void on_stale_scope_gone(Manager *m, int error, const char *message, void *userdata) {
        Instance *i = userdata;

        i->scope_stop_job = NULL;
        if (error != 0)
                log_warning("Failed to stop %s, ignoring: %s", i->unit_name, message);
        scope_cleanup_cgroups(i->unit_name);
}

void instance_clean_stale_scope(Instance *i) {
        int r;

        assert(i);
        assert(i->monitor_pidfd < 0);

        if (i->scope_stop_job)
                return;
        r = scope_stop(i->manager, i->unit_name, on_stale_scope_gone, i, &i->scope_stop_job);
        if (r < 0) {
                log_warning_errno(r, "Failed to ask systemd to stop %s, ignoring: %m", i->unit_name);
                scope_cleanup_cgroups(i->unit_name);
        }
}

/* ---------------------------------------------------------------- start */

/* A start or a stop that cannot arm its timeout goes on without one (only a hung monitor would keep it
 * waiting then). */
static void lifecycle_arm_timeout(Operation *o, uint64_t usec, sd_event_time_handler_t handler, const char *what) {
        int r = operation_arm_timeout(o, usec, handler);

        if (r < 0)
                log_warning_errno(r, "Failed to arm the %s timeout of '%s', ignoring: %m", what, o->instance->name);
}

/* Records why a start failed; the operation finishes when the monitor is gone (instance_on_stopped), so
 * the caller never sees the error while the instance is still "starting". */
static void start_give_up(Operation *o, int error, const char *format, ...) _printf_(3, 4);
static void start_give_up(Operation *o, int error, const char *format, ...) {
        va_list ap;
        char *m;

        if (o->lifecycle.pending_message)
                return;
        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        o->lifecycle.pending_error = error;
        o->lifecycle.pending_message = m;
        if (!m || !o->instance->monitor)
                operation_fail(o, error, "%s", m ? m : "Out of memory.");
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;
        Instance *i = o->instance;

        /* Give up. Before the scope exists the worker has started nothing: kill it. Afterwards kill
         * the whole scope (monitor and payload); the monitor's exit then cleans up as for any stop. */
        if (o->step == OPERATION_STEP_START_RUNNING)
                (void) scope_kill(o->manager, i->unit_name, SIGKILL);
        else if (i->monitor)
                worker_kill(i->monitor, SIGKILL);
        start_give_up(o, -ETIMEDOUT, "Instance '%s' did not reach running within %u s.", i->name, o->lifecycle.timeout_sec);
        return 0;
}

static void on_scope_ready(Manager *m, int error, const char *message, void *userdata) {
        Operation *o = userdata;
        Instance *i = o->instance;
        int r;

        o->scope_job = NULL;
        trace_event("scope-ready", i->name);
        if (error != 0) {
                if (i->monitor)
                        worker_kill(i->monitor, SIGKILL);
                start_give_up(o, -EIO, "Failed to start instance '%s': %s", i->name, message);
                return;
        }
        i->scope_owned = true;
        operation_set_progress(o, 0.3, "starting container");
        o->step = OPERATION_STEP_START_RUNNING;
        r = i->monitor ? worker_send(i->monitor, WORKER_MESSAGE_GO) : -ESRCH;
        if (r < 0)
                operation_fail(o, r, "Failed to start instance '%s': the start worker is gone.", i->name);
}

/* The network of the start. Without network.hwaddr the MAC address comes from the instance's creation
 * time (network.h): the same at every start, so the instance keeps its DHCP lease, and new for a copy or
 * an import, which are created anew; Config stays what the user set. hwaddr holds it for the request. */
static int start_network(Instance *i, char hwaddr[static NETWORK_HWADDR_LEN], NetworkSettings *ret,
                         char **ret_message) {
        int r;

        r = network_settings_from_config(&i->md.config, ret, ret_message);
        if (r < 0 || !ret->link)
                return r;
        if (!ret->hwaddr) {
                hwaddr_derive(i->md.created_at, hwaddr);
                ret->hwaddr = hwaddr;
        }
        /* liblxc says only "Failed to start" for a link that is not there: say which and why first. */
        r = network_link_check(ret);
        if (r < 0 && ret_message &&
            asprintf(ret_message, r == -ENOTDIR ? "'%s' (config key 'network.bridge') is not a bridge."
                                                : "There is no interface '%s' (config key 'network.%s') on the host.",
                     ret->link, streq(ret->type, "veth") ? "bridge" : "parent") < 0)
                *ret_message = NULL;
        return r < 0 ? -EINVAL : 0;   /* a config mistake: InvalidConfig, never a System.Error */
}

static void start_phase(Operation *o) {
        Instance *i = o->instance;
        Manager *m = o->manager;
        _cleanup_free_ char *cgdir = NULL, *msg = NULL;
        char hwaddr[NETWORK_HWADDR_LEN];
        LimitsSupport support;
        LimitsPayload payload;
        NetworkSettings net;
        int r;

        if (asprintf(&cgdir, "machine.slice/%s", i->unit_name) < 0) {
                operation_fail(o, -ENOMEM, "Out of memory.");
                return;
        }
        r = start_network(i, hwaddr, &net, &msg);
        if (r >= 0)
                r = limits_check_host(&i->md.config, &msg);
        if ((r == -EINVAL || r == -EOPNOTSUPP) && msg) {
                _cleanup_free_ char *text = NULL;

                operation_finish(o, r == -EINVAL ? LXCBUS_ERROR_INVALID_CONFIG : LXCBUS_ERROR_NOT_SUPPORTED,
                                 asprintf(&text, "Cannot start instance '%s': %s", i->name, msg) < 0 ? msg : text);
                return;
        }
        if (r < 0) {
                operation_fail(o, r, "Failed to start instance '%s': %s", i->name, strerror(-r));
                return;
        }

        limits_support_probe("/sys/fs/cgroup", &support);
        limits_payload(&i->md.config, &support, &payload);

        /* Looked up at every start (a Restart too): the init may have been replaced while stopped. */
        WorkerRequest req = {
                .verb = WORKER_VERB_START,
                .lxcpath = m->instances_dir,
                .name = i->name,
                .start = {
                        .cgroup_dir = cgdir,
                        .systemd = instance_check_bootable(i) == INSTANCE_INIT_SYSTEMD,
                        .net_type = net.type,
                        .net_link = net.link,
                        .net_hwaddr = net.hwaddr,
                        .net_mtu = net.mtu,
                        .cgroup_cpus = payload.cpus,
                        .cgroup_memory = payload.memory,
                        .cgroup_memsw = payload.memsw,
                },
        };
        instance_set_state(i, INSTANCE_STARTING);
        operation_set_progress(o, 0.1, "creating scope");
        r = worker_spawn(m, &req, NULL, 0, &monitor_handlers, i, &i->monitor);
        if (r < 0) {
                instance_set_state(i, INSTANCE_STOPPED);
                operation_fail(o, r, "Failed to spawn the start worker for '%s': %s", i->name, strerror(-r));
                return;
        }
        i->monitor_pid = i->monitor->pid;
        /* Its "result" says liblxc is done with the container (it has stopped): no need to wait for its exit. */
        i->monitor->finish_on_result = true;
        o->step = OPERATION_STEP_START_SCOPE;
        r = scope_start(m, i->unit_name, i->monitor->pid, &i->md.config, on_scope_ready, o, &o->scope_job);
        if (r < 0) {
                worker_kill(i->monitor, SIGKILL);
                start_give_up(o, r, "Failed to ask systemd for scope '%s': %s", i->unit_name, strerror(-r));
                return;
        }
        trace_event("scope-requested", i->name);
        lifecycle_arm_timeout(o, (uint64_t) o->lifecycle.timeout_sec * USEC_PER_SEC, on_start_timeout, "start");
}

void instance_start(Instance *i, Operation *o) {
        assert(i);
        assert(o);

        trace_event("start-begin", i->name);
        instance_lock(i, o);
        start_phase(o);
}

/* ---------------------------------------------------------------- stop */

static void on_stop_worker_exited(Operation *o, int error, const char *message) {
        Instance *i = o->instance;

        if (error != 0) {
                /* Still running: back to where it was. */
                if (i->monitor || i->monitor_pidfd >= 0)
                        instance_set_state(i, INSTANCE_RUNNING);
                operation_fail(o, error, "Failed to stop instance '%s': %s", i->name, message);
                return;
        }
        stop_phase_check(o);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;
        Instance *i = o->instance;
        int r;

        if (o->worker) {
                worker_abandon(o->worker, SIGKILL);
                o->worker = NULL;
        }
        if (!o->lifecycle.escalated) {
                /* The monitor does not answer (hung, or SIGSTOPped): kill everything in the scope
                 * through systemd and wait for the monitor's exit. */
                o->lifecycle.escalated = true;
                log_warning("Instance '%s' did not stop in time, killing its scope %s.", i->name, i->unit_name);
                operation_set_progress(o, 0.8, "killing the scope");
                r = scope_kill(o->manager, i->unit_name, SIGKILL);
                if (r >= 0 && operation_arm_timeout(o, STOP_KILL_WAIT_USEC, on_stop_timeout) >= 0) {
                        stop_phase_check(o);
                        return 0;
                }
        }
        if (i->state == INSTANCE_STOPPING)
                instance_set_state(i, INSTANCE_RUNNING);
        operation_fail(o, -ETIMEDOUT, "Instance '%s' did not stop in time.", i->name);
        return 0;
}

/* The stop is complete once the stop worker reported success and the monitor is gone. */
static void stop_phase_check(Operation *o) {
        Instance *i = o->instance;

        if (o->worker || i->monitor || i->monitor_pidfd >= 0)
                return;
        /* The instance is stopped. A Stop is answered now, while systemd removes the scope, if init is
         * known to be gone (instance_on_stopped()); a Restart (which makes the scope again) and a Delete
         * (an ephemeral instance's too, which frees the name) go on once it is gone. */
        if (i->scope_stop_job && (o->kind != OPERATION_STOP || i->md.ephemeral || !i->init_gone))
                return;
        switch (o->kind) {
        case OPERATION_RESTART:
                start_phase(o);
                break;
        case OPERATION_DELETE:
                destroy_phase(o);
                break;
        default:
                i->stop_told = i->scope_stop_job != NULL;
                instance_log(i, INSTANCE_EVENT_STOPPED, "Instance '%s' stopped.", i->name);
                operation_finish(o, NULL, NULL);
        }
        if (i->md.ephemeral && o->kind == OPERATION_STOP && i->linked && !i->lock)
                ephemeral_delete(i);
}

/* What liblxc's stop does, without a worker: thaw, SIGKILL init. The monitor sees init die, cleans up
 * and exits; that exit completes the stop. */
static int instance_kill_now(Instance *i) {
        if (i->state == INSTANCE_FROZEN || cgroup_freezer_get(i->unit_name, i->name) != 0)
                (void) cgroup_freezer_set(i->unit_name, i->name, false);
        return instance_kill(i, SIGKILL, false);
}

static void stop_phase(Operation *o, unsigned timeout_sec) {
        Instance *i = o->instance;
        Manager *m = o->manager;
        WorkerRequest req = {
                .verb = WORKER_VERB_STOP,
                .lxcpath = m->instances_dir,
                .name = i->name,
                .stop.timeout_sec = timeout_sec,
        };
        int r;

        o->step = OPERATION_STEP_STOP;
        instance_set_state(i, INSTANCE_STOPPING);
        operation_set_progress(o, 0.05, timeout_sec > 0 ? "shutting down" : "killing");
        if (timeout_sec == 0 && i->pid > 0 && instance_kill_now(i) >= 0) {
                trace_event("kill-sent", i->name);
                /* The monitor normally exits within milliseconds of init's death. */
                lifecycle_arm_timeout(o, STOP_AFTER_KILL_USEC, on_stop_timeout, "stop");
                return;
        }
        r = operation_spawn_worker(o, &req, NULL, 0, on_stop_worker_exited);
        if (r < 0) {
                instance_set_state(i, INSTANCE_RUNNING);
                operation_fail(o, r, "Failed to spawn the stop worker for '%s': %s", i->name, strerror(-r));
                return;
        }
        lifecycle_arm_timeout(o, (uint64_t) timeout_sec * USEC_PER_SEC + STOP_GRACE_USEC, on_stop_timeout, "stop");
}

void instance_stop(Instance *i, Operation *o) {
        assert(i);
        assert(o);

        trace_event("stop-begin", i->name);
        instance_lock(i, o);
        if (i->state != INSTANCE_STOPPED)
                stop_phase(o, o->lifecycle.force ? 0 : o->lifecycle.timeout_sec);
        else if (o->kind == OPERATION_RESTART)
                start_phase(o);
        else
                operation_finish(o, NULL, NULL);
}

/* ---------------------------------------------------------------- delete */

static void on_destroy_exited(Operation *o, int error, const char *message) {
        Instance *i = o->instance;

        if (error != 0) {
                operation_fail(o, error, "Failed to delete instance '%s': %s", i->name, message);
                return;
        }
        instance_log(i, INSTANCE_EVENT_DELETED, "Instance '%s' deleted.", i->name);
        instance_unlock(i, o);
        instance_unlink(i);
        operation_finish(o, NULL, NULL);
}

static void destroy_phase(Operation *o) {
        Instance *i = o->instance;
        Manager *m = o->manager;
        int r;

        WorkerRequest req = {
                .verb = WORKER_VERB_DESTROY,
                .lxcpath = m->instances_dir,
                .name = i->name,
                .destroy.trash_dir = m->staging_dir,
        };
        o->step = OPERATION_STEP_DESTROY;
        operation_set_progress(o, 0.5, "removing files");
        r = operation_spawn_worker(o, &req, NULL, 0, on_destroy_exited);
        if (r < 0)
                operation_fail(o, r, "Failed to spawn the delete worker for '%s': %s", i->name, strerror(-r));
}

void instance_delete(Instance *i, Operation *o) {
        assert(i);
        assert(o);

        instance_lock(i, o);
        /* A broken instance does not run (the method checked its scope): its files go at once. */
        if (i->state == INSTANCE_STOPPED || i->load_error)
                destroy_phase(o);
        else
                stop_phase(o, 0);
}

static void ephemeral_delete(Instance *i) {
        Operation *o;
        int r;

        r = operation_new(i->manager, OPERATION_DELETE, i, i->name, 0, false, &o);
        if (r < 0) {
                log_warning_errno(r, "Failed to delete ephemeral instance '%s': %m", i->name);
                return;
        }
        instance_delete(i, o);
}

/* ---------------------------------------------------------------- freeze */

static void freeze_done(Operation *o, int error) {
        Instance *i = o->instance;
        bool freeze = o->kind == OPERATION_FREEZE;

        if (error == -ETIMEDOUT) {
                operation_fail(o, error, "Instance '%s' did not %s within %" PRIu64 " s.", i->name,
                               freeze ? "freeze" : "thaw", FREEZE_TIMEOUT_USEC / USEC_PER_SEC);
                return;
        }
        if (error < 0) {
                operation_fail(o, error, "Failed to %s instance '%s': %s", freeze ? "freeze" : "thaw", i->name,
                               strerror(-error));
                return;
        }
        trace_event("freeze-done", i->name);
        instance_set_state(i, freeze ? INSTANCE_FROZEN : INSTANCE_RUNNING);
        instance_log(i, freeze ? INSTANCE_EVENT_FROZEN : INSTANCE_EVENT_THAWED, "Instance '%s' %s.", i->name, freeze ? "frozen" : "thawed");
        operation_finish(o, NULL, NULL);
}

void instance_freeze(Instance *i, Operation *o, bool freeze) {
        assert(i);
        assert(o);

        trace_event(freeze ? "freeze-begin" : "unfreeze-begin", i->name);
        instance_lock(i, o);
        o->step = OPERATION_STEP_WORK;
        freeze_wait(o, i, freeze, freeze_done);
}

/* ---------------------------------------------------------------- kill */
int instance_kill(Instance *i, int sig, bool all) {
        unsigned n = 0;
        int r;

        assert(i);

        if (!all) {
                if (i->init_pidfd >= 0)
                        return pidfd_send_signal(i->init_pidfd, sig, NULL, 0) < 0 ? -errno : 0;
                /* Not held: pidfds unsupported (valgrind), or init was gone before it could be. */
                int fd = pidfd_open(i->pid, 0);
                if (fd < 0 && errno == ENOSYS)   /* old kernels, valgrind */
                        return kill(i->pid, sig) < 0 ? -errno : 0;
                if (fd < 0)
                        return -errno;
                r = pidfd_send_signal(fd, sig, NULL, 0) < 0 ? -errno : 0;
                safe_close(fd);
                return r;
        }
        r = cgroup_kill_payload(i->unit_name, i->name, sig, &n);
        if (r == -E2BIG)
                log_warning("Cgroup tree of '%s' exceeds %u levels or %u cgroups: processes beyond were not "
                            "signalled.", i->name, CGROUP_WALK_DEPTH_MAX, CGROUP_WALK_ENTRIES_MAX);
        else if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to walk the cgroups of '%s', ignoring: %m", i->name);
        return n == 0 ? -ESRCH : 0;
}

/* ---------------------------------------------------------------- create */

/* ---------------------------------------------------------------- config */

int instance_config_merge(Instance *i, const ConfigMap *set, char **unset, ConfigMap *ret, size_t *ret_size) {
        _cleanup_(config_map_done) ConfigMap merged = {};
        int r;

        assert(i);
        assert(set);
        assert(ret);
        assert(ret_size);

        *ret_size = 0;
        r = config_map_copy(&i->md.config, &merged);
        if (r < 0)
                return r;
        for (size_t k = 0; k < set->n; k++) {
                r = config_map_set(&merged, set->entries[k].key, set->entries[k].value);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(k, unset)
                (void) config_map_unset(&merged, *k);

        /* An instance saved before this bound existed may be over it: it can still shrink. */
        size_t merged_size = config_map_stored_size(&merged);
        size_t old_size = config_map_stored_size(&i->md.config);
        if (merged_size > LXCBUS_CONFIG_TOTAL_MAX && merged_size > old_size)
                return -EFBIG;
        if (!manager_data_fits(i->manager, old_size, merged_size))
                return -ENOSPC;

        /* Nothing changes: no write, no new generation, no signal. */
        if (config_map_equal(&merged, &i->md.config))
                return 0;

        /* What is saved must load back after a restart: the bound load applies, checked before. */
        InstanceMetadata candidate = i->md;    /* shallow */
        candidate.config = merged;
        r = instance_metadata_check_size(&candidate, ret_size);
        if (r == -E2BIG)
                return -EMSGSIZE;
        if (r < 0)
                return r;
        *ret = merged;
        merged = (ConfigMap) {};
        return 1;
}

int instance_config_apply(Instance *i, ConfigMap *config) {
        ConfigMap old;
        int r;

        assert(i);
        assert(config);

        /* Write first, then switch: a failed write changes nothing. */
        old = i->md.config;
        i->md.config = *config;
        i->md.generation++;
        r = instance_save_metadata(i);
        if (r < 0) {
                i->md.config = old;
                i->md.generation--;
                return r;
        }
        *config = old;   /* the caller frees what was replaced */
        instance_mark_dirty(i, INSTANCE_PROP_CONFIG);
        if (i->state == INSTANCE_RUNNING && limits_config_differ(config, &i->md.config)) {
                LimitsSupport s;

                r = scope_set_limits(i->manager, i->unit_name, &i->md.config);
                if (r < 0)
                        log_warning_errno(r, "Failed to apply limits to %s live, ignoring: %m", i->unit_name);
                /* What systemd cannot apply on v1 goes to the payload's own cgroup (scope-limits.h). */
                limits_support_probe("/sys/fs/cgroup", &s);
                (void) limits_payload_apply(i->unit_name, i->name, &i->md.config, &s);
        }
        manager_flush_changes(i->manager);
        return 0;
}
