/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manager.h"
#include "worker.h"
#include "log.h"
#include "trace.h"
#include "util.h"
#include "worker-proto.h"

static void worker_finish(Worker *w, int error, const char *message) {
        const WorkerHandlers *h = w->handlers;
        void *userdata = w->userdata;
        /* The handler usually frees the worker first and quotes the message after: the message is
         * ours until the handler returns. */
        char *owned = message && message == w->result_message ? TAKE_PTR(w->result_message) : NULL;

        w->io_source = sd_event_source_disable_unref(w->io_source);
        w->handlers = NULL;
        if (h && h->exited)
                h->exited(w, error, message, userdata);
        free(owned);
}

static void worker_close_received(Worker *w) {
        w->received_fds[0] = safe_close(w->received_fds[0]);
        w->received_fds[1] = safe_close(w->received_fds[1]);
}

/* At most this many messages per dispatch: a worker that floods its socket gets its turn like every
 * other event source (the io source is level-triggered and comes back), never the whole loop. */
#define WORKER_MSGS_PER_DISPATCH 16
/* Draining after the worker's exit: more than its socket's queue can hold. Once no process holds the
 * other end, fewer arrive; the bound only keeps a stray writer from pinning the loop. */
#define WORKER_MSGS_AT_EXIT 1024
/* fds that one message may carry (a pty master; a console's two); more are closed unread. */
#define WORKER_MSG_FDS_MAX 2

/* Reads up to budget pending messages. Returns 1 if more may be pending, 0 if the socket is empty. */
static int worker_drain(Worker *w, unsigned budget) {
        char buf[WORKER_MSG_MAX + 1];

        for (unsigned count = 0; count < budget; count++) {
                int fds[WORKER_MSG_FDS_MAX];
                size_t n_fds;

                /* A message may carry up to two fds (a pty master, a console): the handler of a message
                 * that expects them takes them; every other fd is closed after it, extra ones at once. */
                ssize_t n = recv_with_fds(w->fd, buf, WORKER_MSG_MAX, MSG_DONTWAIT, fds, ELEMENTSOF(fds), &n_fds,
                                          NULL);
                if (n == -EINTR)
                        continue;
                if (n < 0)
                        return 0;
                worker_close_received(w);
                for (size_t k = 0; k < n_fds; k++)
                        w->received_fds[k] = fds[k];
                if (n == 0) {
                        worker_close_received(w);
                        return 0;
                }
                buf[n] = 0;

                WorkerMessage msg;
                if (worker_message_parse(buf, (size_t) n, &msg) < 0) {
                        log_debug("Ignoring a malformed message from worker %i.", (int) w->pid);
                        worker_close_received(w);
                        continue;
                }
                if (msg.kind == WORKER_MESSAGE_RESULT) {
                        w->got_result = true;
                        w->result_error = -msg.error;
                        free(w->result_message);
                        w->result_message = strdup(msg.text);
                        worker_close_received(w);
                        if (w->finish_on_result && !w->exited) {
                                /* All it does now is exit: its exit would tell nothing more, later. */
                                worker_finish(w, w->result_error, w->result_message);
                                return 0;
                        }
                        continue;
                }
                if (w->handlers && w->handlers->message)
                        w->handlers->message(w, &msg, w->userdata);
                worker_close_received(w);
        }
        return 1;
}

static void spare_refill(Worker *w);

static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;

        if (w->refill)
                spare_refill(w);

        /* More pending: the level-triggered source fires again on the next iteration. */
        if (worker_drain(w, WORKER_MSGS_PER_DISPATCH) > 0)
                return 0;
        if (revents & (EPOLLHUP | EPOLLERR))
                /* The worker closed its end; its exit follows and the child source tells. */
                (void) sd_event_source_set_enabled(w->io_source, SD_EVENT_OFF);
        return 0;
}

/* sd-event watches (by pidfd where the kernel has it, SIGCHLD otherwise) and reaps the child after
 * this returns. */
static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Worker *w = userdata;
        char msg[128];

        /* Once: sd-event reaps the child after this returns (the source is not oneshot, see worker_spawn()). */
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        w->exited = true;
        if (w->refill)
                spare_refill(w);
        (void) worker_drain(w, WORKER_MSGS_AT_EXIT);

        for (size_t k = 0; k < ELEMENTSOF(w->manager->spare_workers); k++)
                if (w == w->manager->spare_workers[k]) {
                        w->manager->spare_workers[k] = NULL;
                        worker_free(w);
                        return 0;
                }
        if (w->abandoned) {
                Worker **p;
                for (p = &w->manager->abandoned_workers; *p && *p != w; p = &(*p)->next)
                        ;
                if (*p)
                        *p = w->next;
                worker_free(w);
                return 0;
        }
        if (w->got_result) {
                worker_finish(w, w->result_error, w->result_message);
                return 0;
        }
        if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
                snprintf(msg, sizeof msg, "Worker process died of signal %s.", strsignal(si->si_status));
        else
                snprintf(msg, sizeof msg, "Worker process exited with status %i without a result.", si->si_status);
        worker_finish(w, -EPROTO, msg);
        return 0;
}

