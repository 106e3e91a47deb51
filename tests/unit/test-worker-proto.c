/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon <-> worker protocol (src/shared/worker-proto.c): every verb's request encoded, decoded and
 * encoded again, byte for byte the packets the daemon has always sent; the malformed packets the worker
 * refuses; the messages the worker and lxcbusd-start-hook write, and the near misses that the old
 * atoi()/strtod()/sscanf() parsing took for something else. */
#include <limits.h>
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

/* ---------------------------------------------------------------- requests */

/* NULL and an empty list are the same on the wire. */
static void assert_strv_equal(char **a, char **b) {
        ASSERT_EQ(strv_length(a), strv_length(b));
        for (size_t k = 0; a && a[k]; k++)
                ASSERT_STREQ(a[k], b[k]);
}

static void assert_request_equal(const WorkerRequest *a, const WorkerRequest *b) {
        ASSERT_EQ(a->verb, b->verb);
        ASSERT_STREQ(a->lxcpath, b->lxcpath);
        ASSERT_STREQ(a->name, b->name);
        switch (a->verb) {
        case WORKER_VERB_CREATE:
                ASSERT_STREQ(a->create.placement.final_lxcpath, b->create.placement.final_lxcpath);
                ASSERT_STREQ(a->create.placement.metadata_json, b->create.placement.metadata_json);
                ASSERT_EQ_U(a->create.placement.idmap_uid, b->create.placement.idmap_uid);
                ASSERT_EQ_U(a->create.placement.idmap_gid, b->create.placement.idmap_gid);
                ASSERT_EQ_U(a->create.placement.idmap_count, b->create.placement.idmap_count);
                ASSERT_STREQ(a->create.template, b->create.template);
                assert_strv_equal(a->create.template_args, b->create.template_args);
                break;
        case WORKER_VERB_START:
                ASSERT_STREQ(a->start.cgroup_dir, b->start.cgroup_dir);
                ASSERT_EQ(a->start.systemd, b->start.systemd);
                ASSERT_STREQ(a->start.net_type, b->start.net_type);
                ASSERT_STREQ(strempty(a->start.net_link), strempty(b->start.net_link));
                ASSERT_STREQ(strempty(a->start.net_hwaddr), strempty(b->start.net_hwaddr));
                ASSERT_EQ_U(a->start.net_mtu, b->start.net_mtu);
                ASSERT_STREQ(strempty(a->start.cgroup_cpus), strempty(b->start.cgroup_cpus));
                ASSERT_EQ_U(a->start.cgroup_memory, b->start.cgroup_memory);
                ASSERT_EQ_U(a->start.cgroup_memsw, b->start.cgroup_memsw);
                break;
        case WORKER_VERB_STOP:
                ASSERT_EQ_U(a->stop.timeout_sec, b->stop.timeout_sec);
                break;
        case WORKER_VERB_DESTROY:
                ASSERT_STREQ(a->destroy.trash_dir, b->destroy.trash_dir);
                break;
        case WORKER_VERB_CONSOLE:
                ASSERT_EQ_U(a->console.tty, b->console.tty);
                break;
        case WORKER_VERB_EXEC:
                ASSERT_TRUE(streq_ptr(a->exec.cwd, b->exec.cwd));
                ASSERT_EQ_U(a->exec.uid, b->exec.uid);
                ASSERT_EQ_U(a->exec.gid, b->exec.gid);
                ASSERT_EQ(a->exec.pty, b->exec.pty);
                if (a->exec.pty) {
                        ASSERT_EQ_U(a->exec.rows, b->exec.rows);
                        ASSERT_EQ_U(a->exec.cols, b->exec.cols);
                }
                assert_strv_equal(a->exec.env, b->exec.env);
                assert_strv_equal(a->exec.argv, b->exec.argv);
                break;
        case WORKER_VERB_PUSH_FILE:
                ASSERT_STREQ(a->push_file.path, b->push_file.path);
                ASSERT_EQ_U(a->push_file.mode, b->push_file.mode);
                ASSERT_EQ_U(a->push_file.uid, b->push_file.uid);
                ASSERT_EQ_U(a->push_file.gid, b->push_file.gid);
                ASSERT_EQ_U(a->push_file.dir_uid, b->push_file.dir_uid);
                ASSERT_EQ_U(a->push_file.dir_gid, b->push_file.dir_gid);
                ASSERT_EQ(a->push_file.mkdir_parents, b->push_file.mkdir_parents);
                ASSERT_EQ(a->push_file.root_fd, b->push_file.root_fd);
                break;
        case WORKER_VERB_PULL_FILE:
                ASSERT_STREQ(a->pull_file.path, b->pull_file.path);
                ASSERT_EQ(a->pull_file.root_fd, b->pull_file.root_fd);
                break;
        case WORKER_VERB_COPY:
                ASSERT_STREQ(a->copy.source, b->copy.source);
                ASSERT_EQ_U(a->copy.from_uid, b->copy.from_uid);
                ASSERT_EQ_U(a->copy.from_gid, b->copy.from_gid);
                ASSERT_EQ_U(a->copy.to_uid, b->copy.to_uid);
                ASSERT_EQ_U(a->copy.to_gid, b->copy.to_gid);
                ASSERT_EQ_U(a->copy.count, b->copy.count);
                break;
        case WORKER_VERB_EXPORT:
                ASSERT_EQ(a->export_.compression, b->export_.compression);
                ASSERT_EQ_U(a->export_.idmap_uid, b->export_.idmap_uid);
                ASSERT_EQ_U(a->export_.idmap_gid, b->export_.idmap_gid);
                ASSERT_EQ_U(a->export_.idmap_count, b->export_.idmap_count);
                ASSERT_EQ(a->export_.snapshots, b->export_.snapshots);
                break;
        case WORKER_VERB_IMPORT:
                ASSERT_STREQ(a->import.placement.final_lxcpath, b->import.placement.final_lxcpath);
                ASSERT_STREQ(a->import.placement.metadata_json, b->import.placement.metadata_json);
                ASSERT_EQ_U(a->import.placement.idmap_uid, b->import.placement.idmap_uid);
                ASSERT_EQ_U(a->import.placement.idmap_gid, b->import.placement.idmap_gid);
                ASSERT_EQ_U(a->import.placement.idmap_count, b->import.placement.idmap_count);
                break;
        case WORKER_VERB_HOSTNAME:
                ASSERT_STREQ(a->hostname.old_name, b->hostname.old_name);
                break;
        default:
                ASSERT_TRUE(false);
        }
}

