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
 * --oom adds "shut down A, start B at once" with memory R x a guest
 * (--oom-host-ratio, 1.25): the host's, or one memcg both VMMs are in
 * (--oom-pressure host,memcg), counting OOM kills, waits, notifier waits,
 * the memcg's OOM path entries and the longest allocation stall per mode
 * (lazy with and without its OOM notifier).  --scaling adds instant's
 * cleanup after a shutdown against its number of workers (a populated
 * host per count: a module parameter), per-worker throughput against the
 * same floor, the speed-up over one worker, and an Amdahl projection for
 * 8 and 64 cores computed from the 1- and 2-worker medians -- printed as
 * a projection, not a measurement.  Every figure of a row is declared
 * once, in BENCH_FIGS (BENCH_OOM_FIGS, BENCH_SCALING_FIGS,
 * BENCH_PROJ_FIGS): the text columns, the JSON keys, the CSV columns and
 * `--figures` come from those lists.  Hosts are populated up front, with
 * a progress line on a terminal.  Timings are never asserted.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_host.h"
#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "damon.h"
#include "wakeup.h"
#include "monitor.h"
#include "plot.h"
#include "tools.h"

#define MAX_SIZES 8
#define MAX_RUNS 15
#define MAX_PROFILES 4

/*
 * The figures of one row of the teardown table, declared once: this list
 * makes the figure enum, the text table's columns, the JSON keys, the CSV
 * columns and `--figures` (which the tests read to know what a row must
 * hold).  X(id, key, unit, head1, head2, width, prec, how, meaning):
 *   head1/head2: the text column's two header lines; width 0: not in the
 *     text table (JSON and CSV only);
 *   how: RUN, the median of the runs that measured it (a run that could
 *     not is left out; none could: null); ROW, from the row's medians (and
 *     the sync row's of the same size) by bench_row_derive().
 * Units "%" and "x" print with that suffix in the text table.
 */
#define BENCH_FIGS(X)							\
	X(restart_ms, "restart_ms", "ms", "restart ms", "(median)", 10, 1, RUN, \
	  "restart latency: reboot request -> first instruction of the new protected guest") \
	X(unpack_ms, "unpack_ms", "ms", "unpack", "ms", 7, 1, RUN,	\
	  "of the restart: the new guest's image unpacked and verified (UNPACK, VERIFY)") \
	X(exit_ms, "exit_ms", "ms", "exit ms", "(median)", 10, 1, RUN,	\
	  "exit latency: shutdown request -> the parent's wait returns") \
	X(reclaim_ms, "reclaim_ms", "ms", "reclaim ms", "(median)", 11, 1, RUN, \
	  "shutdown request -> every frame free and uncharged")		\
	X(pages_per_s, "cleanup_pages_per_s", "pages/s", "pages/s", "(cleanup)", 10, 0, RUN, \
	  "frames reclaimed over the reclaim time")			\
	X(floor_share, "floor_share", "%", "floor", "share", 7, 0, ROW,	\
	  "the profile's destroy-page floor (modelled cost + a 4 KiB clear measured now) over ns_per_page") \
	X(lift_share, "floor_lift_share", "%", "+lift", "share", 7, 0, ROW, \
	  "the floor with the host-view guard lift over ns_per_page")	\
	X(ns_per_page, "ns_per_page", "ns", "ns/pg", "", 6, 0, ROW,	\
	  "reclaim time per page (1e9 / cleanup_pages_per_s)")		\
	X(uv_ns, "uv_destroy_call_ns", "ns", "in UV", "", 6, 0, RUN,	\
	  "mean wall time of a destroy-page call from the shutdown request on (null: no such calls)") \
	X(clear_ns, "uv_destroy_clear_ns", "ns", "clear", "", 5, 0, RUN, \
	  "of which the page clear (null: no cost modelled)")		\
	X(stall_ns, "uv_destroy_stall_ns", "ns", "stall", "", 5, 0, RUN, \
	  "of which the clears' stalls beyond an ordinary first access") \
	X(stall_free_share, "stall_free_share", "%", "-stall", "share", 6, 0, ROW, \
	  "floor_share with the stalls' time taken out")		\
	X(guest2_ms, "guest2_ms", "ms", "guest 2", "ms", 8, 0, RUN,	\
	  "the rebooted guest's pass over its memory (beside the cleanup for lazy/async)") \
	X(restart_vs_sync, "restart_vs_sync", "x", "restart", "vs sync", 9, 1, ROW, \
	  "sync's restart_ms over this mode's")				\
	X(exit_vs_sync, "exit_vs_sync", "x", "exit", "vs sync", 8, 1, ROW, \
	  "sync's exit_ms over this mode's")				\
	X(guest2_vs_sync, "guest2_vs_sync", "x", "guest 2", "vs sync", 8, 2, ROW, \
	  "this mode's guest2_ms over sync's (the guest slowdown)")	\
	X(guest1_ms, "guest1_ms", "ms", "", "", 0, 1, RUN,		\
	  "the first guest's pass over its memory")			\
	X(stalled, "uv_destroy_stalled", "fraction", "", "", 0, 4, RUN,	\
	  "share of those destroy-page calls whose first access stalled")

enum bench_fig {
#define BENCH_FIG_ENUM(id, ...) BF_##id,
	BENCH_FIGS(BENCH_FIG_ENUM)
#undef BENCH_FIG_ENUM
	BF_NR
};

enum bench_how { RUN, ROW };

struct bench_fig_desc {
	const char *key, *unit, *head1, *head2, *meaning;
	int width, prec;
	enum bench_how how;
};

static const struct bench_fig_desc bench_figs[BF_NR] = {
#define BENCH_FIG_DESC(id, k, u, h1, h2, w, p, hw, m) \
	[BF_##id] = { .key = k, .unit = u, .head1 = h1, .head2 = h2, \
		      .meaning = m, .width = w, .prec = p, .how = hw },
	BENCH_FIGS(BENCH_FIG_DESC)
#undef BENCH_FIG_DESC
};

/*
 * The columns of the --oom experiment's table (one row per pressure, mode
 * and notifier setting), the same way: X(id, key, unit, head1, head2,
 * width, prec, meaning); every figure is that run's (its own host).
 */
#define BENCH_OOM_FIGS(X)						\
	X(kills, "oom_kills", "", "kills", "", 6, 0,			\
	  "tasks the OOM killer took (B, or a task holding A's memory)") \
	X(waits, "oom_waits", "", "waits", "", 8, 0,			\
	  "allocations that waited in the OOM path (global or memcg)") \
	X(stall_ms, "longest_stall_ms", "ms", "stall ms", "(longest)", 10, 1, \
	  "the longest allocation stall in the OOM path")		\
	X(stall_p99_ms, "stall_p99_ms", "ms", "stall ms", "(p99)", 9, 2, \
	  "the allocation stall 99 % of the stalls did not exceed (mm's histogram: the bound of its bucket, at most 25 % above)") \
	X(stall_p50_ms, "stall_p50_ms", "ms", "", "", 0, 2,		\
	  "the median allocation stall, the same way")			\
	X(wake_max_ms, "wakeup_max_ms", "ms", "wake ms", "(max)", 8, 1, \
	  "the machine, not lazypv: the longest overshoot of a probe thread's 1 ms sleep during the experiment (bench/wakeup.c) -- the scheduling delay any woken thread met") \
	X(wake_p99_ms, "wakeup_p99_ms", "ms", "", "", 0, 2,		\
	  "the probe's 99th percentile overshoot")			\
	X(wake_over_5ms, "wakeups_over_5ms", "", "", "", 0, 0,		\
	  "the probe's wake-ups more than 5 ms late")			\
	X(notifier_waits, "notifier_waits", "", "notif", "waits", 7, 0, \
	  "OOM notifier calls that waited for a cleanup (lazy's notifier_waits + instant's oom_waits)") \
	X(memcg_ooms, "memcg_oom_runs", "", "memcg", "OOMs", 7, 0,	\
	  "OOM path entries of the shared memcg (null under host pressure)") \
	X(b_run_s, "b_run_s", "s", "B run s", "", 9, 1,		\
	  "B's life: first event -> exit")				\
	X(a_reclaim_s, "a_reclaim_s", "s", "A reclaim s", "", 11, 1,	\
	  "A's reclaim: shutdown request -> every frame back (shared memcg: A's address space torn down, nothing set aside)") \
	X(oom_runs, "oom_runs", "", "", "", 0, 0,			\
	  "OOM path entries, global and memcg")			\
	X(limit_hits, "memcg_limit_hits", "", "", "", 0, 0,		\
	  "charges the shared memcg's limit refused (null under host pressure)") \
	X(b_exit_code, "b_exit_code", "", "", "", 0, 0,		\
	  "B's exit code (-1: it did not complete)")

/*
 * The columns of the --scaling experiment's table (one row per number of
 * instant workers), the same way as BENCH_FIGS: X(id, key, unit, head1,
 * head2, width, prec, how, meaning).
 */
#define BENCH_SCALING_FIGS(X)						\
	X(reclaim_ms, "reclaim_ms", "ms", "reclaim ms", "(median)", 11, 1, RUN, \
	  "shutdown request -> every frame free and uncharged")		\
	X(pages_per_s, "cleanup_pages_per_s", "pages/s", "pages/s", "(cleanup)", 10, 0, RUN, \
	  "frames reclaimed over the reclaim time")			\
	X(per_worker, "pages_per_s_per_worker", "pages/s", "pages/s", "/worker", 9, 0, ROW, \
	  "cleanup_pages_per_s / workers")				\
	X(worker_share, "worker_floor_share", "%", "floor", "share", 7, 0, ROW, \
	  "one worker's throughput against the destroy-page floor of the same host (modelled cost + a 4 KiB clear measured now): floor_ns_per_page x pages_per_s_per_worker / 1e9") \
	X(speedup, "speedup", "x", "speed-up", "vs 1", 9, 2, ROW,	\
	  "reclaim_ms with 1 worker over this row's (null without a 1-worker row)") \
	X(cpu_ns, "worker_cpu_ns_per_page", "ns", "CPU ns", "per page", 9, 0, RUN, \
	  "the workers' CPU time (kvm instant_cpu_ns) per page they destroyed") \
	X(exit_ms, "exit_ms", "ms", "exit ms", "(median)", 9, 2, RUN,	\
	  "exit latency: shutdown request -> the parent's wait returns")

