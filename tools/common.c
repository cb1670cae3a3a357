// SPDX-License-Identifier: MIT
/*
 * common.c - helpers shared by the `lazypv` subcommands: option errors
 * that name what the user typed, sizes, and bringing up the host with
 * errors a user can act on.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "lib/lib.h"
#include "tools.h"

int tool_host_create(const struct host_config *cfg, struct host **host,
		     const char *cmd)
{
	char a[32], b[32], err[256] = "";
	int ret = host_create(cfg, host, err, sizeof(err));

	switch (ret) {
	case 0:
		return 0;
	case -EINVAL:
		if (!cfg->mem_bytes) {
			fprintf(stderr, "lazypv %s: --host-mem must not be zero\n", cmd);
			return 2;
		}
		if (cfg->mem_bytes % 4096) {
			fprintf(stderr, "lazypv %s: --host-mem %llu is not a multiple of 4 KiB\n",
				cmd, (unsigned long long)cfg->mem_bytes);
			return 2;
		}
		break;
	case -E2BIG:
		fprintf(stderr, "lazypv %s: --host-mem %s is out of range: this machine can back at most %s now (MemAvailable)\n",
			cmd, lpv_format_size(cfg->mem_bytes, a, sizeof(a)),
			lpv_format_size(host_backable_bytes(), b, sizeof(b)));
		return 2;
	case -EOPNOTSUPP:
		fprintf(stderr, "lazypv %s: this kernel has no MADV_GUARD_INSTALL on shared mappings; use --protect soft or auto\n",
			cmd);
		return 2;
	}
	fprintf(stderr, "lazypv %s: %s\n", cmd, err[0] ? err : strerror(-ret));
	return 1;
}

/* "--name" of "--name=value" into @buf. */
static const char *long_name(const char *arg, char *buf, size_t len)
{
	size_t n = strcspn(arg, "=");

	snprintf(buf, len, "%.*s", (int)n, arg);
	return buf;
}

/* The long option @name names: exact, or the only one it abbreviates. */
static const struct option *long_by_name(const struct option *longopts,
					 const char *name)
{
	const struct option *found = NULL;
	size_t n = strlen(name), matches = 0;

	for (const struct option *o = longopts; o->name; o++) {
		if (!strcmp(o->name, name))
			return o;
		if (!strncmp(o->name, name, n)) {
			found = o;
			matches++;
		}
	}
	return matches == 1 ? found : NULL;
}

void tool_option_error(const char *cmd, int c, char **argv,
		       const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool is_long = arg && !strncmp(arg, "--", 2) && arg[2];
	char name[64];

	if (is_long)
		long_name(arg, name, sizeof(name));
	if (c == ':') {
		if (is_long)
			tool_usage_error(cmd, "option %s needs a value", name);
		tool_usage_error(cmd, "option -%c needs a value", optopt);
	}
	if (optopt) {
		const struct option *o = is_long ? long_by_name(longopts, name + 2)
						 : NULL;

		/* A known long flag given "=value" (optopt is its val). */
		if (o && o->val == optopt && o->has_arg == no_argument)
			tool_usage_error(cmd, "option %s takes no value, not '%s'",
					 name, arg + strlen(name) + 1);
		tool_usage_error(cmd, "unknown option '-%c'", optopt);
	}
	if (is_long) {
		size_t n = strlen(name + 2), matches = 0;

		for (const struct option *o = longopts; o->name; o++)
			matches += !strncmp(o->name, name + 2, n);
		if (matches > 1)
			tool_usage_error(cmd, "ambiguous option '%s'", name);
		tool_usage_error(cmd, "unknown option '%s'", name);
	}
	tool_usage_error(cmd, "unknown option '%s'", arg);
}

uint64_t tool_parse_size(const char *cmd, const char *opt, const char *arg)
{
	uint64_t v;
	int r = lpv_parse_size(arg, &v);

	if (r == -ERANGE)
		tool_usage_error(cmd, "--%s %s is out of range (sizes end below 16 EiB)",
				 opt, arg);
	if (r)
		tool_usage_error(cmd, "--%s takes a size (bytes, or with K/M/G/T), not '%s'",
				 opt, arg);
	return v;
}
