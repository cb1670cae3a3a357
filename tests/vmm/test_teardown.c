// SPDX-License-Identifier: MIT
/*
 * test_teardown.c - whole VMM lives in the deferred teardown modes: lazy
 * (KVM's cleanup threads, the set-aside list at exit) and async (PREPARE +
 * the VMM's PERFORM thread at reboot, the CLONE_VM helper at shutdown;
 * tests/vmm/test_async_teardown.c looks at the helper closely),
 * with a 3 GiB guest that writes above 2 GiB -- where the background
 * cleanup, not the synchronous low clear, has to destroy the old pages --
 * and checks each boot reads cleared memory.  Every scenario ends with the
 * invariants and every frame back.
 */
#include "vmm_test.h"

#include <stdlib.h>
#include <unistd.h>

#define GIB (1ULL << 30)
/* 16 MiB at 2.5 GiB, two rounds: the pattern of the previous boot must be
 * gone when the next one starts, whoever cleaned it. */
#define PROGRAM "touch:at=2560,mib=16,rounds=2"

static struct kvm_stats kstats(struct vt *t)
{
	struct kvm_stats st;

	kvm_stats_get(t->env->kvm, &st);
	return st;
}

static void run_mode(struct vt *t, enum vmm_destroy_mode mode,
		     struct vmm_result *res, struct vmm **out)
{
	t->cfg.destroy = mode;
	t->cfg.max_reboots = 2;
	ASSERT_OK(vmm_create(t->env, &t->cfg, out));
	ASSERT_OK(vmm_wait(*out, res));
	if (res->exit_code || res->error)
		fprintf(stderr, "# VMM: exit %d error %d: %s\n", res->exit_code,
			res->error, res->message);
	ASSERT_EQ(res->exit_code, 0);
	ASSERT_EQ(res->error, 0);
	ASSERT_EQ(res->boots, 3);
	ASSERT_UEQ(res->leaked_frames, 0);
}

