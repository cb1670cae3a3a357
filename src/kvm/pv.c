// SPDX-License-Identifier: MIT
/*
 * pv.c - the protected-VM primitives (arch/s390/kvm/pv.c): creating and
 * destroying the secure configuration and secure CPUs with their donated
 * storage, the synchronous teardown in either order, and the KVM_PV_*
 * commands that are the same in every teardown design (SET_SEC_PARMS,
 * UNPACK, the no-data UVCs, INFO).  Nothing here looks at the VM's
 * teardown mode: pv_cmd.c decides, and passes what it decided (the order
 * of a synchronous teardown, what exit_mmap does with a page).
 *
 * Every firmware call has the same shape: build the UVCB, issue it, copy
 * rc/rrc out, map the condition code to an errno in one place
 * (uv_cc_errno), trace it.  What the UV may still own after a failed
 * destroy (donated storage, the marked top-level table) is leaked on
 * purpose and counted, never reused.
 *
 * Locking: every primitive expects kvm->lock (KVM's kvm->lock); the range
 * walks take mmap_lock (read) in short batches inside it.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static void copy_rc(const struct uv_cb_header *h, uint16_t *rc, uint16_t *rrc)
{
	*rc = h->rc;
	*rrc = h->rrc;
}

/* The UV's walk of the guest's DAT tables: gmap, then the host PTE. */
static int kvm_uv_translate(void *ctx, uint64_t gaddr, hw_pfn_t *pfn)
{
	struct kvm *kvm = ctx;
	uintptr_t uaddr;
	uint64_t pte;
	int ret;

	ret = gmap_translate(kvm->gmap, gaddr, &uaddr);
	if (ret)
		return ret;
	/* Lockless PTE read; every UV call that translates runs under
	 * mmap_lock (imports and unpack, the prefix check at each SIE
	 * entry, the guest's share calls), so the VMA stays. */
	ret = mm_pte_peek(kvm->mm, uaddr, &pte);
	if (ret)
		return ret;
	if (!mm_pte_present(pte))
		return -ENXIO;
	*pfn = mm_pte_pfn(pte);
	return 0;
}

/* The user range backing guest memory. */
void kvm_guest_range(struct kvm *kvm, uintptr_t *start, uintptr_t *end)
{
	*start = kvm->gmap->uaddr;
	*end = kvm->gmap->uaddr + kvm->gmap->guest_len;
}

void kvm_pv_dealloc_vm(struct kvm *kvm)
{
	kvm_stor_free(kvm->mod, &kvm->pv.stor_var);
	kvm_stor_free(kvm->mod, &kvm->pv.stor_base);
}

/*
 * The configuration is gone for KVM: forget it.  Only the fields that
 * describe the running configuration are cleared ("clear the state without
 * memset"): set-aside and leftover bookkeeping must survive.
 */
void kvm_clear_pv_state(struct kvm *kvm)
{
	/* A config KVM forgets (set aside, leftover) must not call back into
	 * this VM, which may be gone before the config is. */
	if (kvm->pv.handle)
		ignore_result(uv_config_set_translate(kvm->mod->uv,
						      kvm->pv.handle, NULL, NULL));
	WRITE_ONCE(kvm->pv.handle, 0);
	kvm->pv.guest_len = 0;
	kvm->pv.stor_base = (struct kvm_stor){ 0 };
	kvm->pv.stor_var = (struct kvm_stor){ 0 };
}

/*
 * DESTROY_SEC_CONF of the running configuration.  On failure the storage
 * and the marked table are leaked and the gmap gets a fresh table, so the
 * VM can go on as a normal guest (the ASCE-leak fix).
 */
int kvm_pv_destroy_conf(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	uint16_t lrc, lrrc;
	int ret;

	ret = uv_cmd_nodata(mod->uv, kvm->pv.handle, UVC_CMD_DESTROY_SEC_CONF,
			    &lrc, &lrrc);
	*rc = lrc;
	*rrc = lrrc;
	lpv_trace("PV DESTROY VM: handle %llx rc %x rrc %x",
		  (unsigned long long)kvm->pv.handle, lrc, lrrc);
	if (!ret) {
		atomic_sub_relaxed(&mm_context(kvm->mm)->protected_count, 1);
		kvm_pv_dealloc_vm(kvm);
		kvm_clear_pv_state(kvm);
		kvm_stat_inc(mod, pv_disables);
		return 0;
	}
	/* "Impossible" without broken firmware: warn once, leak on purpose. */
	WARN_ONCE(1, "DESTROY_SEC_CONF handle %llx failed rc %x rrc %x: leaking its storage",
		  (unsigned long long)kvm->pv.handle, lrc, lrrc);
	kvm_stor_leak(mod, &kvm->pv.stor_base, MM_LEAK_conf_destroy_failed);
	kvm_stor_leak(mod, &kvm->pv.stor_var, MM_LEAK_conf_destroy_failed);
	{
		struct page *old = NULL;
		struct kvm_stor table;

		if (gmap_replace_asce(kvm->gmap, false, &old) == 0) {
			table = (struct kvm_stor){ old, GMAP_TABLE_FRAMES };
			kvm_stor_leak(mod, &table, MM_LEAK_conf_destroy_failed);
		} else {
			/* Small guests cannot swap tables: keep using the
			 * marked one and leak it with the gmap. */
			kvm->gmap->leak_table = true;
		}
		kvm_stat_inc(mod, leaked_asce);
	}
	kvm_clear_pv_state(kvm);
	return -EIO;
}

