/* SPDX-License-Identifier: MIT */
/*
 * vmm.h - the VMM (QEMU's role): the one header of src/vmm/ that the public
 * API (src/api/), the host layer, the benchmarks and the tests include.
 *
 * The pieces:
 *
 *   images     the file format `lazypv mkimage` writes and `lazypv run`
 *              boots: a small file header, the SE header the UV opens at
 *              SET_SEC_PARMS, then the encrypted pages (page 0 is the boot
 *              descriptor naming the guest program; the rest a payload).
 *   programs   the guest programs (touch, idle, memtest, io) that run on the
 *              vCPUs and touch guest memory only through the SIE path.
 *   env        what a VMM needs of the host stack below it (the host
 *              layer, src/host/, builds that stack and hands this out).
 *   vmm        one VMM process: a task (child of the shell, in its own
 *              memcg) whose guest-RAM VMA backs one VM, a main thread that
 *              boots, reboots, resets and shuts the guest down, and one
 *              thread per vCPU.  Its life is told as a timeline of events
 *              with monotonic timestamps.
 *
 * Errors are 0 or a negative errno; functions that take an @err buffer
 * also write a one-line explanation there.  Design: docs/vmm.md.
 */
#ifndef LAZYPV_VMM_H
#define LAZYPV_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kvm/kvm.h"
#include "lazypv/compiler.h"
#include "mm/mm.h"
#include "uv/uv_image.h"

struct vmm;

/* ====================================================================
 * images
 * ==================================================================== */

#define VMM_IMAGE_MAGIC "LPVSEIMG"
#define VMM_IMAGE_VERSION 1
#define VMM_IMAGE_HDR_LEN 256		/* file header bytes */
#define VMM_IMAGE_MAX_COMPONENTS 4
#define VMM_IMAGE_MAX_SE_HEADER (64 * 1024)
#define VMM_IMAGE_MAX_PAGES (1ULL << 22)	/* 16 GiB of image */
#define VMM_IMAGE_MAX_GADDR (1ULL << 40)
/* Default payload ("kernel"): a deterministic blob, so UNPACK has work. */
#define VMM_IMAGE_DEFAULT_PAYLOAD (4ULL << 20)

/* Longest "NAME" and "ARGS" of a "NAME[:ARGS]" program spec. */
#define VMM_PROGRAM_NAME_MAX 32
#define VMM_PROGRAM_ARGS_MAX 256

/* One UNPACK component: contiguous guest pages under one tweak. */
struct vmm_image_component {
	uint64_t gaddr;
	uint64_t nr_pages;
	uint64_t tweak;		/* tweak[0]; tweak[1] is the byte offset */
};

/*
 * A parsed image.  se_header and pages point into the buffer given to
 * vmm_image_parse() (which must outlive the image), or into the buffer
 * vmm_image_load() read (freed by vmm_image_release()).
 */
struct vmm_image {
	uint64_t psw[2];
	uint8_t host_pub[UV_HOST_KEY_LEN];	/* the UV it was built for */
	unsigned int nr_components;
	struct vmm_image_component comp[VMM_IMAGE_MAX_COMPONENTS];
	const uint8_t *se_header;
	size_t se_header_len;
	const uint8_t *pages;		/* components' pages, in order */
	uint64_t nr_pages;
	uint64_t guest_end;		/* end of the highest component */
	void *owned;			/* vmm_image_load()'s buffer */
};

struct vmm_image_spec {
	const char *program;		/* "NAME[:ARGS]" */
	const void *payload;		/* NULL: the default blob */
	size_t payload_len;		/* bytes (padded to pages) */
	uint64_t default_payload_len;	/* for payload NULL; 0: 4 MiB */
	uint64_t nonce;			/* per-image; 0: random */
};

/*
 * Build an image of @spec for the UV whose public host key is @host_pub:
 * a malloc'd buffer in *buf (free()) of *len bytes.  -EINVAL bad program
 * spec, -E2BIG payload too large, -ENOMEM, or the UV builder's error.
 */
