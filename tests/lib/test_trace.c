// SPDX-License-Identifier: MIT
/*
 * test_trace.c - the trace-event buffer: slices, instants, batches and
 * spans written as Chrome JSON and parsed back with jansson; the cap
 * drops and counts; a begin whose end was never recorded is closed by
 * the writer.
 */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#include "lib/progress.h"
#include "lib/trace.h"

static json_t *trace_roundtrip(char *path, size_t len)
{
	char err[200];
	json_error_t jerr;
	json_t *root;
	int fd;

	snprintf(path, len, "/tmp/lazypv-test-trace-XXXXXX");
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(trace_write_chrome(path, err, sizeof(err)), 0);
	root = json_load_file(path, 0, &jerr);
	if (!root)
		test_fail(__FILE__, __LINE__, "%s: %s", path, jerr.text);
	unlink(path);
	return root;
}

/* Events of phase @ph called @name (any name if NULL). */
static size_t count_events(json_t *evs, const char *ph, const char *name)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(evs, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "ph")), ph))
			continue;
		if (name && strcmp(json_string_value(json_object_get(e, "name")),
				   name))
			continue;
		n++;
	}
	return n;
}

static void *batch_thread(void *arg)
{
	(void)arg;
	trace_thread_name("batcher");
	/* Back to back by their timestamps (not the clock: a preempted
	 * loop would open a new slice after the 1 ms gap). */
	uint64_t t = lpv_now_ns();

	for (int i = 0; i < 10; i++, t += 20)
		trace_batch(TRACE_PID_UV, "CMD_A", t, t + 10);
	return NULL;	/* the open batch is flushed at the thread's exit */
}

TEST_IMPL(lib_trace_chrome)
{
	char path[64];
	struct trace_span sp;
	pthread_t t;
	json_t *root, *evs, *e;
	uint32_t track, self;
	size_t i;

	/* Off: nothing is recorded. */
	trace_instant(TRACE_PID_KERNEL, 1, "never", NULL, 0);
	ASSERT_EQ(trace_start(0), 0);
	ASSERT_EQ(trace_start(0), -EBUSY);
	ASSERT_EQ(trace_recorded(), 0);

	trace_thread_name("main");
	self = trace_tid();
	track = trace_track_new("VM %d boot %u", 7, 0u);
	ASSERT_NE(track, self);
	trace_process_name(trace_pid_vmm(7), "VMM %d", 7);
	trace_begin(trace_pid_vmm(7), track, "outer", "boot", 0);
	trace_complete(trace_pid_vmm(7), track, "inner", lpv_now_ns(),
		       lpv_now_ns() + 1000, "pages", 42, NULL, 0);
	trace_end(trace_pid_vmm(7), track, "outer", NULL, 0);
	trace_begin(TRACE_PID_KERNEL, self, "left open", NULL, 0);
	trace_end(TRACE_PID_KERNEL, self + 1000, "never begun", NULL, 0);
	trace_instant(TRACE_PID_KERNEL, self, "mark", "value", 3);
	trace_counter(TRACE_PID_KERNEL, "pending", "bytes", 4096);
	/* Three calls of A then one of B, back to back by their
	 * timestamps: two slices. */
	{
		uint64_t now = lpv_now_ns();

		for (int k = 0; k < 3; k++, now += 10)
			trace_batch(TRACE_PID_UV, "CMD_A", now, now + 5);
		trace_batch(TRACE_PID_UV, "CMD_B", now, now + 5);
	}
	ASSERT_EQ(pthread_create(&t, NULL, batch_thread, NULL), 0);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	trace_span_init(&sp, TRACE_PID_KERNEL, self, "walk", "pages", 100);
	for (int k = 0; k < 25; k++)
		trace_span_add(&sp, 10);	/* flushes at 100 and 200 */
	trace_span_flush(&sp);			/* the last 50 */
	trace_stop();
	trace_instant(TRACE_PID_KERNEL, self, "after stop", NULL, 0);

	root = trace_roundtrip(path, sizeof(path));
	evs = json_object_get(root, "traceEvents");
	ASSERT(json_is_array(evs));
	ASSERT_EQ(count_events(evs, "X", "inner"), 1);
	ASSERT_EQ(count_events(evs, "B", "outer"), 1);
	ASSERT_EQ(count_events(evs, "E", NULL), 2);	/* outer, left open */
	ASSERT_EQ(count_events(evs, "B", NULL), 2);
	ASSERT_EQ(count_events(evs, "i", "after stop"), 0);
	ASSERT_EQ(count_events(evs, "i", "mark"), 1);
	ASSERT_EQ(count_events(evs, "C", "pending"), 1);
	ASSERT_EQ(count_events(evs, "X", "CMD_A"), 2);	/* main + thread */
	ASSERT_EQ(count_events(evs, "X", "CMD_B"), 1);
	ASSERT_EQ(count_events(evs, "X", "walk"), 3);
	json_array_foreach(evs, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *args = json_object_get(e, "args");

		ASSERT(json_is_integer(json_object_get(e, "pid")));
		ASSERT(json_is_integer(json_object_get(e, "tid")));
		if (!strcmp(name, "CMD_A") &&
		    json_integer_value(json_object_get(e, "tid")) == self)
			ASSERT_EQ(json_integer_value(json_object_get(args, "calls")), 3);
		if (!strcmp(name, "CMD_A") &&
		    json_integer_value(json_object_get(e, "tid")) != self)
			ASSERT_EQ(json_integer_value(json_object_get(args, "calls")), 10);
		if (!strcmp(name, "inner"))
			ASSERT_EQ(json_integer_value(json_object_get(args, "pages")), 42);
		if (!strcmp(json_string_value(json_object_get(e, "ph")), "M") &&
		    json_integer_value(json_object_get(e, "tid")) == track)
			ASSERT_EQ(strcmp(json_string_value(json_object_get(
				args, "name")), "VM 7 boot 0"), 0);
	}
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(root,
		"otherData"), "dropped_events")), 0);
	json_decref(root);
	trace_reset();
	return 0;
}

