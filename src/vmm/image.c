// SPDX-License-Identifier: MIT
/*
 * image.c - the SE image file: building it (`lazypv mkimage`, or `lazypv
 * run` in-process) and parsing it (every boot; fuzzed).
 *
 * Layout, all integers little-endian:
 *
 *   0x000  file header (VMM_IMAGE_HDR_LEN bytes)
 *            0x00 magic "LPVSEIMG"     0x08 u32 version  0x0c u32 hdr len
 *            0x10 u64 psw mask         0x18 u64 psw addr
 *            0x20 u64 SE header length 0x28 u64 SE header offset (0x100)
 *            0x30 u64 pages offset     0x38 u64 number of pages
 *            0x40 u32 components       0x44 u32 flags (0)
 *            0x48 host public key (32 bytes: the UV it was built for)
 *            0x68 components[4] {u64 gaddr, u64 pages, u64 tweak}
 *            0xc8 reserved (0)         0xf8 u64 FNV-1a of 0x00..0xf8 + SE hdr
 *   0x100  the SE header (uv_image_builder_header: key slots, digests)
 *   4 KiB aligned: the encrypted pages, component after component
 *
 * Component 0 is the boot descriptor (guest page 0), component 1 the
 * payload right after it.  The checksum only catches accidents early with a
 * clear message; integrity against an attacker is the UV's business (the
 * SE header is authenticated, VERIFY compares page digests).
 *
 * No shared state: every function works on its arguments only.
 */
#include "vmm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define OFF_MAGIC 0x00
#define OFF_VERSION 0x08
#define OFF_HDRLEN 0x0c
#define OFF_PSW 0x10
#define OFF_SE_LEN 0x20
#define OFF_SE_OFF 0x28
#define OFF_PAGES_OFF 0x30
#define OFF_NR_PAGES 0x38
#define OFF_NR_COMP 0x40
#define OFF_FLAGS 0x44
#define OFF_HOST_PUB 0x48
#define OFF_COMP 0x68
#define COMP_SIZE 24
#define OFF_RESERVED (OFF_COMP + VMM_IMAGE_MAX_COMPONENTS * COMP_SIZE)
#define OFF_CSUM 0xf8
_Static_assert(OFF_RESERVED <= OFF_CSUM, "image header layout");
_Static_assert(OFF_CSUM + 8 == VMM_IMAGE_HDR_LEN, "image header size");

/* The PSW of every image: 64-bit mode, entry at the payload. */
#define IMAGE_PSW_MASK 0x0000000180000000ULL
#define IMAGE_PSW_ADDR 0x1000ULL
/* Component tweaks (tweak[0]); distinct per component, as XTS wants. */
#define TWEAK_BOOT 0x4c50560000000001ULL
#define TWEAK_PAYLOAD 0x4c50560000000002ULL


static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t page_align(uint64_t v)
{
	return (v + HW_PAGE_SIZE - 1) & ~(uint64_t)(HW_PAGE_SIZE - 1);
}

static uint64_t image_checksum(const uint8_t *hdr, const uint8_t *se,
			       size_t se_len)
{
	return vmm_fnv1a(se, se_len, vmm_fnv1a(hdr, OFF_CSUM, VMM_FNV_INIT));
}

/* ---- host keys ---- */

void vmm_host_key_from_seed(const char *seed, uint8_t priv[UV_HOST_KEY_LEN])
{
	static const char tag[] = "lazypv host key v1:";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!seed)
		seed = VMM_DEFAULT_UV_SEED;
	/* Allocation failure of a digest context is not survivable here. */
	BUG_ON(!ctx);
	BUG_ON(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	       EVP_DigestUpdate(ctx, tag, sizeof(tag) - 1) != 1 ||
	       EVP_DigestUpdate(ctx, seed, strlen(seed)) != 1 ||
	       EVP_DigestFinal_ex(ctx, priv, &n) != 1 ||
	       n != UV_HOST_KEY_LEN);
	EVP_MD_CTX_free(ctx);
}

int vmm_host_key_public_from_seed(const char *seed,
				  uint8_t pub[UV_HOST_KEY_LEN])
{
	uint8_t priv[UV_HOST_KEY_LEN];
	int r;

	vmm_host_key_from_seed(seed, priv);
	r = uv_host_key_derive_public(priv, pub);
	explicit_bzero(priv, sizeof(priv));
	return r;
}

int vmm_host_key_parse(const char *hex, uint8_t pub[UV_HOST_KEY_LEN])
{
	if (strlen(hex) != 2 * UV_HOST_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < UV_HOST_KEY_LEN; i++) {
		unsigned int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned int)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned int)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		pub[i] = (uint8_t)v;
	}
	return 0;
}

