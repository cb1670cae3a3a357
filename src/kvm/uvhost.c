// SPDX-License-Identifier: MIT
/*
 * uvhost.c - the host kernel's side of secure pages (arch/s390/kernel/uv.c
 * and the gmap fault helpers): making a guest page secure (import, unpack),
 * exporting and destroying pages with PG_arch_1 kept exact, the arch hooks
 * the mm calls at unmap and on a host 0x3d, the 0x3e/0x3f handlers, and
 * the batched range walk that destroys an address space's secure pages.
 *
 * PG_arch_1 ("may be secure") is set before an import UVC is issued and
 * cleared only after a successful export or destroy ("owned" variants),
 * so it may over-report but never under-report; the mm refuses to free a
 * page that carries it.
 *
 * Locking: the import path takes mmap_lock (read), the PTL of the page and
 * the page lock (trylock: contention answers -EAGAIN), freezes the refcount
 * at the mapping's single reference, and issues one UVC attempt -- it never
 * spins while holding those.  The export/destroy helpers need only a page
 * reference.  The unmap hook runs under the PTL and issues only per-page
 * UVCs, which take no mm lock.  Threads: any.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

static struct kvm_vcpu *vcpu_of_ctx(void)
{
	return kvm_current_vcpu();
}

/* ---- export / destroy, "owned" variants ---- */

/* Old firmware reports "not secure" for a destroy/export of a non-secure
 * page; for the host that is success (nothing left to do). */
static bool uv_rc_not_secure(uint16_t rc, uint16_t rrc)
{
	return rc == UVC_RC_NOT_SECURE && rrc == UVC_RRC_NOT_SECURE;
}

int kvm_uv_destroy_owned(struct kvm_module *mod, struct page *page)
{
	uint16_t rc, rrc;
	int ret;

	page_get(page);
	ret = uv_destroy_page(mod->uv, mm_page_to_pfn(mod->world, page), &rc, &rrc);
	if (ret && uv_rc_not_secure(rc, rrc))
		ret = 0;
	if (!ret) {
		page_clear_flag(page, PG_arch_1);
		kvm_stat_inc(mod, destroys);
	}
	mm_page_put(mod->world, page);
	return ret;
}

int kvm_uv_export_owned(struct kvm_module *mod, struct page *page)
{
	uint16_t rc, rrc;
	int ret;

	page_get(page);
	ret = uv_convert_from_secure(mod->uv, mm_page_to_pfn(mod->world, page),
				     &rc, &rrc);
	if (ret && uv_rc_not_secure(rc, rrc))
		ret = 0;
	if (!ret) {
		page_clear_flag(page, PG_arch_1);
		kvm_stat_inc(mod, exports);
	}
	mm_page_put(mod->world, page);
	return ret;
}

/* ---- the arch hooks ---- */

/*
 * An mm with no protected config left may still map pages with PG_arch_1
 * ("may be secure"): pages a walk could not destroy (the walk leaves
 * them, as s390_uv_destroy_range does, to their next user -- a normal
 * guest's 0x3d, or the next guest's import).  When such a page is
 * unmapped there is no next user: export it (cheap if the UV already
 * made it non-secure), as arch_make_page_accessible would, so that the
 * flag never reaches the free list; if that fails the UV may still own
 * it, so it is leaked here.
 */
static void kvm_pte_clear_unprotected(struct kvm_module *mod,
				      struct page *const *pages, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!page_test_flag(pages[i], PG_arch_1))
			continue;
		if (kvm_uv_export_owned(mod, pages[i]) == 0)
			continue;
		mm_page_leak(mod->world, pages[i], MM_LEAK_export_failed);
	}
}

/*
 * ptep_get_and_clear_full, a page table at a time: present PTEs of a
 * protected mm are going away.  As in the kernel, every present page gets
 * its UVC, secure or not (the UV answers quickly for a non-secure one);
 * what it is depends on the teardown the VM's kernel does
 * (mm_context(mm)->pv_teardown) and on @full (mm teardown):
 *   munmap, or full before the series (SYNC): export (content kept);
 *   full in v2 (LAZY) unless pv_sync_destroy: set the page aside for the
 *     cleanup thread (uv_destroy_page_lazy), one page at a time;
 *   full from 6.0 (SYNC_60, ASYNC): destroy -- the mmu-notifier release
 *     destroyed the CPUs first -- and export only if that fails;
 *   any unmap in INSTANT: only pages with PG_arch_1, destroy, else
 *     export (kvm_instant_unmap_page).
 * A page whose export fails is leaked here, on purpose: the UV may still
 * own it.  Unprotected: kvm_pte_clear_unprotected.
 */
