// SPDX-License-Identifier: MIT
/*
 * cmdline.c - command-line option tables (see cmdline.h): getopt_long's
 * arrays built from a table, values parsed and range-checked into the
 * command's options struct, one-line errors, --help text and man page
 * roff.  getopt's globals are the only state; single-threaded.
 */
#include "cmdline.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define CL_MAX_OPTS 63
#define CL_VAL_BASE 256		/* getopt vals of options without a short name */
#define CL_WIDTH 79		/* help text wraps here */
#define CL_HELP_COL 24		/* where option help starts */

struct lpv_cl_buf {
	struct lpv_cl_buf *next;
	char s[];
};

/* ---- formatting values ---- */

/* "64M", "3G", "4097" (bytes): exact, as a user would type it. */
static const char *cl_size_str(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v % (1024ULL << (10 * (u + 1)))))
		u++;
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v >> (10 * (u + 1)), units[u]);
	return buf;
}

static uint64_t cl_load_uint(const void *p, size_t size)
{
	if (size == sizeof(uint64_t))
		return *(const uint64_t *)p;
	return *(const unsigned int *)p;
}

static void cl_store_uint(void *p, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t))
		*(uint64_t *)p = v;
	else
		*(unsigned int *)p = (unsigned int)v;
}

static const char *cl_metavar(const struct lpv_cl_opt *o)
{
	if (o->metavar)
		return o->metavar;
	switch (o->kind) {
	case LPV_CL_UINT: return "N";
	case LPV_CL_SIZE: return "SIZE";
	case LPV_CL_LIST: return "LIST";
	case LPV_CL_ENUM: return "MODE";
	default: return "STRING";
	}
}

static bool cl_takes_arg(const struct lpv_cl_opt *o)
{
	return o->kind != LPV_CL_FLAG;
}

/* "lazypv run", or the program alone ("lazypv-bench"). */
static const char *cl_title(const struct lpv_cl_cmd *cmd, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", cmd->prog, cmd->name ? " " : "",
		 cmd->name ? cmd->name : "");
	return buf;
}

/* -h asks for the help too, unless the table has an -h of its own. */
static bool cl_short_help(const struct lpv_cl_cmd *cmd)
{
	for (size_t i = 0; i < cmd->nr_opts; i++)
		if (cmd->opts[i].short_name == 'h')
			return false;
	return true;
}

/* "a, b or c" (@last_sep " or "), or "a,b,c" (@last_sep ","). */
static void cl_names(const struct lpv_cl_opt *o, char *buf, size_t len,
		     const char *sep, const char *last_sep)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < o->nr && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      !i ? "" : i + 1 == o->nr ? last_sep : sep,
				      o->name_of(i));
}

/* ---- parsing values ---- */

/* Decimal, or hexadecimal after 0x; no sign, no spaces. */
static int cl_parse_uint(const char *s, uint64_t *out)
{
	int base = 10;
	char *end;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)) {
		base = 16;
		s += 2;
	}
	if (!*s || !(base == 16 ? strchr("0123456789abcdefABCDEF", *s)
				: strchr("0123456789", *s)))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

static int cl_range_error(const struct lpv_cl_opt *o, const char *what,
			  bool size, char *err, size_t errlen)
{
	char a[32], b[32];

	if (size && o->max)
		lpv_seterr(err, errlen, "%s is out of range (%s..%s)", what,
			   cl_size_str(o->min, a, sizeof(a)),
			   cl_size_str(o->max, b, sizeof(b)));
	else if (size)
		lpv_seterr(err, errlen, "%s is out of range (at least %s)",
			   what, cl_size_str(o->min, a, sizeof(a)));
	else
		lpv_seterr(err, errlen, "%s is out of range (%" PRIu64 "..%" PRIu64 ")",
			   what, o->min, o->max ? o->max : UINT64_MAX);
	return -ERANGE;
}

/*
 * One value of @kind (an option's, or a list item's) into @out (a
 * uint64_t, or an unsigned int for ENUM).  @what is how the message names
 * it ("'12Q'", "item 2 '12Q'").
 */
