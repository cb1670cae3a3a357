/* SPDX-License-Identifier: MIT */
/*
 * mm_internal.h - private to src/mm/: the layout of the world, memcgs,
 * tasks, address spaces and VMAs, and the calls between the files of the
 * folder.  Each structure says which lock protects which field; the global
 * order (docs/locking.md) is:
 *
 *   oom_lock > notifier_lock (read) > task_lock > reaper_lock
 *   mmap_lock > mn_lock (read)
 *   mmap_lock > PTL > zone_lock;  wait_lock only after zone_lock is dropped
 *   mm_list_lock > mmap_lock (mm_check only);  memcg_lock: a leaf
 */
#ifndef LAZYPV_MM_INTERNAL_H
#define LAZYPV_MM_INTERNAL_H

#include <pthread.h>

#include "mm.h"

#define MM_PFN_NONE UINT32_MAX
#define MM_TABLE_SHIFT (HW_PAGE_SHIFT + 9)
#define MM_MMAP_BASE 0x100000000ULL	/* first address mm_mmap hands out */

struct memcg {
	struct mm_world *world;
	char name[48];
	struct memcg *next;		/* world->memcgs, under memcg_lock */
	int64_t usage;			/* atomic, pages */
	uint64_t limit;			/* atomic, pages, 0 = unlimited */
	uint64_t peak;			/* atomic (max) */
	uint64_t failcnt, charges, uncharges, oom, oom_kill;	/* atomic */
	int64_t leaked;			/* atomic: leaked pages, still charged */
	uint64_t cpu_ns;		/* atomic: memcg_charge_cpu */
	int refs;			/* atomic: tasks + mms using it */
	bool offline;			/* destroyed, kept for leaked pages */
	uint64_t check_pages;		/* mm_check scratch, under memcg_lock */
	uint64_t check_leaked;		/* mm_check scratch, under memcg_lock */
};

struct task {
	struct mm_world *world;
	int pid;
	unsigned int flags;
	/* under world->task_lock */
	struct task *parent;
	struct task *next;		/* world->tasks */
	struct task *reap_next;		/* world->reap_queue, reaper_lock */
	struct mm *mm;			/* NULL once exit_mm ran */
	struct memcg *memcg;		/* a ref; dropped when reaped */
	int threads;
	enum task_state state;
	int exit_code;
	bool exit_queued;		/* exit decided; runs once */
	bool waited;			/* task_wait() in progress */
	bool fatal;			/* atomic: fatal signal pending */
	bool oom_victim;		/* killed by the OOM path */
	uint64_t cpu_charged_ns;	/* atomic: task_charge_cpu */
	void (*exit_files)(void *);	/* under task_lock */
	void *exit_files_ctx;
};

struct pt;

struct vma {
	uintptr_t start, end;		/* [start, end), page-aligned */
	unsigned int prot;
	struct vma *next;		/* sorted by start, under mmap_lock */
	struct pt *pt;			/* page table (shared after a split) */
};

struct mm {
	struct mm_world *world;
	int users;			/* atomic mm_users */
	int count;			/* atomic mm_count */
	struct lpv_rwlock mmap_lock;	/* VMA list, next_addr, PTE slots'
					 * existence (not their content) */
	struct vma *vmas;		/* under mmap_lock */
	uintptr_t next_addr;		/* under mmap_lock (write) */
	bool dead;			/* exit_mmap ran, under mmap_lock */
	bool oom_victim;		/* MMF_OOM_VICTIM: atomic, set by the
					 * OOM killer, read by exit_mmap */
	int64_t rss;			/* atomic: present PTEs */
	struct memcg *memcg;		/* a ref; charged for faults */
	struct lpv_rwlock mn_lock;	/* mmu notifier list */
	struct mmu_notifier *notifiers;
	struct mm *list_next, *list_prev;	/* world->mms, mm_list_lock */
	struct mm_context context;
};

struct mm_world {
	struct hw_machine *hw;
	struct mm_config cfg;
	uint64_t nr_frames;
	struct page *pages;
	uint64_t reserve_pages;

	/* allocator: zone_lock protects the free stack and nr_free */
	struct lpv_mutex zone_lock;
	uint32_t free_head;
	uint64_t nr_free;		/* also read racily (atomic) */
	int64_t use_count[PAGE_USE_NR];	/* atomic */
	int64_t leak_count[MM_LEAK_NR];	/* atomic */
	bool warned_alloc_fail;		/* atomic */

