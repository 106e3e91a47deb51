/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-bus: the bus side of bench/run.sh, a synchronous sd-bus client of org.lxcbus1 on the system
 * bus (blocking is fine: it is a client). One connection per run, reused for every call.
 *
 * Every timed sample is printed on stdout as "SAMPLE <metric> <side> <microseconds>"; warm-up
 * iterations are run but not printed. Diagnostics go to stderr.
 *
 *   bench-bus startstop NAME ITER WARM     Instance.Start({}) (replies when running, scope included),
 *                                          then Instance.Stop({timeout-sec: 0}) per iteration
 *   bench-bus shutdown  NAME ITER WARM     untimed Start, timed Stop({}) (default timeout: clean)
 *   bench-bus freeze    NAME ITER WARM     Freeze() + Unfreeze() round trips on a running instance
 *   bench-bus mklist    PREFIX COUNT       CreateInstance(PREFIX%03d, {type: none}) COUNT times
 *   bench-bus rmlist    PREFIX COUNT       Delete them again
 *   bench-bus list      ITER WARM MIN      Manager.ListInstances(), checking >= MIN entries
 *   bench-bus breakdown NAME ITER WARM     async Start / Stop, time-stamping the signals that arrive
 *                                          (Operation Stage, Instance State, systemd JobRemoved of
 *                                          the scope) to show where the time of a start/stop goes
 *   bench-bus breakdown-clean NAME ITER WARM   the same for Stop({}) (clean shutdown)
 *   bench-bus scope     ITER WARM          a bare transient scope in machine.slice (Delegate=yes):
 *                                          StartTransientUnit until JobRemoved, StopUnit until
 *                                          JobRemoved: the systemd share of a start/stop
 *   bench-bus exec      NAME ITER WARM     Instance.Exec(['true'], {}, /dev/null x3, {}) +
 *                                          Process.Wait(): from the call to the exit status (the
 *                                          instance is started first if it is not running, and
 *                                          stopped again at the end then)
 *   bench-bus exec-throughput NAME ITER WARM   Exec(['dd', 'if=/dev/zero', 'bs=1048576', 'count=1024']) with
 *                                          stdout a pipe read (and counted) here, then Wait(): from
 *                                          the call to the exit status with every byte read
 *   bench-bus authcall NAME ITER WARM SIDE   SetConfig({description: ...}, [], {}) round trips, printed as
 *                                          metric "setconfig" with side SIDE: run as root (never asks
 *                                          polkit) and as a user a polkit rule allows (one
 *                                          CheckAuthorization per call) to show what polkit adds
 *   bench-bus pkcheck ITER WARM            the floor of that: CheckAuthorization for org.lxcbus1.config
 *                                          straight to polkitd, subject our own bus name, no details
 *                                          (polkitd takes details only from root or the action's
 *                                          owner); side "polkitd" of metric "setconfig" */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define DEST "org.lxcbus1"
#define MGR_PATH "/org/lxcbus1"
#define MGR_IFACE "org.lxcbus1.Manager"
#define INST_IFACE "org.lxcbus1.Instance"
#define OP_IFACE "org.lxcbus1.Operation"
#define CALL_TIMEOUT_US (120ULL * 1000000ULL)

static sd_bus *bus;

static char *inst_path(const char *name) {
        char *p = NULL;
        if (sd_bus_path_encode("/org/lxcbus1/instance", name, &p) < 0)
                die("path encode");
        return p;
}

/* Calls an Instance method taking (a{sv} options): opts is NULL, or one key with a u or b value. */
enum { OPT_NONE, OPT_U, OPT_B };
static sd_bus_message *call_inst(const char *path, const char *method, const char *key, int type, unsigned val) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, path, INST_IFACE, method);
        if (r < 0)
                die("new call: %s", strerror(-r));
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && type == OPT_U)
                r = sd_bus_message_append(m, "{sv}", key, "u", (uint32_t) val);
        else if (r >= 0 && type == OPT_B)
                r = sd_bus_message_append(m, "{sv}", key, "b", (int) val);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                die("append: %s", strerror(-r));
        r = sd_bus_call(bus, m, CALL_TIMEOUT_US, &err, &reply);
        if (r < 0)
                die("%s.%s on %s failed: %s: %s", INST_IFACE, method, path, err.name ? err.name : "?",
                    err.message ? err.message : strerror(-r));
        sd_bus_message_unref(m);
        return reply;
}

