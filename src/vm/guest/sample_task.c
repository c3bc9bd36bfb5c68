// SPDX-License-Identifier: MIT
/* The task sampler: each live actor's state, wait channel, kernel stack, and how long it has been blocked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "observer_internal.h"

#define MAX_TRACKED 32
#define STACK_FRAMES 24

/* When each actor was first seen asleep during its current action. */
static struct {
	int pid;
	double since;
} asleep[MAX_TRACKED];

static double *asleep_since(int pid)
{
	int free_slot = -1;

	for (int i = 0; i < MAX_TRACKED; i++) {
		if (asleep[i].pid == pid)
			return &asleep[i].since;
		if (!asleep[i].pid && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return NULL;
	asleep[free_slot].pid = pid;
	asleep[free_slot].since = 0;
	return &asleep[free_slot].since;
}

struct json_object *task_json(const struct actor *a, double now)
{
	struct json_object *o = json_object_new_object(), *stack = json_object_new_array();
	char path[64], *text, state[2] = "?";
	double *since = asleep_since(a->pid);

	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "pid", json_object_new_int(a->pid));
	snprintf(path, sizeof(path), "/proc/%d/stat", a->pid);
	text = read_text(path, 1024);
	/* The state follows the ")" that closes comm: comm may hold spaces. */
	if (text && strrchr(text, ')') && strrchr(text, ')')[1])
		state[0] = strrchr(text, ')')[2];
	free(text);
	json_object_object_add(o, "state", json_object_new_string(state));
	snprintf(path, sizeof(path), "/proc/%d/wchan", a->pid);
	text = read_text(path, 128);
	json_object_object_add(o, "wchan", json_object_new_string(text ? text : ""));
	free(text);
	/* Blocked: asleep while inside an action (an idle actor sleeps waiting for work). */
	if (since) {
		if (a->busy && (state[0] == 'S' || state[0] == 'D')) {
			if (!*since)
				*since = now;
		} else {
			*since = 0;
		}
	}
	json_object_object_add(o, "blockedMs", json_object_new_int64(since && *since ? (int64_t)((now - *since) * 1000) : 0));
	snprintf(path, sizeof(path), "/proc/%d/stack", a->pid);
	text = read_text(path, 8192);
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *frame = strchr(line, ']'), *slash;

		/* "[<0>] xfs_break_dax_layouts+0x8f/0x120 [xfs]" -> "xfs_break_dax_layouts+0x8f [xfs]" */
		if (!frame)
			continue;
		frame += 2;
		slash = strchr(frame, '/');
		if (slash) {
			char *mod = strchr(slash, ' ');

			memmove(slash, mod ? mod : slash + strlen(slash), strlen(mod ? mod : "") + 1);
		}
		if (json_object_array_length(stack) < STACK_FRAMES)
			json_object_array_add(stack, json_object_new_string(frame));
	}
	free(text);
	json_object_object_add(o, "stack", stack);
	return o;
}
