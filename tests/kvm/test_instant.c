// SPDX-License-Identifier: MIT
/*
 * test_instant.c - lazypv's own teardown, instant: DISABLE and the VM's
 * close touch no page (the workers are held at a gate to show it); the
 * new guest meets the old guest's pages before the workers and gets them
 * cleared on demand; workers split a guest over disjoint chunks; a
 * shutdown frees memory while an allocation waits for it (global and
 * memcg OOM) instead of killing; failures on the new call sites are
 * leaked, counted and listed with their rc/rrc; workers yield only to
 * vCPUs in KVM_RUN; a scrub deadline escalates a late job and reports
 * the miss; the CPU time goes to the owner task and its memcg; an OOM
 * kill of the VMM during cleanup.  Every scenario ends with the
 * invariants (kfix_fini: mm, UV, hw) and no plaintext left.
 */
#include "kvm/fixture.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define HIGH_GADDR (3 * GIB)

static struct kfix_opts big(void)
{
	return (struct kfix_opts){ .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
				   .mode = KVM_DESTROY_INSTANT };
}

/* Workers stop before every chunk until the gate opens. */
struct chunk_gate {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	bool open;
	unsigned int arrived;
	unsigned int max_worker;	/* highest worker number seen */
	uint64_t chunks;		/* chunks started */
};

static void chunk_gate_hook(void *ctx, unsigned int worker, uint64_t chunk)
{
	struct chunk_gate *g = ctx;

	(void)chunk;
	lpv_mutex_lock(&g->lock);
	g->arrived++;
	g->chunks++;
	if (worker > g->max_worker)
		g->max_worker = worker;
	lpv_cond_broadcast(&g->cond);
	while (!g->open)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void chunk_gate_init(struct kfix *f, struct chunk_gate *g, bool open)
{
	struct kvm_test_hooks h = { .instant_chunk = chunk_gate_hook, .ctx = g };

	memset(g, 0, sizeof(*g));
	lpv_mutex_init(&g->lock);
	lpv_cond_init(&g->cond);
	g->open = open;
	kvm_module_set_test_hooks(f->mod, &h);
}

static void chunk_gate_wait(struct chunk_gate *g, unsigned int n)
{
	lpv_mutex_lock(&g->lock);
	while (g->arrived < n)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void chunk_gate_open(struct chunk_gate *g)
{
	lpv_mutex_lock(&g->lock);
	g->open = true;
	lpv_cond_broadcast(&g->cond);
	lpv_mutex_unlock(&g->lock);
}

static void chunk_gate_fini(struct kfix *f, struct chunk_gate *g)
{
	kvm_module_drain(f->mod);
	kvm_module_set_test_hooks(f->mod, NULL);
	lpv_cond_deinit(&g->cond);
	lpv_mutex_deinit(&g->lock);
}

/* No frame of guest memory holds a byte of the old pattern. */
static void assert_no_plaintext(struct kfix *f, uint64_t gaddr, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		struct uv_frame_info fi = kfix_frame_info(f, gaddr + i * HW_PAGE_SIZE);
		struct page *page;
		uint8_t buf[64];

		/* A frame the UV still holds is hidden from the host. */
		if (fi.state != UV_FRAME_NONSECURE)
			continue;
		page = kfix_ram_page(f, gaddr + i * HW_PAGE_SIZE);
		if (!page)
			continue;
		memcpy(buf, mm_page_host(f->world, page), sizeof(buf));
		mm_page_put(f->world, page);
		for (size_t j = 0; j < sizeof(buf); j++)
			ASSERT_EQ(buf[j], 0);
	}
}

/*
 * Reboot: DISABLE sets the config aside and touches no page (the
 * workers wait at the gate); the new guest's image, prefix and data
 * pages are made usable on demand, cleared; then the workers finish.
 * An import or UNPACK that meets rc 0x0104 destroys the frame itself, a
 * 0x3f does too; with MISC the UV takes an imported frame over, cleared.
 */
TEST_IMPL(kvm_instant_reboot_touches_no_page)
{
	for (int misc = 0; misc < 2; misc++) {
		struct kfix_opts o = big();
		struct chunk_gate g;
		struct uv_stats u0, u1;
		struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };
		struct kvm_stats ks, ks0;
		struct kfix f;

		o.no_misc = !misc;
		kfix_init(&f, &o);
		ASSERT_EQ(f.mode, KVM_DESTROY_INSTANT);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, 0, 64, 7, true);		/* prefix, low pages */
		kfix_touch(&f, HIGH_GADDR, 300, 8, true);
		uv_stats_get(f.uv, &u0);
		ASSERT_OK(kvm_pv_command(f.kvm, &cmd));
		ASSERT_XEQ(cmd.rc, UVC_RC_EXECUTED);
		ASSERT_XEQ(cmd.rrc, KVM_PV_RRC_DEFERRED);
		uv_stats_get(f.uv, &u1);
		/* O(1): no page destroyed, exported or cleaned */
		ASSERT_UEQ(u1.destroys, u0.destroys);
		ASSERT_UEQ(u1.exports, u0.exports);
		ASSERT_UEQ(u1.conf_pages_cleaned, u0.conf_pages_cleaned);
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 1);
		ASSERT_UEQ(kvm_instant_pending_bytes(f.mod), 4 * GIB);
		ASSERT_UEQ(kvm_instant_mm_pending_bytes(f.mod, f.mm), 4 * GIB);
		/* The new guest, before any worker moved; the image loaded
		 * by the VMM's thread (host accesses are the VMM's). */
		ks0 = kfix_kstats(&f);
		ASSERT_OK(task_thread_enter(f.vmm));
		kfix_boot_protected(&f);
		task_thread_leave(f.vmm);
		kfix_touch(&f, 0, 64, 0, false);	/* zeros: cleared */
		kfix_touch(&f, HIGH_GADDR, 300, 0, false);
		ks = kfix_kstats(&f);
		uv_stats_get(f.uv, &u1);
		/* data pages: 0x3f; image pages: UNPACK refused (0x0104);
		 * prefix pages: import refused (0x0104), or taken over */
		ASSERT_GE(ks.instant_on_demand + u1.imports_transfer - u0.imports_transfer,
			  64 + 300);
		if (!misc)
			ASSERT_UEQ(u1.imports_transfer, u0.imports_transfer);
		ASSERT_UEQ(ks.export_before_import, 0);
		/* The image written over old secure pages: destroyed, never
		 * exported (encrypted for nobody). */
		ASSERT_UEQ(ks.exports, ks0.exports);
		ASSERT_GE(ks.pgm_3d - ks0.pgm_3d, KFIX_IMAGE_PAGES);
		ASSERT_UEQ(ks.instant_pages, 0);	/* workers still held */
		chunk_gate_open(&g);
		chunk_gate_fini(&f, &g);
		ASSERT_UEQ(kvm_instant_pending_bytes(f.mod), 0);
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 0);
		/* The new guest's data survived the workers. */
		kfix_touch(&f, HIGH_GADDR, 300, 0, false);
		ASSERT_OK(kfix_disable(&f));
		kvm_module_drain(f.mod);
		assert_no_plaintext(&f, HIGH_GADDR, 300);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * The boot hold: after a reboot the workers wait for the new boot -- the
 * image load, config, unpack and verify run with no worker beside them
 * (what those touch is destroyed on demand) -- and start at the first
 * KVM_RUN; a VM that never runs again releases them at
 * instant_boot_hold_ms instead, and its job ends.
 */
