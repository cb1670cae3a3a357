// SPDX-License-Identifier: MIT
/*
 * test_scenario.c - whole VMM lives: boot, reboots, resets, non-protected
 * boots, shutdown, with the guest programs checking their own data (each
 * protected boot starts from cleared memory, a reset keeps it, a normal
 * guest never sees the protected one's plaintext) and the host checking it
 * never sees plaintext.  Every scenario ends with the invariants and every
 * frame back.
 */
#include "vmm_test.h"

/* Boot -> 3 reboots -> shutdown, two vCPUs, two rounds per boot. */
TEST_IMPL(vmm_boot_reboot_shutdown)
{
	struct vmm_result res;
	const struct vmm_event *ev;
	struct vmm *vmm;
	size_t nr, starts = 0;
	struct vt t;

	vt_setup(&t, NULL, "touch:rounds=2", 256 * 1024, 32, 2);
	t.cfg.max_reboots = 3;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.error, 0);
	ASSERT_EQ(res.boots, 4);
	ASSERT_FALSE(res.killed);
	ASSERT_UEQ(res.leaked_frames, 0);
	ASSERT_GT(res.reclaimed_frames, 32 * 256 / 2);
	ASSERT_EQ(vt_count(vmm, VMM_EV_BOOT_START), 4);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPACKED), 4);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 3);
	ASSERT_EQ(vt_count(vmm, VMM_EV_REBOOT_REQUEST), 4);	/* last: limit */
	ASSERT_EQ(vt_count(vmm, VMM_EV_GUEST_ROUND), 8);
	ASSERT_EQ(vt_count(vmm, VMM_EV_SHUTDOWN_REQUEST), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_EXIT), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_RECLAIMED), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_GUEST_ERROR), 0);
	/* Monotonic, and each restart latency spans request -> start. */
	ev = vmm_events(vmm, &nr);
	for (size_t i = 1; i < nr; i++) {
		if (ev[i].type == VMM_EV_RECLAIMED || ev[i].type == VMM_EV_EXIT)
			continue;
		ASSERT_LE(ev[i - 1].t_ns, ev[i].t_ns);
	}
	for (size_t i = 0; i < nr; i++) {
		if (ev[i].type != VMM_EV_GUEST_START)
			continue;
		ASSERT_TRUE(ev[i].protected);
		ASSERT_EQ(ev[i].boot, starts);
		ASSERT_GT(ev[i].latency_ns, 0);
		if (starts) {
			/* the request of the boot before it */
			size_t j = i;

			while (ev[j].type != VMM_EV_REBOOT_REQUEST)
				j--;
			ASSERT_UEQ(ev[i].latency_ns, ev[i].t_ns - ev[j].t_ns);
			ASSERT_UEQ(ev[j].subcode, DIAG308_PV_START);
		}
		starts++;
	}
	ASSERT_EQ(starts, 4);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* The guest finished writing; the host reads guest RAM like QEMU would:
 * the 0x3d handler exports each page first, so the host sees ciphertext,
 * never the guest's pattern. */
TEST_IMPL(vmm_host_sees_no_plaintext)
{
	uint64_t page[HW_PAGE_SIZE / 8];
	uint64_t key, nonzero = 0, plain = 0;
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, NULL, "touch:mib=4,then=idle", 64 * 1024, 16, 1);
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait_round(vmm, 0, 0));
	key = vmm_boot_key(vmm, 0);
	for (uint64_t ga = t.image.guest_end; ga < t.image.guest_end + (4 << 20);
	     ga += HW_PAGE_SIZE) {
		ASSERT_OK(vmm_host_read_guest(vmm, ga, page, sizeof(page)));
		for (unsigned int w = 0; w < HW_PAGE_SIZE / 8; w++) {
			nonzero += page[w] != 0;
			plain += page[w] == vmm_pattern_word(key, ga + w * 8, 0);
		}
	}
	ASSERT_UEQ(plain, 0);
	/* Ciphertext, not a cleared page. */
	ASSERT_GT(nonzero, (4 << 20) / 8 / 2);
	kvm_stats_get(t.env->kvm, &ks);
	ASSERT_GE(ks.exports, (4 << 20) / HW_PAGE_SIZE);
	/* The image page is as opaque. */
	ASSERT_OK(vmm_host_read_guest(vmm, 0, page, sizeof(page)));
	ASSERT_NULL(memmem(page, sizeof(page), "LPVBOOT", 7));
	ASSERT_OK(vmm_request_shutdown(vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 0);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/*
 * Protected -> non-protected (diag 308 subcode 3) -> protected (subcode 10)
 * -> non-protected, in the same VM.  The normal guest checks that nothing
 * it reads is the previous protected guest's plaintext; the protected one
 * that every page starts cleared.
 */
TEST_IMPL(vmm_plain_after_protected)
{
	struct vmm_result res;
	const struct vmm_event *ev;
	struct vmm *vmm;
	size_t nr, boots = 0;
	struct vt t;

	vt_setup(&t, NULL, "touch:then=clear", 64 * 1024, 16, 2);
	t.cfg.plain_program = "touch:then=reboot";
	t.cfg.max_reboots = 3;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	if (res.error)
		fprintf(stderr, "# %s\n", res.message);
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.boots, 4);
	ev = vmm_events(vmm, &nr);
	for (size_t i = 0; i < nr; i++)
		if (ev[i].type == VMM_EV_GUEST_START) {
			ASSERT_EQ(ev[i].protected, boots % 2 == 0);
			boots++;
		}
	ASSERT_EQ(boots, 4);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 2);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPACKED), 2);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* diag 308 subcode 0 and 1 keep the guest protected (UNSHARE_ALL,
 * PREP_RESET, CPU resets): the restarted guest finds its memory as it
 * left it, and no new configuration is made. */
