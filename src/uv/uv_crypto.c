// SPDX-License-Identifier: MIT
/*
 * uv_crypto.c - the UV's cryptography, all through OpenSSL's libcrypto: the
 * host key pair (X25519), the export format of a secure page (AES-256-GCM
 * in place, per-config key, per-page nonce from guest address and export
 * version, tag kept inside the UV), the image page cipher (AES-256-XTS with
 * the UNPACK tweak), randomness, and a per-thread cipher context and
 * scratch page.
 *
 * Threads: any.  Ciphers and the host key are created at uv_create() and
 * read-only afterwards (OpenSSL allows concurrent use of fetched
 * algorithms and of a key for derivation); each thread has its own
 * EVP_CIPHER_CTX and scratch page, freed by a pthread key destructor.
 */
#include "uv_internal.h"

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

struct uv_tls {
	EVP_CIPHER_CTX *ctx;
	uint8_t scratch[HW_PAGE_SIZE];
};

static pthread_key_t uv_tls_key;
static pthread_once_t uv_tls_once = PTHREAD_ONCE_INIT;

static void uv_tls_free(void *p)
{
	struct uv_tls *t = p;

	EVP_CIPHER_CTX_free(t->ctx);
	OPENSSL_cleanse(t->scratch, sizeof(t->scratch));
	free(t);
}

static void uv_tls_key_create(void)
{
	BUG_ON(pthread_key_create(&uv_tls_key, uv_tls_free) != 0);
}

static struct uv_tls *uv_tls_get(void)
{
	struct uv_tls *t;

	pthread_once(&uv_tls_once, uv_tls_key_create);
	t = pthread_getspecific(uv_tls_key);
	if (likely(t))
		return t;
	t = calloc(1, sizeof(*t));
	BUG_ON(!t);
	t->ctx = EVP_CIPHER_CTX_new();
	BUG_ON(!t->ctx);
	BUG_ON(pthread_setspecific(uv_tls_key, t) != 0);
	return t;
}

void *uv_crypto_scratch(void)
{
	return uv_tls_get()->scratch;
}

int uv_crypto_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int uv_host_key_derive_public(const uint8_t priv[UV_HOST_KEY_LEN],
			      uint8_t pub[UV_HOST_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
						   UV_HOST_KEY_LEN);
	size_t len = UV_HOST_KEY_LEN;
	int ret = 0;

	if (!k)
		return -EINVAL;
	if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 ||
	    len != UV_HOST_KEY_LEN)
		ret = -EIO;
	EVP_PKEY_free(k);
	return ret;
}

int uv_crypto_init(struct uv *uv, const uint8_t *host_key)
{
	uint8_t priv[UV_HOST_KEY_LEN];
	size_t len = UV_HOST_KEY_LEN;
	int ret = -EIO;

	uv->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	uv->xts = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
	uv->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!uv->gcm || !uv->xts || !uv->sha256)
		goto err;
	if (host_key)
		memcpy(priv, host_key, sizeof(priv));
	else if (uv_crypto_random(priv, sizeof(priv)))
		goto err;
	uv->host_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL,
						    priv, sizeof(priv));
	OPENSSL_cleanse(priv, sizeof(priv));
	if (!uv->host_key ||
	    EVP_PKEY_get_raw_public_key(uv->host_key, uv->host_pub, &len) != 1)
		goto err;
	return 0;
err:
	uv_crypto_deinit(uv);
	return ret;
}

void uv_crypto_deinit(struct uv *uv)
{
	EVP_PKEY_free(uv->host_key);
	EVP_CIPHER_free(uv->gcm);
	EVP_CIPHER_free(uv->xts);
	EVP_MD_free(uv->sha256);
	uv->host_key = NULL;
	uv->gcm = uv->xts = NULL;
	uv->sha256 = NULL;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * Nonce: 40-bit guest page index and 56-bit export version, unique per
 * (config key, page, export).  AAD: the guest address and version again,
 * so a ciphertext moved to another address or replayed from an older
 * export fails the tag even if the nonce derivation were changed.
 */
static void uv_export_iv_aad(uint64_t gaddr, uint64_t version, uint8_t iv[12],
			     uint8_t aad[16])
{
	uint64_t gidx = gaddr >> HW_PAGE_SHIFT;

	for (int i = 4; i >= 0; i--, gidx >>= 8)
		iv[i] = (uint8_t)gidx;
	for (int i = 11; i >= 5; i--, version >>= 8)
		iv[i] = (uint8_t)version;
	put_be64(aad, gaddr);
	put_be64(aad + 8, version);
}

int uv_crypto_export(struct uv *uv, const uint8_t key[32], uint64_t gaddr,
		     uint64_t version, void *page, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = uv_tls_get()->ctx;
	uint64_t t = uv_data_begin();
	uint8_t iv[12], aad[16];
	int n, ok;

	uv_export_iv_aad(gaddr, version, iv, aad);
	ok = EVP_EncryptInit_ex2(ctx, uv->gcm, key, iv, NULL) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &n, aad, sizeof(aad)) == 1 &&
	     EVP_EncryptUpdate(ctx, page, &n, page, HW_PAGE_SIZE) == 1 &&
	     n == HW_PAGE_SIZE &&
	     EVP_EncryptFinal_ex(ctx, (uint8_t *)page + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	uv_data_end(t);
	return ok ? 0 : -EIO;
}

int uv_crypto_import(struct uv *uv, const uint8_t key[32], uint64_t gaddr,
		     uint64_t version, const void *page, void *out,
		     const uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = uv_tls_get()->ctx;
	uint64_t t0 = uv_data_begin();
	uint8_t iv[12], aad[16], t[16];
	int n, m, ret = 0;

	memcpy(t, tag, sizeof(t));
	uv_export_iv_aad(gaddr, version, iv, aad);
	if (EVP_DecryptInit_ex2(ctx, uv->gcm, key, iv, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, page, HW_PAGE_SIZE) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, t) != 1) {
		ret = -EIO;
	} else if (EVP_DecryptFinal_ex(ctx, (uint8_t *)out + n, &m) != 1) {
		/* The plaintext in @out is only used when the tag verifies. */
		OPENSSL_cleanse(out, HW_PAGE_SIZE);
		ret = -EBADMSG;
	}
	uv_data_end(t0);
	return ret;
}

int uv_crypto_xts(EVP_CIPHER *xts, const uint8_t key[UV_XTS_KEY_LEN],
		  const uint64_t tweak[2], const void *in, void *out,
		  bool encrypt)
{
	EVP_CIPHER_CTX *ctx = uv_tls_get()->ctx;
	uint8_t iv[16];
	int n, m, ok;

	put_be64(iv, tweak[0]);
	put_be64(iv + 8, tweak[1]);
	ok = EVP_CipherInit_ex2(ctx, xts, key, iv, encrypt ? 1 : 0, NULL) == 1 &&
	     EVP_CipherUpdate(ctx, out, &n, in, HW_PAGE_SIZE) == 1 &&
	     EVP_CipherFinal_ex(ctx, (uint8_t *)out + n, &m) == 1;
	return ok ? 0 : -EIO;
}
