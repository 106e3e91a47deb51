/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

/* A plain text table of JSON objects: one row per object, one column per member. Empty strings, absent
 * members and (if zero_is_empty) zeros show as "-", so that every cell is one awk field. */

typedef struct CtlColumn {
        const char *header;
        const char *key;
        bool zero_is_empty;
} CtlColumn;

void ctl_table_print(JsonArray *rows, const CtlColumn *columns, size_t n_columns);
