// SPDX-License-Identifier: MIT
/*
 * test_cli_inputs.c - bad and odd input to every `lazypv` command, as a
 * hostile but fair user gives it: the built binary run as a subprocess
 * from the build directory (ctest's working directory).  The contract
 * checked: a user error exits 2 with one line on stderr naming the option
 * or file, where it applies and why, and nothing on stdout; nothing on
 * disk changes; sizes that are odd but valid work.
 */
#include "tools/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void cli_done(struct cli *c)
{
	cli_cleanup(c);
	free(c);
}

#define expect_user_error(c, args, needles) \
	cli_expect_usage_error(c, "", args, needles)

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fputs(text, f) >= 0, 1);
	ASSERT_EQ(fclose(f), 0);
}

/*
 * A host size that is a multiple of 4 KiB but not of 1 MiB: the UV's
 * storage must start on a 1 MiB boundary, or the UV (which ignores the low
 * bits) owns frames the allocator hands out and the first guest crashes.
 * A profile whose init_min_origin leaves no aligned room is refused up
 * front, and `info` says INIT_UV cannot succeed on that host.
 */
TEST_IMPL(cli_host_mem_unaligned)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], prof[128];

	ASSERT_NOT_NULL(c);
	cli_run_env(c, "", "run --host-mem 3000000K --guest-mem 64M --reboots 1");
	if (c->status != 0 || !strstr(c->out, "invariants           ok"))
		test_fail(__FILE__, __LINE__, "run --host-mem 3000000K: status %d, stderr \"%s\"",
			  c->status, c->err);
	cli_run_env(c, "", "info --host-mem 3000000K");
	ASSERT_EQ(c->status, 0);
	ASSERT_NOT_NULL(strstr(c->out, "available (INIT_UV done)"));

	/* Room for 1 MiB above 2 GiB + 8 KiB, but not at a 1 MiB origin. */
	snprintf(prof, sizeof(prof), "%s/origin.prof", cli_dir(c));
	write_text(prof, "init_min_origin = 2097160K\n");
	snprintf(args, sizeof(args),
		 "run --uv-profile %s --host-mem 2098184K --guest-mem 64M", prof);
	expect_user_error(c, args, "--host-mem|init_min_origin|1 MiB");
	snprintf(args, sizeof(args), "info --uv-profile %s --host-mem 2098184K",
		 prof);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	ASSERT_NOT_NULL(strstr(c->out, "unavailable"));
	cli_done(c);
	return 0;
}

/* The type bits of @path without following a link, 0 if it is gone. */
static mode_t path_type(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_mode & S_IFMT;
}

/* Names in @dir starting with @prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ASSERT_NOT_NULL(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

/*
 * mkimage -o writes a new path or replaces a regular file, nothing else:
 * a FIFO, a symbolic link, a directory, a missing directory are refused
 * before any work and left as they were.  --nonce takes 1..2^64-1.
 */