/*
 * Synchronous teardown of the running configuration; its CPUs are gone.
 * The walk covers the whole user address space (0 .. MM_TASK_SIZE), one
 * destroy UVC per present PTE, as s390_reset_acc / s390_uv_destroy_range
 * do; without an address space (shutdown: exit_mmap already ran) there is
 * nothing to walk.
 *   memory first (before the series, and v2's fenced deinit_vm_now): the
 *     walk destroys every secure page (destroy works: no CPUs), then
 *     DESTROY_SEC_CONF;
 *   config first (Linux 6.0 on): DESTROY_SEC_CONF cleans the memory
 *     itself, then the walk's UVCs meet only non-secure pages.
 */
static void kvm_pv_walk_all(struct kvm *kvm)
{
	if (mmget_not_zero(kvm->mm)) {
		/* A failed walk (no memory for its batch) leaves pages that
		 * DESTROY_SEC_CONF cleans, and the unmap hooks handle. */
		ignore_result(kvm_uv_destroy_range(kvm->mod, kvm->mm, 0,
						   MM_TASK_SIZE, false));
		mmput(kvm->mm);
	}
}

int kvm_pv_deinit_vm_order(struct kvm *kvm, bool config_first, uint16_t *rc,
			   uint16_t *rrc)
{
	int ret;

	lpv_mutex_assert_held(&kvm->lock);
	*rc = *rrc = 0;
	if (!kvm->pv.handle)
		return 0;
	trace_begin(TRACE_PID_KERNEL, trace_tid(), "sync destroy",
		    "config_first", config_first);
	if (!config_first)
		kvm_pv_walk_all(kvm);
	ret = kvm_pv_destroy_conf(kvm, rc, rrc);
	if (config_first)
		kvm_pv_walk_all(kvm);
	trace_end(TRACE_PID_KERNEL, trace_tid(), "sync destroy", "rc", *rc);
	return ret;
}

/*
 * CREATE_SEC_CONF over the gmap's table, with freshly donated base and
 * variable storage.  A failure that still returned a handle
 * (UVC_RC_NEED_DESTROY) is torn down synchronously in the caller's order.
 */
int kvm_pv_init_vm(struct kvm *kvm, bool config_first, uint16_t *rc,
		   uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct memcg *memcg = task_memcg(kvm->owner);
	struct uv_cb_cgc uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_CREATE_SEC_CONF,
	};
	uint64_t guest_len = kvm->gmap->guest_len;
	uint16_t drc, drrc;
	int cc, ret;

	*rc = *rrc = 0;
	ret = kvm_stor_alloc(mod, memcg, mod->info.guest_base_stor_len,
			     PAGE_USE_DONATED, &kvm->pv.stor_base);
	if (ret)
		return ret;
	ret = kvm_stor_alloc(mod, memcg,
			     uv_info_var_stor_len(&mod->info, guest_len),
			     PAGE_USE_DONATED, &kvm->pv.stor_var);
	if (ret) {
		kvm_stor_free(mod, &kvm->pv.stor_base);
		return ret;
	}
	kvm->pv.guest_len = guest_len;
	uvcb.guest_stor_origin = 0;
	uvcb.guest_stor_len = guest_len;
	uvcb.guest_asce = gmap_asce(kvm->gmap);
	uvcb.guest_sca = mm_page_to_pfn(mod->world, kvm->sca) << HW_PAGE_SHIFT;
	uvcb.conf_base_stor_origin = kvm_stor_paddr(mod, &kvm->pv.stor_base);
	/* Variable storage is a home-space virtual (linear-map) address. */
	uvcb.conf_virt_stor_origin = kvm->pv.stor_var.nr ?
		(uint64_t)(uintptr_t)mm_page_host(mod->world, kvm->pv.stor_var.first) : 0;

	cc = uv_call_sched(mod->uv, &uvcb.header);
	copy_rc(&uvcb.header, rc, rrc);
	lpv_trace("PV CREATE VM: handle %llx len %llx cc %d rc %x rrc %x",
		  (unsigned long long)uvcb.guest_handle,
		  (unsigned long long)guest_len, cc, *rc, *rrc);
	/* Counted as soon as the UV may hold a configuration in this mm. */
	atomic_add_relaxed(&mm_context(kvm->mm)->protected_count, 1);
	if (cc) {
		if (uvcb.header.rc & UVC_RC_NEED_DESTROY) {
			/* A handle came back: it must be destroyed. */
			WRITE_ONCE(kvm->pv.handle, uvcb.guest_handle);
			ignore_result(kvm_pv_deinit_vm_order(kvm, config_first,
							     &drc, &drrc));
		} else {
			atomic_sub_relaxed(&mm_context(kvm->mm)->protected_count, 1);
			kvm_pv_dealloc_vm(kvm);
			kvm->pv.guest_len = 0;
		}
		return -EIO;
	}
	WRITE_ONCE(kvm->pv.handle, uvcb.guest_handle);
	ret = uv_config_set_translate(mod->uv, uvcb.guest_handle,
				      kvm_uv_translate, kvm);
	BUG_ON(ret);	/* the handle was just created */
	kvm_stat_inc(mod, pv_enables);
	return 0;
}

