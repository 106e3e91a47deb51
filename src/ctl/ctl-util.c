/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "bus-errors.h"
#include "ctl-util.h"
#include "macro.h"
#include "util.h"

int ctl_parse_key_value(const char *s, char **ret_key, char **ret_value) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *eq;

        assert(s);
        assert(ret_key);
        assert(ret_value);

        eq = strchr(s, '=');
        if (!eq || eq == s)
                return -EINVAL;

        key = strndup(s, (size_t) (eq - s));
        value = strdup(eq + 1);
        if (!key || !value)
                return -ENOMEM;

        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

int ctl_pairs_add(char ***pairs, const char *assignment) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        size_t n;
        char **l;
        int r;

        assert(pairs);

        r = ctl_parse_key_value(assignment, &key, &value);
        if (r < 0)
                return r;

        n = strv_length(*pairs);
        for (size_t i = 0; i + 1 < n; i += 2)
                if (streq((*pairs)[i], key))
                        return -EEXIST;

        l = realloc(*pairs, sizeof(char *) * (n + 3));
        if (!l)
                return -ENOMEM;
        l[n] = TAKE_PTR(key);
        l[n + 1] = TAKE_PTR(value);
        l[n + 2] = NULL;
        *pairs = l;
        return 0;
}

bool ctl_config_key_is_valid(const char *key) {
        return !isempty(key) && !strchr(key, '=');
}

