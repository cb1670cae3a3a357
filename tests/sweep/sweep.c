// SPDX-License-Identifier: MIT
/*
 * sweep.c - the failure-point sweep of sweep.h.
 *
 * One life = a fresh host stack (256 MiB machine, `zero` firmware profile
 * so only real work costs time, clear_low 1 MiB so the deferred modes'
 * background cleanup has pages to do) and one VMM: a 16 MiB protected
 * guest with one vCPU runs `touch:mib=1`, reboots by diag 308 into a new
 * protected guest, which touches its memory again and asks to reboot; the
 * reboot limit (1) turns that into the shutdown.  Every life runs in a
 * forked child: a crash or a hang costs that run only, and the parent
 * kills a child that misses its deadline (a hang is a violation).
 *
 * The counting run learns, per UVC command, how many calls the host's
 * creation issues (the UV numbers injected calls from its creation) and
 * how many the life issues, and records every page allocation of the life
 * (mm_fail_set with nth 0).  A run then arms exactly one point: an inject
 * line of the firmware profile (`<cmd> nth=<creation calls + k>`, cc 1,
 * SWEEP_UV_RC) or mm_fail_set(nth = k) after the host is up.
 *
 * Threads: the parent is single-threaded (it never creates a host), so
 * fork() is safe; each child builds and tears down its own stack.
 */
#include "sweep.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_HOST_MEM (256ULL << 20)
#define SWEEP_GUEST_MEM (16ULL << 20)
#define SWEEP_PROGRAM "touch:mib=1"
#define SWEEP_PAYLOAD (16 * 1024)
#define SWEEP_CLEAR_LOW (1ULL << 20)
#define SWEEP_MAX_ALLOCS (1u << 16)

/* Every command of the UV's list (UV_CMDS), by row. */
#define SWEEP_NR_CMDS UV_NR_CMDS
#define sweep_cmd(i) uv_cmd_code((int)(i))

#define LEAK(r) (1u << MM_LEAK_##r)

/*
 * Where in the life a point lies, from the counting run's timeline: the
 * boot (to the first guest's first instruction), the guests running (0x3e
 * imports), the reboot (request to the new guest's first instruction:
 * teardown of the old config and the new boot), the shutdown (request to
 * the end of reclaim, background cleanup included).  Background work of
 * lazy and async may overlap the next phase; the label is the counting
 * run's.
 */
enum sweep_phase { PH_BOOT, PH_GUEST, PH_REBOOT, PH_SHUTDOWN, PH_NR };
static const char *const phase_names[PH_NR] = {
	"boot", "guest", "reboot", "shutdown",
};
/* Phase changes of one life: boot, guest, reboot, guest, shutdown. */
#define SWEEP_MAX_BOUNDS 8

/*
 * The leaks a failed command explains.  A CPU that cannot be destroyed
 * keeps its config alive (DESTROY_SEC_CONF then fails with "CPUs left"),
 * so its storage leaks too.  Everything else -- imports, lifecycle calls
 * before the guest runs, allocations -- must leak nothing.  A leak of
 * secure_at_free is never explained: the free list is not where failures
 * are handled (docs/kvm.md).
 */
static unsigned int sweep_leaks_allowed(bool uvc, uint16_t cmd)
{
	if (!uvc)
		return 0;
	switch (cmd) {
	case UVC_CMD_DESTROY_SEC_CONF:
	case UVC_CMD_DESTROY_SEC_CONF_FAST:
		return LEAK(conf_destroy_failed);
	case UVC_CMD_DESTROY_SEC_CPU:
		return LEAK(cpu_destroy_failed) | LEAK(conf_destroy_failed);
	case UVC_CMD_CONV_FROM_SEC_STOR:
		return LEAK(export_failed) | LEAK(destroy_failed);
	case UVC_CMD_DESTR_SEC_STOR:
		return LEAK(destroy_failed);
	default:
		return 0;
	}
}

/* ---- one life, in a child ---- */

struct life_in {
	enum vmm_destroy_mode mode;
	bool count;		/* the counting run */
	bool uvc;		/* else an allocation */
	uint16_t cmd;
	uint64_t nth;		/* absolute: the UV's or mm_fail's number */
};

struct alloc_rec {
	uint8_t kind, gfp, use, charged;
};

