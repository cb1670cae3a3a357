// SPDX-License-Identifier: MIT
/* fixture.c - see fixture.h. */
#include "fixture.h"

#include <stdlib.h>

#include "lib/lib.h"

#define MIB (1ULL << 20)

static void kfix_exit_files(void *ctx)
{
	struct kfix *f = ctx;

	/* The VM fd's last close, after exit_mm: kvm_arch_destroy_vm. */
	kvm_destroy_vm(f->kvm);
	f->kvm = NULL;
	f->vm_gone = true;
}

void kfix_init(struct kfix *f, const struct kfix_opts *o)
{
	struct hw_config hc = { 0 };
	struct uv_params up = { 0 };
	struct uv_profile prof;

	memset(f, 0, sizeof(*f));
	if (o)
		f->o = *o;
	if (!f->o.host_mem)
		f->o.host_mem = 64 * MIB;
	if (!f->o.guest_mem)
		f->o.guest_mem = 16 * MIB;
	if (!f->o.cpus)
		f->o.cpus = 1;
	if (!f->o.profile)
		f->o.profile = "zero";
	hc.mem_bytes = f->o.host_mem;
	/* Boot order, as src/host/ does it: machine, UV, mm, KVM. */
	ASSERT_OK(hw_machine_create(&hc, &f->hw));
	ASSERT_OK(uv_profile_builtin(f->o.profile, &prof));
	prof.init_min_origin = 0;	/* small test machines */
	if (f->o.destroy_page_ns)
		prof.cost_ns[uv_cmd_index(UVC_CMD_DESTR_SEC_STOR)] =
			f->o.destroy_page_ns;
	if (f->o.no_fast)
		prof.installed[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF_FAST)] = false;
	if (f->o.no_misc)
		prof.features &= ~uv_bit_mask(BIT_UV_FEAT_MISC);
	for (int i = 0; i < 4 && f->o.inject[i].cmd; i++)
		prof.inject[prof.nr_inject++] = f->o.inject[i];
	up.hw = f->hw;
	up.profile = &prof;
	ASSERT_OK(uv_create(&up, &f->uv));
	{
		struct mm_config mc;

		ASSERT_OK(mm_config_init(&mc));
		if (f->o.oom_wait_ms)
			mc.oom_wait_ms = f->o.oom_wait_ms;
		ASSERT_OK(mm_world_create(f->hw, &mc, &f->world));
	}
	ASSERT_OK(kvm_module_create(f->world, f->uv, f->o.params, &f->mod));
	ASSERT_OK(memcg_create(f->world, "vmm", 0, &f->memcg));
	ASSERT_OK(task_create(f->world, NULL, NULL, 0, &f->shell));
	ASSERT_OK(task_create(f->world, f->shell, f->memcg, 0, &f->vmm));
	f->mm = task_get_mm(f->vmm);
	ASSERT_NOT_NULL(f->mm);
	ASSERT_OK(mm_mmap(f->mm, f->o.guest_mem, MM_PROT_READ | MM_PROT_WRITE,
			  &f->ram));
	ASSERT_OK(kvm_create_vm(f->mod, f->vmm, &f->kvm));
	f->mode = kvm_set_destroy_mode(f->kvm, f->o.mode);
	ASSERT_GE(f->mode, 0);
	ASSERT_OK(kvm_set_memory(f->kvm, f->o.guest_mem, f->ram));
	for (unsigned int i = 0; i < f->o.cpus; i++)
		ASSERT_OK(kvm_vcpu_create(f->kvm, i, &f->vcpu[i]));
	task_set_exit_files(f->vmm, kfix_exit_files, f);
}

