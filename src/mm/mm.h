/* SPDX-License-Identifier: MIT */
/*
 * mm.h - the host kernel's memory manager: the one header of src/mm/ that
 * the layers above (kvm, vmm, tools) include.
 *
 * A struct mm_world is the host kernel's memory state for one machine
 * (struct hw_machine): a struct page per frame, the page allocator, memory
 * cgroups, the OOM path (notifier chain, victim selection, kill, the
 * oom_reaper thread), the task table and the address spaces (struct mm).
 * Nothing in here calls up: the KVM/UV layer plugs in through the arch hooks
 * (struct mm_arch_ops), mmu notifiers and OOM notifiers.
 *
 * Errors are 0 or a negative errno.  Locking rules and the global lock order
 * are in docs/locking.md; the design is in docs/mm.md.  In short, never call
 * into mm while holding a PTL, and make waiting allocations (MM_GFP_WAIT)
 * with at most an mmap_lock held for read.
 */
#ifndef LAZYPV_MM_H
#define LAZYPV_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lazypv/compiler.h"
#include "hw/hw.h"
#include "lib/lib.h"

struct mm_world;
struct mm;
struct memcg;
struct task;

/* ====================================================================
 * struct page
 * ==================================================================== */

/* Page flags (bit numbers in page->flags; atomic bit operations). */
enum page_flag {
	PG_arch_1 = 0,	/* s390: the frame may be secure (set before import,
			 * cleared only after a successful export/destroy) */
	PG_locked,	/* page lock: page_trylock()/page_unlock() */
	PG_reserved,	/* never handed out by the allocator (PFN 0) */
	PG_NR_FLAGS,
};

/*
 * What a frame is used for.  Every frame has exactly one use; the counts
 * per use add up to the number of frames (invariant 1, mm_check()).
 */
enum page_use {
	PAGE_USE_FREE = 0,	/* on the allocator's free list */
	PAGE_USE_ANON,		/* user memory, mapped or held by a mapping user */
	PAGE_USE_KERNEL,	/* allocated by kernel code (tables, chunks...) */
	PAGE_USE_PENDING,	/* set aside, waiting for cleanup */
	PAGE_USE_DONATED,	/* donated to the Ultravisor */
	PAGE_USE_LEAKED,	/* lost on purpose; see enum mm_leak_reason */
	PAGE_USE_NR,
};

/* Why a frame was leaked: the one list of intentional leaks. */
#define MM_LEAK_REASONS(X)						\
	X(secure_at_free, "freed while PG_arch_1 was set")		\
	X(destroy_failed, "UV destroy of the page failed")		\
	X(export_failed, "UV export of the page failed")		\
	X(conf_destroy_failed, "storage of a config whose destroy failed") \
	X(cpu_destroy_failed, "storage of a CPU whose destroy failed")	\
	X(other, "other intentional leak")

enum mm_leak_reason {
#define MM_LEAK_ENUM(name, desc) MM_LEAK_##name,
	MM_LEAK_REASONS(MM_LEAK_ENUM)
#undef MM_LEAK_ENUM
	MM_LEAK_NR,
};

/*
 * One per frame, in an array indexed by PFN.  Fields other than those
 * marked are only written by the holder of a reference (or, for a free
 * page, under the allocator's zone_lock).
 */
struct page {
	int32_t refcount;	/* atomic; 0 = free or frozen */
	uint32_t flags;		/* atomic bit ops, enum page_flag */
	uint8_t use;		/* enum page_use, via mm_page_set_use() */
	uint8_t leak_reason;	/* enum mm_leak_reason when use == LEAKED */
	uint16_t pad;
	uint32_t next_free;	/* free-list links (PFNs), under zone_lock: */
	uint32_t prev_free;	/* doubly linked so a run can be unlinked */
	struct memcg *memcg;	/* charged to; set at alloc, cleared at free */
	uintptr_t private;	/* for the owner's use (e.g. the KVM layer) */
};

static inline bool page_test_flag(const struct page *page, enum page_flag f)
{
	return (__atomic_load_n(&page->flags, __ATOMIC_ACQUIRE) >> f) & 1;
}

static inline void page_set_flag(struct page *page, enum page_flag f)
{
	atomic_fetch_or(&page->flags, 1u << f);
}

static inline void page_clear_flag(struct page *page, enum page_flag f)
{
	atomic_fetch_and(&page->flags, ~(1u << f));
}