/* encode -> decode gives req back, the decoded request encodes to the same bytes, and, where given, those
 * are the bytes the daemon sent before the typed API (the wire format did not change). */
static void round_trip(const WorkerRequest *req, const char *wire, size_t wire_len) {
        _cleanup_free_ char *buf = NULL, *again = NULL;
        _cleanup_(worker_request_done) WorkerRequest d = {};
        size_t len, len2;

        ASSERT_OK(worker_request_encode(req, &buf, &len));
        ASSERT_TRUE(len >= 1 && buf[len - 1] == 0);
        if (wire) {
                ASSERT_EQ(len, wire_len);
                ASSERT_TRUE(memcmp(buf, wire, len) == 0);
        }
        ASSERT_OK(worker_request_decode(buf, len, &d));
        assert_request_equal(req, &d);
        /* Every string points into the packet. */
        ASSERT_TRUE(d.lxcpath > buf && d.lxcpath < buf + len);
        ASSERT_OK(worker_request_encode(&d, &again, &len2));
        ASSERT_EQ(len, len2);
        ASSERT_TRUE(memcmp(buf, again, len) == 0);
}

#define WIRE(s) s, sizeof(s) - 1

TEST(request_round_trip) {
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web",
                                      .start = { .cgroup_dir = "machine.slice/lxcbus-web.scope", .net_type = "empty" } },
                   WIRE("start\0/l\0web\0machine.slice/lxcbus-web.scope\0000\0empty\0\0\0000\0\0\0\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web",
                                      .start = { .cgroup_dir = "cg", .systemd = true, .net_type = "veth",
                                                 .net_link = "lxcbr0", .net_hwaddr = "00:16:3e:01:02:03",
                                                 .net_mtu = 1400 } },
                   WIRE("start\0/l\0web\0cg\0001\0veth\0lxcbr0\00000:16:3e:01:02:03\0001400\0\0\0\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web",
                                      .start = { .cgroup_dir = "cg", .net_type = "empty", .cgroup_cpus = "0-1,3",
                                                 .cgroup_memory = 33554432, .cgroup_memsw = 50331648 } },
                   WIRE("start\0/l\0web\0cg\0000\0empty\0\0\0000\0000-1,3\00033554432\00050331648\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web",
                                      .start = { .cgroup_dir = "cg", .net_type = "empty", .cgroup_memory = 4096,
                                                 .cgroup_memsw = UINT64_MAX } },
                   WIRE("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0004096\0max\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_STOP, .lxcpath = "/l", .name = "web", .stop.timeout_sec = 30 },
                   WIRE("stop\0/l\0web\00030\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_STOP, .lxcpath = "/l", .name = "web",
                                      .stop.timeout_sec = INT_MAX }, NULL, 0);
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_DESTROY, .lxcpath = "/s", .name = ".deleted-web-1",
                                      .destroy.trash_dir = "/s" },
                   WIRE("destroy\0/s\0.deleted-web-1\0/s\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CONSOLE, .lxcpath = "/l", .name = "web" },
                   WIRE("console\0/l\0web\0000\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CONSOLE, .lxcpath = "/l", .name = "web",
                                      .console.tty = WORKER_TTY_MAX }, NULL, 0);

        /* create: privileged and idmapped, without and with template arguments. */
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                                      .create = { .placement = { "/l", "{}" }, .template = "none" } },
                   WIRE("create\0/s\0web\0/l\0{}\0-\0none\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                                      .create = { .placement = { "/l", "{}" }, .template = "busybox",
                                                  .template_args = STRV_MAKE("--", "-x", "") } },
                   WIRE("create\0/s\0web\0/l\0{}\0-\0busybox\0--\0-x\0\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                                      .create = { .placement = { "/l", "{\"a\":1}", 100000, 100001, 65536 },
                                                  .template = "none" } },
                   WIRE("create\0/s\0web\0/l\0{\"a\":1}\000100000:100001:65536\0none\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                                      .create = { .placement = { "/l", "{}", UINT32_MAX - 1, 1, 1 },
                                                  .template = "busybox", .template_args = STRV_MAKE("a") } },
                   NULL, 0);

        /* exec: stdio fds or a pty, with and without env and cwd. */
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                                      .exec = { .env = STRV_MAKE("A=1"), .argv = STRV_MAKE("/bin/sh") } },
                   WIRE("exec\0/l\0web\0\0000\0000\0-\0001\0A=1\0/bin/sh\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                                      .exec = { .cwd = "/root", .uid = 1000, .gid = 1001, .pty = true, .rows = 24,
                                                .cols = 80, .argv = STRV_MAKE("/bin/true") } },
                   WIRE("exec\0/l\0web\0/root\0001000\0001001\00024:80\0000\0/bin/true\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                                      .exec = { .uid = UINT32_MAX - 1, .gid = UINT32_MAX - 1, .pty = true,
                                                .rows = WORKER_PTY_SIZE_MAX, .cols = 1,
                                                .env = STRV_MAKE("A=1", "B=", ""),
                                                .argv = STRV_MAKE("sh", "-c", "", "x y") } },
                   NULL, 0);
}

