/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon <-> worker protocol (worker-proto.h), both ways: requests are encoded and decoded here, and
 * messages formatted and parsed, so each form is written down once. Pure functions: no I/O, no global state, so
 * they are unit tested and fuzzed (tests/fuzz/fuzz-worker-request.c, fuzz-worker-message.c). Both ends
 * are our own programs, but a request crosses an exec, and a start worker's socket is inherited by the
 * container's init: every number is parsed strictly and checked against its range. */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "names.h"
#include "network.h"
#include "resource-limits.h"
#include "util.h"
#include "worker-proto.h"

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

/* ---------------------------------------------------------------- requests */

static const char *const verb_table[_WORKER_VERB_MAX] = {
        [WORKER_VERB_CREATE] = "create",   [WORKER_VERB_START] = "start",     [WORKER_VERB_STOP] = "stop",
        [WORKER_VERB_DESTROY] = "destroy", [WORKER_VERB_CONSOLE] = "console", [WORKER_VERB_EXEC] = "exec",
        [WORKER_VERB_PUSH_FILE] = "push-file", [WORKER_VERB_PULL_FILE] = "pull-file",
        [WORKER_VERB_COPY] = "copy",
        [WORKER_VERB_EXPORT] = "export",   [WORKER_VERB_IMPORT] = "import",
        [WORKER_VERB_HOSTNAME] = "hostname",
};

DEFINE_STRING_TABLE_LOOKUP(worker_verb, WorkerVerb, verb_table, _WORKER_VERB_MAX, _WORKER_VERB_INVALID);

static const char *const compression_table[_WORKER_COMPRESSION_MAX] = {
        [WORKER_COMPRESSION_NONE] = "none", [WORKER_COMPRESSION_GZIP] = "gzip",
        [WORKER_COMPRESSION_XZ] = "xz",     [WORKER_COMPRESSION_ZSTD] = "zstd",
};

DEFINE_STRING_TABLE_LOOKUP(worker_compression, WorkerCompression, compression_table, _WORKER_COMPRESSION_MAX,
                           _WORKER_COMPRESSION_INVALID);

/* IDMAP of create, export and import: "-" (privileged: all 0) or "UID:GID:COUNT", all three > 0 and never
 * (uid_t) -1. */
static int parse_idmap(const char *s, unsigned *ret_uid, unsigned *ret_gid, unsigned *ret_count) {
        unsigned long long v[3];
        const char *p = s;

        if (streq(s, "-")) {
                *ret_uid = *ret_gid = *ret_count = 0;
                return 0;
        }
        for (size_t k = 0; k < 3; k++) {
                if (parse_uint_prefix(p, UINT32_MAX - 1, &v[k], &p) < 0 || v[k] == 0 || *p != (k < 2 ? ':' : 0))
                        return -EBADMSG;
                p++;
        }
        *ret_uid = (unsigned) v[0];
        *ret_gid = (unsigned) v[1];
        *ret_count = (unsigned) v[2];
        return 0;
}

/* exec's PTY: "-" (the caller's stdio) or "ROWS:COLS", both 1..WORKER_PTY_SIZE_MAX. */
static int parse_pty(const char *s, WorkerExecArgs *a) {
        unsigned long long rows, cols;
        const char *end;

        if (streq(s, "-"))
                return 0;
        if (parse_uint_prefix(s, WORKER_PTY_SIZE_MAX, &rows, &end) < 0 || *end != ':' ||
            parse_uint_prefix(end + 1, WORKER_PTY_SIZE_MAX, &cols, &end) < 0 || *end != 0 || rows == 0 || cols == 0)
                return -EBADMSG;
        a->pty = true;
        a->rows = (unsigned) rows;
        a->cols = (unsigned) cols;
        return 0;
}

/* A NULL-terminated array of the n pointers at l; the strings stay where they are. */
static char **strv_copy_n(char *const *l, size_t n) {
        char **c = calloc(n + 1, sizeof(char *));

        if (c && n > 0)
                memcpy(c, l, n * sizeof(char *));
        return c;
}

