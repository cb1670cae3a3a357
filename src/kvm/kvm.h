/* SPDX-License-Identifier: MIT */
/*
 * kvm.h - KVM's s390 protected-virtualization layer: the one header of
 * src/kvm/ that the VMM (src/vmm/) and the tools include.
 *
 * The pieces, after arch/s390/kvm and arch/s390/kernel/uv.c:
 *
 *   struct kvm_module  the loaded module: its parameters (lazy_destroy,
 *                      async_destroy, ...), the UV it drives (INIT_UV done at
 *                      load), the arch hooks it plugs into the host mm
 *                      (pte_clear: export / destroy / set aside at unmap;
 *                      make_accessible: the 0x3d handler) and the 0x3e/0x3f
 *                      handlers it registers on the machine.
 *   struct kvm         a VM: the VMM's mm (mmgrab), one memslot
 *                      (guest [0, guest_len) -> user address), the gmap whose
 *                      top-level table frames form the ASCE, vCPUs, and the
 *                      PV state (config handle, donated storage).
 *   struct kvm_vcpu    a vCPU: runs a guest program on the caller's thread
 *                      through the SIE access path (kvm_vcpu_run), which
 *                      raises 0x3e/0x3f/0x3d like the hardware.
 *
 * PV commands go through kvm_pv_command(), mirroring KVM_PV_*: errno as the
 * return value, the firmware's rc/rrc beside it in the command block.
 * Errors are 0 or a negative errno everywhere.
 */
#ifndef LAZYPV_KVM_H
#define LAZYPV_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hw/hw.h"
#include "lazypv/compiler.h"
#include "mm/mm.h"
#include "uv/uv.h"

struct kvm_module;
struct kvm;
struct kvm_vcpu;

/* ---- the module ---- */

/*
 * Module parameters (one table, environment overrides LAZYPV_KVM_*):
 *   lazy_destroy   v2 lazy destroy allowed (0: fall back to sync)
 *   async_destroy  merged async cleanup allowed (0: fall back to sync)
 *   clear_low      bytes destroyed synchronously at a lazy/async reboot
 *                  (the reference's 2 GiB)
 *   gather_pages   pages gathered per batch of a range walk (32)
 */
#define KVM_OPTIONS(X)							\
	X(lazy_destroy, "LAZYPV_KVM_LAZY_DESTROY", 1, 0, 1, false,	\
	  "lazy destroy (seed v2) allowed; 0 falls back to sync")	\
	X(async_destroy, "LAZYPV_KVM_ASYNC_DESTROY", 1, 0, 1, false,	\
	  "asynchronous cleanup (6.2) allowed; 0 falls back to sync")	\
	X(clear_low, "LAZYPV_KVM_CLEAR_LOW", 2ULL << 30, 0, 1ULL << 40, true, \
	  "guest memory destroyed synchronously at a deferred reboot")	\
	X(gather_pages, "LAZYPV_KVM_GATHER_PAGES", 32, 1, 4096, false,	\
	  "pages per batch of a range walk (GATHER_GET_PAGES)")	\
	X(oom_notifier, "LAZYPV_KVM_OOM_NOTIFIER", 1, 0, 1, false,	\
	  "lazy destroy registers its OOM notifier (v2 patch 12)")	\
	X(oom_wait_ms, "LAZYPV_KVM_OOM_WAIT_MS", 20, 0, 10000, false,	\
	  "how long the OOM notifier sleeps (v2: msleep(20))")		\
	X(oom_enough_pages, "LAZYPV_KVM_OOM_ENOUGH", 1024, 0, 1ULL << 40, false, \
	  "the notifier returns at once when more than this was freed")	\
	X(instant_destroy, "LAZYPV_KVM_INSTANT_DESTROY", 1, 0, 1, false, \
	  "lazypv's instant teardown allowed; 0 falls back to async")	\
	X(instant_workers, "LAZYPV_KVM_INSTANT_WORKERS", 0, 0, 64, false, \
	  "cleanup workers per instant teardown (0: cores - 1, at least 1)") \
	X(instant_deadline_ms, "LAZYPV_KVM_INSTANT_DEADLINE_MS", 0, 0, 3600000, false, \
	  "scrub deadline of an instant cleanup job in ms (0: none); a late job stops yielding and gets more workers, the miss is counted") \
	X(instant_bulk, "LAZYPV_KVM_INSTANT_BULK", 1, 0, 1, false,	\
	  "at a close, the UV cleans the config in bulk (DESTROY_SEC_CONF) before the walk; 0: FAST and a destroy per page") \
	X(instant_boot_hold_ms, "LAZYPV_KVM_INSTANT_BOOT_HOLD_MS", 1000, 0, 600000, false, \
	  "a reboot's cleanup workers wait until the VM runs a vCPU again, at most this long (ms), unless memory runs short; 0: they start at once")

