// SPDX-License-Identifier: MIT
/*
 * Tests of the destroy engine (issue 5): lazy destroy (v2: reboot thread,
 * shutdown set-aside list, OOM notifier, fences) and asynchronous cleanup
 * (6.2: PREPARE/PERFORM, mmu-notifier release, DESTROY_SEC_CONF_FAST, the
 * small-guest refusal), with races and injected failures.  Guests are 4 GiB
 * VMAs of which only a few MiB are touched, so range walks are real but
 * memory stays small.  Every test ends in kfix_fini(): invariants hold and
 * all background work has drained.
 */
#include "kvm/fixture.h"

#include <pthread.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define LOW_GADDR (4 * MIB)
#define HIGH_GADDR (3 * GIB)

static struct kfix_opts big(enum kvm_destroy_mode mode)
{
	return (struct kfix_opts){ .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
				   .mode = mode };
}

static int protected_count(struct kfix *f)
{
	return atomic_load_acquire(&mm_context(f->mm)->protected_count);
}

/* ---------------- lazy ---------------- */

TEST_IMPL(kvm_lazy_reboot_defers)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	uint16_t rc, rrc;
	struct kfix f;

	o.destroy_page_ns = 20000;	/* the thread lags behind the guest */
	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_LAZY);
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 32, 11, true);
	kfix_touch(&f, HIGH_GADDR, 256, 12, true);

	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_DISABLE, &rc, &rrc));
	ASSERT_XEQ(rc, UVC_RC_EXECUTED);
	ASSERT_EQ(rrc, KVM_PV_RRC_DEFERRED);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	ASSERT_UEQ(kfix_kstats(&f).deferred_starts, 1);
	/* (That the old config lives on until the thread destroys it is
	 * kvm_lazy_reboot_clears_low_synchronously's.) */

	/* The new guest boots at once in the same address space: a fresh
	 * top-level table, memory that reads as zeros everywhere. */
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 32, 0, false);
	kfix_touch(&f, HIGH_GADDR, 256, 0, false);
	kvm_module_drain(f.mod);
	ASSERT_EQ(protected_count(&f), 1);
	ASSERT_GE(kfix_kstats(&f).walk_pages, 1);
	ASSERT_OK(kfix_disable(&f));
	kvm_module_drain(f.mod);
	ASSERT_EQ(protected_count(&f), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

TEST_IMPL(kvm_lazy_reboot_twice_during_cleanup)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix f;

	o.destroy_page_ns = 50000;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 512, 21, true);
	ASSERT_OK(kfix_disable(&f));
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR + 512 * HW_PAGE_SIZE, 128, 22, true);
	ASSERT_OK(kfix_disable(&f));	/* the first cleanup still runs */
	ASSERT_UEQ(kfix_kstats(&f).deferred_starts, 2);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 640, 0, false);
	kvm_module_drain(f.mod);
	ASSERT_EQ(protected_count(&f), 1);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* The new guest touches an old page the cleanup has not reached: 0x3f,
 * the stale page is destroyed, imported fresh, and reads as zeros. */
TEST_IMPL(kvm_lazy_new_guest_meets_old_pages_0x3f)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix f;

	o.destroy_page_ns = 200000;	/* 512 pages: ~100 ms of walk */
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 512, 31, true);
	ASSERT_OK(kfix_disable(&f));
	kfix_boot_protected(&f);
	/* The walk goes upwards: the last page is reached last. */
	kfix_touch(&f, HIGH_GADDR + 511 * HW_PAGE_SIZE, 1, 0, false);
	ASSERT_GE(kfix_kstats(&f).pgm_3f, 1);
	kvm_module_drain(f.mod);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Shutdown: exit_mmap sets secure pages aside (still charged) instead of
 * exporting them; the thread destroys them after the VM is gone. */
