/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "forward.h"
#include "worker-proto.h"

/* One exec'd lxcbusd-worker, watched by pidfd, talking over a seqpacket socket (worker-proto.h). */

typedef struct WorkerHandlers {
        void (*message)(Worker *w, const WorkerMessage *msg, void *userdata);
        /* Called once, after the last message was read. error: 0, the negative errno of the worker's
         * "result", or -EPROTO when the worker died without reporting (killed, crashed). message stays
         * valid until the handler returns, even when it frees the worker. */
        void (*exited)(Worker *w, int error, const char *message, void *userdata);
} WorkerHandlers;

struct Worker {
        Manager *manager;
        pid_t pid;
        int fd;
        int received_fds[2];        /* fds that came with the message being handled */
        sd_event_source *pid_source;
        sd_event_source *io_source;
        const WorkerHandlers *handlers;
        void *userdata;
        bool got_result;
        bool exited;
        bool abandoned;
        bool refill;                /* took (or could have taken) a spare's place: make the next one */
        bool finish_on_result;      /* the exited handler runs at the "result", not at the exit (a monitor's) */
        WorkerVerb verb;
        Worker *next;               /* in the manager's list of abandoned workers */
        int result_error;
        char *result_message;
};

/* Runs a worker for req (see worker-proto.h); fds[i] becomes fd WORKER_FD + 1 + i in it. */
int worker_spawn(Manager *m, const WorkerRequest *req, const int *fds, size_t n_fds, const WorkerHandlers *h,
                 void *userdata, Worker **ret);
int worker_send(Worker *w, const char *msg);
void worker_kill(Worker *w, int sig);
/* Signals it and lets it go: it is reaped and freed when it exits, with no callback. */
void worker_abandon(Worker *w, int sig);
/* Frees without calling the exit handler; the process is left to run (its exit is then never seen by
 * anyone but PID 1) unless it was killed first. */
Worker *worker_free(Worker *w);
/* worker_free(), or if its process still runs, worker_abandon() without a signal: it is reaped when it exits. */
Worker *worker_release(Worker *w);
