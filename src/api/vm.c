// SPDX-License-Identifier: MIT
/*
 * vm.c - struct lpv_vm: one VMM life behind the public API.
 *
 * lpv_vm_create checks the configuration and builds (or loads) the image;
 * lpv_vm_boot forks the VMM (vmm_create) and starts the VM's reaper, a
 * detached thread that follows the VMM's boots until it is exiting, then
 * sits in vmm_wait() -- the VMM's exit, then the reclaim of every frame
 * it used -- and records the outcome.  The VMM's
 * timeline events arrive through api_vm_on_event (on the VMM's threads,
 * under the VMM's lock), which turns them into public events and updates
 * the VM's state:
 *
 *   CREATED --boot--> RUNNING --EXIT--> CLEANING --RECLAIMED--> CLEANED
 *                                                (or the reaper's timeout)
 *
 * Release: a destroyed VM is freed by whoever finishes last of
 * lpv_vm_destroy, its reaper, and a callback of it running on the event
 * thread (api_vm_is_done_locked), so a cleanup the user stopped watching
 * still runs to its end and is still counted.
 *
 * Locking: host->lock (api_internal.h), taken inside the VMM's lock by
 * the event hook and never held across a vmm_* call that may take
 * vmm->lock (the progress reader vmm_cleanup_progress takes leaf locks
 * only).
 */
#include "api_internal.h"
#include "api_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long vmm_wait() lets a teardown take to give the memory back
 * before it reports the memory stuck. */
#define API_RECLAIM_TIMEOUT_MS (10ULL * 60 * 1000)
/* Longest polled queue a VM may ask for. */
#define API_MAX_EVENT_QUEUE (1U << 20)

static const char *const api_event_names[] = {
	[LPV_EVENT_BOOT_START] = "boot_start",
	[LPV_EVENT_UNPACKED] = "unpacked",
	[LPV_EVENT_BOOTED] = "booted",
	[LPV_EVENT_ROUND] = "round",
	[LPV_EVENT_REBOOT] = "reboot",
	[LPV_EVENT_UNPROTECTED] = "unprotected",
	[LPV_EVENT_SHUTDOWN] = "shutdown",
	[LPV_EVENT_ERROR] = "error",
	[LPV_EVENT_EXIT] = "exit",
	[LPV_EVENT_CLEANUP_DONE] = "cleanup_done",
	[LPV_EVENT_REBOOT_CLEANED] = "reboot_cleaned",
	[LPV_EVENT_HELPER_EXIT] = "helper_exit",
	[LPV_EVENT_NOTE] = "note",
};

const char *lpv_event_name(enum lpv_event_type type)
{
	if ((unsigned int)type >= ARRAY_SIZE(api_event_names))
		return NULL;
	return api_event_names[type];
}

static const char *const api_state_names[] = {
	[LPV_VM_CREATED] = "created",
	[LPV_VM_RUNNING] = "running",
	[LPV_VM_CLEANING] = "cleaning",
	[LPV_VM_CLEANED] = "cleaned",
};

const char *lpv_vm_state_name(int state)
{
	if (state < 0 || (unsigned int)state >= ARRAY_SIZE(api_state_names))
		return NULL;
	return api_state_names[state];
}

/* The VMM's timeline event behind each public one. */
static const enum lpv_event_type api_event_of[VMM_EV_NR] = {
	[VMM_EV_BOOT_START] = LPV_EVENT_BOOT_START,
	[VMM_EV_UNPACKED] = LPV_EVENT_UNPACKED,
	[VMM_EV_GUEST_START] = LPV_EVENT_BOOTED,
	[VMM_EV_GUEST_ROUND] = LPV_EVENT_ROUND,
	[VMM_EV_REBOOT_REQUEST] = LPV_EVENT_REBOOT,
	[VMM_EV_UNPROTECTED] = LPV_EVENT_UNPROTECTED,
	[VMM_EV_SHUTDOWN_REQUEST] = LPV_EVENT_SHUTDOWN,
	[VMM_EV_GUEST_ERROR] = LPV_EVENT_ERROR,
	[VMM_EV_EXIT] = LPV_EVENT_EXIT,
	[VMM_EV_RECLAIMED] = LPV_EVENT_CLEANUP_DONE,
	[VMM_EV_NOTE] = LPV_EVENT_NOTE,
	[VMM_EV_CLEANUP_DONE] = LPV_EVENT_REBOOT_CLEANED,
	[VMM_EV_HELPER_EXIT] = LPV_EVENT_HELPER_EXIT,
};

