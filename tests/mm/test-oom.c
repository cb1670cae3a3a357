// SPDX-License-Identifier: MIT
/*
 * test-oom.c - the OOM path: notifier order and the `freed` total, a
 * sleeping notifier that lets allocations wait for a cleanup thread (the
 * lazy-destroy use), victim selection by rss and the kill of a thread-less
 * victim (oom_reaper) and of a victim with threads (they stop at their
 * next check), and the clean -ENOMEM when nothing helps.
 */
#include "mm_test.h"

#include "lib/trace.h"

#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* ---- notifier order ---- */

struct order_nb {
	struct oom_notifier nb;
	struct mm_world *world;
	int id;
	int *log, *nlog;
	unsigned long seen;		/* *freed when called */
	struct page **stash;		/* pages this one frees */
	size_t nstash;
};

static int order_notify(void *ctx, unsigned long *freed)
{
	struct order_nb *o = ctx;

	o->log[(*o->nlog)++] = o->id;
	o->seen = *freed;
	if (o->nstash) {
		mm_page_put_bulk(o->world, o->stash, o->nstash);
		*freed += o->nstash;
		o->nstash = 0;
	}
	return 0;
}

TEST_IMPL(mm_oom_notifier_order)
{
	static struct page *pages[4096];
	struct order_nb nbs[3];
	int prio[3] = { 10, 70, 30 };
	int log[16], nlog = 0;
	struct mm_env env;
	struct mm_stats st;
	struct page *page;
	size_t n = 0;

	mm_env_setup(&env, 16 * MiB, NULL);
	for (int i = 0; i < 3; i++) {
		nbs[i] = (struct order_nb){
			.nb = { .fn = order_notify, .ctx = &nbs[i],
				.priority = prio[i] },
			.world = env.world, .id = prio[i], .log = log,
			.nlog = &nlog,
		};
		ASSERT_OK(oom_notifier_register(env.world, &nbs[i].nb));
	}
	ASSERT_ERR(oom_notifier_register(env.world, &nbs[0].nb), EEXIST);
	while (mm_page_alloc(env.world, MM_GFP_ATOMIC | MM_GFP_NOWARN, NULL,
			     &pages[n]) == 0)
		n++;
	/* Priority 30 frees 8 pages; priority 10 runs after it and sees. */
	nbs[2].stash = &pages[n - 8];
	nbs[2].nstash = 8;
	n -= 8;
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_HIGH, NULL,
				&page));
	ASSERT_EQ(nlog, 3);
	ASSERT_EQ(log[0], 70);
	ASSERT_EQ(log[1], 30);
	ASSERT_EQ(log[2], 10);
	ASSERT_UEQ(nbs[1].seen, 0);
	ASSERT_UEQ(nbs[2].seen, 0);
	ASSERT_UEQ(nbs[0].seen, 8);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_notifier_calls, 3);
	ASSERT_UEQ(st.oom_notifier_freed, 8);
	ASSERT_UEQ(st.oom_kills, 0);

	for (int i = 0; i < 3; i++)
		ASSERT_OK(oom_notifier_unregister(env.world, &nbs[i].nb));
	ASSERT_ERR(oom_notifier_unregister(env.world, &nbs[0].nb), ENOENT);
	mm_page_put(env.world, page);
	mm_page_put_bulk(env.world, pages, n);
	mm_env_teardown(&env);
	return 0;
}

/* ---- a notifier that waits for a cleanup thread ---- */

struct cleanup {
	struct mm_world *world;
	struct page **pages;
	size_t n;			/* atomic: left to free */
	uint64_t freed;			/* atomic: total freed */
	bool stop;			/* atomic */
};

