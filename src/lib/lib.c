// SPDX-License-Identifier: MIT
/*
 * lib.c - shared helpers: assertions, lock wrappers, time, trace, sizes.
 *
 * The lock wrappers abort on any pthread error: a failing lock operation is
 * a programming error (double unlock, destroying a held mutex), never a
 * condition to recover from.  Trace output is serialised by stdio's own
 * stream lock.
 */
#include "lib.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

void lpv_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "lazypv: BUG at %s:%d: %s\n", file, line, cond);
	fflush(stderr);
	abort();
}

bool lpv_warn(const char *file, int line, const char *cond, bool *once)
{
	if (__atomic_exchange_n(once, true, __ATOMIC_RELAXED))
		return true;
	fprintf(stderr, "lazypv: WARNING at %s:%d: %s\n", file, line, cond);
	return true;
}

static void check(int err, const char *what)
{
	if (unlikely(err)) {
		fprintf(stderr, "lazypv: %s failed: %s\n", what, strerror(err));
		abort();
	}
}

void lpv_mutex_init(struct lpv_mutex *m)
{
	pthread_mutexattr_t a;

	check(pthread_mutexattr_init(&a), "pthread_mutexattr_init");
	if (LPV_DEBUG)
		check(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK),
		      "pthread_mutexattr_settype");
	check(pthread_mutex_init(&m->m, &a), "pthread_mutex_init");
	pthread_mutexattr_destroy(&a);
	m->held = false;
}

void lpv_mutex_deinit(struct lpv_mutex *m)
{
	check(pthread_mutex_destroy(&m->m), "pthread_mutex_destroy");
}

void lpv_mutex_lock(struct lpv_mutex *m)
{
	check(pthread_mutex_lock(&m->m), "pthread_mutex_lock");
	if (LPV_DEBUG) {
		m->owner = pthread_self();
		m->held = true;
	}
}

bool lpv_mutex_trylock(struct lpv_mutex *m)
{
	int err = pthread_mutex_trylock(&m->m);

	if (err == EBUSY)
		return false;
	check(err, "pthread_mutex_trylock");
	if (LPV_DEBUG) {
		m->owner = pthread_self();
		m->held = true;
	}
	return true;
}

void lpv_mutex_unlock(struct lpv_mutex *m)
{
	if (LPV_DEBUG)
		m->held = false;
	check(pthread_mutex_unlock(&m->m), "pthread_mutex_unlock");
}

/* Only meaningful in debug builds, where the owner is tracked. */
bool lpv_mutex_is_held(const struct lpv_mutex *m)
{
	return !LPV_DEBUG || (m->held && pthread_equal(m->owner, pthread_self()));
}

void lpv_rwlock_init(struct lpv_rwlock *l)
{
	check(pthread_rwlock_init(&l->l, NULL), "pthread_rwlock_init");
}

void lpv_rwlock_deinit(struct lpv_rwlock *l)
{
	check(pthread_rwlock_destroy(&l->l), "pthread_rwlock_destroy");
}

void lpv_read_lock(struct lpv_rwlock *l)
{
	check(pthread_rwlock_rdlock(&l->l), "pthread_rwlock_rdlock");
}

bool lpv_read_trylock(struct lpv_rwlock *l)
{
	int err = pthread_rwlock_tryrdlock(&l->l);

	if (err == EBUSY)
		return false;
	check(err, "pthread_rwlock_tryrdlock");
	return true;
}

void lpv_read_unlock(struct lpv_rwlock *l)
{
	check(pthread_rwlock_unlock(&l->l), "pthread_rwlock_unlock");
}

void lpv_write_lock(struct lpv_rwlock *l)
{
	check(pthread_rwlock_wrlock(&l->l), "pthread_rwlock_wrlock");
}

void lpv_write_unlock(struct lpv_rwlock *l)
{
	check(pthread_rwlock_unlock(&l->l), "pthread_rwlock_unlock");
}

void lpv_cond_init(struct lpv_cond *c)
{
	pthread_condattr_t a;

	check(pthread_condattr_init(&a), "pthread_condattr_init");
	check(pthread_condattr_setclock(&a, CLOCK_MONOTONIC),
	      "pthread_condattr_setclock");
	check(pthread_cond_init(&c->c, &a), "pthread_cond_init");
	pthread_condattr_destroy(&a);
}

