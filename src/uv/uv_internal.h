/* SPDX-License-Identifier: MIT */
/*
 * uv_internal.h - the Ultravisor's private state, shared by the files of
 * src/uv/ and by nobody else.
 *
 * Locks, in the order they nest (outermost first):
 *
 *   uv->lock         (mutex) INIT state, UV base storage, the free list of
 *                    configuration objects and the live-config count.  Never
 *                    taken by per-page calls, and never taken while a config
 *                    lock is held (the reset and uv_check take it first).
 *   cfg->lock        (rwlock) one configuration.  Read side: every call that
 *                    uses the config without changing its shape (page
 *                    calls, unpack, share).  Write side: lifecycle changes
 *                    (create/destroy CPU, destroy config steps, params,
 *                    verify, resets, unshare-all).
 *   frame bit lock   bit 63 of uv->frames[pfn]; held across the transition
 *                    of one frame (including its clear or crypto).
 *   gpage bit lock   bit 63 of cfg->gpages[gidx].word; the per-guest-page
 *                    record (secure frame or export record).
 *   cfg->meas_lock   (mutex) the image measurement of one config.
 *
 * A per-page call thus costs: an uncontended read lock on its config's
 * rwlock, one or two bit locks and sharded stats -- no global lock.
 *
 * Configuration objects are type-stable: they live in one array for the
 * life of the UV and are recycled with a new handle, so a lookup may lock
 * any slot and then compare the handle.
 */
#ifndef LAZYPV_UV_INTERNAL_H
#define LAZYPV_UV_INTERNAL_H

#include "uv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/lib.h"

/* ---- the per-frame word ---- */

#define UVF_LOCK (1ULL << 63)
#define UVF_STATE_SHIFT 59		/* 4 bits: enum uv_frame_state */
#define UVF_STATE_MASK (0xfULL << UVF_STATE_SHIFT)
#define UVF_SHARED (1ULL << 58)
#define UVF_PINNED (1ULL << 57)
#define UVF_CFG_SHIFT 40		/* 17 bits: config object index */
#define UVF_CFG_MASK (0x1ffffULL << UVF_CFG_SHIFT)
#define UVF_GIDX_MASK ((1ULL << 40) - 1)	/* gaddr >> 12 */
#define UV_MAX_CFG_OBJS (1U << 17)

static inline enum uv_frame_state uvf_state(uint64_t w)
{
	return (enum uv_frame_state)((w & UVF_STATE_MASK) >> UVF_STATE_SHIFT);
}
static inline uint32_t uvf_cfg(uint64_t w)
{
	return (uint32_t)((w & UVF_CFG_MASK) >> UVF_CFG_SHIFT);
}
static inline uint64_t uvf_gidx(uint64_t w) { return w & UVF_GIDX_MASK; }
static inline uint64_t uvf_make(enum uv_frame_state s, uint32_t cfg,
				uint64_t gidx)
{
	return ((uint64_t)s << UVF_STATE_SHIFT) |
	       ((uint64_t)cfg << UVF_CFG_SHIFT) | (gidx & UVF_GIDX_MASK);
}
/* Host-owned: the UV has no claim on the frame. */
static inline bool uvf_is_host(uint64_t w)
{
	enum uv_frame_state s = uvf_state(w);

	return s == UV_FRAME_NONSECURE || s == UV_FRAME_EXPORTED;
}

/* Not hidden from the host view (what the UV may read as an operand). */
static inline bool uvf_host_accessible(uint64_t w)
{
	enum uv_frame_state s = uvf_state(w);

	return uvf_is_host(w) || s == UV_FRAME_ASCE ||
	       (s == UV_FRAME_SECURE && (w & UVF_SHARED));
}

/* ---- the per-guest-page record of a configuration ---- */

#define UVG_LOCK (1ULL << 63)
#define UVG_STATE_SHIFT 61
#define UVG_STATE_MASK (3ULL << UVG_STATE_SHIFT)
#define UVG_SHARED (1ULL << 60)	/* exported while shared: re-share */
#define UVG_PFN_MASK ((1ULL << 52) - 1)

enum uv_gpage_state { UVG_EMPTY = 0, UVG_SECURE = 1, UVG_EXPORTED = 2 };

struct uv_gpage {
	uint64_t word;		/* lock | state | pfn (secure frame / last
				 * exported frame, a hint) */
	uint64_t version;	/* export counter: freshness (never reset) */
	uint8_t tag[16];	/* GCM tag of the current export */
};

static inline enum uv_gpage_state uvg_state(uint64_t w)
{
	return (enum uv_gpage_state)((w & UVG_STATE_MASK) >> UVG_STATE_SHIFT);
}

