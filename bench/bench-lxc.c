/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-lxc: the floor for bench/run.sh. The same lifecycle steps lxcbusd performs, done directly
 * with liblxc (and with the lxc-* commands) on an ordinary lxcpath, without D-Bus, without a worker
 * process and WITHOUT a systemd scope.
 *
 * Every timed sample is printed on stdout as "SAMPLE <metric> <side> <microseconds>"; warm-up
 * iterations are run but not printed. Diagnostics go to stderr. run.sh tabulates the samples.
 *
 *   bench-lxc startstop   LXCPATH NAME ITER WARM CGDIR   start (daemonized, until RUNNING, init pid
 *                                                        known) and stop (c->stop, kill) per iteration
 *   bench-lxc shutdown    LXCPATH NAME ITER WARM CGDIR   untimed start, timed c->shutdown(c, 30)
 *   bench-lxc freeze      LXCPATH NAME ITER WARM CGDIR   c->freeze + c->unfreeze round trips
 *   bench-lxc cli         LXCPATH NAME ITER WARM CGDIR   lxc-start + lxc-wait RUNNING, lxc-stop -k
 *   bench-lxc mklist      LXCPATH PREFIX COUNT           define COUNT containers (config only)
 *   bench-lxc list        LXCPATH ITER WARM              list_all_containers + state of each
 *   bench-lxc lxcls       LXCPATH ITER WARM              `lxc-ls -f -P LXCPATH` (fork+exec, output discarded)
 *   bench-lxc attach      LXCPATH NAME ITER WARM CGDIR   c->attach_run_wait of `true` (stdio /dev/null, the
 *                                                        environment and cwd lxcbusd's worker gives)
 *   bench-lxc attach-throughput LXCPATH NAME ITER WARM CGDIR   attach_run_wait of
 *                                                        `dd if=/dev/zero bs=1048576 count=1024`, stdout a pipe read
 *                                                        and counted by a forked reader
 *   bench-lxc lxc-attach  LXCPATH NAME ITER WARM CGDIR   fork/exec `lxc-attach -P LXCPATH -n NAME -- true`
 *                                                        (stdio /dev/null)
 * The attach modes start the container (liblxc, as startstop does) and stop it at the end.
 *
 * CGDIR is given to liblxc as lxc.cgroup.dir (as lxcbusd's worker gives it the scope's path), so the
 * floor's cgroups are <root>/CGDIR/lxc.{monitor,payload}.NAME; run.sh removes CGDIR at the end. */
#include <errno.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

static struct lxc_container *open_ct(const char *lxcpath, const char *name, const char *cgdir) {
        struct lxc_container *c = lxc_container_new(name, lxcpath);

        if (!c || !c->is_defined(c))
                die("container %s in %s is not defined", name, lxcpath);
        /* Same knob as lxcbusd's worker: cgroups below a fixed directory (there: the scope). */
        if (cgdir && *cgdir && !c->set_config_item(c, "lxc.cgroup.dir", cgdir))
                die("cannot set lxc.cgroup.dir");
        return c;
}

static void ct_start(struct lxc_container *c) {
        c->want_daemonize(c, true);
        if (!c->start(c, 0, NULL))
                die("start of %s failed: %s", c->name, c->error_string ? c->error_string : "?");
        /* c->start daemonized already waits for RUNNING in liblxc 5; wait anyway, and insist on the
         * init pid, which is what lxcbusd's reply carries (Pid property). */
        if (!c->wait(c, "RUNNING", 5))
                die("%s did not reach RUNNING", c->name);
        if (c->init_pid(c) <= 0)
                die("%s has no init pid", c->name);
}

static void ct_stop(struct lxc_container *c) {
        /* c->stop returns once the monitor closed the command socket, i.e. the container is down;
         * wait for STOPPED as well so that the next start never races the old monitor. */
        if (!c->stop(c))
                die("stop of %s failed", c->name);
        if (!c->wait(c, "STOPPED", 10))
                die("%s did not reach STOPPED", c->name);
}

static void ensure_stopped(struct lxc_container *c) {
        if (c->is_running(c)) {
                if (strcmp(c->state(c), "FROZEN") == 0)
                        (void) c->unfreeze(c);
                ct_stop(c);
        }
}

static int do_startstop(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);

        ensure_stopped(c);
        for (int k = 0; k < iter + warm; k++) {
                bench_gap();
                uint64_t t0 = now_us();
                ct_start(c);
                uint64_t t1 = now_us();
                bench_gap();
                uint64_t t2 = now_us();
                ct_stop(c);
                uint64_t t3 = now_us();
                sample("start", "liblxc", k, warm, t1 - t0);
                sample("stop-kill", "liblxc", k, warm, t3 - t2);
        }
        lxc_container_put(c);
        return 0;
}

