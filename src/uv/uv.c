// SPDX-License-Identifier: MIT
/*
 * uv.c - the Ultravisor's entry: the command table (generated from the
 * one list, UV_CMDS in uv.h), creation, the UVC instruction (decode,
 * generic checks, failure injection, modelled cost, dispatch), QUI,
 * INIT_UV, the load-normal reset, the caller-side loops and helpers, and
 * stats.
 *
 * Threads: any thread may call uv_call*() concurrently.  This file takes
 * uv->lock only for INIT_UV and the reset; decode, injection counters and
 * stats are lock-free (atomics, per-thread stat shards).  The profile is
 * copied at creation and read-only afterwards.
 *
 * Decode order (reference §6; the unverified parts are marked in
 * docs/uv.md): command known, installed and available to this caller
 * (0x0002) -> UV initialised (0x0003) -> length (0x0005) -> injected
 * failure -> the command's own checks.
 */
#include "uv_internal.h"

#include <sched.h>

#include "lib/trace.h"

/* ---- the command list ---- */

const struct uv_cmd_desc uv_cmds[UV_NR_CMDS] = {
#define UV_CMD_DESC(id, code, name, bit, len, guest, early, cost, fn)	\
	[UV_IDX_##id] = { code, name, bit, len, guest, early, cost, uv_do_##fn },
	UV_CMDS(UV_CMD_DESC)
#undef UV_CMD_DESC
};

int uv_cmd_index(uint16_t cmd)
{
	/* Once per UVC: a switch the compiler turns into a jump table. */
	switch (cmd) {
#define UV_CMD_CASE(id, code, name, bit, len, guest, early, cost, fn)	\
	case code: return UV_IDX_##id;
	UV_CMDS(UV_CMD_CASE)
#undef UV_CMD_CASE
	default: return -1;
	}
}

uint16_t uv_cmd_code(int idx)
{
	return idx >= 0 && idx < UV_NR_CMDS ? uv_cmds[idx].cmd : 0;
}

const char *uv_cmd_name(uint16_t cmd)
{
	int i = uv_cmd_index(cmd);

	return i < 0 ? "unknown" : uv_cmds[i].name;
}

int uv_cmd_lookup(const char *name)
{
	for (int i = 0; i < UV_NR_CMDS; i++)
		if (strcmp(uv_cmds[i].name, name) == 0)
			return i;
	return -1;
}

int uv_cmd_qui_bit(int idx)
{
	return idx >= 0 && idx < UV_NR_CMDS ? uv_cmds[idx].bit : -1;
}

/* ---- stats ---- */

static __thread unsigned int uv_tls_shard = UINT32_MAX;
static unsigned int uv_shard_seq;

struct uv_stat_shard *uv_stat_shard(struct uv *uv)
{
	if (unlikely(uv_tls_shard == UINT32_MAX))
		uv_tls_shard = atomic_add_relaxed(&uv_shard_seq, 1) %
			       UV_STAT_SHARDS;
	return &uv->shards[uv_tls_shard];
}

void uv_stats_get(struct uv *uv, struct uv_stats *out)
{
	uint64_t v[UV_NR_STATS] = { 0 };

	memset(out, 0, sizeof(*out));
	for (int s = 0; s < UV_STAT_SHARDS; s++) {
		struct uv_stat_shard *sh = &uv->shards[s];

		for (int i = 0; i < UV_NR_STATS; i++)
			v[i] += atomic_load_relaxed(&sh->v[i]);
		for (int i = 0; i < UV_NR_CMDS; i++) {
			struct uv_cmd_stats *c = &sh->cmd[i];

			out->cmd[i].ns += atomic_load_relaxed(&c->ns);
			out->cmd[i].data_ns += atomic_load_relaxed(&c->data_ns);
			out->cmd[i].nonsecure += atomic_load_relaxed(&c->nonsecure);
			for (int k = 0; k < 4; k++) {
				uint64_t n = atomic_load_relaxed(&c->cc[k]);

				out->cmd[i].cc[k] += n;
				out->cmd[i].calls += n;
			}
		}
	}
#define UV_STAT_COPY(name, desc) out->name = v[UV_STAT_##name];
	UV_STATS(UV_STAT_COPY)
#undef UV_STAT_COPY
}

void uv_stats_print(struct uv *uv, FILE *f)
{
	struct uv_stats st;

	uv_stats_get(uv, &st);
#define UV_STAT_TEXT(name, desc) \
	fprintf(f, "uv.%-22s %12llu  %s\n", #name, \
		(unsigned long long)st.name, desc);
	UV_STATS(UV_STAT_TEXT)
#undef UV_STAT_TEXT
	for (int i = 0; i < UV_NR_CMDS; i++) {
		const struct uv_cmd_stats *c = &st.cmd[i];

		if (!c->calls)
			continue;
		fprintf(f, "uv.cmd.%-18s %12llu calls  cc0 %llu cc1 %llu "
			"cc2 %llu cc3 %llu  %.0f ns/call (data %.0f; "
			"non-secure %llu)\n",
			uv_cmds[i].name, (unsigned long long)c->calls,
			(unsigned long long)c->cc[0], (unsigned long long)c->cc[1],
			(unsigned long long)c->cc[2], (unsigned long long)c->cc[3],
			(double)c->ns / (double)c->calls,
			(double)c->data_ns / (double)c->calls,
			(unsigned long long)c->nonsecure);
	}
}

void uv_stats_json(struct uv *uv, FILE *f)
{
	struct uv_stats st;
	bool first = true;

	uv_stats_get(uv, &st);
	fputc('{', f);
#define UV_STAT_JSON(name, desc) \
	fprintf(f, "\"%s\":%llu,", #name, (unsigned long long)st.name);
	UV_STATS(UV_STAT_JSON)
#undef UV_STAT_JSON
	fputs("\"profile\":", f);
	lpv_json_str(f, uv->prof.name);
	fputs(",\"cmd\":{", f);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		const struct uv_cmd_stats *c = &st.cmd[i];

		if (!c->calls)
			continue;
		fprintf(f, "%s\"%s\":{\"calls\":%llu,\"cc\":[%llu,%llu,%llu,%llu],"
			"\"ns\":%llu,\"data_ns\":%llu,\"nonsecure\":%llu}",
			first ? "" : ",",
			uv_cmds[i].name, (unsigned long long)c->calls,
			(unsigned long long)c->cc[0], (unsigned long long)c->cc[1],
			(unsigned long long)c->cc[2], (unsigned long long)c->cc[3],
			(unsigned long long)c->ns, (unsigned long long)c->data_ns,
			(unsigned long long)c->nonsecure);
		first = false;
	}
	fputs("}}\n", f);
}

/* ---- failure injection ---- */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The injection that fires for this call, if any.  Counting is per inject
 * line and atomic, so "the nth call" is exact under concurrency and a
 * seeded probability gives the same verdict for the same call number. */
static const struct uv_inject *uv_inject_pick(struct uv *uv, uint16_t cmd)
{
	for (unsigned int i = 0; i < uv->prof.nr_inject; i++) {
		const struct uv_inject *in = &uv->prof.inject[i];
		uint64_t n;

		if (in->cmd != cmd)
			continue;
		n = atomic_add_return(&uv->inject_calls[i], 1);
		if (in->nth) {
			if (n == in->nth)
				return in;
		} else {
			uint64_t r = splitmix64(in->seed ^ (n * 0xd1b54a32d192ed03ULL));

			if ((double)(r >> 11) * 0x1.0p-53 < in->prob)
				return in;
		}
	}
	return NULL;
}

/* ---- QUI and INIT ---- */

int uv_do_qui(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_qui q;
	bool guest = c->guest_cpu != 0;
	size_t n = c->cb->len < sizeof(q) ? c->cb->len : sizeof(q);

	memset(&q, 0, sizeof(q));
	for (int i = 0; i < UV_NR_CMDS; i++) {
		const struct uv_cmd_desc *d = &uv_cmds[i];

		if (d->bit < 0 || !uv->prof.installed[i])
			continue;
		/* Each side sees the calls it may issue (U4, G2); QUI both. */
		if (d->guest != guest && i != UV_IDX_QUI)
			continue;
		q.inst_calls_list[d->bit / 64] |= uv_bit_mask((unsigned)d->bit);
	}
	q.uv_base_stor_len = uv->prof.uv_base_stor_len;
	q.conf_base_phys_stor_len = uv->prof.conf_base_phys_stor_len;
	q.conf_base_virt_stor_len = uv->prof.conf_base_virt_stor_len;
	q.conf_virt_var_stor_len = uv->prof.conf_virt_var_stor_len;
	q.cpu_stor_len = uv->prof.cpu_stor_len;
	q.max_num_sec_conf = uv->prof.max_num_sec_conf;
	q.max_guest_stor_addr = uv->prof.max_guest_stor_addr;
	q.max_guest_cpu_id = uv->prof.max_guest_cpu_id;
	q.uv_feature_indications = uv->prof.features;
	q.supp_se_hdr_versions = uv_bit_mask(0);	/* our header v1 */
	memcpy((char *)c->cb + sizeof(q.header), (char *)&q + sizeof(q.header),
	       n - sizeof(q.header));
	/* Short of the whole block: the data that fits, and "more data". */
	if (c->cb->len < sizeof(q))
		return uv_rc(c->cb, UVC_RC_MORE_DATA, 0);
	return uv_ok(c->cb);
}

bool uv_profile_init_fits(const struct uv_profile *p, uint64_t mem_bytes,
			  uint64_t *origin)
{
	uint64_t len = (p->uv_base_stor_len + HW_PAGE_SIZE - 1) & HW_PAGE_MASK;
	uint64_t top;

	mem_bytes &= HW_PAGE_MASK;
	if (len > mem_bytes)
		return false;
	top = (mem_bytes - len) & ~(UV_INIT_STOR_ALIGN - 1);
	if (top < p->init_min_origin)
		return false;
	if (origin)
		*origin = top;
	return true;
}

int uv_do_init(struct uv *uv, struct uv_call_ctx *c)
{
	struct uv_cb_init *cb = (struct uv_cb_init *)c->cb;
	/* Low bits are ignored, not errors (reference §3.3). */
	uint64_t origin = cb->stor_origin & ~(UV_INIT_STOR_ALIGN - 1);
	uint64_t len = cb->stor_len & HW_PAGE_MASK;
	uint64_t mem = uv->nr_frames << HW_PAGE_SHIFT;
	uint16_t rc = 0;

	lpv_mutex_lock(&uv->lock);
	if (uv->initialised)
		rc = 0x0101;
	else if (len < uv->prof.uv_base_stor_len)
		rc = 0x0103;
	else if (origin >= mem)
		rc = 0x0104;
	else if (len > mem - origin)
		rc = 0x0105;
	else if (origin < uv->prof.init_min_origin)
		rc = 0x0108;
	else if (!uv_frames_donate(uv, origin >> HW_PAGE_SHIFT,
				   len >> HW_PAGE_SHIFT, UV_FRAME_DONATED_UV, 0))
		rc = 0x0106;	/* our choice: storage not available */
	if (!rc) {
		uv->base_pfn = origin >> HW_PAGE_SHIFT;
		uv->base_frames = len >> HW_PAGE_SHIFT;
		atomic_store_release(&uv->initialised, true);
	}
	lpv_mutex_unlock(&uv->lock);
	lpv_trace("UV INIT: origin %llx len %llx rc %x",
		  (unsigned long long)origin, (unsigned long long)len,
		  rc ? rc : UVC_RC_EXECUTED);
	return uv_done(c->cb, rc);
}

void uv_machine_reset(struct uv *uv)
{
	lpv_mutex_lock(&uv->lock);
	uv_configs_reset_all(uv);
	/* Whatever is left (UV base storage, stale export hints) goes back to
	 * the host cleared: a load-normal reset leaves nothing secret. */
	for (hw_pfn_t pfn = 0; pfn < uv->nr_frames; pfn++) {
		uint64_t w = uv_frame_peek(uv, pfn);

		if (w != 0)
			uv_frames_release(uv, pfn, 1);
	}
	uv->base_pfn = 0;
	uv->base_frames = 0;
	atomic_store_release(&uv->initialised, false);
	lpv_mutex_unlock(&uv->lock);
	lpv_trace("UV RESET: load normal");
}

/* ---- the instruction ---- */

static int uv_dispatch(struct uv *uv, struct uv_call_ctx *c, bool guest)
{
	struct uv_cb_header *cb = c->cb;
	const struct uv_cmd_desc *d;
	const struct uv_inject *in;
	int cc;

	if (c->cmd_idx < 0 || !uv->prof.installed[c->cmd_idx])
		return uv_rc(cb, UVC_RC_INV_CMD, 0);
	d = &uv_cmds[c->cmd_idx];
	if (d->guest != guest && c->cmd_idx != UV_IDX_QUI)
		return uv_rc(cb, UVC_RC_INV_CMD, 0);
	if (!d->before_init && !atomic_load_acquire(&uv->initialised))
		return uv_rc(cb, UVC_RC_INV_STATE, 0);
	if (c->cmd_idx == UV_IDX_QUI ? cb->len < d->len : cb->len != d->len)
		return uv_rc(cb, UVC_RC_INV_LEN, 0);
	in = uv->prof.nr_inject ? uv_inject_pick(uv, cb->cmd) : NULL;
	if (in) {
		uv_stat_add(uv, UV_STAT_injected, 1);
		lpv_trace("UV INJECT: cmd %x cc %u rc %x rrc %x", cb->cmd,
			  in->cc, in->rc, in->rrc);
		if (in->cc == UVC_CC_BUSY) {
			cb->rc = 0;
			cb->rrc = 0;
			return UVC_CC_BUSY;
		}
		if (!(in->rc & UVC_RC_NEED_DESTROY) ||
		    c->cmd_idx != UV_IDX_CREATE_CONF)
			return uv_rc(cb, in->rc, in->rrc);
		/* "Failed, but a handle was returned and must be destroyed":
		 * really create it so the caller's destroy path is real. */
		cc = d->fn(uv, c);
		if (cc == UVC_CC_OK)
			cc = uv_rc(cb, in->rc, in->rrc);
		return cc;
	}
	return d->fn(uv, c);
}

_Thread_local bool uv_data_timed;
_Thread_local uint64_t uv_data_ns;

static int uv_call_common(struct uv *uv, struct uv_cb_header *cb,
			  uint64_t guest_cpu)
{
	struct uv_call_ctx c = { .cb = cb, .cmd_idx = uv_cmd_index(cb->cmd),
				 .guest_cpu = guest_cpu };
	uint64_t t0, t1, end, own, want, data0 = uv_data_ns;
	struct uv_stat_shard *sh;
	int cc;

	uv_data_timed = uv->cost_modelled;
	t0 = hw_now_ns();
	cc = uv_dispatch(uv, &c, guest_cpu != 0);
	if (c.cmd_idx < 0)
		return cc;
	/*
	 * The modelled firmware time, on the caller's CPU: the fixed cost of
	 * the command plus any per-unit extra.  The call's own bookkeeping
	 * so far (all but its data work) stands in for part of that time, so
	 * only the rest is spent; data work comes on top (uv_data_begin).
	 * The spin's last clock read ends the call's time.  An export or
	 * destroy that found its frame not secure did no more than enter
	 * and look the frame up: it costs that overhead instead.
	 */
	t1 = hw_now_ns();
	want = c.nonsecure ? uv->prof.nonsecure_call_ns :
			     uv->prof.cost_ns[c.cmd_idx] + c.extra_ns;
	own = t1 - t0 - (uv_data_ns - data0);
	end = want > own ? hw_cost_spend_since(t1, want - own) : 0;
	if (!end)
		end = t1;
	trace_batch(TRACE_PID_UV, uv_cmds[c.cmd_idx].name, t0, end);
	sh = uv_stat_shard(uv);
	/* calls = the sum of cc[]: one counter fewer on every call. */
	atomic_add_relaxed(&sh->cmd[c.cmd_idx].cc[cc & 3], 1);
	atomic_add_relaxed(&sh->cmd[c.cmd_idx].ns, end - t0);
	if (c.nonsecure)
		atomic_add_relaxed(&sh->cmd[c.cmd_idx].nonsecure, 1);
	if (uv_data_ns != data0)
		atomic_add_relaxed(&sh->cmd[c.cmd_idx].data_ns,
				   uv_data_ns - data0);
	return cc;
}

int uv_call_once(struct uv *uv, struct uv_cb_header *cb)
{
	return uv_call_common(uv, cb, 0);
}

int uv_call(struct uv *uv, struct uv_cb_header *cb)
{
	int cc;

	do
		cc = uv_call_once(uv, cb);
	while (cc > UVC_CC_ERROR);
	return cc;
}

int uv_call_sched(struct uv *uv, struct uv_cb_header *cb)
{
	int cc;

	for (;;) {
		cc = uv_call_once(uv, cb);
		if (cc <= UVC_CC_ERROR)
			return cc;
		sched_yield();
	}
}

int uv_guest_call(struct uv *uv, uint64_t cpu_handle, struct uv_cb_header *cb)
{
	/* A guest always runs on a secure CPU; handle 0 would be the host. */
	if (WARN_ON_ONCE(cpu_handle == 0))
		return uv_rc(cb, UVC_RC_INV_CHANDLE, 0);
	return uv_call_common(uv, cb, cpu_handle);
}

int uv_cc_errno(int cc, uint16_t rc)
{
	switch (cc) {
	case UVC_CC_OK:
		return 0;
	case UVC_CC_ERROR:
		return rc == UVC_RC_NOT_MAPPED ? -ENXIO : -EINVAL;
	case UVC_CC_BUSY:
	case UVC_CC_PARTIAL:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* ---- host-side helpers ---- */

static void uv_out_rc(const struct uv_cb_header *h, uint16_t *rc, uint16_t *rrc)
{
	if (rc)
		*rc = h->rc;
	if (rrc)
		*rrc = h->rrc;
}

int uv_cmd_nodata(struct uv *uv, uint64_t handle, uint16_t cmd,
		  uint16_t *rc, uint16_t *rrc)
{
	struct uv_cb_nodata cb = {
		.header.len = sizeof(cb), .header.cmd = cmd, .handle = handle,
	};
	int cc;

	WARN_ON_ONCE(!handle);
	cc = uv_call_sched(uv, &cb.header);
	uv_out_rc(&cb.header, rc, rrc);
	return cc ? -EINVAL : 0;
}

static int uv_cfs(struct uv *uv, uint16_t cmd, hw_pfn_t pfn, uint16_t *rc,
		  uint16_t *rrc)
{
	struct uv_cb_cfs cb = {
		.header.len = sizeof(cb), .header.cmd = cmd,
		.paddr = pfn << HW_PAGE_SHIFT,
	};
	int cc = uv_call(uv, &cb.header);

	uv_out_rc(&cb.header, rc, rrc);
	return uv_cc_errno(cc, cb.header.rc);
}

int uv_convert_from_secure(struct uv *uv, hw_pfn_t pfn, uint16_t *rc,
			   uint16_t *rrc)
{
	return uv_cfs(uv, UVC_CMD_CONV_FROM_SEC_STOR, pfn, rc, rrc);
}

int uv_destroy_page(struct uv *uv, hw_pfn_t pfn, uint16_t *rc, uint16_t *rrc)
{
	return uv_cfs(uv, UVC_CMD_DESTR_SEC_STOR, pfn, rc, rrc);
}

int uv_pin_shared(struct uv *uv, hw_pfn_t pfn, uint16_t *rc, uint16_t *rrc)
{
	return uv_cfs(uv, UVC_CMD_PIN_PAGE_SHARED, pfn, rc, rrc);
}

int uv_convert_to_secure(struct uv *uv, uint64_t guest_handle, uint64_t gaddr,
			 uint16_t *rc, uint16_t *rrc)
{
	struct uv_cb_cts cb = {
		.header.len = sizeof(cb), .header.cmd = UVC_CMD_CONV_TO_SEC_STOR,
		.guest_handle = guest_handle, .gaddr = gaddr,
	};
	int cc = uv_call_once(uv, &cb.header);

	uv_out_rc(&cb.header, rc, rrc);
	return uv_cc_errno(cc, cb.header.rc);
}

int uv_query_info(struct uv *uv, struct uv_info *info)
{
	struct uv_cb_qui q = {
		.header.len = sizeof(q), .header.cmd = UVC_CMD_QUI,
	};
	int cc = uv_call(uv, &q.header);

	if (cc && q.header.rc != UVC_RC_MORE_DATA)
		return -EIO;
	memcpy(info->inst_calls_list, q.inst_calls_list,
	       sizeof(info->inst_calls_list));
	info->uv_base_stor_len = q.uv_base_stor_len;
	info->guest_base_stor_len = q.conf_base_phys_stor_len;
	info->guest_virt_base_stor_len = q.conf_base_virt_stor_len;
	info->guest_virt_var_stor_len = q.conf_virt_var_stor_len;
	info->guest_cpu_stor_len = q.cpu_stor_len;
	info->max_sec_stor_addr = q.max_guest_stor_addr & HW_PAGE_MASK;
	info->max_num_sec_conf = q.max_num_sec_conf;
	info->max_guest_cpu_id = q.max_guest_cpu_id;
	info->uv_feature_indications = q.uv_feature_indications;
	return 0;
}

bool uv_info_has_call(const struct uv_info *info, unsigned int bit)
{
	return bit < 256 && (info->inst_calls_list[bit / 64] & uv_bit_mask(bit));
}

bool uv_info_has_feature(const struct uv_info *info, unsigned int bit)
{
	return bit < 64 && (info->uv_feature_indications & uv_bit_mask(bit));
}

uint64_t uv_info_var_stor_len(const struct uv_info *info, uint64_t guest_len)
{
	uint64_t per_mb = info->guest_virt_var_stor_len * (guest_len >> 20);

	return info->guest_virt_base_stor_len +
	       ((per_mb + HW_PAGE_SIZE - 1) & HW_PAGE_MASK);
}

/* ---- creation ---- */

int uv_create(const struct uv_params *params, struct uv **out)
{
	struct uv *uv;
	int ret;

	*out = NULL;
	if (!params || !params->hw)
		return -EINVAL;
	uv = aligned_alloc(64, (sizeof(*uv) + 63) & ~(size_t)63);
	if (!uv)
		return -ENOMEM;
	memset(uv, 0, sizeof(*uv));
	uv->hw = params->hw;
	if (params->profile)
		uv->prof = *params->profile;
	else if (uv_profile_builtin("default", &uv->prof))
		BUG_ON(1);
	uv->cost_modelled = uv->prof.destroy_conf_page_ns != 0 ||
			    uv->prof.nonsecure_call_ns != 0;
	for (int i = 0; i < UV_NR_CMDS; i++)
		uv->cost_modelled |= uv->prof.cost_ns[i] != 0;
	uv->nr_frames = hw_nr_frames(uv->hw);
	ret = -E2BIG;
	if (uv->nr_frames > (1ULL << 52) >> HW_PAGE_SHIFT)
		goto err_free;
	ret = -ENOMEM;
	uv->frames = calloc(uv->nr_frames, sizeof(*uv->frames));
	if (!uv->frames)
		goto err_free;
	lpv_mutex_init(&uv->lock);
	ret = uv_crypto_init(uv, params->host_key);
	if (ret)
		goto err_frames;
	uv_configs_init(uv);
	if (!uv->cfgs) {
		ret = -ENOMEM;
		goto err_crypto;
	}
	*out = uv;
	return 0;

err_crypto:
	uv_crypto_deinit(uv);
err_frames:
	lpv_mutex_deinit(&uv->lock);
	free(uv->frames);
err_free:
	free(uv);
	return ret;
}

void uv_destroy(struct uv *uv)
{
	if (!uv)
		return;
	uv_machine_reset(uv);
	uv_configs_deinit(uv);
	uv_crypto_deinit(uv);
	lpv_mutex_deinit(&uv->lock);
	free(uv->frames);
	free(uv);
}

const struct uv_profile *uv_profile(const struct uv *uv)
{
	return &uv->prof;
}

struct hw_machine *uv_hw(const struct uv *uv)
{
	return uv->hw;
}

void uv_host_key_public(const struct uv *uv, uint8_t pub[UV_HOST_KEY_LEN])
{
	memcpy(pub, uv->host_pub, UV_HOST_KEY_LEN);
}
