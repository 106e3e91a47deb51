/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * codegen-client ADDRESS [EXPECTED_VERSION]
 *
 * A client built only from what gdbus-codegen generates out of
 * dbus-interfaces/org.lxcbus1.*.xml (LxcbusObjectManagerClient and the typed
 * proxies), run against a live lxcbusd on the bus at ADDRESS on which an
 * instance "contract1" (source type none, stopped) and its create operation
 * exist (tests/contract/run-contract.sh sets that up). It proves that a GUI
 * written against the XML works against the daemon: objects are listed,
 * properties read, methods called with the right signatures, errors mapped.
 *
 * Exit status 0 only if every check passed, 1 otherwise.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "lxcbus-generated.h"

#define BUS_NAME "org.lxcbus1"
#define MANAGER_PATH "/org/lxcbus1"
#define INSTANCE_NAME "contract1"
#define CALL_TIMEOUT_MSEC 10000

static int failures = 0;

#define CHECK(cond, ...)                                                  \
        do {                                                              \
                if (cond)                                                 \
                        printf("ok: " __VA_ARGS__);                       \
                else {                                                    \
                        printf("FAIL: " __VA_ARGS__);                     \
                        failures++;                                       \
                }                                                         \
                printf("\n");                                             \
        } while (0)

static void fail_gerror(const char *what, GError *error) {
        printf("FAIL: %s: %s\n", what, error ? error->message : "unknown error");
        failures++;
}

/* Walks the ObjectManager's objects; returns the path of the instance named INSTANCE_NAME (or NULL) and
 * checks its typed proxy. Also checks that at least one operation object with a typed proxy is there. */
static char *check_object_manager(GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusObjectManager) om = NULL;
        g_autofree char *instance_path = NULL;
        unsigned n_instances = 0, n_operations = 0;
        GList *objects;

        om = lxcbus_object_manager_client_new_sync(conn, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                                   BUS_NAME, MANAGER_PATH, NULL, &error);
        if (!om) {
                fail_gerror("LxcbusObjectManagerClient", error);
                return NULL;
        }

        objects = g_dbus_object_manager_get_objects(om);
        printf("ObjectManager %s lists %u object(s):\n", MANAGER_PATH, g_list_length(objects));
        for (GList *l = objects; l; l = l->next) {
                LxcbusObject *object = LXCBUS_OBJECT(l->data);
                const char *path = g_dbus_object_get_object_path(G_DBUS_OBJECT(object));
                LxcbusInstance *instance = lxcbus_object_peek_instance(object);
                LxcbusOperation *operation = lxcbus_object_peek_operation(object);

                printf("  %s%s%s%s\n", path, instance ? " [Instance]" : "", operation ? " [Operation]" : "",
                       lxcbus_object_peek_manager(object) ? " [Manager]" : "");

                if (instance) {
                        n_instances++;
                        CHECK(LXCBUS_IS_INSTANCE_PROXY(instance), "%s: Instance is a LxcbusInstanceProxy", path);
                        if (g_strcmp0(lxcbus_instance_get_name(instance), INSTANCE_NAME) == 0) {
                                g_free(instance_path);
                                instance_path = g_strdup(path);
                        }
                }
                if (operation) {
                        const char *kind = lxcbus_operation_get_kind(operation);
                        const char *status = lxcbus_operation_get_status(operation);

                        n_operations++;
                        printf("    Kind=%s Status=%s Instance=%s Progress=%g\n", kind ? kind : "(null)",
                               status ? status : "(null)", lxcbus_operation_get_instance(operation),
                               lxcbus_operation_get_progress(operation));
                        CHECK(kind && *kind, "%s: Operation.Kind is set", path);
                        CHECK(status && *status, "%s: Operation.Status is set", path);
                }
        }
        g_list_free_full(objects, g_object_unref);

        CHECK(n_instances >= 1, "ObjectManager lists %u instance object(s)", n_instances);
        CHECK(n_operations >= 1, "ObjectManager lists %u operation object(s)", n_operations);
        CHECK(instance_path != NULL, "ObjectManager lists instance '%s'", INSTANCE_NAME);

        if (instance_path) {
                g_autoptr(LxcbusObject) object =
                        LXCBUS_OBJECT(g_dbus_object_manager_get_object(om, instance_path));
                g_autoptr(LxcbusInstance) instance = object ? lxcbus_object_get_instance(object) : NULL;

                CHECK(instance != NULL, "%s: lxcbus_object_get_instance()", instance_path);
                if (instance) {
                        const char *name = lxcbus_instance_get_name(instance);
                        const char *state = lxcbus_instance_get_state(instance);

                        printf("instance via ObjectManager: Name=%s State=%s Generation=%" G_GUINT64_FORMAT
                               " Owner=%u\n", name ? name : "(null)", state ? state : "(null)",
                               lxcbus_instance_get_generation(instance), lxcbus_instance_get_owner(instance));
                        CHECK(g_strcmp0(name, INSTANCE_NAME) == 0, "Instance.Name is '%s'", INSTANCE_NAME);
                        CHECK(g_strcmp0(state, "stopped") == 0, "Instance.State is 'stopped'");
                }
        }
        return g_steal_pointer(&instance_path);
}

