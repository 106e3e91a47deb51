/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for an operation with a progress line, cancelling it on Ctrl-C (ctl-operation.h), and the verbs
 * "operation" and "cancel". */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-operation.h"
#include "ctl-util.h"
#include "names.h"
#include "util.h"

/* Plain progress lines (stderr not a terminal) start once an operation has run this long. */
#define CTL_PLAIN_PROGRESS_AFTER_USEC (5 * USEC_PER_SEC)

typedef struct Progress {
        char *stage;
        double progress;
        bool progress_valid;
        uint64_t bytes, rate;
        bool cancelable;
} Progress;

typedef struct Waiter {
        Context *c;
        const char *path;
        uint64_t id;
        sd_event *event;
        Progress p;
        bool tty;                   /* stderr is a terminal: one line, redrawn */
        bool drawn;                 /* a progress line is on the terminal */
        char *printed_stage;        /* not a terminal: the last stage printed */
        uint64_t started;           /* CLOCK_MONOTONIC µs */
        unsigned interrupts;
        bool done;
        sd_bus_error error;
        int result;
} Waiter;

static void waiter_done(Waiter *w) {
        free(w->p.stage);
        free(w->printed_stage);
        sd_bus_error_free(&w->error);
        w->event = sd_event_unref(w->event);
}

int ctl_operation_path(const char *id, char **ret) {
        uint64_t n;
        char *p;

        assert(id);
        assert(ret);

        if (id[0] == '/') {
                if (ctl_operation_id_from_path(id) == 0 || !startswith(id, LXCBUS_OPERATION_PREFIX "/"))
                        return -EINVAL;
                p = strdup(id);
        } else {
                if (ctl_parse_uint64(id, &n) < 0 || n == 0)
                        return -EINVAL;
                if (asprintf(&p, LXCBUS_OPERATION_PREFIX "/%" PRIu64, n) < 0)
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* One property that the progress line shows (ctl_read_properties()): 1 when read, 0 for the others. */
static int read_progress_property(sd_bus_message *m, const char *name, void *userdata) {
        Progress *p = userdata;
        int b = 0, r;

        if (streq(name, "Stage")) {
                const char *s;
                char *copy;

                r = sd_bus_message_read(m, "v", "s", &s);
                if (r >= 0 && !(copy = strdup(s)))
                        r = -ENOMEM;
                if (r >= 0) {
                        free(p->stage);
                        p->stage = copy;
                }
        } else if (streq(name, "Progress"))
                r = sd_bus_message_read(m, "v", "d", &p->progress);
        else if (streq(name, "ProgressValid")) {
                r = sd_bus_message_read(m, "v", "b", &b);
                p->progress_valid = b;
        } else if (streq(name, "Bytes"))
                r = sd_bus_message_read(m, "v", "t", &p->bytes);
        else if (streq(name, "Rate"))
                r = sd_bus_message_read(m, "v", "t", &p->rate);
        else if (streq(name, "Cancelable")) {
                r = sd_bus_message_read(m, "v", "b", &b);
                p->cancelable = b;
        } else
                return 0;
        return r < 0 ? r : 1;
}

/* Reads the properties of an a{sv} the progress line shows; the others are skipped. */
static int read_progress(sd_bus_message *m, Progress *p) {
        return ctl_read_properties(m, read_progress_property, p);
}

static void clear_line(Waiter *w) {
        if (w->tty && w->drawn) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
                w->drawn = false;
        }
}

/* "unpacking rootfs  45%  1.2G  30.0M/s", the parts that are known. */
static void draw(Waiter *w) {
        char line[256], b[CTL_FORMAT_BYTES_MAX], r[CTL_FORMAT_BYTES_MAX];
        int n;

        n = snprintf(line, sizeof line, "%s", isempty(w->p.stage) ? "running" : w->p.stage);
        if (w->p.progress_valid && n >= 0 && (size_t) n < sizeof line)
                n += snprintf(line + n, sizeof line - n, "  %3.0f%%", w->p.progress * 100);
        if (w->p.bytes > 0 && n >= 0 && (size_t) n < sizeof line)
                n += snprintf(line + n, sizeof line - n, "  %s", ctl_format_bytes(b, sizeof b, w->p.bytes));
        if (w->p.rate > 0 && n >= 0 && (size_t) n < sizeof line)
                (void) snprintf(line + n, sizeof line - n, "  %s/s", ctl_format_bytes(r, sizeof r, w->p.rate));

        if (w->tty) {
                fprintf(stderr, "\r\033[K%s", line);
                w->drawn = true;
        } else {
                /* Not a terminal (a log, a pipe): a line when the stage changes, never per byte, and only
                 * for long work: a script's quick start or stop stays as quiet as it always was. */
                if (now_usec(CLOCK_MONOTONIC) - w->started < CTL_PLAIN_PROGRESS_AFTER_USEC ||
                    streq_ptr(w->printed_stage, w->p.stage) || isempty(w->p.stage))
                        return;
                free(w->printed_stage);
                w->printed_stage = strdup(w->p.stage);
                fprintf(stderr, "operation %" PRIu64 ": %s\n", w->id, line);
        }
        fflush(stderr);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Waiter *w = userdata;
        const char *interface;

        if (sd_bus_message_read(m, "s", &interface) < 0 || !streq(interface, LXCBUS_OPERATION_INTERFACE))
                return 0;
        if (read_progress(m, &w->p) >= 0 && !w->done)
                draw(w);
        return 0;
}

static int on_wait_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Waiter *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        w->done = true;
        if (e) {
                w->result = -sd_bus_message_get_errno(m) ?: -EIO;
                (void) sd_bus_error_copy(&w->error, e);
        }
        return 0;
}

