/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Exec (exec.h): the environment a command gets, the exec worker that runs it, and the Process side of
 * its operation: its pid and pidfd, its exit, signals to it. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>

#include "exec.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_HANGUP_GRACE_USEC (3 * USEC_PER_SEC)

/* NAME=VALUE of a strv over env. */
static int env_set_assignment(char ***env, const char *assignment) {
        const char *eq = strchr(assignment, '=');
        _cleanup_free_ char *name = NULL;

        assert(eq);
        name = strndup(assignment, eq - assignment);
        if (!name)
                return -ENOMEM;
        return strv_env_set(env, name, eq + 1);
}

int exec_environment(Instance *i, const ExecRequest *req, char ***ret_env, char **ret_cwd) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cwd = NULL;
        int r;

        assert(i);
        assert(req);
        assert(ret_env);
        assert(ret_cwd);

        /* Ours first, the instance's environment.* keys over them, the call's over those. */
        r = strv_env_set(&env, "PATH", EXEC_DEFAULT_PATH);
        if (r >= 0)
                r = strv_env_set(&env, "HOME", req->uid == 0 ? "/root" : "/");
        if (r >= 0 && !req->fds)
                r = strv_env_set(&env, "TERM", req->term ?: "xterm");
        for (size_t n = 0; r >= 0 && !req->env_clear && n < i->md.config.n; n++) {
                const char *name = startswith(i->md.config.entries[n].key, "environment.");
                if (name)
                        r = strv_env_set(&env, name, i->md.config.entries[n].value);
        }
        STRV_FOREACH(e, req->env)
                if (r >= 0)
                        r = env_set_assignment(&env, *e);
        if (r < 0)
                return r;

        /* HOME is the default directory. */
        if (req->cwd)
                cwd = strdup(req->cwd);
        else
                STRV_FOREACH(e, env)
                        if (startswith(*e, "HOME=")) {
                                free(cwd);
                                cwd = strdup(*e + STRLEN("HOME="));
                        }
        if (!cwd)
                return -ENOMEM;
        *ret_env = TAKE_PTR(env);
        *ret_cwd = TAKE_PTR(cwd);
        return 0;
}

static void process_exited(Operation *o, int status, int sig) {
        if (o->exec.exited)
                return;
        o->exec.exited = true;
        trace_event("exec-exited", o->instance_name);
        o->exec.pidfd = safe_close(o->exec.pidfd);
        o->exec.exit_status = status;
        o->exec.exit_signal = sig;
        o->dirty |= OPERATION_PROP_PROCESS;
        manager_flush_changes(o->manager);
        MANAGER_HOOK(o->manager, process_exited, o);
}

static void process_running(Operation *o, Worker *w, pid_t pid) {
        trace_event("exec-running", o->instance_name);
        o->exec.pid = pid;
        if (w->received_fds[0] >= 0) {
                safe_close(o->exec.pidfd);
                o->exec.pidfd = TAKE_FD(w->received_fds[0]);
        }
        o->dirty |= OPERATION_PROP_PROCESS;
        operation_set_progress(o, 0.5, "running");
        manager_flush_changes(o->manager);
        MANAGER_HOOK(o->manager, process_running, o);
        /* The reply holds its own copy of the pty master; the daemon keeps none. */
        o->exec.pty_master = safe_close(o->exec.pty_master);
}

static void on_exec_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        Operation *o = userdata;

        switch (msg->kind) {
        case WORKER_MESSAGE_PTY:
                if (w->received_fds[0] >= 0) {
                        safe_close(o->exec.pty_master);
                        o->exec.pty_master = TAKE_FD(w->received_fds[0]);
                }
                break;
        case WORKER_MESSAGE_RUNNING:
                /* An ExecPty without its master: the worker reports the error next. */
                if (!o->exec.want_pty || o->exec.pty_master >= 0)
                        process_running(o, w, msg->pid);
                break;
        case WORKER_MESSAGE_EXITED:
                process_exited(o, msg->status, msg->signal);
                break;
        default:
                break;
        }
}

static void on_exec_exited(Worker *w, int error, const char *message, void *userdata) {
        Operation *o = userdata;

        o->worker = worker_release(o->worker);
        if (o->exec.pid <= 0) {
                operation_fail(o, error, "Failed to run the command in '%s': %s", o->instance_name, message);
                return;
        }
        /* The worker died without telling how the process ended: it shared its fate (SIGKILL). */
        if (!o->exec.exited)
                process_exited(o, -1, SIGKILL);
        operation_finish(o, NULL, NULL);
}

static const WorkerHandlers exec_handlers = {
        .message = on_exec_message,
        .exited = on_exec_exited,
};

int exec_start(Instance *i, Operation *o, ExecRequest *req) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cwd = NULL;
        int r;

        assert(i);
        assert(o);
        assert(o->kind == OPERATION_EXEC);
        assert(req);

        trace_event("exec-begin", i->name);
        r = exec_environment(i, req, &env, &cwd);
        if (r < 0)
                return r;
        o->exec.argv = TAKE_PTR(req->argv);
        o->exec.want_pty = !req->fds;
        WorkerRequest wr = {
                .verb = WORKER_VERB_EXEC,
                .lxcpath = o->manager->instances_dir,
                .name = i->name,
                .exec = {
                        .cwd = cwd,
                        .uid = req->uid,
                        .gid = req->gid,
                        .pty = !req->fds,
                        .rows = req->rows,
                        .cols = req->cols,
                        .env = env,
                        .argv = o->exec.argv,
                },
        };
        o->step = OPERATION_STEP_WORK;
        operation_set_progress(o, 0.1, "starting");
        r = worker_spawn(o->manager, &wr, req->fds, req->fds ? 3 : 0, &exec_handlers, o, &o->worker);
        if (r < 0)
                return r;
        /* The operation ends with the worker's result, right after the process's exit status: Wait()'s
         * caller finds it finished, however long the worker then takes to exit. */
        o->worker->finish_on_result = true;
        return 0;
}

/* Signals the exec'd process: through the pidfd the worker sent, which stays this process's even once
 * the worker has reaped it and the pid is another's. The bare pid only without pidfds (valgrind). */
int process_send_signal(Operation *o, int sig) {
        assert(o);
        assert(o->kind == OPERATION_EXEC);

        if (o->exec.exited || o->exec.pid <= 0 || !o->worker)
                return -ESRCH;
        if (o->exec.pidfd >= 0) {
                if (pidfd_send_signal(o->exec.pidfd, sig, NULL, 0) >= 0)
                        return 0;
                if (errno != ENOSYS)
                        return -errno;
        }
        return kill(o->exec.pid, sig) < 0 ? -errno : 0;
}

static int on_hangup_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) process_send_signal(userdata, SIGKILL);
        return 0;
}

void process_hang_up(Operation *o) {
        assert(o);

        if (o->exec.exited || o->exec.pid <= 0 || !o->worker)
                return;
        log_debug("Caller of exec %" PRIu64 " disconnected, hanging up its process %i.", o->id, (int) o->exec.pid);
        (void) process_send_signal(o, SIGHUP);
        (void) operation_arm_timeout(o, EXEC_HANGUP_GRACE_USEC, on_hangup_timeout);
}
