/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - a small world for KVM tests: machine, host mm, UV (the "zero"
 * profile unless told otherwise, INIT storage allowed low so small hosts
 * work), the KVM module, a shell task and a VMM task whose mm holds guest
 * RAM, a VM with vCPUs, and a protected boot from a real encrypted image.
 * kfix_fini() checks every invariant (mm, UV, hw) and that nothing but
 * counted leaks is left.
 */
#ifndef LAZYPV_TESTS_KVM_FIXTURE_H
#define LAZYPV_TESTS_KVM_FIXTURE_H

#include "test.h"

#include "hw/hw.h"
#include "kvm/kvm.h"
#include "mm/mm.h"
#include "uv/uv.h"

struct kfix_opts {
	uint64_t host_mem;		/* default 64 MiB */
	uint64_t guest_mem;		/* default 16 MiB */
	unsigned int cpus;		/* default 1 */
	const char *profile;		/* default "zero" */
	struct uv_inject inject[4];	/* injected failures (cmd 0 = none) */
	struct kvm_params *params;	/* NULL: defaults */
	enum kvm_destroy_mode mode;	/* default SYNC */
	uint64_t destroy_page_ns;	/* modelled cost of DESTR_SEC_STOR */
	bool no_fast;			/* no DESTROY_SEC_CONF_FAST */
	bool no_misc;			/* no MISC feature */
	uint64_t oom_wait_ms;		/* mm's bound on an OOM wait; 0: its default */
};

struct kfix {
	struct kfix_opts o;
	struct hw_machine *hw;
	struct mm_world *world;
	struct uv *uv;
	struct kvm_module *mod;
	struct memcg *memcg;
	struct task *shell, *vmm;
	struct mm *mm;			/* the VMM's, with a user ref */
	uintptr_t ram;			/* guest RAM in the VMM's mm */
	struct kvm *kvm;
	struct kvm_vcpu *vcpu[4];
	int mode;			/* the teardown mode in effect */
	bool vm_gone;
	int exit_code;
};

void kfix_init(struct kfix *f, const struct kfix_opts *o);
/* KVM_PV_ENABLE + SET_SEC_PARMS + UNPACK + VERIFY of a 4-page image at
 * gaddr 0x100000 whose plaintext page i is filled with byte (0xa0 + i),
 * then CPU state "operating, load". */
void kfix_boot_protected(struct kfix *f);
/* Run @fn on vCPU @cpu on the calling thread (attached to the VMM task). */
int kfix_run(struct kfix *f, unsigned int cpu, kvm_guest_fn fn, void *ctx,
	     struct kvm_run *run);
/* KVM_PV_DISABLE; asserts it succeeds unless @expect_err. */
int kfix_disable(struct kfix *f);
/* The VMM exits (exit_mm, then the VM fd closes), parent waits. */
void kfix_shutdown(struct kfix *f);
/* Invariants, teardown of everything; asserts nothing is in use but the
 * counted leaks (returned). */
uint64_t kfix_fini(struct kfix *f);

/* Guest-program helpers: fill/verify @pages pages from @gaddr with a
 * pattern derived from @seed (0 = expect zeros on verify). */
struct kfix_pattern {
	uint64_t gaddr, pages, seed;
	bool write;		/* write then verify; else verify only */
	int result;		/* 0 or the first error */
	uint64_t bad_page;	/* first page that did not verify */
};
int kfix_pattern_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run);
/* A normal (non-protected) guest that reads 64 bytes at @p->gaddr into
 * @p->result, then powers off. */
int kfix_normal_guest_read(void *ctx, struct kvm_vcpu *vcpu,
			   struct kvm_run *run);

/* Run the pattern program on vCPU 0 over @pages pages from @gaddr
 * (write then verify, or verify only); the test fails on any error. */
void kfix_touch(struct kfix *f, uint64_t gaddr, uint64_t pages, uint64_t seed,
		bool write);
struct kvm_stats kfix_kstats(struct kfix *f);
/* A KVM_PV command without data; rc/rrc may be NULL. */
int kfix_pv_cmd(struct kfix *f, uint32_t id, uint16_t *rc, uint16_t *rrc);
/* The page behind guest address @gaddr, with a reference (put it). */
struct page *kfix_ram_page(struct kfix *f, uint64_t gaddr);
/* The UV's view of the frame behind guest address @gaddr. */
struct uv_frame_info kfix_frame_info(struct kfix *f, uint64_t gaddr);
/* The UV's state of the frame behind guest address @gaddr (and its
 * owner's handle, if @owner). */
enum uv_frame_state kfix_frame_state(struct kfix *f, uint64_t gaddr,
				     uint64_t *owner);
/* A second VMA in the VMM's mm, outside guest memory, with @pages present
 * never-secure pages: the kernel's walks and unmap hooks see them too. */
void kfix_map_side(struct kfix *f, uint64_t pages);

/* A task B faulting @pages pages in (a pthread body: B's allocations meet
 * whatever OOM the host is in). */
struct kfix_hog {
	struct kfix *f;
	struct task *task;
	uint64_t pages;
	int result;		/* 0, or the first error */
	uint64_t got;		/* pages faulted in */
};
void *kfix_hog_thread(void *arg);

/* Every free page above the reserve (MM_GFP_HIGH: the reserve too) taken,
 * without waiting; kfix_release_held gives them back. */
struct kfix_held {
	struct page **pages;
	size_t n;
};
void kfix_hold_free(struct kfix *f, unsigned int gfp, struct kfix_held *h);
void kfix_release_held(struct kfix *f, struct kfix_held *h);

#define KFIX_IMAGE_GADDR 0x100000ULL
#define KFIX_IMAGE_PAGES 4

#endif
