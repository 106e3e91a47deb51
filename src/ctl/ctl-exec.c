/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "config.h"
#include "ctl-bus.h"
#include "ctl-pty.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

/* "exec": runs a command in a running instance with lxcbusctl's own stdin, stdout and stderr (the daemon
 * passes the three fds on; the data never goes through the bus), waits for it to end and exits with its
 * exit status, or 128 + signal if a signal killed it. SIGINT and SIGTERM that lxcbusctl receives meanwhile
 * are forwarded to the process, which is not in our process group and would not see a ^C otherwise.
 *
 * With a terminal (-t, the default when stdin and stdout are terminals, as with "podman exec -it" and
 * lxc-attach), ExecPty gives the command a new terminal in the instance, and we copy bytes between it and
 * ours (in raw mode meanwhile) until it hangs up; then Process.Wait() says how the command ended. */

enum {
        ARG_ENV = ARG_FIRST_VERB_OPTION,
        ARG_CWD,
        ARG_USER,
        ARG_NO_TTY,
};

typedef struct ExecArgs {
        const char *name;
        char **env;             /* alternating names and values */
        const char *cwd;
        bool have_uid, have_gid;
        uint32_t uid, gid;
        int tty;                /* -1: if stdin and stdout are terminals */
        char **command;         /* points into argv */
} ExecArgs;

static void exec_args_done(ExecArgs *a) {
        a->env = strv_free(a->env);
}

static int parse_exec_option(Context *c, int opt, ExecArgs *a) {
        int r;

        switch (opt) {
        case ARG_ENV: {
                const char *eq = strchr(optarg, '=');
                _cleanup_free_ char *n = NULL;

                n = eq ? strndup(optarg, (size_t) (eq - optarg)) : strdup(optarg);
                if (!n)
                        return ctl_error_errno(c, ENOMEM, "Out of memory.");
                if (!eq || !env_name_is_valid(n))
                        return ctl_usage_error(c, "Invalid --env '%s': expected NAME=VALUE, NAME of "
                                               "letters, digits and '_', not starting with a digit.", optarg);
                r = ctl_pairs_add(&a->env, optarg);
                if (r == -EEXIST)
                        return ctl_usage_error(c, "Environment variable '%s' given twice.", n);
                if (r < 0)
                        return ctl_error_errno(c, r, "Out of memory.");
                return 1;
        }
        case ARG_CWD:
                if (isempty(optarg) || optarg[0] != '/')
                        return ctl_usage_error(c, "Invalid --cwd '%s': expected an absolute path.", optarg);
                a->cwd = optarg;
                return 1;
        case ARG_USER:
                r = ctl_parse_user(optarg, &a->uid, &a->gid, &a->have_gid);
                if (r == -ENOMEM)
                        return ctl_error_errno(c, r, "Out of memory.");
                if (r < 0)
                        return ctl_usage_error(c, "Invalid --user '%s': expected UID or UID:GID (numbers).",
                                               optarg);
                a->have_uid = true;
                return 1;
        case 't':
                a->tty = 1;
                return 1;
        case 'T':
                a->tty = 0;
                return 1;
        case 'i':
                /* stdin is always passed on; accepted for the habit of "exec -it". */
                return 1;
        default:
                return ctl_common_option(c, opt, optarg);
        }
}

/* exec [OPTIONS...] NAME [OPTIONS...] [--] CMD [ARGS...]: options come before the command, on either side
 * of NAME; the command starts after "--" or at the first argument after NAME that is not an option, so
 * the command's own options ("ls -l") are never taken for ours. */