static int cl_parse_value(const struct lpv_cl_opt *o, enum lpv_cl_kind kind,
			  const char *arg, const char *what, uint64_t *out,
			  char *err, size_t errlen)
{
	char a[32], names[256];
	int r;

	switch (kind) {
	case LPV_CL_UINT:
		r = cl_parse_uint(arg, out);
		if (r == -EINVAL) {
			lpv_seterr(err, errlen, "%s is not a number", what);
			return r;
		}
		if (r || *out < o->min || (o->max && *out > o->max))
			return cl_range_error(o, what, false, err, errlen);
		return 0;
	case LPV_CL_SIZE:
		r = lpv_parse_size(arg, out);
		if (r == -ERANGE) {
			lpv_seterr(err, errlen, "%s is out of range (sizes end below 16 EiB)",
				   what);
			return r;
		}
		if (r) {
			lpv_seterr(err, errlen, "%s is not a size (bytes, or with K/M/G/T)",
				   what);
			return r;
		}
		if (*out < o->min || (o->max && *out > o->max))
			return cl_range_error(o, what, true, err, errlen);
		if (o->align && *out % o->align) {
			lpv_seterr(err, errlen, "%s is not a multiple of %s", what,
				   cl_size_str(o->align, a, sizeof(a)));
			return -EINVAL;
		}
		return 0;
	case LPV_CL_ENUM:
		for (unsigned int i = 0; i < o->nr; i++) {
			if (!strcmp(arg, o->name_of(i))) {
				*out = i;
				return 0;
			}
		}
		cl_names(o, names, sizeof(names), ", ", " or ");
		lpv_seterr(err, errlen, "%s is not %s", what, names);
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

static int cl_parse_list(const struct lpv_cl_opt *o, const char *arg,
			 void *opts, struct lpv_cl_result *res, char *err,
			 size_t errlen)
{
	size_t len = strlen(arg);
	struct lpv_cl_buf *b = malloc(sizeof(*b) + len + 1);
	char *rest, *tok, what[96];
	unsigned int n = 0;
	uint8_t *field = (uint8_t *)opts + o->off;
	int r;

	if (!b) {
		lpv_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(b->s, arg, len + 1);
	b->next = res->bufs;
	res->bufs = b;
	if (o->item == LPV_CL_ENUM)
		memset(field, 0, o->nr * sizeof(bool));
	rest = b->s;
	while ((tok = strsep(&rest, ","))) {
		uint64_t v;

		if (!*tok) {
			lpv_seterr(err, errlen, "item %u is empty", n + 1);
			return -EINVAL;
		}
		if (o->item != LPV_CL_ENUM && n == o->max_items) {
			lpv_seterr(err, errlen, "at most %u items", o->max_items);
			return -E2BIG;
		}
		snprintf(what, sizeof(what), "item %u '%.60s'", n + 1, tok);
		switch (o->item) {
		case LPV_CL_STRING:
			((const char **)field)[n] = tok;
			break;
		case LPV_CL_ENUM:
			r = cl_parse_value(o, o->item, tok, what, &v, err, errlen);
			if (r)
				return r;
			((bool *)field)[v] = true;
			break;
		default:
			r = cl_parse_value(o, o->item, tok, what, &v, err, errlen);
			if (r)
				return r;
			((uint64_t *)field)[n] = v;
			break;
		}
		n++;
	}
	if (o->item != LPV_CL_ENUM)
		*(unsigned int *)((uint8_t *)opts + o->count_off) = n;
	return 0;
}

static int cl_store(const struct lpv_cl_opt *o, const char *arg, void *opts,
		    struct lpv_cl_result *res, char *err, size_t errlen)
{
	void *field = (uint8_t *)opts + o->off;
	char what[96];
	uint64_t v;
	int r;

	snprintf(what, sizeof(what), "'%.80s'", arg ? arg : "");
	switch (o->kind) {
	case LPV_CL_FLAG:
		*(bool *)field = true;
		return 0;
	case LPV_CL_STRING:
		*(const char **)field = arg;
		return 0;
	case LPV_CL_LIST:
		return cl_parse_list(o, arg, opts, res, err, errlen);
	case LPV_CL_ENUM:
		r = cl_parse_value(o, o->kind, arg, what, &v, err, errlen);
		if (!r)
			*(int *)field = (int)v;
		return r;
	default:
		r = cl_parse_value(o, o->kind, arg, what, &v, err, errlen);
		if (!r)
			cl_store_uint(field, o->size, v);
		return r;
	}
}

/* ---- getopt's errors, naming the option as typed ---- */

/* The long option @name names: exact, or the only one it abbreviates;
 * @matches counts the options it abbreviates. */
static const struct option *cl_long_by_name(const struct option *longopts,
					    const char *name, size_t *matches)
{
	const struct option *found = NULL;
	size_t n = strlen(name);

	*matches = 0;
	for (const struct option *o = longopts; o->name; o++) {
		if (!strcmp(o->name, name)) {
			*matches = 1;
			return o;
		}
		if (!strncmp(o->name, name, n)) {
			found = o;
			(*matches)++;
		}
	}
	return *matches == 1 ? found : NULL;
}

static int cl_getopt_error(int c, char **argv, const struct option *longopts,
			   char *err, size_t errlen)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool is_long = arg && !strncmp(arg, "--", 2) && arg[2];
	char name[64] = "";
	size_t matches;

	if (is_long)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	if (c == ':') {
		if (is_long)
			lpv_seterr(err, errlen, "option %s needs a value", name);
		else
			lpv_seterr(err, errlen, "option -%c needs a value", optopt);
		return -EINVAL;
	}
	if (optopt) {
		const struct option *o = is_long ?
			cl_long_by_name(longopts, name + 2, &matches) : NULL;

		/* A known long flag given "=value" (optopt is its val). */
		if (o && o->val == optopt && o->has_arg == no_argument)
			lpv_seterr(err, errlen, "option %s takes no value, not '%s'",
				   name, arg + strlen(name) + 1);
		else
			lpv_seterr(err, errlen, "unknown option '-%c'", optopt);
		return -EINVAL;
	}
	if (is_long) {
		cl_long_by_name(longopts, name + 2, &matches);
		lpv_seterr(err, errlen, "%s option '%s'",
			   matches > 1 ? "ambiguous" : "unknown", name);
		return -EINVAL;
	}
	lpv_seterr(err, errlen, "unknown option '%s'", arg);
	return -EINVAL;
}

/* ---- the parse ---- */

int lpv_cl_parse(const struct lpv_cl_cmd *cmd, int argc, char **argv,
		 void *opts, struct lpv_cl_result *res, char *err,
		 size_t errlen)
{
	struct option longopts[CL_MAX_OPTS + 2];
	char shortopts[2 * CL_MAX_OPTS + 3] = ":";
	size_t ns = 1, nr = cmd->nr_opts;
	const int help_val = CL_VAL_BASE + CL_MAX_OPTS;
	int c, r = 0;

	memset(res, 0, sizeof(*res));
	if (nr > CL_MAX_OPTS) {
		lpv_seterr(err, errlen, "too many options in the table");
		return -E2BIG;
	}
	for (size_t i = 0; i < nr; i++) {
		const struct lpv_cl_opt *o = &cmd->opts[i];

		longopts[i] = (struct option){
			.name = o->name,
			.has_arg = cl_takes_arg(o) ? required_argument : no_argument,
			.val = o->short_name ? o->short_name : CL_VAL_BASE + (int)i,
		};
		if (o->short_name) {
			shortopts[ns++] = o->short_name;
			if (cl_takes_arg(o))
				shortopts[ns++] = ':';
		}
	}
	longopts[nr] = (struct option){ .name = "help", .val = help_val };
	longopts[nr + 1] = (struct option){ 0 };
	if (cl_short_help(cmd))
		shortopts[ns++] = 'h';
	shortopts[ns] = 0;

	/* 0, not 1: glibc then forgets a cluster a previous parse left
	 * half-read (it jumped out at an error). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct lpv_cl_opt *o = NULL;
		size_t i;

		if (c == help_val || (c == 'h' && cl_short_help(cmd))) {
			res->help = true;
			return 0;
		}
		for (i = 0; i < nr && !o; i++)
			if (longopts[i].val == c)
				o = &cmd->opts[i];
		if (!o)
			return cl_getopt_error(c, argv, longopts, err, errlen);
		i--;
		r = cl_store(o, optarg, opts, res, err ? err : NULL, errlen);
		if (r) {
			/* "--name: ..." with the message of the value. */
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", err ? err : "");
			lpv_seterr(err, errlen, "--%s: %s", o->name, msg);
			return r;
		}
		res->given |= 1ULL << i;
	}
	res->args = optind;
	if ((unsigned int)(argc - optind) > cmd->max_args) {
		lpv_seterr(err, errlen, "unexpected argument '%s'",
			   argv[optind + cmd->max_args]);
		return -EINVAL;
	}
	return 0;
}

