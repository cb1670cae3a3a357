// SPDX-License-Identifier: MIT
/*
 * cmd_bench.c - `lazypv bench`: the teardown designs side by side
 * (ARCHITECTURE.md §5), in one run, beside the machine's own limits.
 *
 * For each firmware profile, one host sized for the largest guest is
 * brought up once and reused (first touch of memfd memory is the slowest
 * thing on the machine), and for each guest size, run after run, every
 * mode (interleaved, so noise hits them alike) runs one VMM life:
 *
 *   boot, the touch program writes every page (all memory secure), reboot
 *   (restart latency: request -> first instruction of the new protected
 *   guest), the new guest writes every page again (while lazy/async clean
 *   the old one in the background), shutdown (exit latency: request -> the
 *   parent's wait returns; reclaim: -> every frame free and uncharged).
 *
 * Figures are medians over --runs; ratios against sync come from the same
 * run.  The floor is what one page's destroy costs at the least: the
 * profile's modelled destroy cost plus a 4 KiB clear measured now.
 * Beside the share, each row splits its per-page reclaim time: "ns/pg"
 * (the whole of it), "in UV" (the mean wall time of the destroy-page calls
 * from the shutdown request on, from the UV's counters: the modelled cost,
 * inside which the UV's bookkeeping runs, plus the clear), "clear" (of
 * which the clear) and "stall" (of which the clears' stalls, per
 * destroy-page call, from the hw first-touch probe the bench turns on:
 * first accesses to a frame that took over HW_STALL_NS because the
 * hypervisor this machine runs under had the page away -- their time
 * beyond an ordinary first access); the rest is the host's side of the
 * cleanup.
 * "-stall share" is the share with the stalls' time taken out: what the
 * cleanup would reach were its memory not taken away under it.  "guest 2
 * ms" is the rebooted guest's pass over its memory (first instruction ->
 * round done): with lazy/async it runs beside the cleanup of the first
 * guest's memory and meets its leftovers; "vs sync" is that time over
 * sync's, whose new guest has the machine to itself (the guest slowdown).
 * --oom adds "shut down A, start B at once" with host memory 1.5x a guest,
 * counting OOM kills and the longest allocation stall per mode (lazy with
 * and without its OOM notifier).  Timings are never asserted.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/hw.h"
#include "kvm/kvm.h"
#include "lib/lib.h"
#include "mm/mm.h"
#include "damon.h"
#include "tools.h"
#include "uv/uv.h"
#include "vmm/vmm.h"

#define MAX_SIZES 8
#define MAX_RUNS 15
#define MAX_PROFILES 4

struct bench_opts {
	uint64_t sizes[MAX_SIZES];
	unsigned int nr_sizes;
	bool modes[VMM_DESTROY_NR];
	const char *profiles[MAX_PROFILES];
	char *profiles_buf;	/* --profiles' copy the names point into */
	unsigned int nr_profiles;
	unsigned int runs;
	bool oom, json;
	bool oom_only;		/* skip the tables */
	uint64_t oom_guest;
	uint64_t oom_destroy_ns; /* modelled per-page cleaning cost of --oom */
};

/* One VMM life's figures (uv_ns, data_ns, stall_ns: mean wall time of the
 * destroy-page calls from its shutdown request on, of their data work --
 * the clear --, and what the clears' stalls took beyond an ordinary first
 * access, from the UV's own counters; stalled: the share of those calls
 * whose first access stalled; guest1_ms, guest2_ms: the touch
 * round of the first and of the rebooted guest, first instruction -> round
 * done -- the second runs while lazy/async clean the first's memory). */
#define NR_FIGS 10
struct sample {
	double restart_ms, exit_ms, reclaim_ms, pages_per_s, uv_ns, data_ns;
	double stall_ns, guest1_ms, guest2_ms, stalled;
	uint64_t frames;
	int ok;
};

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: lazypv bench [--sizes LIST] [--modes LIST] [--profiles LIST]\n"
		"                    [--runs N] [--oom] [--oom-only] [--oom-guest SIZE]\n"
		"                    [--oom-destroy-cost NS] [--quick] [--json]\n"
		"\n"
		"Measure restart latency, exit latency, reclaim time and cleanup\n"
		"throughput of the teardown designs, medians of N runs, beside the\n"
		"page-clear cost and the firmware profile's per-page floor measured in\n"
		"the same run.  Every page of each guest is made secure first.\n"
		"\n"
		"  --sizes LIST      guest sizes (default 1G,4G,8G)\n"
		"  --modes LIST      of sync, sync-6.0, lazy, async, instant (default all)\n"
		"  --profiles LIST   firmware profiles or files (default default,zero)\n"
		"  --runs N          runs per figure, 1..%d (default 3)\n"
		"  --oom             also: shut down A, start B at once, host 1.5x guest\n"
		"  --oom-guest SIZE  guest size of that experiment (default 512M; the\n"
		"                    host is 1.5x, the UV's storage anywhere in it)\n"
		"  --oom-destroy-cost NS  the cost modelled there to clean a secure page,\n"
		"                    by destroy page, export or DESTROY_SEC_CONF (default\n"
		"                    200000: a cleanup slower than the next guest's\n"
		"                    faults -- ~20-75 us a page on the development\n"
		"                    machine while a cleanup runs -- the case IBM's\n"
		"                    docs warn about)\n"
		"  --oom-only        run only that experiment\n"
		"  --quick           256M,1G; 1 run; default profile (a smoke run)\n"
		"  --json            one JSON object per figure\n"
		"\n"
		"Per row, beside the latencies: the floor share (floor / per-page\n"
		"reclaim), ns/pg, the destroy-page call's time in the UV, its clear,\n"
		"the clear's stalls (first accesses to a frame the hypervisor below\n"
		"had taken away, beyond an ordinary one) and the share without them;\n"
		"the rebooted guest's pass over its memory (\"guest 2\": beside the\n"
		"cleanup for lazy/async) and its slowdown against sync's.\n"
		"docs/bench.md explains each.\n"
		"\n"
		"Large sizes need memory (8G guests: a 9 GiB host) and time: the\n"
		"default set takes about 45 minutes on 2 cores.\n", MAX_RUNS);
}

