/* SPDX-License-Identifier: MIT */
/*
 * api_internal.h - the public API's handles (private to src/api/).
 *
 * A struct lpv_host owns the host stack (stack.c: the one place that knows
 * how the layers below are assembled), the list of its VMs, and one event
 * thread that runs the VMs' callbacks in order.  A struct lpv_vm is one
 * VMM life: defined by lpv_vm_create, started by lpv_vm_boot, and from
 * then on watched by a reaper thread that sits in vmm_wait() (exit, then
 * reclaim) and records the outcome.
 *
 * Locking: host->lock protects every mutable field of the host and of
 * each of its VMs (state, counters, queues, messages) -- one lock, since
 * every change is a few stores.  It nests inside the VMM's own lock (the
 * VMM's event callback takes it) and is never held across a call into
 * the VMM or the layers below that may take the VMM's lock or sleep --
 * only the progress readers, whose locks are leaves (docs/locking.md).  host->cond is broadcast on every change a
 * waiter may be waiting for.
 */
#ifndef LAZYPV_API_INTERNAL_H
#define LAZYPV_API_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lazypv/lazypv.h"
#include "host/host.h"
#include "lib/lib.h"
#include "vmm/vmm.h"

#define API_MSG_LEN 256

/* ---- the host stack below the API (stack.c) ---- */

struct api_stack;

/* @cfg already defaulted; message in @err on failure. */
int api_stack_create(const struct lpv_host_config *cfg,
		     struct api_stack **out, char *err,
		     size_t errlen) __must_check;
/* Over a host the caller built and keeps (api_stack_destroy leaves it). */
int api_stack_wrap(struct host *h, struct api_stack **out) __must_check;
struct host *api_stack_host(struct api_stack *st);
void api_stack_destroy(struct api_stack *st);
int api_stack_check(struct api_stack *st) __must_check;
/* The public half of the UV's host key (images are built for it). */
const uint8_t *api_stack_host_pub(struct api_stack *st);
/* vmm_config_check / vmm_create on this stack. */
int api_stack_vm_check(struct api_stack *st, const struct vmm_config *vc,
		       char *err, size_t errlen) __must_check;
int api_stack_vm_create(struct api_stack *st, const struct vmm_config *vc,
			struct vmm **out) __must_check;
uint64_t api_stack_vm_boot_min_bytes(struct api_stack *st,
				     const struct vmm_config *vc);
/* Background teardown the module runs on its own (cleanup threads) is
 * finished, and no frame waits set aside. */
bool api_stack_is_drained(struct api_stack *st);

/* What the layers count, in the public snapshot's terms. */
/* The layers' part of lpv_host_stats (memory by use, KVM's counters):
 * sets those fields of @out, zeroes the rest. */
void api_stack_counts(struct api_stack *st, struct lpv_stats *out);
/* Every layer's statistics as a JSON object (jansson; NULL: no memory). */
struct json_t;
struct json_t *api_stack_stats_json(struct api_stack *st);

/*
 * The cleanup reader: how much memory of a VMM is still to clean (bytes),
 * how much it has charged, whether it is ending -- read from the VMM's
 * progress snapshot.
 */
struct api_cleanup {
	uint64_t pending_bytes, in_use_bytes;
	bool ending;
};
void api_cleanup_read(struct vmm *vmm, struct api_cleanup *out);

/* ---- images (image.c) ---- */

struct lpv_image {
	void *buf;			/* the image's bytes, owned */
	size_t len;
	struct vmm_image vi;		/* parsed: points into buf */
};

/* ---- handles ---- */

struct api_event_node {
	struct lpv_event ev;
	lpv_event_fn fn;
	void *ctx;
	struct api_event_node *next;
};

