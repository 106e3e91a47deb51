/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worker's reading of an overlay clone's rootfs value (src/worker/overlay.c). */
#include "macro.h"
#include "overlay.h"
#include "tests.h"

TEST(overlay_rootfs_values) {
        _cleanup_free_ char *lower = NULL, *upper = NULL;

        ASSERT_OK(overlay_parse_rootfs("overlay:/var/lib/lxcbus/instances/base/snapshots/s1/rootfs:"
                                       "/var/lib/lxcbus/instances/web/delta0", &lower, &upper));
        ASSERT_STREQ(lower, "/var/lib/lxcbus/instances/base/snapshots/s1/rootfs");
        ASSERT_STREQ(upper, "/var/lib/lxcbus/instances/web/delta0");
        lower = mfree(lower);
        upper = mfree(upper);
        ASSERT_OK(overlay_parse_rootfs("overlayfs:/a:/b", &lower, &upper));
        ASSERT_STREQ(lower, "/a");
        ASSERT_STREQ(upper, "/b");

        /* Not an overlay, one layer only, relative layers, mount option syntax. */
        FOREACH_STRING(bad, "dir:/a", "overlay:/a", "overlay:a:/b", "overlay:/a:b", "overlay:/a,upperdir=/x:/b",
                       "overlay:/a:/b,workdir=/c", "overlay::/b", "") {
                char *l = NULL, *u = NULL;
                ASSERT_ERROR(overlay_parse_rootfs(bad, &l, &u), EINVAL);
                ASSERT_NULL(l);
                ASSERT_NULL(u);
        }
}
