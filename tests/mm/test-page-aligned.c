// SPDX-License-Identifier: MIT
/*
 * test-page-aligned.c - contiguous runs on an alignment boundary (the
 * kvm module's INIT_UV storage: the UV ignores its origin's low bits), on
 * machines whose size is not a multiple of the alignment.
 */
#include "mm_test.h"

/* The highest aligned run fitting below the top; none when only
 * unaligned room is free; bad alignments refused. */
TEST_IMPL(mm_page_alloc_contig_aligned)
{
	struct mm_env env;
	struct page *run, *hole;
	uint64_t n;

	/* 1028 frames: 4 beyond a 256-frame multiple. */
	mm_env_setup(&env, 4 * MiB + 16384, NULL);
	n = hw_nr_frames(env.hw);
	ASSERT_UEQ(n, 1028);
	ASSERT_OK(mm_page_alloc_contig_aligned(env.world, 0, NULL, 256, 256,
					       &run));
	/* 1028 - 256 = 772, down to 768: frames 1024..1027 stay free. */
	ASSERT_UEQ(mm_page_to_pfn(env.world, run), 768);
	for (int i = 0; i < 256; i++)
		mm_page_put(env.world, run + i);
	ASSERT_OK(mm_check(env.world));

	/* Frame 767 taken: the aligned run at 512 is the next one down. */
	ASSERT_OK(mm_page_alloc_contig_aligned(env.world, 0, NULL, 1, 767,
					       &hole));
	ASSERT_UEQ(mm_page_to_pfn(env.world, hole), 767);
	ASSERT_OK(mm_page_alloc_contig_aligned(env.world, 0, NULL, 300, 256,
					       &run));
	ASSERT_UEQ(mm_page_to_pfn(env.world, run), 256);
	for (int i = 0; i < 300; i++)
		mm_page_put(env.world, run + i);
	/* 600 free frames from 768 on, but no 512-aligned start below them
	 * has 600 free after it (767 is taken), and 768 is not aligned. */
	ASSERT_ERR(mm_page_alloc_contig_aligned(env.world, 0, NULL, 600, 512,
						&run), ENOMEM);
	mm_page_put(env.world, hole);
	ASSERT_ERR(mm_page_alloc_contig_aligned(env.world, 0, NULL, 1, 0, &run),
		   EINVAL);
	ASSERT_ERR(mm_page_alloc_contig_aligned(env.world, 0, NULL, 1, n + 1,
						&run), EINVAL);
	mm_env_teardown(&env);
	return 0;
}
