// SPDX-License-Identifier: MIT
/*
 * world.c - the host memory manager as a whole: options, creation and
 * teardown of struct mm_world, the arch hook registration, the 0x3d
 * (secure-storage access) handler, and the stats dump.
 *
 * Creation and teardown run on one thread with nothing else using the
 * world.  The arch ops pointer is published with release/acquire so that
 * it can be registered while the world is live (before the first protected
 * mm, by contract).  The 0x3d handler runs on whichever thread touched a
 * protected frame through the host view, possibly inside hw's SIGSEGV
 * handler: it takes no mm lock, only a page reference (and, if that was the
 * last reference, the allocator's zone_lock -- no host-view access happens
 * under zone_lock, so that cannot self-deadlock).
 */
#include "mm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/options.h"

/* The option table: lib/options rows built from MM_OPTIONS (mm.h). */
#define MM_OPTION_ROW(n, e, d, lo, hi, sz, text)			\
	{ #n, e, sz ? LPV_OPT_SIZE : LPV_OPT_UINT, d, lo, hi, text, NULL },
static const struct lpv_option mm_option_tmpl[] = {
	MM_OPTIONS(MM_OPTION_ROW)
};
#undef MM_OPTION_ROW

static void mm_option_table(struct mm_config *cfg,
			    struct lpv_option tab[ARRAY_SIZE(mm_option_tmpl)])
{
	size_t i = 0;

	memcpy(tab, mm_option_tmpl, sizeof(mm_option_tmpl));
#define MM_OPTION_BIND(n, e, d, lo, hi, sz, text) tab[i++].value = &cfg->n;
	MM_OPTIONS(MM_OPTION_BIND)
#undef MM_OPTION_BIND
}

int mm_config_init(struct mm_config *cfg)
{
	struct lpv_option tab[ARRAY_SIZE(mm_option_tmpl)];
	char err[160];
	int r;

	mm_option_table(cfg, tab);
	r = lpv_options_init(tab, ARRAY_SIZE(tab), err, sizeof(err));
	if (r)
		fprintf(stderr, "lazypv: mm: %s\n", err);
	return r;
}

void mm_config_print(const struct mm_config *cfg, FILE *f)
{
	struct lpv_option tab[ARRAY_SIZE(mm_option_tmpl)];
	struct mm_config copy = *cfg;

	mm_option_table(&copy, tab);
	lpv_options_print(f, "mm", tab, ARRAY_SIZE(tab), false);
}

/* ---- 0x3d: the host touched a protected frame ---- */

static int mm_pgm_secure_access(void *ctx, const struct hw_pgm_info *info)
{
	struct mm_world *world = ctx;
	const struct mm_arch_ops *arch =
		__atomic_load_n(&world->arch, __ATOMIC_ACQUIRE);
	struct page *page;
	int r;

	mm_stat_inc(world, pgm_3d);
	if (info->pfn >= world->nr_frames || !arch || !arch->make_accessible)
		return -EFAULT;
	page = mm_pfn_to_page(world, info->pfn);
	/* Free (nobody's memory) or frozen (an import holds it): the access
	 * cannot be made good from here. */
	if (!page_try_get(page))
		return -EAGAIN;
	r = arch->make_accessible(world->arch_ctx, page);
	mm_page_put(world, page);
	if (!r)
		mm_stat_inc(world, pgm_3d_resolved);
	return r;
}

void mm_arch_register(struct mm_world *world, const struct mm_arch_ops *ops,
		      void *ctx)
{
	world->arch_ctx = ctx;
	__atomic_store_n(&world->arch, ops, __ATOMIC_RELEASE);
}

/* ---- create / destroy ---- */

/* The world's own locks (the allocator's go with mm_page_alloc_deinit). */
static void mm_world_locks_deinit(struct mm_world *world)
{
	lpv_mutex_deinit(&world->mm_list_lock);
	lpv_cond_deinit(&world->task_cond);
	lpv_mutex_deinit(&world->task_lock);
	lpv_rwlock_deinit(&world->notifier_lock);
	lpv_mutex_deinit(&world->oom_lock);
	lpv_mutex_deinit(&world->memcg_lock);
}

int mm_world_create(struct hw_machine *hw, const struct mm_config *cfg,
		    struct mm_world **out)
{
	struct mm_world *world = calloc(1, sizeof(*world));
	int r;

	if (!world)
		return -ENOMEM;
	world->hw = hw;
	if (cfg) {
		world->cfg = *cfg;
	} else {
		r = mm_config_init(&world->cfg);
		if (r)
			goto err_free;
	}
	world->nr_frames = hw_nr_frames(hw);
	r = mm_page_alloc_init(world);
	if (r)
		goto err_free;
	lpv_mutex_init(&world->memcg_lock);
	lpv_mutex_init(&world->oom_lock);
	lpv_rwlock_init(&world->notifier_lock);
	lpv_mutex_init(&world->task_lock);
	lpv_cond_init(&world->task_cond);
	lpv_mutex_init(&world->mm_list_lock);
	world->mm_list.list_next = world->mm_list.list_prev = &world->mm_list;
	r = oom_reaper_start(world);
	if (r)
		goto err_locks;
	hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, mm_pgm_secure_access,
			world);
	*out = world;
	return 0;

err_locks:
	mm_world_locks_deinit(world);
	mm_page_alloc_deinit(world);
err_free:
	free(world);
	return r;
}

