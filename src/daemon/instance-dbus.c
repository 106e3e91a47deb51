/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.lxcbus1.Instance (instance-dbus.h): each method reads and checks its arguments, asks polkit, and
 * calls the model (instance.c, exec.c); the answer comes from the operation it starts
 * (operation-dbus.c) or at once. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "auth-dbus.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "netinfo.h"
#include "bus-options.h"
#include "cgroup.h"
#include "console-dbus.h"
#include "daemon-dbus.h"
#include "exec.h"
#include "exec-fd.h"
#include "files.h"
#include "instance.h"
#include "instance-dbus.h"
#include "log.h"
#include "manager.h"
#include "manager-dbus.h"
#include "names.h"
#include "scope-limits.h"
#include "operation-dbus.h"
#include "transfer.h"
#include "snapshot-dbus.h"
#include "util.h"

/* An instance answers only at its canonical path (instance_name_from_path() refuses any other encoding
 * of its name), so the path alone finds it, with no decoding. */
int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error) {
        *found = manager_find_instance_by_path(userdata, path);
        return *found != NULL;
}

/* ---------------------------------------------------------------- properties */

static BUS_DEFINE_PROPERTY_GET_ENUM(property_get_state, instance_state, InstanceState);

static int property_get_unit(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", i->has_unit ? i->unit_name : "");
}

static int property_get_description(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", strempty(config_map_get(userdata, "description")));
}

static int property_get_autostart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", config_autostart(userdata));
}

static int property_get_autostart_priority(sd_bus *bus, const char *path, const char *interface,
                                           const char *property, sd_bus_message *reply, void *userdata,
                                           sd_bus_error *error) {
        return sd_bus_message_append(reply, "i", (int32_t) config_autostart_priority(userdata));
}

static int property_get_config(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ConfigMap *c = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        for (size_t k = 0; k < c->n; k++) {
                r = sd_bus_message_append(reply, "{ss}", c->entries[k].key, c->entries[k].value);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Generation changes with the config and with the snapshots. */
static const BusDirtyBit instance_dirty_bits[] = {
        { INSTANCE_PROP_STATE, { "State" } },
        { INSTANCE_PROP_PID, { "Pid" } },
        { INSTANCE_PROP_UNIT, { "Unit" } },
        { INSTANCE_PROP_LAST_USED, { "LastUsedAt" } },
        { INSTANCE_PROP_CONFIG, { "Config", "Description", "Autostart", "AutostartPriority", "Generation" } },
        { INSTANCE_PROP_SNAPSHOTS, { "Snapshots", "Generation" } },
};

void instance_bus_emit_changes(Instance *i) {
        uint32_t dirty = i->dirty;

        i->dirty = 0;
        if (i->linked)
                bus_emit_dirty(i->manager->bus, i->path, "org.lxcbus1.Instance", dirty, instance_dirty_bits,
                               ELEMENTSOF(instance_dirty_bits));
}

void instance_bus_added(Instance *i) {
        (void) sd_bus_emit_object_added(i->manager->bus, i->path);
        (void) sd_bus_emit_signal(i->manager->bus, LXCBUS_PATH, "org.lxcbus1.Manager", "InstanceNew", "so", i->name,
                                  i->path);
}

void instance_bus_removed(Instance *i) {
        (void) sd_bus_emit_object_removed(i->manager->bus, i->path);
        (void) sd_bus_emit_signal(i->manager->bus, LXCBUS_PATH, "org.lxcbus1.Manager", "InstanceRemoved", "so",
                                  i->name, i->path);
}

/* ---------------------------------------------------------------- lifecycle methods */

int bus_error_instances_data(Instance *i, sd_bus_error *error) {
        return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                 "Instance '%s' cannot grow: the configs and snapshots of all instances together "
                                 "are at their bound (%u bytes).", i->name, LXCBUS_INSTANCES_DATA_MAX);
}

int bus_error_busy(Instance *i, sd_bus_error *error) {
        switch (instance_busy(i)) {
        case INSTANCE_IDLE:
                return 0;
        case INSTANCE_BUSY_OPERATION:
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is busy with operation %" PRIu64 " (%s).",
                                         i->name, i->lock->id, operation_kind_to_string(i->lock->kind));
        case INSTANCE_BUSY_SCOPE_STOP:
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is being cleaned up after its stop.",
                                         i->name);
        case INSTANCE_BUSY_TRANSITION:
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is %s.", i->name,
                                         instance_state_to_string(i->state));
        }
        assert_not_reached();
}

