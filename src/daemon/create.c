/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Creating instances (create.h). An instance is built in staging/NAME by a worker (the template may
 * run for minutes, as the instance's root user for an idmapped one) and renamed into instances/ when
 * complete, so instances/ only ever holds whole instances. */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "create.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "subid.h"
#include "util.h"
#include "worker.h"

#define SUBUID_PATH "/etc/subuid"
#define SUBGID_PATH "/etc/subgid"

/* ---------------------------------------------------------------- subordinate ids */

/* *ret_failed: path, when it is reading the file that failed. */
static int read_subid_ranges(Manager *m, const char *path, SubIdRange **ret, size_t *ret_n, const char **ret_failed) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, SUBID_FILE_MAX, &text, &size);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0) {
                *ret_failed = path;
                return r;
        }
        return subid_parse(text, size, SUBID_USER, m->subid_uid, ret, ret_n);
}

/* A block of SUBID_BLOCK subordinate ids of user lxcbus that no instance and no running create uses.
 * The files are read at each create: they are small, local, change rarely, and an administrator's edit
 * takes effect without a restart. */
int create_allocate_idmap(Manager *m, InstanceIdmap *ret, const char **ret_path) {
        _cleanup_free_ SubIdRange *u = NULL, *g = NULL, *used = NULL;
        size_t nu, ng, nused;
        uint32_t base;
        int r;

        assert(m);
        assert(ret);
        assert(ret_path);

        *ret_path = NULL;
        r = read_subid_ranges(m, SUBUID_PATH, &u, &nu, ret_path);
        if (r < 0)
                return r;
        r = read_subid_ranges(m, SUBGID_PATH, &g, &ng, ret_path);
        if (r < 0)
                return r;
        if (nu == 0 || ng == 0) {
                *ret_path = nu == 0 ? SUBUID_PATH : SUBGID_PATH;
                return -ENODATA;
        }
        r = manager_used_subids(m, &used, &nused);
        if (r < 0)
                return r;
        r = subid_allocate(u, nu, g, ng, used, nused, SUBID_BLOCK, &base);
        if (r < 0)
                return r;
        *ret = (InstanceIdmap) { base, base, SUBID_BLOCK };
        return 0;
}

/* ---------------------------------------------------------------- staging */

/* Renames staging/<entry> to a ".deleted-" name (never an instance's), so that its name is free at once
 * while a worker removes the rest. Returns the new name, or NULL (errno set) if it could not move. */
static char *staging_move_aside(int dir_fd, const char *entry) {
        for (unsigned n = 0; n < 1000; n++) {
                _cleanup_free_ char *trash = NULL;

                if (asprintf(&trash, ".deleted-%s-%u", entry, n) < 0)
                        return errno = ENOMEM, NULL;
                if (renameat2(dir_fd, entry, dir_fd, trash, RENAME_NOREPLACE) >= 0)
                        return TAKE_PTR(trash);
                if (errno != EEXIST)
                        return NULL;
        }
        return errno = EEXIST, NULL;
}

/* An entry of staging/ being removed by a worker: one allocation with the entry's name. */
typedef struct StagingRemoval {
        Manager *manager;
        Worker *worker;
        bool release_name;          /* the failed create's name is free again once its rest is gone */
        char entry[];
} StagingRemoval;