enum bench_scaling_fig {
#define BENCH_SCALING_ENUM(id, ...) BS_##id,
	BENCH_SCALING_FIGS(BENCH_SCALING_ENUM)
#undef BENCH_SCALING_ENUM
	BS_NR
};

#define BENCH_SCALING_DESC(id, k, u, h1, h2, w, p, hw, m) \
	[BS_##id] = { .key = k, .unit = u, .head1 = h1, .head2 = h2, \
		      .meaning = m, .width = w, .prec = p, .how = hw },
static const struct bench_fig_desc bench_scaling_figs[BS_NR] = {
	BENCH_SCALING_FIGS(BENCH_SCALING_DESC)
};
#undef BENCH_SCALING_DESC

/*
 * The projection after the --scaling table, for 8 and 64 cores: not
 * measured, derived from the 1- and 2-worker medians by Amdahl's law.
 */
#define BENCH_PROJ_FIGS(X)						\
	X(serial, "serial_fraction", "fraction", "serial", "fraction", 9, 3, ROW, \
	  "s = 2 x reclaim_ms(2 workers) / reclaim_ms(1) - 1, clamped to [0, 1]: the share of the 1-worker time that a second worker did not shorten") \
	X(speedup, "speedup", "x", "speed-up", "vs 1", 9, 2, ROW,	\
	  "1 / (s + (1 - s) / n) for n workers on n cores")		\
	X(reclaim_ms, "reclaim_ms", "ms", "reclaim ms", "(projected)", 12, 1, ROW, \
	  "reclaim_ms(1) x (s + (1 - s) / n)")				\
	X(pages_per_s, "cleanup_pages_per_s", "pages/s", "pages/s", "(projected)", 12, 0, ROW, \
	  "cleanup_pages_per_s(1) x speedup")

enum bench_proj_fig {
#define BENCH_PROJ_ENUM(id, ...) BP_##id,
	BENCH_PROJ_FIGS(BENCH_PROJ_ENUM)
#undef BENCH_PROJ_ENUM
	BP_NR
};

#define BENCH_PROJ_DESC(id, k, u, h1, h2, w, p, hw, m) \
	[BP_##id] = { .key = k, .unit = u, .head1 = h1, .head2 = h2, \
		      .meaning = m, .width = w, .prec = p, .how = hw },
static const struct bench_fig_desc bench_proj_figs[BP_NR] = {
	BENCH_PROJ_FIGS(BENCH_PROJ_DESC)
};
#undef BENCH_PROJ_DESC

#define MAX_SCALING 16

/* Where --oom's memory is short: a small host, or one memcg for both. */
enum bench_pressure { BENCH_PRESSURE_HOST, BENCH_PRESSURE_MEMCG,
		      BENCH_PRESSURE_NR };

static const char *bench_pressure_name(unsigned int i)
{
	static const char *const names[] = { "host", "memcg" };

	return i < BENCH_PRESSURE_NR ? names[i] : NULL;
}

enum bench_oom_fig {
#define BENCH_OOM_ENUM(id, ...) BO_##id,
	BENCH_OOM_FIGS(BENCH_OOM_ENUM)
#undef BENCH_OOM_ENUM
	BO_NR
};

static const struct bench_fig_desc bench_oom_figs[BO_NR] = {
#define BENCH_OOM_DESC(id, k, u, h1, h2, w, p, m) \
	[BO_##id] = { .key = k, .unit = u, .head1 = h1, .head2 = h2, \
		      .meaning = m, .width = w, .prec = p, .how = RUN },
	BENCH_OOM_FIGS(BENCH_OOM_DESC)
#undef BENCH_OOM_DESC
};

#define MAX_SIZES 8
#define MAX_RUNS 15
#define MAX_PROFILES 4

enum bench_format { BENCH_TEXT, BENCH_JSON, BENCH_CSV };

struct bench_opts {
	uint64_t sizes[MAX_SIZES];
	unsigned int nr_sizes;
	bool modes[LPV_TEARDOWN_MODES];
	const char *profiles[MAX_PROFILES];	/* point into cl's copies */
	unsigned int nr_profiles;
	unsigned int runs;
	bool oom, json, csv, quick, figures, quiet;
	bool oom_only;		/* skip the tables */
	const char *plot_dir;	/* --plot */
	uint64_t oom_guest;
	uint64_t oom_destroy_ns; /* modelled per-page cleaning cost of --oom */
	const char *oom_ratio_text;	/* --oom-host-ratio as typed */
	double oom_ratio;		/* parsed */
	bool pressures[BENCH_PRESSURE_NR];
	bool scaling, scaling_only;
	uint64_t scaling_guest;
	uint64_t scaling_workers[MAX_SCALING];
	unsigned int nr_scaling_workers;
	bool no_tables;		/* --oom-only, --scaling-only */
	enum bench_format format;
	struct lpv_cl_result cl;
};

/* The number of the mode named @name (one the library always has). */
static unsigned int bench_mode(const char *name)
{
	int m = tool_mode_index(name);

	BUG_ON(m < 0);
	return (unsigned int)m;
}

/* One VMM life's figures (the RUN ones; NAN: not measured). */
struct sample {
	double fig[BF_NR];
	uint64_t frames;
	int ok;
};

#define O(field) LPV_CL_FIELD(struct bench_opts, field)
static const struct lpv_cl_opt bench_opt_tab[] = {
	{ .name = "sizes", .kind = LPV_CL_LIST, .item = LPV_CL_SIZE, O(sizes),
	  .count_off = offsetof(struct bench_opts, nr_sizes), .max_items = MAX_SIZES,
	  .min = 1ULL << 20, .align = 1ULL << 20,
	  .help = "guest sizes" },
	{ .name = "modes", .kind = LPV_CL_LIST, .item = LPV_CL_ENUM, O(modes),
	  .name_of = tool_destroy_name, .nr = LPV_TEARDOWN_MODES,
	  .help = "teardown modes" },
	{ .name = "profiles", .kind = LPV_CL_LIST, .item = LPV_CL_STRING, O(profiles),
	  .count_off = offsetof(struct bench_opts, nr_profiles),
	  .max_items = MAX_PROFILES,
	  .help = "firmware profiles (names or files)" },
	{ .name = "runs", .kind = LPV_CL_UINT, O(runs), .min = 1, .max = MAX_RUNS,
	  .help = "runs per figure" },
	{ .name = "oom", .kind = LPV_CL_FLAG, O(oom),
	  .help = "also: shut down A, start B at once, memory short (--oom-pressure)" },
	{ .name = "oom-only", .kind = LPV_CL_FLAG, O(oom_only),
	  .help = "run only that experiment" },
	{ .name = "oom-guest", .kind = LPV_CL_SIZE, O(oom_guest),
	  .min = 64ULL << 20, .align = 1ULL << 20,
	  .help = "guest size of that experiment (the UV's storage anywhere in the host)" },
	{ .name = "oom-host-ratio", .kind = LPV_CL_STRING, O(oom_ratio_text),
	  .metavar = "R",
	  .help = "memory there, as a multiple of a guest (1.1 to 4): the host's under host pressure, the shared memcg's limit under memcg pressure" },
	{ .name = "oom-pressure", .kind = LPV_CL_LIST, .item = LPV_CL_ENUM,
	  O(pressures), .name_of = bench_pressure_name, .nr = BENCH_PRESSURE_NR,
	  .help = "where memory is short: host (host memory R x a guest) and/or memcg (A and B in one memcg limited to R x a guest, the host R + 0.5 x)" },
	{ .name = "oom-destroy-cost", .kind = LPV_CL_UINT, O(oom_destroy_ns),
	  .max = 1000000000ULL, .metavar = "NS",
	  .help = "the cost modelled there to clean a secure page, by destroy page, export or DESTROY_SEC_CONF: a cleanup slower than the next guest's faults (~20-75 us a page on the development machine while a cleanup runs), the case IBM's docs warn about" },
	{ .name = "scaling", .kind = LPV_CL_FLAG, O(scaling),
	  .help = "also: instant's cleanup after a shutdown with 1, 2, ... workers (instant_workers; a host each), medians of --runs, and the Amdahl projection for 8 and 64 cores" },
	{ .name = "scaling-only", .kind = LPV_CL_FLAG, O(scaling_only),
	  .help = "run only that experiment (with --oom-only: both, no tables)" },
	{ .name = "scaling-guest", .kind = LPV_CL_SIZE, O(scaling_guest),
	  .min = 16ULL << 20, .align = 1ULL << 20,
	  .help = "guest size of that experiment (host: the guest + 1G, + 256M below 1G)" },
	{ .name = "scaling-workers", .kind = LPV_CL_LIST, .item = LPV_CL_UINT,
	  O(scaling_workers), .count_off = offsetof(struct bench_opts, nr_scaling_workers),
	  .max_items = MAX_SCALING, .min = 1, .max = 64, .def = "1..cores+1",
	  .help = "the worker counts there" },
	{ .name = "quick", .kind = LPV_CL_FLAG, O(quick),
	  .help = "a smoke run: --sizes 256M,1G --runs 1 --profiles default, unless given" },
	{ .name = "json", .kind = LPV_CL_FLAG, O(json),
	  .help = "one JSON object per row" },
	{ .name = "csv", .kind = LPV_CL_FLAG, O(csv),
	  .help = "CSV: each table a header line, then its rows; tables apart by an empty line" },
	{ .name = "plot", .kind = LPV_CL_STRING, O(plot_dir), .metavar = "DIR",
	  .help = "draw into DIR (made if missing), per profile: latency-PROFILE.png (restart and exit latency against guest size per mode, log scales) and pending-PROFILE.png (memory still to clean against time after the shutdown of the largest guest, per mode), beside their data and gnuplot script" },
	{ .name = "quiet", .kind = LPV_CL_FLAG, O(quiet),
	  .help = "no progress line on stderr (there is none unless stderr is a terminal)" },
	{ .name = "figures", .kind = LPV_CL_FLAG, O(figures),
	  .help = "print what each figure of a row means (with --json: one object per figure) and exit" },
};
#undef O

