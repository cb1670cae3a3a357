// SPDX-License-Identifier: MIT
/*
 * programs.c - the guest programs: code that runs on a vCPU thread "inside
 * SIE" (called by kvm_vcpu_run) and touches guest memory only through
 * kvm_guest_read/write, so every access takes the hardware's path (gmap,
 * host fault, 0x3e import, 0x3f, 0x3d) and a protected guest's data lives
 * only in secure frames.
 *
 * vmm_guest_entry() is the reset PSW of every boot: it reads the boot
 * descriptor from guest page 0 (from secure memory in a protected guest, so
 * the host cannot choose the program of a protected guest), parses its
 * program and arguments and runs the program on this vCPU's slice of the
 * work area.  A program's state lives on the vCPU thread's stack for one
 * kvm_vcpu_run: every exit of ours ends the guest's run (reboot, reset,
 * power-off, stop), so nothing is resumed.  The vCPUs of a boot meet only
 * at barriers (vmm_guest_barrier, the SIGP stand-in in vmm.c).
 *
 * No locks here; each vCPU owns its slice.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing and patterns ---- */

uint64_t vmm_fnv1a(const void *buf, size_t len, uint64_t h)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finaliser: cheap, and every input bit matters. */
uint64_t vmm_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t vmm_boot_key_of(uint64_t salt, unsigned int boot)
{
	return vmm_mix64(salt ^ vmm_mix64(0x6c707662ULL + boot));
}

uint64_t vmm_pattern_word(uint64_t key, uint64_t gaddr, unsigned int round)
{
	/* Never 0, so "reads as zero" and "holds the pattern" differ. */
	return (vmm_mix64(key ^ (gaddr * 0x9e3779b97f4a7c15ULL)) | 1) + round * 2;
}

uint64_t vmm_io_request_word(uint64_t key, uint64_t gaddr, uint64_t seq)
{
	return vmm_mix64(key ^ 0x696fULL ^ gaddr ^ (seq << 48));
}

/* ---- program specs ---- */

enum then_action {
	THEN_REBOOT = 0,	/* diag 308 subcode 10 */
	THEN_CLEAR,		/* diag 308 subcode 3: non-protected reboot */
	THEN_RESET0,		/* diag 308 subcode 0 */
	THEN_RESET1,		/* diag 308 subcode 1 */
	THEN_POWEROFF,
	THEN_IDLE,		/* wait until the host acts */
};
static const char *const then_names[] = {
	"reboot", "clear", "reset0", "reset1", "poweroff", "idle",
};

#define KEY_ROUNDS 0x01u
#define KEY_THEN 0x02u
#define KEY_MIB 0x04u
#define KEY_OPS 0x08u
#define KEY_SEED 0x10u
#define KEY_PAGES 0x20u
#define KEY_AT 0x40u

struct prog_args {
	uint64_t rounds;
	enum then_action then;
	uint64_t mib;		/* 0: all free memory */
	uint64_t at;		/* MiB: where the area starts (0: after the
				 * image), e.g. above 2 GiB to leave pages
				 * for a background cleanup */
	uint64_t ops;		/* 0: 2 per page */
	uint64_t seed;
	bool seed_set;
	uint64_t pages;
};

struct guest;
struct program {
	const char *name;
	unsigned int keys;
	int (*run)(struct guest *g, struct kvm_run *run);
};

/* What one vCPU's run of a program has at hand. */
struct guest {
	struct vmm_vcpu *vcpu;
	struct kvm_vcpu *kvcpu;
	struct vmm_ipl ipl;
	struct vmm_boot_desc desc;
	struct prog_args args;
	const struct program *prog;
	unsigned int id;
	uint64_t work_start, work_end;		/* the program's area */
	uint64_t slice_start, slice_end;	/* this vCPU's part */
	uint64_t buf[HW_PAGE_SIZE / 8];
	uint64_t buf2[HW_PAGE_SIZE / 8];
};

