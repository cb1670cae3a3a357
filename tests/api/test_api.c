// SPDX-License-Identifier: MIT
/*
 * test_api.c - the public API (include/lazypv/lazypv.h) through its own
 * calls only: bad inputs answer the documented negative errno with a
 * message, every teardown mode boots, reboots and shuts down, the cleanup
 * waits honour their timeouts, events arrive in order (callback and
 * polled queue alike), a VM destroyed while running is still cleaned, and
 * the statistics JSON carries its keys.
 */
#include <jansson.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include "lazypv/lazypv.h"
#include "test.h"

#define GUEST_MIB 64

static struct lpv_host *host_new(void)
{
	struct lpv_host_config hc;
	struct lpv_host *host;

	lpv_host_config_init(&hc);
	hc.seed = "tests";
	if (lpv_host_create(&hc, &host))
		test_fail(__FILE__, __LINE__, "host: %s", lpv_last_error());
	return host;
}

static struct lpv_vm *vm_new(struct lpv_host *host, const char *teardown,
			     unsigned int queue, lpv_event_fn fn, void *ctx)
{
	struct lpv_vm_config vc;
	struct lpv_vm *vm;

	lpv_vm_config_init(&vc);
	vc.guest_mem = GUEST_MIB << 20;
	vc.teardown = teardown;
	vc.payload_bytes = 64 * 1024;
	vc.event_queue = queue;
	vc.on_event = fn;
	vc.event_ctx = ctx;
	if (lpv_vm_create(host, &vc, &vm))
		test_fail(__FILE__, __LINE__, "vm: %s", lpv_last_error());
	return vm;
}

/* The call failed with -err and said something about it. */
#define ASSERT_FAILS(expr, err)						\
	do {								\
		ASSERT_ERR(expr, err);					\
		ASSERT_TRUE(lpv_last_error()[0] != '\0');		\
	} while (0)