void lpv_cond_deinit(struct lpv_cond *c)
{
	check(pthread_cond_destroy(&c->c), "pthread_cond_destroy");
}

void lpv_cond_wait(struct lpv_cond *c, struct lpv_mutex *m)
{
	if (LPV_DEBUG)
		m->held = false;
	check(pthread_cond_wait(&c->c, &m->m), "pthread_cond_wait");
	if (LPV_DEBUG) {
		m->owner = pthread_self();
		m->held = true;
	}
}

bool lpv_cond_wait_until(struct lpv_cond *c, struct lpv_mutex *m,
			 uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / 1000000000ULL),
		.tv_nsec = (long)(deadline_ns % 1000000000ULL),
	};
	int err;

	if (LPV_DEBUG)
		m->held = false;
	err = pthread_cond_timedwait(&c->c, &m->m, &ts);
	if (LPV_DEBUG) {
		m->owner = pthread_self();
		m->held = true;
	}
	if (err == ETIMEDOUT)
		return false;
	check(err, "pthread_cond_timedwait");
	return true;
}

void lpv_cond_signal(struct lpv_cond *c)
{
	check(pthread_cond_signal(&c->c), "pthread_cond_signal");
}

void lpv_cond_broadcast(struct lpv_cond *c)
{
	check(pthread_cond_broadcast(&c->c), "pthread_cond_broadcast");
}

uint64_t lpv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void lpv_sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ULL),
		.tv_nsec = (long)(ns % 1000000000ULL),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

bool lpv_trace_on;

__attribute__((constructor)) static void lpv_trace_from_env(void)
{
	const char *v = getenv("LAZYPV_TRACE");

	lpv_trace_on = v && *v && strcmp(v, "0") != 0;
}

void lpv_trace_enable(bool on)
{
	__atomic_store_n(&lpv_trace_on, on, __ATOMIC_RELAXED);
}

void lpv_trace_printf(const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "[%12.6f] %s\n", (double)lpv_now_ns() / 1e9, line);
}

void lpv_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int lpv_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 'k': mult = 1ULL << 10; end++; break;
	case 'm': mult = 1ULL << 20; end++; break;
	case 'g': mult = 1ULL << 30; end++; break;
	case 't': mult = 1ULL << 40; end++; break;
	default: break;
	}
	if (mult > 1 && tolower((unsigned char)*end) == 'i')
		end++;
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v * (double)mult >= 18446744073709551616.0)
		return -ERANGE;
	/* Fractions must come out whole: "1.5K" is fine, "0.3" bytes is not. */
	if (v * (double)mult != floor(v * (double)mult))
		return -EINVAL;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

#define LPV_HUGE_SIZE (2UL << 20)
#define LPV_TABLE_MIN (1UL << 20)	/* below this: calloc */

static size_t table_bytes(size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes) ||
	    bytes > SIZE_MAX - LPV_HUGE_SIZE)
		return 0;
	return bytes;
}

void *lpv_alloc_table(size_t n, size_t size)
{
	size_t bytes = table_bytes(n, size), map, lead;
	char *p;

	if (!bytes)
		return n && size ? NULL : calloc(1, 1);
	if (bytes < LPV_TABLE_MIN)
		return calloc(n, size);
	/* Over-map by one huge page and trim, so the table starts aligned. */
	bytes = (bytes + LPV_HUGE_SIZE - 1) & ~(LPV_HUGE_SIZE - 1);
	map = bytes + LPV_HUGE_SIZE;
	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	lead = (LPV_HUGE_SIZE - ((uintptr_t)p & (LPV_HUGE_SIZE - 1))) &
	       (LPV_HUGE_SIZE - 1);
	if (lead)
		munmap(p, lead);
	if (map - lead - bytes)
		munmap(p + lead + bytes, map - lead - bytes);
	p += lead;
	(void)madvise(p, bytes, MADV_HUGEPAGE);	/* a hint: fine if refused */
	return p;
}

void lpv_free_table(void *p, size_t n, size_t size)
{
	size_t bytes = table_bytes(n, size);

	if (!p)
		return;
	if (bytes < LPV_TABLE_MIN) {
		free(p);
		return;
	}
	munmap(p, (bytes + LPV_HUGE_SIZE - 1) & ~(LPV_HUGE_SIZE - 1));
}

const char *lpv_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned int i = 0;

	while (v >= 1024 && i + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.2f %s", v, unit[i]);
	return buf;
}

void lpv_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
