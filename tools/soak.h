/* SPDX-License-Identifier: MIT */
/*
 * soak.h - what the files of `lazypv soak` share (tools/ only): the run's
 * state (struct soak), its random streams and counters, and the plaintext
 * check (soak_scan.c): the set of words the wave's protected guests
 * wrote, and the scan of the free frames for any of them.
 */
#ifndef LAZYPV_TOOLS_SOAK_H
#define LAZYPV_TOOLS_SOAK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "api/api_host.h"
#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/lib.h"

/* Open-addressed set of 64-bit words (0 is never a pattern word). */
struct soak_pset {
	uint64_t *v;
	uint64_t cap;		/* power of two */
	uint64_t n;
};

void soak_pset_init(struct soak_pset *p);
void soak_pset_reset(struct soak_pset *p);	/* empty, memory kept */
void soak_pset_free(struct soak_pset *p);
bool soak_pset_has(const struct soak_pset *p, uint64_t w);
/*
 * The words a `touch` guest of boot key @key wrote below guest address
 * @end in rounds 0..@rounds-1: the first and the last word of each page
 * (an uncleared frame holds both; a frame cleared only in part, one).
 */
void soak_pset_add_guest(struct soak_pset *p, uint64_t key, uint64_t end,
			 unsigned int rounds);

/*
 * At a quiescent point: read every free frame through the host view and
 * count those whose first or last word is in @p (each is printed to @log).
 * *scanned: free frames read.
 */
uint64_t soak_scan_free(struct host *host, const struct soak_pset *p,
			uint64_t *scanned, FILE *log);
/* Write a word of @p into a free frame, as if it came back uncleared: the
 * test that the scan finds what it looks for. */
void soak_scan_plant(struct host *host, const struct soak_pset *p);


/* ---- random numbers: splitmix64, one stream per wave and slot ---- */

static inline uint64_t soak_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct soak_rng {
	uint64_t s;
};

static inline void soak_rng_init(struct soak_rng *r, uint64_t seed, uint64_t wave,
			  uint64_t stream)
{
	r->s = soak_mix(seed ^ soak_mix(wave * 1000003ULL + stream));
}

static inline uint64_t soak_rand(struct soak_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return soak_mix(r->s);
}

/* Uniform in [0, n) (n > 0). */
static inline uint64_t soak_below(struct soak_rng *r, uint64_t n)
{
	return soak_rand(r) % n;
}

static inline bool soak_chance(struct soak_rng *r, unsigned int percent)
{
	return soak_below(r, 100) < percent;
}

/* ---- the figures ---- */

/* Operations: steps of a VMM's life or of the pressure on the host, each
 * something the stack must survive.  Guest page writes are not counted. */
#define SOAK_OPS(X)							\
	X(vm_create, "VMMs started (fork, VM, boot)")			\
	X(boot, "guests started: first boots, reboots, resets")	\
	X(guest_request, "reboots, resets, power-offs the guests asked for") \
	X(host_reset, "external resets requested from outside")	\
	X(host_shutdown, "shutdowns requested from outside")		\
	X(kill, "kills from outside (lpv_vm_kill)")			\
	X(exit, "VMM exits waited for and reclaimed")			\
	X(oom_kill, "OOM kills (memcg limit or host pressure)")	\
	X(injected, "injected firmware failures returned")		\
	X(hog_fill, "hog fills (most of free memory charged at once)") \
	X(hog_release, "hog releases")

enum soak_op {
#define SOAK_OP_ENUM(name, desc) SOAK_OP_##name,
	SOAK_OPS(SOAK_OP_ENUM)
#undef SOAK_OP_ENUM
	SOAK_OP_NR,
};

/* How VMMs ended (lpv_vm_result). */
#define SOAK_ENDS(X)							\
	X(code0, "exit code 0: power-off or shutdown")			\
	X(error, "exit code 1: a boot or guest error (injected failures)") \
	X(killed, "killed: lpv_vm_kill or the OOM killer")		\
	X(create_failed, "lpv_vm_create or _boot refused (no memory)")

enum soak_end {
#define SOAK_END_ENUM(name, desc) SOAK_END_##name,
	SOAK_ENDS(SOAK_END_ENUM)
#undef SOAK_END_ENUM
	SOAK_END_NR,
};

