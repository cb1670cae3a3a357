// SPDX-License-Identifier: MIT
/*
 * test_baselines.c - the synchronous and asynchronous reference modes do
 * the kernel's work in the kernel's order: sync walks before
 * DESTROY_SEC_CONF and exports at exit, sync-6.0 destroys the config
 * first and pages at exit after the release; every walk covers the whole
 * address space, one UVC per present page; DISABLE stops on a CPU that
 * cannot be destroyed.
 */
#include "kvm/fixture.h"

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define HIGH_GADDR (3 * GIB)
#define RW (MM_PROT_READ | MM_PROT_WRITE)

/*
 * A reboot's walk destroys every present page of the mm (another VMA's
 * never-secure pages included), in the mode's order: sync before
 * DESTROY_SEC_CONF (each destroy meets a secure page), sync-6.0 after it
 * (each meets a page the UV already cleaned).
 */
TEST_IMPL(kvm_sync_walks_whole_space_in_order)
{
	for (int m = 0; m < 2; m++) {
		struct kfix_opts o = {
			.guest_mem = 4 * GIB, .host_mem = 96 * MIB,
			.mode = m ? KVM_DESTROY_SYNC_60 : KVM_DESTROY_SYNC,
		};
		struct uv_stats us;
		uint64_t present;
		struct kfix f;

		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 300, 1, true);
		kfix_map_side(&f, 100);
		present = mm_rss(f.mm);
		ASSERT_OK(kfix_disable(&f));
		ASSERT_UEQ(kfix_kstats(&f).walk_pages, present);
		uv_stats_get(f.uv, &us);
		/* sync's destroys cleaned the pages; 6.0's found them clean */
		if (m == 0) {
			ASSERT_GE(us.destroys, 300);
			ASSERT_UEQ(us.conf_pages_cleaned, 0);
		} else {
			ASSERT_UEQ(us.destroys, 0);
			ASSERT_GE(us.conf_pages_cleaned, 300);
		}
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * Shutdown: before the series every present page is exported at exit
 * (one UVC each, secure or not); from 6.0 the release destroys the CPUs
 * and every present page is destroyed instead.
 */
TEST_IMPL(kvm_sync_exit_per_present_page)
{
	for (int m = 0; m < 2; m++) {
		struct kfix_opts o = {
			.guest_mem = 4 * GIB, .host_mem = 96 * MIB,
			.mode = m ? KVM_DESTROY_SYNC_60 : KVM_DESTROY_SYNC,
		};
		struct kvm_stats ks;
		uint64_t present;
		struct kfix f;

		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 300, 2, true);
		kfix_map_side(&f, 100);
		present = mm_rss(f.mm);
		kfix_shutdown(&f);
		ks = kfix_kstats(&f);
		if (m == 0) {
			ASSERT_UEQ(ks.exit_exports, present);
			ASSERT_UEQ(ks.mmu_releases, 0);
			ASSERT_UEQ(ks.destroys, 0);
		} else {
			ASSERT_UEQ(ks.mmu_releases, 1);
			ASSERT_UEQ(ks.destroys, present);
			ASSERT_UEQ(ks.exit_exports, 0);
		}
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * KVM_PV_DISABLE when a CPU cannot be destroyed: stop and report that
 * CPU's rc/rrc, in every mode (6.2's async DISABLE too); the config stays.
 */
TEST_IMPL(kvm_disable_stops_on_cpu_failure)
{
	for (int m = 0; m < KVM_DESTROY_NR_MODES; m++) {
		struct kfix_opts o = {
			.guest_mem = 4 * GIB, .host_mem = 96 * MIB,
			.mode = (enum kvm_destroy_mode)m,
			.inject = { { .cmd = UVC_CMD_DESTROY_SEC_CPU, .nth = 1,
				      .cc = 1, .rc = 0x0102, .rrc = 0x0007 } },
		};
		struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };
		struct mm_stats ms;
		struct kfix f;

		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 16, 3, true);
		ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EIO);
		ASSERT_XEQ(cmd.rc, 0x0102);
		ASSERT_XEQ(cmd.rrc, 0x0007);
		ASSERT_TRUE(kvm_is_protected(f.kvm));
		ASSERT_UEQ(kfix_kstats(&f).pv_disables, 0);
		ASSERT_UEQ(kfix_kstats(&f).deferred_starts + kfix_kstats(&f).async_prepares, 0);
		kfix_shutdown(&f);
		kvm_module_drain(f.mod);
		mm_stats_get(f.world, &ms);
		ASSERT_UEQ(ms.leaked[MM_LEAK_secure_at_free], 0);
		ASSERT_GT(kfix_fini(&f), 0);	/* the CPU's storage */
	}
	return 0;
}

/* With the CPUs gone and no running guest, DISABLE has nothing to do. */
TEST_IMPL(kvm_disable_needs_a_protected_guest)
{
	for (int m = 0; m < KVM_DESTROY_NR_MODES; m++) {
		struct kfix_opts o = { .mode = (enum kvm_destroy_mode)m };
		struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };
		struct kfix f;

		kfix_init(&f, &o);
		ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EINVAL);
		kfix_boot_protected(&f);
		ASSERT_OK(kfix_disable(&f));
		kvm_module_drain(f.mod);
		ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EINVAL);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}