TEST_IMPL(cli_mkimage_output_and_nonce)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], fifo[128], link[128], target[128];
	const char *d;

	ASSERT_NOT_NULL(c);
	d = cli_dir(c);
	snprintf(fifo, sizeof(fifo), "%s/fifo", d);
	snprintf(link, sizeof(link), "%s/link", d);
	snprintf(target, sizeof(target), "%s/target", d);
	ASSERT_OK(mkfifo(fifo, 0600) ? -errno : 0);
	write_text(target, "precious\n");
	ASSERT_OK(symlink(target, link) ? -errno : 0);

	snprintf(args, sizeof(args), "mkimage --program touch -o %s", fifo);
	expect_user_error(c, args, "-o|fifo|FIFO");
	ASSERT_EQ(path_type(fifo), S_IFIFO);
	snprintf(args, sizeof(args), "mkimage --program touch -o %s", link);
	expect_user_error(c, args, "-o|link|symbolic link");
	ASSERT_EQ(path_type(link), S_IFLNK);
	snprintf(args, sizeof(args), "mkimage --program touch -o %s", d);
	expect_user_error(c, args, "-o|directory");
	snprintf(args, sizeof(args), "mkimage --program touch -o %s/no/img", d);
	expect_user_error(c, args, "-o|does not exist");
	ASSERT_EQ(count_prefixed(d, "fifo.tmp"), 0);
	ASSERT_EQ(count_prefixed(d, "link.tmp"), 0);

	snprintf(args, sizeof(args), "mkimage --program touch --nonce -1 -o %s/n", d);
	expect_user_error(c, args, "--nonce|'-1'");
	snprintf(args, sizeof(args),
		 "mkimage --program touch --nonce 18446744073709551616 -o %s/n", d);
	expect_user_error(c, args, "--nonce|out of range");
	snprintf(args, sizeof(args), "mkimage --program touch --nonce 0 -o %s/n", d);
	expect_user_error(c, args, "--nonce|out of range");
	snprintf(args, sizeof(args), "%s/n", d);
	ASSERT_EQ(path_type(args), 0);
	/* A regular file is replaced. */
	snprintf(args, sizeof(args),
		 "mkimage --program touch --payload-size 8K --nonce 0xffffffffffffffff -o %s",
		 target);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(path_type(target), S_IFREG);
	cli_done(c);
	return 0;
}

/*
 * Whether process @pid has a file open that is being written in @dir as
 * the image: an anonymous one (O_TMPFILE: "DIR/#INODE (deleted)") or a
 * named temporary one ("DIR/img.tmp.PID").
 */
static bool writing_image(pid_t pid, const char *dir)
{
	char fds[64], path[384], target[512], anon[256], named[256];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(fds, sizeof(fds), "/proc/%d/fd", (int)pid);
	snprintf(anon, sizeof(anon), "%s/#", dir);
	snprintf(named, sizeof(named), "%s/img.tmp.", dir);
	d = opendir(fds);
	if (!d)
		return false;	/* gone */
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", fds, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = !strncmp(target, anon, strlen(anon)) ||
			!strncmp(target, named, strlen(named));
	}
	closedir(d);
	return found;
}

/*
 * A kill while the image is being written leaves neither a temporary
 * file nor a changed -o behind, and SIGINT/SIGTERM say so in one line.
 * SIGKILL, which no handler sees, is sent while a new path is written:
 * the image is an anonymous file until it is whole and linked in one
 * step (replacing a file takes a link and a rename, a window SIGKILL can
 * hit; without O_TMPFILE a named file is left: skipped there).  The
 * window is found by watching the process's open files; a run that
 * finishes before it is seen is retried.
 */
