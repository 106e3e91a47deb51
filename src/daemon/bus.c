/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "names.h"

static int on_name_acquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e) {
                log_error("Failed to acquire the name org.lxcbus1: %s", e->message ?: e->name);
                (void) sd_event_exit(m->event, -EADDRINUSE);
                return 0;
        }
        (void) sd_notifyf(false, "READY=1\nSTATUS=Managing %u instances.", m->n_instances);
        log_info("lxcbusd " PACKAGE_VERSION " ready, %u instances.", m->n_instances);
        return 0;
}

int manager_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_manager(m->bus, NULL, LXCBUS_PATH);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(m->bus, NULL, LXCBUS_PATH, "org.lxcbus1.Manager", manager_vtable, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, LXCBUS_INSTANCE_PREFIX, "org.lxcbus1.Instance", instance_vtable,
                                       instance_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, LXCBUS_INSTANCE_PREFIX, instance_node_enumerator, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, LXCBUS_OPERATION_PREFIX, "org.lxcbus1.Operation",
                                       operation_vtable, operation_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, LXCBUS_OPERATION_PREFIX, "org.lxcbus1.Process", process_vtable,
                                       process_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, LXCBUS_OPERATION_PREFIX, operation_node_enumerator, m);
        if (r < 0)
                return r;
        /* Only the jobs we enqueue are reported to us (systemd tracks the requester): no Subscribe(),
         * so other units' churn never wakes us. */
        r = sd_bus_match_signal_async(m->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                      "org.freedesktop.systemd1.Manager", "JobRemoved", scope_job_removed, NULL, m);
        if (r < 0)
                return r;
        r = sd_bus_request_name_async(m->bus, NULL, "org.lxcbus1", 0, on_name_acquired, m);
        if (r < 0)
                return r;
        return 0;
}