TEST(request_files) {
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_PUSH_FILE, .lxcpath = "/l", .name = "web",
                                      .push_file = { .path = "/etc/motd", .mode = 0644 } },
                   WIRE("push-file\0/l\0web\0/etc/motd\000420\0000\0000\0000\0000\0000\0dir\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_PUSH_FILE, .lxcpath = "/l", .name = "web",
                                      .push_file = { .path = "/a/../b c", .mode = 07777, .uid = UINT32_MAX - 1,
                                                     .gid = 100000, .dir_uid = 100000, .dir_gid = 100001,
                                                     .mkdir_parents = true, .root_fd = true } },
                   NULL, 0);
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_PULL_FILE, .lxcpath = "/l", .name = "web",
                                      .pull_file.path = "/etc/hostname" },
                   WIRE("pull-file\0/l\0web\0/etc/hostname\0dir\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_PULL_FILE, .lxcpath = "/l", .name = "web",
                                      .pull_file = { .path = "/etc/hostname", .root_fd = true } },
                   WIRE("pull-file\0/l\0web\0/etc/hostname\0fd\0"));

        /* What the worker must never be handed: a relative path, no name at the end, a mode beyond 07777,
         * the id -1, a flag other than 0 or 1, a root other than "fd" or "dir", a missing or extra argument. */
        const struct { const char *wire; size_t len; } bad[] = {
                { WIRE("pull-file\0/l\0web\0etc/hostname\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/etc/\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/etc/..\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/.\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/a\0/b\0") },
                { WIRE("pull-file\0/l\0web\0/a\0") },
                { WIRE("pull-file\0/l\0web\0/a\0dir\0dir\0") },
                { WIRE("pull-file\0/l\0web\0/a\0FD\0") },
                { WIRE("push-file\0/l\0web\0/a\0004096\0000\0000\0000\0000\0000\0dir\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0004294967295\0000\0000\0000\0000\0dir\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0000\0000\0000\0000\0002\0dir\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0000\0000\0000\0000\0dir\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0000\0000\0000\0000\0000\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0000\0000\0000\0000\0000\0dir\0dir\0") },
                { WIRE("push-file\0/l\0web\0/a\000420\0000\0000\0000\0000\0000\0root\0") },
                { WIRE("push-file\0/l\0web\0a\000420\0000\0000\0000\0000\0000\0dir\0") },
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                _cleanup_free_ char *buf = malloc(bad[k].len);
                WorkerRequest r;

                ASSERT_NOT_NULL(buf);
                memcpy(buf, bad[k].wire, bad[k].len);
                ASSERT_ERROR(worker_request_decode(buf, bad[k].len, &r), EBADMSG);
        }
        ASSERT_ERROR(worker_request_encode(&(WorkerRequest) { .verb = WORKER_VERB_PUSH_FILE, .lxcpath = "/l",
                                                              .name = "web", .push_file = { .path = "/a/",
                                                              .mode = 0644 } },
                                           &(char *) { NULL }, &(size_t) { 0 }),
                     EINVAL);
}

