/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "forward.h"

/* Exec and ExecPty: a process in a running instance, run by an exec worker, and its Process object (an
 * operation of kind exec). */

typedef struct ExecRequest {
        char **argv;                /* taken by exec_start() */
        char **env;                 /* the call's own variables, over the instance's environment.* keys */
        bool env_clear;             /* without the instance's environment.* keys */
        const char *cwd;            /* NULL: HOME */
        uid_t uid;
        gid_t gid;
        const int *fds;             /* stdin, stdout, stderr; NULL: a new pty of rows x cols */
        unsigned rows, cols;
        const char *term;           /* TERM on a pty; NULL: xterm */
} ExecRequest;

/* The environment and directory the process gets (what polkit is shown before it is started). */
int exec_environment(Instance *i, const ExecRequest *req, char ***ret_env, char **ret_cwd);
/* Starts the worker for o. */
int exec_start(Instance *i, Operation *o, ExecRequest *req);
/* Signals the process: -ESRCH once it has exited. */
int process_send_signal(Operation *o, int sig);
/* Its caller (who asked for kill-on-disconnect) left: SIGHUP, then SIGKILL after a grace time. */
void process_hang_up(Operation *o);
