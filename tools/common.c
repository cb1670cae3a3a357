// SPDX-License-Identifier: MIT
/*
 * common.c - helpers shared by the `lazypv` subcommands: bringing up the
 * machine with errors a user can act on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hw/hw.h"
#include "lib/lib.h"
#include "tools.h"

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
		fprintf(stderr, "lazypv %s: --host-mem %s exceeds what this machine can back (%s available)\n",
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
