/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ctl.h"

/* Bus access for the verbs. Every function here reports its own failure (ctl_bus_error() and friends), so
 * callers just pass the negative errno up. */

int ctl_bus_get(Context *c, sd_bus **ret);

/* For a verb that waits for signals and replies: the bus, attached to a new event loop. Detach it with
 * sd_bus_detach_event() before the loop goes, as the verb may use the bus after. */
int ctl_bus_attach_new_event(Context *c, sd_bus **ret_bus, sd_event **ret_event);

int ctl_new_method_call(Context *c, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret);
/* timeout_usec 0 is sd-bus's default (25 s). A call that may need authorization, when we may ask for a
 * password, runs with a pkttyagent and at least CTL_AUTHORIZATION_TIMEOUT_MIN_SEC. */
int ctl_call(Context *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply);
/* ctl_call() of a method whose reply starts with an fd (OpenConsole, ConsoleLog, ExecPty): *ret_fd belongs
 * to *ret_reply, which the caller may read on. */
int ctl_call_for_fd(Context *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply,
                    int *ret_fd);
/* Reports a failure to build a message (out of memory, bad argument). */
int ctl_message_error(Context *c, int r);

/* GetInstance(name) on the manager: the daemon owns the name-to-path mapping, and says NoSuchInstance. */
int ctl_get_instance_path(Context *c, const char *name, char **ret);
/* A call of member on the instance called name (its path from ctl_get_instance_path()). */
int ctl_new_instance_call(Context *c, const char *name, const char *member, sd_bus_message **ret);

/* The verbs about one instance: ctl_parse_args() with the instance's name as the one positional argument,
 * then a call of member on that instance in *ret. The same returns as ctl_parse_args(). */
int ctl_parse_instance_call(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                            const char *member, sd_bus_message **ret);

/* Reads the reply of member (for the message) as sd_bus_message_read() does; reports a failure. */
int ctl_read_reply(Context *c, sd_bus_message *reply, const char *member, const char *types, ...);

/* Builds a call of member with arguments as sd_bus_message_append() takes them (types NULL: none), runs it
 * with ctl_call() and returns the reply (ret_reply may be NULL). */
int ctl_call_method(Context *c, const char *path, const char *interface, const char *member,
                    uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, ...);
int ctl_call_methodv(Context *c, const char *path, const char *interface, const char *member,
                     uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, va_list ap);

/* One entry of an a{sv} options argument, for ctl_append_options(): left out unless set, so that the
 * daemon applies its default. A flag ('b') is always true. */
typedef struct CtlBusOption {
        const char *key;
        char type;              /* 'b', 'u', 't', 's' or 'a' (a{ss}) */
        bool set;
        union {
                uint32_t u32;
                uint64_t u64;
                const char *s;
                char **pairs;   /* alternating keys and values */
        };
} CtlBusOption;

#define CTL_BUS_FLAG(k, cond) { .key = (k), .type = 'b', .set = (cond) }
#define CTL_BUS_U32(k, cond, v) { .key = (k), .type = 'u', .set = (cond), .u32 = (v) }
#define CTL_BUS_U64(k, cond, v) { .key = (k), .type = 't', .set = (cond), .u64 = (v) }
#define CTL_BUS_STRING(k, cond, v) { .key = (k), .type = 's', .set = (cond), .s = (v) }
#define CTL_BUS_PAIRS(k, v) { .key = (k), .type = 'a', .set = !!(v), .pairs = (v) }

/* Appends an a{sv} of the options that are set, in their order. */
int ctl_append_options(sd_bus_message *m, const CtlBusOption options[], size_t n);
#define CTL_APPEND_OPTIONS(m, ...)                                                              \
        ctl_append_options((m), (const CtlBusOption[]) { __VA_ARGS__ },                         \
                           sizeof((const CtlBusOption[]) { __VA_ARGS__ }) / sizeof(CtlBusOption))

/* Walks an a{sv} of properties (GetAll's reply, PropertiesChanged's changed values): calls read for each,
 * which reads the variant of a property it wants and returns 1, or returns 0 to have it skipped; a
 * negative return stops the walk and is returned. */
typedef int (*CtlPropertyReader)(sd_bus_message *m, const char *name, void *userdata);
int ctl_read_properties(sd_bus_message *m, CtlPropertyReader read, void *userdata);
