/* SPDX-License-Identifier: MIT */
/*
 * lazypv.h - the public API of lazypv: a host (a machine with its
 * Ultravisor firmware, host memory manager and KVM module) and the
 * protected VMs it runs, each VM a VMM process that boots, reboots and
 * shuts down a protected guest and is torn down by one of the teardown
 * designs (sync, sync-6.0, lazy, async, ...).  The program embedding it
 * (a scheduler simulation, a test rig, the `lazypv` tool) sees opaque
 * handles and plain value structs; nothing of the layers below leaks
 * through this header, which needs only <stddef.h>, <stdint.h> and
 * <stdbool.h>.
 *
 * Errors.  Every call that can fail returns 0 (or a count) on success and
 * a negative errno on failure, never a positive value; the codes a call
 * can return are listed with it.  lpv_strerror() names a code;
 * lpv_last_error() (this thread's last failed call) and
 * lpv_host_last_error()/lpv_vm_last_error() (the handle's last failed
 * call) give the one-line detail, e.g. the line of a firmware profile that
 * did not parse.  Bad arguments (NULL handles or out-pointers, unknown
 * names, sizes out of range) are errors (-EINVAL etc.), never crashes.
 *
 * Threads.  Every call may be made from any thread, concurrently, on the
 * same or different handles, except the destroy calls: nothing else may
 * use a handle while, or after, it is destroyed.  Event callbacks run on
 * the host's event thread, one at a time, in the order the events
 * happened; a callback may call any lpv_* function except
 * lpv_host_destroy() of its own host (it may destroy its own VM).
 *
 * Times are CLOCK_MONOTONIC nanoseconds; sizes are bytes.  Long-form
 * documentation: lazypv(3), docs/api.md.
 */
#ifndef LAZYPV_LAZYPV_H
#define LAZYPV_LAZYPV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols the shared library exports (it exports nothing else). */
#if defined(__GNUC__) || defined(__clang__)
#define LPV_API __attribute__((visibility("default")))
#else
#define LPV_API
#endif

/* ====================================================================
 * version
 * ==================================================================== */

/* The version of this header.  The shared library's SONAME changes with
 * LAZYPV_VERSION_MAJOR (and, while it is 0, with LAZYPV_VERSION_MINOR). */
#define LAZYPV_VERSION_MAJOR 0
#define LAZYPV_VERSION_MINOR 2
#define LAZYPV_VERSION_PATCH 0
#define LAZYPV_VERSION "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define LAZYPV_VERSION_NUMBER                                           \
	(LAZYPV_VERSION_MAJOR * 10000 + LAZYPV_VERSION_MINOR * 100 +   \
	 LAZYPV_VERSION_PATCH)

/* The version of the library linked in: "0.2.0" and its number. */
LPV_API const char *lpv_version(void);
LPV_API unsigned int lpv_version_number(void);

/* ====================================================================
 * errors
 * ==================================================================== */

/* A short description of a negative errno (0: "Success"; any value,
 * positive or unknown, gets a string).  The string is static. */
LPV_API const char *lpv_strerror(int err);
/*
 * The one-line message of the last lpv_* call on this thread that failed
 * ("" if none has).  The string belongs to the thread and stays valid
 * until its next lpv_* call.
 */
LPV_API const char *lpv_last_error(void);

/* Wait forever (the timeout_ms argument of the wait calls). */
#define LPV_WAIT_FOREVER UINT64_MAX

/* The page (frame) size: every byte count below is a multiple of it. */
#define LPV_PAGE_SIZE ((uint64_t)4096)

/* ====================================================================
 * the host
 * ==================================================================== */

struct lpv_host;
struct lpv_vm;

struct lpv_host_config {
	/* Host physical memory.  Frames are populated only as they are
	 * used.  Default 3 GiB (the UV's storage lies above 2 GiB). */
	uint64_t mem_bytes;
	/* Firmware (Ultravisor) profile: a built-in name ("default", "zero",
	 * "old") or the path of a profile file.  NULL: the environment's
	 * LAZYPV_UV_PROFILE, else "default". */
	const char *profile;
	/* KVM module parameters as "name=value" strings (e.g.
	 * "lazy_destroy=0", "clear_low=1G"), NULL-terminated; NULL: defaults
	 * and the LAZYPV_KVM_* environment.  lpv_param_name() lists them. */
	const char *const *params;
	/* Seed of the UV's host key: images built by `lazypv mkimage
	 * --uv-seed S` boot on a host created with seed S.  NULL:
	 * LPV_DEFAULT_SEED. */
	const char *seed;
};

