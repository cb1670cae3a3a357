// SPDX-License-Identifier: MIT
/*
 * cmd_run.c - `lazypv run`: bring the host up, boot one protected guest,
 * let it reboot K times, shut it down, and print the timeline -- boot,
 * each restart latency, exit latency, reclaim, leaks -- as text or as one
 * JSON object per line, then a summary with the figures of ARCHITECTURE.md
 * §5 and the result of the invariant checks.
 *
 * Every option is checked before anything starts (bad ones exit 2 with one
 * line on stderr).  Single-threaded except for the event callback, which
 * the VMM calls from its own threads, serialised by the VMM's lock.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "kvm/kvm.h"
#include "lazypv/lazypv.h"
#include "lib/lib.h"
#include "mm/mm.h"
#include "tools.h"
#include "uv/uv.h"
#include "vmm/vmm.h"

#define RUN_MAX_REBOOTS 100000

struct run_opts {
	uint64_t guest_mem, host_mem, memcg_limit, payload_size;
	unsigned int cpus, reboots;
	const char *program, *profile, *seed, *image_path;
	enum vmm_destroy_mode destroy;
	enum hw_protect_mode protect;
	bool json;
};

struct run_out {
	bool json;
	uint64_t t0;
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: lazypv run [--guest-mem SIZE] [--host-mem SIZE] [--cpus N]\n"
		"                  [--program NAME[:ARGS]] [--reboots K]\n"
		"                  [--destroy sync|sync-6.0|lazy|async|instant]\n"
		"                  [--uv-profile NAME|FILE] [--memcg-limit SIZE] [--json]\n"
		"                  [--image FILE] [--uv-seed STRING] [--payload-size SIZE]\n"
		"                  [--protect auto|guard|soft]\n"
		"\n"
		"Boot one protected guest, let it reboot K times, shut it down, and print\n"
		"the timeline: boot, each restart latency (reboot request -> first\n"
		"instruction of the new protected guest), exit latency (shutdown request\n"
		"-> the VMM's parent sees it exit), reclaim (every frame free and\n"
		"uncharged), leaks.\n"
		"\n"
		"  --guest-mem SIZE     guest memory, 1 MiB multiple (default 128M)\n"
		"  --host-mem SIZE      host physical memory (default 3G; populated only\n"
		"                       as used; the UV's storage must lie above the\n"
		"                       profile's init_min_origin, 2 GiB by default)\n"
		"  --cpus N             vCPUs (default 1)\n"
		"  --program SPEC       guest program NAME[:key=value,...] (default touch);\n"
		"                       programs: %s; keys: rounds, then, mib, at,\n"
		"                       ops, seed, pages (see docs/vmm.md)\n"
		"  --reboots K          reboots honoured before a reboot becomes the\n"
		"                       shutdown (default 2); idle guests get K external\n"
		"                       resets from the host instead\n"
		"  --destroy MODE       teardown design: sync (before the series,\n"
		"                       memory first; the default), sync-6.0 (Linux\n"
		"                       6.0: config first, destroy at exit), lazy (the\n"
		"                       seed: KVM cleanup threads, set-aside list at\n"
		"                       exit, OOM notifier) or async (Linux 6.2 + QEMU\n"
		"                       8: PREPARE/PERFORM from a VMM thread, CLONE_VM\n"
		"                       teardown helper); the kvm module's fences turn\n"
		"                       lazy into sync, async into sync-6.0\n"
		"                       (LAZYPV_KVM_LAZY_DESTROY, _ASYNC_DESTROY)\n"
		"  --uv-profile P       firmware profile: default, zero, old, or a file\n"
		"  --memcg-limit SIZE   memory cgroup limit of the VMM (default none)\n"
		"  --image FILE         boot an image made by 'lazypv mkimage' (with the\n"
		"                       same --uv-seed) instead of building one; its\n"
		"                       program is sealed in it, so say it with --program\n"
		"                       if it idles (the host then drives resets)\n"
		"  --uv-seed STRING     seed of the UV's host key (default \"%s\")\n"
		"  --payload-size SIZE  size of the built-in image's payload (default 4M)\n"
		"  --protect MODE       host-view protection (default auto)\n"
		"  --json               one JSON object per event, then a summary object\n",
		vmm_program_names(), VMM_DEFAULT_UV_SEED);
}

static uint64_t parse_size_opt(const char *opt, const char *arg)
{
	return tool_parse_size("run", opt, arg);
}

static unsigned int parse_uint_opt(const char *opt, const char *arg,
				   unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || !*arg || *end || *arg == '-' || v > max)
		tool_usage_error("run", "--%s takes a number 0..%u, not '%s'",
				 opt, max, arg);
	return (unsigned int)v;
}

/* Returns true if --help was asked for (and printed). */
static bool run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "guest-mem", required_argument, NULL, 'g' },
		{ "host-mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "program", required_argument, NULL, 'p' },
		{ "reboots", required_argument, NULL, 'r' },
		{ "destroy", required_argument, NULL, 'd' },
		{ "uv-profile", required_argument, NULL, 'u' },
		{ "memcg-limit", required_argument, NULL, 'l' },
		{ "image", required_argument, NULL, 'i' },
		{ "uv-seed", required_argument, NULL, 's' },
		{ "payload-size", required_argument, NULL, 'P' },
		{ "protect", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			o->guest_mem = parse_size_opt("guest-mem", optarg);
			break;
		case 'm':
			o->host_mem = parse_size_opt("host-mem", optarg);
			break;
		case 'c':
			o->cpus = parse_uint_opt("cpus", optarg, 1000000);
			break;
		case 'p':
			o->program = optarg;
			break;
		case 'r':
			o->reboots = parse_uint_opt("reboots", optarg, RUN_MAX_REBOOTS);
			break;
		case 'd':
			if (vmm_destroy_mode_parse(optarg, &o->destroy))
				tool_usage_error("run", "--destroy takes sync, sync-6.0, lazy or async, not '%s'",
						 optarg);
			break;
		case 'u':
			o->profile = optarg;
			break;
		case 'l':
			o->memcg_limit = parse_size_opt("memcg-limit", optarg);
			break;
		case 'i':
			o->image_path = optarg;
			break;
		case 's':
			o->seed = optarg;
			break;
		case 'P':
			o->payload_size = parse_size_opt("payload-size", optarg);
			break;
		case 'x':
			if (!strcmp(optarg, "auto"))
				o->protect = HW_PROTECT_AUTO;
			else if (!strcmp(optarg, "guard"))
				o->protect = HW_PROTECT_GUARD;
			else if (!strcmp(optarg, "soft"))
				o->protect = HW_PROTECT_SOFT;
			else
				tool_usage_error("run", "--protect takes auto, guard or soft, not '%s'",
						 optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			run_usage(stdout);
			return true;
		default:
			tool_option_error("run", c, argv, longopts);
		}
	}
	if (optind < argc)
		tool_usage_error("run", "unexpected argument '%s'", argv[optind]);
	return false;
}

