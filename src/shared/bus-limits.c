/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bus-limits.h"

size_t config_string_stored_size(const char *s) {
        size_t n = 0;

        /* As json-glib escapes a string: quote, backslash and the short control escapes take 2 bytes,
         * any other control character \u00XX takes 6. */
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '"' || *p == '\\' || *p == '\b' || *p == '\f' || *p == '\n' || *p == '\r' || *p == '\t')
                        n += 2;
                else if (*p < 0x20 || *p == 0x7f)
                        n += 6;
                else
                        n++;
        return n;
}

size_t config_map_stored_size(const ConfigMap *c) {
        size_t n = 0;

        for (size_t k = 0; k < c->n; k++)
                n += config_string_stored_size(c->entries[k].key) + config_string_stored_size(c->entries[k].value);
        return n;
}

static size_t fixed_size(char type) {
        switch (type) {
        case 'y':
                return 1;
        case 'n':
        case 'q':
                return 2;
        case 'b':
        case 'i':
        case 'u':
        case 'h':
                return 4;
        case 'x':
        case 't':
        case 'd':
                return 8;
        default:
                return 0;
        }
}

/* Iterative: the container depth of a D-Bus message is at most 64 anyway, but nothing is on the
 * stack per level. Stops reading as soon as the count passes max, so an oversized call costs no more
 * than max bytes of work. */
int bus_message_arguments_size(sd_bus_message *m, size_t max, size_t *ret) {
        unsigned depth = 0;
        size_t n = 0;
        int r;

        while (n <= max) {
                const char *contents;
                char type;

                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        goto finish;
                if (r == 0) {
                        if (depth == 0)
                                break;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                goto finish;
                        depth--;
                        continue;
                }
                if (type == 'a' && strlen(contents) == 1 && fixed_size(contents[0]) > 0 && contents[0] != 'h') {
                        const void *p;
                        size_t size;

                        r = sd_bus_message_read_array(m, contents[0], &p, &size);
                        if (r < 0)
                                goto finish;
                        n += 4 + size;
                        continue;
                }
                if (type != 0 && strchr("avre", type)) {
                        r = sd_bus_message_enter_container(m, type, contents);
                        if (r < 0)
                                goto finish;
                        depth++;
                        n += type == 'a' ? 4 : type == 'v' ? strlen(contents) + 2 : 0;
                        continue;
                }
                if (type != 0 && strchr("sog", type)) {
                        const char *s;

                        r = sd_bus_message_read_basic(m, type, &s);
                        if (r < 0)
                                goto finish;
                        n += strlen(s) + (type == 'g' ? 2 : 5);
                        continue;
                }
                uint64_t buf;   /* large enough for any fixed type */
                r = sd_bus_message_read_basic(m, type, &buf);
                if (r < 0)
                        goto finish;
                n += fixed_size(type);
        }
        r = 0;
finish:
        {
                int k = sd_bus_message_rewind(m, true);
                if (r >= 0 && k < 0)
                        r = k;
        }
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

void utf8_truncate(char *s, size_t max) {
        size_t n = strlen(s);

        if (n <= max)
                return;
        /* Back over continuation bytes, so the cut never splits a character (sd-bus rejects invalid UTF-8). */
        while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80)
                max--;
        s[max] = 0;
}
