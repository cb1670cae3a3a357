// SPDX-License-Identifier: MIT
/*
 * Tests of the import path (uvhost.c kvm_make_secure / kvm_convert_to_secure):
 * a busy or partial answer (cc 2/3) is -EAGAIN and the caller retries; a
 * caller whose task is being killed stops retrying with -EINTR; and
 * UNPIN_PAGE_SHARED, which goes through the same path, is exempt from
 * export-before-import.  Every test ends in kfix_fini(), which checks
 * invariants.
 */
#include "kvm/fixture.h"

#include <pthread.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define DATA_GADDR (4 * MIB)

static uint64_t uv_cmd_cc(struct kfix *f, uint16_t cmd, int cc)
{
	struct uv_stats us;

	uv_stats_get(f->uv, &us);
	return us.cmd[uv_cmd_index(cmd)].cc[cc];
}

static void run_pattern(struct kfix *f, struct kfix_pattern *p)
{
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, 0, kfix_pattern_guest, p, &run));
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
	ASSERT_OK(p->result);
}

/*
 * The UV answers busy to the 1st import (a prefix page at SIE entry) and
 * to the 5th (a 0x3e of the guest): each is -EAGAIN, retried, and the
 * guest never notices.
 */
TEST_IMPL(kvm_import_busy_retries)
{
	struct kfix_opts o = {
		.inject = {
			{ .cmd = UVC_CMD_CONV_TO_SEC_STOR, .nth = 1, .cc = 2 },
			{ .cmd = UVC_CMD_CONV_TO_SEC_STOR, .nth = 5, .cc = 2 },
		},
	};
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 8, .seed = 17,
				  .write = true };
	uint64_t imports0;
	struct kfix f;

	/* Busy and partial are both "try again" (the one mapping). */
	ASSERT_ERR(uv_cc_errno(UVC_CC_BUSY, 0), EAGAIN);
	ASSERT_ERR(uv_cc_errno(UVC_CC_PARTIAL, 0), EAGAIN);

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	imports0 = kfix_kstats(&f).imports;		/* the unpacked image */
	run_pattern(&f, &p);
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_CONV_TO_SEC_STOR, UVC_CC_BUSY), 2);
	ASSERT_UEQ(kfix_kstats(&f).import_retries, 2);
	/* 2 prefix pages + 8 data pages, each made secure once. */
	ASSERT_UEQ(kfix_kstats(&f).imports, imports0 + 10);
	p.write = false;
	run_pattern(&f, &p);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

struct vcpu_arg {
	struct kfix *f;
	struct kvm_run run;
	int ret;
	bool done;		/* atomic */
};

static void *vcpu_thread(void *a)
{
	struct vcpu_arg *v = a;
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 1, .seed = 1,
				  .write = true };

	v->ret = kfix_run(v->f, 0, kfix_pattern_guest, &p, &v->run);
	atomic_store_release(&v->done, true);
	return NULL;
}

/*
 * The UV is busy for good: the vCPU's import (its prefix page) retries
 * until the VMM is killed, then gives up with -EINTR and the vCPU exits
 * (KVM_EXIT_INTR) so that the task can die.
 */
TEST_IMPL(kvm_import_busy_stops_on_kill)
{
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_CONV_TO_SEC_STOR, .prob = 1.0,
			      .cc = 2 } },
	};
	struct vcpu_arg v = { 0 };
	uint64_t deadline, imports0;
	pthread_t t;
	struct kfix f;
	int code = -1;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	imports0 = kfix_kstats(&f).imports;		/* the unpacked image */
	v.f = &f;
	ASSERT_OK(pthread_create(&t, NULL, vcpu_thread, &v));
	deadline = lpv_now_ns() + 10 * 1000000000ULL;
	while (kfix_kstats(&f).import_retries < 100) {
		ASSERT_LT(lpv_now_ns(), deadline);
		lpv_sleep_ns(1000000);
	}
	ASSERT_FALSE(atomic_load_acquire(&v.done));	/* still retrying */
	ASSERT_OK(task_kill(f.vmm));
	deadline = lpv_now_ns() + 10 * 1000000000ULL;
	while (!atomic_load_acquire(&v.done)) {
		if (lpv_now_ns() > deadline)
			test_fail(__FILE__, __LINE__, "the import retries on "
				  "after the kill");
		lpv_sleep_ns(1000000);
	}
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_OK(v.ret);
	ASSERT_EQ(v.run.reason, KVM_EXIT_INTR);
	ASSERT_UEQ(kfix_kstats(&f).imports, imports0);

	/* The vCPU thread was the last to leave: it ran the exit. */
	mmput(f.mm);
	f.mm = NULL;
	ASSERT_OK(task_wait(f.vmm, &code));
	ASSERT_EQ(code, TASK_EXIT_KILLED);
	f.vmm = NULL;
	ASSERT_TRUE(f.vm_gone);
	ASSERT_UEQ(kfix_fini(&f), 0);
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