/* Create's and import's first three: FINAL_LXCPATH METADATA_JSON IDMAP. */
static int decode_placement(char **args, WorkerPlacement *ret) {
        WorkerPlacement pl = { .final_lxcpath = args[0], .metadata_json = args[1] };

        if (isempty(args[0]) || isempty(args[1]) ||
            parse_idmap(args[2], &pl.idmap_uid, &pl.idmap_gid, &pl.idmap_count) < 0)
                return -EBADMSG;
        *ret = pl;
        return 0;
}

/* PLACEMENT TEMPLATE [TEMPLATE_ARGS...] */
static int decode_create(char **args, size_t n, WorkerRequest *req) {
        WorkerCreateArgs a = {};

        if (n < 4 || decode_placement(args, &a.placement) < 0 || isempty(args[3]))
                return -EBADMSG;
        a.template = args[3];
        a.template_args = strv_copy_n(args + 4, n - 4);
        if (!a.template_args)
                return -ENOMEM;
        req->create = a;
        return 0;
}

/* CWD UID GID PTY NENV ENV... ARGV...: NENV strings, then at least the program. */
static int decode_exec(char **args, size_t n, WorkerRequest *req) {
        _cleanup_free_ char **env = NULL, **argv = NULL;
        WorkerExecArgs a = {};
        unsigned u, g, nenv;

        /* (uid_t) -1 means "unchanged" to the kernel's set*id(): never a target. */
        if (n < 6 || worker_parse_uint(args[1], UINT32_MAX - 1, &u) < 0 ||
            worker_parse_uint(args[2], UINT32_MAX - 1, &g) < 0 || parse_pty(args[3], &a) < 0 ||
            worker_parse_uint(args[4], (unsigned) (n - 6), &nenv) < 0)
                return -EBADMSG;
        a.cwd = args[0][0] ? args[0] : NULL;
        a.uid = (uid_t) u;
        a.gid = (gid_t) g;
        env = strv_copy_n(args + 5, nenv);
        argv = strv_copy_n(args + 5 + nenv, n - 5 - nenv);
        if (!env || !argv)
                return -ENOMEM;
        a.env = TAKE_PTR(env);
        a.argv = TAKE_PTR(argv);
        req->exec = a;
        return 0;
}

/* push-file's and pull-file's PATH: absolute, and naming something (the last component is a name). */
static bool file_path_is_valid(const char *p) {
        const char *base;

        if (!p || p[0] != '/')
                return false;
        base = strrchr(p, '/') + 1;
        return !isempty(base) && !streq(base, ".") && !streq(base, "..");
}

/* ROOT: "fd" or "dir". */
static int decode_root(const char *arg, bool *ret) {
        if (!streq(arg, "fd") && !streq(arg, "dir"))
                return -EBADMSG;
        *ret = streq(arg, "fd");
        return 0;
}

/* PATH MODE UID GID DIR_UID DIR_GID MKDIR_PARENTS ROOT */
static int decode_push_file(char **args, size_t n, WorkerRequest *req) {
        unsigned id[4], mk;

        if (n != 8 || !file_path_is_valid(args[0]) || worker_parse_uint(args[1], 07777, &req->push_file.mode) < 0 ||
            worker_parse_uint(args[6], 1, &mk) < 0 || decode_root(args[7], &req->push_file.root_fd) < 0)
                return -EBADMSG;
        for (size_t k = 0; k < 4; k++)
                if (worker_parse_uint(args[2 + k], UINT32_MAX - 1, &id[k]) < 0)
                        return -EBADMSG;
        req->push_file.path = args[0];
        req->push_file.uid = (uid_t) id[0];
        req->push_file.gid = (gid_t) id[1];
        req->push_file.dir_uid = (uid_t) id[2];
        req->push_file.dir_gid = (gid_t) id[3];
        req->push_file.mkdir_parents = mk;
        return 0;
}

/* SOURCE SHIFT: SHIFT "-" or "FU:FG:TU:TG:COUNT": count > 0, the target ids > 0 (never host root), the
 * source ids may be 0 (a privileged source copied into a block), no range past UINT32_MAX - 1. */
