/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* LxcbusClient: the hand-written part of liblxcbus. It holds the ObjectManagerClient of /org/lxcbus1 (so
 * that a GUI gets every instance and operation, with their properties kept current by PropertiesChanged,
 * from one GetManagedObjects call), finds instances by name, and turns "call, get an Operation, wait for
 * it" into one call with one GError. The calls here are the ones the generated proxies make awkward from
 * Python and JavaScript: an fd out of a GUnixFDList, a lifecycle call that only ends when its operation
 * does. Everything else is the generated API (lxcbus-generated.h). */

#include <gio/gunixfdlist.h>

#include "lxcbus-client.h"

#define LXCBUS_BUS_NAME "org.lxcbus1"
#define LXCBUS_MANAGER_PATH "/org/lxcbus1"

/**
 * LxcbusClient:
 *
 * The entry point of liblxcbus: the system bus connection and the object manager of `org.lxcbus1`.
 *
 * Create it with lxcbus_client_new() (asynchronous) or lxcbus_client_new_sync(). The objects it reports
 * are #LxcbusObject instances with #LxcbusInstance, #LxcbusOperation or #LxcbusManager interfaces; watch
 * #GDBusObjectManager::object-added and #GObject::notify on the proxies for live updates.
 */
struct _LxcbusClient {
        GObject parent_instance;
        GDBusConnection *connection;
        GDBusObjectManager *object_manager;
        LxcbusManager *manager;
};

enum {
        PROP_0,
        PROP_CONNECTION,
        PROP_OBJECT_MANAGER,
        N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void lxcbus_client_initable_iface_init(GInitableIface *iface);
static void lxcbus_client_async_initable_iface_init(GAsyncInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(LxcbusClient, lxcbus_client, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, lxcbus_client_initable_iface_init)
                        G_IMPLEMENT_INTERFACE(G_TYPE_ASYNC_INITABLE,
                                              lxcbus_client_async_initable_iface_init))

static const GDBusErrorEntry lxcbus_error_entries[] = {
        { LXCBUS_ERROR_FAILED, "org.lxcbus1.Error.Failed" },
        { LXCBUS_ERROR_BUSY, "org.lxcbus1.Error.Busy" },
        { LXCBUS_ERROR_CANCELLED, "org.lxcbus1.Error.Cancelled" },
        { LXCBUS_ERROR_CONFLICT, "org.lxcbus1.Error.Conflict" },
        { LXCBUS_ERROR_INSTANCE_EXISTS, "org.lxcbus1.Error.InstanceExists" },
        { LXCBUS_ERROR_INVALID_CONFIG, "org.lxcbus1.Error.InvalidConfig" },
        { LXCBUS_ERROR_INVALID_NAME, "org.lxcbus1.Error.InvalidName" },
        { LXCBUS_ERROR_INVALID_STATE, "org.lxcbus1.Error.InvalidState" },
        { LXCBUS_ERROR_LIMITS_EXCEEDED, "org.lxcbus1.Error.LimitsExceeded" },
        { LXCBUS_ERROR_NO_SUCH_INSTANCE, "org.lxcbus1.Error.NoSuchInstance" },
        { LXCBUS_ERROR_NOT_SUPPORTED, "org.lxcbus1.Error.NotSupported" },
        { LXCBUS_ERROR_TIMEOUT, "org.lxcbus1.Error.Timeout" },
};

/**
 * lxcbus_error_quark:
 *
 * Registers the `org.lxcbus1.Error.*` names with GDBus, so that a failed call returns a #GError in
 * %LXCBUS_ERROR (use g_dbus_error_get_remote_error() for the name of an error not known here).
 *
 * Returns: the error domain of liblxcbus
 */
GQuark lxcbus_error_quark(void) {
        static gsize quark = 0;

        g_dbus_error_register_error_domain("lxcbus-error-quark", &quark, lxcbus_error_entries,
                                           G_N_ELEMENTS(lxcbus_error_entries));
        return (GQuark) quark;
}

static void lxcbus_client_finalize(GObject *object) {
        LxcbusClient *client = LXCBUS_CLIENT(object);

        g_clear_object(&client->object_manager);
        g_clear_object(&client->manager);
        g_clear_object(&client->connection);
        G_OBJECT_CLASS(lxcbus_client_parent_class)->finalize(object);
}

static void lxcbus_client_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        LxcbusClient *client = LXCBUS_CLIENT(object);