struct kvm_params {
#define KVM_OPTION_FIELD(name, env, def, min, max, size, desc) uint64_t name;
	KVM_OPTIONS(KVM_OPTION_FIELD)
#undef KVM_OPTION_FIELD
};

/* Defaults then environment; -EINVAL/-ERANGE with a message naming it. */
int kvm_params_init(struct kvm_params *p) __must_check;
void kvm_params_print(const struct kvm_params *p, FILE *f);

/*
 * Load the module over a host mm and a UV: QUI, INIT_UV (donating the UV's
 * base storage from the allocator), register the arch hooks and the
 * 0x3e/0x3f handlers.  @params NULL = kvm_params_init().
 */
int kvm_module_create(struct mm_world *world, struct uv *uv,
		      const struct kvm_params *params,
		      struct kvm_module **out) __must_check;
/* Every VM must be destroyed first. */
void kvm_module_destroy(struct kvm_module *mod);
const struct kvm_params *kvm_module_params(const struct kvm_module *mod);
const struct uv_info *kvm_module_uv_info(const struct kvm_module *mod);
/* What a protected guest of @guest_len bytes and @cpus CPUs donates to
 * the UV: base, variable and per-CPU storage (KVM_PV_ENABLE's and each
 * vCPU's allocations). */
uint64_t kvm_pv_donated_bytes(const struct kvm_module *mod,
			      uint64_t guest_len, unsigned int cpus);
/* A UV command's name, for messages ("?" if unknown). */
const char *kvm_uvc_name(uint16_t cmd);
struct uv *kvm_module_uv(const struct kvm_module *mod);

/* ---- VMs ---- */

/*
 * How a VM's protected guests are torn down (per VM, chosen before
 * KVM_PV_ENABLE, like the kernel and QEMU a VM runs on).  Each reference
 * mode does the work of the real system, in its order:
 *   SYNC     before the series (Linux 5.x): DISABLE walks the address
 *            space destroying every present page, then DESTROY_SEC_CONF
 *            (memory first); exit_mmap exports every present page;
 *   SYNC_60  Linux 6.0: DESTROY_SEC_CONF first, then the walk (config
 *            first); an mmu-notifier release destroys the CPUs at exit so
 *            exit_mmap destroys pages (export only if that fails);
 *   LAZY     the seed (v2): DISABLE hands the old config to a cleanup
 *            kernel thread; exit_mmap sets every present page aside for
 *            it; an OOM notifier makes allocations wait for the cleanup;
 *   ASYNC    merged (6.2 + QEMU 8): the VMM drives ASYNC_CLEANUP_PREPARE/
 *            PERFORM from its own thread; 6.0's release and unmap as above,
 *            plus DESTROY_SEC_CONF_FAST where the UV has it.
 * and lazypv's own (docs/instant.md), beyond every real system:
 *   INSTANT  DISABLE and the VM's close set the config aside in O(1) and
 *            hand the address space to parallel, owner-charged cleanup
 *            workers; pages an old config still owns are destroyed on
 *            demand when the new guest or the host first needs them.
 */
