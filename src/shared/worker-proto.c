/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing of the daemon <-> worker protocol (worker-proto.h). Pure functions: no I/O, no global state, so
 * they are unit tested and fuzzed (tests/fuzz/fuzz-worker-request.c, fuzz-worker-message.c). Both ends
 * are our own programs, but a request crosses an exec, and a start worker's socket is inherited by the
 * container's init: every number is parsed strictly and checked against its range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "util.h"
#include "worker-proto.h"

int worker_request_parse(char *buf, size_t len, const char **ret_verb, char ***ret_args, size_t *ret_n) {
        _cleanup_free_ char **args = NULL;
        size_t n = 0;

        if (!buf || len < 1 || len > WORKER_MSG_MAX || buf[len - 1] != 0 || buf[0] == 0)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++)
                if (buf[i] == 0 && ++n > WORKER_REQUEST_ARGS_MAX)
                        return -EBADMSG;
        /* n strings: the verb, n - 1 arguments, and the terminating NULL. */
        args = calloc(n, sizeof(char *));
        if (!args)
                return -ENOMEM;
        n = 0;
        for (char *p = buf + strlen(buf) + 1; p < buf + len; p += strlen(p) + 1)
                args[n++] = p;
        args[n] = NULL;
        *ret_verb = buf;
        *ret_args = TAKE_PTR(args);
        *ret_n = n;
        return 0;
}

/* Reads the number at the start of s up to the first byte not a digit; *ret_end points there. */
static int parse_uint_prefix(const char *s, unsigned long long max, unsigned long long *ret, const char **ret_end) {
        unsigned long long v = 0;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        if (*p == '0' && p[1] >= '0' && p[1] <= '9')
                return -EINVAL;   /* no leading zeros: one spelling per number */
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (unsigned) (*p - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = v;
        *ret_end = p;
        return 0;
}

int worker_parse_uint(const char *s, unsigned max, unsigned *ret) {
        unsigned long long v;
        const char *end;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_uint_prefix(s, max, &v, &end);
        if (r < 0)
                return r;
        if (*end != 0)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* A signed number in [min, max] at the start of s (a '-' only where min < 0). */
static int parse_int_prefix(const char *s, int min, int max, int *ret, const char **ret_end) {
        unsigned long long v;
        bool neg = s[0] == '-';
        int r;

        if (neg && min >= 0)
                return -EINVAL;
        r = parse_uint_prefix(s + neg, neg ? (unsigned long long) -(long long) min : (unsigned long long) max,
                              &v, ret_end);
        if (r < 0)
                return r;
        if (neg && v == 0)
                return -EINVAL;   /* "-0" */
        *ret = neg ? (int) -(long long) v : (int) v;
        return 0;
}

/* After a number: the end, or one space and then anything (*ret_rest; NULL at the end). */
static int parse_rest(const char *p, const char **ret_rest) {
        if (*p == 0) {
                *ret_rest = NULL;
                return 0;
        }
        if (*p != ' ')
                return -EBADMSG;
        *ret_rest = p + 1;
        return 0;
}

int worker_exec_args_parse(char *const *args, size_t n, WorkerExecArgs *ret) {
        _cleanup_free_ char **env = NULL, **argv = NULL;
        WorkerExecArgs a = {};
        unsigned u, g, nenv;
        const char *end;

        /* LXCPATH NAME CWD UID GID PTY NENV, then at least the program. */
        if (!args || n < 8 || n > WORKER_REQUEST_ARGS_MAX)
                return -EBADMSG;
        for (size_t k = 0; k < n; k++)
                if (!args[k])
                        return -EBADMSG;
        a.cwd = args[2][0] ? args[2] : NULL;
        /* (uid_t) -1 means "unchanged" to the kernel's set*id(): never a target. */
        if (worker_parse_uint(args[3], UINT32_MAX - 1, &u) < 0 || worker_parse_uint(args[4], UINT32_MAX - 1, &g) < 0)
                return -EBADMSG;
        a.uid = (uid_t) u;
        a.gid = (gid_t) g;
        if (!streq(args[5], "-")) {
                unsigned long long rows, cols;

                if (parse_uint_prefix(args[5], WORKER_PTY_SIZE_MAX, &rows, &end) < 0 || *end != ':' ||
                    parse_uint_prefix(end + 1, WORKER_PTY_SIZE_MAX, &cols, &end) < 0 || *end != 0 || rows == 0 ||
                    cols == 0)
                        return -EBADMSG;
                a.pty = true;
                a.rows = (unsigned) rows;
                a.cols = (unsigned) cols;
        }
        if (worker_parse_uint(args[6], (unsigned) (n - 8), &nenv) < 0)
                return -EBADMSG;
        env = calloc(nenv + 1, sizeof(char *));
        argv = calloc(n - 7 - nenv + 1, sizeof(char *));
        if (!env || !argv)
                return -ENOMEM;
        for (size_t k = 0; k < nenv; k++)
                env[k] = args[7 + k];
        for (size_t k = 7 + nenv; k < n; k++)
                argv[k - 7 - nenv] = args[k];
        a.env = TAKE_PTR(env);
        a.argv = TAKE_PTR(argv);
        *ret = a;
        return 0;
}

void worker_exec_args_done(WorkerExecArgs *a) {
        a->env = mfree(a->env);
        a->argv = mfree(a->argv);
}

int worker_idmap_parse(const char *s, unsigned *ret_uid, unsigned *ret_gid, unsigned *ret_count) {
        unsigned long long v[3];
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (streq(s, "-")) {
                *ret_uid = *ret_gid = *ret_count = 0;
                return 0;
        }
        for (size_t k = 0; k < 3; k++) {
                if (parse_uint_prefix(p, UINT32_MAX - 1, &v[k], &p) < 0 || v[k] == 0)
                        return -EINVAL;
                if (*p != (k < 2 ? ':' : 0))
                        return -EINVAL;
                p++;
        }
        *ret_uid = (unsigned) v[0];
        *ret_gid = (unsigned) v[1];
        *ret_count = (unsigned) v[2];
        return 0;
}

/* "0", "1", "0.5", "0.125": what "%.3f" prints for 0..1, and no more (no sign, exponent, "nan", hex). */
static int parse_fraction(const char *s, double *ret, const char **ret_end) {
        unsigned long long ip, frac = 0, scale = 1;
        const char *p;

        if (parse_uint_prefix(s, 1, &ip, &p) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale >= 1000000000ULL)
                                return -EINVAL;   /* 9 decimals are plenty for a progress bar */
                        frac = frac * 10 + (unsigned) (*p - '0');
                        scale *= 10;
                }
        }
        double f = (double) ip + (double) frac / (double) scale;
        if (f > 1.0)
                return -ERANGE;
        *ret = f;
        *ret_end = p;
        return 0;
}

