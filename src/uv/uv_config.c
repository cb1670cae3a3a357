// SPDX-License-Identifier: MIT
/*
 * uv_config.c - secure configurations: the type-stable object array and
 * handle lookup, CREATE_SEC_CONF (checks, donation of base and variable
 * storage, marking of the ASCE top-level table), DESTROY_SEC_CONF (bounded
 * work per call, cc 3 until done), DESTROY_SEC_CONF_FAST (ends the config
 * at once, its secure pages become a "zombie" that page destroys drain),
 * the translator registration and the load-normal reset of all configs.
 *
 * Threads: any.  uv->lock guards the free list and the live count only;
 * everything inside a config is guarded by cfg->lock (see
 * uv_internal.h).  A config's handle is published last (release store) on
 * creation and withdrawn first on destruction, so a lookup that locks the
 * slot and sees its handle sees a fully built config.
 */
#include "uv_internal.h"

#include <openssl/crypto.h>

#define UV_LOWCORE_END 0x2000ULL	/* absolute 0..8K: prefix area */
#define UV_MSL_ALIGN (1ULL << 20)

/* Create-config rcs (public: 0x101 0x102 0x105 0x108 0x109 0x10c 0x10d;
 * "reuse ASCE >= 0x104"; the rest are our choices, docs/uv.md). */
#define CGC_RC_MSO 0x0101
#define CGC_RC_MSO_MSL 0x0102
#define CGC_RC_NO_RESOURCES 0x0103
#define CGC_RC_ASCE_IN_USE 0x0104
#define CGC_RC_ASCE_INVALID 0x0105
#define CGC_RC_MSL_INVALID 0x0106
#define CGC_RC_BASE_IN_USE 0x0107
#define CGC_RC_BASE_INVALID 0x0108
#define CGC_RC_BASE_LOWCORE 0x0109
#define CGC_RC_VAR_INVALID UVC_RC_NOT_MAPPED
#define CGC_RC_VAR_IN_USE 0x010b
#define CGC_RC_SCA_ZERO 0x010c
#define CGC_RC_SCA_INVALID 0x010d
/* Destroy config (both kinds) with secure CPUs left: our choice. */
#define DSC_RC_HAS_CPUS 0x0101

uint64_t uv_handle_next(struct uv *uv)
{
	uint64_t x = atomic_add_return(&uv->handle_seq, 0x9e3779b97f4a7c15ULL);

	/* A bijective mix: every handle differs in its high bits, so a
	 * handle off by one bit never names another live object. */
	x = (x ^ (x >> 31)) * 0x7fb5d329728ea185ULL;
	x = (x ^ (x >> 27)) * 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x | (1ULL << 63);
}

static inline uint64_t cfg_handle_make(uint64_t gen, uint32_t idx)
{
	return (gen & ~0xffffffffULL) | ((uint64_t)idx << 8) | 0x01;
}

struct uv_config *uv_config_get(struct uv *uv, uint64_t handle, int flags)
{
	uint32_t idx = (uint32_t)(handle >> 8) & (UV_MAX_CFG_OBJS - 1);
	struct uv_config *cfg;

	if (!handle || idx >= uv->nr_cfg_objs)
		return NULL;
	cfg = &uv->cfgs[idx];
	if (flags & UV_GET_WRITE)
		lpv_write_lock(&cfg->lock);
	else
		lpv_read_lock(&cfg->lock);
	if (cfg->handle == handle &&
	    (cfg->state == UV_CFG_LIVE ||
	     ((flags & UV_GET_DESTROYING) && cfg->state == UV_CFG_DESTROYING)))
		return cfg;
	uv_config_put(cfg, flags);
	return NULL;
}

void uv_config_put(struct uv_config *cfg, int flags)
{
	if (flags & UV_GET_WRITE)
		lpv_write_unlock(&cfg->lock);
	else
		lpv_read_unlock(&cfg->lock);
}