static int decode_copy(char **args, size_t n, WorkerRequest *req) {
        WorkerCopyArgs a = {};
        unsigned long long v[5];
        const char *p;

        if (n != 2 || args[0][0] != '/')
                return -EBADMSG;
        a.source = args[0];
        if (!streq(args[1], "-")) {
                p = args[1];
                for (size_t k = 0; k < 5; k++) {
                        if (parse_uint_prefix(p, UINT32_MAX - 1, &v[k], &p) < 0 || (k >= 2 && v[k] == 0) ||
                            *p != (k < 4 ? ':' : 0))
                                return -EBADMSG;
                        p++;
                }
                for (size_t k = 0; k < 4; k++)
                        if (v[k] > UINT32_MAX - v[4])
                                return -EBADMSG;
                a.from_uid = (unsigned) v[0];
                a.from_gid = (unsigned) v[1];
                a.to_uid = (unsigned) v[2];
                a.to_gid = (unsigned) v[3];
                a.count = (unsigned) v[4];
        }
        req->copy = a;
        return 0;
}

/* COMPRESSION IDMAP SNAPSHOTS */
static int decode_export(char **args, size_t n, WorkerRequest *req) {
        WorkerExportArgs a = {};
        unsigned snapshots;

        if (n != 3 || (a.compression = worker_compression_from_string(args[0])) < 0 ||
            parse_idmap(args[1], &a.idmap_uid, &a.idmap_gid, &a.idmap_count) < 0 ||
            worker_parse_uint(args[2], 1, &snapshots) < 0)
                return -EBADMSG;
        a.snapshots = snapshots;
        req->export_ = a;
        return 0;
}

/* PLACEMENT */
static int decode_import(char **args, size_t n, WorkerRequest *req) {
        return n == 3 && decode_placement(args, &req->import.placement) >= 0 ? 0 : -EBADMSG;
}

