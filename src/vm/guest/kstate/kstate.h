/* SPDX-License-Identifier: MIT */
/*
 * kstate: read live kernel state from inside the guest.
 *
 * Every struct member offset comes from the running kernel's BTF and is
 * resolved once, in kstate_open().  Memory is read through /proc/kcore; a
 * virtual address that kcore has no segment for (the vmemmap of ZONE_DEVICE
 * pages) is translated by walking the kernel page tables and read through
 * the direct map.
 *
 * Errors: functions return 0 or a negative errno and leave a message that
 * kstate_errmsg() returns.  Not thread-safe: one struct kstate per thread.
 *
 * Over 600 lines because it is the library's one public header: a section per
 * reader, each documented where it is declared.
 */
#ifndef KSTATE_H
#define KSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;
struct kstate;

/* ------------------------------------------------------------------ BTF */

/* Where a (possibly nested) struct member lives. */
struct kfield {
	uint32_t off;		/* bytes from the start of the outer struct */
	uint32_t size;		/* bytes of the member's type */
	uint8_t bit_off;	/* bitfields: first bit, counted from off */
	uint8_t bit_size;	/* bitfields: width; 0 for ordinary members */
	bool found;
};

/*
 * Resolve "struct.member[.member...]" ("address_space.invalidate_lock.count")
 * through typedefs, modifiers and anonymous structs/unions.
 * Returns 0, -ENOENT (no such struct or member) or -EINVAL (bad path).
 */
int kbtf_member(const struct btf *btf, const char *path, struct kfield *f);
/* sizeof(struct name) (or union name); negative errno when absent. */
int64_t kbtf_struct_size(const struct btf *btf, const char *name);
/* Value of enumerator @name; @enum_name may be NULL (search every enum). */
int kbtf_enum_value(const struct btf *btf, const char *enum_name,
		    const char *name, int64_t *val);
/* Open BTF: raw (/sys/kernel/btf/vmlinux) or an ELF vmlinux.  NULL: default. */
struct btf *kbtf_open(const char *path, char *err, size_t errlen);

#define KSTATE_MAX_PAGEFLAGS	64

/* Everything the readers need, resolved once from BTF. */
struct kstate_layout {
	/* struct page */
	uint32_t page_size;
	struct kfield page_flags;
	struct kfield page_compound_head;	/* or compound_info (7.x) */
	bool compound_info;		/* 7.x: tails may hold a mask */
	struct kfield page_mapping;
	struct kfield page_index;
	struct kfield page_mapcount;
	struct kfield page_refcount;
	struct kfield page_pgmap;	/* page.pgmap, or folio.pgmap (6.18) */

	/* struct folio: large folios only; members differ between eras */
	uint32_t folio_size;
	struct kfield folio_order;	/* _folio_order (6.1) */
	struct kfield folio_nr_pages;	/* _folio_nr_pages / _nr_pages */
	struct kfield folio_pincount;
	struct kfield folio_entire_mapcount; /* _entire_mapcount, 6.1: _total_mapcount */
	struct kfield folio_large_mapcount;  /* 6.12+: all mappings */

	/* enum pageflags */
	unsigned int nr_pageflags;
	const char *pageflag_name[KSTATE_MAX_PAGEFLAGS]; /* "PG_locked", ... */
	int pg_head;

	/* ZONE_DEVICE: struct dev_pagemap and enum memory_type */
	struct kfield pgmap_type;
	struct kfield pgmap_nr_range;
	struct kfield pgmap_range_start;	/* first range */
	struct kfield pgmap_range_end;
	uint32_t range_size;			/* sizeof(struct range) */
	int64_t mt_private, mt_coherent, mt_fs_dax, mt_generic, mt_p2pdma;

