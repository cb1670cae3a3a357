// SPDX-License-Identifier: MIT
/*
 * teardown.c - the VMM's part of the deferred teardown designs.
 *
 * async (QEMU 8 + Linux 6.2):
 *   reboot    s390_pv_vm_try_disable_async: for a guest above 2 GiB with
 *             the capability, ASYNC_CLEANUP_PREPARE, then a detached
 *             "async_cleanup" thread of the VMM runs ASYNC_CLEANUP_PERFORM
 *             (its CPU time is the VMM's); otherwise KVM_PV_DISABLE.  If
 *             PERFORM fails the VMM exits with status 1, as QEMU does.
 *   shutdown  -run-with async-teardown=on: at start the VMM clones a
 *             CLONE_VM teardown helper (same memcg).  It shares the mm and
 *             nothing else: no VM reference, no exit_files hook.  It waits
 *             for its parent's death (PR_SET_PDEATHSIG), then checks once
 *             per poll period whether the parent is gone, sleeping in
 *             between, and exits.  So the VMM's own exit drops the last VM
 *             reference (exit_files after exit_mm, which the helper keeps
 *             from tearing the mm down): DESTROY_SEC_CONF and the walk run
 *             before the parent's wait returns.  Only the final exit_mmap
 *             runs in the helper, after its poll.
 * lazy needs nothing here: KVM_PV_DISABLE and the VM's close defer the
 * work to KVM's own cleanup threads.
 *
 * Threads: cleanup threads are attached to the VMM task like QEMU's; an
 * exit_group (or kill) interrupts their PERFORM, which leaves the rest to
 * the VM teardown.  The helper thread is attached to the helper task.
 * vmm->lock protects the thread list and the helper's view of its parent
 * (helper_pdeath, helper_reparented); the parent joins the threads and
 * reaps the helper in vmm_wait (vmm_teardown_reap).
 */
#include "vmm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VMM_ASYNC_MIN_GUEST (2ULL << 30)

/* The VMM's modes are KVM's, by value. */
_Static_assert((int)VMM_DESTROY_NR == (int)KVM_DESTROY_NR_MODES,
	       "vmm and kvm teardown modes differ");

static void vmm_note(struct vmm *vmm, const char *msg)
{
	struct vmm_event ev = { .type = VMM_EV_NOTE };

	snprintf(ev.message, sizeof(ev.message), "%s", msg);
	vmm_emit(vmm, &ev);
}

/* ---- the CLONE_VM teardown helper ---- */

/* How often a waiting helper looks for a SIGKILL: a kill (the OOM killer
 * takes every task sharing the mm) only sets a flag.  Coarse, so that a
 * paused helper costs the machine next to nothing during the VMM's life. */
#define VMM_HELPER_SIGNAL_TICK_NS (10ULL * 1000 * 1000)

/* The main thread exits: it cloned the helper, so PR_SET_PDEATHSIG
 * fires now, while the rest of the VMM's exit still runs. */
void vmm_helper_parent_exit_locked(struct vmm *vmm)
{
	lpv_mutex_assert_held(&vmm->lock);
	vmm->helper_pdeath = true;
	lpv_cond_broadcast(&vmm->cond);
}

/* The VMM's exit_notify: its children are reparented, so the helper's
 * getppid() stops answering the VMM.  No wake-up: the helper finds out
 * at its next check. */
void vmm_helper_parent_gone_locked(struct vmm *vmm)
{
	lpv_mutex_assert_held(&vmm->lock);
	vmm->helper_pdeath = true;	/* sent at the latest here */
	vmm->helper_reparented = true;
}

/* sleep(): the whole period (the parent's death does not shorten it),
 * false if the helper was killed meanwhile. */
