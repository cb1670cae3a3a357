// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - `lazypv info`: bring the machine and the host memory manager
 * up (and the Ultravisor, once it exists) and print their state: what
 * protection mechanism the kernel allows, how many frames, what the memory
 * manager counts, every option with its default and environment override.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "kvm/kvm.h"
#include "mm/mm.h"
#include "tools.h"
#include "uv/uv.h"

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

static json_t *hw_json(struct hw_machine *hw)
{
	struct hw_stats st;
	json_t *o;

	hw_stats_get(hw, &st);
	o = json_pack("{s:I, s:I, s:s, s:I}",
		      "host_mem", (json_int_t)hw_mem_bytes(hw),
		      "frames", (json_int_t)hw_nr_frames(hw),
		      "protection", hw_protect_mode(hw) == HW_PROTECT_GUARD ?
				    "guard" : "soft",
		      "backable", (json_int_t)hw_backable_bytes());
#define HW_STAT_JSON(name, desc) \
	json_object_set_new(o, #name, json_integer((json_int_t)st.name));
	HW_STATS(HW_STAT_JSON)
#undef HW_STAT_JSON
	return o;
}

static void uv_json_dump(void *uv, FILE *f)
{
	uv_stats_json(uv, f);
}

static void mm_json_dump(void *world, FILE *f)
{
	mm_stats_print(world, f, true);
}

static void kvm_json_dump(void *mod, FILE *f)
{
	kvm_stats_print(mod, f, true);
}

struct info_opts {
	struct hw_config hwcfg;
	const char *profile_name;
	bool json;
	struct uv_profile prof;
	struct kvm_params kp;
	struct mm_config mmcfg;
};

#define O(field) LPV_CL_FIELD(struct info_opts, field)
static const struct lpv_cl_opt info_opt_tab[] = {
	{ .name = "host-mem", .kind = LPV_CL_SIZE, O(hwcfg.mem_bytes),
	  .min = 4096, .align = 4096,
	  .help = "host physical memory (populated only where touched; INIT_UV needs storage above 2G)" },
	{ .name = "protect", .kind = LPV_CL_ENUM, O(hwcfg.protect),
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
	.hwcfg = { .mem_bytes = 4ULL << 30, .protect = HW_PROTECT_AUTO },
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
	char err[256];
	bool help;

	*o = info_defaults;
	help = tool_parse_options(&cmd_info_cl, argc, argv, o, &res);
	lpv_cl_release(&res);
	if (help)
		return 0;

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
		json_t *j = json_pack("{s:s, s:o, s:b}", "version", lpv_version(),
				      "machine", hw_json(hw), "pv_host", mod != NULL);

		json_object_set_new(j, "uv", tool_json_capture(uv_json_dump, uv));
		json_object_set_new(j, "mm", tool_json_capture(mm_json_dump, world));
		if (mod)
			json_object_set_new(j, "kvm",
					    tool_json_capture(kvm_json_dump, mod));
		tool_json_print(stdout, j);
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