static StagingRemoval *staging_removal_free(StagingRemoval *s) {
        if (!s)
                return NULL;
        worker_free(s->worker);
        return mfree(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(StagingRemoval *, staging_removal_free);

static void on_staging_removed(Worker *w, int error, const char *message, void *userdata) {
        StagingRemoval *s = userdata;

        if (error != 0)
                log_warning("Failed to remove '%s/%s', ignoring: %s", s->manager->staging_dir, s->entry, message);
        /* Only now may the name be created again: the removal must not race with a new create. */
        if (s->release_name)
                manager_release_name(s->manager, s->entry);
        staging_removal_free(s);
}

static const WorkerHandlers staging_removal_handlers = {
        .exited = on_staging_removed,
};

int create_staging_remove(Manager *m, const char *entry, bool release_name) {
        _cleanup_(staging_removal_freep) StagingRemoval *s = NULL;
        int r;

        /* A failed or cancelled create, import or copy: its entry is moved aside at once, so that the name
         * is free when its operation ends (a new create of the name must find it free, not "exists"). */
        if (release_name) {
                _cleanup_close_ int dir_fd = open(m->staging_dir, O_DIRECTORY | O_CLOEXEC | O_PATH);
                _cleanup_free_ char *trash = dir_fd >= 0 ? staging_move_aside(dir_fd, entry) : NULL;

                if (trash || errno == ENOENT) {
                        manager_release_name(m, entry);
                        return trash ? create_staging_remove(m, trash, false) : 0;
                }
                /* Else removed in place, and the name freed once it is gone. */
        }

        size_t n = strlen(entry) + 1;
        s = malloc(offsetof(StagingRemoval, entry) + n);
        if (!s)
                return -ENOMEM;
        *s = (StagingRemoval) { .manager = m, .release_name = release_name };
        memcpy(s->entry, entry, n);
        WorkerRequest req = {
                .verb = WORKER_VERB_DESTROY,
                .lxcpath = m->staging_dir,
                .name = s->entry,
                .destroy.trash_dir = m->staging_dir,
        };
        r = worker_spawn(m, &req, NULL, 0, &staging_removal_handlers, s, &s->worker);
        if (r < 0)
                return r;
        TAKE_PTR(s);    /* on_staging_removed() frees it */
        return 0;
}

/* A failed or cancelled create may leave a half-built staging/<name>. */
static void create_cleanup_staging(Manager *m, const char *name) {
        int r;

        r = create_staging_remove(m, name, true);
        if (r < 0) {
                log_warning_errno(r, "Failed to clean up after the create of '%s', ignoring: %m", name);
                manager_release_name(m, name);
        }
}

/* One leftover of staging/: moved aside, then removed in a worker. */
static void staging_remove_leftover(int dir_fd, const char *entry, void *userdata) {
        _cleanup_free_ char *trash = NULL;
        Manager *m = userdata;
        int r;

        trash = startswith(entry, ".deleted-") ? strdup(entry) : staging_move_aside(dir_fd, entry);
        if (!trash) {
                log_warning_errno(errno, "Failed to move leftover '%s' aside, ignoring: %m", entry);
                return;
        }
        log_info("Removing leftover '%s/%s' of an interrupted operation.", m->staging_dir, entry);
        r = create_staging_remove(m, trash, false);
        if (r < 0)
                log_warning_errno(r, "Failed to remove leftover '%s', ignoring: %m", trash);
}

/* What a killed create or delete left behind in staging/, never listed: removed by workers, because a
 * leftover may be a whole rootfs, and the daemon is ready without waiting for that. */
int create_clean_staging(Manager *m) {
        assert(m);

        return dir_foreach_listed(m->staging_dir, NULL, staging_remove_leftover, m);
}

/* ---------------------------------------------------------------- the create worker */

/* An import's metadata is the worker's merge of the call's and the export's config (tarball.c): read it
 * back, validated as at every load, and take it if it is this import's own (name, owner, idmap and
 * created-at to the µs, none of which the tarball can set). */
static int create_take_imported_metadata(Operation *o) {
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        _cleanup_free_ char *path = NULL, *msg = NULL;
        InstanceMetadata *want = o->create.md;
        int r;

        if (asprintf(&path, "%s/%s/" METADATA_FILE, o->manager->instances_dir, o->instance_name) < 0)
                return -ENOMEM;
        r = instance_metadata_load(path, &md, &msg);
        if (r < 0)
                return r;
        if (!streq(md.name, want->name) || md.owner != want->owner || md.created_at != want->created_at ||
            md.idmap.uid != want->idmap.uid || md.idmap.gid != want->idmap.gid || md.idmap.count != want->idmap.count ||
            md.ephemeral != want->ephemeral ||
            !streq_ptr(config_map_get(&md.config, "security.privileged"),
                       config_map_get(&want->config, "security.privileged")))
                return -ESTALE;
        instance_metadata_done(want);
        *want = md;
        md = (InstanceMetadata) {};
        return 0;
}

/* Did this create move its instance into place before it died or was killed? Then instances/NAME holds
 * the metadata this create wrote, byte for byte: its created-at is this create's own, to the µs. A
 * directory there for any other reason (a broken instance's, say) is never taken over. */
static bool create_moved_into_place(Operation *o) {
        _cleanup_free_ char *path = NULL, *want = NULL, *have = NULL;
        size_t n;

        if (o->kind == OPERATION_IMPORT)
                return create_take_imported_metadata(o) >= 0;

        if (instance_metadata_to_json(o->create.md, &want) < 0 ||
            asprintf(&path, "%s/%s/" METADATA_FILE, o->manager->instances_dir, o->instance_name) < 0)
                return false;
        if (read_full_file(path, METADATA_SIZE_MAX, &have, &n) < 0)
                return false;
        return n == strlen(want) && memcmp(have, want, n) == 0;
}

int create_add_instance(Operation *o, InstanceMetadata *md) {
        Instance *i;
        int r;

        assert(o);

        r = instance_new(o->manager, md, &i);
        if (r < 0) {
                operation_fail(o, r, "Failed to set up instance '%s': %s", o->instance_name, strerror(-r));
                return r;
        }
        manager_add_instance(o->manager, i);
        o->instance = instance_ref(i);
        return 0;
}

static void on_create_exited(Operation *o, int error, const char *message) {
        Manager *m = o->manager;
        Instance *i;
        int r;

        if (error != 0 && create_moved_into_place(o)) {
                log_info("Create of '%s' finished before it %s.", o->instance_name,
                         o->step == OPERATION_STEP_CANCELLED ? "was cancelled" : "failed");
                error = 0;
        }
        if (error != 0) {
                create_cleanup_staging(m, o->instance_name);
                if (o->step == OPERATION_STEP_CANCELLED)
                        operation_finish_errno(o, -ECANCELED, o->kind == OPERATION_IMPORT ? "Import was cancelled." :
                                                                                         "Create was cancelled.");
                else if (o->kind == OPERATION_IMPORT)
                        operation_fail(o, error, "%s", message ?: "out of memory");
                else
                        operation_fail(o, error, "Failed to create instance '%s': %s", o->instance_name,
                                       message ?: "out of memory");
                return;
        }
        manager_release_name(m, o->instance_name);
        if (o->kind == OPERATION_IMPORT) {
                r = create_take_imported_metadata(o);
                if (r < 0) {
                        operation_fail(o, r, "Failed to read the metadata of imported instance '%s': %s",
                                       o->instance_name, strerror(-r));
                        return;
                }
        }
        r = create_add_instance(o, o->create.md);
        if (r < 0)
                return;
        i = o->instance;
        /* The new instance is not locked by the operation that made it: named here. */
        instance_log_operation(i, o, o->kind == OPERATION_IMPORT ? INSTANCE_EVENT_IMPORTED : INSTANCE_EVENT_CREATED,
                               "Instance '%s' %s.", i->name, o->kind == OPERATION_IMPORT ? "imported" : "created");
        operation_finish(o, NULL, NULL);
}

static void create_cancel(Operation *o) {
        if (!o->worker)
                return;
        /* The template runs in the worker's process group (it called setsid()): kill all of it. The
         * worker is our unreaped child, so its pid cannot have been reused. */
        (void) kill(-o->worker->pid, SIGKILL);
        operation_mark_cancelled(o);
}

static WorkerPlacement create_placement(Manager *m, const InstanceMetadata *md, const char *json) {
        return (WorkerPlacement) {
                .final_lxcpath = m->instances_dir,
                .metadata_json = json,
                .idmap_uid = md->idmap.uid,
                .idmap_gid = md->idmap.gid,
                .idmap_count = md->idmap.count,
        };
}

int create_spawn(Manager *m, Operation *o, WorkerRequest *req, const int *fds, size_t n_fds, InstanceMetadata *md) {
        const char *name = ASSERT_PTR(o)->instance_name;
        _cleanup_free_ char *json = NULL;
        int r;

        assert(m);
        assert(IN_SET(o->kind, OPERATION_CREATE, OPERATION_IMPORT));
        assert(req);
        assert(IN_SET(req->verb, WORKER_VERB_CREATE, WORKER_VERB_IMPORT));
        assert(md);

        r = instance_metadata_to_json(md, &json);
        if (r < 0)
                return r;
        req->lxcpath = m->staging_dir;
        req->name = name;
        *(req->verb == WORKER_VERB_CREATE ? &req->create.placement : &req->import.placement) =
                create_placement(m, md, json);

        r = manager_reserve_name(m, name, md->idmap.count > 0 ? &md->idmap : NULL, md->owner);
        if (r < 0)
                return r;
        *o->create.md = *md;
        *md = (InstanceMetadata) {};
        o->step = OPERATION_STEP_WORK;
        o->cancel = create_cancel;
        o->cancelable = true;
        operation_set_progress(o, 0.0, o->kind == OPERATION_IMPORT ? "importing" : "creating");
        r = operation_spawn_worker(o, req, fds, n_fds, on_create_exited);
        if (r < 0) {
                manager_release_name(m, name);
                return r;
        }
        return 0;
}

int create_instance(Manager *m, Operation *o, const char *template, char **template_args, InstanceMetadata *md) {
        WorkerRequest req = {
                .verb = WORKER_VERB_CREATE,
                .create.template = template,
                .create.template_args = template_args,
        };

        assert(o);
        assert(o->kind == OPERATION_CREATE);
        assert(template);

        return create_spawn(m, o, &req, NULL, 0, md);
}
