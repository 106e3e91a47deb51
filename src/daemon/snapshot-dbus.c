/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The methods of org.lxcbus1.Instance that keep and move an instance's data: Snapshot, RestoreSnapshot,
 * DeleteSnapshot, Rename, Copy, and the Snapshots property (snapshot-dbus.h). Each reads and checks its
 * arguments, asks polkit, checks the state and calls the model (snapshot.c). */
#include <assert.h>
#include <inttypes.h>

#include "auth-dbus.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "bus-options.h"
#include "instance.h"
#include "instance-dbus.h"
#include "manager.h"
#include "manager-dbus.h"
#include "names.h"
#include "operation.h"
#include "operation-dbus.h"
#include "snapshot-dbus.h"
#include "snapshot.h"
#include "util.h"

int property_get_snapshots(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const InstanceMetadata *md = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(st)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < md->n_snapshots; k++) {
                r = sd_bus_message_append(reply, "(st)", md->snapshots[k].name, md->snapshots[k].created_at);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int invalid_name(const char *what, const char *name, sd_bus_error *error) {
        char qbuf[80];

        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_NAME,
                                 "Invalid %s name%s: 1 to 63 characters of a-z, A-Z, 0-9 and '-', starting with a "
                                 "letter, not ending with '-'.", what, instance_name_for_message(name, qbuf));
}

/* What Snapshot, RestoreSnapshot, DeleteSnapshot, Rename, Copy and Export do once their call is read: ask
 * polkit, learn the caller's uid, then check that nothing else holds the instance, it is not broken, and
 * it is stopped (DESIGN.md's table; any_state: DeleteSnapshot leaves the rootfs alone and works in any
 * state; running_too: Copy, Export and Snapshot with allow-running also take a running one, which they
 * freeze). 1: go on; 0: polkit's answer is pending (the handler returns 1); < 0 (error set): refused. */
int bus_authorize_stopped(sd_bus_message *message, Instance *i, const char *verb, bool any_state,
                          bool running_too, uid_t *ret_uid, sd_bus_error *error) {
        int r;

        assert(message);
        assert(i);
        assert(verb);
        assert(ret_uid);

        r = bus_authorize_operation(message, i, NULL, ret_uid, error);
        if (r <= 0)
                return r;
        if (i->load_error ||
            (!any_state && i->state != INSTANCE_STOPPED && !(running_too && i->state == INSTANCE_RUNNING)))
                return bus_error_invalid_state(i, verb, error);
        if (running_too && i->state == INSTANCE_RUNNING) {
                r = bus_check_running_tree(i, verb, error);
                if (r < 0)
                        return r;
        }
        return 1;
}

int bus_check_running_tree(Instance *i, const char *verb, sd_bus_error *error) {
        assert(i);
        assert(verb);

        /* Its layers are mounted by the instance itself: a worker's second mount of them is undefined. */
        if (i->md.overlay_instance)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED,
                                         "Cannot %s instance '%s' while it runs: it is an overlay clone, whose "
                                         "layers only its own mount may use. Stop it first.", verb, i->name);
        return 0;
}

/* A snapshot that is an overlay clone's lower layer stays as it is, where it is: it is not deleted, and
 * its instance is neither renamed nor deleted (snapshot NULL: any of its snapshots). */
int bus_check_no_overlay_user(Instance *i, const char *snapshot, const char *verb, sd_bus_error *error) {
        Instance *u;

        assert(i);
        assert(verb);

        u = snapshot_overlay_user(i->manager, i->name, snapshot);
        if (!u)
                return 0;
        return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY,
                                 "Cannot %s '%s': its snapshot '%s' is the lower layer of overlay clone '%s'. "
                                 "Delete the clone first.", verb, i->name, u->md.overlay_snapshot, u->name);
}

/* Snapshot: name is free and one more snapshot is allowed; RestoreSnapshot, DeleteSnapshot: it exists. */
static int check_snapshot_name(Instance *i, OperationKind kind, const char *name, sd_bus_error *error) {
        int r;

        if (kind != OPERATION_SNAPSHOT) {
                if (!instance_metadata_find_snapshot(&i->md, name))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Instance '%s' has no snapshot '%s'.", i->name, name);
                return 0;
        }
        r = snapshot_check_new(i, name);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, LXCBUS_ERROR_CONFLICT, "Instance '%s' has a snapshot '%s' already.",
                                         i->name, name);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Instance '%s' has %u snapshots, the most allowed.", i->name,
                                         LXCBUS_SNAPSHOTS_MAX);
        if (r == -ENOSPC)
                return bus_error_instances_data(i, error);
        return r;
}

