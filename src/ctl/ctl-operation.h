/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ctl.h"

/* Following an operation of lxcbusd: verbs that start one pass "async" and wait here, so that they can
 * show its progress and cancel it.
 *
 * Waits for the operation at path with Wait(), showing its Stage, Progress and Bytes on stderr: one line
 * updated in place when stderr is a terminal, a plain line per stage otherwise. On Ctrl-C (SIGINT) it calls
 * Cancel() if the operation is cancelable and says so (a second Ctrl-C stops waiting, leaving it running).
 * Returns 0 when the operation succeeded, < 0 after reporting its error (the exit status follows the error
 * name, as for a direct call). */
int ctl_wait_operation(Context *c, const char *path);

/* What to do with the operation that a call started. */
typedef enum CtlOperationCall {
        CTL_OPERATION_PRINT,    /* the call asked for "async" for the user: print the operation's path */
        CTL_OPERATION_FOLLOW,   /* the call asked for "async" for us: ctl_wait_operation() */
        CTL_OPERATION_BLOCK,    /* the call replies once the operation ended: wait as long as it may take */
} CtlOperationCall;

/* Sends *m, a call of a method that starts an operation and replies with its path last ("o", or "oo" with
 * a new instance first), and drops *m once answered: the copies of fds that a message holds must be gone
 * before a relay can see EOF. Then does with the operation what mode says. */
int ctl_call_operation(Context *c, sd_bus_message **m, CtlOperationCall mode);

/* "12" or "/org/lxcbus1/operation/12": the object path (malloc'ed), or -EINVAL. */
int ctl_operation_path(const char *id, char **ret);
