/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An instance's resource limits (scope-limits.h): which the host's cgroup hierarchy can apply, as the
 * scope's unit properties or on the payload's own v1 cgroup, and which it refuses. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-options.h"
#include "cgroup-walk.h"
#include "log.h"
#include "macro.h"
#include "scope-limits.h"
#include "util.h"

static bool exists(const char *root, const char *file) {
        char p[PATH_MAX];

        snprintf(p, sizeof p, "%s/%s", root, file);
        return access(p, F_OK) >= 0;
}

/* Whether the space-separated list of cgroup.controllers names controller. */
static bool controllers_have(const char *list, const char *controller) {
        size_t n = strlen(controller);

        for (const char *p = list; (p = strstr(p, controller)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

void limits_support_probe(const char *root, LimitsSupport *ret) {
        _cleanup_free_ char *controllers = NULL;
        LimitsSupport s = {};
        char p[PATH_MAX];

        assert(root);
        assert(ret);

        /* Pure cgroup2 has cgroup.controllers at the root; a hybrid host's cgroup2 at unified/ holds no
         * controller systemd uses. */
        snprintf(p, sizeof p, "%s/cgroup.controllers", root);
        if (cgroup_read_file(-EBADF, p, 4096, &controllers) >= 0) {
                s.unified = true;
                s.swap_v2 = controllers_have(controllers, "memory");
                s.cpuset_v2 = controllers_have(controllers, "cpuset");
                s.io = controllers_have(controllers, "io");
        } else {
                s.swap_v1 = exists(root, "memory/memory.memsw.limit_in_bytes");
                s.cpuset_v1 = exists(root, "cpuset/cpuset.cpus");
                /* systemd writes IOWeight as blkio's weight, which only a weighing scheduler has. */
                s.io = exists(root, "blkio/blkio.bfq.weight") || exists(root, "blkio/blkio.weight");
        }
        *ret = s;
}

bool limits_config_differ(const ConfigMap *a, const ConfigMap *b) {
        assert(a);
        assert(b);

        for (size_t k = 0; k < a->n; k++)
                if (startswith(a->entries[k].key, "limits.") &&
                    !streq_ptr(a->entries[k].value, config_map_get(b, a->entries[k].key)))
                        return true;
        for (size_t k = 0; k < b->n; k++)
                if (startswith(b->entries[k].key, "limits.") && !config_map_get(a, b->entries[k].key))
                        return true;
        return false;
}

static int refuse(char **ret_message, int error, const char *fmt, ...) _printf_(3, 4);
static int refuse(char **ret_message, int error, const char *fmt, ...) {
        va_list ap;

        if (ret_message) {
                va_start(ap, fmt);
                if (vasprintf(ret_message, fmt, ap) < 0)
                        *ret_message = NULL;
                va_end(ap);
        }
        return error;
}

/* A byte limit of config, UINT64_MAX for none (unset, max, or beyond what a cgroup counts). */
static uint64_t bytes_of(const ConfigMap *config, const char *key) {
        const char *v = config_map_get(config, key);
        uint64_t u;

        if (!v || config_parse_bytes_or_max(v, &u) < 0 || u >= LIMITS_BYTES_NONE)
                return UINT64_MAX;
        return u;
}

static int check_cpus(const char *allowed, const char *online, char **ret_message) {
        CpuSet want, have;

        if (limits_parse_cpu_list(allowed, &want) < 0)
                return refuse(ret_message, -EINVAL, "Config key 'limits.cpu.allowed' takes a CPU list such as 0-1,3.");
        if (!online || limits_parse_cpu_list(online, &have) < 0)
                return 0;   /* the kernel has the last word */
        for (unsigned c = 0; c < LIMITS_CPUS_MAX; c++)
                if (cpu_set_has(&want, c) && !cpu_set_has(&have, c))
                        return refuse(ret_message, -EINVAL, "Config key 'limits.cpu.allowed' names CPU %u, which this "
                                      "host does not have (it has %s).", c, online);
        return 0;
}

int limits_check(const ConfigMap *config, const LimitsSupport *s, const char *online, char **ret_message) {
        const char *swap, *allowed;

        assert(config);
        assert(s);

        if (config_map_get(config, "limits.io.weight") && !s->io)
                return refuse(ret_message, -EOPNOTSUPP, "Config key 'limits.io.weight' cannot be applied on this host: "
                              "it has neither cgroup2's io controller nor a weight in cgroup v1's blkio (the BFQ "
                              "scheduler).");
        swap = config_map_get(config, "limits.memory.swap");
        if (swap && !s->swap_v2 && !s->swap_v1)
                return refuse(ret_message, -EOPNOTSUPP, "Config key 'limits.memory.swap' cannot be applied on this host: "
                              "it has no swap accounting (cgroup2's memory controller, or memory.memsw in cgroup v1).");
        /* v1 limits memory and swap together (memsw): a swap limit alone would cap memory too. */
        if (swap && !s->swap_v2 && !streq(swap, "max") && bytes_of(config, "limits.memory") == UINT64_MAX)
                return refuse(ret_message, -EOPNOTSUPP, "Config key 'limits.memory.swap' needs limits.memory on this "
                              "host: cgroup v1 limits memory and swap together.");
        allowed = config_map_get(config, "limits.cpu.allowed");
        if (allowed && !s->cpuset_v2 && !s->cpuset_v1)
                return refuse(ret_message, -EOPNOTSUPP, "Config key 'limits.cpu.allowed' cannot be applied on this host: "
                              "it has no cpuset controller.");
        return allowed ? check_cpus(allowed, online, ret_message) : 0;
}

int limits_check_host(const ConfigMap *config, char **ret_message) {
        _cleanup_free_ char *online = NULL;
        LimitsSupport s;

        assert(config);

        limits_support_probe("/sys/fs/cgroup", &s);
        if (read_full_file("/sys/devices/system/cpu/online", 4096, &online, NULL) >= 0)
                online[strcspn(online, "\n")] = 0;
        return limits_check(config, &s, online, ret_message);
}

void limits_payload(const ConfigMap *config, const LimitsSupport *s, LimitsPayload *ret) {
        LimitsPayload p = {};
        uint64_t memory, swap;

        assert(config);
        assert(s);
        assert(ret);

        if (!s->cpuset_v2 && s->cpuset_v1)
                p.cpus = config_map_get(config, "limits.cpu.allowed");
        memory = bytes_of(config, "limits.memory");
        if (!s->swap_v2 && s->swap_v1 && config_map_get(config, "limits.memory.swap") && memory != UINT64_MAX) {
                swap = bytes_of(config, "limits.memory.swap");
                p.memory = memory;
                p.memsw = swap == UINT64_MAX || memory + swap >= LIMITS_BYTES_NONE ? UINT64_MAX : memory + swap;
        }
        *ret = p;
}

/* How a limit that systemd takes as a number ("t") is written in the config. */
typedef enum LimitSyntax {
        LIMIT_BYTES,            /* bytes with a suffix, or "max" */
        LIMIT_COUNT,            /* a number, or "max" */
        LIMIT_WEIGHT,           /* 1 to 10000 */
        LIMIT_CPU_QUOTA,        /* a percentage, or "max" */
} LimitSyntax;

typedef struct NumberLimit {
        const char *key, *property;
        LimitSyntax syntax;
} NumberLimit;

/* Sent in this order, then AllowedCPUs, then IOWeight where it applies. */
static const NumberLimit number_limits[] = {
        { "limits.memory", "MemoryMax", LIMIT_BYTES },
        { "limits.cpu.weight", "CPUWeight", LIMIT_WEIGHT },
        { "limits.tasks", "TasksMax", LIMIT_COUNT },
        { "limits.memory.swap", "MemorySwapMax", LIMIT_BYTES },
        { "limits.cpu.quota", "CPUQuotaPerSecUSec", LIMIT_CPU_QUOTA },
};

static const NumberLimit io_weight_limit = { "limits.io.weight", "IOWeight", LIMIT_WEIGHT };

/* The value systemd takes for l's key; < 0 when the key is unset or invalid. */
static int number_limit_parse(const ConfigMap *config, const NumberLimit *l, uint64_t *ret) {
        const char *v = config_map_get(config, l->key);
        uint64_t u;
        long w;
        int r;

        if (!v)
                return -ENOENT;
        switch (l->syntax) {
        case LIMIT_BYTES:
                r = config_parse_bytes_or_max(v, &u);
                break;
        case LIMIT_COUNT:
                r = config_parse_uint_or_max(v, &u);
                break;
        case LIMIT_WEIGHT:
                r = config_parse_int(v, 1, 10000, &w);
                if (r >= 0)
                        u = (uint64_t) w;
                break;
        case LIMIT_CPU_QUOTA:
                /* CPUQuota=P% is P * 10 ms of CPU time per second. */
                r = limits_parse_cpu_quota(v, &u);
                if (r >= 0 && u != UINT64_MAX)
                        u *= 10000;
                break;
        default:
                assert_not_reached();
        }
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

/* A set limit, or with reset an unset (or invalid) one as "no limit". */
static int append_number(sd_bus_message *m, const ConfigMap *config, const NumberLimit *l, bool reset) {
        uint64_t u;
        bool set;

        set = number_limit_parse(config, l, &u) >= 0;
        if (!set && !reset)
                return 0;
        return sd_bus_message_append(m, "(sv)", l->property, "t", set ? u : UINT64_MAX);
}

/* AllowedCPUs, a little-endian bitmask; empty for all CPUs. */
static int append_cpus(sd_bus_message *m, const char *allowed, bool reset) {
        CpuSet set = {};
        int r;

        if (!allowed ? !reset : limits_parse_cpu_list(allowed, &set) < 0)
                return 0;
        r = bus_open_keyed_variant(m, 'r', "AllowedCPUs", "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', set.bits, cpu_set_bytes(&set));
        if (r >= 0)
                r = bus_close_containers(m, 2);
        return r;
}

/* MemorySwapMax and AllowedCPUs go to systemd on v1 too, which records them (systemctl show) and applies
 * them only with cgroup2's controllers; limits_payload() is what enforces them there. IOWeight only where
 * it applies: on v1 without a blkio weight systemd would fail to write one at every realization. */
int limits_append_properties(sd_bus_message *m, const ConfigMap *config, const LimitsSupport *s, bool reset) {
        int r;

        assert(m);
        assert(config);
        assert(s);

        for (size_t k = 0; k < ELEMENTSOF(number_limits); k++) {
                r = append_number(m, config, &number_limits[k], reset);
                if (r < 0)
                        return r;
        }
        r = append_cpus(m, config_map_get(config, "limits.cpu.allowed"), reset);
        if (r < 0 || !s->io)
                return r;
        return append_number(m, config, &io_weight_limit, reset);
}

static int write_payload(const char *controller, const char *unit, const char *name, const char *file,
                         const char *value) {
        char p[PATH_MAX];

        snprintf(p, sizeof p, "/sys/fs/cgroup/%s/machine.slice/%s/lxc.payload.%s/%s", controller, unit, name, file);
        return cgroup_write_file(p, value);
}

static void format_limit(char buf[static 32], uint64_t v) {
        /* -1 is v1's "no limit". */
        if (v == 0 || v == UINT64_MAX)
                strcpy(buf, "-1");
        else
                snprintf(buf, 32, "%" PRIu64, v);
}

/* memsw may never be below memory.limit_in_bytes: lift it, set memory, then memsw. */
static int apply_memory(const char *unit, const char *name, const LimitsPayload *p) {
        char memory[32], memsw[32];
        int r;

        format_limit(memory, p->memory);
        format_limit(memsw, p->memsw);
        r = write_payload("memory", unit, name, "memory.memsw.limit_in_bytes", "-1");
        if (r >= 0)
                r = write_payload("memory", unit, name, "memory.limit_in_bytes", memory);
        if (r >= 0 && !streq(memsw, "-1"))
                r = write_payload("memory", unit, name, "memory.memsw.limit_in_bytes", memsw);
        return r;
}

/* An unset limits.cpu.allowed gives the payload the scope's CPUs back. */
static int apply_cpus(const char *unit, const char *name, const char *cpus) {
        _cleanup_free_ char *all = NULL;
        char p[PATH_MAX];
        int r;

        if (!cpus) {
                snprintf(p, sizeof p, "/sys/fs/cgroup/cpuset/machine.slice/%s/cpuset.cpus", unit);
                r = cgroup_read_file(-EBADF, p, 4096, &all);
                if (r < 0)
                        return r;
                all[strcspn(all, "\n")] = 0;
                cpus = all;
        }
        return write_payload("cpuset", unit, name, "cpuset.cpus", cpus);
}

int limits_payload_apply(const char *unit, const char *name, const ConfigMap *config, const LimitsSupport *s) {
        LimitsPayload p;
        int r = 0;

        assert(unit);
        assert(name);
        assert(config);
        assert(s);

        limits_payload(config, s, &p);
        if (!s->cpuset_v2 && s->cpuset_v1) {
                r = apply_cpus(unit, name, p.cpus);
                if (r < 0)
                        log_warning_errno(r, "Failed to set the CPUs of %s's payload: %m", unit);
        }
        if (!s->swap_v2 && s->swap_v1) {
                int k = apply_memory(unit, name, &p);
                if (k < 0)
                        log_warning_errno(k, "Failed to set the memory and swap limits of %s's payload: %m", unit);
                r = r < 0 ? r : k;
        }
        return r;
}