/* Split @arg at commas into @items, which point into the returned copy
 * (the caller frees it once done with them).  Empty items are refused:
 * "1G,,4G" is a typo, not two sizes. */
static char *parse_list(const char *arg, char **items, unsigned int max,
			unsigned int *nr, const char *opt)
{
	char *copy = strdup(arg), *rest, *tok;

	if (!copy)
		tool_usage_error("bench", "out of memory");
	*nr = 0;
	rest = copy;
	while ((tok = strsep(&rest, ","))) {
		if (!*tok)
			tool_usage_error("bench", "--%s '%s': item %u is empty",
					 opt, arg, *nr + 1);
		if (*nr == max)
			tool_usage_error("bench", "--%s: at most %u items", opt, max);
		items[(*nr)++] = tok;
	}
	return copy;
}

/* Returns true if --help was asked for (and printed). */
static bool bench_parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "modes", required_argument, NULL, 'm' },
		{ "profiles", required_argument, NULL, 'p' },
		{ "runs", required_argument, NULL, 'r' },
		{ "oom", no_argument, NULL, 'o' },
		{ "oom-only", no_argument, NULL, 'O' },
		{ "oom-destroy-cost", required_argument, NULL, 'D' },
		{ "oom-guest", required_argument, NULL, 'g' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *items[MAX_SIZES], *copy;
	unsigned int n;
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			copy = parse_list(optarg, items, MAX_SIZES, &n, "sizes");
			for (unsigned int i = 0; i < n; i++)
				if (lpv_parse_size(items[i], &o->sizes[i]) ||
				    !o->sizes[i] || o->sizes[i] % (1ULL << 20))
					tool_usage_error("bench", "--sizes: item %u '%s' is not a non-zero multiple of 1 MiB",
							 i + 1, items[i]);
			o->nr_sizes = n;
			free(copy);
			break;
		case 'm':
			copy = parse_list(optarg, items, MAX_SIZES, &n, "modes");
			memset(o->modes, 0, sizeof(o->modes));
			for (unsigned int i = 0; i < n; i++) {
				enum vmm_destroy_mode m;

				if (vmm_destroy_mode_parse(items[i], &m))
					tool_usage_error("bench", "--modes: item %u: unknown mode '%s' (sync, sync-6.0, lazy, async, instant)",
							 i + 1, items[i]);
				o->modes[m] = true;
			}
			free(copy);
			break;
		case 'p':
			free(o->profiles_buf);
			o->profiles_buf = parse_list(optarg, (char **)o->profiles,
						     MAX_PROFILES, &o->nr_profiles,
						     "profiles");
			break;
		case 'r':
			o->runs = (unsigned int)strtoul(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end ||
			    !o->runs || o->runs > MAX_RUNS)
				tool_usage_error("bench", "--runs takes 1..%d, not '%s'",
						 MAX_RUNS, optarg);
			break;
		case 'o':
			o->oom = true;
			break;
		case 'O':
			o->oom = o->oom_only = true;
			break;
		case 'D':
			errno = 0;
			o->oom_destroy_ns = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || errno ||
			    o->oom_destroy_ns > 1000000000ULL)
				tool_usage_error("bench", "--oom-destroy-cost takes ns, 0..1000000000, not '%s'",
						 optarg);
			break;
		case 'g':
			o->oom_guest = tool_parse_size("bench", "oom-guest", optarg);
			if (o->oom_guest < (64ULL << 20) || o->oom_guest % (1ULL << 20))
				tool_usage_error("bench", "--oom-guest %s: must be a multiple of 1 MiB, at least 64 MiB",
						 optarg);
			break;
		case 'q':
			o->sizes[0] = 256ULL << 20;
			o->sizes[1] = 1ULL << 30;
			o->nr_sizes = 2;
			o->runs = 1;
			o->profiles[0] = "default";
			o->nr_profiles = 1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			bench_usage(stdout);
			return true;
		default:
			tool_option_error("bench", c, argv, longopts);
		}
	}
	if (optind < argc)
		tool_usage_error("bench", "unexpected argument '%s'", argv[optind]);
	return false;
}

