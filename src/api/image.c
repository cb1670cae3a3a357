// SPDX-License-Identifier: MIT
/*
 * image.c - the public API's images, host keys and guest programs: what a
 * caller needs before (or without) a host -- build an SE image for a host
 * key, read one from a file, say what it holds, check a program spec --
 * over the VMM's image format and program table.
 *
 * struct lpv_image owns the image's bytes and the parsed view of them
 * (struct vmm_image points into the bytes).  It is written only while
 * being made; afterwards every reader (VMs booting from it, any thread)
 * only reads, so it needs no lock.
 */
#include "api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(LPV_HOST_KEY_LEN == UV_HOST_KEY_LEN,
	       "the public header's key length is the UV's");
_Static_assert(LPV_DEFAULT_PAYLOAD_BYTES == VMM_IMAGE_DEFAULT_PAYLOAD,
	       "the public header's default payload is the VMM's");
_Static_assert(LPV_MAX_CPUS == VMM_MAX_CPUS,
	       "the public header's CPU limit is the VMM's");
_Static_assert(sizeof(LPV_DEFAULT_SEED) == sizeof(VMM_DEFAULT_UV_SEED),
	       "the public header's default seed is the VMM's");
_Static_assert(LPV_PAGE_SIZE == HW_PAGE_SIZE, "one page size");
_Static_assert(LPV_REBOOT_HOST == VMM_RESET_EXTERNAL,
	       "the public header's host reset is the VMM's");

/* ---- host keys ---- */

int lpv_host_key_from_seed(const char *seed, uint8_t key[LPV_HOST_KEY_LEN])
{
	int r;

	if (!key)
		return api_fail(NULL, NULL, -EINVAL,
				"lpv_host_key_from_seed: NULL key");
	r = vmm_host_key_public_from_seed(seed, key);
	if (r)
		return api_fail(NULL, NULL, r, "deriving the host key: %s",
				lpv_strerror(r));
	return 0;
}

int lpv_host_key_parse(const char *hex, uint8_t key[LPV_HOST_KEY_LEN])
{
	if (!hex || !key)
		return api_fail(NULL, NULL, -EINVAL,
				"lpv_host_key_parse: NULL %s",
				!hex ? "text" : "key");
	if (vmm_host_key_parse(hex, key))
		return api_fail(NULL, NULL, -EINVAL,
				"a host key is %d hex digits", 2 * LPV_HOST_KEY_LEN);
	return 0;
}

/* ---- images ---- */

static int api_image_new(void *buf, size_t len, struct lpv_image **out)
{
	char err[API_MSG_LEN] = "";
	struct lpv_image *img = calloc(1, sizeof(*img));
	int r;

	if (!img) {
		free(buf);
		return api_fail(NULL, NULL, -ENOMEM, "out of memory");
	}
	img->buf = buf;
	img->len = len;
	r = vmm_image_parse(buf, len, &img->vi, err, sizeof(err));
	if (r) {
		lpv_image_destroy(img);
		return api_fail(NULL, NULL, r, "%s", err);
	}
	*out = img;
	return 0;
}

int lpv_image_build(const struct lpv_image_spec *spec,
		    const uint8_t key[LPV_HOST_KEY_LEN], struct lpv_image **out)
{
	char err[API_MSG_LEN] = "";
	struct vmm_image_spec vs;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (out)
		*out = NULL;
	if (!spec || !key || !out || !spec->program)
		return api_fail(NULL, NULL, -EINVAL, "lpv_image_build: NULL %s",
				!spec ? "spec" : !key ? "key" : !out ?
				"out-pointer" : "program");
	vs = (struct vmm_image_spec){
		.program = spec->program,
		.payload = spec->payload,
		.payload_len = spec->payload_len,
		.default_payload_len = spec->payload_bytes,
		.nonce = spec->nonce,
	};
	r = vmm_image_build(&vs, key, &buf, &len, err, sizeof(err));
	if (r)
		return api_fail(NULL, NULL, r, "%s", err[0] ? err :
				lpv_strerror(r));
	return api_image_new(buf, len, out);
}