        switch (prop_id) {
        case PROP_CONNECTION:
                g_value_set_object(value, client->connection);
                break;
        case PROP_OBJECT_MANAGER:
                g_value_set_object(value, client->object_manager);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void lxcbus_client_set_property(GObject *object, guint prop_id, const GValue *value,
                                       GParamSpec *pspec) {
        LxcbusClient *client = LXCBUS_CLIENT(object);

        switch (prop_id) {
        case PROP_CONNECTION:
                g_set_object(&client->connection, g_value_get_object(value));
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void lxcbus_client_class_init(LxcbusClientClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->finalize = lxcbus_client_finalize;
        object_class->get_property = lxcbus_client_get_property;
        object_class->set_property = lxcbus_client_set_property;

        /**
         * LxcbusClient:connection:
         *
         * The bus connection; the system bus when none is given at construction.
         */
        props[PROP_CONNECTION] = g_param_spec_object("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                                                     G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                                     G_PARAM_STATIC_STRINGS);
        /**
         * LxcbusClient:object-manager:
         *
         * The #GDBusObjectManager of `/org/lxcbus1`.
         */
        props[PROP_OBJECT_MANAGER] = g_param_spec_object("object-manager", NULL, NULL,
                                                         G_TYPE_DBUS_OBJECT_MANAGER,
                                                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        g_object_class_install_properties(object_class, N_PROPS, props);

        /* Before the first call: remote errors come back in LXCBUS_ERROR from then on. */
        (void) lxcbus_error_quark();
}

static void lxcbus_client_init(LxcbusClient *client) {
}

static gboolean lxcbus_client_initable_init(GInitable *initable, GCancellable *cancellable, GError **error) {
        LxcbusClient *client = LXCBUS_CLIENT(initable);

        if (!client->connection) {
                client->connection = g_bus_get_sync(G_BUS_TYPE_SYSTEM, cancellable, error);
                if (!client->connection)
                        return FALSE;
        }
        /* The Manager proxy first: it activates a daemon that is not running (the ObjectManagerClient does
         * not, and would report no objects until something else started lxcbusd). The object manager
         * does not report its own object, so the Manager has its own proxy. */
        client->manager = lxcbus_manager_proxy_new_sync(client->connection, G_DBUS_PROXY_FLAGS_NONE,
                                                        LXCBUS_BUS_NAME, LXCBUS_MANAGER_PATH, cancellable,
                                                        error);
        if (!client->manager)
                return FALSE;
        client->object_manager = lxcbus_object_manager_client_new_sync(
                        client->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, LXCBUS_BUS_NAME,
                        LXCBUS_MANAGER_PATH, cancellable, error);
        return client->object_manager != NULL;
}

static void lxcbus_client_initable_iface_init(GInitableIface *iface) {
        iface->init = lxcbus_client_initable_init;
}

static void on_object_manager(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        LxcbusClient *client = g_task_get_source_object(task);
        GError *error = NULL;

        client->object_manager = lxcbus_object_manager_client_new_finish(res, &error);
        if (!client->object_manager)
                return g_task_return_error(task, error);
        g_task_return_boolean(task, TRUE);
}

static void on_manager(GObject *source, GAsyncResult *res, gpointer user_data) {
        GTask *task = user_data;
        LxcbusClient *client = g_task_get_source_object(task);
        GError *error = NULL;

        client->manager = lxcbus_manager_proxy_new_finish(res, &error);
        if (!client->manager) {
                g_task_return_error(task, error);
                return g_object_unref(task);
        }
        lxcbus_object_manager_client_new(client->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
                                         LXCBUS_BUS_NAME, LXCBUS_MANAGER_PATH,
                                         g_task_get_cancellable(task), on_object_manager, task);
}

/* As lxcbus_client_initable_init(): the Manager proxy first. */
static void object_manager_async(GTask *task) {
        LxcbusClient *client = g_task_get_source_object(task);

        lxcbus_manager_proxy_new(client->connection, G_DBUS_PROXY_FLAGS_NONE, LXCBUS_BUS_NAME,
                                 LXCBUS_MANAGER_PATH, g_task_get_cancellable(task), on_manager, task);
}

static void on_bus(GObject *source, GAsyncResult *res, gpointer user_data) {
        GTask *task = user_data;
        LxcbusClient *client = g_task_get_source_object(task);
        GError *error = NULL;

        client->connection = g_bus_get_finish(res, &error);
        if (!client->connection) {
                g_task_return_error(task, error);
                return g_object_unref(task);
        }
        object_manager_async(task);
}

static void lxcbus_client_init_async(GAsyncInitable *initable, int io_priority, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data) {
        LxcbusClient *client = LXCBUS_CLIENT(initable);
        GTask *task = g_task_new(initable, cancellable, callback, user_data);

        g_task_set_source_tag(task, lxcbus_client_init_async);
        if (client->connection)
                object_manager_async(task);
        else
                g_bus_get(G_BUS_TYPE_SYSTEM, cancellable, on_bus, task);
}

static gboolean lxcbus_client_init_finish(GAsyncInitable *initable, GAsyncResult *res, GError **error) {
        return g_task_propagate_boolean(G_TASK(res), error);
}

static void lxcbus_client_async_initable_iface_init(GAsyncInitableIface *iface) {
        iface->init_async = lxcbus_client_init_async;
        iface->init_finish = lxcbus_client_init_finish;
}

/**
 * lxcbus_client_new:
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to the system bus and loads the objects of `org.lxcbus1`, without blocking. Finish with
 * lxcbus_client_new_finish().
 */
void lxcbus_client_new(GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data) {
        g_async_initable_new_async(LXCBUS_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable, callback, user_data,
                                   NULL);
}

/**
 * lxcbus_client_new_finish:
 * @res: the result given to the callback of lxcbus_client_new()
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the client, or %NULL with @error set
 */
LxcbusClient *lxcbus_client_new_finish(GAsyncResult *res, GError **error) {
        g_autoptr(GObject) source = g_async_result_get_source_object(res);
        GObject *object;

        object = g_async_initable_new_finish(G_ASYNC_INITABLE(source), res, error);
        return object ? LXCBUS_CLIENT(object) : NULL;
}

/**
 * lxcbus_client_new_sync:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like lxcbus_client_new(), blocking.
 *
 * Returns: (transfer full) (nullable): the client, or %NULL with @error set
 */
LxcbusClient *lxcbus_client_new_sync(GCancellable *cancellable, GError **error) {
        return g_initable_new(LXCBUS_TYPE_CLIENT, cancellable, error, NULL);
}

/**
 * lxcbus_client_new_for_connection_sync:
 * @connection: the bus lxcbusd is on
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like lxcbus_client_new_sync(), on @connection instead of the system bus.
 *
 * Returns: (transfer full) (nullable): the client, or %NULL with @error set
 */
LxcbusClient *lxcbus_client_new_for_connection_sync(GDBusConnection *connection, GCancellable *cancellable,
                                                    GError **error) {
        g_return_val_if_fail(G_IS_DBUS_CONNECTION(connection), NULL);
        return g_initable_new(LXCBUS_TYPE_CLIENT, cancellable, error, "connection", connection, NULL);
}

/**
 * lxcbus_client_get_connection:
 * @client: a #LxcbusClient
 *
 * Returns: (transfer none): the bus connection
 */
GDBusConnection *lxcbus_client_get_connection(LxcbusClient *client) {
        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        return client->connection;
}

/**
 * lxcbus_client_get_object_manager:
 * @client: a #LxcbusClient
 *
 * Returns: (transfer none): the object manager of `/org/lxcbus1`
 */
GDBusObjectManager *lxcbus_client_get_object_manager(LxcbusClient *client) {
        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        return client->object_manager;
}

/**
 * lxcbus_client_get_manager:
 * @client: a #LxcbusClient
 *
 * Returns: (transfer none): the proxy of `org.lxcbus1.Manager` at `/org/lxcbus1`
 */
LxcbusManager *lxcbus_client_get_manager(LxcbusClient *client) {
        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        return client->manager;
}

/**
 * lxcbus_client_get_instances:
 * @client: a #LxcbusClient
 *
 * Returns: (transfer full) (element-type LxcbusInstance): every instance the object manager knows
 */
GList *lxcbus_client_get_instances(LxcbusClient *client) {
        GList *objects, *instances = NULL;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        objects = g_dbus_object_manager_get_objects(client->object_manager);
        for (GList *l = objects; l; l = l->next) {
                LxcbusInstance *instance = lxcbus_object_get_instance(LXCBUS_OBJECT(l->data));

                if (instance)
                        instances = g_list_prepend(instances, instance);
        }
        g_list_free_full(objects, g_object_unref);
        return g_list_reverse(instances);
}

/**
 * lxcbus_client_lookup_instance:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 *
 * Returns: (transfer full) (nullable): the instance called @name, %NULL if there is none
 */
LxcbusInstance *lxcbus_client_lookup_instance(LxcbusClient *client, const char *name) {
        LxcbusInstance *found = NULL;
        GList *instances;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        g_return_val_if_fail(name, NULL);
        instances = lxcbus_client_get_instances(client);
        for (GList *l = instances; l && !found; l = l->next)
                if (g_strcmp0(lxcbus_instance_get_name(l->data), name) == 0)
                        found = g_object_ref(l->data);
        g_list_free_full(instances, g_object_unref);
        return found;
}

/**
 * lxcbus_client_lookup_operation:
 * @client: a #LxcbusClient
 * @object_path: the object path of an operation, as a lifecycle call returned it
 *
 * Returns: (transfer full) (nullable): the operation, %NULL if the object manager does not know it (yet:
 *     a path returned by a blocking call may come before the signal that adds the object)
 */
LxcbusOperation *lxcbus_client_lookup_operation(LxcbusClient *client, const char *object_path) {
        g_autoptr(GDBusObject) object = NULL;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), NULL);
        g_return_val_if_fail(g_variant_is_object_path(object_path), NULL);
        object = g_dbus_object_manager_get_object(client->object_manager, object_path);
        return object ? lxcbus_object_get_operation(LXCBUS_OBJECT(object)) : NULL;
}

static void on_operation_waited(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GVariant) reply = NULL;
        GError *error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        if (!reply)
                return g_task_return_error(task, error);
        g_task_return_boolean(task, TRUE);
}

/* Operation.Wait() rather than the Completed signal: it answers at once for an operation that finished
 * before we asked, and the daemon holds the call open, so no race between the reply that named the
 * operation and its signal. No timeout: an operation's own timeout bounds it, and Cancel ends it. */
static void wait_operation(LxcbusClient *client, const char *object_path, GTask *task) {
        g_dbus_connection_call(client->connection, LXCBUS_BUS_NAME, object_path, "org.lxcbus1.Operation",
                               "Wait", NULL, G_VARIANT_TYPE_UNIT, G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                               g_task_get_cancellable(task), on_operation_waited, task);
}

/**
 * lxcbus_client_wait_operation:
 * @client: a #LxcbusClient
 * @object_path: the object path of an operation
 * @cancellable: (nullable): a #GCancellable; cancelling stops the wait, not the operation
 * @callback: (scope async): called when the operation has finished
 * @user_data: data for @callback
 *
 * Waits until the operation at @object_path has finished. Finish with
 * lxcbus_client_wait_operation_finish().
 */
void lxcbus_client_wait_operation(LxcbusClient *client, const char *object_path, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(LXCBUS_IS_CLIENT(client));
        g_return_if_fail(g_variant_is_object_path(object_path));
        task = g_task_new(client, cancellable, callback, user_data);
        g_task_set_source_tag(task, lxcbus_client_wait_operation);
        wait_operation(client, object_path, task);
}

/**
 * lxcbus_client_wait_operation_finish:
 * @client: a #LxcbusClient
 * @res: the result given to the callback
 * @error: return location for a #GError: the operation's error if it failed or was cancelled
 *
 * Returns: %TRUE if the operation succeeded
 */
gboolean lxcbus_client_wait_operation_finish(LxcbusClient *client, GAsyncResult *res, GError **error) {
        g_return_val_if_fail(g_task_is_valid(res, client), FALSE);
        return g_task_propagate_boolean(G_TASK(res), error);
}

/**
 * lxcbus_client_wait_operation_sync:
 * @client: a #LxcbusClient
 * @object_path: the object path of an operation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError: the operation's error if it failed or was cancelled
 *
 * Like lxcbus_client_wait_operation(), blocking.
 *
 * Returns: %TRUE if the operation succeeded
 */
gboolean lxcbus_client_wait_operation_sync(LxcbusClient *client, const char *object_path,
                                           GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) reply = NULL;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), FALSE);
        g_return_val_if_fail(g_variant_is_object_path(object_path), FALSE);
        reply = g_dbus_connection_call_sync(client->connection, LXCBUS_BUS_NAME, object_path,
                                            "org.lxcbus1.Operation", "Wait", NULL, G_VARIANT_TYPE_UNIT,
                                            G_DBUS_CALL_FLAGS_NONE, G_MAXINT, cancellable, error);
        return reply != NULL;
}

