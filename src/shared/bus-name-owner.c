/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-name-owner.h"
#include "macro.h"
#include "util.h"

static int on_name_owner_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        NameOwnerWatch *w = userdata;
        const char *owner = NULL;

        /* An error (NameHasNoOwner, or no driver to ask) leaves the owner unknown. */
        if (!sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_message_read(reply, "s", &owner);
        return w->set_owner(w->userdata, owner);
}

static int on_name_owner_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        NameOwnerWatch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, w->name))
                return 0;
        return w->set_owner(w->userdata, new_owner);
}

int bus_follow_name_owner(sd_bus *bus, NameOwnerWatch *w, const char *name,
                          int (*set_owner)(void *userdata, const char *owner), void *userdata) {
        _cleanup_free_ char *match = NULL;
        int r;

        assert(bus);
        assert(w);
        assert(name);

        *w = (NameOwnerWatch) { name, set_owner, userdata };
        if (asprintf(&match, "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'", name) < 0)
                return -ENOMEM;
        r = sd_bus_add_match_async(bus, NULL, match, on_name_owner_changed, NULL, w);
        if (r < 0)
                return r;
        return sd_bus_call_method_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetNameOwner", on_name_owner_reply, w, "s",
                                        name);
}
