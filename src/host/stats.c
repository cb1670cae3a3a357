// SPDX-License-Identifier: MIT
/*
 * stats.c - one statistics snapshot of every layer, declared once
 * (HOST_STAT_SECTIONS in host.h, over the layers' own counter lists) and
 * printed from that declaration as text or as JSON (jansson; the keys are
 * the field names, stable across releases).
 *
 * Each layer's counters are read under that layer's locks by its own
 * *_stats_get; the snapshot is not one instant across layers.  No lock of
 * its own.
 */
#include "host_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

void host_stats_get(struct host *h, struct host_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->mem_bytes = hw_mem_bytes(h->hw);
	out->protect = hw_protect_mode(h->hw);
	out->pv_host = h->kvm != NULL;
	snprintf(out->profile, sizeof(out->profile), "%s", h->cfg.profile.name);
	hw_stats_get(h->hw, &out->machine);
	uv_stats_get(h->uv, &out->uv);
	mm_stats_get(h->world, &out->mm);
	if (h->kvm)
		kvm_stats_get(h->kvm, &out->kvm);
}

uint64_t host_stall_quantile_ns(const struct host_stats *st, double q)
{
	return mm_stall_quantile_ns(&st->mm, q);
}

void host_uv_stats_get(struct host *h, struct uv_stats *out)
{
	uv_stats_get(h->uv, out);
}

unsigned int host_cleanups_running(struct host *h)
{
	/* The module's count includes instant's jobs. */
	return h->kvm ? kvm_module_cleanups_running(h->kvm) : 0;
}

void host_hw_stats_get(struct host *h, struct hw_stats *out)
{
	hw_stats_get(h->hw, out);
}

void host_probe_first_touch(struct host *h, bool on)
{
	hw_probe_first_touch(h->hw, on);
}

void host_uv_cmd_stats(const struct uv_stats *st, uint16_t cmd,
		       struct uv_cmd_stats *out)
{
	int i = uv_cmd_index(cmd);

	if (i < 0)
		memset(out, 0, sizeof(*out));
	else
		*out = st->cmd[i];
}

const char *host_leak_reason_name(unsigned int reason)
{
	return mm_leak_reason_name((enum mm_leak_reason)reason);
}

/* ---- the arrays that follow a section's fields ---- */

/* The fields of one UV command's counters, for text and JSON alike. */
#define HOST_UV_CMD_FIELDS(X)						\
	X(calls) X(cc0) X(cc1) X(cc2) X(cc3) X(ns) X(data_ns) X(nonsecure)

struct uv_cmd_flat {
#define UV_CMD_FLAT_FIELD(name) uint64_t name;
	HOST_UV_CMD_FIELDS(UV_CMD_FLAT_FIELD)
#undef UV_CMD_FLAT_FIELD
};

static void uv_cmd_flatten(const struct uv_cmd_stats *c, struct uv_cmd_flat *f)
{
	*f = (struct uv_cmd_flat){
		.calls = c->calls, .cc0 = c->cc[0], .cc1 = c->cc[1],
		.cc2 = c->cc[2], .cc3 = c->cc[3], .ns = c->ns,
		.data_ns = c->data_ns, .nonsecure = c->nonsecure,
	};
}

static void extras_text(const struct host_stats *st, const char *key, FILE *f)
{
	if (!strcmp(key, "mm")) {
		for (unsigned int i = 0; i < PAGE_USE_NR; i++)
			fprintf(f, "  use.%-20s %14" PRIu64 "  frames in this use now\n",
				page_use_name((enum page_use)i), st->mm.use[i]);
		for (unsigned int i = 0; i < MM_LEAK_NR; i++)
			fprintf(f, "  leaked.%-17s %14" PRIu64 "  frames leaked for this reason\n",
				mm_leak_reason_name((enum mm_leak_reason)i),
				st->mm.leaked[i]);
	} else if (!strcmp(key, "uv")) {
		for (int i = 0; i < UV_NR_CMDS; i++) {
			const struct uv_cmd_stats *c = &st->uv.cmd[i];

			if (!c->calls)
				continue;
			fprintf(f, "  cmd.%-20s %14" PRIu64 "  calls (cc0 %" PRIu64
				", cc1 %" PRIu64 ", cc2 %" PRIu64 ", cc3 %" PRIu64
				"), %" PRIu64 " ns inside\n",
				uv_cmd_name(uv_cmd_code(i)), c->calls, c->cc[0],
				c->cc[1], c->cc[2], c->cc[3], c->ns);
		}
	}
}

