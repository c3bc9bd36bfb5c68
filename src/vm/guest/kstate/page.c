// SPDX-License-Identifier: MIT
/*
 * struct page by pfn: vmemmap_base + pfn * sizeof(struct page)
 * (CONFIG_SPARSEMEM_VMEMMAP, the only x86-64 memory model).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/*
 * page->mapping low bits, include/linux/page-flags.h (6.1; the same
 * values since 2.6 for ANON, 4.8 for MOVABLE).  PAGE_MAPPING_DAX_COW
 * (6.0+, fs/dax.c) marks an fsdax page shared by reflinked files: then
 * mapping is exactly 1 and index counts the sharers.
 */
#define PAGE_MAPPING_ANON	0x1ULL
#define PAGE_MAPPING_MOVABLE	0x2ULL
#define PAGE_MAPPING_FLAGS	0x3ULL
#define PAGE_MAPPING_DAX_COW	0x1ULL

/* Bit 0 of compound_head marks a tail page (include/linux/page-flags.h). */
#define COMPOUND_TAIL		0x1ULL

/* pfns above 2^40 are beyond the 52-bit physical address space */
#define KSTATE_MAX_PFN		(1ULL << 40)
/* MAX_ORDER and PUD_ORDER are far below this; it only bounds the hunt */
#define KSTATE_MAX_FOLIO_ORDER	18
#define KSTATE_BUF		512

/* -------------------------------------------------------- page flags */

const char *kstate_pageflag_name(const struct kstate_layout *l,
				 unsigned int bit)
{
	if (bit >= l->nr_pageflags)
		return NULL;
	return l->pageflag_name[bit];
}

size_t kstate_pageflags_str(const struct kstate_layout *l, uint64_t flags,
			    char *buf, size_t len)
{
	size_t n = 0;
	unsigned int bit;

	if (len)
		buf[0] = '\0';
	/* zone, node and section numbers sit above NR_PAGEFLAGS */
	for (bit = 0; bit < l->nr_pageflags; bit++) {
		const char *name = l->pageflag_name[bit];
		int w;

		if (!(flags & (1ULL << bit)) || !name)
			continue;
		w = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0,
			     "%s%s", n ? "|" : "", name + 3);
		n += w;
	}
	return n;
}

static int pageflag_bit(const struct kstate_layout *l, const char *name)
{
	unsigned int bit;

	for (bit = 0; bit < l->nr_pageflags; bit++)
		if (l->pageflag_name[bit] && !strcmp(l->pageflag_name[bit], name))
			return bit;
	return -1;
}

bool kstate_page_test(const struct kstate_layout *l, const struct kpage *pg,
		      const char *pg_name)
{
	int bit = pageflag_bit(l, pg_name);

	return bit >= 0 && (pg->flags & (1ULL << bit));
}

int32_t kpage_folio_mapcount(const struct kpage *pg)
{
	if (!pg->large)
		return pg->mapcount;
	/* 6.12+: _large_mapcount counts PTE and PMD mappings alike */
	if (pg->have_large_mapcount)
		return pg->large_mapcount;
	/*
	 * 6.1 has no total: PMD mappings plus this page's PTE mappings,
	 * exact unless other pages of the folio are PTE-mapped too.
	 */
	return (pg->have_entire_mapcount ? pg->entire_mapcount : 0) +
	       pg->mapcount;
}

void kpage_split_refs(const struct kpage *pg, const struct kref_model *m,
		      bool lru_batch, struct kref_split *s)
{
	int32_t ref = pg->large ? pg->head_refcount : pg->refcount;
	int64_t extra;

	memset(s, 0, sizeof(*s));
	s->mapped = m->mappings_hold_refs ? kpage_folio_mapcount(pg) : 0;
	s->lru_batch = lru_batch;
	extra = (int64_t)ref - m->idle - s->mapped - s->lru_batch;
	s->above_idle = extra;
	if (extra < 0) {
		/* below idle: let the caller see the anomaly */
		s->refs = extra;
		return;
	}
	if (pg->large && pg->have_pincount) {
		/* each pin of a large folio is one reference and one _pincount */
		s->exact_pins = true;
		s->pins = pg->pincount;
		s->refs = extra - pg->pincount;
		return;
	}
	s->pins = extra / KSTATE_GUP_PIN_COUNTING_BIAS;
	s->refs = extra % KSTATE_GUP_PIN_COUNTING_BIAS;
}