static void kvm_arch_pte_clear(void *ctx, struct mm *mm,
			       const uintptr_t *addrs,
			       struct page *const *pages, size_t n, bool full)
{
	struct kvm_module *mod = ctx;
	struct mm_context *mc = mm_context(mm);
	uint8_t teardown;

	(void)addrs;
	if (!mm_is_protected(mm)) {
		kvm_pte_clear_unprotected(mod, pages, n);
		return;
	}
	teardown = __atomic_load_n(&mc->pv_teardown, __ATOMIC_ACQUIRE);
	if (teardown == KVM_TEARDOWN_INSTANT) {
		/* Every unmap: only pages that may be secure get a UVC. */
		for (size_t i = 0; i < n; i++)
			kvm_instant_unmap_page(mod, pages[i]);
		return;
	}
	if (!full)
		teardown = KVM_TEARDOWN_EXPORT;
	if (teardown == KVM_TEARDOWN_SET_ASIDE && READ_ONCE(mc->pv_sync_destroy))
		teardown = KVM_TEARDOWN_EXPORT;
	for (size_t i = 0; i < n; i++) {
		if (teardown == KVM_TEARDOWN_SET_ASIDE) {
			kvm_pv_set_aside_page(mod, mm, pages[i]);
			continue;
		}
		if (teardown == KVM_TEARDOWN_DESTROY &&
		    kvm_uv_destroy_owned(mod, pages[i]) == 0)
			continue;
		if (kvm_uv_export_owned(mod, pages[i]) == 0) {
			if (full)
				kvm_stat_inc(mod, exit_exports);
			continue;
		}
		/* The UV may still own it: never reuse it. */
		mm_page_leak(mod->world, pages[i], MM_LEAK_export_failed);
	}
}

/*
 * INSTANT (lazypv's own): the host touches a frame of an instant address
 * space while one of its configs is set aside -- the VMM loading the next
 * image after a reboot.  A frame of a set-aside config (no CPUs) is
 * destroyed rather than exported: its data is dead, an export would
 * encrypt it for nobody.  A running guest's frame refuses the destroy
 * (its config has CPUs) and is pinned or exported as usual.
 */
static bool kvm_instant_host_access_destroys(struct kvm_module *mod,
					     struct page *page)
{
	struct task *cur = task_current();
	struct mm *mm = cur ? task_get_mm(cur) : NULL;
	bool done = false;

	if (!mm)
		return false;
	if (kvm_mm_is_instant(mm) && kvm_instant_mm_pending_bytes(mod, mm) &&
	    kvm_instant_destroy_on_demand(mod, page) == 0)
		done = true;
	mmput(mm);
	return done;
}

/*
 * arch_make_page_accessible, reached from the mm's 0x3d handler (host
 * touched a secure frame) and from a normal guest's 0x3d: pin it shared if
 * the guest shared it, else export it (instant: destroy it first if its
 * config is set aside).  Called with a page reference and no mm lock.
 */
static int kvm_arch_make_accessible(void *ctx, struct page *page)
{
	struct kvm_module *mod = ctx;
	hw_pfn_t pfn = mm_page_to_pfn(mod->world, page);
	uint16_t rc, rrc;
	int ret;

	if (!page_test_flag(page, PG_arch_1))
		return hw_frame_is_protected(mod->hw, pfn) ? -EFAULT : 0;
	while (!page_trylock(page))
		sched_yield();
	if (kvm_instant_host_access_destroys(mod, page)) {
		ret = 0;		/* PG_arch_1 cleared by the destroy */
	} else if (uv_pin_shared(mod->uv, pfn, &rc, &rrc) == 0) {
		page_clear_flag(page, PG_arch_1);
		ret = 0;
	} else {
		ret = uv_convert_from_secure(mod->uv, pfn, &rc, &rrc);
		if (ret && uv_rc_not_secure(rc, rrc))
			ret = 0;
		if (!ret) {
			page_clear_flag(page, PG_arch_1);
			kvm_stat_inc(mod, exports);
		}
	}
	page_unlock(page);
	if (!ret)
		kvm_stat_inc(mod, pgm_3d);
	return ret;
}