TEST_IMPL(kvm_instant_reboot_workers_wait_for_boot)
{
	for (int runs = 1; runs >= 0; runs--) {
		struct kfix_opts o = big();
		struct kvm_params p;
		struct kvm_stats ks;
		struct kfix f;

		ASSERT_OK(kvm_params_init(&p));
		/* Released by the run, or by a short hold. */
		p.instant_boot_hold_ms = runs ? 600000 : 50;
		o.params = &p;
		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		/* 600 pages made secure; the new guest touches 300 of them. */
		kfix_touch(&f, HIGH_GADDR, 600, 5, true);
		ASSERT_OK(kfix_disable(&f));
		ks = kfix_kstats(&f);
		ASSERT_UEQ(ks.instant_boot_holds, 1);
		if (runs) {
			/* The whole new boot: no worker destroyed a page. */
			kfix_boot_protected(&f);
			ks = kfix_kstats(&f);
			ASSERT_UEQ(ks.instant_pages, 0);
			ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 1);
			ASSERT_UEQ(kvm_instant_pending_bytes(f.mod), 4 * GIB);
			/* A vCPU runs: the workers start and finish. */
			kfix_touch(&f, HIGH_GADDR, 300, 0, false);
		}
		kvm_module_drain(f.mod);
		ks = kfix_kstats(&f);
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 0);
		ASSERT_UEQ(kvm_instant_pending_bytes(f.mod), 0);
		ASSERT_GE(ks.instant_pages, 300);	/* the workers' */
		ASSERT_UEQ(ks.instant_boot_hold_timeouts, runs ? 0 : 1);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * The workers destroy what the new guest has not touched, while it runs;
 * pages it made secure meanwhile are refused (its config has CPUs) and
 * stay its own.  Old firmware (no FAST, no MISC): the config leaves as a
 * leftover record with a copy of the table, disposed of at the end.
 */
TEST_IMPL(kvm_instant_workers_beside_new_guest)
{
	for (int old = 0; old < 2; old++) {
		struct kfix_opts o = big();
		struct kvm_stats ks;
		struct uv_stats us;
		struct kfix f;

		o.no_fast = o.no_misc = old;
		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 600, 9, true);
		ASSERT_OK(kfix_disable(&f));
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 200, 10, true);
		kvm_module_drain(f.mod);
		ks = kfix_kstats(&f);
		ASSERT_UEQ(ks.instant_jobs, 1);
		ASSERT_GE(ks.instant_pages + ks.instant_on_demand, 400);
		ASSERT_UEQ(ks.fast_destroys, old ? 0 : 1);
		ASSERT_UEQ(ks.leftovers_disposed, 1);
		ASSERT_GT(ks.instant_cpu_ns, 0);
		/* Its data is intact; the rest is cleared. */
		kfix_touch(&f, HIGH_GADDR, 200, 10, false);
		kfix_touch(&f, HIGH_GADDR + 200 * HW_PAGE_SIZE, 400, 0, false);
		uv_stats_get(f.uv, &us);
		ASSERT_UEQ(us.configs_zombie, 0);
		ASSERT_UEQ(us.configs_live, 1);
		ASSERT_OK(kfix_disable(&f));
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * Shutdown: the VMM's exit tears nothing down (the VM holds the address
 * space); its close sets the config aside and hands the mm to the
 * workers, which unmap as they clean.  The memory stays charged to the
 * owner until freed, and the workers' CPU time is charged to it too.
 */
