/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "auth-details.h"
#include "config.h"
#include "macro.h"
#include "metadata.h"
#include "subid.h"
#include "worker-proto.h"

typedef struct Manager Manager;
typedef struct Instance Instance;
typedef struct Operation Operation;
typedef struct Worker Worker;
typedef struct ScopeJob ScopeJob;
typedef struct Console Console;
typedef struct AuthQuery AuthQuery;
typedef struct Waiter Waiter;

/* ---- worker.c: one exec'd lxcbusd-worker, watched by pidfd, talking over a seqpacket socket ---- */

typedef struct WorkerHandlers {
        void (*message)(Worker *w, const WorkerMessage *msg, void *userdata);
        /* Called once, after the last message was read. error is the "result" errno, or -ECHILD style
         * negative value when the worker died without reporting (killed, crashed). */
        void (*exited)(Worker *w, int error, const char *message, void *userdata);
} WorkerHandlers;

struct Worker {
        Manager *manager;
        pid_t pid;
        int fd;
        int received_fds[2];        /* fds that came with the message being handled */
        sd_event_source *pid_source;
        sd_event_source *io_source;
        const WorkerHandlers *handlers;
        void *userdata;
        bool got_result;
        bool exited;
        bool abandoned;
        Worker *next;               /* in the manager's list of abandoned workers */
        int result_error;
        char *result_message;
};

/* Runs a worker for req (see worker-proto.h); fds[i] becomes fd WORKER_FD + 1 + i in it. */
int worker_spawn(Manager *m, const WorkerRequest *req, const int *fds, size_t n_fds, const WorkerHandlers *h,
                 void *userdata, Worker **ret);
int worker_send(Worker *w, const char *msg);
void worker_kill(Worker *w, int sig);
/* Signals it and lets it go: it is reaped and freed when it exits, with no callback. */
void worker_abandon(Worker *w, int sig);
/* Frees without calling the exit handler; the process is left to run (its exit is then never seen by
 * anyone but PID 1) unless it was killed first. */
Worker *worker_free(Worker *w);

/* ---- scope.c: transient scope units through systemd, asynchronously ---- */

typedef void (*scope_done_t)(Manager *m, int error, const char *message, void *userdata);
int scope_start(Manager *m, const char *unit, pid_t pid, const ConfigMap *config, scope_done_t done, void *userdata,
                ScopeJob **ret);
/* Stops the scope and waits until systemd removed it (success if it is gone already). */
int scope_stop(Manager *m, const char *unit, scope_done_t done, void *userdata, ScopeJob **ret);
void scope_job_cancel(ScopeJob *j);
int scope_kill(Manager *m, const char *unit, int sig);
int scope_set_limits(Manager *m, const char *unit, const ConfigMap *config);
int scope_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *error);
void scope_cleanup_cgroups(const char *unit);
int cgroup_freezer_set(const char *unit, const char *name, bool freeze);
int cgroup_freezer_get(const char *unit, const char *name);
int scope_find_running(const char *unit, const char *name, pid_t *ret_monitor, pid_t *ret_init, bool *ret_frozen);
int scope_read_figures(const char *unit, uint64_t *ret_memory, uint64_t *ret_cpu_ns, uint64_t *ret_tasks);

/* ---- operation.c ---- */

/* A resource callers share: at most max in all, of which the last reserve only root may take, and
 * per_uid for any one uid (root included). The daemon's own work takes no slot: it is bounded by the
 * number of instances (one lock each). */
typedef struct Limiter {
        const char *what;           /* "operations running", for the error message */
        unsigned max, reserve, per_uid;
        unsigned n, n_users;        /* taken, and of those by uids other than root */
        struct LimiterUid {
                uid_t uid;
                unsigned n;
        } *uids;
        size_t n_uids;
} Limiter;

/* 0 and a slot, or LimitsExceeded set in error. */
int limiter_take(Limiter *l, uid_t uid, sd_bus_error *error);
void limiter_put(Limiter *l, uid_t uid);
unsigned limiter_count(const Limiter *l, uid_t uid);
void limiter_done(Limiter *l);

