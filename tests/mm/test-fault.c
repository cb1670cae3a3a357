// SPDX-License-Identifier: MIT
/*
 * test-fault.c - address spaces: host faults, munmap with VMA splits,
 * mm_get_user_page / mm_access / mm_pte_lock, the arch pte_clear hook with
 * the right `full` on munmap and exit_mmap, a v2-style "set aside" hook
 * (deferred list of page-sized chunks; memory stays charged until really
 * freed), mmu notifier order, and a 0x3d on a protected frame resolved by
 * the arch hook and retried.
 */
#include "mm_test.h"

#define RW (MM_PROT_READ | MM_PROT_WRITE)

TEST_IMPL(mm_fault_basic)
{
	struct mm_pte_ref ref;
	struct mm_env env;
	struct memcg *memcg;
	uintptr_t a, ro;
	struct task *task;
	struct page *page;
	hw_pfn_t pfn, pfn2;
	char buf[64];
	struct mm *mm;
	uint64_t v;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "vmm", 0, &memcg));
	ASSERT_OK(task_create(env.world, NULL, memcg, 0, &task));
	mm = task_get_mm(task);
	ASSERT_PTR_EQ(mm_memcg(mm), memcg);
	ASSERT_ERR(mm_mmap(mm, 100, RW, &a), EINVAL);
	ASSERT_ERR(mm_mmap(mm, HW_PAGE_SIZE, 0, &a), EINVAL);
	ASSERT_OK(mm_mmap(mm, 4 * MiB, RW, &a));
	ASSERT_OK(mm_mmap(mm, HW_PAGE_SIZE, MM_PROT_READ, &ro));
	ASSERT_GE(ro, a + 4 * MiB);

	/* A fault maps a zeroed, charged anon page; a second one finds it. */
	ASSERT_OK(mm_fault(mm, a + 5, true, &pfn));
	ASSERT_NE(pfn, 0);
	ASSERT_OK(mm_fault(mm, a, false, &pfn2));
	ASSERT_UEQ(pfn, pfn2);
	ASSERT_UEQ(mm_rss(mm), 1);
	ASSERT_UEQ(memcg_usage(memcg), 1);
	page = mm_pfn_to_page(env.world, pfn);
	ASSERT_EQ(page_use(page), PAGE_USE_ANON);
	ASSERT_EQ(page_ref_count(page), 1);
	ASSERT_ERR(mm_fault(mm, ro, true, NULL), EFAULT);
	ASSERT_OK(mm_fault(mm, ro, false, NULL));
	ASSERT_ERR(mm_fault(mm, a + 4 * MiB, false, NULL), EFAULT);

	/* Copies through the host view, across a page boundary. */
	memset(buf, 'x', sizeof(buf));
	ASSERT_OK(mm_access(mm, a + 2 * HW_PAGE_SIZE - 32, buf, sizeof(buf),
			    true));
	memset(buf, 0, sizeof(buf));
	ASSERT_OK(mm_access(mm, a + 2 * HW_PAGE_SIZE - 32, buf, sizeof(buf),
			    false));
	for (size_t i = 0; i < sizeof(buf); i++)
		ASSERT_EQ(buf[i], 'x');
	ASSERT_OK(mm_access(mm, a + 3 * MiB, &v, sizeof(v), false));
	ASSERT_UEQ(v, 0);
	ASSERT_UEQ(mm_rss(mm), 5);

	/* follow_page: a reference on top of the mapping's. */
	ASSERT_OK(mm_get_user_page(mm, a, true, &page));
	ASSERT_EQ(page_ref_count(page), 2);
	ASSERT_ERR(mm_get_user_page(mm, ro, true, &page), EFAULT);
	mm_page_put(env.world, mm_pfn_to_page(env.world, pfn));

	/* get_locked_pte */
	mm_mmap_read_lock(mm);
	ASSERT_OK(mm_pte_lock(mm, a + 100, &ref));
	ASSERT_TRUE(mm_pte_present(mm_pte_read(&ref)));
	ASSERT_TRUE(mm_pte_write(mm_pte_read(&ref)));
	ASSERT_UEQ(mm_pte_pfn(mm_pte_read(&ref)), pfn);
	mm_pte_unlock(&ref);
	ASSERT_ERR(mm_pte_lock(mm, a - HW_PAGE_SIZE, &ref), EFAULT);
	mm_mmap_read_unlock(mm);

	/* munmap the middle: the VMA splits, both halves keep working. */
	for (uintptr_t p = a; p < a + 4 * MiB; p += 64 * 1024)
		ASSERT_OK(mm_fault(mm, p, true, NULL));
	ASSERT_ERR(mm_munmap(mm, a + 1, HW_PAGE_SIZE), EINVAL);
	ASSERT_OK(mm_munmap(mm, a + 1 * MiB, 2 * MiB));
	ASSERT_ERR(mm_fault(mm, a + 2 * MiB, true, NULL), EFAULT);
	ASSERT_OK(mm_fault(mm, a + 1 * MiB - HW_PAGE_SIZE, true, NULL));
	ASSERT_OK(mm_fault(mm, a + 3 * MiB + HW_PAGE_SIZE, true, NULL));
	ASSERT_OK(mm_check(env.world));
	/* Shrink the head and tail, then a range with holes. */
	ASSERT_OK(mm_munmap(mm, a, HW_PAGE_SIZE));
	ASSERT_OK(mm_munmap(mm, a + 4 * MiB - HW_PAGE_SIZE, HW_PAGE_SIZE));
	ASSERT_ERR(mm_fault(mm, a, true, NULL), EFAULT);
	ASSERT_OK(mm_fault(mm, a + HW_PAGE_SIZE, true, NULL));
	ASSERT_OK(mm_check(env.world));
	ASSERT_OK(mm_munmap(mm, a, 4 * MiB));
	ASSERT_UEQ(mm_rss(mm), 1);	/* the read-only page */
	ASSERT_OK(mm_munmap(mm, a, 4 * MiB));	/* holes only: fine */

	mmput(mm);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	ASSERT_UEQ(memcg_usage(memcg), 0);
	ASSERT_OK(memcg_destroy(memcg));
	mm_env_teardown(&env);
	return 0;
}

