// SPDX-License-Identifier: MIT
/*
 * destroy.c - the destroy engine: tearing protected configurations down
 * without making the guest or the VMM wait.
 *
 * LAZY, the seed (v2, 2021):
 *   reboot    KVM_PV_DISABLE keeps the mm (mmgrab + mmget_not_zero),
 *             destroys the low clear_low bytes synchronously, gives the VM a
 *             copy of its top-level table (the UV still marks the old one),
 *             and hands the old configuration to a cleanup *kernel thread*
 *             that walks the address space destroying its pages, then
 *             destroys the configuration and frees its storage.
 *   shutdown  exit_mmap sets secure pages aside on the mm's deferred list
 *             (page-sized chunks of PFNs) instead of exporting them; when
 *             the VM is torn down (its CPUs gone, so destroy works) a thread
 *             destroys them, then the configuration.
 *   OOM       while a thread drains a deferred list it registers an OOM
 *             notifier (priority 70) that makes a failing allocation wait
 *             up to oom_wait_ms for the cleanup instead of killing, unless
 *             other notifiers already freed oom_enough_pages.
 * ASYNC, merged (6.0 + 6.2):
 *   PREPARE   destroys the CPUs, sets the config aside (DESTROY_SEC_CONF_
 *             FAST if the UV has it, else an ASCE copy), destroys the low
 *             clear_low bytes; small guests (segment ASCE) are refused.
 *   PERFORM   runs on a VMM thread (CPU time accounted to the VMM): walks
 *             the address space interruptibly, then disposes of the config;
 *             interrupted, it leaves the config on need_cleanup.
 *   DISABLE / VM teardown dispose of everything left.
 *   release   the mmu-notifier release at exit_mmap destroys the CPUs (and
 *             fast-destroys the config) so the teardown destroys pages.
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
	uintptr_t start, end;		/* the guest's user range */
	uint64_t n_pages_freed;		/* atomic */
	int oom_waiters;		/* atomic: allocations in our notifier */
	struct lpv_mutex progress_lock;	/* sleep only: the notifier's wait */
	struct lpv_cond progress;
	struct oom_notifier oom_nb;
};

#define KVM_OOM_NOTIFY_PRIORITY 70

const char *kvm_destroy_mode_name(enum kvm_destroy_mode mode)
{
	switch (mode) {
	case KVM_DESTROY_SYNC: return "sync";
	case KVM_DESTROY_LAZY: return "lazy";
	case KVM_DESTROY_ASYNC: return "async";
	}
	return "?";
}

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

