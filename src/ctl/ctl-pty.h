/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/ioctl.h>

#include "ctl.h"

/* Copies bytes between lxcbusctl's stdin/stdout and the master of a terminal in an instance (ExecPty,
 * OpenConsole), with stdin in raw mode while it runs if it is a terminal, and the window size of the local
 * terminal passed on at every SIGWINCH. Used by "exec -t" and "console". */

typedef enum CtlPtyEnd {
        CTL_PTY_HANGUP,         /* the master hung up: the last holder of the terminal closed it */
        CTL_PTY_DETACHED,       /* the escape sequence, or EOF on stdin with detach_on_eof */
        CTL_PTY_SIGNAL,         /* a signal ended it (*ret_signal) */
} CtlPtyEnd;

typedef struct CtlPtyOptions {
        /* A process (org.lxcbus1.Process) that gets SIGINT, SIGTERM, SIGHUP and SIGQUIT that lxcbusctl
         * receives, with Process.Signal, while the forwarding goes on; NULL: such a signal ends it. */
        const char *process;
        bool escape;            /* Ctrl-a q detaches, Ctrl-a Ctrl-a sends a Ctrl-a */
        bool detach_on_eof;     /* EOF on stdin detaches; else the terminal's EOF character is sent once */
        bool set_size;          /* pass the local window size on at the start too */
} CtlPtyOptions;

/* The window size of the local terminal: stdout's, else stdin's. -ENOTTY if neither is a terminal. */
int ctl_pty_get_size(struct winsize *ret);

/* The signals the forwarding handles; block them (sigprocmask) before the call that creates the terminal,
 * so that none arrives between that and the forwarding. */
void ctl_pty_signal_mask(sigset_t *ret);

/* A copy (close-on-exec) of the terminal's fd that a reply (OpenConsole, ExecPty) carries, which stays
 * the reply's. Reports its failure. */
int ctl_pty_dup_master(Context *c, int fd, int *ret);

/* Runs until the master hangs up (after the output that it had is written), a detach or a signal. The
 * local terminal's mode and the file status flags of stdin and stdout are restored on every return.
 * Reports its failures. */
int ctl_pty_forward(Context *c, int master, const CtlPtyOptions *opts, CtlPtyEnd *ret_end, int *ret_signal);
