// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, run on the build host:
 *  - pure decoders: rwsem count/owner, xarray entries, DAX entries, page
 *    flags, compound heads, the split of references and pins, the
 *    page-table walk over fake tables;
 *  - BTF lookups against the host's /sys/kernel/btf/vmlinux and the BTF of
 *    each kernel era's vmlinux (Debian 6.1, 6.12, 7.2), with fixed
 *    expected values (checked against pahole and bpftool's raw dump) and,
 *    when bpftool is installed, a live cross-check against its raw dump;
 *  - the whole reader (kcore ELF, kallsyms, page walk, page/rwsem/xarray)
 *    against a fake /proc/kcore and /proc/kallsyms built here, with
 *    structs laid out from the BTF under test.
 *
 * Output is TAP, as the kernel's kselftests print it: one test point per
 * test, "# " diagnostics, a trailing plan and a "# Totals:" line.
 *
 *   kstate_test [--btf ERA=VMLINUX]...     ERA: 6.1, 6.12 or 7.2
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "kstate.h"

static int passed, failed;		/* single checks */
static int tap_nr, tap_pass, tap_fail, tap_skip;	/* test points */

static void check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("# FAIL %s:%d: %s\n", file, line, what);
}

#define CHECK(c) check((c), #c, __FILE__, __LINE__)
#define CHECK_EQ(a, b) do {						\
	uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);		\
	if (_a != _b)							\
		printf("#   %s = %#" PRIx64 ", expected %#" PRIx64 "\n",	\
		       #a, _a, _b);					\
	check(_a == _b, #a " == " #b, __FILE__, __LINE__);		\
} while (0)

/* One TAP test point: ok unless a check inside @fn failed. */
static void tap_run(const char *name, void (*fn)(const void *),
		    const void *arg)
{
	int before = failed;

	printf("# RUN %s\n", name);
	fn(arg);
	tap_nr++;
	if (failed == before) {
		tap_pass++;
		printf("ok %d %s\n", tap_nr, name);
	} else {
		tap_fail++;
		printf("not ok %d %s\n", tap_nr, name);
	}
	fflush(stdout);
}

static void tap_skip_test(const char *name, const char *why)
{
	tap_nr++;
	tap_skip++;
	printf("ok %d %s # SKIP %s\n", tap_nr, name, why);
}

/* ------------------------------------------------------ pure decoders */

static void test_rwsem_decode(void)
{
	const uint64_t task = 0xff11000012345600ULL;
	struct krwsem rw;

	krwsem_decode(0, 0, &rw);
	CHECK(!rw.writer_locked && !rw.waiters && !rw.handoff);
	CHECK_EQ(rw.readers, 0);
	CHECK_EQ(rw.owner_task, 0);

	/* down_write(): RWSEM_WRITER_LOCKED, owner = current */
	krwsem_decode(1, task, &rw);
	CHECK(rw.writer_locked && !rw.waiters && !rw.reader_owned);
	CHECK_EQ(rw.owner_task, task);

	/* writer holds it, a waiter queued, handoff requested */
	krwsem_decode(0x7, task, &rw);
	CHECK(rw.writer_locked && rw.waiters && rw.handoff);
	CHECK_EQ(rw.readers, 0);

	/* two readers and a waiting writer: 2 * RWSEM_READER_BIAS | WAITERS */
	krwsem_decode(0x202, task | 1, &rw);
	CHECK(!rw.writer_locked && rw.waiters);
	CHECK_EQ(rw.readers, 2);
	CHECK(rw.reader_owned && !rw.nonspinnable);
	CHECK_EQ(rw.owner_task, task);

	/* owner flags are masked off */
	krwsem_decode(0x100, task | 3, &rw);
	CHECK(rw.reader_owned && rw.nonspinnable);
	CHECK_EQ(rw.owner_task, task);
	CHECK_EQ(rw.readers, 1);

	/* RWSEM_FLAG_READFAIL is bit 63, not a reader */
	krwsem_decode((int64_t)(1ULL << 63 | 0x300), 0, &rw);
	CHECK(rw.read_fail);
	CHECK_EQ(rw.readers, 3);
	CHECK_EQ(rw.count, (int64_t)(1ULL << 63 | 0x300));
}

static void test_xa_decode(void)
{
	struct kxa_entry e;

	kxa_decode(0, 64, &e);
	CHECK_EQ(e.kind, KXA_EMPTY);
	kxa_decode(0x5, 64, &e);		/* xa_mk_value(2) */
	CHECK_EQ(e.kind, KXA_VALUE);
	CHECK_EQ(e.value, 2);
	kxa_decode(0xff11000001234560ULL, 64, &e);
	CHECK_EQ(e.kind, KXA_POINTER);
	kxa_decode(0xff11000001234002ULL, 64, &e);
	CHECK_EQ(e.kind, KXA_NODE);
	CHECK_EQ(e.value, 0xff11000001234000ULL);
	kxa_decode(3 << 2 | 2, 64, &e);		/* xa_mk_sibling(3) */
	CHECK_EQ(e.kind, KXA_SIBLING);
	CHECK_EQ(e.value, 3);
	kxa_decode(0 << 2 | 2, 64, &e);		/* xa_mk_sibling(0) */
	CHECK_EQ(e.kind, KXA_SIBLING);
	/* xa_is_sibling(): below xa_mk_sibling(XA_CHUNK_SIZE - 1) only */
	kxa_decode(62 << 2 | 2, 64, &e);
	CHECK_EQ(e.kind, KXA_SIBLING);
	kxa_decode(63 << 2 | 2, 64, &e);
	CHECK_EQ(e.kind, KXA_INTERNAL);
	kxa_decode(256 << 2 | 2, 64, &e);
	CHECK_EQ(e.kind, KXA_RETRY);
	kxa_decode(257 << 2 | 2, 64, &e);
	CHECK_EQ(e.kind, KXA_ZERO);
	kxa_decode(4096, 64, &e);		/* aligned pointer, not a node */
	CHECK_EQ(e.kind, KXA_POINTER);
	kxa_decode(4094, 64, &e);		/* internal, <= 4096: not a node */
	CHECK_EQ(e.kind, KXA_INTERNAL);
	kxa_decode(-4094ULL << 2 | 2, 64, &e);	/* xa_mk_internal(-ENOMEM) */
	CHECK_EQ(e.kind, KXA_NODE);	/* as xa_is_node() would say too */
}

static void test_dax_decode(void)
{
	struct kdax_entry d;
	struct kxa_entry e;
	/* dax_make_entry(pfn 0x140200, DAX_PMD), then dax_lock_entry() */
	uint64_t value = 0x140200ULL << 4 | 0x2 | 0x1;

	kxa_decode(value << 1 | 1, 64, &e);	/* xa_mk_value() */
	CHECK_EQ(e.kind, KXA_VALUE);
	kdax_decode(e.value, &d);
	CHECK(d.locked && d.pmd && !d.zero_page && !d.empty);
	CHECK_EQ(d.pfn, 0x140200);
	CHECK_EQ(d.order, 9);

	kdax_decode(0x140010ULL << 4, &d);
	CHECK(!d.locked && !d.pmd && !d.zero_page && !d.empty);
	CHECK_EQ(d.pfn, 0x140010);
	CHECK_EQ(d.order, 0);

	kdax_decode(0x4, &d);			/* DAX_ZERO_PAGE */
	CHECK(d.zero_page && !d.empty);
	kdax_decode(0x8 | 0x2 | 0x1, &d);	/* locked empty PMD entry */
	CHECK(d.empty && d.pmd && d.locked);
	CHECK_EQ(d.pfn, 0);
}

/* A small page with @ref and @mapcount, or a large folio's head. */
static struct kpage small_page(int32_t ref, int32_t mapcount)
{
	struct kpage pg = { .refcount = ref, .head_refcount = ref,
			    .mapcount = mapcount, .order = 0 };

	return pg;
}

static void test_split_refs(void)
{
	/* fsdax before v6.15: idle 1, DAX ptes hold no reference */
	const struct kref_model old = { .idle = 1 };
	/* fsdax from v6.15, anon, page cache: idle 0, a mapping holds one */
	const struct kref_model mapped = { .idle = 0, .mappings_hold_refs = true };
	struct kpage pg;
	struct kref_split s;

	pg = small_page(1, 0);			/* idle, mapped once (6.1) */
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.above_idle == 0 && s.pins == 0 && s.refs == 0 && !s.mapped);
	pg = small_page(2, 0);			/* vmsplice: FOLL_GET */
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.above_idle == 1 && s.pins == 0 && s.refs == 1);
	pg = small_page(1025, 0);		/* one FOLL_PIN */
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.pins == 1 && s.refs == 0 && !s.exact_pins);
	pg = small_page(2 * 1024 + 3, 0);
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.pins == 2 && s.refs == 2);
	pg = small_page(0, 0);			/* below idle: anomaly */
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.pins == 0 && s.refs == -1 && s.above_idle == -1);

	/* 7.x fsdax: the mapping's reference is the mapping's */
	pg = small_page(1, 1);			/* idle, mapped once */
	kpage_split_refs(&pg, &mapped, false, &s);
	CHECK(s.mapped == 1 && s.above_idle == 0 && s.pins == 0 && s.refs == 0);
	pg = small_page(2, 1);			/* + vmsplice */
	kpage_split_refs(&pg, &mapped, false, &s);
	CHECK(s.mapped == 1 && s.above_idle == 1 && s.refs == 1 && !s.pins);
	pg = small_page(1026, 2);		/* two mappings + one pin */
	kpage_split_refs(&pg, &mapped, false, &s);
	CHECK(s.mapped == 2 && s.above_idle == 1024 && s.pins == 1 && !s.refs);
	pg = small_page(0, 1);			/* mapped but no reference */
	kpage_split_refs(&pg, &mapped, false, &s);
	CHECK(s.above_idle == -1 && s.refs == -1 && !s.pins);
	/* a fresh anon page in a per-CPU LRU batch */
	pg = small_page(2, 1);
	kpage_split_refs(&pg, &mapped, true, &s);
	CHECK(s.lru_batch == 1 && s.above_idle == 0);

	/* a PMD-mapped large folio with one pin: exact, from _pincount */
	pg = small_page(5, 0);			/* the tail's own word: ignored */
	pg.large = true;
	pg.head_refcount = 2;
	pg.have_pincount = true;
	pg.pincount = 1;
	pg.have_large_mapcount = true;
	pg.large_mapcount = 1;
	pg.have_entire_mapcount = true;
	pg.entire_mapcount = 1;
	kpage_split_refs(&pg, &mapped, false, &s);
	CHECK(s.mapped == 1 && s.above_idle == 1 && s.pins == 1 && !s.refs);
	CHECK(s.exact_pins);
	CHECK_EQ(kpage_folio_mapcount(&pg), 1);
	/* 6.1 has no _large_mapcount: PMD mappings + this page's PTEs */
	pg.have_large_mapcount = false;
	pg.mapcount = 1;
	CHECK_EQ(kpage_folio_mapcount(&pg), 2);
	kpage_split_refs(&pg, &old, false, &s);
	CHECK(s.mapped == 0 && s.above_idle == 1 && s.pins == 1 && !s.refs);
}

