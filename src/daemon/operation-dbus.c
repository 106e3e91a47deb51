/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.lxcbus1.Operation and org.lxcbus1.Process (operation-dbus.h). An operation's bus side is its
 * OperationCall: the call that started it, to answer when it completes (or, for exec, once the process
 * runs), the Wait() and Process.Wait() calls pending on it, and the caller an exec hangs up for. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "auth-dbus.h"
#include "bus-errors.h"
#include "daemon-dbus.h"
#include "exec.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "manager-dbus.h"
#include "names.h"
#include "operation-dbus.h"
#include "util.h"

/* A Wait() or Process.Wait() call: dropped when its caller leaves the bus. */
typedef struct Waiter Waiter;
struct Waiter {
        Operation *operation;
        Waiter *next;
        sd_bus_message *call;
        sd_bus_track *track;
        uid_t uid;
        bool process;
};

struct OperationCall {
        sd_bus_message *request;    /* the call to answer, unless async */
        OperationReply reply;
        Waiter *waiters;
        unsigned n_waiters;
        sd_bus_track *track;        /* exec with kill-on-disconnect: its caller */
};

int bus_limiter_check(const Limiter *l, uid_t uid, sd_bus_error *error) {
        switch (limiter_check(l, uid)) {
        case LIMITER_ALLOWED:
                return 0;
        case LIMITER_FULL:
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED, "Too many %s (%u at most).", l->what,
                                         l->max);
        case LIMITER_USERS_FULL:
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many %s (%u at most for all users but root together).", l->what,
                                         l->max - l->reserve);
        case LIMITER_UID_FULL:
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED, "Too many %s for uid %u (%u at most).",
                                         l->what, (unsigned) uid, l->per_uid);
        }
        assert_not_reached();
}

static OperationCall *operation_call(Operation *o) {
        if (!o->call)
                o->call = new0(OperationCall, 1);
        return o->call;
}

