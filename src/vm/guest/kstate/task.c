// SPDX-License-Identifier: MIT
/* task_struct: pid, tgid, comm and state. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

/* The span of task_struct holding the wanted members, one read. */
#define TASK_SPAN_MAX	4096

static void task_span(const struct kstate_layout *l, uint32_t *lo,
		      uint32_t *hi)
{
	const struct kfield *f[] = {
		&l->task_pid, &l->task_tgid, &l->task_comm, &l->task_state,
	};
	unsigned int i;

	*lo = UINT32_MAX;
	*hi = 0;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i]->found)
			continue;
		if (f[i]->off < *lo)
			*lo = f[i]->off;
		if (f[i]->off + f[i]->size > *hi)
			*hi = f[i]->off + f[i]->size;
	}
}

/* @f as seen from a buffer that starts at member offset @lo */
static struct kfield from(const struct kfield *f, uint32_t lo)
{
	struct kfield r = *f;

	r.off -= lo;
	return r;
}

/*
 * The pointer may be stale (a waiter that just left, a reader-owner
 * hint): pid/tgid outside their range reject it.
 */
int kstate_task_read(struct kstate *ks, uint64_t addr, struct ktask *t)
{
	const struct kstate_layout *l = &ks->l;
	size_t comm_len = l->task_comm.size;
	uint8_t buf[TASK_SPAN_MAX];
	struct kfield f;
	uint32_t lo, hi;
	int64_t pid, tgid;
	int ret;

	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if (!kstate_kptr_ok(ks, addr, 8))
		return kstate_fail(ks, -EFAULT, "bad task pointer %#" PRIx64,
				   addr);
	task_span(l, &lo, &hi);
	if (hi - lo > sizeof(buf))
		return kstate_fail(ks, -EINVAL, "task_struct members too far apart");
	if (comm_len > KSTATE_COMM_LEN)
		comm_len = KSTATE_COMM_LEN;
	if (ks->caching && hi <= sizeof(buf)) {
		/*
		 * From the block cache, member by member (at their own offsets
		 * in buf): the span is ~3 KiB of which 40 bytes are wanted, and
		 * the next sample gathers what this one read.
		 */
		lo = 0;
		ret = kstate_read(ks, addr + l->task_pid.off, buf + l->task_pid.off, l->task_pid.size);
		if (!ret)
			ret = kstate_read(ks, addr + l->task_tgid.off, buf + l->task_tgid.off, l->task_tgid.size);
		if (!ret)
			ret = kstate_read(ks, addr + l->task_comm.off, buf + l->task_comm.off, comm_len);
		if (!ret && l->task_state.found)
			ret = kstate_read(ks, addr + l->task_state.off, buf + l->task_state.off, l->task_state.size);
	} else {
		ret = kstate_read(ks, addr + lo, buf, hi - lo);
	}
	if (ret)
		return ret;
	f = from(&l->task_pid, lo);
	pid = kf_s64(buf, &f);
	f = from(&l->task_tgid, lo);
	tgid = kf_s64(buf, &f);
	if (pid < 0 || pid > KSTATE_PID_MAX || tgid < 0 || tgid > KSTATE_PID_MAX)
		return kstate_fail(ks, -EIO, "task %#" PRIx64
				   " has pid %" PRId64 " tgid %" PRId64
				   ": stale pointer?", addr, pid, tgid);
	t->pid = pid;
	t->tgid = tgid;
	memcpy(t->comm, buf + l->task_comm.off - lo, comm_len);
	t->comm[comm_len] = '\0';
	if (l->task_state.found) {
		f = from(&l->task_state, lo);
		t->state = kf_u64(buf, &f);
		t->have_state = true;
	}
	return 0;
}