TEST_IMPL(cli_mkimage_killed)
{
	struct cli *c = calloc(1, sizeof(*c));
	static const int sigs[] = { SIGTERM, SIGINT, SIGKILL };
	char out[128], buf[64], errpath[128], err[512];
	int caught = 0, want = 3, tfd;
	const char *d;

	ASSERT_NOT_NULL(c);
	d = cli_dir(c);
	tfd = open(d, O_TMPFILE | O_WRONLY, 0600);
	if (tfd >= 0)
		close(tfd);
	else
		want = 2;	/* no O_TMPFILE here: SIGKILL leaves a file */
	snprintf(out, sizeof(out), "%s/img", d);
	snprintf(errpath, sizeof(errpath), "%s.err", d);	/* beside, not in d */
	for (int attempt = 0; attempt < 30 && caught < want; attempt++) {
		int sig = sigs[caught], st = 0, n;
		bool seen = false, reaped = false;
		pid_t pid;

		if (sig == SIGKILL)
			unlink(out);	/* a new path */
		else
			write_text(out, "old image\n");
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			int null = open("/dev/null", O_WRONLY);
			int ef = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			dup2(null, 1);
			dup2(ef, 2);
			/* A shell's background job ignores SIGINT: undo. */
			signal(SIGINT, SIG_DFL);
			execl("./lazypv", "lazypv", "mkimage", "--program",
			      "touch", "--payload-size", "48M", "-o", out,
			      (char *)NULL);
			_exit(127);
		}
		/* Until it writes or the child is gone (60 s at most). */
		for (int i = 0; i < 120000 && !seen && !reaped; i++) {
			seen = writing_image(pid, d);
			if (!seen)
				reaped = waitpid(pid, &st, WNOHANG) == pid;
			if (!seen && !reaped)
				usleep(500);
		}
		if (seen)
			ASSERT_OK(kill(pid, sig) ? -errno : 0);
		if (!reaped)
			ASSERT_EQ(waitpid(pid, &st, 0), pid);
		/* Nothing but -o in the directory, whenever the kill came. */
		ASSERT_EQ(count_prefixed(d, "img.tmp."), 0);
		n = count_prefixed(d, "");		/* ".", "..", "img"? */
		if (sig == SIGKILL)
			ASSERT_TRUE(n == 2 || n == 3);
		else
			ASSERT_EQ(n, 3);
		if (!seen || !WIFSIGNALED(st))
			continue;	/* finished before the kill: again */
		ASSERT_EQ(WTERMSIG(st), sig);
		if (sig == SIGKILL && n == 2) {
			caught++;	/* killed before the link: nothing */
			continue;
		}
		cli_slurp_file(out, buf, sizeof(buf));
		cli_slurp_file(errpath, err, sizeof(err));
		if (strcmp(buf, "old image\n")) {
			/* The kill came after the rename: a whole image. */
			struct stat sb;

			ASSERT_OK(stat(out, &sb) ? -errno : 0);
			ASSERT_GT(sb.st_size, 48 << 20);
			ASSERT_EQ(memcmp(buf, "LPVSEIMG", 8), 0);
			continue;
		}
		if (sig != SIGKILL &&
		    (!strstr(err, sig == SIGINT ? "lazypv mkimage: Interrupt: stopped; nothing was written\n" :
			     "lazypv mkimage: Terminated: stopped; nothing was written\n") ||
		     cli_count_lines(err) != 1))
			test_fail(__FILE__, __LINE__, "signal %d: stderr \"%s\"", sig, err);
		caught++;
	}
	ASSERT_EQ(caught, want);
	unlink(errpath);
	cli_done(c);
	return 0;
}

/*
 * A profile file is text of at most 1 MiB: a NUL byte, /dev/zero, a
 * longer file and a directory are refused by every command that takes
 * one, naming the file and the byte.
 */
TEST_IMPL(cli_profile_file_garbage)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], path[128];
	const char *d;
	FILE *f;

	ASSERT_NOT_NULL(c);
	d = cli_dir(c);
	expect_user_error(c, "run --uv-profile /dev/zero", "/dev/zero:1|NUL|byte 1");
	expect_user_error(c, "info --uv-profile /dev/zero", "/dev/zero|NUL|byte 1");
	snprintf(args, sizeof(args), "run --uv-profile %s", d);
	expect_user_error(c, args, "directory");
	snprintf(args, sizeof(args), "info --uv-profile %s", d);
	expect_user_error(c, args, "directory");

	snprintf(path, sizeof(path), "%s/nul.prof", d);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs("name = a\n# fine\n", f);
	fputc('\0', f);
	fputs("cost.qui = 1us\n", f);
	ASSERT_EQ(fclose(f), 0);
	snprintf(args, sizeof(args), "run --uv-profile %s", path);
	expect_user_error(c, args, "nul.prof:3|byte 17");

	/* 1 MiB of comment lines is fine; one byte more is not. */
	snprintf(path, sizeof(path), "%s/big.prof", d);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	for (int i = 0; i < 16384; i++)
		fprintf(f, "#%062d\n", i);
	ASSERT_EQ(fclose(f), 0);
	snprintf(args, sizeof(args), "info --uv-profile %s", path);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	f = fopen(path, "a");
	ASSERT_NOT_NULL(f);
	fputc('#', f);
	ASSERT_EQ(fclose(f), 0);
	snprintf(args, sizeof(args), "run --uv-profile %s", path);
	expect_user_error(c, args, "big.prof|byte 1048577|1 MiB");
	snprintf(args, sizeof(args), "bench --sizes 16M --profiles zero,%s", path);
	expect_user_error(c, args, "--profiles|item 2|big.prof|1 MiB");
	cli_done(c);
	return 0;
}

