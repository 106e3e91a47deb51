/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The polkit details builder (auth-details.c). The input is a list of lines, each a one-character tag and a
 * value: v verb, i instance, o owner uid, n owner name, a an argv word, r N (the last argv word N times
 * more, at most 4096, to reach the size bound from a small input), e NAME=VALUE, x env-clear, u uid,
 * g gid, c cwd, t term, s signal, A all, f force, T timeout, k a key set, K a key unset, p template.
 * 0x1f in a value stands for a newline; a NUL byte for 0x01 (a D-Bus string holds neither NUL).
 *
 * Invariants: no crash and no leak; success or E2BIG (EINVAL without a verb) and E2BIG only when the input
 * is large; at most AUTH_DETAILS_KEYS_MAX keys, each once, [a-z_]; the total within AUTH_DETAILS_SIZE_MAX;
 * valid UTF-8 in, valid UTF-8 out; verb, instance and owner as given; command_line, env and the key lists
 * split back (as sh would) into exactly the words they were made of. */

#include <glib.h>
#include <string.h>

#include "auth-details.h"
#include "fuzz.h"
#include "macro.h"
#include "util.h"

#define WORDS_MAX 8192

typedef struct Words {
        char *w[WORDS_MAX + 1];
        size_t n;
} Words;

static void words_done(Words *l) {
        for (size_t k = 0; k < l->n; k++)
                free(l->w[k]);
        l->n = 0;
}

static void words_add(Words *l, const char *s) {
        if (l->n >= WORDS_MAX)
                return;
        l->w[l->n] = strdup(s);
        FUZZ_CHECK(l->w[l->n]);
        l->n++;
        l->w[l->n] = NULL;
}

/* Splits a command line the way sh does for what argv_to_command_line() writes: words separated by single
 * spaces, '...' quoting anything, \' (only between quoted parts) a literal quote. Returns false if the
 * line is not in that form. */
