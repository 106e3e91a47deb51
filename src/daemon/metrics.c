/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.GetMetrics: the figures of every instance in the Prometheus text exposition format 0.0.4, with
 * names after LXD's /1.0/metrics (lxd_memory_..., lxd_cpu_seconds_total, lxd_network_..._bytes_total)
 * under lxcbus_. Reading runs on the event loop: each figure is one small in-memory file of
 * /sys/fs/cgroup (cgroup.c, the reader of GetState) or /proc/<init>/net/dev, never a walk of a tree,
 * so the rootfs disk usage is not reported (a du of the rootfs would be; docs/api.md). The formatting is
 * a pure function, held to the format by tests/unit/test-metrics.c. */
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "operation.h"
#include "util.h"

size_t metrics_parse_netdev(const char *text, MetricsNetdev *ret, size_t max) {
        size_t n = 0;

        assert(text);
        assert(ret || max == 0);

        /* "  eth0: rx_bytes rx_packets ... (8 rx fields) tx_bytes ...": two header lines have no ':'
         * after a name; a name holds neither ':' nor blanks (dev_valid_name()). */
        for (const char *l = text; *l && n < max;) {
                const char *eol = strchr(l, '\n'), *colon, *name;
                unsigned long long f[9];
                size_t len;

                if (!eol)
                        break;  /* cut by the bound of the read */
                name = l + strspn(l, " ");
                colon = memchr(name, ':', (size_t) (eol - name));
                len = colon ? (size_t) (colon - name) : 0;
                if (len > 0 && len < IFNAMSIZ && !memchr(name, ' ', len) &&
                    sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2],
                           &f[3],
                           &f[4], &f[5], &f[6], &f[7], &f[8]) == 9) {
                        memcpy(ret[n].name, name, len);
                        ret[n].name[len] = 0;
                        ret[n].rx_bytes = f[0];
                        ret[n].tx_bytes = f[8];
                        n++;
                }
                l = eol + 1;
        }
        return n;
}

/* A label value: '\', '"' and newline escaped as the format says. An interface name, which the instance's
 * root chooses, may hold '"', '\' and bytes outside ASCII; a byte outside printable ASCII, and '%', is
 * written %XX, so the text stays UTF-8 (a D-Bus string must be: else the whole reply fails) and tells
 * names apart. */
static void put_label_value(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '\\' || *p == '"')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p >= 0x7f || *p == '%')
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
                                const MetricsNetdev *dev = &v[j].netdev[d];

                                put_sample_head(f, metric, v[j].name, "device", dev->name);
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

/* The interfaces of init's network namespace, read from /proc/<pid>/net/dev: a small in-memory file.
 * None when init shares the daemon's namespace (lxc.net.0.type = none: those are the host's). The pid is
 * checked against the instance's pidfd after the open, so a reused pid is never read. */
static void read_netdev(Instance *i, const struct stat *mine, MetricsInstance *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[METRICS_NETDEV_READ_MAX + 1];
        struct stat theirs;
        size_t n = 0;

        if (i->pid <= 0 || i->init_pidfd < 0)
                return;
        snprintf(path, sizeof path, "/proc/%i/ns/net", (int) i->pid);
        if (stat(path, &theirs) < 0 || (theirs.st_dev == mine->st_dev && theirs.st_ino == mine->st_ino))
                return;
        snprintf(path, sizeof path, "/proc/%i/net/dev", (int) i->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || pidfd_send_signal(i->init_pidfd, 0, NULL, 0) < 0)
                return;
        /* Up to the bound: the lines past it, and a cut last one, are left out. */
        while (n < METRICS_NETDEV_READ_MAX) {
                ssize_t k = read(fd, buf + n, METRICS_NETDEV_READ_MAX - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        ret->n_netdev = metrics_parse_netdev(buf, ret->netdev, METRICS_NETDEV_MAX);
}

int manager_metrics(Manager *m, char **ret) {
        _cleanup_free_ MetricsInstance *v = NULL;
        MetricsDaemon d = {};
        struct stat mine;
        size_t n = 0;

        assert(m);
        assert(ret);

        if (stat("/proc/self/ns/net", &mine) < 0)
                return -errno;

        v = new0(MetricsInstance, MAX(m->n_instances, 1u));
        if (!v)
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
                read_netdev(i, &mine, x);
        }
        for (Operation *o = m->operations; o; o = o->next)
                if (o->status >= 0 && o->status < _OPERATION_STATUS_MAX)
                        d.operations[o->status]++;
        return metrics_format(v, n, &d, ret);
}