/*
 * Option errors name the option as typed: short options and clusters, a
 * value given to a flag, a missing value, unknown long options -- one line
 * from every command, getopt's own message never added.
 */
TEST_IMPL(cli_option_errors)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	expect_user_error(c, "run -g 1G", "unknown option '-g'");
	expect_user_error(c, "run -jx", "unknown option '-j'");
	expect_user_error(c, "run --json=yes", "--json takes no value|'yes'");
	expect_user_error(c, "run --reboots", "--reboots needs a value");
	expect_user_error(c, "run --frobnicate=1", "unknown option '--frobnicate'");
	/* getopt_long takes unique abbreviations: so do the messages. */
	expect_user_error(c, "run --reb", "--reb needs a value");
	expect_user_error(c, "run --js=1", "--js takes no value");
	expect_user_error(c, "bench --bogus", "unknown option '--bogus'");
	expect_user_error(c, "bench --json=1", "--json takes no value");
	expect_user_error(c, "bench --sizes", "--sizes needs a value");
	expect_user_error(c, "info --bogus", "unknown option '--bogus'");
	expect_user_error(c, "info -q", "unknown option '-q'");
	expect_user_error(c, "info --json=on", "--json takes no value");
	expect_user_error(c, "mkimage -o", "-o needs a value");
	expect_user_error(c, "mkimage --output", "--output needs a value");
	expect_user_error(c, "mkimage --print-host-key=yes", "--print-host-key takes no value");
	expect_user_error(c, "mkimage -x", "unknown option '-x'");
	/* Sizes: out of range says so, with the limit. */
	expect_user_error(c, "run --host-mem 16000T", "--host-mem|out of range|at most");
	expect_user_error(c, "info --host-mem 16000T", "--host-mem|out of range|at most");
	expect_user_error(c, "run --host-mem 99999999T", "--host-mem|out of range");
	expect_user_error(c, "run --guest-mem 12Q", "--guest-mem|'12Q'");
	/* A refused environment tunable: the same from every command that
	 * starts a host -- one line naming it, exit 2, nothing started. */
	cli_expect_usage_error(c, "LAZYPV_KVM_LAZY_DESTROY=foo", "info",
			       "LAZYPV_KVM_LAZY_DESTROY|foo");
	cli_expect_usage_error(c, "LAZYPV_KVM_LAZY_DESTROY=foo",
			       "run --guest-mem 64M --payload-size 256K",
			       "LAZYPV_KVM_LAZY_DESTROY|foo");
	cli_expect_usage_error(c, "LAZYPV_KVM_LAZY_DESTROY=foo",
			       "bench --sizes 16M --runs 1 --modes sync --profiles zero",
			       "LAZYPV_KVM_LAZY_DESTROY|foo");
	cli_expect_usage_error(c, "LAZYPV_KVM_LAZY_DESTROY=foo",
			       "soak --duration 2 --host-mem 512M --vms 1",
			       "LAZYPV_KVM_LAZY_DESTROY|foo");
	cli_expect_usage_error(c, "LAZYPV_MM_OOM_WAIT_MS=forever",
			       "soak --duration 2 --host-mem 512M --vms 1",
			       "LAZYPV_MM_OOM_WAIT_MS");
	cli_done(c);
	return 0;
}

/*
 * bench refuses empty list items and checks every option, profile and
 * host size before it populates any memory (a bench that starts prints
 * its header on stdout first, so an empty stdout means nothing started); its --oom host
 * of 1.5x (--oom-host-ratio) a guest that is not a 2 MiB multiple is not
 * a 1 MiB multiple, and works.
 */
