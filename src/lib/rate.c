/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rate of a byte counter and the throttle of progress signals (rate.h). */
#include <assert.h>

#include "macro.h"
#include "rate.h"

uint64_t rate_window_add(RateWindow *w, uint64_t usec, uint64_t bytes, uint64_t window_usec) {
        size_t ref, k;

        assert(w);
        assert(window_usec > 0);

        if (w->n > 0) {
                uint64_t newest = w->samples[w->head].usec;

                /* A clock that went back or a counter that did: nothing sane to compare with. */
                if (usec < newest || bytes < w->samples[w->head].bytes)
                        w->n = 0;
        }
        if (w->n == 0) {
                w->head = 0;
                w->n = 1;
        } else if (w->n < 2 || usec - w->samples[(w->head + RATE_WINDOW_SAMPLES - 1) % RATE_WINDOW_SAMPLES].usec >=
                                       window_usec / RATE_WINDOW_SAMPLES) {
                w->head = (w->head + 1) % RATE_WINDOW_SAMPLES;
                w->n = MIN(w->n + 1, (size_t) RATE_WINDOW_SAMPLES);
        }
        /* else: close to the sample before the newest, so the newest moves */
        w->samples[w->head].usec = usec;
        w->samples[w->head].bytes = bytes;
        if (w->n < 2)
                return 0;

        /* The oldest sample in the window; if only the new one is, the one before it. */
        ref = (w->head + RATE_WINDOW_SAMPLES - 1) % RATE_WINDOW_SAMPLES;
        for (k = 2; k < w->n; k++) {
                size_t older = (w->head + RATE_WINDOW_SAMPLES - k) % RATE_WINDOW_SAMPLES;

                if (usec - w->samples[older].usec > window_usec)
                        break;
                ref = older;
        }
        if (usec <= w->samples[ref].usec)
                return 0;
        return (uint64_t) ((double) (bytes - w->samples[ref].bytes) * USEC_PER_SEC /
                           (double) (usec - w->samples[ref].usec));
}

uint64_t throttle_delay(uint64_t now, uint64_t last, uint64_t interval) {
        if (last == 0 || now < last || now - last >= interval)
                return 0;
        return last + interval - now;
}
