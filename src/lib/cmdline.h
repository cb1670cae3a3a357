/* SPDX-License-Identifier: MIT */
/*
 * cmdline.h - a command's options as one table: each row names a long
 * option (and optionally a short one), the kind of its argument, where in
 * the command's options struct the value goes, its range and a help line.
 * From the table come getopt_long's arrays, the parse with its one-line
 * errors (worded the same for every command), the --help text and the
 * roff of a man page section.  The tunables of the layers (options.h) are
 * a different table: those are module parameters with environment
 * overrides; these are a program's command line.
 *
 * No global state besides getopt's own; single-threaded.
 */
#ifndef LAZYPV_LIB_CMDLINE_H
#define LAZYPV_LIB_CMDLINE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lazypv/compiler.h"

enum lpv_cl_kind {
	LPV_CL_FLAG,		/* no argument; bool set to true */
	LPV_CL_UINT,		/* decimal or 0x; uint64_t or unsigned int */
	LPV_CL_SIZE,		/* bytes with K/M/G/T; uint64_t */
	LPV_CL_STRING,		/* const char *, pointing into argv */
	LPV_CL_ENUM,		/* one of name_of(0..nr-1); int (an enum) */
	LPV_CL_LIST,		/* comma-separated items of kind @item */
};

struct lpv_cl_opt {
	const char *name;	/* long name without "--": "guest-mem" */
	char short_name;	/* 'o' for -o, or 0 */
	enum lpv_cl_kind kind;
	/*
	 * LIST: the kind of each item (UINT, SIZE, STRING or ENUM).  Items
	 * go into an array at @off of up to @max_items elements (uint64_t,
	 * const char *; the count into the unsigned int at @count_off),
	 * except ENUM items: a set, bool[nr] at @off.
	 */
	enum lpv_cl_kind item;
	size_t off, size;	/* the field in the options struct */
	size_t count_off;
	unsigned int max_items;
	uint64_t min, max;	/* UINT, SIZE (and their items); max 0: none */
	uint64_t align;		/* SIZE: a multiple of this, or 0 */
	const char *(*name_of)(unsigned int i);	/* ENUM: the names, */
	unsigned int nr;			/* 0..nr-1 */
	const char *metavar;	/* in usage: "SIZE"; NULL: from the kind */
	const char *help;	/* sentences; wrapped by the printers */
	const char *(*help_more)(void);	/* appended at run time, or NULL */
	const char *def;	/* the default as shown; NULL: from the
				 * defaults struct ("" or a zero: none) */
};

/* .off and .size of a field of the options struct @type. */
#define LPV_CL_FIELD(type, field) \
	.off = offsetof(type, field), .size = sizeof(((type *)0)->field)

struct lpv_cl_cmd {
	const char *prog;	/* "lazypv", "lazypv-bench" */
	const char *name;	/* "run"; NULL: the program has no commands */
	const char *summary;	/* one line: the command list, NAME */
	const char *synopsis;	/* lines after "usage: "; NULL: generated */
	const char *args;	/* the generated synopsis ends with these:
				 * "[COMMAND]"; NULL: none */
	const char *description;	/* paragraphs ("\n\n" apart) */
	const char *notes;	/* after the options, or NULL */
	const struct lpv_cl_opt *opts;
	size_t nr_opts;		/* at most 63 (and --help, added) */
	const void *defaults;	/* an options struct of defaults, or NULL */
	unsigned int max_args;	/* positional arguments taken (0: none) */
};

/* What a parse leaves besides the values. */
struct lpv_cl_result {
	bool help;		/* --help was given (nothing else checked after) */
	uint64_t given;		/* bit i: opts[i] was on the command line */
	int args;		/* argv index of the first positional argument */
	struct lpv_cl_buf *bufs;	/* copies the string items point into */
};

/*
 * Parse @argv (argv[0] is the command's name) into @opts, which the caller
 * filled with defaults.  Returns 0 (or 0 with @res->help set as soon as
 * --help, or -h unless the table has its own -h, is seen), or
 * -EINVAL/-ERANGE/-E2BIG with one line in @err naming the option as typed
 * ("--mem: '12Q' is not a size (bytes, or with K/M/G/T)", "unknown option
 * '-g'", "option --reboots needs a value").  Release @res with
 * lpv_cl_release() in every case.
 */
int lpv_cl_parse(const struct lpv_cl_cmd *cmd, int argc, char **argv,
		 void *opts, struct lpv_cl_result *res, char *err,
		 size_t errlen) __must_check;
void lpv_cl_release(struct lpv_cl_result *res);
/* Was the option of long name @name on the command line? */
bool lpv_cl_given(const struct lpv_cl_cmd *cmd,
		  const struct lpv_cl_result *res, const char *name);

/*
 * The one-line usage error, worded the same for every program: "PROG
 * NAME: MESSAGE (see 'PROG NAME --help')" and a newline on @f.
 */
void lpv_cl_error(const struct lpv_cl_cmd *cmd, FILE *f, const char *fmt, ...)
	__printf_like(3, 4);
void lpv_cl_verror(const struct lpv_cl_cmd *cmd, FILE *f, const char *fmt,
		   va_list ap) __printf_like(3, 0);

/*
 * lpv_cl_parse() for a program's main(): the help on stdout or the
 * one-line error on stderr.  Returns -1 to go ahead, or the exit status:
 * 0 after --help, 2 after a usage error.  Release @res with
 * lpv_cl_release() in every case.
 */
int lpv_cl_parse_main(const struct lpv_cl_cmd *cmd, int argc, char **argv,
		      void *opts, struct lpv_cl_result *res) __must_check;

/* "usage: ...", the description, every option with its default: --help. */
void lpv_cl_print_help(const struct lpv_cl_cmd *cmd, FILE *f);
/* The "usage:" lines alone. */
void lpv_cl_print_usage(const struct lpv_cl_cmd *cmd, FILE *f);
/*
 * A man page section for the command (.SS with synopsis, description,
 * an .TP per option), for a page whose header the caller writes.
 */
void lpv_cl_print_man(const struct lpv_cl_cmd *cmd, FILE *f);
/* Write @s escaped for roff body text (backslashes, leading dots, dashes). */
void lpv_cl_roff_text(FILE *f, const char *s);

#endif /* LAZYPV_LIB_CMDLINE_H */
