/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.GetMetrics: the figures of every instance in the Prometheus text exposition format 0.0.4, with
 * names after LXD's /1.0/metrics (lxd_memory_..., lxd_cpu_seconds_total, lxd_network_..._bytes_total)
 * under lxcbus_. Reading runs on the event loop: each figure is one small in-memory file of
 * /sys/fs/cgroup (cgroup.c, the reader of GetState) or one rtnetlink dump (netinfo.c, GetState's too),
 * never a walk of a tree,
 * so the rootfs disk usage is not reported (a du of the rootfs would be; docs/api.md). The formatting is
 * a pure function, held to the format by tests/unit/test-metrics.c. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "operation.h"
#include "util.h"

/* A label value: '\', '"' and newline escaped as the format says. An interface name, which the instance's
 * root chooses, may hold '"' and '\'; netinfo.c wrote any byte outside printable ASCII as %XX already (the
 * text must be UTF-8: a D-Bus string that is not fails the whole reply), and one that still came here is
 * written so too. */
static void put_label_value(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '\\' || *p == '"')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p >= 0x7f)
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{name="<instance>"[,<key>="<value>"]} */
static void put_sample_head(FILE *f, const char *metric, const char *instance, const char *key,
                            const char *value) {
        fprintf(f, "%s{name=\"", metric);
        put_label_value(f, instance);
        if (key) {
                fprintf(f, "\",%s=\"", key);
                put_label_value(f, value);
        }
        fputs("\"} ", f);
}

static void put_seconds(FILE *f, uint64_t ns) {
        fprintf(f, "%" PRIu64 ".%09" PRIu64 "\n", ns / UINT64_C(1000000000), ns % UINT64_C(1000000000));
}

/* The figures that are one number of CgroupFigures each. */
static const struct {
        const char *name, *type, *help;
        size_t offset;
} cgroup_families[] = {
        { "lxcbus_memory_usage_bytes", "gauge", "Memory used by the instance's processes (its scope's cgroup).",
          offsetof(CgroupFigures, memory) },
        { "lxcbus_memory_limit_bytes", "gauge", "The instance's memory limit (limits.memory), where one is set.",
          offsetof(CgroupFigures, memory_max) },
        { "lxcbus_memory_swap_bytes", "gauge", "Swap used by the instance's processes, where it is accounted.",
          offsetof(CgroupFigures, swap) },
        { "lxcbus_tasks", "gauge", "Tasks (processes and threads) of the instance (pids.current).",
          offsetof(CgroupFigures, tasks) },
};

static uint64_t figure_at(const MetricsInstance *i, size_t offset) {
        return *(const uint64_t *) ((const uint8_t *) &i->cg + offset);
}

static void put_cgroup_figures(FILE *f, const MetricsInstance *v, size_t n) {
        for (size_t k = 0; k < ELEMENTSOF(cgroup_families); k++) {
                put_family(f, cgroup_families[k].name, cgroup_families[k].type, cgroup_families[k].help);
                for (size_t j = 0; j < n; j++) {
                        uint64_t x = figure_at(&v[j], cgroup_families[k].offset);

                        if (!v[j].has_figures || x == UINT64_MAX)
                                continue;
                        put_sample_head(f, cgroup_families[k].name, v[j].name, NULL, NULL);
                        fprintf(f, "%" PRIu64 "\n", x);
                }
        }
}

static void put_cpu(FILE *f, const MetricsInstance *v, size_t n) {
        put_family(f, "lxcbus_cpu_usage_seconds_total", "counter",
                   "CPU time used by the instance, in seconds.");
        for (size_t j = 0; j < n; j++)
                if (v[j].has_figures && v[j].cg.cpu_ns != UINT64_MAX) {
                        put_sample_head(f, "lxcbus_cpu_usage_seconds_total", v[j].name, NULL, NULL);
                        put_seconds(f, v[j].cg.cpu_ns);
                }
        put_family(f, "lxcbus_cpu_seconds_total", "counter",
                   "CPU time used by the instance in user and in system mode, in seconds.");
        for (size_t j = 0; j < n; j++)
                if (v[j].has_figures && v[j].cg.cpu_user_ns != UINT64_MAX) {
                        put_sample_head(f, "lxcbus_cpu_seconds_total", v[j].name, "mode", "user");
                        put_seconds(f, v[j].cg.cpu_user_ns);
                        put_sample_head(f, "lxcbus_cpu_seconds_total", v[j].name, "mode", "system");
                        put_seconds(f, v[j].cg.cpu_system_ns);
                }
}

