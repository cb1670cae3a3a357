// SPDX-License-Identifier: MIT
/*
 * pv_cmd.c - the KVM_PV_* command dispatch and the one place where a VM's
 * teardown design is chosen (kvm_s390_handle_pv, kvm_arch_destroy_vm).
 *
 * kvm_pv_designs[] says, per enum kvm_destroy_mode, everything that
 * differs between the designs: the module parameter that fences it and
 * the mode it falls back to, whether ENABLE registers the mmu-notifier
 * release and whether that release fast-destroys the configuration, what
 * exit_mmap does with a secure page, the order of the synchronous
 * teardown, the teardown of the running configuration (synchronous, or
 * handed to destroy.c's lazy engine), and whether DISABLE and the VM
 * teardown dispose of everything (async).  The engines -- pv.c's
 * primitives and synchronous teardown, destroy.c's lazy and async ones,
 * uvhost.c's unmap hook -- are callees: they take what was decided as
 * arguments or find it in the mm context set at ENABLE, and never look at
 * the mode.
 *
 * Locking: every command runs under kvm->lock except
 * ASYNC_CLEANUP_PERFORM, which takes it itself in short sections; the
 * mode is written under kvm->lock and fixed while the VM is protected.
 */
#include "kvm_internal.h"

#include <errno.h>
#include <string.h>

static const char *const kvm_destroy_names[KVM_DESTROY_NR_MODES] = {
#define KVM_DESTROY_NAME(id, name, desc) [KVM_DESTROY_##id] = name,
	KVM_DESTROY_MODES(KVM_DESTROY_NAME)
#undef KVM_DESTROY_NAME
};

static int kvm_pv_deinit_sync(struct kvm *kvm, uint16_t *rc, uint16_t *rrc);

static bool kvm_lazy_allowed(const struct kvm_params *p)
{
	return p->lazy_destroy != 0;
}

static bool kvm_async_allowed(const struct kvm_params *p)
{
	return p->async_destroy != 0;
}

static bool kvm_instant_allowed(const struct kvm_params *p)
{
	return p->instant_destroy != 0;
}

struct kvm_pv_design {
	/* NULL: always available; else the module parameter that allows
	 * it, and what that kernel does without the feature. */
	bool (*allowed)(const struct kvm_params *p);
	enum kvm_destroy_mode fallback;
	/* ENABLE registers the mmu-notifier release (6.0 on), which destroys
	 * the CPUs at exit_mmap; @release_fast: and DESTROY_SEC_CONF_FAST's
	 * the configuration where the UV has it (6.2). */
	bool mmu_release;
	bool release_fast;
	/* What exit_mmap does with a page of the protected mm. */
	enum kvm_pv_teardown exit_teardown;
	/* The synchronous teardown: DESTROY_SEC_CONF before the walk. */
	bool config_first;
	/* The running configuration's teardown, its CPUs gone (DISABLE,
	 * a failed ENABLE, the VM's teardown). */
	int (*deinit)(struct kvm *kvm, uint16_t *rc, uint16_t *rrc);
	/* DISABLE and the VM teardown dispose of everything instead: the
	 * running config, the set-aside one, the leftovers; the
	 * ASYNC_CLEANUP_* commands are accepted. */
	bool cleanup_all;
	/* ENABLE calls @enable first; the VM teardown calls @vm_close
	 * instead of the above, protected or not (instant.c). */
	void (*enable)(struct kvm *kvm);
	void (*vm_close)(struct kvm *kvm);
};

static const struct kvm_pv_design kvm_pv_designs[KVM_DESTROY_NR_MODES] = {
	[KVM_DESTROY_SYNC] = {
		.exit_teardown = KVM_TEARDOWN_EXPORT,
		.config_first = false,
		.deinit = kvm_pv_deinit_sync,
	},
	[KVM_DESTROY_SYNC_60] = {
		.mmu_release = true,
		.exit_teardown = KVM_TEARDOWN_DESTROY,
		.config_first = true,
		.deinit = kvm_pv_deinit_sync,
	},
	[KVM_DESTROY_LAZY] = {
		.allowed = kvm_lazy_allowed,
		.fallback = KVM_DESTROY_SYNC,	/* v2's deinit_vm_now */
		.exit_teardown = KVM_TEARDOWN_SET_ASIDE,
		.config_first = false,		/* its NEED_DESTROY path */
		.deinit = kvm_pv_deinit_vm_deferred,
	},
	[KVM_DESTROY_ASYNC] = {
		.allowed = kvm_async_allowed,
		.fallback = KVM_DESTROY_SYNC_60, /* a 6.2 kernel's DISABLE */
		.mmu_release = true,
		.release_fast = true,
		.exit_teardown = KVM_TEARDOWN_DESTROY,
		.config_first = true,		/* a failed ENABLE */
		.deinit = kvm_pv_deinit_sync,
		.cleanup_all = true,
	},
	/* lazypv's own (docs/instant.md), not a reference design. */
	[KVM_DESTROY_INSTANT] = {
		.allowed = kvm_instant_allowed,
		.fallback = KVM_DESTROY_ASYNC,	/* the newest real design */
		.exit_teardown = KVM_TEARDOWN_INSTANT,
		.config_first = true,		/* fallbacks: no record memory */
		.deinit = kvm_instant_disable,
		.enable = kvm_instant_enable,
		.vm_close = kvm_instant_vm_close,
	},
};

