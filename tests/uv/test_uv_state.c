// SPDX-License-Identifier: MIT
/*
 * State machine: each frame transition (import fresh / decrypt, export,
 * destroy, donation and release, DESTROY_SEC_CONF in cc 3 steps, fast
 * destroy and its zombie pages, MISC ownership transfer, sharing and
 * pinning, unshare-all, the reset sequence and SIE checks), and the
 * cryptographic guarantees of export: tamper, replay, moved and foreign
 * copies fail without changing anything.
 */
#include "uv_test.h"

static uint64_t pattern(uint64_t gaddr, unsigned int i)
{
	return gaddr * 0x9e3779b97f4a7c15ULL + i;
}

static void fill(struct uvt *t, hw_pfn_t pfn, uint64_t gaddr)
{
	uint64_t *p = uvt_fw(t, pfn);

	for (unsigned int i = 0; i < 512; i++)
		p[i] = pattern(gaddr, i);
}

static bool holds(struct uvt *t, hw_pfn_t pfn, uint64_t gaddr)
{
	uint64_t *p = uvt_fw(t, pfn);

	for (unsigned int i = 0; i < 512; i++)
		if (p[i] != pattern(gaddr, i))
			return false;
	return true;
}

static bool is_zero(struct uvt *t, hw_pfn_t pfn)
{
	uint64_t *p = uvt_fw(t, pfn);

	for (unsigned int i = 0; i < 512; i++)
		if (p[i])
			return false;
	return true;
}

static enum uv_frame_state state(struct uvt *t, hw_pfn_t pfn)
{
	struct uv_frame_info fi;

	ASSERT_OK(uv_frame_query(t->uv, pfn, &fi));
	return fi.state;
}

