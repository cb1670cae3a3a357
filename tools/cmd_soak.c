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
 * point.  There the soak runs the validators (vmm_host_check: mm_check,
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

#include "hw/hw.h"
#include "kvm/kvm.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "mm/mm.h"
#include "soak.h"
#include "tools.h"
#include "uv/uv.h"
#include "vmm/vmm.h"

/* ---- random numbers: splitmix64, one stream per wave and slot ---- */

static uint64_t soak_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct soak_rng {
	uint64_t s;
};

static void soak_rng_init(struct soak_rng *r, uint64_t seed, uint64_t wave,
			  uint64_t stream)
{
	r->s = soak_mix(seed ^ soak_mix(wave * 1000003ULL + stream));
}

static uint64_t soak_rand(struct soak_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return soak_mix(r->s);
}

/* Uniform in [0, n) (n > 0). */
static uint64_t soak_below(struct soak_rng *r, uint64_t n)
{
	return soak_rand(r) % n;
}

static bool soak_chance(struct soak_rng *r, unsigned int percent)
{
	return soak_below(r, 100) < percent;
}

/* ---- the figures ---- */

/* Operations: steps of a VMM's life or of the pressure on the host, each
 * something the stack must survive.  Guest page writes are not counted. */
#define SOAK_OPS(X)							\
	X(vm_create, "VMMs started (fork, VM, boot)")			\
	X(boot, "guests started: first boots, reboots, resets")	\
	X(guest_request, "reboots, resets, power-offs the guests asked for") \
	X(host_reset, "external resets requested from outside")	\
	X(host_shutdown, "shutdowns requested from outside")		\
	X(kill, "kills from outside (vmm_kill)")			\
	X(exit, "VMM exits waited for and reclaimed")			\
	X(oom_kill, "OOM kills (memcg limit or host pressure)")	\
	X(injected, "injected firmware failures returned")		\
	X(hog_fill, "hog fills (most of free memory charged at once)") \
	X(hog_release, "hog releases")

enum soak_op {
#define SOAK_OP_ENUM(name, desc) SOAK_OP_##name,
	SOAK_OPS(SOAK_OP_ENUM)
#undef SOAK_OP_ENUM
	SOAK_OP_NR,
};

static const char *const soak_op_names[] = {
#define SOAK_OP_NAME(name, desc) #name,
	SOAK_OPS(SOAK_OP_NAME)
#undef SOAK_OP_NAME
};

/* How VMMs ended (vmm_result). */
#define SOAK_ENDS(X)							\
	X(code0, "exit code 0: power-off or shutdown")			\
	X(error, "exit code 1: a boot or guest error (injected failures)") \
	X(killed, "killed: vmm_kill or the OOM killer")			\
	X(create_failed, "vmm_create refused (no memory)")

enum soak_end {
#define SOAK_END_ENUM(name, desc) SOAK_END_##name,
	SOAK_ENDS(SOAK_END_ENUM)
#undef SOAK_END_ENUM
	SOAK_END_NR,
};

static const char *const soak_end_names[] = {
#define SOAK_END_NAME(name, desc) #name,
	SOAK_ENDS(SOAK_END_NAME)
#undef SOAK_END_NAME
};

struct soak_opts {
	uint64_t seed;
	uint64_t duration_s;
	uint64_t wave_s;
	uint64_t host_mem;
	uint64_t hang_s;
	unsigned int vms;
	bool json;
	bool plant;		/* put one pattern word into a free frame */
};

/* What one thread is doing, for the watchdog. */
struct soak_activity {
	const char *what;	/* NULL: nothing that could hang */
	uint64_t since_ns;
	char detail[160];
};

#define SOAK_MAX_VMS 16
#define SOAK_NR_IMAGES 7

struct soak_image {
	const char *program;
	unsigned int rounds;	/* touch rounds per boot; 0: no pattern */
	uint64_t touch_mib;
	void *buf;
	size_t len;
	struct vmm_image img;
};

struct soak;

struct soak_slot {
	struct soak *soak;
	unsigned int id;
	pthread_t thread;
	struct soak_rng rng;
	struct soak_activity act;	/* under soak.lock */
};

/* One VMM's life, as its event callback sees it. */
struct soak_vm {
	struct soak *soak;
	enum vmm_destroy_mode mode;
	bool exiting;		/* atomic: a shutdown request was seen */
	uint64_t boots;		/* atomic */
};

struct soak {
	struct soak_opts o;
	struct lpv_mutex lock;
	struct lpv_cond cond;		/* the watchdog's sleep */
	bool stop_watchdog;		/* under lock */

	/* this wave (read-only while the slots run, except as noted) */
	struct vmm_host *host;
	struct soak_image images[SOAK_NR_IMAGES];
	unsigned int wave;
	bool wave_stop;			/* atomic */
	uint16_t inject_cmds[UV_PROFILE_MAX_INJECT];
	unsigned int nr_inject;
	const char *profile_base;
	char profile_desc[512];		/* base and injections, for reports */
	struct soak_pset patterns;	/* under lock */
	struct soak_slot slots[SOAK_MAX_VMS];
	struct soak_activity main_act;	/* under lock */
	struct soak_activity hog_act;	/* under lock */
	struct soak_rng hog_rng;
	bool hog_on;

	/* totals (atomics, or under lock where noted) */
	uint64_t ops[SOAK_OP_NR];
	uint64_t ends[SOAK_END_NR];
	uint64_t vms_by_mode[VMM_DESTROY_NR];
	uint64_t waves, hosts;
	uint64_t host_injected;		/* the UV's count at the last check */
	uint64_t checks, violations, hangs;
	uint64_t leaked[MM_LEAK_NR];
	uint64_t unexplained_leaks;
	uint64_t guest_errors_uninjected;
	uint64_t max_restart_ns, max_exit_ns, max_reclaim_ns;	/* lock */
	enum vmm_destroy_mode max_restart_mode, max_exit_mode, max_reclaim_mode;
	uint64_t frames_scanned, plaintext_found, patterns_max;
	uint64_t t0_ns;
	bool progress;
};

static void soak_count(struct soak *s, enum soak_op op, uint64_t n)
{
	atomic_add_relaxed(&s->ops[op], n);
}

static uint64_t soak_ops_total(struct soak *s)
{
	uint64_t t = 0;

	for (unsigned int i = 0; i < SOAK_OP_NR; i++)
		t += atomic_load_relaxed(&s->ops[i]);
	return t;
}

static void soak_activity_set(struct soak *s, struct soak_activity *a,
			      const char *what, const char *fmt, ...)
	__printf_like(4, 5);

static void soak_activity_set(struct soak *s, struct soak_activity *a,
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

/* ---- the report ---- */

static void soak_report(struct soak *s, FILE *f)
{
	double secs = (double)(lpv_now_ns() - s->t0_ns) / 1e9;
	uint64_t leaked = 0, vms = 0;

	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		leaked += s->leaked[i];
	for (unsigned int i = 0; i < VMM_DESTROY_NR; i++)
		vms += s->vms_by_mode[i];
	if (s->o.json) {
		json_t *j, *ops = json_object(), *modes = json_object();
		json_t *ends = json_object(), *leaks = json_object();

		for (unsigned int i = 0; i < SOAK_OP_NR; i++)
			json_object_set_new(ops, soak_op_names[i],
					    json_integer((json_int_t)s->ops[i]));
		for (unsigned int i = 0; i < VMM_DESTROY_NR; i++)
			json_object_set_new(modes, vmm_destroy_mode_name(i),
					    json_integer((json_int_t)s->vms_by_mode[i]));
		for (unsigned int i = 0; i < SOAK_END_NR; i++)
			json_object_set_new(ends, soak_end_names[i],
					    json_integer((json_int_t)s->ends[i]));
		for (unsigned int i = 0; i < MM_LEAK_NR; i++)
			json_object_set_new(leaks, mm_leak_reason_name(i),
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
			"longest_restart_mode", vmm_destroy_mode_name(s->max_restart_mode),
			"longest_exit_ns", (json_int_t)s->max_exit_ns,
			"longest_exit_mode", vmm_destroy_mode_name(s->max_exit_mode),
			"longest_reclaim_ns", (json_int_t)s->max_reclaim_ns,
			"longest_reclaim_mode", vmm_destroy_mode_name(s->max_reclaim_mode),
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
	for (unsigned int i = 0; i < VMM_DESTROY_NR; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "", vmm_destroy_mode_name(i),
			s->vms_by_mode[i]);
	fprintf(f, "); ended: ");
	for (unsigned int i = 0; i < SOAK_END_NR; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "", soak_end_names[i], s->ends[i]);
	fprintf(f, "\ninvariant checks: %" PRIu64 " (at %" PRIu64 " quiescent points: vmm_host_check = mm_check + uv_check + hw_check, frame conservation, plaintext scan), violations: %" PRIu64 "\n",
		s->checks, s->waves, s->violations);
	fprintf(f, "hangs: %" PRIu64 "\n", s->hangs);
	fprintf(f, "leaked frames: %" PRIu64, leaked);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		if (s->leaked[i])
			fprintf(f, ", %s %" PRIu64, mm_leak_reason_name(i), s->leaked[i]);
	fprintf(f, " (unexplained by an injected failure: %" PRIu64 ")\n",
		s->unexplained_leaks);
	fprintf(f, "guest errors in waves without injected failures: %" PRIu64 "\n",
		s->guest_errors_uninjected);
	fprintf(f, "longest restart: %.1f ms (%s), longest exit: %.1f ms (%s), longest reclaim: %.1f ms (%s)\n",
		s->max_restart_ns / 1e6, vmm_destroy_mode_name(s->max_restart_mode),
		s->max_exit_ns / 1e6, vmm_destroy_mode_name(s->max_exit_mode),
		s->max_reclaim_ns / 1e6, vmm_destroy_mode_name(s->max_reclaim_mode));
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

/* ---- one VMM's life ---- */

static void soak_vm_event(void *ctx, const struct vmm_event *ev)
{
	struct soak_vm *vm = ctx;
	struct soak *s = vm->soak;

	switch (ev->type) {
	case VMM_EV_GUEST_START:
		soak_count(s, SOAK_OP_boot, 1);
		atomic_add_relaxed(&vm->boots, 1);
		break;
	case VMM_EV_REBOOT_REQUEST:
		if (ev->subcode != VMM_RESET_EXTERNAL)
			soak_count(s, SOAK_OP_guest_request, 1);
		break;
	case VMM_EV_SHUTDOWN_REQUEST:
		if (!strncmp(ev->message, "power-off", 9))
			soak_count(s, SOAK_OP_guest_request, 1);
		atomic_store_release(&vm->exiting, true);
		break;
	default:
		break;
	}
}

/* Sleep up to @ms in 1 ms steps; false if the VMM or the wave ends. */
static bool soak_vm_sleep(struct soak *s, struct soak_vm *vm, uint64_t ms)
{
	for (uint64_t i = 0; i < ms; i++) {
		if (atomic_load_acquire(&vm->exiting) ||
		    atomic_load_acquire(&s->wave_stop))
			return false;
		usleep(1000);
	}
	return !atomic_load_acquire(&vm->exiting);
}

static void soak_max(uint64_t *max, enum vmm_destroy_mode *mode, uint64_t v,
		     enum vmm_destroy_mode m)
{
	if (v > *max) {
		*max = v;
		*mode = m;
	}
}

/* Under soak.lock: the plaintext this VMM's protected guests wrote. */
static void soak_vm_patterns_locked(struct soak *s, struct vmm *vmm,
				    const struct soak_image *im,
				    const struct vmm_config *cfg)
{
	size_t nr;
	const struct vmm_event *ev = vmm_events(vmm, &nr);
	uint64_t end = im->img.guest_end + ((im->touch_mib + 1) << 20);

	if (!im->rounds)
		return;
	if (end > cfg->guest_mem)
		end = cfg->guest_mem;
	for (size_t i = 0; i < nr; i++) {
		if (ev[i].type != VMM_EV_GUEST_START || !ev[i].protected)
			continue;
		soak_pset_add_guest(&s->patterns, vmm_boot_key(vmm, ev[i].boot),
				    end, im->rounds);
	}
}

static void soak_vm_run(struct soak_slot *sl)
{
	struct soak *s = sl->soak;
	struct soak_rng *r = &sl->rng;
	unsigned int imgi = (unsigned int)soak_below(r, SOAK_NR_IMAGES);
	const struct soak_image *im = &s->images[imgi];
	struct soak_vm vm = { .soak = s };
	struct vmm_config cfg = {
		.guest_mem = (16 + soak_below(r, 17)) << 20,
		.cpus = 1 + (unsigned int)soak_below(r, 2),
		.destroy = (enum vmm_destroy_mode)soak_below(r, VMM_DESTROY_NR),
		.image = &im->img,
		.plain_program = "touch:mib=2,rounds=1,then=reboot",
		.max_reboots = soak_chance(r, 50) ? -1 : (int)soak_below(r, 6),
		.salt = soak_rand(r) | 1,
		.reclaim_timeout_ms = s->o.hang_s * 1000 / 2,
		.helper_poll_ms = 10 + soak_below(r, 100),
		.on_event = soak_vm_event,
		.event_ctx = &vm,
	};
	unsigned int actions = (unsigned int)soak_below(r, 8);
	struct vmm_result res;
	struct vmm *vmm;
	char err[200];
	int ret;

	vm.mode = cfg.destroy;
	/* A limit between what the boot needs and what the program touches:
	 * the touch runs into it (memcg OOM kill) or just fits. */
	if (soak_chance(r, 20))
		cfg.memcg_limit = vmm_boot_min_bytes(s->host, &cfg) +
				  (soak_below(r, im->touch_mib + 4) << 20);
	if (vmm_config_check(s->host, &cfg, err, sizeof(err))) {
		/* The memory left under the hog's pressure is the only reason
		 * a config of these sizes is refused. */
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		soak_vm_sleep(s, &vm, 5);
		return;
	}
	soak_activity_set(s, &sl->act, "vmm_create", "%s, %s, %" PRIu64 " MiB, %u vCPUs",
			  vmm_destroy_mode_name(cfg.destroy), im->program,
			  cfg.guest_mem >> 20, cfg.cpus);
	ret = vmm_create(s->host, &cfg, &vmm);
	if (ret) {
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		soak_activity_set(s, &sl->act, NULL, NULL);
		soak_vm_sleep(s, &vm, 5);
		return;
	}
	soak_count(s, SOAK_OP_vm_create, 1);
	atomic_add_relaxed(&s->vms_by_mode[cfg.destroy], 1);
	soak_activity_set(s, &sl->act, "driving a VMM", "%s, %s, %" PRIu64 " MiB, %u vCPUs",
			  vmm_destroy_mode_name(cfg.destroy), im->program,
			  cfg.guest_mem >> 20, cfg.cpus);

	for (unsigned int i = 0; i < actions; i++) {
		unsigned int a = (unsigned int)soak_below(r, 100);

		if (!soak_vm_sleep(s, &vm, 1 + soak_below(r, 60)))
			break;
		if (a < 45)
			continue;
		if (a < 70) {
			if (!vmm_request_reset(vmm))
				soak_count(s, SOAK_OP_host_reset, 1);
			continue;
		}
		if (a < 85) {
			if (!vmm_request_shutdown(vmm))
				soak_count(s, SOAK_OP_host_shutdown, 1);
		} else if (!vmm_kill(vmm)) {
			soak_count(s, SOAK_OP_kill, 1);
		}
		break;
	}
	if (!atomic_load_acquire(&vm.exiting)) {
		if (soak_chance(r, 60)) {
			if (!vmm_request_shutdown(vmm))
				soak_count(s, SOAK_OP_host_shutdown, 1);
		} else if (!vmm_kill(vmm)) {
			soak_count(s, SOAK_OP_kill, 1);
		}
	}

	soak_activity_set(s, &sl->act, "vmm_wait", "%s, %s, %" PRIu64 " MiB, %" PRIu64 " boots",
			  vmm_destroy_mode_name(cfg.destroy), im->program,
			  cfg.guest_mem >> 20, atomic_load_relaxed(&vm.boots));
	ret = vmm_wait(vmm, &res);
	if (ret) {
		/* Reclaim did not finish in time: the wait is bounded, the
		 * memory is not back -- a hang of the teardown. */
		lpv_mutex_lock(&s->lock);
		fprintf(stderr, "lazypv soak: HANG (seed %" PRIu64 ", wave %u, %s, slot %u): vmm_wait: %s (%s, %s)\n",
			s->o.seed, s->wave, s->profile_desc, sl->id, strerror(-ret),
			vmm_destroy_mode_name(cfg.destroy), im->program);
		s->hangs++;
		s->violations++;
		soak_report(s, stdout);
		fflush(stdout);
		_exit(3);
	}
	soak_count(s, SOAK_OP_exit, 1);
	if (res.killed)
		atomic_add_relaxed(&s->ends[SOAK_END_killed], 1);
	else if (res.exit_code == 0)
		atomic_add_relaxed(&s->ends[SOAK_END_code0], 1);
	else
		atomic_add_relaxed(&s->ends[SOAK_END_error], 1);

	lpv_mutex_lock(&s->lock);
	if (!res.killed && res.exit_code && !s->nr_inject) {
		/* Without injected failures a guest or boot error is a bug
		 * unless the host simply had no memory for the boot. */
		if (res.error != -ENOMEM) {
			s->guest_errors_uninjected++;
			s->violations++;
			fprintf(stderr, "lazypv soak: wave %u slot %u: %s guest failed without an injected failure: %s (%d)\n",
				s->wave, sl->id, vmm_destroy_mode_name(cfg.destroy),
				res.message, res.error);
		}
	}
	{
		size_t nr;
		const struct vmm_event *ev = vmm_events(vmm, &nr);

		for (size_t i = 0; i < nr; i++) {
			if (ev[i].type == VMM_EV_GUEST_START && ev[i].boot > 0)
				soak_max(&s->max_restart_ns, &s->max_restart_mode,
					 ev[i].latency_ns, cfg.destroy);
			else if (ev[i].type == VMM_EV_EXIT)
				soak_max(&s->max_exit_ns, &s->max_exit_mode,
					 ev[i].latency_ns, cfg.destroy);
		}
	}
	soak_max(&s->max_reclaim_ns, &s->max_reclaim_mode, res.reclaim_ns,
		 cfg.destroy);
	soak_vm_patterns_locked(s, vmm, im, &cfg);
	lpv_mutex_unlock(&s->lock);
	vmm_destroy(vmm);
	soak_activity_set(s, &sl->act, NULL, NULL);
}

static void *soak_slot_main(void *arg)
{
	struct soak_slot *sl = arg;
	struct soak *s = sl->soak;

	while (!atomic_load_acquire(&s->wave_stop))
		soak_vm_run(sl);
	return NULL;
}

/* ---- the hog: host pressure ---- */

#define SOAK_HOG_CHUNK 256	/* pages per allocation: 1 MiB */

static void *soak_hog_main(void *arg)
{
	struct soak *s = arg;
	struct soak_rng *r = &s->hog_rng;
	struct mm_world *world = s->host->world;
	uint64_t max = hw_nr_frames(s->host->hw);
	struct page **pages = calloc(max, sizeof(*pages));
	struct memcg *cg;
	uint64_t held = 0;

	if (!pages || memcg_create(world, "soak-hog", 0, &cg)) {
		free(pages);
		return NULL;
	}
	while (!atomic_load_acquire(&s->wave_stop)) {
		struct mm_stats st;
		uint64_t keep, ms;

		mm_stats_get(world, &st);
		/* Leave 0..64 MiB free: the VMMs' next faults meet the OOM
		 * path (lazy's notifier, then kills). */
		keep = soak_below(r, 64 << 8);
		soak_activity_set(s, &s->hog_act, "filling", "free %" PRIu64 " pages, keep %" PRIu64,
				  st.use[PAGE_USE_FREE], keep);
		while (st.use[PAGE_USE_FREE] > keep + held + SOAK_HOG_CHUNK &&
		       held + SOAK_HOG_CHUNK <= max &&
		       !atomic_load_acquire(&s->wave_stop)) {
			if (mm_page_alloc_bulk(world, 0, cg, SOAK_HOG_CHUNK,
					       pages + held))
				break;
			held += SOAK_HOG_CHUNK;
			if (held + keep + SOAK_HOG_CHUNK >= st.use[PAGE_USE_FREE])
				break;
		}
		/* Sometimes one more that may wait: the global OOM path runs
		 * on the hog's behalf too. */
		if (soak_chance(r, 30) && held + SOAK_HOG_CHUNK <= max &&
		    !mm_page_alloc_bulk(world, MM_GFP_WAIT, cg, SOAK_HOG_CHUNK,
					pages + held))
			held += SOAK_HOG_CHUNK;
		soak_count(s, SOAK_OP_hog_fill, 1);
		soak_activity_set(s, &s->hog_act, NULL, NULL);
		ms = 20 + soak_below(r, 400);
		for (uint64_t i = 0; i < ms && !atomic_load_acquire(&s->wave_stop); i++)
			usleep(1000);
		mm_page_put_bulk(world, pages, held);
		held = 0;
		soak_count(s, SOAK_OP_hog_release, 1);
		ms = soak_below(r, 300);
		for (uint64_t i = 0; i < ms && !atomic_load_acquire(&s->wave_stop); i++)
			usleep(1000);
	}
	if (memcg_destroy(cg))
		fprintf(stderr, "lazypv soak: the hog's memcg is still in use\n");
	free(pages);
	return NULL;
}

/* ---- a wave ---- */

/* The guest programs a wave's images carry (touch writes the per-boot
 * pattern the scan looks for; rounds and mib say where and how often). */
static const struct {
	const char *program;
	unsigned int rounds;
	uint64_t mib;
} soak_programs[SOAK_NR_IMAGES] = {
	{ "touch:mib=8,rounds=1,then=reboot", 1, 8 },
	{ "touch:mib=4,rounds=2,then=reboot", 2, 4 },
	{ "touch:mib=8,rounds=1,then=reset0", 1, 8 },
	{ "touch:mib=6,rounds=1,then=reset1", 1, 6 },
	{ "touch:mib=4,rounds=1,then=clear", 1, 4 },
	{ "touch:mib=12,rounds=1,then=poweroff", 1, 12 },
	{ "idle", 0, 0 },
};

/* The UV commands failures are injected into, with how likely per call
 * (calls per page get the small rates) and the rc returned. */
static const struct {
	uint16_t cmd;
	bool per_page;
	uint16_t rc;
} soak_injectable[] = {
	{ UVC_CMD_CREATE_SEC_CONF, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CREATE_SEC_CONF, false, UVC_RC_NEED_DESTROY | UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CONF, false, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CONF_FAST, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CREATE_SEC_CPU, false, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CPU, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CONV_TO_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_CONV_FROM_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTR_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_SET_SEC_CONF_PARAMS, false, UVC_RC_INV_STATE },
	{ UVC_CMD_UNPACK_IMG, true, UVC_RC_INV_STATE },
	{ UVC_CMD_VERIFY_IMG, false, UVC_RC_INV_STATE },
	{ UVC_CMD_PREPARE_RESET, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_RESET_CLEAR, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_RESET_INITIAL, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_SET_STATE, false, UVC_RC_INV_STATE },
	{ UVC_CMD_SET_UNSHARE_ALL, false, UVC_RC_INV_STATE },
};

/* Append to a NUL-terminated buffer, truncating. */
static void soak_strcat(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	if (n + 1 < len)
		snprintf(buf + n, len - n, "%s", s);
}

static bool soak_injected_cmd(const struct soak *s, uint16_t cmd)
{
	for (unsigned int i = 0; i < s->nr_inject; i++)
		if (s->inject_cmds[i] == cmd)
			return true;
	return false;
}

/*
 * Is a leak of @reason explained by a failure injected into this wave?
 * Each reason names the UV calls whose failure leaks on purpose (mm.h,
 * the call sites of mm_page_leak).
 */
static bool soak_leak_explained(const struct soak *s, enum mm_leak_reason reason)
{
	switch (reason) {
	case MM_LEAK_destroy_failed:
		/* A set-aside page whose destroy failed and whose export
		 * fallback failed too: the destroy fails by itself while a
		 * CPU whose destroy failed is still counted. */
		return soak_injected_cmd(s, UVC_CMD_DESTR_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       (soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU) &&
			soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR));
	case MM_LEAK_export_failed:
		return soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR);
	case MM_LEAK_conf_destroy_failed:
		return soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF_FAST) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU);
	case MM_LEAK_cpu_destroy_failed:
		return soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU);
	case MM_LEAK_secure_at_free:
		return soak_injected_cmd(s, UVC_CMD_DESTR_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF_FAST);
	default:
		return s->nr_inject > 0;
	}
}

