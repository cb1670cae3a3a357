// SPDX-License-Identifier: MIT
/*
 * test_lazy_v2.c - the lazy mode is v2, exactly: set-aside of every present
 * page, 509-PFN chunks, the export-and-retry of chunk allocation, v2's OOM
 * notifier (the > 1024 skip, the unconditional sleep, progress counted per
 * whole chunk), the reboot walk's early stop, the KVM_PV_ENABLE failure
 * path, guests of every size, an OOM-killed VMM exporting, and the
 * synchronous low clear.  Interleavings are driven through the module's
 * test hooks (a gate the cleanup thread waits on, a sleep that waits for a
 * counter), never left to the scheduler, so each test asserts the same
 * thing on every run.
 */
#include "kvm/fixture.h"

#include <pthread.h>
#include <stdlib.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define LOW_GADDR (4 * MIB)
#define HIGH_GADDR (3 * GIB)
#define RW (MM_PROT_READ | MM_PROT_WRITE)

static struct kfix_opts big(enum kvm_destroy_mode mode)
{
	return (struct kfix_opts){ .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
				   .mode = mode };
}

/* ---- the gate: cleanup threads wait at start and before each chunk ---- */

struct gate {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	bool start_open;		/* thread_start passes */
	unsigned int chunks_allowed;	/* before_chunk passes this many */
	unsigned int chunks_passed;
	uint64_t pages_passed;		/* sum of count + 1 of passed chunks */
	unsigned int at_start;		/* threads waiting at start */
	unsigned int at_chunk;		/* threads waiting before a chunk */
	/* oom_sleep */
	unsigned int sleeps;
	unsigned int release_in_sleep;	/* chunks to let through per sleep */
	uint64_t hog_done_pages;	/* pages_passed when B finished */
	struct kfix *f;
};

static void gate_init(struct gate *g, struct kfix *f)
{
	memset(g, 0, sizeof(*g));
	lpv_mutex_init(&g->lock);
	lpv_cond_init(&g->cond);
	g->f = f;
}

static void gate_thread_start(void *ctx)
{
	struct gate *g = ctx;

	lpv_mutex_lock(&g->lock);
	g->at_start++;
	lpv_cond_broadcast(&g->cond);
	while (!g->start_open)
		lpv_cond_wait(&g->cond, &g->lock);
	g->at_start--;
	lpv_mutex_unlock(&g->lock);
}

static void gate_before_chunk(void *ctx, unsigned int count)
{
	struct gate *g = ctx;

	lpv_mutex_lock(&g->lock);
	g->at_chunk++;
	lpv_cond_broadcast(&g->cond);
	while (g->chunks_passed >= g->chunks_allowed)
		lpv_cond_wait(&g->cond, &g->lock);
	g->at_chunk--;
	g->chunks_passed++;
	g->pages_passed += count + 1ULL;
	lpv_cond_broadcast(&g->cond);
	lpv_mutex_unlock(&g->lock);
}

