// SPDX-License-Identifier: MIT
/*
 * vmm_test.c - the helpers of vmm_test.h.
 */
#include "vmm_test.h"

void vt_setup(struct vt *t, const char *profile, const char *program,
	      uint64_t payload, unsigned int guest_mb, unsigned int cpus)
{
	vt_setup_host(t, 3ULL << 30, NULL, profile, program, payload,
		      guest_mb, cpus);
}

void vt_setup_host(struct vt *t, uint64_t host_mem,
		   const struct kvm_params *kvm, const char *profile,
		   const char *program, uint64_t payload, unsigned int guest_mb,
		   unsigned int cpus)
{
	struct host_config hc;
	struct vmm_image_spec spec = {
		.program = program,
		.default_payload_len = payload,
		.nonce = test_seed(),
	};
	char err[200] = "";

	memset(t, 0, sizeof(*t));
	ASSERT_OK(host_config_init(&hc));
	hc.mem_bytes = host_mem;
	hc.uv_seed = "tests";
	if (kvm)
		hc.kvm = *kvm;
	if (host_profile_load(profile, &hc.profile, err, sizeof(err)))
		test_fail(__FILE__, __LINE__, "profile: %s", err);
	if (host_create(&hc, &t->host, err, sizeof(err)))
		test_fail(__FILE__, __LINE__, "host: %s", err);
	t->env = host_vmm_env(t->host);
	if (vmm_image_build(&spec, host_public_key(t->host), &t->image_buf,
			    &t->image_len, err, sizeof(err)) ||
	    vmm_image_parse(t->image_buf, t->image_len, &t->image, err,
			    sizeof(err)))
		test_fail(__FILE__, __LINE__, "image: %s", err);
	t->cfg = (struct vmm_config){
		.guest_mem = (uint64_t)guest_mb << 20,
		.cpus = cpus,
		.destroy = VMM_DESTROY_SYNC,
		.image = &t->image,
		.max_reboots = -1,
		.salt = test_seed() ^ 0x5a5a,
	};
	mm_stats_get(t->env->world, &t->before);
}

size_t vt_count(struct vmm *vmm, enum vmm_event_type type)
{
	size_t nr, n = 0;
	const struct vmm_event *ev = vmm_events(vmm, &nr);

	for (size_t i = 0; i < nr; i++)
		n += ev[i].type == type;
	return n;
}

void vt_check_quiescent(struct vt *t)
{
	struct mm_stats now;
	uint64_t leaked_before = 0, leaked_now = 0;

	ASSERT_OK(host_check(t->host));
	mm_stats_get(t->env->world, &now);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++) {
		leaked_before += t->before.leaked[i];
		leaked_now += now.leaked[i];
	}
	/* Every frame is where it was before the scenario, except those
	 * leaked on purpose (counted with a reason). */
	ASSERT_UEQ(now.use[PAGE_USE_FREE] + (leaked_now - leaked_before),
		   t->before.use[PAGE_USE_FREE]);
	ASSERT_UEQ(now.use[PAGE_USE_PENDING], 0);
	ASSERT_UEQ(now.use[PAGE_USE_ANON], t->before.use[PAGE_USE_ANON]);
	ASSERT_UEQ(now.use[PAGE_USE_DONATED], t->before.use[PAGE_USE_DONATED]);
}

void vt_run(struct vt *t, struct vmm_result *res, int want_code)
{
	struct vmm *vmm;

	ASSERT_OK(vmm_create(t->env, &t->cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, res));
	if (res->exit_code != want_code)
		fprintf(stderr, "# VMM: exit %d, error %d: %s\n",
			res->exit_code, res->error, res->message);
	ASSERT_EQ(res->exit_code, want_code);
	vmm_destroy(vmm);
	vt_check_quiescent(t);
}

void vt_teardown(struct vt *t)
{
	host_destroy(t->host);
	free(t->image_buf);
}
