/* SPDX-License-Identifier: MIT */
/*
 * progress.h - one updating progress line on stderr (tools/ only): done of
 * total, rate and time left, redrawn in place with a carriage return, only
 * when stderr is a terminal and --quiet was not given; nothing at all on
 * a pipe or a file.  The text is lib/progress.h's.
 */
#ifndef LAZYPV_TOOLS_PROGRESS_H
#define LAZYPV_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct progress {
	bool active;		/* stderr is a terminal, not --quiet */
	bool shown;		/* a line is on screen */
	uint64_t last_ns;	/* last redraw */
	uint64_t rate_ns;	/* last rate sample */
	uint64_t rate_done;	/* done at that sample */
	double rate;		/* units per second, smoothed */
	size_t width;		/* of the line on screen */
};

/* Active only if stderr is a terminal and !@quiet. */
void progress_init(struct progress *p, bool quiet);

/*
 * Redraw with @done of @total (at most every 100 ms; the rate is smoothed
 * over the calls).  A no-op when inactive.
 */
void progress_update(struct progress *p, const char *label, uint64_t done,
		     uint64_t total, bool bytes);
/* Print a line that stays (clearing the progress line first). */
void progress_note(struct progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Erase the line (before other output, and at the end). */
void progress_clear(struct progress *p);

#endif /* LAZYPV_TOOLS_PROGRESS_H */