/* ---- secure CPUs and configurations ---- */

struct uv_cpu {
	uint64_t handle;	/* 0: slot unused */
	hw_pfn_t stor_pfn;
	uint64_t stor_frames;
	hw_pfn_t state_pfn;
	uint8_t state;		/* PV_CPU_STATE_*, 0 = created, not set */
};

enum uv_cfg_state {
	UV_CFG_FREE = 0,
	UV_CFG_LIVE,
	UV_CFG_DESTROYING,	/* DESTROY_SEC_CONF returned cc 3 */
	UV_CFG_ZOMBIE,		/* fast-destroyed, secure pages remain */
};

#define UV_DIGEST_LEN 32
#define UV_XTS_KEY_LEN 64

struct uv_config {
	struct lpv_rwlock lock;
	uint32_t idx;
	enum uv_cfg_state state;	/* write: cfg->lock (write) */
	uint64_t handle;		/* atomic; 0 when not addressable */
	uint64_t asce;
	hw_pfn_t asce_pfn;
	uint64_t asce_frames;
	hw_pfn_t base_pfn;
	uint64_t base_frames;
	hw_pfn_t var_pfn;
	uint64_t var_frames;
	uint64_t mso, msl, sca;
	uint64_t nr_gpages;
	struct uv_gpage *gpages;
	uint8_t key[32];		/* export key (AES-256-GCM) */
	uint64_t nr_secure;		/* atomic: frames SECURE for it */
	uint64_t nr_shared;		/* atomic: of those, shared */
	uint32_t nr_cpus;		/* cfg->lock */
	struct uv_cpu *cpus;		/* [max_guest_cpu_id + 1] */
	uv_translate_fn translate;	/* cfg->lock (write to set) */
	void *translate_ctx;
	uint64_t destroy_cursor;	/* next gidx for DESTROY_SEC_CONF */
	bool reset_pending;		/* PREPARE_RESET until a CPU runs */
	/* image */
	bool params_set, verified;
	uint8_t xts_key[UV_XTS_KEY_LEN];
	uint8_t want_pld[UV_DIGEST_LEN], want_ald[UV_DIGEST_LEN],
		want_tld[UV_DIGEST_LEN];
	uint64_t want_pages, unpacked;
	uint64_t psw[2];
	struct lpv_mutex meas_lock;	/* the three running digests */
	EVP_MD_CTX *pld, *ald, *tld;
	struct uv_config *next_free;	/* uv->lock */
};

/* ---- sharded stats ---- */

enum uv_stat_id {
#define UV_STAT_ENUM(name, desc) UV_STAT_##name,
	UV_STATS(UV_STAT_ENUM)
#undef UV_STAT_ENUM
	UV_NR_STATS
};

#define UV_STAT_SHARDS 16
struct uv_stat_shard {
	uint64_t v[UV_NR_STATS];
	struct uv_cmd_stats cmd[UV_NR_CMDS];
} __attribute__((aligned(64)));

/* ---- the UV ---- */

struct uv {
	struct hw_machine *hw;
	struct uv_profile prof;
	uint64_t nr_frames;
	uint64_t *frames;		/* per-frame words (atomic) */

	struct lpv_mutex lock;		/* see the top of this file */
	bool initialised;		/* atomic reads; written under lock */
	bool cost_modelled;		/* the profile models any cost: data
					 * work is timed (uv_data_begin) */
	hw_pfn_t base_pfn;
	uint64_t base_frames;
	uint32_t nr_live_cfgs;		/* lock: counts against the limit */
	struct uv_config *free_cfgs;	/* lock */
	uint64_t handle_seq;		/* atomic; random start */

	uint32_t nr_cfg_objs;
	struct uv_config *cfgs;		/* type-stable, see above */

	uint8_t host_pub[UV_HOST_KEY_LEN];
	EVP_PKEY *host_key;
	EVP_CIPHER *gcm, *xts;
	EVP_MD *sha256;

	uint64_t inject_calls[UV_PROFILE_MAX_INJECT];	/* atomic */
	struct uv_stat_shard shards[UV_STAT_SHARDS];
};

/* One call in flight: what the handlers see. */
struct uv_call_ctx {
	struct uv_cb_header *cb;
	int cmd_idx;
	uint64_t guest_cpu;		/* uv_guest_call: caller's CPU handle */
	uint64_t extra_ns;		/* modelled cost beyond the fixed one */
	bool nonsecure;			/* export/destroy found the frame not
					 * secure: only the call's overhead
					 * (nonsecure_call_ns) is modelled */
};

