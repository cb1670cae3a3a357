// SPDX-License-Identifier: MIT
/*
 * test_lazy_exit_race.c - a lazy reboot's cleanup thread and the VMM's
 * exit race for the mm's last reference.
 *
 * The thread checks mm_users once, after its walk: if it is not the last
 * user it leaves pv_sync_destroy alone and drops its reference.  When the
 * VMM exits between that check and the thread's own mmput -- or right
 * after it, before the thread disposes of the config -- the final
 * exit_mmap runs on a still-protected mm and sets every present page
 * aside, while the VM (already without a config) has nothing left to hand
 * to a thread.  Found by `lazypv soak` (seed 3: create_cpu and
 * destroy_cpu failures, lazy guests whose boot fails right after a
 * reboot).  Both orders are forced here through the mmput_gate hook: the
 * frames must come back all the same.
 */
#include "kvm/fixture.h"

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define HIGH_GADDR (3 * GIB)

struct mmput_gate {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	bool waiting[2];	/* the thread waits before / after its mmput */
	bool open[2];
};

static void gate_hook(void *ctx, bool after)
{
	struct mmput_gate *g = ctx;

	lpv_mutex_lock(&g->lock);
	g->waiting[after] = true;
	lpv_cond_broadcast(&g->cond);
	while (!g->open[after])
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void gate_wait(struct mmput_gate *g, bool after)
{
	lpv_mutex_lock(&g->lock);
	while (!g->waiting[after])
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void gate_open(struct mmput_gate *g, bool after)
{
	lpv_mutex_lock(&g->lock);
	g->open[after] = true;
	lpv_cond_broadcast(&g->cond);
	lpv_mutex_unlock(&g->lock);
}

/* @vmm_last: the VMM's exit drops the last reference (after the thread's
 * mmput); otherwise the thread's mmput is the last. */
static void lazy_exit_race(bool vmm_last)
{
	struct kfix_opts o = { .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
			       .mode = KVM_DESTROY_LAZY };
	struct mmput_gate g = { 0 };
	struct kvm_test_hooks h = { .mmput_gate = gate_hook, .ctx = &g };
	struct mm_stats st;
	struct kfix f;

	lpv_mutex_init(&g.lock);
	lpv_cond_init(&g.cond);
	kfix_init(&f, &o);
	kvm_module_set_test_hooks(f.mod, &h);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 300, 77, true);
	ASSERT_OK(kfix_disable(&f));	/* the reboot: a thread, with the mm */
	gate_wait(&g, false);		/* walked; saw the VMM still there */
	if (vmm_last) {
		gate_open(&g, false);
		gate_wait(&g, true);	/* its reference is gone, the
					 * config not yet disposed of */
		kfix_shutdown(&f);	/* exit_mmap here, then the VM */
		gate_open(&g, true);
	} else {
		kfix_shutdown(&f);	/* the VM goes; the mm stays */
		gate_open(&g, false);	/* exit_mmap in the thread */
		gate_open(&g, true);
	}
	kvm_module_drain(f.mod);
	mm_stats_get(f.world, &st);
	ASSERT_UEQ(st.use[PAGE_USE_PENDING], 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	lpv_cond_deinit(&g.cond);
	lpv_mutex_deinit(&g.lock);
}

TEST_IMPL(kvm_lazy_thread_last_mmput_after_vm_gone)
{
	lazy_exit_race(false);
	return 0;
}

TEST_IMPL(kvm_lazy_vmm_last_mmput_while_thread_disposes)
{
	lazy_exit_race(true);
	return 0;
}
