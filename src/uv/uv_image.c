// SPDX-License-Identifier: MIT
/*
 * uv_image.c - the SE image header: its byte format, the parser the UV runs
 * on SET_SEC_CONF_PARAMS (which must survive any input: it is fuzzed), and
 * the builder the VMM's mkimage uses.  The builder only ever sees the
 * UV's *public* host key; the data key it invents is wrapped for that key
 * and forgotten.
 *
 * Threads: the parser is reentrant (its state is on the stack, keys come
 * from the read-only UV); a builder is used by one thread at a time.
 *
 * Format (all integers big-endian, offsets in bytes):
 *   0x00  8  magic "LPVSEHDR"
 *   0x08  4  version 0x100
 *   0x0c  4  header length (whole header, tag included)
 *   0x10  4  nks: key slots, 1..UV_IMG_MAX_SLOTS
 *   0x14  4  reserved, 0
 *   0x18  8  nep: number of encrypted pages
 *   0x20 32  builder's ephemeral X25519 public key
 *   0x40 12  IV of the encrypted part; 0x4c 4 reserved, 0
 *   0x50 32  PLD  SHA-256 over the plaintext of every page, in order
 *   0x70 32  ALD  SHA-256 over every guest address (8 bytes each)
 *   0x90 32  TLD  SHA-256 over every tweak (16 bytes each)
 *   0xb0     nks slots of 80: SHA-256 of the host public key (32),
 *            the header key wrapped with AES-256-GCM (32 + tag 16) under
 *            HKDF-SHA256(X25519(builder, host), salt, info = builder
 *            public || host public)
 *   then     encrypted part (80): XTS key (64) || PSW (16), AES-256-GCM
 *            under the header key, AAD = every byte before it
 *   then     its tag (16)
 */
#include "uv_internal.h"

#include <openssl/crypto.h>
#include <openssl/kdf.h>

#define UV_IMG_MAGIC "LPVSEHDR"
#define UV_IMG_VERSION 0x100
#define UV_IMG_MAX_SLOTS 16
#define UV_IMG_FIXED 0xb0
#define UV_IMG_SLOT 80
#define UV_IMG_ENC 80
#define UV_IMG_TAG 16
#define UV_IMG_SALT "lazypv-se-header-v1"

