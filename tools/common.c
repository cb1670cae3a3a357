// SPDX-License-Identifier: MIT
/*
 * common.c - helpers shared by the `lazypv` subcommands: parsing by a
 * command's option table with errors that name what the user typed, the
 * names of enum options, JSON output, and bringing up the host with
 * errors a user can act on.
 */
#include <errno.h>
#include <libgen.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_host.h"
#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "tools.h"

int tool_host_create(const struct host_config *cfg, struct host **host,
		     const char *cmd)
{
	char a[32], b[32], err[256] = "";
	int ret = host_create(cfg, host, err, sizeof(err));

	switch (ret) {
	case 0:
		return 0;
	case -EINVAL:
		if (!cfg->mem_bytes) {
			fprintf(stderr, "lazypv %s: --host-mem must not be zero\n", cmd);
			return 2;
		}
		if (cfg->mem_bytes % 4096) {
			fprintf(stderr, "lazypv %s: --host-mem %llu is not a multiple of 4 KiB\n",
				cmd, (unsigned long long)cfg->mem_bytes);
			return 2;
		}
		break;
	case -E2BIG:
		fprintf(stderr, "lazypv %s: --host-mem %s is out of range: this machine can back at most %s now (MemAvailable)\n",
			cmd, lpv_format_size(cfg->mem_bytes, a, sizeof(a)),
			lpv_format_size(host_backable_bytes(), b, sizeof(b)));
		return 2;
	case -EOPNOTSUPP:
		fprintf(stderr, "lazypv %s: this kernel has no MADV_GUARD_INSTALL on shared mappings; use --protect soft or auto\n",
			cmd);
		return 2;
	}
	fprintf(stderr, "lazypv %s: %s\n", cmd, err[0] ? err : strerror(-ret));
	return 1;
}

int tool_lpv_host(struct host *h, struct lpv_host **out, const char *cmd)
{
	if (!lpv_host_wrap(h, out))
		return 0;
	fprintf(stderr, "lazypv %s: %s\n", cmd, lpv_last_error());
	return 1;
}

bool tool_parse_options(const struct lpv_cl_cmd *cl, int argc, char **argv,
			void *opts, struct lpv_cl_result *res)
{
	char err[512];

	if (lpv_cl_parse(cl, argc, argv, opts, res, err, sizeof(err)))
		tool_usage_error(cl->name, "%s", err);
	if (res->help)
		lpv_cl_print_help(cl, stdout);
	return res->help;
}

/* @path's directory ("." for a bare name) into @buf. */
static const char *tool_dirname(const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s", path);
	return dirname(buf);
}

/* Why @dir cannot take a new file, or NULL. */
static const char *tool_dir_refusal(const char *dir)
{
	struct stat st;

	if (stat(dir, &st))
		return errno == ENOENT ? "does not exist" : strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "is not a directory";
	if (access(dir, W_OK | X_OK))
		return errno == EACCES ? "is not writable" : strerror(errno);
	return NULL;
}

void tool_check_output_file(const char *cmd, const char *opt,
			    const char *path)
{
	char buf[4096];
	const char *dir, *why;
	struct stat st;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			tool_usage_error(cmd, "%s %s: is a directory, not a file name",
					 opt, path);
		/* An existing file (or /dev/stdout): written in place. */
		if (access(path, W_OK))
			tool_usage_error(cmd, "%s %s: %s", opt, path,
					 errno == EACCES ? "is not writable" :
							   strerror(errno));
		return;
	}
	dir = tool_dirname(path, buf, sizeof(buf));
	why = tool_dir_refusal(dir);
	if (why)
		tool_usage_error(cmd, "%s %s: its directory %s %s", opt, path,
				 dir, why);
}

void tool_check_output_dir(const char *cmd, const char *opt,
			   const char *dir)
{
	char buf[4096];
	const char *parent, *why;
	struct stat st;

	if (!stat(dir, &st) || errno != ENOENT) {
		why = tool_dir_refusal(dir);
		if (why)
			tool_usage_error(cmd, "%s %s: %s", opt, dir, why);
		return;
	}
	/* Made by the command: its parent must take it. */
	parent = tool_dirname(dir, buf, sizeof(buf));
	why = tool_dir_refusal(parent);
	if (why)
		tool_usage_error(cmd, "%s %s: cannot be made: %s %s", opt, dir,
				 parent, why);
}

int tool_env_check(void)
{
	struct host_config hc;

	return host_config_init(&hc) ? 2 : 0;	/* the message named it */
}

void tool_profile_load(const char *cmd, const char *opt, const char *name,
		       struct uv_profile *prof)
{
	char err[256] = "";

	if (host_profile_load(name, prof, err, sizeof(err)))
		tool_usage_error(cmd, "%s: %s", opt, err[0] ? err :
				 name ? name : "unknown profile");
}

const char *tool_protect_name(unsigned int mode)
{
	static const char *const names[] = {
		[HW_PROTECT_AUTO] = "auto",
		[HW_PROTECT_GUARD] = "guard",
		[HW_PROTECT_SOFT] = "soft",
	};

	return mode < ARRAY_SIZE(names) ? names[mode] : "?";
}

const char *tool_destroy_name(unsigned int mode)
{
	const char *name = lpv_teardown_mode_name(mode);

	return name ? name : "?";
}

int tool_mode_index(const char *name)
{
	for (unsigned int i = 0; lpv_teardown_mode_name(i); i++)
		if (!strcmp(name, lpv_teardown_mode_name(i)))
			return (int)i;
	return -1;
}

void tool_json_print(FILE *f, json_t *j)
{
	if (j) {
		flockfile(f);
		json_dumpf(j, f, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(12));
		fputc('\n', f);
		funlockfile(f);
	}
	json_decref(j);
}

json_t *tool_json_interrupted(int signo)
{
	const char *name = sigabbrev_np(signo);

	return json_pack("{s:s, s:s}", "event", "interrupted", "signal",
			 name ? name : "?");
}
