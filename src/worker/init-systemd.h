/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <lxc/lxccontainer.h>

/* An instance whose init is systemd (the daemon found /sbin/init to be it, WorkerStartArgs.systemd):
 * what that systemd needs from its container, set in c for this start only (never saved), each item
 * only where the instance's LXC config says nothing of it. docs/architecture.md, "systemd inside an
 * instance", says why each is there. 0, or -EINVAL if liblxc refused an item. */
int init_systemd_setup(struct lxc_container *c);