int lpv_event_format(const struct lpv_event *ev, uint64_t t0_ns, bool json,
		     char *buf, size_t len)
{
	struct vmm_event e = { .type = VMM_EV_NR };
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;

	if (!ev || (!buf && len))
		return -EINVAL;
	/* The VMM's printer is the one format: map the event back. */
	for (int t = 0; t < VMM_EV_NR; t++)
		if (api_event_of[t] && api_event_of[t] == ev->type)
			e.type = (enum vmm_event_type)t;
	if (e.type == VMM_EV_NR)
		return -EINVAL;
	e.t_ns = ev->t_ns;
	e.boot = ev->boot;
	e.protected = ev->protected_guest;
	e.subcode = ev->subcode;
	e.latency_ns = ev->latency_ns;
	e.pages = ev->bytes / HW_PAGE_SIZE;
	e.leaked = ev->leaked_bytes / HW_PAGE_SIZE;
	e.round = ev->round;
	e.polls = ev->polls;
	e.code = ev->code;
	snprintf(e.message, sizeof(e.message), "%s", ev->message);
	f = open_memstream(&text, &tlen);
	if (!f)
		return -ENOMEM;
	vmm_event_print(&e, t0_ns, f, json);
	if (fclose(f)) {
		free(text);
		return -ENOMEM;
	}
	if (tlen && text[tlen - 1] == '\n')
		text[--tlen] = '\0';
	if (len)
		snprintf(buf, len, "%s", text);
	free(text);
	return tlen > INT32_MAX ? -ENOMEM : (int)tlen;
}

void lpv_vm_config_init(struct lpv_vm_config *cfg)
{
	if (!cfg)
		return;
	*cfg = (struct lpv_vm_config){
		.guest_mem = 128ULL << 20,
		.cpus = 1,
		.max_reboots = -1,
	};
}

/* ---- the VMM's side: events and the reaper ---- */

void api_event_from_vmm(struct lpv_vm *vm, const struct vmm_event *e,
			struct lpv_event *out)
{
	*out = (struct lpv_event){
		.type = e->type < VMM_EV_NR ? api_event_of[e->type] : 0,
		.vm = vm,
		.t_ns = e->t_ns,
		.boot = e->boot,
		.protected_guest = e->protected,
		.subcode = e->subcode,
		.latency_ns = e->latency_ns,
		.bytes = e->pages * HW_PAGE_SIZE,
		.leaked_bytes = e->leaked * HW_PAGE_SIZE,
		.round = e->round,
		.polls = e->polls,
		.code = e->code,
	};
	snprintf(out->message, sizeof(out->message), "%s", e->message);
}

/* On a VMM thread, under the VMM's lock. */
static void api_vm_on_event(void *ctx, const struct vmm_event *e)
{
	struct lpv_vm *vm = ctx;
	struct lpv_host *host = vm->host;
	struct lpv_event ev;

	api_event_from_vmm(vm, e, &ev);
	if (!ev.type)
		return;
	/* The rig reads its counters at the instant (api_host.h). */
	if (vm->instant_fn)
		vm->instant_fn(vm->instant_ctx, &ev);
	lpv_mutex_lock(&host->lock);
	switch (e->type) {
	case VMM_EV_BOOT_START:
		vm->boot = e->boot;
		break;
	case VMM_EV_GUEST_START:
		vm->boots++;
		host->guest_boots++;
		break;
	case VMM_EV_REBOOT_REQUEST:
		host->reboots++;
		break;
	case VMM_EV_GUEST_ERROR:
		if (!vm->exit.error) {
			vm->exit.error = e->code;
			snprintf(vm->exit.message, sizeof(vm->exit.message),
				 "%s", e->message);
		}
		break;
	case VMM_EV_EXIT:
		vm->state = LPV_VM_CLEANING;
		vm->exit.code = e->code;
		vm->exit.killed = e->code == TASK_EXIT_KILLED;
		vm->exit.boots = vm->boots;
		vm->exit.exit_latency_ns = e->latency_ns;
		vm->exit_ns = e->t_ns;
		vm->bytes_at_exit = ev.bytes;
		host->exits++;
		break;
	case VMM_EV_RECLAIMED:
		/* Posted by the reaper once vmm_wait() returns, with the
		 * state change (api_vm_reaper). */
		vm->cleaned_ns = e->t_ns;
		vm->reclaim_latency_ns = e->latency_ns;
		vm->reclaimed = ev;
		vm->have_reclaimed = true;
		lpv_mutex_unlock(&host->lock);
		return;
	default:
		break;
	}
	api_event_post_locked(vm, &ev);
	lpv_mutex_unlock(&host->lock);
}

