/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "forward.h"

/* A Stop is answered once the instance is stopped; systemd removes its scope after that (instance.c).
 * A call to the instance's own interfaces that comes meanwhile waits for the removal, as it would have
 * waited for the Stop, instead of getting Busy: the bus filter hands it here, and it is kept with the
 * scope's stop job (scope_job_defer()) and dispatched again, from the top, when that job ends. 1 if it
 * was kept. Properties, introspection and Peer answer at once. */
int bus_defer_while_settling(Manager *m, sd_bus_message *message);
