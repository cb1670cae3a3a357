// SPDX-License-Identifier: MIT
/*
 * damon.c - is a DAMON monitor running in this kernel: read from sysfs
 * (/sys/kernel/mm/damon/admin/kdamonds/N/state).  No state, any thread.
 */
#include "damon.h"

#include <stdio.h>
#include <string.h>

int bench_damon_running(void)
{
	for (int i = 0; i < 16; i++) {
		char path[96], state[16] = "";
		FILE *f;

		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/damon/admin/kdamonds/%d/state", i);
		f = fopen(path, "r");
		if (!f)
			return -1;
		if (!fgets(state, sizeof(state), f))
			state[0] = '\0';
		fclose(f);
		if (!strncmp(state, "on", 2))
			return i;
	}
	return -1;
}