/* The host-key seed of a host whose configuration names none. */
#define LPV_DEFAULT_SEED "lazypv"

/* Fill @cfg with the defaults above. */
LPV_API void lpv_host_config_init(struct lpv_host_config *cfg);

/*
 * Bring a host up: machine, UV (INIT_UV), host memory manager, KVM module.
 *   -EINVAL   NULL argument, bad size, malformed profile or parameter
 *   -ENOENT   no such profile (neither a built-in name nor a file), or
 *             no such module parameter
 *   -ERANGE   a parameter out of its range
 *   -E2BIG    the memory cannot hold the UV's storage
 *   -ENOMEM   out of (real) memory
 * The message (lpv_last_error) says which part failed and why.
 */
LPV_API int lpv_host_create(const struct lpv_host_config *cfg,
			    struct lpv_host **out);
/*
 * Tear the host down: every VM still running is killed, every cleanup is
 * waited for, every VM handle still open is destroyed.  NULL is a no-op.
 */
LPV_API void lpv_host_destroy(struct lpv_host *host);
/* The host's last failed call's message ("" if none); valid on this
 * thread until its next lpv_* call. */
LPV_API const char *lpv_host_last_error(struct lpv_host *host);
/*
 * Run the layers' invariant checkers (frame conservation, UV state, ...).
 * Meaningful when nothing runs: every VM exited and cleaned.
 *   -EUCLEAN  an invariant does not hold (details on stderr)
 *   -EBUSY    a VM is running or being cleaned
 */
LPV_API int lpv_host_check(struct lpv_host *host);

/*
 * Wait until every VM that has exited, or was asked to (lpv_vm_shutdown,
 * lpv_vm_kill, lpv_vm_destroy), is cleaned up -- its memory back in the
 * free pool and uncharged, and no background teardown (KVM cleanup
 * threads, async helpers) left -- or @timeout_ms passed.  VMs running
 * with no such request do not count (a guest that powers itself off
 * counts from its exit).  0, -ETIMEDOUT, -EINVAL.
 */
LPV_API int lpv_host_wait_cleanup(struct lpv_host *host, uint64_t timeout_ms);

/* Module parameter @i (from 0) of lpv_host_config.params, NULL past the
 * last; its default is written to *def if @def is not NULL. */
LPV_API const char *lpv_param_name(unsigned int i, uint64_t *def);

/* ====================================================================
 * host keys, images and guest programs
 * ==================================================================== */

/* Bytes of a UV host key (its public half: what images are built for). */
#define LPV_HOST_KEY_LEN 32

/* The public half of the host key a host created with @seed (NULL:
 * LPV_DEFAULT_SEED) has.  0, -EINVAL (NULL @key), or the derivation's
 * error. */
LPV_API int lpv_host_key_from_seed(const char *seed,
				   uint8_t key[LPV_HOST_KEY_LEN]);
/* 64 hex digits into a public key: 0 or -EINVAL. */
LPV_API int lpv_host_key_parse(const char *hex, uint8_t key[LPV_HOST_KEY_LEN]);
/* The public half of @host's key: 0 or -EINVAL. */
LPV_API int lpv_host_key(struct lpv_host *host, uint8_t key[LPV_HOST_KEY_LEN]);

/*
 * A protected-guest (SE) image: a file header, the SE header the UV opens,
 * then the encrypted pages -- page 0 names the guest program, the rest is
 * a payload ("the kernel").  An image is built for one host key and boots
 * only on a host with that key.  A handle is read-only once made: many VMs
 * (lpv_vm_config.image) and threads may use it at once; it must outlive
 * every VM created from it.
 */
struct lpv_image;

