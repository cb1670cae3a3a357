/* SPDX-License-Identifier: MIT */
/*
 * host.h - the host: the whole stack below the VMMs, built in one place.
 * The one header of src/host/ that the public API, the tools and the
 * scenario tests include.
 *
 * From one struct host_config -- machine size and protection, a firmware
 * profile (a value, not a file name), the memory manager's options, the
 * KVM module's parameters, the seed of the UV's host key -- host_create()
 * brings the layers up in boot order and host_destroy() takes them down in
 * reverse:
 *
 *   hw    the machine: host physical memory and its two views
 *   uv    the Ultravisor, with the profile and the host key
 *   mm    the host memory manager over the machine's frames
 *   kvm   the KVM module (QUI, INIT_UV, its handlers)
 *   shell the task every VMM is forked from
 *
 * Above it, vmm_create() takes host_vmm_env(); nothing else assembles
 * these layers (the layers' own unit tests excepted).
 *
 * The host also answers what the CLI would otherwise reach into the
 * layers for: one statistics snapshot of every layer (struct host_stats,
 * declared once as HOST_STAT_SECTIONS and printed as text or JSON from
 * it), the machine floor (what a 4 KiB clear and a guard lift cost now),
 * failure injection, memory pressure and the scan of free frames for
 * plaintext.
 *
 * A host is created and destroyed by one thread; between the two its
 * fields are read-only and every function here may be called from any
 * thread unless it says otherwise.  Errors are 0 or a negative errno;
 * functions with an @err buffer also write a one-line explanation there.
 * Design: docs/host.md.
 */
#ifndef LAZYPV_HOST_H
#define LAZYPV_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hw/hw.h"
#include "kvm/kvm.h"
#include "lazypv/compiler.h"
#include "mm/mm.h"
#include "uv/uv.h"
#include "vmm/vmm.h"

struct host;
struct json_t;

/* ====================================================================
 * configuration
 * ==================================================================== */

#define HOST_DEFAULT_MEM (4ULL << 30)	/* the UV's storage lies above 2 GiB */

struct host_config {
	uint64_t mem_bytes;		/* host physical memory, 4 KiB multiple */
	enum hw_protect_mode protect;
	bool populate;			/* back every frame up front (bench) */
	/*
	 * With populate: progress of the backing, on the creating thread,
	 * in bytes (hw_config.populate_progress: increasing, the last call
	 * with done == total == mem_bytes).  NULL: none.  The CLI draws its
	 * progress line from it.
	 */
	void (*populate_progress)(void *ctx, uint64_t done, uint64_t total);
	void *populate_ctx;
	struct uv_profile profile;	/* the firmware, by value */
	struct mm_config mm;		/* memory manager options */
	struct kvm_params kvm;		/* KVM module parameters */
	const char *uv_seed;		/* host key seed; NULL: VMM_DEFAULT_UV_SEED */
	/*
	 * A KVM module that cannot come up (INIT_UV finds no room for the
	 * UV's storage) leaves the host without PV support instead of failing
	 * host_create (`lazypv info` reports it).  Such a host has no
	 * host_vmm_env().
	 */
	bool pv_optional;
};

/*
 * Defaults: HOST_DEFAULT_MEM, protection auto, not populated, the built-in
 * "default" profile (host_profile_load(NULL) gives the one
 * $LAZYPV_UV_PROFILE names), the mm options and the KVM parameters from
 * their tables and LAZYPV_MM_* / LAZYPV_KVM_*.  Every field is filled
 * even on error: -EINVAL/-ERANGE for a refused environment variable (the
 * message, on stderr, names it).  A host_config must start here.
 */
int host_config_init(struct host_config *cfg) __must_check;
/* Print the options in force: the mm's, then the KVM module's tables. */
void host_config_print(const struct host_config *cfg, FILE *f);

/* ---- firmware profiles ---- */

/*
 * A built-in name ("default", "zero", "old") or a file path; NULL means
 * $LAZYPV_UV_PROFILE, else "default".  -ENOENT unknown, -EINVAL with the
 * file and line in @err, or -errno reading the file.
 */
int host_profile_load(const char *name_or_file, struct uv_profile *out,
		      char *err, size_t errlen) __must_check;
int host_profile_builtin(const char *name, struct uv_profile *out) __must_check;
/* Profile text (docs/uv.md's file format); @origin names it in errors. */
int host_profile_parse(const char *text, const char *origin,
		       struct uv_profile *out, char *err,
		       size_t errlen) __must_check;