/* ---- the event log shared by the hook tests ---- */

enum ev_kind { EV_INVALIDATE, EV_RELEASE, EV_CLEAR, EV_CLEAR_FULL };

struct ev {
	enum ev_kind kind;
	uintptr_t addr, end;
};

static struct ev evlog[4096];
static int nev;
static struct mm *hook_mm;

static void log_ev(enum ev_kind kind, uintptr_t addr, uintptr_t end)
{
	ASSERT_LT(nev, (int)ARRAY_SIZE(evlog));
	evlog[nev++] = (struct ev){ kind, addr, end };
}

static void log_pte_clear(void *ctx, struct mm *mm, const uintptr_t *addrs,
			  struct page *const *pages, size_t n, bool full)
{
	(void)ctx;
	ASSERT_PTR_EQ(mm, hook_mm);
	for (size_t i = 0; i < n; i++) {
		/* The mapping's reference is still there. */
		ASSERT_GE(page_ref_count(pages[i]), 1);
		ASSERT_EQ(page_use(pages[i]), PAGE_USE_ANON);
		log_ev(full ? EV_CLEAR_FULL : EV_CLEAR, addrs[i], 0);
	}
}

static void log_release(struct mmu_notifier *mn, struct mm *mm)
{
	(void)mn;
	ASSERT_PTR_EQ(mm, hook_mm);
	ASSERT_EQ(mm_users(mm), 0);
	/* Nothing unmapped yet. */
	ASSERT_UEQ(mm_rss(mm), 3);
	log_ev(EV_RELEASE, 0, 0);
}

static void log_invalidate(struct mmu_notifier *mn, struct mm *mm,
			   uintptr_t start, uintptr_t end)
{
	(void)mn; (void)mm;
	log_ev(EV_INVALIDATE, start, end);
}

static const struct mm_arch_ops log_arch = { .pte_clear = log_pte_clear };
static const struct mmu_notifier_ops log_mn_ops = {
	.release = log_release,
	.invalidate_range = log_invalidate,
};

