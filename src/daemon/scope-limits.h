/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "config.h"
#include "resource-limits.h"

/* The limits.* keys against the cgroup hierarchy in use (docs/systemd.md, "Limits"). systemd applies what
 * its controllers allow (MemoryMax, CPUWeight, TasksMax, CPUQuota everywhere; MemorySwapMax, AllowedCPUs
 * and IOWeight need cgroup2's memory, cpuset and io controllers). On a v1 hierarchy swap and cpuset go to
 * the payload's own cgroup, as liblxc's lxc.cgroup.* keys at a start and as writes to its files live; an
 * io weight without a controller that has one is refused. */

typedef struct LimitsSupport {
        bool unified;      /* cgroup2 holds the controllers (/sys/fs/cgroup/cgroup.controllers) */
        bool swap_v2;      /* memory in cgroup2: MemorySwapMax */
        bool swap_v1;      /* v1 memory with swap accounting (memory.memsw.*) */
        bool cpuset_v2;    /* cpuset in cgroup2: AllowedCPUs */
        bool cpuset_v1;    /* v1 cpuset */
        bool io;           /* cgroup2 io, or a v1 blkio weight (BFQ, CFQ): IOWeight */
} LimitsSupport;

/* Reads what the cgroup file system at root (/sys/fs/cgroup) offers. */
void limits_support_probe(const char *root, LimitsSupport *ret);

/* Whether a limits.* key differs between a and b: those are applied to a running scope. */
bool limits_config_differ(const ConfigMap *a, const ConfigMap *b);

/* Whether the host can apply config's limits: 0; -EOPNOTSUPP (NotSupported) or -EINVAL (InvalidConfig,
 * a CPU the host does not have) with a message naming the key. online is the host's CPU list
 * (/sys/devices/system/cpu/online), NULL if unknown. */
int limits_check(const ConfigMap *config, const LimitsSupport *s, const char *online, char **ret_message);
/* limits_check() with this host's support and CPUs. */
int limits_check_host(const ConfigMap *config, char **ret_message);

/* What the start worker sets on the payload cgroup (WorkerStartArgs' cgroup_*). cpus points into config. */
typedef struct LimitsPayload {
        const char *cpus;          /* NULL: the scope's */
        uint64_t memory, memsw;    /* 0: none; UINT64_MAX: no limit */
} LimitsPayload;
void limits_payload(const ConfigMap *config, const LimitsSupport *s, LimitsPayload *ret);

/* The systemd unit properties of config's limits, appended to an open a(sv); with reset, unset keys go back
 * to no limit. */
int limits_append_properties(sd_bus_message *m, const ConfigMap *config, const LimitsSupport *s, bool reset);

/* Writes the payload's own limits (limits_payload()) of a running instance to its v1 cgroup files. */
int limits_payload_apply(const char *unit, const char *name, const ConfigMap *config, const LimitsSupport *s);
