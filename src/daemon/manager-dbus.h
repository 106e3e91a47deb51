/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "config.h"
#include "forward.h"
#include "metadata.h"

/* org.lxcbus1.Manager: the bus face of the manager. */

extern const sd_bus_vtable manager_vtable[];

/* Reads an a{ss} of config keys, validating every key and value. */
int bus_read_config(sd_bus_message *message, ConfigMap *ret, sd_bus_error *error);
/* For CreateInstance and ImportInstance (before polkit) and Copy ("create instance" or "copy to instance"):
 * room for one more instance under --max-instances and LXCBUS_INSTANCES_DATA_MAX, else LimitsExceeded. */
int bus_check_instance_room(Manager *m, const char *what, const char *name, sd_bus_error *error);
/* After polkit, for CreateInstance and Copy: the name is free, the owner's quota allows one more, and md
 * (its config set) is completed: name, owner, times, and for an unprivileged instance its block of
 * subordinate ids. */
int bus_prepare_new_instance(Manager *m, const char *name, uid_t uid, bool privileged, bool ephemeral,
                             InstanceMetadata *md, sd_bus_error *error);

/* The object paths of the instances, or of the operations (NULL-terminated, never NULL itself). */
int manager_bus_paths(Manager *m, bool operations, char ***ret);

/* The children of LXCBUS_INSTANCE_PREFIX, of LXCBUS_OPERATION_PREFIX. */
int manager_instance_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int manager_operation_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* The manager's hook that sends what changed: every dirty object's properties, then the manager's. */
void manager_bus_flush(Manager *m);
