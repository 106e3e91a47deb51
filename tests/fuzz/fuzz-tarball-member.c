/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Where a member of a tarball to import lands (src/worker/tarball-layout.c). The input is "SNAPS\nNAME"
 * (without a newline: NAME alone, a plain rootfs tarball): SNAPS, separated by spaces, are the snapshots
 * an export's lxcbus.json lists (those valid as names, as the metadata parser only lets those through).
 * Whatever NAME is, the path returned stays in "rootfs/" or "snapshots/LISTED/rootfs/": relative, no
 * "." or ".." or empty component, no trailing slash; and mapping it again (as an export's member) gives
 * itself. */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "metadata.h"
#include "names.h"
#include "tarball-layout.h"
#include "util.h"

static void check_components(const char *rest) {
        FUZZ_CHECK(*rest != '/');
        for (const char *p = rest; *p;) {
                size_t l = strcspn(p, "/");

                FUZZ_CHECK(l > 0);
                FUZZ_CHECK(!(l == 1 && p[0] == '.'));
                FUZZ_CHECK(!(l == 2 && p[0] == '.' && p[1] == '.'));
                p += l;
                if (*p == '/') {
                        p++;
                        FUZZ_CHECK(*p != 0);
                }
        }
}

static void check(const TarballLayout *l, const char *name) {
        _cleanup_free_ char *path = NULL, *again = NULL, *prefix = NULL;
        int r, tree = -2, tree2;

        r = tarball_member_path(l, name, &tree, &path);
        if (r < 0) {
                FUZZ_CHECK(IN_SET(r, -EPERM, -ENOENT));
                FUZZ_CHECK(!path);
                return;
        }
        FUZZ_CHECK(tree >= -1 && tree < (int) l->n_snapshots);
        if (r != TARBALL_MEMBER_FILE) {
                FUZZ_CHECK(IN_SET(r, TARBALL_MEMBER_TREE_ROOT, TARBALL_MEMBER_LAYOUT_DIR));
                FUZZ_CHECK(!path);
                FUZZ_CHECK(l->is_export || r == TARBALL_MEMBER_TREE_ROOT);
                return;
        }
        FUZZ_CHECK(path);
        if (tree < 0)
                prefix = strdup("rootfs/");
        else
                FUZZ_CHECK(asprintf(&prefix, "snapshots/%s/rootfs/", l->snapshots[tree].name) >= 0);
        FUZZ_CHECK(prefix);
        FUZZ_CHECK(startswith(path, prefix));
        check_components(path + strlen(prefix));

        /* As an export's member the path is itself. */
        TarballLayout ex = *l;
        ex.is_export = true;
        FUZZ_CHECK(tarball_member_path(&ex, path, &tree2, &again) == TARBALL_MEMBER_FILE);
        FUZZ_CHECK(tree2 == tree);
        FUZZ_CHECK(streq(again, path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        _cleanup_free_ char *s = NULL;
        char *name, *nl;

        if (size > 8192)
                return 0;
        s = fuzz_strndup(data, size);
        nl = strchr(s, '\n');
        if (nl) {
                *nl = 0;
                name = nl + 1;
                for (char *w = strtok(s, " "); w; w = strtok(NULL, " "))
                        (void) instance_metadata_add_snapshot(&md, w, 0);
        } else
                name = s;

        check(&(TarballLayout) { false }, name);
        check(&(TarballLayout) { true, md.snapshots, md.n_snapshots }, name);
        return 0;
}
