// SPDX-License-Identifier: MIT
/*
 * cmd_run.c - `lazypv run`: bring the host up, boot one protected guest,
 * let it reboot K times, shut it down, and print the timeline -- boot,
 * each restart latency, exit latency, reclaim, leaks -- as text or as one
 * JSON object per line, then a summary with the figures of ARCHITECTURE.md
 * §5 and the result of the invariant checks.
 *
 * The host comes from the host layer (protection, profile by value); the
 * guest is a client of the public API over it (api/api_host.h: the host
 * wrapped as an lpv_host).  Every option is checked before anything starts
 * (bad ones exit 2 with one line on stderr).  The main thread drives; the
 * events are printed by their callback on the library's event thread, one
 * at a time, in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_host.h"
#include "cleanup_events.h"
#include "host/host.h"
#include "lazypv/lazypv.h"
#include "lib/cmdline.h"
#include "lib/lib.h"
#include "lib/trace.h"
#include "monitor.h"
#include "plot.h"
#include "tools.h"

#define RUN_MAX_REBOOTS 100000

struct run_opts {
	uint64_t guest_mem, host_mem, memcg_limit, payload_size;
	unsigned int cpus, reboots;
	const char *program, *profile, *seed, *image_path;
	const char *trace_path, *plot_path;
	unsigned int destroy;		/* lpv_teardown_mode_name's number */
	enum hw_protect_mode protect;
	bool json, quiet, populate;
};

struct run_out {
	bool json;
	uint64_t t0;
	unsigned int boots;	/* guests started so far (atomic) */
};

static const char *run_program_help(void)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), " Programs: %s; keys: rounds, then, mib, at, ops, seed, pages (see docs/vmm.md).",
		 lpv_program_names());
	return buf;
}

/*
 * What each teardown mode is, by its name: --destroy's help lists the
 * library's modes (lpv_teardown_mode_name, the one list) in its order,
 * each with its line here; a mode without one shows bare, and the test
 * cli_run_destroy_help fails.
 */
static const struct {
	const char *name, *about;
} run_mode_about[] = {
	{ "sync", "before the series, memory first" },
	{ "sync-6.0", "Linux 6.0: config first, destroy at exit" },
	{ "lazy", "KVM cleanup threads, set-aside list at exit, OOM notifier" },
	{ "async", "Linux 6.2 + QEMU 8: PREPARE/PERFORM from a VMM thread, CLONE_VM teardown helper" },
	{ "instant", "lazypv's own: O(1) restart and exit, parallel owner-charged workers, docs/instant.md" },
};
_Static_assert(ARRAY_SIZE(run_mode_about) == LPV_TEARDOWN_MODES,
	       "a line for each teardown mode of the library");

/* " sync (...), ... or instant (...); the kvm module's fences ...". */
static const char *run_destroy_help(void)
{
	static char buf[1024];
	size_t n = 0;

	for (unsigned int i = 0; lpv_teardown_mode_name(i) && n < sizeof(buf); i++) {
		const char *name = lpv_teardown_mode_name(i), *about = NULL;

		for (size_t j = 0; j < ARRAY_SIZE(run_mode_about); j++)
			if (!strcmp(run_mode_about[j].name, name))
				about = run_mode_about[j].about;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s %s%s%s%s",
				      !i ? "" : lpv_teardown_mode_name(i + 1) ? "," : " or",
				      name, about ? " (" : "", about ? about : "",
				      about ? ")" : "");
	}
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "; the kvm module's fences turn lazy into sync, async into sync-6.0, instant into async (LAZYPV_KVM_LAZY_DESTROY, _ASYNC_DESTROY, _INSTANT_DESTROY)");
	return buf;
}