static const struct bench_opts bench_defaults = {
	.sizes = { 1ULL << 30, 4ULL << 30, 8ULL << 30 },
	.nr_sizes = 3,
	/* every mode of KVM_DESTROY_MODES */
	.modes = { [0 ... LPV_TEARDOWN_MODES - 1] = true },
	.profiles = { "default", "zero" },
	.nr_profiles = 2,
	.runs = 3,
	.oom_guest = 512ULL << 20,
	.oom_destroy_ns = 200000,
	.oom_ratio_text = "1.25",
	.pressures = { [0 ... BENCH_PRESSURE_NR - 1] = true },
	.scaling_guest = 1ULL << 30,
};

const struct lpv_cl_cmd cmd_bench_cl = {
	.prog = "lazypv",
	.name = "bench",
	.summary = "measure the teardown designs side by side (medians, ratios)",
	.description =
		"Measure restart latency, exit latency, reclaim time and cleanup\n"
		"throughput of the teardown designs, medians of N runs, beside the\n"
		"page-clear cost and the firmware profile's per-page floor measured in\n"
		"the same run.  Every page of each guest is made secure first.\n",
	.notes =
		"Per row, beside the latencies: the floor share (floor / per-page\n"
		"reclaim), ns/pg, the destroy-page call's time in the UV, its clear,\n"
		"the clear's stalls (first accesses to a frame the hypervisor below\n"
		"had taken away, beyond an ordinary one) and the share without them;\n"
		"the rebooted guest's pass over its memory (\"guest 2\": beside the\n"
		"cleanup for lazy/async) and its slowdown against sync's.\n"
		"--oom: shut down A, start B at once with memory short (host or\n"
		"memcg); --scaling: instant's cleanup against its worker count and\n"
		"the Amdahl projection for 8 and 64 cores (computed, not measured).\n"
		"'lazypv bench --figures' lists every figure; docs/bench.md explains\n"
		"each.\n"
		"\n"
		"Large sizes need memory (8G guests: a 9 GiB host) and time: the\n"
		"default set takes about 45 minutes on 2 cores.\n",
	.opts = bench_opt_tab,
	.nr_opts = ARRAY_SIZE(bench_opt_tab),
	.defaults = &bench_defaults,
};