/* The largest file that can be an image. */
#define API_IMAGE_MAX_FILE						\
	(VMM_IMAGE_HDR_LEN + VMM_IMAGE_MAX_SE_HEADER + HW_PAGE_SIZE +	\
	 VMM_IMAGE_MAX_PAGES * HW_PAGE_SIZE)

int lpv_image_load(const char *path, struct lpv_image **out)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, r;

	if (out)
		*out = NULL;
	if (!path || !out)
		return api_fail(NULL, NULL, -EINVAL, "lpv_image_load: NULL %s",
				!path ? "path" : "out-pointer");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return api_fail(NULL, NULL, r, "%s: %s", path, lpv_strerror(r));
	}
	if (fstat(fd, &st)) {
		r = api_fail(NULL, NULL, -errno, "%s: %s", path,
			     lpv_strerror(-errno));
		goto out_fd;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > API_IMAGE_MAX_FILE) {
		r = api_fail(NULL, NULL, -EINVAL,
			     "%s: not a regular file of a plausible size", path);
		goto out_fd;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		r = api_fail(NULL, NULL, -ENOMEM, "%s: out of memory", path);
		goto out_fd;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0) {
			r = n ? -errno : -EIO;
			free(buf);
			api_fail(NULL, NULL, r, "%s: read: %s", path,
				 lpv_strerror(r));
			goto out_fd;
		}
		done += (size_t)n;
	}
	r = api_image_new(buf, done, out);
	if (r) {
		char why[API_MSG_LEN];

		/* The message names the file. */
		snprintf(why, sizeof(why), "%s", lpv_last_error());
		api_fail(NULL, NULL, r, "%s: %s", path, why);
	}
out_fd:
	close(fd);
	return r;
}

void lpv_image_destroy(struct lpv_image *img)
{
	if (!img)
		return;
	free(img->buf);
	free(img);
}

int lpv_image_info(const struct lpv_image *img, struct lpv_image_info *out)
{
	if (!img || !out)
		return api_fail(NULL, NULL, -EINVAL, "lpv_image_info: NULL %s",
				!img ? "image" : "out-pointer");
	*out = (struct lpv_image_info){
		.bytes = img->len,
		.pages = img->vi.nr_pages,
		.se_header_bytes = img->vi.se_header_len,
		.guest_end = img->vi.guest_end,
	};
	memcpy(out->host_key, img->vi.host_pub, LPV_HOST_KEY_LEN);
	return 0;
}

const void *lpv_image_data(const struct lpv_image *img, size_t *len)
{
	if (len)
		*len = img ? img->len : 0;
	if (!img)
		api_fail(NULL, NULL, -EINVAL, "lpv_image_data: NULL image");
	return img ? img->buf : NULL;
}

/* ---- guest programs ---- */

const char *lpv_program_names(void)
{
	return vmm_program_names();
}

int lpv_program_check(const char *spec)
{
	char err[API_MSG_LEN] = "";
	int r;

	if (!spec)
		return api_fail(NULL, NULL, -EINVAL, "lpv_program_check: NULL spec");
	r = vmm_program_check(spec, err, sizeof(err));
	return r ? api_fail(NULL, NULL, r, "%s", err) : 0;
}

int lpv_program_check_fit(const char *spec, uint64_t guest_mem,
			  unsigned int cpus, uint64_t image_pages)
{
	char err[API_MSG_LEN] = "";
	int r;

	if (!spec)
		return api_fail(NULL, NULL, -EINVAL,
				"lpv_program_check_fit: NULL spec");
	r = vmm_program_check_fit(spec, guest_mem, cpus, image_pages, err,
				  sizeof(err));
	return r ? api_fail(NULL, NULL, r, "%s", err) : 0;
}
