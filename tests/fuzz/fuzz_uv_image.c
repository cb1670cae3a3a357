// SPDX-License-Identifier: MIT
/*
 * fuzz_uv_image.c - libFuzzer target for the UV's SE-header parser behind
 * SET_SEC_CONF_PARAMS (src/uv/uv_image.c).  Two kinds of input: raw bytes
 * as a header, and a valid header for this UV with fuzzer-chosen bytes
 * flipped (and optionally a fuzzer-chosen length), so the cryptographic
 * paths are reached too.  The call must never crash, must succeed only on
 * the untouched valid header, and must otherwise answer one of the
 * documented rcs (0x103, 0x104, 0x106, 0x108); uv_check() holds after.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "uv/uv.h"

#define FZ_MEM (4ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fz_host_key[UV_HOST_KEY_LEN] = {
	0x42, 0x13, 0x37, 0x99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t valid[4096];
	static size_t valid_len;
	struct hw_config hc = { .mem_bytes = FZ_MEM, .protect = HW_PROTECT_SOFT };
	struct uv_params up = { .host_key = fz_host_key };
	struct uv_cb_ssc ssc = { .header.len = sizeof(ssc),
		.header.cmd = UVC_CMD_SET_SEC_CONF_PARAMS };
	struct uv_cb_init in = { .header.len = sizeof(in),
		.header.cmd = UVC_CMD_INIT_UV, .stor_origin = 1 << 20 };
	struct uv_cb_cgc cgc = { .header.len = sizeof(cgc),
		.header.cmd = UVC_CMD_CREATE_SEC_CONF };
	struct hw_machine *hw;
	struct uv_profile prof;
	struct uv *uv;
	uint8_t *hdr;
	size_t len;
	int cc;

	if (!valid_len) {
		uint8_t pub[1][UV_HOST_KEY_LEN];
		uint64_t psw[2] = { 1, 2 };
		struct uv_image_builder *b;

		valid_len = sizeof(valid);
		if (uv_host_key_derive_public(fz_host_key, pub[0]) ||
		    uv_image_builder_create(pub, 1, psw, &b) ||
		    uv_image_builder_header(b, valid, &valid_len))
			abort();
		uv_image_builder_destroy(b);
	}
	if (uv_profile_builtin("zero", &prof))
		abort();
	prof.init_min_origin = 0;
	if (hw_machine_create(&hc, &hw))
		abort();
	up.hw = hw;
	up.profile = &prof;
	if (uv_create(&up, &uv))
		abort();
	in.stor_len = prof.uv_base_stor_len;
	cgc.guest_stor_len = 1 << 20;
	cgc.guest_asce = (512ULL << 12) | UV_ASCE_P | 3;
	cgc.conf_base_stor_origin = 520ULL << 12;
	cgc.conf_virt_stor_origin = (uintptr_t)hw_host_page(hw, 540);
	cgc.guest_sca = 600ULL << 12;
	if (uv_call(uv, &in.header) || uv_call(uv, &cgc.header))
		abort();
	/* The header lives in frames 700.. of the host view (4 frames). */
	hdr = hw_host_page(hw, 700);
	if (size && (data[0] & 1)) {
		memcpy(hdr, valid, valid_len);
		len = valid_len;
		for (size_t i = 1; i + 2 < size; i += 3)	/* (offset, xor) */
			hdr[(data[i] | data[i + 1] << 8) % valid_len] ^= data[i + 2];
		if (size >= 3 && (data[0] & 2))
			len = (data[size - 1] | (size_t)data[size - 2] << 8) % 16384;
	} else {
		len = size > 16384 ? 16384 : size;
		memcpy(hdr, data, len);
	}
	ssc.guest_handle = cgc.guest_handle;
	ssc.sec_header_origin = (uintptr_t)hdr;
	ssc.sec_header_len = (uint32_t)len;
	cc = uv_call(uv, &ssc.header);
	if (cc == 0) {
		if (len != valid_len || memcmp(hdr, valid, len))
			abort();	/* a modified header was accepted */
	} else if (ssc.header.rc != 0x0103 && ssc.header.rc != 0x0104 &&
		   ssc.header.rc != 0x0106 && ssc.header.rc != 0x0108) {
		abort();
	}
	if (uv_check(uv))
		abort();
	uv_destroy(uv);
	if (hw_check(hw))
		abort();
	hw_machine_destroy(hw);
	return 0;
}
