// SPDX-License-Identifier: MIT
/*
 * The task sampler: each live actor's state, wait channel, kernel stack, and how
 * long it has been blocked.
 *
 * /proc/<pid>/stat and /proc/<pid>/schedstat stay open (a pread at offset 0
 * makes a seq_file show again). The wait channel and the stack are read again
 * only when they can have changed: the task ran since the last sample
 * (schedstat's run time or its count of times on a CPU moved), its state letter
 * changed, or it is running now. A task that has not run has the stack it had.
 *
 * With obs_opts.actors_kernel the same question is asked of the task_struct itself
 * (actor_kernel.c: its state, exit state, run time and context switch counts, read
 * from kernel memory in the sample's gather): when none of them moved and the task
 * is not runnable, nothing under /proc is read at all.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "observer_internal.h"

#define MAX_TRACKED 32
#define STACK_FRAMES 24

static struct tracked {
	int pid;
	double since;		/* first seen asleep during its current action */
	int stat_fd, sched_fd;	/* 0: not open */
	unsigned long long run_ns, pcount;
	struct ktask_sched k;	/* the counters in task_struct at the last read */
	int have_k;
	int have;		/* state, wchan and stack below are the last read */
	char state;
	char wchan[128];
	char stack[4096];
	unsigned int stack_len, nr_frames;
} tracked[MAX_TRACKED];

static void untrack(struct tracked *t)
{
	if (t->stat_fd > 0)
		close(t->stat_fd);
	if (t->sched_fd > 0)
		close(t->sched_fd);
	memset(t, 0, sizeof(*t));
}

static struct tracked *tracked_of(int pid)
{
	int free_slot = -1;

	for (int i = 0; i < MAX_TRACKED; i++) {
		if (tracked[i].pid == pid)
			return &tracked[i];
		if (!tracked[i].pid && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return NULL;
	tracked[free_slot].pid = pid;
	return &tracked[free_slot];
}

static void on_actor(const struct actor *a, const char *op)
{
	if (op)
		return;
	/* reaped: its pid may come back as another process */
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i].pid == a->pid)
			untrack(&tracked[i]);
}

/* A /proc/<pid>/ file: kept open in *fd when @keep, read from offset 0. */
static ssize_t proc_read(int pid, const char *name, int *fd, int keep, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int f = keep ? *fd : 0;

	if (f <= 0) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			return -1;
	}
	n = pread(f, buf, len - 1, 0);
	obs_calls.proc++;
	buf[n > 0 ? n : 0] = '\0';
	if (keep)
		*fd = f;
	else
		close(f);
	return n;
}

/* "[<0>] xfs_break_dax_layouts+0x8f/0x120 [xfs]" -> "xfs_break_dax_layouts+0x8f [xfs]", each NUL-terminated. */
static void parse_stack(char *text, struct tracked *t)
{
	t->stack_len = 0;
	t->nr_frames = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *frame = strchr(line, ']'), *slash;
		size_t len;

		if (!frame || !frame[1])
			continue;
		frame += 2;
		slash = strchr(frame, '/');
		if (slash) {
			char *mod = strchr(slash, ' ');

			memmove(slash, mod ? mod : slash + strlen(slash), strlen(mod ? mod : "") + 1);
		}
		len = strlen(frame) + 1;
		if (t->nr_frames == STACK_FRAMES || t->stack_len + len > sizeof(t->stack))
			break;
		memcpy(t->stack + t->stack_len, frame, len);
		t->stack_len += len;
		t->nr_frames++;
	}
}

static void read_wchan_stack(struct tracked *t, int pid)
{
	char *text;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	text = read_text(path, 128);
	obs_calls.proc += 2;	/* with the stack below */
	snprintf(t->wchan, sizeof(t->wchan), "%s", text ? text : "");
	free(text);
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	text = read_text(path, 8192);
	if (text)
		parse_stack(text, t);
	else
		t->stack_len = t->nr_frames = 0;
	free(text);
}

/*
 * Did the task run, wake, sleep, stop or exit since the counters in @t were read,
 * or is it between two of those now? __state 0 is TASK_RUNNING: runnable or on a
 * CPU, its stack is moving. A task whose state says asleep but that is still on a
 * CPU (on its way out) or on a runqueue (about to switch, or 6.12+'s delayed
 * dequeue, which keeps it queued for a while without running it) shows no wchan
 * and no stack in /proc until it is off: read it again each sample until then, and
 * once more after (a last read that came back empty: leaving the runqueue without
 * running moves no counter).
 */
static int kernel_counters_moved(const struct tracked *t, const struct ktask_sched *k)
{
	return !t->have_k || !t->nr_frames || k->state == 0 || k->on_rq || k->on_cpu ||
	       k->state != t->k.state || k->exit_state != t->k.exit_state ||
	       k->sum_exec_runtime != t->k.sum_exec_runtime || k->nvcsw != t->k.nvcsw ||
	       k->nivcsw != t->k.nivcsw || k->pcount != t->k.pcount || k->mm != t->k.mm;
}

