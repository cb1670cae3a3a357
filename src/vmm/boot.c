// SPDX-License-Identifier: MIT
/*
 * boot.c - the machine-level sequences of the VMM, after QEMU's
 * target/s390x/kvm/pv.c and hw/s390x/ipl.c:
 *
 *   protect    the IPL of a protected guest (diag 308 subcode 10): the
 *              encrypted image lands in guest memory as plain host data,
 *              then KVM_PV_ENABLE, SET_SEC_PARMS (the SE header), UNPACK
 *              per component, VERIFY, and every CPU to operating-load;
 *   unprotect  the old protected guest goes away before a new one (or a
 *              non-protected one) boots: one entry that picks the
 *              teardown of the VMM's mode (only sync exists so far:
 *              KVM_PV_DISABLE, which walks and destroys synchronously);
 *   reset      diag 308 subcode 0/1 on a protected guest: stop the CPUs,
 *              UNSHARE_ALL, PREP_RESET, clear/initial CPU reset, start the
 *              CPUs again -- same configuration, memory kept;
 *   plain      the IPL of a non-protected guest: a boot descriptor the
 *              VMM writes itself.
 *
 * Everything here runs on the VMM's main thread with the vCPUs stopped (no
 * vCPU thread is inside kvm_vcpu_run); vmm->lock is taken only to publish
 * state and events.  A failing step records an error event with the
 * firmware's rc/rrc and returns its errno; the caller ends the VMM.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

static const char *const pv_cmd_names[] = {
	[KVM_PV_ENABLE] = "ENABLE",
	[KVM_PV_DISABLE] = "DISABLE",
	[KVM_PV_SET_SEC_PARMS] = "SET_SEC_PARMS",
	[KVM_PV_UNPACK] = "UNPACK",
	[KVM_PV_VERIFY] = "VERIFY",
	[KVM_PV_PREP_RESET] = "PREP_RESET",
	[KVM_PV_UNSHARE_ALL] = "UNSHARE_ALL",
	[KVM_PV_INFO] = "INFO",
	[KVM_PV_DUMP] = "DUMP",
	[KVM_PV_ASYNC_CLEANUP_PREPARE] = "ASYNC_CLEANUP_PREPARE",
	[KVM_PV_ASYNC_CLEANUP_PERFORM] = "ASYNC_CLEANUP_PERFORM",
};

void vmm_fail(struct vmm *vmm, int error, const char *fmt, ...)
{
	char msg[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lpv_mutex_lock(&vmm->lock);
	vmm_record_error_locked(vmm, error, msg);
	lpv_mutex_unlock(&vmm->lock);
}

/* What a failed image command says about the image, or NULL. */
static const char *vmm_pv_image_check(uint32_t cmd, const struct kvm_pv_cmd *c)
{
	switch (cmd) {
	case KVM_PV_SET_SEC_PARMS:
		return uv_image_rc_check(UVC_CMD_SET_SEC_CONF_PARAMS, c->rc, c->rrc);
	case KVM_PV_UNPACK:
		return uv_image_rc_check(UVC_CMD_UNPACK_IMG, c->rc, c->rrc);
	case KVM_PV_VERIFY:
		return uv_image_rc_check(UVC_CMD_VERIFY_IMG, c->rc, c->rrc);
	default:
		return NULL;
	}
}

/*
 * One KVM_S390_PV_COMMAND.  Like QEMU's __s390_pv_cmd, an interrupted
 * command is re-issued -- unless the interruption is our own death.
 */
