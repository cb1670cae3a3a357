// SPDX-License-Identifier: MIT
/*
 * cli.c - the CLI tests' way of running the built binary (cli.h).
 */
#include "tools/cli.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void cli_slurp_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

const char *cli_dir(struct cli *c)
{
	if (!c->dir[0]) {
		strcpy(c->dir, "/tmp/lazypv-cli-XXXXXX");
		ASSERT_NOT_NULL(mkdtemp(c->dir));
	}
	return c->dir;
}

void cli_run_env(struct cli *c, const char *env, const char *args)
{
	cli_run_prog(c, env, "lazypv", args);
}

void cli_run_prog(struct cli *c, const char *env, const char *prog,
		  const char *args)
{
	char cmd[4096], o[128], e[128], path[64];
	int st;

	snprintf(path, sizeof(path), "./%s", prog);
	if (access(path, X_OK))
		test_fail(__FILE__, __LINE__, "%s not found (run from the build directory)",
			  path);
	snprintf(o, sizeof(o), "%s/out", cli_dir(c));
	snprintf(e, sizeof(e), "%s/err", cli_dir(c));
	snprintf(cmd, sizeof(cmd), "%s %s %s >%s 2>%s", env, path, args, o, e);
	st = system(cmd);
	ASSERT_TRUE(WIFEXITED(st));
	c->status = WEXITSTATUS(st);
	cli_slurp_file(o, c->out, sizeof(c->out));
	cli_slurp_file(e, c->err, sizeof(c->err));
}

static void cli_reap(struct cli *c, pid_t pid)
{
	char o[128], e[128];
	int st;

	snprintf(o, sizeof(o), "%s/out", cli_dir(c));
	snprintf(e, sizeof(e), "%s/err", cli_dir(c));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	c->status = WEXITSTATUS(st);
	cli_slurp_file(o, c->out, sizeof(c->out));
	cli_slurp_file(e, c->err, sizeof(c->err));
}

/*
 * Start `lazypv ARGS` with ENV, its stdout and stderr in files of the
 * test directory, and wait (polling every @step_ms) until stdout shows
 * @needle: the child's pid.  Fails the test if it exits first or after
 * @timeout_s.
 */
static pid_t cli_start_until(struct cli *c, const char *env, const char *args,
			     const char *needle, int timeout_s, int step_ms)
{
	char cmd[4096], o[128], e[128];
	int st;
	pid_t pid;

	snprintf(o, sizeof(o), "%s/out", cli_dir(c));
	snprintf(e, sizeof(e), "%s/err", cli_dir(c));
	snprintf(cmd, sizeof(cmd), "exec env %s ./lazypv %s >%s 2>%s", env,
		 args, o, e);
	unlink(o);	/* not an earlier run's output */
	unlink(e);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int waited_ms = 0;; waited_ms += step_ms) {
		cli_slurp_file(o, c->out, sizeof(c->out));
		if (strstr(c->out, needle))
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			cli_slurp_file(e, c->err, sizeof(c->err));
			test_fail(__FILE__, __LINE__, "lazypv %s exited before \"%s\":\n%s\n%s",
				  args, needle, c->out, c->err);
		}
		if (waited_ms > timeout_s * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			test_fail(__FILE__, __LINE__, "no \"%s\" after %d s", needle,
				  timeout_s);
		}
		usleep((useconds_t)step_ms * 1000);
	}
	return pid;
}

bool cli_signal_twice(struct cli *c, const char *env, const char *args,
		      const char *needle, int timeout_s, int sig, int sig2)
{
	char o[128], e[128];
	int st;
	pid_t pid = cli_start_until(c, env, args, needle, timeout_s, 1);

	snprintf(o, sizeof(o), "%s/out", cli_dir(c));
	snprintf(e, sizeof(e), "%s/err", cli_dir(c));
	ASSERT_EQ(kill(pid, sig), 0);
	for (int waited_ms = 0;; waited_ms++) {
		cli_slurp_file(e, c->err, sizeof(c->err));
		if (strstr(c->err, "stopping cleanly"))
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			ASSERT_TRUE(WIFEXITED(st));
			c->status = WEXITSTATUS(st);
			cli_slurp_file(o, c->out, sizeof(c->out));
			return false;
		}
		if (waited_ms > timeout_s * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			test_fail(__FILE__, __LINE__, "no \"stopping cleanly\" after %d s",
				  timeout_s);
		}
		usleep(1000);
	}
	ASSERT_EQ(kill(pid, sig2), 0);
	cli_reap(c, pid);
	return true;
}

void cli_signal_after(struct cli *c, const char *env, const char *args,
		      const char *needle, int timeout_s, int sig)
{
	pid_t pid = cli_start_until(c, env, args, needle, timeout_s, 20);

	ASSERT_EQ(kill(pid, sig), 0);
	cli_reap(c, pid);
}

void cli_cleanup(struct cli *c)
{
	char cmd[128];

	if (c->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
		ASSERT_EQ(system(cmd), 0);
		c->dir[0] = '\0';
	}
}

size_t cli_count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

void cli_expect_has_at(int line, const struct cli *c, const char *needle)
{
	if (!strstr(c->out, needle))
		test_fail(__FILE__, line, "\"%s\" not in the output:\n%s",
			  needle, c->out);
}

void cli_expect_usage_error_at(int line, struct cli *c, const char *env,
			       const char *args, const char *needles)
{
	cli_expect_prog_usage_error_at(line, c, env, "lazypv", args, needles);
}

void cli_expect_prog_usage_error_at(int line, struct cli *c, const char *env,
				    const char *prog, const char *args,
				    const char *needles)
{
	char buf[256], *save = NULL, *n;

	cli_run_prog(c, env, prog, args);
	snprintf(buf, sizeof(buf), "%s", needles);
	for (n = strtok_r(buf, "|", &save); n; n = strtok_r(NULL, "|", &save))
		if (!strstr(c->err, n))
			break;
	if (c->status != 2 || cli_count_lines(c->err) != 1 || c->out[0] || n)
		test_fail(__FILE__, line,
			  "'%s %s %s': status %d, stdout \"%.200s\", stderr \"%s\" (want 2, one line with \"%s\")",
			  env, prog, args, c->status, c->out, c->err, needles);
}

json_t *cli_json_at(int line, const char *s, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(s, len, 0, &jerr);

	if (!j || !json_is_object(j))
		test_fail(__FILE__, line, "not a JSON object (%s): \"%.*s\"",
			  j ? "another value" : jerr.text, (int)len, s);
	return j;
}

size_t cli_json_lines_at(int line, const char *out,
			 void (*fn)(json_t *j, size_t i, void *ctx), void *ctx)
{
	size_t n = 0;

	while (*out) {
		size_t len = strcspn(out, "\n");
		json_t *j = cli_json_at(line, out, len);

		fn(j, n++, ctx);
		json_decref(j);
		out += len;
		if (*out)
			out++;
	}
	return n;
}
