// SPDX-License-Identifier: MIT
/*
 * Each actor as the kernel holds it: its task_struct (looked up once by pid),
 * read in every sample through the block cache for its scheduling counters and
 * its mm's page tables (kstate/process.c). The samplers use it instead of
 * /proc/<pid>/stat, schedstat and pagemap when obs_opts asks for it and this
 * kernel allows it; why not, when not, is kept for the observe reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "observer_internal.h"

static struct {
	int pid;		/* 0: a free slot */
	uint64_t task;
} known[ACTORS_MAX * 2];

static char disabled[256];

static void forget(const struct actor *a, const char *op)
{
	if (op)
		return;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].pid == a->pid)
			memset(&known[i], 0, sizeof(known[i]));
}

void actor_kernel_init(void)
{
	actors_add_listener(forget);
}

void actor_kernel_disable(const char *why)
{
	if (!disabled[0])
		snprintf(disabled, sizeof(disabled), "%s", why);
}

const char *actor_kernel_status(void)
{
	return disabled[0] ? disabled : NULL;
}

/* The actor's task_struct and what its counters say now; 0 or -errno. */
int actor_kernel_sched(const struct actor *a, struct ktask_sched *s)
{
	size_t i, slot = sizeof(known) / sizeof(known[0]);
	int ret;

	if (disabled[0] || !obs_ks)
		return -1;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].pid == a->pid)
			break;
		if (!known[i].pid && slot == sizeof(known) / sizeof(known[0]))
			slot = i;
	}
	if (i == sizeof(known) / sizeof(known[0])) {
		if (slot == i)
			return -1;
		i = slot;
		known[i].pid = a->pid;
		ret = kstate_task_by_pid(obs_ks, a->pid, &known[i].task);
		if (ret) {
			/* a kernel that lacks a piece lacks it for every actor; else try again next time */
			if (ret == -ENOTSUP)
				actor_kernel_disable(kstate_errmsg(obs_ks));
			memset(&known[i], 0, sizeof(known[i]));
			return ret;
		}
	}
	ret = kstate_task_sched(obs_ks, known[i].task, s);
	if (!ret && (s->pid != a->pid || s->tgid != a->pid)) {
		/* not ours any more (reaped and reused before we heard): look it up again */
		memset(&known[i], 0, sizeof(known[i]));
		return -1;
	}
	return ret;
}

int actor_kernel_pgd(const struct actor *a, uint64_t *pgd)
{
	struct ktask_sched s;
	int ret = actor_kernel_sched(a, &s);

	if (ret)
		return ret;
	if (!s.mm)
		return -1;	/* exiting: no mm */
	return kstate_mm_pgd(obs_ks, s.mm, pgd);
}