TEST_IMPL(vmm_lazy_reboots_and_shutdown)
{
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	vt_setup_host(&t, 6 * GIB, NULL, "zero", PROGRAM, 64 * 1024, 3072, 1);
	run_mode(&t, VMM_DESTROY_LAZY, &res, &vmm);
	ks = kstats(&t);
	/*
	 * Two reboots and the shutdown: three cleanup threads -- unless the
	 * second reboot's thread was the address space's last user: then
	 * its exit_mmap exported the pages (pv_sync_destroy), nothing was
	 * set aside, and the shutdown had nothing to defer (a fallback).
	 */
	ASSERT_GE(ks.deferred_starts, 2);
	ASSERT_UEQ(ks.deferred_starts + ks.sync_fallbacks, 3);
	/*
	 * Each boot's 4096 pages were destroyed or exported by some path:
	 * a reboot's walk, the next guest's 0x3f, the set-aside list at
	 * exit -- or, when a reboot's cleanup still held the address space
	 * as the VMM exited, the shutdown's own walk or the final exit_mmap
	 * in that thread (v2: pv_sync_destroy once it is the last user).
	 */
	ASSERT_GE(ks.destroys + ks.exports, 3 * 4096);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 2);
	ASSERT_EQ(vt_count(vmm, VMM_EV_NOTE), 0);
	vmm_destroy(vmm);
	kvm_module_drain(t.env->kvm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

TEST_IMPL(vmm_async_reboots_and_shutdown)
{
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	vt_setup_host(&t, 6 * GIB, NULL, "zero", PROGRAM, 64 * 1024, 3072, 1);
	run_mode(&t, VMM_DESTROY_ASYNC, &res, &vmm);
	ks = kstats(&t);
	/* Two PREPAREs -- unless the second came before the first PERFORM
	 * had taken its set-aside VM (a loaded machine): KVM refuses it and
	 * the VMM runs DISABLE instead, as QEMU does. */
	ASSERT_GE(ks.async_prepares, 1);
	ASSERT_LE(ks.async_prepares, 2);
	/* each PERFORM finished, or was interrupted and finished by the VM
	 * teardown, or its thread never ran before the VMM began to exit
	 * (QEMU's thread dies with QEMU: no event): either way every old
	 * config set aside was disposed of */
	ASSERT_LE(vt_count(vmm, VMM_EV_CLEANUP_DONE), (size_t)ks.async_prepares);
	ASSERT_GE(ks.leftovers_disposed, ks.async_prepares);
	/* Each PREPARE fast-destroyed its config.  The shutdown ran in the
	 * VMM's exit (its VM reference was the last): the running config went
	 * with DESTROY_SEC_CONF, the mmu-notifier release never fired (no
	 * FAST of its own), and the helper's exit_mmap found nothing secure
	 * to export. */
	ASSERT_UEQ(ks.exit_exports, 0);
	ASSERT_UEQ(ks.fast_destroys, ks.async_prepares);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* Guests of 2 GiB or less cannot be set aside: DISABLE instead. */
TEST_IMPL(vmm_async_small_guest_falls_back)
{
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, "zero", "touch:mib=8,rounds=1", 64 * 1024, 64, 1);
	run_mode(&t, VMM_DESTROY_ASYNC, &res, &vmm);
	ks = kstats(&t);
	ASSERT_UEQ(ks.async_prepares, 0);
	ASSERT_EQ(vt_count(vmm, VMM_EV_CLEANUP_DONE), 0);
	ASSERT_UEQ(ks.exit_exports, 0);	/* the helper still destroys */
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* The fences: lazy_destroy=0 / async_destroy=0 turn both into sync. */
TEST_IMPL(vmm_fenced_modes_run_sync)
{
	struct kvm_params kp;
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	ASSERT_OK(kvm_params_init(&kp));
	kp.lazy_destroy = 0;
	kp.async_destroy = 0;
	for (int m = VMM_DESTROY_LAZY; m <= VMM_DESTROY_ASYNC; m++) {
		vt_setup_host(&t, 6 * GIB, &kp, "zero", PROGRAM, 64 * 1024,
			      3072, 1);
		run_mode(&t, (enum vmm_destroy_mode)m, &res, &vmm);
		ks = kstats(&t);
		ASSERT_EQ(vt_count(vmm, VMM_EV_NOTE), 1);	/* "fenced" */
		ASSERT_UEQ(ks.deferred_starts + ks.async_prepares, 0);
		if (m == VMM_DESTROY_LAZY) {
			/* v2's fallback: before the series, export at exit */
			ASSERT_GT(ks.exit_exports, 0);
			ASSERT_UEQ(ks.mmu_releases, 0);
		} else {
			/* a 6.2 kernel without async_destroy: 6.0's teardown,
			 * the release, then destroy at exit */
			ASSERT_UEQ(ks.mmu_releases, 1);
			ASSERT_UEQ(ks.exit_exports, 0);
		}
		vmm_destroy(vmm);
		vt_check_quiescent(&t);
		vt_teardown(&t);
	}
	return 0;
}

/* A kill while a PERFORM walks: it stops, the VM teardown finishes. */
TEST_IMPL(vmm_async_kill_during_cleanup)
{
	char path[] = "/tmp/lazypv-profile-XXXXXX";
	struct vmm_result res;
	struct vmm *vmm;
	struct vt t;
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_GE(fd, 0);
	f = fdopen(fd, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "base = zero\ncost.destroy_page = 300us\n");
	fclose(f);
	vt_setup_host(&t, 6 * GIB, NULL, path, "touch:at=2560,mib=32,rounds=1,then=reboot",
		      64 * 1024, 3072, 1);
	unlink(path);
	t.cfg.destroy = VMM_DESTROY_ASYNC;
	t.cfg.max_reboots = 1;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	/* The second boot runs while the first's PERFORM walks ~8k pages. */
	ASSERT_OK(vmm_wait_booted(vmm, 1));
	ASSERT_OK(vmm_kill(vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_TRUE(res.killed);
	ASSERT_UEQ(res.leaked_frames, 0);
	/* The PERFORM thread reports an interrupted cleanup -- or, started
	 * only after the kill (slow builds), finds the VMM exiting and never
	 * runs; either way the killed VMM's exit (its VM reference is the
	 * last; the helper holds the mm) disposed of the set-aside config
	 * and destroyed the running one with DESTROY_SEC_CONF: the
	 * mmu-notifier release, which would have fast-destroyed it, never
	 * fired. */
	ASSERT_LE(vt_count(vmm, VMM_EV_CLEANUP_DONE), 1);
	ASSERT_UEQ(kstats(&t).async_prepares, 1);
	ASSERT_UEQ(kstats(&t).leftovers_disposed, 1);
	ASSERT_UEQ(kstats(&t).fast_destroys, 1);	/* PREPARE's */
	ASSERT_EQ(vt_count(vmm, VMM_EV_HELPER_EXIT), 1);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}
