/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "forward.h"
#include "metadata.h"
#include "worker-proto.h"

/* CreateInstance's work: the subordinate ids of an idmapped instance, the create worker that builds
 * it in staging/ and moves it into instances/, and the cleanup of what an interrupted one left. */

/* A block of subordinate ids for a new idmapped instance: -ENOSPC none is free; -ENODATA the file
 * *ret_path has no ids of SUBID_USER; another error: reading *ret_path failed (NULL: something else). */
int create_allocate_idmap(Manager *m, InstanceIdmap *ret, const char **ret_path);
/* Starts the create worker for o; md (complete, checked) is taken. o finishes when the instance is in
 * place, or failed; name stays reserved until what a failed create left is removed. */
int create_instance(Manager *m, Operation *o, const char *template, char **template_args, InstanceMetadata *md);
/* Removes staging/ENTRY in a worker (which renames it aside first); release_name: the reservation of
 * ENTRY is released once it is gone. */
int create_staging_remove(Manager *m, const char *entry, bool release_name);
/* What create_instance() does, for a request of verb create or import that holds only its own arguments
 * (import: fds[0] is the caller's tarball): LXCPATH is staging/, NAME the operation's instance, and the
 * placement instances/ with md's JSON and idmap. */
int create_spawn(Manager *m, Operation *o, WorkerRequest *req, const int *fds, size_t n_fds, InstanceMetadata *md);
/* At startup: what interrupted creates and deletes left in staging/ goes, in workers. */
int create_clean_staging(Manager *m);

/* The instance that o (a create, import or copy) made, from md (as instance_new() takes it): added to the
 * manager, and held as o->instance. On failure o fails. */
int create_add_instance(Operation *o, InstanceMetadata *md);