/* The default payload of a built image: a deterministic blob. */
#define LPV_DEFAULT_PAYLOAD_BYTES (4ULL << 20)

struct lpv_image_spec {
	const char *program;	/* "NAME[:key=value,...]" (required) */
	const void *payload;	/* NULL: a deterministic blob of ... */
	size_t payload_len;	/* ... payload_len bytes of @payload */
	uint64_t payload_bytes;	/* the blob's size; 0: the default */
	uint64_t nonce;		/* the image's nonce; 0: random */
};

/*
 * Build an image of @spec for the host key @key, and check it parses.
 *   -EINVAL   NULL argument, bad program spec
 *   -ENOENT   unknown program
 *   -E2BIG    payload too large
 *   -ENOMEM
 */
LPV_API int lpv_image_build(const struct lpv_image_spec *spec,
			    const uint8_t key[LPV_HOST_KEY_LEN],
			    struct lpv_image **out);
/*
 * Read and check an image file (`lazypv mkimage`).  Every field is
 * checked, never trusted; the message names the one that is wrong.
 *   -EINVAL (malformed, truncated), -EBADMSG (checksum),
 *   -EPROTONOSUPPORT (format version), or -errno of the file
 */
LPV_API int lpv_image_load(const char *path, struct lpv_image **out);
/* NULL is a no-op. */
LPV_API void lpv_image_destroy(struct lpv_image *img);

struct lpv_image_info {
	uint64_t bytes;		/* the whole image */
	uint64_t pages;		/* encrypted pages (page 0 and the payload) */
	uint64_t se_header_bytes;
	uint64_t guest_end;	/* guest memory the image occupies */
	uint8_t host_key[LPV_HOST_KEY_LEN]; /* the key it was built for */
};
/* 0 or -EINVAL. */
LPV_API int lpv_image_info(const struct lpv_image *img,
			   struct lpv_image_info *out);
/* The image's bytes (what an image file holds), valid as long as @img;
 * NULL for a NULL handle. */
LPV_API const void *lpv_image_data(const struct lpv_image *img, size_t *len);

/* The guest programs' names: "touch, idle, memtest, io" (static). */
LPV_API const char *lpv_program_names(void);
/*
 * Check a program spec "NAME[:key=value,...]" (lazypv(1) lists the keys):
 * 0, -ENOENT (unknown program), -EINVAL (bad or unknown argument),
 * -ENAMETOOLONG; the message says what is wrong.
 */
LPV_API int lpv_program_check(const char *spec);
/*
 * The same, and whether the program's memory (at=, mib=, io's pages per
 * vCPU) fits a guest of @guest_mem bytes with @cpus vCPUs whose image
 * fills its first @image_pages pages: -ENOSPC with the reason if not.
 */
LPV_API int lpv_program_check_fit(const char *spec, uint64_t guest_mem,
				  unsigned int cpus, uint64_t image_pages);

/* ====================================================================
 * teardown modes
 * ==================================================================== */

/*
 * The teardown designs, by name:
 *   "sync"      before the lazy-destroy series: the memory first, export
 *               at exit
 *   "sync-6.0"  Linux 6.0: the configuration first, destroy at exit
 *   "lazy"      the seed (v2): KVM cleanup threads, set-aside pages at
 *               exit, an OOM notifier
 *   "async"     Linux 6.2 + QEMU 8: PREPARE/PERFORM from a VMM thread,
 *               a teardown helper process at shutdown
 *   "instant"   lazypv's own: O(1) restart and exit, parallel cleanup
 *               workers charged to the owner (docs/instant.md)
 * and any later ones.  lpv_teardown_mode_name(i) lists them (NULL past the
 * last).  The module's parameters may fence a mode (lazy_destroy=0 turns
 * lazy into sync); the VM's events say so.
 */
LPV_API const char *lpv_teardown_mode_name(unsigned int i);
/* How many modes lpv_teardown_mode_name() lists, for sizing tables at
 * compile time (the library of the same version has exactly these). */
#define LPV_TEARDOWN_MODES 5

/* ====================================================================
 * events
 * ==================================================================== */

