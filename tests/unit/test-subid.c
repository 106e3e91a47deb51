/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "macro.h"
#include "subid.h"
#include "tests.h"

#define B SUBID_BLOCK

static size_t parse(const char *text, uid_t uid, SubIdRange **ret) {
        size_t n = 99;

        ASSERT_OK(subid_parse(text, strlen(text), SUBID_USER, uid, ret, &n));
        ASSERT_TRUE(n == 0 ? *ret == NULL : *ret != NULL);
        return n;
}

TEST(parse_names_and_uids) {
        _cleanup_free_ SubIdRange *r = NULL;
        const char *text =
                "root:100000:65536\n"
                "lxcbus:1000000:655360\n"
                "lxcbusx:5000000:65536\n"
                "xlxcbus:6000000:65536\n"
                "\n"
                "# lxcbus:7000000:65536\n"
                "976:2000000:131072\n"
                "lxcbus:3000000:65536";      /* no newline at the end */

        ASSERT_EQ(parse(text, 976, &r), 3);
        ASSERT_EQ_U(r[0].start, 1000000);
        ASSERT_EQ_U(r[0].count, 655360);
        ASSERT_EQ_U(r[1].start, 2000000);
        ASSERT_EQ_U(r[1].count, 131072);
        ASSERT_EQ_U(r[2].start, 3000000);
        ASSERT_EQ_U(r[2].count, 65536);
        r = mfree(r);

        /* Without a uid for the name, numeric lines are not ours. */
        ASSERT_EQ(parse(text, (uid_t) -1, &r), 2);
        ASSERT_EQ_U(r[1].start, 3000000);
        r = mfree(r);

        ASSERT_EQ(parse("", (uid_t) -1, &r), 0);
        ASSERT_EQ(parse("root:100000:65536\n", 0, &r), 0);
        /* A uid given but the line is another number. */
        ASSERT_EQ(parse("977:100000:65536\n", 976, &r), 0);
}

