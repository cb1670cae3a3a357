// SPDX-License-Identifier: MIT
/*
 * test_image.c - the image format: build/parse round trip, every kind of
 * header damage rejected with the right errno, program specs, host keys;
 * and end to end, a tampered page or a foreign host key stops the boot at
 * the UV, with the VMM exiting cleanly.
 */
#include "vmm_test.h"

#include <unistd.h>

static void build(const uint8_t pub[UV_HOST_KEY_LEN], const char *prog,
		  uint64_t payload, void **buf, size_t *len)
{
	struct vmm_image_spec spec = {
		.program = prog,
		.default_payload_len = payload,
		.nonce = 42,
	};
	char err[200] = "";
	int r = vmm_image_build(&spec, pub, buf, len, err, sizeof(err));

	if (r)
		test_fail(__FILE__, __LINE__, "build: %s", err);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

TEST_IMPL(vmm_image_round_trip)
{
	uint8_t priv[UV_HOST_KEY_LEN], pub[UV_HOST_KEY_LEN];
	struct vmm_image img;
	char err[200];
	void *buf;
	size_t len;

	vmm_host_key_from_seed("round-trip", priv);
	ASSERT_OK(uv_host_key_derive_public(priv, pub));
	build(pub, "touch:mib=4,rounds=2,then=poweroff", 100000, &buf, &len);
	ASSERT_OK(vmm_image_parse(buf, len, &img, err, sizeof(err)));
	ASSERT_EQ(img.nr_components, 2);
	ASSERT_UEQ(img.comp[0].gaddr, 0);
	ASSERT_UEQ(img.comp[0].nr_pages, 1);
	ASSERT_UEQ(img.comp[1].gaddr, HW_PAGE_SIZE);
	ASSERT_UEQ(img.comp[1].nr_pages, (100000 + HW_PAGE_SIZE - 1) / HW_PAGE_SIZE);
	ASSERT_UEQ(img.nr_pages, 1 + img.comp[1].nr_pages);
	ASSERT_UEQ(img.guest_end, img.nr_pages * HW_PAGE_SIZE);
	ASSERT_EQ(memcmp(img.host_pub, pub, UV_HOST_KEY_LEN), 0);
	ASSERT_UEQ(img.se_header_len, uv_image_header_len(1));
	ASSERT_UEQ((uintptr_t)img.pages % 8, 0);
	/* Encrypted: the program name is nowhere in the file. */
	ASSERT_NULL(memmem(buf, len, "touch", 5));
	ASSERT_NULL(memmem(buf, len, "LPVBOOT", 7));
	free(buf);

	/* Same seed, same key; another seed, another key. */
	{
		uint8_t priv2[UV_HOST_KEY_LEN];

		vmm_host_key_from_seed("round-trip", priv2);
		ASSERT_EQ(memcmp(priv, priv2, sizeof(priv)), 0);
		vmm_host_key_from_seed("other", priv2);
		ASSERT_NE(memcmp(priv, priv2, sizeof(priv)), 0);
	}
	{
		char hex[2 * UV_HOST_KEY_LEN + 1];
		uint8_t back[UV_HOST_KEY_LEN];

		for (int i = 0; i < UV_HOST_KEY_LEN; i++)
			sprintf(hex + 2 * i, "%02X", pub[i]);
		ASSERT_OK(vmm_host_key_parse(hex, back));
		ASSERT_EQ(memcmp(back, pub, sizeof(pub)), 0);
		hex[5] = 'g';
		ASSERT_ERR(vmm_host_key_parse(hex, back), EINVAL);
		ASSERT_ERR(vmm_host_key_parse("abcd", back), EINVAL);
	}
	return 0;
}

TEST_IMPL(vmm_image_corruption_rejected)
{
	uint8_t priv[UV_HOST_KEY_LEN], pub[UV_HOST_KEY_LEN];
	struct vmm_image img;
	char err[200];
	uint8_t *buf, *copy;
	size_t len;
	uint64_t seed = test_seed();

	vmm_host_key_from_seed("corrupt", priv);
	ASSERT_OK(uv_host_key_derive_public(priv, pub));
	build(pub, "idle", 3 * HW_PAGE_SIZE, (void **)&buf, &len);
	copy = malloc(len + 1);
	ASSERT_NOT_NULL(copy);

	/* Any single byte changed in the file header or the SE header. */
	for (size_t off = 0; off < VMM_IMAGE_HDR_LEN + 64; off++) {
		memcpy(copy, buf, len);
		copy[off] ^= (uint8_t)(1u << (off % 8));
		err[0] = '\0';
		ASSERT_NE(vmm_image_parse(copy, len, &img, err, sizeof(err)), 0);
		ASSERT_NE(err[0], '\0');
	}
	/* Truncated anywhere, or with a trailing byte. */
	for (size_t cut = 0; cut < len; cut += 1 + (cut < 600 ? 0 : 997))
		ASSERT_NE(vmm_image_parse(buf, cut, &img, err, sizeof(err)), 0);
	memcpy(copy, buf, len);
	copy[len] = 0;
	ASSERT_ERR(vmm_image_parse(copy, len + 1, &img, err, sizeof(err)), EINVAL);
	/* Specific messages for specific damage. */
	memcpy(copy, buf, len);
	copy[8] = 2;	/* version */
	ASSERT_ERR(vmm_image_parse(copy, len, &img, err, sizeof(err)), EPROTONOSUPPORT);
	memcpy(copy, buf, len);
	copy[0x100 - 8] ^= 1;	/* the checksum itself */
	ASSERT_ERR(vmm_image_parse(copy, len, &img, err, sizeof(err)), EBADMSG);
	memcpy(copy, buf, len);
	put64(copy + 0x38, UINT64_MAX / 2);	/* huge page count */
	ASSERT_ERR(vmm_image_parse(copy, len, &img, err, sizeof(err)), EINVAL);
	memcpy(copy, buf, len);
	put64(copy + 0x20, UINT64_MAX);		/* SE header length */
	ASSERT_ERR(vmm_image_parse(copy, len, &img, err, sizeof(err)), EINVAL);
	/* Random garbage of random sizes never parses (nor crashes). */
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)((seed = seed * 6364136223846793005ULL + 1) >> 40) % (len + 1);

		for (size_t j = 0; j < n; j++)
			copy[j] = (uint8_t)((seed = seed * 6364136223846793005ULL + 1) >> 56);
		if (n >= 8)
			memcpy(copy, VMM_IMAGE_MAGIC, 8);
		ASSERT_NE(vmm_image_parse(copy, n, &img, err, sizeof(err)), 0);
	}
	/* Pages are the UV's business: a flipped page bit still parses. */
	memcpy(copy, buf, len);
	copy[len - 1] ^= 0x80;
	ASSERT_OK(vmm_image_parse(copy, len, &img, err, sizeof(err)));
	free(copy);
	free(buf);
	return 0;
}

