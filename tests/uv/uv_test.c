// SPDX-License-Identifier: MIT
/*
 * uv_test.c - the helpers of uv_test.h.  Single-threaded setup code; the
 * stress tests use the wrappers from several threads, which is fine as
 * long as each thread checks its own control block (t->rc is then only
 * meaningful on the calling thread's own calls in single-threaded tests).
 */
#include "uv_test.h"

void uvt_profile(struct uv_profile *p, const char *name)
{
	ASSERT_OK(uv_profile_builtin(name ? name : "default", p));
	p->init_min_origin = 0;
}

void uvt_setup(struct uvt *t, uint64_t mem, const struct uv_profile *prof,
	       bool init)
{
	struct hw_config hc = { .mem_bytes = mem, .protect = HW_PROTECT_AUTO };
	struct uv_params up = { 0 };

	memset(t, 0, sizeof(*t));
	if (prof)
		t->prof = *prof;
	else
		uvt_profile(&t->prof, "default");
	ASSERT_OK(hw_machine_create(&hc, &t->hw));
	up.hw = t->hw;
	up.profile = &t->prof;
	ASSERT_OK(uv_create(&up, &t->uv));
	t->next_pfn = 16;	/* keep the lowcore area out of the way */
	if (init)
		ASSERT_UV_OK(t, uvt_init(t));
}

void uvt_finish(struct uvt *t)
{
	ASSERT_OK(uv_check(t->uv));
	uv_destroy(t->uv);
	ASSERT_OK(hw_check(t->hw));
	hw_machine_destroy(t->hw);
}

hw_pfn_t uvt_alloc(struct uvt *t, uint64_t frames, uint64_t align)
{
	hw_pfn_t pfn = (t->next_pfn + align - 1) / align * align;

	ASSERT_LE(pfn + frames, hw_nr_frames(t->hw));
	t->next_pfn = pfn + frames;
	return pfn;
}

int uvt_call(struct uvt *t, void *cb)
{
	struct uv_cb_header *h = cb;
	int cc = uv_call(t->uv, h);

	t->rc = h->rc;
	t->rrc = h->rrc;
	return cc;
}

int uvt_init(struct uvt *t)
{
	struct uv_cb_init cb = {
		.header.len = sizeof(cb), .header.cmd = UVC_CMD_INIT_UV,
	};
	hw_pfn_t min = t->prof.init_min_origin >> HW_PAGE_SHIFT;
	uint64_t frames = t->prof.uv_base_stor_len >> HW_PAGE_SHIFT;

	if (t->next_pfn < min)
		t->next_pfn = min;
	cb.stor_origin = uvt_alloc(t, frames, 256) << HW_PAGE_SHIFT;
	cb.stor_len = t->prof.uv_base_stor_len;
	return uvt_call(t, &cb);
}

void uvt_guest_prepare(struct uvt *t, struct uvt_guest *g, uint64_t msl)
{
	uint64_t var_len = t->prof.conf_base_virt_stor_len +
		((t->prof.conf_virt_var_stor_len * (msl >> 20) + 4095) & ~4095ULL);

	memset(g, 0, sizeof(*g));
	g->msl = msl;
	g->asce = uvt_alloc(t, 4, 4);
	g->base = uvt_alloc(t, t->prof.conf_base_phys_stor_len >> 12, 4);
	g->var_frames = var_len >> 12;
	g->var = uvt_alloc(t, g->var_frames, 1);
	g->sca = uvt_alloc(t, 4, 4);
	g->mem = uvt_alloc(t, msl >> 12, 1);
}

void uvt_cgc_fill(struct uvt *t, struct uvt_guest *g, struct uv_cb_cgc *cb)
{
	memset(cb, 0, sizeof(*cb));
	cb->header.len = sizeof(*cb);
	cb->header.cmd = UVC_CMD_CREATE_SEC_CONF;
	cb->guest_stor_origin = 0;
	cb->guest_stor_len = g->msl;
	cb->guest_asce = (g->asce << 12) | UV_ASCE_P | 0x0c | 3;
	cb->guest_sca = g->sca << 12;
	cb->conf_base_stor_origin = g->base << 12;
	cb->conf_virt_stor_origin = (uintptr_t)hw_host_page(t->hw, g->var);
}

