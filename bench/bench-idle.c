// SPDX-License-Identifier: MIT
/*
 * bench-idle.c - how much of our memory the hypervisor below takes away
 * while it sits idle, and what getting it back costs.
 *
 * The development machine is a nested VM: the hypervisor it runs under
 * may unmap pages of it and fault them back at the next access, which the
 * Ultravisor's clears meet as "stalls" (docs/uv.md).  Here: page-unique
 * data in every frame, every frame read (all mapped below us again), then
 * an idle pause of N seconds, then each frame's first load through the
 * firmware view timed on its own.  Loads of HW_STALL_NS (1 us) or more
 * count as stalls.  The pause is the variable under test, not a stand-in
 * for work; the figures are what this machine's hypervisor did during the
 * run, not a property of lazypv.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "bench.h"
#include "damon.h"
#include "hw/hw.h"
#include "lib/lib.h"

#define IDLE_STALL_NS HW_STALL_NS

static uint64_t idle_sink;

/* Read every frame: whatever was away is mapped again afterwards. */
static void touch_all(struct hw_machine *hw, uint64_t pages)
{
	for (uint64_t p = 0; p < pages; p++)
		idle_sink += *(volatile uint64_t *)hw_fw_page(hw, p);
}

int bench_idle(const struct bench_ctx *ctx)
{
	static const unsigned int full[] = { 0, 1, 3, 10, 30 };
	static const unsigned int quick[] = { 0, 1 };
	const unsigned int *pause = ctx->quick ? quick : full;
	size_t npause = ctx->quick ? ARRAY_SIZE(quick) : ARRAY_SIZE(full);
	unsigned int runs = ctx->runs;
	uint64_t pages = ctx->arena_bytes / HW_PAGE_SIZE;
	struct hw_config cfg = { .mem_bytes = ctx->arena_bytes,
				 .populate = true };
	struct hw_machine *hw;
	int ret;

	ret = hw_machine_create(&cfg, &hw);
	if (ret)
		return ret;
	if (bench_damon_running() >= 0 && !ctx->json)
		printf("  (DAMON is on in this kernel: its sampling and reclaim may add to what\n"
		       "   is measured here; see docs/bench.md)\n");
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t *w = hw_host_page(hw, p);

		for (unsigned int i = 0; i < HW_PAGE_SIZE / 8; i++)
			w[i] = (p * (HW_PAGE_SIZE / 8) + i) * 0x9e3779b97f4a7c15ULL;
	}
	for (size_t k = 0; k < npause; k++) {
		double share[64], mean[64];	/* --runs <= 64 */
		char name[64], note[96];

		for (unsigned int r = 0; r < runs; r++) {
			uint64_t stalls = 0, stall_ns = 0;

			touch_all(hw, pages);
			if (!ctx->json) {
				fprintf(stderr, "lazypv-bench idle: %u s pause (run %u of %u)\r",
					pause[k], r + 1, runs);
				fflush(stderr);
			}
			if (pause[k])
				sleep(pause[k]);
			for (uint64_t p = 0; p < pages; p++) {
				const volatile uint64_t *w = hw_fw_page(hw, p);
				uint64_t t = lpv_now_ns(), d;

				idle_sink += w[HW_PAGE_SIZE / 16];
				d = lpv_now_ns() - t;
				if (d >= IDLE_STALL_NS) {
					stalls++;
					stall_ns += d;
				}
			}
			share[r] = 100.0 * (double)stalls / (double)pages;
			mean[r] = stalls ? (double)stall_ns / (double)stalls / 1e3 : 0;
		}
		snprintf(name, sizeof(name), "stalled after %u s idle", pause[k]);
		snprintf(note, sizeof(note), "of %" PRIu64 " frames", pages);
		bench_report(ctx, "idle", name, bench_median(share, runs), "%",
			     note);
		snprintf(name, sizeof(name), "mean stall after %u s idle", pause[k]);
		bench_report(ctx, "idle", name, bench_median(mean, runs), "us",
			     NULL);
	}
	if (!ctx->json)
		fprintf(stderr, "%60s\r", "");
	hw_machine_destroy(hw);
	return 0;
}