void lpv_cl_release(struct lpv_cl_result *res)
{
	while (res->bufs) {
		struct lpv_cl_buf *b = res->bufs;

		res->bufs = b->next;
		free(b);
	}
}

void lpv_cl_verror(const struct lpv_cl_cmd *cmd, FILE *f, const char *fmt,
		   va_list ap)
{
	char title[128];

	cl_title(cmd, title, sizeof(title));
	fprintf(f, "%s: ", title);
	vfprintf(f, fmt, ap);
	fprintf(f, " (see '%s --help')\n", title);
}

void lpv_cl_error(const struct lpv_cl_cmd *cmd, FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lpv_cl_verror(cmd, f, fmt, ap);
	va_end(ap);
}

int lpv_cl_parse_main(const struct lpv_cl_cmd *cmd, int argc, char **argv,
		      void *opts, struct lpv_cl_result *res)
{
	char err[512];

	if (lpv_cl_parse(cmd, argc, argv, opts, res, err, sizeof(err))) {
		lpv_cl_error(cmd, stderr, "%s", err);
		return 2;
	}
	if (res->help) {
		lpv_cl_print_help(cmd, stdout);
		return 0;
	}
	return -1;
}

bool lpv_cl_given(const struct lpv_cl_cmd *cmd,
		  const struct lpv_cl_result *res, const char *name)
{
	for (size_t i = 0; i < cmd->nr_opts; i++)
		if (!strcmp(cmd->opts[i].name, name))
			return res->given & (1ULL << i);
	return false;
}

