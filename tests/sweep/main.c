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
 *
 * Its options are a table (lib/cmdline.h), as every command's in the tree.
 */
#include "sweep.h"

#include <stdlib.h>
#include <string.h>

#include "lib/cmdline.h"
#include "lib/lib.h"

struct sweep_main_opts {
	bool modes[VMM_DESTROY_NR];
	unsigned int per_group, timeout_s;
	const char *only;
	bool groups, verbose;
};

static const char *sweep_mode_name(unsigned int i)
{
	return vmm_destroy_mode_name((enum vmm_destroy_mode)i);
}

#define O(field) LPV_CL_FIELD(struct sweep_main_opts, field)
static const struct lpv_cl_opt sweep_opt_tab[] = {
	{ .name = "modes", .kind = LPV_CL_LIST, .item = LPV_CL_ENUM, O(modes),
	  .name_of = sweep_mode_name, .nr = VMM_DESTROY_NR,
	  .help = "teardown modes" },
	{ .name = "per-group", .kind = LPV_CL_UINT, O(per_group), .max = 1000000,
	  .help = "fail N points per UVC command / allocation kind, spread evenly; 0: every point" },
	{ .name = "timeout", .kind = LPV_CL_UINT, O(timeout_s), .max = 3600,
	  .metavar = "S",
	  .help = "seconds one life may take before it is a hang; 0: 60" },
	{ .name = "only", .kind = LPV_CL_STRING, O(only), .metavar = "TEXT",
	  .help = "fail only the kinds whose name contains TEXT (\"uvc destroy_page\", \"alloc contig\")" },
	{ .name = "groups", .kind = LPV_CL_FLAG, O(groups),
	  .help = "print the coverage per command and allocation kind" },
	{ .name = "verbose", .kind = LPV_CL_FLAG, O(verbose),
	  .help = "a line per run, and the lives' own warnings" },
};
#undef O

static const struct sweep_main_opts sweep_defaults = {
	.modes = { [0 ... VMM_DESTROY_NR - 1] = true },
	.timeout_s = 60,
};

static const struct lpv_cl_cmd sweep_cl = {
	.prog = "lazypv-sweep",
	.summary = "the full failure-point sweep",
	.description =
		"Fail every UVC and every page allocation of a small VMM life, one\n"
		"per life, in each teardown mode; print per mode the points, the runs,\n"
		"how the failed lives ended, leaks by reason and violations.  Exits 1\n"
		"if a run violated an invariant, hung, or leaked without a reason.\n",
	.opts = sweep_opt_tab,
	.nr_opts = ARRAY_SIZE(sweep_opt_tab),
	.defaults = &sweep_defaults,
};

int main(int argc, char **argv)
{
	struct sweep_main_opts m = sweep_defaults;
	struct sweep_opts o = { .out = stdout };
	struct lpv_cl_result res;
	uint64_t violations = 0;
	int ret;

	ret = lpv_cl_parse_main(&sweep_cl, argc, argv, &m, &res);
	lpv_cl_release(&res);
	if (ret >= 0)
		return ret;
	o.per_group = m.per_group;
	o.timeout_s = m.timeout_s;
	o.only = m.only;
	o.verbose = m.verbose;
	if (o.per_group)
		printf("failure-point sweep: up to %u points per kind, ", o.per_group);
	else
		printf("failure-point sweep: every point, ");
	printf("one failing per life (16 MiB guest: boot, reboot, shutdown)\n");
	for (int mode = 0; mode < VMM_DESTROY_NR; mode++) {
		struct sweep_report rep;

		if (!m.modes[mode])
			continue;
		o.mode = (enum vmm_destroy_mode)mode;
		if (sweep_mode(&o, &rep))
			violations++;
		sweep_report_print(&rep, stdout, m.groups);
		fflush(stdout);
		violations += rep.violations;
	}
	printf("violations: %llu\n", (unsigned long long)violations);
	return violations ? 1 : 0;
}
