/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The whole of lxcbusctl: parses argv, runs the verb, returns the exit status (CTL_EXIT_*). */
int ctl_main(int argc, char *argv[]);