int vmm_image_build(const struct vmm_image_spec *spec,
		    const uint8_t host_pub[UV_HOST_KEY_LEN], void **buf,
		    size_t *len, char *err, size_t errlen) __must_check;
/*
 * Parse and validate an image in memory.  Never trusts a field: -EINVAL
 * (malformed: the message says which field), -EBADMSG (checksum),
 * -EPROTONOSUPPORT (version).  Page contents are checked by the UV
 * (UNPACK/VERIFY), not here.
 */
int vmm_image_parse(const void *buf, size_t len, struct vmm_image *out,
		    char *err, size_t errlen) __must_check;
/* Read @path and parse it; errors as vmm_image_parse or -errno of I/O. */
int vmm_image_load(const char *path, struct vmm_image *out, char *err,
		   size_t errlen) __must_check;
void vmm_image_release(struct vmm_image *img);

/*
 * The UV's private host key derived from a seed string (SHA-256 of a
 * domain tag and the seed): `lazypv run --uv-seed S` gives its UV this key
 * and `lazypv mkimage --uv-seed S` builds for its public half.  NULL seed
 * means VMM_DEFAULT_UV_SEED.
 */
#define VMM_DEFAULT_UV_SEED "lazypv"
void vmm_host_key_from_seed(const char *seed, uint8_t priv[UV_HOST_KEY_LEN]);
/* The public half of vmm_host_key_from_seed(@seed): what `lazypv mkimage
 * --uv-seed S` builds for.  0 or the key derivation's error. */
int vmm_host_key_public_from_seed(const char *seed,
				  uint8_t pub[UV_HOST_KEY_LEN]) __must_check;
/* Parse 64 hex digits into a public key; -EINVAL otherwise. */
int vmm_host_key_parse(const char *hex,
		       uint8_t pub[UV_HOST_KEY_LEN]) __must_check;

/* ====================================================================
 * guest programs
 * ==================================================================== */

/*
 * Validate a "NAME[:ARGS]" spec (ARGS: key=value,...): 0, -ENOENT unknown
 * program, -EINVAL bad or unknown argument, -ENAMETOOLONG.  The keys:
 *   every program  rounds=N (1), then=reboot|clear|reset0|reset1|poweroff|idle
 *                  (reboot): what vCPU 0 asks for after the last round --
 *                  diag 308 subcode 10 (new protected guest), 3 (reboot
 *                  non-protected), 0/1 (reset, staying protected),
 *                  power-off, or wait until the host acts
 *   touch          mib=N (all free memory): per-boot pattern, verified;
 *                  memory not yet written this boot must read as zero
 *   memtest        mib=N, ops=N (2 per page), seed=N: random writes, verify
 *   io             pages=N (8): shared pages the VMM answers through
 *   idle           ticks until the host acts (then is ignored)
 */
int vmm_program_check(const char *spec, char *err, size_t errlen) __must_check;
/*
 * The same, and whether the program's area (at=, mib=; io's pages= per
 * vCPU) fits in a guest of @guest_mem bytes with @cpus vCPUs whose image
 * fills the first @image_pages pages: -ENOSPC with the reason if not --
 * what the guest would otherwise find at run time.
 */
int vmm_program_check_fit(const char *spec, uint64_t guest_mem,
			  unsigned int cpus, uint64_t image_pages, char *err,
			  size_t errlen) __must_check;
/* "touch, idle, memtest, io" */
const char *vmm_program_names(void);

/* The touch/memtest pattern word at @gaddr for the boot key @key and round
 * @round (the host side uses it to look for plaintext). */
uint64_t vmm_pattern_word(uint64_t key, uint64_t gaddr, unsigned int round);

/* ====================================================================
 * the host below
 * ==================================================================== */

/*
 * What a VMM needs of the host stack it runs on (the host layer builds the
 * stack and hands this out; host_vmm_env()): the memory manager the VMM's
 * task and memcg live in, the KVM module its VMs come from, and the
 * "shell" task every VMM is forked from.  Read-only; it outlives every VMM
 * created from it.
 */
struct vmm_env {
	struct mm_world *world;
	struct kvm_module *kvm;
	struct task *shell;		/* parent of every VMM task */
};

