/* SPDX-License-Identifier: MIT */
/*
 * hw.h - the machine: host physical memory, its two views, per-frame
 * protection of the host view, program-interruption delivery and the
 * firmware cost clock.  This is the only header of src/hw/ that other
 * layers may include.
 *
 * Physical memory is one memfd of hw_config.mem_bytes, cut into 4 KiB
 * frames numbered by PFN 0 .. nr_frames-1.  It is mapped twice:
 *
 *   host view      what host-kernel code (mm, kvm, vmm) may touch.  A frame
 *                  can be *protected* in this view (secure or donated to the
 *                  UV); touching it raises program interruption 0x3d.
 *   firmware view  what the Ultravisor and secure-mode guest accesses use.
 *                  Never protected.
 *
 * Host code obtains a host-view pointer with hw_host_page(), which is the
 * one checked entry point: in HW_PROTECT_SOFT mode it delivers 0x3d itself
 * when the frame is protected; in HW_PROTECT_GUARD mode the frame carries a
 * real MADV_GUARD_INSTALL guard and the MMU raises the fault on first use of
 * the pointer, which the SIGSEGV handler turns into 0x3d.  Either way the
 * registered handler runs synchronously on the faulting thread and, if it
 * resolves the fault (unprotects the frame), the access is retried
 * transparently.  See docs/hw.md for the rules this imposes (no lock that
 * the 0x3d handler takes may be held across a host-view access).
 *
 * Memory is populated lazily (first touch; hw_config.populate does it up
 * front) and never given back to the OS while the machine lives: it is RAM.
 */
#ifndef LAZYPV_HW_H
#define LAZYPV_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lazypv/compiler.h"

#define HW_PAGE_SHIFT 12
#define HW_PAGE_SIZE (1UL << HW_PAGE_SHIFT)
#define HW_PAGE_MASK (~(HW_PAGE_SIZE - 1))

typedef uint64_t hw_pfn_t;
#define HW_PFN_INVALID ((hw_pfn_t)-1)

/* s390 program-interruption codes the machine delivers. */
enum hw_pgm_code {
	HW_PGM_SECURE_STORAGE_ACCESS = 0x3d,	/* host touched a secure frame */
	HW_PGM_NON_SECURE_STORAGE_ACCESS = 0x3e, /* protected guest, non-secure frame */
	HW_PGM_SECURE_STORAGE_VIOLATION = 0x3f,	/* protected guest, other config's frame */
};

enum hw_protect_mode {
	HW_PROTECT_AUTO = 0,	/* GUARD if the kernel supports it, else SOFT */
	HW_PROTECT_GUARD,	/* MADV_GUARD_INSTALL on the host view (real MMU) */
	HW_PROTECT_SOFT,	/* checked in hw_host_page() only */
};

struct hw_config {
	uint64_t mem_bytes;		/* page-aligned, > 0 */
	enum hw_protect_mode protect;
	bool no_process_madvise;	/* batches lift guards one range per
					 * madvise() (tests, comparisons) */
	bool populate;			/* back and map every frame now (about
					 * 2 s/GiB here) instead of at first
					 * touch: steady-state measurements */
	/*
	 * With populate: called on the creating thread after each slice of
	 * memory is backed (HW_POPULATE_STEP bytes, the last one shorter),
	 * with the bytes done so far -- increasing, the last call with
	 * @done == @total == mem_bytes.  May be NULL.  It must not call into
	 * the machine (there is none yet).
	 */
	void (*populate_progress)(void *ctx, uint64_t done, uint64_t total);
	void *populate_ctx;
};

/* The slice of memory populated between two progress calls. */
#define HW_POPULATE_STEP (64ULL << 20)

/* What a program-interruption handler is told. */
struct hw_pgm_info {
	enum hw_pgm_code code;
	hw_pfn_t pfn;		/* frame of the faulting address */
	uintptr_t addr;		/* faulting host-view address (0 if none) */
	bool write;		/* best effort: unknown for MMU faults (false) */
};

/*
 * A program-interruption handler: return 0 when the cause is resolved and
 * the access may be retried, a negative errno otherwise.  It runs on the
 * faulting thread, possibly inside a SIGSEGV handler (see docs/hw.md).
 */
