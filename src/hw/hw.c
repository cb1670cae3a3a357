// SPDX-License-Identifier: MIT
/*
 * hw.c - host physical memory, its two views, host-view protection and the
 * delivery of program interruption 0x3d.
 *
 * Memory: one memfd, ftruncate'd to the machine size and mapped twice with
 * MAP_SHARED (host view, firmware view).  Nothing is populated up front
 * unless hw_config.populate asks (slice by slice, with a progress call);
 * frames are faulted in by first use and never handed back to the OS.
 *
 * Protection: a bitmap with one bit per frame says which frames are
 * protected in the host view.  In GUARD mode the bit is backed by a real
 * MADV_GUARD_INSTALL guard on the host-view page (the shared memfd keeps the
 * content; the firmware view is untouched), so any host access, through any
 * pointer, faults in the MMU; our SIGSEGV handler maps the address back to
 * the frame and delivers 0x3d.  In SOFT mode only hw_host_page() and the
 * checked copies test the bit.  Ordering that makes the handler's view safe:
 * protect sets the bit *before* installing the guard, unprotect removes the
 * guard *before* clearing the bit, so a guard fault always sees the bit set
 * unless the frame was unprotected meanwhile (then the access is retried).
 * A second bitmap marks frames whose unprotect is queued in a thread's
 * batch (hw_unprotect_batch_begin): their bit and guard stay until the
 * flush, but they count as unprotected and a fault on one lifts its guard.
 * Callers serialise protect/unprotect of one frame among themselves (the UV
 * does, under its per-frame lock).
 *
 * Threads: any.  The bitmap is updated with atomic RMW; handler pointers are
 * published with release stores; stats are relaxed counters.
 *
 * The SIGSEGV handler is process-wide.  Machines register in a small table
 * (hw_machines) read lock-free by the handler; faults outside every machine
 * go to the handler that was installed before ours.
 */
#include "hw.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/lib.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HW_MAX_MACHINES 8

struct hw_machine {
	int memfd;
	uint64_t mem_bytes;
	uint64_t nr_frames;
	char *host_view;
	char *fw_view;
	enum hw_protect_mode mode;
	uint64_t *protect_bits;		/* atomic RMW, one bit per frame */
	uint64_t *pending_bits;		/* protected, guard lift queued */
	int pm_pidfd;			/* process_madvise target, or -1 */
	struct {
		hw_pgm_handler_fn fn;	/* published with release stores */
		void *ctx;
	} pgm[3];			/* 0x3d, 0x3e, 0x3f */
	struct hw_stats stats;		/* relaxed counters */
	bool probe_touch;		/* atomic: the first-touch probe is on */
	int slot;			/* index in hw_machines */
};

static struct hw_machine *hw_machines[HW_MAX_MACHINES];
static struct lpv_mutex hw_registry_lock;	/* serialises slot changes */
static struct sigaction hw_old_segv;
static bool hw_segv_installed;

/* Checked-copy fixup: set while hw_host_read/write runs on this thread. */
static __thread sigjmp_buf *hw_fixup;
/* This thread's open unprotect batch (hw_unprotect_batch_begin). */
static __thread struct hw_unprotect_batch *hw_batch;

static void hw_batch_flush(struct hw_unprotect_batch *b);

__attribute__((constructor)) static void hw_registry_init(void)
{
	lpv_mutex_init(&hw_registry_lock);
}

static inline void stat_inc(uint64_t *c)
{
	atomic_add_relaxed(c, 1);
}

const char *hw_protect_mode_name(enum hw_protect_mode mode)
{
	switch (mode) {
	case HW_PROTECT_AUTO: return "auto";
	case HW_PROTECT_GUARD: return "guard (MADV_GUARD_INSTALL)";
	case HW_PROTECT_SOFT: return "soft (checked accessors)";
	}
	return "?";
}

uint64_t hw_backable_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (kb * 1024ULL) & HW_PAGE_MASK;
}

