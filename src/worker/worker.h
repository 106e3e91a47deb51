/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

int worker_main(int argc, char *argv[]);

#include "macro.h"
#include "worker-proto.h"

/* For the verbs in other files of the worker: a message to the daemon, and the result message (its
 * errno positive or negative, 0 for success), which returns the worker's exit status. */
int worker_send_message(const WorkerMessage *m);
/* "bytes <done> <total>": total 0 when not known, or when the verb reports its Progress itself. Unthrottled:
 * the caller reports at most about every 100 ms. */
void worker_report_bytes(uint64_t done, uint64_t total);
int worker_result(int error, const char *format, ...) _printf_(2, 3);
