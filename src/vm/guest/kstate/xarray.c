// SPDX-License-Identifier: MIT
/*
 * XArray lookups (a mapping's i_pages) and DAX entries.
 *
 * Entry encoding, include/linux/xarray.h (4.20+, unchanged in 6.1):
 *   bit 0 set           value entry, xa_to_value() = entry >> 1
 *   low bits 0b10       internal entry, xa_to_internal() = entry >> 2:
 *     > 4096            node: struct xa_node at entry - 2
 *     < 62 << 2 | 2     sibling of slot entry >> 2 (multi-index entries)
 *     256 << 2 | 2      XA_RETRY_ENTRY
 *     257 << 2 | 2      XA_ZERO_ENTRY (reserved, reads as NULL)
 *   low bits 0b00       a pointer (page cache: struct folio)
 * An entry of order N is stored at the node level with shift N - N % 6;
 * the 2^(N % 6) - 1 slots after it hold siblings pointing back to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

#define XA_NODE_LIMIT		4096
#define XA_RETRY_ENTRY		((256ULL << 2) | 2)
#define XA_ZERO_ENTRY		((257ULL << 2) | 2)
/* shift of the root can be at most BITS_PER_LONG - XA_CHUNK_SHIFT */
#define XA_MAX_DEPTH		11
#define XA_NODE_BUF		1024

/*
 * DAX entries, fs/dax.c (4.20+ XArray conversion, still so in 6.1):
 * xa_mk_value(flags | pfn << DAX_SHIFT).  A PMD entry covers PMD_ORDER
 * (9 on x86-64) indices.
 */
#define DAX_SHIFT		4
#define DAX_LOCKED		(1ULL << 0)
#define DAX_PMD			(1ULL << 1)
#define DAX_ZERO_PAGE		(1ULL << 2)
#define DAX_EMPTY		(1ULL << 3)
#define DAX_PMD_ORDER		9

void kxa_decode(uint64_t raw, unsigned int chunk_size, struct kxa_entry *e)
{
	e->raw = raw;
	e->value = 0;
	if (!raw) {
		e->kind = KXA_EMPTY;
	} else if (raw & 1) {
		e->kind = KXA_VALUE;
		e->value = raw >> 1;
	} else if ((raw & 3) == 0) {
		e->kind = KXA_POINTER;
	} else if (raw > XA_NODE_LIMIT) {
		e->kind = KXA_NODE;
		e->value = raw - 2;
	} else if (raw < (((uint64_t)chunk_size - 1) << 2 | 2)) {
		e->kind = KXA_SIBLING;
		e->value = raw >> 2;
	} else if (raw == XA_RETRY_ENTRY) {
		e->kind = KXA_RETRY;
	} else if (raw == XA_ZERO_ENTRY) {
		e->kind = KXA_ZERO;
	} else {
		e->kind = KXA_INTERNAL;
		e->value = raw >> 2;
	}
}

void kdax_decode(uint64_t value, struct kdax_entry *d)
{
	d->locked = value & DAX_LOCKED;
	d->pmd = value & DAX_PMD;
	d->zero_page = value & DAX_ZERO_PAGE;
	d->empty = value & DAX_EMPTY;
	d->pfn = value >> DAX_SHIFT;
	d->order = d->pmd ? DAX_PMD_ORDER : 0;
}

/* One node, copied (or the sample's last leaf, in place), with the facts the walk checks. */
struct xa_walk {
	uint8_t copy[XA_NODE_BUF];
	const uint8_t *buf;	/* copy, or ks->xal_buf */
	uint64_t node;
	unsigned int shift;
	unsigned int chunk_shift;
};

static uint64_t slot(const struct kstate_layout *l, const struct xa_walk *w,
		     unsigned int i)
{
	uint64_t v;

	memcpy(&v, w->buf + l->xa_node_slots.off + i * 8, 8);
	return v;
}

/*
 * Read a node and check that it is one: its array points back at @xa,
 * its shift is what the parent implies and its offset is the parent slot.
 */
