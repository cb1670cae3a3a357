/* SPDX-License-Identifier: MIT */
/*
 * sweep.h - the failure-point sweep (docs/reliability.md): one small VMM
 * life per teardown mode -- a protected guest boots, touches its memory,
 * reboots into a new protected guest, touches it again and is shut down
 * -- first with counting on (every UVC by command, every page allocation
 * by kind), then once per failure point with that one UVC or allocation
 * failing.  Each life runs in a child process with a deadline; after it
 * the child checks the invariants and that every leak has a reason the
 * injected failure explains.
 *
 * Used by the bounded ctest (tests/vmm/test_sweep.c) and by `make sweep`
 * (tests/sweep/main.c, the lazypv-sweep program).
 */
#ifndef LAZYPV_TESTS_SWEEP_H
#define LAZYPV_TESTS_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/host.h"
#include "vmm/vmm.h"

/* The injected firmware failure: cc 1 with an rc that no caller treats
 * specially (not "not mapped", "not secure", "more data", NEED_DESTROY). */
#define SWEEP_UV_RC 0x01ff
#define SWEEP_UV_RRC 0x5357

/* A kind of failure point: a UVC command or an allocation signature, in
 * one phase of the life (boot, guest, reboot, shutdown). */
#define SWEEP_MAX_GROUPS 128

struct sweep_group {
	/* "uvc destroy_page @shutdown", "alloc page gfp 0x2 anon memcg @guest" */
	char name[64];
	uint64_t points;	/* in the counting run */
	uint64_t runs;		/* failed on purpose */
	uint64_t fired;		/* runs in which the failure happened */
	uint64_t clean_ok;	/* fired, the life still ended with code 0 */
	uint64_t clean_err;	/* fired, ended with a clean VMM error */
	uint64_t violations;
};

struct sweep_opts {
	enum vmm_destroy_mode mode;
	/* Points failed per group, spread evenly, first and last always;
	 * 0: every point. */
	unsigned int per_group;
	unsigned int timeout_s;	/* per life; 0: 60 */
	const char *only;	/* fail only groups whose name contains it */
	bool verbose;		/* a line per run */
	FILE *out;		/* violations and progress; NULL: stderr */
};

struct sweep_report {
	enum vmm_destroy_mode mode;
	uint64_t points;	/* counted: UVCs + allocations */
	uint64_t uvc_points, alloc_points;
	uint64_t runs, fired, not_fired;
	uint64_t clean_ok, clean_err;
	uint64_t leaks[MM_LEAK_NR];	/* frames, by reason, over all runs */
	uint64_t leak_runs;	/* runs that leaked anything */
	uint64_t violations, hangs;
	uint64_t longest_ms;	/* longest life */
	unsigned int nr_groups;
	struct sweep_group group[SWEEP_MAX_GROUPS];
};

/* Count, then fail every chosen point of @o->mode.  0, or -errno if the
 * counting run itself failed (a violation there is reported as one). */
int sweep_mode(const struct sweep_opts *o, struct sweep_report *rep);
/* Per mode: points, runs, clean endings, leaks by reason, violations;
 * with @groups also the per-group coverage table. */
void sweep_report_print(const struct sweep_report *rep, FILE *f, bool groups);

#endif
