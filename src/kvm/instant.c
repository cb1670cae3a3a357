// SPDX-License-Identifier: MIT
/*
 * instant.c - lazypv's own teardown, INSTANT (docs/instant.md): restart
 * and exit in constant time; the work moves to accounted background
 * workers, none of it is skipped.
 *
 *   reboot    DISABLE (CPUs gone) sets the configuration aside -- DESTROY_
 *             SEC_CONF_FAST where the UV has it, else a copy of the
 *             top-level table and a leftover record -- and starts a job.
 *             No page is touched: no low clear.  An import of the new
 *             guest (unpack, prefix pages, 0x3e) that meets a frame still
 *             secure for an old config (rc 0x0104) destroys that frame on
 *             the spot and retries, as a 0x3f does: on demand, ahead of the
 *             workers.  The workers wait for the new boot
 *             (instant_boot_hold_ms): they start when a vCPU runs again,
 *             or when memory runs short.
 *   exit      the VM holds an mm_users reference from its first ENABLE, so
 *             the VMM's exit_mm tears nothing down; the VM's close (the
 *             VMM's exit_files) destroys the CPUs, sets the config aside
 *             and hands that reference to a job.  The parent's wait returns
 *             at once.
 *   workers   N threads per job (instant_workers; 0: cores - 1, at least 1)
 *             take 2 MiB chunks of guest memory from one atomic cursor:
 *             disjoint ranges, and no worker idles while work is left.  Per
 *             chunk: gather the pages that may be secure (PG_arch_1: never
 *             under-reported), destroy them without mmap_lock, and -- when
 *             only instant jobs use the address space -- unmap the chunk,
 *             which frees it.  Between chunks a worker yields the CPU
 *             if a vCPU of any VM is in KVM_RUN or a VM unpacks its image
 *             (mod->vcpus_running: one atomic read) and nothing makes the job urgent; otherwise it
 *             runs flat out.  The last worker disposes of the config
 *             (DESTROY_SEC_CONF, or only the count after FAST) and drops
 *             the address space.
 *   deadline  with instant_deadline_ms, a job still running at its
 *             deadline is escalated once: it stops yielding and starts
 *             more workers; a job that ends after it is counted as a
 *             miss and listed in the lateness report.
 *   pressure  a job that frees memory registers an OOM notifier, called
 *             for a global OOM and for an OOM of the job's memcg: the
 *             allocation sleeps on the job's progress condition until
 *             frames were freed or the job ended (no fixed sleep).  While
 *             anyone waits the workers free every few pages and yield to
 *             the allocation they woke; a standby worker walks while the
 *             exit's bulk clean is in a firmware call.
 *   account   the workers' CPU time is charged to the owner task (by pid,
 *             while it is not reaped) and to its memcg (always); bytes
 *             still to walk are readable per address space and in total,
 *             bytes walked count in the module's cleaned pages;
 *             every frame instant teardown leaks on purpose is listed with
 *             the failing call and its rc/rrc.
 *
 * Lifetimes: a job holds an mm_count reference (mmgrab) and, usually, an
 * mm_users one; it never touches struct kvm, which may be gone.
 * Locks: inst->lock protects the job list, the leak list and the late
 * list (taken under
 * a PTL by the unmap hook: nothing is called with it held); job->lock
 * protects the job's progress (freed, done) for the condition.  Order:
 * kvm->lock > mmap_lock > PTL > inst->lock > job->lock (a leaf).  Running
 * jobs count in mod->cleanups, so kvm_module_drain waits for them.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INSTANT_CHUNK_PAGES MM_PTES_PER_TABLE
#define INSTANT_CHUNK ((uint64_t)INSTANT_CHUNK_PAGES * HW_PAGE_SIZE)
/* Ahead of lazy's notifier (70): this one waits for progress, not time. */
#define INSTANT_OOM_PRIORITY 80
/* Chunks between two CPU-time charges of a worker (and at its end). */
#define INSTANT_CHARGE_CHUNKS 16

_Static_assert(INSTANT_CHUNK_PAGES <= HW_UNPROTECT_BATCH,
	       "a chunk's pages fit one unprotect batch");

struct instant_job {
	struct kvm_module *mod;
	struct mm *mm;			/* mmgrab'ed */
	struct memcg *memcg;		/* the mm's: its owner's */
	int owner_pid;			/* the VM's owner: CPU time charged */
	bool has_users;			/* an mm_users ref, dropped at the end */
	bool zap;			/* unmap what is clean: frees it */
	bool has_vm;			/* a config to dispose of */
	bool bulk;			/* exit: the UV cleans it in bulk first */
	bool at_close;			/* from the VM's close, not a reboot */
	bool held;			/* under lock: a reboot's workers wait
					 * for the new boot (boot hold) */
	uint64_t hold_until_ns;		/* ... at most until then */
	bool bulk_taken;		/* atomic: a worker does the bulk */
	bool standby_off;		/* under lock: no standby needed (the
					 * bulk ended, or nothing is left) */
	struct pv_vm_to_be_destroyed vm;
	uintptr_t start;		/* the guest's user range */
	uint64_t len, nr_chunks;
	uint64_t next;			/* atomic: the next chunk to take */
	uint64_t pending;		/* atomic: bytes not yet walked */
	unsigned int refs;		/* atomic: workers + the starter */
	unsigned int ids;		/* atomic: worker numbers */
	unsigned int waiters;		/* atomic: allocations waiting */
	unsigned int urgent;		/* atomic: waiters + escalated: no yield */
	unsigned int extra;		/* workers an escalation adds */
	uint64_t t0_ns, deadline_ns;	/* start; 0: no deadline */
	bool escalated;			/* atomic: set once */
	struct lpv_mutex lock;		/* freed, done */
	struct lpv_cond progress;
	uint64_t freed;			/* frames freed so far */
	bool done;
	bool notifier;
	struct oom_notifier nb;
	struct instant_job *next_job;	/* inst->jobs */
};

