// SPDX-License-Identifier: MIT
/*
 * test_sweep.c - the bounded failure-point sweep inside `make test`: per
 * teardown mode, the first and the last point of every UVC command and
 * allocation kind of a small VMM life fail in turn (tests/sweep/sweep.h);
 * every run must end with the invariants holding, its leaks explained by
 * the failure, and no hang.  `make sweep` fails every point.
 */
#include "vmm_test.h"

#include "sweep/sweep.h"

static void sweep_bounded(enum vmm_destroy_mode mode)
{
	struct sweep_opts o = { .mode = mode, .per_group = 2,
				.timeout_s = 30 * test_scale() };
	struct sweep_report rep;

	ASSERT_OK(sweep_mode(&o, &rep));
	sweep_report_print(&rep, stderr, false);
	ASSERT_UEQ(rep.violations, 0);
	ASSERT_UEQ(rep.hangs, 0);
	/* The life issued UVCs and allocated, and failures happened. */
	ASSERT_GT(rep.uvc_points, 0);
	ASSERT_GT(rep.alloc_points, 0);
	ASSERT_GT(rep.fired, 0);
}

TEST_IMPL(vmm_sweep_sync)
{
	sweep_bounded(VMM_DESTROY_SYNC);
	return 0;
}

TEST_IMPL(vmm_sweep_sync_60)
{
	sweep_bounded(VMM_DESTROY_SYNC_60);
	return 0;
}

TEST_IMPL(vmm_sweep_lazy)
{
	sweep_bounded(VMM_DESTROY_LAZY);
	return 0;
}

TEST_IMPL(vmm_sweep_async)
{
	sweep_bounded(VMM_DESTROY_ASYNC);
	return 0;
}