typedef int (*hw_pgm_handler_fn)(void *ctx, const struct hw_pgm_info *info);

struct hw_machine;

/* Create/destroy the machine.  Errors: -EINVAL (size 0 or not aligned),
 * -E2BIG (more than the host can back), -ENOMEM/-errno from the OS. */
int hw_machine_create(const struct hw_config *cfg,
		      struct hw_machine **out) __must_check;
void hw_machine_destroy(struct hw_machine *hw);

uint64_t hw_nr_frames(const struct hw_machine *hw);
uint64_t hw_mem_bytes(const struct hw_machine *hw);
enum hw_protect_mode hw_protect_mode(const struct hw_machine *hw);
const char *hw_protect_mode_name(enum hw_protect_mode mode);

/* Largest size hw_machine_create() would accept now (bytes, page-aligned). */
uint64_t hw_backable_bytes(void);

/*
 * Host view of a frame (checked entry point, see above).  The pointer stays
 * valid for the life of the machine; whether it may be dereferenced depends
 * on the frame's protection at the time of access.  A 0x3d that no handler
 * resolves is fatal here (a host-kernel access to secure storage is a bug);
 * use hw_host_read/write where that must be survivable.
 */
void *hw_host_page(struct hw_machine *hw, hw_pfn_t pfn);
/*
 * Checked copies through the host view, for code that must survive an
 * unresolved 0x3d (like the kernel's copy_from_user with an exception-table
 * fixup): the access really goes through the host view; if the frame is
 * protected and the 0x3d handler cannot resolve it, the copy stops and
 * returns -EFAULT instead of the fault being fatal.  0 on success.
 */
int hw_host_read(struct hw_machine *hw, hw_pfn_t pfn, size_t off, void *buf,
		 size_t len) __must_check;
int hw_host_write(struct hw_machine *hw, hw_pfn_t pfn, size_t off,
		  const void *buf, size_t len) __must_check;
/* Firmware view: for the UV and secure-mode guest accesses only. */
void *hw_fw_page(struct hw_machine *hw, hw_pfn_t pfn);
/* Reverse lookups; HW_PFN_INVALID if @addr is outside the view. */
hw_pfn_t hw_host_addr_to_pfn(const struct hw_machine *hw, const void *addr);

/*
 * Protect/unprotect one frame in the host view.  Idempotent; safe from any
 * thread.  Protecting does not touch the content.  Returns 0 or -errno
 * (-ERANGE for a bad pfn; madvise errors in GUARD mode).
 */
int hw_frame_protect(struct hw_machine *hw, hw_pfn_t pfn) __must_check;
int hw_frame_unprotect(struct hw_machine *hw, hw_pfn_t pfn) __must_check;
bool hw_frame_is_protected(const struct hw_machine *hw, hw_pfn_t pfn);

/*
 * Batched unprotect.  Lifting one guard costs a syscall (~1.2 us on the
 * development machine, a nested VM) -- a cost of this emulation, not of
 * the machine it plays: on s390 a frame leaving the secure state needs no
 * host page-table change.  A thread that unprotects many frames it owns
 * (the destroy walks, the UV returning donated storage) brackets them:
 *
 *	struct hw_unprotect_batch b;
 *
 *	hw_unprotect_batch_begin(hw, &b);
 *	... hw_frame_unprotect() of frames this thread owns ...
 *	hw_unprotect_batch_end(&b);	// before the frames change hands
 *
 * Inside the bracket, in GUARD mode, hw_frame_unprotect() only marks the
 * frame *pending* and queues it; _end() (or a full queue) lifts the queued
 * guards with one process_madvise() (adjacent frames coalesced; one
 * madvise() per range where the kernel lacks it) and clears their bits.
 * A pending frame already counts as unprotected: hw_frame_is_protected()
 * says false, a host access through any pointer lifts its guard on the
 * spot (no 0x3d), and hw_frame_protect() completes the unprotect first.
 * The rule: end the batch before a queued frame can reach another thread
 * (freed, reused), or that thread's protect could race the flush.
 * Brackets on one thread may nest: an inner _end() flushes the outer
 * queue.  @b lives on the caller's stack (about 4 KiB).
 */
#define HW_UNPROTECT_BATCH 512

