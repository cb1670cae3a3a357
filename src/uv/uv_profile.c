// SPDX-License-Identifier: MIT
/*
 * uv_profile.c - the firmware profile: which calls the UV has, what each
 * costs, its feature bits, QUI sizes and limits, and injected failures.
 * Owns the one table of options with defaults and ranges, the built-in
 * profiles and the file parser; the per-command keys (call.<name>,
 * cost.<name>) and default costs come from the command list, UV_CMDS.
 *
 * Nothing here is shared mutable state: profiles are plain values, copied
 * into a UV at uv_create() and never changed afterwards, so any thread may
 * use these functions.
 *
 * IBM publishes no per-call cost of any UVC (see docs/uv.md): every
 * default cost (UV_CMDS in uv.h) is a stated assumption of this project, chosen to be
 * of the order of a few microseconds per page call (a firmware call, a 4 KiB
 * clear or AES pass and table updates) and tens of microseconds for
 * lifecycle calls.  The "zero" profile removes them all.
 */
#include "uv_internal.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the option table ---- */

enum uv_opt_type { OPT_SIZE, OPT_NS, OPT_U64, OPT_BOOL };

struct uv_opt {
	const char *name;
	enum uv_opt_type type;
	size_t off, width;	/* into struct uv_profile */
	uint64_t def, min, max;
	const char *desc;
};

#define OPT(n, t, field, d, lo, hi, text)				\
	{ n, t, offsetof(struct uv_profile, field),			\
	  sizeof(((struct uv_profile *)0)->field), d, lo, hi, text }

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define TiB (1024ULL * GiB)

static const struct uv_opt uv_opts[] = {
	OPT("qui.uv_base_stor_len", OPT_SIZE, uv_base_stor_len, 1 * MiB,
	    HW_PAGE_SIZE, 1 * TiB, "storage donated at INIT_UV"),
	OPT("qui.conf_base_phys_stor_len", OPT_SIZE, conf_base_phys_stor_len,
	    16 * KiB, HW_PAGE_SIZE, 1 * GiB, "base storage per configuration"),
	OPT("qui.conf_base_virt_stor_len", OPT_SIZE, conf_base_virt_stor_len,
	    16 * KiB, 0, 1 * GiB, "fixed part of variable storage"),
	OPT("qui.conf_virt_var_stor_len", OPT_SIZE, conf_virt_var_stor_len,
	    128, 0, 1 * MiB, "variable storage per 1 MiB of guest storage"),
	OPT("qui.cpu_stor_len", OPT_SIZE, cpu_stor_len, 8 * KiB, HW_PAGE_SIZE,
	    64 * MiB, "storage donated per secure CPU"),
	OPT("qui.max_num_sec_conf", OPT_U64, max_num_sec_conf, 64, 1, 65535,
	    "maximum number of secure configurations"),
	OPT("qui.max_guest_stor_addr", OPT_SIZE, max_guest_stor_addr, 1 * TiB,
	    1 * MiB, 1ULL << 52, "largest guest address + 1 (MSO + MSL limit)"),
	OPT("qui.max_guest_cpu_id", OPT_U64, max_guest_cpu_id, 247, 0, 4095,
	    "largest secure CPU number"),
	OPT("destroy_batch", OPT_U64, destroy_batch, 512, 1, 1ULL << 30,
	    "pages cleaned per DESTROY_SEC_CONF call before cc 3"),
	OPT("destroy_conf_page_ns", OPT_NS, destroy_conf_page_ns, 300, 0,
	    1000000000, "modelled cost per page cleaned by DESTROY_SEC_CONF"),
	OPT("nonsecure_call_ns", OPT_NS, nonsecure_call_ns, 100, 0, 1000000000,
	    "modelled cost of an export/destroy of a non-secure page"),
	OPT("nonsecure_noop", OPT_BOOL, nonsecure_noop, 1, 0, 1,
	    "export/destroy of a non-secure page succeeds (else rc 0x107/0x0d)"),
	OPT("init_min_origin", OPT_SIZE, init_min_origin, 2 * GiB, 0,
	    1ULL << 52, "INIT_UV storage must start at or above this"),
};

