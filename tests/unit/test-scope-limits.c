/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* scope-limits.c: which limits a hierarchy applies and how (unit properties, the payload's v1 cgroup),
 * and which it refuses, on fake cgroup trees of each kind. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "scope-limits.h"
#include "tests.h"

static void touch(const char *root, const char *path, const char *content) {
        char p[4096];
        FILE *f;

        snprintf(p, sizeof p, "%s/%s", root, path);
        if (strchr(path, '/')) {
                char d[4096];
                snprintf(d, sizeof d, "%s/%.*s", root, (int) (strchr(path, '/') - path), path);
                (void) mkdir(d, 0755);
        }
        f = fopen(p, "we");
        ASSERT_NOT_NULL(f);
        fputs(content, f);
        fclose(f);
}

static void config_of(ConfigMap *m, const char *const *pairs) {
        for (; *pairs; pairs += 2)
                ASSERT_OK(config_map_set(m, pairs[0], pairs[1]));
}

TEST(probe) {
        _cleanup_free_ char *hybrid = tests_make_tmpdir("hybrid"), *v2 = tests_make_tmpdir("unified");
        LimitsSupport s;

        /* This machine's kind: v1 memory with memsw, v1 cpuset, blkio without a weight. */
        touch(hybrid, "memory/memory.memsw.limit_in_bytes", "");
        touch(hybrid, "cpuset/cpuset.cpus", "0-1\n");
        touch(hybrid, "blkio/blkio.throttle.read_bps_device", "");
        touch(hybrid, "unified/cgroup.controllers", "hugetlb\n");
        limits_support_probe(hybrid, &s);
        ASSERT_TRUE(!s.unified && s.swap_v1 && s.cpuset_v1 && !s.swap_v2 && !s.cpuset_v2 && !s.io);
        touch(hybrid, "blkio/blkio.bfq.weight", "");
        limits_support_probe(hybrid, &s);
        ASSERT_TRUE(s.io);

        touch(v2, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        limits_support_probe(v2, &s);
        ASSERT_TRUE(s.unified && s.swap_v2 && s.cpuset_v2 && s.io && !s.swap_v1 && !s.cpuset_v1);
        /* "cpu" is not "cpuset", nor "iox" "io". */
        touch(v2, "cgroup.controllers", "cpu iox memoryx\n");
        limits_support_probe(v2, &s);
        ASSERT_TRUE(s.unified && !s.swap_v2 && !s.cpuset_v2 && !s.io);

        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s' '%s'", hybrid, v2);
        ASSERT_OK(system(cmd));
}

static const LimitsSupport hybrid = { .swap_v1 = true, .cpuset_v1 = true };
static const LimitsSupport unified = { .unified = true, .swap_v2 = true, .cpuset_v2 = true, .io = true };

static void assert_refused(const char *const *pairs, const LimitsSupport *s, int error, const char *key) {
        _cleanup_(config_map_done) ConfigMap c = {};
        _cleanup_free_ char *msg = NULL;

        config_of(&c, pairs);
        ASSERT_ERROR(limits_check(&c, s, "0-1", &msg), error);
        ASSERT_NOT_NULL(msg);
        printf("  %s\n", msg);
        ASSERT_CONTAINS(msg, key);
}

static void assert_accepted(const char *const *pairs, const LimitsSupport *s) {
        _cleanup_(config_map_done) ConfigMap c = {};

        config_of(&c, pairs);
        ASSERT_OK(limits_check(&c, s, "0-1", NULL));
}

#define PAIRS(...) ((const char *const[]) { __VA_ARGS__, NULL })

TEST(check) {
        /* No blkio weight here: refused, naming the key. */
        assert_refused(PAIRS("limits.io.weight", "100"), &hybrid, EOPNOTSUPP, "limits.io.weight");
        assert_accepted(PAIRS("limits.io.weight", "100"), &unified);
        /* v1 limits memory and swap together. */
        assert_refused(PAIRS("limits.memory.swap", "64M"), &hybrid, EOPNOTSUPP, "limits.memory.swap");
        assert_refused(PAIRS("limits.memory.swap", "64M", "limits.memory", "max"), &hybrid, EOPNOTSUPP,
                       "limits.memory.swap");
        assert_accepted(PAIRS("limits.memory.swap", "64M", "limits.memory", "32M"), &hybrid);
        assert_accepted(PAIRS("limits.memory.swap", "max"), &hybrid);
        assert_accepted(PAIRS("limits.memory.swap", "64M"), &unified);
        assert_refused(PAIRS("limits.memory.swap", "64M", "limits.memory", "32M"), &(LimitsSupport) {}, EOPNOTSUPP,
                       "limits.memory.swap");
        /* CPUs the host has. */
        assert_accepted(PAIRS("limits.cpu.allowed", "1"), &hybrid);
        assert_accepted(PAIRS("limits.cpu.allowed", "0-1"), &unified);
        assert_refused(PAIRS("limits.cpu.allowed", "0-2"), &hybrid, EINVAL, "limits.cpu.allowed");
        assert_refused(PAIRS("limits.cpu.allowed", "0"), &(LimitsSupport) {}, EOPNOTSUPP, "limits.cpu.allowed");
        assert_accepted(PAIRS("limits.cpu.quota", "250", "limits.memory", "1G", "limits.tasks", "10"),
                        &(LimitsSupport) {});
}

TEST(payload) {
        _cleanup_(config_map_done) ConfigMap c = {};
        LimitsPayload p;

        config_of(&c, PAIRS("limits.memory", "32M", "limits.memory.swap", "16M", "limits.cpu.allowed", "1"));
        limits_payload(&c, &hybrid, &p);
        ASSERT_STREQ(p.cpus, "1");
        ASSERT_EQ_U(p.memory, 32u << 20);
        ASSERT_EQ_U(p.memsw, 48u << 20);
        /* cgroup2 takes all of it as unit properties. */
        limits_payload(&c, &unified, &p);
        ASSERT_NULL(p.cpus);
        ASSERT_EQ_U(p.memory, 0);
        ASSERT_EQ_U(p.memsw, 0);

        ASSERT_OK(config_map_set(&c, "limits.memory.swap", "max"));
        limits_payload(&c, &hybrid, &p);
        ASSERT_EQ_U(p.memory, 32u << 20);
        ASSERT_EQ_U(p.memsw, UINT64_MAX);
        /* memory + swap beyond what a cgroup counts is no limit. */
        ASSERT_OK(config_map_set(&c, "limits.memory.swap", "4194303T"));
        ASSERT_OK(config_map_set(&c, "limits.memory", "2T"));
        limits_payload(&c, &hybrid, &p);
        ASSERT_EQ_U(p.memory, UINT64_C(2) << 40);
        ASSERT_EQ_U(p.memsw, UINT64_MAX);
        ASSERT_EQ_U(config_map_unset(&c, "limits.memory.swap"), 1);
        limits_payload(&c, &hybrid, &p);
        ASSERT_EQ_U(p.memory, 0);
}

/* The properties as systemd receives them. */
static void read_properties(const char *const *pairs, const LimitsSupport *s, bool reset, char *out, size_t n) {
        _cleanup_(config_map_done) ConfigMap c = {};
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;
        const char *name, *contents;
        int sv[2];

        config_of(&c, pairs);
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_fd(bus, sv[0], sv[0]));
        ASSERT_OK(sd_bus_start(bus));
        ASSERT_OK(sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/", "x.y", "Z"));
        ASSERT_OK(sd_bus_message_open_container(m, 'a', "(sv)"));
        ASSERT_OK(limits_append_properties(m, &c, s, reset));
        ASSERT_OK(sd_bus_message_close_container(m));
        ASSERT_OK(sd_bus_message_seal(m, 1, 0));
        ASSERT_OK(sd_bus_message_rewind(m, true));
        out[0] = 0;
        ASSERT_OK(sd_bus_message_enter_container(m, 'a', "(sv)"));
        while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
                char item[256];
                uint64_t u;

                ASSERT_OK(sd_bus_message_read(m, "s", &name));
                ASSERT_OK(sd_bus_message_peek_type(m, NULL, &contents));
                if (streq(contents, "t")) {
                        ASSERT_OK(sd_bus_message_read(m, "v", "t", &u));
                        snprintf(item, sizeof item, "%s=%s ", name, u == UINT64_MAX ? "inf" : "");
                        if (u != UINT64_MAX)
                                snprintf(item + strlen(item) - 1, sizeof item - strlen(item) + 1, "%llu ",
                                         (unsigned long long) u);
                } else {
                        const void *a;
                        size_t k;

                        ASSERT_STREQ(contents, "ay");
                        ASSERT_OK(sd_bus_message_enter_container(m, 'v', "ay"));
                        ASSERT_OK(sd_bus_message_read_array(m, 'y', &a, &k));
                        ASSERT_OK(sd_bus_message_exit_container(m));
                        snprintf(item, sizeof item, "%s=%zu:%02x ", name, k, k > 0 ? *(const uint8_t *) a : 0);
                }
                strncat(out, item, n - strlen(out) - 1);
                ASSERT_OK(sd_bus_message_exit_container(m));
        }
        sd_bus_message_unref(m);
        /* Never flushed: nothing answers the handshake. */
        close(sv[1]);
        sd_bus_close_unref(bus);
}

TEST(properties) {
        char out[1024];

        read_properties(PAIRS("limits.cpu.quota", "250", "limits.cpu.allowed", "0-1,3", "limits.memory.swap", "1K",
                              "limits.io.weight", "300"), &hybrid, false, out, sizeof out);
        printf("  %s\n", out);
        /* No IOWeight without a weight to write; AllowedCPUs and MemorySwapMax for systemctl show. */
        ASSERT_STREQ(out, "MemorySwapMax=1024 CPUQuotaPerSecUSec=2500000 AllowedCPUs=1:0b ");
        read_properties(PAIRS("limits.io.weight", "300", "limits.cpu.quota", "max"), &unified, false, out, sizeof out);
        ASSERT_STREQ(out, "CPUQuotaPerSecUSec=inf IOWeight=300 ");
        read_properties(PAIRS("limits.memory", "1G"), &unified, true, out, sizeof out);
        ASSERT_STREQ(out, "MemoryMax=1073741824 CPUWeight=inf TasksMax=inf MemorySwapMax=inf CPUQuotaPerSecUSec=inf "
                          "AllowedCPUs=0:00 IOWeight=inf ");
}
