// SPDX-License-Identifier: MIT
/*
 * vmm.c - one VMM process: its task, its threads and its life.
 *
 * A VMM is a task forked from the host's shell, in a memcg of its own, with
 * a guest-RAM VMA in its mm that backs one VM.  Threads:
 *
 *   main      attached to the task; creates the VM and the vCPUs, boots the
 *             guest, then loops: start a generation (every vCPU runs the
 *             guest from its reset PSW), wait for the first exit or host
 *             request, stop the other vCPUs (kick), decide -- reboot,
 *             reset, shutdown, error, killed -- and act (boot.c).  At the
 *             end it joins the vCPU threads and exits the task, so the
 *             exit path (exit_mm, then exit_files destroying the VM) runs
 *             on it, before the parent's task_wait() returns.
 *   vCPU n    attached to the task; runs kvm_vcpu_run once per generation
 *             and reports the exit.
 *   parent    whoever called vmm_create (a test, `lazypv run`): requests,
 *             kill, and vmm_wait, which reaps the task and waits for the
 *             memory to come back (parent.c).
 *
 * vmm->lock protects the run state (generation, running count, exit
 * records, requests, boot counters, timeline); vmm->cond is broadcast on
 * every change of it.  The main thread never holds the lock across a KVM
 * call; vCPU threads never hold it inside the guest except in the short
 * machine.c hooks.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- vCPU threads ---- */

static void *vmm_vcpu_thread(void *arg)
{
	struct vmm_vcpu *vcpu = arg;
	struct vmm *vmm = vcpu->vmm;
	int r = task_thread_enter(vmm->task);

	trace_thread_name("VMM %d vCPU %u", vmm->pid, vcpu->id);
	lpv_mutex_lock(&vmm->lock);
	vcpu->entered = true;
	vcpu->enter_error = r;
	lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
	if (r)
		return NULL;
	for (;;) {
		struct kvm_run run;
		uint64_t gen;
		int ret;

		lpv_mutex_lock(&vmm->lock);
		while (!vmm->quit && vcpu->gen_done == vmm->gen)
			lpv_cond_wait(&vmm->cond, &vmm->lock);
		if (vmm->quit) {
			lpv_mutex_unlock(&vmm->lock);
			break;
		}
		gen = vmm->gen;
		lpv_mutex_unlock(&vmm->lock);

		ret = kvm_vcpu_run(vcpu->kvcpu, vmm_guest_entry, vcpu, &run);

		lpv_mutex_lock(&vmm->lock);
		vcpu->run = run;
		vcpu->run_ret = ret;
		vcpu->exit_ns = lpv_now_ns();
		vcpu->gen_done = gen;
		vmm->running--;
		lpv_cond_broadcast(&vmm->cond);
		lpv_mutex_unlock(&vmm->lock);
	}
	task_thread_leave(vmm->task);
	return NULL;
}

/*
 * exit_files: the VM fd's close, after exit_mm (do_exit's order).  It is
 * the VM's only reference, so its last: kvm_arch_destroy_vm runs here, on
 * the exit path, before the parent's wait returns -- with the address
 * space still there if an async teardown helper holds it.  exit_notify
 * follows at once: the helper's parent is gone from then on.
 */
static void vmm_exit_files(void *ctx)
{
	struct vmm *vmm = ctx;
	struct kvm *kvm;

	lpv_mutex_lock(&vmm->lock);
	kvm = vmm->kvm;
	lpv_mutex_lock(&vmm->kvm_lock);
	vmm->kvm = NULL;
	lpv_mutex_unlock(&vmm->kvm_lock);
	lpv_mutex_unlock(&vmm->lock);
	if (kvm)
		kvm_destroy_vm(kvm);
	lpv_mutex_lock(&vmm->lock);
	vmm_helper_parent_gone_locked(vmm);
	lpv_mutex_unlock(&vmm->lock);
}

static void vmm_fail_locked(struct vmm *vmm, int error, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-error));
	vmm_record_error_locked(vmm, error, msg);
}

