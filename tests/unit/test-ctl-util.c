/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "config.h"
#include "ctl-util.h"
#include "macro.h"
#include "util.h"

/* Pure helpers of lxcbusctl. Prints "ok" or "FAIL" per check; exits non-zero if any failed. */

static unsigned n_failed;

static void check(bool good, const char *expr, const char *file, int line) {
        printf("%s %s (%s:%d)\n", good ? "ok  " : "FAIL", expr, file, line);
        if (!good)
                n_failed++;
}

#define CHECK(expr) check(!!(expr), #expr, __FILE__, __LINE__)

static void reset_pair(char **k, char **v) {
        free(*k);
        free(*v);
        *k = *v = NULL;
}

static void test_parse_key_value(void) {
        _cleanup_free_ char *k = NULL, *v = NULL;

        CHECK(ctl_parse_key_value("limits.memory=1G", &k, &v) == 0);
        CHECK(streq_ptr(k, "limits.memory") && streq_ptr(v, "1G"));
        reset_pair(&k, &v);

        /* Only the first '=' splits. */
        CHECK(ctl_parse_key_value("environment.X=a=b", &k, &v) == 0);
        CHECK(streq_ptr(k, "environment.X") && streq_ptr(v, "a=b"));
        reset_pair(&k, &v);

        /* An empty value is a value. */
        CHECK(ctl_parse_key_value("description=", &k, &v) == 0);
        CHECK(streq_ptr(k, "description") && streq_ptr(v, ""));
        reset_pair(&k, &v);

        CHECK(ctl_parse_key_value("description", &k, &v) == -EINVAL);
        CHECK(ctl_parse_key_value("=value", &k, &v) == -EINVAL);
        CHECK(ctl_parse_key_value("", &k, &v) == -EINVAL);
        CHECK(!k && !v); /* untouched on failure */
}

static void test_pairs_add(void) {
        _cleanup_strv_free_ char **l = NULL;

        CHECK(ctl_pairs_add(&l, "a=1") == 0);
        CHECK(ctl_pairs_add(&l, "b=") == 0);
        CHECK(ctl_pairs_add(&l, "a=2") == -EEXIST);
        CHECK(ctl_pairs_add(&l, "noequals") == -EINVAL);
        CHECK(strv_length(l) == 4);
        CHECK(l && streq(l[0], "a") && streq(l[1], "1") && streq(l[2], "b") && streq(l[3], "") && !l[4]);
}

static void test_config_key_is_valid(void) {
        CHECK(ctl_config_key_is_valid("limits.memory"));
        CHECK(ctl_config_key_is_valid("user.x"));
        CHECK(!ctl_config_key_is_valid(""));
        CHECK(!ctl_config_key_is_valid(NULL));
        CHECK(!ctl_config_key_is_valid("a=b"));
}

static void test_signal_from_string(void) {
        CHECK(ctl_signal_from_string("TERM") == SIGTERM);
        CHECK(ctl_signal_from_string("SIGTERM") == SIGTERM);
        CHECK(ctl_signal_from_string("sigkill") == SIGKILL);
        CHECK(ctl_signal_from_string("hup") == SIGHUP);
        CHECK(ctl_signal_from_string("SIGRTMIN") == SIGRTMIN);
        CHECK(ctl_signal_from_string("RTMIN+2") == SIGRTMIN + 2);
        CHECK(ctl_signal_from_string("SIGRTMAX-1") == SIGRTMAX - 1);
        CHECK(ctl_signal_from_string("RTMAX") == SIGRTMAX);
        CHECK(ctl_signal_from_string("9") == SIGKILL);
        CHECK(ctl_signal_from_string("15") == SIGTERM);
        CHECK(ctl_signal_from_string("64") == SIGRTMAX);

        CHECK(ctl_signal_from_string("0") == -EINVAL);
        CHECK(ctl_signal_from_string("65") == -EINVAL);
        CHECK(ctl_signal_from_string("-9") == -EINVAL);
        CHECK(ctl_signal_from_string("+9") == -EINVAL);
        CHECK(ctl_signal_from_string("99999999999999999999") == -EINVAL);
        CHECK(ctl_signal_from_string("") == -EINVAL);
        CHECK(ctl_signal_from_string(NULL) == -EINVAL);
        CHECK(ctl_signal_from_string("SIG") == -EINVAL);
        CHECK(ctl_signal_from_string("TERMX") == -EINVAL);
        CHECK(ctl_signal_from_string("RTMIN-1") == -EINVAL);
        CHECK(ctl_signal_from_string("RTMAX+1") == -EINVAL);
        CHECK(ctl_signal_from_string("RTMIN+99") == -EINVAL);
        CHECK(ctl_signal_from_string("RTMIN+") == -EINVAL);
        CHECK(ctl_signal_from_string("SIGVERYLONGNAMEINDEED") == -EINVAL);

        CHECK(streq_ptr(ctl_signal_to_string(SIGTERM), "TERM"));
        CHECK(!ctl_signal_to_string(0));
        CHECK(!ctl_signal_to_string(SIGRTMIN));
}