/* Wait until @n threads wait at the start gate. */
static void gate_wait_at_start(struct gate *g, unsigned int n)
{
	lpv_mutex_lock(&g->lock);
	while (g->at_start < n)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

/* Wait until a thread waits before a chunk: past its notifier's
 * registration. */
static void gate_wait_at_chunk(struct gate *g)
{
	lpv_mutex_lock(&g->lock);
	while (!g->at_chunk)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void gate_open_start(struct gate *g)
{
	lpv_mutex_lock(&g->lock);
	g->start_open = true;
	lpv_cond_broadcast(&g->cond);
	lpv_mutex_unlock(&g->lock);
}

static void gate_allow_chunks(struct gate *g, unsigned int n)
{
	lpv_mutex_lock(&g->lock);
	g->chunks_allowed += n;
	lpv_cond_broadcast(&g->cond);
	lpv_mutex_unlock(&g->lock);
}

/*
 * The notifier's "msleep": let release_in_sleep chunks through the gate and
 * return once the cleanup has freed them all (counted by the kvm stats) --
 * whatever the load, the sleep sees exactly that progress.  With every
 * chunk drained already there is nothing to wait for.
 */
static void gate_oom_sleep(void *ctx, uint64_t ns)
{
	struct gate *g = ctx;
	struct kvm_stats ks = kfix_kstats(g->f);
	uint64_t target;

	(void)ns;
	lpv_mutex_lock(&g->lock);
	g->sleeps++;
	if (g->pages_passed < ks.set_aside_pages + ks.set_aside_exports)
		g->chunks_allowed += g->release_in_sleep;
	lpv_cond_broadcast(&g->cond);
	while (g->chunks_passed < g->chunks_allowed)
		lpv_cond_wait(&g->cond, &g->lock);
	target = g->pages_passed;
	lpv_mutex_unlock(&g->lock);
	/* A chunk counts once freed, after its whole drain. */
	while (kfix_kstats(g->f).deferred_pages_freed < target)
		sched_yield();
	/* kvm_stats_get's acquire load pairs with the drain's release add:
	 * the notifier's count, read next, has moved too. */
}

static void gate_install(struct gate *g)
{
	struct kvm_test_hooks h = {
		.thread_start = gate_thread_start,
		.before_chunk = gate_before_chunk,
		.oom_sleep = gate_oom_sleep,
		.ctx = g,
	};

	kvm_module_set_test_hooks(g->f->mod, &h);
}

/* ---- set-aside ---- */

/*
 * v2 sets aside every present page of a protected mm at exit, secure or
 * not, one PTE at a time, into chunks of 509; a page that finds no room is
 * exported and a chunk allocated for the pages after it.
 */
TEST_IMPL(kvm_lazy_set_aside_every_present_page)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kvm_stats ks;
	uint64_t present;
	struct kfix f;

	ASSERT_EQ(MM_DEFERRED_CHUNK_MAX, 509);
	ASSERT_EQ(sizeof(struct mm_deferred_chunk), HW_PAGE_SIZE);
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 1200, 11, true);
	kfix_map_side(&f, 300);		/* never secure */
	present = mm_rss(f.mm);
	ASSERT_GE(present, 1500);
	kfix_shutdown(&f);
	kvm_module_drain(f.mod);
	ks = kfix_kstats(&f);
	ASSERT_UEQ(ks.set_aside_pages + ks.set_aside_exports, present);
	/* the first page of each chunk's run is exported: 1 in 510 */
	ASSERT_UEQ(ks.set_aside_exports, (present + 509) / 510);
	/* every set-aside page and every chunk page came back */
	ASSERT_UEQ(ks.deferred_pages_freed,
		   ks.set_aside_pages + ks.set_aside_exports);
	ASSERT_UEQ(ks.exit_exports, 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* An export that fails while setting aside leaks that frame where it
 * failed; everything else is set aside and cleaned. */
TEST_IMPL(kvm_lazy_set_aside_export_failure_leaks)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct mm_stats ms;
	struct kfix f;

	o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_CONV_FROM_SEC_STOR,
					  .nth = 1, .cc = 1, .rc = 0x0102 };
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 64, 12, true);
	kfix_shutdown(&f);
	kvm_module_drain(f.mod);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.leaked[MM_LEAK_export_failed], 1);
	ASSERT_UEQ(ms.leaked[MM_LEAK_secure_at_free], 0);
	ASSERT_GT(kfix_kstats(&f).set_aside_pages, 60);
	ASSERT_UEQ(kfix_fini(&f), 1);
	return 0;
}

/*
 * No chunk can be had (memory down to the reserve, which set-aside may
 * not touch): each page is exported and the next page tries again,
 * silently; once the unmap has freed a page table's pages, a chunk is
 * found and the rest is set aside.
 */