unsigned int kvm_module_cleanups_running(struct kvm_module *mod)
{
	unsigned int n;

	lpv_mutex_lock(&mod->cleanup_lock);
	n = mod->cleanups;
	lpv_mutex_unlock(&mod->cleanup_lock);
	return n;
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
 * exit_mmap with LAZY teardown, one page table's secure pages at a time:
 * keep each page (an extra reference) and record its PFN in the first
 * chunk of the mm's deferred list, as many as fit under one hold of the
 * lock.  With no room, export the next page now and try to get a chunk for
 * the ones after it -- without sleeping, without the emergency reserve and
 * silently; a page being unmapped is never used as the chunk (it may be
 * shared).  (v2 did this per PTE; our hook gets a page table at once.)
 */
void kvm_pv_set_aside_pages(struct kvm_module *mod, struct mm *mm,
			    struct page *const *pages, size_t n)
{
	struct mm_context *mc = mm_context(mm);
	size_t i = 0, set = 0;

	while (i < n) {
		struct mm_deferred_chunk *chunk;
		struct page *cpage;
		size_t k = 0;

		lpv_mutex_lock(&mc->deferred_lock);
		chunk = mc->deferred_list;
		if (chunk) {
			k = MM_DEFERRED_CHUNK_MAX - chunk->count;
			if (k > n - i)
				k = n - i;
			for (size_t j = i; j < i + k; j++) {
				page_get(pages[j]);
				chunk->pfns[chunk->count++] =
					mm_page_to_pfn(mod->world, pages[j]);
			}
			/* Before the unlock: the thread may drain the chunk
			 * at once, and frees them as pending. */
			mm_page_set_use_bulk(mod->world, pages + i, k,
					     PAGE_USE_PENDING);
			mc->deferred_pages += k;
		}
		lpv_mutex_unlock(&mc->deferred_lock);
		i += k;
		set += k;
		if (i == n)
			break;

		if (kvm_uv_export_owned(mod, pages[i++]) == 0)
			kvm_stat_inc(mod, set_aside_exports);
		if (mm_page_alloc(mod->world, MM_GFP_NOMEMALLOC | MM_GFP_NOWARN,
				  mm_memcg(mm), &cpage))
			continue;	/* the next page tries again */
		chunk = mm_page_host(mod->world, cpage);
		chunk->count = 0;
		lpv_mutex_lock(&mc->deferred_lock);
		chunk->next = mc->deferred_list;
		mc->deferred_list = chunk;
		lpv_mutex_unlock(&mc->deferred_lock);
	}
	kvm_stat_add(mod, set_aside_pages, set);
}

/* ---- LAZY: the OOM notifier ---- */

/*
 * An allocation is about to OOM while this cleanup drains pages: wait a
 * little for it (instead of killing), unless enough was freed already.
 * The wait ends early when the cleanup reports progress.
 */
static int kvm_pv_oom_notify(void *ctx, unsigned long *freed)
{
	struct pv_deferred *priv = ctx;
	struct kvm_module *mod = priv->mod;
	uint64_t before, after, deadline;

	if (*freed >= mod->params.oom_enough_pages)
		return 0;
	before = atomic_load_acquire(&priv->n_pages_freed);
	deadline = lpv_now_ns() + mod->params.oom_wait_ms * 1000000ULL;
	atomic_add_relaxed(&priv->oom_waiters, 1);	/* frees come early */
	lpv_mutex_lock(&priv->progress_lock);
	while (atomic_load_acquire(&priv->n_pages_freed) == before &&
	       lpv_cond_wait_until(&priv->progress, &priv->progress_lock,
				   deadline))
		;
	lpv_mutex_unlock(&priv->progress_lock);
	atomic_sub_relaxed(&priv->oom_waiters, 1);
	after = atomic_load_acquire(&priv->n_pages_freed);
	*freed += after - before;
	kvm_stat_inc(mod, oom_notifier_waits);
	kvm_stat_add(mod, oom_notifier_freed, after - before);
	return 0;
}

static void kvm_pv_progress(struct pv_deferred *priv, uint64_t pages)
{
	atomic_add_relaxed(&priv->n_pages_freed, pages);
	lpv_mutex_lock(&priv->progress_lock);
	lpv_cond_broadcast(&priv->progress);
	lpv_mutex_unlock(&priv->progress_lock);
}

/* ---- LAZY: the cleanup thread ---- */

/*
 * Pages destroyed between two progress reports (and yields): a whole chunk,
 * v2's unit, and one host-view unprotect batch (at 64 pages a group, the
 * process_madvise of each batch cost ~50 ns more per page here).  A group
 * ends early when an allocation waits in our OOM notifier, so that the
 * waiter gets memory after one more destroy however slow destroys are --
 * v2 reported once per chunk, which can outlast the notifier's whole wait
 * (and then the OOM killer runs after all).
 */
#define KVM_DRAIN_GROUP MM_DEFERRED_CHUNK_MAX
_Static_assert(KVM_DRAIN_GROUP <= HW_UNPROTECT_BATCH,
	       "a drain group is one unprotect batch");

/* Destroy the set-aside pages of one chunk and free them and the chunk;
 * @priv (may be NULL) hears about the progress. */
static void kvm_pv_drain_chunk(struct kvm_module *mod, struct pv_deferred *priv,
			       struct mm_deferred_chunk *chunk)
{
	struct mm_world *world = mod->world;
	struct page *cpage = mm_pfn_to_page(world,
		hw_host_addr_to_pfn(mod->hw, chunk));

	for (uint32_t i = 0, n; i < chunk->count; i += n) {
		uint32_t max = chunk->count - i < KVM_DRAIN_GROUP ?
			       chunk->count - i : KVM_DRAIN_GROUP;
		struct hw_unprotect_batch batch;
		struct page *pages[KVM_DRAIN_GROUP];

		/* The config has no CPUs: destroy works.  A failure leaves
		 * PG_arch_1 and the mm leaks the frame instead of freeing. */
		hw_unprotect_batch_begin(mod->hw, &batch);
		for (n = 0; n < max;) {
			pages[n] = mm_pfn_to_page(world, chunk->pfns[i + n]);
			ignore_result(kvm_uv_destroy_owned(mod, pages[n]));
			n++;
			if (priv && atomic_load_relaxed(&priv->oom_waiters))
				break;
		}
		hw_unprotect_batch_end(&batch);	/* before they are freed */
		mm_page_put_bulk(world, pages, n);	/* our refs: frees them,
							 * pending -> free */
		if (priv)
			kvm_pv_progress(priv, n);
		sched_yield();
	}
	mm_page_put(world, cpage);
	kvm_stat_add(mod, deferred_pages_freed, chunk->count + 1ULL);
	if (priv)
		kvm_pv_progress(priv, 1);
}

/* Drain the mm's whole deferred list (the config owning it has no CPUs). */
static void kvm_pv_drain_deferred(struct kvm_module *mod, struct mm *mm,
				  struct pv_deferred *priv)
{
	struct mm_context *mc = mm_context(mm);

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
			return;
		kvm_pv_drain_chunk(mod, priv, chunk);
	}
}