static void call_void(const char *path, const char *method) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, DEST, path, INST_IFACE, method, &err, &reply, "");
        if (r < 0)
                die("%s on %s failed: %s: %s", method, path, err.name ? err.name : "?",
                    err.message ? err.message : strerror(-r));
        sd_bus_message_unref(reply);
}

static char *get_state(const char *path) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int r = sd_bus_get_property_string(bus, DEST, path, INST_IFACE, "State", &err, &s);
        if (r < 0)
                die("get State of %s: %s", path, err.message ? err.message : strerror(-r));
        return s;
}

static void ensure_stopped(const char *path) {
        char *s = get_state(path);
        if (strcmp(s, "frozen") == 0)
                call_void(path, "Unfreeze");
        if (strcmp(s, "stopped") != 0)
                sd_bus_message_unref(call_inst(path, "Stop", "timeout-sec", OPT_U, 0));
        free(s);
}

static void expect_state(const char *path, const char *want) {
        char *s = get_state(path);
        if (strcmp(s, want) != 0)
                die("%s is %s, expected %s", path, s, want);
        free(s);
}

static int do_startstop(const char *name, int iter, int warm) {
        char *path = inst_path(name);

        ensure_stopped(path);
        for (int k = 0; k < iter + warm; k++) {
                bench_gap();
                uint64_t t0 = now_us();
                sd_bus_message_unref(call_inst(path, "Start", NULL, OPT_NONE, 0));
                uint64_t t1 = now_us();
                expect_state(path, "running");
                bench_gap();
                uint64_t t2 = now_us();
                sd_bus_message_unref(call_inst(path, "Stop", "timeout-sec", OPT_U, 0));
                uint64_t t3 = now_us();
                expect_state(path, "stopped");
                sample("start", "bus", k, warm, t1 - t0);
                sample("stop-kill", "bus", k, warm, t3 - t2);
        }
        free(path);
        return 0;
}

static int do_shutdown(const char *name, int iter, int warm) {
        char *path = inst_path(name);

        ensure_stopped(path);
        for (int k = 0; k < iter + warm; k++) {
                sd_bus_message_unref(call_inst(path, "Start", NULL, OPT_NONE, 0));
                usleep(100000); /* same untimed head start as the floor: see bench-lxc.c */
                uint64_t t0 = now_us();
                sd_bus_message_unref(call_inst(path, "Stop", NULL, OPT_NONE, 0));
                uint64_t t1 = now_us();
                expect_state(path, "stopped");
                sample("stop-clean", "bus", k, warm, t1 - t0);
        }
        free(path);
        return 0;
}

static int do_freeze(const char *name, int iter, int warm) {
        char *path = inst_path(name);

        ensure_stopped(path);
        sd_bus_message_unref(call_inst(path, "Start", NULL, OPT_NONE, 0));
        for (int k = 0; k < iter + warm; k++) {
                uint64_t t0 = now_us();
                call_void(path, "Freeze");
                uint64_t t1 = now_us();
                call_void(path, "Unfreeze");
                uint64_t t2 = now_us();
                sample("freeze+unfreeze", "bus", k, warm, t2 - t0);
                sample("freeze", "bus", k, warm, t1 - t0);
                sample("unfreeze", "bus", k, warm, t2 - t1);
        }
        sd_bus_message_unref(call_inst(path, "Stop", "timeout-sec", OPT_U, 0));
        free(path);
        return 0;
}

