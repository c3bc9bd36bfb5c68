// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, BTF: member paths, enums, and each kernel era's struct
 * layout with fixed expected values (checked against pahole and bpftool's
 * raw dump), and when bpftool is installed a live cross-check against it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "kstate_test.h"

/* --------------------------------------------------------------- BTF */

void test_member_paths(const struct btf *btf)
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

void test_enums(const struct btf *btf)
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
	/* what the observer reads of an actor instead of /proc (process.c) */
	CHECK(l->task_exit_state.found && l->task_mm.found && l->task_pid_links.found);
	CHECK(l->task_on_rq.found && l->task_on_cpu.found);
	CHECK(l->task_sum_exec_runtime.found && l->task_sum_exec_runtime.size == 8);
	CHECK(l->task_nvcsw.found && l->task_nivcsw.found && l->task_pcount.found);
	CHECK(l->mm_pgd.found && l->mm_pgd.size == 8);
	CHECK(l->pid_tasks.found && l->pidns_idr_rt.found && l->pidns_idr_base.found);
	CHECK(l->task_pid_links.size >= 16 && l->task_pid_links.size % 16 == 0); /* hlist_node[PIDTYPE_MAX] */
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

/*
 * What changed between the eras, side by side: Debian 6.1.0-56/57 (bpftool's raw dump),
 * 6.12.95+deb12 (bookworm-backports) and 7.2.13+deb14 (sid), both checked with pahole.
 */
enum { E61, E612, E72, NR_ERA_COLS };
#define NA	(-1L)	/* the member is not in this era's struct */
#define ANY	(-2L)	/* not pinned down for this era */

enum era_value_kind { KFIELD_OFF, U32 };

static const struct era_value {
	const char *what;
	size_t at;			/* offsetof(struct kstate_layout, ...) */
	enum era_value_kind kind;
	long v[NR_ERA_COLS];
} era_values[] = {
#define OFF(m, ...)	{ #m, offsetof(struct kstate_layout, m), KFIELD_OFF, { __VA_ARGS__ } }
#define VAL(m, ...)	{ #m, offsetof(struct kstate_layout, m), U32, { __VA_ARGS__ } }
	/*    member                 6.1    6.12   7.2 */
	OFF(folio_order,             81,    NA,    NA),	/* _folio_order; then in _flags_1 */
	OFF(folio_large_mapcount,    NA,    80,    80),
	OFF(folio_entire_mapcount,   84,    84,    88),	/* 6.1: _total_mapcount */
	OFF(folio_pincount,          88,    92,    92),	/* 6.12: the folio's second page */
	OFF(folio_nr_pages,          92,    96,    120),	/* 7.2: _nr_pages */
	OFF(pgmap_type,              96,    104,   96),
	OFF(pgmap_nr_range,          128,   136,   128),
	OFF(pgmap_range_start,       136,   144,   ANY),
	OFF(pgmap_range_end,         144,   ANY,   ANY),
	OFF(task_state,              24,    ANY,   ANY),	/* __state */
	OFF(task_pid,                2416,  2432,  2808),
	OFF(task_tgid,               2420,  2436,  ANY),
	OFF(task_comm,               2976,  2976,  3344),
	OFF(as_i_mmap_rwsem,         88,    144,   120),
	OFF(as_nrpages,              128,   88,    80),
	OFF(inode_i_ino,             64,    ANY,   ANY),
	OFF(inode_i_rwsem,           160,   152,   152),
	OFF(rwsem_wait_list,         24,    24,    NA),	/* 7.2: first_waiter only */
	OFF(rwsem_first_waiter,      NA,    NA,    24),
	VAL(folio_size,              112,   192,   256),
	VAL(rwsem_size,              40,    40,    32),
	VAL(waiter_size,             48,    48,    48),
	VAL(xa_node_size,            576,   ANY,   ANY),
	VAL(nr_pageflags,            25,    24,    25),
	VAL(pg_head,                 16,    6,     6),
#undef OFF
#undef VAL
};

static void check_value(const char *what, const char *part, long got, long want)
{
	char label[96];

	snprintf(label, sizeof(label), "%s %s", what, part);
	if (got != want)
		printf("#   %s = %ld, expected %ld\n", label, got, want);
	check(got == want, label, __FILE__, __LINE__);
}

