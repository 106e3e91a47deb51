/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Walking cgroup trees that an instance controls: with fds, iteratively, bounded. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "cgroup-walk.h"
#include "log.h"
#include "macro.h"
#include "util.h"

typedef struct WalkLevel {
        int fd;
        char name[NAME_MAX + 1];
} WalkLevel;

static int open_dir_at(int parent_fd, const char *name) {
        return openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
}

/* A subdirectory of dir_fd, not "." or "..": by d_type, or by a stat where the file system does not
 * fill it in. */
static bool dirent_is_subdir(int dir_fd, const struct dirent64 *de) {
        struct stat st;

        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                return false;
        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        return fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode);
}

/* One loop with an explicit stack instead of recursion, so that the depth is ours to bound: about 80
 * lines, because the descent, the visit and the climb back are all in it. */
int cgroup_walk(int parent_fd, const char *name, cgroup_walk_fn_t fn, void *userdata) {
        _cleanup_free_ WalkLevel *levels = NULL;
        _Alignas(struct dirent64) char buf[4096];
        unsigned entries = 1;
        bool cut = false, stop = false;
        int depth = 0, r = 0;

        if (strlen(name) > NAME_MAX)
                return -ENAMETOOLONG;
        levels = calloc(CGROUP_WALK_DEPTH_MAX + 1, sizeof(WalkLevel));
        if (!levels)
                return -ENOMEM;
        levels[0].fd = open_dir_at(parent_fd, name);
        if (levels[0].fd < 0)
                return -errno;
        strcpy(levels[0].name, name);
        if (fn(parent_fd, name, levels[0].fd, false, userdata) < 0)
                stop = true;

        while (depth >= 0) {
                WalkLevel *l = &levels[depth];
                bool descended = false;
                ssize_t n = 0;

                /* getdents64 continues where the last call (or the lseek() before a descent) left. */
                if (!stop)
                        n = syscall(SYS_getdents64, l->fd, buf, sizeof buf);
                for (ssize_t off = 0; off < n && !descended && !stop;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + off);
                        int fd;

                        off += de->d_reclen;
                        if (!dirent_is_subdir(l->fd, de))
                                continue;
                        if (depth >= CGROUP_WALK_DEPTH_MAX) {
                                cut = true;
                                continue;
                        }
                        if (entries >= CGROUP_WALK_ENTRIES_MAX) {
                                cut = stop = true;
                                break;
                        }
                        /* Come back after this entry; a directory that cannot seek is left there. */
                        if (lseek(l->fd, de->d_off, SEEK_SET) < 0) {
                                cut = true;
                                n = 0;
                                break;
                        }
                        fd = open_dir_at(l->fd, de->d_name);
                        if (fd < 0) {
                                /* Removed meanwhile, or out of fds: the rest of this level still counts. */
                                if (errno != ENOENT)
                                        cut = true;
                                continue;
                        }
                        entries++;
                        depth++;
                        levels[depth].fd = fd;
                        strcpy(levels[depth].name, de->d_name);
                        descended = true;
                        if (fn(l->fd, de->d_name, fd, false, userdata) < 0)
                                stop = true;
                }
                if (descended)
                        continue;
                if (n > 0 && !stop)
                        continue;   /* more of this directory */
                if (n < 0)
                        cut = true;

                /* This level is done: close it, then its post-order visit from the parent. */
                l->fd = safe_close(l->fd);
                if (fn(depth > 0 ? levels[depth - 1].fd : parent_fd, l->name, -EBADF, true, userdata) < 0)
                        stop = true;
                depth--;
        }
        if (cut)
                r = -E2BIG;
        return r;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

int cgroup_open(const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW),
                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);

        if (fd < 0 && errno == ENOSYS)   /* valgrind */
                fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        return fd < 0 ? -errno : fd;
}

int cgroup_read_file(int dir_fd, const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = -EBADF;

        if (dir_fd >= 0)
                fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        else
                fd = cgroup_open(path, O_RDONLY);
        if (fd < 0)
                return dir_fd >= 0 ? -errno : fd;
        return read_full_fd(fd, max, ret, NULL);
}

