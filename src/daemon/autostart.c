/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* StartAutostart and StopAll (autostart.h): an operation of the manager that runs one child operation
 * per instance, a Start or a Stop, through the same instance_start()/instance_stop() as the calls on one
 * instance, so each child takes the instance's lock, logs and shows on the bus as any other. The parent
 * holds no lock; it learns of each child's end from operation_finish() (group_child_finished()). */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "autostart.h"
#include "bus-errors.h"
#include "config.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "scope.h"
#include "util.h"

/* StopAll looks again this often at instances busy with another operation (only while there are). */
#define STOP_ALL_RECHECK_USEC (250 * USEC_PER_MSEC)
/* How long a busy instance whose scope was killed at the deadline may take to be seen stopped. */
#define STOP_ALL_KILL_WAIT_USEC (10 * USEC_PER_SEC)
/* How many instances a failure message names; the rest are counted. */
#define GROUP_NAMES_MAX 8

/* What became of each instance of the group. */
enum {
        GROUP_PENDING,      /* not begun yet (autostart), or busy with another operation (stop-all) */
        GROUP_CHILD,        /* its child operation runs */
        GROUP_DONE,         /* started or stopped, or nothing to do */
        GROUP_SKIPPED,      /* autostart: not stopped, or busy: left alone */
        GROUP_FAILED,
        GROUP_KILLED,       /* stop-all: busy at the deadline, its scope killed; waiting to see it stopped */
};

typedef bool (*group_want_t)(const Instance *i);

static int group_init(Operation *o, group_want_t want) {
        OperationGroup *g = &o->group;
        Manager *m = o->manager;

        g->instances = new0(Instance *, m->n_instances);
        g->results = new0(int, m->n_instances);
        g->children = new0(uint64_t, m->n_instances);
        if (!g->instances || !g->results || !g->children)
                return -ENOMEM;
        for (Instance *i = m->instances; i && g->n < m->n_instances; i = i->next)
                if (!i->load_error && want(i))
                        g->instances[g->n++] = instance_ref(i);
        return 0;
}

void group_operation_done(Operation *o) {
        OperationGroup *g = &o->group;

        for (size_t k = 0; k < g->n; k++) {
                Operation *c = g->children[k] > 0 ? manager_find_operation(o->manager, g->children[k]) : NULL;

                /* A child still running outlives us: it must not tell a freed parent. */
                if (c && c->parent == o)
                        c->parent = NULL;
                instance_unref(g->instances[k]);
        }
        FREE_MANY(g->instances, g->results, g->children);
}

static size_t group_count(const OperationGroup *g, int result) {
        size_t n = 0;

        for (size_t k = 0; k < g->n; k++)
                n += g->results[k] == result;
        return n;
}

static void group_set_progress(Operation *o, const char *stage) {
        OperationGroup *g = &o->group;
        size_t finished = g->n - group_count(g, GROUP_PENDING) - group_count(g, GROUP_CHILD) -
                          group_count(g, GROUP_KILLED);

        operation_set_progress(o, g->n > 0 ? (double) finished / (double) g->n : 1.0, stage);
}