static void opt_set(struct uv_profile *p, const struct uv_opt *o, uint64_t v)
{
	char *f = (char *)p + o->off;

	switch (o->width) {
	case 1: *(bool *)f = v != 0; break;
	case 2: *(uint16_t *)f = (uint16_t)v; break;
	case 4: *(uint32_t *)f = (uint32_t)v; break;
	default: *(uint64_t *)f = v; break;
	}
}

static uint64_t opt_get(const struct uv_profile *p, const struct uv_opt *o)
{
	const char *f = (const char *)p + o->off;

	switch (o->width) {
	case 1: return *(const bool *)f;
	case 2: return *(const uint16_t *)f;
	case 4: return *(const uint32_t *)f;
	default: return *(const uint64_t *)f;
	}
}

static void profile_defaults(struct uv_profile *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "default");
	for (size_t i = 0; i < ARRAY_SIZE(uv_opts); i++)
		opt_set(p, &uv_opts[i], uv_opts[i].def);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		p->installed[i] = true;
		p->cost_ns[i] = uv_cmds[i].default_cost_ns;
	}
	p->features = uv_bit_mask(BIT_UV_FEAT_MISC);
}

int uv_profile_builtin(const char *name, struct uv_profile *out)
{
	profile_defaults(out);
	if (strcmp(name, "default") == 0)
		return 0;
	if (strcmp(name, "zero") == 0) {
		/* Only real work remains: clears, crypto, table updates. */
		for (int i = 0; i < UV_NR_CMDS; i++)
			out->cost_ns[i] = 0;
		out->destroy_conf_page_ns = 0;
		out->nonsecure_call_ns = 0;
		snprintf(out->name, sizeof(out->name), "zero");
		return 0;
	}
	if (strcmp(name, "old") == 0) {
		/* Firmware before MISC and DESTROY_SEC_CONF_FAST: KVM must
		 * export before import and destroy configs the long way;
		 * destroying a non-secure page reports 0x107/0x0d. */
		out->features = 0;
		out->installed[UV_IDX_DESTROY_CONF_FAST] = false;
		out->nonsecure_noop = false;
		snprintf(out->name, sizeof(out->name), "old");
		return 0;
	}
	return -ENOENT;
}

/* ---- parsing ---- */

struct parse {
	const char *origin;
	unsigned int line;
	char *err;
	size_t errlen;
};

static int perr(struct parse *ps, const char *fmt, ...) __printf_like(2, 3);
static int perr(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->errlen)
		return -EINVAL;
	n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->origin, ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* "1500", "1500ns", "1.5us", "2ms", "1s" -> ns */
static int parse_ns(const char *s, uint64_t *out)
{
	static const struct { const char *sfx; double mul; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1 },
	};
	char *end;
	double v;

	if (!*s || *s == '-' || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	v = strtod(s, &end);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].sfx) == 0) {
			v *= units[i].mul;
			if (!(v >= 0 && v < 1.8e19))
				return -ERANGE;
			*out = (uint64_t)llround(v);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "yes") ||
	    !strcmp(s, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "no") ||
	    !strcmp(s, "false")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* inject = <cmd> nth=N | prob=P [seed=S] rc=RC [rrc=RRC] [cc=1|2] */