/* The options of a lifecycle call: async, so that the reply names the operation at once and the wait is
 * ours (cancellable here, with the operation's error as the result); force for Stop. */
static GVariant *lifecycle_args(gboolean force) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

        g_variant_builder_add(&b, "{sv}", "async", g_variant_new_boolean(TRUE));
        if (force)
                g_variant_builder_add(&b, "{sv}", "force", g_variant_new_boolean(TRUE));
        return g_variant_new("(@a{sv})", g_variant_builder_end(&b));
}

static LxcbusInstance *lookup_instance_or_error(LxcbusClient *client, const char *name, GError **error) {
        LxcbusInstance *instance = lxcbus_client_lookup_instance(client, name);

        if (!instance)
                g_set_error(error, LXCBUS_ERROR, LXCBUS_ERROR_NO_SUCH_INSTANCE, "No instance '%s'", name);
        return instance;
}

static void on_lifecycle_reply(GObject *source, GAsyncResult *res, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GVariant) reply = NULL;
        const char *path;
        GError *error = NULL;

        reply = g_dbus_proxy_call_finish(G_DBUS_PROXY(source), res, &error);
        if (!reply) {
                g_task_return_error(task, error);
                return g_object_unref(task);
        }
        g_variant_get(reply, "(&o)", &path);
        wait_operation(g_task_get_source_object(task), path, task);
}

