// SPDX-License-Identifier: MIT
/*
 * test-leak-charge.c - a frame leaked on purpose stays charged to its memcg
 * (never freed, so never uncharged, as in Linux): through mm_page_leak()
 * with any reason and through a last put of a PG_arch_1 page, single or
 * bulk.  The memcg's usage stays up by exactly the leaked frames, they
 * count against its limit, and destroying the memcg takes it offline.
 */
#include "mm_test.h"

TEST_IMPL(mm_leak_stays_charged)
{
	struct page *pages[16], *extra[8];
	struct memcg_stats ms;
	struct memcg *memcg;
	struct mm_env env;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "g", 16 * HW_PAGE_SIZE, &memcg));
	ASSERT_OK(mm_page_alloc_bulk(env.world, 0, memcg, 16, pages));
	ASSERT_UEQ(memcg_usage(memcg), 16);

	/* Leaks by reason: donated storage whose destroy failed, ... */
	mm_page_set_use(env.world, pages[0], PAGE_USE_DONATED);
	mm_page_leak(env.world, pages[0], MM_LEAK_conf_destroy_failed);
	mm_page_set_use(env.world, pages[1], PAGE_USE_DONATED);
	mm_page_leak(env.world, pages[1], MM_LEAK_cpu_destroy_failed);
	/* ... a page freed with PG_arch_1 set, by a single put ... */
	page_set_flag(pages[2], PG_arch_1);
	mm_page_put(env.world, pages[2]);
	/* ... and two inside a bulk put, among pages that are freed. */
	page_set_flag(pages[5], PG_arch_1);
	page_set_flag(pages[7], PG_arch_1);
	mm_page_put_bulk(env.world, pages + 3, 6);	/* 3..8 */
	ASSERT_UEQ(mm_test_leaked(env.world, MM_LEAK_secure_at_free), 3);
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.leaked, 5);
	/* 16 charged, 4 freed by the bulk put: 5 leaked + 7 live. */
	ASSERT_UEQ(ms.usage, 12);
	ASSERT_UEQ(ms.uncharges, 4);
	ASSERT_OK(mm_check(env.world));

	/* A put on a leaked frame changes nothing. */
	mm_page_put(env.world, pages[0]);
	ASSERT_UEQ(memcg_usage(memcg), 12);

	/* The live pages go: usage is exactly the leaked frames. */
	mm_page_put_bulk(env.world, pages + 9, 7);
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.usage, 5);
	ASSERT_UEQ(ms.leaked, 5);
	ASSERT_OK(mm_check(env.world));

	/* They count against the limit: 11 of 16 are left. */
	ASSERT_OK(mm_page_alloc_bulk(env.world, 0, memcg, 8, extra));
	ASSERT_ERR(mm_page_alloc_bulk(env.world, MM_GFP_NOWARN, memcg, 4,
				      pages), ENOMEM);
	/* Live pages charged: the memcg cannot go. */
	ASSERT_ERR(memcg_destroy(memcg), EBUSY);
	mm_page_put_bulk(env.world, extra, 8);

	/* Only leaked frames charged: it goes offline, still counted. */
	ASSERT_OK(memcg_destroy(memcg));
	ASSERT_OK(mm_check(env.world));
	mm_env_teardown(&env);
	return 0;
}