/* PG_locked: a bit lock, never waited on (the caller backs off: -EAGAIN). */
static inline bool page_trylock(struct page *page)
{
	return !(atomic_fetch_or(&page->flags, 1u << PG_locked) &
		 (1u << PG_locked));
}

static inline void page_unlock(struct page *page)
{
	uint32_t old = atomic_fetch_and(&page->flags, ~(1u << PG_locked));

	BUG_ON(!(old & (1u << PG_locked)));
}

static inline int page_ref_count(const struct page *page)
{
	return __atomic_load_n(&page->refcount, __ATOMIC_ACQUIRE);
}

/* Take a reference on a page the caller already holds a reference to. */
static inline void page_get(struct page *page)
{
	BUG_ON(atomic_add_return(&page->refcount, 1) <= 1);
}

/* Take a reference unless the count is 0 (free or frozen). */
static inline bool page_try_get(struct page *page)
{
	int32_t old = page_ref_count(page);

	while (old > 0)
		if (atomic_cmpxchg(&page->refcount, &old, old + 1))
			return true;
	return false;
}

/*
 * "Expected count" check: atomically replace @expected by 0 so nobody can
 * take a new reference (page_try_get fails) until page_ref_unfreeze().
 * A mapped anonymous page's count is 1 (the mapping) plus one per holder of
 * mm_get_user_page().
 */
static inline bool page_ref_freeze(struct page *page, int expected)
{
	int32_t old = expected;

	return atomic_cmpxchg(&page->refcount, &old, 0);
}

static inline void page_ref_unfreeze(struct page *page, int count)
{
	BUG_ON(page_ref_count(page) != 0 || count <= 0);
	atomic_store_release(&page->refcount, count);
}

static inline enum page_use page_use(const struct page *page)
{
	return (enum page_use)__atomic_load_n(&page->use, __ATOMIC_ACQUIRE);
}

/* ====================================================================
 * the world, options, stats
 * ==================================================================== */

/*
 * Tunables: name, environment variable, default, min, max, is-a-size,
 * description.  mm_config_init() fills the defaults and applies the
 * environment; sizes accept K/M/G.
 */
#define MM_OPTIONS(X)							\
	X(oom_wait_ms, "LAZYPV_MM_OOM_WAIT_MS", 1000, 0, 600000, false,	\
	  "longest an allocation waits in the OOM path before -ENOMEM") \
	X(reserve_bytes, "LAZYPV_MM_RESERVE", 256 * 1024, 0, 1ULL << 30, true, \
	  "emergency reserve: only MM_GFP_HIGH allocations may use it") \
	X(reserve_pfn0, "LAZYPV_MM_RESERVE_PFN0", 1, 0, 1, false,	\
	  "keep PFN 0 out of the allocator (PG_reserved, counted as kernel)") \
	X(oom_kill, "LAZYPV_MM_OOM_KILL", 1, 0, 1, false,		\
	  "select and kill a victim when the OOM notifiers freed nothing")

struct mm_config {
#define MM_OPTION_FIELD(name, env, def, min, max, size, desc) uint64_t name;
	MM_OPTIONS(MM_OPTION_FIELD)
#undef MM_OPTION_FIELD
};

/* Defaults, then environment overrides.  -EINVAL/-ERANGE on a bad value
 * (the message names the variable). */
int mm_config_init(struct mm_config *cfg) __must_check;
/* Print the option table (name, env, value, range, description). */
void mm_config_print(const struct mm_config *cfg, FILE *f);

/*
 * Create the host memory manager over @hw: every frame starts free (PFN 0
 * reserved if cfg->reserve_pfn0).  @cfg NULL = mm_config_init().  Registers
 * the 0x3d handler on @hw and starts the oom_reaper thread.
 */
int mm_world_create(struct hw_machine *hw, const struct mm_config *cfg,
		    struct mm_world **out) __must_check;
/*
 * Tear down: exits and reaps every task that has no threads attached, then
 * frees everything.  Pages still allocated are not checked (call
 * mm_check() first when that matters).
 */
void mm_world_destroy(struct mm_world *world);

struct hw_machine *mm_world_hw(const struct mm_world *world);
const struct mm_config *mm_world_config(const struct mm_world *world);

