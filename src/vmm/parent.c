// SPDX-License-Identifier: MIT
/*
 * parent.c - a VMM seen from its parent (a test, `lazypv run`, the
 * benchmark): checking a configuration against the host, forking the VMM
 * (memcg, task, main thread), host-side requests and SIGKILL, waiting for
 * milestones, and the final wait -- reap the task (exit latency), then
 * wait until every frame is back and uncharged (reclaim).
 *
 * The parent's calls take vmm->lock for the run state they read or
 * change; vmm_wait() and vmm_destroy() are for the one thread that owns
 * the handle.  What the VMM's own threads do is in vmm.c.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* How long vmm_wait() waits for the memory to come back, by default. */
#define VMM_RECLAIM_TIMEOUT_MS (60ULL * 1000)
/* Poll period of that wait: the mm has no "memcg empty" notification. */
#define VMM_RECLAIM_POLL_NS (200ULL * 1000)

static unsigned int vmm_next_id;

/* ---- configuration ---- */

/* What a protected guest costs the host besides its RAM: donated
 * storage, the SIE blocks, page tables (8 bytes per page, twice). */
static uint64_t vmm_guest_overhead(const struct kvm_module *kvm,
				   const struct vmm_config *cfg)
{
	return kvm_pv_donated_bytes(kvm, cfg->guest_mem, cfg->cpus) +
	       cfg->cpus * 2 * HW_PAGE_SIZE +
	       cfg->guest_mem / HW_PAGE_SIZE * 16 + (1ULL << 20);
}

/* As the overhead, with page tables for the image's pages only: what is
 * charged up to the first instruction. */
uint64_t vmm_boot_min_bytes(const struct vmm_env *env,
			    const struct vmm_config *cfg)
{
	uint64_t pages = cfg->image ? cfg->image->nr_pages : 0;

	return pages * HW_PAGE_SIZE +
	       kvm_pv_donated_bytes(env->kvm, cfg->guest_mem, cfg->cpus) +
	       cfg->cpus * 2 * HW_PAGE_SIZE + pages * 16 + (1ULL << 20);
}

