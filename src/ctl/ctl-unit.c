/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "lxcbusctl run-unit NAME": the main process of lxcbus@NAME.service (systemd-units/lxcbus@.service.in,
 * docs/systemd.md "A unit per instance"). It starts the instance if it is not running, tells systemd
 * READY=1 once it runs, then follows the instance's State by its PropertiesChanged signals (no polling)
 * and exits when the instance is down: 0 after a Stop (its own, on SIGTERM from "systemctl stop", or one
 * through the bus), non-zero when the instance stopped without one (killed, crashed, powered off from
 * inside), so that OnFailure= and Restart= of the unit work. A Restart through the bus keeps the unit
 * active. STATUS= says what systemctl status should show: the state, init's pid and the scope. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-options.h"
#include "ctl-bus.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

#define DBUS_PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"
#define DBUS_OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"

typedef struct UnitWatch {
        Context *c;
        const char *name;
        char *path;                     /* the instance's object path */
        sd_event *event;
        char *state;                    /* the last State seen; NULL while lxcbusd is away */
        uint32_t pid;
        char *scope;
        char *restart_op;               /* the last Restart operation of this instance (InterfacesAdded) */
        char *status;                   /* the last STATUS= sent */
        sd_event_source *retry;         /* Busy with no operation to wait for: look again (wait_for_holder()) */
        bool ready;                     /* READY=1 sent */
        bool start_called;              /* our Start is out (or done) */
        bool start_done;                /* ... and its operation succeeded */
        bool stopping;                  /* a Stop is under way: the instance will stop cleanly */
        bool stop_requested;            /* SIGTERM: systemctl stop */
        bool stop_called;
        bool done;
        int result;
} UnitWatch;

static void unit_watch_done(UnitWatch *u) {
        FREE_MANY(u->path, u->state, u->scope, u->restart_op, u->status);
        u->retry = sd_event_source_unref(u->retry);
        u->event = sd_event_unref(u->event);
}

static int set_string(char **p, const char *s) {
        char *copy = NULL;

        if (s && !(copy = strdup(s)))
                return -ENOMEM;
        free(*p);
        *p = copy;
        return 0;
}

static void finish(UnitWatch *u, int result) {
        if (u->done)
                return;
        u->done = true;
        u->result = result;
        (void) sd_notify(false, "STOPPING=1");
}

static int fail(UnitWatch *u, const char *message) {
        finish(u, ctl_error_errno(u->c, EIO, "%s '%s' %s", u->ready ? "Instance" : "Cannot start instance",
                                  u->name, message));
        return 0;
}

/* STATUS= for systemctl status, sent only when it changes. */
static void notify_status(UnitWatch *u, const char *extra) {
        _cleanup_free_ char *s = NULL;
        int r;

        if (u->pid > 0 && !isempty(u->scope))
                r = asprintf(&s, "STATUS=Instance %s is %s%s, init pid %" PRIu32 ", scope %s", u->name,
                             strempty(u->state), strempty(extra), u->pid, u->scope);
        else
                r = asprintf(&s, "STATUS=Instance %s is %s%s", u->name, u->state ?: "unknown (lxcbusd is away)",
                             strempty(extra));
        if (r < 0 || streq_ptr(s, u->status))
                return;
        (void) sd_notify(false, s);
        fprintf(stderr, "%s.\n", s + STRLEN("STATUS="));
        free(u->status);
        u->status = TAKE_PTR(s);
}

static int evaluate(UnitWatch *u);

/* State, Pid and Unit from an a{sv} (GetAll's reply or PropertiesChanged); the others are skipped. */
static int read_instance_prop(sd_bus_message *m, const char *name, void *userdata) {
        UnitWatch *u = userdata;
        const char *s;
        int r;

        if (streq(name, "Pid"))
                r = sd_bus_message_read(m, "v", "u", &u->pid);
        else if (streq(name, "State") || streq(name, "Unit")) {
                r = sd_bus_message_read(m, "v", "s", &s);
                if (r >= 0)
                        r = set_string(streq(name, "State") ? &u->state : &u->scope, s);
        } else
                return 0;
        return r < 0 ? r : 1;
}

static int read_instance_props(UnitWatch *u, sd_bus_message *m) {
        return bus_read_dict(m, read_instance_prop, u);
}

