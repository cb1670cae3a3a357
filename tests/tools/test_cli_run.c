// SPDX-License-Identifier: MIT
/*
 * test_cli_run.c - `lazypv run` and `lazypv mkimage` as a user meets them:
 * the binary from the build directory (ctest's working directory) run as a
 * subprocess.  Bad options and impossible sizes exit 2 with exactly one
 * line on stderr and nothing on stdout; an image made by mkimage boots
 * with the same --uv-seed and is refused with another; --json prints one
 * object per line ending with the summary.  `lazypv bench` on a tiny
 * guest reports every figure for every mode.
 */
#include "tools/cli.h"

#include <sys/wait.h>
#include <unistd.h>

TEST_IMPL(cli_run_rejects_bad_options)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_expect_usage_error(c, "", "run --cpus 0", "--cpus");
	cli_expect_usage_error(c, "", "run --cpus x", "--cpus");
	cli_expect_usage_error(c, "", "run --guest-mem 1G --host-mem 512M", "does not fit");
	cli_expect_usage_error(c, "", "run --guest-mem 0", "--guest-mem");
	cli_expect_usage_error(c, "", "run --guest-mem 1000K", "--guest-mem");
	cli_expect_usage_error(c, "", "run --guest-mem lots", "--guest-mem");
	cli_expect_usage_error(c, "", "run --host-mem 1G", "init_min_origin");
	cli_expect_usage_error(c, "", "run --program nosuch", "unknown program");
	cli_expect_usage_error(c, "", "run --program touch:mib=zero", "mib");
	cli_expect_usage_error(c, "", "run --uv-profile nosuch-profile", "nosuch-profile");
	cli_expect_usage_error(c, "", "run --destroy eager", "--destroy");
	cli_expect_usage_error(c, "", "run --frobnicate", "frobnicate");
	cli_expect_usage_error(c, "", "run --reboots", "needs a value");
	cli_expect_usage_error(c, "", "run extra", "unexpected");
	cli_expect_usage_error(c, "", "run --image /nonexistent/image", "/nonexistent/image");
	cli_expect_usage_error(c, "", "mkimage -o x", "--program");
	cli_expect_usage_error(c, "", "mkimage --program touch", "-o");
	cli_expect_usage_error(c, "", "mkimage --program nosuch -o x", "unknown program");
	cli_expect_usage_error(c, "", "mkimage --program idle --host-key-pub 12 -o x", "64 hex");
	/* The help exits 0 and mentions every option the issue names. */
	cli_run_env(c, "", "run --help");
	ASSERT_EQ(c->status, 0);
	for (const char *const *o = (const char *const[]){ "--guest-mem",
		"--host-mem", "--cpus", "--program", "--reboots", "--destroy",
		"--uv-profile", "--memcg-limit", "--json", NULL }; *o; o++)
		ASSERT_NOT_NULL(strstr(c->out, *o));
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_mkimage_then_run)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], img[128], junk[128];

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "mkimage --print-host-key --uv-seed cli-test");
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(strlen(c->out), 65);
	snprintf(img, sizeof(img), "%s/guest.img", c->dir);
	snprintf(args, sizeof(args),
		 "mkimage --program touch:mib=4,then=reboot --payload-size 256K --uv-seed cli-test -o %s",
		 img);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	ASSERT_NOT_NULL(strstr(c->out, "encrypted pages"));
	/* Boots with the same seed, through a reboot, as JSON. */
	snprintf(args, sizeof(args),
		 "run --image %s --uv-seed cli-test --guest-mem 16M --reboots 1 --json",
		 img);
	cli_run_env(c, "", args);
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	{
		size_t lines = 0, starts = 0;
		char *save = NULL, *last = NULL;

		for (char *l = strtok_r(c->out, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save), lines++) {
			ASSERT_EQ(l[0], '{');
			ASSERT_EQ(l[strlen(l) - 1], '}');
			ASSERT_NOT_NULL(strstr(l, "\"event\":\""));
			starts += strstr(l, "\"event\":\"guest_start\"") != NULL;
			last = l;
		}
		ASSERT_EQ(starts, 2);
		ASSERT_GT(lines, 8);
		ASSERT_NOT_NULL(last);
		ASSERT_NOT_NULL(strstr(last, "\"event\":\"summary\""));
		ASSERT_NOT_NULL(strstr(last, "\"exit_latency_ns\""));
	}
	/* Another seed: refused before anything starts. */
	snprintf(args, sizeof(args), "run --image %s --uv-seed other --guest-mem 16M",
		 img);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 2);
	ASSERT_NOT_NULL(strstr(c->err, "host key"));
	/* A damaged file: a one-line error naming the problem. */
	snprintf(junk, sizeof(junk), "%s/junk.img", c->dir);
	snprintf(args, sizeof(args), "head -c 5000 %s > %s", img, junk);
	ASSERT_EQ(system(args), 0);
	snprintf(args, sizeof(args), "run --image %s --uv-seed cli-test", junk);
	cli_expect_usage_error(c, "", args, "truncated");
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_run_text_timeline)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "run --guest-mem 16M --cpus 2 --reboots 1 --payload-size 64K --program memtest:ops=2000");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	ASSERT_NOT_NULL(strstr(c->out, "restart latency"));
	ASSERT_NOT_NULL(strstr(c->out, "exit latency"));
	ASSERT_NOT_NULL(strstr(c->out, "memory reclaimed"));
	ASSERT_NOT_NULL(strstr(c->out, "ok (mm, uv, hw)"));
	ASSERT_NOT_NULL(strstr(c->out, "leaks                0 frames"));
	/* An idle guest: the host resets it, then shuts it down. */
	cli_run_env(c, "", "run --guest-mem 16M --reboots 2 --payload-size 64K --program idle");
	ASSERT_EQ(c->status, 0);
	ASSERT_NOT_NULL(strstr(c->out, "external reset requested"));
	ASSERT_NOT_NULL(strstr(c->out, "host request"));
	cli_cleanup(c);
	free(c);
	return 0;
}

