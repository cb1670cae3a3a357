// SPDX-License-Identifier: MIT
/*
 * test_kill.c - a VMM that does not end by itself: SIGKILL from outside
 * (while the guest runs, and while it is still booting) and the OOM
 * killer (a memcg limit below what the guest touches).  The exit path
 * alone -- exit_mm, then exit_files destroying the VM -- must leave the
 * host exactly as before.
 */
#include "vmm_test.h"

#include <pthread.h>

TEST_IMPL(vmm_kill_during_run)
{
	struct vmm_result res;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, NULL, "touch:rounds=1000000,then=idle", 64 * 1024, 24, 2);
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait_round(vmm, 0, 0));
	ASSERT_OK(vmm_kill(vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, TASK_EXIT_KILLED);
	ASSERT_TRUE(res.killed);
	ASSERT_EQ(res.error, 0);
	ASSERT_UEQ(res.leaked_frames, 0);
	ASSERT_EQ(vt_count(vmm, VMM_EV_SHUTDOWN_REQUEST), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_EXIT), 1);
	ASSERT_EQ(vt_count(vmm, VMM_EV_RECLAIMED), 1);
	ASSERT_ERR(vmm_kill(vmm), ESRCH);
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}

struct killer {
	struct vmm *vmm;
	int kills;		/* vmm_kill() calls that succeeded */
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;
	int r;

	while ((r = vmm_kill(k->vmm)) == 0)
		k->kills++;
	return r == -ESRCH ? NULL : (void *)1;
}

/*
 * vmm_kill() on one thread while the parent's vmm_wait() reaps on another:
 * kills past their check finish before the task is reaped, later ones
 * answer -ESRCH (the sanitizer builds would catch a use of the reaped
 * task).
 */
TEST_IMPL(vmm_kill_races_wait)
{
	for (int round = 0; round < 8; round++) {
		struct vmm_result res;
		struct killer k = { 0 };
		pthread_t t;
		void *bad;
		struct vt vt;

		vt_setup(&vt, NULL, "touch:rounds=1000000,then=idle", 64 * 1024, 24, 2);
		ASSERT_OK(vmm_create(vt.env, &vt.cfg, &k.vmm));
		ASSERT_OK(pthread_create(&t, NULL, killer_main, &k));
		ASSERT_OK(vmm_wait(k.vmm, &res));
		ASSERT_OK(pthread_join(t, &bad));
		ASSERT_NULL(bad);
		ASSERT_GE(k.kills, 1);
		ASSERT_TRUE(res.killed);
		ASSERT_UEQ(res.leaked_frames, 0);
		vmm_destroy(k.vmm);
		vt_check_quiescent(&vt);
		vt_teardown(&vt);
	}
	return 0;
}

/* Kill at once: the VMM may be anywhere in setup or unpack. */
TEST_IMPL(vmm_kill_while_booting)
{
	struct vmm_result res;
	struct vt t;

	vt_setup(&t, NULL, "idle", 2 << 20, 16, 2);
	for (int i = 0; i < 4; i++) {
		struct vmm *vmm;

		ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
		ASSERT_OK(vmm_kill(vmm));
		ASSERT_OK(vmm_wait(vmm, &res));
		ASSERT_EQ(res.exit_code, TASK_EXIT_KILLED);
		vmm_destroy(vmm);
		vt_check_quiescent(&t);
	}
	vt_teardown(&t);
	return 0;
}

/* The guest touches more than the VMM's memcg allows: the memcg OOM path
 * kills the VMM (nothing else is in the memcg), the vCPUs leave SIE, and
 * the exit path gives every frame back. */
TEST_IMPL(vmm_oom_kill)
{
	struct memcg_stats ms;
	struct vmm_result res;
	struct mm_stats st;
	struct vmm *vmm;
	struct vt t;

	vt_setup(&t, NULL, "touch", 64 * 1024, 48, 2);
	t.cfg.memcg_limit = 16 << 20;
	ASSERT_OK(vmm_create(t.env, &t.cfg, &vmm));
	ASSERT_OK(vmm_wait(vmm, &res));
	ASSERT_EQ(res.exit_code, TASK_EXIT_KILLED);
	ASSERT_TRUE(res.killed);
	memcg_stats_get(vmm_memcg(vmm), &ms);
	ASSERT_GE(ms.oom_kill, 1);
	ASSERT_GE(ms.failcnt, 1);
	ASSERT_LE(ms.peak, (16 << 20) / HW_PAGE_SIZE);
	ASSERT_UEQ(ms.usage, 0);
	mm_stats_get(t.env->world, &st);
	ASSERT_GE(st.oom_kills, 1);
	ASSERT_UEQ(res.leaked_frames, 0);
	{
		size_t nr;
		const struct vmm_event *ev = vmm_events(vmm, &nr);
		bool said = false;

		for (size_t i = 0; i < nr; i++)
			if (ev[i].type == VMM_EV_SHUTDOWN_REQUEST)
				said = strstr(ev[i].message, "OOM") != NULL;
		ASSERT_TRUE(said);
	}
	vmm_destroy(vmm);
	vt_check_quiescent(&t);
	vt_teardown(&t);
	return 0;
}