#define O(field) LPV_CL_FIELD(struct run_opts, field)
static const struct lpv_cl_opt run_opt_tab[] = {
	{ .name = "guest-mem", .kind = LPV_CL_SIZE, O(guest_mem),
	  .min = 1ULL << 20, .align = 1ULL << 20,
	  .help = "guest memory" },
	{ .name = "host-mem", .kind = LPV_CL_SIZE, O(host_mem),
	  .min = HW_PAGE_SIZE, .align = HW_PAGE_SIZE,
	  .help = "host physical memory, populated only as used; the UV's storage must lie above the profile's init_min_origin (2G by default)" },
	{ .name = "cpus", .kind = LPV_CL_UINT, O(cpus), .min = 1, .max = LPV_MAX_CPUS,
	  .help = "vCPUs" },
	{ .name = "program", .kind = LPV_CL_STRING, O(program),
	  .metavar = "NAME[:ARGS]", .help_more = run_program_help,
	  .help = "the guest program and its key=value arguments." },
	{ .name = "reboots", .kind = LPV_CL_UINT, O(reboots), .max = RUN_MAX_REBOOTS,
	  .metavar = "K",
	  .help = "reboots honoured before a reboot becomes the shutdown; idle guests get K external resets from the host instead" },
	{ .name = "destroy", .kind = LPV_CL_ENUM, O(destroy),
	  .name_of = tool_destroy_name, .nr = LPV_TEARDOWN_MODES,
	  .help = "teardown design:", .help_more = run_destroy_help },
	{ .name = "uv-profile", .kind = LPV_CL_STRING, O(profile),
	  .metavar = "NAME|FILE", .def = "default",
	  .help = "firmware profile: default, zero, old, or a file" },
	{ .name = "memcg-limit", .kind = LPV_CL_SIZE, O(memcg_limit), .def = "none",
	  .help = "memory cgroup limit of the VMM" },
	{ .name = "image", .kind = LPV_CL_STRING, O(image_path), .metavar = "FILE",
	  .help = "boot an image made by 'lazypv mkimage' (with the same --uv-seed) instead of building one; its program is sealed in it, so say it with --program if it idles (the host then drives resets)" },
	{ .name = "uv-seed", .kind = LPV_CL_STRING, O(seed), .def = LPV_DEFAULT_SEED,
	  .help = "seed of the UV's host key" },
	{ .name = "payload-size", .kind = LPV_CL_SIZE, O(payload_size), .def = "4M",
	  .help = "size of the built-in image's payload (at most half the guest memory)" },
	{ .name = "protect", .kind = LPV_CL_ENUM, O(protect),
	  .name_of = tool_protect_name, .nr = 3,
	  .help = "host-view protection of secure frames" },
	{ .name = "json", .kind = LPV_CL_FLAG, O(json),
	  .help = "one JSON object per event, then a summary object" },
	{ .name = "trace", .kind = LPV_CL_STRING, O(trace_path), .metavar = "FILE",
	  .help = "write the run as Chrome trace-event JSON (open it in Perfetto or chrome://tracing): each boot's phases, cleanup threads, UVC batches, OOM waits" },
	{ .name = "plot", .kind = LPV_CL_STRING, O(plot_path), .metavar = "FILE",
	  .help = "draw memory still to clean and memory in use against time, phases marked (PNG or SVG by the extension; needs gnuplot)" },
	{ .name = "populate", .kind = LPV_CL_FLAG, O(populate),
	  .help = "back every frame of host memory before the guest starts (as the bench does; about 2 s/GiB on a nested VM), with a progress line on a terminal" },
	{ .name = "quiet", .kind = LPV_CL_FLAG, O(quiet),
	  .help = "no progress line on stderr (there is none unless stderr is a terminal)" },
};
#undef O

static const struct run_opts run_defaults = {
	.guest_mem = 128ULL << 20,
	.host_mem = 3ULL << 30,
	.cpus = 1,
	.reboots = 2,
	.program = "touch",
	.destroy = 0,			/* sync */
	.protect = HW_PROTECT_AUTO,
};

