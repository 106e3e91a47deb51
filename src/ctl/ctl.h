/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
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
        char *host;             /* -H/--host=: [USER@]HOST[:PORT] over SSH (ctl-remote.h), before address */
        bool address_set;       /* --address= given on the command line, which -H may not be given with */
} Context;

void context_done(Context *c);

/* Every failure is reported once, where it is handled, as "lxcbusctl: message" on stderr; these helpers
 * record the exit status that goes with it and return a negative errno for the caller to pass up. */
int ctl_usage_error(Context *c, const char *format, ...) _printf_(2, 3);
int ctl_error_errno(Context *c, int error, const char *format, ...) _printf_(3, 4);
int ctl_bus_error(Context *c, const sd_bus_error *error, int r);

void ctl_help(void);

/* Where an option without a parse function goes: the field at offset flag of the verb's userdata. */
typedef enum CtlOptionStore {
        CTL_OPTION_STORE_BOOL,          /* no argument: the bool becomes true */
        CTL_OPTION_STORE_STRING,        /* the const char * points to the argument; empty: empty_error */
        CTL_OPTION_STORE_CONFIG,        /* KEY=VALUE added to the char ** pairs (ctl_parse_config_option()) */
} CtlOptionStore;

/* One option of a verb, for ctl_parse_options(), which adds the options every verb understands (--help,
 * --address=, --no-ask-password, -H/--host=) in front of them, so that "lxcbusctl list --address=..." works
 * as well as "lxcbusctl --address=... list". parse gets the argument (NULL for an option without one) and
 * the verb's userdata, and returns 1 to go on, 0 when the run is complete (--version), < 0 after reporting a
 * usage error. An option without parse is stored as store says. */
typedef struct CtlOption {
        const char *name;
        int short_name;                 /* 0: long only */
        bool has_arg;
        int (*parse)(Context *c, const char *arg, void *userdata);
        size_t flag;
        CtlOptionStore store;
        const char *empty_error;
} CtlOption;

#define CTL_OPTION_FLAG(n, type, field) { .name = (n), .flag = offsetof(type, field) }
#define CTL_OPTION_STRING(n, type, field, empty)                                                \
        { .name = (n), .has_arg = true, .flag = offsetof(type, field),                          \
          .store = CTL_OPTION_STORE_STRING, .empty_error = (empty) }
#define CTL_OPTION_CONFIG(n, type, field)                                                       \
        { .name = (n), .has_arg = true, .flag = offsetof(type, field), .store = CTL_OPTION_STORE_CONFIG }
#define CTL_OPTION_CALL(n, func) { .name = (n), .parse = (func) }
#define CTL_OPTION_ARG(n, func) { .name = (n), .has_arg = true, .parse = (func) }

/* The most options a verb may have beyond the common ones. */
#define CTL_OPTIONS_MAX 16

typedef enum CtlParseFlags {
        CTL_PARSE_IN_ORDER = 1 << 0,    /* "+": stop at the first non-option instead of permuting */
        CTL_PARSE_CONTINUE = 1 << 1,    /* go on from optind, where an earlier call stopped */
} CtlParseFlags;

/* getopt_long() over argv with the common options and options (ended by an entry without a name): 1 to go
 * on with argv[optind..] (2 with CTL_PARSE_IN_ORDER when it stopped behind a "--", which it skipped), 0 when
 * the run is complete (--help), < 0 after reporting a usage error. */
int ctl_parse_options(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata,
                      CtlParseFlags flags);

/* After getopt_long(): exactly n positional arguments left, else a usage error naming what is missing. */
int ctl_expect_args(Context *c, int argc, char *argv[], int n, const char *what);

/* Both: the options, then exactly n positional arguments (what may be NULL for n = 0). The same returns as
 * ctl_parse_options(). */
int ctl_parse_args(Context *c, int argc, char *argv[], const CtlOption options[], void *userdata, int n,
                   const char *what);

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
int verb_file(Context *c, int argc, char *argv[]);
int verb_operation(Context *c, int argc, char *argv[]);
int verb_cancel(Context *c, int argc, char *argv[]);
/* --config=KEY=VALUE of create, copy and import (CTL_OPTION_CONFIG), added to pairs (alternating keys and
 * values): 1, or < 0 after reporting the error (ctl-lifecycle.c). */
int ctl_parse_config_option(Context *c, char ***pairs, const char *arg);
/* ctl-snapshot.c */
int verb_snapshot(Context *c, int argc, char *argv[]);
int verb_restore(Context *c, int argc, char *argv[]);
int verb_snapshot_delete(Context *c, int argc, char *argv[]);
int verb_snapshots(Context *c, int argc, char *argv[]);
int verb_rename(Context *c, int argc, char *argv[]);
int verb_copy(Context *c, int argc, char *argv[]);
int verb_import(Context *c, int argc, char *argv[]);
int verb_export(Context *c, int argc, char *argv[]);
/* ctl-metrics.c */
int verb_metrics(Context *c, int argc, char *argv[]);
/* ctl-unit.c: the main process of lxcbus@NAME.service */
int verb_run_unit(Context *c, int argc, char *argv[]);
/* ctl-lifecycle.c: Manager.StartAutostart ("stop --all" is Manager.StopAll) */
int verb_autostart(Context *c, int argc, char *argv[]);