static int on_get_all_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        if (e) {
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        return fail(u, "no longer exists");
                finish(u, ctl_bus_error(u->c, e, -sd_bus_message_get_errno(m) ?: -EIO));
                return 0;
        }
        r = read_instance_props(u, m);
        if (r < 0) {
                finish(u, ctl_error_errno(u->c, r, "Failed to parse the properties of %s: %m", u->path));
                return 0;
        }
        return evaluate(u);
}

/* The current values, once the matches are in place: no change can fall between the two. */
static int read_state(UnitWatch *u) {
        sd_bus *bus = u->c->bus;
        int r;

        r = sd_bus_call_method_async(bus, NULL, LXCBUS_BUS_NAME, u->path, DBUS_PROPERTIES_INTERFACE, "GetAll",
                                     on_get_all_reply, u, "s", LXCBUS_INSTANCE_INTERFACE);
        if (r < 0)
                finish(u, ctl_error_errno(u->c, r, "Failed to read the state of %s: %m", u->path));
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const char *interface;

        if (sd_bus_message_read(m, "s", &interface) < 0 || !streq(interface, LXCBUS_INSTANCE_INTERFACE))
                return 0;
        if (read_instance_props(u, m) < 0)
                return read_state(u);
        return evaluate(u);
}

/* An operation's Kind and Instance (bus_read_dict()). */
typedef struct OperationProps {
        const char *kind;
        const char *instance;
} OperationProps;

static int read_operation_prop(sd_bus_message *m, const char *name, void *userdata) {
        OperationProps *p = userdata;
        int r;

        if (streq(name, "Kind"))
                r = sd_bus_message_read(m, "v", "s", &p->kind);
        else if (streq(name, "Instance"))
                r = sd_bus_message_read(m, "v", "o", &p->instance);
        else
                return 0;
        return r < 0 ? r : 1;
}

/* A Restart of our instance: remembered, so that the stop it begins with does not end the unit. */
static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        OperationProps p = {};
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || !startswith(path, LXCBUS_OPERATION_PREFIX "/"))
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sa{sv}}") <= 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
                const char *iface;
                int r;

                if (sd_bus_message_read(m, "s", &iface) < 0)
                        return 0;
                if (streq(iface, LXCBUS_OPERATION_INTERFACE))
                        r = bus_read_dict(m, read_operation_prop, &p);
                else
                        r = sd_bus_message_skip(m, "a{sv}");
                if (r < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        if (streq_ptr(p.kind, "restart") && streq_ptr(p.instance, u->path))
                (void) set_string(&u->restart_op, path);
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || !streq(path, u->path))
                return 0;
        /* Deleted: after a Stop (Delete with force, an ephemeral instance's stop) that is a clean end. */
        if (u->stopping || streq_ptr(u->state, "stopped"))
                finish(u, 0);
        else
                (void) fail(u, "was deleted");
        return 0;
}

/* lxcbusd went away (the instances keep running in their scopes) or came back: read the state anew. */
static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, LXCBUS_BUS_NAME))
                return 0;
        if (isempty(new_owner)) {
                u->state = mfree(u->state);
                u->pid = 0;
                notify_status(u, NULL);
                return 0;
        }
        return read_state(u);
}

static int on_operation_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int wait_for_holder(UnitWatch *u);

static int on_wait_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e && !u->ready && !u->stop_requested) {
                finish(u, ctl_bus_error(u->c, e, -sd_bus_message_get_errno(m) ?: -EIO));
                return 0;
        }
        if (!u->stop_called)
                u->start_done = true;
        return read_state(u);
}

/* Start or Stop replied with its operation (async): wait for it. Busy: another caller's operation holds
 * the instance (wait_for_holder()). */
static int on_operation_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitWatch *u = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *op;
        int r;

        if (e && sd_bus_error_has_name(e, "org.lxcbus1.Error.Busy")) {
                u->start_called = u->stop_called = false;
                return wait_for_holder(u);
        }
        if (e) {
                finish(u, ctl_bus_error(u->c, e, -sd_bus_message_get_errno(m) ?: -EIO));
                return 0;
        }
        r = sd_bus_message_read(m, "o", &op);
        if (r >= 0)
                r = sd_bus_call_method_async(u->c->bus, NULL, LXCBUS_BUS_NAME, op, LXCBUS_OPERATION_INTERFACE,
                                             "Wait", on_wait_reply, u, NULL);
        if (r < 0)
                finish(u, ctl_error_errno(u->c, r, "Failed to wait for the operation: %m"));
        return 0;
}

