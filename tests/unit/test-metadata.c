/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>

#include "bus-limits.h"
#include "macro.h"
#include "metadata.h"
#include "tests.h"
#include "util.h"

static void sample(InstanceMetadata *m) {
        *m = (InstanceMetadata) {
                .owner = 1000,
                .ephemeral = true,
                .created_at = UINT64_C(1700000000123456),
                .last_used_at = UINT64_C(1700000999000000),
                .generation = 42,
        };
        m->name = strdup("web-01");
        ASSERT_NOT_NULL(m->name);
        ASSERT_OK(config_map_set(&m->config, "description", "caf\xc3\xa9 \"quoted\"\n\ttab \\ backslash"));
        ASSERT_OK(config_map_set(&m->config, "limits.memory", "512MiB"));
        ASSERT_OK(config_map_set(&m->config, "boot.autostart", "true"));
        ASSERT_OK(config_map_set(&m->config, "environment.PATH", "/usr/bin"));
        ASSERT_OK(config_map_set(&m->config, "user.emoji", "\xf0\x9f\x90\xb3"));
        ASSERT_OK(config_map_set(&m->config, "user.empty", ""));
}

static void assert_metadata_equal(const InstanceMetadata *a, const InstanceMetadata *b) {
        ASSERT_STREQ(a->name, b->name);
        ASSERT_EQ(a->owner, b->owner);
        ASSERT_EQ(a->ephemeral, b->ephemeral);
        ASSERT_EQ_U(a->created_at, b->created_at);
        ASSERT_EQ_U(a->last_used_at, b->last_used_at);
        ASSERT_EQ_U(a->generation, b->generation);
        ASSERT_EQ_U(a->idmap.uid, b->idmap.uid);
        ASSERT_EQ_U(a->idmap.gid, b->idmap.gid);
        ASSERT_EQ_U(a->idmap.count, b->idmap.count);
        ASSERT_EQ(a->config.n, b->config.n);
        for (size_t i = 0; i < a->config.n; i++) {
                ASSERT_STREQ(a->config.entries[i].key, b->config.entries[i].key);
                ASSERT_STREQ(a->config.entries[i].value, b->config.entries[i].value);
        }
}

TEST(json_round_trip) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *json = NULL, *msg = NULL;

        sample(&m);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        printf("%s\n", json);
        ASSERT_CONTAINS(json, "\"version\" : 1");
        ASSERT_CONTAINS(json, "\"name\" : \"web-01\"");
        ASSERT_CONTAINS(json, "\"created-at\" : 1700000000123456");

        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, &msg));
        ASSERT_NULL(msg);
        assert_metadata_equal(&m, &back);
}

TEST(json_round_trip_extremes) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *json = NULL;

        m.name = strdup("a");
        ASSERT_NOT_NULL(m.name);
        m.owner = 0;
        m.ephemeral = false;
        m.created_at = 0;
        m.last_used_at = INT64_MAX;
        m.generation = INT64_MAX;
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
        ASSERT_EQ(back.config.n, 0);
        instance_metadata_done(&back);
        json = mfree(json);

        /* The largest uid that is not (uid_t) -1. */
        m.owner = UINT32_MAX - 1;
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
        instance_metadata_done(&back);
        json = mfree(json);

        /* A full config map. */
        for (unsigned i = 0; i < CONFIG_KEYS_MAX; i++) {
                char key[32];
                snprintf(key, sizeof key, "user.k%u", i);
                ASSERT_OK(config_map_set(&m.config, key, key));
        }
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
}