static void *api_vm_reaper(void *arg)
{
	struct lpv_vm *vm = arg;
	struct lpv_host *host = vm->host;
	struct vmm_result res;
	bool release = false;
	int r;

	/*
	 * Requests to the VMM (reset, shutdown) are refused once someone
	 * waits for it: follow its boots until it is exiting, then wait.
	 */
	for (unsigned int boot = 0; !vmm_wait_booted(vm->vmm, boot); boot++)
		;
	r = vmm_wait(vm->vmm, &res);
	lpv_mutex_lock(&host->lock);
	vm->res = res;
	vm->exit.boots = res.boots;
	if (res.error && !vm->exit.error) {
		vm->exit.error = res.error;
		snprintf(vm->exit.message, sizeof(vm->exit.message), "%s",
			 res.message);
	}
	{
		struct lpv_event ev = {
			.type = LPV_EVENT_CLEANUP_DONE,
			.boot = vm->boot,
			.code = r,
		};

		if (r || !vm->have_reclaimed) {
			/* The memory did not come back in time. */
			ev.t_ns = lpv_now_ns();
			ev.latency_ns = ev.t_ns - vm->exit_ns;
			ev.code = r ? r : -ETIMEDOUT;
			snprintf(ev.message, sizeof(ev.message),
				 "memory not reclaimed within %llu s",
				 (unsigned long long)vm->vc.reclaim_timeout_ms / 1000);
			vm->cleanup_error = ev.code;
			vm->cleaned_ns = ev.t_ns;
			host->cleanups_failed++;
		} else {
			/* The VMM's RECLAIMED: all of what was still charged
			 * at the exit came back. */
			ev = vm->reclaimed;
			vm->cleaned_bytes = vm->bytes_at_exit;
			host->cleanups_done++;
		}
		vm->state = LPV_VM_CLEANED;
		api_event_post_locked(vm, &ev);
		/* As posted (numbered): the timeline's last entry. */
		vm->reclaimed = ev;
	}
	vm->reaper_done = true;
	if (vm->orphaned && api_vm_is_done_locked(vm)) {
		api_vm_free_locked(vm);
		release = true;
	}
	lpv_cond_broadcast(&host->cond);
	/* A host destroy waits for the VM list to empty and for a release
	 * under way (host->releasing): only then may it free the host. */
	lpv_mutex_unlock(&host->lock);
	if (release)
		api_vm_release(vm);
	return NULL;
}

/* ---- release ---- */

bool api_vm_is_done_locked(const struct lpv_vm *vm)
{
	if (vm->booting)
		return false;
	if (vm->vmm && !vm->reaper_done)
		return false;
	return !(vm->host->ev_running && vm->host->ev_current == vm);
}

/* Off the host's list; the caller then calls api_vm_release(), which
 * the host's destroy waits for (host->releasing). */
void api_vm_free_locked(struct lpv_vm *vm)
{
	struct lpv_vm **p = &vm->host->vms;

	while (*p != vm)
		p = &(*p)->next;
	*p = vm->next;
	vm->host->releasing++;
	lpv_cond_broadcast(&vm->host->cond);
}

void api_vm_release(struct lpv_vm *vm)
{
	struct lpv_host *host = vm->host;

	/* Waited for by the reaper already: this only frees -- but its
	 * memcg goes back to the host's mm world, which must outlive it. */
	vmm_destroy(vm->vmm);
	lpv_image_destroy(vm->image);
	free(vm->ring);
	free(vm->program);
	free(vm->plain_program);
	free(vm->teardown_name);
	free(vm);
	lpv_mutex_lock(&host->lock);
	host->releasing--;
	lpv_cond_broadcast(&host->cond);
	lpv_mutex_unlock(&host->lock);
}

/* ---- creation ---- */

/*
 * The image @cfg boots: the caller's (shared), a file's, or one built for
 * the host's key from the program; *owned is what the VM must free.
 */
static int api_vm_image(struct lpv_host *host, const struct lpv_vm_config *cfg,
			const char *program, const struct lpv_image **img,
			struct lpv_image **owned)
{
	const uint8_t *key = api_stack_host_pub(host->stack);
	char why[API_MSG_LEN];
	int r;

