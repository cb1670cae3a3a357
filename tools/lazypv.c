// SPDX-License-Identifier: MIT
/*
 * lazypv.c - the `lazypv` command: option parsing, subcommand dispatch,
 * help and version.  The only place (with the other tools/ files) allowed to
 * exit(): bad usage exits 2 with a one-line error, failures exit 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazypv/lazypv.h"
#include "tools.h"

static const struct tool_cmd cmds[] = {
	{ "info", cmd_info, "print the machine, memory manager and firmware state" },
	{ "run", cmd_run, "boot a protected guest, reboot it, shut it down: the timeline" },
	{ "mkimage", cmd_mkimage, "build a protected-guest (SE) image for a UV's host key" },
	{ "bench", cmd_bench, "measure the teardown designs side by side (medians, ratios)" },
	{ "soak", cmd_soak, "many VMMs, every teardown mode and ending, under pressure: invariants" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lazypv [--help] [--version] COMMAND [ARGS]\n"
		"\n"
		"lazypv hosts protected virtual machines whose memory an emulated\n"
		"Ultravisor owns, and measures how they are torn down.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nRun 'lazypv COMMAND --help' for a command's options.\n");
}

void tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lazypv %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'lazypv %s --help')\n", cmd);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("lazypv %s\n", lpv_version());
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "lazypv: unknown command '%s' (see 'lazypv --help')\n",
		argv[1]);
	return 2;
}