TEST_IMPL(kvm_instant_exit_hands_off)
{
	struct kfix_opts o = big();
	struct chunk_gate g;
	struct memcg_stats ms;
	struct uv_stats u0, u1;
	struct kvm_stats ks;
	struct kfix f;

	kfix_init(&f, &o);
	chunk_gate_init(&f, &g, false);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 1000, 11, true);
	kfix_map_side(&f, 50);
	uv_stats_get(f.uv, &u0);
	kfix_shutdown(&f);		/* the parent's wait has returned */
	uv_stats_get(f.uv, &u1);
	ASSERT_UEQ(u1.destroys, u0.destroys);
	ASSERT_UEQ(u1.exports, u0.exports);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.instant_jobs, 1);
	ASSERT_UEQ(ks.exit_exports, 0);
	/* Still charged to the owner while the workers wait. */
	ASSERT_GE(memcg_usage(f.memcg), 1000);
	ASSERT_GT(kvm_instant_pending_bytes(f.mod), 0);
	chunk_gate_open(&g);
	chunk_gate_fini(&f, &g);
	ks = kfix_kstats(&f);
	ASSERT_GE(ks.instant_pages, 1000);
	ASSERT_GE(ks.instant_unmapped, 1000);
	/* At a close the config is set aside whole (no FAST) and the UV
	 * cleans it in bulk, DESTROY_SEC_CONF a step at a time. */
	ASSERT_UEQ(ks.fast_destroys, 0);
	ASSERT_GE(ks.instant_bulk_calls, 1);
	ASSERT_UEQ(ks.leftovers_disposed, 1);
	ASSERT_UEQ(memcg_usage(f.memcg), 0);
	memcg_stats_get(f.memcg, &ms);
	ASSERT_GT(ms.cpu_ns, 0);
	ASSERT_UEQ(ms.cpu_ns, ks.instant_cpu_ns);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* N workers share one guest: disjoint chunks, each taken once. */
TEST_IMPL(kvm_instant_workers_split_chunks)
{
	struct kvm_params p;
	struct kfix_opts o = big();
	struct chunk_gate g;
	struct kfix f;

	ASSERT_OK(kvm_params_init(&p));
	p.instant_workers = 4;
	o.params = &p;
	o.guest_mem = 512 * MIB;
	kfix_init(&f, &o);
	chunk_gate_init(&f, &g, false);
	kfix_boot_protected(&f);
	kfix_touch(&f, 64 * MIB, 256, 12, true);
	kfix_shutdown(&f);
	chunk_gate_wait(&g, 4);		/* all four hold a chunk at once */
	chunk_gate_open(&g);
	chunk_gate_fini(&f, &g);
	ASSERT_UEQ(g.max_worker, 3);
	ASSERT_UEQ(g.chunks, 512 * MIB / (2 * MIB));
	ASSERT_GE(kfix_kstats(&f).instant_pages, 256);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Reboot while the previous cleanup is still held, then shut down with
 * both jobs pending: every config is disposed of, nothing leaks. */
TEST_IMPL(kvm_instant_reboot_and_kill_during_cleanup)
{
	for (int kill = 0; kill < 2; kill++) {
		struct kfix_opts o = big();
		struct chunk_gate g;
		struct uv_stats us;
		struct kfix f;

		kfix_init(&f, &o);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 100, 13, true);
		ASSERT_OK(kfix_disable(&f));
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 50, 14, true);
		ASSERT_OK(kfix_disable(&f));
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR + 10 * HW_PAGE_SIZE, 50, 0, false);
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 2);
		if (kill) {
			mmput(f.mm);
			f.mm = NULL;
			ASSERT_OK(task_kill(f.vmm));
			ASSERT_OK(task_wait(f.vmm, NULL));
			ASSERT_TRUE(f.vm_gone);
			f.vmm = NULL;
		} else {
			kfix_shutdown(&f);
		}
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 3);
		chunk_gate_open(&g);
		chunk_gate_fini(&f, &g);
		uv_stats_get(f.uv, &us);
		ASSERT_UEQ(us.configs_live + us.configs_zombie, 0);
		ASSERT_UEQ(kfix_kstats(&f).leftovers_disposed, 3);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/* A's memcg limited to what A uses plus a quarter of @pages: B, in the
 * same memcg, meets the limit while A's memory is still charged. */