int vmm_config_check(const struct vmm_env *env, const struct vmm_config *cfg,
		     char *err, size_t errlen)
{
	const struct uv_info *info = kvm_module_uv_info(env->kvm);
	char a[32], b[32], c[32];
	struct mm_stats st;
	uint64_t overhead, avail;
	char msg[160] = "";
	int r = 0;

	if (!cfg->guest_mem || cfg->guest_mem % (1ULL << 20)) {
		snprintf(msg, sizeof(msg), "guest memory must be a non-zero multiple of 1 MiB");
		r = -EINVAL;
	} else if (!cfg->cpus || cfg->cpus > VMM_MAX_CPUS ||
		   cfg->cpus > info->max_guest_cpu_id + 1U) {
		snprintf(msg, sizeof(msg), "CPUs must be 1..%u",
			 VMM_MAX_CPUS < info->max_guest_cpu_id + 1U ?
			 VMM_MAX_CPUS : info->max_guest_cpu_id + 1U);
		r = -EINVAL;
	} else if ((unsigned int)cfg->destroy >= VMM_DESTROY_NR) {
		snprintf(msg, sizeof(msg), "unknown teardown mode");
		r = -EINVAL;
	} else if (cfg->start_plain ? !cfg->plain_program : !cfg->image) {
		snprintf(msg, sizeof(msg), "nothing to boot: no %s",
			 cfg->start_plain ? "program" : "image");
		r = -EINVAL;
	} else if (cfg->plain_program &&
		   (r = vmm_program_check(cfg->plain_program, msg, sizeof(msg)))) {
		/* msg says what is wrong with it */
	} else if (cfg->guest_mem > info->max_sec_stor_addr) {
		snprintf(msg, sizeof(msg), "guest memory %s exceeds the UV's limit of %s",
			 lpv_format_size(cfg->guest_mem, a, sizeof(a)),
			 lpv_format_size(info->max_sec_stor_addr, b, sizeof(b)));
		r = -E2BIG;
	} else if (cfg->image && cfg->image->guest_end > cfg->guest_mem) {
		snprintf(msg, sizeof(msg), "the image needs %s of guest memory, the guest has %s",
			 lpv_format_size(cfg->image->guest_end, a, sizeof(a)),
			 lpv_format_size(cfg->guest_mem, b, sizeof(b)));
		r = -E2BIG;
	} else if (cfg->memcg && cfg->memcg_limit) {
		snprintf(msg, sizeof(msg), "a memcg limit is the shared memcg's own: give one or the other");
		r = -EINVAL;
	} else if (cfg->memcg_limit && !cfg->start_plain &&
		   cfg->memcg_limit < vmm_boot_min_bytes(env, cfg)) {
		snprintf(msg, sizeof(msg), "memcg limit %s is below the %s a protected boot of this image needs",
			 lpv_format_size(cfg->memcg_limit, a, sizeof(a)),
			 lpv_format_size(vmm_boot_min_bytes(env, cfg), b, sizeof(b)));
		r = -E2BIG;
	}
	if (r)
		goto out;
	overhead = vmm_guest_overhead(env->kvm, cfg);
	/*
	 * Capacity, not what is free this instant: memory other guests hold
	 * or that a teardown is still cleaning comes back (starting a guest
	 * while the last one is cleaned up is the case lazy destroy's OOM
	 * notifier is for).  Only the kernel's, the UV's and leaked frames
	 * are out of reach.
	 */
	mm_stats_get(env->world, &st);
	avail = (st.use[PAGE_USE_FREE] + st.use[PAGE_USE_ANON] +
		 st.use[PAGE_USE_PENDING]) * HW_PAGE_SIZE;
	if (cfg->guest_mem + overhead > avail) {
		snprintf(msg, sizeof(msg), "guest memory %s plus %s for the UV and page tables exceeds the %s of host memory guests can use",
			 lpv_format_size(cfg->guest_mem, a, sizeof(a)),
			 lpv_format_size(overhead, b, sizeof(b)),
			 lpv_format_size(avail, c, sizeof(c)));
		r = -E2BIG;
	}
out:
	if (r && err && errlen)
		snprintf(err, errlen, "%s", msg);
	return r;
}

/* ---- the parent's side ---- */

int vmm_create(const struct vmm_env *env, const struct vmm_config *cfg,
	       struct vmm **out)
{
	struct mm_stats st;
	char name[32];
	struct vmm *vmm;
	int r;

	r = vmm_config_check(env, cfg, NULL, 0);
	if (r)
		return r;
	vmm = calloc(1, sizeof(*vmm));
	if (!vmm)
		return -ENOMEM;
	vmm->vcpus = calloc(cfg->cpus, sizeof(*vmm->vcpus));
	if (!vmm->vcpus) {
		r = -ENOMEM;
		goto out_free;
	}
	vmm->env = *env;
	vmm->cfg = *cfg;
	vmm->trace.created_ns = trace_on() ? lpv_now_ns() : 0;
	vmm->salt = cfg->salt;
	if (!vmm->salt && getrandom(&vmm->salt, sizeof(vmm->salt), 0) !=
	    sizeof(vmm->salt))
		vmm->salt = vmm_mix64(lpv_now_ns());
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		vmm->vcpus[i].vmm = vmm;
		vmm->vcpus[i].id = i;
	}
	lpv_mutex_init(&vmm->lock);
	lpv_mutex_init(&vmm->kvm_lock);
	lpv_cond_init(&vmm->cond);
	lpv_mutex_init(&vmm->sigp.lock);
	lpv_cond_init(&vmm->sigp.cond);
	mm_stats_get(env->world, &st);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		vmm->baseline_leaked += st.leaked[i];

	snprintf(name, sizeof(name), "vmm%u",
		 atomic_add_return(&vmm_next_id, 1));
	if (cfg->memcg) {
		vmm->memcg = cfg->memcg;
		vmm->shared_memcg = true;
	} else {
		r = memcg_create(env->world, name, cfg->memcg_limit,
				 &vmm->memcg);
		if (r)
			goto out_locks;
	}
	r = task_create(env->world, env->shell, vmm->memcg, 0, &vmm->task);
	if (r)
		goto out_memcg;
	if (vmm->shared_memcg) {
		/* The struct outlives the task (its count of mapped pages is
		 * what vmm_frames_charged reads); nothing runs in it yet. */
		vmm->mm = task_get_mm(vmm->task);
		mmgrab(vmm->mm);
		mmput(vmm->mm);
	}
	vmm->pid = task_pid(vmm->task);
	trace_process_name(trace_pid_vmm(vmm->pid), "VMM %d (%s teardown)",
			   vmm->pid, vmm_destroy_mode_name(cfg->destroy));
	r = -pthread_create(&vmm->main_thread, NULL, vmm_main, vmm);
	if (r)
		goto out_task;
	vmm->main_started = true;
	lpv_trace("VMM CREATE: pid %d guest %llu cpus %u mode %s", vmm->pid,
		  (unsigned long long)cfg->guest_mem, cfg->cpus,
		  vmm_destroy_mode_name(cfg->destroy));
	*out = vmm;
	return 0;

