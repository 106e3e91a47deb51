/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol between lxcbusd and lxcbusd-worker, over a SOCK_SEQPACKET socketpair that the worker
 * finds on fd 3. One message per packet, at most WORKER_MSG_MAX bytes. Both directions are encoded and
 * decoded here only: the daemon fills a WorkerRequest and calls worker_request_encode(), the worker
 * calls worker_request_decode() once and dispatches on req.verb; the worker (and the start hook) fill a
 * WorkerMessage and call worker_message_format(), the daemon calls worker_message_parse().
 *
 *   daemon -> worker   request: NUL-separated strings "verb\0lxcpath\0name\0arg...\0"; once only.
 *   daemon -> worker   WORKER_MESSAGE_GO: start may proceed (the scope is realized). Only for "start".
 *   worker -> daemon   "progress <0..1> <stage text>"
 *   worker -> daemon   "running <init pid>"                      (start: the container runs)
 *   worker -> daemon   "result <errno> <message>"                 last message; errno 0 = success
 *   worker -> daemon   "bytes <done> <total>"                     push-file, pull-file, export, import, copy:
 *                                                                 bytes moved so far, at most ~10 a second and
 *                                                                 once at the end; total > 0: the size, and
 *                                                                 Progress is done/total; 0: not known, or the
 *                                                                 verb's "progress" says how far it is
 *
 * Verbs, and the WorkerRequest member that holds their arguments after LXCPATH NAME:
 *   create  STAGING_LXCPATH NAME FINAL_LXCPATH METADATA_JSON IDMAP TEMPLATE [TEMPLATE_ARGS...]   .create
 *           TEMPLATE "none" makes an empty rootfs. Builds in staging, renames into FINAL_LXCPATH/NAME.
 *           IDMAP "-": privileged; "UID:GID:COUNT": idmapped (lxc.idmap u 0 UID COUNT, g 0 GID COUNT),
 *           the template runs in the user namespace and the rootfs belongs to UID:GID.
 *   start   LXCPATH NAME CGROUP_DIR NET_TYPE NET_LINK NET_HWADDR NET_MTU
 *                                            .start: waits for "go", then runs the container in the
 *                                             foreground: the worker is its monitor and exits when it stops.
 *                                             NET_*: lxc.net.0 (network.h); NET_TYPE veth, macvlan or
 *                                             empty, NET_LINK and NET_HWADDR "" where none, NET_MTU 0: the
 *                                             kernel's.
 *   stop    LXCPATH NAME TIMEOUT_SEC         .stop: clean shutdown for TIMEOUT_SEC (0: none), then kill.
 *   destroy LXCPATH NAME TRASH_DIR           .destroy: renames the instance directory into TRASH_DIR,
 *                                             removes it.
 *   console LXCPATH NAME TTY                 .console: "console <tty>" with two fds: the one that keeps
 *                                             the terminal allocated, and its ptx (TTY 0: the console).
 *   exec    LXCPATH NAME CWD UID GID PTY NENV ENV... ARGV...
 *                                             .exec: runs ARGV in the instance with fds 4, 5, 6 as its
 *                                             stdio (PTY "-"), or on a new pty in the instance (PTY
 *                                             "ROWS:COLS"), whose master comes first as "pty" with the
 *                                             fd (SCM_RIGHTS); reports "running <pid>" with a pidfd of
 *                                             the process (its only handle for signals: the worker
 *                                             reaps it), then "exited <status> <signal>" (status -1
 *                                             when killed by a signal).
 *   push-file LXCPATH NAME PATH MODE UID GID DIR_UID DIR_GID MKDIR_PARENTS ROOT
 *                                            .push_file: copies fd 4 (the caller's, readable) into PATH of
 *                                             LXCPATH/NAME/rootfs, resolved in that root, through a temporary
 *                                             file renamed into place; owned by UID:GID (host ids), MODE
 *                                             (octal value, written in decimal); MKDIR_PARENTS "1" creates
 *                                             missing directories (0755, DIR_UID:DIR_GID), "0" does not.
 *                                             ROOT "fd": the root is fd 5 instead (a directory the daemon
 *                                             opened: a running overlay clone's /proc/INIT/root), "dir": not.
 *                                             Reports "bytes <done> 0" on the way.
 *   pull-file LXCPATH NAME PATH ROOT         .pull_file: copies the regular file PATH of the rootfs (resolved
 *                                             and ROOT as for push-file) into fd 4 (writable); "bytes <done>
 *                                             <size>".
 *   copy    LXCPATH NAME SOURCE SHIFT        .copy: copies the tree SOURCE (absolute) to LXCPATH/NAME, which
 *                                             it creates (a leftover there is removed first): modes, numeric
 *                                             owners, times, symlinks, devices, xattrs; reflinks where it can.
 *                                             SHIFT "-": owners as they are; "FU:FG:TU:TG:COUNT": uids in
 *                                             FU..FU+COUNT-1 become TU.., gids in FG.. become TG.. (a copy of
 *                                             an idmapped instance into a new block). "bytes <file data> 0".
 *   export  LXCPATH NAME COMPRESSION IDMAP SNAPSHOTS
 *                                             .export: writes the instance (lxcbus.json, rootfs/) as a pax
 *                                             tarball into fd 4; COMPRESSION none|gzip|xz|zstd; IDMAP as
 *                                             create's: owners in that range are written un-shifted;
 *                                             SNAPSHOTS "1": the snapshots too (snapshots/NAME/rootfs/),
 *                                             "0": not (and lxcbus.json lists none).
 *                                             "bytes <written to fd 4> 0".
 *   import  STAGING_LXCPATH NAME FINAL_LXCPATH METADATA_JSON IDMAP
 *                                             .import: as create with template "none", then extracts the
 *                                             tarball read from fd 4 (src/worker/tarball.c) into the rootfs,
 *                                             and an export's snapshots beside it. "bytes <read from fd 4> 0".
 *   hostname LXCPATH NAME OLD_NAME           .hostname: /etc/hostname of LXCPATH/NAME/rootfs (resolved in that
 *                                             root) becomes "NAME\n" if it is a regular file holding OLD_NAME,
 *                                             through a temporary file renamed into place that keeps the old
 *                                             one's owner and mode; anything else there is left alone.
 *
 * Cancel is SIGTERM to the worker. lxcbusd-start-hook, beside the worker, is what liblxc runs as
 * lxc.hook.start-host; it sends "running $LXC_PID" on the start worker's socket, which it takes from the
 * monitor with pidfd_getfd($LXCBUS_MONITOR_PID, $LXCBUS_NOTIFY_FD): the socket is close-on-exec in the
 * monitor, so no process of the instance ever holds it. */

#define WORKER_MSG_MAX 65536
#define WORKER_FD 3
/* push-file and pull-file with ROOT "fd": the instance's root, after the caller's fd. */
#define WORKER_ROOT_FD (WORKER_FD + 2)

/* The one message the daemon sends after the request. */
#define WORKER_MESSAGE_GO "go"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* At most this many strings in a request (verb included). The daemon sends at most 8 + an environment of
 * 3 defaults, CONFIG_KEYS_MAX (256) environment.* keys and LXCBUS_EXEC_ENV_MAX (256) + LXCBUS_EXEC_ARGV_MAX
 * (1024), that is 1547; each string needs at least its NUL, so WORKER_MSG_MAX bounds the count too, but
 * the decoder allocates per string before it looks at the verb. */
#define WORKER_REQUEST_ARGS_MAX 2048

#define WORKER_PTY_SIZE_MAX 10000

/* A decimal number without sign, spaces or leading zeros ("0" itself is fine), at most max. -EINVAL
 * otherwise. For the numbers in requests and messages, which only our own printf writes. */
int worker_parse_uint(const char *s, unsigned max, unsigned *ret);

typedef enum WorkerVerb {
        WORKER_VERB_CREATE,
        WORKER_VERB_START,
        WORKER_VERB_STOP,
        WORKER_VERB_DESTROY,
        WORKER_VERB_CONSOLE,
        WORKER_VERB_EXEC,
        WORKER_VERB_PUSH_FILE,
        WORKER_VERB_PULL_FILE,
        WORKER_VERB_COPY,
        WORKER_VERB_EXPORT,
        WORKER_VERB_IMPORT,
        WORKER_VERB_HOSTNAME,
        _WORKER_VERB_MAX,
        _WORKER_VERB_INVALID = -EINVAL,
} WorkerVerb;

DECLARE_STRING_TABLE_LOOKUP(worker_verb, WorkerVerb);

/* In a decoded request every string is one of the packet (never NULL, never empty unless said) and every
 * number is in range; the arrays are allocated by the decode and freed by worker_request_done(). */
/* Where create and import put the instance they build in staging (LXCPATH/NAME): FINAL_LXCPATH/NAME,
 * with this metadata and idmap. */
typedef struct WorkerPlacement {
        const char *final_lxcpath;
        const char *metadata_json;
        unsigned idmap_uid, idmap_gid, idmap_count;   /* idmap_count 0: privileged (wire "-"), all 0;
                                                       * else all three 1..UINT32_MAX - 1 */
} WorkerPlacement;

typedef struct WorkerCreateArgs {
        WorkerPlacement placement;
        const char *template;                          /* "none": empty rootfs */
        char **template_args;                          /* NULL-terminated, may be NULL = none (decode: never
                                                        * NULL) */
} WorkerCreateArgs;

typedef struct WorkerStartArgs {
        const char *cgroup_dir;    /* relative to the cgroup root, as lxc.cgroup.dir */
        bool systemd;              /* init is systemd: set up what it needs (wire "1"/"0") */
        const char *net_type;      /* "veth", "macvlan", "empty" */
        const char *net_link;      /* an interface name (ifname_is_valid), NULL with "empty" (wire "") */
        const char *net_hwaddr;    /* hwaddr_is_valid, or NULL (wire "") */
        unsigned net_mtu;          /* 0 or NETWORK_MTU_MIN..NETWORK_MTU_MAX */
        /* The payload cgroup's own v1 limits, as lxc.cgroup.* (scope-limits.h): */
        const char *cgroup_cpus;   /* cpuset.cpus, a CPU list (limits_parse_cpu_list), or NULL (wire "") */
        uint64_t cgroup_memory;    /* memory.limit_in_bytes and memory.memsw.limit_in_bytes: 0 for none */
        uint64_t cgroup_memsw;     /* (wire ""), UINT64_MAX for no limit (wire "max"), else below
                                    * LIMITS_BYTES_NONE; both or neither, memsw >= memory */
} WorkerStartArgs;

typedef struct WorkerStopArgs {
        unsigned timeout_sec;      /* 0..INT_MAX; 0: no clean shutdown */
} WorkerStopArgs;

typedef struct WorkerDestroyArgs {
        const char *trash_dir;
} WorkerDestroyArgs;

typedef struct WorkerConsoleArgs {
        unsigned tty;              /* 0..WORKER_TTY_MAX; 0: the console */
} WorkerConsoleArgs;

typedef struct WorkerExecArgs {
        const char *cwd;           /* NULL for the default (wire "") */
        uid_t uid;                 /* never (uid_t) -1 */
        gid_t gid;
        bool pty;
        unsigned rows, cols;       /* with pty: 1..WORKER_PTY_SIZE_MAX; without: ignored (decode: 0) */
        char **env;                /* NULL-terminated (NULL: none; decode: never NULL) */
        char **argv;               /* NULL-terminated, at least one */
} WorkerExecArgs;

/* push-file and pull-file: path is absolute, its last component a name (not "", ".", ".."). */
typedef struct WorkerPushFileArgs {
        const char *path;
        unsigned mode;             /* 0..07777 */
        uid_t uid;                 /* host ids (an idmapped instance's already shifted), never (uid_t) -1 */
        gid_t gid;
        uid_t dir_uid;             /* of the directories mkdir_parents creates */
        gid_t dir_gid;
        bool mkdir_parents;
        bool root_fd;              /* the root is fd WORKER_ROOT_FD, not LXCPATH/NAME/rootfs */
} WorkerPushFileArgs;

typedef struct WorkerPullFileArgs {
        const char *path;
        bool root_fd;              /* as for push-file */
} WorkerPullFileArgs;
typedef struct WorkerCopyArgs {
        const char *source;        /* absolute */
        unsigned from_uid, from_gid, to_uid, to_gid, count;   /* count 0: no shift (wire "-"), all 0; else
                                                               * every range within 0..UINT32_MAX - 1,
                                                               * the target ones above 0 */
} WorkerCopyArgs;
typedef enum WorkerCompression {
        WORKER_COMPRESSION_NONE,
        WORKER_COMPRESSION_GZIP,
        WORKER_COMPRESSION_XZ,
        WORKER_COMPRESSION_ZSTD,
        _WORKER_COMPRESSION_MAX,
        _WORKER_COMPRESSION_INVALID = -EINVAL,
} WorkerCompression;

DECLARE_STRING_TABLE_LOOKUP(worker_compression, WorkerCompression);

typedef struct WorkerExportArgs {
        WorkerCompression compression;
        unsigned idmap_uid, idmap_gid, idmap_count;   /* as WorkerPlacement */
        bool snapshots;
} WorkerExportArgs;

typedef struct WorkerImportArgs {
        WorkerPlacement placement;
} WorkerImportArgs;

/* hostname: old_name is a valid instance name, as NAME is. */
typedef struct WorkerHostnameArgs {
        const char *old_name;
} WorkerHostnameArgs;

typedef struct WorkerRequest {
        WorkerVerb verb;
        const char *lxcpath;       /* not empty */
        const char *name;          /* not empty, no '/' */
        union {
                WorkerCreateArgs create;
                WorkerStartArgs start;
                WorkerStopArgs stop;
                WorkerDestroyArgs destroy;
                WorkerConsoleArgs console;
                WorkerExecArgs exec;
                WorkerPushFileArgs push_file;
                WorkerPullFileArgs pull_file;
                WorkerCopyArgs copy;
                WorkerExportArgs export_;
                WorkerImportArgs import;
                WorkerHostnameArgs hostname;
        };
} WorkerRequest;

/* The wire form of req, malloc'ed, *ret_len bytes with the last NUL. -E2BIG over WORKER_MSG_MAX or
 * WORKER_REQUEST_ARGS_MAX strings, -EINVAL for a request that decode would refuse (empty name, argv
 * empty, a number out of range ...), -ENOMEM. */
int worker_request_encode(const WorkerRequest *req, char **ret, size_t *ret_len);
/* Strict parse of a packet of len bytes (len counts the last NUL): exactly the strings of its verb, every
 * number as our printf writes it. Pointers into buf; -EBADMSG for anything malformed, -ENOMEM. */
int worker_request_decode(char *buf, size_t len, WorkerRequest *ret);
/* Frees the arrays worker_request_decode() allocated (never call it on a request built by hand). */
void worker_request_done(WorkerRequest *req);

typedef enum WorkerMessageKind {
        WORKER_MESSAGE_PROGRESS,   /* "progress <0..1> [text]" */
        WORKER_MESSAGE_RUNNING,    /* "running <pid>" */
        WORKER_MESSAGE_EXITED,     /* "exited <status> <signal>" */
        WORKER_MESSAGE_RESULT,     /* "result <errno> [text]" */
        WORKER_MESSAGE_CONSOLE,    /* "console <tty>" (with two fds) */
        WORKER_MESSAGE_PTY,        /* "pty" (with one fd) */
        WORKER_MESSAGE_BYTES,      /* "bytes <done> <total>" */
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
/* 10^18: far beyond any file, and v * 10 of a number below it never overflows while parsing. */
#define WORKER_BYTES_MAX 1000000000000000000ULL

typedef struct WorkerMessage {
        WorkerMessageKind kind;
        double progress;           /* PROGRESS: finite, 0..1 */
        const char *text;          /* PROGRESS: the stage or NULL; RESULT: the message, "" if none */
        pid_t pid;                 /* RUNNING: 1..WORKER_PID_MAX */
        int status, signal;        /* EXITED: status 0..255 and signal 0, or status -1 and signal 1..64 */
        int error;                 /* RESULT: 0..WORKER_ERRNO_MAX, 0 is success */
        int tty;                   /* CONSOLE: 0..WORKER_TTY_MAX */
        uint64_t bytes, bytes_total; /* BYTES: 0..WORKER_BYTES_MAX; bytes_total 0: not known */
} WorkerMessage;

/* The wire form of m into buf, NUL-terminated: its length without the NUL, -EINVAL for a message that
 * worker_message_parse() would refuse (a number out of range, progress not in 0..1 ...), -ENOBUFS if it
 * does not fit size bytes. PROGRESS without text is the fraction alone; RESULT's text may be NULL for "". */
int worker_message_format(const WorkerMessage *m, char *buf, size_t size);

/* A message from a worker: len bytes at msg, followed by a NUL (msg[len] == 0), as the daemon reads
 * it. -EBADMSG for anything else than the forms above (an unknown word, a NUL inside, a number out of
 * range or with a sign, a space or junk around it). ret->text points into msg. */
int worker_message_parse(const char *msg, size_t len, WorkerMessage *ret);
