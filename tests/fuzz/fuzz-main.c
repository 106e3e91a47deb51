/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A standalone driver for the libFuzzer entry points: runs LLVMFuzzerTestOneInput() once on every file
 * named on the command line, and on every regular file in every directory named there. This lets the
 * corpora run in the normal test suite (and under ASan, UBSan and valgrind) without clang's libFuzzer.
 * Each input is copied into a buffer of exactly its size, so an over-read shows up under a sanitizer. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "util.h"

#define FUZZ_INPUT_MAX (16 * 1024 * 1024)

static int run_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ uint8_t *exact = NULL;
        size_t n;
        int r;

        r = read_full_file(path, FUZZ_INPUT_MAX, &buf, &n);
        if (r < 0) {
                fprintf(stderr, "Failed to read %s: %s\n", path, strerror(-r));
                return r;
        }
        /* malloc(0) may return NULL; libFuzzer passes a valid pointer even for empty inputs. */
        exact = malloc(n ?: 1);
        if (!exact)
                return -ENOMEM;
        memcpy(exact, buf, n);
        printf("%s (%zu bytes)\n", path, n);
        (void) LLVMFuzzerTestOneInput(exact, n);
        return 0;
}

static int cmp_names(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, unsigned *count) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, NULL, cmp_names);
        if (n < 0) {
                fprintf(stderr, "Failed to list %s: %m\n", dir);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (list[i]->d_name[0] == '.')
                        goto next;
                if (asprintf(&p, "%s/%s", dir, list[i]->d_name) < 0) {
                        r = -ENOMEM;
                        goto next;
                }
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        goto next;
                if (run_file(p) < 0)
                        r = -EIO;
                else
                        (*count)++;
        next:
                free(list[i]);
        }
        free(list);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned count = 0;
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s CORPUS-DIR|FILE...\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        r = -errno;
                } else if (S_ISDIR(st.st_mode)) {
                        if (run_dir(argv[i], &count) < 0)
                                r = -EIO;
                } else if (run_file(argv[i]) < 0)
                        r = -EIO;
                else
                        count++;
        }
        printf("%u inputs\n", count);
        if (count == 0) {
                fprintf(stderr, "No inputs.\n");
                return EXIT_FAILURE;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
