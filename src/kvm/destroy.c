// SPDX-License-Identifier: MIT
/*
 * destroy.c - the destroy engine: tearing protected configurations down
 * without making the guest or the VMM wait.
 *
 * LAZY, the seed (v2, 2021), exactly -- improvements belong elsewhere:
 *   reboot    KVM_PV_DISABLE keeps the mm (mmgrab + mmget_not_zero),
 *             destroys the low clear_low bytes synchronously, gives the VM a
 *             copy of its top-level table (the UV still marks the old one),
 *             and hands the old configuration to a cleanup *kernel thread*
 *             that walks the whole address space destroying its pages
 *             (memory first), then destroys the configuration and frees
 *             its storage.
 *   shutdown  exit_mmap sets every present page aside, one PTE at a time,
 *             on the mm's deferred list (page-sized chunks of 509 PFNs)
 *             instead of exporting it; when the VM is torn down (its CPUs
 *             gone, so destroy works) a thread destroys them, then the
 *             configuration.
 *   OOM       while a thread drains a deferred list it registers an OOM
 *             notifier (priority 70): unless other notifiers freed more
 *             than oom_enough_pages, it sleeps oom_wait_ms and reports the
 *             pages whose chunks completed meanwhile.
 * ASYNC, merged (6.0 + 6.2):
 *   PREPARE   destroys the CPUs, sets the config aside (DESTROY_SEC_CONF_
 *             FAST if the UV has it, else an ASCE copy), destroys the low
 *             clear_low bytes; small guests (segment ASCE) are refused.
 *   PERFORM   runs on a VMM thread (CPU time accounted to the VMM): walks
 *             the whole address space interruptibly, then disposes of the
 *             config;
 *             interrupted, it leaves the config on need_cleanup.
 *   DISABLE / VM teardown dispose of everything left.
 *   release   the mmu-notifier release at exit_mmap (every 6.0+ mode)
 *             destroys the CPUs (and, ASYNC, fast-destroys the config) so
 *             the unmap's destroys work.
 *
 * Lifetimes (the v2 use-after-free fix): a cleanup thread owns a record
 * holding an mm_count reference (mmgrab) -- the deferred list lives in the
 * mm -- and, for a reboot, an mm_users reference it drops after its walk;
 * it never touches struct kvm, which may be gone.  The module counts
 * running threads (cleanup_lock) and waits for them at unload.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* v2 deferred_priv */
struct pv_deferred {
	struct kvm_module *mod;
	struct mm *mm;			/* mmgrab'ed */
	bool has_mm;			/* reboot: we hold an mm_users ref */
	struct pv_vm_to_be_destroyed vm;
	uint64_t n_pages_freed;		/* atomic: the OOM notifier reads it */
	struct oom_notifier oom_nb;
};

#define KVM_OOM_NOTIFY_PRIORITY 70

void kvm_cleanup_threads_init(struct kvm_module *mod)
{
	lpv_mutex_init(&mod->cleanup_lock);
	lpv_cond_init(&mod->cleanup_done);
}

void kvm_module_drain(struct kvm_module *mod)
{
	lpv_mutex_lock(&mod->cleanup_lock);
	while (mod->cleanups)
		lpv_cond_wait(&mod->cleanup_done, &mod->cleanup_lock);
	lpv_mutex_unlock(&mod->cleanup_lock);
}

void kvm_module_set_test_hooks(struct kvm_module *mod,
			       const struct kvm_test_hooks *hooks)
{
	mod->hooks = hooks ? *hooks : (struct kvm_test_hooks){ 0 };
}

unsigned int kvm_module_cleanups_running(struct kvm_module *mod)
{
	unsigned int n;

	lpv_mutex_lock(&mod->cleanup_lock);
	n = mod->cleanups;
	lpv_mutex_unlock(&mod->cleanup_lock);
	return n;
}

void kvm_cleanup_progress(const struct kvm_module *mod,
			  struct kvm_cleanup_progress *out)
{
	/* instant's workers keep their own per-job count (instant.c). */
	out->pending_pages = atomic_load_relaxed(&mod->cleanup_pending) +
		kvm_instant_pending_bytes((struct kvm_module *)mod) / HW_PAGE_SIZE;
	out->cleaned_pages = atomic_load_relaxed(&mod->cleanup_cleaned);
}