/* Options: true after --help (printed). */
static bool bench_parse(int argc, char **argv, struct bench_opts *o)
{
	const struct lpv_cl_cmd *cl = &cmd_bench_cl;

	if (tool_parse_options(cl, argc, argv, o, &o->cl))
		return true;
	if (o->json && o->csv)
		tool_usage_error("bench", "--json and --csv exclude each other");
	if (o->plot_dir && (!*o->plot_dir || !plot_path_ok(o->plot_dir)))
		tool_usage_error("bench", "--plot takes a directory name without quotes or newlines");
	if (o->plot_dir)
		tool_check_output_dir("bench", "--plot", o->plot_dir);
	o->format = o->json ? BENCH_JSON : o->csv ? BENCH_CSV : BENCH_TEXT;
	if (o->quick) {
		if (!lpv_cl_given(cl, &o->cl, "sizes")) {
			o->sizes[0] = 256ULL << 20;
			o->sizes[1] = 1ULL << 30;
			o->nr_sizes = 2;
		}
		if (!lpv_cl_given(cl, &o->cl, "runs"))
			o->runs = 1;
		if (!lpv_cl_given(cl, &o->cl, "profiles")) {
			o->profiles[0] = "default";
			o->nr_profiles = 1;
		}
	}
	if (o->oom_only)
		o->oom = true;
	if (o->scaling_only)
		o->scaling = true;
	o->no_tables = o->oom_only || o->scaling_only;
	if (!o->nr_scaling_workers) {
		/* 1 .. cores and one above; on many cores the powers of 2
		 * below the count, the count and one above. */
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		uint64_t n = cores < 1 ? 1 : cores > 63 ? 63 : (uint64_t)cores;

		for (uint64_t k = 1; k < n; k = n < MAX_SCALING ? k + 1 : 2 * k)
			o->scaling_workers[o->nr_scaling_workers++] = k;
		o->scaling_workers[o->nr_scaling_workers++] = n;
		o->scaling_workers[o->nr_scaling_workers++] = n + 1;
	}
	{
		char *end;

		o->oom_ratio = strtod(o->oom_ratio_text, &end);
		if (end == o->oom_ratio_text || *end || !(o->oom_ratio >= 1.1) ||
		    !(o->oom_ratio <= 4.0))
			tool_usage_error("bench", "--oom-host-ratio: '%s' is not a number from 1.1 to 4",
					 o->oom_ratio_text);
	}
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

/* R x the guest, page-aligned. */
static uint64_t bench_oom_ratio_mem(const struct bench_opts *o, double r)
{
	return (uint64_t)((double)o->oom_guest * r) & HW_PAGE_MASK;
}

/* The shared memcg's limit under memcg pressure: R x the guest. */
static uint64_t bench_oom_memcg_limit(const struct bench_opts *o)
{
	return bench_oom_ratio_mem(o, o->oom_ratio);
}

/*
 * The host of --oom (UV storage anywhere): exactly R x the guest under
 * host pressure; under memcg pressure half a guest more than the memcg's
 * limit, so that the host never runs short before the memcg does.
 */
static uint64_t bench_oom_host_mem(const struct bench_opts *o,
				   enum bench_pressure pr)
{
	return bench_oom_ratio_mem(o, pr == BENCH_PRESSURE_MEMCG ?
				   o->oom_ratio + 0.5 : o->oom_ratio);
}

/* The host of --scaling: the guest and room for the floor's span, the
 * UV's storage anywhere. */
static uint64_t bench_scaling_host_mem(const struct bench_opts *o)
{
	return o->scaling_guest +
	       (o->scaling_guest >= (1ULL << 30) ? 1ULL << 30 : 256ULL << 20);
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
	uint64_t table = bench_table_host_mem(o), oom = 0;
	uint64_t backable = host_backable_bytes();
	struct host_config hc;
	struct uv_profile prof;
	char a[32], b[32], c[32];

	if (host_config_init(&hc))
		return -EINVAL;	/* the message named the variable */
	for (int pr = 0; pr < BENCH_PRESSURE_NR; pr++)
		if (o->pressures[pr] &&
		    bench_oom_host_mem(o, (enum bench_pressure)pr) > oom)
			oom = bench_oom_host_mem(o, (enum bench_pressure)pr);
	for (unsigned int p = 0; !o->no_tables && p < o->nr_profiles; p++) {
		char item[48];

		snprintf(item, sizeof(item), "--profiles: item %u", p + 1);
		tool_profile_load("bench", item, o->profiles[p], &prof);
		if (!host_profile_init_fits(&prof, table))
			tool_usage_error("bench", "--profiles: item %u: profile '%s' wants the UV's %s of storage above %s (init_min_origin), beyond the %s host of --sizes",
					 p + 1, o->profiles[p],
					 lpv_format_size(prof.uv_base_stor_len, a, sizeof(a)),
					 lpv_format_size(prof.init_min_origin, b, sizeof(b)),
					 lpv_format_size(table, c, sizeof(c)));
	}
	if (!o->no_tables && backable && table > backable)
		tool_usage_error("bench", "--sizes: the largest needs a %s host, out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(table, a, sizeof(a)),
				 lpv_format_size(backable, b, sizeof(b)));
	if (o->scaling && backable && bench_scaling_host_mem(o) > backable)
		tool_usage_error("bench", "--scaling-guest: needs a %s host, out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(bench_scaling_host_mem(o), a, sizeof(a)),
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

/* The median of the values of @v[0..n) that are not NAN (NAN: none). */
static double median(double *v, unsigned int n)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[k++] = v[i];
	if (!k)
		return NAN;
	qsort(v, k, sizeof(*v), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
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

/* The UV's destroy-page counters and the probe's at a life's shutdown
 * request (under the VMM's lock: these only read counters). */
struct life_mark {
	struct host *host;
	struct uv_cmd_stats at_shutdown;
	struct hw_stats hw_at_shutdown;
	bool marked;
};

/*
 * What runs beside the measurements: the monitor (signals, the progress
 * line, samples for --plot), the VMM living now (lock), whether a signal
 * asked to stop (lock), and the count of lives for the progress line
 * (main thread).
 */
static struct {
	pthread_mutex_t lock;
	struct monitor *mon;
	struct lpv_vm *vm;
	bool stop;
	bool json;		/* --json: the abandon's object on stdout */
	unsigned int lives_done, lives_total;
} bench_ui = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * A host whose memory is populated up front: the first touch of memfd
 * memory (about 2 s/GiB on a nested VM) is a cost of this emulation, not of
 * any teardown design, and would otherwise land on whichever run first
 * uses a frame.  The hw first-touch probe is on.
 */
static int bench_host_create(struct host_config *hc, struct host **host)
{
	char sz[32];
	uint64_t t0 = lpv_now_ns();
	int r;

	hc->populate = true;
	/* The progress line, and the time it took after it: a terminal
	 * only, not --quiet; nothing on a pipe or a file. */
	hc->populate_progress = monitor_populate_progress;
	hc->populate_ctx = bench_ui.mon;
	r = tool_host_create(hc, host, "bench");
	if (r)
		return -EINVAL;
	monitor_note(bench_ui.mon, "lazypv bench: populated %s of host memory in %.1f s\n",
		     lpv_format_size(hc->mem_bytes, sz, sizeof(sz)),
		     (double)(lpv_now_ns() - t0) / 1e9);
	/* The stall columns: the machine's first touches, timed by hw. */
	host_probe_first_touch(*host, true);
	return 0;
}

/* The first SIGINT/SIGTERM: end the running guest, start no more. */
static void bench_on_signal(void *ctx, int signo)
{
	(void)ctx;
	(void)signo;
	pthread_mutex_lock(&bench_ui.lock);
	bench_ui.stop = true;
	if (bench_ui.vm)
		ignore_result(lpv_vm_shutdown(bench_ui.vm));
	pthread_mutex_unlock(&bench_ui.lock);
}

/*
 * The second: what is given up, on stderr, and with --json one
 * {"event":"abandoned",...} object as the last line of stdout (which
 * stays locked: the monitor exits next); the rows above are the summary.
 */
static void bench_on_abandon(void *ctx, int signo)
{
	struct lpv_progress p = { 0 };
	const char *sig = sigabbrev_np(signo) ? sigabbrev_np(signo) : "?";
	char a[32];

	(void)ctx;
	pthread_mutex_lock(&bench_ui.lock);
	if (bench_ui.vm)
		ignore_result(lpv_vm_progress(bench_ui.vm, &p));
	pthread_mutex_unlock(&bench_ui.lock);
	/* Never given back: all that is charged, or what is pending. */
	if (p.in_use_bytes > p.pending_bytes)
		p.pending_bytes = p.in_use_bytes;
	/* stderr first: stdout may be a pipe nobody reads. */
	fprintf(stderr, "lazypv bench: %s again: cleanup abandoned, %s still to clean (%" PRIu64 " frames counted as leaked); the rows above are the runs measured before it\n",
		strsignal(signo), lpv_format_size(p.pending_bytes, a, sizeof(a)),
		p.pending_bytes / LPV_PAGE_SIZE);
	flockfile(stdout);
	if (bench_ui.json)
		tool_json_print(stdout, json_pack("{s:s, s:s, s:I, s:I}",
			"event", "abandoned", "signal", sig,
			"to_clean_bytes", (json_int_t)p.pending_bytes,
			"leaked_frames", (json_int_t)(p.pending_bytes / LPV_PAGE_SIZE)));
	fflush(stdout);
}

static bool bench_stopped(void)
{
	bool stop;

	pthread_mutex_lock(&bench_ui.lock);
	stop = bench_ui.stop;
	pthread_mutex_unlock(&bench_ui.lock);
	return stop;
}

/* The VM living now (NULL before lpv_vm_destroy), shown and sampled. */
static void bench_watch(struct lpv_vm *vm, const char *label)
{
	pthread_mutex_lock(&bench_ui.lock);
	bench_ui.vm = vm;
	if (vm && bench_ui.stop)
		ignore_result(lpv_vm_shutdown(vm));
	pthread_mutex_unlock(&bench_ui.lock);
	if (bench_ui.mon)
		monitor_watch(bench_ui.mon, vm, label);
}

/* A cleaned-up VM's timeline, malloc'd (NULL, *nr 0: none). */
static struct lpv_event *bench_timeline(struct lpv_vm *vm, size_t *nr)
{
	long n = lpv_vm_timeline(vm, NULL, 0);
	struct lpv_event *ev = n > 0 ? calloc((size_t)n, sizeof(*ev)) : NULL;

	*nr = 0;
	if (ev && lpv_vm_timeline(vm, ev, (size_t)n) == n)
		*nr = (size_t)n;
	return ev;
}

/* --plot: memory still to clean from the shutdown request of the life
 * whose timeline is @ev on, out of the monitor's samples of it. */
static void bench_keep_pending(const struct lpv_event *ev, size_t nr_ev,
			       struct plot_pending *pend)
{
	const double mib = 1024.0 * 1024.0;
	struct monitor_sample *s;
	uint64_t t0 = 0, t_end = 0, before = 0;
	size_t nr, n = 0;

	if (!bench_ui.mon)
		return;
	for (size_t i = 0; i < nr_ev; i++) {
		if (ev[i].type == LPV_EVENT_SHUTDOWN && !t0)
			t0 = ev[i].t_ns;
		if (ev[i].type == LPV_EVENT_CLEANUP_DONE && !ev[i].code)
			t_end = ev[i].t_ns;
	}
	s = monitor_samples(bench_ui.mon, &nr);
	free(pend->t_s);
	free(pend->mib);
	/* The samples after the request, between its two ends: all the
	 * memory in use at the request, and nothing left at the reclaim. */
	pend->t_s = calloc(nr + 2, sizeof(double));
	pend->mib = calloc(nr + 2, sizeof(double));
	if (s && pend->t_s && pend->mib && t0) {
		for (size_t i = 0; i < nr && s[i].t_ns < t0; i++)
			before = s[i].in_use_bytes;
		pend->mib[n++] = (double)before / mib;
		for (size_t i = 0; i < nr; i++) {
			if (s[i].t_ns < t0 || (t_end && s[i].t_ns > t_end))
				continue;
			pend->t_s[n] = (double)(s[i].t_ns - t0) / 1e9;
			pend->mib[n++] = (double)s[i].to_clean_bytes / mib;
		}
		if (t_end) {
			pend->t_s[n] = (double)(t_end - t0) / 1e9;
			pend->mib[n++] = 0;
		}
	}
	pend->nr = n;
	free(s);
}

/* At the instant of each event (the VMM's thread, under its lock). */
static void life_event(void *ctx, const struct lpv_event *ev)
{
	struct life_mark *mk = ctx;

	if (ev->type == LPV_EVENT_SHUTDOWN && !mk->marked) {
		struct uv_stats us;

		host_uv_stats_get(mk->host, &us);
		host_uv_cmd_stats(&us, UVC_CMD_DESTR_SEC_STOR, &mk->at_shutdown);
		host_hw_stats_get(mk->host, &mk->hw_at_shutdown);
		mk->marked = true;
	}
}

/* The guest program of the table's lives and of --oom's. */
#define BENCH_LIFE_PROGRAM "touch:rounds=1,then=reboot"
#define BENCH_OOM_PROGRAM "touch:rounds=1,then=poweroff"

/* -EINTR: a signal ended it (nothing measured). */
static int one_life(struct lpv_host *lh, const struct lpv_image *img,
		    uint64_t guest, unsigned int mode,
		    struct sample *s, struct plot_pending *pend)
{
	struct host *host = lpv_host_host(lh);
	struct life_mark mk = { .host = host };
	const struct uv_cmd_stats *before = &mk.at_shutdown;
	struct lpv_vm_config vc;
	struct lpv_vm_result res = { 0 };
	struct lpv_event *ev = NULL;
	struct uv_cmd_stats after;
	struct hw_stats hw_after;
	struct uv_stats us;
	uint64_t started[2] = { 0, 0 };
	struct lpv_vm *vm;
	size_t nr = 0;
	int r;

	memset(s, 0, sizeof(*s));
	for (int f = 0; f < BF_NR; f++)
		s->fig[f] = NAN;
	lpv_vm_config_init(&vc);
	vc.guest_mem = guest;
	vc.cpus = 1;
	vc.teardown = tool_destroy_name(mode);
	vc.program = BENCH_LIFE_PROGRAM;
	vc.image = img;
	vc.max_reboots = 1;
	r = lpv_vm_create(lh, &vc, &vm);
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", lpv_last_error());
		return r;
	}
	lpv_vm_set_instant_hook(vm, life_event, &mk);
	if (bench_stopped()) {
		lpv_vm_destroy(vm);
		return -EINTR;
	}
	if (bench_ui.mon) {
		char label[96], a[32];

		snprintf(label, sizeof(label), "bench %u/%u: %s %s",
			 bench_ui.lives_done + 1, bench_ui.lives_total,
			 lpv_format_size(guest, a, sizeof(a)),
			 tool_destroy_name(mode));
		monitor_step(bench_ui.mon, label, bench_ui.lives_done,
			     bench_ui.lives_total);
		monitor_samples_clear(bench_ui.mon);
	}
	bench_watch(vm, NULL);
	/* -ESRCH: it ended before its first instruction (the result says
	 * why); a signal meanwhile shut it down. */
	r = lpv_vm_boot(vm);
	if (r && r != -ESRCH) {
		fprintf(stderr, "lazypv bench: %s\n", lpv_vm_last_error(vm));
		bench_watch(NULL, NULL);
		lpv_vm_destroy(vm);
		return r;
	}
	if (bench_stopped())
		ignore_result(lpv_vm_shutdown(vm));
	r = lpv_vm_wait_cleanup(vm, LPV_WAIT_FOREVER);
	if (lpv_vm_result(vm, &res) && !r)
		r = -EIO;
	ev = bench_timeline(vm, &nr);
	bench_ui.lives_done++;
	if (pend)
		bench_keep_pending(ev, nr, pend);
	if (bench_stopped()) {
		bench_watch(NULL, NULL);
		lpv_vm_destroy(vm);
		host_drain(host);
		free(ev);
		return -EINTR;
	}
	/* Per boot (0, 1): its first instruction, then its round's end. */
	for (size_t i = 0; i < nr; i++) {
		unsigned int b = ev[i].boot;

		if (b > 1)
			continue;
		if (ev[i].type == LPV_EVENT_UNPACKED && b == 1) {
			s->fig[BF_unpack_ms] = (double)ev[i].latency_ns / 1e6;
		} else if (ev[i].type == LPV_EVENT_BOOTED) {
			started[b] = ev[i].t_ns;
			if (b == 1)
				s->fig[BF_restart_ms] = (double)ev[i].latency_ns / 1e6;
		} else if (ev[i].type == LPV_EVENT_ROUND &&
			   ev[i].round == 0 && started[b]) {
			s->fig[b ? BF_guest2_ms : BF_guest1_ms] =
				(double)(ev[i].t_ns - started[b]) / 1e6;
		}
	}
	free(ev);
	if (!r && (res.exit.code || res.exit.error || res.exit.boots != 2))
		r = res.exit.error ? res.exit.error : -EIO;
	if (r)
		fprintf(stderr, "lazypv bench: %s run failed: %s\n",
			tool_destroy_name(mode), res.exit.message);
	s->fig[BF_exit_ms] = (double)res.exit.exit_latency_ns / 1e6;
	s->fig[BF_reclaim_ms] = (double)res.reclaim_ns / 1e6;
	s->frames = res.reclaimed_bytes / LPV_PAGE_SIZE;
	if (res.reclaim_ns)
		s->fig[BF_pages_per_s] = (double)s->frames * 1e9 /
					 (double)res.reclaim_ns;
	s->ok = !r;
	bench_watch(NULL, NULL);
	lpv_vm_destroy(vm);
	host_drain(host);
	host_uv_stats_get(host, &us);
	host_uv_cmd_stats(&us, UVC_CMD_DESTR_SEC_STOR, &after);
	host_hw_stats_get(host, &hw_after);
	if (mk.marked && after.calls > before->calls) {
		double calls = (double)(after.calls - before->calls);
		double data = (double)(after.data_ns - before->data_ns) / calls;

		s->fig[BF_uv_ns] = (double)(after.ns - before->ns) / calls;
		s->fig[BF_stalled] = (double)(hw_after.stalls -
					      mk.hw_at_shutdown.stalls) / calls;
		/* No cost modelled: the UV times no data work. */
		if (data > 0) {
			s->fig[BF_clear_ns] = data;
			s->fig[BF_stall_ns] = stall_excess(&mk.hw_at_shutdown,
							   &hw_after) / calls;
		}
	}
	if (!r)
		r = host_check(host);
	return r;
}

static int make_image(struct lpv_host *lh, const char *program,
		      struct lpv_image **img)
{
	struct lpv_image_spec spec = { .program = program,
				       .payload_bytes = 1 << 20 };
	uint8_t key[LPV_HOST_KEY_LEN];
	int r = lpv_host_key(lh, key);

	if (!r)
		r = lpv_image_build(&spec, key, img);
	if (r)
		fprintf(stderr, "lazypv bench: image: %s\n", lpv_last_error());
	return r;
}

/* ---- output: text columns, JSON keys and CSV columns from the lists ---- */

/* @a / @b, or NAN when either is unknown or @b is not positive. */
static double ratio(double a, double b)
{
	return isnan(a) || isnan(b) || b <= 0 ? NAN : a / b;
}

/* The ROW figures of a row from its medians @m and the sync row's of the
 * same size (@sync NULL: sync was not run). */
static void bench_row_derive(double m[BF_NR], const double *sync,
			     double floor_ns, double mach_ns)
{
	double per_page = ratio(1e9, m[BF_pages_per_s]);

	m[BF_ns_per_page] = per_page;
	m[BF_floor_share] = ratio(100.0 * floor_ns, per_page);
	m[BF_lift_share] = ratio(100.0 * mach_ns, per_page);
	m[BF_stall_free_share] = ratio(100.0 * floor_ns,
				       per_page - m[BF_stall_ns]);
	m[BF_restart_vs_sync] = sync ? ratio(sync[BF_restart_ms], m[BF_restart_ms]) : NAN;
	m[BF_exit_vs_sync] = sync ? ratio(sync[BF_exit_ms], m[BF_exit_ms]) : NAN;
	m[BF_guest2_vs_sync] = sync ? ratio(m[BF_guest2_ms], sync[BF_guest2_ms]) : NAN;
}

/* A unitless figure is a count: an integer in JSON and CSV. */
static bool fig_is_count(const struct bench_fig_desc *d)
{
	return !d->unit[0];
}

/* Header line @line (0, 1) of the figures' text columns. */
static void text_heads(const struct bench_fig_desc *d, int n, int line)
{
	for (int i = 0; i < n; i++)
		if (d[i].width)
			printf(" %*s", d[i].width, line ? d[i].head2 : d[i].head1);
}

static void text_values(const struct bench_fig_desc *d, int n, const double *v)
{
	for (int i = 0; i < n; i++) {
		const char *suffix = !strcmp(d[i].unit, "%") ? "%" :
				     !strcmp(d[i].unit, "x") ? "x" : "";

		if (!d[i].width)
			continue;
		if (isnan(v[i]))
			printf(" %*s", d[i].width, "-");
		else
			printf(" %*.*f%s", d[i].width - (int)strlen(suffix),
			       d[i].prec, v[i], suffix);
	}
}

static void json_figs(json_t *o, const struct bench_fig_desc *d, int n,
		      const double *v)
{
	for (int i = 0; i < n; i++)
		json_object_set_new(o, d[i].key,
			isnan(v[i]) ? json_null() :
			fig_is_count(&d[i]) ? json_integer((json_int_t)v[i]) :
			json_real(v[i]));
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_str(const char *s, bool first)
{
	if (!first)
		putchar(',');
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void csv_head(const char *const *ctx, const struct bench_fig_desc *d,
		     int n)
{
	for (int i = 0; ctx[i]; i++)
		csv_str(ctx[i], !i);
	for (int i = 0; i < n; i++)
		csv_str(d[i].key, false);
	putchar('\n');
}

/* The figures of a row after its context fields; NAN: an empty field. */
static void csv_values(const struct bench_fig_desc *d, int n, const double *v)
{
	for (int i = 0; i < n; i++) {
		if (isnan(v[i]))
			printf(",");
		else if (fig_is_count(&d[i]))
			printf(",%.0f", v[i]);
		else
			printf(",%.*f", d[i].prec + 2, v[i]);
	}
	putchar('\n');
}

/* Context fields of a teardown row, before its figures (JSON and CSV). */
static const char *const teardown_ctx[] = { "bench", "profile", "guest_mem",
	"mode", "runs", "floor_ns_per_page", "machine_floor_ns_per_page", NULL };
static const char *const oom_ctx[] = { "bench", "pressure", "mode",
	"notifier", "guest_mem", "host_mem", "host_ratio", "memcg_limit",
	"destroy_page_ns", "b_killed", NULL };

/* `--figures`: what each figure of a row is. */
static void bench_print_figures(const struct bench_opts *o)
{
	static const struct {
		const char *table;
		const struct bench_fig_desc *d;
		int n;
	} tabs[] = {
		{ "teardown", bench_figs, BF_NR },
		{ "oom_a_then_b", bench_oom_figs, BO_NR },
		{ "instant_scaling", bench_scaling_figs, BS_NR },
		{ "instant_projection", bench_proj_figs, BP_NR },
	};

	for (size_t t = 0; t < ARRAY_SIZE(tabs); t++) {
		for (int i = 0; i < tabs[t].n; i++) {
			const struct bench_fig_desc *d = &tabs[t].d[i];

			if (o->format == BENCH_JSON)
				tool_json_print(stdout, json_pack(
					"{s:s, s:s, s:s, s:s, s:s}",
					"bench", tabs[t].table, "key", d->key,
					"unit", d->unit,
					"median", d->how == RUN ? "runs" : "row",
					"meaning", d->meaning));
			else
				printf("%-18s %-26s %-8s %s\n", tabs[t].table,
				       d->key, d->unit[0] ? d->unit : "count",
				       d->meaning);
		}
	}
}

static void print_row(const struct bench_opts *o, const char *profile,
		      uint64_t size, unsigned int mode,
		      const double m[BF_NR], double floor_ns, double mach_ns,
		      unsigned int runs)
{
	char sz[32];

	if (o->format == BENCH_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:i, s:f, s:f}",
				      "bench", "teardown", "profile", profile,
				      "guest_mem", (json_int_t)size,
				      "mode", tool_destroy_name(mode),
				      "runs", (int)runs,
				      "floor_ns_per_page", floor_ns,
				      "machine_floor_ns_per_page", mach_ns);

		json_figs(j, bench_figs, BF_NR, m);
		tool_json_print(stdout, j);
	} else if (o->format == BENCH_CSV) {
		csv_str("teardown", true);
		csv_str(profile, false);
		printf(",%" PRIu64 ",%s,%u,%.1f,%.1f", size,
		       tool_destroy_name(mode), runs, floor_ns, mach_ns);
		csv_values(bench_figs, BF_NR, m);
	} else {
		printf("  %-9s %-8s", lpv_format_size(size, sz, sizeof(sz)),
		       tool_destroy_name(mode));
		text_values(bench_figs, BF_NR, m);
		printf("\n");
	}
	fflush(stdout);
}

/* One profile's table: every mode at every size, medians of the runs. */
static int bench_profile(const struct bench_opts *o, const char *profile)
{
	struct host_config hc;
	struct host_floor fl;
	struct host *host;
	struct lpv_host *lh = NULL;
	struct lpv_image *img = NULL;
	char err[200];
	double clear, unprot, floor_ns, mach_ns;
	/* --plot: [mode * nr_sizes + size] */
	double restart[LPV_TEARDOWN_MODES * MAX_SIZES] = { 0 };
	double exit_ms[LPV_TEARDOWN_MODES * MAX_SIZES] = { 0 };
	struct plot_pending pend[LPV_TEARDOWN_MODES] = { { 0 } };
	uint64_t cost;
	int r;

	r = host_config_init(&hc);
	if (r)
		return r;
	r = host_profile_load(profile, &hc.profile, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	hc.mem_bytes = bench_table_host_mem(o);
	r = bench_host_create(&hc, &host);
	if (r)
		return r;
	r = tool_lpv_host(host, &lh, "bench") ? -EINVAL : 0;
	if (!r)
		r = make_image(lh, BENCH_LIFE_PROGRAM, &img);
	if (r)
		goto out_host;
	r = host_measure_floor(host, &fl);
	if (r) {
		fprintf(stderr, "lazypv bench: machine floor: %s\n", strerror(-r));
		goto out_img;
	}
	clear = fl.clear_ns;
	unprot = fl.unprotect_ns;
	cost = host_profile_cost_ns(host_profile(host), UVC_CMD_DESTR_SEC_STOR);
	floor_ns = (double)cost + clear;
	mach_ns = floor_ns + unprot;
	if (o->format == BENCH_TEXT) {
		printf("\n== profile %s: destroy-page floor %.0f ns/page = modelled %" PRIu64
		       " ns + 4 KiB clear %.0f ns;\n   with the host-view guard lift"
		       " (batched, %.0f ns): %.0f ns/page\n",
		       host_profile(host)->name, floor_ns, cost, clear, unprot, mach_ns);
		for (int line = 0; line < 2; line++) {
			printf("  %-9s %-8s", line ? "" : "guest", line ? "" : "mode");
			text_heads(bench_figs, BF_NR, line);
			printf("\n");
		}
	}
	for (unsigned int si = 0; si < o->nr_sizes && !r; si++) {
		double v[LPV_TEARDOWN_MODES][BF_NR][MAX_RUNS];
		double m[LPV_TEARDOWN_MODES][BF_NR];
		unsigned int got[LPV_TEARDOWN_MODES] = { 0 };
		bool sync = o->modes[bench_mode("sync")];

		for (unsigned int run = 0; run < o->runs; run++) {
			for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++) {
				struct sample s;

				if (!o->modes[mode])
					continue;
				r = one_life(lh, img, o->sizes[si],
					     (unsigned int)mode, &s,
					     o->plot_dir ? &pend[mode] : NULL);
				if (r == -EINTR)
					goto rows;	/* the runs so far */
				if (r)
					goto out_img;
				for (int f = 0; f < BF_NR; f++)
					v[mode][f][got[mode]] = s.fig[f];
				got[mode]++;
			}
		}
rows:
		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++) {
			for (int f = 0; f < BF_NR; f++)
				m[mode][f] = bench_figs[f].how == RUN ?
					     median(v[mode][f], got[mode]) : NAN;
		}
		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++)
			bench_row_derive(m[mode], sync ? m[bench_mode("sync")] : NULL,
					 floor_ns, mach_ns);
		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++) {
			restart[mode * o->nr_sizes + si] = m[mode][BF_restart_ms];
			exit_ms[mode * o->nr_sizes + si] = m[mode][BF_exit_ms];
		}
		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++)
			if (o->modes[mode] && got[mode])
				print_row(o, host_profile(host)->name, o->sizes[si],
					  (unsigned int)mode, m[mode],
					  floor_ns, mach_ns, got[mode]);
	}
	if (o->plot_dir && (!r || r == -EINTR)) {
		const char *names[LPV_TEARDOWN_MODES];
		int pr;

		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++)
			names[mode] = o->modes[mode] ?
				tool_destroy_name(mode) :
				NULL;
		pr = plot_bench(o->plot_dir, host_profile(host)->name, o->sizes,
				o->nr_sizes, names, LPV_TEARDOWN_MODES, restart,
				exit_ms, pend, err, sizeof(err));
		if (pr) {
			fprintf(stderr, "lazypv bench: --plot %s: %s\n",
				o->plot_dir, err);
			if (!r)
				r = pr;
		}
	}
