/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "auth-dbus.h"
#include "autostart-dbus.h"
#include "bus-errors.h"
#include "bus-limits.h"
#include "bus-options.h"
#include "create.h"
#include "daemon-dbus.h"
#include "instance.h"
#include "instance-dbus.h"
#include "log.h"
#include "manager.h"
#include "manager-dbus.h"
#include "metrics.h"
#include "names.h"
#include "operation-dbus.h"
#include "transfer.h"
#include "util.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "as", 20, "source-template-busybox", "source-none", "scopes",
                                     "operations", "restart-survival", "exec", "exec-pty", "console",
                                     "idmapped-instances", "snapshots", "copy", "overlay-clone", "rename",
                                     "import-export", "files", "allow-running",
                                     "metrics", "network", "systemd-init",
                                     "autostart");
}

/* Allocated once for all of them: strv_extend() would walk and grow the list at each of 1000 paths. */
int manager_bus_paths(Manager *m, bool operations, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        if (operations)
                for (Operation *o = m->operations; o; o = o->next)
                        n++;
        else
                for (Instance *i = m->instances; i; i = i->next)
                        n++;
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        n = 0;
        if (operations) {
                for (Operation *o = m->operations; o; o = o->next)
                        if (!(l[n++] = strdup(o->path)))
                                return -ENOMEM;
        } else
                for (Instance *i = m->instances; i; i = i->next)
                        if (!(l[n++] = strdup(i->path)))
                                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* sd-bus passes the path it enumerates below, not the prefix: one function each. */
int manager_instance_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        int r = manager_bus_paths(userdata, false, nodes);
        return r < 0 ? r : 1;
}

int manager_operation_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        int r = manager_bus_paths(userdata, true, nodes);
        return r < 0 ? r : 1;
}

static int append_paths(sd_bus_message *reply, Manager *m, bool operations) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = manager_bus_paths(m, operations, &l);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        STRV_FOREACH(p, l)
                if (r >= 0)
                        r = sd_bus_message_append(reply, "o", *p);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_get_instances(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return append_paths(reply, userdata, false);
}

static int property_get_operations(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return append_paths(reply, userdata, true);
}

static int append_instances(sd_bus_message *reply, void *userdata) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sso)");
        if (r < 0)
                return r;
        for (Instance *i = m->instances; i; i = i->next) {
                r = sd_bus_message_append(reply, "(sso)", i->name, instance_state_to_string(i->state), i->path);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int append_operation_paths(sd_bus_message *reply, void *userdata) {
        return append_paths(reply, userdata, true);
}

static int method_list_instances(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return bus_reply_filled(message, append_instances, userdata);
}

static int method_list_operations(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return bus_reply_filled(message, append_operation_paths, userdata);
}

static int method_get_instance(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        char qbuf[80];
        Instance *i;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!instance_name_is_valid(name))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_NAME, "Invalid instance name%s.",
                                         instance_name_for_message(name, qbuf));
        i = manager_find_instance(m, name);
        if (!i)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NO_SUCH_INSTANCE, "No instance '%s'.", name);
        return sd_bus_reply_method_return(message, "o", i->path);
}

/* A block of subordinate ids for the new idmapped instance name. */
static int allocate_idmap(Manager *m, const char *name, InstanceIdmap *ret, sd_bus_error *error) {
        const char *path;
        int r;

        r = create_allocate_idmap(m, ret, &path);
        if (r == -ENODATA)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED,
                                         "Cannot create unprivileged instance '%s': '%s' has no subordinate ids of "
                                         "user '" SUBID_USER "'. Add a line such as '" SUBID_USER ":1000000:65536000' "
                                         "to both '/etc/subuid' and '/etc/subgid' (65536 ids per instance).",
                                         name, path);
        if (r == -ENOSPC)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot create unprivileged instance '%s': no free block of 65536 "
                                         "subordinate ids of user '" SUBID_USER "' is left in both '/etc/subuid' "
                                         "and '/etc/subgid'. Delete an unprivileged instance, or add ids.", name);
        if (r < 0 && path)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to read '%s' for the subordinate ids of "
                                         "unprivileged instances: %s", path, strerror(-r));
        return r;
}

