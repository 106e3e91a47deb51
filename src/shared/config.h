/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The user-level configuration of an instance: a small sorted map of validated keys. */

#define CONFIG_KEYS_MAX 256
#define CONFIG_KEY_MAX 256
#define CONFIG_VALUE_MAX 4096
#define CONFIG_DESCRIPTION_MAX 1024
/* boot.autostart.delay: seconds StartAutostart waits after an instance before the next priority. */
#define CONFIG_AUTOSTART_DELAY_MAX 3600

typedef struct ConfigEntry {
        char *key;
        char *value;
} ConfigEntry;

typedef struct ConfigMap {
        ConfigEntry *entries;
        size_t n;
} ConfigMap;

void config_map_done(ConfigMap *m);
int config_map_copy(const ConfigMap *src, ConfigMap *ret);
bool config_map_equal(const ConfigMap *a, const ConfigMap *b);
const char *config_map_get(const ConfigMap *m, const char *key);
int config_map_set(ConfigMap *m, const char *key, const char *value);
/* Returns 1 if removed, 0 if absent. */
int config_map_unset(ConfigMap *m, const char *key);

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool env_name_is_valid(const char *s);

/* Checks one key and its value. On failure returns -EINVAL and a message naming the key. */
int config_validate(const char *key, const char *value, char **ret_message);
/* Checks a key alone (for "unset"). */
int config_key_validate(const char *key, char **ret_message);

/* Keys that only CreateInstance may set (security.privileged): fixed for the instance's lifetime. */
bool config_key_is_create_only(const char *key);

/* Value parsers shared by validation and by the daemon that applies the values. */
int config_parse_bool(const char *s, bool *ret);
int config_parse_int(const char *s, long min, long max, long *ret);
/* "max" gives UINT64_MAX. Suffixes K, M, G, T (also KiB...) are binary. */
int config_parse_bytes_or_max(const char *s, uint64_t *ret);
int config_parse_uint_or_max(const char *s, uint64_t *ret);

/* The autostart keys of a config as StartAutostart and the Autostart* properties read them: a value that
 * does not parse (never saved: SetConfig validates) reads as the default, false or 0. */
bool config_autostart(const ConfigMap *m);
int config_autostart_priority(const ConfigMap *m);
unsigned config_autostart_delay(const ConfigMap *m);
