// SPDX-License-Identifier: MIT
/*
 * test_cli_top.c - the `lazypv` command itself (no command, help,
 * version, an unknown command) and `lazypv mkimage`'s own inputs: a
 * payload file, a given public key, and each way its arguments can be
 * wrong.  The binary from the build directory (ctest's working directory)
 * run as a subprocess; a user error exits 2 with one line on stderr and
 * nothing on stdout.
 */
#include "tools/cli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_IMPL(cli_top_level)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "");
	ASSERT_EQ(c->status, 2);
	ASSERT_EQ(c->out[0], '\0');
	ASSERT_NOT_NULL(strstr(c->err, "usage: lazypv"));
	cli_run_env(c, "", "--help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "commands:\n  info ");
	cli_expect_has(c, "  mkimage ");
	cli_run_env(c, "", "help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv");
	cli_run_env(c, "", "-V");
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(strncmp(c->out, "lazypv 0.", 9), 0);
	ASSERT_EQ(cli_count_lines(c->out), 1);
	cli_expect_usage_error(c, "", "frobnicate", "unknown command 'frobnicate'");
	/* An option is not a command; --version takes nothing after it. */
	cli_expect_usage_error(c, "", "--bogus",
			       "lazypv: unknown option '--bogus'|(see 'lazypv --help')");
	cli_expect_usage_error(c, "", "-x", "unknown option '-x'");
	cli_expect_usage_error(c, "", "--version extra",
			       "--version takes no arguments|'extra'|(see 'lazypv --help')");
	cli_expect_usage_error(c, "", "-V info", "-V takes no arguments");
	cli_run_env(c, "", "mkimage --help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv mkimage");
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_mkimage_inputs)
{
	static const char key[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], pay[128], img[128];
	FILE *f;

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "mkimage --print-host-key"); /* makes the directory */
	ASSERT_EQ(c->status, 0);
	snprintf(pay, sizeof(pay), "%s/kernel", c->dir);
	snprintf(img, sizeof(img), "%s/guest.img", c->dir);
	f = fopen(pay, "w");
	ASSERT_NOT_NULL(f);
	fputs("a kernel of a few bytes\n", f);
	ASSERT_EQ(fclose(f), 0);

	/* A payload file: the boot page and one payload page. */
	snprintf(args, sizeof(args), "mkimage --program idle --payload %s -o %s",
		 pay, img);
	cli_run_env(c, "", args);
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, " 2 encrypted pages");
	/* A public key given: printed back as given, images built for it. */
	snprintf(args, sizeof(args), "mkimage --print-host-key --host-key-pub %s",
		 key);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(strncmp(c->out, key, 64), 0);
	snprintf(args, sizeof(args),
		 "mkimage --program touch --host-key-pub %s --payload-size 1 -o %s",
		 key, img);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, key);

	snprintf(args, sizeof(args), "mkimage --program idle --payload %s -o %s",
		 c->dir, img);
	cli_expect_usage_error(c, "", args, "not a regular file of at most 1 GiB");
	snprintf(args, sizeof(args), "mkimage --program idle --payload %s/none -o %s",
		 c->dir, img);
	cli_expect_usage_error(c, "", args, "No such file");
	snprintf(args, sizeof(args),
		 "mkimage --program idle --payload %s --payload-size 4K -o %s", pay, img);
	cli_expect_usage_error(c, "", args, "exclude each other");
	cli_expect_usage_error(c, "", "mkimage --program idle --payload-size 0 -o x",
			   "--payload-size: '0' is out of range");
	cli_expect_usage_error(c, "", "mkimage --print-host-key --host-key-pub 12",
			   "--host-key-pub takes 64 hex digits");
	snprintf(args, sizeof(args), "mkimage --print-host-key --host-key-pub %s --uv-seed s",
		 key);
	cli_expect_usage_error(c, "", args, "exclude each other");
	cli_expect_usage_error(c, "", "mkimage -o x", "--program is required");
	cli_expect_usage_error(c, "", "mkimage --program idle", "-o FILE is required");
	cli_expect_usage_error(c, "", "mkimage --program idle -o x y",
			   "unexpected argument 'y'");
	cli_expect_usage_error(c, "", "mkimage --program bogus -o x", "--program:");
	cli_expect_usage_error(c, "", "mkimage --program idle -o /dev/null",
			   "is a character device");
	cli_expect_usage_error(c, "", "mkimage --program idle -o ''", "empty path");
	cli_expect_usage_error(c, "", "mkimage --program idle --nonce x -o y",
			   "--nonce: 'x' is not a number");
	cli_cleanup(c);
	free(c);
	return 0;
}
