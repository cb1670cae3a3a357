// SPDX-License-Identifier: MIT
/*
 * memcg.c - memory cgroups: a flat set of page counters with a limit.
 *
 * Owns struct memcg: creation/destruction (the list is under
 * world->memcg_lock), charge/uncharge (lock-free atomics, any thread), and
 * the statistics.  A page is charged when it is allocated for a memcg and
 * uncharged when the frame goes back to the free list, so a destroyed
 * guest's memory stays charged to its owner until it is really freed
 * (invariant 4), and a frame leaked on purpose stays charged for good, as
 * in Linux.  A memcg cannot be destroyed while a task/mm refers to it or a
 * page that will be freed is charged to it; that is what keeps
 * page->memcg valid without a per-page reference.  With only leaked pages
 * charged, destroying it takes it offline (Linux's dying memcg): it stays
 * on the world's list, charged and counted, until the world goes.
 *
 * Charging can transiently overshoot by the racing chargers' pages before
 * they back out, like Linux's page_counter; the limit is never exceeded by
 * a charge that succeeded.
 */
#include "mm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void mm_stat_max(uint64_t *stat, uint64_t v)
{
	uint64_t old = atomic_load_relaxed(stat);

	while (v > old && !atomic_cmpxchg(stat, &old, v))
		;
}

int memcg_try_charge(struct memcg *memcg, uint64_t nr)
{
	uint64_t limit = atomic_load_relaxed(&memcg->limit);
	int64_t usage = atomic_add_return(&memcg->usage, (int64_t)nr);

	if (limit && (uint64_t)usage > limit) {
		atomic_sub_return(&memcg->usage, (int64_t)nr);
		atomic_add_relaxed(&memcg->failcnt, 1);
		mm_stat_inc(memcg->world, memcg_limit_hits);
		return -ENOMEM;
	}
	atomic_add_relaxed(&memcg->charges, nr);
	mm_stat_max(&memcg->peak, (uint64_t)usage);
	return 0;
}

void memcg_uncharge(struct memcg *memcg, uint64_t nr)
{
	int64_t usage = atomic_sub_return(&memcg->usage, (int64_t)nr);

	BUG_ON(usage < 0);
	atomic_add_relaxed(&memcg->uncharges, nr);
	mm_memory_event(memcg->world);
}

bool memcg_has_room(const struct memcg *memcg)
{
	uint64_t limit = atomic_load_relaxed(&memcg->limit);

	return !limit ||
	       (uint64_t)__atomic_load_n(&memcg->usage, __ATOMIC_SEQ_CST) <
	       limit;
}

void memcg_get(struct memcg *memcg)
{
	if (memcg)
		atomic_add_return(&memcg->refs, 1);
}

void memcg_put(struct memcg *memcg)
{
	if (memcg)
		BUG_ON(atomic_sub_return(&memcg->refs, 1) < 0);
}

static uint64_t bytes_to_pages(uint64_t bytes)
{
	return (bytes + HW_PAGE_SIZE - 1) / HW_PAGE_SIZE;
}

int memcg_create(struct mm_world *world, const char *name,
		 uint64_t limit_bytes, struct memcg **out)
{
	struct memcg *memcg;

	if (!name || !*name || strlen(name) >= sizeof(memcg->name))
		return -EINVAL;
	memcg = calloc(1, sizeof(*memcg));
	if (!memcg)
		return -ENOMEM;
	memcg->world = world;
	strcpy(memcg->name, name);
	memcg->limit = bytes_to_pages(limit_bytes);
	lpv_mutex_lock(&world->memcg_lock);
	memcg->next = world->memcgs;
	world->memcgs = memcg;
	lpv_mutex_unlock(&world->memcg_lock);
	lpv_trace("MM MEMCG CREATE: %s limit %" PRIu64 " pages", name,
		  memcg->limit);
	*out = memcg;
	return 0;
}

static void memcg_unlink_locked(struct mm_world *world, struct memcg *memcg)
{
	struct memcg **pp;

	lpv_mutex_assert_held(&world->memcg_lock);
	for (pp = &world->memcgs; *pp; pp = &(*pp)->next)
		if (*pp == memcg) {
			*pp = memcg->next;
			return;
		}
	BUG_ON(1);
}

int memcg_destroy(struct memcg *memcg)
{
	struct mm_world *world = memcg->world;
	int64_t usage, leaked;

	lpv_mutex_lock(&world->memcg_lock);
	/* Leaked first: a leak between the two loads only makes usage look
	 * live, never the other way round. */
	leaked = atomic_load_acquire(&memcg->leaked);
	usage = atomic_load_acquire(&memcg->usage);
	if (memcg->offline || usage != leaked ||
	    atomic_load_acquire(&memcg->refs) != 0) {
		lpv_mutex_unlock(&world->memcg_lock);
		return -EBUSY;
	}
	if (leaked) {
		/* Its leaked pages point at it for good: offline, not gone. */
		memcg->offline = true;
		lpv_mutex_unlock(&world->memcg_lock);
		lpv_trace("MM MEMCG OFFLINE: %s, %" PRId64 " leaked pages charged",
			  memcg->name, leaked);
		return 0;
	}
	memcg_unlink_locked(world, memcg);
	lpv_mutex_unlock(&world->memcg_lock);
	lpv_trace("MM MEMCG DESTROY: %s", memcg->name);
	free(memcg);
	return 0;
}

/* World teardown: whatever is left (the caller is past caring). */
void memcg_destroy_all(struct mm_world *world)
{
	while (world->memcgs) {
		struct memcg *memcg = world->memcgs;

		world->memcgs = memcg->next;
		free(memcg);
	}
}

void memcg_set_limit(struct memcg *memcg, uint64_t limit_bytes)
{
	atomic_store_relaxed(&memcg->limit, bytes_to_pages(limit_bytes));
	/* A raised limit may let waiting chargers through. */
	mm_memory_event(memcg->world);
}

void memcg_stats_get(const struct memcg *memcg, struct memcg_stats *out)
{
	int64_t usage = atomic_load_relaxed(&memcg->usage);

	out->usage = usage > 0 ? (uint64_t)usage : 0;
	out->peak = atomic_load_relaxed(&memcg->peak);
	out->limit = atomic_load_relaxed(&memcg->limit);
	out->failcnt = atomic_load_relaxed(&memcg->failcnt);
	out->charges = atomic_load_relaxed(&memcg->charges);
	out->uncharges = atomic_load_relaxed(&memcg->uncharges);
	out->oom = atomic_load_relaxed(&memcg->oom);
	out->oom_kill = atomic_load_relaxed(&memcg->oom_kill);
	out->leaked = (uint64_t)atomic_load_relaxed(&memcg->leaked);
	out->cpu_ns = atomic_load_relaxed(&memcg->cpu_ns);
}

void memcg_charge_cpu(struct memcg *memcg, uint64_t ns)
{
	atomic_add_relaxed(&memcg->cpu_ns, ns);
}

const char *memcg_name(const struct memcg *memcg)
{
	return memcg->name;
}

uint64_t memcg_usage(const struct memcg *memcg)
{
	int64_t usage = atomic_load_acquire(&memcg->usage);

	return usage > 0 ? (uint64_t)usage : 0;
}