TEST_IMPL(api_bad_inputs)
{
	const char *bad_params[] = { "no_such_param=1", NULL };
	const char *range_params[] = { "lazy_destroy=7", NULL };
	const char *junk_params[] = { "lazy_destroy", NULL };
	char path[] = "/tmp/lazypv-api-profile-XXXXXX";
	struct lpv_host_config hc;
	struct lpv_vm_config vc;
	struct lpv_progress prog;
	struct lpv_stats st;
	struct lpv_event ev;
	struct lpv_host *host = (void *)1;
	struct lpv_vm *vm = (void *)1;
	int fd;

	/* Versions and names. */
	ASSERT_STR_EQ(lpv_version(), LAZYPV_VERSION);
	ASSERT_EQ(lpv_version_number(), LAZYPV_VERSION_NUMBER);
	ASSERT_STR_EQ(lpv_strerror(0), "Success");
	ASSERT_STR_EQ(lpv_strerror(-ENOENT), strerror(ENOENT));
	ASSERT_NOT_NULL(lpv_strerror(5));
	ASSERT_NOT_NULL(lpv_strerror(-100000));
	ASSERT_NULL(lpv_event_name(0));
	ASSERT_NULL(lpv_event_name((enum lpv_event_type)999));
	ASSERT_STR_EQ(lpv_event_name(LPV_EVENT_CLEANUP_DONE), "cleanup_done");
	ASSERT_NULL(lpv_vm_state_name(-1));
	ASSERT_STR_EQ(lpv_vm_state_name(LPV_VM_CLEANING), "cleaning");
	ASSERT_STR_EQ(lpv_teardown_mode_name(0), "sync");
	ASSERT_NOT_NULL(lpv_param_name(0, NULL));
	ASSERT_NULL(lpv_param_name(1000, NULL));

	/* NULL handles and out-pointers. */
	lpv_host_config_init(NULL);
	lpv_vm_config_init(NULL);
	lpv_host_destroy(NULL);
	lpv_vm_destroy(NULL);
	lpv_host_config_init(&hc);
	ASSERT_FAILS(lpv_host_create(NULL, &host), EINVAL);
	ASSERT_NULL(host);
	ASSERT_FAILS(lpv_host_create(&hc, NULL), EINVAL);
	ASSERT_FAILS(lpv_host_check(NULL), EINVAL);
	ASSERT_FAILS(lpv_host_wait_cleanup(NULL, 0), EINVAL);
	ASSERT_FAILS(lpv_host_progress(NULL, &prog), EINVAL);
	ASSERT_FAILS(lpv_host_stats(NULL, &st), EINVAL);
	ASSERT_NULL(lpv_host_stats_json(NULL));
	ASSERT_FAILS(lpv_vm_boot(NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_reboot(NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_shutdown(NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_kill(NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_wait(NULL, 0, NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_wait_cleanup(NULL, 0), EINVAL);
	ASSERT_FAILS(lpv_vm_state(NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_progress(NULL, &prog), EINVAL);
	ASSERT_FAILS(lpv_vm_event_poll(NULL, &ev, 0), EINVAL);
	ASSERT_NULL(lpv_vm_teardown(NULL));
	ASSERT_NOT_NULL(lpv_host_last_error(NULL));
	ASSERT_NOT_NULL(lpv_vm_last_error(NULL));

	/* Bad host configurations: the message names the problem. */
	hc.mem_bytes = 0;
	ASSERT_FAILS(lpv_host_create(&hc, &host), EINVAL);
	lpv_host_config_init(&hc);
	hc.profile = "no-such-profile";
	ASSERT_FAILS(lpv_host_create(&hc, &host), ENOENT);
	ASSERT_TRUE(strstr(lpv_last_error(), "no-such-profile") != NULL);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_GT(write(fd, "name = broken\nthis is not a profile line\n", 41), 0);
	close(fd);
	hc.profile = path;
	ASSERT_FAILS(lpv_host_create(&hc, &host), EINVAL);
	ASSERT_TRUE(strstr(lpv_last_error(), "profile") != NULL);
	unlink(path);
	lpv_host_config_init(&hc);
	hc.params = bad_params;
	ASSERT_FAILS(lpv_host_create(&hc, &host), ENOENT);
	ASSERT_TRUE(strstr(lpv_last_error(), "no_such_param") != NULL);
	hc.params = range_params;
	ASSERT_FAILS(lpv_host_create(&hc, &host), ERANGE);
	hc.params = junk_params;
	ASSERT_FAILS(lpv_host_create(&hc, &host), EINVAL);
	ASSERT_TRUE(strstr(lpv_last_error(), "name=value") != NULL);
	hc.params = NULL;
	hc.mem_bytes = 4097;
	ASSERT_NE(lpv_host_create(&hc, &host), 0);
	ASSERT_TRUE(lpv_last_error()[0] != '\0');

	host = host_new();
	/* Bad VM configurations. */
	lpv_vm_config_init(&vc);
	ASSERT_FAILS(lpv_vm_create(NULL, &vc, &vm), EINVAL);
	ASSERT_NULL(vm);
	ASSERT_FAILS(lpv_vm_create(host, NULL, &vm), EINVAL);
	ASSERT_FAILS(lpv_vm_create(host, &vc, NULL), EINVAL);
	vc.teardown = "eventually";
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	ASSERT_TRUE(strstr(lpv_last_error(), "lazy") != NULL);
	ASSERT_TRUE(strstr(lpv_host_last_error(host), "eventually") != NULL);
	lpv_vm_config_init(&vc);
	vc.program = "no-such-program";
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), ENOENT);
	vc.program = "touch:bogus=1";
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	lpv_vm_config_init(&vc);
	vc.guest_mem = 0;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	vc.guest_mem = (64 << 20) + 4096;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	lpv_vm_config_init(&vc);
	vc.cpus = 0;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	vc.cpus = 100000;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	lpv_vm_config_init(&vc);
	vc.guest_mem = 64ULL << 30;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), E2BIG);
	lpv_vm_config_init(&vc);
	vc.image_file = "/nonexistent/lazypv.img";
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), ENOENT);
	lpv_vm_config_init(&vc);
	vc.max_reboots = -2;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	vc.max_reboots = -1;
	vc.event_queue = 1U << 30;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);

	/* A VM used out of order. */
	vm = vm_new(host, NULL, 0, NULL, NULL);
	ASSERT_EQ(lpv_vm_state(vm), LPV_VM_CREATED);
	ASSERT_STR_EQ(lpv_vm_teardown(vm), "sync");
	ASSERT_FAILS(lpv_vm_reboot(vm), EINVAL);
	ASSERT_TRUE(strstr(lpv_vm_last_error(vm), "not booted") != NULL);
	ASSERT_FAILS(lpv_vm_shutdown(vm), EINVAL);
	ASSERT_FAILS(lpv_vm_kill(vm), EINVAL);
	ASSERT_FAILS(lpv_vm_wait(vm, 0, NULL), EINVAL);
	ASSERT_FAILS(lpv_vm_wait_cleanup(vm, 0), EINVAL);
	ASSERT_FAILS(lpv_vm_event_poll(vm, &ev, 0), ENODATA);
	ASSERT_FAILS(lpv_vm_progress(vm, NULL), EINVAL);
	ASSERT_FAILS(lpv_host_progress(host, NULL), EINVAL);
	ASSERT_FAILS(lpv_host_stats(host, NULL), EINVAL);
	ASSERT_OK(lpv_vm_boot(vm));
	ASSERT_FAILS(lpv_vm_boot(vm), EALREADY);
	ASSERT_FAILS(lpv_host_check(host), EBUSY);
	ASSERT_FAILS(lpv_vm_wait(vm, 0, NULL), ETIMEDOUT);
	ASSERT_OK(lpv_vm_shutdown(vm));
	ASSERT_OK(lpv_vm_wait_cleanup(vm, LPV_WAIT_FOREVER));
	ASSERT_FAILS(lpv_vm_shutdown(vm), ESRCH);
	ASSERT_FAILS(lpv_vm_kill(vm), ESRCH);
	ASSERT_FAILS(lpv_vm_reboot(vm), ESRCH);
	ASSERT_FAILS(lpv_vm_boot(vm), EALREADY);
	lpv_vm_destroy(vm);
	ASSERT_OK(lpv_host_check(host));
	lpv_host_destroy(host);
	return 0;
}

