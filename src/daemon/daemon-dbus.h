/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

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