/* A host's firmware: zero or default costs, INIT storage anywhere (a
 * host of 1 GiB), and on two hosts of three failures injected into one
 * to three commands. */
static int soak_wave_profile(struct soak *s, struct soak_rng *r,
			     struct uv_profile *p)
{
	int ret;

	s->profile_base = soak_chance(r, 25) ? "default" : "zero";
	ret = uv_profile_builtin(s->profile_base, p);
	if (ret)
		return ret;
	p->init_min_origin = 0;
	s->nr_inject = 0;
	snprintf(s->profile_desc, sizeof(s->profile_desc), "profile %s",
		 s->profile_base);
	if (soak_chance(r, 33))
		return 0;
	for (unsigned int n = 1 + (unsigned int)soak_below(r, 3); n; n--) {
		unsigned int k = (unsigned int)soak_below(r, ARRAY_SIZE(soak_injectable));
		struct uv_inject *in = &p->inject[p->nr_inject++];

		*in = (struct uv_inject){
			.cmd = soak_injectable[k].cmd,
			.seed = soak_rand(r),
			.cc = 1,
			.rc = soak_injectable[k].rc,
		};
		if (soak_chance(r, 20))
			in->nth = 1 + soak_below(r, soak_injectable[k].per_page ? 20000 : 40);
		else if (soak_injectable[k].per_page)
			in->prob = 0.0001 * (double)(1 + soak_below(r, 20));
		else
			in->prob = 0.002 * (double)(1 + soak_below(r, 10));
		s->inject_cmds[s->nr_inject++] = in->cmd;
		soak_strcat(s->profile_desc, sizeof(s->profile_desc), ", inject ");
		soak_strcat(s->profile_desc, sizeof(s->profile_desc), uv_cmd_name(in->cmd));
		{
			char b[64];

			if (in->nth)
				snprintf(b, sizeof(b), " nth=%" PRIu64 " rc=%#x", in->nth, in->rc);
			else
				snprintf(b, sizeof(b), " prob=%g rc=%#x", in->prob, in->rc);
			soak_strcat(s->profile_desc, sizeof(s->profile_desc), b);
		}
	}
	return 0;
}