TEST_IMPL(mm_hook_order)
{
	struct mmu_notifier mn = { .ops = &log_mn_ops };
	struct mm_env env;
	struct task *task;
	uintptr_t a;
	struct mm *mm;

	mm_env_setup(&env, 16 * MiB, NULL);
	mm_arch_register(env.world, &log_arch, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	mm = hook_mm = task_get_mm(task);
	ASSERT_OK(mmu_notifier_register(&mn, mm));
	ASSERT_OK(mm_mmap(mm, 16 * HW_PAGE_SIZE, RW, &a));
	for (int i = 0; i < 8; i++)
		ASSERT_OK(mm_fault(mm, a + i * HW_PAGE_SIZE, true, NULL));

	/* munmap: invalidate the range, then full = false per present PTE. */
	ASSERT_OK(mm_munmap(mm, a + 2 * HW_PAGE_SIZE, 8 * HW_PAGE_SIZE));
	ASSERT_EQ(nev, 7);
	ASSERT_EQ(evlog[0].kind, EV_INVALIDATE);
	ASSERT_UEQ(evlog[0].addr, a + 2 * HW_PAGE_SIZE);
	ASSERT_UEQ(evlog[0].end, a + 10 * HW_PAGE_SIZE);
	for (int i = 1; i < 7; i++) {
		ASSERT_EQ(evlog[i].kind, EV_CLEAR);
		ASSERT_UEQ(evlog[i].addr, a + (i + 1) * HW_PAGE_SIZE);
	}
	ASSERT_UEQ(mm_rss(mm), 2);
	ASSERT_OK(mm_fault(mm, a + 12 * HW_PAGE_SIZE, true, NULL));

	/* exit_mmap: release first, then full = true, no invalidate. */
	nev = 0;
	mmgrab(mm);
	mmput(mm);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_EQ(nev, 4);
	ASSERT_EQ(evlog[0].kind, EV_RELEASE);
	for (int i = 1; i < 4; i++)
		ASSERT_EQ(evlog[i].kind, EV_CLEAR_FULL);
	ASSERT_UEQ(evlog[1].addr, a);
	ASSERT_UEQ(evlog[3].addr, a + 12 * HW_PAGE_SIZE);
	ASSERT_OK(task_wait(task, NULL));
	mmu_notifier_unregister(&mn, mm);	/* after exit: still fine */
	ASSERT_ERR(mmu_notifier_register(&mn, mm), ESRCH);
	mmdrop(mm);
	mm_env_teardown(&env);
	return 0;
}

/* ---- the per-table hook ---- */

static hw_pfn_t table_log[64];
static uintptr_t table_addr[64];
static int table_n, table_calls;
static bool table_full;

static void table_pte_clear(void *ctx, struct mm *mm, const uintptr_t *addrs,
			    struct page *const *pages, size_t n, bool full)
{
	struct mm_world *world = ctx;

	ASSERT_PTR_EQ(mm, hook_mm);
	ASSERT_GE(n, 1);
	ASSERT_LE(n, MM_PTES_PER_TABLE);
	table_calls++;
	table_full = full;
	for (size_t i = 0; i < n; i++) {
		ASSERT_GE(page_ref_count(pages[i]), 1);	/* still mapped */
		ASSERT_LT(table_n, (int)ARRAY_SIZE(table_log));
		table_addr[table_n] = addrs[i];
		table_log[table_n++] = mm_page_to_pfn(world, pages[i]);
	}
}

/* pte_clear: once per page table with its present PTEs' addresses and
 * pages, in address order. */
TEST_IMPL(mm_hook_per_table)
{
	static const struct mm_arch_ops ops = { .pte_clear = table_pte_clear };
	const uintptr_t tsize = (uintptr_t)MM_PTES_PER_TABLE * HW_PAGE_SIZE;
	hw_pfn_t want[64];
	uintptr_t want_addr[64];
	uintptr_t a, first;
	struct mm_env env;
	struct task *task;
	int nwant = 0, tables = 0;
	struct mm *mm;

	mm_env_setup(&env, 16 * MiB, NULL);
	mm_arch_register(env.world, &ops, env.world);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	mm = hook_mm = task_get_mm(task);
	ASSERT_OK(mm_mmap(mm, 3 * tsize, RW, &a));
	/* Pages at both ends of the first whole table and one beyond. */
	first = (a + tsize - 1) & ~(tsize - 1);
	{
		const uintptr_t at[] = { first - HW_PAGE_SIZE, first,
					 first + 7 * HW_PAGE_SIZE,
					 first + tsize - HW_PAGE_SIZE,
					 first + tsize };

		for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
			if (at[i] < a || at[i] >= a + 3 * tsize)
				continue;
			ASSERT_OK(mm_fault(mm, at[i], true, &want[nwant]));
			want_addr[nwant] = at[i];
			if (!nwant || (at[i] & ~(tsize - 1)) !=
				      (at[i - 1] & ~(tsize - 1)))
				tables++;
			nwant++;
		}
	}
	ASSERT_GE(tables, 2);
	ASSERT_OK(mm_munmap(mm, a, 3 * tsize));
	ASSERT_EQ(table_calls, tables);
	ASSERT_FALSE(table_full);
	ASSERT_EQ(table_n, nwant);
	for (int i = 0; i < nwant; i++) {
		ASSERT_UEQ(table_log[i], want[i]);
		ASSERT_UEQ(table_addr[i], want_addr[i]);
	}
	mmput(mm);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}

