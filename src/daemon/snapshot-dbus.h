/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
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

/* Polkit, the caller's uid, and an idle, stopped instance (running_too: or a running one, any_state: in
 * any state) for a method that works on its data. 1: go on; 0: polkit's answer is pending; < 0: refused. */
int bus_authorize_stopped(sd_bus_message *message, Instance *i, const char *verb, bool any_state,
                          bool running_too, uid_t *ret_uid, sd_bus_error *error);

/* Busy, naming the clone, when a snapshot of i (snapshot NULL: any) is an overlay clone's lower layer. */
int bus_check_no_overlay_user(Instance *i, const char *snapshot, const char *verb, sd_bus_error *error);

/* allow-running: NotSupported for an instance whose running tree a worker cannot read (an overlay clone). */
int bus_check_running_tree(Instance *i, const char *verb, sd_bus_error *error);
