/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bus-options.h"
#include "macro.h"
#include "tests.h"
#include "util.h"

/* sd_bus_message_new_method_call() wants a bus that is at least started (an unstarted one gives
 * -ENOTCONN), but not a connected peer: give it one end of a socketpair. Messages built on it can be
 * sealed and read back, which is all bus_read_options() needs. */
static sd_bus *test_bus;
static int test_peer_fd = -EBADF;

static sd_bus *get_bus(void) {
        int sv[2];

        if (test_bus)
                return test_bus;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(sd_bus_new(&test_bus));
        ASSERT_OK(sd_bus_set_fd(test_bus, sv[0], sv[0])); /* the bus owns sv[0] from here */
        ASSERT_OK(sd_bus_start(test_bus));
        test_peer_fd = sv[1];
        return test_bus;
}

__attribute__((destructor)) static void put_bus(void) {
        test_bus = sd_bus_close_unref(test_bus);
        test_peer_fd = safe_close(test_peer_fd);
}

static sd_bus_message *new_message(void) {
        sd_bus_message *m = NULL;

        ASSERT_OK(sd_bus_message_new_method_call(get_bus(), &m, "org.lxcbus1", "/org/lxcbus1",
                                                 "org.lxcbus1.Manager", "Test"));
        return m;
}

/* Seals the message and rewinds it, so it reads like one that arrived. */
static void seal(sd_bus_message *m) {
        ASSERT_OK(sd_bus_message_seal(m, 1, 0));
        ASSERT_OK(sd_bus_message_rewind(m, true));
}

typedef struct Opts {
        int async;
        int force;
        uint32_t timeout;
        int32_t prio;
        uint64_t generation;
        char *text;
        char **list;
        bool have_async, have_force, have_timeout, have_prio, have_generation, have_text, have_list;
} Opts;

static void opts_done(Opts *o) {
        free(o->text);
        strv_free(o->list);
        *o = (Opts) {};
}

#define OPTION_TABLE(o)                                                                         \
        (const BusOption[]) {                                                                   \
                { "async", "b", &(o)->async, &(o)->have_async },                                \
                { "force", "b", &(o)->force, &(o)->have_force },                                \
                { "timeout-sec", "u", &(o)->timeout, &(o)->have_timeout },                      \
                { "priority", "i", &(o)->prio, &(o)->have_prio },                               \
                { "expected-generation", "t", &(o)->generation, &(o)->have_generation },        \
                { "text", "s", &(o)->text, &(o)->have_text },                                   \
                { "args", "as", &(o)->list, &(o)->have_list },                                  \
                {}                                                                              \
        }

TEST(empty) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(opts_done) Opts o = { .timeout = 60, .async = 7 };

        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 0));
        seal(m);
        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
        ASSERT_FALSE(sd_bus_error_is_set(&error));
        /* Defaults stay, nothing is marked present. */
        ASSERT_EQ(o.timeout, 60);
        ASSERT_EQ(o.async, 7);
        ASSERT_FALSE(o.have_async || o.have_force || o.have_timeout || o.have_prio || o.have_generation ||
                     o.have_text || o.have_list);
        /* The whole array was consumed. */
        ASSERT_TRUE(sd_bus_message_at_end(m, true) > 0);
}

TEST(all_types) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(opts_done) Opts o = {};

        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 7,
                                        "async", "b", 1,
                                        "force", "b", 0,
                                        "timeout-sec", "u", UINT32_MAX,
                                        "priority", "i", INT32_MIN,
                                        "expected-generation", "t", UINT64_MAX,
                                        "text", "s", "h\xc3\xa9llo",
                                        "args", "as", 3, "one", "", "three"));
        /* Something after the dictionary is left for the caller. */
        ASSERT_OK(sd_bus_message_append(m, "s", "after"));
        seal(m);

        o.force = 5;
        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
        ASSERT_FALSE(sd_bus_error_is_set(&error));
        ASSERT_EQ(o.async, 1);
        ASSERT_EQ(o.force, 0); /* 'b' is read into an int: all of it is written */
        ASSERT_EQ_U(o.timeout, UINT32_MAX);
        ASSERT_EQ(o.prio, INT32_MIN);
        ASSERT_EQ_U(o.generation, UINT64_MAX);
        ASSERT_STREQ(o.text, "h\xc3\xa9llo");
        ASSERT_EQ(strv_length(o.list), 3);
        ASSERT_STREQ(o.list[0], "one");
        ASSERT_STREQ(o.list[1], "");
        ASSERT_STREQ(o.list[2], "three");
        ASSERT_NULL(o.list[3]);
        ASSERT_TRUE(o.have_async && o.have_force && o.have_timeout && o.have_prio && o.have_generation &&
                    o.have_text && o.have_list);

        const char *s;
        ASSERT_EQ(sd_bus_message_read(m, "s", &s), 1);
        ASSERT_STREQ(s, "after");
}