/* ------------------------------------------------------- ZONE_DEVICE */

int kstate_set_device_ranges(struct kstate *ks,
			     const struct kstate_pfn_range *r, unsigned int n)
{
	if (n > KSTATE_MAX_DEVRANGES)
		return kstate_fail(ks, -E2BIG, "at most %d device ranges",
				   KSTATE_MAX_DEVRANGES);
	memcpy(ks->dev, r, n * sizeof(*r));
	ks->nr_dev = n;
	return 0;
}

int kstate_iomem_pmem_ranges(const char *path, struct kstate_pfn_range *r,
			     unsigned int max)
{
	unsigned long long start, end;
	char line[256], name[128];
	unsigned int n = 0;
	FILE *f = fopen(path ? path : "/proc/iomem", "re");

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %llx-%llx : %127[^\n]", &start, &end,
			   name) != 3)
			continue;
		if (strncmp(name, "Persistent Memory", 17) || end <= start)
			continue;
		r[n].start = start >> 12;
		r[n].end = (end + 1) >> 12;
		n++;
	}
	fclose(f);
	return n;
}

static bool pfn_in_device_ranges(const struct kstate *ks, uint64_t pfn)
{
	unsigned int i;

	for (i = 0; i < ks->nr_dev; i++)
		if (pfn >= ks->dev[i].start && pfn < ks->dev[i].end)
			return true;
	return false;
}

static enum kpage_dev_kind dev_kind(const struct kstate_layout *l, int64_t t)
{
	if (t <= 0)
		return KPAGE_DEV_NONE;
	if (t == l->mt_fs_dax)
		return KPAGE_DEV_FS_DAX;
	if (t == l->mt_generic)
		return KPAGE_DEV_GENERIC;
	if (t == l->mt_private)
		return KPAGE_DEV_PRIVATE;
	if (t == l->mt_coherent)
		return KPAGE_DEV_COHERENT;
	if (t == l->mt_p2pdma)
		return KPAGE_DEV_P2PDMA;
	return KPAGE_DEV_NONE;
}

/* Read range @i of the dev_pagemap at @pgmap; false if implausible. */
static bool pgmap_range(struct kstate *ks, uint64_t pgmap, unsigned int i,
			uint64_t *start, uint64_t *end)
{
	const struct kstate_layout *l = &ks->l;
	uint64_t base = pgmap + (uint64_t)i * l->range_size;

	if (kstate_read_field(ks, base, &l->pgmap_range_start, start) ||
	    kstate_read_field(ks, base, &l->pgmap_range_end, end))
		return false;
	/* struct range: end is inclusive; both ends page aligned */
	return !(*start & 4095) && !((*end + 1) & 4095) && *end >= *start;
}

static struct kpgmap_entry *pgmap_cached(struct kstate *ks, uint64_t pgmap)
{
	unsigned int i;

	for (i = 0; i < KSTATE_PGMAP_CACHE; i++)
		if (ks->pgmap[i].addr == pgmap)
			return &ks->pgmap[i];
	return NULL;
}

/*
 * Read and check the dev_pagemap at @pgmap: a known memory_type and
 * plausible ranges.  Only then is it cached (if its ranges fit).
 */
static struct kpgmap_entry *pgmap_load(struct kstate *ks, uint64_t pgmap,
				       struct kpgmap_entry *e)
{
	const struct kstate_layout *l = &ks->l;
	int64_t nr;
	unsigned int i;

	memset(e, 0, sizeof(*e));
	if (!kstate_kptr_ok(ks, pgmap, 8) ||
	    kstate_read_sfield(ks, pgmap, &l->pgmap_type, &e->type) ||
	    kstate_read_sfield(ks, pgmap, &l->pgmap_nr_range, &nr))
		return NULL;
	if (dev_kind(l, e->type) == KPAGE_DEV_NONE || nr < 1 ||
	    nr > KSTATE_PGMAP_RANGES)
		return NULL;
	e->nr_range = nr;
	for (i = 0; i < e->nr_range; i++)
		if (!pgmap_range(ks, pgmap, i, &e->start[i], &e->end[i]))
			return NULL;
	e->addr = pgmap;
	return e;
}