struct life_out {
	bool violation;
	bool fired;
	int create_ret, wait_ret;
	int exit_code, error;
	unsigned int boots;
	uint64_t leaks[MM_LEAK_NR];
	uint64_t ms;
	char why[240];
	char message[128];
	/* counting run: calls at creation, in the life, and in the life
	 * before each phase began */
	uint64_t uv_base[SWEEP_NR_CMDS], uv_life[SWEEP_NR_CMDS];
	uint64_t nr_allocs;
	unsigned int nr_bounds;
	struct {
		enum sweep_phase phase;
		uint64_t uv[SWEEP_NR_CMDS], alloc;
	} bound[SWEEP_MAX_BOUNDS];
};

struct phase_ctx {
	struct vmm_host *host;
	struct life_out *out;
	const uint64_t *uv_base;	/* calls when the life began */
	enum sweep_phase phase;
};

struct alloc_log {
	struct alloc_rec *rec;
	uint64_t cap;
};

static void alloc_note(void *ctx, uint64_t n, const struct mm_alloc_info *info,
		       bool failed)
{
	struct alloc_log *log = ctx;

	(void)failed;
	if (n - 1 < log->cap)
		log->rec[n - 1] = (struct alloc_rec){
			.kind = (uint8_t)info->kind, .gfp = (uint8_t)info->gfp,
			.use = (uint8_t)info->use, .charged = info->charged };
}

static uint64_t cmd_calls(const struct uv_stats *st, uint16_t cmd)
{
	int i = uv_cmd_index(cmd);
	uint64_t n = 0;

	if (i < 0)
		return 0;
	for (int k = 0; k < 4; k++)
		n += st->cmd[i].cc[k];
	return n;
}

/* Counting run: note where each phase begins (the calls made before it).
 * Runs under the VMM's lock; reads only atomics. */