void kfix_boot_protected(struct kfix *f)
{
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_ENABLE };
	struct uv_image_builder *b;
	uint8_t pub[UV_HOST_KEY_LEN];
	const uint64_t psw[2] = { 0, KFIX_IMAGE_GADDR };
	uint8_t page[HW_PAGE_SIZE];
	uint8_t hdr[8192];
	size_t hlen = sizeof(hdr);
	struct kvm_s390_pv_sec_parm parm;
	struct kvm_s390_pv_unp unp = {
		.addr = KFIX_IMAGE_GADDR,
		.size = KFIX_IMAGE_PAGES * HW_PAGE_SIZE,
		.tweak = 0x42,
	};

	ASSERT_OK(kvm_pv_command(f->kvm, &cmd));
	ASSERT_TRUE(kvm_is_protected(f->kvm));
	uv_host_key_public(f->uv, pub);
	ASSERT_OK(uv_image_builder_create((const uint8_t (*)[UV_HOST_KEY_LEN])pub,
					  1, psw, &b));
	for (uint64_t i = 0; i < KFIX_IMAGE_PAGES; i++) {
		uint64_t tweak[2] = { 0x42, i * HW_PAGE_SIZE };

		memset(page, (int)(0xa0 + i), sizeof(page));
		ASSERT_OK(uv_image_builder_add_page(b, KFIX_IMAGE_GADDR + i * HW_PAGE_SIZE,
						    tweak, page, page));
		/* The VMM loads the encrypted image into guest memory. */
		ASSERT_OK(mm_access(f->mm, f->ram + KFIX_IMAGE_GADDR + i * HW_PAGE_SIZE,
				    page, sizeof(page), true));
	}
	ASSERT_OK(uv_image_builder_header(b, hdr, &hlen));
	uv_image_builder_destroy(b);
	parm.origin = (uint64_t)(uintptr_t)hdr;
	parm.length = hlen;
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_SET_SEC_PARMS, .data = &parm };
	ASSERT_OK(kvm_pv_command(f->kvm, &cmd));
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_UNPACK, .data = &unp };
	ASSERT_OK(kvm_pv_command(f->kvm, &cmd));
	cmd = (struct kvm_pv_cmd){ .cmd = KVM_PV_VERIFY };
	ASSERT_OK(kvm_pv_command(f->kvm, &cmd));
	for (unsigned int i = 0; i < f->o.cpus; i++) {
		uint16_t rc, rrc;

		ASSERT_OK(kvm_vcpu_pv_set_state(f->vcpu[i], PV_CPU_STATE_OPR_LOAD,
						&rc, &rrc));
	}
}

int kfix_run(struct kfix *f, unsigned int cpu, kvm_guest_fn fn, void *ctx,
	     struct kvm_run *run)
{
	int ret;

	ASSERT_OK(task_thread_enter(f->vmm));
	ret = kvm_vcpu_run(f->vcpu[cpu], fn, ctx, run);
	task_thread_leave(f->vmm);
	return ret;
}

int kfix_disable(struct kfix *f)
{
	struct kvm_pv_cmd cmd = { .cmd = KVM_PV_DISABLE };

	return kvm_pv_command(f->kvm, &cmd);
}

void kfix_shutdown(struct kfix *f)
{
	int code = -1;

	if (f->mm) {
		mmput(f->mm);
		f->mm = NULL;
	}
	ASSERT_OK(task_exit(f->vmm, 0));
	ASSERT_OK(task_wait(f->vmm, &code));
	ASSERT_EQ(code, 0);
	ASSERT_TRUE(f->vm_gone);	/* exit_files ran before the wait returned */
	f->vmm = NULL;
}

uint64_t kfix_fini(struct kfix *f)
{
	struct memcg_stats ms;
	struct mm_stats st;
	uint64_t leaked = 0;

	if (f->vmm)
		kfix_shutdown(f);
	kvm_module_drain(f->mod);
	ASSERT_OK(task_exit(f->shell, 0));
	ASSERT_OK(task_wait(f->shell, NULL));
	ASSERT_OK(mm_check(f->world));
	ASSERT_OK(uv_check(f->uv));
	ASSERT_OK(hw_check(f->hw));
	mm_stats_get(f->world, &st);
	for (int r = 0; r < MM_LEAK_NR; r++)
		leaked += st.leaked[r];
	/* Nothing in use but the UV's INIT storage and counted leaks. */
	ASSERT_UEQ(st.use[PAGE_USE_ANON], 0);
	ASSERT_UEQ(st.use[PAGE_USE_PENDING], 0);
	/* Leaked frames stay charged to the VMM's memcg; nothing else does. */
	memcg_stats_get(f->memcg, &ms);
	ASSERT_UEQ(ms.usage, ms.leaked);
	ASSERT_LE(ms.leaked, leaked);
	ASSERT_OK(memcg_destroy(f->memcg));
	kvm_module_destroy(f->mod);
	ASSERT_OK(mm_check(f->world));
	mm_stats_get(f->world, &st);
	ASSERT_UEQ(st.use[PAGE_USE_DONATED], 0);
	mm_world_destroy(f->world);
	uv_destroy(f->uv);
	ASSERT_OK(hw_check(f->hw));
	hw_machine_destroy(f->hw);
	return leaked;
}

static uint8_t pattern_byte(uint64_t seed, uint64_t page, size_t off)
{
	return seed ? (uint8_t)((seed * 131 + page * 7 + off) | 1) : 0;
}

int kfix_pattern_guest(void *ctx, struct kvm_vcpu *vcpu, struct kvm_run *run)
{
	struct kfix_pattern *p = ctx;
	uint8_t buf[HW_PAGE_SIZE];
	int ret;

	p->result = 0;
	for (uint64_t i = 0; i < p->pages; i++) {
		uint64_t ga = p->gaddr + i * HW_PAGE_SIZE;

		if (p->write) {
			for (size_t o = 0; o < sizeof(buf); o++)
				buf[o] = pattern_byte(p->seed, i, o);
			ret = kvm_guest_write(vcpu, ga, buf, sizeof(buf));
			if (ret)
				return p->result = ret;
		}
		ret = kvm_guest_read(vcpu, ga, buf, sizeof(buf));
		if (ret)
			return p->result = ret;
		for (size_t o = 0; o < sizeof(buf); o++) {
			if (buf[o] != pattern_byte(p->seed, i, o)) {
				p->result = -EILSEQ;
				p->bad_page = i;
				break;
			}
		}
		if (p->result)
			break;
	}
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}