int bus_read_config(sd_bus_message *message, ConfigMap *ret, sd_bus_error *error) {
        ConfigMap c = {};
        const char *k, *v;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "{ss}", &k, &v)) > 0) {
                _cleanup_free_ char *msg = NULL;

                if (config_validate(k, v, &msg) < 0) {
                        config_map_done(&c);
                        return sd_bus_error_set(error, LXCBUS_ERROR_INVALID_CONFIG, msg ?: "Invalid config.");
                }
                r = config_map_set(&c, k, v);
                if (r == -E2BIG) {
                        config_map_done(&c);
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG, "Too many config keys (%u at most).",
                                                 CONFIG_KEYS_MAX);
                }
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(message);
        if (r < 0) {
                config_map_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* The source argument of CreateInstance: a template (busybox, for now) with its arguments, or none
 * (*template becomes "none"). */
static int check_create_source(const char *type, char **template, char **targs, sd_bus_error *error) {
        if (!type)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The source needs a 'type'.");
        if (streq(type, "template")) {
                if (!*template)
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "A template source needs a 'template'.");
                if (!streq(*template, "busybox"))
                        return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED,
                                                 "Template '%s' is not supported (supported: busybox).", *template);
                size_t targs_size = 0;
                STRV_FOREACH(a, targs)
                        targs_size += strlen(*a) + 1;
                if (strv_length(targs) > LXCBUS_TEMPLATE_ARGS_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Too many template arguments (%u at most).", LXCBUS_TEMPLATE_ARGS_MAX);
                if (targs_size > LXCBUS_TEMPLATE_ARGS_TOTAL_MAX)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                                 "The template arguments are too large (%u bytes at most).",
                                                 LXCBUS_TEMPLATE_ARGS_TOTAL_MAX);
        } else if (streq(type, "none")) {
                if (*template || targs)
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                "A source of type 'none' takes no template.");
                *template = strdup("none");
                if (!*template)
                        return -ENOMEM;
        } else
                return sd_bus_error_setf(error, LXCBUS_ERROR_NOT_SUPPORTED, "Source type '%s' is not supported.", type);
        return 0;
}

int bus_check_instance_room(Manager *m, const char *what, const char *name, sd_bus_error *error) {
        if (m->n_instances + m->n_creating >= m->max_instances)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot %s '%s': there are %u instances, the most allowed "
                                         "(--max-instances).", what, name, m->max_instances);
        if (!manager_data_fits(m, 0, LXCBUS_INSTANCE_DATA_MAX))
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot %s '%s': the configs and snapshots of all instances leave no room "
                                         "for another (%u bytes in all, %u for each).", what, name,
                                         LXCBUS_INSTANCES_DATA_MAX, LXCBUS_INSTANCE_DATA_MAX);
        return 0;
}

/* Only root may have a privileged instance, and it is the default for root. Anybody else gets an
 * idmapped one, and no template arguments: the template runs as the instance's root user, and what
 * arguments a template takes (paths on the host, say) is beyond what lxcbus can vet. These refusals
 * come before polkit: nobody is asked for a password for a call that cannot succeed. */
static int check_create_allowed(Manager *m, const char *name, uid_t uid, const ConfigMap *config, char **targs,
                                bool *ret_privileged, sd_bus_error *error) {
        const char *priv = config_map_get(config, "security.privileged");
        bool privileged = uid == 0 && !streq_ptr(priv, "false");

        if (uid != 0 && streq_ptr(priv, "true"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot create instance '%s': only root may create privileged instances "
                                         "(config key 'security.privileged').", name);
        if (uid != 0 && targs)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot create instance '%s': only root may pass template arguments.", name);

        /* The config goes to the worker in one packet and into every GetManagedObjects: bounded
         * (bus-limits.h), with the key lxcbusd adds for an idmapped instance. */
        size_t config_size = config_map_stored_size(config);
        if (!privileged && !priv)
                config_size += strlen("security.privileged") + strlen("false");
        if (config_size > LXCBUS_CONFIG_TOTAL_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "The config of instance '%s' is too large (%u bytes at most, keys and values "
                                         "together).", name, LXCBUS_CONFIG_TOTAL_MAX);
        int r = bus_check_instance_room(m, "create instance", name, error);
        if (r < 0)
                return r;
        r = bus_check_limits(config, error);
        if (r < 0)
                return r;
        *ret_privileged = privileged;
        return 0;
}

/* After polkit: the name is free, the owner's quota allows one more, and md is complete (an idmapped
 * instance gets its block of subordinate ids here, so a refused create never takes one). */
int bus_prepare_new_instance(Manager *m, const char *name, uid_t uid, bool privileged, bool ephemeral,
                             InstanceMetadata *md, sd_bus_error *error) {
        int r;

        if (manager_find_instance(m, name) || manager_name_reserved(m, name))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INSTANCE_EXISTS, "Instance '%s' already exists.", name);
        /* Root's are not counted, nor limited. */
        if (uid != 0 && manager_instances_of(m, uid) >= m->max_instances_per_owner)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot create instance '%s': uid %u has %u instances already, the quota "
                                         "of an owner (--max-instances-per-owner=%u).", name, (unsigned) uid,
                                         manager_instances_of(m, uid), m->max_instances_per_owner);

        /* Like any key, absent means the default: a privileged instance. An idmapped one always says so,
         * whoever created it. */
        if (!privileged) {
                r = config_map_set(&md->config, "security.privileged", "false");
                if (r == -E2BIG)
                        return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                                 "Too many config keys (%u at most).", CONFIG_KEYS_MAX);
                if (r < 0)
                        return r;
                r = allocate_idmap(m, name, &md->idmap, error);
                if (r < 0)
                        return r;
        }
        md->name = strdup(name);
        if (!md->name)
                return -ENOMEM;
        md->owner = uid;
        md->ephemeral = ephemeral;
        md->created_at = now_usec(CLOCK_REALTIME);
        md->generation = 1;
        size_t size = 0;
        r = instance_metadata_check_size(md, &size);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_CONFIG,
                                         "Config of instance '%s' is too large: its metadata would take %zu bytes "
                                         "(%u at most).", name, size, (unsigned) METADATA_SIZE_MAX);
        return r;
}

