// SPDX-License-Identifier: MIT
/*
 * test-page.c - struct page and the page allocator: LIFO reuse, refcounts
 * and freezing, exhaustion and the emergency reserve, misuse (double free),
 * bulk paths, PG_arch_1 at free time, uses and intentional leaks.
 */
#include "mm_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_IMPL(mm_alloc_basic)
{
	struct mm_env env;
	struct page *a, *b;
	struct mm_stats st;
	unsigned char *p;

	mm_env_setup(&env, 16 * MiB, NULL);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.nr_frames, 4096);
	/* PFN 0 is reserved and counted as kernel memory. */
	ASSERT_UEQ(st.use[PAGE_USE_FREE], 4095);
	ASSERT_UEQ(st.use[PAGE_USE_KERNEL], 1);
	ASSERT_TRUE(page_test_flag(mm_pfn_to_page(env.world, 0), PG_reserved));

	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &a));
	ASSERT_NE(mm_page_to_pfn(env.world, a), 0);
	ASSERT_EQ(page_ref_count(a), 1);
	ASSERT_EQ(page_use(a), PAGE_USE_KERNEL);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4094);

	/* LIFO: the frame just freed is the next one handed out. */
	p = mm_page_host(env.world, a);
	memset(p, 0xa5, HW_PAGE_SIZE);
	mm_page_put(env.world, a);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4095);
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_ZERO, NULL, &b));
	ASSERT_PTR_EQ(a, b);
	for (size_t i = 0; i < HW_PAGE_SIZE; i++)
		ASSERT_EQ(p[i], 0);

	/* Expected-count freezing. */
	page_get(b);
	ASSERT_EQ(page_ref_count(b), 2);
	ASSERT_FALSE(page_ref_freeze(b, 1));
	ASSERT_TRUE(page_ref_freeze(b, 2));
	ASSERT_FALSE(page_try_get(b));
	page_ref_unfreeze(b, 2);
	ASSERT_TRUE(page_try_get(b));
	ASSERT_EQ(page_ref_count(b), 3);

	/* The page lock is a trylock bit. */
	ASSERT_TRUE(page_trylock(b));
	ASSERT_FALSE(page_trylock(b));
	page_unlock(b);
	ASSERT_TRUE(page_trylock(b));
	page_unlock(b);

	mm_page_put(env.world, b);
	mm_page_put(env.world, b);
	ASSERT_EQ(page_use(b), PAGE_USE_KERNEL);
	mm_page_put(env.world, b);
	ASSERT_EQ(page_use(b), PAGE_USE_FREE);
	ASSERT_EQ(page_ref_count(b), 0);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.page_allocs, 2);
	ASSERT_UEQ(st.page_frees, 2);

	/* The dump `lazypv info` prints, as text and as JSON. */
	for (int json = 0; json < 2; json++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		ASSERT_NOT_NULL(f);
		mm_stats_print(env.world, f, json);
		fclose(f);
		ASSERT_NOT_NULL(strstr(buf, json ? "\"nr_frames\":4096" :
				       "4096 frames"));
		ASSERT_NOT_NULL(strstr(buf, json ? "\"page_allocs\":2" :
				       "page_allocs"));
		ASSERT_NOT_NULL(strstr(buf, "oom_wait_ms"));
		free(buf);
	}
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_alloc_exhaust)
{
	static struct page *pages[4096];
	struct mm_config cfg;
	struct mm_env env;
	struct mm_stats st;
	size_t n = 0, reserve;
	struct page *extra;
	uint64_t t0;

	mm_test_config(&cfg);
	cfg.reserve_bytes = 64 * HW_PAGE_SIZE;
	mm_env_setup(&env, 16 * MiB, &cfg);
	while (mm_page_alloc(env.world, MM_GFP_NOWARN, NULL, &pages[n]) == 0)
		n++;
	/* Ordinary allocations stop at the reserve... */
	ASSERT_UEQ(n, 4095 - 64);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 64);
	/* ...which MM_GFP_NOMEMALLOC never touches, even with HIGH... */
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_HIGH | MM_GFP_NOMEMALLOC |
				 MM_GFP_NOWARN, NULL, &extra), ENOMEM);
	/* ...and MM_GFP_HIGH may empty. */
	reserve = n;
	while (mm_page_alloc(env.world, MM_GFP_ATOMIC | MM_GFP_NOWARN, NULL,
			     &pages[n]) == 0)
		n++;
	ASSERT_UEQ(n - reserve, 64);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 0);

	/* A waiting allocation with nobody to kill fails cleanly, at once. */
	t0 = lpv_now_ns();
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_NOWARN,
				 NULL, &extra), ENOMEM);
	ASSERT_LT(lpv_now_ns() - t0, 500000000ULL);
	/* Bulk is all or nothing. */
	ASSERT_ERR(mm_page_alloc_bulk(env.world, MM_GFP_NOWARN, NULL, 2,
				      &extra), ENOMEM);

	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.reserve_allocs, 64);
	ASSERT_GE(st.alloc_failures, 3);
	ASSERT_GE(st.oom_runs, 1);
	ASSERT_UEQ(st.oom_kills, 0);
	mm_page_put_bulk(env.world, pages, n);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4095);
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_alloc_double_free)
{
	struct mm_env env;
	struct mm_stats st;
	struct page *page;
	int status;
	pid_t pid;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &page));
	ASSERT_OK(mm_page_free(env.world, page));
	ASSERT_ERR(mm_page_free(env.world, page), EINVAL);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.double_frees, 1);
	ASSERT_UEQ(st.page_frees, 1);

	/* The plain put treats the same misuse as a BUG: the process dies. */
	fflush(NULL);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		fclose(stderr);	/* the BUG message is expected */
		mm_page_put(env.world, page);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGABRT);
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_alloc_bulk)
{
	static struct page *pages[3000];
	struct mm_env env;
	struct memcg *memcg;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "bulk", 0, &memcg));
	ASSERT_OK(mm_page_alloc_bulk(env.world, 0, memcg, 3000, pages));
	ASSERT_UEQ(memcg_usage(memcg), 3000);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_KERNEL), 3001);
	for (size_t i = 0; i < 3000; i++) {
		ASSERT_EQ(page_ref_count(pages[i]), 1);
		ASSERT_PTR_EQ(pages[i]->memcg, memcg);
		/* Distinct frames: mark each one. */
		ASSERT_FALSE(page_test_flag(pages[i], PG_locked));
		ASSERT_TRUE(page_trylock(pages[i]));
	}
	for (size_t i = 0; i < 3000; i++)
		page_unlock(pages[i]);
	ASSERT_OK(mm_check(env.world));
	/* More than what is left: nothing is taken, nothing is charged. */
	ASSERT_ERR(mm_page_alloc_bulk(env.world, MM_GFP_NOWARN, memcg, 2000,
				      pages + 1000), ENOMEM);
	ASSERT_UEQ(memcg_usage(memcg), 3000);
	mm_page_put_bulk(env.world, pages, 3000);
	ASSERT_UEQ(memcg_usage(memcg), 0);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4095);
	ASSERT_OK(memcg_destroy(memcg));
	mm_env_teardown(&env);
	return 0;
}

