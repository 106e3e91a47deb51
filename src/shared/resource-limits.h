/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The limits.* keys beyond memory, cpu.weight and tasks (config.c): their syntax only. Which of them the
 * host's cgroup hierarchy can apply, and how, is the daemon's (scope-limits.h). */

#define LIMITS_CPUS_MAX 1024            /* CPU numbers 0..1023 in limits.cpu.allowed */
#define LIMITS_CPU_QUOTA_MAX 100000     /* limits.cpu.quota in percent of one CPU: 1000 CPUs */
#define LIMITS_IO_WEIGHT_MIN 1
#define LIMITS_IO_WEIGHT_MAX 10000
/* A byte limit at or above this is none (as cgroup.h's CGROUP_LIMIT_NONE): v1 counts in pages up to
 * LONG_MAX / PAGE_SIZE, and memory + swap must not overflow. */
#define LIMITS_BYTES_NONE (UINT64_C(1) << 62)

typedef struct CpuSet {
        uint8_t bits[LIMITS_CPUS_MAX / 8];
} CpuSet;

static inline bool cpu_set_has(const CpuSet *s, unsigned cpu) {
        return cpu < LIMITS_CPUS_MAX && (s->bits[cpu / 8] >> (cpu % 8)) & 1;
}

/* Numbers are decimal without leading zeros. */

/* "50", "250%" or "max": percent of one CPU, 1..LIMITS_CPU_QUOTA_MAX; max gives UINT64_MAX. */
int limits_parse_cpu_quota(const char *s, uint64_t *ret_percent);
/* A CPU list as the kernel writes it: "0-1,3", items N or N-M (N <= M) of decimal numbers below
 * LIMITS_CPUS_MAX, separated by single commas, nothing else. */
int limits_parse_cpu_list(const char *s, CpuSet *ret);
/* The size of the set as the bytes of systemd's AllowedCPUs (little-endian bitmask): the highest byte
 * with a bit set, plus one. */
unsigned cpu_set_bytes(const CpuSet *s);

/* Validates limits.memory.swap, limits.cpu.quota, limits.cpu.allowed and limits.io.weight: 0, or -EINVAL
 * with a message naming the key; -ENOENT for any other key. */
int limits_validate(const char *key, const char *value, char **ret_message);
/* Whether key is one of those. */
bool limits_key_is_extra(const char *key);