/* The create did not start: the finished operation answers the call, unless the call is async, which
 * got no paths yet and gets the error. E2BIG: the request does not fit one worker packet, which the
 * bounds checked before should make impossible. */
static int create_failed(Operation *o, const char *name, int r, bool async, sd_bus_error *error) {
        if (r == -E2BIG)
                operation_finish(o, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                 "The create request is too large for the worker (64 KiB at most).");
        else
                operation_finish_errno(o, r, "Failed to start the create.");
        if (!async)
                return 1;
        if (r == -E2BIG)
                return sd_bus_error_set(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                        "The create request is too large for the worker (64 KiB at most).");
        return sd_bus_error_set_errnof(error, r, "Failed to create instance '%s': %m", name);
}

/* The name argument of CreateInstance and ImportInstance. */
static int read_new_name(sd_bus_message *message, const char **ret, sd_bus_error *error) {
        char qbuf[80];
        int r;

        r = sd_bus_message_read(message, "s", ret);
        if (r < 0)
                return r;
        if (!instance_name_is_valid(*ret))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_NAME,
                                         "Invalid instance name%s: 1 to 63 characters of a-z, A-Z, 0-9 and '-', "
                                         "starting with a letter, not ending with '-'.",
                                         instance_name_for_message(*ret, qbuf));
        return 0;
}

/* The config keys of md, for polkit's "keys" detail. */
static char **config_keys(const InstanceMetadata *md) {
        char **keys = new0(char *, md->config.n + 1);

        for (size_t k = 0; keys && k < md->config.n; k++)
                keys[k] = md->config.entries[k].key;
        return keys;
}

typedef struct NewInstanceCall {
        const char *name;
        int async, ephemeral;
        uid_t uid;
        InstanceMetadata md;
} NewInstanceCall;

typedef struct CreateSource {
        char *type, *template;
        char **args;
} CreateSource;

/* What CreateInstance and ImportInstance share after their source: config and options read, the checks
 * made before polkit, polkit asked, then the name checked and md completed (idmap block and all).
 * source: CreateInstance's (checked after the options, as it always was), NULL for an import. 1: go on;
 * 0: polkit's answer is pending; < 0 (error set): refused. */
