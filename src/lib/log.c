/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static int use_journal = -1;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_setup(void) {
        use_journal = stderr_is_journal();
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
                [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

static int log_dispatch(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *msg) {
        if (use_journal < 0)
                log_setup();

        if (use_journal) {
                struct iovec iov[32];
                char prio[32], errbuf[32], codeline[32];
                _cleanup_free_ char *m = NULL, *codefile = NULL, *codefunc = NULL;
                size_t n = 0;

                if (asprintf(&m, "MESSAGE=%s", msg) < 0)
                        return -abs(error);
                snprintf(prio, sizeof prio, "PRIORITY=%i", level);
                snprintf(codeline, sizeof codeline, "CODE_LINE=%i", line);
                if (asprintf(&codefile, "CODE_FILE=%s", file) < 0 || asprintf(&codefunc, "CODE_FUNC=%s", func) < 0)
                        return -abs(error);
                iov[n++] = (struct iovec) { m, strlen(m) };
                iov[n++] = (struct iovec) { prio, strlen(prio) };
                iov[n++] = (struct iovec) { codefile, strlen(codefile) };
                iov[n++] = (struct iovec) { codeline, strlen(codeline) };
                iov[n++] = (struct iovec) { codefunc, strlen(codefunc) };
                if (error != 0) {
                        snprintf(errbuf, sizeof errbuf, "ERRNO=%i", abs(error));
                        iov[n++] = (struct iovec) { errbuf, strlen(errbuf) };
                }
                for (const char *const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                        iov[n++] = (struct iovec) { (char *) *f, strlen(*f) };
                (void) sd_journal_sendv(iov, (int) n);
        } else
                fprintf(stderr, "<%i>%s\n", level, msg);

        return -abs(error);
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) {
        char buf[2048];
        va_list ap;

        if (level > max_level)
                return -abs(error);

        /* %m expands to the error we were given, not whatever errno happens to be. */
        errno = abs(error);
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        return log_dispatch(level, error, file, line, func, fields, buf);
}