/* The end: failed, naming the instances (and their operations, which linger) that did not make it. */
static void group_finish(Operation *o) {
        OperationGroup *g = &o->group;
        const char *verb = o->kind == OPERATION_STOP_ALL ? "stop" : "start";
        size_t failed = group_count(g, GROUP_FAILED), named = 0;
        char msg[1024];
        size_t len;

        if (o->step == OPERATION_STEP_CANCELLED) {
                snprintf(msg, sizeof msg, "StartAutostart was cancelled after %zu of %zu instances.",
                         g->n - group_count(g, GROUP_PENDING), g->n);
                operation_finish(o, LXCBUS_ERROR_CANCELLED, msg);
                return;
        }
        if (failed == 0) {
                group_set_progress(o, "done");
                operation_finish(o, NULL, NULL);
                return;
        }
        len = (size_t) snprintf(msg, sizeof msg, "%zu of %zu instances did not %s:", failed, g->n, verb);
        for (size_t k = 0; k < g->n && named < GROUP_NAMES_MAX && len < sizeof msg; k++) {
                if (g->results[k] != GROUP_FAILED)
                        continue;
                if (g->children[k] > 0)
                        len += (size_t) snprintf(msg + len, sizeof msg - len, "%s '%s' (operation %" PRIu64 ")",
                                                 named > 0 ? "," : "", g->instances[k]->name, g->children[k]);
                else
                        len += (size_t) snprintf(msg + len, sizeof msg - len, "%s '%s'", named > 0 ? "," : "",
                                                 g->instances[k]->name);
                named++;
        }
        if (len < sizeof msg)
                snprintf(msg + len, sizeof msg - len, failed > named ? ", and %zu more." : ".", failed - named);
        operation_finish(o, LXCBUS_ERROR_FAILED, msg);
}

/* Begins instance k's Start or Stop as a child of o. It may finish at once (a failure): then
 * group_child_finished() has run before this returns. */
static void group_begin_child(Operation *o, size_t k, OperationKind kind, unsigned timeout_sec, bool force) {
        OperationGroup *g = &o->group;
        Instance *i = g->instances[k];
        Operation *c;
        int r;

        /* The daemon's own work, not counted against the caller's limit: the group holds a slot. */
        r = operation_new(o->manager, kind, i, i->name, o->uid, false, &c);
        if (r < 0) {
                log_warning_errno(r, "Failed to begin the %s of '%s': %m", operation_kind_to_string(kind), i->name);
                g->results[k] = GROUP_FAILED;
                return;
        }
        c->parent = o;
        c->lifecycle.timeout_sec = timeout_sec;
        c->lifecycle.force = force;
        g->children[k] = c->id;
        g->results[k] = GROUP_CHILD;
        g->n_running++;
        if (kind == OPERATION_START)
                instance_start(i, c);
        else
                instance_stop(i, c);
}

/* ---------------------------------------------------------------- StartAutostart */

static bool wants_autostart(const Instance *i) {
        return config_autostart(&i->md.config);
}

static int cmp_priority(const void *a, const void *b) {
        const Instance *x = *(Instance *const *) a, *y = *(Instance *const *) b;
        int px = config_autostart_priority(&x->md.config), py = config_autostart_priority(&y->md.config);

        if (px != py)
                return px > py ? -1 : 1;        /* highest first */
        return strcmp(x->name, y->name);
}

static void autostart_next(Operation *o);

/* Begins every instance of the next priority. */
static void autostart_launch(Operation *o) {
        OperationGroup *g = &o->group;
        int priority = config_autostart_priority(&g->instances[g->next]->md.config);
        char stage[64];

        g->first = g->next;
        g->launching = true;
        while (g->next < g->n && config_autostart_priority(&g->instances[g->next]->md.config) == priority) {
                size_t k = g->next++;
                Instance *i = g->instances[k];

                if (i->linked && i->state == INSTANCE_RUNNING && instance_busy(i) == INSTANCE_IDLE)
                        g->results[k] = GROUP_DONE;
                else if (!i->linked || i->state != INSTANCE_STOPPED || instance_busy(i) != INSTANCE_IDLE) {
                        /* Whoever holds it (a Start, a Snapshot, a Delete...) decides what it becomes. */
                        log_info("Autostart leaves instance '%s' alone: it is %s%s.", i->name,
                                 i->linked ? instance_state_to_string(i->state) : "deleted",
                                 instance_busy(i) != INSTANCE_IDLE ? " and busy" : "");
                        g->results[k] = GROUP_SKIPPED;
                } else if (instance_check_bootable(i) == -ENOEXEC) {
                        /* As Start says, without a start that cannot work. */
                        log_warning("Autostart cannot start instance '%s': its rootfs has no /sbin/init.", i->name);
                        g->results[k] = GROUP_FAILED;
                } else
                        group_begin_child(o, k, OPERATION_START, g->timeout_sec, false);
        }
        g->launching = false;
        snprintf(stage, sizeof stage, "starting priority %i", priority);
        group_set_progress(o, stage);
        autostart_next(o);
}