/* ---- help ---- */

/* "--name ARG" or "-o, --name ARG". */
static void cl_opt_label(const struct lpv_cl_opt *o, char *buf, size_t len)
{
	char sh[8] = "";

	if (o->short_name)
		snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
	snprintf(buf, len, "%s--%s%s%s", sh, o->name, cl_takes_arg(o) ? " " : "",
		 cl_takes_arg(o) ? cl_metavar(o) : "");
}

/* The default as the help states it, or "" for none. */
static void cl_default(const struct lpv_cl_cmd *cmd, const struct lpv_cl_opt *o,
		       char *buf, size_t len)
{
	const uint8_t *d;
	size_t n = 0;

	buf[0] = 0;
	if (o->def) {
		snprintf(buf, len, "%s", o->def);
		return;
	}
	if (!cmd->defaults)
		return;
	d = (const uint8_t *)cmd->defaults + o->off;
	switch (o->kind) {
	case LPV_CL_UINT:
		snprintf(buf, len, "%" PRIu64, cl_load_uint(d, o->size));
		break;
	case LPV_CL_SIZE:
		if (*(const uint64_t *)d)
			cl_size_str(*(const uint64_t *)d, buf, len);
		break;
	case LPV_CL_STRING:
		if (*(const char *const *)d)
			snprintf(buf, len, "%s", *(const char *const *)d);
		break;
	case LPV_CL_ENUM:
		snprintf(buf, len, "%s", o->name_of((unsigned int)*(const int *)d));
		break;
	case LPV_CL_LIST:
		if (o->item == LPV_CL_ENUM) {
			for (unsigned int i = 0; i < o->nr && n < len; i++)
				if (((const bool *)d)[i])
					n += (size_t)snprintf(buf + n, len - n, "%s%s",
							      n ? "," : "", o->name_of(i));
			break;
		}
		for (unsigned int i = 0;
		     i < *(const unsigned int *)((const uint8_t *)cmd->defaults +
						 o->count_off) && n < len; i++) {
			char s[32];
			const char *item = o->item == LPV_CL_STRING ?
				((const char *const *)d)[i] :
				o->item == LPV_CL_SIZE ?
				cl_size_str(((const uint64_t *)d)[i], s, sizeof(s)) :
				(snprintf(s, sizeof(s), "%" PRIu64,
					  ((const uint64_t *)d)[i]), s);

			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n ? "," : "", item);
		}
		break;
	default:
		break;
	}
}

