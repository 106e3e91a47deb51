/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "config.h"
#include "ctl-util.h"
#include "ctl.h"
#include "macro.h"
#include "tests.h"
#include "util.h"

/* Pure helpers of lxcbusctl (ctl-util.h), and its option table (ctl.h). */

static void reset_pair(char **k, char **v) {
        free(*k);
        free(*v);
        *k = *v = NULL;
}

TEST(parse_key_value) {
        _cleanup_free_ char *k = NULL, *v = NULL;

        ASSERT_TRUE(ctl_parse_key_value("limits.memory=1G", &k, &v) == 0);
        ASSERT_TRUE(streq_ptr(k, "limits.memory") && streq_ptr(v, "1G"));
        reset_pair(&k, &v);

        /* Only the first '=' splits. */
        ASSERT_TRUE(ctl_parse_key_value("environment.X=a=b", &k, &v) == 0);
        ASSERT_TRUE(streq_ptr(k, "environment.X") && streq_ptr(v, "a=b"));
        reset_pair(&k, &v);

        /* An empty value is a value. */
        ASSERT_TRUE(ctl_parse_key_value("description=", &k, &v) == 0);
        ASSERT_TRUE(streq_ptr(k, "description") && streq_ptr(v, ""));
        reset_pair(&k, &v);

        ASSERT_ERROR(ctl_parse_key_value("description", &k, &v), EINVAL);
        ASSERT_ERROR(ctl_parse_key_value("=value", &k, &v), EINVAL);
        ASSERT_ERROR(ctl_parse_key_value("", &k, &v), EINVAL);
        ASSERT_TRUE(!k && !v); /* untouched on failure */
}

TEST(pairs_add) {
        _cleanup_strv_free_ char **l = NULL;

        ASSERT_TRUE(ctl_pairs_add(&l, "a=1") == 0);
        ASSERT_TRUE(ctl_pairs_add(&l, "b=") == 0);
        ASSERT_ERROR(ctl_pairs_add(&l, "a=2"), EEXIST);
        ASSERT_ERROR(ctl_pairs_add(&l, "noequals"), EINVAL);
        ASSERT_TRUE(strv_length(l) == 4);
        ASSERT_TRUE(l && streq(l[0], "a") && streq(l[1], "1") && streq(l[2], "b") && streq(l[3], "") && !l[4]);
}

TEST(config_key_is_valid) {
        ASSERT_TRUE(ctl_config_key_is_valid("limits.memory"));
        ASSERT_TRUE(ctl_config_key_is_valid("user.x"));
        ASSERT_TRUE(!ctl_config_key_is_valid(""));
        ASSERT_TRUE(!ctl_config_key_is_valid(NULL));
        ASSERT_TRUE(!ctl_config_key_is_valid("a=b"));
}