/* A valid document with one member replaced by the text in `member` (which may be empty, to drop it). */
static char *doc(const char *skip, const char *member) {
        static const char *const members[] = {
                "version", "\"version\": 1",
                "name", "\"name\": \"web\"",
                "owner", "\"owner\": 1000",
                "ephemeral", "\"ephemeral\": false",
                "created-at", "\"created-at\": 1",
                "last-used-at", "\"last-used-at\": 2",
                "generation", "\"generation\": 3",
                "config", "\"config\": {\"description\": \"x\"}",
        };
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        bool first = true;

        ASSERT_NOT_NULL(f);
        fputs("{", f);
        for (size_t i = 0; i < ELEMENTSOF(members); i += 2) {
                const char *text = streq_ptr(members[i], skip) ? member : members[i + 1];
                if (isempty(text))
                        continue;
                fprintf(f, "%s%s", first ? "" : ", ", text);
                first = false;
        }
        fputs("}", f);
        ASSERT_EQ(fclose(f), 0);
        return s;
}

static void assert_bad_json(const char *json, size_t size) {
        InstanceMetadata m = { .name = (char *) "untouched" };
        _cleanup_free_ char *msg = NULL;

        int r;

        printf("  rejected: %.200s\n", json);
        r = instance_metadata_from_json(json, size, &m, &msg);
        if (r >= 0)
                instance_metadata_done(&m); /* so that a failure does not also leak */
        ASSERT_ERROR(r, EBADMSG);
        ASSERT_NOT_NULL(msg);
        ASSERT_NOT_NULL(startswith(msg, "Invalid metadata: "));
        ASSERT_STREQ(m.name, "untouched");
        ASSERT_EQ(m.config.n, 0);
        /* ret_message is optional. */
        ASSERT_ERROR(instance_metadata_from_json(json, size, &m, NULL), EBADMSG);
}

static void assert_bad_member(const char *skip, const char *member) {
        _cleanup_free_ char *s = doc(skip, member);
        assert_bad_json(s, strlen(s));
}

TEST(json_template_is_valid) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {};
        _cleanup_free_ char *s = doc(NULL, NULL);

        ASSERT_OK(instance_metadata_from_json(s, strlen(s), &m, NULL));
        ASSERT_STREQ(m.name, "web");
        ASSERT_EQ(m.owner, 1000);
        ASSERT_FALSE(m.ephemeral);
        ASSERT_EQ_U(m.created_at, 1);
        ASSERT_EQ_U(m.last_used_at, 2);
        ASSERT_EQ_U(m.generation, 3);
        ASSERT_EQ(m.config.n, 1);
        ASSERT_STREQ(config_map_get(&m.config, "description"), "x");
}

TEST(json_reject_syntax) {
        FOREACH_STRING(s, "", " ", "{", "}", "{\"name\": }", "null", "[]", "1", "\"web\"", "true",
                       "{\"name\": \"web\",}", "{'name': 'web'}", "\xff\xfe{}")
                assert_bad_json(s, strlen(s));

        /* A size shorter than the text: only that prefix is parsed. */
        _cleanup_free_ char *s = doc(NULL, NULL);
        assert_bad_json(s, strlen(s) - 1);
}

