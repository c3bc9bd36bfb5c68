// SPDX-License-Identifier: MIT
/*
 * A process from the kernel's side: its task_struct by pid, the counters that
 * move whenever it runs or changes state, and its page tables. The observer
 * reads these through the block cache (one gather a sample) instead of
 * /proc/<pid>/stat, schedstat and pagemap (a system call each); the /proc
 * files stay its cross-check (watch.c compares the walk with pagemap for every
 * page it starts to watch).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

static int need(struct kstate *ks, const struct kfield *f, const char *name)
{
	if (f->found)
		return 0;
	return kstate_fail(ks, -ENOTSUP, "the kernel's BTF has no %s", name);
}

int kstate_task_by_pid(struct kstate *ks, int pid, uint64_t *task)
{
	const struct kstate_layout *l = &ks->l;
	struct kxa_result r;
	uint64_t base = 0, first;
	int64_t tpid;
	int ret;

	if ((ret = need(ks, &l->pidns_idr_rt, "pid_namespace.idr.idr_rt")) ||
	    (ret = need(ks, &l->pid_tasks, "pid.tasks")) ||
	    (ret = need(ks, &l->task_pid_links, "task_struct.pid_links")))
		return ret;
	if (pid <= 0 || pid > KSTATE_PID_MAX)
		return kstate_fail(ks, -EINVAL, "bad pid %d", pid);
	if (!ks->init_pid_ns && (ret = kstate_symbol(ks, SYM_INIT_PID_NS, &ks->init_pid_ns)))
		return ret;
	if (l->pidns_idr_base.found &&
	    (ret = kstate_read_field(ks, ks->init_pid_ns, &l->pidns_idr_base, &base)))
		return ret;
	/* alloc_pid() stores struct pid at index nr - idr_base */
	ret = kstate_xa_load(ks, ks->init_pid_ns + l->pidns_idr_rt.off, (uint64_t)pid - (uint32_t)base, &r);
	if (ret)
		return ret;
	if (r.entry.kind != KXA_POINTER)
		return kstate_fail(ks, -ESRCH, "no pid %d in the initial pid namespace", pid);
	/* pid->tasks[PIDTYPE_PID].first: the hlist_node in task->pid_links[PIDTYPE_PID] */
	ret = kstate_read_u64(ks, r.entry.raw + l->pid_tasks.off, &first);
	if (ret)
		return ret;
	if (!first)
		return kstate_fail(ks, -ESRCH, "pid %d has no task (exiting)", pid);
	if (!kstate_kptr_ok(ks, first, 8))
		return kstate_fail(ks, -EIO, "pid %d: bad task link %#" PRIx64, pid, first);
	*task = first - l->task_pid_links.off;
	/* a stale read (the pid freed and reused meanwhile) shows in the task's own pid */
	ret = kstate_read_sfield(ks, *task, &l->task_pid, &tpid);
	if (!ret && tpid != pid)
		ret = kstate_fail(ks, -ESRCH, "pid %d: its task says pid %" PRId64, pid, tpid);
	return ret;
}

int kstate_task_sched(struct kstate *ks, uint64_t task, struct ktask_sched *s)
{
	const struct kstate_layout *l = &ks->l;
	const struct {
		const struct kfield *f;
		uint64_t *v;
		const char *name;
	} want[] = {
		{ &l->task_state, &s->state, "task_struct.__state" },
		{ &l->task_exit_state, &s->exit_state, "task_struct.exit_state" },
		{ &l->task_on_rq, &s->on_rq, "task_struct.on_rq" },
		{ &l->task_sum_exec_runtime, &s->sum_exec_runtime, "task_struct.se.sum_exec_runtime" },
		{ &l->task_nvcsw, &s->nvcsw, "task_struct.nvcsw" },
		{ &l->task_nivcsw, &s->nivcsw, "task_struct.nivcsw" },
		{ &l->task_mm, &s->mm, "task_struct.mm" },
	};
	int64_t pid, tgid;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!kstate_kptr_ok(ks, task, 8))
		return kstate_fail(ks, -EFAULT, "bad task pointer %#" PRIx64, task);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if ((ret = need(ks, want[i].f, want[i].name)) ||
		    (ret = kstate_read_field(ks, task, want[i].f, want[i].v)))
			return ret;
	if (l->task_pcount.found && (ret = kstate_read_field(ks, task, &l->task_pcount, &s->pcount)))
		return ret;
	if (l->task_on_cpu.found && (ret = kstate_read_field(ks, task, &l->task_on_cpu, &s->on_cpu)))
		return ret;
	if ((ret = kstate_read_sfield(ks, task, &l->task_pid, &pid)) ||
	    (ret = kstate_read_sfield(ks, task, &l->task_tgid, &tgid)))
		return ret;
	s->pid = pid;
	s->tgid = tgid;
	return 0;
}

int kstate_mm_pgd(struct kstate *ks, uint64_t mm, uint64_t *pgd)
{
	int ret = need(ks, &ks->l.mm_pgd, "mm_struct.pgd");

	if (ret)
		return ret;
	if (!kstate_kptr_ok(ks, mm, 8))
		return kstate_fail(ks, -EFAULT, "bad mm pointer %#" PRIx64, mm);
	return kstate_read_field(ks, mm, &ks->l.mm_pgd, pgd);
}

