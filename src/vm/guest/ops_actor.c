// SPDX-License-Identifier: MIT
/* Ops on the actor itself: sleep, exit. */
#include <errno.h>
#include <time.h>

#include "ops.h"

long long op_sleep(struct json_object *req, struct outcome *o)
{
	long long ms = jint(req, "ms", -1);
	struct timespec until;

	if (ms < 0)
		return refuse(o, "sleep needs ms >= 0");
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	/* Signals the actor reports interrupt the sleep: go back to it. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	return 0;
}

/* The status to exit with; the loop exits after reporting "end" (ends_actor in the table). */
long long op_exit(struct json_object *req, struct outcome *o)
{
	(void)o;
	return jint(req, "status", 0);
}
