// SPDX-License-Identifier: MIT
/*
 * cmd_mkimage.c - `lazypv mkimage`: build an SE image (genprotimg's role)
 * for one UV's public host key: the program the guest runs, its
 * arguments, and a payload ("the kernel": a file, or a deterministic blob).
 *
 * The host key: either given as 64 hex digits (--host-key-pub, as printed
 * by --print-host-key) or derived from the same seed `lazypv run --uv-seed`
 * gives its UV (default "lazypv").  No UV is started here.  The image is
 * written to an anonymous file in -o's directory (O_TMPFILE) and linked
 * into place once whole, so neither a failure nor any kill, SIGKILL
 * included, leaves half an image or a temporary file at a new path.  Over
 * an existing file it is linked at a temporary name and renamed over it:
 * a SIGKILL between the two leaves that name (-o.tmp.PID; the next run
 * with that PID removes it).  Where O_TMPFILE is unsupported, a named
 * temporary file next to -o, which only a SIGKILL leaves.
 * SIGINT, SIGTERM and SIGHUP say in one line that nothing was written
 * (removing a named temporary file) before the process dies of them.
 * -o must be a new path or a regular file: device nodes, FIFOs, symbolic
 * links and directories are refused, not replaced.  Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "tools.h"

/* Largest payload file accepted (the image format allows more). */
#define MKIMAGE_MAX_PAYLOAD (1ULL << 30)

static int read_file(const char *path, void **buf, size_t *len)
{
	struct stat st;
	uint8_t *p;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MKIMAGE_MAX_PAYLOAD) {
		r = -EFBIG;
		goto out;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, (size_t)st.st_size - done);

		if (n <= 0) {
			r = n ? -errno : -EIO;
			free(p);
			goto out;
		}
		done += (size_t)n;
	}
	*buf = p;
	*len = done;
out:
	close(fd);
	return r;
}

/*
 * What the signal handler needs: the named temporary file while one
 * exists (the fallback's, or the link made before the rename that
 * replaces a regular file), whether -o holds the new image yet, and -o.
 */
static char mkimage_tmp[4096];
static volatile sig_atomic_t mkimage_tmp_live;
static volatile sig_atomic_t mkimage_written;
static const char *mkimage_out;

/* Append @s to @buf (of @len, @n used) in a signal handler. */
static size_t mkimage_cat(char *buf, size_t n, size_t len, const char *s)
{
	while (*s && n + 1 < len)
		buf[n++] = *s++;
	buf[n] = '\0';
	return n;
}

/* One line saying what the signal left, then die of it. */
static void mkimage_on_signal(int sig)
{
	char line[4300];
	size_t n = 0;

	if (mkimage_tmp_live)
		unlink(mkimage_tmp);
	n = mkimage_cat(line, n, sizeof(line), "lazypv mkimage: ");
	n = mkimage_cat(line, n, sizeof(line), sig == SIGINT ? "Interrupt" :
			sig == SIGTERM ? "Terminated" : "Hangup");
	if (mkimage_written) {
		n = mkimage_cat(line, n, sizeof(line), ": stopped after writing ");
		n = mkimage_cat(line, n, sizeof(line), mkimage_out);
		n = mkimage_cat(line, n, sizeof(line), "\n");
	} else {
		n = mkimage_cat(line, n, sizeof(line), ": stopped; nothing was written\n");
	}
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing more to say */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int mkimage_sigs[] = { SIGINT, SIGTERM, SIGHUP };

static void mkimage_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = mkimage_on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(mkimage_sigs); i++)
		sigaddset(&sa.sa_mask, mkimage_sigs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(mkimage_sigs); i++)
		sigaction(mkimage_sigs[i], &sa, NULL);
}

/* Hold the signals off while -o changes (@block), or let them in again. */
static void mkimage_hold_signals(bool block, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(mkimage_sigs); i++)
		sigaddset(&set, mkimage_sigs[i]);
	if (block)
		sigprocmask(SIG_BLOCK, &set, old);
	else
		sigprocmask(SIG_SETMASK, old, NULL);
}

