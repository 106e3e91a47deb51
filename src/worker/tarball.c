/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Import and export tarballs (tarball.h). Every member of a tarball to import is hostile: its name, its
 * link target, its type, its owner and its xattrs are checked here before libarchive writes it, and
 * libarchive itself runs with its ARCHIVE_EXTRACT_SECURE_* checks on top. */
#include <archive.h>
#include <archive_entry.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tarball.h"
#include "tarball-layout.h"
#include "bus-limits.h"
#include "macro.h"
#include "metadata.h"
#include "util.h"

/* Progress is reported at most this often (bytes of the stream). */
#define PROGRESS_EVERY (16U * 1024U * 1024U)
#define BLOCK_SIZE (64U * 1024U)
/* Bytes are reported at most this often: a message per block of a 300 MB stream would be thousands. */
#define ARCHIVE_BYTES_USEC (100U * 1000U)
/* The nobody id: what an export writes for an owner outside an idmapped instance's range. */
#define OVERFLOW_ID 65534

static int fail(ArchiveJob *job, int error, const char *format, ...) _printf_(3, 4);
static int fail(ArchiveJob *job, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(job->error, sizeof job->error, format, ap);
        va_end(ap);
        return -abs(error);
}

/* libarchive's own error, as ours: a full disk says so. */
static int fail_archive(ArchiveJob *job, struct archive *a, const char *what) {
        int e = archive_errno(a);

        if (e == ENOSPC)
                return fail(job, ENOSPC, "%s: the disk is full.", what);
        return fail(job, e > 0 ? e : EIO, "%s: %s", what, archive_error_string(a) ?: "unknown error");
}

static void archive_freep(struct archive **a) {
        if (*a)
                (void) archive_free(*a);
}
#define _cleanup_archive_ _cleanup_(archive_freep)

static void archive_entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}

static const char *strna(const char *s) {
        return s ?: "n/a";
}

static void *memdup(const void *p, size_t size) {
        void *q = malloc(size ?: 1);

        if (q && size > 0)
                memcpy(q, p, size);
        return q;
}

/* ---------------------------------------------------------------- the caller's fd, counted */

static void job_report_bytes(ArchiveJob *job, uint64_t total, bool force) {
        uint64_t t = now_usec(CLOCK_MONOTONIC);

        if (!job->bytes || (!force && t - job->bytes_reported_usec < ARCHIVE_BYTES_USEC))
                return;
        job->bytes_reported_usec = t;
        job->bytes(job->done, total);
}

/* libarchive's fd reader and writer (archive_read_open_fd(), archive_write_open_fd()), but counting what
 * really crossed the caller's fd: that is the operation's Bytes. No skip callback: data not extracted is
 * read through, and counted. */
typedef struct FdStream {
        ArchiveJob *job;
        char buf[BLOCK_SIZE];
} FdStream;

static la_ssize_t fd_stream_read(struct archive *a, void *userdata, const void **ret_buf) {
        FdStream *f = userdata;

        for (;;) {
                ssize_t k = read(f->job->fd, f->buf, sizeof f->buf);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        archive_set_error(a, errno, "Failed to read the tarball");
                        return -1;
                }
                f->job->done += (uint64_t) k;
                job_report_bytes(f->job, 0, false);
                *ret_buf = f->buf;
                return k;
        }
}

static la_ssize_t fd_stream_write(struct archive *a, void *userdata, const void *buf, size_t size) {
        ArchiveJob *job = userdata;

        for (;;) {
                ssize_t k = write(job->fd, buf, size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        archive_set_error(a, k < 0 ? errno : EIO, "Write error");
                        return -1;
                }
                job->done += (uint64_t) k;
                job_report_bytes(job, 0, false);
                return k;
        }
}

/* ---------------------------------------------------------------- xattrs of idmapped instances */

/* security.capability as the kernel stores it: v2 (20 bytes, valid in the initial user namespace) or
 * v3 (24 bytes, valid for the namespace whose root is rootid). */