static int parse_inject(struct parse *ps, struct uv_profile *p, char *v)
{
	struct uv_inject inj = { .cc = 1 };
	bool have_rc = false, have_when = false;
	char *save = NULL, *tok;
	int idx;

	if (p->nr_inject >= UV_PROFILE_MAX_INJECT)
		return perr(ps, "more than %d inject lines",
			    UV_PROFILE_MAX_INJECT);
	tok = strtok_r(v, " \t", &save);
	if (!tok)
		return perr(ps, "inject: missing command name");
	idx = uv_cmd_lookup(tok);
	if (idx < 0)
		return perr(ps, "inject: unknown command '%s'", tok);
	inj.cmd = uv_cmds[idx].cmd;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		uint64_t n;

		if (!eq)
			return perr(ps, "inject: expected key=value, got '%s'",
				    tok);
		*eq++ = '\0';
		if (!strcmp(tok, "prob")) {
			char *end;

			inj.prob = strtod(eq, &end);
			if (*end || !(inj.prob > 0 && inj.prob <= 1))
				return perr(ps, "inject: prob must be in (0, 1]");
			have_when = true;
			continue;
		}
		if (parse_u64(eq, &n))
			return perr(ps, "inject: bad number '%s' for %s", eq,
				    tok);
		if (!strcmp(tok, "nth")) {
			if (n == 0)
				return perr(ps, "inject: nth counts from 1");
			inj.nth = n;
			have_when = true;
		} else if (!strcmp(tok, "seed")) {
			inj.seed = n;
		} else if (!strcmp(tok, "rc") || !strcmp(tok, "rrc")) {
			if (n > 0xffff)
				return perr(ps, "inject: %s 0x%llx above 0xffff",
					    tok, (unsigned long long)n);
			if (!strcmp(tok, "rc")) {
				if (n == 0 || n == UVC_RC_EXECUTED)
					return perr(ps, "inject: rc must be an error rc");
				inj.rc = (uint16_t)n;
				have_rc = true;
			} else {
				inj.rrc = (uint16_t)n;
			}
		} else if (!strcmp(tok, "cc")) {
			if (n != 1 && n != 2)
				return perr(ps, "inject: cc must be 1 or 2");
			inj.cc = (uint8_t)n;
		} else {
			return perr(ps, "inject: unknown key '%s'", tok);
		}
	}
	if (!have_when)
		return perr(ps, "inject: needs nth= or prob=");
	if (inj.nth && inj.prob > 0)
		return perr(ps, "inject: nth= and prob= exclude each other");
	if (inj.cc == 1 && !have_rc)
		return perr(ps, "inject: cc 1 needs rc=");
	p->inject[p->nr_inject++] = inj;
	return 0;
}