/*
 * -o's target: a new path in an existing directory, or a regular file.
 * Returns NULL if fine, else why not.
 */
static const char *output_refusal(const char *path)
{
	char dir[4096];
	struct stat st;

	if (!*path)
		return "empty path";
	if (!lstat(path, &st)) {
		if (S_ISREG(st.st_mode))
			return NULL;
		return S_ISLNK(st.st_mode) ? "is a symbolic link" :
		       S_ISDIR(st.st_mode) ? "is a directory" :
		       S_ISFIFO(st.st_mode) ? "is a FIFO" :
		       S_ISCHR(st.st_mode) ? "is a character device" :
		       S_ISBLK(st.st_mode) ? "is a block device" :
		       S_ISSOCK(st.st_mode) ? "is a socket" :
		       "is not a regular file";
	}
	if (errno != ENOENT)
		return strerror(errno);
	if (strlen(path) >= sizeof(dir))
		return strerror(ENAMETOOLONG);
	strcpy(dir, path);
	if (stat(dirname(dir), &st))
		return "its directory does not exist";
	if (!S_ISDIR(st.st_mode))
		return "its directory is not a directory";
	return NULL;
}

/* @len bytes of @buf to @fd, then to disk: 0 or -errno. */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return fsync(fd) ? -errno : 0;
}

/* mkimage_tmp := "@path.tmp.PID": 0 or -ENAMETOOLONG. */
static int tmp_name(const char *path)
{
	return (size_t)snprintf(mkimage_tmp, sizeof(mkimage_tmp), "%s.tmp.%d",
				path, getpid()) >= sizeof(mkimage_tmp) ?
	       -ENAMETOOLONG : 0;
}

/*
 * The fallback where O_TMPFILE is not supported: a named temporary file
 * next to -o, renamed over it (removed on failure and by the signal
 * handler; a SIGKILL leaves it).
 */
static int write_file_named(const char *path, const void *buf, size_t len)
{
	sigset_t old;
	int fd, r;

	r = tmp_name(path);
	if (r)
		return r;
	mkimage_tmp_live = 1;
	fd = open(mkimage_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		mkimage_tmp_live = 0;
		return r;
	}
	r = write_all(fd, buf, len);
	if (close(fd) && !r)
		r = -errno;
	mkimage_hold_signals(true, &old);
	/* Whatever appeared at -o meanwhile is refused too. */
	if (!r && output_refusal(path))
		r = -EEXIST;
	if (!r && rename(mkimage_tmp, path))
		r = -errno;
	if (r)
		unlink(mkimage_tmp);
	else
		mkimage_written = 1;
	mkimage_tmp_live = 0;
	mkimage_hold_signals(false, &old);
	return r;
}

/* Give the anonymous file @fd the name @path (never replacing one). */
static int link_tmpfile(int fd, const char *path)
{
	char proc[64];

	if (!linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH))
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	/* Without CAP_DAC_READ_SEARCH: through /proc (open(2), O_TMPFILE). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) ?
	       -errno : 0;
}

/*
 * The written anonymous file @fd becomes -o, atomically: linked at a new
 * path; over a regular file, linked at a temporary name and renamed over
 * it.  Signals are held meanwhile.  0, -errno, or 1 if @fd cannot be
 * linked anywhere (the caller falls back to a named file).
 */
static int commit_tmpfile(int fd, const char *path)
{
	struct stat st;
	sigset_t old;
	int r;

	mkimage_hold_signals(true, &old);
	/* Whatever appeared at -o meanwhile is refused too. */
	r = output_refusal(path) ? -EEXIST : 0;
	if (!r && lstat(path, &st) && errno == ENOENT) {
		r = link_tmpfile(fd, path);
		if (r != -EEXIST)
			goto out;
		/* Something appeared at -o just now: replace it if it may be. */
		r = output_refusal(path) ? -EEXIST : 0;
	}
	if (!r)
		r = tmp_name(path);
	if (!r) {
		mkimage_tmp_live = 1;
		unlink(mkimage_tmp);	/* a stale one of an earlier PID's */
		r = link_tmpfile(fd, mkimage_tmp);
		if (!r && rename(mkimage_tmp, path))
			r = -errno;
		if (r)
			unlink(mkimage_tmp);
		mkimage_tmp_live = 0;
	}
out:
	if (!r)
		mkimage_written = 1;
	else if (r == -ENOENT || r == -EPERM || r == -EXDEV ||
		 r == -EOPNOTSUPP || r == -ENOSYS || r == -EINVAL)
		r = 1;	/* the link itself failed: no /proc, say */
	mkimage_hold_signals(false, &old);
	return r;
}