static void phase_event(void *ctx, const struct vmm_event *ev)
{
	struct phase_ctx *pc = ctx;
	struct life_out *out = pc->out;
	enum sweep_phase next;
	struct uv_stats st;
	unsigned int b;

	switch (ev->type) {
	case VMM_EV_GUEST_START:
		next = PH_GUEST;
		break;
	case VMM_EV_REBOOT_REQUEST:
		next = PH_REBOOT;
		break;
	case VMM_EV_SHUTDOWN_REQUEST:
		next = PH_SHUTDOWN;
		break;
	default:
		return;
	}
	if (next == pc->phase || pc->phase == PH_SHUTDOWN ||
	    out->nr_bounds == SWEEP_MAX_BOUNDS)
		return;
	b = out->nr_bounds++;
	uv_stats_get(pc->host->uv, &st);
	out->bound[b].phase = next;
	for (unsigned int i = 0; i < SWEEP_NR_CMDS; i++)
		out->bound[b].uv[i] = cmd_calls(&st, sweep_cmd(i)) -
				      pc->uv_base[i];
	out->bound[b].alloc = mm_fail_seen(pc->host->world);
	pc->phase = next;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define violate(out, ...)						\
	do {								\
		if (!(out)->violation)					\
			snprintf((out)->why, sizeof((out)->why), __VA_ARGS__); \
		(out)->violation = true;				\
	} while (0)

/* Frames the mm calls free must be ones the UV calls non-secure: nothing
 * the UV may own is handed out again (invariants 2 and 5). */
static void check_free_frames(struct vmm_host *host, struct life_out *out)
{
	uint64_t nr = hw_nr_frames(host->hw);

	for (hw_pfn_t pfn = 0; pfn < nr; pfn++) {
		struct page *page = mm_pfn_to_page(host->world, pfn);
		struct uv_frame_info fi;

		if (page_use(page) != PAGE_USE_FREE)
			continue;
		if (uv_frame_query(host->uv, pfn, &fi)) {
			violate(out, "pfn %#llx: uv_frame_query failed",
				(unsigned long long)pfn);
			return;
		}
		if (fi.state != UV_FRAME_NONSECURE &&
		    fi.state != UV_FRAME_EXPORTED) {
			violate(out, "pfn %#llx free in mm but %s in the UV",
				(unsigned long long)pfn,
				uv_frame_state_name(fi.state));
			return;
		}
	}
}

static void life_run(const struct life_in *in, struct life_out *out,
		     struct alloc_log *log)
{
	struct vmm_host_config hc = { .host_mem = SWEEP_HOST_MEM,
				      .uv_seed = "sweep" };
	struct vmm_image_spec spec = { .program = SWEEP_PROGRAM,
				       .default_payload_len = SWEEP_PAYLOAD,
				       .nonce = 0x5eed };
	struct mm_fail_config fc = { .any_use = true };
	uint64_t uv_start[SWEEP_NR_CMDS];
	struct phase_ctx pc = { .out = out, .uv_base = uv_start };
	struct mm_stats before, after;
	struct uv_stats ub, ua;
	struct uv_profile prof;
	struct kvm_params kp;
	struct vmm_image image;
	struct vmm_result res;
	struct vmm_config cfg;
	struct vmm_host *host;
	struct vmm *vmm = NULL;
	void *buf = NULL;
	size_t len;
	char err[200] = "";
	uint64_t t0, leaked_before = 0, leaked_after = 0;
	unsigned int allowed;

	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	if (uv_profile_builtin("zero", &prof) || kvm_params_init(&kp)) {
		violate(out, "profile or kvm params");
		return;
	}
	prof.init_min_origin = 0;	/* a small machine */
	kp.clear_low = SWEEP_CLEAR_LOW;
	if (in->uvc && !in->count) {
		prof.inject[prof.nr_inject++] = (struct uv_inject){
			.cmd = in->cmd, .nth = in->nth, .cc = UVC_CC_ERROR,
			.rc = SWEEP_UV_RC, .rrc = SWEEP_UV_RRC };
	}
	hc.uv_profile_value = &prof;
	hc.kvm = &kp;
	if (vmm_host_create(&hc, &host, err, sizeof(err))) {
		violate(out, "host: %s", err);
		return;
	}
	if (vmm_image_build(&spec, host->host_pub, &buf, &len, err,
			    sizeof(err)) ||
	    vmm_image_parse(buf, len, &image, err, sizeof(err))) {
		violate(out, "image: %s", err);
		goto out_host;
	}
	mm_stats_get(host->world, &before);
	uv_stats_get(host->uv, &ub);
	for (unsigned int i = 0; i < SWEEP_NR_CMDS; i++)
		uv_start[i] = cmd_calls(&ub, sweep_cmd(i));
	pc.host = host;
	if (in->count) {
		fc.note = alloc_note;
		fc.ctx = log;
		mm_fail_set(host->world, &fc);
	} else if (!in->uvc) {
		fc.nth = in->nth;
		mm_fail_set(host->world, &fc);
	}
	cfg = (struct vmm_config){
		.guest_mem = SWEEP_GUEST_MEM,
		.cpus = 1,
		.destroy = in->mode,
		.image = &image,
		.max_reboots = 1,
		.salt = 0x5a5a,
		.reclaim_timeout_ms = 20000,
		.helper_poll_ms = 2,
	};
	if (in->count) {
		/* The life starts in its boot, with no calls made. */
		out->nr_bounds = 1;
		out->bound[0].phase = PH_BOOT;
		cfg.on_event = phase_event;
		cfg.event_ctx = &pc;
	}
	t0 = now_ms();
	out->create_ret = vmm_create(host, &cfg, &vmm);
	if (!out->create_ret) {
		out->wait_ret = vmm_wait(vmm, &res);
		if (out->wait_ret) {
			/* For --verbose: the timeline and what is left. */
			size_t nev;
			const struct vmm_event *ev = vmm_events(vmm, &nev);

			for (size_t e = 0; e < nev; e++)
				vmm_event_print(&ev[e], ev[0].t_ns, stderr, false);
			mm_stats_print(host->world, stderr, false);
		}
		vmm_destroy(vmm);
	}
	kvm_module_drain(host->kvm);
	out->ms = now_ms() - t0;
	if (in->count)
		out->nr_allocs = mm_fail_seen(host->world);
	mm_fail_set(host->world, NULL);

	mm_stats_get(host->world, &after);
	uv_stats_get(host->uv, &ua);
	out->exit_code = res.exit_code;
	out->error = res.error;
	out->boots = res.boots;
	snprintf(out->message, sizeof(out->message), "%s", res.message);
	out->fired = in->uvc ? ua.injected > ub.injected
			     : after.alloc_injected > before.alloc_injected;
	for (unsigned int i = 0; i < SWEEP_NR_CMDS; i++) {
		out->uv_base[i] = cmd_calls(&ub, sweep_cmd(i));
		out->uv_life[i] = cmd_calls(&ua, sweep_cmd(i)) - out->uv_base[i];
	}


	/* How the life ended. */
	if (out->create_ret && !out->fired)
		violate(out, "vmm_create: %s", strerror(-out->create_ret));
	else if (out->wait_ret)
		violate(out, "vmm_wait: %s (reclaim did not finish)",
			strerror(-out->wait_ret));
	else if (!out->create_ret && !out->fired &&
		 (res.exit_code || res.error || res.boots != 2))
		violate(out, "no failure injected, yet exit %d error %d boots %u: %s",
			res.exit_code, res.error, res.boots, res.message);
	else if (!out->create_ret && res.exit_code != 0 && res.exit_code != 1)
		violate(out, "exit code %d: %s", res.exit_code, res.message);

	/* The invariants, and every frame back or leaked with a reason. */
	if (vmm_host_check(host))
		violate(out, "invariants (vmm_host_check) do not hold");
	for (unsigned int i = 0; i < MM_LEAK_NR; i++) {
		out->leaks[i] = after.leaked[i] - before.leaked[i];
		leaked_before += before.leaked[i];
		leaked_after += after.leaked[i];
	}
	if (after.use[PAGE_USE_FREE] + (leaked_after - leaked_before) !=
	    before.use[PAGE_USE_FREE])
		violate(out, "frames not back: free %llu + leaked %llu != %llu",
			(unsigned long long)after.use[PAGE_USE_FREE],
			(unsigned long long)(leaked_after - leaked_before),
			(unsigned long long)before.use[PAGE_USE_FREE]);
	if (after.use[PAGE_USE_PENDING] ||
	    after.use[PAGE_USE_ANON] != before.use[PAGE_USE_ANON] ||
	    after.use[PAGE_USE_DONATED] != before.use[PAGE_USE_DONATED])
		violate(out, "pages left: pending %llu anon %llu->%llu donated %llu->%llu",
			(unsigned long long)after.use[PAGE_USE_PENDING],
			(unsigned long long)before.use[PAGE_USE_ANON],
			(unsigned long long)after.use[PAGE_USE_ANON],
			(unsigned long long)before.use[PAGE_USE_DONATED],
			(unsigned long long)after.use[PAGE_USE_DONATED]);
	check_free_frames(host, out);

	/* Leaks the injected failure explains, and no others. */
	allowed = out->fired ? sweep_leaks_allowed(in->uvc, in->cmd) : 0;
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		if (out->leaks[i] && !(allowed & (1u << i)))
			violate(out, "%llu frame(s) leaked as %s, which %s does not explain",
				(unsigned long long)out->leaks[i],
				mm_leak_reason_name(i),
				!out->fired ? "no failure" :
				in->uvc ? uv_cmd_name(in->cmd) : "a failed allocation");

	free(buf);
out_host:
	vmm_host_destroy(host);
}

/* ---- the parent's side ---- */

static int read_all(int fd, void *buf, size_t len, uint64_t deadline_ms)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;
		int r;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline_ms - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Run one life in a child.  0 with *out filled (and the allocation log of
 * a counting run), -ETIMEDOUT for a hang (the child is killed), -ECHILD
 * for a child that died without reporting (the reason in out->why).
 */
static int life_fork(const struct life_in *in, struct life_out *out,
		     struct alloc_log *log, unsigned int timeout_s, bool quiet)
{
	uint64_t deadline = now_ms() + timeout_s * 1000ULL;
	int fds[2], status, r;
	pid_t pid;

	if (pipe(fds))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		close(fds[0]);
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(3);
		life_run(in, out, log);
		if (write_all(fds[1], out, sizeof(*out)) ||
		    (in->count && write_all(fds[1], log->rec,
					     (size_t)(out->nr_allocs < log->cap ?
						      out->nr_allocs : log->cap) *
					     sizeof(*log->rec))))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(out, 0, sizeof(*out));
	r = read_all(fds[0], out, sizeof(*out), deadline);
	if (!r && in->count)
		r = read_all(fds[0], log->rec,
			     (size_t)(out->nr_allocs < log->cap ? out->nr_allocs :
				      log->cap) * sizeof(*log->rec), deadline);
	close(fds[0]);
	if (r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIMEDOUT) {
		snprintf(out->why, sizeof(out->why),
			 "no end within %u s (hang): killed", timeout_s);
		return r;
	}
	if (r || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			snprintf(out->why, sizeof(out->why),
				 "the life crashed (signal %d)", WTERMSIG(status));
		else
			snprintf(out->why, sizeof(out->why),
				 "the life ended without a report (status %#x)",
				 status);
		return -ECHILD;
	}
	return 0;
}

/* ---- points and groups ---- */

struct point {
	bool uvc;
	uint16_t cmd;
	uint64_t nth;		/* absolute */
	unsigned int group;
};

static int group_find(struct sweep_report *rep, const char *name)
{
	for (unsigned int i = 0; i < rep->nr_groups; i++)
		if (!strcmp(rep->group[i].name, name))
			return (int)i;
	if (rep->nr_groups == SWEEP_MAX_GROUPS)
		return -1;
	snprintf(rep->group[rep->nr_groups].name,
		 sizeof(rep->group[0].name), "%s", name);
	return (int)rep->nr_groups++;
}

static void alloc_group_name(const struct alloc_rec *a, char *buf, size_t len)
{
	snprintf(buf, len, "alloc %s gfp %#x %s%s",
		 mm_alloc_kind_name(a->kind), a->gfp, page_use_name(a->use),
		 a->charged ? " memcg" : "");
}

/* Indices 0..m-1 to fail: all, or @p spread evenly with both ends. */
static bool sample_take(uint64_t i, uint64_t m, unsigned int p)
{
	if (!p || m <= p)
		return true;
	if (p == 1)
		return i == 0;
	for (unsigned int j = 0; j < p; j++)
		if (i == (j * (m - 1) + (p - 1) / 2) / (p - 1))
			return true;
	return false;
}

int sweep_mode(const struct sweep_opts *o, struct sweep_report *rep)
{
	FILE *f = o->out ? o->out : stderr;
	unsigned int timeout = o->timeout_s ? o->timeout_s : 60;
	struct life_in in = { .mode = o->mode, .count = true };
	struct alloc_log log = { .cap = SWEEP_MAX_ALLOCS };
	struct point *pts = NULL;
	uint64_t nr_pts = 0, cap, nr_allocs, *seen = NULL;
	struct life_out out;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->mode = o->mode;
	log.rec = calloc(log.cap, sizeof(*log.rec));
	if (!log.rec)
		return -ENOMEM;
	r = life_fork(&in, &out, &log, timeout, !o->verbose);
	if (!r && out.violation)
		r = -EUCLEAN;
	if (r) {
		fprintf(f, "# sweep %s: the counting run failed: %s\n",
			vmm_destroy_mode_name(o->mode), out.why);
		rep->violations++;
		goto out;
	}
	nr_allocs = out.nr_allocs < log.cap ? out.nr_allocs : log.cap;
	for (unsigned int i = 0; i < SWEEP_NR_CMDS; i++)
		rep->uvc_points += out.uv_life[i];
	rep->alloc_points = nr_allocs;
	rep->points = rep->uvc_points + rep->alloc_points;
	rep->longest_ms = out.ms;

	cap = rep->points;
	pts = calloc(cap ? cap : 1, sizeof(*pts));
	seen = calloc(SWEEP_MAX_GROUPS, sizeof(*seen));
	if (!pts || !seen) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * Points: the kth call of command c in the life is the UV's
	 * (creation calls + k)th of c; the nth allocation is mm_fail's nth.
	 * Two passes: the group sizes, then the sample within each group.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i < SWEEP_NR_CMDS; i++) {
			for (uint64_t k = 0; k < out.uv_life[i]; k++) {
				char name[64];
				unsigned int b = out.nr_bounds - 1;
				int g;

				while (b > 0 && out.bound[b].uv[i] > k)
					b--;
				snprintf(name, sizeof(name), "uvc %s @%s",
					 uv_cmd_name(sweep_cmd(i)),
					 phase_names[out.bound[b].phase]);
				g = group_find(rep, name);
				if (g < 0)
					continue;
				if (!pass) {
					rep->group[g].points++;
					continue;
				}
				if (sample_take(seen[g]++, rep->group[g].points,
						o->per_group))
					pts[nr_pts++] = (struct point){
						.uvc = true, .cmd = sweep_cmd(i),
						.nth = out.uv_base[i] + k + 1,
						.group = (unsigned)g };
			}
		}
		for (uint64_t n = 0; n < nr_allocs; n++) {
			char name[64], sig[48];
			unsigned int b = out.nr_bounds - 1;
			int g;

			while (b > 0 && out.bound[b].alloc > n)
				b--;
			alloc_group_name(&log.rec[n], sig, sizeof(sig));
			snprintf(name, sizeof(name), "%s @%s", sig,
				 phase_names[out.bound[b].phase]);
			g = group_find(rep, name);
			if (g < 0)
				continue;
			if (!pass) {
				rep->group[g].points++;
				continue;
			}
			if (sample_take(seen[g]++, rep->group[g].points,
					o->per_group))
				pts[nr_pts++] = (struct point){ .nth = n + 1,
								.group = (unsigned)g };
		}
	}

	for (uint64_t p = 0; p < nr_pts; p++) {
		struct sweep_group *grp = &rep->group[pts[p].group];
		bool leaked;

		if (o->only && !strstr(grp->name, o->only))
			continue;
		in = (struct life_in){ .mode = o->mode, .uvc = pts[p].uvc,
				       .cmd = pts[p].cmd, .nth = pts[p].nth };
		r = life_fork(&in, &out, &log, timeout, !o->verbose);
		rep->runs++;
		grp->runs++;
		if (out.ms > rep->longest_ms)
			rep->longest_ms = out.ms;
		if (r == -ETIMEDOUT)
			rep->hangs++;
		if (r || out.violation) {
			rep->violations++;
			grp->violations++;
			fprintf(f, "# VIOLATION %s, %s #%llu: %s (exit %d, error %d: %s)\n",
				vmm_destroy_mode_name(o->mode), grp->name,
				(unsigned long long)pts[p].nth, out.why,
				out.exit_code, out.error, out.message);
			continue;
		}
		if (!out.fired) {
			rep->not_fired++;
			continue;
		}
		rep->fired++;
		grp->fired++;
		if (!out.create_ret && out.exit_code == 0) {
			rep->clean_ok++;
			grp->clean_ok++;
		} else {
			rep->clean_err++;
			grp->clean_err++;
		}
		leaked = false;
		for (unsigned int i = 0; i < MM_LEAK_NR; i++) {
			rep->leaks[i] += out.leaks[i];
			leaked |= out.leaks[i] != 0;
		}
		rep->leak_runs += leaked;
		if (o->verbose)
			fprintf(f, "# %s %s #%llu: exit %d error %d, %llu ms: %s\n",
				vmm_destroy_mode_name(o->mode), grp->name,
				(unsigned long long)pts[p].nth, out.exit_code,
				out.error, (unsigned long long)out.ms,
				out.message);
	}
	r = 0;