struct kvm_instant {
	struct lpv_mutex lock;		/* jobs, leaks */
	struct instant_job *jobs;
	unsigned int nr_jobs;
	struct kvm_instant_leak leaks[KVM_INSTANT_LEAK_MAX];
	size_t nr_leaks;
	uint64_t leaks_dropped;
	struct kvm_instant_late late[KVM_INSTANT_LEAK_MAX];
	size_t nr_late;
	uint64_t late_dropped;
};

int kvm_instant_init(struct kvm_module *mod)
{
	struct kvm_instant *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return -ENOMEM;
	lpv_mutex_init(&inst->lock);
	mod->instant = inst;
	return 0;
}

void kvm_instant_deinit(struct kvm_module *mod)
{
	struct kvm_instant *inst = mod->instant;

	if (!inst)
		return;
	kvm_module_drain(mod);
	BUG_ON(inst->jobs);
	lpv_mutex_deinit(&inst->lock);
	free(inst);
	mod->instant = NULL;
}

/* ---- the leak report ---- */

static void instant_leak_note(struct kvm_module *mod, hw_pfn_t pfn,
			      uint64_t nr, uint16_t cmd, uint16_t rc,
			      uint16_t rrc, enum mm_leak_reason reason)
{
	struct kvm_instant *inst = mod->instant;

	kvm_stat_add(mod, instant_leaks, nr);
	lpv_trace("PV INSTANT LEAK: pfn %llx nr %llu %s rc %x rrc %x",
		  (unsigned long long)pfn, (unsigned long long)nr,
		  uv_cmd_name(cmd), rc, rrc);
	lpv_mutex_lock(&inst->lock);
	if (inst->nr_leaks < KVM_INSTANT_LEAK_MAX)
		inst->leaks[inst->nr_leaks++] = (struct kvm_instant_leak){
			.pfn = pfn, .nr = nr, .cmd = cmd, .rc = rc,
			.rrc = rrc, .reason = reason,
		};
	else
		inst->leaks_dropped++;
	lpv_mutex_unlock(&inst->lock);
}

/* Storage (or a marked table) of a config whose destroy failed. */
static void instant_stor_leak(struct kvm_module *mod, struct kvm_stor *stor,
			      uint16_t rc, uint16_t rrc)
{
	if (!stor->nr)
		return;
	instant_leak_note(mod, mm_page_to_pfn(mod->world, stor->first),
			  stor->nr, UVC_CMD_DESTROY_SEC_CONF, rc, rrc,
			  MM_LEAK_conf_destroy_failed);
	kvm_stor_leak(mod, stor, MM_LEAK_conf_destroy_failed);
}

size_t kvm_instant_leaks(struct kvm_module *mod, struct kvm_instant_leak *out,
			 size_t max)
{
	struct kvm_instant *inst = mod->instant;
	size_t n;

	lpv_mutex_lock(&inst->lock);
	n = inst->nr_leaks < max ? inst->nr_leaks : max;
	memcpy(out, inst->leaks, n * sizeof(*out));
	lpv_mutex_unlock(&inst->lock);
	return n;
}

size_t kvm_instant_late_jobs(struct kvm_module *mod,
			     struct kvm_instant_late *out, size_t max)
{
	struct kvm_instant *inst = mod->instant;
	size_t n;

	lpv_mutex_lock(&inst->lock);
	n = inst->nr_late < max ? inst->nr_late : max;
	memcpy(out, inst->late, n * sizeof(*out));
	lpv_mutex_unlock(&inst->lock);
	return n;
}

/* The late half of the report (inst->lock held). */
static void instant_late_report_locked(struct kvm_instant *inst, FILE *f,
				       json_t *root)
{
	json_t *arr = root ? json_array() : NULL;

	for (size_t i = 0; i < inst->nr_late; i++) {
		const struct kvm_instant_late *l = &inst->late[i];

		if (!root) {
			fprintf(f, "late: owner pid %d, %llu bytes, deadline %llu ms, took %llu ms%s\n",
				l->owner_pid, (unsigned long long)l->bytes,
				(unsigned long long)l->deadline_ms,
				(unsigned long long)l->took_ms,
				l->escalated ? ", escalated" : "");
			continue;
		}
		json_array_append_new(arr, json_pack("{s:i,s:I,s:I,s:I,s:b}",
			"owner_pid", l->owner_pid, "bytes", (json_int_t)l->bytes,
			"deadline_ms", (json_int_t)l->deadline_ms,
			"took_ms", (json_int_t)l->took_ms,
			"escalated", (int)l->escalated));
	}
	if (root) {
		json_object_set_new(root, "late", arr);
		json_object_set_new(root, "late_dropped",
				    json_integer((json_int_t)inst->late_dropped));
	} else if (inst->late_dropped) {
		fprintf(f, "late: %llu more not listed\n",
			(unsigned long long)inst->late_dropped);
	}
}

void kvm_instant_leak_report(struct kvm_module *mod, FILE *f, bool json)
{
	struct kvm_instant *inst = mod->instant;
	json_t *root = NULL, *arr = NULL;

	if (json) {
		root = json_object();
		arr = json_array();
	}
	lpv_mutex_lock(&inst->lock);
	for (size_t i = 0; i < inst->nr_leaks; i++) {
		const struct kvm_instant_leak *l = &inst->leaks[i];

		if (!json) {
			fprintf(f, "leak: pfn 0x%llx frames %llu %s rc 0x%x rrc 0x%x (%s)\n",
				(unsigned long long)l->pfn,
				(unsigned long long)l->nr, uv_cmd_name(l->cmd),
				l->rc, l->rrc, mm_leak_reason_name(l->reason));
			continue;
		}
		json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:i,s:i,s:s}",
			"pfn", (json_int_t)l->pfn, "frames", (json_int_t)l->nr,
			"call", uv_cmd_name(l->cmd), "rc", (int)l->rc,
			"rrc", (int)l->rrc,
			"reason", mm_leak_reason_name(l->reason)));
	}
	if (json) {
		json_object_set_new(root, "leaks", arr);
		json_object_set_new(root, "dropped",
				    json_integer((json_int_t)inst->leaks_dropped));
	} else if (inst->leaks_dropped) {
		fprintf(f, "leak: %llu more not listed\n",
			(unsigned long long)inst->leaks_dropped);
	}
	instant_late_report_locked(inst, f, root);
	lpv_mutex_unlock(&inst->lock);
	if (json) {
		json_dumpf(root, f, JSON_COMPACT);
		fputc('\n', f);
		json_decref(root);
	}
}

