// SPDX-License-Identifier: MIT
/*
 * Tests of src/kvm with synchronous teardown: the PV lifecycle, the SIE
 * access path (0x3e imports, host 0x3d exports, normal-guest 0x3d), reboot
 * in both historical orders, shutdown through exit_mmap, and injected
 * firmware failures at every teardown step (leaks counted, state
 * consistent).  Every test ends in kfix_fini(), which checks invariants.
 */
#include "kvm/fixture.h"

#include <pthread.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)
#define DATA_GADDR (4 * MIB)
#define DATA_PAGES 64

static void run_pattern(struct kfix *f, unsigned int cpu, struct kfix_pattern *p)
{
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, cpu, kfix_pattern_guest, p, &run));
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
}

static enum uv_frame_state frame_state(struct kfix *f, uint64_t gaddr)
{
	struct page *page = kfix_ram_page(f, gaddr);
	struct uv_frame_info fi;

	ASSERT_OK(uv_frame_query(f->uv, mm_page_to_pfn(f->world, page), &fi));
	mm_page_put(f->world, page);
	return fi.state;
}

TEST_IMPL(kvm_pv_lifecycle)
{
	struct kfix f;
	struct mm_stats st;
	struct kvm_stats ks;
	uint64_t donated_before;

	kfix_init(&f, NULL);
	mm_stats_get(f.world, &st);
	donated_before = st.use[PAGE_USE_DONATED];	/* the UV's INIT storage */
	ASSERT_GT(donated_before, 0);
	kfix_boot_protected(&f);
	ASSERT_EQ(mm_context(f.mm)->protected_count, 1);
	mm_stats_get(f.world, &st);
	ASSERT_GT(st.use[PAGE_USE_DONATED], donated_before);
	ASSERT_OK(uv_check(f.uv));
	ASSERT_OK(mm_check(f.world));

	ASSERT_OK(kfix_disable(&f));
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	ASSERT_EQ(mm_context(f.mm)->protected_count, 0);
	mm_stats_get(f.world, &st);
	ASSERT_UEQ(st.use[PAGE_USE_DONATED], donated_before);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pv_enables, 1);
	ASSERT_UEQ(ks.pv_disables, 1);
	ASSERT_UEQ(ks.imports, KFIX_IMAGE_PAGES);	/* unpack only */
	/* Disabling a VM that is not protected is refused. */
	ASSERT_ERR(kfix_disable(&f), EINVAL);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

struct image_check {
	int result;
};

static int image_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct image_check *c = ctx;
	uint8_t buf[HW_PAGE_SIZE];

	for (int i = 0; i < KFIX_IMAGE_PAGES; i++) {
		int ret = kvm_guest_read(vcpu, KFIX_IMAGE_GADDR + i * HW_PAGE_SIZE,
					 buf, sizeof(buf));

		if (ret)
			return c->result = ret;
		for (size_t o = 0; o < sizeof(buf); o++)
			if (buf[o] != (uint8_t)(0xa0 + i))
				return c->result = -EILSEQ;
	}
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