/* The whole help text of an option: help, then values, range and default
 * in one parenthesis ("(one of: a, b; default: a)"). */
static void cl_opt_text(const struct lpv_cl_cmd *cmd, const struct lpv_cl_opt *o,
			char *buf, size_t len)
{
	enum lpv_cl_kind k = o->kind == LPV_CL_LIST ? o->item : o->kind;
	char def[256], names[256], a[32], b[32], facts[768] = "";
	size_t n = 0;

#define FACT(...) do {							\
		if (n < sizeof(facts))					\
			n += (size_t)snprintf(facts + n, sizeof(facts) - n, \
					      "%s", n ? "; " : "");	\
		if (n < sizeof(facts))					\
			n += (size_t)snprintf(facts + n, sizeof(facts) - n, \
					      __VA_ARGS__);		\
	} while (0)
	if (k == LPV_CL_ENUM && o->nr) {
		cl_names(o, names, sizeof(names), ", ", ", ");
		FACT("%s: %s", o->kind == LPV_CL_LIST ? "of" : "one of", names);
	}
	if (k == LPV_CL_UINT && (o->min || o->max))
		FACT("%" PRIu64 "..%" PRIu64, o->min, o->max ? o->max : UINT64_MAX);
	if (k == LPV_CL_SIZE && o->min && o->max)
		FACT("%s..%s", cl_size_str(o->min, a, sizeof(a)),
		     cl_size_str(o->max, b, sizeof(b)));
	else if (k == LPV_CL_SIZE && o->min > 1 && o->min != o->align)
		FACT("at least %s", cl_size_str(o->min, a, sizeof(a)));
	if (k == LPV_CL_SIZE && o->align)
		FACT("a multiple of %s", cl_size_str(o->align, a, sizeof(a)));
	if (o->kind == LPV_CL_LIST && k != LPV_CL_ENUM && o->max_items)
		FACT("up to %u items", o->max_items);
	cl_default(cmd, o, def, sizeof(def));
	if (def[0])
		FACT("default: %s", def);
#undef FACT
	snprintf(buf, len, "%s%s%s%s%s", o->help ? o->help : "",
		 o->help_more ? o->help_more() : "", facts[0] ? " (" : "",
		 facts, facts[0] ? ")" : "");
}

/*
 * @s from column @col (the cursor's), lines wrapped at CL_WIDTH and
 * continued at @indent; "\n" in @s breaks the line.
 */
static void cl_wrap(FILE *f, const char *s, int col, int indent)
{
	while (*s) {
		size_t w = strcspn(s, " \n");

		if (col > indent && col + 1 + (int)w > CL_WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, s);
		col += (int)w;
		s += w;
		if (*s == '\n') {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
			s++;
		}
		while (*s == ' ')
			s++;
	}
	fputc('\n', f);
}

void lpv_cl_print_usage(const struct lpv_cl_cmd *cmd, FILE *f)
{
	char head[160], title[128], label[320];
	int col;

	if (cmd->synopsis) {
		const char *s = cmd->synopsis;

		fprintf(f, "usage: ");
		for (; *s; s++) {
			fputc(*s, f);
			if (*s == '\n' && s[1])
				fprintf(f, "       ");
		}
		if (s[-1] != '\n')
			fputc('\n', f);
		return;
	}
	col = snprintf(head, sizeof(head), "usage: %s",
		       cl_title(cmd, title, sizeof(title)));
	fprintf(f, "%s", head);
	for (size_t i = 0; i <= cmd->nr_opts; i++) {
		const struct lpv_cl_opt *o = i < cmd->nr_opts ? &cmd->opts[i] : NULL;
		int w;

		if (!o) {
			if (!cmd->args)
				break;
			snprintf(label, sizeof(label), "%s", cmd->args);
		} else if (o->kind == LPV_CL_ENUM) {
			char names[256];

			cl_names(o, names, sizeof(names), "|", "|");
			snprintf(label, sizeof(label), "[--%s %s]", o->name, names);
		} else {
			snprintf(label, sizeof(label), "[--%s%s%s]", o->name,
				 cl_takes_arg(o) ? " " : "",
				 cl_takes_arg(o) ? cl_metavar(o) : "");
		}
		w = (int)strlen(label);
		if (col + 1 + w > CL_WIDTH) {
			fprintf(f, "\n%*s", (int)strlen(head), "");
			col = (int)strlen(head);
		}
		fprintf(f, " %s", label);
		col += 1 + w;
	}
	fputc('\n', f);
}

