/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "forward.h"
#include "operation.h"

/* org.lxcbus1.Operation and org.lxcbus1.Process: the bus face of operations. */

/* What the method call that started an operation gets as its reply. */
typedef enum OperationReply {
        OPERATION_REPLY_OP,          /* (o operation) */
        OPERATION_REPLY_INSTANCE_OP, /* (o instance, o operation) */
        OPERATION_REPLY_NONE,        /* () */
        OPERATION_REPLY_PTY_OP,      /* (h master, o process) */
} OperationReply;

extern const sd_bus_vtable operation_vtable[];
extern const sd_bus_vtable process_vtable[];
int operation_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                          sd_bus_error *error);
int process_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error);

/* An operation for the call message of uid: takes a slot of the operation limits (LimitsExceeded when
 * there is none) and keeps the call, to be answered with reply when the operation finishes, or at once
 * by bus_operation_reply() if async. */
int bus_operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name,
                      sd_bus_message *message, uid_t uid, OperationReply reply, bool async, Operation **ret,
                      sd_bus_error *error);
/* Right after the operation was set up: an async call gets the paths now; any other call is answered
 * when the operation completes (which may have happened already). Returns what a handler returns. */
int bus_operation_reply(Operation *o, sd_bus_message *message, bool async);
/* Exec with kill-on-disconnect: the process is hung up when the caller of message leaves the bus. */
int bus_process_track_caller(Operation *o, sd_bus_message *message);
/* LimitsExceeded for uid when l has no slot for it (< 0), else 0. */
int bus_limiter_check(const Limiter *l, uid_t uid, sd_bus_error *error);

/* The manager's hooks of operations. */
void operation_bus_added(Operation *o);
void operation_bus_finished(Operation *o);
void operation_bus_removed(Operation *o);
void operation_bus_process_running(Operation *o);
void operation_bus_process_exited(Operation *o);
void operation_bus_emit_changes(Operation *o);