/* Guest RAM, the VM, its vCPUs and their threads. */
static int vmm_setup(struct vmm *vmm)
{
	const struct vmm_config *cfg = &vmm->cfg;
	const char *what = "guest RAM mmap";
	struct mm *mm = task_get_mm(vmm->task);
	struct kvm *kvm;
	int r;

	if (!mm)
		return -ESRCH;
	r = mm_mmap(mm, cfg->guest_mem, MM_PROT_READ | MM_PROT_WRITE,
		    &vmm->uaddr);
	mmput(mm);
	if (r)
		goto fail;
	what = "KVM_CREATE_VM";
	r = kvm_create_vm(vmm->env.kvm, vmm->task, &kvm);
	if (r)
		goto fail;
	lpv_mutex_lock(&vmm->lock);
	lpv_mutex_lock(&vmm->kvm_lock);
	vmm->kvm = kvm;
	lpv_mutex_unlock(&vmm->kvm_lock);
	lpv_mutex_unlock(&vmm->lock);
	/* From here on, however the task ends, its exit closes the VM. */
	task_set_exit_files(vmm->task, vmm_exit_files, vmm);
	what = "teardown mode";
	r = vmm_teardown_setup(vmm);
	if (r)
		goto fail;
	what = "KVM_SET_USER_MEMORY_REGION";
	r = kvm_set_memory(kvm, cfg->guest_mem, vmm->uaddr);
	if (r)
		goto fail;
	what = "KVM_CREATE_VCPU";
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		r = kvm_vcpu_create(kvm, i, &vmm->vcpus[i].kvcpu);
		if (r)
			goto fail;
	}
	what = "vCPU thread";
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		r = -pthread_create(&vmm->vcpus[i].thread, NULL,
				    vmm_vcpu_thread, &vmm->vcpus[i]);
		if (r)
			goto fail;
		vmm->vcpus[i].thread_started = true;
	}
	lpv_mutex_lock(&vmm->lock);
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		while (!vmm->vcpus[i].entered)
			lpv_cond_wait(&vmm->cond, &vmm->lock);
		if (vmm->vcpus[i].enter_error)
			r = vmm->vcpus[i].enter_error;	/* killed meanwhile */
	}
	lpv_mutex_unlock(&vmm->lock);
	return r;
fail:
	if (!task_should_stop()) {
		lpv_mutex_lock(&vmm->lock);
		vmm_fail_locked(vmm, r, what);
		lpv_mutex_unlock(&vmm->lock);
	}
	return r;
}

/* ---- generations ---- */

static void vmm_boot_begin(struct vmm *vmm, bool protected, uint64_t req_ns)
{
	struct vmm_event ev = { .type = VMM_EV_BOOT_START };

	lpv_mutex_lock(&vmm->lock);
	if (vmm->gen)
		vmm->boot++;
	vmm->boot_start_ns = lpv_now_ns();
	vmm->reboot_req_ns = req_ns;
	vmm->first_insn_seen = false;
	vmm->round_seen = false;
	vmm->protected = protected;
	ev.t_ns = vmm->boot_start_ns;
	vmm_emit_locked(vmm, &ev);
	lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
}

/* Every vCPU runs the guest from its reset PSW. */
static void vmm_generation_start(struct vmm *vmm, enum vmm_start_kind kind)
{
	struct vmm_ipl ipl = {
		.kind = kind,
		.nr_cpus = vmm->cfg.cpus,
		.guest_mem = vmm->cfg.guest_mem,
	};

	/* No vCPU is inside SIE: the barrier can be reset without them. */
	lpv_mutex_lock(&vmm->sigp.lock);
	vmm->sigp.arrived = 0;
	vmm->sigp.gen = vmm->boot;
	lpv_mutex_unlock(&vmm->sigp.lock);

	lpv_mutex_lock(&vmm->lock);
	ipl.boot = vmm->boot;
	ipl.protected = vmm->protected;
	ipl.has_prev = vmm->gen > 0;
	ipl.prev_protected = vmm->prev_protected;
	ipl.key = vmm_boot_key_of(vmm->salt, vmm->boot);
	ipl.prev_key = vmm->boot ? vmm_boot_key_of(vmm->salt, vmm->boot - 1) : 0;
	ipl.salt = vmm->salt;
	if (kind == VMM_START_BOOT)
		vmm->origin_boot = vmm->boot;
	ipl.origin = vmm->origin_boot;
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++)
		vmm->vcpus[i].ipl = ipl;
	vmm->prev_protected = vmm->protected;
	vmm->gen = vmm->boot + 1ULL;
	vmm->running = vmm->cfg.cpus;
	vmm->stopping = false;
	lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
}

enum vmm_next {
	NEXT_BOOT_PV,
	NEXT_BOOT_PLAIN,
	NEXT_RESET,
	NEXT_SHUTDOWN,
	NEXT_ERROR,
	NEXT_KILLED,
};

struct vmm_decision {
	enum vmm_next next;
	uint64_t subcode;	/* diag 308 subcode / VMM_RESET_EXTERNAL */
	uint64_t req_ns;	/* when it was asked for */
	const char *why;	/* shutdown reason */
};

static bool vmm_exit_is_error(const struct vmm_vcpu *v)
{
	return v->run_ret || v->run.reason == KVM_EXIT_GUEST_ERROR ||
	       v->run.reason == KVM_EXIT_VALIDITY;
}

