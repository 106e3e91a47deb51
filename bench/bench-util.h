/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bench-bus and bench-lxc share: the clock, dying with a message, and the sample lines that
 * bench/run.sh collects ("SAMPLE <metric> <side> <microseconds>"; warm-up iterations print nothing). */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static inline void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", program_invocation_short_name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(EXIT_FAILURE);
}

static inline void sample(const char *metric, const char *side, int iter, int warm, uint64_t us) {
        if (iter < warm)
                return;
        printf("SAMPLE %s %s %llu\n", metric, side, (unsigned long long) us);
        fflush(stdout);
}

/* LXCBENCH_GAP_MS: an untimed pause before each start, stop and exec (attach) of the loops:
 * a cgroup migration (v1 cgroup.procs write) after about 20 ms without one waits for an RCU grace
 * period (cgroup_threadgroup_rwsem), a loop without pauses never does (bench/README.md, Latency). */
static inline void bench_gap(void) {
        const char *s = getenv("LXCBENCH_GAP_MS");
        int ms = s ? atoi(s) : 0;

        if (ms > 0)
                (void) nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 }, NULL);
}