static int pgm_index(enum hw_pgm_code code)
{
	switch (code) {
	case HW_PGM_SECURE_STORAGE_ACCESS: return 0;
	case HW_PGM_NON_SECURE_STORAGE_ACCESS: return 1;
	case HW_PGM_SECURE_STORAGE_VIOLATION: return 2;
	}
	return -1;
}

int hw_pgm_deliver(struct hw_machine *hw, const struct hw_pgm_info *info)
{
	int idx = pgm_index(info->code);
	hw_pgm_handler_fn fn;
	void *ctx;
	int ret;

	if (idx < 0)
		return -EINVAL;
	stat_inc(idx == 0 ? &hw->stats.pgm_3d :
		 idx == 1 ? &hw->stats.pgm_3e : &hw->stats.pgm_3f);
	fn = __atomic_load_n(&hw->pgm[idx].fn, __ATOMIC_ACQUIRE);
	ctx = __atomic_load_n(&hw->pgm[idx].ctx, __ATOMIC_ACQUIRE);
	ret = fn ? fn(ctx, info) : -ENOSYS;
	if (ret)
		stat_inc(&hw->stats.pgm_unresolved);
	return ret;
}

void hw_pgm_register(struct hw_machine *hw, enum hw_pgm_code code,
		     hw_pgm_handler_fn fn, void *ctx)
{
	int idx = pgm_index(code);

	BUG_ON(idx < 0);
	__atomic_store_n(&hw->pgm[idx].ctx, ctx, __ATOMIC_RELEASE);
	__atomic_store_n(&hw->pgm[idx].fn, fn, __ATOMIC_RELEASE);
}

static bool bit_test(const uint64_t *bits, hw_pfn_t pfn)
{
	return atomic_load_acquire(&bits[pfn / 64]) & (1ULL << (pfn % 64));
}

/* A pending frame (see hw_unprotect_batch_begin) counts as unprotected:
 * an access to it succeeds. */
bool hw_frame_is_protected(const struct hw_machine *hw, hw_pfn_t pfn)
{
	if (pfn >= hw->nr_frames)
		return false;
	return bit_test(hw->protect_bits, pfn) &&
	       !bit_test(hw->pending_bits, pfn);
}

/* Deliver 0x3d for @pfn; 0 when the access may be retried. */
static int hw_secure_access(struct hw_machine *hw, hw_pfn_t pfn, uintptr_t addr)
{
	struct hw_pgm_info info = {
		.code = HW_PGM_SECURE_STORAGE_ACCESS,
		.pfn = pfn,
		.addr = addr,
	};

	return hw_pgm_deliver(hw, &info);
}