/* The value of "key": in a JSON line, or -1 if it is missing. */
static double json_num(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

/*
 * `lazypv bench` on a tiny guest: one JSON object per mode, every figure
 * present, the timeline-derived ones (restart, both guests' passes)
 * found -- a figure the tool failed to find reads 0.  Timings are not
 * judged, only that they were measured.
 */
TEST_IMPL(cli_bench_json)
{
	static const char *const figs[] = { "restart_ms", "exit_ms",
		"reclaim_ms", "cleanup_pages_per_s", "floor_ns_per_page",
		"guest1_ms", "guest2_ms", NULL };
	struct cli *c = calloc(1, sizeof(*c));
	bool seen[5] = { false, false, false, false, false };
	char *save = NULL;

	ASSERT_NOT_NULL(c);
	cli_expect_usage_error(c, "", "bench --sizes 0", "--sizes");
	cli_expect_usage_error(c, "", "bench --runs 0", "--runs");
	cli_expect_usage_error(c, "", "bench --modes eager", "eager");
	cli_run_env(c, "", "bench --sizes 16M --runs 1 --profiles zero --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	for (char *l = strtok_r(c->out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		static const char *const modes[] = { "sync", "sync-6.0",
						      "lazy", "async", "instant" };
		int m = -1;

		ASSERT_EQ(l[0], '{');
		ASSERT_NOT_NULL(strstr(l, "\"bench\":\"teardown\""));
		for (int i = 0; i < 5; i++) {
			char pat[32];

			snprintf(pat, sizeof(pat), "\"mode\":\"%s\"", modes[i]);
			if (strstr(l, pat))
				m = i;
		}
		ASSERT_TRUE(m >= 0);
		ASSERT_FALSE(seen[m]);
		seen[m] = true;
		for (const char *const *f = figs; *f; f++)
			if (!(json_num(l, *f) > 0))
				test_fail(__FILE__, __LINE__, "%s: %s missing or 0 in %s",
					  modes[m], *f, l);
		ASSERT_TRUE(json_num(l, "guest2_vs_sync") > 0);
	}
	ASSERT_TRUE(seen[0] && seen[1] && seen[2] && seen[3] && seen[4]);
	cli_cleanup(c);
	free(c);
	return 0;
}
