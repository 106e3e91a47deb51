/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* The user namespace of an idmapped instance: ids 0..count-1 inside are uid..uid+count-1 and
 * gid..gid+count-1 on the host. count 0: not idmapped (a privileged instance). */
typedef struct InstanceIdmap {
        uint32_t uid;
        uint32_t gid;
        uint32_t count;
} InstanceIdmap;

/* A snapshot: snapshots/NAME/rootfs in the instance directory. The name is valid as an instance name. */
typedef struct InstanceSnapshot {
        char *name;
        uint64_t created_at;     /* µs since the epoch */
} InstanceSnapshot;

/* lxcbus.json: what lxcbus knows of an instance beyond LXC's own config. */
typedef struct InstanceMetadata {
        char *name;
        uid_t owner;
        bool ephemeral;
        uint64_t created_at;     /* µs since the epoch */
        uint64_t last_used_at;
        uint64_t generation;
        ConfigMap config;
        InstanceIdmap idmap;     /* "idmap": {"uid", "gid", "count"}, absent when privileged */
        InstanceSnapshot *snapshots;   /* "snapshots": [{"name", "created-at"}], oldest first, at most
                                        * LXCBUS_SNAPSHOTS_MAX, names unique; absent (older files): none */
        size_t n_snapshots;
        /* "overlay": {"instance", "snapshot"}, absent for a rootfs of its own: an overlay clone's lower
         * layer, the read-only snapshot SNAPSHOT of instance INSTANCE (both valid names). */
        char *overlay_instance;
        char *overlay_snapshot;
} InstanceMetadata;

#define METADATA_FILE "lxcbus.json"
/* An overlay clone's upper layer and overlayfs's work directory beside rootfs (a mount point), as liblxc
 * names them (lxc-copy -s -B overlay). */
#define OVERLAY_UPPER_DIR "delta0"
#define OVERLAY_WORK_DIR "olwork"
#define METADATA_SIZE_MAX (1024 * 1024)

void instance_metadata_done(InstanceMetadata *m);

/* The snapshot called name, or NULL. */
const InstanceSnapshot *instance_metadata_find_snapshot(const InstanceMetadata *m, const char *name);
/* Appends a snapshot: -EEXIST the name is taken, -E2BIG LXCBUS_SNAPSHOTS_MAX are there, -EINVAL bad name. */
int instance_metadata_add_snapshot(InstanceMetadata *m, const char *name, uint64_t created_at);
/* -ENOENT when there is none of that name. */
int instance_metadata_remove_snapshot(InstanceMetadata *m, const char *name);

int instance_metadata_to_json(const InstanceMetadata *m, char **ret);
/* Parses and validates (the name, every config key, the idmap and its agreement with
 * security.privileged). Fails with -EBADMSG and a message on bad input. */
int instance_metadata_from_json(const char *json, size_t size, InstanceMetadata *ret, char **ret_message);

/* The bound that save and load share: a metadata file is at most METADATA_SIZE_MAX bytes. Every
 * config that SetConfig and CreateInstance take passes this (with CONFIG_KEYS_MAX and config_validate(),
 * which load applies too): it serializes m with its counters at their largest, so no later save of the
 * same config (a new generation, last-used-at) can outgrow what load accepts. -E2BIG when too large. */
int instance_metadata_check_size(const InstanceMetadata *m, size_t *ret_size);

/* -E2BIG rather than write a file that would not load back. */
int instance_metadata_save(const InstanceMetadata *m, const char *path);
int instance_metadata_load(const char *path, InstanceMetadata *ret, char **ret_message);