out_task:
	/* Nothing runs in it yet: exit and reap it here. */
	if (!task_exit(vmm->task, 1))
		BUG_ON(task_wait(vmm->task, NULL));
	if (vmm->mm)
		mmdrop(vmm->mm);
out_memcg:
	/* Nothing was charged to it yet. */
	if (!vmm->shared_memcg)
		BUG_ON(memcg_destroy(vmm->memcg));
out_locks:
	lpv_cond_deinit(&vmm->sigp.cond);
	lpv_mutex_deinit(&vmm->sigp.lock);
	lpv_cond_deinit(&vmm->cond);
	lpv_mutex_deinit(&vmm->kvm_lock);
	lpv_mutex_deinit(&vmm->lock);
out_free:
	free(vmm->vcpus);
	free(vmm);
	return r;
}

static int vmm_request(struct vmm *vmm, enum vmm_request req)
{
	int r = 0;

	lpv_mutex_lock(&vmm->lock);
	/* (vmm_wait() joins the main thread, which sets exiting before it
	 * ends: a request while another thread waits is still taken.) */
	if (vmm->exiting) {
		r = -ESRCH;
	} else if (vmm->request == VMM_REQ_NONE ||
		   req == VMM_REQ_SHUTDOWN) {
		/* A shutdown overrides a pending reset. */
		if (vmm->request == VMM_REQ_NONE)
			vmm->request_ns = lpv_now_ns();
		vmm->request = req;
		lpv_cond_broadcast(&vmm->cond);
	}
	lpv_mutex_unlock(&vmm->lock);
	return r;
}

int vmm_request_shutdown(struct vmm *vmm)
{
	return vmm_request(vmm, VMM_REQ_SHUTDOWN);
}

int vmm_request_reset(struct vmm *vmm)
{
	return vmm_request(vmm, VMM_REQ_RESET);
}

int vmm_kill(struct vmm *vmm)
{
	int r;

	lpv_mutex_lock(&vmm->lock);
	if (vmm->reaping) {
		lpv_mutex_unlock(&vmm->lock);
		return -ESRCH;
	}
	if (!vmm->shutdown_ns) {
		WRITE_ONCE(vmm->shutdown_ns, lpv_now_ns());
		vmm->kill_requested = true;
	}
	/* vmm_wait() on another thread must not reap the task under us. */
	vmm->killers++;
	lpv_mutex_unlock(&vmm->lock);
	r = task_kill(vmm->task);
	lpv_mutex_lock(&vmm->lock);
	if (!--vmm->killers)
		lpv_cond_broadcast(&vmm->cond);
	lpv_mutex_unlock(&vmm->lock);
	return r;
}