static void test_parse_uint(void) {
        uint32_t u = 7;
        uint64_t t = 7;

        CHECK(ctl_parse_uint32("0", &u) == 0 && u == 0);
        CHECK(ctl_parse_uint32("4294967295", &u) == 0 && u == UINT32_MAX);
        CHECK(ctl_parse_uint32("4294967296", &u) == -ERANGE && u == UINT32_MAX);
        CHECK(ctl_parse_uint32("", &u) == -EINVAL);
        CHECK(ctl_parse_uint32(" 1", &u) == -EINVAL);
        CHECK(ctl_parse_uint32("1 ", &u) == -EINVAL);
        CHECK(ctl_parse_uint32("-1", &u) == -EINVAL);
        CHECK(ctl_parse_uint32("0x10", &u) == -EINVAL);
        CHECK(ctl_parse_uint64("18446744073709551615", &t) == 0 && t == UINT64_MAX);
        CHECK(ctl_parse_uint64("18446744073709551616", &t) == -ERANGE);
}

static void test_operation_timeout(void) {
        CHECK(ctl_operation_timeout_usec(0) == 300 * USEC_PER_SEC);
        CHECK(ctl_operation_timeout_usec(60) == 300 * USEC_PER_SEC);
        CHECK(ctl_operation_timeout_usec(1000) == 2060 * USEC_PER_SEC);
        CHECK(ctl_operation_timeout_usec(UINT32_MAX) == (2 * (uint64_t) UINT32_MAX + 60) * USEC_PER_SEC);
}

static void test_authorization(void) {
        /* Everything that changes something... */
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Manager", "CreateInstance"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Instance", "Start"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Instance", "Kill"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Instance", "ConsoleLog"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Instance", "ExecPty"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Operation", "Cancel"));
        CHECK(ctl_method_needs_authorization("org.lxcbus1.Process", "Signal"));
        /* ...but not reading and waiting. */
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Manager", "ListInstances"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Manager", "GetInstance"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Manager", "ListOperations"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Instance", "GetState"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Operation", "Wait"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Process", "Wait"));
        CHECK(!ctl_method_needs_authorization("org.freedesktop.DBus.Properties", "GetAll"));
        CHECK(!ctl_method_needs_authorization("org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1x.Instance", "Start"));
        CHECK(!ctl_method_needs_authorization(NULL, "Start"));
        CHECK(!ctl_method_needs_authorization("org.lxcbus1.Instance", NULL));

        CHECK(ctl_authorization_timeout_usec(0) == 300 * USEC_PER_SEC);
        CHECK(ctl_authorization_timeout_usec(25 * USEC_PER_SEC) == 300 * USEC_PER_SEC);
        CHECK(ctl_authorization_timeout_usec(2060 * USEC_PER_SEC) == 2060 * USEC_PER_SEC);
        CHECK(ctl_authorization_timeout_usec(UINT64_MAX) == UINT64_MAX);
}

