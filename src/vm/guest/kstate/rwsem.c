// SPDX-License-Identifier: MIT
/*
 * struct rw_semaphore: count, owner and wait list.
 *
 * The wait list: up to 7.1 a list_head in the semaphore, the anchor of a
 * circular list of rwsem_waiter.list; 7.2 keeps only first_waiter, a
 * pointer to the first rwsem_waiter, whose list links the waiters in a
 * circle without an anchor (kernel/locking/rwsem.c next_waiter(): the walk
 * ends when it comes back to first_waiter).  BTF says which one it is.
 *
 * The bit layout below is that of kernel/locking/rwsem.c since the 5.3 rework
 * (reader count in the count word, owner flags in the owner word), still
 * so in 6.1.  It is not in BTF: these are #defines.  PREEMPT_RT kernels
 * build rw_semaphore on rt_mutex instead; BTF would then lack "count".
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

/* count */
#define RWSEM_WRITER_LOCKED	(1ULL << 0)
#define RWSEM_FLAG_WAITERS	(1ULL << 1)
#define RWSEM_FLAG_HANDOFF	(1ULL << 2)
#define RWSEM_FLAG_READFAIL	(1ULL << 63)	/* BITS_PER_LONG - 1 */
#define RWSEM_READER_SHIFT	8

/*
 * owner: a writer stores its task_struct; a reader stores its own with
 * RWSEM_READER_OWNED and leaves it there on unlock, so for readers the
 * task is only the last one to take the lock.
 */
#define RWSEM_READER_OWNED	(1ULL << 0)
#define RWSEM_NONSPINNABLE	(1ULL << 1)
#define RWSEM_OWNER_FLAGS_MASK	(RWSEM_READER_OWNED | RWSEM_NONSPINNABLE)

#define KSTATE_STRUCT_MAX	256

void krwsem_decode(int64_t count, uint64_t owner, struct krwsem *rw)
{
	uint64_t c = (uint64_t)count;

	memset(rw, 0, sizeof(*rw));
	rw->count = count;
	rw->owner_raw = owner;
	rw->writer_locked = c & RWSEM_WRITER_LOCKED;
	rw->waiters = c & RWSEM_FLAG_WAITERS;
	rw->handoff = c & RWSEM_FLAG_HANDOFF;
	rw->read_fail = c & RWSEM_FLAG_READFAIL;
	/* bits 8..62 count readers, including ones still failing in */
	rw->readers = (c & ~RWSEM_FLAG_READFAIL) >> RWSEM_READER_SHIFT;
	rw->reader_owned = owner & RWSEM_READER_OWNED;
	rw->nonspinnable = owner & RWSEM_NONSPINNABLE;
	rw->owner_task = owner & ~RWSEM_OWNER_FLAGS_MASK;
}

static enum krwsem_wait waiter_type(const struct kstate_layout *l, int64_t t)
{
	if (t == l->waiting_for_write)
		return KRWSEM_WAIT_WRITE;
	if (t == l->waiting_for_read)
		return KRWSEM_WAIT_READ;
	return KRWSEM_WAIT_OTHER;
}

static bool seen(const struct krwsem *rw, uint64_t waiter)
{
	unsigned int i;

	for (i = 0; i < rw->nr_waiters; i++)
		if (rw->waiter[i].waiter == waiter)
			return true;
	return false;
}

/* Read one rwsem_waiter; returns the next list pointer through @next. */
static int read_waiter(struct kstate *ks, uint64_t node,
		       struct krwsem_waiter *w, uint64_t *next)
{
	const struct kstate_layout *l = &ks->l;
	uint8_t buf[KSTATE_STRUCT_MAX];
	int ret;

	w->waiter = node - l->waiter_list.off;
	ret = kstate_read(ks, w->waiter, buf, l->waiter_size);
	if (ret)
		return ret;
	*next = kf_u64(buf + l->waiter_list.off, &l->list_next);
	w->task_addr = kf_u64(buf, &l->waiter_task);
	w->type = waiter_type(l, kf_s64(buf, &l->waiter_type));
	if (w->task_addr)
		w->task_ok = !kstate_task_read(ks, w->task_addr, &w->task);
	return 0;
}

/*
 * Walk the wait list without its lock: it can change under us, so the
 * walk is bounded, rejects bad pointers and stops on a loop.  @next is the
 * first list node to visit and the walk ends on reaching @stop; with an
 * anchorless list (7.2) the first node is @stop itself, visited once.
 */
static void walk_waiters(struct kstate *ks, uint64_t stop, uint64_t next,
			 bool anchorless, struct krwsem *rw)
{
	bool first = anchorless;

	while (first || next != stop) {
		struct krwsem_waiter *w;

		first = false;
		if (rw->nr_waiters == KRWSEM_MAX_WAITERS) {
			rw->waiters_truncated = true;
			return;
		}
		if (!kstate_kptr_ok(ks, next, 8) ||
		    seen(rw, next - ks->l.waiter_list.off)) {
			rw->wait_list_broken = true;
			return;
		}
		w = &rw->waiter[rw->nr_waiters];
		if (read_waiter(ks, next, w, &next)) {
			rw->wait_list_broken = true;
			return;
		}
		rw->nr_waiters++;
	}
}

int kstate_rwsem_read(struct kstate *ks, uint64_t addr, struct krwsem *rw)
{
	const struct kstate_layout *l = &ks->l;
	uint8_t buf[KSTATE_STRUCT_MAX];
	uint64_t head, next, first;
	int ret;

	memset(rw, 0, sizeof(*rw));
	if (l->rwsem_size > sizeof(buf) || l->waiter_size > sizeof(buf))
		return kstate_fail(ks, -EINVAL, "rw_semaphore too large");
	if (!kstate_kptr_ok(ks, addr, 8))
		return kstate_fail(ks, -EFAULT, "bad rwsem pointer %#" PRIx64,
				   addr);
	/* one read: count and owner come from the same instant */
	ret = kstate_read(ks, addr, buf, l->rwsem_size);
	if (ret)
		return ret;
	krwsem_decode(kf_s64(buf, &l->rwsem_count), kf_u64(buf, &l->rwsem_owner),
		      rw);
	rw->addr = addr;
	if (rw->owner_task)
		rw->owner_ok = !kstate_task_read(ks, rw->owner_task, &rw->owner);
	if (l->rwsem_wait_list.found) {
		head = addr + l->rwsem_wait_list.off;
		next = kf_u64(buf + l->rwsem_wait_list.off, &l->list_next);
		walk_waiters(ks, head, next, false, rw);
		return 0;
	}
	first = kf_u64(buf, &l->rwsem_first_waiter);
	if (first) {
		head = first + l->waiter_list.off;
		walk_waiters(ks, head, head, true, rw);
	}
	return 0;
}
