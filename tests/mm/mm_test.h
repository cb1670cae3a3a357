/* SPDX-License-Identifier: MIT */
/*
 * mm_test.h - shared setup for the tests of src/mm/: a machine of a few
 * MiB with an mm world on top, torn down through mm_check() and hw_check()
 * so that every test ends by proving nothing leaked or drifted.
 */
#ifndef LAZYPV_TESTS_MM_TEST_H
#define LAZYPV_TESTS_MM_TEST_H

#include "test.h"

#include "hw/hw.h"
#include "lib/lib.h"
#include "mm/mm.h"

#define MiB (1024ULL * 1024)

struct mm_env {
	struct hw_machine *hw;
	struct mm_world *world;
};

/* Defaults (and environment), with a short OOM wait for tests. */
static inline void mm_test_config(struct mm_config *cfg)
{
	ASSERT_OK(mm_config_init(cfg));
	cfg->oom_wait_ms = 500;
}

static inline void mm_env_setup(struct mm_env *env, uint64_t mem_bytes,
				const struct mm_config *cfg)
{
	struct hw_config hc = { .mem_bytes = mem_bytes,
				.protect = HW_PROTECT_AUTO };
	struct mm_config def;

	if (!cfg) {
		mm_test_config(&def);
		cfg = &def;
	}
	ASSERT_OK(hw_machine_create(&hc, &env->hw));
	ASSERT_OK(mm_world_create(env->hw, cfg, &env->world));
}

static inline void mm_env_teardown(struct mm_env *env)
{
	ASSERT_OK(mm_check(env->world));
	ASSERT_OK(hw_check(env->hw));
	mm_world_destroy(env->world);
	hw_machine_destroy(env->hw);
}

static inline uint64_t mm_test_use(struct mm_world *world, enum page_use use)
{
	struct mm_stats st;

	mm_stats_get(world, &st);
	return st.use[use];
}

static inline uint64_t mm_test_leaked(struct mm_world *world,
				      enum mm_leak_reason reason)
{
	struct mm_stats st;

	mm_stats_get(world, &st);
	return st.leaked[reason];
}

/* xorshift64*: the seeded tests' generator. */
static inline uint64_t mm_test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

#endif /* LAZYPV_TESTS_MM_TEST_H */
