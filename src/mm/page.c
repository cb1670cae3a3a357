// SPDX-License-Identifier: MIT
/*
 * page.c - struct page and the page allocator.
 *
 * Owns the struct page array (one per frame), the free list, the per-use
 * and per-leak-reason counters, and the "memory came back" wait queue that
 * the OOM path sleeps on.  Any thread allocates and frees.
 *
 * The free list is a LIFO stack threaded through page->next_free (PFNs),
 * protected by world->zone_lock: allocation pops the most recently freed
 * frame, which is still populated and cache-warm in the memfd (first touch
 * of memfd memory is expensive), and both directions are O(1).  A free
 * page's fields are only written under zone_lock; an allocated page's by
 * whoever holds a reference.  The counters are relaxed atomics: exact at
 * quiescent points, which is when mm_check() compares them with the pages.
 *
 * The last reference of a page with PG_arch_1 set never reaches the free
 * list (invariant 2): the frame may still be secure, so it is leaked
 * (secure_at_free) with a one-time warning.  A leaked frame stays charged
 * to its memcg: only a frame that reaches the free list is uncharged.
 */
#include "mm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/trace.h"

/* Frames freed in one zone_lock hold by the bulk paths. */
#define MM_FREE_BATCH 64

static const char *const page_use_names[PAGE_USE_NR] = {
	[PAGE_USE_FREE] = "free",
	[PAGE_USE_ANON] = "anon",
	[PAGE_USE_KERNEL] = "kernel",
	[PAGE_USE_PENDING] = "pending",
	[PAGE_USE_DONATED] = "donated",
	[PAGE_USE_LEAKED] = "leaked",
};

const char *page_use_name(enum page_use use)
{
	return (unsigned int)use < PAGE_USE_NR ? page_use_names[use] : "?";
}

const char *mm_leak_reason_name(enum mm_leak_reason reason)
{
	static const char *const names[] = {
#define MM_LEAK_NAME(name, desc) #name,
		MM_LEAK_REASONS(MM_LEAK_NAME)
#undef MM_LEAK_NAME
	};

	return (unsigned int)reason < MM_LEAK_NR ? names[reason] : "?";
}

struct page *mm_pfn_to_page(struct mm_world *world, hw_pfn_t pfn)
{
	BUG_ON(pfn >= world->nr_frames);
	return &world->pages[pfn];
}

hw_pfn_t mm_page_to_pfn(struct mm_world *world, const struct page *page)
{
	DEBUG_ASSERT(page >= world->pages &&
		     page < world->pages + world->nr_frames);
	return (hw_pfn_t)(page - world->pages);
}

void *mm_page_host(struct mm_world *world, const struct page *page)
{
	return hw_host_page(world->hw, mm_page_to_pfn(world, page));
}

/* Move a page's use and the per-use counters with it, exactly (the
 * allocator and mm_page_set_use_bulk do the same in bulk). */
static void page_use_move(struct mm_world *world, struct page *page,
			  enum page_use use)
{
	uint8_t old = __atomic_exchange_n(&page->use, (uint8_t)use,
					  __ATOMIC_ACQ_REL);

	atomic_sub_relaxed(&world->use_count[old], 1);
	atomic_add_relaxed(&world->use_count[use], 1);
}

void mm_page_set_use(struct mm_world *world, struct page *page,
		     enum page_use use)
{
	enum page_use old = page_use(page);

	/* FREE belongs to the allocator and LEAKED to mm_page_leak(). */
	BUG_ON(use == PAGE_USE_FREE || use == PAGE_USE_LEAKED ||
	       use >= PAGE_USE_NR);
	BUG_ON(old == PAGE_USE_FREE || old == PAGE_USE_LEAKED);
	if (old != use)
		page_use_move(world, page, use);
}