static bool cap_xattr_parse(const void *value, size_t size, uint32_t *ret_magic, uint32_t *ret_rootid,
                            struct vfs_ns_cap_data *ret) {
        struct vfs_ns_cap_data c = {};

        if (size != XATTR_CAPS_SZ_2 && size != XATTR_CAPS_SZ_3)
                return false;
        memcpy(&c, value, size);
        uint32_t magic = le32toh(c.magic_etc);
        if ((magic & VFS_CAP_REVISION_MASK) != (size == XATTR_CAPS_SZ_2 ? VFS_CAP_REVISION_2 : VFS_CAP_REVISION_3))
                return false;
        *ret_magic = magic;
        *ret_rootid = size == XATTR_CAPS_SZ_3 ? le32toh(c.rootid) : 0;
        *ret = c;
        return true;
}

/* The xattrs of an entry, rewritten for an idmapped instance. Importing (shift > 0): only user.* and file
 * capabilities stay, the capabilities namespaced to the instance's root (v3, rootid = base), so that
 * they mean nothing on the host; trusted.* and the other security.* are root's on the host and go.
 * Exporting: capabilities of the instance's namespace become plain ones again. */
static int rewrite_xattrs(struct archive_entry *e, uint32_t base, uint32_t count, bool import) {
        struct { char *name; void *value; size_t size; } keep[64];
        size_t n = 0;
        const char *name;
        const void *value;
        size_t size;
        int r = 0;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                struct vfs_ns_cap_data c;
                uint32_t magic, rootid;

                if (streq(name, "security.capability")) {
                        if (!cap_xattr_parse(value, size, &magic, &rootid, &c))
                                continue;
                        if (import) {
                                if (rootid >= count)
                                        continue;
                                rootid += base;
                        } else if (rootid >= base && rootid - base < count)
                                rootid -= base;
                        else
                                continue;
                        c.magic_etc = htole32((magic & ~VFS_CAP_REVISION_MASK) |
                                              (rootid == 0 ? VFS_CAP_REVISION_2 : VFS_CAP_REVISION_3));
                        c.rootid = htole32(rootid);
                        value = &c;
                        size = rootid == 0 ? XATTR_CAPS_SZ_2 : XATTR_CAPS_SZ_3;
                } else if (import && !startswith(name, "user."))
                        continue;
                if (n >= ELEMENTSOF(keep)) {
                        r = -E2BIG;
                        break;
                }
                keep[n].name = strdup(name);
                keep[n].value = memdup(value, size);
                keep[n].size = size;
                if (!keep[n].name || !keep[n].value) {
                        free(keep[n].name);
                        free(keep[n].value);
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r >= 0) {
                archive_entry_xattr_clear(e);
                for (size_t k = 0; k < n; k++)
                        archive_entry_xattr_add_entry(e, keep[k].name, keep[k].value, keep[k].size);
        }
        for (size_t k = 0; k < n; k++) {
                free(keep[k].name);
                free(keep[k].value);
        }
        return r;
}

/* ---------------------------------------------------------------- import */

typedef struct ImportState {
        ArchiveJob *job;
        bool first;
        char *metadata_json;
        InstanceMetadata export_md;     /* an export's lxcbus.json, parsed: its snapshots follow */
        TarballLayout layout;
        bool seen[LXCBUS_SNAPSHOTS_MAX];        /* the export's snapshot k had a member */
        uint64_t total;                 /* the size of a regular file to read, 0 if not known */
        uint64_t next_progress;
} ImportState;

/* A tree's root directory: made before any member (the rootfs by create_empty(), a snapshot's here), owned
 * by the instance's root, so the tarball's entry for it is not needed. */
static int import_make_tree_root(ArchiveJob *job, const char *path) {
        if (mkdir(path, 0755) < 0)
                return fail(job, errno, "Failed to create '%s': %m", path);
        if (job->idmap_count > 0 && chown(path, job->idmap_uid, job->idmap_gid) < 0)
                return fail(job, errno, "Failed to hand '%s' to the instance's root user: %m", path);
        return 0;
}