static const struct kvm_pv_design *kvm_pv_design(const struct kvm *kvm)
{
	return &kvm_pv_designs[kvm->mode];
}

const char *kvm_destroy_mode_name(enum kvm_destroy_mode mode)
{
	return (unsigned int)mode < KVM_DESTROY_NR_MODES ?
	       kvm_destroy_names[mode] : "?";
}

int kvm_destroy_mode_parse(const char *name)
{
	for (int i = 0; i < KVM_DESTROY_NR_MODES; i++)
		if (!strcmp(name, kvm_destroy_names[i]))
			return i;
	return -EINVAL;
}

/* The synchronous teardown, in the order of the VM's kernel. */
static int kvm_pv_deinit_sync(struct kvm *kvm, uint16_t *rc, uint16_t *rrc)
{
	return kvm_pv_deinit_vm_order(kvm, kvm_pv_design(kvm)->config_first,
				      rc, rrc);
}

static int kvm_pv_enable(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct kvm_pv_design *d = kvm_pv_design(kvm);
	uint16_t drc, drrc;
	int ret;

	if (kvm->pv.handle)
		return -EINVAL;
	if (!kvm->gmap)
		return -EINVAL;
	if (d->enable)
		d->enable(kvm);
	if (d->mmu_release) {
		ret = kvm_pv_mmu_notifier_register(kvm, d->release_fast);
		if (ret)
			return ret;
	}
	ret = kvm_pv_init_vm(kvm, d->config_first, &cmd->rc, &cmd->rrc);
	if (ret)
		return ret;
	/* pv_sync_destroy starts clear only where exit_mmap sets pages
	 * aside (v2: the cleanup thread sets it once it is the last user). */
	kvm_pv_set_exit_teardown(kvm, d->exit_teardown,
				 d->exit_teardown != KVM_TEARDOWN_SET_ASIDE);
	ret = kvm_pv_cpus_to_pv(kvm, &cmd->rc, &cmd->rrc);
	if (!ret)
		return 0;
	/* v2 defers this teardown too (one of its three callers). */
	ignore_result(d->deinit(kvm, &drc, &drrc));
	return ret;
}

/*
 * KVM_PV_DISABLE: only for a VM running a protected guest.  If a CPU
 * cannot be destroyed, destroying the VM would fail too: stop there and
 * report that CPU's rc/rrc (every mode).  Then the mode's teardown.
 */
static int kvm_pv_disable(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct kvm_pv_design *d = kvm_pv_design(kvm);
	int ret;

	if (!kvm->pv.handle)
		return -EINVAL;
	ret = kvm_pv_cpus_from_pv(kvm, &cmd->rc, &cmd->rrc);
	if (ret)
		return ret;
	if (d->cleanup_all)
		return kvm_pv_deinit_cleanup_all_locked(kvm, &cmd->rc, &cmd->rrc);
	return d->deinit(kvm, &cmd->rc, &cmd->rrc);
}