TEST_IMPL(kvm_lazy_shutdown_sets_aside)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kvm_stats ks;
	struct mm_stats ms;
	struct kfix f;

	o.destroy_page_ns = 200000;	/* ~1000 pages: ~200 ms of cleanup */
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 1000, 41, true);
	kfix_shutdown(&f);		/* returns before the cleanup */
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.exit_exports, 0);
	/* A page that finds no room (first page, full chunk) is exported and
	 * a new chunk is made: 1006 secure pages need two chunks. */
	ASSERT_UEQ(ks.set_aside_pages + ks.set_aside_exports,
		   1000 + KFIX_IMAGE_PAGES + 2);
	ASSERT_UEQ(ks.set_aside_exports, 2);
	ASSERT_UEQ(ks.deferred_starts, 1);
	mm_stats_get(f.world, &ms);
	/* Still charged to the VMM's memcg until actually freed. */
	ASSERT_GT(memcg_usage(f.memcg), 0);
	ASSERT_GT(ms.use[PAGE_USE_PENDING] + ks.deferred_pages_freed, 0);
	kvm_module_drain(f.mod);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.use[PAGE_USE_PENDING], 0);
	ASSERT_UEQ(memcg_usage(f.memcg), 0);
	ks = kfix_kstats(&f);
	/* every set-aside page, plus the chunk pages themselves */
	ASSERT_UEQ(ks.deferred_pages_freed, ks.set_aside_pages + ks.set_aside_exports);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Shut down while a reboot's cleanup still holds the address space. */
TEST_IMPL(kvm_lazy_shutdown_during_reboot_cleanup)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix f;

	o.destroy_page_ns = 100000;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 512, 51, true);
	ASSERT_OK(kfix_disable(&f));
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR + 600 * HW_PAGE_SIZE, 64, 52, true);
	kfix_shutdown(&f);
	kvm_module_drain(f.mod);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

TEST_IMPL(kvm_lazy_fence_falls_back_to_sync)
{
	struct kvm_params params;
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	uint16_t rc, rrc;
	struct kfix f;

	ASSERT_OK(kvm_params_init(&params));
	params.lazy_destroy = 0;
	o.params = &params;
	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_SYNC);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 16, 61, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_DISABLE, &rc, &rrc));
	ASSERT_NE(rrc, KVM_PV_RRC_DEFERRED);
	ASSERT_UEQ(kfix_kstats(&f).deferred_starts, 0);
	ASSERT_UEQ(kfix_kstats(&f).pv_disables, 1);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 16, 62, true);
	kfix_shutdown(&f);
	ASSERT_UEQ(kfix_kstats(&f).set_aside_pages, 0);
	ASSERT_GT(kfix_kstats(&f).exit_exports, 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Failures in the background path: leaks counted, nothing hangs. */
TEST_IMPL(kvm_lazy_background_failures_leak)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct mm_stats ms;
	struct kfix f;

	o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_DESTR_SEC_STOR,
					  .nth = 40, .cc = 1, .rc = 0x0102 };
	o.inject[1] = (struct uv_inject){ .cmd = UVC_CMD_DESTROY_SEC_CONF,
					  .nth = 1, .cc = 1, .rc = 0x0101 };
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 128, 81, true);
	ASSERT_OK(kfix_disable(&f));
	kvm_module_drain(f.mod);
	mm_stats_get(f.world, &ms);
	ASSERT_GT(ms.leaked[MM_LEAK_conf_destroy_failed], 0);
	ASSERT_UEQ(kfix_kstats(&f).leaked_asce, 1);
	/* The leaked config still counts: it is alive in the UV. */
	ASSERT_EQ(protected_count(&f), 1);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 128, 0, false);
	ASSERT_OK(mm_check(f.world));
	ASSERT_OK(uv_check(f.uv));
	ASSERT_GT(kfix_fini(&f), 0);
	return 0;
}

/*
 * "Shut down A, start B at once" with memory only for one of them and no
 * OOM notifier: A's pages are still being cleaned (0.5 ms a page, ~4.5 s
 * in all) when B faults its memory in, and the OOM path kills.  (The
 * notifier's own behaviour is tested, interleaving driven, in
 * test_lazy_v2.c.)
 */
