/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "forward.h"
#include "metadata.h"

/* An instance's data kept and moved: snapshots, Rename and Copy (the model; snapshot-dbus.c is the bus
 * face). Each long step is the copy worker (src/worker/copy.c) filling an entry of staging/, which is
 * renamed into place only when complete: a cancel, a failure or a killed daemon leaves nothing but
 * that entry, which the removal worker (or create_clean_staging() at the next start) takes away.
 *
 *   Snapshot         staging/.snapshot-ID/rootfs  -> instances/NAME/snapshots/SNAP (rename), then the
 *                    metadata lists it; a directory there that the metadata does not list is a leftover
 *                    of a daemon killed in between, moved to staging/ when the name is taken again.
 *   RestoreSnapshot  staging/.restore-ID/rootfs  <-> instances/NAME/rootfs (RENAME_EXCHANGE: atomic), the
 *                    old rootfs leaves with staging/.restore-ID.
 *   DeleteSnapshot   the metadata forgets it, then instances/NAME/snapshots/SNAP -> staging/, removed.
 *   Copy             staging/NEW/rootfs (owners shifted into the copy's own idmap block), then config
 *                    and metadata beside it, then staging/NEW -> instances/NEW, as a create does.
 *                    An overlay clone: staging/NEW holds an empty upper layer (delta0), overlayfs's work
 *                    directory (olwork) and rootfs, a mount point; its config names the snapshot as the
 *                    lower layer, its metadata the snapshot ("overlay"); then into place, at once.
 *   Rename           the new config beside the old one, the metadata names NEW (the commit), then
 *                    instances/OLD -> instances/NEW and the new config in place; finished or dropped at
 *                    the next start when interrupted. */

/* May instance i get a snapshot called name? -EINVAL not a valid name, -EEXIST it has one, -E2BIG it has
 * LXCBUS_SNAPSHOTS_MAX, -ENOSPC the instances' configs and snapshots would grow over
 * LXCBUS_INSTANCES_DATA_MAX. */
int snapshot_check_new(Instance *i, const char *name);

/* Each takes the lock for o and finishes o when done (or at once on failure); the bus face checked the
 * name and the state. */
void snapshot_create(Instance *i, Operation *o, const char *name, bool allow_running);
void snapshot_restore(Instance *i, Operation *o, const char *name);
void snapshot_delete(Instance *i, Operation *o, const char *name);

/* With allow_running, a running instance is frozen while its rootfs is copied (freeze_hold()). */

/* Copy of src (from its snapshot, or its rootfs when NULL) into a new instance described by md (complete:
 * name, owner, idmap, config; taken). o is a copy operation for the new name; src stays locked by o
 * until the copy is in place or gone. /etc/hostname of the copy holds the new name if it held src's.
 * < 0 only before anything happened: from then on o finishes by itself. */
int instance_copy(Instance *src, Operation *o, const char *snapshot, InstanceMetadata *md, bool allow_running);

/* An overlay clone of src's snapshot (the read-only lower layer; privileged only, md->idmap empty): a new
 * instance with an empty upper layer, made and finished within the call (o finishes, as a copy does on
 * failure, whatever the result). -errno only before anything was done (o not finished). */
int instance_clone_overlay(Instance *src, Operation *o, const char *snapshot, InstanceMetadata *md);

/* The first overlay clone whose lower layer is instance's snapshot (any of its snapshots: NULL), or NULL:
 * that snapshot may not go, nor the instance be renamed or deleted, while it exists. */
Instance *snapshot_overlay_user(Manager *m, const char *instance, const char *snapshot);

/* Renames a stopped, idle instance: synchronous (renames and two small files). -EEXIST the name is
 * taken (or a stray directory has it), -EINVAL not a valid name. The instance leaves the bus under its
 * old path and comes back under the new one. */
int instance_rename(Instance *i, const char *new_name);
/* After instance_rename(): /etc/hostname of the rootfs holds the new name if it held old_name, written by
 * a worker under o (a rename operation), which finishes o. */
void instance_rename_hostname(Instance *i, Operation *o, const char *old_name);

/* At startup, before the instances are loaded: renames a killed daemon left half done are finished
 * (committed: the metadata names the new name) or forgotten. */
int snapshot_recover_renames(Manager *m);
/* At startup, once the instances are loaded: every directory of an instance's snapshots/ that its
 * metadata does not list (a Snapshot or DeleteSnapshot killed half-way) goes. */
void snapshot_remove_strays(Manager *m);

/* operation_free()'s part for the kinds above. */
void snapshot_operation_done(Operation *o);

/* The LXC config text of an instance at old_dir, for one at new_dir called new_name: the paths in it,
 * lxc.uts.name, and (idmap not NULL: a copy) the lxc.idmap lines and no hardware addresses, so that
 * liblxc makes new ones; rootfs not NULL: the new lxc.rootfs.path. Pure, for the unit test. */
int lxc_config_rewrite(const char *text, const char *old_dir, const char *new_dir, const char *new_name,
                       const InstanceIdmap *idmap, const char *rootfs, char **ret);
