/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Export and import (transfer.h). An import is a create whose worker extracts the caller's tarball into
 * the empty rootfs instead of running a template: create.c does the reservation, staging, cancel and
 * cleanup. An export is a worker that reads the instance: it holds the lock, so nothing starts it, changes
 * its config or deletes it meanwhile. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>

#include "create.h"
#include "freeze.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "transfer.h"
#include "util.h"
#include "worker.h"

/* The caller's fd is the worker's now. The call's message holds a copy until the operation stops
 * lingering, and a copy of a pipe's end keeps its peer from seeing EOF (an export) or unblocking a writer
 * that the import no longer reads: replace it by /dev/null under the same number, which the message then
 * closes as its own. */
static void transfer_drop_fd(int fd) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);

        if (null < 0 || dup3(null, fd, O_CLOEXEC) < 0)
                log_warning_errno(errno, "Failed to drop the transfer fd, ignoring: %m");
        safe_close(null);
}

static void on_export_exited(Operation *o, int error, const char *message) {
        if (o->step == OPERATION_STEP_CANCELLED) {
                operation_finish_errno(o, -ECANCELED, "Export was cancelled.");
                return;
        }
        if (error != 0) {
                operation_fail(o, error, "%s", message ?: "Export failed.");
                return;
        }
        instance_log(o->instance, INSTANCE_EVENT_EXPORTED, "Instance '%s' exported.", o->instance_name);
        operation_set_progress(o, 1.0, "exported");
        operation_finish(o, NULL, NULL);
}

/* The export worker; the caller's fd is the worker's once it runs. */
static int export_spawn(Operation *o) {
        Instance *i = o->instance;
        int fd = o->freeze.fd, r;

        WorkerRequest req = {
                .verb = WORKER_VERB_EXPORT,
                .lxcpath = i->manager->instances_dir,
                .name = i->name,
                .export_ = {
                        .compression = o->export_compression,
                        .idmap_uid = i->md.idmap.uid,
                        .idmap_gid = i->md.idmap.gid,
                        .idmap_count = i->md.idmap.count,
                        .snapshots = o->export_snapshots,
                },
        };
        o->step = OPERATION_STEP_WORK;
        o->cancel = operation_cancel_worker;   /* it only reads the instance */
        o->cancelable = true;
        operation_mark_dirty(o, OPERATION_PROP_CANCELABLE);
        operation_set_progress(o, 0.0, "exporting");
        r = operation_spawn_worker(o, &req, &fd, 1, on_export_exited);
        if (r >= 0)
                transfer_drop_fd(fd);
        return r;
}

/* allow-running: the instance is frozen now, or failed to. */
static void export_on_frozen(Operation *o, int error) {
        if (error >= 0)
                error = export_spawn(o);
        if (error == -ETIMEDOUT)
                operation_fail(o, error, "Failed to export '%s': it did not freeze within %" PRIu64 " s.",
                               o->instance_name, FREEZE_TIMEOUT_USEC / USEC_PER_SEC);
        else if (error < 0)
                operation_fail(o, error, "Failed to start the export of '%s': %s", o->instance_name,
                               strerror(-error));
}

int transfer_export(Instance *i, Operation *o, int fd, WorkerCompression compression, bool snapshots,
                    bool allow_running) {
        int r;

        assert(i);
        assert(o);
        assert(fd >= 0);

        instance_lock(i, o);
        o->export_compression = compression;
        o->export_snapshots = snapshots;
        o->freeze.fd = fd;      /* the call's message keeps it open until the operation is gone */
        if (allow_running && i->state == INSTANCE_RUNNING) {
                freeze_hold(i, o, export_on_frozen);
                return 0;
        }
        r = export_spawn(o);
        if (r < 0)
                instance_unlock(i, o);
        return r;
}

int transfer_import(Manager *m, Operation *o, int fd, InstanceMetadata *md) {
        WorkerRequest req = { .verb = WORKER_VERB_IMPORT };
        int r;

        assert(o);
        assert(o->kind == OPERATION_IMPORT);
        assert(fd >= 0);

        r = create_spawn(m, o, &req, &fd, 1, md);
        if (r < 0)
                return r;
        transfer_drop_fd(fd);
        return 0;
}