TEST_IMPL(api_every_teardown_mode)
{
	struct lpv_host *host = host_new();
	unsigned int modes = 0;

	for (unsigned int i = 0; lpv_teardown_mode_name(i); i++) {
		const char *mode = lpv_teardown_mode_name(i);
		struct lpv_vm *vm = vm_new(host, mode, 0, NULL, NULL);
		struct lpv_progress prog;
		struct lpv_vm_exit ex;

		printf("# %s\n", mode);
		ASSERT_STR_EQ(lpv_vm_teardown(vm), mode);
		ASSERT_OK(lpv_vm_boot(vm));
		ASSERT_EQ(lpv_vm_state(vm), LPV_VM_RUNNING);
		ASSERT_OK(lpv_vm_reboot(vm));
		ASSERT_OK(lpv_vm_reboot(vm));
		ASSERT_OK(lpv_vm_shutdown(vm));
		ASSERT_OK(lpv_vm_wait(vm, 60 * 1000, &ex));
		ASSERT_EQ(ex.code, 0);
		ASSERT_FALSE(ex.killed);
		ASSERT_EQ(ex.boots, 3);
		ASSERT_EQ(ex.error, 0);
		ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
		ASSERT_EQ(lpv_vm_state(vm), LPV_VM_CLEANED);
		ASSERT_OK(lpv_vm_progress(vm, &prog));
		ASSERT_UEQ(prog.pending_bytes, 0);
		ASSERT_EQ(prog.cleaning, 0);
		ASSERT_OK(lpv_host_wait_cleanup(host, 60 * 1000));
		ASSERT_OK(lpv_host_check(host));
		lpv_vm_destroy(vm);
		modes++;
	}
	ASSERT_GE(modes, 4);
	{
		struct lpv_stats st;

		ASSERT_OK(lpv_host_stats(host, &st));
		ASSERT_UEQ(st.vm_boots, modes);
		ASSERT_UEQ(st.guest_boots, 3 * modes);
		ASSERT_UEQ(st.reboots, 2 * modes);
		ASSERT_UEQ(st.exits, modes);
		ASSERT_UEQ(st.cleanups_done, modes);
		ASSERT_UEQ(st.cleanups_failed, 0);
		ASSERT_EQ(st.vms, 0);
		ASSERT_UEQ(st.pv_enables, 3 * modes);
	}
	lpv_host_destroy(host);
	return 0;
}

TEST_IMPL(api_wait_cleanup_timeout)
{
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "async", 0, NULL, NULL);
	struct lpv_progress prog;
	struct lpv_stats st;
	uint64_t t1;

	/* Nothing exited yet: nothing to wait for, even with a VM running. */
	ASSERT_OK(lpv_host_wait_cleanup(host, 0));
	ASSERT_OK(lpv_vm_boot(vm));
	ASSERT_OK(lpv_host_wait_cleanup(host, 0));
	ASSERT_FAILS(lpv_vm_wait_cleanup(vm, 0), ETIMEDOUT);
	ASSERT_OK(lpv_vm_shutdown(vm));
	/* Asked to shut down: the host's wait waits for it from now on. */
	ASSERT_FAILS(lpv_host_wait_cleanup(host, 0), ETIMEDOUT);
	ASSERT_OK(lpv_vm_wait(vm, 60 * 1000, NULL));
	/*
	 * async shutdown: the teardown helper holds the memory until its
	 * poll (a second, QEMU's sleep(1)) sees the VMM gone.
	 */
	ASSERT_OK(lpv_vm_progress(vm, &prog));
	ASSERT_GT(prog.pending_bytes, 0);
	ASSERT_EQ(prog.cleaning, 1);
	ASSERT_OK(lpv_host_progress(host, &prog));
	ASSERT_GT(prog.pending_bytes, 0);
	ASSERT_OK(lpv_host_stats(host, &st));
	ASSERT_EQ(st.vms_cleaning, 1);
	ASSERT_UEQ(st.pending_bytes, prog.pending_bytes);
	ASSERT_FAILS(lpv_host_wait_cleanup(host, 0), ETIMEDOUT);
	ASSERT_TRUE(strstr(lpv_host_last_error(host), "cleanup") != NULL);
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		ASSERT_FAILS(lpv_host_wait_cleanup(host, 100), ETIMEDOUT);
		clock_gettime(CLOCK_MONOTONIC, &b);
		t1 = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ULL +
		     (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
		ASSERT_GE(t1, 100ULL * 1000000);
		ASSERT_LT(t1, 900ULL * 1000000);
	}
	ASSERT_FAILS(lpv_vm_wait_cleanup(vm, 10), ETIMEDOUT);
	ASSERT_OK(lpv_host_wait_cleanup(host, LPV_WAIT_FOREVER));
	ASSERT_EQ(lpv_vm_state(vm), LPV_VM_CLEANED);
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 0));
	ASSERT_OK(lpv_host_progress(host, &prog));
	ASSERT_UEQ(prog.pending_bytes, 0);
	ASSERT_EQ(prog.cleaning, 0);
	ASSERT_OK(lpv_vm_progress(vm, &prog));
	ASSERT_GT(prog.cleaned_bytes, 0);
	ASSERT_GT(prog.rate_bytes_per_s, 0);
	ASSERT_OK(lpv_host_stats(host, &st));
	ASSERT_UEQ(st.cleanups_done, 1);
	ASSERT_UEQ(st.pending_bytes, 0);
	ASSERT_UEQ(st.set_aside_bytes, 0);
	lpv_vm_destroy(vm);
	lpv_host_destroy(host);
	return 0;
}

