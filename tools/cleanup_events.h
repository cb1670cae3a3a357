/* SPDX-License-Identifier: MIT */
/*
 * cleanup_events.h - `lazypv run --json`'s cleanup progress events (tools/
 * only): fed the monitor's samples of lpv_vm_progress(), it prints
 * one JSON line per step while memory is being cleaned -- a background
 * cleanup after a reboot, the memory to give back after a shutdown:
 *
 *   {"event":"cleanup","t_ns":..,"ending":false,"to_clean_bytes":..,
 *    "in_use_bytes":..,"rate_bytes_per_s":..,
 *    "eta_ms":..|null,"done":false}
 *
 * An episode starts with the first sample that has something to clean
 * and ends (one event with "done":true, to_clean_bytes 0) with the first
 * that has nothing, or with the last sample cleanup_events_finish()
 * takes.  In between an event every 100 ms or each time
 * another tenth of the episode's largest to_clean_bytes is done.  The
 * rate is the episode's average: the decreases of to_clean_bytes summed
 * (a new job adding work does not count as negative progress) over the
 * time since the episode began; eta_ms is to_clean_bytes at that rate,
 * null while the rate is 0.
 *
 * Thread safety: the state is under its own lock; each event is printed
 * under the output FILE's lock (flockfile), so callers that print other
 * lines to the same FILE under flockfile never see them interleaved.
 */
#ifndef LAZYPV_TOOLS_CLEANUP_EVENTS_H
#define LAZYPV_TOOLS_CLEANUP_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct lpv_progress;
struct lpv_vm;

#define CLEANUP_EVENTS_PERIOD_NS (100ULL * 1000 * 1000)

struct cleanup_events {
	pthread_mutex_t lock;
	FILE *f;
	bool open;		/* an episode runs */
	bool closed;		/* cleanup_events_close(): no more events */
	uint64_t start_ns;	/* the episode's first sample */
	uint64_t prev_bytes;	/* the last sample's to_clean_bytes */
	uint64_t done_bytes;	/* decreases summed over the episode */
	uint64_t peak_bytes;	/* largest to_clean_bytes of the episode */
	uint64_t emit_ns;	/* the last event */
	unsigned int emit_tenth;	/* progress tenths at the last event */
};

void cleanup_events_init(struct cleanup_events *ce, FILE *f);
/* One sample (any thread; the monitor's). */
void cleanup_events_sample(struct cleanup_events *ce,
			   const struct lpv_progress *p);
/* No more events (before the command prints its summary): if an
 * episode is open, one last sample of @vm first -- after
 * lpv_vm_wait_cleanup() its "done" event, the memory being back. */
void cleanup_events_finish(struct cleanup_events *ce, struct lpv_vm *vm);

#endif