/* Counters (monotonic unless noted), one declared list. */
#define MM_STATS(X)							\
	X(page_allocs, "pages allocated")				\
	X(page_frees, "pages returned to the free list")		\
	X(alloc_failures, "allocations that returned -ENOMEM")		\
	X(alloc_injected, "of those, failed by injection (mm_fail_set)") \
	X(reserve_allocs, "allocations served from the emergency reserve") \
	X(double_frees, "misuse caught: free of a page with no reference") \
	X(secure_at_free, "pages freed with PG_arch_1 set (leaked)")	\
	X(faults, "host page faults that mapped a new page")		\
	X(fault_retries, "faults that dropped mmap_lock to wait")	\
	X(ptes_cleared, "present PTEs cleared by munmap/exit_mmap")	\
	X(arch_pte_clears, "PTEs handed to the arch pte_clear hook")	\
	X(exit_mmaps, "address spaces torn down")			\
	X(mms_created, "address spaces created")			\
	X(mms_freed, "struct mm freed (mm_count reached 0)")		\
	X(tasks_created, "tasks created")				\
	X(tasks_exited, "tasks exited")					\
	X(memcg_limit_hits, "charges refused by a memcg limit")	\
	X(oom_runs, "OOM path entries")					\
	X(oom_reaps, "OOM victims' memory unmapped before exit_mmap")	\
	X(oom_notifier_calls, "OOM notifier callbacks run")		\
	X(oom_notifier_freed, "pages the OOM notifiers reported freed") \
	X(oom_kills, "tasks killed by the OOM path")			\
	X(oom_waits, "allocations that waited in the OOM path")	\
	X(oom_stall_max_ns, "longest allocation stall (ns, max)")	\
	X(pgm_3d, "0x3d interruptions seen by the mm handler")	\
	X(pgm_3d_resolved, "0x3d interruptions resolved")

/*
 * Allocation stalls in the OOM path as a histogram: four buckets per power
 * of two of microseconds (a bucket's bounds differ by at most 25 %), from
 * under 1 us up to a last, unbounded bucket of everything from 7 << 21 us
 * (14.7 s) on.
 */
#define MM_STALL_BUCKETS 92

struct mm_stats {
#define MM_STAT_FIELD(name, desc) uint64_t name;
	MM_STATS(MM_STAT_FIELD)
#undef MM_STAT_FIELD
	uint64_t oom_stall_hist[MM_STALL_BUCKETS];	/* stalls per bucket */
	/* gauges */
	uint64_t nr_frames;
	uint64_t use[PAGE_USE_NR];	/* frames per enum page_use */
	uint64_t leaked[MM_LEAK_NR];	/* leaked frames per reason */
	uint64_t nr_tasks;		/* tasks not yet reaped */
	uint64_t nr_mms;		/* struct mm alive */
};

void mm_stats_get(struct mm_world *world, struct mm_stats *out);
/* The bucket of a stall of @ns, and the upper bound (ns) of bucket @b. */
unsigned int mm_stall_bucket(uint64_t ns);
uint64_t mm_stall_bucket_max_ns(unsigned int b);
/*
 * The stall that a share @q (0..1) of the stalls in @st do not exceed,
 * as the upper bound of its bucket, capped at the longest stall seen
 * (oom_stall_max_ns); 0 if no allocation stalled.
 */
uint64_t mm_stall_quantile_ns(const struct mm_stats *st, double q);
/* Everything mm knows (stats, uses, leaks, memcgs, options), as text or as
 * one JSON object. */
void mm_stats_print(struct mm_world *world, FILE *f, bool json);
const char *page_use_name(enum page_use use);
const char *mm_leak_reason_name(enum mm_leak_reason reason);

/*
 * Invariant checker (quiescent points only): frame conservation per use and
 * per leak reason against the counters, free list = free count, free pages
 * have refcount 0, no PG_arch_1 and no memcg, memcg usage = frames charged
 * (leaked ones included) and its leaked count = leaked frames charged,
 * every present PTE maps a referenced anon page, rss sums.  0 or -EUCLEAN
 * (the first violations are printed to stderr).
 */
int mm_check(struct mm_world *world) __must_check;

/* ====================================================================
 * the page allocator
 * ==================================================================== */

#define MM_GFP_WAIT		0x01u	/* may sleep: OOM path, then retry */
#define MM_GFP_NOWARN		0x02u	/* no failure warning */
#define MM_GFP_HIGH		0x04u	/* may dip into the emergency reserve */
#define MM_GFP_NOMEMALLOC	0x08u	/* never the reserve (beats HIGH) */
#define MM_GFP_ZERO		0x10u	/* clear through the host view */

#define MM_GFP_KERNEL	(MM_GFP_WAIT)
#define MM_GFP_ATOMIC	(MM_GFP_HIGH)