static void reset_scenario(const char *program)
{
	struct vmm_result res;
	struct kvm_stats before, after;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, NULL, program, 64 * 1024, 16, 2);
	t.cfg.max_reboots = 2;
	kvm_stats_get(t.env->kvm, &before);
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	if (res.error)
		fprintf(stderr, "# %s\n", res.message);
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.boots, 3);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPACKED), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 0);
	ASSERT_EQ(vt_count(vmm, VMM_EV_GUEST_START), 3);
	kvm_stats_get(t.env->kvm, &after);
	ASSERT_UEQ(after.pv_enables - before.pv_enables, 1);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
}

TEST_IMPL(vmm_reset_keeps_protected_memory)
{
	reset_scenario("touch:then=reset1");
	reset_scenario("touch:then=reset0");
	reset_scenario("memtest:rounds=2,then=reset1");
	return 0;
}

/* The io program shares pages, the VMM answers through them, the guest
 * checks the answer before and after unsharing. */
TEST_IMPL(vmm_io_sharing)
{
	struct vmm_result res;
	struct vt t;

	vt_setup(&t, NULL, "io:pages=4,rounds=3,then=reboot", 64 * 1024, 16, 2);
	t.cfg.max_reboots = 1;
	vt_run(&t, &res, 0);
	ASSERT_EQ(res.boots, 2);
	ASSERT_UEQ(res.io_pages, 2 /* boots */ * 2 /* cpus */ * 4 * 3);
	vt_teardown(&t);
	return 0;
}

TEST_IMPL(vmm_memtest_reboots)
{
	struct vmm_result res;
	struct vt t;

	vt_setup(&t, NULL, "memtest:rounds=3,ops=3000", 64 * 1024, 24, 2);
	t.cfg.max_reboots = 2;
	vt_run(&t, &res, 0);
	ASSERT_EQ(res.boots, 3);
	vt_teardown(&t);
	return 0;
}

/* The host resets an idle guest twice, then asks it to power off. */
TEST_IMPL(vmm_external_reset_and_shutdown)
{
	struct vmm_result res;
	const struct vmm_event *ev;
	struct vmm *vmm;
	size_t nr, external = 0;
	struct vt t;

	vt_setup(&t, NULL, "idle", 64 * 1024, 16, 2);
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	for (unsigned int b = 0; b < 2; b++) {
		ASSERT_OK(vmm_wait_booted(vmm, b));
		ASSERT_OK(vmm_request_reset(vmm));
	}
	ASSERT_OK(vmm_wait_booted(vmm, 2));
	ASSERT_OK(vmm_request_shutdown(vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.boots, 3);
	ASSERT_ERR(vmm_request_shutdown(vmm), ESRCH);
	ev = vmm_events(vmm, &nr);
	for (size_t i = 0; i < nr; i++)
		if (ev[i].type == VMM_EV_REBOOT_REQUEST) {
			ASSERT_UEQ(ev[i].subcode, VMM_RESET_EXTERNAL);
			external++;
		}
	ASSERT_EQ(external, 2);
	ASSERT_EQ(vt_count(vmm, VMM_EV_UNPROTECTED), 2);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/* A guest that fails (asks for more memory than it has) is reported, and
 * the VMM ends with code 1 and nothing left behind. */
TEST_IMPL(vmm_guest_error_reported)
{
	struct vmm_result res;
	struct vt t;

	vt_setup(&t, NULL, "touch:mib=64", 64 * 1024, 16, 1);
	vt_run(&t, &res, 1);
	ASSERT_EQ(res.error, -ENOSPC);
	ASSERT_NOT_NULL(strstr(res.message, "mib=64"));
	vt_teardown(&t);
	return 0;
}

TEST_IMPL(vmm_config_rejected)
{
	struct vmm_config c;
	struct vmm *vmm;
	char err[200];
	struct vt t;

	vt_setup(&t, NULL, "idle", 2 << 20, 16, 1);
	c = t.cfg;
	c.cpus = 0;
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_create(t.env, &c, &vmm), EINVAL);
	c = t.cfg;
	c.guest_mem = 4ULL << 30;
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), E2BIG);
	ASSERT_NOT_NULL(strstr(err, "host memory guests can use"));
	c = t.cfg;
	c.guest_mem = (1 << 20) + 4096;
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), EINVAL);
	c = t.cfg;
	c.image = NULL;
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), EINVAL);
	c = t.cfg;
	c.guest_mem = 2 << 20;	/* smaller than the image */
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), E2BIG);
	c = t.cfg;
	c.plain_program = "nosuch";
	ASSERT_ERR(vmm_config_check(t.env, &c, err, sizeof(err)), ENOENT);
	ASSERT_OK(vmm_config_check(t.env, &t.cfg, err, sizeof(err)));
	/* Nothing was started by any of it. */
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}
