/* SPDX-License-Identifier: MIT */
/*
 * wakeup.h - a probe of the machine the benchmarks run on, not of lazypv:
 * how late a sleeping thread gets the CPU back.  A thread sleeps a fixed
 * period again and again and records by how much each wake-up overshoots
 * it -- the scheduling delay that any thread woken on this machine meets
 * at that moment (an allocation woken by a cleanup worker included).
 * `lazypv bench --oom` runs it beside each experiment and prints it
 * beside the allocation stalls.
 */
#ifndef LAZYPV_BENCH_WAKEUP_H
#define LAZYPV_BENCH_WAKEUP_H

#include <stdint.h>

struct bench_wakeup;

struct bench_wakeup_result {
	uint64_t samples;	/* wake-ups seen */
	uint64_t p50_ns;	/* overshoot beyond the period: median, */
	uint64_t p99_ns;	/* 99th percentile */
	uint64_t max_ns;	/* and longest */
	uint64_t over_5ms;	/* wake-ups later than 5 ms */
};

/* Start the probe thread, sleeping @period_ns at a time.  0 or -errno. */
int bench_wakeup_start(uint64_t period_ns, struct bench_wakeup **out);
/* Stop it and fill @r (zeros if it saw nothing); frees the probe. */
void bench_wakeup_stop(struct bench_wakeup *w, struct bench_wakeup_result *r);

#endif /* LAZYPV_BENCH_WAKEUP_H */
