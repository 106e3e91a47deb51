/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The authorization table against the interfaces: every method of every org.lxcbus1 interface in
 * dbus-interfaces/ has an entry (a method added without one fails here), every entry names a method
 * that exists, and every action it names is defined in the polkit policy. */
#include <gio/gio.h>

#include "auth-dbus.h"
#include "tests.h"
#include "util.h"

static GDBusNodeInfo *load_interface(const char *name) {
        g_autofree char *path = g_strdup_printf("%s/dbus-interfaces/%s.xml", SOURCE_ROOT, name);
        g_autofree char *xml = NULL;
        g_autoptr(GError) error = NULL;
        GDBusNodeInfo *node;

        if (!g_file_get_contents(path, &xml, NULL, &error)) {
                fprintf(stderr, "%s: %s\n", path, error->message);
                return NULL;
        }
        node = g_dbus_node_info_new_for_xml(xml, &error);
        if (!node)
                fprintf(stderr, "%s: %s\n", path, error->message);
        return node;
}

static const char *const interfaces[] = {
        "org.lxcbus1.Manager", "org.lxcbus1.Instance", "org.lxcbus1.Operation", "org.lxcbus1.Process",
};

TEST(every_method_has_an_entry) {
        unsigned n = 0;

        for (size_t k = 0; k < ELEMENTSOF(interfaces); k++) {
                g_autoptr(GDBusNodeInfo) node = load_interface(interfaces[k]);
                GDBusInterfaceInfo *iface;

                ASSERT_NOT_NULL(node);
                iface = g_dbus_node_info_lookup_interface(node, interfaces[k]);
                ASSERT_NOT_NULL(iface);
                for (GDBusMethodInfo **m = iface->methods; m && *m; m++) {
                        bool found;

                        (void) bus_auth_action(interfaces[k], (*m)->name, &found);
                        if (!found)
                                fprintf(stderr, "%s.%s has no authorization entry\n", interfaces[k], (*m)->name);
                        ASSERT_TRUE(found);
                        n++;
                }
        }
        ASSERT_TRUE(n >= 20);
}

TEST(every_entry_is_a_method_with_a_defined_action) {
        g_autofree char *policy_path = g_strdup_printf("%s/polkit-policies/org.lxcbus1.policy", SOURCE_ROOT);
        g_autofree char *policy = NULL;
        const char *interface, *member, *action;

        ASSERT_TRUE(g_file_get_contents(policy_path, &policy, NULL, NULL));
        for (size_t k = 0; bus_auth_table_get(k, &interface, &member, &action); k++) {
                g_autoptr(GDBusNodeInfo) node = load_interface(interface);
                GDBusInterfaceInfo *iface;

                ASSERT_NOT_NULL(node);
                iface = g_dbus_node_info_lookup_interface(node, interface);
                ASSERT_NOT_NULL(iface);
                if (!g_dbus_interface_info_lookup_method(iface, member))
                        fprintf(stderr, "entry %s.%s is not a method in the XML\n", interface, member);
                ASSERT_NOT_NULL(g_dbus_interface_info_lookup_method(iface, member));
                if (action) {
                        g_autofree char *id = g_strdup_printf("<action id=\"%s\">", action);
                        ASSERT_CONTAINS(policy, id);
                }
        }
}

TEST(reading_is_open_acting_is_not) {
        bool found;

        ASSERT_NULL(bus_auth_action("org.lxcbus1.Manager", "ListInstances", &found));
        ASSERT_TRUE(found);
        ASSERT_NULL(bus_auth_action("org.lxcbus1.Instance", "GetState", &found));
        ASSERT_STREQ(bus_auth_action("org.lxcbus1.Instance", "Exec", &found), "org.lxcbus1.exec");
        ASSERT_STREQ(bus_auth_action("org.lxcbus1.Manager", "CreateInstance", &found), "org.lxcbus1.create");
        ASSERT_NULL(bus_auth_action("org.lxcbus1.Instance", "NoSuchMethod", &found));
        ASSERT_FALSE(found);
}

/* ---- the details builder (auth-details.c) ---- */