	/* struct task_struct */
	struct kfield task_pid;
	struct kfield task_tgid;
	struct kfield task_comm;
	struct kfield task_state;		/* __state (5.14+) or state */
	struct kfield task_exit_state;
	struct kfield task_on_rq;
	struct kfield task_on_cpu;		/* CONFIG_SMP */
	struct kfield task_mm;
	struct kfield task_pid_links;		/* [PIDTYPE_PID] first */
	struct kfield task_sum_exec_runtime;
	struct kfield task_nvcsw;
	struct kfield task_nivcsw;
	struct kfield task_pcount;		/* CONFIG_SCHED_INFO */
	struct kfield mm_pgd;
	struct kfield pid_tasks;		/* [PIDTYPE_PID] first */
	struct kfield pidns_idr_rt;		/* an xarray */
	struct kfield pidns_idr_base;

	/* struct rw_semaphore, struct rwsem_waiter, struct list_head */
	uint32_t rwsem_size;
	uint32_t waiter_size;
	struct kfield rwsem_count;
	struct kfield rwsem_owner;
	struct kfield rwsem_wait_list;		/* up to 7.1: list_head */
	struct kfield rwsem_first_waiter;	/* 7.2+: rwsem_waiter * */
	struct kfield waiter_list;
	struct kfield waiter_task;
	struct kfield waiter_type;
	int64_t waiting_for_write, waiting_for_read;
	struct kfield list_next;

	/* struct address_space, struct inode */
	struct kfield as_host;
	struct kfield as_i_pages;
	struct kfield as_invalidate_lock;
	struct kfield as_i_mmap_rwsem;
	struct kfield as_nrpages;
	struct kfield inode_i_rwsem;
	struct kfield inode_i_ino;

	/* struct xarray, struct xa_node */
	struct kfield xa_head;
	struct kfield xa_node_shift;
	struct kfield xa_node_offset;
	struct kfield xa_node_array;
	struct kfield xa_node_slots;
	unsigned int xa_chunk_size;		/* slots in a node (64) */
	uint32_t xa_node_size;
};

/* Fill @l from @btf; on failure @err names the first missing piece. */
int kstate_layout_resolve(const struct btf *btf, struct kstate_layout *l,
			  char *err, size_t errlen);

/* ------------------------------------------------------------ context */

struct kstate_opts {
	const char *btf_path;		/* NULL: /sys/kernel/btf/vmlinux */
	const char *kcore_path;		/* NULL: /proc/kcore */
	const char *kallsyms_path;	/* NULL: /proc/kallsyms */
	const char *modules_path;	/* NULL: /proc/modules */
	bool btf_only;			/* no memory access (host tests) */
};

/* NULL on failure, with the reason in @err. */
struct kstate *kstate_open(const struct kstate_opts *opts, char *err,
			   size_t errlen);
void kstate_close(struct kstate *ks);
const char *kstate_errmsg(const struct kstate *ks);
const struct kstate_layout *kstate_layout(const struct kstate *ks);
const struct btf *kstate_btf(const struct kstate *ks);

/* ------------------------------------------------------ kernel memory */

struct kstate_memmap {
	uint64_t page_offset_base;	/* direct map */
	uint64_t vmemmap_base;		/* struct page array */
	uint64_t init_top_pgt;		/* VA of the top-level page table */
	int levels;			/* 4 or 5 */
};

const struct kstate_memmap *kstate_memmap(const struct kstate *ks);
/*
 * Read kernel virtual memory.  0 or -errno (-EFAULT: not mapped).  Inside
 * a kcore segment, what the kernel cannot read comes back as zeroes.
 */
int kstate_read(struct kstate *ks, uint64_t va, void *buf, size_t len);
int kstate_read_u64(struct kstate *ks, uint64_t va, uint64_t *val);
/* VA -> physical address by page-table walk (cached). */
int kstate_translate(struct kstate *ks, uint64_t va, uint64_t *pa);
/*
 * Forget cached translations and validated dev_pagemaps (after memory
 * hotplug, or after destroying or reconfiguring a namespace).
 */
void kstate_flush_cache(struct kstate *ks);
/*
 * The block cache, for one sample of many structures: between begin and end,
 * kstate_read() serves each aligned 4 KiB block of kernel memory from one read
 * of /proc/kcore, so the fields of one struct page, folio, xa_node or inode
 * (and their neighbours) come from one instant and one syscall.  begin forgets
 * what the previous sample read: no data is kept across samples, only the list
 * of blocks it read, which begin reads again in one gather (below) when it can.
 */