static int on_cancel_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Waiter *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e && !w->done) {
                clear_line(w);
                fprintf(stderr, "lxcbusctl: failed to cancel operation %" PRIu64 ": %s\n", w->id,
                        e->message ?: e->name);
        }
        return 0;
}

static int on_sigint(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Waiter *w = userdata;
        sd_bus *bus = w->c->bus;

        if (w->done)
                return 0;
        clear_line(w);
        if (++w->interrupts > 1) {
                fprintf(stderr, "lxcbusctl: no longer waiting; operation %" PRIu64 " goes on (%s).\n", w->id,
                        w->path);
                w->result = -EINTR;
                w->done = true;
                return 0;
        }
        if (!w->p.cancelable) {
                fprintf(stderr, "lxcbusctl: operation %" PRIu64 " cannot be cancelled; waiting for it to finish "
                        "(Ctrl-C again to stop waiting).\n", w->id);
                return 0;
        }
        fprintf(stderr, "lxcbusctl: cancelling operation %" PRIu64 " (Ctrl-C again to stop waiting).\n", w->id);
        (void) sd_bus_call_method_async(bus, NULL, LXCBUS_BUS_NAME, w->path, LXCBUS_OPERATION_INTERFACE, "Cancel",
                                        on_cancel_reply, w, NULL);
        return 0;
}

/* The current values, after the match is in place: no change can fall between the two. */
static int read_initial(Waiter *w, sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, LXCBUS_BUS_NAME, w->path, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &reply, "s", LXCBUS_OPERATION_INTERFACE);
        if (r < 0)
                return ctl_bus_error(w->c, &error, r);
        r = read_progress(reply, &w->p);
        if (r < 0)
                return ctl_error_errno(w->c, r, "Failed to parse the properties of %s: %m", w->path);
        return 0;
}