static void *cleanup_main(void *arg)
{
	struct cleanup *c = arg;

	/* A slow cleaner: 16 frames at a time, each batch "costing" CPU. */
	while (c->n && !atomic_load_acquire(&c->stop)) {
		size_t k = c->n < 16 ? c->n : 16;

		hw_cost_spend(200000);
		mm_page_put_bulk(c->world, c->pages + c->n - k, k);
		atomic_add_return(&c->freed, k);
		__atomic_store_n(&c->n, c->n - k, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * Waits until the cleaner has freed a batch since the call (or has none
 * left): a wait on progress, not on time, so that the test asserts the
 * same on every run however the threads are scheduled.
 */
static int cleanup_notify(void *ctx, unsigned long *freed)
{
	struct cleanup *c = ctx;
	uint64_t before = atomic_load_acquire(&c->freed);

	if (*freed > 1024)
		return 0;
	while (atomic_load_acquire(&c->freed) == before &&
	       __atomic_load_n(&c->n, __ATOMIC_ACQUIRE))
		sched_yield();
	*freed += atomic_load_acquire(&c->freed) - before;
	return 0;
}

/* The recorded trace's "OOM wait" slices that got their memory. */
static uint64_t count_oom_wait_slices(void)
{
	char path[] = "/tmp/lazypv-oom-trace-XXXXXX", err[160];
	json_t *root, *e;
	uint64_t n = 0;
	size_t i;
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_OK(trace_write_chrome(path, err, sizeof(err)));
	root = json_load_file(path, 0, NULL);
	unlink(path);
	ASSERT_NOT_NULL(root);
	json_array_foreach(json_object_get(root, "traceEvents"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *args = json_object_get(e, "args");

		if (name && !strcmp(name, "OOM wait") &&
		    json_integer_value(json_object_get(args, "ok")) == 1 &&
		    json_integer_value(json_object_get(args, "pages")) == 1)
			n++;
	}
	json_decref(root);
	return n;
}

TEST_IMPL(mm_oom_notifier_wait)
{
	static struct page *pages[4096], *got[4096];
	struct oom_notifier nb = { .fn = cleanup_notify, .priority = 70 };
	struct cleanup c = { 0 };
	struct mm_env env;
	struct mm_stats st;
	pthread_t thread;
	size_t n = 0, m = 0;

	mm_env_setup(&env, 16 * MiB, NULL);
	while (mm_page_alloc(env.world, MM_GFP_NOWARN, NULL, &pages[n]) == 0)
		n++;
	c.world = env.world;
	c.pages = pages;
	c.n = n;
	nb.ctx = &c;
	ASSERT_OK(oom_notifier_register(env.world, &nb));
	ASSERT_OK(trace_start(0));
	ASSERT_OK(pthread_create(&thread, NULL, cleanup_main, &c));
	/* Every allocation succeeds, pacing itself on the cleanup. */
	for (m = 0; m < n; m++)
		ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL, NULL,
					&got[m]));
	ASSERT_OK(pthread_join(thread, NULL));
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_kills, 0);
	ASSERT_GE(st.oom_notifier_calls, 1);
	ASSERT_GE(st.oom_notifier_freed, 1);
	ASSERT_GT(st.oom_stall_max_ns, 0);
	/* Every stall is in the histogram; its quantiles stay within the
	 * longest one and grow with the share. */
	{
		uint64_t in_hist = 0;

		for (unsigned int b = 0; b < MM_STALL_BUCKETS; b++)
			in_hist += st.oom_stall_hist[b];
		ASSERT_UEQ(in_hist, st.oom_waits);
	}
	ASSERT_GT(mm_stall_quantile_ns(&st, 0.5), 0);
	ASSERT_LE(mm_stall_quantile_ns(&st, 0.5),
		  mm_stall_quantile_ns(&st, 0.99));
	ASSERT_LE(mm_stall_quantile_ns(&st, 0.99), st.oom_stall_max_ns);
	/* Each wait is an "OOM wait" slice of the trace, with its outcome. */
	trace_stop();
	ASSERT_UEQ(count_oom_wait_slices(), st.oom_waits);
	trace_reset();
	ASSERT_OK(oom_notifier_unregister(env.world, &nb));
	mm_page_put_bulk(env.world, got, m);
	mm_env_teardown(&env);
	return 0;
}

/* ---- the stall histogram ---- */

/*
 * Every stall lands in the bucket whose bounds hold it, buckets are in
 * order and at most 25 % wide, and a quantile is the bound of the bucket
 * where the share is reached (never above the longest stall).
 */
TEST_IMPL(mm_oom_stall_histogram)
{
	static const uint64_t us[] = { 0, 1, 3, 4, 5, 7, 8, 100, 999, 1000,
				       4096, 5000, 65535, 1000000, 16777215 };
	struct mm_stats st;
	uint64_t prev = 0;

	for (unsigned int b = 0; b < MM_STALL_BUCKETS - 1; b++) {
		uint64_t hi = mm_stall_bucket_max_ns(b);

		ASSERT_GT(hi, prev);
		if (b >= 4)
			ASSERT_LE(hi - prev, prev / 4);
		/* The bucket's first and last microsecond map to it. */
		ASSERT_UEQ(mm_stall_bucket(prev), b);
		ASSERT_UEQ(mm_stall_bucket(hi - 1000), b);
		prev = hi;
	}
	for (size_t i = 0; i < ARRAY_SIZE(us); i++) {
		unsigned int b = mm_stall_bucket(us[i] * 1000 + 999);

		ASSERT_TRUE(us[i] * 1000 + 999 < mm_stall_bucket_max_ns(b));
		ASSERT_TRUE(b == 0 ||
			    us[i] * 1000 >= mm_stall_bucket_max_ns(b - 1));
	}
	/* The last bucket starts where the one before it ends and has no
	 * bound. */
	ASSERT_UEQ(mm_stall_bucket(prev), MM_STALL_BUCKETS - 1);
	ASSERT_UEQ(mm_stall_bucket(UINT64_MAX), MM_STALL_BUCKETS - 1);
	ASSERT_TRUE(mm_stall_bucket_max_ns(MM_STALL_BUCKETS - 1) == UINT64_MAX);

	memset(&st, 0, sizeof(st));
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 0.99), 0);
	/* 98 stalls of 1.5 ms, one of 6 ms, one of 40 ms. */
	st.oom_stall_hist[mm_stall_bucket(1500000)] = 98;
	st.oom_stall_hist[mm_stall_bucket(6000000)] = 1;
	st.oom_stall_hist[mm_stall_bucket(40000000)] = 1;
	st.oom_stall_max_ns = 40000000;
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 0.5),
		   mm_stall_bucket_max_ns(mm_stall_bucket(1500000)));
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 0.99),
		   mm_stall_bucket_max_ns(mm_stall_bucket(6000000)));
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 1.0), 40000000);
	/* The share is rounded up: of 60 stalls, p99 must cover all 60. */
	memset(&st, 0, sizeof(st));
	st.oom_stall_hist[mm_stall_bucket(1000000)] = 59;
	st.oom_stall_hist[mm_stall_bucket(9000000)] = 1;
	st.oom_stall_max_ns = 9000000;
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 0.99), 9000000);
	ASSERT_UEQ(mm_stall_quantile_ns(&st, 0.98),
		   mm_stall_bucket_max_ns(mm_stall_bucket(1000000)));
	/* A stall in the unbounded last bucket: the quantile is the longest. */
	st.oom_stall_hist[mm_stall_bucket(100000000000ULL)] = 1;
	st.oom_stall_max_ns = 100000000000ULL;
	ASSERT_TRUE(mm_stall_quantile_ns(&st, 1.0) == 100000000000ULL);
	return 0;
}

