/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What lxcbusd-worker and lxcbusd-monitor share (worker-core.c): the socket to the daemon, the messages
 * on it, and the reading of the one request, which goes to the program's handler of its verb. */
#include <lxc/lxccontainer.h>
#include <stdbool.h>

#include "macro.h"
#include "worker-proto.h"

/* The socket to the daemon. */
extern const int worker_fd;
/* lxcbusd-worker's path ($LXCBUS_WORKER_PATH, else argv[0]): lxcbusd-start-hook sits beside it. */
extern const char *worker_path;

void lxc_container_putp(struct lxc_container **c);
#define _cleanup_lxc_ _cleanup_(lxc_container_putp)

/* For the verbs: a message to the daemon, with n_fds fds (SCM_RIGHTS, at most 2) if any; the result
 * message (its errno positive or negative, 0 for success), which returns the worker's exit status; a
 * progress message. */
int worker_send_message_fds(const WorkerMessage *m, const int *fds, size_t n_fds);
int worker_send_message(const WorkerMessage *m);
int worker_result(int error, const char *format, ...) _printf_(2, 3);
void worker_progress(double fraction, const char *stage);
/* "bytes <done> <total>": total 0 when not known, or when the verb reports its Progress itself. Unthrottled:
 * the caller reports at most about every 100 ms. */
void worker_report_bytes(uint64_t done, uint64_t total);

typedef struct WorkerHandler {
        int (*run)(const WorkerRequest *req, struct lxc_container *c);
        bool container;    /* run() gets the instance's container, which must exist */
} WorkerHandler;

/* The main of a worker program: reads the request on fd 3 and runs handlers[verb] (a verb without one is
 * refused). Returns the exit status. */
int worker_serve(int argc, char *argv[], const char *program,
                 const WorkerHandler handlers[static _WORKER_VERB_MAX]);
