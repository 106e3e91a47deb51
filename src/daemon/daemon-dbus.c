/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "auth-dbus.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "daemon-dbus.h"
#include "exec-fd.h"
#include "instance-dbus.h"
#include "log.h"
#include "manager.h"
#include "manager-dbus.h"
#include "names.h"
#include "object-manager-dbus.h"
#include "operation-dbus.h"
#include "scope.h"
#include "settle-dbus.h"
#include "util.h"

/* Whom lxcbusd believes, and what it accepts, before any match or handler sees a message.
 *
 * Signals: any peer may send a unicast signal to us, and sd-bus matches on a well-known sender
 * ("org.freedesktop.systemd1", "org.freedesktop.DBus") cannot check it (the sender field holds a
 * unique name), so a forged NameOwnerChanged would make sd_bus_track believe a caller left and a
 * forged JobRemoved would end someone's scope job. dbus-daemon sets the sender field of everything it
 * routes, and only its own messages say "org.freedesktop.DBus": a signal is believed if it comes from
 * the bus driver, from sd-bus itself (org.freedesktop.DBus.Local: Disconnected), or from the current
 * unique owner of org.freedesktop.systemd1. Everything else is dropped here; the bus policy
 * (org.lxcbus1.conf) also refuses unicast signals to us.
 *
 * Method calls: one over LXCBUS_REQUEST_MAX of arguments or LXCBUS_OBJECT_PATH_MAX of path is refused
 * here, so that no reply (an error that quotes the caller, sd-bus's own "Unknown object") can grow
 * past the bus's message limit and get us disconnected. */
static const char *strna(const char *s) {
        return s ?: "n/a";
}

/* The objects below the manager: found by path, enumerated for introspection and the object manager. */
static const BusObjectKind bus_objects[] = {
        { LXCBUS_INSTANCE_PREFIX, "org.lxcbus1.Instance", instance_vtable, instance_object_find,
          manager_instance_enumerator },
        { LXCBUS_OPERATION_PREFIX, "org.lxcbus1.Operation", operation_vtable, operation_object_find,
          manager_operation_enumerator },
        { LXCBUS_OPERATION_PREFIX, "org.lxcbus1.Process", process_vtable, process_object_find, NULL },
};

static int on_bus_message(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *sender = sd_bus_message_get_sender(message);
        uint8_t type;
        size_t n;
        int r;

        if (sd_bus_message_get_type(message, &type) < 0)
                return 0;
        if (type == SD_BUS_MESSAGE_SIGNAL) {
                if (streq_ptr(sender, "org.freedesktop.DBus.Local")) {
                        if (sd_bus_message_is_signal(message, "org.freedesktop.DBus.Local", "Disconnected"))
                                log_error("Lost the connection to the bus; exiting, to be restarted.");
                        return 0;
                }
                if (streq_ptr(sender, "org.freedesktop.DBus") ||
                    (m->systemd_owner && streq_ptr(sender, m->systemd_owner)))
                        return 0;
                log_debug("Ignoring signal %s.%s from %s: only the bus and systemd are believed.",
                          strna(sd_bus_message_get_interface(message)), strna(sd_bus_message_get_member(message)),
                          strna(sender));
                return 1;
        }
        if (type != SD_BUS_MESSAGE_METHOD_CALL)
                return 0;

        if (strlen(strempty(sd_bus_message_get_path(message))) > LXCBUS_OBJECT_PATH_MAX) {
                r = sd_bus_reply_method_errorf(message, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                               "Object path too long (%u bytes at most).", LXCBUS_OBJECT_PATH_MAX);
                return r < 0 ? r : 1;
        }
        r = bus_message_arguments_size(message, LXCBUS_REQUEST_MAX, &n);
        if (r < 0)
                return 0;       /* unreadable: the handler reports it */
        if (n > LXCBUS_REQUEST_MAX) {
                r = sd_bus_reply_method_errorf(message, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                               "The arguments of %s are too large (%u bytes at most).",
                                               strna(sd_bus_message_get_member(message)), LXCBUS_REQUEST_MAX);
                return r < 0 ? r : 1;
        }
        /* Our own answer: the same as sd-bus's, without its walk of the object tree (object-manager-dbus.c). */
        if (bus_is_get_managed_objects(message, LXCBUS_PATH))
                return bus_reply_managed_objects(message, bus_objects, ELEMENTSOF(bus_objects), m, ret_error);
        return bus_defer_while_settling(m, message);
}

