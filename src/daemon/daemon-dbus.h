/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "forward.h"

/* The daemon's connection: whom it believes (the bus filter), its objects and its name. */

/* The hooks by which the model's changes reach the bus (manager.h). */
extern const ManagerHooks bus_manager_hooks;

/* Before anything else is sent or received: the filter, and who org.freedesktop.systemd1 is. */
int manager_bus_setup_trust(Manager *m);
/* The objects, then the name: the daemon is reachable once this returns. */
int manager_bus_register(Manager *m);

/* Watches the sender of message: handler is called when it leaves the bus. Fails when it has left
 * already (or is leaving). */
int bus_track_sender(Manager *m, sd_bus_message *message, sd_bus_track_handler_t handler, void *userdata,
                     sd_bus_track **ret);

/* A bool field as a "b" property (sd-bus's own reads an int). */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* A getter of an enum field as its string (name##_to_string()), as systemd's BUS_DEFINE_PROPERTY_GET_ENUM(). */
#define BUS_DEFINE_PROPERTY_GET_ENUM(function, name, type)                                              \
        int function(sd_bus *bus, const char *path, const char *interface, const char *property,        \
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {                      \
                return sd_bus_message_append(reply, "s", name##_to_string(*(type *) userdata));         \
        }

/* One bit of an object's mask of changed properties (INSTANCE_PROP_*, OPERATION_PROP_*) and the properties
 * it stands for. */
typedef struct BusDirtyBit {
        uint32_t bit;
        const char *names[6];       /* NULL-terminated */
} BusDirtyBit;

/* PropertiesChanged on path for the properties whose bits dirty has, in the order of table, each once;
 * nothing when there are none. */
void bus_emit_dirty(sd_bus *bus, const char *path, const char *interface, uint32_t dirty,
                    const BusDirtyBit *table, size_t n_table);
