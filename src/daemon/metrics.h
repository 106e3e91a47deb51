/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "forward.h"
#include "instance.h"
#include "netinfo.h"
#include "operation.h"

/* Manager.GetMetrics: every instance's figures in the Prometheus text exposition format (version 0.0.4,
 * what node exporter's textfile collector and every scraper read), docs/api.md "Metrics". */

/* Interfaces reported per instance: its root makes as many as it likes in its own network namespace
 * (netinfo.c reads NETINFO_LINKS_MAX of them). */
#define METRICS_NETDEV_MAX 32U
/* And in all, in name order, so that the reply stays what 512 instances with 32 each made (6.2 MiB at
 * worst) with LXCBUS_INSTANCES_MAX instances (bus-limits.h). */
#define METRICS_NETDEV_TOTAL_MAX (512U * METRICS_NETDEV_MAX)

typedef struct MetricsInstance {
        const char *name;
        InstanceState state;
        bool has_figures;           /* running or frozen: cg and netdev were read */
        CgroupFigures cg;
        NetInfoLink netdev[METRICS_NETDEV_MAX];
        size_t n_netdev;
} MetricsInstance;

typedef struct MetricsDaemon {
        unsigned instances[_INSTANCE_STATE_MAX];
        unsigned operations[_OPERATION_STATUS_MAX];
} MetricsDaemon;

/* The exposition text of n instances and the daemon's counts. Pure. -ENOMEM. */
int metrics_format(const MetricsInstance *v, size_t n, const MetricsDaemon *d, char **ret);

/* Reads every instance's figures (small files of /sys/fs/cgroup and an rtnetlink dump, never a tree)
 * and formats them. */
int manager_metrics(Manager *m, char **ret);
