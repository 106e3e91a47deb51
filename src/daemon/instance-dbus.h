/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "auth-details.h"
#include "config.h"
#include "forward.h"

/* org.lxcbus1.Instance: the bus face of instances (console-dbus.c has OpenConsole and ConsoleLog). */

/* Option timeout-sec of Start and Stop (and of StartAutostart and StopAll, for each instance). */
#define DEFAULT_START_TIMEOUT_SEC 60
#define DEFAULT_STOP_TIMEOUT_SEC 30
#define TIMEOUT_SEC_MAX (24 * 3600)

extern const sd_bus_vtable instance_vtable[];
int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error);

/* An InvalidState error for verb ("start") in the instance's state. */
int bus_error_invalid_state(Instance *i, const char *verb, sd_bus_error *error);
/* Busy, naming what holds the instance; 0 when nothing does. */
int bus_error_busy(Instance *i, sd_bus_error *error);
/* LimitsExceeded: i's config or snapshots cannot grow, all instances' together are at
 * LXCBUS_INSTANCES_DATA_MAX. */
int bus_error_instances_data(Instance *i, sd_bus_error *error);
/* Steps 2 and 3 of a method that will hold i (STYLE.md): polkit (request: its details, NULL for the verb's
 * alone), the caller's uid, then Busy if something holds i. 1: go on; 0: polkit's answer is pending (the
 * handler returns 1); < 0 (error set): refused. */
int bus_authorize_operation(sd_bus_message *message, Instance *i, const AuthRequest *request, uid_t *ret_uid,
                            sd_bus_error *error);

/* The manager's hooks of instances. */
void instance_bus_added(Instance *i);
void instance_bus_removed(Instance *i);
void instance_bus_emit_changes(Instance *i);

/* Refuses limits this host cannot apply (NotSupported, or InvalidConfig naming the key); 1 if it can. */
int bus_check_limits(const ConfigMap *config, sd_bus_error *error);
