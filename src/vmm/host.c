// SPDX-License-Identifier: MIT
/*
 * host.c - the host stack one run needs below its VMMs, brought up in
 * boot order and torn down in reverse: the machine (hw), the Ultravisor
 * with its firmware profile and a host key derived from a seed, the host
 * memory manager, the KVM module (INIT_UV, arch hooks, handlers), and a
 * "shell" task that every VMM is forked from.
 *
 * The host key: images are encrypted for the public half of the UV's
 * private host key.  Deriving that key from a seed string (vmm_host_key_
 * from_seed) lets `lazypv mkimage --uv-seed S` build, in another process,
 * an image that `lazypv run --uv-seed S --image F` can boot -- the role the
 * machine's published host-key document plays for IBM's genprotimg.
 *
 * Created and destroyed by one thread; the fields are read-only between.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vmm_host_create(const struct vmm_host_config *cfg, struct vmm_host **out,
		    char *err, size_t errlen)
{
	struct hw_config hwcfg = { .mem_bytes = cfg->host_mem,
				   .protect = cfg->protect,
				   .populate = cfg->populate };
	uint8_t priv[UV_HOST_KEY_LEN];
	struct uv_params up = { 0 };
	struct vmm_host *host;
	const char *what;
	char perr[160] = "";
	int r;

	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	if (cfg->uv_profile_value) {
		host->profile = *cfg->uv_profile_value;
		r = 0;
	} else {
		r = uv_profile_load(cfg->uv_profile, &host->profile, perr,
				    sizeof(perr));
	}
	if (r) {
		if (err && errlen) {
			if (perr[0])
				snprintf(err, errlen, "UV profile: %s", perr);
			else
				snprintf(err, errlen, "UV profile '%s': %s",
					 cfg->uv_profile ? cfg->uv_profile : "(default)",
					 strerror(-r));
		}
		goto out_free;
	}
	what = "machine";
	r = hw_machine_create(&hwcfg, &host->hw);
	if (r)
		goto fail;
	vmm_host_key_from_seed(cfg->uv_seed, priv);
	up.hw = host->hw;
	up.profile = &host->profile;
	up.host_key = priv;
	what = "Ultravisor";
	r = uv_create(&up, &host->uv);
	explicit_bzero(priv, sizeof(priv));
	if (r)
		goto out_hw;
	uv_host_key_public(host->uv, host->host_pub);
	what = "host memory manager";
	r = mm_world_create(host->hw, NULL, &host->world);
	if (r)
		goto out_uv;
	what = "KVM module";
	r = kvm_module_create(host->world, host->uv, cfg->kvm, &host->kvm);
	if (r)
		goto out_world;
	what = "shell task";
	r = task_create(host->world, NULL, NULL, 0, &host->shell);
	if (r)
		goto out_kvm;
	*out = host;
	return 0;

out_kvm:
	kvm_module_destroy(host->kvm);
out_world:
	mm_world_destroy(host->world);
out_uv:
	uv_destroy(host->uv);
out_hw:
	hw_machine_destroy(host->hw);
fail:
	if (err && errlen)
		snprintf(err, errlen, "cannot create the %s: %s", what,
			 strerror(-r));
out_free:
	free(host);
	return r;
}

void vmm_host_destroy(struct vmm_host *host)
{
	if (!host)
		return;
	/* The shell has no threads: the exit runs here; reap it. */
	if (!task_exit(host->shell, 0))
		BUG_ON(task_wait(host->shell, NULL));
	kvm_module_destroy(host->kvm);
	mm_world_destroy(host->world);
	uv_destroy(host->uv);
	hw_machine_destroy(host->hw);
	free(host);
}

int vmm_host_check(struct vmm_host *host)
{
	int r = mm_check(host->world);

	if (!r)
		r = uv_check(host->uv);
	if (!r)
		r = hw_check(host->hw);
	return r;
}
