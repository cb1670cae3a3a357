// SPDX-License-Identifier: MIT
/*
 * options.c - parsing, range checks, environment overrides and printing of
 * option tables (see options.h).  No global state; single-threaded at setup.
 */
#include "options.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"

int lpv_option_parse(const struct lpv_option *opt, const char *value,
		     uint64_t *out)
{
	uint64_t v;
	char *end;

	switch (opt->type) {
	case LPV_OPT_BOOL:
		if (!strcasecmp(value, "1") || !strcasecmp(value, "on") ||
		    !strcasecmp(value, "true") || !strcasecmp(value, "yes"))
			v = 1;
		else if (!strcasecmp(value, "0") || !strcasecmp(value, "off") ||
			 !strcasecmp(value, "false") || !strcasecmp(value, "no"))
			v = 0;
		else
			return -EINVAL;
		break;
	case LPV_OPT_SIZE: {
		int ret = lpv_parse_size(value, &v);

		if (ret)
			return ret;
		break;
	}
	case LPV_OPT_UINT:
		if (!*value || *value == '-' || *value == '+')
			return -EINVAL;
		errno = 0;
		v = strtoull(value, &end, 0);
		if (errno == ERANGE)
			return -ERANGE;
		if (errno || *end)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (v < opt->min || v > opt->max)
		return -ERANGE;
	*out = v;
	return 0;
}

static void describe_error(const struct lpv_option *opt, const char *origin,
			   const char *value, int ret, char *err, size_t errlen)
{
	if (!err)
		return;
	if (ret == -ERANGE)
		snprintf(err, errlen,
			 "%s: %s=%s out of range [%llu, %llu]", origin,
			 opt->name, value, (unsigned long long)opt->min,
			 (unsigned long long)opt->max);
	else
		snprintf(err, errlen, "%s: %s=%s is not a valid %s", origin,
			 opt->name, value,
			 opt->type == LPV_OPT_BOOL ? "boolean" :
			 opt->type == LPV_OPT_SIZE ? "size" : "number");
}

int lpv_options_init(const struct lpv_option *tab, size_t n, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		*tab[i].value = tab[i].def;
	for (size_t i = 0; i < n; i++) {
		const char *v = tab[i].env ? getenv(tab[i].env) : NULL;
		int ret;

		if (!v)
			continue;
		ret = lpv_option_parse(&tab[i], v, tab[i].value);
		if (ret) {
			describe_error(&tab[i], tab[i].env, v, ret, err, errlen);
			return ret;
		}
	}
	return 0;
}

int lpv_option_set(const struct lpv_option *tab, size_t n, const char *name,
		   const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int ret;

		if (strcmp(tab[i].name, name))
			continue;
		ret = lpv_option_parse(&tab[i], value, tab[i].value);
		if (ret)
			describe_error(&tab[i], "option", value, ret, err,
				       errlen);
		return ret;
	}
	if (err)
		snprintf(err, errlen, "unknown option '%s'", name);
	return -ENOENT;
}

static void format_value(const struct lpv_option *opt, uint64_t v, char *buf,
			 size_t len)
{
	if (opt->type == LPV_OPT_BOOL)
		snprintf(buf, len, "%s", v ? "on" : "off");
	else if (opt->type == LPV_OPT_SIZE)
		lpv_format_size(v, buf, len);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

void lpv_options_print(FILE *f, const char *section,
		       const struct lpv_option *tab, size_t n, bool json)
{
	char cur[32], def[32];

	if (json) {
		json_t *o = json_object();

		for (size_t i = 0; i < n; i++)
			json_object_set_new(o, tab[i].name,
					    json_integer((json_int_t)*tab[i].value));
		json_dumpf(o, f, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
		return;
	}
	fprintf(f, "%s options:\n", section);
	for (size_t i = 0; i < n; i++) {
		format_value(&tab[i], *tab[i].value, cur, sizeof(cur));
		format_value(&tab[i], tab[i].def, def, sizeof(def));
		fprintf(f, "  %-24s %-12s (default %s; %s) %s\n", tab[i].name,
			cur, def, tab[i].env ? tab[i].env : "-", tab[i].help);
	}
}
