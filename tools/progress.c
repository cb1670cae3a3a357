// SPDX-License-Identifier: MIT
/*
 * progress.c - the progress line of progress.h.  A struct progress belongs
 * to one thread (the caller serialises its use); it writes only stderr,
 * and only when stderr is a terminal.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"
#include "lib/progress.h"

#define PROGRESS_REDRAW_NS 100000000ULL	/* 100 ms */
#define PROGRESS_RATE_NS 250000000ULL	/* a rate sample every 250 ms */

void progress_init(struct progress *p, bool quiet)
{
	*p = (struct progress){ .active = !quiet && isatty(STDERR_FILENO) };
}

static void progress_draw(struct progress *p, const char *line)
{
	size_t w = strlen(line);

	fprintf(stderr, "\r%s", line);
	if (w < p->width)
		fprintf(stderr, "%*s", (int)(p->width - w), "");
	fflush(stderr);
	p->width = w;
	p->shown = true;
}

void progress_update(struct progress *p, const char *label, uint64_t done,
		     uint64_t total, bool bytes)
{
	uint64_t now;
	char line[160];

	if (!p->active)
		return;
	now = lpv_now_ns();
	if (done < p->rate_done || !p->rate_ns) {
		/* A new episode: the rate starts over. */
		p->rate_ns = now;
		p->rate_done = done;
		p->rate = 0;
	} else if (now - p->rate_ns >= PROGRESS_RATE_NS) {
		double r = (double)(done - p->rate_done) * 1e9 /
			   (double)(now - p->rate_ns);

		p->rate = p->rate > 0 ? 0.5 * p->rate + 0.5 * r : r;
		p->rate_ns = now;
		p->rate_done = done;
	}
	if (p->shown && now - p->last_ns < PROGRESS_REDRAW_NS)
		return;
	p->last_ns = now;
	progress_draw(p, lpv_progress_format(line, sizeof(line), label, done,
					 total, p->rate, bytes));
}

void progress_clear(struct progress *p)
{
	if (!p->active || !p->shown)
		return;
	fprintf(stderr, "\r%*s\r", (int)p->width, "");
	fflush(stderr);
	p->shown = false;
	p->width = 0;
	p->rate_ns = 0;
}

void progress_note(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	progress_clear(p);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
