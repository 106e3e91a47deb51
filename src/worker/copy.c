/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The copy verb (worker-proto.h): one tree copy for snapshots, restores and copies of instances.
 *
 * The source is a rootfs that an instance's root made: any names, symlinks anywhere, device nodes,
 * sparse files, hard links, trees deeper than PATH_MAX. So everything is fd-based: each directory is
 * opened below its parent with O_NOFOLLOW, no symlink is ever followed, no other file system is
 * entered, and the depth is bounded (COPY_DEPTH_MAX open directories; deeper is refused). What the copy
 * keeps: file types, contents (a reflink where the file system allows, else copy_file_range, else
 * read/write; holes stay holes), modes, numeric owners (shifted for a copy into another idmap block),
 * timestamps, hard links, and the xattrs of files and directories (file capabilities among them, their
 * namespace root moved with the owners). Xattrs of symlinks and device nodes are not copied: they cannot be
 * read without opening or following them. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <endian.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <unistd.h>

#include "copy.h"
#include "macro.h"
#include "util.h"

#define COPY_DEPTH_MAX 256
#define COPY_XATTR_LIST_MAX (64 * 1024)
#define COPY_XATTR_VALUE_MAX (64 * 1024)
#define COPY_BUFFER_SIZE (256 * 1024)
#define COPY_HARDLINK_BUCKETS 4096
#define COPY_PROGRESS_USEC (100 * 1000)

/* A file with more than one link, seen once: its path below the destination's top, for linkat(). */
typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        char *path;
        struct HardLink *next;
} HardLink;

struct CopyContext {
        const CopyShift *shift;
        dev_t dev;                     /* of the source's top: never left */
        int top_fd;                    /* the destination's top */
        bool count_only;               /* the first pass: sizes only, for the fraction */
        uint64_t total_bytes, done_bytes, files;
        uint64_t last_progress;
        CopyProgress progress;
        void *userdata;
        HardLink *links[COPY_HARDLINK_BUCKETS];
        char path[PATH_MAX * 2];       /* below the destination's top, for hard links; cut when too long */
        bool path_too_long;
};

static void copy_context_done(CopyContext *c) {
        for (size_t k = 0; k < COPY_HARDLINK_BUCKETS; k++)
                while (c->links[k]) {
                        HardLink *l = c->links[k];
                        c->links[k] = l->next;
                        free(l->path);
                        free(l);
                }
}

static void report(CopyContext *c, bool force) {
        uint64_t t = now_usec(CLOCK_MONOTONIC);

        if (c->count_only || !c->progress || (!force && t - c->last_progress < COPY_PROGRESS_USEC))
                return;
        c->last_progress = t;
        /* A reflink counts a file's whole size: the fraction may reach 1 early, never beyond. */
        c->progress(c->total_bytes > c->done_bytes ? (double) c->done_bytes / (double) c->total_bytes : 1.0,
                    c->files, c->done_bytes, c->userdata);
}

/* An id of the source as the copy owns it: inside the shift's range it moves to the new block. An id
 * outside it (an idmapped rootfs should have none) becomes the new block's last id rather than stay a
 * host id that may be another instance's. */
static uint32_t shift_id(uint32_t id, uint32_t from, uint32_t to, uint32_t count) {
        if (count == 0)
                return id;
        if (id >= from && id - from < count)
                return to + (id - from);
        return to + count - 1;
}