uint64_t kvm_cleanup_pending(const struct kvm *kvm)
{
	return atomic_load_relaxed(&mm_context(kvm->mm)->pv_cleanup_pending) +
	       kvm_instant_mm_pending_bytes(kvm->mod, kvm->mm) / HW_PAGE_SIZE;
}

/* ---- disposing of a configuration KVM no longer runs ---- */

static void kvm_table_free(struct kvm_module *mod, struct page *table)
{
	struct kvm_stor stor = { table, GMAP_TABLE_FRAMES };

	if (table)
		kvm_stor_free(mod, &stor);
}

/*
 * DESTROY_SEC_CONF of a set-aside/leftover config (handle 0: it was
 * fast-destroyed, only the count is left), then free or leak its storage
 * and marked table.  0, or -EIO with the firmware's rc/rrc.
 */
static int kvm_pv_dispose_vm(struct kvm_module *mod, struct mm *mm,
			     struct pv_vm_to_be_destroyed *vm, uint16_t *rc,
			     uint16_t *rrc)
{
	int ret = 0;

	*rc = UVC_RC_EXECUTED;
	*rrc = 0;
	if (vm->handle) {
		ret = uv_cmd_nodata(mod->uv, vm->handle, UVC_CMD_DESTROY_SEC_CONF,
				    rc, rrc);
		lpv_trace("PV DESTROY LEFTOVER VM: handle %llx rc %x rrc %x",
			  (unsigned long long)vm->handle, *rc, *rrc);
	}
	if (ret) {
		struct kvm_stor table = { vm->old_table, GMAP_TABLE_FRAMES };

		/* The UV may still own all of it: leak on purpose. */
		WARN_ONCE(1, "DESTROY_SEC_CONF of leftover %llx failed rc %x rrc %x",
			  (unsigned long long)vm->handle, *rc, *rrc);
		kvm_stor_leak(mod, &vm->stor_base, MM_LEAK_conf_destroy_failed);
		kvm_stor_leak(mod, &vm->stor_var, MM_LEAK_conf_destroy_failed);
		if (vm->old_table) {
			kvm_stor_leak(mod, &table, MM_LEAK_conf_destroy_failed);
			kvm_stat_inc(mod, leaked_asce);
		}
		vm->old_table = NULL;
		return -EIO;
	}
	atomic_sub_relaxed(&mm_context(mm)->protected_count, 1);
	kvm_stor_free(mod, &vm->stor_base);
	kvm_stor_free(mod, &vm->stor_var);
	kvm_table_free(mod, vm->old_table);
	vm->old_table = NULL;
	kvm_stat_inc(mod, leftovers_disposed);
	return 0;
}

/* Move the running configuration's resources into @vm; KVM forgets it. */
static void kvm_pv_take_vm(struct kvm *kvm, struct pv_vm_to_be_destroyed *vm)
{
	vm->handle = kvm->pv.handle;
	vm->stor_base = kvm->pv.stor_base;
	vm->stor_var = kvm->pv.stor_var;
	kvm_clear_pv_state(kvm);
}

/* ---- LAZY: the set-aside hook ---- */

/*
 * v2's uv_destroy_page_lazy, called by the unmap hook for every present
 * page of a protected mm at exit (secure or not): keep the page (an extra
 * reference) and record its PFN in the first chunk of the mm's deferred
 * list.  With no room (no chunk yet, or the first one full), export this
 * page now -- leaked if that fails -- and try to get a new chunk for the
 * pages after it: GFP_ATOMIC | __GFP_NOMEMALLOC | __GFP_NOWARN, so no
 * sleeping, no emergency reserve, no warning, not charged to anyone; a
 * failure is silent and the next page tries again.  The page being
 * unmapped is never used as the chunk (it may be shared).
 */
void kvm_pv_set_aside_page(struct kvm_module *mod, struct mm *mm,
			   struct page *page)
{
	struct mm_world *world = mod->world;
	struct mm_context *mc = mm_context(mm);
	struct mm_deferred_chunk *chunk;
	struct page *cpage;

