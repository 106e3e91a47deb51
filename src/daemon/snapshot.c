/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots, Rename and Copy of instances (snapshot.h): the model, no D-Bus. */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-limits.h"
#include "create.h"
#include "freeze.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "names.h"
#include "operation.h"
#include "snapshot.h"
#include "util.h"
#include "worker.h"

#define LXC_CONFIG_FILE "config"
#define LXC_CONFIG_SIZE_MAX (4 * 1024 * 1024)

/* ---------------------------------------------------------------- the LXC config */

/* In value, every old_dir that is a whole path prefix (followed by '/' or the end) becomes new_dir. */
static void append_rewritten(FILE *f, const char *value, size_t n, const char *old_dir, const char *new_dir) {
        size_t ol = strlen(old_dir);

        for (size_t k = 0; k < n;) {
                if (n - k >= ol && memcmp(value + k, old_dir, ol) == 0 &&
                    (k + ol == n || value[k + ol] == '/' || value[k + ol] == ' ')) {
                        fputs(new_dir, f);
                        k += ol;
                } else
                        fputc(value[k++], f);
        }
}

/* "lxc.net.N.hwaddr" */
static bool key_is_hwaddr(const char *key, size_t n) {
        return n > strlen("lxc.net..hwaddr") && strncmp(key, "lxc.net.", 8) == 0 &&
               strncmp(key + n - strlen(".hwaddr"), ".hwaddr", strlen(".hwaddr")) == 0;
}

