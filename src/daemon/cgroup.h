/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroups of an instance (unit: its scope, name: the instance's name, which names the payload). */

/* Removes what liblxc left in the v1 hierarchies after systemd removed the scope. */
void scope_cleanup_cgroups(const char *unit);
/* The units of every lxcbus-*.scope cgroup directory in any hierarchy (NULL: none, or out of memory). */
char **scope_list_cgroups(void);
/* The figures of a running instance's scope; UINT64_MAX: not known (no such controller, no limit). */
typedef struct CgroupFigures {
        uint64_t memory, memory_max, swap;              /* bytes */
        uint64_t cpu_ns, cpu_user_ns, cpu_system_ns;
        uint64_t tasks;                                 /* pids.current: threads count */
} CgroupFigures;

#define CGROUP_FIGURES_NULL                                                                             \
        ((CgroupFigures) { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX })
/* A memory limit at or above this is none: v1 shows "no limit" as the page counter's maximum. */
#define CGROUP_LIMIT_NONE (UINT64_C(1) << 62)

int scope_read_all_figures(const char *unit, CgroupFigures *ret);
/* GetState's three of them. */
int scope_read_figures(const char *unit, uint64_t *ret_memory, uint64_t *ret_cpu_ns, uint64_t *ret_tasks);
int scope_find_running(const char *unit, const char *name, pid_t *ret_monitor, pid_t *ret_init, bool *ret_frozen);
int cgroup_freezer_set(const char *unit, const char *name, bool freeze);
/* 1 frozen, 0 thawed, -EAGAIN on the way. */
int cgroup_freezer_get(const char *unit, const char *name);
/* Signals every process of the payload, never the monitor; *ret_n: how many. */
int cgroup_kill_payload(const char *unit, const char *name, int sig, unsigned *ret_n);
