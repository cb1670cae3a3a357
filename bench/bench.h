/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the benchmark driver's contract.  A benchmark prints figures
 * (medians over --runs repetitions, and ratios measured in the same run);
 * it never fails on timing.  Register with BENCH_ENTRY in bench/main.c.
 */
#ifndef LAZYPV_BENCH_H
#define LAZYPV_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct bench_ctx {
	unsigned int runs;	/* repetitions for medians (--runs) */
	uint64_t arena_bytes;	/* memory to work over (--arena) */
	bool json;		/* one JSON object per figure */
	bool quick;		/* --quick: smaller sizes, for smoke runs */
};

/* Median of @n samples (sorts @v in place). */
double bench_median(double *v, unsigned int n);
/* Print one figure: text "  name  value unit  (note)" or a JSON line. */
void bench_report(const struct bench_ctx *ctx, const char *bench,
		  const char *name, double value, const char *unit,
		  const char *note);
/* Page-clear cost (ns per 4 KiB memset) over @pages pages at @mem: the
 * machine's own floor, measured in the same run as what it is compared to. */
double bench_clear_ns_per_page(void *mem, uint64_t pages, unsigned int runs);

int bench_hw(const struct bench_ctx *ctx);
int bench_mm(const struct bench_ctx *ctx);
int bench_idle(const struct bench_ctx *ctx);

#endif /* LAZYPV_BENCH_H */