/* What can be said without starting anything. */
static void run_validate(const struct run_opts *o, struct uv_profile *prof)
{
	char err[200], a[32], b[32], c[32];

	if (!o->cpus)
		tool_usage_error("run", "--cpus must be at least 1");
	if (o->cpus > VMM_MAX_CPUS)
		tool_usage_error("run", "--cpus %u exceeds the maximum of %d",
				 o->cpus, VMM_MAX_CPUS);
	if (!o->guest_mem || o->guest_mem % (1ULL << 20))
		tool_usage_error("run", "--guest-mem must be a non-zero multiple of 1 MiB");
	if (!o->host_mem || o->host_mem % HW_PAGE_SIZE)
		tool_usage_error("run", "--host-mem must be a non-zero multiple of 4 KiB");
	if (hw_backable_bytes() && o->host_mem > hw_backable_bytes())
		tool_usage_error("run", "--host-mem %s is out of range: this machine can back at most %s now (MemAvailable)",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(hw_backable_bytes(), b, sizeof(b)));
	if (o->guest_mem >= o->host_mem)
		tool_usage_error("run", "--guest-mem %s does not fit in --host-mem %s",
				 lpv_format_size(o->guest_mem, a, sizeof(a)),
				 lpv_format_size(o->host_mem, b, sizeof(b)));
	if (o->payload_size > o->guest_mem / 2)
		tool_usage_error("run", "--payload-size must be at most half the guest memory");
	if (vmm_program_check(o->program, err, sizeof(err)))
		tool_usage_error("run", "--program: %s", err);
	/* The built-in image: the boot page, then the payload. */
	if (!o->image_path &&
	    vmm_program_check_fit(o->program, o->guest_mem, o->cpus,
				  1 + ((o->payload_size ? o->payload_size :
					VMM_IMAGE_DEFAULT_PAYLOAD) +
				       HW_PAGE_SIZE - 1) / HW_PAGE_SIZE,
				  err, sizeof(err)))
		tool_usage_error("run", "--program %s: %s (--guest-mem %s, %u vCPU%s)",
				 o->program, err,
				 lpv_format_size(o->guest_mem, a, sizeof(a)),
				 o->cpus, o->cpus == 1 ? "" : "s");
	if (uv_profile_load(o->profile, prof, err, sizeof(err)))
		tool_usage_error("run", "--uv-profile: %s", err[0] ? err :
				 "unknown profile");
	if (!uv_profile_init_fits(prof, o->host_mem, NULL))
		tool_usage_error("run", "--host-mem %s is too small: the UV's %s of storage must lie above %s (init_min_origin of profile '%s') on a 1 MiB boundary",
				 lpv_format_size(o->host_mem, a, sizeof(a)),
				 lpv_format_size(prof->uv_base_stor_len, b, sizeof(b)),
				 lpv_format_size(prof->init_min_origin, c, sizeof(c)),
				 prof->name);
}

