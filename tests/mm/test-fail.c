// SPDX-License-Identifier: MIT
/*
 * test-fail.c - failure injection into the allocator (mm_fail_set): the
 * nth matching allocation fails with -ENOMEM and takes nothing, the
 * filters pick allocations by gfp bits and use, a bulk or contig call
 * counts once, counting alone (nth 0) fails nothing, and disarmed the
 * allocator is as before.
 */
#include "mm_test.h"

struct fail_log {
	uint64_t seen, failed_n;
	struct mm_alloc_info failed;
};

static void fail_note(void *ctx, uint64_t n, const struct mm_alloc_info *info,
		      bool failed)
{
	struct fail_log *log = ctx;

	log->seen = n;
	if (failed) {
		log->failed_n = n;
		log->failed = *info;
	}
}

TEST_IMPL(mm_fail_nth_allocation)
{
	struct mm_fail_config fc = { .nth = 3, .any_use = true,
				     .note = fail_note };
	struct page *p[8], *first;
	struct fail_log log = { 0 };
	struct mm_stats st;
	struct mm_env env;
	uint64_t free0;

	mm_env_setup(&env, 16 * MiB, NULL);
	free0 = mm_test_use(env.world, PAGE_USE_FREE);
	fc.ctx = &log;
	mm_fail_set(env.world, &fc);
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &p[0]));
	ASSERT_OK(mm_page_alloc_bulk(env.world, 0, NULL, 4, &p[1]));
	/* The third: nothing charged or taken, whatever the gfp says. */
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_HIGH, NULL,
				 &p[5]), ENOMEM);
	ASSERT_UEQ(log.failed_n, 3);
	ASSERT_EQ(log.failed.kind, MM_ALLOC_ONE);
	ASSERT_EQ(log.failed.gfp, MM_GFP_KERNEL | MM_GFP_HIGH);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), free0 - 5);
	ASSERT_OK(mm_page_alloc_contig(env.world, 0, NULL, 2, &first));
	ASSERT_UEQ(mm_fail_seen(env.world), 4);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.alloc_injected, 1);
	ASSERT_UEQ(st.alloc_failures, 1);

	/* Filters: only atomic allocations, counted from the re-arm. */
	fc = (struct mm_fail_config){ .nth = 1, .gfp_mask = MM_GFP_HIGH,
				      .gfp_match = MM_GFP_HIGH,
				      .any_use = true };
	mm_fail_set(env.world, &fc);
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL, NULL, &p[5]));
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_ATOMIC, NULL, &p[6]), ENOMEM);
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_ATOMIC, NULL, &p[6]));
	ASSERT_UEQ(mm_fail_seen(env.world), 2);
	/* By use: faults allocate anon pages, kernel code kernel pages. */
	fc = (struct mm_fail_config){ .nth = 1, .use = PAGE_USE_ANON };
	mm_fail_set(env.world, &fc);
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &p[7]));
	ASSERT_UEQ(mm_fail_seen(env.world), 0);
	/* Counting only, then off. */
	fc = (struct mm_fail_config){ .any_use = true };
	mm_fail_set(env.world, &fc);
	mm_page_put(env.world, p[7]);
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &p[7]));
	ASSERT_UEQ(mm_fail_seen(env.world), 1);
	mm_fail_set(env.world, NULL);
	ASSERT_ERR(mm_page_alloc_contig(env.world, 0, NULL, 0, &first), EINVAL);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.alloc_injected, 2);

	for (int i = 0; i < 8; i++)
		mm_page_put(env.world, p[i]);
	mm_page_put(env.world, first);
	mm_page_put(env.world, first + 1);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), free0);
	mm_env_teardown(&env);
	return 0;
}