int vmm_wait_booted(struct vmm *vmm, unsigned int boot)
{
	bool ok;

	lpv_mutex_lock(&vmm->lock);
	for (;;) {
		ok = vmm->boot > boot || (vmm->boot == boot && vmm->first_insn_seen);
		if (ok || vmm->exiting)
			break;
		lpv_cond_wait(&vmm->cond, &vmm->lock);
	}
	lpv_mutex_unlock(&vmm->lock);
	return ok ? 0 : -ESRCH;
}

int vmm_wait_round(struct vmm *vmm, unsigned int boot, unsigned int round)
{
	bool ok;

	lpv_mutex_lock(&vmm->lock);
	for (;;) {
		ok = vmm->boot == boot && vmm->round_seen &&
		     vmm->last_round >= round;
		if (ok || vmm->exiting || vmm->boot > boot)
			break;
		lpv_cond_wait(&vmm->cond, &vmm->lock);
	}
	lpv_mutex_unlock(&vmm->lock);
	return ok ? 0 : -ESRCH;
}

static uint64_t vmm_leaked_now(struct vmm *vmm)
{
	struct mm_stats st;
	uint64_t n = 0;

	mm_stats_get(vmm->env.world, &st);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		n += st.leaked[i];
	return n - vmm->baseline_leaked;
}

/* Every frame the VMM had charged is back -- but for those leaked on
 * purpose, which stay charged for good -- and nothing is set aside for
 * later cleanup. */
static int vmm_wait_reclaim(struct vmm *vmm)
{
	uint64_t ms = vmm->cfg.reclaim_timeout_ms ? vmm->cfg.reclaim_timeout_ms
						   : VMM_RECLAIM_TIMEOUT_MS;
	uint64_t deadline = lpv_now_ns() + ms * 1000000ULL;

	for (;;) {
		struct mm_stats st;

		mm_stats_get(vmm->env.world, &st);
		if (!vmm_frames_charged(vmm) && !st.use[PAGE_USE_PENDING])
			return 0;
		if (lpv_now_ns() > deadline)
			return -ETIMEDOUT;
		lpv_sleep_ns(VMM_RECLAIM_POLL_NS);
	}
}

int vmm_wait(struct vmm *vmm, struct vmm_result *res)
{
	struct vmm_event ev = { .type = VMM_EV_EXIT };
	uint64_t exit_latency;
	int code = 1, r;

	lpv_mutex_lock(&vmm->lock);
	if (vmm->waited) {
		lpv_mutex_unlock(&vmm->lock);
		return -EINVAL;
	}
	vmm->waited = true;
	lpv_mutex_unlock(&vmm->lock);

	/* The main thread may still be about to touch the task (a kill can
	 * exit it before the thread attached): reap only after it is gone.
	 * It does not outlive the exit by more than a return. */
	pthread_join(vmm->main_thread, NULL);
	vmm->main_started = false;
	vmm_teardown_join_cleanups(vmm);
	/* A vmm_kill() on another thread may still be using the task: it
	 * finishes first, and later ones answer -ESRCH. */
	lpv_mutex_lock(&vmm->lock);
	vmm->reaping = true;
	while (vmm->killers)
		lpv_cond_wait(&vmm->cond, &vmm->lock);
	lpv_mutex_unlock(&vmm->lock);
	r = task_wait(vmm->task, &code);
	BUG_ON(r);	/* one waiter, a live child: cannot fail */
	ev.t_ns = lpv_now_ns();
	/* What is still charged: an async teardown helper may hold the mm. */
	ev.pages = vmm_frames_charged(vmm);

	lpv_mutex_lock(&vmm->lock);
	vmm->task = NULL;
	vmm->exited = true;
	vmm->exit_code = code;
	if (!vmm->shutdown_ns)
		WRITE_ONCE(vmm->shutdown_ns, ev.t_ns);
	ev.code = code;
	ev.latency_ns = exit_latency = ev.t_ns - vmm->shutdown_ns;
	vmm_emit_locked(vmm, &ev);
	lpv_mutex_unlock(&vmm->lock);

	r = vmm_wait_reclaim(vmm);
	vmm_teardown_reap(vmm);
	ev = (struct vmm_event){ .type = VMM_EV_RECLAIMED };
	ev.t_ns = lpv_now_ns();
	ev.pages = vmm->frames_at_exit;
	ev.leaked = vmm_leaked_now(vmm);
	lpv_mutex_lock(&vmm->lock);
	ev.latency_ns = ev.t_ns - vmm->shutdown_ns;
	if (!r)
		vmm_emit_locked(vmm, &ev);
	else
		vmm_record_error_locked(vmm, r, "memory not reclaimed in time");
	if (res) {
		*res = (struct vmm_result){
			.exit_code = code,
			.killed = code == TASK_EXIT_KILLED,
			.boots = vmm->gen ? vmm->boot + 1 : 0,
			.exit_latency_ns = exit_latency,
			.reclaim_ns = r ? 0 : ev.latency_ns,
			.reclaimed_frames = r ? 0 : ev.pages,
			.leaked_frames = ev.leaked,
			.error = vmm->error,
			.io_pages = vmm->io_pages,
		};
		snprintf(res->message, sizeof(res->message), "%s", vmm->message);
	}
	lpv_mutex_unlock(&vmm->lock);
	return r;
}

