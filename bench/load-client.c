/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* load-client: many concurrent clients of org.lxcbus1 for tests/integration/test_load.py (issue 15, item
 * 4). Python with Gio costs a process of 30 MB and a millisecond of CPU per call, so 500 clients on 2 cores
 * measure Python; this forks one small process per client instead, each with its own sd-bus connection
 * opened after it became the user (the bus and polkit see that uid), and blocking calls (a client is a
 * client: one call at a time, as a script would do them).
 *
 *   load-client run OPTIONS         N clients of one uid, C calls each, a random mix of kinds (below)
 *   load-client probe OPTIONS NAME  root's Start, then Stop({timeout-sec: 0}) of NAME, timed, in a loop
 *                                   until the stop fd reads EOF (each Stop retried on LimitsExceeded,
 *                                   the time counted from the first try)
 *   load-client create OPTIONS NAME...   as the uid, CreateInstance(NAME, busybox) of the first, then
 *                                   Copy of it to each other NAME; AccessDenied is retried until
 *                                   --deadline (polkitd loads a new rule by inotify, a moment after it
 *                                   was written)
 *
 * Options: --uid U --gid G (the clients' ids; root stays root), --clients N, --calls C, --seed S,
 * --ready FD (each client writes one byte there once connected), --go FD (each client waits for EOF
 * there before its first call), --stop FD (probe: stop at EOF), --out PATH (run: a directory, one file
 * per client; probe: a file), --lifecycle A,B (the uid's own instances to Start, Stop and SetConfig),
 * --exec NAME (the uid's running instance for Exec), --read A,B,... (instances to read), --deadline SEC.
 *
 * Every call becomes a line "KIND MICROSECONDS RESULT" in the output, RESULT being "ok", the D-Bus error
 * name, "errno-N" or (exec) "status-S-SIGNAL". Kinds: list (Manager.ListInstances), objects
 * (ObjectManager.GetManagedObjects), get (Properties.Get State), getconfig (Properties.Get Config),
 * setconfig (SetConfig of user.load), start (Start({})), stop (Stop({timeout-sec: 0})), exec
 * (Exec(['true']) with /dev/null x3, then Process.Wait: the call to the exit status); probe: rootstart,
 * rootstop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench-util.h"

#define DEST "org.lxcbus1"
#define MGR_PATH "/org/lxcbus1"
#define MGR_IFACE "org.lxcbus1.Manager"
#define INST_IFACE "org.lxcbus1.Instance"
#define PROC_IFACE "org.lxcbus1.Process"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"
#define CALL_TIMEOUT_US (300ULL * 1000000ULL)
#define MAX_NAMES 64

typedef enum Kind { K_LIST, K_OBJECTS, K_GET, K_GETCONFIG, K_SETCONFIG, K_START, K_STOP, K_EXEC, _K_MAX } Kind;

static const char *const kind_name[_K_MAX] = {
        [K_LIST] = "list", [K_OBJECTS] = "objects", [K_GET] = "get", [K_GETCONFIG] = "getconfig",
        [K_SETCONFIG] = "setconfig", [K_START] = "start", [K_STOP] = "stop", [K_EXEC] = "exec",
};

/* The mix of one client's calls, in parts of 100: mostly reads, as a desktop or a monitoring agent does,
 * and enough of every change that the instances' locks and the operation limits are contended. */
static const unsigned kind_weight[_K_MAX] = {
        [K_LIST] = 15, [K_OBJECTS] = 8, [K_GET] = 17, [K_GETCONFIG] = 15,
        [K_SETCONFIG] = 15, [K_START] = 10, [K_STOP] = 10, [K_EXEC] = 10,
};

static struct {
        uid_t uid;
        gid_t gid;
        unsigned clients, calls, seed, deadline;
        int ready_fd, go_fd, stop_fd;
        const char *out;
        char *lifecycle[MAX_NAMES], *read[MAX_NAMES], *exec;
        size_t n_lifecycle, n_read;
} arg = { .clients = 1, .calls = 100, .ready_fd = -1, .go_fd = -1, .stop_fd = -1, .deadline = 60 };

static char *inst_path(const char *name) {
        char *p = NULL;

        if (sd_bus_path_encode("/org/lxcbus1/instance", name, &p) < 0)
                die("path encode");
        return p;
}

static void split_names(char *list, char **out, size_t *n) {
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (*n >= MAX_NAMES)
                        die("more than %d names", MAX_NAMES);
                out[(*n)++] = inst_path(t);
        }
}

/* Drops root for the client's uid; root's clients stay root. */
static void become(void) {
        if (arg.uid == 0)
                return;
        if (setgroups(0, NULL) < 0 || setresgid(arg.gid, arg.gid, arg.gid) < 0 ||
            setresuid(arg.uid, arg.uid, arg.uid) < 0)
                die("becoming %u:%u: %m", (unsigned) arg.uid, (unsigned) arg.gid);
}

/* dbus-daemon takes at most 64 connections at a time that have not finished authenticating
 * (max_incomplete_connections) and drops the rest: 500 clients connecting at once retry. */
static sd_bus *connect_bus(void) {
        sd_bus *bus = NULL;
        int r;

        for (unsigned k = 0;; k++) {
                r = sd_bus_open_system(&bus);
                if (r >= 0)
                        r = sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_US);
                if (r >= 0)
                        r = sd_bus_get_unique_name(bus, &(const char *) { NULL });
                if (r >= 0)
                        return bus;
                bus = sd_bus_flush_close_unref(bus);
                if (k >= 100)
                        die("connecting to the system bus: %s", strerror(-r));
                usleep(20000 + (unsigned) rand() % 80000);
        }
}

/* One byte on the ready fd, then wait for EOF on the go fd: every client connected before any calls. */
static void ready_and_wait(void) {
        char c = 'r';

        if (arg.ready_fd >= 0 && write(arg.ready_fd, &c, 1) != 1)
                die("write ready: %m");
        if (arg.go_fd >= 0)
                while (read(arg.go_fd, &c, 1) != 0)
                        if (errno != EINTR)
                                die("read go: %m");
}

static const char *result_of(int r, const sd_bus_error *err, char *buf, size_t size) {
        if (r >= 0)
                return "ok";
        if (err->name)
                return err->name;
        snprintf(buf, size, "errno-%d", -r);
        return buf;
}

static int call_options(sd_bus *bus, const char *path, const char *method, bool kill, sd_bus_error *err) {
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, path, INST_IFACE, method);
        if (r >= 0)
                r = kill ? sd_bus_message_append(m, "a{sv}", 1, "timeout-sec", "u", (uint32_t) 0)
                         : sd_bus_message_append(m, "a{sv}", 0);
        if (r >= 0)
                r = sd_bus_call(bus, m, CALL_TIMEOUT_US, err, &reply);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return r;
}

