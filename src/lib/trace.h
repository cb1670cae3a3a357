/* SPDX-License-Identifier: MIT */
/*
 * trace.h - timestamped trace events for a timeline viewer: slices (begin/
 * end pairs, or complete slices with a duration), instants and counters,
 * each on a track (a pid and a tid in Chrome's trace-event model), written
 * as Chrome trace-event JSON (`lazypv run --trace FILE`) that Perfetto and
 * chrome://tracing open.  Every layer may emit; the tools start, stop and
 * write.
 *
 * Off (the default), an emit costs one load and one predictable branch
 * (trace_on()).  On, events go into one lock-protected buffer of at most
 * the count given to trace_start(); what does not fit is dropped and
 * counted (trace_dropped()).  A dropped begin or end never unbalances the
 * file: the writer skips an end without its begin and closes a begin left
 * open at the stop time.
 *
 * Tracks: the pids are fixed per layer (TRACE_PID_*) or a VMM's own
 * (trace_pid_vmm()); the tid is the emitting thread's trace id
 * (trace_tid(), named with trace_thread_name()) or a synthetic track
 * (trace_track_new(), e.g. one per VM boot).  Event names and argument
 * keys must be string literals (or otherwise live until the file is
 * written); track and process names are copied.
 */
#ifndef LAZYPV_LIB_TRACE_H
#define LAZYPV_LIB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lazypv/compiler.h"
#include "lib/lib.h"

/* Process ids of the trace (not of the model's tasks). */
#define TRACE_PID_KERNEL 1	/* host kernel: kvm and mm work */
#define TRACE_PID_UV 2		/* the Ultravisor: UVC batches */
#define TRACE_PID_VMM_BASE 1000	/* + the VMM task's pid */
static inline uint32_t trace_pid_vmm(int pid)
{
	return TRACE_PID_VMM_BASE + (uint32_t)pid;
}

#define TRACE_MAX_ARGS 3
/* Default buffer: 1M events (about 100 MiB at most, allocated as used). */
#define TRACE_DEFAULT_EVENTS (1u << 20)
/* UVC batches: consecutive calls of one command closer than this apart
 * on one thread are one slice. */
#define TRACE_BATCH_GAP_NS 1000000ULL

struct trace_arg {
	const char *key;	/* NULL: unused */
	uint64_t val;
};

/* The hot flag; read it through trace_on(). */
extern bool trace_enabled;
static inline bool trace_on(void)
{
	return unlikely(__atomic_load_n(&trace_enabled, __ATOMIC_RELAXED));
}

/*
 * Start recording into a fresh buffer of at most @max_events (0: the
 * default); events of an earlier run are dropped.  -ENOMEM, -EBUSY if
 * already recording.
 */
int trace_start(size_t max_events) __must_check;
/* Stop recording: flush every thread's open UVC batch; keep the events
 * for trace_write_chrome().  Call at a quiescent point. */
void trace_stop(void);
/* Free the events and names (after trace_stop). */
void trace_reset(void);
/* Events recorded and dropped since trace_start(). */
size_t trace_recorded(void);
uint64_t trace_dropped(void);

/*
 * Write the recorded events as Chrome trace-event JSON
 * ({"traceEvents":[...], "otherData":{...}}; ts in microseconds since
 * trace_start()), with process and thread names as metadata.  0 or
 * -errno with a message in @err.
 */
int trace_write_chrome(const char *path, char *err, size_t errlen) __must_check;

/* ---- tracks ---- */

/* Names are recorded only while tracing (otherwise these cost a branch).
 * The calling thread's trace tid (assigned at first use, never 0). */
uint32_t trace_tid(void);
/* Name the calling thread's track (in every pid it emits to). */
void trace_thread_name(const char *fmt, ...) __printf_like(1, 2);
/* A new synthetic track (a tid no thread has) named @fmt. */
uint32_t trace_track_new(const char *fmt, ...) __printf_like(1, 2);
/* Name a process of the trace (TRACE_PID_* have names already). */
void trace_process_name(uint32_t pid, const char *fmt, ...) __printf_like(2, 3);

