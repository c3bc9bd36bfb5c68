// SPDX-License-Identifier: MIT
/* The page sampler: a watched page's struct page, its references and pins, its DAX entry. */
#include <stdio.h>
#include <string.h>

#include "observer_internal.h"
#include "util.h"

enum { ENTRY_NA, ENTRY_NONE, ENTRY_LOCKED, ENTRY_EMPTY, ENTRY_ZERO, ENTRY_UNLOCKED };
static const char *const entry_names[] = { "n/a", "none", "locked", "empty", "zero", "unlocked" };

static int dax_entry_state(const struct watched_page *w, const struct kpage *pg, int *pmd)
{
	struct kdax_result r;

	*pmd = 0;
	if (w->wfile < 0 || !pg->zone_device)
		return ENTRY_NA;
	if (kstate_dax_lookup(obs_ks, watched_files[w->wfile].mapping, w->file_index, &r))
		return ENTRY_NA;
	if (!r.present)
		return ENTRY_NONE;
	*pmd = r.dax.pmd;
	if (r.dax.locked)
		return ENTRY_LOCKED;
	if (r.dax.empty)
		return ENTRY_EMPTY;
	if (r.dax.zero_page)
		return ENTRY_ZERO;
	return ENTRY_UNLOCKED;
}

/* PG_lru, its bit looked up by name once (kstate_page_test() looks it up each time). */
static int page_lru(const struct kpage *pg)
{
	static int bit = -2;

	if (bit == -2) {
		const struct kstate_layout *l = kstate_layout(obs_ks);

		bit = -1;
		for (unsigned int b = 0; b < 64; b++) {
			const char *name = kstate_pageflag_name(l, b);

			if (name && !strcmp(name, "PG_lru")) {
				bit = b;
				break;
			}
		}
	}
	return bit >= 0 && (pg->flags & (1ULL << bit));
}

void page_sample(struct watched_page *w, struct page_sample *s)
{
	const struct baseline *b;
	struct kpage pg;
	struct kref_model model;
	struct kref_split split;

	/* the observer has followed the page table (watch_refresh_pfn) for this snapshot */
	memset(s, 0, sizeof(*s));
	s->mapped = w->mapped;
	s->pfn = w->pfn;
	if (kstate_page_read(obs_ks, w->pfn, &pg)) {
		snprintf(s->error, sizeof(s->error), "%s", kstate_errmsg(obs_ks));
		memset(&pg, 0, sizeof(pg));
	}
	b = baseline_of(&pg);
	s->ref = page_ref(&pg);
	/*
	 * A newly faulted anon or page-cache folio waits in a per-CPU LRU batch,
	 * which holds a reference until it is drained onto the LRU (PG_lru then
	 * set). Count that reference apart: it is nobody's pin.
	 */
	s->lru_batch = !pg.zone_device && pg.mapping_kind != KPAGE_MAP_NONE && !page_lru(&pg);
	/* The mappings' own references (7.x fsdax, anon, page cache) are theirs. */
	model.idle = b->idle;
	model.mappings_hold_refs = b->mappings_hold_refs;
	kpage_split_refs(&pg, &model, s->lru_batch, &split);
	s->flags = pg.head_flags;
	s->mapping = MAPPING_NONE;
	if (pg.mapping_kind == KPAGE_MAP_ANON) {
		s->mapping = MAPPING_ANON;
	} else if (pg.mapping_kind == KPAGE_MAP_FILE) {
		int f = watched_file_find(pg.mapping);

		s->mapping = f >= 0 ? f : MAPPING_OTHER;
	}
	s->addr = pg.addr;
	s->zone_device = pg.zone_device;
	s->idle = b->idle;
	s->baseline = baseline_name(&pg);
	s->folio_mapcount = kpage_folio_mapcount(&pg);
	s->above_idle = split.above_idle;
	s->pins = split.pins;
	s->mapcount = pg.mapcount;
	s->has_page_index = pg.mapping_kind != KPAGE_MAP_NONE;
	s->page_index = s->has_page_index ? pg.index : 0;
	s->entry = dax_entry_state(w, &pg, &s->pmd);
}

static struct json_object *flags_json(uint64_t flags)
{
	struct json_object *list = json_object_new_array();
	char buf[1024];

	kstate_pageflags_str(kstate_layout(obs_ks), flags, buf, sizeof(buf));
	for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		json_object_array_add(list, json_object_new_string(tok));
	return list;
}

static struct json_object *mapping_json(int mapping)
{
	if (mapping == MAPPING_ANON)
		return json_object_new_string("anon");
	if (mapping == MAPPING_OTHER)
		return json_object_new_string("other file");
	if (mapping >= 0)
		return json_object_new_string(watched_files[mapping].name);
	return NULL;
}

#define CHANGED(m) (!prev || s->m != prev->m)

struct json_object *page_json(const struct watched_page *w, const struct page_sample *s,
			      const struct page_sample *prev)
{
	struct json_object *o;

	/* both filled from zero by page_sample(): padding compares equal */
	if (prev && !memcmp(s, prev, sizeof(*s)))
		return NULL;
	o = json_object_new_object();
	if (!prev) {
		JADD(o, "file", json_object_new_string(w->file));
		JADD(o, "index", json_object_new_int64(w->index));
	}
	if (CHANGED(mapped))
		JADD(o, "mapped", json_object_new_boolean(s->mapped));
	if (CHANGED(pfn))
		JADD(o, "pfn", jhex(s->pfn));
	/* a delta says "error": null when the error is gone */
	if (!prev ? s->error[0] : strcmp(s->error, prev->error))
		JADD(o, "error", s->error[0] ? json_object_new_string(s->error) : NULL);
	if (CHANGED(addr))
		JADD(o, "addr", jhex(s->addr));
	if (CHANGED(zone_device))
		JADD(o, "zoneDevice", json_object_new_boolean(s->zone_device));
	if (CHANGED(ref))
		JADD(o, "ref", json_object_new_int(s->ref));
	if (CHANGED(idle))
		JADD(o, "idle", json_object_new_int(s->idle));
	if (CHANGED(baseline))
		JADD(o, "baseline", json_object_new_string(s->baseline));
	if (CHANGED(above_idle))
		JADD(o, "aboveIdle", json_object_new_int(s->above_idle));
	if (CHANGED(pins))
		JADD(o, "pins", json_object_new_int(s->pins));
	if (CHANGED(mapcount))
		JADD(o, "mapcount", json_object_new_int(s->mapcount));
	if (CHANGED(folio_mapcount))
		JADD(o, "folioMapcount", json_object_new_int(s->folio_mapcount));
	if (CHANGED(lru_batch))
		JADD(o, "lruBatch", json_object_new_boolean(s->lru_batch));
	if (CHANGED(flags))
		JADD(o, "flags", flags_json(s->flags));
	if (CHANGED(mapping))
		JADD(o, "mapping", mapping_json(s->mapping));
	if (CHANGED(has_page_index) || CHANGED(page_index))
		JADD(o, "pageIndex", s->has_page_index ? json_object_new_int64(s->page_index) : NULL);
	if (CHANGED(entry))
		JADD(o, "entry", json_object_new_string(entry_names[s->entry]));
	if (CHANGED(pmd))
		JADD(o, "pmd", json_object_new_boolean(s->pmd));
	if (prev && !json_object_object_length(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