int vmm_pv(struct vmm *vmm, uint32_t cmd, void *data)
{
	struct kvm_pv_cmd c = { .cmd = cmd, .data = data };
	int r;

	do {
		r = kvm_pv_command(vmm->kvm, &c);
	} while (r == -EINTR && !task_should_stop());
	lpv_trace("VMM PV %s: pid %d ret %d rc %x rrc %x", pv_cmd_names[cmd],
		  vmm->pid, r, c.rc, c.rrc);
	if (r && !task_should_stop()) {
		const char *check = vmm_pv_image_check(cmd, &c);

		/* The UV refused the image itself: -EBADMSG (vmm.h). */
		if (check)
			vmm_fail(vmm, -EBADMSG, "image rejected: %s (KVM_PV_%s rc 0x%x rrc 0x%x)",
				 check, pv_cmd_names[cmd], c.rc, c.rrc);
		else
			vmm_fail(vmm, r, "KVM_PV_%s: %s (rc 0x%x rrc 0x%x)",
				 pv_cmd_names[cmd], strerror(-r), c.rc, c.rrc);
	}
	return r;
}

/* Per-vCPU reset/state calls (QEMU's KVM_S390_*_RESET, SET_MP_STATE). */
static int vmm_cpus_set_state(struct vmm *vmm, uint8_t state)
{
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++) {
		uint16_t rc, rrc;
		int r = kvm_vcpu_pv_set_state(vmm->vcpus[i].kvcpu, state, &rc,
					      &rrc);

		if (r) {
			vmm_fail(vmm, r, "vCPU %u: CPU_SET_STATE %u: %s (rc 0x%x rrc 0x%x)",
				 i, state, strerror(-r), rc, rrc);
			return r;
		}
	}
	return 0;
}

static int vmm_cpus_reset(struct vmm *vmm, uint16_t cmd)
{
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++) {
		uint16_t rc, rrc;
		int r = kvm_vcpu_pv_reset(vmm->vcpus[i].kvcpu, cmd, &rc, &rrc);

		if (r) {
			vmm_fail(vmm, r, "vCPU %u: %s: %s (rc 0x%x rrc 0x%x)", i,
				 kvm_uvc_name(cmd), strerror(-r), rc, rrc);
			return r;
		}
	}
	return 0;
}

static void vmm_set_protected(struct vmm *vmm, bool protected)
{
	lpv_mutex_lock(&vmm->lock);
	vmm->protected = protected;
	lpv_mutex_unlock(&vmm->lock);
}

int vmm_boot_protected(struct vmm *vmm)
{
	const struct vmm_image *img = vmm->cfg.image;
	struct kvm_s390_pv_sec_parm parm = {
		.origin = (uint64_t)(uintptr_t)img->se_header,
		.length = img->se_header_len,
	};
	uint64_t t0 = lpv_now_ns();
	const uint8_t *page = img->pages;
	struct vmm_event ev;
	int r;

	/* The bootloader's job: put the still-encrypted image in place. */
	for (unsigned int i = 0; i < img->nr_components; i++) {
		const struct vmm_image_component *c = &img->comp[i];

		r = vmm_copy_to_guest(vmm, c->gaddr, page,
				      c->nr_pages * HW_PAGE_SIZE);
		if (r) {
			if (!task_should_stop())
				vmm_fail(vmm, r, "loading the image at 0x%" PRIx64 ": %s",
					 c->gaddr, strerror(-r));
			return r;
		}
		page += c->nr_pages * HW_PAGE_SIZE;
	}
	r = vmm_pv(vmm, KVM_PV_ENABLE, NULL);
	if (r)
		return r;
	vmm_set_protected(vmm, true);
	r = vmm_pv(vmm, KVM_PV_SET_SEC_PARMS, &parm);
	for (unsigned int i = 0; !r && i < img->nr_components; i++) {
		struct kvm_s390_pv_unp unp = {
			.addr = img->comp[i].gaddr,
			.size = img->comp[i].nr_pages * HW_PAGE_SIZE,
			.tweak = img->comp[i].tweak,
		};

		r = vmm_pv(vmm, KVM_PV_UNPACK, &unp);
	}
	if (!r)
		r = vmm_pv(vmm, KVM_PV_VERIFY, NULL);
	if (!r)
		r = vmm_cpus_set_state(vmm, PV_CPU_STATE_OPR_LOAD);
	if (r) {
		/* QEMU's s390_machine_protect error path: unprotect again so
		 * the VM is left consistent for whoever ends it. */
		if (vmm_unprotect(vmm))
			return r;	/* recorded; the VM dies with the VMM */
		return r;
	}
	ev = (struct vmm_event){
		.type = VMM_EV_UNPACKED,
		.pages = img->nr_pages,
		.latency_ns = lpv_now_ns() - t0,
	};
	vmm_emit(vmm, &ev);
	return 0;
}

