// SPDX-License-Identifier: MIT
/*
 * test_wakeup.c - the wake-up latency probe: it samples (at most once per
 * period: every sample is a whole sleep), its figures are ordered (median
 * <= p99 <= max) and no overshoot is longer than the time it ran -- exact
 * bounds, whatever the load on the machine.
 */
#include "test.h"
#include "wakeup.h"

#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

TEST_IMPL(bench_wakeup_probe)
{
	struct bench_wakeup_result r;
	struct bench_wakeup *w;
	struct timespec ts = { 0, 200 * 1000000L };
	uint64_t t0, ran;

	t0 = now_ns();
	ASSERT_OK(bench_wakeup_start(1000000, &w));
	/* Sleep until the probe has a sample (100 ms at least). */
	do
		nanosleep(&ts, NULL);
	while (now_ns() - t0 < 100 * 1000000ULL);
	bench_wakeup_stop(w, &r);
	ran = now_ns() - t0;
	ASSERT_GE(r.samples, 1);
	/* Each sample is a whole 1 ms sleep plus its overshoot. */
	ASSERT_LE(r.samples, ran / 1000000);
	ASSERT_LE(r.max_ns + 1000000, ran);
	ASSERT_LE(r.p50_ns, r.p99_ns);
	ASSERT_LE(r.p99_ns, r.max_ns);
	ASSERT_LE(r.over_5ms, r.samples);
	ASSERT_TRUE(r.max_ns > 5000000 || r.over_5ms == 0);
	return 0;
}