/* ====================================================================
 * the VMM process
 * ==================================================================== */

/*
 * Teardown designs (ARCHITECTURE.md §3), the VMM's side of each:
 *   sync, sync-6.0   KVM_PV_DISABLE at reboot; at shutdown the exit
 *          path's exit_mmap and VM close do KVM's work (kvm.h says which);
 *   lazy   KVM_PV_DISABLE too -- KVM defers the work to its own thread;
 *   async  reboot: ASYNC_CLEANUP_PREPARE, then a detached VMM thread runs
 *          ASYNC_CLEANUP_PERFORM (QEMU 8; falls back to DISABLE for guests
 *          of 2 GiB or less, or without the capability; the VMM exits with
 *          status 1 if PERFORM fails); shutdown: QEMU's CLONE_VM teardown
 *          helper, started with the VMM, holds the mm but no VM reference:
 *          the VMM's own exit destroys the VM (DESTROY_SEC_CONF and the
 *          walk), and only the final exit_mmap runs in the helper, once
 *          its poll (vmm_config.helper_poll_ms) sees the VMM gone.
 * The module's fences turn lazy into sync and async into sync-6.0
 * (kvm_set_destroy_mode); the timeline says so.
 */
enum vmm_destroy_mode {
#define VMM_DESTROY_ENUM(id, name, desc) VMM_DESTROY_##id,
	KVM_DESTROY_MODES(VMM_DESTROY_ENUM)
#undef VMM_DESTROY_ENUM
	VMM_DESTROY_NR,
};
const char *vmm_destroy_mode_name(enum vmm_destroy_mode mode);
/* "sync", "sync-6.0", "lazy", "async"; -EINVAL otherwise. */
int vmm_destroy_mode_parse(const char *s,
			   enum vmm_destroy_mode *out) __must_check;

enum vmm_event_type {
	VMM_EV_BOOT_START,	/* a guest is being set up (boot n) */
	VMM_EV_UNPACKED,	/* image unpacked and verified: pages, ns */
	VMM_EV_GUEST_START,	/* the guest's first instruction */
	VMM_EV_GUEST_ROUND,	/* a guest program finished a round */
	VMM_EV_REBOOT_REQUEST,	/* diag 308 (subcode) or external reset */
	VMM_EV_UNPROTECTED,	/* the old protected config is torn down */
	VMM_EV_SHUTDOWN_REQUEST, /* power-off, host request or kill */
	VMM_EV_GUEST_ERROR,	/* the guest or a boot step failed */
	VMM_EV_EXIT,		/* the parent's task_wait() returned */
	VMM_EV_RECLAIMED,	/* every frame back in the pool, uncharged */
	VMM_EV_NOTE,		/* something worth knowing (message) */
	VMM_EV_CLEANUP_DONE,	/* async: a PERFORM finished (latency since
				 * the reboot request that set it aside) */
	VMM_EV_HELPER_EXIT,	/* async: the teardown helper saw the VMM
				 * gone and exits (the final exit_mmap) */
	VMM_EV_NR,
};
const char *vmm_event_name(enum vmm_event_type type);

/* REBOOT_REQUEST subcode of a host-initiated external reset. */
#define VMM_RESET_EXTERNAL 0x100

struct vmm_event {
	enum vmm_event_type type;
	uint64_t t_ns;		/* lpv_now_ns() */
	unsigned int boot;	/* 0 = first boot */
	bool protected;		/* the boot is a protected guest */
	uint64_t subcode;	/* REBOOT_REQUEST */
	/*
	 * GUEST_START: since the boot started (first boot) or since the
	 * reboot request (restart latency); UNPACKED/UNPROTECTED: duration;
	 * EXIT: exit latency (since the shutdown request); RECLAIMED: reclaim
	 * time and HELPER_EXIT: since the shutdown request.
	 */
	uint64_t latency_ns;
	/* UNPACKED: image pages; EXIT: frames still charged to the VMM's
	 * memcg when the wait returned; RECLAIMED: frames */
	uint64_t pages;
	uint64_t leaked;	/* RECLAIMED: frames leaked since creation */
	unsigned int round;	/* GUEST_ROUND */
	unsigned int polls;	/* HELPER_EXIT: "is my parent gone?" checks */
	int code;		/* EXIT: exit code; GUEST_ERROR: -errno */
	char message[128];	/* GUEST_ERROR, SHUTDOWN_REQUEST: why */
};

