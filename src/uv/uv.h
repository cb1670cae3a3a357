/* SPDX-License-Identifier: MIT */
/*
 * uv.h - the Ultravisor: the trusted firmware of the machine, seen through
 * its one instruction (UVC) and the control blocks of s390's interface.
 * This is the only header of src/uv/ that other layers may include.
 *
 * Everything a host or guest asks of the UV goes through uv_call() (host) or
 * uv_guest_call() (a protected guest's CPU) with a UV control block (UVCB):
 * the header {len, cmd, rc, rrc} followed by the command's fields, with the
 * layouts, command codes, condition codes and return codes of the public
 * record (../shared/reference/uv-interface.md; our choices where it is
 * silent are in docs/uv.md).  Fields are in host byte order.
 *
 * Address kinds in UVCBs, in this machine:
 *   absolute / physical  pfn << HW_PAGE_SHIFT (INIT storage, config base
 *                        storage, CPU storage, state_origin, SCA, ASCE
 *                        origin, paddr of export/destroy/pin);
 *   home-space virtual   a host-view address, (uintptr_t)hw_host_page(pfn)
 *                        + offset: the host kernel's linear map (variable
 *                        storage, SE header).  Consecutive virtual pages are
 *                        consecutive frames;
 *   guest absolute       gaddr, resolved by the configuration's translator
 *                        (uv_config_set_translate), which stands for the
 *                        UV's walk of the guest's DAT tables.
 *
 * Errors of the helper functions are 0 or a negative errno; the firmware's
 * rc/rrc travel beside them in out-parameters.  Every function may be called
 * from any thread at any time after uv_create(); per-page calls do not
 * serialise on a global lock.
 */
#ifndef LAZYPV_UV_H
#define LAZYPV_UV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hw/hw.h"
#include "lazypv/compiler.h"

/* ---- condition codes ---- */

#define UVC_CC_OK 0		/* executed, rc 0x0001 */
#define UVC_CC_ERROR 1		/* failed, see rc/rrc */
#define UVC_CC_BUSY 2		/* nothing done: re-issue the same UVCB */
#define UVC_CC_PARTIAL 3	/* progress made: re-issue the same UVCB */
/* Not a condition code: uv_guest_call() only, the guest's UVC was
 * intercepted to the host (unsharing a pinned page).  The host resolves it
 * (UNPIN_PAGE_SHARED) and re-drives the guest's instruction. */
#define UVC_GUEST_INTERCEPT 4

/* ---- generic return codes (header.rc) ---- */

#define UVC_RC_EXECUTED 0x0001
#define UVC_RC_INV_CMD 0x0002
#define UVC_RC_INV_STATE 0x0003
#define UVC_RC_INV_LEN 0x0005
#define UVC_RC_NO_RESUME 0x0007
#define UVC_RC_INV_GHANDLE 0x0020
#define UVC_RC_INV_CHANDLE 0x0021
#define UVC_RC_MORE_DATA 0x0100
#define UVC_RC_NEED_DESTROY 0x8000	/* flag ORed into a create-config rc */
/* Across every command of this UV: the (virtual or guest) address could not
 * be translated to an accessible frame.  KVM maps it to -ENXIO. */
#define UVC_RC_NOT_MAPPED 0x010a
/* Old firmware: export/destroy of a page that is not secure (rrc below). */
#define UVC_RC_NOT_SECURE 0x0107
#define UVC_RRC_NOT_SECURE 0x000d

/* ---- command codes ---- */

#define UVC_CMD_QUI 0x0001
#define UVC_CMD_QUERY_KEYS 0x0002
#define UVC_CMD_INIT_UV 0x000f
#define UVC_CMD_CREATE_SEC_CONF 0x0100
#define UVC_CMD_DESTROY_SEC_CONF 0x0101
#define UVC_CMD_DESTROY_SEC_CONF_FAST 0x0102
#define UVC_CMD_CREATE_SEC_CPU 0x0120
#define UVC_CMD_DESTROY_SEC_CPU 0x0121
#define UVC_CMD_CONV_TO_SEC_STOR 0x0200
#define UVC_CMD_CONV_FROM_SEC_STOR 0x0201
#define UVC_CMD_DESTR_SEC_STOR 0x0202
#define UVC_CMD_SET_SEC_CONF_PARAMS 0x0300
#define UVC_CMD_UNPACK_IMG 0x0301
#define UVC_CMD_VERIFY_IMG 0x0302
#define UVC_CMD_CPU_RESET 0x0310
#define UVC_CMD_CPU_RESET_INITIAL 0x0311
#define UVC_CMD_PREPARE_RESET 0x0320
#define UVC_CMD_CPU_RESET_CLEAR 0x0321
#define UVC_CMD_CPU_SET_STATE 0x0330
#define UVC_CMD_SET_UNSHARE_ALL 0x0340
#define UVC_CMD_PIN_PAGE_SHARED 0x0341
#define UVC_CMD_UNPIN_PAGE_SHARED 0x0342
#define UVC_CMD_DUMP_INIT 0x0400
#define UVC_CMD_DUMP_CONF_STOR_STATE 0x0401
#define UVC_CMD_DUMP_CPU 0x0402
#define UVC_CMD_DUMP_COMPLETE 0x0403
#define UVC_CMD_SET_SHARED_ACCESS 0x1000
#define UVC_CMD_REMOVE_SHARED_ACCESS 0x1001
#define UVC_CMD_RETR_ATTEST 0x1020
#define UVC_CMD_ADD_SECRET 0x1031
#define UVC_CMD_LIST_SECRETS 0x1033
#define UVC_CMD_LOCK_SECRETS 0x1034
#define UVC_CMD_RETR_SECRET 0x1035

