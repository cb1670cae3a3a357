// SPDX-License-Identifier: MIT
/*
 * uv_frame.c - the secure-storage table: one 64-bit word per frame of the
 * machine saying who owns it (host, a configuration at a guest address, the
 * UV, a configuration's or CPU's donated storage, a marked ASCE table), the
 * bit locks on those words and on per-guest-page records, donation and
 * release of frame ranges with their host-view protection, and the
 * validator uv_check().
 *
 * Threads: any.  A frame word changes only under its own bit lock (bit 63),
 * taken with an acquiring compare-exchange and dropped with a releasing
 * store; lock-free readers (uv_frame_peek) see a consistent word, which is
 * enough to find the owner before taking the owner's lock and re-checking.
 * Protection follows the state: a frame is protected in the host view
 * exactly when it is SECURE (and not shared) or DONATED_*, and the UV
 * changes protection only while holding the frame's lock, which is the
 * serialisation hw_frame_protect/unprotect expect from their callers.
 */
#include "uv_internal.h"

#include <sched.h>

static inline void uv_cpu_relax(unsigned int *spins)
{
	/* A frame is held for at most one clear or AES pass (microseconds):
	 * spin briefly, then let the holder run if we share its CPU. */
	if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		sched_yield();
	}
}

uint64_t uv_frame_lock(struct uv *uv, hw_pfn_t pfn)
{
	uint64_t *p = &uv->frames[pfn];
	unsigned int spins = 0;
	uint64_t w = atomic_load_relaxed(p);

	for (;;) {
		if (!(w & UVF_LOCK) &&
		    __atomic_compare_exchange_n(p, &w, w | UVF_LOCK, true,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return w;
		if (w & UVF_LOCK) {
			uv_cpu_relax(&spins);
			w = atomic_load_relaxed(p);
		}
	}
}

uint64_t uv_gpage_lock(struct uv_gpage *g)
{
	unsigned int spins = 0;
	uint64_t w = atomic_load_relaxed(&g->word);

	for (;;) {
		if (!(w & UVG_LOCK) &&
		    __atomic_compare_exchange_n(&g->word, &w, w | UVG_LOCK,
						true, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return w;
		if (w & UVG_LOCK) {
			uv_cpu_relax(&spins);
			w = atomic_load_relaxed(&g->word);
		}
	}
}

hw_pfn_t uv_virt_to_pfn(struct uv *uv, uint64_t vaddr)
{
	/* The home space of the host kernel is the host view's linear map. */
	if (vaddr == 0 || vaddr > UINTPTR_MAX)
		return HW_PFN_INVALID;
	return hw_host_addr_to_pfn(uv->hw, (const void *)(uintptr_t)vaddr);
}

void uv_frame_clear(struct uv *uv, hw_pfn_t pfn)
{
	uint64_t t = uv_data_begin();

	hw_frame_clear_fw(uv->hw, pfn);
	uv_data_end(t);
	uv_stat_add(uv, UV_STAT_clears, 1);
}

void uv_frame_hide(struct uv *uv, hw_pfn_t pfn)
{
	/* If the machine cannot protect a frame, the UV's one guarantee is
	 * gone; carrying on would silently expose guest data. */
	BUG_ON(hw_frame_protect(uv->hw, pfn) != 0);
}

void uv_frame_show(struct uv *uv, hw_pfn_t pfn)
{
	BUG_ON(hw_frame_unprotect(uv->hw, pfn) != 0);
}

bool uv_frames_are_host(struct uv *uv, hw_pfn_t pfn, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (!uvf_is_host(uv_frame_peek(uv, pfn + i)))
			return false;
	return true;
}

bool uv_frames_donate(struct uv *uv, hw_pfn_t pfn, uint64_t n,
		      enum uv_frame_state s, uint32_t cfg)
{
	uint64_t i;

	/* Claim one frame at a time (never two bit locks at once); on a
	 * conflict give back what was claimed. */
	for (i = 0; i < n; i++) {
		uint64_t w = uv_frame_lock(uv, pfn + i);

		if (!uvf_is_host(w)) {
			uv_frame_unlock(uv, pfn + i, w);
			goto undo;
		}
		uv_frame_unlock(uv, pfn + i, uvf_make(s, cfg, 0));
	}
	for (i = 0; i < n; i++)
		if (s != UV_FRAME_ASCE)
			uv_frame_hide(uv, pfn + i);
	if (s != UV_FRAME_ASCE)
		uv_stat_add(uv, UV_STAT_frames_donated, (int64_t)n);
	return true;
undo:
	while (i--) {
		uv_frame_lock(uv, pfn + i);
		uv_frame_unlock(uv, pfn + i, 0);
	}
	return false;
}

void uv_frames_release(struct uv *uv, hw_pfn_t pfn, uint64_t n)
{
	struct hw_unprotect_batch batch;

	hw_unprotect_batch_begin(uv->hw, &batch);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t w = uv_frame_lock(uv, pfn + i);

		switch (uvf_state(w)) {
		case UV_FRAME_DONATED_UV:
		case UV_FRAME_DONATED_CONF:
		case UV_FRAME_DONATED_CPU:
			uv_stat_add(uv, UV_STAT_frames_donated, -1);
			uv_frame_clear(uv, pfn + i);
			uv_frame_show(uv, pfn + i);
			break;
		case UV_FRAME_SECURE:
			uv_stat_add(uv, UV_STAT_frames_secure, -1);
			uv_frame_clear(uv, pfn + i);
			if (!(w & UVF_SHARED))
				uv_frame_show(uv, pfn + i);
			break;
		case UV_FRAME_ASCE:		/* the host's table: untouched */
		case UV_FRAME_EXPORTED:		/* the host's ciphertext */
		case UV_FRAME_NONSECURE:
			break;
		}
		uv_frame_unlock(uv, pfn + i, 0);
	}
	hw_unprotect_batch_end(&batch);
}

const char *uv_frame_state_name(enum uv_frame_state s)
{
	static const char *const names[] = {
		"non-secure", "secure", "exported", "donated-uv",
		"donated-conf", "donated-cpu", "asce",
	};

	return (unsigned int)s < ARRAY_SIZE(names) ? names[s] : "?";
}

int uv_frame_query(struct uv *uv, hw_pfn_t pfn, struct uv_frame_info *out)
{
	uint64_t w;
	uint32_t idx;

	if (pfn >= uv->nr_frames)
		return -ERANGE;
	w = uv_frame_peek(uv, pfn);
	memset(out, 0, sizeof(*out));
	out->state = uvf_state(w);
	idx = uvf_cfg(w);
	if (out->state == UV_FRAME_EXPORTED && idx < uv->nr_cfg_objs) {
		/* A hint that may be stale (the config gone or recycled):
		 * name the config only if its record still points here. */
		struct uv_config *cfg = &uv->cfgs[idx];
		uint64_t gidx = uvf_gidx(w);

		lpv_read_lock(&cfg->lock);
		if (gidx < cfg->nr_gpages &&
		    uvg_state(cfg->gpages[gidx].word) == UVG_EXPORTED &&
		    (cfg->gpages[gidx].word & UVG_PFN_MASK) == pfn)
			out->guest_handle = cfg->handle;
		else
			out->state = UV_FRAME_NONSECURE;
		lpv_read_unlock(&cfg->lock);
	} else if (out->state != UV_FRAME_NONSECURE &&
		   out->state != UV_FRAME_DONATED_UV && idx < uv->nr_cfg_objs) {
		out->guest_handle = atomic_load_acquire(&uv->cfgs[idx].handle);
	}
	if (out->state == UV_FRAME_SECURE || out->state == UV_FRAME_EXPORTED)
		out->gaddr = uvf_gidx(w) << HW_PAGE_SHIFT;
	out->shared = w & UVF_SHARED;
	out->pinned = w & UVF_PINNED;
	return 0;
}

/* ---- the validator ---- */

struct uv_check_counts {
	uint64_t secure, shared, conf, cpu, asce;
};

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "uv_check: " __VA_ARGS__);	\
			fputc('\n', stderr);				\
			ret = -EUCLEAN;					\
			goto out;					\
		}							\
	} while (0)

