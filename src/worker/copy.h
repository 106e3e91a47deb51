/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/* Owners of the copy: uids from_uid..from_uid+count-1 become to_uid.., gids likewise; count 0: as they
 * are. */
typedef struct CopyShift {
        uint32_t from_uid, from_gid, to_uid, to_gid, count;
} CopyShift;

typedef struct CopyContext CopyContext;
typedef void (*CopyProgress)(double fraction, uint64_t files, uint64_t bytes, void *userdata);

/* Copies the directory source (absolute; a symlink is refused) to name in to_dir, which must not exist.
 * Walks the source twice: sizes first, for the fraction that progress gets (every 100 ms at most), then
 * the copy. -ELOOP: deeper than the bound; -EXDEV: a mount point inside; -EBUSY: the source changed.
 * On failure *ret_failed is the path below the top where it failed (or NULL), and what was copied is
 * left for the caller to remove. */
int copy_tree(const char *source, int to_dir, const char *name, const CopyShift *shift, CopyProgress progress,
              void *userdata, char **ret_failed);
