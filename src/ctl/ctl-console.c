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

enum {
        ARG_TTY = ARG_FIRST_VERB_OPTION,
        ARG_CLEAR,
};

static int parse_tty(const char *s, int32_t *ret) {
        uint32_t n;

        if (streq(s, "-1")) {
                *ret = -1;
                return 0;
        }
        if (ctl_parse_uint32(s, &n) < 0 || n > INT32_MAX)
                return -EINVAL;
        *ret = (int32_t) n;
        return 0;
}

int verb_console(Context *c, int argc, char *argv[]) {
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "tty", required_argument, NULL, ARG_TTY },
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int master = -EBADF;
        int32_t tty = -1;
        int opt, fd, sig = 0, r;
        const char *name;
        CtlPtyEnd end;
        sigset_t mask;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_TTY:
                        if (parse_tty(optarg, &tty) < 0)
                                return ctl_usage_error(c, "Invalid --tty '%s': expected -1 (the console) or "
                                                       "a terminal number.", optarg);
                        break;
                default:
                        r = ctl_common_option(c, opt, optarg);
                        if (r <= 0)
                                return r;
                }

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;
        name = argv[optind];

        r = ctl_get_instance_path(c, name, &path);
        if (r < 0)
                return r;

        /* A signal from now on restores the terminal before we exit. */
        ctl_pty_signal_mask(&mask);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return ctl_error_errno(c, errno, "Failed to block signals: %m");

        r = ctl_new_method_call(c, path, LXCBUS_INSTANCE_INTERFACE, "OpenConsole", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "i", tty);
        if (r < 0)
                return ctl_message_error(c, r);
        r = ctl_call(c, m, 0, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply of OpenConsole: %m");
        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return ctl_error_errno(c, errno, "Failed to duplicate the terminal's fd: %m");
        reply = sd_bus_message_unref(reply);

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
        static const struct option options[] = {
                CTL_COMMON_OPTIONS,
                { "clear", no_argument, NULL, ARG_CLEAR },
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        bool clear = false;
        int opt, fd, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_CLEAR:
                        clear = true;
                        break;
                default:
                        r = ctl_common_option(c, opt, optarg);
                        if (r <= 0)
                                return r;
                }

        r = ctl_expect_args(c, argc, argv, 1, "instance name");
        if (r < 0)
                return r;

        r = ctl_new_instance_call(c, argv[optind], "ConsoleLog", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && clear)
                r = ctl_append_option_bool(m, "clear", true);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return ctl_message_error(c, r);

        r = ctl_call(c, m, 0, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply of ConsoleLog: %m");

        /* Everything we print goes through write(); nothing is left in stdio's buffer. */
        fflush(stdout);
        r = copy_to_stdout(fd);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to copy the console log: %m");
        return 0;
}
