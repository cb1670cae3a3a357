// SPDX-License-Identifier: MIT
/*
 * test-stress.c - a seeded multi-threaded stress of the mm: threads fault,
 * read, munmap, take page references, clone and exit sharers, recycle whole
 * processes (exit + wait + create) and allocate kernel pages, over slots
 * whose processes live in memcgs with tight limits, so memcg OOM kills and
 * exit_mmap on whichever thread drops the last reference happen too.  At
 * the end every process is gone and mm_check() must find the books exact.
 * Iterations are divided by test_scale() (LAZYPV_TEST_SCALE).
 */
#include "mm_test.h"

#include <pthread.h>

#define NR_THREADS 4
#define NR_SLOTS 8
#define SLOT_PAGES 1024
#define ITERATIONS 400000

struct slot {
	pthread_mutex_t lock;		/* task pointer, addr, recycling */
	struct task *task;
	uintptr_t addr;
	struct memcg *memcg;
};

struct stress {
	struct mm_env env;
	struct slot slots[NR_SLOTS];
	uint64_t ops[8];		/* atomic, per kind */
	uint64_t seed;			/* test_seed(), read once */
};

static void slot_spawn_locked(struct stress *st, struct slot *s)
{
	struct mm *mm;

	ASSERT_OK(task_create(st->env.world, NULL, s->memcg, 0, &s->task));
	mm = task_get_mm(s->task);
	ASSERT_OK(mm_mmap(mm, SLOT_PAGES * HW_PAGE_SIZE,
			  MM_PROT_READ | MM_PROT_WRITE, &s->addr));
	mmput(mm);
}

static void slot_reap_locked(struct slot *s)
{
	int r = task_exit(s->task, 0);

	/* -ESRCH: the OOM killer got there first. */
	ASSERT_TRUE(r == 0 || r == -ESRCH);
	ASSERT_OK(task_wait(s->task, NULL));
	s->task = NULL;
}

/* The slot's mm with a user reference, or NULL if its task is dying. */
static struct mm *slot_mm(struct slot *s, uintptr_t *addr)
{
	struct mm *mm;

	pthread_mutex_lock(&s->lock);
	mm = task_get_mm(s->task);
	*addr = s->addr;
	pthread_mutex_unlock(&s->lock);
	return mm;
}

static void *stress_main(void *arg)
{
	struct stress *st = arg;
	static uint64_t thread_no;
	uint64_t seed = st->seed + atomic_add_return(&thread_no, 1) * 7919;
	unsigned int iters = ITERATIONS / NR_THREADS / test_scale();
	struct mm_world *world = st->env.world;

	for (unsigned int it = 0; it < iters; it++) {
		uint64_t rnd = mm_test_rand(&seed);
		struct slot *s = &st->slots[rnd % NR_SLOTS];
		unsigned int op = (rnd >> 8) % 1000;
		uint64_t pg = (rnd >> 16) % SLOT_PAGES;
		struct page *page, *pages[8];
		struct task *helper;
		uintptr_t addr;
		struct mm *mm;
		uint64_t v;
		int r;

		if (op >= 997) {		/* recycle the process */
			pthread_mutex_lock(&s->lock);
			slot_reap_locked(s);
			slot_spawn_locked(st, s);
			pthread_mutex_unlock(&s->lock);
			atomic_add_relaxed(&st->ops[0], 1);
			continue;
		}
		if (op >= 970) {		/* kernel pages */
			r = mm_page_alloc_bulk(world, MM_GFP_NOWARN, NULL, 8,
					       pages);
			ASSERT_TRUE(r == 0 || r == -ENOMEM);
			if (!r)
				mm_page_put_bulk(world, pages, 8);
			atomic_add_relaxed(&st->ops[1], 1);
			continue;
		}
		if (op >= 950) {		/* a CLONE_VM sharer */
			pthread_mutex_lock(&s->lock);
			r = task_clone_vm(s->task, &helper);
			pthread_mutex_unlock(&s->lock);
			ASSERT_TRUE(r == 0 || r == -ESRCH);
			if (!r) {
				r = task_exit(helper, 0);
				ASSERT_TRUE(r == 0 || r == -ESRCH);
				ASSERT_OK(task_wait(helper, NULL));
			}
			atomic_add_relaxed(&st->ops[2], 1);
			continue;
		}
		mm = slot_mm(s, &addr);
		if (!mm)
			continue;
		addr += pg * HW_PAGE_SIZE;
		if (op < 600 || op >= 900) {	/* fault */
			r = mm_fault(mm, addr, rnd & (1ULL << 40), NULL);
			ASSERT_TRUE(r == 0 || r == -EFAULT || r == -ENOMEM);
			atomic_add_relaxed(&st->ops[3], 1);
		} else if (op < 750) {	/* read through the host view */
			r = mm_access(mm, addr, &v, sizeof(v), false);
			ASSERT_TRUE(r == 0 || r == -EFAULT || r == -ENOMEM);
			if (!r)
				ASSERT_UEQ(v, 0);
			atomic_add_relaxed(&st->ops[4], 1);
		} else if (op < 850) {	/* follow_page */
			r = mm_get_user_page(mm, addr, true, &page);
			ASSERT_TRUE(r == 0 || r == -EFAULT || r == -ENOMEM);
			if (!r) {
				/* Ours, plus the mapping's unless a racing
				 * munmap dropped it already. */
				ASSERT_GE(page_ref_count(page), 1);
				ASSERT_EQ(page_use(page), PAGE_USE_ANON);
				mm_page_put(world, page);
			}
			atomic_add_relaxed(&st->ops[5], 1);
		} else {			/* munmap a few pages */
			uint64_t n = 1 + (rnd >> 32) % 64;

			if (pg + n > SLOT_PAGES)
				n = SLOT_PAGES - pg;
			ASSERT_OK(mm_munmap(mm, addr, n * HW_PAGE_SIZE));
			atomic_add_relaxed(&st->ops[6], 1);
		}
		/* Maybe the last reference: exit_mmap runs right here. */
		mmput(mm);
	}
	return NULL;
}

