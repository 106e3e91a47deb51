/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point; each fuzz-<parser>.c defines it, and fuzz-main.c drives it over a corpus when
 * the binary is not linked with -fsanitize=fuzzer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broke: report and abort, so both libFuzzer and the standalone driver see a crash. */
#define FUZZ_CHECK(expr)                                                                        \
        do {                                                                                    \
                if (!(expr)) {                                                                  \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                \
                }                                                                               \
        } while (0)

/* A NUL-terminated copy of the input (the input itself is not terminated). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        if (size > 0)
                __builtin_memcpy(s, data, size);
        s[size] = 0;
        return s;
}