/*
 * page->pgmap shares its word with lru.next, so for an ordinary page it
 * points at some list.  Trust it only if it reads back as a dev_pagemap
 * of a known type one of whose ranges contains this very pfn.
 */
static void probe_pgmap(struct kstate *ks, uint64_t pfn, uint64_t pgmap,
			struct kpage *pg)
{
	struct kpgmap_entry tmp, *e;
	uint64_t pa = pfn << 12;
	unsigned int i;

	if (ks->nr_dev && !pfn_in_device_ranges(ks, pfn))
		return;
	e = pgmap_cached(ks, pgmap);
	if (!e)
		e = pgmap_load(ks, pgmap, &tmp);
	if (!e)
		return;
	for (i = 0; i < e->nr_range; i++) {
		if (pa < e->start[i] || pa > e->end[i])
			continue;
		if (e == &tmp) {
			/* proven now: keep it */
			e = &ks->pgmap[ks->pgmap_next++ % KSTATE_PGMAP_CACHE];
			*e = tmp;
		}
		pg->zone_device = true;
		pg->dev_kind = dev_kind(&ks->l, e->type);
		pg->pgmap = pgmap;
		pg->pgmap_type = e->type;
		return;
	}
}

/* --------------------------------------------------------- the page */

static void decode_mapping(struct kpage *pg, uint64_t raw)
{
	pg->mapping_raw = raw;
	pg->mapping = raw & ~PAGE_MAPPING_FLAGS;
	switch (raw & PAGE_MAPPING_FLAGS) {
	case 0:
		pg->mapping_kind = raw ? KPAGE_MAP_FILE : KPAGE_MAP_NONE;
		break;
	case PAGE_MAPPING_ANON:
		pg->mapping_kind = KPAGE_MAP_ANON;
		break;
	case PAGE_MAPPING_MOVABLE:
		pg->mapping_kind = KPAGE_MAP_MOVABLE;
		break;
	default:
		pg->mapping_kind = KPAGE_MAP_KSM;
		break;
	}
}

/* Order, pincount and entire mapcount from a folio copied into @f. */
static void decode_folio(const struct kstate_layout *l, const uint8_t *f,
			 struct kpage *pg)
{
	uint64_t nr;

	pg->order = -1;
	if (l->folio_order.found) {
		pg->order = kf_u64(f, &l->folio_order);
	} else if (l->folio_nr_pages.found) {
		nr = kf_u64(f, &l->folio_nr_pages);
		if (nr && !(nr & (nr - 1)))
			pg->order = __builtin_ctzll(nr);
	}
	if (l->folio_pincount.found) {
		pg->pincount = kf_s64(f, &l->folio_pincount);
		pg->have_pincount = true;
	}
	if (l->folio_entire_mapcount.found) {
		/* starts at -1 like _mapcount */
		pg->entire_mapcount = kf_s64(f, &l->folio_entire_mapcount) + 1;
		pg->have_entire_mapcount = true;
	}
	if (l->folio_large_mapcount.found) {
		pg->large_mapcount = kf_s64(f, &l->folio_large_mapcount) + 1;
		pg->have_large_mapcount = true;
	}
}

uint64_t kpage_compound_head(const struct kstate_layout *l, uint64_t page_addr,
			     uint64_t info)
{
	uint64_t v = info & ~COMPOUND_TAIL, low = ~v;
	unsigned int page_shift, shift;

	if (!(info & COMPOUND_TAIL))
		return page_addr;
	/*
	 * A mask is GENMASK(63, order + log2(sizeof(struct page))): ones
	 * down to a bit no higher than the largest folio allows.  A head
	 * pointer into the vmemmap never has that form (it would lie in the
	 * top 16 MiB of the address space, where no vmemmap is).
	 */
	if (l->compound_info && l->page_size &&
	    !(l->page_size & (l->page_size - 1)) && !(low & (low + 1))) {
		page_shift = __builtin_ctz(l->page_size);
		shift = __builtin_popcountll(low);
		if (shift >= page_shift &&
		    shift - page_shift <= KSTATE_MAX_FOLIO_ORDER)
			return page_addr & v;
	}
	return v;
}

