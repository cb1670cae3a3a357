// SPDX-License-Identifier: MIT
/*
 * timeline.c - how `lazypv run` prints a VM's events (struct lpv_event):
 * a readable line with the time since the run started, or one JSON object
 * per line with the absolute monotonic t_ns.  The wording and the JSON
 * names ("guest_start", "reboot_request", "reclaimed", ...) are the
 * command's output format, which scripts read; the library's own event
 * names (lpv_event_name) are the API's.  No state; any thread.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lazypv/lazypv.h"
#include "lib/lib.h"
#include "tools.h"

static const char *const tool_event_names[] = {
	[LPV_EVENT_BOOT_START] = "boot_start",
	[LPV_EVENT_UNPACKED] = "unpacked",
	[LPV_EVENT_BOOTED] = "guest_start",
	[LPV_EVENT_ROUND] = "guest_round",
	[LPV_EVENT_REBOOT] = "reboot_request",
	[LPV_EVENT_UNPROTECTED] = "unprotected",
	[LPV_EVENT_SHUTDOWN] = "shutdown_request",
	[LPV_EVENT_ERROR] = "guest_error",
	[LPV_EVENT_EXIT] = "exit",
	[LPV_EVENT_CLEANUP_DONE] = "reclaimed",
	[LPV_EVENT_NOTE] = "note",
	[LPV_EVENT_REBOOT_CLEANED] = "cleanup_done",
	[LPV_EVENT_HELPER_EXIT] = "helper_exit",
};

static const char *tool_event_name(enum lpv_event_type type)
{
	if ((unsigned int)type >= ARRAY_SIZE(tool_event_names) ||
	    !tool_event_names[type])
		return "?";
	return tool_event_names[type];
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void event_text(const struct lpv_event *ev, FILE *f)
{
	uint64_t pages = ev->bytes / LPV_PAGE_SIZE;

	switch (ev->type) {
	case LPV_EVENT_BOOT_START:
		fprintf(f, "boot start (%s)", ev->protected_guest ? "protected" :
			"not protected");
		break;
	case LPV_EVENT_UNPACKED:
		fprintf(f, "image unpacked and verified: %" PRIu64 " pages in %.1f ms",
			pages, ms(ev->latency_ns));
		break;
	case LPV_EVENT_BOOTED:
		fprintf(f, "guest's first instruction: %s %.1f ms", ev->boot ?
			"restart latency" : "boot time", ms(ev->latency_ns));
		break;
	case LPV_EVENT_ROUND:
		fprintf(f, "guest round %u done", ev->round);
		break;
	case LPV_EVENT_REBOOT:
		if (ev->subcode == LPV_REBOOT_HOST)
			fprintf(f, "external reset requested");
		else
			fprintf(f, "reboot requested (diag 308 subcode %" PRIu64 ")",
				ev->subcode);
		break;
	case LPV_EVENT_UNPROTECTED:
		fprintf(f, "protected guest torn down in %.1f ms",
			ms(ev->latency_ns));
		break;
	case LPV_EVENT_SHUTDOWN:
		fprintf(f, "shutdown requested (%s)", ev->message);
		break;
	case LPV_EVENT_ERROR:
		fprintf(f, "error: %s", ev->message);
		break;
	case LPV_EVENT_EXIT:
		fprintf(f, "VMM exited with code %d: exit latency %.1f ms",
			ev->code, ms(ev->latency_ns));
		if (pages)
			fprintf(f, ", %" PRIu64 " frames still charged", pages);
		break;
	case LPV_EVENT_CLEANUP_DONE:
		fprintf(f, "memory reclaimed: %" PRIu64 " frames free and uncharged %.1f ms after the request, %" PRIu64 " leaked",
			pages, ms(ev->latency_ns),
			ev->leaked_bytes / LPV_PAGE_SIZE);
		break;
	case LPV_EVENT_NOTE:
		fprintf(f, "note: %s", ev->message);
		break;
	case LPV_EVENT_REBOOT_CLEANED:
		fprintf(f, "background cleanup done %.1f ms after the reboot request%s%s",
			ms(ev->latency_ns), ev->message[0] ? ": " : "",
			ev->message);
		break;
	case LPV_EVENT_HELPER_EXIT:
		fprintf(f, "teardown helper saw the VMM gone at check %u, %.1f ms after the request: it exits (the final exit_mmap)",
			ev->polls, ms(ev->latency_ns));
		break;
	default:
		fprintf(f, "?");
	}
}

static void event_json(const struct lpv_event *ev, FILE *f)
{
	uint64_t pages = ev->bytes / LPV_PAGE_SIZE;

	fprintf(f, "{\"event\":\"%s\",\"t_ns\":%" PRIu64 ",\"boot\":%u,\"protected\":%s",
		tool_event_name(ev->type), ev->t_ns, ev->boot,
		ev->protected_guest ? "true" : "false");
	switch (ev->type) {
	case LPV_EVENT_UNPACKED:
		fprintf(f, ",\"pages\":%" PRIu64 ",\"unpack_ns\":%" PRIu64,
			pages, ev->latency_ns);
		break;
	case LPV_EVENT_BOOTED:
		fprintf(f, ",\"%s\":%" PRIu64, ev->boot ? "restart_latency_ns"
			: "boot_ns", ev->latency_ns);
		break;
	case LPV_EVENT_ROUND:
		fprintf(f, ",\"round\":%u", ev->round);
		break;
	case LPV_EVENT_REBOOT:
		if (ev->subcode == LPV_REBOOT_HOST)
			fprintf(f, ",\"external\":true");
		else
			fprintf(f, ",\"diag308_subcode\":%" PRIu64, ev->subcode);
		break;
	case LPV_EVENT_UNPROTECTED:
		fprintf(f, ",\"teardown_ns\":%" PRIu64, ev->latency_ns);
		break;
	case LPV_EVENT_SHUTDOWN:
		fprintf(f, ",\"reason\":");
		lpv_json_str(f, ev->message);
		break;
	case LPV_EVENT_ERROR:
		fprintf(f, ",\"error\":%d,\"message\":", ev->code);
		lpv_json_str(f, ev->message);
		break;
	case LPV_EVENT_EXIT:
		fprintf(f, ",\"code\":%d,\"exit_latency_ns\":%" PRIu64
			",\"frames_charged\":%" PRIu64, ev->code, ev->latency_ns,
			pages);
		break;
	case LPV_EVENT_CLEANUP_DONE:
		fprintf(f, ",\"reclaim_ns\":%" PRIu64 ",\"frames\":%" PRIu64
			",\"leaked_frames\":%" PRIu64 ",\"pages_per_s\":%.0f",
			ev->latency_ns, pages, ev->leaked_bytes / LPV_PAGE_SIZE,
			ev->latency_ns ? (double)pages * 1e9 / (double)ev->latency_ns : 0.0);
		break;
	case LPV_EVENT_NOTE:
		fprintf(f, ",\"message\":");
		lpv_json_str(f, ev->message);
		break;
	case LPV_EVENT_REBOOT_CLEANED:
		fprintf(f, ",\"cleanup_ns\":%" PRIu64 ",\"code\":%d",
			ev->latency_ns, ev->code);
		break;
	case LPV_EVENT_HELPER_EXIT:
		fprintf(f, ",\"polls\":%u,\"since_shutdown_ns\":%" PRIu64,
			ev->polls, ev->latency_ns);
		break;
	default:
		break;
	}
	fprintf(f, "}");
}

void tool_event_print(const struct lpv_event *ev, uint64_t t0_ns, FILE *f,
		      bool json)
{
	/* A cleanup that failed said so as an error event already. */
	if (ev->type == LPV_EVENT_CLEANUP_DONE && ev->code)
		return;
	if (json) {
		event_json(ev, f);
	} else {
		double rel = ev->t_ns >= t0_ns ?
			     (double)(ev->t_ns - t0_ns) / 1e9 : 0;

		fprintf(f, "%9.3fs  boot %-3u ", rel, ev->boot);
		event_text(ev, f);
	}
	fputc('\n', f);
}
