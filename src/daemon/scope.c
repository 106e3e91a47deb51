/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transient scope units for running instances (tests/testhost/README.md): StartTransientUnit with the
 * pid of the start worker, then wait for the job to be done before liblxc may make its cgroups. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "manager.h"
#include "scope.h"
#include "scope-limits.h"
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
        sd_bus_message **deferred;      /* calls that wait for the job's end: scope_job_defer() */
        size_t n_deferred;
};

static void scope_job_unlink(ScopeJob *j) {
        for (ScopeJob **p = &j->manager->scope_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
}

/* Back into the bus's read queue, in the order they came: dispatched from the top on the bus's next turn,
 * after the job's end has been handled (scope_job_complete() frees the job, and so queues them, before it
 * calls done, which runs before the bus reads its queue again). Queueing fails only without memory. */
static void scope_job_release_deferred(ScopeJob *j) {
        for (size_t k = 0; k < j->n_deferred; k++) {
                int r = sd_bus_message_rewind(j->deferred[k], true);
                if (r >= 0)
                        r = sd_bus_enqueue_for_read(j->manager->bus, j->deferred[k]);
                if (r < 0)
                        log_warning_errno(r, "Failed to dispatch %s again, dropping it: %m",
                                          strempty(sd_bus_message_get_member(j->deferred[k])));
                sd_bus_message_unref(j->deferred[k]);
        }
        j->deferred = mfree(j->deferred);
        j->n_deferred = 0;
}

int scope_job_defer(ScopeJob *j, sd_bus_message *m) {
        sd_bus_message **a;

        assert(j);
        assert(m);

        if (j->n_deferred >= SCOPE_JOB_DEFERRED_MAX)
                return -EBUSY;
        a = reallocarray(j->deferred, j->n_deferred + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        j->deferred = a;
        j->deferred[j->n_deferred++] = sd_bus_message_ref(m);
        return 0;
}

static ScopeJob *scope_job_free(ScopeJob *j) {
        if (!j)
                return NULL;
        scope_job_release_deferred(j);
        scope_job_unlink(j);
        sd_bus_slot_unref(j->slot);
        FREE_MANY(j->unit, j->job_path, j);
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

/* The scope's resource limits from the instance config (scope-limits.h), the last entries of an open a(sv)
 * of unit properties, which this closes; with reset, unset keys go back to no limit. */
static int append_limits_and_close(sd_bus_message *msg, const ConfigMap *config, bool reset) {
        LimitsSupport s;
        int r;

        limits_support_probe("/sys/fs/cgroup", &s);
        r = limits_append_properties(msg, config, &s, reset);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(msg);
}

/* At host shutdown systemd stops every unit, the scopes of instances too: their processes get SIGTERM
 * (busybox init reboots on it, systemd ignores it, liblxc's monitor dies of it) and then SIGKILL, with no
 * halt signal to init. lxcbus-shutdown.service stops the instances cleanly first (ExecStop: StopAll):
 * a scope ordered Before= it is stopped after it, when StopAll has returned and the scope is gone already.
 * Wants= pulls the unit in as soon as an instance runs; a unit that is not installed is ignored. Both
 * are dependencies systemd accepts for a transient unit (systemd 252, tested in docs/systemd.md). */
static int append_shutdown_order(sd_bus_message *msg) {
        return sd_bus_message_append(msg, "(sv)(sv)", "Wants", "as", 1, SCOPE_SHUTDOWN_UNIT, "Before", "as", 1,
                                     SCOPE_SHUTDOWN_UNIT);
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
                scope_job_complete(j, -(sd_bus_error_get_errno(e) ?: EIO), msg);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0 || !(j->job_path = strdup(path))) {
                scope_job_complete(j, -EIO, "Bad reply from systemd.");
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

/* A call of systemd's manager: member with the first arguments, of types; the caller appends the rest. */
static int systemd_call_new(Manager *m, sd_bus_message **ret, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", member);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(msg, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(msg);
        return 0;
}

int scope_stop(Manager *m, const char *unit, scope_done_t done, void *userdata, ScopeJob **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        assert(m);
        assert(unit);
        assert(done);

        r = systemd_call_new(m, &msg, "StopUnit", "ss", unit, "replace");
        if (r < 0)
                return r;
        return scope_job_send(m, msg, unit, true, done, userdata, ret);
}

int scope_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        /* Also checked by the bus filter (daemon-dbus.c); a job's end is only systemd's to tell. */
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
                        scope_job_complete(j, -EIO, msg);
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

        assert(m);
        assert(unit);
        assert(done);

        if (asprintf(&description, "lxcbus instance %s", unit) < 0)
                return -ENOMEM;
        r = systemd_call_new(m, &msg, "StartTransientUnit", "ss", unit, "fail");
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
        r = append_shutdown_order(msg);
        if (r < 0)
                return r;
        r = append_limits_and_close(msg, config, false);
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

        assert(m);
        assert(unit);
        assert(config);

        r = systemd_call_new(m, &msg, "SetUnitProperties", "sb", unit, 1);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        r = append_limits_and_close(msg, config, true);
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
        assert(m);
        assert(unit);

        return sd_bus_call_method_async(m->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "KillUnit", on_kill_reply, NULL, "ssi",
                                        unit, "all", sig);
}
