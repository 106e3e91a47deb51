/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <sys/types.h>

#include "config.h"
#include "forward.h"

/* Transient scope units through systemd, asynchronously: the one room of the model that talks to the
 * bus, as systemd's client. */

/* The unit whose stop at host shutdown stops every instance (StopAll) before systemd stops their scopes. */
#define SCOPE_SHUTDOWN_UNIT "lxcbus-shutdown.service"

/* error: 0, or a negative errno with message. */
typedef void (*scope_done_t)(Manager *m, int error, const char *message, void *userdata);
int scope_start(Manager *m, const char *unit, pid_t pid, const ConfigMap *config, scope_done_t done, void *userdata,
                ScopeJob **ret);
/* Stops the scope and waits until systemd removed it (success if it is gone already). */
int scope_stop(Manager *m, const char *unit, scope_done_t done, void *userdata, ScopeJob **ret);
void scope_job_cancel(ScopeJob *j);
/* Keeps a call until the job has ended (or is cancelled), then puts it back into the bus's read queue, so
 * that it is dispatched again from the top (settle-dbus.h). -EBUSY beyond SCOPE_JOB_DEFERRED_MAX. */
#define SCOPE_JOB_DEFERRED_MAX 64
int scope_job_defer(ScopeJob *j, sd_bus_message *m);
int scope_kill(Manager *m, const char *unit, int sig);
int scope_set_limits(Manager *m, const char *unit, const ConfigMap *config);
/* The JobRemoved signal of systemd, matched in daemon-dbus.c. */
int scope_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *error);
