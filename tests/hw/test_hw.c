// SPDX-License-Identifier: MIT
/*
 * Tests of src/hw: sizes, the two views, protection raising 0x3d in both
 * modes (and through the real MMU in GUARD mode), unresolved faults, the
 * cost clock.  Every test ends with hw_check().
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hw/hw.h"
#include "lib/lib.h"

#define MIB (1ULL << 20)

struct fault_log {
	int calls;
	hw_pfn_t last_pfn;
	int last_code;
	bool resolve;		/* unprotect the frame and retry */
	struct hw_machine *hw;
};

static int record_fault(void *ctx, const struct hw_pgm_info *info)
{
	struct fault_log *log = ctx;

	__atomic_add_fetch(&log->calls, 1, __ATOMIC_RELAXED);
	log->last_pfn = info->pfn;
	log->last_code = info->code;
	if (!log->resolve)
		return -EFAULT;
	return hw_frame_unprotect(log->hw, info->pfn);
}

static struct hw_machine *machine(uint64_t bytes, enum hw_protect_mode mode)
{
	struct hw_config cfg = { .mem_bytes = bytes, .protect = mode };
	struct hw_machine *hw;

	ASSERT_OK(hw_machine_create(&cfg, &hw));
	return hw;
}

static bool guard_available(void)
{
	struct hw_config cfg = { .mem_bytes = 64 * 1024, .protect = HW_PROTECT_GUARD };
	struct hw_machine *hw;

	if (hw_machine_create(&cfg, &hw))
		return false;
	hw_machine_destroy(hw);
	return true;
}

/* Tests of the real-MMU mode pass (with a note) where the kernel lacks it. */
#define SKIP_WITHOUT_GUARD()						\
	do {								\
		if (!guard_available()) {				\
			fprintf(stderr, "# skip: no MADV_GUARD_INSTALL on shared mappings\n"); \
			return 0;					\
		}							\
	} while (0)

static void finish(struct hw_machine *hw)
{
	ASSERT_OK(hw_check(hw));
	hw_machine_destroy(hw);
}

TEST_IMPL(hw_create_rejects_bad_sizes)
{
	struct hw_config cfg = { .protect = HW_PROTECT_AUTO };
	struct hw_machine *hw = (void *)1;

	cfg.mem_bytes = 0;
	ASSERT_ERR(hw_machine_create(&cfg, &hw), EINVAL);
	ASSERT_NULL(hw);
	cfg.mem_bytes = 4096 + 100;
	ASSERT_ERR(hw_machine_create(&cfg, &hw), EINVAL);
	cfg.mem_bytes = 1ULL << 50;	/* a petabyte: nobody can back that */
	ASSERT_ERR(hw_machine_create(&cfg, &hw), E2BIG);
	cfg.mem_bytes = 4 * MIB;
	cfg.protect = 42;
	ASSERT_ERR(hw_machine_create(&cfg, &hw), EINVAL);
	return 0;
}

TEST_IMPL(hw_views_alias)
{
	struct hw_machine *hw = machine(4 * MIB, HW_PROTECT_AUTO);
	uint64_t n = hw_nr_frames(hw);
	char buf[16];

	ASSERT_UEQ(n, 1024);
	ASSERT_UEQ(hw_mem_bytes(hw), 4 * MIB);
	for (hw_pfn_t pfn = 0; pfn < n; pfn += 97) {
		uint64_t *fw = hw_fw_page(hw, pfn);
		uint64_t *host = hw_host_page(hw, pfn);

		ASSERT_PTR_NE(fw, host);
		fw[3] = 0xabc000 + pfn;
		ASSERT_UEQ(host[3], 0xabc000 + pfn);
		host[7] = pfn;
		ASSERT_UEQ(fw[7], pfn);
		ASSERT_UEQ(hw_host_addr_to_pfn(hw, &host[7]), pfn);
	}
	ASSERT_UEQ(hw_host_addr_to_pfn(hw, buf), HW_PFN_INVALID);
	hw_frame_clear_fw(hw, 97);
	ASSERT_UEQ(((uint64_t *)hw_host_page(hw, 97))[3], 0);
	finish(hw);
	return 0;
}

