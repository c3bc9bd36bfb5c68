// SPDX-License-Identifier: GPL-2.0
/* task_struct: pid, tgid, comm and state, each read on its own. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

/* pid_max is at most 4M (PID_MAX_LIMIT, include/linux/threads.h) */
#define KSTATE_PID_MAX	(4 * 1024 * 1024)

static int read_field(struct kstate *ks, uint64_t base, const struct kfield *f,
		      void *buf, size_t len)
{
	if (f->size > len)
		return kstate_fail(ks, -EINVAL, "field too large");
	return kstate_read(ks, base + f->off, buf, f->size);
}

/*
 * task_struct is big (several KiB) and only four members are wanted, so
 * they are read one by one rather than copying the struct.
 */
int kstate_task_read(struct kstate *ks, uint64_t addr, struct ktask *t)
{
	const struct kstate_layout *l = &ks->l;
	uint8_t buf[8] = { 0 };
	int ret;

	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if (!kstate_kptr_ok(ks, addr, 8))
		return kstate_fail(ks, -EFAULT, "bad task pointer %#" PRIx64,
				   addr);
	ret = read_field(ks, addr, &l->task_pid, buf, sizeof(buf));
	if (ret)
		return ret;
	t->pid = kf_s64(buf, &(struct kfield){ .size = l->task_pid.size });
	ret = read_field(ks, addr, &l->task_tgid, buf, sizeof(buf));
	if (ret)
		return ret;
	t->tgid = kf_s64(buf, &(struct kfield){ .size = l->task_tgid.size });
	ret = kstate_read(ks, addr + l->task_comm.off, t->comm,
			  l->task_comm.size < KSTATE_COMM_LEN ?
			  l->task_comm.size : KSTATE_COMM_LEN);
	if (ret)
		return ret;
	t->comm[KSTATE_COMM_LEN] = '\0';
	if (t->pid < 0 || t->pid > KSTATE_PID_MAX || t->tgid <= 0 ||
	    t->tgid > KSTATE_PID_MAX)
		return kstate_fail(ks, -EIO, "task %#" PRIx64
				   " has pid %d tgid %d: stale pointer?",
				   addr, t->pid, t->tgid);
	if (l->task_state.found &&
	    !read_field(ks, addr, &l->task_state, buf, sizeof(buf))) {
		t->state = kf_u64(buf, &(struct kfield){ .size = l->task_state.size });
		t->have_state = true;
	}
	return 0;
}
