// SPDX-License-Identifier: MIT
/*
 * stats.c - what the public API reports about a host: cleanup progress
 * per VM and in total, the statistics snapshot, and the same as JSON.
 *
 * Progress of a VM: while it runs, what its reboots handed to background
 * cleanup; from its exit on, the memory still charged to the VMM, which
 * is what its teardown has left to give back (the reader is
 * api_cleanup_read, stack.c, over vmm_cleanup_progress); the rate is the
 * average since the exit.  The host's figures are the sums over its VMs,
 * the rate that of the VMs cleaning now.
 *
 * Everything is read under host->lock; below it, the progress readers
 * take only leaf locks (vmm->kvm_lock, then KVM's instant and deferred
 * locks; docs/locking.md), the counters are atomics.
 */
#include "api_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static uint64_t api_rate(uint64_t bytes, uint64_t ns)
{
	if (!ns)
		return 0;
	return (uint64_t)((double)bytes * 1e9 / (double)ns);
}

void api_vm_progress_locked(struct lpv_vm *vm, struct lpv_progress *out)
{
	uint64_t now = lpv_now_ns();
	struct api_cleanup c;

	*out = (struct lpv_progress){ .t_ns = now };
	switch (vm->state) {
	case LPV_VM_CLEANING:
		api_cleanup_read(vm->vmm, &c);
		out->pending_bytes = c.pending_bytes;
		out->in_use_bytes = c.in_use_bytes;
		out->ending = true;
		out->cleaned_bytes = vm->bytes_at_exit > out->pending_bytes ?
				     vm->bytes_at_exit - out->pending_bytes : 0;
		out->rate_bytes_per_s = api_rate(out->cleaned_bytes,
						 now - vm->exit_ns);
		out->cleaning = 1;
		break;
	case LPV_VM_CLEANED:
		out->ending = true;
		out->cleaned_bytes = vm->cleaned_bytes;
		out->rate_bytes_per_s = api_rate(vm->cleaned_bytes,
						 vm->cleaned_ns - vm->exit_ns);
		break;
	case LPV_VM_RUNNING:
		/* What its reboots handed to background cleanup (lazy, async,
		 * instant), or from its shutdown request on, all it holds --
		 * a synchronous destroy at a reboot or the exit included.
		 * Cleaned and rate: since a reader first saw it pending. */
		api_cleanup_read(vm->vmm, &c);
		out->pending_bytes = c.pending_bytes;
		out->in_use_bytes = c.in_use_bytes;
		out->ending = c.ending;
		out->cleaning = out->pending_bytes != 0;
		if (!out->pending_bytes) {
			vm->ep_start_ns = 0;
			break;
		}
		if (!vm->ep_start_ns) {
			vm->ep_start_ns = now;
			vm->ep_peak_bytes = 0;
		}
		if (out->pending_bytes > vm->ep_peak_bytes)
			vm->ep_peak_bytes = out->pending_bytes;
		out->cleaned_bytes = vm->ep_peak_bytes - out->pending_bytes;
		out->rate_bytes_per_s = api_rate(out->cleaned_bytes,
						 now - vm->ep_start_ns);
		break;
	default:
		break;
	}
}

int lpv_vm_progress(struct lpv_vm *vm, struct lpv_progress *out)
{
	if (!vm || !out)
		return api_fail(NULL, vm, -EINVAL, "lpv_vm_progress: NULL %s",
				!vm ? "VM" : "out-pointer");
	lpv_mutex_lock(&vm->host->lock);
	api_vm_progress_locked(vm, out);
	lpv_mutex_unlock(&vm->host->lock);
	return 0;
}

static void api_host_progress_locked(struct lpv_host *host,
				     struct lpv_progress *out)
{
	*out = (struct lpv_progress){ .t_ns = lpv_now_ns() };
	for (struct lpv_vm *vm = host->vms; vm; vm = vm->next) {
		struct lpv_progress p;

		api_vm_progress_locked(vm, &p);
		out->pending_bytes += p.pending_bytes;
		out->in_use_bytes += p.in_use_bytes;
		out->cleaned_bytes += p.cleaned_bytes;
		out->cleaning += p.cleaning;
		if (p.cleaning)
			out->rate_bytes_per_s += p.rate_bytes_per_s;
	}
}

int lpv_host_progress(struct lpv_host *host, struct lpv_progress *out)
{
	if (!host || !out)
		return api_fail(host, NULL, -EINVAL,
				"lpv_host_progress: NULL %s",
				!host ? "host" : "out-pointer");
	lpv_mutex_lock(&host->lock);
	api_host_progress_locked(host, out);
	lpv_mutex_unlock(&host->lock);
	return 0;
}

