// SPDX-License-Identifier: MIT
/* Tests of bench/'s machine probes: the DAMON probe. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "damon.h"

/* The DAMON probe agrees with sysfs, read another way (the shell): -1
 * when no kdamond's state is "on", else one whose state is. */
TEST_IMPL(bench_damon_probe)
{
	const char *dir = "/sys/kernel/mm/damon/admin/kdamonds";
	int i = bench_damon_running();
	char cmd[160];
	int st;

	snprintf(cmd, sizeof(cmd), "cat %s/*/state 2>/dev/null | grep -qx on", dir);
	st = system(cmd);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(i >= 0, WEXITSTATUS(st) == 0);
	if (i >= 0) {
		snprintf(cmd, sizeof(cmd), "grep -qx on %s/%d/state", dir, i);
		ASSERT_EQ(system(cmd), 0);
		fprintf(stderr, "# kdamond %d is on\n", i);
	}
	return 0;
}