static void test_parse_user(void) {
        uint32_t uid = 7, gid = 7;
        bool have_gid = true;

        CHECK(ctl_parse_user("1000", &uid, &gid, &have_gid) == 0);
        CHECK(uid == 1000 && gid == 0 && !have_gid);
        CHECK(ctl_parse_user("0", &uid, &gid, &have_gid) == 0 && uid == 0 && !have_gid);
        CHECK(ctl_parse_user("1000:100", &uid, &gid, &have_gid) == 0);
        CHECK(uid == 1000 && gid == 100 && have_gid);
        CHECK(ctl_parse_user("0:0", &uid, &gid, &have_gid) == 0 && uid == 0 && gid == 0 && have_gid);
        CHECK(ctl_parse_user("4294967294:4294967294", &uid, &gid, &have_gid) == 0);
        CHECK(uid == UINT32_MAX - 1 && gid == UINT32_MAX - 1);

        uid = gid = 7;
        have_gid = false;
        CHECK(ctl_parse_user("", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user(NULL, &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("root", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("1000:", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user(":100", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("1:2:3", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("-1", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user(" 1", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("1000:users", &uid, &gid, &have_gid) == -EINVAL);
        CHECK(ctl_parse_user("4294967295", &uid, &gid, &have_gid) == -ERANGE);
        CHECK(ctl_parse_user("1:4294967295", &uid, &gid, &have_gid) == -ERANGE);
        CHECK(ctl_parse_user("4294967296", &uid, &gid, &have_gid) == -ERANGE);
        CHECK(uid == 7 && gid == 7 && !have_gid); /* untouched on failure */
}

static void test_env_name(void) {
        CHECK(env_name_is_valid("FOO"));
        CHECK(env_name_is_valid("_"));
        CHECK(env_name_is_valid("_x1"));
        CHECK(env_name_is_valid("a_B_9"));
        CHECK(!env_name_is_valid(""));
        CHECK(!env_name_is_valid(NULL));
        CHECK(!env_name_is_valid("1X"));
        CHECK(!env_name_is_valid("A=B"));
        CHECK(!env_name_is_valid("A-B"));
        CHECK(!env_name_is_valid("A B"));
        CHECK(!env_name_is_valid("\xc3\xa9"));
}

static void test_exec_exit_status(void) {
        CHECK(ctl_exec_exit_status(0, 0) == 0);
        CHECK(ctl_exec_exit_status(7, 0) == 7);
        CHECK(ctl_exec_exit_status(127, 0) == 127);
        CHECK(ctl_exec_exit_status(255, 0) == 255);
        CHECK(ctl_exec_exit_status(-1, SIGKILL) == 137);
        CHECK(ctl_exec_exit_status(0, SIGTERM) == 143);
        CHECK(ctl_exec_exit_status(-1, SIGINT) == 130);
        CHECK(ctl_exec_exit_status(-1, 0) == CTL_EXIT_FAILURE);
        CHECK(ctl_exec_exit_status(256, 0) == CTL_EXIT_FAILURE);
        CHECK(ctl_exec_exit_status(0, -1) == CTL_EXIT_FAILURE);
}

static void test_exit_status(void) {
        CHECK(ctl_exit_status_from_error_name(LXCBUS_ERROR_NO_SUCH_INSTANCE) == CTL_EXIT_NO_SUCH_INSTANCE);
        CHECK(ctl_exit_status_from_error_name(LXCBUS_ERROR_INVALID_NAME) == CTL_EXIT_FAILURE);
        CHECK(ctl_exit_status_from_error_name("org.freedesktop.DBus.Error.ServiceUnknown") ==
              CTL_EXIT_FAILURE);
        CHECK(ctl_exit_status_from_error_name(NULL) == CTL_EXIT_FAILURE);
}

static void test_operation_id(void) {
        CHECK(ctl_operation_id_from_path("/org/lxcbus1/operation/12") == 12);
        CHECK(ctl_operation_id_from_path("/org/lxcbus1/operation/x") == 0);
        CHECK(ctl_operation_id_from_path("/org/lxcbus1/operation/") == 0);
        CHECK(ctl_operation_id_from_path(NULL) == 0);
}

static void test_format(void) {
        char buf[64];

        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), 0), "0B"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), 1023), "1023B"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), 1024), "1.0K"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), 1536), "1.5K"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), 1024 * 1024 - 1), "1023.9K"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), UINT64_C(3) << 30), "3.0G"));
        CHECK(streq(ctl_format_bytes(buf, sizeof(buf), UINT64_MAX), "15.9E"));

        CHECK(streq(ctl_format_timespan_ns(buf, sizeof(buf), 0), "0.000s"));
        CHECK(streq(ctl_format_timespan_ns(buf, sizeof(buf), 1234567890), "1.234s"));
        CHECK(streq(ctl_format_timespan_ns(buf, sizeof(buf), UINT64_C(62500000000)), "1min 2.500s"));
        CHECK(streq(ctl_format_timespan_ns(buf, sizeof(buf), UINT64_C(3723004000000)), "1h 2min 3.004s"));

        (void) setenv("TZ", "UTC", 1);
        tzset();
        CHECK(streq(ctl_format_timestamp(buf, sizeof(buf), 0), "-"));
        CHECK(streq(ctl_format_timestamp(buf, sizeof(buf), UINT64_C(1700000000) * USEC_PER_SEC + 5),
                    "Tue 2023-11-14 22:13:20 UTC"));
        CHECK(streq(ctl_format_timestamp(buf, sizeof(buf), UINT64_MAX), "-"));
        /* Truncation never overflows the buffer. */
        CHECK(streq(ctl_format_bytes(buf, 3, 1536), "1."));
}

