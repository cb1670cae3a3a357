// SPDX-License-Identifier: MIT
/*
 * clock.c - the firmware cost clock.
 *
 * IBM publishes no per-call costs for Ultravisor calls, so lazypv models
 * them: each UVC spends a configured number of nanoseconds of *CPU time* on
 * the calling thread, the way a real UVC occupies the CPU that issued it.
 * hw_cost_spend() busy-waits on CLOCK_MONOTONIC (vDSO, ~25 ns per read on
 * the development machine), so its error is one clock read plus the pause;
 * it does not sleep, because a sleeping caller would free the CPU for the
 * cleanup threads and make the model optimistic.  Thread-safe, no state.
 */
#include "hw.h"

#include <time.h>

#include "lib/lib.h"

uint64_t hw_now_ns(void)
{
	return lpv_now_ns();
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void hw_cost_spend(uint64_t ns)
{
	uint64_t start;

	if (!ns)
		return;
	start = lpv_now_ns();
	while (lpv_now_ns() - start < ns)
		cpu_relax();
}