static void lifecycle_async(LxcbusClient *client, const char *name, const char *method, gboolean force,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
                            gpointer tag) {
        g_autoptr(LxcbusInstance) instance = NULL;
        GTask *task;
        GError *error = NULL;

        task = g_task_new(client, cancellable, callback, user_data);
        g_task_set_source_tag(task, tag);
        instance = lookup_instance_or_error(client, name, &error);
        if (!instance) {
                g_task_return_error(task, error);
                return g_object_unref(task);
        }
        g_dbus_proxy_call(G_DBUS_PROXY(instance), method, lifecycle_args(force), G_DBUS_CALL_FLAGS_NONE, -1,
                          cancellable, on_lifecycle_reply, task);
}

static gboolean lifecycle_sync(LxcbusClient *client, const char *name, const char *method, gboolean force,
                               GCancellable *cancellable, GError **error) {
        g_autoptr(LxcbusInstance) instance = NULL;
        g_autoptr(GVariant) reply = NULL;
        const char *path;

        instance = lookup_instance_or_error(client, name, error);
        if (!instance)
                return FALSE;
        reply = g_dbus_proxy_call_sync(G_DBUS_PROXY(instance), method, lifecycle_args(force),
                                       G_DBUS_CALL_FLAGS_NONE, -1, cancellable, error);
        if (!reply)
                return FALSE;
        g_variant_get(reply, "(&o)", &path);
        return lxcbus_client_wait_operation_sync(client, path, cancellable, error);
}

