/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Config keys, values and the ConfigMap. The input is a list of lines: "key=value" validates the pair and
 * sets it in a map if valid; "-key" validates the key and unsets it. Each value also goes through every
 * value parser and the validation of every kind of key, each compared with a model of what it accepts; so
 * does each key. The map must stay sorted and agree with a trivial model (the last value set). */

#include <glib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "macro.h"
#include "resource-limits.h"

static bool all_digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* A decimal number without leading zeros, at most max; *p moves past it. */
static bool number_model(const char **p, unsigned long max, unsigned long *ret) {
        size_t n = strspn(*p, "0123456789");
        unsigned long long v;

        if (n == 0 || ((*p)[0] == '0' && n > 1))
                return false;
        v = strtoull(*p, NULL, 10);   /* saturates: beyond max either way */
        *p += n;
        *ret = (unsigned long) v;
        return v <= max;
}

/* limits.cpu.allowed: items N or N-M (N <= M < 1024) separated by single commas. */
static bool cpu_list_model(const char *v) {
        const char *p = v;

        for (;;) {
                unsigned long a, b;

                if (!number_model(&p, LIMITS_CPUS_MAX - 1, &a))
                        return false;
                b = a;
                if (*p == '-') {
                        p++;
                        if (!number_model(&p, LIMITS_CPUS_MAX - 1, &b) || b < a)
                                return false;
                }
                if (*p == 0)
                        return true;
                if (*p++ != ',')
                        return false;
        }
}

/* The keys of resource-limits.h, each against a model of what it accepts. */
static void parse_limits(const char *v) {
        const char *p = v;
        unsigned long l;
        uint64_t u;
        CpuSet set;
        bool ok;
        int r;

        r = config_parse_bytes_or_max(v, &u);
        FUZZ_CHECK((config_validate("limits.memory.swap", v, NULL) == 0) == (r >= 0 && strlen(v) <= CONFIG_VALUE_MAX));
        /* The same integers as limits.cpu.weight (config_parse_int()). */
        FUZZ_CHECK((config_validate("limits.io.weight", v, NULL) == 0) == (config_validate("limits.cpu.weight", v, NULL) == 0));
        ok = streq(v, "max") || (number_model(&p, LIMITS_CPU_QUOTA_MAX, &l) && l >= 1 && (streq(p, "") || streq(p, "%")));
        r = limits_parse_cpu_quota(v, &u);
        FUZZ_CHECK((r >= 0) == ok);
        if (r >= 0)
                FUZZ_CHECK(streq(v, "max") ? u == UINT64_MAX : u == strtoull(v, NULL, 10));
        FUZZ_CHECK((config_validate("limits.cpu.quota", v, NULL) == 0) == ok);
        ok = cpu_list_model(v);
        r = limits_parse_cpu_list(v, &set);
        FUZZ_CHECK((r >= 0) == ok);
        if (r >= 0) {
                /* The first CPU named is in the set, and nothing is above the highest byte used. */
                FUZZ_CHECK(cpu_set_has(&set, (unsigned) strtoul(v, NULL, 10)));
                FUZZ_CHECK(cpu_set_bytes(&set) >= 1 && cpu_set_bytes(&set) <= LIMITS_CPUS_MAX / 8);
        }
        FUZZ_CHECK((config_validate("limits.cpu.allowed", v, NULL) == 0) == ok);
}

