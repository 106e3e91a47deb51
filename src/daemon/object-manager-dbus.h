/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

/* One kind of object below the manager: registered with sd-bus as a fallback vtable at prefix, found by
 * path with find, enumerated (for introspection and the object manager) by enumerate, once per prefix. */
typedef struct BusObjectKind {
        const char *prefix;
        const char *interface;
        const sd_bus_vtable *vtable;
        sd_bus_object_find_t find;
        sd_bus_node_enumerator_t enumerate;
} BusObjectKind;

/* Whether message is a GetManagedObjects() call that bus_reply_managed_objects() answers: at path, with
 * no arguments (anything else is left to sd-bus, which answers it or refuses it as it always did). */
bool bus_is_get_managed_objects(sd_bus_message *message, const char *path);

/* Answers GetManagedObjects() with the objects of kinds (registered in that order, all directly below
 * the object manager's path), as sd-bus's object manager would, byte for byte: the same objects in the
 * same order, each with the same interfaces and properties from the same getters. What it saves is
 * sd-bus's walk of its object tree (a set of every path, and for each path a lookup of every prefix of
 * it and a format string parsed for each value). Returns 1 when answered, or -errno (and error, from a
 * getter or a find callback) for the caller to answer with, as a bus filter's caller does. */
int bus_reply_managed_objects(sd_bus_message *message, const BusObjectKind *kinds, size_t n_kinds,
                              void *userdata, sd_bus_error *error);
