/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "forward.h"
#include "metadata.h"
#include "worker-proto.h"

/* Export and ImportInstance's work: a worker streams a tarball into or out of the caller's fd
 * (src/worker/tarball.c). The daemon only passes the fd on, never reads it and never opens a path. */

/* Starts the export of stopped instance i into fd (the caller's, still owned by the call) under o, which
 * holds i's lock until the worker is done; snapshots: its snapshots go in too. Cancel kills the worker;
 * the instance is only read. With allow_running a running instance is frozen first and thawed when o
 * finishes (freeze_hold()); then o finishes by itself, any failure included, and 0 is returned. */
int transfer_export(Instance *i, Operation *o, int fd, WorkerCompression compression, bool snapshots,
                    bool allow_running);

/* Starts the import of the tarball on fd as the new instance o->instance_name with md (complete, checked,
 * taken): as create_instance(), staging, cancel and cleanup included. */
int transfer_import(Manager *m, Operation *o, int fd, InstanceMetadata *md);
