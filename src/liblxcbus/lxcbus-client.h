/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "lxcbus-generated.h"

G_BEGIN_DECLS

/**
 * LXCBUS_ERROR:
 *
 * The error domain of the `org.lxcbus1.Error.*` errors of the daemon; see #LxcbusError.
 */
#define LXCBUS_ERROR (lxcbus_error_quark())

/**
 * LxcbusError:
 * @LXCBUS_ERROR_FAILED: org.lxcbus1.Error.Failed
 * @LXCBUS_ERROR_BUSY: org.lxcbus1.Error.Busy
 * @LXCBUS_ERROR_CANCELLED: org.lxcbus1.Error.Cancelled
 * @LXCBUS_ERROR_CONFLICT: org.lxcbus1.Error.Conflict
 * @LXCBUS_ERROR_INSTANCE_EXISTS: org.lxcbus1.Error.InstanceExists
 * @LXCBUS_ERROR_INVALID_CONFIG: org.lxcbus1.Error.InvalidConfig
 * @LXCBUS_ERROR_INVALID_NAME: org.lxcbus1.Error.InvalidName
 * @LXCBUS_ERROR_INVALID_STATE: org.lxcbus1.Error.InvalidState
 * @LXCBUS_ERROR_LIMITS_EXCEEDED: org.lxcbus1.Error.LimitsExceeded
 * @LXCBUS_ERROR_NO_SUCH_INSTANCE: org.lxcbus1.Error.NoSuchInstance
 * @LXCBUS_ERROR_NOT_SUPPORTED: org.lxcbus1.Error.NotSupported
 * @LXCBUS_ERROR_TIMEOUT: org.lxcbus1.Error.Timeout
 *
 * The daemon's errors, mapped from their D-Bus names (docs/api.md, "Errors").
 */
typedef enum {
        LXCBUS_ERROR_FAILED,
        LXCBUS_ERROR_BUSY,
        LXCBUS_ERROR_CANCELLED,
        LXCBUS_ERROR_CONFLICT,
        LXCBUS_ERROR_INSTANCE_EXISTS,
        LXCBUS_ERROR_INVALID_CONFIG,
        LXCBUS_ERROR_INVALID_NAME,
        LXCBUS_ERROR_INVALID_STATE,
        LXCBUS_ERROR_LIMITS_EXCEEDED,
        LXCBUS_ERROR_NO_SUCH_INSTANCE,
        LXCBUS_ERROR_NOT_SUPPORTED,
        LXCBUS_ERROR_TIMEOUT,
} LxcbusError;

GQuark lxcbus_error_quark(void);

#define LXCBUS_TYPE_CLIENT (lxcbus_client_get_type())
G_DECLARE_FINAL_TYPE(LxcbusClient, lxcbus_client, LXCBUS, CLIENT, GObject)

void lxcbus_client_new(GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
LxcbusClient *lxcbus_client_new_finish(GAsyncResult *res, GError **error);
LxcbusClient *lxcbus_client_new_sync(GCancellable *cancellable, GError **error);
LxcbusClient *lxcbus_client_new_for_connection_sync(GDBusConnection *connection,
                                                    GCancellable *cancellable, GError **error);

GDBusConnection *lxcbus_client_get_connection(LxcbusClient *client);
GDBusObjectManager *lxcbus_client_get_object_manager(LxcbusClient *client);
LxcbusManager *lxcbus_client_get_manager(LxcbusClient *client);
GList *lxcbus_client_get_instances(LxcbusClient *client);
LxcbusInstance *lxcbus_client_lookup_instance(LxcbusClient *client, const char *name);
LxcbusOperation *lxcbus_client_lookup_operation(LxcbusClient *client, const char *object_path);

void lxcbus_client_wait_operation(LxcbusClient *client, const char *object_path, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean lxcbus_client_wait_operation_finish(LxcbusClient *client, GAsyncResult *res, GError **error);
gboolean lxcbus_client_wait_operation_sync(LxcbusClient *client, const char *object_path,
                                           GCancellable *cancellable, GError **error);

void lxcbus_client_start_instance(LxcbusClient *client, const char *name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean lxcbus_client_start_instance_finish(LxcbusClient *client, GAsyncResult *res, GError **error);
gboolean lxcbus_client_start_instance_sync(LxcbusClient *client, const char *name,
                                           GCancellable *cancellable, GError **error);
void lxcbus_client_stop_instance(LxcbusClient *client, const char *name, gboolean force,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean lxcbus_client_stop_instance_finish(LxcbusClient *client, GAsyncResult *res, GError **error);
gboolean lxcbus_client_stop_instance_sync(LxcbusClient *client, const char *name, gboolean force,
                                          GCancellable *cancellable, GError **error);

int lxcbus_client_exec_pty_sync(LxcbusClient *client, const char *name, const char *const *argv,
                                char **out_process, GCancellable *cancellable, GError **error);

gboolean lxcbus_client_set_config_sync(LxcbusClient *client, const char *name, GHashTable *set,
                                       const char *const *unset, guint64 expected_generation,
                                       GCancellable *cancellable, GError **error);

G_END_DECLS
