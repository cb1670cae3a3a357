// SPDX-License-Identifier: MIT
/*
 * soak_scan.c - does a frame handed back to the host hold old plaintext?
 *
 * Every `touch` guest writes lpv_pattern_word(boot key, guest address,
 * round) into every word of its area; the soak records, for each protected
 * boot of a wave, the pattern of the first and last word of every page the
 * guest may have written.  Once every VMM of the wave is gone, every frame
 * on the free list is read through the host view (host_scan_free: a free
 * frame must never be protected; frames the OS never populated were never
 * written and are not faulted in) and its first and last words looked up.  A frame that left a protected guest
 * without being cleared or encrypted holds exactly such words; the
 * patterns are keyed per boot and per address, so nothing else matches
 * (the chance for a random word is below 2^-40 per wave).  Non-protected
 * boots are not recorded: their memory is freed as is, as in Linux.
 *
 * Main thread only (the set is filled under the soak's lock by the slots,
 * scanned at the quiescent point).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "soak.h"

#define SOAK_PSET_MIN (1ULL << 16)

static uint64_t pset_hash(uint64_t w)
{
	w ^= w >> 33;
	w *= 0xff51afd7ed558ccdULL;
	return w ^ (w >> 33);
}

static void pset_alloc(struct soak_pset *p, uint64_t cap)
{
	p->v = calloc(cap, sizeof(*p->v));
	if (!p->v) {
		fprintf(stderr, "lazypv soak: out of memory for %" PRIu64 " pattern words\n",
			cap);
		exit(1);
	}
	p->cap = cap;
	p->n = 0;
}

void soak_pset_init(struct soak_pset *p)
{
	pset_alloc(p, SOAK_PSET_MIN);
}

void soak_pset_reset(struct soak_pset *p)
{
	memset(p->v, 0, p->cap * sizeof(*p->v));
	p->n = 0;
}

void soak_pset_free(struct soak_pset *p)
{
	free(p->v);
	p->v = NULL;
	p->cap = p->n = 0;
}

static void pset_insert(struct soak_pset *p, uint64_t w)
{
	uint64_t i = pset_hash(w) & (p->cap - 1);

	while (p->v[i]) {
		if (p->v[i] == w)
			return;
		i = (i + 1) & (p->cap - 1);
	}
	p->v[i] = w;
	p->n++;
}

static void pset_add(struct soak_pset *p, uint64_t w)
{
	if (!w)
		return;
	if (2 * (p->n + 1) > p->cap) {
		struct soak_pset old = *p;

		pset_alloc(p, old.cap * 2);
		for (uint64_t i = 0; i < old.cap; i++)
			if (old.v[i])
				pset_insert(p, old.v[i]);
		free(old.v);
	}
	pset_insert(p, w);
}

bool soak_pset_has(const struct soak_pset *p, uint64_t w)
{
	uint64_t i = pset_hash(w) & (p->cap - 1);

	if (!w)
		return false;
	while (p->v[i]) {
		if (p->v[i] == w)
			return true;
		i = (i + 1) & (p->cap - 1);
	}
	return false;
}

void soak_pset_add_guest(struct soak_pset *p, uint64_t key, uint64_t end,
			 unsigned int rounds)
{
	for (uint64_t ga = 0; ga < end; ga += HW_PAGE_SIZE)
		for (unsigned int r = 0; r < rounds; r++) {
			pset_add(p, lpv_pattern_word(key, ga, r));
			pset_add(p, lpv_pattern_word(key, ga + HW_PAGE_SIZE - 8, r));
		}
}

static bool soak_pset_match(void *ctx, uint64_t word)
{
	return soak_pset_has(ctx, word);
}

uint64_t soak_scan_free(struct host *host, const struct soak_pset *p,
			uint64_t *scanned, FILE *log)
{
	return host_scan_free(host, soak_pset_match, (void *)p, scanned, log);
}

void soak_scan_plant(struct host *host, const struct soak_pset *p)
{
	uint64_t w = 0;

	for (uint64_t i = 0; i < p->cap && !w; i++)
		w = p->v[i];
	if (w && !host_plant_free(host, w))
		fprintf(stderr, "lazypv soak: planted a pattern word in a free frame\n");
}
