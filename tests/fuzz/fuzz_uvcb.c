// SPDX-License-Identifier: MIT
/*
 * fuzz_uvcb.c - libFuzzer target for the UVC decoder: the input is a
 * sequence of control blocks (header + fields, lengths and commands from
 * the fuzzer, handles and addresses steered towards live objects part of
 * the time) issued against one small machine with a UV, from the host and
 * from a guest CPU.  Whatever the input, no call may crash, every call must
 * answer a condition code 0..3 (or the guest intercept), and uv_check()
 * must hold after each input.  The machine and UV are rebuilt per input so
 * inputs are independent.
 *
 * Addresses of host-view frames are computed from the view's base, never
 * taken from hw_host_page(): that is the host's checked access, and a
 * frame the fuzzer has already donated to the UV is protected -- asking
 * for it would be the harness touching secure storage (an unresolved
 * 0x3d), not the UV failing.  The UV checks every address it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "uv/uv.h"

#define FZ_MEM (8ULL << 20)
#define FZ_GUEST_PAGES 64

struct fz {
	struct hw_machine *hw;
	struct uv *uv;
	uint64_t handles[4], cpus[4];
	hw_pfn_t gmem;
	uintptr_t host_view;	/* frame 0's host-view address */
};

/* The host-view address of @pfn, without accessing it. */
static uint64_t fz_host_addr(const struct fz *f, hw_pfn_t pfn)
{
	return f->host_view + (pfn << 12);
}

static int fz_translate(void *ctx, uint64_t gaddr, hw_pfn_t *pfn)
{
	struct fz *f = ctx;

	if (gaddr >= FZ_GUEST_PAGES * 4096ULL)
		return -1;
	*pfn = f->gmem + (gaddr >> 12);
	return 0;
}

static uint64_t take(const uint8_t **p, size_t *n, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t)**p << (8 * i);
	return v;
}

