/* SPDX-License-Identifier: MIT */
/*
 * plot.h - pictures drawn by gnuplot (tools/ only): find it, make a
 * private temporary directory for its data files and script, run it and
 * check its exit status.  The caller writes the data and the script.
 */
#ifndef LAZYPV_TOOLS_PLOT_H
#define LAZYPV_TOOLS_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit status of a command whose --plot cannot run: gnuplot is missing. */
#define PLOT_EXIT_NO_GNUPLOT 3

/* gnuplot is an executable in PATH. */
bool plot_have_gnuplot(void);
/* The gnuplot terminal line for @path by its extension (.png, .svg), or
 * NULL for any other. */
const char *plot_terminal(const char *path);
/* A path gnuplot can take in a single-quoted string (no quote, no
 * newline). */
bool plot_path_ok(const char *path);

/* mkdtemp under $TMPDIR (or /tmp) into @dir; 0 or -errno. */
int plot_tmpdir_create(char *dir, size_t len) __attribute__((warn_unused_result));
/* Remove the files in @dir and @dir (no subdirectories); "" is a no-op. */
void plot_tmpdir_remove(const char *dir);
/* fopen("@dir/@name", "w") and the path into @path. */
FILE *plot_file_open(const char *dir, const char *name, char *path,
		     size_t len);

/*
 * Run `gnuplot SCRIPT` and wait: 0, or -ENOENT (no gnuplot), -EIO (it
 * failed: its first line of stderr, or the exit status, in @err).
 */
int plot_gnuplot_run(const char *script, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* ---- the pictures ---- */

struct monitor_sample;

struct plot_mark {
	double t_s;		/* on the time axis */
	char label[48];
};

/*
 * `lazypv run --plot`: memory still to clean and memory in use (MiB)
 * against seconds since @t0_ns, a dashed line and a label per mark, into
 * @out (PNG or SVG by its extension).  Data and script go to a private
 * temporary directory, removed afterwards (and by monitor_set_tmpdir's
 * exit path if @mon is not NULL).  0, or -ENOENT (no gnuplot) / -errno
 * with a message in @err.
 */
struct monitor;
int plot_memory_timeline(const char *out, const char *title,
			 const struct monitor_sample *s, size_t nr,
			 uint64_t t0_ns, const struct plot_mark *marks,
			 size_t nr_marks, struct monitor *mon, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/* One mode's memory still to clean after a shutdown, for plot_bench. */
struct plot_pending {
	double *t_s;		/* seconds since the shutdown request */
	double *mib;
	size_t nr;
};

/*
 * `lazypv bench --plot DIR`, one firmware profile: DIR/latency-P.png
 * (restart and exit latency in ms against guest size in MiB, a line per
 * mode and figure, log scales) and DIR/pending-P.png (memory still to
 * clean against time after a shutdown, a line per mode), their data
 * (latency-P.dat, pending-P-MODE.dat) and script (bench-P.gp) beside
 * them.  @restart_ms and @exit_ms are [mode][size] (nr_modes x
 * nr_sizes), a mode not measured has @modes[m] NULL.  0 or -errno with a
 * message in @err.
 */
int plot_bench(const char *dir, const char *profile, const uint64_t *sizes,
	       unsigned int nr_sizes, const char *const *modes,
	       unsigned int nr_modes, const double *restart_ms,
	       const double *exit_ms, const struct plot_pending *pending,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

#endif /* LAZYPV_TOOLS_PLOT_H */
