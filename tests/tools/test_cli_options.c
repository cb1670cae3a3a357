// SPDX-License-Identifier: MIT
/*
 * test_cli_options.c - every program of the tree parses its options by a
 * table (lib/cmdline.h): `lazypv help`, lazypv-bench and lazypv-sweep
 * answer --help from it and a bad option with the one line every command
 * prints ("PROG: MESSAGE (see 'PROG --help')", exit 2); their options
 * still reach the program.  And `lazypv run`'s --destroy help names each
 * teardown mode of the library, with what it is.  The binaries from the
 * build directory (ctest's working directory), run as subprocesses.
 */
#include "tools/cli.h"

#include <ctype.h>
#include <jansson.h>

#include "lazypv/lazypv.h"

TEST_IMPL(cli_help_command)
{
	struct cli *c = calloc(1, sizeof(*c));
	char *run_help;
	const char *see;

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "help help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv help [--man] [COMMAND]\n");
	cli_expect_has(c, "  --man ");
	cli_run_env(c, "", "help -h");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv help [--man] [COMMAND]\n");
	/* COMMAND: its --help. */
	cli_run_env(c, "", "run --help");
	ASSERT_EQ(c->status, 0);
	run_help = strdup(c->out);
	ASSERT_NOT_NULL(run_help);
	cli_run_env(c, "", "help run");
	ASSERT_EQ(c->status, 0);
	ASSERT_STR_EQ(c->out, run_help);
	free(run_help);
	/* No argument: the command list, help among the commands. */
	cli_run_env(c, "", "help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "commands:\n  info ");
	cli_expect_has(c, "\n  help ");
	/* --man: lazypv(1), every command, ending with SEE ALSO lazypv(3). */
	cli_run_env(c, "", "help --man");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, ".TH LAZYPV 1 ");
	cli_expect_has(c, ".SS \"lazypv run\"\n");
	cli_expect_has(c, ".SS \"lazypv help\"\n");
	see = strstr(c->out, "\n.SH SEE ALSO\n");
	ASSERT_NOT_NULL(see);
	ASSERT_NULL(strstr(see + 1, "\n.SH "));
	ASSERT_NOT_NULL(strstr(see, ".BR lazypv (3)"));

	cli_expect_usage_error(c, "", "help --bogus",
			       "lazypv help: unknown option '--bogus' (see 'lazypv help --help')");
	cli_expect_usage_error(c, "", "help --man=1",
			       "lazypv help: option --man takes no value, not '1'");
	cli_expect_usage_error(c, "", "help nosuch",
			       "lazypv help: unknown command 'nosuch' (see 'lazypv help --help')");
	cli_expect_usage_error(c, "", "help run bench",
			       "lazypv help: unexpected argument 'bench'");
	cli_expect_usage_error(c, "", "help --man run", "lazypv help: --man|'run'");
	cli_cleanup(c);
	free(c);
	return 0;
}

static void bench_runs_one(json_t *j, size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "bench")), "hw");
	ASSERT_EQ(json_integer_value(json_object_get(j, "runs")), 2);
}

