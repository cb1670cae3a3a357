// SPDX-License-Identifier: MIT
/*
 * bench-hw.c - the machine's own limits: page clear bandwidth through the
 * host view, the firmware clear back to back and as a teardown meets its
 * frames, guard install/remove per frame and batched, and the cost clock's
 * accuracy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hw/hw.h"
#include "lib/lib.h"

static uint64_t fence_sink;

int bench_hw(const struct bench_ctx *ctx)
{
	uint64_t pages = ctx->quick ? 4096 : 65536;	/* 16 MiB / 256 MiB */
	struct hw_config cfg = { .mem_bytes = pages * HW_PAGE_SIZE };
	double *s = calloc(ctx->runs, sizeof(double));
	struct hw_machine *hw;
	char note[96];
	double clear;
	int ret;

	if (!s)
		return -ENOMEM;
	ret = hw_machine_create(&cfg, &hw);
	if (ret)
		goto out_free;

	/* First touch of the arena (populating the memfd): not a steady cost. */
	uint64_t t0 = lpv_now_ns();
	for (uint64_t p = 0; p < pages; p++)
		*(volatile char *)hw_host_page(hw, p) = 1;
	bench_report(ctx, "hw", "first touch (memfd populate)",
		     (double)(lpv_now_ns() - t0) / (double)pages, "ns/page",
		     "one-time, per frame");

	clear = bench_clear_ns_per_page(hw_host_page(hw, 0), pages, ctx->runs);
	snprintf(note, sizeof(note), "= %.2f GiB/s",
		 4096.0 / clear / 1.073741824);
	bench_report(ctx, "hw", "page clear (memset 4 KiB)", clear, "ns/page",
		     note);

	for (unsigned int r = 0; r < ctx->runs; r++) {
		uint64_t n = pages / 4, t;

		t = lpv_now_ns();
		for (uint64_t p = 0; p < n; p++)
			if (hw_frame_protect(hw, p))
				abort();
		t = lpv_now_ns() - t;
		s[r] = (double)t / (double)n;
		for (uint64_t p = 0; p < n; p++)
			if (hw_frame_unprotect(hw, p))
				abort();
	}
	bench_report(ctx, "hw", "frame protect", bench_median(s, ctx->runs),
		     "ns/frame", hw_protect_mode_name(hw_protect_mode(hw)));
	for (unsigned int r = 0; r < ctx->runs; r++) {
		uint64_t n = pages / 4, t;

		for (uint64_t p = 0; p < n; p++)
			if (hw_frame_protect(hw, p))
				abort();
		t = lpv_now_ns();
		for (uint64_t p = 0; p < n; p++)
			if (hw_frame_unprotect(hw, p))
				abort();
		s[r] = (double)(lpv_now_ns() - t) / (double)n;
	}
	bench_report(ctx, "hw", "frame unprotect", bench_median(s, ctx->runs),
		     "ns/frame", NULL);
	/* The same in batches, as the teardown walks do it; every other
	 * frame, so that no two are adjacent and nothing coalesces. */
	for (unsigned int batch = 64; batch <= HW_UNPROTECT_BATCH; batch *= 8) {
		for (unsigned int r = 0; r < ctx->runs; r++) {
			uint64_t n = pages / 4, t;
			struct hw_unprotect_batch b;

			for (uint64_t p = 0; p < n; p += 2)
				if (hw_frame_protect(hw, p))
					abort();
			t = lpv_now_ns();
			for (uint64_t p = 0; p < n; p += 2 * batch) {
				hw_unprotect_batch_begin(hw, &b);
				for (uint64_t q = p; q < p + 2 * batch && q < n; q += 2)
					if (hw_frame_unprotect(hw, q))
						abort();
				hw_unprotect_batch_end(&b);
			}
			s[r] = (double)(lpv_now_ns() - t) / (double)(n / 2);
		}
		snprintf(note, sizeof(note), "batches of %u, none adjacent", batch);
		bench_report(ctx, "hw", "frame unprotect, batched",
			     bench_median(s, ctx->runs), "ns/frame", note);
	}

	/*
	 * The firmware clear as a teardown meets its frames: last written
	 * through the host view, guarded, then cleared one at a time through
	 * the firmware view with a UV call's worth of other work (an 800 ns
	 * cost spin, a guard lift) between two clears -- against the same
	 * frames cleared back to back.  Timed clear by clear; the clock's own
	 * cost (one read) is taken off.
	 */
	for (int ctx_clear = 0; ctx_clear < 2; ctx_clear++) {
		for (unsigned int r = 0; r < ctx->runs; r++) {
			uint64_t n = pages / 2, sum = 0, t, empty;

			for (uint64_t p = 0; p < n; p++) {
				memset(hw_host_page(hw, p), (int)r + 1, HW_PAGE_SIZE);
				if (ctx_clear && hw_frame_protect(hw, p))
					abort();
			}
			t = lpv_now_ns();
			empty = lpv_now_ns() - t;
			for (uint64_t p = 0; p < n; p++) {
				t = lpv_now_ns();
				hw_frame_clear_fw(hw, p);
				/* a locked instruction, as the UV's state
				 * change after its clear */
				__atomic_fetch_add(&fence_sink, 1, __ATOMIC_SEQ_CST);
				sum += lpv_now_ns() - t - empty;
				if (ctx_clear) {
					hw_cost_spend(800);
					if (hw_frame_unprotect(hw, p))
						abort();
				}
			}
			s[r] = (double)sum / (double)n;
		}
		bench_report(ctx, "hw", ctx_clear ? "fw clear, teardown context"
						 : "fw clear, back to back",
			     bench_median(s, ctx->runs), "ns/page",
			     ctx_clear ? "host-written, guarded, one per UV call"
				       : "host-written, unguarded");
	}

	/* Calls back to back: each call's overshoot is taken off the next
	 * (clock.c); what remains is mostly time the machine lost to
	 * interrupts, which hits every other code path alike. */
	static const uint64_t want[] = { 100, 1000, 10000 };
	enum { N_SPEND = 2000 };
	for (size_t w = 0; w < ARRAY_SIZE(want); w++) {
		for (unsigned int r = 0; r < ctx->runs; r++) {
			uint64_t t = lpv_now_ns();

			for (int i = 0; i < N_SPEND; i++)
				hw_cost_spend(want[w]);
			s[r] = (double)(lpv_now_ns() - t) / N_SPEND -
			       (double)want[w];
		}
		snprintf(note, sizeof(note), "mean overshoot, %u x hw_cost_spend(%llu)",
			 (unsigned int)N_SPEND,
			 (unsigned long long)want[w]);
		bench_report(ctx, "hw", "cost clock error", bench_median(s, ctx->runs),
			     "ns", note);
	}
	ret = 0;
	hw_machine_destroy(hw);
out_free:
	free(s);
	return ret;
}
