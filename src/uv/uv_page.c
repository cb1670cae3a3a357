// SPDX-License-Identifier: MIT
/*
 * uv_page.c - the per-page calls: import (CONV_TO_SEC_STOR), export
 * (CONV_FROM_SEC_STOR), destroy page (DESTR_SEC_STOR), pin/unpin of shared
 * pages, and the guest's SET/REMOVE_SHARED_ACCESS.
 *
 * Threads: any number at once.  A call read-locks the one config involved
 * (found by handle, or through the frame's owner for paddr calls), then
 * the frame's bit lock, then the guest page's bit lock (uv_internal.h).
 * An import that must take a frame away from another config only
 * *try*-locks that config, answering cc 2 (busy) on contention, so two
 * configs are never waited for in opposite orders.
 *
 * Guarantees enforced here: a frame is hidden from the host (protected)
 * before it holds guest plaintext and cleared before it is shown again;
 * an exported page decrypts only at the guest address and export version
 * it was made for, so tampered, moved, replayed (older) or foreign copies
 * fail with rc 0x106 and leave everything as it was.
 */
#include "uv_internal.h"

/* Page-call rcs (our choices, docs/uv.md; 0x10a and 0x107/0x0d public). */
#define PG_RC_SHARE_RANGE 0x0101	/* guest share: beyond guest storage */
#define PG_RC_GADDR_RANGE 0x0102	/* gaddr beyond the config's storage */
#define PG_RC_NOT_GUEST_SECURE 0x0102	/* guest share: page not secure */
#define PG_RC_PADDR_RANGE 0x0103	/* paddr beyond memory */
#define PG_RC_OTHER_CONFIG 0x0104	/* frame secure for another config */
#define PG_RC_ALIAS 0x0105		/* frame/gaddr already paired otherwise */
#define PG_RC_INTEGRITY 0x0106		/* exported copy does not verify */
#define PG_RC_NOT_SHARED 0x0106		/* pin/unpin: page not shared */
#define PG_RC_UV_OWNED 0x0108		/* donated storage or marked table */
#define PG_RC_HAS_CPUS 0x0109		/* destroy: owner still has CPUs */

#define UV_OWNER_TRIES 8

/*
 * Lock @pfn for a paddr call, with its owner's config read-locked when it
 * is secure (owner first, then the frame, then re-check the owner).
 * -EAGAIN if the owner kept changing under us: the caller answers busy.
 */
static int uv_frame_lock_owner(struct uv *uv, hw_pfn_t pfn, uint64_t *wp,
			       struct uv_config **cfgp)
{
	for (int tries = 0; tries < UV_OWNER_TRIES; tries++) {
		uint64_t w = uv_frame_peek(uv, pfn);
		struct uv_config *cfg = NULL;

		if (uvf_state(w) == UV_FRAME_SECURE) {
			BUG_ON(uvf_cfg(w) >= uv->nr_cfg_objs);
			cfg = &uv->cfgs[uvf_cfg(w)];
			lpv_read_lock(&cfg->lock);
		}
		w = uv_frame_lock(uv, pfn);
		if (cfg ? (uvf_state(w) == UV_FRAME_SECURE &&
			   uvf_cfg(w) == cfg->idx)
			: uvf_state(w) != UV_FRAME_SECURE) {
			*wp = w;
			*cfgp = cfg;
			return 0;
		}
		uv_frame_unlock(uv, pfn, w);
		if (cfg)
			lpv_read_unlock(&cfg->lock);
	}
	return -EAGAIN;
}

static int uv_busy(struct uv_cb_header *cb)
{
	cb->rc = 0;
	cb->rrc = 0;
	return UVC_CC_BUSY;
}