static int prog_touch(struct guest *g, struct kvm_run *run);
static int prog_memtest(struct guest *g, struct kvm_run *run);
static int prog_io(struct guest *g, struct kvm_run *run);
static int prog_idle(struct guest *g, struct kvm_run *run);

static const struct program programs[] = {
	{ "touch", KEY_ROUNDS | KEY_THEN | KEY_MIB | KEY_AT, prog_touch },
	{ "idle", 0, prog_idle },
	{ "memtest", KEY_ROUNDS | KEY_THEN | KEY_MIB | KEY_AT | KEY_OPS |
	  KEY_SEED, prog_memtest },
	{ "io", KEY_ROUNDS | KEY_THEN | KEY_PAGES, prog_io },
};

const char *vmm_program_names(void)
{
	return "touch, idle, memtest, io";
}


static int parse_u64(const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_one_arg(const struct program *p, char *kv,
			 struct prog_args *a, char *err, size_t errlen)
{
	char *eq = strchr(kv, '=');
	const char *key = kv, *val;
	unsigned int bit;
	uint64_t v = 0;
	int r = 0;

	if (!eq) {
		lpv_seterr(err, errlen, "%s: argument '%s' is not key=value",
		       p->name, kv);
		return -EINVAL;
	}
	*eq = '\0';
	val = eq + 1;
	if (!strcmp(key, "rounds")) {
		bit = KEY_ROUNDS;
		r = parse_u64(val, 1, 1000000, &a->rounds);
	} else if (!strcmp(key, "then")) {
		bit = KEY_THEN;
		r = -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(then_names); i++)
			if (!strcmp(val, then_names[i])) {
				a->then = (enum then_action)i;
				r = 0;
			}
	} else if (!strcmp(key, "mib")) {
		bit = KEY_MIB;
		r = parse_u64(val, 1, 1ULL << 24, &a->mib);
	} else if (!strcmp(key, "at")) {
		bit = KEY_AT;
		r = parse_u64(val, 0, 1ULL << 24, &a->at);
	} else if (!strcmp(key, "ops")) {
		bit = KEY_OPS;
		r = parse_u64(val, 1, 1ULL << 32, &a->ops);
	} else if (!strcmp(key, "seed")) {
		bit = KEY_SEED;
		r = parse_u64(val, 0, UINT64_MAX, &a->seed);
		a->seed_set = true;
	} else if (!strcmp(key, "pages")) {
		bit = KEY_PAGES;
		r = parse_u64(val, 1, 4096, &v);
		a->pages = v;
	} else {
		lpv_seterr(err, errlen, "%s: unknown argument '%s'", p->name, key);
		return -EINVAL;
	}
	if (!(p->keys & bit)) {
		lpv_seterr(err, errlen, "%s takes no argument '%s'", p->name, key);
		return -EINVAL;
	}
	if (r)
		lpv_seterr(err, errlen, "%s: bad value '%s' for '%s'", p->name, val,
		       key);
	return r;
}

/* Split "NAME[:ARGS]" and parse ARGS for NAME into @a. */
static int program_parse(const char *spec, char name[VMM_PROGRAM_NAME_MAX],
			 char args[VMM_PROGRAM_ARGS_MAX],
			 const struct program **prog, struct prog_args *a,
			 char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *argstr = colon ? colon + 1 : "";
	char work[VMM_PROGRAM_ARGS_MAX], *save = NULL, *tok;

	if (!nlen) {
		lpv_seterr(err, errlen, "empty program name");
		return -EINVAL;
	}
	if (nlen >= VMM_PROGRAM_NAME_MAX ||
	    strlen(argstr) >= VMM_PROGRAM_ARGS_MAX) {
		lpv_seterr(err, errlen, "program spec too long");
		return -ENAMETOOLONG;
	}
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	strcpy(args, argstr);
	*prog = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(programs); i++)
		if (!strcmp(programs[i].name, name))
			*prog = &programs[i];
	if (!*prog) {
		lpv_seterr(err, errlen, "unknown program '%s' (programs: %s)", name,
		       vmm_program_names());
		return -ENOENT;
	}
	*a = (struct prog_args){ .rounds = 1, .then = THEN_REBOOT, .pages = 8 };
	strcpy(work, argstr);
	for (tok = strtok_r(work, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int r = parse_one_arg(*prog, tok, a, err, errlen);

		if (r)
			return r;
	}
	return 0;
}

