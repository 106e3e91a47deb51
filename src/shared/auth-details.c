/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "auth-details.h"
#include "macro.h"
#include "util.h"

typedef struct Details {
        char *v[2 * AUTH_DETAILS_KEYS_MAX + 1];
        size_t n;
        size_t size;
} Details;

static void details_done(Details *d) {
        for (size_t k = 0; k < d->n; k++)
                free(d->v[k]);
}

/* Takes value (freed on failure). */
static int add_take(Details *d, const char *key, char *value) {
        char *k;

        if (!value)
                return -ENOMEM;
        if (d->n + 2 > 2 * AUTH_DETAILS_KEYS_MAX) {
                free(value);
                return -E2BIG;   /* a bug in the table below, not input */
        }
        d->size += strlen(key) + strlen(value);
        if (d->size > AUTH_DETAILS_SIZE_MAX) {
                free(value);
                return -E2BIG;
        }
        k = strdup(key);
        if (!k) {
                free(value);
                return -ENOMEM;
        }
        d->v[d->n++] = k;
        d->v[d->n++] = value;
        return 0;
}

static int add(Details *d, const char *key, const char *value) {
        return add_take(d, key, strdup(value));
}

static int add_uint(Details *d, const char *key, unsigned long long v) {
        char buf[24];

        (void) snprintf(buf, sizeof buf, "%llu", v);
        return add(d, key, buf);
}

static int add_bool(Details *d, const char *key, bool b) {
        return add(d, key, b ? "true" : "false");
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The words of a (and b), sorted, duplicates dropped, quoted and joined as a command line: an unambiguous
 * list a rule can compare whole or split at spaces when no word needed quotes. */
static char *sorted_words(char *const *a, char *const *b, bool names_only) {
        size_t na = strv_length(a), nb = strv_length(b), n = 0;
        _cleanup_free_ char **l = NULL;
        char *ret;

        l = calloc(na + nb + 1, sizeof(char *));
        if (!l)
                return NULL;
        for (size_t k = 0; k < na + nb; k++) {
                char *w = k < na ? a[k] : b[k - na];

                if (names_only) {
                        /* NAME=VALUE -> NAME: cut on a copy */
                        const char *eq = strchr(w, '=');
                        w = strndup(w, eq ? (size_t) (eq - w) : strlen(w));
                        if (!w) {
                                for (size_t j = 0; j < n; j++)
                                        free(l[j]);
                                return NULL;
                        }
                }
                l[n++] = w;
        }
        qsort(l, n, sizeof(char *), cmp_str);
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
                if (m > 0 && streq(l[m - 1], l[k])) {
                        if (names_only)
                                free(l[k]);
                        continue;
                }
                l[m++] = l[k];
        }
        l[m] = NULL;
        ret = argv_to_command_line(l);
        if (names_only)
                for (size_t k = 0; k < m; k++)
                        free(l[k]);
        return ret;
}

static size_t strv_bytes(char *const *l) {
        size_t n = 0;

        for (char *const *p = l; p && *p; p++)
                n += strlen(*p) + 1;
        return n;
}