static const char *const signal_names[] = {
        [SIGHUP] = "HUP",       [SIGINT] = "INT",       [SIGQUIT] = "QUIT",     [SIGILL] = "ILL",
        [SIGTRAP] = "TRAP",     [SIGABRT] = "ABRT",     [SIGBUS] = "BUS",       [SIGFPE] = "FPE",
        [SIGKILL] = "KILL",     [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV",     [SIGUSR2] = "USR2",
        [SIGPIPE] = "PIPE",     [SIGALRM] = "ALRM",     [SIGTERM] = "TERM",     [SIGSTKFLT] = "STKFLT",
        [SIGCHLD] = "CHLD",     [SIGCONT] = "CONT",     [SIGSTOP] = "STOP",     [SIGTSTP] = "TSTP",
        [SIGTTIN] = "TTIN",     [SIGTTOU] = "TTOU",     [SIGURG] = "URG",       [SIGXCPU] = "XCPU",
        [SIGXFSZ] = "XFSZ",     [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF",     [SIGWINCH] = "WINCH",
        [SIGIO] = "IO",         [SIGPWR] = "PWR",       [SIGSYS] = "SYS",
};

const char *ctl_signal_to_string(int sig) {
        if (sig <= 0 || (size_t) sig >= ELEMENTSOF(signal_names))
                return NULL;
        return signal_names[sig];
}

/* "RTMIN+n" and "RTMAX-n", and the bare "RTMIN"/"RTMAX", as kill(1) accepts them. */
static int signal_from_rt_string(const char *s) {
        const char *p;
        uint32_t n = 0;
        int base, sign;

        if ((p = startswith(s, "RTMIN"))) {
                base = SIGRTMIN;
                sign = 1;
        } else if ((p = startswith(s, "RTMAX"))) {
                base = SIGRTMAX;
                sign = -1;
        } else
                return -EINVAL;

        if (*p) {
                if (*p != (sign > 0 ? '+' : '-') || ctl_parse_uint32(p + 1, &n) < 0)
                        return -EINVAL;
                if (n > (uint32_t) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
        }
        return base + sign * (int) n;
}

int ctl_signal_from_string(const char *s) {
        char name[16];
        uint32_t n;
        size_t l;

        if (isempty(s))
                return -EINVAL;

        if (ctl_parse_uint32(s, &n) >= 0)
                return n >= 1 && n <= (uint32_t) SIGRTMAX ? (int) n : -EINVAL;

        /* Names are matched without regard to case, with or without "SIG". */
        l = strlen(s);
        if (l >= sizeof(name))
                return -EINVAL;
        for (size_t i = 0; i <= l; i++)
                name[i] = (char) toupper((unsigned char) s[i]);

        const char *p = startswith(name, "SIG") ?: name;
        for (size_t i = 1; i < ELEMENTSOF(signal_names); i++)
                if (signal_names[i] && streq(p, signal_names[i]))
                        return (int) i;
        return signal_from_rt_string(p);
}

int ctl_parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        assert(ret);

        if (isempty(s))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                unsigned d;

                if (*p < '0' || *p > '9')
                        return -EINVAL;
                d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int ctl_parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        assert(ret);

        r = ctl_parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

uint64_t ctl_operation_timeout_usec(uint32_t timeout_sec) {
        uint64_t sec = 2 * (uint64_t) timeout_sec + 60;

        if (sec < CTL_OPERATION_TIMEOUT_MIN_SEC)
                sec = CTL_OPERATION_TIMEOUT_MIN_SEC;
        return sec * USEC_PER_SEC;
}

bool ctl_method_needs_authorization(const char *interface, const char *member) {
        static const struct {
                const char *interface;
                const char *member;
        } open_methods[] = {
                { "org.lxcbus1.Manager", "ListInstances" },
                { "org.lxcbus1.Manager", "GetInstance" },
                { "org.lxcbus1.Manager", "ListOperations" },
                { "org.lxcbus1.Instance", "GetState" },
                { "org.lxcbus1.Operation", "Wait" },
                { "org.lxcbus1.Process", "Wait" },
                { "org.lxcbus1.Manager", "GetMetrics" },
        };

        if (!interface || !member || strncmp(interface, "org.lxcbus1.", STRLEN("org.lxcbus1.")) != 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(open_methods); i++)
                if (streq(interface, open_methods[i].interface) && streq(member, open_methods[i].member))
                        return false;
        return true;
}

uint64_t ctl_authorization_timeout_usec(uint64_t timeout_usec) {
        if (timeout_usec == 0)
                timeout_usec = 25 * USEC_PER_SEC;
        if (timeout_usec < CTL_AUTHORIZATION_TIMEOUT_MIN_SEC * USEC_PER_SEC)
                timeout_usec = CTL_AUTHORIZATION_TIMEOUT_MIN_SEC * USEC_PER_SEC;
        return timeout_usec;
}

int ctl_parse_user(const char *s, uint32_t *ret_uid, uint32_t *ret_gid, bool *ret_have_gid) {
        _cleanup_free_ char *u = NULL;
        const char *colon;
        uint32_t uid, gid = 0;
        int r;

        assert(ret_uid);
        assert(ret_gid);
        assert(ret_have_gid);

        if (isempty(s))
                return -EINVAL;

        colon = strchr(s, ':');
        u = colon ? strndup(s, (size_t) (colon - s)) : strdup(s);
        if (!u)
                return -ENOMEM;

        r = ctl_parse_uint32(u, &uid);
        if (r < 0)
                return r;
        if (uid == UINT32_MAX)
                return -ERANGE;
        if (colon) {
                r = ctl_parse_uint32(colon + 1, &gid);
                if (r < 0)
                        return r;
                if (gid == UINT32_MAX)
                        return -ERANGE;
        }

        *ret_uid = uid;
        *ret_gid = gid;
        *ret_have_gid = !!colon;
        return 0;
}

int ctl_exec_exit_status(int32_t status, int32_t signal) {
        if (signal > 0 && signal < 128)
                return 128 + signal;
        if (signal == 0 && status >= 0 && status <= 255)
                return status;
        return CTL_EXIT_FAILURE;
}

int ctl_exit_status_from_error_name(const char *name) {
        return streq_ptr(name, LXCBUS_ERROR_NO_SUCH_INSTANCE) ? CTL_EXIT_NO_SUCH_INSTANCE : CTL_EXIT_FAILURE;
}

uint64_t ctl_operation_id_from_path(const char *path) {
        const char *slash;
        uint64_t id;

        if (!path)
                return 0;
        slash = strrchr(path, '/');
        if (!slash || ctl_parse_uint64(slash + 1, &id) < 0)
                return 0;
        return id;
}

char *ctl_format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const struct {
                char suffix;
                uint64_t factor;
        } table[] = {
                { 'E', UINT64_C(1) << 60 }, { 'P', UINT64_C(1) << 50 }, { 'T', UINT64_C(1) << 40 },
                { 'G', UINT64_C(1) << 30 }, { 'M', UINT64_C(1) << 20 }, { 'K', UINT64_C(1) << 10 },
        };

        assert(buf);

        /* Integer arithmetic, so that a value just below a unit never rounds up to "1024.0K". */
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (bytes >= table[i].factor) {
                        uint64_t whole = bytes / table[i].factor;
                        uint64_t tenths = (bytes % table[i].factor) * 10 / table[i].factor;

                        (void) snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c",
                                        whole, tenths, table[i].suffix);
                        return buf;
                }

        (void) snprintf(buf, size, "%" PRIu64 "B", bytes);
        return buf;
}

char *ctl_format_timespan_ns(char *buf, size_t size, uint64_t ns) {
        uint64_t ms = ns / 1000000, h, min, s;

        assert(buf);

        h = ms / 3600000;
        min = ms / 60000 % 60;
        s = ms / 1000 % 60;
        ms %= 1000;

        if (h > 0)
                (void) snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min %" PRIu64 ".%03" PRIu64 "s",
                                h, min, s, ms);
        else if (min > 0)
                (void) snprintf(buf, size, "%" PRIu64 "min %" PRIu64 ".%03" PRIu64 "s", min, s, ms);
        else
                (void) snprintf(buf, size, "%" PRIu64 ".%03" PRIu64 "s", s, ms);
        return buf;
}

char *ctl_format_timestamp(char *buf, size_t size, uint64_t usec) {
        time_t t;
        struct tm tm;

        assert(buf);

        if (usec == 0 || usec == UINT64_MAX || usec / USEC_PER_SEC > (uint64_t) INT64_MAX) {
                (void) snprintf(buf, size, "-");
                return buf;
        }

        t = (time_t) (usec / USEC_PER_SEC);
        if (!localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                (void) snprintf(buf, size, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

size_t ctl_escape_feed(CtlEscape *e, const void *in, size_t n, void *out, bool *ret_detach) {
        const uint8_t *p = in;
        uint8_t *q = out;
        size_t k = 0;

        assert(e);
        assert(in || n == 0);
        assert(out);
        assert(ret_detach);

        *ret_detach = false;
        for (size_t i = 0; i < n; i++) {
                if (!e->pending) {
                        if (p[i] == CTL_ESCAPE_CHAR)
                                e->pending = true;
                        else
                                q[k++] = p[i];
                        continue;
                }

                e->pending = false;
                if (p[i] == CTL_ESCAPE_DETACH) {
                        *ret_detach = true;
                        return k;
                }
                q[k++] = CTL_ESCAPE_CHAR;
                if (p[i] != CTL_ESCAPE_CHAR)
                        q[k++] = p[i];
        }
        return k;
}