/* Invariant 2: a PG_arch_1 frame never reaches the free list. */
TEST_IMPL(mm_page_arch1_leak)
{
	struct mm_env env;
	struct memcg *memcg;
	struct page *page, *again[4095];
	struct mm_stats st;
	size_t n = 0;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "g", 0, &memcg));
	ASSERT_OK(mm_page_alloc(env.world, 0, memcg, &page));
	page_set_flag(page, PG_arch_1);
	mm_page_put(env.world, page);
	ASSERT_EQ(page_use(page), PAGE_USE_LEAKED);
	ASSERT_UEQ(mm_test_leaked(env.world, MM_LEAK_secure_at_free), 1);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4094);
	/* Never freed, so still charged; the memcg can only go offline. */
	ASSERT_UEQ(memcg_usage(memcg), 1);
	ASSERT_OK(memcg_destroy(memcg));
	ASSERT_OK(mm_check(env.world));
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.secure_at_free, 1);
	/* Every other frame can be allocated, never the leaked one. */
	while (mm_page_alloc(env.world, MM_GFP_ATOMIC | MM_GFP_NOWARN, NULL,
			     &again[n]) == 0) {
		ASSERT_PTR_NE(again[n], page);
		n++;
	}
	ASSERT_UEQ(n, 4094);
	mm_page_put_bulk(env.world, again, n);
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_page_uses)
{
	struct mm_env env;
	struct page *a, *b;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &a));
	mm_page_set_use(env.world, a, PAGE_USE_DONATED);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_DONATED), 1);
	ASSERT_OK(mm_check(env.world));
	mm_page_set_use(env.world, a, PAGE_USE_PENDING);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_DONATED), 0);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_PENDING), 1);
	mm_page_put(env.world, a);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_PENDING), 0);

	/* An intentional leak: counted by reason, survives later puts. */
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &b));
	mm_page_set_use(env.world, b, PAGE_USE_DONATED);
	mm_page_leak(env.world, b, MM_LEAK_conf_destroy_failed);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_DONATED), 0);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_LEAKED), 1);
	ASSERT_UEQ(mm_test_leaked(env.world, MM_LEAK_conf_destroy_failed), 1);
	mm_page_put(env.world, b);
	ASSERT_EQ(page_use(b), PAGE_USE_LEAKED);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_FREE), 4094);
	mm_env_teardown(&env);
	return 0;
}

