/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The core of lxcbusd-worker and lxcbusd-monitor: each does one liblxc job for lxcbusd and reports over
 * the socket on fd 3 (see worker-proto.h). liblxc forks, waits and may crash or hang: none of that may
 * touch the daemon's event loop, so all of it happens in them. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "trace.h"
#include "util.h"
#include "worker-core.h"
#include "worker-proto.h"

const int worker_fd = WORKER_FD;
const char *worker_path;

void lxc_container_putp(struct lxc_container **c) {
        if (*c)
                lxc_container_put(*c);
}

int worker_send_message_fds(const WorkerMessage *m, const int *fds, size_t n_fds) {
        char buf[WORKER_MSG_MAX];
        int n;

        if (n_fds > 2)
                return -E2BIG;
        n = worker_message_format(m, buf, sizeof buf);
        if (n < 0)
                return n;
        /* The daemon may be gone (restarted): never die of SIGPIPE for that. */
        return send_with_fds(worker_fd, buf, (size_t) n, fds, n_fds);
}

int worker_send_message(const WorkerMessage *m) {
        return worker_send_message_fds(m, NULL, 0);
}

int worker_result(int error, const char *format, ...) {
        char text[4096];
        va_list ap;

        va_start(ap, format);
        vsnprintf(text, sizeof text, format, ap);
        va_end(ap);
        (void) worker_send_message(&(WorkerMessage) { .kind = WORKER_MESSAGE_RESULT, .error = abs(error),
                                                      .text = text });
        return error == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void worker_report_bytes(uint64_t done, uint64_t total) {
        (void) worker_send_message(&(WorkerMessage) { .kind = WORKER_MESSAGE_BYTES,
                                                      .bytes = MIN(done, WORKER_BYTES_MAX),
                                                      .bytes_total = MIN(total, WORKER_BYTES_MAX) });
}

void worker_progress(double fraction, const char *stage) {
        (void) worker_send_message(&(WorkerMessage) { .kind = WORKER_MESSAGE_PROGRESS, .progress = fraction,
                                                      .text = stage });
}

static int open_container(const char *lxcpath, const char *name, struct lxc_container **ret) {
        struct lxc_container *c;

        c = lxc_container_new(name, lxcpath);
        if (!c)
                return -ENOMEM;
        if (!c->is_defined(c)) {
                lxc_container_put(c);
                return -ENOENT;
        }
        *ret = c;
        return 0;
}

/* The request. A worker the daemon kept ready (its spare exec worker) gets the request's fds with it, not at
 * its fork: they go where a forked worker has them, WORKER_FD + 1 + i. */
static ssize_t recv_request(char *buf, size_t size) {
        int fds[8];
        size_t n = 0;
        bool truncated = false;
        ssize_t k;

        k = recv_with_fds(worker_fd, buf, size, 0, fds, ELEMENTSOF(fds), &n, &truncated);
        if (k > 0 && (truncated || fds_place(fds, n, WORKER_FD + 1) < 0))
                k = -1;
        for (size_t j = 0; j < n; j++)
                if (fds[j] > WORKER_FD + (int) n)
                        (void) close(fds[j]);
        return k;
}

int worker_serve(int argc, char *argv[], const char *program,
                 const WorkerHandler handlers[static _WORKER_VERB_MAX]) {
        _cleanup_(worker_request_done) WorkerRequest req = {};
        _cleanup_lxc_ struct lxc_container *c = NULL;
        _cleanup_free_ char *buf = NULL;
        ssize_t k;
        int r;

        assert(program);
        assert(handlers);

        worker_path = getenv("LXCBUS_WORKER_PATH") ?: argv[0];
        (void) signal(SIGPIPE, SIG_IGN);

        buf = malloc(WORKER_MSG_MAX + 1);
        if (!buf)
                return EXIT_FAILURE;
        k = recv_request(buf, WORKER_MSG_MAX);
        /* A spare made ahead of need ran below the daemon's priority until now (src/daemon/worker.c). */
        const char *nice_s = getenv("LXCBUS_WORKER_NICE");
        if (nice_s) {
                if (setpriority(PRIO_PROCESS, 0, atoi(nice_s)) < 0)
                        fprintf(stderr, "%s: cannot restore priority %s: %m\n", program, nice_s);
                (void) unsetenv("LXCBUS_WORKER_NICE");
        }
        if (k <= 0) {
                fprintf(stderr, "%s: no request on fd %i; this program is run by lxcbusd.\n", program,
                        worker_fd);
                return EXIT_FAILURE;
        }
        r = worker_request_decode(buf, (size_t) k, &req);
        if (r < 0)
                return worker_result(r == -ENOMEM ? ENOMEM : EINVAL,
                                     r == -ENOMEM ? "Out of memory." : "Malformed request.");

        trace_event("worker-main", req.name);
        const WorkerHandler *h = &handlers[req.verb];
        if (!h->run)
                return worker_result(EINVAL, "%s does not serve '%s'.", program,
                                     worker_verb_to_string(req.verb));
        if (h->container) {
                r = open_container(req.lxcpath, req.name, &c);
                if (r < 0)
                        return worker_result(-r, "Instance '%s' has no LXC config.", req.name);
        }
        return h->run(&req, c);
}
