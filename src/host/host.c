// SPDX-License-Identifier: MIT
/*
 * host.c - the host stack brought up in boot order and torn down in
 * reverse: the machine (hw), the Ultravisor with its firmware profile and
 * a host key derived from a seed, the host memory manager, the KVM module
 * (QUI, INIT_UV, its arch hooks and handlers), and a "shell" task that
 * every VMM is forked from.  Also the configuration's defaults, the
 * firmware profiles, and the accessors the layers above use.
 *
 * Boot order follows the dependencies: the UV models firmware that exists
 * before any host kernel (it needs only the machine); the memory manager
 * owns the frames the UV does not; the KVM module needs both (INIT_UV
 * donates frames the mm gives it).  Teardown is the reverse, one cleanup
 * label per layer, named after what it undoes.
 *
 * The host key: images are encrypted for the public half of the UV's
 * private host key.  Deriving that key from a seed string
 * (vmm_host_key_from_seed) lets `lazypv mkimage --uv-seed S` build, in
 * another process, an image that `lazypv run --uv-seed S --image F` can
 * boot -- the role the machine's published host-key document plays for
 * IBM's genprotimg.  The private half lives only on the stack of
 * host_create() and inside the UV.
 *
 * Created and destroyed by one thread; the fields are read-only between.
 */
#include "host_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration and profiles ---- */

int host_config_init(struct host_config *cfg)
{
	int ret, r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_bytes = HOST_DEFAULT_MEM;
	cfg->protect = HW_PROTECT_AUTO;
	BUG_ON(uv_profile_builtin("default", &cfg->profile));
	ret = mm_config_init(&cfg->mm);		/* names the variable */
	r = kvm_params_init(&cfg->kvm);
	return ret ? ret : r;
}

void host_config_print(const struct host_config *cfg, FILE *f)
{
	mm_config_print(&cfg->mm, f);
	kvm_params_print(&cfg->kvm, f);
}

int host_profile_load(const char *name_or_file, struct uv_profile *out,
		      char *err, size_t errlen)
{
	char perr[200] = "";
	int r = uv_profile_load(name_or_file, out, perr, sizeof(perr));

	if (r) {
		if (perr[0])
			lpv_seterr(err, errlen, "%s", perr);
		else
			lpv_seterr(err, errlen, "%s: %s",
				   name_or_file ? name_or_file : "(default)",
				   strerror(-r));
	}
	return r;
}

int host_profile_builtin(const char *name, struct uv_profile *out)
{
	return uv_profile_builtin(name, out);
}

int host_profile_parse(const char *text, const char *origin,
		       struct uv_profile *out, char *err, size_t errlen)
{
	return uv_profile_parse(text, origin, out, err, errlen);
}

void host_profile_print(const struct uv_profile *p, FILE *f)
{
	uv_profile_print(p, f);
}

bool host_profile_init_fits(const struct uv_profile *p, uint64_t mem_bytes)
{
	return uv_profile_init_fits(p, mem_bytes, NULL);
}

uint64_t host_profile_cost_ns(const struct uv_profile *p, uint16_t cmd)
{
	int i = uv_cmd_index(cmd);

	return i < 0 ? 0 : p->cost_ns[i];
}

const char *host_uv_cmd_name(uint16_t cmd)
{
	return uv_cmd_index(cmd) < 0 ? "?" : uv_cmd_name(cmd);
}

/* The user's words for the protection modes (hw_protect_mode_name says
 * more). */
static const char *const host_protect_names[] = {
	[HW_PROTECT_AUTO] = "auto",
	[HW_PROTECT_GUARD] = "guard",
	[HW_PROTECT_SOFT] = "soft",
};

