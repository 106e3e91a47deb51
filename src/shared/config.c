/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "macro.h"
#include "network.h"
#include "resource-limits.h"

void config_map_done(ConfigMap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->entries[i].key);
                free(m->entries[i].value);
        }
        free(m->entries);
        m->entries = NULL;
        m->n = 0;
}

static ssize_t config_map_find(const ConfigMap *m, const char *key, size_t *ret_insert) {
        size_t lo = 0, hi = m->n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(m->entries[mid].key, key);
                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (ret_insert)
                *ret_insert = lo;
        return -1;
}

const char *config_map_get(const ConfigMap *m, const char *key) {
        ssize_t i = config_map_find(m, key, NULL);
        return i < 0 ? NULL : m->entries[i].value;
}

int config_map_set(ConfigMap *m, const char *key, const char *value) {
        size_t at = 0;
        ssize_t i;
        char *v;

        v = strdup(value);
        if (!v)
                return -ENOMEM;
        i = config_map_find(m, key, &at);
        if (i >= 0) {
                free(m->entries[i].value);
                m->entries[i].value = v;
                return 0;
        }
        if (m->n >= CONFIG_KEYS_MAX) {
                free(v);
                return -E2BIG;
        }
        ConfigEntry *e = realloc(m->entries, (m->n + 1) * sizeof(ConfigEntry));
        if (!e) {
                free(v);
                return -ENOMEM;
        }
        m->entries = e;
        char *k = strdup(key);
        if (!k) {
                free(v);
                return -ENOMEM;
        }
        memmove(m->entries + at + 1, m->entries + at, (m->n - at) * sizeof(ConfigEntry));
        m->entries[at] = (ConfigEntry) { .key = k, .value = v };
        m->n++;
        return 0;
}

int config_map_unset(ConfigMap *m, const char *key) {
        ssize_t i = config_map_find(m, key, NULL);

        if (i < 0)
                return 0;
        free(m->entries[i].key);
        free(m->entries[i].value);
        memmove(m->entries + i, m->entries + i + 1, (m->n - (size_t) i - 1) * sizeof(ConfigEntry));
        m->n--;
        return 1;
}