	*owned = NULL;
	if (cfg->image && cfg->image_file)
		return api_fail(host, NULL, -EINVAL,
				"image and image_file exclude each other");
	if (cfg->image) {
		*img = cfg->image;
	} else if (cfg->image_file) {
		r = lpv_image_load(cfg->image_file, owned);
		if (r)
			goto fail;
		*img = *owned;
	} else {
		struct lpv_image_spec spec = {
			.program = program,
			.payload_bytes = cfg->payload_bytes,
		};

		r = lpv_image_build(&spec, key, owned);
		if (r)
			goto fail;
		*img = *owned;
	}
	if (memcmp((*img)->vi.host_pub, key, UV_HOST_KEY_LEN)) {
		lpv_image_destroy(*owned);
		*owned = NULL;
		return api_fail(host, NULL, -EKEYREJECTED,
				"image%s%s was built for another host key (build it with this host's seed)",
				cfg->image_file ? " " : "",
				cfg->image_file ? cfg->image_file : "");
	}
	return 0;

fail:
	snprintf(why, sizeof(why), "%s", lpv_last_error());
	return api_fail(host, NULL, r, "image: %s", why);
}

/* The VMM's configuration of @cfg booting @img (callback not set). */
static int api_vm_vc(struct lpv_host *host, const struct lpv_vm_config *cfg,
		     const struct lpv_image *img, struct vmm_config *vc)
{
	enum vmm_destroy_mode mode = VMM_DESTROY_SYNC;

	if (cfg->teardown && vmm_destroy_mode_parse(cfg->teardown, &mode)) {
		char names[128] = "";

		for (unsigned int i = 0; lpv_teardown_mode_name(i); i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names),
				 "%s%s", i ? ", " : "", lpv_teardown_mode_name(i));
		return api_fail(host, NULL, -EINVAL,
				"unknown teardown mode '%s' (%s)", cfg->teardown,
				names);
	}
	*vc = (struct vmm_config){
		.guest_mem = cfg->guest_mem,
		.cpus = cfg->cpus,
		.destroy = mode,
		.memcg_limit = cfg->memcg_limit,
		.image = img ? &img->vi : NULL,
		.plain_program = cfg->plain_program,
		.max_reboots = cfg->max_reboots,
		.salt = cfg->salt,
		.reclaim_timeout_ms = cfg->reclaim_timeout_ms ?
				      cfg->reclaim_timeout_ms :
				      API_RECLAIM_TIMEOUT_MS,
		.helper_poll_ms = cfg->helper_poll_ms,
	};
	return 0;
}

int lpv_vm_memcg_min(struct lpv_host *host, const struct lpv_vm_config *cfg,
		     uint64_t *out)
{
	const struct lpv_image *img;
	struct lpv_image *owned;
	struct vmm_config vc;
	int r;

	if (!host || !cfg || !out)
		return api_fail(host, NULL, -EINVAL, "lpv_vm_memcg_min: NULL %s",
				!host ? "host" : !cfg ? "configuration" :
				"out-pointer");
	r = api_vm_image(host, cfg, cfg->program ? cfg->program : "idle",
			 &img, &owned);
	if (!r)
		r = api_vm_vc(host, cfg, img, &vc);
	if (!r)
		*out = api_stack_vm_boot_min_bytes(host->stack, &vc);
	lpv_image_destroy(owned);
	return r;
}

int lpv_vm_create(struct lpv_host *host, const struct lpv_vm_config *cfg,
		  struct lpv_vm **out)
{
	char err[API_MSG_LEN] = "";
	const struct lpv_image *img;
	struct lpv_vm *vm;
	int r;

