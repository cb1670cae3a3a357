// SPDX-License-Identifier: MIT
/*
 * oom.c - the out-of-memory path: notifier chain, victim selection, kill,
 * and the oom_reaper thread.
 *
 * An allocation that may wait (MM_GFP_WAIT) and found no memory -- or hit
 * its memcg's limit -- calls oom_run() in a loop bounded by oom_wait_ms.
 * oom_run(), under world->oom_lock so that one OOM pass runs at a time (as
 * Linux's oom_lock), first rechecks (a pass that just finished may have
 * freed enough), then -- for a global OOM only; a memcg OOM skips the
 * chain, as Linux's out_of_memory() does -- calls the notifier chain in
 * priority order (for a memcg OOM only those with a memcg_fn: lazypv's
 * instant teardown); the callbacks may sleep and report the pages freed
 * through *freed.  If they freed anything the allocation retries.
 * Otherwise it picks the task in scope (all tasks, or those whose mm is
 * charged to the memcg) with the largest rss and kills it together with
 * every task sharing its mm, unless an earlier victim in scope is still
 * exiting, in which case it only waits.
 * The killed task's threads stop at their next task_should_stop() check and
 * the last one to leave runs the exit; a victim with no thread attached is
 * handed to the oom_reaper thread, because the allocating thread may hold
 * locks (an mmap_lock) that the victim's exit_mmap needs.  Then the
 * allocation sleeps until memory comes back or the deadline passes.
 *
 * Locks: oom_lock > notifier_lock (read while calling, write to change the
 * chain) > task_lock > reaper_lock.  The notifier callbacks run under
 * oom_lock and the read side of notifier_lock.
 */
#include "mm_internal.h"

#include <errno.h>
#include <inttypes.h>

int oom_notifier_register(struct mm_world *world, struct oom_notifier *nb)
{
	struct oom_notifier **pp;
	int r = 0;

	if (!nb || !nb->fn)
		return -EINVAL;
	lpv_write_lock(&world->notifier_lock);
	for (pp = &world->notifiers; *pp; pp = &(*pp)->next)
		if (*pp == nb) {
			r = -EEXIST;
			goto out_unlock;
		}
	/* Higher priority first; equal priorities in registration order. */
	for (pp = &world->notifiers; *pp; pp = &(*pp)->next)
		if ((*pp)->priority < nb->priority)
			break;
	nb->next = *pp;
	*pp = nb;
out_unlock:
	lpv_write_unlock(&world->notifier_lock);
	return r;
}

int oom_notifier_unregister(struct mm_world *world, struct oom_notifier *nb)
{
	struct oom_notifier **pp;
	int r = -ENOENT;

	/* The write lock waits for a pass that is calling the chain. */
	lpv_write_lock(&world->notifier_lock);
	for (pp = &world->notifiers; *pp; pp = &(*pp)->next)
		if (*pp == nb) {
			*pp = nb->next;
			nb->next = NULL;
			r = 0;
			break;
		}
	lpv_write_unlock(&world->notifier_lock);
	return r;
}

/* The chain for a global OOM (@memcg NULL), or its memcg_fn members
 * for the OOM of @memcg. */
static unsigned long oom_notify(struct mm_world *world, struct memcg *memcg)
{
	unsigned long freed = 0;

	lpv_read_lock(&world->notifier_lock);
	for (struct oom_notifier *nb = world->notifiers; nb; nb = nb->next) {
		if (memcg && !nb->memcg_fn)
			continue;
		mm_stat_inc(world, oom_notifier_calls);
		if (memcg)
			nb->memcg_fn(nb->ctx, memcg, &freed);
		else
			nb->fn(nb->ctx, &freed);
	}
	lpv_read_unlock(&world->notifier_lock);
	mm_stat_add(world, oom_notifier_freed, freed);
	return freed;
}

struct oom_scope {
	struct mm_world *world;
	struct memcg *memcg;	/* NULL: the whole machine */
};

static bool oom_memory_back(void *arg)
{
	struct oom_scope *scope = arg;

	if (scope->memcg)
		return memcg_has_room(scope->memcg);
	return mm_zone_has_free(scope->world, 0);
}

static bool task_in_scope_locked(const struct task *task,
				 const struct memcg *memcg)
{
	if (!task->mm || (task->flags & TASK_KTHREAD))
		return false;
	return !memcg || task->mm->memcg == memcg;
}

/*
 * Pick and kill.  Returns 1 if a victim was killed or one is still exiting
 * (memory is on its way), 0 if there is nobody to kill.
 */