/* ---- victim selection and kill ---- */

static struct task *task_with_rss(struct mm_world *world, uint64_t n)
{
	struct task *task;
	uintptr_t addr;
	struct mm *mm;

	ASSERT_OK(task_create(world, NULL, NULL, 0, &task));
	mm = task_get_mm(task);
	ASSERT_OK(mm_mmap(mm, (n + 1) * HW_PAGE_SIZE,
			  MM_PROT_READ | MM_PROT_WRITE, &addr));
	for (uint64_t i = 0; i < n; i++)
		ASSERT_OK(mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL));
	ASSERT_UEQ(mm_rss(mm), n);
	mmput(mm);
	return task;
}

struct worker {
	struct task *task;
	uint64_t pages;			/* to fault before idling */
	uint64_t checks;		/* atomic: should_stop checks */
	bool ready;			/* atomic */
	int enter;
};

/* A thread of a process: faults its memory, then works (reads it back)
 * until it is told to stop. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct mm *mm = task_get_mm(w->task);
	uintptr_t addr;
	uint64_t v;

	w->enter = task_thread_enter(w->task);
	if (w->enter || !mm)
		goto out;
	ASSERT_OK(mm_mmap(mm, w->pages * HW_PAGE_SIZE,
			  MM_PROT_READ | MM_PROT_WRITE, &addr));
	for (uint64_t i = 0; i < w->pages; i++)
		ASSERT_OK(mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL));
	atomic_store_release(&w->ready, true);
	for (uint64_t i = 0; !task_should_stop(); i = (i + 1) % w->pages) {
		atomic_add_relaxed(&w->checks, 1);
		ASSERT_OK(mm_access(mm, addr + i * HW_PAGE_SIZE, &v, sizeof(v),
				    false));
		ASSERT_UEQ(v, 0);
	}
	mmput(mm);	/* drop ours first, so leaving ends the mm */
	mm = NULL;
	task_thread_leave(w->task);
