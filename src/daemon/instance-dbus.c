/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bus-errors.h"
#include "bus-limits.h"
#include "bus-options.h"
#include "daemon.h"
#include "exec-fd.h"
#include "log.h"
#include "names.h"
#include "util.h"

#define DEFAULT_START_TIMEOUT_SEC 60
#define DEFAULT_STOP_TIMEOUT_SEC 30
#define TIMEOUT_SEC_MAX (24 * 3600)

int bus_read_config(sd_bus_message *message, ConfigMap *ret, sd_bus_error *error);

int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Instance *i;

        if (instance_name_from_path(path, &name) < 0)
                return 0;
        i = manager_find_instance(userdata, name);
        if (!i)
                return 0;
        *found = i;
        return 1;
}

int instance_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;
        size_t n = 0;

        l = calloc(m->n_instances + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Instance *i = m->instances; i; i = i->next) {
                l[n] = strdup(i->path);
                if (!l[n]) {
                        strv_free(l);
                        return -ENOMEM;
                }
                n++;
        }
        *nodes = l;
        return 1;
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", instance_state_to_string(i->state));
}

static int property_get_unit(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", i->has_unit ? i->unit_name : "");
}

static int property_get_misc(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        const char *v;

        if (streq(property, "Pid"))
                return sd_bus_message_append(reply, "u", (uint32_t) i->pid);
        if (streq(property, "Owner"))
                return sd_bus_message_append(reply, "u", (uint32_t) i->md.owner);
        if (streq(property, "Ephemeral"))
                return sd_bus_message_append(reply, "b", i->md.ephemeral);
        if (streq(property, "CreatedAt"))
                return sd_bus_message_append(reply, "t", i->md.created_at);
        if (streq(property, "LastUsedAt"))
                return sd_bus_message_append(reply, "t", i->md.last_used_at);
        if (streq(property, "Generation"))
                return sd_bus_message_append(reply, "t", i->md.generation);
        if (streq(property, "Description"))
                return sd_bus_message_append(reply, "s", strempty(config_map_get(&i->md.config, "description")));
        if (streq(property, "Autostart")) {
                bool b = false;
                v = config_map_get(&i->md.config, "boot.autostart");
                if (v)
                        (void) config_parse_bool(v, &b);
                return sd_bus_message_append(reply, "b", b);
        }
        if (streq(property, "AutostartPriority")) {
                long l = 0;
                v = config_map_get(&i->md.config, "boot.autostart.priority");
                if (v)
                        (void) config_parse_int(v, -1000, 1000, &l);
                return sd_bus_message_append(reply, "i", (int32_t) l);
        }
        return -EINVAL;
}

static int append_config(sd_bus_message *reply, const ConfigMap *c) {
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

static int property_get_config(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return append_config(reply, &i->md.config);
}

void instance_emit_changes(Instance *i) {
        const char *names[16];
        size_t n = 0;

        if (i->dirty & INSTANCE_PROP_STATE)
                names[n++] = "State";
        if (i->dirty & INSTANCE_PROP_PID)
                names[n++] = "Pid";
        if (i->dirty & INSTANCE_PROP_UNIT)
                names[n++] = "Unit";
        if (i->dirty & INSTANCE_PROP_LAST_USED)
                names[n++] = "LastUsedAt";
        if (i->dirty & INSTANCE_PROP_CONFIG) {
                names[n++] = "Config";
                names[n++] = "Description";
                names[n++] = "Autostart";
                names[n++] = "AutostartPriority";
                names[n++] = "Generation";
        }
        names[n] = NULL;
        i->dirty = 0;
        if (n > 0 && i->linked)
                (void) sd_bus_emit_properties_changed_strv(i->manager->bus, i->path, "org.lxcbus1.Instance",
                                                           (char **) names);
}

/* ---------------------------------------------------------------- lifecycle methods */

static int check_lock(Instance *i, sd_bus_error *error) {
        if (i->lock)
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is busy with operation %" PRIu64 " (%s).",
                                         i->name, i->lock->id, operation_kind_to_string(i->lock->kind));
        if (i->scope_stop_job)
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is being cleaned up after its stop.",
                                         i->name);
        if (i->state == INSTANCE_STARTING || i->state == INSTANCE_STOPPING)
                return sd_bus_error_setf(error, LXCBUS_ERROR_BUSY, "Instance '%s' is %s.", i->name,
                                         instance_state_to_string(i->state));
        return 0;
}

