// SPDX-License-Identifier: MIT
/*
 * The sampler's stopwatch. clock_gettime() is a system call and an HPET read in
 * a TCG guest, which marks its TSCs unsynchronized and falls back to the HPET:
 * ~10 us each, and a snapshot timed its dozen parts with it. The TSC of the CPU
 * we run on costs nothing: it is scaled once against CLOCK_MONOTONIC, and a lap
 * during which the agent moved to another CPU (whose TSC may be offset) is
 * reported as unknown rather than guessed. The snapshot's own time stamp stays
 * CLOCK_MONOTONIC, the clock events are stamped with.
 */
#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include "stopwatch.h"
#include "util.h"

static double tsc_per_us;	/* 0: time with the clock */

static uint64_t tsc_read(unsigned int *cpu)
{
	return __rdtscp(cpu);
}

void stopwatch_init(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (tsc_per_us || !__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) || !(edx & (1U << 27)))
		return;
	for (int tries = 0; tries < 3; tries++) {
		struct timespec pause = { 0, 20 * 1000 * 1000 };
		unsigned int cpu0, cpu1;
		uint64_t c0 = tsc_read(&cpu0), c1;
		double m0 = mono_now(), m1, rate;

		nanosleep(&pause, NULL);
		m1 = mono_now();
		c1 = tsc_read(&cpu1);
		rate = (double)(c1 - c0) / ((m1 - m0) * 1e6);
		/* the same CPU at both ends, and a rate between 100 MHz and 10 GHz */
		if (cpu0 == cpu1 && c1 > c0 && rate > 100 && rate < 10000) {
			tsc_per_us = rate;
			return;
		}
	}
}

void stopwatch_start(struct stopwatch *sw)
{
	sw->moved = false;
	if (tsc_per_us) {
		sw->tsc0 = sw->tsc = tsc_read(&sw->cpu0);
		sw->cpu = sw->cpu0;
	} else {
		sw->mono0 = sw->mono = mono_now();
	}
}

int64_t stopwatch_lap(struct stopwatch *sw)
{
	unsigned int cpu;
	uint64_t t;
	int64_t us;

	if (!tsc_per_us) {
		double m = mono_now();

		us = (int64_t)((m - sw->mono) * 1e6);
		sw->mono = m;
		return us;
	}
	t = tsc_read(&cpu);
	us = cpu == sw->cpu && t >= sw->tsc ? (int64_t)((t - sw->tsc) / tsc_per_us) : -1;
	sw->moved |= us < 0;
	sw->tsc = t;
	sw->cpu = cpu;
	return us;
}

int64_t stopwatch_total(struct stopwatch *sw)
{
	unsigned int cpu;
	uint64_t t;

	if (!tsc_per_us)
		return (int64_t)((mono_now() - sw->mono0) * 1e6);
	t = tsc_read(&cpu);
	if (cpu == sw->cpu0 && t >= sw->tsc0)
		return (int64_t)((t - sw->tsc0) / tsc_per_us);
	return -1;	/* on another CPU now: the caller asks the clock */
}