int bus_authorize_operation(sd_bus_message *message, Instance *i, const AuthRequest *request, uid_t *ret_uid,
                            sd_bus_error *error) {
        int r;

        assert(message);
        assert(i);
        assert(ret_uid);

        r = bus_authorize_full(i->manager, message, i, request, error);
        if (r <= 0)
                return r;
        r = bus_get_sender_uid(message, ret_uid);
        if (r < 0)
                return r;
        r = bus_error_busy(i, error);
        return r < 0 ? r : 1;
}

int bus_error_invalid_state(Instance *i, const char *verb, sd_bus_error *error) {
        if (i->load_error)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Cannot %s instance '%s': it is broken, %s. Only Delete works.", verb,
                                         i->name, i->load_error);
        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Cannot %s instance '%s': it is %s.", verb, i->name,
                                 instance_state_to_string(i->state));
}

/* The options a lifecycle method takes, and what it read of them. */
enum {
        CALL_TIMEOUT = 1 << 0,
        CALL_FORCE = 1 << 1,
        CALL_ASYNC = 1 << 2,
};

typedef struct LifecycleCall {
        unsigned timeout_sec;
        bool timeout_set;
        int force, async;
        uid_t uid;
} LifecycleCall;

/* What Start, Stop, Restart, Delete, Freeze and Unfreeze do first: read the options named by which,
 * ask polkit (auth: the details, NULL for none beyond the verb; auth_of() fills them from the options),
 * and check that no other operation holds the instance. 1: go on; 0: polkit's answer is pending (the
 * handler returns 1); < 0 (error set): refused. */
static int lifecycle_begin(sd_bus_message *message, Instance *i, unsigned which, LifecycleCall *c,
                           void (*auth_of)(const LifecycleCall *c, AuthRequest *ret), sd_bus_error *error) {
        AuthRequest auth = {};
        int r;

        if (which != 0) {       /* Freeze and Unfreeze take no options at all */
                BusOption options[4] = {};
                size_t n = 0;

                if (which & CALL_TIMEOUT)
                        options[n++] = (BusOption) { "timeout-sec", "u", &c->timeout_sec, &c->timeout_set };
                if (which & CALL_FORCE)
                        options[n++] = (BusOption) { "force", "b", &c->force };
                if (which & CALL_ASYNC)
                        options[n++] = (BusOption) { "async", "b", &c->async };
                r = bus_read_options(message, options, error);
                if (r < 0)
                        return r;
        }
        if (c->timeout_set && c->timeout_sec > TIMEOUT_SEC_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'timeout-sec' is too large (%u at most).",
                                         TIMEOUT_SEC_MAX);
        if (auth_of)
                auth_of(c, &auth);
        return bus_authorize_operation(message, i, auth_of ? &auth : NULL, &c->uid, error);
}

/* The operation of Start, Stop, Restart or Delete on i, held by the caller, answered with its path. */
static int lifecycle_operation_new(sd_bus_message *message, Instance *i, OperationKind kind, const LifecycleCall *c,
                                   Operation **ret, sd_bus_error *error) {
        return bus_operation_new(i->manager, kind, i, i->name, message, c->uid, OPERATION_REPLY_OP, c->async, ret,
                                 error);
}

/* A call that has nothing to do gets a finished, successful operation, as systemctl start does. */
static int reply_noop(sd_bus_message *message, Instance *i, OperationKind kind, const LifecycleCall *c,
                      sd_bus_error *error) {
        Operation *o;
        int r;

        r = lifecycle_operation_new(message, i, kind, c, &o, error);
        if (r < 0)
                return r;
        operation_set_progress(o, 1.0, "nothing to do");
        operation_finish(o, NULL, NULL);
        return bus_operation_reply(o, message, c->async);
}

static int method_start(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        LifecycleCall c = { .timeout_sec = DEFAULT_START_TIMEOUT_SEC };
        Instance *i = userdata;
        Operation *o;
        int r;

        r = lifecycle_begin(message, i, CALL_TIMEOUT | CALL_ASYNC, &c, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->state == INSTANCE_RUNNING)
                return reply_noop(message, i, OPERATION_START, &c, error);
        if (i->state != INSTANCE_STOPPED)
                return bus_error_invalid_state(i, "start", error);
        r = instance_check_bootable(i);
        if (r == -ENOEXEC)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED,
                                         "Instance '%s' cannot boot: its rootfs has no /sbin/init.", i->name);
        if (r < 0)
                return r;

        r = lifecycle_operation_new(message, i, OPERATION_START, &c, &o, error);
        if (r < 0)
                return r;
        o->lifecycle.timeout_sec = c.timeout_sec ?: DEFAULT_START_TIMEOUT_SEC;
        instance_start(i, o);
        return bus_operation_reply(o, message, c.async);
}