out_img:
	for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++) {
		free(pend[mode].t_s);
		free(pend[mode].mib);
	}
out_host:
	lpv_host_destroy(lh);
	lpv_image_destroy(img);
	host_destroy(host);
	return r;
}

/* From the first event to the exit, seconds (0 if it never exited). */
static double life_run_secs(struct lpv_vm *vm)
{
	struct lpv_event *ev;
	double secs = 0;
	size_t nr;

	ev = bench_timeline(vm, &nr);
	for (size_t i = 0; i < nr; i++) {
		if (ev[i].type == LPV_EVENT_EXIT) {
			secs = (double)(ev[i].t_ns - ev[0].t_ns) / 1e9;
			break;
		}
	}
	free(ev);
	return secs;
}

/* A VM of --oom's on @lh (in @memcg if not NULL), booted (0: its first instruction ran; -ESRCH:
 * it ended before, the result says why), or an error said. */
static int oom_vm_start(struct lpv_host *lh, const struct lpv_vm_config *vc,
			struct memcg *memcg, const char *who,
			struct lpv_vm **vm)
{
	int r = lpv_vm_create(lh, vc, vm);

	if (r) {
		fprintf(stderr, "lazypv bench: %s: %s\n", who, lpv_last_error());
		return r;
	}
	if (memcg)	/* A and B in one memcg */
		lpv_vm_set_memcg(*vm, memcg);
	r = lpv_vm_boot(*vm);
	if (r && r != -ESRCH) {
		fprintf(stderr, "lazypv bench: %s: %s\n", who,
			lpv_vm_last_error(*vm));
		lpv_vm_destroy(*vm);
		*vm = NULL;
		return r;
	}
	return 0;
}

