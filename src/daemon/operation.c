/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>

#include "bus-errors.h"
#include "bus-limits.h"
#include "daemon.h"
#include "log.h"
#include "names.h"
#include "util.h"

static const char *const kind_table[_OPERATION_KIND_MAX] = {
        [OPERATION_CREATE] = "create",   [OPERATION_START] = "start",   [OPERATION_STOP] = "stop",
        [OPERATION_RESTART] = "restart", [OPERATION_DELETE] = "delete", [OPERATION_FREEZE] = "freeze",
        [OPERATION_UNFREEZE] = "unfreeze", [OPERATION_EXEC] = "exec",
};

static const char *const status_table[_OPERATION_STATUS_MAX] = {
        [OPERATION_RUNNING] = "running",
        [OPERATION_SUCCESS] = "success",
        [OPERATION_FAILURE] = "failure",
        [OPERATION_CANCELLED] = "cancelled",
};

const char *operation_kind_to_string(OperationKind k) {
        return k >= 0 && k < _OPERATION_KIND_MAX ? kind_table[k] : NULL;
}

const char *operation_status_to_string(OperationStatus s) {
        return s >= 0 && s < _OPERATION_STATUS_MAX ? status_table[s] : NULL;
}

static struct LimiterUid *limiter_find(const Limiter *l, uid_t uid) {
        for (size_t k = 0; k < l->n_uids; k++)
                if (l->uids[k].uid == uid)
                        return l->uids + k;
        return NULL;
}

unsigned limiter_count(const Limiter *l, uid_t uid) {
        struct LimiterUid *u = limiter_find(l, uid);
        return u ? u->n : 0;
}

int limiter_take(Limiter *l, uid_t uid, sd_bus_error *error) {
        struct LimiterUid *u = limiter_find(l, uid);

        if (l->n >= l->max)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED, "Too many %s (%u at most).", l->what,
                                         l->max);
        if (uid != 0 && l->n_users >= l->max - l->reserve)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many %s (%u at most for all users but root together).", l->what,
                                         l->max - l->reserve);
        if (u && u->n >= l->per_uid)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED, "Too many %s for uid %u (%u at most).",
                                         l->what, (unsigned) uid, l->per_uid);
        if (!u) {
                /* At most max uids hold a slot: the array never grows beyond that. */
                u = reallocarray(l->uids, l->n_uids + 1, sizeof(struct LimiterUid));
                if (!u)
                        return -ENOMEM;
                l->uids = u;
                u = l->uids + l->n_uids++;
                *u = (struct LimiterUid) { .uid = uid };
        }
        u->n++;
        l->n++;
        if (uid != 0)
                l->n_users++;
        return 0;
}

void limiter_put(Limiter *l, uid_t uid) {
        struct LimiterUid *u = limiter_find(l, uid);

        assert(u && u->n > 0 && l->n > 0);
        l->n--;
        if (uid != 0)
                l->n_users--;
        if (--u->n == 0)
                *u = l->uids[--l->n_uids];
}

void limiter_done(Limiter *l) {
        l->uids = mfree(l->uids);
        l->n_uids = 0;
}

Operation *manager_find_operation(Manager *m, uint64_t id) {
        for (Operation *o = m->operations; o; o = o->next)
                if (o->id == id)
                        return o;
        return NULL;
}

int operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name, sd_bus_message *request,
                  OperationReply reply, bool async, Operation **ret, sd_bus_error *error) {
        Operation *o;
        uid_t uid = 0;
        int r;

        if (request) {
                r = bus_get_sender_uid(request, &uid);
                if (r < 0)
                        return r;
        }
        /* A caller's operation takes a slot; the daemon's own (request NULL: an ephemeral instance's
         * delete, say) never fails for want of one. */
        if (request) {
                r = limiter_take(&m->operation_limits, uid, error);
                if (r < 0)
                        return r;
        }

        o = calloc(1, sizeof(Operation));
        if (!o) {
                if (request)
                        limiter_put(&m->operation_limits, uid);
                return -ENOMEM;
        }
        o->counted = request;
        o->manager = m;
        o->id = ++m->next_operation_id;
        o->kind = kind;
        o->status = OPERATION_RUNNING;
        o->uid = uid;
        o->created_at = now_usec(CLOCK_REALTIME);
        o->instance = i ? instance_ref(i) : NULL;
        o->instance_name = strdup(instance_name);
        o->stage = strdup("");
        o->error_name = strdup("");
        o->error_message = strdup("");
        if (asprintf(&o->path, LXCBUS_OPERATION_PREFIX "/%" PRIu64, o->id) < 0)
                o->path = NULL;
        r = instance_path_from_name(instance_name, &o->instance_path);
        if (r < 0 || !o->instance_name || !o->stage || !o->error_name || !o->error_message || !o->path) {
                operation_free(o);
                return r < 0 ? r : -ENOMEM;
        }
        o->reply = reply;
        o->exit_status = -1;
        o->pty_master = -EBADF;
        o->exec_pidfd = -EBADF;
        if (request && !async)
                o->request = sd_bus_message_ref(request);

        o->next = m->operations;
        m->operations = o;
        o->exported = true;
        m->dirty_operations = true;
        manager_mark_dirty(m);
        (void) sd_bus_emit_object_added(m->bus, o->path);

        *ret = o;
        return 0;
}