static void test_compound_head(void)
{
	struct kstate_layout l = { .page_size = 64 };
	const uint64_t head = 0xffffea0005008000ULL;	/* 2^15 aligned */
	const uint64_t tail = head + 3 * 64;
	/* set_compound_head() with a mask: GENMASK(63, 9 + 6) | 1 */
	const uint64_t mask = ~((1ULL << 15) - 1) | 1;

	CHECK_EQ(kpage_compound_head(&l, head, 0), head);
	CHECK_EQ(kpage_compound_head(&l, tail, head | 1), head);
	/* before 7.x a mask cannot be: read as a pointer, found implausible */
	CHECK_EQ(kpage_compound_head(&l, tail, mask), mask & ~1ULL);
	l.compound_info = true;
	CHECK_EQ(kpage_compound_head(&l, tail, mask), head);
	CHECK_EQ(kpage_compound_head(&l, tail, head | 1), head);
	CHECK_EQ(kpage_compound_head(&l, head, 0), head);
	/* order 18 is the largest the hunt allows; beyond is a pointer */
	CHECK_EQ(kpage_compound_head(&l, tail, ~((1ULL << 24) - 1) | 1),
		 tail & ~((1ULL << 24) - 1));
	CHECK_EQ(kpage_compound_head(&l, tail, ~((1ULL << 25) - 1) | 1),
		 ~((1ULL << 25) - 1));
	/* a struct page that is no power of two: pointers only */
	l.page_size = 80;
	CHECK_EQ(kpage_compound_head(&l, tail, mask), mask & ~1ULL);
}

/* --------------------------------------------------- page-table walk */

#define PT_P	0x63ULL			/* present, rw, accessed, dirty */
#define PT_PSE	(1ULL << 7)
#define PT_NX	(1ULL << 63)
#define PT_SW	(1ULL << 58)		/* a software bit above the address */
#define PT_PAT_HUGE (1ULL << 12)	/* PAT in a 2M/1G leaf */

/* Fake physical memory: a flat buffer. */
struct phys {
	uint8_t *mem;
	uint64_t size;
	uint64_t next_table;
	uint64_t table_end;
	int reads;
};

static int phys_read64(void *ctx, uint64_t pa, uint64_t *v)
{
	struct phys *p = ctx;

	p->reads++;
	if (pa + 8 > p->size)
		return -EFAULT;
	memcpy(v, p->mem + pa, 8);
	return 0;
}

static uint64_t *pte_at(struct phys *p, uint64_t pa)
{
	return (uint64_t *)(p->mem + pa);
}

static uint64_t alloc_table(struct phys *p)
{
	uint64_t t = p->next_table;

	if (t + 4096 > p->table_end) {
		fprintf(stderr, "fake page tables: out of space\n");
		exit(1);
	}
	p->next_table += 4096;
	memset(p->mem + t, 0, 4096);
	return t;
}

/* Map @va to @pa with a leaf at @leaf (1 = 4K, 2 = 2M, 3 = 1G). */
static void map(struct phys *p, uint64_t top, int levels, uint64_t va,
		uint64_t pa, int leaf)
{
	uint64_t table = top;
	int level;

	for (level = levels; level > leaf; level--) {
		uint64_t idx = (va >> (12 + 9 * (level - 1))) & 511;
		uint64_t *e = pte_at(p, table + idx * 8);

		if (!(*e & 1))
			*e = alloc_table(p) | PT_P | PT_NX;
		table = *e & 0x000ffffffffff000ULL;
	}
	*pte_at(p, table + ((va >> (12 + 9 * (leaf - 1))) & 511) * 8) =
		pa | PT_P | PT_NX | PT_SW |
		(leaf > 1 ? PT_PSE | PT_PAT_HUGE : 0);
}

static void test_pt_walk_levels(int levels)
{
	uint64_t base = levels == 5 ? 0xffa0000000000000ULL :
				      0xffffc90000000000ULL;
	struct phys p = { .size = 1 << 22 };
	struct kpt_result r;
	uint64_t top;

	p.mem = calloc(1, p.size);
	p.next_table = 0x1000;
	p.table_end = 0x100000;
	top = alloc_table(&p);

	map(&p, top, levels, base, 0x200000, 1);		/* 4K */
	map(&p, top, levels, base + 0x200000, 0x400000, 2);	/* 2M */
	map(&p, top, levels, base + 0x40000000, 0x80000000, 3); /* 1G */

	CHECK_EQ(kpt_walk(top, levels, base + 0x123, phys_read64, &p, &r), 0);
	CHECK_EQ(r.pa, 0x200123);
	CHECK_EQ(r.leaf_size, 4096);
	CHECK_EQ(r.leaf_level, 1);
	CHECK_EQ(p.reads, levels);

	/* PAT (bit 12), NX and software bits must not leak into pa */
	CHECK_EQ(kpt_walk(top, levels, base + 0x2abcde, phys_read64, &p, &r), 0);
	CHECK_EQ(r.pa, 0x4abcde);
	CHECK_EQ(r.leaf_size, 2ULL << 20);

	CHECK_EQ(kpt_walk(top, levels, base + 0x40000000 + 0x3456789,
			  phys_read64, &p, &r), 0);
	CHECK_EQ(r.pa, 0x83456789);
	CHECK_EQ(r.leaf_size, 1ULL << 30);
	CHECK_EQ(r.leaf_level, 3);

	/* next 4K page: table present, entry not */
	CHECK_EQ(kpt_walk(top, levels, base + 0x1000, phys_read64, &p, &r),
		 -EFAULT);
	/* non-canonical for this paging mode */
	CHECK_EQ(kpt_walk(top, levels, levels == 5 ? 0xfe00000000000000ULL :
			  0xff11000000000000ULL, phys_read64, &p, &r), -EINVAL);
	CHECK_EQ(kpt_walk(top, 3, base, phys_read64, &p, &r), -EINVAL);
	free(p.mem);
}

static void test_pt_walk(void)
{
	test_pt_walk_levels(5);
	test_pt_walk_levels(4);
}

/* --------------------------------------------------------------- BTF */

static void test_member_paths(const struct btf *btf)
{
	struct kfield f;

	CHECK_EQ(kbtf_member(btf, "page", &f), -EINVAL);
	CHECK_EQ(kbtf_member(btf, "page.", &f), -EINVAL);
	CHECK_EQ(kbtf_member(btf, "page.no_such_member", &f), -ENOENT);
	CHECK_EQ(kbtf_member(btf, "no_such_struct_xyz.a", &f), -ENOENT);
	CHECK(!f.found);

	/* through a typedef (atomic_t) into its struct */
	CHECK_EQ(kbtf_member(btf, "page._refcount.counter", &f), 0);
	CHECK_EQ(f.off, 52);
	CHECK_EQ(f.size, 4);
	/* rw_semaphore embedded in address_space, atomic_long_t inside */
	CHECK_EQ(kbtf_member(btf, "address_space.invalidate_lock.count", &f), 0);
	CHECK_EQ(f.off, 24);
	CHECK_EQ(f.size, 8);
	CHECK_EQ(kbtf_member(btf, "address_space.i_pages.xa_head", &f), 0);
	CHECK_EQ(f.off, 16);
	/* anonymous union members */
	CHECK_EQ(kbtf_member(btf, "page._mapcount", &f), 0);
	CHECK_EQ(f.off, 48);
	/* 7.x renamed it compound_info */
	CHECK(!kbtf_member(btf, "page.compound_head", &f) ||
	      !kbtf_member(btf, "page.compound_info", &f));
	CHECK_EQ(f.off, 8);
	/* a bitfield: one bit */
	CHECK_EQ(kbtf_member(btf, "task_struct.sched_reset_on_fork", &f), 0);
	CHECK_EQ(f.bit_size, 1);
	/* no members below a scalar */
	CHECK_EQ(kbtf_member(btf, "page._refcount.counter.x", &f), -ENOENT);
	CHECK_EQ(kbtf_struct_size(btf, "page"), 64);
	CHECK(kbtf_struct_size(btf, "no_such_struct_xyz") < 0);
}

