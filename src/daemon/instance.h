/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "events.h"
#include "forward.h"
#include "machined.h"
#include "macro.h"
#include "metadata.h"

/* An instance: its metadata (lxcbus.json), its state, and the lifecycle steps that change it. Every
 * step that may take time runs in a worker; every change of state is learnt from an event (a worker's
 * message, the pidfd of the LXC monitor). */

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

/* Which properties changed since they were last sent. */
enum {
        INSTANCE_PROP_STATE = 1 << 0,
        INSTANCE_PROP_PID = 1 << 1,
        INSTANCE_PROP_UNIT = 1 << 2,
        INSTANCE_PROP_CONFIG = 1 << 3,
        INSTANCE_PROP_LAST_USED = 1 << 4,
        INSTANCE_PROP_SNAPSHOTS = 1 << 5,   /* and Generation */
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

        Operation *lock;            /* the operation that holds the instance: instance_lock() */
        Console *consoles;          /* terminals handed out by OpenConsole */
        unsigned n_console_calls;    /* OpenConsole workers running */
        uint32_t dirty;             /* INSTANCE_PROP_* */
        bool linked;                /* in the manager's list (and so on the bus) */

        MachineRegistration machine;    /* with systemd-machined (machined.c) */
        sd_bus_slot *machine_slot;      /* its call in flight */

        bool stop_told;                 /* its Stop was answered before the scope was gone */
        bool init_gone;                 /* init had exited when the monitor did (instance_on_stopped()) */
};

DECLARE_STRING_TABLE_LOOKUP(instance_state, InstanceState);

int instance_new(Manager *m, InstanceMetadata *md, Instance **ret);
/* An instance directory whose metadata did not load: listed as "error", so it neither vanishes nor
 * leaves its name and files to the next create of that name. */
int instance_new_broken(Manager *m, const char *name, const char *why, Instance **ret);
Instance *instance_ref(Instance *i);
Instance *instance_unref(Instance *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Instance *, instance_unref);
void instance_unlink(Instance *i);
void instance_set_state(Instance *i, InstanceState s);
void instance_mark_dirty(Instance *i, uint32_t props);
int instance_save_metadata(Instance *i);
/* An event of the instance in the journal (events.h): its MESSAGE_ID, name and verb, and the number
 * and uid of the operation that caused it: o, or for instance_log() the one holding the instance. */
void instance_log_operation(Instance *i, const Operation *o, InstanceEvent e, const char *format, ...)
        _printf_(4, 5);
#define instance_log(i, e, ...) instance_log_operation((i), (i)->lock, (e), __VA_ARGS__)

/* The lock: one operation at a time changes an instance. instance_busy() says why none can take it
 * now; instance_lock() takes it for o (again, for a restart's second half), and the operation
 * releases it with instance_unlock() when it finishes or is freed. */
typedef enum InstanceBusy {
        INSTANCE_IDLE,
        INSTANCE_BUSY_OPERATION,    /* i->lock holds it */
        INSTANCE_BUSY_SCOPE_STOP,   /* the scope of the last stop is being removed */
        INSTANCE_BUSY_TRANSITION,   /* starting or stopping without an operation (adopted, ephemeral) */
} InstanceBusy;

InstanceBusy instance_busy(const Instance *i);
void instance_lock(Instance *i, Operation *o);
void instance_unlock(Instance *i, Operation *o);

/* What instance_check_bootable() found as /sbin/init; -ENOEXEC when the instance cannot boot: its rootfs
 * has none. */
enum {
        INSTANCE_INIT_OTHER = 0,
        INSTANCE_INIT_SYSTEMD = 1,   /* the start sets it up (docs/architecture.md, "systemd inside") */
};
int instance_check_bootable(Instance *i);
int instance_adopt_running(Instance *i);
/* At startup, for an instance not running whose scope has cgroups (scope_list_cgroups()). */
void instance_clean_stale_scope(Instance *i);

/* The lifecycle: each takes the lock for o and finishes o when done (or at once on failure). */
void instance_start(Instance *i, Operation *o);
void instance_stop(Instance *i, Operation *o);
void instance_delete(Instance *i, Operation *o);
void instance_freeze(Instance *i, Operation *o, bool freeze);
/* A signal to init, or to every process of the payload (all). -ESRCH: there is none. */
int instance_kill(Instance *i, int sig, bool all);

/* SetConfig, in two steps so that nothing is written before every check passed. merge: set and unset
 * (the caller checked keys and sizes) over the config into *ret; 1 and *ret when something changes, 0
 * when nothing does; -E2BIG more than CONFIG_KEYS_MAX keys; -EFBIG over LXCBUS_CONFIG_TOTAL_MAX;
 * -ENOSPC the instances' configs and snapshots together would grow over LXCBUS_INSTANCES_DATA_MAX;
 * -EMSGSIZE the metadata would not load back (*ret_size: its size). apply: saves config as the
 * instance's, applies changed limits to a running scope, and leaves the old config in *config. */
int instance_config_merge(Instance *i, const ConfigMap *set, char **unset, ConfigMap *ret, size_t *ret_size);
int instance_config_apply(Instance *i, ConfigMap *config);
