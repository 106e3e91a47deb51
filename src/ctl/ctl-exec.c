/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "config.h"
#include "bus-options.h"
#include "ctl-bus.h"
#include "ctl-pty.h"
#include "ctl-util.h"
#include "ctl.h"
#include "exec-fd.h"
#include "names.h"

/* "exec": runs a command in a running instance with lxcbusctl's own stdin, stdout and stderr, waits for it
 * to end and exits with its exit status, or 128 + signal if a signal killed it. Exec takes only pipes,
 * connected AF_UNIX sockets and /dev/null (exec-fd.h): those of ours are passed on as they are (the data
 * never goes through us); for any other (a file, a terminal, ...) the command gets a pipe, and we copy
 * between it and ours (Relay) until the command exited and its output ended. A terminal as stdin is read
 * only with -i (else the command's stdin is /dev/null), as with "podman exec": so that "exec NAME -- cmd |
 * less" leaves the keys to less, and a job in the background is not stopped by SIGTTIN. SIGINT and SIGTERM
 * that lxcbusctl receives meanwhile are forwarded to the process, which is not in our process group and
 * would not see a ^C otherwise.
 *
 * With a terminal (-t, the default when stdin and stdout are terminals, as with "podman exec -it" and
 * lxc-attach), ExecPty gives the command a new terminal in the instance, and we copy bytes between it and
 * ours (in raw mode meanwhile) until it hangs up; then Process.Wait() says how the command ended. */

typedef struct ExecArgs {
        const char *name;
        char **env;             /* alternating names and values */
        const char *cwd;
        bool have_uid, have_gid;
        uint32_t uid, gid;
        int tty;                /* -1: if stdin and stdout are terminals */
        bool interactive;       /* -i: read a terminal that is stdin (without -t) */
        char **command;         /* points into argv */
} ExecArgs;

static void exec_args_done(ExecArgs *a) {
        a->env = strv_free(a->env);
}

static int parse_env(Context *c, const char *arg, void *userdata) {
        ExecArgs *a = userdata;
        const char *eq = strchr(arg, '=');
        _cleanup_free_ char *n = NULL;
        int r;

        n = eq ? strndup(arg, (size_t) (eq - arg)) : strdup(arg);
        if (!n)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        if (!eq || !env_name_is_valid(n))
                return ctl_usage_error(c, "Invalid --env '%s': expected NAME=VALUE, NAME of "
                                       "letters, digits and '_', not starting with a digit.", arg);
        r = ctl_pairs_add(&a->env, arg);
        if (r == -EEXIST)
                return ctl_usage_error(c, "Environment variable '%s' given twice.", n);
        if (r < 0)
                return ctl_error_errno(c, r, "Out of memory.");
        return 1;
}

static int parse_cwd(Context *c, const char *arg, void *userdata) {
        ExecArgs *a = userdata;

        if (isempty(arg) || arg[0] != '/')
                return ctl_usage_error(c, "Invalid --cwd '%s': expected an absolute path.", arg);
        a->cwd = arg;
        return 1;
}

static int parse_user(Context *c, const char *arg, void *userdata) {
        ExecArgs *a = userdata;
        int r;

        r = ctl_parse_user(arg, &a->uid, &a->gid, &a->have_gid);
        if (r == -ENOMEM)
                return ctl_error_errno(c, r, "Out of memory.");
        if (r < 0)
                return ctl_usage_error(c, "Invalid --user '%s': expected UID or UID:GID (numbers).", arg);
        a->have_uid = true;
        return 1;
}

static int set_tty(Context *c, const char *arg, void *userdata) {
        ((ExecArgs *) userdata)->tty = 1;
        return 1;
}

static int set_no_tty(Context *c, const char *arg, void *userdata) {
        ((ExecArgs *) userdata)->tty = 0;
        return 1;
}

/* exec [OPTIONS...] NAME [OPTIONS...] [--] CMD [ARGS...]: options come before the command, on either side
 * of NAME; the command starts after "--" or at the first argument after NAME that is not an option, so
 * the command's own options ("ls -l") are never taken for ours. Hence parsing in order, twice: up to NAME,
 * and from NAME to the command. */