static int parse_exec_args(Context *c, int argc, char *argv[], ExecArgs *a) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "env", required_argument, NULL, ARG_ENV },
                { "cwd", required_argument, NULL, ARG_CWD },
                { "user", required_argument, NULL, ARG_USER },
                { "tty", no_argument, NULL, 't' },
                { "no-tty", no_argument, NULL, 'T' },
                { "interactive", no_argument, NULL, 'i' },
                {}
        };
        int opt, r;

        /* "+": no permutation, stop at the first non-option (NAME, then the command). */
        optind = 0;
        for (;;) {
                int before = optind ?: 1;

                opt = getopt_long(argc, argv, "+htTi", options, NULL);
                if (opt >= 0) {
                        r = parse_exec_option(c, opt, a);
                        if (r <= 0)
                                return r;
                        continue;
                }

                /* getopt_long() stopped: at "--" (which it skipped), at a non-option, or at the end. */
                bool dashdash = optind == before + 1 && streq(argv[before], "--");

                if (!a->name) {
                        if (optind >= argc)
                                return ctl_usage_error(c, "Missing instance name.");
                        a->name = argv[optind++];
                        if (dashdash)
                                break;  /* "exec -- NAME CMD...": the rest is the command */
                        continue;       /* options may follow NAME */
                }
                break;
        }

        if (optind >= argc)
                return ctl_usage_error(c, "Missing command to execute.");
        a->command = argv + optind;
        return 1;
}