struct lpv_vm {
	struct lpv_host *host;
	struct lpv_vm *next;		/* host->vms */
	/* set at creation, read-only after */
	struct lpv_vm_config cfg;
	char *program, *teardown_name;	/* cfg's strings, owned */
	char *plain_program;
	struct vmm_config vc;
	struct lpv_image *image;	/* built or loaded here, owned */
	/* The rig's hook (api_host.h): set before boot, read after. */
	lpv_event_fn instant_fn;
	void *instant_ctx;
	/* under host->lock */
	int state;			/* enum lpv_vm_state */
	struct vmm *vmm;		/* from boot until the handle goes */
	pthread_t reaper;
	bool reaper_done;
	bool destroyed;			/* lpv_vm_destroy was called */
	bool orphaned;			/* lpv_vm_destroy returned without
					 * freeing it: the reaper or the event
					 * thread, whichever ends last, does */
	bool booting;			/* lpv_vm_boot in progress */
	bool ending;			/* shutdown or kill asked for */
	unsigned int boot;		/* latest boot number started */
	unsigned int boots;		/* guests that ran */
	uint64_t seq;			/* next event's number */
	uint64_t dispatch_pending;	/* callbacks queued, not yet run */
	struct lpv_vm_exit exit;	/* valid once state >= CLEANING */
	uint64_t exit_ns;		/* EXIT event time */
	uint64_t bytes_at_exit;		/* still charged at the exit */
	uint64_t cleaned_ns;		/* CLEANUP_DONE time */
	uint64_t reclaim_latency_ns;	/* shutdown request -> reclaimed */
	uint64_t cleaned_bytes;		/* reclaimed (final) */
	/* While it runs: the cleanup episode being watched (pending seen
	 * non-zero by a progress reader, until it reads zero again). */
	uint64_t ep_start_ns, ep_peak_bytes;
	int cleanup_error;		/* 0 or -ETIMEDOUT */
	struct lpv_event reclaimed;	/* the VMM's RECLAIMED, posted by the
					 * reaper as CLEANUP_DONE */
	bool have_reclaimed;
	struct vmm_result res;		/* the reaper's vmm_wait() */
	/* polled queue: a ring of cfg.event_queue entries */
	struct lpv_event *ring;
	unsigned int ring_head, ring_len;
	uint64_t ring_dropped;
	char errmsg[API_MSG_LEN];
};

struct lpv_host {
	struct api_stack *stack;
	struct lpv_mutex lock;
	struct lpv_cond cond;
	struct lpv_vm *vms;		/* every VM not yet freed */
	unsigned int releasing;		/* VMs off the list, api_vm_release()
					 * still running */
	/* the event thread's FIFO */
	struct api_event_node *ev_head, *ev_tail;
	pthread_t ev_thread;
	bool ev_stop;
	bool ev_running;		/* a callback is running now */
	struct lpv_vm *ev_current;	/* its VM */
	/* counters (lpv_stats) */
	uint64_t vm_boots, guest_boots, reboots, exits;
	uint64_t cleanups_done, cleanups_failed;
	char errmsg[API_MSG_LEN];
};

/* ---- errors (api.c) ---- */

/*
 * Record a failure: the thread's message, and the handle's (@host or @vm,
 * either may be NULL) under host->lock.  Returns @err for tail calls.
 */
int api_fail(struct lpv_host *host, struct lpv_vm *vm, int err,
	     const char *fmt, ...) __printf_like(4, 5);

/* ---- VMs (vm.c) ---- */

/* lpv_host_destroy's first step: lpv_vm_destroy on every VM. */
void api_vm_destroy_all(struct lpv_host *host);
/* Under host->lock: nothing runs for the VM any more (never booted, or
 * its reaper finished) and no callback of it is running. */
bool api_vm_is_done_locked(const struct lpv_vm *vm);
/* Under host->lock: take a done VM being destroyed (or orphaned) off the
 * host's list; the caller then frees it with api_vm_release() without
 * the lock. */
void api_vm_free_locked(struct lpv_vm *vm);
void api_vm_release(struct lpv_vm *vm);
/* A VMM event as the public one (type 0: none), for @vm. */
void api_event_from_vmm(struct lpv_vm *vm, const struct vmm_event *e,
			struct lpv_event *out);

/* ---- events and waits (host.c) ---- */

/* The lpv_now_ns() deadline @timeout_ms from now (LPV_WAIT_FOREVER and
 * other huge values: UINT64_MAX). */
uint64_t api_deadline(uint64_t timeout_ms);
bool api_on_event_thread(struct lpv_host *host);

/* Under host->lock: number the event, put it on the VM's polled queue and
 * hand it to the event thread if the VM has a callback. */
void api_event_post_locked(struct lpv_vm *vm, struct lpv_event *ev);

/* ---- progress (stats.c) ---- */

/* Under host->lock: the VM's progress. */
void api_vm_progress_locked(struct lpv_vm *vm, struct lpv_progress *out);

#endif /* LAZYPV_API_INTERNAL_H */
