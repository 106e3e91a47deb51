/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The authorization table against the interfaces: every method of every org.lxcbus1 interface in
 * dbus-interfaces/ has an entry (a method added without one fails here), every entry names a method
 * that exists, and every action it names is defined in the polkit policy. */
#include <gio/gio.h>

#include "daemon.h"
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
