/* SPDX-License-Identifier: MIT */
/*
 * cli.h - running the built `lazypv` binary (or lazypv-bench,
 * lazypv-sweep) as a user would, for the CLI tests: a subprocess from the
 * build directory (ctest's working directory), its status, stdout and stderr captured through files in a
 * private temporary directory.
 */
#ifndef LAZYPV_TESTS_TOOLS_CLI_H
#define LAZYPV_TESTS_TOOLS_CLI_H

#include "test.h"

struct cli {
	int status;
	char out[1 << 17];
	char err[4096];
	char dir[64];		/* made on first use, removed by cli_cleanup */
};

/* Read a whole (small) file into @buf, NUL-terminated; "" if missing. */
void cli_slurp_file(const char *path, char *buf, size_t len);
/* The temporary directory (created on first use). */
const char *cli_dir(struct cli *c);
/* Run "ENV ./lazypv ARGS" (a shell command line; @env may be ""). */
void cli_run_env(struct cli *c, const char *env, const char *args);
/* The same for another program of the build directory: "lazypv-bench". */
void cli_run_prog(struct cli *c, const char *env, const char *prog,
		  const char *args);
/* Remove the temporary directory. */
void cli_cleanup(struct cli *c);
size_t cli_count_lines(const char *s);

/*
 * Start "ENV ./lazypv ARGS" in the background (stdout and stderr into the
 * temporary directory's "out" and "err"), wait until stdout holds
 * @needle (the test fails after @timeout_s seconds or if it exits
 * first), send it @sig, and reap it: c->status, c->out and c->err as
 * cli_run_env's.
 */
void cli_signal_after(struct cli *c, const char *env, const char *args,
		      const char *needle, int timeout_s, int sig);
/*
 * The same, then, once stderr says it is "stopping cleanly", @sig2 (the
 * abandon).  Returns false if it ended before @sig2 could be sent (c->status
 * and the output are then those of that end), true if @sig2 was sent.
 */
bool cli_signal_twice(struct cli *c, const char *env, const char *args,
		      const char *needle, int timeout_s, int sig, int sig2);
/* stdout holds @needle, else the test fails at the caller's @line. */
void cli_expect_has_at(int line, const struct cli *c, const char *needle);
#define cli_expect_has(c, needle) cli_expect_has_at(__LINE__, c, needle)
/*
 * A user error: exit 2, one line on stderr holding every needle
 * ('|'-separated), nothing on stdout; else the test fails at @line.
 */
void cli_expect_usage_error_at(int line, struct cli *c, const char *env,
			       const char *args, const char *needles);
#define cli_expect_usage_error(c, env, args, needles) \
	cli_expect_usage_error_at(__LINE__, c, env, args, needles)
/* The same for another program of the build directory (@prog). */
void cli_expect_prog_usage_error_at(int line, struct cli *c, const char *env,
				    const char *prog, const char *args,
				    const char *needles);
#define cli_expect_prog_usage_error(c, prog, args, needles) \
	cli_expect_prog_usage_error_at(__LINE__, c, "", prog, args, needles)

/*
 * The @len bytes at @s (one line of output, say) as one JSON object,
 * parsed with jansson (json_decref() it); else the test fails at @line.
 */
struct json_t;
struct json_t *cli_json_at(int line, const char *s, size_t len);
#define cli_json(s, len) cli_json_at(__LINE__, s, len)
/*
 * Each line of @out as a JSON object, in order: calls @fn with each (and
 * its index); the test fails at @line on a line that is not one.
 * Returns the number of lines.
 */
size_t cli_json_lines_at(int line, const char *out,
			 void (*fn)(struct json_t *j, size_t i, void *ctx),
			 void *ctx);
#define cli_json_lines(out, fn, ctx) cli_json_lines_at(__LINE__, out, fn, ctx)

#endif