static int madvise_retry(void *addr, size_t len, int advice)
{
	while (madvise(addr, len, advice)) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

/* The guard of @pfn is gone: clear its bit and count the unprotect. */
static void hw_unprotected(struct hw_machine *hw, hw_pfn_t pfn)
{
	uint64_t bit = 1ULL << (pfn % 64);

	if (!(atomic_fetch_and(&hw->protect_bits[pfn / 64], ~bit) & bit))
		return;	/* raced with another unprotect: it counted */
	stat_inc(&hw->stats.unprotects);
	atomic_sub_relaxed(&hw->stats.protected_now, 1);
}

/*
 * Finish the queued unprotect of @pfn after its guard was lifted -- unless
 * someone else finished it first (the owner's flush, a faulting access, a
 * protect).  Returns true if this call finished it.
 */
static bool hw_pending_done(struct hw_machine *hw, hw_pfn_t pfn)
{
	uint64_t bit = 1ULL << (pfn % 64);

	if (!bit_test(hw->pending_bits, pfn))
		return false;
	/*
	 * The protect bit goes first: a fault that sees the pending bit
	 * clear must see the frame unprotected too, or it would take a
	 * frame whose guard is already gone for a protected one.  Whoever
	 * clears the protect bit counts; the pending bit follows.
	 */
	if (!(atomic_fetch_and(&hw->protect_bits[pfn / 64], ~bit) & bit))
		return false;
	stat_inc(&hw->stats.unprotects);
	atomic_sub_relaxed(&hw->stats.protected_now, 1);
	atomic_fetch_and(&hw->pending_bits[pfn / 64], ~bit);
	return true;
}

/*
 * hw_pending_done() for the frames of @mask in bitmap word @word at once
 * (a flush finishing its batch: consecutive frames share a word, so one
 * atomic per word instead of four per frame).  Returns how many this call
 * finished; a frame some fault finished first is left to it, as above.
 */
static unsigned int hw_pending_done_word(struct hw_machine *hw, size_t word,
					 uint64_t mask)
{
	uint64_t done;
	unsigned int n;

	mask &= atomic_load_acquire(&hw->pending_bits[word]);
	if (!mask)
		return 0;
	done = atomic_fetch_and(&hw->protect_bits[word], ~mask) & mask;
	if (!done)
		return 0;
	n = (unsigned int)__builtin_popcountll(done);
	atomic_add_relaxed(&hw->stats.unprotects, n);
	atomic_sub_relaxed(&hw->stats.protected_now, n);
	atomic_fetch_and(&hw->pending_bits[word], ~done);
	return n;
}

/* Lift one pending guard now (a host access or a protect needs it);
 * async-signal-safe: madvise is a plain syscall. */
static void hw_lift_pending(struct hw_machine *hw, hw_pfn_t pfn)
{
	/* The frame belongs to the unprotect that queued it: failing to
	 * lift the guard would leave it inaccessible forever. */
	BUG_ON(madvise_retry(hw->host_view + (pfn << HW_PAGE_SHIFT),
			     HW_PAGE_SIZE, MADV_GUARD_REMOVE) != 0);
	if (hw_pending_done(hw, pfn))
		stat_inc(&hw->stats.unprotects_lazy);
}

static void hw_segv_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t addr = (uintptr_t)si->si_addr;

	for (int i = 0; i < HW_MAX_MACHINES; i++) {
		struct hw_machine *hw =
			__atomic_load_n(&hw_machines[i], __ATOMIC_ACQUIRE);
		hw_pfn_t pfn;

		if (!hw || addr < (uintptr_t)hw->host_view ||
		    addr >= (uintptr_t)hw->host_view + hw->mem_bytes)
			continue;
		pfn = (addr - (uintptr_t)hw->host_view) >> HW_PAGE_SHIFT;
		stat_inc(&hw->stats.mmu_faults);
		/* A batched unprotect not flushed yet: lift this guard now. */
		if (bit_test(hw->pending_bits, pfn)) {
			hw_lift_pending(hw, pfn);
			return;
		}
		/* Unprotected meanwhile: just retry the access. */
		if (!bit_test(hw->protect_bits, pfn))
			return;
		/*
		 * A checked copy: unwind to it (the exception-table fixup) and
		 * let it deliver 0x3d outside signal context, then retry.
		 */
		if (hw_fixup)
			siglongjmp(*hw_fixup, 1);
		if (hw_secure_access(hw, pfn, addr) == 0)
			return;
		fprintf(stderr,
			"lazypv: unresolved secure-storage access (0x3d) at pfn 0x%llx\n",
			(unsigned long long)pfn);
		abort();
	}
	/* Not ours: hand over to whoever was there before. */
	if (hw_old_segv.sa_flags & SA_SIGINFO) {
		if (hw_old_segv.sa_sigaction) {
			hw_old_segv.sa_sigaction(sig, si, uctx);
			return;
		}
	} else if (hw_old_segv.sa_handler != SIG_DFL &&
		   hw_old_segv.sa_handler != SIG_IGN) {
		hw_old_segv.sa_handler(sig);
		return;
	}
	signal(SIGSEGV, SIG_DFL);	/* re-fault and die with a core */
}