static int snapshot_common(sd_bus_message *message, Instance *i, OperationKind kind, sd_bus_error *error) {
        const char *verb = operation_kind_to_string(kind), *name;
        int async = 0, allow_running = 0, r;
        Operation *o;
        uid_t uid;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        /* Only Snapshot reads the rootfs of a running instance; the others change it or its snapshots. */
        r = bus_read_options(message, (const BusOption[]) {
                        { "async", "b", &async },
                        { kind == OPERATION_SNAPSHOT ? "allow-running" : NULL, "b", &allow_running },
                        {} }, error);
        if (r < 0)
                return r;
        if (!instance_name_is_valid(name))
                return invalid_name("snapshot", name, error);
        r = bus_authorize_stopped(message, i, verb, kind == OPERATION_DELETE_SNAPSHOT, allow_running, &uid,
                                  error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_snapshot_name(i, kind, name, error);
        if (r < 0)
                return r;
        if (kind == OPERATION_DELETE_SNAPSHOT) {
                r = bus_check_no_overlay_user(i, name, "delete a snapshot of", error);
                if (r < 0)
                        return r;
        }

        r = bus_operation_new(i->manager, kind, i, i->name, message, uid, OPERATION_REPLY_OP, async, &o, error);
        if (r < 0)
                return r;
        if (kind == OPERATION_SNAPSHOT)
                snapshot_create(i, o, name, allow_running);
        else if (kind == OPERATION_RESTORE_SNAPSHOT)
                snapshot_restore(i, o, name);
        else
                snapshot_delete(i, o, name);
        return bus_operation_reply(o, message, async);
}

int method_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return snapshot_common(message, userdata, OPERATION_SNAPSHOT, error);
}

int method_restore_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return snapshot_common(message, userdata, OPERATION_RESTORE_SNAPSHOT, error);
}

int method_delete_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return snapshot_common(message, userdata, OPERATION_DELETE_SNAPSHOT, error);
}

int method_rename(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *old = NULL;
        Instance *i = userdata;
        const char *name;
        Operation *o;
        uid_t uid;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!instance_name_is_valid(name))
                return invalid_name("instance", name, error);
        r = bus_authorize_stopped(message, i, "rename", false, false, &uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* Checked before the rename: the operation that follows it must not fail for want of a slot. */
        r = bus_limiter_check(&i->manager->operation_limits, uid, error);
        if (r < 0)
                return r;
        r = bus_check_no_overlay_user(i, NULL, "rename", error);
        if (r < 0)
                return r;
        old = strdup(i->name);
        if (!old)
                return -ENOMEM;
        r = instance_rename(i, name);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INSTANCE_EXISTS, "Instance '%s' already exists.", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to rename instance '%s' to '%s': %m", old, name);
        /* The removal and the addition go out before the reply, which comes once /etc/hostname followed. */
        manager_flush_changes(i->manager);
        r = bus_operation_new(i->manager, OPERATION_RENAME, i, i->name, message, uid, OPERATION_REPLY_NONE, false,
                              &o, error);
        if (r < 0)
                return r;
        instance_rename_hostname(i, o, old);
        return bus_operation_reply(o, message, false);
}

/* Copy's options, read before polkit. */
typedef struct CopyCall {
        char *snapshot;
        int ephemeral, async, allow_running;
        bool overlay;               /* option "clone": "overlay" (else "copy", the default) */
        ConfigMap config;
} CopyCall;

static void copy_call_done(CopyCall *c) {
        free(c->snapshot);
        config_map_done(&c->config);
}

typedef struct CopyOptions {
        CopyCall *call;
        sd_bus_error *error;
} CopyOptions;

