// SPDX-License-Identifier: MIT
/*
 * test_cli_user_view.c - what `lazypv run` shows beside its timeline:
 * --trace (Chrome trace-event JSON, parsed back), --plot (a PNG through
 * gnuplot, or the missing-gnuplot error), the progress line (only on a
 * terminal, never with --quiet or on a pipe), and SIGINT/SIGTERM (exit
 * 130/143, the summary so far, no temporary file left).
 */
#include "tools/cli.h"

#include <dirent.h>
#include <jansson.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TINY "--guest-mem 64M --payload-size 256K"

/* Parse @path as a trace: the events array (the root is in *root). */
static json_t *trace_events(const char *path, json_t **root)
{
	json_error_t jerr;

	*root = json_load_file(path, 0, &jerr);
	if (!*root)
		test_fail(__FILE__, __LINE__, "%s: %s (line %d)", path,
			  jerr.text, jerr.line);
	ASSERT_TRUE(json_is_array(json_object_get(*root, "traceEvents")));
	return json_object_get(*root, "traceEvents");
}

static const char *ev_str(json_t *e, const char *key)
{
	const char *s = json_string_value(json_object_get(e, key));

	return s ? s : "";
}

static size_t count_ph_name(json_t *evs, const char *ph, const char *name,
			    json_int_t min_pid)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(evs, i, e)
		if (!strcmp(ev_str(e, "ph"), ph) &&
		    !strcmp(ev_str(e, "name"), name) &&
		    json_integer_value(json_object_get(e, "pid")) >= min_pid)
			n++;
	return n;
}

/* Per (pid, tid), in file order (the writer sorts by time): B and E
 * nest -- never an E without its B -- and none stays open. */
static void check_balanced(json_t *evs)
{
	struct { json_int_t pid, tid; long depth; } t[256];
	size_t nt = 0, i;
	json_t *e;

	json_array_foreach(evs, i, e) {
		const char *ph = ev_str(e, "ph");
		json_int_t pid = json_integer_value(json_object_get(e, "pid"));
		json_int_t tid = json_integer_value(json_object_get(e, "tid"));
		size_t k;

		if (strcmp(ph, "B") && strcmp(ph, "E"))
			continue;
		for (k = 0; k < nt; k++)
			if (t[k].pid == pid && t[k].tid == tid)
				break;
		if (k == nt) {
			ASSERT_LT(nt, NELEM(t));
			t[nt].pid = pid;
			t[nt].tid = tid;
			t[nt++].depth = 0;
		}
		t[k].depth += !strcmp(ph, "B") ? 1 : -1;
		ASSERT_GE(t[k].depth, 0);
	}
	for (size_t k = 0; k < nt; k++)
		ASSERT_EQ(t[k].depth, 0);
}

/* `lazypv run` of a tiny guest in @mode with one reboot and --trace: the
 * trace's events (its root in *root). */
static json_t *run_traced(struct cli *c, const char *mode, json_t **root)
{
	char args[512], path[128];

	snprintf(path, sizeof(path), "%s/%s.trace.json", cli_dir(c), mode);
	snprintf(args, sizeof(args),
		 "run " TINY " --destroy %s --reboots 1 --trace %s", mode, path);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	return trace_events(path, root);
}