static struct uv_frame_info frame_info(struct kfix *f, uint64_t gaddr,
				       hw_pfn_t *pfn)
{
	struct uv_frame_info fi;
	struct page *page;

	ASSERT_OK(mm_get_user_page(f->mm, f->ram + gaddr, false, &page));
	*pfn = mm_page_to_pfn(f->world, page);
	ASSERT_OK(uv_frame_query(f->uv, *pfn, &fi));
	mm_page_put(f->world, page);
	return fi;
}

/*
 * Two configurations in the mm (one set aside by ASYNC_CLEANUP_PREPARE)
 * and no MISC feature: imports export first.  Unsharing a page the host
 * pinned is intercepted and resolved by UNPIN_PAGE_SHARED, which goes
 * through the import path but is not an import: it must not export the
 * page first (that would take it from the guest and make the unpin fail).
 */
TEST_IMPL(kvm_unpin_skips_export_before_import)
{
	struct kfix_opts o = { .guest_mem = 4 * GIB, .host_mem = 96 * MIB,
			       .mode = KVM_DESTROY_ASYNC, .no_misc = true,
			       .no_fast = true };
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 1, .seed = 23,
				  .write = true };
	struct uv_frame_info fi;
	struct hw_pgm_info info = { .code = HW_PGM_SECURE_STORAGE_ACCESS };
	uint64_t ebi;
	struct kfix f;
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ASYNC_CLEANUP_PREPARE };

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	ASSERT_OK(kvm_pv_command(f.kvm, &cmd));
	ASSERT_TRUE(kvm_pv_has_set_aside(f.kvm));
	kfix_boot_protected(&f);
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 2);

	run_pattern(&f, &p);
	guest_share(&f, DATA_GADDR, UVC_CMD_SET_SHARED_ACCESS);
	/* The host pins it (a 0x3d that raced with the share). */
	fi = frame_info(&f, DATA_GADDR, &info.pfn);
	ASSERT_TRUE(fi.shared);
	info.addr = DATA_GADDR;
	ASSERT_OK(hw_pgm_deliver(f.hw, &info));
	fi = frame_info(&f, DATA_GADDR, &info.pfn);
	ASSERT_TRUE(fi.pinned);

	ebi = kfix_kstats(&f).export_before_import;
	guest_share(&f, DATA_GADDR, UVC_CMD_REMOVE_SHARED_ACCESS);
	ASSERT_UEQ(uv_cmd_cc(&f, UVC_CMD_UNPIN_PAGE_SHARED, UVC_CC_OK), 1);
	ASSERT_UEQ(kfix_kstats(&f).export_before_import, ebi);
	fi = frame_info(&f, DATA_GADDR, &info.pfn);
	ASSERT_EQ(fi.state, UV_FRAME_SECURE);
	ASSERT_FALSE(fi.shared);
	ASSERT_FALSE(fi.pinned);
	p.write = false;
	run_pattern(&f, &p);		/* the guest's data is intact */

	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_ASYNC_CLEANUP_PERFORM };
	ASSERT_OK(kvm_pv_command(f.kvm, &cmd));
	ASSERT_OK(kfix_disable(&f));
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}