const struct lpv_cl_cmd cmd_run_cl = {
	.prog = "lazypv",
	.name = "run",
	.summary = "boot a protected guest, reboot it, shut it down: the timeline",
	.description =
		"Boot one protected guest, let it reboot K times, shut it down, and print\n"
		"the timeline: boot, each restart latency (reboot request -> first\n"
		"instruction of the new protected guest), exit latency (shutdown request\n"
		"-> the VMM's parent sees it exit), reclaim (every frame free and\n"
		"uncharged), leaks.\n",
	.notes =
		"SIGINT or SIGTERM shuts the guest down, waits for its cleanup and\n"
		"prints the summary so far (exit 130 or 143); a second one abandons the\n"
		"cleanup.\n",
	.opts = run_opt_tab,
	.nr_opts = ARRAY_SIZE(run_opt_tab),
	.defaults = &run_defaults,
};

/* What can be said without starting anything. */
static void run_validate(const struct run_opts *o, struct uv_profile *prof)
{
	char a[32], b[32], c[32];

	if (host_backable_bytes() && o->host_mem > host_backable_bytes())
		tool_usage_error("run", "--host-mem %s is out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(host_backable_bytes(), b, sizeof(b)));
	if (o->guest_mem >= o->host_mem)
		tool_usage_error("run", "--guest-mem %s does not fit in --host-mem %s",
				 lpv_format_size(o->guest_mem, a, sizeof(a)),
				 lpv_format_size(o->host_mem, b, sizeof(b)));
	if (o->payload_size > o->guest_mem / 2)
		tool_usage_error("run", "--payload-size must be at most half the guest memory");
	if (lpv_program_check(o->program))
		tool_usage_error("run", "--program: %s", lpv_last_error());
	/* The built-in image: the boot page, then the payload. */
	if (!o->image_path &&
	    lpv_program_check_fit(o->program, o->guest_mem, o->cpus,
				  1 + ((o->payload_size ? o->payload_size :
					LPV_DEFAULT_PAYLOAD_BYTES) +
				       LPV_PAGE_SIZE - 1) / LPV_PAGE_SIZE))
		tool_usage_error("run", "--program %s: %s (--guest-mem %s, %u vCPU%s)",
				 o->program, lpv_last_error(),
				 lpv_format_size(o->guest_mem, a, sizeof(a)),
				 o->cpus, o->cpus == 1 ? "" : "s");
	if (o->plot_path && !plot_terminal(o->plot_path))
		tool_usage_error("run", "--plot %s: the file name must end in .png or .svg",
				 o->plot_path);
	if (o->plot_path && !plot_path_ok(o->plot_path))
		tool_usage_error("run", "--plot: a file name without quotes or newlines, please");
	if (o->plot_path)
		tool_check_output_file("run", "--plot", o->plot_path);
	if (o->trace_path && !*o->trace_path)
		tool_usage_error("run", "--trace needs a file name");
	if (o->trace_path)
		tool_check_output_file("run", "--trace", o->trace_path);
	tool_profile_load("run", "--uv-profile", o->profile, prof);
	if (!host_profile_init_fits(prof, o->host_mem))
		tool_usage_error("run", "--host-mem %s is too small: the UV's %s of storage must lie above %s (init_min_origin of profile '%s') on a 1 MiB boundary",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(prof->uv_base_stor_len, b, sizeof(b)),
				 lpv_format_size(prof->init_min_origin, c, sizeof(c)),
				 prof->name);
}

static void run_on_event(void *ctx, const struct lpv_event *ev)
{
	struct run_out *out = ctx;

	if (ev->type == LPV_EVENT_BOOTED)
		__atomic_add_fetch(&out->boots, 1, __ATOMIC_RELAXED);
	flockfile(stdout);	/* whole lines beside the cleanup events */
	tool_event_print(ev, out->t0, stdout, out->json);
	fflush(stdout);
	funlockfile(stdout);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run_summary(const struct lpv_event *ev, size_t nr,
			const struct lpv_vm_result *res, struct host *host,
			const struct run_opts *o, int check)
{
	size_t n = 0;
	uint64_t *lat = calloc(nr ? nr : 1, sizeof(*lat));
	uint64_t median = 0;
	uint64_t frames = res->reclaimed_bytes / LPV_PAGE_SIZE;
	uint64_t leaked = res->leaked_bytes / LPV_PAGE_SIZE;
	struct host_stats hs;
	double tput;

	for (size_t i = 0; lat && i < nr; i++)
		if (ev[i].type == LPV_EVENT_BOOTED && ev[i].boot)
			lat[n++] = ev[i].latency_ns;
	if (n) {
		uint64_t *s = malloc(n * sizeof(*s));

		if (s) {
			memcpy(s, lat, n * sizeof(*s));
			qsort(s, n, sizeof(*s), u64_cmp);
			median = s[n / 2];
			free(s);
		}
	}
	host_stats_get(host, &hs);
	tput = res->reclaim_ns ? (double)frames * 1e9 /
				 (double)res->reclaim_ns : 0;
	if (o->json) {
		json_t *restarts = json_array();
		json_t *j;

		/* Restart k is the start of boot k (boot 0 is the first). */
		for (size_t i = 0; i < n; i++)
			json_array_append_new(restarts, json_pack("{s:I, s:I}",
				"boot", (json_int_t)(i + 1),
				"latency_ns", (json_int_t)lat[i]));
		j = json_pack("{s:s, s:s, s:s, s:I, s:i, s:s, s:i, s:o, s:I}",
			      "event", "summary",
			      "mode", tool_destroy_name(o->destroy),
			      "profile", host_profile(host)->name,
			      "guest_mem", (json_int_t)o->guest_mem,
			      "cpus", (int)o->cpus,
			      "program", o->program,
			      "boots", (int)res->exit.boots,
			      "restarts", restarts,
			      "restart_latency_median_ns", (json_int_t)median);
		json_object_update_new(j, json_pack(
			"{s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:i, s:b}",
			"exit_latency_ns", (json_int_t)res->exit.exit_latency_ns,
			"reclaim_ns", (json_int_t)res->reclaim_ns,
			"reclaim_frames", (json_int_t)frames,
			"cleanup_pages_per_s", tput,
			"oom_kills", (json_int_t)hs.mm.oom_kills,
			"oom_stall_max_ns", (json_int_t)hs.mm.oom_stall_max_ns,
			"leaked_frames", (json_int_t)leaked,
			"exit_code", res->exit.code,
			"check", !check));
		tool_json_print(stdout, j);
	} else {
		printf("\nsummary (%s teardown, %s firmware profile):\n",
		       tool_destroy_name(o->destroy), host_profile(host)->name);
		printf("  boots                %u\n", res->exit.boots);
		printf("  restart latency      ");
		for (size_t i = 0; i < n; i++)
			printf("%s%.1f ms", i ? ", " : "", (double)lat[i] / 1e6);
		if (n)
			printf("  (median %.1f ms)\n", (double)median / 1e6);
		else
			printf("none (no reboot)\n");
		printf("  exit latency         %.1f ms\n",
		       (double)res->exit.exit_latency_ns / 1e6);
		printf("  reclaim              %.1f ms for %" PRIu64 " frames (%.0f pages/s)\n",
		       (double)res->reclaim_ns / 1e6, frames, tput);
		printf("  OOM                  %" PRIu64 " kills, longest allocation stall %.1f ms\n",
		       hs.mm.oom_kills, (double)hs.mm.oom_stall_max_ns / 1e6);
		printf("  leaks                %" PRIu64 " frames\n", leaked);
		printf("  exit code            %d%s%s\n", res->exit.code,
		       res->exit.error ? ": " : "",
		       res->exit.error ? res->exit.message : "");
		printf("  invariants           %s\n", check ? "FAILED (see stderr)"
							    : "ok (mm, uv, hw)");
	}
	free(lat);
}

/*
 * What the monitor thread's signal callbacks share with the command:
 * the VM while it runs and the host while it is up (lock), whether to
 * stop, and what an abandoned run's summary says.
 */
struct run_ctl {
	pthread_mutex_t lock;
	struct lpv_vm *vm;
	struct lpv_host *lh;
	bool stop;
	struct cleanup_events *events;	/* --json: cleanup progress */
	const struct run_opts *o;
	struct run_out *out;
};

/* Each monitor sample (monitor thread): --json's cleanup events. */
static void run_on_sample(void *ctx, const struct lpv_progress *p)
{
	struct run_ctl *ctl = ctx;

	if (ctl->events)
		cleanup_events_sample(ctl->events, p);
}

/* The first SIGINT/SIGTERM: shut the guest down (monitor thread). */
static void run_on_signal(void *ctx, int signo)
{
	struct run_ctl *ctl = ctx;

	(void)signo;
	pthread_mutex_lock(&ctl->lock);
	ctl->stop = true;
	if (ctl->vm)
		ignore_result(lpv_vm_shutdown(ctl->vm));
	pthread_mutex_unlock(&ctl->lock);
}

/*
 * The second: the summary of what is known -- the guests started, what
 * was still to clean (counted as leaked) -- on stdout (--json: one
 * {"event":"abandoned",...} object), one line on stderr; the monitor
 * then exits.  stdout stays locked: no line of another thread's comes
 * after these.
 */
static void run_on_abandon(void *ctx, int signo)
{
	struct run_ctl *ctl = ctx;
	struct lpv_progress p = { 0 };
	unsigned int boots = __atomic_load_n(&ctl->out->boots, __ATOMIC_RELAXED);
	uint64_t leaked;
	char a[32];

	pthread_mutex_lock(&ctl->lock);
	if (ctl->vm)
		ignore_result(lpv_vm_progress(ctl->vm, &p));
	else if (ctl->lh)	/* the VM is gone; its host drains */
		ignore_result(lpv_host_progress(ctl->lh, &p));
	pthread_mutex_unlock(&ctl->lock);
	/* Never given back: all that is charged (a guest still running
	 * has its memory charged, not pending), or more if pending says so. */
	if (p.in_use_bytes > p.pending_bytes)
		p.pending_bytes = p.in_use_bytes;
	leaked = p.pending_bytes / LPV_PAGE_SIZE;
	lpv_format_size(p.pending_bytes, a, sizeof(a));
	/* stderr first: stdout may be a pipe nobody reads. */
	fprintf(stderr, "lazypv run: %s again: cleanup abandoned, %s still to clean (%" PRIu64 " frames counted as leaked)\n",
		strsignal(signo), a, leaked);
	flockfile(stdout);
	if (ctl->o->json) {
		tool_json_print(stdout, json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}",
			"event", "abandoned",
			"signal", sigabbrev_np(signo) ? sigabbrev_np(signo) : "?",
			"mode", tool_destroy_name(ctl->o->destroy),
			"boots", (int)boots,
			"to_clean_bytes", (json_int_t)p.pending_bytes,
			"leaked_frames", (json_int_t)leaked));
	} else {
		printf("\nabandoned by a second SIG%s: the cleanup was not waited for; the summary covers the run so far\n",
		       sigabbrev_np(signo) ? sigabbrev_np(signo) : "?");
		printf("\nsummary (%s teardown, abandoned):\n",
		       tool_destroy_name(ctl->o->destroy));
		printf("  boots                %u\n", boots);
		printf("  still to clean       %s\n", a);
		printf("  leaks                %" PRIu64 " frames (abandoned: counted as leaked)\n",
		       leaked);
	}
	fflush(stdout);
}

