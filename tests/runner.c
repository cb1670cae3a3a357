// SPDX-License-Identifier: MIT
/*
 * runner.c - the test runner (after libuv's test/runner.c).
 *
 *   lazypv-tests            run every test, one child process each, TAP
 *   lazypv-tests NAME...    run the named tests (ctest runs one at a time)
 *   lazypv-tests --list     print the names
 *
 * LAZYPV_TEST_NOFORK=1 runs a test in the runner's own process (for gdb).
 *
 * Each test runs in a forked child with a timeout (the listed seconds times
 * LAZYPV_TEST_SCALE); a child that crashes, times out or returns non-zero
 * is "not ok".  Exit status: 0 if every selected test passed.
 */
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef LAZYPV_COVERAGE
/* gcov's counters are written at exit(); a child ends with _exit(). */
void __gcov_dump(void);
#endif

#define TEST_ENTRY(name, timeout) TEST_IMPL(name);
#include "test-list.h"
#undef TEST_ENTRY

struct test_entry {
	const char *name;
	int (*fn)(void);
	unsigned int timeout_s;
};

static const struct test_entry tests[] = {
#define TEST_ENTRY(name, timeout) { #name, run_test_##name, timeout },
#include "test-list.h"
#undef TEST_ENTRY
	{ NULL, NULL, 0 }	/* sentinel: the list may be empty */
};
#define NR_TESTS (sizeof(tests) / sizeof(tests[0]) - 1)

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	abort();
}

unsigned int test_scale(void)
{
	const char *s = getenv("LAZYPV_TEST_SCALE");
	long v = s ? strtol(s, NULL, 10) : 1;

	return v >= 1 && v <= 1000 ? (unsigned int)v : 1;
}

uint64_t test_seed(void)
{
	static uint64_t seed;
	const char *s;

	if (seed)
		return seed;
	s = getenv("LAZYPV_TEST_SEED");
	seed = s ? strtoull(s, NULL, 0) : 0x1a2b3c4d5e6fULL;
	if (!seed)
		seed = 1;
	fprintf(stderr, "# seed 0x%llx (LAZYPV_TEST_SEED)\n",
		(unsigned long long)seed);
	return seed;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run one test in a child; returns 0 on pass. */
static int run_one(const struct test_entry *t, unsigned int idx)
{
	uint64_t start = now_ms();
	uint64_t limit = (uint64_t)t->timeout_s * 1000 * test_scale();
	const char *why = NULL;
	char whybuf[64];
	int status = 0;
	pid_t pid;

	fflush(NULL);
	/* For debuggers: LAZYPV_TEST_NOFORK=1 runs the test in this process. */
	if (getenv("LAZYPV_TEST_NOFORK"))
		return t->fn();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		int rc = t->fn();

		fflush(NULL);
#ifdef LAZYPV_COVERAGE
		__gcov_dump();
#endif
		_exit(rc == 0 ? 0 : 1);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (now_ms() - start > limit) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			why = "timeout";
			break;
		}
		usleep(2000);	/* the runner polls its child: not test work */
	}
	if (!why) {
		if (WIFSIGNALED(status)) {
			snprintf(whybuf, sizeof(whybuf), "killed by signal %d",
				 WTERMSIG(status));
			why = whybuf;
		} else if (WEXITSTATUS(status) != 0) {
			snprintf(whybuf, sizeof(whybuf), "exit status %d",
				 WEXITSTATUS(status));
			why = whybuf;
		}
	}
	if (why)
		printf("not ok %u - %s # %s after %llu ms\n", idx, t->name,
		       why, (unsigned long long)(now_ms() - start));
	else
		printf("ok %u - %s # %llu ms\n", idx, t->name,
		       (unsigned long long)(now_ms() - start));
	fflush(stdout);
	return why ? -1 : 0;
}

static const struct test_entry *find(const char *name)
{
	for (size_t i = 0; tests[i].name; i++)
		if (strcmp(tests[i].name, name) == 0)
			return &tests[i];
	return NULL;
}

int main(int argc, char **argv)
{
	size_t n = NR_TESTS;
	unsigned int failed = 0, idx = 0;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
			  strcmp(argv[1], "-h") == 0)) {
		printf("usage: %s [--list] [TEST...]\n", argv[0]);
		return 0;
	}
	if (argc > 1) {
		printf("1..%d\n", argc - 1);
		for (int i = 1; i < argc; i++) {
			const struct test_entry *t = find(argv[i]);

			if (!t) {
				printf("not ok %d - %s # no such test\n", i,
				       argv[i]);
				failed++;
				continue;
			}
			failed += run_one(t, (unsigned int)i) != 0;
		}
	} else {
		printf("1..%zu\n", n);
		for (size_t i = 0; i < n; i++)
			failed += run_one(&tests[i], ++idx) != 0;
		printf("%zu passed, %u failed\n", n - failed, failed);
	}
	return failed ? 1 : 0;
}
