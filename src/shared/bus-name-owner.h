/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Follows who owns a well-known name: set_owner(userdata, owner) with its unique name (NULL when nobody
 * owns it, or when the bus cannot tell) once the bus driver answers GetNameOwner, and again at each
 * NameOwnerChanged. The match is added first, then the question is asked: a change between the two is
 * not missed. Only the driver's own signals may reach the match: the caller's filter sees to that. */
typedef struct NameOwnerWatch {
        const char *name;
        int (*set_owner)(void *userdata, const char *owner);
        void *userdata;
} NameOwnerWatch;

/* w: the caller's, kept as long as the bus. */
int bus_follow_name_owner(sd_bus *bus, NameOwnerWatch *w, const char *name,
                          int (*set_owner)(void *userdata, const char *owner), void *userdata);
