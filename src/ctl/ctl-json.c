/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "names.h"

static JsonNode *node_new_uint(uint64_t v) {
        if (v > INT64_MAX)
                return json_node_init_double(json_node_alloc(), (double) v);
        return json_node_init_int(json_node_alloc(), (gint64) v);
}

static int read_basic(sd_bus_message *m, char type, JsonNode **ret) {
        union {
                uint8_t u8;
                int b;
                int16_t i16;
                uint16_t u16;
                int32_t i32;
                uint32_t u32;
                int64_t i64;
                uint64_t u64;
                double d;
                const char *s;
                int fd;
        } v;
        JsonNode *n;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        switch (type) {
        case SD_BUS_TYPE_BYTE:
                n = json_node_init_int(json_node_alloc(), v.u8);
                break;
        case SD_BUS_TYPE_BOOLEAN:
                n = json_node_init_boolean(json_node_alloc(), v.b);
                break;
        case SD_BUS_TYPE_INT16:
                n = json_node_init_int(json_node_alloc(), v.i16);
                break;
        case SD_BUS_TYPE_UINT16:
                n = json_node_init_int(json_node_alloc(), v.u16);
                break;
        case SD_BUS_TYPE_INT32:
                n = json_node_init_int(json_node_alloc(), v.i32);
                break;
        case SD_BUS_TYPE_UINT32:
                n = json_node_init_int(json_node_alloc(), v.u32);
                break;
        case SD_BUS_TYPE_INT64:
                n = json_node_init_int(json_node_alloc(), v.i64);
                break;
        case SD_BUS_TYPE_UINT64:
                n = node_new_uint(v.u64);
                break;
        case SD_BUS_TYPE_DOUBLE:
                n = json_node_init_double(json_node_alloc(), v.d);
                break;
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE:
                n = json_node_init_string(json_node_alloc(), v.s);
                break;
        case SD_BUS_TYPE_UNIX_FD:
                /* An fd means nothing once printed. */
                n = json_node_init_null(json_node_alloc());
                break;
        default:
                return -EBADMSG;
        }

        *ret = n;
        return 0;
}

/* Dictionary keys are basic values; JSON wants strings. */
static char *key_to_string(JsonNode *key) {
        if (json_node_get_value_type(key) == G_TYPE_STRING)
                return g_strdup(json_node_get_string(key));
        return json_to_string(key, false);
}

static int read_container(sd_bus_message *m, char type, const char *contents, JsonNode **ret);

static int read_dict(sd_bus_message *m, JsonNode **ret) {
        g_autoptr(JsonObject) o = json_object_new();
        int r;

        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                g_autoptr(JsonNode) entry = NULL;
                g_autofree char *k = NULL;
                JsonArray *kv;

                /* NULL contents: whatever dict entry comes next, read as the array [key, value]. */
                r = read_container(m, SD_BUS_TYPE_DICT_ENTRY, NULL, &entry);
                if (r < 0)
                        return r;
                kv = json_node_get_array(entry);
                if (json_array_get_length(kv) != 2)
                        return -EBADMSG;

                k = key_to_string(json_array_get_element(kv, 0));
                json_object_set_member(o, k, json_node_ref(json_array_get_element(kv, 1)));
        }
        if (r < 0)
                return r;

        *ret = json_node_init_object(json_node_alloc(), o);
        return 0;
}

/* Arrays and structs alike: a JSON array of the elements. */
static int read_elements(sd_bus_message *m, JsonNode **ret) {
        g_autoptr(JsonArray) a = json_array_new();
        int r;

        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                JsonNode *e;

                r = ctl_json_read(m, &e);
                if (r < 0)
                        return r;
                json_array_add_element(a, e);
        }
        if (r < 0)
                return r;

        *ret = json_node_init_array(json_node_alloc(), a);
        return 0;
}

static int read_container(sd_bus_message *m, char type, const char *contents, JsonNode **ret) {
        g_autoptr(JsonNode) n = NULL;
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;

        if (type == SD_BUS_TYPE_VARIANT)
                r = ctl_json_read(m, &n);
        else if (type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN)
                r = read_dict(m, &n);
        else
                r = read_elements(m, &n);
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        *ret = g_steal_pointer(&n);
        return 0;
}

int ctl_json_read(sd_bus_message *m, JsonNode **ret) {
        const char *contents;
        char type;
        int r;

        assert(m);
        assert(ret);

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        switch (type) {
        case SD_BUS_TYPE_ARRAY:
        case SD_BUS_TYPE_STRUCT:
        case SD_BUS_TYPE_VARIANT:
                return read_container(m, type, contents, ret);
        default:
                return read_basic(m, type, ret);
        }
}

int ctl_call_method_json(Context *c, const char *path, const char *interface, const char *member,
                         JsonNode **ret, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        va_list ap;
        int r;

        assert(ret);

        va_start(ap, types);
        r = ctl_call_methodv(c, path, interface, member, 0, &reply, types, ap);
        va_end(ap);
        if (r < 0)
                return r;

        r = ctl_json_read(reply, ret);
        if (r < 0)
                return ctl_error_errno(c, r, "Failed to parse reply of %s: %m", member);
        return 0;
}

int ctl_get_all_properties(Context *c, const char *path, const char *interface, JsonNode **ret) {
        return ctl_call_method_json(c, path, "org.freedesktop.DBus.Properties", "GetAll", ret,
                                    "s", interface);
}

int ctl_get_property(Context *c, const char *path, const char *interface, const char *property,
                     JsonNode **ret) {
        return ctl_call_method_json(c, path, "org.freedesktop.DBus.Properties", "Get", ret,
                                    "ss", interface, property);
}

int ctl_get_managed_objects(Context *c, JsonNode **ret) {
        return ctl_call_method_json(c, LXCBUS_PATH, "org.freedesktop.DBus.ObjectManager",
                                    "GetManagedObjects", ret, NULL);
}

void ctl_json_print(JsonNode *node) {
        g_autoptr(JsonGenerator) g = json_generator_new();
        g_autofree char *s = NULL;

        assert(node);

        json_generator_set_pretty(g, true);
        json_generator_set_root(g, node);
        s = json_generator_to_data(g, NULL);
        puts(s);
}

char *ctl_json_to_text(JsonNode *node) {
        if (!node || JSON_NODE_HOLDS_NULL(node))
                return g_strdup("-");
        if (!JSON_NODE_HOLDS_VALUE(node))
                return json_to_string(node, false);

        switch (json_node_get_value_type(node)) {
        case G_TYPE_BOOLEAN:
                return g_strdup(json_node_get_boolean(node) ? "yes" : "no");
        case G_TYPE_STRING:
                return g_strdup(isempty(json_node_get_string(node)) ? "-" : json_node_get_string(node));
        default:
                return json_to_string(node, false);
        }
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

const char **ctl_json_object_sorted_members(JsonObject *o) {
        g_autoptr(GList) members = json_object_get_members(o);
        const char **names;
        size_t n = 0;

        assert(o);

        names = g_new0(const char *, g_list_length(members) + 1);
        for (GList *l = members; l; l = l->next)
                names[n++] = l->data;
        qsort(names, n, sizeof(char *), compare_strings);
        return names;
}
