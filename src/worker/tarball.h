/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "metadata.h"
#include "worker-proto.h"

/* Tarballs in and out of an instance, with libarchive (never a tar child, never a parser of our own).
 *
 * An export is a pax tarball: "lxcbus.json" first (the instance's metadata without what belongs to this
 * host: the idmap block, security.privileged; its "snapshots" lists the snapshots in the tarball), then
 * "rootfs/..." (owners un-shifted out of an idmapped instance's range, xattrs kept), then
 * "snapshots/NAME/rootfs/..." of each listed snapshot (tarball-layout.h). An import takes that, or a plain
 * rootfs tarball ("bin/", "./etc/" ...), gzip, xz or zstd compressed or not. */

/* The message of a failure, for the result the worker sends. */
#define ARCHIVE_ERROR_MAX 512

typedef struct ArchiveJob {
        int fd;                         /* the caller's: read (import) or written (export) */
        unsigned idmap_uid, idmap_gid, idmap_count;     /* count 0: privileged */
        void (*progress)(double fraction, const char *stage);
        /* The bytes read from fd (import) or written to it (export) so far: at most every
         * ARCHIVE_BYTES_USEC, and once more at the end. NULL: not reported. */
        void (*bytes)(uint64_t done, uint64_t total);
        uint64_t done;                  /* bytes read or written */
        uint64_t bytes_reported_usec;   /* CLOCK_MONOTONIC */
        char error[ARCHIVE_ERROR_MAX];  /* set on failure */
} ArchiveJob;

/* Extracts the tarball from job->fd into the current directory, the new instance's directory in staging
 * with its empty rootfs/ (the worker chdir()s there: libarchive's secure-symlink check works on paths
 * relative to it). Nothing is written outside rootfs/ and, for an export's snapshots,
 * snapshots/NAME/rootfs/ (made here for each snapshot that its lxcbus.json lists; a listed snapshot
 * without a tree, or a tree of an unlisted one, is refused): members with "..", absolute names, hard
 * links out of their own tree, paths through a symlink, device nodes into an idmapped instance and ids
 * beyond its range are refused. *ret_metadata_json: the lxcbus.json of an lxcbus export, NULL for a plain
 * rootfs tarball. */
int archive_import(ArchiveJob *job, char **ret_metadata_json);

/* Writes the instance in the current directory (lxcbus.json, rootfs/, and snapshots/NAME/rootfs/ of each
 * of the n_snapshots snapshots) into job->fd. metadata_json: what goes in as lxcbus.json (its snapshot list
 * must be these). */
int archive_export(ArchiveJob *job, WorkerCompression compression, const char *metadata_json,
                   const InstanceSnapshot *snapshots, size_t n_snapshots);

/* The metadata of an imported instance: the daemon's (name, owner, idmap, the call's config), plus the
 * config keys of the export that the call did not set, except security.* (decided by the daemon), and the
 * export's snapshots (names, creation times), whose trees archive_import() extracted. */
int archive_merge_metadata(const char *daemon_json, const char *export_json, char **ret_json, char *error,
                           size_t error_size);