/* Without a hook that handles it, a PG_arch_1 page unmapped is leaked. */
TEST_IMPL(mm_unmap_secure_leaks)
{
	struct mm_env env;
	struct task *task;
	struct page *page;
	uintptr_t a;
	struct mm *mm;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	mm = task_get_mm(task);
	ASSERT_OK(mm_mmap(mm, 2 * HW_PAGE_SIZE, RW, &a));
	ASSERT_OK(mm_get_user_page(mm, a, true, &page));
	page_set_flag(page, PG_arch_1);
	mm_page_put(env.world, page);
	ASSERT_OK(mm_munmap(mm, a, 2 * HW_PAGE_SIZE));
	ASSERT_EQ(page_use(page), PAGE_USE_LEAKED);
	ASSERT_UEQ(mm_test_leaked(env.world, MM_LEAK_secure_at_free), 1);
	mmput(mm);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}

/* ---- 0x3d: host access to a protected frame ---- */

struct resolver {
	struct mm_world *world;
	struct hw_machine *hw;
	int calls;
	int verdict;
};

static int resolve_make_accessible(void *ctx, struct page *page)
{
	struct resolver *r = ctx;

	r->calls++;
	if (r->verdict)
		return r->verdict;
	/* "export": make the frame host-accessible, then clear the flag. */
	ASSERT_OK(hw_frame_unprotect(r->hw, mm_page_to_pfn(r->world, page)));
	page_clear_flag(page, PG_arch_1);
	return 0;
}

TEST_IMPL(mm_pgm_3d)
{
	struct mm_arch_ops ops = { .make_accessible = resolve_make_accessible };
	struct resolver res = { 0 };
	struct mm_env env;
	struct task *task;
	struct mm_stats st;
	struct hw_stats hs;
	char in[32], out[32];
	hw_pfn_t pfn;
	uintptr_t a;
	struct mm *mm;

	mm_env_setup(&env, 16 * MiB, NULL);
	res.world = env.world;
	res.hw = env.hw;
	mm_arch_register(env.world, &ops, &res);
	ASSERT_OK(task_create(env.world, NULL, NULL, 0, &task));
	mm = task_get_mm(task);
	ASSERT_OK(mm_mmap(mm, HW_PAGE_SIZE, RW, &a));
	memset(in, 'q', sizeof(in));
	ASSERT_OK(mm_access(mm, a, in, sizeof(in), true));
	ASSERT_OK(mm_fault(mm, a, true, &pfn));

	/* The frame becomes "secure": the host view is protected. */
	page_set_flag(mm_pfn_to_page(env.world, pfn), PG_arch_1);
	ASSERT_OK(hw_frame_protect(env.hw, pfn));
	ASSERT_OK(mm_access(mm, a, out, sizeof(out), false));
	ASSERT_EQ(memcmp(in, out, sizeof(in)), 0);
	ASSERT_EQ(res.calls, 1);
	ASSERT_FALSE(hw_frame_is_protected(env.hw, pfn));
	ASSERT_FALSE(page_test_flag(mm_pfn_to_page(env.world, pfn), PG_arch_1));

	/* Unresolvable: the checked copy fails cleanly. */
	res.verdict = -EPERM;
	ASSERT_OK(hw_frame_protect(env.hw, pfn));
	ASSERT_ERR(mm_access(mm, a, out, sizeof(out), false), EFAULT);
	ASSERT_EQ(res.calls, 2);
	mm_stats_get(env.world, &st);
	ASSERT_UEQ(st.pgm_3d, 2);
	ASSERT_UEQ(st.pgm_3d_resolved, 1);
	hw_stats_get(env.hw, &hs);
	ASSERT_GE(hs.pgm_3d, 2);
	ASSERT_OK(hw_frame_unprotect(env.hw, pfn));

	mmput(mm);
	ASSERT_OK(task_exit(task, 0));
	ASSERT_OK(task_wait(task, NULL));
	mm_env_teardown(&env);
	return 0;
}