/*
 * The program's area in a guest of @mem bytes whose image fills the first
 * @image_pages pages: past the image, from at= on, mib= long.  -ENOSPC
 * with the reason when it does not fit.  The guest and the host's check
 * both use it, so they agree.
 */
static int program_area(const struct program *prog, const struct prog_args *a,
			uint64_t mem, uint64_t image_pages, uint64_t *start,
			uint64_t *end, char *err, size_t errlen)
{
	*start = image_pages * HW_PAGE_SIZE;
	*end = mem;
	if (a->at << 20 > *start) {
		if (a->at << 20 >= mem) {
			lpv_seterr(err, errlen, "%s: at=%" PRIu64 " MiB is beyond guest memory",
				   prog->name, a->at);
			return -ENOSPC;
		}
		*start = a->at << 20;
	}
	if (a->mib) {
		if (a->mib << 20 > *end - *start) {
			lpv_seterr(err, errlen, "%s: mib=%" PRIu64 " exceeds the %" PRIu64 " KiB of free guest memory",
				   prog->name, a->mib, (*end - *start) >> 10);
			return -ENOSPC;
		}
		*end = *start + (a->mib << 20);
	}
	return 0;
}

int vmm_program_check_fit(const char *spec, uint64_t guest_mem,
			  unsigned int cpus, uint64_t image_pages, char *err,
			  size_t errlen)
{
	char name[VMM_PROGRAM_NAME_MAX], args[VMM_PROGRAM_ARGS_MAX];
	const struct program *prog;
	struct prog_args a;
	uint64_t start, end, per;
	int r;

	r = program_parse(spec, name, args, &prog, &a, err, errlen);
	if (r)
		return r;
	if (!cpus || image_pages > guest_mem / HW_PAGE_SIZE) {
		lpv_seterr(err, errlen, "the image's %" PRIu64 " pages do not fit in guest memory",
			   image_pages);
		return -ENOSPC;
	}
	r = program_area(prog, &a, guest_mem, image_pages, &start, &end, err,
			 errlen);
	if (r)
		return r;
	/* vCPU 0's slice is the smallest (the last takes the remainder). */
	per = (end - start) / HW_PAGE_SIZE / cpus;
	if (prog->keys & KEY_PAGES && a.pages > per) {
		lpv_seterr(err, errlen, "io: pages=%" PRIu64 " do not fit in a vCPU's slice of %" PRIu64 " pages",
			   a.pages, per);
		return -ENOSPC;
	}
	return 0;
}

int vmm_program_check(const char *spec, char *err, size_t errlen)
{
	char name[VMM_PROGRAM_NAME_MAX], args[VMM_PROGRAM_ARGS_MAX];
	const struct program *prog;
	struct prog_args a;

	return program_parse(spec, name, args, &prog, &a, err, errlen);
}

int vmm_boot_desc_init(struct vmm_boot_desc *d, const char *spec,
		       uint64_t nonce, uint64_t image_pages,
		       uint64_t payload_gaddr, uint64_t payload_len,
		       uint64_t payload_sum, char *err, size_t errlen)
{
	const struct program *prog;
	struct prog_args a;
	int r;

	memset(d, 0, sizeof(*d));
	r = program_parse(spec, d->program, d->args, &prog, &a, err, errlen);
	if (r)
		return r;
	memcpy(d->magic, VMM_BOOT_MAGIC, sizeof(d->magic));
	d->version = VMM_BOOT_VERSION;
	d->len = sizeof(*d);
	d->nonce = nonce;
	d->image_pages = image_pages;
	d->payload_gaddr = payload_gaddr;
	d->payload_len = payload_len;
	d->payload_sum = payload_sum;
	return 0;
}

