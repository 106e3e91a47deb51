/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusctl metrics: the text of Manager.GetMetrics() as it comes, for a node exporter's textfile collector
 * or a script. */
#include <stdio.h>

#include "ctl-bus.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

int verb_metrics(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                {}
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        int r;

        r = ctl_parse_args(c, argc, argv, options, NULL, 0, NULL);
        if (r <= 0)
                return r;
        r = ctl_call_method(c, LXCBUS_PATH, LXCBUS_MANAGER_INTERFACE, "GetMetrics", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = ctl_read_reply(c, reply, "GetMetrics", "s", &text);
        if (r < 0)
                return r;
        if (fputs(text, stdout) < 0 || fflush(stdout) != 0)
                return ctl_error_errno(c, EIO, "Failed to write the metrics: %m");
        return 0;
}
