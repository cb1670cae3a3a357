// SPDX-License-Identifier: MIT
/*
 * plot.c - running gnuplot for `--plot` (plot.h).  Called from one thread
 * at a time; gnuplot runs as a child process with its stderr in a file of
 * the caller's temporary directory.
 */
#include "plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/lib.h"
#include "monitor.h"

extern char **environ;

bool plot_have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)n, n ? path : ".");
		if (!access(buf, X_OK))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static bool plot_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcasecmp(s + n - m, suffix);
}

const char *plot_terminal(const char *path)
{
	if (plot_ends_with(path, ".png"))
		return "pngcairo size 1280,720 enhanced font 'sans,11'";
	if (plot_ends_with(path, ".svg"))
		return "svg size 1280,720 enhanced font 'sans,11' background rgb 'white'";
	return NULL;
}

bool plot_path_ok(const char *path)
{
	return !strpbrk(path, "'\n");
}

int plot_tmpdir_create(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, len, "%s/lazypv-plot-XXXXXX", tmp) >= len)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir)) {
		int r = -errno;

		dir[0] = 0;
		return r;
	}
	return 0;
}

void plot_tmpdir_remove(const char *dir)
{
	struct dirent *de;
	char path[4096];
	DIR *d;

	if (!dir || !dir[0])
		return;
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

FILE *plot_file_open(const char *dir, const char *name, char *path,
		     size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return fopen(path, "w");
}

int plot_gnuplot_run(const char *script, char *err, size_t errlen)
{
	char errpath[4096], line[256] = "";
	posix_spawn_file_actions_t fa;
	char *argv[] = { "gnuplot", (char *)script, NULL };
	int r, status;
	pid_t pid;
	FILE *f;

	if (!plot_have_gnuplot()) {
		lpv_seterr(err, errlen, "gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
		return -ENOENT;
	}
	snprintf(errpath, sizeof(errpath), "%s.err", script);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errpath,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		lpv_seterr(err, errlen, "cannot run gnuplot: %s", strerror(r));
		unlink(errpath);
		return r == ENOENT ? -ENOENT : -EIO;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	f = fopen(errpath, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
		line[strcspn(line, "\n")] = 0;
	}
	unlink(errpath);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (line[0])
			lpv_seterr(err, errlen, "gnuplot failed: %s", line);
		else
			lpv_seterr(err, errlen, "gnuplot failed (status %d)",
				   status);
		return -EIO;
	}
	return 0;
}

/* ---- the pictures ---- */

static double plot_mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* Escape a title for a double-quoted gnuplot string (enhanced text too). */
static void plot_put_title(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '_' || *s == '^' || *s == '@' || *s == '&' ||
		    *s == '{' || *s == '}')
			fputs("\\\\", f);
		if (*s != '\n')
			fputc(*s, f);
	}
	fputc('"', f);
}