/* ---- guest-side helpers ---- */

static int guest_fail(struct kvm_run *run, int error, const char *fmt, ...)
	__printf_like(3, 4);
static int guest_fail(struct kvm_run *run, int error, const char *fmt, ...)
{
	va_list ap;

	run->reason = KVM_EXIT_GUEST_ERROR;
	run->error = error;
	va_start(ap, fmt);
	vsnprintf(run->message, sizeof(run->message), fmt, ap);
	va_end(ap);
	return 0;
}

/* The vCPU must leave SIE (kick or fatal signal): stop quietly. */
static int guest_stop(struct kvm_run *run)
{
	run->reason = KVM_EXIT_STOPPED;
	return 0;
}

/* An access failed: a stop request, or a real fault the guest reports. */
static int guest_access_failed(struct guest *g, struct kvm_run *run, int r,
			       const char *what, uint64_t gaddr)
{
	if (r == -EINTR || kvm_guest_should_exit(g->kvcpu))
		return guest_stop(run);
	/* (No program yet while the boot descriptor itself is read.) */
	return guest_fail(run, r, "%s: %s at gaddr 0x%" PRIx64 ": %s",
			  g->prog ? g->prog->name : "boot", what, gaddr,
			  strerror(-r));
}

/* Wait for the others; then vCPU 0 does what `then` says, the others wait
 * until the VMM takes them back. */
static int guest_finish(struct guest *g, struct kvm_run *run)
{
	static const uint64_t subcode[] = {
		[THEN_REBOOT] = DIAG308_PV_START,
		[THEN_CLEAR] = DIAG308_LOAD_CLEAR,
		[THEN_RESET0] = DIAG308_RESET_MODIFIED_CLEAR,
		[THEN_RESET1] = DIAG308_LOAD_NORMAL,
	};

	if (g->id != 0 || g->args.then == THEN_IDLE) {
		while (!vmm_guest_tick(g->vcpu))
			;
		return guest_stop(run);
	}
	if (g->args.then == THEN_POWEROFF) {
		run->reason = KVM_EXIT_POWEROFF;
		return 0;
	}
	run->reason = KVM_EXIT_DIAG308;
	run->subcode = subcode[g->args.then];
	return 0;
}

static int guest_end_round(struct guest *g, struct kvm_run *run,
			   unsigned int round, bool *stop)
{
	*stop = false;
	if (vmm_guest_barrier(g->vcpu)) {
		*stop = true;
		return guest_stop(run);
	}
	if (g->id == 0)
		vmm_guest_round_done(g->vcpu, round);
	return 0;
}

/* Did a word hold plaintext of the previous (protected) boot?  Rounds are
 * small; look a few dozen back. */
static bool guest_is_prev_plaintext(const struct guest *g, uint64_t gaddr,
				    uint64_t w)
{
	uint64_t base = vmm_pattern_word(g->ipl.prev_key, gaddr, 0);

	return g->ipl.has_prev && w - base < 2 * 64 && !((w - base) & 1);
}

/*
 * What may a word of memory not yet written by this boot hold?
 *   fresh protected boot  zero: every import of a new config clears;
 *   non-protected boot    anything but the previous PV guest's plaintext
 *                         (exported ciphertext, zeros, older plain data);
 *   after a reset         what the same guest left (touch: exactly its last
 *                         round; memtest: its values or untouched zeros),
 *                         since diag 308 subcode 0/1 keeps memory.
 */
static bool guest_fresh_word_ok(const struct guest *g, uint64_t gaddr,
				uint64_t w)
{
	if (!g->ipl.protected)
		return !(g->ipl.prev_protected &&
			 guest_is_prev_plaintext(g, gaddr, w));
	return w == 0;
}

