// SPDX-License-Identifier: MIT
/*
 * test_async_teardown.c - async shutdown with QEMU's teardown helper, and
 * the VMM's exit(1) when ASYNC_CLEANUP_PERFORM fails (fidelity-facts §3).
 *
 * The helper holds the address space and nothing else, so the VMM's own
 * exit drops the last VM reference: DESTROY_SEC_CONF and the walk are done
 * when the parent's wait returns, the mmu-notifier release never fires,
 * and the memory comes back only when the helper, polling for its
 * parent's death, exits.  What each event's callback sees is read at that
 * moment; the checks are about order, never about elapsed time.
 */
#include "vmm_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1ULL << 30)

/* What the counters said when an event was recorded. */
struct snap {
	bool seen;
	struct uv_stats uv;
	struct kvm_stats kvm;
	unsigned int vms;	/* VMs not yet destroyed */
	uint64_t charged;	/* frames charged to the VMM's memcg */
	struct vmm_event ev;
};

struct watch {
	const struct vmm_env *env;
	struct memcg *memcg;		/* the VMM's, set once created */
	struct snap shutdown, exit, helper;
	bool perform_error;		/* the PERFORM failure is recorded */
};

static void snap_take(struct watch *w, struct snap *s,
		      const struct vmm_event *ev)
{
	struct memcg *memcg;

	s->seen = true;
	uv_stats_get(kvm_module_uv(w->env->kvm), &s->uv);
	kvm_stats_get(w->env->kvm, &s->kvm);
	s->vms = kvm_module_nr_vms(w->env->kvm);
	memcg = __atomic_load_n(&w->memcg, __ATOMIC_ACQUIRE);
	s->charged = memcg ? memcg_usage(memcg) : 0;
	s->ev = *ev;
}

/* Runs under the VMM's lock, on whichever thread recorded the event. */
static void watch_event(void *ctx, const struct vmm_event *ev)
{
	struct watch *w = ctx;

	switch (ev->type) {
	case VMM_EV_SHUTDOWN_REQUEST:
		if (!w->shutdown.seen)
			snap_take(w, &w->shutdown, ev);
		break;
	case VMM_EV_EXIT:
		snap_take(w, &w->exit, ev);
		break;
	case VMM_EV_HELPER_EXIT:
		snap_take(w, &w->helper, ev);
		break;
	case VMM_EV_GUEST_ERROR:
		if (strstr(ev->message, "ASYNC_CLEANUP_PERFORM"))
			__atomic_store_n(&w->perform_error, true,
					 __ATOMIC_RELEASE);
		break;
	default:
		break;
	}
}

static uint64_t calls(const struct uv_stats *st, uint16_t cmd)
{
	return st->cmd[uv_cmd_index(cmd)].calls;
}

/* Index of the first event of @type in the timeline, or -1. */
static long ev_index(struct vmm *vmm, enum vmm_event_type type)
{
	size_t nr;
	const struct vmm_event *ev = vmm_events(vmm, &nr);

	for (size_t i = 0; i < nr; i++)
		if (ev[i].type == type)
			return (long)i;
	return -1;
}

/* A profile file: @text after "base = zero". */
static char *profile_file(const char *text)
{
	static char path[] = "/tmp/lazypv-profile-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_GE(fd, 0);
	f = fdopen(fd, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "base = zero\n%s", text);
	fclose(f);
	return path;
}

/*
 * Power-off of an async guest with the helper: the VMM's exit does the
 * whole VM teardown, the helper only the final exit_mmap, after a poll.
 * DESTROY_SEC_CONF is made slow (a modelled cost per call), so the
 * helper, woken when the VMM's main thread exits, checks at least once
 * while the VMM's exit is still tearing the VM down, and sleeps.
 */
