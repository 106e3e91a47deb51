/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* lxcbus.json. Whatever parses must be valid (name, owner, each config pair) and serialize and parse back
 * to the same thing, every field; and serializing that gives the same text again (load -> save -> load ->
 * save is stable). */

#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "metadata.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(instance_metadata_done) InstanceMetadata m = {}, back = {};
        _cleanup_free_ char *msg = NULL, *json = NULL, *json2 = NULL;
        int r;

        /* The input is not NUL-terminated: the parser is told its size. */
        r = instance_metadata_from_json((const char *) data, size, &m, &msg);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -ENOMEM);
                FUZZ_CHECK(!m.name && m.config.n == 0);
                return 0;
        }
        FUZZ_CHECK(!msg);
        FUZZ_CHECK(instance_name_is_valid(m.name));
        FUZZ_CHECK(m.owner != (uid_t) -1);
        for (size_t i = 0; i < m.config.n; i++)
                FUZZ_CHECK(config_validate(m.config.entries[i].key, m.config.entries[i].value, NULL) == 0);

        FUZZ_CHECK(instance_metadata_to_json(&m, &json) == 0);
        r = instance_metadata_from_json(json, strlen(json), &back, NULL);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(streq(m.name, back.name));
        FUZZ_CHECK(m.owner == back.owner);
        FUZZ_CHECK(m.ephemeral == back.ephemeral);
        FUZZ_CHECK(m.created_at == back.created_at);
        FUZZ_CHECK(m.last_used_at == back.last_used_at);
        FUZZ_CHECK(m.generation == back.generation);
        FUZZ_CHECK(m.config.n == back.config.n);
        for (size_t i = 0; i < m.config.n; i++) {
                FUZZ_CHECK(streq(m.config.entries[i].key, back.config.entries[i].key));
                FUZZ_CHECK(streq(m.config.entries[i].value, back.config.entries[i].value));
        }
        FUZZ_CHECK(config_map_equal(&m.config, &back.config));
        for (size_t i = 1; i < m.config.n; i++)
                FUZZ_CHECK(strcmp(m.config.entries[i - 1].key, m.config.entries[i].key) < 0);
        FUZZ_CHECK(m.idmap.uid == back.idmap.uid && m.idmap.gid == back.idmap.gid && m.idmap.count == back.idmap.count);

        FUZZ_CHECK(instance_metadata_to_json(&back, &json2) == 0);
        FUZZ_CHECK(streq(json, json2));
        return 0;
}
