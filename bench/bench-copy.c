/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-copy SOURCE TARGET_DIR NAME: the copy worker's tree copy (copy_tree(), src/worker/copy.c: reflinks
 * where the file system allows, holes kept, owners, modes, xattrs) of SOURCE into TARGET_DIR/NAME, and
 * nothing else: what Copy and Snapshot spend their time on, measured by bench/reflink.sh against cp -a
 * and lxc-copy on the same tree. Prints the microseconds it took. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"

int main(int argc, char *argv[]) {
        struct timespec a, b;
        char *failed = NULL;
        int dir, r;

        if (argc != 4) {
                fprintf(stderr, "usage: bench-copy SOURCE TARGET_DIR NAME\n");
                return 2;
        }
        dir = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) {
                perror(argv[2]);
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        r = copy_tree(argv[1], dir, argv[3], &(CopyShift) {}, NULL, NULL, &failed);
        if (r >= 0 && syncfs(dir) < 0)
                r = -1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r < 0) {
                fprintf(stderr, "copy_tree: %s (at %s)\n", strerror(-r), failed ? failed : "?");
                return 1;
        }
        printf("%lld\n", (long long) (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000);
        return 0;
}