static int do_mklist(const char *prefix, int count) {
        for (int k = 0; k < count; k++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                char name[128];
                int r;

                snprintf(name, sizeof name, "%s%03d", prefix, k);
                r = sd_bus_call_method(bus, DEST, MGR_PATH, MGR_IFACE, "CreateInstance", &err, &reply,
                                       "sa{sv}a{ss}a{sv}", name, 1, "type", "s", "none", 0, 0);
                if (r < 0)
                        die("CreateInstance %s: %s", name, err.message ? err.message : strerror(-r));
                sd_bus_message_unref(reply);
        }
        return 0;
}

static int do_rmlist(const char *prefix, int count) {
        for (int k = 0; k < count; k++) {
                char name[128];
                snprintf(name, sizeof name, "%s%03d", prefix, k);
                char *path = inst_path(name);
                sd_bus_message_unref(call_inst(path, "Delete", "force", OPT_B, 1));
                free(path);
        }
        return 0;
}

static int do_list(int iter, int warm, int min) {
        for (int k = 0; k < iter + warm; k++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *n, *s, *p;
                int count = 0, r;

                uint64_t t0 = now_us();
                r = sd_bus_call_method(bus, DEST, MGR_PATH, MGR_IFACE, "ListInstances", &err, &reply, "");
                if (r < 0)
                        die("ListInstances: %s", err.message ? err.message : strerror(-r));
                /* Unpacking is part of a client's cost, as it is of the floor's. */
                r = sd_bus_message_enter_container(reply, 'a', "(sso)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(sso)", &n, &s, &p)) > 0)
                        count++;
                uint64_t t1 = now_us();
                if (r < 0)
                        die("reading ListInstances reply: %s", strerror(-r));
                if (count < min)
                        die("ListInstances returned %d entries, expected >= %d", count, min);
                if (k == 0)
                        fprintf(stderr, "bench-bus: list: %d instances\n", count);
                sd_bus_message_unref(reply);
                sample("list", "bus", k, warm, t1 - t0);
        }
        return 0;
}

/* ---------------------------------------------------------------- breakdown */

struct bd {
        const char *inst_path, *unit;
        char op_path[256];
        uint64_t t0;
        /* stamps, 0 = not seen */
        uint64_t st_starting, st_running, st_stopping, st_stopped, job_removed, stage_container, op_done;
        bool done;
};

static int on_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct bd *b = userdata;
        uint64_t t = now_us();
        const char *iface, *path = sd_bus_message_get_path(m);
        int r;

        if (sd_bus_message_read(m, "s", &iface) < 0)
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *sval = NULL;
                double d;
                char t_;
                const char *contents;

                if (sd_bus_message_read(m, "s", &key) < 0)
                        return 0;
                if (sd_bus_message_peek_type(m, &t_, &contents) < 0)
                        return 0;
                if (strcmp(contents, "s") == 0) {
                        if (sd_bus_message_read(m, "v", "s", &sval) < 0)
                                return 0;
                } else if (strcmp(contents, "d") == 0) {
                        if (sd_bus_message_read(m, "v", "d", &d) < 0)
                                return 0;
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                sd_bus_message_exit_container(m);

                if (!sval)
                        continue;
                if (strcmp(iface, INST_IFACE) == 0 && strcmp(path, b->inst_path) == 0 && strcmp(key, "State") == 0) {
                        if (strcmp(sval, "starting") == 0 && !b->st_starting)
                                b->st_starting = t;
                        else if (strcmp(sval, "running") == 0 && !b->st_running)
                                b->st_running = t;
                        else if (strcmp(sval, "stopping") == 0 && !b->st_stopping)
                                b->st_stopping = t;
                        else if (strcmp(sval, "stopped") == 0 && !b->st_stopped)
                                b->st_stopped = t;
                } else if (strcmp(iface, OP_IFACE) == 0 && b->op_path[0] && strcmp(path, b->op_path) == 0) {
                        if (strcmp(key, "Stage") == 0 && strcmp(sval, "starting container") == 0 && !b->stage_container)
                                b->stage_container = t;
                        if (strcmp(key, "Status") == 0 && strcmp(sval, "running") != 0 && !b->op_done) {
                                b->op_done = t;
                                b->done = true;
                        }
                }
        }
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct bd *b = userdata;
        uint64_t t = now_us();
        uint32_t id;
        const char *job, *unit, *res;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &res) < 0)
                return 0;
        if (strcmp(unit, b->unit) == 0 && !b->job_removed)
                b->job_removed = t;
        return 0;
}