static bool run_should_stop(struct run_ctl *ctl)
{
	bool stop;

	pthread_mutex_lock(&ctl->lock);
	stop = ctl->stop;
	pthread_mutex_unlock(&ctl->lock);
	return stop;
}

/* Idle guests never ask for anything: the host plays the operator -- K
 * resets (each returns once the new guest runs), then the shutdown. */
static void run_drive(struct lpv_vm *vm, const struct run_opts *o,
		      struct run_ctl *ctl)
{
	for (unsigned int k = 0; k < o->reboots; k++) {
		if (run_should_stop(ctl))
			return;	/* the signal asked for the shutdown */
		if (lpv_vm_reboot(vm))
			return;	/* it ended on its own */
	}
	if (!run_should_stop(ctl))
		ignore_result(lpv_vm_shutdown(vm));
}

/* --plot: the monitor's series, the timeline's phases as marks. */
static int run_plot(const struct lpv_event *ev, size_t nr_ev,
		    struct monitor *mon, const struct run_opts *o, uint64_t t0)
{
	size_t nr, nm = 0;
	struct monitor_sample *s = monitor_samples(mon, &nr);
	struct plot_mark *marks = calloc(nr_ev ? nr_ev : 1, sizeof(*marks));
	char title[200], err[300], a[32];
	int r = -ENOMEM;

