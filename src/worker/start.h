/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "worker-core.h"

/* start: waits for "go", then runs the container in the foreground, as its monitor, until it stops. */
int worker_start(const WorkerRequest *req, struct lxc_container *c);