/*
 * Allocate one frame: refcount 1, use PAGE_USE_KERNEL, charged to @memcg
 * (NULL: not charged).  Without MM_GFP_WAIT it fails at once (-ENOMEM);
 * with it, a failed charge enters @memcg's OOM path and a failed allocation
 * the global one, each bounded by oom_wait_ms.  A thread whose task has a
 * fatal signal pending fails fast.  O(1).
 */
int mm_page_alloc(struct mm_world *world, unsigned int gfp,
		  struct memcg *memcg, struct page **out) __must_check;
/*
 * @nr physically contiguous frames (for storage donated to the UV, which
 * wants runs: __get_free_pages(order) / the linear map).  Each page is
 * returned like mm_page_alloc's; free them one by one with mm_page_put.
 * First fit from the top of memory, which the LIFO allocator reaches last;
 * O(run) when the top is free, O(frames) in the worst case.  May wait like
 * mm_page_alloc (MM_GFP_WAIT) for the OOM path, then retries once.
 */
int mm_page_alloc_contig(struct mm_world *world, unsigned int gfp,
			 struct memcg *memcg, size_t nr,
			 struct page **first) __must_check;
/*
 * The same, the run starting at a PFN that is a multiple of @align frames
 * (INIT_UV's storage: the UV ignores the low bits of its 1 MiB origin, so
 * an unaligned run would hand it frames the allocator still owns).
 * -EINVAL for @align 0 or beyond memory.
 */
int mm_page_alloc_contig_aligned(struct mm_world *world, unsigned int gfp,
				 struct memcg *memcg, size_t nr, uint64_t align,
				 struct page **first) __must_check;
/* All or nothing: @nr pages into @pages, one lock round trip. */
int mm_page_alloc_bulk(struct mm_world *world, unsigned int gfp,
		       struct memcg *memcg, size_t nr,
		       struct page **pages) __must_check;

/*
 * Failure injection (tests, the failure-point sweep; docs/mm.md): make
 * the nth page allocation that matches fail with -ENOMEM, as if memory
 * had run out, before it charges or takes anything.  Off by default; off,
 * the allocator pays one predicted branch.  An allocation matches when
 * (gfp & gfp_mask) == gfp_match and, unless any_use, its use is @use
 * (mm_page_alloc, _bulk and _contig allocate PAGE_USE_KERNEL, faults
 * PAGE_USE_ANON).  Numbers count matching allocations (a bulk or contig
 * call is one) from the mm_fail_set() that armed it.
 */
enum mm_alloc_kind {
	MM_ALLOC_ONE,		/* mm_page_alloc, a fault's page */
	MM_ALLOC_BULK,		/* mm_page_alloc_bulk */
	MM_ALLOC_CONTIG,	/* mm_page_alloc_contig(_aligned) */
	MM_ALLOC_NR_KINDS,
};

struct mm_alloc_info {
	enum mm_alloc_kind kind;
	unsigned int gfp;
	enum page_use use;
	size_t nr;		/* pages */
	bool charged;		/* to a memcg */
};

struct mm_fail_config {
	uint64_t nth;		/* 1-based; 0: fail none, only count */
	unsigned int gfp_mask, gfp_match;
	bool any_use;
	enum page_use use;
	/*
	 * Called for every matching allocation with its number and whether
	 * it is the one that fails, on the allocating thread, possibly under
	 * a PTL or the caller's locks: it must not allocate, sleep or call
	 * into mm.  May be NULL.
	 */
	void (*note)(void *ctx, uint64_t n, const struct mm_alloc_info *info,
		     bool failed);
	void *ctx;
};

/* Arm (@cfg) or disarm (NULL) at a quiescent point: no allocation may run
 * concurrently with the call itself. */
void mm_fail_set(struct mm_world *world, const struct mm_fail_config *cfg);
/* Matching allocations seen since the last mm_fail_set(). */
uint64_t mm_fail_seen(struct mm_world *world);
const char *mm_alloc_kind_name(enum mm_alloc_kind kind);

/*
 * Drop a reference; the last one frees the frame: uncharges it and pushes
 * it on the free list -- unless PG_arch_1 is set, in which case it is
 * leaked (secure_at_free) with a one-time warning, or it was leaked already.
 * Dropping a reference that does not exist is a BUG.
 */