TEST(strings_are_copies) {
        _cleanup_(opts_done) Opts o = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = new_message();

        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 2, "text", "s", "abc", "args", "as", 1, "x"));
        seal(m);
        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
        /* The values outlive the message. */
        m = sd_bus_message_unref(m);
        ASSERT_STREQ(o.text, "abc");
        ASSERT_STREQ(o.list[0], "x");
}

TEST(empty_array_gives_empty_strv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(opts_done) Opts o = {};

        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, "args", "as", 0));
        seal(m);
        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
        ASSERT_TRUE(o.have_list);
        ASSERT_NOT_NULL(o.list);
        ASSERT_EQ(strv_length(o.list), 0);
}

TEST(repeated_key_replaces) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(opts_done) Opts o = {};

        /* The earlier values are freed, not leaked (valgrind and ASan check that). */
        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 4,
                                        "text", "s", "first",
                                        "args", "as", 2, "a", "b",
                                        "text", "s", "second",
                                        "args", "as", 1, "c"));
        seal(m);
        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
        ASSERT_STREQ(o.text, "second");
        ASSERT_EQ(strv_length(o.list), 1);
        ASSERT_STREQ(o.list[0], "c");
}

static void assert_invalid_args(sd_bus_message *m, Opts *o, const char *needle) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        seal(m);
        r = bus_read_options(m, OPTION_TABLE(o), &error);
        ASSERT_TRUE(r < 0);
        ASSERT_TRUE(sd_bus_error_is_set(&error));
        ASSERT_STREQ(error.name, SD_BUS_ERROR_INVALID_ARGS);
        ASSERT_EQ(-r, sd_bus_error_get_errno(&error));
        ASSERT_EQ(r, -EINVAL);
        printf("  %s\n", error.message);
        ASSERT_CONTAINS(error.message, needle);
}

TEST(unknown_key) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(opts_done) Opts o = {};

        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 2, "async", "b", 1, "bogus", "b", 1));
        assert_invalid_args(m, &o, "'bogus'");

        /* Keys are case sensitive. */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m2 = new_message();
        ASSERT_OK(sd_bus_message_append(m2, "a{sv}", 1, "Async", "b", 1));
        assert_invalid_args(m2, &o, "'Async'");

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m3 = new_message();
        ASSERT_OK(sd_bus_message_append(m3, "a{sv}", 1, "", "b", 1));
        assert_invalid_args(m3, &o, "''");
}

/* An unknown key is the caller's text: a long or unprintable one is not echoed into the error (which
 * would make the reply as large as the request, beyond the bus's limit for a request at the limit, and
 * carry control characters into logs and terminals). */
TEST(unknown_key_not_echoed) {
        _cleanup_free_ char *huge = malloc(1024 * 1024 + 1);
        ASSERT_NOT_NULL(huge);
        memset(huge, 'k', 1024 * 1024);
        huge[1024 * 1024] = 0;
        const char *keys[] = { huge, "esc\x1b[2Jape", "new\nline", "caf\xc3\xa9" };

        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(opts_done) Opts o = {};

                ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, keys[k], "b", 1));
                seal(m);
                ASSERT_ERROR(bus_read_options(m, OPTION_TABLE(&o), &error), EINVAL);
                ASSERT_STREQ(error.name, SD_BUS_ERROR_INVALID_ARGS);
                printf("  %s\n", error.message);
                ASSERT_TRUE(strlen(error.message) <= 256);
                for (const char *c = error.message; *c; c++)
                        ASSERT_TRUE(*c >= 0x20 && *c < 0x7f);
                ASSERT_CONTAINS(error.message, "Unknown option");
        }
}