TEST_IMPL(kvm_lazy_set_aside_chunk_alloc_failure_retries)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix_held held;
	struct kvm_stats ks;
	struct mm_stats ms;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 600, 13, true);
	kfix_hold_free(&f, 0, &held);	/* all but the reserve */
	kfix_shutdown(&f);
	ks = kfix_kstats(&f);
	/* More exports than chunk boundaries ask for: allocations failed
	 * (the low table's pages) and were tried again... */
	ASSERT_GT(ks.set_aside_exports, 1 + ks.set_aside_pages / 509);
	/* ... until one worked: the high table's pages are set aside. */
	ASSERT_GT(ks.set_aside_pages, 500);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.leaked[MM_LEAK_secure_at_free], 0);
	kfix_release_held(&f, &held);
	kvm_module_drain(f.mod);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* ---- the OOM notifier ---- */

/*
 * Shut A down with 9000 pages set aside on a 16384-frame host, hold its
 * cleanup before the first chunk, and let B fault 9000 pages in: B runs
 * into a global OOM and the notifier runs.  @per_sleep chunks are let
 * through in each notifier sleep.  Returns B's hog state; *kills the OOM
 * kills.
 */
static void shutdown_then_hog(struct kfix *f, struct gate *g,
			      unsigned int per_sleep, struct kfix_hog *h,
			      uint64_t *kills)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct mm_stats ms;
	struct task *b;
	pthread_t t;

	o.host_mem = 64 * MIB;
	kfix_init(f, &o);
	gate_init(g, f);
	gate_install(g);
	g->start_open = true;		/* the notifier must be registered */
	g->release_in_sleep = per_sleep;
	kfix_boot_protected(f);
	kfix_touch(f, HIGH_GADDR, 9000, 21, true);
	kfix_shutdown(f);
	ASSERT_OK(task_create(f->world, f->shell, f->memcg, 0, &b));
	*h = (struct kfix_hog){ .f = f, .task = b, .pages = 9000 };
	gate_wait_at_chunk(g);
	ASSERT_OK(pthread_create(&t, NULL, kfix_hog_thread, h));
	ASSERT_OK(pthread_join(t, NULL));
	mm_stats_get(f->world, &ms);
	*kills = ms.oom_kills;
	lpv_mutex_lock(&g->lock);
	g->hog_done_pages = g->pages_passed;
	lpv_mutex_unlock(&g->lock);
	gate_allow_chunks(g, 1u << 30);
	ASSERT_OK(task_kill(b));	/* (a no-op if the OOM killer won) */
	ASSERT_OK(task_wait(b, NULL));
	kvm_module_drain(f->mod);
}

/*
 * Each notifier sleep sees one whole chunk freed: every allocation that
 * would OOM waits for the cleanup instead, and B gets all its memory.
 * What the notifier reports is exactly count + 1 per chunk.
 */
