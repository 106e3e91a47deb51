/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "ctl-json.h"
#include "ctl-table.h"

static char *cell_text(JsonObject *row, const CtlColumn *column) {
        JsonNode *n = json_object_get_member(row, column->key);

        if (column->zero_is_empty && n && JSON_NODE_HOLDS_VALUE(n) &&
            ((json_node_get_value_type(n) == G_TYPE_INT64 && json_node_get_int(n) == 0) ||
             (json_node_get_value_type(n) == G_TYPE_STRING && isempty(json_node_get_string(n)))))
                return g_strdup("-");
        return ctl_json_to_text(n);
}

/* The last column is not padded, so that lines carry no trailing blanks. */
static void print_cell(const char *s, int width, bool last) {
        if (last)
                printf("%s\n", s);
        else
                printf("%-*s ", width, s);
}

void ctl_table_print(JsonArray *rows, const CtlColumn *columns, size_t n_columns) {
        guint n_rows = json_array_get_length(rows);
        g_autofree char **cells = g_new0(char *, (size_t) n_rows * n_columns);
        g_autofree int *widths = g_new0(int, n_columns);

        assert(rows);
        assert(columns);

        for (size_t j = 0; j < n_columns; j++)
                widths[j] = (int) strlen(columns[j].header);

        for (guint i = 0; i < n_rows; i++) {
                JsonObject *row = json_array_get_object_element(rows, i);

                for (size_t j = 0; j < n_columns; j++) {
                        char *s = cell_text(row, &columns[j]);

                        cells[i * n_columns + j] = s;
                        if ((int) strlen(s) > widths[j])
                                widths[j] = (int) strlen(s);
                }
        }

        for (size_t j = 0; j < n_columns; j++)
                print_cell(columns[j].header, widths[j], j + 1 == n_columns);

        for (guint i = 0; i < n_rows; i++)
                for (size_t j = 0; j < n_columns; j++) {
                        g_autofree char *s = cells[i * n_columns + j];

                        print_cell(s, widths[j], j + 1 == n_columns);
                }
}