/* snapshots/NAME/rootfs of every snapshot the export lists, as Snapshot() leaves them: snapshots/ and
 * snapshots/NAME root's only (docs/architecture.md). */
static int import_make_snapshot_dirs(ImportState *s) {
        if (s->export_md.n_snapshots == 0)
                return 0;
        if (mkdir("snapshots", 0700) < 0)
                return fail(s->job, errno, "Failed to create 'snapshots': %m");
        for (size_t k = 0; k < s->export_md.n_snapshots; k++) {
                _cleanup_free_ char *dir = NULL, *root = NULL;

                if (asprintf(&dir, "snapshots/%s", s->export_md.snapshots[k].name) < 0 ||
                    asprintf(&root, "%s/rootfs", dir) < 0)
                        return fail(s->job, ENOMEM, "Out of memory.");
                if (mkdir(dir, 0700) < 0)
                        return fail(s->job, errno, "Failed to create '%s': %m", dir);
                int r = import_make_tree_root(s->job, root);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The first member, lxcbus.json, of an export: kept for the metadata, and checked at once (its snapshot
 * list, bounded by LXCBUS_SNAPSHOTS_MAX, names the trees that may follow). */
static int import_read_metadata(ImportState *s, struct archive *in, struct archive_entry *e) {
        la_int64_t size = archive_entry_size(e);
        _cleanup_free_ char *buf = NULL, *msg = NULL;
        int r;

        if (archive_entry_filetype(e) != AE_IFREG || size < 0 || size > METADATA_SIZE_MAX)
                return fail(s->job, EBADMSG, "Member 'lxcbus.json' is not a file of at most %u bytes.",
                            (unsigned) METADATA_SIZE_MAX);
        buf = malloc((size_t) size + 1);
        if (!buf)
                return fail(s->job, ENOMEM, "Out of memory.");
        la_ssize_t k = archive_read_data(in, buf, (size_t) size);
        if (k != size)
                return k < 0 ? fail_archive(s->job, in, "Failed to read 'lxcbus.json'")
                             : fail(s->job, EBADMSG, "Member 'lxcbus.json' is truncated.");
        buf[size] = 0;
        r = instance_metadata_from_json(buf, (size_t) size, &s->export_md, &msg);
        if (r == -ENOMEM)
                return fail(s->job, ENOMEM, "Out of memory.");
        if (r < 0)
                return fail(s->job, EBADMSG, "Member 'lxcbus.json' is not valid lxcbus metadata (at most %u "
                            "snapshots with valid, unique names): %s", LXCBUS_SNAPSHOTS_MAX, strna(msg));
        s->metadata_json = TAKE_PTR(buf);
        s->layout = (TarballLayout) { true, s->export_md.snapshots, s->export_md.n_snapshots };
        return import_make_snapshot_dirs(s);
}

static int import_refuse_name(ImportState *s, int error, const char *raw, const char *what) {
        if (error == -ENOMEM)
                return fail(s->job, ENOMEM, "Out of memory.");
        if (error == -ENOENT)
                return fail(s->job, EPERM, "Refusing %s '%s': below 'snapshots/' of a snapshot that "
                            "'lxcbus.json' does not list.", what, strna(raw));
        return fail(s->job, EPERM, "Refusing %s '%s': %s.", what, strna(raw),
                    s->layout.is_export ? "not below 'rootfs/' or 'snapshots/NAME/rootfs/', or it leaves the tree"
                                        : "an absolute name, or one with '..', leaves the tree");
}

/* A hard link's target: in the member's own tree (a snapshot shares no inode with the rootfs or another
 * snapshot: each is a whole copy, and a write into one must not change another). */
static int import_check_hardlink(ImportState *s, struct archive_entry *e, int tree) {
        const char *raw = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
        _cleanup_free_ char *path = NULL;
        int r, link_tree;

        r = tarball_member_path(&s->layout, link, &link_tree, &path);
        if (r == -ENOMEM)
                return fail(s->job, ENOMEM, "Out of memory.");
        if (r != TARBALL_MEMBER_FILE || link_tree != tree)
                return fail(s->job, EPERM, "Refusing hard link '%s' to '%s': it points out of its tree.", strna(raw),
                            strna(link));
        archive_entry_copy_hardlink(e, path);
        return 0;
}

/* Checks and rewrites one member: its name (and a hard link's target) relative to the instance directory,
 * its owner shifted into an idmapped instance's range. 0: extract it; 1: skip it (a tree's root, made
 * already). */
static int import_check_entry(ImportState *s, struct archive_entry *e) {
        ArchiveJob *job = s->job;
        const char *raw = archive_entry_pathname(e);
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
        mode_t type = archive_entry_filetype(e);
        _cleanup_free_ char *path = NULL;
        int r, tree;

        r = tarball_member_path(&s->layout, raw, &tree, &path);
        if (r < 0)
                return import_refuse_name(s, r, raw, "member");
        if (r == TARBALL_MEMBER_LAYOUT_DIR && type != AE_IFDIR)
                return fail(job, EPERM, "Refusing member '%s': not a directory.", raw);
        if (r != TARBALL_MEMBER_LAYOUT_DIR && tree >= 0)
                s->seen[tree] = true;
        if (r != TARBALL_MEMBER_FILE)
                return 1;
        if (archive_entry_hardlink(e)) {
                r = import_check_hardlink(s, e, tree);
                if (r < 0)
                        return r;
        }
        if (job->idmap_count > 0 && (type == AE_IFCHR || type == AE_IFBLK))
                return fail(job, EPERM, "Refusing device node '%s': an unprivileged instance cannot have one.", raw);
        if (job->idmap_count > 0) {
                if (uid < 0 || gid < 0 || uid >= job->idmap_count || gid >= job->idmap_count)
                        return fail(job, ERANGE, "Refusing member '%s': its owner %lld:%lld is beyond the "
                                    "instance's %u ids.", raw, (long long) uid, (long long) gid, job->idmap_count);
                archive_entry_set_uid(e, job->idmap_uid + uid);
                archive_entry_set_gid(e, job->idmap_gid + gid);
                if (rewrite_xattrs(e, job->idmap_uid, job->idmap_count, true) < 0)
                        return fail(job, E2BIG, "Member '%s' has too many xattrs.", raw);
        }
        /* Numeric ids only: names would be looked up in the host's passwd. */
        archive_entry_copy_uname(e, NULL);
        archive_entry_copy_gname(e, NULL);
        archive_entry_copy_pathname(e, path);
        return 0;
}

static void import_progress(ImportState *s, struct archive *in) {
        uint64_t done = (uint64_t) archive_filter_bytes(in, -1);
        char stage[64];

        if (done < s->next_progress)
                return;
        s->next_progress = done + PROGRESS_EVERY;
        snprintf(stage, sizeof stage, "importing: %" PRIu64 " MiB read", done >> 20);
        s->job->progress(s->total > 0 ? 0.1 + 0.8 * MIN((double) done / (double) s->total, 1.0) : 0.1, stage);
}

static int import_copy_data(ImportState *s, struct archive *in, struct archive *out, const char *name) {
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r;

                r = archive_read_data_block(in, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_OK)
                        return fail_archive(s->job, in, "Failed to read the tarball");
                if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
                        return fail_archive(s->job, out, name);
                import_progress(s, in);
        }
}

static int import_entries(ImportState *s, struct archive *in, struct archive *out) {
        struct archive_entry *e;
        int r;

        for (;;) {
                r = archive_read_next_header(in, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return fail_archive(s->job, in, "Failed to read the tarball");
                if (s->first) {
                        s->first = false;
                        if (streq_ptr(tarball_relative_name(archive_entry_pathname(e)), "lxcbus.json")) {
                                r = import_read_metadata(s, in, e);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                r = import_check_entry(s, e);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                _cleanup_free_ char *name = strdup(archive_entry_pathname(e));
                if (!name)
                        return fail(s->job, ENOMEM, "Out of memory.");
                if (archive_write_header(out, e) < ARCHIVE_WARN)
                        return fail_archive(s->job, out, name);
                if (archive_entry_size(e) > 0 && !archive_entry_hardlink(e)) {
                        r = import_copy_data(s, in, out, name);
                        if (r < 0)
                                return r;
                }
                if (archive_write_finish_entry(out) < ARCHIVE_WARN)
                        return fail_archive(s->job, out, name);
                import_progress(s, in);
        }
        if (s->first)
                return fail(s->job, EBADMSG, "The tarball is empty.");
        for (size_t k = 0; k < s->export_md.n_snapshots; k++)
                if (!s->seen[k])
                        return fail(s->job, EBADMSG, "Member 'lxcbus.json' lists snapshot '%s', but the tarball "
                                    "has no 'snapshots/%s/rootfs/'.", s->export_md.snapshots[k].name,
                                    s->export_md.snapshots[k].name);
        return 0;
}

int archive_import(ArchiveJob *job, char **ret_metadata_json) {
        _cleanup_free_ FdStream *stream = NULL;        /* outlives the reader, which it feeds */
        _cleanup_archive_ struct archive *in = NULL, *out = NULL;
        ImportState s = { .job = job, .first = true };
        struct stat st;
        int r;

        assert(job);
        assert(ret_metadata_json);

        stream = new0(FdStream, 1);
        if (!stream)
                return fail(job, ENOMEM, "Out of memory.");
        stream->job = job;

        if (fstat(job->fd, &st) >= 0 && S_ISREG(st.st_mode))
                s.total = (uint64_t) st.st_size;
        in = archive_read_new();
        out = archive_write_disk_new();
        if (!in || !out)
                return fail(job, ENOMEM, "Out of memory.");
        /* Tar only (ustar, pax, GNU), and the compressions we name: nothing else of libarchive's many
         * formats is exposed to the caller's bytes. */
        if (archive_read_support_format_tar(in) != ARCHIVE_OK || archive_read_support_filter_gzip(in) != ARCHIVE_OK ||
            archive_read_support_filter_xz(in) != ARCHIVE_OK || archive_read_support_filter_zstd(in) != ARCHIVE_OK)
                return fail_archive(job, in, "Failed to set up the tarball reader");

        /* File flags (immutable, append-only) only into a privileged instance: in an idmapped one the
         * caller is not root, and an immutable file would make the instance impossible to delete. */
        int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SPARSE | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
        if (job->idmap_count == 0)
                flags |= ARCHIVE_EXTRACT_FFLAGS;
        if (archive_write_disk_set_options(out, flags) != ARCHIVE_OK)
                return fail_archive(job, out, "Failed to set up the extraction");

        job->progress(0.1, "importing");
        job_report_bytes(job, 0, true);
        if (archive_read_open2(in, stream, NULL, fd_stream_read, NULL, NULL) != ARCHIVE_OK)
                return fail_archive(job, in, "Failed to read the tarball");
        r = import_entries(&s, in, out);
        if (r >= 0 && archive_write_close(out) != ARCHIVE_OK)
                r = fail_archive(job, out, "Failed to finish the extraction");
        job_report_bytes(job, 0, true);
        instance_metadata_done(&s.export_md);
        if (r < 0) {
                free(s.metadata_json);
                return r;
        }
        *ret_metadata_json = s.metadata_json;
        return 0;
}

/* ---------------------------------------------------------------- export */

static int export_write_metadata(ArchiveJob *job, struct archive *out, const char *json) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        size_t size = strlen(json);

        if (!e)
                return fail(job, ENOMEM, "Out of memory.");
        archive_entry_set_pathname(e, METADATA_FILE);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) size);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(out, e) != ARCHIVE_OK || archive_write_data(out, json, size) != (la_ssize_t) size)
                return fail_archive(job, out, "Failed to write the tarball");
        return 0;
}

