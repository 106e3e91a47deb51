/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>
#include <termios.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-pty.h"
#include "ctl-util.h"
#include "names.h"

/* Every fd is non-blocking and watched edge-triggered: an event only sets a flag ("there may be data"),
 * and shovel() reads and writes until each side says EAGAIN, so nothing is ever left waiting for an event
 * that has already been reported. A stdin or stdout that epoll refuses (a regular file, /dev/null) never
 * blocks, so its flag simply stays set. */

#define PTY_BUFFER_SIZE 4096

static const int pty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };

typedef struct PtyForward {
        Context *context;
        const CtlPtyOptions *opts;
        sd_event *event;
        sd_bus *bus;
        int master, in, out;

        /* stdin -> master; one byte more than read, for a held-back Ctrl-a */
        uint8_t in_buf[PTY_BUFFER_SIZE + 1];
        size_t in_n;
        /* master -> stdout */
        uint8_t out_buf[PTY_BUFFER_SIZE];
        size_t out_n;

        CtlEscape escape;
        bool in_readable, in_eof, eof_pending, master_readable, master_writable, out_writable;
        bool master_hangup, out_gone, done;
        CtlPtyEnd end;
        int signal;
        int error;
} PtyForward;

int ctl_pty_dup_master(Context *c, int fd, int *ret) {
        int master;

        assert(c);
        assert(ret);

        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return ctl_error_errno(c, errno, "Failed to duplicate the terminal's fd: %m");
        *ret = master;
        return 0;
}

int ctl_pty_get_size(struct winsize *ret) {
        struct winsize ws = {};

        assert(ret);

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
                return -ENOTTY;
        if (ws.ws_row == 0 || ws.ws_col == 0)
                return -ENOTTY;         /* a terminal that does not know its size (a serial line) */
        *ret = ws;
        return 0;
}

void ctl_pty_signal_mask(sigset_t *ret) {
        assert(ret);

        sigemptyset(ret);
        for (size_t i = 0; i < ELEMENTSOF(pty_signals); i++)
                sigaddset(ret, pty_signals[i]);
        /* A closed stdout must end in EPIPE, not kill us with the terminal still raw. */
        sigaddset(ret, SIGPIPE);
}

static void pty_forward_end(PtyForward *f, CtlPtyEnd end, int sig) {
        if (f->done)
                return;
        f->done = true;
        f->end = end;
        f->signal = sig;
}

static void pty_forward_fail(PtyForward *f, int r) {
        if (f->done)
                return;
        f->done = true;
        f->error = r;
}

static void pty_pass_size(PtyForward *f) {
        struct winsize ws;

        if (ctl_pty_get_size(&ws) < 0)
                return;
        /* The kernel sends SIGWINCH to the terminal's foreground process group in the instance. */
        (void) ioctl(f->master, TIOCSWINSZ, &ws);
}

static bool errno_is_hangup(int e) {
        return IN_SET(e, EIO, EPIPE, ECONNRESET, EBADF, ENXIO);
}

/* One read from fd into buf, retried on EINTR: 1 with the number of bytes in *ret_n (0: EOF, or a hangup,
 * which ends the stream too), 0 when fd would block (clears *readable), -errno on failure. */
static int read_buffer(int fd, void *buf, size_t size, bool *readable, size_t *ret_n) {
        ssize_t k;

        do
                k = read(fd, buf, size);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
                if (errno == EAGAIN) {
                        *readable = false;
                        return 0;
                }
                if (!errno_is_hangup(errno))
                        return -errno;
                k = 0;
        }
        *ret_n = (size_t) k;
        return 1;
}