/* Installed-call bits of QUI inst_calls_list, numbered MSB first. */
enum uv_cmds_inst {
	BIT_UVC_CMD_QUI = 0,
	BIT_UVC_CMD_INIT_UV = 1,
	BIT_UVC_CMD_CREATE_SEC_CONF = 2,
	BIT_UVC_CMD_DESTROY_SEC_CONF = 3,
	BIT_UVC_CMD_CREATE_SEC_CPU = 4,
	BIT_UVC_CMD_DESTROY_SEC_CPU = 5,
	BIT_UVC_CMD_CONV_TO_SEC_STOR = 6,
	BIT_UVC_CMD_CONV_FROM_SEC_STOR = 7,
	BIT_UVC_CMD_SET_SHARED_ACCESS = 8,
	BIT_UVC_CMD_REMOVE_SHARED_ACCESS = 9,
	BIT_UVC_CMD_SET_SEC_PARMS = 11,
	BIT_UVC_CMD_UNPACK_IMG = 13,
	BIT_UVC_CMD_VERIFY_IMG = 14,
	BIT_UVC_CMD_CPU_RESET = 15,
	BIT_UVC_CMD_CPU_RESET_INITIAL = 16,
	BIT_UVC_CMD_CPU_SET_STATE = 17,
	BIT_UVC_CMD_PREPARE_RESET = 18,
	BIT_UVC_CMD_CPU_PERFORM_CLEAR_RESET = 19,
	BIT_UVC_CMD_UNSHARE_ALL = 20,
	BIT_UVC_CMD_PIN_PAGE_SHARED = 21,
	BIT_UVC_CMD_UNPIN_PAGE_SHARED = 22,
	BIT_UVC_CMD_DESTROY_SEC_CONF_FAST = 23,
	BIT_UVC_CMD_DUMP_INIT = 24,
	BIT_UVC_CMD_DUMP_CONFIG_STOR_STATE = 25,
	BIT_UVC_CMD_DUMP_CPU = 26,
	BIT_UVC_CMD_DUMP_COMPLETE = 27,
	BIT_UVC_CMD_RETR_ATTEST = 28,
	BIT_UVC_CMD_ADD_SECRET = 29,
	BIT_UVC_CMD_LIST_SECRETS = 30,
	BIT_UVC_CMD_LOCK_SECRETS = 31,
	BIT_UVC_CMD_RETR_SECRET = 33,
	BIT_UVC_CMD_QUERY_KEYS = 34,
};

/* Feature bits of QUI uv_feature_indications, MSB first. */
enum uv_feat_ind {
	BIT_UV_FEAT_MISC = 0,	/* import transfers ownership of shared pages */
	BIT_UV_FEAT_AIV = 1,
	BIT_UV_FEAT_AP = 4,
	BIT_UV_FEAT_AP_INTR = 5,
};

/* MSB-first bit helpers for inst_calls_list / feature words. */
static inline uint64_t uv_bit_mask(unsigned int nr)
{
	return 1ULL << (63 - nr % 64);
}

/* Secure-CPU states for CPU_SET_STATE. */
#define PV_CPU_STATE_OPR 1
#define PV_CPU_STATE_STP 2
#define PV_CPU_STATE_CHKSTP 3
#define PV_CPU_STATE_OPR_LOAD 5

/* ASCE bits the UV checks (s390 ASCE format). */
#define UV_ASCE_ORIGIN_MASK (~0xfffULL)
#define UV_ASCE_P 0x100ULL		/* private space: required */
#define UV_ASCE_R 0x20ULL		/* bit 58, real space: must be 0 */
#define UV_ASCE_DT_MASK 0x0cULL
#define UV_ASCE_TL_MASK 0x03ULL		/* table length: (TL + 1) frames */

/* ---- control blocks (layouts of the reference, all packed) ---- */

#define __uvcb __attribute__((packed, aligned(8)))

struct uv_cb_header {
	uint16_t len;
	uint16_t cmd;	/* command code */
	uint16_t rc;	/* response code */
	uint16_t rrc;	/* return reason code */
} __uvcb;

struct uv_cb_qui {
	struct uv_cb_header header;
	uint64_t reserved08;
	uint64_t inst_calls_list[4];
	uint64_t reserved30[2];
	uint64_t uv_base_stor_len;
	uint64_t reserved48;
	uint64_t conf_base_phys_stor_len;
	uint64_t conf_base_virt_stor_len;
	uint64_t conf_virt_var_stor_len;
	uint64_t cpu_stor_len;
	uint32_t reserved70[3];
	uint32_t max_num_sec_conf;
	uint64_t max_guest_stor_addr;
	uint8_t reserved88[0x9e - 0x88];
	uint16_t max_guest_cpu_id;
	uint64_t uv_feature_indications;
	uint64_t reserveda8;
	uint64_t supp_se_hdr_versions;
	uint64_t supp_se_hdr_pcf;
	uint64_t reservedc0;
	uint64_t conf_dump_storage_state_len;
	uint64_t conf_dump_finalize_len;
	uint64_t reservedd8;
	uint64_t supp_att_req_hdr_ver;
	uint64_t supp_att_pflags;
	uint64_t reservedf0;
	uint64_t supp_add_secret_req_ver;
	uint64_t supp_add_secret_pcf;
	uint64_t supp_secret_types;
	uint16_t max_assoc_secrets;
	uint16_t max_retr_secrets;
	uint8_t reserved114[0x120 - 0x114];
} __uvcb;
/* QUI accepts any len >= this (short of the full block: rc 0x0100). */
#define UV_QUI_MIN_LEN 0xa8

