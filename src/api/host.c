// SPDX-License-Identifier: MIT
/*
 * host.c - struct lpv_host: creation and teardown of a host, its event
 * thread, and the host-wide waits and checks.
 *
 * The event thread takes events off the host's FIFO, oldest first, and
 * runs each VM's callback without holding host->lock, so a callback may
 * call back into the API.  Events are posted under host->lock by whoever
 * saw them (the VMM's threads through its event hook, the VM's reaper);
 * the FIFO keeps their order.  A destroyed VM's queued events are taken
 * off the FIFO by lpv_vm_destroy (vm.c).
 *
 * Locking: host->lock (api_internal.h) for everything; host->cond for
 * every state change, FIFO growth and VM release.
 */
#include "api_internal.h"
#include "api_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lpv_host_config_init(struct lpv_host_config *cfg)
{
	if (!cfg)
		return;
	*cfg = (struct lpv_host_config){ .mem_bytes = 3ULL << 30 };
}

_Static_assert(LPV_TEARDOWN_MODES == VMM_DESTROY_NR,
	       "the public header counts the library's teardown modes");

const char *lpv_teardown_mode_name(unsigned int i)
{
	return i < VMM_DESTROY_NR ? vmm_destroy_mode_name(i) : NULL;
}

/* ---- the event thread ---- */

void api_event_post_locked(struct lpv_vm *vm, struct lpv_event *ev)
{
	struct lpv_host *host = vm->host;
	struct api_event_node *n;

	lpv_mutex_assert_held(&host->lock);
	ev->vm = vm;
	ev->seq = vm->seq++;
	if (vm->ring) {
		unsigned int cap = vm->cfg.event_queue;

		if (vm->ring_len == cap) {
			/* Drop the oldest; the next one says how many went. */
			uint64_t lost = vm->ring[vm->ring_head].dropped + 1;

			vm->ring_head = (vm->ring_head + 1) % cap;
			vm->ring_len--;
			if (vm->ring_len)
				vm->ring[vm->ring_head].dropped += lost;
			else
				ev->dropped += lost;
		}
		vm->ring[(vm->ring_head + vm->ring_len) % cap] = *ev;
		vm->ring_len++;
	}
	if (vm->cfg.on_event && !vm->destroyed) {
		/*
		 * Allocated here, under the VMM's lock: a failure loses the
		 * callback of this one event (the polled queue still has it)
		 * and is said once.
		 */
		n = malloc(sizeof(*n));
		if (WARN_ON_ONCE(!n))
			goto out;
		n->ev = *ev;
		n->fn = vm->cfg.on_event;
		n->ctx = vm->cfg.event_ctx;
		n->next = NULL;
		if (host->ev_tail)
			host->ev_tail->next = n;
		else
			host->ev_head = n;
		host->ev_tail = n;
		vm->dispatch_pending++;
	}
out:
	lpv_cond_broadcast(&host->cond);
}

static void *api_event_thread(void *arg)
{
	struct lpv_host *host = arg;

	lpv_mutex_lock(&host->lock);
	for (;;) {
		struct api_event_node *n = host->ev_head;
		struct lpv_vm *vm, *free_vm = NULL;

		if (!n) {
			if (host->ev_stop)
				break;
			lpv_cond_wait(&host->cond, &host->lock);
			continue;
		}
		host->ev_head = n->next;
		if (!host->ev_head)
			host->ev_tail = NULL;
		vm = n->ev.vm;
		vm->dispatch_pending--;
		host->ev_running = true;
		host->ev_current = vm;
		lpv_mutex_unlock(&host->lock);
		n->fn(n->ctx, &n->ev);
		free(n);
		lpv_mutex_lock(&host->lock);
		host->ev_running = false;
		host->ev_current = NULL;
		/* The callback destroyed its own VM: release it now. */
		if (vm->orphaned && api_vm_is_done_locked(vm)) {
			api_vm_free_locked(vm);
			free_vm = vm;
		}
		lpv_cond_broadcast(&host->cond);
		if (free_vm) {
			lpv_mutex_unlock(&host->lock);
			api_vm_release(free_vm);
			lpv_mutex_lock(&host->lock);
		}
	}
	lpv_mutex_unlock(&host->lock);
	return NULL;
}

bool api_on_event_thread(struct lpv_host *host)
{
	return pthread_equal(pthread_self(), host->ev_thread);
}

/* ---- the host ---- */

/* A host handle over @stack (taken; destroyed on failure). */
static int api_host_new(struct api_stack *stack, struct lpv_host **out)
{
	struct lpv_host *host;
	int r;

	host = calloc(1, sizeof(*host));
	if (!host) {
		api_stack_destroy(stack);
		return api_fail(NULL, NULL, -ENOMEM, "out of memory");
	}
	lpv_mutex_init(&host->lock);
	lpv_cond_init(&host->cond);
	host->stack = stack;
	r = -pthread_create(&host->ev_thread, NULL, api_event_thread, host);
	if (r) {
		api_fail(NULL, NULL, r, "cannot start the event thread: %s",
			 lpv_strerror(r));
		api_stack_destroy(host->stack);
		lpv_cond_deinit(&host->cond);
		lpv_mutex_deinit(&host->lock);
		free(host);
		return r;
	}
	*out = host;
	return 0;
}

