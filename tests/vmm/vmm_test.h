/* SPDX-License-Identifier: MIT */
/*
 * vmm_test.h - shared set-up for the VMM scenario tests: a host stack
 * (host_create: the VMM's tests need the whole stack below it, which only
 * the host layer builds) with lazily-populated memory, an image built for its UV, a VMM config with
 * small defaults, and the end-of-scenario checks (invariants, every frame
 * back or counted as leaked, memcg empty).
 */
#ifndef LAZYPV_TESTS_VMM_TEST_H
#define LAZYPV_TESTS_VMM_TEST_H

#include "test.h"

#include "host/host.h"
#include "vmm/vmm.h"

struct vt {
	struct host *host;		/* the stack, from the host layer */
	const struct vmm_env *env;	/* what the VMMs run on */
	void *image_buf;
	size_t image_len;
	struct vmm_image image;
	struct vmm_config cfg;
	struct mm_stats before;		/* at vt_setup, after the host is up */
};

/* Host of 3 GiB (populated only as used; the UV's storage lies above
 * 2 GiB), @profile NULL = default; image of @program with a @payload-byte
 * blob; config: @guest_mb MiB, @cpus vCPUs, no reboot limit. */
void vt_setup(struct vt *t, const char *profile, const char *program,
	      uint64_t payload, unsigned int guest_mb, unsigned int cpus);
/* vt_setup with a given host size and kvm parameters (NULL: defaults). */
void vt_setup_host(struct vt *t, uint64_t host_mem,
		   const struct kvm_params *kvm, const char *profile,
		   const char *program, uint64_t payload, unsigned int guest_mb,
		   unsigned int cpus);
/* Boot, wait, check exit code, then vt_check_quiescent. */
void vt_run(struct vt *t, struct vmm_result *res, int want_code);
/* Invariants hold and every frame the scenario used is free again or
 * counted as leaked. */
void vt_check_quiescent(struct vt *t);
void vt_teardown(struct vt *t);
/* How many events of @type the timeline holds. */
size_t vt_count(struct vmm *vmm, enum vmm_event_type type);

#endif