TEST_IMPL(vmm_async_helper_exit_order)
{
	struct watch w = { 0 };
	const uint16_t conf = UVC_CMD_DESTROY_SEC_CONF;
	const uint16_t fast = UVC_CMD_DESTROY_SEC_CONF_FAST;
	struct vmm_result res;
	struct vmm *vmm;
	struct vt t;
	char *path = profile_file("cost.destroy_conf = 40ms\n");
	long i_exit, i_helper, i_reclaimed;

	vt_setup(&t, path, "touch:mib=8,rounds=1,then=poweroff", 64 * 1024,
		 64, 1);
	unlink(path);
	w.env = t.env;
	t.cfg.destroy = VMM_DESTROY_ASYNC;
	t.cfg.helper_poll_ms = 20;
	t.cfg.on_event = watch_event;
	t.cfg.event_ctx = &w;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	/* read only from the shutdown's events on */
	__atomic_store_n(&w.memcg, vmm_memcg(vmm), __ATOMIC_RELEASE);
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_EQ(res.error, 0);
	ASSERT_UEQ(res.leaked_frames, 0);
	ASSERT_TRUE(w.shutdown.seen && w.exit.seen && w.helper.seen);

	/* When the parent's wait returns, the VM is gone: its config was
	 * destroyed with DESTROY_SEC_CONF (the UV cleaned every page) and
	 * the walk cleared every page it had marked -- in the VMM's exit. */
	ASSERT_UEQ(w.exit.vms, 0);
	ASSERT_GE(calls(&w.exit.uv, conf), calls(&w.shutdown.uv, conf) + 1);
	ASSERT_GT(w.exit.uv.conf_pages_cleaned, w.shutdown.uv.conf_pages_cleaned);
	ASSERT_UEQ(w.exit.uv.configs_live, 0);
	ASSERT_UEQ(w.exit.uv.configs_zombie, 0);
	ASSERT_GE(w.exit.kvm.walk_pages, w.shutdown.kvm.walk_pages + 2048);
	/* The mmu-notifier release never fired: it would have fast-destroyed
	 * the config (the profile has DESTROY_SEC_CONF_FAST). */
	ASSERT_UEQ(w.exit.kvm.fast_destroys, 0);
	ASSERT_UEQ(calls(&w.exit.uv, fast), 0);

	/*
	 * The helper held no VM reference (the VM was destroyed while it
	 * lived) but still the address space: every frame was charged when
	 * it decided to exit.  It had checked before and slept: it was
	 * woken while the VMM's exit still ran.
	 */
	ASSERT_UEQ(w.helper.vms, 0);
	ASSERT_GT(w.helper.charged, 0);
	ASSERT_GE(w.helper.ev.polls, 2);
	/* Its exit_mmap found nothing secure to export. */
	ASSERT_UEQ(w.helper.kvm.exit_exports, 0);

	/* Reclaim: after the helper's exit, which is after the VMM's. */
	i_exit = ev_index(vmm, VMM_EV_EXIT);
	i_helper = ev_index(vmm, VMM_EV_HELPER_EXIT);
	i_reclaimed = ev_index(vmm, VMM_EV_RECLAIMED);
	ASSERT_GE(i_exit, 0);
	ASSERT_GE(i_helper, 0);
	ASSERT_GT(i_reclaimed, i_helper);
	ASSERT_GE(res.reclaim_ns, w.helper.ev.latency_ns);
	ASSERT_GE(res.reclaim_ns, res.exit_latency_ns);
	ASSERT_UEQ(vt_count(vmm, VMM_EV_HELPER_EXIT), 1);

	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/*
 * ASYNC_CLEANUP_PERFORM fails (DESTROY_SEC_CONF of the set-aside config is
 * refused; without DESTROY_SEC_CONF_FAST, PREPARE kept the config for
 * PERFORM to destroy): QEMU exit(1)s, and so does the VMM -- with the
 * reason on the timeline.  The guest idles, so nothing else ends the VMM.
 */
TEST_IMPL(vmm_async_perform_failure_exits_1)
{
	struct watch w = { 0 };
	struct vmm_result res;
	struct kvm_stats ks;
	struct vmm *vmm;
	struct vt t;
	char *path = profile_file("call.destroy_conf_fast = off\n"
				  "inject = destroy_conf nth=1 rc=0x0101\n");
	size_t nr;
	const struct vmm_event *ev;
	bool found = false;

	vt_setup_host(&t, 6 * GIB, NULL, path, "idle", 64 * 1024, 3072, 1);
	unlink(path);
	w.env = t.env;
	t.cfg.destroy = VMM_DESTROY_ASYNC;
	t.cfg.helper_poll_ms = 20;
	t.cfg.on_event = watch_event;
	t.cfg.event_ctx = &w;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait_booted(vmm, 0));
	/* An external reset of a 3 GiB guest: PREPARE, then PERFORM. */
	ASSERT_OK(vmm_request_reset(vmm));
	/* Bounded: a VMM that only logs the failure idles on. */
	for (int i = 0; i < 30000 &&
	     !__atomic_load_n(&w.perform_error, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ASSERT_TRUE(__atomic_load_n(&w.perform_error, __ATOMIC_ACQUIRE));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, 1);
	ASSERT_FALSE(res.killed);
	ASSERT_EQ(res.error, -EIO);
	ASSERT_NOT_NULL(strstr(res.message, "ASYNC_CLEANUP_PERFORM failed"));
	ASSERT_NOT_NULL(strstr(res.message, "rc 0x101"));
	kvm_stats_get(t.env->kvm, &ks);
	ASSERT_UEQ(ks.async_prepares, 1);
	ASSERT_UEQ(ks.async_performs, 0);
	/* The timeline: the PERFORM's end, the error, the shutdown it
	 * amounts to, the exit with status 1. */
	ASSERT_EQ(vt_count(vmm, VMM_EV_CLEANUP_DONE), 1);
	ASSERT_TRUE(w.shutdown.seen);
	ASSERT_STR_EQ(w.shutdown.ev.message, "ASYNC_CLEANUP_PERFORM failed");
	ASSERT_TRUE(w.exit.seen);
	ASSERT_EQ(w.exit.ev.code, 1);
	ev = vmm_events(vmm, &nr);
	for (size_t i = 0; i < nr; i++)
		if (ev[i].type == VMM_EV_CLEANUP_DONE) {
			ASSERT_EQ(ev[i].code, -EIO);
			found = true;
		}
	ASSERT_TRUE(found);
	ASSERT_LT(ev_index(vmm, VMM_EV_GUEST_ERROR),
		  ev_index(vmm, VMM_EV_SHUTDOWN_REQUEST));
	ASSERT_LT(ev_index(vmm, VMM_EV_SHUTDOWN_REQUEST),
		  ev_index(vmm, VMM_EV_EXIT));
	/* The refused config's storage and table are leaked, counted. */
	ASSERT_GT(res.leaked_frames, 0);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

/*
 * The OOM killer takes every task sharing the victim's mm: the helper dies
 * with the VMM instead of polling (its period here is a minute, longer
 * than the reclaim is allowed to take), and the last of them to exit
 * frees the memory.
 */
TEST_IMPL(vmm_async_oom_kill_takes_helper)
{
	struct memcg_stats ms;
	struct vmm_result res;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, NULL, "touch", 64 * 1024, 48, 2);
	t.cfg.destroy = VMM_DESTROY_ASYNC;
	t.cfg.memcg_limit = 16 << 20;
	t.cfg.helper_poll_ms = 60 * 1000;
	t.cfg.reclaim_timeout_ms = 20 * 1000;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, TASK_EXIT_KILLED);
	ASSERT_TRUE(res.killed);
	ASSERT_UEQ(res.leaked_frames, 0);
	ASSERT_GT(res.reclaimed_frames, 0);
	memcg_stats_get(vmm_memcg(vmm), &ms);
	ASSERT_GE(ms.oom_kill, 1);
	ASSERT_UEQ(ms.usage, 0);
	ASSERT_EQ(vt_count(vmm, VMM_EV_HELPER_EXIT), 0);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}