/* An owner of an idmapped instance as the instance sees it: a tarball means the same on any host. */
static la_int64_t unshift(la_int64_t id, unsigned base, unsigned count) {
        if (count == 0)
                return id;
        return id >= base && id - base < count ? id - base : OVERFLOW_ID;
}

static int export_entry(ArchiveJob *job, struct archive *disk, struct archive *out, struct archive_entry *e,
                        uint64_t *done) {
        _cleanup_free_ char *name = strdup(archive_entry_pathname(e));

        if (!name)
                return fail(job, ENOMEM, "Out of memory.");
        archive_entry_set_uid(e, unshift(archive_entry_uid(e), job->idmap_uid, job->idmap_count));
        archive_entry_set_gid(e, unshift(archive_entry_gid(e), job->idmap_gid, job->idmap_count));
        if (job->idmap_count > 0 && rewrite_xattrs(e, job->idmap_uid, job->idmap_count, false) < 0)
                return fail(job, E2BIG, "File '%s' has too many xattrs.", name);
        if (archive_write_header(out, e) < ARCHIVE_WARN)
                return fail_archive(job, out, "Failed to write the tarball");
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) <= 0)
                return 0;
        for (;;) {
                char buf[BLOCK_SIZE];
                la_ssize_t k = archive_read_data(disk, buf, sizeof buf);

                if (k == 0)
                        return 0;
                if (k < 0)
                        return fail_archive(job, disk, name);
                if (archive_write_data(out, buf, (size_t) k) != k)
                        return fail_archive(job, out, "Failed to write the tarball");
                if (*done / PROGRESS_EVERY != (*done + (uint64_t) k) / PROGRESS_EVERY) {
                        char stage[64];

                        snprintf(stage, sizeof stage, "exporting: %" PRIu64 " MiB", (*done + (uint64_t) k) >> 20);
                        job->progress(0.5, stage);
                }
                *done += (uint64_t) k;
        }
}