/* Unknown (no systemd on this bus) until it is known: then no systemd signal is believed. */
static int set_systemd_owner(void *userdata, const char *owner) {
        Manager *m = userdata;
        char *o = NULL;

        if (!isempty(owner) && !(o = strdup(owner)))
                return log_oom();
        free(m->systemd_owner);
        m->systemd_owner = o;
        log_debug("org.freedesktop.systemd1 is %s.", strna(o));
        return 0;
}

/* Before anything is sent that makes systemd signal us: the owner is known (the driver answers
 * GetNameOwner before it routes any later call of ours to systemd) and followed from then on. */
int manager_bus_setup_trust(Manager *m) {
        int r;

        r = sd_bus_add_filter(m->bus, NULL, on_bus_message, m);
        if (r < 0)
                return r;
        /* Only the driver's signals get past the filter (on_bus_message). */
        return bus_follow_name_owner(m->bus, &m->systemd_watch, "org.freedesktop.systemd1", set_systemd_owner,
                                     m);
}

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
        for (size_t k = 0; k < ELEMENTSOF(bus_objects); k++) {
                r = sd_bus_add_fallback_vtable(m->bus, NULL, bus_objects[k].prefix, bus_objects[k].interface,
                                               bus_objects[k].vtable, bus_objects[k].find, m);
                if (r >= 0 && bus_objects[k].enumerate)
                        r = sd_bus_add_node_enumerator(m->bus, NULL, bus_objects[k].prefix,
                                                       bus_objects[k].enumerate, m);
                if (r < 0)
                        return r;
        }
        /* Only the jobs we enqueue are reported to us (systemd tracks the requester): no Subscribe(),
         * so other units' churn never wakes us. */
        r = sd_bus_match_signal_async(m->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                      "org.freedesktop.systemd1.Manager", "JobRemoved", scope_job_removed, NULL, m);
        if (r < 0)
                return r;
        return sd_bus_request_name_async(m->bus, NULL, "org.lxcbus1", 0, on_name_acquired, m);
}

int bus_track_sender(Manager *m, sd_bus_message *message, sd_bus_track_handler_t handler, void *userdata,
                     sd_bus_track **ret) {
        sd_bus_track *t = NULL;
        int r;

        r = sd_bus_track_new(m->bus, &t, handler, userdata);
        if (r >= 0)
                r = sd_bus_track_add_sender(t, message);
        if (r < 0) {
                sd_bus_track_unref(t);
                return r;
        }
        *ret = t;
        return 0;
}

int bus_reply_filled(sd_bus_message *message, BusReplyFill fill, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        assert(message);
        assert(fill);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = fill(reply, userdata);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

int bus_read_stream_fd(sd_bus_message *message, bool want_read, int *ret_fd, sd_bus_error *error) {
        const char *refusal;
        int r;

        assert(message);
        assert(ret_fd);

        r = sd_bus_message_read(message, "h", ret_fd);
        if (r < 0)
                return r;
        refusal = stream_fd_refusal(*ret_fd, want_read);
        if (refusal)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The tarball file descriptor is %s: "
                                         STREAM_FD_ADVICE, refusal);
        return 0;
}

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", *(bool *) userdata);
}

void bus_emit_dirty(sd_bus *bus, const char *path, const char *interface, uint32_t dirty,
                    const BusDirtyBit *table, size_t n_table) {
        const char *names[16];
        size_t n = 0;

        assert(path);
        assert(interface);
        assert(table);

        for (size_t k = 0; k < n_table; k++) {
                if (!(dirty & table[k].bit))
                        continue;
                for (const char * const *p = table[k].names; *p; p++) {
                        size_t j = 0;

                        while (j < n && !streq(names[j], *p))
                                j++;
                        if (j < n)
                                continue;       /* named by an earlier bit already */
                        assert(n < ELEMENTSOF(names) - 1);
                        names[n++] = *p;
                }
        }
        names[n] = NULL;
        if (n > 0)
                (void) sd_bus_emit_properties_changed_strv(bus, path, interface, (char **) names);
}

const ManagerHooks bus_manager_hooks = {
        .instance_added = instance_bus_added,
        .instance_removed = instance_bus_removed,
        .operation_added = operation_bus_added,
        .operation_finished = operation_bus_finished,
        .operation_removed = operation_bus_removed,
        .process_running = operation_bus_process_running,
        .process_exited = operation_bus_process_exited,
        .flush = manager_bus_flush,
        .done = auth_queries_free,
};
