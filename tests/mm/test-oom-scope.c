// SPDX-License-Identifier: MIT
/*
 * test-oom-scope.c - which OOM runs the notifier chain: a global one does,
 * a memcg one does not (it goes straight to the memcg's own victim, or
 * fails when there is none), as Linux's out_of_memory().
 */
#include "mm_test.h"

/* A notifier that would always help: it frees the pages it holds. */
struct scope_nb {
	struct oom_notifier nb;
	struct mm_world *world;
	struct page **stash;
	size_t nstash;
	int calls;
};

static int scope_notify(void *ctx, unsigned long *freed)
{
	struct scope_nb *s = ctx;

	s->calls++;
	if (s->nstash) {
		mm_page_put_bulk(s->world, s->stash, s->nstash);
		*freed += s->nstash;
		s->nstash = 0;
	}
	return 0;
}

/* Fault @n pages of a fresh mapping of @task's mm. */
static void scope_fault(struct task *task, uint64_t n)
{
	struct mm *mm = task_get_mm(task);
	uintptr_t addr;

	ASSERT_NOT_NULL(mm);
	ASSERT_OK(mm_mmap(mm, n * HW_PAGE_SIZE, MM_PROT_READ | MM_PROT_WRITE,
			  &addr));
	for (uint64_t i = 0; i < n; i++)
		ASSERT_OK(mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL));
	mmput(mm);
}

/*
 * A memcg at its limit: the notifier holds 8 of the memcg's pages and
 * would free them, but is never asked.  With nobody in the memcg to kill
 * the waiting charge fails at once; with a task there, that task dies.
 */
TEST_IMPL(mm_oom_memcg_skips_notifiers)
{
	static struct page *pages[64];
	struct scope_nb s = { .nb = { .fn = scope_notify, .priority = 70 } };
	struct memcg_stats ms;
	struct memcg *memcg;
	struct mm_env env;
	struct mm_stats st;
	struct page *extra;
	struct task *task;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "small", 64 * HW_PAGE_SIZE, &memcg));
	for (int i = 0; i < 64; i++)
		ASSERT_OK(mm_page_alloc(env.world, 0, memcg, &pages[i]));
	s.nb.ctx = &s;
	s.world = env.world;
	s.stash = pages + 56;
	s.nstash = 8;
	ASSERT_OK(oom_notifier_register(env.world, &s.nb));

	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_NOWARN,
				 memcg, &extra), ENOMEM);
	ASSERT_EQ(s.calls, 0);
	ASSERT_UEQ(s.nstash, 8);
	memcg_stats_get(memcg, &ms);
	ASSERT_GE(ms.oom, 1);
	ASSERT_UEQ(ms.oom_kill, 0);
	ASSERT_UEQ(ms.usage, 64);

	/* Now a task in the memcg: the memcg OOM kills it, still no call. */
	mm_page_put_bulk(env.world, pages + 32, 32);
	s.nstash = 0;
	ASSERT_OK(task_create(env.world, NULL, memcg, 0, &task));
	scope_fault(task, 32);
	ASSERT_UEQ(memcg_usage(memcg), 64);
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL, memcg, &extra));
	ASSERT_OK(task_wait(task, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	ASSERT_EQ(s.calls, 0);
	memcg_stats_get(memcg, &ms);
	ASSERT_UEQ(ms.oom_kill, 1);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_notifier_calls, 0);
	ASSERT_UEQ(st.oom_kills, 1);

	ASSERT_OK(oom_notifier_unregister(env.world, &s.nb));
	mm_page_put(env.world, extra);
	mm_page_put_bulk(env.world, pages, 32);
	ASSERT_UEQ(memcg_usage(memcg), 0);
	ASSERT_OK(memcg_destroy(memcg));
	mm_env_teardown(&env);
	return 0;
}

/*
 * The machine out of memory (no memcg limit in the way): the notifier is
 * called, frees its pages, and the allocation succeeds with no kill even
 * though a task with a large rss is there to be killed.
 */
TEST_IMPL(mm_oom_global_calls_notifiers)
{
	static struct page *pages[4096];
	struct scope_nb s = { .nb = { .fn = scope_notify, .priority = 70 } };
	struct mm_env env;
	struct mm_stats st;
	struct page *extra;
	struct task *task;
	size_t n = 0;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	scope_fault(task, 512);
	while (mm_page_alloc(env.world, MM_GFP_ATOMIC | MM_GFP_NOWARN, NULL,
			     &pages[n]) == 0)
		n++;
	ASSERT_GT(n, 8);
	s.nb.ctx = &s;
	s.world = env.world;
	s.stash = pages + n - 8;
	s.nstash = 8;
	n -= 8;
	ASSERT_OK(oom_notifier_register(env.world, &s.nb));
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_HIGH, NULL,
				&extra));
	ASSERT_EQ(s.calls, 1);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_notifier_calls, 1);
	ASSERT_UEQ(st.oom_notifier_freed, 8);
	ASSERT_UEQ(st.oom_kills, 0);
	ASSERT_EQ(task_get_state(task), TASK_RUNNING);

	ASSERT_OK(oom_notifier_unregister(env.world, &s.nb));
	mm_page_put(env.world, extra);
	mm_page_put_bulk(env.world, pages, n);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}