int lxc_config_rewrite(const char *text, const char *old_dir, const char *new_dir, const char *new_name,
                       const InstanceIdmap *idmap, const char *rootfs, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t out_size = 0;
        FILE *f;

        assert(text);
        assert(old_dir);
        assert(new_dir);
        assert(new_name);
        assert(ret);

        f = open_memstream(&out, &out_size);
        if (!f)
                return -ENOMEM;
        for (const char *line = text; *line;) {
                const char *end = strchrnul(line, '\n'), *k = line, *eq;
                size_t klen;

                while (k < end && (*k == ' ' || *k == '\t'))
                        k++;
                eq = memchr(k, '=', (size_t) (end - k));
                klen = eq ? (size_t) (eq - k) : 0;
                while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
                        klen--;
                if (*k == '#' || !eq)
                        fwrite(line, 1, (size_t) (end - line), f);
                else if (klen == strlen("lxc.uts.name") && strncmp(k, "lxc.uts.name", klen) == 0)
                        fprintf(f, "lxc.uts.name = %s", new_name);
                else if (rootfs && klen == strlen("lxc.rootfs.path") && strncmp(k, "lxc.rootfs.path", klen) == 0)
                        fprintf(f, "lxc.rootfs.path = %s", rootfs);
                else if (idmap && ((klen == strlen("lxc.idmap") && strncmp(k, "lxc.idmap", klen) == 0) ||
                                   key_is_hwaddr(k, klen))) {
                        line = *end ? end + 1 : end;   /* dropped: the copy gets its own */
                        continue;
                } else
                        append_rewritten(f, line, (size_t) (end - line), old_dir, new_dir);
                if (*end)
                        fputc('\n', f);
                line = *end ? end + 1 : end;
        }
        if (idmap && idmap->count > 0 && *text && text[strlen(text) - 1] != '\n')
                fputc('\n', f);
        if (idmap && idmap->count > 0)
                fprintf(f, "lxc.idmap = u 0 %" PRIu32 " %" PRIu32 "\nlxc.idmap = g 0 %" PRIu32 " %" PRIu32 "\n",
                        idmap->uid, idmap->count, idmap->gid, idmap->count);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Reads dir/config (the instance at dir) and writes it to dir_to/file_to for the instance at new_dir
 * called new_name. */
static int instance_config_rewrite(const char *dir, const char *dir_to, const char *file_to, const char *new_dir,
                                   const char *new_name, const InstanceIdmap *idmap, const char *rootfs) {
        _cleanup_free_ char *from = NULL, *to = NULL, *text = NULL, *out = NULL;
        size_t n;
        int r;

        if (asprintf(&from, "%s/" LXC_CONFIG_FILE, dir) < 0 || asprintf(&to, "%s/%s", dir_to, file_to) < 0)
                return -ENOMEM;
        r = read_full_file(from, LXC_CONFIG_SIZE_MAX, &text, &n);
        if (r < 0)
                return r;
        if (strlen(text) != n)
                return -EBADMSG;
        r = lxc_config_rewrite(text, dir, new_dir, new_name, idmap, rootfs, &out);
        if (r < 0)
                return r;
        return write_file_atomic(to, out, strlen(out), 0640);
}

/* ---------------------------------------------------------------- the copy worker */

/* The exit of every copy worker, below. */
static void on_storage_copied(Operation *o, int error, const char *message);

/* Starts the copy worker: o->storage.source_dir into staging/ENTRY/rootfs (staging/ENTRY made here); a copy
 * shifts the owners from its source's block into its own. */
static int storage_copy_start(Operation *o) {
        Manager *m = o->manager;
        const InstanceIdmap *from = NULL, *to = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (o->kind == OPERATION_COPY) {
                from = &o->storage.source->md.idmap;
                to = &o->storage.md->idmap;
        }
        if (asprintf(&dir, "%s/%s", m->staging_dir, o->storage.entry) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0)
                return -errno;
        WorkerRequest req = {
                .verb = WORKER_VERB_COPY,
                .lxcpath = dir,
                .name = "rootfs",
                .copy.source = o->storage.source_dir,
        };
        if (to && to->count > 0)
                req.copy = (WorkerCopyArgs) { o->storage.source_dir, from->uid, from->gid, to->uid, to->gid,
                                              to->count };
        o->step = OPERATION_STEP_WORK;
        o->cancel = operation_cancel_worker;   /* the exit handler removes what the worker left */
        o->cancelable = true;
        operation_mark_dirty(o, OPERATION_PROP_CANCELABLE);
        operation_set_progress(o, 0.0, "copying");
        r = operation_spawn_worker(o, &req, NULL, 0, on_storage_copied);
        if (r < 0)
                (void) rmdir(dir);
        return r;
}

/* The worker failed or was cancelled: its entry goes, and o finishes. */
static void storage_copy_failed(Operation *o, int error, const char *message, bool release_name) {
        int r;

        r = create_staging_remove(o->manager, o->storage.entry, release_name);
        if (r < 0) {
                log_warning_errno(r, "Failed to remove '%s', ignoring: %m", o->storage.entry);
                if (release_name)
                        manager_release_name(o->manager, o->storage.entry);
        }
        if (o->step == OPERATION_STEP_CANCELLED)
                operation_finish_errno(o, -ECANCELED, "The copy was cancelled.");
        else
                operation_fail(o, error, "Failed to copy: %s", message);
}

static char *instance_dir(Manager *m, const char *name, const char *sub) {
        char *p;

        if (asprintf(&p, "%s/%s%s%s", m->instances_dir, name, sub ? "/" : "", strempty(sub)) < 0)
                return NULL;
        return p;
}

static void instance_storage_changed(Instance *i) {
        int r;

        i->md.generation++;
        r = instance_save_metadata(i);
        if (r < 0)
                log_warning_errno(r, "Failed to save the metadata of '%s', ignoring: %m", i->name);
        instance_mark_dirty(i, INSTANCE_PROP_SNAPSHOTS);
}

/* ---------------------------------------------------------------- snapshots */

int snapshot_check_new(Instance *i, const char *name) {
        assert(i);

        if (!instance_name_is_valid(name))
                return -EINVAL;
        if (instance_metadata_find_snapshot(&i->md, name))
                return -EEXIST;
        if (i->md.n_snapshots >= LXCBUS_SNAPSHOTS_MAX)
                return -E2BIG;
        size_t size = instance_data_size(&i->md);
        if (!manager_data_fits(i->manager, size, size + LXCBUS_SNAPSHOT_DATA))
                return -ENOSPC;
        return 0;
}

/* A directory snapshots/NAME that the metadata does not list: the leftover of a daemon killed between
 * the rename and the save (Snapshot) or between the save and the move (DeleteSnapshot). Moved into
 * staging/ as entry, removed there. */
static int snapshot_move_stray(Manager *m, int snapdir, const char *name, const char *entry) {
        _cleanup_close_ int staging = -EBADF;

        staging = open(m->staging_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (staging < 0)
                return -errno;
        if (renameat(snapdir, name, staging, entry) < 0)
                return errno == ENOENT ? 0 : -errno;
        return create_staging_remove(m, entry, false);
}

/* The snapshot is in staging (tree): into snapshots/NAME, then listed. */
static int snapshot_put_in_place(Operation *o, const char *tree) {
        Instance *i = o->instance;
        Manager *m = o->manager;
        _cleanup_free_ char *snapdir = NULL, *to = NULL;
        _cleanup_close_ int sfd = -EBADF;
        char entry[64];
        int r;

        snapdir = instance_dir(m, i->name, "snapshots");
        if (!snapdir || asprintf(&to, "%s/%s/rootfs", snapdir, o->storage.snapshot) < 0)
                return -ENOMEM;
        if (mkdir(snapdir, 0700) < 0 && errno != EEXIST)
                return -errno;
        sfd = open(snapdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return -errno;
        if (mkdirat(sfd, o->storage.snapshot, 0700) < 0) {
                if (errno != EEXIST)
                        return -errno;
                /* Not listed (checked before), yet there: a leftover. */
                snprintf(entry, sizeof entry, ".snapshot-stray-%" PRIu64, o->id);
                r = snapshot_move_stray(m, sfd, o->storage.snapshot, entry);
                if (r < 0)
                        return r;
                if (mkdirat(sfd, o->storage.snapshot, 0700) < 0)
                        return -errno;
        }
        if (rename(tree, to) < 0) {
                r = -errno;
                (void) unlinkat(sfd, o->storage.snapshot, AT_REMOVEDIR);
                return r;
        }
        (void) fsync_directory_of(to);
        /* Failing here, the directory stays unlisted: removed when the name is used again. */
        r = instance_metadata_add_snapshot(&i->md, o->storage.snapshot, now_usec(CLOCK_REALTIME));
        if (r < 0)
                return r;
        instance_storage_changed(i);
        (void) create_staging_remove(m, o->storage.entry, false);
        instance_log(i, INSTANCE_EVENT_SNAPSHOT_TAKEN, "Snapshot '%s' of instance '%s' taken.", o->storage.snapshot, i->name);
        operation_finish(o, NULL, NULL);
        return 0;
}

static void copy_release_source(Operation *o) {
        instance_unlock(o->storage.source, o);
        o->storage.source = instance_unref(o->storage.source);
}

/* The copy worker could not start: o finishes, a copy's source and name released. */
static void storage_start_failed(Operation *o, int error) {
        const char *what = operation_kind_to_string(o->kind);
        _cleanup_free_ char *name = strdup(o->storage.source ? o->storage.source->name : o->instance_name);

        if (o->kind == OPERATION_COPY) {
                copy_release_source(o);
                manager_release_name(o->manager, o->instance_name);
        }
        if (error == -ETIMEDOUT)
                operation_fail(o, error, "Failed to %s '%s': it did not freeze within %" PRIu64 " s.", what,
                               strempty(name), FREEZE_TIMEOUT_USEC / USEC_PER_SEC);
        else
                operation_fail(o, error, "Failed to start the %s of '%s': %s", what, strempty(name), strerror(-error));
}

/* The source is frozen now (allow-running), or failed to. */
static void storage_on_frozen(Operation *o, int error) {
        if (error >= 0)
                error = storage_copy_start(o);
        if (error < 0)
                storage_start_failed(o, error);
}

/* The copy worker at once, or once the running instance src is frozen. */
static void storage_copy_begin(Operation *o, Instance *src, bool hold) {
        if (hold)
                freeze_hold(src, o, storage_on_frozen);
        else
                storage_on_frozen(o, 0);
}

/* Snapshot and RestoreSnapshot: the copy worker from the rootfs, or from the snapshot, into an entry of
 * staging/ that is unique in this daemon's life (a leftover of an earlier one is gone before the first
 * operation: create_clean_staging()). */
static void snapshot_copy_begin(Instance *i, Operation *o, const char *name, bool restore, bool hold) {
        _cleanup_free_ char *sub = NULL;

        assert(i);
        assert(o);
        assert(name);

        instance_lock(i, o);
        o->storage.snapshot = strdup(name);
        if (!o->storage.snapshot || (restore ? asprintf(&sub, "snapshots/%s/rootfs", name) < 0
                                             : !(sub = strdup("rootfs"))) ||
            !(o->storage.source_dir = instance_dir(i->manager, i->name, sub)) ||
            asprintf(&o->storage.entry, ".%s-%" PRIu64, restore ? "restore" : "snapshot", o->id) < 0) {
                operation_fail(o, -ENOMEM, "Out of memory.");
                return;
        }
        storage_copy_begin(o, i, hold);
}

void snapshot_create(Instance *i, Operation *o, const char *name, bool allow_running) {
        snapshot_copy_begin(i, o, name, false, allow_running && i->state == INSTANCE_RUNNING);
}

/* The copy of the snapshot is in staging (tree): exchanged with the rootfs, the old one leaving with the
 * staging entry. The one step that restores: both trees exist at every instant. */
/* A snapshot restored into an overlay clone is a whole tree in its rootfs: the clone becomes an instance
 * with a rootfs of its own, its layers go with the old rootfs (in staging/ENTRY). Killed before the config
 * is written, it is the clone it was (liblxc mounts the layers, not rootfs/); before the metadata, it boots
 * the restored tree and its snapshot is still held: restored again, it finishes. */
static int restore_detach_overlay(Operation *o, Instance *i) {
        Manager *m = o->manager;
        _cleanup_free_ char *dir = NULL, *rootfs = NULL, *entry = NULL;
        int r;

        if (!(dir = instance_dir(m, i->name, NULL)) || asprintf(&rootfs, "dir:%s/rootfs", dir) < 0 ||
            asprintf(&entry, "%s/%s", m->staging_dir, o->storage.entry) < 0)
                return -ENOMEM;
        r = instance_config_rewrite(dir, dir, LXC_CONFIG_FILE, dir, i->name, NULL, rootfs);
        if (r < 0)
                return r;
        i->md.overlay_instance = mfree(i->md.overlay_instance);
        i->md.overlay_snapshot = mfree(i->md.overlay_snapshot);
        FOREACH_STRING(layer, OVERLAY_UPPER_DIR, OVERLAY_WORK_DIR) {
                _cleanup_free_ char *from = NULL, *to = NULL;

                if (asprintf(&from, "%s/%s", dir, layer) < 0 || asprintf(&to, "%s/%s", entry, layer) < 0)
                        return -ENOMEM;
                if (rename(from, to) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to remove '%s', ignoring: %m", from);
        }
        return 0;
}

static int restore_put_in_place(Operation *o, const char *tree) {
        Instance *i = o->instance;
        _cleanup_free_ char *rootfs = NULL;
        int r;

        rootfs = instance_dir(o->manager, i->name, "rootfs");
        if (!rootfs)
                return -ENOMEM;
        if (renameat2(AT_FDCWD, tree, AT_FDCWD, rootfs, RENAME_EXCHANGE) < 0)
                return -errno;
        (void) fsync_directory_of(rootfs);
        if (i->md.overlay_instance) {
                r = restore_detach_overlay(o, i);
                if (r < 0) {
                        /* Back as it was: the clone, untouched. */
                        (void) renameat2(AT_FDCWD, tree, AT_FDCWD, rootfs, RENAME_EXCHANGE);
                        return r;
                }
        }
        instance_storage_changed(i);
        r = create_staging_remove(o->manager, o->storage.entry, false);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the old rootfs of '%s', ignoring: %m", i->name);
        instance_log(i, INSTANCE_EVENT_SNAPSHOT_RESTORED, "Instance '%s' restored from snapshot '%s'.", i->name, o->storage.snapshot);
        operation_finish(o, NULL, NULL);
        return 0;
}

void snapshot_restore(Instance *i, Operation *o, const char *name) {
        snapshot_copy_begin(i, o, name, true, false);
}

void snapshot_delete(Instance *i, Operation *o, const char *name) {
        _cleanup_free_ char *snapdir = NULL;
        _cleanup_close_ int sfd = -EBADF;
        char entry[64];
        int r;

        assert(i);
        assert(o);
        assert(name);

        instance_lock(i, o);
        /* Forgotten first: a daemon killed before the directory left only leaves an unlisted one. */
        r = instance_metadata_remove_snapshot(&i->md, name);
        if (r < 0) {
                operation_fail(o, r, "Instance '%s' has no snapshot '%s'.", i->name, name);
                return;
        }
        instance_storage_changed(i);
        snapdir = instance_dir(i->manager, i->name, "snapshots");
        if (!snapdir) {
                operation_fail(o, -ENOMEM, "Out of memory.");
                return;
        }
        sfd = open(snapdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        snprintf(entry, sizeof entry, ".snapshot-stray-%" PRIu64, o->id);
        r = sfd < 0 ? -errno : snapshot_move_stray(i->manager, sfd, name, entry);
        if (r < 0)
                log_warning_errno(r, "Failed to remove snapshot '%s' of '%s', ignoring: %m", name, i->name);
        instance_log(i, INSTANCE_EVENT_SNAPSHOT_DELETED, "Snapshot '%s' of instance '%s' deleted.", name, i->name);
        operation_set_progress(o, 1.0, "deleted");
        operation_finish(o, NULL, NULL);
}

/* The unlisted directories of one instance's snapshots/ (the leftovers snapshot_move_stray() names),
 * moved into staging/ as ".snapshot-orphan-N", *n counting over the startup. */
static int snapshot_remove_strays_of(Instance *i, unsigned *n) {
        _cleanup_free_ char *snapdir = NULL;
        _cleanup_strv_free_ char **strays = NULL;
        _cleanup_close_ int sfd = -EBADF;
        struct dirent *de;
        DIR *d;
        int r;

        snapdir = instance_dir(i->manager, i->name, "snapshots");
        if (!snapdir)
                return -ENOMEM;
        sfd = open(snapdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fcntl(sfd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return -errno;
        /* Listed first: renaming while reading could show an entry twice. */
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    !instance_metadata_find_snapshot(&i->md, de->d_name) && strv_extend(&strays, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        closedir(d);
        STRV_FOREACH(s, strays) {
                char entry[64];

                snprintf(entry, sizeof entry, ".snapshot-orphan-%u", (*n)++);
                log_info("Removing '%s/%s', which no snapshot of '%s' lists.", snapdir, *s, i->name);
                r = snapshot_move_stray(i->manager, sfd, *s, entry);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove '%s/%s', ignoring: %m", snapdir, *s);
        }
        return 0;
}

void snapshot_remove_strays(Manager *m) {
        unsigned n = 0;
        int r;

        assert(m);

        /* After create_clean_staging(): no entry of staging/ has these names. */
        for (Instance *i = m->instances; i; i = i->next) {
                if (i->load_error)
                        continue;
                r = snapshot_remove_strays_of(i, &n);
                if (r < 0)
                        log_warning_errno(r, "Failed to look for stray snapshots of '%s', ignoring: %m", i->name);
        }
}

/* ---------------------------------------------------------------- copy */

/* The copy is in staging/NEW/rootfs: its config and metadata beside it, the directory's owner as a
 * create sets it, and into place. */
static int copy_finish_in_staging(Operation *o) {
        Manager *m = o->manager;
        InstanceMetadata *md = o->storage.md;
        Instance *src = o->storage.source;
        _cleanup_free_ char *sdir = NULL, *fdir = NULL, *srcdir = NULL, *mdpath = NULL, *rootfs = NULL;
        int r;

        if (asprintf(&sdir, "%s/%s", m->staging_dir, md->name) < 0 || !(fdir = instance_dir(m, md->name, NULL)) ||
            !(srcdir = instance_dir(m, src->name, NULL)) || asprintf(&mdpath, "%s/" METADATA_FILE, sdir) < 0)
                return -ENOMEM;
        /* A copy has a rootfs of its own, whatever the source's (a full copy of an overlay clone too); an
         * overlay clone liblxc's overlay storage: lower and upper layer (its work directory is olwork
         * beside the upper). */
        if (md->overlay_instance ? asprintf(&rootfs, "overlay:%s/%s/snapshots/%s/rootfs:%s/" OVERLAY_UPPER_DIR,
                                            m->instances_dir, md->overlay_instance, md->overlay_snapshot, fdir) < 0
                                 : asprintf(&rootfs, "dir:%s/rootfs", fdir) < 0)
                return -ENOMEM;
        r = instance_config_rewrite(srcdir, sdir, LXC_CONFIG_FILE, fdir, md->name, &md->idmap, rootfs);
        if (r < 0)
                return r;
        r = instance_metadata_save(md, mdpath);
        if (r < 0)
                return r;
        /* As do_create() leaves an instance directory: root's, passable by an idmapped instance's root
         * group only (docs/architecture.md). */
        if (chown(sdir, 0, md->idmap.count > 0 ? md->idmap.gid : 0) < 0 ||
            chmod(sdir, md->idmap.count > 0 ? 0710 : 0700) < 0)
                return -errno;
        if (renameat2(AT_FDCWD, sdir, AT_FDCWD, fdir, RENAME_NOREPLACE) < 0)
                return -errno;
        (void) fsync_directory_of(fdir);
        return 0;
}

/* The copy is in instances/NEW: the new instance set up, and o done. */
static void copy_set_up(Operation *o) {
        _cleanup_free_ char *source = strdup(o->storage.source ? o->storage.source->name : "");
        Manager *m = o->manager;
        Instance *i;
        int r;

        copy_release_source(o);
        manager_release_name(m, o->instance_name);
        r = create_add_instance(o, o->storage.md);
        if (r < 0)
                return;
        i = o->instance;
        /* Named, as a create is: the new instance is not locked by the operation that made it. */
        instance_log_operation(i, o, INSTANCE_EVENT_COPIED, "Instance '%s' %s from '%s'%s%s.", i->name,
                               i->md.overlay_instance ? "cloned" : "copied", strempty(source),
                               o->storage.snapshot ? ", snapshot " : "", strempty(o->storage.snapshot));
        operation_finish(o, NULL, NULL);
}

/* The copy is whole in staging/NEW: in place, and the new instance set up. */
static int copy_put_in_place(Operation *o) {
        int r;

        r = copy_finish_in_staging(o);      /* reads the source's config */
        if (r < 0) {
                copy_release_source(o);
                return r;
        }
        copy_set_up(o);
        return 0;
}

/* The hostname worker of a copy is done: /etc/hostname of the copy holds its name if it held the
 * source's. Its failure leaves the file as copied (the name the instance gets is lxc.uts.name's anyway). */
static void on_copy_hostname(Operation *o, int error, const char *message) {
        int r;

        if (o->step == OPERATION_STEP_CANCELLED) {
                copy_release_source(o);
                storage_copy_failed(o, -ECANCELED, "cancelled", true);
                return;
        }
        if (error != 0)
                log_warning("Failed to set /etc/hostname of the copy '%s', left as copied: %s", o->instance_name,
                            strempty(message));
        r = copy_put_in_place(o);
        if (r < 0) {
                copy_release_source(o);
                storage_copy_failed(o, r, strerror(-r), true);
        }
}

/* The hostname worker of a copy, a clone or a rename: /etc/hostname of lxcpath/name says name where it
 * said old_name. */
static int hostname_spawn(Operation *o, const char *lxcpath, const char *name, const char *old_name,
                          OperationWorkerExited exited) {
        WorkerRequest req = {
                .verb = WORKER_VERB_HOSTNAME,
                .lxcpath = lxcpath,
                .name = name,
                .hostname.old_name = old_name,
        };

        return operation_spawn_worker(o, &req, NULL, 0, exited);
}

/* The hostname worker on staging/NEW (still locked by o, cancellable as the copy was). */
static int copy_hostname_start(Operation *o) {
        operation_set_progress(o, 1.0, "setting the hostname");
        return hostname_spawn(o, o->manager->staging_dir, o->storage.entry, o->storage.source->name,
                              on_copy_hostname);
}

/* The copy worker of any of them is done: put its tree in place, or remove it. */
static void on_storage_copied(Operation *o, int error, const char *message) {
        bool copy = o->kind == OPERATION_COPY;
        _cleanup_free_ char *tree = NULL;
        int r;

        freeze_release(o);      /* the source runs on at once: the rest does not read it */
        if (error == 0) {
                if (asprintf(&tree, "%s/%s/rootfs", o->manager->staging_dir, o->storage.entry) < 0)
                        r = -ENOMEM;
                else if (o->kind == OPERATION_SNAPSHOT)
                        r = snapshot_put_in_place(o, tree);
                else if (o->kind == OPERATION_RESTORE_SNAPSHOT)
                        r = restore_put_in_place(o, tree);
                else
                        r = copy_hostname_start(o);
                if (r >= 0)
                        return;
                error = r;
                message = strerror(-r);
        }
        if (copy)
                copy_release_source(o);
        storage_copy_failed(o, error, message, copy);
}

int instance_copy(Instance *src, Operation *o, const char *snapshot, InstanceMetadata *md, bool allow_running) {
        Manager *m = ASSERT_PTR(o)->manager;
        _cleanup_free_ char *sub = NULL;
        int r;

        assert(src);
        assert(o->kind == OPERATION_COPY);
        assert(md);

        if (snapshot ? asprintf(&sub, "snapshots/%s/rootfs", snapshot) < 0 : !(sub = strdup("rootfs")))
                return -ENOMEM;
        o->storage.source_dir = instance_dir(m, src->name, sub);
        o->storage.md = new0(InstanceMetadata, 1);
        o->storage.snapshot = snapshot ? strdup(snapshot) : NULL;
        o->storage.entry = strdup(md->name);
        if (!o->storage.source_dir || !o->storage.md || (snapshot && !o->storage.snapshot) || !o->storage.entry)
                return -ENOMEM;
        r = manager_reserve_name(m, md->name, md->idmap.count > 0 ? &md->idmap : NULL, md->owner);
        if (r < 0)
                return r;
        *o->storage.md = *md;
        *md = (InstanceMetadata) {};
        o->storage.source = instance_ref(src);
        instance_lock(src, o);
        /* From here on o finishes by itself, whatever happens. A snapshot is not the running rootfs: no
         * need to freeze for it. */
        storage_copy_begin(o, src, allow_running && !snapshot && src->state == INSTANCE_RUNNING);
        return 0;
}

Instance *snapshot_overlay_user(Manager *m, const char *instance, const char *snapshot) {
        assert(m);
        assert(instance);

        for (Instance *i = m->instances; i; i = i->next)
                if (streq_ptr(i->md.overlay_instance, instance) &&
                    (!snapshot || streq(i->md.overlay_snapshot, snapshot)))
                        return i;
        return NULL;
}

/* staging/NEW of an overlay clone: the upper layer, empty, with the root directory's owner and mode of
 * the lower one's (overlayfs shows the upper root's); the work directory; rootfs, a mount point only. */
static int overlay_make_dirs(const char *sdir, const struct stat *lower) {
        _cleanup_close_ int dir = -EBADF;

        if (mkdir(sdir, 0700) < 0)
                return -errno;
        dir = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        if (mkdirat(dir, OVERLAY_UPPER_DIR, 0700) < 0 ||
            fchownat(dir, OVERLAY_UPPER_DIR, lower->st_uid, lower->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(dir, OVERLAY_UPPER_DIR, lower->st_mode & 07777, 0) < 0 ||
            mkdirat(dir, OVERLAY_WORK_DIR, 0700) < 0 || mkdirat(dir, "rootfs", 0755) < 0)
                return -errno;
        return 0;
}

/* The hostname worker of an overlay clone is done (see on_copy_hostname()). The clone is in place already:
 * its /etc/hostname can only be set through its layers, which the worker mounts from its config. */
static void on_clone_hostname(Operation *o, int error, const char *message) {
        if (error != 0)
                log_warning("Failed to set /etc/hostname of the clone '%s', left as it is: %s", o->instance_name,
                            strempty(message));
        copy_set_up(o);
}

static int clone_hostname_start(Operation *o) {
        operation_set_progress(o, 1.0, "setting the hostname");
        return hostname_spawn(o, o->manager->instances_dir, o->storage.md->name, o->storage.source->name,
                              on_clone_hostname);
}

int instance_clone_overlay(Instance *src, Operation *o, const char *snapshot, InstanceMetadata *md) {
        Manager *m = ASSERT_PTR(o)->manager;
        _cleanup_free_ char *lower = NULL, *sub = NULL, *sdir = NULL;
        struct stat st;
        int r;

        assert(src);
        assert(o->kind == OPERATION_COPY);
        assert(snapshot);
        assert(md);
        assert(md->idmap.count == 0 && src->md.idmap.count == 0);

        if (asprintf(&sub, "snapshots/%s/rootfs", snapshot) < 0 || !(lower = instance_dir(m, src->name, sub)) ||
            asprintf(&sdir, "%s/%s", m->staging_dir, md->name) < 0)
                return -ENOMEM;
        if (lstat(lower, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        md->overlay_instance = strdup(src->name);
        md->overlay_snapshot = strdup(snapshot);
        o->storage.md = new0(InstanceMetadata, 1);
        o->storage.snapshot = strdup(snapshot);
        o->storage.entry = strdup(md->name);
        if (!md->overlay_instance || !md->overlay_snapshot || !o->storage.md || !o->storage.snapshot ||
            !o->storage.entry)
                return -ENOMEM;
        r = manager_reserve_name(m, md->name, NULL, md->owner);
        if (r < 0)
                return r;
        *o->storage.md = *md;
        *md = (InstanceMetadata) {};
        o->storage.source = instance_ref(src);
        instance_lock(src, o);
        /* Nothing to copy: in place at once, through the copy's own last steps. */
        r = overlay_make_dirs(sdir, &st);
        if (r >= 0)
                r = copy_finish_in_staging(o);
        if (r < 0) {
                copy_release_source(o);
                storage_copy_failed(o, r, strerror(-r), true);
                return 0;
        }
        r = clone_hostname_start(o);
        if (r < 0) {
                log_warning_errno(r, "Failed to set /etc/hostname of the clone '%s', left as it is: %m", o->instance_name);
                copy_set_up(o);
        }
        return 0;
}

void snapshot_operation_done(Operation *o) {
        if (o->storage.md) {
                instance_metadata_done(o->storage.md);
                free(o->storage.md);
        }
        copy_release_source(o);
        free(o->storage.snapshot);
        free(o->storage.entry);
        free(o->storage.source_dir);
}

/* ---------------------------------------------------------------- rename */

/* A rename in three steps, so that a daemon killed at any point leaves the old instance or the new one
 * (snapshot_recover_renames() finishes it at the next start):
 *   1. OLD/config.rename: the config for NEW, not in use yet;
 *   2. OLD/lxcbus.json names NEW: the commit point;
 *   3. OLD -> NEW, then NEW/config.rename -> NEW/config.
 * At startup a directory with a config.rename whose metadata names another name got to step 2: it is
 * moved on; one whose metadata names itself got to step 3 if the pending config is its own (the config is
 * put in place), else not to step 2 (the file goes). */
#define RENAME_CONFIG_FILE "config.rename"

static int rename_metadata_save(Instance *i, const char *name, uint64_t generation, const char *dir) {
        _cleanup_free_ char *mdpath = NULL;
        InstanceMetadata save = i->md;  /* shallow: nothing of it is freed */

        if (asprintf(&mdpath, "%s/" METADATA_FILE, dir) < 0)
                return -ENOMEM;
        save.name = (char *) name;
        save.generation = generation;
        return instance_metadata_save(&save, mdpath);
}

/* Step 3, and the recovery's: dir, committed to new_name, goes into place with its config. */
static int rename_finish(Manager *m, const char *dir, const char *new_name) {
        _cleanup_free_ char *new_dir = NULL, *pending = NULL, *config = NULL;

        new_dir = instance_dir(m, new_name, NULL);
        if (!new_dir || asprintf(&pending, "%s/" RENAME_CONFIG_FILE, new_dir) < 0 ||
            asprintf(&config, "%s/" LXC_CONFIG_FILE, new_dir) < 0)
                return -ENOMEM;
        if (!streq(dir, new_dir) && renameat2(AT_FDCWD, dir, AT_FDCWD, new_dir, RENAME_NOREPLACE) < 0)
                return -errno;
        if (rename(pending, config) < 0 && errno != ENOENT)
                return -errno;
        (void) fsync_directory_of(config);
        return 0;
}

static int rename_on_disk(Instance *i, const char *new_name, const char *old_dir, const char *new_dir) {
        _cleanup_free_ char *pending = NULL;
        int r;

        if (access(new_dir, F_OK) >= 0)
                return -EEXIST;         /* a stray directory, not an instance's */
        if (asprintf(&pending, "%s/" RENAME_CONFIG_FILE, old_dir) < 0)
                return -ENOMEM;
        r = instance_config_rewrite(old_dir, old_dir, RENAME_CONFIG_FILE, new_dir, new_name, NULL, NULL);
        if (r >= 0)
                r = rename_metadata_save(i, new_name, i->md.generation + 1, old_dir);
        if (r < 0) {
                (void) unlink(pending);
                return r;
        }
        r = rename_finish(i->manager, old_dir, new_name);
        if (r < 0 && access(old_dir, F_OK) >= 0) {
                /* Not moved (a stray NEW appeared meanwhile): undo the commit. */
                (void) rename_metadata_save(i, i->name, i->md.generation, old_dir);
                (void) unlink(pending);
                return r;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to put the new config of '%s' in place, the next start of the daemon "
                                  "does: %m", new_name);
        return 0;
}

/* Was the pending config written for the instance at dir? Then dir is the rename's new directory: the
 * daemon was killed after moving it (step 3), before putting the config in place. The pending config of a
 * rename not committed is the new directory's, and names dir nowhere: lxc_config_rewrite() replaced every
 * whole-path mention of it. */
static bool rename_pending_is_for(const char *pending, const char *dir) {
        _cleanup_free_ char *text = NULL, *needle = NULL;
        size_t n;

        if (read_full_file(pending, LXC_CONFIG_SIZE_MAX, &text, &n) < 0 || asprintf(&needle, "%s/", dir) < 0)
                return false;
        return strstr(text, needle) != NULL;
}

/* One directory of instances/ at startup, with a config.rename: a rename to finish or to forget. */
static void rename_recover(int dir_fd, const char *entry, void *userdata) {
        Manager *m = userdata;
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        _cleanup_free_ char *dir = NULL, *mdpath = NULL, *pending = NULL;
        int r;

        dir = instance_dir(m, entry, NULL);
        if (!dir || asprintf(&mdpath, "%s/" METADATA_FILE, dir) < 0 ||
            asprintf(&pending, "%s/" RENAME_CONFIG_FILE, dir) < 0) {
                (void) log_oom();
                return;
        }
        r = instance_metadata_load(mdpath, &md, NULL);
        if (r >= 0 && (!streq(md.name, entry) || rename_pending_is_for(pending, dir))) {
                r = rename_finish(m, dir, md.name);
                if (r < 0)
                        log_warning_errno(r, "Failed to finish the rename of '%s' to '%s', ignoring: %m", entry,
                                          md.name);
                else
                        log_info("Finished the interrupted rename of '%s' to '%s'.", entry, md.name);
                return;
        }
        (void) unlink(pending);
        log_info("Dropped the interrupted rename of '%s'.", entry);
}

/* An instance directory with a rename's config left in it. */
static bool rename_pending(int dir_fd, const char *entry) {
        _cleanup_free_ char *p = NULL;

        return instance_name_is_valid(entry) && asprintf(&p, "%s/" RENAME_CONFIG_FILE, entry) >= 0 &&
               faccessat(dir_fd, p, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

int snapshot_recover_renames(Manager *m) {
        assert(m);

        return dir_foreach_listed(m->instances_dir, rename_pending, rename_recover, m);
}

int instance_rename(Instance *i, const char *new_name) {
        Manager *m = ASSERT_PTR(i)->manager;
        _cleanup_free_ char *old_dir = NULL, *new_dir = NULL, *name = NULL, *md_name = NULL, *path = NULL,
                            *unit = NULL;
        int r;

        assert(new_name);

        if (!instance_name_is_valid(new_name))
                return -EINVAL;
        if (manager_find_instance(m, new_name) || manager_name_reserved(m, new_name))
                return -EEXIST;
        name = strdup(new_name);
        md_name = strdup(new_name);
        old_dir = instance_dir(m, i->name, NULL);
        new_dir = instance_dir(m, new_name, NULL);
        if (!name || !md_name || !old_dir || !new_dir)
                return -ENOMEM;
        r = instance_path_from_name(new_name, &path);
        if (r < 0)
                return r;
        r = instance_unit_name(new_name, &unit);
        if (r < 0)
                return r;
        r = rename_on_disk(i, new_name, old_dir, new_dir);
        if (r < 0)
                return r;

        /* Off the bus under the old path, back under the new one; a pending authorization for the old
         * object is not one for this (auth-dbus.c binds answers to the incarnation). */
        instance_ref(i);
        instance_unlink(i);
        instance_log(i, INSTANCE_EVENT_RENAMED, "Instance '%s' renamed to '%s'.", i->name, new_name);
        free(i->md.name);
        i->md.name = TAKE_PTR(md_name);
        free(i->name);
        i->name = TAKE_PTR(name);
        free(i->path);
        i->path = TAKE_PTR(path);
        free(i->unit_name);
        i->unit_name = TAKE_PTR(unit);
        i->md.generation++;
        i->incarnation = ++m->last_incarnation;
        manager_add_instance(m, i);
        instance_mark_dirty(i, INSTANCE_PROP_SNAPSHOTS);
        return 0;
}

/* The hostname worker after a rename is done. The rename stands whatever it says: the instance's name
 * is lxc.uts.name's anyway. */
static void on_rename_hostname(Operation *o, int error, const char *message) {
        if (error != 0)
                log_warning("Failed to set /etc/hostname of renamed instance '%s', left as it was: %s",
                            o->instance->name, strempty(message));
        operation_finish(o, NULL, NULL);
}

void instance_rename_hostname(Instance *i, Operation *o, const char *old_name) {
        int r;

        assert(i);
        assert(o);
        assert(old_name);

        instance_lock(i, o);
        o->step = OPERATION_STEP_WORK;
        r = hostname_spawn(o, i->manager->instances_dir, i->name, old_name, on_rename_hostname);
        if (r < 0) {
                log_warning_errno(r, "Failed to spawn the hostname worker for '%s', /etc/hostname left as it "
                                  "was: %m", i->name);
                operation_finish(o, NULL, NULL);
        }
}
