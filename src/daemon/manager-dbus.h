/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "config.h"
#include "forward.h"

/* org.lxcbus1.Manager: the bus face of the manager. */

extern const sd_bus_vtable manager_vtable[];

/* Reads an a{ss} of config keys, validating every key and value. */
int bus_read_config(sd_bus_message *message, ConfigMap *ret, sd_bus_error *error);

/* The manager's hook that sends what changed: every dirty object's properties, then the manager's. */
void manager_bus_flush(Manager *m);
