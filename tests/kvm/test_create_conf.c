// SPDX-License-Identifier: MIT
/*
 * CREATE_SEC_CONF failures (pv.c kvm_pv_init_vm): without the NEED_DESTROY
 * bit the UV made nothing and KVM frees the storage it donated; with it a
 * handle came back and KVM must destroy that configuration.  Either way
 * ENABLE fails with the UV's rc, nothing leaks, protected_count is back to
 * 0, and the VM can be made protected afterwards.  Ends in kfix_fini().
 */
#include "kvm/fixture.h"

#define CREATE_RC 0x0110

static uint64_t donated(struct kfix *f)
{
	struct mm_stats st;

	mm_stats_get(f->world, &st);
	return st.use[PAGE_USE_DONATED];
}

static void create_fails(bool need_destroy)
{
	uint16_t rc = CREATE_RC | (need_destroy ? UVC_RC_NEED_DESTROY : 0);
	struct kfix_opts o = {
		.inject = { { .cmd = UVC_CMD_CREATE_SEC_CONF, .nth = 1,
			      .cc = 1, .rc = rc } },
	};
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ENABLE };
	uint64_t donated0, usage0;
	struct uv_stats us;
	struct kfix f;

	kfix_init(&f, &o);
	donated0 = donated(&f);
	usage0 = memcg_usage(f.memcg);
	ASSERT_ERR(kvm_pv_command(f.kvm, &cmd), EIO);
	ASSERT_XEQ(cmd.rc, rc);
	ASSERT_FALSE(kvm_is_protected(f.kvm));
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 0);
	/* The donated storage came back; the UV holds no configuration. */
	ASSERT_UEQ(donated(&f), donated0);
	ASSERT_UEQ(memcg_usage(f.memcg), usage0);
	uv_stats_get(f.uv, &us);
	ASSERT_UEQ(us.configs_live, 0);
	ASSERT_UEQ(us.cmd[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF)].cc[UVC_CC_OK],
		   need_destroy ? 1 : 0);
	ASSERT_OK(mm_check(f.world));
	ASSERT_OK(uv_check(f.uv));

	/* The VM is as before: it can become protected. */
	kfix_boot_protected(&f);
	ASSERT_OK(kfix_disable(&f));
	ASSERT_EQ(atomic_load_acquire(&mm_context(f.mm)->protected_count), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);
}

TEST_IMPL(kvm_create_conf_failure)
{
	create_fails(false);
	return 0;
}

TEST_IMPL(kvm_create_conf_failure_need_destroy)
{
	create_fails(true);
	return 0;
}