/* UNPACK decrypted the image into secure frames; the guest reads it. */
TEST_IMPL(kvm_guest_sees_image)
{
	struct image_check c = { 0 };
	struct kvm_run run;
	struct kfix f;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	for (int i = 0; i < KFIX_IMAGE_PAGES; i++) {
		struct page *page = kfix_ram_page(&f, KFIX_IMAGE_GADDR + i * HW_PAGE_SIZE);

		ASSERT_TRUE(page_test_flag(page, PG_arch_1));
		mm_page_put(f.world, page);
		ASSERT_EQ(frame_state(&f, KFIX_IMAGE_GADDR + i * HW_PAGE_SIZE),
			  UV_FRAME_SECURE);
	}
	ASSERT_OK(kfix_run(&f, 0, image_guest, &c, &run));
	ASSERT_OK(c.result);
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * The host touches a secure page (0x3d): it is exported and the host sees
 * ciphertext, never the guest's plaintext; the guest touches it again
 * (0x3e): it is imported and verified, and the guest sees its data.
 */
TEST_IMPL(kvm_host_read_sees_no_plaintext)
{
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = DATA_PAGES,
				  .seed = 7, .write = true };
	uint8_t host[HW_PAGE_SIZE], want[HW_PAGE_SIZE];
	struct kvm_stats ks;
	struct kfix f;
	int same = 0;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3e, DATA_PAGES);	/* each page imported once */
	ASSERT_EQ(frame_state(&f, DATA_GADDR), UV_FRAME_SECURE);

	for (size_t o = 0; o < sizeof(want); o++)
		want[o] = (uint8_t)((7 * 131 + 0 * 7 + o) | 1);
	ASSERT_OK(mm_access(f.mm, f.ram + DATA_GADDR, host, sizeof(host), false));
	for (size_t o = 0; o < sizeof(host); o++)
		same += host[o] == want[o];
	ASSERT_LT(same, 64);	/* ciphertext: ~16 equal bytes by chance */
	ASSERT_EQ(frame_state(&f, DATA_GADDR), UV_FRAME_EXPORTED);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3d, 1);

	/* The guest reads everything back: page 0 is imported again. */
	p.write = false;
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	ASSERT_EQ(frame_state(&f, DATA_GADDR), UV_FRAME_SECURE);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3e, DATA_PAGES + 1);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* Reboot: DISABLE (sync), ENABLE a new config; the new guest's memory
 * reads as zeros where the old guest wrote. */
static int reboot_sync(enum kvm_destroy_mode mode)
{
	struct kfix_opts o = { .mode = mode };
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = DATA_PAGES,
				  .seed = 3, .write = true };
	struct kvm_stats ks;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	ASSERT_OK(kfix_disable(&f));
	/* Every page the old guest had is host-accessible again. */
	ASSERT_EQ(frame_state(&f, DATA_GADDR), UV_FRAME_NONSECURE);
	{
		struct page *page = kfix_ram_page(&f, DATA_GADDR);

		ASSERT_FALSE(page_test_flag(page, PG_arch_1));
		mm_page_put(f.world, page);
	}
	kvm_stats_get(f.mod, &ks);
	if (mode == KVM_DESTROY_SYNC)
		ASSERT_UEQ(ks.destroys, DATA_PAGES + KFIX_IMAGE_PAGES + 2);
	kfix_boot_protected(&f);
	p.write = false;
	p.seed = 0;		/* expect zeros */
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

TEST_IMPL(kvm_reboot_sync_memory_first)
{
	return reboot_sync(KVM_DESTROY_SYNC);
}

TEST_IMPL(kvm_reboot_sync_config_first)
{
	return reboot_sync(KVM_DESTROY_SYNC_60);
}