/* ---- building ---- */

/* The default "kernel": the same bytes every time for a given length. */
static void default_payload(uint8_t *p, size_t len)
{
	uint64_t s = 0x6c617a797076ULL;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w;

		s = vmm_mix64(s);
		w = s;
		memcpy(p + i, &w, len - i < 8 ? len - i : 8);
	}
}

static int image_add_component(struct uv_image_builder *b, uint8_t *out,
			       uint64_t gaddr, uint64_t nr, uint64_t tweak,
			       const uint8_t *plain)
{
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t tw[2] = { tweak, i * HW_PAGE_SIZE };
		int r = uv_image_builder_add_page(b, gaddr + i * HW_PAGE_SIZE,
						  tw, plain + i * HW_PAGE_SIZE,
						  out + i * HW_PAGE_SIZE);

		if (r)
			return r;
	}
	return 0;
}

int vmm_image_build(const struct vmm_image_spec *spec,
		    const uint8_t host_pub[UV_HOST_KEY_LEN], void **bufp,
		    size_t *lenp, char *err, size_t errlen)
{
	const uint64_t psw[2] = { IMAGE_PSW_MASK, IMAGE_PSW_ADDR };
	uint64_t payload_len = spec->payload ? spec->payload_len
			       : spec->default_payload_len ? spec->default_payload_len
			       : VMM_IMAGE_DEFAULT_PAYLOAD;
	uint64_t payload_pages = page_align(payload_len) / HW_PAGE_SIZE;
	uint64_t nr_pages = 1 + payload_pages, nonce = spec->nonce;
	struct uv_image_builder *b = NULL;
	struct vmm_boot_desc *desc;
	uint8_t *plain = NULL, *buf = NULL;
	size_t se_len = 0, total;
	uint64_t pages_off;
	int r;

	if (!payload_len) {
		lpv_seterr(err, errlen, "the payload is empty");
		return -EINVAL;
	}

	if (nr_pages > VMM_IMAGE_MAX_PAGES) {
		lpv_seterr(err, errlen, "payload of %" PRIu64 " bytes is too large",
		       payload_len);
		return -E2BIG;
	}
	if (!nonce && getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
		nonce = vmm_mix64(lpv_now_ns());
	plain = calloc(nr_pages, HW_PAGE_SIZE);
	if (!plain) {
		lpv_seterr(err, errlen, "out of memory for a %" PRIu64 "-page image",
		       nr_pages);
		return -ENOMEM;
	}
	if (spec->payload)
		memcpy(plain + HW_PAGE_SIZE, spec->payload, payload_len);
	else
		default_payload(plain + HW_PAGE_SIZE, payload_len);
	desc = (struct vmm_boot_desc *)plain;
	r = vmm_boot_desc_init(desc, spec->program, nonce, nr_pages,
			       HW_PAGE_SIZE, payload_len,
			       vmm_fnv1a(plain + HW_PAGE_SIZE, payload_len,
					 VMM_FNV_INIT), err, errlen);
	if (r)
		goto out_plain;

	r = uv_image_builder_create((const uint8_t (*)[UV_HOST_KEY_LEN])host_pub,
				    1, psw, &b);
	if (r) {
		lpv_seterr(err, errlen, "image builder: %s", strerror(-r));
		goto out_plain;
	}
	se_len = uv_image_header_len(1);
	pages_off = page_align(VMM_IMAGE_HDR_LEN + se_len);
	total = pages_off + nr_pages * HW_PAGE_SIZE;
	buf = calloc(1, total);
	if (!buf) {
		r = -ENOMEM;
		lpv_seterr(err, errlen, "out of memory for a %zu-byte image", total);
		goto out_builder;
	}
	/* Add pages in the order KVM will unpack them: component by component. */
	r = image_add_component(b, buf + pages_off, 0, 1, TWEAK_BOOT, plain);
	if (!r)
		r = image_add_component(b, buf + pages_off + HW_PAGE_SIZE,
					HW_PAGE_SIZE, payload_pages,
					TWEAK_PAYLOAD, plain + HW_PAGE_SIZE);
	if (!r)
		r = uv_image_builder_header(b, buf + VMM_IMAGE_HDR_LEN, &se_len);
	if (r) {
		lpv_seterr(err, errlen, "encrypting the image: %s", strerror(-r));
		goto out_buf;
	}

	memcpy(buf + OFF_MAGIC, VMM_IMAGE_MAGIC, 8);
	put_le32(buf + OFF_VERSION, VMM_IMAGE_VERSION);
	put_le32(buf + OFF_HDRLEN, VMM_IMAGE_HDR_LEN);
	put_le64(buf + OFF_PSW, psw[0]);
	put_le64(buf + OFF_PSW + 8, psw[1]);
	put_le64(buf + OFF_SE_LEN, se_len);
	put_le64(buf + OFF_SE_OFF, VMM_IMAGE_HDR_LEN);
	put_le64(buf + OFF_PAGES_OFF, pages_off);
	put_le64(buf + OFF_NR_PAGES, nr_pages);
	put_le32(buf + OFF_NR_COMP, 2);
	put_le32(buf + OFF_FLAGS, 0);
	memcpy(buf + OFF_HOST_PUB, host_pub, UV_HOST_KEY_LEN);
	put_le64(buf + OFF_COMP, 0);
	put_le64(buf + OFF_COMP + 8, 1);
	put_le64(buf + OFF_COMP + 16, TWEAK_BOOT);
	put_le64(buf + OFF_COMP + COMP_SIZE, HW_PAGE_SIZE);
	put_le64(buf + OFF_COMP + COMP_SIZE + 8, payload_pages);
	put_le64(buf + OFF_COMP + COMP_SIZE + 16, TWEAK_PAYLOAD);
	put_le64(buf + OFF_CSUM, image_checksum(buf, buf + VMM_IMAGE_HDR_LEN,
						se_len));
	*bufp = buf;
	*lenp = total;
	buf = NULL;
out_buf:
	free(buf);
out_builder:
	uv_image_builder_destroy(b);
out_plain:
	/* The plaintext never leaves this function. */
	explicit_bzero(plain, nr_pages * HW_PAGE_SIZE);
	free(plain);
	return r;
}

/* ---- parsing ---- */

static int parse_components(const uint8_t *hdr, struct vmm_image *img,
			    char *err, size_t errlen)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < img->nr_components; i++) {
		const uint8_t *c = hdr + OFF_COMP + i * COMP_SIZE;
		struct vmm_image_component *comp = &img->comp[i];

		comp->gaddr = get_le64(c);
		comp->nr_pages = get_le64(c + 8);
		comp->tweak = get_le64(c + 16);
		if (comp->gaddr & (HW_PAGE_SIZE - 1) || !comp->nr_pages ||
		    comp->nr_pages > VMM_IMAGE_MAX_PAGES ||
		    comp->gaddr > VMM_IMAGE_MAX_GADDR ||
		    comp->nr_pages * HW_PAGE_SIZE > VMM_IMAGE_MAX_GADDR - comp->gaddr) {
			lpv_seterr(err, errlen, "component %u: bad address 0x%" PRIx64 " or size %" PRIu64 " pages",
			       i, comp->gaddr, comp->nr_pages);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct vmm_image_component *o = &img->comp[j];
			uint64_t end = comp->gaddr + comp->nr_pages * HW_PAGE_SIZE;
			uint64_t oend = o->gaddr + o->nr_pages * HW_PAGE_SIZE;

			if (comp->gaddr < oend && o->gaddr < end) {
				lpv_seterr(err, errlen, "components %u and %u overlap", j, i);
				return -EINVAL;
			}
			if (comp->tweak == o->tweak) {
				lpv_seterr(err, errlen, "components %u and %u share a tweak", j, i);
				return -EINVAL;
			}
		}
		sum += comp->nr_pages;
		if (comp->gaddr + comp->nr_pages * HW_PAGE_SIZE > img->guest_end)
			img->guest_end = comp->gaddr + comp->nr_pages * HW_PAGE_SIZE;
	}
	if (sum != img->nr_pages) {
		lpv_seterr(err, errlen, "components hold %" PRIu64 " pages, the header says %" PRIu64,
		       sum, img->nr_pages);
		return -EINVAL;
	}
	if (img->comp[0].gaddr != 0 || img->comp[0].nr_pages != 1) {
		lpv_seterr(err, errlen, "component 0 must be the boot page at guest address 0");
		return -EINVAL;
	}
	return 0;
}

