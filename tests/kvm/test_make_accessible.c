// SPDX-License-Identifier: MIT
/*
 * Tests of arch_make_page_accessible (uvhost.c): a secure frame the host or
 * a normal guest must reach is pinned shared if its guest shared it, and
 * exported otherwise.  A normal guest's 0x3d (the gmap fault path) goes
 * through the same pin-then-export as the host's.  Every test ends in
 * kfix_fini(), which checks invariants.
 */
#include "kvm/fixture.h"

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define DATA_GADDR (4 * MIB)

static uint64_t uv_cmd_cc(struct kfix *f, uint16_t cmd, int cc)
{
	struct uv_stats us;

	uv_stats_get(f->uv, &us);
	return us.cmd[uv_cmd_index(cmd)].cc[cc];
}

static uint64_t uv_exports(struct kfix *f)
{
	struct uv_stats us;

	uv_stats_get(f->uv, &us);
	return us.exports;
}

static void run_pattern(struct kfix *f, struct kfix_pattern *p)
{
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, 0, kfix_pattern_guest, p, &run));
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
	ASSERT_OK(p->result);
}

/*
 * A normal guest meets a frame still secure (and not shared) for a config
 * whose destroy failed: its 0x3d first tries to pin the page shared, which
 * the UV refuses (not shared), then exports it, and the access is retried.
 */
TEST_IMPL(kvm_normal_guest_0x3d_tries_pin_then_exports)
{
	struct kfix_opts o = {
		.mode = KVM_DESTROY_SYNC,	/* memory first: one page stays */
		.inject = {
			{ .cmd = UVC_CMD_DESTR_SEC_STOR, .nth = 1, .cc = 1,
			  .rc = 0x0102 },
			{ .cmd = UVC_CMD_DESTROY_SEC_CONF, .nth = 1, .cc = 1,
			  .rc = 0x0101 },
		},
	};
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 8, .seed = 5,
				  .write = true };
	uint64_t stale = 0, exports0;
	struct kvm_stats ks;
	struct kvm_run run;
	struct kfix f;
	bool found = false;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	run_pattern(&f, &p);
	ASSERT_ERR(kfix_disable(&f), EIO);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	for (uint64_t ga = 0; ga < f.o.guest_mem && !found; ga += HW_PAGE_SIZE) {
		struct page *page;

		if (mm_get_user_page(f.mm, f.ram + ga, false, &page))
			continue;
		if (page_test_flag(page, PG_arch_1)) {
			stale = ga;
			found = true;
		}
		mm_page_put(f.world, page);
	}
	ASSERT_TRUE(found);
	ASSERT_EQ(kfix_frame_info(&f, stale).state, UV_FRAME_SECURE);
	ASSERT_FALSE(kfix_frame_info(&f, stale).shared);
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_PIN_PAGE_SHARED, 1), 0);
	exports0 = uv_exports(&f);

	p.gaddr = stale;
	ASSERT_OK(kfix_run(&f, 0, kfix_normal_guest_read, &p, &run));
	ASSERT_OK(p.result);
	/* One pin attempt, refused; then one export. */
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_PIN_PAGE_SHARED, 1), 1);
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_PIN_PAGE_SHARED, 0), 0);
	ASSERT_UEQ(uv_exports(&f), exports0 + 1);
	ASSERT_EQ(kfix_frame_info(&f, stale).state, UV_FRAME_EXPORTED);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3d, 1);
	ASSERT_GT(kfix_fini(&f), 4);	/* the failed config's storage */
	return 0;
}

struct share_guest {
	uint64_t gaddr;
	uint16_t cmd;		/* SET_ / REMOVE_SHARED_ACCESS */
	int cc;
};

static int share_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct share_guest *s = ctx;
	struct uv_cb_share cb = {
		.header.len = sizeof(cb),
		.header.cmd = s->cmd,
		.paddr = s->gaddr,
	};

	s->cc = kvm_guest_uvc(vcpu, &cb.header);
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

static void guest_share(struct kfix *f, uint64_t gaddr, uint16_t cmd)
{
	struct share_guest s = { .gaddr = gaddr, .cmd = cmd, .cc = -1 };
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, 0, share_guest, &s, &run));
	ASSERT_EQ(s.cc, UVC_CC_OK);
}

/* A 0x3d on @gaddr's frame, as the host's or a normal guest's access would
 * raise it: through the machine to the mm's handler and the arch hook. */
static int raise_0x3d(struct kfix *f, uint64_t gaddr)
{
	struct page *page = kfix_ram_page(f, gaddr);
	struct hw_pgm_info info = {
		.code = HW_PGM_SECURE_STORAGE_ACCESS,
		.pfn = mm_page_to_pfn(f->world, page),
		.addr = gaddr,
	};
	int ret = hw_pgm_deliver(f->hw, &info);

	mm_page_put(f->world, page);
	return ret;
}

/*
 * The guest shared a page; a 0x3d reaches it (the access raced with the
 * share): pinned shared, PG_arch_1 cleared, not exported -- the guest
 * keeps its page secure.  A page it did not share is exported.
 */
TEST_IMPL(kvm_0x3d_pins_shared_page_exports_other)
{
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 2, .seed = 3,
				  .write = true };
	uint64_t exports0, pins0;
	struct uv_frame_info fi;
	struct kvm_stats ks;
	struct page *page;
	struct kfix f;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	run_pattern(&f, &p);
	guest_share(&f, DATA_GADDR, UVC_CMD_SET_SHARED_ACCESS);
	fi = kfix_frame_info(&f, DATA_GADDR);
	ASSERT_EQ(fi.state, UV_FRAME_SECURE);
	ASSERT_TRUE(fi.shared);
	ASSERT_FALSE(fi.pinned);
	exports0 = uv_exports(&f);
	pins0 = uv_cmd_cc(&f, UVC_CMD_PIN_PAGE_SHARED, 0);

	ASSERT_OK(raise_0x3d(&f, DATA_GADDR));
	fi = kfix_frame_info(&f, DATA_GADDR);
	ASSERT_EQ(fi.state, UV_FRAME_SECURE);
	ASSERT_TRUE(fi.pinned);
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_PIN_PAGE_SHARED, 0), pins0 + 1);
	ASSERT_UEQ(uv_exports(&f), exports0);
	page = kfix_ram_page(&f, DATA_GADDR);
	ASSERT_FALSE(page_test_flag(page, PG_arch_1));
	mm_page_put(f.world, page);

	/* The next page was not shared: exported. */
	ASSERT_OK(raise_0x3d(&f, DATA_GADDR + HW_PAGE_SIZE));
	ASSERT_EQ(kfix_frame_info(&f, DATA_GADDR + HW_PAGE_SIZE).state,
		  UV_FRAME_EXPORTED);
	ASSERT_UEQ(uv_exports(&f), exports0 + 1);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3d, 2);

	/* The guest still reads both pages (the exported one is imported
	 * again) and unshares the pinned one (the host unpins it first). */
	p.write = false;
	run_pattern(&f, &p);
	guest_share(&f, DATA_GADDR, UVC_CMD_REMOVE_SHARED_ACCESS);
	fi = kfix_frame_info(&f, DATA_GADDR);
	ASSERT_FALSE(fi.shared);
	ASSERT_FALSE(fi.pinned);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}
