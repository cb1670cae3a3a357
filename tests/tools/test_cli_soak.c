// SPDX-License-Identifier: MIT
/*
 * test_cli_soak.c - `lazypv soak`'s options: bad ones exit 2 with one line
 * on stderr naming the option, before any host starts; a short run with
 * --json prints one object with the report's figures, read back with
 * jansson.  The built binary
 * runs as a subprocess from the build directory (ctest's working
 * directory).
 */
#include "test.h"

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

struct soak_cli {
	int status;
	char out[1 << 14];
	char err[4096];
};

static void soak_exec(struct soak_cli *c, const char *args)
{
	char cmd[512], dir[] = "/tmp/lazypv-soak-cli-XXXXXX", path[64];
	FILE *f;
	size_t n;
	int st;

	ASSERT_EQ(access("./lazypv", X_OK), 0);
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "./lazypv soak %s >%s/out 2>%s/err", args,
		 dir, dir);
	st = system(cmd);
	ASSERT_TRUE(WIFEXITED(st));
	c->status = WEXITSTATUS(st);
	snprintf(path, sizeof(path), "%s/out", dir);
	ASSERT_NOT_NULL(f = fopen(path, "r"));
	n = fread(c->out, 1, sizeof(c->out) - 1, f);
	c->out[n] = 0;
	fclose(f);
	snprintf(path, sizeof(path), "%s/err", dir);
	ASSERT_NOT_NULL(f = fopen(path, "r"));
	n = fread(c->err, 1, sizeof(c->err) - 1, f);
	c->err[n] = 0;
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
}

static void expect_soak_error(const char *args, const char *needle)
{
	struct soak_cli *c = calloc(1, sizeof(*c));
	const char *nl;

	ASSERT_NOT_NULL(c);
	soak_exec(c, args);
	nl = strchr(c->err, '\n');
	if (c->status != 2 || c->out[0] || !strstr(c->err, needle) ||
	    !nl || nl[1])
		test_fail(__FILE__, __LINE__,
			  "'lazypv soak %s': status %d, stdout \"%.100s\", stderr \"%s\" (want 2, one line with \"%s\")",
			  args, c->status, c->out, c->err, needle);
	free(c);
}

TEST_IMPL(cli_soak_inputs)
{
	struct soak_cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	expect_soak_error("--vms 0", "--vms");
	expect_soak_error("--vms 17", "--vms");
	expect_soak_error("--duration 0", "--duration");
	expect_soak_error("--seed -1", "--seed");
	expect_soak_error("--host-mem 100M", "--host-mem");
	expect_soak_error("--host-mem 16000T", "--host-mem 16000.00 TiB is out of range");
	expect_soak_error("--hang-timeout 1", "--hang-timeout");
	expect_soak_error("--bogus", "--bogus");
	expect_soak_error("extra", "extra");

	expect_soak_error("--seed 9223372036854775808", "--seed");

	soak_exec(c, "--seed 5 --duration 3 --wave 3 --vms 2 --json");
	if (c->status != 0 || !strstr(c->err, "seed 5"))
		test_fail(__FILE__, __LINE__, "soak --json: status %d, stdout \"%s\", stderr \"%s\"",
			  c->status, c->out, c->err);
	{
		/* One object on one line, every key of the report. */
		static const char *const keys[] = { "seconds", "hosts", "waves",
			"vm_slots", "host_mem", "operations", "ops", "vms",
			"vms_by_mode", "ends", "invariant_checks", "leaked_frames",
			"leaks_by_reason", "unexplained_leaks",
			"guest_errors_without_injection", "longest_restart_ns",
			"longest_restart_mode", "longest_exit_ns",
			"longest_exit_mode", "longest_reclaim_ns",
			"longest_reclaim_mode", "frames_scanned", "patterns_max",
			NULL };
		json_error_t jerr;
		json_t *j = json_loads(c->out, 0, &jerr);

		if (!j)
			test_fail(__FILE__, __LINE__, "soak --json: %s in \"%s\"",
				  jerr.text, c->out);
		ASSERT_EQ(strchr(c->out, '\n')[1], '\0');
		ASSERT_EQ(json_integer_value(json_object_get(j, "seed")), 5);
		ASSERT_TRUE(json_is_integer(json_object_get(j, "violations")));
		ASSERT_EQ(json_integer_value(json_object_get(j, "violations")), 0);
		ASSERT_EQ(json_integer_value(json_object_get(j, "hangs")), 0);
		ASSERT_EQ(json_integer_value(json_object_get(j, "plaintext_frames")), 0);
		for (const char *const *k = keys; *k; k++)
			if (!json_object_get(j, *k))
				test_fail(__FILE__, __LINE__, "soak --json: no \"%s\"", *k);
		ASSERT_TRUE(json_is_object(json_object_get(j, "ops")));
		ASSERT_TRUE(json_is_integer(json_object_get(json_object_get(j, "vms_by_mode"),
							    "lazy")));
		/* Every mode, instant too, with how its VMMs ended. */
		for (const char *const *m = (const char *const[]){ "sync",
			"sync-6.0", "lazy", "async", "instant", NULL }; *m; m++) {
			json_t *e = json_object_get(json_object_get(j, "ends_by_mode"), *m);

			ASSERT_TRUE(json_is_object(e));
			for (const char *const *k = (const char *const[]){ "code0",
				"error", "killed", "create_failed", "oom_killed",
				"on_injected_hosts", NULL }; *k; k++)
				ASSERT_TRUE(json_is_integer(json_object_get(e, *k)));
		}
		json_decref(j);
	}
	free(c);
	return 0;
}