enum lpv_event_type {
	LPV_EVENT_BOOT_START = 1, /* a guest is being set up (boot n) */
	LPV_EVENT_UNPACKED,	/* the image is unpacked and verified */
	LPV_EVENT_BOOTED,	/* the guest's first instruction; latency:
				 * since the boot started (first boot) or the
				 * reboot request (restart latency) */
	LPV_EVENT_ROUND,	/* the guest program finished a round */
	LPV_EVENT_REBOOT,	/* reboot requested: by the guest (diag 308,
				 * subcode) or the host (external reset) */
	LPV_EVENT_UNPROTECTED,	/* the old protected guest is torn down
				 * (or handed to background cleanup) */
	LPV_EVENT_SHUTDOWN,	/* shutdown requested: power-off, host, kill */
	LPV_EVENT_ERROR,	/* the guest or a boot step failed: code */
	LPV_EVENT_EXIT,		/* the VMM process exited: code; latency:
				 * since the shutdown request */
	LPV_EVENT_CLEANUP_DONE,	/* every frame of the VM is back and
				 * uncharged: code 0, or -ETIMEDOUT */
	LPV_EVENT_REBOOT_CLEANED, /* async: a guest set aside at a reboot
				 * was cleaned in the background */
	LPV_EVENT_HELPER_EXIT,	/* async: the teardown helper process
				 * finished the last of the VM's memory */
	LPV_EVENT_NOTE,		/* something worth knowing: message */
};

/* lpv_event.subcode of a reboot the host asked for (lpv_vm_reboot). */
#define LPV_REBOOT_HOST 0x100

/* "booted", "exit", ... (NULL for a value not in the enum). */
LPV_API const char *lpv_event_name(enum lpv_event_type type);

struct lpv_event {
	enum lpv_event_type type;
	struct lpv_vm *vm;	/* the VM it happened to */
	uint64_t seq;		/* per VM, from 0, without gaps unless
				 * dropped says otherwise */
	uint64_t t_ns;		/* when (CLOCK_MONOTONIC) */
	unsigned int boot;	/* 0 = the first boot */
	bool protected_guest;	/* the boot is a protected guest */
	uint64_t subcode;	/* REBOOT: diag 308 subcode, or
				 * LPV_REBOOT_HOST for a host-initiated
				 * reset */
	uint64_t latency_ns;	/* BOOTED, EXIT, CLEANUP_DONE (since the
				 * shutdown request), UNPACKED and
				 * UNPROTECTED (duration) */
	uint64_t bytes;		/* UNPACKED: image; EXIT: memory still
				 * charged to the VM; CLEANUP_DONE: memory
				 * reclaimed */
	uint64_t leaked_bytes;	/* CLEANUP_DONE: memory lost on purpose
				 * (counted leaks) since the VM started */
	unsigned int round;	/* ROUND */
	unsigned int polls;	/* HELPER_EXIT: the helper's checks whether
				 * the VMM was gone */
	int code;		/* EXIT: exit code; ERROR, CLEANUP_DONE:
				 * 0 or a negative errno */
	uint64_t dropped;	/* polled queue: events dropped (queue full)
				 * just before this one */
	char message[128];	/* ERROR, SHUTDOWN, NOTE: why */
};

/*
 * @ev as the `lazypv run` timeline prints it, without a newline: a
 * readable line ("  1.234s  boot 1   guest_start ..." with the time since
 * @t0_ns), or with @json one JSON object whose keys are the command's
 * output format ("guest_start", "reboot_request", "reclaimed", ...).
 * Writes at most @len bytes to @buf, NUL-terminated when @len > 0, and
 * returns the length the whole text has (snprintf's rule: a return >=
 * @len means it was cut), or -EINVAL for a NULL @ev or a type not in the
 * enum, -ENOMEM.
 */
LPV_API int lpv_event_format(const struct lpv_event *ev, uint64_t t0_ns,
			     bool json, char *buf, size_t len);

/* Called on the host's event thread for every event of a VM, in order. */
typedef void (*lpv_event_fn)(void *ctx, const struct lpv_event *ev);

/* ====================================================================
 * VMs
 * ==================================================================== */

/* Most vCPUs a VM may have. */
#define LPV_MAX_CPUS 64