/* ---- pages ---- */

static bool instant_rc_not_secure(uint16_t rc, uint16_t rrc)
{
	return rc == UVC_RC_NOT_SECURE && rrc == UVC_RRC_NOT_SECURE;
}

void kvm_instant_unmap_page(struct kvm_module *mod, struct page *page)
{
	hw_pfn_t pfn = mm_page_to_pfn(mod->world, page);
	uint16_t rc, rrc;
	int ret;

	/* Not secure since its last destroy or export: nothing to do. */
	if (!page_test_flag(page, PG_arch_1))
		return;
	if (kvm_uv_destroy_owned(mod, page) == 0)
		return;
	ret = uv_convert_from_secure(mod->uv, pfn, &rc, &rrc);
	if (!ret || instant_rc_not_secure(rc, rrc)) {
		page_clear_flag(page, PG_arch_1);
		kvm_stat_inc(mod, exports);
		return;
	}
	/* The UV may still own it: never reuse it. */
	mm_page_leak(mod->world, page, MM_LEAK_export_failed);
	instant_leak_note(mod, pfn, 1, UVC_CMD_CONV_FROM_SEC_STOR, rc, rrc,
			  MM_LEAK_export_failed);
}

int kvm_instant_destroy_on_demand(struct kvm_module *mod, struct page *page)
{
	int ret = kvm_uv_destroy_owned(mod, page);

	if (!ret)
		kvm_stat_inc(mod, instant_on_demand);
	return ret;
}

/* ---- jobs ---- */

static unsigned int instant_nr_workers(const struct kvm_module *mod)
{
	long cores;

	if (mod->params.instant_workers)
		return (unsigned int)mod->params.instant_workers;
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 1 ? (unsigned int)(cores - 1) : 1;
}

static void instant_progress(struct instant_job *job, uint64_t frames)
{
	lpv_mutex_lock(&job->lock);
	job->freed += frames;
	lpv_cond_broadcast(&job->progress);
	lpv_mutex_unlock(&job->lock);
}

/* A present page of a chunk: its address, and the page if it may be
 * secure (PG_arch_1; referenced), else NULL. */
struct instant_item {
	uintptr_t addr;
	struct page *page;
};

/* Pages destroyed between two unmaps of what is clean: small while an
 * allocation waits for frames (its stall is one such batch), larger
 * otherwise (fewer unmaps). */
#define INSTANT_BATCH_URGENT 4
#define INSTANT_BATCH 64

/*
 * Destroy items [i, j) (the old configs have no CPUs; a page the running
 * guest made secure meanwhile is refused -- HAS_CPUS -- and stays) and
 * drop the references.  A batch started while nobody waited ends early
 * once an allocation waits (@job->urgent): what is destroyed so far is
 * unmapped and freed now, not after the rest of a large batch.  Returns
 * the end of what was done (j, or less).
 */
static size_t instant_destroy_items(struct instant_job *job,
				    struct instant_item *items, size_t i,
				    size_t j, bool stop_if_urgent)
{
	struct kvm_module *mod = job->mod;
	struct page *put[INSTANT_BATCH];
	struct hw_unprotect_batch batch;
	uint64_t refused = 0;
	size_t n = 0, k;

	hw_unprotect_batch_begin(mod->hw, &batch);
	for (k = i; k < j; k++) {
		if (!items[k].page)
			continue;
		if (n && stop_if_urgent && atomic_load_relaxed(&job->urgent)) {
			kvm_stat_inc(mod, instant_batch_cuts);
			break;
		}
		if (kvm_uv_destroy_owned(mod, items[k].page))
			refused++;	/* PG_arch_1 stays: its next user */
		put[n++] = items[k].page;
	}
	hw_unprotect_batch_end(&batch);		/* before the refs go */
	mm_page_put_bulk(mod->world, put, n);
	kvm_stat_add(mod, instant_pages, n - refused);
	kvm_stat_add(mod, instant_refused, refused);
	return k;
}

/*
 * One chunk: gather its present pages under mmap_lock, then, in batches,
 * destroy those that may be secure and -- if nobody else uses the address
 * space -- unmap the range cleaned so far: its frames are free at once,
 * a batch at a time, so an allocation waiting for them waits for one
 * batch, not for the chunk.
 */
static void instant_clean_chunk(struct instant_job *job, uint64_t idx,
				struct instant_item *items,
				struct trace_span *span)
{
	struct kvm_module *mod = job->mod;
	uintptr_t s = job->start + idx * INSTANT_CHUNK;
	uintptr_t e = s + INSTANT_CHUNK, cursor;
	struct mm_pte_ref ref;
	size_t n = 0, i = 0;

	if (e > job->start + job->len)
		e = job->start + job->len;
	mm_mmap_read_lock(job->mm);
	for (uintptr_t addr = s; addr < e; addr += HW_PAGE_SIZE) {
		uint64_t pte;

		if (mm_pte_lock(job->mm, addr, &ref))
			break;		/* no VMA: unmapped already */
		pte = mm_pte_read(&ref);
		if (mm_pte_present(pte)) {
			struct page *page = mm_pfn_to_page(mod->world,
							   mm_pte_pfn(pte));

			items[n].addr = addr;
			items[n].page = NULL;
			if (page_test_flag(page, PG_arch_1)) {
				page_get(page);
				items[n].page = page;
			}
			n++;
		}
		mm_pte_unlock(&ref);
	}
	mm_mmap_read_unlock(job->mm);

