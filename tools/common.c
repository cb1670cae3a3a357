// SPDX-License-Identifier: MIT
/*
 * common.c - helpers shared by the `lazypv` subcommands: parsing by a
 * command's option table with errors that name what the user typed, the
 * names of enum options, JSON output, and bringing up the machine with
 * errors a user can act on.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "tools.h"
#include "vmm/vmm.h"

int tool_machine_create(const struct hw_config *cfg, struct hw_machine **hw,
			const char *cmd)
{
	char a[32], b[32];
	int ret = hw_machine_create(cfg, hw);

	switch (ret) {
	case 0:
		return 0;
	case -EINVAL:
		if (!cfg->mem_bytes)
			fprintf(stderr, "lazypv %s: --host-mem must not be zero\n", cmd);
		else
			fprintf(stderr, "lazypv %s: --host-mem %llu is not a multiple of 4 KiB\n",
				cmd, (unsigned long long)cfg->mem_bytes);
		return 2;
	case -E2BIG:
		fprintf(stderr, "lazypv %s: --host-mem %s is out of range: this machine can back at most %s now (MemAvailable)\n",
			cmd, lpv_format_size(cfg->mem_bytes, a, sizeof(a)),
			lpv_format_size(hw_backable_bytes(), b, sizeof(b)));
		return 2;
	case -EOPNOTSUPP:
		fprintf(stderr, "lazypv %s: this kernel has no MADV_GUARD_INSTALL on shared mappings; use --protect soft or auto\n",
			cmd);
		return 2;
	default:
		fprintf(stderr, "lazypv %s: cannot create the machine: %s\n", cmd,
			strerror(-ret));
		return 1;
	}
}

bool tool_parse_options(const struct lpv_cl_cmd *cl, int argc, char **argv,
			void *opts, struct lpv_cl_result *res)
{
	char err[512];

	if (lpv_cl_parse(cl, argc, argv, opts, res, err, sizeof(err)))
		tool_usage_error(cl->name, "%s", err);
	if (res->help)
		lpv_cl_print_help(cl, stdout);
	return res->help;
}

const char *tool_protect_name(unsigned int mode)
{
	static const char *const names[] = {
		[HW_PROTECT_AUTO] = "auto",
		[HW_PROTECT_GUARD] = "guard",
		[HW_PROTECT_SOFT] = "soft",
	};

	return mode < ARRAY_SIZE(names) ? names[mode] : "?";
}

const char *tool_destroy_name(unsigned int mode)
{
	return vmm_destroy_mode_name((enum vmm_destroy_mode)mode);
}

json_t *tool_json_capture(void (*print)(void *ctx, FILE *f), void *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	json_t *j = NULL;

	if (m) {
		print(ctx, m);
		if (!fclose(m))
			j = json_loadb(buf, len, 0, NULL);
		free(buf);
	}
	return j ? j : json_null();
}

void tool_json_print(FILE *f, json_t *j)
{
	if (j) {
		json_dumpf(j, f, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(12));
		fputc('\n', f);
	}
	json_decref(j);
}