	if (out)
		*out = NULL;
	if (!host || !cfg || !out)
		return api_fail(host, NULL, -EINVAL, "lpv_vm_create: NULL %s",
				!host ? "host" : !cfg ? "configuration" :
				"out-pointer");
	if (cfg->event_queue > API_MAX_EVENT_QUEUE)
		return api_fail(host, NULL, -EINVAL,
				"event queue of %u entries: at most %u",
				cfg->event_queue, API_MAX_EVENT_QUEUE);
	if (cfg->max_reboots < -1)
		return api_fail(host, NULL, -EINVAL,
				"max_reboots %d: -1 (no limit) or more",
				cfg->max_reboots);
	r = vmm_program_check(cfg->program ? cfg->program : "idle", err,
			      sizeof(err));
	if (r)
		return api_fail(host, NULL, r, "program: %s", err);

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return api_fail(host, NULL, -ENOMEM, "out of memory");
	vm->host = host;
	vm->cfg = *cfg;
	r = api_vm_vc(host, cfg, NULL, &vm->vc);
	if (r)
		goto out_free;
	vm->program = strdup(cfg->program ? cfg->program : "idle");
	vm->teardown_name = strdup(vmm_destroy_mode_name(vm->vc.destroy));
	vm->plain_program = cfg->plain_program ?
			    strdup(cfg->plain_program) : NULL;
	vm->cfg.program = vm->program;
	vm->cfg.teardown = vm->teardown_name;
	vm->cfg.plain_program = vm->plain_program;
	vm->cfg.image_file = NULL;	/* read below, not kept */
	if (cfg->event_queue)
		vm->ring = calloc(cfg->event_queue, sizeof(*vm->ring));
	if (!vm->program || !vm->teardown_name ||
	    (cfg->plain_program && !vm->plain_program) ||
	    (cfg->event_queue && !vm->ring)) {
		r = api_fail(host, NULL, -ENOMEM, "out of memory");
		goto out_free;
	}
	r = api_vm_image(host, cfg, vm->program, &img, &vm->image);
	if (r)
		goto out_free;
	r = api_vm_vc(host, &vm->cfg, img, &vm->vc);
	if (r)
		goto out_free;
	vm->vc.on_event = api_vm_on_event;
	vm->vc.event_ctx = vm;
	r = api_stack_vm_check(host->stack, &vm->vc, err, sizeof(err));
	if (!r)
		r = vmm_program_check_fit(vm->program, cfg->guest_mem,
					  cfg->cpus, img->vi.nr_pages, err,
					  sizeof(err));
	if (r) {
		api_fail(host, NULL, r, "%s", err);
		goto out_free;
	}
	vm->state = LPV_VM_CREATED;
	lpv_mutex_lock(&host->lock);
	vm->next = host->vms;
	host->vms = vm;
	lpv_mutex_unlock(&host->lock);
	*out = vm;
	return 0;

out_free:
	lpv_image_destroy(vm->image);
	free(vm->ring);
	free(vm->program);
	free(vm->plain_program);
	free(vm->teardown_name);
	free(vm);
	return r;
}

/* ---- the life ---- */

int lpv_vm_boot(struct lpv_vm *vm)
{
	struct lpv_host *host;
	pthread_attr_t attr;
	struct vmm *vmm;
	char msg[128];
	int r;

	if (!vm)
		return api_fail(NULL, NULL, -EINVAL, "lpv_vm_boot: NULL VM");
	host = vm->host;
	lpv_mutex_lock(&host->lock);
	if (vm->state != LPV_VM_CREATED || vm->booting) {
		lpv_mutex_unlock(&host->lock);
		return api_fail(NULL, vm, -EALREADY,
				"the VM was booted before (a VM boots once; create another)");
	}
	vm->booting = true;
	lpv_mutex_unlock(&host->lock);

	r = api_stack_vm_create(host->stack, &vm->vc, &vmm);
	if (r) {
		lpv_mutex_lock(&host->lock);
		vm->booting = false;
		lpv_mutex_unlock(&host->lock);
		return api_fail(NULL, vm, r, "cannot start the VMM: %s",
				lpv_strerror(r));
	}
	lpv_mutex_lock(&host->lock);
	vm->vmm = vmm;
	vm->state = LPV_VM_RUNNING;
	host->vm_boots++;
	lpv_mutex_unlock(&host->lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&vm->reaper, &attr, api_vm_reaper, vm);
	pthread_attr_destroy(&attr);
	if (r) {
		/* No thread to watch it: stop the VMM and reap it here. */
		if (vmm_kill(vmm))
			WARN_ON_ONCE(1);
		api_vm_reaper(vm);
		lpv_mutex_lock(&host->lock);
		vm->booting = false;
		lpv_mutex_unlock(&host->lock);
		return api_fail(NULL, vm, r, "cannot start the reaper: %s",
				lpv_strerror(r));
	}
	r = vmm_wait_booted(vmm, 0);
	lpv_mutex_lock(&host->lock);
	vm->booting = false;
	snprintf(msg, sizeof(msg), "%s", vm->exit.message);
	lpv_cond_broadcast(&host->cond);
	lpv_mutex_unlock(&host->lock);
	if (r)
		return api_fail(NULL, vm, r,
				"the VMM exited before the guest ran%s%s",
				msg[0] ? ": " : "", msg);
	return 0;
}