	cursor = s;
	do {
		bool urgent = atomic_load_relaxed(&job->urgent);
		size_t batch = urgent ? INSTANT_BATCH_URGENT : INSTANT_BATCH;
		size_t j = n - i < batch ? n : i + batch;
		uintptr_t end;

		j = instant_destroy_items(job, items, i, j, !urgent);
		end = j < n ? items[j].addr : e;
		trace_span_add(span, j - i);
		atomic_sub_relaxed(&job->pending, end - cursor);
		/* Walked: the module's cleaned pages (kvm_cleanup_progress), in
		 * the unit pending is given in, so callers can make a rate. */
		atomic_add_relaxed(&mod->cleanup_cleaned,
				   (end - cursor) / HW_PAGE_SIZE);
		if (job->zap && j > i &&
		    mm_munmap(job->mm, cursor, end - cursor) == 0) {
			kvm_stat_add(mod, instant_unmapped, j - i);
			instant_progress(job, j - i);
			/* Let the allocation just woken run now, not after
			 * our time slice (cond_resched after a complete). */
			if (atomic_load_relaxed(&job->waiters))
				sched_yield();
		}
		cursor = end;
		i = j;
	} while (i < n);
}

static uint64_t instant_thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The owner pays: its memcg always (alive while we hold its mm), the task
 * itself while it is not reaped -- found by pid, never by a pointer that
 * could dangle.  Once it is reaped the memcg alone is charged, counted.
 */
static void instant_charge_cpu(struct instant_job *job, uint64_t ns)
{
	struct kvm_module *mod = job->mod;

	if (!ns)
		return;
	kvm_stat_add(mod, instant_cpu_ns, ns);
	if (job->memcg)
		memcg_charge_cpu(job->memcg, ns);
	if (!job->owner_pid ||
	    task_charge_cpu(mod->world, job->owner_pid, ns))
		kvm_stat_add(mod, instant_cpu_unowned_ns, ns);
}

static void instant_work(struct instant_job *job);

static void *instant_worker_main(void *arg);
static void *instant_standby_main(void *arg);

/* Start up to @n more threads of @job running @fn, each holding a job
 * reference (the caller holds one meanwhile); returns how many started. */
static unsigned int instant_threads_add(struct instant_job *job,
					unsigned int n, void *(*fn)(void *))
{
	unsigned int started = 0;
	pthread_attr_t attr;

	atomic_add_return(&job->refs, n);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (unsigned int i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, fn, job))
			break;
		started++;
	}
	pthread_attr_destroy(&attr);
	if (started < n)	/* never the last: the caller's stays */
		atomic_sub_return(&job->refs, n - started);
	return started;
}

static unsigned int instant_workers_add(struct instant_job *job,
					unsigned int n)
{
	return instant_threads_add(job, n, instant_worker_main);
}

/*
 * The job is past its deadline and still running: once, stop yielding
 * (urgent) and add workers -- the miss is certain, count it now.
 */
static void instant_escalate(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	bool no = false;
	unsigned int n;

	if (!atomic_cmpxchg(&job->escalated, &no, true))
		return;
	atomic_add_return(&job->urgent, 1);
	kvm_stat_inc(mod, instant_escalations);
	kvm_stat_inc(mod, instant_deadline_misses);
	lpv_trace("PV INSTANT LATE: mm %p escalated, %u more workers",
		  (void *)job->mm, job->extra);
	if (atomic_load_relaxed(&job->next) >= job->nr_chunks)
		return;		/* nothing left to share */
	n = instant_workers_add(job, job->extra);
	kvm_stat_add(mod, instant_escalated_workers, n);
}

/*
 * The standby worker is not needed: the bulk clean ended, or a worker
 * leaves with every chunk taken -- or could not start, in which case the
 * standby goes too (no memory: the others, or the dispose, do the work).
 */
static void instant_standby_off(struct instant_job *job)
{
	lpv_mutex_lock(&job->lock);
	job->standby_off = true;
	lpv_cond_broadcast(&job->progress);
	lpv_mutex_unlock(&job->lock);
}

/*
 * An exit job's config was set aside whole: the UV's own DESTROY_SEC_CONF
 * cleans its pages in bulk -- cheaper per page than a destroy each
 * (destroy_conf_page_ns against destroy_page's cost) -- destroy_batch
 * frames a call (cc 3 until done), on the first worker while any others
 * walk.  The frames come back only when the walk unmaps them, so an
 * allocation waiting for frames stops the bulk between calls and wakes
 * the standby worker (instant_standby_main), which walks at once instead
 * of waiting for the call in flight; the dispose at the end finishes the
 * config.  A refusal is left to the dispose too, which leaks what the UV
 * keeps and lists it.
 */
static void instant_bulk(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	struct pv_vm_to_be_destroyed *vm = &job->vm;
	uint64_t t0 = lpv_now_ns(), calls = 0;
	int cc = 0;

	do {
		struct uv_cb_nodata cb = {
			.header.len = sizeof(cb),
			.header.cmd = UVC_CMD_DESTROY_SEC_CONF,
			.handle = vm->handle,
		};

		if (mod->hooks.instant_bulk_step)
			mod->hooks.instant_bulk_step(mod->hooks.ctx);
		if (atomic_load_relaxed(&job->urgent)) {
			kvm_stat_inc(mod, instant_bulk_stops);
			cc = -1;
			break;
		}
		cc = uv_call_once(mod->uv, &cb.header);
		kvm_stat_inc(mod, instant_bulk_calls);
		calls++;
	} while (cc == UVC_CC_PARTIAL);
	trace_complete(TRACE_PID_KERNEL, trace_tid(), "bulk DESTROY_SEC_CONF",
		       t0, lpv_now_ns(), "calls", calls, "stopped", cc == -1);
	if (cc == 0) {
		/* Gone: the dispose frees its storage and table only. */
		lpv_trace("PV INSTANT BULK: handle %llx destroyed",
			  (unsigned long long)vm->handle);
		vm->handle = 0;
	}
	instant_standby_off(job);
}

