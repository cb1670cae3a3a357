/* SPDX-License-Identifier: MIT */
/*
 * soak.h - `lazypv soak`'s plaintext check (soak_scan.c): the set of words
 * the wave's protected guests wrote, and the scan of the free frames for
 * any of them.
 */
#ifndef LAZYPV_TOOLS_SOAK_H
#define LAZYPV_TOOLS_SOAK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct host;

/* Open-addressed set of 64-bit words (0 is never a pattern word). */
struct soak_pset {
	uint64_t *v;
	uint64_t cap;		/* power of two */
	uint64_t n;
};

void soak_pset_init(struct soak_pset *p);
void soak_pset_reset(struct soak_pset *p);	/* empty, memory kept */
void soak_pset_free(struct soak_pset *p);
bool soak_pset_has(const struct soak_pset *p, uint64_t w);
/*
 * The words a `touch` guest of boot key @key wrote below guest address
 * @end in rounds 0..@rounds-1: the first and the last word of each page
 * (an uncleared frame holds both; a frame cleared only in part, one).
 */
void soak_pset_add_guest(struct soak_pset *p, uint64_t key, uint64_t end,
			 unsigned int rounds);

/*
 * At a quiescent point: read every free frame through the host view and
 * count those whose first or last word is in @p (each is printed to @log).
 * *scanned: free frames read.
 */
uint64_t soak_scan_free(struct host *host, const struct soak_pset *p,
			uint64_t *scanned, FILE *log);
/* Write a word of @p into a free frame, as if it came back uncleared: the
 * test that the scan finds what it looks for. */
void soak_scan_plant(struct host *host, const struct soak_pset *p);

#endif