/* Resolve a guest address of @cfg (read-locked) to a frame.  0 or rc. */
uint16_t uv_gaddr_to_pfn(struct uv *uv, struct uv_config *cfg, uint64_t gaddr,
			 hw_pfn_t *pfn)
{
	if ((gaddr >> HW_PAGE_SHIFT) >= cfg->nr_gpages)
		return PG_RC_GADDR_RANGE;
	if (!cfg->translate ||
	    cfg->translate(cfg->translate_ctx, gaddr & HW_PAGE_MASK, pfn) ||
	    *pfn >= uv->nr_frames)
		return UVC_RC_NOT_MAPPED;
	return 0;
}

/* Remove a secure frame from its config's books (frame and cfg locked).
 * The frame content must already be cleared or encrypted. */
static bool uv_page_leave(struct uv *uv, struct uv_config *cfg, hw_pfn_t pfn,
			  uint64_t w, enum uv_gpage_state gstate,
			  const uint8_t *tag, uint64_t version)
{
	struct uv_gpage *g = &cfg->gpages[uvf_gidx(w)];
	uint64_t gw = uv_gpage_lock(g);

	if (tag) {
		memcpy(g->tag, tag, sizeof(g->tag));
		g->version = version;
	}
	gw = uvg_make(gstate, pfn) | (gstate == UVG_EXPORTED && (w & UVF_SHARED) ?
				      UVG_SHARED : 0);
	uv_gpage_unlock(g, gw);
	if (!(w & UVF_SHARED))
		uv_frame_show(uv, pfn);
	return uv_config_drop_secure(uv, cfg, w);
}

/* Take a frame secure for @other (tried-locked) away: allowed with the
 * MISC feature when the owner cannot run (no CPUs) or shared the page. */
static uint16_t uv_import_transfer(struct uv *uv, struct uv_config *other,
				   hw_pfn_t pfn, uint64_t w, bool *reap)
{
	if (!(uv->prof.features & uv_bit_mask(BIT_UV_FEAT_MISC)))
		return PG_RC_OTHER_CONFIG;
	if (other->nr_cpus && !(w & UVF_SHARED))
		return PG_RC_OTHER_CONFIG;
	/* The data was another guest's: it never reaches this one. */
	uv_frame_clear(uv, pfn);
	*reap = uv_page_leave(uv, other, pfn, w, UVG_EMPTY, NULL, 0);
	uv_stat_add(uv, UV_STAT_imports_transfer, 1);
	return 0;
}

