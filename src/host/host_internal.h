/* SPDX-License-Identifier: MIT */
/*
 * host_internal.h - the host object, private to src/host/.
 */
#ifndef LAZYPV_HOST_INTERNAL_H
#define LAZYPV_HOST_INTERNAL_H

#include "host.h"
#include "lib/lib.h"

/* Everything below the VMMs; read-only between create and destroy. */
struct host {
	struct host_config cfg;		/* a copy; uv_seed not kept */
	struct hw_machine *hw;
	struct uv *uv;
	struct mm_world *world;
	struct kvm_module *kvm;		/* NULL: no PV (cfg.pv_optional) */
	struct task *shell;		/* parent of every VMM task */
	struct vmm_env env;		/* what host_vmm_env() hands out */
	uint8_t host_pub[UV_HOST_KEY_LEN];
};

#endif /* LAZYPV_HOST_INTERNAL_H */
