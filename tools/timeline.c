// SPDX-License-Identifier: MIT
/*
 * timeline.c - how `lazypv run` prints a VM's events (struct lpv_event):
 * one line each, readable (the time since the run started) or one JSON
 * object with the absolute monotonic t_ns -- the text lpv_event_format()
 * gives, the command's output format.  No state; any thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lazypv/lazypv.h"
#include "tools.h"

void tool_event_print(const struct lpv_event *ev, uint64_t t0_ns, FILE *f,
		      bool json)
{
	char line[512], *big = NULL;
	const char *text = line;
	int n;

	/* A cleanup that failed said so as an error event already. */
	if (ev->type == LPV_EVENT_CLEANUP_DONE && ev->code)
		return;
	n = lpv_event_format(ev, t0_ns, json, line, sizeof(line));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		big = malloc((size_t)n + 1);
		if (!big || lpv_event_format(ev, t0_ns, json, big,
					     (size_t)n + 1) != n) {
			free(big);
			return;
		}
		text = big;
	}
	fprintf(f, "%s\n", text);
	free(big);
}