/* The VMM of a booted VM still running, or an error for the caller. */
static int api_vm_running(struct lpv_vm *vm, const char *what,
			  struct vmm **out)
{
	int state;

	if (!vm)
		return api_fail(NULL, NULL, -EINVAL, "%s: NULL VM", what);
	lpv_mutex_lock(&vm->host->lock);
	state = vm->state;
	*out = vm->vmm;
	lpv_mutex_unlock(&vm->host->lock);
	if (state == LPV_VM_CREATED)
		return api_fail(NULL, vm, -EINVAL, "%s: the VM is not booted",
				what);
	if (state != LPV_VM_RUNNING)
		return api_fail(NULL, vm, -ESRCH, "%s: the VMM has exited",
				what);
	return 0;
}

int lpv_vm_reboot(struct lpv_vm *vm)
{
	unsigned int next;
	struct vmm *vmm;
	char msg[128];
	int r;

	r = api_vm_running(vm, "lpv_vm_reboot", &vmm);
	if (r)
		return r;
	lpv_mutex_lock(&vm->host->lock);
	next = vm->boot + 1;
	lpv_mutex_unlock(&vm->host->lock);
	r = vmm_request_reset(vmm);
	if (!r)
		r = vmm_wait_booted(vmm, next);
	if (r) {
		lpv_mutex_lock(&vm->host->lock);
		snprintf(msg, sizeof(msg), "%s", vm->exit.message);
		lpv_mutex_unlock(&vm->host->lock);
		return api_fail(NULL, vm, r,
				"the VMM exited instead of rebooting%s%s",
				msg[0] ? ": " : " (reboot limit or shutdown)",
				msg);
	}
	return 0;
}

/* lpv_host_wait_cleanup waits for the VM from now on. */
static void api_vm_set_ending(struct lpv_vm *vm)
{
	lpv_mutex_lock(&vm->host->lock);
	vm->ending = true;
	lpv_mutex_unlock(&vm->host->lock);
}

int lpv_vm_shutdown(struct lpv_vm *vm)
{
	struct vmm *vmm;
	int r;

	r = api_vm_running(vm, "lpv_vm_shutdown", &vmm);
	if (r)
		return r;
	api_vm_set_ending(vm);
	r = vmm_request_shutdown(vmm);
	if (r)
		return api_fail(NULL, vm, r, "the VMM is already exiting");
	return 0;
}

int lpv_vm_kill(struct lpv_vm *vm)
{
	struct vmm *vmm;
	int r;

	r = api_vm_running(vm, "lpv_vm_kill", &vmm);
	if (r)
		return r;
	api_vm_set_ending(vm);
	r = vmm_kill(vmm);
	if (r)
		return api_fail(NULL, vm, r, "the VMM has already exited");
	return 0;
}

/* Wait under host->lock until the VM reaches @state (or a later one). */
static int api_vm_wait_state(struct lpv_vm *vm, int state,
			     uint64_t timeout_ms, const char *what)
{
	struct lpv_host *host;
	uint64_t deadline = api_deadline(timeout_ms);

	if (!vm)
		return api_fail(NULL, NULL, -EINVAL, "%s: NULL VM", what);
	host = vm->host;
	lpv_mutex_lock(&host->lock);
	if (vm->state == LPV_VM_CREATED && !vm->booting) {
		lpv_mutex_unlock(&host->lock);
		return api_fail(NULL, vm, -EINVAL, "%s: the VM is not booted",
				what);
	}
	while (vm->state < state) {
		if (!lpv_cond_wait_until(&host->cond, &host->lock, deadline) &&
		    vm->state < state) {
			lpv_mutex_unlock(&host->lock);
			return api_fail(NULL, vm, -ETIMEDOUT,
					"%s: not within %llu ms", what,
					(unsigned long long)timeout_ms);
		}
	}
	lpv_mutex_unlock(&host->lock);
	return 0;
}

int lpv_vm_wait(struct lpv_vm *vm, uint64_t timeout_ms,
		struct lpv_vm_exit *out)
{
	int r = api_vm_wait_state(vm, LPV_VM_CLEANING, timeout_ms,
				  "lpv_vm_wait");

	if (r)
		return r;
	if (out) {
		lpv_mutex_lock(&vm->host->lock);
		*out = vm->exit;
		lpv_mutex_unlock(&vm->host->lock);
	}
	return 0;
}

