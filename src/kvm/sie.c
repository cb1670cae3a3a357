// SPDX-License-Identifier: MIT
/*
 * sie.c - vCPUs and the SIE loop.
 *
 * A guest program runs on the vCPU's thread "inside SIE" and reaches guest
 * memory only through kvm_guest_read/write, which walk what the hardware
 * walks -- guest address -> gmap -> user address -> host PTE -> frame --
 * and raise what the hardware raises:
 *
 *   no PTE / read-only PTE     host page fault (mm_fault, charged to the
 *                              VMM's memcg), retry
 *   protected guest, frame not secure (or        0x3e: import, retry
 *     shared by another configuration)
 *   protected guest, frame secure for another    0x3f: destroy (else
 *     configuration (or donated)                 export), retry
 *   normal guest, frame secure                   0x3d: pin shared, else
 *                                                export, retry
 *
 * Every entry of a protected CPU is checked by the UV -- validity, then
 * the prefix pages, whose not being secure is an intercept (0x70)
 * that KVM resolves by importing them before it enters again.
 *
 * Interruptions are delivered through hw_pgm_deliver() to the handlers the
 * module registered; the running vCPU is found through a thread-local
 * (the kernel's "current").  A protected guest's data moves through the
 * firmware view (secure-mode access), a normal guest's through the host
 * view (hw_host_read/write: a secure frame raises 0x3d in the MMU too).
 *
 * Locking: an access holds mmap_lock (read), the PTL and the page lock
 * while it checks and copies, so an import, export or unmap of the same
 * page cannot interleave with it; it holds none of them while a handler
 * runs.  vcpu->kicked and ->running are atomics, as is the module's count
 * of vCPUs in KVM_RUN (vcpus_running); the rest of the vCPU is under
 * kvm->lock.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static __thread struct kvm_vcpu *current_vcpu;

struct kvm_vcpu *kvm_current_vcpu(void)
{
	return current_vcpu;
}

int kvm_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu **out)
{
	struct kvm_module *mod = kvm->mod;
	struct kvm_vcpu *vcpu;
	uint16_t rc, rrc;
	int ret;

	*out = NULL;
	if (id > mod->info.max_guest_cpu_id || id >= KVM_MAX_VCPUS)
		return -EINVAL;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->kvm = kvm;
	vcpu->id = id;
	vcpu->prefix = (uint64_t)id * 2 * HW_PAGE_SIZE;
	ret = mm_page_alloc(mod->world, MM_GFP_KERNEL | MM_GFP_ZERO,
			    task_memcg(kvm->owner), &vcpu->sie_block);
	if (ret)
		goto out_free;
	lpv_mutex_lock(&kvm->lock);
	for (unsigned int i = 0; i < kvm->nr_vcpus; i++)
		if (kvm->vcpus[i]->id == id)
			ret = -EEXIST;
	if (!ret && kvm->nr_vcpus >= KVM_MAX_VCPUS)
		ret = -ENOSPC;
	/* A vCPU added to a protected VM becomes a secure CPU at once. */
	if (!ret && kvm->pv.handle)
		ret = kvm_pv_create_cpu(vcpu, &rc, &rrc);
	if (!ret)
		kvm->vcpus[kvm->nr_vcpus++] = vcpu;
	lpv_mutex_unlock(&kvm->lock);
	if (ret)
		goto out_sie;
	*out = vcpu;
	return 0;

out_sie:
	mm_page_put(mod->world, vcpu->sie_block);
out_free:
	free(vcpu);
	return ret;
}

/* VM teardown: the vCPU's secure CPU is gone already. */
void kvm_vcpu_free(struct kvm_vcpu *vcpu)
{
	BUG_ON(vcpu->cpu_handle);
	mm_page_put(vcpu->kvm->mod->world, vcpu->sie_block);
	free(vcpu);
}

unsigned int kvm_vcpu_id(const struct kvm_vcpu *vcpu)
{
	return vcpu->id;
}

struct kvm *kvm_vcpu_kvm(const struct kvm_vcpu *vcpu)
{
	return vcpu->kvm;
}

void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	atomic_store_release(&vcpu->kicked, true);
}

bool kvm_guest_should_exit(struct kvm_vcpu *vcpu)
{
	return atomic_load_acquire(&vcpu->kicked) || task_should_stop();
}

bool kvm_guest_is_protected(const struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->cpu_handle) != 0;
}