/* Locate and check the head of a tail page. */
static int find_head(struct kstate *ks, uint64_t pfn, uint64_t head,
		     struct kpage *pg)
{
	uint64_t base = ks->mm.vmemmap_base, off;

	off = head - base;
	if (head < base || off % ks->l.page_size ||
	    off / ks->l.page_size > pfn ||
	    pfn - off / ks->l.page_size >= (1ULL << KSTATE_MAX_FOLIO_ORDER))
		return kstate_fail(ks, -EIO, "pfn %#" PRIx64
				   ": implausible compound_head %#" PRIx64,
				   pfn, head);
	pg->tail = true;
	pg->head_addr = head;
	pg->head_pfn = off / ks->l.page_size;
	return 0;
}

/*
 * Fill the folio-wide fields.  @page is this page, already read; the head
 * is read again, as a whole struct folio, for tails and large folios.
 */
static int read_head(struct kstate *ks, struct kpage *pg, const uint8_t *page)
{
	const struct kstate_layout *l = &ks->l;
	uint8_t f[KSTATE_BUF];
	const uint8_t *h = page;
	int ret;

	if (pg->tail || (pg->flags & (1ULL << l->pg_head))) {
		ret = kstate_read(ks, pg->head_addr, f, l->folio_size);
		if (ret)
			return ret;
		h = f;
	}
	pg->head_flags = kf_u64(h, &l->page_flags);
	pg->head_refcount = kf_s64(h, &l->page_refcount);
	decode_mapping(pg, kf_u64(h, &l->page_mapping));
	pg->index = kf_u64(h, &l->page_index) + (pg->pfn - pg->head_pfn);
	pg->large = pg->head_flags & (1ULL << l->pg_head);
	if (pg->large)
		decode_folio(l, h, pg);
	probe_pgmap(ks, pg->pfn, kf_u64(h, &l->page_pgmap), pg);
	/*
	 * A reflinked fsdax folio: up to 6.x mapping is PAGE_MAPPING_DAX_COW
	 * (6.12: _SHARED) and index/share counts the sharers; 7.x clears
	 * mapping and keeps the count in share (fs/dax.c
	 * dax_folio_is_shared()).  An unshared, unassociated one has both 0.
	 */
	if (pg->dev_kind == KPAGE_DEV_FS_DAX &&
	    (pg->mapping_raw == PAGE_MAPPING_DAX_COW ||
	     (!pg->mapping_raw && kf_u64(h, &l->page_index)))) {
		pg->mapping_kind = KPAGE_MAP_DAX_SHARED;
		pg->mapping = 0;
	}
	return 0;
}

int kstate_page_read(struct kstate *ks, uint64_t pfn, struct kpage *pg)
{
	const struct kstate_layout *l = &ks->l;
	uint8_t p[KSTATE_BUF];
	uint64_t ch;
	int ret;

	memset(pg, 0, sizeof(*pg));
	if (l->page_size > KSTATE_BUF || l->folio_size > KSTATE_BUF)
		return kstate_fail(ks, -EINVAL, "struct page too large");
	if (pfn >= KSTATE_MAX_PFN)
		return kstate_fail(ks, -EINVAL, "pfn %#" PRIx64 " too large", pfn);
	pg->pfn = pfn;
	pg->addr = ks->mm.vmemmap_base + pfn * l->page_size;
	ret = kstate_read(ks, pg->addr, p, l->page_size);
	if (ret)
		return ret;
	pg->flags = kf_u64(p, &l->page_flags);
	pg->refcount = kf_s64(p, &l->page_refcount);
	pg->mapcount = kf_s64(p, &l->page_mapcount) + 1;
	ch = kf_u64(p, &l->page_compound_head);
	pg->head_addr = pg->addr;
	pg->head_pfn = pfn;
	if (ch & COMPOUND_TAIL) {
		ret = find_head(ks, pfn, kpage_compound_head(l, pg->addr, ch),
				pg);
		if (ret)
			return ret;
	}
	return read_head(ks, pg, p);
}
