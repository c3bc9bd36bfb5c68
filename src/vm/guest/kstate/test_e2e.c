// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, end to end: the whole reader (kcore ELF, kallsyms,
 * page walk, page/rwsem/xarray) against the fake kernel of test_fake.c.
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

/*
 * The block cache: every read gives what the uncached read gives, repeated
 * reads within a sample cost no pread, a prefetch of a run of struct pages
 * is one pread, and a new sample reads again.
 */
static void test_e2e_cached(struct kstate *ks, struct fake *fk)
{
	static const uint64_t pfns[] = { PFN_RAM, PFN_FSDAX, PFN_HEAD, PFN_TAIL,
					 PFN_TAIL2, PFN_COW, PFN_SHARED, PFN_UNUSED };
	static const uint64_t idx[] = { 5, 0x205, 0x345, 0x1003, 6, 0x2000 };
	const struct kstate_layout *l = kstate_layout(ks);
	struct kpage raw[8], pg;
	struct kdax_result dr[6], d;
	struct krwsem rw0, rw1;
	struct kstate_stats st0, st1;
	unsigned int i;
	char buf[17] = "";

	for (i = 0; i < 8; i++)
		CHECK_EQ(kstate_page_read(ks, pfns[i], &raw[i]), 0);
	for (i = 0; i < 6; i++)
		CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, idx[i], &dr[i]), 0);
	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_main, &rw0), 0);

	CHECK_EQ(kstate_cache_begin(ks), 0);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(kstate_page_read(ks, pfns[i], &pg), 0);
		CHECK(!memcmp(&pg, &raw[i], sizeof(pg)));
	}
	for (i = 0; i < 6; i++) {
		CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, idx[i], &d), 0);
		CHECK(!memcmp(&d, &dr[i], sizeof(d)));
	}
	CHECK_EQ(kstate_rwsem_read(ks, fk->rw_main, &rw1), 0);
	CHECK(!memcmp(&rw0, &rw1, sizeof(rw0)));
	/* the same again in this sample: no pread at all */
	kstate_get_stats(ks, &st0);
	for (i = 0; i < 8; i++)
		CHECK_EQ(kstate_page_read(ks, pfns[i], &pg), 0);
	CHECK_EQ(kstate_dax_lookup(ks, fk->mapping, 0x345, &d), 0);
	kstate_get_stats(ks, &st1);
	CHECK_EQ(st1.preads, st0.preads);
	CHECK(st1.block_hits > st0.block_hits);
	/* across two 4K pages apart physically, and what is not mapped */
	CHECK_EQ(kstate_read(ks, fk->vmb + (1ULL << 30) + 4096 - 8, buf, 16), 0);
	CHECK(!strcmp(buf, "0123456789abcdef"));
	CHECK_EQ(kstate_read(ks, fk->vmb + (1ULL << 30) + 8192, buf, 8), -EFAULT);
	CHECK(strstr(kstate_errmsg(ks), "not mapped") != NULL);

	/* a new sample: 64 struct pages of pmem in one pread, then none */
	CHECK_EQ(kstate_cache_begin(ks), 0);
	kstate_get_stats(ks, &st0);
	kstate_prefetch(ks, page_va(fk, PMEM_PFN), 64 * l->page_size);
	kstate_get_stats(ks, &st1);
	CHECK_EQ(st1.preads - st0.preads, 1);
	CHECK_EQ(kstate_page_read(ks, PFN_FSDAX, &pg), 0);
	CHECK(!memcmp(&pg, &raw[1], sizeof(pg)));
	kstate_get_stats(ks, &st0);
	CHECK_EQ(st0.preads, st1.preads);
	/* RAM struct pages from kcore's vmemmap segment: one pread too */
	kstate_prefetch(ks, page_va(fk, 0), 256 * l->page_size);
	kstate_get_stats(ks, &st1);
	CHECK_EQ(st1.preads - st0.preads, 1);
	kstate_cache_end(ks);
	/* after the sample: uncached again */
	kstate_get_stats(ks, &st0);
	CHECK_EQ(kstate_page_read(ks, PFN_FSDAX, &pg), 0);
	kstate_get_stats(ks, &st1);
	CHECK(st1.preads > st0.preads);
	CHECK(!memcmp(&pg, &raw[1], sizeof(pg)));
}

void test_iomem(void)
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
void test_e2e(const char *btf_path, int levels)
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
		test_e2e_cached(ks, &fk);
		/* and the reads' checks again through the cache */
		CHECK_EQ(kstate_cache_begin(ks), 0);
		test_e2e_rwsem(ks, &fk);
		test_e2e_xarray(ks, &fk);
		kstate_cache_end(ks);
		kstate_close(ks);
	}
	unlink(fk.kcore);
	unlink(fk.kallsyms);
	free(fk.p.mem);
	free(fk.vmm);
	kstate_close(bt);
}

void test_kcore_errors(void)
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