	page_get(page);
	lpv_mutex_lock(&mc->deferred_lock);
	chunk = mc->deferred_list;
	if (chunk && chunk->count < MM_DEFERRED_CHUNK_MAX) {
		chunk->pfns[chunk->count++] = mm_page_to_pfn(world, page);
		/* Before the unlock: the thread may drain the chunk at once
		 * and frees the page as pending (still charged). */
		mm_page_set_use(world, page, PAGE_USE_PENDING);
		mc->deferred_pages++;
		kvm_cleanup_pending_add(mod, mm, 1);
		lpv_mutex_unlock(&mc->deferred_lock);
		kvm_stat_inc(mod, set_aside_pages);
		return;
	}
	lpv_mutex_unlock(&mc->deferred_lock);

	if (kvm_uv_export_owned(mod, page) == 0) {
		kvm_stat_inc(mod, set_aside_exports);
	} else {
		/* The UV may still own it: never reuse it. */
		mm_page_leak(world, page, MM_LEAK_export_failed);
	}
	mm_page_put(world, page);	/* the mapping still holds one */
	if (mm_page_alloc(world, MM_GFP_ATOMIC | MM_GFP_NOMEMALLOC |
			  MM_GFP_NOWARN, NULL, &cpage))
		return;
	chunk = mm_page_host(world, cpage);
	chunk->count = 0;
	lpv_mutex_lock(&mc->deferred_lock);
	chunk->next = mc->deferred_list;
	mc->deferred_list = chunk;
	lpv_mutex_unlock(&mc->deferred_lock);
}

/* ---- LAZY: the OOM notifier (v2 patch 12) ---- */

/*
 * An allocation is about to OOM (global OOM only) while this cleanup
 * drains the deferred list.  As v2: unless more than oom_enough_pages
 * (1024) were freed already in this pass, sleep oom_wait_ms (msleep(20):
 * a real, unconditional sleep -- it is the mechanism, not a stand-in for
 * work) and report what the cleanup freed meanwhile.
 */
static int kvm_pv_oom_notify(void *ctx, unsigned long *freed)
{
	struct pv_deferred *priv = ctx;
	struct kvm_module *mod = priv->mod;
	uint64_t before, after, t0;

	if (*freed > mod->params.oom_enough_pages) {
		kvm_stat_inc(mod, oom_notifier_skips);
		return 0;
	}
	before = atomic_load_acquire(&priv->n_pages_freed);
	t0 = lpv_now_ns();
	if (mod->hooks.oom_sleep)
		mod->hooks.oom_sleep(mod->hooks.ctx,
				     mod->params.oom_wait_ms * 1000000ULL);
	else
		lpv_sleep_ns(mod->params.oom_wait_ms * 1000000ULL);
	after = atomic_load_acquire(&priv->n_pages_freed);
	trace_complete(TRACE_PID_KERNEL, trace_tid(), "OOM notifier wait", t0,
		       lpv_now_ns(), "freed_pages", after - before, NULL, 0);
	*freed += after - before;
	kvm_stat_inc(mod, oom_notifier_waits);
	kvm_stat_add(mod, oom_notifier_freed, after - before);
	return 0;
}

/* ---- LAZY: the cleanup thread ---- */

/*
 * Destroy one set-aside page whose config has no CPUs.  A destroy that
 * fails (a CPU the UV still counts, because its destroy failed) is
 * followed by an export: Linux would free the page still secure and its
 * next user's 0x3d would export it; here a secure frame never reaches
 * the free list, so the export is done now.  If that fails too, the frame
 * is leaked on purpose.
 */
static void kvm_pv_dispose_page(struct kvm_module *mod, struct page *page)
{
	if (kvm_uv_destroy_owned(mod, page) == 0)
		return;
	if (kvm_uv_export_owned(mod, page) == 0)
		return;
	mm_page_leak(mod->world, page, MM_LEAK_destroy_failed);
}

_Static_assert(MM_DEFERRED_CHUNK_MAX <= HW_UNPROTECT_BATCH,
	       "a chunk's pages fit one unprotect batch");