static void bd_run(struct bd *b, const char *method, const char *key, int type, unsigned val) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *op;
        int r;

        b->op_path[0] = 0;
        b->done = false;
        b->t0 = now_us();
        r = sd_bus_message_new_method_call(bus, &m, DEST, b->inst_path, INST_IFACE, method);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "async", "b", 1);
        if (r >= 0 && type == OPT_U)
                r = sd_bus_message_append(m, "{sv}", key, "u", (uint32_t) val);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                die("append: %s", strerror(-r));
        /* sd_bus_call() queues the signals that arrive before the reply; they are dispatched (and
         * stamped) below, a few µs late at most: they are not stamped later than the reply. */
        r = sd_bus_call(bus, m, CALL_TIMEOUT_US, &err, &reply);
        if (r < 0)
                die("%s: %s", method, err.message ? err.message : strerror(-r));
        if (sd_bus_message_read(reply, "o", &op) < 0)
                die("bad reply");
        snprintf(b->op_path, sizeof b->op_path, "%s", op);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        uint64_t deadline = now_us() + CALL_TIMEOUT_US;
        while (!b->done) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("process: %s", strerror(-r));
                if (r > 0)
                        continue;
                if (now_us() > deadline)
                        die("%s: no completion seen", method);
                r = sd_bus_wait(bus, 1000000);
                if (r < 0)
                        die("wait: %s", strerror(-r));
        }
        /* A JobRemoved may trail the operation's completion by a message or two. */
        for (int i = 0; i < 5 && sd_bus_process(bus, NULL) > 0; i++)
                ;
}

#define D(a, b) ((a) && (b) ? (long long) ((a) - (b)) : -1LL)

/* A stamp that was not seen (or came in the other order) is reported, not tabulated. */
static void bsample(const char *metric, int iter, int warm, long long us) {
        if (us < 0) {
                if (iter >= warm)
                        fprintf(stderr, "bench-bus: %s: stamp missing or out of order (%lld)\n", metric, us);
                return;
        }
        sample(metric, "bus", iter, warm, (uint64_t) us);
}

static int do_breakdown(const char *name, int iter, int warm, bool clean) {
        struct bd b = {};
        char unit[256];
        int r;

        snprintf(unit, sizeof unit, "lxcbus-%s.scope", name);
        b.inst_path = inst_path(name);
        b.unit = unit;
        ensure_stopped(b.inst_path);

        r = sd_bus_match_signal(bus, NULL, DEST, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", on_props, &b);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &b);
        if (r < 0)
                die("add match: %s", strerror(-r));
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, "");
        if (r < 0)
                die("Subscribe: %s", strerror(-r));

        for (int k = 0; clean && k < iter + warm; k++) {
                sd_bus_message_unref(call_inst(b.inst_path, "Start", NULL, OPT_NONE, 0));
                usleep(100000); /* as in do_shutdown() */
                for (int i = 0; i < 20 && sd_bus_process(bus, NULL) > 0; i++)
                        ;
                b.st_stopping = b.st_stopped = b.job_removed = b.op_done = 0;
                bd_run(&b, "Stop", NULL, OPT_NONE, 0);
                bsample("bd-stop-clean:call->State=stopped(monitor-exit-seen)", k, warm, D(b.st_stopped, b.t0));
                bsample("bd-stop-clean:stopped->scope-stop-job-done", k, warm, D(b.job_removed, b.st_stopped));
                bsample("bd-stop-clean:scope-job-done->op-completed", k, warm, D(b.op_done, b.job_removed));
                bsample("bd-stop-clean:total(call->op-completed)", k, warm, D(b.op_done, b.t0));
                expect_state(b.inst_path, "stopped");
        }
        for (int k = 0; !clean && k < iter + warm; k++) {
                b.st_starting = b.st_running = b.stage_container = b.job_removed = b.op_done = 0;
                bd_run(&b, "Start", NULL, OPT_NONE, 0);
                /* start: call -> scope job done (JobRemoved seen by us) -> State running -> op done */
                bsample("bd-start:call->scope-job-done", k, warm, D(b.job_removed, b.t0));
                bsample("bd-start:scope-job-done->stage'starting container'", k, warm, D(b.stage_container, b.job_removed));
                bsample("bd-start:scope-job-done->State=running", k, warm, D(b.st_running, b.job_removed));
                bsample("bd-start:running->op-completed", k, warm, D(b.op_done, b.st_running));
                bsample("bd-start:total(call->op-completed)", k, warm, D(b.op_done, b.t0));
                expect_state(b.inst_path, "running");

                b.st_stopping = b.st_stopped = b.job_removed = b.op_done = 0;
                bd_run(&b, "Stop", "timeout-sec", OPT_U, 0);
                bsample("bd-stop:call->State=stopped(monitor-exit-seen)", k, warm, D(b.st_stopped, b.t0));
                bsample("bd-stop:stopped->scope-stop-job-done", k, warm, D(b.job_removed, b.st_stopped));
                bsample("bd-stop:scope-job-done->op-completed", k, warm, D(b.op_done, b.job_removed));
                bsample("bd-stop:total(call->op-completed)", k, warm, D(b.op_done, b.t0));
                expect_state(b.inst_path, "stopped");
        }
        return 0;
}