/* Reads stdin into in_buf, through the escape filter. */
static int shovel_in(PtyForward *f) {
        uint8_t buf[PTY_BUFFER_SIZE];
        size_t room;
        bool detach = false;
        size_t n;
        int r;

        if (!f->in_readable || f->in_eof || f->in_n + 1 >= sizeof(f->in_buf))
                return 0;

        room = sizeof(f->in_buf) - f->in_n - 1;         /* feeding n may give n + 1 */
        r = read_buffer(f->in, buf, MIN(room, sizeof(buf)), &f->in_readable, &n);
        if (r <= 0)
                return r;
        if (n == 0) {
                f->in_eof = true;
                f->in_readable = false;
                if (f->opts->detach_on_eof)
                        pty_forward_end(f, CTL_PTY_DETACHED, 0);
                else
                        f->eof_pending = true;
                return 1;
        }

        if (f->opts->escape)
                f->in_n += ctl_escape_feed(&f->escape, buf, n, f->in_buf + f->in_n, &detach);
        else {
                memcpy(f->in_buf + f->in_n, buf, n);
                f->in_n += n;
        }
        if (detach)
                pty_forward_end(f, CTL_PTY_DETACHED, 0);
        return 1;
}

/* One write of the *n bytes at buf to fd, keeping what is left at the front of buf: 1 on progress (or a
 * hangup, which sets *hangup), 0 when fd would block (clears *writable), -errno on failure. */
static int write_buffer(int fd, uint8_t *buf, size_t *n, bool *writable, bool *hangup) {
        ssize_t k;

        k = write(fd, buf, *n);
        if (k < 0) {
                if (errno == EINTR)
                        return 1;
                if (errno == EAGAIN) {
                        *writable = false;
                        return 0;
                }
                if (!errno_is_hangup(errno))
                        return -errno;
                *hangup = true;
                return 1;
        }
        memmove(buf, buf + k, *n - (size_t) k);
        *n -= (size_t) k;
        return 1;
}

/* Writes in_buf to the master; after EOF on stdin, the terminal's EOF character (as if Ctrl-d was typed),
 * so that a shell reading a script from a pipe ends. */
static int shovel_to_master(PtyForward *f) {
        if (!f->master_writable || f->master_hangup)
                return 0;

        if (f->in_n == 0 && f->eof_pending) {
                struct termios t;

                f->eof_pending = false;
                if (tcgetattr(f->master, &t) >= 0 && t.c_cc[VEOF] != _POSIX_VDISABLE) {
                        f->in_buf[0] = t.c_cc[VEOF];
                        f->in_n = 1;
                }
        }
        if (f->in_n == 0)
                return 0;

        return write_buffer(f->master, f->in_buf, &f->in_n, &f->master_writable, &f->master_hangup);
}

static int shovel_from_master(PtyForward *f) {
        size_t n;
        int r;

        if (!f->master_readable || f->master_hangup || f->out_n >= sizeof(f->out_buf))
                return 0;

        /* A hangup (EIO: no slave is open any more) comes after all output was read. */
        r = read_buffer(f->master, f->out_buf + f->out_n, sizeof(f->out_buf) - f->out_n, &f->master_readable,
                        &n);
        if (r <= 0)
                return r;
        if (n == 0) {
                f->master_hangup = true;
                return 1;
        }
        f->out_n += n;
        return 1;
}

static int shovel_out(PtyForward *f) {
        if (f->out_n == 0)
                return 0;
        if (f->out_gone) {
                /* Nobody reads our output any more: the instance's terminal must not block on it. */
                f->out_n = 0;
                return 1;
        }
        if (!f->out_writable)
                return 0;

        return write_buffer(f->out, f->out_buf, &f->out_n, &f->out_writable, &f->out_gone);
}

static void shovel(PtyForward *f) {
        int (*const steps[])(PtyForward *) = { shovel_in, shovel_to_master, shovel_from_master, shovel_out };
        bool progress;

        do {
                progress = false;
                for (size_t i = 0; i < ELEMENTSOF(steps) && !f->done; i++) {
                        int r = steps[i](f);
                        if (r < 0) {
                                pty_forward_fail(f, r);
                                return;
                        }
                        if (r > 0)
                                progress = true;
                }
        } while (progress && !f->done);

        if (!f->done && f->master_hangup && f->out_n == 0)
                pty_forward_end(f, CTL_PTY_HANGUP, 0);
}

