// SPDX-License-Identifier: MIT
/*
 * machine.c - what the VMM's machine offers the guest programs besides
 * memory: the moment a boot's first instruction runs (the timeline's
 * "guest start"), a console line per finished round, inter-CPU signalling
 * (a barrier standing for SIGP), the CPU timer (an enabled wait for one
 * tick), and an I/O device the VMM answers through the shared pages.
 *
 * All of it runs on vCPU threads, inside kvm_vcpu_run.  vmm->lock guards
 * the VMM's boot state and timeline; vmm->sigp.lock the barrier.  The two
 * are never held together, and neither across a guest or host memory
 * access.
 *
 * Why the waits here have a deadline: a vCPU must leave SIE as soon as the
 * VMM kicks it or its task gets a fatal signal, and neither wakes a
 * condition variable (a kill, the OOM killer's included, only sets the
 * task's flag).  So a waiting vCPU wakes at each timer tick and looks
 * (kvm_guest_should_exit), as a real CPU in an enabled wait takes its
 * timer interrupt.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define VMM_TICK_NS (1000ULL * 1000)	/* the guest's timer tick: 1 ms */

void vmm_guest_first_insn(struct vmm_vcpu *vcpu)
{
	struct vmm *vmm = vcpu->vmm;
	uint64_t now = lpv_now_ns();

	lpv_mutex_lock(&vmm->lock);
	if (!vmm->first_insn_seen && vcpu->ipl.boot == vmm->boot) {
		uint64_t from = vmm->reboot_req_ns ? vmm->reboot_req_ns
						   : vmm->boot_start_ns;
		struct vmm_event ev = {
			.type = VMM_EV_GUEST_START,
			.t_ns = now,
			.latency_ns = now - from,
		};

		vmm->first_insn_seen = true;
		vmm_emit_locked(vmm, &ev);
		lpv_cond_broadcast(&vmm->cond);
	}
	/* KVM drops a kick that lands before SIE entry; if the VMM is already
	 * stopping this generation, take it on ourselves. */
	if (vmm->stopping)
		kvm_vcpu_kick(vcpu->kvcpu);
	lpv_mutex_unlock(&vmm->lock);
}

void vmm_guest_round_done(struct vmm_vcpu *vcpu, unsigned int round)
{
	struct vmm *vmm = vcpu->vmm;
	struct vmm_event ev = {
		.type = VMM_EV_GUEST_ROUND,
		.t_ns = lpv_now_ns(),
		.round = round,
	};

	lpv_mutex_lock(&vmm->lock);
	if (vcpu->ipl.boot == vmm->boot) {
		vmm->last_round = round;
		vmm->round_seen = true;
		vmm_emit_locked(vmm, &ev);
		lpv_cond_broadcast(&vmm->cond);
	}
	lpv_mutex_unlock(&vmm->lock);
}

int vmm_guest_barrier(struct vmm_vcpu *vcpu)
{
	struct vmm_sigp *sp = &vcpu->vmm->sigp;
	int r = 0;

	lpv_mutex_lock(&sp->lock);
	/* The VMM resets the barrier before each generation starts, and no
	 * vCPU of an older generation is inside SIE then. */
	BUG_ON(sp->gen != vcpu->ipl.boot);
	if (++sp->arrived == vcpu->ipl.nr_cpus) {
		sp->arrived = 0;
		sp->phase++;
		lpv_cond_broadcast(&sp->cond);
	} else {
		uint64_t phase = sp->phase;

		while (sp->phase == phase) {
			if (kvm_guest_should_exit(vcpu->kvcpu)) {
				r = -EINTR;
				break;
			}
			lpv_cond_wait_until(&sp->cond, &sp->lock,
					    lpv_now_ns() + VMM_TICK_NS);
		}
	}
	lpv_mutex_unlock(&sp->lock);
	return r;
}