int kstate_cache_begin(struct kstate *ks);
void kstate_cache_end(struct kstate *ks);
/*
 * Fill the cache for [va, va + len) with as few reads as the memory allows
 * (one per kcore segment or physically contiguous run): the struct pages of a
 * run of pfns in one pread.  Only while caching; failures are left to the
 * reads that follow (they report them).
 */
void kstate_prefetch(struct kstate *ks, uint64_t va, size_t len);
/*
 * Gathering: at begin, read every block the previous sample read in one BPF
 * program run (kgather.c) instead of a kcore pread each. kstate_gather_open()
 * sets the program up and checks it against kcore: 0, or -errno with the
 * reason (no CONFIG_BPF_SYSCALL, a verifier that refuses, a disagreement);
 * kstate_gather_status() is NULL while it works, else that reason.
 * kstate_gather_use() turns it on and off (off: every block from kcore).
 */
int kstate_gather_open(struct kstate *ks);
void kstate_gather_close(struct kstate *ks);
const char *kstate_gather_status(const struct kstate *ks);
void kstate_gather_use(struct kstate *ks, bool on);
/* Counters, to see what a sample costs. */
struct kstate_stats {
	uint64_t reads;		/* kstate_read() calls */
	uint64_t preads;	/* preads of /proc/kcore */
	uint64_t block_hits;	/* reads served from the block cache */
	uint64_t block_fills;	/* blocks read into it */
	uint64_t walks;		/* page-table walks */
	uint64_t tlb_hits;	/* translations served from the cache */
	uint64_t gathers;	/* BPF gathers run (one system call each) */
	uint64_t gathered;	/* blocks they read */
	uint64_t gathered_pieces; /* runs of lines they copied */
	uint64_t gathered_bytes;
};

void kstate_get_stats(const struct kstate *ks, struct kstate_stats *st);
/* Look one symbol up in kallsyms (slow: reads the whole file). */
int kstate_symbol(struct kstate *ks, const char *name, uint64_t *addr);
/* Is @va a plausible kernel pointer (kernel half, @align-aligned)? */
bool kstate_kptr_ok(const struct kstate *ks, uint64_t va, unsigned int align);

/* Page-table walk, separated from I/O so that it can be unit-tested. */
typedef int (*kpt_read_fn)(void *ctx, uint64_t pa, uint64_t *entry);
struct kpt_result {
	uint64_t pa;		/* physical address of va */
	uint64_t leaf_size;	/* 4K, 2M or 1G */
	int leaf_level;		/* 1 = PTE, 2 = PMD, 3 = PUD */
};
int kpt_walk(uint64_t top_pa, int levels, uint64_t va, kpt_read_fn read,
	     void *ctx, struct kpt_result *res);

/* ------------------------------------------------------------- process */

/*
 * A process seen from the kernel's side (process.c), so that a sampler need
 * not ask /proc each time.  All of it is optional: -ENOTSUP with the reason
 * when this kernel's BTF or kallsyms lacks a piece.
 */
/* The task_struct of @pid in the initial pid namespace (as find_task_by_pid_ns). */
int kstate_task_by_pid(struct kstate *ks, int pid, uint64_t *task);
/* What changes whenever a task runs, sleeps, wakes, stops or exits. */
struct ktask_sched {
	int32_t pid, tgid;
	uint64_t state, exit_state;
	uint64_t on_rq, on_cpu;		/* on_cpu 0 without CONFIG_SMP */
	uint64_t sum_exec_runtime;	/* ns */
	uint64_t nvcsw, nivcsw;
	uint64_t pcount;		/* 0 without CONFIG_SCHED_INFO */
	uint64_t mm;
};
int kstate_task_sched(struct kstate *ks, uint64_t task, struct ktask_sched *s);
/* mm->pgd of the task's mm_struct @mm: the top of its page tables. */
int kstate_mm_pgd(struct kstate *ks, uint64_t mm, uint64_t *pgd);
/*
 * A user address through the process's page tables, as /proc/<pid>/pagemap
 * reports it (pte_present(), so PROT_NONE counts, and the pfn of a huge leaf's
 * subpage): 0 and the pfn, -ENOENT when nothing is mapped there.
 */