void mm_page_set_use_bulk(struct mm_world *world, struct page *const *pages,
			  size_t n, enum page_use use)
{
	int64_t moved[PAGE_USE_NR] = { 0 };

	BUG_ON(use == PAGE_USE_FREE || use == PAGE_USE_LEAKED ||
	       use >= PAGE_USE_NR);
	for (size_t i = 0; i < n; i++) {
		uint8_t old;

		BUG_ON(page_use(pages[i]) == PAGE_USE_FREE ||
		       page_use(pages[i]) == PAGE_USE_LEAKED);
		if (page_use(pages[i]) == use)
			continue;
		old = __atomic_exchange_n(&pages[i]->use, (uint8_t)use,
					  __ATOMIC_ACQ_REL);
		moved[old]++;
	}
	for (int u = 0; u < PAGE_USE_NR; u++) {
		if (!moved[u] || u == (int)use)
			continue;
		atomic_sub_relaxed(&world->use_count[u], moved[u]);
		atomic_add_relaxed(&world->use_count[use], moved[u]);
	}
}

void mm_page_leak(struct mm_world *world, struct page *page,
		  enum mm_leak_reason reason)
{
	BUG_ON((unsigned int)reason >= MM_LEAK_NR);
	if (WARN_ON_ONCE(page_use(page) == PAGE_USE_LEAKED ||
			 page_use(page) == PAGE_USE_FREE))
		return;
	page->leak_reason = (uint8_t)reason;
	atomic_add_relaxed(&world->leak_count[reason], 1);
	page_use_move(world, page, PAGE_USE_LEAKED);
	/* Never freed, so never uncharged: the workload's memcg keeps paying
	 * for it, as in Linux. */
	if (page->memcg)
		atomic_add_relaxed(&page->memcg->leaked, 1);
	lpv_trace("MM LEAK: pfn %llx reason %s",
		  (unsigned long long)mm_page_to_pfn(world, page),
		  mm_leak_reason_name(reason));
}

/* ---- waiting for memory ---- */

void mm_memory_event(struct mm_world *world)
{
	/* Pairs with the waiter's increment (seq_cst on both sides): either
	 * we see the waiter, or the waiter sees our freed frame. */
	if (__atomic_load_n(&world->waiters, __ATOMIC_SEQ_CST) == 0)
		return;
	lpv_mutex_lock(&world->wait_lock);
	lpv_cond_broadcast(&world->wait_cond);
	lpv_mutex_unlock(&world->wait_lock);
}

bool mm_memory_wait(struct mm_world *world, bool (*done)(void *), void *arg,
		    uint64_t deadline_ns)
{
	bool ok;

	lpv_mutex_lock(&world->wait_lock);
	atomic_add_return(&world->waiters, 1);
	while (!(ok = done(arg)))
		if (!lpv_cond_wait_until(&world->wait_cond, &world->wait_lock,
					 deadline_ns)) {
			ok = done(arg);
			break;
		}
	atomic_sub_return(&world->waiters, 1);
	lpv_mutex_unlock(&world->wait_lock);
	return ok;
}

/* The emergency reserve is for MM_GFP_HIGH without MM_GFP_NOMEMALLOC. */
static uint64_t zone_floor(const struct mm_world *world, unsigned int gfp)
{
	if ((gfp & MM_GFP_HIGH) && !(gfp & MM_GFP_NOMEMALLOC))
		return 0;
	return world->reserve_pages;
}

bool mm_zone_has_free(struct mm_world *world, unsigned int gfp)
{
	return __atomic_load_n(&world->nr_free, __ATOMIC_SEQ_CST) >
	       zone_floor(world, gfp);
}

/* ---- the free stack ---- */

/*
 * The free list is a stack (LIFO) but doubly linked, so that a contiguous
 * run can be taken out of its middle in O(run).  Under zone_lock.
 */
static void free_list_push(struct mm_world *world, struct page *page)
{
	uint32_t pfn = (uint32_t)mm_page_to_pfn(world, page);

	page->prev_free = MM_PFN_NONE;
	page->next_free = world->free_head;
	if (world->free_head != MM_PFN_NONE)
		world->pages[world->free_head].prev_free = pfn;
	world->free_head = pfn;
}