static int send_reply(Operation *o, sd_bus_message *call, OperationReply kind) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        switch (kind) {
        case OPERATION_REPLY_OP:
                r = sd_bus_message_append(reply, "o", o->path);
                break;
        case OPERATION_REPLY_INSTANCE_OP:
                r = sd_bus_message_append(reply, "oo", o->instance_path, o->path);
                break;
        case OPERATION_REPLY_NONE:
                r = 0;
                break;
        case OPERATION_REPLY_PTY_OP:
                r = o->pty_master >= 0 ? sd_bus_message_append(reply, "ho", o->pty_master, o->path) : -EBADF;
                break;
        }
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int send_result(Operation *o, sd_bus_message *call, OperationReply kind) {
        if (o->status == OPERATION_SUCCESS)
                return send_reply(o, call, kind);
        return sd_bus_reply_method_errorf(call, o->error_name, "%s", o->error_message);
}

/* Called right after an operation was set up for a call: an async call gets the paths now; any other
 * call is answered by the completion (which may have happened already). */
int operation_reply_to(Operation *o, sd_bus_message *call, bool async) {
        if (!async)
                return 0;
        return send_reply(o, call, o->reply);
}

/* Exec answers its call once the process runs, long before the operation finishes. */
int operation_send_early_reply(Operation *o) {
        int r = 0;

        if (o->request) {
                r = send_reply(o, o->request, o->reply);
                o->request = sd_bus_message_unref(o->request);
        }
        /* The reply holds its own copy of the pty master; the daemon keeps none. */
        o->pty_master = safe_close(o->pty_master);
        return r;
}

static int send_process_result(Operation *o, sd_bus_message *call) {
        return sd_bus_reply_method_return(call, "ii", o->exit_status, o->exit_signal);
}

static Waiter *waiter_free(Waiter *w) {
        Operation *o;

        if (!w)
                return NULL;
        o = w->operation;
        for (Waiter **p = &o->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        o->n_waiters--;
        limiter_put(&o->manager->wait_limits, w->uid);
        sd_bus_track_unref(w->track);
        sd_bus_message_unref(w->call);
        free(w);
        return NULL;
}

static int on_waiter_gone(sd_bus_track *t, void *userdata) {
        Waiter *w = userdata;

        log_debug("Caller waiting for operation %" PRIu64 " left.", w->operation->id);
        waiter_free(w);
        return 0;
}

/* Keeps the call to answer later. A waiter whose caller leaves is dropped: it costs nothing after. */
static int waiter_add(Operation *o, sd_bus_message *call, bool process) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Waiter *w;
        uid_t uid;
        int r;

        r = bus_get_sender_uid(call, &uid);
        if (r < 0)
                return r;
        if (o->n_waiters >= WAITS_PER_OPERATION_MAX)
                return sd_bus_reply_method_errorf(call, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                                  "Too many callers wait for operation %" PRIu64 " (%u at most).",
                                                  o->id, WAITS_PER_OPERATION_MAX);
        r = limiter_take(&o->manager->wait_limits, uid, &error);
        if (r < 0)
                return sd_bus_error_is_set(&error) ? sd_bus_reply_method_error(call, &error) : r;
        w = calloc(1, sizeof(Waiter));
        if (!w) {
                limiter_put(&o->manager->wait_limits, uid);
                return -ENOMEM;
        }
        *w = (Waiter) {
                .operation = o,
                .next = o->waiters,
                .call = sd_bus_message_ref(call),
                .uid = uid,
                .process = process,
        };
        o->waiters = w;
        o->n_waiters++;
        r = sd_bus_track_new(o->manager->bus, &w->track, on_waiter_gone, w);
        if (r >= 0)
                r = sd_bus_track_add_sender(w->track, call);
        if (r < 0) {
                /* Most likely the caller is gone already: nobody to answer. */
                log_debug_errno(r, "Failed to track a caller waiting for operation %" PRIu64 ", dropping it: %m", o->id);
                waiter_free(w);
        }
        return 0;
}