void mm_page_put(struct mm_world *world, struct page *page);
void mm_page_put_bulk(struct mm_world *world, struct page **pages, size_t nr);
/*
 * Misuse-detecting put for owners of a single reference: -EINVAL (and the
 * double_frees counter) if the page has no reference (free or frozen)
 * instead of a BUG.
 */
int mm_page_free(struct mm_world *world, struct page *page) __must_check;

/* Move a page between uses (not to/from FREE: the allocator does that). */
void mm_page_set_use(struct mm_world *world, struct page *page,
		     enum page_use use);
/* The same for @n pages, the per-use counters moved once per old use. */
void mm_page_set_use_bulk(struct mm_world *world, struct page *const *pages,
			  size_t n, enum page_use use);
/*
 * The one place intentional leaks are counted: the frame is never reused.
 * It stays charged to its memcg, as in Linux, where memory that is never
 * freed is never uncharged (counted in the memcg's `leaked`); later puts
 * are harmless.  Callers comment why at the call site.
 */
void mm_page_leak(struct mm_world *world, struct page *page,
		  enum mm_leak_reason reason);

struct page *mm_pfn_to_page(struct mm_world *world, hw_pfn_t pfn);
hw_pfn_t mm_page_to_pfn(struct mm_world *world, const struct page *page);
/* Host-view pointer of the frame (hw_host_page: may raise 0x3d). */
void *mm_page_host(struct mm_world *world, const struct page *page);

/* ====================================================================
 * memory cgroups (flat: no hierarchy)
 * ==================================================================== */

struct memcg_stats {
	uint64_t usage;		/* pages charged now */
	uint64_t peak;		/* max usage */
	uint64_t limit;		/* pages, 0 = unlimited */
	uint64_t failcnt;	/* charges refused by the limit */
	uint64_t charges;	/* pages charged, total */
	uint64_t uncharges;	/* pages uncharged, total */
	uint64_t oom;		/* OOM path entries for this memcg */
	uint64_t oom_kill;	/* tasks killed for this memcg */
	uint64_t leaked;	/* pages leaked on purpose, charged for good */
	uint64_t cpu_ns;	/* CPU time charged by kernel work done for
				 * its tasks after they left (memcg_charge_cpu) */
};

/* @limit_bytes 0 = unlimited (rounded up to pages). -EINVAL bad name. */
int memcg_create(struct mm_world *world, const char *name,
		 uint64_t limit_bytes, struct memcg **out) __must_check;
/*
 * -EBUSY while tasks/mms use it or pages other than leaked ones are charged.
 * With only leaked pages charged it goes offline instead of away: the
 * caller is done with it, the world keeps it (for their page->memcg and for
 * the stats) until the world is destroyed.
 */
int memcg_destroy(struct memcg *memcg) __must_check;
void memcg_set_limit(struct memcg *memcg, uint64_t limit_bytes);
void memcg_stats_get(const struct memcg *memcg, struct memcg_stats *out);
const char *memcg_name(const struct memcg *memcg);
uint64_t memcg_usage(const struct memcg *memcg);	/* pages */
/* Charge @ns of CPU time spent on the memcg's behalf (cleanup workers of
 * an address space charged to it).  The caller keeps the memcg alive (a
 * task or mm using it). */
void memcg_charge_cpu(struct memcg *memcg, uint64_t ns);

/* ====================================================================
 * the OOM path
 * ==================================================================== */

/*
 * An OOM notifier: called in priority order (higher first) when an
 * allocation finds the machine out of memory, before any kill; never for a
 * memcg that hit its limit (that OOM goes straight to a victim in the
 * memcg).  It may sleep; it adds the pages it freed (or saw freed) to
 * *freed, which carries the total of the callbacks run so far in this
 * pass.  Return value: 0 (reserved for the chain).
 * Callbacks must not (un)register notifiers or allocate with MM_GFP_WAIT.
 * @memcg_fn, if set, is also called for the OOM of a memcg at its limit,
 * with that memcg, in the same way (Linux has no such chain: lazypv's
 * instant teardown uses it, docs/instant.md); notifiers without it are
 * not called for a memcg OOM.
 */
struct oom_notifier {
	int (*fn)(void *ctx, unsigned long *freed);
	int (*memcg_fn)(void *ctx, struct memcg *memcg, unsigned long *freed);
	void *ctx;
	int priority;
	struct oom_notifier *next;	/* private to the chain */
};

int oom_notifier_register(struct mm_world *world,
			  struct oom_notifier *nb) __must_check;
