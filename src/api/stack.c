// SPDX-License-Identifier: MIT
/*
 * stack.c - the host stack under the public API: brought up from a
 * struct lpv_host_config (profile by name or file, module parameters as
 * "name=value" strings, memory, host-key seed), checked, counted and torn
 * down.  The only file of src/api/ that knows how the layers below are
 * assembled and what their statistics are called; everything else asks
 * through api_stack_*.
 *
 * Created and destroyed by one thread; the calls between only read the
 * stack or go to layers that do their own locking.
 */
#include "api_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/options.h"

struct api_stack {
	struct host *host;
	bool borrowed;		/* api_stack_wrap: the caller's */
};

/* The module's parameters, one lpv_option per KVM_OPTIONS line. */
static void api_param_table(struct kvm_params *p, struct lpv_option *tab)
{
	unsigned int i = 0;

#define API_PARAM(pname, penv, pdef, pmin, pmax, psize, pdesc)		\
	tab[i++] = (struct lpv_option){					\
		.name = #pname, .env = penv,				\
		.type = psize ? LPV_OPT_SIZE : LPV_OPT_UINT,		\
		.def = pdef, .min = pmin, .max = pmax, .help = pdesc,	\
		.value = &p->pname,					\
	};
	KVM_OPTIONS(API_PARAM)
#undef API_PARAM
}

#define API_NR_PARAMS (sizeof(struct kvm_params) / sizeof(uint64_t))

const char *lpv_param_name(unsigned int i, uint64_t *def)
{
	struct lpv_option tab[API_NR_PARAMS];
	struct kvm_params p;

	api_param_table(&p, tab);
	if (i >= API_NR_PARAMS)
		return NULL;
	if (def)
		*def = tab[i].def;
	return tab[i].name;
}

/* Defaults and environment, then each "name=value" of @params. */
static int api_params_parse(const char *const *params, struct kvm_params *p,
			    char *err, size_t errlen)
{
	struct lpv_option tab[API_NR_PARAMS];
	int r;

	api_param_table(p, tab);
	r = lpv_options_init(tab, API_NR_PARAMS, err, errlen);
	if (r)
		return r;
	for (size_t i = 0; params && params[i]; i++) {
		const char *eq = strchr(params[i], '=');
		char name[64];

		if (!eq || eq == params[i] ||
		    (size_t)(eq - params[i]) >= sizeof(name)) {
			lpv_seterr(err, errlen,
				   "module parameter '%s': expected name=value",
				   params[i]);
			return -EINVAL;
		}
		memcpy(name, params[i], (size_t)(eq - params[i]));
		name[eq - params[i]] = '\0';
		r = lpv_option_set(tab, API_NR_PARAMS, name, eq + 1, err,
				   errlen);
		if (r)
			return r;
	}
	return 0;
}

int api_stack_create(const struct lpv_host_config *cfg,
		     struct api_stack **out, char *err, size_t errlen)
{
	struct host_config hc;
	struct api_stack *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st) {
		lpv_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* A refused LAZYPV_* variable: host_config_init named it on stderr. */
	r = host_config_init(&hc);
	if (r) {
		lpv_seterr(err, errlen, "a LAZYPV_* environment variable was refused");
		goto out_free;
	}
	r = api_params_parse(cfg->params, &hc.kvm, err, errlen);
	if (r)
		goto out_free;
	r = host_profile_load(cfg->profile, &hc.profile, err, errlen);
	if (r)
		goto out_free;
	hc.mem_bytes = cfg->mem_bytes;
	hc.uv_seed = cfg->seed;
	r = host_create(&hc, &st->host, err, errlen);
	if (r)
		goto out_free;
	*out = st;
	return 0;

out_free:
	free(st);
	return r;
}

int api_stack_wrap(struct host *h, struct api_stack **out)
{
	struct api_stack *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->host = h;
	st->borrowed = true;
	*out = st;
	return 0;
}

struct host *api_stack_host(struct api_stack *st)
{
	return st->host;
}

void api_stack_destroy(struct api_stack *st)
{
	if (!st)
		return;
	if (!st->borrowed)
		host_destroy(st->host);
	free(st);
}

int api_stack_check(struct api_stack *st)
{
	return host_check(st->host);
}

const uint8_t *api_stack_host_pub(struct api_stack *st)
{
	return host_public_key(st->host);
}

int api_stack_vm_check(struct api_stack *st, const struct vmm_config *vc,
		       char *err, size_t errlen)
{
	return vmm_config_check(host_vmm_env(st->host), vc, err, errlen);
}

int api_stack_vm_create(struct api_stack *st, const struct vmm_config *vc,
			struct vmm **out)
{
	return vmm_create(host_vmm_env(st->host), vc, out);
}

uint64_t api_stack_vm_boot_min_bytes(struct api_stack *st,
				     const struct vmm_config *vc)
{
	return vmm_boot_min_bytes(host_vmm_env(st->host), vc);
}

bool api_stack_is_drained(struct api_stack *st)
{
	struct host_stats hs;

	if (host_cleanups_running(st->host))
		return false;
	host_stats_get(st->host, &hs);
	return !hs.mm.use[PAGE_USE_PENDING];
}

void api_stack_counts(struct api_stack *st, struct lpv_stats *out)
{
	const struct kvm_stats *ks;
	const struct mm_stats *ms;
	struct host_stats hs;
	uint64_t leaked = 0;

	host_stats_get(st->host, &hs);
	ms = &hs.mm;
	ks = &hs.kvm;
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		leaked += ms->leaked[i];
	*out = (struct lpv_stats){
		.mem_bytes = ms->nr_frames * HW_PAGE_SIZE,
		.free_bytes = ms->use[PAGE_USE_FREE] * HW_PAGE_SIZE,
		.guest_bytes = ms->use[PAGE_USE_ANON] * HW_PAGE_SIZE,
		.kernel_bytes = ms->use[PAGE_USE_KERNEL] * HW_PAGE_SIZE,
		.donated_bytes = ms->use[PAGE_USE_DONATED] * HW_PAGE_SIZE,
		.set_aside_bytes = ms->use[PAGE_USE_PENDING] * HW_PAGE_SIZE,
		.leaked_bytes = leaked * HW_PAGE_SIZE,
		.cleanup_threads = host_cleanups_running(st->host),
		.pv_enables = ks->pv_enables,
		.pv_disables = ks->pv_disables,
		.pages_destroyed = ks->destroys + ks->walk_pages,
		.pages_exported = ks->exports + ks->exit_exports,
		.pages_set_aside = ks->set_aside_pages,
		.pages_freed_by_cleanup_threads = ks->deferred_pages_freed,
		.async_performs = ks->async_performs,
		.oom_kills = ms->oom_kills,
	};
}

/* The host's snapshot (host_stats_json: "machine", "uv", "mm", "kvm"...). */
json_t *api_stack_stats_json(struct api_stack *st)
{
	struct host_stats hs;

	host_stats_get(st->host, &hs);
	return host_stats_json(&hs);
}

void api_cleanup_read(struct vmm *vmm, struct api_cleanup *out)
{
	struct vmm_cleanup_progress p;

	/*
	 * While the VM runs: what its reboots handed to background cleanup.
	 * From the shutdown request on: every frame the VMM still has
	 * charged (but those leaked on purpose, charged for good) -- set
	 * aside for KVM's cleanup threads, held by the async teardown
	 * helper, or on its way back.
	 */
	vmm_cleanup_progress(vmm, &p);
	*out = (struct api_cleanup){
		.pending_bytes = p.to_clean_bytes,
		.in_use_bytes = p.in_use_bytes,
		.ending = p.ending,
	};
}
