// SPDX-License-Identifier: MIT
/*
 * test_cli_run.c - `lazypv run` and `lazypv mkimage` as a user meets them:
 * the binary from the build directory (ctest's working directory) run as a
 * subprocess.  Bad options and impossible sizes exit 2 with exactly one
 * line on stderr and nothing on stdout; an image made by mkimage boots
 * with the same --uv-seed and is refused with another; --json prints one
 * object per line (read back with jansson) ending with the summary, with
 * cleanup progress events (rate, ETA) while memory is being cleaned.
 * `lazypv bench` on a tiny guest reports every figure `bench --figures`
 * lists, for every mode, as JSON and as CSV.
 */
#include "tools/cli.h"

#include <jansson.h>
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

struct run_lines {
	size_t starts, summaries, summary_at;
};

/* One line of `run --json`: an event, or (last) the summary. */
static void run_line(json_t *j, size_t i, void *ctx)
{
	static const char *const summary_keys[] = { "mode", "profile",
		"guest_mem", "cpus", "program", "boots",
		"restart_latency_median_ns", "exit_latency_ns", "reclaim_ns",
		"reclaim_frames", "cleanup_pages_per_s", "oom_kills",
		"oom_stall_max_ns", "leaked_frames", "exit_code", NULL };
	struct run_lines *rl = ctx;
	const char *ev = json_string_value(json_object_get(j, "event"));
	json_t *restarts;

	ASSERT_NOT_NULL(ev);
	if (!strcmp(ev, "guest_start"))
		rl->starts++;
	if (strcmp(ev, "summary"))
		return;
	rl->summaries++;
	rl->summary_at = i;
	for (const char *const *k = summary_keys; *k; k++)
		if (!json_object_get(j, *k))
			test_fail(__FILE__, __LINE__, "summary: no \"%s\"", *k);
	ASSERT_TRUE(json_is_true(json_object_get(j, "check")));
	ASSERT_EQ(json_integer_value(json_object_get(j, "boots")), 2);
	ASSERT_GT(json_integer_value(json_object_get(j, "exit_latency_ns")), 0);
	/* One restart, named by the boot it started. */
	restarts = json_object_get(j, "restarts");
	ASSERT_TRUE(json_is_array(restarts));
	ASSERT_EQ(json_array_size(restarts), 1);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(restarts, 0),
						     "boot")), 1);
	ASSERT_GT(json_integer_value(json_object_get(json_array_get(restarts, 0),
						     "latency_ns")), 0);
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
		struct run_lines rl = { 0 };
		size_t lines = cli_json_lines(c->out, run_line, &rl);

		ASSERT_EQ(rl.starts, 2);
		ASSERT_GT(lines, 8);
		ASSERT_EQ(rl.summaries, 1);
		ASSERT_EQ(rl.summary_at, lines - 1);
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

/* The keys a row of table @table must hold: `bench --figures --json`. */
struct figs {
	const char *table;
	char keys[32][32];
	size_t n;
};

static void figure_line(json_t *j, size_t i, void *ctx)
{
	struct figs *f = ctx;
	const char *key = json_string_value(json_object_get(j, "key"));

	(void)i;
	ASSERT_NOT_NULL(key);
	ASSERT_NOT_NULL(json_string_value(json_object_get(j, "unit")));
	ASSERT_NOT_NULL(json_string_value(json_object_get(j, "meaning")));
	if (strcmp(json_string_value(json_object_get(j, "bench")), f->table))
		return;
	ASSERT_LT(f->n, 32);
	snprintf(f->keys[f->n++], sizeof(f->keys[0]), "%s", key);
}

static void figures_of(struct cli *c, struct figs *f, const char *table)
{
	memset(f, 0, sizeof(*f));
	f->table = table;
	cli_run_env(c, "", "bench --figures --json");
	ASSERT_EQ(c->status, 0);
	cli_json_lines(c->out, figure_line, f);
	ASSERT_GT(f->n, 5);
}

/* A figure: a number, or null where the run could not measure it. */
static double fig(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);

	if (!v || !(json_is_number(v) || json_is_null(v)))
		test_fail(__FILE__, __LINE__, "%s missing or not a number", key);
	return json_is_null(v) ? -1 : json_number_value(v);
}