TEST_IMPL(vmm_program_specs)
{
	char err[200], longspec[400];

	ASSERT_OK(vmm_program_check("touch", err, sizeof(err)));
	ASSERT_OK(vmm_program_check("touch:mib=8,rounds=3,then=reset1", err, sizeof(err)));
	ASSERT_OK(vmm_program_check("memtest:ops=10,seed=0x1f,then=clear", err, sizeof(err)));
	ASSERT_OK(vmm_program_check("io:pages=4,then=poweroff", err, sizeof(err)));
	ASSERT_OK(vmm_program_check("idle", err, sizeof(err)));
	ASSERT_ERR(vmm_program_check("nosuch", err, sizeof(err)), ENOENT);
	ASSERT_NOT_NULL(strstr(err, "nosuch"));
	ASSERT_ERR(vmm_program_check("", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check(":mib=1", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:mib", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:mib=0", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:mib=-1", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:rounds=1x", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:then=explode", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("touch:pages=1", err, sizeof(err)), EINVAL);
	ASSERT_NOT_NULL(strstr(err, "pages"));
	ASSERT_ERR(vmm_program_check("idle:rounds=2", err, sizeof(err)), EINVAL);
	ASSERT_ERR(vmm_program_check("io:bogus=1", err, sizeof(err)), EINVAL);
	memset(longspec, 'a', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	ASSERT_ERR(vmm_program_check(longspec, err, sizeof(err)), ENAMETOOLONG);
	memcpy(longspec, "touch:", 6);
	ASSERT_ERR(vmm_program_check(longspec, err, sizeof(err)), ENAMETOOLONG);
	return 0;
}

/* A page changed after mkimage: UNPACK decrypts garbage and VERIFY (or
 * the import's integrity check) refuses it; the VMM ends with an error,
 * nothing leaks. */
TEST_IMPL(vmm_image_tampered_page_fails_boot)
{
	struct vmm_result res;
	struct vt t;
	uint8_t *pages;

	vt_setup(&t, NULL, "touch:then=poweroff", 64 * 1024, 16, 1);
	pages = (uint8_t *)t.image.pages;
	pages[3 * HW_PAGE_SIZE + 100] ^= 0x01;
	vt_run(&t, &res, 1);
	ASSERT_EQ(res.boots, 0);	/* no guest ever ran */
	ASSERT_NE(res.error, 0);
	ASSERT_NOT_NULL(strstr(res.message, "KVM_PV_"));
	vt_teardown(&t);
	return 0;
}

/* An image for another UV: SET_SEC_PARMS fails (no key slot opens). */
TEST_IMPL(vmm_image_foreign_key_fails_boot)
{
	uint8_t priv[UV_HOST_KEY_LEN], pub[UV_HOST_KEY_LEN];
	struct vmm_image other;
	struct vmm_result res;
	void *buf;
	size_t len;
	char err[200];
	struct vt t;

	vt_setup(&t, NULL, "touch:then=poweroff", 64 * 1024, 16, 1);
	vmm_host_key_from_seed("somebody else", priv);
	ASSERT_OK(uv_host_key_derive_public(priv, pub));
	build(pub, "touch:then=poweroff", 64 * 1024, &buf, &len);
	ASSERT_OK(vmm_image_parse(buf, len, &other, err, sizeof(err)));
	t.cfg.image = &other;
	vt_run(&t, &res, 1);
	ASSERT_NOT_NULL(strstr(res.message, "SET_SEC_PARMS"));
	free(buf);
	vt_teardown(&t);
	return 0;
}

/*
 * What cannot be built or loaded is refused with the reason: an empty or
 * oversized payload, a program the boot page cannot hold; a file that is
 * missing, a directory, or not an image.  Nothing is left allocated.
 */
TEST_IMPL(vmm_image_build_and_load_refusals)
{
	char path[] = "/tmp/lazypv-image-XXXXXX", err[200];
	uint8_t priv[UV_HOST_KEY_LEN], pub[UV_HOST_KEY_LEN];
	static const uint8_t one = 1;
	struct vmm_image_spec spec = { .program = "idle", .nonce = 7 };
	struct vmm_image img;
	void *buf = NULL;
	size_t len = 0;
	int fd;

	vmm_host_key_from_seed(NULL, priv);
	ASSERT_OK(uv_host_key_derive_public(priv, pub));
	spec.payload = &one;
	spec.payload_len = 0;
	ASSERT_ERR(vmm_image_build(&spec, pub, &buf, &len, err, sizeof(err)),
		   EINVAL);
	ASSERT_NOT_NULL(strstr(err, "payload is empty"));
	spec.payload = NULL;
	spec.default_payload_len = VMM_IMAGE_MAX_PAGES * HW_PAGE_SIZE;
	ASSERT_ERR(vmm_image_build(&spec, pub, &buf, &len, err, sizeof(err)),
		   E2BIG);
	ASSERT_NOT_NULL(strstr(err, "too large"));
	spec.default_payload_len = 1;
	spec.program = "nosuchprogram";
	ASSERT_NE(vmm_image_build(&spec, pub, &buf, &len, err, sizeof(err)), 0);
	ASSERT_NOT_NULL(strstr(err, "nosuchprogram"));
	ASSERT_NULL(buf);

	ASSERT_ERR(vmm_image_load("/nonexistent/img", &img, err, sizeof(err)),
		   ENOENT);
	ASSERT_NOT_NULL(strstr(err, "/nonexistent/img"));
	ASSERT_ERR(vmm_image_load("/tmp", &img, err, sizeof(err)), EINVAL);
	ASSERT_NOT_NULL(strstr(err, "not a regular file"));
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "LPVSEIMG", 8), 8);
	close(fd);
	ASSERT_ERR(vmm_image_load(path, &img, err, sizeof(err)), EINVAL);
	ASSERT_NOT_NULL(strstr(err, "bad magic or shorter"));
	ASSERT_NULL(img.owned);
	unlink(path);
	return 0;
}
