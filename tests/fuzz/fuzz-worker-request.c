/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Daemon -> worker: one request as worker_main() receives it, through worker_request_decode(). Whatever
 * decodes is in range and points into the packet; encoded again it gives the very same bytes (the wire has
 * one spelling per request), and those decode to the same request. */

#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "names.h"
#include "util.h"
#include "worker-proto.h"

static const char *fuzz_buf;
static size_t fuzz_len;

/* A string of the packet: inside it, and ending at one of its NULs. */
static void check_string(const char *s, bool may_be_empty) {
        FUZZ_CHECK(s && s >= fuzz_buf && s < fuzz_buf + fuzz_len);
        FUZZ_CHECK(may_be_empty || s[0]);
}

static void check_strv(char **l, size_t min) {
        FUZZ_CHECK(l);
        FUZZ_CHECK(strv_length(l) >= min);
        STRV_FOREACH(s, l)
                check_string(*s, true);
}

static void check_request(const WorkerRequest *req) {
        const WorkerCreateArgs *c = &req->create;
        const WorkerExecArgs *x = &req->exec;

        FUZZ_CHECK(req->verb >= 0 && req->verb < _WORKER_VERB_MAX);
        FUZZ_CHECK((const char *) fuzz_buf == req->lxcpath - strlen(worker_verb_to_string(req->verb)) - 1);
        check_string(req->lxcpath, false);
        check_string(req->name, false);
        FUZZ_CHECK(!strchr(req->name, '/') && !streq(req->name, ".") && !streq(req->name, ".."));

        switch (req->verb) {
        case WORKER_VERB_CREATE:
                check_string(c->placement.final_lxcpath, false);
                check_string(c->placement.metadata_json, false);
                check_string(c->template, false);
                check_strv(c->template_args, 0);
                if (c->placement.idmap_count == 0)
                        FUZZ_CHECK(c->placement.idmap_uid == 0 && c->placement.idmap_gid == 0);
                else
                        FUZZ_CHECK(c->placement.idmap_uid > 0 && c->placement.idmap_gid > 0 &&
                                   c->placement.idmap_uid != UINT32_MAX && c->placement.idmap_gid != UINT32_MAX &&
                                   c->placement.idmap_count != UINT32_MAX);
                break;
        case WORKER_VERB_START:
                check_string(req->start.cgroup_dir, false);
                if (req->start.cgroup_cpus)
                        check_string(req->start.cgroup_cpus, false);
                FUZZ_CHECK((req->start.cgroup_memory == 0) == (req->start.cgroup_memsw == 0));
                FUZZ_CHECK(req->start.cgroup_memsw >= req->start.cgroup_memory);
                break;
        case WORKER_VERB_STOP:
                FUZZ_CHECK(req->stop.timeout_sec <= INT_MAX);
                break;
        case WORKER_VERB_DESTROY:
                check_string(req->destroy.trash_dir, false);
                break;
        case WORKER_VERB_CONSOLE:
                FUZZ_CHECK(req->console.tty <= WORKER_TTY_MAX);
                break;
        case WORKER_VERB_EXEC:
                if (x->cwd)
                        check_string(x->cwd, false);
                FUZZ_CHECK(x->uid != (uid_t) -1 && x->gid != (gid_t) -1);
                if (x->pty)
                        FUZZ_CHECK(x->rows >= 1 && x->rows <= WORKER_PTY_SIZE_MAX && x->cols >= 1 &&
                                   x->cols <= WORKER_PTY_SIZE_MAX);
                else
                        FUZZ_CHECK(x->rows == 0 && x->cols == 0);
                check_strv(x->env, 0);
                check_strv(x->argv, 1);
                break;
        case WORKER_VERB_PUSH_FILE:
                check_string(req->push_file.path, false);
                FUZZ_CHECK(req->push_file.path[0] == '/' && req->push_file.mode <= 07777);
                FUZZ_CHECK(req->push_file.uid != (uid_t) -1 && req->push_file.gid != (gid_t) -1 &&
                           req->push_file.dir_uid != (uid_t) -1 && req->push_file.dir_gid != (gid_t) -1);
                break;
        case WORKER_VERB_PULL_FILE:
                check_string(req->pull_file.path, false);
                FUZZ_CHECK(req->pull_file.path[0] == '/');
                FUZZ_CHECK(req->pull_file.root_fd == 0 || req->pull_file.root_fd == 1);
                break;
        case WORKER_VERB_COPY:
                check_string(req->copy.source, false);
                FUZZ_CHECK(req->copy.source[0] == '/');
                if (req->copy.count == 0)
                        FUZZ_CHECK(req->copy.from_uid == 0 && req->copy.from_gid == 0 && req->copy.to_uid == 0 &&
                                   req->copy.to_gid == 0);
                else
                        FUZZ_CHECK(req->copy.to_uid > 0 && req->copy.to_gid > 0);
                break;
        case WORKER_VERB_EXPORT:
                FUZZ_CHECK(req->export_.compression >= 0 && req->export_.compression < _WORKER_COMPRESSION_MAX);
                if (req->export_.idmap_count == 0)
                        FUZZ_CHECK(req->export_.idmap_uid == 0 && req->export_.idmap_gid == 0);
                break;
        case WORKER_VERB_IMPORT:
                check_string(req->import.placement.final_lxcpath, false);
                check_string(req->import.placement.metadata_json, false);
                if (req->import.placement.idmap_count == 0)
                        FUZZ_CHECK(req->import.placement.idmap_uid == 0 && req->import.placement.idmap_gid == 0);
                break;
        case WORKER_VERB_HOSTNAME:
                check_string(req->hostname.old_name, false);
                FUZZ_CHECK(instance_name_is_valid(req->hostname.old_name));
                break;
        default:
                FUZZ_CHECK(false);
        }
}