static void test_enums(const struct btf *btf)
{
	int64_t v;

	CHECK_EQ(kbtf_enum_value(btf, "pageflags", "PG_locked", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(kbtf_enum_value(btf, NULL, "MEMORY_DEVICE_FS_DAX", &v), 0);
	CHECK_EQ(v, 3);
	CHECK_EQ(kbtf_enum_value(btf, "memory_type", "MEMORY_DEVICE_GENERIC",
				 &v), 0);
	CHECK_EQ(v, 4);
	CHECK_EQ(kbtf_enum_value(btf, "pageflags", "MEMORY_DEVICE_FS_DAX", &v),
		 -ENOENT);
	CHECK_EQ(kbtf_enum_value(btf, NULL, "NO_SUCH_ENUMERATOR_XYZ", &v),
		 -ENOENT);
}

/* Facts that hold for every kernel this library targets (6.1 .. 7.2). */
static void test_layout_common(const struct kstate_layout *l)
{
	CHECK_EQ(l->page_size, 64);
	CHECK_EQ(l->page_flags.off, 0);
	CHECK_EQ(l->page_flags.size, 8);
	CHECK_EQ(l->page_compound_head.off, 8);
	CHECK_EQ(l->page_mapping.off, 24);
	CHECK_EQ(l->page_index.off, 32);
	CHECK_EQ(l->page_mapcount.off, 48);
	CHECK_EQ(l->page_refcount.off, 52);
	CHECK_EQ(l->page_refcount.size, 4);
	CHECK_EQ(l->page_pgmap.off, 8);		/* shares lru.next */
	CHECK(l->folio_pincount.found);
	CHECK(l->folio_entire_mapcount.found);
	CHECK(l->folio_order.found || l->folio_nr_pages.found);
	CHECK_EQ(l->rwsem_count.off, 0);
	CHECK_EQ(l->rwsem_owner.off, 8);
	/* one or the other, in the same place */
	CHECK(l->rwsem_wait_list.found != l->rwsem_first_waiter.found);
	CHECK_EQ(l->rwsem_wait_list.found ? l->rwsem_wait_list.off :
		 l->rwsem_first_waiter.off, 24);
	CHECK_EQ(l->waiter_list.off, 0);
	CHECK_EQ(l->waiter_task.off, 16);
	CHECK_EQ(l->waiter_type.off, 24);
	CHECK_EQ(l->waiting_for_write, 0);
	CHECK_EQ(l->waiting_for_read, 1);
	CHECK_EQ(l->list_next.off, 0);
	CHECK_EQ(l->xa_head.off, 8);
	CHECK_EQ(l->xa_node_shift.off, 0);
	CHECK_EQ(l->xa_node_offset.off, 1);
	CHECK_EQ(l->xa_node_array.off, 16);
	CHECK_EQ(l->xa_node_slots.off, 40);
	CHECK_EQ(l->xa_chunk_size, 64);
	CHECK_EQ(l->task_comm.size, 16);
	CHECK(l->task_state.found);
	CHECK_EQ(l->as_host.off, 0);
	CHECK_EQ(l->as_i_pages.off, 8);
	CHECK(l->as_invalidate_lock.found);
	CHECK_EQ(l->as_invalidate_lock.off, 24);
	CHECK_EQ(l->mt_fs_dax, 3);
	CHECK_EQ(l->mt_generic, 4);
	CHECK_EQ(l->range_size, 16);
	CHECK(l->pg_head > 0);
	CHECK(!strcmp(l->pageflag_name[0], "PG_locked"));
	CHECK(!strcmp(l->pageflag_name[l->pg_head], "PG_head"));
}

/* Debian 6.1.0-56/57-amd64, values read off bpftool's raw dump. */
static void test_layout_61(const struct kstate_layout *l)
{
	char buf[256];

	test_layout_common(l);
	CHECK(!l->compound_info);
	CHECK(l->rwsem_wait_list.found);
	CHECK(!l->folio_large_mapcount.found);
	CHECK_EQ(l->folio_size, 112);
	CHECK_EQ(l->folio_order.off, 81);		/* _folio_order */
	CHECK_EQ(l->folio_entire_mapcount.off, 84);	/* _total_mapcount */
	CHECK_EQ(l->folio_pincount.off, 88);
	CHECK_EQ(l->folio_nr_pages.off, 92);		/* _folio_nr_pages */
	CHECK_EQ(l->pgmap_type.off, 96);
	CHECK_EQ(l->pgmap_nr_range.off, 128);
	CHECK_EQ(l->pgmap_range_start.off, 136);
	CHECK_EQ(l->pgmap_range_end.off, 144);
	CHECK_EQ(l->task_state.off, 24);		/* __state */
	CHECK_EQ(l->task_pid.off, 2416);
	CHECK_EQ(l->task_tgid.off, 2420);
	CHECK_EQ(l->task_comm.off, 2976);
	CHECK_EQ(l->as_i_mmap_rwsem.off, 88);
	CHECK_EQ(l->as_nrpages.off, 128);
	CHECK_EQ(l->inode_i_ino.off, 64);
	CHECK_EQ(l->inode_i_rwsem.off, 160);
	CHECK_EQ(l->rwsem_size, 40);
	CHECK_EQ(l->waiter_size, 48);
	CHECK_EQ(l->xa_node_size, 576);
	CHECK_EQ(l->nr_pageflags, 25);
	CHECK_EQ(l->pg_head, 16);
	CHECK(!strcmp(kstate_pageflag_name(l, 15), "PG_writeback"));
	CHECK(!strcmp(kstate_pageflag_name(l, 10), "PG_owner_priv_1"));
	CHECK(kstate_pageflag_name(l, 25) == NULL);
	/* zone/node bits on top must not decode as flags */
	kstate_pageflags_str(l, 1ULL << 0 | 1ULL << 2 | 1ULL << 16 |
			     0x5ULL << 51 | 0x3ffULL << 54, buf, sizeof(buf));
	CHECK(!strcmp(buf, "locked|uptodate|head"));
	/* truncation keeps a terminated string and reports the full length */
	CHECK_EQ(kstate_pageflags_str(l, 1ULL << 0 | 1ULL << 2, buf, 5),
		 strlen("locked|uptodate"));
	CHECK(!strcmp(buf, "lock"));
}

static void test_bitfield_61(const struct btf *btf)
{
	struct kfield f;

	/* bpftool: 'in_iowait' bits_offset=18755 bitfield_size=1 */
	CHECK_EQ(kbtf_member(btf, "task_struct.in_iowait", &f), 0);
	CHECK_EQ(f.off, 18755 / 8);
	CHECK_EQ(f.bit_off, 3);
	CHECK_EQ(f.bit_size, 1);
	CHECK_EQ(f.size, 4);
}

/* Debian 6.12.95+deb12-amd64 (bookworm-backports), checked with pahole. */
static void test_layout_612(const struct kstate_layout *l)
{
	char buf[256];

	test_layout_common(l);
	CHECK(!l->compound_info);		/* compound_head: head | 1 */
	CHECK(l->rwsem_wait_list.found);
	CHECK_EQ(l->folio_size, 192);
	CHECK(!l->folio_order.found);		/* in _flags_1 */
	CHECK_EQ(l->folio_large_mapcount.off, 80);
	CHECK_EQ(l->folio_entire_mapcount.off, 84);
	CHECK_EQ(l->folio_pincount.off, 92);	/* the folio's second page */
	CHECK_EQ(l->folio_nr_pages.off, 96);	/* _folio_nr_pages */
	CHECK_EQ(l->pgmap_type.off, 104);
	CHECK_EQ(l->pgmap_nr_range.off, 136);
	CHECK_EQ(l->pgmap_range_start.off, 144);
	CHECK_EQ(l->task_pid.off, 2432);
	CHECK_EQ(l->task_tgid.off, 2436);
	CHECK_EQ(l->task_comm.off, 2976);
	CHECK_EQ(l->as_i_mmap_rwsem.off, 144);
	CHECK_EQ(l->as_nrpages.off, 88);
	CHECK_EQ(l->inode_i_rwsem.off, 152);
	CHECK_EQ(l->rwsem_size, 40);
	CHECK_EQ(l->waiter_size, 48);
	CHECK_EQ(l->nr_pageflags, 24);
	CHECK_EQ(l->pg_head, 6);
	kstate_pageflags_str(l, 1ULL << 1 | 1ULL << 6 | 0x3ULL << 60, buf,
			     sizeof(buf));
	CHECK(!strcmp(buf, "writeback|head"));
}

/* Debian 7.2.13+deb14-amd64 (sid), checked with pahole. */
static void test_layout_72(const struct kstate_layout *l)
{
	test_layout_common(l);
	CHECK(l->compound_info);		/* a mask with HVO */
	CHECK(!l->rwsem_wait_list.found);	/* first_waiter only */
	CHECK_EQ(l->rwsem_first_waiter.off, 24);
	CHECK_EQ(l->rwsem_first_waiter.size, 8);
	CHECK_EQ(l->page_flags.size, 8);	/* memdesc_flags_t.f */
	CHECK_EQ(l->folio_size, 256);
	CHECK(!l->folio_order.found);
	CHECK_EQ(l->folio_large_mapcount.off, 80);
	CHECK_EQ(l->folio_entire_mapcount.off, 88);
	CHECK_EQ(l->folio_pincount.off, 92);
	CHECK_EQ(l->folio_nr_pages.off, 120);	/* _nr_pages */
	CHECK_EQ(l->pgmap_type.off, 96);
	CHECK_EQ(l->pgmap_nr_range.off, 128);
	CHECK_EQ(l->task_pid.off, 2808);
	CHECK_EQ(l->task_comm.off, 3344);
	CHECK_EQ(l->as_i_mmap_rwsem.off, 120);
	CHECK_EQ(l->as_nrpages.off, 80);
	CHECK_EQ(l->inode_i_rwsem.off, 152);
	CHECK_EQ(l->rwsem_size, 32);
	CHECK_EQ(l->waiter_size, 48);
	CHECK_EQ(l->nr_pageflags, 25);
	CHECK_EQ(l->pg_head, 6);
	CHECK(!strcmp(kstate_pageflag_name(l, 19), "PG_dropbehind"));
}

static struct kstate *open_btf(const char *path)
{
	struct kstate_opts o = { .btf_path = path, .btf_only = true };
	char err[256];
	struct kstate *ks = kstate_open(&o, err, sizeof(err));

	if (!ks)
		printf("#   kstate_open(%s): %s\n", path ? path : "default", err);
	return ks;
}

/* ---------------------------------------- cross-check against bpftool */

struct raw_member {
	const char *path;	/* "struct.member", top level only */
	bool required;
};

static const struct raw_member raw_members[] = {
	{ "page.flags", true },
	{ "page._refcount", true },
	{ "rw_semaphore.count", true },
	{ "rw_semaphore.owner", true },
	{ "rw_semaphore.wait_list", false },	/* up to 7.1 */
	{ "rw_semaphore.first_waiter", false },	/* 7.2 */
	{ "rwsem_waiter.list", true },
	{ "rwsem_waiter.task", true },
	{ "rwsem_waiter.type", true },
	{ "task_struct.pid", true },
	{ "task_struct.tgid", true },
	{ "task_struct.comm", true },
	{ "task_struct.__state", true },
	{ "task_struct.sched_reset_on_fork", true },
	{ "task_struct.in_iowait", true },	/* a bitfield */
	{ "dev_pagemap.type", true },
	{ "dev_pagemap.nr_range", true },
	{ "address_space.host", true },
	{ "address_space.i_pages", true },
	{ "address_space.invalidate_lock", true },
	{ "address_space.i_mmap_rwsem", true },
	{ "address_space.nrpages", true },
	{ "inode.i_ino", true },
	{ "inode.i_rwsem", true },
	{ "xarray.xa_head", true },
	{ "xa_node.shift", true },
	{ "xa_node.offset", true },
	{ "xa_node.array", true },
	{ "xa_node.slots", true },
	{ "folio._pincount", false },		/* nested after 6.1 */
	{ "folio._folio_order", false },
};

/* Parse one member line of `bpftool btf dump format raw`. */
static bool raw_member_line(const char *line, const char *member,
			    unsigned long *bits, unsigned long *bf)
{
	char name[128];
	const char *p;

	if (sscanf(line, "\t'%127[^']'", name) != 1 || strcmp(name, member))
		return false;
	p = strstr(line, "bits_offset=");
	if (!p)
		return false;
	*bits = strtoul(p + 12, NULL, 10);
	p = strstr(line, "bitfield_size=");
	*bf = p ? strtoul(p + 14, NULL, 10) : 0;
	return true;
}

/* Compare one path with bpftool's numbers; 1 if found in the dump. */
static int raw_check(FILE *f, const struct btf *btf, const struct raw_member *m)
{
	char sname[64], member[64], line[512], want[160];
	unsigned long bits, bf;
	bool in = false;
	struct kfield kf;

	if (sscanf(m->path, "%63[^.].%63s", sname, member) != 2)
		return 0;
	snprintf(want, sizeof(want), "STRUCT '%s' ", sname);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '[') {
			if (in)
				break;
			in = strstr(line, want) != NULL;
			continue;
		}
		if (!in || !raw_member_line(line, member, &bits, &bf))
			continue;
		CHECK_EQ(kbtf_member(btf, m->path, &kf), 0);
		CHECK_EQ(kf.off, bits / 8);
		CHECK_EQ(kf.bit_off, bf ? bits % 8 : 0);
		CHECK_EQ(kf.bit_size, bf);
		return 1;
	}
	if (m->required)
		printf("#   bpftool dump has no %s\n", m->path);
	CHECK(!m->required);
	return 0;
}

