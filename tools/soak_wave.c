// SPDX-License-Identifier: MIT
/*
 * soak_wave.c - `lazypv soak`'s hosts and waves.  Each host gets a
 * firmware profile of its own (zero or default costs, on two hosts of
 * three failures injected into a few UV commands) and a set of images; it
 * serves SOAK_WAVES_PER_HOST waves.  A wave runs the slots and (often)
 * the hog until its time is up, then, with every VMM waited for, checks
 * the host at that quiescent point: the validators (host_check), frame
 * conservation against the wave's start with every leak explained by an
 * injected failure, and no protected guest's plaintext in a free frame.
 *
 * Main thread only, except the slots and the hog it starts and joins.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/host.h"
#include "lib/lib.h"
#include "soak.h"
#include "tools.h"

/* ---- a wave ---- */

/* The guest programs a wave's images carry (touch writes the per-boot
 * pattern the scan looks for; rounds and mib say where and how often). */
static const struct {
	const char *program;
	unsigned int rounds;
	uint64_t mib;
} soak_programs[SOAK_NR_IMAGES] = {
	{ "touch:mib=8,rounds=1,then=reboot", 1, 8 },
	{ "touch:mib=4,rounds=2,then=reboot", 2, 4 },
	{ "touch:mib=8,rounds=1,then=reset0", 1, 8 },
	{ "touch:mib=6,rounds=1,then=reset1", 1, 6 },
	{ "touch:mib=4,rounds=1,then=clear", 1, 4 },
	{ "touch:mib=12,rounds=1,then=poweroff", 1, 12 },
	{ "idle", 0, 0 },
};

/* The UV commands failures are injected into, with how likely per call
 * (calls per page get the small rates) and the rc returned. */
static const struct {
	uint16_t cmd;
	bool per_page;
	uint16_t rc;
} soak_injectable[] = {
	{ UVC_CMD_CREATE_SEC_CONF, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CREATE_SEC_CONF, false, UVC_RC_NEED_DESTROY | UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CONF, false, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CONF_FAST, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CREATE_SEC_CPU, false, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTROY_SEC_CPU, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CONV_TO_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_CONV_FROM_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_DESTR_SEC_STOR, true, UVC_RC_INV_STATE },
	{ UVC_CMD_SET_SEC_CONF_PARAMS, false, UVC_RC_INV_STATE },
	{ UVC_CMD_UNPACK_IMG, true, UVC_RC_INV_STATE },
	{ UVC_CMD_VERIFY_IMG, false, UVC_RC_INV_STATE },
	{ UVC_CMD_PREPARE_RESET, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_RESET_CLEAR, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_RESET_INITIAL, false, UVC_RC_INV_STATE },
	{ UVC_CMD_CPU_SET_STATE, false, UVC_RC_INV_STATE },
	{ UVC_CMD_SET_UNSHARE_ALL, false, UVC_RC_INV_STATE },
};

/* Append to a NUL-terminated buffer, truncating. */
static void soak_strcat(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	if (n + 1 < len)
		snprintf(buf + n, len - n, "%s", s);
}

static bool soak_injected_cmd(const struct soak *s, uint16_t cmd)
{
	for (unsigned int i = 0; i < s->nr_inject; i++)
		if (s->inject_cmds[i] == cmd)
			return true;
	return false;
}

/*
 * Is a leak of @reason explained by a failure injected into this wave?
 * Each reason names the UV calls whose failure leaks on purpose (mm.h,
 * the call sites of mm_page_leak).
 */
static bool soak_leak_explained(const struct soak *s, enum mm_leak_reason reason)
{
	switch (reason) {
	case MM_LEAK_destroy_failed:
		/* A set-aside page whose destroy failed and whose export
		 * fallback failed too: the destroy fails by itself while a
		 * CPU whose destroy failed is still counted. */
		return soak_injected_cmd(s, UVC_CMD_DESTR_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       (soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU) &&
			soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR));
	case MM_LEAK_export_failed:
		return soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR);
	case MM_LEAK_conf_destroy_failed:
		return soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF_FAST) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU);
	case MM_LEAK_cpu_destroy_failed:
		return soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CPU);
	case MM_LEAK_secure_at_free:
		return soak_injected_cmd(s, UVC_CMD_DESTR_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_CONV_FROM_SEC_STOR) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF) ||
		       soak_injected_cmd(s, UVC_CMD_DESTROY_SEC_CONF_FAST);
	default:
		return s->nr_inject > 0;
	}
}

/* A host's firmware: zero or default costs, INIT storage anywhere (a
 * host of 1 GiB), and on two hosts of three failures injected into one
 * to three commands. */
static int soak_wave_profile(struct soak *s, struct soak_rng *r,
			     struct uv_profile *p)
{
	int ret;