/* Shutdown: exit_mmap exports every secure page, then the VM closes. */
TEST_IMPL(kvm_shutdown_exports_at_exit)
{
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = DATA_PAGES,
				  .seed = 5, .write = true };
	struct kvm_stats ks;
	struct mm_stats st;
	struct kfix f;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	kfix_shutdown(&f);
	kvm_stats_get(f.mod, &ks);
	/* data + image + the 2 prefix pages */
	ASSERT_UEQ(ks.exit_exports, DATA_PAGES + KFIX_IMAGE_PAGES + 2);
	ASSERT_UEQ(ks.pv_disables, 1);
	mm_stats_get(f.world, &st);
	ASSERT_UEQ(st.use[PAGE_USE_ANON], 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/*
 * Destroying one page fails during a memory-first DISABLE: the page stays
 * secure for the old configuration (whose destroy then also fails and is
 * leaked).  The VM goes on as a normal guest; touching that page raises
 * 0x3d on the gmap path, which exports it, and the access is retried.
 */
TEST_IMPL(kvm_normal_guest_0x3d_after_failed_destroy)
{
	struct kfix_opts o = {
		.mode = KVM_DESTROY_SYNC,	/* memory first */
		.inject = {
			{ .cmd = UVC_CMD_DESTR_SEC_STOR, .nth = 1, .cc = 1,
			  .rc = 0x0102 },
			{ .cmd = UVC_CMD_DESTROY_SEC_CONF, .nth = 1, .cc = 1,
			  .rc = 0x0101 },
		},
	};
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 8, .seed = 9,
				  .write = true };
	struct kvm_stats ks;
	struct kvm_run run;
	struct kfix f;
	uint64_t stale = 0;
	bool found = false;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	ASSERT_ERR(kfix_disable(&f), EIO);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	/* Find the page the walk could not destroy. */
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
	ASSERT_EQ(frame_state(&f, stale), UV_FRAME_SECURE);
	p.gaddr = stale;
	ASSERT_OK(kfix_run(&f, 0, kfix_normal_guest_read, &p, &run));
	ASSERT_OK(p.result);
	kvm_stats_get(f.mod, &ks);
	ASSERT_UEQ(ks.pgm_3d, 1);
	ASSERT_NE(frame_state(&f, stale), UV_FRAME_SECURE);
	ASSERT_UEQ(ks.leaked_asce, 1);
	/* base + variable storage + the 4-frame table are leaked, counted */
	ASSERT_GT(kfix_fini(&f), 4 /* table frames */);
	return 0;
}

/* DESTROY_SEC_CONF fails: storage and table leaked (counted, never
 * reused), the VM carries on as a normal guest, and can even become
 * protected again with a fresh table (large guests) or not (small). */
TEST_IMPL(kvm_destroy_conf_failure_leaks)
{
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_DESTROY_SEC_CONF, .nth = 1,
			      .cc = 1, .rc = 0x0101 } },
	};
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };
	struct mm_stats st;
	struct kfix f;
	uint64_t leaked;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EIO);
	ASSERT_XEQ(cmd.rc, 0x0101);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	/* The config still exists in the UV: protected_count stays. */
	ASSERT_EQ(mm_context(f.mm)->protected_count, 1);
	mm_stats_get(f.world, &st);
	ASSERT_GT(st.leaked[MM_LEAK_conf_destroy_failed], 0);
	ASSERT_OK(mm_check(f.world));
	ASSERT_OK(uv_check(f.uv));
	leaked = kfix_fini(&f);
	ASSERT_GT(leaked, 4);	/* base + variable storage + the table */
	return 0;
}

/* DESTROY_SEC_CPU fails: DISABLE stops (the VM destroy would fail too),
 * the CPU storage is leaked; the VM's teardown later finishes the job. */
TEST_IMPL(kvm_destroy_cpu_failure_leaks)
{
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_DESTROY_SEC_CPU, .nth = 1,
			      .cc = 1, .rc = 0x0102 } },
	};
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };
	struct mm_stats st;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EIO);
	ASSERT_XEQ(cmd.rc, 0x0102);
	mm_stats_get(f.world, &st);
	ASSERT_GT(st.leaked[MM_LEAK_cpu_destroy_failed], 0);
	ASSERT_OK(mm_check(f.world));
	/* The UV refuses to destroy a config whose CPU it still has. */
	ASSERT_GT(kfix_fini(&f), 0);
	return 0;
}

/* An export that fails at exit_mmap: that one frame is leaked where it
 * failed (not by the free-list safety net), not freed. */
TEST_IMPL(kvm_export_failure_at_exit_leaks)
{
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_CONV_FROM_SEC_STOR, .nth = 3,
			      .cc = 1, .rc = 0x0102 } },
	};
	struct kfix_pattern p = { .gaddr = DATA_GADDR, .pages = 16, .seed = 1,
				  .write = true };
	struct mm_stats st;
	struct kfix f;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	run_pattern(&f, 0, &p);
	ASSERT_OK(p.result);
	kfix_shutdown(&f);
	mm_stats_get(f.world, &st);
	ASSERT_UEQ(st.leaked[MM_LEAK_export_failed], 1);
	ASSERT_UEQ(st.leaked[MM_LEAK_secure_at_free], 0);
	ASSERT_UEQ(kfix_fini(&f), 1);
	return 0;
}