typedef int (*uv_handler_fn)(struct uv *uv, struct uv_call_ctx *c);

/* Set rc/rrc and return the cc that goes with them. */
static inline int uv_rc(struct uv_cb_header *cb, uint16_t rc, uint16_t rrc)
{
	cb->rc = rc;
	cb->rrc = rrc;
	return rc == UVC_RC_EXECUTED ? UVC_CC_OK : UVC_CC_ERROR;
}
static inline int uv_ok(struct uv_cb_header *cb)
{
	return uv_rc(cb, UVC_RC_EXECUTED, 0);
}
/* The common ending of a command: @rc 0 means it executed. */
static inline int uv_done(struct uv_cb_header *cb, uint16_t rc)
{
	return uv_rc(cb, rc ? rc : UVC_RC_EXECUTED, 0);
}

/*
 * Data work (uv.c): the clears, encryption, decryption and hashing of the
 * call in flight on this thread are timed, so that uv_call_common() can
 * tell them from the call's own bookkeeping.  The modelled cost covers the
 * firmware's own time: the emulation's bookkeeping stands in for part of
 * it and runs inside it; data work comes on top.  Untimed (and free) when
 * the profile models no cost.
 */
extern _Thread_local bool uv_data_timed;
extern _Thread_local uint64_t uv_data_ns;
static inline uint64_t uv_data_begin(void)
{
	return uv_data_timed ? hw_now_ns() : 0;
}
static inline void uv_data_end(uint64_t t0)
{
	if (uv_data_timed)
		uv_data_ns += hw_now_ns() - t0;
}

/* stats (uv.c) */
struct uv_stat_shard *uv_stat_shard(struct uv *uv);
static inline void uv_stat_add(struct uv *uv, enum uv_stat_id id, int64_t d)
{
	atomic_add_relaxed(&uv_stat_shard(uv)->v[id], (uint64_t)d);
}

/* addresses (uv_frame.c) */
static inline bool uv_paddr_ok(const struct uv *uv, uint64_t paddr,
			       uint64_t len)
{
	uint64_t mem = uv->nr_frames << HW_PAGE_SHIFT;

	return paddr < mem && len <= mem - paddr;
}
/* Home-space virtual address -> frame; HW_PFN_INVALID if outside memory. */
hw_pfn_t uv_virt_to_pfn(struct uv *uv, uint64_t vaddr);

/* frames (uv_frame.c) */
uint64_t uv_frame_lock(struct uv *uv, hw_pfn_t pfn);
static inline void uv_frame_unlock(struct uv *uv, hw_pfn_t pfn, uint64_t w)
{
	atomic_store_release(&uv->frames[pfn], w & ~UVF_LOCK);
}
static inline uint64_t uv_frame_peek(struct uv *uv, hw_pfn_t pfn)
{
	return atomic_load_acquire(&uv->frames[pfn]);
}
uint64_t uv_gpage_lock(struct uv_gpage *g);
static inline void uv_gpage_unlock(struct uv_gpage *g, uint64_t w)
{
	atomic_store_release(&g->word, w & ~UVG_LOCK);
}
static inline uint64_t uvg_make(enum uv_gpage_state s, hw_pfn_t pfn)
{
	return ((uint64_t)s << UVG_STATE_SHIFT) | (pfn & UVG_PFN_MASK);
}
/* Clear through the firmware view and count it. */
void uv_frame_clear(struct uv *uv, hw_pfn_t pfn);
/* Protect/unprotect in the host view; a failure is a machine fault the UV
 * cannot survive (the guarantee would silently break), hence BUG_ON. */
void uv_frame_hide(struct uv *uv, hw_pfn_t pfn);
void uv_frame_show(struct uv *uv, hw_pfn_t pfn);
/* Claim @n host-owned frames for the UV in state @s (all or nothing);
 * false if one is not host-owned.  Frames are protected. */
bool uv_frames_donate(struct uv *uv, hw_pfn_t pfn, uint64_t n,
		      enum uv_frame_state s, uint32_t cfg);
/* Clear, unprotect and return donated frames to the host. */
void uv_frames_release(struct uv *uv, hw_pfn_t pfn, uint64_t n);
bool uv_frames_are_host(struct uv *uv, hw_pfn_t pfn, uint64_t n);

/* configs (uv_config.c) */
#define UV_GET_READ 0
#define UV_GET_WRITE 1		/* cfg->lock for write */
#define UV_GET_DESTROYING 2	/* also a config DESTROY_SEC_CONF started */
/* Look up a live config by handle and lock it; NULL if the handle is not
 * (or no longer) valid. */
