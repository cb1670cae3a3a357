// SPDX-License-Identifier: MIT
/*
 * test_timeline.c - what the VMM tells its user and what stops it early:
 * every event type prints as one readable line and as one JSON object with
 * its own fields.
 */
#include "vmm_test.h"

/* @ev printed into a fresh buffer (the caller frees it). */
static char *print_event(const struct vmm_event *ev, bool json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT_NOT_NULL(f);
	vmm_event_print(ev, 1000000, f, json);
	ASSERT_EQ(fclose(f), 0);
	return text;
}

static void expect_in(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		test_fail(__FILE__, __LINE__, "\"%s\" not in \"%s\"", needle,
			  text);
}

TEST_IMPL(vmm_event_print_every_type)
{
	static const struct {
		enum vmm_event_type type;
		const char *text, *json;
	} want[] = {
		{ VMM_EV_BOOT_START, "", "\"event\":\"" },
		{ VMM_EV_UNPACKED, "", ",\"pages\":7,\"unpack_ns\":2500000" },
		{ VMM_EV_GUEST_START, "", ",\"restart_latency_ns\":2500000" },
		{ VMM_EV_GUEST_ROUND, "", ",\"round\":3" },
		{ VMM_EV_REBOOT_REQUEST, "", ",\"diag308_subcode\":" },
		{ VMM_EV_UNPROTECTED, "", ",\"teardown_ns\":2500000" },
		{ VMM_EV_SHUTDOWN_REQUEST, "", ",\"reason\":\"why \\\"not\\\"\"" },
		{ VMM_EV_GUEST_ERROR, "", ",\"error\":-5,\"message\":" },
		{ VMM_EV_EXIT, "7 frames still charged",
		  ",\"code\":-5,\"exit_latency_ns\":2500000,\"frames_charged\":7" },
		{ VMM_EV_RECLAIMED, "7 frames free and uncharged",
		  ",\"reclaim_ns\":2500000,\"frames\":7,\"leaked_frames\":2" },
		{ VMM_EV_NOTE, "note: why \"not\"", ",\"message\":\"why \\\"not\\\"\"" },
		{ VMM_EV_CLEANUP_DONE, "background cleanup done",
		  ",\"cleanup_ns\":2500000,\"code\":-5" },
		{ VMM_EV_HELPER_EXIT, "at check 4",
		  ",\"polls\":4,\"since_shutdown_ns\":2500000" },
	};
	unsigned int seen = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vmm_event ev = {
			.type = want[i].type, .t_ns = 3000000, .boot = 1,
			.protected = true, .subcode = 4, .latency_ns = 2500000,
			.pages = 7, .leaked = 2, .round = 3, .polls = 4,
			.code = -5, .message = "why \"not\"",
		};
		char *text = print_event(&ev, false);
		char *json = print_event(&ev, true);
		size_t n = strlen(json);

		/* One line each; JSON: one object naming the event. */
		ASSERT_PTR_EQ(strchr(text, '\n'), text + strlen(text) - 1);
		ASSERT_PTR_EQ(strchr(json, '\n'), json + n - 1);
		ASSERT_NULL(strstr(text, "?\n"));
		expect_in(text, want[i].text);
		ASSERT_EQ(json[0], '{');
		ASSERT_EQ(json[n - 2], '}');
		ASSERT_EQ(json[n - 1], '\n');
		expect_in(json, vmm_event_name(want[i].type));
		expect_in(json, ",\"t_ns\":3000000,\"boot\":1,\"protected\":true");
		expect_in(json, want[i].json);
		seen++;
		free(text);
		free(json);
	}
	ASSERT_EQ(seen, VMM_EV_NR);

	/* The other shapes of the same events. */
	{
		struct vmm_event ev = { .type = VMM_EV_REBOOT_REQUEST,
					.subcode = VMM_RESET_EXTERNAL };
		char *json = print_event(&ev, true);
		char *text = print_event(&ev, false);

		expect_in(json, ",\"external\":true");
		ASSERT_GT(strlen(text), 1);
		free(json);
		free(text);
		ev = (struct vmm_event){ .type = VMM_EV_GUEST_START };
		json = print_event(&ev, true);
		expect_in(json, ",\"boot_ns\":0");
		free(json);
		ev = (struct vmm_event){ .type = VMM_EV_EXIT };
		text = print_event(&ev, false);
		ASSERT_NULL(strstr(text, "still charged"));
		free(text);
		ev = (struct vmm_event){ .type = VMM_EV_CLEANUP_DONE };
		text = print_event(&ev, false);
		ASSERT_NULL(strstr(text, ": "));
		free(text);
	}
	return 0;
}