/* ---------------------------------------------------------------- bare scope */

static const char *scope_job;
static bool scope_job_done;
static char scope_job_result[64];

static int on_scope_job(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        uint32_t id;
        const char *job, *unit, *res;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &res) < 0)
                return 0;
        if (scope_job && strcmp(job, scope_job) == 0) {
                scope_job_done = true;
                snprintf(scope_job_result, sizeof scope_job_result, "%s", res);
        }
        return 0;
}

static void wait_job(sd_bus_message *reply) {
        const char *job;
        if (sd_bus_message_read(reply, "o", &job) < 0)
                die("bad job reply");
        scope_job = job;
        scope_job_done = false;
        while (!scope_job_done) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("process: %s", strerror(-r));
                if (r == 0 && sd_bus_wait(bus, 5000000) < 0)
                        die("wait");
        }
        scope_job = NULL;
        if (strcmp(scope_job_result, "done") != 0)
                die("scope job result %s", scope_job_result);
}

static int do_scope(int iter, int warm) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_scope_job, NULL);
        if (r < 0)
                die("match: %s", strerror(-r));
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "Subscribe", &err, NULL, "");
        if (r < 0)
                die("Subscribe: %s", err.message ? err.message : strerror(-r));

        for (int k = 0; k < iter + warm; k++) {
                sd_bus_message *reply = NULL;
                char unit[64];
                pid_t pid = fork();

                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        pause();
                        _exit(0);
                }
                snprintf(unit, sizeof unit, "lxcbench-scope-%d.scope", k);
                uint64_t t0 = now_us();
                r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "StartTransientUnit", &err, &reply,
                                       "ssa(sv)a(sa(sv))", unit, "fail", 4, "PIDs", "au", 1, (uint32_t) pid,
                                       "Delegate", "b", 1, "Slice", "s", "machine.slice", "Description", "s",
                                       "lxcbench", 0);
                if (r < 0)
                        die("StartTransientUnit: %s", err.message ? err.message : strerror(-r));
                wait_job(reply);
                sd_bus_message_unref(reply);
                uint64_t t1 = now_us();
                r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "StopUnit", &err, &reply, "ss", unit,
                                       "replace");
                if (r < 0)
                        die("StopUnit: %s", err.message ? err.message : strerror(-r));
                wait_job(reply);
                sd_bus_message_unref(reply);
                uint64_t t2 = now_us();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                sample("scope-start(StartTransientUnit+job)", "systemd", k, warm, t1 - t0);
                sample("scope-stop(StopUnit+job)", "systemd", k, warm, t2 - t1);
        }
        return 0;
}