	s->profile_base = soak_chance(r, 25) ? "default" : "zero";
	ret = host_profile_builtin(s->profile_base, p);
	if (ret)
		return ret;
	p->init_min_origin = 0;
	s->nr_inject = 0;
	snprintf(s->profile_desc, sizeof(s->profile_desc), "profile %s",
		 s->profile_base);
	if (soak_chance(r, 33))
		return 0;
	for (unsigned int n = 1 + (unsigned int)soak_below(r, 3); n; n--) {
		unsigned int k = (unsigned int)soak_below(r, ARRAY_SIZE(soak_injectable));
		struct uv_inject *in = &p->inject[p->nr_inject++];

		*in = (struct uv_inject){
			.cmd = soak_injectable[k].cmd,
			.seed = soak_rand(r),
			.cc = 1,
			.rc = soak_injectable[k].rc,
		};
		if (soak_chance(r, 20))
			in->nth = 1 + soak_below(r, soak_injectable[k].per_page ? 20000 : 40);
		else if (soak_injectable[k].per_page)
			in->prob = 0.0001 * (double)(1 + soak_below(r, 20));
		else
			in->prob = 0.002 * (double)(1 + soak_below(r, 10));
		s->inject_cmds[s->nr_inject++] = in->cmd;
		soak_strcat(s->profile_desc, sizeof(s->profile_desc), ", inject ");
		soak_strcat(s->profile_desc, sizeof(s->profile_desc), host_uv_cmd_name(in->cmd));
		{
			char b[64];

			if (in->nth)
				snprintf(b, sizeof(b), " nth=%" PRIu64 " rc=%#x", in->nth, in->rc);
			else
				snprintf(b, sizeof(b), " prob=%g rc=%#x", in->prob, in->rc);
			soak_strcat(s->profile_desc, sizeof(s->profile_desc), b);
		}
	}
	return 0;
}

static int soak_wave_images(struct soak *s, uint64_t nonce)
{
	uint8_t key[LPV_HOST_KEY_LEN];
	struct lpv_image_info info;

	if (lpv_host_key(s->lh, key))
		return -EINVAL;
	for (unsigned int i = 0; i < SOAK_NR_IMAGES; i++) {
		struct soak_image *im = &s->images[i];
		struct lpv_image_spec spec = {
			.program = soak_programs[i].program,
			.payload_bytes = 64 << 10,
			.nonce = nonce + i + 1,
		};

		im->program = soak_programs[i].program;
		im->rounds = soak_programs[i].rounds;
		im->touch_mib = soak_programs[i].mib;
		if (lpv_image_build(&spec, key, &im->img) ||
		    lpv_image_info(im->img, &info)) {
			fprintf(stderr, "lazypv soak: image %s: %s\n", im->program,
				lpv_last_error());
			return -EINVAL;
		}
		im->guest_end = info.guest_end;
	}
	return 0;
}

static void soak_violation(struct soak *s, const char *fmt, ...) __printf_like(2, 3);