/* force as a rule sees it: also a timeout of 0, which kills at once */
static void stop_auth(const LifecycleCall *c, AuthRequest *ret) {
        *ret = (AuthRequest) { .force = c->force || c->timeout_sec == 0, .timeout_sec = c->timeout_sec };
}

static int stop_like(sd_bus_message *message, Instance *i, OperationKind kind, sd_bus_error *error) {
        LifecycleCall c = { .timeout_sec = DEFAULT_STOP_TIMEOUT_SEC };
        Operation *o;
        int r;

        r = lifecycle_begin(message, i, CALL_TIMEOUT | CALL_FORCE | CALL_ASYNC, &c, stop_auth, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (kind == OPERATION_STOP && i->state == INSTANCE_STOPPED)
                return reply_noop(message, i, kind, &c, error);
        if (i->state == INSTANCE_FROZEN && !c.force)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Instance '%s' is frozen: unfreeze it first, or pass force.", i->name);
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN, INSTANCE_STOPPED))
                return bus_error_invalid_state(i, operation_kind_to_string(kind), error);

        r = lifecycle_operation_new(message, i, kind, &c, &o, error);
        if (r < 0)
                return r;
        o->lifecycle.timeout_sec = c.timeout_sec;
        o->lifecycle.force = c.force || i->state == INSTANCE_FROZEN || (kind == OPERATION_RESTART && c.timeout_sec == 0);
        instance_stop(i, o);
        if (kind == OPERATION_RESTART)
                o->lifecycle.timeout_sec = DEFAULT_START_TIMEOUT_SEC;
        return bus_operation_reply(o, message, c.async);
}

static int method_stop(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return stop_like(message, userdata, OPERATION_STOP, error);
}

static int method_restart(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return stop_like(message, userdata, OPERATION_RESTART, error);
}

static void delete_auth(const LifecycleCall *c, AuthRequest *ret) {
        *ret = (AuthRequest) { .force = c->force };
}

static int method_delete(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        LifecycleCall c = {};
        Instance *i = userdata;
        Operation *o;
        int r;

        r = lifecycle_begin(message, i, CALL_FORCE | CALL_ASYNC, &c, delete_auth, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->load_error) {
                pid_t monitor, init;
                bool frozen;

                /* Without its metadata nothing can stop it properly: whoever runs it must. */
                if (scope_find_running(i->unit_name, i->name, &monitor, &init, &frozen) >= 0)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                                 "Cannot delete instance '%s': it is broken (%s) and still runs "
                                                 "in %s; stop that unit first.", i->name, i->load_error,
                                                 i->unit_name);
        } else if (i->state != INSTANCE_STOPPED && !c.force)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Instance '%s' is %s: stop it first, or pass force.", i->name,
                                         instance_state_to_string(i->state));
        r = bus_check_no_overlay_user(i, NULL, "delete", error);
        if (r < 0)
                return r;

        r = lifecycle_operation_new(message, i, OPERATION_DELETE, &c, &o, error);
        if (r < 0)
                return r;
        o->lifecycle.force = c.force;
        instance_delete(i, o);
        return bus_operation_reply(o, message, c.async);
}

static int freeze_like(sd_bus_message *message, Instance *i, bool freeze, sd_bus_error *error) {
        LifecycleCall c = {};
        Operation *o;
        int r;

        r = lifecycle_begin(message, i, 0, &c, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->state == (freeze ? INSTANCE_FROZEN : INSTANCE_RUNNING))
                return sd_bus_reply_method_return(message, NULL);
        if (i->state != (freeze ? INSTANCE_RUNNING : INSTANCE_FROZEN))
                return bus_error_invalid_state(i, freeze ? "freeze" : "unfreeze", error);

        r = bus_operation_new(i->manager, freeze ? OPERATION_FREEZE : OPERATION_UNFREEZE, i, i->name, message, c.uid,
                              OPERATION_REPLY_NONE, false, &o, error);
        if (r < 0)
                return r;
        instance_freeze(i, o, freeze);
        return 1;
}

static int method_freeze(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return freeze_like(message, userdata, true, error);
}

static int method_unfreeze(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return freeze_like(message, userdata, false, error);
}