struct hw_unprotect_batch {
	struct hw_machine *hw;
	struct hw_unprotect_batch *outer;	/* nested: the active batch */
	unsigned int nr;
	hw_pfn_t pfns[HW_UNPROTECT_BATCH];
};

void hw_unprotect_batch_begin(struct hw_machine *hw,
			      struct hw_unprotect_batch *b);
void hw_unprotect_batch_end(struct hw_unprotect_batch *b);

/* Clear a frame through the firmware view (used by the UV). */
void hw_frame_clear_fw(struct hw_machine *hw, hw_pfn_t pfn);

/*
 * The first-touch probe: a measurement of the machine lazypv runs on, not
 * part of any model.  Off by default; while it is on, every
 * hw_frame_clear_fw() first touches its frame with one timed load and
 * counts it in the stats (touches, touch_ns), and one that took
 * HW_STALL_NS or more apart (stalls, stall_ns).  Such a first access is
 * not a cache or TLB miss (20-200 ns here) but a fault in the hypervisor
 * this machine runs under, which had taken the page away (2-10 us each on
 * the development machine; docs/hw.md).  The bench turns it on.
 */
#define HW_STALL_NS 1000
void hw_probe_first_touch(struct hw_machine *hw, bool on);

/*
 * Register the handler for one program-interruption code (one handler per
 * code; NULL unregisters).  The host kernel (mm/kvm) registers 0x3d here;
 * 0x3e/0x3f are raised by the SIE loop through hw_pgm_deliver().
 */
void hw_pgm_register(struct hw_machine *hw, enum hw_pgm_code code,
		     hw_pgm_handler_fn fn, void *ctx);
/* Deliver a program interruption synchronously; returns the handler's
 * verdict or -ENOSYS when none is registered. */
int hw_pgm_deliver(struct hw_machine *hw, const struct hw_pgm_info *info);

/* ---- the firmware cost clock ---- */

/* Monotonic time in ns (CLOCK_MONOTONIC). */
uint64_t hw_now_ns(void);
/*
 * Spend @ns of CPU on the calling thread (busy).  A call's overshoot is
 * taken off the thread's next call (up to HW_COST_CARRY_MAX_NS; clock.c),
 * so one call may end up to that much early and a thread's calls together
 * match what they asked for.  Returns hw_now_ns() at the end (0 if @ns is
 * 0), so a caller timing itself needs no second read.
 */
#define HW_COST_CARRY_MAX_NS 1000
uint64_t hw_cost_spend(uint64_t ns);
/* The same, counting from @start (an earlier hw_now_ns() of this thread):
 * time already gone since then is part of the @ns, and when nothing is
 * left to spend it returns @start without reading the clock again. */
uint64_t hw_cost_spend_since(uint64_t start, uint64_t ns);

/* ---- stats and checks ---- */

#define HW_STATS(X)						\
	X(protects, "frames protected in the host view")	\
	X(unprotects, "frames unprotected")			\
	X(pgm_3d, "0x3d interruptions delivered")		\
	X(pgm_3e, "0x3e interruptions delivered")		\
	X(pgm_3f, "0x3f interruptions delivered")		\
	X(pgm_unresolved, "interruptions not resolved by a handler") \
	X(mmu_faults, "host-view faults taken by the real MMU")	\
	X(unprotects_batched, "guards lifted by a batch flush")	\
	X(unprotects_lazy, "queued guards lifted at first access") \
	X(unprotect_flushes, "batch flushes that lifted guards") \
	X(touches, "first touches of clears timed by the probe") \
	X(touch_ns, "their time, ns")				\
	X(stalls, "of which took HW_STALL_NS or more")		\
	X(stall_ns, "their time, ns")

struct hw_stats {
#define HW_STAT_FIELD(name, desc) uint64_t name;
	HW_STATS(HW_STAT_FIELD)
#undef HW_STAT_FIELD
	uint64_t protected_now;	/* frames currently protected */
};

void hw_stats_get(const struct hw_machine *hw, struct hw_stats *out);
/* Validator: the protection bitmap agrees with its counter. 0 or -EUCLEAN. */
int hw_check(const struct hw_machine *hw) __must_check;

#endif /* LAZYPV_HW_H */
