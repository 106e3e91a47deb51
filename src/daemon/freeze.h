/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "forward.h"
#include "macro.h"

#define FREEZE_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* Freezing an instance's processes (freeze.c): Freeze and Unfreeze, and the hold that keeps a running
 * instance frozen while Copy, Snapshot or Export (option allow-running) read its rootfs. */

/* Writes the freezer of i and polls, on the event loop, until the payload is frozen (or thawed); then
 * done(o, 0), or done(o, -ETIMEDOUT) after FREEZE_TIMEOUT_USEC (a freeze thawed again first) or done(o,
 * -errno). done is called exactly once, maybe before this returns. */
void freeze_wait(Operation *o, Instance *i, bool freeze, void (*done)(Operation *o, int error));

/* The running instance i frozen for o: State "frozen" once it is, then ready(o, 0) (or ready(o, -errno),
 * the instance thawed). A marker in the runtime directory tells a daemon started after a kill to thaw it
 * (freeze_recover()). It stays frozen until o finishes: operation_finish() calls freeze_release(). */
void freeze_hold(Instance *i, Operation *o, void (*ready)(Operation *o, int error));
/* Thaws what o holds, if anything; again and again is fine. */
void freeze_release(Operation *o);
/* At startup, for an adopted instance that is frozen: if a hold froze it (the marker is there) it is
 * thawed, and 0 returned; 1 if it stays frozen (a Freeze call's). */
int freeze_recover(Instance *i, bool frozen);