static int method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        int32_t sig;
        int all, r;

        r = sd_bus_message_read(message, "ib", &sig, &all);
        if (r < 0)
                return r;
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %" PRIi32 ".", sig);
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .signal = sig, .all = all }, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN) || i->pid <= 0)
                return bus_error_invalid_state(i, "kill", error);
        r = instance_kill(i, sig, all);
        if (r == -ESRCH && !all)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Cannot kill instance '%s': its init has exited, it is stopping.", i->name);
        if (r < 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to send signal %" PRIi32 " to instance '%s': %s",
                                         sig, i->name, strerror(-r));
        return sd_bus_reply_method_return(message, NULL);
}

static int create_only_key(Instance *i, const char *key, sd_bus_error *error) {
        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                 "Config key '%s' of instance '%s' is fixed when the instance is created.", key, i->name);
}

static int config_too_large(Instance *i, sd_bus_error *error) {
        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                 "The config of instance '%s' would be too large (%u bytes at most, keys and values "
                                 "together).", i->name, LXCBUS_CONFIG_TOTAL_MAX);
}

/* SetConfig's keys to set and unset, checked as far as they can be without the instance's config. */
static int read_config_change(sd_bus_message *message, Instance *i, ConfigMap *set, char ***unset,
                              sd_bus_error *error) {
        size_t unset_size = 0;
        int r;

        r = bus_read_config(message, set, error);
        if (r < 0)
                return r;
        if (config_map_stored_size(set) > LXCBUS_CONFIG_TOTAL_MAX)
                return config_too_large(i, error);
        for (size_t k = 0; k < set->n; k++)
                if (config_key_is_create_only(set->entries[k].key))
                        return create_only_key(i, set->entries[k].key, error);
        r = sd_bus_message_read_strv(message, unset);
        if (r < 0)
                return r;
        if (strv_length(*unset) > CONFIG_KEYS_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Too many keys to unset.");
        STRV_FOREACH(k, *unset)
                unset_size += config_string_stored_size(*k);
        if (unset_size > LXCBUS_CONFIG_TOTAL_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "The keys to unset are too large (%u bytes at most).", LXCBUS_CONFIG_TOTAL_MAX);
        STRV_FOREACH(k, *unset) {
                _cleanup_free_ char *msg = NULL;
                if (config_key_validate(*k, &msg) < 0)
                        return sd_bus_error_set(error, LXCBUS_ERROR_INVALID_CONFIG, msg ?: "Invalid config key.");
                if (config_key_is_create_only(*k))
                        return create_only_key(i, *k, error);
                if (config_map_get(set, *k))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Config key '%s' is both set and unset.", *k);
        }
        return 0;
}

/* Limits this host cannot apply (scope-limits.h): NotSupported, or InvalidConfig for CPUs it lacks. */
int bus_check_limits(const ConfigMap *config, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        int r;

        r = limits_check_host(config, &msg);
        if (r < 0 && msg)
                return sd_bus_error_set(error, r == -EOPNOTSUPP ? LXCBUS_ERROR_NOT_SUPPORTED : LXCBUS_ERROR_INVALID_CONFIG,
                                        msg);
        return r < 0 ? r : 1;
}

static int method_set_config(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(config_map_done) ConfigMap set = {}, merged = {};
        _cleanup_strv_free_ char **unset = NULL;
        Instance *i = userdata;
        uint64_t expected = 0;
        bool expected_set = false;
        int r;

        r = read_config_change(message, i, &set, &unset, error);
        if (r < 0)
                return r;
        const BusOption options[] = {
                { "expected-generation", "t", &expected, &expected_set },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        _cleanup_free_ char **set_keys = new0(char *, set.n + 1);
        if (!set_keys)
                return -ENOMEM;
        for (size_t k = 0; k < set.n; k++)
                set_keys[k] = set.entries[k].key;
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .set_keys = set_keys, .unset_keys = unset },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_error_busy(i, error);
        if (r < 0)
                return r;
        if (!IN_SET(i->state, INSTANCE_STOPPED, INSTANCE_RUNNING))
                return bus_error_invalid_state(i, "configure", error);
        if (expected_set && expected != i->md.generation)
                return sd_bus_error_setf(error, LXCBUS_ERROR_CONFLICT,
                                         "Instance '%s' changed: generation is %" PRIu64 ", not %" PRIu64 ".", i->name,
                                         i->md.generation, expected);

        size_t size;
        r = instance_config_merge(i, &set, unset, &merged, &size);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG, "Too many config keys (%u at most).",
                                         CONFIG_KEYS_MAX);
        if (r == -EFBIG)
                return config_too_large(i, error);
        if (r == -ENOSPC)
                return bus_error_instances_data(i, error);
        if (r == -EMSGSIZE)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "Config of instance '%s' is too large: its metadata would take %zu bytes "
                                         "(%u at most).", i->name, size, (unsigned) METADATA_SIZE_MAX);
        if (r < 0)
                return r;
        if (r > 0 && limits_config_differ(&i->md.config, &merged)) {
                r = bus_check_limits(&merged, error);
                if (r < 0)
                        return r;
        }
        if (r > 0) {
                r = instance_config_apply(i, &merged);
                if (r < 0)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to save the config of '%s': %s",
                                                 i->name, strerror(-r));
        }
        return sd_bus_reply_method_return(message, NULL);
}

