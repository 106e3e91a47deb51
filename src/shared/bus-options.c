/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus-options.h"
#include "macro.h"
#include "util.h"

static int read_strv(sd_bus_message *m, const char *key, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                if (n >= BUS_OPTIONS_ARRAY_MAX || strlen(s) > BUS_OPTIONS_VALUE_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' is too large.", key);
                r = strv_extend(&l, s);
                if (r < 0)
                        return r;
                n++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        strv_free(*(char ***) ret);
        *ret = TAKE_PTR(l);
        return 0;
}

/* The caller's text goes into an error message only when short and printable: the reply must not grow
 * with the request (one at the bus's size limit would get a reply beyond it), and a key is shown in
 * logs and terminals. Known keys are all far shorter. */
#define BUS_OPTIONS_SHOWN_MAX 64

static bool shown(const char *s) {
        size_t n = strlen(s);

        if (n > BUS_OPTIONS_SHOWN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f)
                        return false;
        return true;
}

int bus_read_options(sd_bus_message *m, const BusOption *options, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const BusOption *o;
                const char *key, *contents;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                for (o = options; o->name; o++)
                        if (streq(o->name, key))
                                break;
                if (!o->name)
                        return shown(key) ? sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%s'.", key)
                                          : sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                              "Unknown option (a key of %zu bytes, not shown).",
                                                              strlen(key));
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (!streq(contents, o->type))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be of type '%s', not '%s'.", key, o->type,
                                                 shown(contents) ? contents : "(a longer type)");
                r = sd_bus_message_enter_container(m, 'v', o->type);
                if (r < 0)
                        return r;
                switch (o->type[0]) {
                case 'b':
                case 'u':
                case 'i':
                case 't':
                        r = sd_bus_message_read_basic(m, o->type[0], o->ret);
                        break;
                case 's': {
                        const char *s;
                        r = sd_bus_message_read_basic(m, 's', &s);
                        if (r < 0)
                                return r;
                        if (strlen(s) > BUS_OPTIONS_VALUE_MAX)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' is too long.", key);
                        char *c = strdup(s);
                        if (!c)
                                return -ENOMEM;
                        free(*(char **) o->ret);
                        *(char **) o->ret = c;
                        break;
                }
                case 'a':
                        r = read_strv(m, key, o->ret, error);
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                if (o->present)
                        *o->present = true;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

int bus_read_dict(sd_bus_message *m, BusDictReader read, void *userdata) {
        const char *key;
        int r;

        assert(m);
        assert(read);

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = read(m, key, userdata);
                if (r == 0)
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_append_string_pairs(sd_bus_message *m, char **pairs) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (char **p = pairs; p && p[0] && p[1]; p += 2) {
                r = sd_bus_message_append(m, "{ss}", p[0], p[1]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int bus_open_keyed_variant(sd_bus_message *m, char type, const char *key, const char *contents) {
        int r;

        assert(m);
        assert(IN_SET(type, 'e', 'r'));
        assert(key);
        assert(contents);

        r = sd_bus_message_open_container(m, type, "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', key);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(m, 'v', contents);
}

int bus_close_containers(sd_bus_message *m, unsigned n) {
        int r = 0;

        assert(m);

        for (unsigned k = 0; r >= 0 && k < n; k++)
                r = sd_bus_message_close_container(m);
        return r;
}
