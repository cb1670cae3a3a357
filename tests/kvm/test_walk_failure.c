// SPDX-License-Identifier: MIT
/*
 * test_walk_failure.c - a page whose destroy the UV refuses during a range
 * walk (s390_uv_destroy_range) keeps PG_arch_1, left, as in Linux, to its
 * next user; when the mm is no longer protected and the page is unmapped
 * there is none, so the unmap exports it: it must not reach the free
 * list's safety net (secure_at_free).  Found by the failure-point sweep
 * (async: the walk after DESTROY_SEC_CONF at the VMM's exit, then the
 * helper's exit_mmap).
 */
#include "fixture.h"

static void touch16(struct kfix *f)
{
	struct kfix_pattern p = { .gaddr = 0x200000, .pages = 16, .seed = 7,
				  .write = true };
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, 0, kfix_pattern_guest, &p, &run));
	ASSERT_OK(p.result);
}

static void walk_failure(enum kvm_destroy_mode mode)
{
	struct kfix_opts o = { .mode = mode };
	struct mm_stats ms;
	struct kfix f;

	/* The first destroy-page call of the life is the DISABLE's walk
	 * (both modes destroy the config first, then walk). */
	o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_DESTR_SEC_STOR,
					  .nth = 1, .cc = 1, .rc = 0x01ff };
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	touch16(&f);
	ASSERT_OK(kfix_disable(&f));
	/* No protected guest any more: exit_mmap frees the pages as they
	 * are, so none may still be flagged "may be secure". */
	kfix_shutdown(&f);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.secure_at_free, 0);
	ASSERT_UEQ(ms.leaked[MM_LEAK_secure_at_free], 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
}

TEST_IMPL(kvm_walk_destroy_failure_exports_sync_60)
{
	walk_failure(KVM_DESTROY_SYNC_60);
	return 0;
}

TEST_IMPL(kvm_walk_destroy_failure_exports_async)
{
	walk_failure(KVM_DESTROY_ASYNC);
	return 0;
}