void host_profile_print(const struct uv_profile *p, FILE *f);
/* Whether INIT_UV can find room for @p's UV storage in @mem_bytes. */
bool host_profile_init_fits(const struct uv_profile *p, uint64_t mem_bytes);
/* The modelled cost of one call of UV command @cmd (0 if unknown). */
uint64_t host_profile_cost_ns(const struct uv_profile *p, uint16_t cmd);
/* A UV command's name ("destroy_page"), "?" if unknown. */
const char *host_uv_cmd_name(uint16_t cmd);

/* ---- the machine, before there is one ---- */

/* "auto", "guard", "soft"; -EINVAL otherwise. */
int host_protect_mode_parse(const char *s,
			    enum hw_protect_mode *out) __must_check;
const char *host_protect_mode_name(enum hw_protect_mode mode);
/* The largest host memory the machine this runs on can back now
 * (MemAvailable, page-aligned). */
uint64_t host_backable_bytes(void);

/* ====================================================================
 * the host
 * ==================================================================== */

/*
 * Bring the stack up in boot order (hw, uv, mm, kvm, shell).  -EINVAL
 * (size 0 or unaligned), -E2BIG (more than this machine can back),
 * -EOPNOTSUPP (guard protection without kernel support), or a layer's
 * error; @err names the layer ("cannot create the KVM module: ...").
 */
int host_create(const struct host_config *cfg, struct host **out, char *err,
		size_t errlen) __must_check;
/* Every VMM must have been waited for and destroyed. */
void host_destroy(struct host *h);
/*
 * The layers' validators at a quiescent point (no VMM running, background
 * cleanup drained): mm_check, uv_check, hw_check.  0 or the first failure
 * (-EUCLEAN; the problem goes to stderr).
 */
int host_check(struct host *h) __must_check;
/* Wait until the KVM module's background cleanup (lazy, async) is done. */
void host_drain(struct host *h);

/* What vmm_create() needs; NULL for a host without PV support. */
const struct vmm_env *host_vmm_env(const struct host *h);
bool host_has_pv(const struct host *h);
const struct host_config *host_config(const struct host *h);
const struct uv_profile *host_profile(const struct host *h);
/* The public half of the UV's host key: what images are built for. */
const uint8_t *host_public_key(const struct host *h);
uint64_t host_mem_bytes(const struct host *h);
uint64_t host_nr_frames(const struct host *h);
/* The protection in force (auto resolved to guard or soft). */
enum hw_protect_mode host_protect_mode(const struct host *h);

/*
 * The layers themselves, for the scenario tests and the failure-point
 * sweep that reach one layer's observation points (uv_frame_query,
 * mm_fail_set...).  Tools do not use them.
 */
struct hw_machine *host_hw(const struct host *h);
struct uv *host_uv(const struct host *h);
struct mm_world *host_world(const struct host *h);
struct kvm_module *host_kvm(const struct host *h);	/* NULL without PV */

/* ====================================================================
 * statistics: one snapshot of every layer
 * ==================================================================== */

/*
 * The sections of a snapshot, in boot order: X(key, type, counters,
 * gauges, title).  @counters and @gauges are X(name, description) lists
 * of uint64_t fields of @type; the JSON object of a section is @key, its
 * members the field names.  Arrays (the mm's frames per use and leaks per
 * reason, the UV's per-command counters) follow a section's fields as
 * nested objects keyed by name.
 */
#define HOST_HW_GAUGES(X)						\
	X(protected_now, "frames protected in the host view now")
#define HOST_UV_GAUGES(X)
#define HOST_MM_GAUGES(X)						\
	X(nr_frames, "frames of host memory")				\
	X(nr_tasks, "tasks not yet reaped")				\
	X(nr_mms, "address spaces alive")
#define HOST_KVM_GAUGES(X)

#define HOST_STAT_SECTIONS(X)						\
	X(machine, struct hw_stats, HW_STATS, HOST_HW_GAUGES, "machine") \
	X(uv, struct uv_stats, UV_STATS, HOST_UV_GAUGES, "Ultravisor")	\
	X(mm, struct mm_stats, MM_STATS, HOST_MM_GAUGES, "host memory manager") \
	X(kvm, struct kvm_stats, KVM_STATS, HOST_KVM_GAUGES, "KVM module")

struct host_stats {
	uint64_t mem_bytes;		/* the machine's size */
	enum hw_protect_mode protect;	/* resolved */
	bool pv_host;			/* the KVM module is up (else kvm is 0) */
	char profile[UV_PROFILE_NAME_LEN];
#define HOST_STAT_SECTION_FIELD(key, type, counters, gauges, title) type key;
	HOST_STAT_SECTIONS(HOST_STAT_SECTION_FIELD)
#undef HOST_STAT_SECTION_FIELD
};

/* A snapshot (each layer's counters read under its own locks, not one
 * instant across layers). */