TEST_IMPL(cli_bench_inputs)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], prof[128];

	ASSERT_NOT_NULL(c);
	expect_user_error(c, "bench --sizes 1G,,4G", "--sizes|item 2 is empty");
	expect_user_error(c, "bench --sizes 16M,", "--sizes|item 2 is empty");
	expect_user_error(c, "bench --modes ,sync", "--modes|item 1 is empty");
	expect_user_error(c, "bench --profiles default,", "--profiles|item 2 is empty");
	expect_user_error(c, "bench --runs -1", "--runs|'-1'");
	expect_user_error(c, "bench --oom-destroy-cost -5", "--oom-destroy-cost|'-5'");
	expect_user_error(c, "bench --oom-guest 100K", "--oom-guest");
	expect_user_error(c, "bench --oom-host-ratio 0.9", "--oom-host-ratio|'0.9'");
	expect_user_error(c, "bench --oom-host-ratio 1.2x", "--oom-host-ratio|'1.2x'");
	expect_user_error(c, "bench --oom-pressure disk", "--oom-pressure|disk");
	expect_user_error(c, "bench --sizes 16M --profiles zero,/dev/zero",
			  "--profiles|item 2|/dev/zero|NUL");
	expect_user_error(c, "bench --sizes 16M --profiles nosuch", "--profiles|nosuch");
	expect_user_error(c, "bench --sizes 16000T", "--sizes|out of range|at most");
	snprintf(prof, sizeof(prof), "%s/high.prof", cli_dir(c));
	write_text(prof, "init_min_origin = 64G\n");
	snprintf(args, sizeof(args), "bench --sizes 16M --profiles %s", prof);
	expect_user_error(c, args, "--profiles|init_min_origin");

	cli_run_env(c, "", "bench --oom-only --oom-guest 65M --modes sync --oom-destroy-cost 0 --oom-host-ratio 1.5 --oom-pressure host --json");
	if (c->status != 0 || cli_count_lines(c->out) != 1)
		test_fail(__FILE__, __LINE__, "bench --oom-guest 65M: status %d, stdout \"%s\", stderr \"%s\"",
			  c->status, c->out, c->err);
	{
		json_t *j = cli_json(c->out, strlen(c->out));

		ASSERT_EQ(strcmp(json_string_value(json_object_get(j, "bench")),
				 "oom_a_then_b"), 0);
		ASSERT_EQ(json_integer_value(json_object_get(j, "host_mem")),
			  (65 << 20) * 3 / 2 / 4096 * 4096);
		ASSERT_TRUE(json_is_integer(json_object_get(j, "oom_kills")));
		ASSERT_TRUE(json_is_number(json_object_get(j, "a_reclaim_s")));
		ASSERT_TRUE(json_is_false(json_object_get(j, "b_killed")));
		ASSERT_EQ(json_integer_value(json_object_get(j, "b_exit_code")), 0);
		json_decref(j);
	}
	cli_done(c);
	return 0;
}

/*
 * What the guest would find only at run time is refused before the host
 * starts: a program area beyond the guest, io pages beyond a vCPU's
 * slice, a memcg limit below what the first protected boot needs.  A
 * limit the boot fits in runs (the program's own memory is its business).
 */
TEST_IMPL(cli_run_sizes_up_front)
{
	struct cli *c = calloc(1, sizeof(*c));

	ASSERT_NOT_NULL(c);
	expect_user_error(c, "run --guest-mem 64M --program touch:mib=128",
			  "--program|mib=128|--guest-mem 64");
	expect_user_error(c, "run --guest-mem 64M --program touch:at=64",
			  "--program|at=64|beyond guest memory");
	expect_user_error(c, "run --guest-mem 64M --program memtest:mib=60,at=8",
			  "--program|mib=60");
	expect_user_error(c, "run --guest-mem 64M --cpus 4 --program io:pages=4096",
			  "--program|pages=4096|slice");
	expect_user_error(c, "run --guest-mem 64M --payload-size 16M --program touch:mib=48",
			  "--program|mib=48");
	expect_user_error(c, "run --guest-mem 64M --memcg-limit 1M",
			  "--memcg-limit|1.00 MiB|below");
	expect_user_error(c, "run --guest-mem 64M --program touch:mib=1 --memcg-limit 5M",
			  "--memcg-limit|below");
	cli_run_env(c, "", "run --guest-mem 64M --program touch:mib=1 --reboots 0 --memcg-limit 8M");
	if (c->status != 0)
		test_fail(__FILE__, __LINE__, "--memcg-limit 8M: status %d, stderr \"%s\"",
			  c->status, c->err);
	cli_done(c);
	return 0;
}