/* Exec's arguments with fds, ExecPty's with ws (NULL: the daemon's default size) and term instead. */
static int append_exec_arguments(sd_bus_message *m, const ExecArgs *a, const int fds[3],
                                 const struct winsize *ws, const char *term) {
        int r;

        r = sd_bus_message_append_strv(m, a->command);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (char **p = a->env; p && p[0] && p[1]; p += 2) {
                r = sd_bus_message_append(m, "{ss}", p[0], p[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* 'h' duplicates each fd into the message. */
        if (fds) {
                r = sd_bus_message_append(m, "hhh", fds[0], fds[1], fds[2]);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (a->cwd) {
                r = ctl_append_option_string(m, "cwd", a->cwd);
                if (r < 0)
                        return r;
        }
        if (a->have_uid) {
                r = ctl_append_option_u32(m, "uid", a->uid);
                if (r < 0)
                        return r;
        }
        if (a->have_gid) {
                r = ctl_append_option_u32(m, "gid", a->gid);
                if (r < 0)
                        return r;
        }
        if (ws) {
                /* The daemon takes 1 to 10000. */
                r = ctl_append_option_u32(m, "rows", MIN(ws->ws_row, 10000u));
                if (r >= 0)
                        r = ctl_append_option_u32(m, "cols", MIN(ws->ws_col, 10000u));
                if (r < 0)
                        return r;
        }
        if (!isempty(term)) {
                r = ctl_append_option_string(m, "term", term);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* The three fds to pass: ours, or /dev/null where one of them is closed (a daemon may run us so), since
 * the call needs three valid fds. */
static int get_stdio_fds(Context *c, int fds[3], int opened[3]) {
        for (int i = 0; i < 3; i++) {
                opened[i] = -EBADF;
                fds[i] = i;
                if (fcntl(i, F_GETFD) >= 0)
                        continue;
                opened[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC | O_NOCTTY);
                if (opened[i] < 0)
                        return ctl_error_errno(c, errno, "Failed to open /dev/null: %m");
                fds[i] = opened[i];
        }
        return 0;
}

/* The signals forwarded to the process. */
static const int forwarded_signals[] = { SIGINT, SIGTERM };
#define FOREACH_SIGNAL(sig)                                                                     \
        for (size_t _i_ = 0; _i_ < ELEMENTSOF(forwarded_signals); _i_++)                        \
                for (int sig = forwarded_signals[_i_], _once_ = 1; _once_; _once_ = 0)

typedef struct ExecWait {
        Context *context;
        sd_bus *bus;
        sd_event *event;
        const char *path;
        sd_bus_slot *wait_slot;
        bool done;
        int32_t status, signal;
        int error;              /* < 0: a failure was reported */
} ExecWait;

static void exec_wait_finish(ExecWait *w, int32_t status, int32_t sig) {
        if (w->done)
                return;
        w->done = true;
        w->status = status;
        w->signal = sig;
        (void) sd_event_exit(w->event, 0);
}

static void exec_wait_fail(ExecWait *w, int r) {
        if (w->done)
                return;
        w->done = true;
        w->error = r;
        (void) sd_event_exit(w->event, 0);
}

static int on_exited(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecWait *w = userdata;
        int32_t status, sig;
        int r;

        r = sd_bus_message_read(m, "ii", &status, &sig);
        if (r < 0)
                return 0;       /* not the signal we know: Wait() still answers */
        exec_wait_finish(w, status, sig);
        return 0;
}

static int call_wait(ExecWait *w);

static int on_wait_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecWait *w = userdata;
        const sd_bus_error *e;
        int32_t status, sig;
        int r;

        w->wait_slot = sd_bus_slot_unref(w->wait_slot);
        if (w->done)
                return 0;

        e = sd_bus_message_get_error(m);
        if (e) {
                /* A bus (or broker) that gave up waiting for the reply: ask again; the process runs on. */
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_NO_REPLY) &&
                    sd_bus_is_open(w->bus) > 0) {
                        r = call_wait(w);
                        if (r >= 0)
                                return 0;
                        exec_wait_fail(w, r);
                        return 0;
                }
                exec_wait_fail(w, ctl_bus_error(w->context, e, -sd_bus_error_get_errno(e) ?: -EIO));
                return 0;
        }

        r = sd_bus_message_read(m, "ii", &status, &sig);
        if (r < 0) {
                exec_wait_fail(w, ctl_error_errno(w->context, r, "Failed to parse reply of Wait: %m"));
                return 0;
        }
        exec_wait_finish(w, status, sig);
        return 0;
}

static int call_wait(ExecWait *w) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(w->bus, &m, LXCBUS_BUS_NAME, w->path, LXCBUS_PROCESS_INTERFACE,
                                           "Wait");
        if (r < 0)
                return ctl_message_error(w->context, r);

        /* No timeout: a command may run for days. */
        r = sd_bus_call_async(w->bus, &w->wait_slot, m, on_wait_reply, w, UINT64_MAX);
        if (r < 0)
                return ctl_error_errno(w->context, r, "Failed to call Wait on %s: %m", w->path);
        return 0;
}

static int on_signal_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        /* InvalidState: the process ended meanwhile, and Wait() or Exited will say how. Nothing else
         * stops the wait either. */
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        ExecWait *w = userdata;
        int r;

        if (w->done)
                return 0;

        r = sd_bus_call_method_async(w->bus, NULL, LXCBUS_BUS_NAME, w->path, LXCBUS_PROCESS_INTERFACE,
                                     "Signal", on_signal_reply, NULL, "i", (int32_t) si->ssi_signo);
        if (r < 0)
                fprintf(stderr, "lxcbusctl: Failed to forward signal %u to the process: %s\n",
                        si->ssi_signo, strerror(-r));
        return 0;
}

static int wait_for_process(Context *c, const char *path, int *ret_exit_status) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *exited_slot = NULL;
        ExecWait w = { .context = c, .path = path };
        sd_bus *bus;
        int r;

        r = ctl_bus_get(c, &bus);
        if (r < 0)
                return r;
        w.bus = bus;

        r = sd_event_default(&event);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to allocate event loop: %m");
        w.event = event;

        FOREACH_SIGNAL(sig) {
                r = sd_event_add_signal(event, NULL, sig, on_signal, &w);
                if (r < 0)
                        return ctl_error_errno(c, r, "Failed to watch signal %d: %m", sig);
        }

        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to attach the bus to the event loop: %m");

        /* Subscribe first, so that an exit between here and Wait() is not missed; Wait() also answers at
         * once for a process that has already exited, so either way the status arrives. */
        r = sd_bus_match_signal(bus, &exited_slot, LXCBUS_BUS_NAME, path, LXCBUS_PROCESS_INTERFACE, "Exited",
                                on_exited, &w);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to subscribe to Exited of %s: %m", path);

        r = call_wait(&w);
        if (r < 0)
                goto finish;

        r = sd_event_loop(event);
        if (r < 0) {
                r = ctl_error_errno(c, r, "Event loop failed: %m");
                goto finish;
        }

        if (!w.done)
                r = ctl_error_errno(c, EIO, "Event loop ended without the process's exit status.");
        else if (w.error < 0)
                r = w.error;
        else {
                *ret_exit_status = ctl_exec_exit_status(w.status, w.signal);
                r = 0;
        }

finish:
        w.wait_slot = sd_bus_slot_unref(w.wait_slot);
        (void) sd_bus_detach_event(bus);
        return r;
}

