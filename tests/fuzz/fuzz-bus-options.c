/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* a{sv} option dictionaries: bus_read_options() with the daemon's option tables. The input is a small
 * program that builds the dictionary:
 *
 *   byte 0           which table (those of the daemon's methods, see tables[])
 *   then per entry   KEY TYPE VALUE
 *     KEY            < 0xf0: one of the table's keys or of a few near misses; 0xf0..0xfe: LEN (1 byte)
 *                    bytes of name; 0xff: a string as VALUE has it (long keys)
 *     TYPE           one of types[]: the table's types, other basic types, variants in variants,
 *                    dictionaries, structs, byte arrays
 *     VALUE          the bytes the type needs; a string is LEN (2 bytes, big endian) and a fill byte, or,
 *                    with the top bit of LEN set, LEN & 0x7fff bytes of input; a list is COUNT (2 bytes)
 *                    strings
 *
 * A model says what must happen: the first unknown key, mistyped value or too large value fails the call
 * with InvalidArgs, and then nothing else is claimed; otherwise it succeeds without an error and every
 * option holds the last value given for it. Never both an error and success. */

#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bus-options.h"
#include "fuzz.h"
#include "macro.h"
#include "util.h"

typedef struct Table {
        const char *names[9];
        const char *types[9];
} Table;

/* As in src/daemon/{manager,instance}-dbus.c and console.c. Exec ends at "rows" (NULL there for Exec,
 * the same table for ExecPty). */
static const Table tables[] = {
        { { "type", "template", "args" }, { "s", "s", "as" } },                    /* CreateInstance source */
        { { "async", "ephemeral" }, { "b", "b" } },                                 /* CreateInstance */
        { { "timeout-sec", "async" }, { "u", "b" } },                               /* Start */
        { { "timeout-sec", "force", "async" }, { "u", "b", "b" } },                 /* Stop */
        { { "force", "async" }, { "b", "b" } },                                     /* Destroy */
        { { "expected-generation" }, { "t" } },                                     /* SetConfig */
        { { "clear" }, { "b" } },                                                   /* ConsoleLog */
        { { "cwd", "uid", "gid", "env-clear", "kill-on-disconnect" }, { "s", "u", "u", "b", "b" } }, /* Exec */
        { { "cwd", "uid", "gid", "env-clear", "kill-on-disconnect", "rows", "cols", "term" },
          { "s", "u", "u", "b", "b", "u", "u", "s" } },                             /* ExecPty */
        { { "priority" }, { "i" } },                                                /* (every type once) */
};

static const char *const near_misses[] = { "", "Async", "async ", "rows", "timeout", "args\n", "\xc3\xa9" };

static const char *const types[] = {
        "b", "u", "i", "t", "s", "as", "y", "n", "q", "x", "d", "o", "g", "v", "a{sv}", "(s)", "ay", "aas",
};

typedef struct Slot {
        int b;
        uint32_t u;
        int32_t i;
        uint64_t t;
        char *s;
        char **as;
        bool present;
} Slot;

/* What the model expects of an option. */
typedef struct Expect {
        bool present;
        uint64_t num;
        char *s;
        char **as;
} Expect;

typedef struct Input {
        const uint8_t *p;
        size_t left;
} Input;

static uint8_t next_byte(Input *in) {
        if (in->left == 0)
                return 0;
        in->left--;
        return *in->p++;
}

static uint16_t next_u16(Input *in) {
        uint16_t hi = next_byte(in);
        return (uint16_t) (hi << 8 | next_byte(in));
}

static uint64_t next_u64(Input *in) {
        uint64_t v = 0;
        for (size_t k = 0; k < 8; k++)
                v = v << 8 | next_byte(in);
        return v;
}

/* A string as described at the top (may contain anything, even NUL: then appending it fails). */
static char *next_string(Input *in) {
        uint16_t len = next_u16(in);
        size_t n = len & 0x7fff;
        char *s = malloc(n + 1);

        if (!s)
                abort();
        if (len & 0x8000) {
                n = MIN(n, in->left);
                memcpy(s, in->p, n);
                in->p += n;
                in->left -= n;
        } else
                memset(s, next_byte(in) | 0x20, n);   /* | 0x20: never NUL, some non-ASCII */
        s[n] = 0;
        return s;
}

static sd_bus *get_bus(void) {
        static sd_bus *bus;
        int sv[2];

        if (bus)
                return bus;
        /* A started bus on one end of a socketpair: messages can be built, sealed and read back. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, sv[0], sv[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}

/* Appends one value of type t; 1 if its value is one the parser must accept (for the table's types),
 * 0 if it is too large, < 0 if sd-bus refused it (the input is then skipped). num, s and as get the value. */
static int append_value(sd_bus_message *m, const char *t, Input *in, uint64_t *num, char **s, char ***as) {
        int r;

        if (streq(t, "b")) {
                int b = next_byte(in) & 1;
                *num = (uint64_t) b;
                return sd_bus_message_append_basic(m, 'b', &b) < 0 ? -1 : 1;
        }
        if (streq(t, "u") || streq(t, "i")) {
                uint32_t u = (uint32_t) next_u64(in);
                *num = streq(t, "u") ? u : (uint64_t) (int64_t) (int32_t) u;
                return sd_bus_message_append_basic(m, t[0], &u) < 0 ? -1 : 1;
        }
        if (streq(t, "t") || streq(t, "x") || streq(t, "d")) {
                uint64_t v = next_u64(in);
                *num = v;
                return sd_bus_message_append_basic(m, t[0], &v) < 0 ? -1 : 1;
        }
        if (streq(t, "y") || streq(t, "n") || streq(t, "q")) {
                uint16_t v = next_u16(in);
                return sd_bus_message_append_basic(m, t[0], &v) < 0 ? -1 : 1;
        }
        if (streq(t, "o"))
                return sd_bus_message_append_basic(m, 'o', "/org/lxcbus1") < 0 ? -1 : 1;
        if (streq(t, "g"))
                return sd_bus_message_append_basic(m, 'g', "a{sv}") < 0 ? -1 : 1;
        if (streq(t, "s")) {
                *s = next_string(in);
                if (sd_bus_message_append_basic(m, 's', *s) < 0)
                        return -1;
                return strlen(*s) <= BUS_OPTIONS_VALUE_MAX;
        }
        if (streq(t, "as") || streq(t, "aas")) {
                size_t n = next_u16(in) % 512;
                bool ok = n <= BUS_OPTIONS_ARRAY_MAX;

                *as = calloc(n + 1, sizeof(char *));
                if (!*as)
                        abort();
                if (sd_bus_message_open_container(m, 'a', t + 1) < 0)
                        return -1;
                for (size_t k = 0; k < n; k++) {
                        (*as)[k] = next_string(in);
                        if (strlen((*as)[k]) > BUS_OPTIONS_VALUE_MAX)
                                ok = false;
                        r = streq(t, "as") ? sd_bus_message_append_basic(m, 's', (*as)[k])
                                           : sd_bus_message_append_strv(m, (char *[]) { (*as)[k], NULL });
                        if (r < 0)
                                return -1;
                }
                if (sd_bus_message_close_container(m) < 0)
                        return -1;
                return ok;
        }
        if (streq(t, "ay")) {
                size_t n = next_byte(in);
                uint8_t buf[256];
                for (size_t k = 0; k < n; k++)
                        buf[k] = next_byte(in);
                return sd_bus_message_append_array(m, 'y', buf, n) < 0 ? -1 : 1;
        }
        if (streq(t, "(s)")) {
                _cleanup_free_ char *x = next_string(in);
                return sd_bus_message_append(m, "(s)", x) < 0 ? -1 : 1;
        }
        if (streq(t, "a{sv}")) {
                if (sd_bus_message_open_container(m, 'a', "{sv}") < 0 ||
                    sd_bus_message_append(m, "{sv}", "async", "b", 1) < 0 || sd_bus_message_close_container(m) < 0)
                        return -1;
                return 1;
        }
        if (streq(t, "v")) {
                /* A variant in a variant, up to a few levels, with some value at the bottom. */
                const char *inner = types[next_byte(in) % ELEMENTSOF(types)];
                _cleanup_free_ char *is = NULL;
                _cleanup_strv_free_ char **ias = NULL;
                uint64_t inum;

                if (sd_bus_message_open_container(m, 'v', inner) < 0)
                        return -1;
                r = append_value(m, inner, in, &inum, &is, &ias);
                if (r < 0 || sd_bus_message_close_container(m) < 0)
                        return -1;
                return 1;
        }
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Input in = { data, size };
        Slot slots[9] = {};
        Expect expect[9] = {};
        BusOption options[10] = {};
        bool model_ok = true;
        size_t n_opts = 0, n_entries = 0;
        int r;

        if (size > 256 * 1024)
                return 0;
        const Table *table = &tables[next_byte(&in) % ELEMENTSOF(tables)];
        for (; n_opts < ELEMENTSOF(table->names) && table->names[n_opts]; n_opts++) {
                void *ret;

                switch (table->types[n_opts][0]) {
                case 'b': ret = &slots[n_opts].b; break;
                case 'u': ret = &slots[n_opts].u; break;
                case 'i': ret = &slots[n_opts].i; break;
                case 't': ret = &slots[n_opts].t; break;
                case 's': ret = &slots[n_opts].s; break;
                default: ret = &slots[n_opts].as; break;
                }
                options[n_opts] = (BusOption) { table->names[n_opts], table->types[n_opts], ret, &slots[n_opts].present };
        }

        if (sd_bus_message_new_method_call(get_bus(), &m, "org.lxcbus1", "/org/lxcbus1", "org.lxcbus1.Manager",
                                           "Fuzz") < 0 ||
            sd_bus_message_open_container(m, 'a', "{sv}") < 0)
                abort();

        while (in.left > 0 && n_entries++ < 64) {
                _cleanup_free_ char *key_owned = NULL, *s = NULL;
                _cleanup_strv_free_ char **as = NULL;
                const char *key, *type;
                uint64_t num = 0;
                uint8_t k = next_byte(&in);

                if (k == 0xff)
                        key = key_owned = next_string(&in);   /* up to 32767 bytes */
                else if (k >= 0xf0) {
                        size_t len = next_byte(&in);

                        len = MIN(len, in.left);
                        key_owned = fuzz_strndup(in.p, len);
                        in.p += len;
                        in.left -= len;
                        key = key_owned;
                } else if (k % (n_opts + ELEMENTSOF(near_misses)) < n_opts)
                        key = table->names[k % (n_opts + ELEMENTSOF(near_misses))];
                else
                        key = near_misses[k % (n_opts + ELEMENTSOF(near_misses)) - n_opts];
                type = types[next_byte(&in) % ELEMENTSOF(types)];

                if (sd_bus_message_open_container(m, 'e', "sv") < 0 || sd_bus_message_append_basic(m, 's', key) < 0 ||
                    sd_bus_message_open_container(m, 'v', type) < 0)
                        goto finish;   /* not a valid string: sd-bus would not have delivered it */
                r = append_value(m, type, &in, &num, &s, &as);
                if (r < 0 || sd_bus_message_close_container(m) < 0 || sd_bus_message_close_container(m) < 0)
                        goto finish;
                if (!model_ok)
                        continue;

                size_t o;
                for (o = 0; o < n_opts; o++)
                        if (streq(table->names[o], key))
                                break;
                if (o == n_opts || !streq(table->types[o], type) || r == 0) {
                        model_ok = false;   /* unknown, mistyped or too large: the call fails here */
                        continue;
                }
                expect[o].present = true;
                expect[o].num = num;
                free(expect[o].s);
                expect[o].s = TAKE_PTR(s);
                strv_free(expect[o].as);
                expect[o].as = TAKE_PTR(as);
        }
        if (sd_bus_message_close_container(m) < 0 || sd_bus_message_seal(m, 1, 0) < 0 ||
            sd_bus_message_rewind(m, true) < 0)
                abort();

        r = bus_read_options(m, options, &error);
        if (r < 0) {
                FUZZ_CHECK(!model_ok);
                FUZZ_CHECK(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
                /* The message names the key, but never echoes a huge or unprintable one back. */
                FUZZ_CHECK(error.message && strlen(error.message) <= 256);
                for (const char *c = error.message; *c; c++)
                        FUZZ_CHECK((unsigned char) *c >= 0x20 && (unsigned char) *c < 0x7f);
        } else {
                FUZZ_CHECK(model_ok);
                FUZZ_CHECK(!sd_bus_error_is_set(&error));
                for (size_t o = 0; o < n_opts; o++) {
                        FUZZ_CHECK(slots[o].present == expect[o].present);
                        if (!expect[o].present)
                                continue;
                        switch (table->types[o][0]) {
                        case 'b': FUZZ_CHECK(slots[o].b == (int) expect[o].num); break;
                        case 'u': FUZZ_CHECK(slots[o].u == (uint32_t) expect[o].num); break;
                        case 'i': FUZZ_CHECK(slots[o].i == (int32_t) expect[o].num); break;
                        case 't': FUZZ_CHECK(slots[o].t == expect[o].num); break;
                        case 's': FUZZ_CHECK(streq(slots[o].s, expect[o].s)); break;
                        default:
                                FUZZ_CHECK(strv_length(slots[o].as) == strv_length(expect[o].as));
                                for (size_t k = 0; expect[o].as[k]; k++)
                                        FUZZ_CHECK(streq(slots[o].as[k], expect[o].as[k]));
                        }
                }
        }

finish:
        for (size_t o = 0; o < ELEMENTSOF(slots); o++) {
                free(slots[o].s);
                strv_free(slots[o].as);
                free(expect[o].s);
                strv_free(expect[o].as);
        }
        return 0;
}