/* Exec(['true']) and Process.Wait: 0 on exit status 0, 1 with the status and signal set otherwise, < 0 an error. */
static int call_exec(sd_bus *bus, const char *path, int null_r, int null_w, sd_bus_error *err, int *status,
                     int *sig) {
        sd_bus_message *m = NULL, *reply = NULL, *wait = NULL;
        const char *proc;
        int32_t st = 0, sg = 0;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, path, INST_IFACE, "Exec");
        if (r >= 0)
                r = sd_bus_message_append(m, "asa{ss}hhha{sv}", 1, "true", 0, null_r, null_w, null_w, 0);
        if (r >= 0)
                r = sd_bus_call(bus, m, CALL_TIMEOUT_US, err, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &proc);
        if (r >= 0)
                r = sd_bus_call_method(bus, DEST, proc, PROC_IFACE, "Wait", err, &wait, "");
        if (r >= 0)
                r = sd_bus_message_read(wait, "ii", &st, &sg);
        sd_bus_message_unref(wait);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        *status = st;
        *sig = sg;
        return st != 0 || sg != 0;
}

static int call_kind(sd_bus *bus, Kind k, unsigned client, unsigned n, int null_r, int null_w, char *result,
                     size_t size) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *lc = arg.lifecycle[rand() % arg.n_lifecycle], *rd = arg.read[rand() % arg.n_read];
        char value[64];
        int r = 0, status = 0, sig = 0;

        switch (k) {
        case K_LIST:
                r = sd_bus_call_method(bus, DEST, MGR_PATH, MGR_IFACE, "ListInstances", &err, &reply, "");
                break;
        case K_OBJECTS:
                r = sd_bus_call_method(bus, DEST, MGR_PATH, "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", &err, &reply, "");
                break;
        case K_GET:
        case K_GETCONFIG:
                r = sd_bus_call_method(bus, DEST, rd, PROPS_IFACE, "Get", &err, &reply, "ss", INST_IFACE,
                                       k == K_GET ? "State" : "Config");
                break;
        case K_SETCONFIG:
                snprintf(value, sizeof value, "%u-%u-%u", (unsigned) arg.uid, client, n);
                r = sd_bus_call_method(bus, DEST, lc, INST_IFACE, "SetConfig", &err, &reply, "a{ss}asa{sv}", 1,
                                       "user.load", value, 0, 0);
                break;
        case K_START:
        case K_STOP:
                r = call_options(bus, lc, k == K_START ? "Start" : "Stop", k == K_STOP, &err);
                break;
        case K_EXEC:
                r = call_exec(bus, arg.exec, null_r, null_w, &err, &status, &sig);
                break;
        default:
                abort();
        }
        if (k == K_EXEC && r > 0)
                snprintf(result, size, "status-%d-%d", status, sig);
        else
                snprintf(result, size, "%s", result_of(r, &err, value, sizeof value));
        sd_bus_message_unref(reply);
        sd_bus_error_free(&err);
        return r;
}

