// SPDX-License-Identifier: MIT
/*
 * The observer: snapshots of the watched pages, the locks of their files, the
 * actors' tasks and the leases, at the rate the host asks for. struct page, the
 * address_space and its rw_semaphores are read from /proc/kcore with every offset
 * taken from the running kernel's BTF (kstate/). This file opens the reader, runs
 * the sampling clock and puts a snapshot together from the samplers' parts (see
 * observer_internal.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "observer.h"
#include "observer_internal.h"
#include "stopwatch.h"
#include "trace.h"

struct kstate *obs_ks;
/* the default: the kernel-side sampler (observe's "sampler" can ask for another) */
struct obs_opts obs_opts = {
	.cache = 1, .batch_pagemap = 1, .task_on_change = 1, .delta = 1, .gather = 1, .actors_kernel = 1,
};
struct obs_calls obs_calls;
static char ks_error[256];
static double interval, next_sample;
static uint64_t seq, skipped;
/* Of the skipped snapshots, those whose time fell inside an agent command, by command. */
#define MAX_BUSY_CMDS 8
static struct {
	const char *cmd;
	uint64_t n;
} skipped_in[MAX_BUSY_CMDS];

static void count_skipped_in(const char *cmd, uint64_t n)
{
	for (int i = 0; i < MAX_BUSY_CMDS; i++) {
		if (!skipped_in[i].cmd)
			skipped_in[i].cmd = cmd;
		if (skipped_in[i].cmd == cmd) {
			skipped_in[i].n += n;
			return;
		}
	}
}

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
	stopwatch_init();
	/* without BPF every block comes from kcore, as before: the reason is in the observe reply */
	if (!kstate_gather_open(obs_ks))
		kstate_gather_use(obs_ks, obs_opts.gather);
	return NULL;
}

/*
 * /proc/vmstat's FOLL_PIN counters. The file stays open: a pread at offset 0
 * makes the seq_file show again (legacy: opened and closed each sample).
 */
#define VMSTAT_MAX 8
struct vmstat_sample {
	int n;
	char name[VMSTAT_MAX][32];
	unsigned long long value[VMSTAT_MAX];
};

static void vmstat_sample(struct vmstat_sample *v)
{
	static int fd = -1;
	static char buf[16384];
	ssize_t n;

	v->n = 0;
	if (fd < 0 || !obs_opts.cache) {
		if (fd >= 0)
			close(fd);
		fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	}
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
	obs_calls.proc++;
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; p && *p && v->n < VMSTAT_MAX; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *sp;

		if (strncmp(p, "nr_foll_pin_", 12) || !(sp = strchr(p, ' ')) || sp - p >= 32)
			continue;
		memcpy(v->name[v->n], p, sp - p);
		v->name[v->n][sp - p] = '\0';
		v->value[v->n++] = strtoull(sp + 1, NULL, 10);
	}
}

static int vmstat_differ(const struct vmstat_sample *a, const struct vmstat_sample *b)
{
	if (a->n != b->n)
		return 1;
	for (int i = 0; i < a->n; i++)
		if (a->value[i] != b->value[i] || strcmp(a->name[i], b->name[i]))
			return 1;
	return 0;
}

static struct json_object *vmstat_json(const struct vmstat_sample *v)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < v->n; i++)
		json_object_object_add(o, v->name[i], json_object_new_int64(v->value[i]));
	return o;
}