static const char *detail(char **d, const char *key) {
        for (char **p = d; p && p[0]; p += 2)
                if (streq(p[0], key))
                        return p[1];
        return NULL;
}

static size_t n_details(char **d) {
        return strv_length(d) / 2;
}

TEST(details_of_every_verb_carry_verb_instance_owner) {
        static const char *const verbs[] = {
                "create", "start", "stop", "restart", "freeze", "unfreeze", "kill", "delete", "set-config",
                "exec", "exec-pty", "signal", "open-console", "console-log", "console-log-clear", "cancel",
        };

        for (size_t k = 0; k < ELEMENTSOF(verbs); k++) {
                _cleanup_strv_free_ char **d = NULL;

                ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = verbs[k], .instance = "web", .owner = 1000,
                                                               .owner_name = "alice" }, &d));
                ASSERT_STREQ(detail(d, "verb"), verbs[k]);
                ASSERT_STREQ(detail(d, "instance"), "web");
                ASSERT_STREQ(detail(d, "owner"), "alice");
                ASSERT_STREQ(detail(d, "owner_uid"), "1000");
                ASSERT_TRUE(n_details(d) <= AUTH_DETAILS_KEYS_MAX);
        }
}

TEST(details_verbs_from_the_table) {
        _cleanup_strv_free_ char **d = NULL;

        /* no verb: refused, not guessed */
        ASSERT_ERROR(auth_details_build(&(AuthRequest) { .owner = UID_INVALID }, &d), EINVAL);
        /* an owner without a name is its uid; no owner, no keys */
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "start", .owner = 4242 }, &d));
        ASSERT_STREQ(detail(d, "owner"), "4242");
        ASSERT_NULL(detail(d, "instance"));
        d = strv_free(d);
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "start", .owner = UID_INVALID }, &d));
        ASSERT_NULL(detail(d, "owner"));
        ASSERT_NULL(detail(d, "owner_uid"));
        ASSERT_EQ(n_details(d), 1);
}

TEST(details_of_exec_show_everything_the_call_chooses) {
        _cleanup_strv_free_ char **d = NULL, **p = NULL;
        char *argv[] = { (char *) "/bin/true", NULL };
        char *env[] = { (char *) "ZZ=last", (char *) "LD_PRELOAD=/proc/self/fd/0", (char *) "A=it's x", NULL };

        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "exec", .instance = "web", .owner = 0,
                                                       .owner_name = "root", .argv = argv }, &d));
        ASSERT_STREQ(detail(d, "command_line"), "/bin/true");
        ASSERT_STREQ(detail(d, "uid"), "0");
        ASSERT_STREQ(detail(d, "gid"), "0");
        ASSERT_STREQ(detail(d, "cwd"), "");
        ASSERT_STREQ(detail(d, "env"), "");
        ASSERT_STREQ(detail(d, "env_names"), "");
        ASSERT_STREQ(detail(d, "env_clear"), "false");
        ASSERT_NULL(detail(d, "term"));     /* exec-pty only */
        ASSERT_NULL(detail(d, "signal"));

        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "exec-pty", .owner = UID_INVALID, .argv = argv,
                                                       .env = env, .env_clear = true, .uid = 65534, .gid = 7,
                                                       .cwd = "/tmp", .term = "vt100" }, &p));
        ASSERT_STREQ(detail(p, "uid"), "65534");
        ASSERT_STREQ(detail(p, "gid"), "7");
        ASSERT_STREQ(detail(p, "cwd"), "/tmp");
        /* sorted by name, quoted like command_line, so a value cannot fake another variable */
        ASSERT_STREQ(detail(p, "env"), "'A=it'\\''s x' LD_PRELOAD=/proc/self/fd/0 ZZ=last");
        ASSERT_STREQ(detail(p, "env_names"), "A LD_PRELOAD ZZ");
        ASSERT_STREQ(detail(p, "env_clear"), "true");
        ASSERT_STREQ(detail(p, "term"), "vt100");
}

