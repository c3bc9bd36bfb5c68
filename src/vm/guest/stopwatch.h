/* SPDX-License-Identifier: MIT */
/* The sampler's stopwatch: what each part of a snapshot costs (stopwatch.c). */
#ifndef DAXLAB_STOPWATCH_H
#define DAXLAB_STOPWATCH_H

#include <stdbool.h>
#include <stdint.h>

struct stopwatch {
	uint64_t tsc0, tsc;	/* at the start, at the last lap */
	unsigned int cpu0, cpu;
	double mono0, mono;	/* the same with the clock, when there is no usable TSC */
	bool moved;		/* a lap crossed CPUs: its time is unknown */
};

/* Calibrate once (20 ms); without RDTSCP or a sane rate the clock is used. */
void stopwatch_init(void);
void stopwatch_start(struct stopwatch *sw);
/* Microseconds since the last lap (or the start); -1 when the agent changed CPUs in between. */
int64_t stopwatch_lap(struct stopwatch *sw);
/* Microseconds since the start; -1 when on another CPU than at the start. */
int64_t stopwatch_total(struct stopwatch *sw);

#endif