TEST_IMPL(kvm_lazy_oom_without_notifier_kills)
{
	struct kvm_params params;
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix_hog h = { .pages = 9000 };
	struct mm_stats ms;
	struct task *b;
	pthread_t t;
	struct kfix f;

	ASSERT_OK(kvm_params_init(&params));
	params.oom_notifier = 0;
	o.params = &params;
	o.host_mem = 64 * MIB;		/* 16384 frames */
	o.destroy_page_ns = 500000;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 9000, 91, true);
	kfix_shutdown(&f);
	ASSERT_OK(task_create(f.world, f.shell, f.memcg, 0, &b));
	h.f = &f;
	h.task = b;
	ASSERT_OK(pthread_create(&t, NULL, kfix_hog_thread, &h));
	ASSERT_OK(pthread_join(t, NULL));
	mm_stats_get(f.world, &ms);
	ASSERT_GT(ms.oom_kills, 0);
	ASSERT_UEQ(kfix_kstats(&f).oom_notifier_waits, 0);
	ASSERT_OK(task_kill(b));		/* (a no-op if the OOM killer won) */
	ASSERT_OK(task_wait(b, NULL));
	kvm_module_drain(f.mod);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* ---------------- async ---------------- */

struct perform_arg {
	struct kfix *f;
	int ret;
	uint16_t rc, rrc;
	bool attach;
};

static void *perform_thread(void *a)
{
	struct perform_arg *p = a;

	if (p->attach && task_thread_enter(p->f->vmm)) {
		p->ret = -ESRCH;
		return NULL;
	}
	p->ret = kfix_pv_cmd(p->f, KVM_PV_ASYNC_CLEANUP_PERFORM, &p->rc, &p->rrc);
	if (p->attach)
		task_thread_leave(p->f->vmm);
	return NULL;
}

TEST_IMPL(kvm_async_prepare_perform)
{
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct perform_arg p = { 0 };
	uint16_t rc, rrc;
	struct kfix f;

	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_ASYNC);
	ASSERT_TRUE(kvm_cap_protected_async_disable(f.mod));
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 32, 111, true);
	kfix_touch(&f, HIGH_GADDR, 256, 112, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, &rc, &rrc));
	ASSERT_XEQ(rc, UVC_RC_EXECUTED);
	ASSERT_EQ(rrc, KVM_PV_RRC_DEFERRED);
	ASSERT_TRUE(kvm_pv_has_set_aside(f.kvm));
	ASSERT_UEQ(kfix_kstats(&f).fast_destroys, 1);	/* the UV has it */
	kfix_boot_protected(&f);
	p.f = &f;
	perform_thread(&p);
	ASSERT_OK(p.ret);
	ASSERT_FALSE(kvm_pv_has_set_aside(f.kvm));
	ASSERT_UEQ(kfix_kstats(&f).async_performs, 1);
	ASSERT_EQ(protected_count(&f), 1);
	kfix_touch(&f, LOW_GADDR, 32, 0, false);
	kfix_touch(&f, HIGH_GADDR, 256, 0, false);
	/* Nothing set aside: PERFORM has nothing to do. */
	ASSERT_ERR(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PERFORM, NULL, NULL), EINVAL);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_EQ(protected_count(&f), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

TEST_IMPL(kvm_async_prepare_again_after_perform_started)
{
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct perform_arg p = { 0 };
	struct kfix f;
	pthread_t t;

	o.destroy_page_ns = 100000;
	o.no_fast = true;		/* the slow path: an ASCE copy */
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 512, 121, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL));
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 16, 122, true);
	p.f = &f;
	ASSERT_OK(pthread_create(&t, NULL, perform_thread, &p));
	while (kvm_pv_has_set_aside(f.kvm))
		sched_yield();	/* PERFORM has taken it and walks */
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL));
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_OK(p.ret);
	kfix_boot_protected(&f);
	/* One set aside at a time: another PREPARE is refused (and leaves
	 * the VM without CPUs, as in Linux); DISABLE cleans everything. */
	ASSERT_ERR(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL), EINVAL);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_EQ(protected_count(&f), 0);
	/* PERFORM disposed of the first; DISABLE of the second. */
	ASSERT_UEQ(kfix_kstats(&f).leftovers_disposed, 2);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