static int parse_exec_args(Context *c, int argc, char *argv[], ExecArgs *a) {
        static const CtlOption options[] = {
                CTL_OPTION_ARG("env", parse_env),
                CTL_OPTION_ARG("cwd", parse_cwd),
                CTL_OPTION_ARG("user", parse_user),
                { .name = "tty", .short_name = 't', .parse = set_tty },
                { .name = "no-tty", .short_name = 'T', .parse = set_no_tty },
                { .name = "interactive", .short_name = 'i', .flag = offsetof(ExecArgs, interactive) },
                {}
        };
        int r;

        r = ctl_parse_options(c, argc, argv, options, a, CTL_PARSE_IN_ORDER);
        if (r <= 0)
                return r;
        if (optind >= argc)
                return ctl_usage_error(c, "Missing instance name.");
        a->name = argv[optind++];

        /* "exec -- NAME CMD...": the rest is the command. */
        if (r == 1) {
                r = ctl_parse_options(c, argc, argv, options, a, CTL_PARSE_IN_ORDER | CTL_PARSE_CONTINUE);
                if (r <= 0)
                        return r;
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

        r = bus_append_string_pairs(m, a->env);
        if (r < 0)
                return r;

        /* 'h' duplicates each fd into the message. */
        if (fds) {
                r = sd_bus_message_append(m, "hhh", fds[0], fds[1], fds[2]);
                if (r < 0)
                        return r;
        }

        /* The daemon takes 1 to 10000 rows and columns. */
        return CTL_APPEND_OPTIONS(m,
                                  CTL_BUS_STRING("cwd", a->cwd, a->cwd),
                                  CTL_BUS_U32("uid", a->have_uid, a->uid),
                                  CTL_BUS_U32("gid", a->have_gid, a->gid),
                                  CTL_BUS_U32("rows", ws, ws ? MIN(ws->ws_row, 10000u) : 0),
                                  CTL_BUS_U32("cols", ws, ws ? MIN(ws->ws_col, 10000u) : 0),
                                  CTL_BUS_STRING("term", !isempty(term), term));
}

/* Bytes copied from src to dst, one of which is our own stdio (never made non-blocking: it may be shared
 * with the shell that started us, and would stay so if we were killed) and the other our end of a pipe to
 * the process (non-blocking). Level-triggered: a read only when there is data (or EOF), one read or write
 * per event, so that our own fds never block us for long; an fd that epoll refuses (a regular file) never
 * blocks, and is served by a defer source instead. */
#define RELAY_BUFFER_SIZE (64 * 1024)

typedef struct ExecWait ExecWait;

typedef struct Relay {
        ExecWait *wait;
        const char *what;       /* "stdin", "stdout", "stderr" */
        bool output;            /* stdout, stderr: we wait for their end */
        int src, dst;
        int pipe_fd;            /* whichever of src and dst is our pipe end: closed at the end */
        sd_event_source *src_source, *dst_source;
        size_t start, n;
        bool eof, dst_gone, done;
        uint8_t buf[RELAY_BUFFER_SIZE];
} Relay;

static Relay *relay_free(Relay *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->src_source);
        sd_event_source_disable_unref(r->dst_source);
        safe_close(r->pipe_fd);
        return mfree(r);
}

/* The three fds to pass, and the relays for those that Exec does not take as they are. /dev/null where
 * one of ours is closed (a daemon may run us so), since the call needs three valid fds; *opened are
 * what we opened or made for the call, to close once it is sent. */
static int get_stdio_fds(Context *c, const ExecArgs *a, int fds[3], int opened[3], Relay *relays[3]) {
        for (int i = 0; i < 3; i++) {
                _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
                Relay *r;

                opened[i] = -EBADF;
                relays[i] = NULL;
                fds[i] = i;
                if (fcntl(i, F_GETFD) < 0 || (i == 0 && !a->interactive && isatty(i) > 0)) {
                        opened[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC | O_NOCTTY);
                        if (opened[i] < 0)
                                return ctl_error_errno(c, errno, "Failed to open /dev/null: %m");
                        fds[i] = opened[i];
                        continue;
                }
                if (!exec_fd_refusal(i))
                        continue;

                if (pipe2(p, O_CLOEXEC) < 0)
                        return ctl_error_errno(c, errno, "Failed to create a pipe: %m");
                r = calloc(1, sizeof(Relay));
                if (!r)
                        return ctl_error_errno(c, ENOMEM, "Out of memory.");
                r->what = i == 0 ? "stdin" : i == 1 ? "stdout" : "stderr";
                r->output = i > 0;
                /* The process gets one end, we keep the other. */
                r->pipe_fd = TAKE_FD(p[i == 0 ? 1 : 0]);
                opened[i] = fds[i] = TAKE_FD(p[i == 0 ? 0 : 1]);
                r->src = i == 0 ? i : r->pipe_fd;
                r->dst = i == 0 ? r->pipe_fd : i;
                relays[i] = r;
                if (fcntl(r->pipe_fd, F_SETFL, O_NONBLOCK) < 0)
                        return ctl_error_errno(c, errno, "Failed to make a pipe non-blocking: %m");
        }
        return 0;
}