struct lpv_vm_config {
	uint64_t guest_mem;	/* 1 MiB multiple; default 128 MiB */
	unsigned int cpus;	/* 1..LPV_MAX_CPUS; default 1 */
	/* Teardown mode by name (lpv_teardown_mode_name); NULL: "sync". */
	const char *teardown;
	/*
	 * The guest program "NAME[:key=value,...]" sealed into the image
	 * lazypv builds: idle (waits for the host), touch, memtest, io
	 * (lazypv(1), docs/vmm.md).  NULL: "idle".
	 */
	const char *program;
	/* Boot this image file (`lazypv mkimage`, same seed) instead of
	 * building one; program then only says whether the guest idles. */
	const char *image_file;
	/* Or boot this image (lpv_image_build/_load; it must outlive the
	 * VM, and may be shared); image_file must then be NULL. */
	const struct lpv_image *image;
	uint64_t payload_bytes;	/* built image's payload; 0: 4 MiB */
	/* The VMM's memory cgroup; 0: none.  At least lpv_vm_memcg_min(). */
	uint64_t memcg_limit;
	/* The program a non-protected boot runs (a guest's reboot with
	 * diag 308 subcode 3); NULL: such a boot fails. */
	const char *plain_program;
	/* Seed of the guest programs' data patterns; 0: random. */
	uint64_t salt;
	/* How long after the exit the memory may take to come back before
	 * the cleanup counts as failed (-EIO); 0: 10 minutes. */
	uint64_t reclaim_timeout_ms;
	/* async: the teardown helper's poll period (QEMU sleeps 1 s between
	 * its checks whether the VMM is gone); 0: 1000 ms. */
	uint64_t helper_poll_ms;
	/* Reboots the guest may ask for itself before the next one ends it
	 * as a shutdown; -1: no limit (the default).  Host reboots
	 * (lpv_vm_reboot) count too. */
	int max_reboots;
	/* Per-VM callback (NULL: none) and its context. */
	lpv_event_fn on_event;
	void *event_ctx;
	/* Capacity of the VM's polled event queue (lpv_vm_event_poll);
	 * 0: no queue.  A full queue drops the oldest event. */
	unsigned int event_queue;
};

/* Fill @cfg with the defaults above. */
LPV_API void lpv_vm_config_init(struct lpv_vm_config *cfg);
/*
 * The least memcg_limit lpv_vm_create accepts for @cfg on @host: what the
 * first protected boot charges up to the guest's first instruction (the
 * image, the UV's storage for the guest, page tables).  The program's own
 * memory comes on top.  0 (*out set), or an error of lpv_vm_create's
 * (the image is built or loaded to know its size).
 */
LPV_API int lpv_vm_memcg_min(struct lpv_host *host,
			     const struct lpv_vm_config *cfg, uint64_t *out);

/*
 * Define a VM on @host: check the configuration against the host and
 * build (or load) its image.  Nothing runs until lpv_vm_boot().
 *   -EINVAL   NULL argument, bad size/CPU count, unknown teardown mode,
 *             bad program spec, malformed image file
 *   -ENOENT   unknown program, no such image file
 *   -E2BIG    the guest (or its image) does not fit the host or the UV
 *   -EKEYREJECTED  the image was built for another host key (seed)
 */
LPV_API int lpv_vm_create(struct lpv_host *host,
			  const struct lpv_vm_config *cfg, struct lpv_vm **out);
/*
 * Start the VMM process and wait until the protected guest ran its first
 * instruction.  Once per VM.
 *   -EALREADY  booted before
 *   -ESRCH     the VMM exited before the guest ran (the message says why)
 *   -ENOMEM    no memory for the VMM
 */
LPV_API int lpv_vm_boot(struct lpv_vm *vm);
/*
 * Reboot the guest from the host (an external reset: the protected guest
 * is torn down the VM's way and a new one started from the image), and
 * wait until the new guest runs.
 *   -EINVAL  not booted;  -ESRCH  the VMM has exited or exits instead
 *   (reboot limit reached, a failure: see the message)
 */
