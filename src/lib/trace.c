// SPDX-License-Identifier: MIT
/*
 * trace.c - the trace-event buffer behind trace.h and its Chrome JSON
 * writer.
 *
 * One buffer for the whole process, grown as used up to the cap given to
 * trace_start(); trace_lock protects it, the track and process names and
 * the drop count.  Any thread may
 * emit.  A thread's UVC batch state (struct trace_batch_state) is written
 * by its thread only, under the state's own lock, which trace_stop() also
 * takes to flush it; a thread's exit unlinks, flushes and frees its state
 * (a pthread key destructor).  Lock order: trace_batch_list_lock, a batch
 * state's lock, trace_lock.
 */
#include "trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct trace_event {
	uint64_t ts_ns, dur_ns;
	const char *name;
	struct trace_arg args[TRACE_MAX_ARGS];
	uint32_t pid, tid;
	char ph;
};

struct trace_name {
	uint32_t id;		/* tid (thread/track names) or pid */
	char name[64];
};

struct trace_batch_state {
	struct lpv_mutex lock;	/* the owner's writes vs trace_stop() */
	const char *name;	/* NULL: no open batch */
	uint32_t pid, tid;
	uint64_t t0_ns, t1_ns, calls;
	struct trace_batch_state *next;	/* trace_batch_list_lock */
};

bool trace_enabled;

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static struct trace_event *trace_buf;
static size_t trace_nr, trace_cap, trace_max;
static uint64_t trace_nr_dropped;
static uint64_t trace_t0_ns, trace_stop_ns;
static struct trace_name *trace_threads, *trace_procs;
static size_t trace_nr_threads, trace_nr_procs;
/* Held across trace_stop()'s walk and a state's unlinking at its
 * thread's exit, so the walk never meets a freed state.  Taken before a
 * state's lock. */
static pthread_mutex_t trace_batch_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct trace_batch_state *trace_batches;	/* trace_batch_list_lock */

static uint32_t trace_next_tid = 1;
static _Thread_local uint32_t trace_self_tid;
static _Thread_local struct trace_batch_state *trace_self_batch;
static pthread_key_t trace_batch_key;
static pthread_once_t trace_batch_once = PTHREAD_ONCE_INIT;

/* ---- the buffer ---- */

/* Caller holds trace_lock. */
static struct trace_event *trace_slot_locked(void)
{
	if (!trace_enabled)
		return NULL;
	if (trace_nr == trace_cap) {
		size_t cap = trace_cap ? 2 * trace_cap : 4096;
		struct trace_event *n;

		if (cap > trace_max)
			cap = trace_max;
		n = cap > trace_cap ? realloc(trace_buf, cap * sizeof(*n)) : NULL;
		if (!n) {
			trace_nr_dropped++;
			return NULL;
		}
		trace_buf = n;
		trace_cap = cap;
	}
	return &trace_buf[trace_nr++];
}

void trace_record(char ph, uint32_t pid, uint32_t tid, const char *name,
		  uint64_t ts_ns, uint64_t dur_ns, const struct trace_arg *args)
{
	struct trace_event *ev;

	if (!ts_ns)
		ts_ns = lpv_now_ns();
	pthread_mutex_lock(&trace_lock);
	ev = trace_slot_locked();
	if (ev) {
		*ev = (struct trace_event){ .ts_ns = ts_ns, .dur_ns = dur_ns,
					    .name = name, .pid = pid,
					    .tid = tid, .ph = ph };
		if (args)
			memcpy(ev->args, args, sizeof(ev->args));
	}
	pthread_mutex_unlock(&trace_lock);
}

int trace_start(size_t max_events)
{
	int ret = 0;

	pthread_mutex_lock(&trace_lock);
	if (trace_enabled) {
		ret = -EBUSY;
		goto out;
	}
	free(trace_buf);
	trace_buf = NULL;
	trace_nr = trace_cap = 0;
	trace_max = max_events ? max_events : TRACE_DEFAULT_EVENTS;
	trace_nr_dropped = 0;
	trace_t0_ns = lpv_now_ns();
	trace_stop_ns = 0;
	__atomic_store_n(&trace_enabled, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&trace_lock);
	return ret;
}

/* Write @b's open batch as a complete slice.  Caller holds b->lock. */
static void trace_batch_flush_locked(struct trace_batch_state *b)
{
	if (!b->name)
		return;
	trace_record('X', b->pid, b->tid, b->name, b->t0_ns,
		     b->t1_ns - b->t0_ns,
		     (struct trace_arg[TRACE_MAX_ARGS]){ { "calls", b->calls } });
	b->name = NULL;
}

