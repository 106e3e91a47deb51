/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "bus-errors.h"
#include "ctl-main.h"
#include "ctl-remote.h"
#include "ctl-util.h"
#include "ctl.h"

#define PROGRAM_NAME "lxcbusctl"

/* getopt_long() values of the common long options; a verb's own follow. */
enum {
        ARG_ADDRESS = 0x100,
        ARG_NO_ASK_PASSWORD,
        ARG_FIRST_VERB_OPTION,
};

void context_done(Context *c) {
        assert(c);

        /* Never leave an agent behind, whatever path led here. */
        ctl_agent_close(&c->agent);
        c->bus = sd_bus_flush_close_unref(c->bus);
        free(c->address);
        c->address = NULL;
        free(c->host);
        c->host = NULL;
}

static void set_exit_status(Context *c, int status) {
        /* The first failure reported decides. */
        if (c->exit_status == 0)
                c->exit_status = status;
}

/* "lxcbusctl: message\n" on stderr; errno is the caller's, for %m. */
_printf_(1, 0)
static void print_error(const char *format, va_list ap) {
        fputs(PROGRAM_NAME ": ", stderr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
}

int ctl_usage_error(Context *c, const char *format, ...) {
        va_list ap;

        assert(c);
        assert(format);

        va_start(ap, format);
        print_error(format, ap);
        va_end(ap);

        set_exit_status(c, CTL_EXIT_USAGE);
        return -EINVAL;
}

int ctl_error_errno(Context *c, int error, const char *format, ...) {
        va_list ap;

        assert(c);
        assert(format);

        error = error < 0 ? -error : error;

        errno = error;  /* for %m */
        va_start(ap, format);
        print_error(format, ap);
        va_end(ap);

        set_exit_status(c, CTL_EXIT_FAILURE);
        return -error;
}

/* "start web: " for the messages of a denied call, which the daemon words for D-Bus, not for this command
 * line. */
static void print_what(const Context *c) {
        if (c->verb)
                fprintf(stderr, "%s%s%s: ", c->verb, c->instance ? " " : "", strempty(c->instance));
}

static int access_denied(Context *c, const sd_bus_error *error, int r) {
        fputs(PROGRAM_NAME ": ", stderr);
        print_what(c);

        if (sd_bus_error_has_name(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)) {
                /* polkit wanted to ask for a password, and this call did not allow it. */
                fputs("access denied (interactive authentication required; run on a terminal without "
                      "--no-ask-password, or as root)\n", stderr);
        } else if (!isempty(error->message)) {
                const char *msg = error->message;

                /* Said already. */
                if (strncasecmp(msg, "Access denied: ", STRLEN("Access denied: ")) == 0)
                        msg += STRLEN("Access denied: ");
                fprintf(stderr, "access denied (%s)\n", msg);
        }
        else
                fputs("access denied\n", stderr);

        set_exit_status(c, CTL_EXIT_FAILURE);
        return r;
}

int ctl_bus_error(Context *c, const sd_bus_error *error, int r) {
        assert(r < 0);

        if (!sd_bus_error_is_set(error))
                return ctl_error_errno(c, r, "%m");

        if (sd_bus_error_has_names(error, SD_BUS_ERROR_ACCESS_DENIED,
                                   SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                return access_denied(c, error, r);

        /* The daemon's messages name the object, so they stand on their own. */
        fprintf(stderr, PROGRAM_NAME ": %s\n", !isempty(error->message) ? error->message : error->name);
        set_exit_status(c, ctl_exit_status_from_error_name(error->name));
        return r;
}

/* One printf of the whole text, laid out as it prints: longer than 80 lines, and clearer so than split. */
void ctl_help(void) {
        printf("%1$s [OPTIONS...] COMMAND ...\n"
               "\n"
               "Manage lxcbus container instances through the lxcbusd D-Bus API.\n"
               "\n"
               "Instance commands:\n"
               "  list [--json]                    List instances\n"
               "  info NAME [--json]               Show properties and live figures of an instance\n"
               "  create NAME [--template=T|--empty] [--config=KEY=VALUE...] [--ephemeral] [--async]\n"
               "                                   Create an instance (default template: busybox)\n"
               "  start NAME [--timeout=SEC] [--async]\n"
               "                                   Start an instance\n"
               "  stop NAME [--timeout=SEC] [--force] [--async]\n"
               "                                   Stop an instance (timeout 0: kill at once)\n"
               "  restart NAME [--timeout=SEC] [--force] [--async]\n"
               "                                   Stop and start an instance\n"
               "  freeze NAME                      Freeze all processes of an instance\n"
               "  unfreeze NAME                    Thaw a frozen instance\n"
               "  kill NAME [-s SIG|--signal=SIG] [--all]\n"
               "                                   Send a signal to init (or all processes)\n"
               "  delete NAME [--force] [--async]  Delete an instance (--force: stop it first)\n"
               "  exec NAME [-t|-T] [-i] [--env=K=V...] [--cwd=DIR] [--user=UID[:GID]] [--] CMD [ARGS...]\n"
               "                                   Run a command in a running instance with this\n"
               "                                   terminal's stdin/stdout/stderr; exit with its status\n"
               "                                   (-t: on a new terminal, the default on a terminal;\n"
               "                                   -i: read a terminal as stdin without -t)\n"
               "  console NAME [--tty=N]           Attach to the console (or terminal N) of an instance;\n"
               "                                   Ctrl-a q detaches\n"
               "  console-log NAME [--clear]       Print the console log of an instance\n"
               "  file push LOCAL NAME:PATH [--mode=M] [--uid=U] [--gid=G] [-p]\n"
               "                                   Copy a file into an instance (LOCAL '-': stdin;\n"
               "                                   -p: create missing directories)\n"
               "  file pull NAME:PATH LOCAL        Copy a regular file out of an instance ('-': stdout)\n"
               "\n"
               "Configuration commands:\n"
               "  config NAME show [--json]        Show the configuration keys of an instance\n"
               "  config NAME set KEY=VALUE... [--expected-generation=N]\n"
               "                                   Set configuration keys\n"
               "  config NAME unset KEY... [--expected-generation=N]\n"
               "                                   Remove configuration keys\n"
               "\n"
               "Snapshot, rename and copy commands:\n"
               "  snapshot NAME SNAP [--allow-running] [--async]\n"
               "                                   Take a snapshot of a stopped (or, frozen meanwhile, a\n"
               "                                   running) instance\n"
               "  restore NAME SNAP [--async]      Restore a stopped instance from a snapshot\n"
               "  snapshot-delete NAME SNAP [--async]\n"
               "                                   Delete a snapshot\n"
               "  snapshots NAME                   List the snapshots of an instance\n"
               "  rename NAME NEW                  Rename a stopped instance\n"
               "  copy NAME NEW [--snapshot=SNAP [--clone=overlay]] [--ephemeral] [--config=K=V...]\n"
               "       [--allow-running] [--async]\n"
               "                                   Copy a stopped instance (or a snapshot; or, frozen\n"
               "                                   meanwhile, a running one) to a new one\n"
               "\n"
               "Operation commands:\n"
               "  operations [--json]              List running and recently finished operations\n"
               "  operation ID [--wait]            Show an operation (--wait: wait for it, exit with its\n"
               "                                   result)\n"
               "  cancel ID                        Cancel a running operation\n"
               "\n"
               "Import and export:\n"
               "  import NAME FILE|- [--config=KEY=VALUE]... [--ephemeral] [--async]\n"
               "                                   Create an instance from a tarball (an export or a rootfs)\n"
               "  export NAME FILE|- [--compression=none|gzip|xz|zstd] [--snapshots] [--allow-running]\n"
               "       [--async]                   Write a stopped (or, frozen meanwhile, a running)\n"
               "                                   instance as a tarball\n"
               "\n"
               "Metrics:\n"
               "  metrics                          Print the figures of every instance (Prometheus text)\n"
               "\n"
               "systemd:\n"
               "  run-unit NAME                    Main process of lxcbus@NAME.service: start the instance,\n"
               "                                   tell systemd once it runs, exit when it stops (SIGTERM\n"
               "                                   stops it)\n"
               "Autostart and shutdown:\n"
               "  autostart [--timeout=SEC] [--async]\n"
               "                                   Start the instances with boot.autostart, by priority\n"
               "  stop --all [--timeout=SEC] [--force] [--async]\n"
               "                                   Stop every running instance, all at once\n"
               "\n"
               "Options:\n"
               "  -h --help                        Show this help\n"
               "     --version                     Show the version\n"
               "     --address=ADDRESS             Connect to this D-Bus address instead of the system bus\n"
               "                                   (default: $LXCBUS_BUS_ADDRESS, if set)\n"
               "     --no-ask-password             Do not ask for a password when polkit wants one\n"
               "  -H --host=[USER@]HOST[:PORT]     Operate on a remote host's lxcbusd over SSH (not exec,\n"
               "                                   console, console-log, file, import, export)\n"
               "\n"
               "See the %1$s(1) man page for details.\n",
               PROGRAM_NAME);
}

/* --address= and -H/--host= (kept as given; sd_bus_open_system_remote() parses it when the bus is first
 * used): a copy of value in *field, which must not be empty. */
static int set_transport(Context *c, char **field, const char *value, const char *empty_error) {
        char *copy;

        if (isempty(value))
                return ctl_usage_error(c, "%s", empty_error);
        copy = strdup(value);
        if (!copy)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        free(*field);
        *field = copy;
        return 0;
}

static int set_address(Context *c, const char *address) {
        return set_transport(c, &c->address, address, "Empty bus address.");
}

/* An option that ctl_parse_options() found in none of the verb's: 1 to go on, 0 when the run is complete
 * (--help), < 0 on a usage error. */
static int common_option(Context *c, int opt, const char *arg) {
        int r;

        switch (opt) {
        case 'h':
                ctl_help();
                return 0;
        case ARG_ADDRESS:
                if (c->host)
                        return ctl_usage_error(c, "--host= and --address= cannot be used together.");
                r = set_address(c, arg);
                c->address_set = r >= 0;
                return r < 0 ? r : 1;
        case 'H':
                if (!isempty(arg) && c->address_set)
                        return ctl_usage_error(c, "--host= and --address= cannot be used together.");
                r = set_transport(c, &c->host, arg, "Empty host.");
                return r < 0 ? r : 1;
        case ARG_NO_ASK_PASSWORD:
                c->no_ask_password = true;
                return 1;
        default:
                /* '?': getopt_long() has already said what is wrong. */
                assert(opt == '?');
                set_exit_status(c, CTL_EXIT_USAGE);
                return -EINVAL;
        }
}

/* getopt_long()'s value of the verb's option i: its short name, or a number beyond the common options. */
static int option_value(const CtlOption options[], size_t i) {
        return options[i].short_name ?: ARG_FIRST_VERB_OPTION + (int) i;
}

static int verb_option(Context *c, const CtlOption *o, const char *arg, void *userdata) {
        uint8_t *field;

        if (o->parse)
                return o->parse(c, arg, userdata);

        assert(userdata);
        field = (uint8_t *) userdata + o->flag;
        if (o->store == CTL_OPTION_STORE_CONFIG)
                return ctl_parse_config_option(c, (char ***) field, arg);
        if (o->store == CTL_OPTION_STORE_STRING) {
                assert(o->empty_error);
                if (isempty(arg))
                        return ctl_usage_error(c, "%s", o->empty_error);
                *(const char **) field = arg;
                return 1;
        }
        *(bool *) field = true;
        return 1;
}

int ctl_parse_options(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                      CtlParseFlags flags) {
        static const struct option common[] = {
                { "help", no_argument, NULL, 'h' },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "host", required_argument, NULL, 'H' },
        };
        /* The common options first: getopt_long() lists the candidates of an ambiguous abbreviation in
         * this order. */
        struct option longopts[ELEMENTSOF(common) + CTL_OPTIONS_MAX + 1] = {};
        char shortopts[4 + 2 * CTL_OPTIONS_MAX + 1] = {};
        size_t n = 0, k = 0;

        assert(c);
        assert(argv);
        assert(options);

        if (flags & CTL_PARSE_IN_ORDER)
                shortopts[k++] = '+';
        shortopts[k++] = 'h';
        shortopts[k++] = 'H';
        shortopts[k++] = ':';
        for (size_t i = 0; i < ELEMENTSOF(common); i++)
                longopts[n++] = common[i];
        for (size_t i = 0; options[i].name; i++) {
                assert(i < CTL_OPTIONS_MAX);
                longopts[n++] = (struct option) {
                        options[i].name,
                        options[i].has_arg ? required_argument : no_argument,
                        NULL,
                        option_value(options, i),
                };
                if (options[i].short_name != 0) {
                        shortopts[k++] = (char) options[i].short_name;
                        if (options[i].has_arg)
                                shortopts[k++] = ':';
                }
        }

        if (!(flags & CTL_PARSE_CONTINUE))
                optind = 0;
        for (;;) {
                int before = optind ?: 1, opt, r = 0;
                size_t i;

                opt = getopt_long(argc, argv, shortopts, longopts, NULL);
                if (opt < 0) {
                        /* -H may stand on either side of the verb: this is the first point where both
                         * are known, and nothing has been opened or called yet. */
                        r = ctl_check_transport(c);
                        if (r < 0)
                                return r;
                        /* Stopped: at "--" (which it skipped), at a non-option, or at the end. */
                        return (flags & CTL_PARSE_IN_ORDER) && optind == before + 1 &&
                                streq(argv[before], "--") ? 2 : 1;
                }

                for (i = 0; options[i].name; i++)
                        if (option_value(options, i) == opt)
                                break;
                if (options[i].name)
                        r = verb_option(c, &options[i], optarg, userdata);
                else
                        r = common_option(c, opt, optarg);
                if (r <= 0)
                        return r;
        }
}

int ctl_expect_args(Context *c, int argc, char *argv[], int n, const char *what) {
        assert(c);
        assert(argv);

        if (argc - optind < n)
                return ctl_usage_error(c, "Missing %s.", what);
        if (argc - optind > n)
                return ctl_usage_error(c, "Unexpected argument '%s'.", argv[optind + n]);
        return 0;
}

int ctl_parse_args(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata, int n,
                   const char *what) {
        int r;

        assert(c);
        assert(argv);
        assert(options);

        r = ctl_parse_options(c, argc, argv, options, userdata, 0);
        if (r <= 0)
                return r;
        r = ctl_expect_args(c, argc, argv, n, what);
        if (r < 0)
                return r;
        return 1;
}

static const struct {
        const char *name;
        int (*run)(Context *c, int argc, char *argv[]);
} verbs[] = {
        { "list", verb_list },
        { "info", verb_info },
        { "create", verb_create },
        { "start", verb_start },
        { "stop", verb_stop },
        { "restart", verb_restart },
        { "freeze", verb_freeze },
        { "unfreeze", verb_unfreeze },
        { "kill", verb_kill },
        { "delete", verb_delete },
        { "config", verb_config },
        { "exec", verb_exec },
        { "console", verb_console },
        { "console-log", verb_console_log },
        { "operations", verb_operations },
        { "file", verb_file },
        { "operation", verb_operation },
        { "cancel", verb_cancel },
        { "snapshot", verb_snapshot },
        { "restore", verb_restore },
        { "snapshot-delete", verb_snapshot_delete },
        { "snapshots", verb_snapshots },
        { "rename", verb_rename },
        { "copy", verb_copy },
        { "import", verb_import },
        { "export", verb_export },
        { "metrics", verb_metrics },
        { "run-unit", verb_run_unit },
        { "autostart", verb_autostart },
};

static int print_version(Context *c, const char *arg, void *userdata) {
        printf("%s %s\n", PROGRAM_NAME, PACKAGE_VERSION);
        return 0;
}

/* Parses the options before the verb: 1 to go on, 0 when done (--help, --version), < 0 on error. */
static int parse_global_options(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_CALL("version", print_version),
                {}
        };

        /* In order: stop at the verb; the verb parses the rest with its own options. */
        return ctl_parse_options(c, argc, argv, options, NULL, CTL_PARSE_IN_ORDER);
}

static int run_verb(Context *c, int argc, char *argv[]) {
        _cleanup_free_ char **vargv = NULL;
        const char *verb;

        if (optind >= argc)
                return ctl_usage_error(c, "Missing command. See '%s --help'.", PROGRAM_NAME);
        verb = argv[optind];

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                int vargc = argc - optind;

                if (!streq(verbs[i].name, verb))
                        continue;
                c->verb = verbs[i].name;

                /* The verb sees its arguments behind the program name, so that getopt_long() reports
                 * errors as "lxcbusctl: ...". Its permutation only reorders this copy. */
                vargv = calloc((size_t) vargc + 1, sizeof(char *));
                if (!vargv)
                        return ctl_error_errno(c, ENOMEM, "Out of memory.");
                vargv[0] = (char *) PROGRAM_NAME;
                for (int j = 1; j < vargc; j++)
                        vargv[j] = argv[optind + j];

                return verbs[i].run(c, vargc, vargv);
        }

        return ctl_usage_error(c, "Unknown command '%s'. See '%s --help'.", verb, PROGRAM_NAME);
}

int ctl_main(int argc, char *argv[]) {
        _cleanup_(context_done) Context c = {};
        const char *e;
        int r;

        /* First, so that errors arriving from the daemon map to their errno. */
        r = lxcbus_bus_errors_register();
        if (r < 0) {
                (void) ctl_error_errno(&c, r, "Failed to register D-Bus error map: %m");
                return CTL_EXIT_FAILURE;
        }

        e = getenv("LXCBUS_BUS_ADDRESS");
        if (!isempty(e)) {
                r = set_address(&c, e);
                if (r < 0)
                        return CTL_EXIT_FAILURE;
        }

        r = parse_global_options(&c, argc, argv);
        if (r > 0)
                r = run_verb(&c, argc, argv);

        /* Output cut short (a full disk, a closed pipe) is a failure too. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (r >= 0)
                        r = ctl_error_errno(&c, errno ?: EIO, "Failed to write output: %m");
        }

        if (r >= 0)
                return c.command_exit_status;   /* CTL_EXIT_SUCCESS but for exec */
        return c.exit_status ?: CTL_EXIT_FAILURE;
}