/*
 * v2's drain of one chunk (s390_uv_destroy_pfns): destroy each page and
 * drop the reference that kept it, free the chunk page, then count
 * count + 1 pages freed -- once per chunk, after the whole chunk, which
 * is all the OOM notifier sees.  The host-view guards of the chunk's
 * frames are lifted in one batch before they are freed (emulation work,
 * not modelled firmware work).  @priv may be NULL (synchronous fallback).
 */
static void kvm_pv_drain_chunk(struct kvm_module *mod, struct mm *mm,
			       struct pv_deferred *priv,
			       struct mm_deferred_chunk *chunk,
			       struct trace_span *span)
{
	struct mm_world *world = mod->world;
	struct page *cpage = mm_pfn_to_page(world,
		hw_host_addr_to_pfn(mod->hw, chunk));
	struct page *pages[MM_DEFERRED_CHUNK_MAX];
	struct hw_unprotect_batch batch;
	uint32_t n = chunk->count;

	if (mod->hooks.before_chunk)
		mod->hooks.before_chunk(mod->hooks.ctx, n);
	hw_unprotect_batch_begin(mod->hw, &batch);
	for (uint32_t i = 0; i < n; i++) {
		pages[i] = mm_pfn_to_page(world, chunk->pfns[i]);
		kvm_pv_dispose_page(mod, pages[i]);
	}
	hw_unprotect_batch_end(&batch);		/* before they are freed */
	mm_page_put_bulk(world, pages, n);	/* pending -> free */
	mm_page_put(world, cpage);
	/* The notifier's count first, the statistic after it with release
	 * order: whoever sees the statistic move (a test's gate) finds the
	 * notifier's count moved too. */
	if (priv)
		atomic_add_relaxed(&priv->n_pages_freed, n + 1ULL);
	__atomic_add_fetch(&mod->stats.deferred_pages_freed, n + 1ULL,
			   __ATOMIC_RELEASE);
	kvm_cleanup_pending_sub(mod, mm, n, n);
	trace_span_add(span, n);
	sched_yield();
}

/* Drain the mm's whole deferred list (the config owning it has no CPUs). */
static void kvm_pv_drain_deferred(struct kvm_module *mod, struct mm *mm,
				  struct pv_deferred *priv)
{
	struct mm_context *mc = mm_context(mm);
	struct trace_span span;

	trace_span_init(&span, TRACE_PID_KERNEL, trace_tid(), "drain set-aside",
			"pages", KVM_TRACE_SPAN_PAGES);
	for (;;) {
		struct mm_deferred_chunk *chunk;

		lpv_mutex_lock(&mc->deferred_lock);
		chunk = mc->deferred_list;
		if (chunk) {
			mc->deferred_list = chunk->next;
			mc->deferred_pages -= chunk->count;
		}
		lpv_mutex_unlock(&mc->deferred_lock);
		if (!chunk)
			break;
		kvm_pv_drain_chunk(mod, mm, priv, chunk, &span);
	}
	trace_span_flush(&span);
}

