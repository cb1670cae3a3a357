/* SPDX-License-Identifier: MIT */
/*
 * uv_test.h - helpers shared by the tests of src/uv: a small machine with
 * a UV on it, a bump allocator of test frames, a guest (config + memory +
 * translator) built the way KVM will build it, and one-line UVC wrappers
 * that return the condition code and leave rc/rrc in the test object.
 */
#ifndef LAZYPV_UV_TEST_H
#define LAZYPV_UV_TEST_H

#include "test.h"

#include "hw/hw.h"
#include "lib/lib.h"
#include "uv/uv.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

struct uvt {
	struct hw_machine *hw;
	struct uv *uv;
	struct uv_profile prof;
	hw_pfn_t next_pfn;	/* bump allocator of test frames */
	uint16_t rc, rrc;	/* of the last uvt_* call */
	int faults;		/* 0x3d seen by the recording handler */
	hw_pfn_t fault_pfn;
};

struct uvt_guest {
	uint64_t handle;
	uint64_t msl;
	hw_pfn_t mem;		/* guest memory: frames mem .. mem+msl/4K */
	hw_pfn_t asce, base, var, sca;
	uint64_t var_frames;
	bool unmapped;		/* translator fails (tests 0x10a) */
};

/* A machine of @mem bytes with a UV of profile @prof (NULL: "default" with
 * init_min_origin = 0 so small machines can INIT), INITed when @init. */
void uvt_setup(struct uvt *t, uint64_t mem, const struct uv_profile *prof,
	       bool init);
/* uv_check, tear down, hw_check. */
void uvt_finish(struct uvt *t);
/* Profile "default" with init_min_origin 0 (and @name's changes). */
void uvt_profile(struct uv_profile *p, const char *name);

hw_pfn_t uvt_alloc(struct uvt *t, uint64_t frames, uint64_t align_frames);
int uvt_init(struct uvt *t);

/* Build the inputs of CREATE_SEC_CONF for a guest of @msl bytes. */
void uvt_guest_prepare(struct uvt *t, struct uvt_guest *g, uint64_t msl);
void uvt_cgc_fill(struct uvt *t, struct uvt_guest *g, struct uv_cb_cgc *cb);
/* prepare + create + register the translator; asserts success. */
void uvt_guest_create(struct uvt *t, struct uvt_guest *g, uint64_t msl);
int uvt_translate(void *ctx, uint64_t gaddr, hw_pfn_t *pfn);
uint64_t uvt_cpu_create(struct uvt *t, struct uvt_guest *g, uint16_t num);

int uvt_call(struct uvt *t, void *cb);
int uvt_nodata(struct uvt *t, uint16_t cmd, uint64_t handle);
int uvt_import(struct uvt *t, struct uvt_guest *g, uint64_t gaddr);
int uvt_cfs(struct uvt *t, uint16_t cmd, hw_pfn_t pfn);
int uvt_destroy_conf(struct uvt *t, uint64_t handle);	/* loops cc 3 */
int uvt_guest_share(struct uvt *t, uint64_t cpu, uint16_t cmd, uint64_t gaddr);

/* 0x3d handler that records the fault and does not resolve it. */
void uvt_record_faults(struct uvt *t);
/* Can the host read @pfn (through the checked copy)? */
bool uvt_host_can_read(struct uvt *t, hw_pfn_t pfn);

static inline uint64_t *uvt_fw(struct uvt *t, hw_pfn_t pfn)
{
	return hw_fw_page(t->hw, pfn);
}

#define ASSERT_CC_RC(t, expr, cc, rc_)					\
	do {								\
		int __cc = (expr);					\
		if (__cc != (cc) || (t)->rc != (rc_))			\
			test_fail(__FILE__, __LINE__,			\
				  "%s: cc %d rc 0x%04x rrc 0x%04x, "	\
				  "expected cc %d rc 0x%04x", #expr,	\
				  __cc, (t)->rc, (t)->rrc, (int)(cc),	\
				  (unsigned)(rc_));			\
	} while (0)
#define ASSERT_UV_OK(t, expr) ASSERT_CC_RC(t, expr, 0, UVC_RC_EXECUTED)

#endif /* LAZYPV_UV_TEST_H */
