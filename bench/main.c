// SPDX-License-Identifier: MIT
/*
 * main.c - lazypv-bench: runs the micro-benchmarks of the lower layers and
 * prints figures (medians, ratios measured in the same run).
 *
 *   lazypv-bench [--runs N] [--arena SIZE] [--quick] [--json] [NAME...]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
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

static void usage(FILE *f, const char *argv0)
{
	fprintf(f, "usage: %s [--runs N] [--arena SIZE] [--quick] [--json] [NAME...]\n",
		argv0);
	fprintf(f, "benchmarks:\n");
	for (size_t i = 0; i < ARRAY_SIZE(benches); i++)
		fprintf(f, "  %-6s %s\n", benches[i].name, benches[i].what);
}

int main(int argc, char **argv)
{
	struct bench_ctx ctx = { .runs = 5, .arena_bytes = 1ULL << 30 };
	bool selected[ARRAY_SIZE(benches)] = { false }, any = false;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout, argv[0]);
			return 0;
		} else if (!strcmp(a, "--json")) {
			ctx.json = true;
		} else if (!strcmp(a, "--quick")) {
			ctx.quick = true;
		} else if (!strcmp(a, "--runs") && i + 1 < argc) {
			long v = strtol(argv[++i], NULL, 10);

			if (v < 1 || v > 64) {
				fprintf(stderr, "%s: --runs takes 1..64\n", argv[0]);
				return 2;
			}
			ctx.runs = (unsigned int)v;
		} else if (!strcmp(a, "--arena") && i + 1 < argc) {
			if (lpv_parse_size(argv[++i], &ctx.arena_bytes) ||
			    ctx.arena_bytes < (1 << 20) ||
			    ctx.arena_bytes % 4096) {
				fprintf(stderr, "%s: bad --arena size '%s' (page-aligned, >= 1M)\n",
					argv[0], argv[i]);
				return 2;
			}
		} else {
			size_t j;

			for (j = 0; j < ARRAY_SIZE(benches); j++)
				if (!strcmp(a, benches[j].name))
					break;
			if (j == ARRAY_SIZE(benches)) {
				fprintf(stderr, "%s: unknown benchmark or option '%s'\n",
					argv[0], a);
				usage(stderr, argv[0]);
				return 2;
			}
			selected[j] = any = true;
		}
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
