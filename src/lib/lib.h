/* SPDX-License-Identifier: MIT */
/*
 * lib.h - small shared helpers every layer may use: lock wrappers that abort
 * on pthread misuse (kvmtool style), atomics named for their ordering,
 * tiered assertions, warn-once, trace events and size parsing.  Nothing here
 * knows about any layer.
 */
#ifndef LAZYPV_LIB_H
#define LAZYPV_LIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lazypv/compiler.h"

/* ---- assertions ---- */

void lpv_bug(const char *file, int line, const char *cond) __noreturn;
bool lpv_warn(const char *file, int line, const char *cond, bool *once);

/* Always-on cheap assertion: a broken invariant that must never happen. */
#define BUG_ON(c) \
	do { if (unlikely(c)) lpv_bug(__FILE__, __LINE__, #c); } while (0)
/* Debug-tier assertion (LAZYPV_DEBUG builds only; still type-checks). */
#define DEBUG_ASSERT(c) \
	do { if (LPV_DEBUG && unlikely(!(c))) lpv_bug(__FILE__, __LINE__, #c); } while (0)
/* Report once per call site, keep going; evaluates to the condition. */
#define WARN_ON_ONCE(c) ({						\
	static bool __warned;						\
	bool __c = !!(c);						\
	if (unlikely(__c)) lpv_warn(__FILE__, __LINE__, #c, &__warned);	\
	__c;								\
})

/* Report once per call site with a message; evaluates to the condition. */
#define WARN_ONCE(c, ...) ({						\
	static bool __warned;						\
	bool __c = !!(c);						\
	if (unlikely(__c) &&						\
	    !__atomic_exchange_n(&__warned, true, __ATOMIC_RELAXED)) {	\
		fprintf(stderr, "lazypv: WARNING at %s:%d: ", __FILE__,	\
			__LINE__);					\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
	__c;								\
})

/* ---- locks: abort on any pthread error (misuse is a bug) ---- */

struct lpv_mutex {
	pthread_mutex_t m;
	pthread_t owner;	/* for lpv_mutex_assert_held() in debug builds */
	bool held;
};
struct lpv_rwlock { pthread_rwlock_t l; };
struct lpv_cond { pthread_cond_t c; };

void lpv_mutex_init(struct lpv_mutex *m);
void lpv_mutex_deinit(struct lpv_mutex *m);
void lpv_mutex_lock(struct lpv_mutex *m);
bool lpv_mutex_trylock(struct lpv_mutex *m);
void lpv_mutex_unlock(struct lpv_mutex *m);
bool lpv_mutex_is_held(const struct lpv_mutex *m);
#define lpv_mutex_assert_held(m) DEBUG_ASSERT(lpv_mutex_is_held(m))

void lpv_rwlock_init(struct lpv_rwlock *l);
void lpv_rwlock_deinit(struct lpv_rwlock *l);
void lpv_read_lock(struct lpv_rwlock *l);
void lpv_read_unlock(struct lpv_rwlock *l);
bool lpv_read_trylock(struct lpv_rwlock *l);	/* false if write-held */
void lpv_write_lock(struct lpv_rwlock *l);
void lpv_write_unlock(struct lpv_rwlock *l);

void lpv_cond_init(struct lpv_cond *c);
void lpv_cond_deinit(struct lpv_cond *c);
void lpv_cond_wait(struct lpv_cond *c, struct lpv_mutex *m);
/* Wait until @deadline_ns (CLOCK_MONOTONIC); false on timeout. */
bool lpv_cond_wait_until(struct lpv_cond *c, struct lpv_mutex *m,
			 uint64_t deadline_ns);
void lpv_cond_signal(struct lpv_cond *c);
void lpv_cond_broadcast(struct lpv_cond *c);

/* ---- atomics, named for their ordering ---- */

#define atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define atomic_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define atomic_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define atomic_add_relaxed(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define atomic_sub_relaxed(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)
/* Full-barrier read-modify-write (refcounts and counters others wait on). */
#define atomic_add_return(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define atomic_sub_return(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)
#define atomic_cmpxchg(p, oldp, new) \
	__atomic_compare_exchange_n((p), (oldp), (new), false, \
				    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)
#define atomic_fetch_or(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define atomic_fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)

/* ---- time ---- */

uint64_t lpv_now_ns(void);	/* CLOCK_MONOTONIC */
void lpv_sleep_ns(uint64_t ns);	/* a real sleep: only for bounded waits */

/* ---- trace events ---- */

/*
 * Greppable one-line events ("PV DESTROY VM: handle %llx rc %x rrc %x").
 * Off unless LAZYPV_TRACE=1 in the environment or lpv_trace_enable(true).
 */
extern bool lpv_trace_on;
void lpv_trace_enable(bool on);
void lpv_trace_printf(const char *fmt, ...) __printf_like(1, 2);
#define lpv_trace(...) \
	do {								\
		if (unlikely(__atomic_load_n(&lpv_trace_on, __ATOMIC_RELAXED))) \
			lpv_trace_printf(__VA_ARGS__);			\
	} while (0)

/* ---- error messages ---- */

/* printf into a caller's error buffer; a NULL or empty buffer is fine. */
void lpv_seterr(char *err, size_t errlen, const char *fmt, ...)
	__printf_like(3, 4);

/* ---- sizes ---- */

/*
 * Parse "4096", "64K", "256M", "1G", "1.5G" (binary units, case-insensitive,
 * optional trailing "iB"/"B").  0 or -EINVAL (garbage) / -ERANGE (overflow).
 */
int lpv_parse_size(const char *s, uint64_t *out) __must_check;
/* Format bytes as "1.50 GiB" into @buf (returns @buf). */
const char *lpv_format_size(uint64_t bytes, char *buf, size_t len);

/* ---- big tables ---- */

/*
 * Zeroed memory for a large per-frame or per-page table (the mm's struct
 * pages, the UV's frame words, page tables), asking for transparent huge
 * pages: a walk over gigabytes of guest touches a new 4 KiB page of each
 * table at every step, and on a nested VM each TLB miss is a two-level
 * page walk.  Small tables come from calloc.  Free with lpv_free_table()
 * and the same count and size.  NULL on failure or overflow.
 */
void *lpv_alloc_table(size_t n, size_t size);
void lpv_free_table(void *p, size_t n, size_t size);

/* ---- JSON output helpers (for stats dumps) ---- */

void lpv_json_str(FILE *f, const char *s);	/* quoted, escaped */

#endif /* LAZYPV_LIB_H */