/* Waits for running callbacks; -ENOENT if not registered. */
int oom_notifier_unregister(struct mm_world *world,
			    struct oom_notifier *nb) __must_check;

/* ====================================================================
 * tasks (host processes)
 * ==================================================================== */

#define TASK_KTHREAD	0x1u	/* no mm (a kernel thread) */

/* Exit code of a task killed by task_kill() or the OOM killer. */
#define TASK_EXIT_KILLED 137

enum task_state {
	TASK_RUNNING = 0,
	TASK_EXITING,	/* do_exit in progress */
	TASK_ZOMBIE,	/* exited, mm released, waiting for task_wait() */
};

/*
 * A new process with a new, empty mm charged to @memcg (may be NULL =
 * uncharged).  @parent may be NULL.
 */
int task_create(struct mm_world *world, struct task *parent,
		struct memcg *memcg, unsigned int flags,
		struct task **out) __must_check;
/* clone(CLONE_VM): a child of @parent sharing its mm (mmget). */
int task_clone_vm(struct task *parent, struct task **out) __must_check;
/*
 * The same, with an exit_files hook (task_set_exit_files) in place from the
 * start: a kill that lands right after the clone -- the OOM killer takes
 * every task sharing the mm -- still runs it.  On error the hook is not
 * run.
 */
int task_clone_vm_files(struct task *parent, void (*exit_files)(void *ctx),
			void *ctx, struct task **out) __must_check;

/*
 * Threads: attach the calling thread to @task (it becomes task_current())
 * and detach it.  -ESRCH when the task is exiting or killed.  The last
 * thread to leave a task with a pending exit or kill runs its exit (so it
 * must hold no mm lock when leaving).
 */
int task_thread_enter(struct task *task) __must_check;
void task_thread_leave(struct task *task);
struct task *task_current(void);

/*
 * exit_group(@code): the task exits once no thread is attached (other than
 * the caller, who is detached): exit_mm (mmput: the last user runs
 * exit_mmap), then zombie, then the parent's task_wait() returns.  If other
 * threads are attached they get a fatal signal and the last one to leave
 * completes the exit.  -ESRCH if already exiting.  No mm lock may be held.
 */
int task_exit(struct task *task, int code) __must_check;
/*
 * SIGKILL: exit code TASK_EXIT_KILLED.  Like task_exit(), except that a
 * calling thread of @task stays attached (it notices at its next
 * task_should_stop() and leaves).  0 also when already exiting.
 */
int task_kill(struct task *task) __must_check;
/* Wait for @task to be a zombie, reap it (frees the struct) and return its
 * exit code in *code (may be NULL).  At most one waiter per task. */
int task_wait(struct task *task, int *code) __must_check;
/*
 * exit_files: @fn(@ctx) runs on the exit path after exit_mm and before the
 * task becomes a zombie, so before the parent's task_wait() returns (Linux
 * closes files -- e.g. a KVM VM fd -- there).  One per task; NULL clears.
 */
void task_set_exit_files(struct task *task, void (*fn)(void *ctx), void *ctx);

bool task_fatal_signal_pending(const struct task *task);
/* The calling thread's task has a fatal signal pending: stop work now. */
bool task_should_stop(void);
int task_pid(const struct task *task);
enum task_state task_get_state(const struct task *task);
struct memcg *task_memcg(const struct task *task);
/* The task's mm with an mm_users reference (get_task_mm), or NULL. */
struct mm *task_get_mm(struct task *task);

/*
 * CPU time spent by kernel work on a task's behalf after it handed that
 * work off (instant teardown's cleanup workers): charged by pid -- the
 * worker holds no task pointer, as a Linux worker would hold a struct
 * pid, not the task -- while the task exists, running or a zombie not yet
 * reaped.  -ESRCH once it is reaped (pids are never reused in a world):
 * the caller then charges the memcg alone.
 */
struct task_stats {
	uint64_t cpu_charged_ns;	/* task_charge_cpu, total */
};
int task_charge_cpu(struct mm_world *world, int pid, uint64_t ns) __must_check;
/* The caller keeps @task from being reaped (its parent, or before wait). */
void task_stats_get(const struct task *task, struct task_stats *out);

/* ====================================================================
 * address spaces
 * ==================================================================== */

/*
 * Page-sized chunk of PFNs set aside at mm teardown (the deferred list),
 * laid out as v2's struct destroy_page_lazy: a list_head (two pointers),
 * the count, then (4096 - 24) / 8 = 509 PFNs.
 */