LPV_API int lpv_vm_reboot(struct lpv_vm *vm);
/* Ask the guest to power off; does not wait (lpv_vm_wait does).
 * -EINVAL not booted; -ESRCH already exiting. */
LPV_API int lpv_vm_shutdown(struct lpv_vm *vm);
/* SIGKILL the VMM process; does not wait.  -EINVAL not booted; -ESRCH
 * already exited. */
LPV_API int lpv_vm_kill(struct lpv_vm *vm);

struct lpv_vm_exit {
	int code;		/* 0 power-off, 1 failure, 137 killed */
	bool killed;
	unsigned int boots;	/* guests started: first boot + reboots */
	uint64_t exit_latency_ns; /* shutdown request -> exit seen */
	int error;		/* first guest/boot failure, -errno, or 0 */
	char message[128];	/* what it was */
};
/*
 * Wait until the VMM process has exited (its memory may still be being
 * cleaned: lpv_vm_wait_cleanup), or @timeout_ms passed.  @out may be NULL.
 *   -EINVAL  not booted;  -ETIMEDOUT
 */
LPV_API int lpv_vm_wait(struct lpv_vm *vm, uint64_t timeout_ms,
			struct lpv_vm_exit *out);
/*
 * Wait until the VM has exited and all its memory is cleaned (back in the
 * pool, uncharged), or @timeout_ms passed.
 *   -EINVAL  not booted;  -ETIMEDOUT;  -EIO  the cleanup did not finish
 *   within the VMM's own limit (the memory is counted as stuck)
 */
LPV_API int lpv_vm_wait_cleanup(struct lpv_vm *vm, uint64_t timeout_ms);

/* The whole life of a VM, once it is cleaned up. */
struct lpv_vm_result {
	struct lpv_vm_exit exit;	/* as lpv_vm_wait gives it */
	uint64_t reclaim_ns;		/* shutdown request -> every frame
					 * back and uncharged */
	uint64_t reclaimed_bytes;	/* what came back */
	uint64_t leaked_bytes;		/* lost on purpose (counted leaks) */
	int cleanup_error;		/* 0, or -EIO: not within the limit */
};
/*
 * The result of a VM that is cleaned up (lpv_vm_wait_cleanup returned, or
 * lpv_vm_state says LPV_VM_CLEANED).
 *   -EINVAL  NULL argument, not booted;  -EBUSY  not cleaned up yet
 */
LPV_API int lpv_vm_result(struct lpv_vm *vm, struct lpv_vm_result *out);
/*
 * The VM's timeline, once it is cleaned up: every event it had, in order,
 * as its callbacks and queue saw them (seq i is entry i; dropped is 0).
 * Copies up to @cap events into @evs (NULL with @cap 0 to count) and
 * returns how many there are.
 *   -EINVAL  NULL VM, not booted;  -EBUSY  not cleaned up yet
 */
LPV_API long lpv_vm_timeline(struct lpv_vm *vm, struct lpv_event *evs,
			     size_t cap);
/*
 * Release the handle.  A VM still running is killed first; its cleanup
 * goes on in the background (lpv_host_wait_cleanup and the host's
 * progress still count it).  The callbacks of events that already
 * happened run before this returns, and none runs after -- called from
 * the VM's own callback, the callbacks stop after the current one.  NULL
 * is a no-op.
 */
LPV_API void lpv_vm_destroy(struct lpv_vm *vm);
/* The VM's last failed call's message ("" if none); as above. */
LPV_API const char *lpv_vm_last_error(struct lpv_vm *vm);

enum lpv_vm_state {
	LPV_VM_CREATED = 1,	/* defined, not booted */
	LPV_VM_RUNNING,		/* the VMM process is alive */
	LPV_VM_CLEANING,	/* exited, memory still being cleaned */
	LPV_VM_CLEANED,		/* exited, everything back */
};
/* The VM's state, or -EINVAL for a NULL handle. */
LPV_API int lpv_vm_state(struct lpv_vm *vm);
/* "created", "running", "cleaning", "cleaned" (NULL otherwise). */
LPV_API const char *lpv_vm_state_name(int state);
/* The teardown mode asked for, e.g. "sync" (a NOTE event says when the
 * module's fences run the VM another way); NULL for a NULL handle. */