	if (!s || !marks)
		goto out;
	for (size_t i = 0; i < nr_ev; i++) {
		const char *what = NULL;
		char buf[48];

		switch (ev[i].type) {
		case LPV_EVENT_BOOTED:
			snprintf(buf, sizeof(buf), "guest %u starts", ev[i].boot);
			what = buf;
			break;
		case LPV_EVENT_REBOOT:
			what = "reboot request";
			break;
		case LPV_EVENT_SHUTDOWN:
			what = "shutdown request";
			break;
		case LPV_EVENT_EXIT:
			what = "VMM exited";
			break;
		case LPV_EVENT_CLEANUP_DONE:
			if (!ev[i].code)
				what = "reclaimed";
			break;
		default:
			break;
		}
		if (!what)
			continue;
		marks[nm].t_s = ev[i].t_ns >= t0 ?
				(double)(ev[i].t_ns - t0) / 1e9 : 0;
		snprintf(marks[nm].label, sizeof(marks[nm].label), "%s", what);
		nm++;
	}
	snprintf(title, sizeof(title), "lazypv run: %s guest, %s teardown, %u reboot%s, program %s",
		 lpv_format_size(o->guest_mem, a, sizeof(a)),
		 tool_destroy_name(o->destroy), o->reboots,
		 o->reboots == 1 ? "" : "s", o->program);
	r = plot_memory_timeline(o->plot_path, title, s, nr, t0, marks, nm,
				 mon, err, sizeof(err));
	if (r)
		fprintf(stderr, "lazypv run: --plot %s: %s\n", o->plot_path, err);
out:
	free(marks);
	free(s);
	return r;
}

