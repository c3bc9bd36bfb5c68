// SPDX-License-Identifier: MIT
/*
 * The per-sample block cache (kstate.h, kstate_cache_begin): aligned 4 KiB
 * blocks of kernel virtual memory, each read once per sample from
 * /proc/kcore, through a kcore segment or the page-table walk as kstate_read()
 * would read them; and kstate_prefetch(), which reads a run of blocks (the
 * struct pages of a run of pfns) with one pread. The blocks a sample read are
 * its working set: the next sample begins by reading them all in one gather
 * (kgather.c), so that a sample that reads what the last one did makes one
 * system call for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A single read larger than this is a caller bug, not a struct (as kmem.c). */
#define KMEM_MAX_READ	(1U << 20)

#define BLOCK_MASK	(~(uint64_t)(KSTATE_BLOCK - 1))
/* The most one prefetch reads at once. */
#define PREFETCH_BLOCKS	64

/*
 * The slot for a block: 4-way sets, so that two blocks a sample reads again
 * and again rarely evict each other (direct-mapped, a sample of 30 blocks had
 * a collision one time in three: two kcore reads in every sample after). The
 * block's own slot if it is there, else one not filled in this sample.
 */
static struct kblock *block_slot(struct kstate *ks, uint64_t bva)
{
	uint64_t h = (bva >> 12) * 0x9e3779b97f4a7c15ULL;
	struct kblock *set = &ks->blocks[((h >> 32) % (KSTATE_BLOCKS / KSTATE_WAYS)) * KSTATE_WAYS];
	struct kblock *victim = NULL;

	for (int w = 0; w < KSTATE_WAYS; w++) {
		if (set[w].va == bva && set[w].gen)
			return &set[w];
		if (!victim && set[w].gen != ks->block_gen)
			victim = &set[w];
	}
	return victim ? victim : &set[(h >> 20) % KSTATE_WAYS];
}

static bool block_valid(const struct kstate *ks, const struct kblock *b,
			uint64_t bva)
{
	return b->gen == ks->block_gen && b->va == bva;
}

/* The 64-byte lines of a block that [off, off + n) touches (n > 0, within the block). */
static uint64_t lines_of(size_t off, size_t n)
{
	unsigned int first = off / KSTATE_LINE, last = (off + n - 1) / KSTATE_LINE;

	return (last == 63 ? ~0ULL : (1ULL << (last + 1)) - 1) & ~((1ULL << first) - 1);
}

void kstate_gather_use(struct kstate *ks, bool on)
{
	ks->gather_on = on;
}

/*
 * The previous sample's working set in one gather: of each block, the lines it
 * read (runs of them, a one-line gap bridged), each block in its own 4 KiB of the
 * gather's buffer, where the cache then reads it without a copy. A block one of
 * whose pieces failed is read from kcore as before, if it is read at all.
 */
