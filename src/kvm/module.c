// SPDX-License-Identifier: MIT
/*
 * module.c - the KVM module: parameters, load/unload (QUI, INIT_UV with the
 * UV's donated base storage), the hooks it plugs into the host mm and the
 * machine, contiguous kernel allocations for donated storage, VM lifecycle
 * and stats.
 *
 * Threads: module create/destroy are single-threaded; VM creation and
 * destruction may run on any thread (the VM's own lock covers its state,
 * the module's counters are relaxed atomics).
 */
#include "kvm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/options.h"

#define KVM_OPTION_ROW(name, env, def, min, max, size, desc)		\
	{ #name, env, size ? LPV_OPT_SIZE : LPV_OPT_UINT, def, min, max, \
	  desc, NULL },

static const struct lpv_option kvm_option_tmpl[] = {
	KVM_OPTIONS(KVM_OPTION_ROW)
};

static void kvm_option_table(struct kvm_params *p,
			     struct lpv_option tab[ARRAY_SIZE(kvm_option_tmpl)])
{
	size_t i = 0;

	memcpy(tab, kvm_option_tmpl, sizeof(kvm_option_tmpl));
#define KVM_OPTION_BIND(name, env, def, min, max, size, desc) \
	tab[i++].value = &p->name;
	KVM_OPTIONS(KVM_OPTION_BIND)
#undef KVM_OPTION_BIND
}

int kvm_params_init(struct kvm_params *p)
{
	struct lpv_option tab[ARRAY_SIZE(kvm_option_tmpl)];
	char err[160];
	int ret;

	kvm_option_table(p, tab);
	ret = lpv_options_init(tab, ARRAY_SIZE(tab), err, sizeof(err));
	if (ret)
		fprintf(stderr, "lazypv: kvm: %s\n", err);
	return ret;
}

void kvm_params_print(const struct kvm_params *p, FILE *f)
{
	struct lpv_option tab[ARRAY_SIZE(kvm_option_tmpl)];
	struct kvm_params copy = *p;

	kvm_option_table(&copy, tab);
	lpv_options_print(f, "kvm", tab, ARRAY_SIZE(tab), false);
}

/* @align: in bytes, a multiple of the frame size. */
static int kvm_stor_alloc_aligned(struct kvm_module *mod, struct memcg *memcg,
				  uint64_t bytes, uint64_t align,
				  enum page_use use, struct kvm_stor *out)
{
	size_t nr = (bytes + HW_PAGE_SIZE - 1) >> HW_PAGE_SHIFT;
	int ret;

	out->first = NULL;
	out->nr = 0;
	if (!nr)
		return 0;
	ret = mm_page_alloc_contig_aligned(mod->world,
					   MM_GFP_KERNEL | MM_GFP_ZERO, memcg,
					   nr, align >> HW_PAGE_SHIFT,
					   &out->first);
	if (ret)
		return ret;
	out->nr = nr;
	for (size_t i = 0; i < nr; i++)
		mm_page_set_use(mod->world, out->first + i, use);
	return 0;
}

int kvm_stor_alloc(struct kvm_module *mod, struct memcg *memcg, uint64_t bytes,
		   enum page_use use, struct kvm_stor *out)
{
	return kvm_stor_alloc_aligned(mod, memcg, bytes, HW_PAGE_SIZE, use, out);
}

void kvm_stor_free(struct kvm_module *mod, struct kvm_stor *stor)
{
	for (size_t i = 0; i < stor->nr; i++) {
		mm_page_set_use(mod->world, stor->first + i, PAGE_USE_KERNEL);
		mm_page_put(mod->world, stor->first + i);
	}
	stor->first = NULL;
	stor->nr = 0;
}

void kvm_stor_leak(struct kvm_module *mod, struct kvm_stor *stor,
		   enum mm_leak_reason reason)
{
	for (size_t i = 0; i < stor->nr; i++)
		mm_page_leak(mod->world, stor->first + i, reason);
	kvm_stat_add(mod, leaked_storage, stor->nr);
	stor->first = NULL;
	stor->nr = 0;
}

/*
 * INIT_UV: the UV's base storage, donated once.  The reference requires an
 * origin of at least 2 GiB (the profile's init_min_origin) on a 1 MiB
 * boundary (the UV ignores the low bits, so an unaligned run would make it
 * own frames below the run that the allocator still hands out); the
 * storage is taken from the top of memory, which is where a contiguous run
 * is most likely free, at the highest aligned origin -- Linux's setup_uv()
 * asks memblock for the same alignment.  uv_profile_init_fits() says up
 * front whether this can succeed.  A failure leaves the module without PV
 * support (-ENODEV), as setup_uv() does.
 */
