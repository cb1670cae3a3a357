// SPDX-License-Identifier: MIT
/*
 * clock.c - the firmware cost clock.
 *
 * IBM publishes no per-call costs for Ultravisor calls, so lazypv models
 * them: each UVC spends a configured number of nanoseconds of *CPU time* on
 * the calling thread, the way a real UVC occupies the CPU that issued it.
 * hw_cost_spend() busy-waits on CLOCK_MONOTONIC (vDSO, ~25 ns per read on
 * the development machine); it does not sleep, because a sleeping caller
 * would free the CPU for the cleanup threads and make the model optimistic.
 *
 * A spin ends at the first clock read past its deadline, so every call
 * overshoots by part of a loop iteration (a clock read and a pause, ~45 ns
 * here) and now and then by an interrupt that lands at its end: left
 * alone, a modelled 800 ns call cost ~940 ns in a teardown (measured), and
 * every per-page figure was measured against a dearer firmware than the
 * profile names.  So each thread carries its overshoot into its next spin,
 * which is that much shorter: over many calls the time spent matches the
 * profile.  The carry is capped (HW_COST_CARRY_MAX_NS): a long preemption
 * in a spin is the machine's noise, not firmware time, and is not paid
 * back.  One call may thus end up to the cap early; the sum of a thread's
 * calls never falls short of what they asked for by more than the cap.
 */
#include "hw.h"

#include <time.h>

#include "lib/lib.h"

/* Overshoot of this thread's earlier spins not yet taken off a later one. */
static _Thread_local uint64_t hw_cost_carry;

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

uint64_t hw_cost_spend_since(uint64_t start, uint64_t ns)
{
	uint64_t now, want, carry = hw_cost_carry;

	if (!ns)
		return 0;
	want = ns > carry ? ns - carry : 0;
	/* @start is the caller's last read: no second read before the
	 * first pause (nothing to spend returns @start). */
	now = start;
	while (now - start < want) {
		cpu_relax();
		now = lpv_now_ns();
	}
	/* Spent (now - start) >= want = ns - carry, or carry >= ns (then
	 * now - start is >= 0 anyway): what remains is >= 0 either way. */
	carry = carry + (now - start) - ns;
	hw_cost_carry = carry < HW_COST_CARRY_MAX_NS ? carry : HW_COST_CARRY_MAX_NS;
	return now;
}

uint64_t hw_cost_spend(uint64_t ns)
{
	return ns ? hw_cost_spend_since(lpv_now_ns(), ns) : 0;
}
