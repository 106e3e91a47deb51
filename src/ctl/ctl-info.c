/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "bus-options.h"
#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-util.h"
#include "ctl.h"

/* "info" and "config": reading an instance's properties, and SetConfig. */

/* Text for humans of a JSON value that may be a list: one element per line. */
static char *format_lines(JsonNode *n) {
        g_autoptr(GString) s = NULL;
        JsonArray *a;

        if (!n || !JSON_NODE_HOLDS_ARRAY(n))
                return ctl_json_to_text(n);

        a = json_node_get_array(n);
        if (json_array_get_length(a) == 0)
                return g_strdup("-");

        s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                g_autofree char *e = ctl_json_to_text(json_array_get_element(a, i));

                g_string_append_printf(s, "%s%s", i > 0 ? "\n" : "", e);
        }
        return g_string_free(g_steal_pointer(&s), false);
}

/* KEY=VALUE lines, sorted by key; also the output of "config show". */
static char *format_config(JsonObject *o) {
        g_autofree const char **keys = ctl_json_object_sorted_members(o);
        g_autoptr(GString) s = g_string_new(NULL);

        for (const char **k = keys; *k; k++) {
                JsonNode *v = json_object_get_member(o, *k);
                const char *value = JSON_NODE_HOLDS_VALUE(v) ? json_node_get_string(v) : NULL;

                g_string_append_printf(s, "%s%s=%s", k == keys ? "" : "\n", *k, strempty(value));
        }
        return g_string_free(g_steal_pointer(&s), false);
}

static char *format_timestamp(JsonNode *n) {
        char buf[CTL_FORMAT_TIMESTAMP_MAX];

        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
                return ctl_json_to_text(n);
        return g_strdup(ctl_format_timestamp(buf, sizeof(buf), (uint64_t) json_node_get_int(n)));
}

/* Snapshots a(st): "name (creation time)" lines. */
static char *format_snapshots(JsonNode *n) {
        g_autoptr(GString) s = NULL;
        JsonArray *a;

        if (!JSON_NODE_HOLDS_ARRAY(n) || json_array_get_length(json_node_get_array(n)) == 0)
                return format_lines(n);

        a = json_node_get_array(n);
        s = g_string_new(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonNode *e = json_array_get_element(a, i);
                JsonArray *pair = JSON_NODE_HOLDS_ARRAY(e) ? json_node_get_array(e) : NULL;
                g_autofree char *name = NULL, *created = NULL;

                if (!pair || json_array_get_length(pair) != 2)
                        return format_lines(n);
                name = ctl_json_to_text(json_array_get_element(pair, 0));
                created = format_timestamp(json_array_get_element(pair, 1));
                g_string_append_printf(s, "%s%s (%s)", i > 0 ? "\n" : "", name, created);
        }
        return g_string_free(g_steal_pointer(&s), false);
}

static char *format_property(const char *name, JsonNode *n) {
        if (streq(name, "Config") && JSON_NODE_HOLDS_OBJECT(n)) {
                if (json_object_get_size(json_node_get_object(n)) == 0)
                        return g_strdup("-");
                return format_config(json_node_get_object(n));
        }
        if (streq(name, "Snapshots"))
                return format_snapshots(n);
        if (g_str_has_suffix(name, "At"))
                return format_timestamp(n);
        return format_lines(n);
}

/* "addresses" a(sss) as "eth0 inet 10.0.3.5/24" lines, "network" a{s(tt)} as "eth0: rx 1.2K, tx 3.4K". */
static char *format_network(const char *key, JsonNode *n, const char **ret_label) {
        char rx[CTL_FORMAT_BYTES_MAX], tx[CTL_FORMAT_BYTES_MAX];
        g_autoptr(GString) s = g_string_new(NULL);

        if (streq(key, "addresses") && JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);

                *ret_label = "Addresses";
                for (guint k = 0; k < json_array_get_length(a); k++) {
                        JsonNode *e = json_array_get_element(a, k);
                        JsonArray *t = JSON_NODE_HOLDS_ARRAY(e) ? json_node_get_array(e) : NULL;

                        if (t && json_array_get_length(t) == 3)
                                g_string_append_printf(s, "%s%s %s %s", s->len > 0 ? "\n" : "",
                                                       json_array_get_string_element(t, 0),
                                                       json_array_get_string_element(t, 1),
                                                       json_array_get_string_element(t, 2));
                }
        } else if (streq(key, "network") && JSON_NODE_HOLDS_OBJECT(n)) {
                g_autofree const char **names = ctl_json_object_sorted_members(json_node_get_object(n));

                *ret_label = "Network";
                for (const char **k = names; k && *k; k++) {
                        JsonArray *t = json_object_get_array_member(json_node_get_object(n), *k);

                        if (t && json_array_get_length(t) == 2)
                                g_string_append_printf(s, "%s%s: rx %s, tx %s", s->len > 0 ? "\n" : "", *k,
                                                       ctl_format_bytes(rx, sizeof rx, (uint64_t) json_array_get_int_element(t, 0)),
                                                       ctl_format_bytes(tx, sizeof tx, (uint64_t) json_array_get_int_element(t, 1)));
                }
        } else
                return format_lines(n);
        if (s->len == 0)
                return g_strdup("-");
        return g_string_free(g_steal_pointer(&s), false);
}