static int deliver(struct kvm_vcpu *vcpu, enum hw_pgm_code code,
		   uint64_t gaddr, hw_pfn_t pfn)
{
	struct hw_pgm_info info = {
		.code = code,
		.pfn = pfn,
		.addr = gaddr,
	};

	(void)vcpu;
	return hw_pgm_deliver(vcpu->kvm->mod->hw, &info);
}

/*
 * One access inside one page.  Returns 0 when done, 1 to retry after a
 * resolved fault, or a negative errno.
 */
static int sie_access_page(struct kvm_vcpu *vcpu, uint64_t gaddr, void *buf,
			   size_t len, bool write)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_module *mod = kvm->mod;
	uint64_t handle = READ_ONCE(kvm->pv.handle);
	bool protected = handle && vcpu->cpu_handle;
	enum hw_pgm_code pgm = 0;
	struct mm_pte_ref ref;
	struct page *page;
	uintptr_t uaddr;
	hw_pfn_t pfn;
	uint64_t pte;
	int ret;

	ret = gmap_translate(kvm->gmap, gaddr, &uaddr);
	if (ret)
		return ret;	/* addressing exception */
	mm_mmap_read_lock(kvm->mm);
	ret = mm_pte_lock(kvm->mm, uaddr, &ref);
	if (ret) {
		mm_mmap_read_unlock(kvm->mm);
		return ret;
	}
	pte = mm_pte_read(&ref);
	if (!mm_pte_present(pte) || (write && !mm_pte_write(pte))) {
		mm_pte_unlock(&ref);
		mm_mmap_read_unlock(kvm->mm);
		ret = mm_fault(kvm->mm, uaddr, write, NULL);
		return ret ? ret : 1;
	}
	pfn = mm_pte_pfn(pte);
	page = mm_pfn_to_page(mod->world, pfn);
	if (!page_trylock(page)) {
		ret = 2;	/* busy: back off and retry */
		goto out_unlock;
	}
	if (protected) {
		ret = uv_guest_access_check(mod->uv, handle, gaddr & HW_PAGE_MASK,
					    pfn, &pgm);
		if (ret == 0) {
			char *p = (char *)hw_fw_page(mod->hw, pfn) +
				  (gaddr & ~HW_PAGE_MASK);

			if (write)
				memcpy(p, buf, len);
			else
				memcpy(buf, p, len);
		}
	} else if (page_test_flag(page, PG_arch_1) &&
		   hw_frame_is_protected(mod->hw, pfn)) {
		/* A normal guest on a page still secure for an old config. */
		ret = -EACCES;
		pgm = HW_PGM_SECURE_STORAGE_ACCESS;
	} else {
		ret = write ? hw_host_write(mod->hw, pfn, gaddr & ~HW_PAGE_MASK,
					    buf, len)
			    : hw_host_read(mod->hw, pfn, gaddr & ~HW_PAGE_MASK,
					   buf, len);
	}
	page_unlock(page);
out_unlock:
	mm_pte_unlock(&ref);
	mm_mmap_read_unlock(kvm->mm);
	if (ret == 2) {
		sched_yield();
		return 1;
	}
	if (ret != -EACCES)
		return ret;

	/* The interruption, with no lock held. */
	if (pgm == HW_PGM_SECURE_STORAGE_ACCESS) {
		/* gmap fault path: translate, make accessible (pin shared,
		 * else export; counts pgm_3d), retry -- never a blind retry:
		 * a failure is reported. */
		ret = kvm_make_accessible_gaddr(kvm, gaddr & HW_PAGE_MASK);
	} else {
		ret = deliver(vcpu, pgm, gaddr, pfn);
	}
	return ret ? ret : 1;
}

