// SPDX-License-Identifier: MIT
/*
 * fuzz_image.c - libFuzzer target for the VMM's image parser and the
 * guest-program spec parser: arbitrary bytes must be rejected with an
 * error (never a crash, an overread or a hang), and whatever is accepted
 * must be self-consistent.
 *
 * Each input is parsed twice: as it is, and with its header checksum
 * recomputed (the FNV-1a of the file header's first 0xf8 bytes and the SE
 * header, the format's own definition in src/vmm/image.c), so that
 * mutated headers get past the checksum to the component checks.  A valid
 * image is at least 8 KiB: run it with -max_len of 64 KiB or more and the
 * seed corpus (tests/fuzz/corpus/fuzz_image, images `lazypv mkimage`
 * made).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vmm.h"

#define FZ_OFF_SE_LEN 0x20
#define FZ_OFF_SE_OFF 0x28
#define FZ_OFF_CSUM 0xf8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fz_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t fz_fnv1a(const uint8_t *p, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Give @p the checksum its header and SE header call for, if it has both;
 * false if it cannot. */
static bool fz_fix_checksum(uint8_t *p, size_t size)
{
	uint64_t se_len, se_off, sum;

	if (size < VMM_IMAGE_HDR_LEN)
		return false;
	se_len = fz_le64(p + FZ_OFF_SE_LEN);
	se_off = fz_le64(p + FZ_OFF_SE_OFF);
	if (se_off > size || se_len > size - se_off)
		return false;
	sum = fz_fnv1a(p + se_off, se_len,
		       fz_fnv1a(p, FZ_OFF_CSUM, 0xcbf29ce484222325ULL));
	for (int i = 0; i < 8; i++)
		p[FZ_OFF_CSUM + i] = (uint8_t)(sum >> (8 * i));
	return true;
}

static void fz_parse(const uint8_t *copy, size_t size)
{
	struct vmm_image img;
	char err[256];

	if (vmm_image_parse(copy, size, &img, err, sizeof(err)) == 0) {
		uint64_t pages = 0;

		for (unsigned int i = 0; i < img.nr_components; i++)
			pages += img.comp[i].nr_pages;
		if (pages != img.nr_pages || img.se_header < copy ||
		    img.pages + img.nr_pages * HW_PAGE_SIZE != copy + size ||
		    img.se_header + img.se_header_len > img.pages)
			abort();
	} else if (!err[0]) {
		abort();	/* every rejection says why */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *spec;

	/* An exact-size copy, so ASan sees any read past the input. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fz_parse(copy, size);
	if (fz_fix_checksum(copy, size))
		fz_parse(copy, size);
	free(copy);

	spec = malloc(size + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	(void)!vmm_program_check(spec, err, sizeof(err));
	free(spec);
	return 0;
}
