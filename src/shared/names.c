/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "macro.h"
#include "names.h"

static bool ascii_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_alnum(char c) {
        return ascii_alpha(c) || (c >= '0' && c <= '9');
}

bool instance_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n < 1 || n > INSTANCE_NAME_MAX)
                return false;
        if (!ascii_alpha(name[0]) || name[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!ascii_alnum(name[i]) && name[i] != '-')
                        return false;
        return true;
}

int instance_unit_name(const char *name, char **ret) {
        char *s;

        if (!instance_name_is_valid(name))
                return -EINVAL;
        if (asprintf(&s, "lxcbus-%s.scope", name) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

const char *instance_name_for_message(const char *name, char buf[static 80]) {
        size_t n = name ? strlen(name) : 0;

        buf[0] = 0;
        if (n == 0 || n > 70)
                return buf;
        for (size_t i = 0; i < n; i++)
                if (name[i] < 0x20 || name[i] >= 0x7f || name[i] == '\'')
                        return buf;
        snprintf(buf, 80, " '%s'", name);
        return buf;
}

bool machine_name_is_valid(const char *name) {
        bool dot = true, hyphen = true;     /* at a label's start */
        size_t n = 0;

        /* systemd's hostname_is_valid(name, 0), which machined applies: dot-separated labels of
         * [a-zA-Z0-9-], none empty, none starting or ending with '-'; at most 64 bytes. ".host" is
         * machined's name for the host itself, refused here as every leading dot is. */
        if (!name || !*name)
                return false;
        for (const char *p = name; *p; p++, n++)
                if (*p == '.') {
                        if (dot || hyphen)
                                return false;
                        dot = true;
                        hyphen = false;
                } else if (*p == '-') {
                        if (dot)
                                return false;
                        hyphen = true;
                } else {
                        if (!ascii_alnum(*p))
                                return false;
                        dot = hyphen = false;
                }
        return !dot && !hyphen && n <= 64;
}