void uv_configs_init(struct uv *uv)
{
	uint64_t n = (uint64_t)uv->prof.max_num_sec_conf * 2 + 8;
	uint32_t ncpu = (uint32_t)uv->prof.max_guest_cpu_id + 1;

	if (uv_crypto_random(&uv->handle_seq, sizeof(uv->handle_seq)))
		uv->handle_seq = hw_now_ns();
	if (n > UV_MAX_CFG_OBJS)
		n = UV_MAX_CFG_OBJS;
	uv->cfgs = calloc(n, sizeof(*uv->cfgs));
	if (!uv->cfgs)
		return;
	uv->nr_cfg_objs = (uint32_t)n;
	for (uint32_t i = 0; i < uv->nr_cfg_objs; i++) {
		lpv_rwlock_init(&uv->cfgs[i].lock);
		lpv_mutex_init(&uv->cfgs[i].meas_lock);
	}
	/* Lowest index first on the free list: handles stay small and
	 * predictable in traces. */
	for (uint32_t i = uv->nr_cfg_objs; i-- > 0;) {
		struct uv_config *cfg = &uv->cfgs[i];

		cfg->idx = i;
		cfg->cpus = calloc(ncpu, sizeof(*cfg->cpus));
		cfg->pld = EVP_MD_CTX_new();
		cfg->ald = EVP_MD_CTX_new();
		cfg->tld = EVP_MD_CTX_new();
		if (!cfg->cpus || !cfg->pld || !cfg->ald || !cfg->tld) {
			uv_configs_deinit(uv);
			return;
		}
		cfg->next_free = uv->free_cfgs;
		uv->free_cfgs = cfg;
	}
}

void uv_configs_deinit(struct uv *uv)
{
	if (!uv->cfgs)
		return;
	for (uint32_t i = 0; i < uv->nr_cfg_objs; i++) {
		struct uv_config *cfg = &uv->cfgs[i];

		free(cfg->cpus);
		lpv_free_table(cfg->gpages, cfg->nr_gpages, sizeof(*cfg->gpages));
		EVP_MD_CTX_free(cfg->pld);
		EVP_MD_CTX_free(cfg->ald);
		EVP_MD_CTX_free(cfg->tld);
		lpv_mutex_deinit(&cfg->meas_lock);
		lpv_rwlock_deinit(&cfg->lock);
	}
	free(uv->cfgs);
	uv->cfgs = NULL;
	uv->nr_cfg_objs = 0;
}

static struct uv_config *uv_config_alloc(struct uv *uv)
{
	struct uv_config *cfg = NULL;

	lpv_mutex_lock(&uv->lock);
	if (uv->nr_live_cfgs < uv->prof.max_num_sec_conf && uv->free_cfgs) {
		cfg = uv->free_cfgs;
		uv->free_cfgs = cfg->next_free;
		cfg->next_free = NULL;
		uv->nr_live_cfgs++;
	}
	lpv_mutex_unlock(&uv->lock);
	return cfg;
}

/* Back on the free list; @was_live: it still counted against the limit. */
static void uv_config_free(struct uv *uv, struct uv_config *cfg, bool was_live)
{
	lpv_mutex_lock(&uv->lock);
	if (was_live)
		uv->nr_live_cfgs--;
	cfg->next_free = uv->free_cfgs;
	uv->free_cfgs = cfg;
	lpv_mutex_unlock(&uv->lock);
}

/* Forget everything a config held (cfg->lock held for write, or the object
 * unreachable).  Frames must already be released. */
static void uv_config_clear_locked(struct uv_config *cfg)
{
	lpv_free_table(cfg->gpages, cfg->nr_gpages, sizeof(*cfg->gpages));
	cfg->gpages = NULL;
	cfg->nr_gpages = 0;
	OPENSSL_cleanse(cfg->key, sizeof(cfg->key));
	OPENSSL_cleanse(cfg->xts_key, sizeof(cfg->xts_key));
	cfg->translate = NULL;
	cfg->translate_ctx = NULL;
	cfg->asce = 0;
	cfg->asce_frames = cfg->base_frames = cfg->var_frames = 0;
	cfg->destroy_cursor = 0;
	cfg->params_set = cfg->verified = cfg->reset_pending = false;
	cfg->unpacked = cfg->want_pages = 0;
	atomic_store_relaxed(&cfg->nr_secure, 0);
	atomic_store_relaxed(&cfg->nr_shared, 0);
	cfg->state = UV_CFG_FREE;
}

