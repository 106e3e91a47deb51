/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "ctl.h"

/* D-Bus values as JSON, the one representation lxcbusctl prints from, as JSON or as text.
 * Mapping: strings, object paths and signatures -> string; integers -> number (a u64 above INT64_MAX as a
 * double); b -> boolean; d -> number; v -> its value; a{..} -> object (keys as strings); other arrays and
 * structs -> array. */

/* Reads the next complete value of m. -ENXIO when there is none left. */
int ctl_json_read(sd_bus_message *m, JsonNode **ret);

/* ctl_call_method()'s call, with sd-bus's default timeout, and its (single) reply value as JSON. Reports
 * failures. */
int ctl_call_method_json(Context *c, const char *path, const char *interface, const char *member,
                         JsonNode **ret, const char *types, ...);

/* Properties.GetAll(interface) of path as a JSON object, in the daemon's order. */
int ctl_get_all_properties(Context *c, const char *path, const char *interface, JsonNode **ret);
/* Properties.Get(interface, property) of path. */
int ctl_get_property(Context *c, const char *path, const char *interface, const char *property,
                     JsonNode **ret);

/* ObjectManager.GetManagedObjects() of the manager: {path: {interface: {property: value}}}. */
int ctl_get_managed_objects(Context *c, JsonNode **ret);

/* Pretty-printed, with a final newline, on stdout. */
void ctl_json_print(JsonNode *node);

/* A value as text for humans: strings as they are, "yes"/"no", numbers; NULL (absent) as "-". Containers
 * as compact JSON. */
char *ctl_json_to_text(JsonNode *node);

/* Sorted copy of an object's member names (g_free() the array, not the names). */
const char **ctl_json_object_sorted_members(JsonObject *o);