static void *kvm_pv_destroy_vm_thread(void *arg)
{
	struct pv_deferred *priv = arg;
	struct kvm_module *mod = priv->mod;
	struct mm_context *mc = mm_context(priv->mm);
	bool notifier = false;
	uint16_t rc, rrc;

	trace_thread_name("kvm cleanup %llu (%s)",
			  (unsigned long long)atomic_load_relaxed(
				  &mod->stats.deferred_starts),
			  priv->has_mm ? "reboot" : "shutdown");
	trace_begin(TRACE_PID_KERNEL, trace_tid(), "lazy cleanup",
		    "has_mm", priv->has_mm);
	if (mod->hooks.thread_start)
		mod->hooks.thread_start(mod->hooks.ctx);
	if (mod->params.oom_notifier) {
		priv->oom_nb = (struct oom_notifier){
			.fn = kvm_pv_oom_notify,
			.ctx = priv,
			.priority = KVM_OOM_NOTIFY_PRIORITY,
		};
		notifier = oom_notifier_register(mod->world, &priv->oom_nb) == 0;
	}
	kvm_pv_drain_deferred(mod, priv->mm, priv);
	if (notifier)
		ignore_result(oom_notifier_unregister(mod->world, &priv->oom_nb));

	if (priv->has_mm) {
		/* The whole user address space; stop early once ours is the
		 * last user: exit_mmap will then export what is left,
		 * synchronously, in this thread. */
		ignore_result(kvm_uv_destroy_range_users(mod, priv->mm, 0,
							 MM_TASK_SIZE, 1));
		if (mm_users(priv->mm) == 1) {
			mm_mmap_write_lock(priv->mm);
			WRITE_ONCE(mc->pv_sync_destroy, true);
			mm_mmap_write_unlock(priv->mm);
		}
		if (mod->hooks.mmput_gate)
			mod->hooks.mmput_gate(mod->hooks.ctx, false);
		mmput(priv->mm);
		if (mod->hooks.mmput_gate)
			mod->hooks.mmput_gate(mod->hooks.ctx, true);
		/*
		 * The check above races the VMM's exit: if the VMM dropped its
		 * reference after it, the final exit_mmap ran in our mmput on
		 * a still-protected mm and set every present page aside --
		 * after our drain, and the VM, gone already or without a
		 * config, has nothing to hand to a thread.  v2 leaves those
		 * pages on a list nobody drains; here they are drained now
		 * (if the VMM's own exit_mmap was the last, its VM close does
		 * it: kvm_pv_drain_stranded).
		 */
		kvm_pv_drain_deferred(mod, priv->mm, NULL);
	}
	if (mod->hooks.before_dispose)
		mod->hooks.before_dispose(mod->hooks.ctx);
	ignore_result(kvm_pv_dispose_vm(mod, priv->mm, &priv->vm, &rc, &rrc));
	lpv_trace("PV DESTROY VM DEFERRED DONE: handle %llx rc %x rrc %x",
		  (unsigned long long)priv->vm.handle, rc, rrc);
	trace_end(TRACE_PID_KERNEL, trace_tid(), "lazy cleanup", "rc", rc);
	mmdrop(priv->mm);
	free(priv);

	lpv_mutex_lock(&mod->cleanup_lock);
	mod->cleanups--;
	lpv_cond_broadcast(&mod->cleanup_done);
	lpv_mutex_unlock(&mod->cleanup_lock);
	return NULL;
}

static int kvm_pv_start_thread(struct pv_deferred *priv)
{
	struct kvm_module *mod = priv->mod;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	lpv_mutex_lock(&mod->cleanup_lock);
	mod->cleanups++;
	lpv_mutex_unlock(&mod->cleanup_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, kvm_pv_destroy_vm_thread, priv);
	pthread_attr_destroy(&attr);
	if (err) {
		lpv_mutex_lock(&mod->cleanup_lock);
		mod->cleanups--;
		lpv_cond_broadcast(&mod->cleanup_done);
		lpv_mutex_unlock(&mod->cleanup_lock);
		return -err;
	}
	kvm_stat_inc(mod, deferred_starts);
	return 0;
}

void kvm_pv_drain_stranded(struct kvm *kvm)
{
	struct mm_context *mc = mm_context(kvm->mm);
	bool empty;

	lpv_mutex_lock(&mc->deferred_lock);
	empty = !mc->deferred_list;
	lpv_mutex_unlock(&mc->deferred_lock);
	if (empty)
		return;
	lpv_trace("PV DRAIN STRANDED: %llu pages set aside for no config",
		  (unsigned long long)mc->deferred_pages);
	kvm_pv_drain_deferred(kvm->mod, kvm->mm, NULL);
}

/*
 * kvm_s390_clear_2g (v2) / kvm_s390_destroy_lower_2g (6.2): destroy the
 * present pages of the guest's memory below clear_low now, synchronously
 * -- the prefix pages (lowcore) of the next guest live there and must be
 * importable at once.  The CPUs are gone, so destroy works.
 */
static int kvm_destroy_lower(struct kvm *kvm)
{
	uint64_t low = kvm->gmap->guest_len;
	uintptr_t start, end;

	if (low > kvm->mod->params.clear_low)
		low = kvm->mod->params.clear_low;
	kvm_guest_range(kvm, &start, &end);
	return kvm_uv_destroy_range(kvm->mod, kvm->mm, start, start + low,
				    false);
}

