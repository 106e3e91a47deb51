/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <syslog.h>

#include "macro.h"

/* Logging: to the journal with structured fields when stderr is connected to it ($JOURNAL_STREAM
 * matches stderr), to stderr with <N> prefixes otherwise. Every log_*_errno() returns -abs(error), so
 * "return log_error_errno(r, ...)" works; %m in the format expands to that error. */

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);

/* Extra fields are "KEY=value" strings, NULL-terminated (NULL: none). */
int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...)                                                               \
        ({                                                                                              \
                int _l = (level), _e = (error);                                                         \
                (_l <= log_get_max_level())                                                             \
                        ? log_struct_internal(_l, _e, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)  \
                        : -abs(_e);                                                                     \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* log_struct(LOG_INFO, FIELDS("LXCBUS_INSTANCE=web", "LXCBUS_VERB=start"), "Started %s", name) */
#define FIELDS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define log_struct(level, fields, ...) \
        log_struct_internal(level, 0, __FILE__, __LINE__, __func__, fields, __VA_ARGS__)