int kstate_user_pfn(struct kstate *ks, uint64_t pgd, uint64_t uva, uint64_t *pfn);
/* Pure: the same walk over a table reader, for unit tests. */
int kpt_user_walk(uint64_t top_pa, int levels, uint64_t uva, kpt_read_fn read,
		  void *ctx, uint64_t *pfn);

/* ---------------------------------------------------------------- task */

#define KSTATE_COMM_LEN 16

struct ktask {
	uint64_t addr;
	int32_t pid;
	int32_t tgid;
	char comm[KSTATE_COMM_LEN + 1];
	bool have_state;
	uint32_t state;		/* __state: 0 running, 1 S, 2 D, ... */
};

int kstate_task_read(struct kstate *ks, uint64_t addr, struct ktask *t);

/* --------------------------------------------------------------- rwsem */

#define KRWSEM_MAX_WAITERS 32

enum krwsem_wait { KRWSEM_WAIT_WRITE, KRWSEM_WAIT_READ, KRWSEM_WAIT_OTHER };

struct krwsem_waiter {
	uint64_t waiter;	/* address of the struct rwsem_waiter */
	uint64_t task_addr;	/* 0 once a reader was granted the lock */
	struct ktask task;	/* valid when task_addr != 0 && task_ok */
	bool task_ok;
	enum krwsem_wait type;
};

struct krwsem {
	uint64_t addr;
	int64_t count;		/* raw */
	uint64_t owner_raw;	/* raw, with flag bits */

	/* count, kernel/locking/rwsem.c (5.3+) */
	bool writer_locked;
	bool waiters;		/* RWSEM_FLAG_WAITERS */
	bool handoff;
	bool read_fail;
	uint64_t readers;

	/* owner */
	bool reader_owned;	/* owner is the last reader: a hint only */
	bool nonspinnable;
	uint64_t owner_task;	/* flags masked off, 0: none */
	struct ktask owner;
	bool owner_ok;

	/* wait list */
	unsigned int nr_waiters;
	bool waiters_truncated;	/* more than KRWSEM_MAX_WAITERS */
	bool wait_list_broken;	/* loop, bad pointer or torn read */
	struct krwsem_waiter waiter[KRWSEM_MAX_WAITERS];
};

/* Pure: decode a count/owner pair (no memory access). */
void krwsem_decode(int64_t count, uint64_t owner, struct krwsem *rw);
int kstate_rwsem_read(struct kstate *ks, uint64_t addr, struct krwsem *rw);

/* ---------------------------------------------------------------- page */

/* include/linux/mm.h since 5.7 (FOLL_PIN): a small folio pin adds this. */
#define KSTATE_GUP_PIN_COUNTING_BIAS 1024

enum kpage_mapping_kind {
	KPAGE_MAP_NONE,
	KPAGE_MAP_FILE,
	KPAGE_MAP_ANON,
	KPAGE_MAP_MOVABLE,	/* non-LRU movable (balloon, zsmalloc) */
	KPAGE_MAP_KSM,
	KPAGE_MAP_DAX_SHARED,	/* fsdax page shared by reflink (DAX_COW) */
};

enum kpage_dev_kind {
	KPAGE_DEV_NONE,		/* not ZONE_DEVICE (or not proven so) */
	KPAGE_DEV_FS_DAX,
	KPAGE_DEV_GENERIC,	/* device-dax */
	KPAGE_DEV_PRIVATE,
	KPAGE_DEV_COHERENT,
	KPAGE_DEV_P2PDMA,
	KPAGE_DEV_OTHER,
};