int vmm_image_parse(const void *buf, size_t len, struct vmm_image *img,
		    char *err, size_t errlen)
{
	const uint8_t *p = buf;
	uint64_t se_len, se_off, pages_off, nr_pages, want;
	uint32_t version, hdr_len, nr_comp, flags;

	memset(img, 0, sizeof(*img));
	if (len < VMM_IMAGE_HDR_LEN || memcmp(p + OFF_MAGIC, VMM_IMAGE_MAGIC, 8)) {
		lpv_seterr(err, errlen, "not a lazypv SE image (bad magic or shorter than its header)");
		return -EINVAL;
	}
	version = get_le32(p + OFF_VERSION);
	if (version != VMM_IMAGE_VERSION) {
		lpv_seterr(err, errlen, "image version %" PRIu32 " is not supported (only %d)",
		       version, VMM_IMAGE_VERSION);
		return -EPROTONOSUPPORT;
	}
	hdr_len = get_le32(p + OFF_HDRLEN);
	se_len = get_le64(p + OFF_SE_LEN);
	se_off = get_le64(p + OFF_SE_OFF);
	pages_off = get_le64(p + OFF_PAGES_OFF);
	nr_pages = get_le64(p + OFF_NR_PAGES);
	nr_comp = get_le32(p + OFF_NR_COMP);
	flags = get_le32(p + OFF_FLAGS);
	if (hdr_len != VMM_IMAGE_HDR_LEN || se_off != VMM_IMAGE_HDR_LEN) {
		lpv_seterr(err, errlen, "bad header length %" PRIu32 " or SE header offset %" PRIu64,
		       hdr_len, se_off);
		return -EINVAL;
	}
	if (!se_len || se_len > VMM_IMAGE_MAX_SE_HEADER || se_len > len - se_off) {
		lpv_seterr(err, errlen, "bad SE header length %" PRIu64, se_len);
		return -EINVAL;
	}
	if (pages_off != page_align(se_off + se_len)) {
		lpv_seterr(err, errlen, "bad pages offset 0x%" PRIx64, pages_off);
		return -EINVAL;
	}
	if (!nr_pages || nr_pages > VMM_IMAGE_MAX_PAGES) {
		lpv_seterr(err, errlen, "bad page count %" PRIu64, nr_pages);
		return -EINVAL;
	}
	want = pages_off + nr_pages * HW_PAGE_SIZE;
	if (len != want) {
		lpv_seterr(err, errlen, "image is %zu bytes, its header says %" PRIu64 " (%s)",
		       len, want, len < want ? "truncated" : "trailing bytes");
		return -EINVAL;
	}
	if (!nr_comp || nr_comp > VMM_IMAGE_MAX_COMPONENTS || flags) {
		lpv_seterr(err, errlen, "bad component count %" PRIu32 " or flags 0x%" PRIx32,
		       nr_comp, flags);
		return -EINVAL;
	}
	for (size_t i = OFF_COMP + nr_comp * COMP_SIZE; i < OFF_CSUM; i++)
		if (p[i]) {
			lpv_seterr(err, errlen, "reserved header byte 0x%zx is not zero", i);
			return -EINVAL;
		}
	if (get_le64(p + OFF_CSUM) != image_checksum(p, p + se_off, se_len)) {
		lpv_seterr(err, errlen, "header checksum mismatch (corrupted image)");
		return -EBADMSG;
	}
	img->psw[0] = get_le64(p + OFF_PSW);
	img->psw[1] = get_le64(p + OFF_PSW + 8);
	memcpy(img->host_pub, p + OFF_HOST_PUB, UV_HOST_KEY_LEN);
	img->nr_components = nr_comp;
	img->se_header = p + se_off;
	img->se_header_len = se_len;
	img->pages = p + pages_off;
	img->nr_pages = nr_pages;
	return parse_components(p, img, err, errlen);
}

