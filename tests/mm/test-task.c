// SPDX-License-Identifier: MIT
/*
 * test-task.c - tasks and mm lifetime: mm_users/mm_count semantics
 * (mmget_not_zero fails after exit, mmgrab keeps the struct), Linux exit
 * ordering (the mm is gone before the parent's wait returns) with and
 * without a CLONE_VM sharer, and exit/kill with threads attached.
 */
#include "mm_test.h"

#include <pthread.h>

static uintptr_t map_and_fault(struct mm *mm, uint64_t n)
{
	uintptr_t addr;

	ASSERT_OK(mm_mmap(mm, n * HW_PAGE_SIZE, MM_PROT_READ | MM_PROT_WRITE,
			  &addr));
	for (uint64_t i = 0; i < n; i++)
		ASSERT_OK(mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL));
	return addr;
}

TEST_IMPL(mm_refcount)
{
	struct mm_env env;
	struct mm_stats st;
	struct task *task;
	struct mm *mm;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	mm = task_get_mm(task);
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_users(mm), 2);
	map_and_fault(mm, 50);
	ASSERT_TRUE(mmget_not_zero(mm));
	ASSERT_EQ(mm_users(mm), 3);
	mmput(mm);
	mmgrab(mm);		/* KVM: keep the struct past the exit */
	mmput(mm);
	ASSERT_EQ(mm_users(mm), 1);

	ASSERT_OK(task_exit(task, 3));
	ASSERT_ERR(task_exit(task, 4), ESRCH);
	ASSERT_OK(task_wait(task, &code));
	ASSERT_EQ(code, 3);
	/* The address space is gone, the struct is not. */
	ASSERT_EQ(mm_users(mm), 0);
	ASSERT_FALSE(mmget_not_zero(mm));
	ASSERT_UEQ(mm_rss(mm), 0);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_ANON), 0);
	mm_context(mm)->kvm_priv = &code;	/* still valid memory */
	ASSERT_ERR(mm_fault(mm, 0x100000000ULL, true, NULL), EFAULT);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.exit_mmaps, 1);
	ASSERT_UEQ(st.mms_freed, 0);
	ASSERT_UEQ(st.nr_mms, 1);
	ASSERT_OK(mm_check(env.world));
	mmdrop(mm);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.mms_freed, 1);
	ASSERT_UEQ(st.nr_mms, 0);

	/* A kernel thread has no mm. */
	ASSERT_OK(task_create(env.world, NULL, NULL, TASK_KTHREAD, &task));
	ASSERT_NULL(task_get_mm(task));
	ASSERT_ERR(task_clone_vm(task, &task), ESRCH);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}

struct exiter {
	struct task *task;
	uint64_t pages;
	int code;
};

/* The child process: one thread that faults its memory and exits. */
static void *exiter_main(void *arg)
{
	struct exiter *e = arg;
	struct mm *mm = task_get_mm(e->task);

	ASSERT_OK(task_thread_enter(e->task));
	map_and_fault(mm, e->pages);
	mmput(mm);
	ASSERT_OK(task_exit(e->task, e->code));
	ASSERT_NULL(task_current());
	return NULL;
}

static uint64_t clears_full, clears_partial;

static void count_pte_clear(void *ctx, struct mm *mm, const uintptr_t *addrs,
			    struct page *const *pages, size_t n, bool full)
{
	(void)ctx; (void)mm; (void)addrs;
	for (size_t i = 0; i < n; i++)
		ASSERT_GE(page_ref_count(pages[i]), 1);
	atomic_add_relaxed(full ? &clears_full : &clears_partial, n);
}

static const struct mm_arch_ops count_ops = { .pte_clear = count_pte_clear };

TEST_IMPL(mm_exit_order)
{
	struct exiter e = { .pages = 100, .code = 7 };
	struct task *parent;
	struct mm_env env;
	pthread_t thread;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	mm_arch_register(env.world, &count_ops, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &parent));
	ASSERT_OK(task_create(env.world, parent, NULL, 0, &e.task));
	ASSERT_OK(pthread_create(&thread, NULL, exiter_main, &e));
	ASSERT_OK(task_wait(e.task, &code));
	/* When the parent's wait returns, the child's memory is gone. */
	ASSERT_EQ(code, 7);
	ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_ANON), 0);
	ASSERT_UEQ(atomic_load_relaxed(&clears_full), 100);
	ASSERT_UEQ(atomic_load_relaxed(&clears_partial), 0);
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_OK(task_exit(parent, 0));
	ASSERT_OK(task_wait(parent, NULL));
	mm_env_teardown(&env);
	return 0;
}

