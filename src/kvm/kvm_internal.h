/* SPDX-License-Identifier: MIT */
/*
 * kvm_internal.h - private to src/kvm/: the module, VM, vCPU and gmap
 * structures and the calls between the files of the folder.
 *
 * Locks (global order in docs/locking.md):
 *   kvm->lock          serialises PV commands and vCPU creation, protects
 *                      kvm->pv and the vCPU array (KVM's kvm->lock)
 *   gmap->lock         the top-level table and ASCE (guest_table_lock)
 *   mm locks           mmap_lock > PTL, taken inside the above
 *   page lock          PG_locked bit, trylock only (callers back off)
 * kvm->lock > gmap->lock > mmap_lock > PTL > page lock.
 */
#ifndef LAZYPV_KVM_INTERNAL_H
#define LAZYPV_KVM_INTERNAL_H

#include "kvm.h"
#include "lib/lib.h"
#include "lib/trace.h"

#define KVM_MAX_VCPUS 64

/*
 * The top-level table (CRST) of a gmap: 4 frames (16 KiB, 2048 entries),
 * in host memory like the real one, marked by the UV while a configuration
 * uses it.  Entry i maps guest [i << shift, (i + 1) << shift) to a user
 * address (the entry's origin; bit 0 = invalid), standing for the lower
 * levels of the guest's DAT tables.  A guest smaller than 2 GiB gets a
 * segment-table ASCE (1 MiB entries); larger ones a region-third table
 * (2 GiB entries).
 */
#define GMAP_TABLE_FRAMES 4
#define GMAP_TABLE_ENTRIES (GMAP_TABLE_FRAMES * HW_PAGE_SIZE / 8)
#define GMAP_ENTRY_INVALID 0x1ULL
#define GMAP_SEGMENT_SHIFT 20
#define GMAP_REGION3_SHIFT 31
#define GMAP_ASCE_TYPE_SEGMENT 0x0ULL
#define GMAP_ASCE_TYPE_REGION3 0x4ULL

struct gmap {
	struct kvm *kvm;
	struct lpv_mutex lock;		/* table, asce */
	struct page *table;		/* first of GMAP_TABLE_FRAMES frames */
	uint64_t asce;			/* origin | P | DT | TL */
	unsigned int shift;		/* bytes per entry, log2 */
	uint64_t guest_len;
	uintptr_t uaddr;
	bool leak_table;		/* marked by a config that could not be
					 * destroyed: leak it at gmap_destroy */
};

/* Donated storage: a physically contiguous run of frames. */
struct kvm_stor {
	struct page *first;
	size_t nr;
};

/*
 * A protected configuration KVM no longer runs but the UV still holds
 * (a set-aside or leftover VM, issue 5), or one being destroyed.
 */
struct pv_vm_to_be_destroyed {
	uint64_t handle;
	struct kvm_stor stor_base, stor_var;
	struct page *old_table;		/* its marked top-level table */
	struct pv_vm_to_be_destroyed *next;
};

/* What a full unmap (exit_mmap) does with a page that may be secure:
 * mm_context(mm)->pv_teardown, chosen per mode in pv_cmd.c. */
enum kvm_pv_teardown {
	KVM_TEARDOWN_EXPORT = 0,	/* export (content kept) */
	KVM_TEARDOWN_SET_ASIDE,		/* deferred list for the cleanup thread */
	KVM_TEARDOWN_DESTROY,		/* destroy, else export */
	KVM_TEARDOWN_INSTANT,		/* every unmap, only pages that may
					 * be secure: destroy, else export,
					 * else leak (instant.c) */
};

struct kvm_pv {
	uint64_t handle;		/* 0: not protected */
	uint64_t guest_len;
	struct kvm_stor stor_base, stor_var;
};

struct kvm_vcpu {
	struct kvm *kvm;
	unsigned int id;
	uint64_t cpu_handle;		/* under kvm->lock */
	struct kvm_stor stor;		/* donated per-CPU storage */
	struct page *sie_block;		/* the SIE state description */
	uint64_t prefix;		/* guest address of the 8 KiB lowcore */
	bool kicked;			/* atomic: leave SIE */
	bool running;			/* atomic: in kvm_vcpu_run */
};

