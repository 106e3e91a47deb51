/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenConsole and ConsoleLog of org.lxcbus1.Instance (console-dbus.h). A terminal a caller got stays
 * allocated until that caller leaves the bus. */
#include <inttypes.h>

#include "auth-dbus.h"
#include "bus-errors.h"
#include "bus-options.h"
#include "console.h"
#include "console-dbus.h"
#include "daemon-dbus.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation-dbus.h"
#include "util.h"

static int on_console_caller_gone(sd_bus_track *t, void *userdata) {
        Console *c = userdata;

        log_debug("Caller of terminal %i of '%s' left, releasing it.", c->tty, c->instance->name);
        console_free(c);
        return 0;
}

static void console_release_track(Console *c) {
        sd_bus_track_unref(c->userdata);
}

static void on_console_opened(Console *c, int ptx, int error, const char *message, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        sd_bus_track *track;
        int r;

        if (error < 0) {
                (void) sd_bus_reply_method_errorf(call, error == -EBUSY ? LXCBUS_ERROR_BUSY : LXCBUS_ERROR_FAILED,
                                                  "%s", message);
                return;
        }
        r = bus_track_sender(c->instance->manager, call, on_console_caller_gone, c, &track);
        if (r < 0) {
                /* The caller is gone already: nobody to hold the terminal. */
                console_free(c);
                return;
        }
        c->userdata = track;
        c->release = console_release_track;
        (void) sd_bus_reply_method_return(call, "h", ptx);
}

int method_open_console(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        int32_t tty;
        uid_t uid;
        int r;

        r = sd_bus_message_read(message, "i", &tty);
        if (r < 0)
                return r;
        if (tty < -1 || tty == 0 || tty > CONSOLE_TTY_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid terminal %" PRIi32 ": -1 for the console, or 1 to %u.", tty,
                                         CONSOLE_TTY_MAX);
        r = bus_authorize(message, i, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Instance '%s' is %s%s%s.", i->name,
                                         instance_state_to_string(i->state), i->load_error ? ": " : "",
                                         strempty(i->load_error));
        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        r = bus_limiter_check(&i->manager->operation_limits, uid, error);
        if (r < 0)
                return r;
        /* liblxc numbers the console 0. */
        r = console_open(i, uid, tty < 0 ? 0 : (int) tty, on_console_opened, message);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Instance '%s' has %u terminals open or being opened already.", i->name,
                                         CONSOLES_PER_INSTANCE_MAX);
        if (r < 0)
                return r;
        sd_bus_message_ref(message);    /* on_console_opened() answers it, and drops it */
        return 1;
}

int method_console_log(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        Instance *i = userdata;
        int clear = 0, r;

        const BusOption options[] = {
                { "clear", "b", &clear },
                {}
        };
        r = bus_read_options(message, options, error);
        if (r < 0)
                return r;
        /* Emptying the log is not reading it: its own verb, so a rule that lets somebody read does not
         * let them erase what the instance printed. */
        r = bus_authorize_full(i->manager, message, i, &(AuthRequest) { .verb = clear ? "console-log-clear" : NULL },
                               error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* The buffer is the running monitor's (docs/api.md): a stopped instance has none to read or clear. */
        if (!IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN))
                return sd_bus_error_setf(error, LXCBUS_ERROR_INVALID_STATE, "Instance '%s' is %s, not running.",
                                         i->name, instance_state_to_string(i->state));
        r = console_read_log(i, clear, &fd);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, LXCBUS_ERROR_FAILED, "Failed to read the console log of '%s': %s",
                                         i->name, strerror(-r));
        return sd_bus_reply_method_return(message, "h", fd);
}