/* The signals forwarded to the process. */
static const int forwarded_signals[] = { SIGINT, SIGTERM };
#define FOREACH_SIGNAL(sig)                                                                     \
        for (size_t _i_ = 0; _i_ < ELEMENTSOF(forwarded_signals); _i_++)                        \
                for (int sig = forwarded_signals[_i_], _once_ = 1; _once_; _once_ = 0)

struct ExecWait {
        Context *context;
        Relay **relays;         /* [3], NULL where there is none */
        sd_bus *bus;
        sd_event *event;
        const char *path;
        sd_bus_slot *wait_slot;
        bool done;
        int32_t status, signal;
        int error;              /* < 0: a failure was reported */
};

/* Done once the process exited and all of its output is written. */
static void exec_wait_check(ExecWait *w) {
        if (!w->done)
                return;
        for (int i = 0; w->error >= 0 && w->relays && i < 3; i++)
                if (w->relays[i] && w->relays[i]->output && !w->relays[i]->done)
                        return;
        (void) sd_event_exit(w->event, 0);
}

/* The process ended with (status, sig), or error < 0 ended the wait (reported already): the loop exits at
 * once on an error, else once all output is written. The first end counts. */
static void exec_wait_end(ExecWait *w, int32_t status, int32_t sig, int error) {
        if (w->done)
                return;
        w->done = true;
        w->status = status;
        w->signal = sig;
        w->error = error;
        exec_wait_check(w);
}