TEST_IMPL(kvm_lazy_oom_notifier_waits_for_chunks)
{
	struct kvm_stats ks;
	struct gate g;
	struct kfix_hog h;
	struct kfix f;
	uint64_t kills;

	shutdown_then_hog(&f, &g, 1, &h, &kills);
	ASSERT_UEQ(kills, 0);
	ASSERT_OK(h.result);
	ASSERT_UEQ(h.got, 9000);
	ks = kfix_kstats(&f);
	ASSERT_GT(ks.oom_notifier_waits, 0);
	ASSERT_UEQ(ks.oom_notifier_waits, g.sleeps);
	/* The sleeps saw exactly the chunks they let through, count + 1
	 * each (the chunk's own page included): no chunk passed otherwise. */
	ASSERT_GT(ks.oom_notifier_freed, 0);
	ASSERT_UEQ(ks.oom_notifier_freed, g.hog_done_pages);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * v2's notifier with a cleanup that completes no chunk during its sleep
 * (destroys slower than the 20 ms wait): it reports nothing freed, and
 * the OOM killer runs -- v2's behaviour, which lazypv's own mode is meant
 * to improve on.
 */
TEST_IMPL(kvm_lazy_oom_notifier_no_chunk_kills)
{
	struct kvm_stats ks;
	struct gate g;
	struct kfix_hog h;
	struct kfix f;
	uint64_t kills;

	shutdown_then_hog(&f, &g, 0, &h, &kills);
	ASSERT_UEQ(kills, 1);
	ASSERT_NE(h.result, 0);		/* B was the victim */
	ks = kfix_kstats(&f);
	ASSERT_GT(ks.oom_notifier_waits, 0);
	ASSERT_UEQ(ks.oom_notifier_freed, 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* A notifier of higher priority that frees a fixed number of pages. */
static unsigned long fake_freed;
static int fake_notify(void *ctx, unsigned long *freed)
{
	(void)ctx;
	*freed += fake_freed;
	return 0;
}

/*
 * v2 returns at once when other notifiers freed more than 1024 pages in
 * this pass, and sleeps at 1024.  Driven through a real global OOM: B's
 * allocation fails on a full host while the cleanup is held at its start
 * (notifier registered, nothing drained).
 */
TEST_IMPL(kvm_lazy_oom_notifier_skips_over_1024)
{
	static const unsigned long cases[] = { 1025, 1024 };

	for (unsigned int c = 0; c < 2; c++) {
		struct kfix_opts o = big(KVM_DESTROY_LAZY);
		struct oom_notifier nb = { .fn = fake_notify, .priority = 80 };
		struct kfix_held held;
		struct kvm_stats ks;
		struct page *p;
		struct gate g;
		struct kfix f;

		o.host_mem = 64 * MIB;
		kfix_init(&f, &o);
		gate_init(&g, &f);
		gate_install(&g);
		g.start_open = true;
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 2000, 31, true);
		kfix_shutdown(&f);
		gate_wait_at_chunk(&g);		/* notifier registered */
		fake_freed = cases[c];
		ASSERT_OK(oom_notifier_register(f.world, &nb));
		kfix_hold_free(&f, MM_GFP_HIGH, &held);
		/* The OOM path: our fake "frees" pages, so it succeeds or
		 * fails without a kill; all that matters is the chain. */
		ignore_result(mm_page_alloc(f.world, MM_GFP_WAIT |
					    MM_GFP_NOWARN, NULL, &p) == 0 &&
			      (mm_page_put(f.world, p), 0));
		ks = kfix_kstats(&f);
		if (cases[c] > 1024) {
			ASSERT_GT(ks.oom_notifier_skips, 0);
			ASSERT_UEQ(ks.oom_notifier_waits, 0);
			ASSERT_UEQ(g.sleeps, 0);
		} else {
			ASSERT_UEQ(ks.oom_notifier_skips, 0);
			ASSERT_GT(ks.oom_notifier_waits, 0);
			ASSERT_UEQ(g.sleeps, ks.oom_notifier_waits);
		}
		ASSERT_OK(oom_notifier_unregister(f.world, &nb));
		kfix_release_held(&f, &held);
		gate_allow_chunks(&g, 1u << 30);
		kvm_module_drain(f.mod);
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/* ---- reboot ---- */

/*
 * The reboot: DISABLE destroys the guest's memory below clear_low before
 * it returns (the next guest's prefix pages are there) and leaves the rest
 * secure for the old config, for the thread -- held at its start here, so
 * what DISABLE did is all there is to see.
 */
TEST_IMPL(kvm_lazy_reboot_clears_low_synchronously)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	uint64_t handle, owner;
	uint16_t rc, rrc;
	struct gate g;
	struct kfix f;

	kfix_init(&f, &o);
	gate_init(&g, &f);
	gate_install(&g);
	g.chunks_allowed = 1u << 30;
	kfix_boot_protected(&f);
	handle = kvm_pv_handle(f.kvm);
	kfix_touch(&f, LOW_GADDR, 16, 41, true);
	kfix_touch(&f, HIGH_GADDR, 16, 42, true);
	ASSERT_EQ(kfix_frame_state(&f, LOW_GADDR, NULL), UV_FRAME_SECURE);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_DISABLE, &rc, &rrc));
	ASSERT_XEQ(rc, UVC_RC_EXECUTED);
	ASSERT_XEQ(rrc, KVM_PV_RRC_DEFERRED);
	gate_wait_at_start(&g, 1);
	/* the old config lives on (no CPUs) until the thread destroys it */
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 1);
	for (uint64_t i = 0; i < 16; i++)
		ASSERT_EQ(kfix_frame_state(&f, LOW_GADDR + i * HW_PAGE_SIZE, NULL),
			  UV_FRAME_NONSECURE);
	ASSERT_EQ(kfix_frame_state(&f, KFIX_IMAGE_GADDR, NULL), UV_FRAME_NONSECURE);
	for (uint64_t i = 0; i < 16; i++) {
		ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR + i * HW_PAGE_SIZE,
				      &owner), UV_FRAME_SECURE);
		ASSERT_XEQ(owner, handle);
	}
	gate_open_start(&g);
	kvm_module_drain(f.mod);
	ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR, NULL), UV_FRAME_NONSECURE);
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * The reboot thread walks the whole user address space -- other VMAs of
 * the VMM included, one destroy per present page -- and stops early once
 * its own reference is the mm's last: the VMM exited meanwhile, and the
 * final exit_mmap (in the thread) exports what is left.
 */