static int on_master(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        /* On a hangup, a read says EIO once the buffered output is read. */
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                f->master_readable = true;
        if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                f->master_writable = true;
        shovel(f);
        return 0;
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        f->in_readable = true;
        shovel(f);
        return 0;
}

static int on_stdout(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        f->out_writable = true;
        shovel(f);
        return 0;
}

static int on_signal_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        /* InvalidState: the process has ended, and the hangup of its terminal follows. */
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        PtyForward *f = userdata;
        int sig = (int) si->ssi_signo, r;

        if (sig == SIGWINCH) {
                pty_pass_size(f);
                return 0;
        }

        if (!f->opts->process || !f->bus) {
                pty_forward_end(f, CTL_PTY_SIGNAL, sig);
                return 0;
        }

        r = sd_bus_call_method_async(f->bus, NULL, LXCBUS_BUS_NAME, f->opts->process, LXCBUS_PROCESS_INTERFACE,
                                     "Signal", on_signal_reply, NULL, "i", (int32_t) sig);
        if (r < 0)
                /* The terminal is raw: \r\n. */
                fprintf(stderr, "lxcbusctl: Failed to forward signal %d to the process: %s\r\n", sig,
                        strerror(-r));
        return 0;
}

/* Watches fd edge-triggered; if epoll cannot watch it (a regular file, /dev/null), it never blocks, so
 * *flag stays set. */
static int watch_fd(PtyForward *f, int fd, uint32_t events, sd_event_io_handler_t handler, bool *flag) {
        int r;

        r = sd_event_add_io(f->event, NULL, fd, events | EPOLLET, handler, f);
        if (r == -EPERM) {
                *flag = true;
                return 0;
        }
        return r;
}

typedef struct TerminalState {
        int in_fd, out_fd;
        int in_flags, out_flags;        /* -1: not changed */
        bool termios_saved;
        struct termios termios;
} TerminalState;

static void terminal_restore(TerminalState *t) {
        /* Reverse order: stdin and stdout may be one open file, whose flags stdin saved first. */
        if (t->out_flags >= 0)
                (void) fcntl(t->out_fd, F_SETFL, t->out_flags);
        if (t->in_flags >= 0)
                (void) fcntl(t->in_fd, F_SETFL, t->in_flags);
        if (t->termios_saved)
                (void) tcsetattr(t->in_fd, TCSANOW, &t->termios);
        t->out_flags = t->in_flags = -1;
        t->termios_saved = false;
}

static int fd_set_nonblock(int fd, int *ret_saved) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return -errno;
        if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        *ret_saved = flags;
        return 0;
}

static int terminal_setup(Context *c, TerminalState *t, int master) {
        struct termios raw;
        int r;

        /* Raw mode: every key goes to the instance's terminal, which does the line editing, the echo and
         * ^C; and its output is already processed (\r\n), so ours does nothing to it. */
        if (isatty(t->in_fd) > 0 && tcgetattr(t->in_fd, &t->termios) >= 0) {
                t->termios_saved = true;
                raw = t->termios;
                cfmakeraw(&raw);
                if (tcsetattr(t->in_fd, TCSANOW, &raw) < 0)
                        return ctl_error_errno(c, errno, "Failed to put the terminal in raw mode: %m");
        }

        /* Non-blocking, also for whoever shares these open files (the shell that started us), until we
         * restore the flags. */
        r = fd_set_nonblock(t->in_fd, &t->in_flags);
        if (r >= 0)
                r = fd_set_nonblock(t->out_fd, &t->out_flags);
        if (r >= 0) {
                int dummy;
                r = fd_set_nonblock(master, &dummy);
        }
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to make the terminal non-blocking: %m");
        return 0;
}