static void gather_working_set(struct kstate *ks)
{
	static struct kgather_piece piece[KGATHER_PIECES];
	static unsigned int first_piece[KGATHER_MAX + 1];
	static uint64_t gathered_lines[KGATHER_MAX];
	unsigned int n = 0, blocks;

	if (!ks->nr_ws || !ks->gather_on || !ks->gather.ready)
		return;
	for (blocks = 0; blocks < ks->nr_ws; blocks++) {
		uint64_t m = ks->ws_lines[blocks], got = 0;
		unsigned int line = 0, at = n;
		bool room = true;

		while (line < 64 && (m >> line)) {
			unsigned int start = line + __builtin_ctzll(m >> line), end = start + 1;

			/* the run, and the next one too when only one line lies between */
			while (end < 64 && ((m >> end) & 1 || (end + 1 < 64 && (m >> (end + 1)) & 1)))
				end++;
			if (n == KGATHER_PIECES) {
				room = false;
				break;
			}
			piece[n].src = ks->ws_va[blocks] + start * KSTATE_LINE;
			piece[n].off = blocks * KSTATE_BLOCK + start * KSTATE_LINE;
			piece[n].len = (end - start) * KSTATE_LINE;
			got |= lines_of(start * KSTATE_LINE, (end - start) * KSTATE_LINE);
			n++;
			line = end;
		}
		if (!room) {
			n = at;	/* no room for all of this block: leave it to kcore */
			break;
		}
		first_piece[blocks] = at;
		gathered_lines[blocks] = got;
	}
	first_piece[blocks] = n;
	if (!n || kgather_run(ks, piece, n))
		return;
	for (unsigned int i = 0; i < blocks; i++) {
		struct kblock *b;
		bool ok = true;

		for (unsigned int k = first_piece[i]; k < first_piece[i + 1]; k++)
			ok = ok && !kgather_ret(ks, k);
		if (!ok)
			continue;
		b = block_slot(ks, ks->ws_va[i]);
		b->va = ks->ws_va[i];
		b->gen = ks->block_gen;
		b->used_gen = 0;
		b->lines = gathered_lines[i];
		b->ptr = kgather_data(ks) + (size_t)i * KSTATE_BLOCK;
		ks->stats.gathered++;
	}
}

/* A block this sample reads joins the working set (once), with the lines it read. */
static void block_used(struct kstate *ks, struct kblock *b, size_t off, size_t n)
{
	if (b->used_gen != ks->block_gen) {
		b->used_gen = ks->block_gen;
		b->ws_index = -1;
		if (ks->nr_ws < KGATHER_MAX) {
			b->ws_index = ks->nr_ws++;
			ks->ws_va[b->ws_index] = b->va;
			ks->ws_lines[b->ws_index] = 0;
		}
	}
	if (b->ws_index >= 0)
		ks->ws_lines[b->ws_index] |= lines_of(off, n);
}

int kstate_cache_begin(struct kstate *ks)
{
	if (!ks->blocks) {
		ks->blocks = calloc(KSTATE_BLOCKS, sizeof(*ks->blocks));
		ks->scratch = malloc(PREFETCH_BLOCKS * KSTATE_BLOCK);
		if (!ks->blocks || !ks->scratch) {
			free(ks->blocks);
			free(ks->scratch);
			ks->blocks = NULL;
			ks->scratch = NULL;
			return kstate_fail(ks, -ENOMEM, "out of memory");
		}
	}
	/* generation 0 marks a slot never filled */
	ks->block_gen++;
	ks->caching = true;
	gather_working_set(ks);
	ks->nr_ws = 0;
	return 0;
}

void kstate_cache_end(struct kstate *ks)
{
	ks->caching = false;
}

/*
 * Read @n blocks from @bva on into the scratch buffer, from one kcore
 * segment or one physically contiguous run; 0 or -errno.
 */
static int blocks_read(struct kstate *ks, uint64_t bva, unsigned int n)
{
	struct kcore_seg *s = kmem_find_seg(ks, bva, (size_t)n * KSTATE_BLOCK);
	uint64_t pa;
	int ret;

	if (s)
		return kmem_seg_read(ks, s, bva, ks->scratch, (size_t)n * KSTATE_BLOCK);
	ret = kstate_translate(ks, bva, &pa);
	if (ret)
		return ret;
	return kmem_phys_read(ks, pa, ks->scratch, (size_t)n * KSTATE_BLOCK);
}

static void blocks_store(struct kstate *ks, uint64_t bva, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct kblock *b = block_slot(ks, bva + (uint64_t)i * KSTATE_BLOCK);

		/* a block filled again in the same sample (it lacked lines) stays in the working set once */
		if (b->va != bva + (uint64_t)i * KSTATE_BLOCK || b->gen != ks->block_gen)
			b->used_gen = 0;
		b->va = bva + (uint64_t)i * KSTATE_BLOCK;
		b->gen = ks->block_gen;
		b->lines = ~0ULL;
		b->ptr = b->data;
		memcpy(b->data, ks->scratch + (size_t)i * KSTATE_BLOCK, KSTATE_BLOCK);
	}
	ks->stats.block_fills += n;
}

