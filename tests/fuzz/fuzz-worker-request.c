/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Daemon -> worker: one request as worker_main() receives it, and the arguments of every verb as the
 * do_*() functions parse them (exec's layout, create's IDMAP, the numbers of stop and console). Whatever
 * parses is in range and, printed again, gives the input back. */

#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "worker-proto.h"

/* Joins strings as the daemon's worker_spawn_with_fds() does. */
static void check_join(const char *const *strv, size_t n, const char *buf, size_t len) {
        size_t off = 0;

        for (size_t k = 0; k < n; k++) {
                size_t l = strlen(strv[k]) + 1;

                FUZZ_CHECK(off + l <= len);
                FUZZ_CHECK(memcmp(buf + off, strv[k], l) == 0);
                off += l;
        }
        FUZZ_CHECK(off == len);
}

static void check_exec(char **args, size_t n) {
        _cleanup_(worker_exec_args_done) WorkerExecArgs a = {};
        size_t ne = 0, na = 0;
        int r;

        r = worker_exec_args_parse(args, n, &a);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                FUZZ_CHECK(!a.env && !a.argv);
                return;
        }
        FUZZ_CHECK(n >= 8);
        FUZZ_CHECK(a.env && a.argv && a.argv[0]);
        while (a.env[ne])
                ne++;
        while (a.argv[na])
                na++;
        FUZZ_CHECK(7 + ne + na == n);
        /* In order, the very strings of the request. */
        for (size_t k = 0; k < ne; k++)
                FUZZ_CHECK(a.env[k] == args[7 + k]);
        for (size_t k = 0; k < na; k++)
                FUZZ_CHECK(a.argv[k] == args[7 + ne + k]);
        FUZZ_CHECK(a.uid != (uid_t) -1 && a.gid != (gid_t) -1);
        FUZZ_CHECK(streq_ptr(a.cwd, args[2][0] ? args[2] : NULL));

        char u[16], g[16], pty[32], nenv[24];
        snprintf(u, sizeof u, "%u", (unsigned) a.uid);
        snprintf(g, sizeof g, "%u", (unsigned) a.gid);
        snprintf(nenv, sizeof nenv, "%zu", ne);
        if (a.pty) {
                FUZZ_CHECK(a.rows >= 1 && a.rows <= WORKER_PTY_SIZE_MAX);
                FUZZ_CHECK(a.cols >= 1 && a.cols <= WORKER_PTY_SIZE_MAX);
                snprintf(pty, sizeof pty, "%u:%u", a.rows, a.cols);
        } else
                strcpy(pty, "-");
        FUZZ_CHECK(streq(args[3], u) && streq(args[4], g) && streq(args[5], pty) && streq(args[6], nenv));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char **args = NULL;
        const char *verb = NULL;
        size_t n = 0;
        int r;

        if (size > WORKER_MSG_MAX + 1)
                return 0;
        /* Exactly the bytes received, without an extra NUL: the parser must not look past len. */
        buf = malloc(size ?: 1);
        if (!buf)
                abort();
        if (size > 0)
                memcpy(buf, data, size);

        r = worker_request_parse(buf, size, &verb, &args, &n);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                FUZZ_CHECK(!args);
                return 0;
        }
        FUZZ_CHECK(size >= 2 && size <= WORKER_MSG_MAX);
        FUZZ_CHECK(verb == buf && verb[0]);
        FUZZ_CHECK(n + 1 <= WORKER_REQUEST_ARGS_MAX);
        FUZZ_CHECK(args[n] == NULL);
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(args[k] > buf && args[k] < buf + size);

        _cleanup_free_ const char **all = calloc(n + 1, sizeof(char *));
        FUZZ_CHECK(all);
        all[0] = verb;
        for (size_t k = 0; k < n; k++)
                all[k + 1] = args[k];
        check_join(all, n + 1, buf, size);

        /* Every argument as each kind of number the verbs have. */
        for (size_t k = 0; k < n; k++) {
                unsigned v, uid, gid, count;
                char t[64];

                if (worker_parse_uint(args[k], UINT32_MAX, &v) >= 0) {
                        snprintf(t, sizeof t, "%u", v);
                        FUZZ_CHECK(streq(t, args[k]));
                }
                if (worker_parse_uint(args[k], WORKER_TTY_MAX, &v) >= 0)
                        FUZZ_CHECK(v <= WORKER_TTY_MAX);
                if (worker_idmap_parse(args[k], &uid, &gid, &count) >= 0) {
                        if (uid == 0)
                                FUZZ_CHECK(streq(args[k], "-") && gid == 0 && count == 0);
                        else {
                                FUZZ_CHECK(gid > 0 && count > 0);
                                snprintf(t, sizeof t, "%u:%u:%u", uid, gid, count);
                                FUZZ_CHECK(streq(t, args[k]));
                        }
                }
        }

        /* exec's layout, whatever the verb: the fuzzer need not find the word first. */
        check_exec(args, n);
        return 0;
}
