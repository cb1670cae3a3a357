/* SPDX-License-Identifier: MIT */
/*
 * progress.h - the text of a progress report (done of total, rate, time
 * left), shared by the CLI's terminal line and anything else that reports
 * progress.  No state, no output.
 */
#ifndef LAZYPV_LIB_PROGRESS_H
#define LAZYPV_LIB_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * "LABEL  DONE / TOTAL (P%)  RATE/s  ETA T" into @buf (returns @buf),
 * counts as sizes ("12.0 MiB") when @bytes, else plain numbers.  The
 * percentage is left out for a zero total, the rate and ETA while @rate
 * is not positive, the ETA also once done >= total.  ETA: "4.2 s",
 * "3m07s", "2h05m".
 */
const char *lpv_progress_format(char *buf, size_t len, const char *label,
				uint64_t done, uint64_t total, double rate,
				bool bytes);

#endif /* LAZYPV_LIB_PROGRESS_H */
