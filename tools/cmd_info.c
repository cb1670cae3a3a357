// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - `lazypv info`: bring the machine and the host memory manager
 * up (and the Ultravisor, once it exists) and print their state: what
 * protection mechanism the kernel allows, how many frames, what the memory
 * manager counts, every option with its default and environment override.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "lazypv/lazypv.h"
#include "lib/lib.h"
#include "kvm/kvm.h"
#include "mm/mm.h"
#include "tools.h"
#include "uv/uv.h"

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

static void print_hw_text(struct hw_machine *hw)
{
	char a[32], b[32];

	printf("machine:\n");
	printf("  host memory        %s (%llu frames of 4 KiB)\n",
	       lpv_format_size(hw_mem_bytes(hw), a, sizeof(a)),
	       (unsigned long long)hw_nr_frames(hw));
	printf("  protection         %s\n",
	       hw_protect_mode_name(hw_protect_mode(hw)));
	printf("  backable now       %s (MemAvailable)\n",
	       lpv_format_size(hw_backable_bytes(), b, sizeof(b)));
}

static void print_hw_json(struct hw_machine *hw)
{
	struct hw_stats st;

	hw_stats_get(hw, &st);
	printf("\"machine\":{\"host_mem\":%llu,\"frames\":%llu,\"protection\":",
	       (unsigned long long)hw_mem_bytes(hw),
	       (unsigned long long)hw_nr_frames(hw));
	lpv_json_str(stdout, hw_protect_mode(hw) == HW_PROTECT_GUARD ? "guard"
								     : "soft");
	printf(",\"backable\":%llu", (unsigned long long)hw_backable_bytes());
#define HW_STAT_JSON(name, desc) \
	printf(",\"%s\":%llu", #name, (unsigned long long)st.name);
	HW_STATS(HW_STAT_JSON)
#undef HW_STAT_JSON
	printf("}");
}

struct info_opts {
	struct hw_config hwcfg;
	const char *profile_name;
	bool json;
	struct uv_profile prof;
	struct kvm_params kp;
	struct mm_config mmcfg;
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
	int c;

	memset(o, 0, sizeof(*o));
	o->hwcfg.mem_bytes = 4ULL << 30;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->hwcfg.mem_bytes = tool_parse_size("info", "host-mem", optarg);
			break;
		case 'p':
			if (!strcmp(optarg, "auto"))
				o->hwcfg.protect = HW_PROTECT_AUTO;
			else if (!strcmp(optarg, "guard"))
				o->hwcfg.protect = HW_PROTECT_GUARD;
			else if (!strcmp(optarg, "soft"))
				o->hwcfg.protect = HW_PROTECT_SOFT;
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

	if (uv_profile_load(o->profile_name, &o->prof, err, sizeof(err))) {
		fprintf(stderr, "lazypv info: %s\n", err);
		return 2;
	}
	if (mm_config_init(&o->mmcfg) || kvm_params_init(&o->kp))
		return 2;	/* the message named the variable */
	return -1;
}

int cmd_info_args(int argc, char **argv)
{
	struct info_opts o;

	return info_args(argc, argv, &o);
}

int cmd_info(int argc, char **argv)
{
	struct uv_params up = { 0 };
	struct kvm_module *mod = NULL;
	struct info_opts o;
	struct uv *uv = NULL;
	struct mm_world *world;
	struct hw_machine *hw;
	int ret;

	ret = info_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	ret = tool_machine_create(&o.hwcfg, &hw, "info");
	if (ret)
		return ret;
	ret = mm_world_create(hw, &o.mmcfg, &world);
	if (ret) {
		fprintf(stderr, "lazypv info: memory manager: %s\n", strerror(-ret));
		hw_machine_destroy(hw);
		return 1;
	}
	up.hw = hw;
	up.profile = &o.prof;
	ret = uv_create(&up, &uv);
	if (ret) {
		fprintf(stderr, "lazypv info: ultravisor: %s\n", strerror(-ret));
		ret = 1;
		goto out_world;
	}
	/* PV host support needs INIT_UV to succeed; report, do not fail. */
	if (kvm_module_create(world, uv, &o.kp, &mod))
		mod = NULL;

	if (o.json) {
		printf("{\"version\":");
		lpv_json_str(stdout, lpv_version());
		printf(",");
		print_hw_json(hw);
		printf(",\"pv_host\":%s,\"uv\":", mod ? "true" : "false");
		uv_stats_json(uv, stdout);
		printf(",\"mm\":");
		mm_stats_print(world, stdout, true);
		if (mod) {
			printf(",\"kvm\":");
			kvm_stats_print(mod, stdout, true);
		}
		printf("}\n");
	} else {
		printf("lazypv %s\n", lpv_version());
		print_hw_text(hw);
		printf("protected virtualization host: %s\n",
		       mod ? "available (INIT_UV done)" :
		       "unavailable: INIT_UV failed (the profile needs UV storage "
		       "above init_min_origin on a 1 MiB boundary; try a larger "
		       "--host-mem)");
		printf("firmware profile:\n");
		uv_profile_print(&o.prof, stdout);
		/* The mm's stats end with its options in force. */
		mm_stats_print(world, stdout, false);
		kvm_params_print(&o.kp, stdout);
	}
	ret = mm_check(world) || uv_check(uv) ? 1 : 0;
	kvm_module_destroy(mod);
	uv_destroy(uv);
out_world:
	mm_world_destroy(world);
	hw_machine_destroy(hw);
	return ret;
}