static void put_network(FILE *f, const MetricsInstance *v, size_t n) {
        for (int tx = 0; tx <= 1; tx++) {
                const char *metric = tx ? "lxcbus_network_transmit_bytes_total" :
                                          "lxcbus_network_receive_bytes_total";

                put_family(f, metric, "counter",
                           tx ? "Bytes sent by an interface of the instance's network namespace." :
                                "Bytes received by an interface of the instance's network namespace.");
                for (size_t j = 0; j < n; j++)
                        for (size_t d = 0; v[j].has_figures && d < v[j].n_netdev; d++) {
                                const NetInfoLink *dev = &v[j].netdev[d];

                                put_sample_head(f, metric, v[j].name, "device", dev->ifname);
                                fprintf(f, "%" PRIu64 "\n", tx ? dev->tx_bytes : dev->rx_bytes);
                        }
        }
}

static void put_daemon(FILE *f, const MetricsInstance *v, size_t n, const MetricsDaemon *d) {
        put_family(f, "lxcbus_instance_state", "gauge", "1 for each instance, labelled with its state.");
        for (size_t j = 0; j < n; j++) {
                put_sample_head(f, "lxcbus_instance_state", v[j].name, "state",
                                instance_state_to_string(v[j].state));
                fputs("1\n", f);
        }
        put_family(f, "lxcbus_instances", "gauge", "Instances in each state.");
        for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++)
                fprintf(f, "lxcbus_instances{state=\"%s\"} %u\n", instance_state_to_string(s),
                        d->instances[s]);
        put_family(f, "lxcbus_operations", "gauge",
                   "Operations the daemon holds, by status (finished ones linger).");
        for (OperationStatus s = 0; s < _OPERATION_STATUS_MAX; s++)
                fprintf(f, "lxcbus_operations{status=\"%s\"} %u\n", operation_status_to_string(s),
                        d->operations[s]);
}

int metrics_format(const MetricsInstance *v, size_t n, const MetricsDaemon *d, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        assert(v || n == 0);
        assert(d);
        assert(ret);

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        put_daemon(f, v, n, d);
        put_cgroup_figures(f, v, n);
        put_cpu(f, v, n);
        put_network(f, v, n);
        /* A write that failed for want of memory shows here, and in fclose(). */
        if (ferror(f) | (fclose(f) != 0))
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The interfaces of init's network namespace and their counters, by rtnetlink from the host as GetState
 * reads them (netinfo.c: the pid checked against the pidfd, nothing the instance wrote believed); none when
 * init shares the daemon's namespace (network.mode none has lo only in its own). At most
 * METRICS_NETDEV_MAX of them, and room of what is left of METRICS_NETDEV_TOTAL_MAX. */
static void read_netdev(Instance *i, NetInfo *scratch, size_t room, MetricsInstance *ret) {
        if (room == 0 || i->pid <= 0 || i->init_pidfd < 0 || netinfo_read(i->pid, i->init_pidfd, scratch) < 0)
                return;
        ret->n_netdev = MIN(MIN(scratch->n_links, (size_t) METRICS_NETDEV_MAX), room);
        memcpy(ret->netdev, scratch->links, ret->n_netdev * sizeof(NetInfoLink));
}

int manager_metrics(Manager *m, char **ret) {
        _cleanup_free_ MetricsInstance *v = NULL;
        _cleanup_free_ NetInfo *scratch = NULL;
        MetricsDaemon d = {};
        size_t n = 0, netdevs = 0;

        assert(m);
        assert(ret);

        v = new0(MetricsInstance, MAX(m->n_instances, 1u));
        scratch = new0(NetInfo, 1);
        if (!v || !scratch)
                return -ENOMEM;
        for (Instance *i = m->instances; i && n < m->n_instances; i = i->next, n++) {
                MetricsInstance *x = &v[n];

                x->name = i->name;
                x->state = i->state;
                if (i->state >= 0 && i->state < _INSTANCE_STATE_MAX)
                        d.instances[i->state]++;
                x->has_figures = i->has_unit && IN_SET(i->state, INSTANCE_RUNNING, INSTANCE_FROZEN);
                if (!x->has_figures)
                        continue;
                (void) scope_read_all_figures(i->unit_name, &x->cg);
                read_netdev(i, scratch, METRICS_NETDEV_TOTAL_MAX - netdevs, x);
                netdevs += x->n_netdev;
        }
        for (Operation *o = m->operations; o; o = o->next)
                if (o->status >= 0 && o->status < _OPERATION_STATUS_MAX)
                        d.operations[o->status]++;
        return metrics_format(v, n, &d, ret);
}