static void bench_oom_row(const struct bench_opts *o, enum bench_pressure pr,
			  unsigned int mode, bool notifier,
			  uint64_t host_mem, uint64_t memcg_limit,
			  const double f[BO_NR], bool killed, const char *outcome)
{
	if (o->format == BENCH_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:f, s:o, s:I, s:b}",
				      "bench", "oom_a_then_b",
				      "pressure", bench_pressure_name(pr),
				      "mode", tool_destroy_name(mode),
				      "notifier", notifier,
				      "guest_mem", (json_int_t)o->oom_guest,
				      "host_mem", (json_int_t)host_mem,
				      "host_ratio", o->oom_ratio,
				      "memcg_limit", memcg_limit ?
					json_integer((json_int_t)memcg_limit) :
					json_null(),
				      "destroy_page_ns", (json_int_t)o->oom_destroy_ns,
				      "b_killed", killed);

		json_figs(j, bench_oom_figs, BO_NR, f);
		tool_json_print(stdout, j);
	} else if (o->format == BENCH_CSV) {
		printf("oom_a_then_b,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%.2f,",
		       bench_pressure_name(pr), tool_destroy_name(mode),
		       notifier ? "true" : "false", o->oom_guest, host_mem,
		       o->oom_ratio);
		if (memcg_limit)
			printf("%" PRIu64, memcg_limit);
		printf(",%" PRIu64 ",%s", o->oom_destroy_ns,
		       killed ? "true" : "false");
		csv_values(bench_oom_figs, BO_NR, f);
	} else {
		printf("  %-8s %-8s", tool_destroy_name(mode),
		       mode == bench_mode("lazy") ? (notifier ? "on" : "off") : "-");
		text_values(bench_oom_figs, BO_NR, f);
		printf("   %s\n", outcome);
	}
	fflush(stdout);
}

/*
 * Shut down A, start B at once: each needs most of the memory -- the
 * host's, or the one memcg both are in -- and A's memory is still being
 * cleaned when B faults its own in.
 */
static int bench_oom_one(const struct bench_opts *o, enum bench_pressure pr,
			 unsigned int mode, bool notifier)
{
	struct host_config hc;
	char text[320];
	struct lpv_vm_config vc;
	struct lpv_vm_result ra = { 0 }, rb = { 0 };
	double b_secs = 0, a_reclaim = 0;
	struct host_stats hs;
	struct host *host;
	struct lpv_host *lh = NULL;
	struct lpv_vm *a = NULL, *b = NULL;
	struct lpv_image *img = NULL;
	struct memcg_stats ms = { 0 };
	struct memcg *shared = NULL;
	struct bench_wakeup *wake = NULL;
	struct bench_wakeup_result wr = { 0 };
	uint64_t memcg_limit = 0;
	char err[200];
	int r;

	r = host_config_init(&hc);
	if (r)
		return r;
	hc.kvm.oom_notifier = notifier;
	/*
	 * The default profile with slower page cleaning -- the same cost per
	 * secure page whichever call cleans it (destroy page, export,
	 * DESTROY_SEC_CONF), so that the modes differ only in where the work
	 * runs, not in how much there is; UV storage anywhere: the host is
	 * exactly R x the guest (or R + 0.5 with a memcg of R).
	 */
	snprintf(text, sizeof(text), "base = default\nname = oom-bench\n"
		 "cost.destroy_page = %" PRIu64 "ns\ncost.export = %" PRIu64 "ns\n"
		 "destroy_conf_page_ns = %" PRIu64 "ns\ninit_min_origin = 0\n",
		 o->oom_destroy_ns, o->oom_destroy_ns, o->oom_destroy_ns);
	r = host_profile_parse(text, "oom-bench", &hc.profile, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", err);
		return r;
	}
	hc.mem_bytes = bench_oom_host_mem(o, pr);
	r = bench_host_create(&hc, &host);
	if (r)
		return r;
	r = tool_lpv_host(host, &lh, "bench") ? -EINVAL : 0;
	if (!r)
		r = make_image(lh, BENCH_OOM_PROGRAM, &img);
	if (!r && pr == BENCH_PRESSURE_MEMCG) {
		/* QEMUs in one cgroup: the limit is both VMMs' together. */
		memcg_limit = bench_oom_memcg_limit(o);
		r = host_memcg_create(host, "bench-ab", memcg_limit, &shared);
	}
	if (r)
		goto out_host;
	lpv_vm_config_init(&vc);
	vc.guest_mem = o->oom_guest;
	vc.cpus = 1;
	vc.teardown = tool_destroy_name(mode);
	vc.program = BENCH_OOM_PROGRAM;
	vc.image = img;
	vc.max_reboots = 0;
	/* A cleanup slower than B's faults takes minutes at this cost. */
	vc.reclaim_timeout_ms = 30 * 60 * 1000;
	/*
	 * A powers off by itself once its memory is all secure.  B starts
	 * as soon as A's exit is seen (lpv_vm_wait), not once A's memory is
	 * back: A's cleanup runs on behind the library's reaper.
	 */
	/* The machine's scheduling delay over the same window. */
	if (bench_wakeup_start(1000000, &wake))
		wake = NULL;
	r = oom_vm_start(lh, &vc, shared, "A", &a);
	if (r)
		goto out_host;
	r = lpv_vm_wait(a, LPV_WAIT_FOREVER, NULL);
	if (!r)
		r = oom_vm_start(lh, &vc, shared, "B", &b);
	if (!r) {
		r = lpv_vm_wait_cleanup(b, LPV_WAIT_FOREVER);
		if (lpv_vm_result(b, &rb) && !r)
			r = -EIO;
		if (r || rb.exit.error)
			fprintf(stderr, "lazypv bench: B: %s (%s)\n",
				strerror(-(r ? r : rb.exit.error)),
				rb.exit.message);
		b_secs = life_run_secs(b);
		lpv_vm_destroy(b);
	}
	{
		int ra_r = lpv_vm_wait_cleanup(a, LPV_WAIT_FOREVER);

		if (lpv_vm_result(a, &ra) && !ra_r)
			ra_r = -EIO;
		if (!r)
			r = ra_r;
	}
	a_reclaim = (double)ra.reclaim_ns / 1e9;
	if (wake)
		bench_wakeup_stop(wake, &wr);
	wake = NULL;
	lpv_vm_destroy(a);
	host_drain(host);
	host_stats_get(host, &hs);
	if (shared)
		host_memcg_stats(shared, &ms);
	{
		double f[BO_NR] = {
			[BO_kills] = (double)hs.mm.oom_kills,
			[BO_waits] = (double)hs.mm.oom_waits,
			[BO_stall_ms] = (double)hs.mm.oom_stall_max_ns / 1e6,
			[BO_stall_p99_ms] =
				(double)host_stall_quantile_ns(&hs, 0.99) / 1e6,
			[BO_stall_p50_ms] =
				(double)host_stall_quantile_ns(&hs, 0.50) / 1e6,
			[BO_wake_max_ms] = wr.samples ?
				(double)wr.max_ns / 1e6 : NAN,
			[BO_wake_p99_ms] = wr.samples ?
				(double)wr.p99_ns / 1e6 : NAN,
			[BO_wake_over_5ms] = wr.samples ?
				(double)wr.over_5ms : NAN,
			[BO_notifier_waits] = (double)(hs.kvm.oom_notifier_waits +
						       hs.kvm.instant_oom_waits),
			[BO_memcg_ooms] = shared ? (double)ms.oom : NAN,
			[BO_b_run_s] = b_secs,
			[BO_a_reclaim_s] = a_reclaim,
			[BO_oom_runs] = (double)hs.mm.oom_runs,
			[BO_limit_hits] = shared ? (double)ms.failcnt : NAN,
			[BO_b_exit_code] = r ? -1 : rb.exit.code,
		};
		bool killed = !r && rb.exit.killed;

		bench_oom_row(o, pr, mode, notifier, hc.mem_bytes, memcg_limit,
			      f, killed,
			      r ? "B did not complete (see stderr)" :
			      killed ? "B was OOM-killed" :
			      rb.exit.code ? "B failed" : "B ran to completion");
	}
	r = 0;
out_host:
	if (wake)
		bench_wakeup_stop(wake, &wr);
	lpv_host_destroy(lh);	/* every VM gone: the memcg can go */
	if (shared && host_memcg_destroy(shared))
		fprintf(stderr, "lazypv bench: the shared memcg is still in use after the drain\n");
	lpv_image_destroy(img);
	host_destroy(host);
	return r;
}


