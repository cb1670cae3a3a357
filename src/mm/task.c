// SPDX-License-Identifier: MIT
/*
 * task.c - host processes: creation, clone(CLONE_VM), threads, exit, kill
 * and reaping.
 *
 * A struct task is a process; the threads working for it (a test, the VMM's
 * vCPU threads, the async-cleanup thread) attach with task_thread_enter(),
 * which also makes it the thread's task_current().  The whole task table and
 * every task's state, thread count, mm pointer and parent live under
 * world->task_lock; `fatal` is also read without it (atomic).
 *
 * cpu_charged_ns is an atomic counter of kernel work done on the task's
 * behalf (task_charge_cpu finds the task by pid under task_lock, so a
 * reaped task is never touched).
 *
 * Exit follows Linux's order: exit_mm (mmput; if that was the last user,
 * exit_mmap runs right here, on the exiting thread) comes before the task
 * becomes a zombie, and only a zombie lets the parent's task_wait() return.
 * So the parent sees the mm released, unless another task (a CLONE_VM
 * sharer) or an mmget holder still has it.  Who runs the exit: the caller
 * of task_exit()/task_kill() when no other thread is attached; else the
 * last attached thread, in task_thread_leave(); for an OOM victim with no
 * thread, the oom_reaper thread.  Exactly one of them (exit_queued, decided
 * under task_lock).
 */
#include "mm_internal.h"

#include <errno.h>
#include <stdlib.h>

static __thread struct task *current_task;

struct task *task_current(void)
{
	return current_task;
}

bool task_fatal_signal_pending(const struct task *task)
{
	return __atomic_load_n(&task->fatal, __ATOMIC_ACQUIRE);
}

bool task_should_stop(void)
{
	return current_task && task_fatal_signal_pending(current_task);
}

int task_pid(const struct task *task)
{
	return task->pid;
}

enum task_state task_get_state(const struct task *task)
{
	struct mm_world *world = task->world;
	enum task_state state;

	lpv_mutex_lock(&world->task_lock);
	state = task->state;
	lpv_mutex_unlock(&world->task_lock);
	return state;
}

struct memcg *task_memcg(const struct task *task)
{
	return task->memcg;
}

struct mm *task_get_mm(struct task *task)
{
	struct mm_world *world = task->world;
	struct mm *mm;

	lpv_mutex_lock(&world->task_lock);
	mm = task->mm;
	if (mm)
		mmget(mm);	/* the task's own reference keeps it > 0 */
	lpv_mutex_unlock(&world->task_lock);
	return mm;
}

int task_charge_cpu(struct mm_world *world, int pid, uint64_t ns)
{
	int r = -ESRCH;

	lpv_mutex_lock(&world->task_lock);
	for (struct task *t = world->tasks; t; t = t->next)
		if (t->pid == pid) {
			atomic_add_relaxed(&t->cpu_charged_ns, ns);
			r = 0;
			break;
		}
	lpv_mutex_unlock(&world->task_lock);
	return r;
}

void task_stats_get(const struct task *task, struct task_stats *out)
{
	out->cpu_charged_ns = atomic_load_relaxed(&task->cpu_charged_ns);
}

/* @exit_files (may be NULL) is in place before anyone can see the task. */
static int task_new(struct mm_world *world, struct task *parent,
		    struct memcg *memcg, unsigned int flags, struct mm *mm,
		    void (*exit_files)(void *), void *files_ctx,
		    struct task **out)
{
	struct task *task = calloc(1, sizeof(*task));

	if (!task)
		return -ENOMEM;
	task->world = world;
	task->flags = flags;
	task->mm = mm;
	task->memcg = memcg;
	task->exit_files = exit_files;
	task->exit_files_ctx = files_ctx;
	memcg_get(memcg);
	lpv_mutex_lock(&world->task_lock);
	task->pid = ++world->next_pid;
	task->parent = parent;
	task->next = world->tasks;
	world->tasks = task;
	lpv_mutex_unlock(&world->task_lock);
	mm_stat_inc(world, tasks_created);
	lpv_trace("MM TASK CREATE: pid %d parent %d%s", task->pid,
		  parent ? parent->pid : 0, mm ? "" : " (no mm)");
	*out = task;
	return 0;
}