TEST_IMPL(cli_run_trace)
{
	static const char *const phases[] = {
		"create VMM", "create config", "unpack image", "boot",
		"running", "reboot", "teardown", "shutdown", "exit",
	};
	struct cli *c = calloc(1, sizeof(*c));
	json_t *root, *evs, *e;
	size_t i, batched = 0;

	ASSERT_NOT_NULL(c);
	evs = run_traced(c, "lazy", &root);
	/* Each boot's phases, on the VMM's process (pid 1000 + its pid). */
	for (i = 0; i < NELEM(phases); i++)
		if (!count_ph_name(evs, "X", phases[i], 1000))
			test_fail(__FILE__, __LINE__, "no \"%s\" phase", phases[i]);
	ASSERT_EQ(count_ph_name(evs, "X", "running", 1000), 2);
	/* Lazy: a cleanup thread per teardown (reboot, shutdown), in
	 * slices; the shutdown's drains the pages set aside at exit.  When
	 * the reboot's thread still holds the mm as the VMM exits, its mmput
	 * is the last one: exit_mmap exports, and the shutdown has nothing to
	 * defer (a v2 outcome, docs/kvm.md) -- one thread then. */
	ASSERT_GE(count_ph_name(evs, "B", "lazy cleanup", 1), 1);
	ASSERT_LE(count_ph_name(evs, "B", "lazy cleanup", 1), 2);
	ASSERT_GE(count_ph_name(evs, "X", "drain set-aside", 1) +
		  count_ph_name(evs, "X", "destroy walk", 1), 1);
	check_balanced(evs);
	/* UVC batches: consecutive calls of one command are one slice. */
	json_array_foreach(evs, i, e)
		if (!strcmp(ev_str(e, "ph"), "X") &&
		    json_integer_value(json_object_get(e, "pid")) == 2 &&
		    json_integer_value(json_object_get(json_object_get(e, "args"),
						       "calls")) > 1)
			batched++;
	ASSERT_GE(batched, 1);
	/* Named tracks: a thread_name per track, the boots' among them. */
	ASSERT_GE(count_ph_name(evs, "M", "thread_name", 0), 3);
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(root,
		"otherData"), "dropped_events")), 0);
	json_decref(root);
	cli_cleanup(c);
	free(c);
	return 0;
}

/* thread_name metadata events whose name contains @part. */
static size_t count_threads_named(json_t *evs, const char *part)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(evs, i, e)
		if (!strcmp(ev_str(e, "ph"), "M") &&
		    !strcmp(ev_str(e, "name"), "thread_name") &&
		    strstr(ev_str(json_object_get(e, "args"), "name"), part))
			n++;
	return n;
}

TEST_IMPL(cli_run_trace_instant)
{
	struct cli *c = calloc(1, sizeof(*c));
	json_t *root, *evs;

	ASSERT_NOT_NULL(c);
	evs = run_traced(c, "instant", &root);
	/* A job per teardown (the reboot's, the close's), each worker a
	 * named thread whose work is one slice with walks inside it; the
	 * close's set-aside config cleaned in bulk by the UV first. */
	ASSERT_GE(count_threads_named(evs, "kvm instant VMM "), 2);
	ASSERT_GE(count_ph_name(evs, "B", "instant cleanup", 1), 2);
	ASSERT_GE(count_ph_name(evs, "X", "walk", 1), 2);
	ASSERT_EQ(count_ph_name(evs, "X", "bulk DESTROY_SEC_CONF", 1), 1);
	check_balanced(evs);
	json_decref(root);
	cli_cleanup(c);
	free(c);
	return 0;
}

/* Async: QEMU's teardown helper is a named thread; its exit -- the last
 * mmput, so the final exit_mmap -- is a slice. */
TEST_IMPL(cli_run_trace_async_helper)
{
	struct cli *c = calloc(1, sizeof(*c));
	json_t *root, *evs;

	ASSERT_NOT_NULL(c);
	evs = run_traced(c, "async", &root);
	ASSERT_GE(count_threads_named(evs, " teardown helper"), 1);
	ASSERT_EQ(count_ph_name(evs, "X", "helper exit", 1), 1);
	check_balanced(evs);
	json_decref(root);
	cli_cleanup(c);
	free(c);
	return 0;
}