/* ---- --scaling: instant's workers ---- */

static const char *const scaling_ctx[] = { "bench", "profile", "guest_mem",
	"workers", "cores", "runs", "floor_ns_per_page", NULL };
static const char *const proj_ctx[] = { "bench", "guest_mem", "cores",
	"workers", "measured", "basis", NULL };

static long bench_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

/*
 * One life: boot, the touch program makes every page secure, powers off;
 * the figures of the cleanup after it.  -EINTR: a signal ended it.
 */
static int scaling_life(struct lpv_host *lh, const struct lpv_image *img,
			uint64_t guest, double fig[BS_NR])
{
	struct host *host = lpv_host_host(lh);
	struct lpv_vm_result res = { 0 };
	struct host_stats before, after;
	struct lpv_vm_config vc;
	struct lpv_vm *vm;
	int r;

	for (int f = 0; f < BS_NR; f++)
		fig[f] = NAN;
	if (bench_stopped())
		return -EINTR;
	lpv_vm_config_init(&vc);
	vc.guest_mem = guest;
	vc.cpus = 1;
	vc.teardown = "instant";
	vc.program = BENCH_OOM_PROGRAM;
	vc.image = img;
	vc.max_reboots = 0;
	r = lpv_vm_create(lh, &vc, &vm);
	if (r) {
		fprintf(stderr, "lazypv bench: %s\n", lpv_last_error());
		return r;
	}
	if (bench_ui.mon) {
		char label[96], a[32];

		snprintf(label, sizeof(label), "bench %u/%u: %s instant scaling",
			 bench_ui.lives_done + 1, bench_ui.lives_total,
			 lpv_format_size(guest, a, sizeof(a)));
		monitor_step(bench_ui.mon, label, bench_ui.lives_done,
			     bench_ui.lives_total);
	}
	host_stats_get(host, &before);
	bench_watch(vm, NULL);
	r = lpv_vm_boot(vm);
	if (r && r != -ESRCH)
		fprintf(stderr, "lazypv bench: %s\n", lpv_vm_last_error(vm));
	if (!r || r == -ESRCH) {
		r = lpv_vm_wait_cleanup(vm, LPV_WAIT_FOREVER);
		if (lpv_vm_result(vm, &res) && !r)
			r = -EIO;
		if (!r && (res.exit.code || res.exit.error))
			r = res.exit.error ? res.exit.error : -EIO;
		if (r && !bench_stopped())
			fprintf(stderr, "lazypv bench: instant scaling run failed: %s\n",
				res.exit.message);
	}
	bench_ui.lives_done++;
	bench_watch(NULL, NULL);
	lpv_vm_destroy(vm);
	host_drain(host);
	if (bench_stopped())
		return -EINTR;
	if (r)
		return r;
	host_stats_get(host, &after);
	fig[BS_exit_ms] = (double)res.exit.exit_latency_ns / 1e6;
	fig[BS_reclaim_ms] = (double)res.reclaim_ns / 1e6;
	if (res.reclaim_ns)
		fig[BS_pages_per_s] = (double)(res.reclaimed_bytes / LPV_PAGE_SIZE) *
				      1e9 / (double)res.reclaim_ns;
	if (after.kvm.instant_pages > before.kvm.instant_pages)
		fig[BS_cpu_ns] = (double)(after.kvm.instant_cpu_ns -
					  before.kvm.instant_cpu_ns) /
				 (double)(after.kvm.instant_pages -
					  before.kvm.instant_pages);
	return host_check(host);
}

static void bench_scaling_row(const struct bench_opts *o, const char *profile,
			      unsigned int workers, unsigned int runs,
			      double floor_ns, const double m[BS_NR])
{
	char sz[32];

	if (o->format == BENCH_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:f}",
				      "bench", "instant_scaling",
				      "profile", profile,
				      "guest_mem", (json_int_t)o->scaling_guest,
				      "workers", (int)workers,
				      "cores", (int)bench_cores(),
				      "runs", (int)runs,
				      "floor_ns_per_page", floor_ns);

		json_figs(j, bench_scaling_figs, BS_NR, m);
		tool_json_print(stdout, j);
	} else if (o->format == BENCH_CSV) {
		csv_str("instant_scaling", true);
		csv_str(profile, false);
		printf(",%" PRIu64 ",%u,%ld,%u,%.1f", o->scaling_guest, workers,
		       bench_cores(), runs, floor_ns);
		csv_values(bench_scaling_figs, BS_NR, m);
	} else {
		printf("  %-9s %7u %8.0f", lpv_format_size(o->scaling_guest, sz,
							    sizeof(sz)),
		       workers, floor_ns);
		text_values(bench_scaling_figs, BS_NR, m);
		printf("\n");
	}
	fflush(stdout);
}

/*
 * The projection for @n cores (n workers, nothing else running: the
 * guest is gone), from the 1- and 2-worker medians by Amdahl's law.
 */
static void bench_projection_row(const struct bench_opts *o, unsigned int n,
				 double t1, double t2, double pps1)
{
	double s = 2.0 * t2 / t1 - 1.0, f[BP_NR];

	s = s < 0 ? 0 : s > 1 ? 1 : s;
	f[BP_serial] = s;
	f[BP_speedup] = 1.0 / (s + (1.0 - s) / n);
	f[BP_reclaim_ms] = t1 * (s + (1.0 - s) / n);
	f[BP_pages_per_s] = pps1 * f[BP_speedup];
	if (o->format == BENCH_JSON) {
		json_t *j = json_pack("{s:s, s:I, s:i, s:i, s:b, s:s}",
				      "bench", "instant_projection",
				      "guest_mem", (json_int_t)o->scaling_guest,
				      "cores", (int)n, "workers", (int)n,
				      "measured", 0,
				      "basis", "amdahl_from_1_and_2_workers");

		json_figs(j, bench_proj_figs, BP_NR, f);
		tool_json_print(stdout, j);
	} else if (o->format == BENCH_CSV) {
		printf("instant_projection,%" PRIu64 ",%u,%u,false,amdahl_from_1_and_2_workers",
		       o->scaling_guest, n, n);
		csv_values(bench_proj_figs, BP_NR, f);
	} else {
		printf("  %5u cores, %2u workers", n, n);
		text_values(bench_proj_figs, BP_NR, f);
		printf("\n");
	}
}

/*
 * instant's cleanup after a shutdown against its number of workers: a
 * populated host per worker count (a module parameter is fixed at load),
 * --runs lives each, medians; then the projection.
 */
