// SPDX-License-Identifier: MIT
/*
 * soak_vm.c - `lazypv soak`'s slots and hog.  A slot thread starts VMMs
 * one after the other on the wave's host, each in its own memcg and a
 * random teardown mode, and ends each one way or another (external resets,
 * a shutdown request, a kill from outside, the guest's own power-off, an
 * OOM kill, an injected failure), recording the words its touch guests
 * wrote for the plaintext scan.  The hog takes most of the free memory
 * into a memcg of its own, holds it, and lets it go.
 *
 * A VMM's life goes through the public API over the wave's host (its
 * callbacks run on the library's event thread).  Each slot and the hog
 * draw from their own random stream.  soak.lock protects the activities,
 * the pattern set and the maxima; the counters the event callbacks bump
 * are atomics.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/host.h"
#include "lib/lib.h"
#include "soak.h"
#include "tools.h"

/* ---- one VMM's life ---- */

static void soak_vm_event(void *ctx, const struct lpv_event *ev)
{
	struct soak_vm *vm = ctx;
	struct soak *s = vm->soak;

	switch (ev->type) {
	case LPV_EVENT_BOOTED:
		soak_count(s, SOAK_OP_boot, 1);
		atomic_add_relaxed(&vm->boots, 1);
		break;
	case LPV_EVENT_REBOOT:
		if (ev->subcode != LPV_REBOOT_HOST)
			soak_count(s, SOAK_OP_guest_request, 1);
		break;
	case LPV_EVENT_SHUTDOWN:
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

static void soak_max(uint64_t *max, unsigned int *mode, uint64_t v,
		     unsigned int m)
{
	if (v > *max) {
		*max = v;
		*mode = m;
	}
}

/* Under soak.lock: the plaintext this VM's protected guests wrote. */
static void soak_vm_patterns_locked(struct soak *s, struct lpv_vm *lvm,
				    const struct lpv_event *ev, size_t nr,
				    const struct soak_image *im,
				    const struct lpv_vm_config *cfg)
{
	uint64_t end = im->guest_end + ((im->touch_mib + 1) << 20);

	if (!im->rounds)
		return;
	if (end > cfg->guest_mem)
		end = cfg->guest_mem;
	for (size_t i = 0; i < nr; i++) {
		if (ev[i].type != LPV_EVENT_BOOTED || !ev[i].protected_guest)
			continue;
		soak_pset_add_guest(&s->patterns,
				    lpv_vm_boot_key(lvm, ev[i].boot), end,
				    im->rounds);
	}
}

/* A cleaned-up VM's timeline, malloc'd (NULL, *nr 0: none). */
static struct lpv_event *soak_vm_timeline(struct lpv_vm *lvm, size_t *nr)
{
	long n = lpv_vm_timeline(lvm, NULL, 0);
	struct lpv_event *ev = n > 0 ? calloc((size_t)n, sizeof(*ev)) : NULL;

	*nr = 0;
	if (ev && lpv_vm_timeline(lvm, ev, (size_t)n) == n)
		*nr = (size_t)n;
	return ev;
}

static void soak_vm_run(struct soak_slot *sl)
{
	struct soak *s = sl->soak;
	struct soak_rng *r = &sl->rng;
	unsigned int imgi = (unsigned int)soak_below(r, SOAK_NR_IMAGES);
	const struct soak_image *im = &s->images[imgi];
	struct soak_vm vm = { .soak = s };
	struct lpv_vm_config cfg;
	unsigned int actions;
	struct lpv_vm_result res;
	struct lpv_event *ev;
	struct lpv_vm *lvm;
	const char *mode;
	uint64_t min;
	size_t nr;
	int ret;

	lpv_vm_config_init(&cfg);
	cfg.guest_mem = (16 + soak_below(r, 17)) << 20;
	cfg.cpus = 1 + (unsigned int)soak_below(r, 2);
	vm.mode = (unsigned int)soak_below(r, LPV_TEARDOWN_MODES);
	mode = tool_destroy_name(vm.mode);
	cfg.teardown = mode;
	cfg.program = im->program;
	cfg.image = im->img;
	cfg.plain_program = "touch:mib=2,rounds=1,then=reboot";
	cfg.max_reboots = soak_chance(r, 50) ? -1 : (int)soak_below(r, 6);
	cfg.salt = soak_rand(r) | 1;
	cfg.reclaim_timeout_ms = s->o.hang_s * 1000 / 2;
	cfg.helper_poll_ms = 10 + soak_below(r, 100);
	cfg.on_event = soak_vm_event;
	cfg.event_ctx = &vm;
	actions = (unsigned int)soak_below(r, 8);
	/* A limit between what the boot needs and what the program touches:
	 * the touch runs into it (memcg OOM kill) or just fits. */
	if (soak_chance(r, 20) && !lpv_vm_memcg_min(s->lh, &cfg, &min))
		cfg.memcg_limit = min + (soak_below(r, im->touch_mib + 4) << 20);
	if (lpv_vm_create(s->lh, &cfg, &lvm)) {
		/* The memory left under the hog's pressure is the only reason
		 * a config of these sizes is refused. */
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		soak_vm_sleep(s, &vm, 5);
		return;
	}
	soak_activity_set(s, &sl->act, "lpv_vm_boot", "%s, %s, %" PRIu64 " MiB, %u vCPUs",
			  mode, im->program, cfg.guest_mem >> 20, cfg.cpus);
	/* -ESRCH: it started and ended before its first instruction (an
	 * injected failure, a memcg OOM kill): a life like any other. */
	ret = lpv_vm_boot(lvm);
	if (ret && ret != -ESRCH) {
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		soak_activity_set(s, &sl->act, NULL, NULL);
		lpv_vm_destroy(lvm);
		soak_vm_sleep(s, &vm, 5);
		return;
	}
	soak_count(s, SOAK_OP_vm_create, 1);
	atomic_add_relaxed(&s->vms_by_mode[vm.mode], 1);
	soak_activity_set(s, &sl->act, "driving a VMM", "%s, %s, %" PRIu64 " MiB, %u vCPUs",
			  mode, im->program, cfg.guest_mem >> 20, cfg.cpus);

	for (unsigned int i = 0; i < actions; i++) {
		unsigned int a = (unsigned int)soak_below(r, 100);

		if (!soak_vm_sleep(s, &vm, 1 + soak_below(r, 60)))
			break;
		if (a < 45)
			continue;
		if (a < 70) {
			/* Returns once the new guest runs. */
			if (!lpv_vm_reboot(lvm))
				soak_count(s, SOAK_OP_host_reset, 1);
			continue;
		}
		if (a < 85) {
			if (!lpv_vm_shutdown(lvm))
				soak_count(s, SOAK_OP_host_shutdown, 1);
		} else if (!lpv_vm_kill(lvm)) {
			soak_count(s, SOAK_OP_kill, 1);
		}
		break;
	}
	if (!atomic_load_acquire(&vm.exiting)) {
		if (soak_chance(r, 60)) {
			if (!lpv_vm_shutdown(lvm))
				soak_count(s, SOAK_OP_host_shutdown, 1);
		} else if (!lpv_vm_kill(lvm)) {
			soak_count(s, SOAK_OP_kill, 1);
		}
	}

	soak_activity_set(s, &sl->act, "lpv_vm_wait_cleanup", "%s, %s, %" PRIu64 " MiB, %" PRIu64 " boots",
			  mode, im->program, cfg.guest_mem >> 20,
			  atomic_load_relaxed(&vm.boots));
	ret = lpv_vm_wait_cleanup(lvm, LPV_WAIT_FOREVER);
	if (!ret)
		ret = lpv_vm_result(lvm, &res);
	if (ret) {
		/* Reclaim did not finish in time: the wait is bounded, the
		 * memory is not back -- a hang of the teardown. */
		lpv_mutex_lock(&s->lock);
		fprintf(stderr, "lazypv soak: HANG (seed %" PRIu64 ", wave %u, %s, slot %u): lpv_vm_wait_cleanup: %s (%s, %s)\n",
			s->o.seed, s->wave, s->profile_desc, sl->id,
			lpv_vm_last_error(lvm), mode, im->program);
		s->hangs++;
		s->violations++;
		soak_report(s, stdout);
		fflush(stdout);
		_exit(3);
	}
	soak_count(s, SOAK_OP_exit, 1);
	if (res.exit.killed)
		atomic_add_relaxed(&s->ends[SOAK_END_killed], 1);
	else if (res.exit.code == 0)
		atomic_add_relaxed(&s->ends[SOAK_END_code0], 1);
	else
		atomic_add_relaxed(&s->ends[SOAK_END_error], 1);

	ev = soak_vm_timeline(lvm, &nr);
	lpv_mutex_lock(&s->lock);
	if (!res.exit.killed && res.exit.code && !s->nr_inject) {
		/* Without injected failures a guest or boot error is a bug
		 * unless the host simply had no memory for the boot. */
		if (res.exit.error != -ENOMEM) {
			s->guest_errors_uninjected++;
			s->violations++;
			fprintf(stderr, "lazypv soak: wave %u slot %u: %s guest failed without an injected failure: %s (%d)\n",
				s->wave, sl->id, mode, res.exit.message,
				res.exit.error);
		}
	}
	for (size_t i = 0; i < nr; i++) {
		if (ev[i].type == LPV_EVENT_BOOTED && ev[i].boot > 0)
			soak_max(&s->max_restart_ns, &s->max_restart_mode,
				 ev[i].latency_ns, vm.mode);
		else if (ev[i].type == LPV_EVENT_EXIT)
			soak_max(&s->max_exit_ns, &s->max_exit_mode,
				 ev[i].latency_ns, vm.mode);
	}
	soak_max(&s->max_reclaim_ns, &s->max_reclaim_mode, res.reclaim_ns,
		 vm.mode);
	soak_vm_patterns_locked(s, lvm, ev, nr, im, &cfg);
	lpv_mutex_unlock(&s->lock);
	free(ev);
	/* Its callbacks have all run when this returns: vm may go. */
	lpv_vm_destroy(lvm);
	soak_activity_set(s, &sl->act, NULL, NULL);
}

void *soak_slot_main(void *arg)
{
	struct soak_slot *sl = arg;
	struct soak *s = sl->soak;

	while (!atomic_load_acquire(&s->wave_stop))
		soak_vm_run(sl);
	return NULL;
}

/* ---- the hog: host pressure ---- */

#define SOAK_HOG_CHUNK 256	/* pages per allocation: 1 MiB */

void *soak_hog_main(void *arg)
{
	struct soak *s = arg;
	struct soak_rng *r = &s->hog_rng;
	struct host_hog *hog;

	if (host_hog_create(s->host, "soak-hog", &hog))
		return NULL;
	while (!atomic_load_acquire(&s->wave_stop)) {
		uint64_t keep, ms, free_now = host_free_frames(s->host);

		/* Leave 0..64 MiB free: the VMMs' next faults meet the OOM
		 * path (lazy's notifier, then kills). */
		keep = soak_below(r, 64 << 8);
		soak_activity_set(s, &s->hog_act, "filling", "free %" PRIu64 " pages, keep %" PRIu64,
				  free_now, keep);
		while (free_now > keep + host_hog_held(hog) + SOAK_HOG_CHUNK &&
		       !atomic_load_acquire(&s->wave_stop)) {
			if (host_hog_take(hog, SOAK_HOG_CHUNK, false))
				break;
			if (host_hog_held(hog) + keep + SOAK_HOG_CHUNK >= free_now)
				break;
		}
		/* Sometimes one more that may wait: the global OOM path runs
		 * on the hog's behalf too. */
		if (soak_chance(r, 30))
			ignore_result(host_hog_take(hog, SOAK_HOG_CHUNK, true));
		soak_count(s, SOAK_OP_hog_fill, 1);
		soak_activity_set(s, &s->hog_act, NULL, NULL);
		ms = 20 + soak_below(r, 400);
		for (uint64_t i = 0; i < ms && !atomic_load_acquire(&s->wave_stop); i++)
			usleep(1000);
		host_hog_release(hog);
		soak_count(s, SOAK_OP_hog_release, 1);
		ms = soak_below(r, 300);
		for (uint64_t i = 0; i < ms && !atomic_load_acquire(&s->wave_stop); i++)
			usleep(1000);
	}
	if (host_hog_destroy(hog))
		fprintf(stderr, "lazypv soak: the hog's memcg is still in use\n");
	return NULL;
}

