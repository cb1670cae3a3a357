// SPDX-License-Identifier: MIT
/*
 * cleanup_events.c - the cleanup progress events of cleanup_events.h:
 * episodes of memory being cleaned, found in the monitor's samples, and
 * their rate and ETA.  ce->lock protects the whole state; an event is
 * printed under it and under the FILE's lock.
 */
#include "cleanup_events.h"

#include <jansson.h>

#include "lazypv/lazypv.h"
#include "tools.h"

void cleanup_events_init(struct cleanup_events *ce, FILE *f)
{
	*ce = (struct cleanup_events){ .f = f };
	pthread_mutex_init(&ce->lock, NULL);
}

static void cleanup_events_emit(struct cleanup_events *ce,
				const struct lpv_progress *p, bool done)
{
	uint64_t el = p->t_ns > ce->start_ns ? p->t_ns - ce->start_ns : 0;
	double rate = el ? (double)ce->done_bytes * 1e9 / (double)el : 0;
	json_t *eta = rate > 0 ?
		json_integer((json_int_t)((double)p->pending_bytes * 1e3 / rate)) :
		json_null();
	json_t *j = json_pack("{s:s, s:I, s:b, s:I, s:I, s:f, s:o, s:b}",
			      "event", "cleanup",
			      "t_ns", (json_int_t)p->t_ns,
			      "ending", (int)p->ending,
			      "to_clean_bytes", (json_int_t)p->pending_bytes,
			      "in_use_bytes", (json_int_t)p->in_use_bytes,
			      "rate_bytes_per_s", rate,
			      "eta_ms", eta,
			      "done", (int)done);

	flockfile(ce->f);
	tool_json_print(ce->f, j);
	fflush(ce->f);
	funlockfile(ce->f);
	ce->emit_ns = p->t_ns;
	if (ce->peak_bytes)
		ce->emit_tenth = (unsigned int)((ce->peak_bytes - p->pending_bytes) *
						10 / ce->peak_bytes);
}

void cleanup_events_sample(struct cleanup_events *ce,
			   const struct lpv_progress *p)
{
	uint64_t now = p->pending_bytes;

	pthread_mutex_lock(&ce->lock);
	if (ce->closed)
		goto out;
	if (!ce->open) {
		if (!now)
			goto out;
		ce->open = true;
		ce->start_ns = p->t_ns;
		ce->prev_bytes = ce->peak_bytes = now;
		ce->done_bytes = 0;
		cleanup_events_emit(ce, p, false);
		goto out;
	}
	if (now < ce->prev_bytes)
		ce->done_bytes += ce->prev_bytes - now;
	ce->prev_bytes = now;
	if (now > ce->peak_bytes)
		ce->peak_bytes = now;
	if (!now) {
		cleanup_events_emit(ce, p, true);
		ce->open = false;
		goto out;
	}
	if (p->t_ns - ce->emit_ns >= CLEANUP_EVENTS_PERIOD_NS ||
	    (ce->peak_bytes - now) * 10 / ce->peak_bytes > ce->emit_tenth)
		cleanup_events_emit(ce, p, false);
out:
	pthread_mutex_unlock(&ce->lock);
}

void cleanup_events_finish(struct cleanup_events *ce, struct lpv_vm *vm)
{
	struct lpv_progress p;
	bool open;

	pthread_mutex_lock(&ce->lock);
	open = ce->open && !ce->closed;
	pthread_mutex_unlock(&ce->lock);
	if (open) {
		if (!lpv_vm_progress(vm, &p))
			cleanup_events_sample(ce, &p);
	}
	pthread_mutex_lock(&ce->lock);
	ce->closed = true;
	pthread_mutex_unlock(&ce->lock);
}
