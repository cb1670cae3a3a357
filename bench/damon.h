/* SPDX-License-Identifier: MIT */
/*
 * damon.h - a probe of the machine the benchmarks run on, not of lazypv:
 * whether a DAMON monitor is running in this kernel.  Used by the
 * benchmark driver and by `lazypv bench` to say so beside their figures.
 */
#ifndef LAZYPV_BENCH_DAMON_H
#define LAZYPV_BENCH_DAMON_H

/*
 * The index of a DAMON monitor running in this kernel (kdamond N whose
 * state is "on"), or -1.  Its sampling clears Accessed bits and its
 * schemes may page idle memory out: page-table changes that a benchmark
 * meets as stalls on a shadow-paging hypervisor (docs/bench.md).
 */
int bench_damon_running(void);

#endif /* LAZYPV_BENCH_DAMON_H */