#define KVM_DESTROY_MODES(X)						\
	X(SYNC, "sync", "before the series: memory first, export at exit") \
	X(SYNC_60, "sync-6.0", "Linux 6.0: config first, destroy at exit") \
	X(LAZY, "lazy", "the seed (v2): cleanup kernel threads")	\
	X(ASYNC, "async", "Linux 6.2 + QEMU 8: asynchronous cleanup")	\
	X(INSTANT, "instant", "lazypv's own: O(1) restart and exit, parallel cleanup")

enum kvm_destroy_mode {
#define KVM_DESTROY_ENUM(id, name, desc) KVM_DESTROY_##id,
	KVM_DESTROY_MODES(KVM_DESTROY_ENUM)
#undef KVM_DESTROY_ENUM
	KVM_DESTROY_NR_MODES,
};
const char *kvm_destroy_mode_name(enum kvm_destroy_mode mode);
/* The mode called @name, or -EINVAL. */
int kvm_destroy_mode_parse(const char *name);

/*
 * rrc reported with rc UVC_RC_EXECUTED when KVM answers a teardown command
 * without a UVC of its own (the work was deferred): Linux reports 42 there;
 * the value is kept, under a name.
 */
#define KVM_PV_RRC_DEFERRED 42

/*
 * KVM_CREATE_VM for the process @owner: the VM keeps owner's mm alive as a
 * struct (mmgrab), not as an address space.  Guest memory is set with
 * kvm_set_memory() (one memslot, like QEMU's main RAM).
 */
int kvm_create_vm(struct kvm_module *mod, struct task *owner,
		  struct kvm **out) __must_check;
/* KVM_SET_USER_MEMORY_REGION slot 0: guest [0, len) -> @uaddr in the mm.
 * Creates the gmap (ASCE type from the size).  Once only. */
int kvm_set_memory(struct kvm *kvm, uint64_t guest_len,
		   uintptr_t uaddr) __must_check;
/*
 * Select the teardown design; returns the one in effect: the fences fall
 * back to what that kernel does without the feature -- lazy_destroy=0 to
 * SYNC (v2's memory-first deinit_vm_now), async_destroy=0 to SYNC_60 (a
 * 6.2 kernel's KVM_PV_DISABLE), instant_destroy=0 to ASYNC (the newest
 * real design; its own fence applies next).  -EBUSY (as a negative value) once the VM
 * is protected.
 */
int kvm_set_destroy_mode(struct kvm *kvm, enum kvm_destroy_mode mode);
enum kvm_destroy_mode kvm_destroy_mode(const struct kvm *kvm);
/* A set-aside VM waits for ASYNC_CLEANUP_PERFORM (PERFORM has not taken
 * it yet).  For the VMM and tests. */
bool kvm_pv_has_set_aside(struct kvm *kvm);
/* KVM_CAP_S390_PROTECTED_ASYNC_DISABLE (225): async_destroy is on. */
bool kvm_cap_protected_async_disable(const struct kvm_module *mod);

/*
 * References to the VM (its file descriptors: the VMM's, and a CLONE_VM
 * helper's inherited copy).  kvm_create_vm returns one.  Dropping the last
 * (kvm_destroy_vm is the VMM's put) runs kvm_arch_destroy_vm: vCPUs
 * destroyed, PV state torn down in the VM's mode, gmap freed, mmdrop.
 */
void kvm_get(struct kvm *kvm);
void kvm_destroy_vm(struct kvm *kvm);
/* VMs not yet destroyed (their last reference not yet dropped). */
unsigned int kvm_module_nr_vms(const struct kvm_module *mod);

/*
 * Background cleanup (LAZY mode's kernel threads): wait until every one
 * has finished.  kvm_module_destroy() does it too.
 */