static int read_node(struct kstate *ks, uint64_t xa, struct xa_walk *w,
		     int want_shift, int want_offset)
{
	const struct kstate_layout *l = &ks->l;
	uint64_t array, offset;

	if (!kstate_kptr_ok(ks, w->node, 8))
		return kstate_fail(ks, -EIO, "bad xa_node pointer %#" PRIx64,
				   w->node);
	if (kstate_read(ks, w->node, w->copy, l->xa_node_size))
		return -EIO;
	w->buf = w->copy;
	w->shift = kf_u64(w->buf, &l->xa_node_shift);
	array = kf_u64(w->buf, &l->xa_node_array);
	offset = kf_u64(w->buf, &l->xa_node_offset);
	if (array != xa || w->shift % w->chunk_shift || w->shift >= 64 ||
	    (want_shift >= 0 && w->shift != (unsigned int)want_shift) ||
	    (want_offset >= 0 && offset != (uint64_t)want_offset))
		return kstate_fail(ks, -EAGAIN, "xa_node %#" PRIx64
				   " changed under us (shift %u offset %" PRIu64
				   ")", w->node, w->shift, offset);
	return 0;
}

/* Result for a slot of the current node, following siblings. */
static void xa_settle(const struct kstate_layout *l, const struct xa_walk *w,
		      uint64_t index, unsigned int off, struct kxa_result *r)
{
	unsigned int chunk = l->xa_chunk_size, i, sibs = 0, guard = 0;
	uint64_t span;

	kxa_decode(slot(l, w, off), chunk, &r->entry);
	while (r->entry.kind == KXA_SIBLING && guard++ < chunk) {
		off = r->entry.value;
		kxa_decode(slot(l, w, off), chunk, &r->entry);
	}
	/* a sibling of a node above the leaves means "retry" (xas_descend) */
	if (r->entry.kind == KXA_NODE && w->shift && guard)
		kxa_decode(XA_RETRY_ENTRY, chunk, &r->entry);
	for (i = off + 1; i < chunk; i++) {
		struct kxa_entry s;

		kxa_decode(slot(l, w, i), chunk, &s);
		if (s.kind != KXA_SIBLING || s.value != off)
			break;
		sibs++;
	}
	r->node = w->node;
	r->offset = off;
	r->order = w->shift + (31 - __builtin_clz(sibs + 1));
	span = w->shift + w->chunk_shift >= 64 ? 0 :
	       ~((1ULL << (w->shift + w->chunk_shift)) - 1);
	r->first_index = (index & span) | ((uint64_t)off << w->shift);
}

static int xa_walk(struct kstate *ks, uint64_t xa, uint64_t index,
		   uint64_t head, struct kxa_result *r)
{
	const struct kstate_layout *l = &ks->l;
	struct xa_walk w;	/* no initializer: that would clear the whole copy each walk */
	int want_shift = -1, want_offset = -1, ret;
	unsigned int off;

	w.node = head - 2;
	w.chunk_shift = __builtin_ctz(l->xa_chunk_size);
	for (r->depth = 0; r->depth < XA_MAX_DEPTH; r->depth++) {
		ret = read_node(ks, xa, &w, want_shift, want_offset);
		if (ret)
			return ret;
		/* beyond what the root covers: nothing stored */
		if (!r->depth && w.shift + w.chunk_shift < 64 &&
		    (index >> w.shift) >= l->xa_chunk_size) {
			kxa_decode(0, l->xa_chunk_size, &r->entry);
			return 0;
		}
		off = (index >> w.shift) & (l->xa_chunk_size - 1);
		xa_settle(l, &w, index, off, r);
		if (!w.shift && ks->caching && l->xa_node_size <= sizeof(ks->xal_buf)) {
			ks->xal_gen = ks->block_gen;
			ks->xal_xa = xa;
			ks->xal_node = w.node;
			ks->xal_base = index >> w.chunk_shift;
			ks->xal_depth = r->depth;
			memcpy(ks->xal_buf, w.buf, l->xa_node_size);
		}
		if (r->entry.kind != KXA_NODE || !w.shift)
			return 0;
		want_shift = w.shift - w.chunk_shift;
		want_offset = r->offset;
		w.node = r->entry.value;
	}
	return kstate_fail(ks, -EIO, "xarray %#" PRIx64 " deeper than %d",
			   xa, XA_MAX_DEPTH);
}