static int invalid_state(Instance *i, const char *verb, sd_bus_error *error) {
        if (i->load_error)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Cannot %s instance '%s': it is broken, %s. Only Delete works.", verb,
                                         i->name, i->load_error);
        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Cannot %s instance '%s': it is %s.", verb, i->name,
                                 instance_state_to_string(i->state));
}

static int parse_timeout(unsigned *timeout, bool present, sd_bus_error *error) {
        if (present && *timeout > TIMEOUT_SEC_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'timeout-sec' is too large (%u at most).",
                                         TIMEOUT_SEC_MAX);
        return 0;
}

/* A call that has nothing to do gets a finished, successful operation, as systemctl start does. */
static int reply_noop(sd_bus_message *message, Instance *i, OperationKind kind, bool async, sd_bus_error *error) {
        Operation *o;
        int r;

        r = operation_new(i->manager, kind, i, i->name, message, OPERATION_REPLY_OP, async, &o, error);
        if (r < 0)
                return r;
        operation_set_progress(o, 1.0, "nothing to do");
        operation_finish(o, NULL, NULL);
        r = operation_reply_to(o, message, async);
        return r < 0 ? r : 1;
}

/* An instance without an init (source type "none" gives an empty rootfs) would "start" and stop at
 * once: refuse it up front. The start-host hook reports running just before init is executed.
 *
 * The state directory is root's (and may be a symlink an admin made); below it, the instance directory
 * and rootfs/ are ours, never followed. The rootfs is the instance's: /sbin/init is resolved as the
 * instance would (RESOLVE_IN_ROOT: an absolute symlink or ".." stays inside), never across a mount
 * point (RESOLVE_NO_XDEV: nothing the instance links to can be a mount that hangs) and never through
 * /proc magic links. What is left is a lookup in the host filesystem that holds the rootfs, bounded by
 * the kernel's 40 symlinks. */
static int instance_check_bootable(Instance *i, sd_bus_error *error) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int dir = -EBADF, root = -EBADF, init = -EBADF;
        _cleanup_free_ char *rel = NULL;
        struct stat st;

        if (asprintf(&rel, "%s/rootfs", i->name) < 0)
                return -ENOMEM;
        dir = open(i->manager->instances_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0)
                root = openat(dir, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root >= 0) {
                init = (int) syscall(SYS_openat2, root, "sbin/init", &how, sizeof how);
                /* Without openat2 (valgrind), as lstat() did: the last component is not followed. */
                if (init < 0 && errno == ENOSYS && fstatat(root, "sbin/init", &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return 0;
        }
        if ((root < 0 || init < 0) && IN_SET(errno, ENOENT, ENOTDIR, ELOOP))
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED,
                                         "Instance '%s' cannot boot: its rootfs has no /sbin/init.", i->name);
        /* Anything else (a mount inside the rootfs): liblxc is the judge. */
        return 0;
}

