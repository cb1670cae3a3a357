// SPDX-License-Identifier: MIT
/*
 * uv_cpu.c - secure CPUs and the calls of a guest reset: CREATE/DESTROY
 * SEC_CPU (donated per-CPU storage), CPU_RESET / _INITIAL / _CLEAR,
 * CPU_SET_STATE, PREPARE_RESET, SET_UNSHARE_ALL; and what the machine
 * checks when KVM's SIE loop enters or runs a secure CPU.
 *
 * Threads: any.  A CPU lives in its config's cpus[] array, indexed by CPU
 * number, and is changed only under the config's lock held for write; the
 * SIE-time checks take it for read.  CPU handles carry the config object
 * index and the CPU number, so lookups are O(1) and lock only that config.
 */
#include "uv_internal.h"

#define UV_LOWCORE_END 0x2000ULL

/* Create-CPU rcs: 0x103..0x107 public; 0x108 our choice. */
#define CSC_RC_BAD_NUM 0x0103
#define CSC_RC_DUPLICATE 0x0104
#define CSC_RC_STOR_INVALID 0x0105
#define CSC_RC_STOR_LOWCORE 0x0106
#define CSC_RC_STATE_INVALID 0x0107
#define CSC_RC_STOR_IN_USE 0x0108
/* Our choices for the reset family. */
#define CSS_RC_BAD_STATE 0x0101
#define CSS_RC_NOT_VERIFIED 0x0102
#define PRR_RC_CPU_RUNNING 0x0101

static inline uint64_t cpu_handle_make(uint64_t gen, uint32_t idx,
				       uint32_t num)
{
	return (gen & ~((1ULL << 33) - 1)) | ((uint64_t)idx << 16) |
	       ((uint64_t)num << 4) | 0x2;
}

struct uv_cpu *uv_cpu_get(struct uv *uv, uint64_t cpu_handle, int flags,
			  struct uv_config **cfgp)
{
	uint32_t idx = (uint32_t)(cpu_handle >> 16) & (UV_MAX_CFG_OBJS - 1);
	uint32_t num = (uint32_t)(cpu_handle >> 4) & 0xfff;
	struct uv_config *cfg;

	if (!cpu_handle || idx >= uv->nr_cfg_objs ||
	    num > uv->prof.max_guest_cpu_id)
		return NULL;
	cfg = &uv->cfgs[idx];
	if (flags & UV_GET_WRITE)
		lpv_write_lock(&cfg->lock);
	else
		lpv_read_lock(&cfg->lock);
	if (cfg->state == UV_CFG_LIVE && cfg->cpus[num].handle == cpu_handle) {
		*cfgp = cfg;
		return &cfg->cpus[num];
	}
	uv_config_put(cfg, flags);
	return NULL;
}

int uv_do_create_cpu(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_csc *cb = (struct uv_cb_csc *)c->cb;
	uint64_t stor_len = uv->prof.cpu_stor_len;
	struct uv_config *cfg;
	struct uv_cpu *cpu;
	uint16_t rc = 0;

	cfg = uv_config_get(uv, cb->guest_handle, UV_GET_WRITE);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	if (cb->num > uv->prof.max_guest_cpu_id)
		rc = CSC_RC_BAD_NUM;
	else if ((cb->stor_origin & ~HW_PAGE_MASK) ||
		 !uv_paddr_ok(uv, cb->stor_origin, stor_len))
		rc = CSC_RC_STOR_INVALID;
	else if (cb->stor_origin < UV_LOWCORE_END)
		rc = CSC_RC_STOR_LOWCORE;
	else if ((cb->state_origin & ~HW_PAGE_MASK) ||
		 !uv_paddr_ok(uv, cb->state_origin, HW_PAGE_SIZE) ||
		 !uvf_host_accessible(uv_frame_peek(uv, cb->state_origin >> HW_PAGE_SHIFT)))
		rc = CSC_RC_STATE_INVALID;
	if (rc)
		goto out;
	/* Same number, or the same state description as another CPU: the
	 * reference cannot tell which of the two trips 0x104 (P9); both do. */
	if (cfg->cpus[cb->num].handle)
		rc = CSC_RC_DUPLICATE;
	for (uint32_t n = 0; !rc && n <= uv->prof.max_guest_cpu_id; n++)
		if (cfg->cpus[n].handle &&
		    cfg->cpus[n].state_pfn == cb->state_origin >> HW_PAGE_SHIFT)
			rc = CSC_RC_DUPLICATE;
	if (rc)
		goto out;
	if (!uv_frames_donate(uv, cb->stor_origin >> HW_PAGE_SHIFT,
			      stor_len >> HW_PAGE_SHIFT, UV_FRAME_DONATED_CPU,
			      cfg->idx)) {
		rc = CSC_RC_STOR_IN_USE;
		goto out;
	}
	cpu = &cfg->cpus[cb->num];
	cpu->stor_pfn = cb->stor_origin >> HW_PAGE_SHIFT;
	cpu->stor_frames = stor_len >> HW_PAGE_SHIFT;
	cpu->state_pfn = cb->state_origin >> HW_PAGE_SHIFT;
	cpu->state = PV_CPU_STATE_STP;
	cpu->handle = cpu_handle_make(uv_handle_next(uv), cfg->idx, cb->num);
	cb->cpu_handle = cpu->handle;
	cfg->nr_cpus++;
	uv_stat_add(uv, UV_STAT_cpus_live, 1);
out:
	lpv_trace("UV CREATE SEC CPU: handle %llx num %u cpu %llx rc %x",
		  (unsigned long long)cb->guest_handle, cb->num,
		  (unsigned long long)(rc ? 0 : cb->cpu_handle),
		  rc ? rc : UVC_RC_EXECUTED);
	uv_config_put(cfg, UV_GET_WRITE);
	return uv_done(c->cb, rc);
}