const struct mm_arch_ops kvm_arch_ops = {
	.pte_clear = kvm_arch_pte_clear,
	.make_accessible = kvm_arch_make_accessible,
};

/* ---- making pages secure ---- */

/*
 * Two configurations share this mm (one set aside): a page still owned by
 * the old one must be exported before the new one imports it -- unless the
 * UV transfers ownership itself (MISC), and not for UNPIN, which is not a
 * real import.
 */
static bool should_export_before_import(struct kvm_module *mod,
					struct uv_cb_header *uvcb,
					struct kvm *kvm)
{
	if (uvcb->cmd == UVC_CMD_UNPIN_PAGE_SHARED || mod->has_misc)
		return false;
	/* INSTANT destroys the frame on demand when the import finds it
	 * secure for another config instead (kvm_make_secure). */
	if (kvm_mm_is_instant(kvm->mm))
		return false;
	return atomic_load_acquire(&mm_context(kvm->mm)->protected_count) > 1;
}

int kvm_make_secure(struct kvm *kvm, uint64_t gaddr, struct uv_cb_header *uvcb)
{
	struct kvm_module *mod = kvm->mod;
	struct mm_pte_ref ref;
	struct page *page;
	uintptr_t uaddr;
	uint64_t pte;
	int cc, ret;

	ret = gmap_translate(kvm->gmap, gaddr, &uaddr);
	if (ret)
		return ret;
	mm_mmap_read_lock(kvm->mm);
	ret = mm_pte_lock(kvm->mm, uaddr, &ref);
	if (ret)
		goto out_mmap;
	pte = mm_pte_read(&ref);
	if (!mm_pte_present(pte) || !mm_pte_write(pte)) {
		ret = -ENXIO;		/* fault it in, then retry */
		goto out_pte;
	}
	page = mm_pfn_to_page(mod->world, mm_pte_pfn(pte));
	if (!page_trylock(page)) {
		ret = -EAGAIN;
		goto out_pte;
	}
	if (should_export_before_import(mod, uvcb, kvm)) {
		uint16_t rc, rrc;

		/* Result ignored: a page not secure for anyone is fine. */
		if (uv_convert_from_secure(mod->uv, mm_pte_pfn(pte), &rc, &rrc) == 0)
			kvm_stat_inc(mod, export_before_import);
	}
	/* Only the mapping may hold the page while it changes hands. */
	if (!page_ref_freeze(page, 1)) {
		ret = -EAGAIN;
		goto out_unlock;
	}
	page_set_flag(page, PG_arch_1);
	cc = uv_call_once(mod->uv, uvcb);
	page_ref_unfreeze(page, 1);
	if (cc == UVC_CC_ERROR && uvcb->rc == KVM_UV_RC_OTHER_CONFIG &&
	    kvm_mm_is_instant(kvm->mm) &&
	    uvcb->cmd != UVC_CMD_UNPIN_PAGE_SHARED &&
	    kvm_instant_destroy_on_demand(mod, page) == 0) {
		/*
		 * Still secure for an old config (no CPUs): destroyed now,
		 * ahead of the workers.  One more attempt, no more: a frame
		 * the refusal was about for another reason is refused again.
		 */
		if (!page_ref_freeze(page, 1)) {
			ret = -EAGAIN;
			goto out_unlock;
		}
		page_set_flag(page, PG_arch_1);
		uvcb->rc = uvcb->rrc = 0;
		cc = uv_call_once(mod->uv, uvcb);
		page_ref_unfreeze(page, 1);
	}
	ret = uv_cc_errno(cc, uvcb->rc);
	if (ret == -EAGAIN)
		kvm_stat_inc(mod, import_retries);
	else if (!ret)
		kvm_stat_inc(mod, imports);
out_unlock:
	page_unlock(page);
out_pte:
	mm_pte_unlock(&ref);
out_mmap:
	mm_mmap_read_unlock(kvm->mm);
	return ret;
}

