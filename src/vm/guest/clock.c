// SPDX-License-Identifier: MIT
/* The guest clock every message is stamped with. */
#include <time.h>

#include "util.h"

double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