void trace_stop(void)
{
	pthread_mutex_lock(&trace_batch_list_lock);
	for (struct trace_batch_state *b = trace_batches; b; b = b->next) {
		lpv_mutex_lock(&b->lock);
		trace_batch_flush_locked(b);
		lpv_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&trace_batch_list_lock);
	pthread_mutex_lock(&trace_lock);
	if (trace_enabled)
		trace_stop_ns = lpv_now_ns();
	__atomic_store_n(&trace_enabled, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&trace_lock);
}

void trace_reset(void)
{
	pthread_mutex_lock(&trace_lock);
	free(trace_buf);
	trace_buf = NULL;
	trace_nr = trace_cap = 0;
	trace_nr_dropped = 0;
	free(trace_threads);
	free(trace_procs);
	trace_threads = trace_procs = NULL;
	trace_nr_threads = trace_nr_procs = 0;
	pthread_mutex_unlock(&trace_lock);
}

size_t trace_recorded(void)
{
	size_t n;

	pthread_mutex_lock(&trace_lock);
	n = trace_nr;
	pthread_mutex_unlock(&trace_lock);
	return n;
}

uint64_t trace_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&trace_lock);
	n = trace_nr_dropped;
	pthread_mutex_unlock(&trace_lock);
	return n;
}

/* ---- names ---- */

/* Set the name of @id in @tab (caller holds trace_lock); a failed
 * allocation leaves the id unnamed. */
static void trace_name_set_locked(struct trace_name **tab, size_t *nr,
				  uint32_t id, const char *fmt, va_list ap)
{
	struct trace_name *t = NULL, *n;

	for (size_t i = 0; i < *nr; i++)
		if ((*tab)[i].id == id)
			t = &(*tab)[i];
	if (!t) {
		n = realloc(*tab, (*nr + 1) * sizeof(*n));
		if (!n)
			return;
		*tab = n;
		t = &n[(*nr)++];
		t->id = id;
	}
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
}

static const char *trace_name_find(const struct trace_name *tab, size_t nr,
				   uint32_t id)
{
	for (size_t i = 0; i < nr; i++)
		if (tab[i].id == id)
			return tab[i].name;
	return NULL;
}

uint32_t trace_tid(void)
{
	if (!trace_self_tid)
		trace_self_tid = __atomic_fetch_add(&trace_next_tid, 1,
						    __ATOMIC_RELAXED);
	return trace_self_tid;
}

void trace_thread_name(const char *fmt, ...)
{
	uint32_t tid = trace_tid();
	va_list ap;

	if (!trace_on())
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&trace_lock);
	trace_name_set_locked(&trace_threads, &trace_nr_threads, tid, fmt, ap);
	pthread_mutex_unlock(&trace_lock);
	va_end(ap);
}

uint32_t trace_track_new(const char *fmt, ...)
{
	uint32_t tid = __atomic_fetch_add(&trace_next_tid, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (!trace_on())
		return tid;
	va_start(ap, fmt);
	pthread_mutex_lock(&trace_lock);
	trace_name_set_locked(&trace_threads, &trace_nr_threads, tid, fmt, ap);
	pthread_mutex_unlock(&trace_lock);
	va_end(ap);
	return tid;
}

void trace_process_name(uint32_t pid, const char *fmt, ...)
{
	va_list ap;

	if (!trace_on())
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&trace_lock);
	trace_name_set_locked(&trace_procs, &trace_nr_procs, pid, fmt, ap);
	pthread_mutex_unlock(&trace_lock);
	va_end(ap);
}

/* ---- batches and spans ---- */

