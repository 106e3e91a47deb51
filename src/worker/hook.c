/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusd-start-hook: liblxc runs it as lxc.hook.start-host of an instance that lxcbusd starts, in
 * the host's namespaces, just before it executes the container's init. It tells the daemon the pid of
 * init over the start worker's socket. That socket is close-on-exec in the worker (the container's
 * init must never hold it), so the hook takes a copy from the worker itself: fd $LXCBUS_NOTIFY_FD of
 * process $LXCBUS_MONITOR_PID (the worker that runs liblxc), through pidfd_getfd(). A separate, small program: it runs
 * on every start, and the worker (liblxc, libsystemd, GLib) takes longer to load. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/socket.h>

#include "worker-proto.h"

int main(void) {
        const char *fd = getenv("LXCBUS_NOTIFY_FD"), *pid = getenv("LXC_PID"),
                   *monitor = getenv("LXCBUS_MONITOR_PID");
        char buf[64];
        int n, pidfd, sock;
        unsigned init;
        pid_t m;

        if (!fd || !pid || !monitor)
                return EXIT_FAILURE;
        m = (pid_t) atoi(monitor);
        if (m <= 1)
                return EXIT_FAILURE;
        /* The daemon would drop anything else than a pid as a malformed message. */
        if (worker_parse_uint(pid, WORKER_PID_MAX, &init) < 0)
                return EXIT_FAILURE;
        n = worker_message_format(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = (pid_t) init }, buf,
                                  sizeof buf);
        if (n < 0)
                return EXIT_FAILURE;
        pidfd = pidfd_open(m, 0);
        if (pidfd < 0)
                return EXIT_FAILURE;
        sock = pidfd_getfd(pidfd, atoi(fd), 0);
        if (sock < 0)
                return EXIT_FAILURE;
        return send(sock, buf, (size_t) n, MSG_NOSIGNAL) == n ? EXIT_SUCCESS : EXIT_FAILURE;
}
