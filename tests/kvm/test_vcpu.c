// SPDX-License-Identifier: MIT
/*
 * test_vcpu.c - vCPU creation's refusals and its one protected-VM rule:
 * an id beyond the firmware's largest CPU number or already taken is
 * refused without leaving anything behind; a vCPU added to a VM that is
 * already protected becomes a secure CPU at once and runs the guest.
 */
#include "fixture.h"

#define MIB (1ULL << 20)

TEST_IMPL(kvm_vcpu_create_rules)
{
	struct kfix_opts o = { .cpus = 1 };
	struct kfix_pattern p = { .gaddr = 2 * MIB, .pages = 8, .seed = 5,
				  .write = true };
	struct kvm_vcpu *v = NULL;
	struct kvm_run run;
	struct kfix f;

	kfix_init(&f, &o);
	ASSERT_ERR(kvm_vcpu_create(f.kvm, 0, &v), EEXIST);
	ASSERT_NULL(v);
	ASSERT_ERR(kvm_vcpu_create(f.kvm, 1u << 20, &v), EINVAL);
	ASSERT_NULL(v);
	kfix_boot_protected(&f);
	/* Added after PV_ENABLE: a secure CPU, able to run the guest. */
	ASSERT_OK(kvm_vcpu_create(f.kvm, 1, &v));
	ASSERT_EQ(kvm_vcpu_id(v), 1);
	ASSERT_PTR_EQ(kvm_vcpu_kvm(v), f.kvm);
	f.vcpu[1] = v;
	{
		uint16_t rc, rrc;

		ASSERT_OK(kvm_vcpu_pv_set_state(v, PV_CPU_STATE_OPR_LOAD, &rc,
						&rrc));
	}
	ASSERT_OK(kfix_run(&f, 1, kfix_pattern_guest, &p, &run));
	ASSERT_OK(p.result);
	ASSERT_ERR(kvm_vcpu_create(f.kvm, 1, &v), EEXIST);
	ASSERT_OK(kfix_disable(&f));
	kfix_shutdown(&f);
	kfix_fini(&f);
	return 0;
}
