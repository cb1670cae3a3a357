// SPDX-License-Identifier: MIT
/*
 * timeline.c - the VMM's timeline: every event of a VMM's life (boot,
 * unpack, first guest instruction, rounds, reboot requests, teardowns,
 * shutdown, exit, reclaim) recorded in order with a monotonic timestamp,
 * handed to the owner's callback, and printed as text or JSON lines.
 *
 * Events are appended under vmm->lock by whichever thread sees them (the
 * main thread, a vCPU thread, or the parent in vmm_wait); the callback runs
 * under the same lock, so a consumer sees them in order.  While tracing
 * (lib/trace.h), the same events become each boot's phases on a track of
 * its own: create, unpack, boot, running, reboot (with the teardown inside),
 * shutdown, exit.  Also here: the teardown-mode names.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const event_names[VMM_EV_NR] = {
	[VMM_EV_BOOT_START] = "boot_start",
	[VMM_EV_UNPACKED] = "unpacked",
	[VMM_EV_GUEST_START] = "guest_start",
	[VMM_EV_GUEST_ROUND] = "guest_round",
	[VMM_EV_REBOOT_REQUEST] = "reboot_request",
	[VMM_EV_UNPROTECTED] = "unprotected",
	[VMM_EV_SHUTDOWN_REQUEST] = "shutdown_request",
	[VMM_EV_GUEST_ERROR] = "guest_error",
	[VMM_EV_EXIT] = "exit",
	[VMM_EV_RECLAIMED] = "reclaimed",
	[VMM_EV_NOTE] = "note",
	[VMM_EV_CLEANUP_DONE] = "cleanup_done",
	[VMM_EV_HELPER_EXIT] = "helper_exit",
};

const char *vmm_event_name(enum vmm_event_type type)
{
	return (unsigned int)type < VMM_EV_NR ? event_names[type] : "?";
}

/* The VMM's modes are KVM's (one list, kvm.h). */
const char *vmm_destroy_mode_name(enum vmm_destroy_mode mode)
{
	return kvm_destroy_mode_name((enum kvm_destroy_mode)mode);
}

int vmm_destroy_mode_parse(const char *s, enum vmm_destroy_mode *out)
{
	int m = kvm_destroy_mode_parse(s);

	if (m < 0)
		return m;
	*out = (enum vmm_destroy_mode)m;
	return 0;
}

/* ---- the timeline as trace-event phases ---- */

static void vmm_trace_phase_end(struct vmm *vmm, uint64_t t)
{
	if (vmm->trace.phase)
		trace_complete(trace_pid_vmm(vmm->pid), vmm->trace.track,
			       vmm->trace.phase, vmm->trace.phase_t0, t,
			       "boot", vmm->boot, NULL, 0);
	vmm->trace.phase = NULL;
}

static void vmm_trace_phase_begin(struct vmm *vmm, const char *phase,
				  uint64_t t)
{
	vmm_trace_phase_end(vmm, t);
	vmm->trace.phase = phase;
	vmm->trace.phase_t0 = t;
}

static void vmm_trace_reboot_end(struct vmm *vmm, uint64_t t)
{
	if (vmm->trace.reboot_track)
		trace_complete(trace_pid_vmm(vmm->pid), vmm->trace.reboot_track,
			       "reboot", vmm->trace.reboot_t0, t,
			       "restart_latency_ns", t - vmm->trace.reboot_t0,
			       NULL, 0);
	vmm->trace.reboot_track = 0;
}

/* Phases are written when they end, as complete slices: each boot's
 * track holds a sequence that never overlaps itself. */