int lpv_vm_wait_cleanup(struct lpv_vm *vm, uint64_t timeout_ms)
{
	int r = api_vm_wait_state(vm, LPV_VM_CLEANED, timeout_ms,
				  "lpv_vm_wait_cleanup");

	if (r)
		return r;
	lpv_mutex_lock(&vm->host->lock);
	r = vm->cleanup_error;
	lpv_mutex_unlock(&vm->host->lock);
	if (r)
		return api_fail(NULL, vm, -EIO,
				"the memory did not come back within %llu s",
				(unsigned long long)vm->vc.reclaim_timeout_ms / 1000);
	return 0;
}

/* 0 if the VM is cleaned up (it stays so), else why not. */
static int api_vm_cleaned(struct lpv_vm *vm, const char *what)
{
	int state;

	lpv_mutex_lock(&vm->host->lock);
	state = vm->state;
	lpv_mutex_unlock(&vm->host->lock);
	if (state == LPV_VM_CREATED)
		return api_fail(NULL, vm, -EINVAL, "%s: the VM is not booted",
				what);
	if (state != LPV_VM_CLEANED)
		return api_fail(NULL, vm, -EBUSY,
				"%s: the VM is not cleaned up yet", what);
	return 0;
}

int lpv_vm_result(struct lpv_vm *vm, struct lpv_vm_result *out)
{
	int r;

	if (!vm || !out)
		return api_fail(NULL, vm, -EINVAL, "lpv_vm_result: NULL %s",
				!vm ? "VM" : "out-pointer");
	r = api_vm_cleaned(vm, "lpv_vm_result");
	if (r)
		return r;
	lpv_mutex_lock(&vm->host->lock);
	*out = (struct lpv_vm_result){
		.exit = vm->exit,
		.reclaim_ns = vm->res.reclaim_ns,
		.reclaimed_bytes = vm->res.reclaimed_frames * HW_PAGE_SIZE,
		.leaked_bytes = vm->res.leaked_frames * HW_PAGE_SIZE,
		.cleanup_error = vm->cleanup_error ? -EIO : 0,
	};
	lpv_mutex_unlock(&vm->host->lock);
	return 0;
}

long lpv_vm_timeline(struct lpv_vm *vm, struct lpv_event *evs, size_t cap)
{
	const struct vmm_event *e;
	size_t nr, n = 0;
	int r;

	if (!vm || (!evs && cap))
		return api_fail(NULL, vm, -EINVAL, "lpv_vm_timeline: NULL %s",
				!vm ? "VM" : "buffer");
	r = api_vm_cleaned(vm, "lpv_vm_timeline");
	if (r)
		return r;
	/*
	 * Cleaned: the reaper's vmm_wait() returned, so the VMM's timeline
	 * grows no more.  Every event of it was posted as it came, but
	 * RECLAIMED, which the reaper posted last as CLEANUP_DONE.
	 */
	e = vmm_events(vm->vmm, &nr);
	for (size_t i = 0; i < nr; i++) {
		if (e[i].type == VMM_EV_RECLAIMED)
			continue;
		if (n < cap) {
			api_event_from_vmm(vm, &e[i], &evs[n]);
			evs[n].seq = n;
		}
		n++;
	}
	if (n < cap) {
		lpv_mutex_lock(&vm->host->lock);
		evs[n] = vm->reclaimed;
		lpv_mutex_unlock(&vm->host->lock);
		evs[n].seq = n;
		evs[n].dropped = 0;
	}
	n++;
	return (long)n;
}

/* ---- the rig's view (api_host.h) ---- */

void lpv_vm_set_instant_hook(struct lpv_vm *vm, lpv_event_fn fn, void *ctx)
{
	if (!vm)
		return;
	lpv_mutex_lock(&vm->host->lock);
	WARN_ON_ONCE(vm->vmm);	/* the VMM reads it without the lock */
	vm->instant_fn = fn;
	vm->instant_ctx = ctx;
	lpv_mutex_unlock(&vm->host->lock);
}

void lpv_vm_set_memcg(struct lpv_vm *vm, struct memcg *memcg)
{
	if (!vm)
		return;
	lpv_mutex_lock(&vm->host->lock);
	WARN_ON_ONCE(vm->vmm);	/* read by lpv_vm_boot's vmm_create */
	vm->vc.memcg = memcg;
	lpv_mutex_unlock(&vm->host->lock);
}

uint64_t lpv_vm_boot_key(struct lpv_vm *vm, unsigned int boot)
{
	struct vmm *vmm;

	if (!vm)
		return 0;
	lpv_mutex_lock(&vm->host->lock);
	vmm = vm->vmm;
	lpv_mutex_unlock(&vm->host->lock);
	return vmm ? vmm_boot_key(vmm, boot) : 0;
}