/* ---- touch ---- */

static int prog_touch(struct guest *g, struct kvm_run *run)
{
	for (unsigned int round = 0; round < g->args.rounds; round++) {
		bool stop;
		int r;

		for (uint64_t ga = g->slice_start; ga < g->slice_end;
		     ga += HW_PAGE_SIZE) {
			r = kvm_guest_read(g->kvcpu, ga, g->buf, HW_PAGE_SIZE);
			if (r)
				return guest_access_failed(g, run, r, "read", ga);
			for (unsigned int i = 0; i < HW_PAGE_SIZE / 8; i++) {
				uint64_t wa = ga + i * 8, w = g->buf[i];
				bool ok;

				if (round)
					ok = w == vmm_pattern_word(g->ipl.key, wa, round - 1);
				else if (g->ipl.kind == VMM_START_RESET)
					ok = w == vmm_pattern_word(g->ipl.prev_key, wa,
								   g->args.rounds - 1);
				else
					ok = guest_fresh_word_ok(g, wa, w);

				if (!ok)
					return guest_fail(run, -EIO,
						"touch: boot %u round %u: gaddr 0x%" PRIx64 " holds 0x%016" PRIx64 " before writing",
						g->ipl.boot, round, wa, w);
				g->buf[i] = vmm_pattern_word(g->ipl.key, wa, round);
			}
			r = kvm_guest_write(g->kvcpu, ga, g->buf, HW_PAGE_SIZE);
			if (r)
				return guest_access_failed(g, run, r, "write", ga);
		}
		for (uint64_t ga = g->slice_start; ga < g->slice_end;
		     ga += HW_PAGE_SIZE) {
			r = kvm_guest_read(g->kvcpu, ga, g->buf, HW_PAGE_SIZE);
			if (r)
				return guest_access_failed(g, run, r, "verify", ga);
			for (unsigned int i = 0; i < HW_PAGE_SIZE / 8; i++) {
				uint64_t wa = ga + i * 8;
				uint64_t want = vmm_pattern_word(g->ipl.key, wa, round);

				if (g->buf[i] != want)
					return guest_fail(run, -EIO,
						"touch: boot %u round %u: gaddr 0x%" PRIx64 " reads 0x%016" PRIx64 ", wrote 0x%016" PRIx64,
						g->ipl.boot, round, wa, g->buf[i], want);
			}
		}
		r = guest_end_round(g, run, round, &stop);
		if (stop)
			return r;
	}
	return guest_finish(g, run);
}

/* ---- memtest ---- */

/*
 * Seeded random 8-byte writes over the slice.  The value written at a
 * location depends only on the location and the round, so replaying the
 * same random sequence verifies it without a shadow copy, and a location
 * hit twice holds the same value.
 */
static uint64_t memtest_value(uint64_t key, uint64_t loc, unsigned int round)
{
	return vmm_pattern_word(key ^ 0x6d656d74ULL, loc, round);
}

/* Was @w written at @loc by one of the boots [first, last]? */
static bool memtest_written_by(const struct guest *g, uint64_t loc, uint64_t w,
			       unsigned int first, unsigned int last)
{
	for (unsigned int b = first; b <= last; b++)
		for (unsigned int r = 0; r < g->args.rounds; r++)
			if (w == memtest_value(vmm_boot_key_of(g->ipl.salt, b), loc, r))
				return true;
	return false;
}

/* guest_fresh_word_ok, for memtest's values (a word memtest did not hit
 * in a boot keeps what an earlier boot of the same memory wrote). */
static bool memtest_fresh_ok(const struct guest *g, uint64_t loc, uint64_t w)
{
	unsigned int b = g->ipl.boot;

	if (g->ipl.kind == VMM_START_RESET)
		return w == 0 || memtest_written_by(g, loc, w, g->ipl.origin, b - 1);
	if (!g->ipl.protected)
		return !(g->ipl.prev_protected && b &&
			 memtest_written_by(g, loc, w, b - 1, b - 1));
	return w == 0;
}

