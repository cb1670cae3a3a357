// SPDX-License-Identifier: MIT
/*
 * uv_unpack.c - loading a protected image into a configuration:
 * SET_SEC_CONF_PARAMS (read the SE header from host memory, open it with
 * the UV's host key), UNPACK_IMG (decrypt one page into a secure frame and
 * extend the measurement) and VERIFY_IMG (compare the measurement with the
 * header's digests).  Until VERIFY succeeds no CPU of the config may be
 * started (uv_cpu.c).
 *
 * Threads: SET_SEC_CONF_PARAMS and VERIFY_IMG hold the config's lock for
 * write.  UNPACK_IMG is a page call: config read lock, frame and guest-page
 * bit locks, and cfg->meas_lock around the digest update only.  The digest
 * follows the order of the UNPACK calls, as the builder's does, so the
 * host must unpack in image order (KVM does, one page after the other).
 */
#include "uv_internal.h"

#include <openssl/crypto.h>

#define UV_SE_HDR_MAX (64 * 1024)

/* Our choices (docs/uv.md); 0x0103 and 0x0108 of SET_SEC_CONF_PARAMS and
 * 0x010a of UNPACK_IMG are public. */
#define SSC_RC_HDR_ACCESS 0x0103
#define SSC_RC_ALREADY_SET 0x0107
#define UNP_RC_GADDR_RANGE 0x0102
#define UNP_RC_NO_PARAMS 0x0103
#define UNP_RC_NOT_FREE 0x0104
#define UNP_RC_TOO_MANY 0x0105
#define VFY_RC_NO_PARAMS 0x0103
#define VFY_RC_MISMATCH 0x0104
/* VERIFY mismatch rrcs: which part of the measurement differed. */
#define VFY_RRC_PAGES 1
#define VFY_RRC_PLD 2
#define VFY_RRC_ALD 3
#define VFY_RRC_TLD 4

/* Copy a home-space range out of host memory; false if any page is
 * outside memory or not host-accessible (an operand-access rc, 0x0103,
 * not a program interruption: reference S3/S4). */
static bool uv_copy_from_virt(struct uv *uv, uint64_t vaddr, size_t len,
			      uint8_t *out)
{
	while (len) {
		size_t off = vaddr & ~HW_PAGE_MASK;
		size_t n = HW_PAGE_SIZE - off < len ? HW_PAGE_SIZE - off : len;
		hw_pfn_t pfn = uv_virt_to_pfn(uv, vaddr);

		if (pfn == HW_PFN_INVALID ||
		    !uvf_host_accessible(uv_frame_peek(uv, pfn)))
			return false;
		memcpy(out, (uint8_t *)hw_fw_page(uv->hw, pfn) + off, n);
		out += n;
		vaddr += n;
		len -= n;
	}
	return true;
}