static int pty_watch_signals(PtyForward *f) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(pty_signals); i++) {
                sd_event_source *s;

                r = sd_event_add_signal(f->event, &s, pty_signals[i], on_signal, f);
                if (r < 0)
                        return ctl_error_errno(f->context, r, "Failed to watch signal %d: %m", pty_signals[i]);
                /* Before the input of the same iteration: keys typed after a resize see the new size. */
                (void) sd_event_source_set_priority(s, SD_EVENT_PRIORITY_IMPORTANT);
                /* Owned by the loop, as with a NULL slot. */
                (void) sd_event_source_set_floating(s, true);
                sd_event_source_unref(s);
        }
        return 0;
}

/* The master, stdin and stdout on the loop, and the bus if signals go to a process. */
static int pty_watch_fds(PtyForward *f) {
        sd_bus *bus;
        int r;

        r = watch_fd(f, f->master, EPOLLIN | EPOLLOUT, on_master, &f->master_readable);
        if (r >= 0)
                r = watch_fd(f, f->in, EPOLLIN, on_stdin, &f->in_readable);
        if (r >= 0)
                r = watch_fd(f, f->out, EPOLLOUT, on_stdout, &f->out_writable);
        if (r < 0)
                return ctl_error_errno(f->context, r, "Failed to watch the terminal: %m");
        if (fcntl(f->in, F_GETFD) < 0) {
                f->in_eof = true;       /* stdin closed */
                f->eof_pending = !f->opts->detach_on_eof;
        }

        /* With the bus on the loop, Process.Signal goes out while we forward. */
        if (f->opts->process) {
                r = ctl_bus_get(f->context, &bus);
                if (r < 0)
                        return r;
                r = sd_bus_attach_event(bus, f->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return ctl_error_errno(f->context, r,
                                               "Failed to attach the bus to the event loop: %m");
                f->bus = bus;
        }
        return 0;
}

int ctl_pty_forward(Context *c, int master, const CtlPtyOptions *opts, CtlPtyEnd *ret_end, int *ret_signal) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(terminal_restore) TerminalState t = {
                .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .in_flags = -1, .out_flags = -1,
        };
        _cleanup_free_ PtyForward *f = NULL;
        sigset_t mask;
        int r;

        assert(c);
        assert(master >= 0);
        assert(opts);
        assert(ret_end);

        /* Blocked already by a caller that follows the header's advice; again, to be sure. */
        ctl_pty_signal_mask(&mask);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        f = calloc(1, sizeof(*f));
        if (!f)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        f->context = c;
        f->opts = opts;
        f->master = master;
        f->in = STDIN_FILENO;
        f->out = STDOUT_FILENO;

        r = sd_event_new(&event);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to allocate event loop: %m");
        f->event = event;

        r = pty_watch_signals(f);
        if (r < 0)
                return r;

        r = terminal_setup(c, &t, master);
        if (r < 0)
                return r;

        r = pty_watch_fds(f);
        if (r < 0)
                return r;

        if (opts->set_size)
                pty_pass_size(f);

        if (f->in_eof && opts->detach_on_eof)
                pty_forward_end(f, CTL_PTY_DETACHED, 0);
        else
                shovel(f);

        /* Not sd_event_loop() and sd_event_exit(): on exit, sd-bus closes a bus attached to the loop, and
         * the caller still needs it. */
        r = 0;
        while (!f->done && r >= 0)
                r = sd_event_run(event, UINT64_MAX);
        if (f->bus)
                (void) sd_bus_detach_event(f->bus);
        /* Now, so that a message below is on a sane terminal. */
        terminal_restore(&t);
        if (r < 0)
                return ctl_error_errno(c, r, "Event loop failed: %m");
        if (f->error < 0)
                return ctl_error_errno(c, f->error, "Failed to forward the terminal: %m");

        *ret_end = f->end;
        if (ret_signal)
                *ret_signal = f->signal;
        return 0;
}
