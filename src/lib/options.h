/* SPDX-License-Identifier: MIT */
/*
 * options.h - one table of tunables per subsystem (module parameters, sizes,
 * costs), each with a default, a range, a help line and an environment
 * override.  Sizes accept K/M/G suffixes.  Tables are plain arrays the
 * owning layer declares; the tools print them all (`lazypv info --options`).
 *
 * Values are written at setup (lpv_options_init / lpv_option_set) before the
 * threads that read them start; readers use plain loads.
 */
#ifndef LAZYPV_LIB_OPTIONS_H
#define LAZYPV_LIB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lazypv/compiler.h"

enum lpv_opt_type {
	LPV_OPT_UINT,		/* decimal or 0x */
	LPV_OPT_SIZE,		/* bytes, K/M/G suffixes */
	LPV_OPT_BOOL,		/* 0/1, on/off, true/false, yes/no */
};

struct lpv_option {
	const char *name;	/* "lazy_destroy" */
	const char *env;	/* "LAZYPV_KVM_LAZY_DESTROY" */
	enum lpv_opt_type type;
	uint64_t def, min, max;
	const char *help;
	uint64_t *value;	/* where the current value lives */
};

/*
 * Reset every option to its default, then apply environment overrides.
 * Returns 0, or -EINVAL / -ERANGE with a message in @err naming the
 * variable.
 */
int lpv_options_init(const struct lpv_option *tab, size_t n, char *err,
		     size_t errlen) __must_check;
/* Set one option by name from a string; errors as above. */
int lpv_option_set(const struct lpv_option *tab, size_t n, const char *name,
		   const char *value, char *err, size_t errlen) __must_check;
/* Parse @value for @opt without storing it. */
int lpv_option_parse(const struct lpv_option *opt, const char *value,
		     uint64_t *out) __must_check;
/* Print "name = value (default, range, env) help" lines, or a JSON object. */
void lpv_options_print(FILE *f, const char *section,
		       const struct lpv_option *tab, size_t n, bool json);

#endif /* LAZYPV_LIB_OPTIONS_H */