/* As packet_add_limit() writes it. */
static int decode_limit(const char *s, uint64_t *ret) {
        unsigned long long v;
        const char *end;

        if (streq(s, "") || streq(s, "max")) {
                *ret = streq(s, "") ? 0 : UINT64_MAX;
                return 0;
        }
        if (parse_uint_prefix(s, LIMITS_BYTES_NONE - 1, &v, &end) < 0 || *end != 0 || v == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* The payload's v1 limits: CPUS MEMORY MEMSW, a CPU list or "", and both limits or neither, memsw not
 * below memory (the kernel's own rule). */
static int decode_start_cgroup(char **args, WorkerStartArgs *a) {
        CpuSet set;

        if (!isempty(args[0]) && limits_parse_cpu_list(args[0], &set) < 0)
                return -EBADMSG;
        a->cgroup_cpus = isempty(args[0]) ? NULL : args[0];
        if (decode_limit(args[1], &a->cgroup_memory) < 0 || decode_limit(args[2], &a->cgroup_memsw) < 0 ||
            (a->cgroup_memory == 0) != (a->cgroup_memsw == 0) || a->cgroup_memsw < a->cgroup_memory)
                return -EBADMSG;
        return 0;
}

/* CGROUP_DIR SYSTEMD NET_TYPE NET_LINK NET_HWADDR NET_MTU CPUS MEMORY MEMSW: a link exactly where the
 * type needs one, every name an interface name. */
static int decode_start(char **args, size_t n, WorkerRequest *req) {
        WorkerStartArgs a = { .cgroup_dir = args[0], .net_type = n == 9 ? args[2] : NULL };
        unsigned u;

        if (n != 9 || isempty(args[0]) || worker_parse_uint(args[1], 1, &u) < 0 ||
            decode_start_cgroup(args + 6, &a) < 0 ||
            worker_parse_uint(args[5], NETWORK_MTU_MAX, &a.net_mtu) < 0 ||
            (a.net_mtu > 0 && a.net_mtu < NETWORK_MTU_MIN))
                return -EBADMSG;
        a.systemd = u;
        if (streq(a.net_type, "empty")) {
                if (!isempty(args[3]) || !isempty(args[4]) || a.net_mtu != 0)
                        return -EBADMSG;
        } else if (streq(a.net_type, "veth") || streq(a.net_type, "macvlan")) {
                if (!ifname_is_valid(args[3]) || (!isempty(args[4]) && !hwaddr_is_valid(args[4])))
                        return -EBADMSG;
                a.net_link = args[3];
                a.net_hwaddr = isempty(args[4]) ? NULL : args[4];
        } else
                return -EBADMSG;
        req->start = a;
        return 0;
}

/* stop: TIMEOUT_SEC */
static int decode_stop(char **args, size_t n, WorkerRequest *req) {
        return n == 1 && worker_parse_uint(args[0], INT_MAX, &req->stop.timeout_sec) >= 0 ? 0 : -EBADMSG;
}

/* destroy: TRASH_DIR */
static int decode_destroy(char **args, size_t n, WorkerRequest *req) {
        req->destroy.trash_dir = args[0];
        return n == 1 && !isempty(args[0]) ? 0 : -EBADMSG;
}

/* console: TTY */
static int decode_console(char **args, size_t n, WorkerRequest *req) {
        return n == 1 && worker_parse_uint(args[0], WORKER_TTY_MAX, &req->console.tty) >= 0 ? 0 : -EBADMSG;
}

/* pull-file: PATH ROOT */
static int decode_pull_file(char **args, size_t n, WorkerRequest *req) {
        req->pull_file.path = args[0];
        return n == 2 && file_path_is_valid(args[0]) && decode_root(args[1], &req->pull_file.root_fd) >= 0
               ? 0 : -EBADMSG;
}

/* hostname: OLD_NAME */
static int decode_hostname(char **args, size_t n, WorkerRequest *req) {
        req->hostname.old_name = args[0];
        return n == 1 && instance_name_is_valid(args[0]) ? 0 : -EBADMSG;
}

/* A request being written: strings appended with their NUL. The first error sticks. */
typedef struct Packet {
        char *data;              /* WORKER_MSG_MAX bytes */
        size_t len, count;
        int error;
} Packet;

static void packet_add(Packet *p, const char *s) {
        size_t l;

        if (p->error < 0)
                return;
        if (!s) {
                p->error = -EINVAL;
                return;
        }
        l = strlen(s) + 1;
        if (l > WORKER_MSG_MAX - p->len || ++p->count > WORKER_REQUEST_ARGS_MAX) {
                p->error = -E2BIG;
                return;
        }
        memcpy(p->data + p->len, s, l);
        p->len += l;
}

static _printf_(2, 3) void packet_addf(Packet *p, const char *format, ...) {
        char s[64];   /* numbers only */
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(s, sizeof s, format, ap);
        va_end(ap);
        packet_add(p, s);
}

static void packet_add_strv(Packet *p, char *const *l) {
        for (; l && *l; l++)
                packet_add(p, *l);
}

static void packet_add_idmap(Packet *p, unsigned uid, unsigned gid, unsigned count) {
        if (count > 0)
                packet_addf(p, "%u:%u:%u", uid, gid, count);
        else
                packet_add(p, "-");
}

/* A limit of the start: "" none (0), "max" no limit (UINT64_MAX), else the bytes. */
static void packet_add_limit(Packet *p, uint64_t v) {
        if (v == 0)
                packet_add(p, "");
        else if (v == UINT64_MAX)
                packet_add(p, "max");
        else
                packet_addf(p, "%" PRIu64, v);
}

static void encode_placement(Packet *p, const WorkerPlacement *pl) {
        packet_add(p, pl->final_lxcpath);
        packet_add(p, pl->metadata_json);
        packet_add_idmap(p, pl->idmap_uid, pl->idmap_gid, pl->idmap_count);
}

static void encode_create(Packet *p, const WorkerRequest *req) {
        const WorkerCreateArgs *c = &req->create;

        encode_placement(p, &c->placement);
        packet_add(p, c->template);
        packet_add_strv(p, c->template_args);
}

static void encode_start(Packet *p, const WorkerRequest *req) {
        const WorkerStartArgs *a = &req->start;

        packet_add(p, a->cgroup_dir);
        packet_add(p, a->systemd ? "1" : "0");
        packet_add(p, a->net_type);
        packet_add(p, strempty(a->net_link));
        packet_add(p, strempty(a->net_hwaddr));
        packet_addf(p, "%u", a->net_mtu);
        packet_add(p, strempty(a->cgroup_cpus));
        packet_add_limit(p, a->cgroup_memory);
        packet_add_limit(p, a->cgroup_memsw);
}

static void encode_stop(Packet *p, const WorkerRequest *req) {
        packet_addf(p, "%u", req->stop.timeout_sec);
}

static void encode_destroy(Packet *p, const WorkerRequest *req) {
        packet_add(p, req->destroy.trash_dir);
}

static void encode_console(Packet *p, const WorkerRequest *req) {
        packet_addf(p, "%u", req->console.tty);
}

static void encode_exec(Packet *p, const WorkerRequest *req) {
        const WorkerExecArgs *x = &req->exec;

        packet_add(p, strempty(x->cwd));
        packet_addf(p, "%u", (unsigned) x->uid);
        packet_addf(p, "%u", (unsigned) x->gid);
        if (x->pty)
                packet_addf(p, "%u:%u", x->rows, x->cols);
        else
                packet_add(p, "-");
        packet_addf(p, "%zu", strv_length(x->env));
        packet_add_strv(p, x->env);
        packet_add_strv(p, x->argv);
}

static void encode_push_file(Packet *p, const WorkerRequest *req) {
        const WorkerPushFileArgs *f = &req->push_file;

        packet_add(p, f->path);
        packet_addf(p, "%u", f->mode);
        packet_addf(p, "%u", (unsigned) f->uid);
        packet_addf(p, "%u", (unsigned) f->gid);
        packet_addf(p, "%u", (unsigned) f->dir_uid);
        packet_addf(p, "%u", (unsigned) f->dir_gid);
        packet_add(p, f->mkdir_parents ? "1" : "0");
        packet_add(p, f->root_fd ? "fd" : "dir");
}

static void encode_pull_file(Packet *p, const WorkerRequest *req) {
        packet_add(p, req->pull_file.path);
        packet_add(p, req->pull_file.root_fd ? "fd" : "dir");
}

static void encode_copy(Packet *p, const WorkerRequest *req) {
        const WorkerCopyArgs *c = &req->copy;

        packet_add(p, c->source);
        if (c->count > 0)
                packet_addf(p, "%u:%u:%u:%u:%u", c->from_uid, c->from_gid, c->to_uid, c->to_gid, c->count);
        else
                packet_add(p, "-");
}

static void encode_export(Packet *p, const WorkerRequest *req) {
        const WorkerExportArgs *e = &req->export_;

        packet_add(p, worker_compression_to_string(e->compression));
        packet_add_idmap(p, e->idmap_uid, e->idmap_gid, e->idmap_count);
        packet_add(p, e->snapshots ? "1" : "0");
}

static void encode_import(Packet *p, const WorkerRequest *req) {
        encode_placement(p, &req->import.placement);
}

static void encode_hostname(Packet *p, const WorkerRequest *req) {
        packet_add(p, req->hostname.old_name);
}

/* Each verb's arguments after VERB LXCPATH NAME, both ways: encode() appends them to the packet, decode()
 * reads the n of them into the request (its strings stay in the packet) or fails with -EBADMSG. */
static const struct {
        void (*encode)(Packet *p, const WorkerRequest *req);
        int (*decode)(char **args, size_t n, WorkerRequest *req);
} verb_codecs[_WORKER_VERB_MAX] = {
        [WORKER_VERB_CREATE] = { encode_create, decode_create },
        [WORKER_VERB_START] = { encode_start, decode_start },
        [WORKER_VERB_STOP] = { encode_stop, decode_stop },
        [WORKER_VERB_DESTROY] = { encode_destroy, decode_destroy },
        [WORKER_VERB_CONSOLE] = { encode_console, decode_console },
        [WORKER_VERB_EXEC] = { encode_exec, decode_exec },
        [WORKER_VERB_PUSH_FILE] = { encode_push_file, decode_push_file },
        [WORKER_VERB_PULL_FILE] = { encode_pull_file, decode_pull_file },
        [WORKER_VERB_COPY] = { encode_copy, decode_copy },
        [WORKER_VERB_EXPORT] = { encode_export, decode_export },
        [WORKER_VERB_IMPORT] = { encode_import, decode_import },
        [WORKER_VERB_HOSTNAME] = { encode_hostname, decode_hostname },
};

int worker_request_decode(char *buf, size_t len, WorkerRequest *ret) {
        _cleanup_free_ char **s = NULL;
        WorkerRequest req = {};
        size_t n = 0;
        int r;

        assert(ret);

        if (!buf || len < 1 || len > WORKER_MSG_MAX || buf[len - 1] != 0)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++)
                if (buf[i] == 0 && ++n > WORKER_REQUEST_ARGS_MAX)
                        return -EBADMSG;
        s = calloc(n + 1, sizeof(char *));
        if (!s)
                return -ENOMEM;
        n = 0;
        for (char *p = buf; p < buf + len; p += strlen(p) + 1)
                s[n++] = p;

        /* VERB LXCPATH NAME ...; NAME is a file name in LXCPATH. */
        req.verb = worker_verb_from_string(s[0]);
        if (req.verb < 0 || n < 3 || isempty(s[1]) || isempty(s[2]) || strchr(s[2], '/') || streq(s[2], ".") ||
            streq(s[2], ".."))
                return -EBADMSG;
        req.lxcpath = s[1];
        req.name = s[2];
        r = verb_codecs[req.verb].decode(s + 3, n - 3, &req);
        if (r < 0)
                return r;
        *ret = req;
        return 0;
}

void worker_request_done(WorkerRequest *req) {
        if (!req)
                return;
        if (req->verb == WORKER_VERB_CREATE)
                req->create.template_args = mfree(req->create.template_args);
        else if (req->verb == WORKER_VERB_EXEC) {
                req->exec.env = mfree(req->exec.env);
                req->exec.argv = mfree(req->exec.argv);
        }
}

int worker_request_encode(const WorkerRequest *req, char **ret, size_t *ret_len) {
        _cleanup_free_ char *data = NULL;
        WorkerRequest check;
        Packet p = {};
        int r;

        assert(req);
        assert(ret);
        assert(ret_len);

        data = malloc(WORKER_MSG_MAX);
        if (!data)
                return -ENOMEM;
        p.data = data;
        packet_add(&p, worker_verb_to_string(req->verb));
        packet_add(&p, req->lxcpath);
        packet_add(&p, req->name);
        if (req->verb < 0 || req->verb >= _WORKER_VERB_MAX)
                p.error = -EINVAL;
        else
                verb_codecs[req->verb].encode(&p, req);
        if (p.error < 0)
                return p.error;

        /* The decoder is the one definition of a valid request: what the worker would refuse fails here, in
         * the daemon, with the caller's context. */
        r = worker_request_decode(data, p.len, &check);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        worker_request_done(&check);

        *ret = TAKE_PTR(data);
        *ret_len = p.len;
        return 0;
}

/* ---------------------------------------------------------------- messages */

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
        [WORKER_MESSAGE_BYTES] = "bytes",
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
        case WORKER_MESSAGE_BYTES:
                if (parse_uint_prefix(p, WORKER_BYTES_MAX, &v, &p) < 0 || *p != ' ')
                        return -EBADMSG;
                m.bytes = v;
                if (parse_uint_prefix(p + 1, WORKER_BYTES_MAX, &v, &p) < 0 || *p != 0)
                        return -EBADMSG;
                m.bytes_total = v;
                break;
        default:
                return -EBADMSG;
        }
        *ret = m;
        return 0;
}