TEST_IMPL(kvm_lazy_reboot_walk_whole_space_and_early_stop)
{
	for (int vmm_exits = 0; vmm_exits < 2; vmm_exits++) {
		struct kfix_opts o = big(KVM_DESTROY_LAZY);
		struct kvm_stats ks;
		uint64_t present;
		struct gate g;
		struct kfix f;

		kfix_init(&f, &o);
		gate_init(&g, &f);
		gate_install(&g);
		g.chunks_allowed = 1u << 30;
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 400, 51, true);
		kfix_map_side(&f, 200);
		ASSERT_OK(kfix_disable(&f));
		gate_wait_at_start(&g, 1);
		present = mm_rss(f.mm);
		if (vmm_exits)
			kfix_shutdown(&f);	/* the thread's ref is the last */
		gate_open_start(&g);
		kvm_module_drain(f.mod);
		ks = kfix_kstats(&f);
		if (!vmm_exits) {
			/* low clear + the thread's walk: every present page */
			ASSERT_GE(ks.walk_pages, present);
			ASSERT_UEQ(ks.exit_exports, 0);
		} else {
			/* one batch, then the stop; exit_mmap exports */
			ASSERT_LE(ks.walk_pages, present - 500);
			ASSERT_GE(ks.exit_exports, 500);
			ASSERT_UEQ(ks.set_aside_pages, 0);
		}
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

/* v2 defers guests of every size: a small guest's segment table is
 * replaced like a large guest's region table. */
TEST_IMPL(kvm_lazy_small_guest_defers)
{
	struct kfix_opts o = { .mode = KVM_DESTROY_LAZY };
	uint16_t rc, rrc;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 16, 71, true);
	ASSERT_OK(kfix_pv_cmd(&f, KVM_PV_DISABLE, &rc, &rrc));
	ASSERT_XEQ(rrc, KVM_PV_RRC_DEFERRED);
	ASSERT_UEQ(kfix_kstats(&f).sync_fallbacks, 0);
	ASSERT_UEQ(kfix_kstats(&f).deferred_starts, 1);
	kfix_boot_protected(&f);
	kfix_touch(&f, LOW_GADDR, 16, 0, false);
	kvm_module_drain(f.mod);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* v2 defers the teardown of a KVM_PV_ENABLE whose CPU creation failed. */
TEST_IMPL(kvm_lazy_enable_failure_defers)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ENABLE };
	struct kfix f;

	o.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_CREATE_SEC_CPU,
					  .nth = 1, .cc = 1, .rc = 0x0102 };
	kfix_init(&f, &o);
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EIO);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	ASSERT_UEQ(kfix_kstats(&f).deferred_starts, 1);
	kvm_module_drain(f.mod);
	ASSERT_UEQ(kfix_kstats(&f).pv_enables, 1);
	kfix_boot_protected(&f);	/* and it works afterwards */
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * An OOM-killed VMM: exit_mmap unmaps the victim's memory the way the oom
 * reaper does (not a full teardown): every page is exported, nothing set
 * aside (v2 left that case alone).
 */
