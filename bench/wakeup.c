// SPDX-License-Identifier: MIT
/*
 * wakeup.c - the wake-up latency probe (wakeup.h): one thread, a relative
 * CLOCK_MONOTONIC sleep per sample, every overshoot kept (a sample per
 * period: 30 s at 1 ms is 30000 values) so that the percentiles are
 * exact.  The thread owns the samples until stop has joined it.
 */
#include "wakeup.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct bench_wakeup {
	pthread_t thread;
	uint64_t period_ns;
	bool stop;		/* atomic */
	uint64_t *late;		/* overshoots, ns */
	size_t n, cap;
};

static uint64_t wakeup_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *wakeup_main(void *arg)
{
	struct bench_wakeup *w = arg;
	struct timespec ts = {
		.tv_sec = (time_t)(w->period_ns / 1000000000ULL),
		.tv_nsec = (long)(w->period_ns % 1000000000ULL),
	};

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t0 = wakeup_now_ns(), dt;

		if (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL))
			continue;	/* a signal: not a sample */
		dt = wakeup_now_ns() - t0;
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 4096;
			uint64_t *p = realloc(w->late, cap * sizeof(*p));

			if (!p)
				break;	/* what was seen so far stands */
			w->late = p;
			w->cap = cap;
		}
		w->late[w->n++] = dt > w->period_ns ? dt - w->period_ns : 0;
	}
	return NULL;
}

int bench_wakeup_start(uint64_t period_ns, struct bench_wakeup **out)
{
	struct bench_wakeup *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->period_ns = period_ns ? period_ns : 1;
	r = pthread_create(&w->thread, NULL, wakeup_main, w);
	if (r) {
		free(w);
		return -r;
	}
	*out = w;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_wakeup_stop(struct bench_wakeup *w, struct bench_wakeup_result *r)
{
	*r = (struct bench_wakeup_result){ 0 };
	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	if (w->n) {
		qsort(w->late, w->n, sizeof(*w->late), cmp_u64);
		/* Nearest rank: the smallest value at least a share q of
		 * the samples do not exceed, index ceil(q n) - 1. */
		r->samples = w->n;
		r->p50_ns = w->late[(w->n + 1) / 2 - 1];
		r->p99_ns = w->late[(w->n * 99 + 99) / 100 - 1];
		r->max_ns = w->late[w->n - 1];
		for (size_t i = 0; i < w->n; i++)
			r->over_5ms += w->late[i] > 5000000;
	}
	free(w->late);
	free(w);
}