int bus_operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name,
                      sd_bus_message *message, uid_t uid, OperationReply reply, bool async, Operation **ret,
                      sd_bus_error *error) {
        Operation *o;
        int r;

        r = bus_limiter_check(&m->operation_limits, uid, error);
        if (r < 0)
                return r;
        r = operation_new(m, kind, i, instance_name, uid, true, &o);
        if (r < 0)
                return r;
        if (!operation_call(o)) {
                operation_free(o);
                return -ENOMEM;
        }
        o->call->reply = reply;
        if (!async)
                o->call->request = sd_bus_message_ref(message);
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
                r = o->exec.pty_master >= 0 ? sd_bus_message_append(reply, "ho", o->exec.pty_master, o->path) : -EBADF;
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

int bus_operation_reply(Operation *o, sd_bus_message *message, bool async) {
        int r = 0;

        if (async)
                r = send_reply(o, message, o->call->reply);
        return r < 0 ? r : 1;
}

static int send_process_result(Operation *o, sd_bus_message *call) {
        return sd_bus_reply_method_return(call, "ii", o->exec.exit_status, o->exec.exit_signal);
}

static Waiter *waiter_free(Waiter *w) {
        OperationCall *c;

        if (!w)
                return NULL;
        c = w->operation->call;
        for (Waiter **p = &c->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        c->n_waiters--;
        limiter_put(&w->operation->manager->wait_limits, w->uid);
        sd_bus_track_unref(w->track);
        sd_bus_message_unref(w->call);
        return mfree(w);
}

static int on_waiter_gone(sd_bus_track *t, void *userdata) {
        Waiter *w = userdata;

        log_debug("Caller waiting for operation %" PRIu64 " left.", w->operation->id);
        waiter_free(w);
        return 0;
}

/* Keeps the call to answer later. A waiter whose caller leaves is dropped: it costs nothing after. */
static int waiter_add(Operation *o, sd_bus_message *call, bool process, sd_bus_error *error) {
        OperationCall *c;
        Waiter *w;
        uid_t uid;
        int r;

        r = bus_get_sender_uid(call, &uid);
        if (r < 0)
                return r;
        c = operation_call(o);
        if (!c)
                return -ENOMEM;
        if (c->n_waiters >= WAITS_PER_OPERATION_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many callers wait for operation %" PRIu64 " (%u at most).", o->id,
                                         WAITS_PER_OPERATION_MAX);
        r = bus_limiter_check(&o->manager->wait_limits, uid, error);
        if (r < 0)
                return r;
        w = new0(Waiter, 1);
        if (!w)
                return -ENOMEM;
        r = limiter_take(&o->manager->wait_limits, uid);
        if (r < 0) {
                free(w);
                return r;
        }
        *w = (Waiter) {
                .operation = o,
                .next = c->waiters,
                .call = sd_bus_message_ref(call),
                .uid = uid,
                .process = process,
        };
        c->waiters = w;
        c->n_waiters++;
        r = bus_track_sender(o->manager, call, on_waiter_gone, w, &w->track);
        if (r < 0) {
                /* Most likely the caller is gone already: nobody to answer. */
                log_debug_errno(r, "Failed to track a caller waiting for operation %" PRIu64 ", dropping it: %m", o->id);
                waiter_free(w);
        }
        return 1;
}

/* Answers the waiters: those of Process.Wait() (process) or of Wait() (!process). */
static void reply_waiters(Operation *o, bool process) {
        Waiter *next;

        if (!o->call)
                return;
        for (Waiter *w = o->call->waiters; w; w = next) {
                next = w->next;
                if (w->process != process)
                        continue;
                (void) (process ? send_process_result(o, w->call) : send_result(o, w->call, OPERATION_REPLY_NONE));
                waiter_free(w);
        }
}

static int on_caller_gone(sd_bus_track *t, void *userdata) {
        Operation *o = userdata;

        o->call->track = sd_bus_track_unref(o->call->track);
        process_hang_up(o);
        return 0;
}

int bus_process_track_caller(Operation *o, sd_bus_message *message) {
        if (!operation_call(o))
                return -ENOMEM;
        return bus_track_sender(o->manager, message, on_caller_gone, o, &o->call->track);
}

/* ---------------------------------------------------------------- the manager's hooks */

void operation_bus_added(Operation *o) {
        (void) sd_bus_emit_object_added(o->manager->bus, o->path);
}

void operation_bus_finished(Operation *o) {
        (void) sd_bus_emit_signal(o->manager->bus, o->path, "org.lxcbus1.Operation", "Completed", "sss",
                                  operation_status_to_string(o->status), o->error_name, o->error_message);
        if (!o->call)
                return;
        o->call->track = sd_bus_track_unref(o->call->track);
        if (o->call->request) {
                (void) send_result(o, o->call->request, o->call->reply);
                o->call->request = sd_bus_message_unref(o->call->request);
        }
        reply_waiters(o, false);
        reply_waiters(o, true);
}

void operation_bus_removed(Operation *o) {
        (void) sd_bus_emit_object_removed(o->manager->bus, o->path);
        if (!o->call)
                return;
        while (o->call->waiters)
                waiter_free(o->call->waiters);
        sd_bus_message_unref(o->call->request);
        sd_bus_track_unref(o->call->track);
        o->call = mfree(o->call);
}

/* Exec answers its call once the process runs, long before the operation finishes. */
void operation_bus_process_running(Operation *o) {
        if (!o->call || !o->call->request)
                return;
        (void) send_reply(o, o->call->request, o->call->reply);
        o->call->request = sd_bus_message_unref(o->call->request);
}

void operation_bus_process_exited(Operation *o) {
        (void) sd_bus_emit_signal(o->manager->bus, o->path, "org.lxcbus1.Process", "Exited", "ii",
                                  o->exec.exit_status, o->exec.exit_signal);
        reply_waiters(o, true);
}

static int operation_id_from_path(const char *path, uint64_t *ret) {
        _cleanup_free_ char *label = NULL;
        char *end;
        int r;

        r = sd_bus_path_decode(path, LXCBUS_OPERATION_PREFIX, &label);
        if (r <= 0)
                return -ENXIO;
        if (!label[0] || label[0] < '1' || label[0] > '9')
                return -ENXIO;
        errno = 0;
        *ret = strtoull(label, &end, 10);
        return errno || *end ? -ENXIO : 0;
}

int operation_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                          sd_bus_error *error) {
        uint64_t id;

        if (operation_id_from_path(path, &id) < 0)
                return 0;
        *found = manager_find_operation(userdata, id);
        return *found != NULL;
}

static BUS_DEFINE_PROPERTY_GET_ENUM(property_get_kind, operation_kind, OperationKind);
static BUS_DEFINE_PROPERTY_GET_ENUM(property_get_status, operation_status, OperationStatus);

/* OPERATION_PROP_PROCESS is org.lxcbus1.Process's, sent apart. */
static const BusDirtyBit operation_dirty_bits[] = {
        { OPERATION_PROP_STATUS, { "Status" } },
        { OPERATION_PROP_PROGRESS, { "Progress", "ProgressValid" } },
        { OPERATION_PROP_BYTES, { "Bytes", "Rate" } },
        { OPERATION_PROP_STAGE, { "Stage" } },
        { OPERATION_PROP_FINISHED, { "FinishedAt" } },
        { OPERATION_PROP_CANCELABLE, { "Cancelable" } },
        { OPERATION_PROP_ERROR, { "ErrorName", "ErrorMessage" } },
};

void operation_bus_emit_changes(Operation *o) {
        uint32_t dirty = o->dirty;

        o->dirty = 0;
        bus_emit_dirty(o->manager->bus, o->path, "org.lxcbus1.Operation", dirty, operation_dirty_bits,
                       ELEMENTSOF(operation_dirty_bits));
        if ((dirty & OPERATION_PROP_PROCESS) && o->kind == OPERATION_EXEC)
                (void) sd_bus_emit_properties_changed(o->manager->bus, o->path, "org.lxcbus1.Process", "Pid",
                                                      "ExitStatus", "ExitSignal", NULL);
}

/* Whoever started an operation may act on it (cancel it, signal its process); anybody else is asked
 * about with req, which gets the instance's name and owner (or no_instance_owner). No binding to the
 * instance needed: operation ids (and so paths) are never reused. As bus_authorize(). */
static int authorize_on_operation(Operation *o, sd_bus_message *message, AuthRequest req, uid_t no_instance_owner,
                                  sd_bus_error *error) {
        uid_t uid;
        int r;

        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        if (uid == o->uid)
                return 1;
        req.instance = o->instance_name;
        req.owner = o->instance ? o->instance->md.owner : no_instance_owner;
        return bus_authorize_full(o->manager, message, NULL, &req, error);
}

static int method_cancel(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;
        int r;

        /* Anybody but its starter needs the manage action. */
        r = authorize_on_operation(o, message, (AuthRequest) {}, o->uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (o->status != OPERATION_RUNNING)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Operation %" PRIu64 " has finished already.",
                                         o->id);
        if (!o->cancelable || !o->cancel)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED, "Operation %" PRIu64 " (%s) cannot be cancelled.",
                                         o->id, operation_kind_to_string(o->kind));
        o->cancel(o);
        return sd_bus_reply_method_return(message, NULL);
}