void vmm_destroy(struct vmm *vmm)
{
	if (!vmm)
		return;
	/* Not waited for: do it now (a reclaim timeout is already on the
	 * timeline, and there is no caller left to tell). */
	if (!vmm->waited && vmm_wait(vmm, NULL))
		WARN_ON_ONCE(1);
	/*
	 * -EBUSY is expected, not a fault: every frame is back, but a KVM
	 * cleanup that is still finishing (a lazy reboot's thread disposing
	 * of the old configuration, an instant job) holds the mm, and the mm
	 * its memcg.  Such a memcg stays with the world, which frees it.  A
	 * shared memcg is its creator's to destroy.
	 */
	if (!vmm->shared_memcg)
		ignore_result(memcg_destroy(vmm->memcg));
	if (vmm->mm)
		mmdrop(vmm->mm);
	free(vmm->events);
	lpv_cond_deinit(&vmm->sigp.cond);
	lpv_mutex_deinit(&vmm->sigp.lock);
	lpv_cond_deinit(&vmm->cond);
	lpv_mutex_deinit(&vmm->kvm_lock);
	lpv_mutex_deinit(&vmm->lock);
	free(vmm->vcpus);
	free(vmm);
}

uint64_t vmm_boot_key(const struct vmm *vmm, unsigned int boot)
{
	return vmm_boot_key_of(vmm->salt, boot);
}

struct task *vmm_task(const struct vmm *vmm)
{
	return vmm->task;
}

struct memcg *vmm_memcg(const struct vmm *vmm)
{
	return vmm->memcg;
}

void vmm_cleanup_progress(struct vmm *vmm, struct vmm_cleanup_progress *out)
{
	struct kvm_cleanup_progress kp;
	uint64_t pending = 0;
	bool ending;

	/*
	 * Not vmm->lock: callers may hold locks the event callbacks take
	 * under it.  vmm_exit_files() clears vmm->kvm under kvm_lock before
	 * it destroys the VM: the pointer is good while we hold that.
	 */
	lpv_mutex_lock(&vmm->kvm_lock);
	ending = READ_ONCE(vmm->shutdown_ns) || READ_ONCE(vmm->exiting) ||
		 !vmm->kvm;
	if (!ending)
		pending = kvm_cleanup_pending(vmm->kvm);
	lpv_mutex_unlock(&vmm->kvm_lock);
	out->in_use_bytes = vmm_frames_charged(vmm) * HW_PAGE_SIZE;
	out->to_clean_bytes = ending ? out->in_use_bytes :
				       pending * HW_PAGE_SIZE;
	out->ending = ending;
	kvm_cleanup_progress(vmm->env.kvm, &kp);
	out->all_pending_bytes = kp.pending_pages * HW_PAGE_SIZE;
	out->all_cleaned_bytes = kp.cleaned_pages * HW_PAGE_SIZE;
	out->t_ns = lpv_now_ns();
}
