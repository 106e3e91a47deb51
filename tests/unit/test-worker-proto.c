/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon <-> worker protocol parsers (src/shared/worker-proto.c). The messages here are the ones the
 * worker and lxcbusd-start-hook print, and the near misses that the old atoi()/strtod()/sscanf() parsing
 * took for something else. */
#include <math.h>
#include <stdio.h>

#include "macro.h"
#include "tests.h"
#include "util.h"
#include "worker-proto.h"

#define STRV_MAKE(...) ((char *[]) { __VA_ARGS__, NULL })

static int parse(const char *msg, WorkerMessage *ret) {
        return worker_message_parse(msg, strlen(msg), ret);
}

TEST(message_progress) {
        WorkerMessage m;

        ASSERT_OK(parse("progress 0.100 shutting down", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_PROGRESS);
        ASSERT_TRUE(fabs(m.progress - 0.1) < 1e-12);
        ASSERT_STREQ(m.text, "shutting down");
        ASSERT_OK(parse("progress 1.000", &m));
        ASSERT_TRUE(m.progress == 1.0);
        ASSERT_NULL(m.text);
        ASSERT_OK(parse("progress 0 ", &m));
        ASSERT_TRUE(m.progress == 0.0);
        ASSERT_STREQ(m.text, "");

        /* strtod() read all of these: NaN and infinity, out of range, hex, exponents, leading blanks. */
        const char *bad[] = {
                "progress nan x", "progress inf", "progress -0.5", "progress 1.5", "progress 2", "progress 1.0001",
                "progress 0x1p-1", "progress 1e-1", "progress  0.5", "progress .5", "progress 0.", "progress +0.5",
                "progress 0.5x", "progress 0.5\tx", "progress", "progress ", "progress 00.5", "progress 0.1234567891",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);
}

TEST(message_running) {
        WorkerMessage m;

        ASSERT_OK(parse("running 4242", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_RUNNING);
        ASSERT_EQ(m.pid, 4242);
        ASSERT_OK(parse("running 4194304", &m));
        ASSERT_EQ(m.pid, WORKER_PID_MAX);

        /* atoi() gave 0, a negative pid (kill(-pid) is a process group), a wrapped value, or the digits
         * before the junk. */
        const char *bad[] = {
                "running 0", "running -1", "running 4194305", "running 99999999999999999999", "running 12abc",
                "running  12", "running 012", "running +12", "running", "running ", "running 12 ", "running\t12",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);
}

TEST(message_exited) {
        WorkerMessage m;

        ASSERT_OK(parse("exited 0 0", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_EXITED);
        ASSERT_EQ(m.status, 0);
        ASSERT_EQ(m.signal, 0);
        ASSERT_OK(parse("exited 255 0", &m));
        ASSERT_EQ(m.status, 255);
        ASSERT_OK(parse("exited -1 9", &m));
        ASSERT_EQ(m.status, -1);
        ASSERT_EQ(m.signal, 9);
        ASSERT_OK(parse("exited -1 64", &m));

        const char *bad[] = {
                "exited -1 0", "exited 3 9", "exited 256 0", "exited -2 9", "exited -1 65", "exited -1 -9",
                "exited 0", "exited 0 0 0", "exited 0  0", "exited -0 0", "exited 0 00", "exited 1 0x",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);
}

TEST(message_result) {
        WorkerMessage m;

        ASSERT_OK(parse("result 0 created", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_RESULT);
        ASSERT_EQ(m.error, 0);
        ASSERT_STREQ(m.text, "created");
        ASSERT_OK(parse("result 2 Instance 'web' has no LXC config.", &m));
        ASSERT_EQ(m.error, 2);
        ASSERT_STREQ(m.text, "Instance 'web' has no LXC config.");
        ASSERT_OK(parse("result 5", &m));
        ASSERT_STREQ(m.text, "");
        ASSERT_OK(parse("result 4095  two spaces", &m));
        ASSERT_STREQ(m.text, " two spaces");

        /* strtol() made "result x" a success and "result -5" a negative errno. */
        const char *bad[] = {
                "result x", "result -5 x", "result 4096 x", "result 99999999999 x", "result 5x", "result",
                "result ", "result 05 x",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);
}

TEST(message_console_pty_other) {
        WorkerMessage m;

        ASSERT_OK(parse("console 0", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_CONSOLE);
        ASSERT_EQ(m.tty, 0);
        ASSERT_OK(parse("console 64", &m));
        ASSERT_EQ(m.tty, 64);
        ASSERT_OK(parse("pty", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_PTY);

        const char *bad[] = {
                "console -1", "console 65536", "console 1 2", "console", "pty ", "pty x", "ptyx", "", "go",
                "progressive 0.5", "Running 12", " running 12",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);

        /* A NUL inside, or a length that does not end at the terminating NUL. */
        ASSERT_ERROR(worker_message_parse("result 1 a\0b", 12, &m), EBADMSG);
        ASSERT_ERROR(worker_message_parse("pty", 2, &m), EBADMSG);
        ASSERT_ERROR(worker_message_parse(NULL, 0, &m), EBADMSG);
}

TEST(request_split) {
        char req[] = "exec\0/l\0web\0\0000\0000\0-\0001\0A=1\0/bin/sh\0";
        _cleanup_free_ char **args = NULL;
        const char *verb;
        size_t n;

        ASSERT_OK(worker_request_parse(req, sizeof req - 1, &verb, &args, &n));
        ASSERT_STREQ(verb, "exec");
        ASSERT_EQ(n, 9);
        ASSERT_STREQ(args[0], "/l");
        ASSERT_STREQ(args[2], "");
        ASSERT_STREQ(args[8], "/bin/sh");
        ASSERT_NULL(args[9]);
        args = mfree(args);

        char verb_only[] = "start";
        ASSERT_OK(worker_request_parse(verb_only, sizeof verb_only, &verb, &args, &n));
        ASSERT_EQ(n, 0);
        ASSERT_NULL(args[0]);
        args = mfree(args);

        char unterminated[] = "start\0x";
        ASSERT_ERROR(worker_request_parse(unterminated, sizeof unterminated - 1, &verb, &args, &n), EBADMSG);
        char empty_verb[] = "\0x";
        ASSERT_ERROR(worker_request_parse(empty_verb, sizeof empty_verb, &verb, &args, &n), EBADMSG);
        ASSERT_ERROR(worker_request_parse(empty_verb, 0, &verb, &args, &n), EBADMSG);
        ASSERT_NULL(args);

        /* The count bound: WORKER_REQUEST_ARGS_MAX strings pass, one more does not. */
        _cleanup_free_ char *many = calloc(WORKER_REQUEST_ARGS_MAX + 1, 2);
        ASSERT_NOT_NULL(many);
        for (size_t k = 0; k < WORKER_REQUEST_ARGS_MAX + 1; k++)
                many[2 * k] = 'a';
        ASSERT_OK(worker_request_parse(many, 2 * WORKER_REQUEST_ARGS_MAX, &verb, &args, &n));
        ASSERT_EQ(n, WORKER_REQUEST_ARGS_MAX - 1);
        args = mfree(args);
        ASSERT_ERROR(worker_request_parse(many, 2 * (WORKER_REQUEST_ARGS_MAX + 1), &verb, &args, &n), EBADMSG);
}

static int exec_parse(char **args, WorkerExecArgs *ret) {
        return worker_exec_args_parse(args, strv_length(args), ret);
}

TEST(exec_args) {
        _cleanup_(worker_exec_args_done) WorkerExecArgs a = {};

        ASSERT_OK(exec_parse(STRV_MAKE("/l", "web", "", "0", "0", "-", "1", "A=1", "/bin/sh", "-c", "x"), &a));
        ASSERT_NULL(a.cwd);
        ASSERT_EQ(a.uid, 0);
        ASSERT_FALSE(a.pty);
        ASSERT_EQ(strv_length(a.env), 1);
        ASSERT_STREQ(a.env[0], "A=1");
        ASSERT_EQ(strv_length(a.argv), 3);
        ASSERT_STREQ(a.argv[0], "/bin/sh");
        worker_exec_args_done(&a);

        ASSERT_OK(exec_parse(STRV_MAKE("/l", "web", "/root", "1000", "1001", "24:80", "0", "/bin/true"), &a));
        ASSERT_STREQ(a.cwd, "/root");
        ASSERT_EQ(a.uid, 1000);
        ASSERT_EQ(a.gid, 1001);
        ASSERT_TRUE(a.pty);
        ASSERT_EQ(a.rows, 24);
        ASSERT_EQ(a.cols, 80);
        ASSERT_EQ(strv_length(a.env), 0);
        ASSERT_EQ(strv_length(a.argv), 1);
        worker_exec_args_done(&a);

        /* NENV = SIZE_MAX made "n < 6 + nenv + 1" wrap around, and the copy ran past the args array. */
        char **bad[] = {
                STRV_MAKE("/l", "web", "", "0", "0", "-", "18446744073709551615", "a"),
                STRV_MAKE("/l", "web", "", "0", "0", "-", "1", "A=1"),               /* no program */
                STRV_MAKE("/l", "web", "", "0", "0", "-", "2", "A=1", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "-", "-1", "/bin/true"),
                STRV_MAKE("/l", "web", "", "4294967295", "0", "-", "0", "/bin/true"), /* (uid_t) -1 */
                STRV_MAKE("/l", "web", "", "-1", "0", "-", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "x", "-", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "24:80:1", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "0:80", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "24:10001", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "24x80", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "", "0", "/bin/true"),
                STRV_MAKE("/l", "web", "", "0", "0", "-", "0"),
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                ASSERT_ERROR(exec_parse(bad[k], &a), EBADMSG);
                ASSERT_NULL(a.argv);
        }
}

TEST(idmap_and_numbers) {
        unsigned u, g, c;

        ASSERT_OK(worker_idmap_parse("-", &u, &g, &c));
        ASSERT_EQ(u + g + c, 0);
        ASSERT_OK(worker_idmap_parse("100000:100000:65536", &u, &g, &c));
        ASSERT_EQ(u, 100000);
        ASSERT_EQ(g, 100000);
        ASSERT_EQ(c, 65536);
        /* sscanf("%u") took "-1" for 4294967295 and " 5" for 5. */
        const char *bad[] = { "-1:1:1", "1:1:0", "0:1:1", "1:1", "1:1:1:", "1:1:1x", " 1:1:1", "1: 1:1", "",
                              "4294967295:1:1", "+1:1:1" };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(worker_idmap_parse(bad[k], &u, &g, &c), EINVAL);

        ASSERT_OK(worker_parse_uint("0", 10, &u));
        ASSERT_EQ(u, 0);
        ASSERT_OK(worker_parse_uint("4294967295", UINT32_MAX, &u));
        ASSERT_EQ_U(u, UINT32_MAX);
        ASSERT_ERROR(worker_parse_uint("11", 10, &u), ERANGE);
        ASSERT_ERROR(worker_parse_uint("99999999999999999999999", UINT32_MAX, &u), ERANGE);
        const char *nan[] = { "", "-1", "+1", " 1", "1 ", "01", "1x", "0x10" };
        for (size_t k = 0; k < ELEMENTSOF(nan); k++)
                ASSERT_ERROR(worker_parse_uint(nan[k], 100, &u), EINVAL);
}