/*
 * A reboot's job waits for the new boot: nothing competes with the new
 * guest's image load, config creation and unpack -- the restart's
 * critical path -- and the on-demand destroys serve what the boot touches.
 * The wait ends when a vCPU runs (kvm_instant_boot_release), when an
 * allocation needs the frames (urgent), or after instant_boot_hold_ms.
 */
static void instant_boot_wait(struct instant_job *job)
{
	bool timed_out = false, waited = false;
	uint64_t t0 = lpv_now_ns();

	lpv_mutex_lock(&job->lock);
	while (job->held && !atomic_load_relaxed(&job->urgent)) {
		waited = true;
		if (!lpv_cond_wait_until(&job->progress, &job->lock,
					 job->hold_until_ns)) {
			if (job->held) {
				job->held = false;	/* for the others too */
				timed_out = true;
			}
			break;
		}
	}
	lpv_mutex_unlock(&job->lock);
	if (timed_out)
		kvm_stat_inc(job->mod, instant_boot_hold_timeouts);
	if (waited)
		trace_complete(TRACE_PID_KERNEL, trace_tid(), "boot hold", t0,
			       lpv_now_ns(), "timed_out", timed_out, NULL, 0);
}

/* The job is found by its mm on the job list (under inst->lock, where
 * it cannot be freed): a held job holds no reference of its own, so a
 * VM that never runs again does not keep its job from ending. */
void kvm_instant_boot_release(struct kvm *kvm)
{
	struct kvm_instant *inst = kvm->mod->instant;

	if (!__atomic_load_n(&kvm->instant_held, __ATOMIC_ACQUIRE) ||
	    !__atomic_exchange_n(&kvm->instant_held, false, __ATOMIC_ACQ_REL))
		return;
	lpv_mutex_lock(&inst->lock);
	for (struct instant_job *j = inst->jobs; j; j = j->next_job) {
		if (j->mm != kvm->mm)
			continue;
		lpv_mutex_lock(&j->lock);
		j->held = false;
		lpv_cond_broadcast(&j->progress);
		lpv_mutex_unlock(&j->lock);
	}
	lpv_mutex_unlock(&inst->lock);
}

static void instant_work(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	unsigned int id = atomic_add_return(&job->ids, 1) - 1;
	uint64_t cpu_last = instant_thread_cpu_ns(), cpu, done = 0;
	bool no = false;
	struct instant_item *items = malloc(INSTANT_CHUNK_PAGES *
					    sizeof(*items));
	struct trace_span span;

	trace_thread_name("kvm instant VMM %d %s worker %u", job->owner_pid,
			  job->at_close ? "close" : "reboot", id);
	if (!items) {
		/* The other workers (or the last) do it. */
		if (job->bulk)
			instant_standby_off(job);
		return;
	}
	instant_boot_wait(job);
	trace_begin(TRACE_PID_KERNEL, trace_tid(), "instant cleanup", "worker",
		    id);
	if (job->bulk && atomic_cmpxchg(&job->bulk_taken, &no, true))
		instant_bulk(job);
	trace_span_init(&span, TRACE_PID_KERNEL, trace_tid(), "walk", "pages",
			KVM_TRACE_SPAN_PAGES);
	for (;;) {
		uint64_t idx = __atomic_fetch_add(&job->next, 1,
						  __ATOMIC_RELAXED);

		if (idx >= job->nr_chunks)
			break;
		if (mod->hooks.instant_chunk)
			mod->hooks.instant_chunk(mod->hooks.ctx, id, idx);
		instant_clean_chunk(job, idx, items, &span);
		if (++done % INSTANT_CHARGE_CHUNKS == 0) {
			cpu = instant_thread_cpu_ns();
			instant_charge_cpu(job, cpu - cpu_last);
			cpu_last = cpu;
		}
		if (job->deadline_ns &&
		    !atomic_load_relaxed(&job->escalated) &&
		    lpv_now_ns() >= job->deadline_ns)
			instant_escalate(job);
		/*
		 * Yield to vCPUs that run or wait to run, of any VM -- unless
		 * an allocation waits for us or the job is late.  Nobody in
		 * KVM_RUN: flat out.
		 */
		if (!atomic_load_relaxed(&job->urgent) &&
		    atomic_load_relaxed(&mod->vcpus_running)) {
			kvm_stat_inc(mod, instant_yields);
			sched_yield();
		}
	}
	trace_span_flush(&span);
	trace_end(TRACE_PID_KERNEL, trace_tid(), "instant cleanup", "chunks",
		  done);
	free(items);
	instant_charge_cpu(job, instant_thread_cpu_ns() - cpu_last);
	if (job->bulk)
		instant_standby_off(job);	/* every chunk is taken */
}

/*
 * DESTROY_SEC_CONF of the set-aside config (handle 0: it was fast-
 * destroyed; only the count is left), then free its storage and table --
 * or, if the UV refuses, leak them on purpose and list them.
 */
