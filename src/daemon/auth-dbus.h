/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "auth-details.h"
#include "forward.h"

/* Caller identity and authorization (polkit). bus_authorize*() return 1 when the call may go ahead,
 * 0 when the answer is pending (the handler returns 1 without replying and is called again with the
 * same message once polkit has allowed it; a refusal is answered for it), < 0 or an error set when
 * refused. Check arguments before, act after. i: the instance the call acts on (its name and owner go into
 * the details, and the answer is bound to it), NULL for none. request: what the call asks, for the details
 * (auth-details.h); NULL for nothing beyond the verb, instance and owner. */
int bus_authorize_full(Manager *m, sd_bus_message *message, Instance *i, const AuthRequest *request,
                       sd_bus_error *error);
int bus_authorize(sd_bus_message *message, Instance *i, sd_bus_error *error);
int bus_get_sender_uid(sd_bus_message *m, uid_t *ret);
const char *bus_auth_action(const char *interface, const char *member, bool *ret_found);
bool bus_auth_table_get(size_t k, const char **ret_interface, const char **ret_member, const char **ret_action);
void auth_queries_free(Manager *m);