/* The option table: defaults, environment overrides, bad values. */
TEST_IMPL(mm_options)
{
	struct mm_config cfg;

	unsetenv("LAZYPV_MM_RESERVE");
	unsetenv("LAZYPV_MM_OOM_WAIT_MS");
	ASSERT_OK(mm_config_init(&cfg));
	ASSERT_UEQ(cfg.reserve_bytes, 256 * 1024);
	ASSERT_UEQ(cfg.oom_wait_ms, 1000);
	ASSERT_UEQ(cfg.reserve_pfn0, 1);
	ASSERT_OK(setenv("LAZYPV_MM_RESERVE", "1M", 1));
	ASSERT_OK(setenv("LAZYPV_MM_OOM_WAIT_MS", "0x20", 1));
	ASSERT_OK(mm_config_init(&cfg));
	ASSERT_UEQ(cfg.reserve_bytes, 1024 * 1024);
	ASSERT_UEQ(cfg.oom_wait_ms, 32);
	ASSERT_OK(setenv("LAZYPV_MM_OOM_WAIT_MS", "soon", 1));
	ASSERT_ERR(mm_config_init(&cfg), EINVAL);
	ASSERT_OK(setenv("LAZYPV_MM_OOM_WAIT_MS", "600001", 1));
	ASSERT_ERR(mm_config_init(&cfg), ERANGE);
	ASSERT_OK(setenv("LAZYPV_MM_OOM_WAIT_MS", "-1", 1));
	ASSERT_ERR(mm_config_init(&cfg), EINVAL);
	unsetenv("LAZYPV_MM_OOM_WAIT_MS");
	ASSERT_OK(setenv("LAZYPV_MM_RESERVE", "2G", 1));
	ASSERT_ERR(mm_config_init(&cfg), ERANGE);
	unsetenv("LAZYPV_MM_RESERVE");
	return 0;
}

/* Contiguous runs come from the top, keep the free list consistent (back
 * links included, checked by mm_check) and fail cleanly when fragmented. */
TEST_IMPL(mm_page_alloc_contig)
{
	struct mm_env env;
	struct page *run, *a, *all[1024];
	uint64_t n, got = 0;

	mm_env_setup(&env, 4 * MiB, NULL);	/* 1024 frames, PFN 0 reserved */
	n = hw_nr_frames(env.hw);
	ASSERT_OK(mm_page_alloc_contig(env.world, MM_GFP_ZERO, NULL, 16, &run));
	ASSERT_UEQ(mm_page_to_pfn(env.world, run), n - 16);
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(page_ref_count(run + i), 1);
		ASSERT_EQ(page_use(run + i), PAGE_USE_KERNEL);
	}
	ASSERT_OK(mm_check(env.world));
	/* Ordinary allocations still come from the bottom (LIFO). */
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &a));
	ASSERT_LT(mm_page_to_pfn(env.world, a), 8);
	mm_page_put(env.world, a);
	for (int i = 0; i < 16; i++)
		mm_page_put(env.world, run + i);
	ASSERT_OK(mm_check(env.world));

	ASSERT_ERR(mm_page_alloc_contig(env.world, 0, NULL, 0, &run), EINVAL);
	ASSERT_ERR(mm_page_alloc_contig(env.world, 0, NULL, n + 1, &run), EINVAL);
	/* Take everything, give back every other frame: plenty free, no run. */
	while (got < ARRAY_SIZE(all) &&
	       mm_page_alloc(env.world, MM_GFP_HIGH | MM_GFP_NOWARN, NULL,
			     &all[got]) == 0)
		got++;
	ASSERT_GT(got, 900);
	for (uint64_t i = 0; i < got; i += 2)
		mm_page_put(env.world, all[i]);
	ASSERT_ERR(mm_page_alloc_contig(env.world, MM_GFP_HIGH, NULL, 2, &run),
		   ENOMEM);
	ASSERT_OK(mm_page_alloc_contig(env.world, MM_GFP_HIGH, NULL, 1, &run));
	mm_page_put(env.world, run);
	ASSERT_OK(mm_check(env.world));
	for (uint64_t i = 1; i < got; i += 2)
		mm_page_put(env.world, all[i]);
	ASSERT_OK(mm_page_alloc_contig(env.world, 0, NULL, 512, &run));
	for (int i = 0; i < 512; i++)
		mm_page_put(env.world, run + i);
	mm_env_teardown(&env);
	return 0;
}