static void *kvm_pv_destroy_vm_thread(void *arg)
{
	struct pv_deferred *priv = arg;
	struct kvm_module *mod = priv->mod;
	struct mm_context *mc = mm_context(priv->mm);
	bool notifier = false;
	uint16_t rc, rrc;

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
		/* Stop early once ours is the last user: exit_mmap will
		 * then export what is left, synchronously, in this thread. */
		ignore_result(kvm_uv_destroy_range_users(mod, priv->mm, priv->start,
							 priv->end, 1));
		if (mm_users(priv->mm) == 1) {
			mm_mmap_write_lock(priv->mm);
			WRITE_ONCE(mc->pv_sync_destroy, true);
			mm_mmap_write_unlock(priv->mm);
		}
		mmput(priv->mm);
	}
	ignore_result(kvm_pv_dispose_vm(mod, priv->mm, &priv->vm, &rc, &rrc));
	lpv_trace("PV DESTROY VM DEFERRED DONE: handle %llx rc %x rrc %x",
		  (unsigned long long)priv->vm.handle, rc, rrc);
	mmdrop(priv->mm);
	lpv_cond_deinit(&priv->progress);
	lpv_mutex_deinit(&priv->progress_lock);
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

/*
 * kvm_s390_destroy_lower_2g: destroy the guest's low clear_low bytes now,
 * synchronously -- the prefix pages (lowcore) of the next guest live there
 * and must be importable at once.  The CPUs are gone, so destroy works.
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
 * be set up (fenced, no memory, a small guest's table, no thread).
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
	if (!mod->params.lazy_destroy)
		goto sync;
	priv = calloc(1, sizeof(*priv));
	if (!priv)
		goto sync_count;
	priv->mod = mod;
	priv->mm = kvm->mm;
	kvm_guest_range(kvm, &priv->start, &priv->end);
	mmgrab(kvm->mm);
	if (mmget_not_zero(kvm->mm)) {
		priv->has_mm = true;
		ret = kvm_destroy_lower(kvm);
		if (ret || gmap_replace_asce(kvm->gmap, &old))
			goto undo;
	} else {
		bool empty;

		lpv_mutex_lock(&mc->deferred_lock);
		empty = !mc->deferred_list;
		lpv_mutex_unlock(&mc->deferred_lock);
		if (empty)
			goto undo;	/* nothing was set aside */
		/* Shutdown: the table leaves with the config (unlisted). */
		old = kvm->gmap->table;
		kvm->gmap->table = NULL;
	}
	priv->vm.old_table = old;
	lpv_mutex_init(&priv->progress_lock);
	lpv_cond_init(&priv->progress);
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
sync:
	/* Pages set aside at exit (a shutdown that could not defer): destroy
	 * them here, or they would stay pending forever. */
	kvm_pv_drain_deferred(mod, kvm->mm, NULL);
	return kvm_pv_deinit_vm(kvm, rc, rrc);
}

/* ---- ASYNC ---- */

/*
 * The mmu-notifier release: the last user of the mm is gone and exit_mmap
 * is about to unmap everything.  Destroy the CPUs so the teardown can
 * destroy pages instead of exporting them, and with DESTROY_SEC_CONF_FAST
 * end the configuration at once (its pages are then destroyed one by one
 * by the unmap; protected_count stays up until the VM teardown disposes of
 * the leftover, so the unmap still treats the mm as protected).  No lock:
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

	if (!kvm->pv.handle)
		return;
	if (kvm_pv_cpus_from_pv(kvm, &rc, &rrc))
		return;		/* pages will be exported */
	__atomic_store_n(&mm_context(mm)->pv_teardown, KVM_TEARDOWN_DESTROY,
			 __ATOMIC_RELEASE);
	if (!mod->has_fast)
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

int kvm_pv_mmu_notifier_register(struct kvm *kvm)
{
	int ret;

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
	if (!kvm->pv.handle || !mod->params.async_destroy ||
	    kvm->mode != KVM_DESTROY_ASYNC)
		return -EINVAL;
	/* If a CPU cannot be destroyed, destroying the VM would fail too. */
	ret = kvm_pv_cpus_from_pv(kvm, rc, rrc);
	if (ret)
		return ret;
	/* kvm_s390_pv_set_aside */
	if (kvm->set_aside)
		return -EINVAL;
	/* A segment-table ASCE cannot be replaced safely (2023 fix). */
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
		ret = gmap_replace_asce(kvm->gmap, &vm->old_table);
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
	uintptr_t start, end;
	int ret;

	lpv_mutex_lock(&kvm->lock);
	vm = kvm->set_aside;
	kvm->set_aside = NULL;
	if (vm)
		kvm_guest_range(kvm, &start, &end);
	lpv_mutex_unlock(&kvm->lock);
	if (!vm)
		return -EINVAL;
	ret = kvm_uv_destroy_range(mod, kvm->mm, start, end, true);
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
		uintptr_t start, end;

		kvm_guest_range(kvm, &start, &end);
		ignore_result(kvm_uv_destroy_range(mod, kvm->mm, start, end,
						   false));
		mmput(kvm->mm);
	}
	atomic_sub_relaxed(&mc->protected_count, 1);
	return first;
}