static int new_instance_begin(sd_bus_message *message, Manager *m, CreateSource *source, NewInstanceCall *c,
                              sd_bus_error *error) {
        bool privileged = false;
        int r;

        r = bus_read_config(message, &c->md.config, error);
        if (r < 0)
                return r;
        const BusOption options[] = {
                { "async", "b", &c->async },
                { "ephemeral", "b", &c->ephemeral },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        if (source) {
                r = check_create_source(source->type, &source->template, source->args, error);
                if (r < 0)
                        return r;
        }
        r = bus_get_sender_uid(message, &c->uid);
        if (r < 0)
                return r;
        r = check_create_allowed(m, c->name, c->uid, &c->md.config, source ? source->args : NULL, &privileged,
                                 error);
        if (r < 0)
                return r;

        _cleanup_free_ char **keys = config_keys(&c->md);
        if (!keys)
                return -ENOMEM;
        r = bus_authorize_full(m, message, NULL,
                               &(AuthRequest) { .instance = c->name, .owner = UID_INVALID,
                                                .template = source ? source->template : NULL, .set_keys = keys },
                               error);
        if (r <= 0)
                return r;
        r = bus_prepare_new_instance(m, c->name, c->uid, privileged, c->ephemeral, &c->md, error);
        return r < 0 ? r : 1;
}

static int method_create_instance(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *type = NULL, *template = NULL;
        _cleanup_strv_free_ char **targs = NULL;
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        NewInstanceCall c = {};
        Manager *m = userdata;
        Operation *o;
        int r;

        r = read_new_name(message, &c.name, error);
        if (r < 0)
                return r;
        const BusOption source_options[] = {
                { "type", "s", &type },
                { "template", "s", &template },
                { "args", "as", &targs },
                {}
        };
        r = bus_read_options(message, source_options, error);
        if (r < 0)
                return r;
        CreateSource source = { .type = type, .template = template, .args = targs };
        r = new_instance_begin(message, m, &source, &c, error);
        template = source.template;     /* "none" for a source of type none */
        md = c.md;
        c.md = (InstanceMetadata) {};
        if (r <= 0)
                return r < 0 ? r : 1;
        const char *name = c.name;
        bool async = c.async;
        uid_t uid = c.uid;

        r = bus_operation_new(m, OPERATION_CREATE, NULL, name, message, uid, OPERATION_REPLY_INSTANCE_OP, async, &o,
                              error);
        if (r < 0)
                return r;
        r = create_instance(m, o, template, targs, &md);
        if (r < 0)
                return create_failed(o, name, r, async, error);
        return bus_operation_reply(o, message, async);
}

/* Like CreateInstance, with the rootfs (and the config of an lxcbus export, which the call's overrides)
 * from the tarball on the caller's fd, which only the import worker reads. */
static int method_import_instance(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        NewInstanceCall c = {};
        Manager *m = userdata;
        Operation *o;
        int fd, r;

        r = read_new_name(message, &c.name, error);
        if (r < 0)
                return r;
        r = bus_read_stream_fd(message, true, &fd, error);
        if (r < 0)
                return r;
        r = new_instance_begin(message, m, NULL, &c, error);
        md = c.md;
        c.md = (InstanceMetadata) {};
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_operation_new(m, OPERATION_IMPORT, NULL, c.name, message, c.uid, OPERATION_REPLY_INSTANCE_OP, c.async,
                              &o, error);
        if (r < 0)
                return r;
        r = transfer_import(m, o, fd, &md);
        if (r < 0)
                return create_failed(o, c.name, r, c.async, error);
        return bus_operation_reply(o, message, c.async);
}

/* Open to every reader, as properties are. The model reads small files of /sys/fs/cgroup and /proc, on the
 * loop: nothing here can block it. The reply's worst case (LXCBUS_INSTANCES_MAX instances, each with
 * METRICS_NETDEV_MAX interfaces of escaped names) is measured in tests/unit/test-bus-limits.c. */
static int method_get_metrics(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = manager_metrics(userdata, &text);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", text);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Features", "as", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StateDirectory", "s", NULL, offsetof(Manager, state_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Instances", "ao", property_get_instances, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Operations", "ao", property_get_operations, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ListInstances", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sso)", instances),
                                method_list_instances, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetInstance", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", instance),
                                method_get_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateInstance",
                                SD_BUS_ARGS("s", name, "a{sv}", source, "a{ss}", config, "a{sv}", options),
                                SD_BUS_RESULT("o", instance, "o", operation), method_create_instance,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListOperations", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", operations),
                                method_list_operations, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportInstance", SD_BUS_ARGS("s", name, "h", tarball, "a{ss}", config, "a{sv}", options),
                                SD_BUS_RESULT("o", instance, "o", operation), method_import_instance,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", metrics), method_get_metrics,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartAutostart", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation),
                                method_start_autostart, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopAll", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", operation),
                                method_stop_all, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("InstanceNew", SD_BUS_ARGS("s", name, "o", instance), 0),
        SD_BUS_SIGNAL_WITH_ARGS("InstanceRemoved", SD_BUS_ARGS("s", name, "o", instance), 0),
        SD_BUS_VTABLE_END
};


void manager_bus_flush(Manager *m) {
        for (Instance *i = m->instances; i; i = i->next)
                if (i->dirty)
                        instance_bus_emit_changes(i);
        for (Operation *o = m->operations; o; o = o->next)
                if (o->dirty)
                        operation_bus_emit_changes(o);
        if (m->dirty_instances || m->dirty_operations) {
                const char *names[3] = {};
                size_t n = 0;
                if (m->dirty_instances)
                        names[n++] = "Instances";
                if (m->dirty_operations)
                        names[n++] = "Operations";
                (void) sd_bus_emit_properties_changed_strv(m->bus, LXCBUS_PATH, "org.lxcbus1.Manager", (char **) names);
                m->dirty_instances = m->dirty_operations = false;
        }
}