static void limit_to_a_and_a_quarter(struct kfix *f, uint64_t pages)
{
	memcg_set_limit(f->memcg, (memcg_usage(f->memcg) + pages / 4) *
			HW_PAGE_SIZE);
}

/*
 * B after A's shutdown: in A's memcg (@memcg), or beside it on a machine
 * whose free frames the test holds -- a task to fault @pages - 200 pages
 * (kfix_hog_thread), more than is free or allowed: it must wait.
 */
static void b_prepare(struct kfix *f, bool memcg, uint64_t pages,
		      struct kfix_held *held, struct kfix_hog *hog)
{
	if (!memcg)
		kfix_hold_free(f, MM_GFP_HIGH, held);
	hog->f = f;
	hog->pages = pages - 200;
	ASSERT_OK(task_create(f->world, f->shell, memcg ? f->memcg : NULL, 0,
			      &hog->task));
}

/*
 * A shutdown frees memory while another task needs it: the allocation
 * waits on the workers' progress in the OOM notifier -- for a global OOM
 * and for an OOM of the VMM's memcg (B in the same memcg) -- and nobody
 * is killed.
 */
TEST_IMPL(kvm_instant_oom_waits_for_workers)
{
	for (int memcg = 0; memcg < 2; memcg++) {
		struct kfix_opts o = big();
		struct kfix_hog hog = { 0 };
		struct kfix_held held = { 0 };
		struct chunk_gate g;
		struct mm_stats ms;
		struct kfix f;
		uint64_t pages = 4000, runs;
		pthread_t t;

		o.host_mem = 64 * MIB;
		/* B's allocation waits while the test holds the workers. */
		o.oom_wait_ms = 120000;
		kfix_init(&f, &o);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, pages, 15, true);
		if (memcg)
			limit_to_a_and_a_quarter(&f, pages);
		kfix_shutdown(&f);
		/* B needs more than is free or allowed: it must wait. */
		b_prepare(&f, memcg, pages, &held, &hog);
		mm_stats_get(f.world, &ms);
		runs = ms.oom_runs;
		ASSERT_OK(pthread_create(&t, NULL, kfix_hog_thread, &hog));
		do {		/* B is in the OOM path, the workers held */
			sched_yield();
			mm_stats_get(f.world, &ms);
		} while (ms.oom_runs == runs);
		chunk_gate_open(&g);
		ASSERT_OK(pthread_join(t, NULL));
		ASSERT_OK(hog.result);
		ASSERT_UEQ(hog.got, pages - 200);
		chunk_gate_fini(&f, &g);
		mm_stats_get(f.world, &ms);
		ASSERT_UEQ(ms.oom_kills, 0);
		ASSERT_GE(kfix_kstats(&f).instant_oom_waits, 1);
		ASSERT_OK(task_exit(hog.task, 0));
		ASSERT_OK(task_wait(hog.task, NULL));
		if (!memcg)
			kfix_release_held(&f, &held);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/* The bulk clean stops before each DESTROY_SEC_CONF step until opened. */
struct bulk_gate {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	bool open;
	unsigned int arrived;
};

static void bulk_gate_hook(void *ctx)
{
	struct bulk_gate *g = ctx;

	lpv_mutex_lock(&g->lock);
	g->arrived++;
	lpv_cond_broadcast(&g->cond);
	while (!g->open)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

/*
 * An exit job's bulk clean is in a firmware call (held at its first
 * step) when B's allocation runs out of memory: the standby worker walks
 * and frees frames at once, B gets all its memory while the bulk is still
 * held, nobody is killed -- under a global OOM and under B's memcg's.
 * Released, the bulk goes on; the job ends with every invariant held
 * (kfix_fini: no frame freed while secure).
 */
TEST_IMPL(kvm_instant_standby_serves_oom_during_bulk)
{
	for (int memcg = 0; memcg < 2; memcg++) {
		struct kfix_opts o = big();
		struct kfix_hog hog = { 0 };
		struct kfix_held held = { 0 };
		struct kvm_test_hooks h = { .instant_bulk_step = bulk_gate_hook };
		struct bulk_gate g = { 0 };
		struct kvm_params p;
		struct kvm_stats ks;
		struct mm_stats ms;
		struct kfix f;
		uint64_t pages = 4000;
		pthread_t t;

		o.host_mem = 64 * MIB;
		o.no_fast = true;	/* a close sets the config aside whole */
		o.oom_wait_ms = 120000;
		/* One worker, in the bulk: only the standby can walk. */
		ASSERT_OK(kvm_params_init(&p));
		p.instant_workers = 1;
		o.params = &p;
		kfix_init(&f, &o);
		lpv_mutex_init(&g.lock);
		lpv_cond_init(&g.cond);
		h.ctx = &g;
		kvm_module_set_test_hooks(f.mod, &h);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, pages, 19, true);
		if (memcg)
			limit_to_a_and_a_quarter(&f, pages);
		kfix_shutdown(&f);
		lpv_mutex_lock(&g.lock);	/* the bulk is held at its step */
		while (!g.arrived)
			lpv_cond_wait(&g.cond, &g.lock);
		lpv_mutex_unlock(&g.lock);
		b_prepare(&f, memcg, pages, &held, &hog);
		ASSERT_OK(pthread_create(&t, NULL, kfix_hog_thread, &hog));
		ASSERT_OK(pthread_join(t, NULL));
		ASSERT_OK(hog.result);
		ASSERT_UEQ(hog.got, pages - 200);
		ks = kfix_kstats(&f);
		ASSERT_GE(ks.instant_oom_waits, 1);
		ASSERT_UEQ(ks.instant_standby_walks, 1);
		ASSERT_UEQ(ks.instant_bulk_calls, 0);	/* still held */
		/* One cleanup running: the job, counted once by the module
		 * (host_cleanups_running reports this number). */
		ASSERT_UEQ(kvm_module_cleanups_running(f.mod), 1);
		ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 1);
		lpv_mutex_lock(&g.lock);
		g.open = true;
		lpv_cond_broadcast(&g.cond);
		lpv_mutex_unlock(&g.lock);
		kvm_module_drain(f.mod);
		kvm_module_set_test_hooks(f.mod, NULL);
		mm_stats_get(f.world, &ms);
		ASSERT_UEQ(ms.oom_kills, 0);
		ASSERT_OK(task_exit(hog.task, 0));
		ASSERT_OK(task_wait(hog.task, NULL));
		if (!memcg)
			kfix_release_held(&f, &held);
		ASSERT_UEQ(kfix_fini(&f), 0);
		lpv_cond_deinit(&g.cond);
		lpv_mutex_deinit(&g.lock);
	}
	return 0;
}