TEST_IMPL(kvm_enable_twice_refused)
{
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ENABLE };
	struct kfix f;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EINVAL);
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_DUMP };
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EINVAL);
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_INFO, .flags = 1 };
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EINVAL);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

/* A flipped ciphertext byte in guest memory: UNPACK refuses the page. */
TEST_IMPL(kvm_unpack_tamper_rejected)
{
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ENABLE };
	struct kvm_s390_pv_unp unp = { .addr = 0x200000, .size = HW_PAGE_SIZE,
				       .tweak = 0x42 };
	uint8_t page[HW_PAGE_SIZE];
	struct kfix f;

	kfix_init(&f, NULL);
	ASSERT_OK(kvm_pv_command(f.kvm, &cmd));
	/* Garbage where an encrypted page should be, and no header set:
	 * the UV must refuse to unpack it. */
	memset(page, 0x5a, sizeof(page));
	ASSERT_OK(mm_access(f.mm, f.ram + unp.addr, page, sizeof(page), true));
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_UNPACK, .data = &unp };
	ASSERT_NE(kvm_pv_command(f.kvm, &cmd), 0);
	ASSERT_NE(cmd.rc, 0);
	ASSERT_NE(cmd.rc, UVC_RC_EXECUTED);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

static int out_of_range_guest(void *ctx, struct kvm_vcpu *vcpu,
			      struct kvm_run *run)
{
	struct kfix *f = ctx;
	uint8_t b = 1;

	ASSERT_ERR(kvm_guest_write(vcpu, f->o.guest_mem, &b, 1), EFAULT);
	ASSERT_ERR(kvm_guest_read(vcpu, f->o.guest_mem - 1, &b, 2), EFAULT);
	ASSERT_ERR(kvm_guest_read(vcpu, UINT64_MAX - 1, &b, 1), EFAULT);
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

TEST_IMPL(kvm_guest_out_of_range)
{
	struct kvm_run run;
	struct kfix f;

	kfix_init(&f, NULL);
	kfix_boot_protected(&f);
	ASSERT_OK(kfix_run(&f, 0, out_of_range_guest, &f, &run));
	ASSERT_EQ(run.reason, KVM_EXIT_POWEROFF);
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}

struct mv_arg {
	struct kfix *f;
	unsigned int cpu;
	struct kfix_pattern p;
};

static void *mv_thread(void *a)
{
	struct mv_arg *m = a;

	run_pattern(m->f, m->cpu, &m->p);
	return NULL;
}

/* Several vCPUs fault, import and verify disjoint ranges at once while the
 * host reads (and so exports) pages under them. */
TEST_IMPL(kvm_multi_vcpu_concurrent)
{
	struct kfix_opts o = { .cpus = 4, .guest_mem = 32 * MIB };
	struct mv_arg args[4];
	pthread_t t[4];
	struct kfix f;
	unsigned int rounds = 4 / test_scale() + 1;

	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < 4; i++) {
			args[i] = (struct mv_arg){ &f, i, {
				.gaddr = DATA_GADDR + i * 2 * MIB,
				.pages = 128, .seed = r * 10 + i + 1,
				.write = true } };
			ASSERT_OK(pthread_create(&t[i], NULL, mv_thread, &args[i]));
		}
		for (uint64_t pg = 0; pg < 4 * 128; pg += 17) {
			uint8_t b;

			ASSERT_OK(mm_access(f.mm, f.ram + DATA_GADDR +
					    (pg / 128) * 2 * MIB + (pg % 128) * HW_PAGE_SIZE,
					    &b, 1, false));
		}
		for (unsigned int i = 0; i < 4; i++) {
			ASSERT_OK(pthread_join(t[i], NULL));
			ASSERT_OK(args[i].p.result);
		}
	}
	ASSERT_OK(kfix_disable(&f));
	ASSERT_UEQ(kfix_fini(&f), 0);
	return 0;
}
