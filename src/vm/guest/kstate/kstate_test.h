/* SPDX-License-Identifier: MIT */
/*
 * What the kstate unit tests share: the checks and their counters, the fake
 * physical memory and kernel (test_fake.c) and each file's test entries.
 * kstate_test.c runs them as TAP test points.
 */
#ifndef KSTATE_TEST_H
#define KSTATE_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include <bpf/btf.h>

#include "kstate.h"

/* ------------------------------------------------------------ checks */

extern int passed, failed;	/* single checks */
void check(bool ok, const char *what, const char *file, int line);

#define CHECK(c) check((c), #c, __FILE__, __LINE__)
#define CHECK_EQ(a, b) do {						\
	uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);		\
	if (_a != _b)							\
		printf("#   %s = %#" PRIx64 ", expected %#" PRIx64 "\n",	\
		       #a, _a, _b);					\
	check(_a == _b, #a " == " #b, __FILE__, __LINE__);		\
} while (0)

/* --------------------------------------------- fake physical memory */

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

int phys_read64(void *ctx, uint64_t pa, uint64_t *v);
uint64_t alloc_table(struct phys *p);
void map(struct phys *p, uint64_t top, int levels, uint64_t va,
	 uint64_t pa, int leaf);

/* ------------------------------------------------ the fake kernel */
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

uint64_t page_va(struct fake *fk, uint64_t pfn);
int fake_build(struct fake *fk, const struct kstate_layout *l, int levels);
int write_kcore(struct fake *fk);
int write_kallsyms(struct fake *fk);

/* ------------------------------------------------------ test entries */

/* test_decode.c */
void test_rwsem_decode(void);
void test_xa_decode(void);
void test_dax_decode(void);
void test_split_refs(void);
void test_compound_head(void);
void test_pt_walk(void);

/* test_btf.c */
void test_member_paths(const struct btf *btf);
void test_enums(const struct btf *btf);
void test_bitfield_61(const struct btf *btf);
struct kstate *open_btf(const char *path);
/* @path NULL: the host's BTF. */
void test_against_bpftool(const char *path);
void test_host_btf(void);
void test_btf_errors(void);
void test_layout_61(const struct kstate_layout *l);
void test_layout_612(const struct kstate_layout *l);
void test_layout_72(const struct kstate_layout *l);

/* test_e2e.c */
void test_iomem(void);
void test_e2e(const char *btf_path, int levels);
void test_kcore_errors(void);

#endif /* KSTATE_TEST_H */