/*
 * Print one event: a readable line (times relative to @t0_ns) or one JSON
 * object per line with the absolute monotonic t_ns.
 */
void vmm_event_print(const struct vmm_event *ev, uint64_t t0_ns, FILE *f,
		     bool json);

struct vmm_config {
	uint64_t guest_mem;		/* bytes, 1 MiB multiple */
	unsigned int cpus;		/* 1..VMM_MAX_CPUS */
	enum vmm_destroy_mode destroy;
	uint64_t memcg_limit;		/* bytes, 0: unlimited */
	/*
	 * Join this memcg instead of one of the VMM's own (NULL): VMMs in
	 * one memcg share its limit, like QEMUs in one cgroup of a slice.
	 * The caller creates it (host_memcg_create), keeps it past
	 * vmm_destroy and destroys it; memcg_limit must be 0.  The reclaim
	 * and in_use then count the VMM's address space (mapped pages while
	 * it lives) instead of the memcg's usage.
	 */
	struct memcg *memcg;
	const struct vmm_image *image;	/* the SE image (protected boots) */
	/* Program for non-protected boots (diag 308 subcode 3, or the first
	 * boot with start_plain); NULL: such boots fail. */
	const char *plain_program;
	bool start_plain;		/* first boot non-protected */
	/* Reboots and resets honoured; the next request ends the VMM as a
	 * shutdown (like QEMU's -no-reboot after that many).  <0: no limit. */
	int max_reboots;
	uint64_t salt;			/* pattern salt; 0: random */
	/* How long vmm_wait() waits for the memory to come back after the
	 * exit before it reports -ETIMEDOUT; 0: a minute. */
	uint64_t reclaim_timeout_ms;
	/*
	 * async: the teardown helper's poll period.  Woken by the VMM's
	 * death, the helper checks once per period whether its parent is
	 * gone and sleeps in between.  0: VMM_HELPER_POLL_MS, QEMU's
	 * sleep(1); tests shorten it.
	 */
	uint64_t helper_poll_ms;
	/* Called for every event, in order, under the VMM's lock: it must not
	 * call back into this VMM.  May be NULL. */
	void (*on_event)(void *ctx, const struct vmm_event *ev);
	void *event_ctx;
};

#define VMM_MAX_CPUS 64
/* QEMU's teardown helper sleeps 1 s between its getppid() checks. */
#define VMM_HELPER_POLL_MS 1000

/*
 * Check a configuration against the host before anything starts: -EINVAL
 * (zero/unaligned sizes, zero or too many CPUs, no image), -E2BIG (guest
 * or image larger than memory allows), with a one-line message.
 */
int vmm_config_check(const struct vmm_env *env, const struct vmm_config *cfg,
		     char *err, size_t errlen) __must_check;
/*
 * What the VMM's memory cgroup must allow for the first protected boot of
 * @cfg to reach the guest's first instruction: the image's pages, the
 * UV's donated storage, SIE blocks and page tables (vmm_config_check
 * refuses a memcg_limit below it).  The program's own memory comes on top.
 */
uint64_t vmm_boot_min_bytes(const struct vmm_env *env,
			    const struct vmm_config *cfg);

/*
 * Fork a VMM from the host's shell task and start it: its main thread
 * creates the VM and boots the guest.  Everything after the fork is
 * reported through events and vmm_wait().
 */
int vmm_create(const struct vmm_env *env, const struct vmm_config *cfg,
	       struct vmm **out) __must_check;

/* Host-side requests (like QEMU's monitor): power the guest off, or an
 * external reset (re-IPL of the protected image).  Any thread, also while
 * another waits in vmm_wait(); -ESRCH once exiting. */