out:
	if (mm)
		mmput(mm);
	return NULL;
}

TEST_IMPL(mm_oom_victim)
{
	static struct page *pages[16384];
	struct task *small, *big, *threaded;
	struct worker w = { 0 };
	struct mm_env env;
	struct mm_stats st;
	pthread_t thread;
	size_t n = 0;
	int code;

	mm_env_setup(&env, 16 * MiB, NULL);
	small = task_with_rss(env.world, 300);
	big = task_with_rss(env.world, 1000);
	/* Fill the machine with kernel pages. */
	while (mm_page_alloc(env.world, MM_GFP_NOWARN, NULL, &pages[n]) == 0)
		n++;

	/* 1: no threads: the biggest dies, the oom_reaper runs its exit. */
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL, NULL, &pages[n++]));
	ASSERT_OK(task_wait(big, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	ASSERT_EQ(task_get_state(small), TASK_RUNNING);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_kills, 1);

	/* Refill what the kill gave back. */
	while (mm_page_alloc(env.world, MM_GFP_NOWARN, NULL, &pages[n]) == 0)
		n++;
	mm_page_put_bulk(env.world, pages + n - 600, 600);
	n -= 600;
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &threaded));
	w.task = threaded;
	w.pages = 500;
	ASSERT_OK(pthread_create(&thread, NULL, worker_main, &w));
	while (!atomic_load_acquire(&w.ready))
		sched_yield();
	while (mm_page_alloc(env.world, MM_GFP_NOWARN, NULL, &pages[n]) == 0)
		n++;

	/* 2: the threaded task is the biggest now: its thread stops at its
	 * next check, and leaving runs the exit that frees the memory. */
	ASSERT_OK(mm_page_alloc(env.world, MM_GFP_KERNEL, NULL, &pages[n++]));
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_OK(w.enter);
	ASSERT_GT(w.checks, 0);
	ASSERT_OK(task_wait(threaded, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.oom_kills, 2);

	ASSERT_OK(task_kill(small));
	ASSERT_OK(task_wait(small, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	mm_page_put_bulk(env.world, pages, n);
	mm_env_teardown(&env);
	return 0;
}

/* Nothing to kill and nothing freed: bounded wait, then -ENOMEM. */
TEST_IMPL(mm_oom_enomem)
{
	static struct page *pages[4096];
	struct mm_config cfg;
	struct mm_env env;
	struct mm_stats st;
	struct page *page;
	uint64_t t0, dt;
	size_t n = 0;

	mm_test_config(&cfg);
	cfg.oom_kill = 0;
	cfg.oom_wait_ms = 200;
	mm_env_setup(&env, 16 * MiB, &cfg);
	while (mm_page_alloc(env.world, MM_GFP_ATOMIC | MM_GFP_NOWARN, NULL,
			     &pages[n]) == 0)
		n++;
	t0 = lpv_now_ns();
	ASSERT_ERR(mm_page_alloc(env.world, MM_GFP_KERNEL | MM_GFP_NOWARN,
				 NULL, &page), ENOMEM);
	dt = lpv_now_ns() - t0;
	ASSERT_GE(dt, 200000000ULL);
	ASSERT_LT(dt, 2000000000ULL);
	mm_stats_get(env.world, &st);
	ASSERT_GE(st.oom_stall_max_ns, 200000000ULL);
	ASSERT_UEQ(st.oom_kills, 0);
	mm_page_put_bulk(env.world, pages, n);
	mm_env_teardown(&env);
	return 0;
}