static int prog_memtest(struct guest *g, struct kvm_run *run)
{
	uint64_t words = (g->slice_end - g->slice_start) / 8;
	uint64_t ops = g->args.ops ? g->args.ops
				   : 2 * (g->slice_end - g->slice_start) / HW_PAGE_SIZE;
	uint64_t seed = g->args.seed_set ? g->args.seed : g->desc.nonce;
	uint64_t key = g->ipl.key;

	for (unsigned int round = 0; round < g->args.rounds && words; round++) {
		uint64_t rseed = vmm_mix64(seed ^ key ^ ((uint64_t)round << 32) ^ g->id);
		bool stop;
		int r;

		for (int pass = 0; pass < 2; pass++) {
			uint64_t s = rseed;

			for (uint64_t n = 0; n < ops; n++) {
				uint64_t loc, w, want;

				s = vmm_mix64(s);
				loc = g->slice_start + (s % words) * 8;
				want = memtest_value(key, loc, round);
				r = kvm_guest_read(g->kvcpu, loc, &w, sizeof(w));
				if (r)
					return guest_access_failed(g, run, r, "read", loc);
				if (pass == 1) {
					if (w != want)
						return guest_fail(run, -EIO,
							"memtest: boot %u round %u: gaddr 0x%" PRIx64 " reads 0x%016" PRIx64 ", wrote 0x%016" PRIx64,
							g->ipl.boot, round, loc, w, want);
					continue;
				}
				/* Before writing: the word is fresh, or this
				 * boot wrote it in this or an earlier round. */
				bool ok = w == want || memtest_fresh_ok(g, loc, w);

				for (unsigned int pr = 0; !ok && pr < round; pr++)
					ok = w == memtest_value(key, loc, pr);
				if (!ok)
					return guest_fail(run, -EIO,
						"memtest: boot %u round %u: gaddr 0x%" PRIx64 " holds 0x%016" PRIx64 " before writing",
						g->ipl.boot, round, loc, w);
				r = kvm_guest_write(g->kvcpu, loc, &want, sizeof(want));
				if (r)
					return guest_access_failed(g, run, r, "write", loc);
			}
		}
		r = guest_end_round(g, run, round, &stop);
		if (stop)
			return r;
	}
	return guest_finish(g, run);
}

/* ---- io ---- */

static int io_share(struct guest *g, uint64_t gaddr, uint16_t cmd)
{
	struct uv_cb_share cb = {
		.header.len = sizeof(cb),
		.header.cmd = cmd,
		.paddr = gaddr,
	};
	int cc = kvm_guest_uvc(g->kvcpu, &cb.header);

	if (cc < 0)
		return cc;
	return cc == UVC_CC_OK ? 0 : kvm_uvc_errno(cc, cb.header.rc);
}

/*
 * Per round: share `pages` pages with the host (a protected guest must, or
 * the host would only see ciphertext), write a request into them, notify
 * the VMM, check its answer (each word inverted), unshare, and check the
 * answer is still there in what is now secure memory again.
 */