TEST_IMPL(lib_trace_drops)
{
	char path[64];
	json_t *root, *evs;

	ASSERT_EQ(trace_start(4), 0);
	trace_begin(TRACE_PID_KERNEL, 5, "a", NULL, 0);
	for (int i = 0; i < 10; i++)
		trace_instant(TRACE_PID_KERNEL, 5, "x", NULL, 0);
	trace_end(TRACE_PID_KERNEL, 5, "a", NULL, 0);	/* dropped */
	trace_stop();
	ASSERT_EQ(trace_recorded(), 4);
	ASSERT_EQ(trace_dropped(), 8);
	root = trace_roundtrip(path, sizeof(path));
	evs = json_object_get(root, "traceEvents");
	/* The writer closed "a" at the stop time. */
	ASSERT_EQ(count_events(evs, "B", "a"), 1);
	ASSERT_EQ(count_events(evs, "E", "a"), 1);
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(root,
		"otherData"), "dropped_events")), 8);
	json_decref(root);
	trace_reset();
	return 0;
}

TEST_IMPL(lib_progress_format)
{
	char buf[160];

	/* Bytes, no rate yet: no rate, no ETA. */
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "cleanup",
					     64ULL << 20, 256ULL << 20, 0, true),
			 "cleanup  64.00 MiB / 256.00 MiB (25%)"), 0);
	/* 192 MiB left at 64 MiB/s: 3 s. */
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "cleanup",
					     64ULL << 20, 256ULL << 20,
					     64.0 * (1 << 20), true),
			 "cleanup  64.00 MiB / 256.00 MiB (25%)  64.00 MiB/s  ETA 3.0 s"), 0);
	/* Counts; minutes; done: no ETA; zero total: no percentage. */
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "runs", 1, 200,
					     1.0, false),
			 "runs  1 / 200 (0%)  1/s  ETA 3m19s"), 0);
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "x", 5, 5, 2.0,
					     false), "x  5 / 5 (100%)  2/s"), 0);
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "x", 3, 0, 0,
					     false), "x  3 / 0"), 0);
	ASSERT_EQ(strcmp(lpv_progress_format(buf, sizeof(buf), "x", 0, 7200,
					     1.0, false),
			 "x  0 / 7200 (0%)  1/s  ETA 2h00m"), 0);
	/* A short buffer truncates, never overruns. */
	memset(buf, 'Z', sizeof(buf));
	lpv_progress_format(buf, 8, "cleanup", 1, 2, 1.0, false);
	ASSERT_EQ(strlen(buf), 7);
	ASSERT_EQ(buf[8], 'Z');
	return 0;
}