static uint64_t instant_dispose(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	struct pv_vm_to_be_destroyed *vm = &job->vm;
	struct kvm_stor table = { vm->old_table,
				  vm->old_table ? GMAP_TABLE_FRAMES : 0 };
	uint16_t rc = 0, rrc = 0;
	uint64_t frames;

	if (vm->handle &&
	    uv_cmd_nodata(mod->uv, vm->handle, UVC_CMD_DESTROY_SEC_CONF,
			  &rc, &rrc)) {
		WARN_ONCE(1, "DESTROY_SEC_CONF of instant leftover %llx failed rc %x rrc %x",
			  (unsigned long long)vm->handle, rc, rrc);
		instant_stor_leak(mod, &vm->stor_base, rc, rrc);
		instant_stor_leak(mod, &vm->stor_var, rc, rrc);
		if (table.nr) {
			instant_stor_leak(mod, &table, rc, rrc);
			kvm_stat_inc(mod, leaked_asce);
		}
		/* protected_count stays: the UV still holds the config. */
		return 0;
	}
	lpv_trace("PV INSTANT DISPOSE: handle %llx rc %x rrc %x",
		  (unsigned long long)vm->handle, rc, rrc);
	frames = vm->stor_base.nr + vm->stor_var.nr + table.nr;
	atomic_sub_relaxed(&mm_context(job->mm)->protected_count, 1);
	kvm_stor_free(mod, &vm->stor_base);
	kvm_stor_free(mod, &vm->stor_var);
	kvm_stor_free(mod, &table);
	kvm_stat_inc(mod, leftovers_disposed);
	return frames;
}

static void instant_job_free(struct instant_job *job)
{
	lpv_cond_deinit(&job->progress);
	lpv_mutex_deinit(&job->lock);
	free(job);
}

/* The last reference: dispose, let go of the address space, wake. */
/* Ended after its deadline: counted (unless the escalation did) and
 * listed. */
static void instant_job_late(struct instant_job *job, uint64_t now)
{
	struct kvm_module *mod = job->mod;
	struct kvm_instant *inst = mod->instant;
	bool escalated = atomic_load_acquire(&job->escalated);
	struct kvm_instant_late l = {
		.owner_pid = job->owner_pid,
		.bytes = job->len,
		.deadline_ms = mod->params.instant_deadline_ms,
		.took_ms = (now - job->t0_ns) / 1000000,
		.escalated = escalated,
	};

	if (!escalated)
		kvm_stat_inc(mod, instant_deadline_misses);
	lpv_trace("PV INSTANT MISSED DEADLINE: mm %p took %llu ms, deadline %llu ms",
		  (void *)job->mm, (unsigned long long)l.took_ms,
		  (unsigned long long)l.deadline_ms);
	lpv_mutex_lock(&inst->lock);
	if (inst->nr_late < KVM_INSTANT_LEAK_MAX)
		inst->late[inst->nr_late++] = l;
	else
		inst->late_dropped++;
	lpv_mutex_unlock(&inst->lock);
}

static void instant_job_finish(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	struct kvm_instant *inst = mod->instant;
	uint64_t frames = 0, now;

	if (job->has_vm)
		frames += instant_dispose(job);
	/* Done when the config is gone; the last mmput below only frees
	 * what was unmapped already or is not guest memory. */
	now = lpv_now_ns();
	if (job->deadline_ns && now > job->deadline_ns)
		instant_job_late(job, now);
	if (job->has_users) {
		/* The last user's mmput runs exit_mmap: the rest is freed. */
		uint64_t rss = mm_rss(job->mm);
		bool last = mm_users(job->mm) == 1;

		mmput(job->mm);
		if (last)
			frames += rss;
	}
	lpv_mutex_lock(&job->lock);
	job->freed += frames;
	job->done = true;
	lpv_cond_broadcast(&job->progress);
	lpv_mutex_unlock(&job->lock);
	/* After done: a waiting callback returns, so the pass can end. */
	if (job->notifier)
		ignore_result(oom_notifier_unregister(mod->world, &job->nb));
	lpv_mutex_lock(&inst->lock);
	for (struct instant_job **pp = &inst->jobs; *pp; pp = &(*pp)->next_job)
		if (*pp == job) {
			*pp = job->next_job;
			break;
		}
	inst->nr_jobs--;
	lpv_mutex_unlock(&inst->lock);
	lpv_trace("PV INSTANT DONE: mm %p freed %llu", (void *)job->mm,
		  (unsigned long long)job->freed);
	mmdrop(job->mm);
	instant_job_free(job);

	lpv_mutex_lock(&mod->cleanup_lock);
	mod->cleanups--;
	lpv_cond_broadcast(&mod->cleanup_done);
	lpv_mutex_unlock(&mod->cleanup_lock);
}

static void instant_job_put(struct instant_job *job)
{
	if (atomic_sub_return(&job->refs, 1) == 0)
		instant_job_finish(job);
}

static void *instant_worker_main(void *arg)
{
	struct instant_job *job = arg;

	instant_work(job);
	instant_job_put(job);
	return NULL;
}

/*
 * The standby worker of a job with a bulk clean: it sleeps until an
 * allocation waits for frames while the bulk runs -- then it walks, so
 * the wait is one batch of destroys, not the rest of a firmware call --
 * or until it is not needed (instant_standby_off), when it leaves without
 * work.  (It holds a job reference: the job cannot be done meanwhile.)
 * In KVM: a work item queued on an unbound workqueue by the OOM notifier;
 * here a sleeping thread, which costs nothing until woken.
 */
static void *instant_standby_main(void *arg)
{
	struct instant_job *job = arg;
	bool walk;

	lpv_mutex_lock(&job->lock);
	while (!job->standby_off && !atomic_load_relaxed(&job->waiters))
		lpv_cond_wait(&job->progress, &job->lock);
	walk = !job->standby_off;
	lpv_mutex_unlock(&job->lock);
	if (walk) {
		kvm_stat_inc(job->mod, instant_standby_walks);
		instant_work(job);
	}
	instant_job_put(job);
	return NULL;
}

/* ---- pressure: the notifier ---- */

/*
 * An allocation would OOM: wait until the workers freed frames (any: the
 * allocation retries when a notifier freed something, and the next one
 * that fails waits again), or the job ended.  A condition, not a sleep:
 * it returns as soon as frames are back -- within one batch of destroys
 * (INSTANT_BATCH_URGENT) once the workers see the waiter.
 */
