/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An overlay clone (its LXC config says "lxc.rootfs.path = overlay:LOWER:UPPER") has in its rootfs/ a
 * mount point only, while it is stopped: a worker that reads or writes its files first mounts the
 * overlay there, in a mount namespace of its own, which nobody else sees and which goes with it.
 * instance_dir: the instance's directory (config, rootfs/). 0 when it is no overlay clone (or has no
 * config: a snapshot's directory) or the overlay is mounted; -errno else. The daemon never asks this of
 * a running clone, whose upper layer is in use by the instance's own mount. */
int overlay_mount_rootfs(const char *instance_dir);

/* Pure, for the unit test: lower and upper of an "overlay:LOWER:UPPER" rootfs value (liblxc's format:
 * the upper layer follows the last ":/"), each absolute, without ',' (mount option syntax) or ':' in the
 * upper. -EINVAL otherwise; ret_* malloc'ed. */
int overlay_parse_rootfs(const char *value, char **ret_lower, char **ret_upper);