int lpv_host_stats(struct lpv_host *host, struct lpv_stats *out)
{
	struct lpv_progress p;

	if (!host || !out)
		return api_fail(host, NULL, -EINVAL, "lpv_host_stats: NULL %s",
				!host ? "host" : "out-pointer");
	api_stack_counts(host->stack, out);
	lpv_mutex_lock(&host->lock);
	for (struct lpv_vm *vm = host->vms; vm; vm = vm->next) {
		out->vms++;
		out->vms_running += vm->state == LPV_VM_RUNNING;
		out->vms_cleaning += vm->state == LPV_VM_CLEANING;
	}
	out->vm_boots = host->vm_boots;
	out->guest_boots = host->guest_boots;
	out->reboots = host->reboots;
	out->exits = host->exits;
	out->cleanups_done = host->cleanups_done;
	out->cleanups_failed = host->cleanups_failed;
	api_host_progress_locked(host, &p);
	out->pending_bytes = p.pending_bytes;
	lpv_mutex_unlock(&host->lock);
	return 0;
}

/* The snapshot's fields, in the order of struct lpv_stats: the JSON keys
 * are the field names. */
#define API_STATS_FIELDS(X)						\
	X(mem_bytes) X(free_bytes) X(guest_bytes) X(kernel_bytes)	\
	X(donated_bytes) X(set_aside_bytes) X(leaked_bytes) X(vms)	\
	X(vms_running) X(vms_cleaning) X(cleanup_threads) X(vm_boots)	\
	X(guest_boots) X(reboots) X(exits) X(cleanups_done)		\
	X(cleanups_failed) X(pending_bytes) X(pv_enables) X(pv_disables) \
	X(pages_destroyed) X(pages_exported) X(pages_set_aside)		\
	X(pages_freed_by_cleanup_threads) X(async_performs) X(oom_kills)

static json_t *api_progress_json(const struct lpv_progress *p)
{
	return json_pack("{s:I,s:I,s:I,s:i}",
			 "pending_bytes", (json_int_t)p->pending_bytes,
			 "cleaned_bytes", (json_int_t)p->cleaned_bytes,
			 "rate_bytes_per_s", (json_int_t)p->rate_bytes_per_s,
			 "cleaning", (int)p->cleaning);
}

static json_t *api_vms_json(struct lpv_host *host)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	lpv_mutex_lock(&host->lock);
	for (struct lpv_vm *vm = host->vms; vm; vm = vm->next) {
		struct lpv_progress p;
		json_t *o;

		api_vm_progress_locked(vm, &p);
		o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:o}",
			      "state", lpv_vm_state_name(vm->state),
			      "teardown", vm->teardown_name,
			      "program", vm->program,
			      "guest_mem", (json_int_t)vm->cfg.guest_mem,
			      "cpus", (int)vm->cfg.cpus,
			      "boots", (int)vm->boots,
			      "progress", api_progress_json(&p));
		if (json_array_append_new(arr, o)) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	lpv_mutex_unlock(&host->lock);
	return arr;
}

char *lpv_host_stats_json(struct lpv_host *host)
{
	struct lpv_progress prog;
	struct lpv_stats st;
	json_t *root, *api, *layers;
	char *text = NULL;
	int r;

	if (!host) {
		api_fail(NULL, NULL, -EINVAL, "lpv_host_stats_json: NULL host");
		return NULL;
	}
	r = lpv_host_stats(host, &st);
	if (!r)
		r = lpv_host_progress(host, &prog);
	if (r)
		return NULL;
	root = json_object();
	api = json_object();
	layers = api_stack_stats_json(host->stack);
	if (!root || !api || !layers)
		goto out;
#define API_STAT_JSON(name)						\
	if (json_object_set_new(api, #name, json_integer((json_int_t)st.name))) \
		goto out;
	API_STATS_FIELDS(API_STAT_JSON)
#undef API_STAT_JSON
	if (json_object_set_new(root, "lazypv", json_string(lpv_version())) ||
	    json_object_set(root, "api", api) ||
	    json_object_set_new(root, "progress", api_progress_json(&prog)) ||
	    json_object_set_new(root, "vms", api_vms_json(host)) ||
	    json_object_update(root, layers))
		goto out;
	text = json_dumps(root, JSON_COMPACT);
out:
	json_decref(layers);
	json_decref(api);
	json_decref(root);
	if (!text)
		api_fail(host, NULL, -ENOMEM,
			 "cannot build the statistics JSON: out of memory");
	return text;
}