static int hw_segv_install_locked(void)
{
	struct sigaction sa;

	if (hw_segv_installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = hw_segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;	/* a handler may fault again */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &hw_old_segv))
		return -errno;
	hw_segv_installed = true;
	return 0;
}

/* Does this kernel support guard regions on a shared memfd mapping? */
static bool hw_guard_supported(struct hw_machine *hw)
{
	if (madvise_retry(hw->host_view, HW_PAGE_SIZE, MADV_GUARD_INSTALL))
		return false;
	if (madvise_retry(hw->host_view, HW_PAGE_SIZE, MADV_GUARD_REMOVE)) {
		/* Cannot undo: the machine is unusable in any mode. */
		BUG_ON(1);
	}
	return true;
}

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#define HW_PIDFD_SELF (-20000)	/* PIDFD_SELF_THREAD_GROUP, Linux >= 6.15 */

/*
 * Can process_madvise() lift guards of this address space in one call?
 * (Linux >= 6.13 allows any advice on oneself.)  Tries PIDFD_SELF, then a
 * pidfd of our own; -1 means batches fall back to one madvise per range.
 */
static int hw_pm_probe(struct hw_machine *hw)
{
	struct iovec iov = { .iov_base = hw->host_view, .iov_len = HW_PAGE_SIZE };
	int fds[2] = { HW_PIDFD_SELF, -1 };

	fds[1] = (int)syscall(SYS_pidfd_open, getpid(), 0);
	for (int i = 0; i < 2; i++) {
		if (fds[i] == -1)
			continue;
		if (madvise_retry(hw->host_view, HW_PAGE_SIZE, MADV_GUARD_INSTALL))
			break;
		if (syscall(SYS_process_madvise, fds[i], &iov, 1,
			    MADV_GUARD_REMOVE, 0) == HW_PAGE_SIZE) {
			if (i == 0 && fds[1] >= 0)
				close(fds[1]);
			return fds[i];
		}
		BUG_ON(madvise_retry(hw->host_view, HW_PAGE_SIZE,
				     MADV_GUARD_REMOVE) != 0);
	}
	if (fds[1] >= 0)
		close(fds[1]);
	return -1;
}

/*
 * Real memory never faults.  Populated, the firmware view costs the UV
 * nothing but the access, and the host view only the faults its guards
 * cause.  Mapping the pages (MADV_POPULATE_WRITE) is not enough on a
 * nested VM: the hypervisor below backs a page only at its first real
 * store (~4-5 us a page here), so each frame is written once as well.
 */
static int hw_populate(struct hw_machine *hw, const struct hw_config *cfg)
{
	for (uint64_t off = 0; off < hw->mem_bytes; off += HW_POPULATE_STEP) {
		uint64_t len = hw->mem_bytes - off < HW_POPULATE_STEP ?
			       hw->mem_bytes - off : HW_POPULATE_STEP;

		if (madvise_retry(hw->fw_view + off, len, MADV_POPULATE_WRITE) ||
		    madvise_retry(hw->host_view + off, len, MADV_POPULATE_WRITE))
			return -ENOMEM;
		for (uint64_t b = off; b < off + len; b += HW_PAGE_SIZE)
			*(volatile char *)hw_fw_page(hw, b >> HW_PAGE_SHIFT) = 0;
		if (cfg->populate_progress)
			cfg->populate_progress(cfg->populate_ctx, off + len,
					       hw->mem_bytes);
	}
	return 0;
}

