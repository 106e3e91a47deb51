/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Terminals and the console log of instances (console.h). */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "console.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "util.h"
#include "worker.h"

/* One OpenConsole in flight: its worker. */
typedef struct ConsoleRequest {
        Instance *instance;         /* ref */
        Worker *worker;
        uid_t uid;                  /* holds a slot of operation_limits */
        console_done_t done;
        void *userdata;
} ConsoleRequest;

Console *console_free(Console *c) {
        if (!c)
                return NULL;
        for (Console **p = &c->instance->consoles; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        if (c->release)
                c->release(c);
        safe_close(c->keep_fd);
        return mfree(c);
}

void instance_release_consoles(Instance *i) {
        while (i->consoles)
                console_free(i->consoles);
}

static unsigned n_consoles(Instance *i) {
        unsigned n = 0;
        for (Console *c = i->consoles; c; c = c->next)
                n++;
        return n;
}

static void request_done(ConsoleRequest *req, Console *c, int ptx, int error, const char *message) {
        console_done_t done = TAKE_PTR(req->done);

        if (done)
                done(c, ptx, error, message, req->userdata);
}

static void request_free(ConsoleRequest *req) {
        request_done(req, NULL, -EBADF, -EIO, "No answer.");
        worker_free(req->worker);
        req->instance->n_console_calls--;
        limiter_put(&req->instance->manager->operation_limits, req->uid);
        instance_unref(req->instance);
        free(req);
}

static void on_console_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        ConsoleRequest *req = userdata;
        Instance *i = req->instance;
        Console *c;

        if (msg->kind != WORKER_MESSAGE_CONSOLE || w->received_fds[0] < 0 || w->received_fds[1] < 0 || !req->done)
                return;
        c = new0(Console, 1);
        if (!c)
                return;
        c->instance = i;
        c->tty = msg->tty;
        c->keep_fd = TAKE_FD(w->received_fds[0]);
        c->next = i->consoles;
        i->consoles = c;
        request_done(req, c, w->received_fds[1], 0, NULL);
}

static void on_console_exited(Worker *w, int error, const char *message, void *userdata) {
        ConsoleRequest *req = userdata;

        request_done(req, NULL, -EBADF, error ?: -EIO, message ?: "Failed.");
        request_free(req);
}

static const WorkerHandlers console_handlers = {
        .message = on_console_message,
        .exited = on_console_exited,
};

int console_open(Instance *i, uid_t uid, int tty, console_done_t done, void *userdata) {
        ConsoleRequest *req;
        int r;

        assert(i);
        assert(tty >= 0 && tty <= CONSOLE_TTY_MAX);
        assert(done);

        if (n_consoles(i) + i->n_console_calls >= CONSOLES_PER_INSTANCE_MAX)
                return -EBUSY;
        /* A request in flight is a worker: it counts like an operation of its caller. */
        r = limiter_take(&i->manager->operation_limits, uid);
        if (r < 0)
                return r;
        req = new0(ConsoleRequest, 1);
        if (!req) {
                limiter_put(&i->manager->operation_limits, uid);
                return -ENOMEM;
        }
        *req = (ConsoleRequest) { .instance = instance_ref(i), .uid = uid, .done = done, .userdata = userdata };
        i->n_console_calls++;
        WorkerRequest wr = {
                .verb = WORKER_VERB_CONSOLE,
                .lxcpath = i->manager->instances_dir,
                .name = i->name,
                .console.tty = (unsigned) tty,
        };
        r = worker_spawn(i->manager, &wr, NULL, 0, &console_handlers, req, &req->worker);
        if (r < 0) {
                req->done = NULL;     /* the error goes back through the return value */
                request_free(req);
                return r;
        }
        return 0;
}

/* The console log is a file the monitor appends to (lxc.console.logfile, rotated at 128 KiB): copy it
 * into a sealed memfd, so the caller gets what was there and can change nothing. A bounded read of a
 * small file on the loop. -EIO and the like: reading failed; -ENOMEM, and the memfd's errors. */
int console_read_log(Instance *i, bool clear, int *ret_fd) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        _cleanup_close_ int mfd = -EBADF;
        size_t size = 0;
        int r;

        assert(i);
        assert(ret_fd);

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
                return r;

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
        *ret_fd = TAKE_FD(mfd);
        return 0;
}