/* Under vmm->lock, every vCPU stopped: what does this generation end in? */
static void vmm_decide_locked(struct vmm *vmm, struct vmm_decision *d)
{
	const struct vmm_vcpu *first = NULL;

	d->req_ns = lpv_now_ns();
	if (task_fatal_signal_pending(vmm->task)) {
		d->next = NEXT_KILLED;
		return;
	}
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++) {
		const struct vmm_vcpu *v = &vmm->vcpus[i];
		char msg[128];

		if (!vmm_exit_is_error(v))
			continue;
		if (v->run_ret)
			snprintf(msg, sizeof(msg), "vCPU %u: KVM_RUN: %s", i,
				 strerror(-v->run_ret));
		else
			snprintf(msg, sizeof(msg), "vCPU %u: %s", i,
				 v->run.message);
		vmm_record_error_locked(vmm, v->run_ret ? v->run_ret :
					v->run.error, msg);
		d->next = NEXT_ERROR;
		return;
	}
	if (vmm->request != VMM_REQ_NONE) {
		d->req_ns = vmm->request_ns;
		d->subcode = VMM_RESET_EXTERNAL;
		d->why = "host request";
		d->next = vmm->request == VMM_REQ_SHUTDOWN ? NEXT_SHUTDOWN :
			  vmm->cfg.start_plain ? NEXT_BOOT_PLAIN : NEXT_BOOT_PV;
		vmm->request = VMM_REQ_NONE;
		return;
	}
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++) {
		const struct vmm_vcpu *v = &vmm->vcpus[i];

		if ((v->run.reason == KVM_EXIT_DIAG308 ||
		     v->run.reason == KVM_EXIT_POWEROFF) &&
		    (!first || v->exit_ns < first->exit_ns))
			first = v;
	}
	if (!first) {
		vmm_record_error_locked(vmm, -EIO, "every vCPU stopped with nothing to do");
		d->next = NEXT_ERROR;
		return;
	}
	d->req_ns = first->exit_ns;
	d->subcode = first->run.subcode;
	if (first->run.reason == KVM_EXIT_POWEROFF) {
		d->why = "guest power-off";
		d->next = NEXT_SHUTDOWN;
		return;
	}
	switch (first->run.subcode) {
	case DIAG308_PV_START:
		d->next = NEXT_BOOT_PV;
		break;
	case DIAG308_LOAD_CLEAR:
		d->next = NEXT_BOOT_PLAIN;
		break;
	case DIAG308_RESET_MODIFIED_CLEAR:
	case DIAG308_LOAD_NORMAL:
		d->next = NEXT_RESET;
		break;
	default: {
		char msg[64];

		snprintf(msg, sizeof(msg), "diag 308 subcode %" PRIu64 " is not supported",
			 first->run.subcode);
		vmm_record_error_locked(vmm, -EOPNOTSUPP, msg);
		d->next = NEXT_ERROR;
	}
	}
}

/* Wait for the generation to end (first exit or host request), stop the
 * other vCPUs, and decide. */
static void vmm_generation_end(struct vmm *vmm, struct vmm_decision *d)
{
	lpv_mutex_lock(&vmm->lock);
	while (vmm->running == vmm->cfg.cpus && vmm->request == VMM_REQ_NONE)
		lpv_cond_wait(&vmm->cond, &vmm->lock);
	vmm->stopping = true;
	lpv_mutex_unlock(&vmm->lock);
	/* SIGP stop to everyone (a vCPU that already left ignores it). */
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++)
		kvm_vcpu_kick(vmm->vcpus[i].kvcpu);
	lpv_mutex_lock(&vmm->lock);
	while (vmm->running)
		lpv_cond_wait(&vmm->cond, &vmm->lock);
	vmm_decide_locked(vmm, d);
	lpv_mutex_unlock(&vmm->lock);
}

/* Why the VMM is dying: a thread of its own exit(1)ed, or a kill. */
static const char *vmm_kill_reason(struct vmm *vmm)
{
	struct memcg_stats ms;
	bool self;

	lpv_mutex_lock(&vmm->lock);
	self = vmm->exit_why[0];
	lpv_mutex_unlock(&vmm->lock);
	if (self)
		return vmm->exit_why;	/* written once, before the exit */
	memcg_stats_get(vmm->memcg, &ms);
	return ms.oom_kill ? "killed by the OOM killer" : "killed";
}

static void vmm_shutdown_request(struct vmm *vmm, uint64_t t, const char *why)
{
	struct vmm_event ev = { .type = VMM_EV_SHUTDOWN_REQUEST };

	lpv_mutex_lock(&vmm->lock);
	if (!vmm->shutdown_ns)
		WRITE_ONCE(vmm->shutdown_ns, t);
	ev.t_ns = vmm->shutdown_ns;
	snprintf(ev.message, sizeof(ev.message), "%s", why);
	vmm_emit_locked(vmm, &ev);
	lpv_mutex_unlock(&vmm->lock);
}