struct kpage {
	uint64_t pfn;
	uint64_t addr;		/* VA of the struct page */
	uint64_t flags;		/* raw: zone/node bits on top */
	int32_t refcount;	/* raw _refcount */
	int32_t mapcount;	/* _mapcount + 1 */
	/* mapping and index are the folio's: tail pages have none */
	uint64_t mapping_raw;
	uint64_t mapping;	/* low PAGE_MAPPING_* bits cleared */
	enum kpage_mapping_kind mapping_kind;
	uint64_t index;		/* of this page: folio index + offset */

	/* compound pages: tail pages point at their head */
	bool tail;
	uint64_t head_pfn;
	uint64_t head_addr;
	uint64_t head_flags;	/* folio flags (== flags if !tail) */
	int32_t head_refcount;	/* folio refcount (== refcount if !tail) */
	bool large;		/* head has PG_head */
	int order;		/* folio order, -1 unknown */
	bool have_pincount;
	int32_t pincount;	/* large folios: exact FOLL_PIN count */
	bool have_entire_mapcount;
	int32_t entire_mapcount;	/* PMD/PUD mappings (+1 applied) */
	bool have_large_mapcount;
	int32_t large_mapcount;		/* 6.12+: every mapping (+1 applied) */

	/* ZONE_DEVICE, only set when pgmap was validated */
	bool zone_device;
	enum kpage_dev_kind dev_kind;
	uint64_t pgmap;
	int64_t pgmap_type;
};

/*
 * ZONE_DEVICE detection.  page->pgmap shares its word with lru.next, so it
 * is only trusted after validation: the pointer must be a kernel pointer,
 * dev_pagemap.type a known memory_type and one of its ranges must contain
 * the pfn.  With ranges set here, pgmap is not even read outside them.
 */
struct kstate_pfn_range {
	uint64_t start;		/* first pfn */
	uint64_t end;		/* last pfn + 1 */
};

int kstate_set_device_ranges(struct kstate *ks,
			     const struct kstate_pfn_range *r, unsigned int n);
/* Fill @r from /proc/iomem "Persistent Memory" lines; count or -errno. */
int kstate_iomem_pmem_ranges(const char *iomem_path,
			     struct kstate_pfn_range *r, unsigned int max);

int kstate_page_read(struct kstate *ks, uint64_t pfn, struct kpage *pg);

/* Pure: "locked|uptodate|..." from the low nr_pageflags bits.  Length. */
size_t kstate_pageflags_str(const struct kstate_layout *l, uint64_t flags,
			    char *buf, size_t len);
/* "PG_locked" for a bit, NULL if out of range / unnamed. */
const char *kstate_pageflag_name(const struct kstate_layout *l,
				 unsigned int bit);
bool kstate_page_test(const struct kstate_layout *l, const struct kpage *pg,
		      const char *pg_name);

/*
 * Where a page's references come from, given how that kind of page counts
 * them on this kernel (measured by the caller; fsdax: idle 1 and mappings
 * hold none before v6.15, idle 0 and each mapping holds one after).
 */
struct kref_model {
	int32_t idle;			/* refcount of an unreferenced page */
	bool mappings_hold_refs;	/* each mapping takes one reference */
};

struct kref_split {
	int32_t mapped;		/* references the page tables hold */
	int32_t lru_batch;	/* a per-CPU LRU batch's reference */
	/*
	 * What others hold beyond idle, the mappings and the batch: pins
	 * plus refs.  The same meaning on every kernel era: a mapping's own
	 * reference (7.x) is in @mapped, never here.
	 */
	int32_t above_idle;
	int32_t pins;		/* FOLL_PIN pins */
	int32_t refs;		/* other references (FOLL_GET, pipes, ...) */
	bool exact_pins;	/* from the folio's _pincount, not the bias */
};

/*
 * Split @pg's folio refcount.  A small folio's FOLL_PIN adds
 * KSTATE_GUP_PIN_COUNTING_BIAS; a large folio's adds one reference and
 * counts itself in _pincount.  @lru_batch: the caller saw the page wait
 * in a per-CPU LRU batch (PG_lru clear), which holds one reference.
 * Below idle, refs is negative and pins 0: the caller shows the anomaly.
 */