static int bench_scaling(const struct bench_opts *o)
{
	double t1 = NAN, t2 = NAN, pps1 = NAN;
	char sz[32], err[200];
	int r = 0;

	if (o->format == BENCH_TEXT) {
		printf("\n== instant: cleanup after a shutdown against instant_workers (%s guest, %u run%s, medians; %ld cores; default profile)\n",
		       lpv_format_size(o->scaling_guest, sz, sizeof(sz)),
		       o->runs, o->runs == 1 ? "" : "s", bench_cores());
		for (int line = 0; line < 2; line++) {
			printf("  %-9s %7s %8s", line ? "" : "guest",
			       line ? "" : "workers", line ? "ns/page" : "floor");
			text_heads(bench_scaling_figs, BS_NR, line);
			printf("\n");
		}
	} else if (o->format == BENCH_CSV) {
		if (!o->no_tables || o->oom)
			printf("\n");
		csv_head(scaling_ctx, bench_scaling_figs, BS_NR);
	}
	for (unsigned int i = 0; i < o->nr_scaling_workers && !r; i++) {
		unsigned int k = (unsigned int)o->scaling_workers[i];
		double v[BS_NR][MAX_RUNS], m[BS_NR];
		unsigned int got = 0;
		struct host_config hc;
		struct host_floor fl;
		struct host *host;
		struct lpv_host *lh = NULL;
		struct lpv_image *img = NULL;
		double floor_ns = NAN;

		r = host_config_init(&hc);
		if (r)
			break;
		/* The default profile, its UV storage anywhere: a host of the
		 * guest and a little. */
		r = host_profile_parse("base = default\nname = default\ninit_min_origin = 0\n",
				       "scaling", &hc.profile, err, sizeof(err));
		if (r) {
			fprintf(stderr, "lazypv bench: %s\n", err);
			break;
		}
		hc.mem_bytes = bench_scaling_host_mem(o);
		hc.kvm.instant_workers = k;
		r = bench_host_create(&hc, &host);
		if (r)
			break;
		r = tool_lpv_host(host, &lh, "bench") ? -EINVAL : 0;
		if (!r)
			r = make_image(lh, BENCH_OOM_PROGRAM, &img);
		if (!r) {
			r = host_measure_floor(host, &fl);
			if (r)
				fprintf(stderr, "lazypv bench: machine floor: %s\n",
					strerror(-r));
		}
		if (!r)
			floor_ns = (double)host_profile_cost_ns(host_profile(host),
							UVC_CMD_DESTR_SEC_STOR) +
				   fl.clear_ns;
		for (unsigned int run = 0; run < o->runs && !r; run++) {
			double fig[BS_NR];

			r = scaling_life(lh, img, o->scaling_guest, fig);
			if (r)
				break;
			for (int f = 0; f < BS_NR; f++)
				v[f][got] = fig[f];
			got++;
		}
		lpv_host_destroy(lh);
		lpv_image_destroy(img);
		host_destroy(host);
		if (r && r != -EINTR)
			break;
		if (!got)
			break;
		for (int f = 0; f < BS_NR; f++)
			m[f] = bench_scaling_figs[f].how == RUN ?
			       median(v[f], got) : NAN;
		if (k == 1) {
			t1 = m[BS_reclaim_ms];
			pps1 = m[BS_pages_per_s];
		} else if (k == 2) {
			t2 = m[BS_reclaim_ms];
		}
		m[BS_per_worker] = m[BS_pages_per_s] / k;
		m[BS_worker_share] = 100.0 * floor_ns * m[BS_per_worker] / 1e9;
		m[BS_speedup] = ratio(t1, m[BS_reclaim_ms]);
		bench_scaling_row(o, "default", k, got, floor_ns, m);
	}
	if (r == -EINTR)
		return 0;	/* the rows so far; the caller reports the signal */
	if (r)
		return r;
	if (isnan(t1) || isnan(t2) || !(t1 > 0)) {
		if (o->format == BENCH_TEXT)
			printf("  (no projection: it needs the 1- and 2-worker rows)\n");
		return 0;
	}
	if (o->format == BENCH_TEXT) {
		printf("\n  projection, not a measurement: Amdahl's law with the serial fraction\n"
		       "  s = 2 x reclaim(2 workers) / reclaim(1) - 1 of the medians above%s:\n",
		       bench_cores() < 2 ? " (one core: the 2-worker row shares it, so s is pessimistic)" : "");
		for (int line = 0; line < 2; line++) {
			printf("  %-24s", "");
			text_heads(bench_proj_figs, BP_NR, line);
			printf("\n");
		}
	} else if (o->format == BENCH_CSV) {
		printf("\n");
		csv_head(proj_ctx, bench_proj_figs, BP_NR);
	}
	bench_projection_row(o, 8, t1, t2, pps1);
	bench_projection_row(o, 64, t1, t2, pps1);
	fflush(stdout);
	return 0;
}

/* The text table's heading of one pressure's rows. */
static void bench_oom_head(const struct bench_opts *o, enum bench_pressure pr)
{
	char g[32], h[32], l[32];

	if (o->format != BENCH_TEXT)
		return;
	lpv_format_size(o->oom_guest, g, sizeof(g));
	lpv_format_size(bench_oom_host_mem(o, pr), h, sizeof(h));
	if (pr == BENCH_PRESSURE_MEMCG)
		printf("\n== shut down A, start B at once: both in one memcg limited to %.2fx a guest (%s guests, memcg %s, host %s); default profile, %" PRIu64 " ns to clean a page\n",
		       o->oom_ratio, g,
		       lpv_format_size(bench_oom_memcg_limit(o), l, sizeof(l)),
		       h, o->oom_destroy_ns);
	else
		printf("\n== shut down A, start B at once: host memory %.2fx a guest (%s guests, host %s); default profile, %" PRIu64 " ns to clean a page\n",
		       o->oom_ratio, g, h, o->oom_destroy_ns);
	for (int line = 0; line < 2; line++) {
		printf("  %-8s %-8s", line ? "" : "mode", line ? "" : "notifier");
		text_heads(bench_oom_figs, BO_NR, line);
		printf("\n");
	}
}

/* Options and everything checkable before the first host is populated:
 * the exit status to end with now, or -1 to go ahead.  Release o->cl. */
static int bench_args(int argc, char **argv, struct bench_opts *o)
{
	*o = bench_defaults;
	if (bench_parse(argc, argv, o))
		return 0;
	if (o->figures) {
		bench_print_figures(o);
		return 0;
	}
	return bench_validate(o) ? 2 : -1;
}

int cmd_bench_args(int argc, char **argv)
{
	struct bench_opts o;
	int status = bench_args(argc, argv, &o);

	lpv_cl_release(&o.cl);
	return status;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o;
	char sz[32];
	int r = 0, damon, signo;

	r = bench_args(argc, argv, &o);
	if (r >= 0) {
		lpv_cl_release(&o.cl);
		return r;
	}
	if (o.plot_dir && !plot_have_gnuplot()) {
		fprintf(stderr, "lazypv bench: --plot needs gnuplot, which is not installed (Debian: apt-get install gnuplot-nox)\n");
		lpv_cl_release(&o.cl);
		return PLOT_EXIT_NO_GNUPLOT;
	}
	bench_ui.json = o.format == BENCH_JSON;
	/* Before any thread exists: the monitor takes SIGINT/SIGTERM. */
	r = monitor_block_signals();
	if (!r) {
		struct monitor_config mc = {
			.cmd = "bench",
			.quiet = o.quiet,
			.series = o.plot_dir,
			.on_signal = bench_on_signal,
			.on_abandon = bench_on_abandon,
		};

		r = monitor_start(&mc, &bench_ui.mon);
	}
	if (r) {
		fprintf(stderr, "lazypv bench: cannot start: %s\n", strerror(-r));
		lpv_cl_release(&o.cl);
		return 1;
	}
	bench_ui.lives_total = o.no_tables ? 0 : o.nr_profiles * o.nr_sizes * o.runs;
	{
		unsigned int modes = 0;

		for (int mode = 0; mode < LPV_TEARDOWN_MODES; mode++)
			modes += o.modes[mode];
		bench_ui.lives_total *= modes;
	}
	if (o.scaling)
		bench_ui.lives_total += o.nr_scaling_workers * o.runs;
	r = 0;
	if (o.format == BENCH_TEXT && !o.no_tables) {
		printf("lazypv bench: sizes");
		for (unsigned int i = 0; i < o.nr_sizes; i++)
			printf(" %s", lpv_format_size(o.sizes[i], sz, sizeof(sz)));
		printf(", %u run%s each, medians; touch program, 1 vCPU\n",
		       o.runs, o.runs == 1 ? "" : "s");
	}
	damon = bench_damon_running();
	if (damon >= 0)
		fprintf(o.format == BENCH_TEXT ? stdout : stderr,
			"note: DAMON is on in this kernel (kdamond %d): its sampling and\n"
			"  reclaim change the page tables of idle memory; the \"stall\"\n"
			"  columns measure what that costs the UV's clears in this run\n",
			damon);
	if (o.format == BENCH_CSV && !o.no_tables)
		csv_head(teardown_ctx, bench_figs, BF_NR);
	for (unsigned int p = 0; !o.no_tables && p < o.nr_profiles && !r; p++)
		r = bench_profile(&o, o.profiles[p]);
	if (!r && o.oom && !bench_stopped()) {
		if (o.format == BENCH_CSV) {
			if (!o.no_tables)
				printf("\n");
			csv_head(oom_ctx, bench_oom_figs, BO_NR);
		}
		for (int pr = 0; pr < BENCH_PRESSURE_NR && !r; pr++) {
			if (!o.pressures[pr] || bench_stopped())
				continue;
			bench_oom_head(&o, (enum bench_pressure)pr);
			for (int mode = 0; mode < LPV_TEARDOWN_MODES && !r; mode++) {
				if (!o.modes[mode] || bench_stopped())
					continue;
				r = bench_oom_one(&o, (enum bench_pressure)pr,
						  (unsigned int)mode, true);
				if (!r && (unsigned int)mode == bench_mode("lazy"))
					r = bench_oom_one(&o, (enum bench_pressure)pr,
							  bench_mode("lazy"), false);
			}
		}
	}
	if (!r && o.scaling && !bench_stopped())
		r = bench_scaling(&o);
	signo = monitor_signal(bench_ui.mon);
	monitor_stop(bench_ui.mon);
	bench_ui.mon = NULL;
	if (signo) {
		/* --json: the last line says so, as run's does. */
		if (o.format == BENCH_JSON)
			tool_json_print(stdout, tool_json_interrupted(signo));
		fflush(stdout);
		fprintf(stderr, "lazypv bench: interrupted by SIG%s: the rows above are the runs measured before it\n",
			sigabbrev_np(signo));
		lpv_cl_release(&o.cl);
		return 128 + signo;
	}
	if (r)
		fprintf(stderr, "lazypv bench: %s\n", strerror(-r));
	lpv_cl_release(&o.cl);
	return r ? 1 : 0;
}
