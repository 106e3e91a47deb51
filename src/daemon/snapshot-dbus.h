/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* The members of org.lxcbus1.Instance that snapshot-dbus.c answers (instance_vtable lists them). */
int property_get_snapshots(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error);
int method_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_restore_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_delete_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_rename(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_copy(sd_bus_message *message, void *userdata, sd_bus_error *error);

#include "forward.h"

/* Busy, naming the clone, when a snapshot of i (snapshot NULL: any) is an overlay clone's lower layer. */
int bus_check_no_overlay_user(Instance *i, const char *snapshot, const char *verb, sd_bus_error *error);

/* allow-running: NotSupported for an instance whose running tree a worker cannot read (an overlay clone). */
int bus_check_running_tree(Instance *i, const char *verb, sd_bus_error *error);
