// SPDX-License-Identifier: MIT
/*
 * floor.c - the machine floor: what one page's cleanup costs at the least
 * on the machine lazypv runs on, measured now, so that the bench can put
 * its figures beside it.
 *
 * Two costs, each the median of a few passes over a span of free frames
 * (128 MiB: larger than the caches, as a cleanup walking a guest sees its
 * frames):
 *   clear      a 4 KiB clear the way the Ultravisor does it
 *              (hw_frame_clear_fw: through the firmware view, one frame at
 *              a time);
 *   unprotect  lifting a frame's host-view protection the way the teardown
 *              walks do it (one hw unprotect batch per 64 frames): a cost
 *              of this emulation that s390 does not have.  The fault that
 *              maps a frame again at its next host access comes on top.
 *
 * The span is allocated from the mm (unowned, uncharged) and freed again;
 * nothing else may use the host meanwhile.
 */
#include "host_internal.h"

#include <errno.h>
#include <stdlib.h>

#define FLOOR_FRAMES 32768		/* 128 MiB */
#define FLOOR_PROTECT_FRAMES 1024
#define FLOOR_BATCH 64
#define FLOOR_CLEAR_PASSES 3
#define FLOOR_PROTECT_PASSES 5

static int floor_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double floor_median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), floor_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int host_measure_floor(struct host *h, struct host_floor *out)
{
	double s[FLOOR_CLEAR_PASSES], u[FLOOR_PROTECT_PASSES];
	struct page *p;
	hw_pfn_t first;
	int r;

	*out = (struct host_floor){ 0 };
	r = mm_page_alloc_contig(h->world, 0, NULL, FLOOR_FRAMES, &p);
	if (r)
		return r;
	first = mm_page_to_pfn(h->world, p);
	for (int k = 0; k < FLOOR_CLEAR_PASSES; k++) {
		uint64_t t0 = lpv_now_ns();

		for (hw_pfn_t i = 0; i < FLOOR_FRAMES; i++)
			hw_frame_clear_fw(h->hw, first + i);
		s[k] = (double)(lpv_now_ns() - t0) / FLOOR_FRAMES;
	}
	for (int k = 0; k < FLOOR_PROTECT_PASSES && !r; k++) {
		uint64_t t0;

		for (hw_pfn_t i = 0; i < FLOOR_PROTECT_FRAMES && !r; i++)
			r = hw_frame_protect(h->hw, first + i);
		t0 = lpv_now_ns();
		for (hw_pfn_t i = 0; i < FLOOR_PROTECT_FRAMES; i += FLOOR_BATCH) {
			struct hw_unprotect_batch b;

			hw_unprotect_batch_begin(h->hw, &b);
			for (hw_pfn_t j = i; j < i + FLOOR_BATCH; j++)
				if (hw_frame_unprotect(h->hw, first + j) && !r)
					r = -EIO;
			hw_unprotect_batch_end(&b);
		}
		u[k] = (double)(lpv_now_ns() - t0) / FLOOR_PROTECT_FRAMES;
	}
	/* A frame left protected must not reach the free list (invariant 2). */
	for (hw_pfn_t i = 0; r && i < FLOOR_PROTECT_FRAMES; i++)
		BUG_ON(hw_frame_unprotect(h->hw, first + i));
	for (hw_pfn_t i = 0; i < FLOOR_FRAMES; i++)
		mm_page_put(h->world, p + i);
	if (r)
		return r;
	out->clear_ns = floor_median(s, FLOOR_CLEAR_PASSES);
	out->unprotect_ns = floor_median(u, FLOOR_PROTECT_PASSES);
	return 0;
}