TEST(signal_from_string) {
        ASSERT_TRUE(ctl_signal_from_string("TERM") == SIGTERM);
        ASSERT_TRUE(ctl_signal_from_string("SIGTERM") == SIGTERM);
        ASSERT_TRUE(ctl_signal_from_string("sigkill") == SIGKILL);
        ASSERT_TRUE(ctl_signal_from_string("hup") == SIGHUP);
        ASSERT_TRUE(ctl_signal_from_string("SIGRTMIN") == SIGRTMIN);
        ASSERT_TRUE(ctl_signal_from_string("RTMIN+2") == SIGRTMIN + 2);
        ASSERT_TRUE(ctl_signal_from_string("SIGRTMAX-1") == SIGRTMAX - 1);
        ASSERT_TRUE(ctl_signal_from_string("RTMAX") == SIGRTMAX);
        ASSERT_TRUE(ctl_signal_from_string("9") == SIGKILL);
        ASSERT_TRUE(ctl_signal_from_string("15") == SIGTERM);
        ASSERT_TRUE(ctl_signal_from_string("64") == SIGRTMAX);

        ASSERT_ERROR(ctl_signal_from_string("0"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("65"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("-9"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("+9"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("99999999999999999999"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string(""), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string(NULL), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("SIG"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("TERMX"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("RTMIN-1"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("RTMAX+1"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("RTMIN+99"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("RTMIN+"), EINVAL);
        ASSERT_ERROR(ctl_signal_from_string("SIGVERYLONGNAMEINDEED"), EINVAL);

        ASSERT_TRUE(streq_ptr(ctl_signal_to_string(SIGTERM), "TERM"));
        ASSERT_TRUE(!ctl_signal_to_string(0));
        ASSERT_TRUE(!ctl_signal_to_string(SIGRTMIN));
}

TEST(parse_uint) {
        uint32_t u = 7;
        uint64_t t = 7;

        ASSERT_TRUE(ctl_parse_uint32("0", &u) == 0 && u == 0);
        ASSERT_TRUE(ctl_parse_uint32("4294967295", &u) == 0 && u == UINT32_MAX);
        ASSERT_TRUE(ctl_parse_uint32("4294967296", &u) == -ERANGE && u == UINT32_MAX);
        ASSERT_ERROR(ctl_parse_uint32("", &u), EINVAL);
        ASSERT_ERROR(ctl_parse_uint32(" 1", &u), EINVAL);
        ASSERT_ERROR(ctl_parse_uint32("1 ", &u), EINVAL);
        ASSERT_ERROR(ctl_parse_uint32("-1", &u), EINVAL);
        ASSERT_ERROR(ctl_parse_uint32("0x10", &u), EINVAL);
        ASSERT_TRUE(ctl_parse_uint64("18446744073709551615", &t) == 0 && t == UINT64_MAX);
        ASSERT_ERROR(ctl_parse_uint64("18446744073709551616", &t), ERANGE);
}

TEST(operation_timeout) {
        ASSERT_TRUE(ctl_operation_timeout_usec(0) == 300 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_operation_timeout_usec(60) == 300 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_operation_timeout_usec(1000) == 2060 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_operation_timeout_usec(UINT32_MAX) == (2 * (uint64_t) UINT32_MAX + 60) * USEC_PER_SEC);
}

TEST(authorization) {
        /* Everything that changes something... */
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Manager", "CreateInstance"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Instance", "Start"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Instance", "Kill"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Instance", "ConsoleLog"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Instance", "ExecPty"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Operation", "Cancel"));
        ASSERT_TRUE(ctl_method_needs_authorization("org.lxcbus1.Process", "Signal"));
        /* ...but not reading and waiting. */
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Manager", "ListInstances"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Manager", "GetInstance"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Manager", "ListOperations"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Instance", "GetState"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Operation", "Wait"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Process", "Wait"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.freedesktop.DBus.Properties", "GetAll"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1x.Instance", "Start"));
        ASSERT_TRUE(!ctl_method_needs_authorization(NULL, "Start"));
        ASSERT_TRUE(!ctl_method_needs_authorization("org.lxcbus1.Instance", NULL));

        ASSERT_TRUE(ctl_authorization_timeout_usec(0) == 300 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_authorization_timeout_usec(25 * USEC_PER_SEC) == 300 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_authorization_timeout_usec(2060 * USEC_PER_SEC) == 2060 * USEC_PER_SEC);
        ASSERT_TRUE(ctl_authorization_timeout_usec(UINT64_MAX) == UINT64_MAX);
}

TEST(parse_user) {
        uint32_t uid = 7, gid = 7;
        bool have_gid = true;

        ASSERT_TRUE(ctl_parse_user("1000", &uid, &gid, &have_gid) == 0);
        ASSERT_TRUE(uid == 1000 && gid == 0 && !have_gid);
        ASSERT_TRUE(ctl_parse_user("0", &uid, &gid, &have_gid) == 0 && uid == 0 && !have_gid);
        ASSERT_TRUE(ctl_parse_user("1000:100", &uid, &gid, &have_gid) == 0);
        ASSERT_TRUE(uid == 1000 && gid == 100 && have_gid);
        ASSERT_TRUE(ctl_parse_user("0:0", &uid, &gid, &have_gid) == 0 && uid == 0 && gid == 0 && have_gid);
        ASSERT_TRUE(ctl_parse_user("4294967294:4294967294", &uid, &gid, &have_gid) == 0);
        ASSERT_TRUE(uid == UINT32_MAX - 1 && gid == UINT32_MAX - 1);

        uid = gid = 7;
        have_gid = false;
        ASSERT_ERROR(ctl_parse_user("", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user(NULL, &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("root", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("1000:", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user(":100", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("1:2:3", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("-1", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user(" 1", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("1000:users", &uid, &gid, &have_gid), EINVAL);
        ASSERT_ERROR(ctl_parse_user("4294967295", &uid, &gid, &have_gid), ERANGE);
        ASSERT_ERROR(ctl_parse_user("1:4294967295", &uid, &gid, &have_gid), ERANGE);
        ASSERT_ERROR(ctl_parse_user("4294967296", &uid, &gid, &have_gid), ERANGE);
        ASSERT_TRUE(uid == 7 && gid == 7 && !have_gid); /* untouched on failure */
}

TEST(env_name) {
        ASSERT_TRUE(env_name_is_valid("FOO"));
        ASSERT_TRUE(env_name_is_valid("_"));
        ASSERT_TRUE(env_name_is_valid("_x1"));
        ASSERT_TRUE(env_name_is_valid("a_B_9"));
        ASSERT_TRUE(!env_name_is_valid(""));
        ASSERT_TRUE(!env_name_is_valid(NULL));
        ASSERT_TRUE(!env_name_is_valid("1X"));
        ASSERT_TRUE(!env_name_is_valid("A=B"));
        ASSERT_TRUE(!env_name_is_valid("A-B"));
        ASSERT_TRUE(!env_name_is_valid("A B"));
        ASSERT_TRUE(!env_name_is_valid("\xc3\xa9"));
}

TEST(exec_exit_status) {
        ASSERT_TRUE(ctl_exec_exit_status(0, 0) == 0);
        ASSERT_TRUE(ctl_exec_exit_status(7, 0) == 7);
        ASSERT_TRUE(ctl_exec_exit_status(127, 0) == 127);
        ASSERT_TRUE(ctl_exec_exit_status(255, 0) == 255);
        ASSERT_TRUE(ctl_exec_exit_status(-1, SIGKILL) == 137);
        ASSERT_TRUE(ctl_exec_exit_status(0, SIGTERM) == 143);
        ASSERT_TRUE(ctl_exec_exit_status(-1, SIGINT) == 130);
        ASSERT_TRUE(ctl_exec_exit_status(-1, 0) == CTL_EXIT_FAILURE);
        ASSERT_TRUE(ctl_exec_exit_status(256, 0) == CTL_EXIT_FAILURE);
        ASSERT_TRUE(ctl_exec_exit_status(0, -1) == CTL_EXIT_FAILURE);
}

TEST(exit_status) {
        ASSERT_TRUE(ctl_exit_status_from_error_name(LXCBUS_ERROR_NO_SUCH_INSTANCE) == CTL_EXIT_NO_SUCH_INSTANCE);
        ASSERT_TRUE(ctl_exit_status_from_error_name(LXCBUS_ERROR_INVALID_NAME) == CTL_EXIT_FAILURE);
        ASSERT_TRUE(ctl_exit_status_from_error_name("org.freedesktop.DBus.Error.ServiceUnknown") ==
              CTL_EXIT_FAILURE);
        ASSERT_TRUE(ctl_exit_status_from_error_name(NULL) == CTL_EXIT_FAILURE);
}

TEST(operation_id) {
        ASSERT_TRUE(ctl_operation_id_from_path("/org/lxcbus1/operation/12") == 12);
        ASSERT_TRUE(ctl_operation_id_from_path("/org/lxcbus1/operation/x") == 0);
        ASSERT_TRUE(ctl_operation_id_from_path("/org/lxcbus1/operation/") == 0);
        ASSERT_TRUE(ctl_operation_id_from_path(NULL) == 0);
}

TEST(format) {
        char buf[64];

        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), 0), "0B"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), 1023), "1023B"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), 1024), "1.0K"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), 1536), "1.5K"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), 1024 * 1024 - 1), "1023.9K"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), UINT64_C(3) << 30), "3.0G"));
        ASSERT_TRUE(streq(ctl_format_bytes(buf, sizeof(buf), UINT64_MAX), "15.9E"));

        ASSERT_TRUE(streq(ctl_format_timespan_ns(buf, sizeof(buf), 0), "0.000s"));
        ASSERT_TRUE(streq(ctl_format_timespan_ns(buf, sizeof(buf), 1234567890), "1.234s"));
        ASSERT_TRUE(streq(ctl_format_timespan_ns(buf, sizeof(buf), UINT64_C(62500000000)), "1min 2.500s"));
        ASSERT_TRUE(streq(ctl_format_timespan_ns(buf, sizeof(buf), UINT64_C(3723004000000)), "1h 2min 3.004s"));

        (void) setenv("TZ", "UTC", 1);
        tzset();
        ASSERT_TRUE(streq(ctl_format_timestamp(buf, sizeof(buf), 0), "-"));
        ASSERT_TRUE(streq(ctl_format_timestamp(buf, sizeof(buf), UINT64_C(1700000000) * USEC_PER_SEC + 5),
                    "Tue 2023-11-14 22:13:20 UTC"));
        ASSERT_TRUE(streq(ctl_format_timestamp(buf, sizeof(buf), UINT64_MAX), "-"));
        /* Truncation never overflows the buffer. */
        ASSERT_TRUE(streq(ctl_format_bytes(buf, 3, 1536), "1."));
}

