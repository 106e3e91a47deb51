/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "subid.h"

/* A decimal number of at most 10 digits, all of [p, end). */
static bool parse_u64(const char *p, const char *end, uint64_t *ret) {
        uint64_t v = 0;

        if (p == end || end - p > 10)
                return false;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = v;
        return true;
}

static bool owner_matches(const char *p, const char *end, const char *name, uid_t uid) {
        size_t n = (size_t) (end - p);
        uint64_t v;

        if (name && strlen(name) == n && memcmp(p, name, n) == 0)
                return true;
        return uid != (uid_t) -1 && parse_u64(p, end, &v) && v == uid;
}

int subid_parse(const char *text, size_t size, const char *name, uid_t uid, SubIdRange **ret, size_t *ret_n) {
        _cleanup_free_ SubIdRange *ranges = NULL;
        const char *p = text, *end = text + size;
        size_t n = 0;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end;
                const char *c1 = memchr(p, ':', (size_t) (eol - p));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;
                uint64_t start, count;

                if (c1 && c2 && *p != '#' && owner_matches(p, c1, name, uid) &&
                    parse_u64(c1 + 1, c2, &start) && parse_u64(c2 + 1, eol, &count) &&
                    start > 0 && count > 0 && start + count <= UINT32_MAX && n < SUBID_RANGES_MAX) {
                        SubIdRange *l = realloc(ranges, (n + 1) * sizeof(SubIdRange));
                        if (!l)
                                return -ENOMEM;
                        ranges = l;
                        ranges[n++] = (SubIdRange) { (uint32_t) start, (uint32_t) count };
                }
                p = eol + 1;
        }
        *ret = TAKE_PTR(ranges);
        *ret_n = n;
        return 0;
}

static bool range_contains(const SubIdRange *r, size_t n, uint64_t base, uint32_t block) {
        for (size_t i = 0; i < n; i++)
                if (base >= r[i].start && base + block <= (uint64_t) r[i].start + r[i].count)
                        return true;
        return false;
}

/* The first used range that overlaps [base, base + block), or NULL. */
static const SubIdRange *overlap(const SubIdRange *used, size_t n, uint64_t base, uint32_t block) {
        for (size_t i = 0; i < n; i++)
                if ((uint64_t) used[i].start < base + block && base < (uint64_t) used[i].start + used[i].count)
                        return used + i;
        return NULL;
}

int subid_allocate(const SubIdRange *uid_ranges, size_t n_uid, const SubIdRange *gid_ranges, size_t n_gid,
                   const SubIdRange *used, size_t n_used, uint32_t block, uint32_t *ret) {
        uint64_t best = UINT64_MAX;

        if (block == 0)
                return -EINVAL;
        for (size_t i = 0; i < n_uid; i++) {
                uint64_t start = uid_ranges[i].start, end = start + uid_ranges[i].count;

                /* Each step either jumps past a used range or moves one block on: at most
                 * count / block + n_used steps per range. */
                for (uint64_t b = start; b + block <= end && b < best;) {
                        const SubIdRange *u = overlap(used, n_used, b, block);
                        if (u) {
                                uint64_t past = (uint64_t) u->start + u->count;
                                b = start + (past - start + block - 1) / block * block;
                                continue;
                        }
                        if (range_contains(gid_ranges, n_gid, b, block)) {
                                best = b;
                                break;
                        }
                        b += block;
                }
        }
        if (best == UINT64_MAX)
                return -ENOSPC;
        *ret = (uint32_t) best;
        return 0;
}