	/* memory waiters: wait_lock protects nothing but the sleep itself */
	struct lpv_mutex wait_lock;
	struct lpv_cond wait_cond;
	int waiters;			/* atomic */

	/* memcgs */
	struct lpv_mutex memcg_lock;
	struct memcg *memcgs;

	/* OOM: oom_lock serialises kills; notifier_lock the chain */
	struct lpv_mutex oom_lock;
	struct lpv_rwlock notifier_lock;
	struct oom_notifier *notifiers;

	/* tasks: task_lock protects the table and every task's state */
	struct lpv_mutex task_lock;
	struct lpv_cond task_cond;	/* a task became a zombie */
	struct task *tasks;
	int next_pid;

	/* oom_reaper: exits killed tasks that have no thread */
	struct lpv_mutex reaper_lock;
	struct lpv_cond reaper_cond;
	struct task *reap_queue;
	bool reaper_stop;
	pthread_t reaper;

	/* address spaces, for mm_check and stats */
	struct lpv_mutex mm_list_lock;
	struct mm mm_list;		/* sentinel: list_next/list_prev only */
	uint64_t nr_mms;

	const struct mm_arch_ops *arch;	/* atomic pointer */
	void *arch_ctx;

	struct mm_stats stats;		/* counters: atomic relaxed */

	/* failure injection (fail.c): written by mm_fail_set at quiescent
	 * points only; fail_seen atomic */
	bool fail_on;
	struct mm_fail_config fail;
	uint64_t fail_seen;
};

#define mm_stat_add(w, name, v) atomic_add_relaxed(&(w)->stats.name, (v))
#define mm_stat_inc(w, name) mm_stat_add(w, name, 1)
void mm_stat_max(uint64_t *stat, uint64_t v);

/* page.c */
int mm_page_alloc_use(struct mm_world *world, unsigned int gfp,
		      struct memcg *memcg, enum page_use use,
		      struct page **out) __must_check;
int mm_page_alloc_init(struct mm_world *world) __must_check;
void mm_page_alloc_deinit(struct mm_world *world);
void mm_memory_event(struct mm_world *world);
/* wait until @done(arg) or the deadline; false on timeout */
bool mm_memory_wait(struct mm_world *world, bool (*done)(void *),
		    void *arg, uint64_t deadline_ns);
bool mm_zone_has_free(struct mm_world *world, unsigned int gfp);

/* fail.c: true if this allocation is to fail (injected) */
bool mm_fail_hit(struct mm_world *world, enum mm_alloc_kind kind,
		 unsigned int gfp, enum page_use use, size_t nr, bool charged);
static inline bool mm_fail_should(struct mm_world *world,
				  enum mm_alloc_kind kind, unsigned int gfp,
				  enum page_use use, size_t nr, bool charged)
{
	if (likely(!world->fail_on))
		return false;
	return mm_fail_hit(world, kind, gfp, use, nr, charged);
}

/* memcg.c */
int memcg_try_charge(struct memcg *memcg, uint64_t nr) __must_check;
void memcg_uncharge(struct memcg *memcg, uint64_t nr);
bool memcg_has_room(const struct memcg *memcg);
void memcg_get(struct memcg *memcg);
void memcg_put(struct memcg *memcg);
void memcg_destroy_all(struct mm_world *world);

/* oom.c */
int oom_run(struct mm_world *world, struct memcg *memcg,
	    uint64_t deadline_ns) __must_check;
int oom_reaper_start(struct mm_world *world) __must_check;
void oom_reaper_stop(struct mm_world *world);
void oom_reaper_queue_locked(struct mm_world *world, struct task *task);

/* task.c */
void task_exit_now(struct task *task);
/* under task_lock: mark for exit; true if the caller must run it */
bool task_exit_decide_locked(struct task *task);
void task_reap_all(struct mm_world *world);

/* mm.c */
int mm_create(struct mm_world *world, struct memcg *memcg,
	      struct mm **out) __must_check;
struct vma *mm_find_vma(struct mm *mm, uintptr_t addr);
uint64_t *vma_ptep(const struct vma *vma, uintptr_t addr);
struct lpv_mutex *vma_ptl(const struct vma *vma, uintptr_t addr);

/* mm.c, for check.c */
int mm_check_mm(struct mm_world *world, struct mm *mm, uint64_t *present);

#endif /* LAZYPV_MM_INTERNAL_H */