/*
 * v2 kvm_s390_pv_deinit_vm_deferred: the running config's CPUs are gone.
 * Falls back to the synchronous teardown whenever the deferred one cannot
 * be set up (no memory, a small guest's table, no thread).
 */
int kvm_pv_deinit_vm_deferred(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct mm_context *mc = mm_context(kvm->mm);
	struct pv_deferred *priv;
	struct page *old = NULL;
	int ret;

	lpv_mutex_assert_held(&kvm->lock);
	if (!kvm->pv.handle)
		return 0;
	priv = calloc(1, sizeof(*priv));
	if (!priv)
		goto sync_count;
	priv->mod = mod;
	priv->mm = kvm->mm;
	mmgrab(kvm->mm);
	if (mmget_not_zero(kvm->mm)) {
		priv->has_mm = true;
		ret = kvm_destroy_lower(kvm);
		/* v2 replaced segment-table ASCEs too (guests of any size). */
		if (ret || gmap_replace_asce(kvm->gmap, true, &old))
			goto undo;
	} else {
		bool empty;

		lpv_mutex_lock(&mc->deferred_lock);
		empty = !mc->deferred_list;
		lpv_mutex_unlock(&mc->deferred_lock);
		if (empty)
			goto undo;	/* nothing was set aside */
		/* Shutdown: the table leaves with the config (unlisted). */
		old = gmap_take_table(kvm->gmap);
	}
	priv->vm.old_table = old;
	kvm_pv_take_vm(kvm, &priv->vm);
	lpv_trace("PV DESTROY VM DEFERRED: handle %llx has_mm %d",
		  (unsigned long long)priv->vm.handle, priv->has_mm);
	ret = kvm_pv_start_thread(priv);
	if (ret) {
		/* No thread: do the thread's work here, now. */
		kvm_stat_inc(mod, sync_fallbacks);
		lpv_mutex_lock(&mod->cleanup_lock);
		mod->cleanups++;
		lpv_mutex_unlock(&mod->cleanup_lock);
		kvm_pv_destroy_vm_thread(priv);
	}
	*rc = UVC_RC_EXECUTED;
	*rrc = KVM_PV_RRC_DEFERRED;
	return 0;

undo:
	/* (The table replacement is the last step that can fail: nothing to
	 * undo there.) */
	if (priv->has_mm)
		mmput(kvm->mm);
	mmdrop(kvm->mm);
	free(priv);
sync_count:
	kvm_stat_inc(mod, sync_fallbacks);
	/* Pages set aside at exit (a shutdown that could not defer): destroy
	 * them here, or they would stay pending forever. */
	kvm_pv_drain_deferred(mod, kvm->mm, NULL);
	/* v2's deinit_vm_now: memory first. */
	ret = kvm_pv_deinit_vm_order(kvm, false, rc, rrc);
	/*
	 * Its walk may have held the address space's last reference (a
	 * reboot's cleanup thread let go meanwhile): then its mmput ran the
	 * final exit_mmap, which set the pages aside -- the config was still
	 * alive -- after the drain above.  Nothing else will drain them.
	 */
	kvm_pv_drain_deferred(mod, kvm->mm, NULL);
	return ret;
}

/* ---- ASYNC ---- */

/*
 * The mmu-notifier release (6.0 on, every protected VM): the last user of
 * the mm is gone and exit_mmap is about to unmap everything.  Destroy the
 * CPUs so the unmap's destroy-page calls work instead of falling back to
 * export; from 6.2 (ASYNC), with DESTROY_SEC_CONF_FAST, also end the
 * configuration at once (its pages are then destroyed one by one by the
 * unmap; protected_count stays up until the VM teardown disposes of the
 * leftover, so the unmap still treats the mm as protected).  No lock:
 * this is the last thread of the last user (kvm->lock may even be held by
 * the caller of the final mmput).
 */
