/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "forward.h"

/* Terminals of running instances (OpenConsole) and the console log (ConsoleLog). liblxc asks the
 * instance's monitor for a terminal, which may block on a hung monitor, so a worker does it and sends
 * the fds back. A terminal stays allocated while the daemon holds its keep-alive fd: until whoever
 * holds it lets go (console_free()), or the instance stops. */

#define CONSOLES_PER_INSTANCE_MAX 16
#define CONSOLE_TTY_MAX 64

struct Console {
        Instance *instance;
        Console *next;
        int keep_fd;
        int tty;
        void *userdata;                 /* who holds it (the bus face: the caller) */
        void (*release)(Console *c);    /* called when it is freed, to drop userdata */
};

/* done: a terminal was allocated (error 0: c, and ptx, its master, valid until done returns) or not
 * (error < 0, message). Called once; the request is freed after. */
typedef void (*console_done_t)(Console *c, int ptx, int error, const char *message, void *userdata);

/* Starts the worker that asks for terminal tty (0: the console) of running instance i for uid, who
 * holds a slot of the operation limits while it runs (-EUSERS: none left). -EBUSY: the instance has
 * CONSOLES_PER_INSTANCE_MAX terminals open or being opened. */
int console_open(Instance *i, uid_t uid, int tty, console_done_t done, void *userdata);
Console *console_free(Console *c);
void instance_release_consoles(Instance *i);

/* The console log of a running instance, its last CONSOLE_LOG_MAX bytes, as a sealed memfd; clear:
 * empties it after. */
#define CONSOLE_LOG_MAX (256 * 1024)
int console_read_log(Instance *i, bool clear, int *ret_fd);