static int extras_json(const struct host_stats *st, const char *key,
		       json_t *sec)
{
	json_t *o;
	int r = 0;

	if (!strcmp(key, "mm")) {
		o = json_object();
		for (unsigned int i = 0; o && i < PAGE_USE_NR; i++)
			r |= json_object_set_new(o, page_use_name((enum page_use)i),
						 json_integer((json_int_t)st->mm.use[i]));
		r |= json_object_set_new(sec, "use", o);
		o = json_object();
		for (unsigned int i = 0; o && i < MM_LEAK_NR; i++)
			r |= json_object_set_new(o,
				mm_leak_reason_name((enum mm_leak_reason)i),
				json_integer((json_int_t)st->mm.leaked[i]));
		r |= json_object_set_new(sec, "leaked", o);
	} else if (!strcmp(key, "uv")) {
		o = json_object();
		for (int i = 0; o && i < UV_NR_CMDS; i++) {
			struct uv_cmd_flat fl;
			json_t *c;

			if (!st->uv.cmd[i].calls)
				continue;
			uv_cmd_flatten(&st->uv.cmd[i], &fl);
			c = json_object();
#define UV_CMD_JSON(name) \
			r |= json_object_set_new(c, #name, json_integer((json_int_t)fl.name));
			if (c) {
				HOST_UV_CMD_FIELDS(UV_CMD_JSON)
			}
#undef UV_CMD_JSON
			r |= json_object_set_new(o, uv_cmd_name(uv_cmd_code(i)), c);
		}
		r |= json_object_set_new(sec, "cmd", o);
	}
	return r ? -ENOMEM : 0;
}

/* ---- the sections, from the list ---- */

#define STAT_TEXT(name, desc)						\
	fprintf(f, "  %-24s %14" PRIu64 "  %s\n", #name, (uint64_t)s->name, desc);

#define SECTION_TEXT(key, type, counters, gauges, title)		\
	if (strcmp(#key, "kvm") || st->pv_host) {			\
		const type *s = &st->key;				\
									\
		fprintf(f, "%s (%s):\n", title, #key);			\
		counters(STAT_TEXT)					\
		gauges(STAT_TEXT)					\
		extras_text(st, #key, f);				\
	}

void host_stats_print(const struct host_stats *st, FILE *f)
{
	HOST_STAT_SECTIONS(SECTION_TEXT)
}

#define STAT_JSON(name, desc)						\
	r |= json_object_set_new(sec, #name, json_integer((json_int_t)s->name));

#define SECTION_JSON(key, type, counters, gauges, title)		\
	if (strcmp(#key, "kvm") || st->pv_host) {			\
		const type *s = &st->key;				\
		json_t *sec = json_object();				\
									\
		if (!sec)						\
			goto fail;					\
		counters(STAT_JSON)					\
		gauges(STAT_JSON)					\
		r |= extras_json(st, #key, sec);			\
		r |= json_object_set_new(root, #key, sec);		\
	}

json_t *host_stats_json(const struct host_stats *st)
{
	json_t *root = json_object();
	int r = 0;

	if (!root)
		return NULL;
	r |= json_object_set_new(root, "host_mem",
				 json_integer((json_int_t)st->mem_bytes));
	r |= json_object_set_new(root, "protection",
				 json_string(host_protect_mode_name(st->protect)));
	r |= json_object_set_new(root, "pv_host", json_boolean(st->pv_host));
	r |= json_object_set_new(root, "profile", json_string(st->profile));
	HOST_STAT_SECTIONS(SECTION_JSON)
	if (!r)
		return root;
fail:
	json_decref(root);
	return NULL;
}