/*
 * x86-64, arch/x86/include/asm/pgtable_types.h and pgtable.h: a user entry is
 * present when _PAGE_PRESENT or _PAGE_PROTNONE (bit 8, the global bit, which
 * user entries do not use otherwise) is set; a huge PMD also when _PAGE_PSE is
 * (pmd_present(): a PMD being split is invalidated but stays huge). The pfn of
 * an entry that is not _PAGE_PRESENT is stored inverted (L1TF,
 * protnone_mask()).
 */
#define PTE_PRESENT	(1ULL << 0)
#define PTE_PSE		(1ULL << 7)
#define PTE_PROTNONE	(1ULL << 8)
#define PTE_PFN_MASK	0x000ffffffffff000ULL

static uint64_t entry_pfn(uint64_t e, uint64_t leaf_size)
{
	if (e && !(e & PTE_PRESENT))
		e = ~e;
	return (e & PTE_PFN_MASK & ~(leaf_size - 1)) >> 12;
}

/* The entry @e at @level for @uva: 0 and the pfn, -ENOENT, or 1: a table at *next. */
static int user_entry(uint64_t e, int level, uint64_t uva, uint64_t *pfn, uint64_t *next)
{
	uint64_t size = 1ULL << (12 + 9 * (level - 1));

	if (level == 1) {
		if (!(e & (PTE_PRESENT | PTE_PROTNONE)))
			return -ENOENT;
	} else if ((level == 2 || level == 3) && (e & PTE_PSE)) {
		/* a huge leaf; swap and migration entries never have PSE set */
	} else if (!(e & PTE_PRESENT)) {
		return -ENOENT;	/* no table below */
	} else {
		*next = e & PTE_PFN_MASK;
		return 1;
	}
	*pfn = entry_pfn(e, size) + ((uva & (size - 1)) >> 12);
	return 0;
}

/* The walk; *pte_table (when given) is the last level's table, if the walk got there. */
static int user_walk(uint64_t top_pa, int levels, uint64_t uva, kpt_read_fn read, void *ctx,
		     uint64_t *pfn, uint64_t *pte_table)
{
	uint64_t table = top_pa, e;
	int level, ret;

	if ((levels != 4 && levels != 5) || uva >> (12 + 9 * levels - 1))
		return -EINVAL;	/* not a user address */
	for (level = levels; level >= 1; level--) {
		if (level == 1 && pte_table)
			*pte_table = table;
		ret = read(ctx, table + ((uva >> (12 + 9 * (level - 1))) & 511) * 8, &e);
		if (ret)
			return ret;
		ret = user_entry(e, level, uva, pfn, &table);
		if (ret <= 0)
			return ret;
	}
	return -ENOENT;
}

int kpt_user_walk(uint64_t top_pa, int levels, uint64_t uva, kpt_read_fn read,
		  void *ctx, uint64_t *pfn)
{
	return user_walk(top_pa, levels, uva, read, ctx, pfn, NULL);
}

static int user_pt_read(void *ctx, uint64_t pa, uint64_t *entry)
{
	struct kstate *ks = ctx;

	/* page tables are RAM, read through the direct map (and the block cache) */
	return kstate_read_u64(ks, ks->mm.page_offset_base + pa, entry);
}

int kstate_user_pfn(struct kstate *ks, uint64_t pgd, uint64_t uva, uint64_t *pfn)
{
	uint64_t table = 0, e;
	int ret;

	if (!ks->have_mem)
		return kstate_fail(ks, -ENOTSUP, "no kernel memory access");
	if (pgd < ks->mm.page_offset_base || !kstate_kptr_ok(ks, pgd, 4096))
		return kstate_fail(ks, -EFAULT, "pgd %#" PRIx64 " is not in the direct map", pgd);
	/* the page tables above the last level as this sample read them for the same 2 MiB */
	if (ks->caching && ks->uwalk.gen == ks->block_gen && ks->uwalk.pgd == pgd &&
	    ks->uwalk.region == uva >> 21 && uva >> (12 + 9 * ks->mm.levels - 1) == 0) {
		const void *p = kcache_peek(ks, ks->mm.page_offset_base + ks->uwalk.table + ((uva >> 12) & 511) * 8, 8);

		if (p) {
			memcpy(&e, p, 8);
			ret = user_entry(e, 1, uva, pfn, &table);
			goto out;
		}
	}
	ret = user_walk(pgd - ks->mm.page_offset_base, ks->mm.levels, uva, user_pt_read, ks, pfn, &table);
	if (ks->caching && table && (ret == 0 || ret == -ENOENT)) {
		ks->uwalk.gen = ks->block_gen;
		ks->uwalk.pgd = pgd;
		ks->uwalk.region = uva >> 21;
		ks->uwalk.table = table;
	}
out:
	if (ret == -ENOENT)
		return kstate_fail(ks, ret, "%#" PRIx64 " is not mapped", uva);
	if (ret == -EINVAL)
		return kstate_fail(ks, ret, "%#" PRIx64 " is not a user address", uva);
	return ret;
}