TEST_IMPL(uv_state_import_export_destroy)
{
	struct uvt_guest g;
	struct uv_frame_info fi;
	struct uvt t;
	hw_pfn_t f;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_record_faults(&t);
	uvt_guest_create(&t, &g, MIB);
	f = g.mem + 3;
	/* non-secure -> secure: the host's stale data is cleared. */
	uvt_fw(&t, f)[0] = 0x5ec7e7;
	ASSERT_TRUE(uvt_host_can_read(&t, f));
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x3000));
	ASSERT_TRUE(is_zero(&t, f));
	ASSERT_FALSE(uvt_host_can_read(&t, f));
	ASSERT_OK(uv_frame_query(t.uv, f, &fi));
	ASSERT_EQ(fi.state, UV_FRAME_SECURE);
	ASSERT_XEQ(fi.guest_handle, g.handle);
	ASSERT_XEQ(fi.gaddr, 0x3000);
	/* The guest writes (firmware view = secure-mode access). */
	fill(&t, f, 0x3000);
	/* secure -> exported: host-readable ciphertext, content preserved. */
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, f));
	ASSERT_TRUE(uvt_host_can_read(&t, f));
	ASSERT_FALSE(holds(&t, f, 0x3000));
	ASSERT_EQ(state(&t, f), UV_FRAME_EXPORTED);
	ASSERT_OK(uv_frame_query(t.uv, f, &fi));
	ASSERT_XEQ(fi.guest_handle, g.handle);
	/* exported -> secure: decrypted and verified, plaintext back. */
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x3000));
	ASSERT_TRUE(holds(&t, f, 0x3000));
	ASSERT_FALSE(uvt_host_can_read(&t, f));
	/* Swap: export, the host moves the ciphertext to another frame and
	 * maps that one at the guest address; import there works. */
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, f));
	memcpy(uvt_fw(&t, g.mem + 9), uvt_fw(&t, f), 4096);
	memset(uvt_fw(&t, f), 0, 4096);
	{
		hw_pfn_t save = g.mem;

		g.mem = g.mem + 6;	/* 0x3000 -> old mem + 9 */
		ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x3000));
		ASSERT_TRUE(holds(&t, save + 9, 0x3000));
		/* secure -> non-secure by destroy: cleared, released. */
		ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_DESTR_SEC_STOR, save + 9));
		ASSERT_TRUE(is_zero(&t, save + 9));
		ASSERT_TRUE(uvt_host_can_read(&t, save + 9));
		ASSERT_EQ(state(&t, save + 9), UV_FRAME_NONSECURE);
		g.mem = save;
	}
	/* After a destroy the guest page starts over: a fresh clear. */
	fill(&t, f, 1);
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x3000));
	ASSERT_TRUE(is_zero(&t, f));
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_export_integrity)
{
	struct uvt_guest g, h;
	uint8_t old[4096];
	struct uvt t;
	hw_pfn_t f;
	struct uv_stats st;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_guest_create(&t, &g, MIB);
	uvt_guest_create(&t, &h, MIB);
	f = g.mem + 1;
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x1000));
	fill(&t, f, 0x1000);
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, f));
	/* Tamper: one bit of the ciphertext. */
	((uint8_t *)uvt_fw(&t, f))[100] ^= 0x10;
	ASSERT_CC_RC(&t, uvt_import(&t, &g, 0x1000), 1, 0x0106);
	ASSERT_EQ(state(&t, f), UV_FRAME_EXPORTED);	/* nothing changed */
	((uint8_t *)uvt_fw(&t, f))[100] ^= 0x10;
	memcpy(old, uvt_fw(&t, f), sizeof(old));	/* the host keeps a copy */
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x1000));
	ASSERT_TRUE(holds(&t, f, 0x1000));
	/* The same plaintext exported again gives another ciphertext: a
	 * fresh nonce per export (GCM must never reuse one). */
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, f));
	ASSERT_NE(memcmp(uvt_fw(&t, f), old, sizeof(old)), 0);
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x1000));
	ASSERT_TRUE(holds(&t, f, 0x1000));
	uvt_fw(&t, f)[0] = 42;				/* the guest moves on */
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, f));
	/* Replay: the older export does not import after a newer one. */
	memcpy(uvt_fw(&t, f), old, sizeof(old));
	ASSERT_CC_RC(&t, uvt_import(&t, &g, 0x1000), 1, 0x0106);
	/* Moved: a valid ciphertext of gaddr 0x1000 at gaddr 0x2000, which
	 * has an export record of its own. */
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x2000));
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem + 2));
	memcpy(uvt_fw(&t, g.mem + 2), old, sizeof(old));
	ASSERT_CC_RC(&t, uvt_import(&t, &g, 0x2000), 1, 0x0106);
	/* Foreign: g's ciphertext into h at an address where h exported. */
	ASSERT_UV_OK(&t, uvt_import(&t, &h, 0x1000));
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, h.mem + 1));
	memcpy(uvt_fw(&t, h.mem + 1), old, sizeof(old));
	ASSERT_CC_RC(&t, uvt_import(&t, &h, 0x1000), 1, 0x0106);
	/* ... and where h never had the page: a fresh, cleared page, so g's
	 * data does not reach h either way. */
	memcpy(uvt_fw(&t, h.mem + 7), old, sizeof(old));
	ASSERT_UV_OK(&t, uvt_import(&t, &h, 0x7000));
	ASSERT_TRUE(is_zero(&t, h.mem + 7));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.imports_bad, 4);
	ASSERT_UEQ(st.exports, 5);
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_donated_storage)
{
	struct uvt_guest g;
	uint64_t cpu;
	hw_pfn_t cs;
	struct uvt t;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_record_faults(&t);
	uvt_guest_create(&t, &g, MIB);
	cpu = uvt_cpu_create(&t, &g, 3);
	cs = t.next_pfn - 1 - (t.prof.cpu_stor_len >> 12);	/* CPU storage */
	ASSERT_EQ(state(&t, cs), UV_FRAME_DONATED_CPU);
	ASSERT_EQ(state(&t, g.base), UV_FRAME_DONATED_CONF);
	ASSERT_EQ(state(&t, g.var), UV_FRAME_DONATED_CONF);
	ASSERT_EQ(state(&t, g.asce), UV_FRAME_ASCE);
	/* The UV writes its state there; the host cannot see it (0x3d). */
	uvt_fw(&t, cs)[0] = 0x1234;
	uvt_fw(&t, g.base)[1] = 0x5678;
	uvt_fw(&t, g.var)[2] = 0x9abc;
	ASSERT_FALSE(uvt_host_can_read(&t, cs));
	ASSERT_FALSE(uvt_host_can_read(&t, g.base));
	ASSERT_FALSE(uvt_host_can_read(&t, g.var));
	ASSERT_GE(t.faults, 3);
	/* A clear reset wipes the CPU's storage but keeps it donated. */
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_CPU_RESET_CLEAR, cpu));
	ASSERT_TRUE(is_zero(&t, cs));
	ASSERT_FALSE(uvt_host_can_read(&t, cs));
	uvt_fw(&t, cs)[0] = 0x1234;
	/* Released: cleared and readable again. */
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_DESTROY_SEC_CPU, cpu));
	ASSERT_TRUE(uvt_host_can_read(&t, cs));
	ASSERT_TRUE(is_zero(&t, cs));
	ASSERT_UV_OK(&t, uvt_destroy_conf(&t, g.handle));
	ASSERT_TRUE(uvt_host_can_read(&t, g.base));
	ASSERT_TRUE(uvt_host_can_read(&t, g.var));
	ASSERT_TRUE(is_zero(&t, g.base) && is_zero(&t, g.var));
	ASSERT_EQ(state(&t, g.asce), UV_FRAME_NONSECURE);
	/* The ASCE may now be used by a new config. */
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_destroy_conf_partial)
{
	struct uv_profile p;
	struct uvt_guest g;
	struct uv_cb_nodata cb = { .header.len = sizeof(cb),
		.header.cmd = UVC_CMD_DESTROY_SEC_CONF };
	struct uv_stats st;
	int calls = 0, cc;
	struct uvt t;

	uvt_profile(&p, "zero");
	p.destroy_batch = 16;
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, 2 * MIB);
	for (uint64_t a = 0; a < 100; a++) {
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
		fill(&t, g.mem + a, a << 12);
	}
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem + 50));
	cb.handle = g.handle;
	do {
		cc = uv_call_once(t.uv, &cb.header);
		calls++;
		if (cc == UVC_CC_PARTIAL) {
			/* Between steps: the config takes no new work ... */
			ASSERT_CC_RC(&t, uvt_import(&t, &g, 0x1000), 1,
				     UVC_RC_INV_GHANDLE);
			/* ... but its pages can be destroyed by others. */
			ASSERT_OK(uv_check(t.uv));
		}
	} while (cc == UVC_CC_PARTIAL);
	ASSERT_EQ(cc, 0);
	ASSERT_GE(calls, 100 / 16);
	for (uint64_t a = 0; a < 100; a++) {
		ASSERT_EQ(state(&t, g.mem + a), UV_FRAME_NONSECURE);
		if (a != 50)
			ASSERT_TRUE(is_zero(&t, g.mem + a));
	}
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.conf_pages_cleaned, 99);
	ASSERT_UEQ(st.destroy_partial, (uint64_t)calls - 1);
	ASSERT_UEQ(st.cmd[UV_IDX_DESTROY_CONF].cc[3], (uint64_t)calls - 1);
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_fast_destroy_zombie)
{
	struct uvt_guest g, n;
	struct uv_cb_destroy_fast f = { .header.len = sizeof(f),
		.header.cmd = UVC_CMD_DESTROY_SEC_CONF_FAST };
	struct uv_stats st;
	uint64_t cpu;
	struct uvt t;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_record_faults(&t);
	uvt_guest_create(&t, &g, MIB);
	cpu = uvt_cpu_create(&t, &g, 0);
	for (uint64_t a = 0; a < 8; a++) {
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
		fill(&t, g.mem + a, a);
	}
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_DESTROY_SEC_CPU, cpu));
	f.handle = g.handle;
	ASSERT_UV_OK(&t, uvt_call(&t, &f));
	/* Gone at once: handle, storage; pages stay secure, hidden. */
	ASSERT_CC_RC(&t, uvt_import(&t, &g, 0x9000), 1, UVC_RC_INV_GHANDLE);
	ASSERT_TRUE(uvt_host_can_read(&t, g.base));
	ASSERT_FALSE(uvt_host_can_read(&t, g.mem));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.configs_zombie, 1);
	ASSERT_UEQ(st.configs_live, 0);
	ASSERT_OK(uv_check(t.uv));
	/* The reboot: a new config over the same memory.  With MISC its
	 * import takes the old page (cleared: never the old guest's data). */
	uvt_guest_create(&t, &n, MIB);
	n.mem = g.mem;
	ASSERT_UV_OK(&t, uvt_import(&t, &n, 0));
	ASSERT_TRUE(is_zero(&t, g.mem));
	/* Destroy and export drain the rest; export of a dead config's page
	 * clears it (nothing could ever import it). */
	for (uint64_t a = 1; a < 7; a++)
		ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_DESTR_SEC_STOR, g.mem + a));
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem + 7));
	ASSERT_TRUE(is_zero(&t, g.mem + 7));
	ASSERT_TRUE(uvt_host_can_read(&t, g.mem + 7));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.configs_zombie, 0);	/* reaped with its last page */
	ASSERT_UEQ(st.exports_dead, 1);
	ASSERT_UEQ(st.imports_transfer, 1);
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_no_misc_transfer)
{
	struct uv_profile p;
	struct uvt_guest g, n;
	struct uvt t;

	uvt_profile(&p, "old");
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, MIB);
	uvt_guest_create(&t, &n, MIB);
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0));
	fill(&t, g.mem, 0);
	n.mem = g.mem;
	/* Old firmware: export before import (KVM's should_export...). */
	ASSERT_CC_RC(&t, uvt_import(&t, &n, 0), 1, 0x0104);
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem));
	ASSERT_UV_OK(&t, uvt_import(&t, &n, 0));
	ASSERT_TRUE(is_zero(&t, g.mem));
	ASSERT_UV_OK(&t, uvt_destroy_conf(&t, g.handle));
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_share_pin)
{
	struct uvt_guest g;
	struct uv_cb_cts unpin = { .header.len = sizeof(unpin),
		.header.cmd = UVC_CMD_UNPIN_PAGE_SHARED };
	uint64_t cpu;
	struct uvt t;
	struct uv_frame_info fi;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_record_faults(&t);
	uvt_guest_create(&t, &g, MIB);
	cpu = uvt_cpu_create(&t, &g, 0);
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x4000));
	fill(&t, g.mem + 4, 0x4000);
	ASSERT_UV_OK(&t, uvt_guest_share(&t, cpu, UVC_CMD_SET_SHARED_ACCESS,
					 0x4000));
	/* Shared: the host reads the guest's I/O buffer in the clear. */
	ASSERT_TRUE(uvt_host_can_read(&t, g.mem + 4));
	ASSERT_TRUE(holds(&t, g.mem + 4, 0x4000));
	/* The host pins it (arch_make_page_accessible), so the guest's
	 * unshare is intercepted until the host unpins. */
	ASSERT_OK(uv_pin_shared(t.uv, g.mem + 4, NULL, NULL));
	ASSERT_OK(uv_frame_query(t.uv, g.mem + 4, &fi));
	ASSERT_TRUE(fi.shared && fi.pinned);
	ASSERT_EQ(uvt_guest_share(&t, cpu, UVC_CMD_REMOVE_SHARED_ACCESS, 0x4000),
		  UVC_GUEST_INTERCEPT);
	ASSERT_TRUE(uvt_host_can_read(&t, g.mem + 4));
	unpin.guest_handle = g.handle;
	unpin.gaddr = 0x4000;
	ASSERT_UV_OK(&t, uvt_call(&t, &unpin));
	ASSERT_UV_OK(&t, uvt_guest_share(&t, cpu, UVC_CMD_REMOVE_SHARED_ACCESS,
					 0x4000));
	ASSERT_FALSE(uvt_host_can_read(&t, g.mem + 4));
	/* A shared page survives export/import still shared. */
	ASSERT_UV_OK(&t, uvt_guest_share(&t, cpu, UVC_CMD_SET_SHARED_ACCESS,
					 0x4000));
	ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem + 4));
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0x4000));
	ASSERT_TRUE(uvt_host_can_read(&t, g.mem + 4));
	ASSERT_TRUE(holds(&t, g.mem + 4, 0x4000));
	/* Reset: everything unshared at once. */
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_SET_UNSHARE_ALL, g.handle));
	ASSERT_FALSE(uvt_host_can_read(&t, g.mem + 4));
	ASSERT_OK(uv_frame_query(t.uv, g.mem + 4, &fi));
	ASSERT_FALSE(fi.shared);
	uvt_finish(&t);
	return 0;
}