void host_stats_get(struct host *h, struct host_stats *out);
/* Only the UV's counters: safe under a VMM's event lock (no mm lock). */
void host_uv_stats_get(struct host *h, struct uv_stats *out);
/* KVM's background cleanups running now: lazy's threads, instant's jobs. */
unsigned int host_cleanups_running(struct host *h);
/* Only the machine's counters (the first-touch probe's among them): safe
 * under a VMM's event lock too. */
void host_hw_stats_get(struct host *h, struct hw_stats *out);
/* Time the first touch of each firmware-view clear (hw's probe, off by
 * default): what `lazypv bench` reports as stalls. */
void host_probe_first_touch(struct host *h, bool on);
/* The @q quantile (0..1) of the OOM-path allocation stalls in @st,
 * from the mm's histogram (an upper bound of the bucket it falls in). */
uint64_t host_stall_quantile_ns(const struct host_stats *st, double q);
/* One UV command's counters out of @st (zero if unknown). */
void host_uv_cmd_stats(const struct uv_stats *st, uint16_t cmd,
		       struct uv_cmd_stats *out);
/* Readable, one section after another: "name  value  description". */
void host_stats_print(const struct host_stats *st, FILE *f);
/*
 * The snapshot as a new JSON object: "host_mem", "protection",
 * "pv_host", "profile", then one object per section ("machine", "uv",
 * "mm", "kvm"; "kvm" only with pv_host).  NULL if out of memory.
 */
struct json_t *host_stats_json(const struct host_stats *st);
const char *host_leak_reason_name(unsigned int reason);	/* MM_LEAK_* */

/* ====================================================================
 * the machine floor
 * ==================================================================== */

/*
 * What one page's cleanup costs at the least on the machine this runs on,
 * measured now over a span of free frames larger than the caches: a 4 KiB
 * clear the way the UV does it (through the firmware view), and lifting a
 * frame's host-view protection the way the teardown walks do (batched).
 * Medians of a few passes.  -ENOMEM if the span cannot be allocated.
 * No VMM may be running.
 */
struct host_floor {
	double clear_ns;		/* per 4 KiB frame */
	double unprotect_ns;		/* per frame, batched guard lift */
};
int host_measure_floor(struct host *h, struct host_floor *out) __must_check;

/* ====================================================================
 * failure injection, pressure, plaintext
 * ==================================================================== */

/* mm_fail_set / mm_fail_seen on the host's memory manager. */
void host_fail_set(struct host *h, const struct mm_fail_config *cfg);
uint64_t host_fail_seen(struct host *h);

/*
 * Host memory pressure: a memcg of its own from which pages are taken and
 * given back in bulk (a process outside the VMMs that wants memory).
 * One thread uses a hog.
 */
struct host_hog;
int host_hog_create(struct host *h, const char *name,
		    struct host_hog **out) __must_check;
/* Take @nr more pages; @wait: through the OOM path if memory is short
 * (else fail at once).  0 or -ENOMEM (nothing taken). */
int host_hog_take(struct host_hog *hog, uint64_t nr, bool wait) __must_check;
uint64_t host_hog_held(const struct host_hog *hog);	/* pages */
void host_hog_release(struct host_hog *hog);		/* every page */
/* Release, then remove the memcg: -EBUSY if it is still in use. */
int host_hog_destroy(struct host_hog *hog);
/* Frames on the free list now. */
uint64_t host_free_frames(struct host *h);

/*
 * A memcg for VMMs to share (vmm_config.memcg): QEMUs in one cgroup with
 * one limit (@limit_bytes, 0: none).  Destroy it after every VMM in it
 * was destroyed and its memory came back: -EBUSY while still in use
 * (memcg_destroy; with only leaked pages charged it goes offline).
 */
int host_memcg_create(struct host *h, const char *name, uint64_t limit_bytes,
		      struct memcg **out) __must_check;
int host_memcg_destroy(struct memcg *memcg);
/* Its counters: usage, peak, OOM path entries, OOM kills... */
void host_memcg_stats(const struct memcg *memcg, struct memcg_stats *out);

/*
 * At a quiescent point: read every free frame through the host view and
 * ask @match whether its first or last word is one a protected guest
 * wrote.  A free frame still protected in the host view counts as found
 * (invariant 2); frames the OS never backed (mincore) were never written
 * and are skipped without faulting them in.  Every find is described on
 * @log.  Returns the frames found; *scanned the free frames read.
 */
uint64_t host_scan_free(struct host *h,
			bool (*match)(void *ctx, uint64_t word), void *ctx,
			uint64_t *scanned, FILE *log);
/* Write @word at the start of the highest free frame, as if it came back
 * uncleared (the test that the scan finds it): 0 or -ENOSPC. */
int host_plant_free(struct host *h, uint64_t word) __must_check;

#endif /* LAZYPV_HOST_H */