static int call_lifecycle(UnitWatch *u, const char *method, bool force) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(u->c->bus, &m, LXCBUS_BUS_NAME, u->path, LXCBUS_INSTANCE_INTERFACE,
                                           method);
        if (r >= 0)
                r = CTL_APPEND_OPTIONS(m, CTL_BUS_FLAG("force", force), CTL_BUS_FLAG("async", true));
        if (r >= 0)
                r = sd_bus_call_async(u->c->bus, NULL, m, on_operation_reply, u, 0);
        if (r < 0)
                finish(u, ctl_error_errno(u->c, r, "Failed to call %s on %s: %m", method, u->path));
        return 0;
}

/* Whether operation path is running on our instance, and is of kind (any if NULL). */
static bool is_running_on_instance(UnitWatch *u, const char *path, const char *kind) {
        _cleanup_free_ char *k = NULL, *status = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *instance;

        if (sd_bus_get_property_string(u->c->bus, LXCBUS_BUS_NAME, path, LXCBUS_OPERATION_INTERFACE, "Status",
                                       NULL, &status) < 0 || !streq(status, "running"))
                return false;
        if (kind && (sd_bus_get_property_string(u->c->bus, LXCBUS_BUS_NAME, path, LXCBUS_OPERATION_INTERFACE,
                                                "Kind", NULL, &k) < 0 || !streq(k, kind)))
                return false;
        return sd_bus_get_property(u->c->bus, LXCBUS_BUS_NAME, path, LXCBUS_OPERATION_INTERFACE, "Instance", NULL,
                                   &reply, "o") >= 0 &&
               sd_bus_message_read(reply, "o", &instance) >= 0 && streq(instance, u->path);
}

/* The first operation the daemon lists that runs on our instance and is of kind (any if NULL) into
 * *ret; false if there is none. */
static bool find_running_operation(UnitWatch *u, const char *kind, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;

        if (sd_bus_call_method(u->c->bus, LXCBUS_BUS_NAME, "/org/lxcbus1", LXCBUS_MANAGER_INTERFACE, "ListOperations",
                               NULL, &reply, NULL) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "o") < 0)
                return false;
        while (sd_bus_message_read(reply, "o", &path) > 0)
                if (is_running_on_instance(u, path, kind))
                        return set_string(ret, path) >= 0;
        return false;
}

/* Whether a Restart of the instance runs: then the instance's stop is half of it. The one InterfacesAdded
 * announced, else (that signal may not have come yet, or was missed) any the daemon lists. */
static bool restart_running(UnitWatch *u) {
        if (u->restart_op)
                return is_running_on_instance(u, u->restart_op, "restart");
        return find_running_operation(u, "restart", &u->restart_op);
}

static int on_holder_done(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return read_state(userdata);
}

static int on_holder_gone(sd_event_source *s, uint64_t usec, void *userdata) {
        return read_state(userdata);
}

/* Our Start or Stop got Busy: another operation holds the instance. Its state may not change when that
 * operation ends (a Stop ends after the state is "stopped"), so wait for the holder's end with
 * Operation.Wait and look again. If none runs any more it ended meanwhile, or the instance is busy
 * without one (its scope's removal): look again after a short pause, not in a tight loop. */
