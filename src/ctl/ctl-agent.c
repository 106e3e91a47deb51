/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <systemd/sd-login.h>
#include <time.h>

#include "ctl-agent.h"
#include "macro.h"
#include "util.h"

/* pkttyagent gives up on polkit after D-Bus's 25 s itself; this only guards against one that hangs. */
#define AGENT_REGISTER_TIMEOUT_MSEC (30 * 1000)
/* On SIGTERM it restores the terminal's modes and dies. */
#define AGENT_STOP_TIMEOUT_MSEC (5 * 1000)

/* The agent's notify fd: it closes it once it has registered. */
#define AGENT_NOTIFY_FD 3
#define AGENT_NOTIFY_FD_STR "3"

/* A signal that kills us while the agent asks (Ctrl-C at its prompt, a kill) must not leave the terminal
 * with echo off: pkttyagent restores it from its own handler, but not when it is busy re-prompting or
 * dies first. So we end the agent and put back the modes we saw before it started, then die of the
 * signal as we would have. Everything here is async-signal-safe. */
static volatile sig_atomic_t agent_pid_for_signal;
static struct termios saved_termios;
static volatile sig_atomic_t have_saved_termios;
static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static struct sigaction old_actions[ELEMENTSOF(fatal_signals)];
static bool handlers_installed;

static void restore_terminal(void) {
        if (have_saved_termios)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static void on_fatal_signal(int sig) {
        pid_t pid = agent_pid_for_signal;

        if (pid > 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        restore_terminal();
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
}

static void install_handlers(void) {
        struct sigaction sa = { .sa_handler = on_fatal_signal };

        if (isatty(STDIN_FILENO) > 0 && tcgetattr(STDIN_FILENO, &saved_termios) >= 0)
                have_saved_termios = true;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < ELEMENTSOF(fatal_signals); k++)
                (void) sigaction(fatal_signals[k], &sa, &old_actions[k]);
        handlers_installed = true;
}

static void uninstall_handlers(void) {
        if (!handlers_installed)
                return;
        for (size_t k = 0; k < ELEMENTSOF(fatal_signals); k++)
                (void) sigaction(fatal_signals[k], &old_actions[k], NULL);
        handlers_installed = false;
        agent_pid_for_signal = 0;
        have_saved_termios = false;
}

static _noreturn_ void agent_exec(int notify_fd, pid_t parent, bool fallback) {
        sigset_t ss;
        int fd;

        /* pkttyagent serves its parent process: it must not outlive us, nor serve whoever inherits it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);

        /* We may block SIGINT and SIGTERM (exec, console), and a blocked mask survives execve(): reset it,
         * or the agent would ignore the SIGTERM that ends it, and Ctrl-C at its prompt. */
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        sigemptyset(&ss);
        (void) sigprocmask(SIG_SETMASK, &ss, NULL);

        /* dup2() clears FD_CLOEXEC, except when it has nothing to do. */
        if (notify_fd == AGENT_NOTIFY_FD) {
                if (fcntl(notify_fd, F_SETFD, 0) < 0)
                        _exit(EXIT_FAILURE);
        } else if (dup2(notify_fd, AGENT_NOTIFY_FD) < 0)
                _exit(EXIT_FAILURE);
        /* Everything else is O_CLOEXEC already; this is for what a library left open. */
        (void) close_range(AGENT_NOTIFY_FD + 1, ~0U, 0);

        /* The agent talks on the controlling terminal (/dev/tty), not on stdout. Redirected, our stdout is
         * someone's pipe, which must see EOF when we exit and not when the agent does. */
        if (isatty(STDOUT_FILENO) <= 0) {
                fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                        _exit(EXIT_FAILURE);
        }

        if (fallback)
                execl(CTL_AGENT_PATH, CTL_AGENT_PATH, "--notify-fd", AGENT_NOTIFY_FD_STR, "--fallback",
                      (char *) NULL);
        else
                execl(CTL_AGENT_PATH, CTL_AGENT_PATH, "--notify-fd", AGENT_NOTIFY_FD_STR, (char *) NULL);
        _exit(127);
}

/* Waits until fd reports one of events, for at most timeout_msec across EINTR: > 0 when it did, 0 on timeout,
 * -errno on failure. */
static int wait_for_fd(int fd, short events, int timeout_msec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_msec * 1000;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t n = now_usec(CLOCK_MONOTONIC);
                int r;

                if (n >= deadline)
                        return 0;
                r = poll(&p, 1, (int) ((deadline - n + 999) / 1000));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return 0;
                return 1;
        }
}

