// SPDX-License-Identifier: MIT
/*
 * The lease sampler: the leases on watched files as /proc/locks lists them, with
 * the time a breaking lease has left by the kernel's own deadline (kstate/lease.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "observer_internal.h"

static struct klease kl;
static int kl_ok;

/* Now rather than at the first lease break: it measures HZ over 200 ms. */
void lease_sampler_open(void)
{
	kl_ok = !klease_open(obs_ks, &kl);
}

/*
 * Reading /proc/locks takes file_rwsem for write (a percpu rwsem: an RCU grace
 * period each time), which is slow and disturbs every lock user in the guest.
 * Only read it when a watched inode has a lease: inode->i_flctx->flc_lease.
 */
static int any_leases(void)
{
	for (int i = 0; i < nr_watched_files; i++) {
		int ret = kl_ok ? klease_inode_has_lease(obs_ks, &kl, watched_files[i].m.host) : -1;

		if (ret)
			return 1;	/* a lease, or cannot tell: read /proc/locks */
	}
	return 0;
}

/* Milliseconds until the kernel times out the breaking lease of @pid on file @i. */
static int kernel_break_left(int i, int pid, double *ms)
{
	if (!kl_ok)
		return -1;
	return klease_break_left_ms(obs_ks, &kl, watched_files[i].m.host, pid, ms);
}

struct json_object *leases_json(double now)
{
	struct json_object *list = json_object_new_array();
	static double break_seen[MAX_FILES];
	char line[512];
	FILE *f = any_leases() ? fopen("/proc/locks", "re") : NULL;
	char *text = f ? read_text("/proc/sys/fs/lease-break-time", 32) : NULL;

	obs_calls.proc += f ? 2 : 0;
	int break_time = text ? atoi(text) : 45;
	int breaking[MAX_FILES] = { 0 };

	free(text);
	while (f && fgets(line, sizeof(line), f)) {
		char type[16], state[16], mode[16], devino[64];
		unsigned int maj, min;
		unsigned long long ino;
		int pid, n = 0;
		const char *p = line;

		line[strcspn(line, "\n")] = '\0';
		p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		if (strstr(p, "->"))
			p = strstr(p, "->") + 2;
		if (sscanf(p, "%15s %15s %15s %d %63s%n", type, state, mode, &pid, devino, &n) < 5)
			continue;
		if (sscanf(devino, "%x:%x:%llu", &maj, &min, &ino) != 3)
			continue;
		for (int i = 0; i < nr_watched_files; i++) {
			struct json_object *o;
			double left = -1;
			const char *source = NULL;

			if (watched_files[i].ino != ino || watched_files[i].dev_major != maj || watched_files[i].dev_minor != min)
				continue;
			if (!strcmp(state, "BREAKING")) {
				breaking[i] = 1;
				if (!break_seen[i])
					break_seen[i] = now;
				source = "kernel";
				if (kernel_break_left(i, pid, &left) || left < 0) {
					/* Fallback: from the first sample that saw it breaking. */
					left = break_time * 1000.0 - (now - break_seen[i]) * 1000.0;
					source = "estimate";
				}
				if (left < 0)
					left = 0;
			}
			o = json_object_new_object();
			JADD(o, "file", json_object_new_string(watched_files[i].name));
			JADD(o, "type", json_object_new_string(type));
			JADD(o, "state", json_object_new_string(strstr(line, "->") ? "BREAKER" : state));
			JADD(o, "mode", json_object_new_string(mode));
			JADD(o, "pid", json_object_new_int(pid));
			JADD(o, "breakLeftMs", left >= 0 ? json_object_new_int64((int64_t)left) : NULL);
			if (source)
				JADD(o, "breakSource", json_object_new_string(source));
			JADD(o, "raw", json_object_new_string(line));
			json_object_array_add(list, o);
		}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < MAX_FILES; i++)
		if (!breaking[i])
			break_seen[i] = 0;
	return list;
}
