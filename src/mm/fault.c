// SPDX-License-Identifier: MIT
/*
 * fault.c - host page faults and the accessors the layers above use to
 * reach user memory: mm_fault, mm_get_user_page (follow_page + fault),
 * mm_access (copy through the host view) and mm_pte_lock (get_locked_pte).
 *
 * Any thread holding an mm_users reference may fault.  A fault looks the
 * PTE up under mmap_lock (read) and the PTL, allocates and clears the new
 * frame with no PTL held (clearing goes through the host view, which may
 * raise 0x3d, and the 0x3d handler may need locks), and installs it under
 * the PTL, backing off if another thread won the race.  If the quick
 * allocation fails the fault drops mmap_lock before the waiting one (the
 * OOM victim's exit_mmap needs that lock for write) and starts over, as a
 * VM_FAULT_RETRY does.
 */
#include "mm_internal.h"

#include <errno.h>
#include <string.h>

/* Retries of mm_get_user_page racing with munmap before -EAGAIN. */
#define MM_GUP_TRIES 64

static int fault_alloc(struct mm *mm, bool may_wait, struct page **out)
{
	struct mm_world *world = mm->world;
	unsigned int gfp = may_wait ? MM_GFP_WAIT : MM_GFP_NOWARN;
	int r;

	r = mm_page_alloc_use(world, gfp, mm->memcg, PAGE_USE_ANON, out);
	if (r)
		return r;
	memset(mm_page_host(world, *out), 0, HW_PAGE_SIZE);
	return 0;
}

int mm_fault(struct mm *mm, uintptr_t addr, bool write, hw_pfn_t *pfn)
{
	struct mm_world *world = mm->world;
	struct page *page = NULL;
	struct lpv_mutex *ptl;
	struct vma *vma;
	uint64_t *ptep, pte;
	int r;

	addr &= HW_PAGE_MASK;
again:
	lpv_read_lock(&mm->mmap_lock);
	vma = mm_find_vma(mm, addr);
	if (!vma || (write && !(vma->prot & MM_PROT_WRITE))) {
		r = -EFAULT;
		goto out_unlock;
	}
	ptep = vma_ptep(vma, addr);
	ptl = vma_ptl(vma, addr);
	if (!page) {
		/* Unlocked peek: a present PTE cannot be cleared while we
		 * hold mmap_lock (zaps hold it for write). */
		pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
		if (mm_pte_present(pte))
			goto out_present;
		r = fault_alloc(mm, false, &page);
		if (r) {
			/* Drop mmap_lock across the wait, then start over. */
			lpv_read_unlock(&mm->mmap_lock);
			mm_stat_inc(world, fault_retries);
			r = fault_alloc(mm, true, &page);
			if (r)
				return task_should_stop() ? -EINTR : r;
			goto again;
		}
	}
	lpv_mutex_lock(ptl);
	pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
	if (!mm_pte_present(pte)) {
		pte = ((uint64_t)mm_page_to_pfn(world, page) << HW_PAGE_SHIFT) |
		      MM_PTE_PRESENT |
		      ((vma->prot & MM_PROT_WRITE) ? MM_PTE_WRITE : 0);
		__atomic_store_n(ptep, pte, __ATOMIC_RELEASE);
		atomic_add_relaxed(&mm->rss, 1);
		page = NULL;	/* the mapping owns our reference now */
		mm_stat_inc(world, faults);
	}
	lpv_mutex_unlock(ptl);
out_present:
	if (pfn)
		*pfn = mm_pte_pfn(pte);
	r = 0;
out_unlock:
	lpv_read_unlock(&mm->mmap_lock);
	if (page)
		mm_page_put(world, page);	/* lost the race (or no VMA) */
	return r;
}

int mm_get_user_page(struct mm *mm, uintptr_t addr, bool write,
		     struct page **out)
{
	struct mm_world *world = mm->world;
	struct mm_pte_ref ref;
	int r;

	for (int tries = 0; tries < MM_GUP_TRIES; tries++) {
		struct page *page = NULL;
		uint64_t pte;

		lpv_read_lock(&mm->mmap_lock);
		r = mm_pte_lock(mm, addr, &ref);
		if (r) {
			lpv_read_unlock(&mm->mmap_lock);
			return r;
		}
		pte = mm_pte_read(&ref);
		/* The mapping's reference cannot go away under the PTL; a
		 * frozen count (import in progress) makes us retry. */
		if (mm_pte_present(pte) && (!write || mm_pte_write(pte))) {
			page = mm_pfn_to_page(world, mm_pte_pfn(pte));
			if (!page_try_get(page))
				page = NULL;
		}
		mm_pte_unlock(&ref);
		lpv_read_unlock(&mm->mmap_lock);
		if (page) {
			*out = page;
			return 0;
		}
		if (!mm_pte_present(pte)) {
			r = mm_fault(mm, addr, write, NULL);
			if (r)
				return r;
		} else if (write && !mm_pte_write(pte)) {
			return -EFAULT;
		}
	}
	return -EAGAIN;
}

int mm_access(struct mm *mm, uintptr_t addr, void *buf, size_t len,
	      bool write)
{
	struct mm_world *world = mm->world;
	char *p = buf;

	while (len) {
		size_t off = addr & ~HW_PAGE_MASK;
		size_t n = HW_PAGE_SIZE - off < len ? HW_PAGE_SIZE - off : len;
		struct page *page;
		hw_pfn_t pfn;
		int r;

		r = mm_get_user_page(mm, addr, write, &page);
		if (r)
			return r;
		/* No lock held: the host-view access may raise 0x3d, and an
		 * unresolved one comes back as -EFAULT. */
		pfn = mm_page_to_pfn(world, page);
		if (write)
			r = hw_host_write(world->hw, pfn, off, p, n);
		else
			r = hw_host_read(world->hw, pfn, off, p, n);
		if (r) {
			mm_page_put(world, page);
			return r;
		}
		mm_page_put(world, page);
		addr += n;
		p += n;
		len -= n;
	}
	return 0;
}

int mm_pte_lock(struct mm *mm, uintptr_t addr, struct mm_pte_ref *ref)
{
	struct vma *vma = mm_find_vma(mm, addr & HW_PAGE_MASK);

	if (!vma)
		return -EFAULT;
	ref->ptep = vma_ptep(vma, addr & HW_PAGE_MASK);
	ref->ptl = vma_ptl(vma, addr & HW_PAGE_MASK);
	lpv_mutex_lock(ref->ptl);
	return 0;
}

void mm_pte_unlock(struct mm_pte_ref *ref)
{
	lpv_mutex_unlock(ref->ptl);
}

int mm_pte_peek(struct mm *mm, uintptr_t addr, uint64_t *pte)
{
	struct vma *vma = mm_find_vma(mm, addr & HW_PAGE_MASK);

	if (!vma)
		return -EFAULT;
	*pte = __atomic_load_n(vma_ptep(vma, addr & HW_PAGE_MASK),
			       __ATOMIC_ACQUIRE);
	return 0;
}