void kpage_split_refs(const struct kpage *pg, const struct kref_model *m,
		      bool lru_batch, struct kref_split *s);
/* Mappings of @pg's folio (PTEs and PMDs), as folio_mapcount() counts. */
int32_t kpage_folio_mapcount(const struct kpage *pg);

/*
 * The head page of the page at @page_addr whose compound_head (or 7.x
 * compound_info) word is @info; @page_addr itself when not a tail.  7.x
 * with HUGETLB_PAGE_OPTIMIZE_VMEMMAP and a power-of-two struct page
 * stores a mask with bit 0 set instead of head | 1
 * (include/linux/page-flags.h set_compound_head()).
 */
uint64_t kpage_compound_head(const struct kstate_layout *l, uint64_t page_addr,
			     uint64_t info);

/* ------------------------------------------------- who calls a function */

/*
 * Direct callers of a function and references to its address, counted in
 * kernel code and data (textscan.c says what counts).  A function with no
 * call, jump or reference anywhere was inlined into every caller: a kprobe
 * on it would attach and never fire.
 */
#define KTEXT_SITES 8
struct ktext_target {
	uint64_t addr;		/* the function (kallsyms) */
	unsigned int calls;	/* call rel32 */
	unsigned int jumps;	/* jmp / jcc rel32: tail calls */
	unsigned int refs;	/* lea rel32(%rip), 8-byte words in data */
	unsigned int nr_sites;
	uint64_t site[KTEXT_SITES];	/* the first call and jump sites */
};

/* Pure: scan @code (@len bytes at @base; instructions start below @scan_len). */
void ktext_scan_code(const uint8_t *code, size_t len, size_t scan_len, uint64_t base,
		     struct ktext_target *t, unsigned int n);
/* Pure: 8-byte words of @data equal to a target's address. */
void ktext_scan_data(const uint8_t *data, size_t len, struct ktext_target *t, unsigned int n);
/*
 * Read [@start, @end) through kcore and scan it as code or as data.  Pages
 * that cannot be read are scanned as zeroes and added to @unreadable.
 * 0 or -errno.
 */
int kstate_scan_range(struct kstate *ks, uint64_t start, uint64_t end, bool code,
		      struct ktext_target *t, unsigned int n, uint64_t *unreadable);
/*
 * Called once per chunk of a scan (NULL: nothing): a long scan (seconds under TCG)
 * lets its caller say it is alive (the agent's heartbeat).
 */
extern void (*kstate_progress)(void);

/* One function whose callers kstate_callers() counts. */
struct kcallers {
	const char *fn;			/* in: a text symbol (a module's too) */
	bool found;			/* out: in kallsyms */
	struct ktext_target t;		/* out: counts and the first sites */
	uint64_t site_sym[KTEXT_SITES];
	char site_name[KTEXT_SITES][112];	/* "xfs_break_layouts+0x4c [xfs]" */
};

struct kcallers_scan {
	uint64_t code_bytes, data_bytes, module_bytes;
	int modules;
	bool rodata, data;	/* __start_rodata.., _sdata.._edata found and scanned */
	uint64_t unreadable;	/* bytes of the kernel's own that could not be read */
	uint64_t module_holes;	/* unmapped bytes between module allocations */
	/* code and data scanned, all of it read: "no reference anywhere" means not called */
	bool complete;
	double ms;
};

/*
 * Count, for each of @c, the calls, tail calls and address references in the
 * running kernel: its text (_stext.._etext), its data and rodata (8-byte
 * words), and every module's memory (/proc/modules) as code, read through
 * kcore.  0 or -errno.
 */
int kstate_callers(struct kstate *ks, struct kcallers *c, unsigned int n, struct kcallers_scan *how);

/* ------------------------------------------------------ address_space */

