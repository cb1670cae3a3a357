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
	struct vmm_host *vh;
	struct kvm_params params;
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
	struct vmm_host_config hc = { 0 };
	struct api_stack *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st) {
		lpv_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = api_params_parse(cfg->params, &st->params, err, errlen);
	if (r)
		goto out_free;
	hc.host_mem = cfg->mem_bytes;
	hc.protect = HW_PROTECT_AUTO;
	hc.uv_profile = cfg->profile;
	hc.uv_seed = cfg->seed;
	hc.kvm = &st->params;
	r = vmm_host_create(&hc, &st->vh, err, errlen);
	if (r)
		goto out_free;
	*out = st;
	return 0;

out_free:
	free(st);
	return r;
}

void api_stack_destroy(struct api_stack *st)
{
	if (!st)
		return;
	vmm_host_destroy(st->vh);
	free(st);
}

int api_stack_check(struct api_stack *st)
{
	return vmm_host_check(st->vh);
}

const uint8_t *api_stack_host_pub(struct api_stack *st)
{
	return st->vh->host_pub;
}

int api_stack_vm_check(struct api_stack *st, const struct vmm_config *vc,
		       char *err, size_t errlen)
{
	return vmm_config_check(st->vh, vc, err, errlen);
}

int api_stack_vm_create(struct api_stack *st, const struct vmm_config *vc,
			struct vmm **out)
{
	return vmm_create(st->vh, vc, out);
}

bool api_stack_is_drained(struct api_stack *st)
{
	struct mm_stats ms;

	if (kvm_module_cleanups_running(st->vh->kvm))
		return false;
	mm_stats_get(st->vh->world, &ms);
	return !ms.use[PAGE_USE_PENDING];
}

void api_stack_counts(struct api_stack *st, struct api_stack_counts *out)
{
	struct kvm_stats ks;
	struct mm_stats ms;
	uint64_t leaked = 0;

	mm_stats_get(st->vh->world, &ms);
	kvm_stats_get(st->vh->kvm, &ks);
	for (unsigned int i = 0; i < MM_LEAK_NR; i++)
		leaked += ms.leaked[i];
	*out = (struct api_stack_counts){
		.mem_bytes = ms.nr_frames * HW_PAGE_SIZE,
		.free_bytes = ms.use[PAGE_USE_FREE] * HW_PAGE_SIZE,
		.guest_bytes = ms.use[PAGE_USE_ANON] * HW_PAGE_SIZE,
		.kernel_bytes = ms.use[PAGE_USE_KERNEL] * HW_PAGE_SIZE,
		.donated_bytes = ms.use[PAGE_USE_DONATED] * HW_PAGE_SIZE,
		.set_aside_bytes = ms.use[PAGE_USE_PENDING] * HW_PAGE_SIZE,
		.leaked_bytes = leaked * HW_PAGE_SIZE,
		.cleanup_threads = kvm_module_cleanups_running(st->vh->kvm),
		.pv_enables = ks.pv_enables,
		.pv_disables = ks.pv_disables,
		.pages_destroyed = ks.destroys + ks.walk_pages,
		.pages_exported = ks.exports + ks.exit_exports,
		.pages_set_aside = ks.set_aside_pages,
		.pages_freed_by_cleanup_threads = ks.deferred_pages_freed,
		.async_performs = ks.async_performs,
		.oom_kills = ms.oom_kills,
	};
}

/* A layer's printer writes JSON to a FILE: read it back as an object. */
static json_t *api_json_of(void (*print)(void *obj, FILE *f), void *obj)
{
	json_error_t jerr;
	json_t *j = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	print(obj, f);
	if (fclose(f) == 0)
		j = json_loadb(buf, len, 0, &jerr);
	free(buf);
	return j;
}

static void api_print_kvm(void *obj, FILE *f)
{
	kvm_stats_print(obj, f, true);
}

static void api_print_mm(void *obj, FILE *f)
{
	mm_stats_print(obj, f, true);
}

json_t *api_stack_stats_json(struct api_stack *st)
{
	json_t *root = json_object(), *kvm, *mm;

	if (!root)
		return NULL;
	kvm = api_json_of(api_print_kvm, st->vh->kvm);
	mm = api_json_of(api_print_mm, st->vh->world);
	/* json_object_set_new takes the reference even when it fails. */
	if (json_object_set_new(root, "kvm", kvm) ||
	    json_object_set_new(root, "mm", mm) ||
	    json_object_set_new(root, "uv_profile",
				json_string(st->vh->profile.name))) {
		json_decref(root);
		return NULL;
	}
	return root;
}

uint64_t api_cleanup_pending_bytes(struct vmm *vmm)
{
	struct memcg_stats ms;

	/*
	 * Every frame an exited VMM still has charged (but those leaked on
	 * purpose, charged for good) is memory its teardown has not given
	 * back yet: set aside for KVM's cleanup threads, held by the async
	 * teardown helper, or on its way back.
	 */
	memcg_stats_get(vmm_memcg(vmm), &ms);
	return ms.usage > ms.leaked ? (ms.usage - ms.leaked) * HW_PAGE_SIZE : 0;
}
