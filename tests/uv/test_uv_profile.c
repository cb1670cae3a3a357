// SPDX-License-Identifier: MIT
/*
 * The firmware profile: built-ins, the file format and its line-numbered
 * errors, print/parse round trip, loading from a file and the environment,
 * failure injection by call number and by seeded probability, and the
 * modelled cost being spent on the caller's thread.
 */
#include "uv_test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void expect_error(const char *text, const char *want)
{
	struct uv_profile p;
	char err[256];

	ASSERT_ERR(uv_profile_parse(text, "t.prof", &p, err, sizeof(err)),
		   EINVAL);
	if (!strstr(err, want))
		test_fail(__FILE__, __LINE__, "error \"%s\" lacks \"%s\"", err,
			  want);
}

TEST_IMPL(uv_profile_builtins)
{
	struct uv_profile d, z, o;

	ASSERT_OK(uv_profile_builtin("default", &d));
	ASSERT_OK(uv_profile_builtin("zero", &z));
	ASSERT_OK(uv_profile_builtin("old", &o));
	ASSERT_ERR(uv_profile_builtin("nope", &o), ENOENT);
	ASSERT_OK(uv_profile_builtin("old", &o));
	ASSERT_TRUE(d.features & uv_bit_mask(BIT_UV_FEAT_MISC));
	ASSERT_FALSE(o.features & uv_bit_mask(BIT_UV_FEAT_MISC));
	ASSERT_TRUE(d.installed[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF_FAST)]);
	ASSERT_FALSE(o.installed[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF_FAST)]);
	ASSERT_FALSE(o.nonsecure_noop);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		ASSERT_UEQ(z.cost_ns[i], 0);
		ASSERT_GT(d.cost_ns[i], 0);
	}
	ASSERT_UEQ(d.init_min_origin, 2 * GIB);
	ASSERT_STR_EQ(uv_cmd_name(UVC_CMD_CONV_TO_SEC_STOR), "import");
	ASSERT_EQ(uv_cmd_index(0x4242), -1);
	return 0;
}

TEST_IMPL(uv_profile_parse_errors)
{
	struct uv_profile p;
	char err[256];

	ASSERT_OK(uv_profile_parse(
		"# a lab machine\n"
		"base = zero\n"
		"name = lab\n"
		"cost.import = 1.5us   # per page\n"
		"cost.export = 2000\n"
		"call.destroy_conf_fast = off\n"
		"feature.misc = off\n"
		"qui.cpu_stor_len = 16K\n"
		"destroy_batch = 64\n"
		"init_min_origin = 0\n"
		"inject = export nth=3 rc=0x0107 rrc=0x000d\n"
		"inject = import prob=0.5 seed=9 cc=2\n", "lab", &p, err,
		sizeof(err)));
	ASSERT_STR_EQ(p.name, "lab");
	ASSERT_UEQ(p.cost_ns[uv_cmd_index(UVC_CMD_CONV_TO_SEC_STOR)], 1500);
	ASSERT_UEQ(p.cost_ns[uv_cmd_index(UVC_CMD_CONV_FROM_SEC_STOR)], 2000);
	ASSERT_UEQ(p.cost_ns[uv_cmd_index(UVC_CMD_DESTR_SEC_STOR)], 0);
	ASSERT_FALSE(p.installed[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF_FAST)]);
	ASSERT_UEQ(p.features, 0);
	ASSERT_UEQ(p.cpu_stor_len, 16384);
	ASSERT_UEQ(p.destroy_batch, 64);
	ASSERT_EQ(p.nr_inject, 2);
	ASSERT_UEQ(p.inject[0].nth, 3);
	ASSERT_XEQ(p.inject[0].rrc, 0x0d);
	ASSERT_EQ(p.inject[1].cc, 2);

	expect_error("name = x\nbogus = 1\n", "t.prof:2: unknown option 'bogus'");
	expect_error("\n\ncost.import = fast\n", "t.prof:3: cost.import");
	expect_error("cost.nothing = 1\n", "t.prof:1: unknown command 'nothing'");
	expect_error("destroy_batch = 0\n", "t.prof:1: destroy_batch: 0 outside");
	expect_error("qui.cpu_stor_len = 5000\n", "multiple of 4 KiB");
	expect_error("name = a\nbase = zero\n", "t.prof:2: 'base' must be");
	expect_error("base = z80\n", "unknown built-in profile 'z80'");
	expect_error("just words\n", "t.prof:1: expected 'key = value'");
	expect_error("inject = import\n", "needs nth= or prob=");
	expect_error("inject = import nth=1\n", "cc 1 needs rc=");
	expect_error("inject = import nth=1 prob=0.1 rc=5\n", "exclude");
	expect_error("inject = warp nth=1 rc=5\n", "unknown command 'warp'");
	expect_error("inject = import nth=1 rc=0x1\n", "error rc");
	expect_error("inject = import prob=2 rc=0x106\n", "prob must be");
	expect_error("call.qui = off\n", "QUI cannot be removed");
	expect_error("nonsecure_noop = maybe\n", "bad value 'maybe'");
	return 0;
}