static bool vmm_helper_sleep(uint64_t ns)
{
	uint64_t end = lpv_now_ns() + ns;

	for (;;) {
		uint64_t now = lpv_now_ns();

		if (task_should_stop())
			return false;
		if (now >= end)
			return true;
		lpv_sleep_ns(end - now < VMM_HELPER_SIGNAL_TICK_NS ?
			     end - now : VMM_HELPER_SIGNAL_TICK_NS);
	}
}

static void *vmm_helper_main(void *arg)
{
	struct vmm *vmm = arg;
	struct task *helper = vmm->helper;
	struct vmm_event ev = { .type = VMM_EV_HELPER_EXIT };
	uint64_t period = (vmm->cfg.helper_poll_ms ? vmm->cfg.helper_poll_ms :
			   VMM_HELPER_POLL_MS) * 1000000ULL;
	uint64_t t0;
	bool gone;

	trace_thread_name("VMM %d teardown helper", vmm->pid);
	if (task_thread_enter(helper))
		return NULL;	/* killed: whoever killed it ran its exit */
	/*
	 * QEMU's child closes every fd it inherited; ours inherited none
	 * (task_clone_vm copies no exit_files hook), so it holds no VM
	 * reference.  Then PR_SET_PDEATHSIG(SIGHUP) and pause().
	 */
	lpv_mutex_lock(&vmm->lock);
	while (!vmm->helper_pdeath && !task_should_stop())
		lpv_cond_wait_until(&vmm->cond, &vmm->lock,
				    lpv_now_ns() + VMM_HELPER_SIGNAL_TICK_NS);
	lpv_mutex_unlock(&vmm->lock);
	/* The SIGHUP handler: until reparented, sleep(1) between checks. */
	for (;;) {
		if (task_should_stop())
			goto killed;
		lpv_mutex_lock(&vmm->lock);
		gone = vmm->helper_reparented;
		lpv_mutex_unlock(&vmm->lock);
		ev.polls++;
		if (gone)
			break;
		if (!vmm_helper_sleep(period))
			goto killed;
	}
	lpv_mutex_lock(&vmm->lock);
	ev.t_ns = lpv_now_ns();
	ev.latency_ns = vmm->shutdown_ns && ev.t_ns > vmm->shutdown_ns ?
			ev.t_ns - vmm->shutdown_ns : 0;
	vmm_emit_locked(vmm, &ev);
	lpv_mutex_unlock(&vmm->lock);
	/* _exit(0): the last mmput, so the final exit_mmap runs here. */
	t0 = lpv_now_ns();
	if (task_exit(helper, 0))
		task_thread_leave(helper);
	trace_complete(TRACE_PID_KERNEL, trace_tid(), "helper exit", t0,
		       lpv_now_ns(), "polls", ev.polls, NULL, 0);
	return NULL;
killed:
	task_thread_leave(helper);	/* the last thread runs the exit */
	return NULL;
}

static int vmm_helper_start(struct vmm *vmm)
{
	int r;

	r = task_clone_vm(vmm->task, &vmm->helper);
	if (r)
		return r;
	r = -pthread_create(&vmm->helper_thread, NULL, vmm_helper_main, vmm);
	if (r) {
		/* Nothing runs in it: exit it here (drops its mm user). */
		if (!task_exit(vmm->helper, 1))
			BUG_ON(task_wait(vmm->helper, NULL));
		vmm->helper = NULL;
		return r;
	}
	vmm->helper_started = true;
	return 0;
}

int vmm_teardown_setup(struct vmm *vmm)
{
	enum kvm_destroy_mode want = (enum kvm_destroy_mode)vmm->cfg.destroy;
	char msg[128];
	int r;

	r = kvm_set_destroy_mode(vmm->kvm, want);
	if (r < 0)
		return r;
	vmm->kvm_mode = (enum kvm_destroy_mode)r;
	if (vmm->kvm_mode != want) {
		snprintf(msg, sizeof(msg), "%s teardown is fenced by the kvm module: using %s",
			 kvm_destroy_mode_name(want),
			 kvm_destroy_mode_name(vmm->kvm_mode));
		vmm_note(vmm, msg);
	}
	if (vmm->kvm_mode == KVM_DESTROY_ASYNC)
		return vmm_helper_start(vmm);
	return 0;
}