static void check_manager(GDBusConnection *conn, const char *expected_version, const char *om_instance_path) {
        g_autoptr(GError) error = NULL;
        g_autoptr(LxcbusManager) manager = NULL;
        g_autoptr(GVariant) instances = NULL;
        g_autofree char *path = NULL;
        const char *version, *const *features, *const *instance_paths;
        gboolean listed = FALSE, in_property = FALSE;

        /* The Manager lives at the ObjectManager's own path, which GetManagedObjects does not report (it lists
         * the objects below it), so it gets a proxy of its own. */
        manager = lxcbus_manager_proxy_new_sync(conn, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, BUS_NAME, MANAGER_PATH,
                                                NULL, &error);
        if (!manager) {
                fail_gerror("lxcbus_manager_proxy_new_sync", error);
                return;
        }
        g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(manager), CALL_TIMEOUT_MSEC);

        version = lxcbus_manager_get_version(manager);
        printf("Manager.Version=%s\n", version ? version : "(null)");
        CHECK(version && *version, "Manager.Version is set");
        if (expected_version)
                CHECK(g_strcmp0(version, expected_version) == 0, "Manager.Version is '%s'", expected_version);

        features = lxcbus_manager_get_features(manager);
        CHECK(features && g_strv_contains(features, "source-none"), "Manager.Features contains 'source-none'");
        CHECK(lxcbus_manager_get_state_directory(manager) && *lxcbus_manager_get_state_directory(manager),
              "Manager.StateDirectory is set (%s)", lxcbus_manager_get_state_directory(manager));

        /* ListInstances() -> a(sso) */
        if (!lxcbus_manager_call_list_instances_sync(manager, &instances, NULL, &error)) {
                fail_gerror("Manager.ListInstances", error);
                g_clear_error(&error);
        } else {
                GVariantIter iter;
                const char *name, *state, *opath;

                CHECK(g_variant_is_of_type(instances, G_VARIANT_TYPE("a(sso)")), "ListInstances returns a(sso)");
                g_variant_iter_init(&iter, instances);
                while (g_variant_iter_next(&iter, "(&s&s&o)", &name, &state, &opath)) {
                        printf("ListInstances: %s %s %s\n", name, state, opath);
                        if (g_strcmp0(name, INSTANCE_NAME) == 0) {
                                listed = TRUE;
                                CHECK(g_strcmp0(state, "stopped") == 0, "ListInstances: '%s' is stopped",
                                      INSTANCE_NAME);
                                if (om_instance_path)
                                        CHECK(g_strcmp0(opath, om_instance_path) == 0,
                                              "ListInstances path equals the ObjectManager's (%s)", opath);
                        }
                }
                CHECK(listed, "ListInstances lists '%s'", INSTANCE_NAME);
        }

        /* GetInstance(s name) -> o */
        if (!lxcbus_manager_call_get_instance_sync(manager, INSTANCE_NAME, &path, NULL, &error)) {
                fail_gerror("Manager.GetInstance", error);
                g_clear_error(&error);
        } else {
                printf("GetInstance('%s') = %s\n", INSTANCE_NAME, path);
                CHECK(g_variant_is_object_path(path), "GetInstance returns an object path");
                if (om_instance_path)
                        CHECK(g_strcmp0(path, om_instance_path) == 0, "GetInstance path equals the ObjectManager's");
        }

        /* Errors arrive as their D-Bus names. */
        {
                g_autofree char *p = NULL, *remote = NULL;
                gboolean ok = lxcbus_manager_call_get_instance_sync(manager, "nosuchinstance", &p, NULL, &error);

                if (!ok)
                        remote = g_dbus_error_get_remote_error(error);
                printf("GetInstance('nosuchinstance') -> %s\n", ok ? "success" : (remote ? remote : error->message));
                CHECK(!ok && g_strcmp0(remote, "org.lxcbus1.Error.NoSuchInstance") == 0,
                      "GetInstance of a missing instance fails with org.lxcbus1.Error.NoSuchInstance");
                g_clear_error(&error);
        }

        instance_paths = lxcbus_manager_get_instances(manager);
        if (path && instance_paths)
                in_property = g_strv_contains(instance_paths, path);
        CHECK(in_property, "Manager.Instances contains the instance");

        if (path) {
                g_autoptr(LxcbusInstance) instance = NULL;
                g_autoptr(GVariant) state_dict = NULL;

                instance = lxcbus_instance_proxy_new_sync(conn, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, BUS_NAME, path,
                                                          NULL, &error);
                if (!instance) {
                        fail_gerror("lxcbus_instance_proxy_new_sync", error);
                        return;
                }
                g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(instance), CALL_TIMEOUT_MSEC);
                printf("Instance proxy: Name=%s State=%s Pid=%u Unit='%s' Ephemeral=%d\n",
                       lxcbus_instance_get_name(instance), lxcbus_instance_get_state(instance),
                       lxcbus_instance_get_pid(instance), lxcbus_instance_get_unit(instance),
                       lxcbus_instance_get_ephemeral(instance));
                CHECK(g_strcmp0(lxcbus_instance_get_name(instance), INSTANCE_NAME) == 0,
                      "Instance proxy: Name is '%s'", INSTANCE_NAME);
                CHECK(g_strcmp0(lxcbus_instance_get_state(instance), "stopped") == 0,
                      "Instance proxy: State is 'stopped'");
                CHECK(lxcbus_instance_get_pid(instance) == 0, "Instance proxy: Pid is 0");

                /* GetState() -> a{sv} */
                if (!lxcbus_instance_call_get_state_sync(instance, &state_dict, NULL, &error)) {
                        fail_gerror("Instance.GetState", error);
                        g_clear_error(&error);
                } else {
                        const char *s = NULL;

                        (void) g_variant_lookup(state_dict, "state", "&s", &s);
                        printf("GetState: state=%s\n", s ? s : "(missing)");
                        CHECK(g_strcmp0(s, "stopped") == 0, "GetState: state is 'stopped'");
                }
        }
}

int main(int argc, char *argv[]) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) conn = NULL;
        g_autofree char *instance_path = NULL;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "Usage: %s ADDRESS [EXPECTED_VERSION]\n", argv[0]);
                return 2;
        }

        conn = g_dbus_connection_new_for_address_sync(argv[1],
                                                      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                      NULL, NULL, &error);
        if (!conn) {
                fprintf(stderr, "Failed to connect to %s: %s\n", argv[1], error->message);
                return 1;
        }

        instance_path = check_object_manager(conn);
        check_manager(conn, argc > 2 ? argv[2] : NULL, instance_path);

        if (failures > 0) {
                printf("codegen-client: %d check(s) failed\n", failures);
                return 1;
        }
        printf("codegen-client: all checks passed\n");
        return 0;
}
