/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The text of Manager.GetMetrics (src/daemon/metrics.c) held to the Prometheus text exposition format: a
 * HELP and a TYPE line before each family's samples, label values escaped, names outside printable ASCII
 * percent-encoded (an interface name is the instance's root's choice), a stopped instance with its state
 * only, the figures a host does not have left out. */
#include <stdlib.h>

#include "metrics.h"
#include "tests.h"
#include "util.h"

static MetricsDaemon daemon_counts(void) {
        MetricsDaemon d = {};

        d.instances[INSTANCE_RUNNING] = 1;
        d.instances[INSTANCE_STOPPED] = 1;
        d.operations[OPERATION_RUNNING] = 2;
        return d;
}

static void two_instances(MetricsInstance v[static 2]) {
        v[0] = (MetricsInstance) { .name = "web", .state = INSTANCE_RUNNING, .has_figures = true };
        v[0].cg = CGROUP_FIGURES_NULL;
        v[0].cg.memory = 1048576;
        v[0].cg.cpu_ns = 1500000001;
        v[0].cg.cpu_user_ns = 1000000000;
        v[0].cg.cpu_system_ns = 5;
        v[0].cg.tasks = 3;
        v[0].netdev[0] = (NetInfoLink) { "lo", 1234, 1234 };
        v[0].netdev[1] = (NetInfoLink) { "eth0", UINT64_MAX, 42 };
        v[0].netdev[2] = (NetInfoLink) { "a\"b\\c%FF\xfe", 5, 6 };
        v[0].n_netdev = 3;
        /* A stopped instance: whatever its figures say, only its state is given. */
        v[1] = (MetricsInstance) { .name = "db", .state = INSTANCE_STOPPED, .has_figures = false };
        v[1].cg.memory = 77;
}

/* Every line is a comment or a sample; the samples of a family follow its HELP and TYPE lines. */
static void check_shape(const char *text) {
        _cleanup_free_ char *family = NULL;

        ASSERT_TRUE(strlen(text) > 0);
        ASSERT_EQ(text[strlen(text) - 1], '\n');
        for (const char *l = text; *l;) {
                const char *eol = strchr(l, '\n');
                size_t len = (size_t) (eol - l);

                ASSERT_NOT_NULL(eol);
                if (strncmp(l, "# HELP ", 7) == 0) {
                        free(family);
                        family = strndup(l + 7, strcspn(l + 7, " "));
                        ASSERT_NOT_NULL(family);
                } else if (strncmp(l, "# TYPE ", 7) == 0) {
                        ASSERT_NOT_NULL(family);
                        ASSERT_TRUE(strncmp(l + 7, family, strlen(family)) == 0);
                        ASSERT_TRUE(memmem(l, len, " gauge", 6) || memmem(l, len, " counter", 8));
                } else {
                        ASSERT_NOT_NULL(family);
                        ASSERT_TRUE(strncmp(l, family, strlen(family)) == 0);
                        ASSERT_TRUE(l[strlen(family)] == '{');
                }
                for (size_t k = 0; k < len; k++)
                        ASSERT_TRUE((unsigned char) l[k] >= 0x20 && (unsigned char) l[k] < 0x7f);
                l = eol + 1;
        }
}

TEST(format) {
        _cleanup_free_ char *text = NULL;
        MetricsInstance v[2];
        MetricsDaemon d = daemon_counts();

        two_instances(v);
        ASSERT_OK(metrics_format(v, 2, &d, &text));
        check_shape(text);

        ASSERT_CONTAINS(text, "# HELP lxcbus_memory_usage_bytes ");
        ASSERT_CONTAINS(text, "\n# TYPE lxcbus_memory_usage_bytes gauge\nlxcbus_memory_usage_bytes{name=\"web\"} 1048576\n");
        ASSERT_CONTAINS(text, "# TYPE lxcbus_cpu_seconds_total counter\n");
        ASSERT_CONTAINS(text, "lxcbus_cpu_usage_seconds_total{name=\"web\"} 1.500000001\n");
        ASSERT_CONTAINS(text, "lxcbus_cpu_seconds_total{name=\"web\",mode=\"user\"} 1.000000000\n");
        ASSERT_CONTAINS(text, "lxcbus_cpu_seconds_total{name=\"web\",mode=\"system\"} 0.000000005\n");
        ASSERT_CONTAINS(text, "lxcbus_tasks{name=\"web\"} 3\n");
        ASSERT_CONTAINS(text, "lxcbus_network_receive_bytes_total{name=\"web\",device=\"eth0\"} 18446744073709551615\n");
        ASSERT_CONTAINS(text, "lxcbus_network_transmit_bytes_total{name=\"web\",device=\"lo\"} 1234\n");
        /* '"' and '\' escaped as the format says; netinfo.c's %XX as it is, a raw byte outside ASCII so too. */
        ASSERT_CONTAINS(text, "lxcbus_network_receive_bytes_total{name=\"web\",device=\"a\\\"b\\\\c%FF%FE\"} 5\n");
        ASSERT_CONTAINS(text, "lxcbus_instance_state{name=\"web\",state=\"running\"} 1\n");
        ASSERT_CONTAINS(text, "lxcbus_instance_state{name=\"db\",state=\"stopped\"} 1\n");
        ASSERT_CONTAINS(text, "lxcbus_instances{state=\"frozen\"} 0\n");
        ASSERT_CONTAINS(text, "lxcbus_operations{status=\"running\"} 2\n");
        /* The stopped one has its state only; an unknown figure (no limit, no swap) is left out. */
        ASSERT_NULL(strstr(text, "name=\"db\"}"));
        ASSERT_NULL(strstr(text, "lxcbus_memory_limit_bytes{"));
        ASSERT_NULL(strstr(text, "lxcbus_memory_swap_bytes{"));
        ASSERT_CONTAINS(text, "# TYPE lxcbus_memory_limit_bytes gauge\n");
}

TEST(format_escapes_every_label_value) {
        _cleanup_free_ char *text = NULL;
        MetricsInstance v = { .name = "x\n\"\\\x01\x7f", .state = INSTANCE_RUNNING, .has_figures = true };
        MetricsDaemon d = {};

        v.cg = CGROUP_FIGURES_NULL;
        v.cg.tasks = 1;
        ASSERT_OK(metrics_format(&v, 1, &d, &text));
        check_shape(text);
        ASSERT_CONTAINS(text, "lxcbus_tasks{name=\"x\\n\\\"\\\\%01%7F\"} 1\n");
}

TEST(format_no_instances) {
        _cleanup_free_ char *text = NULL;
        MetricsDaemon d = {};

        ASSERT_OK(metrics_format(NULL, 0, &d, &text));
        check_shape(text);
        ASSERT_CONTAINS(text, "lxcbus_instances{state=\"running\"} 0\n");
        ASSERT_NULL(strstr(text, "name=\""));
}