int config_map_copy(const ConfigMap *src, ConfigMap *ret) {
        ConfigMap m = {};
        int r;

        for (size_t i = 0; i < src->n; i++) {
                r = config_map_set(&m, src->entries[i].key, src->entries[i].value);
                if (r < 0) {
                        config_map_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

bool config_map_equal(const ConfigMap *a, const ConfigMap *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->entries[i].key, b->entries[i].key) || !streq(a->entries[i].value, b->entries[i].value))
                        return false;
        return true;
}

int config_parse_bool(const char *s, bool *ret) {
        if (streq(s, "true") || streq(s, "1") || streq(s, "yes")) {
                *ret = true;
                return 0;
        }
        if (streq(s, "false") || streq(s, "0") || streq(s, "no")) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

int config_parse_int(const char *s, long min, long max, long *ret) {
        char *end;
        long v;

        /* strtol() skips leading white space of any kind: only a sign or a digit may start. */
        if (isempty(s) || !(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

typedef struct UnitSuffix {
        const char *suffix;
        unsigned shift;
} UnitSuffix;

/* "max", or a decimal number with one of the suffixes (each a power of two). */
static int parse_number_or_max(const char *s, const UnitSuffix *table, size_t n, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (streq(s, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (isempty(s) || !(s[0] >= '0' && s[0] <= '9'))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!streq(end, table[i].suffix))
                        continue;
                if (v > (UINT64_MAX >> table[i].shift))
                        return -ERANGE;
                *ret = (uint64_t) v << table[i].shift;
                return 0;
        }
        return -EINVAL;
}

int config_parse_uint_or_max(const char *s, uint64_t *ret) {
        static const UnitSuffix none[] = { { "", 0 } };

        return parse_number_or_max(s, none, ELEMENTSOF(none), ret);
}

int config_parse_bytes_or_max(const char *s, uint64_t *ret) {
        static const UnitSuffix bytes[] = {
                { "", 0 },   { "B", 0 },
                { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
                { "G", 30 }, { "GiB", 30 }, { "T", 40 }, { "TiB", 40 },
        };

        return parse_number_or_max(s, bytes, ELEMENTSOF(bytes), ret);
}

bool env_name_is_valid(const char *s) {
        if (isempty(s) || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

static bool string_is_printable_utf8ish(const char *s) {
        /* Keys must be plain ASCII without control characters or spaces. */
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

/* What a D-Bus string may hold (so only a caller other than the bus can get it wrong), and what the
 * JSON of lxcbus.json saves and loads unchanged: UTF-8 without overlong forms, surrogates or code
 * points above U+10FFFF. */
static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                uint32_t c;
                unsigned n;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        n = 1, c = *p & 0x1f;
                else if ((*p & 0xf0) == 0xe0)
                        n = 2, c = *p & 0x0f;
                else if ((*p & 0xf8) == 0xf0)
                        n = 3, c = *p & 0x07;
                else
                        return false;
                for (unsigned k = 1; k <= n; k++) {
                        if ((p[k] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (p[k] & 0x3f);
                }
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) || c > 0x10ffff ||
                    (c >= 0xd800 && c <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

static int fail(char **ret_message, const char *fmt, const char *key) {
        if (ret_message && asprintf(ret_message, fmt, key) < 0)
                *ret_message = NULL;
        return -EINVAL;
}

/* The network.* keys (network.h). */
static int network_validate(const char *key, const char *value, char **ret_message) {
        long l;

        if (streq(key, "network.mode")) {
                if (network_mode_from_string(value) < 0)
                        return fail(ret_message, "Config key '%s' takes bridge, none or macvlan.", key);
        } else if (streq(key, "network.bridge") || streq(key, "network.parent")) {
                if (!ifname_is_valid(value))
                        return fail(ret_message, "Config key '%s' takes an interface name (1 to 15 characters, no '/', "
                                    "':' or white space).", key);
        } else if (streq(key, "network.hwaddr")) {
                if (!hwaddr_is_valid(value))
                        return fail(ret_message, "Config key '%s' takes a unicast MAC address such as 00:16:3e:12:34:56.",
                                    key);
        } else if (streq(key, "network.mtu")) {
                if (config_parse_int(value, NETWORK_MTU_MIN, NETWORK_MTU_MAX, &l) < 0)
                        return fail(ret_message, "Config key '%s' takes an integer from 68 to 65535.", key);
        }
        return 0;
}

int config_key_validate(const char *key, char **ret_message) {
        const char *p;

        if (isempty(key) || strlen(key) > CONFIG_KEY_MAX || !string_is_printable_utf8ish(key))
                return fail(ret_message, "Invalid config key '%s'.", key ? key : "");
        FOREACH_STRING(k, "description", "boot.autostart", "boot.autostart.priority",
                       "limits.memory", "limits.cpu.weight", "limits.tasks",
                       "security.privileged", "network.mode", "network.bridge", "network.parent",
                       "network.hwaddr", "network.mtu",
                       "boot.autostart.delay")
                if (streq(key, k))
                        return 0;
        if (limits_key_is_extra(key))
                return 0;
        if ((p = startswith(key, "environment."))) {
                if (!env_name_is_valid(p))
                        return fail(ret_message, "Invalid environment variable name in config key '%s'.", key);
                return 0;
        }
        if ((p = startswith(key, "user.")) && *p)
                return 0;
        return fail(ret_message, "Unknown config key '%s'.", key);
}

bool config_key_is_create_only(const char *key) {
        return streq_ptr(key, "security.privileged");
}

int config_validate(const char *key, const char *value, char **ret_message) {
        uint64_t u;
        long l;
        bool b;
        int r;

        r = config_key_validate(key, ret_message);
        if (r < 0)
                return r;
        if (!value || strlen(value) > CONFIG_VALUE_MAX)
                return fail(ret_message, "Value of config key '%s' is too long.", key);
        if (!utf8_is_valid(value))
                return fail(ret_message, "Value of config key '%s' is not valid UTF-8.", key);

        if (streq(key, "description")) {
                if (strlen(value) > CONFIG_DESCRIPTION_MAX)
                        return fail(ret_message, "Value of config key '%s' is too long (1024 bytes at most).", key);
        } else if (streq(key, "boot.autostart")) {
                if (config_parse_bool(value, &b) < 0)
                        return fail(ret_message, "Config key '%s' takes true or false.", key);
        } else if (streq(key, "boot.autostart.priority")) {
                if (config_parse_int(value, -1000, 1000, &l) < 0)
                        return fail(ret_message, "Config key '%s' takes an integer from -1000 to 1000.", key);
        } else if (streq(key, "limits.memory")) {
                if (config_parse_bytes_or_max(value, &u) < 0 || u < 4096)
                        return fail(ret_message, "Config key '%s' takes a size such as 512MiB (at least 4K), or max.", key);
        } else if (streq(key, "limits.cpu.weight")) {
                if (config_parse_int(value, 1, 10000, &l) < 0)
                        return fail(ret_message, "Config key '%s' takes an integer from 1 to 10000.", key);
        } else if (streq(key, "security.privileged")) {
                /* Only these two spellings: the value is shown as stored, and decides a security
                 * boundary. */
                if (!streq(value, "true") && !streq(value, "false"))
                        return fail(ret_message, "Config key '%s' takes true or false.", key);
        } else if (streq(key, "limits.tasks")) {
                if (config_parse_uint_or_max(value, &u) < 0 || u == 0)
                        return fail(ret_message, "Config key '%s' takes a positive integer, or max.", key);
        } else if (streq(key, "boot.autostart.delay")) {
                if (config_parse_int(value, 0, CONFIG_AUTOSTART_DELAY_MAX, &l) < 0)
                        return fail(ret_message, "Config key '%s' takes seconds, an integer from 0 to 3600.", key);
        } else if (limits_key_is_extra(key))
                return limits_validate(key, value, ret_message);
        else
                return network_validate(key, value, ret_message);
        return 0;
}

static long config_get_int(const ConfigMap *m, const char *key, long min, long max) {
        const char *v = config_map_get(m, key);
        long l = 0;

        if (v && config_parse_int(v, min, max, &l) < 0)
                l = 0;
        return l;
}

bool config_autostart(const ConfigMap *m) {
        const char *v = config_map_get(m, "boot.autostart");
        bool b = false;

        if (v && config_parse_bool(v, &b) < 0)
                b = false;
        return b;
}

int config_autostart_priority(const ConfigMap *m) {
        return (int) config_get_int(m, "boot.autostart.priority", -1000, 1000);
}

unsigned config_autostart_delay(const ConfigMap *m) {
        return (unsigned) config_get_int(m, "boot.autostart.delay", 0, CONFIG_AUTOSTART_DELAY_MAX);
}