/* Give back what a live config was given: ASCE mark, base, variable. */
static void uv_config_release_storage(struct uv *uv, struct uv_config *cfg)
{
	uv_frames_release(uv, cfg->asce_pfn, cfg->asce_frames);
	uv_frames_release(uv, cfg->base_pfn, cfg->base_frames);
	uv_frames_release(uv, cfg->var_pfn, cfg->var_frames);
	cfg->asce_frames = cfg->base_frames = cfg->var_frames = 0;
}

int uv_do_create_conf(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_cgc *cb = (struct uv_cb_cgc *)c->cb;
	const struct uv_profile *p = &uv->prof;
	uint64_t mso = cb->guest_stor_origin, msl = cb->guest_stor_len;
	uint64_t asce = cb->guest_asce, base = cb->conf_base_stor_origin;
	uint64_t sca = cb->guest_sca, vaddr = cb->conf_virt_stor_origin;
	uint64_t asce_frames = (asce & UV_ASCE_TL_MASK) + 1;
	uint64_t base_frames = p->conf_base_phys_stor_len >> HW_PAGE_SHIFT;
	uint64_t var_len, var_frames;
	hw_pfn_t var_pfn = 0, asce_pfn = (asce & UV_ASCE_ORIGIN_MASK) >> HW_PAGE_SHIFT;
	struct uv_config *cfg = NULL;
	struct uv_gpage *gpages = NULL;
	uint8_t key[32];
	uint16_t rc = 0;

	/* Checks in a fixed order; docs/uv.md lists it (unverified beyond
	 * the single-fault cases of the reference). */
	if (mso > p->max_guest_stor_addr)
		rc = CGC_RC_MSO;
	else if (msl > p->max_guest_stor_addr - mso)
		rc = CGC_RC_MSO_MSL;
	else if (!msl || msl % UV_MSL_ALIGN || mso % UV_MSL_ALIGN ||
		 (msl >> HW_PAGE_SHIFT) > UVF_GIDX_MASK)
		rc = CGC_RC_MSL_INVALID;
	else if (!(asce & UV_ASCE_P) || (asce & UV_ASCE_R) ||
		 !uv_paddr_ok(uv, asce & UV_ASCE_ORIGIN_MASK,
			      asce_frames << HW_PAGE_SHIFT))
		rc = CGC_RC_ASCE_INVALID;
	else if ((base & ~HW_PAGE_MASK) ||
		 !uv_paddr_ok(uv, base, p->conf_base_phys_stor_len))
		rc = CGC_RC_BASE_INVALID;
	else if (base < UV_LOWCORE_END)
		rc = CGC_RC_BASE_LOWCORE;
	else if (!sca)
		rc = CGC_RC_SCA_ZERO;
	else if (!uv_paddr_ok(uv, sca, HW_PAGE_SIZE) ||
		 !uvf_host_accessible(uv_frame_peek(uv, sca >> HW_PAGE_SHIFT)))
		rc = CGC_RC_SCA_INVALID;
	if (rc)
		goto out;

	var_len = p->conf_base_virt_stor_len +
		  ((p->conf_virt_var_stor_len * (msl >> 20) + HW_PAGE_SIZE - 1) &
		   HW_PAGE_MASK);
	var_frames = var_len >> HW_PAGE_SHIFT;
	if (var_frames) {
		hw_pfn_t last = uv_virt_to_pfn(uv, vaddr + var_len - 1);

		var_pfn = uv_virt_to_pfn(uv, vaddr);
		if ((vaddr & ~HW_PAGE_MASK) || var_pfn == HW_PFN_INVALID ||
		    last == HW_PFN_INVALID || last - var_pfn != var_frames - 1) {
			rc = CGC_RC_VAR_INVALID;
			goto out;
		}
	}

	gpages = lpv_alloc_table(msl >> HW_PAGE_SHIFT, sizeof(*gpages));
	if (!gpages || uv_crypto_random(key, sizeof(key))) {
		rc = CGC_RC_NO_RESOURCES;
		goto out;
	}
	cfg = uv_config_alloc(uv);
	if (!cfg) {
		rc = CGC_RC_NO_RESOURCES;
		goto out;
	}
	/* Claim in order: ASCE, base, variable; a range that overlaps an
	 * earlier one of this call fails like one in use elsewhere. */
	if (!uv_frames_donate(uv, asce_pfn, asce_frames, UV_FRAME_ASCE, cfg->idx)) {
		rc = CGC_RC_ASCE_IN_USE;
		goto out_free_cfg;
	}
	if (!uv_frames_donate(uv, base >> HW_PAGE_SHIFT, base_frames,
			      UV_FRAME_DONATED_CONF, cfg->idx)) {
		rc = CGC_RC_BASE_IN_USE;
		goto out_unmark_asce;
	}
	if (var_frames && !uv_frames_donate(uv, var_pfn, var_frames,
					    UV_FRAME_DONATED_CONF, cfg->idx)) {
		rc = CGC_RC_VAR_IN_USE;
		goto out_release_base;
	}

	lpv_write_lock(&cfg->lock);
	cfg->gpages = gpages;
	gpages = NULL;
	cfg->nr_gpages = msl >> HW_PAGE_SHIFT;
	memcpy(cfg->key, key, sizeof(key));
	cfg->asce = asce;
	cfg->asce_pfn = asce_pfn;
	cfg->asce_frames = asce_frames;
	cfg->base_pfn = base >> HW_PAGE_SHIFT;
	cfg->base_frames = base_frames;
	cfg->var_pfn = var_pfn;
	cfg->var_frames = var_frames;
	cfg->mso = mso;
	cfg->msl = msl;
	cfg->sca = sca;
	cfg->nr_cpus = 0;
	cfg->state = UV_CFG_LIVE;
	atomic_store_release(&cfg->handle, cfg_handle_make(uv_handle_next(uv),
							   cfg->idx));
	cb->guest_handle = cfg->handle;
	lpv_write_unlock(&cfg->lock);
	uv_stat_add(uv, UV_STAT_configs_live, 1);
	goto out;

out_release_base:
	uv_frames_release(uv, base >> HW_PAGE_SHIFT, base_frames);
out_unmark_asce:
	uv_frames_release(uv, asce_pfn, asce_frames);
out_free_cfg:
	uv_config_free(uv, cfg, true);
out:
	OPENSSL_cleanse(key, sizeof(key));
	lpv_free_table(gpages, msl >> HW_PAGE_SHIFT, sizeof(*gpages));
	lpv_trace("UV CREATE SEC CONF: handle %llx asce %llx msl %llx rc %x",
		  (unsigned long long)(rc ? 0 : cb->guest_handle),
		  (unsigned long long)asce, (unsigned long long)msl,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

/* Clean one guest-page record of a config being destroyed (write lock
 * held): a secure frame is cleared and returned, an export hint dropped.
 * Returns true when a frame was cleaned. */
static bool uv_config_clean_gpage(struct uv *uv, struct uv_config *cfg,
				  uint64_t gidx)
{
	struct uv_gpage *g = &cfg->gpages[gidx];
	uint64_t gw = atomic_load_relaxed(&g->word);
	hw_pfn_t pfn = gw & UVG_PFN_MASK;
	bool cleaned = false;
	uint64_t w;

	if (uvg_state(gw) == UVG_EMPTY)
		return false;
	w = uv_frame_lock(uv, pfn);
	if (uvf_state(w) == UV_FRAME_SECURE && uvf_cfg(w) == cfg->idx &&
	    uvf_gidx(w) == gidx) {
		uv_frame_clear(uv, pfn);
		if (!(w & UVF_SHARED))
			uv_frame_show(uv, pfn);
		BUG_ON(uvg_state(gw) != UVG_SECURE);
		(void)uv_config_drop_secure(uv, cfg, w);
		w = 0;
		cleaned = true;
	} else if (uvf_state(w) == UV_FRAME_EXPORTED &&
		   uvf_cfg(w) == cfg->idx && uvf_gidx(w) == gidx) {
		w = 0;		/* the ciphertext can never be imported now */
	}
	uv_frame_unlock(uv, pfn, w);
	atomic_store_release(&g->word, 0);
	return cleaned;
}

int uv_do_destroy_conf(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct hw_unprotect_batch batch;
	struct uv_config *cfg;
	uint64_t done = 0, scanned = 0, scan_budget;

	cfg = uv_config_get(uv, cb->handle, UV_GET_WRITE | UV_GET_DESTROYING);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (cfg->nr_cpus) {
		uv_config_put(cfg, UV_GET_WRITE);
		lpv_trace("UV DESTROY SEC CONF: handle %llx rc %x rrc 0",
			  (unsigned long long)cb->handle, DSC_RC_HAS_CPUS);
		return uv_rc(c->cb, DSC_RC_HAS_CPUS, 0);
	}
	if (cfg->state == UV_CFG_LIVE)
		lpv_trace("UV DESTROY SEC CONF: handle %llx begins, %llu secure",
			  (unsigned long long)cb->handle,
			  (unsigned long long)cfg->nr_secure);
	cfg->state = UV_CFG_DESTROYING;
	/* Bounded work per call: destroy_batch frames cleaned, and a scan
	 * budget so that a huge sparse guest also returns regularly. */
	scan_budget = uv->prof.destroy_batch * 64;
	hw_unprotect_batch_begin(uv->hw, &batch);
	while (cfg->destroy_cursor < cfg->nr_gpages) {
		if (done >= uv->prof.destroy_batch || scanned >= scan_budget) {
			hw_unprotect_batch_end(&batch);	/* frames go back now */
			c->extra_ns = done * uv->prof.destroy_conf_page_ns;
			uv_stat_add(uv, UV_STAT_conf_pages_cleaned, (int64_t)done);
			uv_stat_add(uv, UV_STAT_destroy_partial, 1);
			uv_config_put(cfg, UV_GET_WRITE);
			c->cb->rc = 0;
			c->cb->rrc = 0;
			return UVC_CC_PARTIAL;
		}
		done += uv_config_clean_gpage(uv, cfg, cfg->destroy_cursor++);
		scanned++;
	}
	hw_unprotect_batch_end(&batch);
	c->extra_ns = done * uv->prof.destroy_conf_page_ns;
	uv_stat_add(uv, UV_STAT_conf_pages_cleaned, (int64_t)done);
	BUG_ON(atomic_load_relaxed(&cfg->nr_secure) != 0);
	uv_config_release_storage(uv, cfg);
	atomic_store_release(&cfg->handle, 0);
	uv_config_clear_locked(cfg);
	uv_config_put(cfg, UV_GET_WRITE);
	uv_config_free(uv, cfg, true);
	uv_stat_add(uv, UV_STAT_configs_live, -1);
	lpv_trace("UV DESTROY SEC CONF: handle %llx rc %x rrc 0",
		  (unsigned long long)cb->handle, UVC_RC_EXECUTED);
	return uv_ok(c->cb);
}

int uv_do_destroy_conf_fast(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_destroy_fast *cb = (struct uv_cb_destroy_fast *)c->cb;
	struct uv_config *cfg;
	bool empty;

	cfg = uv_config_get(uv, cb->handle, UV_GET_WRITE | UV_GET_DESTROYING);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (cfg->nr_cpus) {
		uv_config_put(cfg, UV_GET_WRITE);
		lpv_trace("UV DESTROY SEC CONF FAST: handle %llx rc %x rrc 0",
			  (unsigned long long)cb->handle, DSC_RC_HAS_CPUS);
		return uv_rc(c->cb, DSC_RC_HAS_CPUS, 0);
	}
	/* The config ends now: its handle, ASCE and donated storage go; its
	 * secure pages stay secure, owned by nobody, until destroyed (or
	 * exported, which then discards them) one by one. */
	atomic_store_release(&cfg->handle, 0);
	uv_config_release_storage(uv, cfg);
	cfg->translate = NULL;
	cfg->translate_ctx = NULL;
	cfg->state = UV_CFG_ZOMBIE;
	empty = atomic_load_relaxed(&cfg->nr_secure) == 0;
	lpv_trace("UV DESTROY SEC CONF FAST: handle %llx rc %x rrc 0, "
		  "%llu secure pages left", (unsigned long long)cb->handle,
		  UVC_RC_EXECUTED, (unsigned long long)cfg->nr_secure);
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_mutex_lock(&uv->lock);
	uv->nr_live_cfgs--;	/* a zombie no longer counts as a config */
	lpv_mutex_unlock(&uv->lock);
	uv_stat_add(uv, UV_STAT_configs_live, -1);
	uv_stat_add(uv, UV_STAT_configs_zombie, 1);
	if (empty)
		uv_config_reap(uv, cfg);
	return uv_ok(c->cb);
}

bool uv_config_drop_secure(struct uv *uv, struct uv_config *cfg,
			   uint64_t frame_word)
{
	uint64_t left = atomic_sub_return(&cfg->nr_secure, 1);

	uv_stat_add(uv, UV_STAT_frames_secure, -1);
	if (frame_word & UVF_SHARED)
		atomic_sub_return(&cfg->nr_shared, 1);
	/* The caller holds cfg->lock, so state is stable here. */
	return left == 0 && cfg->state == UV_CFG_ZOMBIE;
}

void uv_config_reap(struct uv *uv, struct uv_config *cfg)
{
	bool freed = false;

	lpv_write_lock(&cfg->lock);
	if (cfg->state == UV_CFG_ZOMBIE &&
	    atomic_load_relaxed(&cfg->nr_secure) == 0) {
		uv_config_clear_locked(cfg);
		freed = true;
	}
	lpv_write_unlock(&cfg->lock);
	if (!freed)
		return;
	uv_config_free(uv, cfg, false);
	uv_stat_add(uv, UV_STAT_configs_zombie, -1);
	lpv_trace("UV ZOMBIE CONF %u: last page gone", cfg->idx);
}

int uv_config_set_translate(struct uv *uv, uint64_t guest_handle,
			    uv_translate_fn fn, void *ctx)
{
	struct uv_config *cfg = uv_config_get(uv, guest_handle, UV_GET_WRITE);

	if (!cfg)
		return -ENOENT;
	cfg->translate = fn;
	cfg->translate_ctx = ctx;
	uv_config_put(cfg, UV_GET_WRITE);
	return 0;
}

void uv_configs_reset_all(struct uv *uv)
{
	lpv_mutex_assert_held(&uv->lock);
	for (uint32_t i = 0; i < uv->nr_cfg_objs; i++) {
		struct uv_config *cfg = &uv->cfgs[i];
		enum uv_cfg_state was;

		lpv_write_lock(&cfg->lock);
		was = cfg->state;
		if (was == UV_CFG_FREE) {
			lpv_write_unlock(&cfg->lock);
			continue;
		}
		atomic_store_release(&cfg->handle, 0);
		for (uint32_t n = 0; n <= uv->prof.max_guest_cpu_id; n++) {
			struct uv_cpu *cpu = &cfg->cpus[n];

			if (!cpu->handle)
				continue;
			uv_frames_release(uv, cpu->stor_pfn, cpu->stor_frames);
			memset(cpu, 0, sizeof(*cpu));
			uv_stat_add(uv, UV_STAT_cpus_live, -1);
		}
		cfg->nr_cpus = 0;
		for (uint64_t g = 0; g < cfg->nr_gpages; g++)
			(void)uv_config_clean_gpage(uv, cfg, g);
		if (was != UV_CFG_ZOMBIE)
			uv_config_release_storage(uv, cfg);
		uv_config_clear_locked(cfg);
		lpv_write_unlock(&cfg->lock);
		/* uv->lock is held by our caller: adjust the list directly. */
		if (was != UV_CFG_ZOMBIE)
			uv->nr_live_cfgs--;
		cfg->next_free = uv->free_cfgs;
		uv->free_cfgs = cfg;
		uv_stat_add(uv, was == UV_CFG_ZOMBIE ? UV_STAT_configs_zombie :
			    UV_STAT_configs_live, -1);
	}
}