int uv_do_destroy_cpu(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct uv_config *cfg;
	struct uv_cpu *cpu;

	cpu = uv_cpu_get(uv, cb->handle, UV_GET_WRITE, &cfg);
	if (!cpu)
		return uv_rc(c->cb, UVC_RC_INV_CHANDLE, 0);
	uv_frames_release(uv, cpu->stor_pfn, cpu->stor_frames);
	memset(cpu, 0, sizeof(*cpu));
	cfg->nr_cpus--;
	uv_stat_add(uv, UV_STAT_cpus_live, -1);
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV DESTROY SEC CPU: cpu %llx rc %x",
		  (unsigned long long)cb->handle, UVC_RC_EXECUTED);
	return uv_ok(c->cb);
}

/* CPU_RESET, CPU_RESET_INITIAL, CPU_RESET_CLEAR: the CPU stops; a clear
 * reset also wipes its UV-held state (the donated CPU storage). */
int uv_do_cpu_reset(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct uv_config *cfg;
	struct uv_cpu *cpu;

	cpu = uv_cpu_get(uv, cb->handle, UV_GET_WRITE, &cfg);
	if (!cpu)
		return uv_rc(c->cb, UVC_RC_INV_CHANDLE, 0);
	cpu->state = PV_CPU_STATE_STP;
	if (cb->header.cmd == UVC_CMD_CPU_RESET_CLEAR)
		for (uint64_t i = 0; i < cpu->stor_frames; i++)
			uv_frame_clear(uv, cpu->stor_pfn + i);
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV CPU RESET %x: cpu %llx rc %x", cb->header.cmd,
		  (unsigned long long)cb->handle, UVC_RC_EXECUTED);
	return uv_ok(c->cb);
}