TEST(json_reject_members) {
        /* Missing members. */
        FOREACH_STRING(k, "name", "owner", "ephemeral", "created-at", "last-used-at", "generation", "config")
                assert_bad_member(k, "");

        /* Wrong types. */
        assert_bad_member("name", "\"name\": 1");
        assert_bad_member("name", "\"name\": null");
        assert_bad_member("name", "\"name\": [\"web\"]");
        assert_bad_member("name", "\"name\": {\"x\": 1}");
        assert_bad_member("owner", "\"owner\": \"1000\"");
        assert_bad_member("owner", "\"owner\": 1000.0");
        assert_bad_member("owner", "\"owner\": 1e3");
        assert_bad_member("owner", "\"owner\": true");
        assert_bad_member("owner", "\"owner\": null");
        assert_bad_member("ephemeral", "\"ephemeral\": 0");
        assert_bad_member("ephemeral", "\"ephemeral\": \"false\"");
        assert_bad_member("ephemeral", "\"ephemeral\": null");
        assert_bad_member("created-at", "\"created-at\": \"1\"");
        assert_bad_member("generation", "\"generation\": 1.5");
        assert_bad_member("config", "\"config\": []");
        assert_bad_member("config", "\"config\": \"description=x\"");
        assert_bad_member("config", "\"config\": null");
        assert_bad_member("config", "\"config\": {\"description\": 1}");
        assert_bad_member("config", "\"config\": {\"boot.autostart\": true}");
        assert_bad_member("config", "\"config\": {\"description\": null}");
        assert_bad_member("config", "\"config\": {\"description\": [\"x\"]}");
        assert_bad_member("config", "\"config\": {\"description\": {}}");

        /* Out of range. */
        assert_bad_member("owner", "\"owner\": -1");
        assert_bad_member("owner", "\"owner\": 4294967295");
        assert_bad_member("owner", "\"owner\": 4294967296");
        assert_bad_member("created-at", "\"created-at\": -1");
        assert_bad_member("last-used-at", "\"last-used-at\": -9223372036854775808");
        assert_bad_member("generation", "\"generation\": 18446744073709551615");
        assert_bad_member("generation", "\"generation\": 99999999999999999999999999999");

        /* Invalid names. */
        assert_bad_member("name", "\"name\": \"\"");
        assert_bad_member("name", "\"name\": \"1web\"");
        assert_bad_member("name", "\"name\": \"web-\"");
        assert_bad_member("name", "\"name\": \"../etc\"");
        assert_bad_member("name", "\"name\": \"we b\"");
        assert_bad_member("name", "\"name\": \"caf\xc3\xa9\"");
        assert_bad_member("name",
                          "\"name\": \"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\"");

        /* Invalid config keys and values. */
        assert_bad_member("config", "\"config\": {\"limits.nonsense\": \"1\"}");
        assert_bad_member("config", "\"config\": {\"environment.1X\": \"1\"}");
        assert_bad_member("config", "\"config\": {\"user.\": \"1\"}");
        assert_bad_member("config", "\"config\": {\"\": \"1\"}");
        assert_bad_member("config", "\"config\": {\"boot.autostart\": \"maybe\"}");
        assert_bad_member("config", "\"config\": {\"limits.memory\": \"1\"}");
        assert_bad_member("config", "\"config\": {\"description\": \"x\", \"limits.tasks\": \"0\"}");
}

TEST(json_accepts_unknown_members) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {};
        _cleanup_free_ char *s = doc("version", "\"version\": 1, \"future\": {\"x\": [1, 2]}");

        ASSERT_OK(instance_metadata_from_json(s, strlen(s), &m, NULL));
        ASSERT_STREQ(m.name, "web");
}

TEST(json_reject_huge) {
        _cleanup_free_ char *big = NULL;
        size_t n = METADATA_SIZE_MAX + 1;

        /* A valid document padded with white space beyond the limit: refused on size alone. */
        _cleanup_free_ char *s = doc(NULL, NULL);
        big = malloc(n + 1);
        ASSERT_NOT_NULL(big);
        memset(big, ' ', n);
        memcpy(big, s, strlen(s));
        big[n] = 0;

        InstanceMetadata m = {};
        _cleanup_free_ char *msg = NULL;
        ASSERT_ERROR(instance_metadata_from_json(big, n, &m, &msg), EBADMSG);
        ASSERT_CONTAINS(msg, "too large");
        ASSERT_NULL(m.name);

        /* At the limit, it parses. */
        _cleanup_(instance_metadata_done) InstanceMetadata ok = {};
        ASSERT_OK(instance_metadata_from_json(big, METADATA_SIZE_MAX, &ok, NULL));
        ASSERT_STREQ(ok.name, "web");
}

TEST(json_deep_nesting) {
        /* Deeply nested arrays in an ignored member, within the size limit. json-glib parses recursively;
         * this must fail or succeed, not overflow the stack. */
        size_t depth = 10000;
        _cleanup_free_ char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        ASSERT_NOT_NULL(f);
        fputs("{\"deep\": ", f);
        for (size_t i = 0; i < depth; i++)
                fputc('[', f);
        for (size_t i = 0; i < depth; i++)
                fputc(']', f);
        fputs(", \"name\": \"web\"}", f);
        ASSERT_EQ(fclose(f), 0);

        InstanceMetadata m = {};
        ASSERT_ERROR(instance_metadata_from_json(s, n, &m, NULL), EBADMSG); /* members missing */
}

