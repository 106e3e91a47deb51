/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "bus-limits.h"
#include "metadata.h"
#include "names.h"
#include "util.h"

static void snapshots_free(InstanceSnapshot *s, size_t n) {
        for (size_t k = 0; k < n; k++)
                free(s[k].name);
        free(s);
}

void instance_metadata_done(InstanceMetadata *m) {
        free(m->name);
        m->name = NULL;
        config_map_done(&m->config);
        snapshots_free(m->snapshots, m->n_snapshots);
        m->snapshots = NULL;
        m->n_snapshots = 0;
        m->overlay_instance = mfree(m->overlay_instance);
        m->overlay_snapshot = mfree(m->overlay_snapshot);
}

const InstanceSnapshot *instance_metadata_find_snapshot(const InstanceMetadata *m, const char *name) {
        assert(m);

        for (size_t k = 0; name && k < m->n_snapshots; k++)
                if (streq(m->snapshots[k].name, name))
                        return &m->snapshots[k];
        return NULL;
}

int instance_metadata_add_snapshot(InstanceMetadata *m, const char *name, uint64_t created_at) {
        InstanceSnapshot *l;
        char *n;

        assert(m);

        if (!instance_name_is_valid(name))
                return -EINVAL;
        if (instance_metadata_find_snapshot(m, name))
                return -EEXIST;
        if (m->n_snapshots >= LXCBUS_SNAPSHOTS_MAX)
                return -E2BIG;
        l = reallocarray(m->snapshots, m->n_snapshots + 1, sizeof(InstanceSnapshot));
        if (!l)
                return -ENOMEM;
        m->snapshots = l;
        n = strdup(name);
        if (!n)
                return -ENOMEM;
        l[m->n_snapshots++] = (InstanceSnapshot) { n, created_at };
        return 0;
}

int instance_metadata_remove_snapshot(InstanceMetadata *m, const char *name) {
        const InstanceSnapshot *s;
        size_t k;

        assert(m);

        s = instance_metadata_find_snapshot(m, name);
        if (!s)
                return -ENOENT;
        k = (size_t) (s - m->snapshots);
        free(m->snapshots[k].name);
        memmove(m->snapshots + k, m->snapshots + k + 1, (m->n_snapshots - k - 1) * sizeof(InstanceSnapshot));
        m->n_snapshots--;
        return 0;
}

int instance_metadata_to_json(const InstanceMetadata *m, char **ret) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonGenerator) g = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *s = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "version");
        json_builder_add_int_value(b, 1);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, m->name);
        json_builder_set_member_name(b, "owner");
        json_builder_add_int_value(b, m->owner);
        json_builder_set_member_name(b, "ephemeral");
        json_builder_add_boolean_value(b, m->ephemeral);
        json_builder_set_member_name(b, "created-at");
        json_builder_add_int_value(b, (gint64) m->created_at);
        json_builder_set_member_name(b, "last-used-at");
        json_builder_add_int_value(b, (gint64) m->last_used_at);
        json_builder_set_member_name(b, "generation");
        json_builder_add_int_value(b, (gint64) m->generation);
        json_builder_set_member_name(b, "config");
        json_builder_begin_object(b);
        for (size_t i = 0; i < m->config.n; i++) {
                json_builder_set_member_name(b, m->config.entries[i].key);
                json_builder_add_string_value(b, m->config.entries[i].value);
        }
        json_builder_end_object(b);
        if (m->idmap.count > 0) {
                json_builder_set_member_name(b, "idmap");
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "uid");
                json_builder_add_int_value(b, m->idmap.uid);
                json_builder_set_member_name(b, "gid");
                json_builder_add_int_value(b, m->idmap.gid);
                json_builder_set_member_name(b, "count");
                json_builder_add_int_value(b, m->idmap.count);
                json_builder_end_object(b);
        }
        if (m->n_snapshots > 0) {
                json_builder_set_member_name(b, "snapshots");
                json_builder_begin_array(b);
                for (size_t k = 0; k < m->n_snapshots; k++) {
                        json_builder_begin_object(b);
                        json_builder_set_member_name(b, "name");
                        json_builder_add_string_value(b, m->snapshots[k].name);
                        json_builder_set_member_name(b, "created-at");
                        json_builder_add_int_value(b, (gint64) m->snapshots[k].created_at);
                        json_builder_end_object(b);
                }
                json_builder_end_array(b);
        }
        if (m->overlay_instance) {
                json_builder_set_member_name(b, "overlay");
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "instance");
                json_builder_add_string_value(b, m->overlay_instance);
                json_builder_set_member_name(b, "snapshot");
                json_builder_add_string_value(b, m->overlay_snapshot);
                json_builder_end_object(b);
        }
        json_builder_end_object(b);

        root = json_builder_get_root(b);
        json_generator_set_root(g, root);
        json_generator_set_pretty(g, TRUE);
        s = json_generator_to_data(g, NULL);
        if (!s)
                return -ENOMEM;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int bad(char **ret_message, const char *what) {
        if (ret_message && asprintf(ret_message, "Invalid metadata: %s.", what) < 0)
                *ret_message = NULL;
        return -EBADMSG;
}

