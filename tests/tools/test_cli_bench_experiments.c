// SPDX-License-Identifier: MIT
/*
 * test_cli_bench_experiments.c - `lazypv bench`'s side experiments at
 * tiny sizes, read back as JSON (jansson): shut down A / start B under
 * memcg pressure (both VMMs in one memcg: the memcg's OOM path is taken
 * and instant's notifier makes B wait) and under host pressure as CSV; instant's worker scaling with its projection.  Every
 * row holds its context keys and every figure `bench --figures` lists for
 * its table.  Timings are not judged, only that they were taken.
 */
#include "tools/cli.h"

#include <jansson.h>
#include <math.h>

#define MIB (1LL << 20)

/* The figure keys of table @table, from `bench --figures --json`. */
struct keys {
	const char *table;
	char key[32][40];
	size_t n;
};

static void key_line(json_t *j, size_t i, void *ctx)
{
	struct keys *k = ctx;
	const char *key = json_string_value(json_object_get(j, "key"));

	(void)i;
	ASSERT_NOT_NULL(key);
	ASSERT_NOT_NULL(json_string_value(json_object_get(j, "meaning")));
	if (strcmp(json_string_value(json_object_get(j, "bench")), k->table))
		return;
	ASSERT_LT(k->n, 32);
	snprintf(k->key[k->n++], sizeof(k->key[0]), "%s", key);
}

static void keys_of(struct cli *c, struct keys *k, const char *table)
{
	memset(k, 0, sizeof(*k));
	k->table = table;
	cli_run_env(c, "", "bench --figures --json");
	ASSERT_EQ(c->status, 0);
	cli_json_lines(c->out, key_line, k);
	ASSERT_GT(k->n, 3);
}

/* A figure: a number, or null where it does not apply (-1). */
static double num(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);

	if (!v || !(json_is_number(v) || json_is_null(v)))
		test_fail(__FILE__, __LINE__, "%s missing or not a number", key);
	return json_is_null(v) ? -1 : json_number_value(v);
}

static const char *str(json_t *row, const char *key)
{
	const char *s = json_string_value(json_object_get(row, key));

	if (!s)
		test_fail(__FILE__, __LINE__, "%s missing or not a string", key);
	return s;
}

struct oom_rows {
	const struct keys *k;
	size_t n, instant;
};

static void oom_row(json_t *j, size_t i, void *ctx)
{
	struct oom_rows *r = ctx;
	const char *mode;

	(void)i;
	ASSERT_EQ(strcmp(str(j, "bench"), "oom_a_then_b"), 0);
	ASSERT_EQ(strcmp(str(j, "pressure"), "memcg"), 0);
	ASSERT_EQ(json_integer_value(json_object_get(j, "guest_mem")), 64 * MIB);
	/* The memcg 1.25x a guest, the host half a guest above it. */
	ASSERT_EQ(json_integer_value(json_object_get(j, "memcg_limit")), 80 * MIB);
	ASSERT_EQ(json_integer_value(json_object_get(j, "host_mem")), 112 * MIB);
	ASSERT_TRUE(fabs(num(j, "host_ratio") - 1.25) < 1e-9);
	ASSERT_TRUE(json_is_boolean(json_object_get(j, "notifier")));
	ASSERT_TRUE(json_is_boolean(json_object_get(j, "b_killed")));
	ASSERT_TRUE(num(j, "destroy_page_ns") == 200000);
	for (size_t k = 0; k < r->k->n; k++)
		num(j, r->k->key[k]);
	/* 10 context keys, then the figures: nothing else. */
	ASSERT_EQ(json_object_size(j), 10 + r->k->n);
	/* Under memcg pressure every row has the memcg's counts. */
	ASSERT_TRUE(num(j, "memcg_oom_runs") >= 0);
	ASSERT_TRUE(num(j, "memcg_limit_hits") >= 0);
	ASSERT_TRUE(num(j, "a_reclaim_s") > 0);
	mode = str(j, "mode");
	if (!strcmp(mode, "instant")) {
		/* B met the limit while A's workers still held its memory,
		 * and instant's memcg notifier made it wait for them. */
		ASSERT_TRUE(num(j, "memcg_oom_runs") >= 1);
		ASSERT_TRUE(num(j, "notifier_waits") >= 1);
		ASSERT_TRUE(num(j, "oom_waits") >= 1);
		r->instant++;
	} else {
		test_fail(__FILE__, __LINE__, "unexpected mode %s", mode);
	}
	r->n++;
}

/*
 * --oom under memcg pressure, instant's row (the one that waits; ~15 s at
 * the default cleaning cost): the shared memcg's OOM path is what B
 * meets.  Under host
 * pressure with --oom-host-ratio 1.5, CSV: the context columns, then the
 * figures, a host of 1.5x.
 */