static int do_shutdown(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);

        ensure_stopped(c);
        for (int k = 0; k < iter + warm; k++) {
                ct_start(c);
                /* lxcbusd's reply to Start comes from the start-host hook, before busybox's init has
                 * run its rcS; give init the same head start the bus client gives it (none), but
                 * make sure it handles SIGUSR1 at all: a signal before init installed its handler
                 * would be lost. Both sides sleep the same 100 ms, untimed. */
                usleep(100000);
                uint64_t t0 = now_us();
                if (!c->shutdown(c, 30)) {
                        fprintf(stderr, "bench-lxc: clean shutdown of %s timed out, killing\n", name);
                        ct_stop(c);
                } else if (!c->wait(c, "STOPPED", 10))
                        die("%s did not reach STOPPED", name);
                uint64_t t1 = now_us();
                sample("stop-clean", "liblxc", k, warm, t1 - t0);
        }
        lxc_container_put(c);
        return 0;
}

static int do_freeze(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);

        ensure_stopped(c);
        ct_start(c);
        for (int k = 0; k < iter + warm; k++) {
                uint64_t t0 = now_us();
                if (!c->freeze(c))
                        die("freeze failed");
                uint64_t t1 = now_us();
                if (!c->unfreeze(c))
                        die("unfreeze failed");
                uint64_t t2 = now_us();
                sample("freeze+unfreeze", "liblxc", k, warm, t2 - t0);
                sample("freeze", "liblxc", k, warm, t1 - t0);
                sample("unfreeze", "liblxc", k, warm, t2 - t1);
        }
        ct_stop(c);
        lxc_container_put(c);
        return 0;
}

static int run_cmd(char *const argv[], bool quiet) {
        pid_t pid = fork();
        int st;

        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                if (quiet) {
                        int fd = open("/dev/null", O_WRONLY);
                        if (fd >= 0) {
                                dup2(fd, STDOUT_FILENO);
                                close(fd);
                        }
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &st, 0) < 0)
                die("waitpid: %m");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("%s failed (status 0x%x)", argv[0], st);
        return 0;
}

static int do_cli(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        char cgopt[512];
        snprintf(cgopt, sizeof cgopt, "lxc.cgroup.dir=%s", cgdir);
        char *start[] = { "lxc-start", "-n", (char *) name, "-P", (char *) lxcpath, "-s", cgopt, NULL };
        char *wait[] = { "lxc-wait", "-n", (char *) name, "-P", (char *) lxcpath, "-s", "RUNNING", NULL };
        char *stop[] = { "lxc-stop", "-k", "-n", (char *) name, "-P", (char *) lxcpath, NULL };
        char *waits[] = { "lxc-wait", "-n", (char *) name, "-P", (char *) lxcpath, "-s", "STOPPED", "-t", "10", NULL };

        for (int k = 0; k < iter + warm; k++) {
                uint64_t t0 = now_us();
                run_cmd(start, false);
                run_cmd(wait, false);
                uint64_t t1 = now_us();
                run_cmd(stop, false);
                run_cmd(waits, false);
                uint64_t t2 = now_us();
                sample("start", "lxc-start+wait", k, warm, t1 - t0);
                sample("stop-kill", "lxc-stop-k", k, warm, t2 - t1);
        }
        return 0;
}