static Kind pick_kind(void) {
        unsigned x = (unsigned) rand() % 100;

        for (Kind k = 0; k < _K_MAX; k++) {
                if (x < kind_weight[k])
                        return k;
                x -= kind_weight[k];
        }
        return K_LIST;
}

static int client_main(unsigned client) {
        char path[4096], result[256];
        int null_r, null_w;
        sd_bus *bus;
        FILE *out;

        srand(arg.seed * 100003u + client);
        become();
        null_r = open("/dev/null", O_RDONLY | O_CLOEXEC);
        null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_r < 0 || null_w < 0)
                die("open /dev/null: %m");
        bus = connect_bus();
        snprintf(path, sizeof path, "%s/%u-%u.txt", arg.out, (unsigned) arg.uid, client);
        out = fopen(path, "we");
        if (!out)
                die("open %s: %m", path);
        ready_and_wait();
        for (unsigned n = 0; n < arg.calls; n++) {
                Kind k = pick_kind();
                uint64_t t0 = now_us();

                (void) call_kind(bus, k, client, n, null_r, null_w, result, sizeof result);
                fprintf(out, "%s %llu %s\n", kind_name[k], (unsigned long long) (now_us() - t0), result);
        }
        if (fclose(out) != 0)
                die("write %s: %m", path);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int do_run(void) {
        pid_t *pids;
        int failed = 0;

        if (arg.n_lifecycle == 0 || arg.n_read == 0 || !arg.exec || !arg.out)
                die("run needs --lifecycle, --read, --exec and --out");
        pids = calloc(arg.clients, sizeof(pid_t));
        if (!pids)
                die("out of memory");
        for (unsigned c = 0; c < arg.clients; c++) {
                pids[c] = fork();
                if (pids[c] < 0)
                        die("fork: %m");
                if (pids[c] == 0)
                        _exit(client_main(c));
        }
        for (unsigned c = 0; c < arg.clients; c++) {
                int st;

                if (waitpid(pids[c], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        failed++;
        }
        free(pids);
        if (failed)
                die("%d of %u clients failed", failed, arg.clients);
        return 0;
}

static bool stop_requested(void) {
        struct pollfd p = { .fd = arg.stop_fd, .events = POLLIN };

        return arg.stop_fd < 0 || poll(&p, 1, 0) > 0;
}

/* A lifecycle call retried while the root reserve is taken by root's own other callers: what a caller
 * waits for is the time until the call went through. */
static void timed_lifecycle(sd_bus *bus, const char *path, bool stop, FILE *out) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char buf[32];
        uint64_t t0 = now_us();
        unsigned retries = 0;
        int r;

        for (;;) {
                r = call_options(bus, path, stop ? "Stop" : "Start", stop, &err);
                if (r >= 0 || !sd_bus_error_has_name(&err, "org.lxcbus1.Error.LimitsExceeded"))
                        break;
                sd_bus_error_free(&err);
                retries++;
                usleep(10000);
        }
        fprintf(out, "%s %llu %s %u\n", stop ? "rootstop" : "rootstart", (unsigned long long) (now_us() - t0),
                result_of(r, &err, buf, sizeof buf), retries);
        fflush(out);
        sd_bus_error_free(&err);
}

static int do_probe(const char *name) {
        char *path = inst_path(name);
        sd_bus *bus;
        FILE *out;

        if (!arg.out)
                die("probe needs --out");
        out = fopen(arg.out, "we");
        if (!out)
                die("open %s: %m", arg.out);
        become();
        bus = connect_bus();
        ready_and_wait();
        while (!stop_requested()) {
                timed_lifecycle(bus, path, false, out);
                timed_lifecycle(bus, path, true, out);
        }
        if (fclose(out) != 0)
                die("write %s: %m", arg.out);
        sd_bus_flush_close_unref(bus);
        free(path);
        return 0;
}

/* The first from the busybox template, the others copies of it: the template is a shell script that
 * forks a process per applet, a copy is one worker's tree walk, several times cheaper. */
static int do_create(char **names, int n) {
        char *first = NULL;
        sd_bus *bus;

        become();
        bus = connect_bus();
        for (int k = 0; k < n; k++) {
                uint64_t deadline = now_us() + arg.deadline * 1000000ULL;

                for (;;) {
                        sd_bus_error err = SD_BUS_ERROR_NULL;
                        sd_bus_message *reply = NULL;
                        int r;

                        if (k == 0)
                                r = sd_bus_call_method(bus, DEST, MGR_PATH, MGR_IFACE, "CreateInstance", &err,
                                                       &reply, "sa{sv}a{ss}a{sv}", names[k], 2, "type", "s",
                                                       "template", "template", "s", "busybox", 0, 0);
                        else
                                r = sd_bus_call_method(bus, DEST, first, INST_IFACE, "Copy", &err, &reply,
                                                       "sa{sv}", names[k], 0);
                        sd_bus_message_unref(reply);
                        if (r >= 0)
                                break;
                        if (!sd_bus_error_has_name(&err, SD_BUS_ERROR_ACCESS_DENIED) || now_us() > deadline)
                                die("CreateInstance %s as uid %u: %s: %s", names[k], (unsigned) arg.uid,
                                    err.name ? err.name : "?", err.message ? err.message : strerror(-r));
                        sd_bus_error_free(&err);
                        usleep(50000);
                }
                if (k == 0)
                        first = inst_path(names[0]);
        }
        free(first);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static unsigned number(const char *s) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v > UINT32_MAX)
                die("not a number: '%s'", s);
        return (unsigned) v;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "uid", required_argument, NULL, 'u' },       { "gid", required_argument, NULL, 'g' },
                { "clients", required_argument, NULL, 'n' },   { "calls", required_argument, NULL, 'c' },
                { "seed", required_argument, NULL, 's' },      { "ready", required_argument, NULL, 'R' },
                { "go", required_argument, NULL, 'G' },        { "stop", required_argument, NULL, 'S' },
                { "out", required_argument, NULL, 'o' },       { "lifecycle", required_argument, NULL, 'l' },
                { "exec", required_argument, NULL, 'e' },      { "read", required_argument, NULL, 'r' },
                { "deadline", required_argument, NULL, 'd' },  {}
        };
        const char *verb;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'u': arg.uid = number(optarg); break;
                case 'g': arg.gid = number(optarg); break;
                case 'n': arg.clients = number(optarg); break;
                case 'c': arg.calls = number(optarg); break;
                case 's': arg.seed = number(optarg); break;
                case 'R': arg.ready_fd = (int) number(optarg); break;
                case 'G': arg.go_fd = (int) number(optarg); break;
                case 'S': arg.stop_fd = (int) number(optarg); break;
                case 'o': arg.out = optarg; break;
                case 'l': split_names(optarg, arg.lifecycle, &arg.n_lifecycle); break;
                case 'e': arg.exec = inst_path(optarg); break;
                case 'r': split_names(optarg, arg.read, &arg.n_read); break;
                case 'd': arg.deadline = number(optarg); break;
                default: die("bad option");
                }
        if (optind >= argc)
                die("usage: load-client run|probe|create [OPTIONS] [NAME...]");
        verb = argv[optind++];
        if (strcmp(verb, "run") == 0)
                return do_run();
        if (strcmp(verb, "probe") == 0 && optind + 1 == argc)
                return do_probe(argv[optind]);
        if (strcmp(verb, "create") == 0)
                return do_create(argv + optind, argc - optind);
        die("unknown verb or wrong arguments: %s", verb);
}