static const char *const message_words[_WORKER_MESSAGE_KIND_MAX] = {
        [WORKER_MESSAGE_PROGRESS] = "progress",
        [WORKER_MESSAGE_RUNNING] = "running",
        [WORKER_MESSAGE_EXITED] = "exited",
        [WORKER_MESSAGE_RESULT] = "result",
        [WORKER_MESSAGE_CONSOLE] = "console",
        [WORKER_MESSAGE_PTY] = "pty",
};

int worker_message_parse(const char *msg, size_t len, WorkerMessage *ret) {
        WorkerMessage m = { .kind = _WORKER_MESSAGE_KIND_INVALID };
        const char *p = NULL, *rest;
        unsigned long long v;

        if (!msg || len > WORKER_MSG_MAX || msg[len] != 0 || strlen(msg) != len)
                return -EBADMSG;
        for (int k = 0; k < _WORKER_MESSAGE_KIND_MAX; k++) {
                size_t l = strlen(message_words[k]);

                if (strncmp(msg, message_words[k], l) != 0)
                        continue;
                if (msg[l] == ' ')
                        p = msg + l + 1;
                else if (msg[l] == 0)
                        p = msg + l;
                else
                        continue;
                m.kind = (WorkerMessageKind) k;
                break;
        }

        switch (m.kind) {
        case WORKER_MESSAGE_PROGRESS:
                if (parse_fraction(p, &m.progress, &p) < 0 || parse_rest(p, &rest) < 0)
                        return -EBADMSG;
                m.text = rest;
                break;
        case WORKER_MESSAGE_RUNNING:
                if (parse_uint_prefix(p, WORKER_PID_MAX, &v, &p) < 0 || *p != 0 || v == 0)
                        return -EBADMSG;
                m.pid = (pid_t) v;
                break;
        case WORKER_MESSAGE_EXITED:
                if (parse_int_prefix(p, -1, WORKER_STATUS_MAX, &m.status, &p) < 0 || *p != ' ' ||
                    parse_int_prefix(p + 1, 0, WORKER_SIGNAL_MAX, &m.signal, &p) < 0 || *p != 0)
                        return -EBADMSG;
                /* Exited with a status, or killed by a signal: never both, never neither. */
                if ((m.status < 0) != (m.signal > 0))
                        return -EBADMSG;
                break;
        case WORKER_MESSAGE_RESULT:
                if (parse_int_prefix(p, 0, WORKER_ERRNO_MAX, &m.error, &p) < 0 || parse_rest(p, &rest) < 0)
                        return -EBADMSG;
                m.text = rest ?: "";
                break;
        case WORKER_MESSAGE_CONSOLE:
                if (parse_int_prefix(p, 0, WORKER_TTY_MAX, &m.tty, &p) < 0 || *p != 0)
                        return -EBADMSG;
                break;
        case WORKER_MESSAGE_PTY:
                if (!streq(msg, "pty"))
                        return -EBADMSG;
                break;
        default:
                return -EBADMSG;
        }
        *ret = m;
        return 0;
}
