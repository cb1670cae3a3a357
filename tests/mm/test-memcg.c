// SPDX-License-Identifier: MIT
/*
 * test-memcg.c - memory cgroups: charge at allocation, uncharge at free,
 * usage/peak/failcnt, destroy refused while charged, and a limit breach
 * entering the memcg's OOM path (clean -ENOMEM with nobody to kill; a kill
 * inside the memcg otherwise, leaving other memcgs alone).
 */
#include "mm_test.h"

TEST_IMPL(mm_memcg_charge)
{
	struct page *pages[10];
	struct memcg_stats ms;
	struct mm_env env;
	struct memcg *memcg;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_ERR(memcg_create(env.world, "", 0, &memcg), EINVAL);
	ASSERT_OK(memcg_create(env.world, "vmm", 0, &memcg));
	ASSERT_STR_EQ(memcg_name(memcg), "vmm");
	for (int i = 0; i < 10; i++)
		ASSERT_OK(mm_page_alloc(env.world, 0, memcg, &pages[i]));
	ASSERT_UEQ(memcg_usage(memcg), 10);
	mm_page_put_bulk(env.world, pages, 5);
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.usage, 5);
	ASSERT_UEQ(ms.peak, 10);
	ASSERT_UEQ(ms.charges, 10);
	ASSERT_UEQ(ms.uncharges, 5);
	ASSERT_UEQ(ms.limit, 0);
	/* Charged pages pin the memcg. */
	ASSERT_ERR(memcg_destroy(memcg), EBUSY);
	ASSERT_OK(mm_check(env.world));
	mm_page_put_bulk(env.world, pages + 5, 5);
	ASSERT_UEQ(memcg_usage(memcg), 0);
	ASSERT_OK(memcg_destroy(memcg));
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_memcg_limit)
{
	static struct page *pages[128];
	struct memcg_stats ms;
	struct mm_env env;
	struct memcg *memcg;
	struct page *extra;
	struct task *task;
	uint64_t t0;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "small", 64 * HW_PAGE_SIZE, &memcg));
	for (int i = 0; i < 64; i++)
		ASSERT_OK(mm_page_alloc(env.world, 0, memcg, &pages[i]));
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_NOWARN, memcg, &extra),
		   ENOMEM);
	/* The machine has plenty: only the memcg said no. */
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &extra));
	mm_page_put(env.world, extra);

	/* Waiting, with a task in the memcg that has nothing mapped and
	 * nobody else: the OOM path finds no better victim than it. */
	ASSERT_OK(task_create(env.world, NULL, memcg, 0, &task));
	t0 = lpv_now_ns();
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_NOWARN,
				 memcg, &extra), ENOMEM);
	ASSERT_LT(lpv_now_ns() - t0, 3000000000ULL);
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.usage, 64);
	ASSERT_GE(ms.failcnt, 2);
	ASSERT_GE(ms.oom, 1);
	/* It was killed (the only candidate) and exited by the reaper. */
	ASSERT_EQ(ms.oom_kill, 1);
	ASSERT_OK(task_wait(task, NULL));

	/* Raising the limit lets charges through again. */
	memcg_set_limit(memcg, 128 * HW_PAGE_SIZE);
	for (int i = 64; i < 128; i++)
		ASSERT_OK(mm_page_alloc(env.world, 0, memcg, &pages[i]));
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.peak, 128);
	ASSERT_UEQ(ms.limit, 128);
	mm_page_put_bulk(env.world, pages, 128);
	ASSERT_OK(memcg_destroy(memcg));
	mm_env_teardown(&env);
	return 0;
}

/* Fault @n pages of a fresh mapping of @task's mm. */
static uintptr_t fault_pages(struct task *task, uint64_t map_pages,
			     uint64_t n)
{
	struct mm *mm = task_get_mm(task);
	uintptr_t addr;

	ASSERT_NOT_NULL(mm);
	ASSERT_OK(mm_mmap(mm, map_pages * HW_PAGE_SIZE,
			  MM_PROT_READ | MM_PROT_WRITE, &addr));
	for (uint64_t i = 0; i < n; i++)
		ASSERT_OK(mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL));
	mmput(mm);
	return addr;
}

/* A limit breach kills inside the memcg only, and the charge that hit the
 * limit succeeds once the victim's memory is uncharged. */
TEST_IMPL(mm_memcg_oom_kill)
{
	struct memcg *guests, *other;
	struct task *a, *b, *c;
	struct memcg_stats ms;
	struct mm_env env;
	struct mm_stats st;
	uintptr_t addr;
	struct mm *mm;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "guests", 256 * HW_PAGE_SIZE,
			       &guests));
	ASSERT_OK(memcg_create(env.world, "other", 0, &other));
	ASSERT_OK(task_create(env.world, NULL, guests, 0, &a));
	ASSERT_OK(task_create(env.world, NULL, guests, 0, &b));
	ASSERT_OK(task_create(env.world, NULL, other, 0, &c));
	fault_pages(c, 1024, 1000);	/* biggest overall, other memcg */
	fault_pages(a, 512, 200);
	addr = fault_pages(b, 512, 56);
	ASSERT_UEQ(memcg_usage(guests), 256);

	/* b's next fault breaches the limit: a (rss 200) dies, not c. */
	mm = task_get_mm(b);
	ASSERT_OK(mm_fault(mm, addr + 100 * HW_PAGE_SIZE, true, NULL));
	mmput(mm);
	ASSERT_OK(task_wait(a, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	ASSERT_EQ(task_get_state(b), TASK_RUNNING);
	ASSERT_EQ(task_get_state(c), TASK_RUNNING);
	ASSERT_UEQ(memcg_usage(guests), 57);
	memcg_stats_get(guests, &ms);
	ASSERT_UEQ(ms.oom_kill, 1);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_kills, 1);

	ASSERT_OK(task_exit(b, 0));
	ASSERT_OK(task_exit(c, 0));
	ASSERT_OK(task_wait(b, NULL));
	ASSERT_OK(task_wait(c, NULL));
	ASSERT_UEQ(memcg_usage(guests), 0);
	ASSERT_UEQ(memcg_usage(other), 0);
	ASSERT_OK(memcg_destroy(guests));
	ASSERT_OK(memcg_destroy(other));
	mm_env_teardown(&env);
	return 0;
}