TEST(json_duplicate_config_keys) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {};
        _cleanup_free_ char *s = doc("config", "\"config\": {\"description\": \"a\", \"description\": \"b\"}");

        /* JSON leaves duplicates undefined; whatever wins, the map has one entry. */
        ASSERT_OK(instance_metadata_from_json(s, strlen(s), &m, NULL));
        ASSERT_EQ(m.config.n, 1);
}

TEST(json_idmap_round_trip) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *json = NULL;

        sample(&m);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_FALSE(strstr(json, "idmap"));  /* privileged: no member */
        json = mfree(json);

        m.idmap = (InstanceIdmap) { 1000000, 2000000, 65536 };
        ASSERT_OK(config_map_set(&m.config, "security.privileged", "false"));
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        printf("%s\n", json);
        ASSERT_CONTAINS(json, "\"uid\" : 1000000");
        ASSERT_CONTAINS(json, "\"gid\" : 2000000");
        ASSERT_CONTAINS(json, "\"count\" : 65536");
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
        instance_metadata_done(&back);
        json = mfree(json);

        /* The extremes: ids 1 .. (uint32_t) -2. */
        m.idmap = (InstanceIdmap) { 1, UINT32_MAX - 1, 1 };
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
        instance_metadata_done(&back);
        json = mfree(json);
        m.idmap = (InstanceIdmap) { 1, 1, UINT32_MAX - 1 };
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
}

TEST(json_idmap_without_privileged_key) {
        /* Metadata written before security.privileged existed: fine either way. */
        _cleanup_(instance_metadata_done) InstanceMetadata m = {};
        _cleanup_free_ char *s = doc("version", "\"version\": 1, \"idmap\": {\"uid\": 1000000, \"gid\": 1000000, "
                                     "\"count\": 65536}");

        ASSERT_OK(instance_metadata_from_json(s, strlen(s), &m, NULL));
        ASSERT_EQ_U(m.idmap.uid, 1000000);
        ASSERT_EQ_U(m.idmap.count, 65536);
        ASSERT_NULL(config_map_get(&m.config, "security.privileged"));
}

TEST(json_reject_idmap) {
        static const char *const bad[] = {
                "\"idmap\": null", "\"idmap\": 1000000", "\"idmap\": []", "\"idmap\": {}",
                "\"idmap\": {\"uid\": 1000000, \"gid\": 1000000}",
                "\"idmap\": {\"uid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": \"1000000\", \"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": 1000000.0, \"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": 0, \"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": 1000000, \"gid\": 0, \"count\": 65536}",
                "\"idmap\": {\"uid\": -1, \"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": 1000000, \"gid\": 1000000, \"count\": 0}",
                "\"idmap\": {\"uid\": 1000000, \"gid\": 1000000, \"count\": -65536}",
                "\"idmap\": {\"uid\": 4294901760, \"gid\": 1000000, \"count\": 65536}",
                "\"idmap\": {\"uid\": 1000000, \"gid\": 4294901760, \"count\": 65536}",
                "\"idmap\": {\"uid\": 1, \"gid\": 1, \"count\": 4294967295}",
                "\"idmap\": {\"uid\": 4294967296, \"gid\": 1, \"count\": 1}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *member = NULL;
                ASSERT_TRUE(asprintf(&member, "\"version\": 1, %s", bad[i]) >= 0);
                assert_bad_member("version", member);
        }

        /* security.privileged must agree with the idmap. */
        assert_bad_member("config", "\"config\": {\"security.privileged\": \"false\"}");
        assert_bad_member("config", "\"config\": {\"security.privileged\": \"true\"}, "
                                    "\"idmap\": {\"uid\": 1000000, \"gid\": 1000000, \"count\": 65536}");
        assert_bad_member("config", "\"config\": {\"security.privileged\": \"yes\"}");

        _cleanup_(instance_metadata_done) InstanceMetadata m = {};
        _cleanup_free_ char *s = doc("config", "\"config\": {\"security.privileged\": \"true\"}");
        ASSERT_OK(instance_metadata_from_json(s, strlen(s), &m, NULL));
        ASSERT_EQ_U(m.idmap.count, 0);
}

