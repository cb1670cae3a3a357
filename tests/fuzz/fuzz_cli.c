// SPDX-License-Identifier: MIT
/*
 * fuzz_cli.c - libFuzzer target for the `lazypv` command line: each
 * command's option parsing and checks (cmd_*_args in tools/), the part
 * that runs before any work starts.
 *
 * Input: the first byte picks the command (info, run, mkimage, bench), the
 * rest is its arguments separated by NUL bytes.  In the command, a user
 * error prints one line and exits 2 (tool_usage_error, tools/lazypv.c);
 * this harness links tools/ without lazypv.c and defines tool_usage_error
 * itself: it checks the message is one non-empty line and jumps back here,
 * so the parser's contract is fuzzed without a process per input.  What a
 * parser had allocated when it gave up would be freed by exit() in the
 * command; here it is left to LeakSanitizer's ignore list (the calls run
 * between __lsan_disable and __lsan_enable), and run-all.sh runs this
 * target with -detect_leaks=0: libFuzzer's hunt for a leaking input would
 * otherwise rerun and scan memory after every such input (a hundredfold
 * slower).
 *
 * File arguments stay inside a private directory: the calls run with it as
 * the working directory and '/' in an argument becomes '_', so a path can
 * only name the files made here -- a profile, a payload, a valid image for
 * the default UV seed -- or nothing.  A newline in an argument becomes a
 * space (an error quoting what the user typed may repeat it).  --help's
 * output and the commands' other output go to /dev/null.
 */
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/lsan_interface.h>

#include "tools.h"
#include "uv/uv.h"
#include "vmm/vmm.h"

#define FZ_MAX_ARGS 24

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jmp_buf fz_back;
static const char *fz_cmd;
static char fz_dir[] = "/tmp/lazypv-fuzz-cli-XXXXXX";
static int fz_dir_fd = -1, fz_home_fd = -1;

void tool_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n <= 0 || strchr(msg, '\n') || strcmp(cmd, fz_cmd)) {
		fprintf(stderr, "bad usage error from '%s': '%s'\n", cmd, msg);
		abort();	/* the contract: one line naming the command */
	}
	longjmp(fz_back, 1);
}

static void fz_write(const char *name, const void *buf, size_t len)
{
	int fd = openat(fz_dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		abort();
}

static void fz_cleanup(void)
{
	static const char *const names[] = { "prof", "pay", "img" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(fz_dir_fd, names[i], 0);
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char prof[] = "base = zero\ncost.import = 2us\n";
	struct vmm_image_spec spec = { .program = "touch:mib=1",
				       .default_payload_len = 4096, .nonce = 1 };
	uint8_t priv[UV_HOST_KEY_LEN], pub[UV_HOST_KEY_LEN];
	char err[200];
	void *img;
	size_t len;
	int null;

	(void)argc;
	(void)argv;
	if (!mkdtemp(fz_dir))
		abort();
	fz_dir_fd = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fz_home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fz_dir_fd < 0 || fz_home_fd < 0)
		abort();
	atexit(fz_cleanup);
	fz_write("prof", prof, sizeof(prof) - 1);
	fz_write("pay", "payload", 7);
	vmm_host_key_from_seed(NULL, priv);
	if (uv_host_key_derive_public(priv, pub) ||
	    vmm_image_build(&spec, pub, &img, &len, err, sizeof(err)))
		abort();
	fz_write("img", img, len);
	free(img);
	/* The commands' normal output is not what is checked. */
	null = open("/dev/null", O_WRONLY);
	if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
		abort();
	close(null);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *name;
		int (*args)(int argc, char **argv);
	} cmds[] = {
		{ "info", cmd_info_args },
		{ "run", cmd_run_args },
		{ "mkimage", cmd_mkimage_args },
		{ "bench", cmd_bench_args },
	};
	static char *dummy[] = { "fz", NULL };
	char *argv[FZ_MAX_ARGS + 2];
	char *buf;
	int argc = 1, status;

	if (!size)
		return 0;
	fz_cmd = cmds[data[0] % 4].name;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	argv[0] = (char *)fz_cmd;
	for (size_t i = 0, start = 0; i < size && argc <= FZ_MAX_ARGS; i++) {
		if (buf[i] == '/')
			buf[i] = '_';
		else if (buf[i] == '\n')
			buf[i] = ' ';
		else if (!buf[i]) {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;

	/* getopt's state from an input that jumped out mid-cluster: reset it
	 * all (optind 0, glibc), as a fresh process would have it. */
	optind = 0;
	(void)getopt(1, dummy, "");
	if (fchdir(fz_dir_fd))
		abort();
	__lsan_disable();
	if (!setjmp(fz_back)) {
		status = cmds[data[0] % 4].args(argc, argv);
		/* Go ahead, --help, or (info) a profile refused in one line. */
		if (status != -1 && status != 0 && status != 2)
			abort();
	}
	__lsan_enable();
	if (fchdir(fz_home_fd))
		abort();
	free(buf);
	return 0;
}
