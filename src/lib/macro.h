/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRLEN(x) (sizeof("" x "") - 1)

#define TAKE_PTR(p)                             \
        ({                                      \
                typeof(p) _ptr_ = (p);          \
                (p) = NULL;                     \
                _ptr_;                          \
        })

#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -EBADF;                  \
                _fd_;                           \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void close_pair(int (*p)[2]) {
        (*p)[0] = safe_close((*p)[0]);
        (*p)[1] = safe_close((*p)[1]);
}
#define _cleanup_close_pair_ _cleanup_(close_pair)

static inline void strv_freep(char ***p);
char **strv_free(char **l);
static inline void strv_freep(char ***p) {
        strv_free(*p);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)
#define isempty(s) (!(s) || !*(s))

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

#define FOREACH_STRING(s, ...) for (const char *const *_l_ = (const char *const[]) { __VA_ARGS__, NULL }, *s; (s = *_l_); _l_++)
#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

#define ERRNO_IS_DISCONNECT(r) \
        ((r) == ECONNABORTED || (r) == ECONNREFUSED || (r) == ECONNRESET || (r) == ENOTCONN || (r) == EPIPE)

#define assert_not_reached()                                            \
        do {                                                            \
                assert(!"unreachable code reached");                    \
                abort();                                                \
        } while (0)

#define UID_INVALID ((uid_t) -1)

/* name_to_string() and name_from_string() of an enum type whose values index table, as systemd's
 * DEFINE_STRING_TABLE_LOOKUP(): from_string() returns _INVALID_VALUE for what the table does not hold. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type, table, max, invalid_value)           \
        const char *name##_to_string(type v) {                                      \
                return v >= 0 && v < (max) ? table[v] : NULL;                       \
        }                                                                           \
        type name##_from_string(const char *s) {                                    \
                for (int _i = 0; s && _i < (max); _i++)                             \
                        if (table[_i] && strcmp(table[_i], s) == 0)                 \
                                return (type) _i;                                   \
                return invalid_value;                                               \
        }

/* The declarations of what DEFINE_STRING_TABLE_LOOKUP() defines, for the enum's header. */
#define DECLARE_STRING_TABLE_LOOKUP(name, type)                                     \
        const char *name##_to_string(type v);                                       \
        type name##_from_string(const char *s)

/* Frees every pointer of a list, as a run of free() calls would. */
static inline void free_many(void **p, size_t n) {
        for (size_t k = 0; k < n; k++)
                free(p[k]);
}
#define FREE_MANY(...) free_many((void *[]) { __VA_ARGS__ }, sizeof((void *[]) { __VA_ARGS__ }) / sizeof(void *))

/* A zeroed array of n (at least one) t, as systemd's new0(). */
#define new0(t, n) ((t *) calloc((n) ?: 1, sizeof(t)))

/* p, asserted not to be NULL: for a declaration that reads through p before the asserts (systemd's). */
#define ASSERT_PTR(p)                   \
        ({                              \
                typeof(p) _p_ = (p);    \
                assert(_p_);            \
                _p_;                    \
        })

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

#define IN_SET(x, ...)                                                  \
        ({                                                              \
                bool _found = false;                                    \
                typeof(x) _v = (x);                                     \
                const typeof(x) _set[] = { __VA_ARGS__ };               \
                for (size_t _k = 0; _k < ELEMENTSOF(_set); _k++)        \
                        if (_set[_k] == _v) {                           \
                                _found = true;                          \
                                break;                                  \
                        }                                               \
                _found;                                                 \
        })

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