int worker_message_format(const WorkerMessage *m, char *buf, size_t size) {
        WorkerMessage check;
        int n;

        assert(m);
        assert(buf);

        switch (m->kind) {
        case WORKER_MESSAGE_PROGRESS:
                n = m->text ? snprintf(buf, size, "progress %.3f %s", m->progress, m->text)
                            : snprintf(buf, size, "progress %.3f", m->progress);
                break;
        case WORKER_MESSAGE_RUNNING:
                n = snprintf(buf, size, "running %i", (int) m->pid);
                break;
        case WORKER_MESSAGE_EXITED:
                n = snprintf(buf, size, "exited %i %i", m->status, m->signal);
                break;
        case WORKER_MESSAGE_RESULT:
                n = snprintf(buf, size, "result %i %s", m->error, strempty(m->text));
                break;
        case WORKER_MESSAGE_CONSOLE:
                n = snprintf(buf, size, "console %i", m->tty);
                break;
        case WORKER_MESSAGE_PTY:
                n = snprintf(buf, size, "pty");
                break;
        case WORKER_MESSAGE_BYTES:
                n = snprintf(buf, size, "bytes %" PRIu64 " %" PRIu64, m->bytes, m->bytes_total);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOBUFS;
        /* As with requests, the parser says what is valid: a NaN, a pid 0, a status with a signal. */
        if (worker_message_parse(buf, (size_t) n, &check) < 0)
                return -EINVAL;
        return n;
}
