/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

/* The daemon's and lxcbusctl's connection: to the bus at address (--bus-address), as a client of a bus
 * (not a peer), or to the system bus when address is NULL (sd_bus_open_system() honours
 * $DBUS_SYSTEM_BUS_ADDRESS by itself). creds: what to negotiate on an address's bus (0: sd-bus's
 * default). Started when this returns; *ret is untouched on failure. */
int bus_open_client(const char *address, uint64_t creds, sd_bus **ret);
