// SPDX-License-Identifier: MIT
/*
 * progress.c - lpv_progress_format(): pure formatting, any thread.
 */
#include "progress.h"

#include <stdio.h>

#include "lib.h"

static void progress_count(char *buf, size_t len, double v, bool bytes)
{
	if (bytes)
		lpv_format_size((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "%.0f", v);
}

static void progress_duration(char *buf, size_t len, double s)
{
	if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned int)(s / 60),
			 (unsigned int)s % 60);
	else
		snprintf(buf, len, "%uh%02um", (unsigned int)(s / 3600),
			 (unsigned int)(s / 60) % 60);
}

const char *lpv_progress_format(char *buf, size_t len, const char *label,
				uint64_t done, uint64_t total, double rate,
				bool bytes)
{
	char d[32], t[32], r[32], e[32];
	size_t n;
	int k;

	if (!len)
		return buf;
	progress_count(d, sizeof(d), (double)done, bytes);
	progress_count(t, sizeof(t), (double)total, bytes);
	k = snprintf(buf, len, "%s  %s / %s", label, d, t);
	n = k < 0 ? 0 : (size_t)k;
	if (total && n < len) {
		k = snprintf(buf + n, len - n, " (%.0f%%)",
			     100.0 * (double)(done < total ? done : total) /
			     (double)total);
		n += k < 0 ? 0 : (size_t)k;
	}
	if (rate > 0 && n < len) {
		progress_count(r, sizeof(r), rate, bytes);
		k = snprintf(buf + n, len - n, "  %s/s", r);
		n += k < 0 ? 0 : (size_t)k;
		if (done < total && n < len) {
			progress_duration(e, sizeof(e),
					  (double)(total - done) / rate);
			snprintf(buf + n, len - n, "  ETA %s", e);
		}
	}
	return buf;
}