/* FNV-1a 64, as the image file header's checksum (src/vmm/image.c). */
static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Copy @src to @dst with byte @off flipped; @fix: recompute the file
 * header's checksum so that only the UV's checks can tell. */
static void corrupt_copy(const char *src, const char *dst, size_t off, bool fix)
{
	FILE *f = fopen(src, "rb");
	uint8_t *buf;
	long len;

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	ASSERT_GT(len, 0x1000);
	rewind(f);
	buf = malloc((size_t)len);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	buf[off < (size_t)len ? off : (size_t)len - 1] ^= 0x01;
	if (fix) {
		uint64_t se_len = le64(buf + 0x20);
		uint64_t h = fnv1a(buf + 0x100, se_len,
				   fnv1a(buf, 0xf8, 0xcbf29ce484222325ULL));

		for (int i = 0; i < 8; i++)
			buf[0xf8 + i] = (uint8_t)(h >> (8 * i));
	}
	f = fopen(dst, "wb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(buf, 1, (size_t)len, f), (size_t)len);
	ASSERT_EQ(fclose(f), 0);
	free(buf);
}

/*
 * A corrupted image is a user error naming the check that failed: the
 * file header's checksum before anything starts; the SE header's tag and
 * the pages' digest in the UV, at the first boot -- exit 2, one line.
 */
TEST_IMPL(cli_run_corrupted_image)
{
	struct cli *c = calloc(1, sizeof(*c));
	char args[512], img[128], bad[128];
	const char *d;
	uint64_t se_len;
	uint8_t hdr[0x100];
	FILE *f;

	ASSERT_NOT_NULL(c);
	d = cli_dir(c);
	snprintf(img, sizeof(img), "%s/good.img", d);
	snprintf(bad, sizeof(bad), "%s/bad.img", d);
	snprintf(args, sizeof(args),
		 "mkimage --program touch:mib=1 --payload-size 64K -o %s", img);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	f = fopen(img, "rb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	se_len = le64(hdr + 0x20);

	snprintf(args, sizeof(args), "run --guest-mem 16M --reboots 0 --image %s", bad);
	corrupt_copy(img, bad, 0x100 + 0x10, false);
	expect_user_error(c, args, "--image|checksum");
	/* The SE header's tag (its last 16 bytes). */
	corrupt_copy(img, bad, 0x100 + se_len - 1, true);
	cli_run_env(c, "", args);
	if (c->status != 2 || cli_count_lines(c->err) != 1 ||
	    !strstr(c->err, "--image") || !strstr(c->err, "SE header tag mismatch"))
		test_fail(__FILE__, __LINE__, "tag: status %d, stderr \"%s\"", c->status, c->err);
	/* The last page's last byte. */
	corrupt_copy(img, bad, (size_t)-1, false);
	cli_run_env(c, "", args);
	if (c->status != 2 || cli_count_lines(c->err) != 1 ||
	    !strstr(c->err, "--image") || !strstr(c->err, "digest (PLD) mismatch"))
		test_fail(__FILE__, __LINE__, "page: status %d, stderr \"%s\"", c->status, c->err);
	/* And the intact one boots. */
	snprintf(args, sizeof(args), "run --guest-mem 16M --reboots 0 --image %s", img);
	cli_run_env(c, "", args);
	ASSERT_EQ(c->status, 0);
	cli_done(c);
	return 0;
}
