/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Time stamps of the phases of a start, stop, exec or freeze, for `bench/run.sh --breakdown`
 * (bench/latency.py reads them). Off unless $LXCBUS_TRACE names a file (a drop-in of the benchmark's
 * lxcbusd.service sets it; the workers inherit it): then each call appends one line
 * "<CLOCK_MONOTONIC in us> <pid> <event> <name>" to it. Costs one getenv() once when off. */
void trace_event(const char *event, const char *name);