/* The state letter of /proc/<pid>/stat: it follows the ")" that closes comm, which may hold spaces. */
static char proc_state(struct tracked *t, int pid, int keep_open)
{
	char buf[1024], *paren;

	if (proc_read(pid, "stat", &t->stat_fd, keep_open, buf, sizeof(buf)) > 0 && (paren = strrchr(buf, ')')) &&
	    paren[1])
		return paren[2];
	return '?';
}

/* The kernel sampler: /proc is read only when task_struct says the task moved. */
static char refresh_from_kernel(struct tracked *t, int pid, const struct ktask_sched *k)
{
	int moved = kernel_counters_moved(t, k);
	char state;

	t->k = *k;
	t->have_k = 1;
	if (!moved)
		return t->state;
	state = proc_state(t, pid, 1);
	read_wchan_stack(t, pid);
	return state;
}

/* Without task_struct: schedstat's run time and count of runs say whether it moved. */
static char refresh_from_proc(struct tracked *t, int pid, int fresh)
{
	unsigned long long run_ns = 0, pcount = 0;
	char buf[1024], state;

	t->have_k = 0;
	state = proc_state(t, pid, !fresh);
	if (!fresh && proc_read(pid, "schedstat", &t->sched_fd, 1, buf, sizeof(buf)) > 0)
		sscanf(buf, "%llu %*u %llu", &run_ns, &pcount);
	/*
	 * "0 0 0": no schedstat on this kernel, so no way to tell that it did not run.
	 * A sleeping task whose last stack read came back empty is read again, as above.
	 */
	if (fresh || !t->have || state != t->state || state == 'R' || (!run_ns && !pcount) ||
	    run_ns != t->run_ns || pcount != t->pcount || !t->nr_frames)
		read_wchan_stack(t, pid);
	t->run_ns = run_ns;
	t->pcount = pcount;
	return state;
}

void task_sample(const struct actor *a, double now, struct task_sample *s)
{
	struct tracked *t = tracked_of(a->pid), scratch = { 0 };
	int fresh = !obs_opts.task_on_change;
	struct ktask_sched k;
	char state;

	if (!t) {
		t = &scratch;
		fresh = 1;
	}
	/* the header only: the stack is compared and copied up to stack_len */
	memset(s, 0, offsetof(struct task_sample, stack));
	snprintf(s->name, sizeof(s->name), "%s", a->name);
	s->pid = a->pid;
	if (!fresh && t->have && obs_opts.actors_kernel && !actor_kernel_sched(a, &k))
		state = refresh_from_kernel(t, a->pid, &k);
	else
		state = refresh_from_proc(t, a->pid, fresh);
	t->have = 1;
	t->state = state;
	s->state = state;
	snprintf(s->wchan, sizeof(s->wchan), "%s", t->wchan);
	memcpy(s->stack, t->stack, t->stack_len);
	s->stack_len = t->stack_len;
	s->nr_frames = t->nr_frames;
	/* Blocked: asleep while inside an action (an idle actor sleeps waiting for work). */
	if (t != &scratch) {
		if (a->busy && (state == 'S' || state == 'D')) {
			if (!t->since)
				t->since = now;
		} else {
			t->since = 0;
		}
		s->blocked_ms = t->since ? (int64_t)((now - t->since) * 1000) : 0;
	}
	if (t == &scratch || fresh) {
		/* legacy: nothing kept open */
		if (t->stat_fd > 0)
			close(t->stat_fd);
		if (t->sched_fd > 0)
			close(t->sched_fd);
		t->stat_fd = t->sched_fd = 0;
	}
}

#define CHANGED(m) (!prev || s->m != prev->m)

void task_sample_copy(struct task_sample *dst, const struct task_sample *src)
{
	memcpy(dst, src, offsetof(struct task_sample, stack) + src->stack_len);
}

struct json_object *task_json(const struct task_sample *s, const struct task_sample *prev)
{
	struct json_object *o;
	char state[2] = { s->state, 0 };

	/* both headers filled from zero by task_sample(): padding compares equal */
	if (prev && !memcmp(s, prev, offsetof(struct task_sample, stack) + s->stack_len))
		return NULL;
	o = json_object_new_object();
	if (!prev) {
		JADD(o, "name", json_object_new_string(s->name));
		JADD(o, "pid", json_object_new_int(s->pid));
	}
	if (CHANGED(state))
		JADD(o, "state", json_object_new_string(state));
	if (!prev || strcmp(s->wchan, prev->wchan))
		JADD(o, "wchan", json_object_new_string(s->wchan));
	if (CHANGED(blocked_ms))
		JADD(o, "blockedMs", json_object_new_int64(s->blocked_ms));
	if (!prev || s->stack_len != prev->stack_len || memcmp(s->stack, prev->stack, s->stack_len)) {
		struct json_object *stack = json_object_new_array();

		for (unsigned int off = 0; off < s->stack_len; off += strlen(s->stack + off) + 1)
			json_object_array_add(stack, json_object_new_string(s->stack + off));
		JADD(o, "stack", stack);
	}
	if (prev && !json_object_object_length(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void task_sampler_init(void)
{
	actors_add_listener(on_actor);
}