/* Feeds s (split at the given offsets) and returns what goes out; *detach as the feed that detached said. */
static size_t escape_run(CtlEscape *e, const char *s, size_t n, char *out, bool *detach) {
        size_t k;

        k = ctl_escape_feed(e, s, n, out, detach);
        out[k] = 0;
        return k;
}

TEST(escape) {
        CtlEscape e = {};
        char out[64];
        bool detach;

        /* Plain bytes pass through. */
        ASSERT_TRUE(escape_run(&e, "ls -l\r", 6, out, &detach) == 6);
        ASSERT_TRUE(streq(out, "ls -l\r") && !detach && !e.pending);

        /* Ctrl-a q detaches; what came before still goes out, what follows does not. */
        ASSERT_TRUE(escape_run(&e, "ab\001qcd", 5, out, &detach) == 2);
        ASSERT_TRUE(streq(out, "ab") && detach);

        /* Ctrl-a Ctrl-a sends one Ctrl-a, and is no escape any more: a 'q' after it is a 'q'. */
        e = (CtlEscape) {};
        ASSERT_TRUE(escape_run(&e, "\001\001q", 3, out, &detach) == 2);
        ASSERT_TRUE(memcmp(out, "\001q", 2) == 0 && !detach && !e.pending);

        /* Ctrl-a and anything else: both go out. */
        ASSERT_TRUE(escape_run(&e, "\001x", 2, out, &detach) == 2);
        ASSERT_TRUE(memcmp(out, "\001x", 2) == 0 && !detach);

        /* A Ctrl-a at the end of a read waits for the next one... */
        ASSERT_TRUE(escape_run(&e, "a\001", 2, out, &detach) == 1);
        ASSERT_TRUE(streq(out, "a") && !detach && e.pending);
        ASSERT_TRUE(escape_run(&e, "q", 1, out, &detach) == 0 && detach);

        /* ...and goes out with it when it is not the sequence: n + 1 bytes from n. */
        e = (CtlEscape) {};
        ASSERT_TRUE(escape_run(&e, "\001", 1, out, &detach) == 0 && e.pending);
        ASSERT_TRUE(escape_run(&e, "yz", 2, out, &detach) == 3);
        ASSERT_TRUE(memcmp(out, "\001yz", 3) == 0 && !detach);

        /* Split Ctrl-a Ctrl-a. */
        e = (CtlEscape) {};
        ASSERT_TRUE(escape_run(&e, "\001", 1, out, &detach) == 0);
        ASSERT_TRUE(escape_run(&e, "\001", 1, out, &detach) == 1 && out[0] == 1 && !e.pending);

        /* A 'q' alone, an empty read, NUL bytes. */
        ASSERT_TRUE(escape_run(&e, "q", 1, out, &detach) == 1 && streq(out, "q") && !detach);
        ASSERT_TRUE(escape_run(&e, "", 0, out, &detach) == 0 && !detach);
        ASSERT_TRUE(escape_run(&e, "\0\001\0", 3, out, &detach) == 3);
        ASSERT_TRUE(memcmp(out, "\0\001\0", 3) == 0 && !detach);

        /* Ctrl-a Q (capital) does not detach. */
        ASSERT_TRUE(escape_run(&e, "\001Q", 2, out, &detach) == 2 && !detach);
}

