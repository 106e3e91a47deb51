/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenConsole: liblxc asks the instance's monitor for a terminal, which may block on a hung monitor,
 * so a worker does it and sends the fds back. A terminal stays allocated while the daemon holds its
 * keep-alive fd: until the caller leaves the bus, or the instance stops. ConsoleLog: the file the
 * monitor writes the console to. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>

#include "bus-errors.h"
#include "bus-options.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#define CONSOLES_PER_INSTANCE_MAX 16
#define TTY_MAX 64

struct Console {
        Instance *instance;
        Console *next;
        int keep_fd;
        int tty;
        sd_bus_track *track;
};

typedef struct ConsoleCall {
        Instance *instance;         /* ref */
        sd_bus_message *call;
        Worker *worker;
        uid_t uid;                  /* holds a slot of operation_limits */
        bool replied;
} ConsoleCall;

Console *console_free(Console *c) {
        if (!c)
                return NULL;
        for (Console **p = &c->instance->consoles; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        safe_close(c->keep_fd);
        sd_bus_track_unref(c->track);
        free(c);
        return NULL;
}

void instance_release_consoles(Instance *i) {
        while (i->consoles)
                console_free(i->consoles);
}

static int on_console_caller_gone(sd_bus_track *t, void *userdata) {
        Console *c = userdata;

        log_debug("Caller of terminal %i of '%s' left, releasing it.", c->tty, c->instance->name);
        console_free(c);
        return 0;
}

static unsigned n_consoles(Instance *i) {
        unsigned n = 0;
        for (Console *c = i->consoles; c; c = c->next)
                n++;
        return n;
}

static ConsoleCall *console_call_free(ConsoleCall *cc) {
        if (!cc)
                return NULL;
        if (cc->call && !cc->replied)
                (void) sd_bus_reply_method_errorf(cc->call, LXCBUS_ERROR_FAILED, "Instance '%s': no answer.",
                                                  cc->instance->name);
        sd_bus_message_unref(cc->call);
        worker_free(cc->worker);
        cc->instance->n_console_calls--;
        limiter_put(&cc->instance->manager->operation_limits, cc->uid);
        instance_unref(cc->instance);
        free(cc);
        return NULL;
}

static void on_console_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        ConsoleCall *cc = userdata;
        Instance *i = cc->instance;
        int tty, r;

        if (msg->kind == WORKER_MESSAGE_CONSOLE && w->received_fds[0] >= 0 && w->received_fds[1] >= 0) {
                tty = msg->tty;
                Console *c = calloc(1, sizeof(Console));
                if (!c)
                        return;
                c->instance = i;
                c->tty = tty;
                c->keep_fd = TAKE_FD(w->received_fds[0]);
                r = sd_bus_track_new(i->manager->bus, &c->track, on_console_caller_gone, c);
                if (r >= 0)
                        r = sd_bus_track_add_sender(c->track, cc->call);
                if (r < 0) {
                        safe_close(c->keep_fd);
                        sd_bus_track_unref(c->track);
                        free(c);
                        return;
                }
                c->next = i->consoles;
                i->consoles = c;
                (void) sd_bus_reply_method_return(cc->call, "h", w->received_fds[1]);
                cc->replied = true;
        }
}

static void on_console_exited(Worker *w, int error, const char *message, void *userdata) {
        ConsoleCall *cc = userdata;

        if (!cc->replied) {
                const char *name = error == EBUSY ? LXCBUS_ERROR_BUSY : LXCBUS_ERROR_FAILED;
                (void) sd_bus_reply_method_errorf(cc->call, name, "%s", message ?: "Failed.");
                cc->replied = true;
        }
        console_call_free(cc);
}

static const WorkerHandlers console_handlers = {
        .message = on_console_message,
        .exited = on_console_exited,
};

