// SPDX-License-Identifier: MIT
/*
 * Resolve, once, every offset, size and enum value the readers use.
 * Alternatives are separated by '|' and tried in order: members were
 * renamed or moved between kernel eras (noted next to each).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "internal.h"

struct field_spec {
	size_t off;		/* offsetof(struct kstate_layout, ...) */
	const char *paths;
	bool required;
};

#define F(member, paths, req) \
	{ offsetof(struct kstate_layout, member), paths, req }

static const struct field_spec field_specs[] = {
	/* 7.x (and 6.18): a memdesc_flags_t, one long in .f */
	F(page_flags, "page.flags.f|page.flags", true),
	/*
	 * 7.x: compound_info, which may hold a mask instead of head | 1
	 * (see kpage_compound_head())
	 */
	F(page_compound_head, "page.compound_head|page.compound_info", true),
	F(page_mapping, "page.mapping", true),
	/* 7.x (and 6.18): page.index is __folio_index */
	F(page_index, "page.index|page.__folio_index", true),
	F(page_mapcount, "page._mapcount", true),
	F(page_refcount, "page._refcount", true),
	/* 7.x (and 6.18): pgmap is in the folio (same word: lru.next) */
	F(page_pgmap, "page.pgmap|folio.pgmap", true),

	/* 6.1: _folio_order; by 6.18 the order lives in _flags_1 */
	F(folio_order, "folio._folio_order", false),
	F(folio_nr_pages, "folio._folio_nr_pages|folio._nr_pages", false),
	F(folio_pincount, "folio._pincount", false),
	/* 6.1: _total_mapcount (== compound_mapcount); 6.2+: renamed */
	F(folio_entire_mapcount,
	  "folio._entire_mapcount|folio._total_mapcount", false),
	/* 6.12+ (since 6.11): every mapping of the folio, PTE or PMD, + 1 */
	F(folio_large_mapcount, "folio._large_mapcount", false),

	F(pgmap_type, "dev_pagemap.type", true),
	F(pgmap_nr_range, "dev_pagemap.nr_range", true),
	F(pgmap_range_start, "dev_pagemap.range.start", true),
	F(pgmap_range_end, "dev_pagemap.range.end", true),

	F(task_pid, "task_struct.pid", true),
	F(task_tgid, "task_struct.tgid", true),
	F(task_comm, "task_struct.comm", true),
	/* 5.14: state became __state */
	F(task_state, "task_struct.__state|task_struct.state", false),
	/*
	 * A process from the kernel's side (process.c): optional, the observer
	 * falls back to /proc without them.  pid_links and pid.tasks are arrays
	 * indexed by enum pid_type: PIDTYPE_PID (0) is their first element.
	 */
	F(task_exit_state, "task_struct.exit_state", false),
	/*
	 * A task asleep by its state can still be on a runqueue (on_rq: about to
	 * switch out, or 6.12+'s delayed dequeue) or on a CPU (on_cpu, SMP):
	 * /proc then shows it as running (no wchan, no stack).
	 */
	F(task_on_rq, "task_struct.on_rq", false),
	F(task_on_cpu, "task_struct.on_cpu", false),
	F(task_mm, "task_struct.mm", false),
	F(task_pid_links, "task_struct.pid_links", false),
	F(task_sum_exec_runtime, "task_struct.se.sum_exec_runtime", false),
	F(task_nvcsw, "task_struct.nvcsw", false),
	F(task_nivcsw, "task_struct.nivcsw", false),
	/* CONFIG_SCHED_INFO */
	F(task_pcount, "task_struct.sched_info.pcount", false),
	F(mm_pgd, "mm_struct.pgd", false),
	F(pid_tasks, "pid.tasks", false),
	F(pidns_idr_rt, "pid_namespace.idr.idr_rt", false),
	F(pidns_idr_base, "pid_namespace.idr.idr_base", false),

	F(rwsem_count, "rw_semaphore.count", true),
	F(rwsem_owner, "rw_semaphore.owner", true),
	/*
	 * Up to 7.1 a list_head anchored in the semaphore; 7.2 has only
	 * first_waiter, into a circular list of rwsem_waiter without an
	 * anchor.  One of the two is required (check_rwsem()).
	 */
	F(rwsem_wait_list, "rw_semaphore.wait_list", false),
	F(rwsem_first_waiter, "rw_semaphore.first_waiter", false),
	F(waiter_list, "rwsem_waiter.list", true),
	F(waiter_task, "rwsem_waiter.task", true),
	F(waiter_type, "rwsem_waiter.type", true),
	F(list_next, "list_head.next", true),

	F(as_host, "address_space.host", true),
	F(as_i_pages, "address_space.i_pages", true),
	/* 5.15+ */
	F(as_invalidate_lock, "address_space.invalidate_lock", false),
	F(as_i_mmap_rwsem, "address_space.i_mmap_rwsem", true),
	F(as_nrpages, "address_space.nrpages", true),
	F(inode_i_rwsem, "inode.i_rwsem", true),
	F(inode_i_ino, "inode.i_ino", true),

	F(xa_head, "xarray.xa_head", true),
	F(xa_node_shift, "xa_node.shift", true),
	F(xa_node_offset, "xa_node.offset", true),
	F(xa_node_array, "xa_node.array", true),
	F(xa_node_slots, "xa_node.slots", true),
};