int task_create(struct mm_world *world, struct task *parent,
		struct memcg *memcg, unsigned int flags, struct task **out)
{
	struct mm *mm = NULL;
	int r;

	if (flags & ~TASK_KTHREAD)
		return -EINVAL;
	if (!(flags & TASK_KTHREAD)) {
		r = mm_create(world, memcg, &mm);
		if (r)
			return r;
	}
	r = task_new(world, parent, memcg, flags, mm, NULL, NULL, out);
	if (r && mm)
		mmput(mm);
	return r;
}

int task_clone_vm_files(struct task *parent, void (*exit_files)(void *ctx),
			void *ctx, struct task **out)
{
	struct mm *mm = task_get_mm(parent);
	int r;

	if (!mm)
		return -ESRCH;
	r = task_new(parent->world, parent, parent->memcg, parent->flags, mm,
		     exit_files, ctx, out);
	if (r)
		mmput(mm);
	return r;
}

int task_clone_vm(struct task *parent, struct task **out)
{
	return task_clone_vm_files(parent, NULL, NULL, out);
}

bool task_exit_decide_locked(struct task *task)
{
	lpv_mutex_assert_held(&task->world->task_lock);
	if (task->exit_queued || task->state != TASK_RUNNING ||
	    task->threads > 0)
		return false;
	task->exit_queued = true;
	return true;
}

/* do_exit: the caller won task_exit_decide_locked(). */
void task_exit_now(struct task *task)
{
	struct mm_world *world = task->world;
	void (*files)(void *);
	void *files_ctx;
	struct mm *mm;

	lpv_mutex_lock(&world->task_lock);
	BUG_ON(!task->exit_queued || task->state != TASK_RUNNING);
	task->state = TASK_EXITING;
	mm = task->mm;
	task->mm = NULL;
	lpv_mutex_unlock(&world->task_lock);

	/* exit_mm: the last user tears the address space down here. */
	if (mm)
		mmput(mm);

	/* exit_files: e.g. the last close of a VM fd. */
	lpv_mutex_lock(&world->task_lock);
	files = task->exit_files;
	files_ctx = task->exit_files_ctx;
	task->exit_files = NULL;
	lpv_mutex_unlock(&world->task_lock);
	if (files)
		files(files_ctx);

	lpv_mutex_lock(&world->task_lock);
	task->state = TASK_ZOMBIE;
	lpv_cond_broadcast(&world->task_cond);
	lpv_mutex_unlock(&world->task_lock);
	mm_stat_inc(world, tasks_exited);
	lpv_trace("MM TASK EXIT: pid %d code %d", task->pid, task->exit_code);
	/* The OOM path may be waiting for this victim. */
	mm_memory_event(world);
}

void task_set_exit_files(struct task *task, void (*fn)(void *ctx), void *ctx)
{
	lpv_mutex_lock(&task->world->task_lock);
	task->exit_files = fn;
	task->exit_files_ctx = ctx;
	lpv_mutex_unlock(&task->world->task_lock);
}

int task_thread_enter(struct task *task)
{
	struct mm_world *world = task->world;
	int r = 0;

	BUG_ON(current_task);	/* one task per thread at a time */
	lpv_mutex_lock(&world->task_lock);
	if (task->state != TASK_RUNNING || task->exit_queued ||
	    task_fatal_signal_pending(task))
		r = -ESRCH;
	else
		task->threads++;
	lpv_mutex_unlock(&world->task_lock);
	if (!r)
		current_task = task;
	return r;
}