/* The pv-ipl reset sequence and what SIE entry accepts at each step. */
TEST_IMPL(uv_state_reset_sequence)
{
	struct uvt_guest g;
	struct uv_cb_cpu_set_state ss = { .header.len = sizeof(ss),
		.header.cmd = UVC_CMD_CPU_SET_STATE };
	enum hw_pgm_code pgm = 0;
	uint64_t cpu, asce;
	struct uv_cb_cgc cb;
	struct uvt t;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_guest_create(&t, &g, MIB);
	uvt_cgc_fill(&t, &g, &cb);
	asce = cb.guest_asce;
	cpu = uvt_cpu_create(&t, &g, 0);
	ASSERT_ERR(uv_sie_entry_check(t.uv, g.handle, cpu, asce), EINVAL);
	ss.cpu_handle = cpu;
	ss.state = 4;
	ASSERT_CC_RC(&t, uvt_call(&t, &ss), 1, 0x0101);
	ss.state = PV_CPU_STATE_OPR_LOAD;
	ASSERT_UV_OK(&t, uvt_call(&t, &ss));
	ASSERT_OK(uv_sie_entry_check(t.uv, g.handle, cpu, asce));
	ASSERT_ERR(uv_sie_entry_check(t.uv, g.handle, cpu, asce + 4096), EINVAL);
	ASSERT_ERR(uv_sie_entry_check(t.uv, g.handle ^ 1, cpu, asce), EINVAL);
	ASSERT_ERR(uv_sie_entry_check(t.uv, g.handle, cpu ^ (1ULL << 40), asce),
		   EINVAL);
	ASSERT_CC_RC(&t, uvt_nodata(&t, UVC_CMD_PREPARE_RESET, g.handle), 1,
		     0x0101);	/* ours: CPUs must be stopped first */
	ss.state = PV_CPU_STATE_STP;					/* 1 */
	ASSERT_UV_OK(&t, uvt_call(&t, &ss));
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_SET_UNSHARE_ALL, g.handle));
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_PREPARE_RESET, g.handle));
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_CPU_RESET_CLEAR, cpu));	/* 4 */
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_CPU_RESET_INITIAL, cpu));
	ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_CPU_RESET, cpu));
	ASSERT_ERR(uv_sie_entry_check(t.uv, g.handle, cpu, asce), EINVAL);
	ss.state = PV_CPU_STATE_OPR_LOAD;				/* 5 */
	ASSERT_UV_OK(&t, uvt_call(&t, &ss));
	ASSERT_OK(uv_sie_entry_check(t.uv, g.handle, cpu, asce));
	/* The machine's access check for the running guest. */
	ASSERT_ERR(uv_guest_access_check(t.uv, g.handle, 0, g.mem, &pgm), EACCES);
	ASSERT_EQ(pgm, HW_PGM_NON_SECURE_STORAGE_ACCESS);
	ASSERT_UV_OK(&t, uvt_import(&t, &g, 0));
	ASSERT_OK(uv_guest_access_check(t.uv, g.handle, 0, g.mem, &pgm));
	ASSERT_ERR(uv_guest_access_check(t.uv, g.handle, 0x1000, g.mem, &pgm),
		   EACCES);
	ASSERT_EQ(pgm, HW_PGM_SECURE_STORAGE_VIOLATION);
	ASSERT_ERR(uv_guest_access_check(t.uv, g.handle, 0, g.base, &pgm), EACCES);
	ASSERT_EQ(pgm, HW_PGM_SECURE_STORAGE_VIOLATION);
	uvt_finish(&t);
	return 0;
}