struct uv_cb_init {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t stor_origin;
	uint64_t stor_len;
	uint64_t reserved28[4];
} __uvcb;

/* CREATE_SEC_CONF flags at 0x36 (AP is not modelled: accepted, ignored). */
#define UV_CGC_FLAG_AP_ALLOW_INSTR 0x0001
#define UV_CGC_FLAG_AP_INSTR_INTR 0x0002

struct uv_cb_cgc {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t guest_handle;
	uint64_t conf_base_stor_origin;
	uint64_t conf_virt_stor_origin;
	uint8_t reserved30[6];
	uint16_t flags;
	uint64_t guest_stor_origin;
	uint64_t guest_stor_len;
	uint64_t guest_sca;
	uint64_t guest_asce;
	uint64_t reserved58[5];
} __uvcb;

struct uv_cb_csc {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t cpu_handle;
	uint64_t guest_handle;
	uint64_t stor_origin;
	uint8_t reserved30[6];
	uint16_t num;
	uint64_t state_origin;
	uint64_t reserved40[4];
} __uvcb;

struct uv_cb_nodata {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t handle;
	uint64_t reserved20[4];
} __uvcb;

struct uv_cb_destroy_fast {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t handle;
	uint64_t reserved20[5];
} __uvcb;

struct uv_cb_cpu_set_state {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t cpu_handle;
	uint8_t reserved20[7];
	uint8_t state;
	uint64_t reserved28[5];
} __uvcb;

struct uv_cb_cts {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t guest_handle;
	uint64_t gaddr;
} __uvcb;

struct uv_cb_cfs {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t paddr;
} __uvcb;

struct uv_cb_share {
	struct uv_cb_header header;
	uint64_t reserved08[3];
	uint64_t paddr;		/* guest absolute address */
	uint64_t reserved28;
} __uvcb;

struct uv_cb_ssc {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t guest_handle;
	uint64_t sec_header_origin;	/* home-space virtual */
	uint32_t sec_header_len;
	uint32_t reserved2c;
	uint64_t reserved30[4];
} __uvcb;

struct uv_cb_unp {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t guest_handle;
	uint64_t gaddr;
	uint64_t tweak[2];	/* component, byte offset in the component */
	uint64_t reserved38[3];
} __uvcb;

/* Attestation is not installed here; the block exists so that its length
 * (0x188) can be checked by callers written against the real layout. */
struct uv_cb_attest {
	struct uv_cb_header header;
	uint64_t reserved08[2];
	uint64_t arcb_addr;
	uint64_t cont_token;
	uint8_t reserved28[6];
	uint16_t user_data_len;
	uint8_t user_data[256];
	uint32_t reserved130[3];
	uint32_t meas_len;
	uint64_t meas_addr;
	uint8_t config_uid[16];
	uint32_t reserved158;
	uint32_t add_data_len;
	uint64_t add_data_addr;
	uint64_t reserved168[4];
} __uvcb;

