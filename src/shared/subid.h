/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Subordinate ids for idmapped (user namespace) instances: the ranges of user `lxcbus` in /etc/subuid and
 * /etc/subgid, and the allocation of one block of them per instance. Pure logic: the daemon reads the
 * files and knows which blocks its instances use. */

#define SUBID_USER "lxcbus"
#define SUBID_BLOCK UINT32_C(65536)
#define SUBID_FILE_MAX (1024 * 1024)
#define SUBID_RANGES_MAX 1024

typedef struct SubIdRange {
        uint32_t start;
        uint32_t count;
} SubIdRange;

/* Parses the text of /etc/subuid or /etc/subgid: lines "owner:start:count", where owner is a user name
 * or a decimal uid. Collects the ranges of the lines whose owner is `name`, or `uid` in decimal (unless
 * uid is (uid_t) -1). Blank lines, lines starting with '#' and malformed lines are skipped, as shadow's
 * tools do; so are ranges that are empty, contain id 0 or reach (uint32_t) -1. At most SUBID_RANGES_MAX
 * ranges are returned. *ret is NULL when none matched. */
int subid_parse(const char *text, size_t size, const char *name, uid_t uid, SubIdRange **ret, size_t *ret_n);

/* The lowest base b such that [b, b + block) lies inside one of the uid ranges and inside one of the gid
 * ranges (the same base serves for uids and gids), starts at a multiple of block from the start of
 * its uid range, and overlaps none of `used`. -ENOSPC if there is none, -EINVAL if block is 0. */
int subid_allocate(const SubIdRange *uid_ranges, size_t n_uid, const SubIdRange *gid_ranges, size_t n_gid,
                   const SubIdRange *used, size_t n_used, uint32_t block, uint32_t *ret);
