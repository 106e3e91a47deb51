/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls that wait for the removal of a stopped instance's scope (settle-dbus.h). */
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "names.h"
#include "scope.h"
#include "settle-dbus.h"
#include "trace.h"
#include "util.h"

int bus_defer_while_settling(Manager *m, sd_bus_message *message) {
        _cleanup_free_ char *name = NULL;
        const char *iface = sd_bus_message_get_interface(message);
        Instance *i;

        /* Every call passes here: nothing to look up while no scope job runs at all. */
        if (!m->scope_jobs || !iface || !startswith(iface, "org.lxcbus1."))
                return 0;
        if (instance_name_from_path(sd_bus_message_get_path(message), &name) < 0)
                return 0;
        i = manager_find_instance(m, name);
        /* More than SCOPE_JOB_DEFERRED_MAX get Busy, as every call did before. */
        if (!i || !i->scope_stop_job || scope_job_defer(i->scope_stop_job, message) < 0)
                return 0;
        log_debug("%s of '%s' waits until its scope is removed.", strempty(sd_bus_message_get_member(message)),
                  i->name);
        trace_event("call-deferred", i->name);
        return 1;
}
