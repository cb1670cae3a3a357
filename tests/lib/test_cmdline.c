// SPDX-License-Identifier: MIT
/*
 * Tests of src/lib/cmdline: a small table parsed into its struct (every
 * kind, short options, lists, "given" bits), each error worded with the
 * option as typed, and the help and man text generated from the table.
 */
#include "test.h"

#include "lib/cmdline.h"
#include "lib/lib.h"

enum color { RED, GREEN, BLUE, NR_COLORS };

static const char *color_name(unsigned int i)
{
	static const char *const names[] = { "red", "green", "blue" };

	return i < NR_COLORS ? names[i] : "?";
}

struct t_opts {
	bool flag;
	unsigned int n;
	uint64_t big, mem;
	const char *name, *out;
	enum color color;
	uint64_t sizes[3];
	unsigned int nr_sizes;
	bool colors[NR_COLORS];
	const char *words[2];
	unsigned int nr_words;
};

#define O(f) LPV_CL_FIELD(struct t_opts, f)
static const struct lpv_cl_opt t_tab[] = {
	{ .name = "flag", .kind = LPV_CL_FLAG, O(flag), .help = "a flag" },
	{ .name = "n", .kind = LPV_CL_UINT, O(n), .min = 1, .max = 9, .help = "a count" },
	{ .name = "big", .kind = LPV_CL_UINT, O(big), .help = "a 64-bit number" },
	{ .name = "mem", .kind = LPV_CL_SIZE, O(mem), .min = 1 << 20,
	  .align = 1 << 20, .help = "memory" },
	{ .name = "name", .kind = LPV_CL_STRING, O(name), .help = "a name" },
	{ .name = "output", .short_name = 'o', .kind = LPV_CL_STRING, O(out),
	  .metavar = "FILE", .help = "where" },
	{ .name = "color", .kind = LPV_CL_ENUM, O(color), .name_of = color_name,
	  .nr = NR_COLORS, .help = "a color" },
	{ .name = "sizes", .kind = LPV_CL_LIST, .item = LPV_CL_SIZE, O(sizes),
	  .count_off = offsetof(struct t_opts, nr_sizes), .max_items = 3,
	  .min = 1, .help = "sizes" },
	{ .name = "colors", .kind = LPV_CL_LIST, .item = LPV_CL_ENUM, O(colors),
	  .name_of = color_name, .nr = NR_COLORS, .help = "colors" },
	{ .name = "words", .kind = LPV_CL_LIST, .item = LPV_CL_STRING, O(words),
	  .count_off = offsetof(struct t_opts, nr_words), .max_items = 2,
	  .help = "words" },
};
#undef O

static const struct t_opts t_defaults = { .n = 3, .mem = 64 << 20,
					  .color = GREEN };

static const struct lpv_cl_cmd t_cmd = {
	.prog = "prog", .name = "cmd", .summary = "a test command",
	.description = "Does nothing.\n", .opts = t_tab,
	.nr_opts = ARRAY_SIZE(t_tab), .defaults = &t_defaults,
};

/* Parse the space-separated @line (argv[0] "cmd" added); the result. */
static int t_parse(const char *line, struct t_opts *o,
		   struct lpv_cl_result *res, char *err, size_t errlen)
{
	static char buf[512];
	char *argv[32] = { "cmd" }, *save = NULL;
	int argc = 1;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 31;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	*o = t_defaults;
	err[0] = 0;
	return lpv_cl_parse(&t_cmd, argc, argv, o, res, err, errlen);
}

static void expect_error(const char *line, const char *msg)
{
	struct lpv_cl_result res;
	struct t_opts o;
	char err[256];
	int r = t_parse(line, &o, &res, err, sizeof(err));

	lpv_cl_release(&res);
	if (!r || strcmp(err, msg))
		test_fail(__FILE__, __LINE__, "'%s': %d \"%s\", want \"%s\"",
			  line, r, err, msg);
}