static void run_on_event(void *ctx, const struct vmm_event *ev)
{
	struct run_out *out = ctx;

	vmm_event_print(ev, out->t0, stdout, out->json);
	fflush(stdout);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run_summary(struct vmm *vmm, const struct vmm_result *res,
			struct vmm_host *host, const struct run_opts *o,
			int check)
{
	size_t nr, n = 0;
	const struct vmm_event *ev = vmm_events(vmm, &nr);
	uint64_t *lat = calloc(nr ? nr : 1, sizeof(*lat));
	uint64_t median = 0;
	struct mm_stats st;
	double tput;

	for (size_t i = 0; lat && i < nr; i++)
		if (ev[i].type == VMM_EV_GUEST_START && ev[i].boot)
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
	mm_stats_get(host->world, &st);
	tput = res->reclaim_ns ? (double)res->reclaimed_frames * 1e9 /
				 (double)res->reclaim_ns : 0;
	if (o->json) {
		printf("{\"event\":\"summary\",\"mode\":\"%s\",\"profile\":",
		       vmm_destroy_mode_name(o->destroy));
		lpv_json_str(stdout, host->profile.name);
		printf(",\"guest_mem\":%" PRIu64 ",\"cpus\":%u,\"program\":",
		       o->guest_mem, o->cpus);
		lpv_json_str(stdout, o->program);
		printf(",\"boots\":%u,\"restart_latency_ns\":[", res->boots);
		for (size_t i = 0; i < n; i++)
			printf("%s%" PRIu64, i ? "," : "", lat[i]);
		printf("],\"restart_latency_median_ns\":%" PRIu64
		       ",\"exit_latency_ns\":%" PRIu64 ",\"reclaim_ns\":%" PRIu64
		       ",\"reclaim_frames\":%" PRIu64 ",\"cleanup_pages_per_s\":%.0f"
		       ",\"oom_kills\":%" PRIu64 ",\"oom_stall_max_ns\":%" PRIu64
		       ",\"leaked_frames\":%" PRIu64 ",\"exit_code\":%d,\"check\":%s}\n",
		       median, res->exit_latency_ns, res->reclaim_ns,
		       res->reclaimed_frames, tput, st.oom_kills,
		       st.oom_stall_max_ns, res->leaked_frames, res->exit_code,
		       check ? "false" : "true");
	} else {
		printf("\nsummary (%s teardown, %s firmware profile):\n",
		       vmm_destroy_mode_name(o->destroy), host->profile.name);
		printf("  boots                %u\n", res->boots);
		printf("  restart latency      ");
		for (size_t i = 0; i < n; i++)
			printf("%s%.1f ms", i ? ", " : "", (double)lat[i] / 1e6);
		if (n)
			printf("  (median %.1f ms)\n", (double)median / 1e6);
		else
			printf("none (no reboot)\n");
		printf("  exit latency         %.1f ms\n",
		       (double)res->exit_latency_ns / 1e6);
		printf("  reclaim              %.1f ms for %" PRIu64 " frames (%.0f pages/s)\n",
		       (double)res->reclaim_ns / 1e6, res->reclaimed_frames, tput);
		printf("  OOM                  %" PRIu64 " kills, longest allocation stall %.1f ms\n",
		       st.oom_kills, (double)st.oom_stall_max_ns / 1e6);
		printf("  leaks                %" PRIu64 " frames\n", res->leaked_frames);
		printf("  exit code            %d%s%s\n", res->exit_code,
		       res->error ? ": " : "", res->error ? res->message : "");
		printf("  invariants           %s\n", check ? "FAILED (see stderr)"
							    : "ok (mm, uv, hw)");
	}
	free(lat);
}

/* Idle guests never ask for anything: the host plays the operator. */
static void run_drive(struct vmm *vmm, const struct run_opts *o)
{
	for (unsigned int k = 0; k <= o->reboots; k++) {
		if (vmm_wait_booted(vmm, k))
			return;	/* it ended on its own */
		if (k < o->reboots ? vmm_request_reset(vmm)
				   : vmm_request_shutdown(vmm))
			return;
	}
}

static bool run_program_is_idle(const char *spec)
{
	return (!strncmp(spec, "idle", 4) && (!spec[4] || spec[4] == ':')) ||
	       strstr(spec, "then=idle");
}

static const struct run_opts run_defaults = {
	.guest_mem = 128ULL << 20,
	.host_mem = 3ULL << 30,
	.cpus = 1,
	.reboots = 2,
	.program = "touch",
	.destroy = VMM_DESTROY_SYNC,
};

/* Everything checked before the host starts: options, profile, image. */
static bool run_args(int argc, char **argv, struct run_opts *o,
		     struct uv_profile *prof, struct vmm_image *img)
{
	char err[200];

	*o = run_defaults;
	if (run_parse(argc, argv, o))
		return true;
	run_validate(o, prof);
	if (o->image_path && vmm_image_load(o->image_path, img, err, sizeof(err)))
		tool_usage_error("run", "--image: %s", err);
	return false;
}

int cmd_run_args(int argc, char **argv)
{
	struct vmm_image img = { 0 };
	struct uv_profile prof;
	struct run_opts o;
	bool help = run_args(argc, argv, &o, &prof, &img);

	vmm_image_release(&img);
	return help ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct vmm_host_config hc = { 0 };
	struct vmm_image img = { 0 };
	struct vmm_result res = { 0 };
	struct run_out out = { 0 };
	struct vmm_config vc = { 0 };
	struct uv_profile prof;
	struct vmm_host *host;
	struct vmm *vmm;
	void *buf = NULL;
	size_t len = 0;
	char err[200];
	int r, status = 1, check;

	if (run_args(argc, argv, &o, &prof, &img))
		return 0;

	hc.host_mem = o.host_mem;
	hc.protect = o.protect;
	hc.uv_profile = o.profile;
	hc.uv_seed = o.seed;
	r = vmm_host_create(&hc, &host, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv run: %s\n", err);
		status = r == -E2BIG || r == -EINVAL || r == -ENOENT ? 2 : 1;
		goto out_img;
	}
	if (o.image_path && memcmp(img.host_pub, host->host_pub, UV_HOST_KEY_LEN)) {
		fprintf(stderr, "lazypv run: --image %s was built for another host key (use the same --uv-seed as mkimage)\n",
			o.image_path);
		status = 2;
		goto out_host;
	}
	if (!o.image_path) {
		struct vmm_image_spec spec = {
			.program = o.program,
			.default_payload_len = o.payload_size,
		};

		r = vmm_image_build(&spec, host->host_pub, &buf, &len, err, sizeof(err));
		if (!r)
			r = vmm_image_parse(buf, len, &img, err, sizeof(err));
		if (r) {
			fprintf(stderr, "lazypv run: building the image: %s\n", err);
			goto out_host;
		}
	}
	vc.guest_mem = o.guest_mem;
	vc.cpus = o.cpus;
	vc.destroy = o.destroy;
	vc.memcg_limit = o.memcg_limit;
	vc.image = &img;
	vc.max_reboots = run_program_is_idle(o.program) ? -1 : (int)o.reboots;
	vc.on_event = run_on_event;
	vc.event_ctx = &out;
	if (o.memcg_limit && o.memcg_limit < vmm_boot_min_bytes(host, &vc)) {
		char a[32], b[32];

		fprintf(stderr, "lazypv run: --memcg-limit %s is below the %s a protected boot of this guest needs (its image, the UV's storage, page tables)\n",
			lpv_format_size(o.memcg_limit, a, sizeof(a)),
			lpv_format_size(vmm_boot_min_bytes(host, &vc), b, sizeof(b)));
		status = 2;
		goto out_host;
	}
	r = vmm_config_check(host, &vc, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lazypv run: %s\n", err);
		status = 2;
		goto out_host;
	}

	out.json = o.json;
	out.t0 = hw_now_ns();
	if (!o.json) {
		char a[32], b[32];

		printf("lazypv run: %s guest, %u vCPU%s, program %s, %u reboot%s, %s teardown, %s firmware, %s host (%s protection)\n",
		       lpv_format_size(o.guest_mem, a, sizeof(a)), o.cpus,
		       o.cpus == 1 ? "" : "s", o.program, o.reboots,
		       o.reboots == 1 ? "" : "s", vmm_destroy_mode_name(o.destroy),
		       host->profile.name, lpv_format_size(o.host_mem, b, sizeof(b)),
		       hw_protect_mode_name(hw_protect_mode(host->hw)));
		fflush(stdout);
	}
	r = vmm_create(host, &vc, &vmm);
	if (r) {
		fprintf(stderr, "lazypv run: cannot start the VMM: %s\n", strerror(-r));
		goto out_host;
	}
	if (run_program_is_idle(o.program))
		run_drive(vmm, &o);
	r = vmm_wait(vmm, &res);
	check = vmm_host_check(host);
	run_summary(vmm, &res, host, &o, check);
	status = !r && !check && !res.exit_code && !res.error ? 0 : 1;
	/* A corrupted image is the user's input: one line, exit 2. */
	if (res.error == -EBADMSG && !check) {
		fprintf(stderr, "lazypv run: %s%s: %s\n",
			o.image_path ? "--image " : "the built-in image",
			o.image_path ? o.image_path : "", res.message);
		status = 2;
	}
	vmm_destroy(vmm);
out_host:
	vmm_host_destroy(host);
out_img:
	vmm_image_release(&img);
	free(buf);
	return status;
}
