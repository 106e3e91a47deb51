/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Manager.StartAutostart and Manager.StopAll, members of manager_vtable; userdata is the Manager. */
int method_start_autostart(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_stop_all(sd_bus_message *message, void *userdata, sd_bus_error *error);