static void test_against_bpftool(const struct btf *btf, const char *path)
{
	char cmd[512], tmp[] = "/tmp/kstate_raw_XXXXXX";
	size_t i;
	int fd = mkstemp(tmp), n = 0;
	FILE *f;

	if (fd < 0)
		return;
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "bpftool btf dump file '%s' format raw > %s 2>/dev/null",
		 path, tmp);
	if (system(cmd)) {
		printf("# no bpftool cross-check of %s (bpftool missing?)\n",
		       path);
		unlink(tmp);
		return;
	}
	f = fopen(tmp, "r");
	for (i = 0; f && i < sizeof(raw_members) / sizeof(raw_members[0]); i++)
		n += raw_check(f, btf, &raw_members[i]);
	if (f)
		fclose(f);
	unlink(tmp);
	printf("#   bpftool cross-check of %s: %d members\n", path, n);
}

static void test_host_btf(void)
{
	const char *path = "/sys/kernel/btf/vmlinux";
	struct kstate *ks;

	if (access(path, R_OK)) {
		printf("# host BTF: %s missing\n", path);
		return;
	}
	ks = open_btf(NULL);
	CHECK(ks != NULL);
	if (!ks)
		return;
	test_member_paths(kstate_btf(ks));
	test_enums(kstate_btf(ks));
	test_layout_common(kstate_layout(ks));
	test_against_bpftool(kstate_btf(ks), path);
	kstate_close(ks);
}