static void kvm_pv_mmu_release(struct mmu_notifier *mn, struct mm *mm)
{
	struct kvm *kvm = container_of(mn, struct kvm, mn);
	struct kvm_module *mod = kvm->mod;
	struct uv_cb_destroy_fast uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_DESTROY_SEC_CONF_FAST,
	};
	struct pv_vm_to_be_destroyed *vm;
	uint16_t rc, rrc;

	(void)mm;
	if (!kvm->pv.handle)
		return;
	kvm_stat_inc(mod, mmu_releases);
	if (kvm_pv_cpus_from_pv(kvm, &rc, &rrc))
		return;		/* the unmap's destroys fall back to export */
	if (!kvm->mn_fast || !mod->has_fast)
		return;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return;
	uvcb.handle = kvm->pv.handle;
	if (uv_call_sched(mod->uv, &uvcb.header)) {
		/* rc 0x104 (bound APQNs) is expected; the VM teardown will use
		 * the normal DESTROY_SEC_CONF. */
		free(vm);
		return;
	}
	kvm_stat_inc(mod, fast_destroys);
	kvm_pv_dealloc_vm(kvm);
	kvm_clear_pv_state(kvm);
	vm->handle = 0;		/* only the count is left to drop */
	vm->old_table = NULL;
	vm->next = kvm->need_cleanup;
	kvm->need_cleanup = vm;
}

static const struct mmu_notifier_ops kvm_pv_mn_ops = {
	.release = kvm_pv_mmu_release,
};

int kvm_pv_mmu_notifier_register(struct kvm *kvm, bool fast)
{
	int ret;

	kvm->mn_fast = fast;
	if (kvm->mn_registered)
		return 0;
	kvm->mn.ops = &kvm_pv_mn_ops;
	ret = mmu_notifier_register(&kvm->mn, kvm->mm);
	if (!ret)
		kvm->mn_registered = true;
	return ret;
}

void kvm_pv_mmu_notifier_unregister(struct kvm *kvm)
{
	if (kvm->mn_registered)
		mmu_notifier_unregister(&kvm->mn, kvm->mm);
	kvm->mn_registered = false;
}

/* DESTROY_SEC_CONF_FAST of the running configuration (CPUs gone). */
static int kvm_pv_deinit_vm_fast(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct uv_cb_destroy_fast uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_DESTROY_SEC_CONF_FAST,
		.handle = kvm->pv.handle,
	};
	int cc = uv_call_sched(kvm->mod->uv, &uvcb.header);

	*rc = uvcb.header.rc;
	*rrc = uvcb.header.rrc;
	lpv_trace("PV DESTROY VM FAST: handle %llx rc %x rrc %x",
		  (unsigned long long)uvcb.handle, *rc, *rrc);
	if (cc)
		return -EIO;
	kvm_stat_inc(kvm->mod, fast_destroys);
	kvm_pv_dealloc_vm(kvm);
	kvm_clear_pv_state(kvm);
	return 0;
}

int kvm_pv_async_prepare(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct pv_vm_to_be_destroyed *vm;
	int ret;

	lpv_mutex_assert_held(&kvm->lock);
	if (!kvm->pv.handle)
		return -EINVAL;
	/* If a CPU cannot be destroyed, destroying the VM would fail too. */
	ret = kvm_pv_cpus_from_pv(kvm, rc, rrc);
	if (ret)
		return ret;
	/* kvm_s390_pv_set_aside: one set-aside VM at a time, and no
	 * segment-table ASCE (the 2023 rule; the VMM then uses DISABLE). */
	if (kvm->set_aside)
		return -EINVAL;
	if (gmap_is_small(kvm->gmap))
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	if (mod->has_fast) {
		ret = kvm_pv_deinit_vm_fast(kvm, rc, rrc);
		if (ret) {
			free(vm);
			return ret;
		}
	} else {
		ret = gmap_replace_asce(kvm->gmap, false, &vm->old_table);
		if (ret) {
			free(vm);
			return ret;
		}
		kvm_pv_take_vm(kvm, vm);
	}
	ignore_result(kvm_destroy_lower(kvm));
	kvm->set_aside = vm;
	kvm_stat_inc(mod, async_prepares);
	*rc = UVC_RC_EXECUTED;
	*rrc = KVM_PV_RRC_DEFERRED;
	return 0;
}