TEST_IMPL(kvm_async_small_guest_refused)
{
	struct kfix_opts o = { .mode = KVM_DESTROY_ASYNC };
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 16, 131, true);
	ASSERT_ERR(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL), EINVAL);
	ASSERT_OK(kfix_disable(&f));	/* the fallback */
	ASSERT_EQ(protected_count(&f), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* A fatal signal stops PERFORM; the leftover is cleaned at VM teardown. */
TEST_IMPL(kvm_async_perform_killed_leaves_leftover)
{
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct perform_arg p = { .attach = true };
	struct kfix f;
	pthread_t t;
	int code;

	o.destroy_page_ns = 300000;	/* 2000 pages: ~0.6 s of walk */
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 2000, 141, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL));
	p.f = &f;
	ASSERT_OK(pthread_create(&t, NULL, perform_thread, &p));
	while (kvm_pv_has_set_aside(f.kvm) || kfix_kstats(&f).walk_pages < 2 * 32)
		sched_yield();
	mmput(f.mm);
	f.mm = NULL;
	ASSERT_OK(task_kill(f.vmm));
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_OK(p.ret);
	ASSERT_EQ(p.rrc, KVM_PV_RRC_DEFERRED);
	ASSERT_UEQ(kfix_kstats(&f).async_interrupted, 1);
	/* The last thread leaving ran the exit: the VM teardown disposed of
	 * the leftover. */
	ASSERT_OK(task_wait(f.vmm, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	ASSERT_TRUE(f.vm_gone);
	f.vmm = NULL;
	ASSERT_UEQ(kfix_kstats(&f).leftovers_disposed, 1);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Shutdown: the release notifier destroys the CPUs and fast-destroys the
 * config, so exit_mmap destroys pages instead of exporting them. */
TEST_IMPL(kvm_async_shutdown_release_destroys)
{
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct kvm_stats ks;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 256, 151, true);
	kfix_shutdown(&f);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.exit_exports, 0);
	ASSERT_UEQ(ks.fast_destroys, 1);
	ASSERT_GE(ks.destroys, 256);
	ASSERT_UEQ(ks.leftovers_disposed, 1);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Without DESTROY_SEC_CONF_FAST: PREPARE copies the ASCE, PERFORM
 * destroys the old config; at shutdown pages are still destroyed. */
TEST_IMPL(kvm_async_old_firmware_replaces_asce)
{
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct perform_arg p = { 0 };
	struct kvm_stats ks;
	struct kfix f;

	o.no_fast = true;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 64, 161, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL));
	kfix_boot_protected(&f);	/* CREATE accepts the new table */
	p.f = &f;
	perform_thread(&p);
	ASSERT_OK(p.ret);
	kfix_touch(&f, HIGH_GADDR, 64, 162, true);
	kfix_shutdown(&f);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.fast_destroys, 0);
	ASSERT_UEQ(ks.exit_exports, 0);
	ASSERT_GE(ks.destroys, 64);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* A 6.2 kernel with async_destroy=0: KVM_PV_DISABLE, 6.0's teardown. */
TEST_IMPL(kvm_async_fence_falls_back_to_sync_60)
{
	struct kvm_params params;
	struct kfix_opts o = big(KVM_DESTROY_ASYNC);
	struct kfix f;

	ASSERT_OK(kvm_params_init(&params));
	params.async_destroy = 0;
	o.params = &params;
	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_SYNC_60);
	ASSERT_FALSE(kvm_cap_protected_async_disable(f.mod));
	kfix_boot_protected(&f);
	ASSERT_ERR(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PREPARE, NULL, NULL), EINVAL);
	ASSERT_ERR(kfix_pv_cmd(&f, KVM_PV_ASYNC_CLEANUP_PERFORM, NULL, NULL), EINVAL);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}
