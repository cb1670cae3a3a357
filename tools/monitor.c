// SPDX-License-Identifier: MIT
/*
 * monitor.c - the monitor thread of monitor.h.  m->lock protects what the
 * command's thread and the monitor share: the watched VMM, the labels,
 * the samples, the temporary directory and the signal taken; m->line_lock
 * the progress line, which the monitor thread draws and the end of a
 * populate step (on the command's thread) erases before the command
 * writes on.  Order: lock, then line_lock.  The thread sleeps in
 * poll() on the signalfd and an eventfd (monitor_stop) with the sample
 * period as timeout.
 */
#include "monitor.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lazypv/lazypv.h"
#include "lib/lib.h"
#include "plot.h"
#include "progress.h"

#define MONITOR_PERIOD_MS 20
#define MONITOR_MAX_SAMPLES (1u << 20)

struct monitor {
	struct monitor_config cfg;
	pthread_t thread;
	int sfd, efd;
	struct lpv_mutex lock;
	struct lpv_vm *vm;		/* lock */
	char label[96];			/* lock */
	char step[96];			/* lock */
	uint64_t step_done, step_total;	/* lock */
	bool step_bytes;		/* lock: the step counts bytes */
	struct monitor_sample *s;	/* lock */
	size_t nr, cap;			/* lock */
	char tmpdir[4096];		/* lock */
	int signo;			/* lock */
	struct lpv_mutex line_lock;
	struct progress prog;		/* line_lock */
	/* monitor thread only */
	uint64_t episode_total;		/* largest to_clean of this cleanup */
};

int monitor_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void monitor_sample_add(struct monitor *m,
			       const struct lpv_progress *p)
{
	if (m->nr == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 1024;
		struct monitor_sample *n;

		if (cap > MONITOR_MAX_SAMPLES)
			return;		/* enough for a picture */
		n = realloc(m->s, cap * sizeof(*n));
		if (!n)
			return;
		m->s = n;
		m->cap = cap;
	}
	m->s[m->nr++] = (struct monitor_sample){
		.t_ns = p->t_ns, .to_clean_bytes = p->pending_bytes,
		.in_use_bytes = p->in_use_bytes };
}

/*
 * A reboot's teardown in sync or sync-6.0 is the reboot itself (the old
 * guest destroyed before the new one starts); lazy, async and instant
 * leave it to background cleanup.  By the mode asked for (a module fence
 * turning lazy into sync is not seen here).
 */
static bool monitor_sync_mode(struct lpv_vm *vm)
{
	const char *mode = lpv_vm_teardown(vm);

	return mode && (!strcmp(mode, "sync") || !strcmp(mode, "sync-6.0"));
}

/* One tick: sample the watched VMM, redraw the line. */
static void monitor_tick(struct monitor *m)
{
	struct lpv_progress p;
	char label[128], step[96];
	uint64_t done = 0, total = 0;
	bool watching, cleaning = false, bytes;

	lpv_mutex_lock(&m->lock);
	watching = m->vm && !lpv_vm_progress(m->vm, &p);
	if (watching) {
		if (m->cfg.series)
			monitor_sample_add(m, &p);
	}
	snprintf(step, sizeof(step), "%s", m->step);
	done = m->step_done;
	total = m->step_total;
	bytes = m->step_bytes;
	if (watching && p.pending_bytes) {
		const char *what = p.ending ? "memory to give back" :
				   monitor_sync_mode(m->vm) ?
				   "destroying the old guest" :
				   "background cleanup";

		snprintf(label, sizeof(label), "%s%s%s", m->label,
			 m->label[0] ? ": " : "", what);
		cleaning = true;
	}
	/* Taken before the step is let go: a step that ends meanwhile
	 * cannot be drawn after its line was erased. */
	lpv_mutex_lock(&m->line_lock);
	lpv_mutex_unlock(&m->lock);
	if (watching && m->cfg.on_sample)
		m->cfg.on_sample(m->cfg.ctx, &p);

	if (cleaning) {
		if (p.pending_bytes > m->episode_total)
			m->episode_total = p.pending_bytes;
		progress_update(&m->prog, label,
				m->episode_total - p.pending_bytes,
				m->episode_total, true);
	} else {
		if (m->episode_total) {
			m->episode_total = 0;
			progress_clear(&m->prog);
		}
		if (step[0])
			progress_update(&m->prog, step, done, total, bytes);
	}
	lpv_mutex_unlock(&m->line_lock);
}