/* Compared through their printed form: every option, no padding. */
static void same_profile(const struct uv_profile *a, const struct uv_profile *b)
{
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *f;

	f = open_memstream(&ta, &la);
	uv_profile_print(a, f);
	fclose(f);
	f = open_memstream(&tb, &lb);
	uv_profile_print(b, f);
	fclose(f);
	ASSERT_STR_EQ(ta, tb);
	ASSERT_TRUE(strstr(ta, "inject = import prob=0.25 seed=7") != NULL);
	free(ta);
	free(tb);
}

TEST_IMPL(uv_profile_roundtrip_and_file)
{
	struct uv_profile a, b;
	char path[] = "/tmp/lazypv-uv-profile-XXXXXX", err[256];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	ASSERT_OK(uv_profile_builtin("old", &a));
	a.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_CONV_TO_SEC_STOR,
		.prob = 0.25, .seed = 7, .cc = 1, .rc = 0x106 };
	/* A busy injection needs no rc; a probability prints exactly. */
	a.inject[1] = (struct uv_inject){ .cmd = UVC_CMD_DESTR_SEC_STOR,
		.nth = 2, .cc = 2 };
	a.inject[2] = (struct uv_inject){ .cmd = UVC_CMD_CONV_FROM_SEC_STOR,
		.prob = 0.123456789, .seed = 1, .cc = 1, .rc = 0x102 };
	a.nr_inject = 3;
	f = open_memstream(&text, &len);
	ASSERT_NOT_NULL(f);
	uv_profile_print(&a, f);
	fclose(f);
	ASSERT_OK(uv_profile_parse(text, "print", &b, err, sizeof(err)));
	same_profile(&a, &b);
	ASSERT_EQ(b.nr_inject, 3);
	ASSERT_EQ(b.inject[1].rc, 0);
	ASSERT_EQ(b.inject[1].cc, 2);
	ASSERT_TRUE(b.inject[2].prob == 0.123456789);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, text, len), (ssize_t)len);
	close(fd);
	ASSERT_OK(uv_profile_load(path, &b, err, sizeof(err)));
	same_profile(&a, &b);
	setenv("LAZYPV_UV_PROFILE", "zero", 1);
	ASSERT_OK(uv_profile_load(NULL, &b, err, sizeof(err)));
	ASSERT_STR_EQ(b.name, "zero");
	unsetenv("LAZYPV_UV_PROFILE");
	ASSERT_ERR(uv_profile_load("/nonexistent/prof", &b, err, sizeof(err)),
		   ENOENT);
	ASSERT_TRUE(strstr(err, "/nonexistent/prof") != NULL);
	unlink(path);
	free(text);
	return 0;
}

TEST_IMPL(uv_profile_inject)
{
	struct uv_profile p;
	struct uvt_guest g;
	struct uv_stats st;
	int fails = 0;
	struct uvt t;

	uvt_profile(&p, "zero");
	p.inject[0] = (struct uv_inject){ .cmd = UVC_CMD_CONV_TO_SEC_STOR,
		.nth = 3, .cc = 1, .rc = 0x0199, .rrc = 0x42 };
	p.inject[1] = (struct uv_inject){ .cmd = UVC_CMD_CONV_FROM_SEC_STOR,
		.prob = 0.5, .seed = 1234, .cc = 1, .rc = 0x0198 };
	p.inject[2] = (struct uv_inject){ .cmd = UVC_CMD_DESTROY_SEC_CONF,
		.nth = 1, .cc = 2 };
	p.nr_inject = 3;
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, MIB);
	for (uint64_t a = 0; a < 64; a++) {
		int cc = uvt_import(&t, &g, a << 12);

		if (a == 2) {
			ASSERT_CC_RC(&t, cc, 1, 0x0199);
			ASSERT_XEQ(t.rrc, 0x42);
			ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
		} else {
			ASSERT_UV_OK(&t, cc);
		}
	}
	for (uint64_t a = 0; a < 64; a++) {
		int cc = uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR, g.mem + a);

		if (cc) {
			ASSERT_CC_RC(&t, cc, 1, 0x0198);
			fails++;
		}
	}
	/* A seeded coin: roughly half, and the same half every run. */
	ASSERT_GT(fails, 16);
	ASSERT_LT(fails, 48);
	ASSERT_OK(uv_check(t.uv));	/* refused calls changed nothing */
	/* cc 2 (busy) is retried by uv_call_sched. */
	ASSERT_UV_OK(&t, uvt_destroy_conf(&t, g.handle));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.injected, 1 + (uint64_t)fails + 1);
	ASSERT_UEQ(st.cmd[uv_cmd_index(UVC_CMD_DESTROY_SEC_CONF)].cc[2], 1);
	uvt_finish(&t);
	return 0;
}

