/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* OpenConsole and ConsoleLog of org.lxcbus1.Instance. */
int method_open_console(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_console_log(sd_bus_message *message, void *userdata, sd_bus_error *error);
