/* SPDX-License-Identifier: MIT */
/*
 * test.h - the test harness contract (after libuv's test/task.h).
 *
 * A test is `TEST_IMPL(name) { ...; return 0; }`, listed once as
 * TEST_ENTRY(name, timeout_seconds) in tests/list-<layer>.h.  The runner
 * (runner.c) forks one process per test, enforces the timeout (scaled by
 * LAZYPV_TEST_SCALE for sanitizer builds) and prints TAP.  Assertions print
 * both operands and abort the test process.
 */
#ifndef LAZYPV_TEST_H
#define LAZYPV_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_IMPL(name) int run_test_##name(void)

void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* Multiplier for work sizes and timeouts: 1 normally, >1 under sanitizers
 * (tests divide their iteration counts by it). */
unsigned int test_scale(void);
/* Seed for seeded tests: LAZYPV_TEST_SEED or a fixed default; printed. */
uint64_t test_seed(void);

#define ASSERT(expr)							\
	do {								\
		if (!(expr))						\
			test_fail(__FILE__, __LINE__,			\
				  "assertion failed: %s", #expr);	\
	} while (0)

#define ASSERT_BASE(a, op, b, type, fmt)				\
	do {								\
		type __a = (type)(a);					\
		type __b = (type)(b);					\
		if (!(__a op __b))					\
			test_fail(__FILE__, __LINE__,			\
				  "%s %s %s (" fmt " %s " fmt ")",	\
				  #a, #op, #b, __a, #op, __b);		\
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_BASE(a, ==, b, int64_t, "%" PRId64)
#define ASSERT_NE(a, b) ASSERT_BASE(a, !=, b, int64_t, "%" PRId64)
#define ASSERT_LT(a, b) ASSERT_BASE(a, <, b, int64_t, "%" PRId64)
#define ASSERT_LE(a, b) ASSERT_BASE(a, <=, b, int64_t, "%" PRId64)
#define ASSERT_GT(a, b) ASSERT_BASE(a, >, b, int64_t, "%" PRId64)
#define ASSERT_GE(a, b) ASSERT_BASE(a, >=, b, int64_t, "%" PRId64)
#define ASSERT_UEQ(a, b) ASSERT_BASE(a, ==, b, uint64_t, "%" PRIu64)
#define ASSERT_XEQ(a, b) ASSERT_BASE(a, ==, b, uint64_t, "0x%" PRIx64)
#define ASSERT_PTR_EQ(a, b) ASSERT_BASE(a, ==, b, const void *, "%p")
#define ASSERT_PTR_NE(a, b) ASSERT_BASE(a, !=, b, const void *, "%p")
#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a) ASSERT_PTR_NE(a, NULL)
#define ASSERT_TRUE(a) ASSERT_BASE(!!(a), ==, 1, int, "%d")
#define ASSERT_FALSE(a) ASSERT_BASE(!!(a), ==, 0, int, "%d")

/* 0-or-negative-errno calls: prints the errno name on failure. */
#define ASSERT_OK(expr)							\
	do {								\
		long __r = (long)(expr);				\
		if (__r != 0)						\
			test_fail(__FILE__, __LINE__, "%s = %ld (%s)",	\
				  #expr, __r,				\
				  __r < 0 ? strerror((int)-__r) : "?");	\
	} while (0)
#define ASSERT_ERR(expr, err)						\
	do {								\
		long __r = (long)(expr);				\
		if (__r != -(long)(err))				\
			test_fail(__FILE__, __LINE__,			\
				  "%s = %ld (%s), expected -%s",	\
				  #expr, __r,				\
				  __r < 0 ? strerror((int)-__r) : "no error", \
				  #err);				\
	} while (0)

#define ASSERT_STR_EQ(a, b)						\
	do {								\
		const char *__a = (a), *__b = (b);			\
		if (strcmp(__a, __b) != 0)				\
			test_fail(__FILE__, __LINE__,			\
				  "%s == %s (\"%s\" vs \"%s\")",	\
				  #a, #b, __a, __b);			\
	} while (0)

#endif /* LAZYPV_TEST_H */