void kvm_module_drain(struct kvm_module *mod);
/*
 * Seams for tests that must drive an interleaving instead of hoping for
 * one (NULL members: the real behaviour).  A lazy cleanup thread calls
 * thread_start first thing, before_chunk before it drains a chunk of
 * @count pages, and before_dispose before it destroys the old config; a
 * reboot's thread calls mmput_gate after its walk, just before (@after
 * false) and just after (@after true) it drops its mm_users reference
 * (any may block: a gate); oom_sleep replaces the lazy
 * OOM notifier's msleep(oom_wait_ms); the teardown of the running config
 * in ASYNC mode calls teardown_gate between destroying the CPUs and
 * DESTROY_SEC_CONF.  Set while no cleanup thread runs.
 */
struct kvm_test_hooks {
	void (*thread_start)(void *ctx);
	void (*before_chunk)(void *ctx, unsigned int count);
	void (*before_dispose)(void *ctx);
	void (*oom_sleep)(void *ctx, uint64_t ns);
	void (*mmput_gate)(void *ctx, bool after);
	void (*teardown_gate)(void *ctx);
	/* instant: a worker (0-based) is about to clean chunk @chunk
	 * (2 MiB of guest memory) of a job; may block: a gate. */
	void (*instant_chunk)(void *ctx, unsigned int worker, uint64_t chunk);
	/* instant: a bulk clean is about to make its next DESTROY_SEC_CONF
	 * step; may block: a gate. */
	void (*instant_bulk_step)(void *ctx);
	void *ctx;
};
void kvm_module_set_test_hooks(struct kvm_module *mod,
			       const struct kvm_test_hooks *hooks);

/* Background cleanups running now: lazy's threads and instant's jobs. */
unsigned int kvm_module_cleanups_running(struct kvm_module *mod);
/* vCPUs in KVM_RUN now, over every VM (instant's workers yield to them). */
unsigned int kvm_module_vcpus_running(const struct kvm_module *mod);

/*
 * Teardown progress, in pages.  pending: work KVM's teardown knows it
 * still has -- pages set aside at exit_mmap (lazy) that no cleanup has
 * drained yet, and for every range walk running now (a synchronous
 * DISABLE, a lazy cleanup thread's, an async PERFORM) the pages mapped
 * when it started that it has not reached yet.  cleaned: pages those
 * walks and drains have visited since the module loaded (a rate is its
 * difference over time).  Exports at exit_mmap (the sync designs) are
 * not counted: they are the exit itself, seen as memory coming back.
 * Relaxed counters: a snapshot, not a quiescent count.
 */
struct kvm_cleanup_progress {
	uint64_t pending_pages;
	uint64_t cleaned_pages;
};
void kvm_cleanup_progress(const struct kvm_module *mod,
			  struct kvm_cleanup_progress *out);
/* The pending part of it in @kvm's address space. */
uint64_t kvm_cleanup_pending(const struct kvm *kvm);
struct mm *kvm_mm(const struct kvm *kvm);
bool kvm_is_protected(const struct kvm *kvm);
uint64_t kvm_pv_handle(const struct kvm *kvm);

/* ---- PV commands (KVM_S390_PV_COMMAND) ---- */

enum kvm_pv_cmd_id {
	KVM_PV_ENABLE = 0,
	KVM_PV_DISABLE,
	KVM_PV_SET_SEC_PARMS,
	KVM_PV_UNPACK,
	KVM_PV_VERIFY,
	KVM_PV_PREP_RESET,
	KVM_PV_UNSHARE_ALL,
	KVM_PV_INFO,
	KVM_PV_DUMP,			/* not supported: -EINVAL */
	KVM_PV_ASYNC_CLEANUP_PREPARE,
	KVM_PV_ASYNC_CLEANUP_PERFORM,
};

struct kvm_s390_pv_sec_parm {
	uint64_t origin;	/* host pointer to the SE header */
	uint64_t length;
};

struct kvm_s390_pv_unp {
	uint64_t addr;		/* guest address of the first page */
	uint64_t size;		/* bytes, page multiple */
	uint64_t tweak;		/* component tweak (tweak[0]) */
};

struct kvm_s390_pv_info {
	uint64_t inst_calls_list[4];
	uint64_t max_cpus, max_guests, max_guest_addr;
	uint64_t feature_indication;
	uint64_t cpu_stor_len, base_stor_len, var_stor_len_per_mb;
};