int vmm_image_load(const char *path, struct vmm_image *img, char *err,
		   size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t done = 0;
	int fd, r;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		lpv_seterr(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		lpv_seterr(err, errlen, "%s: %s", path, strerror(-r));
		goto out_fd;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size >
	    VMM_IMAGE_HDR_LEN + VMM_IMAGE_MAX_SE_HEADER + HW_PAGE_SIZE +
	    VMM_IMAGE_MAX_PAGES * HW_PAGE_SIZE) {
		r = -EINVAL;
		lpv_seterr(err, errlen, "%s: not a regular file of a plausible size", path);
		goto out_fd;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		r = -ENOMEM;
		lpv_seterr(err, errlen, "%s: out of memory", path);
		goto out_fd;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0) {
			r = n ? -errno : -EIO;
			lpv_seterr(err, errlen, "%s: read: %s", path, strerror(-r));
			goto out_buf;
		}
		done += (size_t)n;
	}
	r = vmm_image_parse(buf, done, img, err, errlen);
	if (r)
		goto out_buf;
	img->owned = buf;
	buf = NULL;
out_buf:
	free(buf);
out_fd:
	close(fd);
	return r;
}

void vmm_image_release(struct vmm_image *img)
{
	free(img->owned);
	memset(img, 0, sizeof(*img));
}