/**
 * lxcbus_client_start_instance:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the instance runs, or the start failed
 * @user_data: data for @callback
 *
 * Starts the instance called @name and waits for its operation. Finish with
 * lxcbus_client_start_instance_finish().
 */
void lxcbus_client_start_instance(LxcbusClient *client, const char *name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data) {
        g_return_if_fail(LXCBUS_IS_CLIENT(client));
        g_return_if_fail(name);
        lifecycle_async(client, name, "Start", FALSE, cancellable, callback, user_data,
                        lxcbus_client_start_instance);
}

/**
 * lxcbus_client_start_instance_finish:
 * @client: a #LxcbusClient
 * @res: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the instance was started (or already ran)
 */
gboolean lxcbus_client_start_instance_finish(LxcbusClient *client, GAsyncResult *res, GError **error) {
        g_return_val_if_fail(g_task_is_valid(res, client), FALSE);
        return g_task_propagate_boolean(G_TASK(res), error);
}

/**
 * lxcbus_client_start_instance_sync:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like lxcbus_client_start_instance(), blocking.
 *
 * Returns: %TRUE if the instance was started (or already ran)
 */
gboolean lxcbus_client_start_instance_sync(LxcbusClient *client, const char *name, GCancellable *cancellable,
                                           GError **error) {
        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), FALSE);
        g_return_val_if_fail(name, FALSE);
        return lifecycle_sync(client, name, "Start", FALSE, cancellable, error);
}