/* The forked child: fd 3 is the socket, fds[i] becomes WORKER_FD + 1 + i, everything else is closed, default
 * signals, own session (a start worker becomes an instance's monitor and must outlive us). */
static _noreturn_ void worker_child(const Manager *m, const char *program, WorkerVerb verb, int sock,
                                   const int *fds, size_t n_fds, bool spare) {
        sigset_t ss;
        int prio;

        if (dup2(sock, WORKER_FD) < 0 || fds_place(fds, n_fds, WORKER_FD + 1) < 0)
                _exit(127);
        (void) close_range(WORKER_FD + 1 + (unsigned) n_fds, ~0U, 0);
        sigemptyset(&ss);
        (void) sigprocmask(SIG_SETMASK, &ss, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) setsid();
        (void) setenv("LXCBUS_WORKER_PATH", m->worker_path, 1);
        /* A spare is made while other work runs (a Stop right after a Start): its exec and loading yield
         * to that; worker_main() puts its priority back when its request comes. */
        errno = 0;
        prio = getpriority(PRIO_PROCESS, 0);
        if (spare && errno == 0) {
                char s[16];

                snprintf(s, sizeof(s), "%i", prio);
                if (setenv("LXCBUS_WORKER_NICE", s, 1) >= 0)
                        (void) setpriority(PRIO_PROCESS, 0, prio + 10);
        }
        execl(program, verb == WORKER_VERB_START ? "lxcbusd-monitor" : "lxcbusd-worker",
              worker_verb_to_string(verb), (char *) NULL);
        fprintf(stderr, "Failed to execute %s: %m\n", program);
        _exit(127);
}

/* The program of a worker of verb: lxcbusd-monitor beside lxcbusd-worker for a start (it stays the
 * instance's monitor, src/worker/monitor.c), lxcbusd-worker for every other verb. Found beside it as the
 * worker finds the start hook, so that --worker-path points both at a build tree. */
static int worker_program(const Manager *m, WorkerVerb verb, char *buf, size_t size) {
        const char *slash = strrchr(m->worker_path, '/');
        int dir = slash ? (int) (slash - m->worker_path + 1) : 0, n;

        if (verb == WORKER_VERB_START)
                n = snprintf(buf, size, "%.*slxcbusd-monitor", dir, m->worker_path);
        else
                n = snprintf(buf, size, "%s", m->worker_path);
        return n < (int) size ? 0 : -ENAMETOOLONG;
}

/* Forks and execs a worker that waits for its request on its socket, watched from here on. */
static int worker_fork(Manager *m, WorkerVerb verb, const int *fds, size_t n_fds, bool spare, Worker **ret) {
        _cleanup_close_pair_ int sv[2] = { -EBADF, -EBADF };
        char program[PATH_MAX];
        Worker *w;
        pid_t pid;
        int r;

        r = worker_program(m, verb, program, sizeof program);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                worker_child(m, program, verb, sv[1], fds, n_fds, spare);
        sv[1] = safe_close(sv[1]);

        w = calloc(1, sizeof(Worker));
        if (!w) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        w->manager = m;
        w->received_fds[0] = w->received_fds[1] = -EBADF;
        w->pid = pid;
        w->fd = TAKE_FD(sv[0]);

        r = sd_event_add_io(m->event, &w->io_source, w->fd, EPOLLIN, on_worker_io, w);
        if (r < 0)
                goto fail;
        r = sd_event_add_child(m->event, &w->pid_source, pid, WEXITED, on_worker_exit, w);
        if (r < 0)
                goto fail;
        /* Not the default oneshot: sd-event (252) watches the pidfd with EPOLLONESHOT, and a wakeup that its
         * waitid() does not see as an exit yet is then lost for good; the worker stays a zombie and its
         * operation never ends (seen under ASan: a worker stopped, then cancelled). Level-triggered, the
         * pidfd wakes us again until the exit is seen; on_worker_exit() turns the source off. (Off first:
         * sd-event switches between oneshot and on without registering the fd again.) */
        r = sd_event_source_set_enabled(w->pid_source, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->pid_source, SD_EVENT_ON);
        if (r < 0)
                goto fail;
        /* The bus's priority, not a lower one: a steady stream of calls would starve the exit (a monitor's
         * exit went unseen for 40 s under 500 clients, test_load.py: Stop timed out, Start answered a
         * dead instance as running). on_worker_exit() reads the last messages first. */
        *ret = w;
        return 0;
fail:
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        w->pid = 0;
        worker_free(w);
        return r;
}