int uv_do_set_params(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_ssc *cb = (struct uv_cb_ssc *)c->cb;
	struct uv_image_secrets sec;
	struct uv_config *cfg;
	uint8_t *hdr = NULL;
	uint16_t rc = 0;

	cfg = uv_config_get(uv, cb->guest_handle, UV_GET_WRITE);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (cfg->params_set) {
		rc = SSC_RC_ALREADY_SET;
		goto out;
	}
	if (!cb->sec_header_len || cb->sec_header_len > UV_SE_HDR_MAX) {
		rc = UV_SSC_RC_BAD_FORMAT;
		goto out;
	}
	hdr = malloc(cb->sec_header_len);
	if (!hdr) {
		rc = SSC_RC_HDR_ACCESS;
		goto out;
	}
	if (!uv_copy_from_virt(uv, cb->sec_header_origin, cb->sec_header_len,
			       hdr)) {
		rc = SSC_RC_HDR_ACCESS;
		goto out;
	}
	rc = uv_image_open(uv, hdr, cb->sec_header_len, &sec);
	if (rc)
		goto out;
	if (EVP_DigestInit_ex(cfg->pld, uv->sha256, NULL) != 1 ||
	    EVP_DigestInit_ex(cfg->ald, uv->sha256, NULL) != 1 ||
	    EVP_DigestInit_ex(cfg->tld, uv->sha256, NULL) != 1) {
		rc = UV_SSC_RC_BAD_INTEGRITY;
		goto out;
	}
	memcpy(cfg->xts_key, sec.xts_key, sizeof(cfg->xts_key));
	memcpy(cfg->want_pld, sec.pld, UV_DIGEST_LEN);
	memcpy(cfg->want_ald, sec.ald, UV_DIGEST_LEN);
	memcpy(cfg->want_tld, sec.tld, UV_DIGEST_LEN);
	cfg->want_pages = sec.nr_pages;
	cfg->unpacked = 0;
	cfg->psw[0] = sec.psw[0];
	cfg->psw[1] = sec.psw[1];
	cfg->params_set = true;
	cfg->verified = false;
out:
	OPENSSL_cleanse(&sec, sizeof(sec));
	free(hdr);
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV SET SEC CONF PARAMS: handle %llx len %u rc %x",
		  (unsigned long long)cb->guest_handle, cb->sec_header_len,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

int uv_do_unpack(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_unp *cb = (struct uv_cb_unp *)c->cb;
	uint64_t gaddr = cb->gaddr & HW_PAGE_MASK, gidx = gaddr >> HW_PAGE_SHIFT;
	struct uv_config *cfg;
	struct uv_gpage *g;
	uint64_t w, gw, data_t0;
	hw_pfn_t pfn = 0;
	uint16_t rc = 0;
	void *page;

	cfg = uv_config_get(uv, cb->guest_handle, UV_GET_READ);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (!cfg->params_set || cfg->verified) {
		rc = UNP_RC_NO_PARAMS;
		goto out_put;
	}
	if (gidx >= cfg->nr_gpages) {
		rc = UNP_RC_GADDR_RANGE;
		goto out_put;
	}
	if (!cfg->translate ||
	    cfg->translate(cfg->translate_ctx, gaddr, &pfn) ||
	    pfn >= uv->nr_frames) {
		rc = UVC_RC_NOT_MAPPED;
		goto out_put;
	}
	g = &cfg->gpages[gidx];
	w = uv_frame_lock(uv, pfn);
	if (!uvf_is_host(w)) {
		rc = UNP_RC_NOT_FREE;
		goto out_unlock;
	}
	gw = uv_gpage_lock(g);
	if (uvg_state(gw) != UVG_EMPTY) {
		rc = UNP_RC_NOT_FREE;
		uv_gpage_unlock(g, gw);
		goto out_unlock;
	}
	lpv_mutex_lock(&cfg->meas_lock);
	if (cfg->unpacked >= cfg->want_pages) {
		rc = UNP_RC_TOO_MANY;
		lpv_mutex_unlock(&cfg->meas_lock);
		uv_gpage_unlock(g, gw);
		goto out_unlock;
	}
	/* Hidden before the plaintext exists; decrypted in place. */
	uv_frame_hide(uv, pfn);
	page = hw_fw_page(uv->hw, pfn);
	data_t0 = uv_data_begin();
	BUG_ON(uv_crypto_xts(uv->xts, cfg->xts_key, cb->tweak, page, page,
			     false) != 0);
	uv_image_measure_page(cfg, gaddr, cb->tweak, page);
	uv_data_end(data_t0);
	cfg->unpacked++;
	lpv_mutex_unlock(&cfg->meas_lock);
	uv_gpage_unlock(g, uvg_make(UVG_SECURE, pfn));
	w = uvf_make(UV_FRAME_SECURE, cfg->idx, gidx);
	atomic_add_return(&cfg->nr_secure, 1);
	uv_stat_add(uv, UV_STAT_frames_secure, 1);
	uv_stat_add(uv, UV_STAT_unpacks, 1);
out_unlock:
	uv_frame_unlock(uv, pfn, w);
out_put:
	uv_config_put(cfg, UV_GET_READ);
	lpv_trace("UV UNPACK: handle %llx gaddr %llx pfn %llx rc %x",
		  (unsigned long long)cb->guest_handle, (unsigned long long)gaddr,
		  (unsigned long long)pfn, rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

static bool digest_matches(EVP_MD_CTX *run, const uint8_t *want)
{
	EVP_MD_CTX *tmp = EVP_MD_CTX_new();
	uint8_t got[UV_DIGEST_LEN];
	unsigned int n = 0;
	bool ok;

	/* Finish a copy: a failed VERIFY leaves the running digest as is. */
	ok = tmp && EVP_MD_CTX_copy_ex(tmp, run) == 1 &&
	     EVP_DigestFinal_ex(tmp, got, &n) == 1 && n == UV_DIGEST_LEN &&
	     !CRYPTO_memcmp(got, want, UV_DIGEST_LEN);
	EVP_MD_CTX_free(tmp);
	return ok;
}

int uv_do_verify(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct uv_config *cfg;
	uint16_t rc = 0, rrc = 0;

	cfg = uv_config_get(uv, cb->handle, UV_GET_WRITE);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (!cfg->params_set)
		rc = VFY_RC_NO_PARAMS;
	else if (cfg->verified)
		;	/* idempotent */
	else if (cfg->unpacked != cfg->want_pages)
		rc = VFY_RC_MISMATCH, rrc = VFY_RRC_PAGES;
	else if (!digest_matches(cfg->pld, cfg->want_pld))
		rc = VFY_RC_MISMATCH, rrc = VFY_RRC_PLD;
	else if (!digest_matches(cfg->ald, cfg->want_ald))
		rc = VFY_RC_MISMATCH, rrc = VFY_RRC_ALD;
	else if (!digest_matches(cfg->tld, cfg->want_tld))
		rc = VFY_RC_MISMATCH, rrc = VFY_RRC_TLD;
	if (!rc)
		cfg->verified = true;
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV VERIFY IMG: handle %llx rc %x rrc %x",
		  (unsigned long long)cb->handle, rc ? rc : UVC_RC_EXECUTED, rrc);
	return rc ? uv_rc(c->cb, rc, rrc) : uv_ok(c->cb);
}

const char *uv_image_rc_check(uint16_t cmd, uint16_t rc, uint16_t rrc)
{
	switch (cmd) {
	case UVC_CMD_SET_SEC_CONF_PARAMS:
		return rc == UV_SSC_RC_BAD_FORMAT ?
			"SE header format (magic, version or lengths)" :
		       rc == UV_SSC_RC_BAD_INTEGRITY ?
			"SE header tag mismatch" :
		       rc == UV_SSC_RC_NO_KEY_SLOT ?
			"SE header has no key slot for this host" : NULL;
	case UVC_CMD_UNPACK_IMG:
		return rc == UNP_RC_GADDR_RANGE ?
			"image page beyond guest memory" :
		       rc == UNP_RC_TOO_MANY ?
			"more image pages than the SE header counts" : NULL;
	case UVC_CMD_VERIFY_IMG:
		if (rc != VFY_RC_MISMATCH)
			return NULL;
		return rrc == VFY_RRC_PAGES ?
			"page count differs from SE header" :
		       rrc == VFY_RRC_PLD ?
			"page content digest (PLD) mismatch" :
		       rrc == VFY_RRC_ALD ?
			"page address digest (ALD) mismatch" :
		       rrc == VFY_RRC_TLD ?
			"page tweak digest (TLD) mismatch" :
			"image measurement mismatch";
	default:
		return NULL;
	}
}