/*
 * A synchronous destroy at the exit runs before the VMM has exited (the
 * VM is still RUNNING): its progress counts what it cleaned and a rate,
 * not only what is pending.
 */
TEST_IMPL(api_progress_of_a_synchronous_destroy)
{
	char prof[] = "/tmp/lazypv-api-profile-XXXXXX";
	struct lpv_host_config hc;
	struct lpv_host *host;
	struct lpv_vm_config vc;
	struct lpv_vm *vm;
	uint64_t seen = 0, best_rate = 0;
	int fd = mkstemp(prof);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	/* Exports of 20 us a page: the exit's destroy of 32768 pages lasts
	 * ~0.7 s, whatever the environment's profile, so a reader polling
	 * every millisecond sees it under any load. */
	ASSERT_NOT_NULL(f);
	fprintf(f, "base = default\ncost.export = 20us\ncost.destroy_page = 20us\n");
	ASSERT_EQ(fclose(f), 0);
	lpv_host_config_init(&hc);
	hc.seed = "tests";
	hc.profile = prof;
	if (lpv_host_create(&hc, &host))
		test_fail(__FILE__, __LINE__, "host: %s", lpv_last_error());
	unlink(prof);

	lpv_vm_config_init(&vc);
	vc.guest_mem = 128ULL << 20;
	vc.teardown = "sync";
	vc.payload_bytes = 64 * 1024;
	vc.program = "touch:rounds=1,then=idle";
	vc.event_queue = 64;
	ASSERT_OK(lpv_vm_create(host, &vc, &vm));
	ASSERT_OK(lpv_vm_boot(vm));
	/* Every page touched (and secure) before the shutdown. */
	for (;;) {
		struct lpv_event ev;

		ASSERT_OK(lpv_vm_event_poll(vm, &ev, 60 * 1000));
		if (ev.type == LPV_EVENT_ROUND)
			break;
	}
	ASSERT_OK(lpv_vm_shutdown(vm));
	while (lpv_vm_state(vm) == LPV_VM_RUNNING) {
		struct lpv_progress p;
		struct timespec ms = { 0, 1000000 };

		ASSERT_OK(lpv_vm_progress(vm, &p));
		if (p.pending_bytes && p.cleaned_bytes) {
			seen++;
			ASSERT_GT(p.rate_bytes_per_s, 0);
			ASSERT_TRUE(p.ending);
			if (p.rate_bytes_per_s > best_rate)
				best_rate = p.rate_bytes_per_s;
		}
		nanosleep(&ms, NULL);
	}
	printf("# %llu samples with a rate, best %llu MiB/s\n",
	       (unsigned long long)seen,
	       (unsigned long long)(best_rate >> 20));
	ASSERT_GE(seen, 1);
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
	ASSERT_OK(lpv_host_check(host));
	lpv_vm_destroy(vm);
	lpv_host_destroy(host);
	return 0;
}

struct recorder {
	struct lpv_event ev[256];
	unsigned int n;
};

/* Only the event thread writes; the test reads after lpv_host_destroy. */
static void record(void *ctx, const struct lpv_event *ev)
{
	struct recorder *rec = ctx;

	if (rec->n < 256)
		rec->ev[rec->n] = *ev;
	rec->n++;
}