TEST_IMPL(cli_run_plot)
{
	struct cli *c = calloc(1, sizeof(*c));
	unsigned char sig[8] = { 0 };
	char args[512], path[128];
	FILE *f;

	ASSERT_NOT_NULL(c);
	/* Without gnuplot: a clear message and exit 3, before any work. */
	snprintf(path, sizeof(path), "%s/run.png", cli_dir(c));
	snprintf(args, sizeof(args), "run " TINY " --plot %s", path);
	cli_run_env(c, "PATH=/nonexistent", args);
	ASSERT_EQ(c->status, 3);
	ASSERT_NOT_NULL(strstr(c->err, "needs gnuplot"));
	ASSERT_EQ(c->out[0], 0);
	cli_expect_usage_error(c, "", "run --plot x.gif", "--plot|.png or .svg");
	/* Where it would write, checked before the guest runs. */
	cli_expect_usage_error(c, "", "run " TINY " --plot /nonexistent/x.png",
			       "--plot /nonexistent/x.png|/nonexistent does not exist");
	cli_expect_usage_error(c, "", "run " TINY " --trace /nonexistent/t.json",
			       "--trace /nonexistent/t.json|/nonexistent does not exist");
	cli_expect_usage_error(c, "", "run " TINY " --trace /tmp", "--trace /tmp|is a directory");
	cli_expect_usage_error(c, "", "run " TINY " --plot /dev/null/x.svg",
			       "--plot|/dev/null is not a directory");
	if (access("/usr/bin/gnuplot", X_OK)) {
		printf("# SKIP the picture: gnuplot is not installed (Debian: gnuplot-nox)\n");
		cli_cleanup(c);
		free(c);
		return 0;
	}
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	f = fopen(path, "rb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fread(sig, 1, sizeof(sig), f), sizeof(sig));
	fseek(f, 0, SEEK_END);
	ASSERT_GT(ftell(f), 10000);	/* axes, labels and two lines */
	fclose(f);
	ASSERT_EQ(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
	cli_cleanup(c);
	free(c);
	return 0;
}

/* Run lazypv with stderr on a pseudo-terminal: what it wrote there. */
static void run_on_pty(const char *args, char *buf, size_t len)
{
	size_t n = 0;
	int master, st;
	pid_t pid;

	pid = forkpty(&master, NULL, NULL, NULL);
	ASSERT_GE(pid, 0);
	if (!pid) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "exec ./lazypv %s >/dev/null", args);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		ssize_t r = read(master, buf + n, len - 1 - n);

		if (r <= 0)	/* EIO once the child side is closed */
			break;
		n += (size_t)r;
		if (n == len - 1)
			n = 0;	/* keep reading, keep the tail */
	}
	buf[n] = 0;
	close(master);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* A profile whose destroys take 300 us a page, in the temporary
 * directory: a guest's cleanup of a few MiB lasts a second or more. */
static void write_slow_profile(struct cli *c, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/slow.prof", cli_dir(c));
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "base = zero\ninit_min_origin = 0\ncost.destroy_page = 300us\ndestroy_conf_page_ns = 300us\n");
	ASSERT_EQ(fclose(f), 0);
}

/* A run of 64 MiB, 16 of them touched, on the slow profile (%s). */
#define SLOW_RUN "run --host-mem 512M --guest-mem 64M --payload-size 256K --uv-profile %s --program touch:mib=16,rounds=1 --reboots 1"

