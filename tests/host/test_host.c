// SPDX-License-Identifier: MIT
/*
 * test_host.c - the host layer: a stack that cannot be built says which
 * layer refused and why and leaves nothing behind; a host without PV
 * support still comes up when asked to; the statistics snapshot parses
 * back from its JSON with every key of every layer's list and the values
 * of the snapshot; the machine floor, the hog and the free-frame scan
 * leave the host as they found it.
 */
#include "test.h"

#include <jansson.h>
#include <unistd.h>

#include "host/host.h"

static void expect_in(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		test_fail(__FILE__, __LINE__, "\"%s\" not in \"%s\"", needle,
			  text);
}

static void config(struct host_config *hc, uint64_t mem)
{
	ASSERT_OK(host_config_init(hc));
	hc->mem_bytes = mem;
	ASSERT_OK(host_profile_builtin("zero", &hc->profile));
}

TEST_IMPL(host_create_errors)
{
	char path[] = "/tmp/lazypv-host-prof-XXXXXX", err[200];
	struct uv_profile prof;
	struct host_config hc;
	struct host *host = (struct host *)(uintptr_t)1;	/* cleared */
	int fd;

	/* A profile that does not exist, then one that does not parse. */
	ASSERT_ERR(host_profile_load("/nonexistent/profile", &prof, err,
				     sizeof(err)), ENOENT);
	expect_in(err, "/nonexistent/profile");
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "bogus = 1\n", 10), 10);
	close(fd);
	ASSERT_ERR(host_profile_load(path, &prof, err, sizeof(err)), EINVAL);
	expect_in(err, "unknown option 'bogus'");
	unlink(path);

	/* The machine refuses the size. */
	config(&hc, 4097);
	ASSERT_ERR(host_create(&hc, &host, err, sizeof(err)), EINVAL);
	expect_in(err, "cannot create the machine");
	ASSERT_NULL(host);

	/* INIT_UV has no room above 2 GiB: the KVM module cannot come up. */
	config(&hc, 64ULL << 20);
	ASSERT_OK(host_profile_builtin("default", &hc.profile));
	ASSERT_NE(host_create(&hc, &host, err, sizeof(err)), 0);
	expect_in(err, "cannot create the KVM module");
	ASSERT_NULL(host);

	/* No message buffer: the same errors, nothing written. */
	config(&hc, 4097);
	ASSERT_ERR(host_create(&hc, &host, NULL, 0), EINVAL);
	ASSERT_ERR(host_profile_load("/nonexistent/profile", &prof, NULL, 0),
		   ENOENT);

	/* Parsing helpers of the configuration. */
	{
		enum hw_protect_mode m;

		ASSERT_OK(host_protect_mode_parse("soft", &m));
		ASSERT_EQ(m, HW_PROTECT_SOFT);
		ASSERT_STR_EQ(host_protect_mode_name(m), "soft");
		ASSERT_ERR(host_protect_mode_parse("maybe", &m), EINVAL);
	}
	return 0;
}

TEST_IMPL(host_create_without_pv)
{
	struct host_stats st;
	struct host_config hc;
	struct host *host;
	char err[200];

	config(&hc, 64ULL << 20);
	ASSERT_OK(host_profile_builtin("default", &hc.profile));
	hc.pv_optional = true;
	ASSERT_OK(host_create(&hc, &host, err, sizeof(err)));
	ASSERT_FALSE(host_has_pv(host));
	ASSERT_NULL(host_vmm_env(host));
	ASSERT_NULL(host_kvm(host));
	host_stats_get(host, &st);
	ASSERT_FALSE(st.pv_host);
	ASSERT_UEQ(st.mem_bytes, 64ULL << 20);
	ASSERT_OK(host_check(host));
	host_destroy(host);
	return 0;
}

/* @obj[@key] is an integer equal to @want. */
static void expect_int(json_t *obj, const char *sec, const char *key,
		       uint64_t want)
{
	json_t *v = json_object_get(obj, key);

	if (!v || !json_is_integer(v))
		test_fail(__FILE__, __LINE__, "%s.%s: missing or not an integer",
			  sec, key);
	if ((uint64_t)json_integer_value(v) != want)
		test_fail(__FILE__, __LINE__, "%s.%s: %lld, snapshot %llu", sec,
			  key, (long long)json_integer_value(v),
			  (unsigned long long)want);
}

static json_t *expect_section(json_t *root, const char *key)
{
	json_t *sec = json_object_get(root, key);

	if (!sec || !json_is_object(sec))
		test_fail(__FILE__, __LINE__, "section \"%s\" missing", key);
	return sec;
}

#define CHECK_KEY(name, desc) expect_int(sec, sname, #name, (uint64_t)s->name);
#define CHECK_SECTION(key, type, counters, gauges, title) {		\
		const char *sname = #key;				\
		json_t *sec = expect_section(root, sname);		\
		const type *s = &st.key;				\
									\
		counters(CHECK_KEY)					\
		gauges(CHECK_KEY)					\
		expect_in(text, title " (" #key "):\n");		\
	}

