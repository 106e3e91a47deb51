/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Instance names, their object paths and unit names. The input is tried as a name, as an object path, and
 * as the label below the instance prefix (which the fuzzer would rarely find by itself). The path codec is
 * checked both ways: name -> path -> name gives the name, and a path decodes only if it is the one
 * encoding of a valid name (path -> name -> path gives the path: one object, one path). */

#include <string.h>
#include <systemd/sd-bus.h>

#include <stdio.h>

#include "fuzz.h"
#include "macro.h"
#include "names.h"

static void check_path(const char *p) {
        _cleanup_free_ char *name = NULL, *again = NULL;
        int r;

        r = instance_name_from_path(p, &name);
        if (r < 0) {
                FUZZ_CHECK(!name);
                return;
        }
        FUZZ_CHECK(instance_name_is_valid(name));
        FUZZ_CHECK(instance_path_from_name(name, &again) >= 0);
        FUZZ_CHECK(streq(again, p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *path = NULL, *back = NULL, *unit = NULL, *below = NULL;
        bool valid;
        int r;

        if (size > 4096)
                return 0;
        s = fuzz_strndup(data, size);

        /* As a name. */
        valid = instance_name_is_valid(s);
        r = instance_path_from_name(s, &path);
        FUZZ_CHECK(valid == (r >= 0));
        r = instance_unit_name(s, &unit);
        FUZZ_CHECK(valid == (r >= 0));
        if (valid) {
                FUZZ_CHECK(strlen(s) >= 1 && strlen(s) <= INSTANCE_NAME_MAX);
                FUZZ_CHECK(sd_bus_object_path_is_valid(path));
                FUZZ_CHECK(startswith(path, LXCBUS_INSTANCE_PREFIX "/"));
                FUZZ_CHECK(instance_name_from_path(path, &back) >= 0);
                FUZZ_CHECK(streq(back, s));
                FUZZ_CHECK(startswith(unit, "lxcbus-"));
                FUZZ_CHECK(strlen(unit) == strlen(s) + STRLEN("lxcbus-.scope"));
        }

        /* As an object path, and as the label below the prefix. */
        check_path(s);
        if (asprintf(&below, LXCBUS_INSTANCE_PREFIX "/%s", s) < 0)
                abort();
        check_path(below);

        /* The name as shown in messages: nothing, or the name quoted, printable and short. */
        char buf[80];
        const char *shown = instance_name_for_message(s, buf);
        FUZZ_CHECK(shown == buf && strlen(buf) < sizeof buf);
        if (buf[0]) {
                FUZZ_CHECK(startswith(buf, " '") && buf[strlen(buf) - 1] == '\'');
                FUZZ_CHECK(strlen(buf) == strlen(s) + 3 && strncmp(buf + 2, s, strlen(s)) == 0);
                for (const char *p = buf; *p; p++)
                        FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
        }
        if (valid)
                FUZZ_CHECK(buf[0]);
        return 0;
}