static void relay_update(Relay *r) {
        if (r->done)
                return;
        if (r->eof && r->n == 0) {
                /* For stdin, closing our end is the process's EOF. */
                r->done = true;
                r->src_source = sd_event_source_disable_unref(r->src_source);
                r->dst_source = sd_event_source_disable_unref(r->dst_source);
                r->pipe_fd = safe_close(r->pipe_fd);
                exec_wait_check(r->wait);
                return;
        }
        (void) sd_event_source_set_enabled(r->src_source, !r->eof && r->n == 0 ? SD_EVENT_ON : SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(r->dst_source, r->n > 0 ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void relay_read(Relay *r) {
        ssize_t k = read(r->src, r->buf, sizeof r->buf);

        if (k > 0) {
                r->start = 0;
                r->n = (size_t) k;
        } else if (k == 0 || !IN_SET(errno, EAGAIN, EINTR))
                /* An error ends the stream too: EIO is a terminal that hung up. */
                r->eof = true;
        relay_update(r);
}

static void relay_write(Relay *r) {
        ssize_t k;

        if (r->dst_gone) {
                r->n = 0;
                relay_update(r);
                return;
        }
        k = write(r->dst, r->buf + r->start, r->n);
        if (k >= 0) {
                r->start += (size_t) k;
                r->n -= (size_t) k;
        } else if (!IN_SET(errno, EAGAIN, EINTR)) {
                if (!r->output)
                        /* EPIPE: the process closed its stdin; what we have for it is of no use. */
                        r->eof = true;
                else {
                        /* Our stdout or stderr failed (a full disk): the rest is discarded, so that the
                         * process is never blocked on it. */
                        if (r->dst != STDERR_FILENO)
                                fprintf(stderr, "lxcbusctl: Failed to write the command's %s: %m\n", r->what);
                        r->dst_gone = true;
                }
                r->n = 0;
        }
        relay_update(r);
}

static int on_relay_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;

        if (s == r->src_source)
                relay_read(r);
        else
                relay_write(r);
        return 0;
}

static int on_relay_defer(sd_event_source *s, void *userdata) {
        return on_relay_io(s, -EBADF, 0, userdata);
}

static int relay_watch(sd_event *e, Relay *r, int fd, uint32_t events, sd_event_source **ret) {
        int k;

        k = sd_event_add_io(e, ret, fd, events, on_relay_io, r);
        if (k == -EPERM)
                k = sd_event_add_defer(e, ret, on_relay_defer, r);
        return k;
}

static int relay_start(ExecWait *w, Relay *r) {
        int k;

        r->wait = w;
        k = relay_watch(w->event, r, r->src, EPOLLIN, &r->src_source);
        if (k >= 0)
                k = relay_watch(w->event, r, r->dst, EPOLLOUT, &r->dst_source);
        if (k < 0)
                return ctl_error_errno(w->context, k, "Failed to watch the command's %s: %m", r->what);
        relay_update(r);
        return 0;
}

static int on_exited(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecWait *w = userdata;
        int32_t status, sig;
        int r;

        r = sd_bus_message_read(m, "ii", &status, &sig);
        if (r < 0)
                return 0;       /* not the signal we know: Wait() still answers */
        exec_wait_end(w, status, sig, 0);
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
                        exec_wait_end(w, 0, 0, r);
                        return 0;
                }
                exec_wait_end(w, 0, 0, ctl_bus_error(w->context, e, -sd_bus_error_get_errno(e) ?: -EIO));
                return 0;
        }

        r = ctl_read_reply(w->context, m, "Wait", "ii", &status, &sig);
        if (r < 0) {
                exec_wait_end(w, 0, 0, r);
                return 0;
        }
        exec_wait_end(w, status, sig, 0);
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

/* sender: the unique name of the daemon that ran the process (from its reply), so that only its Exited
 * is believed: any peer may send us a signal, and a match on the well-known name cannot check that (a
 * message carries the sender's unique name). relays: [3] or NULL; they are stopped before we return. */
static int wait_for_process(Context *c, const char *path, const char *sender, Relay *relays[3],
                            int *ret_exit_status) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *exited_slot = NULL;
        ExecWait w = { .context = c, .path = path, .relays = relays };
        sd_bus *bus;
        int r;

        r = ctl_bus_attach_new_event(c, &bus, &event);
        if (r < 0)
                return r;
        w.bus = bus;
        w.event = event;

        FOREACH_SIGNAL(sig) {
                r = sd_event_add_signal(event, NULL, sig, on_signal, &w);
                if (r < 0) {
                        r = ctl_error_errno(c, r, "Failed to watch signal %d: %m", sig);
                        goto finish;
                }
        }

        /* Subscribe first, so that an exit between here and Wait() is not missed; Wait() also answers at
         * once for a process that has already exited, so either way the status arrives. */
        r = sd_bus_match_signal(bus, &exited_slot, sender ?: LXCBUS_BUS_NAME, path, LXCBUS_PROCESS_INTERFACE,
                                "Exited", on_exited, &w);
        if (r < 0) {
                r = ctl_error_errno(c, r, "Failed to subscribe to Exited of %s: %m", path);
                goto finish;
        }

        for (int i = 0; relays && i < 3; i++)
                if (relays[i]) {
                        r = relay_start(&w, relays[i]);
                        if (r < 0)
                                goto finish;
                }

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
        for (int i = 0; relays && i < 3; i++)
                relays[i] = relay_free(relays[i]);
        w.wait_slot = sd_bus_slot_unref(w.wait_slot);
        (void) sd_bus_detach_event(bus);
        return r;
}

/* The Process object that the reply of Exec or ExecPty (member) names next, and the unique name of the
 * daemon that sent it (see wait_for_process()). */
static int read_process(Context *c, sd_bus_message *reply, const char *member, char **ret_process,
                        char **ret_sender) {
        _cleanup_free_ char *process = NULL, *sender = NULL;
        const char *p;
        int r;

        assert(ret_process);
        assert(ret_sender);

        r = ctl_read_reply(c, reply, member, "o", &p);
        if (r < 0)
                return r;
        process = strdup(p);
        if (sd_bus_message_get_sender(reply))
                sender = strdup(sd_bus_message_get_sender(reply));
        if (!process || (sd_bus_message_get_sender(reply) && !sender))
                return ctl_error_errno(c, ENOMEM, "Out of memory.");

        *ret_process = TAKE_PTR(process);
        *ret_sender = TAKE_PTR(sender);
        return 0;
}

