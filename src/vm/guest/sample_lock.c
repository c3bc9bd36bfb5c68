// SPDX-License-Identifier: MIT
/* The lock sampler: a watched file's rw_semaphore, its owner and its waiters. */
#include <stdio.h>

#include "observer_internal.h"
#include "util.h"

struct json_object *lock_json(const struct watched_file *f, int kind)
{
	struct json_object *o = json_object_new_object(), *waiters = json_object_new_array();
	struct krwsem rw;
	uint64_t a = lock_addr(f, kind);

	json_object_object_add(o, "file", json_object_new_string(f->name));
	json_object_object_add(o, "lock", json_object_new_string(lock_kinds[kind]));
	json_object_object_add(o, "addr", jhex(a));
	if (kstate_rwsem_read(obs_ks, a, &rw)) {
		json_object_object_add(o, "state", json_object_new_string("free"));
		json_object_object_add(o, "readers", json_object_new_int(0));
		json_object_object_add(o, "owner", NULL);
		json_object_object_add(o, "waiters", waiters);
		json_object_object_add(o, "handoff", json_object_new_boolean(0));
		json_object_object_add(o, "error", json_object_new_string(kstate_errmsg(obs_ks)));
		return o;
	}
	json_object_object_add(o, "state", json_object_new_string(rw.writer_locked ? "write" : rw.readers ? "read" : "free"));
	json_object_object_add(o, "readers", json_object_new_int64(rw.readers));
	if (rw.owner_ok && rw.writer_locked) {
		struct json_object *owner = json_object_new_object();

		json_object_object_add(owner, "pid", json_object_new_int(rw.owner.pid));
		json_object_object_add(owner, "comm", json_object_new_string(rw.owner.comm));
		json_object_object_add(o, "owner", owner);
	} else {
		json_object_object_add(o, "owner", NULL);
	}
	for (unsigned int i = 0; i < rw.nr_waiters && i < KRWSEM_MAX_WAITERS; i++) {
		struct json_object *w;

		if (!rw.waiter[i].task_ok)
			continue;
		w = json_object_new_object();
		json_object_object_add(w, "pid", json_object_new_int(rw.waiter[i].task.pid));
		json_object_object_add(w, "comm", json_object_new_string(rw.waiter[i].task.comm));
		json_object_object_add(w, "type", json_object_new_string(rw.waiter[i].type == KRWSEM_WAIT_READ ? "read" : "write"));
		json_object_array_add(waiters, w);
	}
	json_object_object_add(o, "waiters", waiters);
	json_object_object_add(o, "handoff", json_object_new_boolean(rw.handoff));
	return o;
}
