/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-pty.h"
#include "ctl-util.h"
#include "ctl.h"

/* "console": a terminal of the instance (its console, or one of its lxc.tty.max terminals) on ours, until
 * Ctrl-a q. The daemon gives the terminal back when we leave the bus, so detaching is just exiting.
 * "console-log": the console ring buffer. */

static int parse_tty(Context *c, const char *arg, void *userdata) {
        int32_t *tty = userdata;
        uint32_t n;

        if (streq(arg, "-1")) {
                *tty = -1;
                return 1;
        }
        if (ctl_parse_uint32(arg, &n) < 0 || n > INT32_MAX)
                return ctl_usage_error(c, "Invalid --tty '%s': expected -1 (the console) or "
                                       "a terminal number.", arg);
        *tty = (int32_t) n;
        return 1;
}

/* m, the call OpenConsole(tty) on the instance: the master of its terminal in *ret_master. */
static int open_console(Context *c, sd_bus_message *m, int32_t tty, int *ret_master) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sigset_t mask;
        int fd, r;

        r = sd_bus_message_append(m, "i", tty);
        if (r < 0)
                return ctl_message_error(c, r);

        /* A signal from now on restores the terminal before we exit. */
        ctl_pty_signal_mask(&mask);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        r = ctl_call_for_fd(c, m, 0, &reply, &fd);
        if (r < 0)
                return r;
        return ctl_pty_dup_master(c, fd, ret_master);
}

int verb_console(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_ARG("tty", parse_tty),
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_close_ int master = -EBADF;
        int32_t tty = -1;
        int sig = 0, r;
        const char *name;
        CtlPtyEnd end;

        r = ctl_parse_instance_call(c, argc, argv, options, &tty, "OpenConsole", &m);
        if (r <= 0)
                return r;
        name = argv[optind];

        r = open_console(c, m, tty, &master);
        if (r < 0)
                return r;

        if (tty < 0)
                fprintf(stderr, "Connected to the console of %s; type Ctrl-a q to detach.\n", name);
        else
                fprintf(stderr, "Connected to terminal %" PRIi32 " of %s; type Ctrl-a q to detach.\n", tty,
                        name);

        r = ctl_pty_forward(c, master,
                            &(const CtlPtyOptions) { .escape = true, .detach_on_eof = true, .set_size = true },
                            &end, &sig);
        if (r < 0)
                return r;

        switch (end) {
        case CTL_PTY_DETACHED:
                /* The cursor may be anywhere in the instance's output. */
                if (isatty(STDOUT_FILENO) > 0)
                        fputs("\n", stdout);
                break;
        case CTL_PTY_HANGUP:
                fprintf(stderr, "\nlxcbusctl: The terminal of '%s' was closed (the instance stopped).\n", name);
                break;
        case CTL_PTY_SIGNAL:
                c->command_exit_status = 128 + sig;
                break;
        }
        return 0;
}

static int copy_to_stdout(int fd) {
        char buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(STDOUT_FILENO, buf + done, (size_t) (n - done));
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        done += w;
                }
        }
}

int verb_console_log(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                { .name = "clear" },    /* sets the bool that userdata is */
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        bool clear = false;
        int fd, r;

        r = ctl_parse_instance_call(c, argc, argv, options, &clear, "ConsoleLog", &m);
        if (r <= 0)
                return r;
        r = CTL_APPEND_OPTIONS(m, CTL_BUS_FLAG("clear", clear));
        if (r < 0)
                return ctl_message_error(c, r);

        r = ctl_call_for_fd(c, m, 0, &reply, &fd);
        if (r < 0)
                return r;

        /* Everything we print goes through write(); nothing is left in stdio's buffer. */
        fflush(stdout);
        r = copy_to_stdout(fd);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to copy the console log: %m");
        return 0;
}