static void soak_violation(struct soak *s, const char *fmt, ...)
{
	va_list ap;

	s->violations++;
	fprintf(stderr, "lazypv soak: VIOLATION (seed %" PRIu64 ", wave %u, %s): ",
		s->o.seed, s->wave, s->profile_desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The quiescent point at the end of a wave: every VMM waited for. */
static void soak_wave_check(struct soak *s, const struct mm_stats *before)
{
	struct host_stats hs;
	const struct mm_stats *now = &hs.mm;
	uint64_t leaked = 0, found, scanned = 0;
	int ret;

	soak_activity_set(s, &s->main_act, "checking", "wave %u", s->wave);
	s->checks++;
	ret = host_check(s->host);
	if (ret)
		soak_violation(s, "host_check: %s", strerror(-ret));

	host_stats_get(s->host, &hs);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++) {
		uint64_t d = now->leaked[i] - before->leaked[i];

		leaked += d;
		s->leaked[i] += d;
		if (d && !soak_leak_explained(s, i)) {
			s->unexplained_leaks += d;
			soak_violation(s, "%" PRIu64 " frames leaked (%s) with no failure injected that explains it",
				       d, host_leak_reason_name(i));
		}
	}
	/* Frame conservation: every frame is where it was before the wave,
	 * except those leaked on purpose. */
	s->checks++;
	if (now->use[PAGE_USE_FREE] + leaked != before->use[PAGE_USE_FREE] ||
	    now->use[PAGE_USE_PENDING] || now->use[PAGE_USE_ANON] != before->use[PAGE_USE_ANON] ||
	    now->use[PAGE_USE_DONATED] != before->use[PAGE_USE_DONATED] ||
	    now->use[PAGE_USE_KERNEL] != before->use[PAGE_USE_KERNEL])
		soak_violation(s, "frames not back: free %" PRIu64 " + leaked %" PRIu64 " vs %" PRIu64
			       ", pending %" PRIu64 ", anon %" PRIu64 " vs %" PRIu64
			       ", kernel %" PRIu64 " vs %" PRIu64 ", donated %" PRIu64 " vs %" PRIu64,
			       now->use[PAGE_USE_FREE], leaked, before->use[PAGE_USE_FREE],
			       now->use[PAGE_USE_PENDING], now->use[PAGE_USE_ANON],
			       before->use[PAGE_USE_ANON], now->use[PAGE_USE_KERNEL],
			       before->use[PAGE_USE_KERNEL], now->use[PAGE_USE_DONATED],
			       before->use[PAGE_USE_DONATED]);
	soak_count(s, SOAK_OP_oom_kill, now->oom_kills - before->oom_kills);
	soak_count(s, SOAK_OP_injected, hs.uv.injected - s->host_injected);
	s->host_injected = hs.uv.injected;

	/* No frame handed back holds a protected guest's plaintext. */
	s->checks++;
	if (s->o.plant && s->wave == 0)
		soak_scan_plant(s->host, &s->patterns);
	found = soak_scan_free(s->host, &s->patterns, &scanned, stderr);
	s->frames_scanned += scanned;
	if (s->patterns.n > s->patterns_max)
		s->patterns_max = s->patterns.n;
	if (found) {
		s->plaintext_found += found;
		soak_violation(s, "plaintext found in %" PRIu64 " free frame%s",
			       found, found == 1 ? "" : "s");
	}
	soak_activity_set(s, &s->main_act, NULL, NULL);
}

/* One wave on the current host: VMMs and the hog until @end_ns, then the
 * quiescent point. */
static void soak_wave(struct soak *s, uint64_t end_ns)
{
	struct host_stats before;
	struct soak_rng r;
	pthread_t hog;

	host_stats_get(s->host, &before);
	soak_pset_reset(&s->patterns);
	atomic_store_release(&s->wave_stop, false);

	soak_rng_init(&r, s->o.seed, s->wave, 1001);
	soak_rng_init(&s->hog_rng, s->o.seed, s->wave, 2000);
	s->hog_on = soak_chance(&r, 70);
	if (s->hog_on && pthread_create(&hog, NULL, soak_hog_main, s))
		s->hog_on = false;
	for (unsigned int i = 0; i < s->o.vms; i++) {
		struct soak_slot *sl = &s->slots[i];

		sl->soak = s;
		sl->id = i;
		soak_rng_init(&sl->rng, s->o.seed, s->wave, i);
		if (pthread_create(&sl->thread, NULL, soak_slot_main, sl)) {
			fprintf(stderr, "lazypv soak: cannot start a thread\n");
			exit(1);
		}
	}
	while (lpv_now_ns() < end_ns) {
		usleep(100 * 1000);
		if (s->progress)
			fprintf(stderr, "\rlazypv soak: wave %u, %.0f s, %" PRIu64 " operations, %" PRIu64 " violations ",
				s->wave, (double)(lpv_now_ns() - s->t0_ns) / 1e9,
				soak_ops_total(s), s->violations);
	}
	atomic_store_release(&s->wave_stop, true);
	soak_activity_set(s, &s->main_act, "joining the slots", "wave %u", s->wave);
	for (unsigned int i = 0; i < s->o.vms; i++)
		pthread_join(s->slots[i].thread, NULL);
	if (s->hog_on)
		pthread_join(hog, NULL);
	soak_activity_set(s, &s->main_act, NULL, NULL);

	soak_wave_check(s, &before.mm);
	s->waves++;
}

/*
 * One host (one firmware profile, its injected failures) for
 * SOAK_WAVES_PER_HOST waves: a host's first scan reads every frame once,
 * which costs what populating it does; later ones only read.
 */
#define SOAK_WAVES_PER_HOST 3

int soak_host(struct soak *s, unsigned int nr, uint64_t deadline_ns)
{
	struct soak_rng r;
	struct host_config hc;
	char err[200] = "";
	int ret;

	ret = host_config_init(&hc);
	if (ret)
		return ret;
	hc.mem_bytes = s->o.host_mem;
	hc.uv_seed = "soak";
	soak_rng_init(&r, s->o.seed, nr, 1000);
	ret = soak_wave_profile(s, &r, &hc.profile);
	if (ret)
		return ret;
	soak_activity_set(s, &s->main_act, "host_create", "host %u", nr);
	ret = host_create(&hc, &s->host, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "lazypv soak: host: %s\n", err);
		return ret;
	}
	s->host_injected = 0;
	ret = tool_lpv_host(s->host, &s->lh, "soak") ? -EINVAL : 0;
	if (!ret)
		ret = soak_wave_images(s, soak_rand(&r));
	soak_activity_set(s, &s->main_act, NULL, NULL);
	for (unsigned int i = 0; !ret && i < SOAK_WAVES_PER_HOST &&
	     lpv_now_ns() < deadline_ns; i++, s->wave++) {
		uint64_t end = lpv_now_ns() + s->o.wave_s * 1000000000ULL;

		soak_wave(s, end < deadline_ns ? end : deadline_ns);
	}
	soak_activity_set(s, &s->main_act, "host_destroy", "host %u", nr);
	lpv_host_destroy(s->lh);
	s->lh = NULL;
	for (unsigned int i = 0; i < SOAK_NR_IMAGES; i++) {
		lpv_image_destroy(s->images[i].img);
		s->images[i].img = NULL;
	}
	host_destroy(s->host);
	s->host = NULL;
	soak_activity_set(s, &s->main_act, NULL, NULL);
	s->hosts++;
	return ret;
}

