/* SPDX-License-Identifier: MIT */
/*
 * uv_image.h - the part of the Ultravisor's interface that exists outside
 * any machine: the host key and the SE image format.  An image is built
 * (mkimage) for the public half of a UV's host key, possibly in another
 * process than the one that boots it; the VMM includes this header and
 * not the rest of uv.h.  Implemented in uv_image.c and uv_crypto.c.
 */
#ifndef LAZYPV_UV_IMAGE_H
#define LAZYPV_UV_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "lazypv/compiler.h"

/* ---- host keys ---- */

#define UV_HOST_KEY_LEN 32	/* X25519 */

/* The public half of a private host key. */
int uv_host_key_derive_public(const uint8_t priv[UV_HOST_KEY_LEN],
			      uint8_t pub[UV_HOST_KEY_LEN]) __must_check;

/* ---- images (the VMM's mkimage side; host never holds a data key) ---- */

/*
 * An SE image = a header (for SET_SEC_CONF_PARAMS) + pages encrypted with
 * AES-256-XTS under a random image key, tweaked per page by the UNPACK
 * tweak.  The header wraps the key for each target UV's public host key
 * (X25519 ECDH + HKDF-SHA256 + AES-256-GCM) and carries the SHA-256
 * digests of the page contents, addresses and tweaks that VERIFY_IMG
 * compares with what UNPACK_IMG saw.  Pages must be added in the order the
 * host will unpack them.
 */
struct uv_image_builder;

int uv_image_builder_create(const uint8_t (*host_pubs)[UV_HOST_KEY_LEN],
			    unsigned int nr_keys, const uint64_t psw[2],
			    struct uv_image_builder **out) __must_check;
/* Encrypt one 4 KiB page to @cipher (may equal @plain). */
int uv_image_builder_add_page(struct uv_image_builder *b, uint64_t gaddr,
			      const uint64_t tweak[2], const void *plain,
			      void *cipher) __must_check;
/* Write the header into @buf; *len gets its size (-ENOSPC if too small,
 * with *len the size needed). */
int uv_image_builder_header(struct uv_image_builder *b, void *buf,
			    size_t *len) __must_check;
void uv_image_builder_destroy(struct uv_image_builder *b);
size_t uv_image_header_len(unsigned int nr_keys);
/*
 * Which check of the image a failed SET_SEC_CONF_PARAMS, UNPACK_IMG or
 * VERIFY_IMG (@cmd) reports with @rc/@rrc ("SE header tag mismatch"), or
 * NULL if that rc is about the host's call, not the image.
 */
const char *uv_image_rc_check(uint16_t cmd, uint16_t rc, uint16_t rrc);

#endif /* LAZYPV_UV_IMAGE_H */
