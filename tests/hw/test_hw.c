// SPDX-License-Identifier: MIT
/*
 * Tests of src/hw: sizes, the two views, protection raising 0x3d in both
 * modes (and through the real MMU in GUARD mode), unresolved faults, the
 * cost clock.  Every test ends with hw_check().
 */
#include "test.h"

#include <pthread.h>
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
	if (!guard_available()) {
		fprintf(stderr, "# skip: no MADV_GUARD_INSTALL on shared mappings\n");
		return 0;
	}
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

	if (!guard_available()) {
		fprintf(stderr, "# skip: no MADV_GUARD_INSTALL on shared mappings\n");
		return 0;
	}
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

/* The clock may overshoot on a busy machine, never undershoot. */
TEST_IMPL(hw_cost_clock_never_short)
{
	static const uint64_t ns[] = { 0, 50, 200, 1000, 25000, 1000000 };

	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		for (int rep = 0; rep < 20; rep++) {
			uint64_t t0 = hw_now_ns();

			hw_cost_spend(ns[i]);
			ASSERT_GE(hw_now_ns() - t0, ns[i]);
		}
	}
	return 0;
}