void kfix_touch(struct kfix *f, uint64_t gaddr, uint64_t pages, uint64_t seed,
		bool write)
{
	struct kfix_pattern p = { .gaddr = gaddr, .pages = pages, .seed = seed,
				  .write = write };
	struct kvm_run run;

	ASSERT_OK(kfix_run(f, 0, kfix_pattern_guest, &p, &run));
	if (p.result)
		test_fail(__FILE__, __LINE__, "pattern at %#llx: %d (page %llu)",
			  (unsigned long long)gaddr, p.result,
			  (unsigned long long)p.bad_page);
}

struct kvm_stats kfix_kstats(struct kfix *f)
{
	struct kvm_stats st;

	kvm_stats_get(f->mod, &st);
	return st;
}

int kfix_pv_cmd(struct kfix *f, uint32_t id, uint16_t *rc, uint16_t *rrc)
{
	struct kvm_pv_cmd cmd = { .cmd = id };
	int ret = kvm_pv_command(f->kvm, &cmd);

	if (rc)
		*rc = cmd.rc;
	if (rrc)
		*rrc = cmd.rrc;
	return ret;
}

struct page *kfix_ram_page(struct kfix *f, uint64_t gaddr)
{
	struct page *page;

	ASSERT_OK(mm_get_user_page(f->mm, f->ram + gaddr, false, &page));
	return page;
}

struct uv_frame_info kfix_frame_info(struct kfix *f, uint64_t gaddr)
{
	struct page *page = kfix_ram_page(f, gaddr);
	struct uv_frame_info fi;

	ASSERT_OK(uv_frame_query(f->uv, mm_page_to_pfn(f->world, page), &fi));
	mm_page_put(f->world, page);
	return fi;
}

enum uv_frame_state kfix_frame_state(struct kfix *f, uint64_t gaddr,
				     uint64_t *owner)
{
	struct uv_frame_info fi = kfix_frame_info(f, gaddr);

	if (owner)
		*owner = fi.guest_handle;
	return fi.state;
}

void kfix_map_side(struct kfix *f, uint64_t pages)
{
	uintptr_t a;

	ASSERT_OK(mm_mmap(f->mm, pages * HW_PAGE_SIZE,
			  MM_PROT_READ | MM_PROT_WRITE, &a));
	for (uint64_t i = 0; i < pages; i++)
		ASSERT_OK(mm_fault(f->mm, a + i * HW_PAGE_SIZE, true, NULL));
}

void *kfix_hog_thread(void *arg)
{
	struct kfix_hog *h = arg;
	struct mm *mm;
	uintptr_t addr;

	if (task_thread_enter(h->task)) {
		h->result = -ESRCH;
		return NULL;
	}
	mm = task_get_mm(h->task);
	h->result = mm_mmap(mm, h->pages * HW_PAGE_SIZE,
			    MM_PROT_READ | MM_PROT_WRITE, &addr);
	for (uint64_t i = 0; !h->result && i < h->pages; i++) {
		h->result = mm_fault(mm, addr + i * HW_PAGE_SIZE, true, NULL);
		if (!h->result)
			h->got++;
	}
	mmput(mm);
	task_thread_leave(h->task);
	return NULL;
}

void kfix_hold_free(struct kfix *f, unsigned int gfp, struct kfix_held *h)
{
	size_t cap = f->o.host_mem / HW_PAGE_SIZE;

	h->n = 0;
	h->pages = calloc(cap, sizeof(*h->pages));
	ASSERT_NOT_NULL(h->pages);
	while (h->n < cap && mm_page_alloc(f->world, gfp | MM_GFP_NOWARN, NULL,
					   &h->pages[h->n]) == 0)
		h->n++;
	ASSERT_LT(h->n, cap);
}

void kfix_release_held(struct kfix *f, struct kfix_held *h)
{
	for (size_t i = 0; i < h->n; i++)
		mm_page_put(f->world, h->pages[i]);
	free(h->pages);
	h->pages = NULL;
	h->n = 0;
}

int kfix_normal_guest_read(void *ctx, struct kvm_vcpu *vcpu,
			   struct kvm_run *run)
{
	struct kfix_pattern *p = ctx;
	uint8_t buf[64];

	ASSERT_FALSE(kvm_guest_is_protected(vcpu));
	p->result = kvm_guest_read(vcpu, p->gaddr, buf, sizeof(buf));
	run->reason = KVM_EXIT_POWEROFF;
	return 0;
}