struct kvm_pv_cmd {
	uint32_t cmd;		/* enum kvm_pv_cmd_id */
	uint16_t rc;		/* out: the firmware's rc of the failing UVC */
	uint16_t rrc;		/* out */
	void *data;		/* per command: sec_parm, unp, info */
	uint32_t flags;		/* must be 0 */
};

int kvm_pv_command(struct kvm *kvm, struct kvm_pv_cmd *cmd) __must_check;

/* ---- vCPUs and the SIE loop ---- */

int kvm_vcpu_create(struct kvm *kvm, unsigned int id,
		    struct kvm_vcpu **out) __must_check;
unsigned int kvm_vcpu_id(const struct kvm_vcpu *vcpu);
struct kvm *kvm_vcpu_kvm(const struct kvm_vcpu *vcpu);

/* Why a guest program stopped (what KVM_RUN reports to userspace). */
enum kvm_exit_reason {
	KVM_EXIT_DIAG308 = 1,	/* IPL/reset request: run->subcode */
	KVM_EXIT_POWEROFF,	/* the guest stopped all CPUs for power-off */
	KVM_EXIT_STOPPED,	/* kvm_vcpu_kick(): the VMM wants the CPU back */
	KVM_EXIT_INTR,		/* the VMM's task has a fatal signal pending */
	KVM_EXIT_GUEST_ERROR,	/* the guest program failed (run->error) */
	KVM_EXIT_VALIDITY,	/* SIE entry refused by the UV (run->error) */
};

/* diag 308 subcodes the VMM handles. */
#define DIAG308_RESET_MODIFIED_CLEAR 0
#define DIAG308_LOAD_NORMAL 1
#define DIAG308_LOAD_CLEAR 3
#define DIAG308_PV_SET 8
#define DIAG308_PV_STORE 9
#define DIAG308_PV_START 10	/* reboot into a (new) protected guest */

struct kvm_run {
	enum kvm_exit_reason reason;
	uint64_t subcode;	/* KVM_EXIT_DIAG308 */
	int error;		/* KVM_EXIT_GUEST_ERROR / VALIDITY: -errno */
	char message[96];	/* what the guest or the SIE check said */
};

/*
 * The guest: code that runs "inside SIE" on the vCPU thread and touches
 * guest memory only through kvm_guest_read/write (and issues guest UVCs
 * through kvm_guest_uvc).  It returns when it wants out: it fills @run and
 * returns 0, or returns a negative errno (a guest crash).
 */
typedef int (*kvm_guest_fn)(void *ctx, struct kvm_vcpu *vcpu,
			    struct kvm_run *run);

/*
 * KVM_RUN: enter SIE (for a protected VM the UV checks the handles and
 * ASCE first, then the prefix pages: one that is not secure intercepts
 * the entry, and both are imported -- at every entry), run @fn until it
 * exits.
 * The calling thread must be attached to the VM's owner task or to a
 * CLONE_VM sibling (task_thread_enter).
 */
int kvm_vcpu_run(struct kvm_vcpu *vcpu, kvm_guest_fn fn, void *ctx,
		 struct kvm_run *run) __must_check;
/*
 * The CPU-level PV calls QEMU issues for resets (KVM_S390_*_RESET and
 * KVM_S390_SET_MP_STATE on a protected vCPU): @cmd is UVC_CMD_CPU_RESET,
 * UVC_CMD_CPU_RESET_INITIAL or UVC_CMD_CPU_RESET_CLEAR; @state one of
 * PV_CPU_STATE_*.  No-ops (0) when the VM is not protected.
 */
int kvm_vcpu_pv_reset(struct kvm_vcpu *vcpu, uint16_t cmd, uint16_t *rc,
		      uint16_t *rrc) __must_check;
int kvm_vcpu_pv_set_state(struct kvm_vcpu *vcpu, uint8_t state, uint16_t *rc,
			  uint16_t *rrc) __must_check;