static void test_btf_errors(void)
{
	struct kstate_opts o = { .btf_path = "/nonexistent/vmlinux",
				 .btf_only = true };
	char err[256] = "";

	CHECK(kstate_open(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/vmlinux") != NULL);
}

/* ------------------------------------------- fake /proc/kcore, e2e */

#define RAM_SIZE	(8ULL << 20)
#define TEXT_VA		0xffffffff81000000ULL
#define TEXT_PA		0x200000ULL
#define TEXT_SIZE	0x10000ULL
#define TOP_OFF		0x1000ULL	/* init_top_pgt in text */
#define TABLES_PA	0x100000ULL
#define LEAF2M_PA	0x400000ULL	/* vmemmap of the fake pmem */
#define OBJ_PA		0x600000ULL
#define PMEM_PFN	0x140000ULL	/* pmem at 5 GiB, like a 1G nvdimm */
#define PMEM_PA		(PMEM_PFN << 12)
#define RAM_PFNS	(RAM_SIZE >> 12)
#define PFN_RAM		5ULL
#define PFN_FSDAX	(PMEM_PFN + 0x10)
#define PFN_HEAD	(PMEM_PFN + 0x200)
#define PFN_TAIL	(PFN_HEAD + 3)
#define PFN_TAIL2	(PFN_HEAD + 7)
#define PFN_BADTAIL	(PMEM_PFN + 0x400)
#define PFN_COW		(PMEM_PFN + 0x20)	/* shared, up to 6.x */
#define PFN_SHARED	(PMEM_PFN + 0x21)	/* shared, 7.x */
#define PFN_UNUSED	(PMEM_PFN + 0x22)	/* no file, refcount 0 */

struct fake {
	const struct kstate_layout *l;
	int levels;
	uint64_t pob, vmb;
	struct phys p;
	uint8_t *vmm;			/* kcore vmemmap segment (RAM pfns) */
	uint64_t next_obj;
	char kcore[64], kallsyms[64];

	/* kernel objects, by VA */
	uint64_t t_writer, t_w2, t_r1;
	uint64_t rw_main, rw_loop, rw_bad, rw_many, rw_readers;
	uint64_t mapping, inode, mapping_bad, mapping_head;
	uint64_t node_n1;
};

static void put(void *base, const struct kfield *f, uint64_t v)
{
	memcpy((uint8_t *)base + f->off, &v, f->size > 8 ? 8 : f->size);
}

static void *obj(struct fake *fk, size_t size, uint64_t *va)
{
	uint64_t pa = fk->next_obj;

	fk->next_obj = (pa + size + 63) & ~63ULL;
	if (fk->next_obj > RAM_SIZE) {
		fprintf(stderr, "fake objects: out of space\n");
		exit(1);
	}
	*va = fk->pob + pa;
	return fk->p.mem + pa;
}

static void *at(struct fake *fk, uint64_t va)
{
	return fk->p.mem + (va - fk->pob);
}

static uint64_t page_va(struct fake *fk, uint64_t pfn)
{
	return fk->vmb + pfn * fk->l->page_size;
}

static uint8_t *pmem_page(struct fake *fk, uint64_t pfn)
{
	return fk->p.mem + LEAF2M_PA + (pfn - PMEM_PFN) * fk->l->page_size;
}

static uint64_t mk_task(struct fake *fk, int pid, const char *comm)
{
	const struct kstate_layout *l = fk->l;
	uint64_t va;
	uint8_t *t = obj(fk, l->task_comm.off + 64, &va);

	put(t, &l->task_pid, pid);
	put(t, &l->task_tgid, pid);
	put(t, &l->task_state, 2);	/* TASK_UNINTERRUPTIBLE */
	/* the kernel keeps comm NUL-terminated: at most 15 characters */
	memcpy(t + l->task_comm.off, comm,
	       strlen(comm) < l->task_comm.size ? strlen(comm) :
	       l->task_comm.size - 1);
	return va;
}

/*
 * A rwsem whose wait list holds @n waiters (tasks[i], types[i]): anchored
 * in wait_list (up to 7.1) or, with first_waiter (7.2), a circle of the
 * waiters alone.
 */
static uint64_t mk_rwsem(struct fake *fk, int64_t count, uint64_t owner,
			 int n, const uint64_t *tasks, const int *types)
{
	const struct kstate_layout *l = fk->l;
	bool anchored = l->rwsem_wait_list.found;
	uint64_t va, wva, first = 0, prev_next;
	uint8_t *rw = obj(fk, l->rwsem_size, &va);
	int i;

	put(rw, &l->rwsem_count, count);
	put(rw, &l->rwsem_owner, owner);
	prev_next = anchored ? va + l->rwsem_wait_list.off + l->list_next.off : 0;
	for (i = 0; i < n; i++) {
		uint8_t *w = obj(fk, l->waiter_size, &wva);

		put(w, &l->waiter_task, tasks[i]);
		put(w, &l->waiter_type, types[i]);
		if (!first)
			first = wva;
		if (prev_next)
			memcpy(at(fk, prev_next), &(uint64_t){ wva + l->waiter_list.off }, 8);
		prev_next = wva + l->waiter_list.off + l->list_next.off;
	}
	/* close the circle: back to the anchor, or to the first waiter */
	if (anchored)
		memcpy(at(fk, prev_next), &(uint64_t){ va + l->rwsem_wait_list.off }, 8);
	else if (first)
		memcpy(at(fk, prev_next), &(uint64_t){ first + l->waiter_list.off }, 8);
	if (!anchored)
		put(rw, &l->rwsem_first_waiter, first);
	return va;
}

/* The first waiter of a rwsem built by mk_rwsem(). */
static uint64_t first_waiter(struct fake *fk, uint64_t rw)
{
	const struct kstate_layout *l = fk->l;
	const uint8_t *p = at(fk, rw);

	if (!l->rwsem_wait_list.found)
		return *(const uint64_t *)(p + l->rwsem_first_waiter.off);
	return *(const uint64_t *)(p + l->rwsem_wait_list.off) - l->waiter_list.off;
}

static void fake_rwsems(struct fake *fk)
{
	const struct kstate_layout *l = fk->l;
	uint64_t tasks[40];
	int types[40], i;
	uint8_t *w1;
	uint64_t w1va, w2node;

	fk->t_writer = mk_task(fk, 1234, "truncate");
	fk->t_w2 = mk_task(fk, 1300, "fsx");
	fk->t_r1 = mk_task(fk, 1301, "reader-with-a-long-name");
	tasks[0] = fk->t_w2;
	types[0] = l->waiting_for_write;
	tasks[1] = fk->t_r1;
	types[1] = l->waiting_for_read;
	tasks[2] = 0;			/* a reader already woken */
	types[2] = l->waiting_for_read;
	fk->rw_main = mk_rwsem(fk, 0x3, fk->t_writer, 3, tasks, types);
	fk->rw_readers = mk_rwsem(fk, 0x200, fk->t_r1 | 1, 0, NULL, NULL);
	for (i = 0; i < 40; i++) {
		tasks[i] = fk->t_w2;
		types[i] = l->waiting_for_write;
	}
	fk->rw_many = mk_rwsem(fk, 0x3, fk->t_writer, 40, tasks, types);

	/* w1 -> w2 -> w2: a loop that never comes back to the start */
	fk->rw_loop = mk_rwsem(fk, 0x3, fk->t_writer, 2, tasks, types);
	w1 = at(fk, first_waiter(fk, fk->rw_loop));
	w2node = *(uint64_t *)(w1 + l->waiter_list.off + l->list_next.off);
	memcpy(at(fk, w2node + l->list_next.off), &w2node, 8);

	/* w1 -> a user-space address */
	fk->rw_bad = mk_rwsem(fk, 0x3, fk->t_writer, 1, tasks, types);
	w1va = first_waiter(fk, fk->rw_bad);
	memcpy((uint8_t *)at(fk, w1va) + l->waiter_list.off + l->list_next.off,
	       &(uint64_t){ 0x1234 }, 8);
}

static uint64_t mk_node(struct fake *fk, uint64_t xa, unsigned int shift,
			unsigned int offset)
{
	const struct kstate_layout *l = fk->l;
	uint64_t va;
	uint8_t *n = obj(fk, l->xa_node_size, &va);

	put(n, &l->xa_node_shift, shift);
	put(n, &l->xa_node_offset, offset);
	put(n, &l->xa_node_array, xa);
	return va;
}

static void set_slot(struct fake *fk, uint64_t node, unsigned int i,
		     uint64_t entry)
{
	memcpy((uint8_t *)at(fk, node) + fk->l->xa_node_slots.off + i * 8,
	       &entry, 8);
}

static uint64_t mk_mapping(struct fake *fk, uint64_t head, uint64_t *xa)
{
	const struct kstate_layout *l = fk->l;
	uint64_t va, ino;
	uint8_t *m = obj(fk, l->as_nrpages.off + 64, &va);
	uint8_t *inode = obj(fk, l->inode_i_rwsem.off + 64, &ino);

	put(inode, &l->inode_i_ino, 42);
	put(m, &l->as_host, ino);
	put(m, &l->as_nrpages, 7);
	put(m, &l->as_i_pages, 0);
	memcpy(m + l->as_i_pages.off + l->xa_head.off, &head, 8);
	*xa = va + l->as_i_pages.off;
	return va;
}

#define XA_VALUE(v)	((uint64_t)(v) << 1 | 1)
#define XA_SIBLING(o)	((uint64_t)(o) << 2 | 2)
#define XA_NODE(n)	((n) | 2)

/*
 * i_pages of the main mapping, three levels:
 *   root (shift 12): slot 0 -> n1, slot 1 -> n3
 *   n1 (shift 6): slot 0 -> n2; slot 8 a PMD entry, 9..15 its siblings
 *   n2 (shift 0): slot 5 a PTE entry
 *   n3 (shift 6): slot 0 -> n4;  n4 (shift 0): slot 3 a zero-page entry
 */
static void fake_xarrays(struct fake *fk)
{
	const struct kstate_layout *l = fk->l;
	uint64_t xa, root, n1, n2, n3, n4;
	int i;

	fk->mapping = mk_mapping(fk, 0, &xa);
	fk->inode = *(uint64_t *)((uint8_t *)at(fk, fk->mapping) + l->as_host.off);
	root = mk_node(fk, xa, 12, 0);
	n1 = mk_node(fk, xa, 6, 0);
	n2 = mk_node(fk, xa, 0, 0);
	n3 = mk_node(fk, xa, 6, 1);
	n4 = mk_node(fk, xa, 0, 0);
	memcpy((uint8_t *)at(fk, xa) + l->xa_head.off, &(uint64_t){ XA_NODE(root) }, 8);
	set_slot(fk, root, 0, XA_NODE(n1));
	set_slot(fk, root, 1, XA_NODE(n3));
	set_slot(fk, n1, 0, XA_NODE(n2));
	set_slot(fk, n1, 8, XA_VALUE(PFN_HEAD << 4 | 0x2 | 0x1));
	for (i = 9; i < 16; i++)
		set_slot(fk, n1, i, XA_SIBLING(8));
	set_slot(fk, n2, 5, XA_VALUE(PFN_FSDAX << 4));
	set_slot(fk, n3, 0, XA_NODE(n4));
	set_slot(fk, n4, 3, XA_VALUE(0x4));
	fk->node_n1 = n1;

	/* a root node that belongs to another xarray */
	fk->mapping_bad = mk_mapping(fk, 0, &xa);
	root = mk_node(fk, xa + 4096, 6, 0);
	memcpy((uint8_t *)at(fk, xa) + l->xa_head.off, &(uint64_t){ XA_NODE(root) }, 8);

	/* a single entry in xa_head */
	fk->mapping_head = mk_mapping(fk, XA_VALUE(7ULL << 4), &xa);
}

static uint64_t mk_pgmap(struct fake *fk, int type, uint64_t start,
			 uint64_t size)
{
	const struct kstate_layout *l = fk->l;
	uint64_t va;
	uint8_t *p = obj(fk, l->pgmap_range_end.off + 64, &va);

	put(p, &l->pgmap_type, type);
	put(p, &l->pgmap_nr_range, 1);
	put(p, &l->pgmap_range_start, start);
	put(p, &l->pgmap_range_end, start + size - 1);
	return va;
}

/* Bit of a page flag, from the layout under test. */
static uint64_t pgbit(const struct kstate_layout *l, const char *name)
{
	unsigned int i;

	for (i = 0; i < l->nr_pageflags; i++)
		if (l->pageflag_name[i] && !strcmp(l->pageflag_name[i], name))
			return 1ULL << i;
	fprintf(stderr, "no %s in enum pageflags\n", name);
	exit(1);
}

static void fake_pages(struct fake *fk)
{
	const struct kstate_layout *l = fk->l;
	uint64_t fsdax = mk_pgmap(fk, l->mt_fs_dax, PMEM_PA, 1ULL << 30);
	uint64_t devdax = mk_pgmap(fk, l->mt_generic, PMEM_PA, 1ULL << 30);
	/* looks like a dev_pagemap, but for other memory */
	uint64_t decoy = mk_pgmap(fk, l->mt_fs_dax, 6ULL << 30, 1ULL << 30);
	uint8_t *p;

	/* an anonymous LRU page in RAM; lru.next points at the decoy */
	p = fk->vmm + PFN_RAM * l->page_size;
	put(p, &l->page_flags, pgbit(l, "PG_uptodate") | pgbit(l, "PG_lru") |
	    0x3ULL << 51);
	put(p, &l->page_refcount, 3);
	put(p, &l->page_mapcount, 1);
	put(p, &l->page_mapping, fk->mapping | 1);
	put(p, &l->page_index, 0x77);
	put(p, &l->page_compound_head, decoy);

	/* an fsdax page with one FOLL_PIN on top of its idle reference */
	p = pmem_page(fk, PFN_FSDAX);
	put(p, &l->page_flags, 0x4ULL << 51);
	put(p, &l->page_refcount, 1 + 1024);
	put(p, &l->page_mapcount, -1);
	put(p, &l->page_mapping, fk->mapping);
	put(p, &l->page_index, 5);
	put(p, &l->page_pgmap, fsdax);

	/* a device-dax compound page of order 9 and one of its tails */
	p = pmem_page(fk, PFN_HEAD);
	put(p, &l->page_flags, pgbit(l, "PG_head"));
	put(p, &l->page_refcount, 3);
	put(p, &l->page_mapping, fk->mapping);
	put(p, &l->page_index, 0x200);
	put(p, &l->page_pgmap, devdax);
	if (l->folio_order.found)
		put(p, &l->folio_order, 9);
	else
		put(p, &l->folio_nr_pages, 512);
	put(p, &l->folio_pincount, 2);
	put(p, &l->folio_entire_mapcount, 0);	/* one PMD mapping */
	if (l->folio_large_mapcount.found)
		put(p, &l->folio_large_mapcount, 0);
	/*
	 * With compound_info (7.x) and HVO, a mask: GENMASK(63, 9 + 6) | 1;
	 * without HVO, or before 7.x, head | 1
	 */
	p = pmem_page(fk, PFN_TAIL);
	put(p, &l->page_mapcount, -1);		/* no PTE maps it */
	put(p, &l->page_compound_head, l->compound_info ?
	    ~((1ULL << (9 + __builtin_ctz(l->page_size))) - 1) | 1 :
	    page_va(fk, PFN_HEAD) | 1);
	p = pmem_page(fk, PFN_TAIL2);
	put(p, &l->page_mapcount, -1);
	put(p, &l->page_compound_head, page_va(fk, PFN_HEAD) | 1);

	/* fsdax pages shared by reflink: mapping 1 (up to 6.x) or 0 (7.x) */
	p = pmem_page(fk, PFN_COW);
	put(p, &l->page_refcount, 1);
	put(p, &l->page_mapping, 1);
	put(p, &l->page_index, 2);
	put(p, &l->page_pgmap, fsdax);
	p = pmem_page(fk, PFN_SHARED);
	put(p, &l->page_refcount, 2);
	put(p, &l->page_index, 2);
	put(p, &l->page_pgmap, fsdax);
	p = pmem_page(fk, PFN_UNUSED);
	put(p, &l->page_pgmap, fsdax);

	/* a tail whose head pointer is garbage */
	p = pmem_page(fk, PFN_BADTAIL);
	put(p, &l->page_compound_head, fk->pob | 0x41);
}

static int fake_build(struct fake *fk, const struct kstate_layout *l,
		      int levels)
{
	uint8_t *text;
	uint64_t top = TEXT_PA + TOP_OFF, l5 = levels == 5;

	memset(fk, 0, sizeof(*fk));
	fk->l = l;
	fk->levels = levels;
	fk->p.mem = calloc(1, RAM_SIZE);
	fk->vmm = calloc(1, RAM_PFNS * 64);
	if (!fk->p.mem || !fk->vmm)
		return -1;
	fk->p.size = RAM_SIZE;
	fk->p.next_table = TABLES_PA;
	fk->p.table_end = TEXT_PA;
	fk->next_obj = OBJ_PA;
	fk->pob = l5 ? 0xff11000000000000ULL : 0xffff888000000000ULL;
	fk->vmb = l5 ? 0xffd4000000000000ULL : 0xffffea0000000000ULL;
	text = fk->p.mem + TEXT_PA;
	memcpy(text + 0x100, &fk->pob, 8);
	memcpy(text + 0x108, &fk->vmb, 8);
	memcpy(text + 0x110, &l5, 4);
	/* the pmem vmemmap: a 2M leaf, as vmemmap_populate() makes them */
	map(&fk->p, top, levels, page_va(fk, PMEM_PFN), LEAF2M_PA, 2);
	/* two 4K pages, 20K apart physically */
	map(&fk->p, top, levels, fk->vmb + (1ULL << 30), 0x300000, 1);
	map(&fk->p, top, levels, fk->vmb + (1ULL << 30) + 4096, 0x305000, 1);
	memcpy(fk->p.mem + 0x300ff8, "01234567", 8);
	memcpy(fk->p.mem + 0x305000, "89abcdef", 8);
	/* a 1G leaf over physical 0 */
	map(&fk->p, top, levels, fk->vmb + (4ULL << 30), 0, 3);
	fake_rwsems(fk);
	fake_xarrays(fk);
	fake_pages(fk);
	return 0;
}

static int write_kcore(struct fake *fk)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[4] = { { 0 } };
	uint64_t off = 0x10000, vmm_size = RAM_PFNS * fk->l->page_size;
	int fd, bad;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 4;
	ph[0].p_type = PT_NOTE;
	/* as fs/proc/kcore.c: KCORE_TEXT, KCORE_RAM, KCORE_VMEMMAP */
	ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off,
			      .p_vaddr = TEXT_VA, .p_paddr = TEXT_PA,
			      .p_filesz = TEXT_SIZE, .p_memsz = TEXT_SIZE };
	ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 2 * off,
			      .p_vaddr = fk->pob, .p_paddr = 0,
			      .p_filesz = RAM_SIZE, .p_memsz = RAM_SIZE };
	ph[3] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = 2 * off + RAM_SIZE,
			      .p_vaddr = fk->vmb, .p_paddr = -1ULL,
			      .p_filesz = vmm_size, .p_memsz = vmm_size };
	strcpy(fk->kcore, "/tmp/kstate_kcore_XXXXXX");
	fd = mkstemp(fk->kcore);
	if (fd < 0)
		return -1;
	/* kcore's text segment aliases the RAM it lives in */
	bad = pwrite(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	      pwrite(fd, ph, sizeof(ph), sizeof(eh)) != sizeof(ph) ||
	      pwrite(fd, fk->p.mem + TEXT_PA, TEXT_SIZE, off) != TEXT_SIZE ||
	      pwrite(fd, fk->p.mem, RAM_SIZE, 2 * off) != (ssize_t)RAM_SIZE ||
	      pwrite(fd, fk->vmm, vmm_size, 2 * off + RAM_SIZE) !=
	      (ssize_t)vmm_size;
	return close(fd) || bad ? -1 : 0;
}

