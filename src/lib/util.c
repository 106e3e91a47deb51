/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        return mfree(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        for (; l && *l; l++)
                n++;
        return n;
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **nl;

        nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        return strv_push(l, c);
}

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                dir[0] = '.', dir[1] = 0;
        else if (slash == dir)
                slash[1] = 0;
        else
                *slash = 0;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *p = data;
        int r;

        if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0) {
                r = -errno;
                goto fail;
        }
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += n;
                size -= (size_t) n;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return fsync_directory_of(path);
fail:
        (void) unlink(tmp);
        return r;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, alloc = 0;

        for (;;) {
                ssize_t k;

                if (alloc - n < 4096) {
                        char *nb;
                        /* Never more than a page past max: enough to see that there is more. */
                        alloc = MIN(alloc ? alloc * 2 : 4096, max + 4096);
                        nb = realloc(buf, alloc + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                k = read(fd, buf + n, alloc - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[n] = 0;
        if (ret_size)
                *ret_size = n;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

/* At most this many directories are open at once while removing a tree. */
#define RM_RF_DEPTH_MAX 32

/* Moves directory name (in dir_fd) up to top_fd under a new unique name. */
static int rm_rf_move_up(int dir_fd, const char *name, int top_fd, unsigned long *counter) {
        char tmp[64];

        for (unsigned tries = 0; tries < 1000; tries++) {
                (void) snprintf(tmp, sizeof tmp, ".rm-rf-%i-%lu", (int) getpid(), (*counter)++);
                if (renameat2(dir_fd, name, top_fd, tmp, RENAME_NOREPLACE) >= 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* The first error counts. ENOENT is none: whatever was to go is gone already. */
static void rm_rf_note_error(int *r, int error) {
        if (error != ENOENT && *r == 0)
                *r = -error;
}

/* Removes everything below the directory fd (taken). The tree may be made by a container's root: deeper
 * than any stack, any fd limit or PATH_MAX, with symlinks anywhere. So no recursion, no paths, never a
 * symlink followed, never another file system entered, and at most RM_RF_DEPTH_MAX directories open:
 * a directory found at that depth is moved up to the top under a unique name and removed from there in
 * a later pass. Each pass removes or moves something, and the tree is finite, so it ends. Returns the
 * first error; everything else that can be removed is. One function, as long as that, because the passes,
 * the descent and the climb share the open directories. */
static int rm_rf_children(int fd, dev_t dev) {
        DIR *stack[RM_RF_DEPTH_MAX];
        char names[RM_RF_DEPTH_MAX][NAME_MAX + 1];
        unsigned long counter = 0;
        size_t depth = 1;
        bool moved;
        int r = 0;

        stack[0] = fdopendir(fd);
        if (!stack[0]) {
                safe_close(fd);
                return -errno;
        }
        do {
                moved = false;
                rewinddir(stack[0]);
                while (depth > 0) {
                        DIR *d = stack[depth - 1];
                        struct dirent *de;
                        struct stat st;

                        errno = 0;
                        de = readdir(d);
                        if (!de) {
                                if (errno != 0 && r == 0)
                                        r = -errno;
                                if (depth == 1)
                                        break;
                                /* This directory is empty now (or holds what cannot go): remove it. */
                                closedir(d);
                                depth--;
                                if (unlinkat(dirfd(stack[depth - 1]), names[depth], AT_REMOVEDIR) < 0)
                                        rm_rf_note_error(&r, errno);
                                continue;
                        }
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                rm_rf_note_error(&r, errno);
                                continue;
                        }
                        if (!S_ISDIR(st.st_mode)) {
                                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                                        rm_rf_note_error(&r, errno);
                                continue;
                        }
                        if (st.st_dev != dev) {
                                /* Never cross into another file system (a bind mount left behind). */
                                rm_rf_note_error(&r, EXDEV);
                                continue;
                        }
                        if (depth == RM_RF_DEPTH_MAX) {
                                int q = rm_rf_move_up(dirfd(d), de->d_name, dirfd(stack[0]), &counter);
                                if (q < 0 && r == 0)
                                        r = q;
                                moved = moved || q >= 0;
                                continue;
                        }
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                rm_rf_note_error(&r, errno);
                                continue;
                        }
                        stack[depth] = fdopendir(sub);
                        if (!stack[depth]) {
                                if (r == 0)
                                        r = -errno;
                                safe_close(sub);
                                continue;
                        }
                        size_t l = strnlen(de->d_name, NAME_MAX);
                        memcpy(names[depth], de->d_name, l);
                        names[depth][l] = 0;
                        depth++;
                }
        } while (moved);
        closedir(stack[0]);
        return r;
}

int fdopendir_dup(int dir_fd, DIR **ret) {
        DIR *d;
        int fd;

        assert(dir_fd >= 0);
        assert(ret);

        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        rewinddir(d);
        *ret = d;
        return 0;
}

int dir_foreach_listed(const char *path, bool (*keep)(int dir_fd, const char *name),
                       void (*act)(int dir_fd, const char *name, void *userdata), void *userdata) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        DIR *d;
        int r;

        assert(path);
        assert(act);

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = fdopendir_dup(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || (keep && !keep(fd, de->d_name)))
                        continue;
                if (strv_extend(&names, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        STRV_FOREACH(n, names)
                act(fd, *n, userdata);
        return 0;
}

int rm_rf_at(int dir_fd, const char *name) {
        struct stat st;
        int fd, r;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = rm_rf_children(fd, st.st_dev);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int rm_rf(const char *path) {
        return rm_rf_at(AT_FDCWD, path);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0) {
                struct stat st;

                if (errno != EEXIST)
                        return -errno;
                if (stat(p, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        return 0;
}

static int pid_stat_field(pid_t pid, int field, uint64_t *ret) {
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%i/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        /* The command name may contain spaces and parentheses: start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        for (int i = 3; i <= field; i++) {
                char *end;
                while (*p == ' ')
                        p++;
                if (!*p)
                        return -EIO;
                if (i == field) {
                        *ret = strtoull(p, &end, 10);
                        return 0;
                }
                p = strchr(p, ' ');
                if (!p)
                        return -EIO;
        }
        return -EIO;
}

int pid_get_starttime(pid_t pid, uint64_t *ret) {
        return pid_stat_field(pid, 22, ret);
}

int pid_get_ppid(pid_t pid, pid_t *ret) {
        uint64_t v;
        int r = pid_stat_field(pid, 4, &v);
        if (r < 0)
                return r;
        *ret = (pid_t) v;
        return 0;
}

bool pidfd_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        return pidfd >= 0 && poll(&p, 1, 0) > 0;
}

char *argv_to_command_line(char *const *argv) {
        static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-";
        size_t n = 1;
        char *ret, *p;

        for (char *const *a = argv; a && *a; a++)
                n += 3 + 4 * strlen(*a);     /* worst case: every character a quote, becoming '\'' */
        p = ret = malloc(n);
        if (!ret)
                return NULL;
        for (char *const *a = argv; a && *a; a++) {
                if (a != argv)
                        *p++ = ' ';
                if (**a && strspn(*a, safe) == strlen(*a)) {
                        p = stpcpy(p, *a);
                        continue;
                }
                *p++ = '\'';
                for (const char *c = *a; *c; c++)
                        if (*c == '\'')
                                p = stpcpy(p, "'\\''");
                        else
                                *p++ = *c;
                *p++ = '\'';
        }
        *p = 0;
        return ret;
}

int strv_env_set(char ***env, const char *name, const char *value) {
        size_t nl = strlen(name);
        char *e;

        if (asprintf(&e, "%s=%s", name, value) < 0)
                return -ENOMEM;
        STRV_FOREACH(x, *env)
                if (strncmp(*x, name, nl) == 0 && (*x)[nl] == '=') {
                        free(*x);
                        *x = e;
                        return 0;
                }
        return strv_push(env, e);
}

int fds_place(const int *fds, size_t n_fds, int first) {
        int moved[8];
        size_t k;
        int r = 0;

        if (n_fds > ELEMENTSOF(moved))
                return -E2BIG;
        for (k = 0; k < n_fds; k++) {
                moved[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, first + (int) n_fds + 100);
                if (moved[k] < 0) {
                        r = -errno;
                        break;
                }
        }
        for (size_t j = 0; r >= 0 && j < n_fds; j++)
                if (dup2(moved[j], first + (int) j) < 0)
                        r = -errno;
        while (k > 0)
                (void) close(moved[--k]);
        return r;
}

int send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(8 * sizeof(int))];
        } control = {};
        struct iovec iov = { (void *) data, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (n_fds > 8)
                return -E2BIG;
        if (n_fds > 0) {
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        }
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

ssize_t recv_with_fds(int sock, void *buf, size_t size, int flags, int *fds, size_t max_fds, size_t *ret_n_fds,
                      bool *ret_truncated) {
        union {
                struct cmsghdr h;
                /* Room for more than we keep, so that the extra ones arrive and are closed by us. */
                char buf[CMSG_SPACE(8 * sizeof(int))];
        } control = {};
        struct iovec iov = { buf, size };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        size_t n = 0;
        bool truncated;
        ssize_t k;

        assert(fds || max_fds == 0);
        assert(max_fds <= 8);
        assert(ret_n_fds);

        *ret_n_fds = 0;
        k = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
        if (k < 0)
                return -errno;
        truncated = mh.msg_flags & MSG_CTRUNC;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                for (size_t j = 0; j < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); j++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
                        if (n < max_fds)
                                fds[n++] = fd;
                        else {
                                (void) close(fd);
                                truncated = true;
                        }
                }
        }
        *ret_n_fds = n;
        if (ret_truncated)
                *ret_truncated = truncated;
        return k;
}
