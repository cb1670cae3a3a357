// SPDX-License-Identifier: MIT
/*
 * main.c - lazypv-sweep, the full failure-point sweep (`make sweep`):
 * every UVC and every page allocation of a small VMM life, failed one at
 * a time, in every teardown mode.  Prints per mode the points, the runs,
 * how the failed lives ended, leaks by reason and violations; exits 1 if
 * any run violated an invariant, hung, or leaked without a reason.
 *
 *   lazypv-sweep [--modes sync,lazy,...] [--per-group N] [--timeout S]
 *                [--only TEXT] [--groups] [--verbose]
 */
#include "sweep.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lazypv-sweep [--modes LIST] [--per-group N] [--timeout S]\n"
		"                    [--only TEXT] [--groups] [--verbose]\n"
		"  --modes LIST     teardown modes, comma-separated (default: all)\n"
		"  --per-group N    fail N points per UVC command / allocation kind,\n"
		"                   spread evenly (default 0: every point)\n"
		"  --timeout S      seconds one life may take before it is a hang (60)\n"
		"  --only TEXT      fail only the kinds whose name contains TEXT\n"
		"                   (\"uvc destroy_page\", \"alloc contig\")\n"
		"  --groups         print the coverage per command and allocation kind\n"
		"  --verbose        a line per run, and the lives' own warnings\n");
}

static int parse_uint(const char *opt, const char *s, unsigned int max,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "lazypv-sweep: %s: '%s' is not a number 0..%u\n",
			opt, s, max);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "modes", required_argument, NULL, 'm' },
		{ "per-group", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "groups", no_argument, NULL, 'g' },
		{ "only", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool want[VMM_DESTROY_NR], groups = false;
	struct sweep_opts o = { .out = stdout };
	uint64_t violations = 0;
	int c;

	for (int i = 0; i < VMM_DESTROY_NR; i++)
		want[i] = true;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			char *list = strdup(optarg), *save = NULL, *tok;

			for (int i = 0; i < VMM_DESTROY_NR; i++)
				want[i] = false;
			for (tok = strtok_r(list, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				enum vmm_destroy_mode m;

				if (vmm_destroy_mode_parse(tok, &m)) {
					fprintf(stderr, "lazypv-sweep: --modes: unknown mode '%s'\n",
						tok);
					return 2;
				}
				want[m] = true;
			}
			free(list);
			break;
		}
		case 'p':
			if (parse_uint("--per-group", optarg, 1000000, &o.per_group))
				return 2;
			break;
		case 't':
			if (parse_uint("--timeout", optarg, 3600, &o.timeout_s))
				return 2;
			break;
		case 'o':
			o.only = optarg;
			break;
		case 'g':
			groups = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lazypv-sweep: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (o.per_group)
		printf("failure-point sweep: up to %u points per kind, ", o.per_group);
	else
		printf("failure-point sweep: every point, ");
	printf("one failing per life (16 MiB guest: boot, reboot, shutdown)\n");
	for (int m = 0; m < VMM_DESTROY_NR; m++) {
		struct sweep_report rep;

		if (!want[m])
			continue;
		o.mode = (enum vmm_destroy_mode)m;
		if (sweep_mode(&o, &rep))
			violations++;
		sweep_report_print(&rep, stdout, groups);
		fflush(stdout);
		violations += rep.violations;
	}
	printf("violations: %llu\n", (unsigned long long)violations);
	return violations ? 1 : 0;
}