int vmm_request_shutdown(struct vmm *vmm) __must_check;
int vmm_request_reset(struct vmm *vmm) __must_check;
/* SIGKILL the VMM process (task_kill), recording the request time.  Any
 * thread, also while another waits in vmm_wait(); -ESRCH once that wait is
 * reaping the process. */
int vmm_kill(struct vmm *vmm) __must_check;

/* Wait until boot number @boot ran its first instruction: 0, or -ESRCH if
 * the VMM exits first. */
int vmm_wait_booted(struct vmm *vmm, unsigned int boot) __must_check;
/* Wait until round @round of boot @boot is reported done (-ESRCH as above). */
int vmm_wait_round(struct vmm *vmm, unsigned int boot,
		   unsigned int round) __must_check;

struct vmm_result {
	int exit_code;		/* 0 power-off, 1 error, TASK_EXIT_KILLED */
	bool killed;
	unsigned int boots;	/* guests started (first + reboots/resets) */
	uint64_t exit_latency_ns;
	uint64_t reclaim_ns;
	uint64_t reclaimed_frames;
	uint64_t leaked_frames;
	int error;		/* first guest/boot error, -errno; -EBADMSG:
				 * the image was refused (the UV's SE header
				 * or measurement checks, or the payload's
				 * checksum), the message names the check */
	char message[128];
	uint64_t io_pages;	/* pages the io device answered */
};

/*
 * The parent's wait: task_wait() on the VMM (EXIT event), then until every
 * frame it used is back and uncharged (RECLAIMED).  -ETIMEDOUT if reclaim
 * does not finish within vmm_config.reclaim_timeout_ms.  Once only.
 */
int vmm_wait(struct vmm *vmm, struct vmm_result *res) __must_check;
/* Free the handle (waits first if vmm_wait() was not called). */
void vmm_destroy(struct vmm *vmm);

/*
 * Teardown progress of one VMM, a snapshot any thread may take (also
 * while another waits in vmm_wait(), until vmm_destroy()):
 *   to_clean_bytes   memory still to clean before it is usable again.
 *                    While the VMM runs: the teardown work KVM has for
 *                    its address space (a reboot's walk still to go,
 *                    pages set aside; kvm_cleanup_progress()).  From the
 *                    shutdown request on (ending): every byte still
 *                    charged to the VMM -- all of it must be cleaned and
 *                    given back; 0 once reclaimed.
 *   in_use_bytes     memory charged to the VMM's memcg, less leaks
 *   all_pending_bytes, all_cleaned_bytes
 *                    the KVM module's totals over every VM: teardown
 *                    work pending, and pages cleaned since it loaded
 *   t_ns             when the snapshot was taken (hw_now_ns())
 * A rate is the difference of two snapshots' to_clean_bytes (or
 * all_cleaned_bytes) over their t_ns.
 */
struct vmm_cleanup_progress {
	uint64_t to_clean_bytes;
	uint64_t in_use_bytes;
	bool ending;
	uint64_t all_pending_bytes;
	uint64_t all_cleaned_bytes;
	uint64_t t_ns;
};
void vmm_cleanup_progress(struct vmm *vmm, struct vmm_cleanup_progress *out);

/* Snapshot of the timeline so far (valid until the next event or
 * vmm_destroy; call after vmm_wait for the full one). */
const struct vmm_event *vmm_events(struct vmm *vmm, size_t *nr);

/* The boot key of boot @boot (see vmm_pattern_word). */
uint64_t vmm_boot_key(const struct vmm *vmm, unsigned int boot);
/* The host reading guest RAM like QEMU would (mm_access on the guest-RAM
 * VMA: a secure page raises 0x3d and is exported first). */
int vmm_host_read_guest(struct vmm *vmm, uint64_t gaddr, void *buf,
			size_t len) __must_check;
int vmm_host_write_guest(struct vmm *vmm, uint64_t gaddr, const void *buf,
			 size_t len) __must_check;
struct task *vmm_task(const struct vmm *vmm);
struct memcg *vmm_memcg(const struct vmm *vmm);

#endif /* LAZYPV_VMM_H */
