/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol between lxcbusd and lxcbusd-worker, over a SOCK_SEQPACKET socketpair that the worker
 * finds on fd 3. One message per packet, at most WORKER_MSG_MAX bytes.
 *
 *   daemon -> worker   request: NUL-separated strings "verb\0lxcpath\0name\0arg...\0"; once only.
 *   daemon -> worker   "go": start may proceed (the scope is realized). Only for verb "start".
 *   worker -> daemon   "progress <0..1> <stage text>"
 *   worker -> daemon   "running <init pid>"                      (start: the container runs)
 *   worker -> daemon   "result <errno> <message>"                 last message; errno 0 = success
 *
 * Verbs:
 *   create  STAGING_LXCPATH NAME FINAL_LXCPATH METADATA_JSON IDMAP TEMPLATE [TEMPLATE_ARGS...]
 *           TEMPLATE "none" makes an empty rootfs. Builds in staging, renames into FINAL_LXCPATH/NAME.
 *           IDMAP "-": privileged; "UID:GID:COUNT": idmapped (lxc.idmap u 0 UID COUNT, g 0 GID COUNT),
 *           the template runs in the user namespace and the rootfs belongs to UID:GID.
 *   start   LXCPATH NAME CGROUP_DIR          waits for "go", then runs the container in the foreground:
 *                                             the worker is its monitor and exits when it stops.
 *   stop    LXCPATH NAME TIMEOUT_SEC         clean shutdown for TIMEOUT_SEC (0: none), then kill.
 *   destroy LXCPATH NAME TRASH_DIR           renames the instance directory into TRASH_DIR, removes it.
 *   console LXCPATH NAME TTY                 "console <tty>" with two fds: the one that keeps the
 *                                             terminal allocated, and its ptx (TTY 0: the console).
 *   exec    LXCPATH NAME CWD UID GID PTY NENV ENV... ARGV...
 *                                             runs ARGV in the instance with fds 4, 5, 6 as its stdio
 *                                             (PTY "-"), or on a new pty in the instance (PTY
 *                                             "ROWS:COLS"), whose master comes first as "pty" with the
 *                                             fd (SCM_RIGHTS); reports "running <pid>" with a pidfd of
 *                                             the process (its only handle for signals: the worker
 *                                             reaps it), then "exited <status> <signal>" (status -1
 *                                             when killed by a signal).
 *
 * Cancel is SIGTERM to the worker. lxcbusd-start-hook, beside the worker, is what liblxc runs as
 * lxc.hook.start-host; it sends "running $LXC_PID" on the start worker's socket, which it takes from the
 * monitor with pidfd_getfd($LXCBUS_MONITOR_PID, $LXCBUS_NOTIFY_FD): the socket is close-on-exec in the
 * monitor, so no process of the instance ever holds it. */

#define WORKER_MSG_MAX 65536
#define WORKER_FD 3

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* At most this many strings in a request (verb included). The daemon sends at most 8 + EXEC_ENV_MAX (256)
 * + EXEC_ARGV_MAX (1024); each string needs at least its NUL, so WORKER_MSG_MAX bounds the count too, but
 * the worker allocates per string before it looks at the verb. */
#define WORKER_REQUEST_ARGS_MAX 2048

/* Splits a request "verb\0arg\0...\0" of len bytes in buf (len counts the last NUL) into pointers into buf.
 * Fails with -EBADMSG unless 1 <= len <= WORKER_MSG_MAX, the last byte is NUL, the verb is not empty and
 * there are at most WORKER_REQUEST_ARGS_MAX strings; -ENOMEM. *ret_args (NULL-terminated, free() it, the
 * strings stay in buf) holds the *ret_n strings after the verb. */
int worker_request_parse(char *buf, size_t len, const char **ret_verb, char ***ret_args, size_t *ret_n);

/* A decimal number without sign, spaces or leading zeros ("0" itself is fine), at most max. -EINVAL
 * otherwise. For the numbers in requests and messages, which only our own printf writes. */
int worker_parse_uint(const char *s, unsigned max, unsigned *ret);

/* The arguments of "exec" after LXCPATH NAME: CWD UID GID PTY NENV ENV... ARGV... */
typedef struct WorkerExecArgs {
        const char *cwd;         /* NULL for the default (the argument was "") */
        uid_t uid;
        gid_t gid;
        bool pty;
        unsigned rows, cols;     /* with pty: 1..WORKER_PTY_SIZE_MAX */
        char **env;              /* NULL-terminated; the strings stay in the request */
        char **argv;             /* NULL-terminated, at least one */
} WorkerExecArgs;

#define WORKER_PTY_SIZE_MAX 10000

/* args/n as worker_request_parse() gives them (LXCPATH first). -EBADMSG if malformed, -ENOMEM. */
int worker_exec_args_parse(char *const *args, size_t n, WorkerExecArgs *ret);
void worker_exec_args_done(WorkerExecArgs *a);

/* The IDMAP argument of "create": "-" (privileged: all 0) or "UID:GID:COUNT", all three > 0. */
int worker_idmap_parse(const char *s, unsigned *ret_uid, unsigned *ret_gid, unsigned *ret_count);

typedef enum WorkerMessageKind {
        WORKER_MESSAGE_PROGRESS,   /* "progress <0..1> [text]" */
        WORKER_MESSAGE_RUNNING,    /* "running <pid>" */
        WORKER_MESSAGE_EXITED,     /* "exited <status> <signal>" */
        WORKER_MESSAGE_RESULT,     /* "result <errno> [text]" */
        WORKER_MESSAGE_CONSOLE,    /* "console <tty>" (with two fds) */
        WORKER_MESSAGE_PTY,        /* "pty" (with one fd) */
        _WORKER_MESSAGE_KIND_MAX,
        _WORKER_MESSAGE_KIND_INVALID = -EINVAL,
} WorkerMessageKind;

/* Bounds of the numbers in messages: an errno of the kernel's range, a pid below the kernel's
 * PID_MAX_LIMIT (4194304 on 64 bit), an exit status, a signal of Linux (SIGRTMAX is 64), a tty that
 * liblxc can have (lxc.tty.max is far below). */
#define WORKER_ERRNO_MAX 4095
#define WORKER_PID_MAX 4194304
#define WORKER_STATUS_MAX 255
#define WORKER_SIGNAL_MAX 64
#define WORKER_TTY_MAX 65535

typedef struct WorkerMessage {
        WorkerMessageKind kind;
        double progress;           /* PROGRESS: finite, 0..1 */
        const char *text;          /* PROGRESS: the stage or NULL; RESULT: the message, "" if none */
        pid_t pid;                 /* RUNNING: 1..WORKER_PID_MAX */
        int status, signal;        /* EXITED: status 0..255 and signal 0, or status -1 and signal 1..64 */
        int error;                 /* RESULT: 0..WORKER_ERRNO_MAX, 0 is success */
        int tty;                   /* CONSOLE: 0..WORKER_TTY_MAX */
} WorkerMessage;

/* A message from a worker: len bytes at msg, followed by a NUL (msg[len] == 0), as the daemon reads
 * it. -EBADMSG for anything else than the forms above (an unknown word, a NUL inside, a number out of
 * range or with a sign, a space or junk around it). ret->text points into msg. */
int worker_message_parse(const char *msg, size_t len, WorkerMessage *ret);