struct kvm {
	struct kvm_module *mod;
	int users;			/* atomic: VM fd references */
	enum kvm_destroy_mode mode;	/* fixed once protected */
	struct mmu_notifier mn;		/* 6.0 on: release destroys CPUs */
	bool mn_registered;
	bool mn_fast;			/* ... and fast-destroys the config */
	/* async (under lock): at most one set-aside VM, and the leftovers of
	 * interrupted PERFORMs (or fast-destroyed configs) */
	struct pv_vm_to_be_destroyed *set_aside;
	struct pv_vm_to_be_destroyed *need_cleanup;
	struct task *owner;
	struct mm *mm;			/* mmgrab'ed */
	bool instant_mm;		/* instant (under lock): also an
					 * mm_users ref, from the first ENABLE
					 * to the VM's close, which hands it to
					 * the cleanup workers */
	bool instant_held;		/* atomic: a reboot job of this VM
					 * may wait for the next KVM_RUN */
	struct lpv_mutex lock;
	struct gmap *gmap;		/* NULL until kvm_set_memory */
	struct page *sca;		/* system control area frame */
	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	unsigned int nr_vcpus;
	struct kvm_pv pv;
};

struct kvm_module {
	struct mm_world *world;
	struct hw_machine *hw;
	struct uv *uv;
	struct kvm_params params;
	struct uv_info info;
	struct kvm_stor uv_stor;	/* donated at INIT_UV */
	bool has_misc, has_fast;
	int nr_vms;			/* atomic */
	unsigned int vcpus_running;	/* atomic: vCPUs in KVM_RUN and VMs in
					 * UNPACK, every VM */
	struct kvm_test_hooks hooks;	/* set while no cleanup runs */
	/* lazy cleanup threads: cleanup_lock protects the count */
	struct lpv_mutex cleanup_lock;
	struct lpv_cond cleanup_done;
	unsigned int cleanups;
	struct kvm_instant *instant;	/* instant.c: jobs, leak report */
	struct kvm_stats stats;		/* relaxed counters */
	/* Teardown progress (relaxed atomics, kvm_cleanup_progress): pages
	 * still to visit, over every address space, and pages visited. */
	uint64_t cleanup_pending;
	uint64_t cleanup_cleaned;
};

/* Teardown work of @n pages found (add) or done or given up (sub) in @mm. */
static inline void kvm_cleanup_pending_add(struct kvm_module *mod,
					   struct mm *mm, uint64_t n)
{
	atomic_add_relaxed(&mm_context(mm)->pv_cleanup_pending, n);
	atomic_add_relaxed(&mod->cleanup_pending, n);
}

static inline void kvm_cleanup_pending_sub(struct kvm_module *mod,
					   struct mm *mm, uint64_t n,
					   uint64_t cleaned)
{
	atomic_sub_relaxed(&mm_context(mm)->pv_cleanup_pending, n);
	atomic_sub_relaxed(&mod->cleanup_pending, n);
	atomic_add_relaxed(&mod->cleanup_cleaned, cleaned);
}

/* Trace spans of the teardown: one slice per this many pages. */
#define KVM_TRACE_SPAN_PAGES 4096

#define kvm_stat_inc(mod, name) atomic_add_relaxed(&(mod)->stats.name, 1)
#define kvm_stat_add(mod, name, v) atomic_add_relaxed(&(mod)->stats.name, (v))

/* module.c: contiguous kernel allocations, charged to @memcg (may be NULL) */
int kvm_stor_alloc(struct kvm_module *mod, struct memcg *memcg, uint64_t bytes,
		   enum page_use use, struct kvm_stor *out) __must_check;
void kvm_stor_free(struct kvm_module *mod, struct kvm_stor *stor);
/* The UV may still own it: never reused, counted with @reason. */
void kvm_stor_leak(struct kvm_module *mod, struct kvm_stor *stor,
		   enum mm_leak_reason reason);
static inline uint64_t kvm_stor_paddr(struct kvm_module *mod,
				      const struct kvm_stor *s)
{
	return mm_page_to_pfn(mod->world, s->first) << HW_PAGE_SHIFT;
}

/* gmap.c */
int gmap_create(struct kvm *kvm, uint64_t guest_len, uintptr_t uaddr,
		struct gmap **out) __must_check;
void gmap_destroy(struct gmap *gmap);
/* guest address -> user address; -EFAULT outside guest memory */
int gmap_translate(struct gmap *gmap, uint64_t gaddr,
		   uintptr_t *uaddr) __must_check;
/* Copy the table into fresh frames and switch to it; the old table is
 * returned, unlisted (its owner decides: free or leak).  -EINVAL for a
 * segment-table ASCE (small guests) unless @segment_ok (v2 had no such
 * refusal; see gmap.c), -ENOMEM. */
int gmap_replace_asce(struct gmap *gmap, bool segment_ok,
		      struct page **old) __must_check;