TEST_IMPL(mm_stress)
{
	static struct stress st;
	pthread_t threads[NR_THREADS];
	struct mm_config cfg;
	struct mm_stats ms;
	uint64_t oom_kills = 0;

	mm_test_config(&cfg);
	cfg.oom_wait_ms = 200;
	mm_env_setup(&st.env, 64 * MiB, &cfg);
	st.seed = test_seed();
	for (int i = 0; i < NR_SLOTS; i++) {
		struct slot *s = &st.slots[i];
		char name[16];

		pthread_mutex_init(&s->lock, NULL);
		snprintf(name, sizeof(name), "slot%d", i);
		/* Half the slots cannot hold all their pages. */
		ASSERT_OK(memcg_create(st.env.world, name,
				       (i & 1) ? 256 * HW_PAGE_SIZE : 0,
				       &s->memcg));
		slot_spawn_locked(&st, s);
	}
	for (int i = 0; i < NR_THREADS; i++)
		ASSERT_OK(pthread_create(&threads[i], NULL, stress_main, &st));
	for (int i = 0; i < NR_THREADS; i++)
		ASSERT_OK(pthread_join(threads[i], NULL));

	ASSERT_OK(mm_check(st.env.world));
	for (int i = 0; i < NR_SLOTS; i++) {
		struct slot *s = &st.slots[i];
		struct memcg_stats cs;

		slot_reap_locked(s);
		memcg_stats_get(s->memcg, &cs);
		ASSERT_UEQ(cs.usage, 0);
		if (!(i & 1))
			ASSERT_UEQ(cs.oom_kill, 0);
		oom_kills += cs.oom_kill;
		ASSERT_OK(memcg_destroy(s->memcg));
		pthread_mutex_destroy(&s->lock);
	}
	mm_stats_get(st.env.world, &ms);
	fprintf(stderr, "# recycles %llu kernel %llu clones %llu faults %llu "
		"reads %llu gups %llu munmaps %llu; mapped %llu, oom kills "
		"%llu, exit_mmaps %llu\n",
		(unsigned long long)st.ops[0], (unsigned long long)st.ops[1],
		(unsigned long long)st.ops[2], (unsigned long long)st.ops[3],
		(unsigned long long)st.ops[4], (unsigned long long)st.ops[5],
		(unsigned long long)st.ops[6], (unsigned long long)ms.faults,
		(unsigned long long)oom_kills,
		(unsigned long long)ms.exit_mmaps);
	/* Everything mapped was unmapped, and all memory is back. */
	ASSERT_UEQ(ms.faults, ms.ptes_cleared);
	ASSERT_UEQ(ms.use[PAGE_USE_ANON], 0);
	ASSERT_UEQ(ms.use[PAGE_USE_FREE], ms.nr_frames - 1);
	ASSERT_UEQ(ms.exit_mmaps, ms.mms_created);
	ASSERT_UEQ(ms.nr_mms, 0);
	mm_env_teardown(&st.env);
	return 0;
}