static bool strv_equal(char **a, char **b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !(a && *a) && !(b && *b);
}

static bool placements_equal(const WorkerPlacement *a, const WorkerPlacement *b) {
        return streq(a->final_lxcpath, b->final_lxcpath) && streq(a->metadata_json, b->metadata_json) &&
               a->idmap_uid == b->idmap_uid && a->idmap_gid == b->idmap_gid && a->idmap_count == b->idmap_count;
}

static bool request_equal(const WorkerRequest *a, const WorkerRequest *b) {
        if (a->verb != b->verb || !streq(a->lxcpath, b->lxcpath) || !streq(a->name, b->name))
                return false;
        switch (a->verb) {
        case WORKER_VERB_CREATE:
                return placements_equal(&a->create.placement, &b->create.placement) &&
                       streq(a->create.template, b->create.template) &&
                       strv_equal(a->create.template_args, b->create.template_args);
        case WORKER_VERB_START:
                return streq(a->start.cgroup_dir, b->start.cgroup_dir) && a->start.systemd == b->start.systemd &&
                       streq_ptr(a->start.cgroup_cpus, b->start.cgroup_cpus) &&
                       a->start.cgroup_memory == b->start.cgroup_memory && a->start.cgroup_memsw == b->start.cgroup_memsw;
        case WORKER_VERB_STOP:
                return a->stop.timeout_sec == b->stop.timeout_sec;
        case WORKER_VERB_DESTROY:
                return streq(a->destroy.trash_dir, b->destroy.trash_dir);
        case WORKER_VERB_CONSOLE:
                return a->console.tty == b->console.tty;
        case WORKER_VERB_EXEC:
                return streq_ptr(a->exec.cwd, b->exec.cwd) && a->exec.uid == b->exec.uid &&
                       a->exec.gid == b->exec.gid && a->exec.pty == b->exec.pty && a->exec.rows == b->exec.rows &&
                       a->exec.cols == b->exec.cols && strv_equal(a->exec.env, b->exec.env) &&
                       strv_equal(a->exec.argv, b->exec.argv);
        case WORKER_VERB_PUSH_FILE:
                return streq(a->push_file.path, b->push_file.path) && a->push_file.mode == b->push_file.mode &&
                       a->push_file.uid == b->push_file.uid && a->push_file.gid == b->push_file.gid &&
                       a->push_file.dir_uid == b->push_file.dir_uid && a->push_file.dir_gid == b->push_file.dir_gid &&
                       a->push_file.mkdir_parents == b->push_file.mkdir_parents;
        case WORKER_VERB_PULL_FILE:
                return streq(a->pull_file.path, b->pull_file.path);
        case WORKER_VERB_COPY:
                return streq(a->copy.source, b->copy.source) && a->copy.from_uid == b->copy.from_uid &&
                       a->copy.from_gid == b->copy.from_gid && a->copy.to_uid == b->copy.to_uid &&
                       a->copy.to_gid == b->copy.to_gid && a->copy.count == b->copy.count;
        case WORKER_VERB_EXPORT:
                return a->export_.compression == b->export_.compression &&
                       a->export_.idmap_uid == b->export_.idmap_uid && a->export_.idmap_gid == b->export_.idmap_gid &&
                       a->export_.idmap_count == b->export_.idmap_count &&
                       a->export_.snapshots == b->export_.snapshots;
        case WORKER_VERB_IMPORT:
                return placements_equal(&a->import.placement, &b->import.placement);
        case WORKER_VERB_HOSTNAME:
                return streq(a->hostname.old_name, b->hostname.old_name);
        default:
                return false;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(worker_request_done) WorkerRequest req = {}, again = {};
        _cleanup_free_ char *buf = NULL, *enc = NULL;
        size_t len;
        int r;

        if (size > WORKER_MSG_MAX + 1)
                return 0;
        /* Exactly the bytes received, without an extra NUL: the decoder must not look past size. */
        buf = malloc(size ?: 1);
        if (!buf)
                abort();
        if (size > 0)
                memcpy(buf, data, size);

        r = worker_request_decode(buf, size, &req);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                return 0;
        }
        FUZZ_CHECK(size >= 1 && size <= WORKER_MSG_MAX && buf[size - 1] == 0);
        fuzz_buf = buf;
        fuzz_len = size;
        check_request(&req);

        r = worker_request_encode(&req, &enc, &len);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(len == size && memcmp(enc, buf, size) == 0);
        FUZZ_CHECK(worker_request_decode(enc, len, &again) == 0);
        FUZZ_CHECK(request_equal(&req, &again));
        return 0;
}