void task_thread_leave(struct task *task)
{
	struct mm_world *world = task->world;
	bool run;

	BUG_ON(current_task != task);
	current_task = NULL;
	lpv_mutex_lock(&world->task_lock);
	BUG_ON(task->threads <= 0);
	task->threads--;
	run = task_fatal_signal_pending(task) && task_exit_decide_locked(task);
	lpv_mutex_unlock(&world->task_lock);
	if (run)
		task_exit_now(task);
}

static int task_signal_exit(struct task *task, int code, bool killed)
{
	struct mm_world *world = task->world;
	bool run;

	lpv_mutex_lock(&world->task_lock);
	if (task->state != TASK_RUNNING || task->exit_queued) {
		lpv_mutex_unlock(&world->task_lock);
		return killed ? 0 : -ESRCH;	/* already on its way out */
	}
	if (!task_fatal_signal_pending(task))
		task->exit_code = code;
	__atomic_store_n(&task->fatal, true, __ATOMIC_SEQ_CST);
	if (!killed && current_task == task) {
		/* exit_group from one of the task's threads: it leaves now.
		 * (A kill leaves the caller attached, to notice it at its
		 * next task_should_stop() like any other thread.) */
		task->threads--;
		current_task = NULL;
	}
	run = task_exit_decide_locked(task);
	lpv_mutex_unlock(&world->task_lock);
	if (run)
		task_exit_now(task);
	return 0;
}

int task_exit(struct task *task, int code)
{
	return task_signal_exit(task, code, false);
}

int task_kill(struct task *task)
{
	lpv_trace("MM TASK KILL: pid %d", task->pid);
	return task_signal_exit(task, TASK_EXIT_KILLED, true);
}

/* Under task_lock: unlink a zombie and orphan its children. */
static void task_unlink_locked(struct mm_world *world, struct task *task)
{
	struct task **pp;

	for (struct task *t = world->tasks; t; t = t->next)
		if (t->parent == task)
			t->parent = NULL;
	for (pp = &world->tasks; *pp; pp = &(*pp)->next)
		if (*pp == task) {
			*pp = task->next;
			return;
		}
	BUG_ON(1);
}

static void task_free(struct task *task)
{
	memcg_put(task->memcg);
	free(task);
}

int task_wait(struct task *task, int *code)
{
	struct mm_world *world = task->world;

	lpv_mutex_lock(&world->task_lock);
	if (task->waited) {
		lpv_mutex_unlock(&world->task_lock);
		return -ECHILD;
	}
	task->waited = true;
	while (task->state != TASK_ZOMBIE)
		lpv_cond_wait(&world->task_cond, &world->task_lock);
	task_unlink_locked(world, task);
	lpv_mutex_unlock(&world->task_lock);
	if (code)
		*code = task->exit_code;
	lpv_trace("MM TASK REAP: pid %d", task->pid);
	task_free(task);
	return 0;
}

/*
 * World teardown: exit every task nobody is running (threads still
 * attached are a bug of the caller: those tasks are left alone and
 * reported), then free the zombies nobody waited for.
 */
void task_reap_all(struct mm_world *world)
{
	for (;;) {
		struct task *victim = NULL;

		lpv_mutex_lock(&world->task_lock);
		for (struct task *t = world->tasks; t && !victim; t = t->next)
			if (task_exit_decide_locked(t))
				victim = t;
		lpv_mutex_unlock(&world->task_lock);
		if (!victim)
			break;
		task_exit_now(victim);
	}
	lpv_mutex_lock(&world->task_lock);
	for (struct task **pp = &world->tasks; *pp;) {
		struct task *t = *pp;

		if (t->state != TASK_ZOMBIE || t->waited) {
			fprintf(stderr, "lazypv: mm: task %d still has %d "
				"thread(s) at world destroy\n", t->pid,
				t->threads);
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		task_free(t);
	}
	lpv_mutex_unlock(&world->task_lock);
}