/* ---- async reboot ---- */

struct vmm_cleanup {
	struct vmm *vmm;
	uint64_t req_ns;	/* the reboot request that set the VM aside */
};

/* A finished thread marks its slot; the next reboot joins it. */
static void vmm_cleanup_finished(struct vmm *vmm, pthread_t self)
{
	lpv_mutex_lock(&vmm->lock);
	for (unsigned int i = 0; i < vmm->nr_cleanup_threads; i++)
		if (pthread_equal(vmm->cleanup_threads[i], self))
			vmm->cleanup_finished[i] = true;
	lpv_mutex_unlock(&vmm->lock);
}

/* Join finished cleanup threads and compact the list (vmm->lock held;
 * a finished thread takes the lock no more). */
static void vmm_cleanup_compact_locked(struct vmm *vmm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vmm->nr_cleanup_threads; i++) {
		if (vmm->cleanup_finished[i]) {
			pthread_join(vmm->cleanup_threads[i], NULL);
			continue;
		}
		vmm->cleanup_threads[n] = vmm->cleanup_threads[i];
		vmm->cleanup_finished[n++] = false;
	}
	vmm->nr_cleanup_threads = n;
}

/*
 * QEMU's async_cleanup thread exit(1)s when PERFORM fails.  Say why on
 * the timeline (an error, then the shutdown request it amounts to) before
 * the exit.
 */
static void vmm_cleanup_failed(struct vmm *vmm, int r,
			       const struct kvm_pv_cmd *cmd)
{
	char msg[128];

	snprintf(msg, sizeof(msg),
		 "ASYNC_CLEANUP_PERFORM failed: %s (rc 0x%x rrc 0x%x): exit(1)",
		 strerror(-r), cmd->rc, cmd->rrc);
	lpv_mutex_lock(&vmm->lock);
	vmm_record_error_locked(vmm, r, msg);
	if (!vmm->shutdown_ns)
		WRITE_ONCE(vmm->shutdown_ns, lpv_now_ns());
	if (!vmm->exit_why[0])
		snprintf(vmm->exit_why, sizeof(vmm->exit_why),
			 "ASYNC_CLEANUP_PERFORM failed");
	lpv_mutex_unlock(&vmm->lock);
}

static void *vmm_cleanup_main(void *arg)
{
	struct vmm_cleanup c = *(struct vmm_cleanup *)arg;
	struct vmm *vmm = c.vmm;
	pthread_t self = pthread_self();
	struct vmm_event ev = { .type = VMM_EV_CLEANUP_DONE };
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ASYNC_CLEANUP_PERFORM };
	struct kvm *kvm;
	int r;

	free(arg);
	trace_thread_name("VMM %d async cleanup", vmm->pid);
	if (task_thread_enter(vmm->task)) {
		/* The VMM is dying: the VM teardown cleans. */
		vmm_cleanup_finished(vmm, self);
		return NULL;
	}
	lpv_mutex_lock(&vmm->lock);
	kvm = vmm->kvm;
	lpv_mutex_unlock(&vmm->lock);
	r = kvm ? kvm_pv_command(kvm, &cmd) : -ESRCH;
	ev.code = r;
	ev.latency_ns = lpv_now_ns() - c.req_ns;
	if (r)
		snprintf(ev.message, sizeof(ev.message), "PERFORM failed: %s (rc 0x%x rrc 0x%x)",
			 strerror(-r), cmd.rc, cmd.rrc);
	else if (cmd.rrc == KVM_PV_RRC_DEFERRED)
		snprintf(ev.message, sizeof(ev.message),
			 "interrupted: the VM teardown finishes it");
	vmm_emit(vmm, &ev);
	if (r && !task_should_stop()) {
		vmm_cleanup_failed(vmm, r, &cmd);
		vmm_cleanup_finished(vmm, self);
		/* exit(1): exit_group from this thread; the VMM's other
		 * threads see the fatal signal and leave, the last one runs
		 * the exit.  (Already exiting: just leave.) */
		if (task_exit(vmm->task, 1))
			task_thread_leave(vmm->task);
		return NULL;
	}
	vmm_cleanup_finished(vmm, self);
	task_thread_leave(vmm->task);	/* may run the exit: vmm stays valid
					 * until the parent has joined us */
	return NULL;
}

