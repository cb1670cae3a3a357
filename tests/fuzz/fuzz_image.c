// SPDX-License-Identifier: MIT
/*
 * fuzz_image.c - libFuzzer target for the VMM's image parser and the
 * guest-program spec parser: arbitrary bytes must be rejected with an
 * error (never a crash, an overread or a hang), and whatever is accepted
 * must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_image img;
	char err[256];
	char *spec;

	/* An exact-size copy, so ASan sees any read past the input. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
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