static void check_order(const struct lpv_event *ev, unsigned int n,
			unsigned int boots)
{
	unsigned int booted = 0, reboots = 0;

	ASSERT_GE(n, 3);
	ASSERT_EQ(ev[0].type, LPV_EVENT_BOOT_START);
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_UEQ(ev[i].seq, i);
		ASSERT_UEQ(ev[i].dropped, 0);
		if (i) {
			ASSERT_GE(ev[i].t_ns, ev[i - 1].t_ns);
			ASSERT_GE(ev[i].boot, ev[i - 1].boot);
		}
		if (ev[i].type == LPV_EVENT_BOOTED) {
			ASSERT_EQ(ev[i].boot, booted);
			ASSERT_TRUE(ev[i].protected_guest);
			booted++;
		}
		if (ev[i].type == LPV_EVENT_REBOOT) {
			ASSERT_UEQ(ev[i].subcode, 0x100);
			reboots++;
		}
	}
	ASSERT_EQ(booted, boots);
	ASSERT_EQ(reboots, boots - 1);
	ASSERT_EQ(ev[n - 3].type, LPV_EVENT_SHUTDOWN);
	ASSERT_EQ(ev[n - 2].type, LPV_EVENT_EXIT);
	ASSERT_EQ(ev[n - 2].code, 0);
	ASSERT_EQ(ev[n - 1].type, LPV_EVENT_CLEANUP_DONE);
	ASSERT_EQ(ev[n - 1].code, 0);
	/* Reclaimed since the shutdown request: what was still charged at
	 * the exit, and what the exit path had freed before it. */
	ASSERT_GE(ev[n - 1].bytes, ev[n - 2].bytes);
	ASSERT_GT(ev[n - 1].bytes, 0);
}

TEST_IMPL(api_events_in_order)
{
	static struct recorder rec;
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "lazy", 256, record, &rec);
	struct lpv_event q[256];
	unsigned int n = 0;
	struct lpv_event ev;

	ASSERT_OK(lpv_vm_boot(vm));
	for (int i = 0; i < 3; i++)
		ASSERT_OK(lpv_vm_reboot(vm));
	ASSERT_OK(lpv_vm_shutdown(vm));
	ASSERT_FAILS(lpv_vm_event_poll(vm, NULL, 0), EINVAL);
	for (;;) {
		int r = lpv_vm_event_poll(vm, &ev, 60 * 1000);

		if (r == -ENODATA)
			break;
		ASSERT_OK(r);
		ASSERT_PTR_EQ(ev.vm, vm);
		ASSERT_LT(n, 256);
		q[n++] = ev;
	}
	check_order(q, n, 4);
	/* Every event formats: JSON that parses back with the command's
	 * event name, text that is cut at @len with the full length said. */
	for (unsigned int i = 0; i < n; i++) {
		char buf[512], tiny[8];
		json_error_t jerr;
		json_t *j;
		int len = lpv_event_format(&q[i], q[0].t_ns, true, buf,
					   sizeof(buf));

		ASSERT_GT(len, 0);
		ASSERT_LT(len, (int)sizeof(buf));
		j = json_loads(buf, 0, &jerr);
		ASSERT_NOT_NULL(j);
		ASSERT_TRUE(json_is_string(json_object_get(j, "event")));
		ASSERT_UEQ(json_integer_value(json_object_get(j, "t_ns")),
			   q[i].t_ns);
		json_decref(j);
		len = lpv_event_format(&q[i], q[0].t_ns, false, buf,
				       sizeof(buf));
		ASSERT_GT(len, 0);
		ASSERT_NOT_NULL(strstr(buf, "boot "));
		ASSERT_EQ(lpv_event_format(&q[i], q[0].t_ns, false, tiny,
					   sizeof(tiny)), len);
		ASSERT_EQ(strlen(tiny), sizeof(tiny) - 1);
	}
	ASSERT_FAILS(lpv_event_format(NULL, 0, true, NULL, 0), EINVAL);
	ev = q[0];
	ev.type = (enum lpv_event_type)999;
	ASSERT_FAILS(lpv_event_format(&ev, 0, true, NULL, 0), EINVAL);
	/* Drained and cleaned: nothing more will come. */
	ASSERT_FAILS(lpv_vm_event_poll(vm, &ev, 0), ENODATA);
	lpv_host_destroy(host);	/* destroys the VM; callbacks have run */
	/* The callback saw the same events, in the same order. */
	ASSERT_EQ(rec.n, n);
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(rec.ev[i].type, q[i].type);
		ASSERT_UEQ(rec.ev[i].seq, q[i].seq);
		ASSERT_UEQ(rec.ev[i].t_ns, q[i].t_ns);
	}
	return 0;
}

/*
 * A VM's timeline, once it is cleaned, is what its queue saw; its result
 * adds up; before that both say -EBUSY.
 */