TEST(wrong_variant_type) {
        static const struct {
                const char *key;
                char type;
        } cases[] = {
                { "async", 'u' }, { "async", 's' }, { "timeout-sec", 'i' }, { "timeout-sec", 't' },
                { "timeout-sec", 'b' }, { "priority", 'u' }, { "expected-generation", 'u' },
                { "text", 'o' }, { "text", 'g' }, { "args", 's' }, { "force", 'y' },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(opts_done) Opts o = {};
                char sig[2] = { cases[i].type, 0 };

                ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
                ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
                ASSERT_OK(sd_bus_message_append(m, "s", cases[i].key));
                ASSERT_OK(sd_bus_message_open_container(m, 'v', sig));
                switch (cases[i].type) {
                case 's':
                        ASSERT_OK(sd_bus_message_append(m, "s", "x"));
                        break;
                case 'o':
                        ASSERT_OK(sd_bus_message_append(m, "o", "/x"));
                        break;
                case 'g':
                        ASSERT_OK(sd_bus_message_append(m, "g", "s"));
                        break;
                case 'y':
                        ASSERT_OK(sd_bus_message_append(m, "y", 1));
                        break;
                case 't':
                        ASSERT_OK(sd_bus_message_append(m, "t", UINT64_C(1)));
                        break;
                default: /* b, i, u: an int-sized argument */
                        ASSERT_OK(sd_bus_message_append_basic(m, cases[i].type, &(int) { 1 }));
                }
                ASSERT_OK(sd_bus_message_close_container(m));
                ASSERT_OK(sd_bus_message_close_container(m));
                ASSERT_OK(sd_bus_message_close_container(m));

                assert_invalid_args(m, &o, cases[i].key);
                ASSERT_FALSE(o.have_async || o.have_force || o.have_timeout || o.have_prio ||
                             o.have_generation || o.have_text || o.have_list);
        }

        /* Container types other than "as". */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(opts_done) Opts o = {};
        ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, "args", "au", 2, 1, 2));
        assert_invalid_args(m, &o, "'args'");

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m2 = new_message();
        ASSERT_OK(sd_bus_message_append(m2, "a{sv}", 1, "args", "a{ss}", 1, "k", "v"));
        assert_invalid_args(m2, &o, "'args'");

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m3 = new_message();
        ASSERT_OK(sd_bus_message_append(m3, "a{sv}", 1, "text", "v", "s", "nested"));
        assert_invalid_args(m3, &o, "'text'");
}

TEST(size_limits) {
        _cleanup_free_ char *big = malloc(BUS_OPTIONS_VALUE_MAX + 2);

        ASSERT_NOT_NULL(big);
        memset(big, 'x', BUS_OPTIONS_VALUE_MAX + 1);

        /* A string at the limit is fine, one byte more is not. */
        big[BUS_OPTIONS_VALUE_MAX] = 0;
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(opts_done) Opts o = {};

                ASSERT_OK(sd_bus_message_append(m, "a{sv}", 2, "text", "s", big, "args", "as", 1, big));
                seal(m);
                ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
                ASSERT_EQ(strlen(o.text), BUS_OPTIONS_VALUE_MAX);
                ASSERT_EQ(strlen(o.list[0]), BUS_OPTIONS_VALUE_MAX);
        }
        big[BUS_OPTIONS_VALUE_MAX] = 'x';
        big[BUS_OPTIONS_VALUE_MAX + 1] = 0;
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(opts_done) Opts o = {};

                ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, "text", "s", big));
                assert_invalid_args(m, &o, "'text'");
                ASSERT_NULL(o.text);
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(opts_done) Opts o = {};

                ASSERT_OK(sd_bus_message_append(m, "a{sv}", 1, "args", "as", 2, "ok", big));
                assert_invalid_args(m, &o, "'args'");
                ASSERT_NULL(o.list);
        }

        /* Arrays: BUS_OPTIONS_ARRAY_MAX elements at most. */
        for (unsigned n = BUS_OPTIONS_ARRAY_MAX; n <= BUS_OPTIONS_ARRAY_MAX + 1; n++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
                _cleanup_(opts_done) Opts o = {};

                ASSERT_OK(sd_bus_message_open_container(m, 'a', "{sv}"));
                ASSERT_OK(sd_bus_message_open_container(m, 'e', "sv"));
                ASSERT_OK(sd_bus_message_append(m, "s", "args"));
                ASSERT_OK(sd_bus_message_open_container(m, 'v', "as"));
                ASSERT_OK(sd_bus_message_open_container(m, 'a', "s"));
                for (unsigned i = 0; i < n; i++)
                        ASSERT_OK(sd_bus_message_append(m, "s", "e"));
                ASSERT_OK(sd_bus_message_close_container(m));
                ASSERT_OK(sd_bus_message_close_container(m));
                ASSERT_OK(sd_bus_message_close_container(m));
                ASSERT_OK(sd_bus_message_close_container(m));

                if (n == BUS_OPTIONS_ARRAY_MAX) {
                        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                        seal(m);
                        ASSERT_OK(bus_read_options(m, OPTION_TABLE(&o), &error));
                        ASSERT_EQ(strv_length(o.list), BUS_OPTIONS_ARRAY_MAX);
                } else {
                        assert_invalid_args(m, &o, "'args'");
                        ASSERT_NULL(o.list);
                }
        }
}

TEST(not_a_dictionary) {
        /* The caller's signature check normally prevents this; still an error, not a crash. */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message();
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(opts_done) Opts o = {};

        ASSERT_OK(sd_bus_message_append(m, "as", 1, "async"));
        seal(m);
        ASSERT_TRUE(bus_read_options(m, OPTION_TABLE(&o), &error) < 0);
        ASSERT_FALSE(o.have_async);
}