/*
 * Injected failures on the new call sites: FAST refused (a leftover
 * record instead), a worker's destroy refused (the unmap destroys or
 * exports it), the dispose's DESTROY_SEC_CONF refused (storage and table
 * leaked, listed with the call and rc/rrc).  No plaintext anywhere.
 */
TEST_IMPL(kvm_instant_failures_leak_and_report)
{
	struct kfix_opts o = big();
	struct kvm_instant_leak leaks[8];
	struct kvm_stats ks;
	struct kfix f;
	size_t n;

	o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_DESTROY_SEC_CONF_FAST,
		.nth = 1, .cc = 1, .rc = 0x0104, .rrc = 0 };
	o.inject[1] = (struct uv_inject){ .cmd = UVC_CMD_DESTR_SEC_STOR,
		.nth = 3, .cc = 1, .rc = 0x0102, .rrc = 0x0005 };
	o.inject[2] = (struct uv_inject){ .cmd = UVC_CMD_DESTROY_SEC_CONF,
		.nth = 1, .cc = 1, .rc = 0x0102, .rrc = 0x0006 };
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 40, 16, true);
	ASSERT_OK(kfix_disable(&f));
	kvm_module_drain(f.mod);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.fast_destroys, 0);
	ASSERT_GE(ks.instant_refused, 1);
	ASSERT_UEQ(ks.leftovers_disposed, 0);
	n = kvm_instant_leaks(f.mod, leaks, 8);
	ASSERT_UEQ(n, 3);		/* base, variable storage, table */
	for (size_t i = 0; i < n; i++) {
		ASSERT_XEQ(leaks[i].cmd, UVC_CMD_DESTROY_SEC_CONF);
		ASSERT_XEQ(leaks[i].rc, 0x0102);
		ASSERT_XEQ(leaks[i].rrc, 0x0006);
		ASSERT_EQ(leaks[i].reason, MM_LEAK_conf_destroy_failed);
	}
	ASSERT_UEQ(ks.instant_leaks, leaks[0].nr + leaks[1].nr + leaks[2].nr);
	/* The refused page's plaintext is gone all the same. */
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 40, 0, false);
	kvm_module_drain(f.mod);
	kvm_instant_leak_report(f.mod, stderr, true);
	ASSERT_GT(kfix_fini(&f), 0);
	return 0;
}

/* The module parameter fences instant off: async (then its own fence). */
TEST_IMPL(kvm_instant_fence_falls_back_to_async)
{
	struct kvm_params p;
	struct kfix_opts o = { .mode = KVM_DESTROY_INSTANT };
	struct kfix f;

	ASSERT_OK(kvm_params_init(&p));
	p.instant_destroy = 0;
	o.params = &p;
	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_ASYNC);
	ASSERT_UEQ(kfix_fini(&f), 0);
	ASSERT_OK(kvm_params_init(&p));
	p.instant_destroy = 0;
	p.async_destroy = 0;
	kfix_init(&f, &o);
	ASSERT_EQ(f.mode, KVM_DESTROY_SYNC_60);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * No memory for the table copy (old firmware: no FAST), by mm failure
 * injection: DISABLE falls back to the synchronous config-first teardown,
 * counted; the old pages are clean all the same.
 */
TEST_IMPL(kvm_instant_no_table_copy_falls_back)
{
	struct kfix_opts o = big();
	struct mm_fail_config fc = { .nth = 1, .any_use = true };
	struct kvm_stats ks;
	struct kfix f;

	o.no_fast = true;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 50, 17, true);
	mm_fail_set(f.world, &fc);
	ASSERT_OK(kfix_disable(&f));
	mm_fail_set(f.world, NULL);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.sync_fallbacks, 1);
	ASSERT_UEQ(ks.instant_jobs, 0);
	ASSERT_UEQ(ks.pv_disables, 1);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	assert_no_plaintext(&f, HIGH_GADDR, 50);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* ---- yielding, deadline, owner CPU time, OOM kill, unmap failures ---- */

