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
 * Each slot and the hog draw from their own random stream.  soak.lock
 * protects the activities, the pattern set and the maxima; the counters
 * VMM event callbacks bump are atomics.
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
#include "vmm/vmm.h"

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
	enum soak_end end;
	bool we_killed = false;
	char err[200];
	int ret;

	vm.mode = cfg.destroy;
	/* A limit between what the boot needs and what the program touches:
	 * the touch runs into it (memcg OOM kill) or just fits. */
	if (soak_chance(r, 20))
		cfg.memcg_limit = vmm_boot_min_bytes(host_vmm_env(s->host), &cfg) +
				  (soak_below(r, im->touch_mib + 4) << 20);
	if (vmm_config_check(host_vmm_env(s->host), &cfg, err, sizeof(err))) {
		/* The memory left under the hog's pressure is the only reason
		 * a config of these sizes is refused. */
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		atomic_add_relaxed(&s->ends_by_mode[cfg.destroy][SOAK_END_create_failed], 1);
		soak_vm_sleep(s, &vm, 5);
		return;
	}
	soak_activity_set(s, &sl->act, "vmm_create", "%s, %s, %" PRIu64 " MiB, %u vCPUs",
			  vmm_destroy_mode_name(cfg.destroy), im->program,
			  cfg.guest_mem >> 20, cfg.cpus);
	ret = vmm_create(host_vmm_env(s->host), &cfg, &vmm);
	if (ret) {
		atomic_add_relaxed(&s->ends[SOAK_END_create_failed], 1);
		atomic_add_relaxed(&s->ends_by_mode[cfg.destroy][SOAK_END_create_failed], 1);
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
			we_killed = true;
		}
		break;
	}
	if (!atomic_load_acquire(&vm.exiting)) {
		if (soak_chance(r, 60)) {
			if (!vmm_request_shutdown(vmm))
				soak_count(s, SOAK_OP_host_shutdown, 1);
		} else if (!vmm_kill(vmm)) {
			soak_count(s, SOAK_OP_kill, 1);
			we_killed = true;
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
	end = res.killed ? SOAK_END_killed :
	      res.exit_code == 0 ? SOAK_END_code0 : SOAK_END_error;
	atomic_add_relaxed(&s->ends[end], 1);
	atomic_add_relaxed(&s->ends_by_mode[cfg.destroy][end], 1);
	/* A kill the slot did not ask for: the OOM killer's (a kill that
	 * lands on a VMM the OOM killer took first counts as the slot's). */
	if (res.killed && !we_killed)
		atomic_add_relaxed(&s->oom_killed_by_mode[cfg.destroy], 1);
	if (s->nr_inject)
		atomic_add_relaxed(&s->injected_by_mode[cfg.destroy], 1);

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

