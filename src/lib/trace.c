/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "trace.h"
#include "util.h"

void trace_event(const char *event, const char *name) {
        static int fd = -2;     /* -2: not looked at yet, -1: off */
        char line[256];
        int n;

        if (fd == -2) {
                const char *p = getenv("LXCBUS_TRACE");
                /* Close-on-exec: a container's init or an exec'd command never gets it. */
                fd = p && p[0] == '/' ? open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600) : -1;
        }
        if (fd < 0)
                return;
        /* One write() of a line to an O_APPEND file: lines of several processes never mix. */
        n = snprintf(line, sizeof line, "%" PRIu64 " %i %s %s\n", now_usec(CLOCK_MONOTONIC), (int) getpid(), event,
                     name ?: "-");
        if (n > 0 && (size_t) n < sizeof line)
                (void) !write(fd, line, (size_t) n);
}