struct soak_opts {
	uint64_t seed;
	uint64_t duration_s;
	uint64_t wave_s;
	uint64_t host_mem;
	uint64_t hang_s;
	unsigned int vms;
	bool json;
	bool plant;		/* put one pattern word into a free frame */
};

/* What one thread is doing, for the watchdog. */
struct soak_activity {
	const char *what;	/* NULL: nothing that could hang */
	uint64_t since_ns;
	char detail[160];
};

#define SOAK_MAX_VMS 16
#define SOAK_NR_IMAGES 7

struct soak_image {
	const char *program;
	unsigned int rounds;	/* touch rounds per boot; 0: no pattern */
	uint64_t touch_mib;
	struct lpv_image *img;		/* built for the wave's host */
	uint64_t guest_end;		/* its lpv_image_info */
};

struct soak;

struct soak_slot {
	struct soak *soak;
	unsigned int id;
	pthread_t thread;
	struct soak_rng rng;
	struct soak_activity act;	/* under soak.lock */
};

/* One VMM's life, as its event callback sees it. */
struct soak_vm {
	struct soak *soak;
	unsigned int mode;	/* lpv_teardown_mode_name's number */
	bool exiting;		/* atomic: a shutdown request was seen */
	uint64_t boots;		/* atomic */
};

struct soak {
	struct soak_opts o;
	struct lpv_mutex lock;
	struct lpv_cond cond;		/* the watchdog's sleep */
	bool stop_watchdog;		/* under lock */

	/* this wave (read-only while the slots run, except as noted) */
	struct host *host;
	struct lpv_host *lh;		/* the library's handle over it */
	struct soak_image images[SOAK_NR_IMAGES];
	unsigned int wave;
	bool wave_stop;			/* atomic */
	uint16_t inject_cmds[UV_PROFILE_MAX_INJECT];
	unsigned int nr_inject;
	const char *profile_base;
	char profile_desc[512];		/* base and injections, for reports */
	struct soak_pset patterns;	/* under lock */
	struct soak_slot slots[SOAK_MAX_VMS];
	struct soak_activity main_act;	/* under lock */
	struct soak_activity hog_act;	/* under lock */
	struct soak_rng hog_rng;
	bool hog_on;

	/* totals (atomics, or under lock where noted) */
	uint64_t ops[SOAK_OP_NR];
	uint64_t ends[SOAK_END_NR];
	uint64_t vms_by_mode[LPV_TEARDOWN_MODES];
	uint64_t waves, hosts;
	uint64_t host_injected;		/* the UV's count at the last check */
	uint64_t checks, violations, hangs;
	uint64_t leaked[MM_LEAK_NR];
	uint64_t unexplained_leaks;
	uint64_t guest_errors_uninjected;
	uint64_t max_restart_ns, max_exit_ns, max_reclaim_ns;	/* lock */
	unsigned int max_restart_mode, max_exit_mode, max_reclaim_mode;
	uint64_t frames_scanned, plaintext_found, patterns_max;
	uint64_t t0_ns;
	bool progress;
};

static inline void soak_count(struct soak *s, enum soak_op op, uint64_t n)
{
	atomic_add_relaxed(&s->ops[op], n);
}

static inline uint64_t soak_ops_total(struct soak *s)
{
	uint64_t t = 0;

	for (unsigned int i = 0; i < SOAK_OP_NR; i++)
		t += atomic_load_relaxed(&s->ops[i]);
	return t;
}

/* Say what a thread is doing now (NULL: nothing that could hang), for
 * the watchdog; takes soak.lock. */
void soak_activity_set(struct soak *s, struct soak_activity *a,
		       const char *what, const char *fmt, ...)
	__printf_like(4, 5);

/* The pieces, by file: a slot's VMM lives and the hog (soak_vm.c), one
 * host's waves and their checks (soak_wave.c), the report and the watchdog
 * (cmd_soak.c). */
void *soak_slot_main(void *arg);
void *soak_hog_main(void *arg);
int soak_host(struct soak *s, unsigned int nr, uint64_t deadline_ns);
void soak_report(struct soak *s, FILE *f);
#endif
