/* SPDX-License-Identifier: MIT */
/*
 * vmm_internal.h - private to src/vmm/: the VMM object, the boot
 * descriptor (the guest ABI of image page 0), the "IPL registers" a vCPU
 * starts with, and the calls between the VMM (vmm.c, boot.c) and the guest
 * programs (programs.c).
 *
 * Locks (outermost first):
 *   vmm->lock    the VMM's run state: generation, running count, vCPU exit
 *                records, host requests, the timeline.  Event callbacks run
 *                under it.  Never held across a KVM call or a guest access.
 *   vmm->sigp    inter-CPU signalling of the guest (barrier, ticks); the
 *                vCPU threads take it, and the main thread starting a
 *                generation; never with vmm->lock held.
 */
#ifndef LAZYPV_VMM_INTERNAL_H
#define LAZYPV_VMM_INTERNAL_H

#include "vmm.h"

#include <pthread.h>

#include "lib/lib.h"
#include "lib/trace.h"

/* ---- guest ABI: the boot descriptor at guest address 0 ---- */

#define VMM_BOOT_MAGIC "LPVBOOT"	/* 8 bytes with the NUL */
#define VMM_BOOT_VERSION 1

struct vmm_boot_desc {
	char magic[8];
	uint32_t version;
	uint32_t len;			/* sizeof(struct vmm_boot_desc) */
	uint64_t nonce;			/* per image */
	uint64_t image_pages;		/* pages from gaddr 0 the image uses */
	uint64_t payload_gaddr;
	uint64_t payload_len;		/* bytes; 0: none */
	uint64_t payload_sum;		/* vmm_fnv1a of the payload pages */
	char program[VMM_PROGRAM_NAME_MAX];
	char args[VMM_PROGRAM_ARGS_MAX];
};
_Static_assert(sizeof(struct vmm_boot_desc) <= HW_PAGE_SIZE, "boot desc");

/* Fill a descriptor for "NAME[:ARGS]"; -EINVAL/-ENOENT as
 * vmm_program_check. */
int vmm_boot_desc_init(struct vmm_boot_desc *d, const char *spec,
		       uint64_t nonce, uint64_t image_pages,
		       uint64_t payload_gaddr, uint64_t payload_len,
		       uint64_t payload_sum, char *err, size_t errlen);

uint64_t vmm_fnv1a(const void *buf, size_t len, uint64_t h);
#define VMM_FNV_INIT 0xcbf29ce484222325ULL
uint64_t vmm_mix64(uint64_t x);
uint64_t vmm_boot_key_of(uint64_t salt, unsigned int boot);

/* ---- what a vCPU starts with (its IPL registers) ---- */

enum vmm_start_kind {
	VMM_START_BOOT = 0,	/* a new guest: memory fresh for a PV guest */
	VMM_START_RESET,	/* diag 308 subcode 0/1: same guest restarts */
};

struct vmm_ipl {
	unsigned int boot;		/* boot index (generation) */
	enum vmm_start_kind kind;
	bool protected;
	bool prev_protected;		/* the boot before (if any) was PV */
	bool has_prev;
	uint64_t key, prev_key;		/* pattern keys of this/previous boot */
	/* Resets keep memory: the boots since the last fresh one (origin)
	 * may all have left data; their keys come from the salt. */
	uint64_t salt;
	unsigned int origin;
	unsigned int nr_cpus;
	uint64_t guest_mem;
};

/* ---- the VMM ---- */

struct vmm_vcpu {
	struct vmm *vmm;
	unsigned int id;
	struct kvm_vcpu *kvcpu;
	pthread_t thread;
	bool thread_started;
	/* under vmm->lock */
	bool entered;			/* task_thread_enter done (or failed) */
	int enter_error;
	uint64_t gen_done;		/* last generation run */
	struct vmm_ipl ipl;		/* copied at the start of a generation */
	struct kvm_run run;		/* last exit */
	int run_ret;
	uint64_t exit_ns;
};

/* The guest's inter-CPU signalling (a SIGP stand-in), one per VMM. */
struct vmm_sigp {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	unsigned int arrived;		/* vCPUs at the barrier */
	uint64_t phase;			/* completed barriers */
	uint64_t gen;			/* generation the counts belong to */
};

