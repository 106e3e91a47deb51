/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd as an instance's init: the LXC config items it needs, set by the start worker before
 * c->start(). docs/architecture.md, "systemd inside an instance", has the reasons and the measurements. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "init-systemd.h"
#include "macro.h"

/* Whether the config leaves item at liblxc's default: empty, or a number item that is 0. */
static bool item_unset(struct lxc_container *c, const char *item) {
        char v[64];
        int n;

        n = c->get_config_item(c, item, v, sizeof v);
        if (n <= 0)
                return true;
        return (size_t) n < sizeof v && streq(v, "0");
}

/* /sys: read-only, but for /sys/devices/virtual/net (the instance's own network devices). In a user
 * namespace the kernel lets a new sysfs be mounted only as restrictive as the one the host shows: where
 * the host's /sys is read-only (the test host's is), sys:mixed's writable part fails and the instance
 * does not start; sys:ro works everywhere. */
static const char *mount_auto(struct lxc_container *c) {
        return c->get_config_item(c, "lxc.idmap", NULL, 0) > 0 ? "proc:mixed sys:ro cgroup:mixed" :
                                                                  "proc:mixed sys:mixed cgroup:mixed";
}

int init_systemd_setup(struct lxc_container *c) {
        assert(c);

        const struct {
                const char *item, *value;
                bool always;
        } items[] = {
                /* Stop's clean shutdown: systemd halts on SIGRTMIN+3 and only starts sigpwr.target on
                 * liblxc's default SIGPWR. liblxc guesses SIGRTMIN+3 when init blocks it; we know. */
                { "lxc.signal.halt", "SIGRTMIN+3" },
                /* systemd mounts whatever API filesystem is missing itself, and a privileged one would
                 * mount a fresh, writable /proc/sys and /sys: the host's sysctls and devices. liblxc
                 * mounts them first, read-only where they are the host's (/proc/sys/net stays
                 * writable); systemd then finds them and keeps them. With a cgroup namespace and
                 * CAP_SYS_ADMIN, cgroup:mixed leaves the hierarchies to systemd, which mounts them
                 * (hybrid or unified, as the host has them) rooted at its own cgroup. Without any of
                 * these an idmapped systemd cannot mount /proc and /sys itself and exits at once. */
                { "lxc.mount.auto", mount_auto(c) },
                /* A tmpfs /dev with the basic nodes: without one, a privileged systemd mounts devtmpfs,
                 * every device of the host. Always, though it is liblxc's default. */
                { "lxc.autodev", "1", true },
                /* A devpts of its own at /dev/pts with /dev/ptmx: else systemd mounts one whose ptmx is
                 * mode 000 and /dev/ptmx is missing (no pty for sshd, script or machinectl shell). */
                { "lxc.pty.max", "1024" },
                /* LXC's own default set (common.conf): no kernel modules, clock, raw I/O or MAC policy
                 * of the host. systemd's units that would use them are skipped by their
                 * ConditionCapability= (modules-load, kmod-static-nodes, timesyncd, sys-kernel-debug and
                 * -tracing.mount) instead of failing, or succeeding on the host: debugfs is one for the
                 * whole machine, and cannot be mounted at all in a user namespace. */
                { "lxc.cap.drop", "mac_admin mac_override sys_time sys_module sys_rawio" },
        };

        for (size_t k = 0; k < ELEMENTSOF(items); k++) {
                if (!items[k].always && !item_unset(c, items[k].item))
                        continue;
                if (!c->set_config_item(c, items[k].item, items[k].value))
                        return -EINVAL;
        }
        return 0;
}