static void free_list_del(struct mm_world *world, struct page *page)
{
	if (page->prev_free != MM_PFN_NONE)
		world->pages[page->prev_free].next_free = page->next_free;
	else
		world->free_head = page->next_free;
	if (page->next_free != MM_PFN_NONE)
		world->pages[page->next_free].prev_free = page->prev_free;
	page->next_free = page->prev_free = MM_PFN_NONE;
}

static int zone_take(struct mm_world *world, unsigned int gfp, size_t nr,
		     struct page **pages, enum page_use use)
{
	uint64_t floor = zone_floor(world, gfp);
	uint64_t avail;

	lpv_mutex_lock(&world->zone_lock);
	avail = world->nr_free;
	if (avail < floor + nr) {
		lpv_mutex_unlock(&world->zone_lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		struct page *page = &world->pages[world->free_head];

		DEBUG_ASSERT(page_use(page) == PAGE_USE_FREE);
		DEBUG_ASSERT(page_ref_count(page) == 0);
		free_list_del(world, page);
		page_use_move(world, page, use);
		atomic_store_release(&page->refcount, 1);
		pages[i] = page;
	}
	__atomic_store_n(&world->nr_free, avail - nr, __ATOMIC_SEQ_CST);
	lpv_mutex_unlock(&world->zone_lock);
	if (avail - nr < world->reserve_pages)
		mm_stat_add(world, reserve_allocs, nr);
	return 0;
}

/*
 * Push frames whose last reference is gone (already prepared).  Their
 * per-use counters move once per batch, not once per frame: nobody else
 * may write the use of a page whose last reference is gone.
 */
static void zone_give(struct mm_world *world, struct page **pages, size_t nr)
{
	uint64_t moved[PAGE_USE_NR] = { 0 };

	if (!nr)
		return;
	lpv_mutex_lock(&world->zone_lock);
	for (size_t i = 0; i < nr; i++) {
		struct page *page = pages[i];

		free_list_push(world, page);
		moved[page_use(page)]++;
		__atomic_store_n(&page->use, (uint8_t)PAGE_USE_FREE,
				 __ATOMIC_RELEASE);
	}
	for (unsigned int u = 0; u < PAGE_USE_NR; u++)
		if (moved[u])
			atomic_sub_relaxed(&world->use_count[u], moved[u]);
	atomic_add_relaxed(&world->use_count[PAGE_USE_FREE], nr);
	__atomic_store_n(&world->nr_free, world->nr_free + nr,
			 __ATOMIC_SEQ_CST);
	lpv_mutex_unlock(&world->zone_lock);
	mm_stat_add(world, page_frees, nr);
	mm_memory_event(world);
}

/*
 * Uncharges gathered over a bulk put: one memcg update per run of pages
 * charged to the same memcg (a teardown's pages all are), made before the
 * frames reach the free list, as a single put would.
 */
struct uncharge_run {
	struct memcg *memcg;
	uint64_t nr;
};

static void uncharge_run_flush(struct uncharge_run *run)
{
	if (run->nr)
		memcg_uncharge(run->memcg, run->nr);
	run->nr = 0;
}

/*
 * The last reference is gone: decide whether the frame may be reused, and
 * if so strip it (uncharge, clear flags).  Runs on the dropping thread.
 * With @run the uncharge joins it; without, it is done here.
 */
static bool page_release_prepare(struct mm_world *world, struct page *page,
				 struct uncharge_run *run)
{
	enum page_use use = page_use(page);
	struct memcg *memcg;