struct uv_config *uv_config_get(struct uv *uv, uint64_t handle, int flags);
void uv_config_put(struct uv_config *cfg, int flags);
/* Look up a secure CPU; its config is returned locked in *cfgp. */
struct uv_cpu *uv_cpu_get(struct uv *uv, uint64_t cpu_handle, int flags,
			  struct uv_config **cfgp);
uint64_t uv_handle_next(struct uv *uv);
/* Drop a zombie whose last secure page went away (no locks held). */
void uv_config_reap(struct uv *uv, struct uv_config *cfg);
void uv_configs_init(struct uv *uv);
void uv_configs_deinit(struct uv *uv);
/* Tear down every config and CPU (load-normal reset); uv->lock held. */
void uv_configs_reset_all(struct uv *uv);
/* One secure frame of @cfg leaves (destroy/export/transfer): drop the
 * counts and reap later if the config is a zombie.  Returns true when the
 * caller should call uv_config_reap() after unlocking. */
bool uv_config_drop_secure(struct uv *uv, struct uv_config *cfg,
			   uint64_t frame_word);

/* pages (uv_page.c): a guest address of @cfg (read-locked) to its frame,
 * through the config's translator.  0, or the rc to answer (0x102 beyond
 * the config's storage, 0x10a not mapped). */
uint16_t uv_gaddr_to_pfn(struct uv *uv, struct uv_config *cfg, uint64_t gaddr,
			 hw_pfn_t *pfn);

/* crypto (uv_crypto.c) */
int uv_crypto_init(struct uv *uv, const uint8_t *host_key) __must_check;
void uv_crypto_deinit(struct uv *uv);
int uv_crypto_random(void *buf, size_t len) __must_check;
/* Export: encrypt the frame in place; fills *tag. */
int uv_crypto_export(struct uv *uv, const uint8_t key[32], uint64_t gaddr,
		     uint64_t version, void *page, uint8_t tag[16]) __must_check;
/* Import: decrypt @page into @out if the tag verifies; -EBADMSG if not. */
int uv_crypto_import(struct uv *uv, const uint8_t key[32], uint64_t gaddr,
		     uint64_t version, const void *page, void *out,
		     const uint8_t tag[16]) __must_check;
int uv_crypto_xts(EVP_CIPHER *xts, const uint8_t key[UV_XTS_KEY_LEN],
		  const uint64_t tweak[2], const void *in, void *out,
		  bool encrypt) __must_check;
/* 4 KiB scratch page per thread (decrypt-before-verify). */
void *uv_crypto_scratch(void);

/* image header (uv_image.c) */
struct uv_image_secrets {
	uint8_t xts_key[UV_XTS_KEY_LEN];
	uint8_t pld[UV_DIGEST_LEN], ald[UV_DIGEST_LEN], tld[UV_DIGEST_LEN];
	uint64_t nr_pages;
	uint64_t psw[2];
};
/* Parse and open a header.  0, or the SET_SEC_CONF_PARAMS rc to return. */
uint16_t uv_image_open(struct uv *uv, const uint8_t *hdr, size_t len,
		       struct uv_image_secrets *out);
/* Extend @cfg's running digests (cfg->meas_lock held). */
void uv_image_measure_page(struct uv_config *cfg, uint64_t gaddr,
			   const uint64_t tweak[2], const void *plain);
#define UV_SSC_RC_BAD_FORMAT 0x0104
#define UV_SSC_RC_BAD_INTEGRITY 0x0106
#define UV_SSC_RC_NO_KEY_SLOT 0x0108

/* The handlers, one per row of UV_CMDS (uv.h); the resets share one. */
#define UV_CMD_HANDLER(id, code, name, bit, len, guest, early, cost, fn) \
	int uv_do_##fn(struct uv *uv, struct uv_call_ctx *c);
UV_CMDS(UV_CMD_HANDLER)
#undef UV_CMD_HANDLER

/* The rows of UV_CMDS as data (uv.c). */
struct uv_cmd_desc {
	uint16_t cmd;
	const char *name;	/* profile key, stats name */
	int bit;		/* QUI bit, -1 if none */
	uint16_t len;		/* exact header.len (QUI: minimum) */
	bool guest;		/* issued by a protected guest */
	bool before_init;	/* allowed before INIT (QUI, INIT) */
	uint64_t default_cost_ns;
	uv_handler_fn fn;
};
extern const struct uv_cmd_desc uv_cmds[UV_NR_CMDS];

#endif /* LAZYPV_UV_INTERNAL_H */
