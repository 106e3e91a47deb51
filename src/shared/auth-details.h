/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* The polkit details of a call: what a rule reads with action.lookup(KEY). A pure function of what the
 * call asks (no bus, no NSS, no daemon state), so it is unit-tested and fuzzed on its own. Which keys a
 * verb carries is fixed (docs/polkit.md lists them); a key that does not apply is absent, never empty,
 * and a key that applies is always there, its default filled in, so a rule can compare with ==. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>


/* The bound on all the details of one check together (keys and values, bytes). A call whose details
 * would be larger is refused before polkit is asked: the CheckAuthorization message stays far below the
 * bus's message limit whatever the request, and polkitd never gets megabytes to hand a rule. */
#define AUTH_DETAILS_SIZE_MAX (1024U * 1024U)
/* The most keys a verb carries (the strv has twice as many entries, plus the NULL). */
#define AUTH_DETAILS_KEYS_MAX 16

typedef struct AuthRequest {
        const char *verb;               /* from the table, or a variant of it (console-log-clear) */
        const char *instance;           /* NULL: none */
        uid_t owner;                    /* UID_INVALID: none */
        const char *owner_name;         /* the owner's user name; NULL: the decimal uid */

        char *const *argv;              /* exec, exec-pty, signal: the command */
        /* exec, exec-pty */
        char *const *env;               /* NAME=VALUE, the variables the call sets */
        bool env_clear;
        uid_t uid;
        gid_t gid;
        const char *cwd;                /* where the process starts (the option, else its $HOME) */
        const char *term;               /* exec-pty: TERM */
        /* kill, signal */
        int signal;
        bool all;                       /* kill */
        /* stop, restart, delete */
        bool force;                     /* stop, restart: also when the timeout is 0 (killed at once) */
        unsigned timeout_sec;           /* stop, restart */
        /* set-config: keys set and unset; create: the keys of the config */
        char *const *set_keys;
        char *const *unset_keys;
        const char *template;           /* create */
        /* push-file, pull-file: the path in the instance; push-file also uid, gid (above) and mode */
        const char *path;
        unsigned mode;
} AuthRequest;

/* The details as a strv of key, value, key, value, ..., NULL. -E2BIG when they would exceed
 * AUTH_DETAILS_SIZE_MAX, -EINVAL for a request without a verb, -ENOMEM. */
int auth_details_build(const AuthRequest *req, char ***ret);

/* Whether the details of verb read the instance's config (exec: the working directory defaults to
 * $HOME, which environment.HOME may set), so an answer is only good for the config it was given for. */
bool auth_details_read_config(const char *verb);

/* "SIGTERM", "SIGRTMIN+3", or the decimal number for anything else. buf: at least 16 bytes. */
const char *auth_signal_name(int sig, char buf[static 16]);
