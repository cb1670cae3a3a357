// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - `lazypv info`: bring a host up (the machine, the Ultravisor,
 * the host memory manager and, if INIT_UV works, the KVM module) and print
 * its state: what protection mechanism the kernel allows, how many frames,
 * the firmware profile, every layer's statistics (host_stats), every
 * option with its default and environment override.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/lib.h"
#include "tools.h"

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: lazypv info [--host-mem SIZE] [--protect auto|guard|soft]\n"
		"                   [--uv-profile NAME|FILE] [--json]\n"
		"\n"
		"Start the machine, the host memory manager, the Ultravisor and the\n"
		"KVM module; print their state, the firmware profile and every option.\n"
		"\n"
		"  --host-mem SIZE   host physical memory (K/M/G; default 4G: populated\n"
		"                    only where touched; INIT_UV needs storage above 2G)\n"
		"  --uv-profile P    firmware profile: default, zero, old, or a file\n"
		"  --protect MODE    host-view protection of secure frames: guard\n"
		"                    (MADV_GUARD_INSTALL), soft (checked accessors) or\n"
		"                    auto (guard where the kernel has it; default)\n"
		"  --json            one JSON object instead of text\n"
		"\n"
		"Environment: LAZYPV_MM_*, LAZYPV_KVM_* (listed below),\n"
		"LAZYPV_UV_PROFILE, LAZYPV_TRACE=1.\n");
}

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

/* Options, the profile and the environment's options: the exit status to
 * end with now (0 after --help, 2 for a refused profile or variable), or
 * -1 to go ahead. */
static int info_args(int argc, char **argv, struct info_opts *o)
{
	static const struct option longopts[] = {
		{ "host-mem", required_argument, NULL, 'm' },
		{ "protect", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "uv-profile", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[256];
	int c, env;

	memset(o, 0, sizeof(*o));
	env = host_config_init(&o->hc);	/* the message named the variable */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->hc.mem_bytes = tool_parse_size("info", "host-mem", optarg);
			break;
		case 'p':
			if (!strcmp(optarg, "auto"))
				o->hc.protect = HW_PROTECT_AUTO;
			else if (!strcmp(optarg, "guard"))
				o->hc.protect = HW_PROTECT_GUARD;
			else if (!strcmp(optarg, "soft"))
				o->hc.protect = HW_PROTECT_SOFT;
			else
				tool_usage_error("info", "--protect takes auto, guard or soft, not '%s'",
						 optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'u':
			o->profile_name = optarg;
			break;
		case 'h':
			info_usage(stdout);
			return 0;
		default:
			tool_option_error("info", c, argv, longopts);
		}
	}
	if (optind < argc)
		tool_usage_error("info", "unexpected argument '%s'", argv[optind]);

	if (host_profile_load(o->profile_name, &o->hc.profile, err,
			      sizeof(err))) {
		fprintf(stderr, "lazypv info: %s\n", err);
		return 2;
	}
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