static int sie_access(struct kvm_vcpu *vcpu, uint64_t gaddr, void *buf,
		      size_t len, bool write)
{
	char *p = buf;

	if (gaddr + len < gaddr)
		return -EFAULT;
	while (len) {
		size_t chunk = HW_PAGE_SIZE - (gaddr & ~HW_PAGE_MASK);
		int ret;

		if (chunk > len)
			chunk = len;
		do {
			if (kvm_guest_should_exit(vcpu))
				return -EINTR;
			ret = sie_access_page(vcpu, gaddr, p, chunk, write);
		} while (ret == 1);
		if (ret)
			return ret;
		gaddr += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int kvm_guest_read(struct kvm_vcpu *vcpu, uint64_t gaddr, void *buf, size_t len)
{
	return sie_access(vcpu, gaddr, buf, len, false);
}

int kvm_guest_write(struct kvm_vcpu *vcpu, uint64_t gaddr, const void *buf,
		    size_t len)
{
	return sie_access(vcpu, gaddr, (void *)buf, len, true);
}

/*
 * A guest UVC.  SET/REMOVE_SHARED_ACCESS name a guest page; the host makes
 * sure it is mapped first.  An intercept (unsharing a pinned page) is
 * resolved with UNPIN_PAGE_SHARED and the guest's instruction re-driven.
 */
int kvm_guest_uvc(struct kvm_vcpu *vcpu, struct uv_cb_header *cb)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_module *mod = kvm->mod;
	int cc;

	if (!vcpu->cpu_handle)
		return -EINVAL;	/* only secure CPUs issue UVCs here */
	for (;;) {
		/* A share call translates the guest address: mmap_lock. */
		mm_mmap_read_lock(kvm->mm);
		cc = uv_guest_call(mod->uv, vcpu->cpu_handle, cb);
		mm_mmap_read_unlock(kvm->mm);
		if (cc == UVC_GUEST_INTERCEPT) {
			const struct uv_cb_share *share = (const void *)cb;
			struct uv_cb_cts unpin = {
				.header.len = sizeof(unpin),
				.header.cmd = UVC_CMD_UNPIN_PAGE_SHARED,
				.guest_handle = kvm->pv.handle,
				.gaddr = share->paddr & HW_PAGE_MASK,
			};
			int ret = kvm_convert_to_secure(kvm, unpin.gaddr,
							&unpin.header);

			if (ret)
				return ret;
			continue;
		}
		if (cc == UVC_CC_ERROR && cb->rc == UVC_RC_NOT_MAPPED &&
		    (cb->cmd == UVC_CMD_SET_SHARED_ACCESS ||
		     cb->cmd == UVC_CMD_REMOVE_SHARED_ACCESS)) {
			const struct uv_cb_share *share = (const void *)cb;
			uintptr_t uaddr;
			int ret = gmap_translate(kvm->gmap, share->paddr, &uaddr);

			if (!ret)
				ret = mm_fault(kvm->mm, uaddr, true, NULL);
			if (ret)
				return cc;
			continue;
		}
		if (cc == UVC_CC_BUSY || cc == UVC_CC_PARTIAL) {
			sched_yield();
			continue;
		}
		return cc;
	}
}

/*
 * ICPT_PV_PREF: the machine found a prefix page (the 8 KiB lowcore) not
 * secure at SIE entry.  Import both, as KVM's intercept handler does.
 */
static int kvm_vcpu_secure_prefix(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;

	for (int i = 0; i < 2; i++) {
		struct uv_cb_cts uvcb = {
			.header.len = sizeof(uvcb),
			.header.cmd = UVC_CMD_CONV_TO_SEC_STOR,
			.guest_handle = kvm->pv.handle,
			.gaddr = vcpu->prefix + (uint64_t)i * HW_PAGE_SIZE,
		};
		int ret = kvm_convert_to_secure(kvm, uvcb.gaddr, &uvcb.header);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Enter SIE with a protected CPU.  The machine checks the prefix pages at
 * every entry, not once: a new or reset CPU has never had them imported,
 * and a host access (0x3d) or an unmap may have exported them since the
 * last entry.  Each time they are not secure the entry is intercepted
 * (0x70), the host resolves it and enters again.  0 when the CPU may run,
 * -EINTR when told to stop meanwhile, or the error of the import.
 */
static int kvm_vcpu_enter_pv(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_module *mod = kvm->mod;
	int icpt, ret;

	for (;;) {
		/* The UV translates the prefix through the host's page
		 * tables: their VMAs must stay (mmap_lock, as for imports). */
		mm_mmap_read_lock(kvm->mm);
		icpt = uv_sie_prefix_check(mod->uv, kvm->pv.handle, vcpu->prefix);
		mm_mmap_read_unlock(kvm->mm);
		if (icpt <= 0)
			return icpt;
		BUG_ON(icpt != UV_ICPT_PV_PREF);
		kvm_stat_inc(mod, icpt_pv_pref);
		lpv_trace("KVM ICPT PV PREF: cpu %u prefix %llx", vcpu->id,
			  (unsigned long long)vcpu->prefix);
		ret = kvm_vcpu_secure_prefix(vcpu);
		if (ret)
			return ret;
		if (kvm_guest_should_exit(vcpu))
			return -EINTR;
	}
}

static int kvm_vcpu_run_counted(struct kvm_vcpu *vcpu, kvm_guest_fn fn,
				 void *ctx, struct kvm_run *run)
{
	struct kvm *kvm = vcpu->kvm;
	int ret;

	memset(run, 0, sizeof(*run));
	if (!kvm->gmap)
		return -EINVAL;
	if (task_should_stop()) {
		run->reason = KVM_EXIT_INTR;
		return 0;
	}
	atomic_store_release(&vcpu->kicked, false);
	if (vcpu->cpu_handle) {
		ret = uv_sie_entry_check(kvm->mod->uv, kvm->pv.handle,
					 vcpu->cpu_handle, gmap_asce(kvm->gmap));
		if (ret) {
			run->reason = KVM_EXIT_VALIDITY;
			run->error = ret;
			snprintf(run->message, sizeof(run->message),
				 "SIE entry validity check failed");
			return 0;
		}
		ret = kvm_vcpu_enter_pv(vcpu);
		if (ret == -EINTR) {
			run->reason = task_should_stop() ? KVM_EXIT_INTR
							 : KVM_EXIT_STOPPED;
			return 0;
		}
		if (ret)
			return ret;
	}
	atomic_store_release(&vcpu->running, true);
	current_vcpu = vcpu;
	ret = fn(ctx, vcpu, run);
	current_vcpu = NULL;
	atomic_store_release(&vcpu->running, false);
	if (ret == -EINTR || (ret && kvm_guest_should_exit(vcpu))) {
		run->reason = task_should_stop() ? KVM_EXIT_INTR
						 : KVM_EXIT_STOPPED;
		return 0;
	}
	if (ret) {
		run->reason = KVM_EXIT_GUEST_ERROR;
		run->error = ret;
		if (!run->message[0])
			snprintf(run->message, sizeof(run->message),
				 "guest program failed: %s", strerror(-ret));
	}
	return 0;
}

/*
 * KVM_RUN.  mod->vcpus_running counts the vCPUs in here -- in SIE or on
 * their way in or out, i.e. running or waiting to run -- over every VM,
 * and VMs unpacking their image (kvm_pv_unpack: the boot waits on it):
 * instant's cleanup workers yield to them (one atomic read per chunk).
 * The first KVM_RUN after an instant reboot also ends that reboot's boot
 * hold (kvm_instant_boot_release): its workers start.
 */
int kvm_vcpu_run(struct kvm_vcpu *vcpu, kvm_guest_fn fn, void *ctx,
		 struct kvm_run *run)
{
	struct kvm_module *mod = vcpu->kvm->mod;
	int ret;

	kvm_instant_boot_release(vcpu->kvm);	/* the new boot is over */
	atomic_add_return(&mod->vcpus_running, 1);
	ret = kvm_vcpu_run_counted(vcpu, fn, ctx, run);
	atomic_sub_return(&mod->vcpus_running, 1);
	return ret;
}

unsigned int kvm_module_vcpus_running(const struct kvm_module *mod)
{
	return atomic_load_relaxed(&mod->vcpus_running);
}

static int kvm_vcpu_pv_cmd(struct kvm_vcpu *vcpu, struct uv_cb_header *cb,
			   uint16_t *rc, uint16_t *rrc)
{
	int cc;

	*rc = *rrc = 0;
	lpv_mutex_lock(&vcpu->kvm->lock);
	if (!vcpu->cpu_handle) {
		lpv_mutex_unlock(&vcpu->kvm->lock);
		return 0;
	}
	cc = uv_call(vcpu->kvm->mod->uv, cb);
	*rc = cb->rc;
	*rrc = cb->rrc;
	lpv_mutex_unlock(&vcpu->kvm->lock);
	return cc ? -EINVAL : 0;
}

int kvm_vcpu_pv_reset(struct kvm_vcpu *vcpu, uint16_t cmd, uint16_t *rc,
		      uint16_t *rrc)
{
	struct uv_cb_nodata uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = cmd,
	};

	if (cmd != UVC_CMD_CPU_RESET && cmd != UVC_CMD_CPU_RESET_INITIAL &&
	    cmd != UVC_CMD_CPU_RESET_CLEAR)
		return -EINVAL;
	uvcb.handle = READ_ONCE(vcpu->cpu_handle);
	return kvm_vcpu_pv_cmd(vcpu, &uvcb.header, rc, rrc);
}

int kvm_vcpu_pv_set_state(struct kvm_vcpu *vcpu, uint8_t state, uint16_t *rc,
			  uint16_t *rrc)
{
	struct uv_cb_cpu_set_state uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_CPU_SET_STATE,
		.state = state,
	};

	uvcb.cpu_handle = READ_ONCE(vcpu->cpu_handle);
	return kvm_vcpu_pv_cmd(vcpu, &uvcb.header, rc, rrc);
}
