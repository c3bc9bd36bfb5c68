/* SPDX-License-Identifier: MIT */
/* modload.c: the pseudo filesystems and the profile's modules, at the agent's start. */
#ifndef DAXLAB_MODLOAD_H
#define DAXLAB_MODLOAD_H

#include <json-c/json.h>
#include <stddef.h>

/* proc, sys, devtmpfs, run, tmp, tracefs, debugfs (what init.sh mounted with busybox). */
void early_mounts(void);
/* Start loading the kernel command line's daxlab.modules= in the background. */
void modules_start(void);
/*
 * Wait for the loaders; then load what @wanted names (the host's list: "?name" soft)
 * that they did not. Adds modules (ms, loaders' span), moduleWait and moduleLoads to
 * @timings. -1 with @err when a module that is not a softdep did not load.
 */
int modules_wait(struct json_object *wanted, struct json_object *timings, char *err, size_t errlen);

#endif