static int parse_kv(struct parse *ps, struct uv_profile *p, const char *key,
		    char *val, bool first)
{
	uint64_t n;
	bool b;
	int idx;

	if (!strcmp(key, "base")) {
		char name[UV_PROFILE_NAME_LEN];

		if (!first)
			return perr(ps, "'base' must be the first setting");
		snprintf(name, sizeof(name), "%s", p->name);
		if (uv_profile_builtin(val, p))
			return perr(ps, "unknown built-in profile '%s' "
				    "(default, zero, old)", val);
		snprintf(p->name, sizeof(p->name), "%s", name);
		return 0;
	}
	if (!strcmp(key, "name")) {
		if (strlen(val) >= UV_PROFILE_NAME_LEN)
			return perr(ps, "name longer than %d characters",
				    UV_PROFILE_NAME_LEN - 1);
		snprintf(p->name, sizeof(p->name), "%s", val);
		return 0;
	}
	if (!strcmp(key, "inject"))
		return parse_inject(ps, p, val);
	if (!strcmp(key, "feature.misc")) {
		if (parse_bool(val, &b))
			return perr(ps, "feature.misc: expected on/off, got '%s'",
				    val);
		if (b)
			p->features |= uv_bit_mask(BIT_UV_FEAT_MISC);
		else
			p->features &= ~uv_bit_mask(BIT_UV_FEAT_MISC);
		return 0;
	}
	if (!strncmp(key, "call.", 5) || !strncmp(key, "cost.", 5)) {
		idx = uv_cmd_lookup(key + 5);
		if (idx < 0)
			return perr(ps, "unknown command '%s' in '%s'", key + 5,
				    key);
		if (key[1] == 'a') {
			if (parse_bool(val, &b))
				return perr(ps, "%s: expected on/off, got '%s'",
					    key, val);
			if (!b && (idx == UV_IDX_QUI))
				return perr(ps, "%s: QUI cannot be removed", key);
			p->installed[idx] = b;
		} else {
			if (parse_ns(val, &n) || n > 1000000000ULL)
				return perr(ps, "%s: expected a duration up to 1s "
					    "(ns/us/ms), got '%s'", key, val);
			p->cost_ns[idx] = n;
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(uv_opts); i++) {
		const struct uv_opt *o = &uv_opts[i];
		int r = 0;

		if (strcmp(o->name, key))
			continue;
		switch (o->type) {
		case OPT_SIZE: r = lpv_parse_size(val, &n); break;
		case OPT_NS: r = parse_ns(val, &n); break;
		case OPT_U64: r = parse_u64(val, &n); break;
		case OPT_BOOL: r = parse_bool(val, &b); n = !r && b; break;
		}
		if (r)
			return perr(ps, "%s: bad value '%s'", key, val);
		if (n < o->min || n > o->max)
			return perr(ps, "%s: %llu outside [%llu, %llu]", key,
				    (unsigned long long)n,
				    (unsigned long long)o->min,
				    (unsigned long long)o->max);
		if ((o->off == offsetof(struct uv_profile, uv_base_stor_len) ||
		     o->off == offsetof(struct uv_profile, conf_base_phys_stor_len) ||
		     o->off == offsetof(struct uv_profile, conf_base_virt_stor_len) ||
		     o->off == offsetof(struct uv_profile, cpu_stor_len)) &&
		    (n & (HW_PAGE_SIZE - 1)))
			return perr(ps, "%s: must be a multiple of 4 KiB", key);
		opt_set(p, o, n);
		return 0;
	}
	return perr(ps, "unknown option '%s'", key);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int uv_profile_parse(const char *text, const char *origin,
		     struct uv_profile *out, char *err, size_t errlen)
{
	struct parse ps = { origin ? origin : "profile", 0, err, errlen };
	struct uv_profile p;
	const char *s = text;
	bool first = true;
	char line[512];

	if (errlen)
		err[0] = '\0';
	profile_defaults(&p);
	snprintf(p.name, sizeof(p.name), "custom");
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *l, *eq, *hash;
		int r;

		ps.line++;
		if (n >= sizeof(line))
			return perr(&ps, "line longer than %zu characters",
				    sizeof(line) - 1);
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (nl ? 1 : 0);
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		l = trim(line);
		if (!*l)
			continue;
		eq = strchr(l, '=');
		if (!eq)
			return perr(&ps, "expected 'key = value', got '%s'", l);
		*eq = '\0';
		r = parse_kv(&ps, &p, trim(l), trim(eq + 1), first);
		if (r)
			return r;
		first = false;
	}
	*out = p;
	return 0;
}

/* A profile file is text of at most this many bytes. */
#define UV_PROFILE_MAX_BYTES (1U << 20)

/*
 * Read @path whole into a NUL-terminated buffer: refused if it is a
 * directory, holds a NUL byte (binary, or /dev/zero) or is longer than
 * UV_PROFILE_MAX_BYTES, with the byte (1-based) and line where that
 * happens.  Reads in pieces so that an endless device stops at once.
 */
static int profile_read(const char *path, char **textp, char *err,
			size_t errlen)
{
	size_t len = 0, cap = UV_PROFILE_MAX_BYTES + 1;
	unsigned int line = 1;
	struct stat st;
	char *text;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		lpv_seterr(err, errlen, "%s: not a built-in profile (default, "
			   "zero, old) and cannot be opened: %s", path,
			   strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		lpv_seterr(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		lpv_seterr(err, errlen, "%s: is a directory, not a profile file",
			   path);
		goto out_close;
	}
	text = malloc(cap + 1);
	if (!text) {
		ret = -ENOMEM;
		lpv_seterr(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, cap - len);
		const char *nul;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			lpv_seterr(err, errlen, "%s: read: %s", path,
				   strerror(-ret));
			break;
		}
		nul = memchr(text + len, '\0', (size_t)n);
		for (const char *q = text + len; q < (nul ? nul : text + len + n); q++)
			line += *q == '\n';
		if (nul) {
			ret = -EINVAL;
			lpv_seterr(err, errlen, "%s:%u: NUL byte at byte %zu "
				   "(a profile is text)", path, line,
				   (size_t)(nul - text) + 1);
			break;
		}
		len += (size_t)n;
		if (len > UV_PROFILE_MAX_BYTES) {
			/* the line the first byte too many is on */
			line -= text[UV_PROFILE_MAX_BYTES] == '\n';
			ret = -EFBIG;
			lpv_seterr(err, errlen, "%s:%u: byte %u is beyond the "
				   "%u bytes (1 MiB) a profile may hold", path,
				   line, UV_PROFILE_MAX_BYTES + 1,
				   UV_PROFILE_MAX_BYTES);
			break;
		}
		if (!n)
			break;
	}
	if (ret) {
		free(text);
		goto out_close;
	}
	text[len] = '\0';
	*textp = text;
out_close:
	close(fd);
	return ret;
}

int uv_profile_load(const char *name_or_path, struct uv_profile *out,
		    char *err, size_t errlen)
{
	char *text = NULL;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (!name_or_path)
		name_or_path = getenv("LAZYPV_UV_PROFILE");
	if (!name_or_path || !*name_or_path)
		name_or_path = "default";
	if (uv_profile_builtin(name_or_path, out) == 0)
		return 0;
	ret = profile_read(name_or_path, &text, err, errlen);
	if (ret)
		return ret;
	ret = uv_profile_parse(text, name_or_path, out, err, errlen);
	free(text);
	return ret;
}

/* The shortest text of @v that strtod reads back as @v. */
static const char *exact_double(double v, char *buf, size_t len)
{
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/* In file syntax: what this prints parses back to the same profile. */
void uv_profile_print(const struct uv_profile *p, FILE *f)
{
	fprintf(f, "name = %s\n", p->name);
	fprintf(f, "feature.misc = %s\n",
		p->features & uv_bit_mask(BIT_UV_FEAT_MISC) ? "on" : "off");
	for (size_t i = 0; i < ARRAY_SIZE(uv_opts); i++) {
		const struct uv_opt *o = &uv_opts[i];
		uint64_t v = opt_get(p, o);

		if (o->type == OPT_BOOL)
			fprintf(f, "%s = %s", o->name, v ? "on" : "off");
		else if (o->type == OPT_NS)
			fprintf(f, "%s = %lluns", o->name, (unsigned long long)v);
		else
			fprintf(f, "%s = %llu", o->name, (unsigned long long)v);
		fprintf(f, "\t# %s [%llu..%llu]\n", o->desc,
			(unsigned long long)o->min, (unsigned long long)o->max);
	}
	for (int i = 0; i < UV_NR_CMDS; i++)
		fprintf(f, "call.%s = %s\ncost.%s = %lluns\n", uv_cmds[i].name,
			p->installed[i] ? "on" : "off", uv_cmds[i].name,
			(unsigned long long)p->cost_ns[i]);
	for (unsigned int i = 0; i < p->nr_inject; i++) {
		const struct uv_inject *in = &p->inject[i];

		fprintf(f, "inject = %s", uv_cmd_name(in->cmd));
		if (in->nth) {
			fprintf(f, " nth=%llu", (unsigned long long)in->nth);
		} else {
			char prob[32];

			fprintf(f, " prob=%s seed=%llu",
				exact_double(in->prob, prob, sizeof(prob)),
				(unsigned long long)in->seed);
		}
		/* A busy injection (cc 2) may have no rc: "rc=0" would not
		 * parse back. */
		fprintf(f, " cc=%u", in->cc);
		if (in->rc)
			fprintf(f, " rc=0x%x", in->rc);
		fprintf(f, " rrc=0x%x\n", in->rrc);
	}
}
