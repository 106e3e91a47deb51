/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusd-monitor: the start worker, which stays the monitor of its instance for the instance's whole life
 * (start.c). lxcbusd-worker serves every other verb. Apart, so that it links only liblxc and libc: every
 * shared library costs each monitor its own dirty pages (relocations). bench/README.md has the figures;
 * tests/structure/check-monitor-libs.sh keeps it so. */
#include "start.h"
#include "worker-core.h"

static const WorkerHandler handlers[_WORKER_VERB_MAX] = {
        [WORKER_VERB_START] = { worker_start, true },
};

int main(int argc, char *argv[]) {
        return worker_serve(argc, argv, "lxcbusd-monitor", handlers);
}