/* Entered without kvm->lock: PREPARE may run again meanwhile. */
int kvm_pv_async_perform(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct pv_vm_to_be_destroyed *vm;
	int ret;

	lpv_mutex_lock(&kvm->lock);
	vm = kvm->set_aside;
	kvm->set_aside = NULL;
	lpv_mutex_unlock(&kvm->lock);
	if (!vm)
		return -EINVAL;
	trace_begin(TRACE_PID_KERNEL, trace_tid(), "async cleanup perform",
		    NULL, 0);
	/* The whole user address space, interruptibly. */
	ret = kvm_uv_destroy_range(mod, kvm->mm, 0, MM_TASK_SIZE, true);
	trace_end(TRACE_PID_KERNEL, trace_tid(), "async cleanup perform",
		  "interrupted", ret == -EINTR);
	if (ret == -EINTR) {
		/* Killed: the VM teardown will finish it. */
		lpv_mutex_lock(&kvm->lock);
		vm->next = kvm->need_cleanup;
		kvm->need_cleanup = vm;
		lpv_mutex_unlock(&kvm->lock);
		kvm_stat_inc(mod, async_interrupted);
		*rc = UVC_RC_EXECUTED;
		*rrc = KVM_PV_RRC_DEFERRED;
		return 0;
	}
	ret = kvm_pv_dispose_vm(mod, kvm->mm, vm, rc, rrc);
	free(vm);
	if (!ret)
		kvm_stat_inc(mod, async_performs);
	return ret;
}

/*
 * kvm_s390_pv_deinit_cleanup_all: KVM_PV_DISABLE and VM teardown in ASYNC
 * mode.  Destroys the running config (DESTROY_SEC_CONF only), disposes of
 * the set-aside one and every leftover, then -- if anything was destroyed
 * and the address space still exists -- walks it once to clear what the
 * pages still carry.  The first failure's rc/rrc is reported.
 */
int kvm_pv_deinit_cleanup_all_locked(struct kvm *kvm, uint16_t *rc,
				     uint16_t *rrc)
{
	struct kvm_module *mod = kvm->mod;
	struct mm_context *mc = mm_context(kvm->mm);
	bool need_zap = false;
	int first = 0, ret;
	uint16_t lrc, lrrc;
	int count;

	lpv_mutex_assert_held(&kvm->lock);
	*rc = *rrc = 0;
	/* Hold the count up so it cannot reach 0 before the zap; a zero
	 * count means nothing is protected here (the 2023 race fix). */
	count = atomic_load_acquire(&mc->protected_count);
	do {
		if (!count)
			return 0;
	} while (!atomic_cmpxchg(&mc->protected_count, &count, count + 1));

	if (kvm->pv.handle) {
		/*
		 * A CPU that cannot be destroyed makes DESTROY_SEC_CONF fail
		 * too -- issue it anyway: its failure path leaks the storage
		 * and the table on purpose instead of leaving a live config
		 * behind a VM that is going away.
		 */
		int cret = kvm_pv_cpus_from_pv(kvm, &lrc, &lrrc);
		uint16_t drc, drrc;

		if (mod->hooks.teardown_gate)
			mod->hooks.teardown_gate(mod->hooks.ctx);
		ret = kvm_pv_destroy_conf(kvm, &drc, &drrc);
		if (!cret) {
			lrc = drc;
			lrrc = drrc;
		} else {
			ret = cret;
		}
		if (ret && !first) {
			first = ret;
			*rc = lrc;
			*rrc = lrrc;
		}
		need_zap = true;
	}
	if (kvm->set_aside) {
		kvm->set_aside->next = kvm->need_cleanup;
		kvm->need_cleanup = kvm->set_aside;
		kvm->set_aside = NULL;
	}
	while (kvm->need_cleanup) {
		struct pv_vm_to_be_destroyed *vm = kvm->need_cleanup;

		kvm->need_cleanup = vm->next;
		ret = kvm_pv_dispose_vm(mod, kvm->mm, vm, &lrc, &lrrc);
		if (ret && !first) {
			first = ret;
			*rc = lrc;
			*rrc = lrrc;
		}
		free(vm);
		need_zap = true;
	}
	if (need_zap && mmget_not_zero(kvm->mm)) {
		ignore_result(kvm_uv_destroy_range(mod, kvm->mm, 0,
						   MM_TASK_SIZE, false));
		mmput(kvm->mm);
	}
	atomic_sub_relaxed(&mc->protected_count, 1);
	return first;
}