static int prog_io(struct guest *g, struct kvm_run *run)
{
	uint64_t nr = g->args.pages;
	uint64_t start = g->slice_start;
	char msg[96];

	if (start + nr * HW_PAGE_SIZE > g->slice_end)
		return guest_fail(run, -ENOSPC, "io: %" PRIu64 " pages do not fit in vCPU %u's slice",
				  nr, g->id);
	for (unsigned int round = 0; round < g->args.rounds; round++) {
		uint64_t seq = ((uint64_t)g->id << 32) | round;
		bool stop;
		int r;

		for (uint64_t i = 0; i < nr; i++) {
			uint64_t ga = start + i * HW_PAGE_SIZE;

			/* Write first: only a page the guest owns (secure)
			 * can be shared; sharing keeps its content. */
			for (unsigned int w = 0; w < HW_PAGE_SIZE / 8; w++)
				g->buf[w] = vmm_io_request_word(g->ipl.key, ga + w * 8, seq);
			g->buf[0] = VMM_IO_MAGIC | (seq & 0xffffff);
			r = kvm_guest_write(g->kvcpu, ga, g->buf, HW_PAGE_SIZE);
			if (r)
				return guest_access_failed(g, run, r, "write", ga);
			if (g->ipl.protected) {
				r = io_share(g, ga, UVC_CMD_SET_SHARED_ACCESS);
				if (r)
					return r == -EINTR ? guest_stop(run) :
					       guest_fail(run, r, "io: SET_SHARED_ACCESS 0x%" PRIx64 ": %s",
							  ga, strerror(-r));
			}
		}
		r = vmm_guest_io_notify(g->vcpu, start, nr, seq, msg, sizeof(msg));
		if (r)
			return guest_fail(run, r, "io: the host refused the request: %s", msg);
		for (uint64_t i = 0; i < nr; i++) {
			uint64_t ga = start + i * HW_PAGE_SIZE;

			for (int pass = 0; pass < 2; pass++) {
				r = kvm_guest_read(g->kvcpu, ga, g->buf2, HW_PAGE_SIZE);
				if (r)
					return guest_access_failed(g, run, r, "read", ga);
				for (unsigned int w = 1; w < HW_PAGE_SIZE / 8; w++) {
					uint64_t want = ~vmm_io_request_word(g->ipl.key, ga + w * 8, seq);

					if (g->buf2[w] != want)
						return guest_fail(run, -EIO,
							"io: boot %u: answer at 0x%" PRIx64 " is 0x%016" PRIx64 ", expected 0x%016" PRIx64 "%s",
							g->ipl.boot, ga + w * 8, g->buf2[w], want,
							pass ? " after unsharing" : "");
				}
				if (pass || !g->ipl.protected)
					break;
				r = io_share(g, ga, UVC_CMD_REMOVE_SHARED_ACCESS);
				if (r)
					return r == -EINTR ? guest_stop(run) :
					       guest_fail(run, r, "io: REMOVE_SHARED_ACCESS 0x%" PRIx64 ": %s",
							  ga, strerror(-r));
			}
		}
		r = guest_end_round(g, run, round, &stop);
		if (stop)
			return r;
	}
	return guest_finish(g, run);
}

/* ---- idle ---- */

/* Tick until the host acts, keeping a counter in guest memory so the idle
 * guest really is a guest with (secure) memory of its own. */
static int prog_idle(struct guest *g, struct kvm_run *run)
{
	uint64_t ga = g->slice_start, count = 0;

	for (;;) {
		uint64_t seen;
		int r;

		if (ga < g->slice_end) {
			r = kvm_guest_read(g->kvcpu, ga, &seen, sizeof(seen));
			if (r)
				return guest_access_failed(g, run, r, "read", ga);
			if (seen != count)
				return guest_fail(run, -EIO, "idle: counter at 0x%" PRIx64 " is %" PRIu64 ", expected %" PRIu64,
						  ga, seen, count);
			count++;
			r = kvm_guest_write(g->kvcpu, ga, &count, sizeof(count));
			if (r)
				return guest_access_failed(g, run, r, "write", ga);
		}
		if (vmm_guest_tick(g->vcpu))
			return guest_stop(run);
	}
}

/* ---- the entry point ---- */

