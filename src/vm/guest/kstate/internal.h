/* SPDX-License-Identifier: MIT */
/* kstate internals shared by the .c files; not part of the API. */
#ifndef KSTATE_INTERNAL_H
#define KSTATE_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "kstate.h"

#define KSTATE_ERRLEN		256
/* PID_MAX_LIMIT on 64-bit, include/linux/threads.h */
#define KSTATE_PID_MAX		(4 * 1024 * 1024)
/* found in the open's kallsyms scan (kmem.c), used by kstate_task_by_pid() (process.c) */
#define SYM_INIT_PID_NS		"init_pid_ns"
#define KSTATE_MAX_DEVRANGES	16
#define KSTATE_TLB_SIZE		32
#define KSTATE_PGMAP_CACHE	8
#define KSTATE_PGMAP_RANGES	16
/* The per-sample block cache: 4 KiB blocks of kernel virtual memory. */
#define KSTATE_BLOCK		4096
#define KSTATE_BLOCKS		1024	/* 4 MiB, in sets of KSTATE_WAYS by address */
#define KSTATE_WAYS		4
/* The most blocks one gather (kgather.c) reads: a sample's working set. */
#define KGATHER_MAX		256
/* The pieces (runs of 64-byte lines) it copies, at most. */
#define KGATHER_PIECES		512
/* The cache knows which 64-byte lines of a gathered block it has. */
#define KSTATE_LINE		64

struct kcore_seg {
	uint64_t vaddr;
	uint64_t size;
	uint64_t offset;	/* file offset of vaddr */
	uint64_t paddr;		/* KCORE_RAM and KCORE_TEXT; else ~0 */
};

/* A cached translation: [va, va + size) -> [pa, pa + size). */
struct ktlb_entry {
	uint64_t va;
	uint64_t size;
	uint64_t pa;
};

/* A dev_pagemap that passed validation; ranges are physical, inclusive. */
struct kpgmap_entry {
	uint64_t addr;		/* 0: unused */
	int64_t type;
	unsigned int nr_range;
	uint64_t start[KSTATE_PGMAP_RANGES];
	uint64_t end[KSTATE_PGMAP_RANGES];
};

/* One cached block: valid while @gen is the cache's current generation. */
struct kblock {
	uint64_t va;		/* KSTATE_BLOCK-aligned */
	uint64_t gen;
	uint64_t used_gen;	/* the last sample that read it (the working set) */
	int ws_index;		/* its place in the working set, -1: no room */
	uint64_t lines;		/* the 64-byte lines held: all, unless gathered */
	const uint8_t *ptr;	/* the bytes: data, or the gather's buffer */
	uint8_t data[KSTATE_BLOCK];
};

/* One piece of a gather: @len bytes from kernel @src to the buffer at @off. */
struct kgather_piece {
	uint64_t src;
	uint32_t off;
	uint32_t len;
};

struct kstate {
	struct btf *btf;
	struct kstate_layout l;
	char err[KSTATE_ERRLEN];

	/* memory access */
	bool have_mem;
	int kcore_fd;
	struct kcore_seg *seg;
	unsigned int nr_seg;
	unsigned int last_seg;
	char kallsyms_path[256];
	char modules_path[256];
	struct kstate_memmap mm;
	uint64_t top_pa;		/* physical address of init_top_pgt */
	uint64_t init_pid_ns;		/* SYM_INIT_PID_NS: from the open's kallsyms scan, else at the first kstate_task_by_pid() */
	/* The last user walk's PTE table (process.c): for the next page in the same 2 MiB. */
	struct {
		uint64_t gen, pgd, region, table;
	} uwalk;

	struct kstate_stats stats;
	struct ktlb_entry tlb[KSTATE_TLB_SIZE];
	unsigned int tlb_next;

	/* kstate_cache_begin() .. kstate_cache_end(); NULL until first used */
	struct kblock *blocks;
	uint64_t block_gen;
	bool caching;
	uint8_t *scratch;		/* a prefetch's reads */
	/*
	 * The blocks this sample read, with the lines it read of each: gathered in
	 * one go when the next sample begins (kgather.c), if the kernel lets us.
	 */
	uint64_t ws_va[KGATHER_MAX], ws_lines[KGATHER_MAX];
	unsigned int nr_ws;
	bool gather_on;
	struct {
		bool tried, ready;
		int fds[3];		/* request map, data map, program */
		struct kgather_req *req;
		void *data;
		char why[KSTATE_ERRLEN];
	} gather;
	/*
	 * The last xa_node leaf a walk reached in this sample (block_gen):
	 * every index it covers walks the same cached nodes down to it.
	 */
	uint64_t xal_gen, xal_xa, xal_node, xal_base;
	unsigned int xal_depth;
	uint8_t xal_buf[1024];

	struct kpgmap_entry pgmap[KSTATE_PGMAP_CACHE];
	unsigned int pgmap_next;

	struct kstate_pfn_range dev[KSTATE_MAX_DEVRANGES];
	unsigned int nr_dev;
};

/* Record a message and return @err (a negative errno). */
__attribute__((format(printf, 3, 4)))
int kstate_fail(struct kstate *ks, int err, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void kstate_fmt(char *buf, size_t len, const char *fmt, ...);

/* Fetch a member from a struct already copied into @buf. */
uint64_t kf_u64(const void *buf, const struct kfield *f);
int64_t kf_s64(const void *buf, const struct kfield *f);
int64_t kf_sext(uint64_t v, const struct kfield *f);

/* Read one scalar member (at most 8 bytes) of the struct at @base. */
int kstate_read_field(struct kstate *ks, uint64_t base, const struct kfield *f,
		      uint64_t *val);
int kstate_read_sfield(struct kstate *ks, uint64_t base,
		       const struct kfield *f, int64_t *val);

/* kmem.c: kcore segments and physical memory, for the block cache (kcache.c). */
struct kcore_seg *kmem_find_seg(struct kstate *ks, uint64_t va, size_t len);
int kmem_seg_read(struct kstate *ks, const struct kcore_seg *s, uint64_t va,
		  void *buf, size_t len);
int kmem_phys_read(struct kstate *ks, uint64_t pa, void *buf, size_t len);
/* Serve a read from the block cache; 0, or -1 to read it uncached. */
int kcache_read(struct kstate *ks, uint64_t va, uint8_t *buf, size_t len);

/* kgather.c: run a gather of @n pieces; then each piece's result (0 or -errno), and the buffer. */
int kgather_run(struct kstate *ks, const struct kgather_piece *p, unsigned int n);
int kgather_ret(const struct kstate *ks, unsigned int i);
const uint8_t *kgather_data(const struct kstate *ks);
/*
 * The cached bytes of [va, va + len), which must lie in one block, without a
 * copy (valid until the next read); NULL when not caching or unreadable.
 */
const void *kcache_peek(struct kstate *ks, uint64_t va, size_t len);

/* Memory setup, called by kstate_open(). */
int kmem_open(struct kstate *ks, const struct kstate_opts *opts);
void kmem_close(struct kstate *ks);

#endif /* KSTATE_INTERNAL_H */