int kvm_convert_to_secure(struct kvm *kvm, uint64_t gaddr,
			  struct uv_cb_header *uvcb)
{
	unsigned int faults = 0;

	for (;;) {
		uintptr_t uaddr;
		int ret = kvm_make_secure(kvm, gaddr, uvcb);

		if (ret == -ENXIO && faults++ < 8) {
			/*
			 * No PTE, or the UV could not translate the address
			 * (rc 0x10a): fault the page in (gmap_fault) and retry.
			 * Bounded: a page that stays unmapped is an error.
			 */
			ret = gmap_translate(kvm->gmap, gaddr, &uaddr);
			if (!ret)
				ret = mm_fault(kvm->mm, uaddr, true, NULL);
			if (ret)
				return ret;
			continue;
		}
		if (ret != -EAGAIN)
			return ret;
		if (task_should_stop())
			return -EINTR;
		sched_yield();
	}
}

/* The page behind @gaddr with a reference (follow_page), or NULL. */
static struct page *kvm_gaddr_page(struct kvm *kvm, uint64_t gaddr)
{
	struct page *page = NULL;
	struct mm_pte_ref ref;
	uintptr_t uaddr;
	uint64_t pte;

	if (gmap_translate(kvm->gmap, gaddr, &uaddr))
		return NULL;
	mm_mmap_read_lock(kvm->mm);
	if (mm_pte_lock(kvm->mm, uaddr, &ref) == 0) {
		pte = mm_pte_read(&ref);
		if (mm_pte_present(pte)) {
			page = mm_pfn_to_page(kvm->mod->world, mm_pte_pfn(pte));
			page_get(page);
		}
		mm_pte_unlock(&ref);
	}
	mm_mmap_read_unlock(kvm->mm);
	return page;
}

int kvm_destroy_page(struct kvm *kvm, uint64_t gaddr)
{
	struct page *page = kvm_gaddr_page(kvm, gaddr);
	int ret;

	if (!page)
		return 0;	/* gone meanwhile: the retry will fault it in */
	/* Destroy works while the old config has no CPUs; the export
	 * fallback covers a racing destroy + re-import by another CPU. */
	ret = kvm_uv_destroy_owned(kvm->mod, page);
	if (ret)
		ret = kvm_uv_export_owned(kvm->mod, page);
	else if (kvm_mm_is_instant(kvm->mm))
		kvm_stat_inc(kvm->mod, instant_on_demand);
	mm_page_put(kvm->mod->world, page);
	return ret;
}

/* A normal guest's 0x3d, on the gmap path: the host 0x3d's pin-or-export
 * (arch_make_page_accessible) on the page the gmap maps there now. */
int kvm_make_accessible_gaddr(struct kvm *kvm, uint64_t gaddr)
{
	struct page *page = kvm_gaddr_page(kvm, gaddr);
	int ret;

	if (!page)
		return 0;
	ret = kvm_arch_make_accessible(kvm->mod, page);
	mm_page_put(kvm->mod->world, page);
	return ret;
}

/* ---- program interruptions raised by the SIE loop ---- */

int kvm_pgm_3e(void *ctx, const struct hw_pgm_info *info)
{
	struct kvm_vcpu *vcpu = vcpu_of_ctx();
	struct kvm *kvm;
	struct uv_cb_cts uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_CONV_TO_SEC_STOR,
	};
	int ret;

	(void)ctx;
	if (!vcpu)
		return -EFAULT;		/* only gmap faults are expected */
	kvm = vcpu->kvm;
	uvcb.guest_handle = READ_ONCE(kvm->pv.handle);
	uvcb.gaddr = info->addr & HW_PAGE_MASK;
	ret = kvm_convert_to_secure(kvm, uvcb.gaddr, &uvcb.header);
	if (!ret)
		kvm_stat_inc(kvm->mod, pgm_3e);
	return ret;
}

int kvm_pgm_3f(void *ctx, const struct hw_pgm_info *info)
{
	struct kvm_vcpu *vcpu = vcpu_of_ctx();
	int ret;

	(void)ctx;
	if (!vcpu)
		return -EFAULT;
	ret = kvm_destroy_page(vcpu->kvm, info->addr & HW_PAGE_MASK);
	if (!ret)
		kvm_stat_inc(vcpu->kvm->mod, pgm_3f);
	return ret;
}