int hw_machine_create(const struct hw_config *cfg, struct hw_machine **out)
{
	struct hw_machine *hw;
	uint64_t backable;
	int ret;

	*out = NULL;
	if (cfg->mem_bytes == 0 || (cfg->mem_bytes & ~HW_PAGE_MASK))
		return -EINVAL;
	backable = hw_backable_bytes();
	if (backable && cfg->mem_bytes > backable)
		return -E2BIG;

	hw = calloc(1, sizeof(*hw));
	if (!hw)
		return -ENOMEM;
	hw->mem_bytes = cfg->mem_bytes;
	hw->nr_frames = cfg->mem_bytes >> HW_PAGE_SHIFT;
	hw->slot = -1;
	hw->pm_pidfd = -1;
	/* One allocation: the protect bits, then the pending bits. */
	hw->protect_bits = calloc(2 * ((hw->nr_frames + 63) / 64),
				  sizeof(uint64_t));
	if (!hw->protect_bits) {
		ret = -ENOMEM;
		goto out_free_hw;
	}
	hw->pending_bits = hw->protect_bits + (hw->nr_frames + 63) / 64;

	hw->memfd = memfd_create("lazypv-ram", MFD_CLOEXEC);
	if (hw->memfd < 0) {
		ret = -errno;
		goto out_free_bits;
	}
	if (ftruncate(hw->memfd, (off_t)cfg->mem_bytes)) {
		ret = -errno;
		goto out_close;
	}
	hw->host_view = mmap(NULL, cfg->mem_bytes, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_NORESERVE, hw->memfd, 0);
	if (hw->host_view == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	hw->fw_view = mmap(NULL, cfg->mem_bytes, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_NORESERVE, hw->memfd, 0);
	if (hw->fw_view == MAP_FAILED) {
		ret = -errno;
		goto out_unmap_host;
	}

	if (cfg->populate) {
		ret = hw_populate(hw, cfg);
		if (ret)
			goto out_unmap_fw;
	}

	switch (cfg->protect) {
	case HW_PROTECT_AUTO:
		hw->mode = hw_guard_supported(hw) ? HW_PROTECT_GUARD
						  : HW_PROTECT_SOFT;
		break;
	case HW_PROTECT_GUARD:
		if (!hw_guard_supported(hw)) {
			ret = -EOPNOTSUPP;
			goto out_unmap_fw;
		}
		hw->mode = HW_PROTECT_GUARD;
		break;
	case HW_PROTECT_SOFT:
		hw->mode = HW_PROTECT_SOFT;
		break;
	default:
		ret = -EINVAL;
		goto out_unmap_fw;
	}

	if (hw->mode == HW_PROTECT_GUARD && !cfg->no_process_madvise)
		hw->pm_pidfd = hw_pm_probe(hw);

	lpv_mutex_lock(&hw_registry_lock);
	ret = hw_segv_install_locked();
	for (int i = 0; !ret && i < HW_MAX_MACHINES; i++) {
		if (!hw_machines[i]) {
			hw->slot = i;
			__atomic_store_n(&hw_machines[i], hw, __ATOMIC_RELEASE);
			break;
		}
	}
	lpv_mutex_unlock(&hw_registry_lock);
	if (ret)
		goto out_unmap_fw;
	if (hw->slot < 0) {
		ret = -EMFILE;
		goto out_unmap_fw;
	}
	lpv_trace("HW CREATE: %llu frames, protection %s, batched lifts %s",
		  (unsigned long long)hw->nr_frames,
		  hw_protect_mode_name(hw->mode),
		  hw->pm_pidfd != -1 ? "process_madvise" : "madvise");
	*out = hw;
	return 0;

out_unmap_fw:
	if (hw->pm_pidfd >= 0)
		close(hw->pm_pidfd);
	munmap(hw->fw_view, cfg->mem_bytes);
out_unmap_host:
	munmap(hw->host_view, cfg->mem_bytes);
out_close:
	close(hw->memfd);
out_free_bits:
	free(hw->protect_bits);
out_free_hw:
	free(hw);
	return ret;
}

void hw_machine_destroy(struct hw_machine *hw)
{
	if (!hw)
		return;
	lpv_mutex_lock(&hw_registry_lock);
	__atomic_store_n(&hw_machines[hw->slot], NULL, __ATOMIC_RELEASE);
	lpv_mutex_unlock(&hw_registry_lock);
	if (hw->pm_pidfd >= 0)
		close(hw->pm_pidfd);
	munmap(hw->fw_view, hw->mem_bytes);
	munmap(hw->host_view, hw->mem_bytes);
	close(hw->memfd);
	free(hw->protect_bits);
	free(hw);
}

uint64_t hw_nr_frames(const struct hw_machine *hw)
{
	return hw->nr_frames;
}

uint64_t hw_mem_bytes(const struct hw_machine *hw)
{
	return hw->mem_bytes;
}

enum hw_protect_mode hw_protect_mode(const struct hw_machine *hw)
{
	return hw->mode;
}

void *hw_host_page(struct hw_machine *hw, hw_pfn_t pfn)
{
	char *p;

	BUG_ON(pfn >= hw->nr_frames);
	p = hw->host_view + (pfn << HW_PAGE_SHIFT);
	/* GUARD mode: the MMU checks every access through @p. */
	while (hw->mode == HW_PROTECT_SOFT && hw_frame_is_protected(hw, pfn)) {
		if (hw_secure_access(hw, pfn, (uintptr_t)p)) {
			fprintf(stderr,
				"lazypv: unresolved secure-storage access (0x3d) at pfn 0x%llx\n",
				(unsigned long long)pfn);
			abort();
		}
	}
	return p;
}

void *hw_fw_page(struct hw_machine *hw, hw_pfn_t pfn)
{
	BUG_ON(pfn >= hw->nr_frames);
	return hw->fw_view + (pfn << HW_PAGE_SHIFT);
}

hw_pfn_t hw_host_addr_to_pfn(const struct hw_machine *hw, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, base = (uintptr_t)hw->host_view;

	if (a < base || a >= base + hw->mem_bytes)
		return HW_PFN_INVALID;
	return (a - base) >> HW_PAGE_SHIFT;
}

/*
 * The checked copy.  In SOFT mode the bit is tested first; in both modes the
 * copy runs under a fixup, so a guard fault unwinds to here instead of being
 * handled inside the signal handler.  0x3d is then delivered from ordinary
 * thread context (the handler may take locks, allocate, call libcrypto) and
 * the copy is retried; an unresolved 0x3d answers -EFAULT.
 */
static int hw_host_copy(struct hw_machine *hw, hw_pfn_t pfn, size_t off,
			void *dst, const void *src, size_t len, bool write)
{
	sigjmp_buf env, *saved = hw_fixup;
	char *p;

	if (pfn >= hw->nr_frames || off > HW_PAGE_SIZE ||
	    len > HW_PAGE_SIZE - off)
		return -ERANGE;
	p = hw->host_view + (pfn << HW_PAGE_SHIFT) + off;
	for (;;) {
		while (hw_frame_is_protected(hw, pfn))
			if (hw_secure_access(hw, pfn, (uintptr_t)p))
				return -EFAULT;
		if (sigsetjmp(env, 1) == 0) {
			hw_fixup = &env;
			if (write)
				memcpy(p, src, len);
			else
				memcpy(dst, p, len);
			hw_fixup = saved;
			return 0;
		}
		/* Faulted: the frame was protected again under us. */
		hw_fixup = saved;
	}
}

int hw_host_read(struct hw_machine *hw, hw_pfn_t pfn, size_t off, void *buf,
		 size_t len)
{
	return hw_host_copy(hw, pfn, off, buf, NULL, len, false);
}

int hw_host_write(struct hw_machine *hw, hw_pfn_t pfn, size_t off,
		  const void *buf, size_t len)
{
	return hw_host_copy(hw, pfn, off, NULL, buf, len, true);
}

int hw_frame_protect(struct hw_machine *hw, hw_pfn_t pfn)
{
	uint64_t bit = 1ULL << (pfn % 64), old;
	int ret;

	if (pfn >= hw->nr_frames)
		return -ERANGE;
	/* Queued unprotect (the owner hands the frame back to protection
	 * before its flush): complete it, then protect as usual. */
	if (bit_test(hw->pending_bits, pfn))
		hw_lift_pending(hw, pfn);
	old = atomic_fetch_or(&hw->protect_bits[pfn / 64], bit);
	if (old & bit)
		return 0;
	if (hw->mode == HW_PROTECT_GUARD) {
		ret = madvise_retry(hw->host_view + (pfn << HW_PAGE_SHIFT),
				    HW_PAGE_SIZE, MADV_GUARD_INSTALL);
		if (ret) {
			atomic_fetch_and(&hw->protect_bits[pfn / 64], ~bit);
			return ret;
		}
	}
	stat_inc(&hw->stats.protects);
	atomic_add_relaxed(&hw->stats.protected_now, 1);
	return 0;
}

int hw_frame_unprotect(struct hw_machine *hw, hw_pfn_t pfn)
{
	struct hw_unprotect_batch *b = hw_batch;
	uint64_t bit = 1ULL << (pfn % 64);
	int ret;

	if (pfn >= hw->nr_frames)
		return -ERANGE;
	if (!bit_test(hw->protect_bits, pfn))
		return 0;
	if (hw->mode == HW_PROTECT_SOFT) {
		hw_unprotected(hw, pfn);
		return 0;
	}
	if (b && b->hw == hw) {
		if (!(atomic_fetch_or(&hw->pending_bits[pfn / 64], bit) & bit)) {
			b->pfns[b->nr++] = pfn;
			if (b->nr == HW_UNPROTECT_BATCH)
				hw_batch_flush(b);
		}
		return 0;
	}
	ret = madvise_retry(hw->host_view + (pfn << HW_PAGE_SHIFT),
			    HW_PAGE_SIZE, MADV_GUARD_REMOVE);
	if (ret)
		return ret;
	if (!hw_pending_done(hw, pfn))	/* queued by another thread? */
		hw_unprotected(hw, pfn);
	return 0;
}

/*
 * Lift the guards of @n host-view ranges: one process_madvise() when the
 * kernel allows it, one madvise() per range for whatever it did not do.
 */
static void hw_lift_ranges(struct hw_machine *hw, struct iovec *iov,
			   unsigned int n)
{
	size_t done = 0;

	if (hw->pm_pidfd != -1) {
		long r;

		do
			r = syscall(SYS_process_madvise, hw->pm_pidfd, iov,
				    (size_t)n, MADV_GUARD_REMOVE, 0);
		while (r < 0 && (errno == EINTR || errno == EAGAIN));
		if (r > 0)
			done = (size_t)r;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (done >= iov[i].iov_len) {
			done -= iov[i].iov_len;
			continue;
		}
		/* The frames are the caller's: see hw_lift_pending. */
		BUG_ON(madvise_retry((char *)iov[i].iov_base + done,
				     iov[i].iov_len - done,
				     MADV_GUARD_REMOVE) != 0);
		done = 0;
	}
}

static void hw_batch_flush(struct hw_unprotect_batch *b)
{
	struct hw_machine *hw = b->hw;
	struct iovec iov[HW_UNPROTECT_BATCH];
	unsigned int n = 0, lifted = 0;

	for (unsigned int i = 0; i < b->nr; i++) {
		char *p = hw->host_view + (b->pfns[i] << HW_PAGE_SHIFT);

		if (!bit_test(hw->pending_bits, b->pfns[i]))
			continue;	/* lifted already */
		/* Coalesce runs of adjacent frames, rising or falling. */
		if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == p) {
			iov[n - 1].iov_len += HW_PAGE_SIZE;
		} else if (n && (char *)iov[n - 1].iov_base == p + HW_PAGE_SIZE) {
			iov[n - 1].iov_base = p;
			iov[n - 1].iov_len += HW_PAGE_SIZE;
		} else {
			iov[n].iov_base = p;
			iov[n].iov_len = HW_PAGE_SIZE;
			n++;
		}
	}
	if (n) {
		hw_lift_ranges(hw, iov, n);
		stat_inc(&hw->stats.unprotect_flushes);
	}
	for (unsigned int i = 0; i < b->nr;) {
		size_t word = b->pfns[i] / 64;
		uint64_t mask = 0;

		for (; i < b->nr && b->pfns[i] / 64 == word; i++)
			mask |= 1ULL << (b->pfns[i] % 64);
		lifted += hw_pending_done_word(hw, word, mask);
	}
	atomic_add_relaxed(&hw->stats.unprotects_batched, lifted);
	b->nr = 0;
}

