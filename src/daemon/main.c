/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
#include "bus-limits.h"
#include "daemon-dbus.h"
#include "machined.h"
#include "manager.h"
#include "log.h"
#include "util.h"

static void help(void) {
        printf("lxcbusd [OPTIONS...]\n\n"
               "Manages LXC system containers on the system bus as org.lxcbus1.\n\n"
               "  -h --help                    Show this help\n"
               "     --version                 Show the version\n"
               "     --bus-address=ADDRESS     Connect to this bus instead of the system bus\n"
               "     --state-dir=DIR           Instances and metadata (default " LXCBUS_STATE_DIR ")\n"
               "     --runtime-dir=DIR         Runtime state (default " LXCBUS_RUNTIME_DIR ")\n"
               "     --worker-path=PATH        The lxcbusd-worker binary (default " LXCBUS_WORKER_PATH ")\n"
               "     --operation-linger-sec=N  How long finished operations stay (default 300)\n"
               "     --polkit-timeout-sec=N    Deny when polkit has not answered in N s (default 25;\n"
               "                               interactive checks wait at least 300 s)\n"
               "     --max-instances=N         Refuse to create more than N instances (1 to %u,\n"
               "                               default %u)\n"
               "     --max-instances-per-owner=N\n"
               "                               Instances one user other than root may own\n"
               "                               (default 16; 0 for none)\n"
               "     --log-level=LEVEL         debug, info, notice, warning, err (default info)\n",
               LXCBUS_INSTANCES_MAX, LXCBUS_INSTANCES_MAX);
}

