// SPDX-License-Identifier: MIT
/*
 * test_cli_info.c - `lazypv info` as a user meets it: the binary from the
 * build directory (ctest's working directory) run as a subprocess.  Text
 * and JSON name the machine, whether INIT_UV worked, the firmware profile
 * and every option; a host too small for the UV's storage still prints,
 * saying PV is unavailable; bad input exits 2 with one line on stderr and
 * nothing on stdout.
 */
#include "tools/cli.h"

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

/* stdout is one JSON object on one line: parsed (the caller decrefs). */
static json_t *expect_one_json_object(const char *s)
{
	json_error_t jerr;
	json_t *j = json_loads(s, 0, &jerr);

	if (!j || !json_is_object(j))
		test_fail(__FILE__, __LINE__, "not one JSON object (%s) in \"%s\"",
			  j ? "not an object" : jerr.text, s);
	ASSERT_NOT_NULL(strchr(s, '\n'));
	ASSERT_EQ(strchr(s, '\n')[1], '\0');
	return j;
}

/* @j's member @key (a path "a.b" goes down objects), or the test fails. */
static json_t *get(json_t *j, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		j = json_object_get(j, k);
		if (!j)
			test_fail(__FILE__, __LINE__, "no \"%s\" (of %s)", k, path);
	}
	return j;
}

TEST_IMPL(cli_info_text)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "info --host-mem 3G --protect soft");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->err[0], '\0');
	ASSERT_EQ(strncmp(c->out, "lazypv ", 7), 0);
	cli_expect_has(c, "host memory        3.00 GiB (786432 frames of 4 KiB)");
	cli_expect_has(c, "protection         soft");
	cli_expect_has(c, "protected virtualization host: available (INIT_UV done)");
	cli_expect_has(c, "firmware profile:\nname = default\n");
	cli_expect_has(c, "cost.destroy_page = 800ns");
	cli_expect_has(c, "LAZYPV_MM_OOM_WAIT_MS");
	/* Each options table once. */
	ASSERT_NULL(strstr(strstr(c->out, "mm options:") + 1, "mm options:"));
	ASSERT_NULL(strstr(strstr(c->out, "kvm options:") + 1, "kvm options:"));

	/* A profile file, and an environment override shown as in force. */
	cli_run_env(c, "", "info --help");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "usage: lazypv info");
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
		cli_run_env(c, "LAZYPV_MM_OOM_WAIT_MS=1234", args);
	}
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "name = mine\n");
	cli_expect_has(c, "cost.import = 7000ns");
	cli_expect_has(c, "oom_wait_ms              1234         (default 1000; LAZYPV_MM_OOM_WAIT_MS)");

	/* Too small for the UV's storage above 2 GiB: said, not failed. */
	cli_run_env(c, "", "info --host-mem 64M");
	ASSERT_EQ(c->status, 0);
	cli_expect_has(c, "protected virtualization host: unavailable: INIT_UV failed");
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_info_json)
{
	struct cli *c = calloc(1, sizeof(*c));
	json_t *j;

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "info --host-mem 3G --uv-profile zero --protect soft --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->err[0], '\0');
	expect_one_json_object(c->out);
	{
		json_error_t jerr;
		json_t *root = json_loads(c->out, 0, &jerr), *v;
		static const char *const sections[] = { "machine", "uv", "mm",
							"kvm" };

		ASSERT_NOT_NULL(root);
		ASSERT_TRUE(json_is_string(json_object_get(root, "version")));
		v = json_object_get(root, "host_mem");
		ASSERT_TRUE(json_is_integer(v));
		ASSERT_EQ(json_integer_value(v), 3221225472LL);
		ASSERT_STR_EQ(json_string_value(json_object_get(root, "protection")),
			      "soft");
		ASSERT_STR_EQ(json_string_value(json_object_get(root, "profile")),
			      "zero");
		ASSERT_TRUE(json_is_true(json_object_get(root, "pv_host")));
		for (size_t i = 0; i < sizeof(sections) / sizeof(*sections); i++)
			ASSERT_TRUE(json_is_object(json_object_get(root,
								   sections[i])));
		v = json_object_get(json_object_get(root, "mm"), "nr_frames");
		ASSERT_EQ(json_integer_value(v), 786432);
		json_decref(root);
	}

	/* Without INIT_UV there is no KVM module to show. */
	cli_run_env(c, "", "info --host-mem 64M --json");
	ASSERT_EQ(c->status, 0);
	j = expect_one_json_object(c->out);
	ASSERT_TRUE(json_is_false(get(j, "pv_host")));
	ASSERT_NULL(json_object_get(j, "kvm"));
	json_decref(j);
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_info_inputs)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_expect_usage_error(c, "", "info --protect maybe", "--protect");
	cli_expect_usage_error(c, "", "info --host-mem lots", "--host-mem");
	cli_expect_usage_error(c, "", "info --host-mem 0", "--host-mem: '0' is out of range");
	cli_expect_usage_error(c, "", "info --host-mem 4097", "--host-mem: '4097' is not a multiple of 4K");
	cli_expect_usage_error(c, "", "info --host-mem 16000T", "out of range");
	cli_expect_usage_error(c, "", "info --uv-profile /nonexistent/p",
			   "/nonexistent/p");
	cli_expect_usage_error(c, "", "info --uv-profile /tmp", "is a directory");
	/* Worded as run words it: the option, then the hint. */
	cli_expect_usage_error(c, "", "info --uv-profile nosuch",
			       "lazypv info: --uv-profile: nosuch: not a built-in profile|(see 'lazypv info --help')");
	cli_expect_usage_error(c, "", "run --uv-profile nosuch",
			       "lazypv run: --uv-profile: nosuch: not a built-in profile|(see 'lazypv run --help')");
	cli_expect_usage_error(c, "", "info --bogus", "unknown option '--bogus'");
	cli_expect_usage_error(c, "", "info --json=yes", "--json takes no value");
	cli_expect_usage_error(c, "", "info extra", "unexpected argument 'extra'");
	cli_expect_usage_error(c, "LAZYPV_MM_OOM_WAIT_MS=forever", "info",
			   "LAZYPV_MM_OOM_WAIT_MS");
	cli_cleanup(c);
	free(c);
	return 0;
}
