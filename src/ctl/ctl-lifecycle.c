/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

/* Verbs that change an instance's life: create, start, stop, restart, delete (Operations: the call
 * replies when the operation has finished, or at once with --async), freeze, unfreeze, kill. */

enum {
        ARG_TIMEOUT = ARG_FIRST_VERB_OPTION,
        ARG_FORCE,
        ARG_ASYNC,
        ARG_TEMPLATE,
        ARG_EMPTY,
        ARG_CONFIG,
        ARG_EPHEMERAL,
        ARG_ALL,
};

/* The reply of an operation call is the operation's path (or an instance and the operation, for
 * CreateInstance); with --async it is all the caller gets, so print it for scripts to follow. */
static int finish_operation_call(Context *c, sd_bus_message *reply, const char *signature, bool async) {
        const char *instance, *operation;
        int r;

        if (streq(signature, "oo"))
                r = sd_bus_message_read(reply, "oo", &instance, &operation);
        else
                r = sd_bus_message_read(reply, "o", &operation);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply: %m");

        if (async)
                puts(operation);
        return 0;
}

typedef struct OperationVerb {
        const char *name;
        const char *method;
        bool takes_timeout;
        bool takes_force;
} OperationVerb;

typedef struct OperationArgs {
        bool have_timeout;
        uint32_t timeout_sec;
        bool force;
        bool async;
} OperationArgs;

static int parse_operation_args(Context *c, int argc, char *argv[], const OperationVerb *v,
                                OperationArgs *ret) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "force", no_argument, NULL, ARG_FORCE },
                { "async", no_argument, NULL, ARG_ASYNC },
                {}
        };
        OperationArgs a = {};
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_TIMEOUT:
                        if (!v->takes_timeout)
                                return ctl_usage_error(c, "'%s' takes no --timeout.", v->name);
                        if (ctl_parse_uint32(optarg, &a.timeout_sec) < 0)
                                return ctl_usage_error(c, "Invalid timeout '%s': expected seconds.", optarg);
                        a.have_timeout = true;
                        break;
                case ARG_FORCE:
                        if (!v->takes_force)
                                return ctl_usage_error(c, "'%s' takes no --force.", v->name);
                        a.force = true;
                        break;
                case ARG_ASYNC:
                        a.async = true;
                        break;
                default:
                        r = ctl_common_option(c, opt, optarg);
                        if (r <= 0)
                                return r;
                }

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;

        *ret = a;
        return 1;
}

static int append_operation_options(sd_bus_message *m, const OperationArgs *a) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (a->have_timeout) {
                r = ctl_append_option_u32(m, "timeout-sec", a->timeout_sec);
                if (r < 0)
                        return r;
        }
        if (a->force) {
                r = ctl_append_option_bool(m, "force", true);
                if (r < 0)
                        return r;
        }
        if (a->async) {
                r = ctl_append_option_bool(m, "async", true);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int run_operation_verb(Context *c, int argc, char *argv[], const OperationVerb *v) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        OperationArgs a = {};
        int r;

        r = parse_operation_args(c, argc, argv, v, &a);
        if (r <= 0)
                return r;

        r = ctl_new_instance_call(c, argv[optind], v->method, &m);
        if (r < 0)
                return r;
        r = append_operation_options(m, &a);
        if (r < 0)
                return ctl_message_error(c, r);

        /* Without --async the daemon replies when the operation is over, however long it takes. */
        r = ctl_call(c, m, a.async ? 0 : ctl_operation_timeout_usec(a.timeout_sec), &reply);
        if (r < 0)
                return r;

        return finish_operation_call(c, reply, "o", a.async);
}

int verb_start(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "start", "Start", .takes_timeout = true };
        return run_operation_verb(c, argc, argv, &v);
}

int verb_stop(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "stop", "Stop", .takes_timeout = true, .takes_force = true };
        return run_operation_verb(c, argc, argv, &v);
}

int verb_restart(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "restart", "Restart", .takes_timeout = true, .takes_force = true };
        return run_operation_verb(c, argc, argv, &v);
}

int verb_delete(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "delete", "Delete", .takes_force = true };
        return run_operation_verb(c, argc, argv, &v);
}

typedef struct CreateArgs {
        const char *name;
        const char *template;
        bool empty;
        char **config;          /* alternating keys and values */
        bool ephemeral;
        bool async;
} CreateArgs;

static void create_args_done(CreateArgs *a) {
        a->config = strv_free(a->config);
}

