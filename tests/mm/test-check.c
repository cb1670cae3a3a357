// SPDX-License-Identifier: MIT
/*
 * test-check.c - the validator itself: mm_check() must notice each kind of
 * damage it exists to catch (a free page still referenced, flagged or
 * charged; a page in use with no reference; a broken free-list link;
 * counters that disagree with the pages; memcg usage that disagrees with
 * its pages), say so, and hold again once the damage is undone.  Every
 * other test trusts it to fail when something is wrong.
 */
#include "mm_test.h"

/* Damage, check that mm_check sees it, undo, check that it holds. */
#define EXPECT_CAUGHT(world, damage, undo)				\
	do {								\
		damage;							\
		ASSERT_ERR(mm_check(world), EUCLEAN);			\
		undo;							\
		ASSERT_OK(mm_check(world));				\
	} while (0)

TEST_IMPL(mm_check_catches_damage)
{
	struct page *freep, *used, *many[16];
	struct mm_env env;
	struct memcg *cg;
	uint32_t link;

	mm_env_setup(&env, 16 * MiB, NULL);
	ASSERT_OK(memcg_create(env.world, "checked", 0, &cg));
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &freep));
	ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &used));
	mm_page_put(env.world, freep);	/* free, on the free list */
	ASSERT_OK(mm_check(env.world));

	EXPECT_CAUGHT(env.world, freep->refcount = 1, freep->refcount = 0);
	EXPECT_CAUGHT(env.world, page_set_flag(freep, PG_arch_1),
		      page_clear_flag(freep, PG_arch_1));
	EXPECT_CAUGHT(env.world, freep->memcg = cg, freep->memcg = NULL);
	EXPECT_CAUGHT(env.world, used->refcount = 0, used->refcount = 1);
	EXPECT_CAUGHT(env.world, used->memcg = cg, used->memcg = NULL);
	link = freep->prev_free;
	EXPECT_CAUGHT(env.world, freep->prev_free = link + 1,
		      freep->prev_free = link);
	/* A page whose use changed behind the counters' back. */
	EXPECT_CAUGHT(env.world, used->use = PAGE_USE_ANON,
		      used->use = PAGE_USE_KERNEL);

	/* More problems than are reported one by one: the total is said. */
	for (int i = 0; i < 16; i++) {
		ASSERT_OK(mm_page_alloc(env.world, 0, NULL, &many[i]));
		many[i]->refcount = 0;
	}
	ASSERT_ERR(mm_check(env.world), EUCLEAN);
	for (int i = 0; i < 16; i++) {
		many[i]->refcount = 1;
		mm_page_put(env.world, many[i]);
	}
	mm_page_put(env.world, used);
	ASSERT_OK(memcg_destroy(cg));
	mm_env_teardown(&env);
	return 0;
}

/* A world from the environment's options refuses a bad one, leaving
 * nothing; destroying no world is a no-op. */
TEST_IMPL(mm_world_env_refused)
{
	struct hw_config hc = { .mem_bytes = 16 * MiB,
				.protect = HW_PROTECT_SOFT };
	struct mm_world *world = NULL;
	struct hw_machine *hw;

	ASSERT_OK(hw_machine_create(&hc, &hw));
	setenv("LAZYPV_MM_OOM_WAIT_MS", "soon", 1);
	ASSERT_NE(mm_world_create(hw, NULL, &world), 0);
	ASSERT_NULL(world);
	unsetenv("LAZYPV_MM_OOM_WAIT_MS");
	ASSERT_OK(mm_world_create(hw, NULL, &world));
	mm_world_destroy(world);
	mm_world_destroy(NULL);
	ASSERT_OK(hw_check(hw));
	hw_machine_destroy(hw);
	return 0;
}