/* The exec of lxcbusd-worker and the loading of its libraries (liblxc, GLib, libarchive ...) take longer
 * than all else an Exec does, and longer than systemd takes to make a Start's scope. So after the first
 * Start and the first Exec, workers are kept ready: forked, exec'd and waiting in recv() for a request.
 * They cost no wakeup while they wait and exit when the daemon closes their socket. Per verb, so that a
 * worker's argv[1] still names its verb: one for start, two for exec, so that Execs one right after
 * the other find one ready while the next is made. Returns the verb's first slot, n of them, oldest first. */
static Worker **spare_slots(Manager *m, WorkerVerb verb, size_t *ret_n) {
        *ret_n = verb == WORKER_VERB_START ? 1 : verb == WORKER_VERB_EXEC ? 2 : 0;
        return verb == WORKER_VERB_EXEC ? &m->spare_workers[1] : &m->spare_workers[0];
}

/* The next spares are made once the worker that took the place of one has something to say (its process
 * runs) or has exited: not while it does the work of the call that took it, on the same CPUs. */
static void spare_refill(Worker *w) {
        size_t n;
        Worker **slots = spare_slots(w->manager, w->verb, &n);

        w->refill = false;
        for (size_t k = 0; k < n; k++)
                if (!slots[k])
                        (void) worker_fork(w->manager, w->verb, NULL, 0, true, &slots[k]);
}

int worker_spawn(Manager *m, const WorkerRequest *req, const int *fds, size_t n_fds, const WorkerHandlers *h,
                 void *userdata, Worker **ret) {
        _cleanup_free_ char *packet = NULL;
        const char *verb = worker_verb_to_string(req->verb);
        Worker **slots, *w = NULL;
        size_t len, n;
        int r;

        assert(m);
        assert(req);
        assert(fds || n_fds == 0);

        r = worker_request_encode(req, &packet, &len);
        if (r < 0)
                return r;

        /* The oldest, the likeliest to be ready; the others move up, the next one made goes last. */
        slots = spare_slots(m, req->verb, &n);
        for (size_t k = 0; k < n && !w; k++)
                if (slots[k]) {
                        w = slots[k];
                        memmove(slots + k, slots + k + 1, (n - k - 1) * sizeof(*slots));
                        slots[n - 1] = NULL;
                }
        if (w && (w->exited || send_with_fds(w->fd, packet, len, fds, n_fds) < 0)) {
                worker_abandon(w, SIGKILL);
                w = NULL;
        }
        if (!w) {
                r = worker_fork(m, req->verb, fds, n_fds, false, &w);
                if (r < 0)
                        return r;
                r = send_with_fds(w->fd, packet, len, NULL, 0);
                if (r < 0) {
                        worker_abandon(w, SIGKILL);
                        return r;
                }
        }
        w->handlers = h;
        w->userdata = userdata;
        w->verb = req->verb;
        w->refill = n > 0;
        trace_event("worker-forked", req->name);
        log_debug("Spawned worker %i: %s %s", (int) w->pid, verb, req->lxcpath);
        *ret = w;
        return 0;
}

int worker_send(Worker *w, const char *msg) {
        assert(w);
        assert(msg);

        if (send(w->fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

void worker_abandon(Worker *w, int sig) {
        if (!w)
                return;
        /* Nobody waits for its result any more, but it is still reaped (no zombie) and freed on exit. */
        worker_kill(w, sig);
        w->handlers = NULL;
        w->userdata = NULL;
        w->abandoned = true;
        w->next = w->manager->abandoned_workers;
        w->manager->abandoned_workers = w;
        if (w->io_source)
                (void) sd_event_source_set_enabled(w->io_source, SD_EVENT_OFF);
}

void worker_kill(Worker *w, int sig) {
        assert(w);

        /* Through the child source: its pidfd where there is one; never a reaped, reused pid. */
        if (w && w->pid_source && !w->exited)
                (void) sd_event_source_send_child_signal(w->pid_source, sig, NULL, 0);
}

Worker *worker_release(Worker *w) {
        if (w && !w->exited && w->pid_source) {
                worker_abandon(w, 0);
                return NULL;
        }
        return worker_free(w);
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->pid_source);
        sd_event_source_disable_unref(w->io_source);
        safe_close(w->fd);
        worker_close_received(w);
        free(w->result_message);
        return mfree(w);
}
