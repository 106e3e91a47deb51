/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusd-start-hook: liblxc runs it as lxc.hook.start-host of an instance that lxcbusd starts, in
 * the host's namespaces, just before it executes the container's init. It tells the daemon the pid of
 * init over the start worker's socket, whose number is in $LXCBUS_NOTIFY_FD. A separate, small
 * program: it runs on every start, and the worker (liblxc, libsystemd, GLib) takes longer to load. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(void) {
        const char *fd = getenv("LXCBUS_NOTIFY_FD"), *pid = getenv("LXC_PID");
        char buf[64];
        int n;

        if (!fd || !pid)
                return EXIT_FAILURE;
        n = snprintf(buf, sizeof buf, "running %s", pid);
        if (n < 0 || (size_t) n >= sizeof buf)
                return EXIT_FAILURE;
        return send(atoi(fd), buf, (size_t) n, MSG_NOSIGNAL) == n ? EXIT_SUCCESS : EXIT_FAILURE;
}