static void trace_batch_exit(void *arg)
{
	struct trace_batch_state *b = arg, **pp;

	pthread_mutex_lock(&trace_batch_list_lock);
	for (pp = &trace_batches; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	pthread_mutex_unlock(&trace_batch_list_lock);
	lpv_mutex_lock(&b->lock);
	trace_batch_flush_locked(b);
	lpv_mutex_unlock(&b->lock);
	lpv_mutex_deinit(&b->lock);
	free(b);
}

static void trace_batch_key_init(void)
{
	BUG_ON(pthread_key_create(&trace_batch_key, trace_batch_exit));
}

static struct trace_batch_state *trace_batch_self(void)
{
	struct trace_batch_state *b = trace_self_batch;

	if (b)
		return b;
	pthread_once(&trace_batch_once, trace_batch_key_init);
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	lpv_mutex_init(&b->lock);
	b->tid = trace_tid();
	if (pthread_setspecific(trace_batch_key, b)) {
		lpv_mutex_deinit(&b->lock);
		free(b);
		return NULL;
	}
	pthread_mutex_lock(&trace_batch_list_lock);
	b->next = trace_batches;
	trace_batches = b;
	pthread_mutex_unlock(&trace_batch_list_lock);
	trace_self_batch = b;
	return b;
}

void trace_batch_record(uint32_t pid, const char *name, uint64_t t0_ns,
			uint64_t t1_ns)
{
	struct trace_batch_state *b = trace_batch_self();

	if (!b)
		return;
	lpv_mutex_lock(&b->lock);
	if (b->name && (b->name != name || b->pid != pid ||
			t0_ns > b->t1_ns + TRACE_BATCH_GAP_NS))
		trace_batch_flush_locked(b);
	if (!b->name) {
		b->name = name;
		b->pid = pid;
		b->t0_ns = t0_ns;
		b->calls = 0;
	}
	b->t1_ns = t1_ns > b->t1_ns || b->calls == 0 ? t1_ns : b->t1_ns;
	b->calls++;
	lpv_mutex_unlock(&b->lock);
}

void trace_span_flush(struct trace_span *s)
{
	uint64_t now;

	if (!trace_on() || !s->units)
		return;
	now = lpv_now_ns();
	if (!s->t0_ns)
		s->t0_ns = now;
	trace_record('X', s->pid, s->tid, s->name, s->t0_ns, now - s->t0_ns,
		     (struct trace_arg[TRACE_MAX_ARGS]){ { s->key, s->units } });
	s->t0_ns = now;
	s->units = 0;
}

/* ---- the Chrome JSON writer ---- */

static int trace_event_cmp(const void *a, const void *b)
{
	const struct trace_event *x = *(const struct trace_event *const *)a;
	const struct trace_event *y = *(const struct trace_event *const *)b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	/* Equal times: keep the recording order (stable). */
	return x < y ? -1 : x > y;
}

static double trace_us(uint64_t ns)
{
	return ns >= trace_t0_ns ? (double)(ns - trace_t0_ns) / 1e3 : 0.0;
}

/* One event object, dumped; 0 or -ENOMEM/-EIO. */
static int trace_dump(FILE *f, bool *first, json_t *obj)
{
	int ret = 0;

	if (!obj)
		return -ENOMEM;
	if (!*first && fputs(",\n", f) < 0)
		ret = -EIO;
	*first = false;
	if (!ret && json_dumpf(obj, f, JSON_COMPACT))
		ret = -EIO;
	json_decref(obj);
	return ret;
}

static json_t *trace_event_json(const struct trace_event *ev, char ph,
				uint64_t ts_ns)
{
	json_t *o = json_object(), *args = json_object();
	char phs[2] = { ph, 0 };

	if (!o || !args)
		goto fail;
	if (json_object_set_new(o, "name", json_string(ev->name)) ||
	    json_object_set_new(o, "ph", json_string(phs)) ||
	    json_object_set_new(o, "ts", json_real(trace_us(ts_ns))) ||
	    json_object_set_new(o, "pid", json_integer(ev->pid)) ||
	    json_object_set_new(o, "tid", json_integer(ev->tid)))
		goto fail;
	if (ph == 'X' &&
	    json_object_set_new(o, "dur", json_real((double)ev->dur_ns / 1e3)))
		goto fail;
	if (ph == 'i' && json_object_set_new(o, "s", json_string("t")))
		goto fail;
	for (int i = 0; i < TRACE_MAX_ARGS && ph != 'E'; i++)
		if (ev->args[i].key &&
		    json_object_set_new(args, ev->args[i].key,
					json_integer((json_int_t)ev->args[i].val)))
			goto fail;
	if (json_object_size(args)) {
		if (json_object_set_new(o, "args", args))
			goto fail_o;
	} else {
		json_decref(args);
	}
	return o;
fail:
	json_decref(args);
fail_o:
	json_decref(o);
	return NULL;
}

static json_t *trace_meta_json(const char *what, uint32_t pid, uint32_t tid,
			       const char *name)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:{s:s}}", "name", what,
			 "ph", "M", "pid", (json_int_t)pid, "tid",
			 (json_int_t)tid, "args", "name", name);
}

static const char *trace_default_proc(uint32_t pid, char *buf, size_t len)
{
	if (pid == TRACE_PID_KERNEL)
		return "host kernel (kvm, mm)";
	if (pid == TRACE_PID_UV)
		return "Ultravisor (UVC batches)";
	snprintf(buf, len, "pid %u", pid);
	return buf;
}

/* A tid's open slices (the writer's balance of B and E). */
struct trace_open {
	uint32_t pid, tid;
	size_t depth;
	const struct trace_event *top[64];	/* deeper ones are counted */
};

/* @ev's track in *@o (added if new); NULL if out of memory. */
static struct trace_open *trace_open_find(struct trace_open **o, size_t *nr,
					  const struct trace_event *ev)
{
	struct trace_open *n;

	for (size_t i = 0; i < *nr; i++)
		if ((*o)[i].pid == ev->pid && (*o)[i].tid == ev->tid)
			return &(*o)[i];
	n = realloc(*o, (*nr + 1) * sizeof(*n));
	if (!n)
		return NULL;
	*o = n;
	n[*nr] = (struct trace_open){ .pid = ev->pid, .tid = ev->tid };
	return &n[(*nr)++];
}