static int do_mklist(const char *lxcpath, const char *prefix, int count) {
        for (int k = 0; k < count; k++) {
                char name[128], dir[2048], path[4096];
                FILE *f;

                snprintf(name, sizeof name, "%s%03d", prefix, k);
                snprintf(dir, sizeof dir, "%s/%s", lxcpath, name);
                if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                        die("mkdir %s: %m", dir);
                snprintf(path, sizeof path, "%s/rootfs", dir);
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        die("mkdir %s: %m", path);
                /* What lxcbusd's worker writes for source type none (rootfs + uts name). */
                snprintf(path, sizeof path, "%s/config", dir);
                f = fopen(path, "we");
                if (!f)
                        die("fopen %s: %m", path);
                fprintf(f, "lxc.rootfs.path = dir:%s/rootfs\nlxc.uts.name = %s\n", dir, name);
                if (fclose(f) != 0)
                        die("write %s: %m", path);
        }
        return 0;
}

static int do_list(const char *lxcpath, int iter, int warm) {
        for (int k = 0; k < iter + warm; k++) {
                struct lxc_container **cts = NULL;
                char **names = NULL;
                unsigned long sum = 0;

                uint64_t t0 = now_us();
                int n = list_all_containers(lxcpath, &names, &cts);
                if (n < 0)
                        die("list_all_containers failed");
                for (int j = 0; j < n; j++) {
                        const char *st = cts[j]->state(cts[j]);
                        sum += st ? strlen(st) + strlen(names[j]) : 0;
                }
                uint64_t t1 = now_us();
                for (int j = 0; j < n; j++) {
                        lxc_container_put(cts[j]);
                        free(names[j]);
                }
                free(cts);
                free(names);
                if (k == 0)
                        fprintf(stderr, "bench-lxc: list: %d containers (%lu)\n", n, sum);
                sample("list", "liblxc", k, warm, t1 - t0);
        }
        return 0;
}

static int do_lxcls(const char *lxcpath, int iter, int warm) {
        char *argv[] = { "lxc-ls", "-f", "-P", (char *) lxcpath, NULL };

        for (int k = 0; k < iter + warm; k++) {
                uint64_t t0 = now_us();
                run_cmd(argv, true);
                sample("list", "lxc-ls-f", k, warm, now_us() - t0);
        }
        return 0;
}

/* ---------------------------------------------------------------- attach */

#define THROUGHPUT_BYTES (1024ULL * 1024 * 1024)

/* What lxcbusd's worker asks of liblxc for an Exec with uid 0 (src/worker/worker.c, do_exec). */
static char *attach_env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                              NULL };

static lxc_attach_options_t attach_opts(int in, int out, int err) {
        lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
        o.env_policy = LXC_ATTACH_CLEAR_ENV;
        o.extra_env_vars = attach_env;
        o.initial_cwd = (char *) "/root";
        o.uid = 0;
        o.gid = 0;
        o.stdin_fd = in;
        o.stdout_fd = out;
        o.stderr_fd = err;
        return o;
}

static void check_status(int st, const char *what) {
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("%s: attach_run_wait status 0x%x", what, st);
}

static int do_attach(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);
        int null_r = open("/dev/null", O_RDONLY | O_CLOEXEC), null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        const char *argv[] = { "true", NULL };

        if (null_r < 0 || null_w < 0)
                die("open /dev/null: %m");
        ensure_stopped(c);
        ct_start(c);
        for (int k = 0; k < iter + warm; k++) {
                lxc_attach_options_t o = attach_opts(null_r, null_w, null_w);
                bench_gap();
                uint64_t t0 = now_us();
                int st = c->attach_run_wait(c, &o, "true", argv);
                uint64_t t1 = now_us();
                check_status(st, "true");
                sample("exec(true)", "liblxc", k, warm, t1 - t0);
        }
        ct_stop(c);
        close(null_r);
        close(null_w);
        lxc_container_put(c);
        return 0;
}