#define UV_ASSERT_LAYOUT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field)
UV_ASSERT_LAYOUT(struct uv_cb_header, rc, 0x04);
UV_ASSERT_LAYOUT(struct uv_cb_header, rrc, 0x06);
UV_ASSERT_LAYOUT(struct uv_cb_qui, inst_calls_list, 0x10);
UV_ASSERT_LAYOUT(struct uv_cb_qui, uv_base_stor_len, 0x40);
UV_ASSERT_LAYOUT(struct uv_cb_qui, conf_base_phys_stor_len, 0x50);
UV_ASSERT_LAYOUT(struct uv_cb_qui, conf_base_virt_stor_len, 0x58);
UV_ASSERT_LAYOUT(struct uv_cb_qui, conf_virt_var_stor_len, 0x60);
UV_ASSERT_LAYOUT(struct uv_cb_qui, cpu_stor_len, 0x68);
UV_ASSERT_LAYOUT(struct uv_cb_qui, max_num_sec_conf, 0x7c);
UV_ASSERT_LAYOUT(struct uv_cb_qui, max_guest_stor_addr, 0x80);
UV_ASSERT_LAYOUT(struct uv_cb_qui, max_guest_cpu_id, 0x9e);
UV_ASSERT_LAYOUT(struct uv_cb_qui, uv_feature_indications, 0xa0);
UV_ASSERT_LAYOUT(struct uv_cb_qui, supp_se_hdr_versions, 0xb0);
UV_ASSERT_LAYOUT(struct uv_cb_qui, conf_dump_storage_state_len, 0xc8);
UV_ASSERT_LAYOUT(struct uv_cb_qui, supp_att_req_hdr_ver, 0xe0);
UV_ASSERT_LAYOUT(struct uv_cb_qui, supp_add_secret_pcf, 0x100);
UV_ASSERT_LAYOUT(struct uv_cb_qui, max_assoc_secrets, 0x110);
UV_ASSERT_LAYOUT(struct uv_cb_qui, max_retr_secrets, 0x112);
_Static_assert(sizeof(struct uv_cb_header) == 0x08, "header");
_Static_assert(sizeof(struct uv_cb_qui) == 0x120, "qui");
UV_ASSERT_LAYOUT(struct uv_cb_init, stor_origin, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_init, stor_len, 0x20);
_Static_assert(sizeof(struct uv_cb_init) == 0x48, "init");
UV_ASSERT_LAYOUT(struct uv_cb_cgc, guest_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, conf_base_stor_origin, 0x20);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, conf_virt_stor_origin, 0x28);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, flags, 0x36);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, guest_stor_origin, 0x38);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, guest_stor_len, 0x40);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, guest_sca, 0x48);
UV_ASSERT_LAYOUT(struct uv_cb_cgc, guest_asce, 0x50);
_Static_assert(sizeof(struct uv_cb_cgc) == 0x80, "cgc");
UV_ASSERT_LAYOUT(struct uv_cb_csc, cpu_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_csc, guest_handle, 0x20);
UV_ASSERT_LAYOUT(struct uv_cb_csc, stor_origin, 0x28);
UV_ASSERT_LAYOUT(struct uv_cb_csc, num, 0x36);
UV_ASSERT_LAYOUT(struct uv_cb_csc, state_origin, 0x38);
_Static_assert(sizeof(struct uv_cb_csc) == 0x60, "csc");
UV_ASSERT_LAYOUT(struct uv_cb_nodata, handle, 0x18);
_Static_assert(sizeof(struct uv_cb_nodata) == 0x40, "nodata");
UV_ASSERT_LAYOUT(struct uv_cb_destroy_fast, handle, 0x18);
_Static_assert(sizeof(struct uv_cb_destroy_fast) == 0x48, "destroy_fast");
UV_ASSERT_LAYOUT(struct uv_cb_cpu_set_state, cpu_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_cpu_set_state, state, 0x27);
_Static_assert(sizeof(struct uv_cb_cpu_set_state) == 0x50, "set_state");
UV_ASSERT_LAYOUT(struct uv_cb_cts, guest_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_cts, gaddr, 0x20);
_Static_assert(sizeof(struct uv_cb_cts) == 0x28, "cts");
UV_ASSERT_LAYOUT(struct uv_cb_cfs, paddr, 0x18);
_Static_assert(sizeof(struct uv_cb_cfs) == 0x20, "cfs");
UV_ASSERT_LAYOUT(struct uv_cb_share, paddr, 0x20);
_Static_assert(sizeof(struct uv_cb_share) == 0x30, "share");
UV_ASSERT_LAYOUT(struct uv_cb_ssc, guest_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_ssc, sec_header_origin, 0x20);
UV_ASSERT_LAYOUT(struct uv_cb_ssc, sec_header_len, 0x28);
_Static_assert(sizeof(struct uv_cb_ssc) == 0x50, "ssc");
UV_ASSERT_LAYOUT(struct uv_cb_unp, guest_handle, 0x18);
UV_ASSERT_LAYOUT(struct uv_cb_unp, gaddr, 0x20);
UV_ASSERT_LAYOUT(struct uv_cb_unp, tweak, 0x28);
_Static_assert(sizeof(struct uv_cb_unp) == 0x50, "unp");
UV_ASSERT_LAYOUT(struct uv_cb_attest, user_data_len, 0x2e);
UV_ASSERT_LAYOUT(struct uv_cb_attest, meas_len, 0x13c);
UV_ASSERT_LAYOUT(struct uv_cb_attest, add_data_addr, 0x160);
_Static_assert(sizeof(struct uv_cb_attest) == 0x188, "attest");

/* ---- the firmware profile ---- */

#define UV_PROFILE_MAX_INJECT 16
#define UV_PROFILE_NAME_LEN 32

/* One injected failure: the nth call of a command (once), or each call with
 * a seeded probability.  The UV does nothing and answers cc/rc/rrc -- except
 * that an rc carrying UVC_RC_NEED_DESTROY on CREATE_SEC_CONF creates the
 * configuration and returns its handle, as the flag says. */
struct uv_inject {
	uint16_t cmd;		/* command code */
	uint64_t nth;		/* 1-based call number, 0 = use prob */
	double prob;		/* 0..1 */
	uint64_t seed;
	uint8_t cc;		/* 1 (error) or 2 (busy) */
	uint16_t rc;
	uint16_t rrc;
};

/*
 * The commands this UV implements: the one list every per-command table is
 * generated from (the dispatch table and its handlers, uv_cmd_index(), the
 * QUI installed-calls bits, the profile's keys and default costs, the
 * per-command stats).  Columns:
 *   id    the row's index, UV_IDX_<id> (profile arrays, stats)
 *   code  UVC_CMD_* (header.cmd)
 *   name  the key of the profile (call.<name>, cost.<name>) and of the stats
 *   bit   QUI inst_calls_list bit (enum uv_cmds_inst), -1 if it has none
 *   len   exact header.len (QUI: the minimum)
 *   guest issued by a protected guest (else by the host; QUI by both)
 *   early allowed before INIT_UV
 *   cost  the default profile's assumed fixed cost, ns (docs/uv.md)
 *   fn    the handler, uv_do_<fn> (src/uv/)
 */
