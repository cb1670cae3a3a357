// SPDX-License-Identifier: MIT
/*
 * Seeded multi-threaded stress: threads issue import / export / destroy /
 * pin / share calls on the pages of two configurations whose guest memory
 * overlaps (so ownership moves between them), while another thread creates
 * and destroys secure CPUs, and at the end configs are destroyed (slow and
 * fast) with the page threads still running.  Every answer must be one
 * the interface allows, and uv_check() must hold afterwards.  A second
 * run adds injected failures (cc 1 and cc 2) on every page command.
 * Sized by test_scale() (smaller under sanitizers).
 */
#include "uv_test.h"

#include <pthread.h>

#define NPAGES 512	/* per config: 2 MiB guests */

struct stress {
	struct uvt t;
	struct uvt_guest g[2];
	uint64_t cpu[2];	/* atomic: a CPU of each config, or 0 */
	uint64_t iters;
	hw_pfn_t region;	/* both guests' memory */
	uint64_t region_frames;
	hw_pfn_t stor, sd;	/* for the CPU thread */
	uint64_t seed;
	bool inject;
	bool overlap;		/* the guests share half their frames */
	bool stop;		/* atomic */
	uint64_t bad;		/* atomic: unexpected answers */
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool allowed(struct stress *s, uint16_t cmd, int cc, uint16_t rc)
{
	if (cc == 0 || cc == 2)
		return true;
	if (cc != 1)
		return false;
	if (s->inject && rc == 0x01ee)
		return true;
	switch (cmd) {
	case UVC_CMD_CONV_TO_SEC_STOR:
		/* config gone (destroy phase), foreign frame with CPUs,
		 * alias via the overlapping translators; and 0x106: the
		 * other config reused a frame that held this one's exported
		 * page, so its ciphertext is gone (correctly refused). */
		return rc == UVC_RC_INV_GHANDLE || rc == 0x0104 ||
		       rc == 0x0105 || (s->overlap && rc == 0x0106);
	case UVC_CMD_DESTR_SEC_STOR:
		return rc == 0x0109;
	case UVC_CMD_PIN_PAGE_SHARED:
		return rc == 0x0106 || rc == UVC_RC_NOT_SECURE;
	case UVC_CMD_SET_SHARED_ACCESS:
	case UVC_CMD_REMOVE_SHARED_ACCESS:
		return rc == 0x0102 || rc == UVC_RC_INV_CHANDLE;
	default:
		return false;
	}
}

static void *page_thread(void *arg)
{
	struct stress *s = arg;
	uint64_t seed = atomic_add_return(&s->seed, 0x632be59bd9b4e019ULL);

	for (uint64_t i = 0; i < s->iters && !atomic_load_acquire(&s->stop); i++) {
		uint64_t r = rnd(&seed);
		int gi = r & 1;
		struct uvt_guest *g = &s->g[gi];
		uint64_t page = (r >> 8) % NPAGES;
		hw_pfn_t pfn = s->region + (r >> 20) % s->region_frames;
		union {
			struct uv_cb_header h;
			struct uv_cb_cts cts;
			struct uv_cb_cfs cfs;
			struct uv_cb_share sh;
		} cb;
		uint64_t cpu;
		int cc;

		memset(&cb, 0, sizeof(cb));
		switch ((r >> 4) % 6) {
		case 0:
		case 1:
			cb.cts.header.len = sizeof(cb.cts);
			cb.cts.header.cmd = UVC_CMD_CONV_TO_SEC_STOR;
			cb.cts.guest_handle = atomic_load_acquire(&g->handle);
			cb.cts.gaddr = page << 12;
			break;
		case 2:
		case 3:
		case 4:
			cb.cfs.header.len = sizeof(cb.cfs);
			cb.cfs.header.cmd = (r >> 4) % 6 == 2 ?
				UVC_CMD_CONV_FROM_SEC_STOR : (r >> 4) % 6 == 3 ?
				UVC_CMD_DESTR_SEC_STOR : UVC_CMD_PIN_PAGE_SHARED;
			cb.cfs.paddr = pfn << 12;
			break;
		default:
			cpu = atomic_load_acquire(&s->cpu[gi]);
			if (!cpu)
				continue;
			cb.sh.header.len = sizeof(cb.sh);
			cb.sh.header.cmd = r & (1 << 30) ? UVC_CMD_SET_SHARED_ACCESS :
				UVC_CMD_REMOVE_SHARED_ACCESS;
			cb.sh.paddr = page << 12;
			cc = uv_guest_call(s->t.uv, cpu, &cb.h);
			if (cc != UVC_GUEST_INTERCEPT &&
			    !allowed(s, cb.h.cmd, cc, cb.h.rc))
				goto bad;
			if (cc == UVC_GUEST_INTERCEPT) {
				struct uv_cb_cts un = { .header.len = sizeof(un),
					.header.cmd = UVC_CMD_UNPIN_PAGE_SHARED,
					.guest_handle = g->handle,
					.gaddr = page << 12 };

				(void)uv_call(s->t.uv, &un.header);
			}
			continue;
		}
		cc = uv_call_once(s->t.uv, &cb.h);
		if (!allowed(s, cb.h.cmd, cc, cb.h.rc))
			goto bad;
		continue;
bad:
		fprintf(stderr, "# unexpected: cmd %x cc %d rc %x rrc %x\n",
			cb.h.cmd, cc, cb.h.rc, cb.h.rrc);
		atomic_add_return(&s->bad, 1);
	}
	return NULL;
}

static void *cpu_thread(void *arg)
{
	struct stress *s = arg;
	struct uv_cb_nodata d = { .header.len = sizeof(d),
		.header.cmd = UVC_CMD_DESTROY_SEC_CPU };
	struct uv_cb_csc c = { .header.len = sizeof(c),
		.header.cmd = UVC_CMD_CREATE_SEC_CPU };
	hw_pfn_t stor = s->stor, sd = s->sd;

	for (uint64_t i = 0; !atomic_load_acquire(&s->stop); i++) {
		int gi = i & 1;
		uint64_t cpu;

		c.guest_handle = s->g[gi].handle;
		c.stor_origin = (stor + gi * (s->t.prof.cpu_stor_len >> 12)) << 12;
		c.state_origin = (sd + gi) << 12;
		c.cpu_handle = 0;
		if (uv_call(s->t.uv, &c.header) == 0) {
			atomic_store_release(&s->cpu[gi], c.cpu_handle);
			sched_yield();
			cpu = c.cpu_handle;
			atomic_store_release(&s->cpu[gi], 0);
			d.handle = cpu;
			if (uv_call(s->t.uv, &d.header) && d.header.rc != 0x01ee)
				atomic_add_return(&s->bad, 1);
			/* an injected failure leaves the CPU: try again */
			while (d.header.rc == 0x01ee && uv_call(s->t.uv, &d.header))
				;
		}
	}
	return NULL;
}

static int stress_run(bool inject, bool overlap)
{
	enum { THREADS = 4 };
	pthread_t th[THREADS], cth;
	struct stress *s = calloc(1, sizeof(*s));
	struct uv_profile p;
	struct uv_stats st;

	ASSERT_NOT_NULL(s);
	uvt_profile(&p, "zero");
	p.destroy_batch = 32;
	if (inject) {
		static const uint16_t cmds[] = {
			UVC_CMD_CONV_TO_SEC_STOR, UVC_CMD_CONV_FROM_SEC_STOR,
			UVC_CMD_DESTR_SEC_STOR, UVC_CMD_PIN_PAGE_SHARED,
			UVC_CMD_DESTROY_SEC_CPU, UVC_CMD_DESTROY_SEC_CONF,
		};

		for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
			p.inject[p.nr_inject++] = (struct uv_inject){
				.cmd = cmds[i], .prob = 0.05, .seed = test_seed() + i,
				.cc = (uint8_t)(i & 1 ? 2 : 1), .rc = 0x01ee };
	}
	uvt_setup(&s->t, 32 * MIB, &p, true);
	s->inject = inject;
	s->seed = test_seed();
	s->iters = 40000 / test_scale();
	uvt_guest_create(&s->t, &s->g[0], NPAGES << 12);
	uvt_guest_create(&s->t, &s->g[1], NPAGES << 12);
	/* Overlap: config 1's pages are config 0's upper half and beyond,
	 * so frames change owner (MISC transfers) and the host even reuses
	 * frames holding the other config's exported pages. */
	s->overlap = overlap;
	s->region_frames = overlap ? NPAGES + NPAGES / 2 : 2 * NPAGES;
	s->region = uvt_alloc(&s->t, s->region_frames, 1);
	s->g[0].mem = s->region;
	s->g[1].mem = s->region + (overlap ? NPAGES / 2 : NPAGES);
	s->stor = uvt_alloc(&s->t, 2 * (s->t.prof.cpu_stor_len >> 12), 1);
	s->sd = uvt_alloc(&s->t, 2, 1);
	ASSERT_EQ(pthread_create(&cth, NULL, cpu_thread, s), 0);
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, page_thread, s), 0);
	/* Halfway, destroy config 1 under load (slow, cc 3 steps; or fast
	 * when injected failures are on, to mix the paths). */
	lpv_sleep_ns(20 * 1000 * 1000);
	for (int k = 0; k < 1000; k++) {
		struct uv_cb_destroy_fast f = { .header.len = sizeof(f),
			.header.cmd = UVC_CMD_DESTROY_SEC_CONF_FAST,
			.handle = s->g[1].handle };
		int cc;

		if (inject) {
			cc = uv_call(s->t.uv, &f.header);
			if (cc == 0)
				break;
			ASSERT_TRUE(f.header.rc == 0x0101);	/* has CPUs */
		} else {
			cc = uvt_destroy_conf(&s->t, s->g[1].handle);
			if (cc == 0)
				break;
			ASSERT_XEQ(s->t.rc, 0x0101);
		}
		sched_yield();
	}
	for (int i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_join(th[i], NULL), 0);
	atomic_store_release(&s->stop, true);
	ASSERT_EQ(pthread_join(cth, NULL), 0);
	ASSERT_UEQ(s->bad, 0);
	ASSERT_OK(uv_check(s->t.uv));
	uv_stats_get(s->t.uv, &st);
	fprintf(stderr, "# imports %llu+%llu transfers %llu exports %llu "
		"destroys %llu injected %llu secure now %llu\n",
		(unsigned long long)st.imports_fresh,
		(unsigned long long)st.imports_decrypt,
		(unsigned long long)st.imports_transfer,
		(unsigned long long)st.exports, (unsigned long long)st.destroys,
		(unsigned long long)st.injected,
		(unsigned long long)st.frames_secure);
	ASSERT_GT(st.imports_fresh, 0);
	ASSERT_GT(st.imports_decrypt, 0);
	ASSERT_GT(st.exports, 0);
	if (!overlap)	/* nobody tampers: every exported copy verifies */
		ASSERT_EQ(st.imports_bad, 0);
	else
		ASSERT_GT(st.imports_transfer, 0);
	if (inject)
		ASSERT_GT(st.injected, 0);
	/* Drain: config 0 goes the slow way, all pages with it. */
	ASSERT_UV_OK(&s->t, uvt_destroy_conf(&s->t, s->g[0].handle));
	for (hw_pfn_t f = s->region; f < s->region + s->region_frames; f++) {
		uint16_t rc;
		int r;

		do	/* an injected failure changes nothing: try again */
			r = uv_destroy_page(s->t.uv, f, &rc, NULL);
		while (r == -EINVAL && rc == 0x01ee);
		ASSERT_OK(r);
	}
	uv_stats_get(s->t.uv, &st);
	ASSERT_UEQ(st.frames_secure, 0);
	ASSERT_UEQ(st.configs_zombie, 0);
	uvt_finish(&s->t);
	free(s);
	return 0;
}

TEST_IMPL(uv_stress_concurrent)
{
	return stress_run(false, false);
}

TEST_IMPL(uv_stress_overlap)
{
	return stress_run(false, true);
}

TEST_IMPL(uv_stress_inject)
{
	return stress_run(true, true);
}