#define MM_DEFERRED_CHUNK_HDR 24
#define MM_DEFERRED_CHUNK_MAX ((HW_PAGE_SIZE - MM_DEFERRED_CHUNK_HDR) / 8)
struct mm_deferred_chunk {
	struct mm_deferred_chunk *next;
	void *prev_unused;		/* list_head's other half */
	uint32_t count;
	uint32_t pad;
	uint64_t pfns[MM_DEFERRED_CHUNK_MAX];
};
_Static_assert(sizeof(struct mm_deferred_chunk) <= HW_PAGE_SIZE,
	       "a deferred chunk is one page");

/*
 * The arch context of an mm (s390 mm_context_t): owned by the KVM layer;
 * mm only initialises it and never reads it (except protected_count for
 * mm_is_protected()).
 */
struct mm_context {
	int protected_count;		/* atomic: live protected configs */
	bool pv_sync_destroy;		/* written under mmap_lock (write) */
	uint8_t pv_teardown;		/* KVM's choice for full unmaps
					 * (enum kvm_pv_teardown), atomic */
	struct lpv_mutex deferred_lock;	/* protects deferred_list/pages */
	struct mm_deferred_chunk *deferred_list;	/* chunks in frames */
	uint64_t deferred_pages;
	/* atomic: pages KVM's teardown still has to visit in this address
	 * space (set aside, or ahead of a running walk); kvm.h's progress */
	uint64_t pv_cleanup_pending;
	uint64_t gmap_asce;		/* placeholder for the gmap's ASCE */
	void *kvm_priv;
};

/* VMA protection */
#define MM_PROT_READ	0x1u
#define MM_PROT_WRITE	0x2u

/* PTE format: pfn << 12 | bits. */
#define MM_PTE_PRESENT	0x1ULL
#define MM_PTE_WRITE	0x2ULL
static inline bool mm_pte_present(uint64_t pte) { return pte & MM_PTE_PRESENT; }
static inline bool mm_pte_write(uint64_t pte) { return pte & MM_PTE_WRITE; }
static inline hw_pfn_t mm_pte_pfn(uint64_t pte) { return pte >> HW_PAGE_SHIFT; }

struct mm_world *mm_world_of(const struct mm *mm);
struct mm_context *mm_context(struct mm *mm);
struct memcg *mm_memcg(const struct mm *mm);
static inline bool mm_is_protected(struct mm *mm)
{
	return atomic_load_acquire(&mm_context(mm)->protected_count) > 0;
}
uint64_t mm_rss(const struct mm *mm);		/* mapped pages */
int mm_users(const struct mm *mm);

/* mm_users: the address space (a user keeps the mappings alive). */
void mmget(struct mm *mm);			/* caller holds a user ref */
bool mmget_not_zero(struct mm *mm) __must_check;
void mmput(struct mm *mm);			/* last: exit_mmap */
/* mm_count: the struct (KVM keeps it across the owner's exit). */
void mmgrab(struct mm *mm);
void mmdrop(struct mm *mm);			/* last: free the struct */

void mm_mmap_read_lock(struct mm *mm);
void mm_mmap_read_unlock(struct mm *mm);
void mm_mmap_write_lock(struct mm *mm);
void mm_mmap_write_unlock(struct mm *mm);

/* The end of the user address space (TASK_SIZE): what "walk the whole
 * address space" covers.  mm_mmap refuses to map above it. */
#define MM_TASK_SIZE (1ULL << 53)

/*
 * The first VMA that ends above @addr, as [*start, *end) with *start >=
 * @addr: a walk over a range visits only mapped addresses.  -ENOENT when
 * none is left.  Caller holds mmap_lock (read or write).
 */
int mm_vma_next(struct mm *mm, uintptr_t addr, uintptr_t *start,
		uintptr_t *end) __must_check;

/*
 * Map @len bytes (page multiple) of anonymous memory at an address mm
 * chooses (2 MiB aligned, never reused in the life of the mm).
 * -EINVAL bad len/prot, -ENOMEM metadata.  Takes mmap_lock (write).
 */
int mm_mmap(struct mm *mm, uint64_t len, unsigned int prot,
	    uintptr_t *addr) __must_check;
/*
 * Unmap [addr, addr+len) (page-aligned; may cover parts of VMAs, which are
 * split): invalidate_range notifiers, then each present PTE is cleared, the
 * pte_clear hook called (full = false) and the mapping's reference dropped.
 * Holes are fine.  Takes mmap_lock (write).
 */