/* A child that reads fd r to EOF and writes the byte count to fd res. */
static pid_t fork_reader(int r, int w, int res_r, int res_w) {
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                static char buf[1 << 17];
                uint64_t total = 0;

                close(w);
                close(res_r);
                for (;;) {
                        ssize_t n = read(r, buf, sizeof buf);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        total += (uint64_t) n;
                }
                if (write(res_w, &total, sizeof total) != sizeof total)
                        _exit(1);
                _exit(0);
        }
        return pid;
}

static int do_attach_throughput(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);
        int null_r = open("/dev/null", O_RDONLY | O_CLOEXEC), null_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        const char *argv[] = { "dd", "if=/dev/zero", "bs=1048576", "count=1024", NULL };

        if (null_r < 0 || null_w < 0)
                die("open /dev/null: %m");
        ensure_stopped(c);
        ct_start(c);
        for (int k = 0; k < iter + warm; k++) {
                int p[2], res[2], st;
                uint64_t total = 0;

                if (pipe2(p, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
                        die("pipe: %m");
                lxc_attach_options_t o = attach_opts(null_r, p[1], null_w);
                uint64_t t0 = now_us();
                pid_t reader = fork_reader(p[0], p[1], res[0], res[1]);
                close(p[0]);
                close(res[1]);
                int ast = c->attach_run_wait(c, &o, "dd", argv);
                close(p[1]);
                if (read(res[0], &total, sizeof total) != sizeof total)
                        die("reader failed");
                uint64_t t1 = now_us();
                close(res[0]);
                if (waitpid(reader, &st, 0) < 0)
                        die("waitpid: %m");
                check_status(ast, "dd");
                if (total != THROUGHPUT_BYTES)
                        die("read %llu bytes, expected %llu", (unsigned long long) total,
                            (unsigned long long) THROUGHPUT_BYTES);
                sample("exec-throughput(1GiB)", "liblxc", k, warm, t1 - t0);
        }
        ct_stop(c);
        close(null_r);
        close(null_w);
        lxc_container_put(c);
        return 0;
}

static int do_lxc_attach(const char *lxcpath, const char *name, int iter, int warm, const char *cgdir) {
        struct lxc_container *c = open_ct(lxcpath, name, cgdir);
        char *argv[] = { "lxc-attach", "-P", (char *) lxcpath, "-n", (char *) name, "--", "true", NULL };

        ensure_stopped(c);
        ct_start(c);
        for (int k = 0; k < iter + warm; k++) {
                uint64_t t0 = now_us();
                pid_t pid = fork();
                int st;

                if (pid < 0)
                        die("fork: %m");
                if (pid == 0) {
                        int fd = open("/dev/null", O_RDWR);
                        if (fd >= 0) {
                                dup2(fd, STDIN_FILENO);
                                dup2(fd, STDOUT_FILENO);
                                dup2(fd, STDERR_FILENO);
                        }
                        execvp(argv[0], argv);
                        _exit(127);
                }
                if (waitpid(pid, &st, 0) < 0)
                        die("waitpid: %m");
                uint64_t t1 = now_us();
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        die("lxc-attach failed (status 0x%x)", st);
                sample("exec(true)", "lxc-attach", k, warm, t1 - t0);
        }
        ct_stop(c);
        lxc_container_put(c);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc < 2)
                die("usage: see the comment at the top of bench/bench-lxc.c");
        const char *mode = argv[1];

        if (argc == 7 && strcmp(mode, "startstop") == 0)
                return do_startstop(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "shutdown") == 0)
                return do_shutdown(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "freeze") == 0)
                return do_freeze(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "cli") == 0)
                return do_cli(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "attach") == 0)
                return do_attach(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "attach-throughput") == 0)
                return do_attach_throughput(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 7 && strcmp(mode, "lxc-attach") == 0)
                return do_lxc_attach(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
        if (argc == 5 && strcmp(mode, "mklist") == 0)
                return do_mklist(argv[2], argv[3], atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "list") == 0)
                return do_list(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 5 && strcmp(mode, "lxcls") == 0)
                return do_lxcls(argv[2], atoi(argv[3]), atoi(argv[4]));
        die("bad arguments for mode '%s'", mode);
}