/* Image: build for this UV, unpack page by page, verify, start a CPU. */
static int image_run(bool tamper, bool reorder, bool extra)
{
	enum { NPAGES = 6 };
	uint8_t pub[32], hbuf[4096];
	uint64_t psw[2] = { 0x0000000180000000ULL, 0x10000 }, cpu;
	struct uv_cb_ssc ssc = { .header.len = sizeof(ssc),
		.header.cmd = UVC_CMD_SET_SEC_CONF_PARAMS };
	struct uv_cb_unp unp = { .header.len = sizeof(unp),
		.header.cmd = UVC_CMD_UNPACK_IMG };
	struct uv_cb_cpu_set_state ss = { .header.len = sizeof(ss),
		.header.cmd = UVC_CMD_CPU_SET_STATE, .state = PV_CPU_STATE_OPR_LOAD };
	struct uv_image_builder *b;
	struct uvt_guest g;
	size_t len = sizeof(hbuf);
	hw_pfn_t hdr;
	struct uvt t;

	uvt_setup(&t, 16 * MIB, NULL, true);
	uvt_guest_create(&t, &g, MIB);
	cpu = uvt_cpu_create(&t, &g, 0);
	uv_host_key_public(t.uv, pub);
	ASSERT_OK(uv_image_builder_create(&pub, 1, psw, &b));
	for (uint64_t i = 0; i < NPAGES; i++) {
		uint64_t tw[2] = { 0x42, i * 4096 };

		fill(&t, g.mem + i, i << 12);	/* plaintext, then encrypted */
		ASSERT_OK(uv_image_builder_add_page(b, i << 12, tw,
						    uvt_fw(&t, g.mem + i),
						    uvt_fw(&t, g.mem + i)));
		ASSERT_FALSE(holds(&t, g.mem + i, i << 12));
	}
	ASSERT_OK(uv_image_builder_header(b, hbuf, &len));
	uv_image_builder_destroy(b);
	hdr = uvt_alloc(&t, 1, 1);
	memcpy(uvt_fw(&t, hdr), hbuf, len);
	ssc.guest_handle = g.handle;
	ssc.sec_header_origin = (uintptr_t)hw_host_page(t.hw, hdr);
	ssc.sec_header_len = (uint32_t)len;
	unp.guest_handle = g.handle;
	unp.tweak[0] = 0x42;
	unp.gaddr = 0;
	ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, 0x0103);	/* no params */
	if (extra) {	/* no header: bad format */
		ssc.sec_header_len = 0;
		ASSERT_CC_RC(&t, uvt_call(&t, &ssc), 1, 0x0104);
		ssc.sec_header_len = (uint32_t)len;
	}
	ASSERT_UV_OK(&t, uvt_call(&t, &ssc));
	if (extra) {
		ASSERT_CC_RC(&t, uvt_call(&t, &ssc), 1, 0x0107); /* set once */
		unp.gaddr = g.msl;		/* beyond the guest */
		ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, 0x0102);
		unp.gaddr = 0;
		g.unmapped = true;		/* the host has no page there */
		ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, UVC_RC_NOT_MAPPED);
		g.unmapped = false;
	}
	if (tamper)
		((uint8_t *)uvt_fw(&t, g.mem + 2))[7] ^= 1;
	for (uint64_t k = 0; k < NPAGES; k++) {
		uint64_t i = reorder ? (k ^ 1) : k;

		unp.gaddr = i << 12;
		unp.tweak[1] = i * 4096;
		ASSERT_UV_OK(&t, uvt_call(&t, &unp));
	}
	if (extra) {
		unp.gaddr = NPAGES << 12;
		ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, 0x0105);
	}
	unp.gaddr = 0;
	unp.tweak[1] = 0;
	ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, 0x0104);  /* already secure */
	if (tamper || reorder) {
		ASSERT_CC_RC(&t, uvt_nodata(&t, UVC_CMD_VERIFY_IMG, g.handle),
			     1, 0x0104);
		ASSERT_EQ(t.rrc, 2);	/* the page digest differs first */
		ss.cpu_handle = cpu;
		ASSERT_CC_RC(&t, uvt_call(&t, &ss), 1, 0x0102);
	} else {
		ASSERT_UV_OK(&t, uvt_nodata(&t, UVC_CMD_VERIFY_IMG, g.handle));
		for (uint64_t i = 0; i < NPAGES; i++)
			ASSERT_TRUE(holds(&t, g.mem + i, i << 12));
		ss.cpu_handle = cpu;
		ASSERT_UV_OK(&t, uvt_call(&t, &ss));
		ASSERT_CC_RC(&t, uvt_call(&t, &unp), 1, 0x0103);
	}
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_state_image_unpack_verify)
{
	ASSERT_OK(image_run(false, false, true));
	ASSERT_OK(image_run(true, false, false));
	ASSERT_OK(image_run(false, true, false));
	return 0;
}