/* Hand the table to a leaving config (a shutdown's set-aside): the gmap
 * has none after it, and translates nothing.  Returns the table,
 * unlisted. */
struct page *gmap_take_table(struct gmap *gmap);
uint64_t gmap_asce(struct gmap *gmap);
bool gmap_is_small(const struct gmap *gmap);

/* uvhost.c: arch/s390/kernel/uv.c + the gmap fault helpers */
extern const struct mm_arch_ops kvm_arch_ops;
/* Import @gaddr with @uvcb (CONV_TO_SEC_STOR or UNPACK_IMG): one attempt;
 * -EAGAIN to retry, -ENXIO when the page must be faulted in first. */
int kvm_make_secure(struct kvm *kvm, uint64_t gaddr,
		    struct uv_cb_header *uvcb) __must_check;
/* make_secure with the retry loop (fault-in, -EAGAIN with a yield). */
int kvm_convert_to_secure(struct kvm *kvm, uint64_t gaddr,
			  struct uv_cb_header *uvcb) __must_check;
/* 0x3f: destroy the stale page, else export it. */
int kvm_destroy_page(struct kvm *kvm, uint64_t gaddr) __must_check;
/* 0x3d on a gmap fault: pin shared, else export, the page behind @gaddr. */
int kvm_make_accessible_gaddr(struct kvm *kvm, uint64_t gaddr) __must_check;
/* Owned variants: clear PG_arch_1 on success. */
int kvm_uv_destroy_owned(struct kvm_module *mod, struct page *page) __must_check;
int kvm_uv_export_owned(struct kvm_module *mod, struct page *page) __must_check;
/*
 * The batched range walk (s390_uv_destroy_range): one destroy UVC for
 * every present page of [start, end) (the VMAs in it; callers pass the
 * whole user address space, 0 .. MM_TASK_SIZE, as the kernel does),
 * gather_pages at a time, yielding between batches.  Interruptible:
 * -EINTR once the calling task has a fatal signal pending.
 */
int kvm_uv_destroy_range(struct kvm_module *mod, struct mm *mm,
			 uintptr_t start, uintptr_t end,
			 bool interruptible) __must_check;
/* v2's variant: also stops once mm_users falls to @users (the walker's own
 * reference is the last one: the final exit_mmap will do the rest). */
int kvm_uv_destroy_range_users(struct kvm_module *mod, struct mm *mm,
			       uintptr_t start, uintptr_t end,
			       int users) __must_check;
int kvm_pgm_3e(void *ctx, const struct hw_pgm_info *info);
int kvm_pgm_3f(void *ctx, const struct hw_pgm_info *info);

/* pv.c: the primitives; none of them looks at the VM's mode.  kvm->lock
 * held. */
/* CREATE_SEC_CONF; a NEED_DESTROY failure is torn down in @config_first
 * order. */
int kvm_pv_init_vm(struct kvm *kvm, bool config_first, uint16_t *rc,
		   uint16_t *rrc) __must_check;
/* After init_vm: what exit_mmap does with this VM's pages. */
void kvm_pv_set_exit_teardown(struct kvm *kvm, enum kvm_pv_teardown teardown,
			      bool sync_destroy);
/* Synchronous teardown, CPUs gone: memory first or config first. */
int kvm_pv_deinit_vm_order(struct kvm *kvm, bool config_first, uint16_t *rc,
			   uint16_t *rrc) __must_check;
int kvm_pv_cpus_to_pv(struct kvm *kvm, uint16_t *rc, uint16_t *rrc) __must_check;
int kvm_pv_cpus_from_pv(struct kvm *kvm, uint16_t *rc, uint16_t *rrc) __must_check;
int kvm_pv_create_cpu(struct kvm_vcpu *vcpu, uint16_t *rc,
		      uint16_t *rrc) __must_check;
/* The commands that are the same in every design. */
int kvm_pv_set_sec_parms(struct kvm *kvm, struct kvm_pv_cmd *cmd) __must_check;
int kvm_pv_unpack(struct kvm *kvm, struct kvm_pv_cmd *cmd) __must_check;
int kvm_pv_nodata(struct kvm *kvm, struct kvm_pv_cmd *cmd,
		  uint16_t uvc) __must_check;
int kvm_pv_info(struct kvm *kvm, struct kvm_pv_cmd *cmd) __must_check;

/* pv_cmd.c: the KVM_PV_* dispatch and the per-mode design table */
/* Tear down whatever PV state is left (VM destruction). */
void kvm_pv_deinit_cleanup_all(struct kvm *kvm);

