/* SPDX-License-Identifier: MIT */
/* tools.h - shared between the `lazypv` subcommands (tools/ only). */
#ifndef LAZYPV_TOOLS_H
#define LAZYPV_TOOLS_H

#include <stdarg.h>
#include <stdint.h>

#include "lazypv/compiler.h"

struct tool_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* returns the exit status */
	const char *help;
};

/* One-line usage error on stderr, then exit(2). */
void tool_usage_error(const char *cmd, const char *fmt, ...)
	__printf_like(2, 3) __noreturn;

struct option;
/*
 * getopt_long's error (@c '?' or ':', with a leading ':' in the option
 * string and opterr 0) as one usage line naming the option as typed: an
 * unknown or ambiguous long option, an unknown short option (inside a
 * cluster too), a missing value, a value given to a flag.  Exits 2.
 */
void tool_option_error(const char *cmd, int c, char **argv,
		       const struct option *longopts) __noreturn;
/* A size option (K/M/G/T suffixes) or a usage error naming --@opt. */
uint64_t tool_parse_size(const char *cmd, const char *opt, const char *arg);

struct host_config;
struct host;
/* host_create with a one-line user-facing error; returns the exit status
 * (0, 2 for a size the machine refuses, 1 otherwise). */
int tool_host_create(const struct host_config *cfg, struct host **host,
		     const char *cmd);

int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_mkimage(int argc, char **argv);
int cmd_soak(int argc, char **argv);

/*
 * Each command's arguments alone: parse and check @argv exactly as the
 * command does before it starts any work (options, sizes, profiles, files
 * named), and start nothing.  Returns the exit status the command would
 * end with now (0 after --help), or -1 if it would go ahead; a user error
 * goes through tool_usage_error().  The CLI fuzzer's entry points
 * (tests/fuzz/fuzz_cli.c links tools/ without lazypv.c and gives
 * tool_usage_error a way back).
 */
int cmd_info_args(int argc, char **argv);
int cmd_bench_args(int argc, char **argv);
int cmd_run_args(int argc, char **argv);
int cmd_mkimage_args(int argc, char **argv);

#endif /* LAZYPV_TOOLS_H */