static int by_pfn(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/*
 * The struct pages of the watched pfns, a pread per run of nearby pfns. The runs
 * are worked out again only when a watched pfn changed; blocks the sample's
 * gather already brought cost nothing here.
 */
static void prefetch_pages(void)
{
	static uint64_t pfns[MAX_PAGES], run_va[MAX_PAGES], run_len[MAX_PAGES];
	static uint64_t runs_sig;
	static int nr_runs = -1, runs_of;
	const struct kstate_layout *l = kstate_layout(obs_ks);
	uint64_t base = kstate_memmap(obs_ks)->vmemmap_base, sig = 0x9e3779b97f4a7c15ULL;
	int n = 0;

	for (int i = 0; i < nr_watched_pages; i++)
		sig = (sig ^ watched_pages[i].pfn) * 0x100000001b3ULL;
	if (nr_runs < 0 || sig != runs_sig || runs_of != nr_watched_pages) {
		for (int i = 0; i < nr_watched_pages; i++)
			pfns[n++] = watched_pages[i].pfn;
		qsort(pfns, n, sizeof(pfns[0]), by_pfn);
		nr_runs = 0;
		for (int i = 0; i < n;) {
			int j = i + 1;

			/* one 4 KiB block holds 64 struct pages: a gap of up to 64 costs nothing */
			while (j < n && pfns[j] - pfns[j - 1] <= 64 && pfns[j] - pfns[i] < 16384)
				j++;
			run_va[nr_runs] = base + pfns[i] * l->page_size;
			run_len[nr_runs++] = (pfns[j - 1] - pfns[i] + 1) * l->page_size;
			i = j;
		}
		runs_sig = sig;
		runs_of = nr_watched_pages;
	}
	for (int i = 0; i < nr_runs; i++)
		kstate_prefetch(obs_ks, run_va[i], run_len[i]);
}

/* What the last snapshot sent said, for the next one's delta. */
#define MAX_ACTORS 32
static struct {
	int valid;
	unsigned int watch_gen;
	int nr_pages, nr_files, nr_actors;
	struct task_sample actors[MAX_ACTORS];
	char *leases;
	struct vmstat_sample vmstat;
	uint64_t dropped_events, dropped_snapshots;
} sent;
static double last_send_us;
#define VMSTAT_INTERVAL 0.1
static double vmstat_read_at;

/* A delta's part for a list: {"<index>": {changed members}}, or NULL when nothing changed. */
static void patch_add(struct json_object **patch, int i, struct json_object *o)
{
	char key[16];

	if (!o)
		return;
	if (!*patch)
		*patch = json_object_new_object();
	snprintf(key, sizeof(key), "%d", i);
	json_object_object_add(*patch, key, o);
}

static void send_snapshot(double now, int force_full)
{
	static struct task_sample tasks[MAX_ACTORS];
	static struct page_sample ps;
	struct json_object *msg = json_object_new_object(), *list, *patch = NULL, *dropped, *cost, *leases;
	struct stopwatch sw;
	int64_t total;
	struct vmstat_sample vm;
	int full, nr_tasks = 0, same_actors;
	uint64_t events = trace_dropped();
	struct kstate_stats st0, st1;
	const char *text;

	stopwatch_start(&sw);
	cost = json_object_new_object();
	kstate_get_stats(obs_ks, &st0);
	memset(&obs_calls, 0, sizeof(obs_calls));
	if (obs_opts.cache)
		kstate_cache_begin(obs_ks);
	/* with obs_opts.gather: the one system call that reads the previous sample's blocks */
	JADD(cost, "gather", json_object_new_int64(stopwatch_lap(&sw)));
	/* Follow each page table first: that may learn a file (and its locks). */
	if (obs_opts.batch_pagemap)
		watch_read_pagemaps();
	for (int i = 0; i < nr_watched_pages; i++)
		watch_refresh_pfn(&watched_pages[i]);
	JADD(cost, "pagemap", json_object_new_int64(stopwatch_lap(&sw)));
	full = force_full || !obs_opts.delta || !sent.valid || sent.watch_gen != watch_gen ||
	       sent.nr_pages != nr_watched_pages || sent.nr_files != nr_watched_files;
	JADD(msg, "kind", json_object_new_string(full ? "snapshot" : "snapshot-delta"));
	JADD(msg, "seq", json_object_new_int64(seq));
	if (!full)
		JADD(msg, "base", json_object_new_int64(seq - 1));
	seq++;
	if (obs_opts.cache)
		prefetch_pages();
	list = full ? json_object_new_array() : NULL;
	for (int i = 0; i < nr_watched_pages; i++) {
		struct watched_page *w = &watched_pages[i];

		page_sample(w, &ps);
		if (full)
			json_object_array_add(list, page_json(w, &ps, NULL));
		else
			patch_add(&patch, i, page_json(w, &ps, &w->last));
		w->last = ps;
	}
	if (full || patch)
		JADD(msg, "pages", full ? list : patch);
	JADD(cost, "pages", json_object_new_int64(stopwatch_lap(&sw)));

	list = full ? json_object_new_array() : NULL;
	patch = NULL;
	for (int i = 0, n = 0; i < nr_watched_files; i++)
		for (int k = 0; k < LOCK_KINDS; k++, n++) {
			struct watched_file *f = &watched_files[i];
			struct lock_sample ls;

			lock_sample(f, k, &ls);
			if (full)
				json_object_array_add(list, lock_json(f, k, &ls, NULL));
			else
				patch_add(&patch, n, lock_json(f, k, &ls, &f->last[k]));
			f->last[k] = ls;
		}
	if (full || patch)
		JADD(msg, "locks", full ? list : patch);
	JADD(cost, "locks", json_object_new_int64(stopwatch_lap(&sw)));

	for (int i = 0; i < actors_count() && nr_tasks < MAX_ACTORS; i++) {
		const struct actor *a = actor_at(i);

		if (a->alive)
			task_sample(a, now, &tasks[nr_tasks++]);
	}
	/* the same actors in the same order: a patch by index, else the whole list */
	same_actors = !full && nr_tasks == sent.nr_actors;
	for (int i = 0; same_actors && i < nr_tasks; i++)
		same_actors = tasks[i].pid == sent.actors[i].pid && !strcmp(tasks[i].name, sent.actors[i].name);
	list = same_actors ? NULL : json_object_new_array();
	patch = NULL;
	for (int i = 0; i < nr_tasks; i++) {
		if (same_actors)
			patch_add(&patch, i, task_json(&tasks[i], &sent.actors[i]));
		else
			json_object_array_add(list, task_json(&tasks[i], NULL));
		task_sample_copy(&sent.actors[i], &tasks[i]);
	}
	sent.nr_actors = nr_tasks;
	if (list || patch)
		JADD(msg, "actors", list ? list : patch);
	JADD(cost, "actors", json_object_new_int64(stopwatch_lap(&sw)));

	leases = leases_json(now);
	text = json_object_to_json_string_ext(leases, JSON_C_TO_STRING_PLAIN);
	if (full || !sent.leases || strcmp(text, sent.leases)) {
		free(sent.leases);
		sent.leases = strdup(text);
		JADD(msg, "leases", leases);
	} else {
		json_object_put(leases);
	}
	if (obs_opts.cache)
		kstate_cache_end(obs_ks);
	JADD(cost, "leases", json_object_new_int64(stopwatch_lap(&sw)));

	/*
	 * /proc/vmstat at 10 Hz at most in a stream: its counters lag by the per-CPU deltas
	 * (up to vm.stat_interval, a second) anyway, and the checks that read them fold those
	 * first through a `sample`, which always reads it.
	 */
	if (force_full || !obs_opts.cache || !sent.valid || now - vmstat_read_at >= VMSTAT_INTERVAL ||
	    now < vmstat_read_at) {
		vmstat_sample(&vm);
		vmstat_read_at = now;
	} else {
		vm = sent.vmstat;
	}
	if (full || vmstat_differ(&vm, &sent.vmstat))
		JADD(msg, "vmstat", vmstat_json(&vm));
	sent.vmstat = vm;
	JADD(cost, "vmstat", json_object_new_int64(stopwatch_lap(&sw)));

	if (full || events != sent.dropped_events || skipped != sent.dropped_snapshots) {
		dropped = json_object_new_object();
		JADD(dropped, "events", json_object_new_int64(events));
		JADD(dropped, "snapshots", json_object_new_int64(skipped));
		if (skipped_in[0].cmd) {
			struct json_object *in = json_object_new_object();

			for (int i = 0; i < MAX_BUSY_CMDS && skipped_in[i].cmd; i++)
				json_object_object_add(in, skipped_in[i].cmd, json_object_new_int64(skipped_in[i].n));
			JADD(dropped, "inCommands", in);
		}
		JADD(msg, "dropped", dropped);
	}
	sent.dropped_events = events;
	sent.dropped_snapshots = skipped;
	JADD(cost, "dropped", json_object_new_int64(stopwatch_lap(&sw)));
	/* writing the previous snapshot to the channel (JSON text and the write) */
	if (last_send_us >= 0)
		JADD(cost, "sendPrev", json_object_new_int64((int64_t)last_send_us));
	total = stopwatch_total(&sw);
	JADD(msg, "costUs", json_object_new_int64(total >= 0 ? total : (int64_t)((mono_now() - now) * 1e6)));
	/* a part during which the agent changed CPUs has no time: then none is given */
	if (sw.moved)
		json_object_put(cost);
	else
		JADD(msg, "costByPartUs", cost);
	/* what it asked the kernel for: a sample's cost under TCG is mostly its system calls */
	kstate_get_stats(obs_ks, &st1);
	cost = json_object_new_object();
	JADD(cost, "kcore", json_object_new_int64(st1.preads - st0.preads));
	JADD(cost, "gather", json_object_new_int64(st1.gathers - st0.gathers));
	JADD(cost, "gatheredBlocks", json_object_new_int64(st1.gathered - st0.gathered));
	JADD(cost, "gatheredPieces", json_object_new_int64(st1.gathered_pieces - st0.gathered_pieces));
	JADD(cost, "gatheredBytes", json_object_new_int64(st1.gathered_bytes - st0.gathered_bytes));
	JADD(cost, "pagemap", json_object_new_int64(obs_calls.pagemap));
	JADD(cost, "proc", json_object_new_int64(obs_calls.proc));
	JADD(msg, "syscalls", cost);
	JADD(msg, "t", json_object_new_double(now));
	sent.valid = 1;
	sent.watch_gen = watch_gen;
	sent.nr_pages = nr_watched_pages;
	sent.nr_files = nr_watched_files;
	stopwatch_start(&sw);
	channel_send(msg);
	total = stopwatch_lap(&sw);
	last_send_us = total;	/* -1: moved CPUs, not known */
}

static void on_tick(double now)
{
	if (!interval || !obs_ks)
		return;
	if (now >= next_sample) {
		send_snapshot(now, 0);
		next_sample += interval;
		if (now > next_sample) {
			/* We fell behind (a slow sample, a busy guest): count, never pile up. */
			uint64_t n = (uint64_t)((now - next_sample) / interval) + 1;
			const char *cmd = agent_busy_at(next_sample);

			skipped += n;
			if (cmd)
				count_skipped_in(cmd, n);
			next_sample = now + interval;
		}
	}
	agent_wake_at(next_sample);
}

/*
 * How this observer reads, and why not the kernel-side way where it cannot:
 * {"kind", "gather": null | why kcore is read block by block, "actors": null | why /proc}.
 */
static struct json_object *sampler_json(const char *kind)
{
	struct json_object *o = json_object_new_object();
	const char *gather = kstate_gather_status(obs_ks), *actors = actor_kernel_status();

	JADD(o, "kind", json_object_new_string(kind));
	if (!obs_opts.gather)
		gather = "not asked for";
	if (!obs_opts.actors_kernel)
		actors = "not asked for";
	JADD(o, "gather", gather ? json_object_new_string(gather) : NULL);
	JADD(o, "actors", actors ? json_object_new_string(actors) : NULL);
	return o;
}

/* {"cmd":"observe","hz":10}; hz 0 stops. Replies with the baselines in force. */
static void cmd_observe(int id, struct json_object *req)
{
	struct json_object *v, *result;
	double hz = json_object_object_get_ex(req, "hz", &v) ? json_object_get_double(v) : 10;
	const char *kerr, *sampler;
	int legacy, kernel;

	if ((kerr = observer_open_kstate())) {
		send_error(id, "kernel-unreadable", kerr, NULL);
		return;
	}
	if (hz < 0 || hz > 100) {
		send_error(id, "observer", "hz must be between 0 and 100", NULL);
		return;
	}
	/*
	 * "sampler": "kernel" (the default), "kcore" (every block its own kcore read,
	 * the actors from /proc: session 6's sampler) or "legacy" (see struct obs_opts),
	 * for the bench; "legacy": true is the same as "sampler": "legacy".
	 */
	sampler = json_object_object_get_ex(req, "sampler", &v) ? json_object_get_string(v) : "kernel";
	if (json_object_object_get_ex(req, "legacy", &v) && json_object_get_boolean(v))
		sampler = "legacy";
	if (strcmp(sampler, "kernel") && strcmp(sampler, "kcore") && strcmp(sampler, "legacy")) {
		send_error(id, "observer", "sampler must be kernel, kcore or legacy", NULL);
		return;
	}
	legacy = !strcmp(sampler, "legacy");
	kernel = !strcmp(sampler, "kernel");
	obs_opts = (struct obs_opts){
		.cache = !legacy, .batch_pagemap = !legacy, .task_on_change = !legacy, .delta = !legacy,
		.gather = kernel, .actors_kernel = kernel,
	};
	kstate_gather_use(obs_ks, obs_opts.gather);
	/* the first snapshot of a stream is complete */
	sent.valid = 0;
	if (!fsdax_base.known)
		idle_calibrate_fsdax();
	if (!devdax_base.known)
		idle_calibrate_devdax();
	interval = hz ? 1.0 / hz : 0;
	next_sample = mono_now();
	result = json_object_new_object();
	JADD(result, "hz", json_object_new_double(hz));
	JADD(result, "legacy", json_object_new_boolean(legacy));
	JADD(result, "sampler", sampler_json(sampler));
	v = json_object_new_object();
	JADD(v, "fsdax", baseline_json(&fsdax_base));
	JADD(v, "devdax", baseline_json(&devdax_base));
	JADD(v, "anon", baseline_json(&anon_base));
	JADD(v, "pagecache", baseline_json(&pagecache_base));
	JADD(result, "baselines", v);
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
	send_snapshot(mono_now(), 1);
	send_reply(id, NULL);
}

/*
 * Called between the steps of a command that keeps the agent's loop busy for long
 * (trace placing its kprobes, refwatch arming its watchpoints: seconds under TCG):
 * the stream keeps its rate through them instead of counting them as skipped.
 */
void observer_sample_if_due(void)
{
	on_tick(mono_now());
}

void observer_init(void)
{
	watch_init();
	actor_kernel_init();
	task_sampler_init();
	agent_register_cmd("observe", cmd_observe);
	agent_register_cmd("sample", cmd_sample);
	agent_register_tick(on_tick);
}