/*
 * The machine's life: boot, then a generation after another until it ends.
 * Returns the exit code (0 shut down, 1 error; a kill has its own).
 */
static int vmm_run(struct vmm *vmm)
{
	struct vmm_decision d = {
		.next = vmm->cfg.start_plain ? NEXT_BOOT_PLAIN : NEXT_BOOT_PV,
	};
	enum vmm_start_kind kind = VMM_START_BOOT;
	int r;

	for (;;) {
		switch (d.next) {
		case NEXT_BOOT_PV:
			r = vmm_unprotect(vmm);
			if (r)
				break;
			vmm_boot_begin(vmm, true, d.req_ns);
			r = vmm_boot_protected(vmm);
			kind = VMM_START_BOOT;
			break;
		case NEXT_BOOT_PLAIN:
			r = vmm_unprotect(vmm);
			if (r)
				break;
			vmm_boot_begin(vmm, false, d.req_ns);
			r = vmm_boot_plain(vmm);
			kind = VMM_START_BOOT;
			break;
		case NEXT_RESET:
			r = vmm_reset_protected(vmm, d.subcode);
			if (!r)
				vmm_boot_begin(vmm, vmm->protected, d.req_ns);
			kind = VMM_START_RESET;
			break;
		default:
			BUG_ON(1);
		}
		if (r)
			break;
		vmm_generation_start(vmm, kind);
		vmm_generation_end(vmm, &d);

		if (d.next <= NEXT_RESET) {
			struct vmm_event ev = {
				.type = VMM_EV_REBOOT_REQUEST,
				.t_ns = d.req_ns,
				.subcode = d.subcode,
			};

			vmm_emit(vmm, &ev);
			if (vmm->cfg.max_reboots >= 0 &&
			    vmm->reboots >= (unsigned int)vmm->cfg.max_reboots) {
				d.next = NEXT_SHUTDOWN;
				d.why = "reboot limit reached";
			} else {
				vmm->reboots++;
			}
		}
		if (d.next == NEXT_SHUTDOWN) {
			vmm_shutdown_request(vmm, d.req_ns, d.why);
			return 0;
		}
		if (d.next == NEXT_ERROR || d.next == NEXT_KILLED)
			break;
	}
	if (task_should_stop())
		vmm_shutdown_request(vmm, lpv_now_ns(), vmm_kill_reason(vmm));
	else
		vmm_shutdown_request(vmm, lpv_now_ns(), "error");
	return 1;
}

static void vmm_main_end(struct vmm *vmm, int code)
{
	lpv_mutex_lock(&vmm->lock);
	vmm->quit = true;
	lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
	for (unsigned int i = 0; i < vmm->cfg.cpus; i++) {
		struct vmm_vcpu *v = &vmm->vcpus[i];

		if (v->kvcpu)
			kvm_vcpu_kick(v->kvcpu);
		if (v->thread_started)
			pthread_join(v->thread, NULL);
	}
	lpv_mutex_lock(&vmm->lock);
	WRITE_ONCE(vmm->exiting, true);
	if (!vmm->shutdown_ns)
		WRITE_ONCE(vmm->shutdown_ns, lpv_now_ns());
	vmm->frames_at_exit = vmm_frames_charged(vmm);
	/* This thread cloned the teardown helper: its exit is the helper's
	 * PR_SET_PDEATHSIG, before the rest of the VMM's exit runs. */
	vmm_helper_parent_exit_locked(vmm);
	lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
	/* exit_group: we are the last thread, so do_exit runs right here
	 * (a pending kill or exit keeps its own exit code). */
	if (task_exit(vmm->task, code))
		task_thread_leave(vmm->task);
}

void *vmm_main(void *arg)
{
	struct vmm *vmm = arg;
	int code = 1;

	trace_thread_name("VMM %d main", vmm->pid);
	if (task_thread_enter(vmm->task)) {
		/* Killed before it ran: the killer did the exit. */
		lpv_mutex_lock(&vmm->lock);
		WRITE_ONCE(vmm->exiting, true);
		if (!vmm->shutdown_ns)
			WRITE_ONCE(vmm->shutdown_ns, lpv_now_ns());
		lpv_cond_broadcast(&vmm->cond);
		lpv_mutex_unlock(&vmm->lock);
		return NULL;
	}
	if (!vmm_setup(vmm))
		code = vmm_run(vmm);
	else if (task_should_stop())
		vmm_shutdown_request(vmm, lpv_now_ns(), vmm_kill_reason(vmm));
	vmm_main_end(vmm, code);
	return NULL;
}
