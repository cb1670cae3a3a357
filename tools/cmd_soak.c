// SPDX-License-Identifier: MIT
/*
 * cmd_soak.c - `lazypv soak`: many VMMs, many memcgs, one host under
 * memory pressure, for a long time, with every kind of ending.
 *
 * The run is a sequence of hosts, each serving SOAK_WAVES_PER_HOST
 * *waves*.  A host (--host-mem) has a firmware profile of its own, with
 * failures injected at random into a few UV commands, and a handful of
 * images (guest programs that reboot, reset, reboot into a non-protected
 * guest, power off or idle).  A wave runs --vms slot threads.  Each slot
 * starts VMMs one after the other, each in its own memcg (some with a
 * limit below what the program will touch: memcg OOM), in a random
 * teardown mode, and ends each by an external reset or two, a shutdown
 * request, a kill from outside, the guest's own power-off, an OOM kill or
 * an injected failure.  A hog thread charges a memcg of its own with most
 * of the free memory, holds it, lets it go (host pressure: global OOM,
 * lazy's OOM notifier, kills).
 *
 * At the end of a wave every VMM has been waited for: that is a quiescent
 * point.  There the soak runs the validators (host_check: mm_check,
 * uv_check, hw_check), checks frame conservation against the wave's start
 * (every frame back or leaked with a reason, each reason explained by a
 * failure injected on that host), and scans every free frame for the
 * plaintext of any protected guest of the wave (soak_scan.c).
 *
 * Every random decision (profiles, injections, VM configs, actions, the
 * hog's targets) comes from the seed: each host, and each wave's slots and
 * hog, draw from their own stream, so a seed replays the same decisions; the interleaving with
 * the machine's threads is not replayed.
 *
 * A watchdog thread sees what each thread is doing and since when; an
 * activity that outlives --hang-timeout is a hang: it prints every
 * activity, the report, and exits 3.
 *
 * Threads: the main thread (waves, checks, report), one per slot, the hog,
 * the watchdog.  soak.lock protects the activities, the pattern set and
 * the figures the slots add to; counters bumped from VMM event callbacks
 * are atomics.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "soak.h"
#include "tools.h"

/* ---- what a thread is doing ---- */

void soak_activity_set(struct soak *s, struct soak_activity *a,
		       const char *what, const char *fmt, ...)
{
	va_list ap;

	lpv_mutex_lock(&s->lock);
	a->what = what;
	a->since_ns = lpv_now_ns();
	a->detail[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
		va_end(ap);
	}
	lpv_mutex_unlock(&s->lock);
}


static const char *const soak_op_names[] = {
#define SOAK_OP_NAME(name, desc) #name,
	SOAK_OPS(SOAK_OP_NAME)
#undef SOAK_OP_NAME
};

static const char *const soak_end_names[] = {
#define SOAK_END_NAME(name, desc) #name,
	SOAK_ENDS(SOAK_END_NAME)
#undef SOAK_END_NAME
};

/* ---- the report ---- */