TEST_IMPL(uv_profile_cost_spent)
{
	struct uv_profile p;
	struct uvt_guest g;
	struct uv_stats st;
	uint64_t t0, dt;
	struct uvt t;

	uvt_profile(&p, "zero");
	p.cost_ns[uv_cmd_index(UVC_CMD_CONV_TO_SEC_STOR)] = 200000;
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, MIB);
	t0 = hw_now_ns();
	for (uint64_t a = 0; a < 10; a++)
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
	dt = hw_now_ns() - t0;
	ASSERT_GE(dt, 10 * 200000);
	uv_stats_get(t.uv, &st);
	ASSERT_GE(st.cmd[uv_cmd_index(UVC_CMD_CONV_TO_SEC_STOR)].ns, 10 * 200000);
	ASSERT_UEQ(st.cmd[uv_cmd_index(UVC_CMD_CONV_TO_SEC_STOR)].calls, 10);
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		uv_stats_json(t.uv, f);
		uv_stats_print(t.uv, f);
		fclose(f);
		ASSERT_TRUE(strstr(buf, "\"imports_fresh\":10") != NULL);
		ASSERT_TRUE(strstr(buf, "\"import\":{\"calls\":10") != NULL);
		ASSERT_TRUE(strstr(buf, "uv.cmd.import") != NULL);
		free(buf);
	}
	uvt_finish(&t);
	return 0;
}

/*
 * The modelled cost is the firmware's own time: the call's bookkeeping runs
 * inside it, its data work (clears, AES) comes on top.  So per command,
 * wall time minus data time covers the cost (less the cost clock's carry),
 * and data work is timed only when the profile models a cost.
 */
TEST_IMPL(uv_profile_cost_beside_data_work)
{
	const int exp = uv_cmd_index(UVC_CMD_CONV_FROM_SEC_STOR);
	const int dst = uv_cmd_index(UVC_CMD_DESTR_SEC_STOR);
	const int imp = uv_cmd_index(UVC_CMD_CONV_TO_SEC_STOR);
	const uint64_t n = 16, c_exp = 50000, c_dst = 20000;
	struct uv_profile p;
	struct uvt_guest g;
	struct uv_stats st;
	struct uvt t;

	/* No cost modelled: nothing is timed. */
	uvt_profile(&p, "zero");
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, MIB);
	for (uint64_t a = 0; a < n; a++)
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.cmd[imp].data_ns, 0);
	uvt_finish(&t);

	uvt_profile(&p, "zero");
	p.cost_ns[exp] = c_exp;
	p.cost_ns[dst] = c_dst;
	uvt_setup(&t, 16 * MIB, &p, true);
	uvt_guest_create(&t, &g, MIB);
	for (uint64_t a = 0; a < n; a++)
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
	for (uint64_t a = 0; a < n; a++)	/* AES-GCM of 4 KiB each */
		ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_CONV_FROM_SEC_STOR,
					 g.mem + a));
	for (uint64_t a = 0; a < n; a++)	/* decrypt: imports back */
		ASSERT_UV_OK(&t, uvt_import(&t, &g, a << 12));
	for (uint64_t a = 0; a < n; a++)	/* a 4 KiB clear each */
		ASSERT_UV_OK(&t, uvt_cfs(&t, UVC_CMD_DESTR_SEC_STOR, g.mem + a));
	uv_stats_get(t.uv, &st);
	ASSERT_UEQ(st.cmd[exp].calls, n);
	ASSERT_UEQ(st.cmd[dst].calls, n);
	ASSERT_GT(st.cmd[exp].data_ns, 0);
	ASSERT_GT(st.cmd[dst].data_ns, 0);
	ASSERT_GT(st.cmd[imp].data_ns, 0);	/* timed: the profile has costs */
	ASSERT_GE(st.cmd[exp].ns - st.cmd[exp].data_ns + HW_COST_CARRY_MAX_NS,
		  n * c_exp);
	ASSERT_GE(st.cmd[dst].ns - st.cmd[dst].data_ns + HW_COST_CARRY_MAX_NS,
		  n * c_dst);
	uvt_finish(&t);
	return 0;
}