int mm_munmap(struct mm *mm, uintptr_t addr, uint64_t len) __must_check;

/*
 * Host page fault at @addr: map a zeroed page charged to the mm's memcg if
 * none is mapped.  -EFAULT no VMA (or write to a read-only one), -ENOMEM,
 * -EINTR if the calling thread's task was killed while waiting.  The caller
 * holds an mm_users reference and no mm lock; *pfn (may be NULL) is only a
 * snapshot.
 */
int mm_fault(struct mm *mm, uintptr_t addr, bool write,
	     hw_pfn_t *pfn) __must_check;
/* follow_page(FOLL_GET) + fault: a referenced page (mm_page_put it). */
int mm_get_user_page(struct mm *mm, uintptr_t addr, bool write,
		     struct page **out) __must_check;
/* Copy to/from user memory through the host view (faults pages in; a
 * secure frame raises 0x3d, resolved by the arch hook). */
int mm_access(struct mm *mm, uintptr_t addr, void *buf, size_t len,
	      bool write) __must_check;

/*
 * get_locked_pte: the PTE slot of @addr with its page-table lock held.
 * Caller holds mmap_lock (read or write).  -EFAULT if no VMA covers @addr.
 * PTEs are read/written with mm_pte_read/mm_pte_write_locked.
 */
struct mm_pte_ref {
	uint64_t *ptep;
	struct lpv_mutex *ptl;
};
int mm_pte_lock(struct mm *mm, uintptr_t addr,
		struct mm_pte_ref *ref) __must_check;
void mm_pte_unlock(struct mm_pte_ref *ref);
/*
 * Lockless PTE read (a hardware walk): the caller holds mmap_lock, so the
 * VMA is stable, but not the PTL -- the value may change right after.
 * -EFAULT if no VMA covers @addr.
 */
int mm_pte_peek(struct mm *mm, uintptr_t addr, uint64_t *pte) __must_check;
static inline uint64_t mm_pte_read(const struct mm_pte_ref *ref)
{
	return __atomic_load_n(ref->ptep, __ATOMIC_ACQUIRE);
}

/* ---- mmu notifiers (per mm) ---- */

struct mmu_notifier;
struct mmu_notifier_ops {
	/* The last user is gone: called first in exit_mmap, before any PTE
	 * is cleared, without mmap_lock. */
	void (*release)(struct mmu_notifier *mn, struct mm *mm);
	/* [start, end) is about to be unmapped (munmap), under mmap_lock. */
	void (*invalidate_range)(struct mmu_notifier *mn, struct mm *mm,
				 uintptr_t start, uintptr_t end);
};
struct mmu_notifier {
	const struct mmu_notifier_ops *ops;
	struct mmu_notifier *next;	/* private to the mm */
};
int mmu_notifier_register(struct mmu_notifier *mn,
			  struct mm *mm) __must_check;
/* Waits for running callbacks; works after exit_mmap (mmgrab holders). */
void mmu_notifier_unregister(struct mmu_notifier *mn, struct mm *mm);

/* ---- arch hooks (registered once per world by the KVM/UV layer) ---- */

#define MM_PTES_PER_TABLE 512		/* one PTL per 512 PTEs (2 MiB) */

struct mm_arch_ops {
	/*
	 * ptep_get_and_clear_full, a page table at a time: called once per
	 * page table in which munmap (full = false) or exit_mmap (full =
	 * true) cleared present PTEs, with their addresses and pages
	 * (address order, 1 <= n <= MM_PTES_PER_TABLE), after the PTEs are
	 * cleared and before the mappings' page references are dropped,
	 * under mmap_lock and the table's PTL.  It may export/destroy a
	 * page, or take an extra reference and set it aside; per table, so
	 * that it can take a lock or move a counter once.  Must not sleep,
	 * take mm locks, or allocate with MM_GFP_WAIT.
	 */
	void (*pte_clear)(void *ctx, struct mm *mm, const uintptr_t *addrs,
			  struct page *const *pages, size_t n, bool full);
	/*
	 * arch_make_page_accessible: the host touched a protected frame
	 * (0x3d).  Called with a page reference held and no mm lock; return
	 * 0 once the frame is accessible (the access is retried).
	 */
	int (*make_accessible)(void *ctx, struct page *page);
};
/* @ops NULL unregisters.  Register before the first mm is created. */
void mm_arch_register(struct mm_world *world, const struct mm_arch_ops *ops,
		      void *ctx);

#endif /* LAZYPV_MM_H */
