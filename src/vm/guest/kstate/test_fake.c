// SPDX-License-Identifier: MIT
/*
 * kstate unit tests, the fake kernel: physical memory with page tables, and
 * a /proc/kcore and /proc/kallsyms built from it with kernel objects (tasks,
 * rwsems, xarrays, dev_pagemaps, struct pages) laid out from the BTF under
 * test. test_e2e.c reads them back through the whole reader.
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

/* Fake physical memory: page tables. */

int phys_read64(void *ctx, uint64_t pa, uint64_t *v)
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

uint64_t alloc_table(struct phys *p)
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
void map(struct phys *p, uint64_t top, int levels, uint64_t va,
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

/* ------------------------------------------- fake /proc/kcore, e2e */

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

uint64_t page_va(struct fake *fk, uint64_t pfn)
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

int fake_build(struct fake *fk, const struct kstate_layout *l,
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

int write_kcore(struct fake *fk)
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

int write_kallsyms(struct fake *fk)
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
