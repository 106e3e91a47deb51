/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verbs that keep and move an instance's data: snapshot, restore, snapshot-delete, snapshots, rename, copy.
 * The operations reply when they have finished, or at once with --async (the operation's path printed). */
#include <inttypes.h>
#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-operation.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

typedef struct SnapshotArgs {
        bool async;
        bool allow_running;
} SnapshotArgs;

/* NAME ARG, the verbs here: the options, then a call of member on NAME with ARG (a snapshot or a new name)
 * as its first argument. The same returns as ctl_parse_args(). */
static int parse_call_with_arg(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                               const char *what, const char *member, sd_bus_message **ret) {
        int r;

        r = ctl_parse_args(c, argc, argv, options, userdata, 2, what);
        if (r <= 0)
                return r;
        r = ctl_new_instance_call(c, argv[optind], member, ret);
        if (r < 0)
                return r;
        r = sd_bus_message_append(*ret, "s", argv[optind + 1]);
        if (r < 0)
                return ctl_message_error(c, r);
        return 1;
}

/* NAME SNAP: member(SNAP, options) on NAME; only Snapshot takes --allow-running. */
static int snapshot_call(Context *c, int argc, char *argv[], const char *member) {
        static const CtlOption options_running[] = {
                CTL_OPTION_FLAG("async", SnapshotArgs, async),
                CTL_OPTION_FLAG("allow-running", SnapshotArgs, allow_running),
                {}
        };
        static const CtlOption options_async[] = {
                CTL_OPTION_FLAG("async", SnapshotArgs, async),
                {}
        };
        /* Static arrays both: a compound literal inside the if would end with the if's body. */
        const CtlOption *options = streq(member, "Snapshot") ? options_running : options_async;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        SnapshotArgs a = {};
        int r;

        r = parse_call_with_arg(c, argc, argv, options, &a, "instance name and snapshot name", member, &m);
        if (r <= 0)
                return r;
        r = CTL_APPEND_OPTIONS(m, CTL_BUS_FLAG("async", a.async), CTL_BUS_FLAG("allow-running", a.allow_running));
        if (r < 0)
                return ctl_message_error(c, r);
        return ctl_call_operation(c, &m, a.async ? CTL_OPERATION_PRINT : CTL_OPERATION_BLOCK);
}

int verb_snapshot(Context *c, int argc, char *argv[]) {
        return snapshot_call(c, argc, argv, "Snapshot");
}

int verb_restore(Context *c, int argc, char *argv[]) {
        return snapshot_call(c, argc, argv, "RestoreSnapshot");
}

int verb_snapshot_delete(Context *c, int argc, char *argv[]) {
        return snapshot_call(c, argc, argv, "DeleteSnapshot");
}

/* A table: NAME CREATED. */
int verb_snapshots(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        const char *name;
        uint64_t created;
        sd_bus *bus;
        int r;

        r = ctl_parse_args(c, argc, argv, options, NULL, 1, "instance name");
        if (r <= 0)
                return r;
        c->instance = argv[optind];
        r = ctl_get_instance_path(c, argv[optind], &path);
        if (r < 0)
                return r;
        r = ctl_bus_get(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, LXCBUS_BUS_NAME, path, LXCBUS_INSTANCE_INTERFACE, "Snapshots", &error, &reply,
                                "a(st)");
        if (r < 0)
                return ctl_bus_error(c, &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(st)");
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply: %m");
        printf("%-32s %s\n", "NAME", "CREATED");
        while ((r = sd_bus_message_read(reply, "(st)", &name, &created)) > 0) {
                char buf[CTL_FORMAT_TIMESTAMP_MAX];
                printf("%-32s %s\n", name, ctl_format_timestamp(buf, sizeof buf, created));
        }
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply: %m");
        return 0;
}

int verb_rename(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = parse_call_with_arg(c, argc, argv, options, NULL, "instance name and new name", "Rename", &m);
        if (r <= 0)
                return r;
        return ctl_call(c, m, 0, NULL);
}

typedef struct CopyArgs {
        const char *snapshot;
        const char *clone;      /* "copy" or "overlay": the daemon judges */
        char **config;          /* alternating keys and values */
        bool ephemeral;
        bool async;
        bool allow_running;
} CopyArgs;

static void copy_args_done(CopyArgs *a) {
        a->config = strv_free(a->config);
}

int verb_copy(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_STRING("snapshot", CopyArgs, snapshot, "Empty snapshot name."),
                CTL_OPTION_STRING("clone", CopyArgs, clone, "--clone takes 'copy' or 'overlay'."),
                CTL_OPTION_CONFIG("config", CopyArgs, config),
                CTL_OPTION_FLAG("ephemeral", CopyArgs, ephemeral),
                CTL_OPTION_FLAG("async", CopyArgs, async),
                CTL_OPTION_FLAG("allow-running", CopyArgs, allow_running),
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(copy_args_done) CopyArgs a = {};
        int r;

        r = parse_call_with_arg(c, argc, argv, options, &a, "source instance and new name", "Copy", &m);
        if (r <= 0)
                return r;
        r = CTL_APPEND_OPTIONS(m,
                               CTL_BUS_STRING("snapshot", a.snapshot, a.snapshot),
                               CTL_BUS_STRING("clone", a.clone, a.clone),
                               CTL_BUS_FLAG("ephemeral", a.ephemeral),
                               CTL_BUS_FLAG("async", a.async),
                               CTL_BUS_FLAG("allow-running", a.allow_running),
                               CTL_BUS_PAIRS("config", a.config));
        if (r < 0)
                return ctl_message_error(c, r);
        return ctl_call_operation(c, &m, a.async ? CTL_OPERATION_PRINT : CTL_OPERATION_BLOCK);
}