static bool in_range(hw_pfn_t pfn, hw_pfn_t start, uint64_t n)
{
	return pfn >= start && pfn - start < n;
}

int uv_check(struct uv *uv)
{
	struct uv_check_counts *cnt;
	uint64_t secure = 0, donated = 0, live = 0, zombie = 0, cpus = 0;
	struct uv_stats st;
	int ret = 0;

	cnt = calloc(uv->nr_cfg_objs, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	lpv_mutex_lock(&uv->lock);
	for (hw_pfn_t pfn = 0; pfn < uv->nr_frames; pfn++) {
		uint64_t w = uv_frame_peek(uv, pfn);
		enum uv_frame_state s = uvf_state(w);
		bool prot = hw_frame_is_protected(uv->hw, pfn);
		uint32_t idx = uvf_cfg(w);
		struct uv_config *cfg = idx < uv->nr_cfg_objs ?
					&uv->cfgs[idx] : NULL;

		CHECK(!(w & UVF_LOCK), "frame %llx locked at a quiescent point",
		      (unsigned long long)pfn);
		switch (s) {
		case UV_FRAME_NONSECURE:
			CHECK(w == 0, "frame %llx non-secure with bits %llx",
			      (unsigned long long)pfn, (unsigned long long)w);
			CHECK(!prot, "frame %llx non-secure but protected",
			      (unsigned long long)pfn);
			break;
		case UV_FRAME_EXPORTED:
			CHECK(!prot, "frame %llx exported but protected",
			      (unsigned long long)pfn);
			break;
		case UV_FRAME_SECURE: {
			struct uv_gpage *g;

			secure++;
			CHECK(cfg && cfg->state != UV_CFG_FREE,
			      "frame %llx secure for a free config %u",
			      (unsigned long long)pfn, idx);
			CHECK(prot == !(w & UVF_SHARED),
			      "frame %llx secure%s but %sprotected",
			      (unsigned long long)pfn,
			      w & UVF_SHARED ? " shared" : "", prot ? "" : "not ");
			CHECK(!(w & UVF_PINNED) || (w & UVF_SHARED),
			      "frame %llx pinned but not shared",
			      (unsigned long long)pfn);
			CHECK(uvf_gidx(w) < cfg->nr_gpages,
			      "frame %llx gaddr beyond its config",
			      (unsigned long long)pfn);
			g = &cfg->gpages[uvf_gidx(w)];
			CHECK(uvg_state(g->word) == UVG_SECURE &&
			      (g->word & UVG_PFN_MASK) == pfn,
			      "frame %llx secure for gaddr %llx whose record says "
			      "state %d pfn %llx", (unsigned long long)pfn,
			      (unsigned long long)uvf_gidx(w) << HW_PAGE_SHIFT,
			      uvg_state(g->word),
			      (unsigned long long)(g->word & UVG_PFN_MASK));
			cnt[idx].secure++;
			cnt[idx].shared += !!(w & UVF_SHARED);
			break;
		}
		case UV_FRAME_DONATED_UV:
			donated++;
			CHECK(prot, "UV storage frame %llx not protected",
			      (unsigned long long)pfn);
			CHECK(uv->initialised &&
			      in_range(pfn, uv->base_pfn, uv->base_frames),
			      "frame %llx donated to the UV outside its storage",
			      (unsigned long long)pfn);
			break;
		case UV_FRAME_DONATED_CONF:
		case UV_FRAME_DONATED_CPU:
		case UV_FRAME_ASCE:
			CHECK(cfg && (cfg->state == UV_CFG_LIVE ||
				      cfg->state == UV_CFG_DESTROYING),
			      "frame %llx %s for config %u in state %d",
			      (unsigned long long)pfn, uv_frame_state_name(s),
			      idx, cfg ? (int)cfg->state : -1);
			CHECK(prot == (s != UV_FRAME_ASCE),
			      "frame %llx %s %sprotected", (unsigned long long)pfn,
			      uv_frame_state_name(s), prot ? "" : "not ");
			if (s == UV_FRAME_DONATED_CONF) {
				CHECK(in_range(pfn, cfg->base_pfn, cfg->base_frames) ||
				      in_range(pfn, cfg->var_pfn, cfg->var_frames),
				      "frame %llx donated to config %u outside "
				      "its storage", (unsigned long long)pfn, idx);
				cnt[idx].conf++;
			} else if (s == UV_FRAME_DONATED_CPU) {
				cnt[idx].cpu++;
			} else {
				CHECK(in_range(pfn, cfg->asce_pfn, cfg->asce_frames),
				      "frame %llx marked ASCE of config %u outside "
				      "its table", (unsigned long long)pfn, idx);
				cnt[idx].asce++;
			}
			if (s != UV_FRAME_ASCE)
				donated++;
			break;
		default:
			CHECK(0, "frame %llx in unknown state %d",
			      (unsigned long long)pfn, s);
		}
	}
	for (uint32_t i = 0; i < uv->nr_cfg_objs; i++) {
		struct uv_config *cfg = &uv->cfgs[i];
		uint64_t gsecure = 0, cpu_frames = 0, ncpu = 0;

		if (cfg->state == UV_CFG_FREE) {
			CHECK(!cnt[i].secure && !cnt[i].conf && !cnt[i].cpu &&
			      !cnt[i].asce, "free config %u owns frames", i);
			continue;
		}
		if (cfg->state == UV_CFG_ZOMBIE)
			zombie++;
		else
			live++;
		for (uint64_t g = 0; g < cfg->nr_gpages; g++) {
			uint64_t gw = cfg->gpages[g].word;

			CHECK(!(gw & UVG_LOCK), "config %u gpage %llx locked", i,
			      (unsigned long long)g);
			if (uvg_state(gw) == UVG_SECURE) {
				hw_pfn_t pfn = gw & UVG_PFN_MASK;
				uint64_t fw;

				CHECK(pfn < uv->nr_frames, "config %u gpage %llx "
				      "secure in a frame beyond memory", i,
				      (unsigned long long)g);
				fw = uv_frame_peek(uv, pfn);
				CHECK(uvf_state(fw) == UV_FRAME_SECURE &&
				      uvf_cfg(fw) == i && uvf_gidx(fw) == g,
				      "config %u gpage %llx says frame %llx, which "
				      "is %s", i, (unsigned long long)g,
				      (unsigned long long)pfn,
				      uv_frame_state_name(uvf_state(fw)));
				gsecure++;
			}
		}
		CHECK(gsecure == cnt[i].secure &&
		      cnt[i].secure == atomic_load_relaxed(&cfg->nr_secure),
		      "config %u: %llu secure records, %llu secure frames, "
		      "count %llu", i, (unsigned long long)gsecure,
		      (unsigned long long)cnt[i].secure,
		      (unsigned long long)cfg->nr_secure);
		CHECK(cnt[i].shared == atomic_load_relaxed(&cfg->nr_shared),
		      "config %u: %llu shared frames, count %llu", i,
		      (unsigned long long)cnt[i].shared,
		      (unsigned long long)cfg->nr_shared);
		if (cfg->state == UV_CFG_ZOMBIE) {
			CHECK(!cnt[i].conf && !cnt[i].cpu && !cnt[i].asce &&
			      cfg->nr_cpus == 0 && cfg->handle == 0,
			      "zombie config %u still owns storage or CPUs", i);
			continue;
		}
		CHECK(cnt[i].conf == cfg->base_frames + cfg->var_frames,
		      "config %u: %llu donated frames, expected %llu", i,
		      (unsigned long long)cnt[i].conf,
		      (unsigned long long)(cfg->base_frames + cfg->var_frames));
		CHECK(cnt[i].asce == cfg->asce_frames,
		      "config %u: %llu ASCE frames marked, expected %llu", i,
		      (unsigned long long)cnt[i].asce,
		      (unsigned long long)cfg->asce_frames);
		for (uint32_t n = 0; n <= uv->prof.max_guest_cpu_id; n++) {
			struct uv_cpu *cpu = &cfg->cpus[n];

			if (!cpu->handle)
				continue;
			ncpu++;
			cpu_frames += cpu->stor_frames;
			for (uint64_t k = 0; k < cpu->stor_frames; k++) {
				uint64_t fw = uv_frame_peek(uv, cpu->stor_pfn + k);

				CHECK(uvf_state(fw) == UV_FRAME_DONATED_CPU &&
				      uvf_cfg(fw) == i, "CPU %u of config %u: "
				      "storage frame %llx is %s", n, i,
				      (unsigned long long)(cpu->stor_pfn + k),
				      uv_frame_state_name(uvf_state(fw)));
			}
		}
		CHECK(ncpu == cfg->nr_cpus && cpu_frames == cnt[i].cpu,
		      "config %u: %llu CPUs (count %u), %llu CPU frames found "
		      "for %llu expected", i, (unsigned long long)ncpu,
		      cfg->nr_cpus, (unsigned long long)cnt[i].cpu,
		      (unsigned long long)cpu_frames);
		cpus += ncpu;
	}
	uv_stats_get(uv, &st);
	CHECK(st.frames_secure == secure && st.frames_donated == donated &&
	      st.configs_live == live && st.configs_zombie == zombie &&
	      st.cpus_live == cpus,
	      "gauges secure %llu/%llu donated %llu/%llu live %llu/%llu "
	      "zombie %llu/%llu cpus %llu/%llu (stat/found)",
	      (unsigned long long)st.frames_secure, (unsigned long long)secure,
	      (unsigned long long)st.frames_donated, (unsigned long long)donated,
	      (unsigned long long)st.configs_live, (unsigned long long)live,
	      (unsigned long long)st.configs_zombie, (unsigned long long)zombie,
	      (unsigned long long)st.cpus_live, (unsigned long long)cpus);
	CHECK(live == uv->nr_live_cfgs, "%llu live configs, count %u",
	      (unsigned long long)live, uv->nr_live_cfgs);
	ret = hw_check(uv->hw);
out:
	lpv_mutex_unlock(&uv->lock);
	free(cnt);
	return ret;
}