int cgroup_write_file(const char *path, const char *s) {
        _cleanup_close_ int fd = cgroup_open(path, O_WRONLY);
        size_t n = strlen(s);

        if (fd < 0)
                return fd;
        if (write(fd, s, n) != (ssize_t) n)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

typedef struct KillContext {
        int sig;
        unsigned n;
} KillContext;

/* The pids listed in dir_fd's cgroup.procs, sorted; at most CGROUP_FILE_MAX bytes of it. */
static int read_procs(int dir_fd, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, alloc = 0;
        int r;

        r = cgroup_read_file(dir_fd, "cgroup.procs", CGROUP_FILE_MAX, &data);
        if (r < 0)
                return r;
        for (char *p = data, *e; *p; p = e) {
                long v = strtol(p, &e, 10);
                if (e == p) {
                        e = p + 1;
                        continue;
                }
                if (v <= 0 || v > INT32_MAX)
                        continue;
                if (n == alloc) {
                        pid_t *np;
                        alloc = alloc ? alloc * 2 : 64;
                        np = reallocarray(pids, alloc, sizeof(pid_t));
                        if (!np)
                                return -ENOMEM;
                        pids = np;
                }
                pids[n++] = (pid_t) v;
        }
        if (n > 0)
                qsort(pids, n, sizeof(pid_t), cmp_pid);
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

#define KILL_BATCH 128

/* Signals the processes of one cgroup. A pid read from cgroup.procs may have been recycled by the
 * time we act: each is opened as a pidfd first, then cgroup.procs is read again, and only a pid still
 * listed is signalled, through its pidfd. If the process behind the pidfd is alive when signalled, it
 * held that pid all along, so the second read saw it; if it is dead, the signal goes nowhere. */
static int kill_visit(int parent_fd, const char *name, int dir_fd, bool post, void *userdata) {
        KillContext *k = userdata;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (post || read_procs(dir_fd, &pids, &n) < 0)
                return 0;
        for (size_t b = 0; b < n; b += KILL_BATCH) {
                size_t m = MIN((size_t) KILL_BATCH, n - b), n2 = 0;
                _cleanup_free_ pid_t *again = NULL;
                int fds[KILL_BATCH];
                bool nosys = false;

                for (size_t j = 0; j < m; j++) {
                        fds[j] = pidfd_open(pids[b + j], 0);
                        if (fds[j] < 0 && errno == ENOSYS)
                                nosys = true;
                }
                if (read_procs(dir_fd, &again, &n2) >= 0)
                        for (size_t j = 0; j < m; j++) {
                                if (!bsearch(&pids[b + j], again, n2, sizeof(pid_t), cmp_pid))
                                        continue;
                                if (fds[j] >= 0 ? pidfd_send_signal(fds[j], k->sig, NULL, 0) >= 0 :
                                    /* No pidfds (valgrind): the second read is all we have. */
                                    nosys && kill(pids[b + j], k->sig) >= 0)
                                        k->n++;
                        }
                for (size_t j = 0; j < m; j++)
                        safe_close(fds[j]);
        }
        return 0;
}

int cgroup_kill_tree(int parent_fd, const char *name, int sig, unsigned *ret_n) {
        KillContext k = { .sig = sig };
        int r;

        r = cgroup_walk(parent_fd, name, kill_visit, &k);
        *ret_n = k.n;
        return r;
}

static int rmdir_visit(int parent_fd, const char *name, int dir_fd, bool post, void *userdata) {
        unsigned *failed = userdata;

        if (post && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                (*failed)++;
        return 0;
}

int cgroup_rmdir_tree(int parent_fd, const char *name) {
        unsigned failed = 0;
        int r;

        r = cgroup_walk(parent_fd, name, rmdir_visit, &failed);
        if (r >= 0 && failed > 0)
                r = -EBUSY;
        return r;
}
