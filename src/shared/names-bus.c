/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance object paths (names.h). Apart from names.c, which the start hook links: it must need no
 * libsystemd (its loading was a millisecond of every start). */
#include <systemd/sd-bus.h>

#include "macro.h"
#include "names.h"

int instance_path_from_name(const char *name, char **ret) {
        if (!instance_name_is_valid(name))
                return -EINVAL;
        return sd_bus_path_encode(LXCBUS_INSTANCE_PREFIX, name, ret);
}

int instance_name_from_path(const char *path, char **ret) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = sd_bus_path_decode(path, LXCBUS_INSTANCE_PREFIX, &name);
        if (r < 0)
                return r;
        if (r == 0 || !instance_name_is_valid(name))
                return -ENXIO;
        /* One object, one path: "_77eb" or a trailing "_00junk" decode to "web" too. */
        _cleanup_free_ char *canonical = NULL;
        r = sd_bus_path_encode(LXCBUS_INSTANCE_PREFIX, name, &canonical);
        if (r < 0)
                return r;
        if (!streq(canonical, path))
                return -ENXIO;
        *ret = TAKE_PTR(name);
        return 0;
}
