// SPDX-License-Identifier: MIT
/*
 * Facts of the real machine seen through KVM
 * (../shared/reference/fidelity-facts.md §4): the prefix pages are checked
 * at every SIE entry, and one that is not secure is an intercept (0x70)
 * the host resolves by importing both; a page the old guest shared with
 * the host is a non-secure access (0x3e) for the new guest after a
 * reboot, not a violation (0x3f), and the new guest still reads zeros.
 * Every test ends in kfix_fini(): invariants hold, nothing is left.
 */
#include "kvm/fixture.h"

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* A guest that touches nothing: only SIE entry can change its prefix. */
static int idle_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	(void)ctx;
	(void)vcpu;
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

static void run_idle(struct kfix *f, unsigned int cpu)
{
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, cpu, idle_guest, NULL, &run));
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
}

/*
 * The first entry of a new CPU is intercepted (its prefix was never
 * imported), the next is not.  The host then reads a prefix page (0x3d:
 * exported); the next entry is intercepted again and both pages are
 * secure once more, though the guest touches nothing.
 */
TEST_IMPL(kvm_sie_prefix_intercept_every_entry)
{
	struct kfix_opts o = { .cpus = 2 };
	uint8_t buf[64];
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 0);
	run_idle(&f, 0);
	ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 1);
	ASSERT_EQ(kfix_frame_state(&f, 0, NULL), UV_FRAME_SECURE);
	ASSERT_EQ(kfix_frame_state(&f, HW_PAGE_SIZE, NULL), UV_FRAME_SECURE);
	run_idle(&f, 0);
	ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 1);

	for (unsigned int page = 0; page < 2; page++) {
		uint64_t ga = (uint64_t)page * HW_PAGE_SIZE;

		ASSERT_OK(mm_access(f.mm, f.ram + ga, buf, sizeof(buf), false));
		ASSERT_EQ(kfix_frame_state(&f, ga, NULL), UV_FRAME_EXPORTED);
		run_idle(&f, 0);
		ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 2 + page);
		ASSERT_EQ(kfix_frame_state(&f, 0, NULL), UV_FRAME_SECURE);
		ASSERT_EQ(kfix_frame_state(&f, HW_PAGE_SIZE, NULL), UV_FRAME_SECURE);
	}
	ASSERT_UEQ(kfix_kstats(&f).pgm_3d, 2);

	/* CPU 1 has its own prefix (8 KiB up): its own first intercept. */
	run_idle(&f, 1);
	ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 4);
	ASSERT_EQ(kfix_frame_state(&f, 2 * HW_PAGE_SIZE, NULL), UV_FRAME_SECURE);
	ASSERT_EQ(kfix_frame_state(&f, 3 * HW_PAGE_SIZE, NULL), UV_FRAME_SECURE);
	run_idle(&f, 0);
	ASSERT_UEQ(kfix_kstats(&f).icpt_pv_pref, 4);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

#define SHARED_GADDR (3 * GIB)
#define SHARED_PAGES 512	/* the walk reaches the last ones last */
#define SHARED_LAST 8		/* of which the old guest shares these */

struct share_ctx {
	uint64_t gaddr, pages, first_shared;
	int result;
};

/* The old guest writes its data and shares the last pages for I/O. */
static int share_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct share_ctx *c = ctx;
	uint8_t buf[HW_PAGE_SIZE];

	c->result = 0;
	for (uint64_t i = 0; i < c->pages && !c->result; i++) {
		uint64_t ga = c->gaddr + i * HW_PAGE_SIZE;

		memset(buf, (int)(0x5a ^ i) | 1, sizeof(buf));
		c->result = kvm_guest_write(vcpu, ga, buf, sizeof(buf));
		if (!c->result && i >= c->first_shared) {
			struct uv_cb_share share = {
				.header.len = sizeof(share),
				.header.cmd = UVC_CMD_SET_SHARED_ACCESS,
				.paddr = ga,
			};

			if (kvm_guest_uvc(vcpu, &share.header) != UVC_CC_OK)
				c->result = -EIO;
		}
	}
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

/* The new guest reads pages; any nonzero byte is the old guest's. */
static int read_zero_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct share_ctx *c = ctx;
	uint8_t buf[HW_PAGE_SIZE];

	c->result = 0;
	for (uint64_t i = 0; i < c->pages && !c->result; i++) {
		c->result = kvm_guest_read(vcpu, c->gaddr + i * HW_PAGE_SIZE, buf,
					   sizeof(buf));
		for (size_t o = 0; o < sizeof(buf) && !c->result; o++)
			if (buf[o])
				c->result = -EILSEQ;
	}
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

/*
 * Lazy reboot: the old config keeps its pages (the cleanup walks slowly),
 * and its shared pages stay shared.  The new guest touching them takes
 * 0x3e, never 0x3f: the import takes the page over cleared (MISC) or is
 * preceded by an export (old firmware: export before import).  It reads
 * zeros either way.
 */
TEST_IMPL(kvm_shared_page_of_old_guest_is_0x3e)
{
	for (int misc = 0; misc < 2; misc++) {
		struct kfix_opts o = { .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
				       .mode = KVM_DESTROY_LAZY };
		struct share_ctx c = { .gaddr = SHARED_GADDR,
				       .pages = SHARED_PAGES,
				       .first_shared = SHARED_PAGES - SHARED_LAST };
		struct kvm_stats before, after;
		struct kvm_run run;
		struct kfix f;

		o.no_misc = !misc;
		o.destroy_page_ns = 200000;	/* ~100 ms of walk */
		kfix_init(&f, &o);
		kfix_boot_protected(&f);
		ASSERT_OK(kfix_run(&f, 0, share_guest, &c, &run));
		ASSERT_OK(c.result);
		ASSERT_OK(kfix_disable(&f));
		kfix_boot_protected(&f);	/* two configs in the mm */
		before = kfix_kstats(&f);
		c.gaddr = SHARED_GADDR + c.first_shared * HW_PAGE_SIZE;
		c.pages = SHARED_LAST;
		ASSERT_OK(kfix_run(&f, 0, read_zero_guest, &c, &run));
		ASSERT_OK(c.result);
		after = kfix_kstats(&f);
		ASSERT_UEQ(after.pgm_3f, before.pgm_3f);
		ASSERT_UEQ(after.pgm_3e - before.pgm_3e, SHARED_LAST);
		if (!misc)
			ASSERT_GE(after.export_before_import -
				  before.export_before_import, 1);
		kvm_module_drain(f.mod);
		ASSERT_OK(kfix_disable(&f));
		ASSERT_UEQ(kfix_fini(&f), 0);
	}
	return 0;
}