LPV_API const char *lpv_vm_teardown(struct lpv_vm *vm);

/*
 * Take the VM's next event from its polled queue (lpv_vm_config.
 * event_queue), waiting up to @timeout_ms for one.
 *   0 (*ev filled);  -EAGAIN  none and @timeout_ms 0;  -ETIMEDOUT;
 *   -ENODATA  the VM has no queue, or is cleaned and the queue is empty
 *   (no event will come);  -EINVAL
 */
LPV_API int lpv_vm_event_poll(struct lpv_vm *vm, struct lpv_event *ev,
			      uint64_t timeout_ms);

/* ====================================================================
 * progress and statistics
 * ==================================================================== */

struct lpv_progress {
	uint64_t pending_bytes;	/* memory still to clean */
	uint64_t cleaned_bytes;	/* cleaned since the teardown began */
	uint64_t rate_bytes_per_s; /* cleaning rate (0: nothing cleaning) */
	unsigned int cleaning;	/* VMs being cleaned now */
	bool ending;		/* the VM: shutting down or exited (its
				 * pending is then all it has left) */
	uint64_t in_use_bytes;	/* memory charged to the VM(s) now, less
				 * counted leaks */
	uint64_t t_ns;		/* when the snapshot was taken */
};
/*
 * Cleanup progress of one VM (while it runs: what its reboots left to
 * background cleanup, or a synchronous destroy in progress; after its
 * shutdown request: pending falls to 0 as its memory comes back;
 * cleaned_bytes and the average rate since its exit -- before the exit,
 * since a progress reader first saw it pending), or of the whole host
 * (the sum over its VMs; the rate of those cleaning now; ending false).
 * 0 or -EINVAL.
 */
LPV_API int lpv_vm_progress(struct lpv_vm *vm, struct lpv_progress *out);
LPV_API int lpv_host_progress(struct lpv_host *host, struct lpv_progress *out);

/* A snapshot of the host. */
struct lpv_stats {
	/* host memory, by use */
	uint64_t mem_bytes;
	uint64_t free_bytes;
	uint64_t guest_bytes;	/* user memory of the VMMs */
	uint64_t kernel_bytes;	/* page tables, KVM's own */
	uint64_t donated_bytes;	/* given to the UV */
	uint64_t set_aside_bytes; /* waiting for background cleanup */
	uint64_t leaked_bytes;	/* lost on purpose (counted) */
	/* VMs of this host */
	unsigned int vms;	/* handles open or still cleaning */
	unsigned int vms_running;
	unsigned int vms_cleaning;
	unsigned int cleanup_threads; /* KVM cleanup threads running */
	uint64_t vm_boots;	/* lpv_vm_boot successes */
	uint64_t guest_boots;	/* guests that ran (first boots + reboots) */
	uint64_t reboots;	/* reboot requests (guest and host) */
	uint64_t exits;		/* VMM exits */
	uint64_t cleanups_done;	/* VMs whose memory all came back */
	uint64_t cleanups_failed; /* VMs whose cleanup timed out */
	uint64_t pending_bytes;	/* lpv_host_progress's pending_bytes */
	/* the KVM module's work */
	uint64_t pv_enables;
	uint64_t pv_disables;
	uint64_t pages_destroyed;
	uint64_t pages_exported;
	uint64_t pages_set_aside;
	uint64_t pages_freed_by_cleanup_threads;
	uint64_t async_performs;
	uint64_t oom_kills;
};
/* 0 or -EINVAL. */
LPV_API int lpv_host_stats(struct lpv_host *host, struct lpv_stats *out);
/*
 * The same snapshot and every layer's full statistics as one JSON object
 * (stable key names: "lazypv" version, "api" with the lpv_stats fields,
 * "kvm", "mm", ...), as a malloc'd string the caller free()s; NULL on
 * failure (lpv_last_error says why: -EINVAL, -ENOMEM).
 */
LPV_API char *lpv_host_stats_json(struct lpv_host *host);

#ifdef __cplusplus
}
#endif

#endif /* LAZYPV_LAZYPV_H */