static int protect_raises_0x3d(enum hw_protect_mode mode)
{
	struct hw_machine *hw = machine(1 * MIB, mode);
	struct fault_log log = { .resolve = true, .hw = hw };
	struct hw_stats st;
	uint64_t *p;

	hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, record_fault, &log);
	((uint64_t *)hw_fw_page(hw, 5))[0] = 0x5ec0de;
	ASSERT_OK(hw_frame_protect(hw, 5));
	ASSERT_OK(hw_frame_protect(hw, 5));	/* idempotent */
	ASSERT_TRUE(hw_frame_is_protected(hw, 5));
	/* The firmware view is never protected. */
	ASSERT_UEQ(((uint64_t *)hw_fw_page(hw, 5))[0], 0x5ec0de);
	ASSERT_EQ(log.calls, 0);

	p = hw_host_page(hw, 5);
	ASSERT_UEQ(p[0], 0x5ec0de);	/* fault, handler unprotects, retry */
	ASSERT_EQ(__atomic_load_n(&log.calls, __ATOMIC_SEQ_CST), 1);
	ASSERT_UEQ(log.last_pfn, 5);
	ASSERT_EQ(log.last_code, 0x3d);
	ASSERT_FALSE(hw_frame_is_protected(hw, 5));
	ASSERT_UEQ(p[0], 0x5ec0de);	/* no second fault */
	ASSERT_EQ(log.calls, 1);

	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.protects, 1);
	ASSERT_UEQ(st.unprotects, 1);
	ASSERT_UEQ(st.pgm_3d, 1);
	ASSERT_UEQ(st.protected_now, 0);
	ASSERT_EQ(hw_protect_mode(hw), mode);
	finish(hw);
	return 0;
}

TEST_IMPL(hw_protect_raises_0x3d_guard)
{
	SKIP_WITHOUT_GUARD();
	return protect_raises_0x3d(HW_PROTECT_GUARD);
}

TEST_IMPL(hw_protect_raises_0x3d_soft)
{
	return protect_raises_0x3d(HW_PROTECT_SOFT);
}

/* GUARD mode protects every pointer, not just the accessor's. */
TEST_IMPL(hw_guard_catches_raw_pointer)
{
	struct hw_machine *hw;
	struct fault_log log = { .resolve = true };
	volatile uint64_t *p;
	struct hw_stats st;

	SKIP_WITHOUT_GUARD();
	hw = machine(1 * MIB, HW_PROTECT_GUARD);
	log.hw = hw;
	hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, record_fault, &log);
	p = hw_host_page(hw, 9);	/* taken while accessible */
	p[1] = 77;
	ASSERT_OK(hw_frame_protect(hw, 9));
	p[2] = 78;			/* MMU fault -> 0x3d -> retry */
	/* The handler ran inside the store: read what it wrote atomically. */
	ASSERT_EQ(__atomic_load_n(&log.calls, __ATOMIC_SEQ_CST), 1);
	ASSERT_UEQ(((uint64_t *)hw_fw_page(hw, 9))[1], 77);
	ASSERT_UEQ(((uint64_t *)hw_fw_page(hw, 9))[2], 78);
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.mmu_faults, 1);
	finish(hw);
	return 0;
}

TEST_IMPL(hw_unresolved_copy_efault)
{
	enum hw_protect_mode modes[] = { HW_PROTECT_SOFT, HW_PROTECT_GUARD };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		struct hw_machine *hw;
		struct fault_log log = { .resolve = false };
		char buf[8] = "secret!";
		char out[8] = { 0 };

		if (modes[i] == HW_PROTECT_GUARD && !guard_available())
			continue;
		hw = machine(1 * MIB, modes[i]);
		log.hw = hw;
		hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, record_fault, &log);
		memcpy(hw_fw_page(hw, 3), buf, sizeof(buf));
		ASSERT_OK(hw_frame_protect(hw, 3));
		ASSERT_ERR(hw_host_read(hw, 3, 0, out, sizeof(out)), EFAULT);
		ASSERT_EQ(out[0], 0);	/* nothing leaked to the host */
		ASSERT_ERR(hw_host_write(hw, 3, 0, "x", 1), EFAULT);
		ASSERT_EQ(((char *)hw_fw_page(hw, 3))[0], 's');
		ASSERT_GE(log.calls, 2);
		ASSERT_TRUE(hw_frame_is_protected(hw, 3));
		ASSERT_ERR(hw_host_read(hw, 3, 4090, out, 8), ERANGE);
		/* Unprotected frames copy normally. */
		ASSERT_OK(hw_host_write(hw, 4, 10, buf, sizeof(buf)));
		ASSERT_OK(hw_host_read(hw, 4, 10, out, sizeof(out)));
		ASSERT_STR_EQ(out, "secret!");
		ASSERT_OK(hw_frame_unprotect(hw, 3));
		finish(hw);
	}
	return 0;
}

