/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Pure helpers of the progress an operation reports: the rate of a byte counter over a sliding window,
 * and the throttle of its change signals. Times are CLOCK_MONOTONIC µs, given by the caller, so that
 * the unit tests can play any sequence. */

#define RATE_WINDOW_SAMPLES 16

/* The last samples of a counter, at least window/RATE_WINDOW_SAMPLES apart: a reporter that samples
 * faster updates the newest one instead of pushing the window's span below the window. */
typedef struct RateWindow {
        struct {
                uint64_t usec, bytes;
        } samples[RATE_WINDOW_SAMPLES];
        size_t head;                    /* the newest */
        size_t n;
} RateWindow;

/* Adds a sample (bytes: the counter at usec, never less than the one before) and returns the rate in
 * bytes per second from the oldest sample at most window_usec old to this one: the rate of the last
 * window, not the average since the start. After a gap longer than the window the sample before the gap
 * counts, so that a stall shows as a low rate. 0 until there are two samples. */
uint64_t rate_window_add(RateWindow *w, uint64_t usec, uint64_t bytes, uint64_t window_usec);

/* How long a change at now waits when changes go out at most every interval and the last went out at
 * last (0: never): 0 if it may go at once. */
uint64_t throttle_delay(uint64_t now, uint64_t last, uint64_t interval);