#define UV_CMDS(X)							\
	X(QUI, UVC_CMD_QUI, "qui", BIT_UVC_CMD_QUI,			\
	  UV_QUI_MIN_LEN, false, true, 500, qui)				\
	X(INIT, UVC_CMD_INIT_UV, "init", BIT_UVC_CMD_INIT_UV,		\
	  sizeof(struct uv_cb_init), false, true, 100000, init)		\
	X(CREATE_CONF, UVC_CMD_CREATE_SEC_CONF, "create_conf",		\
	  BIT_UVC_CMD_CREATE_SEC_CONF, sizeof(struct uv_cb_cgc), false,	\
	  false, 50000, create_conf)					\
	X(DESTROY_CONF, UVC_CMD_DESTROY_SEC_CONF, "destroy_conf",	\
	  BIT_UVC_CMD_DESTROY_SEC_CONF, sizeof(struct uv_cb_nodata),	\
	  false, false, 20000, destroy_conf)				\
	X(DESTROY_CONF_FAST, UVC_CMD_DESTROY_SEC_CONF_FAST,		\
	  "destroy_conf_fast", BIT_UVC_CMD_DESTROY_SEC_CONF_FAST,	\
	  sizeof(struct uv_cb_destroy_fast), false, false, 30000,	\
	  destroy_conf_fast)						\
	X(CREATE_CPU, UVC_CMD_CREATE_SEC_CPU, "create_cpu",		\
	  BIT_UVC_CMD_CREATE_SEC_CPU, sizeof(struct uv_cb_csc), false,	\
	  false, 20000, create_cpu)					\
	X(DESTROY_CPU, UVC_CMD_DESTROY_SEC_CPU, "destroy_cpu",		\
	  BIT_UVC_CMD_DESTROY_SEC_CPU, sizeof(struct uv_cb_nodata),	\
	  false, false, 10000, destroy_cpu)				\
	X(IMPORT, UVC_CMD_CONV_TO_SEC_STOR, "import",			\
	  BIT_UVC_CMD_CONV_TO_SEC_STOR, sizeof(struct uv_cb_cts), false,	\
	  false, 1500, import)						\
	X(EXPORT, UVC_CMD_CONV_FROM_SEC_STOR, "export",			\
	  BIT_UVC_CMD_CONV_FROM_SEC_STOR, sizeof(struct uv_cb_cfs),	\
	  false, false, 3000, export)					\
	X(DESTROY_PAGE, UVC_CMD_DESTR_SEC_STOR, "destroy_page", -1,	\
	  sizeof(struct uv_cb_cfs), false, false, 800, destroy_page)	\
	X(SET_PARAMS, UVC_CMD_SET_SEC_CONF_PARAMS, "set_params",	\
	  BIT_UVC_CMD_SET_SEC_PARMS, sizeof(struct uv_cb_ssc), false,	\
	  false, 20000, set_params)					\
	X(UNPACK, UVC_CMD_UNPACK_IMG, "unpack", BIT_UVC_CMD_UNPACK_IMG,	\
	  sizeof(struct uv_cb_unp), false, false, 2000, unpack)		\
	X(VERIFY, UVC_CMD_VERIFY_IMG, "verify", BIT_UVC_CMD_VERIFY_IMG,	\
	  sizeof(struct uv_cb_nodata), false, false, 10000, verify)	\
	X(CPU_RESET, UVC_CMD_CPU_RESET, "cpu_reset",			\
	  BIT_UVC_CMD_CPU_RESET, sizeof(struct uv_cb_nodata), false,	\
	  false, 5000, cpu_reset)					\
	X(CPU_RESET_INITIAL, UVC_CMD_CPU_RESET_INITIAL,			\
	  "cpu_reset_initial", BIT_UVC_CMD_CPU_RESET_INITIAL,		\
	  sizeof(struct uv_cb_nodata), false, false, 5000, cpu_reset)	\
	X(PREPARE_RESET, UVC_CMD_PREPARE_RESET, "prepare_reset",	\
	  BIT_UVC_CMD_PREPARE_RESET, sizeof(struct uv_cb_nodata), false,	\
	  false, 10000, prepare_reset)					\
	X(CPU_RESET_CLEAR, UVC_CMD_CPU_RESET_CLEAR, "cpu_reset_clear",	\
	  BIT_UVC_CMD_CPU_PERFORM_CLEAR_RESET, sizeof(struct uv_cb_nodata), \
	  false, false, 8000, cpu_reset)				\
	X(CPU_SET_STATE, UVC_CMD_CPU_SET_STATE, "cpu_set_state",	\
	  BIT_UVC_CMD_CPU_SET_STATE, sizeof(struct uv_cb_cpu_set_state),	\
	  false, false, 2000, cpu_set_state)				\
	X(UNSHARE_ALL, UVC_CMD_SET_UNSHARE_ALL, "unshare_all",		\
	  BIT_UVC_CMD_UNSHARE_ALL, sizeof(struct uv_cb_nodata), false,	\
	  false, 20000, unshare_all)					\
	X(PIN_SHARED, UVC_CMD_PIN_PAGE_SHARED, "pin_shared",		\
	  BIT_UVC_CMD_PIN_PAGE_SHARED, sizeof(struct uv_cb_cfs), false,	\
	  false, 800, pin_shared)					\
	X(UNPIN_SHARED, UVC_CMD_UNPIN_PAGE_SHARED, "unpin_shared",	\
	  BIT_UVC_CMD_UNPIN_PAGE_SHARED, sizeof(struct uv_cb_cts), false, \
	  false, 1000, unpin_shared)					\
	X(SET_SHARED, UVC_CMD_SET_SHARED_ACCESS, "set_shared",		\
	  BIT_UVC_CMD_SET_SHARED_ACCESS, sizeof(struct uv_cb_share), true, \
	  false, 1000, set_shared)					\
	X(REMOVE_SHARED, UVC_CMD_REMOVE_SHARED_ACCESS, "remove_shared",	\
	  BIT_UVC_CMD_REMOVE_SHARED_ACCESS, sizeof(struct uv_cb_share),	\
	  true, false, 1000, remove_shared)