/*
 * What the final unmap (the kernel's ptep_get_and_clear_full) does with
 * this VM's pages; @sync_destroy turns a set-aside back into an export
 * (v2's pv_sync_destroy).
 */
void kvm_pv_set_exit_teardown(struct kvm *kvm, enum kvm_pv_teardown teardown,
			      bool sync_destroy)
{
	mm_mmap_write_lock(kvm->mm);
	mm_context(kvm->mm)->pv_sync_destroy = sync_destroy;
	__atomic_store_n(&mm_context(kvm->mm)->pv_teardown, (uint8_t)teardown,
			 __ATOMIC_RELEASE);
	mm_mmap_write_unlock(kvm->mm);
}

int kvm_pv_create_cpu(struct kvm_vcpu *vcpu, uint16_t *rc, uint16_t *rrc)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_module *mod = kvm->mod;
	struct uv_cb_csc uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_CREATE_SEC_CPU,
	};
	int cc, ret;

	ret = kvm_stor_alloc(mod, task_memcg(kvm->owner),
			     mod->info.guest_cpu_stor_len, PAGE_USE_DONATED,
			     &vcpu->stor);
	if (ret)
		return ret;
	uvcb.guest_handle = kvm->pv.handle;
	uvcb.num = (uint16_t)vcpu->id;
	uvcb.stor_origin = kvm_stor_paddr(mod, &vcpu->stor);
	uvcb.state_origin = mm_page_to_pfn(mod->world, vcpu->sie_block)
			    << HW_PAGE_SHIFT;
	cc = uv_call(mod->uv, &uvcb.header);
	copy_rc(&uvcb.header, rc, rrc);
	lpv_trace("PV CREATE VCPU: cpu %u handle %llx rc %x rrc %x", vcpu->id,
		  (unsigned long long)uvcb.cpu_handle, *rc, *rrc);
	if (cc) {
		/* No handle recorded: nothing to destroy, just free. */
		kvm_stor_free(mod, &vcpu->stor);
		return -EIO;
	}
	vcpu->cpu_handle = uvcb.cpu_handle;
	return 0;
}

static int kvm_pv_destroy_cpu(struct kvm_vcpu *vcpu, uint16_t *rc,
			      uint16_t *rrc)
{
	struct kvm_module *mod = vcpu->kvm->mod;
	int ret;

	*rc = *rrc = 0;
	if (!vcpu->cpu_handle)
		return 0;
	ret = uv_cmd_nodata(mod->uv, vcpu->cpu_handle, UVC_CMD_DESTROY_SEC_CPU,
			    rc, rrc);
	lpv_trace("PV DESTROY VCPU: cpu %u rc %x rrc %x", vcpu->id, *rc, *rrc);
	if (ret) {
		/* The UV may still own the storage: never reuse it. */
		WARN_ONCE(1, "DESTROY_SEC_CPU cpu %u failed rc %x rrc %x: leaking its storage",
			  vcpu->id, *rc, *rrc);
		kvm_stor_leak(mod, &vcpu->stor, MM_LEAK_cpu_destroy_failed);
	} else {
		kvm_stor_free(mod, &vcpu->stor);
	}
	vcpu->cpu_handle = 0;
	return ret ? -EIO : 0;
}

/* Destroy every secure CPU; the first failure's rc/rrc is reported. */
int kvm_pv_cpus_from_pv(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	int ret = 0;

	*rc = *rrc = 0;
	for (unsigned int i = 0; i < kvm->nr_vcpus; i++) {
		uint16_t lrc, lrrc;

		if (kvm_pv_destroy_cpu(kvm->vcpus[i], &lrc, &lrrc) && !ret) {
			ret = -EIO;
			*rc = lrc;
			*rrc = lrrc;
		}
	}
	return ret;
}