int lpv_host_create(const struct lpv_host_config *cfg, struct lpv_host **out)
{
	char err[API_MSG_LEN] = "";
	struct api_stack *stack;
	int r;

	if (out)
		*out = NULL;
	if (!cfg || !out)
		return api_fail(NULL, NULL, -EINVAL,
				"lpv_host_create: NULL %s",
				!cfg ? "configuration" : "out-pointer");
	if (!cfg->mem_bytes)
		return api_fail(NULL, NULL, -EINVAL,
				"host memory size is 0 (lpv_host_config_init sets the default)");
	r = api_stack_create(cfg, &stack, err, sizeof(err));
	if (r)
		return api_fail(NULL, NULL, r, "%s",
				err[0] ? err : lpv_strerror(r));
	return api_host_new(stack, out);
}

int lpv_host_wrap(struct host *h, struct lpv_host **out)
{
	struct api_stack *stack;

	if (out)
		*out = NULL;
	if (!h || !out)
		return api_fail(NULL, NULL, -EINVAL, "lpv_host_wrap: NULL %s",
				!h ? "host" : "out-pointer");
	if (!host_vmm_env(h))
		return api_fail(NULL, NULL, -EINVAL,
				"the host has no PV support (INIT_UV failed)");
	if (api_stack_wrap(h, &stack))
		return api_fail(NULL, NULL, -ENOMEM, "out of memory");
	return api_host_new(stack, out);
}

struct host *lpv_host_host(struct lpv_host *host)
{
	return host ? api_stack_host(host->stack) : NULL;
}

int lpv_host_key(struct lpv_host *host, uint8_t key[LPV_HOST_KEY_LEN])
{
	if (!host || !key)
		return api_fail(host, NULL, -EINVAL, "lpv_host_key: NULL %s",
				!host ? "host" : "key");
	memcpy(key, api_stack_host_pub(host->stack), LPV_HOST_KEY_LEN);
	return 0;
}

void lpv_host_destroy(struct lpv_host *host)
{
	if (!host)
		return;
	api_vm_destroy_all(host);
	lpv_mutex_lock(&host->lock);
	/* Cleanups still running release their VMs when they finish; a
	 * release still under way touches the stack below. */
	while (host->vms || host->releasing)
		lpv_cond_wait(&host->cond, &host->lock);
	host->ev_stop = true;
	lpv_cond_broadcast(&host->cond);
	lpv_mutex_unlock(&host->lock);
	BUG_ON(pthread_join(host->ev_thread, NULL));
	api_stack_destroy(host->stack);
	lpv_cond_deinit(&host->cond);
	lpv_mutex_deinit(&host->lock);
	free(host);
}

/*
 * Under host->lock: a VM is being cleaned, or on its way there (asked to
 * shut down, killed, destroyed and not yet released), or with
 * @running_counts, running or booting.
 */
static bool api_host_busy_locked(struct lpv_host *host, bool running_counts)
{
	for (struct lpv_vm *vm = host->vms; vm; vm = vm->next) {
		if (vm->state == LPV_VM_CLEANING || vm->destroyed ||
		    (vm->ending && vm->state != LPV_VM_CLEANED))
			return true;
		if (running_counts &&
		    (vm->booting || vm->state == LPV_VM_RUNNING))
			return true;
	}
	return false;
}

int lpv_host_check(struct lpv_host *host)
{
	bool busy;
	int r;

	if (!host)
		return api_fail(NULL, NULL, -EINVAL, "lpv_host_check: NULL host");
	lpv_mutex_lock(&host->lock);
	busy = api_host_busy_locked(host, true);
	lpv_mutex_unlock(&host->lock);
	if (busy || !api_stack_is_drained(host->stack))
		return api_fail(host, NULL, -EBUSY,
				"a VM is running or being cleaned up");
	r = api_stack_check(host->stack);
	if (r)
		return api_fail(host, NULL, r,
				"the invariant checks failed (details on stderr)");
	return 0;
}

uint64_t api_deadline(uint64_t timeout_ms)
{
	uint64_t now = lpv_now_ns();

	if (timeout_ms >= (UINT64_MAX - now) / 1000000ULL)
		return UINT64_MAX;
	return now + timeout_ms * 1000000ULL;
}

/*
 * How often the host-wide wait looks at the layers' background work
 * (cleanup threads, set-aside frames), which does not signal the API.
 */
#define API_DRAIN_POLL_NS (1000ULL * 1000)

int lpv_host_wait_cleanup(struct lpv_host *host, uint64_t timeout_ms)
{
	uint64_t deadline = api_deadline(timeout_ms);

	if (!host)
		return api_fail(NULL, NULL, -EINVAL,
				"lpv_host_wait_cleanup: NULL host");
	lpv_mutex_lock(&host->lock);
	for (;;) {
		uint64_t now, until;
		bool drained;

		if (!api_host_busy_locked(host, false)) {
			lpv_mutex_unlock(&host->lock);
			drained = api_stack_is_drained(host->stack);
			lpv_mutex_lock(&host->lock);
			if (drained && !api_host_busy_locked(host, false))
				break;
		}
		now = lpv_now_ns();
		if (now >= deadline) {
			lpv_mutex_unlock(&host->lock);
			return api_fail(host, NULL, -ETIMEDOUT,
					"cleanup not finished within %llu ms",
					(unsigned long long)timeout_ms);
		}
		until = now + API_DRAIN_POLL_NS < deadline ?
			now + API_DRAIN_POLL_NS : deadline;
		lpv_cond_wait_until(&host->cond, &host->lock, until);
	}
	lpv_mutex_unlock(&host->lock);
	return 0;
}