/* destroy.c: the destroy engine (lazy and async teardown) */
/* v2: deferred teardown of the running config (DISABLE, VM teardown). */
/*
 * VM close of a VM with no config left (LAZY): an exit_mmap that ran while
 * a reboot's cleanup thread still held the old config (the mm was still
 * protected) set pages aside that no cleanup thread will drain; destroy
 * and free them now.  kvm->lock held.
 */
void kvm_pv_drain_stranded(struct kvm *kvm);
int kvm_pv_deinit_vm_deferred(struct kvm *kvm, uint16_t *rc,
			      uint16_t *rrc) __must_check;
/* v2: the unmap hook's set-aside path (uv_destroy_page_lazy), one present
 * page of a protected mm at a time. */
void kvm_pv_set_aside_page(struct kvm_module *mod, struct mm *mm,
			   struct page *page);
int kvm_pv_async_prepare(struct kvm *kvm, uint16_t *rc,
			 uint16_t *rrc) __must_check;
int kvm_pv_async_perform(struct kvm *kvm, uint16_t *rc,
			 uint16_t *rrc) __must_check;
/* merged: DISABLE and VM teardown clean everything up. */
int kvm_pv_deinit_cleanup_all_locked(struct kvm *kvm, uint16_t *rc,
				     uint16_t *rrc) __must_check;
/* The release destroys the CPUs; @fast: and DESTROY_SEC_CONF_FASTs the
 * config where the UV has it. */
int kvm_pv_mmu_notifier_register(struct kvm *kvm, bool fast) __must_check;
void kvm_pv_mmu_notifier_unregister(struct kvm *kvm);
void kvm_cleanup_threads_init(struct kvm_module *mod);

/* pv.c helpers shared with destroy.c */
void kvm_pv_dealloc_vm(struct kvm *kvm);
void kvm_clear_pv_state(struct kvm *kvm);
int kvm_pv_destroy_conf(struct kvm *kvm, uint16_t *rc, uint16_t *rrc) __must_check;
void kvm_guest_range(struct kvm *kvm, uintptr_t *start, uintptr_t *end);

/* instant.c: lazypv's own teardown (docs/instant.md) */
/* The mm's protected guests are torn down by instant (set at ENABLE). */
static inline bool kvm_mm_is_instant(struct mm *mm)
{
	return __atomic_load_n(&mm_context(mm)->pv_teardown, __ATOMIC_ACQUIRE) ==
	       KVM_TEARDOWN_INSTANT;
}

/* An import's rc for a frame secure for another configuration (docs/uv.md). */
#define KVM_UV_RC_OTHER_CONFIG 0x0104
int kvm_instant_init(struct kvm_module *mod) __must_check;
/* Waits for every job first. */
void kvm_instant_deinit(struct kvm_module *mod);
/* ENABLE: the VM takes its mm_users reference (once).  kvm->lock held. */
void kvm_instant_enable(struct kvm *kvm);
/*
 * DISABLE (and a failed ENABLE), the running config's CPUs gone: set the
 * config aside (DESTROY_SEC_CONF_FAST, else an ASCE copy and a leftover
 * record) and hand it with the address space to the workers.  O(1): no
 * page is touched.  rc 1, rrc KVM_PV_RRC_DEFERRED.  kvm->lock held.
 */
int kvm_instant_disable(struct kvm *kvm, uint16_t *rc,
			uint16_t *rrc) __must_check;
/* The VM's close: CPUs, config and the VM's address-space reference go
 * to the workers; O(number of vCPUs).  kvm->lock held. */
void kvm_instant_vm_close(struct kvm *kvm);
/* The VM's boot is over (a vCPU runs, the VM closes or reboots again):
 * the held reboot job's workers start.  Any thread; cheap if none. */
void kvm_instant_boot_release(struct kvm *kvm);
/*
 * A page an old configuration still owns, needed now (an import found it
 * secure for another config): destroy it; 0 or the destroy's error (the
 * import then fails as the UV answered).  The caller holds a reference.
 */
int kvm_instant_destroy_on_demand(struct kvm_module *mod,
				  struct page *page) __must_check;
/* The unmap hook's INSTANT choice for one page (may be secure): destroy,
 * else export, else leak it and list it in the leak report. */
void kvm_instant_unmap_page(struct kvm_module *mod, struct page *page);

/* sie.c */
void kvm_vcpu_free(struct kvm_vcpu *vcpu);
/* The vCPU the calling thread is running in SIE, or NULL. */
struct kvm_vcpu *kvm_current_vcpu(void);

#endif /* LAZYPV_KVM_INTERNAL_H */
