// SPDX-License-Identifier: MIT
/*
 * test_wakeup.c - the wake-up latency probe: it samples once per period
 * (no more often: every sample is a whole sleep), its figures are ordered
 * (median <= p99 <= max) and bounded by the time it ran.
 */
#include "test.h"
#include "wakeup.h"

#include <time.h>

TEST_IMPL(bench_wakeup_probe)
{
	struct bench_wakeup_result r;
	struct bench_wakeup *w;
	struct timespec ts = { 0, 200 * 1000000L };

	ASSERT_OK(bench_wakeup_start(1000000, &w));
	nanosleep(&ts, NULL);
	bench_wakeup_stop(w, &r);
	/* 200 ms of 1 ms sleeps: tens of samples at least, however slow. */
	ASSERT_GE(r.samples, 20);
	ASSERT_LE(r.samples, 200);
	ASSERT_LE(r.p50_ns, r.p99_ns);
	ASSERT_LE(r.p99_ns, r.max_ns);
	ASSERT_LE(r.over_5ms, r.samples);
	/* A 1 ms sleep never takes the 200 ms the whole test slept. */
	ASSERT_LT(r.max_ns, 200 * 1000000ULL);
	return 0;
}