/* Wait(): at once when finished, else at completion. */
static int method_wait(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;

        if (o->status != OPERATION_RUNNING)
                return send_result(o, message, OPERATION_REPLY_NONE);
        return waiter_add(o, message, false, error);
}

#define P(name, sig, get, field, flags) SD_BUS_PROPERTY(name, sig, get, offsetof(Operation, field), flags)
const sd_bus_vtable operation_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("Kind", "s", property_get_kind, kind, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Instance", "o", NULL, instance_path, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Status", "s", property_get_status, status, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Progress", "d", NULL, progress, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("ProgressValid", "b", bus_property_get_bool, progress_valid, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Stage", "s", NULL, stage, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Bytes", "t", NULL, bytes, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Rate", "t", NULL, rate, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("CreatedAt", "t", NULL, created_at, SD_BUS_VTABLE_PROPERTY_CONST),
        P("FinishedAt", "t", NULL, finished_at, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Cancelable", "b", bus_property_get_bool, cancelable, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("StartedByUID", "u", NULL, uid, SD_BUS_VTABLE_PROPERTY_CONST),
        P("ErrorName", "s", NULL, error_name, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("ErrorMessage", "s", NULL, error_message, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Cancel", NULL, NULL, method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Wait", NULL, NULL, method_wait, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Completed", SD_BUS_ARGS("s", status, "s", error_name, "s", message), 0),
        SD_BUS_VTABLE_END
};

/* ---------------------------------------------------------------- org.lxcbus1.Process */

int process_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error) {
        Operation *o;
        int r;

        r = operation_object_find(bus, path, interface, userdata, (void **) &o, error);
        if (r <= 0 || o->kind != OPERATION_EXEC)
                return 0;
        *found = o;
        return 1;
}

static int method_process_signal(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;
        int32_t sig;
        int r;

        r = sd_bus_message_read(message, "i", &sig);
        if (r < 0)
                return r;
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %" PRIi32 ".", sig);
        /* Anybody but who ran the command needs the exec action for that command. */
        r = authorize_on_operation(o, message, (AuthRequest) { .argv = o->exec.argv, .signal = sig }, UID_INVALID,
                                   error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_send_signal(o, sig);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Process %" PRIu64 " has exited.", o->id);
        if (r < 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to signal process %" PRIu64 ": %s", o->id,
                                         strerror(-r));
        return sd_bus_reply_method_return(message, NULL);
}

/* Process.Wait(): (status, signal) at once when the process has exited, else when it does. */
static int method_process_wait(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;

        if (o->exec.exited || o->status != OPERATION_RUNNING)
                return send_process_result(o, message);
        return waiter_add(o, message, true, error);
}

const sd_bus_vtable process_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("Pid", "u", NULL, exec.pid, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Command", "as", NULL, exec.argv, SD_BUS_VTABLE_PROPERTY_CONST),
        /* -1 while it runs, and when a signal killed it */
        P("ExitStatus", "i", NULL, exec.exit_status, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("ExitSignal", "i", NULL, exec.exit_signal, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Signal", SD_BUS_ARGS("i", signal), SD_BUS_NO_RESULT, method_process_signal,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_NO_ARGS, SD_BUS_RESULT("i", status, "i", signal), method_process_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Exited", SD_BUS_ARGS("i", status, "i", signal), 0),
        SD_BUS_VTABLE_END
};