int kstate_xa_load(struct kstate *ks, uint64_t xa, uint64_t index,
		   struct kxa_result *r)
{
	const struct kstate_layout *l = &ks->l;
	uint64_t head;
	int ret;

	memset(r, 0, sizeof(*r));
	if (l->xa_node_size > XA_NODE_BUF)
		return kstate_fail(ks, -EINVAL, "xa_node too large");
	if (!kstate_kptr_ok(ks, xa, 8))
		return kstate_fail(ks, -EFAULT, "bad xarray pointer %#" PRIx64,
				   xa);
	/* an index of the leaf the last walk of this sample reached */
	if (ks->caching && ks->xal_gen == ks->block_gen && ks->xal_xa == xa &&
	    index >> __builtin_ctz(l->xa_chunk_size) == ks->xal_base) {
		struct xa_walk w;

		w.buf = ks->xal_buf;
		w.node = ks->xal_node;
		w.shift = 0;
		w.chunk_shift = __builtin_ctz(l->xa_chunk_size);
		xa_settle(l, &w, index, index & (l->xa_chunk_size - 1), r);
		r->depth = ks->xal_depth;
		return 0;
	}
	ret = kstate_read_field(ks, xa, &l->xa_head, &head);
	if (ret)
		return ret;
	kxa_decode(head, l->xa_chunk_size, &r->entry);
	if (r->entry.kind == KXA_NODE)
		return xa_walk(ks, xa, index, head, r);
	/* no node: xa_head holds the entry for index 0 alone */
	if (index)
		kxa_decode(0, l->xa_chunk_size, &r->entry);
	return 0;
}

int kstate_dax_lookup(struct kstate *ks, uint64_t mapping, uint64_t index,
		      struct kdax_result *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (!kstate_kptr_ok(ks, mapping, 8))
		return kstate_fail(ks, -EFAULT, "bad mapping pointer %#" PRIx64,
				   mapping);
	ret = kstate_xa_load(ks, mapping + ks->l.as_i_pages.off, index, &r->xa);
	if (ret || r->xa.entry.kind != KXA_VALUE)
		return ret;
	r->present = true;
	kdax_decode(r->xa.entry.value, &r->dax);
	/* as dax_insert_pfn_mkwrite: the entry's pfn + index's offset in it */
	if (!r->dax.zero_page && !r->dax.empty)
		r->pfn = r->dax.pfn + (index & ((1ULL << r->dax.order) - 1));
	return 0;
}

int kstate_mapping_read(struct kstate *ks, uint64_t mapping,
			struct kmapping *m)
{
	const struct kstate_layout *l = &ks->l;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!kstate_kptr_ok(ks, mapping, 8))
		return kstate_fail(ks, -EFAULT, "bad mapping pointer %#" PRIx64,
				   mapping);
	m->addr = mapping;
	m->i_pages = mapping + l->as_i_pages.off;
	m->i_mmap_rwsem = mapping + l->as_i_mmap_rwsem.off;
	if (l->as_invalidate_lock.found)
		m->invalidate_lock = mapping + l->as_invalidate_lock.off;
	ret = kstate_read_field(ks, mapping, &l->as_host, &m->host);
	if (!ret)
		ret = kstate_read_field(ks, mapping, &l->as_nrpages, &m->nrpages);
	if (ret)
		return ret;
	if (!kstate_kptr_ok(ks, m->host, 8))
		return kstate_fail(ks, -EIO, "mapping %#" PRIx64
				   " has bad host %#" PRIx64, mapping, m->host);
	m->i_rwsem = m->host + l->inode_i_rwsem.off;
	return kstate_read_field(ks, m->host, &l->inode_i_ino, &m->i_ino);
}
