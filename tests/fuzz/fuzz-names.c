/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Instance names, their object paths and unit names. The input is tried both as a name and as an object
 * path. */

#include <string.h>
#include <systemd/sd-bus.h>

#include "fuzz.h"
#include "macro.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *path = NULL, *back = NULL, *unit = NULL, *name = NULL;
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

        /* As an object path: whatever decodes must be a valid name. (That the encoding is canonical is not
         * checked: see name_from_path_only_canonical in test-names.c.) */
        r = instance_name_from_path(s, &name);
        if (r >= 0) {
                _cleanup_free_ char *again = NULL;

                FUZZ_CHECK(instance_name_is_valid(name));
                FUZZ_CHECK(instance_path_from_name(name, &again) >= 0);
        } else
                FUZZ_CHECK(!name);
        return 0;
}
