/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusctl import and export: the file (or stdin/stdout for "-") is opened here, by the caller, and only
 * its fd goes to the daemon, which never opens a path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bus-options.h"
#include "ctl.h"
#include "ctl-bus.h"
#include "ctl-operation.h"
#include "ctl-util.h"
#include "names.h"
#include "util.h"
#include "worker-proto.h"

typedef struct TransferArgs {
        char **config;          /* import: alternating keys and values */
        const char *compression;
        bool ephemeral;
        bool snapshots;         /* export */
        bool async;
        bool allow_running;     /* export */
} TransferArgs;

static void transfer_args_done(TransferArgs *a) {
        a->config = strv_free(a->config);
}

static int parse_compression(Context *c, const char *arg, void *userdata) {
        TransferArgs *a = userdata;

        if (worker_compression_from_string(arg) < 0)
                return ctl_usage_error(c, "Invalid --compression '%s': none, gzip, xz or zstd.", arg);
        a->compression = arg;
        return 1;
}

/* FILE, or "-" for the standard stream (a terminal refused: a tarball on a terminal is a mistake). */
static int open_file(Context *c, const char *path, bool reading) {
        int fd;

        if (streq(path, "-")) {
                fd = reading ? STDIN_FILENO : STDOUT_FILENO;
                if (isatty(fd))
                        return ctl_usage_error(c, "Refusing to %s a tarball %s a terminal.",
                                               reading ? "read" : "write", reading ? "from" : "to");
                return fd;
        }
        fd = reading ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                     : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return ctl_error_errno(c, -errno, "Failed to open '%s': %m", path);
        return fd;
}

/* The arguments of ImportInstance (instance name, fd, config, options) or Export (fd, options). */
static int append_transfer_args(sd_bus_message *m, const char *instance, int fd, const TransferArgs *a,
                                bool import) {
        int r;

        if (!import) {
                r = sd_bus_message_append(m, "h", fd);
                if (r < 0)
                        return r;
                return CTL_APPEND_OPTIONS(m, CTL_BUS_STRING("compression", a->compression, a->compression),
                                          CTL_BUS_FLAG("async", a->async), CTL_BUS_FLAG("snapshots", a->snapshots),
                                          CTL_BUS_FLAG("allow-running", a->allow_running));
        }
        r = sd_bus_message_append(m, "sh", instance, fd);
        if (r >= 0)
                r = bus_append_string_pairs(m, a->config);
        if (r < 0)
                return r;
        return CTL_APPEND_OPTIONS(m, CTL_BUS_FLAG("ephemeral", a->ephemeral), CTL_BUS_FLAG("async", a->async));
}

/* import and export: NAME and FILE (or -) parsed, FILE opened (for reading: import), the call made with it,
 * and with --async its operation printed. */
static int transfer_verb(Context *c, int argc, char *argv[], const CtlOption *options, bool import) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(transfer_args_done) TransferArgs a = {};
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = ctl_parse_args(c, argc, argv, options, &a, 2, "instance name and FILE (or -)");
        if (r <= 0)
                return r;
        c->instance = argv[optind];
        fd = open_file(c, argv[optind + 1], import);
        if (fd < 0)
                return fd;

        r = import ? ctl_new_method_call(c, LXCBUS_PATH, LXCBUS_MANAGER_INTERFACE, "ImportInstance", &m)
                   : ctl_new_instance_call(c, c->instance, "Export", &m);
        if (r < 0)
                return r;
        r = append_transfer_args(m, c->instance, fd, &a, import);
        if (r < 0)
                return ctl_message_error(c, r);
        if (fd <= STDERR_FILENO)
                TAKE_FD(fd);    /* never close our stdio */
        return ctl_call_operation(c, &m, a.async ? CTL_OPERATION_PRINT : CTL_OPERATION_BLOCK);
}

int verb_import(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_CONFIG("config", TransferArgs, config),
                CTL_OPTION_FLAG("ephemeral", TransferArgs, ephemeral),
                CTL_OPTION_FLAG("async", TransferArgs, async),
                {}
        };

        return transfer_verb(c, argc, argv, options, true);
}

int verb_export(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_ARG("compression", parse_compression),
                CTL_OPTION_FLAG("async", TransferArgs, async),
                CTL_OPTION_FLAG("snapshots", TransferArgs, snapshots),
                CTL_OPTION_FLAG("allow-running", TransferArgs, allow_running),
                {}
        };

        return transfer_verb(c, argc, argv, options, false);
}