static bool run_program_is_idle(const char *spec)
{
	return (!strncmp(spec, "idle", 4) && (!spec[4] || spec[4] == ':')) ||
	       strstr(spec, "then=idle");
}


/*
 * Everything checked before the host starts: options, the environment's
 * tunables, profile, image.  The exit status to end with now (0 after
 * --help, 2 for a refused variable), or -1 to go ahead.
 */
static int run_args(int argc, char **argv, struct run_opts *o,
		    struct uv_profile *prof, struct lpv_image **img)
{
	struct lpv_cl_result res;
	bool help;

	*o = run_defaults;
	help = tool_parse_options(&cmd_run_cl, argc, argv, o, &res);
	lpv_cl_release(&res);
	if (help)
		return 0;
	if (tool_env_check())
		return 2;
	run_validate(o, prof);
	if (o->image_path && lpv_image_load(o->image_path, img))
		tool_usage_error("run", "--image: %s", lpv_last_error());
	return -1;
}

int cmd_run_args(int argc, char **argv)
{
	struct lpv_image *img = NULL;
	struct uv_profile prof;
	struct run_opts o;
	int status = run_args(argc, argv, &o, &prof, &img);

	lpv_image_destroy(img);
	return status;
}

/*
 * The VM of @o on @lh: 0, or the exit status with the one line said --
 * 2 for what the user asked that this host refuses (sizes, the memcg
 * limit, another host key), 1 otherwise.
 */
static int run_vm_create(struct lpv_host *lh, const struct run_opts *o,
			 const struct lpv_image *img, struct run_out *out,
			 struct lpv_vm **vm)
{
	struct lpv_vm_config vc;
	uint64_t min;
	int r;

