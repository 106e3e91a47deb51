/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a member of a tarball to import goes (tarball-layout.h). Every name is hostile: the result is
 * built from checked components, never from the name as it came. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tarball-layout.h"
#include "util.h"

const char *tarball_relative_name(const char *name) {
        if (!name || name[0] == '/')
                return NULL;
        while (name[0] == '.' && name[1] == '/')
                for (name += 2; *name == '/'; name++)
                        ;
        if (streq(name, "."))
                return "";
        for (const char *p = name; *p;) {
                size_t l = strcspn(p, "/");

                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return NULL;
                p += l;
                while (*p == '/')
                        p++;
        }
        return name;
}

/* The next component of *p: its length, *p moved past it and the slashes after it. Empty and "."
 * components are skipped (libarchive would fold them as well). */
static size_t next_component(const char **p, const char **ret) {
        for (;;) {
                size_t l = strcspn(*p, "/");

                *ret = *p;
                *p += l;
                while (**p == '/')
                        (*p)++;
                if (l == 1 && (*ret)[0] == '.')
                        continue;
                if (l > 0 || **p == 0)
                        return l;
        }
}

static bool component_is(const char *c, size_t l, const char *word) {
        return l == strlen(word) && memcmp(c, word, l) == 0;
}

/* prefix + "/" + rest, rest's components folded; "" rest: NULL (the tree's root). */
static int join_rest(const char *prefix, const char *rest, char **ret) {
        size_t pl = strlen(prefix), n = pl;
        const char *c;
        char *out;

        out = malloc(pl + 1 + strlen(rest) + 1);
        if (!out)
                return -ENOMEM;
        memcpy(out, prefix, pl);
        for (size_t l; (l = next_component(&rest, &c)) > 0;) {
                if (component_is(c, l, "..")) {
                        free(out);
                        return -EPERM;
                }
                out[n++] = '/';
                memcpy(out + n, c, l);
                n += l;
        }
        out[n] = 0;
        if (n == pl) {
                free(out);
                out = NULL;
        }
        *ret = out;
        return 0;
}

static int export_tree(const TarballLayout *l, const char *name, int *ret_tree, const char **ret_rest) {
        const char *p = name, *c;
        size_t n;

        n = next_component(&p, &c);
        if (component_is(c, n, "rootfs")) {
                *ret_tree = -1;
                *ret_rest = p;
                return TARBALL_MEMBER_FILE;
        }
        if (!component_is(c, n, "snapshots"))
                return -EPERM;
        *ret_tree = -1;
        n = next_component(&p, &c);
        if (n == 0)
                return TARBALL_MEMBER_LAYOUT_DIR;
        for (size_t k = 0; k < l->n_snapshots; k++)
                if (component_is(c, n, l->snapshots[k].name))
                        *ret_tree = (int) k;
        if (*ret_tree < 0)
                return -ENOENT;
        n = next_component(&p, &c);
        if (n == 0)
                return TARBALL_MEMBER_LAYOUT_DIR;
        if (!component_is(c, n, "rootfs"))
                return -EPERM;
        *ret_rest = p;
        return TARBALL_MEMBER_FILE;
}

int tarball_member_path(const TarballLayout *l, const char *name, int *ret_tree, char **ret_path) {
        _cleanup_free_ char *prefix = NULL, *path = NULL;
        const char *rest = NULL;
        int tree = -1, r;

        assert(l);
        assert(ret_tree);
        assert(ret_path);

        name = tarball_relative_name(name);
        if (!name)
                return -EPERM;
        if (l->is_export) {
                r = export_tree(l, name, &tree, &rest);
                if (r < 0)
                        return r;
                if (r == TARBALL_MEMBER_LAYOUT_DIR) {
                        *ret_tree = tree;
                        return r;
                }
        } else
                rest = name;
        if (tree < 0)
                prefix = strdup("rootfs");
        else if (asprintf(&prefix, "snapshots/%s/rootfs", l->snapshots[tree].name) < 0)
                prefix = NULL;
        if (!prefix)
                return -ENOMEM;
        r = join_rest(prefix, rest, &path);
        if (r < 0)
                return r;
        *ret_tree = tree;
        if (!path)
                return TARBALL_MEMBER_TREE_ROOT;
        *ret_path = TAKE_PTR(path);
        return TARBALL_MEMBER_FILE;
}
