/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "forward.h"

/* PushFile and PullFile: a file into or out of an instance, stopped or running, copied by a worker
 * between the caller's fd and the instance's rootfs (src/worker/files.c), under an operation of kind
 * push-file or pull-file that holds the instance and reports Bytes, Rate and, for a pull, Progress. */

typedef struct FileRequest {
        const char *path;           /* absolute, inside the instance: checked by files_path_is_valid() */
        int fd;                     /* the caller's (the worker gets a copy) */
        /* push only */
        unsigned mode;              /* 0..07777 */
        uint32_t uid, gid;          /* as the instance sees them */
        bool mkdir_parents;
} FileRequest;

#define FILES_MODE_DEFAULT 0644
/* The longest path a call may name (the kernel's PATH_MAX). */
#define FILES_PATH_MAX 4096

/* Absolute, at most FILES_PATH_MAX bytes, and naming a file: its last component is neither "", "." nor
 * "..". A ".." inside is fine: it is resolved in the instance's root. */
bool files_path_is_valid(const char *path);
/* Whether uid and gid exist in the instance: below its idmap's count when it is idmapped (-ERANGE if not),
 * any but (uid_t) -1 when it is privileged. */
int files_check_ids(Instance *i, uint32_t uid, uint32_t gid);
/* Take the instance's lock for o and start the worker. */
int files_push(Instance *i, Operation *o, const FileRequest *req);
int files_pull(Instance *i, Operation *o, const FileRequest *req);