TEST_IMPL(api_timeline_and_result)
{
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "async", 256, NULL, NULL);
	struct lpv_event q[256], t[256];
	struct lpv_vm_result res;
	struct lpv_progress prog;
	struct lpv_event ev;
	unsigned int n = 0;
	long nt;

	ASSERT_FAILS(lpv_vm_timeline(vm, t, 256), EINVAL);	/* not booted */
	ASSERT_FAILS(lpv_vm_result(vm, &res), EINVAL);
	ASSERT_OK(lpv_vm_boot(vm));
	ASSERT_FAILS(lpv_vm_timeline(vm, t, 256), EBUSY);
	ASSERT_FAILS(lpv_vm_result(vm, &res), EBUSY);
	ASSERT_FAILS(lpv_vm_timeline(vm, NULL, 1), EINVAL);
	ASSERT_OK(lpv_vm_progress(vm, &prog));
	ASSERT_FALSE(prog.ending);
	ASSERT_GT(prog.in_use_bytes, 0);
	ASSERT_GT(prog.t_ns, 0);
	ASSERT_OK(lpv_vm_reboot(vm));
	ASSERT_OK(lpv_vm_shutdown(vm));
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
	while (!lpv_vm_event_poll(vm, &ev, 0)) {
		ASSERT_LT(n, 256);
		q[n++] = ev;
	}
	nt = lpv_vm_timeline(vm, NULL, 0);
	ASSERT_EQ(nt, n);
	ASSERT_EQ(lpv_vm_timeline(vm, t, 2), n);	/* a prefix, the count */
	ASSERT_EQ(lpv_vm_timeline(vm, t, 256), n);
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(t[i].type, q[i].type);
		ASSERT_UEQ(t[i].seq, i);
		ASSERT_UEQ(t[i].t_ns, q[i].t_ns);
		ASSERT_UEQ(t[i].latency_ns, q[i].latency_ns);
		ASSERT_UEQ(t[i].bytes, q[i].bytes);
		ASSERT_EQ(t[i].code, q[i].code);
		ASSERT_PTR_EQ(t[i].vm, vm);
	}
	ASSERT_EQ(t[n - 1].type, LPV_EVENT_CLEANUP_DONE);
	ASSERT_OK(lpv_vm_result(vm, &res));
	ASSERT_EQ(res.exit.code, 0);
	ASSERT_FALSE(res.exit.killed);
	ASSERT_EQ(res.exit.boots, 2);
	ASSERT_EQ(res.cleanup_error, 0);
	ASSERT_UEQ(res.reclaimed_bytes, t[n - 1].bytes);
	ASSERT_UEQ(res.leaked_bytes, t[n - 1].leaked_bytes);
	ASSERT_GT(res.reclaim_ns, 0);
	ASSERT_GT(res.exit.exit_latency_ns, 0);
	ASSERT_OK(lpv_vm_progress(vm, &prog));
	ASSERT_TRUE(prog.ending);
	ASSERT_UEQ(prog.pending_bytes, 0);
	lpv_host_destroy(host);
	return 0;
}

/*
 * Images, host keys and programs before and beside a host: an image built
 * for another key is refused, one for this host's boots and can be shared,
 * a file round-trips, the memcg minimum is what lpv_vm_create enforces.
 */