static int wait_for_holder(UnitWatch *u) {
        _cleanup_free_ char *holder = NULL;
        int r;

        if (find_running_operation(u, NULL, &holder))
                r = sd_bus_call_method_async(u->c->bus, NULL, LXCBUS_BUS_NAME, holder, LXCBUS_OPERATION_INTERFACE,
                                             "Wait", on_holder_done, u, NULL);
        else if (u->retry) {
                r = sd_event_source_set_time_relative(u->retry, 50 * USEC_PER_MSEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(u->retry, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(u->event, &u->retry, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                               on_holder_gone, u);
        if (r < 0)
                finish(u, ctl_error_errno(u->c, r, "Failed to wait for the operation holding %s: %m", u->path));
        return 0;
}

/* systemctl stop (SIGTERM): stop the instance and exit once it is down. */
static int evaluate_stop(UnitWatch *u) {
        if (!u->state || streq(u->state, "starting") || streq(u->state, "stopping"))
                return 0;
        if (streq(u->state, "stopped")) {
                /* Unless our Start is still out: then stop what it brings up. */
                if (!u->start_called || u->start_done)
                        finish(u, 0);
                return 0;
        }
        if (streq(u->state, "error"))
                return fail(u, "is broken");
        if (u->stop_called)
                return 0;
        u->stop_called = u->stopping = true;
        return call_lifecycle(u, "Stop", streq(u->state, "frozen"));
}

/* The heart: what the unit does in each state of the instance. */
static int evaluate(UnitWatch *u) {
        if (u->done)
                return 0;
        if (u->stop_requested)
                return evaluate_stop(u);
        if (!u->state)
                return 0;

        if (streq(u->state, "running") || streq(u->state, "frozen")) {
                u->stopping = false;
                if (!u->ready) {
                        u->ready = true;
                        notify_status(u, NULL);
                        (void) sd_notify(false, "READY=1");
                } else
                        notify_status(u, NULL);
        } else if (streq(u->state, "stopping")) {
                u->stopping = true;
                notify_status(u, NULL);
        } else if (streq(u->state, "starting"))
                notify_status(u, u->ready ? " again (restart)" : NULL);
        else if (streq(u->state, "error"))
                return fail(u, "is broken (its metadata cannot be read)");
        else if (!u->ready) {
                /* stopped, before READY=1: start it; a second stop means our start did not hold. */
                if (u->start_done)
                        return fail(u, "stopped while starting");
                if (u->start_called)
                        return 0;
                u->start_called = true;
                notify_status(u, NULL);
                return call_lifecycle(u, "Start", false);
        } else if (restart_running(u)) {
                /* Also when "stopping" was not seen: a Restart is never a death. */
                u->stopping = false;
                notify_status(u, ", restarting");
        } else if (u->stopping)
                finish(u, 0);
        else
                return fail(u, "stopped without a Stop call (killed, crashed or powered off from inside)");
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        UnitWatch *u = userdata;

        u->stop_requested = true;
        (void) sd_notify(false, "STOPPING=1");
        return evaluate(u);
}

static int add_matches(UnitWatch *u, sd_bus *bus) {
        int r;

        r = sd_bus_match_signal(bus, NULL, LXCBUS_BUS_NAME, u->path, DBUS_PROPERTIES_INTERFACE,
                                "PropertiesChanged", on_properties_changed, u);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, LXCBUS_BUS_NAME, LXCBUS_PATH, DBUS_OBJECT_MANAGER_INTERFACE,
                                        "InterfacesAdded", on_interfaces_added, u);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, LXCBUS_BUS_NAME, LXCBUS_PATH, DBUS_OBJECT_MANAGER_INTERFACE,
                                        "InterfacesRemoved", on_interfaces_removed, u);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                     "arg0='" LXCBUS_BUS_NAME "'", on_name_owner_changed, u);
        if (r < 0)
                return ctl_error_errno(u->c, r, "Failed to watch %s: %m", u->path);
        return 0;
}

/* The signals, the matches, the current state, and the loop until the unit's end: its result. */
static int watch_unit(UnitWatch *u, sd_bus *bus) {
        int r;

        r = sd_event_add_signal(u->event, NULL, SIGTERM, on_sigterm, u);
        if (r >= 0)
                r = sd_event_add_signal(u->event, NULL, SIGINT, on_sigterm, u);
        if (r < 0)
                return ctl_error_errno(u->c, r, "Failed to catch SIGTERM: %m");
        r = add_matches(u, bus);
        if (r < 0)
                return r;
        (void) read_state(u);

        while (!u->done) {
                r = sd_event_run(u->event, UINT64_MAX);
                if (r < 0)
                        return ctl_error_errno(u->c, r, "Lost the bus while watching %s: %m", u->path);
        }
        return u->result;
}

static int run_unit(UnitWatch *u) {
        sd_bus *bus;
        int r;

        r = ctl_get_instance_path(u->c, u->name, &u->path);
        if (r < 0)
                return r;
        r = ctl_bus_attach_new_event(u->c, &bus, &u->event);
        if (r < 0)
                return r;
        r = watch_unit(u, bus);
        (void) sd_bus_detach_event(bus);
        return r;
}

int verb_run_unit(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_(unit_watch_done) UnitWatch u = { .c = c };
        sigset_t mask;
        int r;

        r = ctl_parse_args(c, argc, argv, options, NULL, 1, "instance name");
        if (r <= 0)
                return r;
        u.name = argv[optind];
        if (!instance_name_is_valid(u.name))
                return ctl_usage_error(c, "Invalid instance name.");

        /* SIGTERM (systemctl stop) and SIGINT through the loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = run_unit(&u);
        if (r < 0)
                (void) sd_notifyf(false, "STATUS=Failed: instance %s", u.name);
        return r;
}