static int soak_wave_images(struct soak *s, uint64_t nonce)
{
	char err[200];

	for (unsigned int i = 0; i < SOAK_NR_IMAGES; i++) {
		struct soak_image *im = &s->images[i];
		struct vmm_image_spec spec = {
			.program = soak_programs[i].program,
			.default_payload_len = 64 << 10,
			.nonce = nonce + i + 1,
		};

		im->program = soak_programs[i].program;
		im->rounds = soak_programs[i].rounds;
		im->touch_mib = soak_programs[i].mib;
		if (vmm_image_build(&spec, s->host->host_pub, &im->buf, &im->len,
				    err, sizeof(err)) ||
		    vmm_image_parse(im->buf, im->len, &im->img, err, sizeof(err))) {
			fprintf(stderr, "lazypv soak: image %s: %s\n", im->program, err);
			return -EINVAL;
		}
	}
	return 0;
}

static void soak_violation(struct soak *s, const char *fmt, ...) __printf_like(2, 3);

static void soak_violation(struct soak *s, const char *fmt, ...)
{
	va_list ap;

	s->violations++;
	fprintf(stderr, "lazypv soak: VIOLATION (seed %" PRIu64 ", wave %u, %s): ",
		s->o.seed, s->wave, s->profile_desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The quiescent point at the end of a wave: every VMM waited for. */
static void soak_wave_check(struct soak *s, const struct mm_stats *before)
{
	struct mm_stats now;
	struct uv_stats us;
	uint64_t leaked = 0, found, scanned = 0;
	int ret;

	soak_activity_set(s, &s->main_act, "checking", "wave %u", s->wave);
	s->checks++;
	ret = vmm_host_check(s->host);
	if (ret)
		soak_violation(s, "vmm_host_check: %s", strerror(-ret));

	mm_stats_get(s->host->world, &now);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++) {
		uint64_t d = now.leaked[i] - before->leaked[i];

		leaked += d;
		s->leaked[i] += d;
		if (d && !soak_leak_explained(s, i)) {
			s->unexplained_leaks += d;
			soak_violation(s, "%" PRIu64 " frames leaked (%s) with no failure injected that explains it",
				       d, mm_leak_reason_name(i));
		}
	}
	/* Frame conservation: every frame is where it was before the wave,
	 * except those leaked on purpose. */
	s->checks++;
	if (now.use[PAGE_USE_FREE] + leaked != before->use[PAGE_USE_FREE] ||
	    now.use[PAGE_USE_PENDING] || now.use[PAGE_USE_ANON] != before->use[PAGE_USE_ANON] ||
	    now.use[PAGE_USE_DONATED] != before->use[PAGE_USE_DONATED] ||
	    now.use[PAGE_USE_KERNEL] != before->use[PAGE_USE_KERNEL])
		soak_violation(s, "frames not back: free %" PRIu64 " + leaked %" PRIu64 " vs %" PRIu64
			       ", pending %" PRIu64 ", anon %" PRIu64 " vs %" PRIu64
			       ", kernel %" PRIu64 " vs %" PRIu64 ", donated %" PRIu64 " vs %" PRIu64,
			       now.use[PAGE_USE_FREE], leaked, before->use[PAGE_USE_FREE],
			       now.use[PAGE_USE_PENDING], now.use[PAGE_USE_ANON],
			       before->use[PAGE_USE_ANON], now.use[PAGE_USE_KERNEL],
			       before->use[PAGE_USE_KERNEL], now.use[PAGE_USE_DONATED],
			       before->use[PAGE_USE_DONATED]);
	soak_count(s, SOAK_OP_oom_kill, now.oom_kills - before->oom_kills);
	uv_stats_get(s->host->uv, &us);
	soak_count(s, SOAK_OP_injected, us.injected - s->host_injected);
	s->host_injected = us.injected;

	/* No frame handed back holds a protected guest's plaintext. */
	s->checks++;
	if (s->o.plant && s->wave == 0)
		soak_scan_plant(s->host, &s->patterns);
	found = soak_scan_free(s->host, &s->patterns, &scanned, stderr);
	s->frames_scanned += scanned;
	if (s->patterns.n > s->patterns_max)
		s->patterns_max = s->patterns.n;
	if (found) {
		s->plaintext_found += found;
		soak_violation(s, "plaintext found in %" PRIu64 " free frame%s",
			       found, found == 1 ? "" : "s");
	}
	soak_activity_set(s, &s->main_act, NULL, NULL);
}

/* One wave on the current host: VMMs and the hog until @end_ns, then the
 * quiescent point. */
static void soak_wave(struct soak *s, uint64_t end_ns)
{
	struct mm_stats before;
	struct soak_rng r;
	pthread_t hog;

	mm_stats_get(s->host->world, &before);
	soak_pset_reset(&s->patterns);
	atomic_store_release(&s->wave_stop, false);

	soak_rng_init(&r, s->o.seed, s->wave, 1001);
	soak_rng_init(&s->hog_rng, s->o.seed, s->wave, 2000);
	s->hog_on = soak_chance(&r, 70);
	if (s->hog_on && pthread_create(&hog, NULL, soak_hog_main, s))
		s->hog_on = false;
	for (unsigned int i = 0; i < s->o.vms; i++) {
		struct soak_slot *sl = &s->slots[i];

		sl->soak = s;
		sl->id = i;
		soak_rng_init(&sl->rng, s->o.seed, s->wave, i);
		if (pthread_create(&sl->thread, NULL, soak_slot_main, sl)) {
			fprintf(stderr, "lazypv soak: cannot start a thread\n");
			exit(1);
		}
	}
	while (lpv_now_ns() < end_ns) {
		usleep(100 * 1000);
		if (s->progress)
			fprintf(stderr, "\rlazypv soak: wave %u, %.0f s, %" PRIu64 " operations, %" PRIu64 " violations ",
				s->wave, (double)(lpv_now_ns() - s->t0_ns) / 1e9,
				soak_ops_total(s), s->violations);
	}
	atomic_store_release(&s->wave_stop, true);
	soak_activity_set(s, &s->main_act, "joining the slots", "wave %u", s->wave);
	for (unsigned int i = 0; i < s->o.vms; i++)
		pthread_join(s->slots[i].thread, NULL);
	if (s->hog_on)
		pthread_join(hog, NULL);
	soak_activity_set(s, &s->main_act, NULL, NULL);

	soak_wave_check(s, &before);
	s->waves++;
}

/*
 * One host (one firmware profile, its injected failures) for
 * SOAK_WAVES_PER_HOST waves: a host's first scan reads every frame once,
 * which costs what populating it does; later ones only read.
 */
#define SOAK_WAVES_PER_HOST 3

static int soak_host(struct soak *s, unsigned int nr, uint64_t deadline_ns)
{
	struct soak_rng r;
	struct uv_profile prof;
	struct vmm_host_config hc = {
		.host_mem = s->o.host_mem,
		.uv_profile_value = &prof,
		.uv_seed = "soak",
	};
	char err[200] = "";
	int ret;

	soak_rng_init(&r, s->o.seed, nr, 1000);
	ret = soak_wave_profile(s, &r, &prof);
	if (ret)
		return ret;
	soak_activity_set(s, &s->main_act, "vmm_host_create", "host %u", nr);
	ret = vmm_host_create(&hc, &s->host, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "lazypv soak: host: %s\n", err);
		return ret;
	}
	s->host_injected = 0;
	ret = soak_wave_images(s, soak_rand(&r));
	soak_activity_set(s, &s->main_act, NULL, NULL);
	for (unsigned int i = 0; !ret && i < SOAK_WAVES_PER_HOST &&
	     lpv_now_ns() < deadline_ns; i++, s->wave++) {
		uint64_t end = lpv_now_ns() + s->o.wave_s * 1000000000ULL;

		soak_wave(s, end < deadline_ns ? end : deadline_ns);
	}
	for (unsigned int i = 0; i < SOAK_NR_IMAGES; i++) {
		free(s->images[i].buf);
		s->images[i].buf = NULL;
	}
	soak_activity_set(s, &s->main_act, "vmm_host_destroy", "host %u", nr);
	vmm_host_destroy(s->host);
	s->host = NULL;
	soak_activity_set(s, &s->main_act, NULL, NULL);
	s->hosts++;
	return ret;
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

/* Returns true if --help was asked for (and printed). */
static bool soak_parse(int argc, char **argv, struct soak_opts *o)
{
	struct lpv_cl_result res;
	bool help, seeded;

	*o = soak_defaults;
	help = tool_parse_options(&cmd_soak_cl, argc, argv, o, &res);
	seeded = lpv_cl_given(&cmd_soak_cl, &res, "seed");
	lpv_cl_release(&res);
	if (help)
		return true;
	if (o->host_mem > hw_backable_bytes()) {
		char a[32], b[32];

		tool_usage_error("soak", "--host-mem %s is out of range: this machine can back at most %s now",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(hw_backable_bytes(), b, sizeof(b)));
	}
	if (!seeded)
		o->seed = soak_mix(lpv_now_ns() ^ ((uint64_t)getpid() << 32)) >> 1;
	return false;
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
	if (soak_parse(argc, argv, &s->o)) {
		free(s);
		return 0;
	}
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
