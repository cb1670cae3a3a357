// SPDX-License-Identifier: MIT
/*
 * gmap.c - the guest address space: guest absolute address -> user address
 * in the VMM's mm, through a top-level table that lives in host frames.
 *
 * The table is what the UV marks when a configuration is created with this
 * gmap's ASCE: CREATE_SEC_CONF refuses an ASCE still marked by another
 * configuration, so a reboot that keeps the old configuration alive (lazy,
 * async) must give the new guest a *copy* of the table (gmap_replace_asce),
 * and a table whose configuration could not be destroyed is leaked, never
 * reused.  Small guests (< 2 GiB) get a segment-table ASCE.  Linux refuses
 * to replace one since 2023 (its host-to-guest map points into the segment
 * table, which a copy would leave stale); v2 did not check, and here the
 * lower levels are the host's own page tables, so a copy is safe: the
 * caller says whether to refuse (every mode but lazy does).
 *
 * Threads: translation runs on vCPU threads and in the UV's translator
 * (any thread) and reads the current table with acquire loads, no lock;
 * gmap->lock serialises table replacement.  A replaced table stays valid
 * memory until its new owner frees or leaks it, so a racing translation
 * through the old table still reads valid (identical) entries.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t *gmap_entries(struct gmap *gmap, struct page *table)
{
	/* The table is host memory, never secure: the host view is fine. */
	return mm_page_host(gmap->kvm->mod->world, table);
}

static int gmap_table_alloc(struct gmap *gmap, struct page **out)
{
	struct kvm_module *mod = gmap->kvm->mod;
	struct kvm_stor stor;
	int ret;

	ret = kvm_stor_alloc(mod, task_memcg(gmap->kvm->owner),
			     GMAP_TABLE_FRAMES * HW_PAGE_SIZE, PAGE_USE_KERNEL,
			     &stor);
	if (ret)
		return ret;
	*out = stor.first;
	return 0;
}

static void gmap_table_free(struct gmap *gmap, struct page *table)
{
	struct kvm_stor stor = { table, GMAP_TABLE_FRAMES };

	kvm_stor_free(gmap->kvm->mod, &stor);
}

static uint64_t gmap_make_asce(struct gmap *gmap, struct page *table)
{
	uint64_t origin = mm_page_to_pfn(gmap->kvm->mod->world, table)
			  << HW_PAGE_SHIFT;
	uint64_t type = gmap->shift == GMAP_SEGMENT_SHIFT ?
			GMAP_ASCE_TYPE_SEGMENT : GMAP_ASCE_TYPE_REGION3;

	return origin | UV_ASCE_P | type | (GMAP_TABLE_FRAMES - 1);
}

int gmap_create(struct kvm *kvm, uint64_t guest_len, uintptr_t uaddr,
		struct gmap **out)
{
	struct gmap *gmap;
	uint64_t *entries;
	uint64_t nr;
	int ret;

	gmap = calloc(1, sizeof(*gmap));
	if (!gmap)
		return -ENOMEM;
	gmap->kvm = kvm;
	gmap->guest_len = guest_len;
	gmap->uaddr = uaddr;
	gmap->shift = guest_len < (1ULL << 31) ? GMAP_SEGMENT_SHIFT
					       : GMAP_REGION3_SHIFT;
	nr = (guest_len + (1ULL << gmap->shift) - 1) >> gmap->shift;
	if (nr > GMAP_TABLE_ENTRIES) {
		ret = -E2BIG;
		goto out_free;
	}
	ret = gmap_table_alloc(gmap, &gmap->table);
	if (ret)
		goto out_free;
	entries = gmap_entries(gmap, gmap->table);
	for (uint64_t i = 0; i < GMAP_TABLE_ENTRIES; i++)
		entries[i] = i < nr ? uaddr + (i << gmap->shift)
				    : GMAP_ENTRY_INVALID;
	gmap->asce = gmap_make_asce(gmap, gmap->table);
	lpv_mutex_init(&gmap->lock);
	*out = gmap;
	return 0;

out_free:
	free(gmap);
	return ret;
}

void gmap_destroy(struct gmap *gmap)
{
	struct kvm_stor stor = { gmap->table, GMAP_TABLE_FRAMES };

	/*
	 * No table: a lazy shutdown handed it to the cleanup with its
	 * configuration.  A table the UV may still mark is never reused.
	 */
	if (gmap->table && gmap->leak_table)
		kvm_stor_leak(gmap->kvm->mod, &stor, MM_LEAK_conf_destroy_failed);
	else if (gmap->table)
		gmap_table_free(gmap, gmap->table);
	lpv_mutex_deinit(&gmap->lock);
	free(gmap);
}

int gmap_translate(struct gmap *gmap, uint64_t gaddr, uintptr_t *uaddr)
{
	struct page *table;
	uint64_t entry;

	if (gaddr >= gmap->guest_len)
		return -EFAULT;
	table = __atomic_load_n(&gmap->table, __ATOMIC_ACQUIRE);
	if (!table)
		return -EFAULT;		/* taken by a leaving config */
	entry = __atomic_load_n(&gmap_entries(gmap, table)[gaddr >> gmap->shift],
				__ATOMIC_RELAXED);
	if (entry & GMAP_ENTRY_INVALID)
		return -EFAULT;
	*uaddr = entry + (gaddr & ((1ULL << gmap->shift) - 1));
	return 0;
}

struct page *gmap_take_table(struct gmap *gmap)
{
	struct page *table;

	lpv_mutex_lock(&gmap->lock);
	table = gmap->table;
	__atomic_store_n(&gmap->table, NULL, __ATOMIC_RELEASE);
	lpv_mutex_unlock(&gmap->lock);
	return table;
}

uint64_t gmap_asce(struct gmap *gmap)
{
	return __atomic_load_n(&gmap->asce, __ATOMIC_ACQUIRE);
}

bool gmap_is_small(const struct gmap *gmap)
{
	return gmap->shift == GMAP_SEGMENT_SHIFT;
}

int gmap_replace_asce(struct gmap *gmap, bool segment_ok, struct page **old)
{
	struct page *table;
	int ret;

	if (gmap_is_small(gmap) && !segment_ok)
		return -EINVAL;
	ret = gmap_table_alloc(gmap, &table);
	if (ret)
		return ret;
	lpv_mutex_lock(&gmap->lock);
	/* Copy first, then publish: translators see a complete table. */
	memcpy(gmap_entries(gmap, table), gmap_entries(gmap, gmap->table),
	       GMAP_TABLE_FRAMES * HW_PAGE_SIZE);
	*old = gmap->table;
	__atomic_store_n(&gmap->table, table, __ATOMIC_RELEASE);
	__atomic_store_n(&gmap->asce, gmap_make_asce(gmap, table),
			 __ATOMIC_RELEASE);
	lpv_mutex_unlock(&gmap->lock);
	lpv_trace("PV REPLACE ASCE: new %llx",
		  (unsigned long long)gmap_asce(gmap));
	return 0;
}
