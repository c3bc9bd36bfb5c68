// SPDX-License-Identifier: GPL-2.0
/* task_struct: pid, tgid, comm and state. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

/* PID_MAX_LIMIT on 64-bit, include/linux/threads.h */
#define KSTATE_PID_MAX	(4 * 1024 * 1024)

/*
 * task_struct is several KiB and four members are wanted, so they are
 * read one by one.  The pointer may be stale (a waiter that just left, a
 * reader-owner hint): pid/tgid outside their range reject it.
 */
int kstate_task_read(struct kstate *ks, uint64_t addr, struct ktask *t)
{
	const struct kstate_layout *l = &ks->l;
	size_t comm_len = l->task_comm.size;
	int64_t pid, tgid;
	uint64_t state;
	int ret;

	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if (!kstate_kptr_ok(ks, addr, 8))
		return kstate_fail(ks, -EFAULT, "bad task pointer %#" PRIx64,
				   addr);
	ret = kstate_read_sfield(ks, addr, &l->task_pid, &pid);
	if (!ret)
		ret = kstate_read_sfield(ks, addr, &l->task_tgid, &tgid);
	if (ret)
		return ret;
	if (pid < 0 || pid > KSTATE_PID_MAX || tgid < 0 || tgid > KSTATE_PID_MAX)
		return kstate_fail(ks, -EIO, "task %#" PRIx64
				   " has pid %" PRId64 " tgid %" PRId64
				   ": stale pointer?", addr, pid, tgid);
	t->pid = pid;
	t->tgid = tgid;
	if (comm_len > KSTATE_COMM_LEN)
		comm_len = KSTATE_COMM_LEN;
	ret = kstate_read(ks, addr + l->task_comm.off, t->comm, comm_len);
	if (ret)
		return ret;
	t->comm[comm_len] = '\0';
	if (l->task_state.found &&
	    !kstate_read_field(ks, addr, &l->task_state, &state)) {
		t->state = state;
		t->have_state = true;
	}
	return 0;
}
