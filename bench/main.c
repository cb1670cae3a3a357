// SPDX-License-Identifier: MIT
/*
 * main.c - lazypv-bench: runs the micro-benchmarks of the lower layers and
 * prints figures (medians, ratios measured in the same run).
 *
 *   lazypv-bench [--runs N] [--arena SIZE] [--quick] [--json] [NAME...]
 *
 * Its options are a table (lib/cmdline.h), as every command's in the tree.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "lib/cmdline.h"
#include "lib/lib.h"

static const struct {
	const char *name;
	int (*fn)(const struct bench_ctx *);
	const char *what;
	bool by_default;
} benches[] = {
	{ "hw", bench_hw, "page clear, guard install/remove, cost clock", true },
	{ "mm", bench_mm, "page alloc+free, host faults, exit_mmap", true },
	{ "idle", bench_idle, "memory the hypervisor below takes while idle "
	  "(~4 min; only when named)", false },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, unsigned int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_report(const struct bench_ctx *ctx, const char *bench,
		  const char *name, double value, const char *unit,
		  const char *note)
{
	if (ctx->json) {
		printf("{\"bench\":");
		lpv_json_str(stdout, bench);
		printf(",\"figure\":");
		lpv_json_str(stdout, name);
		printf(",\"value\":%.6g,\"unit\":", value);
		lpv_json_str(stdout, unit);
		printf(",\"runs\":%u}\n", ctx->runs);
	} else {
		printf("  %-40s %12.2f %-8s %s\n", name, value, unit,
		       note ? note : "");
	}
	fflush(stdout);
}

double bench_clear_ns_per_page(void *mem, uint64_t pages, unsigned int runs)
{
	double samples[64];

	if (runs > 64)
		runs = 64;
	for (unsigned int r = 0; r < runs; r++) {
		uint64_t t0 = lpv_now_ns();

		for (uint64_t i = 0; i < pages; i++)
			memset((char *)mem + i * 4096, (int)(r + 1), 4096);
		samples[r] = (double)(lpv_now_ns() - t0) / (double)pages;
	}
	return bench_median(samples, runs);
}

#define O(field) LPV_CL_FIELD(struct bench_ctx, field)
static const struct lpv_cl_opt bench_opt_tab[] = {
	{ .name = "runs", .kind = LPV_CL_UINT, O(runs), .min = 1, .max = 64,
	  .help = "repetitions per figure, their median reported" },
	{ .name = "arena", .kind = LPV_CL_SIZE, O(arena_bytes),
	  .min = 1ULL << 20, .align = 4096,
	  .help = "memory to work over" },
	{ .name = "quick", .kind = LPV_CL_FLAG, O(quick),
	  .help = "a smoke run: smaller sizes, the arena at most 64M" },
	{ .name = "json", .kind = LPV_CL_FLAG, O(json),
	  .help = "one JSON object per figure" },
};
#undef O

static const struct bench_ctx bench_defaults = {
	.runs = 5,
	.arena_bytes = 1ULL << 30,
};

/* "benchmarks:" and each NAME, from benches[]: the help's notes. */
static const char *bench_notes(void)
{
	static char buf[1024];
	size_t n = (size_t)snprintf(buf, sizeof(buf),
				    "benchmarks (NAME; none named: the default ones):\n");

	for (size_t i = 0; i < ARRAY_SIZE(benches) && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "  %-6s %s%s\n",
				      benches[i].name, benches[i].what,
				      benches[i].by_default ? " (default)" : "");
	return buf;
}

int main(int argc, char **argv)
{
	struct lpv_cl_cmd cl = {
		.prog = "lazypv-bench",
		.summary = "the lower layers' micro-benchmarks",
		.description =
			"Run the micro-benchmarks of the lower layers and print figures:\n"
			"medians of --runs repetitions, ratios measured in the same run.\n"
			"Never fails on timing.\n",
		.args = "[NAME...]",
		.opts = bench_opt_tab,
		.nr_opts = ARRAY_SIZE(bench_opt_tab),
		.defaults = &bench_defaults,
		.max_args = UINT_MAX,
	};
	struct bench_ctx ctx = bench_defaults;
	bool selected[ARRAY_SIZE(benches)] = { false }, any = false;
	struct lpv_cl_result res;
	int failed = 0, status;

	cl.notes = bench_notes();
	status = lpv_cl_parse_main(&cl, argc, argv, &ctx, &res);
	lpv_cl_release(&res);
	if (status >= 0)
		return status;
	for (int i = res.args; i < argc; i++) {
		size_t j;

		for (j = 0; j < ARRAY_SIZE(benches); j++)
			if (!strcmp(argv[i], benches[j].name))
				break;
		if (j == ARRAY_SIZE(benches)) {
			char names[128];
			size_t n = 0;

			for (size_t k = 0; k < ARRAY_SIZE(benches) && n < sizeof(names); k++)
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
						      k ? ", " : "", benches[k].name);
			lpv_cl_error(&cl, stderr, "unknown benchmark '%s' (one of: %s)",
				     argv[i], names);
			return 2;
		}
		selected[j] = any = true;
	}
	if (ctx.quick && ctx.arena_bytes > (64ULL << 20))
		ctx.arena_bytes = 64ULL << 20;
	for (size_t j = 0; j < ARRAY_SIZE(benches); j++) {
		int ret;

		if (any ? !selected[j] : !benches[j].by_default)
			continue;
		if (!ctx.json)
			printf("== %s: %s (median of %u runs)\n", benches[j].name,
			       benches[j].what, ctx.runs);
		ret = benches[j].fn(&ctx);
		if (ret) {
			fprintf(stderr, "bench %s: %s\n", benches[j].name,
				strerror(-ret));
			failed = 1;
		}
	}
	return failed;
}