int vmm_unprotect_async(struct vmm *vmm)
{
	struct vmm_cleanup *c;
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ASYNC_CLEANUP_PREPARE };
	pthread_t t;
	int r;

	if (vmm->cfg.guest_mem <= VMM_ASYNC_MIN_GUEST ||
	    !kvm_cap_protected_async_disable(vmm->env.kvm))
		return vmm_pv(vmm, KVM_PV_DISABLE, NULL);
	c = calloc(1, sizeof(*c));
	if (!c)
		return vmm_pv(vmm, KVM_PV_DISABLE, NULL);
	r = kvm_pv_command(vmm->kvm, &cmd);
	if (r) {
		free(c);
		/* A set-aside VM is still waiting, or the UV refused: the
		 * synchronous path cleans everything. */
		return vmm_pv(vmm, KVM_PV_DISABLE, NULL);
	}
	c->vmm = vmm;
	lpv_mutex_lock(&vmm->lock);
	c->req_ns = vmm->reboot_req_ns ? vmm->reboot_req_ns : lpv_now_ns();
	vmm_cleanup_compact_locked(vmm);
	if (vmm->nr_cleanup_threads == ARRAY_SIZE(vmm->cleanup_threads)) {
		lpv_mutex_unlock(&vmm->lock);
		/* Too many in flight: do this one here, in the main thread. */
		free(c);
		return vmm_pv(vmm, KVM_PV_ASYNC_CLEANUP_PERFORM, NULL);
	}
	/* Created under the lock, so the slot is filled before the thread can
	 * look for it. */
	r = -pthread_create(&t, NULL, vmm_cleanup_main, c);
	if (!r) {
		vmm->cleanup_finished[vmm->nr_cleanup_threads] = false;
		vmm->cleanup_threads[vmm->nr_cleanup_threads++] = t;
	}
	lpv_mutex_unlock(&vmm->lock);
	if (r) {
		free(c);
		return vmm_pv(vmm, KVM_PV_ASYNC_CLEANUP_PERFORM, NULL);
	}
	return 0;
}

/* ---- the parent ---- */

/*
 * Before the VMM task is reaped: a cleanup thread that has not attached
 * yet must find the task exiting, not freed (clone() would have made it
 * part of the process at once; our threads join the task themselves).
 * Attached ones leave when the exit interrupts their PERFORM.
 */
void vmm_teardown_join_cleanups(struct vmm *vmm)
{
	unsigned int n;

	lpv_mutex_lock(&vmm->lock);
	n = vmm->nr_cleanup_threads;
	vmm->nr_cleanup_threads = 0;
	lpv_mutex_unlock(&vmm->lock);
	for (unsigned int i = 0; i < n; i++)
		pthread_join(vmm->cleanup_threads[i], NULL);
}

/* After reclaim: the helper has exited; join its thread and reap it. */
void vmm_teardown_reap(struct vmm *vmm)
{
	vmm_teardown_join_cleanups(vmm);
	if (vmm->helper_started) {
		pthread_join(vmm->helper_thread, NULL);
		vmm->helper_started = false;
	}
	if (vmm->helper) {
		BUG_ON(task_wait(vmm->helper, NULL));
		vmm->helper = NULL;
	}
}
