/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* push-file and pull-file (files.h): a file into or out of an instance's rootfs, through the caller's fd.
 *
 * The rootfs is the instance's: every path in it is resolved as the instance would resolve it, with
 * openat2(RESOLVE_IN_ROOT) from an fd of the rootfs, so that an absolute symlink or a ".." planted there
 * stays inside (a link to /etc/shadow is the instance's /etc/shadow), never across a mount point and never
 * through a /proc magic link. Without openat2() (valgrind) nothing is resolved at all: there is no safe
 * fallback. The caller's fd may be a pipe whose writer takes its time, which is why this runs here and not
 * in the daemon; SIGTERM (Cancel) interrupts a blocked read or write. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "macro.h"
#include "overlay.h"
#include "util.h"
#include "worker.h"

#define FILE_FD (WORKER_FD + 1)
#define COPY_BUFFER_SIZE (128U * 1024U)
/* The daemon coalesces property changes too; a worker that reports more often only costs messages. */
#define BYTES_INTERVAL_NSEC (100ULL * 1000ULL * 1000ULL)

static volatile sig_atomic_t cancelled;
/* The mask ppoll() waits with: ours, with SIGTERM let through. */
static sigset_t waiting_mask;

static void on_sigterm(int sig) {
        cancelled = 1;
}

/* SIGTERM (Cancel) is blocked but while we wait for an fd in ppoll(), which lets it through atomically: a
 * SIGTERM is never lost between the check of the flag and a read or write that blocks. */
static void catch_cancel(void) {
        struct sigaction sa = { .sa_handler = on_sigterm };
        sigset_t block;

        (void) sigaction(SIGTERM, &sa, NULL);
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &block, &waiting_mask);
        sigdelset(&waiting_mask, SIGTERM);
}

/* Until fd is ready for events (1), timeout_ms is over (0, never with -1), or a cancel (-ECANCELED). */
static int wait_fd(int fd, short events, int timeout_ms) {
        struct timespec ts = { timeout_ms / 1000, (long) (timeout_ms % 1000) * 1000000L };

        for (;;) {
                int r;

                if (cancelled)
                        return -ECANCELED;
                r = ppoll(&(struct pollfd) { .fd = fd, .events = events }, 1, timeout_ms >= 0 ? &ts : NULL,
                          &waiting_mask);
                if (r < 0 && errno == EINTR)
                        continue;
                return r < 0 ? -errno : r;
        }
}

static uint64_t now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* An O_PATH fd of the instance's root: fd WORKER_ROOT_FD when the daemon gave it (root_fd: a running overlay
 * clone's, which only its own mount namespace has), else LXCPATH/NAME/rootfs (an overlay clone's mounted
 * first). The instance directory is ours; rootfs itself is never followed. */