static int run_wait(Waiter *w, sd_bus *bus) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *wait = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_match_signal(bus, &match, LXCBUS_BUS_NAME, w->path, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, w);
        if (r < 0)
                return ctl_error_errno(w->c, r, "Failed to watch %s: %m", w->path);
        r = read_initial(w, bus);
        if (r < 0)
                return r;
        draw(w);

        r = sd_bus_message_new_method_call(bus, &m, LXCBUS_BUS_NAME, w->path, LXCBUS_OPERATION_INTERFACE, "Wait");
        if (r < 0)
                return ctl_message_error(w->c, r);
        /* However long the operation takes (a push of a large file): no timeout. */
        r = sd_bus_call_async(bus, &wait, m, on_wait_reply, w, UINT64_MAX);
        if (r < 0)
                return ctl_error_errno(w->c, r, "Failed to wait for %s: %m", w->path);
        r = sd_event_add_signal(w->event, NULL, SIGINT, on_sigint, w);
        if (r < 0)
                return ctl_error_errno(w->c, r, "Failed to catch SIGINT: %m");
        /* Never sd_event_exit(): sd-bus closes an attached bus when its loop exits, and the verb may go on
         * using it. */
        r = 0;
        while (!w->done && r >= 0)
                r = sd_event_run(w->event, UINT64_MAX);
        clear_line(w);
        if (r < 0)
                return ctl_error_errno(w->c, r, "Failed to wait for %s: %m", w->path);
        if (w->result == -EINTR)
                return ctl_error_errno(w->c, EINTR, "Interrupted.");
        if (w->result < 0)
                return ctl_bus_error(w->c, &w->error, w->result);
        return 0;
}

int ctl_wait_operation(Context *c, const char *path) {
        _cleanup_(waiter_done) Waiter w = { .c = c, .path = path, .error = SD_BUS_ERROR_NULL };
        sigset_t mask, old;
        sd_bus *bus;
        int r;

        assert(c);
        assert(path);

        r = ctl_bus_attach_new_event(c, &bus, &w.event);
        if (r < 0)
                return r;
        w.id = ctl_operation_id_from_path(path);
        w.started = now_usec(CLOCK_MONOTONIC);
        w.tty = isatty(STDERR_FILENO) > 0;

        /* SIGINT through the loop: blocked for the wait only. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, &old);
        r = run_wait(&w, bus);
        (void) sd_bus_detach_event(bus);
        w.event = sd_event_unref(w.event);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}

int ctl_call_operation(Context *c, sd_bus_message **m, CtlOperationCall mode) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *member, *instance, *operation;
        int r;

        assert(c);
        assert(m);
        assert(*m);

        member = sd_bus_message_get_member(*m);
        r = ctl_call(c, *m, mode == CTL_OPERATION_BLOCK ? ctl_operation_timeout_usec(0) : 0, &reply);
        if (r < 0)
                return r;
        if (streq_ptr(sd_bus_message_get_signature(reply, true), "oo"))
                r = ctl_read_reply(c, reply, member, "oo", &instance, &operation);
        else
                r = ctl_read_reply(c, reply, member, "o", &operation);
        if (r < 0)
                return r;
        *m = sd_bus_message_unref(*m);

        if (mode == CTL_OPERATION_FOLLOW)
                return ctl_wait_operation(c, operation);
        if (mode == CTL_OPERATION_PRINT)
                puts(operation);        /* all the caller gets: for scripts to follow */
        return 0;                       /* CTL_OPERATION_BLOCK: it has ended */
}

/* ---------------------------------------------------------------- verbs */