size_t uv_image_header_len(unsigned int nr_keys)
{
	return UV_IMG_FIXED + (size_t)nr_keys * UV_IMG_SLOT + UV_IMG_ENC +
	       UV_IMG_TAG;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int sha256(const void *a, size_t alen, uint8_t out[32])
{
	unsigned int n = 0;

	return EVP_Digest(a, alen, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ?
	       0 : -EIO;
}

/* Key-encryption key of one slot: HKDF over the X25519 secret. */
static int uv_img_kek(EVP_PKEY *priv, const uint8_t peer_pub[32],
		      const uint8_t builder_pub[32], const uint8_t host_pub[32],
		      uint8_t kek[32])
{
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
						     peer_pub, 32);
	EVP_PKEY_CTX *dctx = NULL, *kctx = NULL;
	uint8_t secret[32], info[64];
	size_t slen = sizeof(secret), klen = 32;
	int ret = -EIO;

	if (!peer)
		return -EINVAL;
	dctx = EVP_PKEY_CTX_new(priv, NULL);
	/* derive fails for low-order peer points (all-zero secret). */
	if (!dctx || EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, secret, &slen) != 1 || slen != 32)
		goto out;
	memcpy(info, builder_pub, 32);
	memcpy(info + 32, host_pub, 32);
	kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (!kctx || EVP_PKEY_derive_init(kctx) != 1 ||
	    EVP_PKEY_CTX_set_hkdf_md(kctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(kctx, (const uint8_t *)UV_IMG_SALT,
					sizeof(UV_IMG_SALT) - 1) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_key(kctx, secret, sizeof(secret)) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(kctx, info, sizeof(info)) != 1 ||
	    EVP_PKEY_derive(kctx, kek, &klen) != 1 || klen != 32)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(peer);
	return ret;
}

/* One-shot AES-256-GCM.  Decrypt returns -EBADMSG on a bad tag. */
static int gcm(bool enc, const uint8_t key[32], const uint8_t iv[12],
	       const uint8_t *aad, size_t aadlen, const uint8_t *in,
	       size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ret = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, iv, enc, NULL) != 1 ||
	    (aadlen && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (enc) {
		if (EVP_CipherFinal_ex(ctx, out + n, &n) == 1 &&
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1)
			ret = 0;
	} else {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
			goto out;
		ret = EVP_CipherFinal_ex(ctx, out + n, &n) == 1 ? 0 : -EBADMSG;
	}
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

uint16_t uv_image_open(struct uv *uv, const uint8_t *hdr, size_t len,
		       struct uv_image_secrets *out)
{
	static const uint8_t zero_iv[12];
	uint8_t host_hash[32], kek[32], hkey[32], plain[UV_IMG_ENC], tag[16];
	const uint8_t *slot = NULL;
	uint32_t nks;
	size_t enc_off;
	uint16_t rc = UV_SSC_RC_BAD_INTEGRITY;

	/* Format first: every length is checked before it is used. */
	if (len < uv_image_header_len(1) || memcmp(hdr, UV_IMG_MAGIC, 8) ||
	    get_be(hdr + 0x08, 4) != UV_IMG_VERSION ||
	    get_be(hdr + 0x0c, 4) != len || get_be(hdr + 0x14, 4) != 0 ||
	    get_be(hdr + 0x4c, 4) != 0)
		return UV_SSC_RC_BAD_FORMAT;
	nks = (uint32_t)get_be(hdr + 0x10, 4);
	if (nks < 1 || nks > UV_IMG_MAX_SLOTS || uv_image_header_len(nks) != len)
		return UV_SSC_RC_BAD_FORMAT;
	if (get_be(hdr + 0x18, 8) > UVF_GIDX_MASK)
		return UV_SSC_RC_BAD_FORMAT;
	enc_off = UV_IMG_FIXED + (size_t)nks * UV_IMG_SLOT;

	if (sha256(uv->host_pub, 32, host_hash))
		return UV_SSC_RC_BAD_INTEGRITY;
	for (uint32_t i = 0; i < nks && !slot; i++) {
		const uint8_t *s = hdr + UV_IMG_FIXED + (size_t)i * UV_IMG_SLOT;

		if (!CRYPTO_memcmp(s, host_hash, 32))
			slot = s;
	}
	if (!slot)
		return UV_SSC_RC_NO_KEY_SLOT;	/* not made for this host */
	memcpy(tag, slot + 64, 16);
	if (uv_img_kek(uv->host_key, hdr + 0x20, hdr + 0x20, uv->host_pub, kek) ||
	    gcm(false, kek, zero_iv, slot, 32, slot + 32, 32, hkey, tag))
		goto out;
	memcpy(tag, hdr + enc_off + UV_IMG_ENC, 16);
	if (gcm(false, hkey, hdr + 0x40, hdr, enc_off, hdr + enc_off,
		UV_IMG_ENC, plain, tag))
		goto out;
	memcpy(out->xts_key, plain, UV_XTS_KEY_LEN);
	out->psw[0] = get_be(plain + 64, 8);
	out->psw[1] = get_be(plain + 72, 8);
	memcpy(out->pld, hdr + 0x50, 32);
	memcpy(out->ald, hdr + 0x70, 32);
	memcpy(out->tld, hdr + 0x90, 32);
	out->nr_pages = get_be(hdr + 0x18, 8);
	rc = 0;
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

/* ---- the builder (mkimage side) ---- */

struct uv_image_builder {
	unsigned int nr_keys;
	uint8_t (*host_pubs)[UV_HOST_KEY_LEN];
	uint8_t xts_key[UV_XTS_KEY_LEN];
	uint64_t psw[2];
	uint64_t nr_pages;
	EVP_CIPHER *xts;
	EVP_MD_CTX *pld, *ald, *tld;
};

int uv_image_builder_create(const uint8_t (*host_pubs)[UV_HOST_KEY_LEN],
			    unsigned int nr_keys, const uint64_t psw[2],
			    struct uv_image_builder **out)
{
	struct uv_image_builder *b;

	*out = NULL;
	if (!nr_keys || nr_keys > UV_IMG_MAX_SLOTS)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->host_pubs = malloc((size_t)nr_keys * UV_HOST_KEY_LEN);
	b->xts = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
	b->pld = EVP_MD_CTX_new();
	b->ald = EVP_MD_CTX_new();
	b->tld = EVP_MD_CTX_new();
	if (!b->host_pubs || !b->xts || !b->pld || !b->ald || !b->tld ||
	    EVP_DigestInit_ex(b->pld, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(b->ald, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(b->tld, EVP_sha256(), NULL) != 1 ||
	    uv_crypto_random(b->xts_key, sizeof(b->xts_key))) {
		uv_image_builder_destroy(b);
		return -ENOMEM;
	}
	/* XTS refuses equal key halves; random halves never are, but a
	 * broken RNG must not produce an image no UV can open. */
	if (!CRYPTO_memcmp(b->xts_key, b->xts_key + 32, 32)) {
		uv_image_builder_destroy(b);
		return -EIO;
	}
	memcpy(b->host_pubs, host_pubs, (size_t)nr_keys * UV_HOST_KEY_LEN);
	b->nr_keys = nr_keys;
	if (psw) {
		b->psw[0] = psw[0];
		b->psw[1] = psw[1];
	}
	*out = b;
	return 0;
}

static void uv_img_measure(EVP_MD_CTX *pld, EVP_MD_CTX *ald, EVP_MD_CTX *tld,
			   uint64_t gaddr, const uint64_t tweak[2],
			   const void *plain)
{
	uint8_t a[8], t[16];

	put_be(a, gaddr, 8);
	put_be(t, tweak[0], 8);
	put_be(t + 8, tweak[1], 8);
	BUG_ON(EVP_DigestUpdate(pld, plain, HW_PAGE_SIZE) != 1 ||
	       EVP_DigestUpdate(ald, a, sizeof(a)) != 1 ||
	       EVP_DigestUpdate(tld, t, sizeof(t)) != 1);
}

int uv_image_builder_add_page(struct uv_image_builder *b, uint64_t gaddr,
			      const uint64_t tweak[2], const void *plain,
			      void *cipher)
{
	if (gaddr & ~HW_PAGE_MASK)
		return -EINVAL;
	uv_img_measure(b->pld, b->ald, b->tld, gaddr, tweak, plain);
	if (uv_crypto_xts(b->xts, b->xts_key, tweak, plain, cipher, true))
		return -EIO;
	b->nr_pages++;
	return 0;
}

int uv_image_builder_header(struct uv_image_builder *b, void *buf, size_t *len)
{
	static const uint8_t zero_iv[12];
	size_t need = uv_image_header_len(b->nr_keys);
	size_t enc_off = UV_IMG_FIXED + (size_t)b->nr_keys * UV_IMG_SLOT;
	uint8_t *h = buf, hkey[32], kek[32], plain[UV_IMG_ENC];
	EVP_MD_CTX *tmp = NULL;
	EVP_PKEY *eph = NULL;
	size_t publen = 32;
	unsigned int n;
	int ret = -EIO;

	if (*len < need) {
		*len = need;
		return -ENOSPC;
	}
	*len = need;
	memset(h, 0, need);
	memcpy(h, UV_IMG_MAGIC, 8);
	put_be(h + 0x08, UV_IMG_VERSION, 4);
	put_be(h + 0x0c, need, 4);
	put_be(h + 0x10, b->nr_keys, 4);
	put_be(h + 0x18, b->nr_pages, 8);
	tmp = EVP_MD_CTX_new();
	eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!tmp || !eph ||
	    EVP_PKEY_get_raw_public_key(eph, h + 0x20, &publen) != 1 ||
	    uv_crypto_random(h + 0x40, 12) || uv_crypto_random(hkey, 32))
		goto out;
	/* Digests of a copy, so the builder could go on adding pages. */
	if (EVP_MD_CTX_copy_ex(tmp, b->pld) != 1 ||
	    EVP_DigestFinal_ex(tmp, h + 0x50, &n) != 1 ||
	    EVP_MD_CTX_copy_ex(tmp, b->ald) != 1 ||
	    EVP_DigestFinal_ex(tmp, h + 0x70, &n) != 1 ||
	    EVP_MD_CTX_copy_ex(tmp, b->tld) != 1 ||
	    EVP_DigestFinal_ex(tmp, h + 0x90, &n) != 1)
		goto out;
	for (unsigned int i = 0; i < b->nr_keys; i++) {
		uint8_t *s = h + UV_IMG_FIXED + (size_t)i * UV_IMG_SLOT;

		if (sha256(b->host_pubs[i], 32, s) ||
		    uv_img_kek(eph, b->host_pubs[i], h + 0x20, b->host_pubs[i],
			       kek) ||
		    gcm(true, kek, zero_iv, s, 32, hkey, 32, s + 32, s + 64))
			goto out;
	}
	memcpy(plain, b->xts_key, UV_XTS_KEY_LEN);
	put_be(plain + 64, b->psw[0], 8);
	put_be(plain + 72, b->psw[1], 8);
	if (gcm(true, hkey, h + 0x40, h, enc_off, plain, UV_IMG_ENC,
		h + enc_off, h + enc_off + UV_IMG_ENC))
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(plain, sizeof(plain));
	EVP_PKEY_free(eph);
	EVP_MD_CTX_free(tmp);
	return ret;
}

void uv_image_builder_destroy(struct uv_image_builder *b)
{
	if (!b)
		return;
	OPENSSL_cleanse(b->xts_key, sizeof(b->xts_key));
	free(b->host_pubs);
	EVP_CIPHER_free(b->xts);
	EVP_MD_CTX_free(b->pld);
	EVP_MD_CTX_free(b->ald);
	EVP_MD_CTX_free(b->tld);
	free(b);
}

/* The UV side of the measurement: same bytes as the builder's. */
void uv_image_measure_page(struct uv_config *cfg, uint64_t gaddr,
			   const uint64_t tweak[2], const void *plain)
{
	uv_img_measure(cfg->pld, cfg->ald, cfg->tld, gaddr, tweak, plain);
}