static int oom_kill_locked(struct mm_world *world, struct memcg *memcg)
{
	struct task *victim = NULL;
	int64_t best = -1;
	struct mm *mm;

	lpv_mutex_assert_held(&world->oom_lock);
	lpv_mutex_lock(&world->task_lock);
	for (struct task *t = world->tasks; t; t = t->next) {
		if (t->state == TASK_ZOMBIE)
			continue;
		if (t->oom_victim && (!memcg || !t->mm || t->mm->memcg == memcg)) {
			/* An earlier victim is still on its way out. */
			lpv_mutex_unlock(&world->task_lock);
			return 1;
		}
		if (!task_in_scope_locked(t, memcg) || t->state != TASK_RUNNING ||
		    t->exit_queued || task_fatal_signal_pending(t))
			continue;
		if (atomic_load_relaxed(&t->mm->rss) > best) {
			best = atomic_load_relaxed(&t->mm->rss);
			victim = t;
		}
	}
	if (!victim) {
		lpv_mutex_unlock(&world->task_lock);
		return 0;
	}
	/* Every process sharing the victim's mm dies with it, or the memory
	 * would not come back. */
	mm = victim->mm;
	__atomic_store_n(&mm->oom_victim, true, __ATOMIC_RELEASE);
	for (struct task *t = world->tasks; t; t = t->next) {
		if (t->mm != mm || t->state != TASK_RUNNING)
			continue;
		if (!task_fatal_signal_pending(t))
			t->exit_code = TASK_EXIT_KILLED;
		t->oom_victim = true;
		__atomic_store_n(&t->fatal, true, __ATOMIC_SEQ_CST);
		mm_stat_inc(world, oom_kills);
		if (mm->memcg)
			atomic_add_relaxed(&mm->memcg->oom_kill, 1);
		lpv_trace("MM OOM KILL: pid %d rss %" PRId64 " scope %s%s",
			  t->pid, best, memcg ? memcg->name : "global",
			  t->threads ? "" : " (reaper exits it)");
		if (task_exit_decide_locked(t))
			oom_reaper_queue_locked(world, t);
	}
	lpv_mutex_unlock(&world->task_lock);
	return 1;
}

int oom_run(struct mm_world *world, struct memcg *memcg, uint64_t deadline_ns)
{
	struct oom_scope scope = { .world = world, .memcg = memcg };
	struct task *cur;
	int found;

	mm_stat_inc(world, oom_runs);
	if (memcg)
		atomic_add_relaxed(&memcg->oom, 1);
	lpv_mutex_lock(&world->oom_lock);
	if (oom_memory_back(&scope)) {
		lpv_mutex_unlock(&world->oom_lock);
		return 0;
	}
	/* The notifier chain is for a machine out of memory: a memcg at its
	 * limit goes straight to its own victim (as Linux's out_of_memory()),
	 * unless a notifier that knows memcgs (memcg_fn) frees enough. */
	if (oom_notify(world, memcg) > 0) {
		lpv_mutex_unlock(&world->oom_lock);
		return 0;
	}
	found = world->cfg.oom_kill ? oom_kill_locked(world, memcg) : 0;
	lpv_mutex_unlock(&world->oom_lock);
	if (!found && world->cfg.oom_kill)
		return -ENOMEM;		/* nobody left to kill */
	cur = task_current();
	if (cur && task_fatal_signal_pending(cur))
		return 0;		/* we are the victim: go and exit */
	return mm_memory_wait(world, oom_memory_back, &scope, deadline_ns) ?
	       0 : -ENOMEM;
}

/* ---- the oom_reaper thread ---- */

void oom_reaper_queue_locked(struct mm_world *world, struct task *task)
{
	lpv_mutex_assert_held(&world->task_lock);
	lpv_mutex_lock(&world->reaper_lock);
	task->reap_next = world->reap_queue;
	world->reap_queue = task;
	lpv_cond_signal(&world->reaper_cond);
	lpv_mutex_unlock(&world->reaper_lock);
}

static void *oom_reaper_main(void *arg)
{
	struct mm_world *world = arg;

	lpv_mutex_lock(&world->reaper_lock);
	for (;;) {
		struct task *task = world->reap_queue;

		if (task) {
			world->reap_queue = task->reap_next;
			task->reap_next = NULL;
			lpv_mutex_unlock(&world->reaper_lock);
			/* The task cannot be reaped before it is a zombie,
			 * which only this call makes it. */
			task_exit_now(task);
			lpv_mutex_lock(&world->reaper_lock);
			continue;
		}
		if (world->reaper_stop)
			break;
		lpv_cond_wait(&world->reaper_cond, &world->reaper_lock);
	}
	lpv_mutex_unlock(&world->reaper_lock);
	return NULL;
}

int oom_reaper_start(struct mm_world *world)
{
	int err;

	lpv_mutex_init(&world->reaper_lock);
	lpv_cond_init(&world->reaper_cond);
	err = pthread_create(&world->reaper, NULL, oom_reaper_main, world);
	if (err) {
		lpv_cond_deinit(&world->reaper_cond);
		lpv_mutex_deinit(&world->reaper_lock);
		return -err;
	}
	return 0;
}

/* Drains the queue (queued victims do exit), then joins. */
void oom_reaper_stop(struct mm_world *world)
{
	lpv_mutex_lock(&world->reaper_lock);
	world->reaper_stop = true;
	lpv_cond_signal(&world->reaper_cond);
	lpv_mutex_unlock(&world->reaper_lock);
	pthread_join(world->reaper, NULL);
	lpv_cond_deinit(&world->reaper_cond);
	lpv_mutex_deinit(&world->reaper_lock);
}
