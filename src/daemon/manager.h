/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-name-owner.h"
#include "forward.h"
#include "limiter.h"
#include "macro.h"
#include "metadata.h"
#include "subid.h"

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
#define INSTANCES_PER_OWNER_MAX LXCBUS_INSTANCES_MAX     /* no more can exist anyway */
#define OPERATIONS_FINISHED_MAX 128      /* bounds GetManagedObjects (bus-limits.h) */

/* What the model tells whoever shows it (the bus faces; a unit test): called after the model changed,
 * never to ask anything. Any may be NULL. */
struct ManagerHooks {
        void (*instance_added)(Instance *i);        /* once the manager is ready */
        void (*instance_removed)(Instance *i);
        void (*operation_added)(Operation *o);
        void (*operation_finished)(Operation *o);   /* after its properties were flushed */
        void (*operation_removed)(Operation *o);    /* right before it is freed */
        void (*process_running)(Operation *o);      /* exec: the process runs (pid, pty master set) */
        void (*process_exited)(Operation *o);
        void (*flush)(Manager *m);                  /* send the changes of what is dirty, and clean it */
        void (*done)(Manager *m);                   /* the manager is being freed: drop what you hold */
};

#define MANAGER_HOOK(m, hook, ...)                                      \
        do {                                                            \
                if ((m)->hooks && (m)->hooks->hook)                     \
                        (m)->hooks->hook(__VA_ARGS__);                  \
        } while (0)

struct Manager {
        sd_event *event;
        sd_bus *bus;                /* for scope.c and auth-dbus.c, which call systemd and polkit */
        const ManagerHooks *hooks;
        char *bus_address;
        char *state_dir;
        char *runtime_dir;
        char *worker_path;
        char *instances_dir;
        char *staging_dir;

        Instance *instances;        /* sorted by name */
        unsigned n_instances;
        Instance *find_hint;        /* manager_find_instance_by_path(): the last found, while linked */
        Operation *operations;      /* newest first */
        uint64_t next_operation_id;
        Limiter operation_limits;
        Limiter wait_limits;
        unsigned max_instances;     /* --max-instances */
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
        Worker *spare_workers[3];   /* a start and two exec workers forked ahead of need (worker.c) */

        AuthQuery *auth_queries;    /* polkit checks pending (or answered, not yet consumed) */
        unsigned n_auth_queries;
        uint64_t auth_cancellation_counter;
        uint64_t last_incarnation;  /* of instances: the last one given out */
        uint64_t polkit_timeout_usec;

        char *systemd_owner;        /* unique name of org.freedesktop.systemd1: its signals are believed */

        char *machined_owner;       /* unique name of org.freedesktop.machine1; NULL: not on the bus */

        NameOwnerWatch systemd_watch, machined_watch;   /* what follows the two owners */
};

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
/* Loads the instances, adopts the running ones, cleans staging/. The bus faces are set up after. */
int manager_startup(Manager *m);
/* Marks the manager ready: from now on changes are sent. */
void manager_set_ready(Manager *m);
void manager_mark_dirty(Manager *m);
void manager_flush_changes(Manager *m);
void manager_add_instance(Manager *m, Instance *i);
Instance *manager_find_instance(Manager *m, const char *name);
Instance *manager_find_instance_by_path(Manager *m, const char *path);
bool manager_name_reserved(Manager *m, const char *name);
/* Reserves the name, and the ids of idmap (may be NULL) until the name is released. */
int manager_reserve_name(Manager *m, const char *name, const InstanceIdmap *idmap, uid_t owner);
void manager_release_name(Manager *m, const char *name);
/* Instances of owner, and creates in flight for it. */
unsigned manager_instances_of(Manager *m, uid_t owner);
/* The subordinate ids of every instance and running create: uid and gid ranges of each. */
int manager_used_subids(Manager *m, SubIdRange **ret, size_t *ret_n);
/* What an instance's config and snapshots count against LXCBUS_INSTANCES_DATA_MAX (bus-limits.h). */
size_t instance_data_size(const InstanceMetadata *md);
/* Whether the instances' configs and snapshots stay within LXCBUS_INSTANCES_DATA_MAX when one of them goes
 * from old to new bytes (a new one: from 0 to LXCBUS_INSTANCE_DATA_MAX); creates under way count at their
 * most. Shrinking always fits. */
bool manager_data_fits(Manager *m, size_t old, size_t new);
