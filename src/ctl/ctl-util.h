/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure helpers of lxcbusctl: argument parsing and formatting, no bus, no I/O. Unit-tested in
 * tests/unit/test-ctl-util.c. */

/* Exit statuses, script-friendly and stable (documented in lxcbusctl(1)). 4 follows systemctl's "no such
 * unit". */
enum {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_NO_SUCH_INSTANCE = 4,
};

/* Splits "KEY=VALUE" at the first '='. The key must be non-empty; the value may be empty ("description="
 * sets an empty description). -EINVAL without '=' or with an empty key. */
int ctl_parse_key_value(const char *s, char **ret_key, char **ret_value);

/* Appends KEY=VALUE to a NULL-terminated list of alternating keys and values (*pairs may be NULL).
 * -EEXIST if the key is already there, so "set a=1 a=2" is refused instead of being ambiguous. */
int ctl_pairs_add(char ***pairs, const char *assignment);

/* A key given to "config unset": non-empty and without '='. */
bool ctl_config_key_is_valid(const char *key);

/* "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2", "SIGRTMAX-1": the signal number, or -EINVAL. Signal 0 is
 * refused: it sends nothing. */
int ctl_signal_from_string(const char *s);
/* "TERM" for SIGTERM; NULL if unknown or a real-time signal. */
const char *ctl_signal_to_string(int sig);

/* Decimal only, no sign, no leading or trailing whitespace, no overflow: -EINVAL or -ERANGE. */
int ctl_parse_uint32(const char *s, uint32_t *ret);
int ctl_parse_uint64(const char *s, uint64_t *ret);

/* The time to wait for the reply of a lifecycle call that replies when its operation finishes: at least 5
 * minutes, and long enough for two waits of timeout_sec (Restart, and Delete with force, stop and then
 * act) plus a margin. */
#define CTL_OPERATION_TIMEOUT_MIN_SEC 300U
uint64_t ctl_operation_timeout_usec(uint32_t timeout_sec);

/* Whether a method of lxcbusd may be checked by polkit, so that it may ask for a password: every lxcbus
 * method but the open ones (the listings, GetState, and waiting for an operation or a process). Property
 * reads and the standard interfaces are open. */
bool ctl_method_needs_authorization(const char *interface, const char *member);

/* The time to wait for the reply of such a call when polkit may ask for a password: the user has to type it
 * first. At least 5 minutes, as the daemon allows polkit; timeout_usec (0: sd-bus's default, 25 s) if
 * longer. */
#define CTL_AUTHORIZATION_TIMEOUT_MIN_SEC 300U
uint64_t ctl_authorization_timeout_usec(uint64_t timeout_usec);

/* "UID" or "UID:GID", numeric only (the names inside an instance are not known to the host): -EINVAL on
 * anything else, -ERANGE beyond 32 bits. *ret_have_gid is false without ":GID". uid_t/gid_t -1 (4294967295)
 * is refused: it means "unchanged" to setresuid(). */
int ctl_parse_user(const char *s, uint32_t *ret_uid, uint32_t *ret_gid, bool *ret_have_gid);

/* An environment variable name that Exec accepts: [A-Za-z_][A-Za-z0-9_]*. */

/* The exit status of "lxcbusctl exec" for a process that ended with (status, signal) as Process.Wait()
 * reports them: the status (0..255), or 128 + signal if it was killed by one, as a shell, lxc-attach and
 * podman exec do. CTL_EXIT_FAILURE for anything that is neither. */
int ctl_exec_exit_status(int32_t status, int32_t signal);

/* CTL_EXIT_NO_SUCH_INSTANCE for org.lxcbus1.Error.NoSuchInstance, CTL_EXIT_FAILURE for anything else. */
int ctl_exit_status_from_error_name(const char *name);

/* The numeric id at the end of an operation path ("/org/lxcbus1/operation/12" -> 12), for sorting; 0 if
 * the path does not end in one. */
uint64_t ctl_operation_id_from_path(const char *path);

/* Formatting into a caller's buffer (truncated to fit); each returns buf. */
#define CTL_FORMAT_BYTES_MAX 32
#define CTL_FORMAT_TIMESPAN_MAX 64
#define CTL_FORMAT_TIMESTAMP_MAX 64
char *ctl_format_bytes(char *buf, size_t size, uint64_t bytes);          /* "1.5G", "512B" */
char *ctl_format_timespan_ns(char *buf, size_t size, uint64_t ns);       /* "1h 2min 3.004s" */
/* Local time, "Tue 2023-11-14 22:13:20 UTC"; "-" for 0 and UINT64_MAX. */
char *ctl_format_timestamp(char *buf, size_t size, uint64_t usec);

/* The escape sequence of "lxcbusctl console", as lxc-console has it: Ctrl-a q detaches, Ctrl-a Ctrl-a
 * sends one Ctrl-a, and Ctrl-a followed by anything else sends both bytes. A Ctrl-a at the end of one read
 * waits for the next. */
#define CTL_ESCAPE_CHAR 0x01    /* Ctrl-a */
#define CTL_ESCAPE_DETACH 'q'

typedef struct CtlEscape {
        bool pending;           /* the last byte fed was an escape character not yet decided on */
} CtlEscape;

/* Feeds n bytes of input. Writes the bytes to forward to out, which has room for n + 1 (a Ctrl-a held back
 * from the previous call may go out now), and returns their number. On the detach sequence, sets
 * *ret_detach and ignores the rest of the input; the bytes before the sequence are still in out. */
size_t ctl_escape_feed(CtlEscape *e, const void *in, size_t n, void *out, bool *ret_detach);