static int copy_owner(CopyContext *c, int dir_fd, const char *name, int fd, const struct stat *st) {
        const CopyShift *s = c->shift;
        uid_t u = shift_id(st->st_uid, s->from_uid, s->to_uid, s->count);
        gid_t g = shift_id(st->st_gid, s->from_gid, s->to_gid, s->count);

        if (fd >= 0)
                return fchown(fd, u, g) < 0 ? -errno : 0;
        return fchownat(dir_fd, name, u, g, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* A file capability of revision 3 names the user namespace root it is for (rootid, a host uid): in a copy
 * moved into another block it must name the new block's root, or the kernel ignores it there. */
static void shift_capability(CopyContext *c, const char *name, char *value, ssize_t size) {
        struct vfs_ns_cap_data cap;

        if (c->shift->count == 0 || !streq(name, "security.capability") || size != (ssize_t) sizeof cap)
                return;
        memcpy(&cap, value, sizeof cap);
        if ((le32toh(cap.magic_etc) & VFS_CAP_REVISION_MASK) != VFS_CAP_REVISION_3)
                return;
        cap.rootid = htole32(shift_id(le32toh(cap.rootid), c->shift->from_uid, c->shift->to_uid, c->shift->count));
        memcpy(value, &cap, sizeof cap);
}

/* Every xattr of the source fd onto the destination fd; after the owner (a chown drops
 * security.capability). */
static int copy_xattrs(CopyContext *c, int from, int to) {
        _cleanup_free_ char *list = NULL, *value = NULL;
        ssize_t n;

        n = flistxattr(from, NULL, 0);
        if (n < 0)
                return IN_SET(errno, ENOTSUP, ENOSYS) ? 0 : -errno;
        if (n == 0)
                return 0;
        if (n > COPY_XATTR_LIST_MAX)
                return -E2BIG;
        list = malloc((size_t) n);
        value = malloc(COPY_XATTR_VALUE_MAX);
        if (!list || !value)
                return -ENOMEM;
        n = flistxattr(from, list, (size_t) n);
        if (n < 0)
                return -errno;
        for (char *p = list; p < list + n; p += strlen(p) + 1) {
                ssize_t v = fgetxattr(from, p, value, COPY_XATTR_VALUE_MAX);

                if (v < 0) {
                        if (errno == ENODATA)
                                continue;
                        return -errno;
                }
                shift_capability(c, p, value, v);
                if (fsetxattr(to, p, value, (size_t) v, 0) < 0 && !IN_SET(errno, ENOTSUP, EPERM))
                        return -errno;
        }
        return 0;
}

/* The data of a regular file: whole as a reflink, else extent by extent (SEEK_DATA), so that holes
 * stay holes and a huge sparse file costs what it holds. */
static int copy_data(CopyContext *c, int from, int to, off_t size) {
        _cleanup_free_ char *buf = NULL;
        bool use_cfr = true;
        off_t pos = 0;

        if (ioctl(to, FICLONE, from) >= 0) {
                c->done_bytes += (uint64_t) size;
                return 0;
        }
        while (pos < size) {
                off_t data = lseek(from, pos, SEEK_DATA), hole;

                if (data < 0) {
                        if (errno == ENXIO)
                                break;        /* only a hole is left */
                        return -errno;
                }
                hole = lseek(from, data, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                for (pos = data; pos < hole;) {
                        size_t want = (size_t) MIN((off_t) COPY_BUFFER_SIZE * 16, hole - pos);
                        ssize_t k = -1;

                        if (use_cfr) {
                                loff_t in = pos, out = pos;
                                k = copy_file_range(from, &in, to, &out, want, 0);
                                if (k < 0 && IN_SET(errno, EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF))
                                        use_cfr = false;
                                else if (k < 0)
                                        return -errno;
                        }
                        if (!use_cfr) {
                                if (!buf && !(buf = malloc(COPY_BUFFER_SIZE)))
                                        return -ENOMEM;
                                k = pread(from, buf, MIN(want, (size_t) COPY_BUFFER_SIZE), pos);
                                if (k < 0)
                                        return -errno;
                                if (k > 0 && pwrite(to, buf, (size_t) k, pos) != k)
                                        return errno ? -errno : -EIO;
                        }
                        if (k == 0)
                                break;         /* the file shrank under us */
                        pos += k;
                        c->done_bytes += (uint64_t) k;
                        report(c, false);
                }
        }
        return ftruncate(to, size) < 0 ? -errno : 0;
}

static int copy_times(int dir_fd, const char *name, int fd, const struct stat *st) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };

        if (fd >= 0)
                return futimens(fd, ts) < 0 ? -errno : 0;
        return utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* A hard link to a file copied before, if this one has more links: 1 linked, 0 copy it (and it is
 * remembered, with its path in c->path). */
static int copy_hardlink(CopyContext *c, int to_dir, const char *name, const struct stat *st) {
        size_t b = ((size_t) st->st_ino ^ (size_t) st->st_dev) % COPY_HARDLINK_BUCKETS;
        HardLink *l;

        if (st->st_nlink < 2 || c->path_too_long)
                return 0;
        for (l = c->links[b]; l; l = l->next)
                if (l->dev == st->st_dev && l->ino == st->st_ino)
                        return linkat(c->top_fd, l->path, to_dir, name, 0) < 0 ? -errno : 1;
        l = new0(HardLink, 1);
        if (!l)
                return -ENOMEM;
        *l = (HardLink) { st->st_dev, st->st_ino, strdup(c->path), c->links[b] };
        if (!l->path) {
                free(l);
                return -ENOMEM;
        }
        c->links[b] = l;
        return 0;
}

static int copy_dir(CopyContext *c, int from, int to, unsigned depth);

/* A regular file: opened without blocking (a FIFO swapped in must not hang us) and checked to be the
 * regular file that was listed. */
static int copy_regular(CopyContext *c, int from_dir, int to_dir, const char *name, const struct stat *st) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
        struct stat st2;
        int r;

        r = copy_hardlink(c, to_dir, name, st);
        if (r != 0)
                return r < 0 ? r : 0;
        from = openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (from < 0)
                return -errno;
        if (fstat(from, &st2) < 0)
                return -errno;
        if (!S_ISREG(st2.st_mode) || st2.st_ino != st->st_ino || st2.st_dev != st->st_dev)
                return -EBUSY;          /* changed under us: the source is not quiet */
        to = openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (to < 0)
                return -errno;
        r = copy_data(c, from, to, st2.st_size);
        if (r < 0)
                return r;
        r = copy_owner(c, -EBADF, NULL, to, &st2);
        if (r < 0)
                return r;
        r = copy_xattrs(c, from, to);
        if (r < 0)
                return r;
        if (fchmod(to, st2.st_mode & 07777) < 0)
                return -errno;
        return copy_times(-EBADF, NULL, to, &st2);
}

static int copy_symlink(CopyContext *c, int from_dir, int to_dir, const char *name, const struct stat *st) {
        char target[PATH_MAX + 1];
        ssize_t n;
        int r;

        n = readlinkat(from_dir, name, target, sizeof target);
        if (n < 0)
                return -errno;
        if ((size_t) n >= sizeof target)
                return -ENAMETOOLONG;
        target[n] = 0;
        if (symlinkat(target, to_dir, name) < 0)
                return -errno;
        r = copy_owner(c, to_dir, name, -EBADF, st);
        if (r < 0)
                return r;
        return copy_times(to_dir, name, -EBADF, st);
}

/* A device node, FIFO or socket: made anew, never opened. */
static int copy_special(CopyContext *c, int to_dir, const char *name, const struct stat *st) {
        int r;

        if (mknodat(to_dir, name, st->st_mode & (S_IFMT | 07777), st->st_rdev) < 0)
                return -errno;
        r = copy_owner(c, to_dir, name, -EBADF, st);
        if (r < 0)
                return r;
        if (fchmodat(to_dir, name, st->st_mode & 07777, 0) < 0)
                return -errno;
        return copy_times(to_dir, name, -EBADF, st);
}

static int copy_subdir(CopyContext *c, int from_dir, int to_dir, const char *name, const struct stat *st,
                       unsigned depth) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
        int r;

        if (depth >= COPY_DEPTH_MAX)
                return -ELOOP;
        from = openat(from_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (from < 0)
                return -errno;
        if (!c->count_only) {
                if (mkdirat(to_dir, name, 0700) < 0)
                        return -errno;
                to = openat(to_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (to < 0)
                        return -errno;
        }
        r = copy_dir(c, from, to, depth + 1);
        if (r < 0 || c->count_only)
                return r;
        /* After its contents: they change its times, and a read-only mode would keep them out. */
        r = copy_owner(c, -EBADF, NULL, to, st);
        if (r < 0)
                return r;
        r = copy_xattrs(c, from, to);
        if (r < 0)
                return r;
        if (fchmod(to, st->st_mode & 07777) < 0)
                return -errno;
        return copy_times(-EBADF, NULL, to, st);
}

/* The entry name of the directory from into the directory to (-EBADF when counting). */
static int copy_entry(CopyContext *c, int from, int to, const char *name, unsigned depth) {
        size_t l = strlen(c->path);
        struct stat st;
        int r;

        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (st.st_dev != c->dev)
                return -EXDEV;          /* a mount point: never copy another file system into the copy */
        if (c->count_only) {
                /* What it holds, not its size: a sparse file's holes are not copied. */
                if (S_ISREG(st.st_mode))
                        c->total_bytes += MIN((uint64_t) st.st_size, (uint64_t) st.st_blocks * 512);
                return S_ISDIR(st.st_mode) ? copy_subdir(c, from, to, name, &st, depth) : 0;
        }
        bool was_too_long = c->path_too_long;
        if (l + 1 + strlen(name) + 1 > sizeof c->path)
                c->path_too_long = true;   /* below here hard links are copied as files */
        else
                snprintf(c->path + l, sizeof c->path - l, "%s%s", l > 0 ? "/" : "", name);
        if (S_ISREG(st.st_mode))
                r = copy_regular(c, from, to, name, &st);
        else if (S_ISDIR(st.st_mode))
                r = copy_subdir(c, from, to, name, &st, depth);
        else if (S_ISLNK(st.st_mode))
                r = copy_symlink(c, from, to, name, &st);
        else
                r = copy_special(c, to, name, &st);
        c->path[l] = 0;
        c->path_too_long = was_too_long;
        c->files++;
        report(c, false);
        return r;
}

static int copy_dir(CopyContext *c, int from, int to, unsigned depth) {
        DIR *d;
        struct dirent *de;
        int r;

        /* Rewound: the counting pass read from to the end. */
        r = fdopendir_dup(from, &d);
        if (r < 0)
                return r;
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = copy_entry(c, from, to, de->d_name, depth);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

int copy_tree(const char *source, int to_dir, const char *name, const CopyShift *shift, CopyProgress progress,
              void *userdata, char **ret_failed) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
        CopyContext c = { .shift = shift, .progress = progress, .userdata = userdata, .top_fd = -EBADF };
        struct stat st;
        int r;

        assert(source);
        assert(name);
        assert(shift);

        *ret_failed = NULL;
        from = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (from < 0)
                return -errno;
        if (fstat(from, &st) < 0)
                return -errno;
        c.dev = st.st_dev;

        /* First the sizes, for the fraction: a walk of the metadata alone. */
        c.count_only = true;
        r = copy_dir(&c, from, -EBADF, 0);
        if (r < 0)
                goto fail;
        c.count_only = false;

        if (mkdirat(to_dir, name, 0700) < 0)
                return -errno;
        to = openat(to_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (to < 0)
                return -errno;
        c.top_fd = to;
        report(&c, true);
        r = copy_dir(&c, from, to, 0);
        if (r >= 0)
                r = copy_owner(&c, -EBADF, NULL, to, &st);
        if (r >= 0)
                r = copy_xattrs(&c, from, to);
        if (r >= 0 && fchmod(to, st.st_mode & 07777) < 0)
                r = -errno;
        if (r >= 0)
                r = copy_times(-EBADF, NULL, to, &st);
        if (r >= 0)
                report(&c, true);
fail:
        if (r < 0 && c.path[0] && !(*ret_failed = strdup(c.path)))
                r = -ENOMEM;
        copy_context_done(&c);
        return r;
}