/**
 * lxcbus_client_stop_instance:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 * @force: stop a frozen instance too (it is killed)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the instance has stopped, or the stop failed
 * @user_data: data for @callback
 *
 * Stops the instance called @name and waits for its operation. Finish with
 * lxcbus_client_stop_instance_finish().
 */
void lxcbus_client_stop_instance(LxcbusClient *client, const char *name, gboolean force,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data) {
        g_return_if_fail(LXCBUS_IS_CLIENT(client));
        g_return_if_fail(name);
        lifecycle_async(client, name, "Stop", force, cancellable, callback, user_data,
                        lxcbus_client_stop_instance);
}

/**
 * lxcbus_client_stop_instance_finish:
 * @client: a #LxcbusClient
 * @res: the result given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the instance was stopped (or was not running)
 */
gboolean lxcbus_client_stop_instance_finish(LxcbusClient *client, GAsyncResult *res, GError **error) {
        g_return_val_if_fail(g_task_is_valid(res, client), FALSE);
        return g_task_propagate_boolean(G_TASK(res), error);
}

/**
 * lxcbus_client_stop_instance_sync:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 * @force: stop a frozen instance too (it is killed)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like lxcbus_client_stop_instance(), blocking.
 *
 * Returns: %TRUE if the instance was stopped (or was not running)
 */
gboolean lxcbus_client_stop_instance_sync(LxcbusClient *client, const char *name, gboolean force,
                                          GCancellable *cancellable, GError **error) {
        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), FALSE);
        g_return_val_if_fail(name, FALSE);
        return lifecycle_sync(client, name, "Stop", force, cancellable, error);
}

