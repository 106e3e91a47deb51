/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PushFile and PullFile (files.h): the model side. The worker resolves and copies; here the ids are
 * mapped into the instance's range, the operation holds the instance (so that neither a delete nor a
 * start moves the rootfs under the copy), and the worker's byte counts become Bytes, Rate and Progress. */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>

#include "bus-errors.h"
#include "files.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "util.h"
#include "worker.h"

/* A cancelled worker gets SIGTERM and this long to remove its temporary file before SIGKILL. */
#define FILES_CANCEL_GRACE_USEC (5 * USEC_PER_SEC)

bool files_path_is_valid(const char *path) {
        const char *base;

        if (!path || path[0] != '/' || strlen(path) > FILES_PATH_MAX)
                return false;
        base = strrchr(path, '/') + 1;
        return !isempty(base) && !streq(base, ".") && !streq(base, "..");
}

int files_check_ids(Instance *i, uint32_t uid, uint32_t gid) {
        assert(i);

        if (uid == UINT32_MAX || gid == UINT32_MAX)
                return -ERANGE;
        if (i->md.idmap.count > 0 && (uid >= i->md.idmap.count || gid >= i->md.idmap.count))
                return -ERANGE;
        return 0;
}

static void on_file_exited(Operation *o, int error, const char *message) {
        const char *what = o->kind == OPERATION_PUSH_FILE ? "push" : "pull";

        message = strempty(message);
        if (error == 0) {
                operation_finish(o, NULL, NULL);
                return;
        }
        if (o->step == OPERATION_STEP_CANCELLED || error == -ECANCELED) {
                operation_finish(o, LXCBUS_ERROR_CANCELLED, o->kind == OPERATION_PUSH_FILE ?
                                 "Push was cancelled." : "Pull was cancelled.");
                return;
        }
        /* The worker's message names the path and says what went wrong. */
        if (IN_SET(error, -ENOSYS, -EOPNOTSUPP))
                operation_finish(o, LXCBUS_ERROR_NOT_SUPPORTED, message);
        else if (error == -EPROTO)
                operation_fail(o, error, "The %s worker of '%s' died: %s", what, o->instance_name, message);
        else
                operation_finish(o, LXCBUS_ERROR_FAILED, message);
}

static int on_cancel_grace_over(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;

        if (o->worker)
                worker_kill(o->worker, SIGKILL);
        return 0;
}

/* SIGTERM: the worker stops at its next read or write (a blocked one returns) and removes its temporary
 * file. One that hangs anyway is killed. */
static void files_cancel(Operation *o) {
        if (!o->worker)
                return;
        worker_kill(o->worker, SIGTERM);
        operation_mark_cancelled(o);
        (void) operation_arm_timeout(o, FILES_CANCEL_GRACE_USEC, on_cancel_grace_over);
}

/* A running overlay clone's root: its layers are mounted in its own mount namespace only (a second mount of
 * them would be undefined). Opened through init's /proc entry, then init checked alive through the pidfd
 * held since it runs: the entry was that process's, never a reused pid's. */
static int files_open_running_root(Instance *i) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];

        if (i->init_pidfd < 0 || i->pid <= 0)
                return -EOPNOTSUPP;    /* no pidfd (valgrind): nothing proves whose root it would be */
        snprintf(path, sizeof path, "/proc/%i/root", (int) i->pid);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (pidfd_send_signal(i->init_pidfd, 0, NULL, 0) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* The worker's root: its rootfs directory, or for a running overlay clone the root opened here. */
static bool files_root_by_fd(Instance *i) {
        return i->md.overlay_instance && i->state != INSTANCE_STOPPED;
}

/* The push or pull worker of wr, which holds only the verb's own arguments: on i, with the caller's fd
 * (and the root of a running overlay clone). */
static int files_start(Instance *i, Operation *o, WorkerRequest *wr, const char *path, int fd, const char *stage) {
        _cleanup_close_ int root = -EBADF;
        int r;

        wr->lxcpath = o->manager->instances_dir;
        wr->name = i->name;

        if (files_root_by_fd(i)) {
                root = files_open_running_root(i);
                if (root < 0)
                        return root;
        }

        instance_lock(i, o);
        o->step = OPERATION_STEP_WORK;
        o->cancel = files_cancel;
        o->cancelable = true;
        operation_set_progress(o, 0.0, stage);
        o->progress_valid = false;     /* a push does not know the size; a pull says once it started */
        r = operation_spawn_worker(o, wr, (int[]) { fd, root }, root >= 0 ? 2 : 1, on_file_exited);
        if (r < 0)
                return r;
        instance_log(i, o->kind == OPERATION_PUSH_FILE ? INSTANCE_EVENT_FILE_PUSH : INSTANCE_EVENT_FILE_PULL,
                     "%s '%s' %s instance '%s'.",
                     o->kind == OPERATION_PUSH_FILE ? "Pushing" : "Pulling", path,
                     o->kind == OPERATION_PUSH_FILE ? "into" : "out of", i->name);
        return 0;
}

int files_push(Instance *i, Operation *o, const FileRequest *req) {
        const InstanceIdmap *map = &i->md.idmap;

        assert(i);
        assert(o);
        assert(o->kind == OPERATION_PUSH_FILE);
        assert(req);
        assert(files_path_is_valid(req->path));
        assert(files_check_ids(i, req->uid, req->gid) >= 0);

        /* Ids as the instance sees them, shifted into its range on the host; the directories it creates are
         * its root's. */
        WorkerRequest wr = {
                .verb = WORKER_VERB_PUSH_FILE,
                .push_file = {
                        .path = req->path,
                        .mode = req->mode & 07777,
                        .uid = map->count > 0 ? map->uid + req->uid : req->uid,
                        .gid = map->count > 0 ? map->gid + req->gid : req->gid,
                        .dir_uid = map->count > 0 ? map->uid : 0,
                        .dir_gid = map->count > 0 ? map->gid : 0,
                        .mkdir_parents = req->mkdir_parents,
                        .root_fd = files_root_by_fd(i),
                },
        };
        return files_start(i, o, &wr, req->path, req->fd, "pushing");
}

int files_pull(Instance *i, Operation *o, const FileRequest *req) {
        assert(i);
        assert(o);
        assert(o->kind == OPERATION_PULL_FILE);
        assert(req);
        assert(files_path_is_valid(req->path));

        WorkerRequest wr = {
                .verb = WORKER_VERB_PULL_FILE,
                .pull_file = { .path = req->path, .root_fd = files_root_by_fd(i) },
        };
        return files_start(i, o, &wr, req->path, req->fd, "pulling");
}
