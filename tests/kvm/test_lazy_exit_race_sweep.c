// SPDX-License-Identifier: MIT
/*
 * test_lazy_exit_race.c - lazy: the VMM exits while a reboot's cleanup
 * thread still holds the old config (a boot failed right after DISABLE,
 * found by the failure-point sweep).  The mm is protected until that
 * config is destroyed, so the final exit_mmap sets every present page
 * aside; no VM close starts a thread for them (the VM has no config).
 * Whichever runs that exit_mmap -- the VMM, or the cleanup thread whose
 * mmput turned out to be the last -- the pages must be drained: nothing
 * stays pending, the mm is never freed with a deferred list.  The test
 * hooks hold the thread at the two points where the VMM's exit matters.
 */
#include "fixture.h"

#include "lib/lib.h"

struct gate {
	int arrived, open;	/* atomic */
};

static struct gate gate_mmput, gate_dispose;

static void gate_pass(struct gate *g)
{
	atomic_store_release(&g->arrived, 1);
	while (!atomic_load_acquire(&g->open))
		lpv_sleep_ns(100000);
}

static void gate_wait_arrival(struct gate *g)
{
	while (!atomic_load_acquire(&g->arrived))
		lpv_sleep_ns(100000);
}

static void hook_mmput(void *ctx, bool after)
{
	(void)ctx;
	if (!after)
		gate_pass(&gate_mmput);
}

static void hook_dispose(void *ctx)
{
	(void)ctx;
	gate_pass(&gate_dispose);
}

static void exit_race(bool at_mmput)
{
	struct kfix_opts o = { .mode = KVM_DESTROY_LAZY };
	struct kvm_test_hooks h = { 0 };
	struct kfix_pattern p = { .gaddr = 0x200000, .pages = 32, .seed = 5,
				  .write = true };
	struct gate *g = at_mmput ? &gate_mmput : &gate_dispose;
	struct kvm_run run;
	struct mm_stats ms;
	struct kfix f;

	memset(&gate_mmput, 0, sizeof(gate_mmput));
	memset(&gate_dispose, 0, sizeof(gate_dispose));
	gate_mmput.open = !at_mmput;
	gate_dispose.open = at_mmput;
	kfix_init(&f, &o);
	h.mmput_gate = hook_mmput;
	h.before_dispose = hook_dispose;
	kvm_module_set_test_hooks(f.mod, &h);
	kfix_boot_protected(&f);
	ASSERT_OK(kfix_run(&f, 0, kfix_pattern_guest, &p, &run));
	ASSERT_OK(p.result);
	ASSERT_OK(kfix_disable(&f));	/* the thread takes the old config */
	gate_wait_arrival(g);
	/*
	 * The VMM exits now: at the mmput gate the thread still holds the
	 * address space, so its own mmput will run exit_mmap; at the
	 * dispose gate it has let go, so the VMM's exit_mm does.  Either
	 * way the config is still alive: the pages are set aside.
	 */
	kfix_shutdown(&f);
	atomic_store_release(&g->open, 1);
	kvm_module_drain(f.mod);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.use[PAGE_USE_PENDING], 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
}

TEST_IMPL(kvm_lazy_exit_during_dispose_drains)
{
	exit_race(false);
	return 0;
}

TEST_IMPL(kvm_lazy_exit_before_thread_mmput_drains)
{
	exit_race(true);
	return 0;
}