static void monitor_take_signal(struct monitor *m, int signo)
{
	char dir[sizeof(m->tmpdir)];
	bool first;

	lpv_mutex_lock(&m->lock);
	first = !m->signo;
	if (first)
		m->signo = signo;
	snprintf(dir, sizeof(dir), "%s", m->tmpdir);
	lpv_mutex_unlock(&m->lock);
	lpv_mutex_lock(&m->line_lock);
	progress_clear(&m->prog);
	lpv_mutex_unlock(&m->line_lock);
	if (first) {
		fprintf(stderr, "lazypv%s%s: %s: stopping cleanly (again to abandon the cleanup)\n",
			m->cfg.cmd ? " " : "", m->cfg.cmd ? m->cfg.cmd : "",
			strsignal(signo));
		if (m->cfg.on_signal)
			m->cfg.on_signal(m->cfg.ctx, signo);
		return;
	}
	/* Should the summary block (stdout a stalled pipe, its lock held by
	 * a writer), a third signal ends the process at once: it is
	 * delivered to this thread with its default action. */
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	if (m->cfg.on_abandon)
		m->cfg.on_abandon(m->cfg.ctx, signo);
	plot_tmpdir_remove(dir);
	fflush(stdout);
	fflush(stderr);
	_exit(128 + signo);
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = m->sfd, .events = POLLIN },
			{ .fd = m->efd, .events = POLLIN },
		};
		int n = poll(pfd, 2, MONITOR_PERIOD_MS);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd[1].revents & POLLIN))
			break;
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(m->sfd, &si, sizeof(si)) == sizeof(si))
				monitor_take_signal(m, (int)si.ssi_signo);
		}
		monitor_tick(m);
	}
	lpv_mutex_lock(&m->line_lock);
	progress_clear(&m->prog);
	lpv_mutex_unlock(&m->line_lock);
	return NULL;
}

int monitor_start(const struct monitor_config *cfg, struct monitor **out)
{
	struct monitor *m = calloc(1, sizeof(*m));
	sigset_t set;
	int r;

	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	progress_init(&m->prog, cfg->quiet);
	lpv_mutex_init(&m->lock);
	lpv_mutex_init(&m->line_lock);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	m->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	m->efd = eventfd(0, EFD_CLOEXEC);
	if (m->sfd < 0 || m->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&m->thread, NULL, monitor_main, m);
	if (r)
		goto fail;
	*out = m;
	return 0;
fail:
	if (m->sfd >= 0)
		close(m->sfd);
	if (m->efd >= 0)
		close(m->efd);
	lpv_mutex_deinit(&m->line_lock);
	lpv_mutex_deinit(&m->lock);
	free(m);
	return r;
}

void monitor_stop(struct monitor *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (write(m->efd, &one, sizeof(one)) != sizeof(one))
		BUG_ON(1);
	pthread_join(m->thread, NULL);
	close(m->sfd);
	close(m->efd);
	lpv_mutex_deinit(&m->line_lock);
	lpv_mutex_deinit(&m->lock);
	free(m->s);
	free(m);
}

void monitor_watch(struct monitor *m, struct lpv_vm *vm, const char *label)
{
	struct lpv_progress p;

	lpv_mutex_lock(&m->lock);
	/* The series ends with the VM's state as it stops being watched
	 * (its cleanup done, usually), not with the last tick before. */
	if (m->vm && m->vm != vm && m->cfg.series &&
	    !lpv_vm_progress(m->vm, &p))
		monitor_sample_add(m, &p);
	m->vm = vm;
	snprintf(m->label, sizeof(m->label), "%s", label ? label : "");
	lpv_mutex_unlock(&m->lock);
}

void monitor_step(struct monitor *m, const char *label, uint64_t done,
		  uint64_t total)
{
	lpv_mutex_lock(&m->lock);
	snprintf(m->step, sizeof(m->step), "%s", label ? label : "");
	m->step_done = done;
	m->step_total = total;
	m->step_bytes = false;
	lpv_mutex_unlock(&m->lock);
}

void monitor_populate_progress(void *monitor, uint64_t done, uint64_t total)
{
	struct monitor *m = monitor;

	if (!m)
		return;
	lpv_mutex_lock(&m->lock);
	snprintf(m->step, sizeof(m->step), "%s",
		 done < total ? "populating host memory" : "");
	m->step_done = done;
	m->step_total = total;
	m->step_bytes = true;
	if (done >= total) {	/* the command writes on: erase the line now */
		lpv_mutex_lock(&m->line_lock);
		progress_clear(&m->prog);
		lpv_mutex_unlock(&m->line_lock);
	}
	lpv_mutex_unlock(&m->lock);
}

void monitor_note(struct monitor *m, const char *fmt, ...)
{
	va_list ap;

	if (!m)
		return;
	lpv_mutex_lock(&m->line_lock);
	if (m->prog.active) {
		progress_clear(&m->prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fflush(stderr);
	}
	lpv_mutex_unlock(&m->line_lock);
}

int monitor_signal(struct monitor *m)
{
	int s;

	lpv_mutex_lock(&m->lock);
	s = m->signo;
	lpv_mutex_unlock(&m->lock);
	return s;
}

void monitor_set_tmpdir(struct monitor *m, const char *dir)
{
	lpv_mutex_lock(&m->lock);
	snprintf(m->tmpdir, sizeof(m->tmpdir), "%s", dir ? dir : "");
	lpv_mutex_unlock(&m->lock);
}

struct monitor_sample *monitor_samples(struct monitor *m, size_t *nr)
{
	struct monitor_sample *s;

	lpv_mutex_lock(&m->lock);
	*nr = m->nr;
	s = malloc((m->nr ? m->nr : 1) * sizeof(*s));
	if (s && m->nr)
		memcpy(s, m->s, m->nr * sizeof(*s));
	if (!s)
		*nr = 0;
	lpv_mutex_unlock(&m->lock);
	return s;
}

void monitor_samples_clear(struct monitor *m)
{
	lpv_mutex_lock(&m->lock);
	m->nr = 0;
	lpv_mutex_unlock(&m->lock);
}