/* One tree (the rootfs, or a snapshot's) under its own name: "rootfs/...", "snapshots/NAME/rootfs/...". */
static int export_tree(ArchiveJob *job, struct archive *out, const char *path, uint64_t *done) {
        _cleanup_archive_ struct archive *disk = archive_read_disk_new();
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        int r;

        if (!disk || !e)
                return fail(job, ENOMEM, "Out of memory.");
        /* Symlinks as links, never followed; nothing below a mount point (there is none in a stopped
         * instance's rootfs, unless an administrator made one). */
        if (archive_read_disk_set_symlink_physical(disk) != ARCHIVE_OK ||
            archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS) != ARCHIVE_OK ||
            archive_read_disk_open(disk, path) != ARCHIVE_OK)
                return fail_archive(job, disk, path);
        for (;;) {
                archive_entry_clear(e);
                r = archive_read_next_header2(disk, e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return fail_archive(job, disk, path);
                if (archive_read_disk_can_descend(disk))
                        (void) archive_read_disk_descend(disk);
                r = export_entry(job, disk, out, e, done);
                if (r < 0)
                        return r;
        }
        return 0;
}

int archive_export(ArchiveJob *job, WorkerCompression compression, const char *metadata_json,
                   const InstanceSnapshot *snapshots, size_t n_snapshots) {
        _cleanup_archive_ struct archive *out = archive_write_new();
        struct stat st;
        uint64_t done = 0;
        int r;

        assert(job);
        assert(metadata_json);

        if (!out)
                return fail(job, ENOMEM, "Out of memory.");
        r = archive_write_set_format_pax_restricted(out);
        if (r == ARCHIVE_OK)
                switch (compression) {
                case WORKER_COMPRESSION_GZIP:
                        r = archive_write_add_filter_gzip(out);
                        break;
                case WORKER_COMPRESSION_XZ:
                        r = archive_write_add_filter_xz(out);
                        break;
                case WORKER_COMPRESSION_ZSTD:
                        r = archive_write_add_filter_zstd(out);
                        break;
                default:
                        break;
                }
        /* A pipe takes what comes: no padding of the last block beyond what tar needs. */
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_in_last_block(out, 1);
        /* As archive_write_open_fd(): a regular file does not go into itself. */
        if (fstat(job->fd, &st) >= 0 && S_ISREG(st.st_mode))
                archive_write_set_skip_file(out, (la_int64_t) st.st_dev, (la_int64_t) st.st_ino);
        if (r != ARCHIVE_OK || archive_write_open2(out, job, NULL, fd_stream_write, NULL, NULL) != ARCHIVE_OK)
                return fail_archive(job, out, "Failed to set up the tarball");
        job_report_bytes(job, 0, true);

        job->progress(0.1, "exporting");
        r = export_write_metadata(job, out, metadata_json);
        if (r >= 0)
                r = export_tree(job, out, "rootfs", &done);
        /* Each snapshot whole, as it is on disk: no hard links into the rootfs or another snapshot, so
         * that an import gets trees that share nothing (the size is the sum of the trees). */
        for (size_t k = 0; r >= 0 && k < n_snapshots; k++) {
                _cleanup_free_ char *path = NULL;
                char stage[128];

                if (asprintf(&path, "snapshots/%s/rootfs", snapshots[k].name) < 0)
                        return fail(job, ENOMEM, "Out of memory.");
                snprintf(stage, sizeof stage, "exporting snapshot '%s'", snapshots[k].name);
                job->progress(0.5, stage);
                r = export_tree(job, out, path, &done);
        }
        if (r < 0) {
                /* After a failed write libarchive frees its output buffer only in close (archive_free skips
                 * close in the fatal state). Closing writes the trailer, so only when nobody reads any more:
                 * a tarball cut short must never end like a whole one. */
                if (archive_errno(out) == EPIPE)
                        (void) archive_write_close(out);
                return r;
        }
        if (archive_write_close(out) != ARCHIVE_OK)
                return fail_archive(job, out, "Failed to finish the tarball");
        job_report_bytes(job, 0, true);
        return 0;
}