static bool split_words(const char *s, Words *ret) {
        GString *w = NULL;
        bool in_word = false;

        for (const char *p = s;; p++) {
                if (*p == 0 || *p == ' ') {
                        if (!in_word)
                                return *p == 0 && p == s;   /* "" is no words; "a  b" or " a" is malformed */
                        words_add(ret, w->str);
                        g_string_free(w, true);
                        w = NULL;
                        in_word = false;
                        if (*p == 0)
                                return true;
                        continue;
                }
                if (!in_word) {
                        w = g_string_new(NULL);
                        in_word = true;
                }
                if (*p == '\'') {
                        const char *end = strchr(p + 1, '\'');
                        if (!end) {
                                g_string_free(w, true);
                                return false;
                        }
                        g_string_append_len(w, p + 1, end - p - 1);
                        p = end;
                } else if (*p == '\\') {
                        if (p[1] != '\'') {
                                g_string_free(w, true);
                                return false;
                        }
                        g_string_append_c(w, '\'');
                        p++;
                } else
                        g_string_append_c(w, *p);
        }
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The words of l, sorted and unique (in place). */
static void sort_unique(Words *l) {
        size_t m = 0;

        qsort(l->w, l->n, sizeof(char *), cmp_str);
        for (size_t k = 0; k < l->n; k++) {
                if (m > 0 && streq(l->w[m - 1], l->w[k])) {
                        free(l->w[k]);
                        continue;
                }
                l->w[m++] = l->w[k];
        }
        l->n = m;
        l->w[m] = NULL;
}

static void check_words(const char *line, char *const *want) {
        Words got = {};
        size_t n = strv_length(want);

        FUZZ_CHECK(line);
        FUZZ_CHECK(split_words(line, &got));
        FUZZ_CHECK(got.n == n);
        for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(streq(got.w[k], want[k]));
        words_done(&got);
}

static const char *detail(char **d, const char *key) {
        for (char **p = d; p && p[0]; p += 2)
                if (streq(p[0], key))
                        return p[1];
        return NULL;
}

static unsigned long parse_num(const char *s) {
        return strtoul(s, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL;
        _cleanup_strv_free_ char **d = NULL;
        Words argv = {}, env = {}, set = {}, unset = {}, names = {}, keys = {};
        AuthRequest req = { .owner = UID_INVALID };
        size_t input = 0;
        char *line, *save = NULL;
        int r;

        if (size > 64 * 1024)
                return 0;
        s = fuzz_strndup(data, size);
        for (size_t k = 0; k < size; k++)
                if (s[k] == 0)
                        s[k] = 1;
                else if (s[k] == 0x1f)
                        s[k] = '\n';

        for (line = strtok_r(s, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                const char *v = line + 1;

                switch (line[0]) {
                case 'v': req.verb = v; break;
                case 'i': req.instance = v; break;
                case 'o': req.owner = (uid_t) parse_num(v); break;
                case 'n': req.owner_name = v; break;
                case 'a': words_add(&argv, v); break;
                case 'r':
                        for (unsigned long k = MIN(parse_num(v), 4096UL); argv.n > 0 && k > 0; k--)
                                words_add(&argv, argv.w[argv.n - 1]);
                        break;
                case 'e':
                        /* as the daemon passes them: NAME=VALUE, one per name */
                        if (strchr(v, '=') && v[0] != '=') {
                                size_t nl = strcspn(v, "=");
                                bool dup = false;
                                for (size_t k = 0; k < env.n; k++)
                                        dup = dup || (strncmp(env.w[k], v, nl + 1) == 0);
                                if (!dup)
                                        words_add(&env, v);
                        }
                        break;
                case 'x': req.env_clear = true; break;
                case 'u': req.uid = (uid_t) parse_num(v); break;
                case 'g': req.gid = (gid_t) parse_num(v); break;
                case 'c': req.cwd = v; break;
                case 't': req.term = v; break;
                case 's': req.signal = (int) strtol(v, NULL, 10); break;
                case 'A': req.all = true; break;
                case 'f': req.force = true; break;
                case 'T': req.timeout_sec = (unsigned) parse_num(v); break;
                case 'k': words_add(&set, v); break;
                case 'K': words_add(&unset, v); break;
                case 'p': req.template = v; break;
                default: break;
                }
        }
        req.argv = argv.w;
        req.env = env.w;
        req.set_keys = set.w;
        req.unset_keys = unset.w;
        for (size_t k = 0; k < argv.n; k++)
                input += strlen(argv.w[k]);

        r = auth_details_build(&req, &d);
        if (!req.verb) {
                FUZZ_CHECK(r == -EINVAL);
                goto finish;
        }
        /* the whole text input quoted is at most 4 times as long, plus the fixed keys: far below the bound */
        if (input + size <= AUTH_DETAILS_SIZE_MAX / 8)
                FUZZ_CHECK(r == 0);
        FUZZ_CHECK(r == 0 || r == -E2BIG);
        if (r < 0)
                goto finish;

        size_t n = strv_length(d), total = 0;
        FUZZ_CHECK(n % 2 == 0 && n / 2 <= AUTH_DETAILS_KEYS_MAX);
        for (size_t k = 0; k < n; k += 2) {
                FUZZ_CHECK(d[k][0] && strspn(d[k], "abcdefghijklmnopqrstuvwxyz_") == strlen(d[k]));
                for (size_t j = 0; j < k; j += 2)
                        FUZZ_CHECK(!streq(d[j], d[k]));
                total += strlen(d[k]) + strlen(d[k + 1]);
        }
        FUZZ_CHECK(total <= AUTH_DETAILS_SIZE_MAX);
        if (g_utf8_validate((const char *) data, size, NULL) && !memchr(data, 0, size))
                for (size_t k = 0; k < n; k++)
                        FUZZ_CHECK(g_utf8_validate(d[k], -1, NULL));

        FUZZ_CHECK(streq(detail(d, "verb"), req.verb));
        FUZZ_CHECK(streq_ptr(detail(d, "instance"), req.instance));
        if (req.owner == UID_INVALID)
                FUZZ_CHECK(!detail(d, "owner") && !detail(d, "owner_uid"));
        else {
                FUZZ_CHECK(parse_num(detail(d, "owner_uid")) == req.owner);
                if (req.owner_name)
                        FUZZ_CHECK(streq(detail(d, "owner"), req.owner_name));
        }

        if (detail(d, "command_line"))
                check_words(detail(d, "command_line"), argv.w);
        if (detail(d, "env")) {
                for (size_t k = 0; k < env.n; k++) {
                        char *w = strndup(env.w[k], strcspn(env.w[k], "="));
                        FUZZ_CHECK(w);
                        names.w[names.n++] = w;
                }
                names.w[names.n] = NULL;
                sort_unique(&env);
                sort_unique(&names);
                check_words(detail(d, "env"), env.w);
                check_words(detail(d, "env_names"), names.w);
                FUZZ_CHECK(streq(detail(d, "env_clear"), req.env_clear ? "true" : "false"));
                FUZZ_CHECK(parse_num(detail(d, "uid")) == req.uid && parse_num(detail(d, "gid")) == req.gid);
                FUZZ_CHECK(streq(detail(d, "cwd"), strempty(req.cwd)));
        }
        if (detail(d, "set_keys")) {
                for (size_t k = 0; k < set.n + unset.n; k++)
                        words_add(&keys, k < set.n ? set.w[k] : unset.w[k - set.n]);
                sort_unique(&keys);
                check_words(detail(d, "keys"), keys.w);
                sort_unique(&set);
                sort_unique(&unset);
                check_words(detail(d, "set_keys"), set.w);
                check_words(detail(d, "unset_keys"), unset.w);
        }
        if (streq(req.verb, "create"))
                check_words(detail(d, "keys"), (sort_unique(&set), set.w));
        if (detail(d, "signal_name"))
                FUZZ_CHECK(detail(d, "signal") && detail(d, "signal_name")[0]);

finish:
        words_done(&argv);
        words_done(&env);
        words_done(&set);
        words_done(&unset);
        words_done(&names);
        words_done(&keys);
        return 0;
}