int uvt_translate(void *ctx, uint64_t gaddr, hw_pfn_t *pfn)
{
	struct uvt_guest *g = ctx;

	if (g->unmapped || gaddr >= g->msl)
		return -EFAULT;
	*pfn = g->mem + (gaddr >> 12);
	return 0;
}

void uvt_guest_create(struct uvt *t, struct uvt_guest *g, uint64_t msl)
{
	struct uv_cb_cgc cb;

	uvt_guest_prepare(t, g, msl);
	uvt_cgc_fill(t, g, &cb);
	ASSERT_UV_OK(t, uvt_call(t, &cb));
	ASSERT_NE(cb.guest_handle, 0);
	g->handle = cb.guest_handle;
	ASSERT_OK(uv_config_set_translate(t->uv, g->handle, uvt_translate, g));
}

uint64_t uvt_cpu_create(struct uvt *t, struct uvt_guest *g, uint16_t num)
{
	struct uv_cb_csc cb = {
		.header.len = sizeof(cb), .header.cmd = UVC_CMD_CREATE_SEC_CPU,
		.guest_handle = g->handle, .num = num,
	};

	cb.stor_origin = uvt_alloc(t, t->prof.cpu_stor_len >> 12, 1) << 12;
	cb.state_origin = uvt_alloc(t, 1, 1) << 12;
	ASSERT_UV_OK(t, uvt_call(t, &cb));
	ASSERT_NE(cb.cpu_handle, 0);
	return cb.cpu_handle;
}

int uvt_nodata(struct uvt *t, uint16_t cmd, uint64_t handle)
{
	struct uv_cb_nodata cb = {
		.header.len = sizeof(cb), .header.cmd = cmd, .handle = handle,
	};

	return uvt_call(t, &cb);
}

int uvt_import(struct uvt *t, struct uvt_guest *g, uint64_t gaddr)
{
	struct uv_cb_cts cb = {
		.header.len = sizeof(cb), .header.cmd = UVC_CMD_CONV_TO_SEC_STOR,
		.guest_handle = g->handle, .gaddr = gaddr,
	};

	return uvt_call(t, &cb);
}

int uvt_cfs(struct uvt *t, uint16_t cmd, hw_pfn_t pfn)
{
	struct uv_cb_cfs cb = {
		.header.len = sizeof(cb), .header.cmd = cmd, .paddr = pfn << 12,
	};

	return uvt_call(t, &cb);
}

int uvt_destroy_conf(struct uvt *t, uint64_t handle)
{
	struct uv_cb_nodata cb = {
		.header.len = sizeof(cb), .header.cmd = UVC_CMD_DESTROY_SEC_CONF,
		.handle = handle,
	};
	int cc = uv_call_sched(t->uv, &cb.header);

	t->rc = cb.header.rc;
	t->rrc = cb.header.rrc;
	return cc;
}

int uvt_guest_share(struct uvt *t, uint64_t cpu, uint16_t cmd, uint64_t gaddr)
{
	struct uv_cb_share cb = {
		.header.len = sizeof(cb), .header.cmd = cmd, .paddr = gaddr,
	};
	int cc = uv_guest_call(t->uv, cpu, &cb.header);

	t->rc = cb.header.rc;
	t->rrc = cb.header.rrc;
	return cc;
}

static int uvt_fault_handler(void *ctx, const struct hw_pgm_info *info)
{
	struct uvt *t = ctx;

	__atomic_add_fetch(&t->faults, 1, __ATOMIC_RELAXED);
	t->fault_pfn = info->pfn;
	return -EFAULT;		/* unresolved: the checked copy fails */
}

void uvt_record_faults(struct uvt *t)
{
	hw_pgm_register(t->hw, HW_PGM_SECURE_STORAGE_ACCESS, uvt_fault_handler,
			t);
}

bool uvt_host_can_read(struct uvt *t, hw_pfn_t pfn)
{
	uint64_t v;
	int faults = t->faults;
	int r = hw_host_read(t->hw, pfn, 0, &v, sizeof(v));

	if (r) {
		ASSERT_EQ(r, -EFAULT);
		ASSERT_EQ(t->faults, faults + 1);
		ASSERT_UEQ(t->fault_pfn, pfn);
	}
	return r == 0;
}