void soak_report(struct soak *s, FILE *f)
{
	double secs = (double)(lpv_now_ns() - s->t0_ns) / 1e9;
	uint64_t leaked = 0, vms = 0;

	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		leaked += s->leaked[i];
	for (unsigned int i = 0; i < LPV_TEARDOWN_MODES; i++)
		vms += s->vms_by_mode[i];
	if (s->o.json) {
		json_t *j, *ops = json_object(), *modes = json_object();
		json_t *ends = json_object(), *leaks = json_object();
		json_t *mode_ends = json_object();

		for (unsigned int i = 0; i < SOAK_OP_NR; i++)
			json_object_set_new(ops, soak_op_names[i],
					    json_integer((json_int_t)s->ops[i]));
		for (unsigned int i = 0; i < LPV_TEARDOWN_MODES; i++)
			json_object_set_new(modes, tool_destroy_name(i),
					    json_integer((json_int_t)s->vms_by_mode[i]));
		for (unsigned int i = 0; i < SOAK_END_NR; i++)
			json_object_set_new(ends, soak_end_names[i],
					    json_integer((json_int_t)s->ends[i]));
		for (unsigned int m = 0; m < LPV_TEARDOWN_MODES; m++) {
			json_t *e = json_object();

			for (unsigned int i = 0; i < SOAK_END_NR; i++)
				json_object_set_new(e, soak_end_names[i],
					json_integer((json_int_t)s->ends_by_mode[m][i]));
			json_object_set_new(e, "oom_killed",
				json_integer((json_int_t)s->oom_killed_by_mode[m]));
			json_object_set_new(e, "on_injected_hosts",
				json_integer((json_int_t)s->injected_by_mode[m]));
			json_object_set_new(mode_ends, tool_destroy_name(m), e);
		}
		for (unsigned int i = 0; i < MM_LEAK_NR; i++)
			json_object_set_new(leaks, host_leak_reason_name(i),
					    json_integer((json_int_t)s->leaked[i]));
		j = json_pack("{s:I, s:f, s:I, s:I, s:i, s:I, s:I, s:o, s:I, s:o, s:o}",
			      "seed", (json_int_t)s->o.seed, "seconds", secs,
			      "hosts", (json_int_t)s->hosts,
			      "waves", (json_int_t)s->waves,
			      "vm_slots", (int)s->o.vms,
			      "host_mem", (json_int_t)s->o.host_mem,
			      "operations", (json_int_t)soak_ops_total(s),
			      "ops", ops, "vms", (json_int_t)vms,
			      "vms_by_mode", modes, "ends", ends);
		json_object_set_new(j, "ends_by_mode", mode_ends);
		json_object_update_new(j, json_pack(
			"{s:I, s:I, s:I, s:I, s:o, s:I, s:I}",
			"invariant_checks", (json_int_t)s->checks,
			"violations", (json_int_t)s->violations,
			"hangs", (json_int_t)s->hangs,
			"leaked_frames", (json_int_t)leaked,
			"leaks_by_reason", leaks,
			"unexplained_leaks", (json_int_t)s->unexplained_leaks,
			"guest_errors_without_injection",
			(json_int_t)s->guest_errors_uninjected));
		json_object_update_new(j, json_pack(
			"{s:I, s:s, s:I, s:s, s:I, s:s, s:I, s:I, s:I}",
			"longest_restart_ns", (json_int_t)s->max_restart_ns,
			"longest_restart_mode", tool_destroy_name(s->max_restart_mode),
			"longest_exit_ns", (json_int_t)s->max_exit_ns,
			"longest_exit_mode", tool_destroy_name(s->max_exit_mode),
			"longest_reclaim_ns", (json_int_t)s->max_reclaim_ns,
			"longest_reclaim_mode", tool_destroy_name(s->max_reclaim_mode),
			"frames_scanned", (json_int_t)s->frames_scanned,
			"patterns_max", (json_int_t)s->patterns_max,
			"plaintext_frames", (json_int_t)s->plaintext_found));
		tool_json_print(f, j);
		return;
	}
	fprintf(f, "soak: seed %" PRIu64 ", %.1f s, %" PRIu64 " hosts, %" PRIu64 " waves, %u VM slots, host %" PRIu64 " MiB\n",
		s->o.seed, secs, s->hosts, s->waves, s->o.vms, s->o.host_mem >> 20);
	fprintf(f, "operations: %" PRIu64 " (%.0f/s)\n", soak_ops_total(s),
		secs > 0 ? (double)soak_ops_total(s) / secs : 0.0);
	for (unsigned int i = 0; i < SOAK_OP_NR; i++)
		fprintf(f, "  %-14s %10" PRIu64 "\n", soak_op_names[i], s->ops[i]);
	fprintf(f, "VMs: %" PRIu64 " (", vms);
	for (unsigned int i = 0; i < LPV_TEARDOWN_MODES; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "", tool_destroy_name(i),
			s->vms_by_mode[i]);
	fprintf(f, "); ended: ");
	for (unsigned int i = 0; i < SOAK_END_NR; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "", soak_end_names[i], s->ends[i]);
	fputc('\n', f);
	for (unsigned int m = 0; m < LPV_TEARDOWN_MODES; m++) {
		fprintf(f, "  %-9s", tool_destroy_name(m));
		for (unsigned int i = 0; i < SOAK_END_NR; i++)
			fprintf(f, " %s %" PRIu64, soak_end_names[i],
				s->ends_by_mode[m][i]);
		fprintf(f, " (OOM-killed %" PRIu64 "), on hosts with injected failures %" PRIu64 "\n",
			s->oom_killed_by_mode[m], s->injected_by_mode[m]);
	}
	fprintf(f, "invariant checks: %" PRIu64 " (at %" PRIu64 " quiescent points: host_check = mm_check + uv_check + hw_check, frame conservation, plaintext scan), violations: %" PRIu64 "\n",
		s->checks, s->waves, s->violations);
	fprintf(f, "hangs: %" PRIu64 "\n", s->hangs);
	fprintf(f, "leaked frames: %" PRIu64, leaked);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		if (s->leaked[i])
			fprintf(f, ", %s %" PRIu64, host_leak_reason_name(i), s->leaked[i]);
	fprintf(f, " (unexplained by an injected failure: %" PRIu64 ")\n",
		s->unexplained_leaks);
	fprintf(f, "guest errors in waves without injected failures: %" PRIu64 "\n",
		s->guest_errors_uninjected);
	fprintf(f, "longest restart: %.1f ms (%s), longest exit: %.1f ms (%s), longest reclaim: %.1f ms (%s)\n",
		s->max_restart_ns / 1e6, tool_destroy_name(s->max_restart_mode),
		s->max_exit_ns / 1e6, tool_destroy_name(s->max_exit_mode),
		s->max_reclaim_ns / 1e6, tool_destroy_name(s->max_reclaim_mode));
	fprintf(f, "old plaintext in frames handed back: %" PRIu64 " (%" PRIu64
		" free frames scanned, up to %" PRIu64 " guest pattern words per wave)\n",
		s->plaintext_found, s->frames_scanned, s->patterns_max);
}