static int method_start(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        unsigned timeout = DEFAULT_START_TIMEOUT_SEC;
        bool timeout_set = false;
        int async = 0, r;
        Operation *o;

        const BusOption options[] = {
                { "timeout-sec", "u", &timeout, &timeout_set },
                { "async", "b", &async },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        r = parse_timeout(&timeout, timeout_set, error);
        if (r < 0)
                return r;
        r = bus_authorize(message, i, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_lock(i, error);
        if (r < 0)
                return r;
        if (i->state == INSTANCE_RUNNING)
                return reply_noop(message, i, OPERATION_START, async, error);
        if (i->state != INSTANCE_STOPPED)
                return invalid_state(i, "start", error);
        r = instance_check_bootable(i, error);
        if (r < 0)
                return r;

        r = operation_new(i->manager, OPERATION_START, i, i->name, message, OPERATION_REPLY_OP, async, &o, error);
        if (r < 0)
                return r;
        o->timeout_sec = timeout ?: DEFAULT_START_TIMEOUT_SEC;
        (void) instance_start(i, o);
        r = operation_reply_to(o, message, async);
        return r < 0 ? r : 1;
}

static int stop_like(sd_bus_message *message, Instance *i, OperationKind kind, sd_bus_error *error) {
        unsigned timeout = DEFAULT_STOP_TIMEOUT_SEC;
        bool timeout_set = false;
        int async = 0, force = 0, r;
        Operation *o;

        const BusOption options[] = {
                { "timeout-sec", "u", &timeout, &timeout_set },
                { "force", "b", &force },
                { "async", "b", &async },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        r = parse_timeout(&timeout, timeout_set, error);
        if (r < 0)
                return r;
        /* force as a rule sees it: also a timeout of 0, which kills at once */
        r = bus_authorize_full(i->manager, message, i,
                               &(AuthRequest) { .force = force || timeout == 0, .timeout_sec = timeout }, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_lock(i, error);
        if (r < 0)
                return r;
        if (kind == OPERATION_STOP && i->state == INSTANCE_STOPPED)
                return reply_noop(message, i, kind, async, error);
        if (i->state == INSTANCE_FROZEN && !force)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Instance '%s' is frozen: unfreeze it first, or pass force.", i->name);
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN, INSTANCE_STOPPED))
                return invalid_state(i, operation_kind_to_string(kind), error);

        r = operation_new(i->manager, kind, i, i->name, message, OPERATION_REPLY_OP, async, &o, error);
        if (r < 0)
                return r;
        o->timeout_sec = timeout;
        o->force = force || i->state == INSTANCE_FROZEN;
        if (kind == OPERATION_RESTART && o->timeout_sec == 0)
                o->force = true;
        (void) instance_stop(i, o);
        if (kind == OPERATION_RESTART)
                o->timeout_sec = DEFAULT_START_TIMEOUT_SEC;
        r = operation_reply_to(o, message, async);
        return r < 0 ? r : 1;
}

static int method_stop(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return stop_like(message, userdata, OPERATION_STOP, error);
}

static int method_restart(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return stop_like(message, userdata, OPERATION_RESTART, error);
}

static int method_delete(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        int async = 0, force = 0, r;
        Operation *o;

        const BusOption options[] = {
                { "force", "b", &force },
                { "async", "b", &async },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .force = force }, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_lock(i, error);
        if (r < 0)
                return r;
        if (i->load_error) {
                pid_t monitor, init;
                bool frozen;

                /* Without its metadata nothing can stop it properly: whoever runs it must. */
                if (scope_find_running(i->unit_name, i->name, &monitor, &init, &frozen) >= 0)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                                 "Cannot delete instance '%s': it is broken (%s) and still runs "
                                                 "in %s; stop that unit first.", i->name, i->load_error,
                                                 i->unit_name);
        } else if (i->state != INSTANCE_STOPPED && !force)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE,
                                         "Instance '%s' is %s: stop it first, or pass force.", i->name,
                                         instance_state_to_string(i->state));

        r = operation_new(i->manager, OPERATION_DELETE, i, i->name, message, OPERATION_REPLY_OP, async, &o, error);
        if (r < 0)
                return r;
        o->force = force;
        (void) instance_delete(i, o);
        r = operation_reply_to(o, message, async);
        return r < 0 ? r : 1;
}