/* Try each '|'-separated alternative of @paths. */
static int resolve_alternatives(const struct btf *btf, const char *paths,
				struct kfield *f)
{
	char one[128];
	const char *p = paths;

	while (*p) {
		size_t n = strcspn(p, "|");

		if (n >= sizeof(one))
			return -EINVAL;
		memcpy(one, p, n);
		one[n] = '\0';
		if (!kbtf_member(btf, one, f))
			return 0;
		p += n;
		if (*p == '|')
			p++;
	}
	return -ENOENT;
}

static int resolve_fields(const struct btf *btf, struct kstate_layout *l,
			  char *err, size_t errlen)
{
	struct kfield probe;
	size_t i;

	for (i = 0; i < sizeof(field_specs) / sizeof(field_specs[0]); i++) {
		const struct field_spec *s = &field_specs[i];
		struct kfield *f = (struct kfield *)((char *)l + s->off);

		if (!resolve_alternatives(btf, s->paths, f) || !s->required)
			continue;
		kstate_fmt(err, errlen,
			   "the kernel's BTF has no member %s, which daxlab "
			   "needs to read this kernel (a layout it does not "
			   "know yet)", s->paths);
		return -ENOENT;
	}
	if (!l->rwsem_wait_list.found && !l->rwsem_first_waiter.found) {
		kstate_fmt(err, errlen,
			   "the kernel's BTF has neither rw_semaphore.wait_list "
			   "nor rw_semaphore.first_waiter: daxlab cannot read "
			   "rwsem waiters on this kernel (PREEMPT_RT?)");
		return -ENOENT;
	}
	/*
	 * compound_info (7.x) holds a mask when HUGETLB_PAGE_OPTIMIZE_VMEMMAP
	 * and sizeof(struct page) is a power of two: possible only then.
	 */
	l->compound_info = !kbtf_member(btf, "page.compound_info", &probe);
	return 0;
}

static int resolve_sizes(const struct btf *btf, struct kstate_layout *l,
			 char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} sizes[] = {
		{ "page", offsetof(struct kstate_layout, page_size) },
		{ "folio", offsetof(struct kstate_layout, folio_size) },
		{ "range", offsetof(struct kstate_layout, range_size) },
		{ "xa_node", offsetof(struct kstate_layout, xa_node_size) },
		{ "rw_semaphore", offsetof(struct kstate_layout, rwsem_size) },
		{ "rwsem_waiter", offsetof(struct kstate_layout, waiter_size) },
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t sz = kbtf_struct_size(btf, sizes[i].name);

		if (sz <= 0) {
			kstate_fmt(err, errlen, "BTF has no struct %s",
				   sizes[i].name);
			return -ENOENT;
		}
		*(uint32_t *)((char *)l + sizes[i].off) = sz;
	}
	/* XA_CHUNK_SIZE is not in BTF, but slots[XA_CHUNK_SIZE] is */
	l->xa_chunk_size = l->xa_node_slots.size / sizeof(uint64_t);
	if (l->xa_chunk_size < 2 || l->xa_chunk_size > 64 ||
	    (l->xa_chunk_size & (l->xa_chunk_size - 1))) {
		kstate_fmt(err, errlen, "odd xa_node.slots size %u",
			   l->xa_node_slots.size);
		return -EINVAL;
	}
	return 0;
}