/* ---- the watchdog ---- */

static void soak_activity_print(const char *who, unsigned int id,
				const struct soak_activity *a, uint64_t now,
				FILE *f)
{
	if (!a->what)
		return;
	fprintf(f, "  %s %u: %s for %.1f s%s%s\n", who, id, a->what,
		(double)(now - a->since_ns) / 1e9, a->detail[0] ? ": " : "",
		a->detail);
}

static bool soak_activity_hung(const struct soak_activity *a, uint64_t now,
			       uint64_t limit_ns)
{
	return a->what && now - a->since_ns > limit_ns;
}

static void *soak_watchdog(void *arg)
{
	struct soak *s = arg;
	uint64_t limit = s->o.hang_s * 1000000000ULL;

	lpv_mutex_lock(&s->lock);
	while (!s->stop_watchdog) {
		uint64_t now = lpv_now_ns();
		bool hung = soak_activity_hung(&s->main_act, now, limit) ||
			    soak_activity_hung(&s->hog_act, now, limit);

		for (unsigned int i = 0; i < s->o.vms; i++)
			hung |= soak_activity_hung(&s->slots[i].act, now, limit);
		if (hung) {
			fprintf(stderr, "lazypv soak: HANG (seed %" PRIu64 ", wave %u, %s): an activity exceeded %" PRIu64 " s; what was running:\n",
				s->o.seed, s->wave, s->profile_desc, s->o.hang_s);
			soak_activity_print("main", 0, &s->main_act, now, stderr);
			soak_activity_print("hog", 0, &s->hog_act, now, stderr);
			for (unsigned int i = 0; i < s->o.vms; i++)
				soak_activity_print("slot", i, &s->slots[i].act,
						    now, stderr);
			s->hangs++;
			s->violations++;
			soak_report(s, stdout);
			fflush(stdout);
			_exit(3);
		}
		lpv_cond_wait_until(&s->cond, &s->lock, now + 1000000000ULL);
	}
	lpv_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the command ---- */

#define O(field) LPV_CL_FIELD(struct soak_opts, field)
static const struct lpv_cl_opt soak_opt_tab[] = {
	{ .name = "seed", .kind = LPV_CL_UINT, O(seed), .max = INT64_MAX,
	  .def = "from the clock, printed at the start",
	  .help = "seed of every random decision" },
	{ .name = "duration", .kind = LPV_CL_UINT, O(duration_s), .min = 1, .max = 7 * 86400,
	  .metavar = "SECONDS", .help = "how long" },
	{ .name = "vms", .kind = LPV_CL_UINT, O(vms), .min = 1, .max = SOAK_MAX_VMS,
	  .help = "VMMs alive at once" },
	{ .name = "wave", .kind = LPV_CL_UINT, O(wave_s), .min = 1, .max = 86400,
	  .metavar = "SECONDS", .help = "host lifetime between quiescent checks" },
	{ .name = "host-mem", .kind = LPV_CL_SIZE, O(host_mem),
	  .min = 256ULL << 20, .align = 1ULL << 20,
	  .help = "host memory of each wave" },
	{ .name = "hang-timeout", .kind = LPV_CL_UINT, O(hang_s), .min = 10, .max = 86400,
	  .metavar = "SECONDS", .help = "an activity longer than this is a hang" },
	{ .name = "json", .kind = LPV_CL_FLAG, O(json),
	  .help = "the report as one JSON object" },
	/* Test of the scan itself: one free frame gets a pattern word, as if
	 * it came back uncleared (must be found). */
	{ .name = "plant-plaintext", .kind = LPV_CL_FLAG, O(plant),
	  .help = "test of the plaintext scan: put a guest's pattern word into one free frame, as if it came back uncleared (the scan must find it: exit 1)" },
};
#undef O

static const struct soak_opts soak_defaults = {
	.duration_s = 60,
	.wave_s = 10,
	.host_mem = 1ULL << 30,
	.hang_s = 120,
	.vms = 4,
};

const struct lpv_cl_cmd cmd_soak_cl = {
	.prog = "lazypv",
	.name = "soak",
	.summary = "many VMMs, every teardown mode and ending, under pressure: invariants",
	.description =
		"Run VMMs in every teardown mode, each in its own memcg, side by side on\n"
		"one host under memory pressure, and end them every way there is:\n"
		"reboots, resets, shutdowns, kills from outside, OOM kills (memcg limits,\n"
		"a hog that fills the host) and injected firmware failures.  At the end of\n"
		"every wave (all VMMs gone) check the invariants, that every leak has an\n"
		"injected failure behind it, and that no free frame holds a protected\n"
		"guest's plaintext.  Exit 0 if nothing was violated, 1 if something was,\n"
		"3 on a hang (what was running is printed).\n",
	.opts = soak_opt_tab,
	.nr_opts = ARRAY_SIZE(soak_opt_tab),
	.defaults = &soak_defaults,
};

/* The exit status to end with now (0 after --help, 2 for a refused
 * environment variable), or -1 to go ahead. */
static int soak_parse(int argc, char **argv, struct soak_opts *o)
{
	struct lpv_cl_result res;
	bool help, seeded;

	*o = soak_defaults;
	help = tool_parse_options(&cmd_soak_cl, argc, argv, o, &res);
	seeded = lpv_cl_given(&cmd_soak_cl, &res, "seed");
	lpv_cl_release(&res);
	if (help)
		return 0;
	if (tool_env_check())
		return 2;
	if (o->host_mem > host_backable_bytes()) {
		char a[32], b[32];

		tool_usage_error("soak", "--host-mem %s is out of range: this machine can back at most %s now",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(host_backable_bytes(), b, sizeof(b)));
	}
	if (!seeded)
		o->seed = soak_mix(lpv_now_ns() ^ ((uint64_t)getpid() << 32)) >> 1;
	return -1;
}

int cmd_soak(int argc, char **argv)
{
	struct soak *s = calloc(1, sizeof(*s));
	pthread_t watchdog;
	uint64_t deadline;
	int ret = 0;

	if (!s) {
		fprintf(stderr, "lazypv soak: out of memory\n");
		return 1;
	}
	ret = soak_parse(argc, argv, &s->o);
	if (ret >= 0) {
		free(s);
		return ret;
	}
	ret = 0;
	lpv_mutex_init(&s->lock);
	lpv_cond_init(&s->cond);
	soak_pset_init(&s->patterns);
	s->progress = isatty(STDERR_FILENO);
	fprintf(stderr, "lazypv soak: seed %" PRIu64 " (replay the decisions with --seed %" PRIu64 ")\n",
		s->o.seed, s->o.seed);
	s->t0_ns = lpv_now_ns();
	deadline = s->t0_ns + s->o.duration_s * 1000000000ULL;
	if (pthread_create(&watchdog, NULL, soak_watchdog, s)) {
		fprintf(stderr, "lazypv soak: cannot start a thread\n");
		return 1;
	}
	for (unsigned int h = 0; !ret && lpv_now_ns() < deadline; h++)
		ret = soak_host(s, h, deadline);
	lpv_mutex_lock(&s->lock);
	s->stop_watchdog = true;
	lpv_cond_broadcast(&s->cond);
	lpv_mutex_unlock(&s->lock);
	pthread_join(watchdog, NULL);
	if (s->progress)
		fputc('\n', stderr);
	soak_report(s, stdout);
	if (!ret && s->violations)
		ret = 1;
	else if (ret)
		ret = 1;
	soak_pset_free(&s->patterns);
	lpv_cond_deinit(&s->cond);
	lpv_mutex_deinit(&s->lock);
	free(s);
	return ret;
}
