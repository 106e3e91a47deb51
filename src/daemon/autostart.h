/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "forward.h"

/* StartAutostart and StopAll: operations of the manager, each made of one Start or Stop operation per
 * instance (its children, which show on the bus as any other). docs/systemd.md, "Autostart and shutdown". */

/* Starts every stopped instance with boot.autostart, by boot.autostart.priority, highest first; the
 * instances of one priority together. Once those are running (or failed), waits the largest
 * boot.autostart.delay among the ones it started before the next priority. An instance that is not
 * stopped, or busy with another operation, is left alone. o: a new OPERATION_START_AUTOSTART;
 * timeout_sec: each start's. Finishes o, failed if an instance did not start; cancelable. */
void manager_start_autostart(Manager *m, Operation *o, unsigned timeout_sec);

/* Stops every instance that runs (or is frozen, starting or stopping), all at once, each with
 * timeout_sec for a clean shutdown before it is killed; force or a frozen instance: killed at once. An
 * instance busy with another operation is stopped when that ends, or its scope killed once timeout_sec
 * has passed. Cancels every running StartAutostart first. Finishes o, failed if one is still running. */
void manager_stop_all(Manager *m, Operation *o, unsigned timeout_sec, bool force);

/* For operation.c: a child (of id child_id) finished; and the group's operation is being freed. */
void group_child_finished(Operation *parent, uint64_t child_id, bool ok);
void group_operation_done(Operation *o);