/* A host-kernel access to secure storage nobody resolves is a BUG. */
TEST_IMPL(hw_unresolved_access_is_fatal)
{
	enum hw_protect_mode modes[] = { HW_PROTECT_SOFT, HW_PROTECT_GUARD };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		int status;
		pid_t pid;

		if (modes[i] == HW_PROTECT_GUARD && !guard_available())
			continue;
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct hw_machine *hw = machine(1 * MIB, modes[i]);
			struct fault_log log = { .resolve = false, .hw = hw };

			hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS,
					record_fault, &log);
			ASSERT_OK(hw_frame_protect(hw, 1));
			*(volatile char *)hw_host_page(hw, 1) = 1;
			_exit(0);	/* must not get here */
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(WTERMSIG(status), SIGABRT);
	}
	return 0;
}

/* A segfault outside any machine still kills the process. */
TEST_IMPL(hw_foreign_segv_not_swallowed)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct hw_machine *hw = machine(1 * MIB, HW_PROTECT_AUTO);

		(void)hw;
		signal(SIGABRT, SIG_DFL);
		volatile uintptr_t bad = 8;	/* not constant-folded */

		*(volatile int *)bad = 1;
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	/* Dies by the signal, or by the sanitizer's handler we chained to. */
	ASSERT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) != 0);
	return 0;
}

struct conc_arg {
	struct hw_machine *hw;
	hw_pfn_t first, count;
	unsigned int iters;
};

static int unprotect_handler(void *ctx, const struct hw_pgm_info *info)
{
	return hw_frame_unprotect(ctx, info->pfn);
}

static void *conc_worker(void *p)
{
	struct conc_arg *a = p;

	for (unsigned int it = 0; it < a->iters; it++) {
		for (hw_pfn_t pfn = a->first; pfn < a->first + a->count; pfn++) {
			uint64_t v = it * 1000 + pfn, got = 0;

			*(uint64_t *)hw_fw_page(a->hw, pfn) = v;
			if (hw_frame_protect(a->hw, pfn))
				abort();
			if (hw_host_read(a->hw, pfn, 0, &got, sizeof(got)) ||
			    got != v)
				abort();
		}
	}
	return NULL;
}

TEST_IMPL(hw_protect_concurrent)
{
	enum { THREADS = 4, PER = 32 };
	struct hw_machine *hw = machine(1 * MIB, HW_PROTECT_AUTO);
	struct conc_arg args[THREADS];
	pthread_t t[THREADS];
	struct hw_stats st;
	unsigned int iters = 200 / test_scale() + 1;

	hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, unprotect_handler, hw);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct conc_arg){ hw, (hw_pfn_t)i * PER, PER, iters };
		ASSERT_OK(pthread_create(&t[i], NULL, conc_worker, &args[i]));
	}
	for (int i = 0; i < THREADS; i++)
		ASSERT_OK(pthread_join(t[i], NULL));
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.protects, (uint64_t)THREADS * PER * iters);
	ASSERT_UEQ(st.unprotects, st.protects);
	ASSERT_UEQ(st.pgm_3d, st.protects);
	ASSERT_UEQ(st.protected_now, 0);
	finish(hw);
	return 0;
}