static void check_era_values(const struct kstate_layout *l, int col)
{
	for (size_t i = 0; i < sizeof(era_values) / sizeof(era_values[0]); i++) {
		const struct era_value *e = &era_values[i];
		const char *base = (const char *)l + e->at;
		long want = e->v[col];

		if (want == ANY)
			continue;
		if (e->kind == KFIELD_OFF) {
			const struct kfield *f = (const struct kfield *)base;

			check_value(e->what, "found", f->found, want != NA);
			if (want != NA && f->found)
				check_value(e->what, "offset", f->off, want);
		} else {
			uint32_t v;

			memcpy(&v, base, sizeof(v));
			check_value(e->what, "value", v, want);
		}
	}
}

void test_layout_61(const struct kstate_layout *l)
{
	char buf[256];

	test_layout_common(l);
	check_era_values(l, E61);
	CHECK(!l->compound_info);
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

void test_bitfield_61(const struct btf *btf)
{
	struct kfield f;

	/* bpftool: 'in_iowait' bits_offset=18755 bitfield_size=1 */
	CHECK_EQ(kbtf_member(btf, "task_struct.in_iowait", &f), 0);
	CHECK_EQ(f.off, 18755 / 8);
	CHECK_EQ(f.bit_off, 3);
	CHECK_EQ(f.bit_size, 1);
	CHECK_EQ(f.size, 4);
}

void test_layout_612(const struct kstate_layout *l)
{
	char buf[256];

	test_layout_common(l);
	check_era_values(l, E612);
	CHECK(!l->compound_info);		/* compound_head: head | 1 */
	kstate_pageflags_str(l, 1ULL << 1 | 1ULL << 6 | 0x3ULL << 60, buf,
			     sizeof(buf));
	CHECK(!strcmp(buf, "writeback|head"));
}

void test_layout_72(const struct kstate_layout *l)
{
	test_layout_common(l);
	check_era_values(l, E72);
	CHECK(l->compound_info);		/* a mask with HVO */
	CHECK_EQ(l->rwsem_first_waiter.size, 8);
	CHECK_EQ(l->page_flags.size, 8);	/* memdesc_flags_t.f */
	CHECK(!strcmp(kstate_pageflag_name(l, 19), "PG_dropbehind"));
}

struct kstate *open_btf(const char *path)
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
	{ "task_struct.exit_state", true },
	{ "task_struct.mm", true },
	{ "task_struct.pid_links", true },
	{ "task_struct.nvcsw", true },
	{ "task_struct.nivcsw", true },
	{ "mm_struct.pgd", false },		/* in an anonymous struct */
	{ "pid.tasks", true },
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

/*
 * Every member of raw_members against bpftool's raw dump of the same BTF: a
 * test point of its own, skipped (and said so) where bpftool is not installed;
 * a dump that fails or names none of them is a failure, not a pass.
 */
void test_against_bpftool(const char *path)
{
	char cmd[512], tmp[] = "/tmp/kstate_raw_XXXXXX";
	struct kstate *ks = open_btf(path);
	int fd = mkstemp(tmp), n = 0;
	size_t i;
	FILE *f;

	CHECK(ks != NULL);
	CHECK(fd >= 0);
	if (!ks || fd < 0) {
		if (ks)
			kstate_close(ks);
		return;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "bpftool btf dump file '%s' format raw > %s 2>/dev/null",
		 path ? path : "/sys/kernel/btf/vmlinux", tmp);
	CHECK(system(cmd) == 0);
	f = fopen(tmp, "r");
	CHECK(f != NULL);
	for (i = 0; f && i < sizeof(raw_members) / sizeof(raw_members[0]); i++)
		n += raw_check(f, kstate_btf(ks), &raw_members[i]);
	if (f)
		fclose(f);
	unlink(tmp);
	CHECK(n > 0);
	printf("#   bpftool cross-check of %s: %d members\n",
	       path ? path : "/sys/kernel/btf/vmlinux", n);
	kstate_close(ks);
}

void test_host_btf(void)
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
	kstate_close(ks);
}

void test_btf_errors(void)
{
	struct kstate_opts o = { .btf_path = "/nonexistent/vmlinux",
				 .btf_only = true };
	char err[256] = "";

	CHECK(kstate_open(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/vmlinux") != NULL);
}
