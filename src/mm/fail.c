// SPDX-License-Identifier: MIT
/*
 * fail.c - failure injection into the page allocator.
 *
 * Owns the world's one injection point: while armed (mm_fail_set), every
 * allocation that matches the configured gfp bits and use is numbered, and
 * the nth fails with -ENOMEM before it charges or takes a frame, so the
 * caller's error path runs exactly as on a real shortage (no OOM path, no
 * kill).  The sweep (tests/sweep/) counts allocations with nth 0, then
 * fails each in turn.
 *
 * Threads: any allocating thread calls mm_fail_hit(); the number is an
 * atomic counter, so "the nth" is exact under concurrency.  The
 * configuration is written only at quiescent points (mm_fail_set's
 * contract) and read without a lock.
 */
#include "mm_internal.h"

#include <string.h>

static const char *const kind_names[MM_ALLOC_NR_KINDS] = {
	[MM_ALLOC_ONE] = "page",
	[MM_ALLOC_BULK] = "bulk",
	[MM_ALLOC_CONTIG] = "contig",
};

const char *mm_alloc_kind_name(enum mm_alloc_kind kind)
{
	return (unsigned)kind < MM_ALLOC_NR_KINDS ? kind_names[kind] : "?";
}

void mm_fail_set(struct mm_world *world, const struct mm_fail_config *cfg)
{
	atomic_store_release(&world->fail_on, false);
	if (!cfg)
		return;
	world->fail = *cfg;
	atomic_store_relaxed(&world->fail_seen, 0);
	atomic_store_release(&world->fail_on, true);
}

uint64_t mm_fail_seen(struct mm_world *world)
{
	return atomic_load_relaxed(&world->fail_seen);
}

bool mm_fail_hit(struct mm_world *world, enum mm_alloc_kind kind,
		 unsigned int gfp, enum page_use use, size_t nr, bool charged)
{
	const struct mm_fail_config *f = &world->fail;
	struct mm_alloc_info info = { .kind = kind, .gfp = gfp, .use = use,
				      .nr = nr, .charged = charged };
	uint64_t n;
	bool failed;

	if (!atomic_load_acquire(&world->fail_on))
		return false;
	if ((gfp & f->gfp_mask) != f->gfp_match || (!f->any_use && use != f->use))
		return false;
	n = atomic_add_return(&world->fail_seen, 1);
	failed = f->nth && n == f->nth;
	if (f->note)
		f->note(f->ctx, n, &info, failed);
	if (failed) {
		mm_stat_inc(world, alloc_injected);
		lpv_trace("MM INJECT: allocation %llu (%s, gfp %#x, %zu pages) fails",
			  (unsigned long long)n, mm_alloc_kind_name(kind), gfp, nr);
	}
	return failed;
}
