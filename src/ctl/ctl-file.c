/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "file push" and "file pull": Instance.PushFile and PullFile with a local file or stdin/stdout, followed
 * with a progress line (ctl-operation.h). The daemon takes a pipe, a socket, a regular file or /dev/null;
 * a terminal (or another device) is relayed through a pipe by a child of ours. */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "exec-fd.h"
#include "ctl-operation.h"
#include "ctl-util.h"

typedef struct FileArgs {
        bool have_mode, have_uid, have_gid;
        uint32_t mode, uid, gid;
        bool mkdir_parents;
        bool async;
} FileArgs;

static int parse_mode(Context *c, const char *arg, void *userdata) {
        FileArgs *a = userdata;
        char *end;
        unsigned long m;

        errno = 0;
        m = strtoul(arg, &end, 8);
        if (isempty(arg) || *end != 0 || errno != 0 || m > 07777 || arg[0] == '-' || arg[0] == '+' || arg[0] == ' ')
                return ctl_usage_error(c, "Invalid mode '%s': expected octal, at most 7777.", arg);
        a->mode = (uint32_t) m;
        a->have_mode = true;
        return 1;
}

static int parse_id(Context *c, const char *arg, uint32_t *ret, bool *ret_have, const char *what) {
        if (ctl_parse_uint32(arg, ret) < 0 || *ret == UINT32_MAX)
                return ctl_usage_error(c, "Invalid %s '%s': expected a number (as the instance sees it).", what, arg);
        *ret_have = true;
        return 1;
}

static int parse_uid(Context *c, const char *arg, void *userdata) {
        FileArgs *a = userdata;
        return parse_id(c, arg, &a->uid, &a->have_uid, "uid");
}

static int parse_gid(Context *c, const char *arg, void *userdata) {
        FileArgs *a = userdata;
        return parse_id(c, arg, &a->gid, &a->have_gid, "gid");
}

/* "NAME:PATH", PATH absolute; *ret_name malloc'ed. */
static int split_remote(Context *c, const char *s, char **ret_name, const char **ret_path) {
        const char *colon = strchr(s, ':');
        char *name;

        if (!colon || colon == s || colon[1] != '/')
                return ctl_usage_error(c, "Invalid '%s': expected NAME:/ABSOLUTE/PATH.", s);
        name = strndup(s, (size_t) (colon - s));
        if (!name)
                return ctl_error_errno(c, ENOMEM, "Out of memory.");
        *ret_name = name;
        *ret_path = colon + 1;
        return 0;
}

/* What the daemon takes as it is. */
static bool fd_passes(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return false;
        return S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
                stat_is_devnull(&st);
}

static _noreturn_ void relay_child(int in, int out) {
        char buf[65536];

        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(n == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
                for (ssize_t o = 0; o < n;) {
                        ssize_t k = write(out, buf + o, (size_t) (n - o));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0)
                                _exit(EXIT_FAILURE);
                        o += k;
                }
        }
}

/* fd (a terminal, say) through a pipe: *ret_fd is the pipe's end for the daemon, a child copies between
 * the other end and fd. read_from_fd: push (fd -> pipe), else pull (pipe -> fd). */
static int relay(Context *c, int fd, bool read_from_fd, int *ret_fd, pid_t *ret_pid) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return ctl_error_errno(c, errno, "Failed to create a pipe: %m");
        pid = fork();
        if (pid < 0) {
                (void) close(p[0]);
                (void) close(p[1]);
                return ctl_error_errno(c, errno, "Failed to fork: %m");
        }
        if (pid == 0) {
                (void) signal(SIGINT, SIG_IGN);   /* the parent cancels; the relay ends at EOF */
                if (read_from_fd) {
                        (void) close(p[0]);
                        relay_child(fd, p[1]);
                }
                (void) close(p[1]);
                relay_child(p[0], fd);
        }
        (void) close(read_from_fd ? p[1] : p[0]);
        *ret_fd = read_from_fd ? p[0] : p[1];
        *ret_pid = pid;
        return 0;
}