/* Every value parser, and every key's validation, against a model of what it accepts. */
static void parse_value(const char *v) {
        uint64_t u = 0, u2 = 0;
        long l = 0;
        bool b, ok;
        int r;

        r = config_parse_bool(v, &b);
        FUZZ_CHECK((r >= 0) == (streq(v, "true") || streq(v, "1") || streq(v, "yes") || streq(v, "false") ||
                                streq(v, "0") || streq(v, "no")));
        if (r >= 0)
                FUZZ_CHECK(b == (streq(v, "true") || streq(v, "1") || streq(v, "yes")));

        /* An integer: an optional sign, then only digits (no blanks strtol() would skip). */
        r = config_parse_int(v, -1000, 1000, &l);
        if (r >= 0) {
                FUZZ_CHECK(l >= -1000 && l <= 1000);
                FUZZ_CHECK(all_digits(v + (v[0] == '-' || v[0] == '+')));
                FUZZ_CHECK(l == strtol(v, NULL, 10));
        }
        FUZZ_CHECK((config_validate("boot.autostart.priority", v, NULL) == 0) == (r >= 0 && strlen(v) <= CONFIG_VALUE_MAX));
        r = config_parse_int(v, 1, 10000, &l);
        if (r >= 0)
                FUZZ_CHECK(l >= 1 && l <= 10000);
        FUZZ_CHECK((config_validate("limits.cpu.weight", v, NULL) == 0) == (r >= 0 && strlen(v) <= CONFIG_VALUE_MAX));
        r = config_parse_int(v, 68, 65535, &l);
        FUZZ_CHECK((config_validate("network.mtu", v, NULL) == 0) == (r >= 0 && strlen(v) <= CONFIG_VALUE_MAX));
        FUZZ_CHECK((config_validate("network.mode", v, NULL) == 0) ==
                   (streq(v, "bridge") || streq(v, "none") || streq(v, "macvlan")));
        /* An interface name: 1..15 printable ASCII bytes, no '/' or ':', not "." or "..". */
        ok = strlen(v) >= 1 && strlen(v) <= 15 && !streq(v, ".") && !streq(v, "..") && !strpbrk(v, "/:");
        for (const char *p = v; *p; p++)
                ok = ok && (unsigned char) *p > ' ' && (unsigned char) *p < 0x7f;
        FUZZ_CHECK((config_validate("network.bridge", v, NULL) == 0) == ok);
        FUZZ_CHECK((config_validate("network.parent", v, NULL) == 0) == ok);
        /* A MAC address: six hex octets with ':', unicast, not all zero. */
        ok = strlen(v) == 17 && strspn(v, "0123456789abcdefABCDEF:") == 17;
        for (size_t k = 0; ok && k < 17; k++)
                ok = (k % 3 == 2) == (v[k] == ':');
        ok = ok && (strtoul(v, NULL, 16) & 1) == 0 && strspn(v, "0:") != 17;
        FUZZ_CHECK((config_validate("network.hwaddr", v, NULL) == 0) == ok);

        r = config_parse_uint_or_max(v, &u);
        if (r >= 0) {
                FUZZ_CHECK(streq(v, "max") ? u == UINT64_MAX : all_digits(v));
                if (!streq(v, "max"))
                        FUZZ_CHECK(u == strtoull(v, NULL, 10));
        }
        FUZZ_CHECK((config_validate("limits.tasks", v, NULL) == 0) == (r >= 0 && u != 0 && strlen(v) <= CONFIG_VALUE_MAX));

        /* A size: digits and one of the suffixes, a multiple of its unit. */
        r = config_parse_bytes_or_max(v, &u2);
        if (r >= 0 && !streq(v, "max")) {
                const char *end = v + strspn(v, "0123456789");
                unsigned shift = 0;

                FUZZ_CHECK(end > v);
                if (*end == 'K')
                        shift = 10;
                else if (*end == 'M')
                        shift = 20;
                else if (*end == 'G')
                        shift = 30;
                else if (*end == 'T')
                        shift = 40;
                else
                        FUZZ_CHECK(streq(end, "") || streq(end, "B"));
                if (shift > 0)
                        FUZZ_CHECK(streq(end + 1, "") || streq(end + 1, "iB"));
                FUZZ_CHECK(u2 == strtoull(v, NULL, 10) << shift);
                FUZZ_CHECK(u2 >> shift == strtoull(v, NULL, 10));
        } else if (r >= 0)
                FUZZ_CHECK(u2 == UINT64_MAX);
        FUZZ_CHECK((config_validate("limits.memory", v, NULL) == 0) ==
                   (r >= 0 && u2 >= 4096 && strlen(v) <= CONFIG_VALUE_MAX));

        ok = config_parse_bool(v, &b) >= 0;
        FUZZ_CHECK((config_validate("boot.autostart", v, NULL) == 0) == ok);
        FUZZ_CHECK((config_validate("security.privileged", v, NULL) == 0) == (streq(v, "true") || streq(v, "false")));
        /* Free text: bounded, and valid UTF-8 (so that lxcbus.json loads it back unchanged). */
        bool u8 = g_utf8_validate(v, -1, NULL);
        FUZZ_CHECK((config_validate("description", v, NULL) == 0) == (u8 && strlen(v) <= CONFIG_DESCRIPTION_MAX));
        FUZZ_CHECK((config_validate("user.x", v, NULL) == 0) == (u8 && strlen(v) <= CONFIG_VALUE_MAX));
        FUZZ_CHECK((config_validate("environment.X", v, NULL) == 0) == (u8 && strlen(v) <= CONFIG_VALUE_MAX));
        parse_limits(v);
}

