// SPDX-License-Identifier: MIT
/*
 * example.c - a program using the installed lazypv library: create a
 * host, boot a 64 MiB protected guest in lazy teardown mode, reboot it
 * once, shut it down, wait for the background cleanup, and check that the
 * progress reached 0 bytes pending and the statistics say every cleanup
 * completed.  Exits 0 on success, 1 with a message otherwise.
 *
 * Build: cc example.c $(pkg-config --cflags --libs lazypv)
 * (docs/api.md walks through it; tests/install/install-test.sh builds it
 * against an installed tree, statically and dynamically).
 */
#include <lazypv/lazypv.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "example: %s: %s (%s)\n", what, lpv_strerror(err),
		lpv_last_error());
	return 1;
}

static void on_event(void *ctx, const struct lpv_event *ev)
{
	unsigned int *count = ctx;

	(*count)++;
	printf("  event %-14s boot %u", lpv_event_name(ev->type), ev->boot);
	if (ev->type == LPV_EVENT_BOOTED || ev->type == LPV_EVENT_EXIT)
		printf("  latency %.3f ms", (double)ev->latency_ns / 1e6);
	if (ev->type == LPV_EVENT_EXIT || ev->type == LPV_EVENT_CLEANUP_DONE)
		printf("  %" PRIu64 " KiB", ev->bytes >> 10);
	printf("\n");
}

int main(void)
{
	struct lpv_host_config hc;
	struct lpv_vm_config vc;
	struct lpv_progress prog;
	struct lpv_vm_exit ex;
	struct lpv_stats st;
	struct lpv_host *host;
	struct lpv_vm *vm;
	unsigned int events = 0;
	int r, status = 1;

	printf("lazypv %s (header %s)\n", lpv_version(), LAZYPV_VERSION);
	if (lpv_version_number() / 100 != LAZYPV_VERSION_NUMBER / 100) {
		fprintf(stderr, "example: library %s, header %s\n",
			lpv_version(), LAZYPV_VERSION);
		return 1;
	}

	lpv_host_config_init(&hc);
	r = lpv_host_create(&hc, &host);
	if (r)
		return fail("lpv_host_create", r);

	lpv_vm_config_init(&vc);
	vc.guest_mem = 64ULL << 20;
	vc.teardown = "lazy";
	vc.on_event = on_event;
	vc.event_ctx = &events;
	r = lpv_vm_create(host, &vc, &vm);
	if (r) {
		fail("lpv_vm_create", r);
		goto out_host;
	}
	if ((r = lpv_vm_boot(vm))) {
		fail("lpv_vm_boot", r);
		goto out_vm;
	}
	if ((r = lpv_vm_reboot(vm))) {
		fail("lpv_vm_reboot", r);
		goto out_vm;
	}
	if ((r = lpv_vm_shutdown(vm))) {
		fail("lpv_vm_shutdown", r);
		goto out_vm;
	}
	if ((r = lpv_vm_wait(vm, 60 * 1000, &ex))) {
		fail("lpv_vm_wait", r);
		goto out_vm;
	}
	printf("exit code %d after %u boots, exit latency %.3f ms\n", ex.code,
	       ex.boots, (double)ex.exit_latency_ns / 1e6);
	if (ex.code != 0 || ex.boots != 2 || ex.error) {
		fprintf(stderr, "example: unexpected exit: code %d, %u boots, %s\n",
			ex.code, ex.boots, ex.message);
		goto out_vm;
	}
	if ((r = lpv_host_wait_cleanup(host, 60 * 1000))) {
		fail("lpv_host_wait_cleanup", r);
		goto out_vm;
	}
	if ((r = lpv_host_progress(host, &prog)) ||
	    (r = lpv_host_stats(host, &st))) {
		fail("progress/stats", r);
		goto out_vm;
	}
	printf("cleanup: %" PRIu64 " bytes pending, %" PRIu64 " cleaned; "
	       "%" PRIu64 " cleanups done, %" PRIu64 " failed\n",
	       prog.pending_bytes, prog.cleaned_bytes, st.cleanups_done,
	       st.cleanups_failed);
	if (prog.pending_bytes || prog.cleaning || st.pending_bytes ||
	    st.set_aside_bytes || st.cleanups_done != 1 ||
	    st.cleanups_failed || st.exits != 1 || st.vms_cleaning ||
	    lpv_vm_state(vm) != LPV_VM_CLEANED) {
		fprintf(stderr, "example: the cleanup did not complete\n");
		goto out_vm;
	}
	if ((r = lpv_host_check(host))) {
		fail("lpv_host_check", r);
		goto out_vm;
	}
	status = 0;
out_vm:
	lpv_vm_destroy(vm);
out_host:
	lpv_host_destroy(host);
	/* Every callback has run once the host is gone. */
	printf("%u events\n", events);
	if (!status && events < 8) {
		fprintf(stderr, "example: only %u events\n", events);
		status = 1;
	}
	return status;
}