/* ---- events (the out-of-line part; use the inline wrappers) ---- */

void trace_record(char ph, uint32_t pid, uint32_t tid, const char *name,
		  uint64_t ts_ns, uint64_t dur_ns, const struct trace_arg *args);
void trace_batch_record(uint32_t pid, const char *name, uint64_t t0_ns,
			uint64_t t1_ns);

/* A slice opened on @tid; close it with trace_end() on the same tid. */
static inline void trace_begin(uint32_t pid, uint32_t tid, const char *name,
			       const char *k1, uint64_t v1)
{
	if (trace_on())
		trace_record('B', pid, tid, name, 0, 0,
			     (struct trace_arg[TRACE_MAX_ARGS]){ { k1, v1 } });
}

static inline void trace_end(uint32_t pid, uint32_t tid, const char *name,
			     const char *k1, uint64_t v1)
{
	if (trace_on())
		trace_record('E', pid, tid, name, 0, 0,
			     (struct trace_arg[TRACE_MAX_ARGS]){ { k1, v1 } });
}

/* A complete slice [t0, t1] (nanoseconds of lpv_now_ns()). */
static inline void trace_complete(uint32_t pid, uint32_t tid, const char *name,
				  uint64_t t0_ns, uint64_t t1_ns,
				  const char *k1, uint64_t v1,
				  const char *k2, uint64_t v2)
{
	if (trace_on())
		trace_record('X', pid, tid, name, t0_ns,
			     t1_ns > t0_ns ? t1_ns - t0_ns : 0,
			     (struct trace_arg[TRACE_MAX_ARGS]){
				     { k1, v1 }, { k2, v2 } });
}

static inline void trace_instant(uint32_t pid, uint32_t tid, const char *name,
				 const char *k1, uint64_t v1)
{
	if (trace_on())
		trace_record('i', pid, tid, name, 0, 0,
			     (struct trace_arg[TRACE_MAX_ARGS]){ { k1, v1 } });
}

/* A counter track of @pid called @name with the value @key = @val. */
static inline void trace_counter(uint32_t pid, const char *name,
				 const char *key, uint64_t val)
{
	if (trace_on())
		trace_record('C', pid, 0, name, 0, 0,
			     (struct trace_arg[TRACE_MAX_ARGS]){ { key, val } });
}

/*
 * One call of @name [t0, t1] on the calling thread, aggregated with the
 * thread's previous calls of the same name into one slice (arg "calls")
 * while they follow each other within TRACE_BATCH_GAP_NS.  The slice is
 * written when a call of another name or a gap ends it, when the thread
 * exits, or at trace_stop().
 */
static inline void trace_batch(uint32_t pid, const char *name, uint64_t t0_ns,
			       uint64_t t1_ns)
{
	if (trace_on())
		trace_batch_record(pid, name, t0_ns, t1_ns);
}

/*
 * A slice aggregated by its owner over many small steps (a walk's
 * batches, a drain's chunks): trace_span_add() counts @n units and, once
 * @flush_units are counted, emits one complete slice since the span's
 * previous flush with arg @key = units; trace_span_flush() emits the rest.
 * Owned by one thread; costs one branch when tracing is off.
 */
struct trace_span {
	uint32_t pid, tid;
	const char *name, *key;
	uint64_t t0_ns, units, flush_units;
};

static inline void trace_span_init(struct trace_span *s, uint32_t pid,
				   uint32_t tid, const char *name,
				   const char *key, uint64_t flush_units)
{
	*s = (struct trace_span){ .pid = pid, .tid = tid, .name = name,
				  .key = key, .flush_units = flush_units,
				  .t0_ns = trace_on() ? lpv_now_ns() : 0 };
}

void trace_span_flush(struct trace_span *s);

static inline void trace_span_add(struct trace_span *s, uint64_t n)
{
	if (!trace_on())
		return;
	s->units += n;
	if (s->units >= s->flush_units)
		trace_span_flush(s);
}

#endif /* LAZYPV_LIB_TRACE_H */