int plot_memory_timeline(const char *out, const char *title,
			 const struct monitor_sample *s, size_t nr,
			 uint64_t t0_ns, const struct plot_mark *marks,
			 size_t nr_marks, struct monitor *mon, char *err,
			 size_t errlen)
{
	char dir[4096], data[4200], script[4200];
	FILE *f;
	int r;

	r = plot_tmpdir_create(dir, sizeof(dir));
	if (r) {
		lpv_seterr(err, errlen, "temporary directory: %s", strerror(-r));
		return r;
	}
	if (mon)
		monitor_set_tmpdir(mon, dir);
	r = -EIO;
	f = plot_file_open(dir, "memory.dat", data, sizeof(data));
	if (!f)
		goto fail_io;
	fprintf(f, "# seconds  still_to_clean_MiB  in_use_MiB\n");
	for (size_t i = 0; i < nr; i++)
		fprintf(f, "%.6f %.3f %.3f\n",
			s[i].t_ns >= t0_ns ? (double)(s[i].t_ns - t0_ns) / 1e9 : 0,
			plot_mib(s[i].to_clean_bytes),
			plot_mib(s[i].in_use_bytes));
	if (!nr)	/* gnuplot refuses an empty file */
		fprintf(f, "0 0 0\n");
	if (fclose(f))
		goto fail_io;
	f = plot_file_open(dir, "memory.gp", script, sizeof(script));
	if (!f)
		goto fail_io;
	fprintf(f, "set terminal %s\n", plot_terminal(out));
	fprintf(f, "set output '%s'\n", out);
	fprintf(f, "set title ");
	plot_put_title(f, title);
	fprintf(f, "\nset xlabel 'time since the VMM started (s)'\n"
		   "set ylabel 'memory (MiB)'\n"
		   "set grid\n"
		   "set key outside bottom center horizontal\n"
		   "set yrange [0:*]\n"
		   "set offsets 0, 0, graph 0.22, 0\n");
	for (size_t i = 0, kept = 0; i < nr_marks; i = kept) {
		char label[160];
		double span = nr ? (double)(s[nr - 1].t_ns - t0_ns) / 1e9 : 0;

		/* Marks closer than 2 % of the time axis share one label. */
		snprintf(label, sizeof(label), "%s", marks[i].label);
		for (kept = i + 1; kept < nr_marks &&
		     marks[kept].t_s - marks[i].t_s < 0.02 * span; kept++)
			if (!strstr(label, marks[kept].label) &&
			    strlen(label) + strlen(marks[kept].label) + 3 < sizeof(label))
				strcat(strcat(label, ", "), marks[kept].label);
		fprintf(f, "set arrow from %.6f, graph 0 to %.6f, graph 1 nohead dt 2 lc rgb '#888888'\n",
			marks[i].t_s, marks[i].t_s);
		fprintf(f, "set label ");
		plot_put_title(f, label);
		fprintf(f, " at %.6f, graph 0.99 rotate by 90 right offset -0.6,0 font ',9' tc rgb '#555555'\n",
			marks[i].t_s);
	}
	fprintf(f, "plot '%s' using 1:3 with lines lw 2 lc rgb '#1f77b4' title 'memory in use (charged to the VMM)', \\\n"
		   "     '%s' using 1:2 with lines lw 2 lc rgb '#d62728' title 'memory still to clean'\n",
		data, data);
	if (fclose(f))
		goto fail_io;
	r = plot_gnuplot_run(script, err, errlen);
	goto out;
fail_io:
	r = -errno;
	lpv_seterr(err, errlen, "writing the plot's data in %s: %s", dir,
		   strerror(-r));
out:
	if (mon)
		monitor_set_tmpdir(mon, NULL);
	plot_tmpdir_remove(dir);
	return r;
}