TEST_IMPL(cli_run_progress)
{
	static char buf[1 << 16];
	const char *args = "run --guest-mem 128M --destroy lazy --reboots 1";
	struct cli *c = calloc(1, sizeof(*c));
	char cmd[512], prof[128];
	FILE *p;
	size_t n;

	ASSERT_NOT_NULL(c);
	/* A pipe: not one byte on stderr. */
	snprintf(cmd, sizeof(cmd), "./lazypv %s 2>&1 >/dev/null", args);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	ASSERT_EQ(pclose(p), 0);
	ASSERT_EQ(n, 0);
	/* A terminal: the updating line (a carriage return, the cleanup). */
	run_on_pty(args, buf, sizeof(buf));
	ASSERT_NOT_NULL(strchr(buf, '\r'));
	ASSERT_NOT_NULL(strstr(buf, "MiB"));
	/* A terminal with --quiet: nothing. */
	snprintf(cmd, sizeof(cmd), "%s --quiet", args);
	run_on_pty(cmd, buf, sizeof(buf));
	ASSERT_EQ(strlen(buf), 0);
	/* The line says what the reboot's cleanup is, by the teardown mode:
	 * sync destroys the old guest before the new one starts; lazy
	 * cleans in the background.  Slow destroys (300 us a page) keep
	 * each on the line for a second or so. */
	write_slow_profile(c, prof, sizeof(prof));
	snprintf(cmd, sizeof(cmd), SLOW_RUN " --destroy sync", prof);
	run_on_pty(cmd, buf, sizeof(buf));
	ASSERT_NOT_NULL(strstr(buf, "destroying the old guest"));
	ASSERT_NULL(strstr(buf, "background cleanup"));
	snprintf(cmd, sizeof(cmd), SLOW_RUN " --destroy lazy", prof);
	run_on_pty(cmd, buf, sizeof(buf));
	ASSERT_NOT_NULL(strstr(buf, "background cleanup"));
	ASSERT_NULL(strstr(buf, "destroying the old guest"));
	cli_cleanup(c);
	free(c);
	return 0;
}

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ASSERT_NOT_NULL(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void run_interrupted(int sig, int want)
{
	struct cli *c = calloc(1, sizeof(*c));
	char env[256], args[512], tmp[128], trace[128], plot[128];
	json_t *root, *evs;
	bool plotting = !access("/usr/bin/gnuplot", X_OK);

	ASSERT_NOT_NULL(c);
	snprintf(tmp, sizeof(tmp), "%s/tmp", cli_dir(c));
	ASSERT_EQ(mkdir(tmp, 0700), 0);
	snprintf(trace, sizeof(trace), "%s/t.json", cli_dir(c));
	snprintf(plot, sizeof(plot), "%s/p.png", cli_dir(c));
	snprintf(env, sizeof(env), "TMPDIR=%s", tmp);
	/* A guest that would run for hours. */
	snprintf(args, sizeof(args),
		 "run " TINY " --destroy lazy --program touch:rounds=1000000,mib=4 --trace %s%s%s",
		 trace, plotting ? " --plot " : "", plotting ? plot : "");
	cli_signal_after(c, env, args, "guest's first instruction", 60, sig);
	if (c->status != want)
		test_fail(__FILE__, __LINE__, "status %d, want %d; stderr:\n%s",
			  c->status, want, c->err);
	cli_expect_has(c, sig == SIGINT ? "interrupted by SIGINT" :
			  "interrupted by SIGTERM");
	cli_expect_has(c, "summary");
	cli_expect_has(c, "invariants           ok");
	cli_expect_has(c, "leaks                0 frames");
	/* Named by the command, as its other lines are. */
	ASSERT_NOT_NULL(strstr(c->err, sig == SIGINT ?
			       "lazypv run: Interrupt: stopping cleanly" :
			       "lazypv run: Terminated: stopping cleanly"));
	ASSERT_EQ(dir_entries(tmp), 0);
	/* What was asked for was still written. */
	evs = trace_events(trace, &root);
	ASSERT_GE(count_ph_name(evs, "X", "shutdown", 1000), 1);
	check_balanced(evs);
	json_decref(root);
	if (plotting)
		ASSERT_EQ(access(plot, R_OK), 0);
	cli_cleanup(c);
	free(c);
}

TEST_IMPL(cli_run_sigint)
{
	run_interrupted(SIGINT, 130);
	run_interrupted(SIGTERM, 143);
	return 0;
}

TEST_IMPL(cli_bench_plot)
{
	static const char *const files[] = {
		"latency-zero.png", "pending-zero.png", "latency-zero.dat",
		"pending-zero-lazy.dat", "bench-zero.gp", NULL,
	};
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], dir[128], path[256];

	ASSERT_NOT_NULL(c);
	snprintf(dir, sizeof(dir), "%s/plots", cli_dir(c));
	snprintf(args, sizeof(args),
		 "bench --sizes 16M,32M --runs 1 --profiles zero --modes sync,lazy --plot %s",
		 dir);
	cli_run_env(c, "PATH=/nonexistent", args);
	ASSERT_EQ(c->status, 3);
	ASSERT_NOT_NULL(strstr(c->err, "needs gnuplot"));
	/* A directory that cannot be: a usage error before any work. */
	cli_expect_usage_error(c, "", "bench --sizes 16M --runs 1 --profiles zero --modes sync --plot /nonexistent/a/b",
			       "--plot /nonexistent/a/b|cannot be made|/nonexistent/a does not exist");
	cli_expect_usage_error(c, "", "bench --sizes 16M --runs 1 --profiles zero --modes sync --plot /dev/null",
			       "--plot /dev/null|is not a directory");
	if (access("/usr/bin/gnuplot", X_OK)) {
		printf("# SKIP the pictures: gnuplot is not installed (Debian: gnuplot-nox)\n");
		cli_cleanup(c);
		free(c);
		return 0;
	}
	cli_run_env(c, "", args);
	if (c->status)
		fprintf(stderr, "# %s\n", c->err);
	ASSERT_EQ(c->status, 0);
	for (const char *const *f = files; *f; f++) {
		unsigned char sig[8] = { 0 };
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		fp = fopen(path, "rb");
		if (!fp)
			test_fail(__FILE__, __LINE__, "%s missing", path);
		ASSERT_GT(fread(sig, 1, sizeof(sig), fp), 0);
		fclose(fp);
		if (strstr(*f, ".png"))
			ASSERT_EQ(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
	}
	/* No line on a file, no --quiet needed. */
	ASSERT_NULL(strchr(c->err, '\r'));
	cli_cleanup(c);
	free(c);
	return 0;
}

struct json_tail {
	json_t *last;		/* the last line's object (a reference) */
	size_t abandoned;	/* "abandoned" objects seen */
};

static void json_tail_line(json_t *j, size_t i, void *ctx)
{
	struct json_tail *t = ctx;
	const char *ev = json_string_value(json_object_get(j, "event"));

	(void)i;
	if (ev && !strcmp(ev, "abandoned"))
		t->abandoned++;
	json_decref(t->last);
	t->last = json_incref(j);
}

/*
 * A second signal abandons the cleanup, but what is known is still said:
 * --json ends with one {"event":"abandoned",...} object (the frames still
 * to clean counted as leaked), text with a partial summary; the status is
 * 128 + the second signal, and no temporary file stays.  Slow destroys
 * (300 us a page) keep the 32 MiB touched cleaning for seconds.
 */
static void run_abandoned(bool json)
{
	struct cli *c = calloc(1, sizeof(*c));
	char env[256], args[1024], tmp[128], prof[128], plot[128];
	bool plotting = !access("/usr/bin/gnuplot", X_OK);
	int attempt;

	ASSERT_NOT_NULL(c);
	write_slow_profile(c, prof, sizeof(prof));
	snprintf(tmp, sizeof(tmp), "%s/tmp", cli_dir(c));
	ASSERT_EQ(mkdir(tmp, 0700), 0);
	snprintf(plot, sizeof(plot), "%s/p.png", cli_dir(c));
	snprintf(env, sizeof(env), "TMPDIR=%s", tmp);
	snprintf(args, sizeof(args),
		 "run --host-mem 512M --guest-mem 64M --payload-size 256K --uv-profile %s --program touch:mib=32,rounds=1000000 --destroy lazy%s%s%s",
		 prof, json ? " --json" : "", plotting ? " --plot " : "",
		 plotting ? plot : "");
	for (attempt = 0; attempt < 3; attempt++) {
		/* After a round: the 32 MiB are the guest's to give back. */
		if (cli_signal_twice(c, env, args, json ? "\"guest_round\"" :
				     "guest round 0 done", 60, SIGINT, SIGTERM) &&
		    c->status == 128 + SIGTERM)
			break;
		fprintf(stderr, "# ended (%d) before the second signal: again\n",
			c->status);
	}
	ASSERT_LT(attempt, 3);
	ASSERT_NOT_NULL(strstr(c->err, "lazypv run: Terminated again: cleanup abandoned"));
	if (json) {
		struct json_tail t = { 0 };
		json_int_t leaked, to_clean;

		cli_json_lines(c->out, json_tail_line, &t);
		ASSERT_UEQ(t.abandoned, 1);
		ASSERT_NOT_NULL(t.last);
		ASSERT_EQ(strcmp(ev_str(t.last, "event"), "abandoned"), 0);
		ASSERT_EQ(strcmp(ev_str(t.last, "signal"),
				 "TERM"), 0);
		ASSERT_EQ(json_integer_value(json_object_get(t.last, "boots")), 1);
		leaked = json_integer_value(json_object_get(t.last, "leaked_frames"));
		to_clean = json_integer_value(json_object_get(t.last, "to_clean_bytes"));
		ASSERT_GT(leaked, 0);
		ASSERT_EQ(leaked, to_clean / 4096);
		json_decref(t.last);
	} else {
		cli_expect_has(c, "abandoned by a second SIGTERM");
		cli_expect_has(c, "summary (lazy teardown, abandoned)");
		cli_expect_has(c, "still to clean");
		cli_expect_has(c, "frames (abandoned: counted as leaked)");
	}
	ASSERT_EQ(dir_entries(tmp), 0);
	ASSERT_NE(access(plot, F_OK), 0);
	cli_cleanup(c);
	free(c);
}

TEST_IMPL(cli_run_abandoned)
{
	run_abandoned(true);
	run_abandoned(false);
	return 0;
}

/*
 * bench --json, interrupted after its first row: the rows so far, then
 * {"event":"interrupted","signal":"INT"} as run's; abandoned (a second
 * signal): {"event":"abandoned",...} last.  Slow destroys keep each life
 * of the second size going for seconds.
 */
TEST_IMPL(cli_bench_interrupted)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct json_tail t = { 0 };
	char args[512], prof[128];
	int attempt;

	ASSERT_NOT_NULL(c);
	write_slow_profile(c, prof, sizeof(prof));
	snprintf(args, sizeof(args),
		 "bench --json --profiles %s --sizes 16M,32M --runs 2 --modes sync",
		 prof);
	cli_signal_after(c, "", args, "\"mode\"", 120, SIGINT);
	if (c->status != 128 + SIGINT)
		test_fail(__FILE__, __LINE__, "status %d; stderr:\n%s", c->status,
			  c->err);
	cli_json_lines(c->out, json_tail_line, &t);
	ASSERT_NOT_NULL(t.last);
	ASSERT_EQ(strcmp(ev_str(t.last, "event"),
			 "interrupted"), 0);
	ASSERT_EQ(strcmp(ev_str(t.last, "signal"),
			 "INT"), 0);
	json_decref(t.last);
	ASSERT_NOT_NULL(strstr(c->err, "lazypv bench: Interrupt: stopping cleanly"));
	ASSERT_NOT_NULL(strstr(c->err, "lazypv bench: interrupted by SIGINT"));

	for (attempt = 0; attempt < 3; attempt++) {
		if (cli_signal_twice(c, "", args, "\"mode\"", 120, SIGINT, SIGTERM) &&
		    c->status == 128 + SIGTERM)
			break;
		fprintf(stderr, "# ended (%d) before the second signal: again\n",
			c->status);
	}
	ASSERT_LT(attempt, 3);
	memset(&t, 0, sizeof(t));
	cli_json_lines(c->out, json_tail_line, &t);
	ASSERT_UEQ(t.abandoned, 1);
	ASSERT_EQ(strcmp(ev_str(t.last, "event"),
			 "abandoned"), 0);
	ASSERT_TRUE(json_is_integer(json_object_get(t.last, "leaked_frames")));
	json_decref(t.last);
	ASSERT_NOT_NULL(strstr(c->err, "lazypv bench: Terminated again: cleanup abandoned"));
	cli_cleanup(c);
	free(c);
	return 0;
}