/* How many blocks from @bva on one read can cover (at most @max). */
static unsigned int run_length(struct kstate *ks, uint64_t bva, unsigned int max)
{
	struct kcore_seg *s = kmem_find_seg(ks, bva, KSTATE_BLOCK);
	uint64_t pa0, pa;
	unsigned int n = 1;

	if (s) {
		while (n < max && kmem_find_seg(ks, bva, (size_t)(n + 1) * KSTATE_BLOCK) == s &&
		       !block_valid(ks, block_slot(ks, bva + (uint64_t)n * KSTATE_BLOCK),
				    bva + (uint64_t)n * KSTATE_BLOCK))
			n++;
		return n;
	}
	if (kstate_translate(ks, bva, &pa0))
		return 1;
	while (n < max) {
		uint64_t next = bva + (uint64_t)n * KSTATE_BLOCK;

		if (block_valid(ks, block_slot(ks, next), next) ||
		    kstate_translate(ks, next, &pa) ||
		    pa != pa0 + (uint64_t)n * KSTATE_BLOCK)
			break;
		n++;
	}
	return n;
}

void kstate_prefetch(struct kstate *ks, uint64_t va, size_t len)
{
	uint64_t bva, end;

	if (!ks->caching || !ks->have_mem || !len || len > KMEM_MAX_READ ||
	    va + len < va || !kstate_kptr_ok(ks, va, 0) ||
	    !kstate_kptr_ok(ks, va + len - 1, 0))
		return;
	end = (va + len + KSTATE_BLOCK - 1) & BLOCK_MASK;
	for (bva = va & BLOCK_MASK; bva < end;) {
		unsigned int n, max = (end - bva) / KSTATE_BLOCK;

		if (block_valid(ks, block_slot(ks, bva), bva)) {
			bva += KSTATE_BLOCK;
			continue;
		}
		n = run_length(ks, bva, max < PREFETCH_BLOCKS ? max : PREFETCH_BLOCKS);
		/* a failure is reported by the read that needs the block */
		if (!blocks_read(ks, bva, n))
			blocks_store(ks, bva, n);
		bva += (uint64_t)n * KSTATE_BLOCK;
	}
}

/* The cached bytes of [va, va + len) within one block, filled as needed; NULL: read it uncached. */
static const uint8_t *block_bytes(struct kstate *ks, uint64_t va, size_t len)
{
	uint64_t bva = va & BLOCK_MASK;
	size_t off = va - bva;
	struct kblock *b = block_slot(ks, bva);

	if (block_valid(ks, b, bva) && (b->lines & lines_of(off, len)) == lines_of(off, len)) {
		ks->stats.block_hits++;
	} else {
		if (blocks_read(ks, bva, 1))
			return NULL;
		blocks_store(ks, bva, 1);
	}
	block_used(ks, b, off, len);
	return b->ptr + off;
}

/* Serve a read from the cache, filling blocks as needed; 0, or -1 to read it uncached. */
int kcache_read(struct kstate *ks, uint64_t va, uint8_t *buf, size_t len)
{
	while (len) {
		size_t n = KSTATE_BLOCK - (va & (KSTATE_BLOCK - 1));
		const uint8_t *p;

		if (n > len)
			n = len;
		p = block_bytes(ks, va, n);
		if (!p)
			return -1;
		memcpy(buf, p, n);
		va += n;
		buf += n;
		len -= n;
	}
	return 0;
}

const void *kcache_peek(struct kstate *ks, uint64_t va, size_t len)
{
	if (!ks->caching || !len || (va & (KSTATE_BLOCK - 1)) + len > KSTATE_BLOCK)
		return NULL;
	return block_bytes(ks, va, len);
}