void mm_world_destroy(struct mm_world *world)
{
	if (!world)
		return;
	hw_pgm_register(world->hw, HW_PGM_SECURE_STORAGE_ACCESS, NULL, NULL);
	oom_reaper_stop(world);
	task_reap_all(world);
	if (world->nr_mms)
		fprintf(stderr, "lazypv: mm: %" PRIu64 " address space(s) "
			"still referenced at world destroy (leaked)\n",
			world->nr_mms);
	memcg_destroy_all(world);
	mm_world_locks_deinit(world);
	mm_page_alloc_deinit(world);
	free(world);
}

struct hw_machine *mm_world_hw(const struct mm_world *world)
{
	return world->hw;
}

const struct mm_config *mm_world_config(const struct mm_world *world)
{
	return &world->cfg;
}

/* ---- stats ---- */

void mm_stats_get(struct mm_world *world, struct mm_stats *out)
{
	memset(out, 0, sizeof(*out));
	/* The histogram before the longest stall: a stall recorded between
	 * the two reads raises the maximum, never leaves a bucket above it. */
	for (unsigned int b = 0; b < MM_STALL_BUCKETS; b++)
		out->oom_stall_hist[b] =
			atomic_load_relaxed(&world->stats.oom_stall_hist[b]);
#define MM_STAT_COPY(name, desc) \
	out->name = atomic_load_relaxed(&world->stats.name);
	MM_STATS(MM_STAT_COPY)
#undef MM_STAT_COPY
	out->nr_frames = world->nr_frames;
	for (int u = 0; u < PAGE_USE_NR; u++) {
		int64_t v = atomic_load_relaxed(&world->use_count[u]);

		out->use[u] = v > 0 ? (uint64_t)v : 0;
	}
	for (int r = 0; r < MM_LEAK_NR; r++) {
		int64_t v = atomic_load_relaxed(&world->leak_count[r]);

		out->leaked[r] = v > 0 ? (uint64_t)v : 0;
	}
	lpv_mutex_lock(&world->task_lock);
	for (struct task *t = world->tasks; t; t = t->next)
		out->nr_tasks++;
	lpv_mutex_unlock(&world->task_lock);
	lpv_mutex_lock(&world->mm_list_lock);
	out->nr_mms = world->nr_mms;
	lpv_mutex_unlock(&world->mm_list_lock);
}

/*
 * Stall buckets: 0-3 are 0, 1, 2 and 3 us; from there four per power of
 * two, bucket 4(e-1)+k holding [(4+k) << (e-2), (5+k) << (e-2)) us for
 * a stall whose highest set bit is e (e >= 2).
 */
unsigned int mm_stall_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned int e, b;

	if (us < 4)
		return (unsigned int)us;
	e = 63u - (unsigned int)__builtin_clzll(us);
	b = 4 * (e - 1) + (unsigned int)((us >> (e - 2)) & 3);
	return b < MM_STALL_BUCKETS ? b : MM_STALL_BUCKETS - 1;
}

uint64_t mm_stall_bucket_max_ns(unsigned int b)
{
	unsigned int e = b / 4 + 1, k = b % 4;

	if (b >= MM_STALL_BUCKETS - 1)
		return UINT64_MAX;	/* the last: unbounded */
	if (b < 4)
		return (uint64_t)(b + 1) * 1000;
	return ((uint64_t)(5 + k) << (e - 2)) * 1000;
}

uint64_t mm_stall_quantile_ns(const struct mm_stats *st, double q)
{
	uint64_t total = 0, seen = 0, want;
	double share;

	for (unsigned int b = 0; b < MM_STALL_BUCKETS; b++)
		total += st->oom_stall_hist[b];
	if (!total)
		return 0;
	/* The smallest count of stalls that is at least the share q. */
	share = q * (double)total;
	want = (uint64_t)share;
	if ((double)want < share - 1e-9)
		want++;
	if (want < 1)
		want = 1;
	for (unsigned int b = 0; b < MM_STALL_BUCKETS; b++) {
		seen += st->oom_stall_hist[b];
		if (seen >= want) {
			uint64_t ns = mm_stall_bucket_max_ns(b);

			return ns < st->oom_stall_max_ns ? ns :
			       st->oom_stall_max_ns;
		}
	}
	return st->oom_stall_max_ns;
}

