/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Domain errors of org.lxcbus1, defined once. Each maps to an errno so that both the daemon and
 * lxcbusctl can turn them into exit codes and back (sd_bus_error_add_map()). */
#define LXCBUS_ERROR_NO_SUCH_INSTANCE "org.lxcbus1.Error.NoSuchInstance"
#define LXCBUS_ERROR_INSTANCE_EXISTS  "org.lxcbus1.Error.InstanceExists"
#define LXCBUS_ERROR_INVALID_NAME     "org.lxcbus1.Error.InvalidName"
#define LXCBUS_ERROR_INVALID_CONFIG   "org.lxcbus1.Error.InvalidConfig"
#define LXCBUS_ERROR_INVALID_STATE    "org.lxcbus1.Error.InvalidState"
#define LXCBUS_ERROR_BUSY             "org.lxcbus1.Error.Busy"
#define LXCBUS_ERROR_CONFLICT         "org.lxcbus1.Error.Conflict"
#define LXCBUS_ERROR_LIMITS_EXCEEDED  "org.lxcbus1.Error.LimitsExceeded"
#define LXCBUS_ERROR_CANCELLED        "org.lxcbus1.Error.Cancelled"
#define LXCBUS_ERROR_TIMEOUT          "org.lxcbus1.Error.Timeout"
#define LXCBUS_ERROR_NOT_SUPPORTED    "org.lxcbus1.Error.NotSupported"
#define LXCBUS_ERROR_FAILED           "org.lxcbus1.Error.Failed"

extern const sd_bus_error_map lxcbus_bus_error_map[];

/* Registers the map with sd-bus, once per process. */
int lxcbus_bus_errors_register(void);