const char *auth_signal_name(int sig, char buf[static 16]) {
        const char *abbrev;

        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                if (sig == SIGRTMIN)
                        return "SIGRTMIN";
                (void) snprintf(buf, 16, "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
        if (abbrev)
                (void) snprintf(buf, 16, "SIG%s", abbrev);
        else
                (void) snprintf(buf, 16, "%d", sig);
        return buf;
}

bool auth_details_read_config(const char *verb) {
        return verb && (streq(verb, "exec") || streq(verb, "exec-pty"));
}

/* Exec's and ExecPty's: who runs the command where, and with what environment. */
static int add_exec(Details *d, const AuthRequest *req) {
        int r;

        r = add_uint(d, "uid", req->uid);
        if (r >= 0)
                r = add_uint(d, "gid", req->gid);
        if (r >= 0)
                r = add(d, "cwd", strempty(req->cwd));
        if (r >= 0)
                r = add_take(d, "env", sorted_words(req->env, NULL, false));
        if (r >= 0)
                r = add_take(d, "env_names", sorted_words(req->env, NULL, true));
        if (r >= 0)
                r = add_bool(d, "env_clear", req->env_clear);
        if (r >= 0 && streq(req->verb, "exec-pty"))
                r = add(d, "term", strempty(req->term));
        return r;
}

/* The details as a NULL-terminated list, which the caller frees. */
static int details_take(Details *d, char ***ret) {
        char **l;

        l = calloc(d->n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        memcpy(l, d->v, d->n * sizeof(char *));
        d->n = 0;
        *ret = l;
        return 0;
}

/* One detail per field of the request, in the order docs/polkit.md lists them: about 80 lines, and
 * better read in one place, as the list of that page, than spread over a helper per verb. */
int auth_details_build(const AuthRequest *req, char ***ret) {
        _cleanup_(details_done) Details d = {};
        const char *verb = req->verb;
        bool exec, cmd;
        char sbuf[16];
        int r;

        if (!verb)
                return -EINVAL;
        exec = streq(verb, "exec") || streq(verb, "exec-pty");
        cmd = exec || streq(verb, "signal");

        /* Quoting makes a word at most 4 times longer (every ' becomes '\''): refuse what cannot fit before
         * building anything, so a huge request costs no huge allocation. */
        if (cmd && strv_bytes(req->argv) > AUTH_DETAILS_SIZE_MAX)
                return -E2BIG;
        if (exec && strv_bytes(req->env) > AUTH_DETAILS_SIZE_MAX)
                return -E2BIG;
        if (strv_bytes(req->set_keys) + strv_bytes(req->unset_keys) > AUTH_DETAILS_SIZE_MAX)
                return -E2BIG;

        r = add(&d, "verb", verb);
        if (r >= 0 && req->instance)
                r = add(&d, "instance", req->instance);
        if (r >= 0 && req->owner != UID_INVALID) {
                r = add_uint(&d, "owner_uid", req->owner);
                if (r >= 0 && req->owner_name)
                        r = add(&d, "owner", req->owner_name);
                else if (r >= 0)
                        r = add_uint(&d, "owner", req->owner);
        }
        if (r >= 0 && cmd)
                r = add_take(&d, "command_line", argv_to_command_line(req->argv));
        if (r >= 0 && exec)
                r = add_exec(&d, req);
        if (r >= 0 && (streq(verb, "kill") || streq(verb, "signal"))) {
                r = add_uint(&d, "signal", req->signal > 0 ? (unsigned) req->signal : 0);
                if (r >= 0)
                        r = add(&d, "signal_name", auth_signal_name(req->signal, sbuf));
                if (r >= 0 && streq(verb, "kill"))
                        r = add_bool(&d, "all", req->all);
        }
        if (r >= 0 && (streq(verb, "stop") || streq(verb, "restart"))) {
                r = add_bool(&d, "force", req->force);
                if (r >= 0)
                        r = add_uint(&d, "timeout_sec", req->timeout_sec);
        }
        if (r >= 0 && streq(verb, "delete"))
                r = add_bool(&d, "force", req->force);
        if (r >= 0 && streq(verb, "set-config")) {
                r = add_take(&d, "keys", sorted_words(req->set_keys, req->unset_keys, false));
                if (r >= 0)
                        r = add_take(&d, "set_keys", sorted_words(req->set_keys, NULL, false));
                if (r >= 0)
                        r = add_take(&d, "unset_keys", sorted_words(req->unset_keys, NULL, false));
        }
        if (r >= 0 && streq(verb, "create")) {
                r = add(&d, "template", strempty(req->template));
                if (r >= 0)
                        r = add_take(&d, "keys", sorted_words(req->set_keys, NULL, false));
        }
        if (r >= 0 && (streq(verb, "push-file") || streq(verb, "pull-file")))
                r = add(&d, "path", strempty(req->path));
        if (r >= 0 && streq(verb, "push-file")) {
                char mode[8];

                (void) snprintf(mode, sizeof mode, "%04o", req->mode & 07777);
                r = add(&d, "mode", mode);
                if (r >= 0)
                        r = add_uint(&d, "uid", req->uid);
                if (r >= 0)
                        r = add_uint(&d, "gid", req->gid);
        }
        if (r >= 0 && streq(verb, "import"))
                r = add_take(&d, "keys", sorted_words(req->set_keys, NULL, false));
        if (r < 0)
                return r;

        return details_take(&d, ret);
}
