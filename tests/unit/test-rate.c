/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rate of an operation's bytes and the throttle of its progress signals (src/lib/rate.c), on made-up
 * clocks: a steady stream, a burst after a stall, a reporter faster than the window's grain. */
#include "macro.h"
#include "rate.h"
#include "tests.h"

#define MS (1000ULL)
#define WINDOW (2000 * MS)

TEST(rate_of_a_steady_stream) {
        RateWindow w = {};

        /* 10 MB/s reported every 100 ms. */
        ASSERT_EQ(rate_window_add(&w, 1000 * MS, 0, WINDOW), 0);
        for (uint64_t k = 1; k <= 50; k++)
                ASSERT_EQ(rate_window_add(&w, 1000 * MS + k * 100 * MS, k * 1000000, WINDOW), 10000000);
}

TEST(rate_follows_the_last_seconds_not_the_start) {
        RateWindow w = {};
        uint64_t t = 5000 * MS, bytes = 0, r = 0;

        /* 100 MB/s for 10 s, then 1 MB/s: after the window, the rate is the new one. */
        for (unsigned k = 0; k < 100; k++, t += 100 * MS, bytes += 10000000)
                (void) rate_window_add(&w, t, bytes, WINDOW);
        for (unsigned k = 0; k < 30; k++, t += 100 * MS, bytes += 100000)
                r = rate_window_add(&w, t, bytes, WINDOW);
        ASSERT_EQ(r, 1000000);
}

TEST(rate_after_a_stall_counts_the_stall) {
        RateWindow w = {};

        ASSERT_EQ(rate_window_add(&w, 1000 * MS, 0, WINDOW), 0);
        ASSERT_EQ(rate_window_add(&w, 1100 * MS, 1000000, WINDOW), 10000000);
        /* Nothing for 10 s, then 1 MB more: 1 MB over the 10 s, not 10 MB/s. */
        ASSERT_EQ(rate_window_add(&w, 11100 * MS, 2000000, WINDOW), 100000);
}

TEST(rate_of_a_fast_reporter_spans_the_window) {
        RateWindow w = {};
        uint64_t r = 0;

        /* Every ms for 3 s at 1 MB/s, then 1 s at 3 MB/s: the samples are kept window/16 apart, so the rate
         * is over about two seconds (2 MB/s), not over the last millisecond (3 MB/s). */
        for (uint64_t k = 0; k <= 3000; k++)
                (void) rate_window_add(&w, k * MS, k * 1000, WINDOW);
        for (uint64_t k = 1; k <= 1000; k++)
                r = rate_window_add(&w, (3000 + k) * MS, 3000000 + k * 3000, WINDOW);
        ASSERT_TRUE(r > 1800000 && r < 2300000);
}

TEST(rate_restarts_on_a_counter_or_clock_that_goes_back) {
        RateWindow w = {};

        (void) rate_window_add(&w, 1000 * MS, 0, WINDOW);
        ASSERT_EQ(rate_window_add(&w, 2000 * MS, 1000, WINDOW), 1000);
        ASSERT_EQ(rate_window_add(&w, 3000 * MS, 10, WINDOW), 0);
        ASSERT_EQ(rate_window_add(&w, 2500 * MS, 20, WINDOW), 0);
        ASSERT_EQ(rate_window_add(&w, 3500 * MS, 1020, WINDOW), 1000);
        /* Over the oldest sample of the window, (2500 ms, 20). */
        ASSERT_EQ(rate_window_add(&w, 3500 * MS, 2000, WINDOW), 1980);

        /* Two samples at the same instant: no division by zero. */
        w = (RateWindow) {};
        (void) rate_window_add(&w, 1000 * MS, 0, WINDOW);
        ASSERT_EQ(rate_window_add(&w, 1000 * MS, 5, WINDOW), 0);
}

TEST(throttle) {
        ASSERT_EQ(throttle_delay(5000 * MS, 0, 100 * MS), 0);           /* never sent */
        ASSERT_EQ(throttle_delay(5000 * MS, 4900 * MS, 100 * MS), 0);
        ASSERT_EQ(throttle_delay(5000 * MS, 4950 * MS, 100 * MS), 50 * MS);
        ASSERT_EQ(throttle_delay(5000 * MS, 5000 * MS, 100 * MS), 100 * MS);
        ASSERT_EQ(throttle_delay(5000 * MS, 6000 * MS, 100 * MS), 0);   /* a clock that went back */
}