/* A frame whose first 64 bytes are a kfix pattern page (any seed, any
 * page: consecutive odd bytes, (base + i) | 1). */
static bool looks_like_pattern(const uint8_t *b)
{
	for (int d = 0; d < 2; d++) {
		uint8_t base = (uint8_t)(b[0] - d);
		int i;

		for (i = 0; i < 64; i++)
			if (b[i] != (uint8_t)((base + i) | 1))
				break;
		if (i == 64)
			return true;
	}
	return false;
}

/* At a quiescent point: no free frame holds a guest's pattern. */
static void assert_free_frames_clean(struct kfix *f)
{
	struct mm_stats st;
	uint64_t found = 0;

	mm_stats_get(f->world, &st);
	for (hw_pfn_t pfn = 1; pfn < st.nr_frames; pfn++) {
		struct page *page = mm_pfn_to_page(f->world, pfn);

		if (page_use(page) != PAGE_USE_FREE)
			continue;
		found += looks_like_pattern(mm_page_host(f->world, page));
	}
	ASSERT_UEQ(found, 0);
}

/* A guest that stays in SIE until told to leave. */
struct spin_guest {
	struct kfix *f;
	bool in, stop;		/* atomics */
	int ret;
};

static int spin_guest_fn(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct spin_guest *s = ctx;

	(void)vcpu;
	atomic_store_release(&s->in, true);
	while (!atomic_load_acquire(&s->stop))
		sched_yield();
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

static void *spin_guest_thread(void *arg)
{
	struct spin_guest *s = arg;
	struct kvm_run run;

	if (task_thread_enter(s->f->vmm)) {
		s->ret = -ESRCH;
		atomic_store_release(&s->in, true);
		return NULL;
	}
	s->ret = kvm_vcpu_run(s->f->vcpu[0], spin_guest_fn, s, &run);
	task_thread_leave(s->f->vmm);
	return NULL;
}

/*
 * Workers yield between chunks only while a vCPU (of any VM) is in
 * KVM_RUN: none in KVM_RUN, no yield at all; one spinning in SIE for the
 * whole job, a yield after every chunk.  Every chunk walked counts in
 * the module's cleaned pages, so a rate can be made of it.
 */
TEST_IMPL(kvm_instant_yields_only_to_running_vcpus)
{
	for (int vcpu = 0; vcpu < 2; vcpu++) {
		struct kvm_params p;
		struct kfix_opts o = big();
		struct kvm_cleanup_progress c0, c1;
		struct spin_guest sg = { 0 };
		struct chunk_gate g;
		pthread_t t;
		struct kfix f;

		ASSERT_OK(kvm_params_init(&p));
		p.instant_workers = 1;
		o.params = &p;
		kfix_init(&f, &o);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 50, 24, true);
		kvm_cleanup_progress(f.mod, &c0);
		ASSERT_OK(kfix_disable(&f));
		ASSERT_UEQ(kvm_module_vcpus_running(f.mod), 0);
		if (vcpu) {
			sg.f = &f;
			ASSERT_OK(pthread_create(&t, NULL, spin_guest_thread, &sg));
			while (!atomic_load_acquire(&sg.in))
				sched_yield();
			ASSERT_UEQ(kvm_module_vcpus_running(f.mod), 1);
		}
		chunk_gate_open(&g);
		kvm_module_drain(f.mod);
		if (vcpu) {
			atomic_store_release(&sg.stop, true);
			ASSERT_OK(pthread_join(t, NULL));
			ASSERT_OK(sg.ret);
			ASSERT_UEQ(kvm_module_vcpus_running(f.mod), 0);
		}
		chunk_gate_fini(&f, &g);
		ASSERT_UEQ(kfix_kstats(&f).instant_yields,
			   vcpu ? 4 * GIB / (2 * MIB) : 0);
		kvm_cleanup_progress(f.mod, &c1);
		ASSERT_GE(c1.cleaned_pages - c0.cleaned_pages, 4 * GIB / HW_PAGE_SIZE);
		ASSERT_UEQ(c1.pending_pages, 0);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/* The lateness half of the JSON report: how many jobs it lists. */
static size_t report_late_count(struct kfix *f)
{
	char *buf = NULL;
	size_t len = 0, n;
	FILE *m = open_memstream(&buf, &len);
	json_error_t err;
	json_t *j, *late;

	ASSERT_NOT_NULL(m);
	kvm_instant_leak_report(f->mod, m, true);
	fclose(m);
	j = json_loads(buf, 0, &err);
	ASSERT_NOT_NULL(j);
	late = json_object_get(j, "late");
	ASSERT_TRUE(json_is_array(late));
	ASSERT_TRUE(json_is_integer(json_object_get(j, "late_dropped")));
	n = json_array_size(late);
	json_decref(j);
	free(buf);
	return n;
}

/*
 * A scrub deadline: with slow destroys (300 us a page, ~180 ms of walk),
 * a 20 ms deadline is missed -- the job is escalated while it runs (more
 * workers, no yield), the miss is counted and listed with its owner and
 * how long it took.  Without a deadline, or with one it meets, nothing
 * is counted or listed.
 */
TEST_IMPL(kvm_instant_deadline_escalates)
{
	static const uint64_t deadline_ms[] = { 0, 20, 60000 };

	for (size_t k = 0; k < ARRAY_SIZE(deadline_ms); k++) {
		bool late = deadline_ms[k] == 20;
		struct kvm_instant_late l[4];
		struct kvm_params p;
		struct kfix_opts o = big();
		struct kvm_stats ks;
		struct kfix f;
		size_t n;

		ASSERT_OK(kvm_params_init(&p));
		p.instant_workers = 1;
		p.instant_deadline_ms = deadline_ms[k];
		o.params = &p;
		o.destroy_page_ns = 300000;
		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 600, 25, true);
		ASSERT_OK(kfix_disable(&f));
		kvm_module_drain(f.mod);
		ks = kfix_kstats(&f);
		n = kvm_instant_late_jobs(f.mod, l, ARRAY_SIZE(l));
		ASSERT_UEQ(ks.instant_deadline_misses, late);
		ASSERT_UEQ(ks.instant_escalations, late);
		ASSERT_UEQ(n, late);
		ASSERT_UEQ(report_late_count(&f), late);
		if (late) {
			ASSERT_GE(ks.instant_escalated_workers, 1);
			ASSERT_TRUE(l[0].escalated);
			ASSERT_GE(l[0].took_ms, 20);
			ASSERT_UEQ(l[0].deadline_ms, 20);
			ASSERT_UEQ(l[0].bytes, 4 * GIB);
			ASSERT_EQ(l[0].owner_pid, task_pid(f.vmm));
		} else {
			ASSERT_UEQ(ks.instant_escalated_workers, 0);
		}
		ASSERT_GE(ks.instant_pages, 600);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * The workers' CPU time is charged to the VM's owner task as well as to
 * its memcg: at a reboot (the owner runs), after its exit while it is a
 * zombie not yet reaped; once it is reaped, the memcg alone, counted as
 * unowned.
 */
TEST_IMPL(kvm_instant_cpu_charged_to_owner)
{
	for (int c = 0; c < 3; c++) {
		struct kfix_opts o = big();
		struct memcg_stats ms;
		struct task_stats ts;
		struct chunk_gate g;
		struct kvm_stats ks;
		struct kfix f;
		int code = -1;

		kfix_init(&f, &o);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 100, 26, true);
		if (c == 0) {
			ASSERT_OK(kfix_disable(&f));
		} else if (c == 1) {
			mmput(f.mm);
			f.mm = NULL;
			ASSERT_OK(task_exit(f.vmm, 0));
			ASSERT_TRUE(f.vm_gone);
			ASSERT_EQ(task_get_state(f.vmm), TASK_ZOMBIE);
		} else {
			kfix_shutdown(&f);	/* reaped before any worker ran */
		}
		chunk_gate_open(&g);
		chunk_gate_fini(&f, &g);
		ks = kfix_kstats(&f);
		memcg_stats_get(f.memcg, &ms);
		ASSERT_GT(ks.instant_cpu_ns, 0);
		ASSERT_UEQ(ms.cpu_ns, ks.instant_cpu_ns);
		if (c < 2) {
			task_stats_get(f.vmm, &ts);
			ASSERT_UEQ(ts.cpu_charged_ns, ks.instant_cpu_ns);
			ASSERT_UEQ(ks.instant_cpu_unowned_ns, 0);
		} else {
			ASSERT_UEQ(ks.instant_cpu_unowned_ns, ks.instant_cpu_ns);
		}
		if (c == 1) {
			ASSERT_OK(task_wait(f.vmm, &code));
			ASSERT_EQ(code, 0);
			f.vmm = NULL;
		}
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/*
 * The mm's OOM killer picks the instant VMM while a reboot's cleanup is
 * held: the kill's exit hands the address space to a second job, whose
 * notifier makes the allocation wait for its frames; the cleanup
 * finishes, the allocation gets its pages, nobody else dies, no free
 * frame holds a guest's data, and the invariants hold.
 */
TEST_IMPL(kvm_instant_oom_kill_during_cleanup)
{
	struct kfix_opts o = big();
	struct kfix_hog hog = { 0 };
	struct kfix_held held = { 0 };
	struct chunk_gate g;
	struct mm_stats ms;
	struct uv_stats us;
	struct kvm_stats ks;
	struct kfix f;
	pthread_t t;
	int code = -1;

	o.host_mem = 64 * MIB;
	/* The hog's allocation waits while the test holds the cleanup: far
	 * longer than mm's default bound under a sanitizer's slowdown. */
	o.oom_wait_ms = 120000;
	kfix_init(&f, &o);
	chunk_gate_init(&f, &g, false);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 3000, 27, true);
	ASSERT_OK(kfix_disable(&f));		/* job 1, held */
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR + 3000 * HW_PAGE_SIZE, 200, 28, true);
	mmput(f.mm);				/* only the VMM, the VM, job 1 */
	f.mm = NULL;
	kfix_hold_free(&f, MM_GFP_HIGH, &held);	/* the machine is full */
	hog.f = &f;
	hog.pages = 300;
	ASSERT_OK(task_create(f.world, f.shell, NULL, 0, &hog.task));
	ASSERT_OK(pthread_create(&t, NULL, kfix_hog_thread, &hog));
	do {
		sched_yield();
		mm_stats_get(f.world, &ms);
	} while (!ms.oom_kills);
	/* The victim is the VMM; its exit closed the VM: job 2. */
	ASSERT_OK(task_wait(f.vmm, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	ASSERT_TRUE(f.vm_gone);
	f.vmm = NULL;
	ASSERT_UEQ(kvm_instant_jobs_running(f.mod), 2);
	chunk_gate_open(&g);
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_OK(hog.result);
	ASSERT_UEQ(hog.got, 300);
	chunk_gate_fini(&f, &g);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.oom_kills, 1);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.instant_jobs, 2);
	ASSERT_UEQ(ks.leftovers_disposed, 2);
	ASSERT_GE(ks.instant_pages + ks.instant_on_demand, 3200);
	uv_stats_get(f.uv, &us);
	ASSERT_UEQ(us.configs_live + us.configs_zombie, 0);
	ASSERT_OK(task_exit(hog.task, 0));
	ASSERT_OK(task_wait(hog.task, NULL));
	kfix_release_held(&f, &held);
	assert_free_frames_clean(&f);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * An unmap of guest memory while the old config is set aside (workers
 * held): the unmap hook's destroy fails (injected), then its export
 * (injected): that frame is leaked with its reason, listed with the
 * export's rc/rrc, and never handed out again; the others are destroyed.
 * With FAST (a zombie config) and without (a leftover record).
 */
TEST_IMPL(kvm_instant_unmap_failure_leaks)
{
	for (int old = 0; old < 2; old++) {
		struct kfix_opts o = big();
		struct kvm_instant_leak leaks[4];
		struct kfix_held held = { 0 };
		struct chunk_gate g;
		struct uv_stats u0, u1;
		struct mm_stats ms;
		struct kvm_stats ks;
		struct page *page;
		hw_pfn_t pfn;
		struct kfix f;
		size_t n;

		o.no_fast = old;
		o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_DESTR_SEC_STOR,
			.nth = 1, .cc = 1, .rc = 0x0102, .rrc = 0x0007 };
		o.inject[1] = (struct uv_inject){ .cmd = UVC_CMD_CONV_FROM_SEC_STOR,
			.nth = 1, .cc = 1, .rc = 0x0102, .rrc = 0x0008 };
		kfix_init(&f, &o);
		chunk_gate_init(&f, &g, false);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 8, 29, true);
		ASSERT_OK(kfix_disable(&f));
		page = kfix_ram_page(&f, HIGH_GADDR);
		ASSERT_NOT_NULL(page);
		pfn = mm_page_to_pfn(f.world, page);
		mm_page_put(f.world, page);	/* the mapping holds it */
		uv_stats_get(f.uv, &u0);
		ASSERT_UEQ(u0.destroys, 0);	/* the injections come next */
		ASSERT_UEQ(u0.exports, 0);
		ASSERT_OK(mm_munmap(f.mm, f.ram + HIGH_GADDR, 8 * HW_PAGE_SIZE));
		uv_stats_get(f.uv, &u1);
		ASSERT_UEQ(u1.destroys, 7);
		ASSERT_EQ(page_use(page), PAGE_USE_LEAKED);
		n = kvm_instant_leaks(f.mod, leaks, ARRAY_SIZE(leaks));
		ASSERT_UEQ(n, 1);
		ASSERT_UEQ(leaks[0].pfn, pfn);
		ASSERT_UEQ(leaks[0].nr, 1);
		ASSERT_XEQ(leaks[0].cmd, UVC_CMD_CONV_FROM_SEC_STOR);
		ASSERT_XEQ(leaks[0].rc, 0x0102);
		ASSERT_XEQ(leaks[0].rrc, 0x0008);
		ASSERT_EQ(leaks[0].reason, MM_LEAK_export_failed);
		chunk_gate_open(&g);
		chunk_gate_fini(&f, &g);
		ks = kfix_kstats(&f);
		ASSERT_UEQ(ks.instant_leaks, 1);
		mm_stats_get(f.world, &ms);
		ASSERT_UEQ(ms.leaked[MM_LEAK_export_failed], 1);
		/* Never reused: every free frame taken, it is not among them. */
		kfix_hold_free(&f, MM_GFP_HIGH, &held);
		for (size_t i = 0; i < held.n; i++)
			ASSERT_NE(mm_page_to_pfn(f.world, held.pages[i]), pfn);
		kfix_release_held(&f, &held);
		ASSERT_EQ(page_use(page), PAGE_USE_LEAKED);
		ASSERT_UEQ(kfix_fini(&f), 1);
	}
	return 0;
}
