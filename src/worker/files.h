/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "worker-proto.h"

struct lxc_container;

/* push-file and pull-file (worker-proto.h): the caller's fd is fd WORKER_FD + 1. They report bytes and
 * end with the result message; the return is the worker's exit status. The container is not used: the
 * rootfs is reached from the host, whether the instance runs or not. */
int worker_push_file(const WorkerRequest *req, struct lxc_container *c);
int worker_pull_file(const WorkerRequest *req, struct lxc_container *c);
/* hostname (worker-proto.h): /etc/hostname of the rootfs, resolved in it, becomes the instance's name if it
 * holds the old one. */
int worker_set_hostname(const WorkerRequest *req, struct lxc_container *c);
