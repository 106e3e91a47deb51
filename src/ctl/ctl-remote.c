/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "ctl-remote.h"
#include "util.h"

bool ctl_verb_needs_local(const char *verb) {
        /* Each of these sends or receives a file descriptor: Exec and ExecPty their stdio or terminal,
         * OpenConsole and ConsoleLog a terminal and a log, PushFile and PullFile, ImportInstance and
         * Export the data. */
        static const char *const local[] = {
                "exec", "console", "console-log", "file", "import", "export",
        };

        if (!verb)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(local); i++)
                if (streq(local[i], verb))
                        return true;
        return false;
}

int ctl_check_transport(Context *c) {
        assert(c);

        if (!c->host || !ctl_verb_needs_local(c->verb))
                return 0;
        return ctl_usage_error(c,
                               "'%s' needs a local connection: it passes file descriptors, "
                               "which SSH (-H %s) cannot carry. "
                               "Run lxcbusctl on that host instead (ssh -t %s lxcbusctl %s ...).",
                               c->verb, c->host, c->host, c->verb);
}

int ctl_bus_open_remote(Context *c, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *unique;
        int r;

        assert(c);
        assert(c->host);
        assert(ret);

        /* "ssh -xT [-p PORT] -- HOST systemd-stdio-bridge": the "--" keeps a HOST starting with '-' from
         * being read as an ssh option. */
        r = sd_bus_open_system_remote(&bus, c->host);
        if (r == -EINVAL)
                return ctl_usage_error(c, "Invalid host '%s': expected [USER@]HOST[:PORT].", c->host);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to connect to %s over SSH: %m", c->host);

        /* sd-bus sends Hello without waiting for it; wait here, so that a dead host is said to be one. */
        r = sd_bus_get_unique_name(bus, &unique);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to reach the system bus of %s over SSH: %m", c->host);

        *ret = TAKE_PTR(bus);
        return 0;
}