/* A Wait() or Process.Wait() call: dropped when its caller leaves the bus. */
struct Waiter {
        Operation *operation;
        Waiter *next;
        sd_bus_message *call;
        sd_bus_track *track;
        uid_t uid;
        bool process;
};

typedef enum OperationKind {
        OPERATION_CREATE,
        OPERATION_START,
        OPERATION_STOP,
        OPERATION_RESTART,
        OPERATION_DELETE,
        OPERATION_FREEZE,
        OPERATION_UNFREEZE,
        OPERATION_EXEC,
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

/* What the method call that started an operation gets as its reply. */
typedef enum OperationReply {
        OPERATION_REPLY_OP,         /* (o operation) */
        OPERATION_REPLY_INSTANCE_OP, /* (o instance, o operation) */
        OPERATION_REPLY_NONE,       /* () */
        OPERATION_REPLY_PTY_OP,     /* (h master, o process) */
} OperationReply;

enum {
        OPERATION_PROP_STATUS = 1 << 0,
        OPERATION_PROP_PROGRESS = 1 << 1,
        OPERATION_PROP_STAGE = 1 << 2,
        OPERATION_PROP_FINISHED = 1 << 3,
        OPERATION_PROP_CANCELABLE = 1 << 4,
        OPERATION_PROP_ERROR = 1 << 5,
        OPERATION_PROP_PROCESS = 1 << 6,    /* org.lxcbus1.Process: Pid, ExitStatus, ExitSignal */
};

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
        int progress_valid;
        char *stage;
        uint64_t bytes, rate;
        int cancelable;
        char *error_name, *error_message;

        sd_bus_message *request;    /* the call to answer at completion, unless async */
        OperationReply reply;
        Waiter *waiters;            /* Wait() and Process.Wait() calls */
        unsigned n_waiters;

        /* the running work */
        Worker *worker;
        ScopeJob *scope_job;
        sd_event_source *timeout_source;
        sd_event_source *linger_source;
        int step;
        unsigned timeout_sec;
        bool force;
        bool escalated;             /* stop: the scope was killed after the timeout */
        uint64_t deadline;          /* freeze: CLOCK_MONOTONIC µs */
        int pending_error;          /* start: given up, finishing once the monitor is gone */
        char *pending_message;

        /* exec: the org.lxcbus1.Process side */
        pid_t exec_pid;
        int exec_pidfd;             /* from the worker, whose unreaped child it is: signals go here */
        int exit_status;            /* -1 while running, or when killed by a signal */
        int exit_signal;
        bool exited;
        char **command;
        sd_bus_track *track;        /* kill-on-disconnect: the caller */
        int pty_master;             /* ExecPty: until the call is answered */
        unsigned attempts;
        bool counted;               /* holds a slot of manager->operation_limits */
        InstanceMetadata *create_md; /* create: the metadata of the new instance */
        void (*cancel)(Operation *o);
        uint32_t dirty;
        bool exported;
};

const char *operation_kind_to_string(OperationKind k);
const char *operation_status_to_string(OperationStatus s);
int operation_new(Manager *m, OperationKind kind, Instance *i, const char *instance_name, sd_bus_message *request,
                  OperationReply reply, bool async, Operation **ret, sd_bus_error *error);
/* Finishes: error NULL means success. Sends replies, signals, and starts the linger timer. */
void operation_finish(Operation *o, const char *error_name, const char *error_message);
void operation_finish_errno(Operation *o, int error, const char *message);
void operation_set_progress(Operation *o, double progress, const char *stage);
Operation *operation_free(Operation *o);
Operation *manager_find_operation(Manager *m, uint64_t id);
int operation_reply_to(Operation *o, sd_bus_message *call, bool async);
int operation_wait(Operation *o, sd_bus_message *call);
int operation_send_early_reply(Operation *o);
int process_wait(Operation *o, sd_bus_message *call);
void process_exited(Operation *o, int status, int sig);
int process_send_signal(Operation *o, int sig);

/* ---- instance.c ---- */