/* ---------------------------------------------------------------- exec */

#define PROC_IFACE "org.lxcbus1.Process"
#define THROUGHPUT_BYTES (1024ULL * 1024 * 1024)

/* Instance.Exec(argv, {}, fds..., {}); returns the process object path (to free). */
static char *exec_start(const char *path, char **argv, int in, int out, int err_fd) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *proc;
        char *ret;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, path, INST_IFACE, "Exec");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{ss}", 0);
        if (r >= 0)   /* sd-bus duplicates the fds into the message */
                r = sd_bus_message_append(m, "hhh", in, out, err_fd);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        if (r < 0)
                die("append: %s", strerror(-r));
        r = sd_bus_call(bus, m, CALL_TIMEOUT_US, &err, &reply);
        if (r < 0)
                die("Exec on %s failed: %s: %s", path, err.name ? err.name : "?",
                    err.message ? err.message : strerror(-r));
        if (sd_bus_message_read(reply, "o", &proc) < 0 || !(ret = strdup(proc)))
                die("bad Exec reply");
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);   /* closes the message's copies of the fds */
        return ret;
}

static void exec_wait(const char *proc, int want_status) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int32_t status, sig;
        int r;

        r = sd_bus_call_method(bus, DEST, proc, PROC_IFACE, "Wait", &err, &reply, "");
        if (r < 0)
                die("Wait on %s failed: %s", proc, err.message ? err.message : strerror(-r));
        if (sd_bus_message_read(reply, "ii", &status, &sig) < 0)
                die("bad Wait reply");
        if (status != want_status || sig != 0)
                die("%s exited with status %d, signal %d", proc, (int) status, (int) sig);
        sd_bus_message_unref(reply);
}

/* Returns whether it started the instance. */
static bool ensure_running(const char *path) {
        char *s = get_state(path);
        bool started = false;

        if (strcmp(s, "stopped") == 0) {
                sd_bus_message_unref(call_inst(path, "Start", NULL, OPT_NONE, 0));
                started = true;
        } else if (strcmp(s, "running") != 0)
                die("%s is %s", path, s);
        free(s);
        expect_state(path, "running");
        return started;
}

static int do_exec(const char *name, int iter, int warm) {
        char *path = inst_path(name);
        char *argv[] = { "true", NULL };
        int null_r = open("/dev/null", O_RDONLY | O_CLOEXEC), null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        bool started;

        if (null_r < 0 || null_w < 0)
                die("open /dev/null: %m");
        started = ensure_running(path);
        for (int k = 0; k < iter + warm; k++) {
                bench_gap();
                uint64_t t0 = now_us();
                char *proc = exec_start(path, argv, null_r, null_w, null_w);
                exec_wait(proc, 0);
                uint64_t t1 = now_us();
                free(proc);
                sample("exec(true)", "bus", k, warm, t1 - t0);
        }
        if (started)
                sd_bus_message_unref(call_inst(path, "Stop", "timeout-sec", OPT_U, 0));
        close(null_r);
        close(null_w);
        free(path);
        return 0;
}

static int do_exec_throughput(const char *name, int iter, int warm) {
        char *path = inst_path(name);
        char *argv[] = { "dd", "if=/dev/zero", "bs=1048576", "count=1024", NULL };
        int null_r = open("/dev/null", O_RDONLY | O_CLOEXEC), null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        static char buf[1 << 17];
        bool started;

        if (null_r < 0 || null_w < 0)
                die("open /dev/null: %m");
        started = ensure_running(path);
        for (int k = 0; k < iter + warm; k++) {
                int p[2];
                uint64_t total = 0;

                if (pipe2(p, O_CLOEXEC) < 0)
                        die("pipe: %m");
                uint64_t t0 = now_us();
                char *proc = exec_start(path, argv, null_r, p[1], null_w);
                close(p[1]);
                for (;;) {
                        ssize_t n = read(p[0], buf, sizeof buf);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                die("read: %m");
                        if (n == 0)
                                break;
                        total += (uint64_t) n;
                }
                exec_wait(proc, 0);
                uint64_t t1 = now_us();
                close(p[0]);
                free(proc);
                if (total != THROUGHPUT_BYTES)
                        die("read %llu bytes, expected %llu", (unsigned long long) total,
                            (unsigned long long) THROUGHPUT_BYTES);
                sample("exec-throughput(1GiB)", "bus", k, warm, t1 - t0);
        }
        if (started)
                sd_bus_message_unref(call_inst(path, "Stop", "timeout-sec", OPT_U, 0));
        close(null_r);
        close(null_w);
        free(path);
        return 0;
}