/* Calls member with path and fd (async), drops our copies of fd, waits for the operation. */
static int run_file_call(Context *c, const char *name, const char *member, const char *path, int fd,
                         const FileArgs *a) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_new_instance_call(c, name, member, &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sh", path, fd);
        if (r >= 0)
                r = CTL_APPEND_OPTIONS(m,
                                       CTL_BUS_FLAG("async", true),
                                       CTL_BUS_U32("mode", a->have_mode, a->mode),
                                       CTL_BUS_U32("uid", a->have_uid, a->uid),
                                       CTL_BUS_U32("gid", a->have_gid, a->gid),
                                       CTL_BUS_FLAG("mkdir-parents", a->mkdir_parents));
        if (r < 0)
                return ctl_message_error(c, r);
        return ctl_call_operation(c, &m, CTL_OPERATION_FOLLOW);
}

/* The local end: "-" for stdin (push) or stdout (pull), else the file, which a pull creates (or truncates).
 * *ret_opened: what to close, *ret_created: whether we made it. */
static int open_local(Context *c, const char *local, bool push, int *ret_fd, int *ret_opened,
                      bool *ret_created) {
        int fd;

        *ret_created = false;
        if (streq(local, "-")) {
                *ret_fd = push ? STDIN_FILENO : STDOUT_FILENO;
                return 0;
        }
        if (push)
                fd = open(local, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        else {
                fd = open(local, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0666);
                *ret_created = fd >= 0;
                if (fd < 0 && errno == EEXIST)
                        fd = open(local, O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
        }
        if (fd < 0)
                return ctl_error_errno(c, errno, "Failed to open '%s': %m", local);
        *ret_fd = *ret_opened = fd;
        return 0;
}

/* push: LOCAL to NAME:PATH, else NAME:PATH to LOCAL. */
static int file_transfer(Context *c, const char *local, const char *remote, bool push, const FileArgs *a) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int opened = -EBADF, pipe_fd = -EBADF;
        const char *path = NULL;
        pid_t relay_pid = 0;
        bool created;
        int r, fd = -EBADF;

        r = split_remote(c, remote, &name, &path);
        if (r < 0)
                return r;
        r = open_local(c, local, push, &fd, &opened, &created);
        if (r < 0)
                return r;
        if (!fd_passes(fd)) {
                r = relay(c, fd, push, &pipe_fd, &relay_pid);
                if (r < 0)
                        return r;
                fd = pipe_fd;
        }
        r = run_file_call(c, name, push ? "PushFile" : "PullFile", path, fd, a);
        if (relay_pid > 0) {
                pipe_fd = safe_close(pipe_fd);
                if (push)
                        (void) kill(relay_pid, SIGTERM);   /* it may still wait for a terminal's input */
                (void) waitpid(relay_pid, NULL, 0);        /* a pull's data all written before we return */
        }
        /* Nothing half-pulled stays behind under a name we made. */
        if (r < 0 && created)
                (void) unlink(local);
        return r;
}

int verb_file(Context *c, int argc, char *argv[]) {
        static const CtlOption options[] = {
                CTL_OPTION_ARG("mode", parse_mode),
                CTL_OPTION_ARG("uid", parse_uid),
                CTL_OPTION_ARG("gid", parse_gid),
                { .name = "mkdir-parents", .short_name = 'p', .flag = offsetof(FileArgs, mkdir_parents) },
                {}
        };
        FileArgs a = {};
        const char *sub;
        int r;

        r = ctl_parse_options(c, argc, argv, options, &a, 0);
        if (r <= 0)
                return r;
        if (optind >= argc)
                return ctl_usage_error(c, "Missing 'push' or 'pull'.");
        sub = argv[optind++];
        if (streq(sub, "push")) {
                r = ctl_expect_args(c, argc, argv, 2, "LOCAL and NAME:PATH");
                if (r < 0)
                        return r;
                return file_transfer(c, argv[optind], argv[optind + 1], true, &a);
        }
        if (streq(sub, "pull")) {
                if (a.have_mode || a.have_uid || a.have_gid || a.mkdir_parents)
                        return ctl_usage_error(c, "'file pull' takes no --mode, --uid, --gid or -p.");
                r = ctl_expect_args(c, argc, argv, 2, "NAME:PATH and LOCAL");
                if (r < 0)
                        return r;
                return file_transfer(c, argv[optind + 1], argv[optind], false, &a);
        }
        return ctl_usage_error(c, "Unknown 'file' command '%s': expected 'push' or 'pull'.", sub);
}