TEST(message_bytes) {
        char buf[128];
        WorkerMessage m;

        ASSERT_OK(parse("bytes 0 0", &m));
        ASSERT_EQ(m.kind, WORKER_MESSAGE_BYTES);
        ASSERT_TRUE(m.bytes == 0 && m.bytes_total == 0);
        ASSERT_OK(parse("bytes 1000000000000000000 12", &m));
        ASSERT_TRUE(m.bytes == WORKER_BYTES_MAX && m.bytes_total == 12);
        ASSERT_OK(worker_message_format(&(WorkerMessage) { .kind = WORKER_MESSAGE_BYTES, .bytes = 4096,
                                                           .bytes_total = 8192 }, buf, sizeof buf));
        ASSERT_STREQ(buf, "bytes 4096 8192");
        ASSERT_ERROR(worker_message_format(&(WorkerMessage) { .kind = WORKER_MESSAGE_BYTES,
                                                              .bytes = WORKER_BYTES_MAX + 1 }, buf, sizeof buf),
                     EINVAL);

        const char *bad[] = {
                "bytes", "bytes 1", "bytes 1 ", "bytes -1 0", "bytes 01 0", "bytes 1 2 3", "bytes 1000000000000000001 0",
                "bytes 18446744073709551616 0", "bytes 1  2", "bytes 1x 2",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                ASSERT_ERROR(parse(bad[k], &m), EBADMSG);
}

TEST(request_verbs) {
        for (WorkerVerb v = 0; v < _WORKER_VERB_MAX; v++) {
                ASSERT_NOT_NULL(worker_verb_to_string(v));
                ASSERT_EQ(worker_verb_from_string(worker_verb_to_string(v)), v);
        }
        ASSERT_NULL(worker_verb_to_string(_WORKER_VERB_MAX));
        ASSERT_NULL(worker_verb_to_string(_WORKER_VERB_INVALID));
        ASSERT_EQ(worker_verb_from_string("freeze"), _WORKER_VERB_INVALID);
        ASSERT_EQ(worker_verb_from_string("Start"), _WORKER_VERB_INVALID);
        ASSERT_EQ(worker_verb_from_string(""), _WORKER_VERB_INVALID);
        ASSERT_EQ(worker_verb_from_string(NULL), _WORKER_VERB_INVALID);
}

static int decode_bytes(const char *wire, size_t len) {
        _cleanup_free_ char *buf = malloc(len ?: 1);
        _cleanup_(worker_request_done) WorkerRequest d = {};

        ASSERT_NOT_NULL(buf);
        memcpy(buf, wire, len);
        return worker_request_decode(buf, len, &d);
}

#define ASSERT_MALFORMED(s) ASSERT_ERROR(decode_bytes(s, sizeof(s) - 1), EBADMSG)

TEST(request_malformed) {
        /* Framing: empty, truncated, no final NUL. */
        ASSERT_ERROR(decode_bytes("", 0), EBADMSG);
        ASSERT_MALFORMED("\0");
        ASSERT_MALFORMED("stop\0/l\0web\0" "30");
        ASSERT_MALFORMED("stop\0/l\0web\0");
        ASSERT_MALFORMED("stop\0/l\0");
        ASSERT_MALFORMED("stop\0");
        ASSERT_MALFORMED("stop");
        /* Unknown or empty verb, empty lxcpath, a name that is no file name. */
        ASSERT_MALFORMED("freeze\0/l\0web\0x\0");
        ASSERT_MALFORMED("STOP\0/l\0web\0001\0");
        ASSERT_MALFORMED("\0/l\0web\0x\0");
        ASSERT_MALFORMED("start\0\0web\0cg\0000\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0\0cg\0000\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0a/b\0cg\0000\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0.\0cg\0000\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0..\0cg\0000\0empty\0\0\0000\0\0\0\0");
        /* start: missing, empty or extra arguments; a systemd flag that is neither 0 nor 1; a network
         * that does not fit together. */
        ASSERT_MALFORMED("start\0/l\0web\0\0000\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0\0\0x\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0002\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0yes\0empty\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0bridge\0br0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0br0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0a/b\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0abcdefghijklmnop\0\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0br0\001:16:3e:01:02:03\0000\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0br0\0\00067\0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0veth\0br0\0\00065536\0\0\0\0");
        /* start: payload limits that are no CPU list, a limit of 0, with leading zeros or past the bound,
         * memory without memsw or the other way round, memsw below memory. */
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0000-\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0001-0\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0001024\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0000,,1\0\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0000\0max\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\00004096\0max\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0004611686018427387904\0max\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0004096\0\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0\0max\0");
        ASSERT_MALFORMED("start\0/l\0web\0cg\0000\0empty\0\0\0000\0\0008192\0004096\0");
        /* The one-argument verbs: missing, empty or extra arguments. */
        ASSERT_MALFORMED("destroy\0/l\0web\0\0");
        ASSERT_MALFORMED("destroy\0/l\0web\0/t\0/t\0");
        ASSERT_MALFORMED("console\0/l\0web\0");
        ASSERT_MALFORMED("console\0/l\0web\0001\0002\0");
        ASSERT_MALFORMED("stop\0/l\0web\0001\0\0");
        /* Bad numbers. */
        const char *numbers[] = { "", "-1", "+1", " 1", "1 ", "01", "1x", "0x10", "2147483648", "99999999999999999999" };
        for (size_t k = 0; k < ELEMENTSOF(numbers); k++) {
                char buf[64];
                int n = snprintf(buf, sizeof buf, "stop%c/l%cweb%c%s", 0, 0, 0, numbers[k]);
                ASSERT_ERROR(decode_bytes(buf, (size_t) n + 1), EBADMSG);
        }
        ASSERT_MALFORMED("console\0/l\0web\00065536\0");
        ASSERT_MALFORMED("console\0/l\0web\0-1\0");

        /* create: too few arguments, empty fields, a bad IDMAP (sscanf("%u") took "-1" and " 5"). */
        ASSERT_MALFORMED("create\0/s\0web\0/l\0{}\0-\0");
        ASSERT_MALFORMED("create\0/s\0web\0/l\0{}\0-\0\0");
        ASSERT_MALFORMED("create\0/s\0web\0\0{}\0-\0none\0");
        ASSERT_MALFORMED("create\0/s\0web\0/l\0\0-\0none\0");
        const char *idmaps[] = { "-1:1:1", "1:1:0", "0:1:1", "1:0:1", "1:1", "1:1:1:", "1:1:1x", " 1:1:1", "1: 1:1",
                                 "", "4294967295:1:1", "+1:1:1", "--" };
        for (size_t k = 0; k < ELEMENTSOF(idmaps); k++) {
                char buf[128];
                int n = snprintf(buf, sizeof buf, "create%c/s%cweb%c/l%c{}%c%s%cnone", 0, 0, 0, 0, 0, idmaps[k], 0);
                ASSERT_ERROR(decode_bytes(buf, (size_t) n + 1), EBADMSG);
        }

        /* exec. NENV = SIZE_MAX made "n < 6 + nenv + 1" wrap around, and the copy ran past the args. */
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\00018446744073709551615\0a\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\0001\0A=1\0");          /* no program */
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\0002\0A=1\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\0-1\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0004294967295\0000\0-\0000\0/bin/true\0"); /* (uid_t) -1 */
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0004294967295\0-\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0-1\0000\0-\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0x\0-\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\00024:80:1\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0000:80\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\00024:0\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\00024:10001\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\00024x80\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0\0000\0/bin/true\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\0000\0");
        ASSERT_MALFORMED("exec\0/l\0web\0\0000\0000\0-\0");
}

/* An exec request of n strings in all ("x" as every argument), the verb included. */
static char *exec_of_strings(size_t n, size_t *ret_len) {
        static const char head[] = "exec\0/l\0web\0\0000\0000\0-\0000";   /* 8 strings */
        char *buf = malloc(sizeof head + 2 * n);

        ASSERT_NOT_NULL(buf);
        memcpy(buf, head, sizeof head);
        size_t len = sizeof head;
        for (size_t k = 8; k < n; k++) {
                memcpy(buf + len, "x", 2);
                len += 2;
        }
        *ret_len = len;
        return buf;
}

TEST(request_export_import) {
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXPORT, .lxcpath = "/l", .name = "web" },
                   WIRE("export\0/l\0web\0none\0-\0000\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXPORT, .lxcpath = "/l", .name = "web",
                                      .export_ = { WORKER_COMPRESSION_ZSTD, 100000, 100001, 65536, true } },
                   WIRE("export\0/l\0web\0zstd\000100000:100001:65536\0001\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXPORT, .lxcpath = "/l", .name = "web",
                                      .export_.compression = WORKER_COMPRESSION_GZIP }, NULL, 0);
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_EXPORT, .lxcpath = "/l", .name = "web",
                                      .export_.compression = WORKER_COMPRESSION_XZ }, NULL, 0);
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_IMPORT, .lxcpath = "/s", .name = "web",
                                      .import.placement = { "/l", "{}" } },
                   WIRE("import\0/s\0web\0/l\0{}\0-\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_IMPORT, .lxcpath = "/s", .name = "web",
                                      .import.placement = { "/l", "{\"a\":1}", 100000, 100001, 65536 } },
                   WIRE("import\0/s\0web\0/l\0{\"a\":1}\000100000:100001:65536\0"));

        ASSERT_MALFORMED("export\0/l\0web\0none\0");
        ASSERT_MALFORMED("export\0/l\0web\0none\0-\0");
        ASSERT_MALFORMED("export\0/l\0web\0none\0-\0002\0");
        ASSERT_MALFORMED("export\0/l\0web\0none\0-\0yes\0");
        ASSERT_MALFORMED("export\0/l\0web\0bzip2\0-\0");
        ASSERT_MALFORMED("export\0/l\0web\0\0-\0");
        ASSERT_MALFORMED("export\0/l\0web\0none\0-\0001\0x\0");
        ASSERT_MALFORMED("export\0/l\0web\0none\0001:1:0\0000\0");
        ASSERT_MALFORMED("import\0/s\0web\0/l\0{}\0");
        ASSERT_MALFORMED("import\0/s\0web\0\0{}\0-\0");
        ASSERT_MALFORMED("import\0/s\0web\0/l\0\0-\0");
        ASSERT_MALFORMED("import\0/s\0web\0/l\0{}\0-1:1:1\0");
        ASSERT_MALFORMED("import\0/s\0web\0/l\0{}\0-\0none\0");
        ASSERT_MALFORMED("import\0/s\0../x\0/l\0{}\0-\0");

        /* Encode refuses what decode would. */
        _cleanup_free_ char *buf = NULL;
        size_t len;
        ASSERT_ERROR(worker_request_encode(&(WorkerRequest) { .verb = WORKER_VERB_EXPORT, .lxcpath = "/l", .name = "web",
                                                              .export_.compression = _WORKER_COMPRESSION_MAX },
                                           &buf, &len), EINVAL);
        ASSERT_ERROR(worker_request_encode(&(WorkerRequest) { .verb = WORKER_VERB_IMPORT, .lxcpath = "/s", .name = "web",
                                                              .import.placement.final_lxcpath = "/l" },
                                           &buf, &len), EINVAL);
}