	if (use == PAGE_USE_LEAKED)
		return false;		/* leaked on purpose, stays so */
	BUG_ON(use == PAGE_USE_FREE);
	BUG_ON(page_test_flag(page, PG_reserved));
	if (page_test_flag(page, PG_arch_1)) {
		/*
		 * Invariant 2: the frame may still be secure; reusing it
		 * would hand the host a frame the UV owns.  Leak it and
		 * count it; the arch code should have exported/destroyed it.
		 */
		WARN_ON_ONCE(page_test_flag(page, PG_arch_1));
		mm_stat_inc(world, secure_at_free);
		mm_page_leak(world, page, MM_LEAK_secure_at_free);
		return false;
	}
	WARN_ON_ONCE(page_test_flag(page, PG_locked));
	memcg = page->memcg;
	page->memcg = NULL;
	if (memcg && run) {
		if (run->memcg != memcg) {
			uncharge_run_flush(run);
			run->memcg = memcg;
		}
		run->nr++;
	} else if (memcg) {
		memcg_uncharge(memcg, 1);
	}
	page->private = 0;
	__atomic_store_n(&page->flags, 0, __ATOMIC_RELEASE);
	return true;
}

void mm_page_put(struct mm_world *world, struct page *page)
{
	int32_t left = atomic_sub_return(&page->refcount, 1);

	BUG_ON(left < 0);	/* a reference that did not exist */
	if (left == 0 && page_release_prepare(world, page, NULL))
		zone_give(world, &page, 1);
}

void mm_page_put_bulk(struct mm_world *world, struct page **pages, size_t nr)
{
	struct uncharge_run run = { NULL, 0 };
	struct page *batch[MM_FREE_BATCH];
	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		int32_t left = atomic_sub_return(&pages[i]->refcount, 1);

		BUG_ON(left < 0);
		if (left || !page_release_prepare(world, pages[i], &run))
			continue;
		batch[n++] = pages[i];
		if (n == MM_FREE_BATCH) {
			uncharge_run_flush(&run);
			zone_give(world, batch, n);
			n = 0;
		}
	}
	uncharge_run_flush(&run);
	zone_give(world, batch, n);
}

int mm_page_free(struct mm_world *world, struct page *page)
{
	int32_t old = page_ref_count(page);

	do {
		if (old <= 0) {
			mm_stat_inc(world, double_frees);
			return -EINVAL;
		}
	} while (!atomic_cmpxchg(&page->refcount, &old, old - 1));
	if (old == 1 && page_release_prepare(world, page, NULL))
		zone_give(world, &page, 1);
	return 0;
}

/* ---- allocation ---- */

enum alloc_block { BLOCK_NONE, BLOCK_MEMCG, BLOCK_ZONE };

static int alloc_try(struct mm_world *world, unsigned int gfp,
		     struct memcg *memcg, size_t nr, struct page **pages,
		     enum page_use use, enum alloc_block *block)
{
	if (memcg && memcg_try_charge(memcg, nr)) {
		*block = BLOCK_MEMCG;
		return -ENOMEM;
	}
	if (zone_take(world, gfp, nr, pages, use)) {
		if (memcg)
			memcg_uncharge(memcg, nr);
		*block = BLOCK_ZONE;
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++)
		pages[i]->memcg = memcg;
	return 0;
}

/*
 * The slow path: OOM handling in a loop bounded by oom_wait_ms.  Each round
 * runs the OOM path of whatever blocked us (the memcg or the whole zone),
 * which returns once memory may have come back.
 */
static int alloc_slow(struct mm_world *world, unsigned int gfp,
		      struct memcg *memcg, size_t nr, struct page **pages,
		      enum page_use use, enum alloc_block block)
{
	uint64_t start = lpv_now_ns();
	uint64_t deadline = start + world->cfg.oom_wait_ms * 1000000ULL;
	uint64_t stall;
	int r = -ENOMEM;

	mm_stat_inc(world, oom_waits);
	for (;;) {
		struct task *cur = task_current();

		/* A killed task's allocations fail fast: it must exit. */
		if (cur && task_fatal_signal_pending(cur))
			break;
		r = oom_run(world, block == BLOCK_MEMCG ? memcg : NULL,
			    deadline);
		if (r)
			break;
		r = alloc_try(world, gfp, memcg, nr, pages, use, &block);
		if (!r || lpv_now_ns() >= deadline)
			break;
	}
	stall = lpv_now_ns() - start;
	mm_stat_max(&world->stats.oom_stall_max_ns, stall);
	atomic_add_relaxed(&world->stats.oom_stall_hist[mm_stall_bucket(stall)],
			   1);
	trace_complete(TRACE_PID_KERNEL, trace_tid(), "OOM wait", start,
		       lpv_now_ns(), "pages", nr, "ok", !r);
	return r ? -ENOMEM : 0;
}

