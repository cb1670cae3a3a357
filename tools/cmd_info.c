// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - `lazypv info`: bring a host up (the machine, the Ultravisor,
 * the host memory manager and, if INIT_UV works, the KVM module) and print
 * its state: what protection mechanism the kernel allows, how many frames,
 * the firmware profile, every layer's statistics (host_stats), every
 * option with its default and environment override.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "tools.h"

static void print_machine_text(const struct host_stats *st)
{
	char a[32], b[32];

	printf("machine:\n");
	printf("  host memory        %s (%llu frames of 4 KiB)\n",
	       lpv_format_size(st->mem_bytes, a, sizeof(a)),
	       (unsigned long long)st->mm.nr_frames);
	printf("  protection         %s\n", host_protect_mode_name(st->protect));
	printf("  backable now       %s (MemAvailable)\n",
	       lpv_format_size(host_backable_bytes(), b, sizeof(b)));
}

/* {"version", then the host's snapshot (host_stats_json)}, one line. */
static int print_json(const struct host_stats *st)
{
	json_t *root = json_object(), *snap = host_stats_json(st);
	int r = -ENOMEM;

	if (root && snap &&
	    !json_object_set_new(root, "version", json_string(lpv_version())) &&
	    !json_object_update(root, snap) &&
	    !json_dumpf(root, stdout, JSON_COMPACT)) {
		putchar('\n');
		r = 0;
	}
	json_decref(snap);
	json_decref(root);
	return r;
}

struct info_opts {
	struct host_config hc;
	const char *profile_name;
	bool json;
};

#define O(field) LPV_CL_FIELD(struct info_opts, field)
static const struct lpv_cl_opt info_opt_tab[] = {
	{ .name = "host-mem", .kind = LPV_CL_SIZE, O(hc.mem_bytes),
	  .min = 4096, .align = 4096,
	  .help = "host physical memory (populated only where touched; INIT_UV needs storage above 2G)" },
	{ .name = "protect", .kind = LPV_CL_ENUM, O(hc.protect),
	  .name_of = tool_protect_name, .nr = 3,
	  .help = "host-view protection of secure frames: guard (MADV_GUARD_INSTALL), soft (checked accessors) or auto (guard where the kernel has it)" },
	{ .name = "uv-profile", .kind = LPV_CL_STRING, O(profile_name),
	  .metavar = "NAME|FILE", .def = "default",
	  .help = "firmware profile: default, zero, old, or a file" },
	{ .name = "json", .kind = LPV_CL_FLAG, O(json),
	  .help = "one JSON object instead of text" },
};
#undef O

static const struct info_opts info_defaults = {
	.hc = { .mem_bytes = 4ULL << 30, .protect = HW_PROTECT_AUTO },
};

const struct lpv_cl_cmd cmd_info_cl = {
	.prog = "lazypv",
	.name = "info",
	.summary = "print the machine, memory manager and firmware state",
	.description =
		"Start the machine, the host memory manager, the Ultravisor and the\n"
		"KVM module; print their state, the firmware profile and every option.\n",
	.notes = "Environment: LAZYPV_MM_*, LAZYPV_KVM_* (listed in the output),\n"
		 "LAZYPV_UV_PROFILE, LAZYPV_TRACE=1.\n",
	.opts = info_opt_tab,
	.nr_opts = ARRAY_SIZE(info_opt_tab),
	.defaults = &info_defaults,
};

/* Options, the profile and the environment's options: the exit status to
 * end with now (0 after --help, 2 for a refused profile or variable), or
 * -1 to go ahead. */
static int info_args(int argc, char **argv, struct info_opts *o)
{
	struct lpv_cl_result res;
	bool help;
	int env;

	memset(o, 0, sizeof(*o));
	env = host_config_init(&o->hc);	/* the message named the variable */
	o->hc.mem_bytes = info_defaults.hc.mem_bytes;
	o->hc.protect = info_defaults.hc.protect;
	help = tool_parse_options(&cmd_info_cl, argc, argv, o, &res);
	lpv_cl_release(&res);
	if (help)
		return 0;

	tool_profile_load("info", "--uv-profile", o->profile_name,
			  &o->hc.profile);
	return env ? 2 : -1;
}

int cmd_info_args(int argc, char **argv)
{
	struct info_opts o;

	return info_args(argc, argv, &o);
}

int cmd_info(int argc, char **argv)
{
	struct host_stats st;
	struct info_opts o;
	struct host *h;
	int ret;

	ret = info_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	/* PV host support needs INIT_UV to succeed; report, do not fail. */
	o.hc.pv_optional = true;
	ret = tool_host_create(&o.hc, &h, "info");
	if (ret)
		return ret;
	host_stats_get(h, &st);
	if (o.json) {
		ret = print_json(&st);
		if (ret)
			fprintf(stderr, "lazypv info: JSON: %s\n", strerror(-ret));
	} else {
		printf("lazypv %s\n", lpv_version());
		print_machine_text(&st);
		printf("protected virtualization host: %s\n",
		       st.pv_host ? "available (INIT_UV done)" :
		       "unavailable: INIT_UV failed (the profile needs UV storage "
		       "above init_min_origin on a 1 MiB boundary; try a larger "
		       "--host-mem)");
		printf("firmware profile:\n");
		host_profile_print(host_profile(h), stdout);
		host_stats_print(&st, stdout);
		host_config_print(host_config(h), stdout);
	}
	if (host_check(h))
		ret = 1;
	host_destroy(h);
	return ret ? 1 : 0;
}
