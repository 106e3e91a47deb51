/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "ctl.h"

/* Bus access for the verbs. Every function here reports its own failure (ctl_bus_error() and friends), so
 * callers just pass the negative errno up. */

int ctl_bus_get(Context *c, sd_bus **ret);

int ctl_new_method_call(Context *c, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret);
/* timeout_usec 0 is sd-bus's default (25 s). A call that may need authorization, when we may ask for a
 * password, runs with a pkttyagent and at least CTL_AUTHORIZATION_TIMEOUT_MIN_SEC. */
int ctl_call(Context *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply);
/* Reports a failure to build a message (out of memory, bad argument). */
int ctl_message_error(Context *c, int r);

/* GetInstance(name) on the manager: the daemon owns the name-to-path mapping, and says NoSuchInstance. */
int ctl_get_instance_path(Context *c, const char *name, char **ret);
/* A call of member on the instance called name (its path from ctl_get_instance_path()). */
int ctl_new_instance_call(Context *c, const char *name, const char *member, sd_bus_message **ret);

/* Entries of an a{sv} options argument, between sd_bus_message_open_container(m, 'a', "{sv}") and its
 * close. */
int ctl_append_option_bool(sd_bus_message *m, const char *key, bool value);
int ctl_append_option_u32(sd_bus_message *m, const char *key, uint32_t value);
int ctl_append_option_u64(sd_bus_message *m, const char *key, uint64_t value);
int ctl_append_option_string(sd_bus_message *m, const char *key, const char *value);