enum vmm_request {
	VMM_REQ_NONE = 0,
	VMM_REQ_RESET,
	VMM_REQ_SHUTDOWN,
};

struct vmm {
	struct vmm_env env;		/* the host below (a copy) */
	struct vmm_config cfg;
	struct memcg *memcg;
	bool shared_memcg;		/* cfg->memcg: not ours to destroy */
	struct mm *mm;			/* the task's, mmgrab'd (shared memcg) */
	struct task *task;		/* NULL once reaped */
	int pid;
	pthread_t main_thread;
	bool main_started;
	uintptr_t uaddr;		/* guest RAM in the VMM's mm */
	struct kvm *kvm;		/* NULL once exit_files destroyed it */
	struct vmm_vcpu *vcpus;
	uint64_t salt;
	uint64_t baseline_leaked;	/* mm leaked frames at creation */

	struct lpv_mutex lock;		/* see vmm_internal.h's header */
	/* Leaf, taken under lock or alone: vmm->kvm for the readers of
	 * vmm_cleanup_progress, which may hold locks the event callbacks
	 * take under vmm->lock (the API's host lock). */
	struct lpv_mutex kvm_lock;
	struct lpv_cond cond;
	uint64_t gen;			/* generation the vCPUs should run */
	unsigned int running;		/* vCPUs inside the generation */
	bool quit;			/* vCPU threads must leave */
	bool stopping;			/* this generation is being stopped */
	enum vmm_request request;
	uint64_t request_ns;
	bool exiting;			/* the main thread is ending the VMM */
	bool exited;			/* parent's task_wait returned */
	bool waited;
	/* the current boot */
	unsigned int boot;
	bool protected;
	uint64_t boot_start_ns;		/* BOOT_START of this boot */
	uint64_t reboot_req_ns;		/* the request that led here, or 0 */
	bool first_insn_seen;
	unsigned int last_round;	/* rounds reported by this boot */
	bool round_seen;
	unsigned int reboots;		/* restarts done (max_reboots) */
	uint64_t shutdown_ns;		/* shutdown/kill request */
	bool kill_requested;		/* vmm_kill() */
	unsigned int killers;		/* vmm_kill()s using the task now */
	bool reaping;			/* vmm_wait() is about to reap it */
	bool prev_protected;		/* the last generation run was PV */
	unsigned int origin_boot;	/* last boot that started fresh */
	uint64_t frames_at_exit;	/* vmm_frames_charged() when the VMM
					 * ended */
	int exit_code;
	int error;
	char message[128];
	uint64_t io_pages;
	/* the timeline */
	struct vmm_event *events;
	size_t nr_events, cap_events;
	/* (lock) The timeline as trace-event phases (timeline.c): the open
	 * phase of the current boot's track, and a reboot still open on the
	 * previous boot's track until the new guest's first instruction. */
	struct {
		uint64_t created_ns;	/* vmm_create, for boot 0's phase */
		uint32_t track;		/* the current boot's; 0: none yet */
		const char *phase;	/* open phase, or NULL */
		uint64_t phase_t0;
		uint32_t reboot_track;	/* 0: no reboot open */
		uint64_t reboot_t0;
	} trace;

	struct vmm_sigp sigp;

	/* teardown.c (async): the CLONE_VM helper and the cleanup threads */
	enum kvm_destroy_mode kvm_mode;	/* what KVM runs (after fences) */
	struct task *helper;		/* NULL: none; reaped by vmm_wait */
	pthread_t helper_thread;
	bool helper_started;
	/* (lock) The helper's view of its parent: the thread that cloned it
	 * has exited (its PR_SET_PDEATHSIG fires), and the whole VMM has
	 * passed exit_notify (getppid() no longer answers the VMM). */
	bool helper_pdeath;
	bool helper_reparented;
	/* (lock) Why a thread of the VMM ended it by itself (exit(1)), for
	 * the shutdown_request event; empty otherwise. */
	char exit_why[64];
	pthread_t cleanup_threads[16];	/* PERFORM threads (lock) */
	bool cleanup_finished[16];	/* the thread is about to return */
	unsigned int nr_cleanup_threads;	/* lock */
};