/* The host of one profile's table: the guest, the tables and the UV's
 * storage above 2 GiB. */
static uint64_t bench_table_host_mem(const struct bench_opts *o)
{
	uint64_t biggest = 0;

	for (unsigned int i = 0; i < o->nr_sizes; i++)
		if (o->sizes[i] > biggest)
			biggest = o->sizes[i];
	return biggest + (biggest < (2ULL << 30) ? (2ULL << 30) : (1ULL << 30));
}

/* The host of --oom: exactly 1.5x the guest (UV storage anywhere). */
static uint64_t bench_oom_host_mem(const struct bench_opts *o)
{
	return (o->oom_guest + o->oom_guest / 2) & HW_PAGE_MASK;
}

/*
 * Everything that can be said before the first host is populated (which
 * takes seconds per GiB): every profile loads and leaves room for the UV's
 * storage, the hosts fit in this machine, the environment's options parse.
 * Returns 0, or -EINVAL when an environment option was refused (its
 * message printed).
 */
static int bench_validate(const struct bench_opts *o)
{
	uint64_t table = bench_table_host_mem(o), oom = bench_oom_host_mem(o);
	uint64_t backable = hw_backable_bytes();
	struct uv_profile prof;
	struct kvm_params kp;
	struct mm_config mc;
	char err[256], a[32], b[32], c[32];

	if (mm_config_init(&mc) || kvm_params_init(&kp))
		return -EINVAL;	/* the message named the variable */
	for (unsigned int p = 0; !o->oom_only && p < o->nr_profiles; p++) {
		if (uv_profile_load(o->profiles[p], &prof, err, sizeof(err)))
			tool_usage_error("bench", "--profiles: item %u: %s", p + 1,
					 err[0] ? err : o->profiles[p]);
		if (!uv_profile_init_fits(&prof, table, NULL))
			tool_usage_error("bench", "--profiles: item %u: profile '%s' wants the UV's %s of storage above %s (init_min_origin), beyond the %s host of --sizes",
					 p + 1, o->profiles[p],
					 lpv_format_size(prof.uv_base_stor_len, a, sizeof(a)),
					 lpv_format_size(prof.init_min_origin, b, sizeof(b)),
					 lpv_format_size(table, c, sizeof(c)));
	}
	if (!o->oom_only && backable && table > backable)
		tool_usage_error("bench", "--sizes: the largest needs a %s host, out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(table, a, sizeof(a)),
				 lpv_format_size(backable, b, sizeof(b)));
	if (o->oom && backable && oom > backable)
		tool_usage_error("bench", "--oom-guest: needs a %s host, out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(oom, a, sizeof(a)),
				 lpv_format_size(backable, b, sizeof(b)));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The machine's floor, now: a 4 KiB clear the way the Ultravisor does it
 * (hw_frame_clear_fw: through the firmware view, one frame at a time) over
 * a 128 MiB span -- larger than the caches, as a cleanup walking a guest
 * sees its frames -- and the cost of lifting a frame's host-view
 * protection as the teardown walks do it (one hw unprotect batch per 64
 * frames), a cost of this emulation that s390 does not have.  (The fault
 * that maps a frame again at the next host access comes on top.)
 */
#define FLOOR_FRAMES 32768

static void machine_floor(struct vmm_host *host, double *clear,
			  double *unprotect)
{
	hw_pfn_t first;
	struct page *p;
	double s[3], u[5];

	*clear = *unprotect = 0;
	if (mm_page_alloc_contig(host->world, 0, NULL, FLOOR_FRAMES, &p))
		return;
	first = mm_page_to_pfn(host->world, p);
	for (int r = 0; r < 3; r++) {
		uint64_t t0 = hw_now_ns();

		for (hw_pfn_t i = 0; i < FLOOR_FRAMES; i++)
			hw_frame_clear_fw(host->hw, first + i);
		s[r] = (double)(hw_now_ns() - t0) / FLOOR_FRAMES;
	}
	for (int r = 0; r < 5; r++) {
		uint64_t t0;

		for (hw_pfn_t i = 0; i < 1024; i++)
			if (hw_frame_protect(host->hw, first + i))
				abort();
		t0 = hw_now_ns();
		for (hw_pfn_t i = 0; i < 1024; i += 64) {
			struct hw_unprotect_batch b;

			hw_unprotect_batch_begin(host->hw, &b);
			for (hw_pfn_t k = i; k < i + 64; k++)
				if (hw_frame_unprotect(host->hw, first + k))
					abort();
			hw_unprotect_batch_end(&b);
		}
		u[r] = (double)(hw_now_ns() - t0) / 1024;
	}
	for (int i = 0; i < FLOOR_FRAMES; i++)
		mm_page_put(host->world, p + i);
	*clear = median(s, 3);
	*unprotect = median(u, 5);
}

/*
 * A host whose memory is populated up front: the first touch of memfd
 * memory (about 2 s/GiB on a nested VM) is a cost of this emulation, not of
 * any teardown design, and would otherwise land on whichever run first
 * uses a frame.  The hw first-touch probe is on.
 */
static int bench_host_create(struct vmm_host_config *hc, struct vmm_host **host,
			     char *err, size_t errlen)
{
	char sz[32];
	uint64_t t0 = hw_now_ns();
	int r;

	lpv_format_size(hc->host_mem, sz, sizeof(sz));
	fprintf(stderr, "lazypv bench: populating %s of host memory...\n", sz);
	hc->populate = true;
	r = vmm_host_create(hc, host, err, errlen);
	if (r)
		return r;
	fprintf(stderr, "lazypv bench: populated in %.1f s\n",
		(double)(hw_now_ns() - t0) / 1e9);
	/* The stall columns: the machine's first touches, timed by hw. */
	hw_probe_first_touch((*host)->hw, true);
	return r;
}

/*
 * The time the clears' stalls took beyond an ordinary first access (the
 * mean of the first touches that did not stall, in the same window), from
 * the hw probe's counters.
 */
static double stall_excess(const struct hw_stats *b, const struct hw_stats *a)
{
	double touches = (double)(a->touches - b->touches);
	double stalls = (double)(a->stalls - b->stalls);
	double stall_ns = (double)(a->stall_ns - b->stall_ns);
	double normal = touches > stalls ?
		((double)(a->touch_ns - b->touch_ns) - stall_ns) /
		(touches - stalls) : 0;

	return stall_ns - stalls * normal;
}

/* The UV's and the probe's counters at a life's shutdown request (under
 * the VMM's lock: the *_stats_get only read counters). */
struct life_mark {
	struct uv *uv;
	struct hw_machine *hw;
	struct uv_stats at_shutdown;
	struct hw_stats hw_at_shutdown;
	bool marked;
};

static void life_event(void *ctx, const struct vmm_event *ev)
{
	struct life_mark *mk = ctx;

	if (ev->type == VMM_EV_SHUTDOWN_REQUEST && !mk->marked) {
		uv_stats_get(mk->uv, &mk->at_shutdown);
		hw_stats_get(mk->hw, &mk->hw_at_shutdown);
		mk->marked = true;
	}
}

static int one_life(struct vmm_host *host, const struct vmm_image *img,
		    uint64_t guest, enum vmm_destroy_mode mode,
		    struct sample *s)
{
	struct life_mark mk = { .uv = host->uv, .hw = host->hw };
	struct vmm_config vc = {
		.guest_mem = guest,
		.cpus = 1,
		.destroy = mode,
		.image = img,
		.max_reboots = 1,
		.on_event = life_event,
		.event_ctx = &mk,
	};
	const int destr = uv_cmd_index(UVC_CMD_DESTR_SEC_STOR);
	const struct uv_stats *before = &mk.at_shutdown;
	const struct vmm_event *ev;
	struct uv_stats after;
	struct hw_stats hw_after;
	struct vmm_result res;
	uint64_t started[2] = { 0, 0 };
	struct vmm *vmm;
	char err[160];
	size_t nr;
	int r;

	memset(s, 0, sizeof(*s));
	r = vmm_config_check(host, &vc, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	r = vmm_create(host, &vc, &vmm);
	if (r)
		return r;
	r = vmm_wait(vmm, &res);
	/* Per boot (0, 1): its first instruction, then its round's end. */
	ev = vmm_events(vmm, &nr);
	for (size_t i = 0; i < nr; i++) {
		unsigned int b = ev[i].boot;

		if (b > 1)
			continue;
		if (ev[i].type == VMM_EV_GUEST_START) {
			started[b] = ev[i].t_ns;
			if (b == 1)
				s->restart_ms = (double)ev[i].latency_ns / 1e6;
		} else if (ev[i].type == VMM_EV_GUEST_ROUND &&
			   ev[i].round == 0 && started[b]) {
			*(b ? &s->guest2_ms : &s->guest1_ms) =
				(double)(ev[i].t_ns - started[b]) / 1e6;
		}
	}
	if (!r && (res.exit_code || res.error || res.boots != 2))
		r = res.error ? res.error : -EIO;
	if (r)
		fprintf(stderr, "lazypv bench: %s run failed: %s\n",
			vmm_destroy_mode_name(mode), res.message);
	s->exit_ms = (double)res.exit_latency_ns / 1e6;
	s->reclaim_ms = (double)res.reclaim_ns / 1e6;
	s->frames = res.reclaimed_frames;
	s->pages_per_s = res.reclaim_ns ? (double)res.reclaimed_frames * 1e9 /
					  (double)res.reclaim_ns : 0;
	s->ok = !r;
	vmm_destroy(vmm);
	kvm_module_drain(host->kvm);
	uv_stats_get(host->uv, &after);
	hw_stats_get(host->hw, &hw_after);
	if (mk.marked && after.cmd[destr].calls > before->cmd[destr].calls) {
		double calls = (double)(after.cmd[destr].calls -
					before->cmd[destr].calls);

		s->uv_ns = (double)(after.cmd[destr].ns -
				    before->cmd[destr].ns) / calls;
		s->data_ns = (double)(after.cmd[destr].data_ns -
				      before->cmd[destr].data_ns) / calls;
		s->stall_ns = stall_excess(&mk.hw_at_shutdown, &hw_after) /
			      calls;
		s->stalled = (double)(hw_after.stalls -
				      mk.hw_at_shutdown.stalls) / calls;
	}
	if (!r)
		r = vmm_host_check(host);
	return r;
}

static int make_image(struct vmm_host *host, const char *program, void **buf,
		      struct vmm_image *img)
{
	struct vmm_image_spec spec = { .program = program,
				       .default_payload_len = 1 << 20 };
	size_t len;
	char err[160];
	int r = vmm_image_build(&spec, host->host_pub, buf, &len, err, sizeof(err));

	if (!r)
		r = vmm_image_parse(*buf, len, img, err, sizeof(err));
	if (r)
		fprintf(stderr, "lazypv bench: image: %s\n", err);
	return r;
}

static void print_row(const struct bench_opts *o, const char *profile,
		      const char *label, uint64_t size, enum vmm_destroy_mode mode,
		      const double m[NR_FIGS], const double sync[NR_FIGS],
		      double floor_ns,
		      double mach_ns, unsigned int runs)
{
	double per_page = m[3] > 0 ? 1e9 / m[3] : 0;
	char sz[32];

	lpv_format_size(size, sz, sizeof(sz));
	if (o->json) {
		printf("{\"bench\":\"teardown\",\"profile\":");
		lpv_json_str(stdout, profile);
		printf(",\"guest_mem\":%" PRIu64 ",\"mode\":\"%s%s\",\"runs\":%u,"
		       "\"restart_ms\":%.2f,\"exit_ms\":%.2f,\"reclaim_ms\":%.2f,"
		       "\"cleanup_pages_per_s\":%.0f,\"floor_ns_per_page\":%.1f,"
		       "\"machine_floor_ns_per_page\":%.1f,"
		       "\"uv_destroy_call_ns\":%.1f,\"uv_destroy_clear_ns\":%.1f,"
		       "\"uv_destroy_stall_ns\":%.1f,\"uv_destroy_stalled\":%.4f,"
		       "\"guest1_ms\":%.1f,\"guest2_ms\":%.1f,"
		       "\"restart_vs_sync\":%.2f,\"exit_vs_sync\":%.2f,"
		       "\"guest2_vs_sync\":%.2f}\n",
		       size, vmm_destroy_mode_name(mode), label, runs, m[0], m[1],
		       m[2], m[3], floor_ns, mach_ns, m[4], m[5], m[6], m[9],
		       m[7], m[8],
		       sync && m[0] > 0 ? sync[0] / m[0] : 0,
		       sync && m[1] > 0 ? sync[1] / m[1] : 0,
		       sync && sync[8] > 0 ? m[8] / sync[8] : 0);
		return;
	}
	char name[16];

	snprintf(name, sizeof(name), "%s%s", vmm_destroy_mode_name(mode), label);
	printf("  %-9s %-7s %10.1f %10.1f %11.1f %10.0f %6.0f%% %6.0f%%",
	       sz, name, m[0], m[1], m[2], m[3],
	       per_page > 0 ? 100.0 * floor_ns / per_page : 0,
	       per_page > 0 ? 100.0 * mach_ns / per_page : 0);
	/* no destroy-page calls after the shutdown request (sync exports) */
	if (m[4] <= 0)
		printf(" %6.0f %6s %5s %5s %6s", per_page, "-", "-", "-", "-");
	else if (m[5] > 0)
		printf(" %6.0f %6.0f %5.0f %5.0f %5.0f%%", per_page, m[4], m[5],
		       m[6], per_page > m[6] ?
		       100.0 * floor_ns / (per_page - m[6]) : 0);
	else		/* no cost modelled: the UV times no data work */
		printf(" %6.0f %6.0f %5s %5s %6s", per_page, m[4], "-", "-", "-");
	printf(" %8.0f", m[8]);
	if (mode != VMM_DESTROY_SYNC && sync && sync[0] > 0)
		printf("   %6.1fx %7.1fx %7.2fx", m[0] > 0 ? sync[0] / m[0] : 0,
		       m[1] > 0 ? sync[1] / m[1] : 0,
		       sync[8] > 0 ? m[8] / sync[8] : 0);
	printf("\n");
	fflush(stdout);
}

/* One profile's table: every mode at every size, medians of the runs. */
static int bench_profile(const struct bench_opts *o, const char *profile)
{
	struct kvm_params kp;
	struct vmm_host_config hc = { .uv_profile = profile, .kvm = &kp };
	struct vmm_host *host;
	struct vmm_image img;
	void *buf = NULL;
	char err[200];
	double clear, unprot, floor_ns, mach_ns;
	uint64_t cost;
	int r;

	r = kvm_params_init(&kp);
	if (r)
		return r;
	hc.host_mem = bench_table_host_mem(o);
	r = bench_host_create(&hc, &host, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	r = make_image(host, "touch:rounds=1,then=reboot", &buf, &img);
	if (r)
		goto out_host;
	machine_floor(host, &clear, &unprot);
	cost = host->profile.cost_ns[uv_cmd_index(UVC_CMD_DESTR_SEC_STOR)];
	floor_ns = (double)cost + clear;
	mach_ns = floor_ns + unprot;
	if (!o->json) {
		printf("\n== profile %s: destroy-page floor %.0f ns/page = modelled %" PRIu64
		       " ns + 4 KiB clear %.0f ns;\n   with the host-view guard lift"
		       " (batched, %.0f ns): %.0f ns/page\n",
		       host->profile.name, floor_ns, cost, clear, unprot, mach_ns);
		printf("  %-9s %-7s %10s %10s %11s %10s %7s %7s %6s %6s %5s %5s %6s %8s   %7s %8s %8s\n",
		       "guest", "mode", "restart ms", "exit ms", "reclaim ms",
		       "pages/s", "floor", "+lift", "ns/pg", "in UV", "clear",
		       "stall", "-stall", "guest 2", "restart", "exit",
		       "guest 2");
		printf("  %-9s %-7s %10s %10s %11s %10s %7s %7s %6s %6s %5s %5s %6s %8s   %7s %8s %8s\n",
		       "", "", "(median)", "(median)", "(median)", "(cleanup)",
		       "share", "share", "", "", "", "", "share", "ms",
		       "vs sync", "vs sync", "vs sync");
	}
	for (unsigned int si = 0; si < o->nr_sizes && !r; si++) {
		double v[VMM_DESTROY_NR][NR_FIGS][MAX_RUNS];
		double m[VMM_DESTROY_NR][NR_FIGS] = { { 0 } };
		unsigned int got[VMM_DESTROY_NR] = { 0 };

		for (unsigned int run = 0; run < o->runs; run++) {
			for (int mode = 0; mode < VMM_DESTROY_NR; mode++) {
				struct sample s;

				if (!o->modes[mode])
					continue;
				r = one_life(host, &img, o->sizes[si],
					     (enum vmm_destroy_mode)mode, &s);
				if (r)
					goto out_img;
				v[mode][0][got[mode]] = s.restart_ms;
				v[mode][1][got[mode]] = s.exit_ms;
				v[mode][2][got[mode]] = s.reclaim_ms;
				v[mode][3][got[mode]] = s.pages_per_s;
				v[mode][4][got[mode]] = s.uv_ns;
				v[mode][5][got[mode]] = s.data_ns;
				v[mode][6][got[mode]] = s.stall_ns;
				v[mode][7][got[mode]] = s.guest1_ms;
				v[mode][8][got[mode]] = s.guest2_ms;
				v[mode][9][got[mode]] = s.stalled;
				got[mode]++;
			}
		}
		for (int mode = 0; mode < VMM_DESTROY_NR; mode++)
			for (int k = 0; k < NR_FIGS; k++)
				m[mode][k] = median(v[mode][k], got[mode]);
		for (int mode = 0; mode < VMM_DESTROY_NR; mode++)
			if (o->modes[mode])
				print_row(o, host->profile.name, "", o->sizes[si],
					  (enum vmm_destroy_mode)mode, m[mode],
					  m[VMM_DESTROY_SYNC],
					  floor_ns, mach_ns, got[mode]);
	}
out_img:
	free(buf);
out_host:
	vmm_host_destroy(host);
	return r;
}

/* From the first event to the exit, seconds (0 if it never exited). */
static double vmm_run_secs(struct vmm *vmm)
{
	const struct vmm_event *ev;
	size_t nr;

	ev = vmm_events(vmm, &nr);
	for (size_t i = 0; i < nr; i++)
		if (ev[i].type == VMM_EV_EXIT)
			return (double)(ev[i].t_ns - ev[0].t_ns) / 1e9;
	return 0;
}

/* A's exit, seen from its event stream (the callback runs under A's
 * lock: it only flips a flag). */
static struct lpv_mutex oom_a_lock;
static struct lpv_cond oom_a_cond;
static bool oom_a_exited;

static void oom_a_event(void *ctx, const struct vmm_event *ev)
{
	(void)ctx;
	if (ev->type != VMM_EV_EXIT)
		return;
	lpv_mutex_lock(&oom_a_lock);
	oom_a_exited = true;
	lpv_cond_broadcast(&oom_a_cond);
	lpv_mutex_unlock(&oom_a_lock);
}

struct oom_wait_a {
	struct vmm *vmm;
	struct vmm_result res;
	int ret;
};

static void *oom_wait_a_main(void *arg)
{
	struct oom_wait_a *wa = arg;

	wa->ret = vmm_wait(wa->vmm, &wa->res);
	/* An A that failed before exiting must not leave B's starter hanging. */
	oom_a_event(NULL, &(struct vmm_event){ .type = VMM_EV_EXIT });
	return NULL;
}

/*
 * Shut down A, start B at once: each needs most of the host, and A's
 * memory is still being cleaned when B faults its own in.
 */
static int bench_oom_one(const struct bench_opts *o, enum vmm_destroy_mode mode,
			 bool notifier)
{
	struct kvm_params kp;
	struct uv_profile prof;
	struct vmm_host_config hc = { .uv_profile_value = &prof, .kvm = &kp };
	char text[320];
	struct vmm_config vc = { .cpus = 1, .destroy = mode, .max_reboots = 0 };
	struct vmm_result ra, rb;
	double b_secs = 0, a_reclaim = 0;
	struct vmm_host *host;
	struct vmm *a, *b;
	struct vmm_image img;
	struct mm_stats st;
	void *buf = NULL;
	char err[200];
	int r;

	r = kvm_params_init(&kp);
	if (r)
		return r;
	kp.oom_notifier = notifier;
	/*
	 * The default profile with slower page cleaning -- the same cost per
	 * secure page whichever call cleans it (destroy page, export,
	 * DESTROY_SEC_CONF), so that the modes differ only in where the work
	 * runs, not in how much there is; UV storage anywhere: the host is
	 * exactly 1.5x the guest.
	 */
	snprintf(text, sizeof(text), "base = default\nname = oom-bench\n"
		 "cost.destroy_page = %" PRIu64 "ns\ncost.export = %" PRIu64 "ns\n"
		 "destroy_conf_page_ns = %" PRIu64 "ns\ninit_min_origin = 0\n",
		 o->oom_destroy_ns, o->oom_destroy_ns, o->oom_destroy_ns);
	r = uv_profile_parse(text, "oom-bench", &prof, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	hc.host_mem = bench_oom_host_mem(o);
	r = bench_host_create(&hc, &host, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	r = make_image(host, "touch:rounds=1,then=poweroff", &buf, &img);
	if (r)
		goto out_host;
	vc.guest_mem = o->oom_guest;
	vc.image = &img;
	/* A cleanup slower than B's faults takes minutes at this cost. */
	vc.reclaim_timeout_ms = 30 * 60 * 1000;
	vc.on_event = oom_a_event;
	r = vmm_create(host, &vc, &a);
	vc.on_event = NULL;	/* B's exit is none of A's business */
	if (r)
		goto out_img;
	/*
	 * A powers off by itself once its memory is all secure.  Its parent
	 * (a thread of ours) waits for it -- exit, then reclaim -- while B
	 * starts as soon as A's exit is seen, not once its memory is back.
	 */
	{
		struct oom_wait_a wa = { .vmm = a };
		pthread_t t;

		lpv_mutex_init(&oom_a_lock);
		lpv_cond_init(&oom_a_cond);
		oom_a_exited = false;
		r = -pthread_create(&t, NULL, oom_wait_a_main, &wa);
		if (!r) {
			lpv_mutex_lock(&oom_a_lock);
			while (!oom_a_exited)
				lpv_cond_wait(&oom_a_cond, &oom_a_lock);
			lpv_mutex_unlock(&oom_a_lock);
			r = vmm_create(host, &vc, &b);
			if (r)
				fprintf(stderr, "lazypv bench: B: %s\n", strerror(-r));
			if (!r) {
				r = vmm_wait(b, &rb);
				if (r || rb.error)
					fprintf(stderr, "lazypv bench: B: %s (%s)\n",
						strerror(-(r ? r : rb.error)), rb.message);
				b_secs = vmm_run_secs(b);
				vmm_destroy(b);
			}
			pthread_join(t, NULL);
			if (!r)
				r = wa.ret;
			ra = wa.res;
		} else {
			ignore_result(vmm_wait(a, &ra));
		}
		lpv_cond_deinit(&oom_a_cond);
		lpv_mutex_deinit(&oom_a_lock);
	}
	a_reclaim = (double)ra.reclaim_ns / 1e9;
	vmm_destroy(a);
	kvm_module_drain(host->kvm);
	mm_stats_get(host->world, &st);
	if (o->json)
		printf("{\"bench\":\"oom_a_then_b\",\"mode\":\"%s\",\"notifier\":%s,"
		       "\"guest_mem\":%" PRIu64 ",\"host_mem\":%" PRIu64
		       ",\"destroy_page_ns\":%" PRIu64 ",\"oom_kills\":%" PRIu64
		       ",\"oom_waits\":%" PRIu64 ",\"longest_stall_ms\":%.1f,"
		       "\"b_run_s\":%.1f,\"a_reclaim_s\":%.1f,\"b_killed\":%s,"
		       "\"b_exit_code\":%d}\n", vmm_destroy_mode_name(mode),
		       notifier ? "true" : "false", o->oom_guest, hc.host_mem,
		       o->oom_destroy_ns, st.oom_kills, st.oom_waits,
		       (double)st.oom_stall_max_ns / 1e6, b_secs, a_reclaim,
		       !r && rb.killed ? "true" : "false", r ? -1 : rb.exit_code);
	else
		printf("  %-5s %-8s %6" PRIu64 " %8" PRIu64 " %10.1f %9.1f %10.1f   %s\n",
		       vmm_destroy_mode_name(mode),
		       mode == VMM_DESTROY_LAZY ? (notifier ? "on" : "off") : "-",
		       st.oom_kills, st.oom_waits,
		       (double)st.oom_stall_max_ns / 1e6, b_secs, a_reclaim,
		       r ? "B did not complete (see stderr)" :
		       rb.killed ? "B was OOM-killed" :
		       rb.exit_code ? "B failed" : "B ran to completion");
	r = 0;
out_img:
	free(buf);
out_host:
	vmm_host_destroy(host);
	return r;
}

static const struct bench_opts bench_defaults = {
	.sizes = { 1ULL << 30, 4ULL << 30, 8ULL << 30 },
	.nr_sizes = 3,
	/* every mode of KVM_DESTROY_MODES */
	.modes = { [0 ... VMM_DESTROY_NR - 1] = true },
	.profiles = { "default", "zero" },
	.nr_profiles = 2,
	.runs = 3,
	.oom_guest = 512ULL << 20,
	.oom_destroy_ns = 200000,
};

/* Options and everything checkable before the first host is populated:
 * the exit status to end with now, or -1 to go ahead. */
static int bench_args(int argc, char **argv, struct bench_opts *o)
{
	*o = bench_defaults;
	if (bench_parse(argc, argv, o))
		return 0;
	return bench_validate(o) ? 2 : -1;
}

int cmd_bench_args(int argc, char **argv)
{
	struct bench_opts o;
	int status = bench_args(argc, argv, &o);

	free(o.profiles_buf);
	return status;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o;
	char sz[32];
	int r = 0, damon;

	r = bench_args(argc, argv, &o);
	if (r >= 0) {
		free(o.profiles_buf);
		return r;
	}
	r = 0;
	if (!o.json) {
		printf("lazypv bench: sizes");
		for (unsigned int i = 0; i < o.nr_sizes; i++)
			printf(" %s", lpv_format_size(o.sizes[i], sz, sizeof(sz)));
		printf(", %u run%s each, medians; touch program, 1 vCPU\n",
		       o.runs, o.runs == 1 ? "" : "s");
	}
	damon = bench_damon_running();
	if (damon >= 0)
		fprintf(o.json ? stderr : stdout,
			"note: DAMON is on in this kernel (kdamond %d): its sampling and\n"
			"  reclaim change the page tables of idle memory; the \"stall\"\n"
			"  columns measure what that costs the UV's clears in this run\n",
			damon);
	for (unsigned int p = 0; !o.oom_only && p < o.nr_profiles && !r; p++)
		r = bench_profile(&o, o.profiles[p]);
	if (!r && o.oom) {
		if (!o.json) {
			printf("\n== shut down A, start B at once (%s guests, host 1.5x; "
			       "default profile, %" PRIu64 " ns to clean a page)\n",
			       lpv_format_size(o.oom_guest, sz, sizeof(sz)),
			       o.oom_destroy_ns);
			printf("  %-5s %-8s %6s %8s %10s %9s %10s\n", "mode",
			       "notifier", "kills", "waits", "stall ms", "B run s",
			       "A reclaim s");
			printf("  %-5s %-8s %6s %8s %10s %9s %10s\n", "", "",
			       "", "", "(longest)", "", "");
		}
		for (int mode = 0; mode < VMM_DESTROY_NR && !r; mode++) {
			if (!o.modes[mode])
				continue;
			r = bench_oom_one(&o, (enum vmm_destroy_mode)mode, true);
			if (!r && mode == VMM_DESTROY_LAZY)
				r = bench_oom_one(&o, VMM_DESTROY_LAZY, false);
		}
	}
	if (r)
		fprintf(stderr, "lazypv bench: %s\n", strerror(-r));
	free(o.profiles_buf);
	return r ? 1 : 0;
}