static void vmm_trace_event_locked(struct vmm *vmm, const struct vmm_event *ev)
{
	uint32_t pid = trace_pid_vmm(vmm->pid);
	uint64_t t = ev->t_ns;

	if (!vmm->trace.track || ev->type == VMM_EV_BOOT_START) {
		if (vmm->trace.track && vmm->trace.phase)
			vmm_trace_phase_end(vmm, t);
		vmm->trace.track = trace_track_new("VMM %d boot %u", vmm->pid,
						   ev->boot);
	}
	switch (ev->type) {
	case VMM_EV_BOOT_START:
		if (!ev->boot && vmm->trace.created_ns)
			trace_complete(pid, vmm->trace.track, "create VMM",
				       vmm->trace.created_ns, t, NULL, 0,
				       NULL, 0);
		vmm_trace_phase_begin(vmm, ev->protected ? "create config" :
				      "boot", t);
		break;
	case VMM_EV_UNPACKED:
		vmm_trace_phase_end(vmm, t - ev->latency_ns);
		trace_complete(pid, vmm->trace.track, "unpack image",
			       t - ev->latency_ns, t, "pages", ev->pages,
			       NULL, 0);
		vmm_trace_phase_begin(vmm, "boot", t);
		break;
	case VMM_EV_GUEST_START:
		vmm_trace_reboot_end(vmm, t);
		vmm_trace_phase_begin(vmm, "running", t);
		break;
	case VMM_EV_REBOOT_REQUEST:
		vmm_trace_phase_end(vmm, t);
		vmm_trace_reboot_end(vmm, t);
		vmm->trace.reboot_track = vmm->trace.track;
		vmm->trace.reboot_t0 = t;
		break;
	case VMM_EV_UNPROTECTED:
		trace_complete(pid, vmm->trace.reboot_track ?
			       vmm->trace.reboot_track : vmm->trace.track,
			       "teardown", t - ev->latency_ns, t, NULL, 0,
			       NULL, 0);
		break;
	case VMM_EV_SHUTDOWN_REQUEST:
		vmm_trace_reboot_end(vmm, t);
		vmm_trace_phase_begin(vmm, "shutdown", t);
		break;
	case VMM_EV_EXIT:
		vmm_trace_reboot_end(vmm, t);
		vmm_trace_phase_begin(vmm, "exit", t);
		break;
	case VMM_EV_RECLAIMED:
		vmm_trace_phase_end(vmm, t);
		break;
	default:
		trace_instant(pid, vmm->trace.track, vmm_event_name(ev->type),
			      "code", (uint64_t)(int64_t)ev->code);
		break;
	}
}

void vmm_emit_locked(struct vmm *vmm, struct vmm_event *ev)
{
	lpv_mutex_assert_held(&vmm->lock);
	if (!ev->t_ns)
		ev->t_ns = hw_now_ns();
	ev->boot = vmm->boot;
	ev->protected = vmm->protected;
	if (vmm->nr_events == vmm->cap_events) {
		size_t cap = vmm->cap_events ? 2 * vmm->cap_events : 32;
		struct vmm_event *n = realloc(vmm->events, cap * sizeof(*n));

		/* The timeline is an observation: losing it must not
		 * change what the VMM does.  Keep going, unrecorded. */
		if (!n) {
			WARN_ON_ONCE(1);
			goto callback;
		}
		vmm->events = n;
		vmm->cap_events = cap;
	}
	vmm->events[vmm->nr_events++] = *ev;
callback:
	if (trace_on())
		vmm_trace_event_locked(vmm, ev);
	lpv_trace("VMM EVENT: pid %d %s boot %u latency %" PRIu64,
		  vmm->pid, vmm_event_name(ev->type), ev->boot,
		  ev->latency_ns);
	if (vmm->cfg.on_event)
		vmm->cfg.on_event(vmm->cfg.event_ctx, ev);
}

void vmm_emit(struct vmm *vmm, struct vmm_event *ev)
{
	lpv_mutex_lock(&vmm->lock);
	vmm_emit_locked(vmm, ev);
	lpv_mutex_unlock(&vmm->lock);
}

/* Keep the first error: later ones are usually its consequences. */
void vmm_record_error_locked(struct vmm *vmm, int error, const char *msg)
{
	struct vmm_event ev = { .type = VMM_EV_GUEST_ERROR, .code = error };

	lpv_mutex_assert_held(&vmm->lock);
	snprintf(ev.message, sizeof(ev.message), "%s", msg);
	if (!vmm->error) {
		vmm->error = error ? error : -EIO;
		snprintf(vmm->message, sizeof(vmm->message), "%s", msg);
	}
	vmm_emit_locked(vmm, &ev);
}

const struct vmm_event *vmm_events(struct vmm *vmm, size_t *nr)
{
	lpv_mutex_lock(&vmm->lock);
	*nr = vmm->nr_events;
	lpv_mutex_unlock(&vmm->lock);
	return vmm->events;
}

/* ---- printing ---- */

static void ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
}