/*
 * The cost clock: one call may end early by what the thread's earlier
 * calls overshot (at most HW_COST_CARRY_MAX_NS), never more; a thread's
 * calls together never fall short of what they asked for by more than that
 * cap; a carry larger than a call is spent across several calls.
 */
TEST_IMPL(hw_cost_clock_never_short)
{
	static const uint64_t ns[] = { 0, 50, 200, 1000, 25000, 1000000 };
	uint64_t asked = 0, t_all = hw_now_ns();

	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		for (int rep = 0; rep < 20; rep++) {
			uint64_t t0 = hw_now_ns(), end;

			end = hw_cost_spend(ns[i]);
			asked += ns[i];
			if (!ns[i]) {
				ASSERT_UEQ(end, 0);
				continue;
			}
			ASSERT_GE(end, t0);
			ASSERT_GE(hw_now_ns() - t0 + HW_COST_CARRY_MAX_NS, ns[i]);
		}
	}
	ASSERT_GE(hw_now_ns() - t_all + HW_COST_CARRY_MAX_NS, asked);

	/* Calls shorter than the carry: a run of them still adds up. */
	for (int round = 0; round < 50; round++) {
		uint64_t t0 = hw_now_ns();

		hw_cost_spend(20000);		/* may leave a carry behind */
		for (int k = 0; k < 100; k++)
			hw_cost_spend(10);
		ASSERT_GE(hw_now_ns() - t0 + HW_COST_CARRY_MAX_NS, 21000);
	}

	/* Counting from an earlier start: the time since is part of it. */
	for (int round = 0; round < 20; round++) {
		uint64_t t0 = hw_now_ns(), end;

		while (hw_now_ns() - t0 < 3000)
			;			/* "bookkeeping" first */
		end = hw_cost_spend_since(t0, 5000);
		ASSERT_GE(end, t0);
		ASSERT_GE(end - t0 + HW_COST_CARRY_MAX_NS, 5000);
		ASSERT_UEQ(hw_cost_spend_since(t0, 0), 0);
	}
	return 0;
}

/* Touch every frame of [first, first + n) through raw host pointers. */
static void touch_frames(struct hw_machine *hw, hw_pfn_t first, hw_pfn_t n)
{
	for (hw_pfn_t pfn = first; pfn < first + n; pfn++)
		((volatile uint64_t *)hw_host_page(hw, pfn))[1] = pfn;
}

/*
 * Batched unprotect: queued frames count as unprotected at once, a full
 * queue flushes itself, a host access lifts one guard early (no 0x3d), a
 * protect of a queued frame wins, and after the end every guard is really
 * gone (raw accesses take no MMU fault).
 */