TEST(save_load) {
        _cleanup_free_ char *dir = tests_make_tmpdir("test-metadata"), *path = NULL, *msg = NULL;
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {}, other = {};
        struct stat st;

        ASSERT_TRUE(asprintf(&path, "%s/" METADATA_FILE, dir) >= 0);

        InstanceMetadata none = {};
        ASSERT_ERROR(instance_metadata_load(path, &none, &msg), ENOENT);

        sample(&m);
        ASSERT_OK(instance_metadata_save(&m, path));
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 07777, 0644);
        /* No temporary file left behind. */
        ASSERT_EQ(tests_count_entries(dir), 1);

        ASSERT_OK(instance_metadata_load(path, &back, &msg));
        ASSERT_NULL(msg);
        assert_metadata_equal(&m, &back);

        /* Overwrite with different contents. */
        ASSERT_OK(config_map_set(&m.config, "limits.tasks", "100"));
        m.generation++;
        ASSERT_OK(instance_metadata_save(&m, path));
        ASSERT_EQ(tests_count_entries(dir), 1);
        ASSERT_OK(instance_metadata_load(path, &other, NULL));
        assert_metadata_equal(&m, &other);

        /* A corrupt file: -EBADMSG with a message. */
        ASSERT_OK(write_file_atomic(path, "{\"name\": \"web\"", 14, 0644));
        InstanceMetadata bad = {};
        ASSERT_ERROR(instance_metadata_load(path, &bad, &msg), EBADMSG);
        ASSERT_NOT_NULL(msg);

        /* A file above the limit is not even read in full. */
        _cleanup_free_ char *big = malloc(METADATA_SIZE_MAX + 1);
        ASSERT_NOT_NULL(big);
        memset(big, ' ', METADATA_SIZE_MAX + 1);
        ASSERT_OK(write_file_atomic(path, big, METADATA_SIZE_MAX + 1, 0644));
        ASSERT_ERROR(instance_metadata_load(path, &bad, NULL), EFBIG);

        /* Saving into a missing directory fails cleanly. */
        _cleanup_free_ char *missing = NULL;
        ASSERT_TRUE(asprintf(&missing, "%s/nonexistent/" METADATA_FILE, dir) >= 0);
        ASSERT_ERROR(instance_metadata_save(&m, missing), ENOENT);

        ASSERT_OK(rm_rf(dir));
        ASSERT_TRUE(access(dir, F_OK) < 0 && errno == ENOENT);
}

/* ---- the bound save and load share: whatever SetConfig and CreateInstance accept loads back ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(uint32_t n) {
        /* xorshift64*: deterministic, so a failure is reproducible. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return n ? (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 33) % n : 0;
}

/* A value of up to max bytes: ASCII with control characters, quotes and backslashes (each escaped in
 * JSON, up to 6 bytes for one), and valid UTF-8 of 2, 3 and 4 bytes. */
