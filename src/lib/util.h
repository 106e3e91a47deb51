/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "macro.h"

char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Appends s to the NULL-terminated list *l (NULL: empty). strv_push() takes s, and frees it on failure;
 * strv_extend() appends a copy. */
int strv_push(char ***l, char *s);
/* Sets NAME=VALUE in a strv environment, replacing an earlier NAME. */
int strv_env_set(char ***env, const char *name, const char *value);
int strv_extend(char ***l, const char *s);

uint64_t now_usec(clockid_t clock);

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename, fsync of the
 * directory. Either the old or the new contents survive a crash, never a mix. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Reads all of fd (to its end) into a NUL-terminated buffer; -EFBIG past max bytes. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
/* Reads a whole (small) file; fails with -EFBIG above max bytes. The result is NUL-terminated. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* A DIR of its own on a duplicate of directory dir_fd, rewound: the duplicate shares its offset. */
int fdopendir_dup(int dir_fd, DIR **ret);

/* Calls act() on each name in directory path but "." and ".." that keep (NULL: all) takes, once all are
 * read: renaming or removing entries while reading could show one twice. */
int dir_foreach_listed(const char *path, bool (*keep)(int dir_fd, const char *name),
                       void (*act)(int dir_fd, const char *name, void *userdata), void *userdata);

/* Removes a directory tree without following symlinks or crossing mount points. */
int rm_rf_at(int dirfd, const char *name);
int rm_rf(const char *path);

int fsync_directory_of(const char *path);
int mkdir_p(const char *path, mode_t mode);

/* Reads field 22 (start time) of /proc/PID/stat. */
int pid_get_starttime(pid_t pid, uint64_t *ret);
int pid_get_ppid(pid_t pid, pid_t *ret);
/* Whether the process of a pidfd has exited (the pidfd polls readable then); false for fd < 0. */
bool pidfd_exited(int pidfd);

/* Puts fds[k] at fd first + k (at most 8, not close-on-exec), moving them all out of the way first so that
 * no dup2() clobbers one; closes none of the given fds. Async-signal-safe: a forked child may call it. */
int fds_place(const int *fds, size_t n_fds, int first);

/* One datagram of len bytes with up to 8 fds (SCM_RIGHTS), MSG_NOSIGNAL: a peer gone is -EPIPE, no signal. */
int send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds);
/* One datagram of at most size bytes into buf (recvmsg() flags and MSG_CMSG_CLOEXEC); of the fds that
 * came with it the first max_fds (8 at most) go to fds, *ret_n_fds of them, and any others are closed.
 * *ret_truncated (may be NULL) says whether fds were closed or lost (MSG_CTRUNC). Returns the size of
 * the datagram (0: the peer closed) or -errno. */
ssize_t recv_with_fds(int sock, void *buf, size_t size, int flags, int *fds, size_t max_fds, size_t *ret_n_fds,
                      bool *ret_truncated);

/* Joins argv with single spaces, quoting shell-style ('it'\''s') every argument that holds anything
 * but [A-Za-z0-9_./:=@%+,-], and an empty one as ''. What polkit rules see as "command_line". */
char *argv_to_command_line(char *const *argv);