/* Steer a 64-bit field: raw, a live handle, or an in-memory address. */
static uint64_t steer(struct fz *f, uint64_t raw, uint8_t how)
{
	switch (how & 7) {
	case 0: return f->handles[raw & 3];
	case 1: return f->cpus[raw & 3];
	case 2: return (raw % (FZ_MEM >> 12)) << 12;
	case 3: return fz_host_addr(f, raw % (FZ_MEM >> 12));
	case 4: return (raw % FZ_GUEST_PAGES) << 12;
	default: return raw;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t cmds[] = {
		0x0001, 0x000f, 0x0100, 0x0101, 0x0102, 0x0120, 0x0121, 0x0200,
		0x0201, 0x0202, 0x0300, 0x0301, 0x0302, 0x0310, 0x0311, 0x0320,
		0x0321, 0x0330, 0x0340, 0x0341, 0x0342, 0x1000, 0x1001, 0x1020,
	};
	struct hw_config hc = { .mem_bytes = FZ_MEM, .protect = HW_PROTECT_SOFT };
	struct uv_params up = { 0 };
	struct uv_profile prof;
	struct fz f = { 0 };
	int ncalls = 0;

	if (uv_profile_builtin("zero", &prof))
		abort();
	prof.init_min_origin = 0;
	prof.destroy_batch = 8;
	if (size && (data[0] & 1))	/* old firmware paths too */
		if (uv_profile_builtin("old", &prof) == 0) {
			prof.init_min_origin = 0;
			for (int i = 0; i < UV_NR_CMDS; i++)
				prof.cost_ns[i] = 0;
			prof.destroy_conf_page_ns = 0;
			prof.nonsecure_call_ns = 0;
		}
	if (hw_machine_create(&hc, &f.hw))
		abort();
	up.hw = f.hw;
	up.profile = &prof;
	if (uv_create(&up, &f.uv))
		abort();
	f.gmem = (FZ_MEM >> 12) - FZ_GUEST_PAGES;
	/* Nothing is protected yet: frame 0 may be asked for. */
	f.host_view = (uintptr_t)hw_host_page(f.hw, 0);

	while (size >= 4 && ncalls++ < 64) {
		uint64_t buf[0x200 / 8];
		struct uv_cb_header *h = (void *)buf;
		uint8_t sel = (uint8_t)take(&data, &size, 1);
		uint8_t steer_bits = (uint8_t)take(&data, &size, 1);
		int cc;

		memset(buf, 0, sizeof(buf));
		h->cmd = sel & 0x80 ? (uint16_t)take(&data, &size, 2) :
			 cmds[sel % (sizeof(cmds) / sizeof(cmds[0]))];
		h->len = (uint16_t)take(&data, &size, 2);
		if (!(steer_bits & 0x80)) {	/* mostly: the right length */
			static const struct { uint16_t cmd, len; } lens[] = {
				{ 1, 0x120 }, { 0xf, 0x48 }, { 0x100, 0x80 },
				{ 0x101, 0x40 }, { 0x102, 0x48 }, { 0x120, 0x60 },
				{ 0x121, 0x40 }, { 0x200, 0x28 }, { 0x201, 0x20 },
				{ 0x202, 0x20 }, { 0x300, 0x50 }, { 0x301, 0x50 },
				{ 0x302, 0x40 }, { 0x310, 0x40 }, { 0x311, 0x40 },
				{ 0x320, 0x40 }, { 0x321, 0x40 }, { 0x330, 0x50 },
				{ 0x340, 0x40 }, { 0x341, 0x20 }, { 0x342, 0x28 },
				{ 0x1000, 0x30 }, { 0x1001, 0x30 }, { 0x1020, 0x188 },
			};
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
				if (lens[i].cmd == h->cmd)
					h->len = lens[i].len;
		}
		if (h->len > sizeof(buf))
			h->len = sizeof(buf);
		/* Fields after the header, 8 bytes each, some steered. */
		for (unsigned int i = 1; i < 10 && size; i++) {
			uint64_t raw = take(&data, &size, 8);

			buf[i] = (steer_bits >> (i % 7)) & 1 ?
				 steer(&f, raw, (uint8_t)(raw >> 56)) : raw;
		}
		if (h->cmd == UVC_CMD_CREATE_SEC_CONF && (steer_bits & 0x40)) {
			struct uv_cb_cgc *c = (void *)buf;
			hw_pfn_t base = 256 + (steer_bits & 7) * 64;

			c->guest_stor_len = 1ULL << 20;
			c->guest_stor_origin = 0;
			c->guest_asce = (base << 12) | UV_ASCE_P | 3;
			c->conf_base_stor_origin = (base + 8) << 12;
			c->conf_virt_stor_origin = fz_host_addr(&f, base + 16);
			c->guest_sca = (base + 40) << 12;
		}
		if ((h->cmd & 0xf000) == 0x1000 && f.cpus[sel & 3])
			cc = uv_guest_call(f.uv, f.cpus[sel & 3], h);
		else
			cc = uv_call_once(f.uv, h);
		if (cc < 0 || cc > UVC_GUEST_INTERCEPT)
			abort();
		if (cc == 0 && h->cmd == UVC_CMD_CREATE_SEC_CONF) {
			uint64_t hd = ((struct uv_cb_cgc *)buf)->guest_handle;

			f.handles[sel & 3] = hd;
			if (uv_config_set_translate(f.uv, hd, fz_translate, &f))
				abort();
		}
		if (cc == 0 && h->cmd == UVC_CMD_CREATE_SEC_CPU)
			f.cpus[sel & 3] = ((struct uv_cb_csc *)buf)->cpu_handle;
		if (h->cmd == UVC_CMD_INIT_UV && (steer_bits & 0x20)) {
			struct uv_cb_init in = { .header.len = sizeof(in),
				.header.cmd = UVC_CMD_INIT_UV,
				.stor_origin = 1 << 20,
				.stor_len = prof.uv_base_stor_len };
			(void)uv_call(f.uv, &in.header);
		}
	}
	if (uv_check(f.uv))
		abort();
	uv_destroy(f.uv);
	if (hw_check(f.hw))
		abort();
	hw_machine_destroy(f.hw);
	return 0;
}
