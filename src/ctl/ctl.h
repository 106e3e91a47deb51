/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "ctl-agent.h"
#include "macro.h"

#define LXCBUS_BUS_NAME "org.lxcbus1"
#define LXCBUS_MANAGER_INTERFACE "org.lxcbus1.Manager"
#define LXCBUS_INSTANCE_INTERFACE "org.lxcbus1.Instance"
#define LXCBUS_OPERATION_INTERFACE "org.lxcbus1.Operation"
#define LXCBUS_PROCESS_INTERFACE "org.lxcbus1.Process"

/* State of one lxcbusctl run, passed to every verb. */
typedef struct Context {
        char *address;          /* --address= or $LXCBUS_BUS_ADDRESS; NULL: the system bus */
        sd_bus *bus;            /* connected on first use, so usage errors never touch the bus */
        int exit_status;        /* set where a failure is reported; 0 until then */
        int command_exit_status; /* exec: the exit status of the command, returned when the verb succeeds */
        bool no_ask_password;   /* --no-ask-password */
        bool ask_password;      /* set on connecting: calls allow interactive authorization, with an agent */
        CtlAgent agent;         /* pkttyagent, while a call that may ask for a password is out */
        const char *verb;       /* for messages: "start" */
        const char *instance;   /* for messages: the instance the verb is about, once known */
} Context;

void context_done(Context *c);

/* Every failure is reported once, where it is handled, as "lxcbusctl: message" on stderr; these helpers
 * record the exit status that goes with it and return a negative errno for the caller to pass up. */
int ctl_usage_error(Context *c, const char *format, ...) _printf_(2, 3);
int ctl_error_errno(Context *c, int error, const char *format, ...) _printf_(3, 4);
int ctl_bus_error(Context *c, const sd_bus_error *error, int r);

void ctl_help(void);

/* Options every verb understands, so "lxcbusctl list --address=..." works as well as
 * "lxcbusctl --address=... list". */
enum {
        ARG_ADDRESS = 0x100,
        ARG_VERSION,
        ARG_NO_ASK_PASSWORD,
        ARG_FIRST_VERB_OPTION,
};
#define CTL_COMMON_OPTIONS                                              \
        { "help", no_argument, NULL, 'h' },                             \
        { "address", required_argument, NULL, ARG_ADDRESS },            \
        { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD }

/* Handles a getopt_long() result that the verb itself does not know: 1 to go on, 0 when the run is
 * complete (--help), < 0 on a usage error. */
int ctl_common_option(Context *c, int opt, const char *arg);

/* After getopt_long(): exactly n positional arguments left, else a usage error naming what is missing. */
int ctl_expect_args(Context *c, int argc, char *argv[], int n, const char *what);

/* Verbs: argv[0] is the program name, argv[1..] the arguments after the verb. They return >= 0 on
 * success, < 0 after reporting the failure. */
int verb_list(Context *c, int argc, char *argv[]);
int verb_operations(Context *c, int argc, char *argv[]);
int verb_create(Context *c, int argc, char *argv[]);
int verb_start(Context *c, int argc, char *argv[]);
int verb_stop(Context *c, int argc, char *argv[]);
int verb_restart(Context *c, int argc, char *argv[]);
int verb_delete(Context *c, int argc, char *argv[]);
int verb_freeze(Context *c, int argc, char *argv[]);
int verb_unfreeze(Context *c, int argc, char *argv[]);
int verb_kill(Context *c, int argc, char *argv[]);
int verb_info(Context *c, int argc, char *argv[]);
int verb_config(Context *c, int argc, char *argv[]);
int verb_exec(Context *c, int argc, char *argv[]);
int verb_console(Context *c, int argc, char *argv[]);
int verb_console_log(Context *c, int argc, char *argv[]);