/* ExecPty, the call in *m, and the terminal forwarded: the command's exit status. */
static int exec_with_tty(Context *c, const ExecArgs *a, sd_bus_message **m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *process = NULL, *sender = NULL;
        _cleanup_close_ int master = -EBADF;
        int exit_status = CTL_EXIT_FAILURE, fd, r;
        struct winsize ws;
        bool have_size;
        CtlPtyEnd end;
        sigset_t mask;

        /* Blocked from now until we exit: the forwarding reads them (a resize before it starts is passed on
         * then), and after it the wait reads SIGINT and SIGTERM. */
        ctl_pty_signal_mask(&mask);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        have_size = ctl_pty_get_size(&ws) >= 0;
        r = append_exec_arguments(*m, a, NULL, have_size ? &ws : NULL, getenv("TERM"));
        if (r < 0)
                return ctl_message_error(c, r);

        r = ctl_call_for_fd(c, *m, ctl_operation_timeout_usec(0), &reply, &fd);
        if (r < 0)
                return r;
        r = read_process(c, reply, "ExecPty", &process, &sender);
        if (r < 0)
                return r;
        r = ctl_pty_dup_master(c, fd, &master);
        if (r < 0)
                return r;
        reply = sd_bus_message_unref(reply);

        r = ctl_pty_forward(c, master, &(const CtlPtyOptions) { .process = process }, &end, NULL);
        if (r < 0)
                return r;
        assert(end == CTL_PTY_HANGUP);
        master = safe_close(master);

        r = wait_for_process(c, process, sender, NULL, &exit_status);
        if (r < 0)
                return r;
        return exit_status;
}

/* Exec, the call in *m, with our own stdio, passed on as they are or relayed through pipes
 * (get_stdio_fds()): the command's exit status. */
static int exec_with_pipes(Context *c, const ExecArgs *a, sd_bus_message **m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *process = NULL, *sender = NULL;
        int fds[3], opened[3] = { -EBADF, -EBADF, -EBADF };
        Relay *relays[3] = {};
        int exit_status = CTL_EXIT_FAILURE;
        sigset_t mask;
        int r;

        /* From now on SIGINT and SIGTERM are read from the event loop; one that arrives while Exec is
         * still running stays pending and is forwarded as soon as the process exists. They stay blocked
         * until we exit, so that a late one cannot replace the command's exit status with ours. */
        sigemptyset(&mask);
        FOREACH_SIGNAL(sig)
                sigaddset(&mask, sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        r = get_stdio_fds(c, a, fds, opened, relays);
        if (r < 0)
                goto finish;
        /* A process that closes its stdin must not kill us when we relay to it: EPIPE instead. */
        if (relays[0])
                (void) signal(SIGPIPE, SIG_IGN);

        r = append_exec_arguments(*m, a, fds, NULL, NULL);
        if (r < 0) {
                r = ctl_message_error(c, r);
                goto finish;
        }
        for (int i = 0; i < 3; i++)
                opened[i] = safe_close(opened[i]);

        /* Exec replies once the process runs. */
        r = ctl_call(c, *m, ctl_operation_timeout_usec(0), &reply);
        if (r < 0)
                goto finish;
        r = read_process(c, reply, "Exec", &process, &sender);
        if (r < 0)
                goto finish;
        /* The daemon holds the duplicates now; the command's output must not wait for ours. */
        *m = sd_bus_message_unref(*m);

        r = wait_for_process(c, process, sender, relays, &exit_status);
        if (r >= 0)
                r = exit_status;

finish:
        for (int i = 0; i < 3; i++) {
                opened[i] = safe_close(opened[i]);
                relays[i] = relay_free(relays[i]);
        }
        return r;
}

int verb_exec(Context *c, int argc, char *argv[]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(exec_args_done) ExecArgs a = { .tty = -1 };
        int r;

        r = parse_exec_args(c, argc, argv, &a);
        if (r <= 0)
                return r;

        if (a.tty < 0)
                a.tty = isatty(STDIN_FILENO) > 0 && isatty(STDOUT_FILENO) > 0;
        r = ctl_new_instance_call(c, a.name, a.tty ? "ExecPty" : "Exec", &m);
        if (r < 0)
                return r;
        r = a.tty ? exec_with_tty(c, &a, &m) : exec_with_pipes(c, &a, &m);
        if (r < 0)
                return r;
        c->command_exit_status = r;
        return 0;
}