static void random_value(char *buf, size_t max) {
        static const char *const multi[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\xb3", "\xef\xbf\xbf" };
        size_t n = 0, len = rng(4) == 0 ? max : rng((uint32_t) max + 1);
        unsigned kind = rng(4);

        while (n < len) {
                unsigned c = kind == 0 ? 1 + rng(31) : rng(6);
                if (kind != 0 && c == 0 && n + 4 <= len) {
                        const char *m = multi[rng(ELEMENTSOF(multi))];
                        memcpy(buf + n, m, strlen(m));
                        n += strlen(m);
                        continue;
                }
                buf[n++] = kind == 0 ? (char) c : c == 1 ? '"' : c == 2 ? '\\' : c == 3 ? (char) (1 + rng(31)) :
                                                                  (char) (' ' + rng(95));
        }
        buf[n] = 0;
}

static void random_config(ConfigMap *c) {
        unsigned n = rng(3) == 0 ? CONFIG_KEYS_MAX : rng(CONFIG_KEYS_MAX + 1);
        bool long_keys = rng(2);
        static char value[CONFIG_VALUE_MAX + 1];

        for (unsigned i = 0; i < n; i++) {
                char key[CONFIG_KEY_MAX + 1];
                size_t klen;

                /* Printable ASCII after "user.", quotes and backslashes included, up to the key bound. */
                klen = snprintf(key, sizeof key, "user.%u.", i);
                size_t want = long_keys ? CONFIG_KEY_MAX : klen + rng(16);
                while (klen < want)
                        key[klen++] = (char) ('!' + rng(94));
                key[klen] = 0;
                random_value(value, rng(8) == 0 ? CONFIG_DESCRIPTION_MAX : CONFIG_VALUE_MAX);
                if (config_validate(key, value, NULL) < 0)
                        continue;   /* not what a caller can set: not part of the property */
                ASSERT_OK(config_map_set(c, key, value));
        }
}

TEST(accepted_config_round_trips) {
        _cleanup_free_ char *dir = tests_make_tmpdir("test-metadata-bound"), *path = NULL;
        unsigned accepted = 0, refused = 0;

        ASSERT_TRUE(asprintf(&path, "%s/" METADATA_FILE, dir) >= 0);
        for (unsigned round = 0; round < 40; round++) {
                _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
                _cleanup_free_ char *msg = NULL;
                size_t size;
                int r;

                m.name = strdup("a-rather-long-instance-name-0123456789-0123456789-0123456789-x");
                ASSERT_NOT_NULL(m.name);
                m.owner = rng(2) ? 0 : 1000 + rng(100000);
                m.created_at = rng(1u << 31);
                m.generation = 1;
                if (rng(2))
                        m.idmap = (InstanceIdmap) { 1000000, 1000000, 65536 };
                random_config(&m.config);

                r = instance_metadata_check_size(&m, &size);
                if (r == -E2BIG) {
                        ASSERT_TRUE(size > METADATA_SIZE_MAX);
                        /* Nothing that would not load back is ever written. */
                        ASSERT_ERROR(instance_metadata_save(&m, path), E2BIG);
                        refused++;
                        continue;
                }
                ASSERT_OK(r);
                accepted++;
                /* Accepted, then used for years: the counters at their largest still load back. */
                m.generation = m.last_used_at = INT64_MAX;
                ASSERT_OK(instance_metadata_save(&m, path));
                ASSERT_OK(instance_metadata_load(path, &back, &msg));
                ASSERT_NULL(msg);
                assert_metadata_equal(&m, &back);
        }
        printf("%u configs accepted and round-tripped, %u refused as too large\n", accepted, refused);
        ASSERT_TRUE(accepted > 0 && refused > 0);
        ASSERT_OK(rm_rf(dir));
}

/* 255 keys of 4 KiB were accepted by SetConfig, saved, and did not load after a restart: the instance
 * vanished. Now save refuses them, and so does the check SetConfig makes first. */
TEST(too_large_config_is_never_saved) {
        _cleanup_free_ char *dir = tests_make_tmpdir("test-metadata-big"), *path = NULL;
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        static char value[CONFIG_VALUE_MAX + 1];

        ASSERT_TRUE(asprintf(&path, "%s/" METADATA_FILE, dir) >= 0);
        sample(&m);
        config_map_done(&m.config);
        memset(value, 'x', CONFIG_VALUE_MAX);
        for (unsigned i = 0; i < 255; i++) {
                char key[32];
                snprintf(key, sizeof key, "user.k%u", i);
                ASSERT_OK(config_validate(key, value, NULL));
                ASSERT_OK(config_map_set(&m.config, key, value));
        }
        ASSERT_ERROR(instance_metadata_check_size(&m, NULL), E2BIG);
        ASSERT_ERROR(instance_metadata_save(&m, path), E2BIG);
        ASSERT_TRUE(access(path, F_OK) < 0 && errno == ENOENT);

        /* Escaped control characters: 4 KiB of them take 24 KiB of JSON; 64 such values are too many. */
        config_map_done(&m.config);
        memset(value, '\x01', CONFIG_VALUE_MAX);
        for (unsigned i = 0; i < 64; i++) {
                char key[32];
                snprintf(key, sizeof key, "user.c%u", i);
                ASSERT_OK(config_validate(key, value, NULL));
                ASSERT_OK(config_map_set(&m.config, key, value));
        }
        ASSERT_ERROR(instance_metadata_save(&m, path), E2BIG);
        /* 16 of them are fine, and load back unchanged. */
        while (m.config.n > 16)
                ASSERT_TRUE(config_map_unset(&m.config, m.config.entries[m.config.n - 1].key) == 1);
        ASSERT_OK(instance_metadata_check_size(&m, NULL));
        ASSERT_OK(instance_metadata_save(&m, path));
        ASSERT_OK(instance_metadata_load(path, &back, NULL));
        assert_metadata_equal(&m, &back);
        ASSERT_OK(rm_rf(dir));
}

/* Known bugs, kept last because they fail. */

/* More config keys than a ConfigMap holds: from_json() promises -EBADMSG and a message on bad input, but
 * passes on config_map_set()'s -E2BIG without a message. */
TEST(json_too_many_config_keys) {
        _cleanup_free_ char *s = NULL, *msg = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        ASSERT_NOT_NULL(f);
        fputs("{\"name\": \"web\", \"owner\": 0, \"ephemeral\": false, \"created-at\": 1, \"last-used-at\": 1, "
              "\"generation\": 1, \"config\": {", f);
        for (unsigned i = 0; i <= CONFIG_KEYS_MAX; i++)
                fprintf(f, "%s\"user.k%u\": \"v\"", i == 0 ? "" : ", ", i);
        fputs("}}", f);
        ASSERT_EQ(fclose(f), 0);

        InstanceMetadata m = {};
        ASSERT_ERROR(instance_metadata_from_json(s, n, &m, &msg), EBADMSG);
        ASSERT_NOT_NULL(msg);
        ASSERT_NULL(m.name);
}

/* json-glib decodes \u0000 into a NUL byte, and the C string stops there: "web\u0000x" loads as the
 * valid name "web", and "user.a\u0000 b" as the key "user.a". */
TEST(json_embedded_nul) {
        FOREACH_STRING(member, "\"name\": \"web\\u0000x\"") {
                _cleanup_free_ char *s = doc("name", member);
                assert_bad_json(s, strlen(s));
        }
        _cleanup_free_ char *s = doc("config", "\"config\": {\"user.a\\u0000 b\": \"x\"}");
        assert_bad_json(s, strlen(s));
}

/* json-glib parses recursively without a depth limit: about 100000 nested arrays (200 KB, well below
 * METADATA_SIZE_MAX) overflow an 8 MiB stack. Must fail with -EBADMSG, not crash. */
TEST(json_very_deep_nesting) {
        size_t depth = METADATA_SIZE_MAX / 2 - 16;
        _cleanup_free_ char *s = malloc(2 * depth + 1);

        ASSERT_NOT_NULL(s);
        memset(s, '[', depth);
        memset(s + depth, ']', depth);
        s[2 * depth] = 0;

        InstanceMetadata m = {};
        ASSERT_ERROR(instance_metadata_from_json(s, 2 * depth, &m, NULL), EBADMSG);
}

/* Snapshots: round trip, the helpers' refusals, files without the member (older than snapshots) still
 * load, and a bad list is refused. */
TEST(json_snapshots) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *json = NULL;
        char name[16];

        sample(&m);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_FALSE(strstr(json, "snapshots"));    /* none: no member, as older files */
        json = mfree(json);

        ASSERT_OK(instance_metadata_add_snapshot(&m, "first", 1));
        ASSERT_OK(instance_metadata_add_snapshot(&m, "second", UINT64_C(1700000000123456)));
        ASSERT_ERROR(instance_metadata_add_snapshot(&m, "first", 3), EEXIST);
        ASSERT_ERROR(instance_metadata_add_snapshot(&m, "../x", 3), EINVAL);
        ASSERT_ERROR(instance_metadata_add_snapshot(&m, "", 3), EINVAL);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        ASSERT_EQ(back.n_snapshots, 2u);
        ASSERT_STREQ(back.snapshots[0].name, "first");
        ASSERT_EQ_U(back.snapshots[0].created_at, 1);
        ASSERT_STREQ(back.snapshots[1].name, "second");
        ASSERT_EQ_U(back.snapshots[1].created_at, UINT64_C(1700000000123456));
        ASSERT_NOT_NULL(instance_metadata_find_snapshot(&back, "second"));
        ASSERT_NULL(instance_metadata_find_snapshot(&back, "third"));
        ASSERT_OK(instance_metadata_remove_snapshot(&back, "first"));
        ASSERT_ERROR(instance_metadata_remove_snapshot(&back, "first"), ENOENT);
        ASSERT_EQ(back.n_snapshots, 1u);
        ASSERT_STREQ(back.snapshots[0].name, "second");

        for (unsigned k = 2; k < LXCBUS_SNAPSHOTS_MAX; k++) {
                snprintf(name, sizeof name, "s%u", k);
                ASSERT_OK(instance_metadata_add_snapshot(&m, name, k));
        }
        ASSERT_ERROR(instance_metadata_add_snapshot(&m, "one-more", 1), E2BIG);
        ASSERT_OK(instance_metadata_check_size(&m, NULL));

        FOREACH_STRING(member, "\"snapshots\": {}", "\"snapshots\": [1]", "\"snapshots\": [{\"name\": \"a\"}]",
                       "\"snapshots\": [{\"name\": \"../a\", \"created-at\": 1}]",
                       "\"snapshots\": [{\"name\": \"a\", \"created-at\": -1}]",
                       "\"snapshots\": [{\"name\": \"a\", \"created-at\": 1}, {\"name\": \"a\", \"created-at\": 2}]") {
                _cleanup_free_ char *s = doc("version", member);   /* in place of "version" */
                assert_bad_json(s, strlen(s));
        }
}