TEST_IMPL(cli_bench_program_options)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run_prog(c, "", "lazypv-bench", "--help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv-bench [--runs N] [--arena SIZE] [--quick] [--json] [NAME...]\n");
	cli_expect_has(c, "\n  --runs N ");
	cli_expect_has(c, "\n  idle ");
	cli_run_prog(c, "", "lazypv-bench", "-h");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv-bench ");

	cli_expect_prog_usage_error(c, "lazypv-bench", "--bogus",
				    "lazypv-bench: unknown option '--bogus' (see 'lazypv-bench --help')");
	cli_expect_prog_usage_error(c, "lazypv-bench", "hw --runs",
				    "lazypv-bench: option --runs needs a value");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--runs x",
				    "lazypv-bench: --runs: 'x' is not a number");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--runs 5x",
				    "lazypv-bench: --runs: '5x' is not a number");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--runs 65",
				    "lazypv-bench: --runs: '65' is out of range (1..64)");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--arena 12Q",
				    "lazypv-bench: --arena: '12Q' is not a size");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--arena 512K",
				    "lazypv-bench: --arena: '512K' is out of range (at least 1M)");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--arena 1048577",
				    "lazypv-bench: --arena: '1048577' is not a multiple of 4K");
	cli_expect_prog_usage_error(c, "lazypv-bench", "--quick nosuch",
				    "lazypv-bench: unknown benchmark 'nosuch' (one of: hw, mm, idle)");

	/* The options reach the benchmarks: names among options, --runs in
	 * every figure. */
	cli_run_prog(c, "", "lazypv-bench", "--quick hw --arena 1M --runs 2 --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_GT(cli_json_lines(c->out, bench_runs_one, NULL), 0);
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_sweep_program_options)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run_prog(c, "", "lazypv-sweep", "--help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv-sweep [--modes LIST] [--per-group N] [--timeout S]");
	cli_expect_has(c, "(of: sync, sync-6.0, lazy, async,");

	cli_expect_prog_usage_error(c, "lazypv-sweep", "--bogus",
				    "lazypv-sweep: unknown option '--bogus' (see 'lazypv-sweep --help')");
	cli_expect_prog_usage_error(c, "lazypv-sweep", "--per-group",
				    "lazypv-sweep: option --per-group needs a value");
	cli_expect_prog_usage_error(c, "lazypv-sweep", "--per-group x",
				    "lazypv-sweep: --per-group: 'x' is not a number");
	cli_expect_prog_usage_error(c, "lazypv-sweep", "--timeout 3601",
				    "lazypv-sweep: --timeout: '3601' is out of range (0..3600)");
	cli_expect_prog_usage_error(c, "lazypv-sweep", "--modes sync,nosuch",
				    "lazypv-sweep: --modes: item 2 'nosuch' is not sync,");
	cli_expect_prog_usage_error(c, "lazypv-sweep", "--groups extra",
				    "lazypv-sweep: unexpected argument 'extra'");

	/* The options reach the sweep: one mode, one point of one kind. */
	cli_run_prog(c, "", "lazypv-sweep",
		     "--modes sync --per-group 1 --only 'uvc destroy_page' --timeout 60 --groups");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "up to 1 points per kind");
	cli_expect_has(c, "\nsync ");
	cli_expect_has(c, "runs 1:");
	cli_expect_has(c, "violations: 0\n");
	ASSERT_NULL(strstr(c->out, "\nlazy "));
	cli_cleanup(c);
	free(c);
	return 0;
}

/* @s with every run of white space made one space. */
static void squeeze(char *s)
{
	char *d = s;

	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			*d++ = *s;
		else if (d == s || d[-1] != ' ')
			*d++ = ' ';
	*d = '\0';
}

TEST_IMPL(cli_run_destroy_help)
{
	struct cli *c = calloc(1, sizeof(*c));
	char *text, *end, want[64];

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "run --help");
	ASSERT_EQ(c->status, 0);
	/* --destroy's help, up to the next option. */
	text = strstr(c->out, "\n  --destroy MODE ");
	ASSERT_NOT_NULL(text);
	end = strstr(text + 1, "\n  -");
	ASSERT_NOT_NULL(end);
	*end = '\0';
	squeeze(text);
	/* Each mode of the library, described; then the generated list. */
	for (unsigned int i = 0; lpv_teardown_mode_name(i); i++) {
		snprintf(want, sizeof(want), " %s (", lpv_teardown_mode_name(i));
		if (!strstr(text, want))
			test_fail(__FILE__, __LINE__, "--destroy's help does not describe mode '%s': %s",
				  lpv_teardown_mode_name(i), text);
		snprintf(want, sizeof(want), "%s %s%s",
			 !i ? "(one of:" : "", lpv_teardown_mode_name(i),
			 lpv_teardown_mode_name(i + 1) ? "," : ";");
		if (!strstr(text, want))
			test_fail(__FILE__, __LINE__, "--destroy's list lacks '%s': %s",
				  want, text);
	}
	cli_cleanup(c);
	free(c);
	return 0;
}
