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

/* "12" or "/org/lxcbus1/operation/12": the object path (malloc'ed), or -EINVAL. */
int ctl_operation_path(const char *id, char **ret);
