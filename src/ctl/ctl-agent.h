/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The text authentication agent, as systemctl runs it: /usr/bin/pkttyagent as our child, registered with
 * polkit for this process, so that polkit can ask on our terminal for the password a call needs. */

#define CTL_AGENT_PATH "/usr/bin/pkttyagent"

typedef struct CtlAgent {
        pid_t pid;              /* 0: none running */
        int pidfd;              /* valid only while pid > 0; -EBADF where pidfd_open() is missing */
} CtlAgent;

/* Starts the agent unless it runs already, and returns once it has registered with polkit (or given up). A
 * missing pkttyagent, or one that fails, is no error: the call then goes out without an agent, and polkit
 * refuses what needs a password. Always returns 0; a failure worth knowing is printed as a warning. */
int ctl_agent_open(CtlAgent *a);

/* Stops the agent (SIGTERM, SIGKILL if it does not go within a few seconds) and reaps it. Safe to call
 * when none runs. */
void ctl_agent_close(CtlAgent *a);
