// SPDX-License-Identifier: MIT
/* Tests of src/lib: size parsing/formatting, timed waits, helpers. */
#include "test.h"


#include "lib/lib.h"

TEST_IMPL(lib_parse_size)
{
	static const struct { const char *s; int ret; uint64_t v; } cases[] = {
		{ "4096", 0, 4096 },
		{ "64K", 0, 64ULL << 10 },
		{ "64k", 0, 64ULL << 10 },
		{ "256M", 0, 256ULL << 20 },
		{ "256MiB", 0, 256ULL << 20 },
		{ "1G", 0, 1ULL << 30 },
		{ "1gb", 0, 1ULL << 30 },
		{ "1.5G", 0, 3ULL << 29 },
		{ "2T", 0, 2ULL << 40 },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "-1G", -EINVAL, 0 },
		{ " 1G", -EINVAL, 0 },
		{ "1Q", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "1G ", -EINVAL, 0 },
		{ "0.3", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ "99999999999T", -ERANGE, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 12345;
		int ret = lpv_parse_size(cases[i].s, &v);

		if (ret != cases[i].ret)
			test_fail(__FILE__, __LINE__, "\"%s\": ret %d, want %d",
				  cases[i].s, ret, cases[i].ret);
		if (ret == 0)
			ASSERT_UEQ(v, cases[i].v);
	}
	return 0;
}

TEST_IMPL(lib_format_size)
{
	char buf[32];

	ASSERT_STR_EQ(lpv_format_size(512, buf, sizeof(buf)), "512 B");
	ASSERT_STR_EQ(lpv_format_size(1536, buf, sizeof(buf)), "1.50 KiB");
	ASSERT_STR_EQ(lpv_format_size(1ULL << 30, buf, sizeof(buf)), "1.00 GiB");
	return 0;
}

TEST_IMPL(lib_cond_timeout)
{
	struct lpv_mutex m;
	struct lpv_cond c;
	uint64_t start;

	lpv_mutex_init(&m);
	lpv_cond_init(&c);
	lpv_mutex_lock(&m);
	start = lpv_now_ns();
	/* Nobody signals: must time out, and not before the deadline. */
	ASSERT_FALSE(lpv_cond_wait_until(&c, &m, start + 20 * 1000 * 1000));
	ASSERT_GE(lpv_now_ns() - start, 20 * 1000 * 1000);
	lpv_mutex_assert_held(&m);
	lpv_mutex_unlock(&m);
	lpv_cond_deinit(&c);
	lpv_mutex_deinit(&m);
	return 0;
}

#include "lib/options.h"

TEST_IMPL(lib_options_table)
{
	uint64_t wait_ms, reserve, flag;
	const struct lpv_option tab[] = {
		{ "wait_ms", "LAZYPV_TEST_OPT_WAIT", LPV_OPT_UINT, 20, 0, 1000,
		  "how long", &wait_ms },
		{ "reserve", "LAZYPV_TEST_OPT_RESERVE", LPV_OPT_SIZE, 64 << 10, 0,
		  1 << 30, "how much", &reserve },
		{ "flag", NULL, LPV_OPT_BOOL, 1, 0, 1, "on or off", &flag },
	};
	char err[128] = "";

	unsetenv("LAZYPV_TEST_OPT_WAIT");
	setenv("LAZYPV_TEST_OPT_RESERVE", "1M", 1);
	ASSERT_OK(lpv_options_init(tab, ARRAY_SIZE(tab), err, sizeof(err)));
	ASSERT_UEQ(wait_ms, 20);
	ASSERT_UEQ(reserve, 1 << 20);
	ASSERT_UEQ(flag, 1);
	ASSERT_OK(lpv_option_set(tab, ARRAY_SIZE(tab), "flag", "off", err,
				 sizeof(err)));
	ASSERT_UEQ(flag, 0);
	ASSERT_ERR(lpv_option_set(tab, ARRAY_SIZE(tab), "wait_ms", "1001", err,
				  sizeof(err)), ERANGE);
	ASSERT_UEQ(wait_ms, 20);	/* a refused value changes nothing */
	ASSERT(strstr(err, "wait_ms=1001 out of range") != NULL);
	ASSERT_ERR(lpv_option_set(tab, ARRAY_SIZE(tab), "nope", "1", err,
				  sizeof(err)), ENOENT);
	setenv("LAZYPV_TEST_OPT_WAIT", "soon", 1);
	ASSERT_ERR(lpv_options_init(tab, ARRAY_SIZE(tab), err, sizeof(err)),
		   EINVAL);
	ASSERT(strstr(err, "LAZYPV_TEST_OPT_WAIT") != NULL);
	return 0;
}

/* Big tables: zeroed, writable, huge-page aligned; small ones too; the
 * overflowing request fails cleanly. */
TEST_IMPL(lib_alloc_table)
{
	static const size_t counts[] = { 1, 1000, 131072, 3000000 };

	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		size_t n = counts[i];
		uint64_t *t = lpv_alloc_table(n, sizeof(*t));

		ASSERT_NOT_NULL(t);
		if (n * sizeof(*t) >= (1U << 20))
			ASSERT_UEQ((uintptr_t)t & ((2U << 20) - 1), 0);
		for (size_t k = 0; k < n; k += 511)
			ASSERT_UEQ(t[k], 0);
		t[0] = 1;
		t[n - 1] = 2;
		lpv_free_table(t, n, sizeof(*t));
	}
	ASSERT_NULL(lpv_alloc_table(SIZE_MAX / 2, 4));
	lpv_free_table(NULL, 10, 10);
	return 0;
}

/* The lock wrapper's trylock, JSON strings with control characters, and
 * a trace line: small helpers every layer leans on. */
TEST_IMPL(lib_helpers)
{
	struct lpv_mutex m;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	lpv_mutex_init(&m);
	ASSERT_TRUE(lpv_mutex_trylock(&m));
	ASSERT_TRUE(lpv_mutex_is_held(&m));
	ASSERT_FALSE(lpv_mutex_trylock(&m));
	lpv_mutex_unlock(&m);
	ASSERT_TRUE(lpv_mutex_trylock(&m));
	lpv_mutex_unlock(&m);
	lpv_mutex_deinit(&m);

	f = open_memstream(&text, &len);
	ASSERT_NOT_NULL(f);
	lpv_json_str(f, "a\"b\\c\n\x01");
	ASSERT_EQ(fclose(f), 0);
	ASSERT_STR_EQ(text, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	free(text);

	lpv_trace_enable(true);
	lpv_trace("lib_helpers: trace line %d", 1);
	lpv_trace_enable(false);
	return 0;
}
