/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#include "config.h"

/* Every bound on what a caller can make lxcbusd hold or send, in one place.
 *
 * dbus-daemon disconnects a peer that sends a message over its max_message_size (32 MiB on the system
 * bus by default) or with more than max_message_unix_fds (16 on the system bus); a daemon off the bus
 * is a daemon nobody can use. So the size of every message lxcbusd sends because of a request is
 * bounded by these numbers, with wide margins:
 *
 *   - any reply: a call carries at most LXCBUS_REQUEST_MAX bytes of arguments and an object path of at
 *     most LXCBUS_OBJECT_PATH_MAX bytes, so an error that quotes what the caller sent stays small;
 *   - the polkit CheckAuthorization of Exec: the command line is argv shell-quoted, at most
 *     4 * LXCBUS_EXEC_STRINGS_MAX + 3 * LXCBUS_EXEC_ARGV_MAX bytes, and the environment details no
 *     more again: < 300 KiB;
 *   - the one-packet request to a worker (WORKER_MSG_MAX, 64 KiB): exec carries at most two paths
 *     (PATH_MAX each), the instance's environment (part of its config, LXCBUS_CONFIG_TOTAL_MAX) and the
 *     call's argv and env (LXCBUS_EXEC_STRINGS_MAX); create carries two paths, the metadata JSON (its
 *     config as stored is LXCBUS_CONFIG_TOTAL_MAX at most) and the template arguments
 *     (LXCBUS_TEMPLATE_ARGS_TOTAL_MAX);
 *   - GetManagedObjects: at most LXCBUS_INSTANCES_MAX instances, whose configs and snapshots together
 *     are at most LXCBUS_INSTANCES_DATA_MAX, OPERATIONS_MAX running and OPERATIONS_FINISHED_MAX finished
 *     operations, each with a full command line and LXCBUS_OPERATION_TEXT_MAX of stage and error text;
 *   - GetMetrics: LXCBUS_INSTANCES_MAX instances with METRICS_NETDEV_TOTAL_MAX interfaces in all, at most
 *     METRICS_NETDEV_MAX each (metrics.h).
 *
 * tests/unit/test-bus-limits.c builds the worst case of each of these messages and measures it (20.0 MiB
 * for GetManagedObjects, 280 KiB for the polkit query of an Exec). No message lxcbusd sends carries more
 * than one fd. Going over a bound is refused before polkit is asked, with org.lxcbus1.Error.LimitsExceeded
 * (or InvalidConfig for a config, InvalidArgs for a count) naming the limit. */

#define LXCBUS_BUS_MESSAGE_MAX (32U * 1024 * 1024)     /* dbus-daemon's max_message_size, system bus */

/* Any method call to lxcbusd: the bytes of all its arguments (a string or object path counts its
 * length + 5, a signature its length + 2, a fixed value its size, an array 4 more), and its path. */
#define LXCBUS_REQUEST_MAX (256U * 1024)
#define LXCBUS_OBJECT_PATH_MAX 1024U

/* Exec and ExecPty. The strings of argv and env (each counts its length + 1; an env entry as
 * NAME=VALUE) together. The option cwd, like any string option, is at most BUS_OPTIONS_VALUE_MAX
 * (4096) bytes. */
#define LXCBUS_EXEC_ARGV_MAX 1024U
#define LXCBUS_EXEC_ENV_MAX 256U
#define LXCBUS_EXEC_STRINGS_MAX (32U * 1024)

/* An instance's config as stored: keys and values together, each byte counting what it takes in the
 * metadata's JSON (a quote or backslash 2, another control character 6). Also bounds the keys of one
 * SetConfig's unset list. With CONFIG_KEYS_MAX, CONFIG_KEY_MAX and CONFIG_VALUE_MAX of config.h. */
#define LXCBUS_CONFIG_TOTAL_MAX (16U * 1024)

/* CreateInstance's template arguments (root only): how many, and their bytes (each length + 1). */
#define LXCBUS_TEMPLATE_ARGS_MAX 64U
#define LXCBUS_TEMPLATE_ARGS_TOTAL_MAX (8U * 1024)

/* Instances the daemon holds (creates under way included); --max-instances may lower it. 4096: four times
 * the 1000 of issue 15's scale figures. What grows with the count alone, at its worst (the longest name,
 * escaped, and unit name), is about 1.4 KiB per instance in GetManagedObjects and 0.4 KiB in GetMetrics.
 * What an instance's config and snapshots add (up to 24 KiB) is bounded for all instances together
 * instead, by LXCBUS_INSTANCES_DATA_MAX: 4096 full ones would be 96 MiB. */
#define LXCBUS_INSTANCES_MAX 4096U

/* The configs and snapshot lists of all instances together, as instance_data_size() counts them: a config
 * its stored size, a snapshot LXCBUS_SNAPSHOT_DATA bytes. A create, copy or import under way counts as
 * LXCBUS_INSTANCE_DATA_MAX until it is done, so one is refused when there is no room for a full instance;
 * SetConfig and Snapshot are refused when they would grow the total past it. 4 MiB: a full config and 64
 * snapshots for 170 instances, a config of 1 KiB for all 4096. A state dir over it (from before this bound)
 * loads, and can only shrink. */
#define LXCBUS_SNAPSHOT_DATA 128U
#define LXCBUS_INSTANCE_DATA_MAX (LXCBUS_CONFIG_TOTAL_MAX + LXCBUS_SNAPSHOTS_MAX * LXCBUS_SNAPSHOT_DATA)
#define LXCBUS_INSTANCES_DATA_MAX (4U * 1024 * 1024)

/* Snapshots of one instance (its Snapshots property and lxcbus.json's "snapshots"): each is a whole copy
 * of the rootfs on disk, and the list is in every GetManagedObjects (~80 bytes each; all instances' lists
 * together are bounded by LXCBUS_INSTANCES_DATA_MAX). */
#define LXCBUS_SNAPSHOTS_MAX 64U

/* An operation's Stage and ErrorMessage are cut to this many bytes (a worker's or systemd's text). */
#define LXCBUS_OPERATION_TEXT_MAX 1024U

/* The bytes a config takes in the metadata JSON, keys and values (see LXCBUS_CONFIG_TOTAL_MAX). */
size_t config_map_stored_size(const ConfigMap *c);
size_t config_string_stored_size(const char *s);

/* The arguments of a message as counted for LXCBUS_REQUEST_MAX, stopping early once over max: returns
 * the count (> max: too large), or -errno if the message cannot be read. Rewinds the message. */
int bus_message_arguments_size(sd_bus_message *m, size_t max, size_t *ret);

/* Cuts s to at most max bytes, at a UTF-8 character boundary. */
void utf8_truncate(char *s, size_t max);
