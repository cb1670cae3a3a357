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