static void event_text(const struct vmm_event *ev, FILE *f)
{
	char a[32];

	switch (ev->type) {
	case VMM_EV_BOOT_START:
		fprintf(f, "boot start (%s)", ev->protected ? "protected" : "not protected");
		break;
	case VMM_EV_UNPACKED:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "image unpacked and verified: %" PRIu64 " pages in %s",
			ev->pages, a);
		break;
	case VMM_EV_GUEST_START:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "guest's first instruction: %s %s", ev->boot ?
			"restart latency" : "boot time", a);
		break;
	case VMM_EV_GUEST_ROUND:
		fprintf(f, "guest round %u done", ev->round);
		break;
	case VMM_EV_REBOOT_REQUEST:
		if (ev->subcode == VMM_RESET_EXTERNAL)
			fprintf(f, "external reset requested");
		else
			fprintf(f, "reboot requested (diag 308 subcode %" PRIu64 ")",
				ev->subcode);
		break;
	case VMM_EV_UNPROTECTED:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "protected guest torn down in %s", a);
		break;
	case VMM_EV_SHUTDOWN_REQUEST:
		fprintf(f, "shutdown requested (%s)", ev->message);
		break;
	case VMM_EV_GUEST_ERROR:
		fprintf(f, "error: %s", ev->message);
		break;
	case VMM_EV_EXIT:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "VMM exited with code %d: exit latency %s", ev->code, a);
		if (ev->pages)
			fprintf(f, ", %" PRIu64 " frames still charged", ev->pages);
		break;
	case VMM_EV_RECLAIMED:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "memory reclaimed: %" PRIu64 " frames free and uncharged %s after the request, %" PRIu64 " leaked",
			ev->pages, a, ev->leaked);
		break;
	case VMM_EV_NOTE:
		fprintf(f, "note: %s", ev->message);
		break;
	case VMM_EV_CLEANUP_DONE:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "background cleanup done %s after the reboot request%s%s",
			a, ev->message[0] ? ": " : "", ev->message);
		break;
	case VMM_EV_HELPER_EXIT:
		ms(a, sizeof(a), ev->latency_ns);
		fprintf(f, "teardown helper saw the VMM gone at check %u, %s after the request: it exits (the final exit_mmap)",
			ev->polls, a);
		break;
	default:
		fprintf(f, "?");
	}
}

static void event_json(const struct vmm_event *ev, FILE *f)
{
	fprintf(f, "{\"event\":\"%s\",\"t_ns\":%" PRIu64 ",\"boot\":%u,\"protected\":%s",
		vmm_event_name(ev->type), ev->t_ns, ev->boot,
		ev->protected ? "true" : "false");
	switch (ev->type) {
	case VMM_EV_UNPACKED:
		fprintf(f, ",\"pages\":%" PRIu64 ",\"unpack_ns\":%" PRIu64,
			ev->pages, ev->latency_ns);
		break;
	case VMM_EV_GUEST_START:
		fprintf(f, ",\"%s\":%" PRIu64, ev->boot ? "restart_latency_ns"
			: "boot_ns", ev->latency_ns);
		break;
	case VMM_EV_GUEST_ROUND:
		fprintf(f, ",\"round\":%u", ev->round);
		break;
	case VMM_EV_REBOOT_REQUEST:
		if (ev->subcode == VMM_RESET_EXTERNAL)
			fprintf(f, ",\"external\":true");
		else
			fprintf(f, ",\"diag308_subcode\":%" PRIu64, ev->subcode);
		break;
	case VMM_EV_UNPROTECTED:
		fprintf(f, ",\"teardown_ns\":%" PRIu64, ev->latency_ns);
		break;
	case VMM_EV_SHUTDOWN_REQUEST:
		fprintf(f, ",\"reason\":");
		lpv_json_str(f, ev->message);
		break;
	case VMM_EV_GUEST_ERROR:
		fprintf(f, ",\"error\":%d,\"message\":", ev->code);
		lpv_json_str(f, ev->message);
		break;
	case VMM_EV_EXIT:
		fprintf(f, ",\"code\":%d,\"exit_latency_ns\":%" PRIu64
			",\"frames_charged\":%" PRIu64, ev->code, ev->latency_ns,
			ev->pages);
		break;
	case VMM_EV_RECLAIMED:
		fprintf(f, ",\"reclaim_ns\":%" PRIu64 ",\"frames\":%" PRIu64
			",\"leaked_frames\":%" PRIu64 ",\"pages_per_s\":%.0f",
			ev->latency_ns, ev->pages, ev->leaked,
			ev->latency_ns ? (double)ev->pages * 1e9 / (double)ev->latency_ns : 0.0);
		break;
	case VMM_EV_NOTE:
		fprintf(f, ",\"message\":");
		lpv_json_str(f, ev->message);
		break;
	case VMM_EV_CLEANUP_DONE:
		fprintf(f, ",\"cleanup_ns\":%" PRIu64 ",\"code\":%d",
			ev->latency_ns, ev->code);
		break;
	case VMM_EV_HELPER_EXIT:
		fprintf(f, ",\"polls\":%u,\"since_shutdown_ns\":%" PRIu64,
			ev->polls, ev->latency_ns);
		break;
	default:
		break;
	}
	fprintf(f, "}");
}

void vmm_event_print(const struct vmm_event *ev, uint64_t t0_ns, FILE *f,
		     bool json)
{
	if (json) {
		event_json(ev, f);
	} else {
		double rel = ev->t_ns >= t0_ns ? (double)(ev->t_ns - t0_ns) / 1e9 : 0;

		fprintf(f, "%9.3fs  boot %-3u ", rel, ev->boot);
		event_text(ev, f);
	}
	fputc('\n', f);
}