/* Answers the waiters: those of Process.Wait() (process) or of Wait() (!process). */
static void reply_waiters(Operation *o, bool process) {
        Waiter *next;

        for (Waiter *w = o->waiters; w; w = next) {
                next = w->next;
                if (w->process != process)
                        continue;
                (void) (process ? send_process_result(o, w->call) : send_result(o, w->call, OPERATION_REPLY_NONE));
                waiter_free(w);
        }
}

/* Process.Wait(): (status, signal) at once when the process has exited, else when it does. */
int process_wait(Operation *o, sd_bus_message *call) {
        if (o->exited || o->status != OPERATION_RUNNING)
                return send_process_result(o, call);
        return waiter_add(o, call, true);
}

/* Signals the exec'd process: through the pidfd the worker sent, which stays this process's even once
 * the worker has reaped it and the pid is another's. The bare pid only without pidfds (valgrind). */
int process_send_signal(Operation *o, int sig) {
        if (o->exited || o->exec_pid <= 0 || !o->worker)
                return -ESRCH;
        if (o->exec_pidfd >= 0) {
                if (pidfd_send_signal(o->exec_pidfd, sig, NULL, 0) >= 0)
                        return 0;
                if (errno != ENOSYS)
                        return -errno;
        }
        return kill(o->exec_pid, sig) < 0 ? -errno : 0;
}

void process_exited(Operation *o, int status, int sig) {
        if (o->exited)
                return;
        o->exited = true;
        o->exec_pidfd = safe_close(o->exec_pidfd);
        o->exit_status = status;
        o->exit_signal = sig;
        o->dirty |= OPERATION_PROP_PROCESS;
        manager_flush_changes(o->manager);
        (void) sd_bus_emit_signal(o->manager->bus, o->path, "org.lxcbus1.Process", "Exited", "ii", status, sig);
        reply_waiters(o, true);
}

/* Wait(): at once when finished, else at completion. */
int operation_wait(Operation *o, sd_bus_message *call) {
        if (o->status != OPERATION_RUNNING)
                return send_result(o, call, OPERATION_REPLY_NONE);
        return waiter_add(o, call, false);
}

/* However fast callers come, at most OPERATIONS_FINISHED_MAX finished operations are kept: the oldest
 * go first (the list is newest first). */
static void operations_trim_finished(Manager *m) {
        Operation *oldest = NULL;
        unsigned n = 0;

        for (Operation *o = m->operations; o; o = o->next)
                if (o->status != OPERATION_RUNNING) {
                        n++;
                        oldest = o;
                }
        if (n > OPERATIONS_FINISHED_MAX && oldest)
                operation_free(oldest);
}

static int on_linger_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;
        operation_free(o);
        return 0;
}