	lpv_vm_config_init(&vc);
	vc.guest_mem = o->guest_mem;
	vc.cpus = o->cpus;
	vc.teardown = tool_destroy_name(o->destroy);
	vc.program = o->program;
	vc.image = img;
	vc.payload_bytes = o->payload_size;
	vc.max_reboots = run_program_is_idle(o->program) ? -1 : (int)o->reboots;
	vc.on_event = run_on_event;
	vc.event_ctx = out;
	if (o->memcg_limit) {
		r = lpv_vm_memcg_min(lh, &vc, &min);
		if (!r && o->memcg_limit < min) {
			char a[32], b[32];

			fprintf(stderr, "lazypv run: --memcg-limit %s is below the %s a protected boot of this guest needs (its image, the UV's storage, page tables)\n",
				lpv_format_size(o->memcg_limit, a, sizeof(a)),
				lpv_format_size(min, b, sizeof(b)));
			return 2;
		}
		vc.memcg_limit = o->memcg_limit;
	}
	r = lpv_vm_create(lh, &vc, vm);
	switch (r) {
	case 0:
		return 0;
	case -EKEYREJECTED:
		fprintf(stderr, "lazypv run: --image %s was built for another host key (use the same --uv-seed as mkimage)\n",
			o->image_path);
		return 2;
	case -EINVAL:
	case -E2BIG:
	case -ENOSPC:
		fprintf(stderr, "lazypv run: %s\n", lpv_last_error());
		return 2;
	default:
		fprintf(stderr, "lazypv run: %s\n", lpv_last_error());
		return 1;
	}
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct host_config hc;
	struct lpv_image *img = NULL;
	struct lpv_vm_result res = { 0 };
	struct run_out out = { 0 };
	struct uv_profile prof;
	struct run_ctl ctl = { .lock = PTHREAD_MUTEX_INITIALIZER, .o = &o,
			       .out = &out };
	struct cleanup_events events;
	struct monitor *mon = NULL;
	struct lpv_event *ev = NULL;
	struct lpv_host *lh = NULL;
	struct lpv_vm *vm = NULL;
	struct host *host;
	long nr_ev = 0;
	char err[200];
	int r, status = 1, check, signo = 0;

	r = run_args(argc, argv, &o, &prof, &img);
	if (r >= 0)
		return r;
	cleanup_events_init(&events, stdout);
	if (o.json)
		ctl.events = &events;
	if (o.plot_path && !plot_have_gnuplot()) {
		fprintf(stderr, "lazypv run: --plot needs gnuplot, which is not installed (Debian: apt-get install gnuplot-nox)\n");
		status = PLOT_EXIT_NO_GNUPLOT;
		goto out_img;
	}
	/* Before any thread exists: the monitor takes them all. */
	r = monitor_block_signals();
	if (!r && o.trace_path)
		r = trace_start(0);
	if (!r) {
		struct monitor_config mc = {
			.cmd = "run",
			.quiet = o.quiet,
			.series = o.plot_path,
			.on_signal = run_on_signal,
			.on_abandon = run_on_abandon,
			.on_sample = run_on_sample,
			.ctx = &ctl,
		};

		r = monitor_start(&mc, &mon);
	}
	if (r) {
		fprintf(stderr, "lazypv run: cannot start: %s\n", strerror(-r));
		goto out_img;
	}
	trace_thread_name("lazypv run");

	if (host_config_init(&hc))
		goto out_img;		/* checked by run_args: not again */
	hc.mem_bytes = o.host_mem;
	hc.protect = o.protect;
	hc.profile = prof;
	hc.uv_seed = o.seed;
	hc.populate = o.populate;
	hc.populate_progress = monitor_populate_progress;
	hc.populate_ctx = mon;
	status = tool_host_create(&hc, &host, "run");
	if (status)
		goto out_img;
	status = tool_lpv_host(host, &lh, "run");
	if (status)
		goto out_host;
	pthread_mutex_lock(&ctl.lock);
	ctl.lh = lh;
	pthread_mutex_unlock(&ctl.lock);
	status = run_vm_create(lh, &o, img, &out, &vm);
	if (status)
		goto out_lh;
	status = 1;