TEST(parse_skips_malformed) {
        _cleanup_free_ SubIdRange *r = NULL;

        FOREACH_STRING(bad, "lxcbus", "lxcbus:", "lxcbus:1", "lxcbus:1:", "lxcbus::65536", "lxcbus:x:65536",
                       "lxcbus:100000:65536:1", "lxcbus:-100000:65536", "lxcbus: 100000:65536",
                       "lxcbus:100000:65536 ", "lxcbus:100000:+65536", "lxcbus:100000:0",
                       "lxcbus:0:65536",                     /* would map to host root */
                       "lxcbus:4294901760:65536",            /* reaches (uint32_t) -1 */
                       "lxcbus:4294967295:1", "lxcbus:99999999999:1", "lxcbus:1:99999999999",
                       "lxcbus:00000000001000000:65536",     /* too many digits */
                       " lxcbus:100000:65536", "LXCBUS:100000:65536")
                ASSERT_EQ(parse(bad, (uid_t) -1, &r), 0);

        /* The largest valid range ends just below (uint32_t) -1. */
        ASSERT_EQ(parse("lxcbus:4294901759:65536\n", (uid_t) -1, &r), 1);
        ASSERT_EQ_U(r[0].start, 4294901759U);
        r = mfree(r);

        /* Good lines around bad ones, CRLF is malformed. */
        ASSERT_EQ(parse("lxcbus:100000:65536\r\nlxcbus:x\nlxcbus:200000:65536\n", (uid_t) -1, &r), 1);
        ASSERT_EQ_U(r[0].start, 200000);
        r = mfree(r);

        /* A NUL inside the text is just a bad byte, and size bounds the parse. */
        const char nul[] = "lxcbus:1\0000:65536\nlxcbus:300000:65536\nlxcbus:400000:65536\n";
        size_t n;
        ASSERT_OK(subid_parse(nul, sizeof nul - 1 - 20, SUBID_USER, (uid_t) -1, &r, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ_U(r[0].start, 300000);
}

TEST(parse_caps_ranges) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ SubIdRange *r = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        ASSERT_NOT_NULL(f);
        for (unsigned i = 0; i < SUBID_RANGES_MAX + 10; i++)
                fprintf(f, "lxcbus:%u:65536\n", 100000 + i * 65536);
        ASSERT_EQ(fclose(f), 0);
        ASSERT_EQ(parse(text, (uid_t) -1, &r), SUBID_RANGES_MAX);
}

static int alloc(const SubIdRange *u, size_t nu, const SubIdRange *g, size_t ng, const SubIdRange *used,
                 size_t nused, uint32_t *ret) {
        return subid_allocate(u, nu, g, ng, used, nused, B, ret);
}

TEST(allocate_first_free) {
        const SubIdRange r[] = { { 1000000, 10 * B } };
        uint32_t b = 0;

        ASSERT_OK(alloc(r, 1, r, 1, NULL, 0, &b));
        ASSERT_EQ_U(b, 1000000);

        SubIdRange used[] = { { 1000000, B }, { 1000000 + 2 * B, B } };
        ASSERT_OK(alloc(r, 1, r, 1, used, 1, &b));
        ASSERT_EQ_U(b, 1000000 + B);
        ASSERT_OK(alloc(r, 1, r, 1, used, 2, &b));
        ASSERT_EQ_U(b, 1000000 + B);

        /* A freed block in the middle is reused first. */
        SubIdRange used2[] = { { 1000000 + 2 * B, B }, { 1000000, B }, { 1000000 + 3 * B, B } };
        ASSERT_OK(alloc(r, 1, r, 1, used2, 3, &b));
        ASSERT_EQ_U(b, 1000000 + B);
        used2[1].start = 1000000 + B;
        ASSERT_OK(alloc(r, 1, r, 1, used2, 3, &b));
        ASSERT_EQ_U(b, 1000000);

        /* Used ranges outside ours do not matter. */
        SubIdRange far[] = { { 100000, B }, { 5000000, 100 * B } };
        ASSERT_OK(alloc(r, 1, r, 1, far, 2, &b));
        ASSERT_EQ_U(b, 1000000);
}

TEST(allocate_exhausted) {
        const SubIdRange r[] = { { 1000000, 3 * B + B / 2 } };  /* room for 3 blocks */
        SubIdRange used[3];
        uint32_t b = 7;

        for (unsigned i = 0; i < 3; i++) {
                ASSERT_OK(alloc(r, 1, r, 1, used, i, &b));
                ASSERT_EQ_U(b, 1000000 + i * B);
                used[i] = (SubIdRange) { b, B };
        }
        ASSERT_ERROR(alloc(r, 1, r, 1, used, 3, &b), ENOSPC);
        ASSERT_EQ_U(b, 1000000 + 2 * B);   /* untouched on failure */

        /* No ranges at all, ranges smaller than a block. */
        ASSERT_ERROR(alloc(NULL, 0, NULL, 0, NULL, 0, &b), ENOSPC);
        ASSERT_ERROR(alloc(r, 1, NULL, 0, NULL, 0, &b), ENOSPC);
        const SubIdRange small[] = { { 1000000, B - 1 } };
        ASSERT_ERROR(alloc(small, 1, small, 1, NULL, 0, &b), ENOSPC);
        ASSERT_ERROR(subid_allocate(r, 1, r, 1, NULL, 0, 0, &b), EINVAL);
}

TEST(allocate_needs_uid_and_gid) {
        const SubIdRange u[] = { { 1000000, 4 * B } };
        const SubIdRange g[] = { { 1000000 + 2 * B, 4 * B } };
        uint32_t b;

        /* Only the blocks inside both count. */
        ASSERT_OK(alloc(u, 1, g, 1, NULL, 0, &b));
        ASSERT_EQ_U(b, 1000000 + 2 * B);
        SubIdRange used[] = { { 1000000 + 2 * B, B } };
        ASSERT_OK(alloc(u, 1, g, 1, used, 1, &b));
        ASSERT_EQ_U(b, 1000000 + 3 * B);
        SubIdRange used2[] = { { 1000000 + 2 * B, 2 * B } };
        ASSERT_ERROR(alloc(u, 1, g, 1, used2, 1, &b), ENOSPC);

        /* A gid range that is not aligned with the uid blocks holds none of them. */
        const SubIdRange g2[] = { { 1000000 + 1, 4 * B } };
        ASSERT_OK(alloc(u, 1, g2, 1, NULL, 0, &b));
        ASSERT_EQ_U(b, 1000000 + B);

        /* Disjoint. */
        const SubIdRange g3[] = { { 9000000, 4 * B } };
        ASSERT_ERROR(alloc(u, 1, g3, 1, NULL, 0, &b), ENOSPC);
}

TEST(allocate_several_ranges) {
        /* The lowest free base wins, whatever the order of the lines. */
        const SubIdRange u[] = { { 5000000, 2 * B }, { 1000000, B }, { 3000000, 2 * B } };
        const SubIdRange g[] = { { 1000000, 10000000 } };
        SubIdRange used[4];
        uint32_t b;

        ASSERT_OK(alloc(u, 3, g, 1, NULL, 0, &b));
        ASSERT_EQ_U(b, 1000000);
        used[0] = (SubIdRange) { b, B };
        ASSERT_OK(alloc(u, 3, g, 1, used, 1, &b));
        ASSERT_EQ_U(b, 3000000);
        used[1] = (SubIdRange) { b, B };
        ASSERT_OK(alloc(u, 3, g, 1, used, 2, &b));
        ASSERT_EQ_U(b, 3000000 + B);
        used[2] = (SubIdRange) { b, B };
        ASSERT_OK(alloc(u, 3, g, 1, used, 3, &b));
        ASSERT_EQ_U(b, 5000000);
}

TEST(allocate_misaligned_used) {
        /* Instances whose blocks came from other ranges (the file changed) or have other sizes: any
         * overlap rules a block out, and the next candidate stays aligned to the range's start. */
        const SubIdRange r[] = { { 1000000, 10 * B } };
        SubIdRange used[] = { { 1000000 + 100, 10 }, { 1000000 + B + B / 2, 2 * B } };
        uint32_t b;

        ASSERT_OK(alloc(r, 1, r, 1, used, 2, &b));
        ASSERT_EQ_U(b, 1000000 + 4 * B);
        ASSERT_EQ_U((b - 1000000) % B, 0);

        /* A used range that ends exactly where a block starts does not overlap it. */
        SubIdRange edge[] = { { 1000000 - B, B } };
        ASSERT_OK(alloc(r, 1, r, 1, edge, 1, &b));
        ASSERT_EQ_U(b, 1000000);
}

TEST(allocate_huge_range) {
        /* The largest possible range, nearly full: bounded work, correct answer. */
        const SubIdRange r[] = { { 1, UINT32_MAX - 1 } };
        SubIdRange used[] = { { 1, UINT32_MAX - 1 - 2 * B } };
        uint32_t b;

        ASSERT_OK(alloc(r, 1, r, 1, used, 1, &b));
        ASSERT_EQ_U(b, 1 + (uint64_t) (UINT32_MAX - 1 - 2 * B + B - 1) / B * B);
        ASSERT_TRUE((uint64_t) b + B <= UINT32_MAX);

        /* A gid range that holds only the very last block. */
        const SubIdRange g[] = { { UINT32_MAX - 1 - B, B } };
        ASSERT_ERROR(alloc(r, 1, g, 1, NULL, 0, &b), ENOSPC);  /* not aligned with the uid blocks */
        const SubIdRange g2[] = { { 1 + 65534 * B, B } };
        ASSERT_OK(alloc(r, 1, g2, 1, NULL, 0, &b));
        ASSERT_EQ_U(b, 1 + 65534 * B);
}