/* ---------------------------------------------------------------- metadata */

int archive_merge_metadata(const char *daemon_json, const char *export_json, char **ret_json, char *error,
                           size_t error_size) {
        _cleanup_(instance_metadata_done) InstanceMetadata md = {}, ex = {};
        _cleanup_free_ char *msg = NULL;
        int r;

        assert(daemon_json);
        assert(ret_json);

        r = instance_metadata_from_json(daemon_json, strlen(daemon_json), &md, &msg);
        if (r < 0) {
                snprintf(error, error_size, "Bad metadata from lxcbusd: %s", strna(msg));
                return r;
        }
        if (export_json) {
                r = instance_metadata_from_json(export_json, strlen(export_json), &ex, &msg);
                if (r < 0) {
                        snprintf(error, error_size, "Member 'lxcbus.json' is not valid lxcbus metadata: %s",
                                 strna(msg));
                        return -EBADMSG;
                }
                for (size_t k = 0; k < ex.config.n; k++) {
                        const ConfigEntry *c = &ex.config.entries[k];

                        if (startswith(c->key, "security.") || config_map_get(&md.config, c->key))
                                continue;
                        r = config_map_set(&md.config, c->key, c->value);
                        if (r < 0) {
                                snprintf(error, error_size, "Failed to take the config of the export: %s",
                                         r == -E2BIG ? "too many keys" : strerror(-r));
                                return r;
                        }
                }
                /* The snapshots came with it (archive_import() checked that each listed one did). */
                for (size_t k = 0; k < ex.n_snapshots; k++) {
                        r = instance_metadata_add_snapshot(&md, ex.snapshots[k].name, ex.snapshots[k].created_at);
                        if (r < 0) {
                                snprintf(error, error_size, "Failed to take the snapshots of the export: %s",
                                         strerror(-r));
                                return r;
                        }
                }
        }
        size_t size;
        r = instance_metadata_check_size(&md, &size);
        if (r < 0) {
                snprintf(error, error_size, "The config of the export is too large (%zu bytes of metadata).", size);
                return r;
        }
        return instance_metadata_to_json(&md, ret_json);
}