struct rows {
	const struct figs *figs;
	bool seen[5];
	size_t n;
};

static void teardown_row(json_t *j, size_t i, void *ctx)
{
	/* Every mode measures these: a figure the tool failed to find is
	 * null or 0.  Timings are not judged, only that they were taken. */
	static const char *const measured[] = { "restart_ms", "exit_ms",
		"reclaim_ms", "cleanup_pages_per_s", "ns_per_page",
		"floor_share", "guest1_ms", "guest2_ms", "restart_vs_sync",
		"guest2_vs_sync", NULL };
	static const char *const modes[] = { "sync", "sync-6.0", "lazy", "async",
					     "instant" };
	struct rows *r = ctx;
	const char *mode = json_string_value(json_object_get(j, "mode"));
	int m = -1;

	(void)i;
	ASSERT_EQ(strcmp(json_string_value(json_object_get(j, "bench")), "teardown"), 0);
	ASSERT_EQ(strcmp(json_string_value(json_object_get(j, "profile")), "default"), 0);
	ASSERT_EQ(json_integer_value(json_object_get(j, "guest_mem")), 16 << 20);
	ASSERT_EQ(json_integer_value(json_object_get(j, "runs")), 1);
	ASSERT_GT(fig(j, "floor_ns_per_page"), 0);
	ASSERT_GT(fig(j, "machine_floor_ns_per_page"), 0);
	ASSERT_NOT_NULL(mode);
	for (int k = 0; k < 5; k++)
		if (!strcmp(mode, modes[k]))
			m = k;
	ASSERT_GE(m, 0);
	ASSERT_FALSE(r->seen[m]);
	r->seen[m] = true;
	for (size_t k = 0; k < r->figs->n; k++)
		fig(j, r->figs->keys[k]);
	for (const char *const *k = measured; *k; k++)
		if (!(fig(j, *k) > 0))
			test_fail(__FILE__, __LINE__, "%s: %s missing, null or 0",
				  mode, *k);
	/* 7 context keys, then the figures: nothing else. */
	ASSERT_EQ(json_object_size(j), 7 + r->figs->n);
	r->n++;
}

/*
 * `lazypv bench` on a tiny guest: one JSON object per mode holding every
 * figure `--figures` lists; the CSV has the same columns, in the order of
 * the JSON keys.
 */
TEST_IMPL(cli_bench_json)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct figs figs;
	struct rows rows = { .figs = &figs };

	ASSERT_NOT_NULL(c);
	cli_expect_usage_error(c, "", "bench --sizes 0", "--sizes");
	cli_expect_usage_error(c, "", "bench --runs 0", "--runs");
	cli_expect_usage_error(c, "", "bench --modes eager", "eager");
	cli_expect_usage_error(c, "", "bench --json --csv", "--json and --csv");
	figures_of(c, &figs, "teardown");
	cli_run_env(c, "", "bench --quick --sizes 16M --json");
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	/* stderr is a file: no progress, not even the populating lines. */
	if (strstr(c->err, "populat"))
		test_fail(__FILE__, __LINE__, "populating lines on a file: %s", c->err);
	ASSERT_EQ(cli_json_lines(c->out, teardown_row, &rows), 5);
	ASSERT_TRUE(rows.seen[0] && rows.seen[1] && rows.seen[2] && rows.seen[3] &&
		    rows.seen[4]);

	cli_run_env(c, "", "bench --quick --sizes 16M --modes sync,lazy --csv");
	ASSERT_EQ(c->status, 0);
	{
		char want[2048] = "bench,profile,guest_mem,mode,runs,"
				  "floor_ns_per_page,machine_floor_ns_per_page";
		size_t head = strcspn(c->out, "\n");
		const char *l;

		for (size_t k = 0; k < figs.n; k++) {
			strcat(want, ",");
			strcat(want, figs.keys[k]);
		}
		if (head != strlen(want) || strncmp(c->out, want, head))
			test_fail(__FILE__, __LINE__, "CSV header \"%.*s\", want \"%s\"",
				  (int)head, c->out, want);
		ASSERT_EQ(cli_count_lines(c->out), 3);
		for (l = c->out + head + 1; *l; l += strcspn(l, "\n") + 1) {
			size_t commas = 0;

			for (const char *p = l; *p && *p != '\n'; p++)
				commas += *p == ',';
			ASSERT_EQ(commas, 6 + figs.n);
			ASSERT_EQ(strncmp(l, "teardown,default,16777216,", 26), 0);
		}
	}
	cli_cleanup(c);
	free(c);
	return 0;
}

