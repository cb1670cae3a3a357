// SPDX-License-Identifier: MIT
/*
 * test_async_release_race.c - the mmu-notifier release and the VM's
 * teardown, on two tasks at once.
 *
 * When the OOM killer takes a VMM and QEMU's teardown helper together,
 * the helper's exit (the mm's last user: exit_mmap, the release) can run
 * while the VMM's exit_files tears the VM down.  The release takes no
 * lock: it destroys the CPUs, fast-destroys the config and clears the
 * handle under the feet of the teardown, whose DESTROY_SEC_CONF then
 * names handle 0 (rc 0x20) and leaks the config's storage.  Found by
 * `lazypv soak --seed 11`.  Forced here: the teardown waits at its
 * teardown_gate while another thread drops the mm's last reference.
 */
#include "kvm/fixture.h"

#include <pthread.h>

#include "lib/lib.h"

struct tgate {
	struct lpv_mutex lock;
	struct lpv_cond cond;
	bool waiting, open;
};

static void tgate_hook(void *ctx)
{
	struct tgate *g = ctx;

	lpv_mutex_lock(&g->lock);
	g->waiting = true;
	lpv_cond_broadcast(&g->cond);
	while (!g->open)
		lpv_cond_wait(&g->cond, &g->lock);
	lpv_mutex_unlock(&g->lock);
}

static void *vmm_exit_thread(void *arg)
{
	kfix_shutdown(arg);	/* exit_mm (not the last), then the VM */
	return NULL;
}

static void *last_mmput_thread(void *arg)
{
	mmput(arg);		/* the helper's exit: exit_mmap, release */
	return NULL;
}

TEST_IMPL(kvm_async_release_races_vm_teardown)
{
	struct kfix_opts o = { .mode = KVM_DESTROY_ASYNC };
	struct tgate g = { .waiting = false };
	struct kvm_test_hooks h = { .teardown_gate = tgate_hook, .ctx = &g };
	pthread_t a, b;
	struct mm *mm;
	struct kfix f;

	lpv_mutex_init(&g.lock);
	lpv_cond_init(&g.cond);
	kfix_init(&f, &o);
	kfix_boot_protected(&f);
	mm = f.mm;
	mmget(mm);			/* the teardown helper's reference */
	kvm_module_set_test_hooks(f.mod, &h);
	ASSERT_EQ(pthread_create(&a, NULL, vmm_exit_thread, &f), 0);
	lpv_mutex_lock(&g.lock);
	while (!g.waiting)
		lpv_cond_wait(&g.cond, &g.lock);
	lpv_mutex_unlock(&g.lock);
	ASSERT_EQ(pthread_create(&b, NULL, last_mmput_thread, mm), 0);
	ASSERT_EQ(pthread_join(b, NULL), 0);
	lpv_mutex_lock(&g.lock);
	g.open = true;
	lpv_cond_broadcast(&g.cond);
	lpv_mutex_unlock(&g.lock);
	ASSERT_EQ(pthread_join(a, NULL), 0);
	ASSERT_UEQ(kfix_fini(&f), 0);	/* nothing leaked */
	lpv_cond_deinit(&g.cond);
	lpv_mutex_deinit(&g.lock);
	return 0;
}
