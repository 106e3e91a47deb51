/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running instances in systemd-machined (machined.h): RegisterMachine with init as the leader, so that
 * machined finds the scope as the machine's unit from init's cgroup, and machinectl's terminate, kill,
 * status and shell reach the instance. Every call is asynchronous; no answer is waited for. */
#include <stdio.h>

#include "instance.h"
#include "log.h"
#include "machined.h"
#include "manager.h"
#include "names.h"
#include "util.h"

#define MACHINED_NAME "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_MANAGER "org.freedesktop.machine1.Manager"
#define MACHINED_TIMEOUT_USEC (30 * USEC_PER_SEC)

static bool instance_is_up(const Instance *i) {
        return i->pid > 0 && IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN, INSTANCE_STOPPING);
}

void machined_forget(Instance *i) {
        assert(i);

        i->machine_slot = sd_bus_slot_unref(i->machine_slot);
        i->machine = MACHINE_UNREGISTERED;
}

static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Instance *i = userdata;
        _cleanup_free_ char *ours = NULL;
        const char *path = NULL;

        i->machine_slot = sd_bus_slot_unref(i->machine_slot);
        i->machine = MACHINE_UNREGISTERED;
        /* Our init belongs to the machine of that name: we registered it before (a daemon restart, or
         * machined restarted and read its state back). Anything else is another machine of that name. */
        if (!sd_bus_message_is_method_error(reply, NULL) && sd_bus_message_read(reply, "o", &path) >= 0 &&
            sd_bus_path_encode(MACHINED_PATH "/machine", i->name, &ours) >= 0 && streq(path, ours)) {
                i->machine = MACHINE_REGISTERED;
                log_debug("Instance '%s' is registered with machined already.", i->name);
                return 0;
        }
        log_warning("Not registering instance '%s' with machined: another machine has that name, ignoring.",
                    i->name);
        return 0;
}

static int on_register_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Instance *i = userdata;
        const sd_bus_error *e;
        int r;

        i->machine_slot = sd_bus_slot_unref(i->machine_slot);
        e = sd_bus_message_get_error(reply);
        if (!e) {
                i->machine = MACHINE_REGISTERED;
                log_debug("Instance '%s' registered with machined, leader %i.", i->name, (int) i->pid);
                return 0;
        }
        i->machine = MACHINE_UNREGISTERED;
        if (sd_bus_error_has_name(e, "org.freedesktop.machine1.MachineExists") && instance_is_up(i)) {
                r = sd_bus_call_method_async(i->manager->bus, &i->machine_slot, MACHINED_NAME, MACHINED_PATH,
                                             MACHINED_MANAGER, "GetMachineByPID", on_check_reply, i, "u",
                                             (uint32_t) i->pid);
                if (r >= 0) {
                        i->machine = MACHINE_CHECKING;
                        return 0;
                }
        }
        log_warning("Failed to register instance '%s' with machined, ignoring: %s", i->name, e->message ?: e->name);
        return 0;
}

void machined_register(Instance *i) {
        _cleanup_free_ char *root = NULL;
        Manager *m;
        int r;

        assert(i);
        m = i->manager;

        if (!m->bus || !m->machined_owner || i->machine != MACHINE_UNREGISTERED || !instance_is_up(i))
                return;
        if (!machine_name_is_valid(i->name)) {
                log_info("Instance '%s' is not a valid machine name, not registering it with machined.", i->name);
                return;
        }
        if (asprintf(&root, "%s/%s/rootfs", m->instances_dir, i->name) < 0) {
                log_oom();
                return;
        }
        /* No id (the instance's machine id is its own business), service "lxcbus", class "container".
         * The unit is machined's to find: init's cgroup is below the instance's scope. */
        r = sd_bus_call_method_async(m->bus, &i->machine_slot, MACHINED_NAME, MACHINED_PATH, MACHINED_MANAGER,
                                     "RegisterMachine", on_register_reply, i, "sayssus", i->name, 0, "lxcbus",
                                     "container", (uint32_t) i->pid, root);
        if (r < 0) {
                log_warning_errno(r, "Failed to register instance '%s' with machined, ignoring: %m", i->name);
                return;
        }
        i->machine = MACHINE_REGISTERING;
        (void) sd_bus_slot_set_description(i->machine_slot, "machined-register");
}

static int on_unregister_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* machined drops a machine by itself when its unit goes: gone already is fine. */
        if (e && !sd_bus_error_has_names(e, "org.freedesktop.machine1.NoSuchMachine", SD_BUS_ERROR_SERVICE_UNKNOWN,
                                         SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_warning("Failed to unregister a machine from machined, ignoring: %s", e->message ?: e->name);
        return 0;
}

void machined_unregister(Instance *i) {
        MachineRegistration was;
        int r;

        assert(i);

        was = i->machine;
        machined_forget(i);
        /* A registration in flight arrives at machined before this call (one connection, in order).
         * A machine we were only checking is not known to be ours: leave it. */
        if (!i->manager->bus || !i->manager->machined_owner || !IN_SET(was, MACHINE_REGISTERING, MACHINE_REGISTERED))
                return;
        r = sd_bus_call_method_async(i->manager->bus, NULL, MACHINED_NAME, MACHINED_PATH, MACHINED_MANAGER,
                                     "UnregisterMachine", on_unregister_reply, NULL, "s", i->name);
        if (r < 0)
                log_warning_errno(r, "Failed to unregister instance '%s' from machined, ignoring: %m", i->name);
}

/* NULL: machined is not running. It is never activated for us: "machinectl list" or anything else that
 * starts it makes it appear. */
static int set_machined_owner(void *userdata, const char *owner) {
        Manager *m = userdata;
        char *o = NULL;

        if (!isempty(owner) && !(o = strdup(owner)))
                return log_oom();
        if (streq_ptr(o, m->machined_owner)) {
                free(o);
                return 0;
        }
        free(m->machined_owner);
        m->machined_owner = o;
        log_debug(MACHINED_NAME " is %s.", o ?: "not on the bus");
        /* A new machined (or none): what the old one knew is not ours to count on. A machined that
         * restarted reads its machines back, which the check after MachineExists finds. */
        for (Instance *i = m->instances; i; i = i->next) {
                machined_forget(i);
                machined_register(i);
        }
        return 0;
}

int machined_watch(Manager *m) {
        assert(m);
        assert(m->bus);

        /* Only the bus driver's signals get past the filter in daemon-dbus.c. */
        return bus_follow_name_owner(m->bus, &m->machined_watch, MACHINED_NAME, set_machined_owner, m);
}
