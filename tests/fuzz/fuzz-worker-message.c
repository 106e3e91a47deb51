/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Worker -> daemon: one message as worker_drain() reads it (the bytes, then a NUL). Whatever parses has
 * its fields in range, printing it the way the worker does gives the input back (one spelling per
 * message), except for progress, whose fraction may have other decimals than "%.3f", and the encoder
 * writes it again. */

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "worker-proto.h"

/* worker_message_format() writes every message that parses, and what it writes parses to the same (a
 * progress to 3 decimals, a result's missing text as ""). */
static void check_format(const WorkerMessage *m) {
        _cleanup_free_ char *out = malloc(WORKER_MSG_MAX + 2);
        WorkerMessage p;
        int n;

        FUZZ_CHECK(out);
        n = worker_message_format(m, out, WORKER_MSG_MAX + 2);
        FUZZ_CHECK(n >= 0);
        FUZZ_CHECK(worker_message_parse(out, (size_t) n, &p) == 0);
        FUZZ_CHECK(p.kind == m->kind && streq_ptr(p.text, m->text));
        FUZZ_CHECK(fabs(p.progress - m->progress) < 0.00051);
        FUZZ_CHECK(p.pid == m->pid && p.status == m->status && p.signal == m->signal && p.error == m->error &&
                   p.tty == m->tty);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL, *again = NULL;
        WorkerMessage m;
        int r;

        if (size > WORKER_MSG_MAX)
                return 0;
        s = fuzz_strndup(data, size);

        r = worker_message_parse(s, size, &m);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                return 0;
        }
        FUZZ_CHECK(memchr(data, 0, size) == NULL);
        check_format(&m);
        FUZZ_CHECK(m.kind >= 0 && m.kind < _WORKER_MESSAGE_KIND_MAX);
        /* A text points into the message, after the space that ends the number (a result without a
         * text has the static ""). */
        bool text_in_msg = m.text && (uintptr_t) m.text > (uintptr_t) s && (uintptr_t) m.text <= (uintptr_t) (s + size);
        if (m.text && m.kind != WORKER_MESSAGE_RESULT)
                FUZZ_CHECK(text_in_msg);
        if (text_in_msg)
                FUZZ_CHECK(m.text[-1] == ' ');

        switch (m.kind) {
        case WORKER_MESSAGE_PROGRESS: {
                WorkerMessage m2;

                FUZZ_CHECK(isfinite(m.progress) && m.progress >= 0 && m.progress <= 1);
                FUZZ_CHECK(asprintf(&again, "progress %.9f%s%s", m.progress, m.text ? " " : "", strempty(m.text)) > 0);
                FUZZ_CHECK(worker_message_parse(again, strlen(again), &m2) == 0);
                FUZZ_CHECK(m2.kind == WORKER_MESSAGE_PROGRESS);
                FUZZ_CHECK(fabs(m2.progress - m.progress) < 1e-8);
                FUZZ_CHECK(streq_ptr(m2.text, m.text));
                return 0;
        }
        case WORKER_MESSAGE_RUNNING:
                FUZZ_CHECK(m.pid > 0 && m.pid <= WORKER_PID_MAX);
                FUZZ_CHECK(asprintf(&again, "running %i", (int) m.pid) > 0);
                break;
        case WORKER_MESSAGE_EXITED:
                FUZZ_CHECK((m.status >= 0 && m.status <= WORKER_STATUS_MAX && m.signal == 0) ||
                           (m.status == -1 && m.signal >= 1 && m.signal <= WORKER_SIGNAL_MAX));
                FUZZ_CHECK(asprintf(&again, "exited %i %i", m.status, m.signal) > 0);
                break;
        case WORKER_MESSAGE_RESULT:
                FUZZ_CHECK(m.error >= 0 && m.error <= WORKER_ERRNO_MAX);
                FUZZ_CHECK(m.text);
                /* "result 5" and "result 5 " both have the message "" (the worker always sends the space). */
                FUZZ_CHECK(asprintf(&again, "result %i%s%s", m.error, text_in_msg ? " " : "", m.text) > 0);
                break;
        case WORKER_MESSAGE_CONSOLE:
                FUZZ_CHECK(m.tty >= 0 && m.tty <= WORKER_TTY_MAX);
                FUZZ_CHECK(asprintf(&again, "console %i", m.tty) > 0);
                break;
        case WORKER_MESSAGE_PTY:
                again = strdup("pty");
                break;
        case WORKER_MESSAGE_BYTES:
                FUZZ_CHECK(m.bytes <= WORKER_BYTES_MAX && m.bytes_total <= WORKER_BYTES_MAX);
                FUZZ_CHECK(asprintf(&again, "bytes %" PRIu64 " %" PRIu64, m.bytes, m.bytes_total) > 0);
                break;
        default:
                FUZZ_CHECK(false);
        }
        FUZZ_CHECK(again && streq(again, s));
        return 0;
}