/* Feeds s (split at the given offsets) and returns what goes out; *detach as the feed that detached said. */
static size_t escape_run(CtlEscape *e, const char *s, size_t n, char *out, bool *detach) {
        size_t k;

        k = ctl_escape_feed(e, s, n, out, detach);
        out[k] = 0;
        return k;
}

static void test_escape(void) {
        CtlEscape e = {};
        char out[64];
        bool detach;

        /* Plain bytes pass through. */
        CHECK(escape_run(&e, "ls -l\r", 6, out, &detach) == 6);
        CHECK(streq(out, "ls -l\r") && !detach && !e.pending);

        /* Ctrl-a q detaches; what came before still goes out, what follows does not. */
        CHECK(escape_run(&e, "ab\001qcd", 5, out, &detach) == 2);
        CHECK(streq(out, "ab") && detach);

        /* Ctrl-a Ctrl-a sends one Ctrl-a, and is no escape any more: a 'q' after it is a 'q'. */
        e = (CtlEscape) {};
        CHECK(escape_run(&e, "\001\001q", 3, out, &detach) == 2);
        CHECK(memcmp(out, "\001q", 2) == 0 && !detach && !e.pending);

        /* Ctrl-a and anything else: both go out. */
        CHECK(escape_run(&e, "\001x", 2, out, &detach) == 2);
        CHECK(memcmp(out, "\001x", 2) == 0 && !detach);

        /* A Ctrl-a at the end of a read waits for the next one... */
        CHECK(escape_run(&e, "a\001", 2, out, &detach) == 1);
        CHECK(streq(out, "a") && !detach && e.pending);
        CHECK(escape_run(&e, "q", 1, out, &detach) == 0 && detach);

        /* ...and goes out with it when it is not the sequence: n + 1 bytes from n. */
        e = (CtlEscape) {};
        CHECK(escape_run(&e, "\001", 1, out, &detach) == 0 && e.pending);
        CHECK(escape_run(&e, "yz", 2, out, &detach) == 3);
        CHECK(memcmp(out, "\001yz", 3) == 0 && !detach);

        /* Split Ctrl-a Ctrl-a. */
        e = (CtlEscape) {};
        CHECK(escape_run(&e, "\001", 1, out, &detach) == 0);
        CHECK(escape_run(&e, "\001", 1, out, &detach) == 1 && out[0] == 1 && !e.pending);

        /* A 'q' alone, an empty read, NUL bytes. */
        CHECK(escape_run(&e, "q", 1, out, &detach) == 1 && streq(out, "q") && !detach);
        CHECK(escape_run(&e, "", 0, out, &detach) == 0 && !detach);
        CHECK(escape_run(&e, "\0\001\0", 3, out, &detach) == 3);
        CHECK(memcmp(out, "\0\001\0", 3) == 0 && !detach);

        /* Ctrl-a Q (capital) does not detach. */
        CHECK(escape_run(&e, "\001Q", 2, out, &detach) == 2 && !detach);
}

int main(void) {
        test_parse_key_value();
        test_pairs_add();
        test_config_key_is_valid();
        test_signal_from_string();
        test_parse_uint();
        test_operation_timeout();
        test_authorization();
        test_parse_user();
        test_env_name();
        test_exec_exit_status();
        test_exit_status();
        test_operation_id();
        test_format();
        test_escape();

        if (n_failed > 0) {
                printf("%u check(s) failed\n", n_failed);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
