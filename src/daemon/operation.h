/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "forward.h"
#include "macro.h"
#include "metadata.h"
#include "rate.h"
#include "worker-proto.h"

/* An operation: one verb on one instance, from the call that asked for it to its result, then kept
 * for a while (operation_linger_usec) for whoever asks how it went. The model of org.lxcbus1.Operation
 * and, for exec, org.lxcbus1.Process; operation-dbus.c answers their calls and sends their signals. */

typedef enum OperationKind {
        OPERATION_CREATE,
        OPERATION_START,
        OPERATION_STOP,
        OPERATION_RESTART,
        OPERATION_DELETE,
        OPERATION_FREEZE,
        OPERATION_UNFREEZE,
        OPERATION_EXEC,
        OPERATION_PUSH_FILE,
        OPERATION_PULL_FILE,
        OPERATION_SNAPSHOT,
        OPERATION_RESTORE_SNAPSHOT,
        OPERATION_DELETE_SNAPSHOT,
        OPERATION_COPY,
        OPERATION_EXPORT,
        OPERATION_IMPORT,           /* a create from a tarball: uses .create */
        OPERATION_RENAME,           /* the hostname step after the rename on disk */
        OPERATION_START_AUTOSTART,  /* of the manager, no instance: starts others (autostart.c) */
        OPERATION_STOP_ALL,         /* of the manager, no instance: stops every running one (autostart.c) */
        _OPERATION_KIND_MAX,
        _OPERATION_KIND_INVALID = -EINVAL,
} OperationKind;

typedef enum OperationStatus {
        OPERATION_RUNNING,
        OPERATION_SUCCESS,
        OPERATION_FAILURE,
        OPERATION_CANCELLED,
        _OPERATION_STATUS_MAX,
        _OPERATION_STATUS_INVALID = -EINVAL,
} OperationStatus;

/* The end of an operation's worker (operation_spawn_worker()): o->worker is freed already. error is 0 or a
 * negative errno; message is the worker's (NULL only when out of memory), valid until the return. */
typedef void (*OperationWorkerExited)(Operation *o, int error, const char *message);

/* Where a running operation is: what the event that comes next means to it. */
typedef enum OperationStep {
        OPERATION_STEP_NONE,
        OPERATION_STEP_START_SCOPE,     /* waiting for systemd to realize the scope */
        OPERATION_STEP_START_RUNNING,   /* waiting for the start-host hook */
        OPERATION_STEP_STOP,            /* waiting for the stop worker and the monitor's exit */
        OPERATION_STEP_DESTROY,         /* waiting for the delete worker */
        OPERATION_STEP_WORK,            /* a single worker or check: create, freeze, unfreeze, exec */
        OPERATION_STEP_CANCELLED,       /* create, push-file, pull-file: signalled on Cancel(), waiting for the
                                         * worker's exit */
} OperationStep;

/* Which properties changed since they were last sent. */
enum {
        OPERATION_PROP_STATUS = 1 << 0,
        OPERATION_PROP_PROGRESS = 1 << 1,
        OPERATION_PROP_STAGE = 1 << 2,
        OPERATION_PROP_FINISHED = 1 << 3,
        OPERATION_PROP_CANCELABLE = 1 << 4,
        OPERATION_PROP_ERROR = 1 << 5,
        OPERATION_PROP_PROCESS = 1 << 6,    /* org.lxcbus1.Process: Pid, ExitStatus, ExitSignal */
        OPERATION_PROP_BYTES = 1 << 7,      /* Bytes, Rate */
};

/* Start, stop, restart and delete: the lifecycle steps of instance.c. */
typedef struct OperationLifecycle {
        unsigned timeout_sec;
        bool force;
        bool escalated;             /* stop: the scope was killed after the timeout */
        int pending_error;          /* start: given up, finishing once the monitor is gone */
        char *pending_message;
} OperationLifecycle;

/* A wait for an instance's freezer (freeze.c): Freeze and Unfreeze, and the hold of Copy, Snapshot and
 * Export with allow-running, which keep their source frozen while their worker reads it. Not in the union
 * below: a held Copy or Snapshot uses .storage too. */
typedef struct OperationFreeze {
        uint64_t deadline;          /* CLOCK_MONOTONIC µs */
        unsigned attempts;
        bool freeze;                /* waiting for frozen (false: thawed) */
        Instance *instance;         /* whose freezer; a hold's is a ref */
        void (*done)(Operation *o, int error);
        bool hold;                  /* a hold: thawed and forgotten when the operation finishes */
        void (*ready)(Operation *o, int error);   /* a hold's: frozen, or not */
        int fd;                     /* a held Export: the caller's fd (the call's message owns it) */
} OperationFreeze;

typedef struct OperationCreate {
        InstanceMetadata *md;       /* of the new instance */
} OperationCreate;

/* The org.lxcbus1.Process side of an exec. */
typedef struct OperationExec {
        char **argv;
        pid_t pid;
        int pidfd;                  /* from the worker, whose unreaped child it is: signals go here */
        int exit_status;            /* -1 while running, or when killed by a signal */
        int exit_signal;
        bool exited;
        bool want_pty;              /* ExecPty */
        int pty_master;             /* ExecPty: until the call is answered */
} OperationExec;