static int open_rootfs(const WorkerRequest *req, bool root_fd) {
        _cleanup_close_ int dir = -EBADF;
        _cleanup_free_ char *rel = NULL, *instance_dir = NULL;
        struct stat st;
        int fd, r;

        if (root_fd) {
                if (fstat(WORKER_ROOT_FD, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                fd = fcntl(WORKER_ROOT_FD, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        if (asprintf(&rel, "%s/rootfs", req->name) < 0 || asprintf(&instance_dir, "%s/%s", req->lxcpath, req->name) < 0)
                return -ENOMEM;
        r = overlay_mount_rootfs(instance_dir);
        if (r < 0)
                return r;
        dir = open(req->lxcpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        fd = openat(dir, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* path below root, as the instance sees it. -ENOSYS without openat2(). */
static int resolve(int root, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd;

        fd = (int) syscall(SYS_openat2, root, path, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

static int result_resolve_failed(int r, const char *what, const char *path) {
        if (r == -ENOSYS)
                return worker_result(ENOSYS, "Cannot resolve paths inside the instance safely here: openat2() is "
                                     "not available.");
        if (r == -EXDEV)
                return worker_result(EXDEV, "%s '%s' crosses a mount point of the instance's rootfs.", what, path);
        return worker_result(-r, "%s '%s' in the instance: %s", what, path, strerror(-r));
}

/* Copies in to out until EOF, reporting bytes; *ret_write_failed tells which side an error is of. Each read
 * and write comes after ppoll() said it will not block (a write to a pipe or socket at most PIPE_BUF bytes,
 * which POLLOUT guarantees room for), so that a cancel always gets through. */
static int copy_fd(int in, int out, uint64_t total, bool *ret_write_failed) {
        _cleanup_free_ char *buf = malloc(COPY_BUFFER_SIZE);
        uint64_t done = 0, reported = 0, last = now_nsec();
        struct stat st;
        size_t chunk;
        int r;

        *ret_write_failed = false;
        if (!buf)
                return -ENOMEM;
        chunk = fstat(out, &st) >= 0 && S_ISREG(st.st_mode) ? COPY_BUFFER_SIZE : PIPE_BUF;
        worker_report_bytes(0, total);
        for (;;) {
                uint64_t since = now_nsec() - last;
                ssize_t n;

                /* Bytes not reported yet: report them when the interval is over, also when the input
                 * makes us wait. */
                r = wait_fd(in, POLLIN, done == reported ? -1 : since >= BYTES_INTERVAL_NSEC ? 0 :
                            (int) ((BYTES_INTERVAL_NSEC - since) / 1000000ULL) + 1);
                if (r < 0)
                        return r;
                if (r == 0 || (done > reported && since >= BYTES_INTERVAL_NSEC)) {
                        worker_report_bytes(done, total);
                        reported = done;
                        last = now_nsec();
                        if (r == 0)
                                continue;
                }
                n = read(in, buf, COPY_BUFFER_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t k;

                        r = wait_fd(out, POLLOUT, -1);
                        if (r < 0)
                                return r;
                        k = write(out, buf + off, MIN((size_t) (n - off), chunk));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                *ret_write_failed = true;
                                return -errno;
                        }
                        off += k;
                }
                done += (uint64_t) n;
        }
        worker_report_bytes(done, total);
        return 0;
}

/* ---------------------------------------------------------------- push */

/* The directory dir of the instance, resolved from root; with mkdir_parents, what is missing of it is
 * created one component at a time, each step resolved again from the root (so a symlink the instance
 * plants meanwhile still resolves inside), and handed to dir_uid:dir_gid. */
static int open_parent(int root, const char *dir, const WorkerPushFileArgs *a) {
        _cleanup_free_ char *prefix = NULL;
        _cleanup_close_ int parent = -EBADF;
        size_t len = strlen(dir);
        int fd;

        fd = resolve(root, dir, O_PATH | O_DIRECTORY);
        if (fd != -ENOENT || !a->mkdir_parents)
                return fd;

        prefix = malloc(len + 1);
        if (!prefix)
                return -ENOMEM;
        parent = resolve(root, "/", O_PATH | O_DIRECTORY);
        if (parent < 0)
                return parent;
        for (size_t i = 0; i < len;) {
                size_t s, e;
                bool made = false;

                for (s = i; s < len && dir[s] == '/'; s++)
                        ;
                for (e = s; e < len && dir[e] != '/'; e++)
                        ;
                if (e == s)
                        break;
                i = e;
                memcpy(prefix, dir, e);
                prefix[e] = 0;
                fd = resolve(root, prefix, O_PATH | O_DIRECTORY);
                if (fd == -ENOENT) {
                        _cleanup_free_ char *name = strndup(dir + s, e - s);

                        if (!name)
                                return -ENOMEM;
                        if (mkdirat(parent, name, 0755) >= 0)
                                made = true;
                        else if (errno != EEXIST)
                                return -errno;
                        fd = resolve(root, prefix, O_PATH | O_DIRECTORY);
                }
                if (fd < 0)
                        return fd;
                if (made && fchownat(fd, "", a->dir_uid, a->dir_gid, AT_EMPTY_PATH) < 0) {
                        int r = -errno;
                        (void) close(fd);
                        return r;
                }
                safe_close(parent);
                parent = fd;
        }
        return TAKE_FD(parent);
}

/* A temporary name beside the target that nothing in the instance can guess ahead. */
static int create_temporary(int dir, char *name, size_t size) {
        uint64_t rnd;

        for (unsigned tries = 0; tries < 16; tries++) {
                int fd;

                if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                        return -EIO;
                (void) snprintf(name, size, ".lxcbus-push-%016" PRIx64, rnd);
                fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
                if (fd >= 0 || errno != EEXIST)
                        return fd < 0 ? -errno : fd;
        }
        return -EEXIST;
}

static int result_write_failed(int r, const char *path) {
        if (IN_SET(r, -ENOSPC, -EDQUOT))
                return worker_result(-r, "No space left on the instance's file system for '%s'.", path);
        return worker_result(-r, "Failed to write '%s' in the instance: %s", path, strerror(-r));
}

/* Fills the temporary file tmp of dir and renames it over base. */
static int push_into(int dir, const char *base, const WorkerPushFileArgs *a) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[64];
        bool write_failed;
        int r;

        fd = create_temporary(dir, tmp, sizeof tmp);
        if (fd < 0)
                return worker_result(-fd, "Failed to create a file beside '%s' in the instance: %s", a->path,
                                     strerror(-fd));
        /* chown() first: it clears the set-id bits that fchmod() then sets. */
        if (fchown(fd, a->uid, a->gid) < 0)
                r = worker_result(errno, "Failed to set the owner of '%s': %m", a->path);
        else if ((r = copy_fd(FILE_FD, fd, 0, &write_failed)) < 0) {
                if (r == -ECANCELED)
                        r = worker_result(ECANCELED, "Push of '%s' was cancelled.", a->path);
                else if (write_failed)
                        r = result_write_failed(r, a->path);
                else
                        r = worker_result(-r, "Failed to read the file to push: %s", strerror(-r));
        } else if (fchmod(fd, a->mode) < 0)
                r = worker_result(errno, "Failed to set the mode of '%s': %m", a->path);
        else if (fsync(fd) < 0)
                r = result_write_failed(-errno, a->path);
        else if (renameat(dir, tmp, dir, base) < 0)
                r = worker_result(errno, errno == EISDIR ? "'%s' in the instance is a directory." :
                                  "Failed to move '%s' into place: %m", a->path);
        else {
                (void) fsync(dir);
                return worker_result(0, "pushed");
        }
        (void) unlinkat(dir, tmp, 0);
        return r;
}

int worker_push_file(const WorkerRequest *req, struct lxc_container *c) {
        const WorkerPushFileArgs *a = &req->push_file;
        _cleanup_close_ int root = -EBADF, dir = -EBADF;
        _cleanup_free_ char *parent = NULL;
        const char *base = strrchr(a->path, '/') + 1;
        struct stat st;

        catch_cancel();
        root = open_rootfs(req, a->root_fd);
        if (root < 0)
                return worker_result(-root, "Instance '%s' has no rootfs: %s", req->name, strerror(-root));
        parent = strndup(a->path, (size_t) (base - a->path));
        if (!parent)
                return worker_result(ENOMEM, "Out of memory.");
        dir = open_parent(root, parent, a);
        if (dir < 0)
                return result_resolve_failed(dir, "Directory", parent);
        /* Before reading anything: rename() would refuse only at the end. */
        if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                return worker_result(EISDIR, "'%s' in the instance is a directory.", a->path);
        return push_into(dir, base, a);
}

/* ---------------------------------------------------------------- pull */

static const char *file_kind(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFDIR:
                return "a directory";
        case S_IFCHR:
                return "a character device";
        case S_IFBLK:
                return "a block device";
        case S_IFIFO:
                return "a named pipe (FIFO)";
        case S_IFSOCK:
                return "a socket";
        default:
                return "not a regular file";
        }
}

int worker_pull_file(const WorkerRequest *req, struct lxc_container *c) {
        const char *path = req->pull_file.path;
        _cleanup_close_ int root = -EBADF, at = -EBADF, fd = -EBADF;
        char proc[64];
        struct stat st, st2;
        bool write_failed;
        int r;

        catch_cancel();
        root = open_rootfs(req, req->pull_file.root_fd);
        if (root < 0)
                return worker_result(-root, "Instance '%s' has no rootfs: %s", req->name, strerror(-root));
        /* O_PATH first: opening a device or a FIFO may do something (rewind a tape, block for a writer). A
         * final symlink is followed: RESOLVE_IN_ROOT keeps it inside. */
        at = resolve(root, path, O_PATH);
        if (at < 0)
                return result_resolve_failed(at, "File", path);
        if (fstat(at, &st) < 0)
                return worker_result(errno, "Failed to examine '%s': %m", path);
        if (!S_ISREG(st.st_mode))
                return worker_result(S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                                     "'%s' in the instance is %s: only regular files can be pulled.", path,
                                     file_kind(st.st_mode));
        /* Reopened through its fd: the very inode examined, whatever the path points to now. */
        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%i", at);
        fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return worker_result(errno, "Failed to open '%s': %m", path);
        if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
                return worker_result(EIO, "'%s' changed while it was opened.", path);

        r = copy_fd(fd, FILE_FD, (uint64_t) st.st_size, &write_failed);
        if (r == -ECANCELED)
                return worker_result(ECANCELED, "Pull of '%s' was cancelled.", path);
        if (r < 0 && write_failed)
                return worker_result(-r, "Failed to write '%s' to the caller's file descriptor: %s", path,
                                     strerror(-r));
        if (r < 0)
                return worker_result(-r, "Failed to read '%s' in the instance: %s", path, strerror(-r));
        return worker_result(0, "pulled");
}

/* ---------------------------------------------------------------- hostname */

#define HOSTNAME_FILE_MAX 256

/* 1 if the file hostname of etc is a regular file whose one line is old_name, its stat in *ret_st; 0 if it
 * is anything else (missing, a symlink, a device, another name). Examined through O_PATH first, as pull
 * does: opening a device or a FIFO may do something. */
static int hostname_holds(int etc, const char *old_name, struct stat *ret_st) {
        _cleanup_close_ int at = -EBADF, fd = -EBADF;
        char proc[64], buf[HOSTNAME_FILE_MAX + 1];
        struct stat st2;
        ssize_t n;

        at = openat(etc, "hostname", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(at, ret_st) < 0)
                return -errno;
        if (!S_ISREG(ret_st->st_mode) || ret_st->st_size > HOSTNAME_FILE_MAX)
                return 0;
        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%i", at);
        fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st2) < 0 || st2.st_dev != ret_st->st_dev || st2.st_ino != ret_st->st_ino)
                return -EIO;
        n = read(fd, buf, HOSTNAME_FILE_MAX);
        if (n < 0)
                return -errno;
        while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
                n--;
        buf[n] = 0;
        return streq(buf, old_name);
}

/* The new /etc/hostname beside the old one, owned and moded as it was (an idmapped instance's file keeps
 * its mapped owner), renamed over it: a link planted there is replaced, never written through. */
static int hostname_replace(int etc, const char *name, const struct stat *st) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        char tmp[64];
        size_t n;
        int r = 0;

        if (asprintf(&text, "%s\n", name) < 0)
                return -ENOMEM;
        n = strlen(text);
        fd = create_temporary(etc, tmp, sizeof tmp);
        if (fd < 0)
                return fd;
        if (fchown(fd, st->st_uid, st->st_gid) < 0 || write(fd, text, n) != (ssize_t) n ||
            fchmod(fd, st->st_mode & 07777) < 0 || fsync(fd) < 0 || renameat(etc, tmp, etc, "hostname") < 0)
                r = errno > 0 ? -errno : -EIO;
        if (r < 0)
                (void) unlinkat(etc, tmp, 0);
        return r;
}

int worker_set_hostname(const WorkerRequest *req, struct lxc_container *c) {
        const char *old_name = req->hostname.old_name;
        _cleanup_close_ int root = -EBADF, etc = -EBADF;
        struct stat st;
        int r;

        root = open_rootfs(req, false);
        if (root < 0)
                return worker_result(-root, "Instance '%s' has no rootfs: %s", req->name, strerror(-root));
        etc = resolve(root, "/etc", O_PATH | O_DIRECTORY);
        if (IN_SET(etc, -ENOENT, -ENOTDIR))
                return worker_result(0, "no /etc");
        if (etc < 0)
                return result_resolve_failed(etc, "Directory", "/etc");
        r = hostname_holds(etc, old_name, &st);
        if (r < 0)
                return worker_result(-r, "Failed to read /etc/hostname in the instance: %s", strerror(-r));
        if (r == 0)
                return worker_result(0, "left alone");
        r = hostname_replace(etc, req->name, &st);
        if (r < 0)
                return result_write_failed(r, "/etc/hostname");
        return worker_result(0, "rewritten");
}