/* Per-command knobs and stats are indexed by the list's row. */
enum uv_cmd_idx {
#define UV_CMD_IDX(id, code, name, bit, len, guest, early, cost, fn) UV_IDX_##id,
	UV_CMDS(UV_CMD_IDX)
#undef UV_CMD_IDX
	UV_NR_CMDS
};

struct uv_profile {
	char name[UV_PROFILE_NAME_LEN];
	bool installed[UV_NR_CMDS];
	uint64_t cost_ns[UV_NR_CMDS];	/* fixed modelled cost per call */
	uint64_t features;		/* uv_feature_indications word */
	/* QUI storage sizes and limits */
	uint64_t uv_base_stor_len;
	uint64_t conf_base_phys_stor_len;
	uint64_t conf_base_virt_stor_len;
	uint64_t conf_virt_var_stor_len;	/* bytes per 1 MiB of guest */
	uint64_t cpu_stor_len;
	uint32_t max_num_sec_conf;
	uint64_t max_guest_stor_addr;
	uint16_t max_guest_cpu_id;
	/* behaviour */
	uint64_t destroy_batch;		/* pages per DESTROY_SEC_CONF call */
	uint64_t destroy_conf_page_ns;	/* modelled cost per page cleaned */
	uint64_t nonsecure_call_ns;	/* modelled cost of an export/destroy
					 * that finds the frame not secure */
	bool nonsecure_noop;		/* export/destroy of a non-secure page:
					 * cc0 (new) or rc 0x107/0x0d (old) */
	uint64_t init_min_origin;	/* INIT storage must start here (2G) */
	unsigned int nr_inject;
	struct uv_inject inject[UV_PROFILE_MAX_INJECT];
};

/* Built-in profiles: "default", "zero", "old".  -ENOENT if unknown. */
int uv_profile_builtin(const char *name, struct uv_profile *out) __must_check;
/*
 * Parse a profile from text (the file format of docs/uv.md).  On error
 * returns -EINVAL and writes "<origin>:<line>: <what>" into @err.
 */
int uv_profile_parse(const char *text, const char *origin,
		     struct uv_profile *out, char *err, size_t errlen) __must_check;
/* A built-in name or a file path; NULL means $LAZYPV_UV_PROFILE, else
 * "default".  Errors as uv_profile_parse, or -errno opening the file. */
int uv_profile_load(const char *name_or_path, struct uv_profile *out,
		    char *err, size_t errlen) __must_check;
/* Print every option with its value, one per line, in file syntax. */
void uv_profile_print(const struct uv_profile *p, FILE *f);

/* INIT_UV ignores the low bits of its origin (reference §3.3): the host
 * must donate storage starting at a multiple of this. */
#define UV_INIT_STOR_ALIGN (1ULL << 20)
/*
 * Whether INIT_UV can succeed on a machine of @mem_bytes: true, with the
 * highest origin a host can donate from (aligned, @p's uv_base_stor_len
 * below the top, at or above init_min_origin) in @origin, or false.
 */
bool uv_profile_init_fits(const struct uv_profile *p, uint64_t mem_bytes,
			  uint64_t *origin);
/* Row (UV_IDX_*) of a command code, or -1 if this UV does not know it. */
int uv_cmd_index(uint16_t cmd);
/* The row's name ("unknown" for a code not in the list). */
const char *uv_cmd_name(uint16_t cmd);
/* Command code of row @idx (0 if out of range): for stats. */
uint16_t uv_cmd_code(int idx);
/* Row of the command called @name (a profile key), or -1. */
int uv_cmd_lookup(const char *name);
/* QUI bit of row @idx, -1 if it has none or @idx is out of range. */
int uv_cmd_qui_bit(int idx);

/* ---- the UV object ---- */

struct uv;

#define UV_HOST_KEY_LEN 32	/* X25519 */

struct uv_params {
	struct hw_machine *hw;
	const struct uv_profile *profile;	/* NULL: "default" */
	/* The UV's private host key (X25519).  NULL: a random one.  Images are
	 * built for the public half (uv_host_key_public). */
	const uint8_t *host_key;
};

int uv_create(const struct uv_params *params, struct uv **out) __must_check;
/* Frees everything; the machine's frames are released (cleared and
 * unprotected) as by a load-normal reset. */
void uv_destroy(struct uv *uv);
const struct uv_profile *uv_profile(const struct uv *uv);
struct hw_machine *uv_hw(const struct uv *uv);
void uv_host_key_public(const struct uv *uv, uint8_t pub[UV_HOST_KEY_LEN]);
int uv_host_key_derive_public(const uint8_t priv[UV_HOST_KEY_LEN],
			      uint8_t pub[UV_HOST_KEY_LEN]) __must_check;

/* ---- the instruction ---- */

