/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Config keys, values and the ConfigMap. The input is a list of lines: "key=value" validates the pair and
 * sets it in a map if valid; "-key" validates the key and unsets it. Each value also goes through every
 * value parser. The map must stay sorted and agree with a trivial model (the last value set). */

#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "macro.h"

static void parse_value(const char *v) {
        uint64_t u = 0;
        long l = 0;
        bool b;

        if (config_parse_bool(v, &b) >= 0)
                FUZZ_CHECK(strlen(v) <= 5);
        if (config_parse_int(v, -1000, 1000, &l) >= 0)
                FUZZ_CHECK(l >= -1000 && l <= 1000);
        if (config_parse_uint_or_max(v, &u) >= 0)
                FUZZ_CHECK(streq(v, "max") || (v[0] >= '0' && v[0] <= '9'));
        if (config_parse_bytes_or_max(v, &u) >= 0)
                FUZZ_CHECK(streq(v, "max") || (v[0] >= '0' && v[0] <= '9'));
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
