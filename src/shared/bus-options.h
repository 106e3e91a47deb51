/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

/* Parsing of a{sv} option dictionaries: every key must be known and of its declared type, or the call
 * fails with org.freedesktop.DBus.Error.InvalidArgs naming the key. Nothing has changed by then. */

typedef struct BusOption {
        const char *name;
        const char *type;   /* "b" (into int), "u", "i", "t", "s" (strdup'ed), "as" (strv) */
        void *ret;
        bool *present;      /* optional */
} BusOption;

#define BUS_OPTIONS_VALUE_MAX 4096
#define BUS_OPTIONS_ARRAY_MAX 256

int bus_read_options(sd_bus_message *m, const BusOption *options, sd_bus_error *error);

/* Appends an a{ss} of a list of alternating keys and values (NULL: empty). */
int bus_append_string_pairs(sd_bus_message *m, char **pairs);

/* Opens a key and its variant of type contents: the entry of an a{sv} (type 'e') or the struct of an
 * a(sv) (type 'r'). The caller appends the value and closes both with bus_close_containers(m, 2). */
int bus_open_keyed_variant(sd_bus_message *m, char type, const char *key, const char *contents);

/* Closes the n innermost open containers. */
int bus_close_containers(sd_bus_message *m, unsigned n);
