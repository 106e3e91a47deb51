/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "resource-limits.h"

/* A decimal number of at most 9 digits from *p, which moves past it; no leading zeros, so that each
 * number has one spelling. */
static int parse_small(const char **p, unsigned long *ret) {
        const char *s = *p;
        unsigned long v = 0;
        size_t n = 0;

        if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
                return -EINVAL;
        while (s[n] >= '0' && s[n] <= '9') {
                if (++n > 9)
                        return -ERANGE;
                v = v * 10 + (unsigned long) (s[n - 1] - '0');
        }
        if (n == 0)
                return -EINVAL;
        *p = s + n;
        *ret = v;
        return 0;
}

int limits_parse_cpu_quota(const char *s, uint64_t *ret_percent) {
        unsigned long v;
        const char *p = s;
        int r;

        assert(s);
        assert(ret_percent);

        if (streq(s, "max")) {
                *ret_percent = UINT64_MAX;
                return 0;
        }
        r = parse_small(&p, &v);
        if (r < 0)
                return r;
        if (!streq(p, "") && !streq(p, "%"))
                return -EINVAL;
        if (v < 1 || v > LIMITS_CPU_QUOTA_MAX)
                return -ERANGE;
        *ret_percent = v;
        return 0;
}

int limits_parse_cpu_list(const char *s, CpuSet *ret) {
        CpuSet set = {};
        const char *p = s;

        assert(s);
        assert(ret);

        for (;;) {
                unsigned long a, b;

                if (parse_small(&p, &a) < 0)
                        return -EINVAL;
                b = a;
                if (*p == '-') {
                        p++;
                        if (parse_small(&p, &b) < 0)
                                return -EINVAL;
                }
                if (a > b || b >= LIMITS_CPUS_MAX)
                        return -ERANGE;
                for (unsigned long c = a; c <= b; c++)
                        set.bits[c / 8] |= (uint8_t) (1u << (c % 8));
                if (*p == 0)
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
        *ret = set;
        return 0;
}

unsigned cpu_set_bytes(const CpuSet *s) {
        unsigned n = sizeof s->bits;

        assert(s);

        while (n > 0 && s->bits[n - 1] == 0)
                n--;
        return n;
}

static const char *const extra_keys[] = {
        "limits.memory.swap", "limits.cpu.quota", "limits.cpu.allowed", "limits.io.weight",
};

bool limits_key_is_extra(const char *key) {
        for (size_t k = 0; k < ELEMENTSOF(extra_keys); k++)
                if (streq_ptr(key, extra_keys[k]))
                        return true;
        return false;
}

static int fail(char **ret_message, const char *fmt, const char *key) {
        if (ret_message && asprintf(ret_message, fmt, key) < 0)
                *ret_message = NULL;
        return -EINVAL;
}

int limits_validate(const char *key, const char *value, char **ret_message) {
        CpuSet set;
        uint64_t u;
        long l;

        assert(key);
        assert(value);

        if (streq(key, "limits.memory.swap")) {
                if (config_parse_bytes_or_max(value, &u) < 0)
                        return fail(ret_message, "Config key '%s' takes a size such as 256MiB (0: no swap), or max.",
                                    key);
        } else if (streq(key, "limits.cpu.quota")) {
                if (limits_parse_cpu_quota(value, &u) < 0)
                        return fail(ret_message, "Config key '%s' takes a percentage of one CPU from 1 to 100000 "
                                    "(such as 50 or 250%%), or max.", key);
        } else if (streq(key, "limits.cpu.allowed")) {
                if (limits_parse_cpu_list(value, &set) < 0)
                        return fail(ret_message, "Config key '%s' takes a CPU list such as 0-1,3 (CPUs 0 to 1023).",
                                    key);
        } else if (streq(key, "limits.io.weight")) {
                if (config_parse_int(value, LIMITS_IO_WEIGHT_MIN, LIMITS_IO_WEIGHT_MAX, &l) < 0)
                        return fail(ret_message, "Config key '%s' takes an integer from 1 to 10000.", key);
        } else
                return -ENOENT;
        return 0;
}