static void instant_oom_wait(struct instant_job *job, unsigned long *freed)
{
	struct kvm_module *mod = job->mod;
	uint64_t before, got;

	if (*freed)
		return;		/* another notifier freed some this pass */
	atomic_add_return(&job->waiters, 1);
	atomic_add_return(&job->urgent, 1);
	lpv_mutex_lock(&job->lock);
	lpv_cond_broadcast(&job->progress);	/* the standby worker */
	before = job->freed;
	while (!job->done && job->freed == before)
		lpv_cond_wait(&job->progress, &job->lock);
	got = job->freed - before;
	/*
	 * Ended while another notifier of this pass made us wait (or before
	 * we looked): what it freed came back meanwhile, unseen by @before.
	 * Say "something" so the allocation retries once; a job that is done
	 * is off the chain, so a retry that finds nothing goes to the kill.
	 */
	if (!got && job->done && job->freed)
		got = 1;
	lpv_mutex_unlock(&job->lock);
	atomic_sub_return(&job->urgent, 1);
	atomic_sub_return(&job->waiters, 1);
	*freed += got;
	kvm_stat_inc(mod, instant_oom_waits);
	kvm_stat_add(mod, instant_oom_freed, got);
}

static int instant_oom_notify(void *ctx, unsigned long *freed)
{
	instant_oom_wait(ctx, freed);
	return 0;
}

static int instant_memcg_oom_notify(void *ctx, struct memcg *memcg,
				    unsigned long *freed)
{
	struct instant_job *job = ctx;

	/* Only our frames are charged to the owner's memcg. */
	if (memcg == job->memcg)
		instant_oom_wait(job, freed);
	return 0;
}

/* ---- starting a job ---- */

static struct instant_job *instant_job_alloc(struct kvm *kvm)
{
	struct instant_job *job = calloc(1, sizeof(*job));
	uintptr_t start, end;

	if (!job)
		return NULL;
	job->mod = kvm->mod;
	job->mm = kvm->mm;
	job->memcg = mm_memcg(kvm->mm);
	/* Alive: DISABLE runs on its thread, the close in its exit. */
	job->owner_pid = kvm->owner ? task_pid(kvm->owner) : 0;
	if (kvm->gmap) {
		kvm_guest_range(kvm, &start, &end);
		job->start = start;
		job->len = end - start;
		job->nr_chunks = (job->len + INSTANT_CHUNK - 1) / INSTANT_CHUNK;
	}
	job->pending = job->len;
	lpv_mutex_init(&job->lock);
	lpv_cond_init(&job->progress);
	mmgrab(kvm->mm);
	return job;
}

/* Instant jobs holding @mm's address space (inst->lock held). */
static int instant_users_locked(struct kvm_instant *inst, struct mm *mm)
{
	int n = 0;

	for (struct instant_job *j = inst->jobs; j; j = j->next_job)
		n += j->mm == mm && j->has_users;
	return n;
}

/*
 * Publish the job and start its workers.  The starter holds one
 * reference until every thread is created, so the job cannot finish
 * under it; with no thread at all, the starter does the work itself.
 */
static void instant_job_start(struct instant_job *job)
{
	struct kvm_module *mod = job->mod;
	struct kvm_instant *inst = mod->instant;
	unsigned int n = instant_nr_workers(mod), started;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	lpv_mutex_lock(&mod->cleanup_lock);
	mod->cleanups++;
	lpv_mutex_unlock(&mod->cleanup_lock);
	lpv_mutex_lock(&inst->lock);
	/* Nobody but instant jobs (this one included) uses the address
	 * space: what is clean can be unmapped, so it is freed. */
	if (job->has_users)
		job->zap = mm_users(job->mm) ==
			   1 + instant_users_locked(inst, job->mm);
	job->next_job = inst->jobs;
	inst->jobs = job;
	inst->nr_jobs++;
	lpv_mutex_unlock(&inst->lock);
	kvm_stat_inc(mod, instant_jobs);
	if (job->zap) {
		job->nb = (struct oom_notifier){
			.fn = instant_oom_notify,
			.memcg_fn = instant_memcg_oom_notify,
			.ctx = job,
			.priority = INSTANT_OOM_PRIORITY,
		};
		job->notifier = oom_notifier_register(mod->world, &job->nb) == 0;
	}
	lpv_trace("PV INSTANT START: mm %p handle %llx len %llx workers %u zap %d",
		  (void *)job->mm, (unsigned long long)job->vm.handle,
		  (unsigned long long)job->len, n, job->zap);
	if (!job->nr_chunks)
		n = 0;
	/* Late: every core works on it (the one left for vCPUs too), at
	 * least one more worker. */
	job->extra = cores > (long)n ? (unsigned int)(cores - (long)n) : 1;
	job->t0_ns = lpv_now_ns();
	if (mod->params.instant_deadline_ms)
		job->deadline_ns = job->t0_ns +
				   mod->params.instant_deadline_ms * 1000000ULL;
	job->refs = 1;
	started = n ? instant_workers_add(job, n) : 0;
	/* A bulk clean: one more worker stands by for pressure. */
	if (job->bulk && started)
		instant_threads_add(job, 1, instant_standby_main);
	if (n && !started) {
		/* No thread: do the work here, now. */
		kvm_stat_inc(mod, sync_fallbacks);
		instant_work(job);
	}
	instant_job_put(job);
}

/* ---- setting a config aside ---- */

/*
 * The running config, CPUs gone, into @vm: DESTROY_SEC_CONF_FAST where
 * the UV has it (handle 0 stays: only the count is left), else a leftover
 * record with its handle, storage and marked table -- at a reboot the
 * gmap gets a copy of the table (CREATE refuses a marked ASCE; v2 showed
 * a copy is safe for small guests too, gmap.c), at a close the table
 * leaves with the config.  -ENOMEM (no copy): nothing changed.
 */