/* One of Copy's options (bus_read_dict()): every key known, each of its type. */
static int read_copy_option(sd_bus_message *message, const char *k, void *userdata) {
        CopyOptions *o = userdata;
        CopyCall *c;
        sd_bus_error *error;
        const char *v;
        int r;

        assert(o);
        c = o->call;
        error = o->error;

        if (streq(k, "snapshot")) {
                r = sd_bus_message_read(message, "v", "s", &v);
                if (r >= 0 && !(c->snapshot = strdup(v)))
                        r = -ENOMEM;
        } else if (streq(k, "ephemeral"))
                r = sd_bus_message_read(message, "v", "b", &c->ephemeral);
        else if (streq(k, "async"))
                r = sd_bus_message_read(message, "v", "b", &c->async);
        else if (streq(k, "allow-running"))
                r = sd_bus_message_read(message, "v", "b", &c->allow_running);
        else if (streq(k, "clone")) {
                r = sd_bus_message_read(message, "v", "s", &v);
                if (r >= 0 && !streq(v, "copy") && !streq(v, "overlay"))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'clone' is 'copy' or 'overlay'.");
                if (r >= 0)
                        c->overlay = streq(v, "overlay");
        }
        else if (streq(k, "config")) {
                r = sd_bus_message_enter_container(message, 'v', "a{ss}");
                if (r >= 0)
                        r = bus_read_config(message, &c->config, error);
                if (r >= 0)
                        r = sd_bus_message_exit_container(message);
        } else
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%s'.", k);
        if (r == -ENXIO || r == -EINVAL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' has the wrong type.", k);
        return r < 0 ? r : 1;
}

static int read_copy_options(sd_bus_message *message, CopyCall *c, sd_bus_error *error) {
        return bus_read_dict(message, read_copy_option, &(CopyOptions) { .call = c, .error = error });
}

/* Copy's new name and options, read and checked as far as they can be without the source. */
static int read_copy_call(sd_bus_message *message, const char **ret_name, CopyCall *c, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read(message, "s", ret_name);
        if (r < 0)
                return r;
        r = read_copy_options(message, c, error);
        if (r < 0)
                return r;
        if (!instance_name_is_valid(*ret_name))
                return invalid_name("instance", *ret_name, error);
        if (c->snapshot && !instance_name_is_valid(c->snapshot))
                return invalid_name("snapshot", c->snapshot, error);
        /* The lower layer must never change under the clone: a snapshot, which nothing writes. */
        if (c->overlay && !c->snapshot)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "An overlay clone is made of a snapshot, its read-only lower layer: name one "
                                        "with option 'snapshot'.");
        if (config_map_get(&c->config, "security.privileged"))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "A copy cannot set 'security.privileged': it is privileged when the source "
                                         "is and root copies it.");
        return 0;
}

/* The new instance's metadata: the source's config with the overrides, owned by the caller, its own
 * idmap block when the caller is not root or the source is idmapped. */
static int copy_metadata(Instance *src, const char *name, uid_t uid, CopyCall *c, InstanceMetadata *md,
                         sd_bus_error *error) {
        Manager *m = src->manager;
        int r;

        r = bus_check_instance_room(m, "copy to instance", name, error);
        if (r < 0)
                return r;
        r = config_map_copy(&src->md.config, &md->config);
        if (r < 0)
                return r;
        /* A volatile key: two instances on one bridge with one MAC address would fight over it. The copy
         * gets its own from its creation time (hwaddr_derive()), unless the caller gives one. */
        (void) config_map_unset(&md->config, "network.hwaddr");
        for (size_t k = 0; k < c->config.n; k++) {
                r = config_map_set(&md->config, c->config.entries[k].key, c->config.entries[k].value);
                if (r == -E2BIG)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG, "Too many config keys (%u at most).",
                                                 CONFIG_KEYS_MAX);
                if (r < 0)
                        return r;
        }
        if (config_map_stored_size(&md->config) > LXCBUS_CONFIG_TOTAL_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG, "The config of instance '%s' is too large.",
                                         name);
        return bus_prepare_new_instance(m, name, uid, uid == 0 && src->md.idmap.count == 0, c->ephemeral, md, error);
}

int method_copy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(copy_call_done) CopyCall c = {};
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        Instance *src = userdata;
        const char *name;
        Operation *o;
        uid_t uid;
        int r;

        r = read_copy_call(message, &name, &c, error);
        if (r < 0)
                return r;
        /* The details name the source and its owner: a rule that lets owners do what they like with their
         * instances lets them copy those. */
        r = bus_authorize_stopped(message, src, "copy", false, c.allow_running, &uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (c.snapshot && !instance_metadata_find_snapshot(&src->md, c.snapshot))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Instance '%s' has no snapshot '%s'.",
                                         src->name, c.snapshot);
        r = copy_metadata(src, name, uid, &c, &md, error);
        if (r < 0)
                return r;
        /* An idmapped clone would see the lower layer's files owned by the source's ids, not its own. */
        if (c.overlay && md.idmap.count > 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED,
                                         "An overlay clone of '%s' would be unprivileged, and the files of its lower "
                                         "layer are not its own: overlay clones are root's clones of privileged "
                                         "instances. Make a full copy ('clone': 'copy').", src->name);

        r = bus_operation_new(src->manager, OPERATION_COPY, NULL, name, message, uid, OPERATION_REPLY_INSTANCE_OP,
                              c.async, &o, error);
        if (r < 0)
                return r;
        r = c.overlay ? instance_clone_overlay(src, o, c.snapshot, &md)
                      : instance_copy(src, o, c.snapshot, &md, c.allow_running);
        if (r < 0) {
                operation_fail(o, r, "Failed to start the copy of '%s': %s", src->name, strerror(-r));
                if (c.async)
                        return sd_bus_error_set_errnof(error, r, "Failed to copy instance '%s': %m", src->name);
                return 1;
        }
        return bus_operation_reply(o, message, c.async);
}