/* Ask a running vCPU to leave SIE at its next guest access. */
void kvm_vcpu_kick(struct kvm_vcpu *vcpu);
/* Guest-side: the VMM wants this vCPU back (kick or fatal signal). */
bool kvm_guest_should_exit(struct kvm_vcpu *vcpu);

/*
 * Guest memory accesses through the SIE path: gaddr -> gmap -> user
 * address -> host PTE -> frame, resolving host faults (charged to the
 * VMM's memcg), 0x3e (import), 0x3f (destroy, else export) and 0x3d (a
 * normal guest touching a secure page: export) and retrying.  -EFAULT for
 * an address outside guest memory (an addressing exception), -EINTR when
 * the vCPU must leave SIE, other errors as the handlers report them.
 */
int kvm_guest_read(struct kvm_vcpu *vcpu, uint64_t gaddr, void *buf,
		   size_t len) __must_check;
int kvm_guest_write(struct kvm_vcpu *vcpu, uint64_t gaddr, const void *buf,
		    size_t len) __must_check;
/* A guest UVC (SET/REMOVE_SHARED_ACCESS, QUI): cc, intercepts resolved. */
int kvm_guest_uvc(struct kvm_vcpu *vcpu, struct uv_cb_header *cb);
/* A UVC's condition code and return code as 0 or a negative errno. */
int kvm_uvc_errno(int cc, uint16_t rc);
bool kvm_guest_is_protected(const struct kvm_vcpu *vcpu);

/* ---- stats and checks ---- */

#define KVM_STATS(X)							\
	X(vms_created, "VMs created")					\
	X(pv_enables, "KVM_PV_ENABLE successes")			\
	X(pv_disables, "protected VMs torn down")			\
	X(imports, "pages made secure (0x3e, prefix, unpack)")		\
	X(import_retries, "imports that answered -EAGAIN")		\
	X(exports, "pages exported by the host")			\
	X(destroys, "pages destroyed by the host")			\
	X(exit_exports, "pages exported at exit_mmap")			\
	X(pgm_3d, "0x3d resolved for a guest or the host")		\
	X(pgm_3e, "0x3e resolved")					\
	X(pgm_3f, "0x3f resolved")					\
	X(icpt_pv_pref, "SIE entries intercepted: prefix not secure (0x70)") \
	X(export_before_import, "exports done before an import")	\
	X(leaked_asce, "top-level tables leaked (destroy failed)")	\
	X(leaked_storage, "donated storage frames leaked")		\
	X(walk_pages, "pages destroyed by range walks")		\
	X(set_aside_pages, "pages set aside at exit_mmap (lazy)")	\
	X(set_aside_exports, "pages exported at exit_mmap: no chunk room (lazy)") \
	X(deferred_starts, "cleanup threads started (lazy)")		\
	X(deferred_pages_freed, "pages freed by cleanup threads (lazy)") \
	X(oom_notifier_waits, "OOM notifier waits for the cleanup")	\
	X(oom_notifier_skips, "OOM notifier calls that did not wait")	\
	X(oom_notifier_freed, "pages the OOM notifier saw freed")	\
	X(async_prepares, "ASYNC_CLEANUP_PREPARE successes")		\
	X(async_performs, "ASYNC_CLEANUP_PERFORM completions")		\
	X(async_interrupted, "PERFORMs interrupted: leftover queued")	\
	X(fast_destroys, "DESTROY_SEC_CONF_FAST successes")		\
	X(mmu_releases, "mmu-notifier releases of a protected VM")	\
	X(leftovers_disposed, "set-aside/leftover configs disposed")	\
	X(sync_fallbacks, "deferred teardowns that fell back to sync")	\
	X(instant_jobs, "instant cleanup jobs started")			\
	X(instant_pages, "pages instant workers destroyed")		\
	X(instant_refused, "instant worker destroys the UV refused")	\
	X(instant_unmapped, "pages instant workers unmapped and freed")	\
	X(instant_on_demand, "pages of an old config destroyed on demand") \
	X(instant_oom_waits, "allocations that waited for instant workers") \
	X(instant_oom_freed, "frames those waits saw freed")		\
	X(instant_cpu_ns, "CPU time of instant workers (ns)")		\
	X(instant_cpu_unowned_ns, "of it, charged to the memcg alone: owner reaped") \
	X(instant_yields, "chunks after which a worker yielded to running vCPUs") \
	X(instant_deadline_misses, "instant jobs that missed the scrub deadline") \
	X(instant_escalations, "late instant jobs escalated (no yield, more workers)") \
	X(instant_escalated_workers, "workers started by escalations")	\
	X(instant_leaks, "frames instant teardown leaked (see leak report)") \
	X(instant_bulk_calls, "DESTROY_SEC_CONF steps of instant exit jobs") \
	X(instant_bulk_stops, "bulk cleans stopped for a waiting allocation") \
	X(instant_standby_walks, "standby workers woken by a waiting allocation") \
	X(instant_batch_cuts, "destroy batches cut short by a waiting allocation") \
	X(instant_boot_holds, "reboot jobs whose workers waited for the new boot") \
	X(instant_boot_hold_timeouts, "of them, released by instant_boot_hold_ms, not by a vCPU run")