void hw_unprotect_batch_begin(struct hw_machine *hw,
			      struct hw_unprotect_batch *b)
{
	b->hw = hw;
	b->nr = 0;
	b->outer = hw_batch;
	if (!b->outer)
		hw_batch = b;
}

void hw_unprotect_batch_end(struct hw_unprotect_batch *b)
{
	/* A nested bracket flushes the outer batch: its caller's frames may
	 * change hands once it returns. */
	struct hw_unprotect_batch *active = b->outer ? b->outer : b;

	BUG_ON(hw_batch != active);
	hw_batch_flush(active);
	if (!b->outer)
		hw_batch = NULL;
}

void hw_probe_first_touch(struct hw_machine *hw, bool on)
{
	atomic_store_release(&hw->probe_touch, on);
}

/*
 * The probe: the clear's first access to its frame, on its own, one load
 * through the firmware view, timed and tallied; one that stalls (>=
 * HW_STALL_NS) is tallied apart too.
 */
static void hw_probe_touch(struct hw_machine *hw, const void *page)
{
	uint64_t t0 = hw_now_ns(), d;

	(void)*(volatile const uint8_t *)page;
	d = hw_now_ns() - t0;
	stat_inc(&hw->stats.touches);
	atomic_add_relaxed(&hw->stats.touch_ns, d);
	if (d >= HW_STALL_NS) {
		stat_inc(&hw->stats.stalls);
		atomic_add_relaxed(&hw->stats.stall_ns, d);
	}
}

