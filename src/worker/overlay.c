/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The merged tree of an overlay clone for a worker (overlay.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "macro.h"
#include "metadata.h"
#include "overlay.h"
#include "util.h"

#define LXC_CONFIG_SIZE_MAX (4 * 1024 * 1024)

static bool layer_is_valid(const char *p) {
        return p[0] == '/' && !strchr(p, ',');
}

int overlay_parse_rootfs(const char *value, char **ret_lower, char **ret_upper) {
        _cleanup_free_ char *lower = NULL, *upper = NULL;
        const char *rest, *sep = NULL;

        if (!value || !ret_lower || !ret_upper)
                return -EINVAL;
        rest = startswith(value, "overlay:") ?: startswith(value, "overlayfs:");
        if (!rest)
                return -EINVAL;
        for (const char *p = rest; (p = strstr(p, ":/")); p++)
                sep = p;
        if (!sep)
                return -EINVAL;
        lower = strndup(rest, (size_t) (sep - rest));
        upper = strdup(sep + 1);
        if (!lower || !upper)
                return -ENOMEM;
        if (!layer_is_valid(lower) || !layer_is_valid(upper) || strchr(upper, ':'))
                return -EINVAL;
        *ret_lower = TAKE_PTR(lower);
        *ret_upper = TAKE_PTR(upper);
        return 0;
}

/* The value of lxc.rootfs.path in config text, or NULL. */
static char *config_rootfs(const char *text) {
        for (const char *line = text; *line;) {
                const char *end = strchrnul(line, '\n'), *v;

                while (*line == ' ' || *line == '\t')
                        line++;
                v = startswith(line, "lxc.rootfs.path");
                if (v && v < end) {
                        v += strspn(v, " \t");
                        if (*v == '=') {
                                v++;
                                v += strspn(v, " \t");
                                size_t n = (size_t) (end - v);
                                while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                                        n--;
                                return strndup(v, n);
                        }
                }
                line = *end ? end + 1 : end;
        }
        return NULL;
}

int overlay_mount_rootfs(const char *instance_dir) {
        _cleanup_free_ char *path = NULL, *text = NULL, *value = NULL, *lower = NULL, *upper = NULL,
                            *want_upper = NULL, *work = NULL, *target = NULL, *options = NULL;
        size_t n;
        int r;

        if (asprintf(&path, "%s/config", instance_dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, LXC_CONFIG_SIZE_MAX, &text, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strlen(text) != n)
                return -EBADMSG;
        value = config_rootfs(text);
        if (!value || !(startswith(value, "overlay:") || startswith(value, "overlayfs:")))
                return 0;
        r = overlay_parse_rootfs(value, &lower, &upper);
        if (r < 0)
                return r;
        /* The config is the daemon's; still, only this instance's own upper layer is ever mounted. */
        if (asprintf(&want_upper, "%s/" OVERLAY_UPPER_DIR, instance_dir) < 0 ||
            asprintf(&work, "%s/" OVERLAY_WORK_DIR, instance_dir) < 0 ||
            asprintf(&target, "%s/rootfs", instance_dir) < 0 ||
            asprintf(&options, "upperdir=%s,lowerdir=%s,workdir=%s", upper, lower, work) < 0)
                return -ENOMEM;
        if (!streq(upper, want_upper) || strchr(work, ','))
                return -EINVAL;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        /* The options liblxc's start mounts it with: what this worker writes, the instance finds. */
        if (mount("overlay", target, "overlay", 0, options) < 0)
                return -errno;
        return 0;
}