struct kvm_stats {
#define KVM_STAT_FIELD(name, desc) uint64_t name;
	KVM_STATS(KVM_STAT_FIELD)
#undef KVM_STAT_FIELD
};

void kvm_stats_get(const struct kvm_module *mod, struct kvm_stats *out);

/* ---- instant teardown: progress and leaks (docs/instant.md) ---- */

/*
 * Bytes of guest memory instant workers have still to walk: of the jobs
 * of @kvm's address space (whichever VM set them aside), or of every job
 * (kvm_instant_pending_bytes).  A snapshot; 0 once everything is clean.
 */
uint64_t kvm_instant_pending_bytes(struct kvm_module *mod);
uint64_t kvm_instant_mm_pending_bytes(struct kvm_module *mod, struct mm *mm);
/* Instant cleanup jobs running now (within kvm_module_cleanups_running). */
unsigned int kvm_instant_jobs_running(struct kvm_module *mod);
/*
 * Every frame instant teardown left to the UV on purpose (a UVC failed:
 * the UV may still own it), with the call, its rc/rrc and the leak
 * reason: text lines or one JSON object {"leaks":[...],"dropped":n}.
 * At most KVM_INSTANT_LEAK_MAX are listed; the rest are counted.
 */
#define KVM_INSTANT_LEAK_MAX 256
struct kvm_instant_leak {
	uint64_t pfn;
	uint64_t nr;		/* frames from pfn on */
	uint16_t cmd, rc, rrc;	/* the failing UVC */
	enum mm_leak_reason reason;
};
size_t kvm_instant_leaks(struct kvm_module *mod, struct kvm_instant_leak *out,
			 size_t max);
/*
 * Every job that finished after its scrub deadline (instant_deadline_ms),
 * oldest first, at most KVM_INSTANT_LEAK_MAX (the rest are counted):
 * whose it was, how much it had to walk, the deadline, how long it took,
 * and whether it was escalated before it ended (a job found late only at
 * its end is not).
 */
struct kvm_instant_late {
	int owner_pid;
	uint64_t bytes;		/* guest memory the job walked */
	uint64_t deadline_ms, took_ms;
	bool escalated;
};
size_t kvm_instant_late_jobs(struct kvm_module *mod,
			     struct kvm_instant_late *out, size_t max);
/* The leaks and the late jobs: text lines, or one JSON object
 * {"leaks":[{"pfn","frames","call","rc","rrc","reason"}],"dropped":n,
 *  "late":[{"owner_pid","bytes","deadline_ms","took_ms","escalated"}],
 *  "late_dropped":n}. */
void kvm_instant_leak_report(struct kvm_module *mod, FILE *f, bool json);
void kvm_stats_print(const struct kvm_module *mod, FILE *f, bool json);

#endif /* LAZYPV_KVM_H */