	out.json = o.json;
	out.t0 = lpv_now_ns();
	if (!o.json) {
		char a[32], b[32];

		printf("lazypv run: %s guest, %u vCPU%s, program %s, %u reboot%s, %s teardown, %s firmware, %s host (%s protection)\n",
		       lpv_format_size(o.guest_mem, a, sizeof(a)), o.cpus,
		       o.cpus == 1 ? "" : "s", o.program, o.reboots,
		       o.reboots == 1 ? "" : "s", tool_destroy_name(o.destroy),
		       host_profile(host)->name,
		       lpv_format_size(o.host_mem, b, sizeof(b)),
		       host_protect_mode_name(host_protect_mode(host)));
		fflush(stdout);
	}
	pthread_mutex_lock(&ctl.lock);
	ctl.vm = vm;
	pthread_mutex_unlock(&ctl.lock);
	monitor_watch(mon, vm, NULL);
	/* -ESRCH: it exited before its first instruction; the wait below
	 * collects why.  A signal meanwhile shuts it down. */
	r = lpv_vm_boot(vm);
	if (r && r != -ESRCH) {
		fprintf(stderr, "lazypv run: %s\n", lpv_vm_last_error(vm));
		goto out_vm;
	}
	if (run_should_stop(&ctl))
		ignore_result(lpv_vm_shutdown(vm));
	else if (!r && run_program_is_idle(o.program))
		run_drive(vm, &o, &ctl);
	r = lpv_vm_wait_cleanup(vm, LPV_WAIT_FOREVER);
	if (lpv_vm_result(vm, &res) && !r)
		r = -EIO;
	nr_ev = lpv_vm_timeline(vm, NULL, 0);
	if (nr_ev > 0) {
		ev = calloc((size_t)nr_ev, sizeof(*ev));
		if (!ev || lpv_vm_timeline(vm, ev, (size_t)nr_ev) != nr_ev)
			nr_ev = 0;
	}
	if (nr_ev <= 0 && !r)
		r = -ENOMEM;
	monitor_watch(mon, NULL, NULL);
	pthread_mutex_lock(&ctl.lock);
	ctl.vm = NULL;
	pthread_mutex_unlock(&ctl.lock);
	cleanup_events_finish(&events, vm);	/* the summary comes last */
	/* Every event's line is out before the summary's. */
	lpv_vm_destroy(vm);
	vm = NULL;
	check = host_check(host);
	signo = monitor_signal(mon);
	if (signo && o.json)
		tool_json_print(stdout, tool_json_interrupted(signo));
	else if (signo)
		printf("\ninterrupted by SIG%s: the guest was shut down and its cleanup drained; the summary covers the run so far\n",
		       sigabbrev_np(signo));
	run_summary(ev, nr_ev > 0 ? (size_t)nr_ev : 0, &res, host, &o, check);
	status = !r && !check && !res.exit.code && !res.exit.error ? 0 : 1;
	if (o.plot_path && run_plot(ev, nr_ev > 0 ? (size_t)nr_ev : 0, mon,
				    &o, out.t0) && !status)
		status = 1;
	/* A corrupted image is the user's input: one line, exit 2. */
	if (res.exit.error == -EBADMSG && !check) {
		fprintf(stderr, "lazypv run: %s%s: %s\n",
			o.image_path ? "--image " : "the built-in image",
			o.image_path ? o.image_path : "", res.exit.message);
		status = 2;
	}
out_vm:
	if (vm) {
		monitor_watch(mon, NULL, NULL);
		pthread_mutex_lock(&ctl.lock);
		ctl.vm = NULL;
		pthread_mutex_unlock(&ctl.lock);
		lpv_vm_destroy(vm);
	}
out_lh:
	pthread_mutex_lock(&ctl.lock);
	ctl.lh = NULL;
	pthread_mutex_unlock(&ctl.lock);
	lpv_host_destroy(lh);
out_host:
	host_destroy(host);
out_img:
	/* After the host: a second signal during its drain still abandons. */
	if (mon) {
		if (!signo)
			signo = monitor_signal(mon);
		monitor_stop(mon);
	}
	if (o.trace_path && trace_on()) {
		trace_stop();
		if (trace_write_chrome(o.trace_path, err, sizeof(err))) {
			fprintf(stderr, "lazypv run: --trace: %s\n", err);
			if (!status)
				status = 1;
		}
		trace_reset();
	}
	free(ev);
	lpv_image_destroy(img);
	return signo ? 128 + signo : status;
}