static int do_authcall(const char *name, int iter, int warm, const char *side) {
        char *path = inst_path(name);

        for (int k = 0; k < iter + warm; k++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                char desc[32];
                int r;

                snprintf(desc, sizeof(desc), "bench %s %d", side, k);
                uint64_t t0 = now_us();
                r = sd_bus_call_method(bus, DEST, path, INST_IFACE, "SetConfig", &err, &reply, "a{ss}asa{sv}", 1,
                                       "description", desc, 0, 0);
                uint64_t t1 = now_us();
                if (r < 0)
                        die("SetConfig on %s failed: %s: %s", path, err.name ? err.name : "?",
                            err.message ? err.message : strerror(-r));
                sd_bus_message_unref(reply);
                sample("setconfig", side, k, warm, t1 - t0);
        }
        free(path);
        return 0;
}

static int do_pkcheck(int iter, int warm) {
        const char *me = NULL;

        if (sd_bus_get_unique_name(bus, &me) < 0)
                die("no unique name");
        for (int k = 0; k < iter + warm; k++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int authorized = 0, challenge = 0, r;

                uint64_t t0 = now_us();
                r = sd_bus_call_method(bus, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                       "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &err, &reply,
                                       "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", me,
                                       "org.lxcbus1.config", 0, 0, "");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "(bba{ss})", &authorized, &challenge, NULL);
                uint64_t t1 = now_us();
                if (r < 0)
                        die("CheckAuthorization failed: %s: %s", err.name ? err.name : "?",
                            err.message ? err.message : strerror(-r));
                if (!authorized)
                        die("CheckAuthorization said no: a rule must allow org.lxcbus1.config");
                sd_bus_message_unref(reply);
                sample("setconfig", "polkitd", k, warm, t1 - t0);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        if (argc < 2)
                die("usage: see the comment at the top of bench/bench-bus.c");
        r = sd_bus_open_system(&bus);
        if (r < 0)
                die("cannot connect to the system bus: %s", strerror(-r));

        const char *mode = argv[1];
        if (argc == 5 && strcmp(mode, "startstop") == 0)
                return do_startstop(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "shutdown") == 0)
                return do_shutdown(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "freeze") == 0)
                return do_freeze(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 4 && strcmp(mode, "mklist") == 0)
                return do_mklist(argv[2], atoi(argv[3]));
        if (argc == 4 && strcmp(mode, "rmlist") == 0)
                return do_rmlist(argv[2], atoi(argv[3]));
        if (argc == 5 && strcmp(mode, "list") == 0)
                return do_list(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "breakdown") == 0)
                return do_breakdown(argv[2], atoi(argv[3]), atoi(argv[4]), false);
        if (argc == 5 && strcmp(mode, "breakdown-clean") == 0)
                return do_breakdown(argv[2], atoi(argv[3]), atoi(argv[4]), true);
        if (argc == 5 && strcmp(mode, "exec") == 0)
                return do_exec(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "exec-throughput") == 0)
                return do_exec_throughput(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 6 && strcmp(mode, "authcall") == 0)
                return do_authcall(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
        if (argc == 4 && strcmp(mode, "pkcheck") == 0)
                return do_pkcheck(atoi(argv[2]), atoi(argv[3]));
        if (argc == 4 && strcmp(mode, "scope") == 0)
                return do_scope(atoi(argv[2]), atoi(argv[3]));
        die("bad arguments for mode '%s'", mode);
}