static int write_kallsyms(struct fake *fk)
{
	FILE *f;
	int fd;

	strcpy(fk->kallsyms, "/tmp/kstate_kallsyms_XXXXXX");
	fd = mkstemp(fk->kallsyms);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	fprintf(f, "%016llx T _text\n", TEXT_VA);
	/* a module symbol of the same name must not win */
	fprintf(f, "%016llx d vmemmap_base\t[fake_mod]\n",
		0xffffffffc0001000ULL);
	fprintf(f, "%016llx D page_offset_base\n", TEXT_VA + 0x100);
	fprintf(f, "%016llx D vmemmap_base\n", TEXT_VA + 0x108);
	/* without CONFIG_X86_5LEVEL there is no such variable */
	if (fk->levels == 5)
		fprintf(f, "%016llx D __pgtable_l5_enabled\n", TEXT_VA + 0x110);
	fprintf(f, "%016llx D init_top_pgt\n", TEXT_VA + TOP_OFF);
	return fclose(f);
}

static void test_e2e_kmem(struct kstate *ks, struct fake *fk)
{
	const struct kstate_memmap *mm = kstate_memmap(ks);
	struct kstate_stats st0, st1;
	uint64_t pa, v = 0;
	char buf[17] = "";

	CHECK_EQ(mm->levels, fk->levels);
	CHECK_EQ(mm->page_offset_base, fk->pob);
	CHECK_EQ(mm->vmemmap_base, fk->vmb);
	CHECK_EQ(mm->init_top_pgt, TEXT_VA + TOP_OFF);

	kstate_get_stats(ks, &st0);
	CHECK_EQ(kstate_translate(ks, page_va(fk, PFN_FSDAX), &pa), 0);
	CHECK_EQ(pa, LEAF2M_PA + 0x10 * fk->l->page_size);
	/* the same 2M leaf again: no second walk */
	CHECK_EQ(kstate_translate(ks, page_va(fk, PFN_FSDAX + 100), &pa), 0);
	CHECK_EQ(pa, LEAF2M_PA + (0x10 + 100) * fk->l->page_size);
	kstate_get_stats(ks, &st1);
	CHECK_EQ(st1.walks - st0.walks, 1);
	CHECK_EQ(st1.tlb_hits - st0.tlb_hits, 1);
	/* a 2M leaf: one entry per level down to the PMD */
	CHECK_EQ(st1.preads - st0.preads, fk->levels - 1);
	CHECK_EQ(kstate_translate(ks, fk->vmb + (4ULL << 30) + 0x123456, &pa), 0);
	CHECK_EQ(pa, 0x123456);
	/* second time from the translation cache */
	CHECK_EQ(kstate_translate(ks, fk->vmb + (4ULL << 30) + 0x654321, &pa), 0);
	CHECK_EQ(pa, 0x654321);

	/* a read across two 4K pages that are apart physically */
	CHECK_EQ(kstate_read(ks, fk->vmb + (1ULL << 30) + 4096 - 8, buf, 16), 0);
	CHECK(!strcmp(buf, "0123456789abcdef"));
	/* a read straight from a kcore segment (text) */
	CHECK_EQ(kstate_read_u64(ks, TEXT_VA + 0x108, &v), 0);
	CHECK_EQ(v, fk->vmb);
	/* through the 1G leaf into the fake RAM */
	CHECK_EQ(kstate_read_u64(ks, fk->vmb + (4ULL << 30) + TEXT_PA + 0x100,
				 &v), 0);
	CHECK_EQ(v, fk->pob);

	CHECK_EQ(kstate_read(ks, fk->vmb + (1ULL << 30) + 8192, buf, 8), -EFAULT);
	CHECK(strstr(kstate_errmsg(ks), "not mapped") != NULL);
	CHECK_EQ(kstate_read(ks, 0x1000, buf, 8), -EFAULT);
	CHECK(strstr(kstate_errmsg(ks), "not a kernel address") != NULL);
	CHECK_EQ(kstate_read(ks, ~0ULL - 8, buf, 16), -EINVAL);
	CHECK(kstate_kptr_ok(ks, fk->pob + 64, 8));
	CHECK(!kstate_kptr_ok(ks, fk->pob + 4, 8));
	CHECK(!kstate_kptr_ok(ks, 0x7fffffffe000ULL, 8));
}

