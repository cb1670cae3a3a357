/* SPDX-License-Identifier: MIT */
/* tools.h - shared between the `lazypv` subcommands (tools/ only). */
#ifndef LAZYPV_TOOLS_H
#define LAZYPV_TOOLS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lazypv/compiler.h"

struct lpv_cl_cmd;
struct lpv_cl_result;

struct tool_cmd {
	int (*fn)(int argc, char **argv);	/* returns the exit status */
	const struct lpv_cl_cmd *cl;	/* its options table: name, help, man */
};

/* One-line usage error on stderr, then exit(2). */
void tool_usage_error(const char *cmd, const char *fmt, ...)
	__printf_like(2, 3) __noreturn;

/*
 * Parse @argv by @cl's table into @opts (filled with defaults by the
 * caller): a user error goes through tool_usage_error() naming the
 * option as typed; returns true if --help was asked for (and printed on
 * stdout).  Release @res with lpv_cl_release().
 */
bool tool_parse_options(const struct lpv_cl_cmd *cl, int argc, char **argv,
			void *opts, struct lpv_cl_result *res);

/*
 * Where an option writes, checked before any work (a usage error naming
 * @opt otherwise): a FILE whose directory exists and is writable and
 * which is not itself a directory; a DIR that is a writable directory, or
 * does not exist and can be made (its parent exists and is writable).
 */
void tool_check_output_file(const char *cmd, const char *opt,
			    const char *path);
void tool_check_output_dir(const char *cmd, const char *opt,
			   const char *dir);

/*
 * The layers' environment tunables (LAZYPV_MM_*, LAZYPV_KVM_*): 0 if they
 * parse, else 2 -- the exit status of a usage error, the layer having
 * said which variable in one line.  Every command that starts a host
 * checks them with its arguments, before any work.
 */
int tool_env_check(void);

struct uv_profile;
/*
 * A firmware profile by name or file into @prof, or the usage error every
 * command words the same: "lazypv CMD: OPT: why (see 'lazypv CMD --help')"
 * (@opt: "--uv-profile", "--profiles: item 2").
 */
void tool_profile_load(const char *cmd, const char *opt, const char *name,
		       struct uv_profile *prof);

/* Names for enum options: host-view protection, teardown modes (the
 * library's, lpv_teardown_mode_name: "?" past the last). */
const char *tool_protect_name(unsigned int mode);
const char *tool_destroy_name(unsigned int mode);
/* A teardown mode's number (its index in lpv_teardown_mode_name, below
 * LPV_TEARDOWN_MODES), or -1. */
int tool_mode_index(const char *name);

struct json_t;
/* @j as one compact line on @f, written under the FILE's lock (whole
 * beside other threads' lines); the reference is consumed. */
void tool_json_print(FILE *f, struct json_t *j);
/* {"event":"interrupted","signal":"INT"}: what --json's last line says
 * after the first SIGINT/SIGTERM (run and bench). */
struct json_t *tool_json_interrupted(int signo);

struct lpv_event;
/*
 * One of a VM's events as `lazypv run` prints it (timeline.c): a readable
 * line, times relative to @t0_ns, or one JSON object per line with the
 * absolute monotonic t_ns.
 */
void tool_event_print(const struct lpv_event *ev, uint64_t t0_ns, FILE *f,
		      bool json);

struct host_config;
struct host;
struct lpv_host;
/* The library's handle over @h (lpv_host_wrap), with a one-line error;
 * 0 or 1 (the exit status). */
int tool_lpv_host(struct host *h, struct lpv_host **out, const char *cmd);
/* host_create with a one-line user-facing error; returns the exit status
 * (0, 2 for a size the machine refuses, 1 otherwise). */
int tool_host_create(const struct host_config *cfg, struct host **host,
		     const char *cmd);

/* The commands' option tables (cmd_*.c), for help and the man page. */
extern const struct lpv_cl_cmd cmd_info_cl, cmd_run_cl, cmd_mkimage_cl,
	cmd_bench_cl, cmd_soak_cl;

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