/* Which keys exist: a model of config_key_validate(). */
static bool key_model(const char *k) {
        size_t n = strlen(k);

        if (n == 0 || n > CONFIG_KEY_MAX)
                return false;
        for (const char *p = k; *p; p++)
                if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
                        return false;
        if (streq(k, "description") || streq(k, "boot.autostart") || streq(k, "boot.autostart.priority") ||
            streq(k, "limits.memory") || streq(k, "limits.cpu.weight") || streq(k, "limits.tasks") ||
            streq(k, "security.privileged") || streq(k, "network.mode") || streq(k, "network.bridge") ||
            streq(k, "network.parent") || streq(k, "network.hwaddr") || streq(k, "network.mtu") ||
            streq(k, "limits.memory.swap") || streq(k, "limits.cpu.quota") || streq(k, "limits.cpu.allowed") ||
            streq(k, "limits.io.weight"))
                return true;
        if (startswith(k, "environment."))
                return env_name_is_valid(k + STRLEN("environment.")) &&
                       strspn(k + STRLEN("environment."), "0123456789") == 0;
        return startswith(k, "user.") && n > STRLEN("user.");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_map_done) ConfigMap m = {};
        _cleanup_free_ char *s = NULL;
        char *line, *save = NULL;

        if (size > 64 * 1024)
                return 0;
        s = fuzz_strndup(data, size);

        for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                _cleanup_free_ char *msg = NULL;
                char *eq;
                int r;

                if (line[0] == '-') {
                        const char *key = line + 1;
                        bool had = config_map_get(&m, key);

                        r = config_key_validate(key, &msg);
                        FUZZ_CHECK(r == 0 || (r == -EINVAL && msg));
                        FUZZ_CHECK((r == 0) == key_model(key));
                        FUZZ_CHECK(config_map_unset(&m, key) == (had ? 1 : 0));
                        FUZZ_CHECK(!config_map_get(&m, key));
                        continue;
                }

                eq = strchr(line, '=');
                if (!eq) {
                        parse_value(line);
                        continue;
                }
                *eq = 0;
                parse_value(eq + 1);
                r = config_validate(line, eq + 1, &msg);
                FUZZ_CHECK(r == 0 || (r == -EINVAL && msg));
                if (!key_model(line))
                        FUZZ_CHECK(r == -EINVAL);
                if (r == 0) {
                        /* A valid pair has a valid key, within the size limits. */
                        FUZZ_CHECK(config_key_validate(line, NULL) == 0);
                        FUZZ_CHECK(strlen(line) <= CONFIG_KEY_MAX && strlen(eq + 1) <= CONFIG_VALUE_MAX);
                        r = config_map_set(&m, line, eq + 1);
                        FUZZ_CHECK(r == 0 || r == -E2BIG);
                        if (r == 0)
                                FUZZ_CHECK(streq(config_map_get(&m, line), eq + 1));
                }
        }

        for (size_t i = 1; i < m.n; i++)
                FUZZ_CHECK(strcmp(m.entries[i - 1].key, m.entries[i].key) < 0);
        FUZZ_CHECK(m.n <= CONFIG_KEYS_MAX);

        /* A copy is equal and independent. */
        _cleanup_(config_map_done) ConfigMap c = {};
        FUZZ_CHECK(config_map_copy(&m, &c) == 0);
        FUZZ_CHECK(c.n == m.n);
        for (size_t i = 0; i < m.n; i++) {
                FUZZ_CHECK(streq(c.entries[i].key, m.entries[i].key));
                FUZZ_CHECK(streq(c.entries[i].value, m.entries[i].value));
                FUZZ_CHECK(c.entries[i].value != m.entries[i].value);
        }
        return 0;
}