TEST_IMPL(api_images_and_programs)
{
	char path[] = "/tmp/lazypv-api-image-XXXXXX";
	uint8_t key[LPV_HOST_KEY_LEN], other[LPV_HOST_KEY_LEN];
	uint8_t hkey[LPV_HOST_KEY_LEN];
	struct lpv_image_spec spec = { .program = "touch:mib=1,then=poweroff",
				       .payload_bytes = 64 * 1024 };
	struct lpv_image *img, *alien, *loaded;
	struct lpv_image_info info, info2;
	struct lpv_vm_config vc;
	struct lpv_vm *vm, *vm2;
	struct lpv_host *host;
	const void *data;
	uint64_t min;
	size_t len;
	int fd;

	ASSERT_NOT_NULL(strstr(lpv_program_names(), "touch"));
	ASSERT_OK(lpv_program_check("memtest:ops=10"));
	ASSERT_FAILS(lpv_program_check("nosuch"), ENOENT);
	ASSERT_FAILS(lpv_program_check(NULL), EINVAL);
	ASSERT_OK(lpv_program_check_fit("touch:mib=4", 16 << 20, 1, 17));
	ASSERT_FAILS(lpv_program_check_fit("touch:mib=64", 16 << 20, 1, 17),
		     ENOSPC);
	ASSERT_FAILS(lpv_host_key_parse("12", key), EINVAL);
	ASSERT_FAILS(lpv_host_key_from_seed("x", NULL), EINVAL);
	ASSERT_OK(lpv_host_key_from_seed("tests", key));
	ASSERT_OK(lpv_host_key_from_seed("other", other));
	ASSERT_TRUE(memcmp(key, other, sizeof(key)) != 0);
	ASSERT_FAILS(lpv_image_build(NULL, key, &img), EINVAL);
	ASSERT_FAILS(lpv_image_load("/nonexistent/image", &img), ENOENT);
	ASSERT_OK(lpv_image_build(&spec, key, &img));
	ASSERT_OK(lpv_image_build(&spec, other, &alien));
	ASSERT_OK(lpv_image_info(img, &info));
	ASSERT_EQ(memcmp(info.host_key, key, sizeof(key)), 0);
	ASSERT_UEQ(info.pages, 1 + 16);
	data = lpv_image_data(img, &len);
	ASSERT_NOT_NULL(data);
	ASSERT_UEQ(len, info.bytes);
	/* A file round-trips; a truncated one is refused with a reason. */
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	ASSERT_OK(lpv_image_load(path, &loaded));
	ASSERT_OK(lpv_image_info(loaded, &info2));
	ASSERT_UEQ(info2.bytes, info.bytes);
	ASSERT_UEQ(info2.pages, info.pages);
	lpv_image_destroy(loaded);
	ASSERT_OK(ftruncate(fd, 5000));
	close(fd);
	ASSERT_FAILS(lpv_image_load(path, &loaded), EINVAL);
	ASSERT_NOT_NULL(strstr(lpv_last_error(), path));
	unlink(path);

	host = host_new();
	ASSERT_OK(lpv_host_key(host, hkey));
	ASSERT_EQ(memcmp(hkey, key, sizeof(key)), 0);
	lpv_vm_config_init(&vc);
	vc.guest_mem = 16 << 20;
	vc.program = spec.program;
	vc.image = alien;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EKEYREJECTED);
	vc.image = img;
	vc.image_file = "/nonexistent/image";
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), EINVAL);
	vc.image_file = NULL;
	ASSERT_OK(lpv_vm_memcg_min(host, &vc, &min));
	ASSERT_GT(min, info.pages * LPV_PAGE_SIZE);
	vc.memcg_limit = min - LPV_PAGE_SIZE;
	ASSERT_FAILS(lpv_vm_create(host, &vc, &vm), E2BIG);
	vc.memcg_limit = min + (4 << 20);
	/* Two VMs boot the one image; the guests power themselves off. */
	ASSERT_OK(lpv_vm_create(host, &vc, &vm));
	vc.memcg_limit = 0;
	ASSERT_OK(lpv_vm_create(host, &vc, &vm2));
	ASSERT_OK(lpv_vm_boot(vm));
	ASSERT_OK(lpv_vm_boot(vm2));
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
	ASSERT_OK(lpv_vm_wait_cleanup(vm2, 60 * 1000));
	lpv_host_destroy(host);
	lpv_image_destroy(img);
	lpv_image_destroy(alien);
	lpv_image_destroy(NULL);
	return 0;
}

TEST_IMPL(api_event_queue_overflow)
{
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "sync", 2, NULL, NULL);
	struct lpv_event a, b;

	ASSERT_OK(lpv_vm_boot(vm));
	ASSERT_OK(lpv_vm_reboot(vm));
	ASSERT_OK(lpv_vm_shutdown(vm));
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
	/* Only the last two survive; the first says how many went. */
	ASSERT_OK(lpv_vm_event_poll(vm, &a, 0));
	ASSERT_OK(lpv_vm_event_poll(vm, &b, 0));
	ASSERT_FAILS(lpv_vm_event_poll(vm, &b, 0), ENODATA);
	ASSERT_EQ(a.type, LPV_EVENT_EXIT);
	ASSERT_EQ(b.type, LPV_EVENT_CLEANUP_DONE);
	ASSERT_UEQ(a.dropped, a.seq);
	ASSERT_UEQ(b.dropped, 0);
	ASSERT_UEQ(b.seq, a.seq + 1);
	lpv_vm_destroy(vm);
	lpv_host_destroy(host);
	return 0;
}

struct self_destroy {
	struct lpv_vm *vm;
	unsigned int after_destroy;
	bool destroyed;
	sem_t done;		/* posted once the callback destroyed it */
};

/* Destroys its own VM from its callback when the guest first runs. */
static void destroy_on_boot(void *ctx, const struct lpv_event *ev)
{
	struct self_destroy *sd = ctx;

	if (sd->destroyed) {
		sd->after_destroy++;
		return;
	}
	if (ev->type == LPV_EVENT_BOOTED) {
		sd->destroyed = true;
		lpv_vm_destroy(ev->vm);
		sem_post(&sd->done);
	}
}