static int kvm_uv_init(struct kvm_module *mod)
{
	struct uv_cb_init uvcb = {
		.header.len = sizeof(uvcb),
		.header.cmd = UVC_CMD_INIT_UV,
	};
	int cc, ret;

	ret = kvm_stor_alloc_aligned(mod, NULL, mod->info.uv_base_stor_len,
				     UV_INIT_STOR_ALIGN, PAGE_USE_DONATED,
				     &mod->uv_stor);
	if (ret)
		return ret;
	uvcb.stor_origin = kvm_stor_paddr(mod, &mod->uv_stor);
	uvcb.stor_len = mod->uv_stor.nr << HW_PAGE_SHIFT;
	cc = uv_call_sched(mod->uv, &uvcb.header);
	lpv_trace("PV INIT UV: origin %llx len %llx cc %d rc %x rrc %x",
		  (unsigned long long)uvcb.stor_origin,
		  (unsigned long long)uvcb.stor_len, cc, uvcb.header.rc,
		  uvcb.header.rrc);
	if (cc) {
		kvm_stor_free(mod, &mod->uv_stor);
		return -ENODEV;
	}
	return 0;
}

int kvm_module_create(struct mm_world *world, struct uv *uv,
		      const struct kvm_params *params,
		      struct kvm_module **out)
{
	struct kvm_module *mod;
	int ret;

	*out = NULL;
	mod = calloc(1, sizeof(*mod));
	if (!mod)
		return -ENOMEM;
	mod->world = world;
	mod->hw = mm_world_hw(world);
	mod->uv = uv;
	if (params) {
		mod->params = *params;
	} else {
		ret = kvm_params_init(&mod->params);
		if (ret)
			goto out_free;
	}
	ret = uv_query_info(uv, &mod->info);
	if (ret)
		goto out_free;
	mod->has_misc = uv_info_has_feature(&mod->info, BIT_UV_FEAT_MISC);
	mod->has_fast = uv_info_has_call(&mod->info,
					 BIT_UVC_CMD_DESTROY_SEC_CONF_FAST);
	ret = kvm_uv_init(mod);
	if (ret)
		goto out_free;
	kvm_cleanup_threads_init(mod);
	ret = kvm_instant_init(mod);
	if (ret)
		goto out_uv;
	mm_arch_register(world, &kvm_arch_ops, mod);
	hw_pgm_register(mod->hw, HW_PGM_NON_SECURE_STORAGE_ACCESS, kvm_pgm_3e, mod);
	hw_pgm_register(mod->hw, HW_PGM_SECURE_STORAGE_VIOLATION, kvm_pgm_3f, mod);
	*out = mod;
	return 0;

out_uv:
	lpv_cond_deinit(&mod->cleanup_done);
	lpv_mutex_deinit(&mod->cleanup_lock);
	uv_machine_reset(mod->uv);
	kvm_stor_free(mod, &mod->uv_stor);
out_free:
	free(mod);
	return ret;
}

/*
 * Unload: the UV keeps its base storage until the machine's load-normal
 * reset (uv_machine_reset), after which the frames are ordinary again.
 */
void kvm_module_destroy(struct kvm_module *mod)
{
	if (!mod)
		return;
	BUG_ON(atomic_load_relaxed(&mod->nr_vms));
	kvm_module_drain(mod);
	kvm_instant_deinit(mod);
	hw_pgm_register(mod->hw, HW_PGM_NON_SECURE_STORAGE_ACCESS, NULL, NULL);
	hw_pgm_register(mod->hw, HW_PGM_SECURE_STORAGE_VIOLATION, NULL, NULL);
	mm_arch_register(mod->world, NULL, NULL);
	uv_machine_reset(mod->uv);
	kvm_stor_free(mod, &mod->uv_stor);
	lpv_cond_deinit(&mod->cleanup_done);
	lpv_mutex_deinit(&mod->cleanup_lock);
	free(mod);
}

const struct kvm_params *kvm_module_params(const struct kvm_module *mod)
{
	return &mod->params;
}

const struct uv_info *kvm_module_uv_info(const struct kvm_module *mod)
{
	return &mod->info;
}

uint64_t kvm_pv_donated_bytes(const struct kvm_module *mod,
			      uint64_t guest_len, unsigned int cpus)
{
	return mod->info.guest_base_stor_len +
	       uv_info_var_stor_len(&mod->info, guest_len) +
	       (uint64_t)cpus * mod->info.guest_cpu_stor_len;
}

const char *kvm_uvc_name(uint16_t cmd)
{
	return uv_cmd_name(cmd);
}

