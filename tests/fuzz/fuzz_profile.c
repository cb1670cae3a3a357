// SPDX-License-Identifier: MIT
/*
 * fuzz_profile.c - libFuzzer target for the firmware-profile parser
 * (uv_profile_parse, src/uv/uv_profile.c): the input is the text of a
 * profile file.  Whatever the text, the parser must not crash or overread;
 * a rejection must say why, starting with the origin; and what it accepts
 * must survive a round trip: uv_profile_print writes "every option in
 * file syntax", so parsing that output must succeed and print the same
 * text again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uv/uv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @p printed into a fresh buffer (the caller frees it). */
static char *fz_print(const struct uv_profile *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	uv_profile_print(p, f);
	if (fclose(f))
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uv_profile p, q;
	char err[256];
	char *text, *once, *twice;

	/* The parser takes a C string: the file reader refuses NUL bytes. */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (uv_profile_parse(text, "fz", &p, err, sizeof(err))) {
		if (strncmp(err, "fz:", 3))
			abort();	/* every rejection names where */
		free(text);
		return 0;
	}
	free(text);

	once = fz_print(&p);
	if (uv_profile_parse(once, "printed", &q, err, sizeof(err))) {
		fprintf(stderr, "printed profile refused: %s\n%s", err, once);
		abort();
	}
	/* The one value printed as a decimal fraction must not be rounded. */
	if (q.nr_inject != p.nr_inject)
		abort();
	for (unsigned int i = 0; i < p.nr_inject; i++)
		if (q.inject[i].prob != p.inject[i].prob)
			abort();
	twice = fz_print(&q);
	if (strcmp(once, twice)) {
		fprintf(stderr, "round trip changed the profile:\n%s---\n%s",
			once, twice);
		abort();
	}
	free(once);
	free(twice);
	return 0;
}