/* Caller holds trace_lock. */
static int trace_write_locked(FILE *f)
{
	const struct trace_event **sorted = NULL;
	struct trace_open *open = NULL;
	size_t nr_open = 0;
	uint64_t end_ns = trace_stop_ns ? trace_stop_ns : lpv_now_ns();
	bool first = true;
	json_t *other;
	char buf[32];
	int ret = -ENOMEM;

	sorted = malloc((trace_nr ? trace_nr : 1) * sizeof(*sorted));
	if (!sorted)
		goto out;
	for (size_t i = 0; i < trace_nr; i++)
		sorted[i] = &trace_buf[i];
	qsort(sorted, trace_nr, sizeof(*sorted), trace_event_cmp);

	ret = -EIO;
	if (fputs("{\"traceEvents\":[\n", f) < 0)
		goto out;
	/* Metadata: every pid and (pid, tid) that has events. */
	for (size_t i = 0; i < trace_nr; i++) {
		const struct trace_event *ev = sorted[i];
		struct trace_open *t;
		bool seen_pid = false;
		const char *name;

		for (size_t j = 0; j < nr_open && !seen_pid; j++)
			seen_pid = open[j].pid == ev->pid;
		if (!seen_pid) {
			name = trace_name_find(trace_procs, trace_nr_procs,
					       ev->pid);
			if (!name)
				name = trace_default_proc(ev->pid, buf,
							  sizeof(buf));
			ret = trace_dump(f, &first, trace_meta_json(
				"process_name", ev->pid, 0, name));
			if (ret)
				goto out;
		}
		if (ev->ph == 'C')
			continue;
		for (size_t j = 0; j < nr_open; j++)
			if (open[j].pid == ev->pid && open[j].tid == ev->tid)
				goto next_meta;
		t = trace_open_find(&open, &nr_open, ev);
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		name = trace_name_find(trace_threads, trace_nr_threads, ev->tid);
		if (!name) {
			snprintf(buf, sizeof(buf), "thread %u", ev->tid);
			name = buf;
		}
		ret = trace_dump(f, &first, trace_meta_json(
			"thread_name", t->pid, t->tid, name));
		if (ret)
			goto out;
next_meta:;
	}
	/* The events, B and E balanced per track. */
	for (size_t i = 0; i < trace_nr; i++) {
		const struct trace_event *ev = sorted[i];
		struct trace_open *t = NULL;

		/* Every B/E track got its entry with the metadata above. */
		if (ev->ph == 'B' || ev->ph == 'E')
			t = trace_open_find(&open, &nr_open, ev);
		if (ev->ph == 'E') {
			if (!t->depth)
				continue;	/* its begin was dropped */
			t->depth--;
		} else if (ev->ph == 'B') {
			if (t->depth < ARRAY_SIZE(t->top))
				t->top[t->depth] = ev;
			t->depth++;
		}
		ret = trace_dump(f, &first, trace_event_json(ev, ev->ph,
							     ev->ts_ns));
		if (ret)
			goto out;
	}
	for (size_t i = 0; i < nr_open; i++)
		while (open[i].depth) {
			size_t d = --open[i].depth;
			struct trace_event close = {
				.name = d < ARRAY_SIZE(open[i].top) ?
					open[i].top[d]->name : "(open)",
				.pid = open[i].pid, .tid = open[i].tid,
			};

			ret = trace_dump(f, &first,
					 trace_event_json(&close, 'E', end_ns));
			if (ret)
				goto out;
		}
	if (fputs("\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":", f) < 0)
		goto out;
	other = json_pack("{s:s, s:I, s:I}", "tool", "lazypv",
			  "recorded_events", (json_int_t)trace_nr,
			  "dropped_events", (json_int_t)trace_nr_dropped);
	if (!other) {
		ret = -ENOMEM;
		goto out;
	}
	ret = json_dumpf(other, f, JSON_COMPACT) ? -EIO : 0;
	json_decref(other);
	if (!ret && fputs("}\n", f) < 0)
		ret = -EIO;
out:
	free(open);
	free(sorted);
	return ret;
}

int trace_write_chrome(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f) {
		ret = -errno;
		lpv_seterr(err, errlen, "cannot write %s: %s", path,
			   strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&trace_lock);
	ret = trace_write_locked(f);
	pthread_mutex_unlock(&trace_lock);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		lpv_seterr(err, errlen, "writing %s: %s", path, strerror(-ret));
	return ret;
}