/* The option table (ctl.h): a flag, a string, --config pairs, each stored where its entry says. */
typedef struct OptionArgs {
        bool flag;
        const char *name;
        char **config;
} OptionArgs;

static const CtlOption test_options[] = {
        CTL_OPTION_FLAG("flag", OptionArgs, flag),
        CTL_OPTION_STRING("name", OptionArgs, name, "Empty name."),
        CTL_OPTION_CONFIG("config", OptionArgs, config),
        {}
};

static int parse_test_options(Context *c, OptionArgs *a, char **argv) {
        c->exit_status = 0;
        return ctl_parse_options(c, (int) strv_length(argv), argv, test_options, a, 0);
}

TEST(parse_options) {
        char *ok[] = { (char *) "lxcbusctl", (char *) "--flag", (char *) "--name=web", (char *) "rest",
                       (char *) "--config=a=1", (char *) "--config", (char *) "b=", NULL };
        char *empty[] = { (char *) "lxcbusctl", (char *) "--name=", NULL };
        char *twice[] = { (char *) "lxcbusctl", (char *) "--config=a=1", (char *) "--config=a=2", NULL };
        char *bad[] = { (char *) "lxcbusctl", (char *) "--config=novalue", NULL };
        _cleanup_(context_done) Context c = {};
        OptionArgs a = {};

        ASSERT_EQ(parse_test_options(&c, &a, ok), 1);
        ASSERT_TRUE(a.flag);
        ASSERT_STREQ(a.name, "web");
        ASSERT_TRUE(strv_length(a.config) == 4);
        ASSERT_TRUE(streq(a.config[0], "a") && streq(a.config[1], "1"));
        ASSERT_TRUE(streq(a.config[2], "b") && streq(a.config[3], ""));
        ASSERT_STREQ(ok[optind], "rest");
        ASSERT_EQ(c.exit_status, CTL_EXIT_SUCCESS);
        a.config = strv_free(a.config);

        /* Each refusal is a usage error (exit status 2). */
        ASSERT_ERROR(parse_test_options(&c, &a, empty), EINVAL);
        ASSERT_EQ(c.exit_status, CTL_EXIT_USAGE);
        ASSERT_ERROR(parse_test_options(&c, &a, twice), EINVAL);
        ASSERT_EQ(c.exit_status, CTL_EXIT_USAGE);
        a.config = strv_free(a.config);
        ASSERT_ERROR(parse_test_options(&c, &a, bad), EINVAL);
        ASSERT_EQ(c.exit_status, CTL_EXIT_USAGE);
        ASSERT_NULL(a.config);
}