static int instant_set_aside(struct kvm *kvm, struct pv_vm_to_be_destroyed *vm,
			     bool reboot)
{
	struct kvm_module *mod = kvm->mod;
	int ret;

	/*
	 * FAST at a reboot only: the new guest takes its pages back one by
	 * one, on demand.  At a close nothing waits for a particular page,
	 * and the whole config is cheaper to clean in bulk (instant_bulk).
	 */
	if (mod->has_fast && (reboot || !mod->params.instant_bulk)) {
		struct uv_cb_destroy_fast uvcb = {
			.header.len = sizeof(uvcb),
			.header.cmd = UVC_CMD_DESTROY_SEC_CONF_FAST,
			.handle = kvm->pv.handle,
		};
		int cc = uv_call_sched(mod->uv, &uvcb.header);

		lpv_trace("PV DESTROY VM FAST: handle %llx rc %x rrc %x",
			  (unsigned long long)uvcb.handle, uvcb.header.rc,
			  uvcb.header.rrc);
		if (!cc) {
			kvm_stat_inc(mod, fast_destroys);
			kvm_pv_dealloc_vm(kvm);
			kvm_clear_pv_state(kvm);
			vm->handle = 0;
			return 0;
		}
		/* Refused (bound APQNs, 0x104): a leftover record instead. */
	}
	if (reboot) {
		ret = gmap_replace_asce(kvm->gmap, true, &vm->old_table);
		if (ret)
			return ret;
	} else {
		vm->old_table = gmap_take_table(kvm->gmap);
	}
	vm->handle = kvm->pv.handle;
	vm->stor_base = kvm->pv.stor_base;
	vm->stor_var = kvm->pv.stor_var;
	kvm_clear_pv_state(kvm);
	return 0;
}

void kvm_instant_enable(struct kvm *kvm)
{
	lpv_mutex_assert_held(&kvm->lock);
	if (!kvm->instant_mm && mmget_not_zero(kvm->mm))
		kvm->instant_mm = true;
}

int kvm_instant_disable(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct instant_job *job;

	lpv_mutex_assert_held(&kvm->lock);
	*rc = *rrc = 0;
	kvm_instant_boot_release(kvm);	/* a reboot before the last ran */
	if (!kvm->pv.handle)
		return 0;
	job = instant_job_alloc(kvm);
	if (!job)
		goto sync;
	job->has_users = mmget_not_zero(kvm->mm);
	if (instant_set_aside(kvm, &job->vm, true)) {
		if (job->has_users)
			mmput(kvm->mm);
		mmdrop(kvm->mm);
		instant_job_free(job);
		goto sync;
	}
	job->has_vm = true;
	if (mod->params.instant_boot_hold_ms && job->nr_chunks) {
		job->held = true;
		job->hold_until_ns = lpv_now_ns() +
			mod->params.instant_boot_hold_ms * 1000000ULL;
		kvm_stat_inc(mod, instant_boot_holds);
	}
	if (job->held)
		__atomic_store_n(&kvm->instant_held, true, __ATOMIC_RELEASE);
	instant_job_start(job);
	*rc = UVC_RC_EXECUTED;
	*rrc = KVM_PV_RRC_DEFERRED;
	return 0;

sync:
	/* No memory for the record or the table copy: config first. */
	kvm_stat_inc(mod, sync_fallbacks);
	return kvm_pv_deinit_vm_order(kvm, true, rc, rrc);
}

void kvm_instant_vm_close(struct kvm *kvm)
{
	struct kvm_module *mod = kvm->mod;
	struct instant_job *job;
	uint16_t rc, rrc;

	lpv_mutex_assert_held(&kvm->lock);
	kvm_instant_boot_release(kvm);
	if (!kvm->pv.handle && !kvm->instant_mm)
		return;
	/* A CPU that cannot be destroyed makes DESTROY_SEC_CONF fail too:
	 * the dispose then leaks the storage on purpose and lists it. */
	if (kvm->pv.handle)
		ignore_result(kvm_pv_cpus_from_pv(kvm, &rc, &rrc));
	job = instant_job_alloc(kvm);
	if (!job) {
		kvm_stat_inc(mod, sync_fallbacks);
		ignore_result(kvm_pv_deinit_vm_order(kvm, true, &rc, &rrc));
		if (kvm->instant_mm)
			mmput(kvm->mm);
		kvm->instant_mm = false;
		return;
	}
	/* The VM's address-space reference is the job's now. */
	job->at_close = true;
	job->has_users = kvm->instant_mm;
	kvm->instant_mm = false;
	if (kvm->pv.handle) {
		/* At a close the table leaves with the config: no copy, no
		 * failure. */
		BUG_ON(instant_set_aside(kvm, &job->vm, false));
		job->has_vm = true;
		job->bulk = job->vm.handle != 0;
	}
	instant_job_start(job);
}

/* ---- progress ---- */

uint64_t kvm_instant_mm_pending_bytes(struct kvm_module *mod, struct mm *mm)
{
	struct kvm_instant *inst = mod->instant;
	uint64_t sum = 0;

	lpv_mutex_lock(&inst->lock);
	for (struct instant_job *j = inst->jobs; j; j = j->next_job)
		if (!mm || j->mm == mm)
			sum += atomic_load_relaxed(&j->pending);
	lpv_mutex_unlock(&inst->lock);
	return sum;
}

uint64_t kvm_instant_pending_bytes(struct kvm_module *mod)
{
	return kvm_instant_mm_pending_bytes(mod, NULL);
}

unsigned int kvm_instant_jobs_running(struct kvm_module *mod)
{
	unsigned int n;

	lpv_mutex_lock(&mod->instant->lock);
	n = mod->instant->nr_jobs;
	lpv_mutex_unlock(&mod->instant->lock);
	return n;
}