static int guest_verify_payload(struct guest *g, struct kvm_run *run)
{
	uint64_t h = VMM_FNV_INIT;
	uint64_t end = g->desc.payload_gaddr + g->desc.payload_len;

	for (uint64_t ga = g->desc.payload_gaddr; ga < end; ga += HW_PAGE_SIZE) {
		size_t n = end - ga < HW_PAGE_SIZE ? end - ga : HW_PAGE_SIZE;
		int r = kvm_guest_read(g->kvcpu, ga, g->buf, n);

		if (r)
			return guest_access_failed(g, run, r, "payload read", ga);
		h = vmm_fnv1a(g->buf, n, h);
	}
	if (h != g->desc.payload_sum)
		return guest_fail(run, -EBADMSG, "boot: payload checksum 0x%016" PRIx64 ", image says 0x%016" PRIx64,
				  h, g->desc.payload_sum);
	return 1;
}

static int guest_setup(struct guest *g, struct kvm_run *run)
{
	char name[VMM_PROGRAM_NAME_MAX], args[VMM_PROGRAM_ARGS_MAX];
	char spec[VMM_PROGRAM_NAME_MAX + VMM_PROGRAM_ARGS_MAX + 1];
	char err[128];
	uint64_t pages, per, mem = g->ipl.guest_mem;
	int r;

	r = kvm_guest_read(g->kvcpu, 0, &g->desc, sizeof(g->desc));
	if (r)
		return guest_access_failed(g, run, r, "boot descriptor read", 0);
	if (memcmp(g->desc.magic, VMM_BOOT_MAGIC, sizeof(g->desc.magic)) ||
	    g->desc.version != VMM_BOOT_VERSION ||
	    g->desc.len != sizeof(g->desc))
		return guest_fail(run, -ENOEXEC, "boot: no boot descriptor at guest address 0");
	g->desc.program[VMM_PROGRAM_NAME_MAX - 1] = '\0';
	g->desc.args[VMM_PROGRAM_ARGS_MAX - 1] = '\0';
	snprintf(spec, sizeof(spec), "%s%s%s", g->desc.program,
		 g->desc.args[0] ? ":" : "", g->desc.args);
	r = program_parse(spec, name, args, &g->prog, &g->args, err, sizeof(err));
	if (r)
		return guest_fail(run, r, "boot: %s", err);
	if (g->desc.image_pages > mem / HW_PAGE_SIZE ||
	    g->desc.payload_len > mem ||
	    g->desc.payload_gaddr > mem - g->desc.payload_len)
		return guest_fail(run, -ENOEXEC, "boot: the image does not fit in guest memory");
	r = program_area(g->prog, &g->args, mem, g->desc.image_pages,
			 &g->work_start, &g->work_end, err, sizeof(err));
	if (r)
		return guest_fail(run, r, "%s", err);
	pages = (g->work_end - g->work_start) / HW_PAGE_SIZE;
	per = pages / g->ipl.nr_cpus;
	g->slice_start = g->work_start + g->id * per * HW_PAGE_SIZE;
	g->slice_end = g->id + 1 == g->ipl.nr_cpus ? g->work_end
				: g->slice_start + per * HW_PAGE_SIZE;
	/* The "kernel" checks itself once per fresh protected boot: proves
	 * UNPACK decrypted what mkimage encrypted. */
	if (g->id == 0 && g->ipl.kind == VMM_START_BOOT && g->desc.payload_len)
		return guest_verify_payload(g, run);
	return 1;
}

int vmm_guest_entry(void *ctx, struct kvm_vcpu *kvcpu, struct kvm_run *run)
{
	struct vmm_vcpu *vcpu = ctx;
	struct guest *g;
	int r;

	vmm_guest_first_insn(vcpu);
	/* Two pages of buffers: keep them off the vCPU thread's stack. */
	g = calloc(1, sizeof(*g));
	if (!g)
		return guest_fail(run, -ENOMEM, "guest: out of host memory");
	g->vcpu = vcpu;
	g->kvcpu = kvcpu;
	g->id = vcpu->id;
	g->ipl = vcpu->ipl;
	r = guest_setup(g, run);
	if (r == 1)
		r = g->prog->run(g, run);
	free(g);
	return r;
}