/* Snapshot, RestoreSnapshot, DeleteSnapshot and Copy (snapshot.c). */
typedef struct OperationStorage {
        char *snapshot;             /* the snapshot's name (copy: the one copied from, or NULL) */
        char *entry;                /* what the copy worker fills, in staging/ */
        char *source_dir;           /* what it copies */
        Instance *source;           /* copy: ref, locked by this operation until it finishes */
        InstanceMetadata *md;       /* copy: of the new instance */
} OperationStorage;

/* StartAutostart and StopAll (autostart.c): operations of the manager that run one Start or Stop
 * operation per instance, their children. */
typedef struct OperationGroup {
        Instance **instances;       /* refs, in the order they are handled */
        int *results;               /* per instance: AUTOSTART_* of autostart.c */
        uint64_t *children;         /* per instance: the id of its Start or Stop, 0 for none */
        size_t n;
        size_t first, next;         /* autostart: the priority being started, [first, next) */
        unsigned n_running;         /* children not finished */
        unsigned timeout_sec;       /* of each child */
        bool force;                 /* stop-all: kill at once */
        bool launching;             /* children are being begun: a finish does not move on yet */
        uint64_t deadline;          /* stop-all: CLOCK_MONOTONIC µs, when a busy instance is killed */
} OperationGroup;

struct Operation {
        Manager *manager;
        Operation *next;
        uint64_t id;
        char *path;
        OperationKind kind;
        OperationStatus status;
        Instance *instance;         /* ref; NULL for a create until it succeeded */
        char *instance_name;
        char *instance_path;
        uid_t uid;
        uint64_t created_at, finished_at;
        double progress;
        bool progress_valid;
        char *stage;
        uint64_t bytes, rate;
        RateWindow rate_window;     /* of bytes, for rate */
        bool bytes_valid;           /* the work counts bytes: Bytes and Rate mean something */
        bool cancelable;
        char *error_name, *error_message;
        uint32_t dirty;             /* OPERATION_PROP_* */
        uint32_t throttled;         /* OPERATION_PROP_* of progress, waiting for throttle_source */
        uint64_t throttle_last;     /* CLOCK_MONOTONIC µs: when throttled changes last went out */
        sd_event_source *throttle_source;
        bool counted;               /* holds a slot of manager->operation_limits */

        /* The running work. */
        OperationStep step;
        Worker *worker;
        OperationWorkerExited worker_exited;
        ScopeJob *scope_job;
        sd_event_source *timeout_source;
        sd_event_source *linger_source;
        void (*cancel)(Operation *o);

        union {                     /* by kind */
                OperationLifecycle lifecycle;
                OperationCreate create;
                OperationExec exec;
                OperationStorage storage;
                struct {                    /* Export */
                        int export_compression;     /* a WorkerCompression */
                        bool export_snapshots;
                };
                OperationGroup group;       /* StartAutostart, StopAll */
        };
        Operation *parent;          /* the StartAutostart or StopAll that began this one, told when it finishes */

        OperationCall *call;        /* the bus face's: the call to answer and its waiters */
        OperationFreeze freeze;
};

DECLARE_STRING_TABLE_LOOKUP(operation_kind, OperationKind);
DECLARE_STRING_TABLE_LOOKUP(operation_status, OperationStatus);

/* A new running operation of uid on instance i (NULL for a create, named instance_name). counted: it
 * takes a slot of the manager's operation limits, -EUSERS when there is none (the caller checked with
 * limiter_check() for the reason); the daemon's own work is not counted. */
int operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name, uid_t uid, bool counted,
                  Operation **ret);
Operation *operation_free(Operation *o);
Operation *manager_find_operation(Manager *m, uint64_t id);

/* Finishes: error_name NULL means success. The bus face answers the call and the waiters, and the
 * linger timer starts. */
void operation_finish(Operation *o, const char *error_name, const char *error_message);
/* The same with an error name for a negative errno (0: success). */
void operation_finish_errno(Operation *o, int error, const char *message);
void operation_fail(Operation *o, int error, const char *format, ...) _printf_(3, 4);
/* Progress (0..1, else unchanged) and Stage (NULL: unchanged). Sent throttled, as operation_set_bytes(). */
void operation_set_progress(Operation *o, double progress, const char *stage);
/* The bytes the work moved so far (never less than before: Bytes is monotonic), and, if total > 0, its
 * size: Progress becomes done/total. Rate is bytes per second over the last seconds. Progress, Stage,
 * Bytes and Rate of a running operation go out at most every OPERATION_THROTTLE_USEC; what waits goes
 * with the next immediate change, at the latest with the Status of operation_finish(). */
void operation_set_bytes(Operation *o, uint64_t done, uint64_t total);
/* Spawns o's worker for req as o->worker (worker_spawn(); fds[k] becomes its fd WORKER_FD + 1 + k): its
 * "progress" and "bytes" messages move o, and at its exit o->worker is freed and exited called. */
int operation_spawn_worker(Operation *o, const WorkerRequest *req, const int *fds, size_t n_fds,
                           OperationWorkerExited exited);
/* Properties to send at once (with whatever progress waits for the throttle). */
void operation_mark_dirty(Operation *o, uint32_t props);
/* Cancel() was called and the worker signalled: no second Cancel, and the exit handler knows why. */
void operation_mark_cancelled(Operation *o);
/* An o->cancel for work whose worker leaves only what its exit handler cleans up: SIGKILL to it. */
void operation_cancel_worker(Operation *o);
/* Arms the operation's one timer (replacing it): a deadline may fire up to a tenth late. */
int operation_arm_timeout(Operation *o, uint64_t usec, sd_event_time_handler_t handler);