TEST_IMPL(cli_bench_oom_memcg)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct keys k;
	struct oom_rows rows = { .k = &k };

	ASSERT_NOT_NULL(c);
	keys_of(c, &k, "oom_a_then_b");
	cli_run_env(c, "", "bench --oom-only --oom-guest 64M --modes instant --oom-pressure memcg --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(cli_json_lines(c->out, oom_row, &rows), 1);
	ASSERT_EQ(rows.instant, 1);

	cli_run_env(c, "", "bench --oom-only --oom-guest 64M --modes sync --oom-pressure host --oom-host-ratio 1.5 --oom-destroy-cost 0 --csv");
	ASSERT_EQ(c->status, 0);
	{
		char want[2048] = "bench,pressure,mode,notifier,guest_mem,host_mem,"
				  "host_ratio,memcg_limit,destroy_page_ns,b_killed";
		size_t head = strcspn(c->out, "\n");

		for (size_t i = 0; i < k.n; i++) {
			strcat(want, ",");
			strcat(want, k.key[i]);
		}
		if (head != strlen(want) || strncmp(c->out, want, head))
			test_fail(__FILE__, __LINE__, "CSV header \"%.*s\", want \"%s\"",
				  (int)head, c->out, want);
		ASSERT_EQ(cli_count_lines(c->out), 2);
		/* host 1.5 x 64 MiB, no memcg limit (an empty field) */
		ASSERT_NOT_NULL(strstr(c->out + head + 1,
				       "oom_a_then_b,host,sync,true,67108864,100663296,1.50,,0,false,"));
	}
	cli_cleanup(c);
	free(c);
	return 0;
}

struct scaling_rows {
	const struct keys *k, *p;
	size_t rows, projections;
	double pps1;
};

static void scaling_row(json_t *j, size_t i, void *ctx)
{
	struct scaling_rows *r = ctx;
	const char *bench = str(j, "bench");

	(void)i;
	ASSERT_EQ(json_integer_value(json_object_get(j, "guest_mem")), 64 * MIB);
	if (!strcmp(bench, "instant_scaling")) {
		double w = num(j, "workers");

		/* Rows first, in the order asked. */
		ASSERT_EQ(r->projections, 0);
		ASSERT_TRUE(w == (double)r->rows + 1);
		ASSERT_EQ(strcmp(str(j, "profile"), "default"), 0);
		ASSERT_TRUE(num(j, "runs") == 1);
		ASSERT_TRUE(num(j, "cores") >= 1);
		ASSERT_TRUE(num(j, "floor_ns_per_page") > 0);
		for (size_t k = 0; k < r->k->n; k++)
			num(j, r->k->key[k]);
		ASSERT_EQ(json_object_size(j), 7 + r->k->n);
		ASSERT_TRUE(num(j, "reclaim_ms") > 0);
		ASSERT_TRUE(num(j, "cleanup_pages_per_s") > 0);
		ASSERT_TRUE(num(j, "worker_cpu_ns_per_page") > 0);
		ASSERT_TRUE(num(j, "worker_floor_share") > 0);
		/* The derived figures follow from the measured ones. */
		ASSERT_TRUE(fabs(num(j, "pages_per_s_per_worker") * w -
				 num(j, "cleanup_pages_per_s")) < 1e-6 *
			    num(j, "cleanup_pages_per_s") + 1e-6);
		if (w == 1) {
			ASSERT_TRUE(fabs(num(j, "speedup") - 1) < 1e-9);
			r->pps1 = num(j, "cleanup_pages_per_s");
		}
		ASSERT_TRUE(num(j, "speedup") > 0);
		r->rows++;
	} else if (!strcmp(bench, "instant_projection")) {
		double n = num(j, "cores"), s = num(j, "serial_fraction");

		ASSERT_TRUE(n == (r->projections ? 64 : 8));
		ASSERT_TRUE(num(j, "workers") == n);
		ASSERT_TRUE(json_is_false(json_object_get(j, "measured")));
		ASSERT_EQ(strcmp(str(j, "basis"), "amdahl_from_1_and_2_workers"), 0);
		for (size_t k = 0; k < r->p->n; k++)
			num(j, r->p->key[k]);
		ASSERT_EQ(json_object_size(j), 6 + r->p->n);
		ASSERT_TRUE(s >= 0 && s <= 1);
		ASSERT_TRUE(fabs(num(j, "speedup") - 1 / (s + (1 - s) / n)) < 1e-6);
		ASSERT_TRUE(num(j, "speedup") >= 1 - 1e-9 &&
			    num(j, "speedup") <= n + 1e-9);
		ASSERT_TRUE(fabs(num(j, "cleanup_pages_per_s") -
				 r->pps1 * num(j, "speedup")) < 1e-3 * r->pps1);
		r->projections++;
	} else {
		test_fail(__FILE__, __LINE__, "unexpected row %s", bench);
	}
}

/*
 * --scaling with a 64 MiB guest and 1, 2 workers: a row each with every
 * figure of its table, then the projection for 8 and 64 cores, marked
 * not measured and consistent with its own serial fraction.
 */
TEST_IMPL(cli_bench_scaling)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct keys k, p;
	struct scaling_rows rows = { .k = &k, .p = &p };

	ASSERT_NOT_NULL(c);
	keys_of(c, &k, "instant_scaling");
	keys_of(c, &p, "instant_projection");
	cli_expect_usage_error(c, "", "bench --scaling-workers 0", "--scaling-workers");
	cli_expect_usage_error(c, "", "bench --scaling-guest 1M", "--scaling-guest");
	cli_run_env(c, "", "bench --scaling-only --scaling-guest 64M --scaling-workers 1,2 --runs 1 --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(cli_json_lines(c->out, scaling_row, &rows), 4);
	ASSERT_EQ(rows.rows, 2);
	ASSERT_EQ(rows.projections, 2);
	cli_cleanup(c);
	free(c);
	return 0;
}