/* An overlay clone names its lower layer by instance and snapshot, both names: never a path. */
TEST(json_overlay) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *json = NULL;

        sample(&m);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_FALSE(strstr(json, "overlay"));
        json = mfree(json);

        m.overlay_instance = strdup("base");
        m.overlay_snapshot = strdup("golden-1");
        ASSERT_NOT_NULL(m.overlay_instance);
        ASSERT_NOT_NULL(m.overlay_snapshot);
        ASSERT_OK(instance_metadata_to_json(&m, &json));
        ASSERT_CONTAINS(json, "\"instance\" : \"base\"");
        ASSERT_OK(instance_metadata_from_json(json, strlen(json), &back, NULL));
        assert_metadata_equal(&m, &back);
        ASSERT_STREQ(back.overlay_instance, "base");
        ASSERT_STREQ(back.overlay_snapshot, "golden-1");

        FOREACH_STRING(member, "\"overlay\": 1", "\"overlay\": {}", "\"overlay\": {\"instance\": \"base\"}",
                       "\"overlay\": {\"instance\": \"../base\", \"snapshot\": \"s\"}",
                       "\"overlay\": {\"instance\": \"base\", \"snapshot\": \"/etc\"}",
                       "\"overlay\": {\"instance\": \"base\", \"snapshot\": 7}") {
                _cleanup_free_ char *s = doc("version", member);   /* in place of "version" */
                assert_bad_json(s, strlen(s));
        }
}
