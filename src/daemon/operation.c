/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations (operation.h): their life from the call that asked to their result, and the linger after. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "autostart.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "freeze.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "names.h"
#include "operation.h"
#include "scope.h"
#include "snapshot.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

static const char *const kind_table[_OPERATION_KIND_MAX] = {
        [OPERATION_CREATE] = "create",   [OPERATION_START] = "start",   [OPERATION_STOP] = "stop",
        [OPERATION_RESTART] = "restart", [OPERATION_DELETE] = "delete", [OPERATION_FREEZE] = "freeze",
        [OPERATION_UNFREEZE] = "unfreeze", [OPERATION_EXEC] = "exec",
        [OPERATION_PUSH_FILE] = "push-file", [OPERATION_PULL_FILE] = "pull-file",
        [OPERATION_SNAPSHOT] = "snapshot", [OPERATION_RESTORE_SNAPSHOT] = "restore-snapshot",
        [OPERATION_DELETE_SNAPSHOT] = "delete-snapshot", [OPERATION_COPY] = "copy",
        [OPERATION_EXPORT] = "export",   [OPERATION_IMPORT] = "import",
        [OPERATION_RENAME] = "rename",
        [OPERATION_START_AUTOSTART] = "start-autostart", [OPERATION_STOP_ALL] = "stop-all",
};

static const char *const status_table[_OPERATION_STATUS_MAX] = {
        [OPERATION_RUNNING] = "running",
        [OPERATION_SUCCESS] = "success",
        [OPERATION_FAILURE] = "failure",
        [OPERATION_CANCELLED] = "cancelled",
};

/* Progress, ProgressValid, Stage, Bytes and Rate of a running operation change as often as its worker
 * reports (a copy of a big tree: every 100 ms, a push: every write). They go out at most this often per
 * operation; Status, Cancelable, FinishedAt, the error and the Process properties go at once and take
 * what waits along, so that the signal with Status=success carries the final Progress and Bytes. The
 * throttle is the model's, as the dirty bits are: the model says what is worth telling and when, the bus
 * face sends what is dirty. Its timer runs only while a change waits: an idle daemon sleeps. */
#define OPERATION_THROTTLE_USEC (100 * USEC_PER_MSEC)
/* Rate: bytes per second over about this much of the past, not since the start. */
#define OPERATION_RATE_WINDOW_USEC (2 * USEC_PER_SEC)

DEFINE_STRING_TABLE_LOOKUP(operation_kind, OperationKind, kind_table, _OPERATION_KIND_MAX, _OPERATION_KIND_INVALID);
DEFINE_STRING_TABLE_LOOKUP(operation_status, OperationStatus, status_table, _OPERATION_STATUS_MAX,
                           _OPERATION_STATUS_INVALID);

Operation *manager_find_operation(Manager *m, uint64_t id) {
        assert(m);

        for (Operation *o = m->operations; o; o = o->next)
                if (o->id == id)
                        return o;
        return NULL;
}

static int operation_init_kind(Operation *o) {
        switch (o->kind) {
        case OPERATION_EXEC:
                o->exec = (OperationExec) {
                        .pidfd = -EBADF,
                        .exit_status = -1,
                        .pty_master = -EBADF,
                };
                break;
        case OPERATION_CREATE:
        case OPERATION_IMPORT:
                o->create.md = new0(InstanceMetadata, 1);
                if (!o->create.md)
                        return -ENOMEM;
                break;
        default:
                break;
        }
        return 0;
}

static void operation_done_kind(Operation *o) {
        switch (o->kind) {
        case OPERATION_START:
        case OPERATION_STOP:
        case OPERATION_RESTART:
        case OPERATION_DELETE:
                free(o->lifecycle.pending_message);
                break;
        case OPERATION_CREATE:
        case OPERATION_IMPORT:
                if (o->create.md) {
                        instance_metadata_done(o->create.md);
                        free(o->create.md);
                }
                break;
        case OPERATION_EXEC:
                strv_free(o->exec.argv);
                safe_close(o->exec.pty_master);
                safe_close(o->exec.pidfd);
                break;
        case OPERATION_SNAPSHOT:
        case OPERATION_RESTORE_SNAPSHOT:
        case OPERATION_DELETE_SNAPSHOT:
        case OPERATION_COPY:
                snapshot_operation_done(o);
                break;
        case OPERATION_START_AUTOSTART:
        case OPERATION_STOP_ALL:
                group_operation_done(o);
                break;
        default:
                break;
        }
}

int operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name, uid_t uid, bool counted,
                  Operation **ret) {
        Operation *o;
        int r;

        assert(m);
        assert(kind >= 0 && kind < _OPERATION_KIND_MAX);
        assert(instance_name);
        assert(ret);

        /* A caller's operation takes a slot; the daemon's own (an ephemeral instance's delete, say) never
         * fails for want of one. */
        if (counted) {
                r = limiter_take(&m->operation_limits, uid);
                if (r < 0)
                        return r;
        }
        o = new0(Operation, 1);
        if (!o) {
                if (counted)
                        limiter_put(&m->operation_limits, uid);
                return -ENOMEM;
        }
        o->counted = counted;
        o->manager = m;
        o->id = ++m->next_operation_id;
        o->kind = kind;
        o->status = OPERATION_RUNNING;
        o->uid = uid;
        o->created_at = now_usec(CLOCK_REALTIME);
        o->instance = instance_ref(i);
        o->instance_name = strdup(instance_name);
        o->stage = strdup("");
        o->error_name = strdup("");
        o->error_message = strdup("");
        if (asprintf(&o->path, LXCBUS_OPERATION_PREFIX "/%" PRIu64, o->id) < 0)
                o->path = NULL;
        /* An operation of the manager (StartAutostart, StopAll) works on no instance: "/", D-Bus's "none". */
        if (isempty(instance_name))
                r = (o->instance_path = strdup("/")) ? 0 : -ENOMEM;
        else
                r = instance_path_from_name(instance_name, &o->instance_path);
        if (r >= 0)
                r = operation_init_kind(o);
        if (r < 0 || !o->instance_name || !o->stage || !o->error_name || !o->error_message || !o->path) {
                operation_free(o);
                return r < 0 ? r : -ENOMEM;
        }

        o->next = m->operations;
        m->operations = o;
        m->dirty_operations = true;
        manager_mark_dirty(m);
        MANAGER_HOOK(m, operation_added, o);

        *ret = o;
        return 0;
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
        Manager *m = ASSERT_PTR(o)->manager;
        char *n = NULL, *msg = NULL;
        Operation *parent;
        uint64_t id;
        bool ok;
        int r;

        if (o->status != OPERATION_RUNNING)
                return;
        /* Told last, by id: the linger and the trim below may free o. */
        parent = TAKE_PTR(o->parent);
        id = o->id;
        trace_event("op-finished", o->instance_name);
        freeze_release(o);      /* before anything else sees the result: the instance runs again */

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
        ok = o->status == OPERATION_SUCCESS;
        o->finished_at = now_usec(CLOCK_REALTIME);
        o->cancelable = false;
        o->step = OPERATION_STEP_NONE;
        o->rate = 0;
        operation_mark_dirty(o, OPERATION_PROP_STATUS | OPERATION_PROP_PROGRESS | OPERATION_PROP_FINISHED |
                                OPERATION_PROP_CANCELABLE | OPERATION_PROP_ERROR |
                                (o->bytes_valid ? OPERATION_PROP_BYTES : 0));
        if (o->counted) {
                o->counted = false;
                limiter_put(&m->operation_limits, o->uid);
        }
        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        instance_unlock(o->instance, o);

        char f_op[64], f_verb[64], f_inst[128], f_uid[32];
        snprintf(f_op, sizeof f_op, "LXCBUS_OPERATION=%" PRIu64, o->id);
        snprintf(f_verb, sizeof f_verb, "LXCBUS_VERB=%s", operation_kind_to_string(o->kind));
        snprintf(f_inst, sizeof f_inst, "LXCBUS_INSTANCE=%s", o->instance_name);
        snprintf(f_uid, sizeof f_uid, "LXCBUS_UID=%u", (unsigned) o->uid);
        /* A manager's operation (StartAutostart, StopAll) has no instance: no LXCBUS_INSTANCE (last, so
         * that its place ends the list then). */
        log_struct(o->status == OPERATION_SUCCESS ? LOG_INFO : LOG_WARNING,
                   FIELDS(operation_result_message_id(o->status), f_op, f_verb, f_uid,
                          isempty(o->instance_name) ? NULL : f_inst),
                   "Operation %" PRIu64 " (%s%s%s%s) %s%s%s",
                   o->id, operation_kind_to_string(o->kind), isempty(o->instance_name) ? "" : " of '",
                   o->instance_name, isempty(o->instance_name) ? "" : "'", operation_status_to_string(o->status),
                   o->status == OPERATION_SUCCESS ? "" : ": ", o->status == OPERATION_SUCCESS ? "" : o->error_message);

        /* Clients that see the reply must not read stale properties: flush first. */
        manager_flush_changes(m);
        MANAGER_HOOK(m, operation_finished, o);

        r = sd_event_add_time_relative(m->event, &o->linger_source, CLOCK_MONOTONIC, m->operation_linger_usec,
                                       USEC_PER_SEC, on_linger_expired, o);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the linger timer of operation %" PRIu64 ", dropping it: %m", o->id);
                operation_free(o);
        } else
                operations_trim_finished(m);
        if (parent)
                group_child_finished(parent, id, ok);
}