out:
	free(pts);
	free(seen);
	free(log.rec);
	return r;
}

void sweep_report_print(const struct sweep_report *rep, FILE *f, bool groups)
{
	bool any = false;

	fprintf(f, "%-8s points %llu (UVCs %llu, allocations %llu), runs %llu: "
		"failed %llu (ended 0: %llu, clean error: %llu), not reached %llu; "
		"violations %llu (hangs %llu); longest life %llu ms\n",
		vmm_destroy_mode_name(rep->mode),
		(unsigned long long)rep->points,
		(unsigned long long)rep->uvc_points,
		(unsigned long long)rep->alloc_points,
		(unsigned long long)rep->runs, (unsigned long long)rep->fired,
		(unsigned long long)rep->clean_ok,
		(unsigned long long)rep->clean_err,
		(unsigned long long)rep->not_fired,
		(unsigned long long)rep->violations,
		(unsigned long long)rep->hangs,
		(unsigned long long)rep->longest_ms);
	fprintf(f, "%-8s leaks (frames, %llu runs):", "",
		(unsigned long long)rep->leak_runs);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		if (rep->leaks[i]) {
			fprintf(f, " %s %llu", mm_leak_reason_name(i),
				(unsigned long long)rep->leaks[i]);
			any = true;
		}
	fprintf(f, "%s\n", any ? "" : " none");
	if (!groups)
		return;
	for (unsigned int g = 0; g < rep->nr_groups; g++) {
		const struct sweep_group *grp = &rep->group[g];

		fprintf(f, "%-8s   %-46s points %6llu runs %5llu failed %5llu "
			"(0: %llu, error: %llu) violations %llu\n", "", grp->name,
			(unsigned long long)grp->points,
			(unsigned long long)grp->runs,
			(unsigned long long)grp->fired,
			(unsigned long long)grp->clean_ok,
			(unsigned long long)grp->clean_err,
			(unsigned long long)grp->violations);
	}
}
