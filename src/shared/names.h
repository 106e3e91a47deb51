/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#define INSTANCE_NAME_MAX 63

/* 1 to 63 characters of [a-zA-Z0-9-], starting with a letter, not ending with '-': a hostname label. */
bool instance_name_is_valid(const char *name);

#define LXCBUS_PATH "/org/lxcbus1"
#define LXCBUS_INSTANCE_PREFIX "/org/lxcbus1/instance"
#define LXCBUS_OPERATION_PREFIX "/org/lxcbus1/operation"

/* Object path of an instance: the name escaped as sd_bus_path_encode() does. */
int instance_path_from_name(const char *name, char **ret);
/* The reverse; fails with -ENXIO if path is not below the instance prefix or names no valid name. */
int instance_name_from_path(const char *path, char **ret);

/* "lxcbus-<name>.scope" */
int instance_unit_name(const char *name, char **ret);

/* "'name'" for messages when the name is short printable ASCII, "" otherwise (a hostile name is never
 * echoed raw into a log or a reply). Returns buf. */
const char *instance_name_for_message(const char *name, char buf[static 80]);

/* A name systemd-machined accepts for a machine (its hostname_is_valid()). Every valid instance name
 * is one (a single label of at most 63 bytes, not starting or ending with '-'); checked anyway before a
 * registration, so that a change of either rule shows up as a refusal here, not as machined's error. */
bool machine_name_is_valid(const char *name);