TEST_IMPL(kvm_lazy_oom_killed_vmm_exports)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	struct kfix_held held;
	struct kvm_stats ks;
	struct mm_stats ms;
	struct page *p;
	struct kfix f;
	int code = 0;

	o.host_mem = 64 * MIB;
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 3000, 61, true);
	mmput(f.mm);
	f.mm = NULL;
	/* The host is full: a global OOM kills the biggest task, the VMM. */
	kfix_hold_free(&f, MM_GFP_HIGH, &held);
	if (mm_page_alloc(f.world, MM_GFP_WAIT | MM_GFP_NOWARN, NULL, &p) == 0)
		mm_page_put(f.world, p);
	ASSERT_OK(task_wait(f.vmm, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	f.vmm = NULL;
	kfix_release_held(&f, &held);
	kvm_module_drain(f.mod);
	ks = kfix_kstats(&f);
	mm_stats_get(f.world, &ms);
	ASSERT_UEQ(ms.oom_kills, 1);
	ASSERT_UEQ(ms.oom_reaps, 1);
	ASSERT_UEQ(ks.set_aside_pages, 0);
	ASSERT_GE(ks.exports, 3000);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * One DESTROY_SEC_CPU fails at shutdown: the CPU's storage is leaked and
 * the config cannot be destroyed (its storage and table leak too) -- the
 * same, and only that, in lazy as in sync: the set-aside pages the UV
 * refuses to destroy (it still counts the CPU) are exported instead.
 */
TEST_IMPL(kvm_lazy_cpu_destroy_failure_leaks_like_sync)
{
	uint64_t leaked[2];

	for (int lazy = 0; lazy < 2; lazy++) {
		struct kfix_opts o = big(lazy ? KVM_DESTROY_LAZY
					      : KVM_DESTROY_SYNC);
		struct mm_stats ms;
		struct kfix f;

		o.inject[0] = (struct uv_inject){
			.cmd = UVC_CMD_DESTROY_SEC_CPU, .nth = 1, .cc = 1,
			.rc = 0x0102 };
		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		kfix_touch(&f, HIGH_GADDR, 2048, 81, true);
		kfix_shutdown(&f);
		kvm_module_drain(f.mod);
		mm_stats_get(f.world, &ms);
		ASSERT_UEQ(ms.leaked[MM_LEAK_secure_at_free], 0);
		ASSERT_UEQ(ms.leaked[MM_LEAK_destroy_failed], 0);
		ASSERT_GT(ms.leaked[MM_LEAK_cpu_destroy_failed], 0);
		leaked[lazy] = kfix_fini(&f);
	}
	ASSERT_UEQ(leaked[1], leaked[0]);
	return 0;
}

/*
 * Two configs in one mm, the old one's pages still secure (its cleanup is
 * held): without MISC each import of such a page exports it first; the new
 * guest reads zeros, never the old data.  With MISC the UV moves them.
 */
TEST_IMPL(kvm_lazy_export_before_import_old_pages)
{
	for (int misc = 0; misc < 2; misc++) {
		struct kfix_opts o = big(KVM_DESTROY_LAZY);
		uint64_t old, owner;
		struct gate g;
		struct kfix f;

		o.no_misc = !misc;
		kfix_init(&f, &o);
		gate_init(&g, &f);
		gate_install(&g);
		g.chunks_allowed = 1u << 30;
		kfix_boot_protected(&f);
		old = kvm_pv_handle(f.kvm);
		kfix_touch(&f, HIGH_GADDR, 64, 91, true);
		ASSERT_OK(kfix_disable(&f));
		gate_wait_at_start(&g, 1);
		kfix_boot_protected(&f);	/* two configs now */
		ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR, &owner), UV_FRAME_SECURE);
		ASSERT_XEQ(owner, old);
		/* write: a protected guest's first write imports */
		kfix_touch(&f, HIGH_GADDR, 8, 0, false);
		ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR, &owner), UV_FRAME_SECURE);
		ASSERT_XEQ(owner, kvm_pv_handle(f.kvm));
		if (misc)
			ASSERT_UEQ(kfix_kstats(&f).export_before_import, 0);
		else
			ASSERT_GE(kfix_kstats(&f).export_before_import, 8);
		gate_open_start(&g);
		kvm_module_drain(f.mod);
		ASSERT_OK(kfix_disable(&f));
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}