TEST_IMPL(api_destroy_running_vm)
{
	static struct self_destroy sd;
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "lazy", 0, NULL, NULL);
	struct lpv_stats st;

	/* Destroyed while running: killed, and still cleaned and counted. */
	ASSERT_OK(lpv_vm_boot(vm));
	lpv_vm_destroy(vm);
	ASSERT_OK(lpv_host_wait_cleanup(host, 60 * 1000));
	ASSERT_OK(lpv_host_stats(host, &st));
	ASSERT_UEQ(st.exits, 1);
	ASSERT_UEQ(st.cleanups_done, 1);
	ASSERT_EQ(st.vms, 0);

	/* Killed, then waited for. */
	vm = vm_new(host, "async", 0, NULL, NULL);
	{
		struct lpv_vm_exit ex;

		ASSERT_OK(lpv_vm_boot(vm));
		ASSERT_OK(lpv_vm_kill(vm));
		ASSERT_OK(lpv_vm_wait(vm, 60 * 1000, &ex));
		ASSERT_TRUE(ex.killed);
		ASSERT_EQ(ex.code, 137);
		ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
		lpv_vm_destroy(vm);
	}

	/* Destroyed from its own callback. */
	ASSERT_OK(sem_init(&sd.done, 0, 0));
	sd.vm = vm_new(host, "sync", 0, destroy_on_boot, &sd);
	ASSERT_OK(lpv_vm_boot(sd.vm));
	while (sem_wait(&sd.done))
		ASSERT_EQ(errno, EINTR);
	/* A destroyed VM counts until it is cleaned and released. */
	ASSERT_OK(lpv_host_wait_cleanup(host, 60 * 1000));
	ASSERT_OK(lpv_host_stats(host, &st));
	ASSERT_EQ(st.vms, 0);
	ASSERT_UEQ(st.exits, 3);
	ASSERT_UEQ(st.cleanups_done, 3);
	ASSERT_EQ(sd.after_destroy, 0);
	ASSERT_OK(lpv_host_check(host));
	lpv_host_destroy(host);
	return 0;
}

TEST_IMPL(api_stats_json_keys)
{
	static const char *const api_keys[] = {
		"mem_bytes", "free_bytes", "guest_bytes", "kernel_bytes",
		"donated_bytes", "set_aside_bytes", "leaked_bytes", "vms",
		"vms_running", "vms_cleaning", "cleanup_threads", "vm_boots",
		"guest_boots", "reboots", "exits", "cleanups_done",
		"cleanups_failed", "pending_bytes", "pv_enables", "pv_disables",
		"pages_destroyed", "pages_exported", "pages_set_aside",
		"pages_freed_by_cleanup_threads", "async_performs", "oom_kills",
	};
	struct lpv_host *host = host_new();
	struct lpv_vm *vm = vm_new(host, "lazy", 0, NULL, NULL);
	struct lpv_stats st;
	json_error_t jerr;
	json_t *root, *api, *vms, *v;
	char *text;

	ASSERT_OK(lpv_vm_boot(vm));
	text = lpv_host_stats_json(host);
	ASSERT_NOT_NULL(text);
	root = json_loads(text, 0, &jerr);
	ASSERT_NOT_NULL(root);
	free(text);
	ASSERT_STR_EQ(json_string_value(json_object_get(root, "lazypv")),
		      LAZYPV_VERSION);
	api = json_object_get(root, "api");
	ASSERT_TRUE(json_is_object(api));
	for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
		if (!json_is_integer(json_object_get(api, api_keys[i])))
			test_fail(__FILE__, __LINE__, "api.%s missing",
				  api_keys[i]);
	}
	ASSERT_EQ(json_integer_value(json_object_get(api, "vms_running")), 1);
	ASSERT_TRUE(json_is_object(json_object_get(root, "progress")));
	ASSERT_TRUE(json_is_object(json_object_get(root, "kvm")));
	ASSERT_TRUE(json_is_object(json_object_get(root, "mm")));
	ASSERT_TRUE(json_is_integer(json_object_get(
		json_object_get(root, "kvm"), "pv_enables")));
	vms = json_object_get(root, "vms");
	ASSERT_EQ(json_array_size(vms), 1);
	v = json_array_get(vms, 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "state")), "running");
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "teardown")), "lazy");
	ASSERT_TRUE(json_is_object(json_object_get(v, "progress")));
	json_decref(root);

	/* The snapshot agrees with the JSON's source. */
	ASSERT_OK(lpv_host_stats(host, &st));
	ASSERT_UEQ(st.mem_bytes, 3ULL << 30);
	ASSERT_GT(st.guest_bytes, 0);
	ASSERT_GT(st.donated_bytes, 0);
	ASSERT_EQ(st.vms_running, 1);
	ASSERT_OK(lpv_vm_shutdown(vm));
	ASSERT_OK(lpv_vm_wait_cleanup(vm, 60 * 1000));
	lpv_vm_destroy(vm);
	lpv_host_destroy(host);
	return 0;
}
