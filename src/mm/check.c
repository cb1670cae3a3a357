// SPDX-License-Identifier: MIT
/*
 * check.c - mm_check(): the validator that walks every struct page, the
 * free list, every memcg and every address space and compares what it finds
 * with the counters (ARCHITECTURE.md §4, invariants 1, 2 and 4).  A memcg's
 * usage counts every frame charged to it, leaked ones included.
 *
 * Meant for quiescent points (tests call it after every scenario): it takes
 * the locks it needs one at a time (memcg_lock for the page walk, zone_lock
 * for the free list, mm_list_lock then each mmap_lock) but does not freeze
 * the world, so a concurrent allocation could make it report a difference
 * that is only in flight.
 */
#include "mm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define CHECK_MAX_REPORTS 12

struct check {
	int bad;
};

static void __printf_like(2, 3) check_fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bad++ >= CHECK_MAX_REPORTS)
		return;
	fputs("mm_check: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void check_page(struct mm_world *world, struct check *c,
		       hw_pfn_t pfn, uint64_t *use, uint64_t *leak)
{
	struct page *page = &world->pages[pfn];
	enum page_use u = page_use(page);
	int ref = page_ref_count(page);

	if ((unsigned int)u >= PAGE_USE_NR) {
		check_fail(c, "pfn %#" PRIx64 ": bad use %d", pfn, u);
		return;
	}
	use[u]++;
	switch (u) {
	case PAGE_USE_FREE:
		if (ref != 0)
			check_fail(c, "pfn %#" PRIx64 ": free with refcount %d",
				   pfn, ref);
		if (page_test_flag(page, PG_arch_1))
			check_fail(c, "pfn %#" PRIx64 ": PG_arch_1 on a free "
				   "page (invariant 2)", pfn);
		if (page->flags)
			check_fail(c, "pfn %#" PRIx64 ": free with flags %#x",
				   pfn, page->flags);
		if (page->memcg)
			check_fail(c, "pfn %#" PRIx64 ": free but charged to %s",
				   pfn, page->memcg->name);
		break;
	case PAGE_USE_LEAKED:
		if (page->leak_reason >= MM_LEAK_NR)
			check_fail(c, "pfn %#" PRIx64 ": bad leak reason %d",
				   pfn, page->leak_reason);
		else
			leak[page->leak_reason]++;
		/* Leaked frames stay charged (never freed, never uncharged). */
		if (page->memcg) {
			page->memcg->check_pages++;
			page->memcg->check_leaked++;
		}
		break;
	default:
		/* In use: somebody holds it (a frozen count is transient). */
		if (ref <= 0)
			check_fail(c, "pfn %#" PRIx64 ": %s with refcount %d",
				   pfn, page_use_name(u), ref);
		if (page->memcg)
			page->memcg->check_pages++;
		break;
	}
}

static void check_free_list(struct mm_world *world, struct check *c,
			    uint64_t free_pages)
{
	uint32_t prev = MM_PFN_NONE;
	uint64_t n = 0;

	lpv_mutex_lock(&world->zone_lock);
	for (uint32_t pfn = world->free_head; pfn != MM_PFN_NONE;
	     prev = pfn, pfn = world->pages[pfn].next_free) {
		if (pfn >= world->nr_frames || n > world->nr_frames) {
			check_fail(c, "free list corrupt at pfn %#x", pfn);
			break;
		}
		if (world->pages[pfn].prev_free != prev)
			check_fail(c, "free list back link of pfn %#x is %#x, not %#x",
				   pfn, world->pages[pfn].prev_free, prev);
		if (page_use(&world->pages[pfn]) != PAGE_USE_FREE)
			check_fail(c, "pfn %#x on the free list is %s", pfn,
				   page_use_name(page_use(&world->pages[pfn])));
		n++;
	}
	if (n != world->nr_free || n != free_pages)
		check_fail(c, "free list has %" PRIu64 " pages, nr_free %"
			   PRIu64 ", %" PRIu64 " pages marked free", n,
			   world->nr_free, free_pages);
	lpv_mutex_unlock(&world->zone_lock);
}

int mm_check(struct mm_world *world)
{
	uint64_t use[PAGE_USE_NR] = { 0 }, leak[MM_LEAK_NR] = { 0 };
	uint64_t total = 0, leaked = 0, present = 0;
	struct check c = { 0 };

	/* Pages, with the memcg list stable for the per-memcg tally. */
	lpv_mutex_lock(&world->memcg_lock);
	for (struct memcg *m = world->memcgs; m; m = m->next)
		m->check_pages = m->check_leaked = 0;
	for (hw_pfn_t pfn = 0; pfn < world->nr_frames; pfn++)
		check_page(world, &c, pfn, use, leak);
	for (struct memcg *m = world->memcgs; m; m = m->next) {
		if (m->check_pages != memcg_usage(m))
			check_fail(&c, "memcg %s: usage %" PRIu64 " but %"
				   PRIu64 " pages charged (invariant 4)",
				   m->name, memcg_usage(m), m->check_pages);
		if ((int64_t)m->check_leaked != atomic_load_relaxed(&m->leaked))
			check_fail(&c, "memcg %s: %" PRIu64 " leaked pages "
				   "charged, counter %" PRId64, m->name,
				   m->check_leaked, atomic_load_relaxed(&m->leaked));
		if (m->offline && m->check_pages != m->check_leaked)
			check_fail(&c, "memcg %s: offline with %" PRIu64
				   " live pages charged", m->name,
				   m->check_pages - m->check_leaked);
	}
	lpv_mutex_unlock(&world->memcg_lock);

	/* Invariant 1: conservation, and each count against its counter. */
	for (int u = 0; u < PAGE_USE_NR; u++) {
		total += use[u];
		if ((int64_t)use[u] != atomic_load_relaxed(&world->use_count[u]))
			check_fail(&c, "%s: %" PRIu64 " pages, counter %" PRId64,
				   page_use_name(u), use[u],
				   atomic_load_relaxed(&world->use_count[u]));
	}
	if (total != world->nr_frames)
		check_fail(&c, "conservation: %" PRIu64 " pages accounted of %"
			   PRIu64, total, world->nr_frames);
	for (int r = 0; r < MM_LEAK_NR; r++) {
		leaked += leak[r];
		if ((int64_t)leak[r] != atomic_load_relaxed(&world->leak_count[r]))
			check_fail(&c, "leaked(%s): %" PRIu64 " pages, counter %"
				   PRId64, mm_leak_reason_name(r), leak[r],
				   atomic_load_relaxed(&world->leak_count[r]));
	}
	if (leaked != use[PAGE_USE_LEAKED])
		check_fail(&c, "leaked by reason %" PRIu64 " != leaked %" PRIu64,
			   leaked, use[PAGE_USE_LEAKED]);

	check_free_list(world, &c, use[PAGE_USE_FREE]);

	/* Address spaces: PTEs point at referenced anon pages. */
	lpv_mutex_lock(&world->mm_list_lock);
	for (struct mm *mm = world->mm_list.list_next; mm != &world->mm_list;
	     mm = mm->list_next) {
		uint64_t n;

		c.bad += mm_check_mm(world, mm, &n);
		present += n;
	}
	lpv_mutex_unlock(&world->mm_list_lock);
	if (present > use[PAGE_USE_ANON])
		check_fail(&c, "%" PRIu64 " present PTEs but only %" PRIu64
			   " anon pages", present, use[PAGE_USE_ANON]);

	if (c.bad > CHECK_MAX_REPORTS)
		fprintf(stderr, "mm_check: ... %d problems in all\n", c.bad);
	return c.bad ? -EUCLEAN : 0;
}