static uint64_t uv_calls(struct kfix *f, uint16_t cmd)
{
	struct uv_stats st;

	uv_stats_get(f->uv, &st);
	return st.cmd[uv_cmd_index(cmd)].calls;
}

/*
 * The new guest touches a page still secure for the old config (its
 * cleanup held): 0x3f.  With @fail_nth, that destroy fails and the
 * handler exports the page instead.  Returns the destroy-page calls made
 * before the touch.
 */
static uint64_t new_guest_meets_old_page(uint64_t fail_nth)
{
	struct kfix_opts o = big(KVM_DESTROY_LAZY);
	uint64_t before, owner;
	struct kvm_stats ks;
	struct gate g;
	struct kfix f;

	if (fail_nth)
		o.inject[0] = (struct uv_inject){
			.cmd = UVC_CMD_DESTR_SEC_STOR, .nth = fail_nth,
			.cc = 1, .rc = 0x0102 };
	kfix_init(&f, &o);
	gate_init(&g, &f);
	gate_install(&g);
	g.chunks_allowed = 1u << 30;
	kfix_boot_protected(&f);
	kfix_touch(&f, HIGH_GADDR, 4, 95, true);
	ASSERT_OK(kfix_disable(&f));
	gate_wait_at_start(&g, 1);
	kfix_boot_protected(&f);
	ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR, NULL), UV_FRAME_SECURE);
	before = uv_calls(&f, UVC_CMD_DESTR_SEC_STOR);
	ks = kfix_kstats(&f);
	kfix_touch(&f, HIGH_GADDR, 1, 0, false);	/* zeros: the old data is gone */
	ASSERT_UEQ(kfix_kstats(&f).pgm_3f, ks.pgm_3f + 1);
	ASSERT_UEQ(uv_calls(&f, UVC_CMD_DESTR_SEC_STOR), before + 1);
	ASSERT_UEQ(kfix_kstats(&f).exports, ks.exports + (fail_nth ? 1 : 0));
	ASSERT_EQ(kfix_frame_state(&f, HIGH_GADDR, &owner), UV_FRAME_SECURE);
	ASSERT_XEQ(owner, kvm_pv_handle(f.kvm));
	gate_open_start(&g);
	kvm_module_drain(f.mod);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return before;
}

/* 0x3f: destroy the stale page, else export it (the destroy failing). */
TEST_IMPL(kvm_lazy_0x3f_export_fallback)
{
	/* A dry run counts the destroy calls before the touch; the second
	 * run fails exactly the 0x3f handler's destroy. */
	uint64_t before = new_guest_meets_old_page(0);

	ASSERT_UEQ(new_guest_meets_old_page(before + 1), before);
	return 0;
}