int kvm_pv_command(struct kvm *kvm, struct kvm_pv_cmd *cmd)
{
	const struct kvm_params *p = &kvm->mod->params;
	int ret;

	cmd->rc = cmd->rrc = 0;
	if (cmd->flags)
		return -EINVAL;
	lpv_mutex_lock(&kvm->lock);
	switch (cmd->cmd) {
	case KVM_PV_ENABLE:
		ret = kvm_pv_enable(kvm, cmd);
		break;
	case KVM_PV_DISABLE:
		ret = kvm_pv_disable(kvm, cmd);
		break;
	case KVM_PV_SET_SEC_PARMS:
		ret = kvm_pv_set_sec_parms(kvm, cmd);
		break;
	case KVM_PV_UNPACK:
		ret = kvm_pv_unpack(kvm, cmd);
		break;
	case KVM_PV_VERIFY:
		ret = kvm_pv_nodata(kvm, cmd, UVC_CMD_VERIFY_IMG);
		break;
	case KVM_PV_PREP_RESET:
		ret = kvm_pv_nodata(kvm, cmd, UVC_CMD_PREPARE_RESET);
		break;
	case KVM_PV_UNSHARE_ALL:
		ret = kvm_pv_nodata(kvm, cmd, UVC_CMD_SET_UNSHARE_ALL);
		break;
	case KVM_PV_INFO:
		ret = kvm_pv_info(kvm, cmd);
		break;
	case KVM_PV_ASYNC_CLEANUP_PREPARE:
		if (!p->async_destroy || !kvm_pv_design(kvm)->cleanup_all)
			ret = -EINVAL;
		else
			ret = kvm_pv_async_prepare(kvm, &cmd->rc, &cmd->rrc);
		break;
	case KVM_PV_ASYNC_CLEANUP_PERFORM:
		/* The one command not run under kvm->lock. */
		lpv_mutex_unlock(&kvm->lock);
		if (!p->async_destroy)
			return -EINVAL;
		return kvm_pv_async_perform(kvm, &cmd->rc, &cmd->rrc);
	default:
		ret = -EINVAL;	/* dump and the async commands: not (yet) */
		break;
	}
	lpv_mutex_unlock(&kvm->lock);
	return ret;
}

/* kvm_arch_destroy_vm: whatever protected state is left goes, in the
 * VM's mode (LAZY hands it to a thread; ASYNC disposes of leftovers). */
void kvm_pv_deinit_cleanup_all(struct kvm *kvm)
{
	const struct kvm_pv_design *d = kvm_pv_design(kvm);
	uint16_t rc, rrc;

	/*
	 * The release takes no lock ("the last thread of the last user"),
	 * but the last user may be another task -- the teardown helper the
	 * OOM killer took with the VMM -- exiting while this VM goes: it
	 * would destroy the CPUs and the config under our feet.  Unregister
	 * first (that waits for a running release): from here on the
	 * teardown alone decides, on the state the release left, if any.
	 */
	kvm_pv_mmu_notifier_unregister(kvm);
	lpv_mutex_lock(&kvm->lock);
	if (d->vm_close) {
		d->vm_close(kvm);
	} else if (d->cleanup_all) {
		ignore_result(kvm_pv_deinit_cleanup_all_locked(kvm, &rc, &rrc));
	} else if (kvm->pv.handle) {
		ignore_result(kvm_pv_cpus_from_pv(kvm, &rc, &rrc));
		ignore_result(d->deinit(kvm, &rc, &rrc));
	} else {
		/* No config, but an exit_mmap may have set pages of a config
		 * a reboot thread still owned aside, after that thread's
		 * drain (destroy.c, the thread's mmput). */
		kvm_pv_drain_stranded(kvm);
	}
	lpv_mutex_unlock(&kvm->lock);
}

int kvm_set_destroy_mode(struct kvm *kvm, enum kvm_destroy_mode mode)
{
	const struct kvm_params *p = &kvm->mod->params;
	const struct kvm_pv_design *d;
	int ret;

	if ((unsigned int)mode >= KVM_DESTROY_NR_MODES)
		return -EINVAL;
	/* The fences: what that kernel does without the feature. */
	d = &kvm_pv_designs[mode];
	while (d->allowed && !d->allowed(p)) {	/* instant -> async -> 6.0 */
		mode = d->fallback;
		d = &kvm_pv_designs[mode];
	}
	lpv_mutex_lock(&kvm->lock);
	if (kvm->pv.handle || kvm->set_aside || kvm->need_cleanup) {
		ret = -EBUSY;
	} else {
		kvm->mode = mode;
		ret = (int)mode;
	}
	lpv_mutex_unlock(&kvm->lock);
	return ret;
}

enum kvm_destroy_mode kvm_destroy_mode(const struct kvm *kvm)
{
	return kvm->mode;
}

bool kvm_pv_has_set_aside(struct kvm *kvm)
{
	bool ret;

	lpv_mutex_lock(&kvm->lock);
	ret = kvm->set_aside != NULL;
	lpv_mutex_unlock(&kvm->lock);
	return ret;
}

bool kvm_cap_protected_async_disable(const struct kvm_module *mod)
{
	return mod->params.async_destroy != 0;
}