static int exec_with_tty(Context *c, const ExecArgs *a, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *process = NULL;
        _cleanup_close_ int master = -EBADF;
        int exit_status = CTL_EXIT_FAILURE, fd, r;
        struct winsize ws;
        bool have_size;
        CtlPtyEnd end;
        const char *p;
        sigset_t mask;

        /* Blocked from now until we exit: the forwarding reads them (a resize before it starts is passed on
         * then), and after it the wait reads SIGINT and SIGTERM. */
        ctl_pty_signal_mask(&mask);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        have_size = ctl_pty_get_size(&ws) >= 0;

        r = ctl_new_method_call(c, path, LXCBUS_INSTANCE_INTERFACE, "ExecPty", &m);
        if (r < 0)
                return r;
        r = append_exec_arguments(m, a, NULL, have_size ? &ws : NULL, getenv("TERM"));
        if (r < 0)
                return ctl_message_error(c, r);

        r = ctl_call(c, m, ctl_operation_timeout_usec(0), &reply);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "ho", &fd, &p);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply of ExecPty: %m");
        /* The fd belongs to the reply. */
        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return ctl_error_errno(c, errno, "Failed to duplicate the terminal's fd: %m");
        process = strdup(p);
        if (!process)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        reply = sd_bus_message_unref(reply);

        r = ctl_pty_forward(c, master, &(const CtlPtyOptions) { .process = process }, &end, NULL);
        if (r < 0)
                return r;
        assert(end == CTL_PTY_HANGUP);
        master = safe_close(master);

        r = wait_for_process(c, process, &exit_status);
        if (r < 0)
                return r;

        c->command_exit_status = exit_status;
        return 0;
}

int verb_exec(Context *c, int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(exec_args_done) ExecArgs a = { .tty = -1 };
        _cleanup_free_ char *path = NULL, *process = NULL;
        int fds[3], opened[3] = { -EBADF, -EBADF, -EBADF };
        int exit_status = CTL_EXIT_FAILURE;
        const char *p;
        sigset_t mask;
        int r;

        r = parse_exec_args(c, argc, argv, &a);
        if (r <= 0)
                return r;

        r = ctl_get_instance_path(c, a.name, &path);
        if (r < 0)
                return r;

        if (a.tty < 0)
                a.tty = isatty(STDIN_FILENO) > 0 && isatty(STDOUT_FILENO) > 0;
        if (a.tty)
                return exec_with_tty(c, &a, path);

        /* From now on SIGINT and SIGTERM are read from the event loop; one that arrives while Exec is
         * still running stays pending and is forwarded as soon as the process exists. They stay blocked
         * until we exit, so that a late one cannot replace the command's exit status with ours. */
        sigemptyset(&mask);
        FOREACH_SIGNAL(sig)
                sigaddset(&mask, sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        r = get_stdio_fds(c, fds, opened);
        if (r < 0)
                goto finish;

        r = ctl_new_method_call(c, path, LXCBUS_INSTANCE_INTERFACE, "Exec", &m);
        if (r < 0)
                goto finish;
        r = append_exec_arguments(m, &a, fds, NULL, NULL);
        if (r < 0) {
                r = ctl_message_error(c, r);
                goto finish;
        }
        for (int i = 0; i < 3; i++)
                opened[i] = safe_close(opened[i]);

        /* Exec replies once the process runs. */
        r = ctl_call(c, m, ctl_operation_timeout_usec(0), &reply);
        if (r < 0)
                goto finish;

        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0) {
                r = ctl_error_errno(c, r, "Failed to parse reply of Exec: %m");
                goto finish;
        }
        process = strdup(p);
        if (!process) {
                r = ctl_error_errno(c, ENOMEM, "Out of memory.");
                goto finish;
        }
        /* The daemon holds the duplicates now; the command's output must not wait for ours. */
        m = sd_bus_message_unref(m);

        r = wait_for_process(c, process, &exit_status);
        if (r < 0)
                goto finish;

        c->command_exit_status = exit_status;
        r = 0;

finish:
        for (int i = 0; i < 3; i++)
                opened[i] = safe_close(opened[i]);
        return r;
}
