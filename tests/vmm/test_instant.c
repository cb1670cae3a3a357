// SPDX-License-Identifier: MIT
/*
 * test_instant.c - whole VMM lives in lazypv's own teardown, instant: a
 * 3 GiB guest writes above 2 GiB, reboots twice and powers off; each boot
 * must read cleared memory (the touch program verifies), the workers do
 * every old page, and a VMM killed while they run leaves nothing behind.
 * Every scenario ends with the invariants and every frame back.
 */
#include "vmm_test.h"

#include <stdlib.h>
#include <unistd.h>

#define GIB (1ULL << 30)
#define PROGRAM "touch:at=2560,mib=16,rounds=2"

static struct kvm_stats kstats(struct vt *t)
{
	struct kvm_stats st;

	kvm_stats_get(host_kvm(t->host), &st);
	return st;
}

TEST_IMPL(vmm_instant_reboots_and_shutdown)
{
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	vt_setup_host(&t, 6 * GIB, NULL, "zero", PROGRAM, 64 * 1024, 3072, 1);
	t.cfg.destroy = VMM_DESTROY_INSTANT;
	t.cfg.max_reboots = 2;
	ASSERT_OK(vmm_create(host_vmm_env(t.host), &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.error, 0);
	ASSERT_EQ(res.boots, 3);
	ASSERT_UEQ(res.leaked_frames, 0);
	/* The frames are back; the last worker may still be disposing. */
	host_drain(t.host);
	ks = kstats(&t);
	/* two reboots and the close: three jobs, every config disposed of */
	ASSERT_UEQ(ks.instant_jobs, 3);
	ASSERT_UEQ(ks.sync_fallbacks, 0);
	ASSERT_UEQ(ks.leftovers_disposed, 3);
	ASSERT_UEQ(ks.exit_exports, 0);
	/* each boot's 4096 pages: destroyed by a worker or on demand */
	ASSERT_GE(ks.instant_pages + ks.instant_on_demand, 3 * 4096);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 2);
	ASSERT_EQ(vt_count(vmm, VMM_EV_NOTE), 0);
	ASSERT_UEQ(kvm_instant_pending_bytes(host_kvm(t.host)), 0);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* Killed while the first boot's workers still walk (slow destroys). */
TEST_IMPL(vmm_instant_kill_during_cleanup)
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
	vt_setup_host(&t, 6 * GIB, NULL, path,
		      "touch:at=2560,mib=16,rounds=1,then=reboot",
		      64 * 1024, 3072, 1);
	unlink(path);
	t.cfg.destroy = VMM_DESTROY_INSTANT;
	t.cfg.max_reboots = 1;
	ASSERT_OK(vmm_create(host_vmm_env(t.host), &t.cfg, &vmm));
	ASSERT_OK(vmm_wait_booted(vmm, 1));
	ASSERT_OK(vmm_kill(vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_TRUE(res.killed);
	ASSERT_UEQ(res.leaked_frames, 0);
	host_drain(t.host);
	ASSERT_UEQ(kstats(&t).instant_jobs, 2);
	ASSERT_UEQ(kstats(&t).leftovers_disposed, 2);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}