static int on_autostart_delay(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;

        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        if (o->step == OPERATION_STEP_CANCELLED)
                group_finish(o);
        else
                autostart_launch(o);
        return 0;
}

/* After a priority's instances are running or failed: wait the delay they ask for, then the next. */
static void autostart_next(Operation *o) {
        OperationGroup *g = &o->group;
        unsigned delay = 0;
        char stage[64];
        int r;

        if (g->launching || g->n_running > 0 || o->status != OPERATION_RUNNING)
                return;
        if (g->next >= g->n || o->step == OPERATION_STEP_CANCELLED) {
                group_finish(o);
                return;
        }
        for (size_t k = g->first; k < g->next; k++)
                if (g->results[k] == GROUP_DONE && g->children[k] > 0)
                        delay = MAX(delay, config_autostart_delay(&g->instances[k]->md.config));
        if (delay == 0) {
                autostart_launch(o);
                return;
        }
        snprintf(stage, sizeof stage, "waiting %u s (boot.autostart.delay)", delay);
        group_set_progress(o, stage);
        /* From now, not from the loop iteration's cached time (a relative timer's base), which may be
         * earlier than the moment the last instance of the priority ran. */
        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        r = sd_event_add_time(o->manager->event, &o->timeout_source, CLOCK_MONOTONIC,
                              now_usec(CLOCK_MONOTONIC) + (uint64_t) delay * USEC_PER_SEC, USEC_PER_SEC / 10,
                              on_autostart_delay, o);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the autostart delay, not waiting: %m");
                autostart_launch(o);
        }
}

static void autostart_cancel(Operation *o) {
        operation_mark_cancelled(o);
        /* No start running: waiting for a delay, done now. Else once the starts begun have ended. */
        if (o->group.n_running == 0)
                group_finish(o);
}

void manager_start_autostart(Manager *m, Operation *o, unsigned timeout_sec) {
        OperationGroup *g = &o->group;
        int r;

        assert(m);
        assert(o);
        assert(o->kind == OPERATION_START_AUTOSTART);

        r = group_init(o, wants_autostart);
        if (r < 0) {
                operation_fail(o, r, "Failed to list the instances to autostart: %s", strerror(-r));
                return;
        }
        qsort(g->instances, g->n, sizeof(Instance *), cmp_priority);
        g->timeout_sec = timeout_sec;
        o->cancel = autostart_cancel;
        o->cancelable = true;
        operation_mark_dirty(o, OPERATION_PROP_CANCELABLE);
        log_info("Autostart of %zu instance(s).", g->n);
        if (g->n == 0) {
                operation_set_progress(o, 1.0, "nothing to do");
                operation_finish(o, NULL, NULL);
                return;
        }
        autostart_launch(o);
}

/* ---------------------------------------------------------------- StopAll */

static bool needs_stop(const Instance *i) {
        return IN_SET(i->state, INSTANCE_STARTING, INSTANCE_RUNNING, INSTANCE_STOPPING, INSTANCE_FROZEN);
}

static int on_stop_all_recheck(sd_event_source *s, uint64_t usec, void *userdata);

/* Instance k is not stopped by a child of ours (yet): busy with another operation, or killed. Returns
 * true while it has to be waited for. */