struct kmapping {
	uint64_t addr;
	uint64_t host;			/* struct inode */
	uint64_t i_ino;
	uint64_t nrpages;
	uint64_t i_pages;		/* struct xarray */
	uint64_t invalidate_lock;	/* rw_semaphore addresses */
	uint64_t i_mmap_rwsem;
	uint64_t i_rwsem;
};

int kstate_mapping_read(struct kstate *ks, uint64_t mapping,
			struct kmapping *m);

/* -------------------------------------------------------------- xarray */

enum kxa_kind {
	KXA_EMPTY,	/* NULL */
	KXA_VALUE,	/* bit 0 set: value = entry >> 1 */
	KXA_POINTER,	/* a plain pointer (struct folio, ...) */
	KXA_NODE,	/* internal, > 4096: struct xa_node + 2 */
	KXA_SIBLING,	/* internal, < 62: points to a canonical slot */
	KXA_RETRY,
	KXA_ZERO,
	KXA_INTERNAL,	/* other internal entry (errors, ...) */
};

struct kxa_entry {
	uint64_t raw;
	enum kxa_kind kind;
	uint64_t value;	/* VALUE: value; SIBLING: slot; NODE: node address */
};

/* Pure: classify one slot's contents, include/linux/xarray.h. */
void kxa_decode(uint64_t raw, unsigned int chunk_size, struct kxa_entry *e);

struct kxa_result {
	struct kxa_entry entry;	/* EMPTY when nothing is stored */
	uint64_t first_index;	/* first index the entry covers */
	unsigned int order;	/* it covers 1 << order indices */
	uint64_t node;		/* leaf node, 0 when held in xa_head */
	unsigned int offset;	/* canonical slot in node */
	unsigned int depth;	/* nodes below the root: 0 = root node */
};

int kstate_xa_load(struct kstate *ks, uint64_t xa, uint64_t index,
		   struct kxa_result *r);

/* fs/dax.c (4.20+): xa_mk_value(flags | pfn << DAX_SHIFT) */
struct kdax_entry {
	bool locked;
	bool pmd;
	bool zero_page;
	bool empty;
	uint64_t pfn;		/* first pfn of the entry */
	unsigned int order;	/* 0, or 9 (PMD_ORDER) */
};

/* Pure: decode the xa_to_value() of a DAX entry. */
void kdax_decode(uint64_t value, struct kdax_entry *d);

struct kdax_result {
	bool present;		/* a value entry is stored at index */
	struct kxa_result xa;
	struct kdax_entry dax;
	uint64_t pfn;		/* pfn that backs index itself */
};

int kstate_dax_lookup(struct kstate *ks, uint64_t mapping, uint64_t index,
		      struct kdax_result *r);

/* --------------------------------------------------------------- lease */

/*
 * Leases on an inode (lease.c): inode->i_flctx->flc_lease and, for a
 * breaking lease, the kernel's own deadline fl_break_time against jiffies.
 */
struct klease {
	bool have_list;		/* i_flctx, flc_lease: klease_inode_has_lease() */
	bool have_break;	/* the lease's list, pid, deadline; jiffies; HZ */
	struct kfield flctx, flc_lease;
	struct kfield link, pid, break_time;	/* file_lock or file_lease (6.9+) */
	uint64_t jiffies;	/* address of jiffies */
	int hz;			/* CONFIG_HZ, measured */
};

/*
 * Resolve @kl from BTF and measure HZ (sleeps 200 ms).  -ENOENT when not even
 * the lease list is there; else 0, with have_break telling whether deadlines
 * can be read.
 */
int klease_open(struct kstate *ks, struct klease *kl);
/* 1: @inode has a lease, 0: none, -errno: cannot tell. */
int klease_inode_has_lease(struct kstate *ks, const struct klease *kl,
			   uint64_t inode);
/*
 * Milliseconds until the kernel times out the breaking lease of @pid on
 * @inode (negative once the deadline passed); -ENOENT: no such lease.
 */
int klease_break_left_ms(struct kstate *ks, const struct klease *kl,
			 uint64_t inode, int pid, double *ms);

#endif /* KSTATE_H */