/* Opens key of an a{sv} as an array of element: the caller appends the elements, then closes three. */
static int open_dict_array(sd_bus_message *reply, const char *key, const char *element) {
        char signature[16];
        int r;

        (void) snprintf(signature, sizeof signature, "a%s", element);
        r = bus_open_keyed_variant(reply, 'e', key, signature);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(reply, 'a', element);
}

/* "addresses" a(sss) and "network" a{s(tt)} of a running instance (netinfo.h); nothing when they cannot
 * be read (init gone, no namespace of its own). */
static int append_network(sd_bus_message *reply, Instance *i) {
        _cleanup_free_ NetInfo *ni = new0(NetInfo, 1);
        int r;

        if (!ni)
                return -ENOMEM;
        if (i->pid <= 0 || i->init_pidfd < 0 || netinfo_read(i->pid, i->init_pidfd, ni) < 0)
                return 0;
        r = open_dict_array(reply, "addresses", "(sss)");
        for (size_t k = 0; r >= 0 && k < ni->n_addresses; k++)
                r = sd_bus_message_append(reply, "(sss)", ni->addresses[k].ifname, ni->addresses[k].family,
                                          ni->addresses[k].address);
        if (r >= 0)
                r = bus_close_containers(reply, 3);
        if (r >= 0)
                r = open_dict_array(reply, "network", "{s(tt)}");
        for (size_t k = 0; r >= 0 && k < ni->n_links; k++)
                r = sd_bus_message_append(reply, "{s(tt)}", ni->links[k].ifname, ni->links[k].rx_bytes,
                                          ni->links[k].tx_bytes);
        if (r >= 0)
                r = bus_close_containers(reply, 3);
        return r;
}

/* GetState's a{sv}: the state and pid, the scope's figures while it has one, the network while it runs. */
static int append_state(sd_bus_message *reply, void *userdata) {
        Instance *i = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "{sv}{sv}", "state", "s", instance_state_to_string(i->state), "pid", "u",
                                  (uint32_t) i->pid);
        if (r < 0)
                return r;
        if (i->has_unit) {
                uint64_t mem, cpu, tasks;

                (void) scope_read_figures(i->unit_name, &mem, &cpu, &tasks);
                if (mem != UINT64_MAX && (r = sd_bus_message_append(reply, "{sv}", "memory-bytes", "t", mem)) < 0)
                        return r;
                if (cpu != UINT64_MAX && (r = sd_bus_message_append(reply, "{sv}", "cpu-ns", "t", cpu)) < 0)
                        return r;
                if (tasks != UINT64_MAX && (r = sd_bus_message_append(reply, "{sv}", "tasks", "u", (uint32_t) tasks)) < 0)
                        return r;
                if ((r = sd_bus_message_append(reply, "{sv}", "unit", "s", i->unit_name)) < 0)
                        return r;
        }
        if (IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN) && (r = append_network(reply, i)) < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int method_get_state(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return bus_reply_filled(message, append_state, userdata);
}

/* Only kinds of fd that give the process in the instance no way into the host (exec-fd.h). */
static int check_fd(int fd, bool want_read, const char *what, sd_bus_error *error) {
        const char *refusal;
        int fl;

        refusal = exec_fd_refusal(fd);
        if (refusal)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s is %s: " EXEC_FD_ADVICE, what,
                                         refusal);
        fl = fcntl(fd, F_GETFL) & O_ACCMODE;
        if (want_read ? fl == O_WRONLY : fl == O_RDONLY)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The %s file descriptor is not %s.", what,
                                         want_read ? "readable" : "writable");
        return 0;
}

/* What Exec and ExecPty ask for, as read from the call. */
typedef struct ExecCall {
        char **argv;
        char **env;                 /* the call's own variables */
        char *cwd, *term;
        uint32_t uid, gid, rows, cols;
        int env_clear, kill_on_disconnect;
        int fds[3];                 /* Exec: the caller's, owned by the message */
} ExecCall;

static void exec_call_done(ExecCall *c) {
        strv_free(c->argv);
        strv_free(c->env);
        FREE_MANY(c->cwd, c->term);
}