uint64_t lpv_pattern_word(uint64_t key, uint64_t gaddr, unsigned int round)
{
	return vmm_pattern_word(key, gaddr, round);
}

int lpv_vm_state(struct lpv_vm *vm)
{
	int state;

	if (!vm)
		return api_fail(NULL, NULL, -EINVAL, "lpv_vm_state: NULL VM");
	lpv_mutex_lock(&vm->host->lock);
	state = vm->state;
	lpv_mutex_unlock(&vm->host->lock);
	return state;
}

const char *lpv_vm_teardown(struct lpv_vm *vm)
{
	return vm ? vm->teardown_name : NULL;
}

int lpv_vm_event_poll(struct lpv_vm *vm, struct lpv_event *ev,
		      uint64_t timeout_ms)
{
	uint64_t deadline = api_deadline(timeout_ms);
	struct lpv_host *host;

	if (!vm || !ev)
		return api_fail(NULL, vm, -EINVAL, "lpv_vm_event_poll: NULL %s",
				!vm ? "VM" : "event");
	host = vm->host;
	if (!vm->ring)
		return api_fail(NULL, vm, -ENODATA,
				"the VM has no event queue (lpv_vm_config.event_queue)");
	lpv_mutex_lock(&host->lock);
	while (!vm->ring_len && vm->state != LPV_VM_CLEANED) {
		if (!timeout_ms ||
		    !lpv_cond_wait_until(&host->cond, &host->lock, deadline))
			break;
	}
	if (vm->ring_len) {
		*ev = vm->ring[vm->ring_head];
		vm->ring_head = (vm->ring_head + 1) % vm->cfg.event_queue;
		vm->ring_len--;
		lpv_mutex_unlock(&host->lock);
		return 0;
	}
	lpv_mutex_unlock(&host->lock);
	if (vm->state == LPV_VM_CLEANED)
		return api_fail(NULL, vm, -ENODATA,
				"the VM is cleaned up: no more events");
	if (!timeout_ms)
		return -EAGAIN;
	return api_fail(NULL, vm, -ETIMEDOUT, "no event within %llu ms",
			(unsigned long long)timeout_ms);
}

/* ---- the end of the handle ---- */

void lpv_vm_destroy(struct lpv_vm *vm)
{
	struct lpv_host *host;
	struct api_event_node **p;
	bool release = false;
	struct vmm *vmm;
	int state;

	if (!vm)
		return;
	host = vm->host;
	lpv_mutex_lock(&host->lock);
	vm->destroyed = true;	/* no more callbacks queued */
	state = vm->state;
	vmm = vm->vmm;
	if (api_on_event_thread(host)) {
		/* From a callback: the ones queued behind it never run. */
		for (p = &host->ev_head; *p;) {
			struct api_event_node *n = *p;

			if (n->ev.vm == vm) {
				*p = n->next;
				vm->dispatch_pending--;
				free(n);
			} else {
				p = &n->next;
			}
		}
		host->ev_tail = NULL;
		for (struct api_event_node *n = host->ev_head; n; n = n->next)
			host->ev_tail = n;
	} else {
		/* Callbacks of what already happened run first. */
		while (vm->dispatch_pending ||
		       (host->ev_running && host->ev_current == vm))
			lpv_cond_wait(&host->cond, &host->lock);
	}
	lpv_mutex_unlock(&host->lock);

	/* -ESRCH: it is already exiting on its own. */
	if (state == LPV_VM_RUNNING)
		ignore_result(vmm_kill(vmm));

	lpv_mutex_lock(&host->lock);
	/* Done, unless its reaper still runs or this is its own callback:
	 * they release it when they finish. */
	if (api_vm_is_done_locked(vm)) {
		api_vm_free_locked(vm);
		release = true;
	} else {
		vm->orphaned = true;
	}
	lpv_mutex_unlock(&host->lock);
	if (release)
		api_vm_release(vm);
}

void api_vm_destroy_all(struct lpv_host *host)
{
	for (;;) {
		struct lpv_vm *vm;

		lpv_mutex_lock(&host->lock);
		for (vm = host->vms; vm && vm->destroyed; vm = vm->next)
			;
		lpv_mutex_unlock(&host->lock);
		if (!vm)
			return;
		lpv_vm_destroy(vm);
	}
}