static void stats_print_text(struct mm_world *world,
			     const struct mm_stats *st, FILE *f)
{
	char buf[32];

	fprintf(f, "mm: %" PRIu64 " frames (%s), reserve %" PRIu64
		" pages\n", st->nr_frames,
		lpv_format_size(st->nr_frames * HW_PAGE_SIZE, buf, sizeof(buf)),
		world->reserve_pages);
	fprintf(f, "  frames:");
	for (int u = 0; u < PAGE_USE_NR; u++)
		fprintf(f, " %s %" PRIu64, page_use_name(u), st->use[u]);
	fprintf(f, "\n  leaked:");
	for (int r = 0; r < MM_LEAK_NR; r++)
		fprintf(f, " %s %" PRIu64, mm_leak_reason_name(r),
			st->leaked[r]);
	fprintf(f, "\n  tasks %" PRIu64 ", address spaces %" PRIu64 "\n",
		st->nr_tasks, st->nr_mms);
#define MM_STAT_TEXT(name, desc) \
	fprintf(f, "  %-20s %12" PRIu64 "  %s\n", #name, st->name, desc);
	MM_STATS(MM_STAT_TEXT)
#undef MM_STAT_TEXT
	fprintf(f, "  %-20s %12" PRIu64 "  %s\n", "oom_stall_p50_ns",
		mm_stall_quantile_ns(st, 0.50), "allocation stall, median");
	fprintf(f, "  %-20s %12" PRIu64 "  %s\n", "oom_stall_p99_ns",
		mm_stall_quantile_ns(st, 0.99), "allocation stall, 99th percentile");
	lpv_mutex_lock(&world->memcg_lock);
	for (struct memcg *m = world->memcgs; m; m = m->next) {
		struct memcg_stats ms;

		memcg_stats_get(m, &ms);
		fprintf(f, "  memcg %s%s: usage %" PRIu64 " peak %" PRIu64
			" limit %" PRIu64 " failcnt %" PRIu64 " oom %" PRIu64
			" oom_kill %" PRIu64 " leaked %" PRIu64 " (pages)"
			" cpu_ns %" PRIu64 "\n",
			m->name, m->offline ? " (offline)" : "", ms.usage,
			ms.peak, ms.limit, ms.failcnt, ms.oom, ms.oom_kill,
			ms.leaked, ms.cpu_ns);
	}
	lpv_mutex_unlock(&world->memcg_lock);
	fprintf(f, "  options:\n");
	mm_config_print(&world->cfg, f);
}

static void stats_print_json(struct mm_world *world,
			     const struct mm_stats *st, FILE *f)
{
	bool first = true;

	fprintf(f, "{\"nr_frames\":%" PRIu64 ",\"reserve_pages\":%" PRIu64
		",\"nr_tasks\":%" PRIu64 ",\"nr_mms\":%" PRIu64 ",\"use\":{",
		st->nr_frames, world->reserve_pages, st->nr_tasks, st->nr_mms);
	for (int u = 0; u < PAGE_USE_NR; u++)
		fprintf(f, "%s\"%s\":%" PRIu64, u ? "," : "",
			page_use_name(u), st->use[u]);
	fprintf(f, "},\"leaked\":{");
	for (int r = 0; r < MM_LEAK_NR; r++)
		fprintf(f, "%s\"%s\":%" PRIu64, r ? "," : "",
			mm_leak_reason_name(r), st->leaked[r]);
	fprintf(f, "},\"stats\":{");
#define MM_STAT_JSON(name, desc)					\
	fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", #name, st->name); \
	first = false;
	MM_STATS(MM_STAT_JSON)
#undef MM_STAT_JSON
	fprintf(f, ",\"oom_stall_p50_ns\":%" PRIu64 ",\"oom_stall_p99_ns\":%"
		PRIu64, mm_stall_quantile_ns(st, 0.50),
		mm_stall_quantile_ns(st, 0.99));
	fprintf(f, "},\"memcgs\":[");
	lpv_mutex_lock(&world->memcg_lock);
	for (struct memcg *m = world->memcgs; m; m = m->next) {
		struct memcg_stats ms;

		memcg_stats_get(m, &ms);
		fprintf(f, "%s{\"name\":", m == world->memcgs ? "" : ",");
		lpv_json_str(f, m->name);
		fprintf(f, ",\"usage\":%" PRIu64 ",\"peak\":%" PRIu64
			",\"limit\":%" PRIu64 ",\"failcnt\":%" PRIu64
			",\"charges\":%" PRIu64 ",\"uncharges\":%" PRIu64
			",\"oom\":%" PRIu64 ",\"oom_kill\":%" PRIu64
			",\"leaked\":%" PRIu64 ",\"cpu_ns\":%" PRIu64
			",\"offline\":%s}",
			ms.usage, ms.peak, ms.limit, ms.failcnt, ms.charges,
			ms.uncharges, ms.oom, ms.oom_kill, ms.leaked, ms.cpu_ns,
			m->offline ? "true" : "false");
	}
	lpv_mutex_unlock(&world->memcg_lock);
	fprintf(f, "],\"options\":");
	{
		struct lpv_option tab[ARRAY_SIZE(mm_option_tmpl)];
		struct mm_config copy = world->cfg;

		mm_option_table(&copy, tab);
		lpv_options_print(f, "mm", tab, ARRAY_SIZE(tab), true);
	}
	fprintf(f, "}\n");
}

void mm_stats_print(struct mm_world *world, FILE *f, bool json)
{
	struct mm_stats st;

	mm_stats_get(world, &st);
	if (json)
		stats_print_json(world, &st, f);
	else
		stats_print_text(world, &st, f);
}