/* The command and its environment: argv and env together are bounded (bus-limits.h), before polkit
 * sees them quoted and the worker request carries them. */
static int read_exec_command(sd_bus_message *message, ExecCall *c, sd_bus_error *error) {
        const char *k, *v;
        size_t strings = 0;
        int r;

        r = sd_bus_message_read_strv(message, &c->argv);
        if (r < 0)
                return r;
        if (strv_length(c->argv) == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The command is empty.");
        if (strv_length(c->argv) > LXCBUS_EXEC_ARGV_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The command has more than %u arguments.",
                                         LXCBUS_EXEC_ARGV_MAX);
        STRV_FOREACH(a, c->argv)
                strings += strlen(*a) + 1;

        r = sd_bus_message_enter_container(message, 'a', "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "{ss}", &k, &v)) > 0) {
                if (!env_name_is_valid(k))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid environment variable name.");
                if (strv_length(c->env) >= LXCBUS_EXEC_ENV_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "The environment has more than %u variables.", LXCBUS_EXEC_ENV_MAX);
                strings += strlen(k) + 1 + strlen(v) + 1;
                if (strings > LXCBUS_EXEC_STRINGS_MAX)
                        break;
                r = strv_env_set(&c->env, k, v);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (strings > LXCBUS_EXEC_STRINGS_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "The command and environment are too large (%u bytes at most, counting "
                                         "each string and its terminating NUL).", LXCBUS_EXEC_STRINGS_MAX);
        return sd_bus_message_exit_container(message);
}

static int read_exec_options(sd_bus_message *message, bool pty, ExecCall *c, sd_bus_error *error) {
        int r;

        const BusOption options[] = {
                { "cwd", "s", &c->cwd },
                { "uid", "u", &c->uid },
                { "gid", "u", &c->gid },
                { "env-clear", "b", &c->env_clear },
                { "kill-on-disconnect", "b", &c->kill_on_disconnect },
                /* ExecPty only (the list ends here for Exec) */
                { pty ? "rows" : NULL, "u", &c->rows },
                { "cols", "u", &c->cols },
                { "term", "s", &c->term },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (c->rows == 0 || c->rows > 10000 || c->cols == 0 || c->cols > 10000)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Options 'rows' and 'cols' take 1 to 10000.");
        if (c->term && (isempty(c->term) || strlen(c->term) > 128 ||
                        strspn(c->term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._") !=
                                strlen(c->term)))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid terminal type in option 'term'.");
        if (c->cwd && c->cwd[0] != '/')
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'cwd' needs an absolute path.");
        if (c->uid == UINT32_MAX || c->gid == UINT32_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid uid or gid.");
        return 0;
}

/* Exec and ExecPty: the same but for where stdio comes from (the caller's fds, or a new pty in the
 * instance's own devpts whose master goes back to the caller). */
static int exec_common(sd_bus_message *message, Instance *i, bool pty, sd_bus_error *error) {
        _cleanup_(exec_call_done) ExecCall c = { .rows = 24, .cols = 80 };
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cwd = NULL;
        Operation *o;
        uid_t caller;
        int r;

        r = read_exec_command(message, &c, error);
        if (r < 0)
                return r;
        if (!pty) {
                r = sd_bus_message_read(message, "hhh", &c.fds[0], &c.fds[1], &c.fds[2]);
                if (r < 0)
                        return r;
                r = check_fd(c.fds[0], true, "stdin", error);
                if (r >= 0)
                        r = check_fd(c.fds[1], false, "stdout", error);
                if (r >= 0)
                        r = check_fd(c.fds[2], false, "stderr", error);
                if (r < 0)
                        return r;
        }
        r = read_exec_options(message, pty, &c, error);
        if (r < 0)
                return r;

        /* The environment and directory before asking: the rule sees where the process starts. They read
         * the config, and the answer is bound to its generation (auth-dbus.c). */
        ExecRequest req = {
                .env = c.env,
                .env_clear = c.env_clear,
                .cwd = c.cwd,
                .uid = c.uid,
                .gid = c.gid,
                .fds = pty ? NULL : c.fds,
                .rows = c.rows,
                .cols = c.cols,
                .term = c.term,
        };
        r = exec_environment(i, &req, &env, &cwd);
        if (r < 0)
                return r;
        r = bus_authorize_full(i->manager, message, i,
                               &(AuthRequest) { .argv = c.argv, .env = c.env, .env_clear = c.env_clear, .uid = c.uid,
                                                .gid = c.gid, .cwd = cwd, .term = c.term ?: "xterm" },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->state != INSTANCE_RUNNING)
                return bus_error_invalid_state(i, "run a command in", error);
        r = bus_get_sender_uid(message, &caller);
        if (r < 0)
                return r;

        r = bus_operation_new(i->manager, OPERATION_EXEC, i, i->name, message, caller,
                              pty ? OPERATION_REPLY_PTY_OP : OPERATION_REPLY_OP, false, &o, error);
        if (r < 0)
                return r;
        if (c.kill_on_disconnect) {
                r = bus_process_track_caller(o, message);
                if (r < 0) {
                        operation_finish_errno(o, r, "Failed to track the caller.");
                        return 1;
                }
        }
        req.argv = TAKE_PTR(c.argv);
        r = exec_start(i, o, &req);
        c.argv = req.argv;     /* what exec_start() did not take */
        if (r < 0)
                operation_finish_errno(o, r, "Failed to start the command.");
        return 1;
}

static int method_exec(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return exec_common(message, userdata, false, error);
}

static int method_exec_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return exec_common(message, userdata, true, error);
}

/* ---------------------------------------------------------------- files */

/* What PushFile and PullFile read of their call. The caller's fd is data, never a process's stdio, so a
 * regular file will do as well as a pipe or a socket (file_fd_refusal()). */
typedef struct FileCall {
        FileRequest req;
        int async;
} FileCall;

static int read_file_call(sd_bus_message *message, bool push, FileCall *c, sd_bus_error *error) {
        const char *refusal;
        int r;

        c->req.mode = FILES_MODE_DEFAULT;
        r = sd_bus_message_read(message, "sh", &c->req.path, &c->req.fd);
        if (r < 0)
                return r;
        if (!files_path_is_valid(c->req.path))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid path: it must be absolute, name a file (not end in '/', '.' or "
                                         "'..') and be at most %u bytes.", FILES_PATH_MAX);
        refusal = file_fd_refusal(c->req.fd, push);
        if (refusal)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The file descriptor is %s: " FILE_FD_ADVICE,
                                         refusal);

        const BusOption options[] = {
                { "async", "b", &c->async },
                /* PushFile only (the list ends here for PullFile) */
                { push ? "mode" : NULL, "u", &c->req.mode },
                { "uid", "u", &c->req.uid },
                { "gid", "u", &c->req.gid },
                { "mkdir-parents", "b", &c->req.mkdir_parents },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (c->req.mode > 07777)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'mode' takes 0 to 07777 (%u).",
                                         07777);
        return 0;
}

/* PushFile and PullFile: the same but for the direction. Exec's action: writing any file of a root-run
 * instance is as strong as running a command in it. */
static int file_common(sd_bus_message *message, Instance *i, bool push, sd_bus_error *error) {
        FileCall c = {};
        Operation *o;
        uid_t caller;
        int r;

        r = read_file_call(message, push, &c, error);
        if (r < 0)
                return r;
        r = bus_authorize_full(i->manager, message, i,
                               &(AuthRequest) { .path = c.req.path, .mode = c.req.mode, .uid = c.req.uid,
                                                .gid = c.req.gid },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (push && files_check_ids(i, c.req.uid, c.req.gid) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Instance '%s' has no uid %" PRIu32 " or gid %" PRIu32 "%s.", i->name,
                                         c.req.uid, c.req.gid,
                                         i->md.idmap.count > 0 ? " (ids beyond its idmap)" : "");
        r = bus_get_sender_uid(message, &caller);
        if (r < 0)
                return r;
        r = bus_error_busy(i, error);
        if (r < 0)
                return r;
        if (i->load_error || !IN_SET(i->state, INSTANCE_STOPPED, INSTANCE_RUNNING, INSTANCE_FROZEN))
                return bus_error_invalid_state(i, push ? "push a file into" : "pull a file out of", error);

        r = bus_operation_new(i->manager, push ? OPERATION_PUSH_FILE : OPERATION_PULL_FILE, i, i->name, message,
                              caller, OPERATION_REPLY_OP, c.async, &o, error);
        if (r < 0)
                return r;
        r = push ? files_push(i, o, &c.req) : files_pull(i, o, &c.req);
        if (r == -EOPNOTSUPP)
                operation_finish(o, LXCBUS_ERROR_NOT_SUPPORTED,
                                 "The instance is a running overlay clone whose init this daemon holds no pidfd of "
                                 "(no pidfd support): its root cannot be told from a reused pid's. Stop it first.");
        else if (r < 0)
                operation_finish_errno(o, r, "Failed to start the file copy.");
        return bus_operation_reply(o, message, c.async);
}

static int method_push_file(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return file_common(message, userdata, true, error);
}

static int method_pull_file(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return file_common(message, userdata, false, error);
}

/* Export: the whole instance as a tarball into the caller's fd, written by a worker while the operation
 * holds the instance (so it stays stopped, or, with allow-running, frozen). */
static int method_export(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *compression = NULL;
        Instance *i = userdata;
        int async = 0, allow_running = 0, snapshots = 0, fd;
        WorkerCompression c = WORKER_COMPRESSION_NONE;
        Operation *o;
        uid_t uid;
        int r;

        r = bus_read_stream_fd(message, false, &fd, error);
        if (r < 0)
                return r;
        const BusOption options[] = {
                { "compression", "s", &compression },
                { "async", "b", &async },
                { "allow-running", "b", &allow_running },
                { "snapshots", "b", &snapshots },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (compression && (c = worker_compression_from_string(compression)) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown compression '%s' (none, gzip, xz or zstd).", compression);
        r = bus_authorize_stopped(message, i, "export", false, allow_running, &uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_operation_new(i->manager, OPERATION_EXPORT, i, i->name, message, uid, OPERATION_REPLY_OP, async, &o,
                              error);
        if (r < 0)
                return r;
        r = transfer_export(i, o, fd, c, snapshots, allow_running);
        if (r < 0) {
                operation_finish_errno(o, r, "Failed to start the export.");
                if (async)
                        return sd_bus_error_set_errnof(error, r, "Failed to export instance '%s': %m", i->name);
                return 1;
        }
        return bus_operation_reply(o, message, async);
}

#define P(name, sig, get, field, flags) SD_BUS_PROPERTY(name, sig, get, offsetof(Instance, field), flags)
const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        P("Name", "s", NULL, name, SD_BUS_VTABLE_PROPERTY_CONST),
        P("State", "s", property_get_state, state, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Pid", "u", NULL, pid, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", property_get_unit, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Owner", "u", NULL, md.owner, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Ephemeral", "b", bus_property_get_bool, md.ephemeral, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Autostart", "b", property_get_autostart, md.config, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("AutostartPriority", "i", property_get_autostart_priority, md.config, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Description", "s", property_get_description, md.config, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Config", "a{ss}", property_get_config, md.config, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("CreatedAt", "t", NULL, md.created_at, SD_BUS_VTABLE_PROPERTY_CONST),
        P("LastUsedAt", "t", NULL, md.last_used_at, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        P("Generation", "t", NULL, md.generation, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation), method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation), method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restart", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation),
                                method_restart, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Freeze", NULL, NULL, method_freeze, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Unfreeze", NULL, NULL, method_unfreeze, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("i", signal, "b", all), SD_BUS_NO_RESULT, method_kill,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation), method_delete,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetConfig", SD_BUS_ARGS("a{ss}", set, "as", unset, "a{sv}", options),
                                SD_BUS_NO_RESULT, method_set_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetState", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", state), method_get_state,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Exec",
                                SD_BUS_ARGS("as", argv, "a{ss}", env, "h", stdin, "h", stdout, "h", stderr, "a{sv}",
                                            options),
                                SD_BUS_RESULT("o", process), method_exec, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_ARGS("i", tty), SD_BUS_RESULT("h", master),
                                method_open_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ConsoleLog", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("h", log),
                                method_console_log, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExecPty", SD_BUS_ARGS("as", argv, "a{ss}", env, "a{sv}", options),
                                SD_BUS_RESULT("h", master, "o", process), method_exec_pty, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PushFile", SD_BUS_ARGS("s", path, "h", fd, "a{sv}", options),
                                SD_BUS_RESULT("o", operation), method_push_file, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PullFile", SD_BUS_ARGS("s", path, "h", fd, "a{sv}", options),
                                SD_BUS_RESULT("o", operation), method_pull_file, SD_BUS_VTABLE_UNPRIVILEGED),
        /* snapshot-dbus.c */
        P("Snapshots", "a(st)", property_get_snapshots, md, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Snapshot", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_RESULT("o", operation),
                                method_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestoreSnapshot", SD_BUS_ARGS("s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", operation), method_restore_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteSnapshot", SD_BUS_ARGS("s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", operation), method_delete_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Rename", SD_BUS_ARGS("s", new_name), SD_BUS_NO_RESULT, method_rename,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Copy", SD_BUS_ARGS("s", new_name, "a{sv}", options),
                                SD_BUS_RESULT("o", instance, "o", operation), method_copy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Export", SD_BUS_ARGS("h", fd, "a{sv}", options), SD_BUS_RESULT("o", operation),
                                method_export, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
