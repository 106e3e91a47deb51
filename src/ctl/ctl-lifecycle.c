/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>

#include "bus-options.h"
#include "ctl-bus.h"
#include "ctl-operation.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

/* Verbs that change an instance's life: create, start, stop, restart, delete (Operations: the call always
 * asks for "async" and, without --async, waits for the operation here, with a progress line and Ctrl-C as
 * Cancel; ctl-operation.h), freeze, unfreeze, kill. */

typedef struct OperationVerb {
        const char *name;
        const char *method;
        bool takes_timeout;
        bool takes_force;
        const char *all_method;     /* --all: this method of the manager instead of one instance's */
} OperationVerb;

typedef struct OperationArgs {
        const OperationVerb *verb;
        bool have_timeout;
        uint32_t timeout_sec;
        bool force;
        bool async;
        bool all;
} OperationArgs;

/* Every operation verb knows --timeout, --force and --all, so that one that does not take them says so
 * instead of getopt_long()'s "unrecognized option": 1 if the verb takes the option. */
static int verb_takes(Context *c, const OperationArgs *a, bool takes, const char *option) {
        if (!takes)
                return ctl_usage_error(c, "'%s' takes no --%s.", a->verb->name, option);
        return 1;
}

static int parse_timeout(Context *c, const char *arg, void *userdata) {
        OperationArgs *a = userdata;
        int r;

        r = verb_takes(c, a, a->verb->takes_timeout, "timeout");
        if (r <= 0)
                return r;
        if (ctl_parse_uint32(arg, &a->timeout_sec) < 0)
                return ctl_usage_error(c, "Invalid timeout '%s': expected seconds.", arg);
        a->have_timeout = true;
        return 1;
}

static int parse_force(Context *c, const char *arg, void *userdata) {
        OperationArgs *a = userdata;

        a->force = a->verb->takes_force;
        return verb_takes(c, a, a->force, "force");
}

static int parse_all(Context *c, const char *arg, void *userdata) {
        OperationArgs *a = userdata;

        a->all = a->verb->all_method;
        return verb_takes(c, a, a->all, "all");
}

/* The call: on the instance named by the one argument, or with --all on the manager, without one. */
static int parse_operation_call(Context *c, int argc, char *argv[], const CtlOption options[], OperationArgs *a,
                                sd_bus_message **ret) {
        int r;

        if (!a->verb->all_method)
                return ctl_parse_instance_call(c, argc, argv, options, a, a->verb->method, ret);
        r = ctl_parse_options(c, argc, argv, options, a, 0);
        if (r <= 0)
                return r;
        if (!a->all && a->verb->method) {
                r = ctl_expect_args(c, argc, argv, 1, "instance name (or --all)");
                if (r < 0)
                        return r;
                r = ctl_new_instance_call(c, argv[optind], a->verb->method, ret);
                return r < 0 ? r : 1;
        }
        r = ctl_expect_args(c, argc, argv, 0, NULL);
        if (r < 0)
                return r;
        r = ctl_new_method_call(c, LXCBUS_PATH, LXCBUS_MANAGER_INTERFACE, a->verb->all_method, ret);
        return r < 0 ? r : 1;
}

static int run_operation_verb(Context *c, int argc, char *argv[], const OperationVerb *v) {
        static const CtlOption options[] = {
                CTL_OPTION_ARG("timeout", parse_timeout),
                CTL_OPTION_CALL("force", parse_force),
                CTL_OPTION_FLAG("async", OperationArgs, async),
                CTL_OPTION_CALL("all", parse_all),
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        OperationArgs a = { .verb = v };
        int r;

        r = parse_operation_call(c, argc, argv, options, &a, &m);
        if (r <= 0)
                return r;
        r = CTL_APPEND_OPTIONS(m,
                               CTL_BUS_U32("timeout-sec", a.have_timeout, a.timeout_sec),
                               CTL_BUS_FLAG("force", a.force),
                               CTL_BUS_FLAG("async", true));
        if (r < 0)
                return ctl_message_error(c, r);

        return ctl_call_operation(c, &m, a.async ? CTL_OPERATION_PRINT : CTL_OPERATION_FOLLOW);
}

int verb_start(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "start", "Start", .takes_timeout = true };
        return run_operation_verb(c, argc, argv, &v);
}

int verb_stop(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "stop", "Stop", .takes_timeout = true, .takes_force = true,
                                         .all_method = "StopAll" };
        return run_operation_verb(c, argc, argv, &v);
}

int verb_restart(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "restart", "Restart", .takes_timeout = true, .takes_force = true };
        return run_operation_verb(c, argc, argv, &v);
}

/* autostart: Manager.StartAutostart, an operation verb of no instance (as "stop --all", without the word). */
int verb_autostart(Context *c, int argc, char *argv[]) {
        static const OperationVerb v = { "autostart", NULL, .takes_timeout = true, .all_method = "StartAutostart" };
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

int ctl_parse_config_option(Context *c, char ***pairs, const char *arg) {
        int r;

        r = ctl_pairs_add(pairs, arg);
        if (r == -EEXIST)
                return ctl_usage_error(c, "Configuration key of '%s' given twice.", arg);
        if (r == -ENOMEM)
                return ctl_error_errno(c, r, "Out of memory.");
        if (r < 0)
                return ctl_usage_error(c, "Invalid --config '%s': expected KEY=VALUE.", arg);
        return 1;
}

static int parse_create_args(Context *c, int argc, char *argv[], CreateArgs *a) {
        static const CtlOption options[] = {
                CTL_OPTION_STRING("template", CreateArgs, template, "Empty template name."),
                CTL_OPTION_FLAG("empty", CreateArgs, empty),
                CTL_OPTION_CONFIG("config", CreateArgs, config),
                CTL_OPTION_FLAG("ephemeral", CreateArgs, ephemeral),
                CTL_OPTION_FLAG("async", CreateArgs, async),
                {}
        };
        int r;

        r = ctl_parse_options(c, argc, argv, options, a, 0);
        if (r <= 0)
                return r;

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

        r = bus_append_string_pairs(m, a->config);
        if (r < 0)
                return r;

        return CTL_APPEND_OPTIONS(m,
                                  CTL_BUS_FLAG("ephemeral", a->ephemeral),
                                  CTL_BUS_FLAG("async", true));
}

int verb_create(Context *c, int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
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

        return ctl_call_operation(c, &m, a.async ? CTL_OPERATION_PRINT : CTL_OPERATION_FOLLOW);
}

/* Calls a method of NAME's instance object with no arguments and no reply value. */
static int call_simple(Context *c, int argc, char *argv[], const char *method) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_parse_instance_call(c, argc, argv, options, NULL, method, &m);
        if (r <= 0)
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

typedef struct KillArgs {
        int signal;
        bool all;
} KillArgs;

static int parse_signal(Context *c, const char *arg, void *userdata) {
        KillArgs *a = userdata;

        a->signal = ctl_signal_from_string(arg);
        if (a->signal < 0)
                return ctl_usage_error(c, "Invalid signal '%s'.", arg);
        return 1;
}

int verb_kill(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                { .name = "signal", .short_name = 's', .has_arg = true, .parse = parse_signal },
                CTL_OPTION_FLAG("all", KillArgs, all),
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        KillArgs a = { .signal = SIGTERM };
        int r;

        r = ctl_parse_instance_call(c, argc, argv, options, &a, "Kill", &m);
        if (r <= 0)
                return r;
        r = sd_bus_message_append(m, "ib", (int32_t) a.signal, (int) a.all);
        if (r < 0)
                return ctl_message_error(c, r);

        return ctl_call(c, m, 0, NULL);
}
