/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "ctl.h"

/* lxcbusctl -H [USER@]HOST[:PORT]: another host's lxcbusd, through "ssh HOST systemd-stdio-bridge" as
 * systemctl -H and machinectl -H reach theirs (sd_bus_open_system_remote()). No new server, and the remote
 * lxcbusd sees the remote user, whom its polkit judges. That bridge carries messages but no file
 * descriptors, so the verbs that pass one (exec, console, console-log, file, import, export) need a local
 * connection. */

/* Whether a verb passes file descriptors over the bus, so that it cannot run over -H. */
bool ctl_verb_needs_local(const char *verb);

/* A usage error for the verb of this run if it needs a local connection and -H was given: checked once the
 * options are parsed, before the verb opens any file or calls anything. < 0 after reporting, else 0. */
int ctl_check_transport(Context *c);

/* Opens the system bus of c->host over SSH and waits until the bus has said Hello, so that a host that
 * cannot be reached fails here, with ssh's own message above ours. */
int ctl_bus_open_remote(Context *c, sd_bus **ret);