/* Create every secure CPU; on a failure, destroy those created. */
int kvm_pv_cpus_to_pv(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	for (unsigned int i = 0; i < kvm->nr_vcpus; i++) {
		int ret = kvm_pv_create_cpu(kvm->vcpus[i], rc, rrc);

		if (ret) {
			uint16_t drc, drrc;

			ignore_result(kvm_pv_cpus_from_pv(kvm, &drc, &drrc));
			return ret;
		}
	}
	return 0;
}

int kvm_pv_set_sec_parms(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct kvm_s390_pv_sec_parm *parm = cmd->data;
	struct kvm_module *mod = kvm->mod;
	struct uv_cb_ssc uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_SET_SEC_CONF_PARAMS,
	};
	struct kvm_stor hdr;
	int cc, ret;

	if (!kvm->pv.handle || !parm || !parm->origin)
		return -EINVAL;
	if (!parm->length || parm->length > (1 << 20))
		return -EINVAL;
	/* Copy the header into kernel memory: the UV reads it by virtual
	 * address through the linear map. */
	ret = kvm_stor_alloc(mod, task_memcg(kvm->owner), parm->length,
			     PAGE_USE_KERNEL, &hdr);
	if (ret)
		return ret;
	memcpy(mm_page_host(mod->world, hdr.first),
	       (const void *)(uintptr_t)parm->origin, parm->length);
	uvcb.guest_handle = kvm->pv.handle;
	uvcb.sec_header_origin = (uint64_t)(uintptr_t)mm_page_host(mod->world, hdr.first);
	uvcb.sec_header_len = (uint32_t)parm->length;
	cc = uv_call(mod->uv, &uvcb.header);
	copy_rc(&uvcb.header, &cmd->rc, &cmd->rrc);
	kvm_stor_free(mod, &hdr);
	lpv_trace("PV SET SEC PARMS: rc %x rrc %x", cmd->rc, cmd->rrc);
	return cc ? -EINVAL : 0;
}

int kvm_pv_unpack(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct kvm_s390_pv_unp *unp = cmd->data;
	struct uv_cb_unp uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_UNPACK_IMG,
	};
	int ret = 0;

	if (!kvm->pv.handle || !unp || unp->addr & ~HW_PAGE_MASK ||
	    unp->size & ~HW_PAGE_MASK)
		return -EINVAL;
	/* The guest's boot waits on this: counted like a vCPU that wants
	 * to run, so background cleanup yields to it (vcpus_running). */
	atomic_add_return(&kvm->mod->vcpus_running, 1);
	for (uint64_t off = 0; off < unp->size; off += HW_PAGE_SIZE) {

		uvcb.header.rc = uvcb.header.rrc = 0;
		uvcb.guest_handle = kvm->pv.handle;
		uvcb.gaddr = unp->addr + off;
		uvcb.tweak[0] = unp->tweak;
		uvcb.tweak[1] = off;
		ret = kvm_convert_to_secure(kvm, uvcb.gaddr, &uvcb.header);
		cmd->rc = uvcb.header.rc;
		cmd->rrc = uvcb.header.rrc;
		if (ret) {
			lpv_trace("PV UNPACK: gaddr %llx failed rc %x rrc %x",
				  (unsigned long long)uvcb.gaddr, cmd->rc, cmd->rrc);
			break;
		}
	}
	atomic_sub_return(&kvm->mod->vcpus_running, 1);
	return ret;
}

int kvm_pv_nodata(struct kvm *kvm, struct kvm_pv_cmd *cmd, uint16_t uvc)
{
	int ret;

	if (!kvm->pv.handle)
		return -EINVAL;
	ret = uv_cmd_nodata(kvm->mod->uv, kvm->pv.handle, uvc, &cmd->rc,
			    &cmd->rrc);
	lpv_trace("PV %s: rc %x rrc %x", uv_cmd_name(uvc), cmd->rc, cmd->rrc);
	return ret;
}

int kvm_pv_info(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct uv_info *ui = &kvm->mod->info;
	struct kvm_s390_pv_info *info = cmd->data;

	if (!info)
		return -EINVAL;
	memcpy(info->inst_calls_list, ui->inst_calls_list,
	       sizeof(info->inst_calls_list));
	info->max_cpus = ui->max_guest_cpu_id + 1ULL;
	info->max_guests = ui->max_num_sec_conf;
	info->max_guest_addr = ui->max_sec_stor_addr;
	info->feature_indication = ui->uv_feature_indications;
	info->cpu_stor_len = ui->guest_cpu_stor_len;
	info->base_stor_len = ui->guest_base_stor_len;
	info->var_stor_len_per_mb = ui->guest_virt_var_stor_len;
	return 0;
}