static int alloc_pages(struct mm_world *world, unsigned int gfp,
		       struct memcg *memcg, size_t nr, struct page **pages,
		       enum page_use use, enum mm_alloc_kind kind)
{
	enum alloc_block block = BLOCK_NONE;
	int r;

	if (mm_fail_should(world, kind, gfp, use, nr, memcg != NULL)) {
		mm_stat_inc(world, alloc_failures);
		return -ENOMEM;
	}
	r = alloc_try(world, gfp, memcg, nr, pages, use, &block);
	if (r && (gfp & MM_GFP_WAIT))
		r = alloc_slow(world, gfp, memcg, nr, pages, use, block);
	if (r) {
		mm_stat_inc(world, alloc_failures);
		if (!(gfp & MM_GFP_NOWARN) &&
		    !__atomic_exchange_n(&world->warned_alloc_fail, true,
					 __ATOMIC_RELAXED))
			fprintf(stderr, "lazypv: mm: page allocation failure: "
				"%zu page(s), gfp %#x, %s limit (warns once)\n",
				nr, gfp, block == BLOCK_MEMCG ? "memcg" : "zone");
		return r;
	}
	mm_stat_add(world, page_allocs, nr);
	if (gfp & MM_GFP_ZERO)
		for (size_t i = 0; i < nr; i++)
			memset(mm_page_host(world, pages[i]), 0, HW_PAGE_SIZE);
	return 0;
}

int mm_page_alloc_use(struct mm_world *world, unsigned int gfp,
		      struct memcg *memcg, enum page_use use,
		      struct page **out)
{
	return alloc_pages(world, gfp, memcg, 1, out, use, MM_ALLOC_ONE);
}

int mm_page_alloc(struct mm_world *world, unsigned int gfp,
		  struct memcg *memcg, struct page **out)
{
	return alloc_pages(world, gfp, memcg, 1, out, PAGE_USE_KERNEL,
			   MM_ALLOC_ONE);
}

int mm_page_alloc_bulk(struct mm_world *world, unsigned int gfp,
		       struct memcg *memcg, size_t nr, struct page **pages)
{
	if (nr == 0)
		return 0;
	if (nr > world->nr_frames)
		return -ENOMEM;
	return alloc_pages(world, gfp, memcg, nr, pages, PAGE_USE_KERNEL,
			   MM_ALLOC_BULK);
}

/* ---- setup ---- */

/*
 * First fit from the top for @nr free frames starting at a multiple of
 * @align frames; takes them.  zone_lock.
 */
static int zone_take_contig(struct mm_world *world, unsigned int gfp,
			    size_t nr, uint64_t align, struct page **first)
{
	uint64_t floor = zone_floor(world, gfp);
	uint64_t run = 0, pfn;
	bool found = false;

	lpv_mutex_lock(&world->zone_lock);
	if (world->nr_free < floor + nr) {
		lpv_mutex_unlock(&world->zone_lock);
		return -ENOMEM;
	}
	/* @run: free frames from @pfn upwards. */
	for (pfn = world->nr_frames; pfn-- > 0;) {
		if (page_use(&world->pages[pfn]) != PAGE_USE_FREE) {
			run = 0;
			continue;
		}
		if (++run >= nr && pfn % align == 0) {
			found = true;
			break;
		}
	}
	if (!found) {
		lpv_mutex_unlock(&world->zone_lock);
		return -ENOMEM;		/* fragmented */
	}
	for (uint64_t i = pfn; i < pfn + nr; i++) {
		struct page *page = &world->pages[i];

		DEBUG_ASSERT(page_ref_count(page) == 0);
		free_list_del(world, page);
		page_use_move(world, page, PAGE_USE_KERNEL);
		atomic_store_release(&page->refcount, 1);
	}
	__atomic_store_n(&world->nr_free, world->nr_free - nr, __ATOMIC_SEQ_CST);
	lpv_mutex_unlock(&world->zone_lock);
	*first = &world->pages[pfn];
	return 0;
}