TEST_IMPL(lib_cmdline_parse)
{
	struct lpv_cl_result res;
	struct t_opts o;
	char err[256];

	ASSERT_OK(t_parse("", &o, &res, err, sizeof(err)));
	ASSERT_EQ(o.n, 3);
	ASSERT_EQ(res.given, 0);
	lpv_cl_release(&res);

	ASSERT_OK(t_parse("--flag --n 9 --big 0xffffffffffffffff --mem 2G --name x "
			  "-o out --color blue --sizes 1K,2M --colors red,blue "
			  "--words a,b --n=4", &o, &res, err, sizeof(err)));
	ASSERT_TRUE(o.flag);
	ASSERT_EQ(o.n, 4);
	ASSERT_UEQ(o.big, UINT64_MAX);
	ASSERT_UEQ(o.mem, 2ULL << 30);
	ASSERT_STR_EQ(o.name, "x");
	ASSERT_STR_EQ(o.out, "out");
	ASSERT_EQ(o.color, BLUE);
	ASSERT_EQ(o.nr_sizes, 2);
	ASSERT_UEQ(o.sizes[0], 1024);
	ASSERT_UEQ(o.sizes[1], 2 << 20);
	ASSERT_TRUE(o.colors[RED] && !o.colors[GREEN] && o.colors[BLUE]);
	ASSERT_EQ(o.nr_words, 2);
	ASSERT_STR_EQ(o.words[1], "b");
	ASSERT_TRUE(lpv_cl_given(&t_cmd, &res, "mem"));
	ASSERT_TRUE(lpv_cl_given(&t_cmd, &res, "output"));
	ASSERT_FALSE(res.help);
	lpv_cl_release(&res);

	ASSERT_OK(t_parse("--n 5 --help --n x", &o, &res, err, sizeof(err)));
	ASSERT_TRUE(res.help);
	lpv_cl_release(&res);
	ASSERT_OK(t_parse("-h", &o, &res, err, sizeof(err)));
	ASSERT_TRUE(res.help);
	lpv_cl_release(&res);

	expect_error("--n 0", "--n: '0' is out of range (1..9)");
	expect_error("--n -1", "--n: '-1' is not a number");
	expect_error("--n 1x", "--n: '1x' is not a number");
	expect_error("--big 18446744073709551616",
		     "--big: '18446744073709551616' is out of range (0..18446744073709551615)");
	expect_error("--mem 12Q", "--mem: '12Q' is not a size (bytes, or with K/M/G/T)");
	expect_error("--mem 1500K", "--mem: '1500K' is not a multiple of 1M");
	expect_error("--mem 512K", "--mem: '512K' is out of range (at least 1M)");
	expect_error("--mem 99999999T", "--mem: '99999999T' is out of range (sizes end below 16 EiB)");
	expect_error("--color pink", "--color: 'pink' is not red, green or blue");
	expect_error("--sizes 1K,,2K", "--sizes: item 2 is empty");
	expect_error("--sizes 1K,0", "--sizes: item 2 '0' is out of range (at least 1)");
	expect_error("--sizes 1,2,3,4", "--sizes: at most 3 items");
	expect_error("--colors red,pink", "--colors: item 2 'pink' is not red, green or blue");
	expect_error("--words a,b,c", "--words: at most 2 items");
	expect_error("--flag=1", "option --flag takes no value, not '1'");
	expect_error("--fl=1", "option --fl takes no value, not '1'");
	expect_error("--n", "option --n needs a value");
	expect_error("-o", "option -o needs a value");
	expect_error("-x", "unknown option '-x'");
	expect_error("--bogus", "unknown option '--bogus'");
	expect_error("--co red", "ambiguous option '--co'");
	expect_error("extra", "unexpected argument 'extra'");
	return 0;
}

TEST_IMPL(lib_cmdline_help)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NOT_NULL(f);
	lpv_cl_print_help(&t_cmd, f);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_NOT_NULL(strstr(buf, "usage: prog cmd [--flag] [--n N]"));
	ASSERT_NOT_NULL(strstr(buf, "[--color red|green|blue]"));
	ASSERT_NOT_NULL(strstr(buf, "\nDoes nothing.\n"));
	ASSERT_NOT_NULL(strstr(buf, "  --n N                 a count (1..9; default: 3)\n"));
	ASSERT_NOT_NULL(strstr(buf, "  -o, --output FILE     where\n"));
	ASSERT_NOT_NULL(strstr(buf, "(a multiple of 1M; default: 64M)"));
	ASSERT_NOT_NULL(strstr(buf, "(one of: red, green, blue; default: green)"));
	ASSERT_NOT_NULL(strstr(buf, "  -h, --help "));
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	ASSERT_NOT_NULL(f);
	lpv_cl_print_man(&t_cmd, f);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_NOT_NULL(strstr(buf, ".SS \"prog cmd\"\n"));
	ASSERT_NOT_NULL(strstr(buf, ".TP\n\\fB\\-o\\fR, \\fB\\-\\-output\\fR \\fIFILE\\fR\nwhere\n"));
	free(buf);
	return 0;
}

/* A program without commands, its own -h, positional arguments. */
struct p_opts {
	bool here;
};

static const struct lpv_cl_opt p_tab[] = {
	{ .name = "here", .short_name = 'h', .kind = LPV_CL_FLAG,
	  LPV_CL_FIELD(struct p_opts, here), .help = "an -h of its own" },
};

static const struct lpv_cl_cmd p_cmd = {
	.prog = "prog-alone", .args = "[NAME...]", .opts = p_tab,
	.nr_opts = ARRAY_SIZE(p_tab), .max_args = 2,
};

TEST_IMPL(lib_cmdline_program)
{
	char *argv[] = { "prog-alone", "a", "-h", "b", NULL }, err[128];
	struct lpv_cl_result res;
	struct p_opts o = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_OK(lpv_cl_parse(&p_cmd, 4, argv, &o, &res, err, sizeof(err)));
	ASSERT_TRUE(o.here);
	ASSERT_FALSE(res.help);
	ASSERT_EQ(res.args, 2);		/* permuted: the options first */
	ASSERT_STR_EQ(argv[res.args], "a");
	lpv_cl_release(&res);

	f = open_memstream(&buf, &len);
	ASSERT_NOT_NULL(f);
	lpv_cl_print_help(&p_cmd, f);
	lpv_cl_error(&p_cmd, f, "bad %s", "thing");
	lpv_cl_error(&t_cmd, f, "bad %d", 2);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_NOT_NULL(strstr(buf, "usage: prog-alone [--here] [NAME...]\n"));
	ASSERT_NOT_NULL(strstr(buf, "\n  --help "));	/* -h is --here's */
	ASSERT_NOT_NULL(strstr(buf, "\nprog-alone: bad thing (see 'prog-alone --help')\n"));
	ASSERT_NOT_NULL(strstr(buf, "\nprog cmd: bad 2 (see 'prog cmd --help')\n"));
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	ASSERT_NOT_NULL(f);
	lpv_cl_print_man(&p_cmd, f);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_NOT_NULL(strstr(buf, ".SS \"prog-alone\"\n"));
	free(buf);
	return 0;
}
