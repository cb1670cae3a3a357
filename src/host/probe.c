// SPDX-License-Identifier: MIT
/*
 * probe.c - what the soak and the failure-point sweep do to a host from
 * outside its VMMs: failure injection into the memory manager, a memory
 * hog (a memcg of its own whose pages it takes and gives back in bulk),
 * memcgs for VMMs to share (vmm_config.memcg), and the scan of the free
 * frames for a protected guest's plaintext.
 *
 * A hog belongs to one thread.  The scan and the plant run at quiescent
 * points only (no VMM, no cleanup in flight): they read and write free
 * frames through the host view without any lock, which is safe only while
 * nothing allocates.
 */
#include "host_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- failure injection ---- */

void host_fail_set(struct host *h, const struct mm_fail_config *cfg)
{
	mm_fail_set(h->world, cfg);
}

uint64_t host_fail_seen(struct host *h)
{
	return mm_fail_seen(h->world);
}

/* ---- the hog ---- */

struct host_hog {
	struct host *host;
	struct memcg *memcg;
	struct page **pages;		/* held: pages[0 .. held) */
	uint64_t held, max;
};

int host_hog_create(struct host *h, const char *name, struct host_hog **out)
{
	struct host_hog *hog = calloc(1, sizeof(*hog));
	int r = -ENOMEM;

	if (!hog)
		return r;
	hog->host = h;
	hog->max = hw_nr_frames(h->hw);
	hog->pages = calloc(hog->max, sizeof(*hog->pages));
	if (!hog->pages)
		goto undo_alloc;
	r = memcg_create(h->world, name, 0, &hog->memcg);
	if (r)
		goto undo_pages;
	*out = hog;
	return 0;

undo_pages:
	free(hog->pages);
undo_alloc:
	free(hog);
	return r;
}

int host_hog_take(struct host_hog *hog, uint64_t nr, bool wait)
{
	int r;

	if (nr > hog->max - hog->held)
		return -ENOMEM;
	r = mm_page_alloc_bulk(hog->host->world, wait ? MM_GFP_WAIT : 0,
			       hog->memcg, nr, hog->pages + hog->held);
	if (!r)
		hog->held += nr;
	return r;
}

uint64_t host_hog_held(const struct host_hog *hog)
{
	return hog->held;
}

void host_hog_release(struct host_hog *hog)
{
	mm_page_put_bulk(hog->host->world, hog->pages, hog->held);
	hog->held = 0;
}

int host_hog_destroy(struct host_hog *hog)
{
	int r;

	if (!hog)
		return 0;
	host_hog_release(hog);
	r = memcg_destroy(hog->memcg);
	free(hog->pages);
	free(hog);
	return r;
}

/* ---- shared memcgs ---- */

int host_memcg_create(struct host *h, const char *name, uint64_t limit_bytes,
		      struct memcg **out)
{
	return memcg_create(h->world, name, limit_bytes, out);
}

int host_memcg_destroy(struct memcg *memcg)
{
	return memcg ? memcg_destroy(memcg) : 0;
}

void host_memcg_stats(const struct memcg *memcg, struct memcg_stats *out)
{
	memcg_stats_get(memcg, out);
}

uint64_t host_free_frames(struct host *h)
{
	struct mm_stats st;

	mm_stats_get(h->world, &st);
	return st.use[PAGE_USE_FREE];
}

/* ---- plaintext in free frames ---- */

/*
 * Which frames of [@pfn, @pfn + @nr) the OS ever backed (mincore on the
 * host view): a frame it never populated was never written and reads as
 * zero, so the scan need not fault it in.  All of them if mincore fails.
 */
static void scan_resident(struct host *h, hw_pfn_t pfn, size_t nr,
			  unsigned char *vec)
{
	if (mincore(hw_host_page(h->hw, pfn), nr * HW_PAGE_SIZE, vec))
		memset(vec, 1, nr);
}

#define SCAN_BATCH 16384	/* frames per mincore call (64 MiB) */

uint64_t host_scan_free(struct host *h,
			bool (*match)(void *ctx, uint64_t word), void *ctx,
			uint64_t *scanned, FILE *log)
{
	unsigned char *vec = malloc(SCAN_BATCH);
	uint64_t nr = hw_nr_frames(h->hw), found = 0, n = 0;

	for (hw_pfn_t pfn = 0; pfn < nr; pfn++) {
		struct page *page = mm_pfn_to_page(h->world, pfn);
		const uint64_t *w;

		if (pfn % SCAN_BATCH == 0) {
			size_t len = nr - pfn < SCAN_BATCH ? nr - pfn : SCAN_BATCH;

			if (vec)
				scan_resident(h, pfn, len, vec);
		}
		if (page_use(page) != PAGE_USE_FREE)
			continue;
		n++;
		/* A free frame is never protected (invariant 2): the plain
		 * host-view pointer may be read at a quiescent point. */
		if (hw_frame_is_protected(h->hw, pfn)) {
			fprintf(log, "lazypv: free frame %#" PRIx64 " is protected in the host view\n",
				(uint64_t)pfn);
			found++;
			continue;
		}
		if (vec && !(vec[pfn % SCAN_BATCH] & 1))
			continue;
		w = hw_host_page(h->hw, pfn);
		if (match(ctx, w[0]) || match(ctx, w[HW_PAGE_SIZE / 8 - 1])) {
			fprintf(log, "lazypv: free frame %#" PRIx64 " holds a protected guest's plaintext (0x%016" PRIx64 " ... 0x%016" PRIx64 ")\n",
				(uint64_t)pfn, w[0], w[HW_PAGE_SIZE / 8 - 1]);
			found++;
		}
	}
	free(vec);
	*scanned = n;
	return found;
}

int host_plant_free(struct host *h, uint64_t word)
{
	for (hw_pfn_t pfn = hw_nr_frames(h->hw); pfn-- > 0;) {
		if (page_use(mm_pfn_to_page(h->world, pfn)) != PAGE_USE_FREE)
			continue;
		return hw_host_write(h->hw, pfn, 0, &word, sizeof(word));
	}
	return -ENOSPC;
}
