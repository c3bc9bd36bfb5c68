// SPDX-License-Identifier: GPL-2.0
/*
 * kstate unit tests, run on the build host:
 *  - pure decoders: rwsem count/owner, xarray entries, DAX entries, page
 *    flags, pin arithmetic, the page-table walk over fake tables;
 *  - BTF lookups against the host's /sys/kernel/btf/vmlinux and, with
 *    --btf61, the Debian 6.1 guest kernel's vmlinux, with fixed expected
 *    values (read off `bpftool btf dump ... format raw`) and, when bpftool
 *    is installed, a live cross-check against its raw dump;
 *  - the whole reader (kcore ELF, kallsyms, page walk, page/rwsem/xarray)
 *    against a fake /proc/kcore and /proc/kallsyms built here, with
 *    structs laid out from the BTF under test.
 *
 *   kstate_test [--btf61 VMLINUX]
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

static int passed, failed;

static void check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s:%d: %s\n", file, line, what);
}

#define CHECK(c) check((c), #c, __FILE__, __LINE__)
#define CHECK_EQ(a, b) do {						\
	uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);		\
	if (_a != _b)							\
		printf("  %s = %#" PRIx64 ", expected %#" PRIx64 "\n",	\
		       #a, _a, _b);					\
	check(_a == _b, #a " == " #b, __FILE__, __LINE__);		\
} while (0)

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

static void test_split_refs(void)
{
	int32_t pins, refs;

	kpage_split_refs(1, 1, &pins, &refs);	/* idle fsdax page, 6.1 */
	CHECK(pins == 0 && refs == 0);
	kpage_split_refs(2, 1, &pins, &refs);	/* vmsplice / FOLL_GET */
	CHECK(pins == 0 && refs == 1);
	kpage_split_refs(1025, 1, &pins, &refs);	/* one FOLL_PIN */
	CHECK(pins == 1 && refs == 0);
	kpage_split_refs(2 * 1024 + 3, 1, &pins, &refs);
	CHECK(pins == 2 && refs == 2);
	kpage_split_refs(0, 1, &pins, &refs);	/* below idle: anomaly */
	CHECK(pins == 0 && refs == -1);
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
		uint64_t *e = pte_at(p, table + ((va >> (12 + 9 * (level - 1))) & 511) * 8);

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
	CHECK_EQ(kbtf_member(btf, "page.compound_head", &f), 0);
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

/* Facts that hold for every kernel this library targets (5.15 .. 6.18). */
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
	CHECK_EQ(l->rwsem_wait_list.off, 24);
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

/* Debian 6.1.0-56-amd64, values read off bpftool's raw dump. */
static void test_layout_61(const struct kstate_layout *l)
{
	char buf[256];

	test_layout_common(l);
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

static struct kstate *open_btf(const char *path)
{
	struct kstate_opts o = { .btf_path = path, .btf_only = true };
	char err[256];
	struct kstate *ks = kstate_open(&o, err, sizeof(err));

	if (!ks)
		printf("  kstate_open(%s): %s\n", path ? path : "default", err);
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
	{ "rw_semaphore.wait_list", true },
	{ "rwsem_waiter.list", true },
	{ "rwsem_waiter.task", true },
	{ "rwsem_waiter.type", true },
	{ "task_struct.pid", true },
	{ "task_struct.tgid", true },
	{ "task_struct.comm", true },
	{ "task_struct.__state", true },
	{ "task_struct.sched_reset_on_fork", true },
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
		printf("  bpftool dump has no %s\n", m->path);
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
		printf("SKIP bpftool cross-check of %s (bpftool missing?)\n",
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
	printf("  bpftool cross-check of %s: %d members\n", path, n);
}

static void test_host_btf(void)
{
	const char *path = "/sys/kernel/btf/vmlinux";
	struct kstate *ks;

	if (access(path, R_OK)) {
		printf("SKIP host BTF: %s missing\n", path);
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

