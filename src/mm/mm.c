// SPDX-License-Identifier: MIT
/*
 * mm.c - address spaces: struct mm lifetime (mm_users / mm_count), VMAs,
 * page tables, munmap, exit_mmap and the mmu notifiers.
 *
 * Page tables are one flat PTE array per mapping (struct pt), shared by the
 * VMAs that a munmap split out of it, with one page-table lock (PTL) per
 * 512 PTEs, i.e. per 2 MiB "table page" of the mapping: faults on different
 * 2 MiB ranges never contend.  Locks:
 *
 *   mmap_lock (rwlock)  the VMA list and each VMA's bounds, next_addr,
 *                       `dead`; held for read to look at or change PTEs,
 *                       for write to add/remove/split VMAs (which excludes
 *                       every PTE user).
 *   PTL (mutex)         the content of the PTEs of its table; a PTE goes
 *                       from empty to present (fault) and back (zap) only
 *                       under it.
 *   mn_lock (rwlock)    the mmu notifier list; callbacks run under the
 *                       read side, so unregister waits for them.
 *
 * Order: mmap_lock > mn_lock > PTL > (allocator).  Zapping clears a whole
 * table under its PTL (calling the arch pte_clear hook once for the table's
 * present PTEs) and drops the pages' references after unlocking, like an
 * mmu_gather.
 *
 * Lifetime: mm_users counts the users of the address space (tasks, mmget
 * holders); the last mmput runs exit_mmap on the calling thread.  mm_count
 * counts holders of the struct; all users together hold one.  The struct is
 * freed by the last mmdrop.
 */
#include "mm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#define MM_TABLE_SIZE (1ULL << MM_TABLE_SHIFT)

/* Page table of one mapping, shared by the VMAs split from it. */
struct pt {
	int refs;			/* VMAs using it, under mmap_lock (w) */
	uintptr_t base;			/* 2 MiB aligned, PTE 0 maps it */
	uint64_t *ptes;
	size_t nr_ptes;
	struct lpv_mutex *ptls;		/* one per MM_PTES_PER_TABLE */
	size_t nr_ptls;
};

struct mm_world *mm_world_of(const struct mm *mm)
{
	return mm->world;
}

struct mm_context *mm_context(struct mm *mm)
{
	return &mm->context;
}

struct memcg *mm_memcg(const struct mm *mm)
{
	return mm->memcg;
}

uint64_t mm_rss(const struct mm *mm)
{
	int64_t rss = atomic_load_relaxed(&mm->rss);

	return rss > 0 ? (uint64_t)rss : 0;
}

int mm_users(const struct mm *mm)
{
	return atomic_load_acquire(&mm->users);
}

void mm_mmap_read_lock(struct mm *mm) { lpv_read_lock(&mm->mmap_lock); }
void mm_mmap_read_unlock(struct mm *mm) { lpv_read_unlock(&mm->mmap_lock); }
void mm_mmap_write_lock(struct mm *mm) { lpv_write_lock(&mm->mmap_lock); }
void mm_mmap_write_unlock(struct mm *mm) { lpv_write_unlock(&mm->mmap_lock); }

/* ---- lifetime ---- */

int mm_create(struct mm_world *world, struct memcg *memcg, struct mm **out)
{
	struct mm *mm = calloc(1, sizeof(*mm));

	if (!mm)
		return -ENOMEM;
	mm->world = world;
	mm->users = 1;
	mm->count = 1;		/* held by the users, collectively */
	lpv_rwlock_init(&mm->mmap_lock);
	lpv_rwlock_init(&mm->mn_lock);
	mm->next_addr = MM_MMAP_BASE;
	mm->memcg = memcg;
	memcg_get(memcg);
	lpv_mutex_init(&mm->context.deferred_lock);
	lpv_mutex_lock(&world->mm_list_lock);
	mm->list_next = world->mm_list.list_next;
	mm->list_prev = &world->mm_list;
	mm->list_next->list_prev = mm;
	world->mm_list.list_next = mm;
	world->nr_mms++;
	lpv_mutex_unlock(&world->mm_list_lock);
	mm_stat_inc(world, mms_created);
	*out = mm;
	return 0;
}

static void mm_free(struct mm *mm)
{
	struct mm_world *world = mm->world;

	BUG_ON(mm->vmas);
	/* Chunks left here are frames nobody will ever free. */
	WARN_ON_ONCE(mm->context.deferred_list != NULL);
	WARN_ON_ONCE(mm->notifiers != NULL);
	lpv_mutex_lock(&world->mm_list_lock);
	mm->list_prev->list_next = mm->list_next;
	mm->list_next->list_prev = mm->list_prev;
	world->nr_mms--;
	lpv_mutex_unlock(&world->mm_list_lock);
	lpv_mutex_deinit(&mm->context.deferred_lock);
	lpv_rwlock_deinit(&mm->mn_lock);
	lpv_rwlock_deinit(&mm->mmap_lock);
	memcg_put(mm->memcg);
	mm_stat_inc(world, mms_freed);
	free(mm);
}