TEST(details_of_kill_signal_stop_delete) {
        _cleanup_strv_free_ char **k = NULL, **s = NULL, **st = NULL, **de = NULL, **rt = NULL;
        char *argv[] = { (char *) "sleep", (char *) "1000", NULL };
        char buf[16];

        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "kill", .owner = UID_INVALID, .signal = SIGKILL,
                                                       .all = true }, &k));
        ASSERT_STREQ(detail(k, "signal"), "9");
        ASSERT_STREQ(detail(k, "signal_name"), "SIGKILL");
        ASSERT_STREQ(detail(k, "all"), "true");
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "signal", .owner = UID_INVALID, .signal = SIGTERM,
                                                       .argv = argv }, &s));
        ASSERT_STREQ(detail(s, "signal_name"), "SIGTERM");
        ASSERT_STREQ(detail(s, "command_line"), "sleep 1000");
        ASSERT_NULL(detail(s, "all"));
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "stop", .owner = UID_INVALID, .timeout_sec = 10 },
                                     &st));
        ASSERT_STREQ(detail(st, "force"), "false");
        ASSERT_STREQ(detail(st, "timeout_sec"), "10");
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "delete", .owner = UID_INVALID, .force = true }, &de));
        ASSERT_STREQ(detail(de, "force"), "true");
        ASSERT_NULL(detail(de, "timeout_sec"));
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "restart", .owner = UID_INVALID }, &rt));
        ASSERT_STREQ(detail(rt, "force"), "false");

        ASSERT_STREQ(auth_signal_name(SIGRTMIN, buf), "SIGRTMIN");
        ASSERT_STREQ(auth_signal_name(SIGRTMIN + 3, buf), "SIGRTMIN+3");
        ASSERT_STREQ(auth_signal_name(SIGHUP, buf), "SIGHUP");
        ASSERT_STREQ(auth_signal_name(0, buf), "0");
        ASSERT_STREQ(auth_signal_name(-5, buf), "-5");
}

TEST(details_of_set_config_and_create_name_the_keys) {
        _cleanup_strv_free_ char **d = NULL, **c = NULL;
        char *set[] = { (char *) "limits.memory", (char *) "description", NULL };
        char *unset[] = { (char *) "environment.FOO", (char *) "description", NULL };

        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "set-config", .owner = UID_INVALID, .set_keys = set,
                                                       .unset_keys = unset }, &d));
        ASSERT_STREQ(detail(d, "keys"), "description environment.FOO limits.memory");
        ASSERT_STREQ(detail(d, "set_keys"), "description limits.memory");
        ASSERT_STREQ(detail(d, "unset_keys"), "description environment.FOO");
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "create", .owner = 5, .template = "busybox" }, &c));
        ASSERT_STREQ(detail(c, "template"), "busybox");
        ASSERT_STREQ(detail(c, "keys"), "");
}

TEST(details_are_bounded) {
        _cleanup_strv_free_ char **d = NULL;
        _cleanup_free_ char *big = malloc(AUTH_DETAILS_SIZE_MAX / 2);
        char *argv[] = { big, big, big, NULL };
        char *quotes[] = { big, NULL };

        ASSERT_NOT_NULL(big);
        memset(big, 'a', AUTH_DETAILS_SIZE_MAX / 2 - 1);
        big[AUTH_DETAILS_SIZE_MAX / 2 - 1] = 0;
        ASSERT_ERROR(auth_details_build(&(AuthRequest) { .verb = "exec", .owner = UID_INVALID, .argv = argv }, &d),
                     E2BIG);
        /* not the input size but the quoted one: 256 Ki of ' is 1 MiB quoted */
        memset(big, '\'', AUTH_DETAILS_SIZE_MAX / 4);
        big[AUTH_DETAILS_SIZE_MAX / 4] = 0;
        ASSERT_ERROR(auth_details_build(&(AuthRequest) { .verb = "signal", .owner = UID_INVALID, .argv = quotes },
                                        &d), E2BIG);
        big[AUTH_DETAILS_SIZE_MAX / 8] = 0;
        ASSERT_OK(auth_details_build(&(AuthRequest) { .verb = "signal", .owner = UID_INVALID, .argv = quotes }, &d));
        ASSERT_TRUE(strlen(detail(d, "command_line")) > AUTH_DETAILS_SIZE_MAX / 2);
}