int vmm_boot_plain(struct vmm *vmm)
{
	struct vmm_boot_desc desc;
	char err[128];
	uint64_t nonce = 0;
	int r;

	if (!vmm->cfg.plain_program) {
		vmm_fail(vmm, -ENOEXEC, "no program for a non-protected boot");
		return -ENOEXEC;
	}
	if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
		nonce = vmm_mix64(lpv_now_ns());
	r = vmm_boot_desc_init(&desc, vmm->cfg.plain_program, nonce, 1, 0, 0,
			       VMM_FNV_INIT, err, sizeof(err));
	if (r) {
		vmm_fail(vmm, r, "non-protected boot: %s", err);
		return r;
	}
	r = vmm_copy_to_guest(vmm, 0, &desc, sizeof(desc));
	if (r) {
		if (!task_should_stop())
			vmm_fail(vmm, r, "writing the boot descriptor: %s",
				 strerror(-r));
		return r;
	}
	vmm_set_protected(vmm, false);
	return 0;
}

/*
 * Make the VM non-protected, in the VMM's teardown mode.  The one place a
 * new mode (lazy, async) plugs in: everything before and after -- who
 * stopped the CPUs, what boots next -- stays the same.
 */
int vmm_unprotect(struct vmm *vmm)
{
	uint64_t t0 = lpv_now_ns();
	struct vmm_event ev;
	int r;

	if (!kvm_is_protected(vmm->kvm)) {
		vmm_set_protected(vmm, false);
		return 0;
	}
	switch (vmm->kvm_mode) {
	case KVM_DESTROY_SYNC:
	case KVM_DESTROY_SYNC_60:
	case KVM_DESTROY_LAZY:
	case KVM_DESTROY_INSTANT:
		/* (lazy: KVM hands the old config to its cleanup thread;
		 * instant: to its cleanup workers, in O(1)) */
		r = vmm_pv(vmm, KVM_PV_DISABLE, NULL);
		break;
	case KVM_DESTROY_ASYNC:
		r = vmm_unprotect_async(vmm);
		break;
	default:
		r = -EINVAL;
		vmm_fail(vmm, r, "teardown mode %u is not available",
			 vmm->kvm_mode);
		break;
	}
	if (r)
		return r;
	ev = (struct vmm_event){
		.type = VMM_EV_UNPROTECTED,
		.latency_ns = lpv_now_ns() - t0,
	};
	vmm_emit(vmm, &ev);
	vmm_set_protected(vmm, false);
	return 0;
}

/* uv-interface.md §5.3, the order of pv-ipl.c and QEMU. */
int vmm_reset_protected(struct vmm *vmm, uint64_t subcode)
{
	uint16_t cpu_reset = subcode == DIAG308_RESET_MODIFIED_CLEAR ?
			     UVC_CMD_CPU_RESET_CLEAR : UVC_CMD_CPU_RESET_INITIAL;
	int r;

	if (!kvm_is_protected(vmm->kvm))
		return 0;	/* a normal guest: the CPU reset is all */
	r = vmm_cpus_set_state(vmm, PV_CPU_STATE_STP);
	if (!r)
		r = vmm_pv(vmm, KVM_PV_UNSHARE_ALL, NULL);
	if (!r)
		r = vmm_pv(vmm, KVM_PV_PREP_RESET, NULL);
	if (!r)
		r = vmm_cpus_reset(vmm, cpu_reset);
	if (!r)
		r = vmm_cpus_set_state(vmm, PV_CPU_STATE_OPR_LOAD);
	return r;
}