/*
 * The image at @path: written to an anonymous file (O_TMPFILE) in -o's
 * directory, which a crash or any kill simply drops, and linked into
 * place only once whole.  Where the filesystem or kernel has no
 * O_TMPFILE, a named temporary file instead.
 */
static int write_file(const char *path, const void *buf, size_t len)
{
	char dir[4096];
	int fd, r;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	fd = open(dirname(dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			return write_file_named(path, buf, len);
		return -errno;
	}
	r = write_all(fd, buf, len);
	if (!r)
		r = commit_tmpfile(fd, path);
	close(fd);
	return r == 1 ? write_file_named(path, buf, len) : r;
}

static void print_key(const uint8_t key[LPV_HOST_KEY_LEN])
{
	for (int i = 0; i < LPV_HOST_KEY_LEN; i++)
		printf("%02x", key[i]);
}

struct mkimage_opts {
	struct lpv_image_spec spec;
	const char *output;
	const char *payload_path, *seed, *keyhex;
	uint8_t pub[LPV_HOST_KEY_LEN];
	bool print_only;
	void *payload;		/* --payload's bytes (the caller frees them) */
};

static const char *mkimage_program_help(void)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), " Programs: %s.", lpv_program_names());
	return buf;
}

#define O(field) LPV_CL_FIELD(struct mkimage_opts, field)
static const struct lpv_cl_opt mkimage_opt_tab[] = {
	{ .name = "program", .kind = LPV_CL_STRING, O(spec.program),
	  .metavar = "NAME[:ARGS]", .help_more = mkimage_program_help,
	  .help = "the guest program with key=value arguments, e.g. touch:mib=64,rounds=2 (required)." },
	{ .name = "payload", .kind = LPV_CL_STRING, O(payload_path), .metavar = "FILE",
	  .help = "the payload (\"kernel\"), a regular file of at most 1G; default: a deterministic blob of --payload-size bytes" },
	{ .name = "payload-size", .kind = LPV_CL_SIZE, O(spec.payload_bytes),
	  .min = 1, .max = MKIMAGE_MAX_PAYLOAD, .def = "4M",
	  .help = "size of the deterministic payload" },
	{ .name = "host-key-pub", .kind = LPV_CL_STRING, O(keyhex), .metavar = "HEX",
	  .help = "the target UV's public host key (64 hex digits, as --print-host-key prints it)" },
	{ .name = "uv-seed", .kind = LPV_CL_STRING, O(seed), .def = LPV_DEFAULT_SEED,
	  .help = "or the seed the target 'lazypv run' gives its UV" },
	{ .name = "nonce", .kind = LPV_CL_UINT, O(spec.nonce), .min = 1, .def = "random",
	  .help = "the image's nonce" },
	{ .name = "print-host-key", .kind = LPV_CL_FLAG, O(print_only),
	  .help = "print the public host key of --uv-seed (or --host-key-pub) and exit" },
	{ .name = "output", .short_name = 'o', .kind = LPV_CL_STRING, O(output),
	  .metavar = "FILE",
	  .help = "where to write the image: a new path or a regular file (required)" },
};
#undef O

const struct lpv_cl_cmd cmd_mkimage_cl = {
	.prog = "lazypv",
	.name = "mkimage",
	.summary = "build a protected-guest (SE) image for a UV's host key",
	.synopsis =
		"lazypv mkimage --program NAME[:ARGS] [--payload FILE]\n"
		"               [--payload-size SIZE] [--nonce N]\n"
		"               [--host-key-pub HEX | --uv-seed STRING] -o FILE\n"
		"lazypv mkimage --print-host-key [--host-key-pub HEX | --uv-seed STRING]\n",
	.description =
		"Build a protected-guest (SE) image: page 0 names the guest program\n"
		"and its arguments, the rest is the payload, all encrypted for the\n"
		"UV's public host key.\n",
	.opts = mkimage_opt_tab,
	.nr_opts = ARRAY_SIZE(mkimage_opt_tab),
};