static void agent_reap(CtlAgent *a) {
        while (waitpid(a->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        a->pidfd = safe_close(a->pidfd);
        a->pid = 0;
        agent_pid_for_signal = 0;
        /* Killed or not, the agent may have left echo off. */
        restore_terminal();
        uninstall_handlers();
}

/* True if the agent has exited (reaping it), false while it runs. */
static bool agent_exited(CtlAgent *a) {
        siginfo_t si = {};

        if (waitid(P_PID, (id_t) a->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return false;
        a->pidfd = safe_close(a->pidfd);
        a->pid = 0;
        agent_pid_for_signal = 0;
        uninstall_handlers();
        return true;
}

int ctl_agent_open(CtlAgent *a) {
        _cleanup_close_pair_ int pipe_fd[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *session = NULL;
        pid_t parent = getpid(), pid;
        bool fallback;
        int r;

        assert(a);

        if (a->pid > 0)
                return 0;

        /* Not installed: polkit simply has no agent to ask. */
        if (access(CTL_AGENT_PATH, X_OK) < 0)
                return 0;

        /* In a login session, like systemctl, only as a fallback: an agent of the session (a desktop's
         * dialog) goes first. But polkitd looks for a fallback agent only through the subject's session:
         * without one (su, setpriv, a service, no logind) it would never ask ours. */
        fallback = sd_pid_get_session(0, &session) >= 0;

        if (pipe2(pipe_fd, O_CLOEXEC) < 0) {
                fprintf(stderr, "lxcbusctl: Failed to create a pipe for %s: %m, ignoring.\n", CTL_AGENT_PATH);
                return 0;
        }

        /* Anything buffered would be written twice, once by the child. */
        fflush(stdout);
        fflush(stderr);

        install_handlers();
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "lxcbusctl: Failed to fork %s: %m, ignoring.\n", CTL_AGENT_PATH);
                uninstall_handlers();
                return 0;
        }
        if (pid == 0)
                agent_exec(pipe_fd[1], parent, fallback);

        /* Our child, not reaped yet: its pid cannot be reused under us. */
        a->pid = pid;
        agent_pid_for_signal = pid;
        a->pidfd = pidfd_open(pid, 0);
        if (a->pidfd < 0)
                a->pidfd = -EBADF;

        /* Only the agent holds the write end now: it closes it when registered, or dies trying. */
        pipe_fd[1] = safe_close(pipe_fd[1]);
        r = wait_for_fd(pipe_fd[0], POLLIN, AGENT_REGISTER_TIMEOUT_MSEC);
        if (r <= 0) {
                if (r == 0)
                        fprintf(stderr, "lxcbusctl: %s did not register within %d s, ignoring.\n",
                                CTL_AGENT_PATH, AGENT_REGISTER_TIMEOUT_MSEC / 1000);
                else
                        fprintf(stderr, "lxcbusctl: Failed to wait for %s: %s, ignoring.\n", CTL_AGENT_PATH,
                                strerror(-r));
                ctl_agent_close(a);
                return 0;
        }

        /* Registered, or exited having said why on stderr (no polkit, no controlling terminal): then go on
         * without it. */
        (void) agent_exited(a);
        return 0;
}

void ctl_agent_close(CtlAgent *a) {
        assert(a);

        if (a->pid <= 0)
                return;

        if (a->pidfd >= 0) {
                (void) pidfd_send_signal(a->pidfd, SIGTERM, NULL, 0);
                (void) pidfd_send_signal(a->pidfd, SIGCONT, NULL, 0);   /* if stopped at the terminal */
                if (wait_for_fd(a->pidfd, POLLIN, AGENT_STOP_TIMEOUT_MSEC) == 0)
                        (void) pidfd_send_signal(a->pidfd, SIGKILL, NULL, 0);
        } else {
                /* No pidfd: the pid is still ours, as we have not reaped it. */
                (void) kill(a->pid, SIGTERM);
                (void) kill(a->pid, SIGCONT);
        }

        agent_reap(a);
}