void mmget(struct mm *mm)
{
	BUG_ON(atomic_add_return(&mm->users, 1) <= 1);
}

bool mmget_not_zero(struct mm *mm)
{
	int old = atomic_load_acquire(&mm->users);

	while (old > 0)
		if (atomic_cmpxchg(&mm->users, &old, old + 1))
			return true;
	return false;
}

static void exit_mmap(struct mm *mm);

void mmput(struct mm *mm)
{
	int left = atomic_sub_return(&mm->users, 1);

	BUG_ON(left < 0);
	if (left)
		return;
	exit_mmap(mm);
	mmdrop(mm);
}

void mmgrab(struct mm *mm)
{
	BUG_ON(atomic_add_return(&mm->count, 1) <= 1);
}

void mmdrop(struct mm *mm)
{
	int left = atomic_sub_return(&mm->count, 1);

	BUG_ON(left < 0);
	if (!left)
		mm_free(mm);
}

/* ---- VMAs and page tables ---- */

static struct pt *pt_create(uintptr_t start, uintptr_t end)
{
	struct pt *pt = calloc(1, sizeof(*pt));
	size_t nr_ptes;

	if (!pt)
		return NULL;
	pt->refs = 1;
	pt->base = start & ~(uintptr_t)(MM_TABLE_SIZE - 1);
	nr_ptes = (end - pt->base) >> HW_PAGE_SHIFT;
	pt->nr_ptls = (nr_ptes + MM_PTES_PER_TABLE - 1) / MM_PTES_PER_TABLE;
	pt->nr_ptes = nr_ptes;
	pt->ptes = lpv_alloc_table(nr_ptes, sizeof(*pt->ptes));
	pt->ptls = calloc(pt->nr_ptls, sizeof(*pt->ptls));
	if (!pt->ptes || !pt->ptls) {
		lpv_free_table(pt->ptes, nr_ptes, sizeof(*pt->ptes));
		free(pt->ptls);
		free(pt);
		return NULL;
	}
	for (size_t i = 0; i < pt->nr_ptls; i++)
		lpv_mutex_init(&pt->ptls[i]);
	return pt;
}

static void pt_put(struct pt *pt)
{
	if (--pt->refs)
		return;
	for (size_t i = 0; i < pt->nr_ptls; i++)
		lpv_mutex_deinit(&pt->ptls[i]);
	free(pt->ptls);
	lpv_free_table(pt->ptes, pt->nr_ptes, sizeof(*pt->ptes));
	free(pt);
}

static size_t pt_index(const struct pt *pt, uintptr_t addr)
{
	return (addr - pt->base) >> HW_PAGE_SHIFT;
}

struct vma *mm_find_vma(struct mm *mm, uintptr_t addr)
{
	for (struct vma *vma = mm->vmas; vma && vma->start <= addr;
	     vma = vma->next)
		if (addr < vma->end)
			return vma;
	return NULL;
}

int mm_vma_next(struct mm *mm, uintptr_t addr, uintptr_t *start,
		uintptr_t *end)
{
	for (struct vma *vma = mm->vmas; vma; vma = vma->next) {
		if (vma->end <= addr)
			continue;
		*start = vma->start > addr ? vma->start : addr;
		*end = vma->end;
		return 0;
	}
	return -ENOENT;
}

uint64_t *vma_ptep(const struct vma *vma, uintptr_t addr)
{
	return &vma->pt->ptes[pt_index(vma->pt, addr)];
}

struct lpv_mutex *vma_ptl(const struct vma *vma, uintptr_t addr)
{
	return &vma->pt->ptls[pt_index(vma->pt, addr) / MM_PTES_PER_TABLE];
}

int mm_mmap(struct mm *mm, uint64_t len, unsigned int prot, uintptr_t *addr)
{
	struct vma *vma, **pp;
	uintptr_t start;
	int r = 0;

	if (!len || (len & ~HW_PAGE_MASK) || !prot ||
	    (prot & ~(MM_PROT_READ | MM_PROT_WRITE)) || len > (1ULL << 44))
		return -EINVAL;
	vma = calloc(1, sizeof(*vma));
	if (!vma)
		return -ENOMEM;
	lpv_write_lock(&mm->mmap_lock);
	if (mm->dead) {
		r = -EFAULT;
		goto out_free;
	}
	start = mm->next_addr;
	if (len > MM_TASK_SIZE - start) {
		r = -ENOMEM;
		goto out_free;
	}
	vma->pt = pt_create(start, start + len);
	if (!vma->pt) {
		r = -ENOMEM;
		goto out_free;
	}
	vma->start = start;
	vma->end = start + len;
	vma->prot = prot;
	/* Bump allocation with a 2 MiB hole: addresses are never reused. */
	mm->next_addr = ((vma->end + MM_TABLE_SIZE - 1) &
			 ~(uintptr_t)(MM_TABLE_SIZE - 1)) + MM_TABLE_SIZE;
	for (pp = &mm->vmas; *pp; pp = &(*pp)->next)
		;
	*pp = vma;
	lpv_write_unlock(&mm->mmap_lock);
	*addr = start;
	return 0;
out_free:
	lpv_write_unlock(&mm->mmap_lock);
	free(vma);
	return r;
}