/* One attempt: returns the condition code 0..3 and fills rc/rrc. */
int uv_call_once(struct uv *uv, struct uv_cb_header *cb);
/* Re-issues while cc > 1 without yielding; returns cc 0 or 1. */
int uv_call(struct uv *uv, struct uv_cb_header *cb);
/* Re-issues while cc > 1, sched_yield() between attempts (long calls). */
int uv_call_sched(struct uv *uv, struct uv_cb_header *cb);
/* A UVC issued by a protected guest on secure CPU @cpu_handle: QUI,
 * SET/REMOVE_SHARED_ACCESS.  cc 0..3 or UVC_GUEST_INTERCEPT. */
int uv_guest_call(struct uv *uv, uint64_t cpu_handle, struct uv_cb_header *cb);

/*
 * The one condition-code to errno mapping: cc0 -> 0; cc1 -> -ENXIO when
 * rc is UVC_RC_NOT_MAPPED, else -EINVAL; cc2/cc3 (a single attempt that
 * must be re-driven) -> -EAGAIN.
 */
int uv_cc_errno(int cc, uint16_t rc);

/* ---- the host kernel's helpers (arch/s390/kernel/uv.c style) ---- */

/* A handle-only command through uv_call_sched: 0 or -EINVAL. */
int uv_cmd_nodata(struct uv *uv, uint64_t handle, uint16_t cmd,
		  uint16_t *rc, uint16_t *rrc) __must_check;
/* Export / destroy / pin one frame (uv_call): 0 or uv_cc_errno(). */
int uv_convert_from_secure(struct uv *uv, hw_pfn_t pfn,
			   uint16_t *rc, uint16_t *rrc) __must_check;
int uv_destroy_page(struct uv *uv, hw_pfn_t pfn,
		    uint16_t *rc, uint16_t *rrc) __must_check;
int uv_pin_shared(struct uv *uv, hw_pfn_t pfn,
		  uint16_t *rc, uint16_t *rrc) __must_check;
/* Import one guest page: a single attempt (the caller may hold locks that
 * forbid spinning), so -EAGAIN asks the caller to retry. */
int uv_convert_to_secure(struct uv *uv, uint64_t guest_handle, uint64_t gaddr,
			 uint16_t *rc, uint16_t *rrc) __must_check;

/* What QUI says, decoded (the kernel's uv_info). */
struct uv_info {
	uint64_t inst_calls_list[4];
	uint64_t uv_base_stor_len;
	uint64_t guest_base_stor_len;
	uint64_t guest_virt_base_stor_len;
	uint64_t guest_virt_var_stor_len;
	uint64_t guest_cpu_stor_len;
	uint64_t max_sec_stor_addr;
	uint32_t max_num_sec_conf;
	uint16_t max_guest_cpu_id;
	uint64_t uv_feature_indications;
};
int uv_query_info(struct uv *uv, struct uv_info *info) __must_check;
bool uv_info_has_call(const struct uv_info *info, unsigned int bit);
bool uv_info_has_feature(const struct uv_info *info, unsigned int bit);
/* Variable-storage size for a guest of @guest_len bytes (KVM's formula). */
uint64_t uv_info_var_stor_len(const struct uv_info *info, uint64_t guest_len);

/* ---- guest address translation (stands for the guest's DAT tables) ---- */

/*
 * Resolve guest absolute @gaddr (page aligned) of a configuration to the
 * frame that backs it.  Returns 0 and *pfn, or a negative errno when the
 * page is not mapped (the UVC then fails with UVC_RC_NOT_MAPPED).
 * Called on the UVC's thread with the configuration's lock held for read:
 * it must not issue UVCs and must not block on a lock that an importer may
 * hold while issuing CONV_TO_SEC_STOR / UNPACK_IMG.
 */
typedef int (*uv_translate_fn)(void *ctx, uint64_t gaddr, hw_pfn_t *pfn);

/* Register the translator of a live configuration (KVM does it right
 * after CREATE_SEC_CONF succeeds).  0, -ENOENT (bad handle). */
int uv_config_set_translate(struct uv *uv, uint64_t guest_handle,
			    uv_translate_fn fn, void *ctx) __must_check;

/* ---- what the machine enforces at SIE time (for KVM's SIE loop) ---- */

/*
 * May the protected configuration access @gaddr backed by @pfn?  0 yes;
 * -EACCES with *pgm = 0x3e (frame not secure, or secure and shared with
 * the host by another configuration: import it) or 0x3f (secure for
 * someone else and not shared, or donated); -ENOENT for a bad handle.
 */
int uv_guest_access_check(struct uv *uv, uint64_t guest_handle,
			  uint64_t gaddr, hw_pfn_t pfn,
			  enum hw_pgm_code *pgm) __must_check;
/* SIE entry validity: handles belong together, @asce is the config's, the
 * CPU is operating and no config reset is pending.  0 or -EINVAL. */
int uv_sie_entry_check(struct uv *uv, uint64_t guest_handle,
		       uint64_t cpu_handle, uint64_t asce) __must_check;
/*
 * SIE entry, once valid: are both prefix pages (the 8 KiB lowcore at guest
 * absolute @prefix) secure for the configuration right now?  Checked at
 * every entry, through the configuration's translator as the machine
 * walks the guest's tables.  0: enter.  UV_ICPT_PV_PREF: the entry is
 * intercepted instead (a page is not secure, was exported, or is not
 * mapped); the host imports both pages and enters again.  -ENOENT for a
 * bad handle.
 */
#define UV_ICPT_PV_PREF 0x70
int uv_sie_prefix_check(struct uv *uv, uint64_t guest_handle,
			uint64_t prefix) __must_check;

/* ---- observation (validators and tests; no firmware call) ---- */

