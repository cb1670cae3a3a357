// SPDX-License-Identifier: MIT
/*
 * The command list (UV_CMDS in uv.h) and everything generated from it
 * agree: every row's code and name round-trip through the lookups, has a
 * handler and a plausible length, a QUI bit of its own (or none), and
 * keys the profile parses and prints; the host's QUI reports exactly the
 * installed host rows, and a call lands in its row's stats.
 */
#include "uv_test.h"

#include "uv/uv_internal.h"

#include <ctype.h>

static bool name_is_key(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '_')
			return false;
	return true;
}

/* Rows, codes, names, handlers, lengths, bits. */
static void check_rows(void)
{
	uint64_t bits[4] = { 0 };

	for (int i = 0; i < UV_NR_CMDS; i++) {
		const struct uv_cmd_desc *d = &uv_cmds[i];

		if (!d->name || !name_is_key(d->name))
			test_fail(__FILE__, __LINE__, "row %d: bad name", i);
		ASSERT_EQ(uv_cmd_index(d->cmd), i);
		ASSERT_UEQ(uv_cmd_code(i), d->cmd);
		ASSERT_EQ(uv_cmd_lookup(d->name), i);
		ASSERT_STR_EQ(uv_cmd_name(d->cmd), d->name);
		ASSERT_TRUE(d->fn != NULL);
		ASSERT_GE(d->len, sizeof(struct uv_cb_header));
		ASSERT_EQ(uv_cmd_qui_bit(i), d->bit);
		ASSERT_GE(d->bit, -1);
		ASSERT_LT(d->bit, 256);
		if (d->bit >= 0) {
			uint64_t m = uv_bit_mask((unsigned int)d->bit);

			if (bits[d->bit / 64] & m)
				test_fail(__FILE__, __LINE__,
					  "row %s: QUI bit %d used twice",
					  d->name, d->bit);
			bits[d->bit / 64] |= m;
		}
		/* Only the two calls that come before INIT may. */
		ASSERT_EQ(d->before_init, i == UV_IDX_QUI || i == UV_IDX_INIT);
	}
	ASSERT_UEQ(uv_cmd_code(UV_NR_CMDS), 0);
	ASSERT_UEQ(uv_cmd_code(-1), 0);
	ASSERT_EQ(uv_cmd_qui_bit(UV_NR_CMDS), -1);
	ASSERT_EQ(uv_cmd_lookup("no_such_call"), -1);
	ASSERT_EQ(uv_cmd_index(0x4242), -1);
	ASSERT_STR_EQ(uv_cmd_name(0x4242), "unknown");
}

/* The profile's defaults, parser and printer know every row's keys. */
static void check_profile_keys(void)
{
	struct uv_profile d, p;
	char text[8192], err[256], *out = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	ASSERT_OK(uv_profile_builtin("default", &d));
	for (int i = 0; i < UV_NR_CMDS; i++) {
		ASSERT_TRUE(d.installed[i]);
		ASSERT_UEQ(d.cost_ns[i], uv_cmds[i].default_cost_ns);
		ASSERT_GT(d.cost_ns[i], 0);
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "cost.%s = %dus\n", uv_cmds[i].name, i + 1);
		if (i != UV_IDX_QUI)	/* QUI cannot be removed */
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "call.%s = off\n", uv_cmds[i].name);
		ASSERT_LT(n, sizeof(text));
	}
	if (uv_profile_parse(text, "keys", &p, err, sizeof(err)))
		test_fail(__FILE__, __LINE__, "parse: %s", err);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		ASSERT_UEQ(p.cost_ns[i], (uint64_t)(i + 1) * 1000);
		ASSERT_EQ(p.installed[i], i == UV_IDX_QUI);
	}
	f = open_memstream(&out, &len);
	ASSERT_TRUE(f != NULL);
	uv_profile_print(&p, f);
	fclose(f);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		char want[96];

		snprintf(want, sizeof(want), "cost.%s = %lluns\n",
			 uv_cmds[i].name, (unsigned long long)(i + 1) * 1000);
		if (!strstr(out, want))
			test_fail(__FILE__, __LINE__, "print lacks \"%s\"", want);
		snprintf(want, sizeof(want), "call.%s = %s\n", uv_cmds[i].name,
			 i == UV_IDX_QUI ? "on" : "off");
		if (!strstr(out, want))
			test_fail(__FILE__, __LINE__, "print lacks \"%s\"", want);
	}
	free(out);
}

/* A host QUI on a UV of @prof: its installed-calls list. */
static void host_qui(const struct uv_profile *prof, uint64_t list[4],
		     uint64_t *qui_calls)
{
	struct uv_cb_qui q = {
		.header.len = sizeof(q), .header.cmd = UVC_CMD_QUI,
	};
	struct uv_stats st;
	struct uvt t;

	uvt_setup(&t, 64 * MIB, prof, false);
	ASSERT_UV_OK(&t, uvt_call(&t, &q));
	memcpy(list, q.inst_calls_list, sizeof(q.inst_calls_list));
	uv_stats_get(t.uv, &st);
	*qui_calls = st.cmd[UV_IDX_QUI].calls;
	uvt_finish(&t);
}

/* QUI's bitmap: exactly the installed host rows with a bit, and QUI. */
static void check_qui(void)
{
	uint64_t list[4], calls;
	struct uv_profile p;

	uvt_profile(&p, "default");
	host_qui(&p, list, &calls);
	ASSERT_UEQ(calls, 1);
	for (int i = 0; i < UV_NR_CMDS; i++) {
		int bit = uv_cmds[i].bit;
		bool want = !uv_cmds[i].guest || i == UV_IDX_QUI;

		if (bit < 0)
			continue;
		ASSERT_EQ((list[bit / 64] & uv_bit_mask((unsigned int)bit)) != 0,
			  want);
		list[bit / 64] &= ~uv_bit_mask((unsigned int)bit);
	}
	for (int w = 0; w < 4; w++)	/* no bit outside the list */
		ASSERT_UEQ(list[w], 0);

	for (int i = 0; i < UV_NR_CMDS; i++)
		p.installed[i] = i == UV_IDX_QUI;
	host_qui(&p, list, &calls);
	ASSERT_UEQ(list[0], uv_bit_mask(BIT_UVC_CMD_QUI));
	ASSERT_UEQ(list[1] | list[2] | list[3], 0);
}

TEST_IMPL(uv_cmd_list_consistent)
{
	check_rows();
	check_profile_keys();
	check_qui();
	return 0;
}
