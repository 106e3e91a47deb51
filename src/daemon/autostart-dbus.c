/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.StartAutostart and Manager.StopAll (members of manager_vtable): read the options, ask polkit
 * (org.lxcbus1.manage, no instance in the details), create the operation, hand it to autostart.c. */
#include "auth-dbus.h"
#include "autostart.h"
#include "autostart-dbus.h"
#include "bus-options.h"
#include "instance-dbus.h"
#include "manager.h"
#include "operation.h"
#include "operation-dbus.h"
#include "util.h"

typedef struct GroupCall {
        unsigned timeout_sec;
        bool timeout_set;
        int force;
        int async;
        uid_t uid;
} GroupCall;

static int group_call_begin(sd_bus_message *message, Manager *m, bool stop, GroupCall *c, sd_bus_error *error) {
        const BusOption options[] = {
                { "timeout-sec", "u", &c->timeout_sec, &c->timeout_set },
                { "async", "b", &c->async },
                stop ? (BusOption) { "force", "b", &c->force } : (BusOption) {},
                {},
        };
        int r;

        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (c->timeout_set && c->timeout_sec > TIMEOUT_SEC_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'timeout-sec' is too large (%u at most).", TIMEOUT_SEC_MAX);
        if (!stop && c->timeout_set && c->timeout_sec == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Option 'timeout-sec' of StartAutostart must be positive.");
        /* No instance: a rule that lets a user manage one instance (details instance, owner) never
         * matches these, which act on everybody's. */
        r = bus_authorize_full(m, message, NULL, &(AuthRequest) { .owner = UID_INVALID }, error);
        if (r <= 0)
                return r;
        r = bus_get_sender_uid(message, &c->uid);
        if (r < 0)
                return r;
        return 1;
}

static int group_call(sd_bus_message *message, Manager *m, OperationKind kind, sd_bus_error *error) {
        bool stop = kind == OPERATION_STOP_ALL;
        GroupCall c = { .timeout_sec = stop ? DEFAULT_STOP_TIMEOUT_SEC : DEFAULT_START_TIMEOUT_SEC };
        Operation *o;
        int r;

        r = group_call_begin(message, m, stop, &c, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_operation_new(m, kind, NULL, "", message, c.uid, OPERATION_REPLY_OP, c.async, &o, error);
        if (r < 0)
                return r;
        if (stop)
                manager_stop_all(m, o, c.timeout_sec, c.force || c.timeout_sec == 0);
        else
                manager_start_autostart(m, o, c.timeout_sec);
        return bus_operation_reply(o, message, c.async);
}

int method_start_autostart(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return group_call(message, userdata, OPERATION_START_AUTOSTART, error);
}

int method_stop_all(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return group_call(message, userdata, OPERATION_STOP_ALL, error);
}