int vmm_guest_tick(struct vmm_vcpu *vcpu)
{
	struct vmm_sigp *sp = &vcpu->vmm->sigp;

	if (kvm_guest_should_exit(vcpu->kvcpu))
		return -EINTR;
	lpv_mutex_lock(&sp->lock);
	lpv_cond_wait_until(&sp->cond, &sp->lock, lpv_now_ns() + VMM_TICK_NS);
	lpv_mutex_unlock(&sp->lock);
	return kvm_guest_should_exit(vcpu->kvcpu) ? -EINTR : 0;
}

/*
 * The I/O device: the guest put a request in @nr pages at @gaddr (shared,
 * if it is protected) and notified us.  Like QEMU serving virtio, we read
 * the request through the guest-RAM mapping of our own process; a page the
 * guest forgot to share reads as ciphertext (the 0x3d handler exports it)
 * and the request is refused.  The answer is every word inverted.
 */
int vmm_guest_io_notify(struct vmm_vcpu *vcpu, uint64_t gaddr,
			uint64_t nr_pages, uint64_t seq, char *msg,
			size_t msglen)
{
	struct vmm *vmm = vcpu->vmm;
	uint64_t page[HW_PAGE_SIZE / 8];
	uint64_t key = vcpu->ipl.key;
	int r = 0;

	msg[0] = '\0';
	for (uint64_t i = 0; i < nr_pages && !r; i++) {
		uint64_t ga = gaddr + i * HW_PAGE_SIZE;

		r = vmm_host_read_guest(vmm, ga, page, sizeof(page));
		if (r) {
			snprintf(msg, msglen, "read 0x%" PRIx64 ": %s", ga,
				 strerror(-r));
			break;
		}
		if (page[0] != (VMM_IO_MAGIC | (seq & 0xffffff))) {
			snprintf(msg, msglen, "no request header at 0x%" PRIx64
				 " (0x%016" PRIx64 "): not shared?", ga, page[0]);
			r = -EIO;
			break;
		}
		for (unsigned int w = 1; w < HW_PAGE_SIZE / 8; w++) {
			if (page[w] != vmm_io_request_word(key, ga + w * 8, seq)) {
				snprintf(msg, msglen, "request word at 0x%" PRIx64
					 " corrupted", ga + w * 8);
				r = -EIO;
				break;
			}
			page[w] = ~page[w];
		}
		if (!r)
			r = vmm_host_write_guest(vmm, ga, page, sizeof(page));
		if (r && !msg[0])
			snprintf(msg, msglen, "write 0x%" PRIx64 ": %s", ga,
				 strerror(-r));
	}
	if (!r) {
		lpv_mutex_lock(&vmm->lock);
		vmm->io_pages += nr_pages;
		lpv_mutex_unlock(&vmm->lock);
	}
	return r;
}

/* ---- the host's view of guest RAM ---- */

static int vmm_guest_access(struct vmm *vmm, uint64_t gaddr, void *buf,
			    size_t len, bool write)
{
	struct mm *mm;
	int r;

	if (gaddr > vmm->cfg.guest_mem || len > vmm->cfg.guest_mem - gaddr)
		return -EFAULT;
	/* An mm_users reference for the copy: none once the VMM exited.
	 * (Callers outside the VMM must not race vmm_wait, which reaps.) */
	if (!vmm->task)
		return -ESRCH;
	mm = task_get_mm(vmm->task);
	if (!mm)
		return -ESRCH;
	r = mm_access(mm, vmm->uaddr + gaddr, buf, len, write);
	mmput(mm);
	return r;
}

int vmm_host_read_guest(struct vmm *vmm, uint64_t gaddr, void *buf,
			size_t len)
{
	return vmm_guest_access(vmm, gaddr, buf, len, false);
}

int vmm_host_write_guest(struct vmm *vmm, uint64_t gaddr, const void *buf,
			 size_t len)
{
	/* mm_access copies from @buf when writing; it does not change it. */
	return vmm_guest_access(vmm, gaddr, (void *)buf, len, true);
}

int vmm_copy_to_guest(struct vmm *vmm, uint64_t gaddr, const void *buf,
		      size_t len)
{
	return vmm_host_write_guest(vmm, gaddr, buf, len);
}