struct cleanup_lines {
	size_t events, rated, done, ending, after_summary;
	bool summary_seen;
};

/* One line of `run --json` while counting its cleanup events. */
static void cleanup_line(json_t *j, size_t i, void *ctx)
{
	static const char *const keys[] = { "t_ns", "ending", "to_clean_bytes",
		"in_use_bytes", "rate_bytes_per_s",
		"eta_ms", "done", NULL };
	struct cleanup_lines *cl = ctx;
	const char *ev = json_string_value(json_object_get(j, "event"));
	json_t *rate, *eta;

	(void)i;
	ASSERT_NOT_NULL(ev);
	if (cl->summary_seen)
		cl->after_summary++;
	if (!strcmp(ev, "summary"))
		cl->summary_seen = true;
	if (strcmp(ev, "cleanup"))
		return;
	cl->events++;
	for (const char *const *k = keys; *k; k++)
		if (!json_object_get(j, *k))
			test_fail(__FILE__, __LINE__, "cleanup event: no \"%s\"", *k);
	rate = json_object_get(j, "rate_bytes_per_s");
	eta = json_object_get(j, "eta_ms");
	ASSERT_TRUE(json_is_number(rate));
	/* No rate yet: no ETA; a rate: an ETA in whole ms. */
	if (json_number_value(rate) > 0) {
		cl->rated++;
		ASSERT_TRUE(json_is_integer(eta));
	} else {
		ASSERT_TRUE(json_is_null(eta));
	}
	if (json_is_true(json_object_get(j, "done"))) {
		cl->done++;
		ASSERT_EQ(json_integer_value(json_object_get(j, "to_clean_bytes")), 0);
	} else {
		ASSERT_GT(json_integer_value(json_object_get(j, "to_clean_bytes")), 0);
	}
	if (json_is_true(json_object_get(j, "ending")))
		cl->ending++;
}

/*
 * `run --json` reports the cleanup while it runs: with slow destroys
 * (300 us a page) instant's background cleanup after the reboot, then
 * the memory given back after the shutdown, as cleanup events with a
 * rate and an ETA -- and the summary is still the last line.
 */
TEST_IMPL(cli_run_json_cleanup_events)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct cleanup_lines cl = { 0 };
	char prof[128], args[512];
	FILE *f;

	ASSERT_NOT_NULL(c);
	snprintf(prof, sizeof(prof), "%s/slow.prof", cli_dir(c));
	f = fopen(prof, "w");
	ASSERT_NOT_NULL(f);
	/* Slow cleaning whichever call cleans: a page destroy (the reboot's
	 * workers) or DESTROY_SEC_CONF (the close's bulk clean). */
	fprintf(f, "base = zero\ninit_min_origin = 0\ncost.destroy_page = 300us\ndestroy_conf_page_ns = 300us\n");
	fclose(f);
	snprintf(args, sizeof(args),
		 "run --host-mem 512M --guest-mem 64M --uv-profile %s --program touch:mib=8,rounds=1 --reboots 1 --destroy instant --json",
		 prof);
	cli_run_env(c, "", args);
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	cli_json_lines(c->out, cleanup_line, &cl);
	ASSERT_GE(cl.events, 4);
	ASSERT_GE(cl.rated, 2);
	ASSERT_GE(cl.done, 1);		/* an episode ended */
	ASSERT_GE(cl.ending, 1);	/* the shutdown's memory */
	ASSERT_TRUE(cl.summary_seen);
	ASSERT_UEQ(cl.after_summary, 0);
	cli_cleanup(c);
	free(c);
	return 0;
}
