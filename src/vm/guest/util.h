/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the agent and the actor programs (daxlab-agent and
 * daxlab-verbs link them both): the guest clock, text files, JSON.
 */
#ifndef DAXLAB_UTIL_H
#define DAXLAB_UTIL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* clock.c: guest CLOCK_MONOTONIC in seconds (what every message's "t" is). */
double mono_now(void);

/* textfile.c: a small file (/proc, /sys) as a string, trailing newlines and spaces cut. */
char *read_text(const char *path, size_t max);
int write_text(const char *path, const char *text);

/* json.c: read a member with a default when it is absent (or null, or the wrong type). */
const char *jstr(struct json_object *o, const char *key, const char *dflt);
long long jint(struct json_object *o, const char *key, long long dflt);
int jbool(struct json_object *o, const char *key, int dflt);
void jset(struct json_object *o, const char *key, struct json_object *v);
/* "0x..." strings: addresses and pfns do not fit a JSON double. */
struct json_object *jhex(uint64_t v);
/* Milliseconds with microsecond resolution, printed as such. */
struct json_object *jms(double seconds);
/* Guest monotonic seconds, printed to the nanosecond (not as %.17g). */
struct json_object *jtime(double t);

#endif