static void test_e2e_page(struct kstate *ks, struct fake *fk)
{
	const struct kstate_layout *l = kstate_layout(ks);
	struct kstate_pfn_range other = { PMEM_PFN + 0x10000, PMEM_PFN + 0x20000 };
	const struct kref_model idle1 = { .idle = 1 };
	struct kstate_stats st0, st1;
	struct kref_split split;
	struct kpage pg;

	CHECK_EQ(kstate_page_read(ks, PFN_RAM, &pg), 0);
	CHECK_EQ(pg.addr, page_va(fk, PFN_RAM));
	CHECK_EQ(pg.refcount, 3);
	CHECK_EQ(pg.mapcount, 2);
	CHECK_EQ(pg.mapping_kind, KPAGE_MAP_ANON);
	CHECK_EQ(pg.mapping, fk->mapping);
	CHECK_EQ(pg.index, 0x77);
	CHECK(!pg.tail && !pg.large && !pg.zone_device);	/* decoy */
	CHECK(kstate_page_test(l, &pg, "PG_uptodate"));
	CHECK(!kstate_page_test(l, &pg, "PG_locked"));

	CHECK_EQ(kstate_page_read(ks, PFN_FSDAX, &pg), 0);
	CHECK(pg.zone_device);
	CHECK_EQ(pg.dev_kind, KPAGE_DEV_FS_DAX);
	CHECK_EQ(pg.pgmap_type, 3);
	CHECK_EQ(pg.mapping_kind, KPAGE_MAP_FILE);
	CHECK_EQ(pg.mapcount, 0);
	CHECK_EQ(pg.index, 5);
	kpage_split_refs(&pg, &idle1, false, &split);
	CHECK(split.pins == 1 && split.refs == 0);
	/* the validated dev_pagemap is cached: one read for the next page */
	kstate_get_stats(ks, &st0);
	CHECK_EQ(kstate_page_read(ks, PFN_FSDAX, &pg), 0);
	CHECK(pg.zone_device);
	kstate_get_stats(ks, &st1);
	CHECK_EQ(st1.preads - st0.preads, 1);
	/* the decoy never is */
	CHECK_EQ(kstate_page_read(ks, PFN_RAM, &pg), 0);
	kstate_get_stats(ks, &st0);
	CHECK_EQ(kstate_page_read(ks, PFN_RAM, &pg), 0);
	kstate_get_stats(ks, &st1);
	CHECK(!pg.zone_device);
	CHECK(st1.preads - st0.preads > 1);

	CHECK_EQ(kstate_page_read(ks, PFN_TAIL, &pg), 0);
	CHECK(pg.tail && pg.large);
	CHECK_EQ(pg.head_pfn, PFN_HEAD);
	CHECK_EQ(pg.head_refcount, 3);
	CHECK_EQ(pg.order, 9);
	CHECK(pg.have_pincount);
	CHECK_EQ(pg.pincount, 2);
	CHECK_EQ(pg.entire_mapcount, 1);
	CHECK_EQ(pg.index, 0x203);
	CHECK_EQ(pg.dev_kind, KPAGE_DEV_GENERIC);
	CHECK(pg.have_large_mapcount == l->folio_large_mapcount.found);
	CHECK_EQ(kpage_folio_mapcount(&pg), 1);
	/* the same head through a plain pointer (7.x without HVO) */
	CHECK_EQ(kstate_page_read(ks, PFN_TAIL2, &pg), 0);
	CHECK(pg.tail && pg.large);
	CHECK_EQ(pg.head_pfn, PFN_HEAD);
	CHECK_EQ(pg.index, 0x207);

	CHECK_EQ(kstate_page_read(ks, PFN_COW, &pg), 0);
	CHECK_EQ(pg.mapping_kind, KPAGE_MAP_DAX_SHARED);
	CHECK_EQ(pg.mapping, 0);
	CHECK_EQ(kstate_page_read(ks, PFN_SHARED, &pg), 0);
	CHECK_EQ(pg.mapping_kind, KPAGE_MAP_DAX_SHARED);
	CHECK_EQ(kstate_page_read(ks, PFN_UNUSED, &pg), 0);
	CHECK_EQ(pg.mapping_kind, KPAGE_MAP_NONE);
	CHECK(pg.zone_device && pg.refcount == 0);

	CHECK_EQ(kstate_page_read(ks, PFN_BADTAIL, &pg), -EIO);
	CHECK(strstr(kstate_errmsg(ks), "compound_head") != NULL);
	CHECK(kstate_page_read(ks, 1ULL << 41, &pg) < 0);

	/* with device ranges that exclude it, pgmap is not followed */
	kstate_flush_cache(ks);
	CHECK_EQ(kstate_set_device_ranges(ks, &other, 1), 0);
	CHECK_EQ(kstate_page_read(ks, PFN_FSDAX, &pg), 0);
	CHECK(!pg.zone_device);
	CHECK_EQ(kstate_set_device_ranges(ks, NULL, 0), 0);
}

static void test_e2e_rwsem(struct kstate *ks, struct fake *fk)
{
	struct krwsem rw;

	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_main, &rw), 0);
	CHECK(rw.writer_locked && rw.waiters && !rw.handoff);
	CHECK(rw.owner_ok);
	CHECK_EQ(rw.owner.pid, 1234);
	CHECK(!strcmp(rw.owner.comm, "truncate"));
	CHECK(rw.owner.have_state && rw.owner.state == 2);
	CHECK_EQ(rw.nr_waiters, 3);
	CHECK(!rw.waiters_truncated && !rw.wait_list_broken);
	CHECK_EQ(rw.waiter[0].type, KRWSEM_WAIT_WRITE);
	CHECK_EQ(rw.waiter[0].task.pid, 1300);
	CHECK_EQ(rw.waiter[1].type, KRWSEM_WAIT_READ);
	CHECK(!strcmp(rw.waiter[1].task.comm, "reader-with-a-l"));
	CHECK_EQ(rw.waiter[2].task_addr, 0);
	CHECK(!rw.waiter[2].task_ok);

	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_readers, &rw), 0);
	CHECK(rw.reader_owned && !rw.writer_locked);
	CHECK_EQ(rw.readers, 2);
	CHECK_EQ(rw.owner.pid, 1301);
	CHECK_EQ(rw.nr_waiters, 0);

	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_many, &rw), 0);
	CHECK_EQ(rw.nr_waiters, KRWSEM_MAX_WAITERS);
	CHECK(rw.waiters_truncated && !rw.wait_list_broken);

	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_loop, &rw), 0);
	CHECK_EQ(rw.nr_waiters, 2);
	CHECK(rw.wait_list_broken);

	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_bad, &rw), 0);
	CHECK_EQ(rw.nr_waiters, 1);
	CHECK(rw.wait_list_broken);

	CHECK_EQ(kstate_rwsem_read(ks, 0x1000, &rw), -EFAULT);
}

static void test_e2e_xarray(struct kstate *ks, struct fake *fk)
{
	struct kdax_result r;
	struct kmapping m;
	struct kxa_result x;

	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 5, &r), 0);
	CHECK(r.present && !r.dax.locked && !r.dax.pmd);
	CHECK_EQ(r.pfn, PFN_FSDAX);
	CHECK_EQ(r.xa.depth, 2);
	CHECK_EQ(r.xa.first_index, 5);
	CHECK_EQ(r.xa.order, 0);

	/* the PMD entry's own slot */
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 0x205, &r), 0);
	CHECK(r.present && r.dax.pmd);
	CHECK_EQ(r.pfn, PFN_HEAD + 5);
	/* inside the PMD entry, reached through a sibling slot (13) */
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 0x345, &r), 0);
	CHECK(r.present && r.dax.locked && r.dax.pmd);
	CHECK_EQ(r.xa.order, 9);
	CHECK_EQ(r.xa.first_index, 0x200);
	CHECK_EQ(r.xa.offset, 8);
	CHECK_EQ(r.xa.node, fk->node_n1);
	CHECK_EQ(r.dax.pfn, PFN_HEAD);
	CHECK_EQ(r.pfn, PFN_HEAD + 0x145);

	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 0x1003, &r), 0);
	CHECK(r.present && r.dax.zero_page);
	CHECK_EQ(r.pfn, 0);

	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 6, &r), 0);
	CHECK(!r.present);
	CHECK_EQ(r.xa.entry.kind, KXA_EMPTY);
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 0x2000, &r), 0);
	CHECK(!r.present);
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 1ULL << 20, &r), 0);
	CHECK(!r.present);

	CHECK_EQ(kstate_xa_load(ks, fk->mapping + kstate_layout(ks)->as_i_pages.off,
				5, &x), 0);
	CHECK_EQ(x.entry.kind, KXA_VALUE);

	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping_bad, 0, &r), -EAGAIN);
	CHECK(strstr(kstate_errmsg(ks), "changed under us") != NULL);

	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping_head, 0, &r), 0);
	CHECK(r.present);
	CHECK_EQ(r.pfn, 7);
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping_head, 1, &r), 0);
	CHECK(!r.present);

	CHECK_EQ(kstate_mapping_read(ks, fk->mapping, &m), 0);
	CHECK_EQ(m.host, fk->inode);
	CHECK_EQ(m.i_ino, 42);
	CHECK_EQ(m.nrpages, 7);
	CHECK_EQ(m.invalidate_lock, fk->mapping + 24);
	CHECK_EQ(m.i_rwsem, fk->inode + kstate_layout(ks)->inode_i_rwsem.off);
}

static void test_iomem(void)
{
	char path[] = "/tmp/kstate_iomem_XXXXXX";
	struct kstate_pfn_range r[4];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("00000000-00000fff : Reserved\n"
	      "00100000-7ffdffff : System RAM\n"
	      "  01000000-01e00816 : Kernel code\n"
	      "140000000-17fffffff : Persistent Memory\n"
	      "  140000000-17fffffff : namespace0.0\n"
	      "180000000-1bfffffff : Persistent Memory (legacy)\n", f);
	fclose(f);
	CHECK_EQ(kstate_iomem_pmem_ranges(path, r, 4), 2);
	CHECK_EQ(r[0].start, 0x140000);
	CHECK_EQ(r[0].end, 0x180000);
	CHECK_EQ(r[1].start, 0x180000);
	CHECK_EQ(r[1].end, 0x1c0000);
	CHECK_EQ(kstate_iomem_pmem_ranges(path, r, 1), 1);
	unlink(path);
}

