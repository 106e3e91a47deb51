/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* The null device, by what fstat() says of it (a path may be anything the instance's root made). */
static inline bool stat_is_devnull(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* The kinds of fd that Instance.Exec passes on as a process's stdin, stdout or stderr (docs/api.md).
 * The process in the instance can do with them what its user can: a privileged instance's root can
 * fchmod()/fchown() them, reopen them through /proc/self/fd, openat(fd, "..") from a directory, TIOCSTI
 * into a terminal, connect()/sendto()/bind() with a socket in the host's network namespace (a TCP one
 * too: connect(AF_UNSPEC) disconnects it). So only kinds whose inode belongs to nothing else and that
 * reach nothing but their peer are accepted: an anonymous pipe (pipefs, not a FIFO in a file system), a
 * connected AF_UNIX stream or seqpacket socket, and /dev/null (which the worker replaces with the
 * instance's own). lxcbusctl relays anything else through a pipe. */

/* NULL if fd is of a kind Exec accepts; else what it is, for a message ("a regular file", "a terminal",
 * ...). An fd that cannot be examined is "an invalid file descriptor". */
const char *exec_fd_refusal(int fd);

#define EXEC_FD_ADVICE "pass a pipe, a connected AF_UNIX socket or /dev/null (or use ExecPty for a terminal)."

/* Export and ImportInstance: the fd a tarball is streamed through, read or written only by a worker (no
 * process of an instance ever gets it): a pipe or FIFO, a connected AF_UNIX stream socket, or a regular
 * file, open for reading (want_read) or writing. NULL if fd is one; else what is wrong with it. */
const char *stream_fd_refusal(int fd, bool want_read);

#define STREAM_FD_ADVICE "pass a pipe, a connected AF_UNIX stream socket or a regular file."

/* PushFile and PullFile: as stream_fd_refusal(), and /dev/null too (an empty file to push, a sink). */
const char *file_fd_refusal(int fd, bool want_read);

#define FILE_FD_ADVICE "pass a pipe, a connected AF_UNIX stream socket, a regular file or /dev/null."
