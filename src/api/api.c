// SPDX-License-Identifier: MIT
/*
 * api.c - the public API's version and error contract: lpv_version,
 * lpv_strerror, and the one-line messages of failed calls -- one per
 * thread (lpv_last_error) and one per handle (lpv_host_last_error,
 * lpv_vm_last_error).
 *
 * The thread's message lives in thread-local storage; a handle's lives in
 * the handle under host->lock and is copied into the calling thread's
 * storage when read, so the pointer a caller gets is never written by
 * another thread.
 */
#include "api_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char api_thread_msg[API_MSG_LEN];
static __thread char api_handle_msg[API_MSG_LEN];

const char *lpv_version(void)
{
	return LAZYPV_VERSION;
}

unsigned int lpv_version_number(void)
{
	return LAZYPV_VERSION_NUMBER;
}

const char *lpv_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "Success";
	if (err > 0)
		return "Not a negative errno";
	/* glibc's description table: static strings, unlike strerror(). */
	s = strerrordesc_np(-err);
	return s ? s : "Unknown error";
}

const char *lpv_last_error(void)
{
	return api_thread_msg;
}

int api_fail(struct lpv_host *host, struct lpv_vm *vm, int err,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(api_thread_msg, sizeof(api_thread_msg), fmt, ap);
	va_end(ap);
	if (vm)
		host = vm->host;
	if (host) {
		lpv_mutex_lock(&host->lock);
		snprintf(vm ? vm->errmsg : host->errmsg, API_MSG_LEN, "%s",
			 api_thread_msg);
		lpv_mutex_unlock(&host->lock);
	}
	return err;
}

const char *lpv_host_last_error(struct lpv_host *host)
{
	if (!host)
		return "no host (NULL handle)";
	lpv_mutex_lock(&host->lock);
	snprintf(api_handle_msg, sizeof(api_handle_msg), "%s", host->errmsg);
	lpv_mutex_unlock(&host->lock);
	return api_handle_msg;
}

const char *lpv_vm_last_error(struct lpv_vm *vm)
{
	if (!vm)
		return "no VM (NULL handle)";
	lpv_mutex_lock(&vm->host->lock);
	snprintf(api_handle_msg, sizeof(api_handle_msg), "%s", vm->errmsg);
	lpv_mutex_unlock(&vm->host->lock);
	return api_handle_msg;
}