/* ---- the range walk ---- */

struct gather {
	uintptr_t next;		/* where the walk resumes */
	size_t nr;
	struct page *pages[4096];
};

/*
 * Collect up to @max present pages (each with a reference), from @g->next
 * on, skipping the holes between VMAs: s390_gather_pages, one entry per
 * present PTE whatever the page's state.
 */
static void gather_pages(struct kvm_module *mod, struct mm *mm, uintptr_t end,
			 size_t max, struct gather *g)
{
	uintptr_t vma_end = 0;
	struct mm_pte_ref ref;

	g->nr = 0;
	mm_mmap_read_lock(mm);
	while (g->next < end && g->nr < max) {
		uintptr_t addr = g->next;
		uint64_t pte;

		if (addr >= vma_end) {
			uintptr_t vs;

			if (mm_vma_next(mm, addr, &vs, &vma_end) || vs >= end) {
				g->next = end;
				break;
			}
			addr = vs;
		}
		g->next = addr + HW_PAGE_SIZE;
		if (mm_pte_lock(mm, addr, &ref))
			continue;
		pte = mm_pte_read(&ref);
		if (mm_pte_present(pte)) {
			struct page *page = mm_pfn_to_page(mod->world,
							   mm_pte_pfn(pte));

			page_get(page);
			g->pages[g->nr++] = page;
		}
		mm_pte_unlock(&ref);
	}
	mm_mmap_read_unlock(mm);
	kvm_stat_add(mod, walk_pages, g->nr);	/* (gathered = destroyed) */
}

static int destroy_range(struct kvm_module *mod, struct mm *mm,
			 uintptr_t start, uintptr_t end, bool interruptible,
			 int users)
{
	size_t max = mod->params.gather_pages;
	struct gather *g = malloc(sizeof(*g));
	struct hw_unprotect_batch batch;
	struct trace_span span;
	uint64_t left;
	int ret = 0;

	if (!g)
		return -ENOMEM;
	if (max > ARRAY_SIZE(g->pages))
		max = ARRAY_SIZE(g->pages);
	/* Progress: at most the pages mapped now, never more than the
	 * range holds; what the walk does not meet is given up at the end. */
	left = mm_rss(mm);
	if (left > (end - start) / HW_PAGE_SIZE)
		left = (end - start) / HW_PAGE_SIZE;
	kvm_cleanup_pending_add(mod, mm, left);
	trace_span_init(&span, TRACE_PID_KERNEL, trace_tid(), "destroy walk",
			"pages", KVM_TRACE_SPAN_PAGES);
	g->next = start & HW_PAGE_MASK;
	while (g->next < end) {
		uint64_t done;

		gather_pages(mod, mm, end, max, g);
		hw_unprotect_batch_begin(mod->hw, &batch);
		/* A failure leaves PG_arch_1: the frame is never reused. */
		for (size_t i = 0; i < g->nr; i++)
			ignore_result(kvm_uv_destroy_owned(mod, g->pages[i]));
		hw_unprotect_batch_end(&batch);	/* before the refs go */
		for (size_t i = 0; i < g->nr; i++)
			mm_page_put(mod->world, g->pages[i]);
		done = g->nr < left ? g->nr : left;
		kvm_cleanup_pending_sub(mod, mm, done, g->nr);
		left -= done;
		trace_span_add(&span, g->nr);
		if (interruptible && task_should_stop()) {
			ret = -EINTR;
			break;
		}
		if (users && mm_users(mm) <= users)
			break;
		sched_yield();	/* cond_resched() between batches */
	}
	kvm_cleanup_pending_sub(mod, mm, left, 0);
	trace_span_flush(&span);
	free(g);
	return ret;
}

int kvm_uv_destroy_range(struct kvm_module *mod, struct mm *mm,
			 uintptr_t start, uintptr_t end, bool interruptible)
{
	return destroy_range(mod, mm, start, end, interruptible, 0);
}

int kvm_uv_destroy_range_users(struct kvm_module *mod, struct mm *mm,
			       uintptr_t start, uintptr_t end, int users)
{
	return destroy_range(mod, mm, start, end, false, users);
}