int uv_do_cpu_set_state(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_cpu_set_state *cb = (struct uv_cb_cpu_set_state *)c->cb;
	struct uv_config *cfg;
	struct uv_cpu *cpu;
	uint16_t rc = 0;
	bool run;

	cpu = uv_cpu_get(uv, cb->cpu_handle, UV_GET_WRITE, &cfg);
	if (!cpu)
		return uv_rc(c->cb, UVC_RC_INV_CHANDLE, 0);
	run = cb->state == PV_CPU_STATE_OPR || cb->state == PV_CPU_STATE_OPR_LOAD;
	if (!run && cb->state != PV_CPU_STATE_STP &&
	    cb->state != PV_CPU_STATE_CHKSTP)
		rc = CSS_RC_BAD_STATE;
	else if (run && cfg->params_set && !cfg->verified)
		rc = CSS_RC_NOT_VERIFIED;	/* unpacked image not checked */
	if (!rc) {
		cpu->state = cb->state;
		if (run)
			cfg->reset_pending = false;
	}
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV CPU SET STATE: cpu %llx state %u rc %x",
		  (unsigned long long)cb->cpu_handle, cb->state,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

int uv_do_prepare_reset(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct uv_config *cfg;
	uint16_t rc = 0;

	cfg = uv_config_get(uv, cb->handle, UV_GET_WRITE);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	/* A config clear reset needs every CPU stopped (pv-ipl stops them
	 * first); until a CPU is started again SIE entry is refused. */
	for (uint32_t n = 0; n <= uv->prof.max_guest_cpu_id; n++) {
		uint8_t st = cfg->cpus[n].state;

		if (cfg->cpus[n].handle && (st == PV_CPU_STATE_OPR ||
					    st == PV_CPU_STATE_OPR_LOAD))
			rc = PRR_RC_CPU_RUNNING;
	}
	if (!rc)
		cfg->reset_pending = true;
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV PREPARE RESET: handle %llx rc %x",
		  (unsigned long long)cb->handle, rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

int uv_do_unshare_all(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_nodata *cb = (struct uv_cb_nodata *)c->cb;
	struct uv_config *cfg;
	uint64_t n = 0;

	cfg = uv_config_get(uv, cb->handle, UV_GET_WRITE);
	if (!cfg)
		return uv_rc(c->cb, UVC_RC_INV_GHANDLE, 0);
	/* The write lock keeps page calls out; the count lets a guest that
	 * never shared skip the walk. */
	for (uint64_t g = 0; g < cfg->nr_gpages &&
	     atomic_load_relaxed(&cfg->nr_shared); g++) {
		uint64_t gw = atomic_load_relaxed(&cfg->gpages[g].word);
		hw_pfn_t pfn = gw & UVG_PFN_MASK;
		uint64_t w;

		if (uvg_state(gw) != UVG_SECURE)
			continue;
		w = uv_frame_lock(uv, pfn);
		if (w & UVF_SHARED) {
			uv_frame_hide(uv, pfn);
			w &= ~(UVF_SHARED | UVF_PINNED);
			atomic_sub_return(&cfg->nr_shared, 1);
			n++;
		}
		uv_frame_unlock(uv, pfn, w);
	}
	uv_config_put(cfg, UV_GET_WRITE);
	lpv_trace("UV SET UNSHARE ALL: handle %llx pages %llu rc %x",
		  (unsigned long long)cb->handle, (unsigned long long)n,
		  UVC_RC_EXECUTED);
	return uv_ok(c->cb);
}

int uv_sie_entry_check(struct uv *uv, uint64_t guest_handle,
		       uint64_t cpu_handle, uint64_t asce)
{
	struct uv_config *cfg;
	struct uv_cpu *cpu;
	int ret = 0;

	cpu = uv_cpu_get(uv, cpu_handle, UV_GET_READ, &cfg);
	if (!cpu)
		return -EINVAL;
	if (cfg->handle != guest_handle || cfg->asce != asce ||
	    cfg->reset_pending ||
	    (cpu->state != PV_CPU_STATE_OPR &&
	     cpu->state != PV_CPU_STATE_OPR_LOAD))
		ret = -EINVAL;
	uv_config_put(cfg, UV_GET_READ);
	return ret;
}

int uv_sie_prefix_check(struct uv *uv, uint64_t guest_handle, uint64_t prefix)
{
	struct uv_config *cfg;
	int ret = 0;

	cfg = uv_config_get(uv, guest_handle, UV_GET_READ);
	if (!cfg)
		return -ENOENT;
	for (int i = 0; i < 2 && !ret; i++) {
		uint64_t gaddr = (prefix & HW_PAGE_MASK) + (uint64_t)i * HW_PAGE_SIZE;
		hw_pfn_t pfn;
		uint64_t w;

		/* Shared or not makes no difference: secure here is all. */
		if (uv_gaddr_to_pfn(uv, cfg, gaddr, &pfn)) {
			ret = UV_ICPT_PV_PREF;
		} else {
			w = uv_frame_peek(uv, pfn);
			if (uvf_state(w) != UV_FRAME_SECURE ||
			    uvf_cfg(w) != cfg->idx ||
			    uvf_gidx(w) != gaddr >> HW_PAGE_SHIFT)
				ret = UV_ICPT_PV_PREF;
		}
	}
	uv_config_put(cfg, UV_GET_READ);
	return ret;
}

int uv_guest_access_check(struct uv *uv, uint64_t guest_handle,
			  uint64_t gaddr, hw_pfn_t pfn, enum hw_pgm_code *pgm)
{
	struct uv_config *cfg;
	uint64_t w;
	int ret = 0;

	if (pfn >= uv->nr_frames)
		return -ERANGE;
	cfg = uv_config_get(uv, guest_handle, UV_GET_READ);
	if (!cfg)
		return -ENOENT;
	w = uv_frame_peek(uv, pfn);
	if (uvf_state(w) == UV_FRAME_SECURE && uvf_cfg(w) == cfg->idx &&
	    uvf_gidx(w) == gaddr >> HW_PAGE_SHIFT) {
		ret = 0;
	} else {
		/*
		 * A page another configuration shared with the host is
		 * host-accessible: to this guest it looks like any
		 * non-secure page (0x3e), not a violation (0x3f).  The
		 * import that resolves it takes it over cleared (MISC) or
		 * is refused until the host exports it first -- why KVM
		 * has export-before-import.  Its data never reaches this
		 * guest either way.
		 */
		bool foreign_shared = uvf_state(w) == UV_FRAME_SECURE &&
				      uvf_cfg(w) != cfg->idx &&
				      (w & UVF_SHARED);

		*pgm = uvf_is_host(w) || foreign_shared ?
			HW_PGM_NON_SECURE_STORAGE_ACCESS :
			HW_PGM_SECURE_STORAGE_VIOLATION;
		ret = -EACCES;
	}
	uv_config_put(cfg, UV_GET_READ);
	return ret;
}