/* A whole number from min to max, in decimal (as strtoul() reads it: "-0" is 0). */
static int parse_count(const char *s, unsigned long min, unsigned long max, unsigned long *ret) {
        unsigned long v;
        char *end;

        v = strtoul(s, &end, 10);
        if (!*s || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* lxcbusd's options: options[c - ARG_VERSION + 1] is ARG_'s. */
enum {
        ARG_VERSION = 0x100,
        ARG_BUS_ADDRESS,
        ARG_STATE_DIR,
        ARG_RUNTIME_DIR,
        ARG_WORKER_PATH,
        ARG_LINGER,
        ARG_LOG_LEVEL,
        ARG_POLKIT_TIMEOUT,
        ARG_MAX_INSTANCES_PER_OWNER,
        ARG_MAX_INSTANCES,
};

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
        { "state-dir", required_argument, NULL, ARG_STATE_DIR },
        { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
        { "worker-path", required_argument, NULL, ARG_WORKER_PATH },
        { "operation-linger-sec", required_argument, NULL, ARG_LINGER },
        { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
        { "polkit-timeout-sec", required_argument, NULL, ARG_POLKIT_TIMEOUT },
        { "max-instances-per-owner", required_argument, NULL, ARG_MAX_INSTANCES_PER_OWNER },
        { "max-instances", required_argument, NULL, ARG_MAX_INSTANCES },
        {}
};

/* One case per option, each with the check of its value. */
static int parse_argv(Manager *m, int argc, char *argv[]) {
        /* The string options, from ARG_BUS_ADDRESS to ARG_WORKER_PATH. */
        char **strings[] = { &m->bus_address, &m->state_dir, &m->runtime_dir, &m->worker_path };
        unsigned long v;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                const char *name = c >= ARG_VERSION ? options[c - ARG_VERSION + 1].name : NULL;

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("lxcbusd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_BUS_ADDRESS:
                case ARG_STATE_DIR:
                case ARG_RUNTIME_DIR:
                case ARG_WORKER_PATH:
                        if (optarg[0] != '/' && c != ARG_BUS_ADDRESS)
                                return log_error_errno(EINVAL, "%s needs an absolute path.", name);
                        free(*strings[c - ARG_BUS_ADDRESS]);
                        *strings[c - ARG_BUS_ADDRESS] = strdup(optarg);
                        if (!*strings[c - ARG_BUS_ADDRESS])
                                return log_oom();
                        break;
                case ARG_LINGER:
                case ARG_POLKIT_TIMEOUT:
                        if (parse_count(optarg, c == ARG_POLKIT_TIMEOUT, 86400, &v) < 0)
                                return log_error_errno(EINVAL, "Invalid --%s: %s", name, optarg);
                        *(c == ARG_LINGER ? &m->operation_linger_usec : &m->polkit_timeout_usec) = v * USEC_PER_SEC;
                        break;
                case ARG_MAX_INSTANCES_PER_OWNER:
                        if (optarg[0] == '-' || parse_count(optarg, 0, INSTANCES_PER_OWNER_MAX, &v) < 0)
                                return log_error_errno(EINVAL, "Invalid --max-instances-per-owner (0 to %u): %s",
                                                       INSTANCES_PER_OWNER_MAX, optarg);
                        m->max_instances_per_owner = (unsigned) v;
                        break;
                case ARG_MAX_INSTANCES:
                        /* The ceiling keeps GetManagedObjects within the bus's message limit (bus-limits.h). */
                        if (parse_count(optarg, 1, LXCBUS_INSTANCES_MAX, &v) < 0)
                                return log_error_errno(EINVAL, "Invalid --max-instances (1 to %u): %s",
                                                       LXCBUS_INSTANCES_MAX, optarg);
                        m->max_instances = (unsigned) v;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Invalid --log-level: %s", optarg);
                        log_set_max_level(r);
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "This program takes no arguments.");
        return 1;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, exiting; running instances keep running.", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1");
        (void) sd_event_exit(m->event, 0);
        return 0;
}

static int connect_bus(Manager *m) {
        int r;

        if (m->bus_address) {
                r = sd_bus_new(&m->bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(m->bus, m->bus_address);
                if (r < 0)
                        return r;
                (void) sd_bus_set_bus_client(m->bus, true);
                (void) sd_bus_negotiate_creds(m->bus, true, SD_BUS_CREDS_UNIQUE_NAME);
                r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return r;
        /* Off the bus nobody can reach us, and the watchdog would not notice: leave the event loop with
         * a failure, so that systemd restarts us (Restart=on-failure) and running instances are
         * picked up again. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        return manager_bus_setup_trust(m);
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_setup();
        r = lxcbus_bus_errors_register();
        if (r < 0)
                return log_error_errno(r, "Failed to register errors: %m"), EXIT_FAILURE;

        r = manager_new(&m);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate: %m"), EXIT_FAILURE;
        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (!m->state_dir && !(m->state_dir = strdup(LXCBUS_STATE_DIR)))
                return log_oom(), EXIT_FAILURE;
        if (!m->runtime_dir && !(m->runtime_dir = strdup(LXCBUS_RUNTIME_DIR)))
                return log_oom(), EXIT_FAILURE;
        if (!m->worker_path && !(m->worker_path = strdup(LXCBUS_WORKER_PATH)))
                return log_oom(), EXIT_FAILURE;
        if (access(m->worker_path, X_OK) < 0)
                return log_error_errno(errno, "Cannot execute %s: %m", m->worker_path), EXIT_FAILURE;

        /* Some replies are large and short-lived: GetManagedObjects with 1000 instances is 550 KiB. glibc
         * raises its mmap threshold to the size of the first such buffer freed, builds the next ones in
         * the heap, and keeps their pages after they are sent: 0.5 MiB more RSS for good. A fixed
         * threshold maps each one and gives it back once sent, for a few page faults per call. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);

        /* A start worker is the monitor of its instance and must never die with us (SIGPIPE included). */
        (void) signal(SIGPIPE, SIG_IGN);
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGCHLD);    /* sd-event child sources (workers) */
        (void) sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signals: %m"), EXIT_FAILURE;
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = connect_bus(m);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m"), EXIT_FAILURE;

        m->hooks = &bus_manager_hooks;
        r = manager_startup(m);
        if (r < 0)
                return EXIT_FAILURE;
        manager_set_ready(m);
        r = manager_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register on the bus: %m"), EXIT_FAILURE;
        /* After the adoptions: the answer registers every running instance with machined. */
        r = machined_watch(m);
        if (r < 0)
                log_warning_errno(r, "Failed to follow systemd-machined on the bus, ignoring: %m");

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        /* A positive exit code is sd-bus's EXIT_FAILURE after the bus went away. */
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
