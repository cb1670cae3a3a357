// SPDX-License-Identifier: MIT
/*
 * bench-mm.c - the host memory manager's own costs, beside the machine's
 * page-clear cost measured in the same run: page alloc+free pairs, the host
 * fault path on a populated arena, and exit_mmap of the arena.  The aim
 * (issue 2): bookkeeping under 300 ns per page, so that firmware costs,
 * not ours, dominate everything later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hw/hw.h"
#include "lib/lib.h"
#include "mm/mm.h"

struct env {
	struct hw_machine *hw;
	struct mm_world *world;
	uint64_t pages;			/* arena size in pages */
};

static int env_init(struct env *e, const struct bench_ctx *ctx)
{
	struct hw_config hc = { .mem_bytes = ctx->arena_bytes + (32ULL << 20) };
	int ret;

	e->pages = ctx->arena_bytes / HW_PAGE_SIZE;
	ret = hw_machine_create(&hc, &e->hw);
	if (ret)
		return ret;
	ret = mm_world_create(e->hw, NULL, &e->world);
	if (ret)
		hw_machine_destroy(e->hw);
	return ret;
}

static void env_fini(struct env *e)
{
	mm_world_destroy(e->world);
	hw_machine_destroy(e->hw);
}

/* Touch every frame once (memfd first touch), so later figures are the
 * steady state the rest of lazypv runs in. */
static int populate(struct env *e, double *ns_per_page)
{
	struct page **pages = calloc(e->pages, sizeof(*pages));
	uint64_t t0 = lpv_now_ns();
	int ret;

	if (!pages)
		return -ENOMEM;
	ret = mm_page_alloc_bulk(e->world, MM_GFP_ZERO, NULL, e->pages, pages);
	if (!ret)
		mm_page_put_bulk(e->world, pages, e->pages);
	*ns_per_page = (double)(lpv_now_ns() - t0) / (double)e->pages;
	free(pages);
	return ret;
}

static double alloc_free_pairs(struct env *e, struct memcg *memcg)
{
	enum { N = 200000 };
	uint64_t t0 = lpv_now_ns();

	for (int i = 0; i < N; i++) {
		struct page *p;

		if (mm_page_alloc(e->world, 0, memcg, &p))
			abort();
		mm_page_put(e->world, p);
	}
	return (double)(lpv_now_ns() - t0) / N;
}

/* Fault the whole arena into a task's mm; then (optionally) exit. */
static int fault_and_exit(struct env *e, struct memcg *memcg, double *fault_ns,
			  double *exit_ns)
{
	struct task *t;
	struct mm *mm;
	uintptr_t addr;
	uint64_t n = e->pages - e->pages / 16, t0;
	int ret;

	ret = task_create(e->world, NULL, memcg, 0, &t);
	if (ret)
		return ret;
	mm = task_get_mm(t);
	ret = mm_mmap(mm, n * HW_PAGE_SIZE, MM_PROT_READ | MM_PROT_WRITE, &addr);
	t0 = lpv_now_ns();
	for (uint64_t i = 0; !ret && i < n; i++)
		ret = mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL);
	*fault_ns = (double)(lpv_now_ns() - t0) / (double)n;
	mmput(mm);
	t0 = lpv_now_ns();
	if (!ret)
		ret = task_exit(t, 0);
	if (!ret)
		ret = task_wait(t, NULL);
	*exit_ns = (double)(lpv_now_ns() - t0);
	return ret;
}

int bench_mm(const struct bench_ctx *ctx)
{
	double *a = calloc(ctx->runs, sizeof(double));
	double *b = calloc(ctx->runs, sizeof(double));
	double *c = calloc(ctx->runs, sizeof(double));
	double *d = calloc(ctx->runs, sizeof(double));
	double clear, first, fault, ex;
	struct memcg *memcg;
	char note[128], sz[32];
	struct env e;
	int ret;

	if (!a || !b || !c || !d) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = env_init(&e, ctx);
	if (ret)
		goto out_free;
	ret = populate(&e, &first);
	if (ret)
		goto out_env;
	ret = memcg_create(e.world, "bench", 0, &memcg);
	if (ret)
		goto out_env;
	bench_report(ctx, "mm", "first touch of the arena", first, "ns/page",
		     "memfd populate + zero, one-time");
	{
		struct page *p;

		/* The clear floor, through the same host view. */
		if (mm_page_alloc_contig(e.world, 0, NULL, 4096, &p) == 0) {
			clear = bench_clear_ns_per_page(mm_page_host(e.world, p),
							4096, ctx->runs);
			for (int i = 0; i < 4096; i++)
				mm_page_put(e.world, p + i);
		} else {
			clear = 0;
		}
	}
	bench_report(ctx, "mm", "page clear (memset 4 KiB)", clear, "ns/page",
		     "the machine's floor, this run");

	for (unsigned int r = 0; r < ctx->runs; r++) {
		a[r] = alloc_free_pairs(&e, NULL);
		b[r] = alloc_free_pairs(&e, memcg);
		ret = fault_and_exit(&e, memcg, &c[r], &d[r]);
		if (ret)
			goto out_memcg;
	}
	bench_report(ctx, "mm", "page alloc+free pair", bench_median(a, ctx->runs),
		     "ns", "uncharged");
	bench_report(ctx, "mm", "page alloc+free pair, charged",
		     bench_median(b, ctx->runs), "ns", "memcg charge + uncharge");
	fault = bench_median(c, ctx->runs);
	snprintf(note, sizeof(note), "%.0f ns beyond the clear (%.2fx clear)",
		 fault - clear, clear > 0 ? fault / clear : 0);
	bench_report(ctx, "mm", "host fault (alloc+charge+zero+map)", fault,
		     "ns/page", note);
	ex = bench_median(d, ctx->runs);
	snprintf(note, sizeof(note), "%s faulted; %.0f ns/page",
		 lpv_format_size((e.pages - e.pages / 16) * HW_PAGE_SIZE, sz,
				 sizeof(sz)),
		 ex / (double)(e.pages - e.pages / 16));
	bench_report(ctx, "mm", "exit_mmap (task exit to wait)", ex / 1e6, "ms",
		     note);
	ret = mm_check(e.world);
out_memcg:
	if (memcg_destroy(memcg) && !ret)
		ret = -EBUSY;
out_env:
	env_fini(&e);
out_free:
	free(a);
	free(b);
	free(c);
	free(d);
	return ret;
}
