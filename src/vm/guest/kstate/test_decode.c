// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, the pure decoders: rwsem count/owner, xarray entries,
 * DAX entries, the split of references and pins by era, compound heads,
 * and the page-table walk over fake tables.
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

#include "kstate_test.h"

/* ------------------------------------------------------ pure decoders */

void test_rwsem_decode(void)
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

void test_xa_decode(void)
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

void test_dax_decode(void)
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

void test_split_refs(void)
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

void test_compound_head(void)
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

/* A user walk reports what pagemap would: pte_present(), L1TF-inverted pfns, huge subpages. */
static void test_user_walk_levels(int levels)
{
	const uint64_t base = 0x7f1234400000ULL;	/* 2M aligned */
	struct phys p = { .size = 1 << 22 };
	uint64_t top, pfn = 0, *pte;

	p.mem = calloc(1, p.size);
	p.next_table = 0x1000;
	p.table_end = 0x100000;
	top = alloc_table(&p);

	map(&p, top, levels, base, 0x200000, 1);			/* 4K */
	map(&p, top, levels, base + 0x200000, 0x400000, 2);		/* 2M (DAX PMD) */
	map(&p, top, levels, base + 0x1000, 0x201000, 1);

	CHECK_EQ(kpt_user_walk(top, levels, base + 0x123, phys_read64, &p, &pfn), 0);
	CHECK_EQ(pfn, 0x200);
	/* the pfn of the 4K subpage of a huge leaf, as pagemap_pmd_range() reports it */
	CHECK_EQ(kpt_user_walk(top, levels, base + 0x200000 + 0x5000, phys_read64, &p, &pfn), 0);
	CHECK_EQ(pfn, 0x405);
	/* PROT_NONE: _PAGE_PRESENT clear, _PAGE_PROTNONE set, the pfn stored inverted */
	pte = NULL;
	for (uint64_t t = 0x1000; t < p.next_table; t += 4096) {
		uint64_t *e = (uint64_t *)(p.mem + t) + ((base + 0x1000) >> 12 & 511);

		if ((*e & 0x000ffffffffff000ULL) == 0x201000)
			pte = e;
	}
	CHECK(pte != NULL);
	if (!pte) {
		free(p.mem);
		return;
	}
	*pte = (~(0x201000ULL) & 0x000ffffffffff000ULL) | (1ULL << 8);
	CHECK_EQ(kpt_user_walk(top, levels, base + 0x1000, phys_read64, &p, &pfn), 0);
	CHECK_EQ(pfn, 0x201);
	/* a swap entry (neither bit 0 nor 8): not mapped */
	*pte = 0x0000000012345600ULL & ~(1ULL << 8);
	CHECK_EQ(kpt_user_walk(top, levels, base + 0x1000, phys_read64, &p, &pfn), -ENOENT);
	/* table present, entry empty; and no table at all */
	CHECK_EQ(kpt_user_walk(top, levels, base + 0x2000, phys_read64, &p, &pfn), -ENOENT);
	CHECK_EQ(kpt_user_walk(top, levels, 0x1000, phys_read64, &p, &pfn), -ENOENT);
	/* a kernel address is no user address */
	CHECK_EQ(kpt_user_walk(top, levels, 0xffff888000000000ULL, phys_read64, &p, &pfn), -EINVAL);
	free(p.mem);
}

void test_pt_walk(void)
{
	test_pt_walk_levels(5);
	test_pt_walk_levels(4);
	test_user_walk_levels(4);
	test_user_walk_levels(5);
}
