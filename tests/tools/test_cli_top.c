// SPDX-License-Identifier: MIT
/*
 * test_cli_top.c - the `lazypv` command itself (no command, help,
 * version, an unknown command) and `lazypv mkimage`'s own inputs: a
 * payload file, a given public key, and each way its arguments can be
 * wrong.  The binary from the build directory (ctest's working directory)
 * run as a subprocess; a user error exits 2 with one line on stderr and
 * nothing on stdout.
 */
#include "test.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct cli {
	int status;
	char out[1 << 17];
	char err[4096];
	char dir[64];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run "ENV ./lazypv ARGS" with stdout/stderr captured in files. */
static void cli_run(struct cli *c, const char *env, const char *args)
{
	char cmd[1024], o[128], e[128];
	int st;

	if (!c->dir[0]) {
		strcpy(c->dir, "/tmp/lazypv-top-XXXXXX");
		ASSERT_NOT_NULL(mkdtemp(c->dir));
	}
	if (access("./lazypv", X_OK))
		test_fail(__FILE__, __LINE__, "./lazypv not found (run from the build directory)");
	snprintf(o, sizeof(o), "%s/out", c->dir);
	snprintf(e, sizeof(e), "%s/err", c->dir);
	snprintf(cmd, sizeof(cmd), "%s ./lazypv %s >%s 2>%s", env, args, o, e);
	st = system(cmd);
	ASSERT_TRUE(WIFEXITED(st));
	c->status = WEXITSTATUS(st);
	slurp(o, c->out, sizeof(c->out));
	slurp(e, c->err, sizeof(c->err));
}

static void cli_cleanup(struct cli *c)
{
	char cmd[128];

	if (c->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
		ASSERT_EQ(system(cmd), 0);
	}
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void expect_has(const struct cli *c, const char *needle)
{
	if (!strstr(c->out, needle))
		test_fail(__FILE__, __LINE__, "\"%s\" not in the output:\n%s",
			  needle, c->out);
}

static void expect_usage_error(struct cli *c, const char *env,
			       const char *args, const char *needle)
{
	cli_run(c, env, args);
	if (c->status != 2 || count_lines(c->err) != 1 || c->out[0] ||
	    !strstr(c->err, needle))
		test_fail(__FILE__, __LINE__,
			  "'%s lazypv %s': status %d, stdout \"%s\", stderr \"%s\" (want 2, one line with \"%s\")",
			  env, args, c->status, c->out, c->err, needle);
}

TEST_IMPL(cli_top_level)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run(c, "", "");
	ASSERT_EQ(c->status, 2);
	ASSERT_EQ(c->out[0], '\0');
	ASSERT_NOT_NULL(strstr(c->err, "usage: lazypv"));
	cli_run(c, "", "--help");
	ASSERT_EQ(c->status, 0);
	expect_has(c, "commands:\n  info ");
	expect_has(c, "  mkimage ");
	cli_run(c, "", "help");
	ASSERT_EQ(c->status, 0);
	expect_has(c, "usage: lazypv");
	cli_run(c, "", "-V");
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(strncmp(c->out, "lazypv 0.", 9), 0);
	ASSERT_EQ(count_lines(c->out), 1);
	expect_usage_error(c, "", "frobnicate", "unknown command 'frobnicate'");
	cli_run(c, "", "mkimage --help");
	ASSERT_EQ(c->status, 0);
	expect_has(c, "usage: lazypv mkimage");
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
	cli_run(c, "", "mkimage --print-host-key"); /* makes the directory */
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
	cli_run(c, "", args);
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	expect_has(c, " 2 encrypted pages");
	/* A public key given: printed back as given, images built for it. */
	snprintf(args, sizeof(args), "mkimage --print-host-key --host-key-pub %s",
		 key);
	cli_run(c, "", args);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(strncmp(c->out, key, 64), 0);
	snprintf(args, sizeof(args),
		 "mkimage --program touch --host-key-pub %s --payload-size 1 -o %s",
		 key, img);
	cli_run(c, "", args);
	ASSERT_EQ(c->status, 0);
	expect_has(c, key);

	snprintf(args, sizeof(args), "mkimage --program idle --payload %s -o %s",
		 c->dir, img);
	expect_usage_error(c, "", args, "not a regular file of at most 1 GiB");
	snprintf(args, sizeof(args), "mkimage --program idle --payload %s/none -o %s",
		 c->dir, img);
	expect_usage_error(c, "", args, "No such file");
	snprintf(args, sizeof(args),
		 "mkimage --program idle --payload %s --payload-size 4K -o %s", pay, img);
	expect_usage_error(c, "", args, "exclude each other");
	expect_usage_error(c, "", "mkimage --program idle --payload-size 0 -o x",
			   "--payload-size 0 is out of range");
	expect_usage_error(c, "", "mkimage --print-host-key --host-key-pub 12",
			   "--host-key-pub takes 64 hex digits");
	snprintf(args, sizeof(args), "mkimage --print-host-key --host-key-pub %s --uv-seed s",
		 key);
	expect_usage_error(c, "", args, "exclude each other");
	expect_usage_error(c, "", "mkimage -o x", "--program is required");
	expect_usage_error(c, "", "mkimage --program idle", "-o FILE is required");
	expect_usage_error(c, "", "mkimage --program idle -o x y",
			   "unexpected argument 'y'");
	expect_usage_error(c, "", "mkimage --program bogus -o x", "--program:");
	expect_usage_error(c, "", "mkimage --program idle -o /dev/null",
			   "is a character device");
	expect_usage_error(c, "", "mkimage --program idle -o ''", "empty path");
	expect_usage_error(c, "", "mkimage --program idle --nonce x -o y",
			   "--nonce takes a number");
	cli_cleanup(c);
	free(c);
	return 0;
}