TEST_IMPL(mm_exit_clone_vm)
{
	struct exiter e = { .pages = 100, .code = 0 };
	struct task *helper;
	struct mm_env env;
	struct mm_stats st;
	pthread_t thread;
	struct mm *mm;

	mm_env_setup(&env, 16 * MiB, NULL);
	mm_arch_register(env.world, &count_ops, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &e.task));
	/* The teardown helper: clone(CLONE_VM) before the VMM exits. */
	ASSERT_OK(task_clone_vm(e.task, &helper));
	mm = task_get_mm(helper);
	ASSERT_EQ(mm_users(mm), 3);
	mmput(mm);
	ASSERT_OK(pthread_create(&thread, NULL, exiter_main, &e));
	ASSERT_OK(task_wait(e.task, NULL));
	ASSERT_OK(pthread_join(thread, NULL));
	/* The VMM is reaped but the helper still holds the address space. */
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.exit_mmaps, 0);
	ASSERT_UEQ(st.use[PAGE_USE_ANON], 100);
	ASSERT_UEQ(atomic_load_relaxed(&clears_full), 0);
	ASSERT_OK(mm_check(env.world));
	/* The helper's exit tears it down. */
	ASSERT_OK(task_exit(helper, 0));
	ASSERT_OK(task_wait(helper, NULL));
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.exit_mmaps, 1);
	ASSERT_UEQ(st.use[PAGE_USE_ANON], 0);
	ASSERT_UEQ(atomic_load_relaxed(&clears_full), 100);
	mm_env_teardown(&env);
	return 0;
}

static void count_files_hook(void *ctx)
{
	atomic_add_return((int *)ctx, 1);
}

/*
 * The teardown helper's exit_files hook (the VM's last close) is there from
 * the clone on: a kill that lands before anything else happens -- the OOM
 * killer takes every task sharing the mm -- runs it exactly once.
 */
TEST_IMPL(mm_clone_vm_files_killed_at_once)
{
	struct task *task, *helper;
	struct mm_env env;
	int hooks = 0;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	ASSERT_OK(task_clone_vm_files(task, count_files_hook, &hooks, &helper));
	ASSERT_OK(task_kill(helper));	/* no thread in it: exits here */
	ASSERT_EQ(atomic_load_relaxed(&hooks), 1);
	ASSERT_OK(task_wait(helper, NULL));
	ASSERT_EQ(atomic_load_relaxed(&hooks), 1);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));

	/* A parent without an mm cannot be cloned: no hook runs. */
	ASSERT_OK(task_create(env.world, NULL, NULL, TASK_KTHREAD, &task));
	ASSERT_ERR(task_clone_vm_files(task, count_files_hook, &hooks, &helper),
		   ESRCH);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	ASSERT_EQ(atomic_load_relaxed(&hooks), 1);
	mm_env_teardown(&env);
	return 0;
}

struct spinner {
	struct task *task;
	bool exit_it;
	uint64_t work;			/* atomic */
	bool started;			/* atomic */
};

static void *spinner_main(void *arg)
{
	struct spinner *s = arg;
	struct mm *mm = task_get_mm(s->task);
	uintptr_t addr = map_and_fault(mm, 4);

	ASSERT_OK(task_thread_enter(s->task));
	atomic_store_release(&s->started, true);
	if (s->exit_it) {
		/* exit_group from one thread: the others stop, the last
		 * one to leave runs the exit. */
		while (atomic_load_acquire(&s->work) < 100)
			sched_yield();
		mmput(mm);
		ASSERT_OK(task_exit(s->task, 5));
		return NULL;
	}
	while (!task_should_stop()) {
		ASSERT_OK(mm_fault(mm, addr, true, NULL));
		atomic_add_relaxed(&s->work, 1);
	}
	mmput(mm);
	task_thread_leave(s->task);
	return NULL;
}

TEST_IMPL(mm_task_threads)
{
	struct spinner s[4];
	pthread_t threads[4];
	struct mm_env env;
	struct task *task;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	for (int round = 0; round < 2; round++) {
		ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
		for (int i = 0; i < 4; i++) {
			s[i] = (struct spinner){ .task = task,
				.exit_it = round == 1 && i == 0 };
			ASSERT_OK(pthread_create(&threads[i], NULL,
						 spinner_main, &s[i]));
		}
		for (int i = 0; i < 4; i++)
			while (!atomic_load_acquire(&s[i].started))
				sched_yield();
		if (round == 0) {
			/* Round 0: SIGKILL from outside. */
			while (atomic_load_acquire(&s[1].work) < 100)
				sched_yield();
			ASSERT_OK(task_kill(task));
		} else {
			for (int i = 1; i < 4; i++)
				while (atomic_load_acquire(&s[i].work) < 100)
					sched_yield();
			atomic_store_release(&s[0].work, 100);
		}
		ASSERT_OK(task_wait(task, &code));
		ASSERT_EQ(code, round == 0 ? TASK_EXIT_KILLED : 5);
		ASSERT_UEQ(mm_test_use(env.world, PAGE_USE_ANON), 0);
		for (int i = 0; i < 4; i++)
			ASSERT_OK(pthread_join(threads[i], NULL));
	}

	/* A killed task accepts no new thread. */
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	ASSERT_OK(task_thread_enter(task));
	ASSERT_OK(task_kill(task));
	ASSERT_TRUE(task_should_stop());
	ASSERT_EQ(task_get_state(task), TASK_RUNNING);	/* we are still in */
	task_thread_leave(task);
	ASSERT_EQ(task_get_state(task), TASK_ZOMBIE);
	ASSERT_ERR(task_thread_enter(task), ESRCH);
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}