void hw_frame_clear_fw(struct hw_machine *hw, hw_pfn_t pfn)
{
	void *page = hw_fw_page(hw, pfn);

	if (unlikely(atomic_load_relaxed(&hw->probe_touch)))
		hw_probe_touch(hw, page);
	memset(page, 0, HW_PAGE_SIZE);
}

void hw_stats_get(const struct hw_machine *hw, struct hw_stats *out)
{
#define HW_STAT_COPY(name, desc) \
	out->name = atomic_load_relaxed(&hw->stats.name);
	HW_STATS(HW_STAT_COPY)
#undef HW_STAT_COPY
	out->protected_now = atomic_load_relaxed(&hw->stats.protected_now);
}

int hw_check(const struct hw_machine *hw)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (hw->nr_frames + 63) / 64; i++) {
		uint64_t prot = atomic_load_relaxed(&hw->protect_bits[i]);
		uint64_t pend = atomic_load_relaxed(&hw->pending_bits[i]);

		/* Pending = protected with its guard lift queued. */
		if (pend & ~prot) {
			fprintf(stderr, "hw_check: pfn 0x%llx pending but not protected\n",
				(unsigned long long)(i * 64 + (uint64_t)__builtin_ctzll(pend & ~prot)));
			return -EUCLEAN;
		}
		n += (uint64_t)__builtin_popcountll(prot);
	}
	if (n != atomic_load_relaxed(&hw->stats.protected_now)) {
		fprintf(stderr, "hw_check: %llu frames protected, counter says %llu\n",
			(unsigned long long)n,
			(unsigned long long)hw->stats.protected_now);
		return -EUCLEAN;
	}
	return 0;
}
