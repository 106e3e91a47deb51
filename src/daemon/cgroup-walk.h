/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The cgroup tree below an instance's payload belongs to the instance's root, who may nest it as deep
 * and wide as the kernel allows. Every walk of it holds one fd per level on a heap stack (no recursion,
 * no path buffer) and stops at these bounds (docs/security.md): */
#define CGROUP_WALK_DEPTH_MAX 256        /* levels below the walk's root: fds held at once */
#define CGROUP_WALK_ENTRIES_MAX 4096     /* directories visited in one walk */
#define CGROUP_FILE_MAX (1024 * 1024)    /* bytes read from one cgroup file (cgroup.procs) */

/* Called for each directory: before its subdirectories with dir_fd open (post false), and after them
 * with dir_fd -EBADF (post true); parent_fd/name name it. A negative return ends the walk. */
typedef int (*cgroup_walk_fn_t)(int parent_fd, const char *name, int dir_fd, bool post, void *userdata);

/* 0 when the whole tree was visited, -E2BIG when a bound cut it short, else -errno (the root). */
int cgroup_walk(int parent_fd, const char *name, cgroup_walk_fn_t fn, void *userdata);

/* Signals every process of the tree through a pidfd, checking after the pidfd was opened that the pid
 * is still listed in the cgroup: a pid that was recycled is never signalled. */
int cgroup_kill_tree(int parent_fd, const char *name, int sig, unsigned *ret_n);

/* Removes the tree, deepest first. */
int cgroup_rmdir_tree(int parent_fd, const char *name);

/* Opens a file of the cgroup filesystem without following any symlink. */
int cgroup_open(const char *path, int flags);
/* Reads at most max bytes of a cgroup file, NUL-terminated; -EFBIG above. */
int cgroup_read_file(int dir_fd, const char *path, size_t max, char **ret);
/* Writes s to a cgroup file in one write(), without following any symlink. */
int cgroup_write_file(const char *path, const char *s);