void operation_finish_errno(Operation *o, int error, const char *message) {
        const char *name;

        assert(o);
        assert(error <= 0);

        switch (-error) {
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

void operation_fail(Operation *o, int error, const char *format, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        operation_finish_errno(o, error == 0 ? -EIO : error, msg);
}

/* What waited for the throttle becomes dirty: it goes out with the next flush. */
static void operation_release_throttled(Operation *o) {
        if (o->throttled == 0)
                return;
        o->dirty |= o->throttled;
        o->throttled = 0;
        o->throttle_last = now_usec(CLOCK_MONOTONIC);
        if (o->throttle_source)
                (void) sd_event_source_set_enabled(o->throttle_source, SD_EVENT_OFF);
}

void operation_mark_dirty(Operation *o, uint32_t props) {
        assert(o);

        o->dirty |= props;
        /* A signal goes out anyway: the progress that waits rides along. */
        operation_release_throttled(o);
        manager_mark_dirty(o->manager);
}

static int on_throttle_over(sd_event_source *s, uint64_t usec, void *userdata) {
        operation_mark_dirty(userdata, 0);
        return 0;
}

/* props changed with progress: at once if the last of them went out long enough ago, else when it has. */
static void operation_mark_throttled(Operation *o, uint32_t props) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), delay;
        int enabled = SD_EVENT_OFF, r;

        o->throttled |= props;
        delay = throttle_delay(now, o->throttle_last, OPERATION_THROTTLE_USEC);
        if (o->status != OPERATION_RUNNING || delay == 0) {
                operation_mark_dirty(o, 0);
                return;
        }
        if (o->throttle_source && sd_event_source_get_enabled(o->throttle_source, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return;         /* armed already */
        if (o->throttle_source) {
                r = sd_event_source_set_time(o->throttle_source, now + delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(o->throttle_source, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(o->manager->event, &o->throttle_source, CLOCK_MONOTONIC, now + delay,
                                      USEC_PER_MSEC, on_throttle_over, o);
        if (r < 0)
                operation_mark_dirty(o, 0);     /* no timer: rather at once than never */
}

void operation_mark_cancelled(Operation *o) {
        assert(o);
        o->step = OPERATION_STEP_CANCELLED;
        o->cancelable = false;
        operation_mark_dirty(o, OPERATION_PROP_CANCELABLE);
}

void operation_cancel_worker(Operation *o) {
        assert(o);
        if (!o->worker)
                return;
        /* Our unreaped child: its pid cannot have been reused. */
        worker_kill(o->worker, SIGKILL);
        operation_mark_cancelled(o);
}

int operation_arm_timeout(Operation *o, uint64_t usec, sd_event_time_handler_t handler) {
        assert(o);
        assert(handler);

        o->timeout_source = sd_event_source_disable_unref(o->timeout_source);
        /* A short poll step must not come late; a deadline may (sd-event coalesces wakeups). */
        return sd_event_add_time_relative(o->manager->event, &o->timeout_source, CLOCK_MONOTONIC, usec,
                                          usec < USEC_PER_SEC ? 1 : USEC_PER_SEC / 10, handler, o);
}

void operation_set_progress(Operation *o, double progress, const char *stage) {
        uint32_t props = 0;

        assert(o);

        if (progress >= 0 && progress <= 1) {
                o->progress = progress;
                o->progress_valid = true;
                props |= OPERATION_PROP_PROGRESS;
        }
        if (stage && !streq(stage, o->stage)) {
                char *s = strdup(stage);
                if (s) {
                        utf8_truncate(s, LXCBUS_OPERATION_TEXT_MAX);
                        free(o->stage);
                        o->stage = s;
                        props |= OPERATION_PROP_STAGE;
                }
        }
        if (props)
                operation_mark_throttled(o, props);
}

void operation_set_bytes(Operation *o, uint64_t done, uint64_t total) {
        uint32_t props = OPERATION_PROP_BYTES;

        assert(o);

        if (o->status != OPERATION_RUNNING)
                return;         /* the final values were sent with the Status */
        done = MAX(done, o->bytes);
        o->bytes = done;
        o->bytes_valid = true;
        o->rate = rate_window_add(&o->rate_window, now_usec(CLOCK_MONOTONIC), done, OPERATION_RATE_WINDOW_USEC);
        if (total > 0) {
                o->progress = MIN(1.0, (double) done / (double) total);
                o->progress_valid = true;
                props |= OPERATION_PROP_PROGRESS;
        }
        operation_mark_throttled(o, props);
}

static void on_operation_worker_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        Operation *o = userdata;

        assert(msg);
        assert(o);

        if (msg->kind == WORKER_MESSAGE_PROGRESS)
                operation_set_progress(o, msg->progress, msg->text);
        else if (msg->kind == WORKER_MESSAGE_BYTES)
                operation_set_bytes(o, msg->bytes, msg->bytes_total);
}

static void on_operation_worker_exited(Worker *w, int error, const char *message, void *userdata) {
        Operation *o = userdata;

        o->worker = worker_free(o->worker);
        o->worker_exited(o, error, message);
}

static const WorkerHandlers operation_worker_handlers = {
        .message = on_operation_worker_message,
        .exited = on_operation_worker_exited,
};

int operation_spawn_worker(Operation *o, const WorkerRequest *req, const int *fds, size_t n_fds,
                           OperationWorkerExited exited) {
        assert(o);
        assert(!o->worker);
        assert(exited);

        o->worker_exited = exited;
        return worker_spawn(o->manager, req, fds, n_fds, &operation_worker_handlers, o, &o->worker);
}

Operation *operation_free(Operation *o) {
        Manager *m;

        if (!o)
                return NULL;
        m = o->manager;

        for (Operation **p = &m->operations; *p; p = &(*p)->next)
                if (*p == o) {
                        MANAGER_HOOK(m, operation_removed, o);
                        *p = o->next;
                        m->dirty_operations = true;
                        manager_mark_dirty(m);
                        break;
                }
        if (o->counted)
                limiter_put(&m->operation_limits, o->uid);
        freeze_release(o);
        instance_unlock(o->instance, o);
        if (o->worker)
                worker_abandon(o->worker, SIGKILL);
        scope_job_cancel(o->scope_job);
        sd_event_source_disable_unref(o->timeout_source);
        sd_event_source_disable_unref(o->linger_source);
        sd_event_source_disable_unref(o->throttle_source);
        instance_unref(o->instance);
        operation_done_kind(o);
        FREE_MANY(o->instance_name, o->instance_path, o->path, o->stage, o->error_name, o->error_message, o);
        return NULL;
}