static int console_call(sd_bus_message *message, Instance *i, unsigned tty, sd_bus_error *error) {
        ConsoleCall *cc;
        uid_t uid;
        int r;

        /* A call in flight is a worker: it counts like an operation of its caller, before it is spawned. */
        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        r = limiter_take(&i->manager->operation_limits, uid, error);
        if (r < 0)
                return r;
        cc = calloc(1, sizeof(ConsoleCall));
        if (!cc) {
                limiter_put(&i->manager->operation_limits, uid);
                return -ENOMEM;
        }
        cc->instance = instance_ref(i);
        cc->uid = uid;
        i->n_console_calls++;
        cc->call = sd_bus_message_ref(message);
        WorkerRequest req = {
                .verb = WORKER_VERB_CONSOLE,
                .lxcpath = i->manager->instances_dir,
                .name = i->name,
                .console.tty = tty,
        };
        r = worker_spawn(i->manager, &req, NULL, 0, &console_handlers, cc, &cc->worker);
        if (r < 0) {
                cc->replied = true;   /* the error goes back through the return value */
                console_call_free(cc);
                return r;
        }
        return 1;
}

int method_open_console(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        int32_t tty;
        int r;

        r = sd_bus_message_read(message, "i", &tty);
        if (r < 0)
                return r;
        if (tty < -1 || tty == 0 || tty > TTY_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid terminal %" PRIi32 ": -1 for the console, or 1 to %u.", tty, TTY_MAX);
        r = bus_authorize(message, i, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Instance '%s' is %s%s%s.", i->name,
                                         instance_state_to_string(i->state), i->load_error ? ": " : "",
                                         strempty(i->load_error));
        if (n_consoles(i) + i->n_console_calls >= CONSOLES_PER_INSTANCE_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Instance '%s' has %u terminals open or being opened already.", i->name,
                                         CONSOLES_PER_INSTANCE_MAX);
        /* liblxc numbers the console 0. */
        return console_call(message, i, tty < 0 ? 0 : (unsigned) tty, error);
}

#define CONSOLE_LOG_MAX (256 * 1024)

/* The console log is a file the monitor appends to (lxc.console.logfile, rotated at 128 KiB): copy it
 * into a sealed memfd, so the caller gets what was there and can change nothing. A bounded read of a
 * small file on the loop. */
int method_console_log(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        _cleanup_close_ int mfd = -EBADF;
        Instance *i = userdata;
        size_t size = 0;
        int clear = 0, r;

        const BusOption options[] = {
                { "clear", "b", &clear },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        /* Emptying the log is not reading it: its own verb, so a rule that lets somebody read does not
         * let them erase what the instance printed. */
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .verb = clear ? "console-log-clear" : NULL },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* The buffer is the running monitor's (docs/api.md): a stopped instance has none to read or clear. */
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Instance '%s' is %s, not running.",
                                         i->name, instance_state_to_string(i->state));
        if (asprintf(&path, "%s/%s/console.log", i->manager->instances_dir, i->name) < 0)
                return -ENOMEM;
        r = read_full_file(path, CONSOLE_LOG_MAX, &data, &size);
        if (r == -EFBIG) {
                /* Rotation keeps it near 128 KiB; if it is larger, the end is what matters. */
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                free(data);
                data = malloc(CONSOLE_LOG_MAX);
                if (fd < 0 || !data)
                        return -ENOMEM;
                ssize_t k = pread(fd, data, CONSOLE_LOG_MAX, MAX(lseek(fd, 0, SEEK_END) - CONSOLE_LOG_MAX, 0));
                size = k > 0 ? (size_t) k : 0;
        } else if (r == -ENOENT)
                size = 0;   /* never started: nothing printed */
        else if (r < 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to read the console log of '%s': %s",
                                         i->name, strerror(-r));

        mfd = memfd_create("lxcbus-console-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        for (size_t off = 0; off < size;) {
                ssize_t k = write(mfd, data + off, size - off);
                if (k < 0)
                        return -errno;
                off += (size_t) k;
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
            lseek(mfd, 0, SEEK_SET) < 0)
                return -errno;
        if (clear && truncate(path, 0) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to clear %s, ignoring: %m", path);
        return sd_bus_reply_method_return(message, "h", mfd);
}
