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
 *                                             fd (SCM_RIGHTS); reports "running <pid>", then "exited
 *                                             <status> <signal>" (status -1 when killed by a signal).
 *
 * Cancel is SIGTERM to the worker. lxcbusd-start-hook, beside the worker, is what liblxc runs as
 * lxc.hook.start-host; it sends "running $LXC_PID" on the fd named by $LXCBUS_NOTIFY_FD. */

#define WORKER_MSG_MAX 65536
#define WORKER_FD 3