/*
 * enum pageflags: names for values below __NR_PAGEFLAGS.  Aliases
 * (PG_checked == PG_owner_priv_1, ...) follow the primary names in the
 * enum, so the first name seen for a value is kept.
 */
static int resolve_pageflags(const struct btf *btf, struct kstate_layout *l,
			     char *err, size_t errlen)
{
	int id = btf__find_by_name_kind(btf, "pageflags", BTF_KIND_ENUM);
	const struct btf_type *t;
	const struct btf_enum *e;
	int64_t nr;
	int i;

	if (id <= 0 || kbtf_enum_value(btf, "pageflags", "__NR_PAGEFLAGS", &nr) ||
	    nr <= 0 || nr > KSTATE_MAX_PAGEFLAGS) {
		kstate_fmt(err, errlen, "BTF has no usable enum pageflags");
		return -ENOENT;
	}
	l->nr_pageflags = nr;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		const char *name = btf__name_by_offset(btf, e->name_off);

		if (e->val < 0 || e->val >= nr || l->pageflag_name[e->val])
			continue;
		if (strncmp(name, "PG_", 3))
			continue;
		l->pageflag_name[e->val] = name;
	}
	l->pg_head = -1;
	for (i = 0; i < (int)nr; i++)
		if (l->pageflag_name[i] && !strcmp(l->pageflag_name[i], "PG_head"))
			l->pg_head = i;
	if (l->pg_head < 0) {
		kstate_fmt(err, errlen, "enum pageflags has no PG_head");
		return -ENOENT;
	}
	return 0;
}

/* An enumerator that may be missing on some kernels: -1 then. */
static int64_t enum_or(const struct btf *btf, const char *en, const char *name)
{
	int64_t v;

	return kbtf_enum_value(btf, en, name, &v) ? -1 : v;
}

static int resolve_enums(const struct btf *btf, struct kstate_layout *l,
			 char *err, size_t errlen)
{
	l->mt_private = enum_or(btf, "memory_type", "MEMORY_DEVICE_PRIVATE");
	l->mt_coherent = enum_or(btf, "memory_type", "MEMORY_DEVICE_COHERENT");
	l->mt_fs_dax = enum_or(btf, "memory_type", "MEMORY_DEVICE_FS_DAX");
	l->mt_generic = enum_or(btf, "memory_type", "MEMORY_DEVICE_GENERIC");
	l->mt_p2pdma = enum_or(btf, "memory_type", "MEMORY_DEVICE_PCI_P2PDMA");
	if (l->mt_fs_dax < 0) {
		kstate_fmt(err, errlen,
			   "BTF has no MEMORY_DEVICE_FS_DAX (CONFIG_ZONE_DEVICE?)");
		return -ENOENT;
	}
	l->waiting_for_write = enum_or(btf, "rwsem_waiter_type",
				       "RWSEM_WAITING_FOR_WRITE");
	l->waiting_for_read = enum_or(btf, "rwsem_waiter_type",
				      "RWSEM_WAITING_FOR_READ");
	if (l->waiting_for_write < 0 || l->waiting_for_read < 0) {
		kstate_fmt(err, errlen, "BTF has no enum rwsem_waiter_type");
		return -ENOENT;
	}
	return 0;
}

int kstate_layout_resolve(const struct btf *btf, struct kstate_layout *l,
			  char *err, size_t errlen)
{
	int ret;

	memset(l, 0, sizeof(*l));
	ret = resolve_fields(btf, l, err, errlen);
	if (!ret)
		ret = resolve_sizes(btf, l, err, errlen);
	if (!ret)
		ret = resolve_pageflags(btf, l, err, errlen);
	if (!ret)
		ret = resolve_enums(btf, l, err, errlen);
	return ret;
}