static int unprotect_batch(bool no_pm)
{
	struct hw_config cfg = { .mem_bytes = 4 * MIB,
				 .protect = HW_PROTECT_GUARD,
				 .no_process_madvise = no_pm };
	static const hw_pfn_t scattered[] = { 700, 702, 900 };
	struct fault_log log = { .resolve = false };
	struct hw_unprotect_batch b;
	struct hw_machine *hw;
	struct hw_stats st;
	char out[8];

	ASSERT_OK(hw_machine_create(&cfg, &hw));
	log.hw = hw;
	hw_pgm_register(hw, HW_PGM_SECURE_STORAGE_ACCESS, record_fault, &log);
	touch_frames(hw, 0, 1024);
	for (hw_pfn_t pfn = 0; pfn < 600; pfn++)
		ASSERT_OK(hw_frame_protect(hw, pfn));
	for (size_t i = 0; i < ARRAY_SIZE(scattered); i++)
		ASSERT_OK(hw_frame_protect(hw, scattered[i]));

	hw_unprotect_batch_begin(hw, &b);
	for (hw_pfn_t pfn = 600; pfn-- > 0;)	/* falling runs coalesce too */
		ASSERT_OK(hw_frame_unprotect(hw, pfn));
	for (size_t i = 0; i < ARRAY_SIZE(scattered); i++)
		ASSERT_OK(hw_frame_unprotect(hw, scattered[i]));
	ASSERT_OK(hw_frame_unprotect(hw, 900));	/* idempotent when queued */
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.unprotects, HW_UNPROTECT_BATCH);	/* the full queue */
	ASSERT_UEQ(st.unprotect_flushes, 1);
	ASSERT_UEQ(st.protected_now, 603 - HW_UNPROTECT_BATCH);
	for (hw_pfn_t pfn = 0; pfn < 600; pfn++)
		ASSERT_FALSE(hw_frame_is_protected(hw, pfn));
	ASSERT_FALSE(hw_frame_is_protected(hw, 900));

	/* A queued frame is accessible now: its guard goes at first use. */
	touch_frames(hw, 900, 1);
	touch_frames(hw, 0, 1);
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.unprotects_lazy, 2);
	ASSERT_UEQ(st.mmu_faults, 2);
	ASSERT_EQ(log.calls, 0);		/* no 0x3d for them */

	/* Protected again before the flush: it stays protected. */
	ASSERT_OK(hw_frame_protect(hw, 702));
	ASSERT_TRUE(hw_frame_is_protected(hw, 702));
	hw_unprotect_batch_end(&b);

	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.protects, 604);
	ASSERT_UEQ(st.unprotects, 603);
	ASSERT_UEQ(st.unprotects_lazy, 3);	/* + 702's, by the protect */
	ASSERT_UEQ(st.unprotects_batched, 600);
	ASSERT_UEQ(st.unprotect_flushes, 2);
	ASSERT_UEQ(st.protected_now, 1);
	ASSERT_TRUE(hw_frame_is_protected(hw, 702));
	ASSERT_ERR(hw_host_read(hw, 702, 0, out, sizeof(out)), EFAULT);
	ASSERT_EQ(log.calls, 1);

	/* Every lifted guard is really gone: raw accesses do not fault. */
	touch_frames(hw, 0, 600);
	touch_frames(hw, 700, 1);
	touch_frames(hw, 900, 1);
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.mmu_faults, 2);	/* the 2 above (the read checks first) */

	/* Nested brackets: the inner end flushes the outer queue. */
	{
		struct hw_unprotect_batch inner;

		ASSERT_OK(hw_frame_protect(hw, 10));
		ASSERT_OK(hw_frame_protect(hw, 11));
		hw_unprotect_batch_begin(hw, &b);
		ASSERT_OK(hw_frame_unprotect(hw, 10));
		hw_unprotect_batch_begin(hw, &inner);
		ASSERT_OK(hw_frame_unprotect(hw, 11));
		hw_unprotect_batch_end(&inner);
		hw_stats_get(hw, &st);
		ASSERT_UEQ(st.unprotects_batched, 602);
		touch_frames(hw, 10, 2);
		hw_unprotect_batch_end(&b);
		hw_stats_get(hw, &st);
		ASSERT_UEQ(st.mmu_faults, 2);
	}
	ASSERT_OK(hw_frame_unprotect(hw, 702));
	finish(hw);
	return 0;
}

TEST_IMPL(hw_unprotect_batch_guard)
{
	SKIP_WITHOUT_GUARD();
	ASSERT_OK(unprotect_batch(false));
	return unprotect_batch(true);	/* the one-madvise-per-range path */
}

/* SOFT mode has no guard to lift: a batch changes nothing. */
TEST_IMPL(hw_unprotect_batch_soft)
{
	struct hw_machine *hw = machine(1 * MIB, HW_PROTECT_SOFT);
	struct hw_unprotect_batch b;
	struct hw_stats st;

	ASSERT_OK(hw_frame_protect(hw, 4));
	hw_unprotect_batch_begin(hw, &b);
	ASSERT_OK(hw_frame_unprotect(hw, 4));
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.unprotects, 1);
	ASSERT_UEQ(st.protected_now, 0);
	hw_unprotect_batch_end(&b);
	hw_stats_get(hw, &st);
	ASSERT_UEQ(st.unprotects_batched, 0);
	ASSERT_UEQ(st.unprotect_flushes, 0);
	finish(hw);
	return 0;
}

struct batch_race {
	struct hw_machine *hw;
	hw_pfn_t n;
	int round;		/* atomic: frames of this round are queued */
	int rounds;
};