void lpv_cl_print_help(const struct lpv_cl_cmd *cmd, FILE *f)
{
	char label[96], text[2048];

	lpv_cl_print_usage(cmd, f);
	if (cmd->description) {
		fputc('\n', f);
		fprintf(f, "%s", cmd->description);
		if (cmd->description[strlen(cmd->description) - 1] != '\n')
			fputc('\n', f);
	}
	fprintf(f, "\noptions:\n");
	for (size_t i = 0; i <= cmd->nr_opts; i++) {
		const struct lpv_cl_opt *o = i < cmd->nr_opts ? &cmd->opts[i] : NULL;
		int col;

		if (o) {
			cl_opt_label(o, label, sizeof(label));
			cl_opt_text(cmd, o, text, sizeof(text));
		} else {
			snprintf(label, sizeof(label), "%s--help",
				 cl_short_help(cmd) ? "-h, " : "");
			snprintf(text, sizeof(text), "print this help and exit");
		}
		col = fprintf(f, "  %s", label);
		if (col + 2 > CL_HELP_COL) {
			fprintf(f, "\n%*s", CL_HELP_COL, "");
		} else {
			fprintf(f, "%*s", CL_HELP_COL - col, "");
		}
		cl_wrap(f, text, CL_HELP_COL, CL_HELP_COL);
	}
	if (cmd->notes) {
		fputc('\n', f);
		fprintf(f, "%s", cmd->notes);
		if (cmd->notes[strlen(cmd->notes) - 1] != '\n')
			fputc('\n', f);
	}
}

/* ---- man page ---- */

void lpv_cl_roff_text(FILE *f, const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

/* Paragraphs of @s ("\n\n" apart; single newlines joined) as .PP blocks. */
static void cl_roff_paragraphs(FILE *f, const char *s)
{
	while (*s) {
		const char *end = strstr(s, "\n\n");
		size_t n = end ? (size_t)(end - s) : strlen(s);
		char *p = strndup(s, n);

		if (p) {
			for (char *q = p; *q; q++)
				if (*q == '\n')
					*q = ' ';
			fprintf(f, ".PP\n");
			lpv_cl_roff_text(f, p);
			fputc('\n', f);
			free(p);
		}
		s += n;
		while (*s == '\n')
			s++;
	}
}

void lpv_cl_print_man(const struct lpv_cl_cmd *cmd, FILE *f)
{
	char text[2048], title[128];

	fprintf(f, ".SS \"%s\"\n", cl_title(cmd, title, sizeof(title)));
	if (cmd->summary) {
		lpv_cl_roff_text(f, cmd->summary);
		fputc('\n', f);
	}
	fprintf(f, ".PP\n.nf\n");
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		if (m) {
			lpv_cl_print_usage(cmd, m);
			fclose(m);
			lpv_cl_roff_text(f, buf);
			free(buf);
		}
	}
	fprintf(f, ".fi\n");
	if (cmd->description)
		cl_roff_paragraphs(f, cmd->description);
	for (size_t i = 0; i < cmd->nr_opts; i++) {
		const struct lpv_cl_opt *o = &cmd->opts[i];

		fprintf(f, ".TP\n");
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fprintf(f, "\\fB\\-\\-");
		lpv_cl_roff_text(f, o->name);
		fprintf(f, "\\fR");
		if (cl_takes_arg(o)) {
			fprintf(f, " \\fI");
			lpv_cl_roff_text(f, cl_metavar(o));
			fprintf(f, "\\fR");
		}
		fputc('\n', f);
		cl_opt_text(cmd, o, text, sizeof(text));
		lpv_cl_roff_text(f, text);
		fputc('\n', f);
	}
	if (cmd->notes)
		cl_roff_paragraphs(f, cmd->notes);
}