void operation_finish(Operation *o, const char *error_name, const char *error_message) {
        Manager *m = o->manager;
        char *n = NULL, *msg = NULL;
        int r;

        if (o->status != OPERATION_RUNNING)
                return;

        if (error_name) {
                n = strdup(error_name);
                msg = strdup(error_message ?: "");
                if (n && msg) {
                        utf8_truncate(msg, LXCBUS_OPERATION_TEXT_MAX);   /* may quote a worker */
                        free(o->error_name);
                        free(o->error_message);
                        o->error_name = n;
                        o->error_message = msg;
                } else {
                        free(n);
                        free(msg);
                }
                o->status = streq(error_name, LXCBUS_ERROR_CANCELLED) ? OPERATION_CANCELLED : OPERATION_FAILURE;
        } else {
                o->status = OPERATION_SUCCESS;
                o->progress = 1.0;
        }
        o->finished_at = now_usec(CLOCK_REALTIME);
        o->cancelable = false;
        o->dirty |= OPERATION_PROP_STATUS | OPERATION_PROP_PROGRESS | OPERATION_PROP_FINISHED |
                    OPERATION_PROP_CANCELABLE | OPERATION_PROP_ERROR;
        if (o->counted) {
                o->counted = false;
                limiter_put(&m->operation_limits, o->uid);
        }
        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        o->track = sd_bus_track_unref(o->track);
        if (o->instance && o->instance->lock == o)
                o->instance->lock = NULL;

        char f_op[64], f_verb[64], f_inst[128], f_uid[32];
        snprintf(f_op, sizeof f_op, "LXCBUS_OPERATION=%" PRIu64, o->id);
        snprintf(f_verb, sizeof f_verb, "LXCBUS_VERB=%s", operation_kind_to_string(o->kind));
        snprintf(f_inst, sizeof f_inst, "LXCBUS_INSTANCE=%s", o->instance_name);
        snprintf(f_uid, sizeof f_uid, "LXCBUS_UID=%u", (unsigned) o->uid);
        log_struct(o->status == OPERATION_SUCCESS ? LOG_INFO : LOG_WARNING,
                   FIELDS(f_op, f_verb, f_inst, f_uid), "Operation %" PRIu64 " (%s of '%s') %s%s%s",
                   o->id, operation_kind_to_string(o->kind), o->instance_name, operation_status_to_string(o->status),
                   o->status == OPERATION_SUCCESS ? "" : ": ", o->status == OPERATION_SUCCESS ? "" : o->error_message);

        /* Clients that see the reply must not read stale properties: flush first. */
        manager_flush_changes(m);
        (void) sd_bus_emit_signal(m->bus, o->path, "org.lxcbus1.Operation", "Completed", "sss",
                                  operation_status_to_string(o->status), o->error_name, o->error_message);

        if (o->request) {
                (void) send_result(o, o->request, o->reply);
                o->request = sd_bus_message_unref(o->request);
        }
        reply_waiters(o, false);
        reply_waiters(o, true);

        r = sd_event_add_time_relative(m->event, &o->linger_source, CLOCK_MONOTONIC, m->operation_linger_usec,
                                       USEC_PER_SEC, on_linger_expired, o);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the linger timer of operation %" PRIu64 ", dropping it: %m", o->id);
                operation_free(o);
                return;
        }
        operations_trim_finished(m);
}

void operation_finish_errno(Operation *o, int error, const char *message) {
        const char *name;

        switch (abs(error)) {
        case 0:
                operation_finish(o, NULL, NULL);
                return;
        case ECANCELED:
                name = LXCBUS_ERROR_CANCELLED;
                break;
        case ETIMEDOUT:
                name = LXCBUS_ERROR_TIMEOUT;
                break;
        case EEXIST:
                name = LXCBUS_ERROR_INSTANCE_EXISTS;
                break;
        default:
                name = LXCBUS_ERROR_FAILED;
        }
        operation_finish(o, name, message);
}

void operation_set_progress(Operation *o, double progress, const char *stage) {
        if (progress >= 0 && progress <= 1) {
                o->progress = progress;
                o->progress_valid = true;
                o->dirty |= OPERATION_PROP_PROGRESS;
        }
        if (stage && !streq(stage, o->stage)) {
                char *s = strdup(stage);
                if (s) {
                        utf8_truncate(s, LXCBUS_OPERATION_TEXT_MAX);
                        free(o->stage);
                        o->stage = s;
                        o->dirty |= OPERATION_PROP_STAGE;
                }
        }
        if (o->dirty)
                manager_mark_dirty(o->manager);
}

Operation *operation_free(Operation *o) {
        Manager *m;

        if (!o)
                return NULL;
        m = o->manager;

        if (o->exported) {
                (void) sd_bus_emit_object_removed(m->bus, o->path);
                o->exported = false;
        }
        for (Operation **p = &m->operations; *p; p = &(*p)->next)
                if (*p == o) {
                        *p = o->next;
                        m->dirty_operations = true;
                        manager_mark_dirty(m);
                        break;
                }
        if (o->counted)
                limiter_put(&m->operation_limits, o->uid);
        if (o->instance && o->instance->lock == o)
                o->instance->lock = NULL;
        if (o->worker)
                worker_abandon(o->worker, SIGKILL);
        scope_job_cancel(o->scope_job);
        sd_event_source_disable_unref(o->timeout_source);
        sd_event_source_disable_unref(o->linger_source);
        sd_bus_message_unref(o->request);
        while (o->waiters)
                waiter_free(o->waiters);
        instance_unref(o->instance);
        if (o->create_md) {
                instance_metadata_done(o->create_md);
                free(o->create_md);
        }
        free(o->instance_name);
        free(o->instance_path);
        free(o->path);
        free(o->stage);
        free(o->error_name);
        free(o->error_message);
        free(o->pending_message);
        strv_free(o->command);
        sd_bus_track_unref(o->track);
        safe_close(o->pty_master);
        safe_close(o->exec_pidfd);
        free(o);
        return NULL;
}