static int parse_create_args(Context *c, int argc, char *argv[], CreateArgs *a) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "template", required_argument, NULL, ARG_TEMPLATE },
                { "empty", no_argument, NULL, ARG_EMPTY },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "ephemeral", no_argument, NULL, ARG_EPHEMERAL },
                { "async", no_argument, NULL, ARG_ASYNC },
                {}
        };
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_TEMPLATE:
                        if (isempty(optarg))
                                return ctl_usage_error(c, "Empty template name.");
                        a->template = optarg;
                        break;
                case ARG_EMPTY:
                        a->empty = true;
                        break;
                case ARG_CONFIG:
                        r = ctl_pairs_add(&a->config, optarg);
                        if (r == -EEXIST)
                                return ctl_usage_error(c, "Configuration key of '%s' given twice.", optarg);
                        if (r == -ENOMEM)
                                return ctl_error_errno(c, r, "Out of memory.");
                        if (r < 0)
                                return ctl_usage_error(c, "Invalid --config '%s': expected KEY=VALUE.",
                                                       optarg);
                        break;
                case ARG_EPHEMERAL:
                        a->ephemeral = true;
                        break;
                case ARG_ASYNC:
                        a->async = true;
                        break;
                default:
                        r = ctl_common_option(c, opt, optarg);
                        if (r <= 0)
                                return r;
                }

        if (a->empty && a->template)
                return ctl_usage_error(c, "--template and --empty exclude each other.");

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;

        a->name = argv[optind];
        return 1;
}

static int append_create_arguments(sd_bus_message *m, const CreateArgs *a) {
        int r;

        r = sd_bus_message_append(m, "s", a->name);
        if (r < 0)
                return r;

        if (a->empty)
                r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", "none");
        else
                r = sd_bus_message_append(m, "a{sv}", 2,
                                          "type", "s", "template",
                                          "template", "s", a->template ?: "busybox");
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (char **p = a->config; p && p[0] && p[1]; p += 2) {
                r = sd_bus_message_append(m, "{ss}", p[0], p[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (a->ephemeral) {
                r = ctl_append_option_bool(m, "ephemeral", true);
                if (r < 0)
                        return r;
        }
        if (a->async) {
                r = ctl_append_option_bool(m, "async", true);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int verb_create(Context *c, int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(create_args_done) CreateArgs a = {};
        int r;

        r = parse_create_args(c, argc, argv, &a);
        if (r <= 0)
                return r;
        c->instance = a.name;

        r = ctl_new_method_call(c, LXCBUS_PATH, LXCBUS_MANAGER_INTERFACE, "CreateInstance", &m);
        if (r < 0)
                return r;
        r = append_create_arguments(m, &a);
        if (r < 0)
                return ctl_message_error(c, r);

        r = ctl_call(c, m, a.async ? 0 : ctl_operation_timeout_usec(0), &reply);
        if (r < 0)
                return r;

        return finish_operation_call(c, reply, "oo", a.async);
}

/* Calls a method of NAME's instance object with no arguments and no reply value. */
static int call_simple(Context *c, int argc, char *argv[], const char *method) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                r = ctl_common_option(c, opt, optarg);
                if (r <= 0)
                        return r;
        }

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;

        r = ctl_new_instance_call(c, argv[optind], method, &m);
        if (r < 0)
                return r;

        /* Freezing waits for the cgroup freezer, which the daemon bounds with its own timeout. */
        return ctl_call(c, m, ctl_operation_timeout_usec(0), NULL);
}

int verb_freeze(Context *c, int argc, char *argv[]) {
        return call_simple(c, argc, argv, "Freeze");
}

int verb_unfreeze(Context *c, int argc, char *argv[]) {
        return call_simple(c, argc, argv, "Unfreeze");
}

int verb_kill(Context *c, int argc, char *argv[]) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "signal", required_argument, NULL, 's' },
                { "all", no_argument, NULL, ARG_ALL },
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int sig = SIGTERM, opt, r;
        bool all = false;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "hs:", options, NULL)) >= 0)
                switch (opt) {
                case 's':
                        sig = ctl_signal_from_string(optarg);
                        if (sig < 0)
                                return ctl_usage_error(c, "Invalid signal '%s'.", optarg);
                        break;
                case ARG_ALL:
                        all = true;
                        break;
                default:
                        r = ctl_common_option(c, opt, optarg);
                        if (r <= 0)
                                return r;
                }

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;

        r = ctl_new_instance_call(c, argv[optind], "Kill", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ib", (int32_t) sig, (int) all);
        if (r < 0)
                return ctl_message_error(c, r);

        return ctl_call(c, m, 0, NULL);
}
