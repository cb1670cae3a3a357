/* SPDX-License-Identifier: MIT */
/*
 * compiler.h - the few compiler attributes and helpers every layer uses.
 */
#ifndef LAZYPV_COMPILER_H
#define LAZYPV_COMPILER_H

#include <stddef.h>

#ifndef __must_check
#define __must_check __attribute__((warn_unused_result))
#endif
#define __unused_var __attribute__((unused))
#define __printf_like(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Drop a __must_check result on purpose (say why at the call site). */
#define ignore_result(x) do { if (x) { } } while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Debug-tier assertions: compiled in when LAZYPV_DEBUG is set. */
#ifdef LAZYPV_DEBUG
#define LPV_DEBUG 1
#else
#define LPV_DEBUG 0
#endif

#endif /* LAZYPV_COMPILER_H */