/**
 * lxcbus_client_exec_pty_sync:
 * @client: a #LxcbusClient
 * @name: the name of a running instance
 * @argv: (array zero-terminated=1): the command and its arguments
 * @out_process: (out) (optional) (transfer full): the object path of the #LxcbusProcess
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @argv in the instance on a new terminal (Instance.ExecPty()) and returns the terminal's master:
 * read the output from it, write the input to it, resize it with TIOCSWINSZ. The generated
 * lxcbus_instance_call_exec_pty_sync() returns it inside a #GUnixFDList, which bindings cannot unpack.
 *
 * Returns: the master fd, which the caller closes, or -1 with @error set
 */
int lxcbus_client_exec_pty_sync(LxcbusClient *client, const char *name, const char *const *argv,
                                char **out_process, GCancellable *cancellable, GError **error) {
        g_autoptr(LxcbusInstance) instance = NULL;
        g_autoptr(GVariant) master = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autofree char *process = NULL;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), -1);
        g_return_val_if_fail(name && argv && argv[0], -1);
        instance = lookup_instance_or_error(client, name, error);
        if (!instance)
                return -1;
        if (!lxcbus_instance_call_exec_pty_sync(instance, argv, g_variant_new("a{ss}", NULL),
                                                g_variant_new("a{sv}", NULL), G_DBUS_CALL_FLAGS_NONE, -1,
                                                NULL, &master, &process, &fds,
                                                cancellable, error))
                return -1;
        if (!fds) {
                g_set_error(error, LXCBUS_ERROR, LXCBUS_ERROR_FAILED, "ExecPty returned no fd");
                return -1;
        }
        int fd = g_unix_fd_list_get(fds, g_variant_get_handle(master), error);
        if (fd >= 0 && out_process)
                *out_process = g_steal_pointer(&process);
        return fd;
}

/**
 * lxcbus_client_set_config_sync:
 * @client: a #LxcbusClient
 * @name: the name of an instance
 * @set: (element-type utf8 utf8) (nullable): the keys to set, with their values
 * @unset: (array zero-terminated=1) (nullable): the keys to remove
 * @expected_generation: fail with %LXCBUS_ERROR_CONFLICT unless #LxcbusInstance:generation still has this
 *     value; 0 to change whatever the generation is
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Changes the configuration of the instance (Instance.SetConfig()). The generated
 * lxcbus_instance_call_set_config_sync() takes @unset as a bare `const gchar *const *` that bindings
 * read as one string.
 *
 * Returns: %TRUE if the configuration was changed
 */
gboolean lxcbus_client_set_config_sync(LxcbusClient *client, const char *name, GHashTable *set,
                                       const char *const *unset, guint64 expected_generation,
                                       GCancellable *cancellable, GError **error) {
        static const char *const none[] = { NULL };
        g_auto(GVariantBuilder) b_set = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{ss}"));
        g_auto(GVariantBuilder) b_opts = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_autoptr(LxcbusInstance) instance = NULL;
        GHashTableIter i;
        gpointer k, v;

        g_return_val_if_fail(LXCBUS_IS_CLIENT(client), FALSE);
        g_return_val_if_fail(name, FALSE);
        instance = lookup_instance_or_error(client, name, error);
        if (!instance)
                return FALSE;
        if (set) {
                g_hash_table_iter_init(&i, set);
                while (g_hash_table_iter_next(&i, &k, &v))
                        g_variant_builder_add(&b_set, "{ss}", k, v);
        }
        if (expected_generation > 0)
                g_variant_builder_add(&b_opts, "{sv}", "expected-generation",
                                      g_variant_new_uint64(expected_generation));
        return lxcbus_instance_call_set_config_sync(instance, g_variant_builder_end(&b_set), unset ?: none,
                                                    g_variant_builder_end(&b_opts), G_DBUS_CALL_FLAGS_NONE,
                                                    -1, cancellable, error);
}