typedef enum InstanceState {
        INSTANCE_STOPPED,
        INSTANCE_STARTING,
        INSTANCE_RUNNING,
        INSTANCE_STOPPING,
        INSTANCE_FROZEN,
        INSTANCE_ERROR,
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

enum {
        INSTANCE_PROP_STATE = 1 << 0,
        INSTANCE_PROP_PID = 1 << 1,
        INSTANCE_PROP_UNIT = 1 << 2,
        INSTANCE_PROP_CONFIG = 1 << 3,
        INSTANCE_PROP_LAST_USED = 1 << 4,
};

struct Instance {
        unsigned n_ref;
        Manager *manager;
        Instance *next;
        char *name;
        char *path;
        char *unit_name;            /* lxcbus-<name>.scope, always set */
        uint64_t incarnation;       /* unique in this daemon's life, never reused: names are */
        InstanceState state;
        pid_t pid;
        bool has_unit;
        ScopeJob *scope_stop_job;   /* the scope of a stopped instance is being removed */
        bool scope_owned;           /* we created the scope (or adopted it): ours to stop */
        InstanceMetadata md;
        /* Why its lxcbus.json did not load: the instance is listed as "error", owned by root, with an
         * empty config, and only Delete works. NULL for every other instance. */
        char *load_error;

        Worker *monitor;            /* the start worker that is the LXC monitor, if we spawned it */
        pid_t pending_init;         /* reported by the start-host hook, not executed yet */
        sd_event_source *exec_wait;
        uint64_t exec_deadline;
        unsigned exec_checks;
        pid_t monitor_pid;
        int monitor_pidfd;
        int init_pidfd;             /* init, held once it runs: Kill() signals it here, never a reused pid */
        sd_event_source *monitor_source;

        Operation *lock;            /* the operation that holds the instance lock */
        Console *consoles;          /* terminals handed out by OpenConsole */
        unsigned n_console_calls;   /* OpenConsole workers running */
        uint32_t dirty;
        bool linked;                /* in the manager's list and on the bus */
};

const char *instance_state_to_string(InstanceState s);
InstanceState instance_state_from_string(const char *s);

int instance_new(Manager *m, InstanceMetadata *md, Instance **ret);
/* An instance directory whose metadata did not load: listed as "error", so it neither vanishes nor
 * leaves its name and files to the next create of that name. */
int instance_new_broken(Manager *m, const char *name, const char *why, Instance **ret);
Instance *instance_ref(Instance *i);
Instance *instance_unref(Instance *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Instance *, instance_unref);
Instance *manager_find_instance(Manager *m, const char *name);
void instance_set_state(Instance *i, InstanceState s);
int instance_save_metadata(Instance *i);
int instance_adopt_running(Instance *i);
void instance_unlink(Instance *i);

int instance_start(Instance *i, Operation *o);
int instance_stop(Instance *i, Operation *o);
int instance_delete(Instance *i, Operation *o);
int instance_freeze(Instance *i, Operation *o, bool freeze);
int instance_kill(Instance *i, int sig, bool all);
int instance_exec(Instance *i, Operation *o, char **argv, char **env, const char *cwd, uid_t uid, gid_t gid,
                  const int fds[3], unsigned rows, unsigned cols);
int exec_kill_on_disconnect(Operation *o, sd_bus_message *call);
int manager_create_instance(Manager *m, Operation *o, const char *name, const char *template, char **template_args,
                            InstanceMetadata *md);

/* ---- console.c ---- */

Console *console_free(Console *c);
void instance_release_consoles(Instance *i);
int method_open_console(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_console_log(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* ---- manager.c ---- */

/* Operations (and OpenConsole calls in flight) of callers: 64 in all, the last 16 of them root's
 * alone, so that users together never block root's Stop or Delete; 16 for any one uid. */
#define OPERATIONS_MAX 64
#define OPERATIONS_ROOT_RESERVE 16
#define OPERATIONS_PER_UID_MAX 16
/* Pending Wait() and Process.Wait() calls: each costs a match on the bus, to drop it when its caller
 * leaves. 64 per operation, 32 per uid, 256 in all of which 64 are root's. */
#define WAITS_MAX 256
#define WAITS_ROOT_RESERVE 64
#define WAITS_PER_UID_MAX 32
#define WAITS_PER_OPERATION_MAX 64
/* Instances (and creates in flight) one non-root owner may have: --max-instances-per-owner. Each
 * idmapped one holds a block of 65536 subordinate ids, and disk space. */
#define INSTANCES_PER_OWNER_DEFAULT 16
#define INSTANCES_PER_OWNER_MAX 512     /* LXCBUS_INSTANCES_MAX: no more can exist anyway */
#define OPERATIONS_FINISHED_MAX 128      /* bounds GetManagedObjects (bus-limits.h) */

struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *bus_address;
        char *state_dir;
        char *runtime_dir;
        char *worker_path;
        char *instances_dir;
        char *staging_dir;

        Instance *instances;
        unsigned n_instances;
        Operation *operations;
        uint64_t next_operation_id;
        Limiter operation_limits;
        Limiter wait_limits;
        unsigned max_instances_per_owner;
        uint64_t operation_linger_usec;

        /* Names (and the subordinate ids of idmapped ones) reserved by running creates. */
        struct Reservation {
                char *name;
                SubIdRange ids;     /* count 0: privileged */
                uid_t owner;
        } *creating;
        size_t n_creating;
        uid_t subid_uid;            /* uid of user lxcbus (numeric lines in /etc/subuid), or -1 */
        ScopeJob *scope_jobs;

        sd_event_source *flush_source;
        bool dirty_instances, dirty_operations;
        bool ready;
        Worker *abandoned_workers;

        AuthQuery *auth_queries;    /* polkit checks pending (or answered, not yet consumed) */
        unsigned n_auth_queries;
        uint64_t auth_cancellation_counter;
        uint64_t last_incarnation;  /* of instances: the last one given out */
        uint64_t polkit_timeout_usec;

        char *systemd_owner;        /* unique name of org.freedesktop.systemd1: its signals are believed */
        unsigned max_instances;     /* --max-instances */
};

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
int manager_startup(Manager *m);
void manager_mark_dirty(Manager *m);
void manager_flush_changes(Manager *m);
void manager_add_instance(Manager *m, Instance *i);
bool manager_name_reserved(Manager *m, const char *name);
/* Reserves the name, and the ids of idmap (may be NULL) until the name is released. */
int manager_reserve_name(Manager *m, const char *name, const InstanceIdmap *idmap, uid_t owner);
/* Instances of owner, and creates in flight for it. */
unsigned manager_instances_of(Manager *m, uid_t owner);
/* The subordinate ids of every instance and running create: uid and gid ranges of each. */
int manager_used_subids(Manager *m, SubIdRange **ret, size_t *ret_n);
void manager_release_name(Manager *m, const char *name);

/* ---- *-dbus.c ---- */

extern const sd_bus_vtable manager_vtable[];
extern const sd_bus_vtable instance_vtable[];
extern const sd_bus_vtable operation_vtable[];
extern const sd_bus_vtable process_vtable[];
int process_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error);
int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error);
int instance_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int operation_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                          sd_bus_error *error);
int operation_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
int manager_bus_register(Manager *m);
int manager_bus_setup_trust(Manager *m);
void instance_emit_changes(Instance *i);
void operation_emit_changes(Operation *o);

/* ---- auth.c ---- */

/* Caller identity and authorization (polkit). bus_authorize*() return 1 when the call may go ahead,
 * 0 when the answer is pending (the handler returns 1 without replying and is called again with the
 * same message once polkit has allowed it; a refusal is answered for it), < 0 or an error set when
 * refused. Check arguments before, act after. i: the instance the call acts on (its name and owner go into
 * the details, and the answer is bound to it), NULL for none. request: what the call asks, for the details
 * (auth-details.h); NULL for nothing beyond the verb, instance and owner. */
int bus_authorize_full(Manager *m, sd_bus_message *message, Instance *i, const AuthRequest *request,
                       sd_bus_error *error);
int bus_authorize(sd_bus_message *message, Instance *i, sd_bus_error *error);
int bus_get_sender_uid(sd_bus_message *m, uid_t *ret);
const char *bus_auth_action(const char *interface, const char *member, bool *ret_found);
bool bus_auth_table_get(size_t k, const char **ret_interface, const char **ret_member, const char **ret_action);
void auth_queries_free(Manager *m);
