/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal unit test harness. Each test-<module>.c is one translation unit that includes this header once:
 *
 *     TEST(something) {
 *             ASSERT_OK(foo());
 *             ASSERT_ERROR(bar(), EINVAL);
 *     }
 *
 * TEST() registers the function from a constructor, so main() (defined here) runs every test in the order
 * of definition, or only those named on the command line. A failing ASSERT_*() prints the expression, the
 * values, file:line and errno, and abandons that test (longjmp back to main(); its cleanup handlers do
 * not run); the others still run and the binary exits 1. A test may call TEST_SKIP("why"); if every test
 * that ran skipped, the binary exits with 77 (meson: SKIP). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTS_MAX 256

typedef struct TestCase {
        const char *name;
        void (*func)(void);
} TestCase;

static TestCase tests_table[TESTS_MAX];
static size_t tests_n;
static uint64_t tests_checks;
static bool tests_skipped;
static const char *tests_current;
static jmp_buf tests_jmp;

static inline void tests_register(const char *name, void (*func)(void)) {
        if (tests_n >= TESTS_MAX) {
                fprintf(stderr, "Too many tests, raise TESTS_MAX\n");
                abort();
        }
        tests_table[tests_n++] = (TestCase) { .name = name, .func = func };
}

#define TEST(n)                                                                 \
        static void test_##n(void);                                             \
        __attribute__((constructor)) static void test_register_##n(void) {     \
                tests_register(#n, test_##n);                                   \
        }                                                                       \
        static void test_##n(void)

/* Marks the current test skipped and returns from it. */
#define TEST_SKIP(...)                                                          \
        do {                                                                    \
                printf("  SKIP %s: ", tests_current);                           \
                printf(__VA_ARGS__);                                            \
                printf("\n");                                                   \
                tests_skipped = true;                                           \
                return;                                                         \
        } while (0)

_Noreturn __attribute__((format(printf, 4, 5)))
static inline void tests_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
        int saved_errno = errno;
        va_list ap;

        fflush(stdout);
        fprintf(stderr, "%s:%d: test '%s': assertion failed: %s\n", file, line, tests_current ?: "?", expr);
        if (fmt && *fmt) {
                fprintf(stderr, "        ");
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fprintf(stderr, "\n");
        }
        fprintf(stderr, "        errno=%d (%s)\n", saved_errno, strerror(saved_errno));
        if (!tests_current)
                abort();
        longjmp(tests_jmp, 1);
}

#define ASSERT_TRUE(expr)                                                               \
        do {                                                                            \
                tests_checks++;                                                         \
                if (!(expr))                                                            \
                        tests_fail(__FILE__, __LINE__, #expr, "%s", "");                \
        } while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))
#define ASSERT_NULL(expr) ASSERT_TRUE((expr) == NULL)
#define ASSERT_NOT_NULL(expr) ASSERT_TRUE((expr) != NULL)

/* r >= 0 */
#define ASSERT_OK(expr)                                                                         \
        do {                                                                                    \
                intmax_t _r = (intmax_t) (expr);                                                \
                tests_checks++;                                                                 \
                if (_r < 0)                                                                     \
                        tests_fail(__FILE__, __LINE__, #expr " >= 0", "got %jd (%s)", _r,       \
                                   _r >= -4095 ? strerror((int) -_r) : "?");                    \
        } while (0)

/* r == -err, with err given as a positive errno */
#define ASSERT_ERROR(expr, err)                                                                 \
        do {                                                                                    \
                intmax_t _r = (intmax_t) (expr);                                                \
                tests_checks++;                                                                 \
                if (_r != -(intmax_t) (err))                                                    \
                        tests_fail(__FILE__, __LINE__, #expr " == -" #err,                      \
                                   "got %jd (%s), expected %jd (%s)", _r,                       \
                                   _r < 0 && _r >= -4095 ? strerror((int) -_r) : "not an errno", \
                                   -(intmax_t) (err), strerror(err));                           \
        } while (0)

#define ASSERT_EQ(a, b)                                                                         \
        do {                                                                                    \
                intmax_t _a = (intmax_t) (a), _b = (intmax_t) (b);                              \
                tests_checks++;                                                                 \
                if (_a != _b)                                                                   \
                        tests_fail(__FILE__, __LINE__, #a " == " #b, "%jd != %jd", _a, _b);     \
        } while (0)

#define ASSERT_EQ_U(a, b)                                                                       \
        do {                                                                                    \
                uintmax_t _a = (uintmax_t) (a), _b = (uintmax_t) (b);                           \
                tests_checks++;                                                                 \
                if (_a != _b)                                                                   \
                        tests_fail(__FILE__, __LINE__, #a " == " #b, "%ju != %ju", _a, _b);     \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                      \
        do {                                                                                    \
                const char *_a = (a), *_b = (b);                                                \
                tests_checks++;                                                                 \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                          \
                        tests_fail(__FILE__, __LINE__, #a " == " #b, "\"%s\" != \"%s\"",        \
                                   _a ?: "(null)", _b ?: "(null)");                             \
        } while (0)

/* The string contains needle. */
#define ASSERT_CONTAINS(s, needle)                                                              \
        do {                                                                                    \
                const char *_s = (s), *_n = (needle);                                           \
                tests_checks++;                                                                 \
                if (!_s || !strstr(_s, _n))                                                     \
                        tests_fail(__FILE__, __LINE__, #s " contains " #needle,                 \
                                   "\"%s\" lacks \"%s\"", _s ?: "(null)", _n);                  \
        } while (0)

/* A fresh directory below the current directory (meson runs the unit tests in their build directory),
 * or below $LXCBUS_TEST_TMPDIR. The caller removes it. */
static inline char *tests_make_tmpdir(const char *tag) {
        const char *base = getenv("LXCBUS_TEST_TMPDIR");
        char *p;

        if (asprintf(&p, "%s/%s.XXXXXX", base ?: ".", tag) < 0)
                abort();
        if (!mkdtemp(p)) {
                fprintf(stderr, "mkdtemp(%s): %m\n", p);
                abort();
        }
        return p;
}

/* How many entries (besides . and ..) a directory holds: what a test left behind. */
static inline size_t tests_count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* Static, so longjmp() cannot clobber them. */
static size_t tests_ran, tests_n_skipped, tests_n_failed, tests_i;

int main(int argc, char *argv[]) {
        /* Unbuffered, so the output of a test is in order with its failure message. */
        setvbuf(stdout, NULL, _IONBF, 0);

        for (tests_i = 0; tests_i < tests_n; tests_i++) {
                const TestCase *t = tests_table + tests_i;
                bool selected = argc <= 1;

                for (int j = 1; j < argc; j++)
                        if (strcmp(argv[j], t->name) == 0)
                                selected = true;
                if (!selected)
                        continue;

                tests_current = t->name;
                tests_skipped = false;
                printf("=== %s\n", tests_current);
                tests_ran++;
                if (setjmp(tests_jmp) == 0) {
                        t->func();
                        if (tests_skipped)
                                tests_n_skipped++;
                } else {
                        printf("--- FAILED: %s\n", tests_current);
                        tests_n_failed++;
                }
        }
        tests_current = NULL;

        if (tests_ran == 0) {
                fprintf(stderr, "No test matched.\n");
                return EXIT_FAILURE;
        }
        printf("%zu tests, %zu failed, %zu skipped, %" PRIu64 " checks\n",
               tests_ran, tests_n_failed, tests_n_skipped, tests_checks);
        if (tests_n_failed > 0)
                return EXIT_FAILURE;
        return tests_n_skipped == tests_ran ? 77 : EXIT_SUCCESS;
}