TEST_IMPL(host_stats_json_keys)
{
	struct host_stats st;
	struct host_config hc;
	struct host *host;
	json_error_t jerr;
	json_t *root, *use;
	char *dump, *text = NULL, err[200];
	size_t len = 0;
	FILE *f;

	config(&hc, 3ULL << 30);
	hc.protect = HW_PROTECT_SOFT;
	ASSERT_OK(host_create(&hc, &host, err, sizeof(err)));
	host_stats_get(host, &st);
	ASSERT_TRUE(st.pv_host);
	ASSERT_UEQ(st.mm.nr_frames, host_nr_frames(host));

	/* Written by host_stats_json, read back by the same library. */
	root = host_stats_json(&st);
	ASSERT_NOT_NULL(root);
	dump = json_dumps(root, JSON_COMPACT);
	ASSERT_NOT_NULL(dump);
	json_decref(root);
	root = json_loads(dump, 0, &jerr);
	if (!root)
		test_fail(__FILE__, __LINE__, "JSON does not parse: %s (%s)",
			  jerr.text, dump);
	free(dump);

	f = open_memstream(&text, &len);
	ASSERT_NOT_NULL(f);
	host_stats_print(&st, f);
	ASSERT_EQ(fclose(f), 0);

	expect_int(root, "", "host_mem", 3ULL << 30);
	ASSERT_STR_EQ(json_string_value(json_object_get(root, "protection")),
		      "soft");
	ASSERT_TRUE(json_is_true(json_object_get(root, "pv_host")));
	ASSERT_STR_EQ(json_string_value(json_object_get(root, "profile")),
		      "zero");
	HOST_STAT_SECTIONS(CHECK_SECTION)

	/* The arrays: frames per use (they add up to the machine) and the
	 * UV's per-command counters (QUI and INIT_UV ran at boot). */
	use = json_object_get(expect_section(root, "mm"), "use");
	ASSERT_NOT_NULL(use);
	{
		uint64_t sum = 0;

		for (unsigned int i = 0; i < PAGE_USE_NR; i++) {
			expect_int(use, "mm.use", page_use_name((enum page_use)i),
				   st.mm.use[i]);
			sum += st.mm.use[i];
		}
		ASSERT_UEQ(sum, st.mm.nr_frames);
	}
	ASSERT_NOT_NULL(json_object_get(expect_section(root, "mm"), "leaked"));
	{
		json_t *cmd = json_object_get(expect_section(root, "uv"), "cmd");
		json_t *init = json_object_get(cmd, host_uv_cmd_name(UVC_CMD_INIT_UV));
		struct uv_cmd_stats cs;

		ASSERT_NOT_NULL(init);
		host_uv_cmd_stats(&st.uv, UVC_CMD_INIT_UV, &cs);
		ASSERT_UEQ(cs.calls, 1);
		expect_int(init, "uv.cmd.INIT_UV", "calls", cs.calls);
		expect_int(init, "uv.cmd.INIT_UV", "cc0", cs.cc[0]);
	}
	json_decref(root);
	free(text);
	ASSERT_OK(host_check(host));
	host_destroy(host);
	return 0;
}

static bool match_word(void *ctx, uint64_t word)
{
	return word == *(const uint64_t *)ctx;
}

TEST_IMPL(host_floor_and_probes)
{
	const uint64_t word = 0x6c617a7970762121ULL;
	uint64_t free0, scanned = 0, nothing = 1;
	struct host_floor fl;
	struct host_config hc;
	struct host_hog *hog;
	struct host *host;
	char err[200];

	config(&hc, 3ULL << 30);
	ASSERT_OK(host_create(&hc, &host, err, sizeof(err)));
	free0 = host_free_frames(host);

	/* The floor: both figures measured, every frame back. */
	ASSERT_OK(host_measure_floor(host, &fl));
	ASSERT_TRUE(fl.clear_ns > 0);
	ASSERT_TRUE(fl.unprotect_ns > 0);
	ASSERT_UEQ(host_free_frames(host), free0);
	ASSERT_OK(host_check(host));

	/* The hog takes frames out of the free list and gives them back. */
	ASSERT_OK(host_hog_create(host, "test-hog", &hog));
	ASSERT_OK(host_hog_take(hog, 256, false));
	ASSERT_OK(host_hog_take(hog, 256, true));
	ASSERT_UEQ(host_hog_held(hog), 512);
	ASSERT_UEQ(host_free_frames(host), free0 - 512);
	ASSERT_ERR(host_hog_take(hog, host_nr_frames(host), false), ENOMEM);
	host_hog_release(hog);
	ASSERT_UEQ(host_free_frames(host), free0);
	ASSERT_OK(host_hog_destroy(hog));

	/* The scan finds nothing, then exactly the planted word. */
	ASSERT_UEQ(host_scan_free(host, match_word, &nothing, &scanned,
				  stderr), 0);
	ASSERT_UEQ(scanned, free0);
	ASSERT_OK(host_plant_free(host, word));
	ASSERT_UEQ(host_scan_free(host, match_word, (void *)&word, &scanned,
				  stderr), 1);
	ASSERT_OK(host_check(host));
	host_destroy(host);
	return 0;
}