TEST(request_hostname) {
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_HOSTNAME, .lxcpath = "/l", .name = "web2",
                                      .hostname.old_name = "web" },
                   WIRE("hostname\0/l\0web2\0web\0"));

        ASSERT_MALFORMED("hostname\0/l\0web2\0");
        ASSERT_MALFORMED("hostname\0/l\0web2\0\0");
        ASSERT_MALFORMED("hostname\0/l\0web2\0../x\0");
        ASSERT_MALFORMED("hostname\0/l\0web2\0-web\0");
        ASSERT_MALFORMED("hostname\0/l\0web2\0web\0x\0");
}

TEST(request_bounds) {
        _cleanup_(worker_request_done) WorkerRequest d = {};
        _cleanup_free_ char *buf = NULL, *big = NULL, *enc = NULL;
        size_t len;

        /* WORKER_REQUEST_ARGS_MAX strings pass, one more does not. */
        buf = exec_of_strings(WORKER_REQUEST_ARGS_MAX, &len);
        ASSERT_OK(worker_request_decode(buf, len, &d));
        ASSERT_EQ(strv_length(d.exec.argv), WORKER_REQUEST_ARGS_MAX - 8);
        worker_request_done(&d);
        buf = mfree(buf);
        buf = exec_of_strings(WORKER_REQUEST_ARGS_MAX + 1, &len);
        ASSERT_ERROR(worker_request_decode(buf, len, &d), EBADMSG);

        /* The packet bound: one byte over WORKER_MSG_MAX fails, whatever it holds. */
        big = calloc(WORKER_MSG_MAX + 1, 1);
        ASSERT_NOT_NULL(big);
        memcpy(big, "destroy\0/l\0web\0", 15);
        memset(big + 15, 'c', WORKER_MSG_MAX - 15);
        ASSERT_ERROR(worker_request_decode(big, WORKER_MSG_MAX + 1, &d), EBADMSG);
        ASSERT_ERROR(worker_request_decode(big, WORKER_MSG_MAX, &d), EBADMSG);   /* no NUL at the end */
        big[WORKER_MSG_MAX - 1] = 0;
        ASSERT_OK(worker_request_decode(big, WORKER_MSG_MAX, &d));
        ASSERT_EQ(strlen(d.destroy.trash_dir), WORKER_MSG_MAX - 16);

        /* And the encoder says so first: -E2BIG over the size or the count. */
        ASSERT_OK(worker_request_encode(&(WorkerRequest) { .verb = WORKER_VERB_DESTROY, .lxcpath = "/l", .name = "web",
                                                           .destroy.trash_dir = d.destroy.trash_dir },
                                        &enc, &len));
        ASSERT_EQ(len, WORKER_MSG_MAX);
        enc = mfree(enc);
        char *cg = big + 15;
        big[WORKER_MSG_MAX - 1] = 'c';
        big[WORKER_MSG_MAX] = 0;
        ASSERT_ERROR(worker_request_encode(&(WorkerRequest) { .verb = WORKER_VERB_DESTROY, .lxcpath = "/l",
                                                              .name = "web", .destroy.trash_dir = cg },
                                           &enc, &len), E2BIG);
        _cleanup_free_ char **argv = calloc(WORKER_REQUEST_ARGS_MAX, sizeof(char *));
        ASSERT_NOT_NULL(argv);
        for (size_t k = 0; k < WORKER_REQUEST_ARGS_MAX - 8; k++)
                argv[k] = (char *) "x";
        WorkerRequest x = { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web", .exec.argv = argv };
        ASSERT_OK(worker_request_encode(&x, &enc, &len));
        enc = mfree(enc);
        argv[WORKER_REQUEST_ARGS_MAX - 8] = (char *) "x";
        ASSERT_ERROR(worker_request_encode(&x, &enc, &len), E2BIG);
        ASSERT_NULL(enc);
}

TEST(request_encode_invalid) {
        const WorkerRequest bad[] = {
                { .verb = _WORKER_VERB_INVALID, .lxcpath = "/l", .name = "web" },
                { .verb = _WORKER_VERB_MAX, .lxcpath = "/l", .name = "web" },
                { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "", .start.cgroup_dir = "cg" },
                { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "a/b", .start.cgroup_dir = "cg" },
                { .verb = WORKER_VERB_START, .lxcpath = NULL, .name = "web", .start.cgroup_dir = "cg" },
                { .verb = WORKER_VERB_START, .lxcpath = "", .name = "web", .start.cgroup_dir = "cg" },
                { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = NULL, .start.cgroup_dir = "cg" },
                { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web" },
                { .verb = WORKER_VERB_START, .lxcpath = "/l", .name = "web", .start.cgroup_dir = "" },
                { .verb = WORKER_VERB_STOP, .lxcpath = "/l", .name = "web", .stop.timeout_sec = (unsigned) INT_MAX + 1 },
                { .verb = WORKER_VERB_DESTROY, .lxcpath = "/l", .name = "web" },
                { .verb = WORKER_VERB_CONSOLE, .lxcpath = "/l", .name = "web", .console.tty = WORKER_TTY_MAX + 1 },
                { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                  .create.placement = { "/l", "{}" } },
                { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                  .create = { .placement = { "/l", "" }, .template = "none" } },
                { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                  .create = { .placement = { "/l", "{}", .idmap_count = 1 }, .template = "none" } },
                { .verb = WORKER_VERB_CREATE, .lxcpath = "/s", .name = "web",
                  .create = { .placement = { "/l", "{}", 1, UINT32_MAX, 1 }, .template = "none" } },
                { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web" },
                { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web", .exec.argv = STRV_MAKE(NULL) },
                { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                  .exec = { .uid = (uid_t) -1, .argv = STRV_MAKE("x") } },
                { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                  .exec = { .pty = true, .rows = 0, .cols = 80, .argv = STRV_MAKE("x") } },
                { .verb = WORKER_VERB_EXEC, .lxcpath = "/l", .name = "web",
                  .exec = { .pty = true, .rows = 24, .cols = WORKER_PTY_SIZE_MAX + 1, .argv = STRV_MAKE("x") } },
        };

        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 4242;

                ASSERT_ERROR(worker_request_encode(&bad[k], &buf, &len), EINVAL);
                ASSERT_NULL(buf);
                ASSERT_EQ(len, 4242);
        }
}

/* ---------------------------------------------------------------- message encoders */

static void format_round_trip(const WorkerMessage *m, const char *wire) {
        char buf[256];
        WorkerMessage p;
        int n;

        n = worker_message_format(m, buf, sizeof buf);
        ASSERT_OK(n);
        ASSERT_EQ(n, strlen(wire));
        ASSERT_STREQ(buf, wire);
        ASSERT_OK(worker_message_parse(buf, (size_t) n, &p));
        ASSERT_EQ(p.kind, m->kind);
        switch (m->kind) {
        case WORKER_MESSAGE_PROGRESS:
                ASSERT_TRUE(fabs(p.progress - m->progress) < 0.0005);
                ASSERT_TRUE(streq_ptr(p.text, m->text));
                break;
        case WORKER_MESSAGE_RUNNING:
                ASSERT_EQ(p.pid, m->pid);
                break;
        case WORKER_MESSAGE_EXITED:
                ASSERT_EQ(p.status, m->status);
                ASSERT_EQ(p.signal, m->signal);
                break;
        case WORKER_MESSAGE_RESULT:
                ASSERT_EQ(p.error, m->error);
                ASSERT_STREQ(p.text, strempty(m->text));
                break;
        case WORKER_MESSAGE_CONSOLE:
                ASSERT_EQ(p.tty, m->tty);
                break;
        default:
                break;
        }
}

TEST(message_format) {
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_PROGRESS, .progress = 0.1, .text = "shutting down" },
                          "progress 0.100 shutting down");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_PROGRESS, .progress = 1 }, "progress 1.000");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_PROGRESS, .progress = 0.125, .text = "" },
                          "progress 0.125 ");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = 4242 }, "running 4242");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = WORKER_PID_MAX }, "running 4194304");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_EXITED, .status = 3 }, "exited 3 0");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_EXITED, .status = -1, .signal = 9 }, "exited -1 9");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_RESULT, .text = "created" }, "result 0 created");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_RESULT, .error = 2,
                                             .text = "Instance 'web' has no LXC config." },
                          "result 2 Instance 'web' has no LXC config.");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_RESULT, .error = WORKER_ERRNO_MAX }, "result 4095 ");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_CONSOLE, .tty = 0 }, "console 0");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_CONSOLE, .tty = 64 }, "console 64");
        format_round_trip(&(WorkerMessage) { .kind = WORKER_MESSAGE_PTY }, "pty");

        /* What the parser would refuse is not written. */
        const WorkerMessage bad[] = {
                { .kind = WORKER_MESSAGE_PROGRESS, .progress = NAN },
                { .kind = WORKER_MESSAGE_PROGRESS, .progress = INFINITY },
                { .kind = WORKER_MESSAGE_PROGRESS, .progress = 1.5 },
                { .kind = WORKER_MESSAGE_PROGRESS, .progress = -0.5 },
                { .kind = WORKER_MESSAGE_RUNNING, .pid = 0 },
                { .kind = WORKER_MESSAGE_RUNNING, .pid = -1 },
                { .kind = WORKER_MESSAGE_RUNNING, .pid = WORKER_PID_MAX + 1 },
                { .kind = WORKER_MESSAGE_EXITED, .status = 3, .signal = 9 },
                { .kind = WORKER_MESSAGE_EXITED, .status = -1, .signal = 0 },
                { .kind = WORKER_MESSAGE_EXITED, .status = 256 },
                { .kind = WORKER_MESSAGE_EXITED, .status = -1, .signal = 65 },
                { .kind = WORKER_MESSAGE_RESULT, .error = -5 },
                { .kind = WORKER_MESSAGE_RESULT, .error = WORKER_ERRNO_MAX + 1 },
                { .kind = WORKER_MESSAGE_CONSOLE, .tty = -1 },
                { .kind = WORKER_MESSAGE_CONSOLE, .tty = WORKER_TTY_MAX + 1 },
                { .kind = _WORKER_MESSAGE_KIND_INVALID },
                { .kind = _WORKER_MESSAGE_KIND_MAX },
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                char buf[256];
                ASSERT_ERROR(worker_message_format(&bad[k], buf, sizeof buf), EINVAL);
        }

        /* A buffer too small; one that just fits. */
        char small[5];
        ASSERT_ERROR(worker_message_format(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = 42 }, small,
                                           sizeof small), ENOBUFS);
        char fits[11];
        ASSERT_EQ(worker_message_format(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = 42 }, fits,
                                        sizeof fits), 10);

        /* The daemon's "go" is not a worker message. */
        WorkerMessage m;
        ASSERT_ERROR(parse(WORKER_MESSAGE_GO, &m), EBADMSG);
}

