/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "metadata.h"

/* Where a member of a tarball to import goes: pure, no file is touched (for tarball.c and its fuzzer).
 *
 * The layout of an lxcbus export (docs/api.md, "Export"):
 *
 *   lxcbus.json                     first: the metadata; its "snapshots" lists the snapshots that follow
 *   rootfs/...                      the instance's root filesystem
 *   snapshots/NAME/rootfs/...       each listed snapshot's root filesystem (Export option "snapshots")
 *
 * A plain rootfs tarball has the root filesystem at its top ("bin/", "./etc/" ...). Either way a member
 * is extracted relative to the new instance's directory in staging, under "rootfs/" or
 * "snapshots/NAME/rootfs/", and nowhere else. */

typedef struct TarballLayout {
        bool is_export;                         /* lxcbus.json came first */
        const InstanceSnapshot *snapshots;      /* the export's, as its lxcbus.json lists them */
        size_t n_snapshots;
} TarballLayout;

/* A member's name without leading "./", or NULL for a name that could reach out of the tree: absolute,
 * with a ".." component. "." alone (the top itself) is "". */
const char *tarball_relative_name(const char *name);

enum {
        TARBALL_MEMBER_FILE = 0,        /* *ret_path: where it goes */
        TARBALL_MEMBER_TREE_ROOT = 1,   /* the root of a tree ("rootfs", "snapshots/NAME/rootfs"): made already */
        TARBALL_MEMBER_LAYOUT_DIR = 2,  /* "snapshots" or "snapshots/NAME" of a listed NAME: made already */
};

/* Maps the member name (as the tarball has it) to its path relative to the instance directory:
 * "rootfs/REST" or "snapshots/NAME/rootfs/REST", REST without "." or ".." components, empty components
 * or a trailing "/". *ret_tree: -1 the rootfs, k the export's snapshot k (set for every result >= 0).
 * *ret_path is set for TARBALL_MEMBER_FILE only. -EPERM: the name leaves the tree, or is outside the
 * layout; -ENOENT: below "snapshots/" of a name that lxcbus.json does not list; -ENOMEM. */
int tarball_member_path(const TarballLayout *l, const char *name, int *ret_tree, char **ret_path);
