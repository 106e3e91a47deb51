/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "ctl-json.h"
#include "ctl-table.h"
#include "ctl-util.h"
#include "ctl.h"
#include "names.h"

/* "list" and "operations": one GetManagedObjects() call gives every instance and operation with all their
 * properties, where ListInstances() plus per-object reads would cost a round trip each. */

/* The properties of interface on each object of a GetManagedObjects() reply, calling f for each. */
typedef void (*ObjectFunc)(const char *path, JsonObject *properties, JsonObject *objects, JsonArray *out);

static void foreach_object(JsonObject *objects, const char *interface, ObjectFunc f, JsonArray *out) {
        g_autoptr(GList) paths = json_object_get_members(objects);

        for (GList *l = paths; l; l = l->next) {
                JsonObject *interfaces = json_object_get_object_member(objects, l->data);
                JsonNode *properties = interfaces ? json_object_get_member(interfaces, interface) : NULL;

                if (properties && JSON_NODE_HOLDS_OBJECT(properties))
                        f(l->data, json_node_get_object(properties), objects, out);
        }
}

static void set_string(JsonObject *o, const char *key, JsonObject *properties, const char *property) {
        json_object_set_string_member(o, key,
                                      json_object_get_string_member_with_default(properties, property, ""));
}

static void set_int(JsonObject *o, const char *key, JsonObject *properties, const char *property) {
        json_object_set_int_member(o, key, json_object_get_int_member_with_default(properties, property, 0));
}

static void add_instance(const char *path, JsonObject *properties, JsonObject *objects, JsonArray *out) {
        g_autoptr(JsonObject) o = json_object_new();

        set_string(o, "name", properties, "Name");
        set_string(o, "state", properties, "State");
        set_int(o, "pid", properties, "Pid");
        set_string(o, "unit", properties, "Unit");
        json_object_set_string_member(o, "path", path);
        json_array_add_object_element(out, g_steal_pointer(&o));
}

static int compare_by_name(gconstpointer a, gconstpointer b) {
        return g_strcmp0(json_object_get_string_member_with_default(json_node_get_object((JsonNode *) a),
                                                                    "name", ""),
                         json_object_get_string_member_with_default(json_node_get_object((JsonNode *) b),
                                                                    "name", ""));
}

static int compare_by_id(gconstpointer a, gconstpointer b) {
        gint64 x = json_object_get_int_member_with_default(json_node_get_object((JsonNode *) a), "id", 0);
        gint64 y = json_object_get_int_member_with_default(json_node_get_object((JsonNode *) b), "id", 0);

        return (x > y) - (x < y);
}

/* A sorted copy of an array of objects. */
static JsonArray *array_sorted(JsonArray *a, GCompareFunc compare) {
        g_autoptr(GList) elements = json_array_get_elements(a);
        JsonArray *sorted = json_array_sized_new(json_array_get_length(a));

        elements = g_list_sort(elements, compare);
        for (GList *l = elements; l; l = l->next)
                json_array_add_element(sorted, json_node_ref(l->data));
        return sorted;
}

/* Collects objects of interface from GetManagedObjects(), sorted; NULL after a reported failure. */
static int collect_objects(Context *c, const char *interface, ObjectFunc f, GCompareFunc compare,
                           JsonArray **ret) {
        g_autoptr(JsonNode) root = NULL;
        g_autoptr(JsonArray) a = json_array_new();
        int r;

        r = ctl_get_managed_objects(c, &root);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(root))
                return ctl_error_errno(c, EBADMSG, "Unexpected reply of GetManagedObjects.");

        foreach_object(json_node_get_object(root), interface, f, a);
        *ret = array_sorted(a, compare);
        return 0;
}

static void print_array(JsonArray *a) {
        g_autoptr(JsonNode) n = json_node_init_array(json_node_alloc(), a);

        ctl_json_print(n);
}

/* The name of the instance of an operation: from its object if it still exists, otherwise decoded from
 * the path (a delete operation outlives its instance). */
static char *operation_instance_name(JsonObject *objects, const char *instance_path) {
        JsonObject *interfaces, *properties;
        char *name = NULL;

        if (isempty(instance_path))
                return g_strdup("");

        interfaces = json_object_has_member(objects, instance_path)
                             ? json_object_get_object_member(objects, instance_path) : NULL;
        properties = interfaces && json_object_has_member(interfaces, LXCBUS_INSTANCE_INTERFACE)
                             ? json_object_get_object_member(interfaces, LXCBUS_INSTANCE_INTERFACE) : NULL;
        if (properties)
                return g_strdup(json_object_get_string_member_with_default(properties, "Name", ""));

        if (instance_name_from_path(instance_path, &name) >= 0) {
                char *s = g_strdup(name);

                free(name);
                return s;
        }
        return g_strdup("");
}

