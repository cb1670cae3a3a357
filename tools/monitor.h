/* SPDX-License-Identifier: MIT */
/*
 * monitor.h - what `lazypv run` and `lazypv bench` do beside their work
 * (tools/ only): one thread that takes SIGINT/SIGTERM (blocked everywhere,
 * read from a signalfd -- no work in a handler), samples the VM being
 * watched (memory still to clean, memory in use) into a series for
 * --plot, hands each sample to the command (on_sample: run's cleanup
 * events), and draws the progress line.
 *
 * Signals: the first one is handed to the command's on_signal callback
 * (from the monitor thread), which asks the work to stop -- shut the
 * guest down, run no more -- and the command ends normally with a
 * partial summary and exit status 128 + signal.  A second one abandons
 * what is left: on_abandon prints what is given up, the registered
 * temporary directory is removed and the process exits 128 + signal at
 * once.
 */
#ifndef LAZYPV_TOOLS_MONITOR_H
#define LAZYPV_TOOLS_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lpv_vm;
struct lpv_progress;
struct monitor;

struct monitor_sample {
	uint64_t t_ns;			/* lpv_progress.t_ns */
	uint64_t to_clean_bytes;	/* lpv_vm_progress(): pending_bytes */
	uint64_t in_use_bytes;
};

struct monitor_config {
	const char *cmd;		/* "run": the messages' "lazypv run: " */
	bool quiet;			/* no progress line */
	bool series;			/* keep the samples (--plot) */
	/* Called once, from the monitor thread, at the first signal. */
	void (*on_signal)(void *ctx, int signo);
	/* Called from the monitor thread at the second, before the exit. */
	void (*on_abandon)(void *ctx, int signo);
	/* Called from the monitor thread with each sample of the watched
	 * VM (every MONITOR_PERIOD_MS), outside the monitor's lock. */
	void (*on_sample)(void *ctx, const struct lpv_progress *p);
	void *ctx;
};

/*
 * Block SIGINT and SIGTERM in the calling thread, so in every thread it
 * creates afterwards: call before anything starts threads.  0 or -errno.
 */
int monitor_block_signals(void) __attribute__((warn_unused_result));
int monitor_start(const struct monitor_config *cfg,
		  struct monitor **out) __attribute__((warn_unused_result));
/* Stop the thread and free (the samples go with it). */
void monitor_stop(struct monitor *m);

/* Watch @vm (NULL: none) under @label for the progress line; call with
 * NULL before lpv_vm_destroy().  The series keeps going across VMs. */
void monitor_watch(struct monitor *m, struct lpv_vm *vm, const char *label);
/* A counted step of the command's own (bench: run k of n), shown when no
 * cleanup is in progress. */
void monitor_step(struct monitor *m, const char *label, uint64_t done,
		  uint64_t total);
/*
 * host_config.populate_progress with the monitor as ctx: "populating host
 * memory", done/total in bytes, on the progress line (nothing on a pipe
 * or with quiet); the step is cleared when done reaches total.
 */
void monitor_populate_progress(void *monitor, uint64_t done, uint64_t total);
/* A line that stays on stderr (printf-style, with its newline) only
 * where the progress line is drawn: a terminal, not quiet; else nothing. */
void monitor_note(struct monitor *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The first signal taken, or 0. */
int monitor_signal(struct monitor *m);
/* A directory plot_tmpdir_remove() must remove if the process is ended
 * by a second signal ("" or NULL: none). */
void monitor_set_tmpdir(struct monitor *m, const char *dir);

/* The samples so far (copied into a malloc'd array; free() it). */
struct monitor_sample *monitor_samples(struct monitor *m, size_t *nr);
/* Drop the samples so far. */
void monitor_samples_clear(struct monitor *m);

#endif /* LAZYPV_TOOLS_MONITOR_H */