/*
 * Clear the present PTEs of [start, end) in @vma: per table, under its PTL,
 * clear each PTE and call the arch hook, then drop the references after
 * the unlock.  Caller holds mmap_lock for write.
 */
static void vma_zap(struct mm *mm, struct vma *vma, uintptr_t start,
		    uintptr_t end, bool full)
{
	struct mm_world *world = mm->world;
	const struct mm_arch_ops *arch =
		__atomic_load_n(&world->arch, __ATOMIC_ACQUIRE);
	struct page *batch[MM_PTES_PER_TABLE];
	uintptr_t addrs[MM_PTES_PER_TABLE];
	uintptr_t addr = start;

	while (addr < end) {
		uintptr_t next = (addr + MM_TABLE_SIZE) &
				 ~(uintptr_t)(MM_TABLE_SIZE - 1);
		struct lpv_mutex *ptl = vma_ptl(vma, addr);
		struct hw_unprotect_batch unprot;
		size_t n = 0;

		if (next > end)
			next = end;
		/* The arch hook's exports/destroys unprotect frames: lift
		 * their guards in one go, before the frames are freed. */
		hw_unprotect_batch_begin(world->hw, &unprot);
		lpv_mutex_lock(ptl);
		for (; addr < next; addr += HW_PAGE_SIZE) {
			uint64_t *ptep = vma_ptep(vma, addr);
			uint64_t pte = __atomic_exchange_n(ptep, 0,
							   __ATOMIC_ACQ_REL);
			struct page *page;

			if (!mm_pte_present(pte))
				continue;
			page = mm_pfn_to_page(world, mm_pte_pfn(pte));
			addrs[n] = addr;
			batch[n++] = page;
		}
		if (n && arch && arch->pte_clear)
			arch->pte_clear(world->arch_ctx, mm, addrs, batch, n,
					full);
		/* rss once per table, still under its lock. */
		if (n)
			atomic_sub_relaxed(&mm->rss, n);
		lpv_mutex_unlock(ptl);
		hw_unprotect_batch_end(&unprot);
		if (arch && arch->pte_clear)
			mm_stat_add(world, arch_pte_clears, n);
		mm_stat_add(world, ptes_cleared, n);
		mm_page_put_bulk(world, batch, n);
	}
}

static void mm_notify_invalidate(struct mm *mm, uintptr_t start,
				 uintptr_t end)
{
	lpv_read_lock(&mm->mn_lock);
	for (struct mmu_notifier *mn = mm->notifiers; mn; mn = mn->next)
		if (mn->ops->invalidate_range)
			mn->ops->invalidate_range(mn, mm, start, end);
	lpv_read_unlock(&mm->mn_lock);
}

int mm_munmap(struct mm *mm, uintptr_t addr, uint64_t len)
{
	uintptr_t end = addr + len;
	struct vma **pp, *spare;
	int r = 0;

	if (!len || (addr & ~HW_PAGE_MASK) || (len & ~HW_PAGE_MASK) ||
	    end < addr)
		return -EINVAL;
	/* At most one VMA is split in two: allocate that one up front so
	 * that nothing can fail once PTEs are being cleared. */
	spare = calloc(1, sizeof(*spare));
	if (!spare)
		return -ENOMEM;
	lpv_write_lock(&mm->mmap_lock);
	for (pp = &mm->vmas; *pp;) {
		struct vma *vma = *pp;
		uintptr_t s = addr > vma->start ? addr : vma->start;
		uintptr_t e = end < vma->end ? end : vma->end;

		if (vma->start >= end)
			break;
		if (s >= e) {
			pp = &vma->next;
			continue;
		}
		mm_notify_invalidate(mm, s, e);
		vma_zap(mm, vma, s, e, false);
		if (s == vma->start && e == vma->end) {
			*pp = vma->next;
			pt_put(vma->pt);
			free(vma);
			continue;
		}
		if (s == vma->start) {
			vma->start = e;
		} else if (e == vma->end) {
			vma->end = s;
		} else {
			/* Middle: the right part shares the page table. */
			*spare = *vma;
			spare->start = e;
			vma->end = s;
			vma->next = spare;
			vma->pt->refs++;
			spare = NULL;
		}
		pp = &vma->next;
	}
	lpv_write_unlock(&mm->mmap_lock);
	free(spare);
	return r;
}