/* ---------------------------------------------------------------- numbers */

TEST(numbers) {
        unsigned u;

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

/* copy: without and with an owner shift; refusals of what the daemon must never send. */
TEST(request_copy) {
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_COPY, .lxcpath = "/s", .name = ".snap-1",
                                      .copy.source = "/l/web/rootfs" },
                   WIRE("copy\0/s\0.snap-1\0/l/web/rootfs\0-\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_COPY, .lxcpath = "/s/new", .name = "rootfs",
                                      .copy = { .source = "/l/web/rootfs", .from_uid = 100000, .from_gid = 100001,
                                                .to_uid = 165536, .to_gid = 165537, .count = 65536 } },
                   WIRE("copy\0/s/new\0rootfs\0/l/web/rootfs\000100000:100001:165536:165537:65536\0"));
        /* A privileged source (ids from 0) into a block. */
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_COPY, .lxcpath = "/s", .name = "x",
                                      .copy = { .source = "/s/a", .to_uid = 100000, .to_gid = 100000, .count = 65536 } },
                   WIRE("copy\0/s\0x\0/s/a\0" "0:0:100000:100000:65536\0"));
        round_trip(&(WorkerRequest) { .verb = WORKER_VERB_COPY, .lxcpath = "/s", .name = "x",
                                      .copy = { .source = "/", .from_uid = 1, .from_gid = 1, .to_uid = UINT32_MAX - 1,
                                                .to_gid = 1, .count = 1 } },
                   NULL, 0);
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0");
        ASSERT_MALFORMED("copy\0/s\0x\0src\0-\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0-\0extra\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:1:1\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:0:1:1\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:1:0:1\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:1:1:0\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:4294967294:1:2\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "1:1:1:1:1:\0");
        ASSERT_MALFORMED("copy\0/s\0x\0/src\0" "01:1:1:1:1\0");
}