int kvm_uvc_errno(int cc, uint16_t rc)
{
	return uv_cc_errno(cc, rc);
}

struct uv *kvm_module_uv(const struct kvm_module *mod)
{
	return mod->uv;
}

int kvm_create_vm(struct kvm_module *mod, struct task *owner, struct kvm **out)
{
	struct kvm *kvm;
	struct page *sca;
	int ret;

	*out = NULL;
	kvm = calloc(1, sizeof(*kvm));
	if (!kvm)
		return -ENOMEM;
	kvm->mod = mod;
	kvm->owner = owner;
	kvm->users = 1;
	kvm->mm = task_get_mm(owner);
	if (!kvm->mm) {
		ret = -ESRCH;
		goto out_free;
	}
	ret = mm_page_alloc(mod->world, MM_GFP_KERNEL | MM_GFP_ZERO,
			    task_memcg(owner), &sca);
	if (ret)
		goto out_mmput;
	kvm->sca = sca;
	/* The VM keeps the struct mm, not the address space (mm_count). */
	mmgrab(kvm->mm);
	mmput(kvm->mm);
	lpv_mutex_init(&kvm->lock);
	atomic_add_relaxed(&mod->nr_vms, 1);
	kvm_stat_inc(mod, vms_created);
	*out = kvm;
	return 0;

out_mmput:
	mmput(kvm->mm);
out_free:
	free(kvm);
	return ret;
}

int kvm_set_memory(struct kvm *kvm, uint64_t guest_len, uintptr_t uaddr)
{
	int ret;

	lpv_mutex_lock(&kvm->lock);
	if (kvm->gmap)
		ret = -EEXIST;
	else if (!guest_len || guest_len & ~HW_PAGE_MASK || uaddr & ~HW_PAGE_MASK)
		ret = -EINVAL;
	else
		ret = gmap_create(kvm, guest_len, uaddr, &kvm->gmap);
	lpv_mutex_unlock(&kvm->lock);
	return ret;
}

void kvm_get(struct kvm *kvm)
{
	BUG_ON(atomic_add_return(&kvm->users, 1) <= 1);
}

void kvm_destroy_vm(struct kvm *kvm)
{
	struct kvm_module *mod;

	if (!kvm || atomic_sub_return(&kvm->users, 1) > 0)
		return;
	mod = kvm->mod;
	kvm_pv_deinit_cleanup_all(kvm);
	for (unsigned int i = 0; i < kvm->nr_vcpus; i++)
		kvm_vcpu_free(kvm->vcpus[i]);
	if (kvm->gmap)
		gmap_destroy(kvm->gmap);
	mm_page_put(mod->world, kvm->sca);
	mmdrop(kvm->mm);
	lpv_mutex_deinit(&kvm->lock);
	free(kvm);
	atomic_sub_relaxed(&mod->nr_vms, 1);
}

unsigned int kvm_module_nr_vms(const struct kvm_module *mod)
{
	return atomic_load_relaxed(&mod->nr_vms);
}

struct mm *kvm_mm(const struct kvm *kvm)
{
	return kvm->mm;
}

bool kvm_is_protected(const struct kvm *kvm)
{
	return READ_ONCE(kvm->pv.handle) != 0;
}

uint64_t kvm_pv_handle(const struct kvm *kvm)
{
	return READ_ONCE(kvm->pv.handle);
}

/* Acquire loads: a counter that is published with release order (the
 * drain's deferred_pages_freed) makes what came before it visible to
 * whoever read it here. */
void kvm_stats_get(const struct kvm_module *mod, struct kvm_stats *out)
{
#define KVM_STAT_COPY(name, desc) out->name = atomic_load_acquire(&mod->stats.name);
	KVM_STATS(KVM_STAT_COPY)
#undef KVM_STAT_COPY
}

void kvm_stats_print(const struct kvm_module *mod, FILE *f, bool json)
{
	struct kvm_stats st;
	bool first = true;

	kvm_stats_get(mod, &st);
	if (json) {
		fprintf(f, "{");
#define KVM_STAT_JSON(name, desc)					\
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", #name,	\
			(unsigned long long)st.name);			\
		first = false;
		KVM_STATS(KVM_STAT_JSON)
#undef KVM_STAT_JSON
		fprintf(f, "}");
		return;
	}
	fprintf(f, "kvm:\n");
#define KVM_STAT_TEXT(name, desc) \
	fprintf(f, "  %-22s %12llu  %s\n", #name, (unsigned long long)st.name, desc);
	KVM_STATS(KVM_STAT_TEXT)
#undef KVM_STAT_TEXT
	(void)first;
}