/*
 * The last user is gone.  Linux order: mmu notifier release first (KVM
 * destroys the secure CPUs there, so the teardown can destroy instead of
 * export); for an OOM victim, the oom reaper's unmap (full = false: the
 * arch hook exports, whatever the VM's teardown design); then every PTE
 * left is cleared with full = true.
 */
static void exit_mmap(struct mm *mm)
{
	struct mm_world *world = mm->world;

	lpv_read_lock(&mm->mn_lock);
	for (struct mmu_notifier *mn = mm->notifiers; mn; mn = mn->next)
		if (mn->ops->release)
			mn->ops->release(mn, mm);
	lpv_read_unlock(&mm->mn_lock);

	/* Nobody can fault any more, but mmgrab holders may look. */
	lpv_write_lock(&mm->mmap_lock);
	if (__atomic_load_n(&mm->oom_victim, __ATOMIC_ACQUIRE)) {
		for (struct vma *vma = mm->vmas; vma; vma = vma->next)
			vma_zap(mm, vma, vma->start, vma->end, false);
		mm_stat_inc(world, oom_reaps);
	}
	while (mm->vmas) {
		struct vma *vma = mm->vmas;

		vma_zap(mm, vma, vma->start, vma->end, true);
		mm->vmas = vma->next;
		pt_put(vma->pt);
		free(vma);
	}
	mm->dead = true;
	lpv_write_unlock(&mm->mmap_lock);
	BUG_ON(atomic_load_relaxed(&mm->rss) != 0);
	mm_stat_inc(world, exit_mmaps);
	lpv_trace("MM EXIT_MMAP: mm %p", (void *)mm);
}

/* ---- mmu notifiers ---- */

int mmu_notifier_register(struct mmu_notifier *mn, struct mm *mm)
{
	int r = 0;

	if (!mn || !mn->ops)
		return -EINVAL;
	lpv_write_lock(&mm->mn_lock);
	if (mm_users(mm) <= 0) {
		r = -ESRCH;
	} else {
		mn->next = mm->notifiers;
		mm->notifiers = mn;
	}
	lpv_write_unlock(&mm->mn_lock);
	return r;
}

void mmu_notifier_unregister(struct mmu_notifier *mn, struct mm *mm)
{
	lpv_write_lock(&mm->mn_lock);
	for (struct mmu_notifier **pp = &mm->notifiers; *pp; pp = &(*pp)->next)
		if (*pp == mn) {
			*pp = mn->next;
			mn->next = NULL;
			break;
		}
	lpv_write_unlock(&mm->mn_lock);
}

/* ---- validation (mm_check) ---- */

/*
 * Every present PTE maps an allocated anon page that holds a reference;
 * the number of present PTEs equals rss.  Returns the number of problems
 * (printed); *present gets the count.
 */
int mm_check_mm(struct mm_world *world, struct mm *mm, uint64_t *present)
{
	uint64_t n = 0;
	int bad = 0;

	lpv_read_lock(&mm->mmap_lock);
	for (struct vma *vma = mm->vmas; vma; vma = vma->next) {
		if (vma->next && vma->next->start < vma->end) {
			fprintf(stderr, "mm_check: mm %p: VMAs overlap at %#lx\n",
				(void *)mm, (unsigned long)vma->next->start);
			bad++;
		}
		for (uintptr_t a = vma->start; a < vma->end; a += HW_PAGE_SIZE) {
			uint64_t pte = __atomic_load_n(vma_ptep(vma, a),
						       __ATOMIC_ACQUIRE);
			struct page *page;

			if (!mm_pte_present(pte))
				continue;
			n++;
			if (mm_pte_pfn(pte) >= world->nr_frames) {
				bad++;
				continue;
			}
			page = mm_pfn_to_page(world, mm_pte_pfn(pte));
			if (page_use(page) != PAGE_USE_ANON ||
			    page_ref_count(page) < 1) {
				if (bad++ < 8)
					fprintf(stderr, "mm_check: mm %p addr "
						"%#lx: pfn %#llx use %s ref %d\n",
						(void *)mm, (unsigned long)a,
						(unsigned long long)mm_pte_pfn(pte),
						page_use_name(page_use(page)),
						page_ref_count(page));
			}
		}
	}
	lpv_read_unlock(&mm->mmap_lock);
	if (n != mm_rss(mm)) {
		fprintf(stderr, "mm_check: mm %p: %llu present PTEs, rss %llu\n",
			(void *)mm, (unsigned long long)n,
			(unsigned long long)mm_rss(mm));
		bad++;
	}
	*present = n;
	return bad;
}
