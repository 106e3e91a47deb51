/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "bus-errors.h"
#include "daemon.h"
#include "log.h"
#include "names.h"
#include "util.h"

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
        Operation *o;
        uint64_t id;

        if (operation_id_from_path(path, &id) < 0)
                return 0;
        o = manager_find_operation(userdata, id);
        if (!o || !o->exported)
                return 0;
        *found = o;
        return 1;
}

int operation_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        size_t n = 0, k = 0;
        char **l;

        for (Operation *o = m->operations; o; o = o->next)
                n++;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Operation *o = m->operations; o; o = o->next) {
                l[k] = strdup(o->path);
                if (!l[k]) {
                        strv_free(l);
                        return -ENOMEM;
                }
                k++;
        }
        *nodes = l;
        return 1;
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;

        if (streq(property, "Kind"))
                return sd_bus_message_append(reply, "s", operation_kind_to_string(o->kind));
        if (streq(property, "Status"))
                return sd_bus_message_append(reply, "s", operation_status_to_string(o->status));
        if (streq(property, "Instance"))
                return sd_bus_message_append(reply, "o", o->instance_path);
        if (streq(property, "Progress"))
                return sd_bus_message_append(reply, "d", o->progress);
        if (streq(property, "ProgressValid"))
                return sd_bus_message_append(reply, "b", o->progress_valid);
        if (streq(property, "Stage"))
                return sd_bus_message_append(reply, "s", o->stage);
        if (streq(property, "Bytes"))
                return sd_bus_message_append(reply, "t", o->bytes);
        if (streq(property, "Rate"))
                return sd_bus_message_append(reply, "t", o->rate);
        if (streq(property, "CreatedAt"))
                return sd_bus_message_append(reply, "t", o->created_at);
        if (streq(property, "FinishedAt"))
                return sd_bus_message_append(reply, "t", o->finished_at);
        if (streq(property, "Cancelable"))
                return sd_bus_message_append(reply, "b", o->cancelable);
        if (streq(property, "StartedByUID"))
                return sd_bus_message_append(reply, "u", (uint32_t) o->uid);
        if (streq(property, "ErrorName"))
                return sd_bus_message_append(reply, "s", o->error_name);
        if (streq(property, "ErrorMessage"))
                return sd_bus_message_append(reply, "s", o->error_message);
        return -EINVAL;
}

void operation_emit_changes(Operation *o) {
        const char *names[16];
        size_t n = 0;

        if (o->dirty & OPERATION_PROP_STATUS)
                names[n++] = "Status";
        if (o->dirty & OPERATION_PROP_PROGRESS) {
                names[n++] = "Progress";
                names[n++] = "ProgressValid";
        }
        if (o->dirty & OPERATION_PROP_STAGE)
                names[n++] = "Stage";
        if (o->dirty & OPERATION_PROP_FINISHED)
                names[n++] = "FinishedAt";
        if (o->dirty & OPERATION_PROP_CANCELABLE)
                names[n++] = "Cancelable";
        if (o->dirty & OPERATION_PROP_ERROR) {
                names[n++] = "ErrorName";
                names[n++] = "ErrorMessage";
        }
        names[n] = NULL;
        bool process = o->dirty & OPERATION_PROP_PROCESS;
        o->dirty = 0;
        if (n > 0 && o->exported)
                (void) sd_bus_emit_properties_changed_strv(o->manager->bus, o->path, "org.lxcbus1.Operation",
                                                           (char **) names);
        if (process && o->exported && o->kind == OPERATION_EXEC)
                (void) sd_bus_emit_properties_changed(o->manager->bus, o->path, "org.lxcbus1.Process", "Pid",
                                                      "ExitStatus", "ExitSignal", NULL);
}

static int method_cancel(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;
        uid_t uid;
        int r;

        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        /* Whoever started an operation may cancel it; anybody else needs the manage action. */
        if (uid != o->uid) {
                /* No binding to the instance needed: operation ids (and so paths) are never reused. */
                r = bus_authorize_full(o->manager, message, NULL,
                                       &(AuthRequest) { .instance = o->instance_name,
                                                        .owner = o->instance ? o->instance->md.owner : o->uid },
                                       error);
                if (r <= 0)
                        return r < 0 ? r : 1;
        }
        if (o->status != OPERATION_RUNNING)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Operation %" PRIu64 " has finished already.",
                                         o->id);
        if (!o->cancelable || !o->cancel)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED, "Operation %" PRIu64 " (%s) cannot be cancelled.",
                                         o->id, operation_kind_to_string(o->kind));
        o->cancel(o);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_wait(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = operation_wait(userdata, message);
        return r < 0 ? r : 1;
}

#define P(name, sig, flags) SD_BUS_PROPERTY(name, sig, property_get, 0, flags)
const sd_bus_vtable operation_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("Kind", "s", SD_BUS_VTABLE_PROPERTY_CONST),
        P("Instance", "o", SD_BUS_VTABLE_PROPERTY_CONST),
        P("Status", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Progress", "d", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("ProgressValid", "b", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Stage", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Bytes", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Rate", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("CreatedAt", "t", SD_BUS_VTABLE_PROPERTY_CONST),
        P("FinishedAt", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Cancelable", "b", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("StartedByUID", "u", SD_BUS_VTABLE_PROPERTY_CONST),
        P("ErrorName", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("ErrorMessage", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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

static int process_property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;

        if (streq(property, "Pid"))
                return sd_bus_message_append(reply, "u", (uint32_t) o->exec_pid);
        if (streq(property, "ExitStatus"))
                return sd_bus_message_append(reply, "i", (int32_t) (o->exited ? o->exit_status : -1));
        if (streq(property, "ExitSignal"))
                return sd_bus_message_append(reply, "i", (int32_t) o->exit_signal);
        if (streq(property, "Command"))
                return sd_bus_message_append_strv(reply, o->command);
        return -EINVAL;
}

static int method_process_signal(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Operation *o = userdata;
        int32_t sig;
        uid_t uid;
        int r;

        r = sd_bus_message_read(message, "i", &sig);
        if (r < 0)
                return r;
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %" PRIi32 ".", sig);
        /* Whoever ran the command may signal it; anybody else needs the exec action for that command. */
        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        if (uid != o->uid) {
                r = bus_authorize_full(o->manager, message, NULL,
                                       &(AuthRequest) { .instance = o->instance_name,
                                                        .owner = o->instance ? o->instance->md.owner : UID_INVALID,
                                                        .argv = o->command, .signal = sig },
                                       error);
                if (r <= 0)
                        return r < 0 ? r : 1;
        }
        r = process_send_signal(o, sig);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Process %" PRIu64 " has exited.", o->id);
        if (r < 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to signal process %" PRIu64 ": %s", o->id,
                                         strerror(-r));
        return sd_bus_reply_method_return(message, NULL);
}

static int method_process_wait(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        int r = process_wait(userdata, message);
        return r < 0 ? r : 1;
}

const sd_bus_vtable process_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Pid", "u", process_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Command", "as", process_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ExitStatus", "i", process_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitSignal", "i", process_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Signal", SD_BUS_ARGS("i", signal), SD_BUS_NO_RESULT, method_process_signal,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_NO_ARGS, SD_BUS_RESULT("i", status, "i", signal), method_process_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Exited", SD_BUS_ARGS("i", status, "i", signal), 0),
        SD_BUS_VTABLE_END
};