static bool stop_all_pending(Operation *o, size_t k, uint64_t now) {
        OperationGroup *g = &o->group;
        Instance *i = g->instances[k];

        if (instance_busy(i) == INSTANCE_IDLE) {
                if (i->state == INSTANCE_STOPPED || !i->linked) {
                        if (g->results[k] == GROUP_KILLED)
                                log_warning("Instance '%s' was killed: it was busy past the StopAll timeout.",
                                            i->name);
                        g->results[k] = GROUP_DONE;
                        return false;
                }
                if (IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN)) {
                        /* What is left of the shared timeout; none left: killed at once. */
                        unsigned left = now < g->deadline ? (unsigned) ((g->deadline - now + USEC_PER_SEC - 1) / USEC_PER_SEC) : 0;

                        group_begin_child(o, k, OPERATION_STOP, left,
                                          g->force || left == 0 || i->state == INSTANCE_FROZEN);
                        return false;
                }
        }
        if (g->results[k] == GROUP_PENDING && now >= g->deadline) {
                /* Still busy (a start that hangs, an export): the shutdown does not wait for it. */
                log_warning("Instance '%s' is still busy at the StopAll timeout, killing its scope %s.", i->name,
                            i->unit_name);
                if (i->has_unit)
                        (void) scope_kill(o->manager, i->unit_name, SIGKILL);
                g->results[k] = GROUP_KILLED;
        } else if (g->results[k] == GROUP_KILLED && now >= g->deadline + STOP_ALL_KILL_WAIT_USEC) {
                log_warning("Instance '%s' did not stop after its scope was killed.", i->name);
                g->results[k] = GROUP_FAILED;
                return false;
        }
        return true;
}

static void stop_all_check(Operation *o) {
        OperationGroup *g = &o->group;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        bool waiting = false;
        int r;

        if (g->launching || o->status != OPERATION_RUNNING)
                return;
        g->launching = true;
        for (size_t k = 0; k < g->n; k++)
                if (IN_SET(g->results[k], GROUP_PENDING, GROUP_KILLED) && stop_all_pending(o, k, now))
                        waiting = true;
        g->launching = false;
        group_set_progress(o, waiting ? "stopping; waiting for busy instances" : "stopping");
        if (waiting) {
                r = operation_arm_timeout(o, STOP_ALL_RECHECK_USEC, on_stop_all_recheck);
                if (r < 0)
                        log_warning_errno(r, "Failed to arm the StopAll recheck, ignoring: %m");
        } else if (g->n_running == 0)
                group_finish(o);
}

static int on_stop_all_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;

        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        stop_all_check(o);
        return 0;
}

void manager_stop_all(Manager *m, Operation *o, unsigned timeout_sec, bool force) {
        OperationGroup *g = &o->group;
        int r;

        assert(m);
        assert(o);
        assert(o->kind == OPERATION_STOP_ALL);

        /* An autostart still under way would start instances behind our back (at shutdown: one whose
         * lxcbusctl was killed). */
        for (Operation *a = m->operations; a; a = a->next)
                if (a->kind == OPERATION_START_AUTOSTART && a->status == OPERATION_RUNNING && a->cancelable &&
                    a->cancel)
                        a->cancel(a);

        r = group_init(o, needs_stop);
        if (r < 0) {
                operation_fail(o, r, "Failed to list the running instances: %s", strerror(-r));
                return;
        }
        g->timeout_sec = timeout_sec;
        g->force = force;
        g->deadline = now_usec(CLOCK_MONOTONIC) + (force ? 0 : (uint64_t) timeout_sec * USEC_PER_SEC);
        log_info("Stopping all %zu running instance(s), %u s each.", g->n, force ? 0 : timeout_sec);
        stop_all_check(o);
}

void group_child_finished(Operation *o, uint64_t child_id, bool ok) {
        OperationGroup *g = &o->group;

        assert(o);
        assert(IN_SET(o->kind, OPERATION_START_AUTOSTART, OPERATION_STOP_ALL));

        for (size_t k = 0; k < g->n; k++)
                if (g->children[k] == child_id && g->results[k] == GROUP_CHILD) {
                        g->results[k] = ok ? GROUP_DONE : GROUP_FAILED;
                        assert(g->n_running > 0);
                        g->n_running--;
                        break;
                }
        if (o->kind == OPERATION_START_AUTOSTART) {
                group_set_progress(o, NULL);
                autostart_next(o);
        } else
                stop_all_check(o);
}