/* GetState() figures, under names for humans. "state" and "pid" repeat the properties and are left out. */
static char *format_figure(const char *key, JsonNode *n, const char **ret_label) {
        char buf[MAX(CTL_FORMAT_BYTES_MAX, CTL_FORMAT_TIMESPAN_MAX)];
        bool integer = JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64;

        /* Shown with the properties already. */
        if (streq(key, "state") || streq(key, "pid") || streq(key, "unit"))
                return NULL;

        if (streq(key, "memory-bytes") && integer) {
                *ret_label = "Memory";
                return g_strdup(ctl_format_bytes(buf, sizeof(buf), (uint64_t) json_node_get_int(n)));
        }
        if (streq(key, "cpu-ns") && integer) {
                *ret_label = "CPU time";
                return g_strdup(ctl_format_timespan_ns(buf, sizeof(buf), (uint64_t) json_node_get_int(n)));
        }
        if (streq(key, "addresses") || streq(key, "network"))
                return format_network(key, n, ret_label);
        if (streq(key, "tasks"))
                *ret_label = "Tasks";
        else
                *ret_label = key;
        return format_lines(n);
}

typedef struct Fields {
        GPtrArray *labels;      /* borrowed strings */
        GPtrArray *values;      /* owned, may span lines */
        int width;
} Fields;

static void fields_add(Fields *f, const char *label, char *value) {
        g_ptr_array_add(f->labels, (gpointer) label);
        g_ptr_array_add(f->values, value);
        f->width = MAX(f->width, (int) strlen(label) + 1);
}

static void fields_print(const Fields *f) {
        for (guint i = 0; i < f->labels->len; i++) {
                g_autofree char *label = g_strconcat(f->labels->pdata[i], ":", NULL);
                g_auto(GStrv) lines = g_strsplit(f->values->pdata[i], "\n", -1);

                for (char **l = lines; *l; l++)
                        printf("%-*s %s\n", f->width, l == lines ? label : "", *l);
        }
}

static void print_info(const char *path, JsonObject *properties, JsonObject *figures) {
        g_autoptr(GList) names = json_object_get_members(properties);
        g_autoptr(GList) keys = json_object_get_members(figures);
        g_autoptr(GPtrArray) labels = g_ptr_array_new();
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        Fields f = { labels, values, 0 };

        for (GList *l = names; l; l = l->next) {
                JsonNode *value = json_object_get_member(properties, l->data);

                fields_add(&f, l->data, format_property(l->data, value));
                if (streq(l->data, "Name"))
                        fields_add(&f, "Path", g_strdup(path));
        }

        for (GList *l = keys; l; l = l->next) {
                const char *label = NULL;
                char *value = format_figure(l->data, json_object_get_member(figures, l->data), &label);

                if (value)
                        fields_add(&f, label, value);
        }

        fields_print(&f);
}

static int get_state(Context *c, const char *path, JsonNode **ret) {
        return ctl_call_method_json(c, path, LXCBUS_INSTANCE_INTERFACE, "GetState", ret, NULL);
}

int verb_info(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                { .name = "json" },     /* sets the bool that userdata is */
                {}
        };
        g_autoptr(JsonNode) properties = NULL, figures = NULL;
        _cleanup_free_ char *path = NULL;
        bool json = false;
        int r;

        r = ctl_parse_args(c, argc, argv, options, &json, 1, "instance name");
        if (r <= 0)
                return r;

        r = ctl_get_instance_path(c, argv[optind], &path);
        if (r < 0)
                return r;
        r = ctl_get_all_properties(c, path, LXCBUS_INSTANCE_INTERFACE, &properties);
        if (r < 0)
                return r;
        r = get_state(c, path, &figures);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(properties) || !JSON_NODE_HOLDS_OBJECT(figures))
                return ctl_error_errno(c, EBADMSG, "Unexpected reply from the daemon.");

        if (json) {
                /* The properties under their D-Bus names, then the object path and the live figures. */
                JsonObject *o = json_node_get_object(properties);

                json_object_set_string_member(o, "Path", path);
                json_object_set_member(o, "Runtime", json_node_ref(figures));
                ctl_json_print(properties);
        } else
                print_info(path, json_node_get_object(properties), json_node_get_object(figures));
        return 0;
}

typedef enum ConfigAction {
        CONFIG_SHOW,
        CONFIG_SET,
        CONFIG_UNSET,
        _CONFIG_ACTION_MAX,
        _CONFIG_ACTION_INVALID = -EINVAL,
} ConfigAction;

static const char *const config_action_table[_CONFIG_ACTION_MAX] = {
        [CONFIG_SHOW] = "show",
        [CONFIG_SET] = "set",
        [CONFIG_UNSET] = "unset",
};

