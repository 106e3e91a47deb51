/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <unistd.h>

#include "bus-connect.h"
#include "bus-options.h"
#include "ctl-bus.h"
#include "ctl-remote.h"
#include "ctl-util.h"
#include "names.h"

/* Asserts here check what a function itself reads or writes; what it only passes on is checked where it is
 * used (ctl_bus_get(), sd-bus's own checks), as systemd's bus-locator.c does for its wrappers. */

int ctl_bus_get(Context *c, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert(c);
        assert(ret);

        if (c->bus) {
                *ret = c->bus;
                return 0;
        }

        if (c->host) {
                r = ctl_bus_open_remote(c, &bus);
                if (r < 0)
                        return r;
        } else {
                r = bus_open_client(c->address, 0, &bus);
                if (r < 0)
                        return ctl_error_errno(c, r, "Failed to connect to %s: %m",
                                               c->address ?: "the system bus");
        }

        /* On a terminal, let polkit ask for a password (through our agent) instead of refusing, as systemctl
         * does. Root is never asked. This flags every method call created from now on. Not over -H, as
         * systemctl: the remote polkitd cannot reach an agent of ours, and its user is not this one. */
        c->ask_password = !c->no_ask_password && !c->host && isatty(STDIN_FILENO) > 0 && geteuid() != 0;
        r = sd_bus_set_allow_interactive_authorization(bus, c->ask_password);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to allow interactive authorization: %m");

        *ret = c->bus = TAKE_PTR(bus);
        return 0;
}

int ctl_bus_attach_new_event(Context *c, sd_bus **ret_bus, sd_event **ret_event) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sd_bus *bus;
        int r;

        assert(ret_bus);
        assert(ret_event);

        r = ctl_bus_get(c, &bus);
        if (r < 0)
                return r;
        r = sd_event_new(&event);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to allocate an event loop: %m");
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to attach the bus to the event loop: %m");

        *ret_bus = bus;
        *ret_event = TAKE_PTR(event);
        return 0;
}

int ctl_message_error(Context *c, int r) {
        return ctl_error_errno(c, r, "Failed to build D-Bus message: %m");
}

int ctl_new_method_call(Context *c, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret) {
        sd_bus *bus;
        int r;

        r = ctl_bus_get(c, &bus);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, ret, LXCBUS_BUS_NAME, path, interface, member);
        if (r < 0)
                return ctl_message_error(c, r);
        return 0;
}

int ctl_call(Context *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        bool ask;
        int r;

        assert(c);
        assert(m);

        ask = c->ask_password && ctl_method_needs_authorization(sd_bus_message_get_interface(m),
                                                               sd_bus_message_get_member(m));
        if (ask) {
                /* The user types a password before the daemon can even start. */
                timeout_usec = ctl_authorization_timeout_usec(timeout_usec);
                /* Registered before the call goes out, so that polkit finds it. */
                (void) ctl_agent_open(&c->agent);
        }

        /* On the bus m was made for (ctl_new_method_call()), which is connected. */
        r = sd_bus_call(sd_bus_message_get_bus(m), m, timeout_usec, &error, ret_reply);

        /* polkit has had its answer: give the terminal back, which exec -t and console take over next. */
        if (ask)
                ctl_agent_close(&c->agent);

        if (r < 0)
                return ctl_bus_error(c, &error, r);
        return 0;
}

int ctl_call_for_fd(Context *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply,
                    int *ret_fd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int fd, r;

        assert(ret_reply);
        assert(ret_fd);

        r = ctl_call(c, m, timeout_usec, &reply);
        if (r < 0)
                return r;
        r = ctl_read_reply(c, reply, sd_bus_message_get_member(m), "h", &fd);
        if (r < 0)
                return r;
        *ret_fd = fd;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int ctl_get_instance_path(Context *c, const char *name, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *p;
        int r;

        assert(c);
        assert(name);
        assert(ret);

        /* The instance this run is about, for messages. */
        c->instance = name;

        r = ctl_call_method(c, LXCBUS_PATH, LXCBUS_MANAGER_INTERFACE, "GetInstance", 0, &reply, "s", name);
        if (r < 0)
                return r;

        r = ctl_read_reply(c, reply, "GetInstance", "o", &path);
        if (r < 0)
                return r;

        p = strdup(path);
        if (!p)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        *ret = p;
        return 0;
}

int ctl_new_instance_call(Context *c, const char *name, const char *member, sd_bus_message **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = ctl_get_instance_path(c, name, &path);
        if (r < 0)
                return r;
        return ctl_new_method_call(c, path, LXCBUS_INSTANCE_INTERFACE, member, ret);
}

int ctl_parse_instance_call(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                            const char *member, sd_bus_message **ret) {
        int r;

        r = ctl_parse_args(c, argc, argv, options, userdata, 1, "instance name");
        if (r <= 0)
                return r;
        r = ctl_new_instance_call(c, argv[optind], member, ret);
        if (r < 0)
                return r;
        return 1;
}

int ctl_read_reply(Context *c, sd_bus_message *reply, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        assert(reply);
        assert(member);
        assert(types);

        va_start(ap, types);
        r = sd_bus_message_readv(reply, types, ap);
        va_end(ap);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply of %s: %m", member);
        return 0;
}

int ctl_call_methodv(Context *c, const char *path, const char *interface, const char *member,
                     uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_new_method_call(c, path, interface, member, &m);
        if (r < 0)
                return r;
        if (types) {
                r = sd_bus_message_appendv(m, types, ap);
                if (r < 0)
                        return ctl_message_error(c, r);
        }

        return ctl_call(c, m, timeout_usec, ret_reply);
}

int ctl_call_method(Context *c, const char *path, const char *interface, const char *member,
                    uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_call_methodv(c, path, interface, member, timeout_usec, ret_reply, types, ap);
        va_end(ap);
        return r;
}

/* key: an a{ss} of the pairs, in the entry and the variant that sd_bus_message_append() would write. */
static int append_pairs_option(sd_bus_message *m, const char *key, char **pairs) {
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 's', key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a{ss}");
        if (r >= 0)
                r = bus_append_string_pairs(m, pairs);
        for (unsigned i = 0; r >= 0 && i < 2; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

static int append_option(sd_bus_message *m, const CtlBusOption *o) {
        switch (o->type) {
        case 'b':
                return sd_bus_message_append(m, "{sv}", o->key, "b", 1);
        case 'u':
                return sd_bus_message_append(m, "{sv}", o->key, "u", o->u32);
        case 't':
                return sd_bus_message_append(m, "{sv}", o->key, "t", o->u64);
        case 's':
                return sd_bus_message_append(m, "{sv}", o->key, "s", o->s);
        case 'a':
                return append_pairs_option(m, o->key, o->pairs);
        default:
                return -EINVAL;         /* not a type that the CTL_BUS_* macros make */
        }
}

int ctl_append_options(sd_bus_message *m, const CtlBusOption options[], size_t n) {
        int r;

        assert(m);
        assert(options || n == 0);

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!options[i].set)
                        continue;
                r = append_option(m, &options[i]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}