int plot_bench(const char *dir, const char *profile, const uint64_t *sizes,
	       unsigned int nr_sizes, const char *const *modes,
	       unsigned int nr_modes, const double *restart_ms,
	       const double *exit_ms, const struct plot_pending *pending,
	       char *err, size_t errlen)
{
	static const char *const colors[] = { "#1f77b4", "#ff7f0e", "#2ca02c",
					       "#d62728", "#9467bd", "#8c564b" };
	char path[4200], lat[4200], script[4200], name[256];
	unsigned int col = 0, nlines = 0;
	FILE *f;
	int r;

	if (mkdir(dir, 0777) && errno != EEXIST) {
		r = -errno;
		lpv_seterr(err, errlen, "cannot make %s: %s", dir, strerror(-r));
		return r;
	}
	snprintf(name, sizeof(name), "latency-%s.dat", profile);
	f = plot_file_open(dir, name, lat, sizeof(lat));
	if (!f)
		goto fail_io;
	fprintf(f, "# guest_MiB");
	for (unsigned int m = 0; m < nr_modes; m++)
		if (modes[m])
			fprintf(f, "  %s_restart_ms  %s_exit_ms", modes[m], modes[m]);
	fprintf(f, "\n");
	for (unsigned int s = 0; s < nr_sizes; s++) {
		fprintf(f, "%.0f", (double)sizes[s] / (1024.0 * 1024.0));
		for (unsigned int m = 0; m < nr_modes; m++) {
			double rs = restart_ms[m * nr_sizes + s];
			double ex = exit_ms[m * nr_sizes + s];

			if (!modes[m])
				continue;
			/* "NaN": no figure (log scales refuse 0) */
			if (rs > 0)
				fprintf(f, " %.3f", rs);
			else
				fprintf(f, " NaN");
			if (ex > 0)
				fprintf(f, " %.3f", ex);
			else
				fprintf(f, " NaN");
		}
		fprintf(f, "\n");
	}
	if (fclose(f))
		goto fail_io;
	for (unsigned int m = 0; m < nr_modes; m++) {
		if (!modes[m])
			continue;
		snprintf(name, sizeof(name), "pending-%s-%s.dat", profile,
			 modes[m]);
		f = plot_file_open(dir, name, path, sizeof(path));
		if (!f)
			goto fail_io;
		fprintf(f, "# seconds_after_shutdown_request  still_to_clean_MiB\n");
		for (size_t i = 0; i < pending[m].nr; i++)
			fprintf(f, "%.6f %.3f\n", pending[m].t_s[i],
				pending[m].mib[i]);
		if (!pending[m].nr)
			fprintf(f, "0 0\n");
		if (fclose(f))
			goto fail_io;
	}
	snprintf(name, sizeof(name), "bench-%s.gp", profile);
	f = plot_file_open(dir, name, script, sizeof(script));
	if (!f)
		goto fail_io;
	fprintf(f, "set terminal %s\n", plot_terminal("x.png"));
	fprintf(f, "set output '%s/latency-%s.png'\n", dir, profile);
	fprintf(f, "set title ");
	snprintf(name, sizeof(name), "lazypv bench, %s firmware profile: restart and exit latency (medians)", profile);
	plot_put_title(f, name);
	fprintf(f, "\nset xlabel 'guest memory (MiB, log scale)'\n"
		   "set ylabel 'latency (ms, log scale)'\n"
		   "set logscale xy\nset grid\nset key outside right top\n"
		   "set datafile missing NaN\n");
	if (nr_sizes)
		fprintf(f, "set xrange [%.3f:%.3f]\n",
			(double)sizes[0] / (1024.0 * 1024.0) / 1.5,
			(double)sizes[nr_sizes - 1] / (1024.0 * 1024.0) * 1.5);
	fprintf(f, "set xtics (");
	for (unsigned int s = 0; s < nr_sizes; s++)
		fprintf(f, "%s%.0f", s ? ", " : "",
			(double)sizes[s] / (1024.0 * 1024.0));
	fprintf(f, ")\nplot ");
	for (unsigned int m = 0, k = 0; m < nr_modes; m++, k += 2) {
		const char *c = colors[col++ % ARRAY_SIZE(colors)];

		if (!modes[m]) {
			k -= 2;
			col--;
			continue;
		}
		fprintf(f, "%s'%s' using 1:%u with linespoints lw 2 pt 7 lc rgb '%s' title '%s restart', \\\n"
			   "     '%s' using 1:%u with linespoints lw 2 pt 5 dt 2 lc rgb '%s' title '%s exit'",
			nlines++ ? ", \\\n     " : "", lat, k + 2, c, modes[m],
			lat, k + 3, c, modes[m]);
	}
	fprintf(f, "\n\nset output '%s/pending-%s.png'\n", dir, profile);
	fprintf(f, "unset logscale\nunset xtics\nset xtics\nset xrange [0:*]\nset yrange [0:*]\n");
	fprintf(f, "set title ");
	snprintf(name, sizeof(name), "lazypv bench, %s firmware profile: memory still to clean after the shutdown of a %.0f MiB guest",
		 profile, nr_sizes ? (double)sizes[nr_sizes - 1] / (1024.0 * 1024.0) : 0.0);
	plot_put_title(f, name);
	fprintf(f, "\nset xlabel 'time since the shutdown request (s)'\n"
		   "set ylabel 'memory still to clean (MiB)'\nplot ");
	col = 0;
	nlines = 0;
	for (unsigned int m = 0; m < nr_modes; m++) {
		if (!modes[m])
			continue;
		fprintf(f, "%s'%s/pending-%s-%s.dat' using 1:2 with lines lw 2 lc rgb '%s' title '%s'",
			nlines++ ? ", \\\n     " : "", dir, profile, modes[m],
			colors[col++ % ARRAY_SIZE(colors)], modes[m]);
	}
	fprintf(f, "\n");
	if (fclose(f))
		goto fail_io;
	return plot_gnuplot_run(script, err, errlen);
fail_io:
	r = -errno;
	lpv_seterr(err, errlen, "writing in %s: %s", dir, strerror(-r));
	return r;
}