static int member_int(JsonObject *o, const char *name, gint64 min, gint64 max, gint64 *ret) {
        JsonNode *n = json_object_get_member(o, name);
        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
                return -EBADMSG;
        gint64 v = json_node_get_int(n);
        if (v < min || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* "snapshots": absent in files older than snapshots (none), else an array of at most LXCBUS_SNAPSHOTS_MAX
 * objects {"name", "created-at"}, names valid and unique. */
static int parse_snapshots(JsonObject *o, InstanceMetadata *m) {
        JsonNode *n = json_object_get_member(o, "snapshots");
        JsonArray *a;
        guint len;

        if (!n)
                return 0;
        if (!JSON_NODE_HOLDS_ARRAY(n))
                return -EBADMSG;
        a = json_node_get_array(n);
        len = json_array_get_length(a);
        if (len > LXCBUS_SNAPSHOTS_MAX)
                return -EBADMSG;
        for (guint k = 0; k < len; k++) {
                JsonNode *e = json_array_get_element(a, k), *nn;
                gint64 t;
                int r;

                if (!JSON_NODE_HOLDS_OBJECT(e))
                        return -EBADMSG;
                nn = json_object_get_member(json_node_get_object(e), "name");
                if (!nn || !JSON_NODE_HOLDS_VALUE(nn) || json_node_get_value_type(nn) != G_TYPE_STRING ||
                    member_int(json_node_get_object(e), "created-at", 0, INT64_MAX, &t) < 0)
                        return -EBADMSG;
                r = instance_metadata_add_snapshot(m, json_node_get_string(nn), (uint64_t) t);
                if (r < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
        }
        return 0;
}

static int member_name(JsonObject *o, const char *name, char **ret) {
        JsonNode *n = json_object_get_member(o, name);

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
            !instance_name_is_valid(json_node_get_string(n)))
                return -EBADMSG;
        *ret = strdup(json_node_get_string(n));
        return *ret ? 0 : -ENOMEM;
}

/* "overlay": absent for an instance with a rootfs of its own, else {"instance", "snapshot"}, both valid
 * names: never a path, so that the lower layer is always one of our snapshots. */
static int parse_overlay(JsonObject *o, InstanceMetadata *m) {
        JsonNode *n = json_object_get_member(o, "overlay");
        int r;

        if (!n)
                return 0;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        r = member_name(json_node_get_object(n), "instance", &m->overlay_instance);
        if (r < 0)
                return r;
        return member_name(json_node_get_object(n), "snapshot", &m->overlay_snapshot);
}

#define METADATA_DEPTH_MAX 16

/* json-glib parses recursively and keeps strings NUL-terminated: refuse deep nesting (stack) and
 * escaped NUL characters (a name "web\u0000x" would silently become "web") before parsing. */
static int json_precheck(const char *json, size_t size) {
        unsigned depth = 0;
        bool in_string = false;

        for (size_t i = 0; i < size; i++) {
                char c = json[i];

                if (c == 0)
                        return -EBADMSG;
                if (in_string) {
                        if (c == '\\') {
                                if (i + 5 < size && json[i + 1] == 'u' && memcmp(json + i + 2, "0000", 4) == 0)
                                        return -EBADMSG;
                                i++; /* skip the escaped character */
                        } else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        if (++depth > METADATA_DEPTH_MAX)
                                return -EBADMSG;
                } else if ((c == '}' || c == ']') && depth > 0)
                        depth--;
        }
        return 0;
}

/* "owner", the times, "generation" and "ephemeral". */
static int parse_fields(JsonObject *o, InstanceMetadata *m) {
        JsonNode *n;
        gint64 owner, created, used, generation;

        if (member_int(o, "owner", 0, UINT32_MAX - 1, &owner) < 0 ||
            member_int(o, "created-at", 0, INT64_MAX, &created) < 0 ||
            member_int(o, "last-used-at", 0, INT64_MAX, &used) < 0 ||
            member_int(o, "generation", 0, INT64_MAX, &generation) < 0)
                return -EBADMSG;
        n = json_object_get_member(o, "ephemeral");
        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
                return -EBADMSG;
        m->owner = (uid_t) owner;
        m->created_at = (uint64_t) created;
        m->last_used_at = (uint64_t) used;
        m->generation = (uint64_t) generation;
        m->ephemeral = json_node_get_boolean(n);
        return 0;
}

/* "config": an object of string values, each key and value valid, at most CONFIG_KEYS_MAX of them. */
static int parse_config(JsonObject *o, InstanceMetadata *m) {
        g_autoptr(GList) members = NULL;
        JsonNode *n = json_object_get_member(o, "config");
        JsonObject *cfg;
        int r;

        if (!n || !JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        cfg = json_node_get_object(n);
        members = json_object_get_members(cfg);
        for (GList *l = members; l; l = l->next) {
                const char *key = l->data;
                JsonNode *vn = json_object_get_member(cfg, key);

                if (!JSON_NODE_HOLDS_VALUE(vn) || json_node_get_value_type(vn) != G_TYPE_STRING ||
                    config_validate(key, json_node_get_string(vn), NULL) < 0)
                        return -EBADMSG;
                r = config_map_set(&m->config, key, json_node_get_string(vn));
                if (r < 0)
                        return r == -E2BIG ? -EBADMSG : r;
        }
        return 0;
}

/* "idmap": absent for a privileged instance, else host ids 1 .. (uint32_t) -2: never 0 (host root) nor
 * the invalid id. */
static int parse_idmap(JsonObject *o, InstanceMetadata *m) {
        JsonNode *n = json_object_get_member(o, "idmap");
        JsonObject *im;
        gint64 u, g, c;

        if (!n)
                return 0;
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return -EBADMSG;
        im = json_node_get_object(n);
        if (member_int(im, "count", 1, UINT32_MAX - 1, &c) < 0 ||
            member_int(im, "uid", 1, UINT32_MAX - c, &u) < 0 ||
            member_int(im, "gid", 1, UINT32_MAX - c, &g) < 0)
                return -EBADMSG;
        m->idmap = (InstanceIdmap) { (uint32_t) u, (uint32_t) g, (uint32_t) c };
        return 0;
}

static int parse_name(JsonObject *o, InstanceMetadata *m) {
        return member_name(o, "name", &m->name);
}

/* The parts of the file in the order they are checked, and what a refusal of each says. */
static const struct {
        int (*parse)(JsonObject *o, InstanceMetadata *m);
        const char *invalid;
} metadata_parts[] = {
        { parse_name, "missing or invalid name" },
        { parse_fields, "missing or invalid member" },
        { parse_config, "missing or invalid member" },
        { parse_idmap, "missing or invalid member" },
        { parse_snapshots, "invalid snapshots" },
        { parse_overlay, "invalid overlay" },
};

int instance_metadata_from_json(const char *json, size_t size, InstanceMetadata *ret, char **ret_message) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_autoptr(GError) err = NULL;
        InstanceMetadata m = {};
        JsonNode *root;
        int r;

        if (size > METADATA_SIZE_MAX)
                return bad(ret_message, "too large");
        if (json_precheck(json, size) < 0)
                return bad(ret_message, "nested too deep, or a NUL character");
        if (!json_parser_load_from_data(p, json, (gssize) size, &err))
                return bad(ret_message, "not JSON");
        root = json_parser_get_root(p);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return bad(ret_message, "not an object");

        for (size_t k = 0; k < ELEMENTSOF(metadata_parts); k++) {
                r = metadata_parts[k].parse(json_node_get_object(root), &m);
                if (r == -EBADMSG)
                        r = bad(ret_message, metadata_parts[k].invalid);
                if (r < 0)
                        goto fail;
        }
        /* security.privileged, when present, must say what the idmap says. */
        const char *priv = config_map_get(&m.config, "security.privileged");
        if (priv && streq(priv, "true") != (m.idmap.count == 0)) {
                r = bad(ret_message, "security.privileged disagrees with idmap");
                goto fail;
        }
        *ret = m;
        return 0;

fail:
        instance_metadata_done(&m);
        return r;
}

#define LONGEST_SNAPSHOT_NAME "a23456789012345678901234567890123456789012345678901234567890123"
_Static_assert(sizeof(LONGEST_SNAPSHOT_NAME) == INSTANCE_NAME_MAX + 1, "longest name");

/* The JSON of m and its length, within the bound of a metadata file: -E2BIG if it is larger (ret_size is
 * set all the same, for the caller's message). */
static int metadata_to_json_bounded(const InstanceMetadata *m, char **ret, size_t *ret_size) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = instance_metadata_to_json(m, &s);
        if (r < 0)
                return r;
        *ret_size = strlen(s);
        if (*ret_size > METADATA_SIZE_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(s);
        return 0;
}

int instance_metadata_check_size(const InstanceMetadata *m, size_t *ret_size) {
        _cleanup_free_ char *s = NULL;
        InstanceMetadata widest = *m;   /* shallow: nothing of it is freed */
        size_t n = 0;
        int r;

        widest.owner = UINT32_MAX - 1;
        widest.created_at = widest.last_used_at = widest.generation = INT64_MAX;
        /* Snapshots come and go after the check: count the most there can be, with the longest names. */
        widest.n_snapshots = LXCBUS_SNAPSHOTS_MAX;
        widest.snapshots = calloc(LXCBUS_SNAPSHOTS_MAX, sizeof(InstanceSnapshot));
        if (!widest.snapshots)
                return -ENOMEM;
        for (size_t k = 0; k < LXCBUS_SNAPSHOTS_MAX; k++)
                widest.snapshots[k] = (InstanceSnapshot) { (char *) LONGEST_SNAPSHOT_NAME, INT64_MAX };
        if (widest.idmap.count > 0)
                widest.idmap = (InstanceIdmap) { UINT32_MAX - 1, UINT32_MAX - 1, UINT32_MAX - 1 };
        r = metadata_to_json_bounded(&widest, &s, &n);
        free(widest.snapshots);
        if (r < 0 && r != -E2BIG)
                return r;
        if (ret_size)
                *ret_size = n;
        return r;
}

int instance_metadata_save(const InstanceMetadata *m, const char *path) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r;

        r = metadata_to_json_bounded(m, &s, &n);
        if (r < 0)
                return r;
        return write_file_atomic(path, s, n, 0644);
}

int instance_metadata_load(const char *path, InstanceMetadata *ret, char **ret_message) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r;

        r = read_full_file(path, METADATA_SIZE_MAX, &s, &n);
        if (r < 0)
                return r;
        return instance_metadata_from_json(s, n, ret, ret_message);
}