static ConfigAction config_action_from_string(const char *s) {
        for (size_t i = 0; i < _CONFIG_ACTION_MAX; i++)
                if (streq(s, config_action_table[i]))
                        return (ConfigAction) i;
        return _CONFIG_ACTION_INVALID;
}

typedef struct ConfigArgs {
        const char *name;
        ConfigAction action;
        bool json;
        bool have_generation;
        uint64_t generation;
        char **set;             /* alternating keys and values */
        char **unset;           /* borrowed from argv */
} ConfigArgs;

static void config_args_done(ConfigArgs *a) {
        a->set = strv_free(a->set);
}

static int parse_config_assignments(Context *c, ConfigArgs *a, int n, char *args[]) {
        int r;

        if (n == 0)
                return ctl_usage_error(c, "Missing %s.", a->action == CONFIG_SET ? "KEY=VALUE" : "KEY");

        for (int i = 0; i < n; i++) {
                if (a->action == CONFIG_UNSET) {
                        if (!ctl_config_key_is_valid(args[i]))
                                return ctl_usage_error(c, "Invalid key '%s'.", args[i]);
                        continue;
                }

                r = ctl_pairs_add(&a->set, args[i]);
                if (r == -EEXIST)
                        return ctl_usage_error(c, "Key of '%s' given twice.", args[i]);
                if (r == -ENOMEM)
                        return ctl_error_errno(c, r, "Out of memory.");
                if (r < 0)
                        return ctl_usage_error(c, "Invalid assignment '%s': expected KEY=VALUE.", args[i]);
        }

        if (a->action == CONFIG_UNSET)
                a->unset = args;
        return 0;
}

static int parse_generation(Context *c, const char *arg, void *userdata) {
        ConfigArgs *a = userdata;

        if (ctl_parse_uint64(arg, &a->generation) < 0)
                return ctl_usage_error(c, "Invalid generation '%s'.", arg);
        a->have_generation = true;
        return 1;
}

static int parse_config_args(Context *c, int argc, char *argv[], ConfigArgs *a) {
        static const CtlOption options[] = {
                CTL_OPTION_FLAG("json", ConfigArgs, json),
                CTL_OPTION_ARG("expected-generation", parse_generation),
                {}
        };
        int r;

        r = ctl_parse_options(c, argc, argv, options, a, 0);
        if (r <= 0)
                return r;

        if (argc - optind < 1)
                return ctl_usage_error(c, "Missing instance name.");
        if (argc - optind < 2)
                return ctl_usage_error(c, "Missing action: show, set or unset.");
        a->name = argv[optind];
        a->action = config_action_from_string(argv[optind + 1]);
        if (a->action < 0)
                return ctl_usage_error(c, "Unknown config action '%s': expected show, set or unset.",
                                       argv[optind + 1]);

        if (a->action == CONFIG_SHOW) {
                if (a->have_generation)
                        return ctl_usage_error(c, "'config show' takes no --expected-generation.");
                r = ctl_expect_args(c, argc, argv, 2, "instance name and action");
        } else {
                if (a->json)
                        return ctl_usage_error(c, "--json only goes with 'config show'.");
                r = parse_config_assignments(c, a, argc - optind - 2, argv + optind + 2);
        }
        if (r < 0)
                return r;
        return 1;
}

static int config_show(Context *c, const char *name, bool json) {
        g_autoptr(JsonNode) config = NULL;
        _cleanup_free_ char *path = NULL;
        g_autofree char *text = NULL;
        int r;

        r = ctl_get_instance_path(c, name, &path);
        if (r < 0)
                return r;
        r = ctl_get_property(c, path, LXCBUS_INSTANCE_INTERFACE, "Config", &config);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(config))
                return ctl_error_errno(c, EBADMSG, "Unexpected type of property Config.");

        if (json) {
                ctl_json_print(config);
                return 0;
        }

        text = format_config(json_node_get_object(config));
        if (!isempty(text))
                puts(text);
        return 0;
}

static int append_set_config_arguments(sd_bus_message *m, const ConfigArgs *a) {
        int r;

        r = bus_append_string_pairs(m, a->set);
        if (r < 0)
                return r;

        r = sd_bus_message_append_strv(m, a->unset);
        if (r < 0)
                return r;

        return CTL_APPEND_OPTIONS(m, CTL_BUS_U64("expected-generation", a->have_generation, a->generation));
}

static int config_change(Context *c, const ConfigArgs *a) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_new_instance_call(c, a->name, "SetConfig", &m);
        if (r < 0)
                return r;
        r = append_set_config_arguments(m, a);
        if (r < 0)
                return ctl_message_error(c, r);

        /* Limits apply live to a running instance's scope, through systemd. */
        return ctl_call(c, m, ctl_operation_timeout_usec(0), NULL);
}

int verb_config(Context *c, int argc, char *argv[]) {
        _cleanup_(config_args_done) ConfigArgs a = {};
        int r;

        r = parse_config_args(c, argc, argv, &a);
        if (r <= 0)
                return r;

        if (a.action == CONFIG_SHOW)
                return config_show(c, a.name, a.json);
        return config_change(c, &a);
}