/* One property as "Name: value", by the type of its variant; times as dates, sizes as sizes. */
static int print_property(sd_bus_message *m, const char *name) {
        char buf[CTL_FORMAT_TIMESTAMP_MAX];
        const char *contents, *s;
        char type;
        uint64_t t;
        double d;
        uint32_t u;
        int r, b;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        switch (contents[0]) {
        case 's':
        case 'o':
                r = sd_bus_message_read_basic(m, contents[0], &s);
                if (r >= 0)
                        printf("%16s: %s\n", name, s);
                break;
        case 'b':
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r >= 0)
                        printf("%16s: %s\n", name, b ? "yes" : "no");
                break;
        case 'd':
                r = sd_bus_message_read_basic(m, 'd', &d);
                if (r >= 0)
                        printf("%16s: %.0f%%\n", name, d * 100);
                break;
        case 'u':
                r = sd_bus_message_read_basic(m, 'u', &u);
                if (r >= 0)
                        printf("%16s: %" PRIu32 "\n", name, u);
                break;
        case 't':
                r = sd_bus_message_read_basic(m, 't', &t);
                if (r < 0)
                        break;
                if (strlen(name) > 2 && streq(name + strlen(name) - 2, "At"))
                        printf("%16s: %s\n", name, ctl_format_timestamp(buf, sizeof buf, t));
                else if (streq(name, "Rate"))
                        printf("%16s: %s/s\n", name, ctl_format_bytes(buf, sizeof buf, t));
                else if (streq(name, "Bytes"))
                        printf("%16s: %s\n", name, ctl_format_bytes(buf, sizeof buf, t));
                else
                        printf("%16s: %" PRIu64 "\n", name, t);
                break;
        default:
                r = sd_bus_message_skip(m, contents);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Each property printed (ctl_read_properties()); userdata: where the Status goes. */
static int show_property(sd_bus_message *m, const char *name, void *userdata) {
        char **status = userdata;
        const char *st;
        int r;

        if (!streq(name, "Status"))
                r = print_property(m, name);
        else {
                r = sd_bus_message_read(m, "v", "s", &st);
                if (r >= 0) {
                        printf("%16s: %s\n", name, st);
                        free(*status);
                        *status = strdup(st);
                }
        }
        return r < 0 ? r : 1;
}

/* Prints the operation's properties; *ret_status: its Status. */
static int show_operation(Context *c, const char *path, char **ret_status) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_call_method(c, path, "org.freedesktop.DBus.Properties", "GetAll", 0, &reply, "s",
                            LXCBUS_OPERATION_INTERFACE);
        if (r < 0)
                return r;
        printf("%16s: %s\n", "Path", path);
        r = ctl_read_properties(reply, show_property, ret_status);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse the properties of %s: %m", path);
        return 0;
}

typedef struct OperationArgs {
        bool wait;
} OperationArgs;

static int parse_operation_id(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                              char **ret_path) {
        int r;

        r = ctl_parse_args(c, argc, argv, options, userdata, 1, "operation id");
        if (r <= 0)
                return r;
        r = ctl_operation_path(argv[optind], ret_path);
        if (r == -ENOMEM)
                return ctl_error_errno(c, r, "Out of memory.");
        if (r < 0)
                return ctl_usage_error(c, "Invalid operation id '%s': expected a number or an operation path.",
                                       argv[optind]);
        return 1;
}

int verb_operation(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_FLAG("wait", OperationArgs, wait),
                {}
        };
        _cleanup_free_ char *path = NULL, *status = NULL;
        OperationArgs a = {};
        int r;

        r = parse_operation_id(c, argc, argv, options, &a, &path);
        if (r <= 0)
                return r;
        if (a.wait) {
                /* Its result decides the exit status; then what it ended as. */
                int w = ctl_wait_operation(c, path);
                r = show_operation(c, path, &status);
                return w < 0 ? w : r;
        }
        r = show_operation(c, path, &status);
        if (r < 0)
                return r;
        if (status && (streq(status, "failure") || streq(status, "cancelled")))
                return ctl_error_errno(c, ECANCELED, "Operation %" PRIu64 " ended: %s.",
                                       ctl_operation_id_from_path(path), status);
        return 0;
}

int verb_cancel(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_free_ char *path = NULL;
        int r;

        r = parse_operation_id(c, argc, argv, options, NULL, &path);
        if (r <= 0)
                return r;
        return ctl_call_method(c, path, LXCBUS_OPERATION_INTERFACE, "Cancel", 0, NULL, NULL);
}