int mm_page_alloc_contig(struct mm_world *world, unsigned int gfp,
			 struct memcg *memcg, size_t nr, struct page **first)
{
	return mm_page_alloc_contig_aligned(world, gfp, memcg, nr, 1, first);
}

int mm_page_alloc_contig_aligned(struct mm_world *world, unsigned int gfp,
				 struct memcg *memcg, size_t nr, uint64_t align,
				 struct page **first)
{
	int ret, tries = 0;

	if (!nr || nr > world->nr_frames || !align || align > world->nr_frames)
		return -EINVAL;
	if (mm_fail_should(world, MM_ALLOC_CONTIG, gfp, PAGE_USE_KERNEL, nr,
			   memcg != NULL)) {
		mm_stat_inc(world, alloc_failures);
		return -ENOMEM;
	}
	if (memcg) {
		ret = memcg_try_charge(memcg, nr);
		if (ret)
			return ret;
	}
	while ((ret = zone_take_contig(world, gfp, nr, align, first)) == -ENOMEM &&
	       (gfp & MM_GFP_WAIT) && tries++ < 1) {
		/* Let the OOM path (notifiers, then a kill) free memory. */
		if (oom_run(world, NULL, lpv_now_ns() +
			    world->cfg.oom_wait_ms * 1000000ULL))
			break;
	}
	if (ret) {
		if (memcg)
			memcg_uncharge(memcg, nr);
		mm_stat_inc(world, alloc_failures);
		return ret;
	}
	for (size_t i = 0; i < nr; i++) {
		struct page *page = *first + i;

		page->memcg = memcg;
		if (gfp & MM_GFP_ZERO)
			memset(hw_host_page(world->hw, mm_page_to_pfn(world, page)),
			       0, HW_PAGE_SIZE);
	}
	mm_stat_add(world, page_allocs, nr);
	return 0;
}

int mm_page_alloc_init(struct mm_world *world)
{
	uint64_t n = world->nr_frames;

	if (n == 0 || n >= MM_PFN_NONE)
		return -E2BIG;
	world->pages = lpv_alloc_table(n, sizeof(*world->pages));
	if (!world->pages)
		return -ENOMEM;
	lpv_mutex_init(&world->zone_lock);
	lpv_mutex_init(&world->wait_lock);
	lpv_cond_init(&world->wait_cond);
	/* Push high to low so that the lowest PFNs come out first. */
	world->free_head = MM_PFN_NONE;
	for (uint64_t pfn = n; pfn-- > 0;) {
		struct page *page = &world->pages[pfn];

		if (pfn == 0 && world->cfg.reserve_pfn0 && n > 1) {
			/* Absolute zero / lowcore: never handed out. */
			page->use = PAGE_USE_KERNEL;
			page->refcount = 1;
			page->flags = 1u << PG_reserved;
			world->use_count[PAGE_USE_KERNEL]++;
			continue;
		}
		page->use = PAGE_USE_FREE;
		free_list_push(world, page);
		world->nr_free++;
	}
	world->use_count[PAGE_USE_FREE] = (int64_t)world->nr_free;
	world->reserve_pages = world->cfg.reserve_bytes / HW_PAGE_SIZE;
	if (world->reserve_pages > world->nr_free / 8)
		world->reserve_pages = world->nr_free / 8;
	return 0;
}

void mm_page_alloc_deinit(struct mm_world *world)
{
	lpv_cond_deinit(&world->wait_cond);
	lpv_mutex_deinit(&world->wait_lock);
	lpv_mutex_deinit(&world->zone_lock);
	lpv_free_table(world->pages, world->nr_frames, sizeof(*world->pages));
	world->pages = NULL;
}