static int freeze_like(sd_bus_message *message, Instance *i, bool freeze, sd_bus_error *error) {
        Operation *o;
        int r;

        r = bus_authorize(message, i, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_lock(i, error);
        if (r < 0)
                return r;
        if (i->state == (freeze ? INSTANCE_FROZEN : INSTANCE_RUNNING))
                return sd_bus_reply_method_return(message, NULL);
        if (i->state != (freeze ? INSTANCE_RUNNING : INSTANCE_FROZEN))
                return invalid_state(i, freeze ? "freeze" : "unfreeze", error);

        r = operation_new(i->manager, freeze ? OPERATION_FREEZE : OPERATION_UNFREEZE, i, i->name, message,
                          OPERATION_REPLY_NONE, false, &o, error);
        if (r < 0)
                return r;
        (void) instance_freeze(i, o, freeze);
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
                return invalid_state(i, "kill", error);
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

static int method_set_config(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(config_map_done) ConfigMap set = {}, merged = {};
        _cleanup_strv_free_ char **unset = NULL;
        Instance *i = userdata;
        uint64_t expected = 0;
        bool expected_set = false, limits = false;
        int r;

        r = bus_read_config(message, &set, error);
        if (r < 0)
                return r;
        if (config_map_stored_size(&set) > LXCBUS_CONFIG_TOTAL_MAX)
                return config_too_large(i, error);
        for (size_t k = 0; k < set.n; k++)
                if (config_key_is_create_only(set.entries[k].key))
                        return create_only_key(i, set.entries[k].key, error);
        r = sd_bus_message_read_strv(message, &unset);
        if (r < 0)
                return r;
        if (strv_length(unset) > CONFIG_KEYS_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Too many keys to unset.");
        size_t unset_size = 0;
        STRV_FOREACH(k, unset)
                unset_size += config_string_stored_size(*k);
        if (unset_size > LXCBUS_CONFIG_TOTAL_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "The keys to unset are too large (%u bytes at most).", LXCBUS_CONFIG_TOTAL_MAX);
        STRV_FOREACH(k, unset) {
                _cleanup_free_ char *msg = NULL;
                if (config_key_validate(*k, &msg) < 0)
                        return sd_bus_error_set(error, LXCBUS_ERROR_INVALID_CONFIG, msg ?: "Invalid config key.");
                if (config_key_is_create_only(*k))
                        return create_only_key(i, *k, error);
                if (config_map_get(&set, *k))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Config key '%s' is both set and unset.", *k);
        }
        const BusOption options[] = {
                { "expected-generation", "t", &expected, &expected_set },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        _cleanup_free_ char **set_keys = calloc(set.n + 1, sizeof(char *));
        if (!set_keys)
                return -ENOMEM;
        for (size_t k = 0; k < set.n; k++)
                set_keys[k] = set.entries[k].key;
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .set_keys = set_keys, .unset_keys = unset },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_lock(i, error);
        if (r < 0)
                return r;
        if (!IN_SET(i->state, INSTANCE_STOPPED, INSTANCE_RUNNING))
                return invalid_state(i, "configure", error);
        if (expected_set && expected != i->md.generation)
                return sd_bus_error_setf(error, LXCBUS_ERROR_CONFLICT,
                                         "Instance '%s' changed: generation is %" PRIu64 ", not %" PRIu64 ".", i->name,
                                         i->md.generation, expected);

        r = config_map_copy(&i->md.config, &merged);
        if (r < 0)
                return r;
        for (size_t k = 0; k < set.n; k++) {
                r = config_map_set(&merged, set.entries[k].key, set.entries[k].value);
                if (r == -E2BIG)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG, "Too many config keys (%u at most).",
                                                 CONFIG_KEYS_MAX);
                if (r < 0)
                        return r;
                limits = limits || startswith(set.entries[k].key, "limits.");
        }
        STRV_FOREACH(k, unset)
                if (config_map_unset(&merged, *k) > 0)
                        limits = limits || startswith(*k, "limits.");

        /* An instance saved before this bound existed may be over it: it can still shrink. */
        size_t merged_size = config_map_stored_size(&merged);
        if (merged_size > LXCBUS_CONFIG_TOTAL_MAX && merged_size > config_map_stored_size(&i->md.config))
                return config_too_large(i, error);

        /* Nothing changes: no write, no new generation, no signal. */
        if (config_map_equal(&merged, &i->md.config))
                return sd_bus_reply_method_return(message, NULL);

        /* What is saved must load back after a restart: the bound load applies, checked before. */
        InstanceMetadata candidate = i->md;    /* shallow */
        size_t size = 0;
        candidate.config = merged;
        r = instance_metadata_check_size(&candidate, &size);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "Config of instance '%s' is too large: its metadata would take %zu bytes "
                                         "(%u at most).", i->name, size, (unsigned) METADATA_SIZE_MAX);
        if (r < 0)
                return r;

        /* Write first, then switch: a failed write changes nothing. */
        ConfigMap old = i->md.config;
        i->md.config = merged;
        i->md.generation++;
        r = instance_save_metadata(i);
        if (r < 0) {
                merged = i->md.config;
                i->md.config = old;
                i->md.generation--;
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to save the config of '%s': %s", i->name,
                                         strerror(-r));
        }
        merged = old; /* freed on return */
        i->dirty |= INSTANCE_PROP_CONFIG;
        manager_mark_dirty(i->manager);
        if (limits && i->state == INSTANCE_RUNNING) {
                r = scope_set_limits(i->manager, i->unit_name, &i->md.config);
                if (r < 0)
                        log_warning_errno(r, "Failed to apply limits to %s live, ignoring: %m", i->unit_name);
        }
        manager_flush_changes(i->manager);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_get_state(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Instance *i = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
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
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

#define EXEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Sets NAME=VALUE in a strv environment, replacing an earlier NAME. */
static int env_set(char ***env, const char *name, const char *value) {
        size_t nl = strlen(name);
        char *e;

        if (asprintf(&e, "%s=%s", name, value) < 0)
                return -ENOMEM;
        STRV_FOREACH(x, *env)
                if (strncmp(*x, name, nl) == 0 && (*x)[nl] == '=') {
                        free(*x);
                        *x = e;
                        return 0;
                }
        return strv_push(env, e);
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

/* Exec and ExecPty: the same but for where stdio comes from (the caller's fds, or a new pty in the
 * instance's own devpts whose master goes back to the caller). */
static int exec_common(sd_bus_message *message, Instance *i, bool pty, sd_bus_error *error) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_free_ char *cwd = NULL, *term = NULL;
        uint32_t uid = 0, gid = 0, rows = 24, cols = 80;
        int env_clear = 0, kill_on_disconnect = 0, fds[3], r;
        const char *k, *v;
        Operation *o;

        r = sd_bus_message_read_strv(message, &argv);
        if (r < 0)
                return r;
        if (strv_length(argv) == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The command is empty.");
        if (strv_length(argv) > LXCBUS_EXEC_ARGV_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The command has more than %u arguments.",
                                         LXCBUS_EXEC_ARGV_MAX);
        /* argv and env together, before polkit sees them quoted and the worker request carries them
         * (bus-limits.h). */
        size_t strings = 0;
        STRV_FOREACH(a, argv)
                strings += strlen(*a) + 1;

        /* The instance's environment.* keys first, the call's env over them. */
        _cleanup_strv_free_ char **call_env = NULL;
        r = sd_bus_message_enter_container(message, 'a', "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "{ss}", &k, &v)) > 0) {
                if (!env_name_is_valid(k))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid environment variable name.");
                if (strv_length(call_env) >= LXCBUS_EXEC_ENV_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "The environment has more than %u variables.", LXCBUS_EXEC_ENV_MAX);
                strings += strlen(k) + 1 + strlen(v) + 1;
                if (strings > LXCBUS_EXEC_STRINGS_MAX)
                        break;
                r = env_set(&call_env, k, v);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (strings > LXCBUS_EXEC_STRINGS_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "The command and environment are too large (%u bytes at most, counting "
                                         "each string and its terminating NUL).", LXCBUS_EXEC_STRINGS_MAX);
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        if (!pty) {
                r = sd_bus_message_read(message, "hhh", &fds[0], &fds[1], &fds[2]);
                if (r < 0)
                        return r;
                r = check_fd(fds[0], true, "stdin", error);
                if (r >= 0)
                        r = check_fd(fds[1], false, "stdout", error);
                if (r >= 0)
                        r = check_fd(fds[2], false, "stderr", error);
                if (r < 0)
                        return r;
        }

        const BusOption options[] = {
                { "cwd", "s", &cwd },
                { "uid", "u", &uid },
                { "gid", "u", &gid },
                { "env-clear", "b", &env_clear },
                { "kill-on-disconnect", "b", &kill_on_disconnect },
                /* ExecPty only (the list ends here for Exec) */
                { pty ? "rows" : NULL, "u", &rows },
                { "cols", "u", &cols },
                { "term", "s", &term },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (rows == 0 || rows > 10000 || cols == 0 || cols > 10000)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Options 'rows' and 'cols' take 1 to 10000.");
        if (term && (isempty(term) || strlen(term) > 128 || strspn(term, "abcdefghijklmnopqrstuvwxyz"
                                                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._") != strlen(term)))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid terminal type in option 'term'.");
        if (cwd && cwd[0] != '/')
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'cwd' needs an absolute path.");
        if (uid == UINT32_MAX || gid == UINT32_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid uid or gid.");

        /* The environment and directory before asking: the rule sees where the process starts. They read
         * the config, and the answer is bound to its generation (auth.c). */
        r = env_set(&env, "PATH", &EXEC_DEFAULT_PATH[STRLEN("PATH=")]);
        if (r >= 0)
                r = env_set(&env, "HOME", uid == 0 ? "/root" : "/");
        if (r >= 0 && pty)
                r = env_set(&env, "TERM", term ?: "xterm");
        for (size_t n = 0; r >= 0 && !env_clear && n < i->md.config.n; n++) {
                const char *name = startswith(i->md.config.entries[n].key, "environment.");
                if (name)
                        r = env_set(&env, name, i->md.config.entries[n].value);
        }
        STRV_FOREACH(e, call_env) {
                char *eq = strchr(*e, '=');
                *eq = 0;
                if (r >= 0)
                        r = env_set(&env, *e, eq + 1);
                *eq = '=';
        }
        if (r < 0)
                return r;
        if (!cwd) {
                /* HOME is the default directory. */
                STRV_FOREACH(e, env)
                        if (startswith(*e, "HOME=")) {
                                cwd = strdup(*e + 5);
                                if (!cwd)
                                        return -ENOMEM;
                        }
        }

        r = bus_authorize_full(i->manager, message, i,
                               &(AuthRequest) { .argv = argv, .env = call_env, .env_clear = env_clear, .uid = uid,
                                                .gid = gid, .cwd = cwd, .term = term ?: "xterm" },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->state != INSTANCE_RUNNING)
                return invalid_state(i, "run a command in", error);

        r = operation_new(i->manager, OPERATION_EXEC, i, i->name, message,
                          pty ? OPERATION_REPLY_PTY_OP : OPERATION_REPLY_OP, false, &o, error);
        if (r < 0)
                return r;
        o->command = TAKE_PTR(argv);
        if (kill_on_disconnect) {
                r = exec_kill_on_disconnect(o, message);
                if (r < 0) {
                        operation_finish_errno(o, r, "Failed to track the caller.");
                        return 1;
                }
        }
        r = instance_exec(i, o, o->command, env, cwd, uid, gid, pty ? NULL : fds, rows, cols);
        if (r < 0) {
                operation_finish_errno(o, r, "Failed to start the command.");
                return 1;
        }
        return 1;
}

static int method_exec(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return exec_common(message, userdata, false, error);
}

static int method_exec_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return exec_common(message, userdata, true, error);
}

const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Instance, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pid", "u", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", property_get_unit, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "u", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Ephemeral", "b", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Autostart", "b", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AutostartPriority", "i", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Description", "s", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Config", "a{ss}", property_get_config, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedAt", "t", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LastUsedAt", "t", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Generation", "t", property_get_misc, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
        SD_BUS_VTABLE_END
};