/* Touches each round's frames while the owner's batch is still open. */
static void *batch_toucher(void *p)
{
	struct batch_race *r = p;

	for (int round = 1; round <= r->rounds; round++) {
		while (__atomic_load_n(&r->round, __ATOMIC_ACQUIRE) < round)
			sched_yield();
		for (hw_pfn_t pfn = 0; pfn < r->n; pfn += 3)
			((volatile uint64_t *)hw_host_page(r->hw, pfn))[0] = pfn;
		__atomic_store_n(&r->round, -round, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Another thread's accesses lift queued guards while the owner flushes:
 * every frame ends unprotected exactly once, nothing hangs. */
TEST_IMPL(hw_unprotect_batch_concurrent_access)
{
	struct batch_race r = { .n = 200, .rounds = 100 / test_scale() + 1 };
	struct hw_stats st;
	pthread_t t;

	SKIP_WITHOUT_GUARD();
	r.hw = machine(1 * MIB, HW_PROTECT_GUARD);
	touch_frames(r.hw, 0, r.n);
	ASSERT_OK(pthread_create(&t, NULL, batch_toucher, &r));
	for (int round = 1; round <= r.rounds; round++) {
		struct hw_unprotect_batch b;

		for (hw_pfn_t pfn = 0; pfn < r.n; pfn++)
			ASSERT_OK(hw_frame_protect(r.hw, pfn));
		hw_unprotect_batch_begin(r.hw, &b);
		for (hw_pfn_t pfn = 0; pfn < r.n; pfn++)
			ASSERT_OK(hw_frame_unprotect(r.hw, pfn));
		__atomic_store_n(&r.round, round, __ATOMIC_RELEASE);
		if (round & 1)		/* flush while it touches, or after */
			while (__atomic_load_n(&r.round, __ATOMIC_ACQUIRE) != -round)
				sched_yield();
		hw_unprotect_batch_end(&b);
		while (__atomic_load_n(&r.round, __ATOMIC_ACQUIRE) != -round)
			sched_yield();
	}
	ASSERT_OK(pthread_join(t, NULL));
	hw_stats_get(r.hw, &st);
	ASSERT_UEQ(st.protects, (uint64_t)r.n * r.rounds);
	ASSERT_UEQ(st.unprotects, st.protects);
	ASSERT_UEQ(st.unprotects_batched + st.unprotects_lazy, st.protects);
	ASSERT_GE(st.unprotects_lazy, 1);	/* the odd rounds touched first */
	ASSERT_UEQ(st.pgm_3d, 0);
	finish(r.hw);
	return 0;
}

struct populate_log {
	unsigned int calls;
	uint64_t last_done;
	bool increasing, total_ok;
	uint64_t size;
};

static void populate_record(void *ctx, uint64_t done, uint64_t total)
{
	struct populate_log *log = ctx;

	if (done <= log->last_done || done > total)
		log->increasing = false;
	if (total != log->size)
		log->total_ok = false;
	log->last_done = done;
	log->calls++;
}

/*
 * Populating reports its progress slice by slice: done increasing, total
 * the machine's size, the last call with everything done; an unpopulated
 * machine makes no call.
 */
TEST_IMPL(hw_populate_reports_progress)
{
	/* Two full slices and a short one. */
	uint64_t size = 2 * HW_POPULATE_STEP + 6 * MIB;
	struct populate_log log = { .increasing = true, .total_ok = true,
				    .size = size };
	struct hw_config cfg = { .mem_bytes = size, .protect = HW_PROTECT_AUTO,
				 .populate = true,
				 .populate_progress = populate_record,
				 .populate_ctx = &log };
	struct hw_machine *hw;

	ASSERT_OK(hw_machine_create(&cfg, &hw));
	ASSERT_UEQ(log.calls, 3);
	ASSERT_TRUE(log.increasing);
	ASSERT_TRUE(log.total_ok);
	ASSERT_UEQ(log.last_done, size);
	finish(hw);

	log = (struct populate_log){ .increasing = true, .total_ok = true,
				     .size = size };
	cfg.populate = false;
	ASSERT_OK(hw_machine_create(&cfg, &hw));
	ASSERT_UEQ(log.calls, 0);
	finish(hw);
	return 0;
}