int uv_do_import(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_cts *cb = (struct uv_cb_cts *)c->cb;
	uint64_t gaddr = cb->gaddr & HW_PAGE_MASK, gidx = gaddr >> HW_PAGE_SHIFT;
	struct uv_config *cfg, *other = NULL;
	bool reap = false, shared = false;
	struct uv_gpage *g;
	uint64_t w, gw;
	hw_pfn_t pfn;
	uint16_t rc;

	cfg = uv_config_get(uv, cb->guest_handle, UV_GET_READ);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	rc = uv_gaddr_to_pfn(uv, cfg, gaddr, &pfn);
	if (rc)
		goto out_put;
	g = &cfg->gpages[gidx];
	w = uv_frame_lock(uv, pfn);
	switch (uvf_state(w)) {
	case UV_FRAME_NONSECURE:
	case UV_FRAME_EXPORTED:
		break;
	case UV_FRAME_SECURE:
		if (uvf_cfg(w) == cfg->idx) {
			/* Two faults on one page race to import it: the
			 * second finds the work done. */
			if (uvf_gidx(w) == gidx)
				uv_stat_add(uv, UV_STAT_imports_again, 1);
			else
				rc = PG_RC_ALIAS;
			goto out_unlock;
		}
		if (uvg_state(atomic_load_acquire(&g->word)) != UVG_EMPTY) {
			rc = PG_RC_ALIAS;
			goto out_unlock;
		}
		other = &uv->cfgs[uvf_cfg(w)];
		if (!lpv_read_trylock(&other->lock)) {
			uv_frame_unlock(uv, pfn, w);
			uv_config_put(cfg, UV_GET_READ);
			return uv_busy(c->cb);
		}
		rc = uv_import_transfer(uv, other, pfn, w, &reap);
		lpv_read_unlock(&other->lock);
		if (rc)
			goto out_unlock;
		w = 0;
		break;
	default:
		rc = PG_RC_UV_OWNED;
		goto out_unlock;
	}

	gw = uv_gpage_lock(g);
	switch (uvg_state(gw)) {
	case UVG_EMPTY:
		/* Hide first, then clear: no host store lands after the
		 * clear and is then seen by the guest. */
		uv_frame_hide(uv, pfn);
		uv_frame_clear(uv, pfn);
		uv_stat_add(uv, UV_STAT_imports_fresh, 1);
		break;
	case UVG_EXPORTED: {
		void *page = hw_fw_page(uv->hw, pfn), *plain = uv_crypto_scratch();

		if (uv_crypto_import(uv, cfg->key, gaddr, g->version, page,
				     plain, g->tag)) {
			rc = PG_RC_INTEGRITY;
			uv_stat_add(uv, UV_STAT_imports_bad, 1);
			uv_gpage_unlock(g, gw);
			goto out_unlock;
		}
		shared = gw & UVG_SHARED;
		if (!shared)
			uv_frame_hide(uv, pfn);
		memcpy(page, plain, HW_PAGE_SIZE);
		memset(plain, 0, HW_PAGE_SIZE);
		uv_stat_add(uv, UV_STAT_imports_decrypt, 1);
		break;
	}
	default:	/* the guest page is secure in another frame */
		rc = PG_RC_ALIAS;
		uv_gpage_unlock(g, gw);
		goto out_unlock;
	}
	uv_gpage_unlock(g, uvg_make(UVG_SECURE, pfn));
	w = uvf_make(UV_FRAME_SECURE, cfg->idx, gidx) | (shared ? UVF_SHARED : 0);
	atomic_add_return(&cfg->nr_secure, 1);
	if (shared)
		atomic_add_return(&cfg->nr_shared, 1);
	uv_stat_add(uv, UV_STAT_frames_secure, 1);
out_unlock:
	uv_frame_unlock(uv, pfn, w);
out_put:
	uv_config_put(cfg, UV_GET_READ);
	if (reap)
		uv_config_reap(uv, other);
	lpv_trace("UV IMPORT: handle %llx gaddr %llx pfn %llx rc %x",
		  (unsigned long long)cb->guest_handle, (unsigned long long)gaddr,
		  (unsigned long long)(rc == PG_RC_GADDR_RANGE ||
				       rc == UVC_RC_NOT_MAPPED ? 0 : pfn),
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

/* Shared start of export / destroy / pin: range, owner lock, host frames. */
static int uv_cfs_begin(struct uv *uv, struct uv_call_ctx *c, hw_pfn_t *pfn,
			uint64_t *w, struct uv_config **cfg, bool noop_ok)
{
	struct uv_cb_cfs *cb = (struct uv_cb_cfs *)c->cb;

	if (!uv_paddr_ok(uv, cb->paddr, 1))
		return uv_rc(c->cb, PG_RC_PADDR_RANGE, 0);
	*pfn = cb->paddr >> HW_PAGE_SHIFT;
	if (uv_frame_lock_owner(uv, *pfn, w, cfg))
		return uv_busy(c->cb);
	if (*cfg)
		return -1;	/* secure: the caller carries on */
	uv_frame_unlock(uv, *pfn, *w);
	if (uvf_is_host(*w)) {
		/* Export/destroy: the firmware looked the frame up and found
		 * nothing to do, which costs only the call's overhead -- the
		 * premise of 6.0's config-first order.  New firmware answers
		 * success; old rc 0x107 rrc 0x0d, which the kernel treats as
		 * success. */
		c->nonsecure = noop_ok;
		return noop_ok && uv->prof.nonsecure_noop ? uv_ok(c->cb) :
			uv_rc(c->cb, UVC_RC_NOT_SECURE, UVC_RRC_NOT_SECURE);
	}
	return uv_rc(c->cb, PG_RC_UV_OWNED, 0);
}

int uv_do_export(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_config *cfg;
	uint64_t w, gaddr, version;
	uint8_t tag[16];
	bool reap;
	hw_pfn_t pfn;
	int cc = uv_cfs_begin(uv, c, &pfn, &w, &cfg, true);

	if (cc >= 0)
		return cc;
	gaddr = uvf_gidx(w) << HW_PAGE_SHIFT;
	if (cfg->state == UV_CFG_ZOMBIE) {
		/* Nobody can import it back: encrypting under a key that is
		 * about to vanish is the same as clearing. */
		uv_frame_clear(uv, pfn);
		reap = uv_page_leave(uv, cfg, pfn, w, UVG_EMPTY, NULL, 0);
		uv_stat_add(uv, UV_STAT_exports_dead, 1);
		w = 0;
	} else {
		version = cfg->gpages[uvf_gidx(w)].version + 1;
		BUG_ON(uv_crypto_export(uv, cfg->key, gaddr, version,
					hw_fw_page(uv->hw, pfn), tag) != 0);
		reap = uv_page_leave(uv, cfg, pfn, w, UVG_EXPORTED, tag, version);
		uv_stat_add(uv, UV_STAT_exports, 1);
		w = uvf_make(UV_FRAME_EXPORTED, cfg->idx, uvf_gidx(w));
	}
	uv_frame_unlock(uv, pfn, w);
	lpv_read_unlock(&cfg->lock);
	if (reap)
		uv_config_reap(uv, cfg);
	lpv_trace("UV EXPORT: pfn %llx gaddr %llx rc %x",
		  (unsigned long long)pfn, (unsigned long long)gaddr,
		  UVC_RC_EXECUTED);
	return uv_ok(c->cb);
}

int uv_do_destroy_page(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_config *cfg;
	bool reap = false;
	uint16_t rc = 0;
	hw_pfn_t pfn;
	uint64_t w;
	int cc = uv_cfs_begin(uv, c, &pfn, &w, &cfg, true);

	if (cc >= 0)
		return cc;
	if (cfg->state != UV_CFG_ZOMBIE && cfg->nr_cpus) {
		rc = PG_RC_HAS_CPUS;	/* the guest could still use it */
	} else {
		uv_frame_clear(uv, pfn);
		reap = uv_page_leave(uv, cfg, pfn, w, UVG_EMPTY, NULL, 0);
		uv_stat_add(uv, UV_STAT_destroys, 1);
		w = 0;
	}
	uv_frame_unlock(uv, pfn, w);
	lpv_read_unlock(&cfg->lock);
	if (reap)
		uv_config_reap(uv, cfg);
	lpv_trace("UV DESTROY PAGE: pfn %llx rc %x", (unsigned long long)pfn,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

int uv_do_pin_shared(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_config *cfg;
	uint16_t rc = 0;
	hw_pfn_t pfn;
	uint64_t w;
	int cc = uv_cfs_begin(uv, c, &pfn, &w, &cfg, false);

	if (cc >= 0)
		return cc;
	if (w & UVF_SHARED)
		w |= UVF_PINNED;
	else
		rc = PG_RC_NOT_SHARED;
	uv_frame_unlock(uv, pfn, w);
	lpv_read_unlock(&cfg->lock);
	lpv_trace("UV PIN SHARED: pfn %llx rc %x", (unsigned long long)pfn,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

int uv_do_unpin_shared(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_cts *cb = (struct uv_cb_cts *)c->cb;
	uint64_t gidx = cb->gaddr >> HW_PAGE_SHIFT;
	struct uv_config *cfg;
	hw_pfn_t pfn;
	uint64_t w;
	uint16_t rc;

	cfg = uv_config_get(uv, cb->guest_handle, UV_GET_READ);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	rc = uv_gaddr_to_pfn(uv, cfg, cb->gaddr, &pfn);
	if (!rc) {
		w = uv_frame_lock(uv, pfn);
		if (uvf_state(w) != UV_FRAME_SECURE || uvf_cfg(w) != cfg->idx ||
		    uvf_gidx(w) != gidx || !(w & UVF_SHARED))
			rc = PG_RC_NOT_SHARED;
		else
			w &= ~UVF_PINNED;
		uv_frame_unlock(uv, pfn, w);
	}
	uv_config_put(cfg, UV_GET_READ);
	lpv_trace("UV UNPIN SHARED: handle %llx gaddr %llx rc %x",
		  (unsigned long long)cb->guest_handle,
		  (unsigned long long)cb->gaddr, rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

/* SET_SHARED_ACCESS / REMOVE_SHARED_ACCESS from the guest on c->guest_cpu. */
static int uv_guest_share(struct uv *uv, struct uv_call_ctx *c, bool share)
{
	struct uv_cb_share *cb = (struct uv_cb_share *)c->cb;
	uint64_t gaddr = cb->paddr & HW_PAGE_MASK, gidx = gaddr >> HW_PAGE_SHIFT;
	struct uv_config *cfg;
	int ret = UVC_CC_OK;
	uint16_t rc = 0;
	hw_pfn_t pfn;
	uint64_t w;

	if (!uv_cpu_get(uv, c->guest_cpu, UV_GET_READ, &cfg))
		return uv_rc(c->cb, UVC_RC_INV_CHANDLE, 0);
	if (gidx >= cfg->nr_gpages) {
		rc = PG_RC_SHARE_RANGE;
		goto out;
	}
	rc = uv_gaddr_to_pfn(uv, cfg, gaddr, &pfn);
	if (rc)
		goto out;
	w = uv_frame_lock(uv, pfn);
	/* The guest shares pages it owns: one it never touched is not
	 * secure yet (its first access would have imported it). */
	if (uvf_state(w) != UV_FRAME_SECURE || uvf_cfg(w) != cfg->idx ||
	    uvf_gidx(w) != gidx) {
		rc = PG_RC_NOT_GUEST_SECURE;
	} else if (share && !(w & UVF_SHARED)) {
		uv_frame_show(uv, pfn);
		w |= UVF_SHARED;
		atomic_add_return(&cfg->nr_shared, 1);
	} else if (!share && (w & UVF_PINNED)) {
		ret = UVC_GUEST_INTERCEPT;	/* the host unpins, re-drives */
	} else if (!share && (w & UVF_SHARED)) {
		uv_frame_hide(uv, pfn);
		w &= ~UVF_SHARED;
		atomic_sub_return(&cfg->nr_shared, 1);
	}
	uv_frame_unlock(uv, pfn, w);
out:
	uv_config_put(cfg, UV_GET_READ);
	lpv_trace("UV %s SHARED ACCESS: gaddr %llx rc %x%s",
		  share ? "SET" : "REMOVE", (unsigned long long)gaddr,
		  rc ? rc : UVC_RC_EXECUTED,
		  ret == UVC_GUEST_INTERCEPT ? " (intercept: pinned)" : "");
	if (rc)
		return uv_rc(c->cb, rc, 0);
	if (ret == UVC_GUEST_INTERCEPT) {
		c->cb->rc = 0;
		c->cb->rrc = 0;
		return ret;
	}
	return uv_ok(c->cb);
}

int uv_do_set_shared(struct uv *uv, struct uv_call_ctx *c)
{
	return uv_guest_share(uv, c, true);
}

int uv_do_remove_shared(struct uv *uv, struct uv_call_ctx *c)
{
	return uv_guest_share(uv, c, false);
}
