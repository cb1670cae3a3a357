// SPDX-License-Identifier: MIT
/*
 * Storage leaked because DESTROY_SEC_CONF failed (the UV may still own it)
 * stays charged to the VMM's memcg, as in Linux: after the VMM is gone the
 * memcg's usage is exactly the leaked frames.  Ends in kfix_fini().
 */
#include "kvm/fixture.h"

TEST_IMPL(kvm_conf_destroy_failure_stays_charged)
{
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_DESTROY_SEC_CONF, .nth = 1,
			      .cc = 1, .rc = 0x0101 } },
	};
	struct memcg_stats ms;
	struct kvm_stats ks;
	uint64_t usage0;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	usage0 = memcg_usage(f.memcg);
	ASSERT_ERR(kfix_disable(&f), EIO);
	kvm_stats_get(f.mod, &ks);
	ASSERT_GT(ks.leaked_storage, 0);	/* base + variable storage */
	memcg_stats_get(f.memcg, &ms);
	ASSERT_UEQ(ms.leaked, ks.leaked_storage);
	ASSERT_GT(ms.usage, ms.leaked);		/* guest RAM too, still */
	ASSERT_LE(ms.usage, usage0);		/* CPU storage freed */
	/* A small guest keeps using the marked table; the gmap leaks it
	 * when the VM goes. */
	kfix_shutdown(&f);
	memcg_stats_get(f.memcg, &ms);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ms.usage, ks.leaked_storage);
	ASSERT_UEQ(ms.leaked, ks.leaked_storage);
	ASSERT_UEQ(kfix_fini(&f), ks.leaked_storage);
	return 0;
}