/*
 * Options, the host key, -o's target and the payload: everything checked
 * before the image is built.  Returns the exit status to end with now
 * (0 after --help, 1 if the key cannot be derived), or -1 to go ahead.
 */
static int mkimage_args(int argc, char **argv, struct mkimage_opts *o)
{
	struct lpv_image_spec *spec = &o->spec;
	struct lpv_cl_result res;
	size_t payload_len = 0;
	bool help;
	int r;

	memset(o, 0, sizeof(*o));
	help = tool_parse_options(&cmd_mkimage_cl, argc, argv, o, &res);
	lpv_cl_release(&res);
	if (help)
		return 0;
	if (o->keyhex && o->seed)
		tool_usage_error("mkimage", "--host-key-pub and --uv-seed exclude each other");
	if (o->keyhex) {
		if (lpv_host_key_parse(o->keyhex, o->pub))
			tool_usage_error("mkimage", "--host-key-pub takes 64 hex digits");
	} else {
		r = lpv_host_key_from_seed(o->seed, o->pub);
		if (r) {
			fprintf(stderr, "lazypv mkimage: %s\n", lpv_last_error());
			return 1;
		}
	}
	if (o->print_only)
		return -1;
	if (!spec->program)
		tool_usage_error("mkimage", "--program is required");
	if (!o->output)
		tool_usage_error("mkimage", "-o FILE is required");
	if (lpv_program_check(spec->program))
		tool_usage_error("mkimage", "--program: %s", lpv_last_error());
	{
		const char *why = output_refusal(o->output);

		if (why)
			tool_usage_error("mkimage", "-o %s: %s (only a regular file or a new path is written)",
					 o->output, why);
	}
	if (o->payload_path) {
		if (spec->payload_bytes)
			tool_usage_error("mkimage", "--payload and --payload-size exclude each other");
		r = read_file(o->payload_path, &o->payload, &payload_len);
		if (r)
			tool_usage_error("mkimage", "--payload %s: %s", o->payload_path,
					 r == -EFBIG ? "not a regular file of at most 1 GiB"
						     : strerror(-r));
		spec->payload = o->payload;
		spec->payload_len = payload_len;
	}
	return -1;
}

int cmd_mkimage_args(int argc, char **argv)
{
	struct mkimage_opts o;
	int status = mkimage_args(argc, argv, &o);

	free(o.payload);
	return status;
}

int cmd_mkimage(int argc, char **argv)
{
	struct mkimage_opts o;
	struct lpv_image_info info;
	struct lpv_image *img = NULL;
	const void *data;
	size_t len;
	int r;

	r = mkimage_args(argc, argv, &o);
	if (r >= 0) {
		free(o.payload);
		return r;
	}
	if (o.print_only) {
		print_key(o.pub);
		printf("\n");
		return 0;
	}

	mkimage_out = o.output;
	mkimage_catch_signals();
	/* Built and parsed back: the file is for a program to read. */
	r = lpv_image_build(&o.spec, o.pub, &img);
	if (r) {
		fprintf(stderr, "lazypv mkimage: %s\n", lpv_last_error());
		goto out;
	}
	data = lpv_image_data(img, &len);
	r = lpv_image_info(img, &info);
	if (!r)
		r = write_file(o.output, data, len);
	if (r) {
		fprintf(stderr, "lazypv mkimage: writing %s: %s\n", o.output,
			strerror(-r));
		goto out;
	}
	printf("%s: %zu bytes, %" PRIu64 " encrypted pages, SE header %" PRIu64 " bytes, program %s, host key ",
	       o.output, len, info.pages, info.se_header_bytes,
	       o.spec.program);
	print_key(o.pub);
	printf("\n");
out:
	lpv_image_destroy(img);
	free(o.payload);
	return r ? 1 : 0;
}
