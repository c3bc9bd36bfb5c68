// SPDX-License-Identifier: MIT
/* The lock sampler: a watched file's rw_semaphore, its owner and its waiters. */
#include <stdio.h>
#include <string.h>

#include "observer_internal.h"
#include "util.h"

static const char *const lock_states[] = { "free", "read", "write" };

void lock_sample(const struct watched_file *f, int kind, struct lock_sample *s)
{
	struct krwsem rw;

	memset(s, 0, sizeof(*s));
	if (kstate_rwsem_read(obs_ks, lock_addr(f, kind), &rw)) {
		snprintf(s->error, sizeof(s->error), "%s", kstate_errmsg(obs_ks));
		return;
	}
	s->state = rw.writer_locked ? 2 : rw.readers ? 1 : 0;
	s->readers = rw.readers;
	if (rw.owner_ok && rw.writer_locked) {
		s->has_owner = 1;
		s->owner_pid = rw.owner.pid;
		snprintf(s->owner_comm, sizeof(s->owner_comm), "%s", rw.owner.comm);
	}
	for (unsigned int i = 0; i < rw.nr_waiters && i < KRWSEM_MAX_WAITERS; i++) {
		if (!rw.waiter[i].task_ok)
			continue;
		s->waiter[s->nr_waiters].pid = rw.waiter[i].task.pid;
		s->waiter[s->nr_waiters].write = rw.waiter[i].type != KRWSEM_WAIT_READ;
		snprintf(s->waiter[s->nr_waiters].comm, sizeof(s->waiter[0].comm), "%s", rw.waiter[i].task.comm);
		s->nr_waiters++;
	}
	s->handoff = rw.handoff;
}

static int waiters_differ(const struct lock_sample *a, const struct lock_sample *b)
{
	if (a->nr_waiters != b->nr_waiters)
		return 1;
	for (unsigned int i = 0; i < a->nr_waiters; i++)
		if (a->waiter[i].pid != b->waiter[i].pid || a->waiter[i].write != b->waiter[i].write ||
		    strcmp(a->waiter[i].comm, b->waiter[i].comm))
			return 1;
	return 0;
}

#define CHANGED(m) (!prev || s->m != prev->m)

struct json_object *lock_json(const struct watched_file *f, int kind, const struct lock_sample *s,
			      const struct lock_sample *prev)
{
	struct json_object *o;

	/* both filled from zero by lock_sample(): padding compares equal */
	if (prev && !memcmp(s, prev, sizeof(*s)))
		return NULL;
	o = json_object_new_object();
	if (!prev) {
		JADD(o, "file", json_object_new_string(f->name));
		JADD(o, "lock", json_object_new_string(lock_kinds[kind]));
		JADD(o, "addr", jhex(lock_addr(f, kind)));
	}
	if (CHANGED(state))
		JADD(o, "state", json_object_new_string(lock_states[s->state]));
	if (CHANGED(readers))
		JADD(o, "readers", json_object_new_int64(s->readers));
	if (CHANGED(has_owner) || CHANGED(owner_pid) || (prev && strcmp(s->owner_comm, prev->owner_comm))) {
		struct json_object *owner = NULL;

		if (s->has_owner) {
			owner = json_object_new_object();
			JADD(owner, "pid", json_object_new_int(s->owner_pid));
			JADD(owner, "comm", json_object_new_string(s->owner_comm));
		}
		JADD(o, "owner", owner);
	}
	if (!prev || waiters_differ(s, prev)) {
		struct json_object *waiters = json_object_new_array();

		for (unsigned int i = 0; i < s->nr_waiters; i++) {
			struct json_object *w = json_object_new_object();

			JADD(w, "pid", json_object_new_int(s->waiter[i].pid));
			JADD(w, "comm", json_object_new_string(s->waiter[i].comm));
			JADD(w, "type", json_object_new_string(s->waiter[i].write ? "write" : "read"));
			json_object_array_add(waiters, w);
		}
		JADD(o, "waiters", waiters);
	}
	if (CHANGED(handoff))
		JADD(o, "handoff", json_object_new_boolean(s->handoff));
	/* a delta says "error": null when the error is gone */
	if (!prev ? s->error[0] : strcmp(s->error, prev->error))
		JADD(o, "error", s->error[0] ? json_object_new_string(s->error) : NULL);
	if (prev && !json_object_object_length(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