int host_protect_mode_parse(const char *s, enum hw_protect_mode *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(host_protect_names); i++)
		if (!strcmp(s, host_protect_names[i])) {
			*out = (enum hw_protect_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *host_protect_mode_name(enum hw_protect_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(host_protect_names) ?
	       host_protect_names[mode] : "?";
}

uint64_t host_backable_bytes(void)
{
	return hw_backable_bytes();
}

/* ---- the stack ---- */

int host_create(const struct host_config *cfg, struct host **out, char *err,
		size_t errlen)
{
	struct hw_config hwcfg = { .mem_bytes = cfg->mem_bytes,
				   .protect = cfg->protect,
				   .populate = cfg->populate,
				   .populate_progress = cfg->populate_progress,
				   .populate_ctx = cfg->populate_ctx };
	uint8_t priv[UV_HOST_KEY_LEN];
	struct uv_params up = { 0 };
	const char *what;
	struct host *h;
	int r;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	h->cfg.uv_seed = NULL;		/* the caller's string is not kept */

	what = "machine";
	r = hw_machine_create(&hwcfg, &h->hw);
	if (r)
		goto fail_free;

	vmm_host_key_from_seed(cfg->uv_seed, priv);
	up.hw = h->hw;
	up.profile = &h->cfg.profile;
	up.host_key = priv;
	what = "Ultravisor";
	r = uv_create(&up, &h->uv);
	explicit_bzero(priv, sizeof(priv));
	if (r)
		goto undo_machine;
	uv_host_key_public(h->uv, h->host_pub);

	what = "host memory manager";
	r = mm_world_create(h->hw, &h->cfg.mm, &h->world);
	if (r)
		goto undo_uv;

	what = "KVM module";
	r = kvm_module_create(h->world, h->uv, &h->cfg.kvm, &h->kvm);
	if (r && cfg->pv_optional) {
		h->kvm = NULL;
		r = 0;
	}
	if (r)
		goto undo_world;

	what = "shell task";
	r = task_create(h->world, NULL, NULL, 0, &h->shell);
	if (r)
		goto undo_kvm;
	h->env = (struct vmm_env){ .world = h->world, .kvm = h->kvm,
				   .shell = h->shell };
	*out = h;
	return 0;

undo_kvm:
	kvm_module_destroy(h->kvm);
undo_world:
	mm_world_destroy(h->world);
undo_uv:
	uv_destroy(h->uv);
undo_machine:
	hw_machine_destroy(h->hw);
fail_free:
	lpv_seterr(err, errlen, "cannot create the %s: %s", what, strerror(-r));
	free(h);
	return r;
}

void host_destroy(struct host *h)
{
	if (!h)
		return;
	/* The shell has no threads: its exit runs here; reap it. */
	if (!task_exit(h->shell, 0))
		BUG_ON(task_wait(h->shell, NULL));
	kvm_module_destroy(h->kvm);
	mm_world_destroy(h->world);
	uv_destroy(h->uv);
	hw_machine_destroy(h->hw);
	free(h);
}

int host_check(struct host *h)
{
	int r = mm_check(h->world);

	if (!r)
		r = uv_check(h->uv);
	if (!r)
		r = hw_check(h->hw);
	return r;
}

void host_drain(struct host *h)
{
	if (h->kvm)
		kvm_module_drain(h->kvm);
}

/* ---- accessors ---- */

const struct vmm_env *host_vmm_env(const struct host *h)
{
	return h->kvm ? &h->env : NULL;
}

bool host_has_pv(const struct host *h)
{
	return h->kvm != NULL;
}

const struct host_config *host_config(const struct host *h)
{
	return &h->cfg;
}

const struct uv_profile *host_profile(const struct host *h)
{
	return &h->cfg.profile;
}

const uint8_t *host_public_key(const struct host *h)
{
	return h->host_pub;
}

uint64_t host_mem_bytes(const struct host *h)
{
	return hw_mem_bytes(h->hw);
}

uint64_t host_nr_frames(const struct host *h)
{
	return hw_nr_frames(h->hw);
}

enum hw_protect_mode host_protect_mode(const struct host *h)
{
	return hw_protect_mode(h->hw);
}

struct hw_machine *host_hw(const struct host *h)
{
	return h->hw;
}

struct uv *host_uv(const struct host *h)
{
	return h->uv;
}

struct mm_world *host_world(const struct host *h)
{
	return h->world;
}

struct kvm_module *host_kvm(const struct host *h)
{
	return h->kvm;
}