static void add_operation(const char *path, JsonObject *properties, JsonObject *objects, JsonArray *out) {
        g_autoptr(JsonObject) o = json_object_new();
        const char *instance_path = json_object_get_string_member_with_default(properties, "Instance", "");
        g_autofree char *instance = operation_instance_name(objects, instance_path);

        json_object_set_int_member(o, "id", (gint64) ctl_operation_id_from_path(path));
        json_object_set_string_member(o, "path", path);
        set_string(o, "kind", properties, "Kind");
        set_string(o, "status", properties, "Status");
        json_object_set_string_member(o, "instance", instance);
        json_object_set_string_member(o, "instance_path", instance_path);
        json_object_set_double_member(o, "progress",
                                      json_object_get_double_member_with_default(properties, "Progress", 0));
        set_string(o, "stage", properties, "Stage");
        set_int(o, "created_at", properties, "CreatedAt");
        set_int(o, "finished_at", properties, "FinishedAt");
        set_string(o, "error_name", properties, "ErrorName");
        set_string(o, "error_message", properties, "ErrorMessage");
        json_array_add_object_element(out, g_steal_pointer(&o));
}

/* What "list" and "operations" show: the objects of interface, as rows made by add, sorted by compare. */
typedef struct Listing {
        const char *interface;
        ObjectFunc add;
        GCompareFunc compare;
        const CtlColumn *columns;
        size_t n_columns;
        void (*decorate)(Context *c, JsonArray *rows);   /* may be NULL */
} Listing;

static int run_listing(Context *c, int argc, char *argv[], const Listing *l) {
        static const CtlOption options[] = {
                { .name = "json" },     /* sets the bool that userdata is */
                {}
        };
        g_autoptr(JsonArray) rows = NULL;
        bool json = false;
        int r;

        r = ctl_parse_args(c, argc, argv, options, &json, 0, NULL);
        if (r <= 0)
                return r;

        r = collect_objects(c, l->interface, l->add, l->compare, &rows);
        if (r < 0)
                return r;
        if (l->decorate)
                l->decorate(c, rows);

        if (json)
                print_array(rows);
        else
                ctl_table_print(rows, l->columns, l->n_columns);
        return 0;
}

/* The first IPv4 address (without its prefix) of GetState's "addresses", or "". */
static const char *first_ipv4(JsonNode *state, char *buf, size_t size) {
        JsonObject *o = state && JSON_NODE_HOLDS_OBJECT(state) ? json_node_get_object(state) : NULL;
        JsonNode *n = o ? json_object_get_member(o, "addresses") : NULL;
        JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

        for (guint k = 0; a && k < json_array_get_length(a); k++) {
                JsonNode *e = json_array_get_element(a, k);
                JsonArray *t = JSON_NODE_HOLDS_ARRAY(e) ? json_node_get_array(e) : NULL;
                const char *addr;

                if (!t || json_array_get_length(t) != 3 || !streq_ptr(json_array_get_string_element(t, 1), "inet") ||
                    streq_ptr(json_array_get_string_element(t, 0), "lo"))
                        continue;
                addr = json_array_get_string_element(t, 2);
                snprintf(buf, size, "%.*s", (int) strcspn(strempty(addr), "/"), strempty(addr));
                return buf;
        }
        return "";
}

/* The IPV4 column: a GetState() per running instance (the addresses are read when asked, not properties). */
static void add_addresses(Context *c, JsonArray *rows) {
        for (guint k = 0; k < json_array_get_length(rows); k++) {
                JsonObject *o = json_array_get_object_element(rows, k);
                g_autoptr(JsonNode) state = NULL;
                char buf[64];

                if (streq_ptr(json_object_get_string_member_with_default(o, "state", ""), "running"))
                        (void) ctl_call_method_json(c, json_object_get_string_member(o, "path"),
                                                    LXCBUS_INSTANCE_INTERFACE, "GetState", &state, NULL);
                json_object_set_string_member(o, "ipv4", first_ipv4(state, buf, sizeof buf));
        }
}

int verb_list(Context *c, int argc, char *argv[]) {
        static const CtlColumn columns[] = {
                { "NAME", "name" },
                { "STATE", "state" },
                { "PID", "pid", .zero_is_empty = true },
                { "IPV4", "ipv4", .zero_is_empty = true },
                { "UNIT", "unit" },
        };
        static const Listing l = {
                LXCBUS_INSTANCE_INTERFACE, add_instance, compare_by_name, columns, ELEMENTSOF(columns),
                add_addresses,
        };

        return run_listing(c, argc, argv, &l);
}

int verb_operations(Context *c, int argc, char *argv[]) {
        static const CtlColumn columns[] = {
                { "ID", "id" },
                { "KIND", "kind" },
                { "STATUS", "status" },
                { "INSTANCE", "instance" },
                { "STAGE", "stage" },
        };
        static const Listing l = {
                LXCBUS_OPERATION_INTERFACE, add_operation, compare_by_id, columns, ELEMENTSOF(columns),
        };

        return run_listing(c, argc, argv, &l);
}
