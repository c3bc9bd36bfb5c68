// SPDX-License-Identifier: MIT
/*
 * The observer: snapshots of the watched pages, the locks of their files, the
 * actors' tasks and the leases, at the rate the host asks for. struct page, the
 * address_space and its rw_semaphores are read from /proc/kcore with every offset
 * taken from the running kernel's BTF (kstate/). This file opens the reader, runs
 * the sampling clock and puts a snapshot together from the samplers' parts (see
 * observer_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "observer.h"
#include "observer_internal.h"
#include "trace.h"

struct kstate *obs_ks;
static char ks_error[256];
static double interval, next_sample;
static uint64_t seq, skipped;

const char *observer_open_kstate(void)
{
	struct kstate_opts opts = { 0 };
	struct kstate_pfn_range ranges[8];
	int n;

	if (obs_ks)
		return NULL;
	obs_ks = kstate_open(&opts, ks_error, sizeof(ks_error));
	if (!obs_ks)
		return ks_error;
	n = kstate_iomem_pmem_ranges("/proc/iomem", ranges, 8);
	if (n > 0)
		kstate_set_device_ranges(obs_ks, ranges, n);
	lease_sampler_open();
	return NULL;
}

static struct json_object *vmstat_json(void)
{
	struct json_object *o = json_object_new_object();
	char name[64];
	unsigned long long value;
	FILE *f = fopen("/proc/vmstat", "re");

	while (f && fscanf(f, "%63s %llu", name, &value) == 2)
		if (!strncmp(name, "nr_foll_pin_", 12))
			json_object_object_add(o, name, json_object_new_int64(value));
	if (f)
		fclose(f);
	return o;
}

/* Microseconds since *mark; moves the mark. */
static int64_t lap(double *mark)
{
	double now = mono_now();
	int64_t us = (int64_t)((now - *mark) * 1e6);

	*mark = now;
	return us;
}

static void send_snapshot(double now)
{
	struct json_object *msg = json_object_new_object(), *list, *dropped, *cost;
	double began = mono_now(), mark = began;

	cost = json_object_new_object();
	json_object_object_add(msg, "kind", json_object_new_string("snapshot"));
	json_object_object_add(msg, "seq", json_object_new_int64(seq++));
	list = json_object_new_array();
	for (int i = 0; i < nr_watched_pages; i++)
		json_object_array_add(list, page_json(&watched_pages[i]));
	json_object_object_add(msg, "pages", list);
	json_object_object_add(cost, "pages", json_object_new_int64(lap(&mark)));
	list = json_object_new_array();
	for (int i = 0; i < nr_watched_files; i++)
		for (int k = 0; k < LOCK_KINDS; k++)
			json_object_array_add(list, lock_json(&watched_files[i], k));
	json_object_object_add(msg, "locks", list);
	json_object_object_add(cost, "locks", json_object_new_int64(lap(&mark)));
	list = json_object_new_array();
	for (int i = 0; i < actors_count(); i++) {
		const struct actor *a = actor_at(i);

		if (a->alive)
			json_object_array_add(list, task_json(a, now));
	}
	json_object_object_add(msg, "actors", list);
	json_object_object_add(cost, "actors", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "leases", leases_json(now));
	json_object_object_add(cost, "leases", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "vmstat", vmstat_json());
	json_object_object_add(cost, "vmstat", json_object_new_int64(lap(&mark)));
	dropped = json_object_new_object();
	json_object_object_add(dropped, "events", json_object_new_int64(trace_dropped()));
	json_object_object_add(dropped, "snapshots", json_object_new_int64(skipped));
	json_object_object_add(msg, "dropped", dropped);
	json_object_object_add(cost, "dropped", json_object_new_int64(lap(&mark)));
	json_object_object_add(msg, "costUs", json_object_new_int64((int64_t)((mono_now() - began) * 1e6)));
	json_object_object_add(msg, "costByPartUs", cost);
	json_object_object_add(msg, "t", json_object_new_double(now));
	channel_send(msg);
}

static void on_tick(double now)
{
	if (!interval || !obs_ks || now < next_sample)
		return;
	send_snapshot(now);
	next_sample += interval;
	if (now > next_sample) {
		/* We fell behind (a slow sample, a busy guest): count, never pile up. */
		skipped += (uint64_t)((now - next_sample) / interval) + 1;
		next_sample = now + interval;
	}
}

/* {"cmd":"observe","hz":10}; hz 0 stops. Replies with the baselines in force. */
static void cmd_observe(int id, struct json_object *req)
{
	struct json_object *v, *result;
	double hz = json_object_object_get_ex(req, "hz", &v) ? json_object_get_double(v) : 10;
	const char *kerr;

	if ((kerr = observer_open_kstate())) {
		send_error(id, "kernel-unreadable", kerr, NULL);
		return;
	}
	if (hz < 0 || hz > 50) {
		send_error(id, "observer", "hz must be between 0 and 50", NULL);
		return;
	}
	if (!fsdax_base.known)
		idle_calibrate_fsdax();
	if (!devdax_base.known)
		idle_calibrate_devdax();
	interval = hz ? 1.0 / hz : 0;
	next_sample = mono_now();
	result = json_object_new_object();
	json_object_object_add(result, "hz", json_object_new_double(hz));
	v = json_object_new_object();
	json_object_object_add(v, "fsdax", baseline_json(&fsdax_base));
	json_object_object_add(v, "devdax", baseline_json(&devdax_base));
	json_object_object_add(v, "anon", baseline_json(&anon_base));
	json_object_object_add(v, "pagecache", baseline_json(&pagecache_base));
	json_object_object_add(result, "baselines", v);
	send_reply(id, result);
}

/* One snapshot now, as the reply (tests and the self-test use it). */
static void cmd_sample(int id, struct json_object *req)
{
	const char *kerr;

	(void)req;
	if ((kerr = observer_open_kstate())) {
		send_error(id, "kernel-unreadable", kerr, NULL);
		return;
	}
	send_snapshot(mono_now());
	send_reply(id, NULL);
}

void observer_init(void)
{
	watch_init();
	agent_register_cmd("observe", cmd_observe);
	agent_register_cmd("sample", cmd_sample);
	agent_register_tick(on_tick);
}
