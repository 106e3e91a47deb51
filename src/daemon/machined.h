/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "forward.h"

/* Running instances registered with systemd-machined (docs/systemd.md, "machined"), asynchronously:
 * the model as machined's client, as scope.c is systemd's. Nothing here is needed for an instance to
 * run: without machined on the bus every call is a no-op. */

/* Where an instance stands with machined. */
typedef enum MachineRegistration {
        MACHINE_UNREGISTERED,
        MACHINE_REGISTERING,        /* RegisterMachine sent */
        MACHINE_CHECKING,           /* the name existed: is that machine ours (GetMachineByPID)? */
        MACHINE_REGISTERED,
} MachineRegistration;

/* Follows org.freedesktop.machine1 on the bus (NameOwnerChanged, then GetNameOwner): whenever it
 * appears (at our start, or machined started or restarted later) every running instance is
 * registered. Never activates machined. */
int machined_watch(Manager *m);
/* Registers a running instance (leader: its init) if machined is on the bus; else a no-op. */
void machined_register(Instance *i);
/* The instance stopped: unregisters it if it is (or may be about to be) registered. */
void machined_unregister(Instance *i);
/* The instance is freed: stop waiting for machined's answers about it. */
void machined_forget(Instance *i);