/* boot.c: one PV command (re-issued on -EINTR unless we are dying);
 * failures are recorded on the timeline. */
int vmm_pv(struct vmm *vmm, uint32_t cmd, void *data) __must_check;

/*
 * Frames charged to the VMM's memcg that may still come back: its usage
 * less what was leaked on purpose (charged for good, as in Linux).  In a
 * memcg shared with other VMMs (vmm_config.memcg) the usage is theirs
 * too: the VMM counts the pages mapped in its address space while that
 * lives (its guest RAM; the kernel's frames for it are not told apart).
 */
static inline uint64_t vmm_frames_charged(struct vmm *vmm)
{
	struct memcg_stats ms;

	if (vmm->shared_memcg)
		return mm_users(vmm->mm) > 0 ? mm_rss(vmm->mm) : 0;
	memcg_stats_get(vmm->memcg, &ms);
	return ms.usage - ms.leaked;
}
void vmm_fail(struct vmm *vmm, int error, const char *fmt, ...)
	__printf_like(3, 4);

/* teardown.c */
int vmm_teardown_setup(struct vmm *vmm) __must_check;
int vmm_unprotect_async(struct vmm *vmm) __must_check;
/* The VMM's exit, as the helper sees it (vmm->lock held): the main thread
 * (which cloned the helper) exits; the VMM passes exit_notify. */
void vmm_helper_parent_exit_locked(struct vmm *vmm);
void vmm_helper_parent_gone_locked(struct vmm *vmm);
/* The parent side: join the cleanup threads (before reaping the VMM),
 * then join and reap the helper (after reclaim). */
void vmm_teardown_join_cleanups(struct vmm *vmm);
void vmm_teardown_reap(struct vmm *vmm);

/* vmm.c: the VMM's main thread (vmm_create starts it). */
void *vmm_main(void *arg);

/* timeline.c: append, call the callback.  Caller holds vmm->lock. */
void vmm_emit_locked(struct vmm *vmm, struct vmm_event *ev);
void vmm_emit(struct vmm *vmm, struct vmm_event *ev);
void vmm_record_error_locked(struct vmm *vmm, int error, const char *msg);

/* boot.c: the PV sequences, run on the VMM's main thread. */
int vmm_boot_protected(struct vmm *vmm) __must_check;
int vmm_boot_plain(struct vmm *vmm) __must_check;
int vmm_unprotect(struct vmm *vmm) __must_check;
int vmm_reset_protected(struct vmm *vmm, uint64_t subcode) __must_check;
int vmm_copy_to_guest(struct vmm *vmm, uint64_t gaddr, const void *buf,
		      size_t len) __must_check;

/* programs.c: the code a vCPU runs inside SIE. */
int vmm_guest_entry(void *ctx, struct kvm_vcpu *kvcpu, struct kvm_run *run);

/* vmm.c: what the guest programs may ask of their machine. */
void vmm_guest_first_insn(struct vmm_vcpu *vcpu);
void vmm_guest_round_done(struct vmm_vcpu *vcpu, unsigned int round);
/* A guest I/O notification (an intercept the VMM answers synchronously):
 * the VMM reads the request in [gaddr, +nr pages) and writes the answer. */
int vmm_guest_io_notify(struct vmm_vcpu *vcpu, uint64_t gaddr,
			uint64_t nr_pages, uint64_t seq, char *msg,
			size_t msglen);
/* Wait for every vCPU of this boot; -EINTR when the vCPU must leave SIE. */
int vmm_guest_barrier(struct vmm_vcpu *vcpu);
/* An enabled wait until the next timer tick; -EINTR as above. */
int vmm_guest_tick(struct vmm_vcpu *vcpu);

/* The request/response words of the io program's pages. */
#define VMM_IO_MAGIC 0x4c5056494f000000ULL	/* "LPVIO" */
uint64_t vmm_io_request_word(uint64_t key, uint64_t gaddr, uint64_t seq);

#endif /* LAZYPV_VMM_INTERNAL_H */