enum uv_frame_state {
	UV_FRAME_NONSECURE = 0,
	UV_FRAME_SECURE,	/* config + guest address */
	UV_FRAME_EXPORTED,	/* non-secure, holds ciphertext of config+gaddr */
	UV_FRAME_DONATED_UV,
	UV_FRAME_DONATED_CONF,
	UV_FRAME_DONATED_CPU,
	UV_FRAME_ASCE,		/* marked top-level table (host-accessible) */
};
const char *uv_frame_state_name(enum uv_frame_state s);

struct uv_frame_info {
	enum uv_frame_state state;
	uint64_t guest_handle;	/* owner (0: UV, none, or a gone config) */
	uint64_t gaddr;		/* SECURE / EXPORTED */
	bool shared, pinned;	/* SECURE */
};
int uv_frame_query(struct uv *uv, hw_pfn_t pfn,
		   struct uv_frame_info *out) __must_check;

/* The machine's load-normal reset (diag 308 subcode 1): every config and
 * CPU is gone, every secure or donated frame is cleared and released, and
 * the UV is uninitialised. */
void uv_machine_reset(struct uv *uv);

/* ---- stats and checks ---- */

#define UV_STATS(X)							\
	X(frames_secure, "frames secure now (gauge)")			\
	X(frames_donated, "frames donated now (gauge)")			\
	X(configs_live, "configurations live now (gauge)")		\
	X(configs_zombie, "fast-destroyed configurations with pages left (gauge)") \
	X(cpus_live, "secure CPUs now (gauge)")				\
	X(imports_fresh, "imports that cleared a fresh frame")		\
	X(imports_decrypt, "imports that decrypted an exported page")	\
	X(imports_again, "imports of a frame already secure there")	\
	X(imports_transfer, "imports that took a frame from another config") \
	X(imports_bad, "imports refused by the integrity check")	\
	X(exports, "pages exported (encrypted in place)")		\
	X(exports_dead, "exports of a gone config's page (cleared)")	\
	X(destroys, "pages destroyed (cleared) by DESTR_SEC_STOR")	\
	X(conf_pages_cleaned, "pages cleaned by DESTROY_SEC_CONF")	\
	X(unpacks, "image pages unpacked")				\
	X(clears, "frames cleared by the UV")				\
	X(injected, "injected failures returned")			\
	X(destroy_partial, "DESTROY_SEC_CONF calls that returned cc 3")

struct uv_cmd_stats {
	uint64_t calls, cc[4], ns;	/* ns: wall time inside the UV */
	uint64_t data_ns;		/* of which data work (clear, crypto,
					 * hashing); timed only when the
					 * profile models costs */
	uint64_t nonsecure;		/* calls that found their frame not
					 * secure: charged nonsecure_call_ns,
					 * not the command's cost */
};

struct uv_stats {
#define UV_STAT_FIELD(name, desc) uint64_t name;
	UV_STATS(UV_STAT_FIELD)
#undef UV_STAT_FIELD
	struct uv_cmd_stats cmd[UV_NR_CMDS];
};

void uv_stats_get(struct uv *uv, struct uv_stats *out);
void uv_stats_print(struct uv *uv, FILE *f);	/* text */
void uv_stats_json(struct uv *uv, FILE *f);	/* one JSON object */
/*
 * Validator, at a quiescent point: every frame's state agrees with the
 * configurations, CPUs and donations that claim it, secure and donated
 * frames are protected in the host view and nothing else is, and the
 * gauges match.  0 or -EUCLEAN (the first problem goes to stderr).
 */
int uv_check(struct uv *uv) __must_check;

/* ---- images (the VMM's mkimage side; host never holds a data key) ---- */

/*
 * An SE image = a header (for SET_SEC_CONF_PARAMS) + pages encrypted with
 * AES-256-XTS under a random image key, tweaked per page by the UNPACK
 * tweak.  The header wraps the key for each target UV's public host key
 * (X25519 ECDH + HKDF-SHA256 + AES-256-GCM) and carries the SHA-256
 * digests of the page contents, addresses and tweaks that VERIFY_IMG
 * compares with what UNPACK_IMG saw.  Pages must be added in the order the
 * host will unpack them.
 */
struct uv_image_builder;

int uv_image_builder_create(const uint8_t (*host_pubs)[UV_HOST_KEY_LEN],
			    unsigned int nr_keys, const uint64_t psw[2],
			    struct uv_image_builder **out) __must_check;
/* Encrypt one 4 KiB page to @cipher (may equal @plain). */
int uv_image_builder_add_page(struct uv_image_builder *b, uint64_t gaddr,
			      const uint64_t tweak[2], const void *plain,
			      void *cipher) __must_check;
/* Write the header into @buf; *len gets its size (-ENOSPC if too small,
 * with *len the size needed). */
int uv_image_builder_header(struct uv_image_builder *b, void *buf,
			    size_t *len) __must_check;
void uv_image_builder_destroy(struct uv_image_builder *b);
size_t uv_image_header_len(unsigned int nr_keys);
/*
 * Which check of the image a failed SET_SEC_CONF_PARAMS, UNPACK_IMG or
 * VERIFY_IMG (@cmd) reports with @rc/@rrc ("SE header tag mismatch"), or
 * NULL if that rc is about the host's call, not the image.
 */
const char *uv_image_rc_check(uint16_t cmd, uint16_t rc, uint16_t rrc);

#endif /* LAZYPV_UV_H */
