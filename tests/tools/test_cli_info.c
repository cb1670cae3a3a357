// SPDX-License-Identifier: MIT
/*
 * test_cli_info.c - `lazypv info` as a user meets it: the binary from the
 * build directory (ctest's working directory) run as a subprocess.  Text
 * and JSON name the machine, whether INIT_UV worked, the firmware profile
 * and every option; a host too small for the UV's storage still prints,
 * saying PV is unavailable; bad input exits 2 with one line on stderr and
 * nothing on stdout.
 */
#include "test.h"

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
		strcpy(c->dir, "/tmp/lazypv-info-XXXXXX");
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

/*
 * The JSON object is well formed as far as its structure goes: braces and
 * brackets balanced outside strings, strings closed, a newline and nothing
 * else after the object.
 */
static void expect_one_json_object(const char *s)
{
	int depth = 0;
	bool in_str = false;
	const char *p = s;

	ASSERT_EQ(*p, '{');
	for (; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			ASSERT_GE(--depth, 0);
		if (!depth)
			break;
	}
	ASSERT_FALSE(in_str);
	ASSERT_EQ(depth, 0);
	ASSERT_EQ(p[0], '}');
	ASSERT_EQ(p[1], '\n');
	ASSERT_EQ(p[2], '\0');
}

TEST_IMPL(cli_info_text)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run(c, "", "info --host-mem 3G --protect soft");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->err[0], '\0');
	ASSERT_EQ(strncmp(c->out, "lazypv ", 7), 0);
	expect_has(c, "host memory        3.00 GiB (786432 frames of 4 KiB)");
	expect_has(c, "protection         soft");
	expect_has(c, "protected virtualization host: available (INIT_UV done)");
	expect_has(c, "firmware profile:\nname = default\n");
	expect_has(c, "cost.destroy_page = 800ns");
	expect_has(c, "LAZYPV_MM_OOM_WAIT_MS");
	/* Each options table once. */
	ASSERT_NULL(strstr(strstr(c->out, "mm options:") + 1, "mm options:"));
	ASSERT_NULL(strstr(strstr(c->out, "kvm options:") + 1, "kvm options:"));

	/* A profile file, and an environment override shown as in force. */
	cli_run(c, "", "info --help");
	ASSERT_EQ(c->status, 0);
	expect_has(c, "usage: lazypv info");
	{
		char path[128], args[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/prof", c->dir);
		f = fopen(path, "w");
		ASSERT_NOT_NULL(f);
		fputs("base = zero\nname = mine\ncost.import = 7us\n", f);
		ASSERT_EQ(fclose(f), 0);
		snprintf(args, sizeof(args), "info --host-mem 3G --uv-profile %s",
			 path);
		cli_run(c, "LAZYPV_MM_OOM_WAIT_MS=1234", args);
	}
	ASSERT_EQ(c->status, 0);
	expect_has(c, "name = mine\n");
	expect_has(c, "cost.import = 7000ns");
	expect_has(c, "oom_wait_ms              1234         (default 1000; LAZYPV_MM_OOM_WAIT_MS)");

	/* Too small for the UV's storage above 2 GiB: said, not failed. */
	cli_run(c, "", "info --host-mem 64M");
	ASSERT_EQ(c->status, 0);
	expect_has(c, "protected virtualization host: unavailable: INIT_UV failed");
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_info_json)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run(c, "", "info --host-mem 3G --uv-profile zero --protect soft --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->err[0], '\0');
	expect_one_json_object(c->out);
	expect_has(c, "\"version\":\"");
	expect_has(c, "\"machine\":{\"host_mem\":3221225472,\"frames\":786432,\"protection\":\"soft\"");
	expect_has(c, "\"pv_host\":true,\"uv\":{");
	expect_has(c, ",\"mm\":{");
	expect_has(c, ",\"kvm\":{");

	/* Without INIT_UV there is no KVM module to show. */
	cli_run(c, "", "info --host-mem 64M --json");
	ASSERT_EQ(c->status, 0);
	expect_one_json_object(c->out);
	expect_has(c, "\"pv_host\":false");
	ASSERT_NULL(strstr(c->out, "\"kvm\":"));
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_info_inputs)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	expect_usage_error(c, "", "info --protect maybe", "--protect");
	expect_usage_error(c, "", "info --host-mem lots", "--host-mem");
	expect_usage_error(c, "", "info --host-mem 0", "--host-mem must not be zero");
	expect_usage_error(c, "", "info --host-mem 4097", "not a multiple of 4 KiB");
	expect_usage_error(c, "", "info --host-mem 16000T", "out of range");
	expect_usage_error(c, "", "info --uv-profile /nonexistent/p",
			   "/nonexistent/p");
	expect_usage_error(c, "", "info --uv-profile /tmp", "is a directory");
	expect_usage_error(c, "", "info --bogus", "unknown option '--bogus'");
	expect_usage_error(c, "", "info --json=yes", "--json takes no value");
	expect_usage_error(c, "", "info extra", "unexpected argument 'extra'");
	expect_usage_error(c, "LAZYPV_MM_OOM_WAIT_MS=forever", "info",
			   "LAZYPV_MM_OOM_WAIT_MS");
	cli_cleanup(c);
	free(c);
	return 0;
}