/* Build a fake kernel laid out from @btf_path's BTF and read it back. */
static void test_e2e(const char *btf_path, int levels)
{
	struct kstate_opts o = { .btf_path = btf_path };
	struct kstate *bt = open_btf(btf_path), *ks;
	struct fake fk;
	char err[256];

	CHECK(bt != NULL);
	if (!bt)
		return;
	CHECK_EQ(fake_build(&fk, kstate_layout(bt), levels), 0);
	CHECK_EQ(write_kcore(&fk), 0);
	CHECK_EQ(write_kallsyms(&fk), 0);
	o.kcore_path = fk.kcore;
	o.kallsyms_path = fk.kallsyms;
	ks = kstate_open(&o, err, sizeof(err));
	if (!ks)
		printf("#   kstate_open(fake kcore): %s\n", err);
	CHECK(ks != NULL);
	if (ks) {
		test_e2e_kmem(ks, &fk);
		test_e2e_page(ks, &fk);
		test_e2e_rwsem(ks, &fk);
		test_e2e_xarray(ks, &fk);
		kstate_close(ks);
	}
	unlink(fk.kcore);
	unlink(fk.kallsyms);
	free(fk.p.mem);
	free(fk.vmm);
	kstate_close(bt);
}

static void test_kcore_errors(void)
{
	struct kstate_opts o = { .kcore_path = "/nonexistent/kcore",
				 .kallsyms_path = "/nonexistent/kallsyms" };
	char err[256] = "";

	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return;
	CHECK(kstate_open(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/kcore") != NULL);
	o.kcore_path = "/sys/kernel/btf/vmlinux";	/* not an ELF file */
	CHECK(kstate_open(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "ELF") != NULL);
}

/* ------------------------------------------------------------ runner */

struct era {
	const char *name;	/* "6.1" */
	void (*layout)(const struct kstate_layout *l);
	const char *path;	/* vmlinux with .BTF, from --btf */
};

static struct era eras[] = {
	{ "6.1", test_layout_61, NULL },
	{ "6.12", test_layout_612, NULL },
	{ "7.2", test_layout_72, NULL },
};

#define NR_ERAS (sizeof(eras) / sizeof(eras[0]))

/* ------------------------------------------------- who calls a function */

static void put_rel(uint8_t *code, size_t at, const uint8_t *op, size_t oplen,
		    uint64_t base, uint64_t target)
{
	size_t end = at + oplen + 4;
	int32_t rel = (int32_t)(int64_t)(target - (base + end));

	memcpy(code + at, op, oplen);
	memcpy(code + at + oplen, &rel, 4);
}

static void t_textscan(const void *arg)
{
	static const uint8_t call[] = { 0xe8 }, jmp[] = { 0xe9 }, jne[] = { 0x0f, 0x85 },
			     lea[] = { 0x48, 0x8d, 0x05 }, mov[] = { 0x48, 0xc7, 0xc7 };
	const uint64_t base = 0xffffffff81000000ULL;
	uint8_t code[16384], data[64];
	struct ktext_target t[2];
	uint64_t fn = base + 0x1000, other = base + 0x1800, w;

	(void)arg;
	/* int3 filler: no opcode of interest */
	memset(code, 0xcc, sizeof(code));
	memset(t, 0, sizeof(t));
	t[0].addr = fn;
	t[1].addr = other;
	put_rel(code, 0x10, call, 1, base, fn);		/* direct call */
	put_rel(code, 0x20, call, 1, base, fn - 16);	/* into __pfx_fn */
	put_rel(code, 0x30, call, 1, base, fn - 17);	/* before the prefix: not fn's */
	put_rel(code, 0x40, jmp, 1, base, fn);		/* tail call */
	put_rel(code, 0x50, jmp, 1, base, fn + 1);	/* a jump into it: not a call */
	put_rel(code, 0x60, jne, 2, base, fn);		/* conditional tail call */
	put_rel(code, 0x70, lea, 3, base, fn);		/* address taken */
	put_rel(code, 0x80, call, 1, base, other);
	/* an immediate that is not rel32: mov $imm32 with fn's low bits */
	memcpy(code + 0x90, mov, sizeof(mov));
	memcpy(code + 0x93, &fn, 4);
	/* a call straddling a chunk border at 0x1ffe */
	put_rel(code, 0x1ffe, call, 1, base, other);

	/* in two chunks, the first one's last 8 bytes only there to finish it */
	ktext_scan_code(code, 0x2000 + 8, 0x2000, base, t, 2);
	ktext_scan_code(code + 0x2000, sizeof(code) - 0x2000, sizeof(code) - 0x2000, base + 0x2000, t, 2);
	CHECK_EQ(t[0].calls, 2);
	CHECK_EQ(t[0].jumps, 2);
	CHECK_EQ(t[0].refs, 1);
	CHECK_EQ(t[0].nr_sites, 4);
	CHECK_EQ(t[0].site[0], base + 0x10);
	CHECK_EQ(t[0].site[1], base + 0x20);
	CHECK_EQ(t[0].site[2], base + 0x40);
	CHECK_EQ(t[0].site[3], base + 0x60);
	CHECK_EQ(t[1].calls, 2);
	CHECK_EQ(t[1].jumps + t[1].refs, 0);
	CHECK_EQ(t[1].site[1], base + 0x1ffe);

	/* the same text with the border call cut off at the end: not counted */
	memset(t, 0, sizeof(t));
	t[1].addr = other;
	ktext_scan_code(code, 0x2001, 0x2001, base, &t[1], 1);
	CHECK_EQ(t[1].calls, 1);

	/* a function kallsyms lacks (address 0) among the targets changes nothing */
	memset(t, 0, sizeof(t));
	t[0].addr = 0;
	t[1].addr = other;
	ktext_scan_code(code, sizeof(code), sizeof(code), base, t, 2);
	CHECK_EQ(t[1].calls, 2);
	CHECK_EQ(t[0].calls + t[0].jumps + t[0].refs, 0);

	/* data: an ops table with the address, and a user address that is not */
	memset(data, 0, sizeof(data));
	memset(t, 0, sizeof(t));
	t[0].addr = fn;
	memcpy(data + 8, &fn, 8);
	memcpy(data + 20, &fn, 8);		/* unaligned: not a pointer */
	w = fn & 0xffffffffffffULL;
	memcpy(data + 32, &w, 8);
	ktext_scan_data(data, sizeof(data), t, 1);
	CHECK_EQ(t[0].refs, 1);
	t[0].refs = 0;
	t[1].addr = 0;
	ktext_scan_data(data, sizeof(data), t, 2);
	CHECK_EQ(t[0].refs, 1);
	CHECK_EQ(t[0].calls + t[0].jumps, 0);
}

static void t_pure(const void *arg)
{
	(void)arg;
	test_rwsem_decode();
	test_xa_decode();
	test_dax_decode();
}

static void t_split_refs(const void *arg)
{
	(void)arg;
	test_split_refs();
}

static void t_compound_head(const void *arg)
{
	(void)arg;
	test_compound_head();
}

static void t_pt_walk(const void *arg)
{
	(void)arg;
	test_pt_walk();
	test_iomem();
}

static void t_errors(const void *arg)
{
	(void)arg;
	test_btf_errors();
	test_kcore_errors();
}

static void t_host_btf(const void *arg)
{
	(void)arg;
	test_host_btf();
}

static void t_e2e_host(const void *arg)
{
	test_e2e(NULL, *(const int *)arg);
}

static void t_era_btf(const void *arg)
{
	const struct era *e = arg;
	struct kstate *ks = open_btf(e->path);

	CHECK(ks != NULL);
	if (!ks)
		return;
	test_member_paths(kstate_btf(ks));
	test_enums(kstate_btf(ks));
	e->layout(kstate_layout(ks));
	if (e->layout == test_layout_61)
		test_bitfield_61(kstate_btf(ks));
	test_against_bpftool(kstate_btf(ks), e->path);
	kstate_close(ks);
}

static void t_era_e2e5(const void *arg)
{
	test_e2e(((const struct era *)arg)->path, 5);
}

static void t_era_e2e4(const void *arg)
{
	test_e2e(((const struct era *)arg)->path, 4);
}

static int set_era(const char *spec)
{
	const char *eq = strchr(spec, '=');
	size_t i;

	for (i = 0; eq && i < NR_ERAS; i++) {
		if (strlen(eras[i].name) != (size_t)(eq - spec) ||
		    strncmp(eras[i].name, spec, eq - spec))
			continue;
		eras[i].path = eq + 1;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const int five = 5, four = 4;
	bool host = !access("/sys/kernel/btf/vmlinux", R_OK);
	char name[128];
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--btf") && a + 1 < argc &&
		    !set_era(argv[a + 1])) {
			a++;
			continue;
		}
		fprintf(stderr, "usage: kstate_test [--btf ERA=VMLINUX]... "
			"(ERA: 6.1, 6.12, 7.2)\n");
		return 2;
	}
	printf("TAP version 13\n");
	tap_run("decoders: rwsem, xarray, DAX entries", t_pure, NULL);
	tap_run("references and pins by era", t_split_refs, NULL);
	tap_run("compound head: pointer and 7.x mask", t_compound_head, NULL);
	tap_run("page-table walk and iomem", t_pt_walk, NULL);
	tap_run("error messages", t_errors, NULL);
	tap_run("call sites and address references in code and data", t_textscan, NULL);
	if (host) {
		tap_run("host BTF", t_host_btf, NULL);
		tap_run("fake kcore, host BTF, 5-level", t_e2e_host, &five);
		tap_run("fake kcore, host BTF, 4-level", t_e2e_host, &four);
	} else {
		tap_skip_test("host BTF", "no /sys/kernel/btf/vmlinux");
	}
	for (i = 0; i < NR_ERAS; i++) {
		const struct era *e = &eras[i];

		snprintf(name, sizeof(name), "%s BTF: layout", e->name);
		if (!e->path) {
			tap_skip_test(name, "no vmlinux given (--btf)");
			continue;
		}
		tap_run(name, t_era_btf, e);
		snprintf(name, sizeof(name), "fake kcore, %s BTF, 5-level",
			 e->name);
		tap_run(name, t_era_e2e5, e);
		snprintf(name, sizeof(name), "fake kcore, %s BTF, 4-level",
			 e->name);
		tap_run(name, t_era_e2e4, e);
	}
	printf("1..%d\n", tap_nr);
	printf("# %d checks passed, %d failed\n", passed, failed);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       tap_pass, tap_fail, tap_skip);
	return tap_fail ? 1 : 0;
}
